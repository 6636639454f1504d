//! Queue storage: the [`QueueStore`] trait the queue stages drive, and the
//! store of one spool file per body (decision
//! docs/decisions/0001-queue-body-storage.md), which the firmware used until
//! the segment spool ([`super::segments::SegmentStore`], decision 0021)
//! replaced it. It stays as the reference the benchmark compares against and
//! as the writer of the legacy layout the upgrade tests start from.
//!
//! Layout under the data directory:
//! - sled tree `messages`: big-endian MID → versioned `MessageRecord`, so a
//!   recovery scan returns messages in arrival order ([`RecordIndex`]);
//! - `spool/<xx>/<mid>`: the body as received (with our Received: header),
//!   `xx` being the low byte of the MID in hex, to keep directories small.
//!
//! The store itself makes no durability promise beyond what `flush` says;
//! the commit protocol lives in `committer`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::codec::CodecError;
use crate::ids::Mid;

use super::legacy::FileSpool;
use super::location::BodyError;
use super::record::MessageRecord;
use super::records::RecordIndex;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("spool I/O error: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the queue is full ({0})")]
    Full(String),
    #[error("the queue writer has stopped")]
    Stopped,
    /// A stored body cannot be read back as it was written (a damaged
    /// segment or location): never delivered as garbage.
    #[error("the stored body of MID {mid} is unreadable: {source}")]
    Body { mid: Mid, source: BodyError },
}

impl QueueError {
    /// A full queue or a full flash: the client is told 452 4.3.1 (try
    /// later, elsewhere) rather than a plain temporary failure.
    pub fn is_storage_full(&self) -> bool {
        let full = |io: &io::Error| io.kind() == io::ErrorKind::StorageFull;
        match self {
            QueueError::Full(_) => true,
            QueueError::Io(io) => full(io),
            QueueError::Sled(sled::Error::Io(io)) => full(io),
            _ => false,
        }
    }
}

/// What the queue stages need from storage. Kept small so the storage can
/// be tested, measured and replaced on its own.
pub trait QueueStore: Send + Sync + 'static {
    /// Writes a whole body. Durable once `sync_bodies` has covered it (a
    /// store may make it durable earlier).
    fn write_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError>;
    /// Appends to a body being received (`first` starts it anew, dropping
    /// what earlier calls wrote); not yet durable.
    fn append_body(&self, mid: Mid, bytes: &[u8], first: bool) -> Result<(), QueueError>;
    /// Appends the last bytes of a body written by `append_body` (`first`:
    /// they are all of it). Durable once `sync_bodies` has covered it.
    fn finish_body(&self, mid: Mid, tail: &[u8], first: bool) -> Result<(), QueueError>;
    /// The committer's step before it puts the batch's records: makes the
    /// finished bodies of `mids` durable (data, size, directory entries)
    /// and, for a store that indexes its bodies, stages their locations so
    /// the batch's `flush` makes them durable with the records.
    fn sync_bodies(&self, mids: &[Mid]) -> Result<(), QueueError>;
    fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError>;
    /// Replaces a committed message's body atomically and durably (a crash
    /// leaves the old body or the new one, never a mix).
    fn replace_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError>;
    /// Inserts or replaces a record (durable only after `flush`).
    fn put(&self, record: &MessageRecord) -> Result<(), QueueError>;
    /// Removes a record (and its body's location); durable after `flush`.
    fn remove(&self, mid: Mid) -> Result<(), QueueError>;
    /// Frees a body: one being received that will not be accepted, or a
    /// removed message's once a `flush` has made the removal durable.
    fn remove_body(&self, mid: Mid) -> Result<(), QueueError>;
    /// Makes every earlier `put` and `remove` durable.
    fn flush(&self) -> Result<(), QueueError>;
    /// All records, in MID order.
    fn scan(&self) -> Result<Vec<MessageRecord>, QueueError>;
    /// At most `limit` records with a MID above `after` (all when `None`),
    /// in MID order: the work queue pages through a large queue with it
    /// instead of holding every record (`workqueue::window`).
    fn scan_page(&self, after: Option<Mid>, limit: usize)
    -> Result<Vec<MessageRecord>, QueueError>;
    /// Spool files that have no record (left by a crash before commit).
    fn orphan_bodies(&self) -> Result<Vec<Mid>, QueueError>;
    /// Gives back space held by a few live bodies in otherwise dead storage
    /// (by moving them); returns the bytes freed. Called now and then by
    /// the committer, off its commit path.
    fn compact(&self) -> Result<u64, QueueError> {
        Ok(0)
    }
    /// Bytes the spool occupies beyond the live bodies (space freed only
    /// when a whole segment is): the queue's byte limit counts them, so it
    /// protects the flash, not just the sum of message sizes.
    fn slack_bytes(&self) -> u64 {
        0
    }
}

