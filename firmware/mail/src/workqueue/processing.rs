//! Processing: what happens to a new message between the queue and
//! routing. Message filters run first, on the whole message; then each
//! recipient is matched against the mail policy table of the message's
//! direction, and a message whose recipients match different policies is
//! split into one message per policy (AsyncOS's order: filters, then
//! per-recipient policies).
//!
//! It runs once per message: the record's `processing.processed` flag is
//! set (and written with the next queue flush) before the message is
//! routed, so recovery routes a processed message directly and processes
//! again only a message whose crash came first. Processing again can repeat
//! side effects (a bcc copy, an archive entry, an inserted header): at least
//! once, never lost.
//!
//! Effects, in order, for a message whose filters took actions:
//! 1. `log-entry` lines; recorded settings (`alt-mailhost`, `alt-src-host`,
//!    `bounce-profile`, `tag-message`, `skip-*`) go into the record;
//! 2. message rewrites (`apply_rewrites`) replace the spooled body
//!    atomically (`QueueHandle::replace_body`);
//! 3. `archive` appends to an mbox; `bcc`, `bcc-scan`, `notify`,
//!    `notify-copy`, `duplicate-quarantine` and the policy split build new
//!    messages with new MIDs, which are made durable through the committer
//!    like any received message (they arrive back at `admit` already
//!    processed);
//! 4. only then the original gets its fate: routed, held in a quarantine,
//!    dropped (`drop()`, no DSN), bounced (`bounce()`, DSN to the sender),
//!    or retired after `alt-rcpt-to` handed it on under a new MID.
//!
//! Quarantined messages stay in the queue (record in sled, body in the
//! spool) with `processing.hold` set; the work queue keeps them aside in
//! [`State::held`] and never routes them until `quarantine release`.
//! Keeping them in the queue, rather than copying them into a tree of their
//! own, keeps one commit protocol for every stored message and lets a
//! release keep the MID.
//!
//! Filters are compiled once per committed configuration (the cache is
//! keyed by the config `Arc`): a commit costs one parse, a message none.
//!
//! A filter that reaches a `dnslist` rule whose answer is not known yet
//! does not wait in this task: its verdict is set aside, the zones are
//! queried in a task of their own, and the message is processed again
//! when the answers come back ([`Pass`]). Meanwhile every other message
//! goes on. The `random` rule draws from a generator seeded once per
//! message, so a second pass draws what the first did.
//!
//! Anti-spam works the same way (`super::antispam`): before the filters
//! run, a message one of whose policies scans is set aside while rspamd is
//! asked; the verdict comes back with the [`Pass`] and is acted on after
//! the split, per split message.

mod archive;
mod copies;
mod digest;
mod lookups;
mod quarantine;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Semaphore;

