//! The typed configuration: everything an administrator can set, as it is
//! stored in sled (versioned postcard, see `codec`).
//!
//! Names follow AsyncOS (Listener, SenderGroup, MailFlowPolicy,
//! RecipientAccessTable, SmtpRoute) so that an administrator's vocabulary
//! maps one to one. Host-access members, RAT patterns and reply texts are
//! stored as the administrator typed them and parsed once when the config
//! is read (see `values`); `validate` checks the whole config whenever a
//! change is staged.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::hat::HatMember;
use super::rat::RecipientPattern;
use super::services::{LogSettings, TDC_DESTINATION, ThreatDefenseConfig};
use super::values::ReplyText;

// Where mail goes: routes, DNS, delivery, destination controls, bounces.
pub use super::delivery::*;

/// Whether a listener takes mail from the internet or from inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListenerKind {
    /// Relays only to recipients the RAT accepts.
    Public,
    /// Relays only for sender groups whose policy is RELAY.
    Private,
}

/// What a mail flow policy does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Behavior {
    Accept,
    Reject,
    Relay,
    TcpRefuse,
    /// Accept, but keep checking the RAT (as AsyncOS's CONTINUE).
    Continue,
}

impl Behavior {
    /// The word AsyncOS logs and prints ("ACCEPT", "RELAY", ...).
    pub fn word(self) -> &'static str {
        match self {
            Behavior::Accept => "ACCEPT",
            Behavior::Reject => "REJECT",
            Behavior::Relay => "RELAY",
            Behavior::TcpRefuse => "TCPREFUSE",
            Behavior::Continue => "CONTINUE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ACCEPT" => Behavior::Accept,
            "REJECT" => Behavior::Reject,
            "RELAY" => Behavior::Relay,
            "TCPREFUSE" => Behavior::TcpRefuse,
            "CONTINUE" => Behavior::Continue,
            _ => return None,
        })
    }
}

/// TLS on a listener, per mail flow policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsMode {
    Off,
    Preferred,
    Required,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "off" | "no" => TlsMode::Off,
            "preferred" => TlsMode::Preferred,
            "required" => TlsMode::Required,
            _ => return None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            TlsMode::Off => "Off",
            TlsMode::Preferred => "Preferred",
            TlsMode::Required => "Required",
        }
    }
}

/// A mail flow policy: what a sender group's connections may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFlowPolicy {
    pub name: String,
    pub behavior: Behavior,
    pub max_message_size: u64,
    pub max_concurrency_per_ip: u32,
    pub max_messages_per_connection: u32,
    pub max_recipients_per_message: u32,
    /// Recipients per hour per sender IP; `None` is unlimited.
    pub max_recipients_per_hour: Option<u32>,
    pub smtp_banner_code: u16,
    /// `None` greets with "<hostname> ESMTP".
    pub smtp_banner_text: Option<ReplyText>,
    pub reject_banner_code: u16,
    pub reject_banner_text: ReplyText,
    pub tls: TlsMode,
}

impl MailFlowPolicy {
    /// AsyncOS's predefined policies (values documented in docs/mail-flow-policies.md).
    pub fn predefined(name: &str, behavior: Behavior) -> Self {
        let mut p = MailFlowPolicy {
            name: name.to_string(),
            behavior,
            max_message_size: 10 * 1024 * 1024,
            max_concurrency_per_ip: 10,
            max_messages_per_connection: 10,
            max_recipients_per_message: 50,
            max_recipients_per_hour: None,
            smtp_banner_code: 220,
            smtp_banner_text: None,
            reject_banner_code: 554,
            reject_banner_text: "Access Denied".into(),
            // AsyncOS ships TLS Off; we offer STARTTLS out of the box, since
            // opportunistic TLS costs a client nothing it did not ask for.
            tls: TlsMode::Preferred,
        };
        match name {
            "TRUSTED" | "RELAYED" => {
                p.max_message_size = 100 * 1024 * 1024;
                p.max_concurrency_per_ip = 600;
                p.max_messages_per_connection = 5000;
                p.max_recipients_per_message = 5000;
            }
            "THROTTLED" => {
                p.max_message_size = 1024 * 1024;
                p.max_messages_per_connection = 1;
                p.max_recipients_per_message = 25;
                p.max_recipients_per_hour = Some(20);
            }
            _ => {}
        }
        p
    }
}

