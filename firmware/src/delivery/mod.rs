//! Delivery: per-destination queues and the connections that drain them.
//!
//! The work queue hands over `DeliveryJob`s; each destination (the SMTP
//! route serving the recipient domain) has its own queue and at most
//! `max_concurrency` connections, each carrying up to
//! `max_messages_per_connection` messages. Outcomes go back to the work
//! queue as `DeliveryReport`s; this module never touches the queue store
//! except to read bodies.
//!
//! Exposure: talks to remote SMTP servers, which are not trusted: replies
//! are bounded by the response parser and every wait has a timeout.

pub mod client;
pub mod routes;
pub mod tls;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use crate::config::{Config, RouteHost};
use crate::ids::{IdAllocator, Mid, Rid};
use crate::queue::QueueHandle;

/// Recipients of one message for one destination.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub mid: Mid,
    pub mail_from: String,
    pub recipients: Vec<(Rid, String)>,
    /// The destination (route domain) this job is queued for.
    pub destination: String,
    pub hosts: Vec<RouteHost>,
}

/// What happened to a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(String),
    /// Try again later (4xx, connection or TLS trouble).
    Deferred(String),
    /// Refused for good (5xx).
    Bounced(String),
}

/// The outcome of one job.
#[derive(Debug)]
pub struct DeliveryReport {
    pub mid: Mid,
    pub results: Vec<(Rid, Outcome)>,
}

struct Destination {
    jobs: VecDeque<DeliveryJob>,
    active: u32,
}

/// Everything a delivery connection needs.
pub(crate) struct Shared {
    config: watch::Receiver<Arc<Config>>,
    ids: Arc<IdAllocator>,
    queue: QueueHandle,
    dns: Mutex<crate::dns::Dns>,
    reports: mpsc::UnboundedSender<DeliveryReport>,
    destinations: Mutex<HashMap<String, Destination>>,
    tls: tokio_rustls::TlsConnector,
}

/// The handle the work queue submits jobs through.
#[derive(Clone)]
pub struct Delivery {
    shared: Arc<Shared>,
}

impl Delivery {
    pub fn new(
        config: watch::Receiver<Arc<Config>>,
        ids: Arc<IdAllocator>,
        queue: QueueHandle,
        dns: crate::dns::Dns,
        reports: mpsc::UnboundedSender<DeliveryReport>,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                ids,
                queue,
                dns: Mutex::new(dns),
                reports,
                destinations: Mutex::new(HashMap::new()),
                tls: tls::opportunistic()?,
            }),
        })
    }

    pub fn set_dns(&self, dns: crate::dns::Dns) {
        *self.shared.dns.lock().unwrap_or_else(|e| e.into_inner()) = dns;
    }

    /// Queues a job and opens another connection if the destination has
    /// more waiting than its connections can take and is under its limit.
    pub fn submit(&self, job: DeliveryJob) {
        let max = self.shared.config.borrow().delivery.max_concurrency.max(1);
        let name = job.destination.clone();
        let spawn = {
            let mut dests = self
                .shared
                .destinations
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let d = dests.entry(name.clone()).or_insert_with(|| Destination {
                jobs: VecDeque::new(),
                active: 0,
            });
            d.jobs.push_back(job);
            let wanted = d.active == 0 || d.jobs.len() > d.active as usize;
            if wanted && d.active < max {
                d.active += 1;
                true
            } else {
                false
            }
        };
        if spawn {
            tokio::spawn(worker::run(self.shared.clone(), name));
        }
    }

    /// Destinations with queued jobs and active connections, for `status`.
    pub fn summary(&self) -> Vec<(String, usize, u32)> {
        let dests = self
            .shared
            .destinations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = dests
            .iter()
            .map(|(n, d)| (n.clone(), d.jobs.len(), d.active))
            .collect();
        v.sort();
        v
    }
}

impl Shared {
    /// The next job for `destination`; when there is none the caller's
    /// connection is counted out under the same lock, so a job submitted
    /// at that moment always finds a connection or starts one.
    fn next_job(&self, destination: &str) -> Option<DeliveryJob> {
        let mut dests = self.destinations.lock().unwrap_or_else(|e| e.into_inner());
        let d = dests.get_mut(destination)?;
        match d.jobs.pop_front() {
            Some(job) => Some(job),
            None => {
                d.active = d.active.saturating_sub(1);
                if d.active == 0 {
                    dests.remove(destination);
                }
                None
            }
        }
    }

    fn report(&self, mid: Mid, results: Vec<(Rid, Outcome)>) {
        let _ = self.reports.send(DeliveryReport { mid, results });
    }
}
