//! `threatdefenseconfig`: the Threat Defense Connector's global settings —
//! on or off, the global Message Intake Address, the header that carries
//! the client IP, and how long a copy may wait in `the.tdc.queue`.
//! Which incoming mail policies send copies is set per policy
//! (`policyconfig edit incoming <POLICY> threatdefense ...`).

use super::args::{invalid, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::{Config, ThreatDefenseConfig};

pub(super) use breakwater_control_proto::usage::THREATDEFENSECONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("enable"), [_, address]) => {
            check_address(address)?;
            let mut cfg = ctx.store.working()?;
            cfg.threat_defense.enabled = true;
            cfg.threat_defense.intake_address = Some(address.clone());
            stage(
                ctx,
                &cfg,
                &format!("Threat Defense Connector enabled; Message Intake Address {address}."),
            )
        }
        (Some("disable"), [_]) => {
            let mut cfg = ctx.store.working()?;
            cfg.threat_defense.enabled = false;
            stage(ctx, &cfg, "Threat Defense Connector disabled.")
        }
        (Some("setup"), [_, rest @ ..]) => {
            let opts = settings::parse_some(rest, SETUP, &[], USAGE)?;
            let mut cfg = ctx.store.working()?;
            settings::apply(SETUP, &opts, &mut cfg)?;
            stage(ctx, &cfg, "Threat Defense Connector settings updated.")
        }
        _ => Err(usage(USAGE)),
    }
}

/// `threatdefenseconfig setup`.
#[rustfmt::skip]
const SETUP: &[Setting<Config>] = &[
    ("header", Parse(|c, h| {
        if !ThreatDefenseConfig::valid_header_name(h) {
            return Err(invalid(format!("'{h}' is not a header name.")));
        }
        c.threat_defense.header_name = h.to_string();
        Ok(())
    })),
    ("max-age", Number(1, 24 * 3600, |c| &mut c.threat_defense.max_age_secs)),
    ("verify-certificate", OnOff(|c| &mut c.connections.tdc_verify_certificate)),
];

/// A Message Intake Address must be `local@domain.tld`.
pub(super) fn check_address(address: &str) -> Result<(), CliError> {
    if ThreatDefenseConfig::valid_intake_address(address) {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{address}' is not a valid Message Intake Address (user@domain)."
        )))
    }
}

pub(super) fn render(cfg: &Config) -> String {
    let t = &cfg.threat_defense;
    format!(
        "Threat Defense Connector: {}\nMessage Intake Address: {}\nClient IP header: {}\nMaximum time in the.tdc.queue: {} seconds\nTLS: required, {}\n",
        if t.enabled { "Enabled" } else { "Disabled" },
        t.intake_address.as_deref().unwrap_or("(not set)"),
        t.header_name,
        t.max_age_secs,
        if cfg.connections.tdc_verify_certificate {
            "certificate verified"
        } else {
            "certificate NOT verified"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn enable_disable_and_setup() {
        let f = Fixture::new();
        f.run("threatdefenseconfig enable intake@tdc.example.com")
            .unwrap();
        let t = f.staged().unwrap().threat_defense;
        assert!(t.enabled);
        assert_eq!(t.intake_address.as_deref(), Some("intake@tdc.example.com"));
        f.run("threatdefenseconfig setup --header X-Client-IP --max-age 5")
            .unwrap();
        let t = f.staged().unwrap().threat_defense;
        assert_eq!((t.header_name.as_str(), t.max_age_secs), ("X-Client-IP", 5));
        assert!(f.staged().unwrap().connections.tdc_verify_certificate);
        f.run("threatdefenseconfig setup --verify-certificate no")
            .unwrap();
        let cfg = f.staged().unwrap();
        assert!(!cfg.connections.tdc_verify_certificate);
        assert_eq!(
            cfg.destination(crate::config::services::TDC_DESTINATION)
                .tls,
            crate::config::OutboundTls::Required
        );
        f.run("threatdefenseconfig disable").unwrap();
        assert!(!f.staged().unwrap().threat_defense.enabled);
        assert!(
            f.run("threatdefenseconfig print")
                .unwrap()
                .contains("Disabled")
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "threatdefenseconfig enable not-an-address",
            "threatdefenseconfig enable a@nodot",
            "threatdefenseconfig setup --header Bad:Name",
            "threatdefenseconfig setup --max-age 0",
            "threatdefenseconfig setup --verify-certificate sometimes",
            "threatdefenseconfig",
        ]);
    }
}
