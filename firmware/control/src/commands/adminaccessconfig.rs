//! `adminaccessconfig`: the management plane on the Management interface —
//! HTTPS (web UI and REST API), the HTTP redirect, SSH, their ports, the
//! certificate HTTPS presents and the web UI's inactivity timeout. AsyncOS
//! keeps the services and ports under `interfaceconfig edit Management`:
//! `interfaceconfig edit Management --ssh-port N ...` runs `setup` here.
//! `Config::validate` checks that the ports can all be bound at once.

use super::args::{check_name, invalid, number, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::management::{MAX_WEB_TIMEOUT_SECS, MIN_WEB_TIMEOUT_SECS};
use crate::init::netconfig::MANAGEMENT;

pub(super) use breakwater_control_proto::usage::ADMINACCESSCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("setup"), [_, rest @ ..]) => setup(ctx, rest),
        // AsyncOS's TIMEOUT question, alone.
        (Some("timeout"), [_, minutes]) => setup(ctx, &["--timeout".to_string(), minutes.clone()]),
        _ => Err(usage(USAGE)),
    }
}

/// `setup`'s settings, in the order `print` shows them.
#[rustfmt::skip]
const SETUP: &[Setting<Config>] = &[
    ("https", OnOff(|c| &mut c.management.https_enabled)),
    ("https-port", Number(1, 65535, |c| &mut c.management.https_port)),
    ("http-redirect", OnOff(|c| &mut c.management.http_redirect)),
    ("http-port", Number(1, 65535, |c| &mut c.management.http_port)),
    ("ssh", OnOff(|c| &mut c.management.ssh_enabled)),
    ("ssh-port", Number(1, 65535, |c| &mut c.management.ssh_port)),
    ("api", OnOff(|c| &mut c.management.api_enabled)),
    ("timeout", Parse(set_timeout)),
    ("certificate", Parse(set_certificate)),
    ("metrics-port", Parse(set_metrics_port)),
];

/// `--metrics-port N|off`: the plain-HTTP `/metrics` port
/// (`Config::metrics`; its clashes are `Config::validate`'s).
fn set_metrics_port(cfg: &mut Config, v: &str) -> Result<(), CliError> {
    cfg.metrics.plain_port = if v.eq_ignore_ascii_case("off") {
        None
    } else {
        Some(number("--metrics-port", v, 1, 65535)?)
    };
    Ok(())
}

/// `--timeout MINUTES`, kept in seconds.
fn set_timeout(cfg: &mut Config, v: &str) -> Result<(), CliError> {
    let minutes = number(
        "--timeout",
        v,
        MIN_WEB_TIMEOUT_SECS / 60,
        MAX_WEB_TIMEOUT_SECS / 60,
    )?;
    cfg.management.web_timeout_secs = minutes * 60;
    Ok(())
}

/// `--certificate NAME` (a `certconfig` name), or `default`: the first
/// certificate, the factory "Demo".
fn set_certificate(cfg: &mut Config, v: &str) -> Result<(), CliError> {
    if cfg.certificate(v).is_some() {
        cfg.management.certificate = v.to_string();
        return Ok(());
    }
    if v.eq_ignore_ascii_case("default") {
        cfg.management.certificate.clear();
        return Ok(());
    }
    check_name("certificate", v)?;
    let names: Vec<&str> = cfg.certificates.iter().map(|c| c.name.as_str()).collect();
    Err(invalid(format!(
        "There is no certificate named '{v}' (certificates: {}; \"certconfig print\" lists them).",
        names.join(", ")
    )))
}

/// Also `interfaceconfig edit Management --https-port N ...`.
pub(super) fn setup(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, SETUP, &[], USAGE)?;
    let mut cfg = ctx.store.working()?;
    settings::apply(SETUP, &opts, &mut cfg)?;
    let m = &cfg.management;
    let mut message = "Management access settings updated.".to_string();
    if !m.https_enabled && !m.ssh_enabled {
        message.push_str(
            "\nWarning: HTTPS and SSH are both disabled: after the commit the appliance can be managed at the serial console only.",
        );
    } else if m.api_enabled && !m.https_enabled {
        message.push_str("\nNote: the REST API is served on HTTPS, which is disabled.");
    }
    stage(ctx, &cfg, &message)
}

