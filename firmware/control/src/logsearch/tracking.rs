//! The message-tracking view of `findevent`: one summary per message, as
//! AsyncOS's Message Tracking shows it (sender group, sender IP, TLS, the
//! delivery connections, the last event: "Delivered", "Dropped By
//! Message Filters", "Hard Bounced", ..., and the Threat Defense line),
//! read back from mail_logs. The text form ends `findevent`'s answer; the
//! same facts are `findevent --json`'s fields (the web UI's Message
//! Tracking reads those).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{MailLogs, mids_of, split_line};
use crate::logging::MailEvent;

#[derive(Default)]
struct Connection {
    address: Option<String>,
    group: Option<String>,
    tls: Option<(String, String)>,
}

/// What Message Tracking shows about one message.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Tracked {
    pub icid: Option<u64>,
    pub dcids: Vec<u64>,
    pub sender_group: Option<String>,
    pub sender_ip: Option<String>,
    pub tls_protocol: Option<String>,
    pub tls_cipher: Option<String>,
    /// The last state ("Received" when the log says nothing more).
    pub status: String,
    /// The last line about the message's Threat Defense copy (or, for a
    /// copy, about itself), as the log words it.
    pub threat_defense: Option<String>,
}

/// What the log said about one message so far.
#[derive(Default)]
struct Facts {
    icid: Option<u64>,
    dcids: Vec<u64>,
    status: Option<String>,
    tdc: Option<String>,
}

/// What each MID in `mids` became.
pub(super) fn track(logs: &MailLogs, mids: &[u64]) -> BTreeMap<u64, Tracked> {
    let mut conns: HashMap<u64, Connection> = HashMap::new();
    let mut statuses: BTreeMap<u64, Facts> = mids.iter().map(|m| (*m, Facts::default())).collect();
    // A Threat Defense copy's MID -> the MID it copies.
    let mut copies: HashMap<u64, u64> = HashMap::new();
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
                conns.entry(icid.0).or_default().tls = Some((protocol.clone(), cipher.clone()));
                return;
            }
            _ => {}
        }
        let tdc_mid = match &event {
            E::TdcEnqueued { mid, original, .. } => {
                copies.insert(mid.0, original.0);
                Some(mid.0)
            }
            E::TdcExpired { mid, .. }
            | E::TdcFailed { mid, .. }
            | E::TdcRetry { mid, .. }
            | E::TdcDelivered { mid } => Some(mid.0),
            _ => None,
        };
        if let Some(copy) = tdc_mid {
            for m in [Some(copy), copies.get(&copy).copied()]
                .into_iter()
                .flatten()
            {
                if let Some(s) = statuses.get_mut(&m) {
                    s.tdc = Some(msg.to_string());
                }
            }
        }
        let status = match &event {
            E::DroppedByFilter { filter, .. } => {
                Some(format!("Dropped By Message Filters ('{filter}')"))
            }
            E::MessageDone { .. } | E::TdcDelivered { .. } => Some("Delivered".to_string()),
            E::Bounced { tdc, .. } if !tdc.0 => Some("Hard Bounced".to_string()),
            E::Pending { .. } => Some("Soft Bounced (waiting for a retry)".to_string()),
            // Quarantine comes after "queued for delivery": it replaces it.
            E::Quarantined { quarantine, .. } => Some(format!("Quarantined (\"{quarantine}\")")),
            E::Released { quarantine, .. } => {
                Some(format!("Released from quarantine (\"{quarantine}\")"))
            }
            E::QuarantineDeleted { quarantine, .. } => {
                Some(format!("Deleted from quarantine (\"{quarantine}\")"))
            }
            _ => None,
        };
        // Weaker states: they never replace one already known.
        let initial = match &event {
            E::Generated { kind, .. } if kind.contains("quarantine") => Some("Quarantined"),
            E::Queued { .. } => Some("Queued"),
            _ => None,
        };
        // A line naming two messages (a copy and its original) is about both.
        for mid in mids_of(msg) {
            let Some(s) = statuses.get_mut(&mid) else {
                continue;
            };
            match &event {
                E::StartMid { icid, .. } => s.icid = Some(icid.0),
                E::DeliveryStart { dcid, .. } | E::TdcDeliveryStart { dcid, .. } => {
                    s.dcids.push(dcid.0)
                }
                _ => {}
            }
            // The enqueue line names the original too, but it is the
            // copy's news: the original's state stays its own.
            if matches!(event, E::TdcEnqueued { .. }) {
                continue;
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
    statuses
        .into_iter()
        .map(
            |(
                mid,
                Facts {
                    icid,
                    dcids,
                    status,
                    tdc,
                },
            )| {
                let conn = icid.and_then(|i| conns.get(&i));
                let tls = conn.and_then(|c| c.tls.clone());
                let tracked = Tracked {
                    icid,
                    dcids,
                    sender_group: conn.and_then(|c| c.group.clone()),
                    sender_ip: conn.and_then(|c| c.address.clone()),
                    tls_protocol: tls.as_ref().map(|t| t.0.clone()),
                    tls_cipher: tls.map(|t| t.1),
                    status: status.unwrap_or_else(|| "Received".to_string()),
                    threat_defense: tdc,
                };
                (mid, tracked)
            },
        )
        .collect()
}

/// One line per MID in `mids`, after `Tracking:`.
pub(super) fn summaries(tracked: &BTreeMap<u64, Tracked>) -> String {
    let mut out = String::from("Tracking:\n");
    for (mid, s) in tracked {
        let field = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".to_string());
        let dcids: Vec<String> = s.dcids.iter().map(u64::to_string).collect();
        let tls = match (&s.tls_protocol, &s.tls_cipher) {
            (Some(p), Some(c)) => Some(format!("protocol {p} cipher {c}")),
            _ => None,
        };
        out.push_str(&format!(
            "  MID {mid}  ICID {}  Sender group {}  Sender IP {}  TLS {}  DCID {}  Status: {}\n",
            s.icid.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            field(s.sender_group.as_ref()),
            field(s.sender_ip.as_ref()),
            field(tls.as_ref()),
            if dcids.is_empty() {
                "-".to_string()
            } else {
                dcids.join(",")
            },
            s.status,
        ));
    }
    out
}
