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
//! The same counts are also kept a minute at a time for the last 24
//! hours ([`MINUTES`] samples), which `status plot` draws as an SVG
//! (the CLI's picture of the queue and the mail rate).
//!
//! Bounds: [`HOURS`] hourly buckets, [`MINUTES`] minute samples (listeners are the configured few),
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
const MINUTE: i64 = 60;

/// Minute samples kept for `status plot`: 24 hours.
pub const MINUTES: usize = 24 * 60;
/// Minutes `status plot` covers unless asked otherwise.
pub const DEFAULT_PLOT_MINUTES: usize = 60;
/// Points of a plot at most: past it, a point sums (the queue: takes the
/// longest of) several minutes, so a day is 144 points of 10 minutes.
pub const PLOT_POINTS: usize = 144;

/// One minute of mail, for `status plot`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Minute {
    /// Unix minute (seconds / 60).
    minute: i64,
    received: BTreeMap<String, u64>,
    delivered: u64,
    bounced: u64,
    /// The queue length sampled in this minute.
    queue: Option<u64>,
}

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
    minutes: VecDeque<Minute>,
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

    fn minute(&mut self, now: i64) -> &mut Minute {
        let minute = now.div_euclid(MINUTE);
        if self.minutes.back().is_none_or(|m| m.minute < minute) {
            self.minutes.push_back(Minute {
                minute,
                ..Minute::default()
            });
            while self.minutes.len() > MINUTES {
                self.minutes.pop_front();
            }
        }
        let last = self.minutes.len() - 1;
        &mut self.minutes[last]
    }

    /// A message received on `listener` from `sender` (the envelope
    /// sender) at `ip`.
    pub fn received(&mut self, now: i64, listener: &str, sender: &str, ip: IpAddr) {
        *self
            .bucket(now)
            .received
            .entry(listener.to_string())
            .or_default() += 1;
        *self
            .minute(now)
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
        self.minute(now).delivered += 1;
    }

    /// A recipient hard bounced.
    pub fn bounced(&mut self, now: i64) {
        self.bucket(now).bounced += 1;
        self.minute(now).bounced += 1;
    }

    /// A sample of the queue length (messages).
    pub fn queue_length(&mut self, now: i64, messages: u64) {
        let b = self.bucket(now);
        b.queue_max = Some(b.queue_max.map_or(messages, |m| m.max(messages)));
        self.minute(now).queue = Some(messages);
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

/// What `status plot` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotSeries {
    /// Messages in the queue (a sample a minute).
    Queue,
    /// Messages received, a line per listener.
    Received,
    /// Recipients delivered.
    Delivered,
    /// Recipients hard bounced.
    Bounced,
}

impl PlotSeries {
    /// The names `status plot` takes.
    pub const NAMES: [&'static str; 4] = ["queue", "received", "delivered", "bounced"];

    pub fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "queue" => Some(Self::Queue),
            "received" => Some(Self::Received),
            "delivered" => Some(Self::Delivered),
            "bounced" => Some(Self::Bounced),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Received => "received",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
        }
    }
}

