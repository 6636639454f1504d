//! The work queue: takes every committed message, decides where each
//! recipient goes (SMTP route or MX), hands jobs to delivery, applies the
//! outcomes with the bounce profile (retry schedule, expiry, DSNs), and
//! retires finished messages.
//!
//! It is the only stage that changes a queued message's record after it
//! was committed. Operator commands (`tophosts`, `showmessage`,
//! `delivernow`, ...) run inside its task through [`WorkQueueHandle`], so
//! they see and change a consistent state without locks.

mod antispam;
mod antivirus;
mod dsn;
pub mod operator;
mod processing;
mod stats;
mod tdc;
pub mod window;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use breakwater_types::clock;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{Config, RouteTarget};
use crate::delivery::{Delivery, DeliveryJob, DeliveryReport, Outcome, routes};
use crate::ids::{Dcid, Icid, IdAllocator, Mid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::logging::event::{RidList, TdcTag};
use crate::queue::{
    MessageRecord, QueueError, QueueHandle, QueueStore, Reception, Recipient, RecipientStatus,
};
pub use stats::{
    COUNTERS_VERSION, Counters, Event, HostCounters, Monotonic, ReceivedCounters, Stats,
    WorkQueueMetrics,
};

/// The reply AsyncOS gives a recipient whose message stayed too long.
const EXPIRED: &str = "5.4.7 - Delivery expired (message too old)";

struct Active {
    record: MessageRecord,
    /// Jobs handed to delivery and not reported yet.
    in_flight: usize,
}

type Command = Box<dyn FnOnce(&mut WorkQueue) + Send>;

/// Runs operator commands inside the work queue's task.
#[derive(Clone)]
pub struct WorkQueueHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl WorkQueueHandle {
    /// Runs `f` on the work queue and returns its answer.
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut WorkQueue) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let command: Command = Box::new(move |wq| {
            let _ = tx.send(f(wq));
        });
        self.tx.send(command).ok()?;
        rx.await.ok()
    }
}

pub struct WorkQueue {
    config: watch::Receiver<Arc<Config>>,
    queue: QueueHandle,
    delivery: Delivery,
    ids: Arc<IdAllocator>,
    active: HashMap<Mid, Active>,
    retries: BTreeSet<(i64, Mid)>,
    pub stats: Stats,
    /// The hourly series and top senders of `reportdata` (the web UI's
    /// Reports).
    pub reports: crate::reports::Reports,
    /// TDC copies by arrival, so the age limit is applied on time.
    tdc_ages: BTreeSet<(i64, Mid)>,
    /// `redirectrecipients`: every delivery goes to these hosts.
    redirect: Option<Vec<crate::config::RouteHost>>,
    /// `suspenddel`/`suspend`: no delivery starts; queued mail waits.
    delivery_suspended: bool,
    /// The "System status" line of `status detail` (`Online`, `Delivery
    /// suspended`...), kept by the daemon, which knows the listeners.
    pub system_status: &'static str,
    /// Message filters, mail policies and quarantines (`processing`).
    processing: processing::State,
    /// Commands to this task, for work finished elsewhere.
    commands: mpsc::UnboundedSender<Command>,
    /// The data directory ("flash"): the filters' archive lives under it.
    data_dir: std::path::PathBuf,
    /// Anti-virus scans in flight (`antivirus`).
    antivirus: antivirus::Scanner,
    /// Which queued messages are in memory; the rest wait on disk
    /// (`window`).
    window: window::Window,
}

