//! Monitor: System Status, Delivery Status (`tophosts`, `hoststatus`),
//! Work Queue and Quarantines. Message Tracking and Reports have their
//! own modules ([`super::tracking`], [`super::reports`]).
//!
//! Every page is the answer of the catalog command the CLI runs, drawn as
//! tables (the command's text stays one click away, as printed); the
//! Quarantines' Release, Delete and Delay are `quarantine
//! release|delete MID` and `quarantine delay MID PERIOD`.

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::web::{Admin, Change, State, layout};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/monitor/status", get(status))
        .route("/monitor/delivery", get(delivery))
        .route("/monitor/delivery/host/{host}", get(host))
        .route("/monitor/workqueue", get(workqueue))
        .route("/monitor/quarantines", get(quarantines))
        .route("/monitor/quarantines/{mid}", get(quarantine_message))
        .route("/monitor/quarantines/{mid}/release", post(release))
        .route("/monitor/quarantines/{mid}/delete", post(delete))
        .route("/monitor/quarantines/{mid}/delay", post(delay))
}

/// One line of a command's text: `Key: value`, or columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Pair(String, String),
    Cells(Vec<String>),
}

/// A block of a command's text: its title (`Listeners:`) and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

/// Splits a status-like answer into sections: a blank line or a title
/// line (`Queue:`, unindented, ending with a colon) starts one; `Key:
/// value` lines are pairs, others columns (two spaces or more apart).
pub fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut current = Section::default();
    let flush = |current: &mut Section, out: &mut Vec<Section>| {
        if !current.rows.is_empty() || current.title.is_some() {
            out.push(std::mem::take(current));
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut current, &mut out);
            continue;
        }
        if !line.starts_with(' ') && trimmed.ends_with(':') {
            flush(&mut current, &mut out);
            current.title = Some(trimmed.trim_end_matches(':').to_string());
            continue;
        }
        let row = match trimmed.split_once(": ") {
            Some((k, v)) if !k.contains("  ") => Row::Pair(k.to_string(), v.trim().to_string()),
            _ => Row::Cells(columns(trimmed)),
        };
        current.rows.push(row);
    }
    flush(&mut current, &mut out);
    out
}

/// Columns of a fixed-width line (two spaces or more between them).
fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Sections as tables, then the text as the command printed it.
pub fn render_sections(id: &str, text: &str) -> Markup {
    html! {
        div id=(id) {
            @for s in sections(text) {
                @if let Some(t) = &s.title { h2 { (t) } }
                table.grid {
                    @for row in &s.rows {
                        tr {
                            @match row {
                                Row::Pair(k, v) => { th { (k) } (cell(v)) }
                                Row::Cells(cells) => { @for c in cells { (cell(c)) } }
                            }
                        }
                    }
                }
            }
        }
        (raw(text))
    }
}

/// A number as the commands print it: digits, maybe grouped with commas,
/// maybe with a decimal part or a percent sign (`104,163`, `0.25`, `3%`).
fn is_number(text: &str) -> bool {
    let t = text.strip_suffix('%').unwrap_or(text);
    t.starts_with(|c: char| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
}

/// A table cell; numbers right-aligned (`td.num`) so their digits line up.
fn cell(text: &str) -> Markup {
    html! {
        @if is_number(text) { td.num { (text) } } @else { td { (text) } }
    }
}

/// The command's text, folded.
fn raw(text: &str) -> Markup {
    html! { details.raw { summary { "Raw text" } (layout::output(text)) } }
}

async fn status(admin: Admin) -> Response {
    let text = admin.run(&["status"]).await.unwrap_or_else(|e| e);
    admin.page("System Status", render_sections("status", &text))
}

/// One row of `tophosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    pub host: String,
    /// Marked `*`: down at the last delivery attempt.
    pub down: bool,
    /// Active Recip., Conn. Out, Deliv. Recip., Soft Bounced, Hard Bounced.
    pub counts: [String; 5],
}

