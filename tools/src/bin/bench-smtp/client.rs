//! The load side: SMTP client connections that send the run's messages
//! and stamp, per message, the end of DATA and the relay's 250.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use breakwater_tools::smtp_wire::{LineReader, Reply, message, read_reply};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::{Stream, Timings};

/// Limit on one reply (a relay answers DATA only after its fsync; under
/// a heavy load that can take seconds, never minutes).
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a message was not accepted.
pub enum SendError {
    /// A 5xx: retrying the same message would get the same answer.
    Permanent(String),
    /// A 4xx, a closed connection or a timeout: worth a new connection.
    Transient(String),
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Transient(e.to_string())
    }
}

/// One client connection after its greeting and EHLO.
pub struct Conn {
    io: Box<dyn Stream>,
    reader: LineReader,
    /// Messages sent on it so far.
    pub sent: u64,
}

async fn get(reader: &mut LineReader, io: &mut Box<dyn Stream>) -> io::Result<Reply> {
    timeout(REPLY_TIMEOUT, read_reply(reader, io))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply within 120 s"))?
}

fn classify(what: &str, r: &Reply) -> SendError {
    let text = format!("{what}: {r}");
    if r.code >= 500 {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

impl Conn {
    /// Connects, reads the banner, says EHLO and, with `tls`, STARTTLS
    /// and EHLO again.
    pub async fn open(target: SocketAddr, tls: Option<&TlsConnector>) -> Result<Conn> {
        let sock = timeout(Duration::from_secs(30), TcpStream::connect(target))
            .await
            .map_err(|_| anyhow!("connect to {target}: timed out"))??;
        sock.set_nodelay(true)?;
        let mut conn = Conn {
            io: Box::new(sock),
            reader: LineReader::new(),
            sent: 0,
        };
        let banner = get(&mut conn.reader, &mut conn.io).await?;
        if banner.code != 220 {
            bail!("banner: {banner}");
        }
        let ehlo = conn.command(b"EHLO bench-client.invalid\r\n").await?;
        if ehlo.code != 250 {
            bail!("EHLO: {ehlo}");
        }
        if let Some(connector) = tls {
            if !ehlo.advertises("STARTTLS") {
                bail!("{target} does not offer STARTTLS");
            }
            let r = conn.command(b"STARTTLS\r\n").await?;
            if r.code != 220 {
                bail!("STARTTLS: {r}");
            }
            let Conn { io, .. } = conn;
            let secured = connector.connect(crate::tls::server_name(), io).await?;
            conn = Conn {
                io: Box::new(secured),
                reader: LineReader::new(),
                sent: 0,
            };
            let again = conn.command(b"EHLO bench-client.invalid\r\n").await?;
            if again.code != 250 {
                bail!("EHLO after STARTTLS: {again}");
            }
        }
        Ok(conn)
    }

    async fn command(&mut self, line: &[u8]) -> io::Result<Reply> {
        self.io.write_all(line).await?;
        self.io.flush().await?;
        get(&mut self.reader, &mut self.io).await
    }

    /// Starts a transaction to `rcpt` up to the 354.
    pub async fn begin(&mut self, rcpt: &str) -> Result<(), SendError> {
        let r = self.command(b"MAIL FROM:<bench@example.net>\r\n").await?;
        if r.code != 250 {
            return Err(classify("MAIL", &r));
        }
        let r = self
            .command(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
            .await?;
        if r.code != 250 && r.code != 251 {
            return Err(classify("RCPT", &r));
        }
        let r = self.command(b"DATA\r\n").await?;
        if r.code != 354 {
            return Err(classify("DATA", &r));
        }
        Ok(())
    }

    /// Sends message `seq` and stamps its end of DATA and its 250.
    pub async fn send(
        &mut self,
        seq: u64,
        run: u64,
        rcpt: &str,
        body: &[u8],
        timings: &Timings,
    ) -> Result<(), SendError> {
        self.begin(rcpt).await?;
        self.io.write_all(&message(seq, run, rcpt, body)).await?;
        self.io.flush().await?;
        timings.stamp_data_end(seq);
        let r = get(&mut self.reader, &mut self.io).await?;
        if r.code != 250 {
            return Err(classify("end of DATA", &r));
        }
        timings.stamp_accepted(seq);
        self.sent += 1;
        Ok(())
    }

    /// Writes raw bytes (a trickled body line).
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// QUIT, waiting briefly for the 221; errors do not matter any more.
    pub async fn quit(mut self) {
        let _ = timeout(Duration::from_secs(5), self.command(b"QUIT\r\n")).await;
        let _ = self.io.shutdown().await;
    }
}