/// Starts the work queue over the queue on disk: it pages the messages
/// found there in (at most `window_limit` at a time, see [`window`]) once
/// the spool files a crash left without a record are removed, and takes
/// new ones from `committed` meanwhile. Returns at once: the listeners do
/// not wait for recovery.
#[allow(clippy::too_many_arguments)] // the stage's channels, named at the one call site
pub fn start(
    config: watch::Receiver<Arc<Config>>,
    queue: QueueHandle,
    store: Arc<dyn QueueStore>,
    window_limit: usize,
    delivery: Delivery,
    ids: Arc<IdAllocator>,
    stats: Stats,
    data_dir: std::path::PathBuf,
    committed: mpsc::UnboundedReceiver<MessageRecord>,
    reports: mpsc::UnboundedReceiver<DeliveryReport>,
    delivery_suspended: bool,
) -> WorkQueueHandle {
    let (tx, commands) = mpsc::unbounded_channel();
    // Every MID below this one was allocated before the restart: its
    // record (if any) is recovered, its spool file without a record an
    // orphan.
    let first_new = ids.next_mid();
    let (messages, _) = queue.counts();
    if messages > 0 {
        tracing::info!(
            "queue recovery: {messages} message(s) on disk, paged in {window_limit} at most at a time"
        );
    }
    let mut wq = WorkQueue {
        config,
        queue,
        delivery,
        ids,
        active: HashMap::new(),
        retries: BTreeSet::new(),
        stats,
        reports: Default::default(),
        redirect: None,
        delivery_suspended,
        system_status: "Online",
        tdc_ages: BTreeSet::new(),
        data_dir,
        processing: Default::default(),
        commands: tx.clone(),
        antivirus: Default::default(),
        window: window::Window::new(window_limit, store.clone(), first_new),
    };
    let back = tx.clone();
    tokio::spawn(async move {
        let scan =
            tokio::task::spawn_blocking(move || window::remove_orphans(store.as_ref(), first_new))
                .await;
        match scan {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!("queue recovery: {n} unacknowledged spool file(s) removed")
            }
            Ok(Err(e)) => {
                tracing::error!("queue recovery: orphan spool files not removed: {e}")
            }
            Err(e) => tracing::error!("queue recovery: the orphan scan stopped: {e}"),
        }

        let ready: Command = Box::new(|wq: &mut WorkQueue| wq.window.set_ready());
        let _ = back.send(ready);
    });
    tokio::spawn(async move { wq.run(committed, reports, commands).await });
    WorkQueueHandle { tx }
}

impl WorkQueue {
    /// The counters and gauges `/metrics` exports from here.
    pub fn metrics(&self) -> WorkQueueMetrics {
        WorkQueueMetrics {
            counters: self.stats.since_start,
            monotonic: self.stats.monotonic.clone(),
            active_messages: self.active.len() as u64,
            oldest_received_at: self.active.values().map(|a| a.record.received_at).min(),
        }
    }

    async fn run(
        &mut self,
        mut committed: mpsc::UnboundedReceiver<MessageRecord>,
        mut reports: mpsc::UnboundedReceiver<DeliveryReport>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut save = tokio::time::interval(Duration::from_secs(5));
        // Queue length over time (Reports): a sample a minute, the hour's
        // maximum kept.
        let mut sample = tokio::time::interval(Duration::from_secs(60));
        loop {
            let held = self.processing.held.len();
            let page = self.window.wants_page(held, self.window.page_threshold());
            tokio::select! {
                Some(record) = committed.recv() => self.admit(record),
                Some(report) = reports.recv() => self.apply(report),
                Some(command) = commands.recv() => command(self),
                () = std::future::ready(()), if page => self.fill_window(),
                _ = tick.tick() => {
                    self.fill_window();
                    self.due();
                }
                _ = save.tick() => self.stats.save(),
                _ = sample.tick() => {
                    let (messages, _) = self.queue.counts();
                    self.reports.queue_length(chrono::Utc::now().timestamp(), messages);
                }
            }
        }
    }

    /// A record the committer made durable: counted as received, and
    /// taken in if the window has room (else it waits on disk).
    fn admit(&mut self, record: MessageRecord) {
        // A record that arrives processed was made here (a DSN, a filter's
        // copy, a policy split's part): it was not received.
        if !record.processing.processed {
            self.stats.record(Event::Received {
                recipients: record.recipients.len() as u64,
            });
            self.stats.monotonic.received(
                &record.reception.listener,
                &record.reception.sender_group,
                record.recipients.len() as u64,
                record.reception.tls.is_some(),
            );
            self.reports.received(
                chrono::Utc::now().timestamp(),
                &record.reception.listener,
                &record.mail_from,
                record.reception.client_ip,
            );
        }
        if self
            .window
            .committed(record.mid, self.processing.held.len())
        {
            self.admit_new(record);
        }
    }

    /// A new message taken into the window: message filters and mail
    /// policies first (they may take the message: drop, quarantine,
    /// split).
    fn admit_new(&mut self, record: MessageRecord) {
        let Some(record) = self.process(record) else {
            return;
        };
        self.admit_processed(record);
    }

