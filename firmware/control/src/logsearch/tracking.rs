//! The message-tracking view of `findevent`: one summary per message, as
//! AsyncOS's Message Tracking shows it (sender group, sender IP, TLS, the
//! delivery connections, and the last event: "Delivered", "Dropped By
//! Message Filters", "Hard Bounced", ...), read back from mail_logs.

use std::collections::{BTreeMap, HashMap};

use super::{MailLogs, mids_of, split_line};
use crate::logging::MailEvent;

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
        use MailEvent as E;
        let Some(event) = MailEvent::parse(msg) else {
            return;
        };
        match &event {
            E::NewSmtpIcid { icid, address, .. } => {
                conns.entry(icid.0).or_default().address = Some(address.to_string());
                return;
            }
            E::SenderGroupMatch { icid, group, .. } => {
                conns.entry(icid.0).or_default().group = Some(group.clone());
                return;
            }
            E::IcidTlsSuccess {
                icid,
                protocol,
                cipher,
            } => {
                conns.entry(icid.0).or_default().tls =
                    Some(format!("protocol {protocol} cipher {cipher}"));
                return;
            }
            _ => {}
        }
        let status = match &event {
            E::DroppedByFilter { filter, .. } => {
                Some(format!("Dropped By Message Filters ('{filter}')"))
            }
            E::MessageDone { .. } | E::TdcDelivered { .. } => Some("Delivered".to_string()),
            E::Bounced { tdc, .. } if !tdc.0 => Some("Hard Bounced".to_string()),
            E::BouncedQueued { .. } => Some("Hard Bounced".to_string()),
            E::Pending { .. } => Some("Soft Bounced (waiting for a retry)".to_string()),
            _ => None,
        };
        // Weaker states: they never replace one already known.
        let initial = match &event {
            E::Quarantined { .. } | E::Released { .. } | E::QuarantineDeleted { .. } => {
                Some("Quarantined")
            }
            E::Generated { kind, .. } if kind.contains("quarantine") => Some("Quarantined"),
            E::Queued { .. } => Some("Queued"),
            _ => None,
        };
        // A line naming two messages (a copy and its original) is about both.
        for mid in mids_of(msg) {
            let Some(s) = msgs.get_mut(&mid) else {
                continue;
            };
            match &event {
                E::StartMid { icid, .. } => s.icid = Some(icid.0),
                E::DeliveryStart { dcid, .. } | E::TdcDeliveryStart { dcid, .. } => {
                    s.dcids.push(dcid.0)
                }
                _ => {}
            }
            if let Some(st) = &status {
                s.status = Some(st.clone());
            } else if let Some(st) = initial
                && s.status.is_none()
            {
                s.status = Some(st.to_string());
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
