//! Monitor > Message Tracking: AsyncOS's search form (Envelope Sender,
//! Envelope Recipient, Subject, MID, Message-ID header, Sender IP, and
//! Received: Last Day / Last 7 Days / Custom range), its results with the
//! seeds' fields, and **More Details** for one message.
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
    pub threat_defense: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    #[serde(default)]
    pub lines: Vec<String>,
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
                    th { "Message Status" } th { "MID" } th { "Time" } th { "Sender Group" }
                    th { "Sender IP" } th { "ICID" } th { "DCID" } th { "TLS" }
                }
                @for m in &found.messages {
                    tr.summary id=(format!("mid-{}", m.mid)) {
                        td.status { @for (i, l) in status_lines(&m.status).iter().enumerate() { @if i > 0 { br; } (l) } }
                        td.mid { (m.mid) }
                        td.time { (or_dash(m.time.as_ref())) }
                        td.group { (or_dash(m.sender_group.as_ref())) }
                        td.ip { (or_dash(m.sender_ip.as_ref())) }
                        td.icid { (m.icid.map_or("-".to_string(), |i| i.to_string())) }
                        td.dcid { (if m.dcids.is_empty() { "-".to_string() } else { m.dcids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ") }) }
                        td.tls { (tls(m)) }
                    }
                    tr.detail {
                        td colspan="8" {
                            "Sender: " b { (or_dash(m.from.as_ref())) }
                            " | Recipient: " b { (if m.to.is_empty() { "-".to_string() } else { m.to.join(", ") }) }
                            " | Subject: " b { (or_dash(m.subject.as_ref())) }
                            @if let Some(t) = &m.threat_defense { br; span.tdc { "Threat Defense: " (t) } }
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
        Ok(found) => match found.messages.into_iter().next() {
            None => html! { p id="no-results" { "MID " (mid) " is not in mail_logs." } },
            Some(m) => html! {
                h2 { "Envelope Header and Summary" }
                table.grid id="summary" {
                    tr { th { "Last State" } td id="last-state" { @for (i, l) in status_lines(&m.status).iter().enumerate() { @if i > 0 { br; } (l) } } }
                    tr { th { "MID" } td { (m.mid) } }
                    tr { th { "Time" } td { (or_dash(m.time.as_ref())) } }
                    tr { th { "Sender" } td { (or_dash(m.from.as_ref())) } }
                    tr { th { "Recipient" } td { (m.to.join(", ")) } }
                    tr { th { "Subject" } td { (or_dash(m.subject.as_ref())) } }
                    tr { th { "Message ID Header" } td { (m.message_id.as_ref().map_or("-".to_string(), |i| format!("<{i}>"))) } }
                    @if let Some(t) = &m.threat_defense { tr { th { "Threat Defense" } td { (t) } } }
                }
                h2 { "Sending Host Summary" }
                table.grid id="host" {
                    tr { th { "IP address" } td { (or_dash(m.sender_ip.as_ref())) } }
                    tr { th { "Sender Group" } td { (or_dash(m.sender_group.as_ref())) } }
                    tr { th { "ICID" } td { (m.icid.map_or("-".to_string(), |i| i.to_string())) } }
                    tr { th { "DCID" } td { (m.dcids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) } }
                    tr { th { "TLS" } td { (tls(&m)) } }
                }
                h2 { "Processing Details" }
                table.grid id="events" {
                    @for line in &m.lines {
                        @let (time, text) = split_event(line);
                        tr { td.time { (time) } td { (text) } }
                    }
                }
                @if found.lines_omitted > 0 { p.muted { (found.lines_omitted) " more line(s) not shown." } }
            },
        },
    };
    let body = html! { (body) p { a href="/monitor/tracking" { "New search" } } };
    admin.page(&format!("Message Tracking: MID {mid}"), body)
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
            "TLSv1.3 TLS_AES_256_GCM_SHA384",
            "(GMT +00:00)",
            "href=\"/monitor/tracking/7\"",
            "&lt;script&gt;",
        ] {
            assert!(html.contains(s), "{s} in {html}");
        }
        assert!(!html.contains("<script>"));
        assert_eq!(
            split_event("Tue Nov 24 01:06:39 2026 Info: Start MID 1 ICID 2"),
            ("Tue Nov 24 01:06:39 2026", "Start MID 1 ICID 2")
        );
    }
}