pub(super) fn render(cfg: &Config) -> String {
    let m = &cfg.management;
    let address = match cfg.interface(MANAGEMENT) {
        _ if cfg.management_dhcp => "address from DHCP".to_string(),
        Some(i) => match i.address {
            Some(a) => format!("{a}"),
            None => "no address".to_string(),
        },
        None => "no address".to_string(),
    };
    let service = |on: bool, what: &str, port: u16| {
        if on {
            format!("{what}, port {port}")
        } else {
            format!("disabled (port {port})")
        }
    };
    let api = match (m.api_enabled, m.https_enabled) {
        (true, true) => "enabled, on the HTTPS port".to_string(),
        (true, false) => "enabled, but HTTPS is disabled".to_string(),
        (false, _) => "disabled".to_string(),
    };
    let certificate = if m.certificate.is_empty() {
        match cfg.certificates.first() {
            Some(c) => format!("{} (default: the first certificate)", c.name),
            None => "none".to_string(),
        }
    } else {
        m.certificate.clone()
    };
    let keys = match m.ssh_keys.len() {
        0 => "none (sshconfig)".to_string(),
        n => format!("{n} (sshconfig print)"),
    };
    let minutes = m.web_timeout_secs / 60;
    let metrics = match (cfg.metrics.plain_port, m.api_enabled && m.https_enabled) {
        (Some(port), true) => {
            format!("on HTTPS with the API's login; plain HTTP, no login, port {port}")
        }
        (Some(port), false) => format!("plain HTTP, no login, port {port}"),
        (None, true) => "on HTTPS with the API's login".to_string(),
        (None, false) => "off (the API and HTTPS are needed, or --metrics-port)".to_string(),
    };
    format!(
        "Management access on the {MANAGEMENT} interface ({address}):\n\
         HTTPS (web UI):             {}\n\
         HTTP:                       {}\n\
         SSH (CLI):                  {}\n\
         REST API (/api/v1):         {api}\n\
         Web UI inactivity timeout:  {minutes} minute{}\n\
         HTTPS certificate:          {certificate}\n\
         SSH public keys:            {keys}\n\
         Metrics (/metrics):         {metrics}",
        service(m.https_enabled, "enabled", m.https_port),
        service(m.http_redirect, "redirects to HTTPS", m.http_port),
        service(m.ssh_enabled, "enabled", m.ssh_port),
        if minutes == 1 { "" } else { "s" },
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn print_shows_the_factory_services_of_the_dev_board() {
        let out = Fixture::new().run("adminaccessconfig print").unwrap();
        assert_eq!(
            out,
            "Management access on the Management interface (127.0.0.1):\n\
             HTTPS (web UI):             enabled, port 8443\n\
             HTTP:                       redirects to HTTPS, port 8080\n\
             SSH (CLI):                  enabled, port 2222\n\
             REST API (/api/v1):         enabled, on the HTTPS port\n\
             Web UI inactivity timeout:  30 minutes\n\
             HTTPS certificate:          Demo (default: the first certificate)\n\
             SSH public keys:            none (sshconfig)\n\
             Metrics (/metrics):         on HTTPS with the API's login"
        );
    }

    #[test]
    fn setup_stages_every_setting_and_interfaceconfig_reaches_it() {
        let f = Fixture::new();
        let out = f
            .run("adminaccessconfig setup --https-port 443 --http-redirect off --http-port 80 --ssh-port 22 --api off --timeout 60 --certificate Demo")
            .unwrap();
        assert!(
            out.starts_with("Management access settings updated.\nThe change is staged"),
            "{out}"
        );
        let m = f.staged().unwrap().management;
        assert_eq!(
            (
                m.https_port,
                m.http_redirect,
                m.http_port,
                m.ssh_port,
                m.api_enabled
            ),
            (443, false, 80, 22, false)
        );
        assert_eq!((m.web_timeout_secs, m.certificate.as_str()), (3600, "Demo"));
        let out = f.run("adminaccessconfig print").unwrap();
        assert!(
            out.contains("HTTP:                       disabled (port 80)"),
            "{out}"
        );
        assert!(out.contains("HTTPS certificate:          Demo\n"), "{out}");

        f.run("adminaccessconfig timeout 5").unwrap();
        assert_eq!(f.staged().unwrap().management.web_timeout_secs, 300);
        f.run("adminaccessconfig setup --certificate default")
            .unwrap();
        assert_eq!(f.staged().unwrap().management.certificate, "");
        f.run("interfaceconfig edit management --ssh off --https-port 9443")
            .unwrap();
        let m = f.staged().unwrap().management;
        assert_eq!((m.ssh_enabled, m.https_port), (false, 9443));
        // The certificate HTTPS presents cannot be deleted under it.
        let mut cfg = f.working();
        let mut web = cfg.certificates[0].clone();
        web.name = "Web".into();
        cfg.certificates.push(web);
        f.store.stage(&cfg).unwrap();
        f.run("adminaccessconfig setup --certificate Web").unwrap();
        let err = f.run("certconfig delete Web").unwrap_err().to_string();
        assert!(err.contains("used by HTTPS on Management"), "{err}");
        let out = f.run("adminaccessconfig setup --https off").unwrap();
        assert!(out.contains("serial console only"), "{out}");
    }

    #[test]
    fn bad_settings_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "adminaccessconfig",
            "adminaccessconfig setup",
            "adminaccessconfig setup --https maybe",
            "adminaccessconfig setup --https-port 0",
            "adminaccessconfig setup --ssh-port 70000",
            "adminaccessconfig setup --timeout 4",
            "adminaccessconfig setup --timeout 1441",
            "adminaccessconfig setup --certificate Nope",
            "adminaccessconfig setup --frob 1",
            "adminaccessconfig timeout",
            "interfaceconfig edit \"Data 1\" --ssh on",
        ]);
        // Config::validate: the ports must differ.
        let err = f
            .run("adminaccessconfig setup --ssh-port 8443")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "The change was not staged: management.ssh_port: the SSH port 8443 is already the HTTPS port."
        );
        assert!(f.staged().is_none());
    }
}
