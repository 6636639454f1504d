//! Delivery: per-destination queues and the connections that drain them.
//!
//! The work queue hands over `DeliveryJob`s; each destination (the
//! recipient domain, as AsyncOS's delivery queues are) has its own queue.
//! Its destination control row decides how many connections it may have
//! (per domain, or per mail exchanger IP), how many messages each carries,
//! how many recipients may go out per time window, TLS and the IP family.
//! Outcomes go back to the work queue as `DeliveryReport`s; this module
//! never changes the queue store, it only reads bodies.
//!
//! Exposure: talks to remote SMTP servers, which are not trusted: replies
//! are bounded by the response parser and every wait has a timeout.

mod cache;
pub mod client;
// The protocol core and the route choice are sans-I/O (breakwater-smtp).
pub use breakwater_smtp::client as client_core;
pub use breakwater_smtp::routes;
pub mod dane;
pub mod resolve;
pub mod tls;
mod worker;

pub(crate) use worker::bounced_by_destination;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::config::{Config, LimitScope, RouteHost};
use crate::ids::{Dcid, IdAllocator, Mid, Rid};
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;
use crate::queue::QueueHandle;

/// Recipients of one message for one destination.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub mid: Mid,
    pub mail_from: String,
    pub recipients: Vec<(Rid, String)>,
    /// The recipient domain: the destination queue this job waits in.
    pub destination: String,
    /// The SMTP route's hosts; `None` delivers by MX.
    pub route: Option<Vec<RouteHost>>,
    /// The domain to resolve when it is not the destination's own (a TDC
    /// copy waits in `the.tdc.queue` but goes to the intake's domain).
    pub lookup_domain: Option<String>,
    /// The interface to send from instead of the delivery interface (a
    /// filter's `alt-src-host()`).
    pub source_interface: Option<String>,
    /// The message came through a mail flow policy with "Domain Key/DKIM
    /// Signing" on: delivery signs it (`dkim_sign`) when a signing profile
    /// matches its author.
    pub dkim_sign: bool,
}

impl DeliveryJob {
    /// Whether `other` is delivered to the same place.
    pub fn same_target(&self, other: &DeliveryJob) -> bool {
        self.route == other.route
            && self.lookup_domain == other.lookup_domain
            && self.source_interface == other.source_interface
    }
}

/// What happened to a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(String),
    /// Try again later (4xx, connection, DNS or TLS trouble).
    Deferred(String),
    /// Refused for good (5xx, bad destination).
    Bounced(String),
}

/// The outcome of one job.
#[derive(Debug)]
pub struct DeliveryReport {
    pub mid: Mid,
    pub destination: String,
    /// The connection the outcomes came from; `Dcid(0)` when none was
    /// made (DNS, no usable next hop), as AsyncOS's bounce lines say.
    pub dcid: Dcid,
    pub results: Vec<(Rid, Outcome)>,
}

struct Destination {
    jobs: VecDeque<DeliveryJob>,
    /// Connections open, busy or idle.
    active: u32,
    /// Recipients sent in the current rate window, with when.
    sent: VecDeque<(Instant, u32)>,
    /// Connections of `active` idle in the cache, oldest first.
    idle: VecDeque<cache::IdleSlot>,
}

impl Destination {
    fn new() -> Self {
        Destination {
            jobs: VecDeque::new(),
            active: 0,
            sent: VecDeque::new(),
            idle: VecDeque::new(),
        }
    }
}

/// What an operator sees of a destination (`tophosts`, `hoststatus`).
#[derive(Debug, Clone, Default)]
pub struct HostState {
    /// Down as of the last delivery attempt.
    pub down: bool,
    pub last_error: Option<String>,
    pub last_attempt: Option<chrono::DateTime<chrono::Utc>>,
    pub last_success: Option<chrono::DateTime<chrono::Utc>>,
}

/// A destination's wish for another connection.
#[derive(Debug, Clone, Copy)]
struct Want {
    queued: usize,
    /// Connections open, busy or idle (the limits count both).
    active: u32,
    /// Of those, idle in the cache (none of them fits a queued job, or
    /// it would have been handed the job).
    idle: u32,
    /// Connections kept while there is work (the TDC keeps 3).
    floor: u32,
    /// The destination's own limit.
    max: u32,
}

/// Whether a destination opens another connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Yes,
    /// Not wanted, or the destination is at its own limit.
    No,
    /// Wanted and allowed, but all destinations together are at
    /// `max_outbound_connections`.
    Capped,
    /// Wanted, but the limit is taken up partly by idle connections (for
    /// another next hop): one of them closes and carries the job instead,
    /// so an idle connection never holds a new one back.
    RetireIdle,
}