impl Reports {
    /// The SVG of `series` over the last `minutes` minutes (1 to
    /// [`MINUTES`]), the current minute last: a point a minute, or per
    /// a few minutes past [`PLOT_POINTS`] (summed; the queue's longest
    /// sample). Minutes without a count are zeros.
    pub fn plot(&self, now: i64, series: PlotSeries, minutes: usize) -> String {
        use breakwater_types::chart::{Series, line_chart_labelled};
        let minutes = minutes.clamp(1, MINUTES);
        let step = minutes.div_ceil(PLOT_POINTS);
        let points = minutes.div_ceil(step);
        let current = now.div_euclid(MINUTE);
        // The first minute of the plot, so the last point ends with the
        // current minute.
        let first = current - (points * step) as i64 + 1;
        let point_of = |minute: i64| -> Option<usize> {
            let i = usize::try_from(minute - first).ok()? / step;
            (i < points).then_some(i)
        };
        let labels: Vec<String> = (0..points)
            .map(|i| {
                let at = (first + (i * step) as i64) * MINUTE;
                chrono::DateTime::from_timestamp(at, 0)
                    .map(|t| {
                        breakwater_types::clock::local(t)
                            .format("%H:%M")
                            .to_string()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let in_plot = || {
            self.minutes
                .iter()
                .filter_map(|m| Some((point_of(m.minute)?, m)))
        };
        let single = |name: &str, pick: &dyn Fn(&Minute) -> u64, longest: bool| {
            let mut values = vec![0u64; points];
            for (i, m) in in_plot() {
                let v = pick(m);
                values[i] = if longest {
                    values[i].max(v)
                } else {
                    values[i] + v
                };
            }
            vec![Series {
                name: name.to_string(),
                values,
            }]
        };
        let lines = match series {
            PlotSeries::Queue => single("Messages in queue", &|m| m.queue.unwrap_or(0), true),
            PlotSeries::Delivered => single("Delivered", &|m| m.delivered, false),
            PlotSeries::Bounced => single("Hard bounced", &|m| m.bounced, false),
            PlotSeries::Received => {
                let mut by: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
                for (i, m) in in_plot() {
                    for (listener, n) in &m.received {
                        by.entry(listener).or_insert_with(|| vec![0; points])[i] += n;
                    }
                }
                if by.is_empty() {
                    single("Received", &|_| 0, false)
                } else {
                    by.into_iter()
                        .map(|(name, values)| Series {
                            name: name.to_string(),
                            values,
                        })
                        .collect()
                }
            }
        };
        let per = if step == 1 {
            "minute".to_string()
        } else {
            format!("{step} minutes")
        };
        let title = match series {
            PlotSeries::Queue => format!("Queue length, last {minutes} minutes"),
            PlotSeries::Received => {
                format!("Messages received per {per} by listener, last {minutes} minutes")
            }
            PlotSeries::Delivered => {
                format!("Recipients delivered per {per}, last {minutes} minutes")
            }
            PlotSeries::Bounced => {
                format!("Recipients hard bounced per {per}, last {minutes} minutes")
            }
        };
        line_chart_labelled(
            &format!("plot-{}", series.name()),
            &title,
            &labels,
            &lines,
            points.div_ceil(8),
        )
    }
}

/// `status plot <series> [--minutes N]`: the SVG on standard output
/// (`ssh admin@gw 'status plot queue' > queue.svg`).
pub fn plot_command(reports: &Reports, now: i64, args: &[String]) -> Result<String, String> {
    let usage = || {
        format!(
            "usage: status plot {} [--minutes N]",
            PlotSeries::NAMES.join("|")
        )
    };
    let mut series = None;
    let mut minutes = DEFAULT_PLOT_MINUTES;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a.eq_ignore_ascii_case("--minutes") {
            minutes = it
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=MINUTES).contains(n))
                .ok_or_else(|| format!("--minutes must be a number from 1 to {MINUTES}."))?;
        } else if series.is_none() {
            series = Some(PlotSeries::parse(a).ok_or_else(|| {
                format!(
                    "Unknown series \"{a}\" (one of {}).",
                    PlotSeries::NAMES.join(", ")
                )
            })?);
        } else {
            return Err(usage());
        }
    }
    let series = series.ok_or_else(usage)?;
    Ok(reports.plot(now, series, minutes))
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

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    /// The `data-value`s of the points of `series` in a plot.
    fn plotted(svg: &str, series: &str) -> Vec<u64> {
        let start = svg
            .find(&format!("data-series=\"{series}\""))
            .unwrap_or_else(|| panic!("no {series} in {svg}"));
        let group = &svg[start..start + svg[start..].find("</g>").expect("group end")];
        group
            .split("data-value=\"")
            .skip(1)
            .map(|v| v[..v.find('"').expect("quote")].parse().expect("value"))
            .collect()
    }

    #[test]
    fn a_plot_has_a_point_a_minute_ending_with_the_current_one() {
        let mut r = Reports::default();
        r.received(T0, "IncomingMail", "a@x.example", ip(1));
        r.received(T0 + 30, "IncomingMail", "a@x.example", ip(1));
        r.queue_length(T0 + 59, 7);
        r.received(T0 + 61, "OutgoingMail", "b@y.example", ip(2));
        r.queue_length(T0 + 120, 3);
        r.delivered(T0 + 121);
        let now = T0 + 150;
        let svg = plot_command(&r, now, &words(&["received", "--minutes", "5"])).expect("plot");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"plot-received\""));
        assert!(svg.contains("Messages received per minute by listener, last 5 minutes"));
        assert_eq!(plotted(&svg, "IncomingMail"), [0, 0, 2, 0, 0]);
        assert_eq!(plotted(&svg, "OutgoingMail"), [0, 0, 0, 1, 0]);
        let queue = r.plot(now, PlotSeries::Queue, 3);
        assert_eq!(plotted(&queue, "Messages in queue"), [7, 0, 3]);
        let delivered = r.plot(now, PlotSeries::Delivered, 2);
        assert_eq!(plotted(&delivered, "Delivered"), [0, 1]);
    }

    #[test]
    fn a_day_is_plotted_in_ten_minute_points_and_older_minutes_are_gone() {
        let mut r = Reports::default();
        // A message every minute for 25 hours: the ring keeps the last 24.
        for m in 0..25 * 60 {
            r.received(T0 + m * 60, "IncomingMail", "a@x.example", ip(1));
        }
        assert_eq!(r.minutes.len(), MINUTES);
        let now = T0 + (25 * 60 - 1) * 60;
        let svg = r.plot(now, PlotSeries::Received, MINUTES);
        let values = plotted(&svg, "IncomingMail");
        assert_eq!(values.len(), PLOT_POINTS);
        assert!(values.iter().all(|v| *v == 10), "{values:?}");
        assert!(svg.contains("per 10 minutes"));
    }

    #[test]
    fn plot_arguments_are_checked() {
        let r = Reports::default();
        let usage = plot_command(&r, T0, &[]).unwrap_err();
        assert!(
            usage.contains("queue|received|delivered|bounced"),
            "{usage}"
        );
        assert!(
            plot_command(&r, T0, &words(&["nope"]))
                .unwrap_err()
                .contains("Unknown series")
        );
        let e = plot_command(&r, T0, &words(&["queue", "--minutes", "1441"])).unwrap_err();
        assert_eq!(e, "--minutes must be a number from 1 to 1440.");
        // An idle gateway still draws an axis and a flat line.
        let idle = plot_command(&r, T0, &words(&["RECEIVED"])).expect("idle");
        assert_eq!(plotted(&idle, "Received"), vec![0; DEFAULT_PLOT_MINUTES]);
    }

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
