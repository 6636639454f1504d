//! The reception memory budget: one count of the bytes all SMTP sessions
//! together may hold (read buffers, message data on its way to the spool).
//! A session reserves before it allocates; when the budget is spent the
//! client gets a 4xx and tries again later, instead of the daemon growing
//! until the kernel kills it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared budget. Its limit follows the committed configuration.
#[derive(Debug)]
pub struct ReceptionBudget {
    limit: AtomicU64,
    used: AtomicU64,
}

/// Bytes held against the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<ReceptionBudget>,
    bytes: u64,
}

impl ReceptionBudget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
        })
    }

    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Reserves `bytes`, or `None` when that would pass the limit.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let limit = self.limit.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&n| n <= limit)
            })
            .ok()?;
        Some(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes reserved now (for `status`).
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_limit_and_come_back_when_dropped() {
        let b = ReceptionBudget::new(100);
        let r1 = b.try_reserve(60).unwrap();
        assert!(b.try_reserve(50).is_none());
        let r2 = b.try_reserve(40).unwrap();
        assert_eq!(b.used(), 100);
        drop(r1);
        assert!(b.try_reserve(50).is_some());
        drop(r2);
        assert_eq!(b.used(), 0);
    }
}
