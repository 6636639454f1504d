//! `findevent --json`: the matching messages as one JSON object, for the
//! web UI's Message Tracking and the REST API (they parse fields instead
//! of scraping the text form):
//!
//! ```json
//! {"found": 1, "shown": 1, "lines_omitted": 0, "messages": [{"mid": 101,
//!   "time": "24 Nov 2026 01:06:39 (GMT +00:00)", "icid": 7, "dcids": [55],
//!   "sender_group": "ALL", "sender_ip": "192.0.2.9", "tls_protocol": null,
//!   "tls_cipher": null, "from": "alice@example.org", "to": ["bob@..."],
//!   "subject": "...", "message_id": "...", "status": "Delivered",
//!   "threat_defense": null, "lines": ["Tue Nov 24 01:06:39 2026 Info: ..."]}]}
//! ```
//!
//! Bounded like the text form: at most [`MAX_MESSAGES`] messages (the
//! newest) and [`super::MAX_LINES`] lines in all.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDateTime, TimeZone as _};
use serde::Serialize;

use super::tracking::{self, Tracked};
use super::{MAX_LINES, MailLogs, MessageFacts, ids_after, mids_of, split_line};

/// Most messages one JSON answer holds (the newest MIDs); `found` says
/// how many matched.
pub const MAX_MESSAGES: usize = 500;

#[derive(Serialize)]
struct Answer {
    found: usize,
    shown: usize,
    lines_omitted: usize,
    messages: Vec<Message>,
}

#[derive(Serialize)]
struct Message {
    mid: u64,
    time: Option<String>,
    #[serde(flatten)]
    tracked: Tracked,
    from: Option<String>,
    to: Vec<String>,
    subject: Option<String>,
    message_id: Option<String>,
    lines: Vec<String>,
}

/// The log's local time with the appliance's zone, as AsyncOS's
/// tracking shows it: `24 Nov 2026 01:06:39 (GMT +00:00)`.
pub(super) fn with_zone(t: NaiveDateTime) -> String {
    in_zone(t, breakwater_types::clock::zone())
}

/// `t`, a local time of `zone`, with that zone's offset then.
pub(super) fn in_zone(t: NaiveDateTime, zone: breakwater_types::clock::Tz) -> String {
    match zone.from_local_datetime(&t).earliest() {
        Some(local) => local.format("%d %b %Y %H:%M:%S (GMT %:z)").to_string(),
        None => t.format("%d %b %Y %H:%M:%S").to_string(),
    }
}

pub(super) fn answer(
    logs: &MailLogs,
    facts: &HashMap<u64, MessageFacts>,
    mids: Vec<u64>,
) -> Result<String, String> {
    let found = mids.len();
    let mids: Vec<u64> = mids[found.saturating_sub(MAX_MESSAGES)..].to_vec();
    let wanted: HashSet<u64> = mids.iter().copied().collect();
    let mut by_icid: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut by_dcid: HashMap<u64, Vec<u64>> = HashMap::new();
    for m in &mids {
        if let Some(i) = facts[m].icid {
            by_icid.entry(i).or_default().push(*m);
        }
        for d in &facts[m].dcids {
            by_dcid.entry(*d).or_default().push(*m);
        }
    }
    let mut lines: HashMap<u64, Vec<String>> = HashMap::new();
    let mut kept = 0usize;
    let mut omitted = 0usize;
    logs.each_line(|line| {
        let Some((_, msg)) = split_line(line) else {
            return;
        };
        let line_mids = mids_of(msg);
        let about: HashSet<u64> = if line_mids.is_empty() {
            ids_after(msg, "ICID")
                .filter_map(|i| by_icid.get(&i))
                .chain(ids_after(msg, "DCID").filter_map(|d| by_dcid.get(&d)))
                .flatten()
                .copied()
                .collect()
        } else {
            line_mids
                .into_iter()
                .filter(|m| wanted.contains(m))
                .collect()
        };
        for m in about {
            if kept < MAX_LINES {
                kept += 1;
                lines.entry(m).or_default().push(line.to_string());
            } else {
                omitted += 1;
            }
        }
    });
    let tracked = tracking::track(logs, &mids);
    let messages: Vec<Message> = mids
        .iter()
        .rev()
        .map(|m| {
            let f = &facts[m];
            Message {
                mid: *m,
                time: f.start.map(with_zone),
                tracked: tracked.get(m).cloned().unwrap_or_default(),
                from: f.from.clone(),
                to: f.to.clone(),
                subject: f.subject.clone(),
                message_id: f.message_id.clone(),
                lines: lines.remove(m).unwrap_or_default(),
            }
        })
        .collect();
    let answer = Answer {
        found,
        shown: messages.len(),
        lines_omitted: omitted,
        messages,
    };
    serde_json::to_string(&answer).map_err(|e| format!("Cannot encode the answer: {e}"))
}
