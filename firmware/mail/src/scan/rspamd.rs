//! rspamd's HTTP protocol (`POST /checkv2`): a sans-I/O core that writes
//! the request and reads the reply, and a small tokio transport.
//!
//! The request is one HTTP/1.1 POST with the envelope in headers (`IP`,
//! `Helo`, `From`, one `Rcpt` per recipient, `Queue-Id`, `User`,
//! `Hostname`) and the message as the body; the reply is JSON (`action`,
//! `score`, `required_score`, `symbols`).
//!
//! Why not hyper: the exchange is one request per connection with
//! `Connection: close`, a known body length, and a reply rspamd always
//! sends with `Content-Length`. The whole HTTP needed is a request head and
//! a status line, headers and a bounded body, all of which the core below
//! parses in a few dozen lines that the fuzzer reaches directly; hyper's
//! client would add a connection pool, an executor and a body type to wire
//! for nothing it would do here.
//!
//! Exposure: the engine is trusted configuration, but its reply is still
//! bounded ([`MAX_REPLY_BYTES`]) and parsed without panics: a broken or
//! hostile engine makes a scan fail, never the work queue.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest reply read: rspamd's JSON for a message with a few hundred
/// symbols is some tens of kilobytes; 1 MiB leaves room for verbose
/// symbol options without letting an engine fill the memory.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// The engine name `mail_logs` lines carry (AsyncOS writes `CASE`).
pub const ENGINE: &str = "rspamd";

/// What the gateway tells rspamd about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    pub client_ip: IpAddr,
    pub helo: String,
    pub mail_from: String,
    pub rcpts: Vec<String>,
    /// The MID.
    pub queue_id: String,
    /// The SMTP AUTH user, when the client authenticated.
    pub user: Option<String>,
    /// The client's verified reverse DNS name.
    pub hostname: Option<String>,
}

impl CheckRequest {
    /// The request head for a body of `body_len` bytes, sent to
    /// `host` (the `Host` header). Values with line breaks are dropped
    /// rather than allowed to split the head.
    pub fn head(&self, host: &str, body_len: usize) -> Vec<u8> {
        let mut h = String::with_capacity(256);
        h.push_str("POST /checkv2 HTTP/1.1\r\n");
        let mut field = |name: &str, value: &str| {
            if !value.contains(['\r', '\n']) {
                h.push_str(name);
                h.push_str(": ");
                h.push_str(value);
                h.push_str("\r\n");
            }
        };
        field("Host", host);
        field("Connection", "close");
        field("Content-Length", &body_len.to_string());
        field("IP", &self.client_ip.to_string());
        if !self.helo.is_empty() {
            field("Helo", &self.helo);
        }
        // rspamd reads an empty `From` as the null sender.
        field("From", &format!("<{}>", self.mail_from));
        for r in &self.rcpts {
            field("Rcpt", &format!("<{r}>"));
        }
        field("Queue-Id", &self.queue_id);
        if let Some(u) = &self.user {
            field("User", u);
        }
        if let Some(n) = &self.hostname {
            field("Hostname", n);
        }
        h.push_str("\r\n");
        h.into_bytes()
    }
}

/// rspamd's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckReply {
    /// `no action`, `greylist`, `add header`, `rewrite subject`,
    /// `soft reject` or `reject`.
    pub action: String,
    #[serde(default)]
    pub score: f64,
    #[serde(default)]
    pub required_score: f64,
    #[serde(default)]
    pub symbols: BTreeMap<String, Symbol>,
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Symbol {
    #[serde(default)]
    pub score: f64,
}

impl CheckReply {
    /// Symbol names, highest score first (for log lines and headers),
    /// at most `n`.
    pub fn top_symbols(&self, n: usize) -> Vec<&str> {
        let mut v: Vec<(&str, f64)> = self
            .symbols
            .iter()
            .map(|(k, s)| (k.as_str(), s.score))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(n).map(|(k, _)| k).collect()
    }
}

/// Why a scan gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RspamdError {
    #[error("cannot connect to {0}")]
    Connect(String),
    #[error("no answer within {0} seconds")]
    Timeout(u32),
    #[error("connection failed: {0}")]
    Io(String),
    #[error("the reply is longer than {MAX_REPLY_BYTES} bytes")]
    TooLong,
    #[error("malformed HTTP reply: {0}")]
    Http(&'static str),
    #[error("rspamd answered HTTP {0}")]
    Status(u16),
    #[error("malformed JSON reply: {0}")]
    Json(String),
    #[error("the reply ended early")]
    Truncated,
}