use super::antispam::{self, SpamFate};
use super::{Active, Event, WorkQueue};
use crate::config::{Config, ListenerKind, MailPolicyTable};
use crate::filters::{self, ActionKind, Filter, FinalAction, MessageContext};
use crate::ids::{Dcid, Mid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::TdcTag;
use crate::queue::record::Hold;
use crate::queue::{MessageRecord, Recipient, RecipientStatus};
use lookups::{MAX_DNSLIST_QUERIES, QueueLookups, Repeats};

/// The work queue's processing state.
pub(crate) struct State {
    /// Filters of the committed config they were compiled from.
    compiled: Option<(Arc<Config>, Arc<Vec<Filter>>)>,
    /// Quarantined messages, by MID.
    pub(crate) held: BTreeMap<Mid, MessageRecord>,
    repeats: Repeats,
    /// DNS list queries in flight, over all messages.
    dnslist_permits: Arc<Semaphore>,
    /// Anti-spam scans in flight.
    pub(super) spam_permits: super::antispam::Permits,
    /// The Spam Quarantine notification's last digest.
    digest: digest::DigestState,
}

/// Where a routed original goes once the messages its processing made (a
/// policy split's parts, `bcc` copies) are queued: like any new message
/// through its content scans and Threat Defense copy (`admit_processed`),
/// or straight to routing (recovered mail, which made its copy before,
/// and mail released from a quarantine).
#[derive(Debug, Clone, Copy)]
enum Next {
    Admit,
    Route,
}

impl Default for State {
    fn default() -> Self {
        State {
            compiled: None,
            held: BTreeMap::new(),
            repeats: Repeats::default(),
            dnslist_permits: Arc::new(Semaphore::new(MAX_DNSLIST_QUERIES)),
            spam_permits: Default::default(),
            digest: Default::default(),
        }
    }
}

/// One run of the filters on a message, and what earlier runs learnt.
#[derive(Debug, Clone)]
pub(super) struct Pass {
    /// No earlier run: count the message for `header-repeats`.
    first: bool,
    /// Found on disk at start: once processed, it is routed as recovery
    /// routes, not admitted as a new message.
    recovered: bool,
    /// The `random` rule's seed for this message.
    seed: u64,
    /// DNS list answers by zone (`zone_key`).
    dnslists: std::collections::HashMap<String, Vec<std::net::IpAddr>>,
    /// The anti-spam engine's answer, once asked.
    pub(super) spam: Option<super::antispam::Scan>,
}

impl Pass {
    fn first(recovered: bool) -> Pass {
        Pass {
            first: true,
            recovered,
            seed: rand::random(),
            dnslists: Default::default(),
            spam: None,
        }
    }
}

/// What becomes of the message being processed once its new messages are
/// durable.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Route,
    Hold {
        quarantine: String,
        filter: String,
    },
    Drop {
        filter: String,
    },
    Bounce {
        filter: String,
    },
    /// Handed on under a new MID (`alt-rcpt-to`).
    Replaced,
}

/// Compiles the committed filter list; a stored filter that no longer
/// parses (it was valid when it was committed) is skipped and reported.
pub(crate) fn compile(config: &Config) -> Vec<Filter> {
    let mut out = Vec::with_capacity(config.message_filters.len());
    for f in &config.message_filters {
        match filters::parse(&f.source) {
            Ok(parsed) => out.extend(parsed.into_iter().map(|mut p| {
                p.active = f.active;
                p
            })),
            Err(e) => tracing::error!("message filter '{}' does not parse: {e}", f.name),
        }
    }
    out
}

/// `mail_logs` names the tables "inbound" and "outbound".
fn table_for<'c>(
    config: &'c Config,
    record: &MessageRecord,
) -> (&'c MailPolicyTable, &'static str) {
    let public = config
        .listener(&record.reception.listener)
        .is_some_and(|l| l.kind == ListenerKind::Public);
    if public {
        (&config.incoming_policies, "inbound")
    } else {
        (&config.outgoing_policies, "outbound")
    }
}

/// The message as the filters see it.
pub(crate) fn context<'a>(
    config: &Config,
    record: &MessageRecord,
    body: &'a [u8],
) -> MessageContext<'a> {
    let mut ctx = MessageContext::new(record.mid, body, Utc::now());
    ctx.envelope_sender = record.mail_from.clone();
    ctx.recipients = record.pending().map(|r| r.address.clone()).collect();
    let r = &record.reception;
    ctx.sender_group = (!r.sender_group.is_empty()).then(|| r.sender_group.clone());
    ctx.listener = r.listener.clone();
    ctx.interface = r.interface.clone();
    ctx.remote_ip = r.client_ip;
    ctx.remote_host = r.rdns.clone().filter(|_| r.rdns_verified);
    ctx.policy = record.processing.mail_policy.clone();
    ctx.hostname = config.hostname.clone();
    ctx
}

impl WorkQueue {
    /// A record found on disk at start: processed again if the crash came
    /// before its processing was recorded, kept aside if it is held.
    /// `Some` when it should be routed at once.
    pub(super) fn recover(&mut self, record: MessageRecord) -> Option<MessageRecord> {
        if record.processing.processed && record.processing.hold.is_none() {
            return Some(record);
        }
        self.process_pass(record, Pass::first(true))
    }

