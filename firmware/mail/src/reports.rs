//! The counters behind the web UI's Reports (`reportdata`): hourly series
//! and the top senders, kept in memory in bounded structures.
//!
//! The work queue feeds it where it already counts for `status` (a
//! message admitted, a recipient delivered or hard bounced) and samples
//! the queue length once a minute; `reportdata` reads it inside the work
//! queue's task, so there are no locks. Nothing is stored: a restart
//! begins new series (the lifetime counters of `status detail` are the
//! durable ones).
//!
//! Bounds: [`HOURS`] hourly buckets (listeners are the configured few),
//! and [`TOP_KEYS`] sender domains and as many sender IPs, each with 24
//! hourly slots; when a new key arrives at the cap, the tenth with the
//! fewest messages over the last 24 hours is evicted (a flood of
//! one-message senders cannot push out the busy ones). Pure: every call
//! takes the time, so tests drive it hour by hour.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;

use serde::Serialize;

/// Hourly buckets kept (two days: "the last 24 hours" and the day before).
pub const HOURS: usize = 48;
/// Sender domains (and, separately, sender IPs) counted at once.
pub const TOP_KEYS: usize = 1000;
/// Keys dropped together when [`TOP_KEYS`] is reached (the least counted).
const EVICT_AT_ONCE: usize = TOP_KEYS / 10;
/// Entries of a top list.
pub const TOP_N: usize = 10;
/// Hours a report covers unless asked otherwise.
pub const DEFAULT_HOURS: usize = 24;

const HOUR: i64 = 3600;

/// One hour of mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Bucket {
    /// Unix hour (seconds / 3600).
    hour: i64,
    /// Messages received, by listener.
    received: BTreeMap<String, u64>,
    delivered: u64,
    bounced: u64,
    /// The longest the queue was at a sample of this hour.
    queue_max: Option<u64>,
}

/// Counts of one key over the last 24 hours, an hour per slot.
#[derive(Debug, Clone, Default)]
struct Day {
    slots: [u32; 24],
    /// The unix hour of the last count (slots of later hours are stale).
    last: i64,
}

impl Day {
    fn add(&mut self, hour: i64) {
        if hour > self.last {
            if hour - self.last >= 24 {
                self.slots = [0; 24];
            } else {
                for h in self.last + 1..=hour {
                    self.slots[h.rem_euclid(24) as usize] = 0;
                }
            }
            self.last = hour;
        }
        if hour > self.last - 24 {
            let slot = &mut self.slots[hour.rem_euclid(24) as usize];
            *slot = slot.saturating_add(1);
        }
    }

    /// Messages in the 24 hours ending with `now` (a unix hour).
    fn total(&self, now: i64) -> u64 {
        let from = (now - 23).max(self.last - 23);
        (from..=self.last.min(now))
            .map(|h| u64::from(self.slots[h.rem_euclid(24) as usize]))
            .sum()
    }
}

/// Counts per key, at most [`TOP_KEYS`] keys.
#[derive(Debug, Default)]
struct TopCounter {
    keys: HashMap<String, Day>,
}

impl TopCounter {
    fn add(&mut self, key: &str, hour: i64) {
        if let Some(day) = self.keys.get_mut(key) {
            day.add(hour);
            return;
        }
        if self.keys.len() >= TOP_KEYS {
            // The work queue calls this for every message, and on the
            // internet most senders are new ones: a scan of every key per
            // new key (1000 keys x 24 hours) would sit on that path. One
            // scan drops the least counted tenth instead, so it runs once
            // per 100 new keys.
            let mut by_count: Vec<(u64, String)> = self
                .keys
                .iter()
                .map(|(k, d)| (d.total(hour), k.clone()))
                .collect();
            by_count.sort_unstable();
            for (_, k) in by_count.into_iter().take(EVICT_AT_ONCE) {
                self.keys.remove(&k);
            }
        }
        let mut day = Day {
            last: hour,
            ..Day::default()
        };
        day.add(hour);
        self.keys.insert(key.to_string(), day);
    }

    /// The [`TOP_N`] keys with the most messages in the last 24 hours.
    fn top(&self, hour: i64) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .keys
            .iter()
            .map(|(k, d)| (k.clone(), d.total(hour)))
            .filter(|(_, n)| *n > 0)
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(TOP_N);
        all
    }
}

/// The collector.
#[derive(Debug, Default)]
pub struct Reports {
    buckets: VecDeque<Bucket>,
    sender_domains: TopCounter,
    sender_ips: TopCounter,
}

/// One hour of [`ReportData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourReport {
    /// Unix seconds at the start of the hour.
    pub start: i64,
    /// The hour in the appliance's time zone, `HH:00`.
    pub label: String,
    pub received: BTreeMap<String, u64>,
    pub delivered: u64,
    pub bounced: u64,
    /// `None` when no sample was taken that hour (the daemon was down).
    pub queue_max: Option<u64>,
}

