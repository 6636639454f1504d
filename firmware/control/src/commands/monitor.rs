//! The cut-over monitoring commands' arguments and output, as AsyncOS
//! prints them: `rate`, `hostrate`, `topin`, `dnsstatus`. The daemon
//! (`daemon.rs`) takes the samples from the running gateway; this module
//! parses the arguments and lays the answers out, so both are tested
//! without a gateway.
//!
//! `rate` and `hostrate` repeat a line every INTERVAL seconds, as
//! AsyncOS's do until Ctrl-C; a batch command must end, so they print
//! COUNT lines, within [`MAX_WATCH_SECS`] in all (the control request
//! waits that long, on its own thread).

use breakwater_mail::dns::DnsStatsSnapshot;
use breakwater_types::clock;

pub use breakwater_control_proto::usage::{HOSTRATE as HOSTRATE_USAGE, RATE as RATE_USAGE};

/// AsyncOS's default seconds between two lines of `rate` and `hostrate`.
pub const DEFAULT_INTERVAL_SECS: u64 = 10;
/// The longest interval accepted.
pub const MAX_INTERVAL_SECS: u64 = 60;
/// Most lines one `rate` or `hostrate` prints.
pub const MAX_COUNT: u64 = 30;
/// The longest one `rate` or `hostrate` may watch (INTERVAL x COUNT).
pub const MAX_WATCH_SECS: u64 = 300;
/// Rows `topin` shows (the remote hosts with the most connections).
pub const TOPIN_ROWS: usize = 20;

/// How often and how many times to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub interval_secs: u64,
    pub count: u64,
}

/// `[INTERVAL [COUNT]]`, bounded.
pub fn parse_watch(args: &[String], usage: &str) -> Result<Watch, String> {
    let number = |s: &String, what: &str, max: u64| {
        s.parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("The {what} must be a number from 1 to {max}.\n{usage}"))
    };
    let watch = match args {
        [] => Watch {
            interval_secs: DEFAULT_INTERVAL_SECS,
            count: 1,
        },
        [i] => Watch {
            interval_secs: number(i, "interval", MAX_INTERVAL_SECS)?,
            count: 1,
        },
        [i, c] => Watch {
            interval_secs: number(i, "interval", MAX_INTERVAL_SECS)?,
            count: number(c, "count", MAX_COUNT)?,
        },
        _ => return Err(usage.to_string()),
    };
    if watch.interval_secs * watch.count > MAX_WATCH_SECS {
        return Err(format!(
            "INTERVAL x COUNT may be at most {MAX_WATCH_SECS} seconds.\n{usage}"
        ));
    }
    Ok(watch)
}

/// One `rate` sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSample {
    pub connections_in: u64,
    pub connections_out: u64,
    /// Since the daemon started.
    pub recipients_received: u64,
    pub recipients_completed: u64,
    pub queue_bytes: u64,
}

/// `rate`'s two header lines.
pub fn rate_header() -> String {
    format!(
        "{:<10}{:>12}{:>12}{:>10}{:>12}{:>10}{:>10}\n{:<10}{:>6}{:>6}{:>12}{:>10}{:>12}{:>10}{:>10}\n",
        "Time",
        "Connections",
        "Recipients",
        "",
        "Recipients",
        "",
        "Queue",
        "",
        "In",
        "Out",
        "Received",
        "Delta",
        "Completed",
        "Delta",
        "K-Bytes",
    )
}

/// One line of `rate`: `now` against the sample one interval before.
pub fn rate_line(time: &str, before: &RateSample, now: &RateSample) -> String {
    format!(
        "{:<10}{:>6}{:>6}{:>12}{:>10}{:>12}{:>10}{:>10}\n",
        time,
        now.connections_in,
        now.connections_out,
        now.recipients_received,
        now.recipients_received
            .saturating_sub(before.recipients_received),
        now.recipients_completed,
        now.recipients_completed
            .saturating_sub(before.recipients_completed),
        now.queue_bytes / 1024,
    )
}

/// One `hostrate` sample (the work queue's `HostSample`, in words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRateSample {
    pub status: &'static str,
    pub connections_out: u32,
    pub active_recipients: u64,
    pub delivered: u64,
    pub hard_bounced: u64,
    pub soft_bounced: u64,
}

