//! The segment spool: bodies appended to a few large files, their locations
//! in sled beside the records (decision docs/decisions/0021-segment-spool.md).
//!
//! Layout under the data directory:
//! - `spool/segments/<16 hex>.seg`: segment files. Bodies are appended to the
//!   active one (a new one once it holds [`SEGMENT_BYTES`]); nothing is ever
//!   rewritten in place;
//! - sled tree `bodies`: big-endian MID → versioned [`BodyLocation`]
//!   (extents, length, CRC-32), written by [`QueueStore::sync_bodies`] in the
//!   committer's batch, durable in the same flush as the records;
//! - sled tree `messages`: the records ([`RecordIndex`]);
//! - `spool/<xx>/<mid>`: bodies an older firmware spooled one per file, read
//!   and removed until the last is delivered ([`FileSpool`]).
//!
//! Why: one file per message cost an inode allocation, an `fdatasync` and an
//! unlink per message (a fifth of the daemon's CPU samples under load). Here
//! a body costs a `pwrite` per 64 KiB chunk, and the committer `fdatasync`s
//! each segment written in its batch once.
//!
//! Space comes back a whole segment at a time: each segment counts the
//! messages it holds (committed or being received), rebuilt from `bodies` at
//! open, and a segment that is no longer the active one is deleted when its
//! count reaches zero. The count drops only in `remove_body`, which the
//! committer calls after the flush that made the message's removal durable:
//! the location is gone on disk before its bytes are. The dead bytes of
//! segments still pinned by a live message are [`QueueStore::slack_bytes`],
//! which the queue's byte limit counts; and a sealed segment less than a
//! quarter live is compacted (its live bodies appended anew, their
//! locations swapped, the segment freed: [`compact`]), so one long-deferred
//! or quarantined message does not hold a whole segment for days.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ids::Mid;

use super::legacy::FileSpool;
use super::location::{self, BodyError, BodyLocation, Extent, SegmentSource, distinct_segments};
use super::record::MessageRecord;
use super::records::RecordIndex;
use super::store::{QueueError, QueueStore};

/// A segment stops taking bodies once it holds this much. Small enough that
/// on a small flash a segment comes back soon after its last message leaves
/// (16 MiB is ~1,600 10 KB messages, a second or two at full load); large
/// enough that creating one (a file and a directory fsync) is rare.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// One segment file and what the store knows of it.
struct Segment {
    file: Arc<File>,
    /// Bytes allocated in the file (its length once in-flight writes land).
    len: u64,
    /// Messages whose bodies (committed or being received) are in it.
    live: u32,
    /// Bytes of those bodies in it.
    live_bytes: u64,
}

/// A body being written: its extents so far, in order.
#[derive(Default)]
struct Body {
    extents: Vec<Extent>,
    len: u64,
    crc: crc32fast::Hasher,
    /// Segments holding a pin for this body, each once.
    pinned: Vec<u64>,
}

impl Body {
    fn location(&self) -> BodyLocation {
        BodyLocation {
            len: self.len,
            crc32: self.crc.clone().finalize(),
            extents: self.extents.clone(),
        }
    }
}

#[derive(Default)]
struct State {
    segments: BTreeMap<u64, Segment>,
    /// The segment appends go to, once one was created this run.
    active: Option<u64>,
    next_segment: u64,
    /// A segment was created since the directory was last fsynced.
    dir_unsynced: bool,
    /// Bodies being received (not yet in `bodies`).
    receiving: HashMap<Mid, Body>,
    /// Removed messages' extents, freed by `remove_body` after the flush.
    retiring: HashMap<Mid, Vec<Extent>>,
}

/// The firmware's queue store: records and body locations in sled, bodies
/// in append-only segment files.
pub struct SegmentStore {
    records: RecordIndex,
    bodies: sled::Tree,
    dir: PathBuf,
    legacy: FileSpool,
    /// An older firmware's spool exists: bodies without a location are read
    /// from it, and removing one unlinks its file.
    legacy_present: bool,
    segment_bytes: u64,
    state: Mutex<State>,
    /// Held across taking `dir_unsynced` and the directory fsync: a
    /// second syncer (the committer beside a filter's rewrite or a
    /// compaction) that finds the flag already taken must not go on to
    /// its flush (and 250s) before that fsync has finished.
    dir_sync: Mutex<()>,
}

