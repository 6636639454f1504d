//! Anti-virus scanning of each message after the per-recipient policy
//! split (AsyncOS's order: filters, policies, anti-spam, anti-virus), with
//! the message's mail policy's Anti-Virus settings.
//!
//! Like a `dnslist` lookup (`processing::lookups`), a scan does not wait in
//! the work queue's task: the message is set aside, clamd is asked in a
//! task of its own behind a semaphore of `max_parallel_scans` permits, and
//! the verdict comes back as a command that applies the policy's action
//! and lets the message go on to routing.
//!
//! The message stays in the queue (record and body) the whole time: a
//! crash or a restart recovers it and it is scanned again (at least once,
//! never lost). A message whose body already carries
//! `X-Breakwater-AV-Status` was acted on before the crash and is not
//! scanned twice. With the engine down, a fail-closed policy keeps the
//! message and scans it again every [`RESCAN_SECS`]; a fail-open one
//! applies the unscannable action (docs/decisions/0017-antivirus-clamav.md).

use std::sync::Arc;
use std::time::Duration;

use breakwater_config::antivirus::{
    self, AntiVirusSettings, Direction, EngineDown, PolicyAntiVirus, VerdictAction,
};
use chrono::Utc;
use tokio::sync::Semaphore;

use super::{Event, WorkQueue};
use crate::config::ListenerKind;
use crate::config::policy::DEFAULT_POLICY;
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::MessageRecord;
use crate::queue::record::Hold;
use crate::scan::clamav::{self, Verdict};

/// The header that records the outcome in the message.
pub const STATUS_HEADER: &str = "X-Breakwater-AV-Status";
/// The engine's name in `mail_logs` (`interim AV verdict using ClamAV`).
const ENGINE: &str = "ClamAV";
/// The quarantine anti-virus holds messages in (predefined).
const QUARANTINE: &str = "Virus";
/// Seconds between two scans of a message kept because the engine is
/// down (fail-closed): clamd restarts in a few seconds; a minute keeps
/// the retries cheap when it is down for long.
pub const RESCAN_SECS: u64 = 60;

/// The permits of the scans in flight; rebuilt when the setting changes.
#[derive(Default)]
pub(crate) struct Scanner {
    permits: Option<(u32, Arc<Semaphore>)>,
}

impl Scanner {
    fn permits(&mut self, max: u32) -> Arc<Semaphore> {
        match &self.permits {
            Some((n, s)) if *n == max => s.clone(),
            _ => {
                let s = Arc::new(Semaphore::new(max.max(1) as usize));
                self.permits = Some((max, s.clone()));
                s
            }
        }
    }
}

/// What a scan came to, for the policy to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Verdict(Verdict),
    /// The engine did not answer (connect error, timeout, bad reply).
    EngineDown(String),
    /// Already acted on before a restart.
    AlreadyScanned,
}

/// The policy settings in force for `record`, when it is to be scanned.
pub(crate) fn applies(
    settings: &AntiVirusSettings,
    incoming: bool,
    record: &MessageRecord,
) -> Option<PolicyAntiVirus> {
    if !settings.enabled
        || record.processing.skip_viruscheck
        || record.processing.tdc_copy_of.is_some()
        || record.processing.hold.is_some()
        || record.is_finished()
    {
        return None;
    }
    let direction = if incoming {
        Direction::Incoming
    } else {
        Direction::Outgoing
    };
    let policy = record
        .processing
        .mail_policy
        .as_deref()
        .unwrap_or(DEFAULT_POLICY);
    let p = settings.effective(direction, policy);
    p.enabled.then_some(p)
}

