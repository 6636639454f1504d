//! The lifetime mail counters (`status`'s "Lifetime" column) kept across
//! restarts: one versioned record in the `counters` tree. Saved without a
//! flush of its own: the queue's next flush or sled's timer makes it
//! durable, and losing the last second of counts in a power cut is
//! harmless.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;

const KEY: &str = "lifetime";

/// Where the work queue keeps its lifetime counters.
pub struct CounterStore {
    tree: sled::Tree,
    version: u8,
}

impl CounterStore {
    /// Opens the `counters` tree; `version` is the record's codec version.
    pub fn open(db: &sled::Db, version: u8) -> sled::Result<Self> {
        Ok(Self {
            tree: db.open_tree("counters")?,
            version,
        })
    }

    /// The saved counters, or `None` (none yet, or unreadable: counting
    /// starts again rather than stopping the daemon).
    pub fn load<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = self.tree.get(KEY).ok()??;
        codec::decode(self.version, &bytes).ok()
    }

    /// Saves the counters (best effort, see the module's note).
    pub fn save<T: Serialize>(&self, counters: &T) {
        if let Ok(bytes) = codec::encode(self.version, counters) {
            let _ = self.tree.insert(KEY, bytes);
        }
    }
}
