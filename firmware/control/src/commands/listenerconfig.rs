//! `listenerconfig`: print the listeners, and edit one listener's settings,
//! Host Access Table (`hostaccess`, in `hostaccess` and `policy`) and
//! Recipient Access Table (`rcptaccess`, in `rcptaccess`).

use std::fmt::Write as _;

use super::args::{find, find_mut};
use super::args::{invalid, number as number_in, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext, hostaccess, rcptaccess};
use crate::config::{Config, CrLfHandling, ListenerConfig, ListenerKind};

pub(super) use breakwater_control_proto::usage::LISTENERCONFIG as USAGE;

const GLOBAL_SETUP_USAGE: &str = "\
usage: listenerconfig setup print
       listenerconfig setup [--max-header-fields N] [--max-header-field-size BYTES]
              [--max-header-size BYTES] [--max-hops N] [--reception-memory MB]";

const SETUP_USAGE: &str = "\
usage: listenerconfig edit <listener> setup [--max-concurrency N] [--crlf strict|lenient] [--port N]
              [--interface NAME] [--certificate NAME] [--unsuccessful-timeout SECS]
              [--total-timeout SECS] [--idle-timeout SECS]";

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args.len()) {
        (Some("print"), 1) => Ok(render_listeners(&ctx.store.working()?, true)),
        (Some("setup"), 2) if args[1].eq_ignore_ascii_case("print") => {
            Ok(render_global(&ctx.store.working()?))
        }
        (Some("setup"), _) => global_setup(ctx, &args[1..]),
        (Some("limits"), _) => limits(ctx, &args[1..]),
        (Some("edit"), n) if n >= 3 => {
            let listener = args[1].as_str();
            let rest = &args[3..];
            match args[2].to_ascii_lowercase().as_str() {
                "hostaccess" => hostaccess::run(ctx, listener, rest),
                "rcptaccess" => rcptaccess::run(ctx, listener, rest),
                "setup" => setup(ctx, listener, rest),
                "print" if rest.is_empty() => {
                    let cfg = ctx.store.working()?;
                    let l = find(&cfg, listener)?;
                    Ok(render_listener(&cfg, l))
                }
                _ => Err(usage(USAGE)),
            }
        }
        _ => Err(usage(USAGE)),
    }
}