    /// Runs filters and policies on a newly committed message. `Some` when
    /// the message is to be routed now; otherwise processing has taken it
    /// (held, dropped, or waiting for its new messages to be queued).
    pub(super) fn process(&mut self, record: MessageRecord) -> Option<MessageRecord> {
        self.process_pass(record, Pass::first(false))
    }

    /// A message whose DNS list answers came back: processed again, then
    /// admitted (or routed, if it was recovered).
    pub(super) fn resume(&mut self, record: MessageRecord, pass: Pass) {
        let recovered = pass.recovered;
        let Some(record) = self.process_pass(record, pass) else {
            return;
        };
        if recovered {
            if let Some(record) = self.antivirus_gate(record, true) {
                self.admit_recovered(record);
            }
        } else {
            self.admit_processed(record);
        }
    }

    /// Queries `zones` for the message's client in a task of its own, then
    /// resumes its processing with the answers.
    fn await_dnslists(&mut self, record: MessageRecord, mut pass: Pass, zones: Vec<String>) {
        let dns = self.delivery.dns();
        let permits = self.processing.dnslist_permits.clone();
        let back = self.commands.clone();
        tokio::spawn(async move {
            let mid = record.mid;
            let ip = record.reception.client_ip;
            for (zone, answer) in lookups::query_dnslists(&dns, &permits, ip, zones).await {
                let listed = answer.unwrap_or_else(|reason| {
                    MailEvent::DnslistFailed {
                        mid,
                        zone: zone.clone(),
                        reason: reason.to_string(),
                    }
                    .log();
                    Vec::new()
                });
                pass.dnslists.insert(zone, listed);
            }
            let _ = back.send(Box::new(move |wq: &mut WorkQueue| wq.resume(record, pass)));
        });
    }

