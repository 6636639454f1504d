//! The message-tracking view of `findevent`: per message, what AsyncOS's
//! Message Tracking shows (the seeds' screenshots): the summary (Last
//! State, direction, MIDs, time with the appliance's zone, sender,
//! recipients, policy match, sender group, sender IP, SBRS score, reverse
//! DNS, subject) and the Processing Details, one timed line per event in
//! the tracking wording ("Incoming connection (ICID n) has sender_group:
//! ...", "Message n direction: outgoing", "Message n aborted: Dropped by
//! filter '...'"), all read back from mail_logs. The text form ends
//! `findevent`'s answer; the same facts are `findevent --json`'s fields
//! (the web UI's Message Tracking and the API read those).
//!
//! A Threat Defense copy has a MID of its own (its `TDC: ... (copy of MID
//! n)` line links the two); its delivery is internal detail, so the
//! original's tracking shows only the outcome, worded for the original as
//! AsyncOS does: "TDC: Message n successfully delivered for scanning with
//! Cisco Secure Email Threat Defense."
//!
//! Only the connections (ICID, DCID) of the messages asked for are
//! remembered while reading, so a search costs memory in proportion to its
//! answer, not to the logs.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDateTime, TimeZone as _};
use serde::Serialize;

use super::{MailLogs, MessageFacts, ids_after, mids_of, split_line};
use crate::logging::MailEvent;
use crate::logging::event::{Direction, RidList};
use breakwater_types::clock;

/// What the HAT and the handshake said about an incoming connection.
#[derive(Default)]
struct Connection {
    address: Option<String>,
    interface: Option<String>,
    interface_address: Option<String>,
    host: Option<String>,
    verified: bool,
    group: Option<String>,
    tls: Option<(String, String)>,
}

/// One line of Processing Details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    /// `13 Aug 2021`, in the appliance's zone.
    pub date: String,
    /// `14:14:59`.
    pub time: String,
    pub text: String,
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
    /// The last state in detail ("Received" when the log says nothing more).
    pub status: String,
    /// AsyncOS's Last State: `Delivered`, `Dropped By Message Filters`,
    /// `Quarantined`, `Bounced`, `Queued` (also `Aborted`, `Deleted From
    /// Quarantine`, `Received`).
    pub last_state: String,
    /// `Incoming` or `Outgoing` (the listener's mail policies).
    pub direction: Option<String>,
    /// The message's MID and those it was split into.
    pub mids: Vec<u64>,
    /// The mail policy that matched, `None` before (or without) one
    /// ("N/A": a message dropped by a filter never reaches the policies).
    pub policy_match: Option<String>,
    pub reverse_dns: Option<String>,
    pub reverse_dns_verified: bool,
    /// SBRS is not part of Breakwater: `None`, as AsyncOS shows it when
    /// SenderBase reputation is off.
    pub sbrs_score: String,
    /// The Threat Defense line: for an original, the outcome of its copy
    /// in the seed's wording; for a copy, its own last `TDC:` line.
    pub threat_defense: Option<String>,
    /// Processing Details, oldest first.
    pub details: Vec<Detail>,
}

/// What the log said about one message so far.
#[derive(Default)]
struct Facts {
    icid: Option<u64>,
    dcids: Vec<u64>,
    status: Option<String>,
    last: Option<&'static str>,
    tdc: Option<String>,
    direction: Option<Direction>,
    policy: Option<String>,
    split_into: Vec<u64>,
    recipients: BTreeMap<u32, String>,
    details: Vec<Detail>,
}

impl Facts {
    fn push(&mut self, time: NaiveDateTime, text: String) {
        self.details.push(Detail {
            date: time.format("%d %b %Y").to_string(),
            time: time.format("%H:%M:%S").to_string(),
            text,
        });
    }