/// The connection limits of all listeners together, taken at accept
/// before any DNS lookup: `max_connections_total` and
/// `max_connections_per_ip` (IPv6 clients counted per /64).
fn limits(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse(args, LIMITS, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let mut cfg = ctx.store.working()?;
    if !opts.any() {
        return Ok(render_limits(&cfg));
    }
    settings::apply(LIMITS, &opts, &mut cfg)?;
    let message = render_limits(&cfg);
    stage(ctx, &cfg, &message)
}

#[rustfmt::skip]
const LIMITS: &[Setting<Config>] = &[
    ("max-connections-total", Number(1, 100_000, |c| &mut c.connections.max_connections_total)),
    ("max-connections-per-ip", Number(1, 100_000, |c| &mut c.connections.max_connections_per_ip)),
];

fn render_limits(cfg: &Config) -> String {
    let c = &cfg.connections;
    format!(
        "Connections on all listeners: at most {} in total, {} from one address (IPv6: one /64).",
        c.max_connections_total, c.max_connections_per_ip
    )
}

/// `listenerconfig edit <listener> setup`, but for `--interface` and
/// `--certificate`, which name other parts of the configuration.
#[rustfmt::skip]
const SETUP: &[Setting<ListenerConfig>] = &[
    ("crlf", Parse(|l, v| {
        l.crlf = match v.to_ascii_lowercase().as_str() {
            "strict" => CrLfHandling::Strict,
            "lenient" => CrLfHandling::Lenient,
            other => return Err(invalid(format!("Invalid --crlf '{other}': use strict or lenient."))),
        };
        Ok(())
    })),
    ("max-concurrency", Number(1, 10_000, |l| &mut l.max_concurrency)),
    ("port", Number(1, u16::MAX as u64, |l| &mut l.port)),
    ("unsuccessful-timeout", Number(1, 86_400, |l| &mut l.session.unsuccessful_timeout_secs)),
    ("total-timeout", Number(1, 86_400, |l| &mut l.session.total_timeout_secs)),
    ("idle-timeout", Number(1, 86_400, |l| &mut l.session.idle_timeout_secs)),
];

fn setup(ctx: &CommandContext<'_>, listener: &str, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, SETUP, &["interface", "certificate"], SETUP_USAGE)?;
    let mut cfg = ctx.store.working()?;
    let interface = match opts.value("interface") {
        Some(name) => Some(cfg.interface(name).map(|i| i.name.clone()).ok_or_else(|| {
            invalid(format!(
                "There is no interface named '{name}' (see interfaceconfig print)."
            ))
        })?),
        None => None,
    };
    if let Some(name) = opts.value("certificate")
        && cfg.certificate(name).is_none()
    {
        let names: Vec<&str> = cfg.certificates.iter().map(|c| c.name.as_str()).collect();
        return Err(invalid(format!(
            "There is no certificate named '{name}'. Certificates: {}.",
            names.join(", ")
        )));
    }
    let l = find_mut(&mut cfg, listener)?;
    settings::apply(SETUP, &opts, l)?;
    let name = l.name.clone();
    if let Some(i) = interface {
        l.interface = i;
    }
    if let Some(c) = opts.value("certificate") {
        l.certificate = c.to_string();
    }
    let (iface, port) = (l.interface.clone(), l.port);
    if let Some(other) = cfg
        .listeners
        .iter()
        .find(|o| o.name != name && o.interface == iface && o.port == port)
    {
        return Err(invalid(format!(
            "Listener {} already uses {iface} port {port}.",
            other.name
        )));
    }
    stage(ctx, &cfg, &format!("Listener {name} updated."))
}

/// Header sizes take k/M suffixes; the bounds keep them within u32.
#[rustfmt::skip]
const GLOBAL_SETUP: &[Setting<Config>] = &[
    ("max-header-fields", Number(10, 100_000, |c| &mut c.reception.headers.max_header_fields)),
    ("max-header-field-size", Size(1000, 16 * 1024 * 1024, |c| &mut c.reception.headers.max_header_field_bytes)),
    ("max-header-size", Size(1000, 64 * 1024 * 1024, |c| &mut c.reception.headers.max_header_bytes)),
    ("max-hops", Number(5, 1000, |c| &mut c.reception.headers.max_hops)),
    // Below 1 MB not even one session could receive; above 4 GB is no
    // longer a bound on an appliance.
    ("reception-memory", Parse(|c, v| {
        c.reception.memory_budget_bytes = number_in("--reception-memory", v, 1u64, 4096)? * 1024 * 1024;
        Ok(())
    })),
];

/// `listenerconfig setup`: the settings every listener shares (AsyncOS
/// keeps its global listener settings under the same word).
fn global_setup(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = settings::parse_some(args, GLOBAL_SETUP, &[], GLOBAL_SETUP_USAGE)?;
    let mut cfg = ctx.store.working()?;
    settings::apply(GLOBAL_SETUP, &opts, &mut cfg)?;
    let r = &cfg.reception;
    if r.headers.max_header_field_bytes > r.headers.max_header_bytes {
        return Err(invalid(format!(
            "The maximum header field size ({}) cannot exceed the maximum header size ({}).",
            r.headers.max_header_field_bytes, r.headers.max_header_bytes
        )));
    }
    stage(ctx, &cfg, "Listener global settings updated.")
}

/// `listenerconfig setup print`.
fn render_global(cfg: &Config) -> String {
    let r = &cfg.reception;
    format!(
        "Global listener settings:\n\
         Maximum header fields per message: {}\n\
         Maximum size of one header field: {} bytes\n\
         Maximum size of the header section: {} bytes\n\
         Maximum hops (Received headers): {}\n\
         Reception memory budget: {} MB",
        r.headers.max_header_fields,
        r.headers.max_header_field_bytes,
        r.headers.max_header_bytes,
        r.headers.max_hops,
        r.memory_budget_bytes / (1024 * 1024)
    )
}

/// The AsyncOS listener list, then (when `tables`) each listener's
/// settings, HAT, policies and RAT.
pub(super) fn render_listeners(cfg: &Config, tables: bool) -> String {
    let mut out = String::from("Currently configured listeners:\n");
    for (i, l) in cfg.listeners.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, summary(cfg, l));
    }
    if tables {
        out.push('\n');
        out.push_str(&render_limits(cfg));
        out.push('\n');
        for l in &cfg.listeners {
            out.push('\n');
            out.push_str(&render_listener(cfg, l));
        }
    }
    out.trim_end().to_string()
}

/// `IncomingMail (on Data 1, 192.0.2.1) SMTP TCP Port 25 Public`
fn summary(cfg: &Config, l: &ListenerConfig) -> String {
    let address = cfg
        .interface(&l.interface)
        .and_then(|i| i.address)
        .map_or_else(|| "no address".to_string(), |a| a.to_string());
    let kind = match l.kind {
        ListenerKind::Public => "Public",
        ListenerKind::Private => "Private",
    };
    format!(
        "{} (on {}, {address}) SMTP TCP Port {} {kind}",
        l.name, l.interface, l.port
    )
}

