//! What the daemon tells the console's System Setup Wizard (`systemsetup
//! status`, `systemsetup print --json`, `systemsetup secretfilter`): the
//! wizard asks over the socket instead of reading the daemon's settings
//! or constants itself.

use serde::{Deserialize, Serialize};

/// What `systemsetup status` answers, and the console prints after login,
/// before the first commit (AsyncOS's words).
pub const NOT_CONFIGURED: &str =
    "The system has not been configured. Run \"systemsetup\" to configure it.";

/// The listeners and sender group the wizard sets up (the factory's).
pub const INCOMING: &str = "IncomingMail";
pub const OUTGOING: &str = "OutgoingMail";
pub const RELAY_GROUP: &str = "RELAYLIST";

/// The wizard's settings in the working configuration, as the batch
/// commands take them back (`systemsetup print --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupValues {
    pub hostname: String,
    /// Each interface and its `address/prefix` (empty: none).
    pub interfaces: Vec<(String, String)>,
    /// The interface that may take its address from DHCP (Management).
    #[serde(default)]
    pub dhcp_interface: Option<String>,
    /// Empty: none.
    pub gateway: String,
    pub dns_servers: Vec<String>,
    /// The domains IncomingMail's RAT accepts; `None` without that listener.
    pub accepted_domains: Option<Vec<String>>,
    /// Every route: its domain and destinations.
    pub routes: Vec<(String, String)>,
    /// The RELAYLIST members of OutgoingMail; `None` without that group.
    pub relay_list: Option<Vec<String>>,
    /// Interface addresses or the gateway are staged: they take effect at
    /// the next boot, not at commit.
    pub network_staged: bool,
    /// RELAYLIST holds a shared domain (`.protection.outlook.com`) and no
    /// filter checks a secret header for it: what the wizard offers.
    #[serde(default)]
    pub relay_guard: Option<GuardOffer>,
    /// The addresses `alertconfig` sends alerts to (the wizard's "email
    /// address(es) to send alerts").
    #[serde(default)]
    pub alert_recipients: Vec<String>,
}

impl SetupValues {
    /// The route of `domain`, if it has one.
    pub fn route(&self, domain: &str) -> Option<&str> {
        self.routes
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map(|(_, t)| t.as_str())
    }
}

/// The wizard's offer of the seeds' shared-secret filter for RELAYLIST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardOffer {
    /// The shared member, as typed.
    pub member: String,
    /// Whose servers it matches ("every Microsoft 365 tenant").
    pub customers: String,
    /// A filter name no filter has yet (the seeds' `office365_outbound`
    /// when it is free).
    pub filter: String,
    /// The header the filter checks (`X-OUTBOUND-AUTH`).
    #[serde(default)]
    pub secret_header: String,
    /// The shortest secret the filter takes.
    #[serde(default)]
    pub min_secret_len: usize,
}
