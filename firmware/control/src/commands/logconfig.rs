//! `logconfig`: rotation of `mail_logs` (the same limits apply to the system
//! and audit logs; see `crate::logging::LogHandle::set_settings`) and the
//! logs' syslog subscriptions (AsyncOS's "Syslog Push" retrieval method).

use breakwater_config::logship::{
    self, LogName, LogSubscription, MAX_HOSTS_PER_LOG, MAX_SPOOL_BYTES, MIN_SPOOL_BYTES,
    SyslogHost, SyslogProtocol,
};

use super::args::{format_size, invalid, parse_opts, stage, usage};
use super::settings::{self, Kind::*, Setting};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::LOGCONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("mail_logs"), [_, rest @ ..]) => {
            let opts = settings::parse_some(rest, MAIL_LOGS, &[], USAGE)?;
            let mut cfg = ctx.store.working()?;
            settings::apply(MAIL_LOGS, &opts, &mut cfg)?;
            let message = format!("mail_logs: {}.", rotation(&cfg));
            stage(ctx, &cfg, &message)
        }
        (Some("subscribe"), [_, rest @ ..]) => subscribe(ctx, rest),
        (Some("unsubscribe"), [_, rest @ ..]) => unsubscribe(ctx, rest),
        _ => Err(usage(USAGE)),
    }
}

/// 100k keeps a line or two of headroom per file; 1G per file is already
/// more than a small appliance's log partition.
#[rustfmt::skip]
const MAIL_LOGS: &[Setting<Config>] = &[
    ("max-file-size", Size(100 * 1024, 1024 * 1024 * 1024, |c| &mut c.mail_logs.max_file_bytes)),
    ("max-files", Number(1, 1000, |c| &mut c.mail_logs.max_files)),
];

fn rotation(cfg: &Config) -> String {
    format!(
        "roll over at {}, keep {} files",
        format_size(cfg.mail_logs.max_file_bytes),
        cfg.mail_logs.max_files
    )
}

pub(super) fn render(cfg: &Config) -> String {
    let mut out = String::from("Currently configured logs:");
    for (i, log) in LogName::ALL.into_iter().enumerate() {
        let retrieval = match cfg.log_shipping.subscription(log) {
            Some(sub) => format!(
                "Syslog Push to {} (facility {}, spool {})",
                sub.hosts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                logship::FACILITIES
                    .get(usize::from(sub.facility))
                    .copied()
                    .unwrap_or("?"),
                format_size(sub.spool_max_bytes)
            ),
            None => "Manually Download".to_string(),
        };
        out.push_str(&format!(
            "\n{}. {}: {}; {retrieval}",
            i + 1,
            log.name(),
            rotation(cfg)
        ));
    }
    out
}

fn log_name(name: Option<&String>) -> Result<LogName, CliError> {
    let name = name.ok_or_else(|| usage(USAGE))?;
    LogName::parse(name).ok_or_else(|| {
        invalid(format!(
            "Unknown log {name:?}: the logs are mail_logs, system_logs and audit_logs."
        ))
    })
}

/// `host`, `host:port` or `[v6]:port`; the port defaults by protocol.
fn parse_host(text: &str) -> Result<(String, Option<u16>), CliError> {
    let bad = || invalid(format!("{text:?} is not a host or host:port."));
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, p) = rest.split_once(']').ok_or_else(bad)?;
        (h, p.strip_prefix(':'))
    } else if text.matches(':').count() == 1 {
        let (h, p) = text.split_once(':').ok_or_else(bad)?;
        (h, Some(p))
    } else {
        (text, None)
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => Some(super::args::number("The port", p, 1, u16::MAX)?),
        None => None,
    };
    Ok((host.to_string(), port))
}

