//! Feeds arbitrary bytes as a next hop's replies to the delivery client's
//! reply parser, in chunks whose sizes the first byte chooses (a hostile
//! or broken server controls both). Properties checked: no panic, the
//! parser never claims more bytes than it was given, every reply is at
//! most smtp-proto's 4 KiB, and the replies do not depend on how the
//! bytes were split across reads.
#![no_main]

use breakwater::delivery::client::{ReplyParser, reply_text};
use libfuzzer_sys::fuzz_target;

/// Every reply (as the log shows it) until the bytes end or the parser
/// refuses them, reading `chunk` bytes at a time as `read_reply` does.
fn replies(bytes: &[u8], chunk: usize) -> (Vec<String>, bool) {
    let mut parser = ReplyParser::default();
    let mut inbuf: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut input = bytes.chunks(chunk);
    loop {
        match parser.feed(&inbuf) {
            Ok((used, reply)) => {
                assert!(used <= inbuf.len(), "used {used} of {}", inbuf.len());
                inbuf.drain(..used);
                if let Some(r) = reply {
                    assert!(r.message.len() <= 4096, "{} bytes", r.message.len());
                    got.push(reply_text(&r));
                    continue;
                }
            }
            Err(_) => return (got, true),
        }
        match input.next() {
            Some(c) => inbuf.extend_from_slice(c),
            None => return (got, false),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first).max(1);
    let whole = replies(bytes, bytes.len().max(1));
    let split = replies(bytes, chunk);
    assert_eq!(split, whole, "chunks of {chunk}");
});
