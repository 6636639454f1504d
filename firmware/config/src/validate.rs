//! One check of a whole configuration, run whenever a change is staged
//! (every command, the console through the commands, `loadconfig`, a
//! rollback): [`Config::validate`].
//!
//! The commands still check what they are given first, with messages about
//! their own options; `validate` is what no path can go around, so a
//! hand-edited file or a future API cannot stage what a command would
//! refuse. It checks each value by the same parser the mail path uses
//! (`values`, `hat`, `rat`) and that names refer to things that exist.
//! Whether the default gateway lies on an interface's subnet is checked by
//! `setgateway` and `loadconfig`, not here: an interface edit may move the
//! subnet first and the gateway next.

use std::fmt;

use super::management::{
    MAX_SSH_KEYS_PER_USER, MAX_WEB_TIMEOUT_SECS, MIN_WEB_TIMEOUT_SECS, SshPublicKey,
    valid_user_name,
};
use super::model::{Config, ListenerConfig, RouteTarget};
use super::policy::{DEFAULT_POLICY, ThreatDefense, check_member};
use super::services::ThreatDefenseConfig;
use super::values::HostName;

/// One problem of a configuration: the field, named as the configuration
/// file spells it (`listeners[InboundMail].hat[RELAYLIST].members[0]`), and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything [`Config::validate`] found wrong (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "The change was not staged: {one}"),
            many => {
                f.write_str("The change was not staged:")?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// Collects problems, each under its field.
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

impl Config {
    /// Checks the whole configuration; the error lists every problem, each
    /// naming its field. A configuration stored by earlier firmware may
    /// fail this and still be in force (reading never refuses it); the
    /// next change staged must fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems(Vec::new());
        if let Err(e) = HostName::parse_fqdn(&self.hostname) {
            p.add(
                "hostname",
                format!("{e}. Enter a fully qualified name such as mail.example.com."),
            );
        }
        if let Err(e) = breakwater_types::clock::parse_zone(&self.time_zone) {
            p.add("time_zone", e.to_string());
        }
        if let Err(e) = self.bounce_verification.validate() {
            p.add("bounce_verification", e.to_string());
        }
        if let Err(e) = self.ntp.validate() {
            p.add("ntp", e.to_string());
        }
        if let Err(e) = self.antispam.validate() {
            p.add("antispam", e.to_string());
        }
        if let Err(e) = self.antivirus.validate() {
            p.add("antivirus", e.to_string());
        }
        for l in &self.listeners {
            listener(self, l, &mut p);
        }
        for (i, r) in self.smtp_routes.iter().enumerate() {
            let field = format!("smtp_routes[{i}]");
            if !r.domain.eq_ignore_ascii_case("ALL") && domain_row(&r.domain).is_err() {
                p.add(
                    format!("{field}.domain"),
                    format!(
                        "Invalid route domain '{}': use example.com, .example.com or ALL.",
                        r.domain
                    ),
                );
            }
            if let RouteTarget::Hosts(hosts) = &r.target {
                if hosts.is_empty() {
                    p.add(
                        format!("{field}.target"),
                        "A route needs at least one destination.",
                    );
                }
                for (j, h) in hosts.iter().enumerate() {
                    if let Err(e) = h.host.check() {
                        p.add(format!("{field}.target[{j}].host"), e.to_string());
                    }
                }
            }
        }
        for (i, d) in self.destination_controls.iter().enumerate() {
            if d.domain.eq_ignore_ascii_case("default") || domain_row(&d.domain).is_err() {
                p.add(
                    format!("destination_controls[{i}].domain"),
                    format!(
                        "'{}' is not a domain (example.com or .example.com).",
                        d.domain
                    ),
                );
            }
        }
        let tdc = &self.threat_defense;
        if !ThreatDefenseConfig::valid_header_name(&tdc.header_name) {
            p.add(
                "threat_defense.header_name",
                format!("'{}' is not a header name.", tdc.header_name),
            );
        }
        if let Some(a) = &tdc.intake_address
            && !ThreatDefenseConfig::valid_intake_address(a)
        {
            p.add(
                "threat_defense.intake_address",
                format!("'{a}' is not a valid Message Intake Address (user@domain)."),
            );
        }
        if !self.bounce_profiles.iter().any(|b| b.name == "Default") {
            p.add("bounce_profiles", "There is no Default bounce profile.");
        }
        for f in &self.message_filters {
            // Rules the grammar takes but nothing here can evaluate (SPF,
            // DKIM, LDAP groups) are refused now, not evaluated falsely.
            match crate::filters::parse(&f.source) {
                Err(e) => p.add(format!("message_filters[{}]", f.name), e.to_string()),
                Ok(parsed) => {
                    for r in crate::filters::refusals(&parsed) {
                        p.add(format!("message_filters[{}]", f.name), r.to_string());
                    }
                }
            }
        }
        for (dir, table) in [
            ("incoming_policies", &self.incoming_policies),
            ("outgoing_policies", &self.outgoing_policies),
        ] {
            let settings = table
                .policies
                .iter()
                .map(|x| (x.name.as_str(), &x.settings));
            for (name, settings) in settings.chain([(DEFAULT_POLICY, &table.default)]) {
                if let ThreatDefense::Custom(a) = &settings.threat_defense
                    && !ThreatDefenseConfig::valid_intake_address(a)
                {
                    p.add(
                        format!("{dir}[{name}].threat_defense"),
                        format!("'{a}' is not a valid Message Intake Address (user@domain)."),
                    );
                }
            }
            if table.default.threat_defense == ThreatDefense::UseDefault {
                p.add(
                    format!("{dir}[{DEFAULT_POLICY}].threat_defense"),
                    "DEFAULT cannot use the default settings: it is the default (choose global, custom or no).",
                );
            }
            for policy in &table.policies {
                for (j, m) in policy.members.iter().enumerate() {
                    if let Err(e) = check_member(&m.pattern) {
                        p.add(format!("{dir}[{}].members[{j}]", policy.name), e);
                    }
                }
            }
        }
        management(self, &mut p);
        for (field, message) in super::metrics::problems(self) {
            p.add(field, message);
        }
        for (field, message) in super::quarantine_settings::problems(self) {
            p.add(field, message);
        }
        for (field, message) in self.hat_comment_problems() {
            p.add(field, message);
        }
        for (field, message) in self.sender_auth.problems() {
            p.add(field, message);
        }
        for (field, message) in self.alerts.problems() {
            p.add(field, message);
        }
        for (field, message) in self.log_shipping.problems() {
            p.add(field, message);
        }
        if let Err(e) = self.call_ahead.check() {
            p.add("call_ahead".to_string(), e.to_string());
        }
        for (field, policy) in [
            ("ssl.inbound", &self.ssl.inbound),
            ("ssl.outbound", &self.ssl.outbound),
        ] {
            if let Err(e) = policy.tls12_suites() {
                p.add(field, e.to_string());
            }
        }
        if p.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { errors: p.0 })
        }
    }
}