/// A named list of hosts in a listener's Host Access Table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderGroup {
    pub name: String,
    /// As typed: `10.1.1.0/24`, `10.1.1.`, `10.1.1.1-50`, `mail.example.com`,
    /// `.protection.outlook.com`, `ALL` (see `config::hat`).
    pub members: Vec<HatMember>,
    pub policy: String,
}

/// Accept or reject in the Recipient Access Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RatAction {
    Accept,
    Reject,
}

/// One row of a public listener's Recipient Access Table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatEntry {
    /// As typed: `example.com`, `.example.com`, `user@`, `user@example.com`, `ALL`.
    pub address: RecipientPattern,
    pub action: RatAction,
    pub code: Option<u16>,
    pub text: Option<ReplyText>,
    pub bypass_receiving_control: bool,
}

/// How a listener treats bare CR or LF inside DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrLfHandling {
    /// Refuse the message (never take a bare LF as an end of data).
    Strict,
    /// Accept bare LF line ends and store them as CRLF.
    Lenient,
}

/// Per-session time limits of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLimits {
    /// Close a connection that has not sent a message after this long.
    pub unsuccessful_timeout_secs: u32,
    /// Hard cap on any connection's life.
    pub total_timeout_secs: u32,
    /// Wait for the next command or data at most this long.
    pub idle_timeout_secs: u32,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            unsuccessful_timeout_secs: 300,
            total_timeout_secs: 900,
            idle_timeout_secs: 300,
        }
    }
}

/// Limits on a message's header section, checked while it streams in
/// (`listenerconfig setup`). A message over a limit is refused after its
/// end of data with a 552 (or 554 5.4.6 for the hop count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeaderLimits {
    /// Header fields in one message.
    pub max_header_fields: u32,
    /// Octets of one header field, its folded lines included (Postfix's
    /// `header_size_limit`).
    pub max_header_field_bytes: u32,
    /// Octets of the whole header section.
    pub max_header_bytes: u32,
    /// `Received:` fields a message may arrive with (Postfix's
    /// `hopcount_limit`); at this many it is taken for a mail loop.
    pub max_hops: u32,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        Self {
            max_header_fields: 1000,
            max_header_field_bytes: 100 * 1024,
            max_header_bytes: 1024 * 1024,
            max_hops: 100,
        }
    }
}

/// Settings every listener shares (AsyncOS's `listenerconfig setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceptionSettings {
    pub headers: HeaderLimits,
    /// Memory all SMTP sessions together may hold for reception (read
    /// buffers and message data on its way to the spool). When it is
    /// spent, new connections and new DATA/BDAT get a 4xx.
    pub memory_budget_bytes: u64,
}