impl WorkQueue {
    /// After processing: `Some` when the message goes on now; `None` when
    /// it was set aside for a scan (it comes back through
    /// `admit_scanned`).
    pub(super) fn antivirus_gate(
        &mut self,
        record: MessageRecord,
        recovered: bool,
    ) -> Option<MessageRecord> {
        let config = self.config.borrow().clone();
        let incoming = config
            .listener(&record.reception.listener)
            .is_some_and(|l| l.kind == ListenerKind::Public);
        // Not scanned (scanning off, the policy's Anti-Virus disabled,
        // `skip-viruscheck`, a Threat Defense copy): it goes on now.
        let Some(policy) = applies(&config.antivirus, incoming, &record) else {
            return Some(record);
        };
        let settings = config.antivirus.clone();
        let permits = self.antivirus.permits(settings.max_parallel_scans);
        let queue = self.queue.clone();
        let back = self.commands.clone();
        tokio::spawn(async move {
            let mid = record.mid;
            let outcome = match queue.read_body(mid) {
                Err(e) => Outcome::Verdict(Verdict::Unscannable(format!(
                    "cannot read the message: {e}"
                ))),
                Ok(body) if has_status(&body) => Outcome::AlreadyScanned,
                Ok(body) if body.len() as u64 > settings.max_scan_bytes => {
                    Outcome::Verdict(Verdict::Unscannable(format!(
                        "message size {} exceeds the scanning limit {}",
                        body.len(),
                        settings.max_scan_bytes
                    )))
                }
                Ok(body) => {
                    let engine = clamav::Engine {
                        host: settings.host.clone(),
                        port: settings.port,
                    };
                    let timeout = Duration::from_secs(u64::from(settings.timeout_secs));
                    // The semaphore is never closed; without a permit the
                    // scan still runs rather than losing the message.
                    let _permit = permits.acquire_owned().await.ok();
                    match clamav::scan(&engine, &body, timeout).await {
                        Ok(v) => Outcome::Verdict(v),
                        Err(e) => Outcome::EngineDown(e.to_string()),
                    }
                }
            };
            let _ = back.send(Box::new(move |wq: &mut WorkQueue| {
                wq.antivirus_verdict(record, policy, outcome, recovered)
            }));
        });
        None
    }

    fn antivirus_verdict(
        &mut self,
        record: MessageRecord,
        p: PolicyAntiVirus,
        outcome: Outcome,
        recovered: bool,
    ) {
        let mid = record.mid;
        let (action, tag, status, verdict) = match outcome {
            Outcome::AlreadyScanned => return self.antivirus_done(record, recovered),
            Outcome::Verdict(Verdict::Clean) => {
                log_interim(mid, "CLEAN");
                MailEvent::AvNegative { mid }.log();
                return self.antivirus_done(record, recovered);
            }
            Outcome::Verdict(Verdict::Infected(name)) => {
                log_interim(mid, "VIRAL");
                MailEvent::AvPositive {
                    mid,
                    name: name.clone(),
                }
                .log();
                (
                    p.infected,
                    antivirus::TAG_INFECTED,
                    format!("infected ({name})"),
                    "VIRAL",
                )
            }
            Outcome::Verdict(Verdict::Encrypted(_)) => {
                log_interim(mid, "ENCRYPTED");
                MailEvent::AvEncrypted { mid }.log();
                (
                    p.encrypted,
                    antivirus::TAG_ENCRYPTED,
                    "encrypted".to_string(),
                    "ENCRYPTED",
                )
            }
            Outcome::Verdict(Verdict::Unscannable(why)) => {
                log_interim(mid, "UNSCANNABLE");
                MailEvent::AvUnscannable { mid, why }.log();
                (
                    p.unscannable,
                    antivirus::TAG_UNSCANNABLE,
                    "unscannable".to_string(),
                    "UNSCANNABLE",
                )
            }
            Outcome::EngineDown(why) => match p.engine_down {
                EngineDown::FailClosed => {
                    MailEvent::AvDeferred {
                        mid,
                        why,
                        secs: RESCAN_SECS,
                    }
                    .log();
                    let back = self.commands.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(RESCAN_SECS)).await;
                        let _ = back.send(Box::new(move |wq: &mut WorkQueue| {
                            if let Some(r) = wq.antivirus_gate(record, recovered) {
                                wq.antivirus_done(r, recovered);
                            }
                        }));
                    });
                    return;
                }
                EngineDown::FailOpen => {
                    MailEvent::AvUnscannable { mid, why }.log();
                    (
                        p.unscannable,
                        antivirus::TAG_UNSCANNABLE,
                        "unscanned".to_string(),
                        "UNSCANNABLE",
                    )
                }
            },
        };
        self.antivirus_act(record, action, tag, &status, verdict, recovered);
    }

    fn antivirus_act(
        &mut self,
        mut record: MessageRecord,
        action: VerdictAction,
        tag: &str,
        status: &str,
        verdict: &str,
        recovered: bool,
    ) {
        let mid = record.mid;
        match action {
            VerdictAction::Drop => {
                MailEvent::AvDropped {
                    mid,
                    verdict: status.to_string(),
                }
                .log();
                for _ in record.pending() {
                    self.stats.record(Event::Dropped);
                }
                if let Err(e) = self.queue.retire(&record) {
                    tracing::error!("MID {mid}: cannot remove from the queue: {e}");
                }
                MailEvent::FinishedAborted { mid }.log();
            }
            VerdictAction::Quarantine => {
                self.mark(&mut record, status, None);
                record.processing.hold = Some(Hold {
                    quarantine: QUARANTINE.to_string(),
                    filter: format!("anti-virus {status}"),
                    since: Utc::now().timestamp(),
                });
                // AsyncOS: `quarantined to "Virus" (a/v verdict:VIRAL)`.
                self.hold(record, &format!("a/v verdict:{verdict}"));
            }
            VerdictAction::Deliver => {
                self.mark(&mut record, status, None);
                self.antivirus_done(record, recovered);
            }
            VerdictAction::Tag => {
                self.mark(&mut record, status, Some(tag));
                self.antivirus_done(record, recovered);
            }
        }
    }

    /// A scanned message goes on: a new one to its Threat Defense copy and
    /// routing, a recovered one (copied before the restart) on its retry
    /// schedule.
    fn antivirus_done(&mut self, record: MessageRecord, recovered: bool) {
        if recovered {
            self.admit_recovered(record);
        } else {
            self.admit_scanned(record);
        }
    }

    /// Writes the status header (and the subject tag) into the spooled
    /// message; a failure is logged and the message goes on unchanged.
    fn mark(&mut self, record: &mut MessageRecord, status: &str, tag: Option<&str>) {
        let mid = record.mid;
        let body = match self.queue.read_body(mid) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("MID {mid}: cannot read the message to mark it: {e}");
                return;
            }
        };
        let mut new = crate::filters::insert_header(&body, STATUS_HEADER, status);
        if let Some(tag) = tag {
            new = tag_subject(&new, tag);
            let old = record.subject.clone().unwrap_or_default();
            record.subject = Some(format!("{tag} {old}").trim_end().to_string());
        }
        if let Err(e) = self.queue.replace_body(record, &new) {
            tracing::error!("MID {mid}: cannot store the marked message: {e}");
        }
    }
}

