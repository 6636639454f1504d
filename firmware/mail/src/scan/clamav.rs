//! A ClamAV (clamd) client: the `zINSTREAM` command.
//!
//! The protocol core is sans-I/O: [`instream_frames`] writes the request
//! (`zINSTREAM\0`, then the message in chunks each preceded by its length
//! as a 4-byte big-endian integer, then a zero length), and [`ReplyReader`]
//! takes clamd's answer byte by byte up to its NUL terminator (the `z`
//! prefix asks for NUL-terminated replies), never holding more than
//! [`MAX_REPLY`] bytes, and parses it into a [`Verdict`]. [`scan`] is the
//! thin tokio driver over TCP or a unix socket, bounded by one timeout for
//! the whole exchange.
//!
//! Exposure: clamd is a local engine the administrator names
//! (`antivirusconfig`); its replies are still bounded and parsed without
//! panics (fuzz target `clamav_reply`), since a message's content decides
//! part of what it says (the signature name).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The request's command word.
pub const INSTREAM: &[u8] = b"zINSTREAM\0";
/// Bytes per chunk: clamd reads the stream in chunks of any size up to
/// `StreamMaxLength`; 64 KiB keeps one chunk per few socket writes.
pub const CHUNK: usize = 64 * 1024;
/// Longest reply accepted: a reply is `stream: <signature> FOUND`;
/// signature names are well under 200 bytes.
pub const MAX_REPLY: usize = 1024;

/// What clamd said about a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `stream: OK`.
    Clean,
    /// `stream: <signature> FOUND`.
    Infected(String),
    /// `stream: Heuristics.Encrypted.* FOUND` (clamd's `AlertEncrypted`):
    /// the content could not be scanned because it is encrypted.
    Encrypted(String),
    /// clamd could not scan it: `... ERROR`, or `INSTREAM size limit
    /// exceeded`.
    Unscannable(String),
}

/// A reply that is not clamd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply longer than {MAX_REPLY} bytes")]
    TooLong,
    #[error("reply ended before its terminator")]
    Truncated,
    #[error("unexpected reply '{0}'")]
    Unexpected(String),
}

/// Why a scan gave no verdict: the engine is down or misbehaving.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot connect to the anti-virus engine: {0}")]
    Connect(std::io::Error),
    #[error("anti-virus engine I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("anti-virus engine timed out after {0} seconds")]
    Timeout(u64),
    #[error("anti-virus engine: {0}")]
    Reply(#[from] ReplyError),
}

/// The request for `body`, as the slices to write in order.
pub fn instream_frames(body: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    std::iter::once(INSTREAM.to_vec())
        .chain(body.chunks(CHUNK).map(|c| {
            let mut frame = Vec::with_capacity(4 + c.len());
            // Chunks are at most CHUNK (64 KiB) long: the length fits.
            frame.extend_from_slice(&(c.len() as u32).to_be_bytes());
            frame.extend_from_slice(c);
            frame
        }))
        .chain(std::iter::once(0u32.to_be_bytes().to_vec()))
}

/// Collects a NUL-terminated reply, bounded.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
}

impl ReplyReader {
    /// Feeds bytes read; `Some` once the reply is complete (bytes after
    /// the terminator are ignored: clamd closes the connection).
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Result<Verdict, ReplyError>> {
        for &b in bytes {
            if b == 0 {
                return Some(parse_reply(&self.buf));
            }
            if self.buf.len() >= MAX_REPLY {
                return Some(Err(ReplyError::TooLong));
            }
            self.buf.push(b);
        }
        None
    }

    /// The connection closed: a reply without its NUL is still accepted
    /// when it is a whole line (clamd without the `z` prefix ends with a
    /// newline).
    pub fn finish(self) -> Result<Verdict, ReplyError> {
        if self.buf.ends_with(b"\n") {
            parse_reply(&self.buf)
        } else {
            Err(ReplyError::Truncated)
        }
    }
}