impl Default for ReceptionSettings {
    fn default() -> Self {
        Self {
            headers: HeaderLimits::default(),
            memory_budget_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A listener: one address and port, its HAT, policies and RAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerConfig {
    pub name: String,
    pub kind: ListenerKind,
    /// "Data 1", "Data 2" or "Management".
    pub interface: String,
    pub port: u16,
    /// Read top to bottom, first match wins.
    pub hat: Vec<SenderGroup>,
    pub policies: Vec<MailFlowPolicy>,
    /// Public listeners only; first match wins; no match rejects.
    pub rat: Vec<RatEntry>,
    pub certificate: String,
    pub max_concurrency: u32,
    pub crlf: CrLfHandling,
    pub session: SessionLimits,
}

impl ListenerConfig {
    pub fn policy(&self, name: &str) -> Option<&MailFlowPolicy> {
        self.policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// An interface's address (the board decides which NIC it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub address: Option<IpAddr>,
    pub prefix: u8,
}

/// Limits on the queue as a whole, so flash never fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    pub max_messages: u64,
    pub max_spool_bytes: u64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_messages: 500_000,
            max_spool_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// A TLS certificate and its key, PEM encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub name: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A CA certificate the administrator added (`certconfig certauthority`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateAuthority {
    pub name: String,
    pub cert_pem: String,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub hostname: String,
    pub interfaces: Vec<Interface>,
    pub listeners: Vec<ListenerConfig>,
    pub smtp_routes: Vec<SmtpRoute>,
    pub dns: DnsConfig,
    pub delivery: DeliveryConfig,
    /// The Default row of the destination control table.
    pub destination_default: DestinationSettings,
    pub destination_controls: Vec<DestinationControl>,
    /// Always holds "Default".
    pub bounce_profiles: Vec<BounceProfile>,
    pub queue: QueueSettings,
    pub mail_logs: LogSettings,
    pub certificates: Vec<Certificate>,
    /// Threat Defense Connector: global settings (`threatdefenseconfig`).
    pub threat_defense: ThreatDefenseConfig,
    /// CA certificates trusted besides the built-in roots, for the Verify
    /// TLS modes (a partner's private CA, a test CA).
    pub ca_certificates: Vec<CertificateAuthority>,
    /// Message filters, in the order they run.
    pub message_filters: Vec<super::policy::MessageFilterConfig>,
    /// Mail policies for mail received on public listeners.
    pub incoming_policies: super::policy::MailPolicyTable,
    /// Mail policies for mail received on private listeners.
    pub outgoing_policies: super::policy::MailPolicyTable,
    /// Local quarantines (`quarantine()` filter actions).
    pub quarantines: Vec<super::policy::QuarantineConfig>,
    /// `archive()` filter action mbox files.
    pub archive: super::policy::ArchiveSettings,
    /// The default route (`setgateway`). init installs it at boot: the
    /// daemon runs unprivileged and cannot change routes. Kept the last
    /// field: the store's version 1 migration relies on it (see `store`).
    #[serde(default)]
    pub default_gateway: Option<IpAddr>,
    /// Connection caps, delivery deadlines and next-hop checks. Appended
    /// by version 3 of the stored config; keep new settings of this kind
    /// here or append after it (see `store`).
    #[serde(default)]
    pub connections: ConnectionSettings,
    /// Settings all listeners share. Version 3 of the stored config added
    /// it as the last field (see `store`).
    #[serde(default)]
    pub reception: ReceptionSettings,
    /// DHCP on the Management port (`interfaceconfig edit Management
    /// dhcp`): init asks for Management's address at boot, and its
    /// `Interface::address` is `None` meanwhile (see
    /// docs/decisions/0011-dhcp-management.md). Version 4 of the stored
    /// config added it as the last field (see `store`).
    #[serde(default)]
    pub management_dhcp: bool,
    /// The web UI, REST API and SSH on Management (`adminaccessconfig`,
    /// `sshconfig`). Version 5 of the stored config added it as the last
    /// field (see `store`).
    #[serde(default)]
    pub management: super::management::ManagementAccess,
    /// The appliance's time zone (`settz`), an IANA (Olson) name such as
    /// `America/Chicago`: log lines, `status`, `tophosts` and message
    /// tracking show times in it (`breakwater_types::clock`). Version 6 of
    /// the stored config added it, `ssl` and `hat_comments` at its end.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// TLS methods and ciphers of the SMTP legs (`sslconfig`).
    #[serde(default)]
    pub ssl: super::ssl::SslConfig,
    /// The administrator's comments on sender groups and their members
    /// (the seeds fill one in). Kept beside the HAT rather than in
    /// [`SenderGroup`] because the stored config (postcard, positional)
    /// can only grow at its end; the listener commands keep the two in
    /// step when a group or member is renamed or deleted.
    #[serde(default)]
    pub hat_comments: Vec<HatComment>,
    // --- ntp (issue 16): version 7 ---
    /// NTP servers and whether the clock follows them (`ntpconfig`).
    #[serde(default)]
    pub ntp: super::ntp::NtpSettings,
    // --- metrics (issue 16, config version 7) ---
    /// The Prometheus endpoint's plain-HTTP port (`adminaccessconfig
    /// setup --metrics-port`).
    #[serde(default)]
    pub metrics: super::metrics::MetricsSettings,
    // --- end metrics ---
    // -- alerts (issue 16): `alertconfig`; version 7 appended it. --
    /// Alert recipients, classes, severities and thresholds.
    #[serde(default)]
    pub alerts: super::alerts::AlertSettings,
    // -- end alerts --
    // --- log shipping (issue 16): version 7 appended this field ---
    /// Logs pushed to syslog hosts (`logconfig subscribe`).
    #[serde(default)]
    pub log_shipping: super::logship::LogShipping,
    // --- end log shipping ---
    // --- bounce verification (issue 17, config version 8) ---
    /// Address tagging keys, per-destination tagging and the handling of
    /// invalid bounces (`bvconfig`).
    #[serde(default)]
    pub bounce_verification: super::bounce_verification::BounceVerificationSettings,
    // --- end bounce verification ---
    // --- antispam (issue 17, config version 8) ---
    /// The rspamd engine (`antispamconfig`) and each mail policy's
    /// anti-spam column (`policyconfig ... antispam`).
    #[serde(default)]
    pub antispam: super::antispam::AntiSpamSettings,
    // --- end antispam ---
    // --- quarantines (issue 17, config version 8) ---
    /// Retention periods in minutes (`quarantineconfig --retention 30m`).
    #[serde(default)]
    pub quarantine_settings: super::quarantine_settings::QuarantineSettings,
    // --- end quarantines ---
    // --- dkim signing (issue 17, config version 8) ---
    /// DKIM signing keys, profiles and the flow policies that sign
    /// (`domainkeysconfig`).
    #[serde(default)]
    pub domain_keys: super::domain_keys::DomainKeys,
    // --- end dkim signing ---
    // --- sender auth (issue 17, config version 8) ---
    /// SPF/DKIM/DMARC verification per mail flow policy, DMARC
    /// verification profiles (`dmarcconfig`) and the per-message limits.
    #[serde(default)]
    pub sender_auth: super::sender_auth::SenderAuthSettings,
    // --- end sender auth ---
    // --- call-ahead (issue 17, config version 8) ---
    /// SMTP Call-Ahead profiles, the listeners using them, and which
    /// bounce profiles attach the complete original to DSNs
    /// (`smtpcallahead`, `bounceconfig`).
    #[serde(default)]
    pub call_ahead: super::call_ahead::CallAheadSettings,
    // --- end call-ahead ---
    // --- antivirus (issue 17, config version 8) ---
    /// The ClamAV engine (`antivirusconfig`) and the mail policies'
    /// Anti-Virus column.
    #[serde(default)]
    pub antivirus: super::antivirus::AntiVirusSettings,
    // --- end antivirus ---
    // --- delivery connection cache (issue 19, config version 9) ---
    /// Idle connections kept for the next message to the same next hop
    /// (`deliveryconfig setup --connection-cache-secs`).
    #[serde(default)]
    pub connection_cache: super::delivery::ConnectionCache,
    // --- end delivery connection cache ---
}

fn default_time_zone() -> String {
    breakwater_types::clock::DEFAULT_ZONE.to_string()
}

/// A comment on a sender group (`member: None`) or on one of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HatComment {
    pub listener: String,
    pub sender_group: String,
    /// The member as typed (`.protection.outlook.com`), or `None` for the
    /// group's own comment.
    pub member: Option<String>,
    pub comment: String,
}

impl Config {
    /// The comment on a sender group (`member: None`) or one of its
    /// members, if the administrator wrote one.
    pub fn hat_comment(&self, listener: &str, group: &str, member: Option<&str>) -> Option<&str> {
        self.hat_comments
            .iter()
            .find(|c| {
                c.listener == listener && c.sender_group == group && c.member.as_deref() == member
            })
            .map(|c| c.comment.as_str())
    }
}

/// What bounds the connections the internet can make the gateway hold or
/// open, and where delivery may connect to (issue 12, docs/security.md).
/// The settings are edited where an administrator looks for them
/// (`listenerconfig limits`, `deliveryconfig setup`,
/// `threatdefenseconfig setup`); they live together here because the
/// stored config (postcard, no schema evolution) can only grow at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
    /// Inbound connections on all listeners together, counted at accept
    /// (before any DNS or TLS work).
    pub max_connections_total: u32,
    /// Inbound connections from one client address (an IPv6 client: its
    /// /64) on all listeners together, counted at accept. A mail flow
    /// policy's `max_concurrency_per_ip` is checked after the HAT.
    pub max_connections_per_ip: u32,
    /// Delivery connections open to all destinations together.
    pub max_outbound_connections: u32,
    /// Wait for the reply to the end of data at most this long
    /// (Postfix's `smtp_data_done_timeout`).
    pub data_timeout_secs: u32,
    /// One delivery transaction, MAIL FROM to the end-of-data reply, at
    /// most this long.
    pub transaction_timeout_secs: u32,
    /// Deliver by MX or A/AAAA to private addresses (RFC 1918, RFC 6598,
    /// IPv6 unique local): internal mail exchangers.
    pub allow_private_next_hops: bool,
    /// Deliver by MX or A/AAAA to loopback addresses (test set-ups where
    /// the gateway and its next hops share one machine).
    pub allow_loopback_next_hops: bool,
    /// Check the Threat Defense intake's certificate (chain and name).
    pub tdc_verify_certificate: bool,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            // Above the factory listeners' 300 + 600, so it binds only when
            // an administrator raises those.
            max_connections_total: 1000,
            // Postfix's smtpd_client_connection_count_limit.
            max_connections_per_ip: 50,
            // The Default destination row's 500: one destination may use
            // all of it, several share it.
            max_outbound_connections: 500,
            data_timeout_secs: 600,
            transaction_timeout_secs: 1800,
            allow_private_next_hops: false,
            allow_loopback_next_hops: false,
            tdc_verify_certificate: true,
        }
    }
}

