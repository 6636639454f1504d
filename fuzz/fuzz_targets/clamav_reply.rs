//! Feeds arbitrary bytes as clamd's reply to the `zINSTREAM` client's
//! reader, in two pieces split where the first byte says. Properties
//! checked: no panic; the reader never keeps more than `MAX_REPLY` bytes
//! (a longer reply is refused); a verdict's signature name has no control
//! characters; feeding the same bytes in one piece gives the same answer.
#![no_main]

use breakwater::scan::clamav::{ReplyReader, Verdict};
use libfuzzer_sys::fuzz_target;

fn run(pieces: &[&[u8]]) -> Option<Result<Verdict, String>> {
    let mut r = ReplyReader::default();
    for p in pieces {
        if let Some(v) = r.feed(p) {
            return Some(v.map_err(|e| e.to_string()));
        }
    }
    Some(r.finish().map_err(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let two = run(&[&rest[..at], &rest[at..]]);
    let one = run(&[rest]);
    assert_eq!(two, one);
    if let Some(Ok(Verdict::Infected(name) | Verdict::Encrypted(name) | Verdict::Unscannable(name))) =
        &one
    {
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(name.len() <= breakwater::scan::clamav::MAX_REPLY);
    }
});
