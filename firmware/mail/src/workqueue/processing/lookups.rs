//! What the message filters may ask the work queue: how often a sender or
//! subject was seen in the last hour (`header-repeats`) and DNS lists
//! (`dnslist`).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::dns::{Dns, LookupError};
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

/// What the filters may ask the work queue: the DNS list answers found so
/// far for this message, and the header-repeats counters.
///
/// The filters are sans-I/O and run inside the work queue's task, so a DNS
/// list is never queried from inside them: a zone with no answer yet reads
/// as "not listed" and is noted in `missing`; the work queue then discards
/// that verdict, queries the missing zones in a task of their own
/// ([`query_dnslists`]) and runs the filters again with the answers. A slow
/// or dead DNS server so delays only the messages whose filters reach a
/// `dnslist` rule; every other message goes on at once.
pub(super) struct QueueLookups<'a> {
    pub(super) repeats: &'a Repeats,
    pub(super) direction: &'static str,
    pub(super) dnslists: &'a HashMap<String, Vec<IpAddr>>,
    pub(super) missing: RefCell<Vec<String>>,
}

/// Most DNS list queries in flight at once, over all messages: a flood of
/// messages facing a dead DNS server waits for permits instead of opening
/// a socket each.
pub(super) const MAX_DNSLIST_QUERIES: usize = 64;

/// A last bound on one DNS list query, past the resolver's own timeout
/// (`dnsconfig`, one attempt per server).
const DNSLIST_DEADLINE: Duration = Duration::from_secs(60);

/// The key a zone is known by: `bl.example.net`.
pub(super) fn zone_key(zone: &str) -> String {
    zone.trim_matches('.').to_ascii_lowercase()
}

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

/// Asks each DNS list in `zones` whether `ip` is listed, concurrently: the
/// addresses `<reversed ip>.<zone>` has (RFC 5782; listed when any, the
/// address saying why, as `dnslist('zone') == '127.0.0.2'` compares); a
/// name that does not exist is "not listed" (none); a query that fails
/// (timeout, SERVFAIL) is an `Err` with the reason, which the caller logs
/// and reads as "not listed". Answers, negative ones included, are cached by the
/// resolver (`dnsconfig` cache size).
pub(super) async fn query_dnslists(
    dns: &Dns,
    permits: &Arc<Semaphore>,
    ip: IpAddr,
    zones: Vec<String>,
) -> Vec<(String, Result<Vec<IpAddr>, String>)> {
    let mut set = JoinSet::new();
    for zone in zones {
        let dns = dns.clone();
        let permits = permits.clone();
        set.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return (zone, Err("DNS list queries are shut down".to_string()));
            };
            let name = format!("{}.{zone}", reversed(ip));
            let answer = match tokio::time::timeout(DNSLIST_DEADLINE, dns.addresses(&name)).await {
                Err(_) => Err("no answer".to_string()),
                Ok(Ok(found)) => Ok(found),
                Ok(Err(LookupError::NxDomain | LookupError::NoRecords)) => Ok(Vec::new()),
                Ok(Err(LookupError::Temporary(e))) => Err(e),
            };
            (zone, answer)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(answer) = done {
            out.push(answer);
        }
    }
    out
}

impl Lookups for QueueLookups<'_> {
    fn dnslist(&self, zone: &str, _ip: IpAddr) -> Vec<IpAddr> {
        let key = zone_key(zone);
        match self.dnslists.get(&key) {
            Some(answers) => answers.clone(),
            None => {
                let mut missing = self.missing.borrow_mut();
                if !missing.contains(&key) {
                    missing.push(key);
                }
                Vec::new()
            }
        }
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
    use std::collections::HashMap;
    use std::net::IpAddr;

    use super::{QueueLookups, Repeats};
    use crate::filters::Lookups;

    #[test]
    fn dnslist_answers_are_the_zones_addresses_and_unknown_zones_are_noted() {
        let repeats = Repeats::default();
        let listed: IpAddr = "127.0.0.2".parse().unwrap();
        let dnslists = HashMap::from([
            ("bl.example.net".to_string(), vec![listed]),
            ("clean.example.org".to_string(), Vec::new()),
        ]);
        let lookups = QueueLookups {
            repeats: &repeats,
            direction: "inbound",
            dnslists: &dnslists,
            missing: Default::default(),
        };
        let client: IpAddr = "203.0.113.200".parse().unwrap();
        assert_eq!(lookups.dnslist("BL.example.net.", client), [listed]);
        assert!(lookups.dnslist("clean.example.org", client).is_empty());
        assert!(lookups.dnslist("new.example.com", client).is_empty());
        assert!(lookups.dnslist("new.example.com", client).is_empty());
        assert_eq!(lookups.missing.into_inner(), ["new.example.com"]);
    }

    /// The filter rule over the work queue's answers: `==` compares the
    /// zone's address, a bare rule is "listed".
    #[test]
    fn the_answer_comparison_reads_the_work_queues_answers() {
        let repeats = Repeats::default();
        let dnslists = HashMap::from([(
            "zen.example.org".to_string(),
            vec!["127.0.0.4".parse::<IpAddr>().unwrap()],
        )]);
        let lookups = QueueLookups {
            repeats: &repeats,
            direction: "inbound",
            dnslists: &dnslists,
            missing: Default::default(),
        };
        let rule = |cond: &str| {
            let script = format!("f: if {cond} {{ drop(); }}");
            let filters = crate::filters::parse(&script).unwrap();
            let raw = b"Subject: hi\r\n\r\nbody\r\n";
            let mut ctx =
                crate::filters::MessageContext::new(crate::ids::Mid(1), raw, chrono::Utc::now());
            ctx.remote_ip = "203.0.113.200".parse().unwrap();
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
            crate::filters::evaluate(&filters, &ctx, &lookups, &mut rng)
                .final_action
                .is_some()
        };
        assert!(rule("dnslist('zen.example.org')"));
        assert!(rule("dnslist('zen.example.org') == '127.0.0.4'"));
        assert!(!rule("dnslist('zen.example.org') == '127.0.0.2'"));
        assert!(rule("dnslist('zen.example.org') != '127.0.0.2'"));
    }

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
