//! Feeds arbitrary bytes as a relay's replies to bench-smtp's reply
//! reader (`breakwater_tools::smtp_wire`, what the benchmark's load
//! generator reads from the relay under test), delivered in reads whose
//! size the first byte chooses; the same bytes go through the Message-ID
//! matching the benchmark's sink does on header lines. Properties
//! checked: no panic; every reply has 1 to `MAX_REPLY_LINES` lines of at
//! most `MAX_LINE` bytes; the replies do not depend on how the bytes were
//! split across reads; a matched Message-ID is the one the run writes.
#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll};

use breakwater_tools::smtp_wire::{
    LineReader, MAX_LINE, MAX_REPLY_LINES, message_id, message_id_header, parse_message_id,
    read_reply,
};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};

/// Hands out at most `chunk` bytes per read.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.bytes.len()).min(buf.remaining());
        buf.put_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Poll::Ready(Ok(()))
    }
}

fn replies(rt: &tokio::runtime::Runtime, bytes: &[u8], chunk: usize) -> Vec<(u16, Vec<String>)> {
    rt.block_on(async {
        let mut io = Chunked { bytes, chunk };
        let mut reader = LineReader::new();
        let mut got = Vec::new();
        while let Ok(r) = read_reply(&mut reader, &mut io).await {
            assert!(!r.lines.is_empty() && r.lines.len() <= MAX_REPLY_LINES);
            // Lossy UTF-8 turns one invalid byte into a 3-byte U+FFFD at most.
            assert!(
                r.lines.iter().all(|l| l.len() <= MAX_LINE * 3),
                "a line past the bound"
            );
            assert!((200..600).contains(&r.code));
            got.push((r.code, r.lines));
        }
        got
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let whole = replies(&rt, bytes, bytes.len().max(1));
    let split = replies(&rt, bytes, usize::from(first).max(1));
    assert_eq!(split, whole, "reads of {first} bytes");

    for line in bytes.split(|&b| b == b'\n') {
        if let Some(value) = message_id_header(line) {
            let run = u64::from(first);
            if let Some(seq) = parse_message_id(value, run) {
                let id = message_id(seq, run);
                let trimmed = String::from_utf8_lossy(value);
                assert_eq!(trimmed.trim(), id, "matched an id the run did not write");
            }
        }
    }
});
