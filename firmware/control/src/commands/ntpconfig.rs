//! `ntpconfig` and `settime`: the NTP servers the clock follows, and the
//! clock itself on a box without NTP (AsyncOS's commands).
//!
//! The configuration forms stage a change like every `*config` command.
//! `ntpconfig status` and `settime` are the running daemon's (its NTP
//! client's last round; the supervisor sets the clock): without a daemon
//! they say so. [`parse_settime`] is shared with the daemon, which checks
//! the committed configuration (NTP on: refused, as AsyncOS refuses).

use breakwater_types::clock;
use chrono::{NaiveDateTime, TimeZone as _};

use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::config::ntp::{self, NtpSettings};

pub(super) use breakwater_control_proto::usage::NTPCONFIG as USAGE;
use breakwater_control_proto::usage::SETTIME;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase());
    let mut cfg = ctx.store.working()?;
    match (word(0).as_deref(), args.len()) {
        (None, 0) | (Some("print"), 1) => Ok(render(&cfg.ntp)),
        (Some("status"), 1) => Ok(format!(
            "{}\nNTP status comes from the running gateway, which is not reachable.",
            render(&cfg.ntp)
        )),
        (Some("new" | "add"), 2) => {
            let server = args[1].trim();
            ntp::parse_server(server).map_err(|e| invalid(e.to_string()))?;
            cfg.ntp.servers.push(server.to_string());
            check(&cfg.ntp)?;
            stage(ctx, &cfg, &format!("NTP server {server} added."))
        }
        (Some("delete"), 2) => {
            let which = args[1].trim();
            let index = match which.parse::<usize>() {
                Ok(n) if (1..=cfg.ntp.servers.len()).contains(&n) => n - 1,
                _ => cfg
                    .ntp
                    .servers
                    .iter()
                    .position(|s| s.eq_ignore_ascii_case(which))
                    .ok_or_else(|| invalid(format!("No NTP server {which} is configured.")))?,
            };
            let gone = cfg.ntp.servers.remove(index);
            if cfg.ntp.enabled && cfg.ntp.servers.is_empty() {
                return Err(invalid(
                    "That is the last NTP server: run 'ntpconfig disable' first, or add another.",
                ));
            }
            stage(ctx, &cfg, &format!("NTP server {gone} deleted."))
        }
        (Some(w @ ("enable" | "disable")), 1) => {
            let on = w == "enable";
            if cfg.ntp.enabled == on {
                return Err(invalid(format!("NTP is already {w}d.")));
            }
            cfg.ntp.enabled = on;
            check(&cfg.ntp)?;
            stage(
                ctx,
                &cfg,
                if on {
                    "NTP enabled: the clock follows the NTP servers after commit."
                } else {
                    "NTP disabled: set the clock with settime after commit."
                },
            )
        }
        (Some("poll"), 2) => {
            let secs = args[1]
                .parse::<u32>()
                .map_err(|_| invalid(ntp::NtpSettingsError::BadPoll.to_string()))?;
            cfg.ntp.poll_secs = secs;
            check(&cfg.ntp)?;
            stage(
                ctx,
                &cfg,
                &format!("NTP poll interval set to {secs} seconds."),
            )
        }
        _ => Err(usage(USAGE)),
    }
}

fn check(s: &NtpSettings) -> Result<(), CliError> {
    s.validate().map_err(|e| invalid(e.to_string()))
}

/// The configured servers, AsyncOS's way:
///
/// ```text
/// NTP is enabled (poll interval 1024 seconds).
/// Currently configured NTP servers:
/// 1. ntp1.example.com
/// ```
pub fn render(s: &NtpSettings) -> String {
    let mut out = if s.enabled {
        format!("NTP is enabled (poll interval {} seconds).\n", s.poll_secs)
    } else {
        "NTP is disabled: the clock is set with settime.\n".to_string()
    };
    if s.servers.is_empty() {
        out.push_str("No NTP servers are configured.");
    } else {
        out.push_str("Currently configured NTP servers:");
        for (i, server) in s.servers.iter().enumerate() {
            out.push_str(&format!("\n{}. {server}", i + 1));
        }
    }
    out
}

/// `settime` without the daemon: it sets the clock, so it needs one.
pub(super) fn settime(args: &[String]) -> Result<String, CliError> {
    if args.is_empty() {
        return Ok(format!(
            "Current time: {}",
            clock::now().format(clock::HEADER_TIME_FORMAT)
        ));
    }
    Err(invalid(
        "settime needs the running gateway (it asks the supervisor to set the clock).",
    ))
}

