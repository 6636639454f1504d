//! Compaction: a sealed segment that is mostly dead (a long-deferred or
//! quarantined message pinning it) gives its space back by moving its live
//! bodies to the active segment.
//!
//! Crash safety is the same as a filter's `replace_body`: the new copies
//! are appended and `fdatasync`ed, each location is swapped (only if it is
//! still the one read: a message retired or rewritten meanwhile keeps its
//! own), one durable flush, and only then are the old extents released and
//! the segment deleted. A crash at any point leaves the old location or the
//! new one durable, and both copies on disk until the flush.

use super::*;

/// A sealed segment is compacted when less than this share of it (in
/// percent) is live. A quarter bounds the flash held by dead bytes in
/// sealed segments to 3× the live data in them, while a segment whose
/// messages are merely slow to leave is not copied again and again.
pub const COMPACT_BELOW_LIVE_PERCENT: u64 = 25;

/// A body being moved: its key, its location as read, the new copy.
struct Move {
    key: sled::IVec,
    old_bytes: sled::IVec,
    old: BodyLocation,
    new: Body,
}

impl SegmentStore {
    /// The sealed segment with the least live data, if it is under
    /// [`COMPACT_BELOW_LIVE_PERCENT`] live.
    fn compaction_victim(&self) -> Option<u64> {
        let state = self.lock();
        state
            .segments
            .iter()
            .filter(|(id, s)| {
                Some(**id) != state.active
                    && s.live > 0
                    && s.live_bytes.saturating_mul(100)
                        < s.len.saturating_mul(COMPACT_BELOW_LIVE_PERCENT)
            })
            .min_by_key(|(_, s)| s.live_bytes)
            .map(|(id, _)| *id)
    }

    /// Compacts one segment; returns the bytes its deletion freed (0 when
    /// none needed it).
    pub(super) fn compact_one(&self) -> Result<u64, QueueError> {
        let Some(victim) = self.compaction_victim() else {
            return Ok(0);
        };
        let size = self.lock().segments.get(&victim).map_or(0, |s| s.len);
        // Which bodies are in it: the locations say (a scan of `bodies`,
        // once per compacted segment).
        let mut moves = Vec::new();
        for entry in self.bodies.iter() {
            let (key, old_bytes) = entry?;
            let Ok(old) = BodyLocation::decode(&old_bytes) else {
                continue;
            };
            if !old.extents.iter().any(|e| e.segment == victim) {
                continue;
            }
            // A damaged body stays where it is: copying would not mend it.
            let Ok(body) = self.read_location(&old) else {
                continue;
            };
            let mut new = Body::default();
            let appended = self.append(&mut new, &body);
            moves.push(Move {
                key,
                old_bytes,
                old,
                new,
            });
            if let Err(e) = appended {
                self.abandon(&moves);
                return Err(e);
            }
        }
        let mut segments = Vec::new();
        for m in &moves {
            for id in &m.new.pinned {
                if !segments.contains(id) {
                    segments.push(*id);
                }
            }
        }
        if let Err(e) = self.sync_segments(&segments) {
            self.abandon(&moves);
            return Err(e);
        }
        let mut swapped = Vec::with_capacity(moves.len());
        for m in moves {
            let encoded = m.new.location().encode().map_err(|e| QueueError::Body {
                mid: Mid(u64::from_be_bytes(
                    m.key.as_ref().try_into().unwrap_or([0; 8]),
                )),
                source: e.into(),
            })?;
            let result = self
                .bodies
                .compare_and_swap(&m.key, Some(&m.old_bytes), Some(encoded))?;
            swapped.push((m, result.is_ok()));
        }
        // Both copies stay pinned until the swaps are durable (a failure
        // here keeps both until the next open recounts).
        self.records.flush()?;
        let mut state = self.lock();
        for (m, done) in &swapped {
            let freed = if *done {
                &m.old.extents
            } else {
                &m.new.extents
            };
            release(&mut state, freed);
        }
        let before = state.segments.contains_key(&victim);
        self.reap(&mut state)?;
        let freed = before && !state.segments.contains_key(&victim);
        Ok(if freed { size } else { 0 })
    }

    /// Releases the new copies of a compaction that failed before any swap.
    fn abandon(&self, moves: &[Move]) {
        let mut state = self.lock();
        for m in moves {
            release(&mut state, &m.new.extents);
        }
        if let Err(e) = self.reap(&mut state) {
            tracing::warn!("segment compaction: {e}");
        }
    }
}
