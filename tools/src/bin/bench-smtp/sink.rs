//! The sink: an SMTP server that accepts every message, keeps none, and
//! stamps the moment each message of this run arrived (matched by its
//! Message-ID) so the load side can compute 250 -> receipt latency.
//! Optional STARTTLS with the run's throwaway certificate.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use breakwater_tools::smtp_wire::{
    LineReader, MAX_DATA_LINE, MAX_LINE, message_id_header, parse_message_id,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::{Stream, Timings};

/// How long the sink waits for a peer's next line before it hangs up.
const IDLE: Duration = Duration::from_secs(120);

/// What the sink counted.
#[derive(Default)]
pub struct SinkStats {
    /// Messages of this run, each counted once.
    pub unique: AtomicU64,
    /// Messages of this run seen again (a relay's retry after a lost 250).
    pub duplicates: AtomicU64,
    /// Messages without a Message-ID of this run (bounces, strays).
    pub foreign: AtomicU64,
    pub sessions: AtomicU64,
}

pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    run: u64,
    timings: Arc<Timings>,
    stats: Arc<SinkStats>,
) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            // EMFILE and the like: back off, the load side sees the stall.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (tls, timings, stats) = (tls.clone(), timings.clone(), stats.clone());
        tokio::spawn(async move {
            stats.sessions.fetch_add(1, Relaxed);
            // A peer that misbehaves only loses its own session.
            let _ = session(sock, tls, run, &timings, &stats).await;
        });
    }
}

async fn reply(io: &mut Box<dyn Stream>, text: &[u8]) -> io::Result<()> {
    io.write_all(text).await?;
    io.flush().await
}

async fn line(
    reader: &mut LineReader,
    io: &mut Box<dyn Stream>,
    max: usize,
) -> io::Result<Vec<u8>> {
    timeout(IDLE, reader.read_line(io, max))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "peer idle"))??
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))
}

async fn session(
    sock: TcpStream,
    tls: Option<TlsAcceptor>,
    run: u64,
    timings: &Timings,
    stats: &SinkStats,
) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut io: Box<dyn Stream> = Box::new(sock);
    let mut reader = LineReader::new();
    let mut secured = false;
    reply(&mut io, b"220 sink.bench.invalid ESMTP bench-smtp\r\n").await?;
    loop {
        let cmd = line(&mut reader, &mut io, MAX_LINE).await?;
        let verb: Vec<u8> = cmd
            .iter()
            .take_while(|b| !b.is_ascii_whitespace())
            .map(u8::to_ascii_uppercase)
            .collect();
        match verb.as_slice() {
            b"EHLO" => {
                let starttls = if tls.is_some() && !secured {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                let text = format!(
                    "250-sink.bench.invalid\r\n250-PIPELINING\r\n{starttls}250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"
                );
                reply(&mut io, text.as_bytes()).await?;
            }
            b"HELO" => reply(&mut io, b"250 sink.bench.invalid\r\n").await?,
            b"STARTTLS" => match (&tls, secured) {
                (Some(acceptor), false) if reader.pending() == 0 => {
                    reply(&mut io, b"220 2.0.0 Ready to start TLS\r\n").await?;
                    io = Box::new(acceptor.accept(io).await?);
                    reader = LineReader::new();
                    secured = true;
                }
                (Some(_), false) => {
                    // RFC 3207: commands pipelined behind STARTTLS.
                    reply(&mut io, b"554 5.5.1 Pipelined after STARTTLS\r\n").await?;
                    return Ok(());
                }
                _ => reply(&mut io, b"502 5.5.1 STARTTLS not offered\r\n").await?,
            },
            b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => reply(&mut io, b"250 2.0.0 Ok\r\n").await?,
            b"DATA" => {
                reply(&mut io, b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut seq = None;
                let mut in_headers = true;
                loop {
                    let l = line(&mut reader, &mut io, MAX_DATA_LINE).await?;
                    if l == b"." {
                        break;
                    }
                    if in_headers {
                        if l.is_empty() {
                            in_headers = false;
                        } else if seq.is_none() {
                            seq = message_id_header(&l).and_then(|v| parse_message_id(v, run));
                        }
                    }
                }
                match seq {
                    Some(s) if timings.stamp_received(s) => stats.unique.fetch_add(1, Relaxed),
                    Some(_) => stats.duplicates.fetch_add(1, Relaxed),
                    None => stats.foreign.fetch_add(1, Relaxed),
                };
                reply(&mut io, b"250 2.0.0 Ok: queued\r\n").await?;
            }
            b"QUIT" => {
                reply(&mut io, b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => reply(&mut io, b"502 5.5.2 Command not recognized\r\n").await?,
        }
    }
}
