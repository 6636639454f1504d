//! One shipping thread: a log's messages to one syslog host, through a
//! spool on flash. Blocking sockets in a thread of its own: a slow or dead
//! host stalls only this thread (the log writer only `try_send`s to it).

use std::io::{self, Write as _};
use std::net::{Shutdown, TcpStream, ToSocketAddrs as _, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use breakwater_config::logship::{LogName, SyslogHost, SyslogProtocol};
use rustls::pki_types::ServerName;
use tracing::Level;

use super::spool::{RESEND_WINDOW, Spool};
use crate::syslog;

/// Back-off between connection attempts: doubles from the first to the
/// last, and starts over after a connection that worked.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A host that accepts no bytes for this long is treated as down.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of spool sent per write: large enough for throughput, small
/// enough that a broken connection resends little.
const BATCH_BYTES: u64 = 64 * 1024;
/// How often the send position is saved to flash.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// Idle wake-up, to save the position and notice dropped lines.
const IDLE: Duration = Duration::from_secs(5);

pub(super) struct Worker {
    pub log: LogName,
    pub host: SyslogHost,
    pub facility: u8,
    pub hostname: Arc<str>,
    pub spool_dir: PathBuf,
    pub spool_name: String,
    pub spool_max_bytes: u64,
    pub rx: Receiver<String>,
    pub dropped: Arc<AtomicU64>,
    pub roots: Arc<rustls::RootCertStore>,
    /// The thread this one replaces on the same spool (a commit changed
    /// the subscription): it finishes spooling first.
    pub previous: Option<JoinHandle<()>>,
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// Sends the messages; `Ok` means every byte went to the socket.
    fn send(&mut self, msgs: &[String]) -> io::Result<()> {
        let framed = |msgs: &[String]| {
            let mut buf = Vec::new();
            for m in msgs {
                syslog::octet_counted(m, &mut buf);
            }
            buf
        };
        match self {
            Self::Udp(s) => msgs
                .iter()
                .try_for_each(|m| s.send(m.as_bytes()).map(|_| ())),
            Self::Tcp(s) => s.write_all(&framed(msgs)),
            Self::Tls(s) => {
                s.write_all(&framed(msgs))?;
                s.flush()
            }
        }
    }

    fn close(self) {
        match self {
            Self::Udp(_) => {}
            Self::Tcp(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Self::Tls(mut s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
    }
}

impl Worker {
    pub(super) fn run(mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = previous.join();
        }
        let mut spool = match Spool::open(&self.spool_dir, &self.spool_name, self.spool_max_bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(
                    "{} to {}: cannot open the spool in {}: {e}; not shipping",
                    self.log.name(),
                    self.host,
                    self.spool_dir.display()
                );
                // Keep draining so the channel never looks full for long.
                while self.rx.recv().is_ok() {}
                return;
            }
        };
        let mut conn: Option<Conn> = None;
        // Where the current connection started: a rewind never goes before it.
        let mut conn_start = 0;
        let mut backoff = MIN_BACKOFF;
        let mut retry_at = Instant::now();
        let mut saved_at = Instant::now();
        let mut closed = false;
        let mut reported = false;
        loop {
            let wait = if spool.pending() == 0 {
                IDLE
            } else if conn.is_some() {
                Duration::ZERO
            } else {
                retry_at.saturating_duration_since(Instant::now()).min(IDLE)
            };
            if !closed {
                match self.rx.recv_timeout(wait) {
                    Ok(msg) => self.spool(&mut spool, &msg),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => closed = true,
                }
                // Take what else is waiting, without waiting.
                for msg in self.rx.try_iter().take(1000) {
                    self.spool(&mut spool, &msg);
                }
            }
            let lost = self.dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                self.spool_dropped(&mut spool, lost);
            }
            if closed {
                // Replaced or unsubscribed: the spool keeps the rest for
                // the successor (or for a later subscription).
                if let Some(c) = conn.take() {
                    c.close();
                }
                let _ = spool.save_position();
                return;
            }
            if saved_at.elapsed() >= SAVE_EVERY {
                let _ = spool.save_position();
                saved_at = Instant::now();
            }
            if spool.pending() == 0 {
                continue;
            }
            if conn.is_none() {
                if Instant::now() < retry_at {
                    continue;
                }
                match self.connect() {
                    Ok(c) => {
                        if reported {
                            tracing::info!(
                                "{} to {}: connected; sending {} spooled bytes",
                                self.log.name(),
                                self.host,
                                spool.pending()
                            );
                        }
                        reported = false;
                        conn = Some(c);
                        conn_start = spool.position();
                    }
                    Err(e) => {
                        if !reported {
                            tracing::warn!(
                                "{} to {}: {e}; spooling (up to {} bytes) and retrying",
                                self.log.name(),
                                self.host,
                                self.spool_max_bytes
                            );
                            reported = true;
                        }
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let sent = spool.peek(BATCH_BYTES).and_then(|(msgs, end)| {
                c.send(&msgs)?;
                Ok(end)
            });
            match sent {
                Ok(end) => {
                    if let Err(e) = spool.advance(end) {
                        self.report_spool(&e);
                    }
                    backoff = MIN_BACKOFF;
                }
                Err(e) => {
                    tracing::warn!(
                        "{} to {}: {e}; reconnecting and resending the last lines",
                        self.log.name(),
                        self.host
                    );
                    reported = true;
                    if let Some(c) = conn.take() {
                        c.close();
                    }
                    if self.host.protocol != SyslogProtocol::Udp {
                        let _ = spool.rewind(RESEND_WINDOW, conn_start);
                    }
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn spool(&self, spool: &mut Spool, msg: &str) {
        match spool.append(msg) {
            Ok(0) => {}
            Ok(n) => self.spool_dropped(spool, n),
            Err(e) => self.report_spool(&e),
        }
    }

    /// The counted notice in place of lines the spool or channel had no room for.
    fn spool_dropped(&self, spool: &mut Spool, n: u64) {
        let now = breakwater_types::clock::now();
        let msg = syslog::message(
            self.facility,
            Level::WARN,
            &now,
            &self.hostname,
            self.log.name(),
            &format!(
                "{n} lines dropped: the syslog host {} was unreachable and the spool was full",
                self.host
            ),
        );
        if let Err(e) = spool.append(&msg) {
            self.report_spool(&e);
        }
    }

    fn report_spool(&self, e: &io::Error) {
        // Not through tracing at ERROR for system_logs: a system_logs
        // subscription would feed its own failure back into its spool.
        let _ = writeln!(
            io::stderr(),
            "breakwater: {} to {}: spool: {e}",
            self.log.name(),
            self.host
        );
    }

    fn connect(&self) -> io::Result<Conn> {
        let addr = (self.host.host.as_str(), self.host.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other("the host name has no address"))?;
        if self.host.protocol == SyslogProtocol::Udp {
            let bind: std::net::SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                ([0u16; 8], 0).into()
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(addr)?;
            return Ok(Conn::Udp(s));
        }
        let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_nodelay(true)?;
        if self.host.protocol == SyslogProtocol::Tcp {
            return Ok(Conn::Tcp(tcp));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(Arc::clone(&self.roots))
            .with_no_client_auth();
        let name = ServerName::try_from(self.host.host.clone()).map_err(io::Error::other)?;
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // Handshake now, so a bad certificate is reported as a connection
        // failure rather than as the first write's.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Conn::Tls(Box::new(tls)))
    }
}
