//! The DATA receiver fed arbitrary bytes, split at an arbitrary point.
//! Properties: the end of data is exactly the first `CR LF . CR LF` (the
//! data start counts as a line start), whatever the split and the mode;
//! Lenient output has no bare CR or LF; the output never passes the limit.
#![no_main]

use breakwater::smtp_in::data::DataReceiver;
use libfuzzer_sys::fuzz_target;

fn run(strict: bool, input: &[u8], split: usize) -> (Vec<u8>, Option<usize>) {
    let mut rx = DataReceiver::new(strict, 4096);
    let mut out = Vec::new();
    let mut pos = 0;
    for part in [&input[..split], &input[split..]] {
        let mut rest = part;
        while !rest.is_empty() {
            let (n, done) = rx.feed(rest, &mut out, usize::MAX);
            pos += n;
            rest = &rest[n..];
            if done.is_some() {
                return (out, Some(pos));
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first).min(input.len());
    let mut wire = b"\r\n".to_vec();
    wire.extend_from_slice(input);
    let expected = wire
        .windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|p| p + 3);
    for strict in [true, false] {
        let (out, end) = run(strict, input, split);
        assert_eq!(end, expected, "end of data (strict {strict})");
        assert!(out.len() <= 4096 + 3);
        let (whole, _) = run(strict, input, 0);
        assert_eq!(out, whole, "the split changed the output");
        if !strict {
            for (i, &b) in out.iter().enumerate() {
                assert!(b != b'\r' || out.get(i + 1) == Some(&b'\n'), "bare CR");
                assert!(b != b'\n' || (i > 0 && out[i - 1] == b'\r'), "bare LF");
                assert!(b != 0, "NUL");
            }
        }
    }
});
