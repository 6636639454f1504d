//! Log subscriptions pushed by syslog (`logconfig subscribe`).
//!
//! The log layer hands each line to [`Tap::offer`] after writing it to its
//! file. `offer` never blocks: it formats the RFC 5424 message and
//! `try_send`s it to each subscribed host's bounded channel; a full channel
//! counts the line as dropped. So mail logging never waits on the network.
//!
//! One thread per (log, host) owns a [`spool::Spool`] on flash: it appends
//! what arrives, connects (with back-off), sends from the spool and moves
//! the spool's position only past messages handed whole to the socket.
//!
//! **Delivery is at least once, not exactly once.** Syslog has no
//! application acknowledgement: a message the kernel accepted may still be
//! lost when the receiver dies. After a broken TCP or TLS connection the
//! sender rewinds up to [`spool::RESEND_WINDOW`] bytes sent on it and sends
//! them again, so a receiver restart duplicates a few lines rather than
//! losing them. UDP is fire and forget (RFC 5426): lines sent while the
//! host is down are lost unless the kernel reports the error.

pub mod spool;
mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use breakwater_config::logship::{
    LogName, LogShipping, LogSubscription, SyslogHost, SyslogProtocol,
};
use tracing::Level;

use crate::syslog;

/// Lines held in memory per host between the log writer and its shipping
/// thread; beyond it lines are counted as dropped rather than making the
/// log writer wait.
pub const CHANNEL_LINES: usize = 10_000;

/// Where a log's lines go on their way out: the layer's side.
#[derive(Debug, Clone, Default)]
pub struct Tap {
    routes: Arc<RwLock<Vec<Route>>>,
}