/// Checks a `settime` request against the committed configuration and
/// parses its time (the appliance's zone): Unix nanoseconds.
pub fn parse_settime(committed: &Config, args: &[String]) -> Result<i128, CliError> {
    if committed.ntp.enabled {
        return Err(invalid(
            "The time cannot be set while NTP is enabled: run 'ntpconfig disable' and commit first.",
        ));
    }
    let text = args.join(" ");
    let text = text.trim().trim_matches('"');
    let naive = ["%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(|| usage(SETTIME))?;
    let zone = clock::zone();
    // A time that a DST change skips is refused; one it repeats is the
    // first (earlier) of the two.
    let local = zone.from_local_datetime(&naive).earliest().ok_or_else(|| {
        invalid(format!(
            "{text} does not exist in {} (a daylight-saving change skips it).",
            zone.name()
        ))
    })?;
    let utc = local.with_timezone(&chrono::Utc);
    let secs = utc.timestamp();
    if !(2020..=2037).contains(&chrono::Datelike::year(&utc)) {
        return Err(invalid("The time must be between 2020 and 2037."));
    }
    Ok(i128::from(secs) * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn servers_are_added_enabled_and_deleted_as_staged_changes() {
        let f = Fixture::new();
        assert_eq!(
            f.run("ntpconfig").unwrap(),
            "NTP is disabled: the clock is set with settime.\nNo NTP servers are configured."
        );
        let err = f.run("ntpconfig enable").unwrap_err().to_string();
        assert!(err.contains("no server is configured"), "{err}");
        assert!(
            f.run("ntpconfig new ntp1.example.com")
                .unwrap()
                .contains("commit")
        );
        f.run("ntpconfig add 127.0.0.5:11123").unwrap();
        f.run("ntpconfig enable").unwrap();
        assert_eq!(
            f.run("ntpconfig print").unwrap(),
            "NTP is enabled (poll interval 1024 seconds).\nCurrently configured NTP servers:\n1. ntp1.example.com\n2. 127.0.0.5:11123"
        );
        f.run("ntpconfig delete 1").unwrap();
        let err = f
            .run("ntpconfig delete 127.0.0.5:11123")
            .unwrap_err()
            .to_string();
        assert!(err.contains("last NTP server"), "{err}");
        f.run("ntpconfig poll 64").unwrap();
        f.run("commit").unwrap();
        let applied = f.applied.lock().unwrap();
        let ntp = &applied.last().unwrap().ntp;
        assert!(ntp.enabled);
        assert_eq!(ntp.servers, ["127.0.0.5:11123"]);
        assert_eq!(ntp.poll_secs, 64);
    }

    #[test]
    fn bad_servers_duplicates_and_polls_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.run("ntpconfig new ntp1.example.com").unwrap();
        f.run("commit").unwrap();
        f.assert_refused(&[
            "ntpconfig new not_a_host!",
            "ntpconfig new NTP1.example.com",
            "ntpconfig new host:0",
            "ntpconfig delete 2",
            "ntpconfig disable",
            "ntpconfig poll 10",
            "ntpconfig frobnicate",
        ]);
    }

    #[test]
    fn settime_takes_the_asyncos_form_and_the_iso_form_and_is_refused_while_ntp_is_on() {
        let mut cfg = Fixture::new().working();
        // 2026-12-06 17:30:00 UTC (the test process's zone is UTC).
        let want = 1_796_578_200i128 * 1_000_000_000;
        assert_eq!(
            parse_settime(&cfg, &words("12/06/2026 17:30:00")).unwrap(),
            want
        );
        assert_eq!(
            parse_settime(&cfg, &words("\"2026-12-06 17:30:00\"")).unwrap(),
            want
        );
        assert!(matches!(
            parse_settime(&cfg, &words("tomorrow")),
            Err(CliError::Usage(_))
        ));
        let err = parse_settime(&cfg, &words("1999-01-01 00:00:00")).unwrap_err();
        assert!(err.to_string().contains("between 2020 and 2037"), "{err}");
        cfg.ntp.enabled = true;
        cfg.ntp.servers.push("192.0.2.1".into());
        let err = parse_settime(&cfg, &words("12/06/2026 17:30:00")).unwrap_err();
        assert!(err.to_string().contains("while NTP is enabled"), "{err}");
    }
}
