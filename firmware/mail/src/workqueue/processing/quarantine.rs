//! Quarantines inside the work queue: holding a message in its
//! quarantine (making room by the overflow action), the retention timer,
//! `quarantine delay`, release and delete, and the `quarantine` commands'
//! listings. Held messages stay in the queue with `processing.hold` set
//! (see the parent module and decision 0004).

use chrono::Utc;

use super::super::WorkQueue;
use super::super::antispam;
use super::{Fate, MAX_EXPIRIES_PER_TICK, Next, local_time};
use crate::config::{Config, OverflowAction, quarantine_settings};
use crate::ids::Mid;
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::MessageRecord;

impl WorkQueue {
    /// Puts a record with `hold` set into its quarantine, making room by
    /// the quarantine's overflow action if it is full. `reason` ends the
    /// log line as AsyncOS words it (`message filter:NAME`, `a/v
    /// verdict:VIRAL`).
    pub(in crate::workqueue) fn hold(&mut self, record: MessageRecord, reason: &str) {
        let mid = record.mid;
        let Some(hold) = record.processing.hold.clone() else {
            return;
        };
        let config = self.config.borrow().clone();
        let q = quarantine_settings::quarantine(&config, &hold.quarantine);
        if let Some(q) = &q {
            loop {
                let used: u64 = self.held_in(&q.name).map(|r| r.body_size).sum();
                if used + record.body_size <= q.max_bytes {
                    break;
                }
                let Some(oldest) = self.held_in(&q.name).map(|r| r.mid).next() else {
                    break;
                };
                // AsyncOS's words: `released from quarantine "Policy"
                // (queue full)`.
                self.default_action(q.overflow, oldest, "queue full");
            }
        } else {
            tracing::warn!(
                "MID {mid}: quarantine \"{}\" is not configured; holding the message anyway",
                hold.quarantine
            );
        }
        if let Err(e) = self.queue.update(&record) {
            tracing::error!("MID {mid}: cannot update the queue record: {e}");
        }
        // Anti-spam wrote its own line (`antispam` verdict).
        if hold.filter != antispam::FILTER {
            MailEvent::Quarantined {
                mid,
                quarantine: hold.quarantine.to_string(),
                reason: reason.to_string(),
            }
            .log();
        }
        self.processing.held.insert(mid, record);
        self.count_held();
    }

    /// A quarantine's default action on one held message.
    pub(super) fn default_action(&mut self, action: OverflowAction, mid: Mid, why: &str) {
        let done = match action {
            OverflowAction::Release => self.release(mid, why),
            OverflowAction::Delete => self.delete_held(mid, why),
        };
        if let Err(e) = done {
            tracing::error!("{e}");
        }
    }

    /// Tells the queue how much of it is held, so that the delivery
    /// queue's counts (`status`, alerts, reports) leave quarantines out.
    pub(super) fn count_held(&self) {
        let bytes = self.processing.held.values().map(|r| r.body_size).sum();
        self.queue
            .set_held(self.processing.held.len() as u64, bytes);
    }

    /// The retention timer: messages whose scheduled exit has come get
    /// their quarantine's default action, at most
    /// [`MAX_EXPIRIES_PER_TICK`] per call so that a large quarantine
    /// expiring at once does not stall the work queue.
    pub(in crate::workqueue) fn expire_held(&mut self, now: i64) {
        if self.processing.held.is_empty() {
            return;
        }
        let config = self.config.borrow().clone();
        let mut due: Vec<(Mid, OverflowAction)> = Vec::new();
        let mut exits: std::collections::HashMap<String, Option<(i64, OverflowAction)>> =
            Default::default();
        for r in self.processing.held.values() {
            let Some(h) = r.processing.hold.as_ref() else {
                continue;
            };
            let rule = exits
                .entry(h.quarantine.to_ascii_lowercase())
                .or_insert_with(|| {
                    quarantine_settings::quarantine(&config, &h.quarantine).map(|q| {
                        let minutes = quarantine_settings::retention_minutes(&config, &q);
                        (i64::from(minutes) * 60, q.overflow)
                    })
                });
            // A quarantine no longer configured keeps its messages until
            // an administrator releases or deletes them.
            if let Some((retention, action)) = *rule
                && h.since.saturating_add(retention) <= now
            {
                due.push((r.mid, action));
                if due.len() >= MAX_EXPIRIES_PER_TICK {
                    break;
                }
            }
        }
        for (mid, action) in due {
            // AsyncOS: `deleted from quarantine "Anti-Virus" (expired)`.
            self.default_action(action, mid, "expired");
        }
    }

