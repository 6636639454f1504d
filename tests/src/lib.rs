//! End-to-end harness: the real `breakwater` daemon between real peers.
//!
//! Every test builds a small private network on loopback and runs real
//! programs on it, no mocks:
//!
//! ```text
//!   swaks / smtplib (127.5.n.x) ──► Data 1 127.1.n.1:2525  IncomingMail (public)
//!   swaks / smtplib (127.5.n.x) ──► Data 2 127.2.n.1:2525  OutgoingMail (private)
//!                                   breakwater ──(from 127.2.n.1)──► smtp-sink 127.4.n.25:2525
//!                                   breakwater ──► dnsmasq 127.3.n.53:5353 (PTR / A)
//!                                   breakwater ──► Postfix 127.4.n.x:2525 (delivery_postfix)
//! ```
//!
//! - [`TestNet`] hands each test its own `n`, so tests in one binary, and
//!   concurrent `cargo test` runs, never share an address or a port.
//! - [`Dns`] is dnsmasq answering only for the records a test gives it.
//! - [`Sink`] is Postfix's `smtp-sink` dumping every transaction to a file;
//!   [`SinkMessage`] is one dump parsed back into envelope + raw message.
//! - [`Postfix`] is a throwaway Postfix instance (own config dir, queue and
//!   log) as a real next hop, delivering into Maildirs the tests read back.
//! - [`Gateway`] is the daemon with its own data dir ("flash") and board
//!   profile, driven through `breakwater cli` like an administrator would.
//! - [`Swaks`], [`smtplib`] and [`SmtpConn`] are the internet clients.
//! - [`World`] wires them together with the configuration most tests share.
//! - [`console::Console`] is `breakwater console` on a pty, logged in as an
//!   administrator; [`transcript`] keeps a guide's console transcripts equal
//!   to what a run shows (docs/microsoft-365.md, `BREAKWATER_BLESS=1`).
//!
//! Every process is killed when its handle drops, also when a test panics;
//! on a panic the gateway's log tails are printed to help the reader.
//!
//! Traffic stays on 127.0.0.0/8. The peers come from Debian packages
//! (`swaks`, `postfix`, `dnsmasq-base`, `python3`); `tools/test` installs them.

pub mod appliance;
mod bind;
pub mod browser;
mod chrony; // ntp (issue 16)
mod clamav; // antivirus (issue 17)
mod client;
pub mod console;
mod dns;
pub mod etcd; // clusters (issue 20)
mod gateway;
pub mod golden;
pub mod hostile;
mod intake;
mod net;
mod nexthop;
mod postfix;
mod proc;
pub mod qemu;
mod rspamd; // issue 17: anti-spam engine
mod rsyslog;
mod sink;
pub mod ssh;
mod tls_mx;
pub mod transcript;
pub mod web;
mod world;

pub use bind::{BIND_PORT_BASE, Bind, BindBuilder};
pub use chrony::{CHRONY_NTP_PORT, CHRONY_STRATUM, Chrony}; // ntp (issue 16)
pub use clamav::{Clamd, EICAR_SIGNATURE, eicar}; // antivirus (issue 17)
pub use client::smtplib::{self, LoadClient, LoadJob, LoadResult, Step, StepResult};
pub use client::{Reply, SmtpConn, Swaks, SwaksOutcome, bind_connect};
pub use dns::{Dns, DnsBuilder, QTYPE_A, QTYPE_PTR};
pub use etcd::{ETCD_CLIENT_PORT, EtcdCluster}; // clusters (issue 20)
pub use gateway::{Gateway, MGMT_HTTP_PORT, MGMT_HTTPS_PORT, MGMT_SSH_PORT, breakwater_bin};
pub use intake::{Intake, IntakeMessage};
pub use net::{DNS_PORT, SINK_PORT, SMTP_PORT, TestNet, reverse_name};
pub use nexthop::{
    MX_PORT, MxSink, Outgoing, Script, ScriptedServer, ServerConn, TestCert, TophostsRow,
    allow_loopback_next_hops, allow_relay_from_clients, mx_ip, parse_tophosts, send_batch,
    status_counter, status_gauge,
};
pub use postfix::{
    POSTFIX_PORT, Postfix, PostfixBuilder, PostfixMessage, QueueEntry, SmtpdSession,
};
pub use rspamd::{GTUBE, Rspamd, SPAM_MARKER, SUSPECT_MARKER};
pub use rsyslog::Rsyslog;
pub use sink::{Sink, SinkMessage};
pub use tls_mx::{TlsCert, TlsMx, tls_mx_ip};
pub use web::WebClient;
pub use world::{LOCAL_DOMAIN, World};

use std::time::{Duration, Instant};

/// How long to wait for anything that should happen "soon". CI has two
/// cores and runs many tests at once, so this is generous: tests wait for
/// events, they never assert on speed.
pub const SOON: Duration = Duration::from_secs(60);

/// How long to wait for something that involves a retry or a restart.
pub const EVENTUALLY: Duration = Duration::from_secs(180);

/// Polls `probe` until it returns `Some`, or gives up after `timeout`.
pub fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The MID in the gateway's reply to the end of DATA
/// (`250 ok:  Message 12 accepted`).
pub fn mid_in_reply(text: &str) -> Option<u64> {
    let re = regex::Regex::new(r"Message (\d+) accepted").expect("static regex");
    re.captures(text)?.get(1)?.as_str().parse().ok()
}

/// A small RFC 5322 message with CRLF line ends and a unique Message-ID,
/// ready to be sent as-is.
pub fn simple_message(from: &str, to: &str, message_id: &str, body: &str) -> Vec<u8> {
    let mut m = String::new();
    m.push_str(&format!("From: <{from}>\r\n"));
    m.push_str(&format!("To: <{to}>\r\n"));
    m.push_str(&format!("Subject: e2e {message_id}\r\n"));
    m.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=us-ascii\r\n");
    m.push_str("\r\n");
    for line in body.lines() {
        m.push_str(line);
        m.push_str("\r\n");
    }
    m.into_bytes()
}