fn segment_name(id: u64) -> String {
    format!("{id:016x}.seg")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

impl SegmentStore {
    pub fn open(db: &sled::Db, data_dir: &Path) -> Result<Self, QueueError> {
        Self::open_with(db, data_dir, SEGMENT_BYTES)
    }

    /// Opens with another segment size (tests rotate after a few bodies).
    pub fn open_with(
        db: &sled::Db,
        data_dir: &Path,
        segment_bytes: u64,
    ) -> Result<Self, QueueError> {
        let spool = data_dir.join("spool");
        let dir = spool.join("segments");
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
            crate::durable::sync_dir(&spool)?;
            crate::durable::sync_dir(data_dir)?;
        }
        let legacy = FileSpool::new(&spool);
        let store = Self {
            records: RecordIndex::open(db)?,
            bodies: db.open_tree("bodies")?,
            legacy_present: legacy.prune_empty_buckets()?,
            legacy,
            dir,
            segment_bytes: segment_bytes.max(1),
            state: Mutex::new(State::default()),
            dir_sync: Mutex::new(()),
        };
        store.recover()?;
        Ok(store)
    }

    /// Opens the segments on disk and counts their messages from `bodies`;
    /// deletes the locations without a record (a batch that crashed before
    /// its flush) and the segments nothing lives in.
    fn recover(&self) -> Result<(), QueueError> {
        let mut state = self.lock();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) else {
                continue;
            };
            let file = File::open(entry.path())?;
            let len = file.metadata()?.len();
            state.segments.insert(
                id,
                Segment {
                    file: Arc::new(file),
                    len,
                    live: 0,
                    live_bytes: 0,
                },
            );
            state.next_segment = state.next_segment.max(id.saturating_add(1));
        }
        for entry in self.bodies.iter() {
            let (key, value) = entry?;
            let mid = Mid(u64::from_be_bytes(
                key.as_ref().try_into().unwrap_or([0; 8]),
            ));
            if !self.records.contains(mid)? {
                self.bodies.remove(&key)?;
                continue;
            }
            match BodyLocation::decode(&value) {
                Ok(location) => pin(&mut state, &location.extents),
                // Kept: reading it reports the damage for that message.
                Err(e) => tracing::warn!("queue recovery: MID {mid}: body location: {e}"),
            }
        }
        let dead: Vec<u64> = state
            .segments
            .iter()
            .filter(|(_, s)| s.live == 0)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            state.segments.remove(&id);
            self.delete_segment(id)?;
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delete_segment(&self, id: u64) -> io::Result<()> {
        match fs::remove_file(self.dir.join(segment_name(id))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reserves `len` bytes at the end of the active segment (a new one if
    /// it is full), pinning it for `body`. The write happens after, outside
    /// the lock: reservations never overlap, so writers do not wait on each
    /// other's copies.
    fn reserve(
        &self,
        state: &mut State,
        body: &mut Body,
        len: u64,
    ) -> Result<(u64, Arc<File>, u64), QueueError> {
        let full = |s: &State| {
            s.active
                .and_then(|a| s.segments.get(&a))
                .is_none_or(|seg| seg.len > 0 && seg.len + len > self.segment_bytes)
        };
        if full(state) {
            let id = state.next_segment;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(self.dir.join(segment_name(id)))?;
            state.next_segment += 1;
            state.dir_unsynced = true;
            let old = state.active.replace(id);
            state.segments.insert(
                id,
                Segment {
                    file: Arc::new(file),
                    len: 0,
                    live: 0,
                    live_bytes: 0,
                },
            );
            // The sealed segment may already be empty.
            if let Some(old) = old
                && state.segments.get(&old).is_some_and(|s| s.live == 0)
            {
                state.segments.remove(&old);
                self.delete_segment(old)?;
            }
        }
        let id = state.active.ok_or(QueueError::Stopped)?;
        let seg = state.segments.get_mut(&id).ok_or(QueueError::Stopped)?;
        let offset = seg.len;
        seg.len += len;
        seg.live_bytes += len;
        if !body.pinned.contains(&id) {
            body.pinned.push(id);
            seg.live += 1;
        }
        Ok((id, seg.file.clone(), offset))
    }

    /// Appends `bytes` to `body` (an empty slice adds no extent).
    fn append(&self, body: &mut Body, bytes: &[u8]) -> Result<(), QueueError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(bytes.len())
            .map_err(|_| QueueError::Full("a body chunk over 4 GiB".into()))?;
        let (segment, file, offset) = {
            let mut state = self.lock();
            self.reserve(&mut state, body, u64::from(len))?
        };
        body.crc.update(bytes);
        body.len += u64::from(len);
        body.extents.push(Extent {
            segment,
            offset,
            len,
        });
        file.write_all_at(bytes, offset)?;
        Ok(())
    }

    /// Appends to the body being received for `mid`; `first` drops what was
    /// written for it before.
    fn append_receiving(&self, mid: Mid, bytes: &[u8], first: bool) -> Result<(), QueueError> {
        let mut body = {
            let mut state = self.lock();
            let earlier = state.receiving.remove(&mid).unwrap_or_default();
            if first {
                release(&mut state, &earlier.extents);
                self.reap(&mut state)?;
                Body::default()
            } else {
                earlier
            }
        };
        let result = self.append(&mut body, bytes);
        // Kept even after a failure: the caller discards it (remove_body).
        self.lock().receiving.insert(mid, body);
        result
    }

    /// Deletes the sealed segments nothing lives in any more.
    fn reap(&self, state: &mut State) -> io::Result<()> {
        let dead: Vec<u64> = state
            .segments
            .iter()
            .filter(|(id, s)| s.live == 0 && Some(**id) != state.active)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            state.segments.remove(&id);
            self.delete_segment(id)?;
        }
        Ok(())
    }

    /// `fdatasync`s `segments` (data and length), and the directory when a
    /// segment was created since it was last synced.
    fn sync_segments(&self, segments: &[u64]) -> Result<(), QueueError> {
        let files: Vec<Arc<File>> = {
            let state = self.lock();
            segments
                .iter()
                .filter_map(|id| state.segments.get(id).map(|s| s.file.clone()))
                .collect()
        };
        for f in files {
            f.sync_data()?;
        }
        let _dir = self.dir_sync.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::mem::take(&mut self.lock().dir_unsynced);
        if dir && let Err(e) = crate::durable::sync_dir(&self.dir) {
            self.lock().dir_unsynced = true;
            return Err(e.into());
        }
        Ok(())
    }

    /// A committed body's location: `None` for a body in the legacy spool.
    fn location(&self, mid: Mid) -> Result<Option<BodyLocation>, QueueError> {
        match self.bodies.get(mid.0.to_be_bytes())? {
            Some(bytes) => BodyLocation::decode(&bytes)
                .map(Some)
                .map_err(|source| QueueError::Body { mid, source }),
            None => Ok(None),
        }
    }

    /// Reads a body from the segments as they are now.
    fn read_location(&self, location: &BodyLocation) -> Result<Vec<u8>, BodyError> {
        let snapshot = {
            let state = self.lock();
            Snapshot(
                location
                    .segments()
                    .into_iter()
                    .filter_map(|id| state.segments.get(&id).map(|s| (id, s.file.clone(), s.len)))
                    .collect(),
            )
        };
        location::read_body(location, &snapshot)
    }

    /// Segments on disk now: for tests and the benchmark.
    pub fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }
}

