//! Anti-spam in the work queue: rspamd's verdict on a message, acted on
//! per mail policy after the per-recipient split (AsyncOS's order:
//! filters, policies, anti-spam, anti-virus).
//!
//! The scan runs once per message, before the filters run and before
//! `processing.processed` is recorded, in a task of its own (like the DNS
//! list queries, see `processing`): the work queue goes on with other
//! messages meanwhile, and a crash before processing is recorded scans the
//! message again on recovery, so no message is routed unscanned because of
//! a restart. Scanning before the filters means the engine sees the message
//! as the sender sent it, and a filter's `skip-spamcheck` makes the work
//! queue ignore the verdict (the scan is spent, the outcome is AsyncOS's).
//! The verdict is then applied to each message of the split with the
//! actions of its policy (see `docs/decisions/0019-antispam.md`).
//!
//! When the engine cannot be asked (down, timeout, bad reply), a policy
//! that fails open delivers the message with `X-Breakwater-Spam-Status:
//! unscanned`; when one of the message's policies fails closed, the whole
//! message waits unprocessed in the queue and is scanned again every
//! `retry_secs` (and after a restart).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;

use super::WorkQueue;
use super::processing::Pass;
use crate::config::antispam::{
    AntiSpamSettings, Direction, EngineDown, Score, SpamAction, SpamActions, UNSCANNED_HEADER,
    VerdictAction,
};
use crate::config::{Config, ListenerKind, SPAM_QUARANTINE};
use crate::filters::{Pattern, edit_header_text, insert_header};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::record::Hold;
use crate::queue::{MessageRecord, RecipientStatus};
use crate::scan::rspamd::{CheckReply, CheckRequest, ENGINE, Engine};

/// The name quarantine holds, drops and bounces by anti-spam carry where
/// a filter's name goes. A filter's name is an identifier and cannot
/// contain '-', so no filter can be mistaken for it.
pub(super) const FILTER: &str = "anti-spam";

/// Symbols named in the score line: enough to see why, short enough for
/// one log line.
const LOGGED_SYMBOLS: usize = 5;

/// The engine's answer on one message, kept for the processing pass.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scan {
    /// Nothing to ask: the engine is off, no policy of the message scans,
    /// or the message is too big (logged once).
    NotScanned,
    Reply(CheckReply),
    /// The engine could not be asked; fail-open policies deliver with the
    /// unscanned header.
    Failed(String),
}

/// A verdict after a policy's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Positive,
    Suspect,
    Negative,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Positive => "positive",
            Verdict::Suspect => "suspect",
            Verdict::Negative => "negative",
        }
    }
}

/// rspamd's own reading: `reject` is spam, `add header` and `rewrite
/// subject` are suspect, the rest (`no action`, `greylist`, `soft
/// reject`: those are about the SMTP session, not the content) negative.
fn engine_verdict(reply: &CheckReply) -> Verdict {
    match reply.action.as_str() {
        "reject" => Verdict::Positive,
        "add header" | "rewrite subject" => Verdict::Suspect,
        _ => Verdict::Negative,
    }
}

/// The policy's reading: its score thresholds when set, else rspamd's.
pub(crate) fn classify(reply: &CheckReply, actions: &SpamActions) -> Verdict {
    let score = Score::from_f64(reply.score);
    let engine = engine_verdict(reply);
    if actions.positive_score.is_some_and(|p| score >= p) {
        return Verdict::Positive;
    }
    if actions.positive_score.is_none() && engine == Verdict::Positive {
        return Verdict::Positive;
    }
    if actions.suspect_score.is_some_and(|s| score >= s) {
        return Verdict::Suspect;
    }
    if actions.suspect_score.is_none() && engine == Verdict::Suspect {
        return Verdict::Suspect;
    }
    Verdict::Negative
}

fn direction_of(config: &Config, record: &MessageRecord) -> Direction {
    let public = config
        .listener(&record.reception.listener)
        .is_some_and(|l| l.kind == ListenerKind::Public);
    if public {
        Direction::Incoming
    } else {
        Direction::Outgoing
    }
}

/// What the message's policies want of the engine: `None` when none
/// scans, else whether one of them holds the message when the engine is
/// down.
fn wanted(config: &Config, record: &MessageRecord) -> Option<bool> {
    let direction = direction_of(config, record);
    let table = match direction {
        Direction::Incoming => &config.incoming_policies,
        Direction::Outgoing => &config.outgoing_policies,
    };
    let mut hold = None;
    for r in record.pending() {
        let policy = table.select(&record.mail_from, &r.address);
        if let Some(a) = config.antispam.effective(direction, policy) {
            hold = Some(hold.unwrap_or(false) || a.engine_down == EngineDown::Hold);
        }
    }
    hold
}