#[derive(Debug)]
struct Route {
    key: Key,
    facility: u8,
    hostname: Arc<str>,
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl Tap {
    /// Offers one log line (as written to the file) to the log's
    /// subscribers. Never blocks.
    pub(crate) fn offer(&self, log: LogName, level: Level, line: &str) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if routes.is_empty() {
            return;
        }
        let now = breakwater_types::clock::now();
        let text = syslog::line_text(line);
        for r in routes.iter().filter(|r| r.key.0 == log) {
            let msg = syslog::message(r.facility, level, &now, &r.hostname, log.name(), text);
            match r.tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    r.dropped.fetch_add(1, Ordering::Relaxed);
                }
                // The worker is being replaced (a commit): its successor
                // reads the spool; this one line is the price.
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

type Key = (LogName, SyslogHost);

/// The shipping threads, reconfigured at each commit.
#[derive(Debug)]
pub struct Shipper {
    spool_dir: PathBuf,
    tap: Tap,
    /// What is running, to restart only what changed.
    running: HashMap<Key, Running>,
    /// The administrator's CA certificates the TLS threads were started
    /// with: a change restarts them (their roots are fixed at start).
    cas: Vec<String>,
}

#[derive(Debug)]
struct Running {
    sub: LogSubscription,
    hostname: Arc<str>,
    thread: JoinHandle<()>,
}

impl Shipper {
    pub(crate) fn new(data_dir: &Path, tap: Tap) -> Self {
        Self {
            spool_dir: data_dir.join("logs/spool"),
            tap,
            running: HashMap::new(),
            cas: Vec::new(),
        }
    }

    /// Starts, stops and restarts shipping threads to match `settings`.
    /// `roots` verifies TLS hosts. A (log, host) whose settings did not
    /// change keeps its thread and connection.
    pub fn apply(
        &mut self,
        hostname: &str,
        settings: &LogShipping,
        roots: &Arc<rustls::RootCertStore>,
        cas: &[String],
    ) {
        let cas_changed = self.cas != cas;
        self.cas = cas.to_vec();
        let hostname: Arc<str> = Arc::from(hostname);
        let mut wanted: HashMap<Key, &LogSubscription> = HashMap::new();
        for sub in &settings.subscriptions {
            for host in &sub.hosts {
                wanted.insert((sub.log, host.clone()), sub);
            }
        }
        let mut routes = self.tap.routes.write().unwrap_or_else(|e| e.into_inner());
        let unchanged = |key: &Key, r: &Running| {
            wanted
                .get(key)
                .is_some_and(|sub| **sub == r.sub && r.hostname == hostname)
                && !(cas_changed && key.1.protocol == SyslogProtocol::Tls)
        };
        // Dropping a route's sender ends its thread once it has spooled
        // what the channel holds; its successor waits for that (`previous`)
        // before opening the same spool.
        let mut previous: HashMap<Key, JoinHandle<()>> = HashMap::new();
        let mut failures = Vec::new();
        for (key, r) in std::mem::take(&mut self.running) {
            if unchanged(&key, &r) {
                self.running.insert(key, r);
            } else {
                routes.retain(|route| route.key != key);
                previous.insert(key, r.thread);
            }
        }
        for (key, sub) in wanted {
            if self.running.contains_key(&key) {
                continue;
            }
            let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL_LINES);
            let dropped = Arc::new(AtomicU64::new(0));
            let w = worker::Worker {
                log: key.0,
                host: key.1.clone(),
                facility: sub.facility,
                hostname: Arc::clone(&hostname),
                spool_dir: self.spool_dir.clone(),
                spool_name: spool_name(key.0, &key.1),
                spool_max_bytes: sub.spool_max_bytes,
                rx,
                dropped: Arc::clone(&dropped),
                roots: Arc::clone(roots),
                previous: previous.remove(&key),
            };
            match std::thread::Builder::new()
                .name(format!("syslog-{}", key.0.name()))
                .spawn(move || w.run())
            {
                Ok(thread) => {
                    routes.push(Route {
                        key: key.clone(),
                        facility: sub.facility,
                        hostname: Arc::clone(&hostname),
                        tx,
                        dropped,
                    });
                    self.running.insert(
                        key,
                        Running {
                            sub: sub.clone(),
                            hostname: Arc::clone(&hostname),
                            thread,
                        },
                    );
                }
                Err(e) => failures.push(format!(
                    "cannot start shipping {} to {}: {e}",
                    key.0.name(),
                    key.1
                )),
            }
        }
        // Logged once the lock is released: the log layer takes it.
        drop(routes);
        for f in failures {
            tracing::error!("{f}");
        }
    }
}

/// The spool's file name: one per log and host, so a host removed and
/// added again resumes where it was.
fn spool_name(log: LogName, host: &SyslogHost) -> String {
    let clean: String = host
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}-{clean}-{}-{}",
        log.name(),
        host.port,
        host.protocol.name().to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakwater_config::logship::SyslogProtocol;
    use std::io::Read as _;

    #[test]
    fn a_changed_subscription_hands_its_spool_to_the_new_thread() {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tap = Tap::default();
        let mut shipper = Shipper::new(dir.path(), tap.clone());
        let mut sub = LogSubscription::new(LogName::AuditLogs);
        sub.hosts.push(SyslogHost {
            host: "127.0.0.1".into(),
            port,
            protocol: SyslogProtocol::Tcp,
        });
        let mut settings = LogShipping {
            subscriptions: vec![sub],
        };
        let roots = Arc::new(rustls::RootCertStore::empty());
        shipper.apply("h", &settings, &roots, &[]);
        tap.offer(LogName::AuditLogs, Level::INFO, "t Info: one");
        settings.subscriptions[0].facility = 5;
        shipper.apply("h", &settings, &roots, &[]);
        tap.offer(LogName::AuditLogs, Level::INFO, "t Info: two");
        let mut got = String::new();
        let mut buf = [0; 4096];
        while !got.contains("two") {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            while !got.contains("two") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        }
        // `one` went through the first thread (auth.info), `two` through
        // its successor (syslog.info) on the same spool.
        assert!(got.contains("<38>1 "), "{got}");
        assert!(got.contains(" h audit_logs - - - one"), "{got}");
        assert!(got.contains("<46>1 "), "{got}");
    }
}
