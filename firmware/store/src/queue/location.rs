//! Where a body lives in the segment spool, and reading it back.
//!
//! A [`BodyLocation`] is the body's length, its CRC-32 and the extents
//! (segment, offset, length) its bytes were appended to, in order. It is
//! stored in sled (tree `bodies`, big-endian MID → versioned postcard) and
//! becomes durable in the same flush as the message's record.
//!
//! Both halves are untrusted when read back: a location from a damaged
//! database, a segment file cut short by a power cut or overwritten. So
//! [`BodyLocation::decode`] checks the location's own consistency,
//! [`read_body`] checks every extent against the segment's real length
//! before it allocates or reads, and the CRC over the bytes read decides:
//! a mismatch is a [`BodyError`], never a garbled body handed on.

use std::io;

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};

const LOCATION_VERSION: u8 = 1;

/// The largest body a location may describe. Reception refuses messages far
/// below this (the listeners' size limits); a larger length can only be
/// damage, and is refused before any allocation.
pub const MAX_BODY_BYTES: u64 = 1 << 31;

/// The most extents one body may have: reception appends in 64 KiB chunks,
/// so a body at [`MAX_BODY_BYTES`] has 32 Ki of them.
pub const MAX_EXTENTS: usize = 1 << 15;

/// A run of a body's bytes in one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

/// A committed body: its extents in order, its length and its CRC-32.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyLocation {
    pub len: u64,
    pub crc32: u32,
    pub extents: Vec<Extent>,
}