fn log_interim(mid: crate::ids::Mid, verdict: &str) {
    MailEvent::AvInterim {
        mid,
        engine: ENGINE.to_string(),
        verdict: verdict.to_string(),
    }
    .log();
}

/// Whether the top-level header block has the status header.
fn has_status(body: &[u8]) -> bool {
    let end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(body.len());
    let head = String::from_utf8_lossy(&body[..end]);
    let prefix = format!("{}:", STATUS_HEADER.to_ascii_lowercase());
    head.lines()
        .any(|l| l.to_ascii_lowercase().starts_with(&prefix))
}

/// Prefixes the Subject with `tag` (adds a Subject when there is none).
pub(crate) fn tag_subject(body: &[u8], tag: &str) -> Vec<u8> {
    let has_subject = {
        let end = body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(body.len());
        String::from_utf8_lossy(&body[..end])
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("subject:"))
    };
    if !has_subject {
        return crate::filters::insert_header(body, "Subject", tag);
    }
    match crate::filters::Pattern::new("^", false) {
        Ok(start) => crate::filters::edit_header_text(body, "Subject", &start, &format!("{tag} ")),
        Err(_) => body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_tagged_once_and_the_status_is_seen() {
        let body = b"From: a@b\r\nSubject: hello\r\n\r\nbody\r\n";
        let tagged = tag_subject(body, antivirus::TAG_INFECTED);
        let text = String::from_utf8_lossy(&tagged);
        assert!(
            text.contains("Subject: [WARNING: VIRUS DETECTED] hello\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nbody\r\n"));
        let none = tag_subject(b"From: a@b\r\n\r\nx\r\n", antivirus::TAG_UNSCANNABLE);
        assert!(String::from_utf8_lossy(&none).contains("Subject: [WARNING: A/V UNSCANNABLE]"));
        assert!(!has_status(body));
        let marked = crate::filters::insert_header(body, STATUS_HEADER, "unscanned");
        assert!(has_status(&marked));
        // A header-like line in the body does not count.
        assert!(!has_status(
            b"Subject: x\r\n\r\nX-Breakwater-AV-Status: clean\r\n"
        ));
    }
}