fn subscribe(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(args, &["protocol", "facility", "spool-size"], &[], USAGE)?;
    let [log, host] = opts.positional.as_slice() else {
        return Err(usage(USAGE));
    };
    let log = log_name(Some(log))?;
    let protocol = match opts.value("protocol") {
        Some(p) => SyslogProtocol::parse(p)
            .ok_or_else(|| invalid(format!("Unknown protocol {p:?}: UDP, TCP or TLS.")))?,
        None => SyslogProtocol::Tcp,
    };
    let (host, port) = parse_host(host)?;
    let facility = match opts.value("facility") {
        Some(f) => Some(logship::parse_facility(f).ok_or_else(|| {
            invalid(format!(
                "Unknown facility {f:?}: 0 to 23 or a name (mail, user, auth, local0 ... local7)."
            ))
        })?),
        None => None,
    };
    let spool = opts.size("spool-size", MIN_SPOOL_BYTES, MAX_SPOOL_BYTES)?;
    let mut cfg = ctx.store.working()?;
    let subs = &mut cfg.log_shipping.subscriptions;
    let at = match subs.iter().position(|s| s.log == log) {
        Some(i) => i,
        None => {
            subs.push(LogSubscription::new(log));
            subs.len() - 1
        }
    };
    let sub = &mut subs[at];
    let target = SyslogHost {
        host,
        port: port.unwrap_or(protocol.default_port()),
        protocol,
    };
    if !sub.hosts.contains(&target) {
        if sub.hosts.len() >= MAX_HOSTS_PER_LOG {
            return Err(invalid(format!(
                "{} already has {MAX_HOSTS_PER_LOG} syslog hosts.",
                log.name()
            )));
        }
        sub.hosts.push(target);
    }
    if let Some(f) = facility {
        sub.facility = f;
    }
    if let Some(n) = spool {
        sub.spool_max_bytes = n;
    }
    let message = format!(
        "{}: Syslog Push to {}.",
        log.name(),
        sub.hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    stage(ctx, &cfg, &message)
}

fn unsubscribe(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(args, &["protocol"], &[], USAGE)?;
    let log = log_name(opts.positional.first())?;
    let mut cfg = ctx.store.working()?;
    let subs = &mut cfg.log_shipping.subscriptions;
    let Some(at) = subs.iter().position(|s| s.log == log) else {
        return Err(invalid(format!(
            "{} has no syslog subscription.",
            log.name()
        )));
    };
    let message = match opts.positional.get(1..) {
        Some([]) | None => {
            subs.remove(at);
            format!("{}: no longer pushed.", log.name())
        }
        Some([host]) => {
            let protocol = opts.value("protocol").and_then(SyslogProtocol::parse);
            let (host, port) = parse_host(host)?;
            let hosts = &mut subs[at].hosts;
            let before = hosts.len();
            hosts.retain(|h| {
                !(h.host == host
                    && port.is_none_or(|p| p == h.port)
                    && protocol.is_none_or(|p| p == h.protocol))
            });
            if hosts.len() == before {
                return Err(invalid(format!("{} is not pushed to {host}.", log.name())));
            }
            if hosts.is_empty() {
                subs.remove(at);
            }
            format!("{}: no longer pushed to {host}.", log.name())
        }
        Some(_) => return Err(usage(USAGE)),
    };
    stage(ctx, &cfg, &message)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    #[test]
    fn mail_logs_settings_are_staged() {
        for (line, bytes, files) in [
            (
                "logconfig mail_logs --max-file-size 5M --max-files 20",
                5 * 1024 * 1024,
                20,
            ),
            ("logconfig mail_logs --max-file-size=512k", 512 * 1024, 10),
            ("logconfig MAIL_LOGS --max-files 3", 10 * 1024 * 1024, 3),
        ] {
            let f = Fixture::new();
            f.run(line).unwrap();
            let logs = f.staged().unwrap().mail_logs;
            assert_eq!(
                (logs.max_file_bytes, logs.max_files),
                (bytes, files),
                "{line}"
            );
        }
        assert_eq!(
            Fixture::new().run("logconfig print").unwrap(),
            "Currently configured logs:\n\
             1. mail_logs: roll over at 10M, keep 10 files; Manually Download\n\
             2. system_logs: roll over at 10M, keep 10 files; Manually Download\n\
             3. audit_logs: roll over at 10M, keep 10 files; Manually Download"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "logconfig mail_logs",
            "logconfig mail_logs --max-file-size 1k",
            "logconfig mail_logs --max-file-size lots",
            "logconfig mail_logs --max-files 0",
            "logconfig mail_logs extra",
            "logconfig system_logs --max-files 3",
            "logconfig subscribe",
            "logconfig subscribe mail_logs",
            "logconfig subscribe gui_logs 127.0.0.1",
            "logconfig subscribe mail_logs 127.0.0.1 --protocol sctp",
            "logconfig subscribe mail_logs 127.0.0.1:0",
            "logconfig subscribe mail_logs 127.0.0.1:99999",
            "logconfig subscribe mail_logs bad_host!",
            "logconfig subscribe mail_logs 127.0.0.1 --facility local9",
            "logconfig subscribe mail_logs 127.0.0.1 --spool-size 1k",
            "logconfig unsubscribe mail_logs",
        ]);
    }

    #[test]
    fn subscriptions_are_staged_listed_and_removed() {
        use breakwater_config::logship::{LogName, SyslogProtocol};
        let f = Fixture::new();
        let out = f
            .run("logconfig subscribe mail_logs 127.0.0.1:5514 --protocol udp")
            .unwrap();
        assert!(
            out.starts_with("mail_logs: Syslog Push to 127.0.0.1:5514 UDP.\n"),
            "{out}"
        );
        f.run("logconfig subscribe MAIL_LOGS logs.example.com --facility local3 --spool-size 2M")
            .unwrap();
        f.run("logconfig subscribe audit_logs [::1]:6514 --protocol tls")
            .unwrap();
        let ship = f.staged().unwrap().log_shipping;
        let mail = ship.subscription(LogName::MailLogs).unwrap();
        assert_eq!(mail.hosts.len(), 2);
        assert_eq!(mail.hosts[1].port, 514);
        assert_eq!(mail.hosts[1].protocol, SyslogProtocol::Tcp);
        assert_eq!((mail.facility, mail.spool_max_bytes), (19, 2 * 1024 * 1024));
        let audit = ship.subscription(LogName::AuditLogs).unwrap();
        assert_eq!((audit.hosts[0].host.as_str(), audit.facility), ("::1", 4));
        let print = f.run("logconfig print").unwrap();
        assert!(
            print.contains("1. mail_logs: roll over at 10M, keep 10 files; Syslog Push to 127.0.0.1:5514 UDP, logs.example.com:514 TCP (facility local3, spool 2M)"),
            "{print}"
        );
        assert!(print.contains("3. audit_logs: roll over at 10M, keep 10 files; Syslog Push to ::1:6514 TLS (facility auth, spool 64M)"), "{print}");
        f.run("logconfig unsubscribe mail_logs logs.example.com")
            .unwrap();
        assert!(f.run("logconfig unsubscribe mail_logs nowhere").is_err());
        f.run("logconfig unsubscribe audit_logs").unwrap();
        let ship = f.staged().unwrap().log_shipping;
        assert_eq!(ship.subscriptions.len(), 1);
        assert_eq!(ship.subscriptions[0].hosts.len(), 1);
    }
}
