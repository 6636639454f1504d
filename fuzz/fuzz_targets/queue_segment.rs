//! Feeds arbitrary bytes as what the segment spool reads back after a crash
//! or from a damaged flash: a body's location record (from sled's `bodies`
//! tree) and the segment files it names. The first byte is the location's
//! length; the location follows; the rest is cut in two at the byte after
//! it and held as segments 0 and 1. Half the time a location that points
//! into those bytes with the right length and CRC is written in, so the
//! fuzzer also reaches the read of a body that checks out. Properties
//! checked: no panic and no allocation beyond the segments' real size;
//! a body returned is exactly the location's length and has its CRC.
#![no_main]

use breakwater::queue::location::{BodyLocation, Extent, read_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&loc_len, rest)) = data.split_first() else {
        return;
    };
    let (loc_bytes, rest) = rest.split_at(rest.len().min(usize::from(loc_len)));
    let cut = rest.first().map_or(0, |b| usize::from(*b)).min(rest.len());
    let (seg0, seg1) = rest.split_at(cut);
    let segments: &[(u64, &[u8])] = &[(0, seg0), (1, seg1)];
    let location = match BodyLocation::decode(loc_bytes) {
        Ok(location) => location,
        Err(_) if loc_len & 1 == 0 && !seg0.is_empty() => {
            // A well-formed location over part of segment 0 and all of 1.
            let mut extents = vec![Extent {
                segment: 0,
                offset: 0,
                len: seg0.len() as u32,
            }];
            if !seg1.is_empty() {
                extents.push(Extent {
                    segment: 1,
                    offset: 0,
                    len: seg1.len() as u32,
                });
            }
            let mut crc = crc32fast::Hasher::new();
            crc.update(seg0);
            crc.update(seg1);
            BodyLocation {
                len: (seg0.len() + seg1.len()) as u64,
                crc32: crc.finalize(),
                extents,
            }
        }
        Err(_) => return,
    };
    // What decodes encodes back to the same bytes' meaning.
    if let Ok(encoded) = location.encode() {
        assert_eq!(BodyLocation::decode(&encoded).ok().as_ref(), Some(&location));
    }
    if let Ok(body) = read_body(&location, segments) {
        assert_eq!(body.len() as u64, location.len);
        assert_eq!(crc32fast::hash(&body), location.crc32);
        // Every extent lies within a segment: nothing beyond their size.
        let largest = seg0.len().max(seg1.len());
        assert!(body.len() <= location.extents.len() * largest);
    }
});
