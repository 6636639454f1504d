//! The idle connection cache: a connection that delivered a message and
//! finds nothing more queued for its next hop stays open for a short,
//! bounded time (`deliveryconfig setup --connection-cache-secs`, 2 s as
//! Postfix's `smtp_connection_cache_time_limit`), so the next message to
//! the same next hop skips the TCP handshake, the greeting, EHLO and
//! STARTTLS.
//!
//! The cache holds no socket: an idle connection stays with its worker
//! task, which waits (see `worker::wait_idle`) for one of three things:
//! a wake-up from [`Shared::wake_idle_for`] (a job for its next hop, or
//! the order to close), the end of its idle time, or its server closing
//! the connection. What this module keeps, per destination, is the list
//! of those waiting workers and how to wake each. All of it changes under
//! the destinations lock, so a job is handed to exactly one connection and
//! a worker that takes itself out of the cache knows nobody woke it.
//!
//! Idle connections count toward the destination's and the gateway's
//! connection limits (they are open), but never hold a new connection
//! back: a job that none of them may carry makes one close and carry it
//! instead (`Open::RetireIdle`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use std::time::Duration;

use super::client::SmtpClient;
use super::{DeliveryJob, Destination, Shared};
use crate::config::ConnectionCache;

/// Why a worker waiting with an idle connection was woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// A job for its next hop was queued: take it (`next_job_like`).
    Reuse,
    /// Close (QUIT): a commit, `suspenddel`, shutdown, or the connection's
    /// place is wanted for another next hop. The worker then carries on
    /// with its destination's other jobs, if any, as after any close.
    Close,
}

/// A worker waiting in the cache with its connection.
pub(super) struct IdleSlot {
    id: u64,
    /// A job the connection carried: the next hop it is open to.
    like: DeliveryJob,
    wake: oneshot::Sender<Wake>,
}

/// A worker's offer of its connection to the cache, answered.
pub(super) enum Parked {
    /// In the cache as `id`: wait for the wake-up.
    Waiting {
        id: u64,
        wake: oneshot::Receiver<Wake>,
    },
    /// A job for the same next hop was queued meanwhile: carry it now.
    Job(Box<DeliveryJob>),
    /// Not kept: the cache is off or full, or the destination has jobs
    /// for another next hop (the worker closes and carries those).
    Refused,
}

impl Shared {
    /// Offers the connection that carried `like` to the cache.
    pub(super) fn park(&self, like: &DeliveryJob, limits: ConnectionCache) -> Parked {
        let mut dests = self.lock_destinations();
        let Some(d) = dests.get_mut(&like.destination) else {
            return Parked::Refused;
        };
        if let Some(i) = d.jobs.iter().position(|j| j.same_target(like))
            && let Some(job) = d.jobs.remove(i)
        {
            return Parked::Job(Box::new(job));
        }
        let full = d.idle.len() as u32 >= limits.max_idle_per_destination
            || self.idle.load(Ordering::Relaxed) >= limits.max_idle;
        if limits.idle_secs == 0 || full || !d.jobs.is_empty() {
            return Parked::Refused;
        }
        let id = self.idle_ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        d.idle.push_back(IdleSlot {
            id,
            like: like.clone(),
            wake: tx,
        });
        self.idle.fetch_add(1, Ordering::Relaxed);
        Parked::Waiting { id, wake: rx }
    }

    /// Takes idle connection `id` out of the cache (its time is up, or its
    /// server closed it). `false`: it was already taken out by a wake-up,
    /// which is waiting in its receiver.
    pub(super) fn unpark(&self, destination: &str, id: u64) -> bool {
        let mut dests = self.lock_destinations();
        let Some(d) = dests.get_mut(destination) else {
            return false;
        };
        let Some(i) = d.idle.iter().position(|s| s.id == id) else {
            return false;
        };
        d.idle.remove(i);
        self.idle_gone(1);
        true
    }