/// Reads a whole reply: `Ok(None)` while more bytes are needed, the
/// verdict or the reason there is none. `eof` says the peer closed (a
/// reply without `Content-Length` ends there).
pub fn parse_reply(buf: &[u8], eof: bool) -> Result<Option<CheckReply>, RspamdError> {
    if buf.len() > MAX_REPLY_BYTES {
        return Err(RspamdError::TooLong);
    }
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err(RspamdError::Truncated)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| RspamdError::Http("head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(RspamdError::Http("status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(RspamdError::Http("status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(RspamdError::Http("status code"))?;
    let mut length: Option<usize> = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(RspamdError::Http("header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| RspamdError::Http("Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && !value.eq_ignore_ascii_case("identity")
        {
            // rspamd sends a length; a chunked reply is not one it writes.
            return Err(RspamdError::Http("Transfer-Encoding"));
        }
    }
    let body = &buf[end + 4..];
    let body = match length {
        Some(n) if n > MAX_REPLY_BYTES => return Err(RspamdError::TooLong),
        Some(n) if body.len() >= n => &body[..n],
        Some(_) if eof => return Err(RspamdError::Truncated),
        Some(_) => return Ok(None),
        None if eof => body,
        None => return Ok(None),
    };
    if status != 200 {
        return Err(RspamdError::Status(status));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| RspamdError::Json(e.to_string()))
}

/// Where the engine listens and how long a scan may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
}

impl Engine {
    /// Scans `body`: connect, send, read the reply, all within the timeout.
    pub async fn check(
        &self,
        request: &CheckRequest,
        body: &[u8],
    ) -> Result<CheckReply, RspamdError> {
        let secs = u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX);
        tokio::time::timeout(self.timeout, self.exchange(request, body))
            .await
            .unwrap_or(Err(RspamdError::Timeout(secs)))
    }

    async fn exchange(
        &self,
        request: &CheckRequest,
        body: &[u8],
    ) -> Result<CheckReply, RspamdError> {
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| RspamdError::Connect(format!("{}:{}: {e}", self.host, self.port)))?;
        let io = |e: std::io::Error| RspamdError::Io(e.to_string());
        let head = request.head(&format!("{}:{}", self.host, self.port), body.len());
        stream.write_all(&head).await.map_err(io)?;
        stream.write_all(body).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut buf = Vec::with_capacity(8192);
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await.map_err(io)?;
            buf.extend_from_slice(&chunk[..n]);
            if let Some(reply) = parse_reply(&buf, n == 0)? {
                return Ok(reply);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CheckRequest {
        CheckRequest {
            client_ip: "127.0.0.9".parse().unwrap(),
            helo: "client.example".into(),
            mail_from: "a@example.org".into(),
            rcpts: vec!["b@example.com".into(), "c@example.com".into()],
            queue_id: "42".into(),
            user: Some("alice".into()),
            hostname: None,
        }
    }

    #[test]
    fn the_head_carries_the_envelope_one_rcpt_header_each() {
        let head = String::from_utf8(request().head("127.0.0.1:11333", 12)).unwrap();
        assert!(head.starts_with("POST /checkv2 HTTP/1.1\r\n"));
        for line in [
            "Content-Length: 12",
            "IP: 127.0.0.9",
            "Helo: client.example",
            "From: <a@example.org>",
            "Rcpt: <b@example.com>",
            "Rcpt: <c@example.com>",
            "Queue-Id: 42",
            "User: alice",
        ] {
            assert!(head.contains(&format!("{line}\r\n")), "{line} in {head}");
        }
        assert!(!head.contains("Hostname"));
        assert!(head.ends_with("\r\n\r\n"));
        let mut r = request();
        r.helo = "evil\r\nX: y".into();
        let head = String::from_utf8(r.head("h", 0)).unwrap();
        assert!(!head.contains("X: y"));
    }

    const JSON: &str = r#"{"is_skipped":false,"score":1005.5,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0},"BW_MARKER":{"name":"BW_MARKER","score":10.0}},"messages":{}}"#;

    fn reply(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn a_reply_parses_once_whole_and_not_before() {
        let bytes = reply(JSON);
        for cut in [0, 10, bytes.len() - 1] {
            assert_eq!(parse_reply(&bytes[..cut], false), Ok(None), "cut {cut}");
        }
        let r = parse_reply(&bytes, false).unwrap().unwrap();
        assert_eq!(r.action, "reject");
        assert_eq!(r.score, 1005.5);
        assert_eq!(r.required_score, 15.0);
        assert_eq!(r.top_symbols(1), ["BW_MARKER"]);
        assert_eq!(
            parse_reply(&bytes[..bytes.len() - 1], true),
            Err(RspamdError::Truncated)
        );
    }

    #[test]
    fn errors_statuses_and_oversized_replies_are_refused() {
        let err = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_reply(err, false), Err(RspamdError::Status(500)));
        assert!(matches!(
            parse_reply(&reply("{\"score\":1}"), false),
            Err(RspamdError::Json(_))
        ));
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_REPLY_BYTES + 1
        );
        assert_eq!(
            parse_reply(big.as_bytes(), false),
            Err(RspamdError::TooLong)
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            parse_reply(chunked, false),
            Err(RspamdError::Http(_))
        ));
        assert!(matches!(
            parse_reply(b"SMTP 220\r\n\r\n", false),
            Err(RspamdError::Http(_))
        ));
        let no_length = format!("HTTP/1.0 200 OK\r\n\r\n{JSON}");
        assert_eq!(parse_reply(no_length.as_bytes(), false), Ok(None));
        assert!(parse_reply(no_length.as_bytes(), true).unwrap().is_some());
    }

    #[tokio::test]
    async fn a_dead_engine_is_a_connect_error() {
        // A port nothing listens on: bind one, then drop it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let engine = Engine {
            host: "127.0.0.1".into(),
            port,
            timeout: Duration::from_secs(5),
        };
        let e = engine.check(&request(), b"Subject: x\r\n\r\nx\r\n").await;
        assert!(matches!(e, Err(RspamdError::Connect(_))), "{e:?}");
    }
}
