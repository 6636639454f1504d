//! Counters behind the per-IP limits of mail flow policies: concurrent
//! connections and recipients per hour. Both are bounded maps keyed by the
//! client address; entries go away when their count does, so an attack from
//! many addresses cannot grow them without bound beyond the listener's
//! connection limit (connections) or one hour's window (recipients).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Live connections per client address on one listener.
#[derive(Default)]
pub struct ConnectionCounter {
    inner: Mutex<(u32, HashMap<IpAddr, u32>)>,
}

/// Releases its connection slot when dropped.
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
}

impl ConnectionCounter {
    /// Takes a slot unless the listener or this address is at its limit.
    /// Errors: `Err(true)` when the listener is full, `Err(false)` when the
    /// address is.
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        listener_max: u32,
        per_ip_max: u32,
    ) -> Result<ConnectionSlot, bool> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 >= listener_max {
            return Err(true);
        }
        let n = g.1.get(&ip).copied().unwrap_or(0);
        if n >= per_ip_max {
            return Err(false);
        }
        g.0 += 1;
        g.1.insert(ip, n + 1);
        Ok(ConnectionSlot {
            counter: self.clone(),
            ip,
        })
    }

    pub fn total(&self) -> u32 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut g = self.counter.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.ip);
            }
        }
    }
}

/// Recipients accepted per client address in the current hour.
#[derive(Default)]
pub struct HourlyRecipients {
    inner: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const HOUR: Duration = Duration::from_secs(3600);
/// Map size at which expired windows are swept.
const SWEEP_AT: usize = 4096;

impl HourlyRecipients {
    /// Counts one recipient unless `ip` already reached `limit` this hour.
    pub fn try_add(&self, ip: IpAddr, limit: u32) -> bool {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Expired windows are swept only when the map has grown, so a
        // recipient costs O(1), not a scan of every address seen.
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < HOUR);
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= HOUR {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_released_on_drop() {
        let c = Arc::new(ConnectionCounter::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = c.acquire(a, 3, 1).unwrap();
        assert!(matches!(c.acquire(a, 3, 1), Err(false)));
        let _s2 = c.acquire(b, 3, 1).unwrap();
        drop(s1);
        let _s3 = c.acquire(a, 3, 1).unwrap();
        assert!(matches!(
            c.acquire("192.0.2.3".parse().unwrap(), 2, 1),
            Err(true)
        ));
    }

    #[test]
    fn hourly_recipients_stop_at_the_limit() {
        let h = HourlyRecipients::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(h.try_add(ip, 2) && h.try_add(ip, 2));
        assert!(!h.try_add(ip, 2));
    }
}
