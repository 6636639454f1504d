//! Counters behind the connection limits — all listeners together, each
//! listener, each client address — and the per-IP recipients per hour of
//! mail flow policies. Both are bounded maps keyed by the client address;
//! entries go away when their count does, so an attack from many
//! addresses cannot grow them without bound beyond the connection limits
//! (connections) or one hour's window (recipients).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The address a client is counted under: an IPv4 address as it is, an
/// IPv6 client by its /64. A subscriber gets at least a /64 and may pick
/// any of its 2^64 addresses per connection, so counting single IPv6
/// addresses would be no limit at all.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Which limit a connection would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The counter's total (a listener, or all listeners together).
    Total,
    /// The client's address (see [`client_key`]).
    Address,
}

/// Live connections in total and per client address; one per listener,
/// and one for all listeners together.
#[derive(Default)]
pub struct ConnectionCounter {
    inner: Mutex<(u32, HashMap<IpAddr, u32>)>,
}

/// Releases its connection slot when dropped.
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    key: IpAddr,
}

impl ConnectionCounter {
    /// Takes a slot unless the total or this client's address (see
    /// [`client_key`]) is at its limit.
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        total_max: u32,
        per_ip_max: u32,
    ) -> Result<ConnectionSlot, Full> {
        let key = client_key(ip);
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 >= total_max {
            return Err(Full::Total);
        }
        let n = g.1.get(&key).copied().unwrap_or(0);
        if n >= per_ip_max {
            return Err(Full::Address);
        }
        g.0 += 1;
        g.1.insert(key, n + 1);
        Ok(ConnectionSlot {
            counter: self.clone(),
            key,
        })
    }

    pub fn total(&self) -> u32 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Live connections per client address (see [`client_key`]), for
    /// `topin`.
    pub fn by_client(&self) -> Vec<(IpAddr, u32)> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter().map(|(ip, n)| (*ip, *n)).collect()
    }
}

impl ConnectionSlot {
    /// Live connections from this slot's client address, this one included.
    pub fn same_address(&self) -> u32 {
        let g = self.counter.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1.get(&self.key).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut g = self.counter.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.key);
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
        assert_eq!(s1.same_address(), 1);
        assert!(matches!(c.acquire(a, 3, 1), Err(Full::Address)));
        let _s2 = c.acquire(b, 3, 1).unwrap();
        drop(s1);
        let _s3 = c.acquire(a, 3, 1).unwrap();
        assert!(matches!(
            c.acquire("192.0.2.3".parse().unwrap(), 2, 1),
            Err(Full::Total)
        ));
        assert_eq!(c.total(), 2);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let c = Arc::new(ConnectionCounter::default());
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let s = c.acquire(one, 10, 2).unwrap();
        let _t = c.acquire(same_64, 10, 2).unwrap();
        assert_eq!(s.same_address(), 2);
        assert!(matches!(
            c.acquire("2001:db8:1:2::abcd".parse().unwrap(), 10, 2),
            Err(Full::Address)
        ));
        assert!(c.acquire(other_64, 10, 2).is_ok());
        // An IPv4 client seen through a v4-mapped address is that client.
        assert_eq!(
            client_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn hourly_recipients_stop_at_the_limit() {
        let h = HourlyRecipients::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(h.try_add(ip, 2) && h.try_add(ip, 2));
        assert!(!h.try_add(ip, 2));
    }
}