/// One listener in full: settings, HAT with policies, RAT.
pub(super) fn render_listener(cfg: &Config, l: &ListenerConfig) -> String {
    let crlf = match l.crlf {
        CrLfHandling::Strict => "strict",
        CrLfHandling::Lenient => "lenient",
    };
    let mut out = String::new();
    let _ = writeln!(out, "Listener {}", summary(cfg, l));
    let _ = writeln!(
        out,
        "  Certificate: {}; max concurrency: {}; CR/LF handling: {crlf}",
        l.certificate, l.max_concurrency
    );
    let _ = writeln!(
        out,
        "  Timeouts: unsuccessful {}s, total {}s, idle {}s",
        l.session.unsuccessful_timeout_secs,
        l.session.total_timeout_secs,
        l.session.idle_timeout_secs
    );
    out.push_str(&hostaccess::render_hat(cfg, l));
    out.push_str(&super::policy::render_policies(l));
    out.push_str(&rcptaccess::render_rat(l));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::CrLfHandling;

    #[test]
    fn print_lists_listeners_like_asyncos_with_their_tables() {
        let f = Fixture::new();
        let out = f.run("listenerconfig print").unwrap();
        assert!(out.starts_with("Currently configured listeners:\n1. IncomingMail (on Data 1, 127.0.1.1) SMTP TCP Port 2525 Public\n2. OutgoingMail (on Data 2, 127.0.2.1) SMTP TCP Port 2525 Private"), "{out}");
        assert!(out.contains("ALLOWED_LIST"), "{out}");
        assert!(out.contains("RELAYLIST"), "{out}");
        assert!(out.contains("ALL  REJECT"), "{out}");
    }

    #[test]
    fn global_setup_changes_the_reception_limits_and_refuses_nonsense() {
        let f = Fixture::new();
        f.run("listenerconfig setup --max-header-fields 200 --max-header-field-size 64k --max-hops 30 --reception-memory 128")
            .unwrap();
        let r = f.staged().unwrap().reception;
        assert_eq!(r.headers.max_header_fields, 200);
        assert_eq!(r.headers.max_header_field_bytes, 64 * 1024);
        assert_eq!(r.headers.max_hops, 30);
        assert_eq!(r.memory_budget_bytes, 128 * 1024 * 1024);
        let printed = f.run("listenerconfig setup print").unwrap();
        assert!(
            printed.contains("Maximum hops (Received headers): 30"),
            "{printed}"
        );
        let e = f
            .run("listenerconfig setup --max-header-field-size 2M --max-header-size 1M")
            .unwrap_err();
        assert!(e.to_string().contains("cannot exceed"), "{e}");
        assert!(f.run("listenerconfig setup --max-hops 0").is_err());
    }

    #[test]
    fn setup_changes_the_listener_settings() {
        let f = Fixture::new();
        f.run("listenerconfig edit incomingmail setup --max-concurrency 50 --crlf lenient --port 25 --interface \"data 2\" --idle-timeout 60")
            .unwrap();
        let cfg = f.staged().unwrap();
        let l = cfg.listener("IncomingMail").unwrap();
        assert_eq!(
            (l.max_concurrency, l.crlf, l.port),
            (50, CrLfHandling::Lenient, 25)
        );
        assert_eq!(l.interface, "Data 2");
        assert_eq!(l.session.idle_timeout_secs, 60);
    }

    #[test]
    fn limits_set_the_caps_of_all_listeners() {
        let f = Fixture::new();
        let out = f.run("listenerconfig limits").unwrap();
        assert!(
            out.contains("at most 1000 in total, 50 from one address"),
            "{out}"
        );
        f.run("listenerconfig limits --max-connections-total 200 --max-connections-per-ip 5")
            .unwrap();
        let c = f.staged().unwrap().connections;
        assert_eq!(
            (c.max_connections_total, c.max_connections_per_ip),
            (200, 5)
        );
        Fixture::new().assert_refused(&[
            "listenerconfig limits --max-connections-total 0",
            "listenerconfig limits --max-connections-per-ip many",
            "listenerconfig limits extra",
        ]);
    }

    #[test]
    fn bad_setup_is_refused_and_stages_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "listenerconfig edit Nope setup --port 25",
            "listenerconfig edit IncomingMail setup",
            "listenerconfig edit IncomingMail setup --port 0",
            "listenerconfig edit IncomingMail setup --port 70000",
            "listenerconfig edit IncomingMail setup --crlf maybe",
            "listenerconfig edit IncomingMail setup --interface eth9",
            "listenerconfig edit IncomingMail setup --certificate Missing",
            "listenerconfig edit IncomingMail setup --max-concurrency 0",
            "listenerconfig edit IncomingMail setup --bogus 1",
            // OutgoingMail already listens on Data 2 at the same port.
            "listenerconfig edit IncomingMail setup --interface \"Data 2\"",
        ]);
    }
}