/// Pins each segment of `extents` once and counts their bytes as live.
fn pin(state: &mut State, extents: &[Extent]) {
    for id in distinct_segments(extents) {
        if let Some(seg) = state.segments.get_mut(&id) {
            seg.live += 1;
        }
    }
    for e in extents {
        if let Some(seg) = state.segments.get_mut(&e.segment) {
            seg.live_bytes += u64::from(e.len);
        }
    }
}

/// Undoes [`pin`].
fn release(state: &mut State, extents: &[Extent]) {
    for id in distinct_segments(extents) {
        if let Some(seg) = state.segments.get_mut(&id) {
            seg.live = seg.live.saturating_sub(1);
        }
    }
    for e in extents {
        if let Some(seg) = state.segments.get_mut(&e.segment) {
            seg.live_bytes = seg.live_bytes.saturating_sub(u64::from(e.len));
        }
    }
}

/// The segments as the reader sees them (lengths as allocated).
struct Snapshot(Vec<(u64, Arc<File>, u64)>);

impl SegmentSource for Snapshot {
    fn segment_len(&self, segment: u64) -> Option<u64> {
        self.0
            .iter()
            .find(|(id, _, _)| *id == segment)
            .map(|(_, _, len)| *len)
    }

    fn read_exact_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let (_, file, _) = self
            .0
            .iter()
            .find(|(id, _, _)| *id == segment)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        file.read_exact_at(buf, offset)
    }
}