/// Scans in flight at once, resized when `antispamconfig` changes it.
pub(crate) struct Permits {
    size: u32,
    semaphore: Arc<Semaphore>,
}

impl Default for Permits {
    fn default() -> Self {
        let size = AntiSpamSettings::default().max_concurrent;
        Permits {
            size,
            semaphore: Arc::new(Semaphore::new(size as usize)),
        }
    }
}

impl Permits {
    fn get(&mut self, size: u32) -> Arc<Semaphore> {
        if size != self.size {
            // Scans holding permits of the old semaphore finish on it.
            *self = Permits {
                size,
                semaphore: Arc::new(Semaphore::new(size as usize)),
            };
        }
        self.semaphore.clone()
    }
}

impl WorkQueue {
    /// Before the filters: starts the scan the message needs, if any.
    /// `Some(pass)` (with `spam` set) when processing goes on now; `None`
    /// when the message went to the engine (it comes back through
    /// `resume`).
    pub(super) fn spam_scan(
        &mut self,
        config: &Config,
        record: MessageRecord,
        mut pass: Pass,
    ) -> Option<(MessageRecord, Pass)> {
        let settings = &config.antispam;
        let Some(hold) = settings.enabled.then(|| wanted(config, &record)).flatten() else {
            pass.spam = Some(Scan::NotScanned);
            return Some((record, pass));
        };
        let mid = record.mid;
        if record.body_size > settings.max_message_size {
            MailEvent::SpamSkippedSize {
                mid,
                size: record.body_size,
                max: settings.max_message_size,
            }
            .log();
            pass.spam = Some(Scan::NotScanned);
            return Some((record, pass));
        }
        let body = match self.queue.read_body(mid) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("MID {mid}: cannot read the body for the anti-spam scan: {e}");
                pass.spam = Some(Scan::Failed(format!("cannot read the message: {e}")));
                return Some((record, pass));
            }
        };
        let r = &record.reception;
        let request = CheckRequest {
            client_ip: r.client_ip,
            helo: r.helo.clone(),
            mail_from: record.mail_from.clone(),
            rcpts: record.pending().map(|x| x.address.clone()).collect(),
            queue_id: mid.to_string(),
            user: None,
            hostname: r.rdns.clone().filter(|_| r.rdns_verified),
        };
        let engine = Engine {
            host: settings.host.clone(),
            port: settings.port,
            timeout: Duration::from_secs(u64::from(settings.timeout_secs)),
        };
        let retry = u64::from(settings.retry_secs);
        let permits = self.processing.spam_permits.get(settings.max_concurrent);
        let back = self.commands.clone();
        tokio::spawn(async move {
            let answer = match permits.acquire_owned().await {
                Ok(_permit) => engine
                    .check(&request, &body)
                    .await
                    .map_err(|e| e.to_string()),
                Err(_) => Err("scans are shut down".to_string()),
            };
            // `first` stays: the filters have not run yet, so the message
            // is still to be counted for `header-repeats`.
            let mut pass = pass;
            match answer {
                Ok(reply) => pass.spam = Some(Scan::Reply(reply)),
                Err(reason) if hold => {
                    MailEvent::SpamRetry {
                        mid,
                        engine: ENGINE.to_string(),
                        reason,
                        secs: retry,
                    }
                    .log();
                    // Unprocessed and off the active list: scanned again
                    // after the pause (and after a restart, as recovery
                    // processes it again).
                    tokio::time::sleep(Duration::from_secs(retry)).await;
                }
                Err(reason) => pass.spam = Some(Scan::Failed(reason)),
            }
            let _ = back.send(Box::new(move |wq: &mut WorkQueue| wq.resume(record, pass)));
        });
        None
    }

    /// After the split: the verdict acted on for one message with the
    /// actions of its policy. The body is changed in place (tags,
    /// headers); the answer is what becomes of the message.
    pub(super) fn spam_act(
        &self,
        config: &Config,
        record: &mut MessageRecord,
        body: &mut Vec<u8>,
        scan: &Scan,
    ) -> SpamFate {
        let mid = record.mid;
        if matches!(scan, Scan::NotScanned) {
            return SpamFate::Route;
        }
        let direction = direction_of(config, record);
        let policy = record
            .processing
            .mail_policy
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_POLICY.to_string());
        let Some(actions) = config.antispam.effective(direction, &policy) else {
            return SpamFate::Route;
        };
        if record.processing.skip_spamcheck {
            MailEvent::SpamSkippedFilter { mid }.log();
            return SpamFate::Route;
        }
        let reply = match scan {
            Scan::Reply(r) => r,
            Scan::Failed(reason) => {
                MailEvent::SpamUnscanned {
                    mid,
                    engine: ENGINE.to_string(),
                    reason: reason.clone(),
                }
                .log();
                *body = insert_header(body, UNSCANNED_HEADER, "unscanned");
                return SpamFate::Route;
            }
            Scan::NotScanned => return SpamFate::Route,
        };
        MailEvent::SpamInterim {
            mid,
            engine: ENGINE.to_string(),
            verdict: engine_verdict(reply).word().to_string(),
        }
        .log();
        MailEvent::SpamScore {
            mid,
            score: Score::from_f64(reply.score).to_string(),
            required: Score::from_f64(reply.required_score).to_string(),
            symbols: reply.top_symbols(LOGGED_SYMBOLS).join(","),
        }
        .log();
        let verdict = classify(reply, &actions);
        MailEvent::SpamVerdict {
            mid,
            engine: ENGINE.to_string(),
            verdict: verdict.word().to_string(),
        }
        .log();
        MailEvent::Antispam {
            mid,
            verdict: verdict.word().to_string(),
        }
        .log();
        crate::metrics::count_spam_verdict(verdict.word());
        let action = match verdict {
            Verdict::Positive => &actions.positive,
            Verdict::Suspect => &actions.suspect,
            Verdict::Negative => return SpamFate::Route,
        };
        if matches!(action.action, SpamAction::Deliver | SpamAction::Quarantine) {
            *body = tagged(body, action);
        }
        match action.action {
            SpamAction::Deliver => SpamFate::Route,
            SpamAction::Drop => SpamFate::Drop,
            SpamAction::Bounce => SpamFate::Bounce,
            SpamAction::Quarantine => {
                // The hold logs nothing for anti-spam: this line says why.
                MailEvent::Quarantined {
                    mid,
                    quarantine: SPAM_QUARANTINE.to_string(),
                    reason: format!("antispam {}", verdict.word()),
                }
                .log();
                SpamFate::Hold
            }
        }
    }

    /// After the split: the verdict acted on for the message being
    /// processed (its fate is returned) and for each part of the split
    /// (dropped parts leave `parts`; the others carry their tags, bounced
    /// recipients or Spam quarantine hold into the queue).
    pub(super) fn spam_apply(
        &mut self,
        config: &Config,
        record: &mut MessageRecord,
        body: &mut Option<Vec<u8>>,
        parts: &mut Vec<(MessageRecord, Vec<u8>)>,
        scan: &Scan,
    ) -> SpamFate {
        if matches!(scan, Scan::NotScanned) {
            return SpamFate::Route;
        }
        let mid = record.mid;
        let mut b = match body.take() {
            Some(b) => b,
            None => match self.queue.read_body(mid) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(
                        "MID {mid}: cannot read the body to act on its spam verdict: {e}"
                    );
                    return SpamFate::Route;
                }
            },
        };
        let before = b.len();
        let original = b.clone();
        let fate = self.spam_act(config, record, &mut b, scan);
        if (b.len() != before || b != original)
            && let Err(e) = self.queue.replace_body(record, &b)
        {
            tracing::error!("MID {mid}: cannot store the tagged message: {e}");
        }
        *body = Some(b);
        let mut kept = Vec::with_capacity(parts.len());
        for (mut part, mut pb) in parts.drain(..) {
            let f = self.spam_act(config, &mut part, &mut pb, scan);
            part.body_size = pb.len() as u64;
            if self.spam_part(&mut part, f) {
                kept.push((part, pb));
            }
        }
        *parts = kept;
        fate
    }

    /// A split part's spam fate, before it is queued: `false` when it is
    /// not to be queued at all (dropped).
    pub(super) fn spam_part(&self, part: &mut MessageRecord, fate: SpamFate) -> bool {
        match fate {
            SpamFate::Route => true,
            SpamFate::Drop => {
                MailEvent::SpamDropped {
                    mid: part.mid,
                    engine: ENGINE.to_string(),
                }
                .log();
                MailEvent::FinishedAborted { mid: part.mid }.log();
                false
            }
            SpamFate::Hold => {
                part.processing.hold = Some(hold());
                true
            }
            SpamFate::Bounce => {
                // Queued with its recipients bounced: dispatch finds
                // nothing pending and settles it, which sends the DSN.
                let reason = BOUNCE_REASON.to_string();
                for r in part
                    .recipients
                    .iter_mut()
                    .filter(|r| r.status == RecipientStatus::Pending)
                {
                    r.status = RecipientStatus::Bounced;
                    r.last_response = Some(reason.clone());
                    MailEvent::Bounced {
                        tdc: crate::logging::event::TdcTag(false),
                        dcid: crate::ids::Dcid(0),
                        mid: part.mid,
                        rid: r.rid,
                        reason: reason.clone(),
                    }
                    .log();
                }
                true
            }
        }
    }
}

