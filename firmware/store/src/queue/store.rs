//! Queue storage: message records in sled, bodies in spool files beside it
//! (decision and measurements: docs/decisions/0001-queue-body-storage.md).
//!
//! Layout under the data directory:
//! - sled tree `messages`: big-endian MID → versioned `MessageRecord`, so a
//!   recovery scan returns messages in arrival order;
//! - `spool/<xx>/<mid>`: the body as received (with our Received: header),
//!   `xx` being the low byte of the MID in hex, to keep directories small.
//!
//! The store itself makes no durability promise beyond what `flush` says;
//! the commit protocol lives in `committer`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::codec::{self, CodecError};
use crate::ids::Mid;

use super::record::MessageRecord;

const RECORD_VERSION: u8 = 1;

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
    /// Writes the body and makes it durable (file data and size).
    fn write_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError>;
    /// Appends to a body being received (`first` creates it anew); not yet
    /// durable (see `sync_body`).
    fn append_body(&self, mid: Mid, bytes: &[u8], first: bool) -> Result<(), QueueError>;
    /// Appends the last bytes of a body written by `append_body` (`first`:
    /// they are all of it) and makes it durable (data and size).
    fn finish_body(&self, mid: Mid, tail: &[u8], first: bool) -> Result<(), QueueError>;
    /// Makes the directory entries of earlier `write_body` calls durable.
    fn sync_bodies(&self, mids: &[Mid]) -> Result<(), QueueError>;
    fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError>;
    /// Replaces a committed message's body atomically and durably (a crash
    /// leaves the old body or the new one, never a mix).
    fn replace_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError>;
    /// Inserts or replaces a record (durable only after `flush`).
    fn put(&self, record: &MessageRecord) -> Result<(), QueueError>;
    fn remove(&self, mid: Mid) -> Result<(), QueueError>;
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
}

/// sled index + spool files.
pub struct SledSpoolStore {
    db: sled::Db,
    messages: sled::Tree,
    spool: PathBuf,
}

impl SledSpoolStore {
    pub fn open(db: &sled::Db, data_dir: &Path) -> Result<Self, QueueError> {
        let spool = data_dir.join("spool");
        fs::create_dir_all(&spool)?;
        Ok(Self {
            db: db.clone(),
            messages: db.open_tree("messages")?,
            spool,
        })
    }

    fn bucket(&self, mid: Mid) -> PathBuf {
        self.spool.join(format!("{:02x}", mid.0 & 0xff))
    }

    fn body_path(&self, mid: Mid) -> PathBuf {
        self.bucket(mid).join(mid.0.to_string())
    }

    /// The spool file of a body being received: created anew for its first
    /// bytes, appended to after.
    fn open_for_append(&self, mid: Mid, first: bool) -> io::Result<File> {
        if first {
            let dir = self.bucket(mid);
            if !dir.exists() {
                fs::create_dir_all(&dir)?;
            }
            File::create(self.body_path(mid))
        } else {
            fs::OpenOptions::new()
                .append(true)
                .open(self.body_path(mid))
        }
    }
}

impl QueueStore for SledSpoolStore {
    fn write_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        let dir = self.bucket(mid);
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
        }
        let mut f = File::create(self.body_path(mid))?;
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
            File::open(self.spool.join(format!("{b:02x}")))?.sync_all()?;
        }
        // A new bucket directory's own entry lives in the spool directory.
        File::open(&self.spool)?.sync_all()?;
        Ok(())
    }

    fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError> {
        Ok(fs::read(self.body_path(mid))?)
    }

    fn replace_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        // Write beside the body, fsync, rename over it, fsync the directory.
        let path = self.body_path(mid);
        let tmp = self.bucket(mid).join(format!("{}.new", mid.0));
        let mut f = File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_data()?;
        fs::rename(&tmp, &path)?;
        File::open(self.bucket(mid))?.sync_all()?;
        Ok(())
    }

    fn put(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.messages.insert(
            record.mid.0.to_be_bytes(),
            codec::encode(RECORD_VERSION, record)?,
        )?;
        Ok(())
    }

    fn remove(&self, mid: Mid) -> Result<(), QueueError> {
        self.messages.remove(mid.0.to_be_bytes())?;
        Ok(())
    }

    fn remove_body(&self, mid: Mid) -> Result<(), QueueError> {
        match fs::remove_file(self.body_path(mid)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn flush(&self) -> Result<(), QueueError> {
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    fn scan(&self) -> Result<Vec<MessageRecord>, QueueError> {
        self.messages
            .iter()
            .values()
            .map(|v| Ok(codec::decode(RECORD_VERSION, &v?)?))
            .collect()
    }

    fn scan_page(
        &self,
        after: Option<Mid>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, QueueError> {
        // Keys are big-endian MIDs, so key order is MID order.
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

    fn orphan_bodies(&self) -> Result<Vec<Mid>, QueueError> {
        let mut orphans = Vec::new();
        for bucket in fs::read_dir(&self.spool)? {
            let bucket = bucket?;
            if !bucket.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(bucket.path())? {
                let name = entry?.file_name();
                let Some(mid) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                if !self.messages.contains_key(mid.to_be_bytes())? {
                    orphans.push(Mid(mid));
                }
            }
        }
        Ok(orphans)
    }
}