/// Parses one reply (without its terminator).
pub fn parse_reply(reply: &[u8]) -> Result<Verdict, ReplyError> {
    if reply.len() > MAX_REPLY {
        return Err(ReplyError::TooLong);
    }
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\n', '\r']).trim();
    // Signature names are ASCII: anything else (a replacement character
    // for bytes that were not UTF-8 takes three bytes) becomes `?`, so a
    // name is never longer than the reply it came from.
    let printable = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .map(|c| if c.is_ascii() { c } else { '?' })
            .collect()
    };
    if text == "INSTREAM size limit exceeded"
        || text.ends_with("INSTREAM size limit exceeded. ERROR")
    {
        return Ok(Verdict::Unscannable(
            "INSTREAM size limit exceeded".to_string(),
        ));
    }
    // Replies name the stream: `stream: ...` (clamd may number them
    // `1: stream: ...` in an IDSESSION; accept the prefix).
    let rest = match text.find("stream: ") {
        Some(i) => &text[i + "stream: ".len()..],
        None if text.ends_with(" ERROR") => {
            return Ok(Verdict::Unscannable(printable(
                text.trim_end_matches(" ERROR"),
            )));
        }
        None => return Err(ReplyError::Unexpected(printable(text))),
    };
    if rest == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(name) = rest.strip_suffix(" FOUND") {
        let name = printable(name.trim());
        if name.is_empty() {
            return Err(ReplyError::Unexpected(printable(text)));
        }
        if name.starts_with("Heuristics.Encrypted") {
            return Ok(Verdict::Encrypted(name));
        }
        return Ok(Verdict::Infected(name));
    }
    if let Some(why) = rest.strip_suffix(" ERROR") {
        return Ok(Verdict::Unscannable(printable(why.trim())));
    }
    Err(ReplyError::Unexpected(printable(text)))
}

/// Where clamd listens: `host:port`, or a unix socket when `host` is a
/// path (starts with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub host: String,
    pub port: u16,
}

/// Scans `body` with clamd at `engine`, the whole exchange bounded by
/// `timeout`.
pub async fn scan(engine: &Engine, body: &[u8], timeout: Duration) -> Result<Verdict, ScanError> {
    match tokio::time::timeout(timeout, exchange(engine, body)).await {
        Ok(r) => r,
        Err(_) => Err(ScanError::Timeout(timeout.as_secs())),
    }
}

async fn exchange(engine: &Engine, body: &[u8]) -> Result<Verdict, ScanError> {
    if engine.host.starts_with('/') {
        let stream = tokio::net::UnixStream::connect(&engine.host)
            .await
            .map_err(ScanError::Connect)?;
        talk(stream, body).await
    } else {
        let host = engine.host.trim_matches(['[', ']']);
        let stream = tokio::net::TcpStream::connect((host, engine.port))
            .await
            .map_err(ScanError::Connect)?;
        talk(stream, body).await
    }
}