/// What `reportdata` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportData {
    /// Oldest first, one per hour, the current hour last.
    pub hours: Vec<HourReport>,
    /// Every listener that received mail in those hours.
    pub listeners: Vec<String>,
    pub top_sender_domains: Vec<(String, u64)>,
    pub top_sender_ips: Vec<(String, u64)>,
}

impl Reports {
    fn bucket(&mut self, now: i64) -> &mut Bucket {
        let hour = now.div_euclid(HOUR);
        if self.buckets.back().is_none_or(|b| b.hour < hour) {
            self.buckets.push_back(Bucket {
                hour,
                ..Bucket::default()
            });
            while self.buckets.len() > HOURS {
                self.buckets.pop_front();
            }
        }
        // A clock stepped back counts in the newest bucket.
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }

    /// A message received on `listener` from `sender` (the envelope
    /// sender) at `ip`.
    pub fn received(&mut self, now: i64, listener: &str, sender: &str, ip: IpAddr) {
        *self
            .bucket(now)
            .received
            .entry(listener.to_string())
            .or_default() += 1;
        let hour = now.div_euclid(HOUR);
        let domain = match sender.rsplit_once('@') {
            Some((_, d)) if !d.is_empty() => d.to_ascii_lowercase(),
            // The null sender (DSNs) and unqualified names.
            _ if sender.is_empty() => "<>".to_string(),
            _ => sender.to_ascii_lowercase(),
        };
        self.sender_domains.add(&domain, hour);
        self.sender_ips.add(&ip.to_string(), hour);
    }

    /// A recipient delivered.
    pub fn delivered(&mut self, now: i64) {
        self.bucket(now).delivered += 1;
    }

    /// A recipient hard bounced.
    pub fn bounced(&mut self, now: i64) {
        self.bucket(now).bounced += 1;
    }

    /// A sample of the queue length (messages).
    pub fn queue_length(&mut self, now: i64, messages: u64) {
        let b = self.bucket(now);
        b.queue_max = Some(b.queue_max.map_or(messages, |m| m.max(messages)));
    }

    /// The last `hours` hours (1 to [`HOURS`]), the current one included,
    /// with an entry for every hour (zeros where nothing happened).
    pub fn data(&self, now: i64, hours: usize) -> ReportData {
        let hours = hours.clamp(1, HOURS) as i64;
        let current = now.div_euclid(HOUR);
        let mut listeners: Vec<String> = Vec::new();
        let series = (current - hours + 1..=current)
            .map(|hour| {
                let b = self.buckets.iter().find(|b| b.hour == hour);
                for l in b.iter().flat_map(|b| b.received.keys()) {
                    if !listeners.contains(l) {
                        listeners.push(l.clone());
                    }
                }
                HourReport {
                    start: hour * HOUR,
                    label: chrono::DateTime::from_timestamp(hour * HOUR, 0)
                        .map(|t| {
                            breakwater_types::clock::local(t)
                                .format("%H:00")
                                .to_string()
                        })
                        .unwrap_or_default(),
                    received: b.map(|b| b.received.clone()).unwrap_or_default(),
                    delivered: b.map_or(0, |b| b.delivered),
                    bounced: b.map_or(0, |b| b.bounced),
                    queue_max: b.and_then(|b| b.queue_max),
                }
            })
            .collect();
        listeners.sort();
        ReportData {
            hours: series,
            listeners,
            top_sender_domains: self.sender_domains.top(current),
            top_sender_ips: self.sender_ips.top(current),
        }
    }
}

impl ReportData {
    /// The console's form: a line per hour, then the top lists.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{:<6} {:>9} {:>9} {:>8} {:>7}  received by listener\n",
            "Hour", "Received", "Delivered", "Bounced", "Queue"
        );
        for h in &self.hours {
            let total: u64 = h.received.values().sum();
            let by: Vec<String> = h.received.iter().map(|(l, n)| format!("{l} {n}")).collect();
            out.push_str(&format!(
                "{:<6} {:>9} {:>9} {:>8} {:>7}  {}\n",
                h.label,
                total,
                h.delivered,
                h.bounced,
                h.queue_max.map_or("-".to_string(), |q| q.to_string()),
                by.join(", ")
            ));
        }
        for (title, list) in [
            ("Top sender domains (24 hours)", &self.top_sender_domains),
            ("Top sender IPs (24 hours)", &self.top_sender_ips),
        ] {
            out.push_str(&format!("\n{title}:\n"));
            if list.is_empty() {
                out.push_str("  (none)\n");
            }
            for (k, n) in list {
                out.push_str(&format!("  {k:<40} {n:>8}\n"));
            }
        }
        out
    }
}