/// The host rows of `tophosts` (they start with their rank).
pub fn tophosts_rows(text: &str) -> Vec<HostRow> {
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.len() != 7 || t[0].parse::<u32>().is_err() {
                return None;
            }
            let (down, host) = match t[1].strip_prefix('*') {
                Some(h) => (true, h),
                None => (false, t[1]),
            };
            Some(HostRow {
                host: host.to_string(),
                down,
                counts: [t[2], t[3], t[4], t[5], t[6]].map(str::to_string),
            })
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct SortBy {
    sort: Option<String>,
}

const SORTS: [(&str, &str); 5] = [
    ("active", "Active Recip."),
    ("conn", "Conn. Out"),
    ("deliv", "Deliv. Recip."),
    ("soft", "Soft Bounced"),
    ("hard", "Hard Bounced"),
];

async fn delivery(admin: Admin, Query(q): Query<SortBy>) -> Response {
    let sort = q
        .sort
        .filter(|s| SORTS.iter().any(|(k, _)| k == s))
        .unwrap_or_else(|| "active".into());
    let text = admin.run(&["tophosts", &sort]).await.unwrap_or_else(|e| e);
    let rows = tophosts_rows(&text);
    let body = html! {
        p.muted { "Hosts marked with '*' were down as of the last delivery attempt. Sorted by " (SORTS.iter().find(|(k, _)| *k == sort).map_or("", |(_, l)| *l)) "." }
        table.grid id="tophosts" {
            tr {
                th { "#" } th { "Recipient Host" }
                @for (key, label) in SORTS {
                    th { a href=(format!("/monitor/delivery?sort={key}")) { (label) } }
                }
            }
            @if rows.is_empty() {
                tr { td colspan="7" { "No deliveries yet." } }
            }
            @for (i, r) in rows.iter().enumerate() {
                tr id=(format!("host-{}", r.host)) {
                    td.num { (i + 1) }
                    td {
                        @if r.down { "*" }
                        a href=(format!("/monitor/delivery/host/{}", r.host)) { (r.host) }
                    }
                    @for c in &r.counts { td.num { (c) } }
                }
            }
        }
        (raw(&text))
    };
    admin.page("Delivery Status", body)
}

async fn host(admin: Admin, Path(host): Path<String>) -> Response {
    let text = admin
        .run(&["hoststatus", &host])
        .await
        .unwrap_or_else(|e| e);
    let body = html! {
        (render_sections("hoststatus", &text))
        p { a href="/monitor/delivery" { "Back to Delivery Status" } }
    };
    admin.page(&format!("Delivery Status: {host}"), body)
}

async fn workqueue(admin: Admin) -> Response {
    let text = admin
        .run(&["workqueue", "status"])
        .await
        .unwrap_or_else(|e| e);
    admin.page("Work Queue", render_sections("workqueue", &text))
}

/// One held message of `quarantine list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub mid: u64,
    pub quarantine: String,
    /// When it leaves by itself (`never` when its quarantine is gone).
    pub exit: String,
    pub size: String,
    pub sender: String,
    pub subject: String,
}