/// `hostrate`'s header, AsyncOS's abbreviations.
pub fn hostrate_header(host: &str) -> String {
    format!(
        "Host: {host}\n{:<10}{:<8}{:>10}{:>9}{:>9}{:>8}{:>8}{:>10}{:>10}\n{:<10}{:<8}{:>10}{:>9}{:>9}{:>8}{:>8}{:>10}{:>10}\n",
        "Time",
        "Host",
        "CrtCncOut",
        "ActvRcp",
        "ActvRcp",
        "DlvRcp",
        "DlvRcp",
        "HrdBncRcp",
        "SftBncEvt",
        "",
        "Status",
        "",
        "",
        "Delta",
        "",
        "Delta",
        "Delta",
        "Delta",
    )
}

/// One line of `hostrate`.
pub fn hostrate_line(time: &str, before: &HostRateSample, now: &HostRateSample) -> String {
    let delta = |a: u64, b: u64| i128::from(a) - i128::from(b);
    format!(
        "{:<10}{:<8}{:>10}{:>9}{:>9}{:>8}{:>8}{:>10}{:>10}\n",
        time,
        now.status,
        now.connections_out,
        now.active_recipients,
        delta(now.active_recipients, before.active_recipients),
        now.delivered,
        delta(now.delivered, before.delivered),
        delta(now.hard_bounced, before.hard_bounced),
        delta(now.soft_bounced, before.soft_bounced),
    )
}

/// A line's time: `HH:MM:SS` in the appliance's zone.
pub fn clock_time() -> String {
    clock::now().format("%H:%M:%S").to_string()
}

/// AsyncOS's first line of the status commands, in the appliance's zone.
pub fn status_as_of() -> String {
    format!(
        "Status as of:                {}",
        clock::now().format(clock::HEADER_TIME_FORMAT)
    )
}

/// One `topin` row: the remote host, as reverse DNS confirmed it (else
/// its address), its address, the listener, its live connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopinRow {
    pub hostname: Option<String>,
    pub address: std::net::IpAddr,
    pub listener: String,
    pub connections: u32,
}

/// Orders `rows` as `topin` shows them (most connections first) and
/// keeps [`TOPIN_ROWS`].
pub fn topin_order(rows: &mut Vec<TopinRow>) {
    rows.sort_by(|a, b| {
        b.connections
            .cmp(&a.connections)
            .then_with(|| a.address.cmp(&b.address))
            .then_with(|| a.listener.cmp(&b.listener))
    });
    rows.truncate(TOPIN_ROWS);
}

/// `topin`: a snapshot of the remote hosts connected to the listeners,
/// one row per address and listener.
pub fn topin(rows: &[TopinRow]) -> String {
    let mut out = format!(
        "{}\n{:<3}{:<35}{:<40}{:<16}{:>8}\n",
        status_as_of(),
        "#",
        "Remote hostname",
        "Remote IP addr.",
        "listener",
        "Conn. In"
    );
    if rows.is_empty() {
        out.push_str("No incoming connections.\n");
    }
    for (i, r) in rows.iter().enumerate() {
        let address = r.address.to_string();
        out.push_str(&format!(
            "{:<3}{:<35}{:<40}{:<16}{:>8}\n",
            i + 1,
            r.hostname.as_deref().unwrap_or(&address),
            address,
            r.listener,
            r.connections
        ));
    }
    out
}