/// sled index + one spool file per body.
pub struct SledSpoolStore {
    records: RecordIndex,
    spool: FileSpool,
}

impl SledSpoolStore {
    pub fn open(db: &sled::Db, data_dir: &Path) -> Result<Self, QueueError> {
        let spool = data_dir.join("spool");
        fs::create_dir_all(&spool)?;
        Ok(Self {
            records: RecordIndex::open(db)?,
            spool: FileSpool::new(&spool),
        })
    }

    /// The spool file of a body being received: created anew for its first
    /// bytes, appended to after.
    fn open_for_append(&self, mid: Mid, first: bool) -> io::Result<File> {
        if first {
            let dir = self.spool.bucket(mid);
            if !dir.exists() {
                fs::create_dir_all(&dir)?;
            }
            File::create(self.spool.body_path(mid))
        } else {
            fs::OpenOptions::new()
                .append(true)
                .open(self.spool.body_path(mid))
        }
    }
}

impl QueueStore for SledSpoolStore {
    fn write_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        let dir = self.spool.bucket(mid);
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
        }
        let mut f = File::create(self.spool.body_path(mid))?;
        f.write_all(body)?;
        f.sync_data()?;
        Ok(())
    }

    fn append_body(&self, mid: Mid, bytes: &[u8], first: bool) -> Result<(), QueueError> {
        self.open_for_append(mid, first)?.write_all(bytes)?;
        Ok(())
    }

    fn finish_body(&self, mid: Mid, tail: &[u8], first: bool) -> Result<(), QueueError> {
        let mut f = self.open_for_append(mid, first)?;
        f.write_all(tail)?;
        f.sync_data()?;
        Ok(())
    }

    fn sync_bodies(&self, mids: &[Mid]) -> Result<(), QueueError> {
        let mut buckets: Vec<u64> = mids.iter().map(|m| m.0 & 0xff).collect();
        buckets.sort_unstable();
        buckets.dedup();
        for b in buckets {
            File::open(self.spool.dir().join(format!("{b:02x}")))?.sync_all()?;
        }
        // A new bucket directory's own entry lives in the spool directory.
        File::open(self.spool.dir())?.sync_all()?;
        Ok(())
    }

    fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError> {
        Ok(self.spool.read(mid)?)
    }

    fn replace_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        // Write beside the body, fsync, rename over it, fsync the directory.
        let path = self.spool.body_path(mid);
        let tmp = self.spool.bucket(mid).join(format!("{}.new", mid.0));
        let mut f = File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_data()?;
        fs::rename(&tmp, &path)?;
        File::open(self.spool.bucket(mid))?.sync_all()?;
        Ok(())
    }

    fn put(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.records.put(record)
    }

    fn remove(&self, mid: Mid) -> Result<(), QueueError> {
        self.records.remove(mid)
    }

    fn remove_body(&self, mid: Mid) -> Result<(), QueueError> {
        Ok(self.spool.remove(mid)?)
    }

    fn flush(&self) -> Result<(), QueueError> {
        self.records.flush()
    }

    fn scan(&self) -> Result<Vec<MessageRecord>, QueueError> {
        self.records.scan()
    }

    fn scan_page(
        &self,
        after: Option<Mid>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, QueueError> {
        self.records.scan_page(after, limit)
    }

    fn orphan_bodies(&self) -> Result<Vec<Mid>, QueueError> {
        self.spool.orphans(&self.records)
    }
}
