//! What the adversarial tests (`tests/tests/hostile_*.rs`) share: the two
//! listeners a hostile client may talk to, a raw exchange that reads every
//! reply until the gateway hangs up, the mail daemon's resident memory, and
//! the check that follows every attack: a normal client is still served
//! and the next hop got exactly the legitimate messages.

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::client::{Reply, SmtpConn, smtplib};
use crate::nexthop::allow_relay_from_clients;
use crate::world::World;
use crate::{SOON, simple_message};

/// The two SMTP listeners of the factory configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Data 1, `IncomingMail`: the internet, RAT-checked.
    Incoming,
    /// Data 2, `OutgoingMail`: the organisation's servers, relaying (the
    /// test's clients are in `RELAYLIST`, see [`hostile_world`]).
    Outgoing,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Incoming, Side::Outgoing];

    /// The listener's name, as `listenerconfig` takes it.
    #[must_use]
    pub fn listener(self) -> &'static str {
        match self {
            Side::Incoming => "IncomingMail",
            Side::Outgoing => "OutgoingMail",
        }
    }

    /// The listener's address.
    #[must_use]
    pub fn addr(self, w: &World) -> SocketAddrV4 {
        match self {
            Side::Incoming => w.net.data1_smtp(),
            Side::Outgoing => w.net.data2_smtp(),
        }
    }

    /// The mail flow policy the test's clients get on this listener
    /// (`ACCEPTED` through the `ALL` group, `RELAYED` through `RELAYLIST`).
    #[must_use]
    pub fn policy(self) -> &'static str {
        match self {
            Side::Incoming => "ACCEPTED",
            Side::Outgoing => "RELAYED",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.listener())
    }
}

/// The day-one [`World`] with the test's clients (`127.5.n.0/24`) allowed
/// to relay through `OutgoingMail`, so both listeners take mail for
/// `example.com` from them.
#[must_use]
pub fn hostile_world() -> World {
    let w = World::start();
    allow_relay_from_clients(&w);
    w
}

/// Sets both listeners' CR/LF handling (`strict` or `lenient`) and commits.
pub fn set_crlf(w: &World, mode: &str) {
    for side in Side::BOTH {
        w.gw.cli_ok(&[
            "listenerconfig",
            "edit",
            side.listener(),
            "setup",
            "--crlf",
            mode,
        ]);
    }
    w.gw.cli_ok(&["commit", &format!("e2e: CR/LF handling {mode}")]);
}

/// A normal client (Python's smtplib from `127.5.n.x`) sends one small
/// message for `alice@example.com` with Message-ID `id` through `side`; it
/// must get 250 and the message must reach the next hop.
///
/// # Panics
/// When the client is not served or the message does not arrive.
pub fn assert_served(w: &World, side: Side, x: u8, id: &str) {
    let from = "friend@internet.example";
    let msg = simple_message(from, "alice@example.com", id, "a well-behaved client");
    let res = smtplib::send(
        side.addr(w),
        w.net.client(x),
        from,
        &["alice@example.com"],
        &msg,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "a normal client is no longer served on {side}: {res:?}"
    );
    w.sink
        .wait_for_message_id(id, SOON)
        .unwrap_or_else(|| panic!("the normal client's message {id} did not reach the next hop"));
}

/// A normal client served on each listener, from client addresses
/// `xs` (Data 1, Data 2), with Message-IDs `served-<tag>-<listener>@e2e.test`
/// pushed onto `expected` for `assert_sink_holds_exactly`.
pub fn assert_both_served(w: &World, tag: &str, xs: (u8, u8), expected: &mut Vec<String>) {
    for (side, x) in [(Side::Incoming, xs.0), (Side::Outgoing, xs.1)] {
        let id = format!("served-{tag}-{}@e2e.test", side.listener().to_lowercase());
        assert_served(w, side, x, &id);
        expected.push(id);
    }
}

/// The Message-IDs the next hop received, in arrival order.
#[must_use]
pub fn sink_message_ids(w: &World) -> Vec<String> {
    w.sink
        .messages()
        .iter()
        .map(|m| m.message_id().unwrap_or_else(|| "<none>".to_string()))
        .collect()
}

