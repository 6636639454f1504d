//! A DNSSEC-signed DNS for the DANE tests: BIND (`named` from Debian's
//! `bind9`) serving a private, signed root zone and the zones under it,
//! authoritative only, on `127.0.0.1:<25300 + n>`.
//!
//! ```text
//!   .            signed (KSK + ZSK)   the gateway's only trust anchor: the root KSK
//!   ├── ok.test  signed, DS in .      secure delegation
//!   └── plain.test unsigned, no DS    provably insecure delegation
//! ```
//!
//! Why a private root rather than anchoring each test zone: hickory 0.26
//! trusts a non-root zone's DNSKEY RRset without a DS only when every key
//! of it is an anchor (a KSK alone makes it fetch the zone's DS from the
//! zone itself and loop), while a root key validates its RRset by itself.
//! A root anchor also walks the DS → DNSKEY chain that real zones rely on.
//!
//! BIND listens only on addresses configured on an interface, and of
//! 127/8 only 127.0.0.1 is, so the test's slot picks the port instead of
//! the address. Keys are made with `dnssec-keygen` (ECDSAP256SHA256) and
//! zones signed with `dnssec-signzone`, from `bind9-utils`.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::TestNet;
use crate::proc::{is_root, kill_and_reap, tail};
use crate::{SOON, wait_until};

/// `named`'s port is this plus the test's slot number.
pub const BIND_PORT_BASE: u16 = 25300;

const NAMED: &str = "/usr/sbin/named";