/// The held messages of `quarantine list` (`MID QUARANTINE EXIT SIZE
/// <sender> subject`, the exit a date, time and zone or `never`), and the
/// per-quarantine lines before them.
pub fn quarantine_list(text: &str) -> (Vec<Vec<String>>, Vec<HeldRow>) {
    let mut quarantines = Vec::new();
    let mut held = Vec::new();
    let mut in_held = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("MID ") {
            in_held = true;
            continue;
        }
        if t.is_empty() || t.starts_with("Quarantine ") || t.starts_with("No messages") {
            continue;
        }
        if !in_held {
            quarantines.push(t.split_whitespace().map(str::to_string).collect());
            continue;
        }
        let words: Vec<&str> = t.splitn(7, char::is_whitespace).collect();
        let Some(mid) = words.first().and_then(|m| m.parse().ok()) else {
            continue;
        };
        // The sender is the <...> after the size; the subject follows.
        let Some(rest) = t.find(" <").map(|i| &t[i + 1..]) else {
            continue;
        };
        let (sender, subject) = match rest.find("> ") {
            Some(i) => (&rest[1..i], rest[i + 2..].to_string()),
            None => (
                rest.trim_start_matches('<').trim_end_matches('>'),
                String::new(),
            ),
        };
        let head: Vec<&str> = t[..t.len() - rest.len()].split_whitespace().collect();
        held.push(HeldRow {
            mid,
            quarantine: head.get(1).copied().unwrap_or("").to_string(),
            exit: head
                .get(2..head.len().saturating_sub(1))
                .map(|s| s.join(" "))
                .unwrap_or_default(),
            size: head.last().copied().unwrap_or("").to_string(),
            sender: sender.to_string(),
            subject,
        });
    }
    (quarantines, held)
}

async fn quarantines(admin: Admin) -> Response {
    let text = admin
        .run(&["quarantine", "list"])
        .await
        .unwrap_or_else(|e| e);
    let (quarantines, held) = quarantine_list(&text);
    let body = html! {
        table.grid id="quarantines" {
            tr { th { "Quarantine" } th { "Messages" } th { "Size" } th { "Maximum" } th { "% Full" } th { "Default Action" } }
            @for q in &quarantines { tr { @for c in q { (cell(c)) } } }
        }
        h2 { "Messages" }
        table.grid id="held" {
            tr { th { "MID" } th { "Quarantine" } th { "Scheduled Exit" } th { "Size" } th { "Sender" } th { "Subject" } }
            @if held.is_empty() { tr { td colspan="6" { "No messages are held." } } }
            @for m in &held {
                tr id=(format!("held-{}", m.mid)) {
                    td { a href=(format!("/monitor/quarantines/{}", m.mid)) { (m.mid) } }
                    td { (m.quarantine) } td { (m.exit) } td.num { (m.size) }
                    td { (m.sender) } td { (m.subject) }
                }
            }
        }
        (raw(&text))
    };
    admin.page("Quarantines", body)
}

async fn quarantine_message(admin: Admin, Path(mid): Path<u64>) -> Response {
    let mid = mid.to_string();
    let (ok, text) = match admin.run(&["quarantine", "show", &mid]).await {
        Ok(t) => (true, t),
        Err(e) => (false, e),
    };
    let (summary, headers) = match text.split_once("\nHeaders:\n") {
        Some((s, h)) => (s, Some(h)),
        None => (text.as_str(), None),
    };
    let body = html! {
        (render_sections("message", summary))
        @if let Some(h) = headers { h2 { "Headers" } pre.output id="headers" { (h) } }
        @if ok && admin.can_change() {
            form.inline method="post" action=(format!("/monitor/quarantines/{mid}/release")) {
                (admin.csrf())
                button.primary type="submit" id="release" { "Release" }
            }
            " "
            form.inline method="post" action=(format!("/monitor/quarantines/{mid}/delete")) {
                (admin.csrf())
                button.danger type="submit" id="delete" { "Delete" }
            }
            " "
            // AsyncOS's "Delay Scheduled Exit".
            form.inline method="post" action=(format!("/monitor/quarantines/{mid}/delay")) {
                (admin.csrf())
                label for="period" { "Delay scheduled exit by " }
                input type="text" id="period" name="period" size="6" placeholder="1d";
                " "
                button type="submit" id="delay" { "Delay" }
            }
        }
        p { a href="/monitor/quarantines" { "Back to Quarantines" } }
    };
    admin.page(&format!("Quarantined Message {mid}"), body)
}

async fn release(Path(mid): Path<u64>, change: Change) -> Response {
    let words = vec!["quarantine".into(), "release".into(), mid.to_string()];
    change
        .admin
        .change(words, None, "/monitor/quarantines")
        .await
}