    /// When a held message leaves its quarantine by itself (Unix seconds),
    /// `None` when its quarantine is not configured.
    pub(super) fn scheduled_exit(&self, config: &Config, r: &MessageRecord) -> Option<i64> {
        let h = r.processing.hold.as_ref()?;
        let q = quarantine_settings::quarantine(config, &h.quarantine)?;
        let minutes = quarantine_settings::retention_minutes(config, &q);
        Some(h.since.saturating_add(i64::from(minutes) * 60))
    }

    /// `quarantine delay MID PERIOD`: AsyncOS's "Delay Scheduled Exit". The
    /// hold's start moves later by the period (the record's shape is
    /// fixed); reception time stays in the record.
    pub(super) fn delay_held(&mut self, mid: Mid, period: &str) -> Result<String, String> {
        let minutes = quarantine_settings::parse_retention(period)?;
        let config = self.config.borrow().clone();
        let r = self
            .processing
            .held
            .get_mut(&mid)
            .ok_or_else(|| format!("MID {mid} is not in a quarantine."))?;
        let Some(h) = r.processing.hold.as_mut() else {
            return Err(format!("MID {mid} is not in a quarantine."));
        };
        h.since = h.since.saturating_add(i64::from(minutes) * 60);
        let name = h.quarantine.clone();
        if let Err(e) = self.queue.update(r) {
            return Err(format!("MID {mid}: cannot update the queue record: {e}"));
        }
        let exit = self
            .processing
            .held
            .get(&mid)
            .and_then(|r| self.scheduled_exit(&config, r))
            .map_or_else(|| "never".to_string(), local_time);
        Ok(format!(
            "Message {mid}: scheduled exit from quarantine \"{name}\" delayed to {exit}."
        ))
    }