impl QueueStore for SegmentStore {
    fn write_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        self.append_receiving(mid, body, true)
    }

    fn append_body(&self, mid: Mid, bytes: &[u8], first: bool) -> Result<(), QueueError> {
        self.append_receiving(mid, bytes, first)
    }

    fn finish_body(&self, mid: Mid, tail: &[u8], first: bool) -> Result<(), QueueError> {
        self.append_receiving(mid, tail, first)
    }

    fn sync_bodies(&self, mids: &[Mid]) -> Result<(), QueueError> {
        let mut located = Vec::with_capacity(mids.len());
        let mut segments = Vec::new();
        {
            let state = self.lock();
            for mid in mids {
                match state.receiving.get(mid) {
                    Some(body) => {
                        for id in &body.pinned {
                            if !segments.contains(id) {
                                segments.push(*id);
                            }
                        }
                        located.push((*mid, body.location()));
                    }
                    None => tracing::error!("queue commit: MID {mid} has no body written"),
                }
            }
        }
        self.sync_segments(&segments)?;
        for (mid, location) in &located {
            let encoded = location.encode().map_err(|e| QueueError::Body {
                mid: *mid,
                source: e.into(),
            })?;
            self.bodies.insert(mid.0.to_be_bytes(), encoded)?;
        }
        // The bodies are committed from here on: their pins stay, held by
        // the location until the message is removed.
        let mut state = self.lock();
        for (mid, _) in &located {
            state.receiving.remove(mid);
        }
        Ok(())
    }

    fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError> {
        let Some(location) = self.location(mid)? else {
            return Ok(self.legacy.read(mid)?);
        };
        self.read_location(&location)
            .map_err(|source| QueueError::Body { mid, source })
    }

    fn replace_body(&self, mid: Mid, body: &[u8]) -> Result<(), QueueError> {
        let mut new = Body::default();
        let staged = self
            .append(&mut new, body)
            .and_then(|()| self.sync_segments(&new.pinned))
            .and_then(|()| {
                new.location().encode().map_err(|e| QueueError::Body {
                    mid,
                    source: e.into(),
                })
            });
        let encoded = match staged {
            Ok(encoded) => encoded,
            Err(e) => {
                // Nothing refers to the new bytes: they go, the old body stays.
                let mut state = self.lock();
                release(&mut state, &new.extents);
                self.reap(&mut state)?;
                return Err(e);
            }
        };
        // From the insert on, a crash may leave either location durable:
        // both bodies stay pinned until the flush says which (a failure
        // keeps both until the next open recounts).
        let old = self.bodies.insert(mid.0.to_be_bytes(), encoded)?;
        self.records.flush()?;
        let mut state = self.lock();
        match old.map(|bytes| BodyLocation::decode(&bytes)) {
            Some(Ok(old)) => release(&mut state, &old.extents),
            Some(Err(e)) => {
                tracing::warn!("MID {mid}: the replaced body's location was damaged: {e}")
            }
            None if self.legacy_present => self.legacy.remove(mid)?,
            None => {}
        }
        self.reap(&mut state)?;
        Ok(())
    }

    fn put(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.records.put(record)
    }

    fn remove(&self, mid: Mid) -> Result<(), QueueError> {
        self.records.remove(mid)?;
        if let Some(bytes) = self.bodies.remove(mid.0.to_be_bytes())? {
            match BodyLocation::decode(&bytes) {
                Ok(location) => {
                    self.lock().retiring.insert(mid, location.extents);
                }
                Err(e) => tracing::warn!("MID {mid}: removed body location was damaged: {e}"),
            }
        }
        Ok(())
    }

    fn remove_body(&self, mid: Mid) -> Result<(), QueueError> {
        let mut state = self.lock();
        let extents = match state.receiving.remove(&mid) {
            Some(body) => Some(body.extents),
            None => state.retiring.remove(&mid),
        };
        match extents {
            Some(extents) => {
                release(&mut state, &extents);
                self.reap(&mut state)?;
            }
            None if self.legacy_present => self.legacy.remove(mid)?,
            None => {}
        }
        Ok(())
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
        if !self.legacy_present {
            return Ok(Vec::new());
        }
        self.legacy.orphans(&self.records)
    }

    fn compact(&self) -> Result<u64, QueueError> {
        self.compact_one()
    }

    fn slack_bytes(&self) -> u64 {
        let state = self.lock();
        state
            .segments
            .iter()
            .filter(|(id, _)| Some(**id) != state.active)
            .map(|(_, s)| s.len.saturating_sub(s.live_bytes))
            .sum()
    }
}

mod compact;
#[cfg(test)]
mod tests;