impl Want {
    /// More jobs than busy connections (or fewer than the floor), under
    /// the destination's limit, and under `cap` for all destinations
    /// together (`outbound` open now).
    fn decide(self, outbound: u32, cap: u32) -> Open {
        let busy = self.active.saturating_sub(self.idle);
        let wanted = self.queued > 0 && (busy < self.floor || self.queued > busy as usize);
        if !wanted {
            Open::No
        } else if self.active >= self.max || outbound >= cap {
            match (self.idle > 0, self.active >= self.max) {
                (true, _) => Open::RetireIdle,
                (false, true) => Open::No,
                (false, false) => Open::Capped,
            }
        } else {
            Open::Yes
        }
    }
}

/// Everything a delivery connection needs.
pub(crate) struct Shared {
    config: watch::Receiver<Arc<Config>>,
    ids: Arc<IdAllocator>,
    queue: QueueHandle,
    dns: Mutex<crate::dns::Dns>,
    reports: mpsc::UnboundedSender<DeliveryReport>,
    destinations: Mutex<HashMap<String, Destination>>,
    /// Open connections per mail exchanger address (host-scoped limits).
    per_ip: Mutex<HashMap<IpAddr, u32>>,
    hosts: Mutex<HashMap<String, HostState>>,
    tls: tls::Connectors,
    /// Connections open to all destinations together; changed only with
    /// the destinations lock held (`max_outbound_connections`).
    outbound: AtomicU32,
    /// A destination is waiting for the outbound cap (logged once per
    /// episode; a freed slot then kicks the waiting destinations).
    capped: AtomicBool,
    /// Idle connections in the cache, all destinations together; changed
    /// only with the destinations lock held.
    idle: AtomicU32,
    /// Names idle connections (so one can take itself out of the cache).
    idle_ids: std::sync::atomic::AtomicU64,
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
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                ids,
                queue,
                dns: Mutex::new(dns),
                reports,
                destinations: Mutex::new(HashMap::new()),
                per_ip: Mutex::new(HashMap::new()),
                hosts: Mutex::new(HashMap::new()),
                tls: tls::Connectors::default(),
                outbound: AtomicU32::new(0),
                capped: AtomicBool::new(false),
                idle: AtomicU32::new(0),
                idle_ids: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// A commit happened: new DNS servers, certificates or CA list. Idle
    /// connections were opened under the old settings (TLS policy, source
    /// interface, routes): they close.
    pub fn reconfigure(&self, dns: Option<crate::dns::Dns>) {
        if let Some(dns) = dns {
            *self.shared.dns.lock().unwrap_or_else(|e| e.into_inner()) = dns;
        }
        self.shared.tls.clear();
        self.close_idle();
    }

    /// Closes every idle connection politely (QUIT): on a commit,
    /// `suspenddel` and shutdown.
    pub fn close_idle(&self) {
        self.shared.close_idle();
    }

