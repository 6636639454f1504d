//! The SMTP client that carries messages to the next hop: greeting, EHLO,
//! STARTTLS when offered, then any number of transactions on the same
//! connection (pipelined when the server offers PIPELINING).
//!
//! This is the tokio driver of [`ClientCore`] (the protocol, sans I/O): it
//! owns the socket, the TLS upgrade and the timers, and nothing else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smtp_proto::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub use super::client_core::{
    Capabilities, ClientCore, ClientError, Finished, MAX_REPLY, Next, ReplyParser, Timer,
    dot_stuff, reply_text,
};

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Detached,
}

pub struct SmtpClient {
    stream: Stream,
    core: ClientCore,
    /// For each write and each reply but the one to the end of data.
    timeout: Duration,
    /// For the reply to the end of data (the server may scan the message).
    data_timeout: Duration,
    pub tls: Option<(String, String)>,
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
            core: ClientCore::new(),
            timeout,
            data_timeout: timeout,
            tls: None,
        };
        match client.drive(None).await? {
            Finished::Greeting(greeting) => Ok((client, greeting)),
            other => Err(unexpected(&other)),
        }
    }

    /// What the server's last EHLO offered.
    pub fn caps(&self) -> &Capabilities {
        &self.core.caps
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.stream {
            Stream::Plain(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.get_ref().0.local_addr().ok(),
            Stream::Detached => None,
        }
    }

    /// How long the reply to the end of data may take (Postfix's
    /// `smtp_data_done_timeout`); the command timeout until set.
    pub fn set_data_timeout(&mut self, timeout: Duration) {
        self.data_timeout = timeout;
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

    /// One read within `deadline`; `limit` is what the deadline stands for.
    async fn read(
        &mut self,
        deadline: tokio::time::Instant,
        limit: Duration,
        chunk: &mut [u8],
    ) -> Result<usize, ClientError> {
        let read = async {
            match &mut self.stream {
                Stream::Plain(s) => s.read(chunk).await,
                Stream::Tls(s) => s.read(chunk).await,
                Stream::Detached => Ok(0),
            }
        };
        let n = tokio::time::timeout_at(deadline, read)
            .await
            .map_err(|_| ClientError::ReplyTimeout(limit.as_secs()))??;
        if n == 0 {
            return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(n)
    }

    /// Runs the core's current step to its end: writes what it asks,
    /// reads replies, each whole reply within its deadline (a server
    /// trickling a byte at a time cannot hold the connection longer), and
    /// upgrades to TLS with `tls` when the server agreed to STARTTLS.
    async fn drive(
        &mut self,
        tls: Option<(&str, &TlsConnector, rustls_pki_types::ServerName<'static>)>,
    ) -> Result<Finished, ClientError> {
        let mut tls = tls;
        // Replies are short (an EHLO reply is a few hundred bytes): a small
        // chunk keeps every delivery's future small, a long reply takes a
        // few reads.
        let mut chunk = [0u8; 1024];
        // The reply being awaited and its deadline.
        let mut deadline: Option<(u64, tokio::time::Instant, Duration)> = None;
        loop {
            match self.core.poll()? {
                Next::Done(finished) => return Ok(finished),
                Next::Write(bytes) => {
                    if let Err(e) = self.write(&bytes).await {
                        self.core.fail(e)?;
                    }
                }
                Next::Read { timer, reply } => {
                    let (until, limit) = match deadline {
                        Some((n, until, limit)) if n == reply => (until, limit),
                        _ => {
                            let limit = match timer {
                                Timer::Command => self.timeout,
                                Timer::DataDone => self.data_timeout,
                            };
                            let until = tokio::time::Instant::now() + limit;
                            deadline = Some((reply, until, limit));
                            (until, limit)
                        }
                    };
                    match self.read(until, limit, &mut chunk).await {
                        Ok(n) => self.core.feed(&chunk[..n])?,
                        Err(e) => self.core.fail(e)?,
                    }
                }
                Next::UpgradeTls => {
                    let Some((hostname, connector, server_name)) = tls.take() else {
                        return Err(ClientError::Tls("STARTTLS on a TLS connection".into()));
                    };
                    self.handshake(connector, server_name).await?;
                    self.core.tls_established(hostname);
                }
            }
        }
    }

    async fn handshake(
        &mut self,
        connector: &TlsConnector,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> Result<(), ClientError> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Detached) else {
            return Err(ClientError::Tls("STARTTLS on a TLS connection".into()));
        };
        let tls_stream = tokio::time::timeout(self.timeout, connector.connect(server_name, tcp))
            .await
            .map_err(|_| ClientError::Tls("handshake timed out".into()))?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        self.tls = Some(crate::tls_names::describe(tls_stream.get_ref().1));
        self.stream = Stream::Tls(Box::new(tls_stream));
        Ok(())
    }

    /// EHLO (HELO if EHLO is refused).
    pub async fn hello(&mut self, hostname: &str) -> Result<(), ClientError> {
        self.core.hello(hostname);
        match self.drive(None).await? {
            Finished::Hello => Ok(()),
            other => Err(unexpected(&other)),
        }
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
        self.core.starttls();
        match self.drive(Some((hostname, connector, server_name))).await? {
            Finished::StartTls(up) => Ok(up),
            other => Err(unexpected(&other)),
        }
    }

    /// One transaction. Returns the reply to each RCPT (in order) and, when
    /// at least one recipient was accepted, the reply to the end of data.
    /// See [`ClientCore::send`] for the addresses that are never written.
    pub async fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        body: Vec<u8>,
    ) -> Result<(Vec<Response<String>>, Option<Response<String>>), ClientError> {
        self.core.send(from, recipients, &body);
        // The core holds the dot-stuffed copy it sends: the original goes
        // now, not after the server's last reply (with hundreds of
        // deliveries in flight, one body each instead of two).
        drop(body);
        match self.drive(None).await? {
            Finished::Sent(rcpts, data) => Ok((rcpts, data)),
            other => Err(unexpected(&other)),
        }
    }

    /// Resolves when the server sends anything or closes the connection
    /// while no command is under way: an idle connection in the cache that
    /// can no longer carry a transaction (a `421` before closing, EOF, a
    /// reset). Bytes read are dropped with the connection. Cancel-safe:
    /// a TLS record read in part stays in the TLS layer's buffer.
    pub async fn closed_by_peer(&mut self) {
        let mut byte = [0u8; 1];
        let _ = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut byte).await,
            Stream::Tls(s) => s.read(&mut byte).await,
            Stream::Detached => Ok(0),
        };
    }

    pub async fn quit(mut self) {
        self.core.quit();
        let _ = self.drive(None).await;
    }
}

/// A step ended with another step's result: the core and its driver
/// disagree, which no server can cause.
fn unexpected(finished: &Finished) -> ClientError {
    ClientError::Protocol(format!("unexpected end of step: {finished:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                b"Subject: t\r\n\r\nhi\r\n".to_vec(),
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
            .send("a\u{1b}@b.org", &["x@example.com"], b"hi\r\n".to_vec())
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
}
