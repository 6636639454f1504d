//! The message-tracking view of `findevent`: one summary per message, as
//! AsyncOS's Message Tracking shows it (sender group, sender IP, TLS, the
//! delivery connections, and the last event: "Delivered", "Dropped By
//! Message Filters", "Hard Bounced", ...), read back from mail_logs.

use std::collections::{BTreeMap, HashMap};

use super::{MailLogs, ids_after, mids_of, number_after, split_line};

#[derive(Default)]
struct Connection {
    address: Option<String>,
    group: Option<String>,
    tls: Option<String>,
}

#[derive(Default)]
struct Summary {
    icid: Option<u64>,
    dcids: Vec<u64>,
    status: Option<String>,
}

/// One line per MID in `mids`.
pub(super) fn summaries(logs: &MailLogs, mids: &[u64]) -> String {
    let mut conns: HashMap<u64, Connection> = HashMap::new();
    let mut msgs: BTreeMap<u64, Summary> = mids.iter().map(|m| (*m, Summary::default())).collect();
    logs.each_line(|line| {
        let Some((_, msg)) = split_line(line) else {
            return;
        };
        if let Some(rest) = msg.strip_prefix("New SMTP ICID ") {
            let icid = rest.split(' ').next().and_then(|i| i.parse().ok());
            let address = rest
                .split(" address ")
                .nth(1)
                .and_then(|r| r.split(' ').next());
            if let (Some(icid), Some(a)) = (icid, address) {
                conns.entry(icid).or_default().address = Some(a.to_string());
            }
            return;
        }
        if let Some(rest) = msg.strip_prefix("ICID ") {
            let icid = rest.split(' ').next().and_then(|i| i.parse::<u64>().ok());
            let Some(icid) = icid else { return };
            if let Some((_, sg)) = rest.split_once(" SG ") {
                let group = sg.split(' ').next().unwrap_or("").to_string();
                conns.entry(icid).or_default().group = Some(group);
            } else if let Some((_, tls)) = rest.split_once(" TLS success ") {
                conns.entry(icid).or_default().tls = Some(tls.to_string());
            }
            return;
        }
        for mid in mids_of(msg) {
            let Some(s) = msgs.get_mut(&mid) else {
                continue;
            };
            if msg.starts_with("Start MID ") {
                s.icid = number_after(msg, "ICID");
            } else if msg.starts_with("Delivery start DCID ")
                || msg.starts_with("TDC: Delivery start DCID ")
            {
                s.dcids.extend(ids_after(msg, "DCID"));
            }
            let status = if let Some((_, f)) = msg.split_once("Dropped by filter ") {
                Some(format!("Dropped By Message Filters ({f})"))
            } else if msg.starts_with("Message done ")
                || msg.contains("successfully delivered for scanning")
            {
                Some("Delivered".to_string())
            } else if msg.starts_with("Bounced: ") {
                Some("Hard Bounced".to_string())
            } else if msg.contains(" pending till ") {
                Some("Soft Bounced (waiting for a retry)".to_string())
            } else if msg.contains("quarantine") && msg.contains("MID") && s.status.is_none() {
                Some("Quarantined".to_string())
            } else if msg.contains(" queued for delivery") && s.status.is_none() {
                Some("Queued".to_string())
            } else {
                None
            };
            if let Some(st) = status {
                s.status = Some(st);
            }
        }
    });
    let mut out = String::from("Tracking:\n");
    for (mid, s) in msgs {
        let conn = s.icid.and_then(|i| conns.get(&i));
        let field = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".to_string());
        let dcids: Vec<String> = s.dcids.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "  MID {mid}  ICID {}  Sender group {}  Sender IP {}  TLS {}  DCID {}  Status: {}\n",
            s.icid.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            field(conn.and_then(|c| c.group.as_ref())),
            field(conn.and_then(|c| c.address.as_ref())),
            field(conn.and_then(|c| c.tls.as_ref())),
            if dcids.is_empty() {
                "-".to_string()
            } else {
                dcids.join(",")
            },
            s.status.unwrap_or_else(|| "Received".to_string()),
        ));
    }
    out
}
