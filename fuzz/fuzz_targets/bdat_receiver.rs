//! The BDAT receiver fed arbitrary chunk bytes, split at an arbitrary point.
//! Properties: Strict refuses exactly the data with a bare CR, a bare LF or
//! a NUL; Lenient output is canonical (no bare CR or LF, no NUL); the split
//! never changes the result.
#![no_main]

use breakwater::smtp_in::data::{BdatReceiver, DataError};
use libfuzzer_sys::fuzz_target;

fn run(strict: bool, input: &[u8], split: usize) -> (Vec<u8>, Result<u64, DataError>) {
    let mut rx = BdatReceiver::new(strict, 1 << 20);
    let mut out = Vec::new();
    for part in [&input[..split], &input[split..]] {
        let n = rx.feed(part, &mut out, usize::MAX);
        assert_eq!(n, part.len(), "unbounded room takes everything");
    }
    let result = rx.finish(&mut out);
    (out, result)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first).min(input.len());
    let canonical = !input.contains(&0)
        && input.iter().enumerate().all(|(i, &b)| match b {
            b'\r' => input.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && input[i - 1] == b'\r',
            _ => true,
        });
    let (out, result) = run(true, input, split);
    assert_eq!(result.is_ok(), canonical, "strict verdict");
    if canonical {
        assert_eq!(out, input);
    }
    let (out, result) = run(false, input, split);
    assert!(result.is_ok());
    assert_eq!((out.clone(), result), run(false, input, 0));
    for (i, &b) in out.iter().enumerate() {
        assert!(b != b'\r' || out.get(i + 1) == Some(&b'\n'), "bare CR");
        assert!(b != b'\n' || (i > 0 && out[i - 1] == b'\r'), "bare LF");
        assert!(b != 0, "NUL");
    }
});
