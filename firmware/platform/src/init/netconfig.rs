//! What the network and the host name should be: read from the committed
//! configuration in the data partition's sled database, or the board's
//! factory values before the first commit.
//!
//! sled allows one process per database: init opens it, reads the
//! committed config and drops it before the supervisor (and so the
//! daemon) starts. It never writes: an uninitialised store is left for
//! the daemon to initialise with factory defaults. On a board with
//! `run_as` it reads with that user's effective IDs: the store is the
//! daemon's, and PID 1 must not follow what a compromised daemon left in
//! it.

use std::net::IpAddr;
use std::path::Path;

use breakwater_board::BoardProfile;

use crate::config::Config;

/// The one port DHCP may configure.
pub const MANAGEMENT: &str = "Management";

/// The addresses, route and host name init applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPlan {
    pub hostname: String,
    /// (appliance interface name, address, prefix length).
    pub addresses: Vec<(String, IpAddr, u8)>,
    /// The default gateway (`setgateway`). Only init can install it: the
    /// daemon runs unprivileged, so a committed change takes effect at the
    /// next boot. The board's factory values have none (AsyncOS ships
    /// without one; `systemsetup` asks for it).
    pub default_gateway: Option<IpAddr>,
    /// Management's address comes from DHCP ([`super::dhcp_io`]); it is
    /// then never in `addresses`.
    pub management_dhcp: bool,
    /// Where the plan came from, for the console.
    pub source: &'static str,
}

impl NetPlan {
    pub fn from_config(config: &Config) -> Self {
        let dhcp = config.management_dhcp;
        Self {
            hostname: config.hostname.clone(),
            addresses: config
                .interfaces
                .iter()
                .filter(|i| !(dhcp && i.name == MANAGEMENT))
                .filter_map(|i| i.address.map(|a| (i.name.clone(), a, i.prefix)))
                .collect(),
            default_gateway: config.default_gateway,
            management_dhcp: dhcp,
            source: "the committed configuration",
        }
    }

    pub fn factory(board: &BoardProfile) -> Self {
        Self {
            hostname: board.hostname.clone(),
            addresses: board
                .interfaces
                .iter()
                .filter(|i| !(board.management_dhcp && i.name == MANAGEMENT))
                .filter_map(|i| i.address.map(|a| (i.name.clone(), a, i.prefix)))
                .collect(),
            default_gateway: None,
            management_dhcp: board.management_dhcp,
            source: "the board's factory defaults",
        }
    }
}

/// Reads the committed configuration from `<data_dir>/db` (never creating
/// it), or `None` when there is none yet: the store's, which alone names
/// sled.
pub use crate::config::store::read_committed;

/// The plan for this boot: the committed config if it can be read, the
/// board's factory values otherwise (reported through `log`).
pub fn plan(data_dir: Option<&Path>, board: &BoardProfile, log: &mut dyn FnMut(String)) -> NetPlan {
    let Some(dir) = data_dir else {
        log("no data partition: using the board's factory network settings".into());
        return NetPlan::factory(board);
    };
    // The store belongs to the mail daemon's user, who may have planted
    // links in it for PID 1 to follow: sled opens it with that user's
    // rights (the effective IDs only; init takes root back after).
    let who = board
        .run_as
        .as_deref()
        .and_then(|spec| crate::supervisor::privilege::resolve(spec).ok())
        .filter(|_| nix::unistd::geteuid().is_root());
    let read = match &who {
        Some(who) => crate::supervisor::privilege::as_user(who, || read_committed(dir))
            .unwrap_or_else(|e| Err(format!("cannot read it as {}: {e:#}", who.name))),
        None => read_committed(dir),
    };
    match read {
        Ok(Some(config)) => NetPlan::from_config(&config),
        Ok(None) => NetPlan::factory(board),
        Err(e) => {
            log(format!(
                "cannot read the committed configuration ({e}); using the board's factory network settings"
            ));
            NetPlan::factory(board)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::store::ConfigStore;

    /// `board`'s factory configuration (the certificate plays no part).
    fn factory(board: &str) -> Config {
        crate::config::factory::factory_config(
            &BoardProfile::builtin(board).unwrap(),
            crate::config::Certificate {
                name: "Demo".into(),
                cert_pem: String::new(),
                key_pem: String::new(),
            },
        )
    }

    #[test]
    fn factory_plan_asks_dhcp_for_management_on_vesa_only() {
        let vesa = BoardProfile::builtin("vesa").unwrap();
        let p = NetPlan::factory(&vesa);
        assert!(p.management_dhcp);
        assert_eq!(p.addresses, []);
        assert_eq!(p.hostname, "breakwater.example.com");
        assert_eq!(p.default_gateway, None);
        let hardware = NetPlan::factory(&BoardProfile::builtin("x86-appliance").unwrap());
        assert!(!hardware.management_dhcp);
        assert_eq!(
            hardware.addresses,
            [(
                "Management".to_string(),
                "192.168.42.42".parse().unwrap(),
                24
            )]
        );
    }

    #[test]
    fn a_committed_dhcp_management_sets_no_static_address() {
        let mut cfg = factory("x86-appliance");
        assert!(!NetPlan::from_config(&cfg).management_dhcp);
        cfg.management_dhcp = true;
        let plan = NetPlan::from_config(&cfg);
        assert!(plan.management_dhcp);
        assert!(plan.addresses.iter().all(|(n, ..)| n != MANAGEMENT));
    }

    #[test]
    fn the_gateway_comes_from_the_configuration() {
        let mut cfg = factory("dev");
        assert_eq!(NetPlan::from_config(&cfg).default_gateway, None);
        for gw in ["192.0.2.1", "2001:db8::1"] {
            cfg.default_gateway = Some(gw.parse().unwrap());
            let plan = NetPlan::from_config(&cfg);
            assert_eq!(plan.default_gateway, cfg.default_gateway);
        }
        assert_eq!(
            NetPlan::factory(&BoardProfile::builtin("dev").unwrap()).default_gateway,
            None
        );
    }

    #[test]
    fn reads_the_committed_config_and_releases_the_database() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_committed(dir.path()).unwrap(), None);
        assert!(!dir.path().join("db").exists(), "init creates nothing");
        let mut cfg = factory("vesa");
        cfg.hostname = "mx1.example.org".into();
        if let Some(i) = cfg.interfaces.iter_mut().find(|i| i.name == "Data 1") {
            i.address = Some("10.1.2.3".parse().unwrap());
            i.prefix = 16;
        }
        cfg.default_gateway = Some("10.1.0.1".parse().unwrap());
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            ConfigStore::open(&db)
                .unwrap()
                .commit("admin", "test", Some(&cfg))
                .unwrap();
        }
        let read = read_committed(dir.path()).unwrap().unwrap();
        let plan = NetPlan::from_config(&read);
        assert_eq!(plan.hostname, "mx1.example.org");
        assert!(
            plan.addresses
                .contains(&("Data 1".into(), "10.1.2.3".parse().unwrap(), 16))
        );
        assert_eq!(plan.default_gateway, Some("10.1.0.1".parse().unwrap()));
        // Dropped: another process-local open succeeds (sled locks the db).
        let again = sled::open(dir.path().join("db"));
        assert!(again.is_ok());
    }
}
