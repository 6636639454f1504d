//! Monitor > Message Tracking: AsyncOS's search form (Envelope Sender,
//! Envelope Recipient, Subject, MID, Message-ID header, Sender IP, and
//! Received: Last Day / Last 7 Days / Custom range), its results with the
//! seeds' columns (Message Status, MID, Time, Policy Match, Sender Group,
//! Sender IP, SBRS Score, then the subject), and **More Details** for one
//! message: Processing Details in the tracking wording, Envelope Header
//! and Summary, Sending Host Summary, and the raw mail_logs lines.
//!
//! A search is the control plane's `findevent ... --json` (the same
//! search as the CLI's, in the administrator's session and role); the
//! page only turns the form into its words and draws the answer. Searching
//! changes nothing, so the form is a GET (a search can be bookmarked).

use crate::web::fields::field;
use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use crate::web::{Admin, State};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/monitor/tracking", get(search))
        .route("/monitor/tracking/{mid}", get(details))
}

/// `findevent --json`'s answer.
#[derive(Debug, Deserialize)]
pub struct Found {
    pub found: usize,
    pub shown: usize,
    #[serde(default)]
    pub lines_omitted: usize,
    pub messages: Vec<Tracked>,
}

/// One message of [`Found`].
#[derive(Debug, Deserialize)]
pub struct Tracked {
    pub mid: u64,
    pub time: Option<String>,
    pub icid: Option<u64>,
    #[serde(default)]
    pub dcids: Vec<u64>,
    pub sender_group: Option<String>,
    pub sender_ip: Option<String>,
    pub tls_protocol: Option<String>,
    pub tls_cipher: Option<String>,
    pub status: String,
    /// AsyncOS's Last State (`Delivered`, `Dropped By Message Filters`...).
    #[serde(default)]
    pub last_state: String,
    /// `Incoming` / `Outgoing`.
    #[serde(default)]
    pub direction: Option<String>,
    /// This MID and those it was split into.
    #[serde(default)]
    pub mids: Vec<u64>,
    #[serde(default)]
    pub policy_match: Option<String>,
    #[serde(default)]
    pub reverse_dns: Option<String>,
    #[serde(default)]
    pub reverse_dns_verified: bool,
    #[serde(default)]
    pub sbrs_score: Option<String>,
    pub threat_defense: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    #[serde(default)]
    pub lines: Vec<String>,
    /// Processing Details, in the tracking wording.
    #[serde(default)]
    pub details: Vec<Detail>,
}

/// One line of Processing Details.
#[derive(Debug, Deserialize)]
pub struct Detail {
    pub date: String,
    pub time: String,
    pub text: String,
}

