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