    /// Hands `job` (about to be queued in `d`) to an idle connection to the
    /// same next hop, if there is one; destinations lock held. The most
    /// recently used connection is woken: the oldest ones then expire
    /// first when traffic drops.
    pub(super) fn wake_idle_for(&self, d: &mut Destination, job: &DeliveryJob) -> bool {
        while let Some(i) = d.idle.iter().rposition(|s| s.like.same_target(job)) {
            let Some(slot) = d.idle.remove(i) else {
                return false;
            };
            self.idle_gone(1);
            // A worker whose task is gone (runtime shutting down) cannot
            // take it: try the next one.
            if slot.wake.send(Wake::Reuse).is_ok() {
                return true;
            }
        }
        false
    }

    /// Makes the oldest idle connection of `d` close and carry the
    /// destination's next job; destinations lock held.
    pub(super) fn retire_idle(&self, d: &mut Destination) {
        if let Some(slot) = d.idle.pop_front() {
            self.idle_gone(1);
            let _ = slot.wake.send(Wake::Close);
        }
    }

    /// Frees a connection slot under the gateway's outbound cap by closing
    /// an idle connection of any destination; destinations lock held.
    pub(super) fn retire_idle_anywhere(&self, dests: &mut HashMap<String, Destination>) {
        if let Some(d) = dests.values_mut().find(|d| !d.idle.is_empty()) {
            self.retire_idle(d);
        }
    }

    /// Closes every idle connection.
    pub(super) fn close_idle(&self) {
        let mut dests = self.lock_destinations();
        for d in dests.values_mut() {
            let n = d.idle.len() as u32;
            for slot in d.idle.drain(..) {
                let _ = slot.wake.send(Wake::Close);
            }
            self.idle_gone(n);
        }
    }

    /// `n` idle connections left the cache (destinations lock held).
    fn idle_gone(&self, n: u32) {
        let _ = self
            .idle
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |k| {
                Some(k.saturating_sub(n))
            });
    }
}

/// How an idle connection's wait ended.
pub(super) enum Idle {
    /// A job for its next hop.
    Job(Box<DeliveryJob>),
    /// Close it: QUIT first unless the server closed it.
    Close { polite: bool },
}

/// What ended the wait in the cache.
enum Waited {
    Woken(Option<Wake>),
    Expired,
    ServerClosed,
}

/// Keeps `client`'s connection, which just carried `like`, in the cache until a job for
/// the same next hop comes, its idle time is up, it is told to close, or
/// the server closes it.
pub(super) async fn wait_idle(
    shared: &Shared,
    client: &mut SmtpClient,
    like: &DeliveryJob,
) -> Idle {
    let limits = shared.config.borrow().connection_cache;
    let until = tokio::time::Instant::now() + Duration::from_secs(limits.idle_secs.into());
    loop {
        let (id, mut wake) = match shared.park(like, limits) {
            Parked::Waiting { id, wake } => (id, wake),
            Parked::Job(job) => return Idle::Job(job),
            Parked::Refused => return Idle::Close { polite: true },
        };
        let waited = tokio::select! {
            w = &mut wake => Waited::Woken(w.ok()),
            _ = tokio::time::sleep_until(until) => Waited::Expired,
            _ = client.closed_by_peer() => Waited::ServerClosed,
        };
        let server_closed = matches!(waited, Waited::ServerClosed);
        let woken = match waited {
            Waited::Woken(w) => w,
            // Out of the cache, unless a wake-up took it out first: then
            // that wake-up decides (it is in the receiver already).
            Waited::Expired | Waited::ServerClosed => {
                if shared.unpark(&like.destination, id) {
                    return Idle::Close {
                        polite: !server_closed,
                    };
                }
                match wake.await.ok() {
                    // The job it was woken for goes on a new connection.
                    Some(Wake::Reuse) if server_closed => {
                        return Idle::Close { polite: false };
                    }
                    other => other,
                }
            }
        };
        match woken {
            Some(Wake::Reuse) => {
                if let Some(job) = shared.next_job_like(&like.destination, like) {
                    return Idle::Job(Box::new(job));
                }
                // A busy connection to the same host took it first.
                if tokio::time::Instant::now() >= until {
                    return Idle::Close { polite: true };
                }
            }
            Some(Wake::Close) | None => {
                return Idle::Close {
                    polite: !server_closed,
                };
            }
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