/// Why a stored body cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("its location record cannot be decoded: {0}")]
    Codec(#[from] CodecError),
    #[error("its location is inconsistent: {0}")]
    Location(&'static str),
    #[error("segment {0:016x} is missing")]
    MissingSegment(u64),
    #[error("an extent lies beyond the end of segment {segment:016x}")]
    OutOfBounds { segment: u64 },
    #[error("checksum mismatch (recorded {recorded:08x}, read {read:08x})")]
    Checksum { recorded: u32, read: u32 },
    #[error("segment I/O error: {0}")]
    Io(#[from] io::Error),
}

impl BodyLocation {
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(LOCATION_VERSION, self)
    }

    /// Decodes a stored location and checks it: at most [`MAX_EXTENTS`]
    /// non-empty extents whose lengths add up to `len` (at most
    /// [`MAX_BODY_BYTES`]) without any offset overflowing.
    pub fn decode(bytes: &[u8]) -> Result<Self, BodyError> {
        let location: BodyLocation = codec::decode(LOCATION_VERSION, bytes)?;
        location.check()?;
        Ok(location)
    }

    pub fn check(&self) -> Result<(), BodyError> {
        if self.len > MAX_BODY_BYTES {
            return Err(BodyError::Location("longer than any body can be"));
        }
        if self.extents.len() > MAX_EXTENTS {
            return Err(BodyError::Location("too many extents"));
        }
        let mut total: u64 = 0;
        for e in &self.extents {
            if e.len == 0 {
                return Err(BodyError::Location("an empty extent"));
            }
            if e.offset.checked_add(u64::from(e.len)).is_none() {
                return Err(BodyError::Location("an extent past the largest offset"));
            }
            total = total.saturating_add(u64::from(e.len));
        }
        if total != self.len {
            return Err(BodyError::Location("extents and length disagree"));
        }
        Ok(())
    }

    /// The distinct segments the body is in, each once.
    pub fn segments(&self) -> Vec<u64> {
        distinct_segments(&self.extents)
    }
}

/// The distinct segments of `extents`, in first-use order.
pub fn distinct_segments(extents: &[Extent]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for e in extents {
        if !out.contains(&e.segment) {
            out.push(e.segment);
        }
    }
    out
}

/// Positional reads from segments: the segment files on disk, or bytes in
/// memory for the fuzzer and tests.
pub trait SegmentSource {
    /// The segment's length now, or `None` when it does not exist.
    fn segment_len(&self, segment: u64) -> Option<u64>;
    /// Fills `buf` from `offset` of the segment.
    fn read_exact_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// Reads a checked location's body: every extent within its segment's
/// length (checked before anything is allocated), then the CRC.
pub fn read_body(
    location: &BodyLocation,
    source: &(impl SegmentSource + ?Sized),
) -> Result<Vec<u8>, BodyError> {
    location.check()?;
    for e in &location.extents {
        let len = source
            .segment_len(e.segment)
            .ok_or(BodyError::MissingSegment(e.segment))?;
        // check() ruled out the overflow.
        if e.offset.saturating_add(u64::from(e.len)) > len {
            return Err(BodyError::OutOfBounds { segment: e.segment });
        }
    }
    let total = usize::try_from(location.len)
        .map_err(|_| BodyError::Location("longer than this machine can hold"))?;
    let mut body = vec![0u8; total];
    let mut at = 0usize;
    for e in &location.extents {
        let end = at + e.len as usize;
        let Some(part) = body.get_mut(at..end) else {
            return Err(BodyError::Location("extents and length disagree"));
        };
        source
            .read_exact_at(e.segment, e.offset, part)
            .map_err(|err| match err.kind() {
                io::ErrorKind::UnexpectedEof => BodyError::OutOfBounds { segment: e.segment },
                _ => BodyError::Io(err),
            })?;
        at = end;
    }
    let read = crc32fast::hash(&body);
    if read != location.crc32 {
        return Err(BodyError::Checksum {
            recorded: location.crc32,
            read,
        });
    }
    Ok(body)
}

/// Segments held in memory (segment number → bytes).
impl SegmentSource for [(u64, &[u8])] {
    fn segment_len(&self, segment: u64) -> Option<u64> {
        self.iter()
            .find(|(s, _)| *s == segment)
            .map(|(_, b)| b.len() as u64)
    }

    fn read_exact_at(&self, segment: u64, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let bytes = self
            .iter()
            .find(|(s, _)| *s == segment)
            .map(|(_, b)| *b)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let start =
            usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location_of(parts: &[(u64, u64, &[u8])]) -> BodyLocation {
        let mut hasher = crc32fast::Hasher::new();
        let mut extents = Vec::new();
        let mut len = 0;
        for (segment, offset, bytes) in parts {
            hasher.update(bytes);
            extents.push(Extent {
                segment: *segment,
                offset: *offset,
                len: bytes.len() as u32,
            });
            len += bytes.len() as u64;
        }
        BodyLocation {
            len,
            crc32: hasher.finalize(),
            extents,
        }
    }

    #[test]
    fn a_body_in_two_segments_reads_back_and_round_trips() {
        let seg1 = b"xxHello, ".to_vec();
        let seg2 = b"world!yy".to_vec();
        let loc = location_of(&[(1, 2, b"Hello, "), (2, 0, b"world!")]);
        let back = BodyLocation::decode(&loc.encode().unwrap()).unwrap();
        assert_eq!(back, loc);
        let source: &[(u64, &[u8])] = &[(1, &seg1), (2, &seg2)];
        assert_eq!(read_body(&back, source).unwrap(), b"Hello, world!");
    }

    #[test]
    fn damage_is_a_typed_error_never_a_body() {
        let seg = b"Hello".to_vec();
        let loc = location_of(&[(1, 0, b"Hello")]);
        let flipped = b"Jello".to_vec();
        let source: &[(u64, &[u8])] = &[(1, &flipped)];
        assert!(matches!(
            read_body(&loc, source),
            Err(BodyError::Checksum { .. })
        ));
        let short: &[(u64, &[u8])] = &[(1, &seg[..3])];
        assert!(matches!(
            read_body(&loc, short),
            Err(BodyError::OutOfBounds { segment: 1 })
        ));
        let none: &[(u64, &[u8])] = &[];
        assert!(matches!(
            read_body(&loc, none),
            Err(BodyError::MissingSegment(1))
        ));
        let mut lying = loc.clone();
        lying.len = 1 << 40;
        assert!(matches!(
            BodyLocation::decode(&lying.encode().unwrap()),
            Err(BodyError::Location(_))
        ));
        let mut overflow = loc.clone();
        overflow.extents[0].offset = u64::MAX;
        assert!(matches!(overflow.check(), Err(BodyError::Location(_))));
        assert!(matches!(
            BodyLocation::decode(&[9, 1, 2]),
            Err(BodyError::Codec(_))
        ));
    }
}
