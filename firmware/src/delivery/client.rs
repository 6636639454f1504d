//! The SMTP client that carries messages to the next hop: greeting, EHLO,
//! STARTTLS when offered, then any number of transactions on the same
//! connection (pipelined when the server offers PIPELINING).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{Error as ProtoError, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The most one reply may take, all lines together: an EHLO reply with
/// every extension is under 1 KiB; RFC 5321 §4.5.3.1.5 allows 512 octets
/// a line.
const MAX_REPLY: usize = 64 * 1024;
use crate::address::{AddressError, Mailbox, ReversePath};

/// Why a connection or transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the server")]
    Timeout,
    /// No complete reply within the reply deadline (seconds).
    #[error("timed out: no complete reply from the server within {0}s")]
    ReplyTimeout(u64),
    /// The whole transaction took longer than allowed (seconds).
    #[error("timed out: the transaction did not finish within {0}s")]
    TransactionTimeout(u32),
    #[error("invalid response from server: {0}")]
    Protocol(String),
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server answered with an error reply where we could not go on.
    #[error("{0}")]
    Reply(String),
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Detached,
}

/// What the server's EHLO reply offered.
#[derive(Debug, Default, Clone)]
pub struct Capabilities {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub size: Option<u64>,
}

pub struct SmtpClient {
    stream: Stream,
    inbuf: Vec<u8>,
    /// For each write and each reply but the one to the end of data.
    timeout: Duration,
    /// For the reply to the end of data (the server may scan the message).
    data_timeout: Duration,
    pub caps: Capabilities,
    pub tls: Option<(String, String)>,
}

/// A reply as `"250 2.0.0 text"`.
pub fn reply_text(r: &Response<String>) -> String {
    let text = r.message.replace(['\r', '\n'], " ");
    if r.esc[0] != 0 {
        format!("{} {}.{}.{} {}", r.code, r.esc[0], r.esc[1], r.esc[2], text)
    } else {
        format!("{} {}", r.code, text)
    }
}

/// The sans-I/O half of [`SmtpClient::read_reply`]: the next hop's bytes
/// in, whole (possibly multi-line) replies out. smtp-proto bounds a reply
/// at 4 KiB, so a hostile server cannot make it grow; the fuzzer
/// (`fuzz/fuzz_targets/delivery_reply.rs`) drives exactly this.
#[derive(Default)]
pub struct ReplyParser {
    rx: ResponseReceiver,
}

impl ReplyParser {
    /// Parses from the start of `buf`: the bytes used and the reply, or
    /// `None` when `buf` ends inside one (what was read of it is kept
    /// here: feed what follows next).
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Response<String>>), ClientError> {
        let mut iter = buf.iter();
        let result = self.rx.parse(&mut iter);
        let used = buf.len() - iter.len();
        match result {
            Ok(reply) => {
                self.rx = ResponseReceiver::default();
                Ok((used, Some(reply)))
            }
            Err(ProtoError::NeedsMoreData { .. }) => Ok((used, None)),
            Err(e) => Err(ClientError::Protocol(format!("{e:?}"))),
        }
    }
}

