//! Per-test loopback addresses.
//!
//! A test owns a slot `n` (1..=250) and with it five /24s of 127/8:
//!
//! | role | address |
//! | --- | --- |
//! | Data 1 (IncomingMail) | 127.1.n.1:2525 |
//! | Data 2 (OutgoingMail) | 127.2.n.1:2525 |
//! | Management | 127.3.n.1 |
//! | DNS (dnsmasq) | 127.3.n.53:5353 |
//! | next hop (smtp-sink) | 127.4.n.25:2525 |
//! | clients | 127.5.n.x |
//!
//! The slot is held by an exclusive lock on a file under the temp dir, so two
//! test binaries (or two `cargo test` runs) never pick the same one; the
//! starting point mixes the process id with a per-process counter so the
//! first guess is usually free.

use std::fs::{self, File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Port of both SMTP listeners (the board profile's `listener_port`).
pub const SMTP_PORT: u16 = 2525;
/// Port dnsmasq answers on.
pub const DNS_PORT: u16 = 5353;
/// Port smtp-sink listens on.
pub const SINK_PORT: u16 = 2525;

const SLOTS: usize = 250;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One test's share of 127/8. Hold it for as long as the test's processes
/// run (declare it first, so it drops last).
#[derive(Debug)]
pub struct TestNet {
    n: u8,
    _lock: File,
}

impl TestNet {
    /// Claims a free slot.
    ///
    /// # Panics
    /// When all 250 slots are taken.
    #[must_use]
    pub fn new() -> TestNet {
        let dir = std::env::temp_dir().join("breakwater-e2e-slots");
        fs::create_dir_all(&dir).expect("create slot lock dir");
        let pid = std::process::id() as usize;
        let start = pid
            .wrapping_mul(7919)
            .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed) * 13);
        for i in 0..SLOTS {
            let n = ((start + i) % SLOTS + 1) as u8;
            let path: PathBuf = dir.join(format!("{n}.lock"));
            let Ok(file) = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
            else {
                continue;
            };
            if file.try_lock().is_err() {
                continue;
            }
            let net = TestNet { n, _lock: file };
            // Someone outside the harness may squat on an address; skip it.
            if net.ports_free() {
                return net;
            }
        }
        panic!("no free test network slot under {}", dir.display());
    }

    fn ports_free(&self) -> bool {
        [self.data1_smtp(), self.data2_smtp(), self.sink_addr()]
            .iter()
            .all(|a| TcpListener::bind(a).is_ok())
    }

    /// This test's slot number.
    #[must_use]
    pub fn n(&self) -> u8 {
        self.n
    }

    /// Data 1: the public listener's interface.
    #[must_use]
    pub fn data1(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 1, self.n, 1)
    }

    /// Data 2: the private listener's interface and the delivery source.
    #[must_use]
    pub fn data2(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 2, self.n, 1)
    }

    #[must_use]
    pub fn management(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 3, self.n, 1)
    }

    #[must_use]
    pub fn dns_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 3, self.n, 53)
    }

    #[must_use]
    pub fn dns_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.dns_ip(), DNS_PORT)
    }

    #[must_use]
    pub fn sink_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 4, self.n, 25)
    }

    #[must_use]
    pub fn sink_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.sink_ip(), SINK_PORT)
    }

    /// A client address `127.5.n.x`.
    #[must_use]
    pub fn client(&self, x: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 5, self.n, x)
    }

    #[must_use]
    pub fn data1_smtp(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.data1(), SMTP_PORT)
    }

    #[must_use]
    pub fn data2_smtp(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.data2(), SMTP_PORT)
    }

    /// `"<sink ip>:<port>"`, the form `smtproutes new` takes.
    #[must_use]
    pub fn sink_route(&self) -> String {
        format!("{}:{}", self.sink_ip(), SINK_PORT)
    }

    /// `"<dns ip>:<port>"`, the form `dnsconfig servers` takes.
    #[must_use]
    pub fn dns_server(&self) -> String {
        format!("{}:{}", self.dns_ip(), DNS_PORT)
    }
}

impl Default for TestNet {
    fn default() -> Self {
        Self::new()
    }
}

/// `d.c.b.a.in-addr.arpa` for `a.b.c.d`.
#[must_use]
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
}
