//! Feeds arbitrary bytes as rspamd's reply to the anti-spam client's
//! parser (`scan::rspamd::parse_reply`), growing the buffer in chunks whose
//! size the first byte chooses, as the transport reads them. Properties
//! checked: no panic; once the parser gives an answer (a verdict or an
//! error), feeding the same bytes again gives the same answer; a reply
//! longer than `MAX_REPLY_BYTES` is never accepted; and the answer on the
//! whole input does not depend on the chunking.
#![no_main]

use breakwater::scan::rspamd::{MAX_REPLY_BYTES, parse_reply};
use libfuzzer_sys::fuzz_target;

/// The first answer while reading `bytes` `chunk` at a time (EOF after
/// the last chunk), as a comparable string.
fn answer(bytes: &[u8], chunk: usize) -> String {
    let mut buf = Vec::new();
    let mut chunks = bytes.chunks(chunk).peekable();
    loop {
        let Some(c) = chunks.next() else {
            return format!("{:?}", parse_reply(&buf, true));
        };
        buf.extend_from_slice(c);
        let eof = chunks.peek().is_none();
        match parse_reply(&buf, eof) {
            Ok(None) if !eof => continue,
            other => {
                if let Ok(Some(_)) = &other {
                    assert!(buf.len() <= MAX_REPLY_BYTES);
                }
                assert_eq!(format!("{other:?}"), format!("{:?}", parse_reply(&buf, eof)));
                return format!("{other:?}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first).max(1);
    let whole = answer(bytes, bytes.len().max(1));
    let split = answer(bytes, chunk);
    // A reply complete before the last chunk answers earlier, on fewer
    // bytes; it must still be the same answer when that answer is a
    // verdict (a verdict needs every byte of its body).
    if whole.starts_with("Ok(Some") && split.starts_with("Ok(Some") {
        assert_eq!(split, whole, "chunks of {chunk}");
    }
});