    /// Takes records waiting on disk into the window, a page at most.
    fn fill_window(&mut self) {
        let taken = match self.window.page(self.processing.held.len()) {
            Ok(taken) => taken,
            Err(e) => {
                tracing::error!("work queue: cannot read queued messages from disk: {e}");
                return;
            }
        };
        for (record, origin) in taken {
            self.admit_paged(record, origin);
        }
    }

    /// A record taken in from disk: as recovery takes it (processed again
    /// if the crash came first, its retry schedule kept), or, if it was
    /// committed in this run while the window was full, as a new message.
    fn admit_paged(&mut self, mut record: MessageRecord, origin: window::Origin) {
        for which in self.window.rushed() {
            for r in record.recipients.iter_mut() {
                if r.status == RecipientStatus::Pending && operator::matches(which, &r.address) {
                    r.next_attempt = 0;
                }
            }
        }
        match origin {
            window::Origin::New => self.admit_new(record),
            window::Origin::Recovered => {
                let Some(record) = self.recover(record) else {
                    return;
                };
                // Not scanned yet, or the engine was down: scanned now (see
                // `antivirus`), then admitted on its retry schedule.
                if let Some(record) = self.antivirus_gate(record, true) {
                    self.admit_recovered(record);
                }
            }
        }
    }

    /// Removes a finished message from the queue and the window.
    fn retire(&mut self, record: &MessageRecord) -> Result<(), QueueError> {
        self.queue.retire(record)?;
        self.window.release(record.mid);
        Ok(())
    }

    /// A new message past its filters and policies: its content scans,
    /// then `admit_scanned`.
    fn admit_processed(&mut self, record: MessageRecord) {
        if let Some(record) = self.antivirus_gate(record, false) {
            self.admit_scanned(record);
        }
    }

    /// A message recovered from disk after a restart, past its content
    /// scans: it made its Threat Defense copy before (no second one), and
    /// its retry schedule survives the restart: what was due (or never
    /// tried) goes now, the rest when its time comes.
    fn admit_recovered(&mut self, record: MessageRecord) {
        let mid = record.mid;
        let next = record.pending().map(|r| r.next_attempt).min().unwrap_or(0);
        if record.processing.tdc_copy_of.is_some() {
            self.tdc_ages.insert((record.received_at, mid));
        }
        self.active.insert(
            mid,
            Active {
                record,
                in_flight: 0,
            },
        );
        if next > chrono::Utc::now().timestamp() {
            self.retries.insert((next, mid));
        } else {
            self.dispatch(mid);
        }
    }

    /// A message past its content scans: its Threat Defense copy, then
    /// routing.
    fn admit_scanned(&mut self, record: MessageRecord) {
        let mid = record.mid;
        self.threat_defense_copy(&record);
        if record.processing.tdc_copy_of.is_some() {
            self.tdc_ages.insert((record.received_at, mid));
        }
        self.active.insert(
            mid,
            Active {
                record,
                in_flight: 0,
            },
        );
        self.dispatch(mid);
    }