/// `dnsstatus`: the lookups since the daemon started, their latency, and
/// the cache flushes.
pub fn dnsstatus(s: &DnsStatsSnapshot, servers: &[std::net::SocketAddr]) -> String {
    let ms = |us: u64| format!("{}.{:03} ms", us / 1000, us % 1000);
    let average = s.latency_us_total.checked_div(s.requests).unwrap_or(0);
    let servers = if servers.is_empty() {
        "the host's resolver configuration (dnsconfig lists none)".to_string()
    } else {
        servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let flush = s.last_flush.map_or_else(
        || "never".to_string(),
        |t| clock::local(t).format(clock::LOG_TIME_FORMAT).to_string(),
    );
    format!(
        "{}\nName servers:                {servers}\n\nCounters:                                    Uptime\n  DNS Requests                     {:>16}\n  Answered                         {:>16}\n  No Such Name or Record           {:>16}\n  Failures (timeout, SERVFAIL)     {:>16}\n  Cache Flushes                    {:>16}\n\nLatency:\n  Average                          {:>16}\n  Slowest                          {:>16}\n\nLast cache flush:            {flush}\n",
        status_as_of(),
        s.requests,
        s.answered,
        s.no_records,
        s.failures,
        s.flushes,
        ms(average),
        ms(s.latency_us_max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn watch_arguments_are_bounded() {
        assert_eq!(
            parse_watch(&[], RATE_USAGE).unwrap(),
            Watch {
                interval_secs: 10,
                count: 1
            }
        );
        assert_eq!(
            parse_watch(&args("1 3"), RATE_USAGE).unwrap(),
            Watch {
                interval_secs: 1,
                count: 3
            }
        );
        for bad in ["0", "61", "x", "1 0", "1 31", "60 6", "1 2 3"] {
            assert!(parse_watch(&args(bad), RATE_USAGE).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_lines_show_totals_and_deltas_under_asyncos_headings() {
        let header = rate_header();
        let lines: Vec<&str> = header.lines().collect();
        assert!(lines[0].starts_with("Time") && lines[0].contains("Connections"));
        assert!(lines[0].contains("Recipients") && lines[0].ends_with("Queue"));
        for word in ["In", "Out", "Received", "Delta", "Completed", "K-Bytes"] {
            assert!(lines[1].contains(word), "{word}");
        }
        let before = RateSample {
            recipients_received: 5,
            recipients_completed: 4,
            ..RateSample::default()
        };
        let now = RateSample {
            connections_in: 2,
            connections_out: 1,
            recipients_received: 8,
            recipients_completed: 4,
            queue_bytes: 4096,
        };
        let line = rate_line("17:25:04", &before, &now);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words, ["17:25:04", "2", "1", "8", "3", "4", "0", "4"]);
        // Columns line up under the headings.
        assert_eq!(line.trim_end().len(), lines[1].len());
    }

    #[test]
    fn hostrate_lines_show_deltas() {
        let before = HostRateSample {
            status: "up",
            active_recipients: 3,
            delivered: 1,
            ..HostRateSample::default()
        };
        let now = HostRateSample {
            status: "up",
            connections_out: 1,
            active_recipients: 1,
            delivered: 3,
            hard_bounced: 1,
            soft_bounced: 0,
        };
        let words: Vec<String> = hostrate_line("10:00:00", &before, &now)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(
            words,
            ["10:00:00", "up", "1", "1", "-2", "3", "2", "1", "0"]
        );
        assert!(hostrate_header("example.com").starts_with("Host: example.com\nTime"));
    }

    #[test]
    fn topin_lists_the_busiest_hosts_first_and_falls_back_to_the_address() {
        let ip = |s: &str| s.parse().unwrap();
        let mut rows = vec![
            TopinRow {
                hostname: None,
                address: ip("192.0.2.7"),
                listener: "IncomingMail".into(),
                connections: 1,
            },
            TopinRow {
                hostname: Some("mail.example.org".into()),
                address: ip("192.0.2.9"),
                listener: "IncomingMail".into(),
                connections: 3,
            },
        ];
        topin_order(&mut rows);
        let out = topin(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("Status as of:"));
        assert!(lines[1].contains("Remote hostname") && lines[1].ends_with("Conn. In"));
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            first,
            ["1", "mail.example.org", "192.0.2.9", "IncomingMail", "3"]
        );
        let second: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(second, ["2", "192.0.2.7", "192.0.2.7", "IncomingMail", "1"]);
        assert!(topin(&[]).contains("No incoming connections."));
    }

    #[test]
    fn dnsstatus_shows_counters_latency_and_the_last_flush() {
        let s = DnsStatsSnapshot {
            requests: 4,
            answered: 2,
            no_records: 1,
            failures: 1,
            latency_us_total: 10_000,
            latency_us_max: 7_500,
            flushes: 0,
            last_flush: None,
        };
        let out = dnsstatus(&s, &["127.0.0.1:53".parse().unwrap()]);
        for expected in [
            "Name servers:                127.0.0.1:53",
            "Last cache flush:            never",
        ] {
            assert!(out.contains(expected), "{expected:?} in\n{out}");
        }
        let row = |name: &str| {
            out.lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in\n{out}"))
                .to_string()
        };
        assert!(row("DNS Requests").ends_with(" 4"));
        assert!(row("Failures").ends_with(" 1"));
        assert!(row("Average").ends_with(" 2.500 ms"));
        assert!(row("Slowest").ends_with(" 7.500 ms"));
    }
}
