//! What the message filters may ask the work queue: how often a sender or
//! subject was seen in the last hour (`header-repeats`) and DNS lists
//! (`dnslist`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use chrono::Utc;

use crate::filters::Lookups;

/// `header-repeats`: messages per subject and per envelope sender over the
/// last hour, per direction. Bounded: at most `MAX_KEYS` distinct values
/// are tracked; beyond that the oldest values are forgotten.
#[derive(Default)]
pub(super) struct Repeats {
    seen: HashMap<(&'static str, &'static str, String), VecDeque<i64>>,
    order: VecDeque<(&'static str, &'static str, String)>,
}

const MAX_KEYS: usize = 50_000;
const HOUR: i64 = 3600;

impl Repeats {
    pub(super) fn count(&mut self, direction: &'static str, mail_from: &str, subject: &str) {
        let now = Utc::now().timestamp();
        for (target, value) in [("mail-from", mail_from), ("subject", subject)] {
            let key = (target, direction, value.to_string());
            let times = self.seen.entry(key.clone()).or_insert_with(|| {
                self.order.push_back(key);
                VecDeque::new()
            });
            while times.front().is_some_and(|t| now - t >= HOUR) {
                times.pop_front();
            }
            times.push_back(now);
        }
        while self.order.len() > MAX_KEYS {
            if let Some(k) = self.order.pop_front() {
                self.seen.remove(&k);
            }
        }
    }

    fn get(&self, target: &str, direction: &str, value: &str) -> u64 {
        let now = Utc::now().timestamp();
        let n = |dir: &'static str| {
            self.seen
                .get(&(
                    if target.eq_ignore_ascii_case("subject") {
                        "subject"
                    } else {
                        "mail-from"
                    },
                    dir,
                    value.to_string(),
                ))
                .map_or(0, |t| t.iter().filter(|x| now - **x < HOUR).count() as u64)
        };
        match direction {
            "all" => n("inbound") + n("outbound"),
            d => n(if d == "outbound" {
                "outbound"
            } else {
                "inbound"
            }),
        }
    }
}

/// What the filters may ask the work queue: DNS lists (through the
/// configured name servers) and the header-repeats counters.
pub(super) struct QueueLookups<'a> {
    pub(super) repeats: &'a Repeats,
    pub(super) direction: &'static str,
    pub(super) dns: crate::dns::Dns,
}

/// How long one DNS list query may hold up the message's processing.
const DNSLIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The DNS list form of an address: `4.3.2.1` for 1.2.3.4, nibbles for
/// IPv6.
fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => v6
            .octets()
            .iter()
            .rev()
            .flat_map(|b| [b & 0x0f, b >> 4])
            .map(|n| format!("{n:x}"))
            .collect::<Vec<_>>()
            .join("."),
    }
}

impl Lookups for QueueLookups<'_> {
    /// `ip` is listed when `<reversed ip>.<zone>` has an address record
    /// (RFC 5782). The filters run synchronously in the work queue's task,
    /// so the query blocks that worker thread (never the others) for at
    /// most `DNSLIST_TIMEOUT`; an unanswered query is "not listed".
    fn dnslist(&self, zone: &str, ip: IpAddr) -> bool {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return false;
        }
        let name = format!("{}.{}", reversed(ip), zone.trim_matches('.'));
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                tokio::time::timeout(DNSLIST_TIMEOUT, self.dns.addresses(&name))
                    .await
                    .is_ok_and(|r| r.is_ok_and(|a| !a.is_empty()))
            })
        })
    }

    fn header_repeats(&self, target: &str, value: &str, direction: Option<&str>) -> u64 {
        let dir = match direction.map(str::to_ascii_lowercase).as_deref() {
            Some("incoming") => "inbound",
            Some("outgoing") => "outbound",
            Some("all") => "all",
            _ => self.direction,
        };
        self.repeats.get(target, dir, value)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_reversed_as_dns_lists_want() {
        assert_eq!(super::reversed("192.0.2.1".parse().unwrap()), "1.2.0.192");
        let v6 = super::reversed("2001:db8::1".parse().unwrap());
        assert!(
            v6.starts_with("1.0.0.0.0.0.0.0.") && v6.ends_with("8.b.d.0.1.0.0.2"),
            "{v6}"
        );
    }
}