    /// The addresses of `rids`, as the message's `To:` lines named them.
    fn addresses(&self, rids: &RidList) -> String {
        let names: Vec<&str> = rids
            .0
            .iter()
            .filter_map(|r| self.recipients.get(&r.0).map(String::as_str))
            .collect();
        if names.len() == rids.0.len() && !names.is_empty() {
            names.join(", ")
        } else {
            format!("RID {rids}")
        }
    }
}

/// The log's local time with the appliance's zone, as AsyncOS's
/// tracking shows it: `13 Aug 2021 14:14:59 (GMT -04:00)`.
pub(super) fn with_zone(t: NaiveDateTime) -> String {
    in_zone(t, clock::zone())
}

/// `t`, a local time of `zone`, with that zone's offset then.
pub(super) fn in_zone(t: NaiveDateTime, zone: clock::Tz) -> String {
    match zone.from_local_datetime(&t).earliest() {
        Some(local) => local.format("%d %b %Y %H:%M:%S (GMT %:z)").to_string(),
        None => t.format("%d %b %Y %H:%M:%S").to_string(),
    }
}

/// A copy's line that the original's tracking shows: its outcome.
pub(super) fn is_tdc_outcome(event: &MailEvent) -> bool {
    matches!(
        event,
        MailEvent::TdcDelivered { .. } | MailEvent::TdcFailed { .. } | MailEvent::TdcExpired { .. }
    )
}

/// The outcome of a copy, worded for its original `original`.
fn tdc_outcome_for(event: &MailEvent, original: u64) -> Option<String> {
    const TD: &str = "Cisco Secure Email Threat Defense";
    Some(match event {
        MailEvent::TdcDelivered { .. } => {
            format!("TDC: Message {original} successfully delivered for scanning with {TD}.")
        }
        MailEvent::TdcFailed { detail, .. } => {
            format!("TDC: Message {original} delivery failed to {TD}: {detail}")
        }
        MailEvent::TdcExpired { max_age, .. } => format!(
            "TDC: Message {original} delivery failed to {TD}: message expired after {max_age} seconds in the.tdc.queue"
        ),
        _ => return None,
    })
}

/// Last State after `event`, and whether it replaces a state already
/// known (a weak one, such as "Queued", never does).
fn last_state(event: &MailEvent) -> Option<(&'static str, bool)> {
    use MailEvent as E;
    Some(match event {
        E::MessageDone { .. } => ("Delivered", true),
        E::DroppedByFilter { .. } => ("Dropped By Message Filters", true),
        E::Bounced { tdc, .. } if !tdc.0 => ("Bounced", true),
        E::Quarantined { .. } => ("Quarantined", true),
        E::SpamDropped { .. } => ("Dropped By Anti-Spam", true),
        E::Released { .. } | E::Pending { .. } => ("Queued", true),
        E::QuarantineDeleted { .. } => ("Deleted From Quarantine", true),
        E::Aborted { .. } | E::MessageRejected { .. } => ("Aborted", true),
        E::Generated { kind, .. } if kind.contains("quarantine") => ("Quarantined", false),
        E::Queued { .. } => ("Queued", false),
        _ => return None,
    })
}