/// `example.com` or `.example.com` (routes and destination rows).
fn domain_row(text: &str) -> Result<HostName, super::values::NameError> {
    HostName::parse(text.strip_prefix('.').unwrap_or(text))
}

/// The interface the management plane listens on, and only it.
const MANAGEMENT: &str = "Management";

/// `adminaccessconfig` and `sshconfig`: ports that can all be bound at
/// once on Management, a certificate that exists, keys that parse.
fn management(cfg: &Config, p: &mut Problems) {
    let m = &cfg.management;
    let ports = [
        ("https_port", "HTTPS", m.https_port, m.https_enabled),
        ("http_port", "HTTP redirect", m.http_port, m.http_redirect),
        ("ssh_port", "SSH", m.ssh_port, m.ssh_enabled),
    ];
    for (i, (field, what, port, enabled)) in ports.iter().enumerate() {
        let field = format!("management.{field}");
        if *port == 0 {
            p.add(field, format!("the {what} port must be 1-65535."));
            continue;
        }
        // Distinct even when a service is off, so turning it on later
        // never needs a second change.
        if let Some((_, other, _, _)) = ports[..i].iter().find(|o| o.2 == *port) {
            p.add(
                field,
                format!("the {what} port {port} is already the {other} port."),
            );
            continue;
        }
        if !enabled {
            continue;
        }
        if let Some(l) = cfg
            .listeners
            .iter()
            .find(|l| l.interface.eq_ignore_ascii_case(MANAGEMENT) && l.port == *port)
        {
            p.add(
                field,
                format!(
                    "the {what} port {port} is the port of listener {} on {MANAGEMENT}.",
                    l.name
                ),
            );
        }
    }
    if !(MIN_WEB_TIMEOUT_SECS..=MAX_WEB_TIMEOUT_SECS).contains(&m.web_timeout_secs) {
        p.add(
            "management.web_timeout_secs",
            format!(
                "the web UI inactivity timeout must be {} to {} minutes ({} to {} seconds).",
                MIN_WEB_TIMEOUT_SECS / 60,
                MAX_WEB_TIMEOUT_SECS / 60,
                MIN_WEB_TIMEOUT_SECS,
                MAX_WEB_TIMEOUT_SECS
            ),
        );
    }
    if !m.certificate.is_empty() && cfg.certificate(&m.certificate).is_none() {
        p.add(
            "management.certificate",
            format!("there is no certificate named '{}'.", m.certificate),
        );
    }
    let mut per_user: Vec<(&str, usize)> = Vec::new();
    for (i, k) in m.ssh_keys.iter().enumerate() {
        let field = format!("management.ssh_keys[{i}]");
        if !valid_user_name(&k.user) {
            p.add(
                format!("{field}.user"),
                format!(
                    "'{}' is not a user name (1-32 lower-case letters, digits, '_', '.' or '-', starting with a letter).",
                    k.user
                ),
            );
        }
        if let Err(e) = SshPublicKey::parse(&k.key) {
            p.add(format!("{field}.key"), format!("{e}."));
        }
        let count = match per_user.iter_mut().find(|(u, _)| *u == k.user) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                per_user.push((&k.user, 1));
                1
            }
        };
        if count == MAX_SSH_KEYS_PER_USER + 1 {
            p.add(
                format!("{field}.user"),
                format!("{} has more than {MAX_SSH_KEYS_PER_USER} SSH keys.", k.user),
            );
        }
    }
}

