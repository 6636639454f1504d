//! The work queue: takes every committed message, decides where each
//! recipient goes (SMTP route), hands jobs to delivery, applies the
//! outcomes, schedules retries and retires finished messages.
//!
//! It is the only stage that changes a queued message's record after it
//! was committed. Message filters and per-recipient mail policies will run
//! here, before routing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::{Config, RouteTarget};
use crate::delivery::{Delivery, DeliveryJob, DeliveryReport, Outcome, routes};
use crate::ids::{Mid, Rid, rid_list};
use crate::mail_log;
use crate::queue::{MessageRecord, QueueHandle, RecipientStatus};

struct Active {
    record: MessageRecord,
    /// Jobs handed to delivery and not reported yet.
    in_flight: usize,
}

pub struct WorkQueue {
    config: watch::Receiver<Arc<Config>>,
    queue: QueueHandle,
    delivery: Delivery,
    active: HashMap<Mid, Active>,
    /// Messages with recipients no route serves (waiting for a route).
    held: HashSet<Mid>,
    retries: BTreeSet<(i64, Mid)>,
}

/// Starts the work queue with the messages recovered from disk.
pub fn start(
    config: watch::Receiver<Arc<Config>>,
    queue: QueueHandle,
    delivery: Delivery,
    recovered: Vec<MessageRecord>,
    committed: mpsc::UnboundedReceiver<MessageRecord>,
    reports: mpsc::UnboundedReceiver<DeliveryReport>,
) -> tokio::task::JoinHandle<()> {
    let mut wq = WorkQueue {
        config,
        queue,
        delivery,
        active: HashMap::new(),
        held: HashSet::new(),
        retries: BTreeSet::new(),
    };
    tokio::spawn(async move {
        if !recovered.is_empty() {
            tracing::info!("queue recovery: {} message(s) to deliver", recovered.len());
        }
        for record in recovered {
            // After a restart everything is tried at once.
            wq.admit(record);
        }
        wq.run(committed, reports).await
    })
}

impl WorkQueue {
    async fn run(
        &mut self,
        mut committed: mpsc::UnboundedReceiver<MessageRecord>,
        mut reports: mpsc::UnboundedReceiver<DeliveryReport>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut config_changes = self.config.clone();
        loop {
            tokio::select! {
                Some(record) = committed.recv() => self.admit(record),
                Some(report) = reports.recv() => self.apply(report),
                changed = config_changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A new route may serve held messages now.
                    for mid in std::mem::take(&mut self.held) {
                        match self.active.get(&mid) {
                            Some(a) if a.in_flight > 0 => {
                                self.held.insert(mid);
                            }
                            _ => self.dispatch(mid),
                        }
                    }
                }
                _ = tick.tick() => self.due(),
            }
        }
    }

    fn admit(&mut self, record: MessageRecord) {
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

    /// Routes the pending recipients of `mid` and hands out jobs.
    fn dispatch(&mut self, mid: Mid) {
        let config = self.config.borrow().clone();
        let Some(active) = self.active.get_mut(&mid) else {
            return;
        };
        let record = &mut active.record;
        let mut jobs: HashMap<String, DeliveryJob> = HashMap::new();
        let mut unrouted: Vec<Rid> = Vec::new();
        let mut dropped: Vec<Rid> = Vec::new();
        for r in record
            .recipients
            .iter_mut()
            .filter(|r| r.status == RecipientStatus::Pending)
        {
            let domain = routes::domain_of(&r.address);
            match routes::select(&config.smtp_routes, domain) {
                None => unrouted.push(r.rid),
                Some(route) => match &route.target {
                    RouteTarget::DevNull => {
                        r.status = RecipientStatus::Dropped;
                        dropped.push(r.rid);
                    }
                    RouteTarget::Hosts(hosts) => {
                        jobs.entry(route.domain.clone())
                            .or_insert_with(|| DeliveryJob {
                                mid,
                                mail_from: record.mail_from.clone(),
                                recipients: Vec::new(),
                                destination: route.domain.clone(),
                                hosts: hosts.clone(),
                            })
                            .recipients
                            .push((r.rid, r.address.clone()));
                    }
                },
            }
        }
        if !dropped.is_empty() {
            mail_log!(
                "MID {mid} RID {} dropped by the /dev/null SMTP route",
                rid_list(&dropped)
            );
        }
        if !unrouted.is_empty() && !self.held.contains(&mid) {
            mail_log!(
                "MID {mid} RID {} no SMTP route for the recipient domain; the message waits in the queue until a route serves it",
                rid_list(&unrouted)
            );
            self.held.insert(mid);
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
        for (rid, outcome) in report.results {
            let Some(r) = active.record.recipient_mut(rid) else {
                continue;
            };
            match outcome {
                Outcome::Delivered(text) => {
                    r.status = RecipientStatus::Delivered;
                    r.last_response = Some(text);
                }
                Outcome::Bounced(text) => {
                    r.status = RecipientStatus::Bounced;
                    r.last_response = Some(text);
                }
                Outcome::Deferred(text) => {
                    r.attempts += 1;
                    let shift = r.attempts.saturating_sub(1).min(20);
                    let delay = u64::from(config.delivery.retry_initial_secs)
                        .saturating_mul(1 << shift)
                        .min(u64::from(config.delivery.retry_max_secs));
                    r.next_attempt = now + delay as i64;
                    r.last_response = Some(text);
                }
            }
        }
        self.settle(report.mid);
    }

    /// After a change: retire a finished message, or persist it and
    /// schedule its next attempt.
    fn settle(&mut self, mid: Mid) {
        let Some(active) = self.active.get(&mid) else {
            return;
        };
        if active.in_flight > 0 {
            return;
        }
        let record = &active.record;
        if record.is_finished() {
            if let Err(e) = self.queue.retire(record) {
                tracing::error!("MID {mid}: cannot remove from the queue: {e}");
            }
            mail_log!("Message finished MID {mid} done");
            self.active.remove(&mid);
            self.held.remove(&mid);
            return;
        }
        if let Err(e) = self.queue.update(record) {
            tracing::error!("MID {mid}: cannot update the queue record: {e}");
        }
        if !self.held.contains(&mid)
            && let Some(next) = record.pending().map(|r| r.next_attempt).min()
        {
            self.retries.insert((next, mid));
        }
    }

    /// Dispatches messages whose retry time has come.
    fn due(&mut self) {
        let now = chrono::Utc::now().timestamp();
        while let Some(&(when, mid)) = self.retries.first() {
            if when > now {
                break;
            }
            self.retries.pop_first();
            self.dispatch(mid);
        }
    }
}