    fn process_pass(&mut self, record: MessageRecord, pass: Pass) -> Option<MessageRecord> {
        if record.processing.processed {
            if record.processing.hold.is_some() {
                self.processing.held.insert(record.mid, record);
                self.count_held();
                return None;
            }
            return Some(record);
        }
        let config = self.config.borrow().clone();
        // Anti-spam asks its engine first (see `antispam`).
        let (mut record, pass) = match pass.spam {
            Some(_) => (record, pass),
            None => self.spam_scan(&config, record, pass)?,
        };
        let filters = self.compiled_filters(&config);
        let mid = record.mid;
        let mut extra: Vec<(MessageRecord, Vec<u8>)> = Vec::new();
        let mut fate = Fate::Route;
        let mut body: Option<Vec<u8>> = None;

        if filters.iter().any(|f| f.active) {
            let raw = match self.queue.read_body(mid) {
                Ok(b) => b,
                Err(e) => {
                    // Without its body the message cannot be filtered or
                    // delivered: keep it queued for the operator.
                    tracing::error!("MID {mid}: cannot read the body for the message filters: {e}");
                    return None;
                }
            };
            let direction = table_for(&config, &record).1;
            let ctx = context(&config, &record, &raw);
            if pass.first {
                self.processing
                    .repeats
                    .count(direction, &record.mail_from, ctx.subject());
            }
            let lookups = QueueLookups {
                repeats: &self.processing.repeats,
                direction,
                dnslists: &pass.dnslists,
                missing: Default::default(),
            };
            let mut rng = StdRng::seed_from_u64(pass.seed);
            let verdict = filters::evaluate(&filters, &ctx, &lookups, &mut rng);
            let missing = lookups.missing.into_inner();
            if !missing.is_empty() {
                drop(ctx);
                let mut next = pass;
                next.first = false;
                self.await_dnslists(record, next, missing);
                return None;
            }
            crate::metrics::count_filter_hits(&verdict.trace);
            if let Some(hit) = ctx.mime_limit() {
                MailEvent::FiltersPartial {
                    mid,
                    hit: hit.to_string(),
                }
                .log();
            }
            drop(ctx);
            let mut new_body = None;
            if verdict.actions.iter().any(|a| a.kind.is_rewrite()) {
                let rewritten = filters::apply_rewrites(&verdict.actions, &raw);
                if rewritten != raw {
                    new_body = Some(rewritten);
                }
            }
            let current = new_body.as_deref().unwrap_or(&raw);
            let mut alt_rcpt: Option<(String, String)> = None;
            for a in &verdict.actions {
                match &a.kind {
                    ActionKind::LogEntry { text } => {
                        MailEvent::CustomLogEntry {
                            mid,
                            text: text.clone(),
                        }
                        .log();
                    }
                    ActionKind::TagMessage { tag } => record.processing.tags.push(tag.clone()),
                    ActionKind::AltMailhost { host } => {
                        record.processing.alt_mailhost = Some(host.clone())
                    }
                    ActionKind::AltSrcHost { interface } => {
                        record.processing.alt_src_host = Some(interface.clone())
                    }
                    ActionKind::BounceProfile { name } => {
                        record.processing.bounce_profile = Some(name.clone())
                    }
                    ActionKind::SkipSpamcheck => record.processing.skip_spamcheck = true,
                    ActionKind::SkipViruscheck => record.processing.skip_viruscheck = true,
                    ActionKind::AltRcptTo { address } => {
                        alt_rcpt = Some((address.clone(), a.filter.clone()))
                    }
                    ActionKind::Archive { mbox } => {
                        if let Err(e) = archive::append_in(
                            &self.data_dir.join("archive"),
                            &config.archive,
                            mbox,
                            &record.mail_from,
                            current,
                        ) {
                            tracing::error!("MID {mid}: archive '{mbox}': {e}");
                        } else {
                            MailEvent::Archived {
                                mid,
                                mbox: mbox.to_string(),
                                filter: a.filter.to_string(),
                            }
                            .log();
                        }
                    }
                    ActionKind::Copy {
                        kind,
                        to,
                        subject,
                        return_path,
                        third,
                    } => {
                        let spec = copies::CopySpec {
                            kind: *kind,
                            to,
                            subject: subject.as_deref(),
                            return_path: return_path.as_deref(),
                            third: third.as_deref(),
                            filter: &a.filter,
                        };
                        if let Some(copy) = self.copy(&config, &record, current, &spec) {
                            extra.push(copy);
                        }
                    }
                    ActionKind::DuplicateQuarantine { name } => {
                        if let Some((mut copy, b)) = self.duplicate(&record, current, &a.filter) {
                            copy.processing.hold = Some(Hold {
                                quarantine: name.clone(),
                                filter: a.filter.clone(),
                                since: Utc::now().timestamp(),
                            });
                            extra.push((copy, b));
                        }
                    }
                    ActionKind::Quarantine { name } => {
                        fate = Fate::Hold {
                            quarantine: name.clone(),
                            filter: a.filter.clone(),
                        }
                    }
                    _ => {}
                }
            }
            match (verdict.final_action, verdict.final_filter) {
                (Some(FinalAction::Drop), Some(filter)) => fate = Fate::Drop { filter },
                (Some(FinalAction::Bounce), Some(filter)) => fate = Fate::Bounce { filter },
                _ => {}
            }
            if let Some(b) = new_body {
                if let Err(e) = self.queue.replace_body(&mut record, &b) {
                    tracing::error!("MID {mid}: cannot store the rewritten message: {e}");
                }
                body = Some(b);
            } else {
                body = Some(raw);
            }
            // alt-rcpt-to: the message goes on under a new MID to the new
            // recipient(s); a drop or bounce wins over it.
            if let (Some((address, filter)), Fate::Route | Fate::Hold { .. }) = (alt_rcpt, &fate)
                && let Some((mut next, b)) =
                    self.duplicate(&record, body.as_deref().unwrap_or(&[]), "")
            {
                next.recipients = recipients(&split_addresses(&address));
                MailEvent::Rewritten {
                    mid,
                    new_mid: next.mid,
                    filter: filter.clone(),
                }
                .log();
                match std::mem::replace(&mut fate, Fate::Replaced) {
                    Fate::Hold { quarantine, filter } => {
                        next.processing.hold = Some(Hold {
                            quarantine,
                            filter,
                            since: Utc::now().timestamp(),
                        });
                    }
                    _ => {
                        let parts = self.split(&config, &mut next, &b);
                        extra.extend(parts);
                    }
                }
                next.processing.processed = true;
                extra.insert(0, (next, b));
            }
        }
        if fate == Fate::Route {
            let mut parts = match (&body, self.needs_split(&config, &record)) {
                (_, false) => self.split(&config, &mut record, &[]),
                (Some(b), true) => self.split(&config, &mut record, b),
                (None, true) => match self.queue.read_body(mid) {
                    Ok(b) => self.split(&config, &mut record, &b),
                    Err(e) => {
                        tracing::error!("MID {mid}: cannot read the body to split it: {e}");
                        Vec::new()
                    }
                },
            };
            if let Some(scan) = pass.spam.as_ref() {
                fate = match self.spam_apply(&config, &mut record, &mut body, &mut parts, scan) {
                    SpamFate::Route => Fate::Route,
                    SpamFate::Drop => Fate::Drop {
                        filter: antispam::FILTER.to_string(),
                    },
                    SpamFate::Bounce => Fate::Bounce {
                        filter: antispam::FILTER.to_string(),
                    },
                    SpamFate::Hold => Fate::Hold {
                        quarantine: crate::config::SPAM_QUARANTINE.to_string(),
                        filter: antispam::FILTER.to_string(),
                    },
                };
            }
            extra.extend(parts);
        }
        record.processing.processed = true;
        // A recovered message made its Threat Defense copy before the crash.
        let next = if pass.recovered {
            Next::Route
        } else {
            Next::Admit
        };
        self.after_enqueue(record, fate, extra, next)
    }

