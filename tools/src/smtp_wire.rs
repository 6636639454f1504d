//! The bytes bench-smtp exchanges, without sockets: bounded line reading,
//! SMTP reply parsing, the test message and its Message-ID, percentiles.
//!
//! Everything here reads peer bytes (the relay under test, or whoever
//! talks to the sink), so every read is bounded: a line by
//! [`MAX_LINE`] (or the caller's limit), a reply by [`MAX_REPLY_LINES`].

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest command or reply line accepted, CRLF included. RFC 5321
/// allows 512 octets for a command and 512 for a reply line; a relay's
/// text line in DATA may be up to 1000. Twice that leaves room for a
/// lenient peer and still bounds the buffer.
pub const MAX_LINE: usize = 2048;

/// Longest text line inside DATA at the sink. RFC 5321 says 1000 octets;
/// a relay that passes longer lines through still gets its message
/// counted, up to this bound.
pub const MAX_DATA_LINE: usize = 64 * 1024;

/// Lines of one multi-line reply (an EHLO answer has about ten).
pub const MAX_REPLY_LINES: usize = 100;

/// A buffered reader over a stream that hands out CRLF-terminated lines
/// of bounded length. What was read past a line stays in the buffer for
/// the next one (pipelined commands at the sink).
pub struct LineReader {
    buf: Vec<u8>,
    start: usize,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(4096),
            start: 0,
        }
    }

    /// Bytes received but not yet handed out: must be empty before a
    /// STARTTLS handshake (RFC 3207: anything pipelined after STARTTLS
    /// is an injection attempt).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next line, without its line ending (CRLF, or a bare LF).
    /// `Ok(None)` at a clean end of stream; an error when a line exceeds
    /// `max` bytes or the stream ends inside a line.
    pub async fn read_line<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        io: &mut R,
        max: usize,
    ) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                // One read can hold a whole overlong line: bound it here too.
                if pos >= max {
                    return Err(too_long(max));
                }
                let end = self.start + pos;
                let mut line = self.buf[self.start..end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.start = end + 1;
                return Ok(Some(line));
            }
            if self.pending() > max {
                return Err(too_long(max));
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let mut chunk = [0u8; 8192];
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return if self.pending() == 0 {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside a line",
                    ))
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn too_long(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("line longer than {max} bytes"),
    )
}

/// One SMTP reply: its code and its text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// Whether an EHLO reply advertises `keyword` (case-insensitive).
    pub fn advertises(&self, keyword: &str) -> bool {
        self.lines.iter().any(|l| {
            l.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// One reply line: `(code, is_last, text)`. `None` when the line is not
/// `DDD`, `DDD text` or `DDD-text` with a code of 200-599.
pub fn parse_reply_line(line: &[u8]) -> Option<(u16, bool, String)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(200..600).contains(&code) {
        return None;
    }
    let (last, text) = match line.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return None,
    };
    Some((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// Reads one (possibly multi-line) reply; every line must carry the
/// same code.
pub async fn read_reply<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut LineReader,
    io: &mut R,
) -> io::Result<Reply> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let line = reader
            .read_line(io, MAX_LINE)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))?;
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an SMTP reply: {:?}", String::from_utf8_lossy(&line)),
            )
        };
        let (c, last, text) = parse_reply_line(&line).ok_or_else(bad)?;
        if code.is_some_and(|first| first != c) {
            return Err(bad());
        }
        code = Some(c);
        lines.push(text);
        if last {
            return Ok(Reply { code: c, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reply of more than {MAX_REPLY_LINES} lines"),
            ));
        }
    }
}

/// The run's message identity: `<SEQ.RUN@bench.invalid>`. The run id
/// keeps messages of an earlier run (still queued in a relay) out of the
/// count.
pub fn message_id(seq: u64, run: u64) -> String {
    format!("<{seq}.{run:x}@bench.invalid>")
}

/// The sequence number in a Message-ID header value of this run.
pub fn parse_message_id(value: &[u8], run: u64) -> Option<u64> {
    let v = std::str::from_utf8(value).ok()?.trim();
    let inner = v.strip_prefix('<')?.strip_suffix('>')?;
    let (local, domain) = inner.split_once('@')?;
    if domain != "bench.invalid" {
        return None;
    }
    let (seq, _) = local.split_once('.')?;
    let seq: u64 = seq.parse().ok()?;
    // Only the exact form this run writes: "06" or an upper-case run id
    // parse to the same numbers but are not our message.
    (message_id(seq, run) == v).then_some(seq)
}

/// The value of a `Message-ID:` header line (case-insensitive name).
pub fn message_id_header(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    line[..colon]
        .eq_ignore_ascii_case(b"message-id")
        .then(|| &line[colon + 1..])
}

/// The message for sequence number `seq`: a few headers, then the shared
/// body. The body is lines of `x` (never a leading dot, so no
/// dot-stuffing) filling the message to about `size` bytes, as
/// smtp-source's `-l`.
pub fn message(seq: u64, run: u64, rcpt: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: <bench@example.net>\r\nTo: <{rcpt}>\r\nSubject: bench {seq}\r\nMessage-ID: {}\r\n\r\n",
        message_id(seq, run)
    )
    .into_bytes();
    m.extend_from_slice(body);
    m.extend_from_slice(b".\r\n");
    m
}

