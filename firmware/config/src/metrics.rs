//! The Prometheus endpoint's own settings (`adminaccessconfig setup
//! --metrics-port`): `/metrics` is always on the HTTPS port with the
//! REST API's authentication; an administrator may also serve it as
//! plain HTTP, without a login, on a port of its own on the Management
//! address, for a scraper that cannot present credentials or check the
//! appliance's certificate. Off by default: the counters name listeners,
//! sender groups and the busiest destination domains.
//!
//! A struct of its own appended at the end of `Config` (the stored
//! configuration is positional and only grows at its end).

use serde::{Deserialize, Serialize};

use crate::Config;

/// The conventional port of a Prometheus exporter run beside a mail
/// server (the postfix exporter's), offered when none is given.
pub const DEFAULT_PLAIN_PORT: u16 = 9154;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsSettings {
    /// The plain-HTTP port of `/metrics` on the Management address;
    /// `None`: only the HTTPS port serves it.
    pub plain_port: Option<u16>,
}

/// The problems of `cfg.metrics` as (field, message): a port of 1-65535
/// that no management service or Management listener uses.
pub fn problems(cfg: &Config) -> Vec<(String, String)> {
    let Some(port) = cfg.metrics.plain_port else {
        return Vec::new();
    };
    let field = "metrics.plain_port".to_string();
    if port == 0 {
        return vec![(field, "the metrics port must be 1-65535.".to_string())];
    }
    let m = &cfg.management;
    let taken = [
        ("HTTPS", m.https_port),
        ("HTTP redirect", m.http_port),
        ("SSH", m.ssh_port),
    ];
    if let Some((what, _)) = taken.iter().find(|(_, p)| *p == port) {
        return vec![(
            field,
            format!("the metrics port {port} is already the {what} port."),
        )];
    }
    if let Some(l) = cfg
        .listeners
        .iter()
        .find(|l| l.interface.eq_ignore_ascii_case("Management") && l.port == port)
    {
        return vec![(
            field,
            format!(
                "the metrics port {port} is the port of listener {} on Management.",
                l.name
            ),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_port_is_off_by_default_and_may_not_clash() {
        let mut cfg = crate::factory::dev_factory_for_tests();
        assert_eq!(cfg.metrics.plain_port, None);
        assert!(problems(&cfg).is_empty());
        cfg.metrics.plain_port = Some(DEFAULT_PLAIN_PORT);
        assert!(problems(&cfg).is_empty());
        cfg.metrics.plain_port = Some(cfg.management.ssh_port);
        let p = problems(&cfg);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "metrics.plain_port");
        assert!(p[0].1.contains("SSH port"), "{p:?}");
        cfg.metrics.plain_port = Some(0);
        assert!(problems(&cfg)[0].1.contains("1-65535"));
    }
}