    fn compiled_filters(&mut self, config: &Arc<Config>) -> Arc<Vec<Filter>> {
        match &self.processing.compiled {
            Some((c, f)) if Arc::ptr_eq(c, config) => f.clone(),
            _ => {
                let compiled = Arc::new(compile(config));
                self.processing.compiled = Some((config.clone(), compiled.clone()));
                compiled
            }
        }
    }

    /// Makes `extra` durable, then gives the original its fate. Without new
    /// messages that happens now (`Some` when it is to be routed, and the
    /// caller goes on); with them, a routed original then goes on as
    /// `next` says.
    fn after_enqueue(
        &mut self,
        record: MessageRecord,
        fate: Fate,
        extra: Vec<(MessageRecord, Vec<u8>)>,
        next: Next,
    ) -> Option<MessageRecord> {
        if extra.is_empty() {
            return self.conclude(record, fate);
        }
        let queue = self.queue.clone();
        let back = self.commands.clone();
        tokio::spawn(async move {
            for (r, b) in extra {
                let m = r.mid;
                if let Err(e) = queue.enqueue(r, b).await {
                    tracing::error!("MID {m}: could not be queued: {e}");
                }
            }
            let _ = back.send(Box::new(move |wq: &mut WorkQueue| {
                if let Some(r) = wq.conclude(record, fate) {
                    match next {
                        Next::Admit => wq.admit_processed(r),
                        Next::Route => wq.route(r),
                    }
                }
            }));
        });
        None
    }

    /// Hands a processed record to routing.
    pub(super) fn route(&mut self, record: MessageRecord) {
        let mid = record.mid;
        self.active.insert(
            mid,
            Active {
                record,
                in_flight: 0,
            },
        );
        self.dispatch(mid);
    }