/// The body shared by every message: `size` bytes of 78-byte lines.
pub fn body(size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + 80);
    while b.len() + 78 <= size.max(78) {
        b.extend_from_slice(&[b'x'; 76]);
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Nearest-rank percentile of sorted samples (`p` in 0..=100).
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {

    /// fuzz/corpus/bench_smtp_wire/regression-leading-zero-seq: "06" is
    /// not the "6" this run wrote.
    #[test]
    fn only_the_exact_message_id_matches() {
        assert_eq!(parse_message_id(b" <6.7@bench.invalid>", 7), Some(6));
        assert_eq!(parse_message_id(b" <06.7@bench.invalid>", 7), None);
        assert_eq!(parse_message_id(b" <6.07@bench.invalid>", 7), None);
        assert_eq!(parse_message_id(b" <6.A@bench.invalid>", 10), None);
        assert_eq!(parse_message_id(b" <6.a@bench.invalid>", 10), Some(6));
    }

    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&s, 50.0), Some(50));
        assert_eq!(percentile(&s, 99.0), Some(99));
        assert_eq!(percentile(&s, 100.0), Some(100));
        assert_eq!(percentile(&s, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        // 10 samples: p99 is the largest, p90 the ninth.
        let t: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&t, 99.0), Some(10));
        assert_eq!(percentile(&t, 90.0), Some(9));
    }

    #[test]
    fn message_ids_of_this_run_match_and_others_do_not() {
        let id = message_id(4711, 0xbeef);
        assert_eq!(parse_message_id(id.as_bytes(), 0xbeef), Some(4711));
        assert_eq!(
            parse_message_id(format!(" {id}  ").as_bytes(), 0xbeef),
            Some(4711)
        );
        assert_eq!(parse_message_id(id.as_bytes(), 0xbeee), None);
        assert_eq!(parse_message_id(b"<4711.beef@other.invalid>", 0xbeef), None);
        assert_eq!(parse_message_id(b"<x.beef@bench.invalid>", 0xbeef), None);
        assert_eq!(parse_message_id(b"4711.beef@bench.invalid", 0xbeef), None);
        assert_eq!(
            message_id_header(b"MESSAGE-ID: <1.2@x>"),
            Some(&b" <1.2@x>"[..])
        );
        assert_eq!(message_id_header(b"Subject: Message-ID: x"), None);
    }

    #[test]
    fn the_message_carries_its_id_and_ends_with_the_dot() {
        let body = body(1000);
        assert!(body.len() <= 1000 && body.len() > 900);
        assert!(!body.starts_with(b"."));
        let m = message(3, 9, "user@d1.bench", &body);
        assert!(m.ends_with(b"\r\n.\r\n"));
        let id_line = m
            .split(|&b| b == b'\n')
            .find_map(|l| message_id_header(l.strip_suffix(b"\r").unwrap_or(l)))
            .expect("a Message-ID header");
        assert_eq!(parse_message_id(id_line, 9), Some(3));
    }

    #[test]
    fn reply_lines_parse_and_garbage_does_not() {
        assert_eq!(parse_reply_line(b"250 ok"), Some((250, true, "ok".into())));
        assert_eq!(
            parse_reply_line(b"250-PIPELINING"),
            Some((250, false, "PIPELINING".into()))
        );
        assert_eq!(parse_reply_line(b"354"), Some((354, true, String::new())));
        assert_eq!(parse_reply_line(b"25"), None);
        assert_eq!(parse_reply_line(b"2500 x"), None);
        assert_eq!(parse_reply_line(b"abc ok"), None);
        assert_eq!(parse_reply_line(b"199 too low"), None);
    }

    #[tokio::test]
    async fn multi_line_replies_are_read_whole_and_bounded() {
        let mut input: &[u8] = b"250-bench.invalid\r\n250-PIPELINING\r\n250 STARTTLS\r\n220 go\r\n";
        let mut r = LineReader::new();
        let ehlo = read_reply(&mut r, &mut input).await.expect("ehlo reply");
        assert_eq!(ehlo.code, 250);
        assert!(ehlo.advertises("starttls") && ehlo.advertises("PIPELINING"));
        assert!(!ehlo.advertises("CHUNKING"));
        let go = read_reply(&mut r, &mut input).await.expect("second reply");
        assert_eq!(go.code, 220);

        let mixed: &[u8] = b"250-a\r\n451 b\r\n";
        assert!(
            read_reply(&mut LineReader::new(), &mut &mixed[..])
                .await
                .is_err()
        );
        let mut long_in_one_read = b"250 ".to_vec();
        long_in_one_read.extend(vec![b'x'; MAX_LINE]);
        long_in_one_read.extend_from_slice(b"\r\n");
        assert!(
            read_reply(&mut LineReader::new(), &mut &long_in_one_read[..])
                .await
                .is_err()
        );
        let long = vec![b'2'; MAX_LINE + 10];
        assert!(
            read_reply(&mut LineReader::new(), &mut &long[..])
                .await
                .is_err()
        );
        let many = b"250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert!(
            read_reply(&mut LineReader::new(), &mut &many[..])
                .await
                .is_err()
        );
        let cut: &[u8] = b"250 no line end";
        assert!(
            read_reply(&mut LineReader::new(), &mut &cut[..])
                .await
                .is_err()
        );
    }
}