    /// The resolver in use (the filters' DNS lists ask it too).
    pub fn dns(&self) -> crate::dns::Dns {
        self.shared
            .dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queues a job and hands it to an idle connection to its next hop,
    /// or opens another connection when useful and allowed.
    pub fn submit(&self, job: DeliveryJob) {
        let name = job.destination.clone();
        {
            let mut dests = self.shared.lock_destinations();
            let d = dests.entry(name.clone()).or_insert_with(Destination::new);
            let handed = self.shared.wake_idle_for(d, &job);
            d.jobs.push_back(job);
            if handed {
                return;
            }
        }
        self.shared.clone().kick(&name);
    }

    /// Destinations with queued jobs and open connections, for `status`.
    pub fn summary(&self) -> Vec<(String, usize, u32)> {
        let dests = self.shared.lock_destinations();
        let mut v: Vec<_> = dests
            .iter()
            .map(|(n, d)| (n.clone(), d.jobs.len(), d.active))
            .collect();
        v.sort();
        v
    }

    /// Connections out per destination.
    pub fn connections(&self) -> HashMap<String, u32> {
        self.shared
            .lock_destinations()
            .iter()
            .map(|(n, d)| (n.clone(), d.active))
            .collect()
    }

    pub fn host_states(&self) -> HashMap<String, HostState> {
        self.shared
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Shared {
    fn lock_destinations(&self) -> std::sync::MutexGuard<'_, HashMap<String, Destination>> {
        self.destinations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a connection for `destination` if it has more jobs than
    /// connections and is under its limit.
    fn kick(self: Arc<Self>, destination: &str) {
        let (settings, cap) = {
            let config = self.config.borrow();
            let cap = config.connections.max_outbound_connections.max(1);
            (config.destination(destination), cap)
        };
        // Host-scoped limits are enforced per address when connecting.
        let max = match settings.limit_scope {
            LimitScope::Domain => settings.max_concurrency.max(1),
            LimitScope::Host => u32::MAX,
        };
        let spawn = {
            let mut dests = self.lock_destinations();
            let Some(d) = dests.get_mut(destination) else {
                return;
            };
            // The TDC keeps at least MIN_CONNECTIONS open while it has work
            // (the seed's "TDC connection behaviour").
            let floor = if destination == crate::tdc::DESTINATION {
                crate::tdc::MIN_CONNECTIONS
            } else {
                1
            };
            let want = Want {
                queued: d.jobs.len(),
                active: d.active,
                idle: d.idle.len() as u32,
                floor,
                max,
            };
            match want.decide(self.outbound.load(Ordering::Relaxed), cap) {
                Open::No => false,
                Open::RetireIdle => {
                    // It closes, then takes the oldest queued job.
                    self.retire_idle(d);
                    false
                }
                Open::Capped => {
                    // The jobs wait in their queue; `leave` kicks again
                    // (sooner if another destination's idle connection
                    // gives its slot up).
                    self.retire_idle_anywhere(&mut dests);
                    if !self.capped.swap(true, Ordering::Relaxed) {
                        MailEvent::OutboundLimit {
                            open: cap.into(),
                            destination: destination.to_string(),
                        }
                        .log();
                    }
                    false
                }
                Open::Yes => {
                    d.active += 1;
                    self.outbound.fetch_add(1, Ordering::Relaxed);
                    true
                }
            }
        };
        if spawn {
            tokio::spawn(worker::run(self, destination.to_string()));
        }
    }

    /// The next job for `destination`, if any.
    fn next_job(&self, destination: &str) -> Option<DeliveryJob> {
        self.lock_destinations()
            .get_mut(destination)
            .and_then(|d| d.jobs.pop_front())
    }

    /// The next job for `destination` that goes where `like` goes (same
    /// route or intake domain), so an open connection never carries mail
    /// meant for another host (TDC copies for different intakes, or an
    /// `alt-mailhost` job, share a queue with others).
    fn next_job_like(&self, destination: &str, like: &DeliveryJob) -> Option<DeliveryJob> {
        let mut dests = self.lock_destinations();
        let d = dests.get_mut(destination)?;
        let i = d.jobs.iter().position(|j| j.same_target(like))?;
        d.jobs.remove(i)
    }

    /// Puts a job back at the head of its queue for a fresh connection
    /// (the caller's cached connection turned out to be closed).
    fn requeue_front(&self, job: DeliveryJob) {
        let mut dests = self.lock_destinations();
        if let Some(d) = dests.get_mut(&job.destination) {
            d.jobs.push_front(job);
        }
    }

    /// Counts a connection out once it is closed (so the limit holds while
    /// its QUIT is in flight). A job that arrived meanwhile gets a
    /// connection of its own.
    fn leave(self: &Arc<Self>, destination: &str) {
        let more = {
            let mut dests = self.lock_destinations();
            self.outbound_closed();
            let Some(d) = dests.get_mut(destination) else {
                return;
            };
            d.active = d.active.saturating_sub(1);
            if d.active == 0 && d.jobs.is_empty() && d.sent.is_empty() {
                dests.remove(destination);
                false
            } else {
                !d.jobs.is_empty()
            }
        };
        if more {
            self.clone().kick(destination);
        }
        self.kick_waiting();
    }

    /// One outbound connection fewer (destinations lock held).
    fn outbound_closed(&self) {
        let _ = self
            .outbound
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// A connection closed while the outbound cap held destinations back:
    /// give them the free slots.
    fn kick_waiting(self: &Arc<Self>) {
        if !self.capped.load(Ordering::Relaxed) {
            return;
        }
        let waiting: Vec<String> = self
            .lock_destinations()
            .iter()
            .filter(|(_, d)| d.jobs.len() > d.active as usize)
            .map(|(n, _)| n.clone())
            .collect();
        for name in waiting {
            self.clone().kick(&name);
        }
        // Still at the cap: the episode goes on (and is not logged again).
        let cap = self.config.borrow().connections.max_outbound_connections;
        if self.outbound.load(Ordering::Relaxed) < cap {
            self.capped.store(false, Ordering::Relaxed);
        }
    }

    /// Puts a job back at the head of its queue and counts the caller's
    /// connection out (the recipient rate limit was reached).
    fn requeue_and_leave(&self, job: DeliveryJob) {
        let mut dests = self.lock_destinations();
        self.outbound_closed();
        if let Some(d) = dests.get_mut(&job.destination) {
            d.active = d.active.saturating_sub(1);
            d.jobs.push_front(job);
        }
    }

    /// Counts `n` recipients against the destination's rate window, or
    /// says how long to wait until they fit.
    fn take_rate(&self, destination: &str, n: u32) -> Result<(), Duration> {
        let Some(limit) = self
            .config
            .borrow()
            .destination(destination)
            .recipient_limit
        else {
            return Ok(());
        };
        let window = Duration::from_secs(u64::from(limit.minutes.max(1)) * 60);
        let now = Instant::now();
        let mut dests = self.lock_destinations();
        let Some(d) = dests.get_mut(destination) else {
            return Ok(());
        };
        while d
            .sent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= window)
        {
            d.sent.pop_front();
        }
        let used: u32 = d.sent.iter().map(|(_, k)| k).sum();
        // A job larger than the whole limit still goes, alone in a window.
        if used > 0 && used + n > limit.recipients {
            let oldest = d.sent.front().map(|(t, _)| *t).unwrap_or(now);
            return Err(
                window.saturating_sub(now.duration_since(oldest)) + Duration::from_millis(10)
            );
        }
        d.sent.push_back((now, n));
        Ok(())
    }

    fn report(&self, destination: &str, mid: Mid, dcid: Dcid, results: Vec<(Rid, Outcome)>) {
        let _ = self.reports.send(DeliveryReport {
            mid,
            destination: destination.to_string(),
            dcid,
            results,
        });
    }

    fn host_update(&self, destination: &str, error: Option<String>) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let h = hosts.entry(destination.to_string()).or_default();
        let now = chrono::Utc::now();
        h.last_attempt = Some(now);
        h.down = error.is_some();
        match error {
            Some(e) => h.last_error = Some(e),
            None => h.last_success = Some(now),
        }
    }

    /// Takes a per-address connection slot, if that address has one free.
    fn take_ip(&self, ip: IpAddr, max: u32) -> bool {
        let mut m = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn release_ip(&self, ip: IpAddr) {
        let mut m = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_opens_when_wanted_and_under_both_limits() {
        let want = |queued, active| Want {
            queued,
            active,
            idle: 0,
            floor: 1,
            max: 2,
        };
        assert_eq!(want(0, 0).decide(0, 10), Open::No, "nothing queued");
        assert_eq!(
            want(1, 1).decide(1, 10),
            Open::No,
            "one job, one connection"
        );
        assert_eq!(want(3, 1).decide(1, 10), Open::Yes);
        assert_eq!(want(3, 2).decide(2, 10), Open::No, "destination limit");
        assert_eq!(want(3, 1).decide(10, 10), Open::Capped, "all destinations");
        assert_eq!(want(1, 0).decide(10, 10), Open::Capped);
        let tdc = Want {
            queued: 1,
            active: 1,
            idle: 0,
            floor: crate::tdc::MIN_CONNECTIONS,
            max: 500,
        };
        assert_eq!(tdc.decide(5, 10), Open::Yes, "the TDC keeps its floor");
        assert_eq!(tdc.decide(10, 10), Open::Capped, "but not past the cap");
    }

    #[test]
    fn an_idle_connection_never_holds_a_new_one_back() {
        let want = |queued, active, idle| Want {
            queued,
            active,
            idle,
            floor: 1,
            max: 2,
        };
        // One job for another next hop, one idle connection: dial.
        assert_eq!(want(1, 1, 1).decide(1, 10), Open::Yes);
        // At the destination's limit: an idle one gives its place up.
        assert_eq!(want(1, 2, 2).decide(2, 10), Open::RetireIdle);
        assert_eq!(want(2, 2, 1).decide(2, 10), Open::RetireIdle);
        // At the cap for all destinations: the same.
        assert_eq!(want(1, 1, 1).decide(10, 10), Open::RetireIdle);
        // As many busy connections as queued jobs: one of them carries it
        // next, as without the cache.
        assert_eq!(want(1, 2, 1).decide(2, 10), Open::No);
        assert_eq!(want(0, 2, 2).decide(2, 10), Open::No);
    }
}