    fn conclude(&mut self, mut record: MessageRecord, fate: Fate) -> Option<MessageRecord> {
        let mid = record.mid;
        match fate {
            // Held at reception (a DMARC quarantine verdict): the filters
            // ran, but the message stays in its quarantine.
            Fate::Route if record.processing.hold.is_some() => {
                let reason = record
                    .processing
                    .hold
                    .as_ref()
                    .map(|h| format!("message filter:{}", h.filter))
                    .unwrap_or_default();
                self.hold(record, &reason);
                None
            }
            Fate::Route => {
                if let Err(e) = self.queue.update(&record) {
                    tracing::error!("MID {mid}: cannot update the queue record: {e}");
                }
                Some(record)
            }
            Fate::Hold { quarantine, filter } => {
                let reason = format!("message filter:{filter}");
                record.processing.hold = Some(Hold {
                    quarantine,
                    filter,
                    since: Utc::now().timestamp(),
                });
                self.hold(record, &reason);
                None
            }
            Fate::Drop { filter } => {
                if filter == antispam::FILTER {
                    MailEvent::SpamDropped {
                        mid,
                        engine: crate::scan::rspamd::ENGINE.to_string(),
                    }
                    .log();
                } else {
                    MailEvent::DroppedByFilter {
                        mid,
                        filter: filter.to_string(),
                    }
                    .log();
                }
                self.retire_dropped(&record);
                None
            }
            Fate::Bounce { filter } => {
                let reason = if filter == antispam::FILTER {
                    antispam::BOUNCE_REASON.to_string()
                } else {
                    format!("5.7.1 - Bounced by filter '{filter}'")
                };
                let mut rids = Vec::new();
                for r in record
                    .recipients
                    .iter_mut()
                    .filter(|r| r.status == RecipientStatus::Pending)
                {
                    r.status = RecipientStatus::Bounced;
                    r.last_response = Some(reason.clone());
                    rids.push(r.rid);
                }
                // AsyncOS: `Bounced: DCID 0 MID n to RID 0 - ...`, one
                // line per recipient (no connection was made).
                for rid in &rids {
                    MailEvent::Bounced {
                        tdc: TdcTag(false),
                        dcid: Dcid(0),
                        mid,
                        rid: *rid,
                        reason: reason.clone(),
                    }
                    .log();
                }
                for _ in &rids {
                    self.stats.record(Event::HardBounced);
                }
                // settle() sends the DSN and retires the message.
                self.route(record);
                None
            }
            Fate::Replaced => {
                if let Err(e) = self.retire(&record) {
                    tracing::error!("MID {mid}: cannot remove from the queue: {e}");
                }
                MailEvent::FinishedDone { mid }.log();
                None
            }
        }
    }

    /// A message dropped whole (a filter's `drop()`, an anti-spam or
    /// anti-virus drop): its pending recipients counted as dropped, the
    /// message retired without a DSN, its end logged.
    pub(super) fn retire_dropped(&mut self, record: &MessageRecord) {
        let mid = record.mid;
        for _ in record.pending() {
            self.stats.record(Event::Dropped);
        }
        if let Err(e) = self.retire(record) {
            tracing::error!("MID {mid}: cannot remove from the queue: {e}");
        }
        MailEvent::FinishedAborted { mid }.log();
    }

    /// Whether the pending recipients match more than one policy.
    fn needs_split(&self, config: &Config, record: &MessageRecord) -> bool {
        let (table, _) = table_for(config, record);
        let mut names = record
            .pending()
            .map(|r| table.select(&record.mail_from, &r.address));
        let first = names.next();
        names.any(|n| Some(n) != first)
    }