async fn delete(Path(mid): Path<u64>, change: Change) -> Response {
    let words = vec!["quarantine".into(), "delete".into(), mid.to_string()];
    change
        .admin
        .change(words, None, "/monitor/quarantines")
        .await
}

/// `quarantine delay MID PERIOD` (the form's `period`: `30m`, `12h`, `2d`);
/// back on the message's page, which shows the new scheduled exit.
async fn delay(Path(mid): Path<u64>, change: Change) -> Response {
    let period = crate::web::fields::field(&change.fields, "period").unwrap_or("");
    let words = vec![
        "quarantine".into(),
        "delay".into(),
        mid.to_string(),
        period.to_string(),
    ];
    change
        .admin
        .change(words, None, &format!("/monitor/quarantines/{mid}"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_right_aligned_cells() {
        for n in ["0", "104,163", "0.25", "3%"] {
            assert!(is_number(n), "{n}");
            assert_eq!(cell(n).into_string(), format!("<td class=\"num\">{n}</td>"));
        }
        for t in [
            "",
            "IncomingMail",
            "127.0.0.1:25",
            "2 connection(s)",
            ",5",
            "12 s",
        ] {
            assert!(!is_number(t), "{t}");
        }
        assert_eq!(cell("Demo").into_string(), "<td>Demo</td>");
    }

    #[test]
    fn status_text_becomes_titled_sections_of_pairs_and_columns() {
        let text = "Status as of: Sun Dec 06 13:00:00 2026\nHost name: esa1\n\nQueue:\n  Messages in queue: 3\n\nListeners:\n  IncomingMail     127.0.0.1:25           2 connection(s)\n  Warning: no certificate\n";
        let s = sections(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].title, None);
        assert_eq!(s[0].rows[1], Row::Pair("Host name".into(), "esa1".into()));
        assert_eq!(s[1].title.as_deref(), Some("Queue"));
        assert_eq!(
            s[2].rows[0],
            Row::Cells(vec![
                "IncomingMail".into(),
                "127.0.0.1:25".into(),
                "2 connection(s)".into()
            ])
        );
        assert_eq!(
            s[2].rows[1],
            Row::Pair("Warning".into(), "no certificate".into())
        );
        let html = render_sections("status", "x: <b>").into_string();
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
    }

    #[test]
    fn tophosts_rows_keep_the_down_mark_and_the_counters() {
        let text = "Status as of: x\nHosts marked with '*' were down as of the last delivery attempt.\n\n#   Recipient Host                Active   Conn.    Deliv.     Soft     Hard\n#   Recipient Host                Recip.     Out    Recip.  Bounced  Bounced\n1   your_domain.com                    1       0   104,163        0        0\n2   *the.tdc.queue                     0       0         5        1        0\n";
        let rows = tophosts_rows(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].host, "your_domain.com");
        assert_eq!(rows[0].counts[2], "104,163");
        assert!(rows[1].down && rows[1].host == "the.tdc.queue");
    }

    #[test]
    fn quarantine_list_reads_quarantines_and_held_messages() {
        let text = "Quarantine            Messages        Size  Maximum  % Full  Default action\nPolicy                       1        1200     100M    0.0%  Release\n\n     MID  Quarantine  Scheduled exit             Size  From / Subject\n      17  Policy      2026-12-06 13:00:00 UTC   1200  <a@example.org> Hello there\n";
        let (qs, held) = quarantine_list(text);
        assert_eq!(
            qs,
            vec![vec!["Policy", "1", "1200", "100M", "0.0%", "Release"]]
        );
        assert_eq!(
            held,
            vec![HeldRow {
                mid: 17,
                quarantine: "Policy".into(),
                exit: "2026-12-06 13:00:00 UTC".into(),
                size: "1200".into(),
                sender: "a@example.org".into(),
                subject: "Hello there".into(),
            }]
        );
        assert!(
            quarantine_list("Quarantine  Messages\n\nNo messages are held.\n")
                .1
                .is_empty()
        );
    }
}
