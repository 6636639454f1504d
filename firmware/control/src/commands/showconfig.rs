//! `showconfig`: the whole working configuration as stable, readable text
//! (each section is the same text as that family's `print`). Certificates
//! are shown by name only: their private keys never leave the store.

use super::args::{format_size, invalid, usage};
use super::{CliError, CommandContext};
use super::{
    adminaccessconfig, bounceconfig, deliveryconfig, destconfig, dnsconfig, interfaceconfig,
    listenerconfig, logconfig, saveconfig, setgateway, smtproutes, sshconfig,
};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::SHOWCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    match args {
        [] => {}
        [json] if json.eq_ignore_ascii_case("--json") => return json_config(ctx),
        _ => return Err(usage(USAGE)),
    }
    let staged = ctx.store.staged()?;
    let header = if staged.is_some() {
        "Working configuration: there are uncommitted changes (\"commit\" applies them, \"clear\" discards them)."
    } else {
        "Working configuration: no uncommitted changes (this is the configuration in force)."
    };
    let cfg = match staged {
        Some(c) => c,
        None => ctx.store.committed()?,
    };
    Ok(format!("{header}\n\n{}", render(&cfg)))
}

/// `showconfig --json`: exactly the serialized `Config` the web UI and the
/// REST API read their forms from (whether it is staged: `__state`).
fn json_config(ctx: &CommandContext<'_>) -> Result<String, CliError> {
    let cfg = saveconfig::masked(&ctx.store.working()?);
    serde_json::to_string_pretty(&cfg)
        .map_err(|e| invalid(format!("Cannot export the configuration: {e}")))
}

pub(super) fn render(cfg: &Config) -> String {
    let certificates: Vec<&str> = cfg.certificates.iter().map(|c| c.name.as_str()).collect();
    let sections = [
        format!("Hostname: {}", cfg.hostname),
        format!("Time zone: {}", cfg.time_zone),
        interfaceconfig::render(cfg),
        setgateway::render(cfg),
        listenerconfig::render_listeners(cfg, true),
        smtproutes::render(cfg),
        format!("DNS:\n{}", indent(&dnsconfig::render(cfg))),
        format!("Delivery:\n{}", indent(&deliveryconfig::render(cfg))),
        destconfig::table(cfg),
        bounceconfig::render(cfg),
        format!(
            "Queue limits: {} messages, {} of spool",
            cfg.queue.max_messages,
            format_size(cfg.queue.max_spool_bytes)
        ),
        logconfig::render(cfg),
        format!("Certificates: {}", certificates.join(", ")),
        format!(
            "Trusted CA certificates added: {}",
            cfg.ca_certificates.len()
        ),
        adminaccessconfig::render(cfg),
        sshconfig::render(cfg),
    ];
    sections.join("\n\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn shows_everything_but_private_keys_and_says_whether_changes_are_staged() {
        let f = Fixture::new();
        let out = f.run("showconfig").unwrap();
        assert!(
            out.starts_with("Working configuration: no uncommitted changes"),
            "{out}"
        );
        for expected in [
            "Hostname: breakwater.dev.local",
            "Time zone: UTC",
            "2. Data 1 (127.0.1.1/8: breakwater.dev.local)",
            "Default gateway: not configured",
            "1. IncomingMail (on Data 1, 127.0.1.1) SMTP TCP Port 2525 Public",
            "$RELAYED: RELAY",
            "No SMTP routes are configured",
            "Timeout: 5 seconds",
            "Delivery interface: Data 2",
            "Queue limits: 500000 messages, 8G of spool",
            "mail_logs: roll over at 10M",
            "Certificates: Demo",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        assert!(!out.contains("PRIVATE KEY") && !out.contains("SECRETKEY"));
        assert!(!out.contains("CERTDATA"));

        f.run("smtproutes new example.com mx.example").unwrap();
        let out = f.run("showconfig").unwrap();
        assert!(
            out.starts_with("Working configuration: there are uncommitted changes"),
            "{out}"
        );
        assert!(
            out.contains("Host routes\nexample.com => mx.example:25/pri=0"),
            "{out}"
        );
        // Stable: the same config prints the same text.
        assert_eq!(out, f.run("showconfig").unwrap());
        assert!(f.run("showconfig extra").is_err());
        assert!(
            out.contains("Management access on the Management interface (127.0.0.1):\nHTTPS (web UI):             enabled, port 8443"),
            "{out}"
        );
    }

    #[test]
    fn json_is_the_working_config_with_private_keys_masked() {
        let f = Fixture::new();
        f.run("adminaccessconfig setup --ssh-port 2022").unwrap();
        let out = f.run("SHOWCONFIG --JSON").unwrap();
        assert!(!out.contains("SECRETKEY"), "{out}");
        let read: crate::config::Config = serde_json::from_str(&out).unwrap();
        let mut want = f.working();
        assert_eq!(read.management.ssh_port, 2022);
        want.certificates[0].key_pem = super::saveconfig::MASK.to_string();
        assert_eq!(read, want);
        assert!(f.run("showconfig --json extra").is_err());
    }
}