    /// Matches each pending recipient against the policy table; the first
    /// policy's recipients stay in `record`, every other policy's go to a
    /// new message (returned, to be queued). `body` is needed only when
    /// there is a split.
    fn split(
        &mut self,
        config: &Config,
        record: &mut MessageRecord,
        body: &[u8],
    ) -> Vec<(MessageRecord, Vec<u8>)> {
        let (table, label) = table_for(config, record);
        let mid = record.mid;
        let mut groups: Vec<(String, Vec<Recipient>)> = Vec::new();
        let mut kept = Vec::new();
        for r in record.recipients.drain(..) {
            if r.status != RecipientStatus::Pending {
                kept.push(r);
                continue;
            }
            let name = table.select(&record.mail_from, &r.address).to_string();
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some((_, list)) => list.push(r),
                None => groups.push((name, vec![r])),
            }
        }
        let mut groups = groups.into_iter();
        let Some((first, first_rcpts)) = groups.next() else {
            record.recipients = kept;
            return Vec::new();
        };
        kept.extend(first_rcpts);
        kept.sort_by_key(|r| r.rid);
        record.recipients = kept;
        record.processing.mail_policy = Some(first.clone());
        let mut parts = Vec::new();
        for (name, rcpts) in groups {
            let Ok(new_mid) = self.ids.mid() else {
                tracing::error!("MID {mid}: cannot allocate a MID for the policy split");
                // Keep the recipients with the original rather than lose them.
                record.recipients.extend(rcpts);
                continue;
            };
            let mut part = record.clone();
            part.mid = new_mid;
            part.received_at = Utc::now().timestamp();
            part.recipients = renumber(rcpts);
            part.body_size = body.len() as u64;
            part.processing.mail_policy = Some(name.clone());
            part.processing.processed = true;
            MailEvent::Split {
                mid,
                new_mid,
                policy: name.to_string(),
                table: label.to_string(),
            }
            .log();
            MailEvent::PolicyMatched {
                mid: new_mid,
                policy: name.to_string(),
                table: label.to_string(),
            }
            .log();
            parts.push((part, body.to_vec()));
        }
        MailEvent::PolicyMatched {
            mid,
            policy: first.to_string(),
            table: label.to_string(),
        }
        .log();
        parts
    }

    /// A new message with a new MID and the same envelope and body.
    fn duplicate(
        &mut self,
        record: &MessageRecord,
        body: &[u8],
        filter: &str,
    ) -> Option<(MessageRecord, Vec<u8>)> {
        let Ok(new_mid) = self.ids.mid() else {
            tracing::error!("MID {}: cannot allocate a MID for a copy", record.mid);
            return None;
        };
        let mut copy = record.clone();
        copy.mid = new_mid;
        copy.received_at = Utc::now().timestamp();
        copy.recipients = renumber(record.pending().cloned().collect());
        copy.body_size = body.len() as u64;
        copy.processing.processed = true;
        if !filter.is_empty() {
            MailEvent::Generated {
                mid: new_mid,
                original: record.mid,
                kind: "duplicate-quarantine".to_string(),
                filter: filter.to_string(),
            }
            .log();
        }
        Some((copy, body.to_vec()))
    }
}

/// Held messages given their default action per work-queue tick (the
/// retention timer), so that expiry never stalls reception or delivery.
pub(super) const MAX_EXPIRIES_PER_TICK: usize = 100;

/// An instant of a quarantine listing, in the appliance's zone.
fn local_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            breakwater_types::clock::local(t)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `a@x, b@y` (alt-rcpt-to and copies take a list).
fn split_addresses(list: &str) -> Vec<String> {
    list.split(',')
        .map(|a| {
            a.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|a| !a.is_empty())
        .collect()
}

/// Fresh pending recipients, RIDs from 0.
fn recipients(addresses: &[String]) -> Vec<Recipient> {
    addresses
        .iter()
        .enumerate()
        .map(|(i, a)| Recipient {
            rid: Rid(i as u32),
            address: a.clone(),
            status: RecipientStatus::Pending,
            attempts: 0,
            next_attempt: 0,
            last_response: None,
        })
        .collect()
}

fn renumber(list: Vec<Recipient>) -> Vec<Recipient> {
    list.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.rid = Rid(i as u32);
            r
        })
        .collect()
}
