//! The work queue's side of the Threat Defense Connector: making the copy
//! of a message its incoming mail policy selects, and applying the seed's
//! retry table and age limit to copies (see `crate::tdc`).

use super::{Event, WorkQueue};
use crate::config::ListenerKind;
use crate::config::policy::DEFAULT_POLICY;
use crate::delivery::{Outcome, bounced_by_destination};
use crate::ids::{Dcid, Mid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::TdcTag;
use crate::queue::record::Processing;
use crate::queue::{MessageRecord, Recipient, RecipientStatus};
use crate::tdc::{self, FailureKind, RetryRule};

impl WorkQueue {
    /// Ends the TDC copies older than the age limit that are not being
    /// delivered right now (one in delivery is ended when its attempt
    /// reports, see `copy_outcome`'s caller).
    pub(super) fn expire_tdc_copies(&mut self, now: i64) {
        let max_age = i64::from(self.config.borrow().threat_defense.max_age_secs);
        while let Some(&(received_at, mid)) = self.tdc_ages.first() {
            if now - received_at < max_age {
                break;
            }
            self.tdc_ages.pop_first();
            let Some(active) = self.active.get_mut(&mid) else {
                continue;
            };
            if active.in_flight > 0 {
                continue;
            }
            if expire_copy(&mut active.record, now, max_age) {
                self.stats.record(Event::TdcExpired);
                self.settle(mid);
            }
        }
    }

    /// After processing, when `record` will be delivered: enqueue its copy
    /// for Threat Defense if its incoming mail policy asks for one. The
    /// copy is independent: its failures never touch the real message.
    pub(super) fn threat_defense_copy(&mut self, record: &MessageRecord) {
        let config = self.config.borrow().clone();
        if record.processing.tdc_copy_of.is_some() || record.is_finished() {
            return;
        }
        // Incoming mail only, as the seed says.
        let incoming = config
            .listener(&record.reception.listener)
            .is_some_and(|l| l.kind == ListenerKind::Public);
        if !incoming {
            return;
        }
        let policy = record
            .processing
            .mail_policy
            .as_deref()
            .unwrap_or(DEFAULT_POLICY);
        let Some(settings) = config.incoming_policies.settings(policy) else {
            return;
        };
        let wanted = config.incoming_policies.threat_defense(settings);
        let Some(intake) = tdc::intake_for(&config.threat_defense, wanted) else {
            return;
        };
        let original = match self.queue.read_body(record.mid) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(
                    "TDC: MID {}: cannot read the message to copy: {e}",
                    record.mid
                );
                return;
            }
        };
        let body = tdc::copy_body(
            &original,
            record.reception.client_ip,
            &config.threat_defense.header_name,
        );
        let Ok(mid) = self.ids.mid() else {
            tracing::error!(
                "TDC: cannot allocate a MID for the copy of MID {}",
                record.mid
            );
            return;
        };
        let copy = MessageRecord {
            mid,
            received_at: chrono::Utc::now().timestamp(),
            reception: record.reception.clone(),
            mail_from: record.mail_from.clone(),
            recipients: vec![Recipient {
                rid: Rid(0),
                address: intake,
                status: RecipientStatus::Pending,
                attempts: 0,
                next_attempt: 0,
                last_response: None,
            }],
            body_size: body.len() as u64,
            message_id: record.message_id.clone(),
            subject: record.subject.clone(),
            processing: Processing {
                processed: true,
                mail_policy: Some(policy.to_string()),
                tdc_copy_of: Some(record.mid),
                ..Default::default()
            },
        };
        MailEvent::TdcEnqueued {
            mid,
            message_id: record.message_id.as_deref().unwrap_or("").to_string(),
            original: record.mid,
        }
        .log();
        let queue = self.queue.clone();
        tokio::spawn(async move {
            if let Err(e) = queue.enqueue(copy, body).await {
                tracing::error!("TDC: MID {mid}: the copy could not be queued: {e}");
            }
        });
    }
}

/// True (and the copy finished) when a TDC copy has been in the queue
/// longer than `max_age` seconds, whatever happened to it.
pub(super) fn expire_copy(record: &mut MessageRecord, now: i64, max_age: i64) -> bool {
    if record.processing.tdc_copy_of.is_none() || now - record.received_at < max_age {
        return false;
    }
    let mid = record.mid;
    for r in record
        .recipients
        .iter_mut()
        .filter(|r| r.status == RecipientStatus::Pending)
    {
        r.status = RecipientStatus::Dropped;
    }
    MailEvent::TdcExpired { mid, max_age }.log();
    true
}

/// Applies a delivery outcome to a TDC copy's recipient with the seed's
/// retry table: a copy is retried at most once and never the cause of a
/// DSN. A hard failure logs as seed 004 shows it: `TDC: MID n delivery
/// failed to Cisco Secure Email Threat Defense: Hard Bounced.`, then the
/// recipient's `Bounced: DCID d MID n to RID 0 - Bounced by destination
/// server with response: ...` (`dcid`: the connection, 0 for none).
pub(super) fn copy_outcome(
    mid: Mid,
    r: &mut Recipient,
    outcome: Outcome,
    now: i64,
    retry_secs: u32,
    dcid: Dcid,
) -> Event {
    let text = match outcome {
        Outcome::Delivered(text) => {
            r.status = RecipientStatus::Delivered;
            r.last_response = Some(text);
            return Event::TdcSent;
        }
        Outcome::Deferred(text) | Outcome::Bounced(text) => text,
    };
    let kind = tdc::failure_kind(&text);
    r.attempts += 1;
    r.last_response = Some(text.clone());
    if tdc::retry_rule(kind) == RetryRule::RetryOnce && r.attempts < 2 {
        r.next_attempt = now + i64::from(retry_secs);
        MailEvent::TdcRetry {
            mid,
            text: text.to_string(),
        }
        .log();
        return Event::SoftBounced;
    }
    r.status = RecipientStatus::Dropped;
    let words = tdc::failure_words(kind);
    if matches!(kind, FailureKind::Reply(code) if code >= 500) {
        MailEvent::TdcFailed {
            mid,
            detail: format!("{words}."),
        }
        .log();
        MailEvent::Bounced {
            tdc: TdcTag(false),
            dcid,
            mid,
            rid: r.rid,
            reason: bounced_by_destination(&text),
        }
        .log();
        return Event::TdcFailed;
    }
    let detail = if text.starts_with(words) {
        text
    } else {
        format!("{words} ({text})")
    };
    MailEvent::TdcFailed {
        mid,
        detail: detail.to_string(),
    }
    .log();
    Event::TdcFailed
}