/// Waits for every message of `expected` at the next hop, then checks that
/// it holds exactly those (no more: nothing smuggled, nothing refused) and
/// that no transaction there names one of `forbidden_rcpts`. The gateway's
/// mail log must not show those recipients accepted either, so a smuggled
/// message still in the queue is caught too.
///
/// # Panics
/// When a message is missing or one too many arrived.
pub fn assert_sink_holds_exactly(w: &World, expected: &[String], forbidden_rcpts: &[&str]) {
    for id in expected {
        assert!(
            w.sink.wait_for_message_id(id, SOON).is_some(),
            "{id} did not reach the next hop; it has {:?}",
            sink_message_ids(w)
        );
    }
    let mut got = sink_message_ids(w);
    got.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(got, want, "the next hop must hold exactly these messages");
    let msgs = w.sink.messages();
    for forbidden in forbidden_rcpts {
        for m in &msgs {
            assert!(
                !m.rcpts.iter().any(|r| r.eq_ignore_ascii_case(forbidden)),
                "a transaction for {forbidden} reached the next hop: {}",
                m.file.display()
            );
        }
        let accepted =
            w.gw.log_lines(&format!(r"(?i)RID \d+ To: <{}>$", regex::escape(forbidden)));
        assert!(
            accepted.is_empty(),
            "the gateway accepted {forbidden}: {accepted:?}"
        );
    }
}

/// Connects to `side` from `127.5.n.x`, checks the 220 greeting and says
/// EHLO.
///
/// # Panics
/// When the gateway does not greet or answer EHLO.
#[must_use]
pub fn open(w: &World, side: Side, x: u8) -> SmtpConn {
    let (mut conn, banner) = SmtpConn::connect(w.net.client(x), side.addr(w))
        .unwrap_or_else(|e| panic!("connect to {side}: {e}"));
    assert_eq!(banner.code, 220, "greeting on {side}: {banner}");
    let ehlo = conn.ehlo("hostile.e2e.test").expect("EHLO");
    assert_eq!(ehlo.code, 250, "EHLO on {side}: {ehlo}");
    conn
}

/// Reads replies until the gateway closes the connection (or nothing comes
/// for `quiet`): every reply it sent, in order, and whether it closed.
pub fn replies_until_close(conn: &mut SmtpConn, quiet: Duration) -> (Vec<Reply>, bool) {
    conn.set_read_timeout(quiet);
    let mut replies = Vec::new();
    loop {
        match conn.read_reply() {
            Ok(r) => replies.push(r),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (replies, false);
            }
            Err(_) => return (replies, true),
        }
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
#[must_use]
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The mail daemon's current resident set size in KiB.
///
/// # Panics
/// When no daemon runs.
#[must_use]
pub fn daemon_rss_kib(w: &World) -> u64 {
    let pid = w.gw.daemon_pid().expect("the mail daemon runs");
    status_kib(pid, "VmRSS").expect("VmRSS in /proc/<pid>/status")
}

/// Samples one process's `VmRSS` every 100 ms in a thread and keeps the
/// largest value, so a test can tell how high it went while an attack ran.
#[derive(Debug)]
pub struct RssSampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling the mail daemon of `w`.
    ///
    /// # Panics
    /// When no daemon runs.
    #[must_use]
    pub fn daemon(w: &World) -> RssSampler {
        let pid = w.gw.daemon_pid().expect("the mail daemon runs");
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    p.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler {
            pid,
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// The largest `VmRSS` seen so far, in KiB.
    #[must_use]
    pub fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }

    /// Stops sampling; returns the largest `VmRSS` seen and the kernel's own
    /// high-water mark (`VmHWM`, which no sampling interval can miss), in
    /// KiB. The daemon must be the same process as at the start.
    ///
    /// # Panics
    /// When the daemon exited (or was restarted) meanwhile.
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let hwm = status_kib(self.pid, "VmHWM")
            .unwrap_or_else(|| panic!("mail daemon {} is gone (crashed?)", self.pid));
        (self.peak_kib(), hwm)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `127.5.n.x` for a spread of clients: `first + i / per_ip`, so no client
/// address holds more than `per_ip` of them (the ACCEPTED policy allows 10
/// connections per IP).
#[must_use]
pub fn spread_client(w: &World, first: u8, i: usize, per_ip: usize) -> Ipv4Addr {
    let x = usize::from(first) + i / per_ip;
    w.net
        .client(u8::try_from(x).expect("client address within 127.5.n.0/24"))
}
