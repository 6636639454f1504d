//! The Spam Quarantine's end-user notification (AsyncOS's "Spam
//! Notification"): every `interval_minutes`, and at once on `quarantine
//! notify now`, each recipient of mail held in `Spam` since the last
//! digest receives one message listing it (date received, MID, sender,
//! subject).
//!
//! A digest is the gateway's own mail, sent as alerts are: from the null
//! sender (a digest that bounces raises nothing more), already processed
//! (no filter or scanner sees it), made durable through the queue and
//! delivered like any message. The instant of the last digest is kept in
//! the data directory, so a restart neither repeats a digest nor skips
//! the messages held while the gateway was down. The first digest lists
//! everything held; the first periodic one comes an interval after the
//! notification was enabled (or the gateway started with it enabled).
//!
//! Times are whole seconds: a message held in the very second of a
//! digest goes in the next one, unless that digest listed it. A message
//! whose scheduled exit `quarantine delay` moved (it moves the hold's
//! start, as the record's shape is fixed) is listed again by the digest
//! after its new start.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::super::WorkQueue;
use super::{local_time, recipients};
use crate::config::{Config, SPAM_QUARANTINE};
use crate::filters;
use crate::ids::{Icid, Mid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::record::{MessageRecord, Processing, Reception};

/// The file in the data directory holding the last digest's Unix second.
const LAST_DIGEST_FILE: &str = "spam_notification.last";

/// Where the digests stand.
#[derive(Debug, Default)]
pub(crate) struct DigestState {
    /// Unix second of the last digest, once read from the data directory
    /// (0 before the first: it lists everything held).
    last: Option<i64>,
    /// When this process first saw the notification enabled: before any
    /// digest, the first interval counts from then.
    enabled_since: Option<i64>,
    /// MIDs held in the second of the last digest and listed by a digest
    /// of that second: the next digest lists what was held in that same
    /// second after it (times are in seconds), and not these again.
    listed: BTreeSet<Mid>,
}

impl WorkQueue {
    /// The last digest's instant, 0 before the first.
    fn last_digest(&mut self) -> i64 {
        if let Some(last) = self.processing.digest.last {
            return last;
        }
        let path = self.data_dir.join(LAST_DIGEST_FILE);
        let last = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        self.processing.digest.last = Some(last);
        last
    }

    fn remember_digest(&mut self, now: i64) {
        self.processing.digest.last = Some(now);
        let path = self.data_dir.join(LAST_DIGEST_FILE);
        if let Err(e) = std::fs::write(&path, format!("{now}\n")) {
            tracing::error!(
                "cannot record the last spam notification in {}: {e}",
                path.display()
            );
        }
    }

    /// Called every work-queue tick: sends the digests when enabled and
    /// the interval has passed since the last ones.
    pub(in crate::workqueue) fn spam_digest_due(&mut self, now: i64) {
        let config = self.config.borrow().clone();
        let n = &config.quarantine_settings.spam_notification;
        if !n.enabled {
            self.processing.digest.enabled_since = None;
            return;
        }
        let enabled_since = *self.processing.digest.enabled_since.get_or_insert(now);
        let last = self.last_digest();
        let from = if last > 0 { last } else { enabled_since };
        if now >= from.saturating_add(i64::from(n.interval_minutes.max(1)) * 60) {
            self.send_spam_digests(now);
        }
    }

    /// Sends one digest per recipient of the mail held in `Spam` since the
    /// last digest; says what was sent.
    pub(super) fn send_spam_digests(&mut self, now: i64) -> String {
        let config = self.config.borrow().clone();
        let last = self.last_digest();
        // By recipient (case-insensitively), the messages to list, oldest
        // first (the held map is by MID).
        let mut by_rcpt: BTreeMap<String, (String, Vec<&MessageRecord>)> = BTreeMap::new();
        // Held in the last digest's second and listed then: not again.
        let before = std::mem::take(&mut self.processing.digest.listed);
        // Digests in the same second add to what that second listed.
        let mut listed = if last == now {
            before.clone()
        } else {
            BTreeSet::new()
        };
        let mut count = 0usize;
        for r in self.held_in(SPAM_QUARANTINE) {
            let Some(h) = r.processing.hold.as_ref() else {
                continue;
            };
            if h.since < last || h.since > now || before.contains(&r.mid) {
                continue;
            }
            count += 1;
            if h.since == now {
                listed.insert(r.mid);
            }
            for rcpt in r.pending() {
                by_rcpt
                    .entry(rcpt.address.to_ascii_lowercase())
                    .or_insert_with(|| (rcpt.address.clone(), Vec::new()))
                    .1
                    .push(r);
            }
        }
        let mut digests = Vec::new();
        for (address, messages) in by_rcpt.values() {
            let Ok(mid) = self.ids.mid() else {
                tracing::error!("cannot allocate a MID for a spam notification");
                break;
            };
            let body = digest_body(&config, mid, address, messages, now);
            MailEvent::SpamNotification {
                mid,
                address: address.clone(),
                count: messages.len() as u64,
            }
            .log();
            digests.push((digest_record(&config, mid, address, &body, now), body));
        }
        let sent = digests.len();
        self.processing.digest.listed = listed;
        self.remember_digest(now);
        let queue = self.queue.clone();
        tokio::spawn(async move {
            for (record, body) in digests {
                let mid = record.mid;
                if let Err(e) = queue.enqueue(record, body).await {
                    tracing::error!("MID {mid}: the spam notification could not be queued: {e}");
                }
            }
        });
        let since = if last > 0 {
            format!(" held since {}", local_time(last))
        } else {
            String::new()
        };
        format!(
            "Spam Quarantine notifications sent: {sent} recipient(s), {count} message(s){since}."
        )
    }
}

/// The digest's record: the gateway's own message, already processed.
fn digest_record(config: &Config, mid: Mid, address: &str, body: &[u8], now: i64) -> MessageRecord {
    let n = &config.quarantine_settings.spam_notification;
    MessageRecord {
        mid,
        received_at: now,
        reception: Reception {
            icid: Icid(0),
            listener: "(spam notification)".to_string(),
            interface: config.delivery.interface.clone(),
            sender_group: String::new(),
            policy: String::new(),
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            rdns: None,
            rdns_verified: false,
            helo: config.hostname.clone(),
            tls: None,
        },
        // The null sender: a digest that bounces raises nothing more.
        mail_from: String::new(),
        recipients: recipients(&[address.to_string()]),
        body_size: body.len() as u64,
        message_id: None,
        subject: Some(n.subject.clone()),
        processing: Processing {
            processed: true,
            ..Default::default()
        },
    }
}

/// One header field: no CR/LF, non-ASCII RFC 2047-encoded.
fn header(name: &str, value: &str) -> String {
    let one = crate::display::flatten(value, usize::MAX);
    let field = filters::insert_header(b"\r\n", name, &one);
    format!("{}\r\n", String::from_utf8_lossy(&field).trim_end())
}

/// The digest (RFC 5322, CRLF lines, UTF-8 text).
fn digest_body(
    config: &Config,
    mid: Mid,
    address: &str,
    messages: &[&MessageRecord],
    now: i64,
) -> Vec<u8> {
    let n = &config.quarantine_settings.spam_notification;
    let host = &config.hostname;
    let date = chrono::DateTime::from_timestamp(now, 0).unwrap_or_else(Utc::now);
    let mut out = header("From", &n.from_for(host));
    out.push_str(&format!("To: <{address}>\r\n"));
    out.push_str(&header("Subject", &n.subject));
    out.push_str(&format!("Date: {}\r\n", date.to_rfc2822()));
    out.push_str(&format!(
        "Message-ID: <spamnotify.{mid}.{}@{host}>\r\n",
        Utc::now().timestamp_micros()
    ));
    out.push_str(
        "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    out.push_str(&format!(
        "{}\r\n\r\n{} message(s) sent to <{address}> were quarantined as spam on {host}.\r\n\
         Ask your mail administrator to release a message you want (quote its MID).\r\n\r\n",
        crate::display::flatten(&n.title, 200),
        messages.len()
    ));
    for r in messages {
        out.push_str(&format!(
            "Date received: {}\r\nMID: {}\r\nFrom: <{}>\r\nSubject: {}\r\n\r\n",
            local_time(r.received_at),
            r.mid,
            crate::display::flatten(&r.mail_from, 254),
            crate::display::flatten(r.subject.as_deref().unwrap_or(""), 200),
        ));
    }
    out.into_bytes()
}