impl SmtpClient {
    /// Connects from `local` to `remote` and reads the greeting.
    pub async fn connect(
        local: Option<IpAddr>,
        remote: SocketAddr,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<(Self, Response<String>), ClientError> {
        let socket = match remote {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(ip) = local.filter(|ip| ip.is_ipv4() == remote.is_ipv4()) {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = tokio::time::timeout(connect_timeout, socket.connect(remote))
            .await
            .map_err(|_| ClientError::Timeout)??;
        let _ = tcp.set_nodelay(true);
        let mut client = SmtpClient {
            stream: Stream::Plain(tcp),
            inbuf: Vec::with_capacity(4096),
            timeout,
            data_timeout: timeout,
            caps: Capabilities::default(),
            tls: None,
        };
        let greeting = client.read_reply().await?;
        Ok((client, greeting))
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.stream {
            Stream::Plain(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.get_ref().0.local_addr().ok(),
            Stream::Detached => None,
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let fut = async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(data).await,
                Stream::Tls(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Stream::Detached => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout)??;
        Ok(())
    }

    /// How long the reply to the end of data may take (Postfix's
    /// `smtp_data_done_timeout`); the command timeout until set.
    pub fn set_data_timeout(&mut self, timeout: Duration) {
        self.data_timeout = timeout;
    }

    /// Reads one (possibly multi-line) reply within the command timeout.
    pub async fn read_reply(&mut self) -> Result<Response<String>, ClientError> {
        self.read_reply_within(self.timeout).await
    }

    /// Reads one (possibly multi-line) reply. `limit` bounds the whole
    /// reply, not each read: a server trickling a byte at a time cannot
    /// hold the connection longer, and the reply's size is capped.
    async fn read_reply_within(
        &mut self,
        limit: Duration,
    ) -> Result<Response<String>, ClientError> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut parser = ReplyParser::default();
        let mut chunk = [0u8; 4096];
        let mut received = 0usize;
        loop {
            let (used, reply) = parser.feed(&self.inbuf)?;
            self.inbuf.drain(..used);
            if let Some(r) = reply {
                return Ok(r);
            }
            let read = async {
                match &mut self.stream {
                    Stream::Plain(s) => s.read(&mut chunk).await,
                    Stream::Tls(s) => s.read(&mut chunk).await,
                    Stream::Detached => Ok(0),
                }
            };
            let n = tokio::time::timeout_at(deadline, read)
                .await
                .map_err(|_| ClientError::ReplyTimeout(limit.as_secs()))??;
            if n == 0 {
                return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            received += n;
            if received > MAX_REPLY {
                return Err(ClientError::Protocol(format!(
                    "reply longer than {MAX_REPLY} bytes"
                )));
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn command(&mut self, line: &str) -> Result<Response<String>, ClientError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.read_reply().await
    }

    /// EHLO (HELO if EHLO is refused).
    pub async fn hello(&mut self, hostname: &str) -> Result<(), ClientError> {
        self.ehlo(hostname).await
    }

    /// STARTTLS and the handshake, then EHLO again. `Ok(false)` when the
    /// server does not offer STARTTLS or refuses it (the connection is still
    /// usable in plain text); a failed handshake is `Err(Tls)` and leaves
    /// the connection unusable.
    pub async fn starttls(
        &mut self,
        hostname: &str,
        connector: &TlsConnector,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> Result<bool, ClientError> {
        if !self.caps.starttls {
            return Ok(false);
        }
        let r = self.command("STARTTLS").await?;
        if r.code != 220 {
            return Ok(false);
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Detached) else {
            return Err(ClientError::Tls("STARTTLS on a TLS connection".into()));
        };
        let tls_stream = tokio::time::timeout(self.timeout, connector.connect(server_name, tcp))
            .await
            .map_err(|_| ClientError::Tls("handshake timed out".into()))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        self.tls = Some(crate::tls_names::describe(tls_stream.get_ref().1));
        self.stream = Stream::Tls(Box::new(tls_stream));
        self.inbuf.clear();
        self.ehlo(hostname).await?;
        Ok(true)
    }

    async fn ehlo(&mut self, hostname: &str) -> Result<(), ClientError> {
        let r = self.command(&format!("EHLO {hostname}")).await?;
        if r.code == 250 {
            self.caps = parse_capabilities(&r.message);
            return Ok(());
        }
        let r = self.command(&format!("HELO {hostname}")).await?;
        if r.code != 250 {
            return Err(ClientError::Reply(reply_text(&r)));
        }
        self.caps = Capabilities::default();
        Ok(())
    }

    /// One transaction. Returns the reply to each RCPT (in order) and, when
    /// at least one recipient was accepted, the reply to the end of data.
    ///
    /// Defence in depth: every address is parsed again (`crate::address`)
    /// and written in its canonical form. One that does not parse (a queue
    /// entry from before reception checked addresses, or a UTF-8 address
    /// the next hop cannot take without SMTPUTF8) is never written: it gets
    /// a local 553 reply, a permanent failure of that recipient; a bad
    /// sender fails them all.
    pub async fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        body: &[u8],
    ) -> Result<(Vec<Response<String>>, Option<Response<String>>), ClientError> {
        let envelope = Envelope::check(from, recipients, self.caps.smtputf8);
        let sender = match envelope.sender {
            Ok(sender) => sender,
            Err(refusal) => {
                return Ok((recipients.iter().map(|_| refusal.clone()).collect(), None));
            }
        };
        let sendable: Vec<&Mailbox> = envelope
            .recipients
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        let (replies, data_reply) = if sendable.is_empty() {
            (Vec::new(), None)
        } else {
            self.transaction(&sender, &sendable, body).await?
        };
        // `transaction` answers every recipient it was given, in order.
        let mut replies = replies.into_iter();
        let merged = envelope
            .recipients
            .into_iter()
            .map(|r| match r {
                Ok(_) => replies.next().unwrap_or_else(|| {
                    Response::new(451, 4, 4, 0, "No reply to RCPT recorded".to_string())
                }),
                Err(refusal) => refusal,
            })
            .collect();
        Ok((merged, data_reply))
    }

    /// The wire part of `send`, for addresses already checked.
    async fn transaction(
        &mut self,
        from: &ReversePath,
        recipients: &[&Mailbox],
        body: &[u8],
    ) -> Result<(Vec<Response<String>>, Option<Response<String>>), ClientError> {
        let mut mail = format!("MAIL FROM:<{from}>");
        if self.caps.size.is_some() {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.caps.eight_bit_mime && body.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 =
            from.mailbox().is_some_and(Mailbox::is_utf8) || recipients.iter().any(|r| r.is_utf8());
        if utf8 && self.caps.smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        let rcpt_lines: Vec<String> = recipients
            .iter()
            .map(|r| format!("RCPT TO:<{r}>"))
            .collect();
        let (mail_reply, rcpt_replies) = if self.caps.pipelining {
            let mut batch = format!("{mail}\r\n");
            for l in &rcpt_lines {
                batch.push_str(l);
                batch.push_str("\r\n");
            }
            self.write(batch.as_bytes()).await?;
            let m = self.read_reply().await?;
            let mut rs = Vec::new();
            for _ in &rcpt_lines {
                rs.push(self.read_reply().await?);
            }
            (m, rs)
        } else {
            let m = self.command(&mail).await?;
            let mut rs = Vec::new();
            if m.code == 250 {
                for l in &rcpt_lines {
                    rs.push(self.command(l).await?);
                }
            }
            (m, rs)
        };
        if mail_reply.code != 250 {
            self.rset().await;
            let rs = recipients.iter().map(|_| mail_reply.clone()).collect();
            return Ok((rs, None));
        }
        if !rcpt_replies.iter().any(|r| r.code / 100 == 2) {
            self.rset().await;
            return Ok((rcpt_replies, None));
        }
        let go = self.command("DATA").await?;
        if go.code != 354 {
            self.rset().await;
            return Ok((rcpt_replies, Some(go)));
        }
        self.write(&dot_stuff(body)).await?;
        let done = self.read_reply_within(self.data_timeout).await?;
        Ok((rcpt_replies, Some(done)))
    }

    async fn rset(&mut self) {
        let _ = self.command("RSET").await;
    }

    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}

/// The addresses of one transaction, each parsed again before anything is
/// written; a refused one carries the reply that stands for its RCPT.
struct Envelope {
    sender: Result<ReversePath, Response<String>>,
    recipients: Vec<Result<Mailbox, Response<String>>>,
}

impl Envelope {
    fn check(from: &str, recipients: &[&str], smtputf8: bool) -> Self {
        let refusal = |e: AddressError, what: &str, esc: u8| {
            if e.needs_smtputf8() {
                Response::new(
                    553,
                    5,
                    6,
                    7,
                    format!(
                        "{what} address needs SMTPUTF8, which the next hop does not offer; not sent"
                    ),
                )
            } else {
                Response::new(
                    553,
                    5,
                    1,
                    esc,
                    format!("Invalid {what} address, not sent: {e}"),
                )
            }
        };
        Envelope {
            sender: ReversePath::parse_stored(from, smtputf8).map_err(|e| refusal(e, "sender", 7)),
            recipients: recipients
                .iter()
                .map(|r| Mailbox::parse(r, smtputf8).map_err(|e| refusal(e, "recipient", 3)))
                .collect(),
        }
    }
}

fn parse_capabilities(message: &str) -> Capabilities {
    let mut caps = Capabilities::default();
    for line in message.lines().skip(1) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "PIPELINING" => caps.pipelining = true,
            "STARTTLS" => caps.starttls = true,
            "8BITMIME" => caps.eight_bit_mime = true,
            "SMTPUTF8" => caps.smtputf8 = true,
            "SIZE" => caps.size = Some(words.next().and_then(|s| s.parse().ok()).unwrap_or(0)),
            _ => {}
        }
    }
    caps
}

/// The body on the wire: canonical lines (every bare CR and bare LF made a
/// CRLF, so the next hop cannot find an end of data or a line that we did
/// not), leading dots doubled, CRLF-terminated, then `.`.
///
/// Reception already stores canonical text; this holds the rule for bodies
/// from anywhere else too (a filter's rewrite, a DSN, an old queue).
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut line_start = true;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        match b {
            b'\r' => {
                // CR LF, or a bare CR: either way one line ending.
                if body.get(i) == Some(&b'\n') {
                    i += 1;
                }
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => {
                if line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                line_start = false;
            }
        }
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(
            dot_stuff(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
    }

    /// A next hop that offers PIPELINING and records every line it reads.
    async fn recording_server() -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"220 hop ESMTP\r\n").await.unwrap();
            let mut seen = String::new();
            let mut buf = [0u8; 4096];
            let mut pending = String::new();
            let mut in_data = false;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return seen;
                }
                pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                while let Some(i) = pending.find("\r\n") {
                    let line: String = pending.drain(..i + 2).collect();
                    seen.push_str(&line);
                    let reply: &[u8] = if in_data {
                        if line != ".\r\n" {
                            continue;
                        }
                        in_data = false;
                        b"250 2.0.0 queued\r\n"
                    } else if line.starts_with("EHLO") {
                        b"250-hop\r\n250 PIPELINING\r\n"
                    } else if line.starts_with("DATA") {
                        in_data = true;
                        b"354 go\r\n"
                    } else if line.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 2.0.0 ok\r\n"
                    };
                    s.write_all(reply).await.unwrap();
                }
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn an_address_that_does_not_parse_is_never_written() {
        let (addr, server) = recording_server().await;
        let t = Duration::from_secs(30);
        let (mut c, _) = SmtpClient::connect(None, addr, t, t).await.unwrap();
        c.hello("gw.test").await.unwrap();
        // As a queue entry from before reception checked addresses held it.
        let smuggled = "victim@external.example> ORCPT=rfc822;x@example.com";
        let (rcpts, data) = c
            .send(
                "a@b.org",
                &[smuggled, "\"x> y\"@example.com", "jos\u{e9}@example.com"],
                b"Subject: t\r\n\r\nhi\r\n",
            )
            .await
            .unwrap();
        c.quit().await;
        let seen = server.await.unwrap();
        assert_eq!(rcpts[0].code, 553);
        assert!(
            reply_text(&rcpts[0]).starts_with("553 5.1.3 Invalid recipient address, not sent:"),
            "{rcpts:?}"
        );
        assert_eq!(rcpts[1].code, 250);
        assert_eq!(
            reply_text(&rcpts[2]),
            "553 5.6.7 recipient address needs SMTPUTF8, which the next hop does not offer; not sent"
        );
        assert_eq!(data.map(|d| d.code), Some(250));
        assert!(
            seen.contains("RCPT TO:<\"x> y\"@example.com>\r\n"),
            "{seen}"
        );
        assert!(!seen.contains("victim"), "{seen}");
        assert!(!seen.contains("jos"), "{seen}");
    }

    #[tokio::test]
    async fn a_bad_sender_fails_every_recipient_and_writes_no_transaction() {
        let (addr, server) = recording_server().await;
        let t = Duration::from_secs(30);
        let (mut c, _) = SmtpClient::connect(None, addr, t, t).await.unwrap();
        c.hello("gw.test").await.unwrap();
        let (rcpts, data) = c
            .send("a\u{1b}@b.org", &["x@example.com"], b"hi\r\n")
            .await
            .unwrap();
        c.quit().await;
        let seen = server.await.unwrap();
        assert_eq!(
            reply_text(&rcpts[0]),
            "553 5.1.7 Invalid sender address, not sent: control character U+001B not allowed"
        );
        assert!(data.is_none());
        assert_eq!(seen, "EHLO gw.test\r\nQUIT\r\n");
    }

    /// A server that trickles its greeting a byte at a time, each byte well
    /// within the timeout, never finishes it: the deadline is per reply.
    #[tokio::test]
    async fn a_reply_trickled_a_byte_at_a_time_hits_the_reply_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            for b in b"220-".iter().chain(std::iter::repeat(&b'x')) {
                if s.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let second = Duration::from_secs(1);
        let result = SmtpClient::connect(None, addr, second, second).await;
        assert!(
            matches!(result, Err(ClientError::ReplyTimeout(1))),
            "{:?}",
            result.map(|(_, r)| r)
        );
        server.abort();
    }

    #[test]
    fn dot_stuffing_works_on_canonical_lines() {
        // A bare LF or CR is a line ending on the way out: the dot after it
        // is doubled and no bare CR reaches the next hop.
        assert_eq!(dot_stuff(b"a\n.\r\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r.\rb\r\n"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        let out = dot_stuff(b"x\r\n.\r\nMAIL FROM:<a@b>\r\n");
        assert_eq!(out.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 1);
    }

    #[test]
    fn capabilities_are_read_from_the_ehlo_reply() {
        let c = parse_capabilities("mx.example\nPIPELINING\nSIZE 1000\nSTARTTLS\n8BITMIME");
        assert!(c.pipelining && c.starttls && c.eight_bit_mime && !c.smtputf8);
        assert_eq!(c.size, Some(1000));
    }

    /// Every reply in `bytes`, fed `chunk` bytes at a time.
    fn replies(bytes: &[u8], chunk: usize) -> Vec<String> {
        let mut parser = ReplyParser::default();
        let mut inbuf = Vec::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk) {
            inbuf.extend_from_slice(piece);
            loop {
                let (used, reply) = parser.feed(&inbuf).unwrap();
                inbuf.drain(..used);
                match reply {
                    Some(r) => out.push(reply_text(&r)),
                    None => break,
                }
            }
        }
        out
    }

    #[test]
    fn replies_read_the_same_however_the_bytes_arrive() {
        let bytes =
            b"220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n\
                      550 5.1.1 no such user\r\n";
        let whole = replies(bytes, bytes.len());
        assert_eq!(
            whole,
            [
                "220 mx.example ESMTP",
                "250 mx.example PIPELINING SIZE 1000",
                "550 5.1.1 no such user"
            ]
        );
        for chunk in 1..8 {
            assert_eq!(replies(bytes, chunk), whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_reply_that_is_not_smtp_is_a_protocol_error() {
        let mut parser = ReplyParser::default();
        assert!(matches!(
            parser.feed(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(ClientError::Protocol(_))
        ));
    }
}
