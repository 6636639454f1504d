//! `bcc`, `bcc-scan`, `notify` and `notify-copy`: new messages built from
//! the one being filtered.
//!
//! A bcc copy is the message as it stands after the rewrites, to the bcc
//! address(es), with the subject replaced when one is given, from the
//! return path when one is given (else the original envelope sender), and
//! delivered by the alternate mail host when one is given. `bcc-scan`
//! differs only in that the copy is meant to pass the content scanners,
//! which do not exist yet; neither copy runs through the message filters
//! again (no filter loops). A notification is a short text message from
//! the null sender (so a notice can never cause a bounce loop); the
//! template argument, when given, is its text, and `notify-copy` attaches
//! the message.

use chrono::Utc;

use super::super::WorkQueue;
use super::{recipients, split_addresses};
use crate::config::Config;
use crate::filters::{self, CopyKind};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::MessageRecord;

pub(super) struct CopySpec<'a> {
    pub kind: CopyKind,
    pub to: &'a str,
    pub subject: Option<&'a str>,
    pub return_path: Option<&'a str>,
    pub third: Option<&'a str>,
    pub filter: &'a str,
}

impl WorkQueue {
    pub(super) fn copy(
        &mut self,
        config: &Config,
        record: &MessageRecord,
        body: &[u8],
        spec: &CopySpec<'_>,
    ) -> Option<(MessageRecord, Vec<u8>)> {
        let to = split_addresses(spec.to);
        if to.is_empty() {
            return None;
        }
        let Ok(new_mid) = self.ids.mid() else {
            tracing::error!("MID {}: cannot allocate a MID for a copy", record.mid);
            return None;
        };
        let mut copy = record.clone();
        copy.mid = new_mid;
        copy.received_at = Utc::now().timestamp();
        copy.recipients = recipients(&to);
        copy.processing = Default::default();
        copy.processing.processed = true;
        let (table, _) = super::table_for(config, record);
        copy.processing.mail_policy = Some(table.select(&copy.mail_from, &to[0]).to_string());
        let bytes = match spec.kind {
            CopyKind::Bcc | CopyKind::BccScan => {
                if let Some(rp) = spec.return_path {
                    copy.mail_from = rp.to_string();
                }
                copy.processing.alt_mailhost = spec.third.map(str::to_string);
                match spec.subject {
                    Some(s) => {
                        copy.subject = Some(s.to_string());
                        let stripped = filters::strip_header(body, "Subject");
                        filters::insert_header(&stripped, "Subject", s)
                    }
                    None => body.to_vec(),
                }
            }
            CopyKind::Notify | CopyKind::NotifyCopy => {
                copy.mail_from = spec.return_path.unwrap_or("").to_string();
                let subject = spec
                    .subject
                    .unwrap_or("Message filter notification")
                    .to_string();
                copy.subject = Some(subject.clone());
                copy.message_id = None;
                notice(
                    config,
                    record,
                    spec,
                    &to,
                    &subject,
                    (spec.kind == CopyKind::NotifyCopy).then_some(body),
                )
            }
        };
        copy.body_size = bytes.len() as u64;
        MailEvent::Generated {
            mid: new_mid,
            original: record.mid,
            kind: spec.kind.keyword().to_string(),
            filter: spec.filter.to_string(),
        }
        .log();
        Some((copy, bytes))
    }
}

/// One line of header text: no CR/LF, non-ASCII RFC 2047-encoded.
fn header_line(name: &str, value: &str) -> String {
    let one = crate::display::flatten(value, usize::MAX);
    let field = filters::insert_header(b"\r\n", name, &one);
    String::from_utf8_lossy(&field).trim_end().to_string()
}

fn notice(
    config: &Config,
    record: &MessageRecord,
    spec: &CopySpec<'_>,
    to: &[String],
    subject: &str,
    attach: Option<&[u8]>,
) -> Vec<u8> {
    let host = &config.hostname;
    let now = Utc::now();
    let text = match spec.third {
        Some(t) => t.to_string(),
        None => format!(
            "Message filter '{}' matched message MID {} on {host}.\r\n\r\nEnvelope sender: <{}>\r\nRecipients: {}\r\nSubject: {}\r\n",
            spec.filter,
            record.mid,
            record.mail_from,
            record
                .pending()
                .map(|r| format!("<{}>", r.address))
                .collect::<Vec<_>>()
                .join(", "),
            record.subject.as_deref().unwrap_or(""),
        ),
    };
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let mut out = String::new();
    out.push_str(&format!("From: <MAILER-DAEMON@{host}>\r\n"));
    out.push_str(&format!(
        "To: {}\r\n",
        to.iter()
            .map(|a| format!("<{a}>"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&header_line("Subject", subject));
    out.push_str("\r\n");
    out.push_str(&format!("Date: {}\r\n", now.to_rfc2822()));
    out.push_str(&format!(
        "Message-ID: <notify.{}.{}@{host}>\r\n",
        record.mid,
        now.timestamp_micros()
    ));
    out.push_str("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n");
    let charset = if text.is_ascii() { "us-ascii" } else { "utf-8" };
    let mut bytes = match attach {
        None => {
            out.push_str(&format!(
                "Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}"
            ));
            out.into_bytes()
        }
        Some(original) => {
            let boundary = format!("=_notify_{}_{}", record.mid, now.timestamp_micros());
            out.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
            let mut b = out.into_bytes();
            b.extend_from_slice(original);
            if !b.ends_with(b"\r\n") {
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            b
        }
    };
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}
