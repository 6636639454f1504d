//! The rows of `tophosts`' table, read back from its text: the REST API
//! answers them as JSON, and `tophosts --cluster` sums them over the
//! members of a cluster. The table's layout is the work queue's
//! (`breakwater_mail::workqueue::operator::tophosts`, seed 004).

use serde::{Deserialize, Serialize};

/// One row of `tophosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRow {
    pub host: String,
    /// Down at the last delivery attempt (`*`).
    pub down: bool,
    pub active_recipients: u64,
    pub connections_out: u64,
    pub delivered_recipients: u64,
    pub soft_bounced: u64,
    pub hard_bounced: u64,
}

/// `tophosts`' two column header lines (seed 004), newline-terminated:
/// one table layout for the machine's answer and the cluster's sum.
pub fn header() -> String {
    let line = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!(
            "{:<4}{:<28}{a:>8}{b:>8}{c:>10}{d:>9}{e:>9}\n",
            "#", "Recipient Host"
        )
    };
    line("Active", "Conn.", "Deliv.", "Soft", "Hard")
        + &line("Recip.", "Out", "Recip.", "Bounced", "Bounced")
}

/// One row of the table: rank, host (with `*` when down) and the five
/// counts, already formatted.
pub fn row(rank: usize, label: &str, cells: [String; 5]) -> String {
    let [a, b, c, d, e] = cells;
    format!("{rank:<4}{label:<28}{a:>8}{b:>8}{c:>10}{d:>9}{e:>9}\n")
}

/// The rows below `tophosts`' two `#  Recipient Host` header lines;
/// `None` when the table is not there or a row does not parse.
pub fn tophosts_rows(text: &str) -> Option<Vec<HostRow>> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with('#') && l.contains("Recipient Host"))?;
    lines[header + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [rank, host, n @ ..] = f.as_slice() else {
                return None;
            };
            rank.parse::<u64>().ok()?;
            let n: Vec<u64> = n
                .iter()
                .map(|v| v.replace(',', "").parse().ok())
                .collect::<Option<_>>()?;
            let [active, conn, deliv, soft, hard] = n.as_slice() else {
                return None;
            };
            let (down, host) = match host.strip_prefix('*') {
                Some(h) => (true, h),
                None => (false, *host),
            };
            Some(HostRow {
                host: host.to_string(),
                down,
                active_recipients: *active,
                connections_out: *conn,
                delivered_recipients: *deliv,
                soft_bounced: *soft,
                hard_bounced: *hard,
            })
        })
        .collect()
}