    /// Routes the pending, due recipients of `mid` and hands out jobs.
    fn dispatch(&mut self, mid: Mid) {
        let config = self.config.borrow().clone();
        let Some(active) = self.active.get_mut(&mid) else {
            return;
        };
        if active.in_flight > 0 || self.delivery_suspended {
            return;
        }
        let max_age = i64::from(config.threat_defense.max_age_secs);
        if tdc::expire_copy(&mut active.record, chrono::Utc::now().timestamp(), max_age) {
            self.stats.record(Event::TdcExpired);
            return self.settle(mid);
        }
        let record = &mut active.record;
        let tdc_copy = record.processing.tdc_copy_of.is_some();
        // A filter's alt-mailhost() sends every recipient to one host.
        let alt_mailhost = record.processing.alt_mailhost.as_deref().map(|h| {
            let (host, port) = match h.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, port.parse().unwrap_or(25)),
                _ => (h, 25),
            };
            vec![crate::config::RouteHost {
                host: host.trim_matches(['[', ']']).into(),
                port,
                priority: 0,
            }]
        });
        let origin = (
            mid,
            record.reception.listener.clone(),
            record.mail_from.clone(),
        );
        // A Threat Defense copy goes out as received: only real deliveries are signed.
        let dkim_sign = !tdc_copy
            && config
                .domain_keys
                .signs(&record.reception.listener, &record.reception.policy);
        let mut jobs: HashMap<String, DeliveryJob> = HashMap::new();
        let mut dropped: Vec<Rid> = Vec::new();
        for r in record
            .recipients
            .iter_mut()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            let domain = routes::domain_of(&r.address).to_ascii_lowercase();
            let route = match routes::select(&config.smtp_routes, &domain).map(|r| &r.target) {
                _ if self.redirect.is_some() => self.redirect.clone(),
                _ if alt_mailhost.is_some() => alt_mailhost.clone(),
                Some(RouteTarget::DevNull) => {
                    r.status = RecipientStatus::Dropped;
                    dropped.push(r.rid);
                    continue;
                }
                Some(RouteTarget::Hosts(hosts)) => Some(hosts.clone()),
                Some(RouteTarget::UseDns) | None => None,
            };
            // A TDC copy waits in the.tdc.queue, resolved as its intake's domain.
            let (destination, lookup_domain) = if tdc_copy {
                (crate::tdc::DESTINATION.to_string(), Some(domain))
            } else {
                (domain, None)
            };
            jobs.entry(destination.clone())
                .or_insert_with(|| DeliveryJob {
                    mid,
                    mail_from: bounce_tagged(&config, &origin, &destination),
                    recipients: Vec::new(),
                    destination,
                    route,
                    lookup_domain,
                    source_interface: record.processing.alt_src_host.clone(),
                    dkim_sign,
                })
                .recipients
                .push((r.rid, r.address.clone()));
        }
        if !dropped.is_empty() {
            MailEvent::DevNull {
                mid,
                rids: RidList(dropped.clone()),
            }
            .log();
            for _ in &dropped {
                self.stats.record(Event::Dropped);
            }
        }
        active.in_flight += jobs.len();
        for job in jobs.into_values() {
            self.delivery.submit(job);
        }
        self.settle(mid);
    }

    fn apply(&mut self, report: DeliveryReport) {
        let config = self.config.borrow().clone();
        let Some(active) = self.active.get_mut(&report.mid) else {
            return;
        };
        active.in_flight = active.in_flight.saturating_sub(1);
        let now = chrono::Utc::now().timestamp();
        // A filter's bounce-profile() wins over the destination's.
        let profile_name = match &active.record.processing.bounce_profile {
            Some(name) => name.clone(),
            None => config.destination(&report.destination).bounce_profile,
        };
        let profile = config.bounce_profile(&profile_name);
        let received_at = active.record.received_at;
        let tdc_copy = active.record.processing.tdc_copy_of.is_some();
        let mid = report.mid;
        let mut events = Vec::new();
        for (rid, outcome) in report.results {
            let Some(r) = active.record.recipient_mut(rid) else {
                continue;
            };
            if tdc_copy {
                let retry = profile.initial_retry_secs.min(10);
                events.push(tdc::copy_outcome(mid, r, outcome, now, retry, report.dcid));
                continue;
            }
            match outcome {
                Outcome::Delivered(text) => {
                    r.status = RecipientStatus::Delivered;
                    r.last_response = Some(text);
                    events.push(Event::Delivered);
                }
                Outcome::Bounced(text) => {
                    r.status = RecipientStatus::Bounced;
                    r.last_response = Some(text);
                    events.push(Event::HardBounced);
                }
                Outcome::Deferred(text) => {
                    r.attempts += 1;
                    let expired = r.attempts >= profile.max_retries
                        || now - received_at >= i64::from(profile.max_queue_secs);
                    if expired {
                        MailEvent::Bounced {
                            tdc: TdcTag(false),
                            dcid: Dcid(0),
                            mid,
                            rid,
                            reason: format!("{EXPIRED} ('{text}')"),
                        }
                        .log();
                        r.status = RecipientStatus::Bounced;
                        r.last_response = Some(format!("{EXPIRED} (last error: {text})"));
                        events.push(Event::HardBounced);
                        continue;
                    }
                    let shift = r.attempts.saturating_sub(1).min(20);
                    let delay = u64::from(profile.initial_retry_secs)
                        .saturating_mul(1 << shift)
                        .min(u64::from(profile.max_retry_secs));
                    r.next_attempt = now + delay as i64;
                    r.last_response = Some(text);
                    let till = chrono::DateTime::from_timestamp(r.next_attempt, 0)
                        .map(|t| clock::local(t).format(clock::LOG_TIME_FORMAT).to_string())
                        .unwrap_or_default();
                    MailEvent::Pending {
                        mid,
                        rids: RidList::from(rid),
                        till,
                    }
                    .log();
                    events.push(Event::SoftBounced);
                }
            }
        }
        // A copy whose attempt outlived its age limit ends now.
        let max_age = i64::from(config.threat_defense.max_age_secs);
        if tdc_copy && tdc::expire_copy(&mut active.record, now, max_age) {
            events.push(Event::TdcExpired);
        }
        let listener = active.record.reception.listener.clone();
        for e in events {
            match e {
                Event::Delivered => self.reports.delivered(now),
                Event::HardBounced => self.reports.bounced(now),
                _ => {}
            }
            self.stats.record_host(&report.destination, e);
            self.stats.monotonic.sent(&listener, e);
        }
        self.settle(mid);
    }

    /// After a change: retire a finished message (sending DSNs for its
    /// hard bounces), or persist it and schedule its next attempt.
    fn settle(&mut self, mid: Mid) {
        let Some(active) = self.active.get(&mid) else {
            return;
        };
        if active.in_flight > 0 {
            return;
        }
        if active.record.is_finished() {
            let record = active.record.clone();
            self.bounce_notice(record.clone());
            if let Err(e) = self.retire(&record) {
                tracing::error!("MID {mid}: cannot remove from the queue: {e}");
            }
            MailEvent::FinishedDone { mid }.log();
            self.active.remove(&mid);
            return;
        }
        let record = &active.record;
        if let Err(e) = self.queue.update(record) {
            tracing::error!("MID {mid}: cannot update the queue record: {e}");
        }
        if let Some(next) = record.pending().map(|r| r.next_attempt).min() {
            self.retries.insert((next, mid));
        }
    }

    /// Enqueues a DSN for the hard-bounced recipients of a finished
    /// message, unless the sender is null (no bounce loops) or the bounce
    /// profile says not to.
    fn bounce_notice(&mut self, record: MessageRecord) {
        let config = self.config.borrow().clone();
        let failed: Vec<&Recipient> = record
            .recipients
            .iter()
            .filter(|r| r.status == RecipientStatus::Bounced)
            .filter(|r| {
                let dest = config.destination(routes::domain_of(&r.address));
                config
                    .bounce_profile(&dest.bounce_profile)
                    .hard_bounce_message
            })
            .collect();
        if failed.is_empty() || record.mail_from.is_empty() {
            return;
        }
        let original = self.queue.read_body(record.mid).unwrap_or_default();
        let failures: Vec<dsn::Failure<'_>> = failed
            .iter()
            .map(|r| dsn::Failure {
                address: &r.address,
                reason: r
                    .last_response
                    .as_deref()
                    .unwrap_or("5.0.0 - Unknown error"),
            })
            .collect();
        // What of the original goes back: all of it when the bounce profile
        // (of the first failed recipient's destination) says so; for mail
        // from the internet only its headers, so a bounce to a forged
        // sender carries no spam body back out (backscatter); for our own
        // users' mail, all of it when small.
        let full = failed
            .first()
            .map(|r| {
                config
                    .destination(routes::domain_of(&r.address))
                    .bounce_profile
            })
            .is_some_and(|profile| config.call_ahead.full_original(&profile));
        let from_internet = config
            .listener(&record.reception.listener)
            .is_some_and(|l| l.kind == crate::config::ListenerKind::Public);
        let attach = if full || (!from_internet && original.len() < dsn::ATTACH_LIMIT) {
            dsn::Attach::Complete
        } else {
            dsn::Attach::Headers
        };
        let body = dsn::build(
            &config.hostname,
            record.mid,
            &record.mail_from,
            &failures,
            &original,
            attach,
        );
        let Ok(new_mid) = self.ids.mid() else {
            tracing::error!("MID {}: cannot allocate a MID for the DSN", record.mid);
            return;
        };
        let dsn = MessageRecord {
            mid: new_mid,
            received_at: chrono::Utc::now().timestamp(),
            reception: Reception {
                icid: Icid(0),
                listener: "(bounce)".to_string(),
                interface: config.delivery.interface.clone(),
                sender_group: String::new(),
                policy: String::new(),
                client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                rdns: None,
                rdns_verified: false,
                helo: config.hostname.clone(),
                tls: None,
            },
            mail_from: String::new(),
            recipients: vec![Recipient {
                rid: Rid(0),
                address: record.mail_from.clone(),
                status: RecipientStatus::Pending,
                attempts: 0,
                next_attempt: 0,
                last_response: None,
            }],
            body_size: body.len() as u64,
            message_id: None,
            subject: Some("Delivery Status Notification (Failure)".to_string()),
            // A DSN is not run through the filters (no bounce loops).
            processing: crate::queue::record::Processing {
                processed: true,
                ..Default::default()
            },
        };
        MailEvent::BounceGenerated {
            mid: new_mid,
            original: record.mid,
        }
        .log();
        self.stats.record(Event::Dsn);
        let queue = self.queue.clone();
        tokio::spawn(async move {
            if let Err(e) = queue.enqueue(dsn, body).await {
                tracing::error!("MID {new_mid}: the DSN could not be queued: {e}");
            }
        });
    }

    /// Dispatches messages whose retry time has come, and ends TDC copies
    /// that reached their age limit.
    /// Suspends or resumes delivery (`suspenddel`, `resumedel`). While
    /// suspended nothing dials out: new and retried messages stay queued,
    /// deliveries already under way finish. Resuming hands out at once
    /// what came due while suspended; a retry not yet due keeps its time.
    pub fn set_delivery_suspended(&mut self, suspended: bool) {
        let was = std::mem::replace(&mut self.delivery_suspended, suspended);
        if suspended {
            // Nothing new dials out: idle cached connections say QUIT too.
            self.delivery.close_idle();
        }
        if was && !suspended {
            let scheduled: std::collections::HashSet<Mid> =
                self.retries.iter().map(|(_, mid)| *mid).collect();
            let mids: Vec<Mid> = self
                .active
                .iter()
                .filter(|(mid, a)| a.in_flight == 0 && !scheduled.contains(mid))
                .map(|(mid, _)| *mid)
                .collect();
            for mid in mids {
                self.dispatch(mid);
            }
        }
    }

    /// Whether delivery is suspended.
    pub fn delivery_suspended(&self) -> bool {
        self.delivery_suspended
    }

    /// Deliveries under way (jobs handed out, not reported yet).
    pub fn deliveries_in_progress(&self) -> usize {
        self.active.values().map(|a| a.in_flight).sum()
    }

    fn due(&mut self) {
        let now = chrono::Utc::now().timestamp();
        self.expire_tdc_copies(now);
        self.expire_held(now);
        self.spam_digest_due(now);
        while let Some(&(when, mid)) = self.retries.first() {
            if when > now {
                break;
            }
            self.retries.pop_first();
            self.dispatch(mid);
        }
    }
}

/// The envelope sender a delivery to `destination` uses: tagged by bounce
/// verification (`bvconfig`) for mail received on a private listener when
/// the destination control tags and a key exists, so that bounces coming
/// back can be told from forged ones. Bounces themselves (null sender)
/// and already tagged senders go out as they are.
fn bounce_tagged(config: &Config, origin: &(Mid, String, String), destination: &str) -> String {
    let (mid, listener, mail_from) = origin;
    let bv = &config.bounce_verification;
    let outgoing = config
        .listener(listener)
        .is_some_and(|l| l.kind == crate::config::ListenerKind::Private);
    let Some(key) = bv.current_key() else {
        return mail_from.clone();
    };
    if !outgoing || destination == crate::tdc::DESTINATION || !bv.tags_destination(destination) {
        return mail_from.clone();
    }
    let tagged =
        crate::config::bounce_verification::tag(key, mail_from, chrono::Utc::now().timestamp());
    if tagged != *mail_from {
        MailEvent::BounceTagAdded {
            mid: *mid,
            destination: destination.to_string(),
            address: tagged.clone(),
        }
        .log();
    }
    tagged
}