/// `reportdata [--json] [--hours N]`.
pub fn command(reports: &Reports, now: i64, args: &[String]) -> Result<String, String> {
    const USAGE: &str = "usage: reportdata [--json] [--hours N]";
    let mut json = false;
    let mut hours = DEFAULT_HOURS;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_ascii_lowercase().as_str() {
            "--json" => json = true,
            "--hours" => {
                hours = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=HOURS).contains(n))
                    .ok_or_else(|| format!("--hours must be a number from 1 to {HOURS}."))?;
            }
            _ => return Err(USAGE.to_string()),
        }
    }
    let data = reports.data(now, hours);
    if json {
        serde_json::to_string(&data).map_err(|e| format!("Cannot encode the answer: {e}"))
    } else {
        Ok(data.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000 / HOUR * HOUR;
    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn hourly_series_have_one_entry_per_hour_with_zeros_between() {
        let mut r = Reports::default();
        r.received(T0, "IncomingMail", "a@example.org", ip(1));
        r.received(T0 + 10, "IncomingMail", "b@example.org", ip(1));
        r.received(T0 + 20, "OutgoingMail", "c@your_domain.com", ip(2));
        r.delivered(T0 + 30);
        r.queue_length(T0 + 60, 3);
        r.queue_length(T0 + 120, 7);
        r.queue_length(T0 + 180, 2);
        r.bounced(T0 + 3 * HOUR);
        let d = r.data(T0 + 3 * HOUR + 5, 24);
        assert_eq!(d.hours.len(), 24);
        assert_eq!(d.hours[23].start, T0 + 3 * HOUR);
        assert_eq!(d.hours[23].bounced, 1);
        let first = &d.hours[20];
        assert_eq!(first.start, T0);
        assert_eq!(first.received["IncomingMail"], 2);
        assert_eq!(first.received["OutgoingMail"], 1);
        assert_eq!(first.delivered, 1);
        assert_eq!(first.queue_max, Some(7));
        assert_eq!(
            d.hours[21],
            HourReport {
                start: T0 + HOUR,
                label: d.hours[21].label.clone(),
                received: BTreeMap::new(),
                delivered: 0,
                bounced: 0,
                queue_max: None,
            }
        );
        assert_eq!(d.listeners, ["IncomingMail", "OutgoingMail"]);
        assert_eq!(
            d.top_sender_domains,
            [
                ("example.org".to_string(), 2),
                ("your_domain.com".to_string(), 1)
            ]
        );
        assert_eq!(d.top_sender_ips[0], ("127.0.0.1".to_string(), 2));
    }

    #[test]
    fn buckets_and_top_lists_forget_what_is_older_than_their_window() {
        let mut r = Reports::default();
        r.received(T0, "IncomingMail", "old@example.org", ip(1));
        for h in 1..=(HOURS as i64 + 5) {
            r.delivered(T0 + h * HOUR);
        }
        assert_eq!(r.buckets.len(), HOURS);
        let now = T0 + 30 * HOUR;
        r.received(now, "IncomingMail", "new@example.net", ip(2));
        let d = r.data(now, 48);
        assert_eq!(d.hours.len(), 48);
        // The domain seen 30 hours ago is out of the 24-hour top list.
        assert_eq!(d.top_sender_domains, [("example.net".to_string(), 1)]);
        assert!(r.data(now, 1000).hours.len() == HOURS);
    }

    #[test]
    fn the_top_counter_is_capped_and_evicts_the_least_counted() {
        let mut r = Reports::default();
        for _ in 0..5 {
            r.received(T0, "IncomingMail", "x@busy.example", ip(1));
        }
        for n in 0..(TOP_KEYS + 50) {
            r.received(T0, "IncomingMail", &format!("x@d{n}.example"), ip(2));
        }
        let kept = r.sender_domains.keys.len();
        assert!(
            (TOP_KEYS - EVICT_AT_ONCE..=TOP_KEYS).contains(&kept),
            "{kept}"
        );
        let top = r.data(T0, 24).top_sender_domains;
        assert_eq!(top[0], ("busy.example".to_string(), 5));
        assert_eq!(top.len(), TOP_N);
    }

    #[test]
    fn the_command_answers_json_and_text_and_checks_its_arguments() {
        let mut r = Reports::default();
        r.received(T0, "IncomingMail", "", ip(1));
        let json = command(&r, T0, &["--json".into()]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["hours"].as_array().unwrap().len(), DEFAULT_HOURS);
        assert_eq!(v["hours"][23]["received"]["IncomingMail"], 1);
        assert_eq!(v["top_sender_domains"][0][0], "<>");
        let text = command(&r, T0, &["--hours".into(), "2".into()]).unwrap();
        assert_eq!(text.lines().count(), 1 + 2 + 3 + 3, "{text}");
        assert!(command(&r, T0, &["--hours".into(), "49".into()]).is_err());
        assert!(command(&r, T0, &["extra".into()]).is_err());
    }
}