/// The Spam quarantine's hold.
pub(super) fn hold() -> Hold {
    Hold {
        quarantine: SPAM_QUARANTINE.to_string(),
        filter: FILTER.to_string(),
        since: Utc::now().timestamp(),
    }
}

/// The DSN's reason for a bounced spam message.
pub(super) const BOUNCE_REASON: &str = "5.7.1 - Message rejected as spam";

/// What becomes of a message after its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpamFate {
    Route,
    Drop,
    Bounce,
    Hold,
}

/// The message with the action's subject tag and custom header.
fn tagged(body: &[u8], action: &VerdictAction) -> Vec<u8> {
    let mut out = body.to_vec();
    if let Some(tag) = action.subject_tag.as_deref().filter(|t| !t.is_empty()) {
        out = prepend_subject(&out, tag);
    }
    if let Some((name, value)) = &action.header {
        out = insert_header(&out, name, value);
    }
    out
}

/// `tag` before the subject (a `Subject` made of the tag when there is
/// none).
pub(crate) fn prepend_subject(body: &[u8], tag: &str) -> Vec<u8> {
    let Ok(start) = Pattern::new("^", false) else {
        return body.to_vec();
    };
    // The replacement is a template: a backslash in the tag is literal.
    let replacement = tag.replace('\\', "\\\\");
    let out = edit_header_text(body, "Subject", &start, &replacement);
    if out != body {
        return out;
    }
    insert_header(body, "Subject", tag.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(action: &str, score: f64) -> CheckReply {
        CheckReply {
            action: action.into(),
            score,
            required_score: 15.0,
            symbols: Default::default(),
        }
    }

    #[test]
    fn rspamd_actions_map_to_verdicts_unless_the_policy_sets_scores() {
        let a = SpamActions::default();
        assert_eq!(classify(&reply("reject", 20.0), &a), Verdict::Positive);
        assert_eq!(classify(&reply("add header", 7.0), &a), Verdict::Suspect);
        assert_eq!(
            classify(&reply("rewrite subject", 9.0), &a),
            Verdict::Suspect
        );
        assert_eq!(classify(&reply("greylist", 4.5), &a), Verdict::Negative);
        assert_eq!(classify(&reply("no action", 0.0), &a), Verdict::Negative);
        let scored = SpamActions {
            positive_score: Some(Score(1000)),
            suspect_score: Some(Score(400)),
            ..Default::default()
        };
        assert_eq!(
            classify(&reply("no action", 10.0), &scored),
            Verdict::Positive
        );
        assert_eq!(classify(&reply("reject", 5.0), &scored), Verdict::Suspect);
        assert_eq!(classify(&reply("reject", 3.99), &scored), Verdict::Negative);
    }

    #[test]
    fn the_subject_gets_the_tag_or_becomes_it() {
        let m = b"From: a@example.org\r\nSubject: Hello\r\n\r\nbody\r\n";
        let out = String::from_utf8(prepend_subject(m, "[SPAM] ")).unwrap();
        assert!(out.contains("Subject: [SPAM] Hello\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nbody\r\n"));
        let m = b"From: a@example.org\r\n\r\nbody\r\n";
        let out = String::from_utf8(prepend_subject(m, "[SPAM] ")).unwrap();
        assert!(out.contains("Subject: [SPAM]\r\n"), "{out}");
        let out = String::from_utf8(prepend_subject(b"Subject: x\r\n\r\n", "a\\1 ")).unwrap();
        assert!(out.contains("Subject: a\\1 x"), "{out}");
    }

    #[test]
    fn tagging_adds_the_custom_header() {
        let action = VerdictAction {
            action: SpamAction::Deliver,
            subject_tag: None,
            header: Some(("X-Spam".into(), "yes".into())),
        };
        let out = String::from_utf8(tagged(b"Subject: x\r\n\r\nb\r\n", &action)).unwrap();
        assert!(out.contains("X-Spam: yes\r\n"), "{out}");
        assert!(out.contains("Subject: x\r\n"));
    }
}