    /// Held messages of one quarantine, oldest first.
    pub(super) fn held_in<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s MessageRecord> + 's {
        self.processing.held.values().filter(move |r| {
            r.processing
                .hold
                .as_ref()
                .is_some_and(|h| h.quarantine.eq_ignore_ascii_case(name))
        })
    }

    /// `quarantine release`: the message goes on to the mail policies and
    /// delivery, under its own MID.
    pub(crate) fn release(&mut self, mid: Mid, why: &str) -> Result<String, String> {
        let mut record = self
            .processing
            .held
            .remove(&mid)
            .ok_or_else(|| format!("MID {mid} is not in a quarantine."))?;
        let name = record
            .processing
            .hold
            .take()
            .map(|h| h.quarantine)
            .unwrap_or_default();
        self.count_held();
        MailEvent::Released {
            mid,
            quarantine: name.to_string(),
            why: why.to_string(),
        }
        .log();
        let config = self.config.borrow().clone();
        let parts = if self.needs_split(&config, &record) {
            match self.queue.read_body(mid) {
                Ok(b) => self.split(&config, &mut record, &b),
                Err(e) => return Err(format!("MID {mid}: cannot read the message: {e}")),
            }
        } else {
            self.split(&config, &mut record, &[])
        };
        // Released mail is not scanned or copied again.
        if let Some(r) = self.after_enqueue(record, Fate::Route, parts, Next::Route) {
            self.route(r);
        }
        Ok(format!(
            "Message {mid} released from quarantine \"{name}\"."
        ))
    }

    /// `quarantine delete`: the message is removed without delivery.
    pub(crate) fn delete_held(&mut self, mid: Mid, why: &str) -> Result<String, String> {
        let record = self
            .processing
            .held
            .remove(&mid)
            .ok_or_else(|| format!("MID {mid} is not in a quarantine."))?;
        let name = record
            .processing
            .hold
            .as_ref()
            .map(|h| h.quarantine.clone())
            .unwrap_or_default();
        // Uncounted first: retiring lowers the queue's totals.
        self.count_held();
        if let Err(e) = self.retire(&record) {
            return Err(format!("MID {mid}: cannot remove from the queue: {e}"));
        }
        MailEvent::QuarantineDeleted {
            mid,
            quarantine: name.to_string(),
            why: why.to_string(),
        }
        .log();
        MailEvent::FinishedAborted { mid }.log();
        Ok(format!("Message {mid} deleted from quarantine \"{name}\"."))
    }

    /// `quarantine ...` commands, run inside the work queue.
    pub(crate) fn quarantine_command(&mut self, args: &[String]) -> Result<String, String> {
        let words: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
        let mid_of = |s: &String| {
            s.parse::<u64>()
                .map(Mid)
                .map_err(|_| format!("'{s}' is not a MID."))
        };
        match words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] | ["list"] => Ok(self.quarantine_list(None)),
            ["list", _] => Ok(self.quarantine_list(Some(&args[1]))),
            ["show", _] => self.quarantine_show(mid_of(&args[1])?),
            ["release", _] => self.release(mid_of(&args[1])?, "manual"),
            ["delete", _] => self.delete_held(mid_of(&args[1])?, "manual"),
            ["delay", _, _] => self.delay_held(mid_of(&args[1])?, &args[2]),
            ["notify", "now"] => Ok(self.send_spam_digests(Utc::now().timestamp())),
            _ => Err(crate::quarantine::USAGE.to_string()),
        }
    }

    pub(super) fn quarantine_list(&self, only: Option<&str>) -> String {
        let config = self.config.borrow().clone();
        let mut out = String::from(
            "Quarantine            Messages        Size  Maximum  % Full  Default action\n",
        );
        for q in quarantine_settings::quarantines(&config) {
            let (n, bytes) = self
                .held_in(&q.name)
                .fold((0u64, 0u64), |(n, b), r| (n + 1, b + r.body_size));
            let full = bytes as f64 * 100.0 / q.max_bytes.max(1) as f64;
            out.push_str(&format!(
                "{:<20} {:>9} {:>11} {:>8} {:>6.1}%  {}\n",
                q.name,
                n,
                bytes,
                format_size(q.max_bytes),
                full,
                q.overflow.word()
            ));
        }
        let held: Vec<&MessageRecord> = match only {
            Some(name) => self.held_in(name).collect(),
            None => self.processing.held.values().collect(),
        };
        if held.is_empty() {
            out.push_str("\nNo messages are held.\n");
            return out;
        }
        out.push_str("\n     MID  Quarantine  Scheduled exit             Size  From / Subject\n");
        for r in held {
            let h = r.processing.hold.as_ref();
            let exit = self
                .scheduled_exit(&config, r)
                .map_or_else(|| "never".to_string(), local_time);
            out.push_str(&format!(
                "{:>8}  {:<10}  {:<23} {:>6}  <{}> {}\n",
                r.mid,
                h.map(|h| h.quarantine.as_str()).unwrap_or(""),
                exit,
                r.body_size,
                r.mail_from,
                r.subject.as_deref().unwrap_or("")
            ));
        }
        out
    }

    pub(super) fn quarantine_show(&self, mid: Mid) -> Result<String, String> {
        let r = self
            .processing
            .held
            .get(&mid)
            .ok_or_else(|| format!("MID {mid} is not in a quarantine."))?;
        let h = r.processing.hold.as_ref();
        let mut out = format!(
            "MID: {mid}\nQuarantine: {}\nQuarantined by filter: {}\nEnvelope sender: <{}>\nRecipients: {}\nSender group: {}\nClient: {}\nSize: {} bytes\n",
            h.map(|h| h.quarantine.as_str()).unwrap_or(""),
            h.map(|h| h.filter.as_str()).unwrap_or(""),
            r.mail_from,
            r.pending()
                .map(|x| format!("<{}>", x.address))
                .collect::<Vec<_>>()
                .join(", "),
            r.reception.sender_group,
            r.reception.client_ip,
            r.body_size,
        );
        let config = self.config.borrow().clone();
        out.push_str(&format!(
            "Received: {}\nScheduled exit: {}\n",
            local_time(r.received_at),
            self.scheduled_exit(&config, r)
                .map_or_else(|| "never".to_string(), local_time)
        ));
        if let Ok(body) = self.queue.read_body(mid) {
            let end = body
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(body.len().min(8192), |p| p + 2);
            out.push_str("\nHeaders:\n");
            out.push_str(&String::from_utf8_lossy(&body[..end.min(65536)]));
        }
        Ok(out)
    }
}

fn format_size(bytes: u64) -> String {
    const M: u64 = 1024 * 1024;
    if bytes.is_multiple_of(M) {
        format!("{}M", bytes / M)
    } else {
        bytes.to_string()
    }
}
