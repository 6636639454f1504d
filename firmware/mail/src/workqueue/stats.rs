//! Counters for `status` and `tophosts`: since the last `resetcounters`,
//! since the daemon started, and over the appliance's lifetime (kept in
//! sled and saved every few seconds, so a crash loses at most that).

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use breakwater_store::counters::CounterStore;

/// The codec version of the saved lifetime counters.
pub const COUNTERS_VERSION: u8 = 1;

/// One set of counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub messages_received: u64,
    pub recipients_received: u64,
    pub recipients_delivered: u64,
    pub soft_bounced: u64,
    pub hard_bounced: u64,
    pub dropped: u64,
    pub dsns_generated: u64,
    pub tdc_sent: u64,
    pub tdc_failed: u64,
    pub tdc_expired: u64,
}

/// What happened, to add to all three scopes at once.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Received { recipients: u64 },
    Delivered,
    SoftBounced,
    HardBounced,
    Dropped,
    Dsn,
    TdcSent,
    TdcFailed,
    TdcExpired,
}

impl Counters {
    fn add(&mut self, e: Event) {
        match e {
            Event::Received { recipients } => {
                self.messages_received += 1;
                self.recipients_received += recipients;
            }
            Event::Delivered => self.recipients_delivered += 1,
            Event::SoftBounced => self.soft_bounced += 1,
            Event::HardBounced => self.hard_bounced += 1,
            Event::Dropped => self.dropped += 1,
            Event::Dsn => self.dsns_generated += 1,
            Event::TdcSent => self.tdc_sent += 1,
            Event::TdcFailed => self.tdc_failed += 1,
            Event::TdcExpired => self.tdc_expired += 1,
        }
    }
}

/// Per destination, for `tophosts`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostCounters {
    pub delivered: u64,
    pub soft_bounced: u64,
    pub hard_bounced: u64,
}

/// Counters by label for `/metrics`, since the daemon started.
#[derive(Debug, Clone, Default)]
pub struct Monotonic {
    /// By (listener, sender group).
    pub received: HashMap<(String, String), ReceivedCounters>,
    /// By destination domain, at most [`MAX_DOMAINS`] of them; the rest
    /// add up in `other_domains`.
    pub deliveries: HashMap<String, HostCounters>,
    pub other_domains: HostCounters,
    /// By the listener that received the message (`(bounce)`, `(alert)`
    /// for the gateway's own): the configured few, so no cap.
    pub by_listener: HashMap<String, HostCounters>,
}

/// What `/metrics` reads from the work queue, taken in its task.
#[derive(Debug, Clone, Default)]
pub struct WorkQueueMetrics {
    /// Since the daemon started.
    pub counters: Counters,
    pub monotonic: Monotonic,
    /// Messages the work queue holds (received, not yet finished).
    pub active_messages: u64,
    /// When the oldest of them was received (Unix seconds).
    pub oldest_received_at: Option<i64>,
}

/// Messages received on one listener from one sender group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceivedCounters {
    pub messages: u64,
    pub recipients: u64,
    /// Messages whose session used STARTTLS.
    pub tls_messages: u64,
}

/// How many destination domains `/metrics` keeps apart. A gateway
/// delivers to thousands of domains over its uptime, and every labelled
/// series costs memory here and in the Prometheus server forever; the
/// exporter shows the busiest of these and "other" for the rest.
pub const MAX_DOMAINS: usize = 1000;

impl Monotonic {
    /// A message received (not one the gateway made).
    pub fn received(&mut self, listener: &str, sender_group: &str, recipients: u64, tls: bool) {
        let c = self
            .received
            .entry((listener.to_string(), sender_group.to_string()))
            .or_default();
        c.messages += 1;
        c.recipients += recipients;
        c.tls_messages += u64::from(tls);
    }

    /// A delivery outcome of a message `listener` received.
    pub fn sent(&mut self, listener: &str, e: Event) {
        let h = self.by_listener.entry(listener.to_string()).or_default();
        match e {
            Event::Delivered | Event::TdcSent => h.delivered += 1,
            Event::SoftBounced => h.soft_bounced += 1,
            Event::HardBounced | Event::TdcFailed => h.hard_bounced += 1,
            _ => {}
        }
    }

    fn delivery(&mut self, host: &str, e: Event) {
        let h = if self.deliveries.contains_key(host) || self.deliveries.len() < MAX_DOMAINS {
            self.deliveries.entry(host.to_string()).or_default()
        } else {
            &mut self.other_domains
        };
        match e {
            Event::Delivered | Event::TdcSent => h.delivered += 1,
            Event::SoftBounced => h.soft_bounced += 1,
            Event::HardBounced | Event::TdcFailed => h.hard_bounced += 1,
            _ => {}
        }
    }
}

pub struct Stats {
    pub since_reset: Counters,
    pub since_start: Counters,
    pub lifetime: Counters,
    /// Instants, shown in the appliance's zone when printed (`settz` may
    /// change it while the daemon runs).
    pub reset_at: chrono::DateTime<chrono::Utc>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub started: Instant,
    pub hosts: HashMap<String, HostCounters>,
    /// Since the daemon started, never reset: what `/metrics` exports
    /// (Prometheus counters only grow; a restart is a reset it detects).
    pub monotonic: Monotonic,
    store: CounterStore,
    dirty: bool,
}

impl Stats {
    pub fn open(store: CounterStore) -> Self {
        let lifetime = store.load().unwrap_or_default();
        let now = chrono::Utc::now();
        Self {
            since_reset: Counters::default(),
            since_start: Counters::default(),
            lifetime,
            reset_at: now,
            started_at: now,
            started: Instant::now(),
            hosts: HashMap::new(),
            monotonic: Monotonic::default(),
            store,
            dirty: false,
        }
    }

    pub fn record(&mut self, e: Event) {
        self.since_reset.add(e);
        self.since_start.add(e);
        self.lifetime.add(e);
        self.dirty = true;
    }

    pub fn record_host(&mut self, host: &str, e: Event) {
        self.monotonic.delivery(host, e);
        let h = self.hosts.entry(host.to_string()).or_default();
        match e {
            Event::Delivered => h.delivered += 1,
            Event::SoftBounced => h.soft_bounced += 1,
            Event::HardBounced | Event::TdcFailed => h.hard_bounced += 1,
            Event::TdcSent => h.delivered += 1,
            _ => {}
        }
        self.record(e);
    }

    pub fn reset(&mut self) {
        self.since_reset = Counters::default();
        self.reset_at = chrono::Utc::now();
        self.hosts.clear();
    }

    /// Saves the lifetime counters if they changed (not flushed: the
    /// queue's next flush or sled's own timer makes them durable).
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        self.store.save(&self.lifetime);
        self.dirty = false;
    }
}
