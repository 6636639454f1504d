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

/// Why a connection or transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the server")]
    Timeout,
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
    timeout: Duration,
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

    /// Reads one (possibly multi-line) reply.
    pub async fn read_reply(&mut self) -> Result<Response<String>, ClientError> {
        let mut parser = ReplyParser::default();
        let mut chunk = [0u8; 4096];
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
            let n = tokio::time::timeout(self.timeout, read)
                .await
                .map_err(|_| ClientError::Timeout)??;
            if n == 0 {
                return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
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
    pub async fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        body: &[u8],
    ) -> Result<(Vec<Response<String>>, Option<Response<String>>), ClientError> {
        let mut mail = format!("MAIL FROM:<{from}>");
        if self.caps.size.is_some() {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.caps.eight_bit_mime && body.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        let utf8 = !from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
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
        let done = self.read_reply().await?;
        Ok((rcpt_replies, Some(done)))
    }

    async fn rset(&mut self) {
        let _ = self.command("RSET").await;
    }

    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
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

/// The body on the wire: leading dots doubled, CRLF-terminated, then `.`.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !body.is_empty() && !body.ends_with(b"\r\n") {
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
