//! The spool of one file per body, `spool/<xx>/<mid>` (`xx`: the low byte
//! of the MID in hex), that the firmware wrote until decision 0021. The
//! [`SledSpoolStore`](super::store::SledSpoolStore) still writes it; the
//! segment store only reads and removes what an older firmware left, so mail
//! queued before an upgrade is delivered after it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ids::Mid;

use super::records::RecordIndex;
use super::store::QueueError;

/// The one-file-per-body spool directory.
pub struct FileSpool {
    dir: PathBuf,
}

impl FileSpool {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bucket(&self, mid: Mid) -> PathBuf {
        self.dir.join(format!("{:02x}", mid.0 & 0xff))
    }

    pub fn body_path(&self, mid: Mid) -> PathBuf {
        self.bucket(mid).join(mid.0.to_string())
    }

    pub fn read(&self, mid: Mid) -> io::Result<Vec<u8>> {
        fs::read(self.body_path(mid))
    }

    /// Removes a body file; one that is already gone is no error.
    pub fn remove(&self, mid: Mid) -> io::Result<()> {
        match fs::remove_file(self.body_path(mid)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes the empty bucket directories and says whether any body file
    /// is left (an older firmware's queue not yet delivered).
    pub fn prune_empty_buckets(&self) -> io::Result<bool> {
        let mut bodies_left = false;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() || !bucket_name(&entry.file_name()) {
                continue;
            }
            if fs::read_dir(entry.path())?.next().is_some() {
                bodies_left = true;
            } else {
                fs::remove_dir(entry.path())?;
            }
        }
        Ok(bodies_left)
    }

    /// Body files that have no record (left by a crash before commit).
    pub fn orphans(&self, records: &RecordIndex) -> Result<Vec<Mid>, QueueError> {
        let mut orphans = Vec::new();
        for bucket in fs::read_dir(&self.dir)? {
            let bucket = bucket?;
            if !bucket.file_type()?.is_dir() || !bucket_name(&bucket.file_name()) {
                continue;
            }
            for entry in fs::read_dir(bucket.path())? {
                let name = entry?.file_name();
                let Some(mid) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                if !records.contains(Mid(mid))? {
                    orphans.push(Mid(mid));
                }
            }
        }
        Ok(orphans)
    }
}

/// A bucket is named by two hex digits; anything else in the spool
/// directory (the segments) is not one.
fn bucket_name(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}