async fn talk<S>(mut stream: S, body: &[u8]) -> Result<Verdict, ScanError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut reader = ReplyReader::default();
    let mut buf = [0u8; 512];
    for frame in instream_frames(body) {
        if let Err(e) = stream.write_all(&frame).await {
            // clamd answers `INSTREAM size limit exceeded` and closes
            // while we still write: read what it said before failing.
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if let Some(v) = reader.feed(&buf[..n]) {
                return Ok(v?);
            }
            return Err(ScanError::Io(e));
        }
    }
    stream.flush().await?;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(reader.finish()?);
        }
        if let Some(v) = reader.feed(&buf[..n]) {
            return Ok(v?);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_chunked_with_big_endian_lengths_and_a_zero_end() {
        let body = vec![b'x'; CHUNK + 3];
        let frames: Vec<Vec<u8>> = instream_frames(&body).collect();
        assert_eq!(frames[0], b"zINSTREAM\0");
        assert_eq!(frames[1][..4], (CHUNK as u32).to_be_bytes());
        assert_eq!(frames[1].len(), CHUNK + 4);
        assert_eq!(frames[2], [0, 0, 0, 3, b'x', b'x', b'x']);
        assert_eq!(frames[3], [0, 0, 0, 0]);
        assert_eq!(frames.len(), 4);
        // An empty message is the command and the terminator.
        assert_eq!(instream_frames(b"").count(), 2);
    }

    #[test]
    fn replies_are_parsed() {
        let cases: &[(&[u8], Verdict)] = &[
            (b"stream: OK", Verdict::Clean),
            (
                b"stream: Eicar-Signature FOUND",
                Verdict::Infected("Eicar-Signature".into()),
            ),
            (
                b"1: stream: Win.Test.EICAR_HDB-1 FOUND",
                Verdict::Infected("Win.Test.EICAR_HDB-1".into()),
            ),
            (
                b"stream: Heuristics.Encrypted.Zip FOUND",
                Verdict::Encrypted("Heuristics.Encrypted.Zip".into()),
            ),
            (
                b"INSTREAM size limit exceeded. ERROR",
                Verdict::Unscannable("INSTREAM size limit exceeded".into()),
            ),
            (
                b"stream: Can't allocate memory ERROR",
                Verdict::Unscannable("Can't allocate memory".into()),
            ),
            (
                b"UNKNOWN COMMAND ERROR",
                Verdict::Unscannable("UNKNOWN COMMAND".into()),
            ),
        ];
        for (reply, want) in cases {
            assert_eq!(parse_reply(reply).as_ref(), Ok(want), "{reply:?}");
        }
        assert!(matches!(
            parse_reply(b"PONG"),
            Err(ReplyError::Unexpected(_))
        ));
        assert!(matches!(
            parse_reply(b"stream:  FOUND"),
            Err(ReplyError::Unexpected(_))
        ));
    }

    #[test]
    fn names_made_of_bytes_that_are_not_utf8_stay_within_the_reply() {
        // Found by the fuzzer: 600 bytes that are not UTF-8 became 1800
        // bytes of replacement characters in the unscannable reason.
        let mut reply = vec![0xCD; 600];
        reply.extend_from_slice(b" ERROR\n");
        let Ok(Verdict::Unscannable(why)) = parse_reply(&reply) else {
            panic!("not unscannable");
        };
        assert!(why.len() <= reply.len() && why.is_ascii(), "{why}");
        let mut found = b"stream: \xff\xfeBad.Name FOUND".to_vec();
        found.push(b'\n');
        assert_eq!(
            parse_reply(&found).ok(),
            Some(Verdict::Infected("??Bad.Name".to_string()))
        );
    }

    #[test]
    fn the_reader_waits_for_the_terminator_and_bounds_the_reply() {
        let mut r = ReplyReader::default();
        assert_eq!(r.feed(b"stream: O"), None);
        assert_eq!(r.feed(b"K\0trailing"), Some(Ok(Verdict::Clean)));
        let mut r = ReplyReader::default();
        assert_eq!(
            r.feed(&[b'a'; MAX_REPLY + 1]),
            Some(Err(ReplyError::TooLong))
        );
        let mut r = ReplyReader::default();
        r.feed(b"stream: OK");
        assert_eq!(r.finish(), Err(ReplyError::Truncated));
        let mut r = ReplyReader::default();
        r.feed(b"stream: OK\n");
        assert_eq!(r.finish(), Ok(Verdict::Clean));
    }

    /// A one-connection fake of clamd's side, to drive the transport: it
    /// reads the whole request and checks its framing.
    #[tokio::test]
    async fn the_transport_sends_the_stream_and_reads_the_verdict() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut cmd = [0u8; 10];
            s.read_exact(&mut cmd).await.unwrap();
            assert_eq!(&cmd, INSTREAM);
            let mut got = Vec::new();
            loop {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).await.unwrap();
                let n = u32::from_be_bytes(len) as usize;
                if n == 0 {
                    break;
                }
                let mut chunk = vec![0u8; n];
                s.read_exact(&mut chunk).await.unwrap();
                got.extend(chunk);
            }
            s.write_all(b"stream: Test.Sig FOUND\0").await.unwrap();
            got
        });
        let engine = Engine {
            host: "127.0.0.1".into(),
            port,
        };
        let body = b"Subject: x\r\n\r\nhello\r\n".repeat(5000);
        let v = scan(&engine, &body, Duration::from_secs(30)).await.unwrap();
        assert_eq!(v, Verdict::Infected("Test.Sig".into()));
        assert_eq!(server.await.unwrap(), body);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let engine = Engine {
            host: "127.0.0.1".into(),
            port,
        };
        let e = scan(&engine, b"x", Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(matches!(e, ScanError::Connect(_)), "{e}");
    }
}