/// A BIND utility from `/usr/bin` or `/usr/sbin` (Debian has moved them
/// between releases), else whatever `PATH` finds.
fn bind_tool(name: &str) -> PathBuf {
    ["/usr/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Zones to serve; [`BindBuilder::start`] signs them and starts `named`.
#[derive(Debug, Default)]
pub struct BindBuilder {
    /// Zone name (no trailing dot) → (signed, zone-file lines).
    zones: BTreeMap<String, (bool, Vec<String>)>,
}

impl BindBuilder {
    /// A zone signed with its own KSK and ZSK, with its DS in the root.
    #[must_use]
    pub fn signed_zone(mut self, zone: &str) -> Self {
        self.zones.insert(zone.to_string(), (true, Vec::new()));
        self
    }

    /// A zone delegated from the root without a DS: provably insecure.
    #[must_use]
    pub fn unsigned_zone(mut self, zone: &str) -> Self {
        self.zones.insert(zone.to_string(), (false, Vec::new()));
        self
    }

    /// A record in zone-file form with an absolute owner name
    /// (`mx.ok.test. IN A 127.6.1.1`); it goes to the zone that holds it.
    ///
    /// # Panics
    /// When no zone added so far holds the owner name.
    #[must_use]
    pub fn record(mut self, line: &str) -> Self {
        let owner = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let zone = self
            .zones
            .keys()
            .filter(|z| owner == **z || owner.ends_with(&format!(".{z}")))
            .max_by_key(|z| z.len())
            .cloned()
            .unwrap_or_else(|| panic!("no zone for {line}"));
        if let Some((_, lines)) = self.zones.get_mut(&zone) {
            lines.push(line.to_string());
        }
        self
    }

    /// `domain` MX `preference` `host`.
    #[must_use]
    pub fn mx(self, domain: &str, host: &str, preference: u16) -> Self {
        self.record(&format!("{domain}. IN MX {preference} {host}."))
    }

    /// `host` A `ip`.
    #[must_use]
    pub fn a(self, host: &str, ip: Ipv4Addr) -> Self {
        self.record(&format!("{host}. IN A {ip}"))
    }

    /// TLSA at `_25._tcp.<host>` with hex data.
    #[must_use]
    pub fn tlsa(self, host: &str, usage: u8, selector: u8, matching: u8, hex: &str) -> Self {
        self.record(&format!(
            "_25._tcp.{host}. IN TLSA {usage} {selector} {matching} {hex}"
        ))
    }

    /// Signs the zones and starts `named`; waits until it answers.
    ///
    /// # Panics
    /// When the BIND tools are missing, signing fails, the port is taken
    /// or `named` never answers.
    #[must_use]
    pub fn start(self, net: &TestNet) -> Bind {
        assert!(
            Path::new(NAMED).exists(),
            "{NAMED} missing: install bind9 and bind9-utils (tools/test does)"
        );
        let port = BIND_PORT_BASE + u16::from(net.n());
        assert!(
            UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
                && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok(),
            "127.0.0.1:{port} (BIND for slot {}) is taken",
            net.n()
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-bind-")
            .tempdir()
            .expect("bind temp dir");
        let d = dir.path();
        let mut root = vec![
            ". IN SOA ns. hostmaster. 1 3600 600 86400 300".to_string(),
            ". IN NS ns.".to_string(),
            "ns. IN A 127.0.0.1".to_string(),
        ];
        let mut conf_zones = String::new();
        for (zone, (signed, lines)) in &self.zones {
            let mut text = vec![
                format!("{zone}. IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300"),
                format!("{zone}. IN NS ns.{zone}."),
                format!("ns.{zone}. IN A 127.0.0.1"),
            ];
            text.extend(lines.iter().cloned());
            root.push(format!("{zone}. IN NS ns.{zone}."));
            root.push(format!("ns.{zone}. IN A 127.0.0.1"));
            let file = if *signed {
                let signed_file = sign(d, zone, &text);
                let dsset = fs::read_to_string(d.join(format!("dsset-{zone}.")))
                    .expect("dnssec-signzone wrote the DS set");
                root.extend(dsset.lines().map(str::to_string));
                signed_file
            } else {
                let f = d.join(format!("{zone}.zone"));
                fs::write(&f, zone_text(&text)).expect("write zone");
                f
            };
            conf_zones.push_str(&format!(
                "zone \"{zone}\" {{ type primary; file \"{}\"; }};\n",
                file.display()
            ));
        }
        let root_file = sign(d, ".", &root);
        let root_ksk = fs::read_to_string(d.join("root.ksk")).expect("root KSK name");
        let anchor = key_record(&d.join(format!("{}.key", root_ksk.trim())));
        let conf = d.join("named.conf");
        fs::write(
            &conf,
            format!(
                r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
zone "." {{ type primary; file "{root}"; }};
{conf_zones}"#,
                dir = d.display(),
                root = root_file.display(),
            ),
        )
        .expect("write named.conf");
        let log = d.join("named.log");
        let out = fs::File::create(&log).expect("named log");
        let err = out.try_clone().expect("named log");
        let mut cmd = Command::new(NAMED);
        cmd.arg("-g").arg("-c").arg(&conf);
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn named");
        let mut bind = Bind {
            port,
            child: Some(child),
            log,
            anchor,
            _dir: dir,
        };
        let answered = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = bind.child.as_mut().map(Child::try_wait) {
                panic!("named exited early ({status}):\n{}", tail(&bind.log, 30));
            }
            bind.answers().then_some(())
        });
        assert!(
            answered.is_some(),
            "named on 127.0.0.1:{port} never answered:\n{}",
            tail(&bind.log, 30)
        );
        bind
    }
}

/// A running `named`, killed on drop.
#[derive(Debug)]
pub struct Bind {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
    anchor: String,
    _dir: TempDir,
}

impl Bind {
    #[must_use]
    pub fn builder() -> BindBuilder {
        BindBuilder::default()
    }

    /// `"127.0.0.1:<port>"`, the form `dnsconfig servers` takes.
    #[must_use]
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The private root's KSK as a DNSKEY record on one line, the form
    /// `dnsconfig trustanchor add` takes.
    #[must_use]
    pub fn trust_anchor(&self) -> &str {
        &self.anchor
    }

    /// `named`'s output.
    #[must_use]
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether `named` answers a SOA query for the root.
    fn answers(&self) -> bool {
        let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
            return false;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
        // Header: id 0xda1e, no flags, one question; root name, SOA, IN.
        let q = [0xda, 0x1e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
        if sock.send_to(&q, (Ipv4Addr::LOCALHOST, self.port)).is_err() {
            return false;
        }
        let mut buf = [0u8; 1500];
        matches!(sock.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[..2] == [0xda, 0x1e])
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- named (last 20 lines) ----\n{}", tail(&self.log, 20));
        }
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}

fn zone_text(lines: &[String]) -> String {
    let mut text = String::from("$TTL 300\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text
}

/// Makes a KSK and a ZSK for `zone` (`.` for the root), signs the zone
/// and returns the signed file. The root's KSK name goes to `root.ksk`.
fn sign(dir: &Path, zone: &str, lines: &[String]) -> PathBuf {
    let origin = if zone == "." {
        ".".to_string()
    } else {
        format!("{zone}.")
    };
    let keygen = |ksk: bool| {
        let mut cmd = Command::new(bind_tool("dnssec-keygen"));
        cmd.current_dir(dir)
            .args(["-q", "-a", "ECDSAP256SHA256", "-n", "ZONE", "-K"])
            .arg(dir);
        if ksk {
            cmd.args(["-f", "KSK"]);
        }
        let out = cmd
            .arg(&origin)
            .output()
            .expect("run dnssec-keygen (install bind9-utils; tools/test does)");
        assert!(
            out.status.success(),
            "dnssec-keygen {origin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let ksk = keygen(true);
    let zsk = keygen(false);
    if zone == "." {
        fs::write(dir.join("root.ksk"), &ksk).expect("write root.ksk");
    }
    let name = if zone == "." { "root" } else { zone };
    let unsigned = dir.join(format!("{name}.zone"));
    let mut text = zone_text(lines);
    for key in [&ksk, &zsk] {
        text.push_str(&key_record(&dir.join(format!("{key}.key"))));
        text.push('\n');
    }
    fs::write(&unsigned, text).expect("write zone");
    let signed = dir.join(format!("{name}.zone.signed"));
    let out = Command::new(bind_tool("dnssec-signzone"))
        .current_dir(dir)
        .args(["-q", "-S", "-N", "keep", "-K"])
        .arg(dir)
        .arg("-d")
        .arg(dir)
        .arg("-o")
        .arg(&origin)
        .arg("-f")
        .arg(&signed)
        .arg(&unsigned)
        .output()
        .expect("run dnssec-signzone");
    assert!(
        out.status.success(),
        "dnssec-signzone {origin}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    signed
}

/// The DNSKEY record of a `dnssec-keygen` `.key` file, on one line.
fn key_record(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read key file");
    text.lines()
        .find(|l| !l.trim_start().starts_with(';') && l.contains("DNSKEY"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| panic!("no DNSKEY in {}", path.display()))
}