impl Config {
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(name))
    }

    pub fn listener(&self, name: &str) -> Option<&ListenerConfig> {
        self.listeners
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn listener_mut(&mut self, name: &str) -> Option<&mut ListenerConfig> {
        self.listeners
            .iter_mut()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The destination settings for a recipient domain: the most specific
    /// row (exact domain, then the longest `.domain`) over the Default row.
    pub fn destination(&self, domain: &str) -> DestinationSettings {
        let domain = domain.to_ascii_lowercase();
        let mut settings = self.destination_default.clone();
        let exact = self
            .destination_controls
            .iter()
            .find(|d| d.domain.eq_ignore_ascii_case(&domain));
        let row = exact.or_else(|| {
            self.destination_controls
                .iter()
                .filter(|d| {
                    d.domain.starts_with('.') && domain.ends_with(&d.domain.to_ascii_lowercase())
                })
                .max_by_key(|d| d.domain.len())
        });
        if domain == TDC_DESTINATION {
            // Copies to Threat Defense carry every inbound message: over
            // TLS only, and to an intake whose certificate verifies unless
            // the administrator relaxed it.
            settings.tls = if self.connections.tdc_verify_certificate {
                OutboundTls::RequiredVerify
            } else {
                OutboundTls::Required
            };
        }
        if let Some(row) = row {
            row.apply(&mut settings);
        }
        settings
    }

    /// A bounce profile by name; the Default profile when it is missing.
    pub fn bounce_profile(&self, name: &str) -> BounceProfile {
        self.bounce_profiles
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(name))
            .or_else(|| self.bounce_profiles.iter().find(|b| b.name == "Default"))
            .cloned()
            .unwrap_or_default()
    }

    pub fn certificate(&self, name: &str) -> Option<&Certificate> {
        self.certificates.iter().find(|c| c.name == name)
    }
}