fn listener(cfg: &Config, l: &ListenerConfig, p: &mut Problems) {
    let at = format!("listeners[{}]", l.name);
    if cfg.certificate(&l.certificate).is_none() {
        p.add(
            format!("{at}.certificate"),
            format!("there is no certificate named '{}'.", l.certificate),
        );
    }
    for mfp in &l.policies {
        let field = format!("{at}.policies[{}]", mfp.name);
        if let Some(t) = &mfp.smtp_banner_text
            && let Err(e) = t.check()
        {
            p.add(
                format!("{field}.smtp_banner_text"),
                format!("the SMTP banner text {e}."),
            );
        }
        if let Err(e) = mfp.reject_banner_text.check() {
            p.add(
                format!("{field}.reject_banner_text"),
                format!("the reject banner text {e}."),
            );
        }
    }
    for g in &l.hat {
        let field = format!("{at}.hat[{}]", g.name);
        if l.policy(&g.policy).is_none() {
            p.add(
                format!("{field}.policy"),
                format!(
                    "sender group {} names the unknown policy ${}.",
                    g.name, g.policy
                ),
            );
        }
        for (j, m) in g.members.iter().enumerate() {
            if let Err(e) = m.check() {
                p.add(format!("{field}.members[{j}]"), e.to_string());
            }
        }
    }
    for (i, r) in l.rat.iter().enumerate() {
        let field = format!("{at}.rat[{i}]");
        if let Err(e) = r.address.check() {
            p.add(format!("{field}.address"), e.to_string());
        }
        if let Some(t) = &r.text
            && let Err(e) = t.check()
        {
            p.add(
                format!("{field}.text"),
                format!("the reply text of the row for {} {e}.", r.address),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::factory::factory_config;
    use super::super::management::SshUserKey;
    use super::super::{Certificate, RatAction, RatEntry};
    use super::*;

    fn valid() -> Config {
        let board = breakwater_board::BoardProfile::builtin("dev").unwrap();
        let cert = Certificate {
            name: "Demo".into(),
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        factory_config(&board, cert)
    }

    #[test]
    fn the_factory_configuration_is_valid() {
        assert_eq!(valid().validate(), Ok(()));
    }

    #[test]
    fn an_unknown_time_zone_is_refused_with_the_clock_s_message() {
        let mut cfg = valid();
        cfg.time_zone = "America/Chicago".into();
        assert_eq!(cfg.validate(), Ok(()));
        cfg.time_zone = "Mars/Olympus".into();
        let err = cfg.validate().unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].field, "time_zone");
        assert_eq!(
            err.errors[0].message,
            breakwater_types::clock::parse_zone("Mars/Olympus")
                .unwrap_err()
                .to_string()
        );
    }

    #[test]
    fn every_problem_is_reported_under_its_field() {
        let mut cfg = valid();
        cfg.hostname = "not a host".into();
        let l = &mut cfg.listeners[0];
        let name = l.name.clone();
        let group = l.hat[0].name.clone();
        l.hat[0].members.push("10.1.1.0/33".into());
        l.policies[0].smtp_banner_text = Some("hi\r\n250 forged".into());
        l.rat.push(RatEntry {
            address: "x@bad..domain".into(),
            action: RatAction::Reject,
            code: Some(550),
            text: Some("no\r\n250 ok".into()),
            bypass_receiving_control: false,
        });
        let policy = l.policies[0].name.clone();
        let rat = l.rat.len() - 1;
        let members = l.hat[0].members.len() - 1;
        let err = cfg.validate().unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "hostname".to_string(),
                format!("listeners[{name}].policies[{policy}].smtp_banner_text"),
                format!("listeners[{name}].hat[{group}].members[{members}]"),
                format!("listeners[{name}].rat[{rat}].address"),
                format!("listeners[{name}].rat[{rat}].text"),
            ]
        );
        let text = err.to_string();
        assert!(text.contains("no control characters"), "{text}");
        assert!(text.contains("CIDR prefix length too long"), "{text}");
    }

    #[test]
    fn threat_defense_header_and_intake_addresses_are_checked() {
        let mut cfg = valid();
        cfg.threat_defense.header_name = "X-IP: 1\r\nBcc".into();
        cfg.threat_defense.intake_address = Some("nobody".into());
        cfg.incoming_policies.default.threat_defense = ThreatDefense::Custom("a b".into());
        let err = cfg.validate().unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "threat_defense.header_name",
                "threat_defense.intake_address",
                "incoming_policies[DEFAULT].threat_defense",
            ]
        );
    }

    #[test]
    fn management_ports_timeout_certificate_and_keys_are_checked() {
        const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILkZr0pw/Ux9QDZjEMt4KrgqnxK8frHuzFs/vbGqcvoa alice@laptop";
        let key = |user: &str, key: &str| SshUserKey {
            user: user.into(),
            key: key.into(),
        };
        let mut cfg = valid();
        cfg.management.certificate = "Demo".into();
        cfg.management.ssh_keys = vec![key("alice", KEY); MAX_SSH_KEYS_PER_USER];
        assert_eq!(cfg.validate(), Ok(()));

        let mut cfg = valid();
        let m = &mut cfg.management;
        m.https_port = 0;
        m.ssh_port = m.http_port;
        m.web_timeout_secs = 60;
        m.certificate = "Missing".into();
        m.ssh_keys = vec![
            key("Alice", KEY),
            key("bob", "ssh-ed25519 AAAA"),
            key("", KEY),
        ];
        m.ssh_keys
            .extend(vec![key("carol", KEY); MAX_SSH_KEYS_PER_USER + 1]);
        let err = cfg.validate().unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "management.https_port",
                "management.ssh_port",
                "management.web_timeout_secs",
                "management.certificate",
                "management.ssh_keys[0].user",
                "management.ssh_keys[1].key",
                "management.ssh_keys[2].user",
                "management.ssh_keys[35].user",
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("the SSH port 8080 is already the HTTP redirect port"),
            "{text}"
        );
        assert!(text.contains("5 to 1440 minutes"), "{text}");
        assert!(text.contains("carol has more than 32 SSH keys"), "{text}");
    }

    #[test]
    fn an_enabled_management_port_may_not_be_a_management_listeners_port() {
        let mut cfg = valid();
        let mut l = cfg.listeners[0].clone();
        l.name = "AdminMail".into();
        l.interface = "Management".into();
        l.port = cfg.management.ssh_port;
        cfg.listeners.push(l);
        let err = cfg.validate().unwrap_err();
        assert_eq!(err.errors[0].field, "management.ssh_port");
        assert!(err.to_string().contains("listener AdminMail on Management"));
        // SSH off: the listener may have the port.
        cfg.management.ssh_enabled = false;
        assert_eq!(cfg.validate(), Ok(()));
    }
}