impl Tracked {
    /// "186371, 186372": the seeds' MID column (the MID alone when it was
    /// not split).
    fn mid_list(&self) -> String {
        if self.mids.is_empty() {
            return self.mid.to_string();
        }
        self.mids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The seeds' "Outgoing Policy Match" / "Policy Match" value.
    fn policy(&self) -> &str {
        self.policy_match.as_deref().unwrap_or("N/A")
    }

    fn sbrs(&self) -> &str {
        self.sbrs_score.as_deref().unwrap_or("None")
    }

    /// `host (verified)`, as the Sending Host Summary shows it.
    fn rdns(&self) -> String {
        match &self.reverse_dns {
            Some(h) if self.reverse_dns_verified => format!("{h} (verified)"),
            Some(h) if h == "unknown" => h.clone(),
            Some(h) => format!("{h} (not verified)"),
            None => "-".into(),
        }
    }
}

/// The form's fields: (name, label). The names are the Chromium tests'
/// element ids too.
const FIELDS: [(&str, &str); 6] = [
    ("sender", "Envelope Sender"),
    ("recipient", "Envelope Recipient"),
    ("subject", "Subject"),
    ("mid", "Message ID (MID)"),
    ("message_id", "Message-ID Header"),
    ("sender_ip", "Sender IP"),
];

/// The words of `findevent` for a submitted form; `None` when nothing
/// was searched yet.
pub fn search_words(q: &[(String, String)]) -> Result<Option<Vec<String>>, String> {
    if field(q, "search").is_none() && FIELDS.iter().all(|(f, _)| field(q, f).is_none()) {
        return Ok(None);
    }
    let mut words = vec!["findevent".to_string(), "--json".to_string()];
    let options = [
        ("sender", "--from"),
        ("recipient", "--to"),
        ("subject", "--subject"),
        ("mid", "--mid"),
        ("message_id", "--message-id"),
        ("sender_ip", "--ip"),
    ];
    for (name, option) in options {
        if let Some(v) = field(q, name) {
            words.push(option.into());
            words.push(v.into());
        }
    }
    match field(q, "received").unwrap_or("day") {
        "day" => words.extend(["--since".into(), "24h".into()]),
        "week" => words.extend(["--since".into(), "7d".into()]),
        "custom" => {
            if let Some(v) = field(q, "since") {
                words.extend(["--since".into(), v.into()]);
            }
            if let Some(v) = field(q, "until") {
                words.extend(["--until".into(), v.into()]);
            }
        }
        other => return Err(format!("'{other}' is not a time range.")),
    }
    if words.len() == 2 {
        return Err("Enter at least one search criterion or a time range.".into());
    }
    Ok(Some(words))
}

/// The seeds' Message Status: "Dropped By Message Filters", then which
/// filter ("Dropped by filter 'office365_outbound'").
pub fn status_lines(status: &str) -> Vec<String> {
    if let Some(name) = status
        .strip_prefix("Dropped By Message Filters ('")
        .and_then(|r| r.strip_suffix("')"))
    {
        return vec![
            "Dropped By Message Filters".into(),
            format!("Dropped by filter '{name}'"),
        ];
    }
    vec![status.to_string()]
}

fn tls(m: &Tracked) -> String {
    match (&m.tls_protocol, &m.tls_cipher) {
        (Some(p), Some(c)) => format!("{p} {c}"),
        _ => "None".into(),
    }
}

fn or_dash(v: Option<&String>) -> &str {
    v.map_or("-", String::as_str)
}

fn form(q: &[(String, String)]) -> Markup {
    let value = |name: &str| field(q, name).unwrap_or("").to_string();
    let range = field(q, "received").unwrap_or("day");
    html! {
        form method="get" action="/monitor/tracking" id="tracking" {
            table.form {
                @for (name, label) in FIELDS {
                    tr {
                        th { label for=(name) { (label) ":" } }
                        td { input type="text" id=(name) name=(name) value=(value(name)) size="40"; }
                    }
                }
                tr {
                    th { "Received:" }
                    td {
                        label { input type="radio" id="received-day" name="received" value="day" checked[range == "day"]; " Last Day" } " "
                        label { input type="radio" id="received-week" name="received" value="week" checked[range == "week"]; " Last 7 Days" } " "
                        label { input type="radio" id="received-custom" name="received" value="custom" checked[range == "custom"]; " Custom range" }
                        br;
                        label for="since" { "From: " }
                        input type="datetime-local" id="since" name="since" step="1" value=(value("since"));
                        label for="until" { " To: " }
                        input type="datetime-local" id="until" name="until" step="1" value=(value("until"));
                    }
                }
                tr { th {} td { button.primary type="submit" id="search" name="search" value="1" { "Search" } } }
            }
        }
    }
}

async fn search(admin: Admin, Query(q): Query<Vec<(String, String)>>) -> Response {
    let results = match search_words(&q) {
        Ok(None) => html! {},
        Err(e) => html! { div.flash.error id="search-error" { (e) } },
        Ok(Some(words)) => match admin.run_words(words, None).await {
            Err(e) => html! { div.flash.error id="search-error" { (e) } },
            Ok(json) => match serde_json::from_str::<Found>(&json) {
                Err(e) => html! { div.flash.error id="search-error" { "Unexpected answer: " (e) } },
                Ok(found) => results(&found),
            },
        },
    };
    let body = html! { (form(&q)) (results) };
    admin.page("Message Tracking", body)
}

fn results(found: &Found) -> Markup {
    html! {
        h2 id="result-count" {
            "Results: " (found.found) @if found.found == 1 { " message" } @else { " messages" }
            @if found.shown < found.found { " (the newest " (found.shown) " shown; narrow the search)" }
        }
        @if found.messages.is_empty() {
            p id="no-results" { "No messages match." }
        } @else {
            table.grid id="results" {
                tr {
                    th { "Message Status" } th { "MID" } th { "Time" } th { "Policy Match" }
                    th { "Sender Group" } th { "Sender IP" } th { "SBRS Score" }
                }
                @for m in &found.messages {
                    tr.summary id=(format!("mid-{}", m.mid)) {
                        td.status { @for (i, l) in status_lines(&m.status).iter().enumerate() { @if i > 0 { br; } (l) } }
                        td.mid { (m.mid_list()) }
                        td.time { (or_dash(m.time.as_ref())) }
                        td.policy { (m.policy()) }
                        td.group { (or_dash(m.sender_group.as_ref())) }
                        td.ip { (or_dash(m.sender_ip.as_ref())) }
                        td.sbrs { (m.sbrs()) }
                    }
                    tr.detail {
                        td colspan="7" {
                            "Subject: " b { (or_dash(m.subject.as_ref())) }
                            " | Sender: " b { (or_dash(m.from.as_ref())) }
                            " | Recipient: " b { (if m.to.is_empty() { "-".to_string() } else { m.to.join(", ") }) }
                            @if let Some(t) = &m.threat_defense { br; span.tdc { (t) } }
                            " | " a id=(format!("details-{}", m.mid)) href=(format!("/monitor/tracking/{}", m.mid)) { "More Details" }
                        }
                    }
                }
            }
        }
    }
}

/// A log line as (time, event): `Tue Nov 24 01:06:39 2026 Info: text`.
pub fn split_event(line: &str) -> (&str, &str) {
    match (
        line.get(..24),
        line.get(24..).and_then(|r| r.split_once(": ")),
    ) {
        (Some(time), Some((_, text))) => (time, text),
        _ => ("", line),
    }
}

async fn details(admin: Admin, Path(mid): Path<u64>) -> Response {
    let mid_text = mid.to_string();
    let answer = admin
        .run(&["findevent", "--mid", &mid_text, "--json"])
        .await
        .and_then(|j| serde_json::from_str::<Found>(&j).map_err(|e| e.to_string()));
    let body = match answer {
        Err(e) => html! { div.flash.error { (e) } },
        Ok(found) => match found.messages.first() {
            None => html! { p id="no-results" { "MID " (mid) " is not in mail_logs." } },
            Some(m) => more_details(m, found.lines_omitted),
        },
    };
    let body = html! { (body) p { a href="/monitor/tracking" { "New search" } } };
    admin.page(&format!("Message Tracking: MID {mid}"), body)
}

/// More Details of one message, in the seeds' order.
fn more_details(m: &Tracked, lines_omitted: usize) -> Markup {
    html! {
        @if let Some(id) = &m.message_id { p id="message-id-header" { "Message ID Header " b { "<" (id) ">" } } }
        h2 { "Processing Details" }
        table.grid id="details" {
            @for (i, d) in m.details.iter().enumerate() {
                @if i == 0 || m.details[i - 1].date != d.date {
                    tr.date { th colspan="2" { (d.date) } }
                }
                tr { td.time { (d.time) } td { (d.text) } }
            }
        }
        h2 { "Envelope Header and Summary" }
        table.grid id="summary" {
            tr { th { "Last State" } td id="last-state" { @for (i, l) in status_lines(&m.status).iter().enumerate() { @if i > 0 { br; } (l) } } }
            tr { th { "Message" } td id="direction" { (or_dash(m.direction.as_ref())) } }
            tr { th { "MID" } td { (m.mid_list()) } }
            tr { th { "Time" } td { (or_dash(m.time.as_ref())) } }
            tr { th { "Sender" } td { (or_dash(m.from.as_ref())) } }
            tr { th { "Recipient" } td { (m.to.join(", ")) } }
            tr { th { "Subject" } td { (or_dash(m.subject.as_ref())) } }
            tr { th { "Policy Match" } td { (m.policy()) } }
            @if let Some(t) = &m.threat_defense { tr { th { "Threat Defense" } td { (t) } } }
        }
        h2 { "Sending Host Summary" }
        table.grid id="host" {
            tr { th { "Reverse DNS hostname" } td id="rdns" { (m.rdns()) } }
            tr { th { "IP address" } td { (or_dash(m.sender_ip.as_ref())) } }
            tr { th { "SBRS Score" } td { (m.sbrs()) } }
            tr { th { "Sender Group" } td { (or_dash(m.sender_group.as_ref())) } }
            tr { th { "ICID" } td { (m.icid.map_or("-".to_string(), |i| i.to_string())) } }
            tr { th { "DCID" } td { (m.dcids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) } }
            tr { th { "TLS" } td { (tls(m)) } }
        }
        h2 { "mail_logs" }
        table.grid id="events" {
            @for line in &m.lines {
                @let (time, text) = split_event(line);
                tr { td.time { (time) } td { (text) } }
            }
        }
        @if lines_omitted > 0 { p.muted { (lines_omitted) " more line(s) not shown." } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_becomes_findevent_words() {
        assert_eq!(search_words(&q(&[])), Ok(None));
        assert_eq!(
            search_words(&q(&[
                ("sender", " alice@example.org "),
                ("mid", ""),
                ("received", "week"),
                ("search", "1")
            ])),
            Ok(Some(
                [
                    "findevent",
                    "--json",
                    "--from",
                    "alice@example.org",
                    "--since",
                    "7d"
                ]
                .map(String::from)
                .to_vec()
            ))
        );
        assert_eq!(
            search_words(&q(&[
                ("message_id", "<a@b>"),
                ("sender_ip", "127.0.0.9"),
                ("received", "custom"),
                ("since", "2026-12-06T10:00"),
                ("until", "")
            ])),
            Ok(Some(
                [
                    "findevent",
                    "--json",
                    "--message-id",
                    "<a@b>",
                    "--ip",
                    "127.0.0.9",
                    "--since",
                    "2026-12-06T10:00"
                ]
                .map(String::from)
                .to_vec()
            ))
        );
        assert_eq!(
            search_words(&q(&[("search", "1")])).unwrap().unwrap()[2..],
            ["--since".to_string(), "24h".to_string()]
        );
        assert!(search_words(&q(&[("search", "1"), ("received", "custom")])).is_err());
        assert!(search_words(&q(&[("search", "1"), ("received", "forever")])).is_err());
    }

    #[test]
    fn a_dropped_message_shows_both_of_the_seeds_wordings() {
        assert_eq!(
            status_lines("Dropped By Message Filters ('office365_outbound')"),
            [
                "Dropped By Message Filters",
                "Dropped by filter 'office365_outbound'"
            ]
        );
        assert_eq!(status_lines("Delivered"), ["Delivered"]);
    }

    #[test]
    fn results_show_the_fields_escaped() {
        let json = r#"{"found":1,"shown":1,"lines_omitted":0,"messages":[{"mid":7,"time":"06 Dec 2026 13:00:00 (GMT +00:00)","icid":3,"dcids":[4],"sender_group":"RELAY_O365","sender_ip":"127.5.0.10","tls_protocol":"TLSv1.3","tls_cipher":"TLS_AES_256_GCM_SHA384","status":"Delivered","threat_defense":null,"from":"a@example.org","to":["b@example.com"],"subject":"<script>","message_id":null,"lines":[]}]}"#;
        let found: Found = serde_json::from_str(json).unwrap();
        let html = results(&found).into_string();
        for s in [
            "id=\"mid-7\"",
            "RELAY_O365",
            "127.5.0.10",
            "(GMT +00:00)",
            "href=\"/monitor/tracking/7\"",
            "&lt;script&gt;",
        ] {
            assert!(html.contains(s), "{s} in {html}");
        }
        assert!(!html.contains("<script>"));
        // Without the newer fields (an older daemon): the seeds' defaults.
        assert!(html.contains("<td class=\"policy\">N/A</td>"), "{html}");
        assert!(html.contains("<td class=\"sbrs\">None</td>"), "{html}");
        assert_eq!(
            split_event("Tue Nov 24 01:06:39 2026 Info: Start MID 1 ICID 2"),
            ("Tue Nov 24 01:06:39 2026", "Start MID 1 ICID 2")
        );
    }

    #[test]
    fn more_details_show_the_seeds_sections_in_order() {
        let json = r#"{"found":1,"shown":1,"lines_omitted":0,"messages":[{"mid":94011,"time":"13 Aug 2021 15:54:18 (GMT -04:00)","icid":137530,"dcids":[],"sender_group":"RELAY_O365","sender_ip":"127.0.0.5","tls_protocol":"TLSv1.3","tls_cipher":"TLS_AES_256_GCM_SHA384","status":"Dropped By Message Filters ('office365_outbound')","last_state":"Dropped By Message Filters","direction":"Outgoing","mids":[94011],"policy_match":null,"reverse_dns":"mail-x.outbound.protection.outlook.com","reverse_dns_verified":true,"sbrs_score":"None","threat_defense":null,"from":"a@bce-demo.com","to":["b@partner.example"],"subject":"OUTBOUND MAIL","message_id":"MN2PR13@example.com","lines":[],"details":[{"date":"13 Aug 2021","time":"15:54:19","text":"Incoming connection (ICID 137530) lost."},{"date":"13 Aug 2021","time":"15:54:19","text":"Message 94011 aborted: Dropped by filter 'office365_outbound'"}]}]}"#;
        let found: Found = serde_json::from_str(json).unwrap();
        let html = more_details(&found.messages[0], 0).into_string();
        let order = [
            "Message ID Header <b>&lt;MN2PR13@example.com&gt;</b>",
            "Processing Details",
            "<th colspan=\"2\">13 Aug 2021</th>",
            "<td class=\"time\">15:54:19</td><td>Incoming connection (ICID 137530) lost.</td>",
            "Message 94011 aborted: Dropped by filter 'office365_outbound'",
            "Envelope Header and Summary",
            "Dropped By Message Filters",
            "<td id=\"direction\">Outgoing</td>",
            "13 Aug 2021 15:54:18 (GMT -04:00)",
            "N/A",
            "Sending Host Summary",
            "mail-x.outbound.protection.outlook.com (verified)",
            "127.0.0.5",
            "None",
            "RELAY_O365",
        ];
        let mut at = 0;
        for s in order {
            let i = html[at..]
                .find(s)
                .unwrap_or_else(|| panic!("no {s:?} after byte {at} in\n{html}"));
            at += i + s.len();
        }
    }
}
