//! A real DNS server for the gateway's PTR and A lookups: dnsmasq on
//! `127.3.n.53:5353`, answering only for the records the test gives it
//! (everything else is NXDOMAIN: `--local=/#/`, no upstream, no hosts file).
//!
//! - [`DnsBuilder::host_record`] gives A *and* PTR: a forward-confirmed
//!   reverse name, `verified yes` in the mail log.
//! - [`DnsBuilder::ptr_record`] gives a PTR only: the name does not resolve
//!   back, so it must not count as verified.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::{TestNet, reverse_name};
use crate::proc::{is_root, kill_and_reap, tail};
use crate::{SOON, wait_until};

/// DNS type A.
pub const QTYPE_A: u16 = 1;
/// DNS type PTR.
pub const QTYPE_PTR: u16 = 12;

/// Records to serve; [`DnsBuilder::start`] starts dnsmasq with them.
#[derive(Debug)]
pub struct DnsBuilder {
    ip: Ipv4Addr,
    port: u16,
    args: Vec<String>,
}

impl DnsBuilder {
    /// A and PTR: `name` ↔ `ip` (forward-confirmed).
    #[must_use]
    pub fn host_record(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.args.push(format!("--host-record={name},{ip}"));
        self
    }

    /// PTR only: `ip` → `name`, with no A record for `name`.
    #[must_use]
    pub fn ptr_record(mut self, ip: Ipv4Addr, name: &str) -> Self {
        self.args
            .push(format!("--ptr-record={},{name}", reverse_name(ip)));
        self
    }

    /// A record for `domain` and every name under it.
    #[must_use]
    pub fn address(mut self, domain: &str, ip: Ipv4Addr) -> Self {
        self.args.push(format!("--address=/{domain}/{ip}"));
        self
    }

    /// The TTL of the local records (dnsmasq's default is 0: nothing
    /// would be cached).
    #[must_use]
    pub fn local_ttl(mut self, secs: u32) -> Self {
        self.args.push(format!("--local-ttl={secs}"));
        self
    }

    /// MX record `domain` → `host` with `preference`.
    #[must_use]
    pub fn mx(mut self, domain: &str, host: &str, preference: u16) -> Self {
        self.args
            .push(format!("--mx-host={domain},{host},{preference}"));
        self
    }

    /// TXT record `name` with `strings` (each at most 255 bytes), as a
    /// zone's `name IN TXT "a" "b"`.
    #[must_use]
    pub fn txt_record(mut self, name: &str, strings: &[&str]) -> Self {
        // Unquoted: on the command line dnsmasq keeps quotes as text.
        // A string may not hold a comma (dnsmasq's separator).
        assert!(strings.iter().all(|s| !s.contains(',')), "{strings:?}");
        self.args.push(format!(
            "--txt-record={},{}",
            name.trim_end_matches('.'),
            strings.join(",")
        ));
        self
    }

    /// TXT record `name` → `text`, split into 250-byte strings (a DNS
    /// character-string holds 255; a 2048-bit DKIM key needs two).
    #[must_use]
    pub fn txt(self, name: &str, text: &str) -> Self {
        let parts: Vec<String> = text
            .as_bytes()
            .chunks(250)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.txt_record(name, &parts)
    }

    /// Queries for `domain` (and names under it) are forwarded to `server`:
    /// a server that never answers makes them time out.
    #[must_use]
    pub fn forward(mut self, domain: &str, server: std::net::SocketAddrV4) -> Self {
        self.args.push(format!(
            "--server=/{domain}/{}#{}",
            server.ip(),
            server.port()
        ));
        self
    }

    /// Another port than the gateway's (a second dnsmasq for a peer that
    /// needs records the gateway must not see, or made after it started).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts dnsmasq and waits until it answers a query.
    ///
    /// # Panics
    /// When dnsmasq does not start or never answers.
    #[must_use]
    pub fn start(self) -> Dns {
        let dir = tempfile::Builder::new()
            .prefix("bw-dns-")
            .tempdir()
            .expect("dns temp dir");
        let log = dir.path().join("dnsmasq.log");
        let mut cmd = Command::new("dnsmasq");
        cmd.arg("--keep-in-foreground")
            .arg("--conf-file=/dev/null")
            .arg("--no-resolv")
            .arg("--no-hosts")
            .arg("--no-poll")
            .arg("--bind-interfaces")
            .arg(format!("--listen-address={}", self.ip))
            .arg(format!("--port={}", self.port))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("dnsmasq.pid").display()
            ))
            .arg(format!("--log-facility={}", log.display()))
            .arg("--log-queries")
            // Names nobody configured are NXDOMAIN, not REFUSED.
            .arg("--local=/#/")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            cmd.arg("--user=root");
        }
        let child = cmd
            .spawn()
            .expect("spawn dnsmasq (is dnsmasq-base installed? run tools/test)");
        let mut dns = Dns {
            ip: self.ip,
            port: self.port,
            child: Some(child),
            log,
            _dir: dir,
        };
        let answered = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = dns.child.as_mut().map(Child::try_wait) {
                panic!("dnsmasq exited early ({status}):\n{}", tail(&dns.log, 20));
            }
            dns.answers().then_some(())
        });
        assert!(
            answered.is_some(),
            "dnsmasq on {}:{} never answered:\n{}",
            dns.ip,
            dns.port,
            tail(&dns.log, 20)
        );
        dns
    }
}

/// A running dnsmasq, killed on drop.
#[derive(Debug)]
pub struct Dns {
    ip: Ipv4Addr,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
    _dir: TempDir,
}

impl Dns {
    /// Records for this test's DNS address (`127.3.n.53:5353`).
    #[must_use]
    pub fn builder(net: &TestNet) -> DnsBuilder {
        DnsBuilder {
            ip: net.dns_ip(),
            port: crate::net::DNS_PORT,
            args: Vec::new(),
        }
    }

    /// dnsmasq's query log (with `--log-queries`).
    #[must_use]
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn answers(&self) -> bool {
        self.query_with_timeout("ready.test", QTYPE_A, Duration::from_millis(300))
            .is_some()
    }

    /// Asks dnsmasq one question (`qtype` 1 = A, 12 = PTR) and returns the
    /// response code and the number of answers, `None` without a response.
    #[must_use]
    pub fn query(&self, name: &str, qtype: u16) -> Option<(u8, u16)> {
        self.query_with_timeout(name, qtype, Duration::from_secs(5))
    }

    fn query_with_timeout(&self, name: &str, qtype: u16, timeout: Duration) -> Option<(u8, u16)> {
        let sock = UdpSocket::bind((self.ip, 0)).ok()?;
        sock.set_read_timeout(Some(timeout)).ok()?;
        // Header: id 0xb00b, RD, one question; then name, type, class IN.
        let mut q = vec![0xb0, 0x0b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.trim_end_matches('.').split('.') {
            q.push(u8::try_from(label.len()).ok()?);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        sock.send_to(&q, (self.ip, self.port)).ok()?;
        let mut buf = [0u8; 1500];
        let (len, _) = sock.recv_from(&mut buf).ok()?;
        if len < 12 || buf[..2] != [0xb0, 0x0b] {
            return None;
        }
        Some((buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]])))
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}