/// The Processing Details lines `event` gives message `mid` (`None`: the
/// log's own text).
fn render(
    event: &MailEvent,
    mid: u64,
    facts: &Facts,
    conn: Option<&Connection>,
) -> Option<Vec<String>> {
    use MailEvent as E;
    let ip = conn
        .and_then(|c| c.address.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let group = conn.and_then(|c| c.group.clone()).unwrap_or_default();
    Some(match event {
        E::SenderGroupMatch {
            icid,
            behavior,
            group,
            entry,
        } => {
            let mut lines = vec![format!(
                "Incoming connection (ICID {icid}) has sender_group: {group}, sender_ip: {ip} and sbrs: not enabled"
            )];
            if let Some(c) = conn
                && let Some(interface) = &c.interface
            {
                lines.push(format!(
                    "Protocol SMTP Interface {interface} (IP {}) on incoming connection (ICID {icid}) from sender IP {ip}. Reverse DNS host {} verified {}.",
                    c.interface_address.as_deref().unwrap_or(""),
                    c.host.as_deref().unwrap_or("unknown"),
                    if c.verified { "yes" } else { "no" },
                ));
            }
            lines.push(format!(
                "(ICID {icid}) {behavior} sender group {group} match {entry} SBRS not enabled country not enabled"
            ));
            lines
        }
        // Shown with the sender group line, in the seeds' order.
        E::NewSmtpIcid { .. } | E::StartMid { .. } => Vec::new(),
        E::IcidTlsSuccess {
            icid,
            protocol,
            cipher,
        } => vec![format!(
            "Incoming connection (ICID {icid}) successfully accepted TLS protocol {protocol} cipher {cipher}."
        )],
        E::IcidClose { icid } => {
            vec![format!(
                "Incoming connection (ICID {icid}) successfully closed."
            )]
        }
        E::IcidLost { icid } => vec![format!("Incoming connection (ICID {icid}) lost.")],
        E::From { icid, address, .. } => {
            let mut lines = Vec::new();
            if let Some((_, domain)) = address.rsplit_once('@') {
                lines.push(format!("Message {mid} Sender Domain: {domain}"));
            }
            lines.push(format!(
                "Start message {mid} on incoming connection (ICID {icid})."
            ));
            lines.push(format!(
                "Message {mid} enqueued on incoming connection (ICID {icid}) from {address}."
            ));
            lines
        }
        E::MessageDirection { direction, .. } => {
            vec![format!("Message {mid} direction: {direction}")]
        }
        E::To { icid, address, .. } => vec![format!(
            "Message {mid} on incoming connection (ICID {icid}) added recipient ({address})."
        )],
        E::MessageId { message_id, .. } => vec![format!(
            "Message {mid} contains message ID header '<{message_id}>'"
        )],
        E::Subject { subject, .. } => vec![format!(
            "Message {mid} original subject on injection: {subject}"
        )],
        E::Ready { size, from, .. } => vec![
            format!("Message {mid} ({size} bytes) from {from} ready."),
            format!("Message {mid} has sender_group: {group}, sender_ip: {ip} and sbrs: None"),
        ],
        E::Queued { .. } => vec![format!("Message {mid} queued for delivery.")],
        E::PolicyMatched { policy, table, .. } => vec![format!(
            "Message {mid} matched per-recipient policy {policy} for {table} mail policies."
        )],
        E::DroppedByFilter { filter, .. } => {
            vec![format!(
                "Message {mid} aborted: Dropped by filter '{filter}'"
            )]
        }
        // AsyncOS's Anti-Spam lines, with rspamd for CASE.
        E::SpamInterim {
            engine, verdict, ..
        } => vec![format!(
            "Message {mid} scanned by Anti-Spam engine: {engine}. Interim verdict: {verdict}"
        )],
        E::SpamVerdict {
            engine, verdict, ..
        } => vec![format!(
            "Message {mid} scanned by Anti-Spam engine {engine}. Final verdict: {verdict}"
        )],
        // Sender authentication as AsyncOS's Processing Details show it:
        // the mail_logs words, introduced by "Message N" instead of "MID N".
        // The HELO check belongs to the connection; each of its messages
        // shows it.
        E::SpfHelo {
            identity, result, ..
        } => vec![format!(
            "Message {mid} SPF: helo identity {identity} {result}"
        )],
        E::SpfMailFrom {
            identity, result, ..
        } => vec![format!(
            "Message {mid} SPF: mailfrom identity {identity} {result}"
        )],
        E::DkimVerdict { verdict, .. } => vec![format!("Message {mid} DKIM: {verdict}")],
        E::ArcVerdict { verdict, .. } => vec![format!("Message {mid} ARC: {verdict}")],
        E::DmarcVerdict { verdict, .. } => vec![format!("Message {mid} DMARC: {verdict}")],
        E::DmarcRejected { reply, .. } => vec![format!(
            "Message {mid} DMARC: Message rejected by DMARC policy: {reply}"
        )],
        E::SenderAuthBudget { secs, .. } => vec![format!(
            "Message {mid} sender authentication: DNS budget of {secs} seconds spent; SPF, DKIM and DMARC results are temperror"
        )],
        E::DeliveryStart { dcid, rids, .. } => vec![format!(
            "(DCID {dcid}) Delivery started for message {mid} to {}.",
            facts.addresses(rids)
        )],
        E::MessageDone { dcid, rids, .. } => vec![format!(
            "(DCID {dcid}) Delivery details: Message {mid} sent to {}",
            facts.addresses(rids)
        )],
        E::Response { rids, text, .. } => vec![format!(
            "Message {mid} to {} received remote SMTP response '{text}'.",
            facts.addresses(rids)
        )],
        E::NewSmtpDcid {
            tdc,
            dcid,
            interface,
            address,
            port,
        } if !tdc.0 => vec![format!(
            "SMTP delivery connection (DCID {dcid}) opened from interface {interface} to IP address {address} on port {port}."
        )],
        E::DcidTlsSuccess {
            dcid,
            protocol,
            cipher,
        } => vec![format!(
            "Delivery connection (DCID {dcid}) successfully accepted TLS protocol {protocol} cipher {cipher}."
        )],
        _ => return None,
    })
}

/// What each MID in `mids` became; `facts` (findevent's first pass) names
/// their connections.
pub(super) fn track(
    logs: &MailLogs,
    mids: &[u64],
    facts: &HashMap<u64, MessageFacts>,
) -> BTreeMap<u64, Tracked> {
    let mut by_icid: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut by_dcid: HashMap<u64, Vec<u64>> = HashMap::new();
    for m in mids {
        if let Some(f) = facts.get(m) {
            if let Some(i) = f.icid {
                by_icid.entry(i).or_default().push(*m);
            }
            for d in &f.dcids {
                by_dcid.entry(*d).or_default().push(*m);
            }
        }
    }
    let mut conns: HashMap<u64, Connection> = HashMap::new();
    let mut statuses: BTreeMap<u64, Facts> = mids.iter().map(|m| (*m, Facts::default())).collect();
    // A Threat Defense copy's MID -> the MID it copies.
    let mut copies: HashMap<u64, u64> = HashMap::new();
    logs.each_line(|line| {
        let Some((time, msg)) = split_line(line) else {
            return;
        };
        use MailEvent as E;
        let event = MailEvent::parse(msg);
        match &event {
            Some(E::NewSmtpIcid {
                icid,
                interface,
                interface_address,
                address,
                host,
                verified,
            }) if by_icid.contains_key(&icid.0) => {
                let c = conns.entry(icid.0).or_default();
                c.address = Some(address.to_string());
                c.interface = Some(interface.clone());
                c.interface_address = Some(interface_address.clone());
                c.host = Some(host.clone());
                c.verified = verified.0;
            }
            Some(E::SenderGroupMatch { icid, group, .. }) if by_icid.contains_key(&icid.0) => {
                conns.entry(icid.0).or_default().group = Some(group.clone());
            }
            Some(E::IcidTlsSuccess {
                icid,
                protocol,
                cipher,
            }) if by_icid.contains_key(&icid.0) => {
                conns.entry(icid.0).or_default().tls = Some((protocol.clone(), cipher.clone()));
            }
            _ => {}
        }
        let line_mids = mids_of(msg);
        // A line naming no message is about the messages of the
        // connections it names.
        let about: Vec<u64> = if line_mids.is_empty() {
            ids_after(msg, "ICID")
                .filter_map(|i| by_icid.get(&i))
                .chain(ids_after(msg, "DCID").filter_map(|d| by_dcid.get(&d)))
                .flatten()
                .copied()
                .collect()
        } else {
            line_mids.clone()
        };
        if let Some(event) = &event {
            track_tdc(event, msg, time, &mut copies, &mut statuses);
        }
        let status = event.as_ref().and_then(detailed_status);
        // Weaker states: they never replace one already known.
        let initial = match &event {
            Some(E::Generated { kind, .. }) if kind.contains("quarantine") => Some("Quarantined"),
            Some(E::Queued { .. }) => Some("Queued"),
            _ => None,
        };
        let last = event.as_ref().and_then(last_state);
        for mid in about {
            let Some(s) = statuses.get_mut(&mid) else {
                continue;
            };
            // The enqueue line names the original too, but it is the
            // copy's news: the original shows only the copy's outcome.
            if matches!(event, Some(E::TdcEnqueued { .. })) && !copies.contains_key(&mid) {
                continue;
            }
            if line_mids.contains(&mid) {
                match &event {
                    Some(E::StartMid { icid, .. }) => s.icid = Some(icid.0),
                    Some(E::DeliveryStart { dcid, .. } | E::TdcDeliveryStart { dcid, .. }) => {
                        s.dcids.push(dcid.0)
                    }
                    Some(E::MessageDirection { direction, .. }) => s.direction = Some(*direction),
                    Some(E::To { rid, address, .. }) => {
                        s.recipients.insert(rid.0, address.clone());
                    }
                    Some(E::PolicyMatched { policy, .. }) => s.policy = Some(policy.clone()),
                    Some(E::Split {
                        mid: m,
                        new_mid,
                        policy,
                        ..
                    }) if m.0 == mid => {
                        s.split_into.push(new_mid.0);
                        s.policy.get_or_insert_with(|| policy.clone());
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
                if let Some((state, strong)) = last
                    && (strong || s.last.is_none())
                {
                    s.last = Some(state);
                }
            }
            let conn = s
                .icid
                .or_else(|| facts.get(&mid)?.icid)
                .and_then(|i| conns.get(&i));
            let lines = event
                .as_ref()
                .and_then(|e| render(e, mid, s, conn))
                .unwrap_or_else(|| vec![msg.to_string()]);
            for text in lines {
                s.push(time, text);
            }
        }
    });
    statuses
        .into_iter()
        .map(|(mid, f)| {
            let conn = f.icid.and_then(|i| conns.get(&i));
            let tls = conn.and_then(|c| c.tls.clone());
            let mut all = vec![mid];
            all.extend(&f.split_into);
            let tracked = Tracked {
                icid: f.icid,
                dcids: f.dcids,
                sender_group: conn.and_then(|c| c.group.clone()),
                sender_ip: conn.and_then(|c| c.address.clone()),
                tls_protocol: tls.as_ref().map(|t| t.0.clone()),
                tls_cipher: tls.map(|t| t.1),
                status: f.status.unwrap_or_else(|| "Received".to_string()),
                last_state: f.last.unwrap_or("Received").to_string(),
                direction: f.direction.map(|d| match d {
                    Direction::Incoming => "Incoming".to_string(),
                    Direction::Outgoing => "Outgoing".to_string(),
                }),
                mids: all,
                policy_match: f.policy,
                reverse_dns: conn.and_then(|c| c.host.clone()),
                reverse_dns_verified: conn.is_some_and(|c| c.verified),
                sbrs_score: "None".to_string(),
                threat_defense: f.tdc,
                details: f.details,
            };
            (mid, tracked)
        })
        .collect()
}

/// The detailed state after `event` (the `status` field).
fn detailed_status(event: &MailEvent) -> Option<String> {
    use MailEvent as E;
    match event {
        E::DroppedByFilter { filter, .. } => {
            Some(format!("Dropped By Message Filters ('{filter}')"))
        }
        E::MessageDone { .. } | E::TdcDelivered { .. } => Some("Delivered".to_string()),
        E::Bounced { tdc, .. } if !tdc.0 => Some("Hard Bounced".to_string()),
        E::Pending { .. } => Some("Soft Bounced (waiting for a retry)".to_string()),
        // Quarantine comes after "queued for delivery": it replaces it.
        E::Quarantined { quarantine, .. } => Some(format!("Quarantined (\"{quarantine}\")")),
        E::SpamDropped { .. } => Some("Dropped By Anti-Spam".to_string()),
        E::Released { quarantine, .. } => {
            Some(format!("Released from quarantine (\"{quarantine}\")"))
        }
        E::QuarantineDeleted { quarantine, .. } => {
            Some(format!("Deleted from quarantine (\"{quarantine}\")"))
        }
        _ => None,
    }
}

/// Links copies to originals and keeps the Threat Defense line of both:
/// the copy's own last `TDC:` line; for the original, the copy's outcome
/// as a Processing Details line too.
fn track_tdc(
    event: &MailEvent,
    msg: &str,
    time: NaiveDateTime,
    copies: &mut HashMap<u64, u64>,
    statuses: &mut BTreeMap<u64, Facts>,
) {
    use MailEvent as E;
    let copy = match event {
        E::TdcEnqueued { mid, original, .. } => {
            copies.insert(mid.0, original.0);
            mid.0
        }
        E::TdcExpired { mid, .. }
        | E::TdcFailed { mid, .. }
        | E::TdcRetry { mid, .. }
        | E::TdcDelivered { mid } => mid.0,
        _ => return,
    };
    if let Some(s) = statuses.get_mut(&copy) {
        s.tdc = Some(msg.to_string());
    }
    if let Some(original) = copies.get(&copy).copied()
        && let Some(s) = statuses.get_mut(&original)
        && let Some(line) = tdc_outcome_for(event, original)
    {
        s.tdc = Some(line.clone());
        s.push(time, line);
    }
}

/// One line per MID in `tracked`, after `Tracking:`.
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

/// The seeds' More Details for each message: Envelope Header and
/// Summary, Sending Host Summary, Processing Details; `facts` (findevent's
/// first pass) gives the envelope and the time.
pub(super) fn details(
    tracked: &BTreeMap<u64, Tracked>,
    facts: &HashMap<u64, MessageFacts>,
) -> String {
    let mut out = String::new();
    for (mid, t) in tracked {
        let f = facts.get(mid);
        let or_dash = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".to_string());
        let mids: Vec<String> = t.mids.iter().map(u64::to_string).collect();
        out.push_str(&format!("\nMessage Tracking: MID {mid}\n"));
        out.push_str("Envelope Header and Summary\n");
        let rows = [
            ("Last State", t.last_state.clone()),
            ("Message", or_dash(t.direction.as_ref())),
            ("MID", mids.join(", ")),
            (
                "Time",
                f.and_then(|f| f.start)
                    .map(with_zone)
                    .unwrap_or_else(|| "-".into()),
            ),
            ("Sender", or_dash(f.and_then(|f| f.from.as_ref()))),
            (
                "Recipient",
                f.map(|f| f.to.join(", "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into()),
            ),
            ("Subject", or_dash(f.and_then(|f| f.subject.as_ref()))),
            (
                "Message ID Header",
                f.and_then(|f| f.message_id.as_ref())
                    .map_or("-".to_string(), |i| format!("<{i}>")),
            ),
            (
                "Policy Match",
                t.policy_match.clone().unwrap_or_else(|| "N/A".into()),
            ),
        ];
        for (name, value) in rows {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        out.push_str("Sending Host Summary\n");
        let rdns = match &t.reverse_dns {
            Some(h) if t.reverse_dns_verified => format!("{h} (verified)"),
            Some(h) if h == "unknown" => h.clone(),
            Some(h) => format!("{h} (not verified)"),
            None => "-".into(),
        };
        for (name, value) in [
            ("Reverse DNS hostname", rdns),
            ("IP address", or_dash(t.sender_ip.as_ref())),
            ("SBRS Score", t.sbrs_score.clone()),
            ("Sender Group", or_dash(t.sender_group.as_ref())),
        ] {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        out.push_str("Processing Details\n");
        let mut date = "";
        for d in &t.details {
            if d.date != date {
                date = &d.date;
                out.push_str(&format!("  {date}\n"));
            }
            out.push_str(&format!("  {} {}\n", d.time, d.text));
        }
    }
    out
}
