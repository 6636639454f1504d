//! The `messages` tree: one versioned [`MessageRecord`] per queued message,
//! keyed by the big-endian MID so a scan returns arrival order. Every queue
//! store keeps its records here, whatever it does with bodies, so a change
//! to record handling (a paged scan, a migration) is made once.

use crate::codec;
use crate::ids::Mid;

use super::record::MessageRecord;
use super::store::QueueError;

const RECORD_VERSION: u8 = 1;

/// The queue's records in sled.
pub struct RecordIndex {
    db: sled::Db,
    messages: sled::Tree,
}

impl RecordIndex {
    pub fn open(db: &sled::Db) -> Result<Self, QueueError> {
        Ok(Self {
            db: db.clone(),
            messages: db.open_tree("messages")?,
        })
    }

    /// Inserts or replaces a record (durable only after [`Self::flush`]).
    pub fn put(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.messages.insert(
            record.mid.0.to_be_bytes(),
            codec::encode(RECORD_VERSION, record)?,
        )?;
        Ok(())
    }

    pub fn remove(&self, mid: Mid) -> Result<(), QueueError> {
        self.messages.remove(mid.0.to_be_bytes())?;
        Ok(())
    }

    pub fn contains(&self, mid: Mid) -> Result<bool, QueueError> {
        Ok(self.messages.contains_key(mid.0.to_be_bytes())?)
    }

    /// The durable flush: every earlier write to any tree of the database
    /// (records, and the body locations beside them) is on stable storage.
    pub fn flush(&self) -> Result<(), QueueError> {
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    /// All records, in MID order.
    pub fn scan(&self) -> Result<Vec<MessageRecord>, QueueError> {
        self.messages
            .iter()
            .values()
            .map(|v| Ok(codec::decode(RECORD_VERSION, &v?)?))
            .collect()
    }

    /// At most `limit` records with a MID above `after` (all when `None`),
    /// in MID order (keys are big-endian MIDs, so key order is MID order).
    pub fn scan_page(
        &self,
        after: Option<Mid>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, QueueError> {
        let records = match after {
            Some(mid) => self.messages.range((
                std::ops::Bound::Excluded(mid.0.to_be_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => self.messages.iter(),
        };
        records
            .values()
            .take(limit)
            .map(|v| Ok(codec::decode(RECORD_VERSION, &v?)?))
            .collect()
    }

    /// The database the records live in (the segment store keeps its body
    /// locations in a tree of the same database, so one flush covers both).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}
