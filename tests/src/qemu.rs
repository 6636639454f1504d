//! The appliance image in QEMU (TCG: no KVM on these machines).
//!
//! A [`Vm`] boots a copy-on-write overlay of the built image (`tools/image
//! build`, `target/image/breakwater.raw`), so every test starts from the
//! factory image and the image itself is never written. The machine:
//!
//! ```text
//!   NIC 00:03.0 Management  slirp 192.168.42.0/24, host 192.168.42.1,
//!                           DHCP (slirp's) from 192.168.42.42,
//!                           127.0.0.1:PH → :443 (HTTPS), 127.0.0.1:PS → :22 (SSH)
//!   NIC 00:04.0 Data 1      slirp 10.0.1.0/24, host 10.0.1.2, 127.0.0.1:P1 → 10.0.1.15:25,
//!                           127.0.0.1:PD → 10.0.1.15:443 (must stay closed)
//!   NIC 00:05.0 Data 2      slirp 10.0.2.0/24, host 10.0.2.2, 127.0.0.1:P2 → 10.0.2.15:25
//!   disk (virtio, or AHCI for the VMware stand-in), i6300esb watchdog (reset),
//!   virtio-rng (entropy; TCG's CPU has no RDRAND)
//!   ttyS0 → a unix socket: the [`Serial`] console (kernel log and login)
//! ```
//!
//! The guest reaches the host's loopback at each network's host address
//! (slirp), so next hops run on 127.0.0.1 and routes name 10.0.x.2.
//! Readiness is always a banner read, never a bare connect: slirp accepts
//! the host side before the guest listens.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::proc::kill_and_reap;
use crate::{SmtpConn, TlsCert};

/// How long a boot may take under TCG on a loaded two-core machine.
pub const BOOT: Duration = Duration::from_secs(240);

/// Management's address in the guest: the board's factory static address,
/// and the first one slirp's DHCP server hands out (the `vesa` board asks
/// DHCP on its first boot), so both ways give the same address.
pub const GUEST_MGMT: Ipv4Addr = Ipv4Addr::new(192, 168, 42, 42);
/// Data 1's address in the guest (the tests configure it).
pub const GUEST_DATA1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 15);
/// Data 2's address in the guest.
pub const GUEST_DATA2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The host as Data 1's network sees it.
pub const HOST_VIA_DATA1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// The host as Data 2's network sees it (and where relayed clients come from).
pub const HOST_VIA_DATA2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The host as the Management network sees it.
pub const HOST_VIA_MGMT: Ipv4Addr = Ipv4Addr::new(192, 168, 42, 1);

/// The directory `tools/image build` writes to (`BREAKWATER_IMAGE_DIR`
/// overrides it).
pub fn image_dir() -> PathBuf {
    std::env::var_os("BREAKWATER_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("image")
        })
}

/// Which disk the VM boots and how it is attached.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// The image to boot (raw, qcow2 or vmdk); an overlay is put on top.
    pub image: PathBuf,
    pub format: &'static str,
    /// `virtio` (KVM/Proxmox) or `ahci` (the VMware stand-in).
    pub disk: &'static str,
    /// `virtio-net-pci`, `e1000e` or `vmxnet3`.
    pub nic: &'static str,
    /// UEFI (OVMF) instead of SeaBIOS.
    pub uefi: bool,
    /// The i6300esb watchdog (VMware has none).
    pub watchdog: bool,
    /// `cache=` of the disk.
    pub cache: &'static str,
}

impl VmSpec {
    /// The vESA VM: the raw image on virtio, virtio NICs, i6300esb.
    pub fn vesa() -> VmSpec {
        VmSpec {
            image: image_dir().join("breakwater.raw"),
            format: "raw",
            disk: "virtio",
            nic: "virtio-net-pci",
            uefi: false,
            watchdog: true,
            cache: "writethrough",
        }
    }

    /// The VMware stand-in: the streamOptimized VMDK on AHCI, e1000e NICs,
    /// no watchdog device.
    pub fn vmware() -> VmSpec {
        VmSpec {
            image: image_dir().join("breakwater.vmdk"),
            format: "vmdk",
            disk: "ahci",
            nic: "e1000e",
            uefi: false,
            watchdog: false,
            cache: "writethrough",
        }
    }
}

/// A booted (or booting) appliance VM.
pub struct Vm {
    pub spec: VmSpec,
    dir: TempDir,
    child: Option<Child>,
    pub serial: Serial,
    /// Host ports forwarded to Data 1 and Data 2 port 25.
    pub data1: SocketAddrV4,
    pub data2: SocketAddrV4,
    /// Host ports forwarded to Management's HTTPS (443) and SSH (22).
    pub mgmt_https: SocketAddrV4,
    pub mgmt_ssh: SocketAddrV4,
    /// Host port forwarded to Data 1 port 443, where nothing may answer.
    pub data1_https: SocketAddrV4,
    /// When QEMU was last started (for boot-time reports).
    pub started: Instant,
}

/// A free TCP port on 127.0.0.1 (bound, then released for QEMU to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Vm {
    /// Makes the overlay disk and boots it.
    ///
    /// # Panics
    /// When the image is missing (run `tools/image build`) or QEMU fails.
    pub fn boot(spec: VmSpec) -> Vm {
        assert!(
            spec.image.exists(),
            "no image at {} (run tools/image build)",
            spec.image.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-vm-")
            .tempdir()
            .expect("vm temp dir");
        let overlay = dir.path().join("disk.qcow2");
        let made = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", spec.format, "-b"])
            .arg(std::fs::canonicalize(&spec.image).expect("image path"))
            .arg(&overlay)
            .status()
            .expect("qemu-img (package qemu-utils)");
        assert!(made.success(), "qemu-img create failed");
        let data1 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
        let data2 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
        let loopback = || SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
        let (mgmt_https, mgmt_ssh, data1_https) = (loopback(), loopback(), loopback());
        let serial = Serial::new(dir.path().join("serial.log"));
        let mut vm = Vm {
            spec,
            dir,
            child: None,
            serial,
            data1,
            data2,
            mgmt_https,
            mgmt_ssh,
            data1_https,
            started: Instant::now(),
        };
        vm.start();
        vm
    }

    /// The overlay disk (what the guest wrote lives here).
    pub fn disk(&self) -> PathBuf {
        self.dir.path().join("disk.qcow2")
    }

    /// A file in the VM's own temp directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts QEMU on the existing overlay (the first boot, or after
    /// [`Vm::power_cut`]).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the VM is already running");
        let sock = self.dir.path().join("serial.sock");
        let _ = std::fs::remove_file(&sock);
        let s = &self.spec;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "pc", "-m", "1024", "-smp", "1"])
            .args(["-display", "none", "-vga", "none", "-monitor", "none"])
            .args(["-accel", "tcg"])
            .arg("-chardev")
            .arg(format!(
                "socket,id=s0,path={},server=on,wait=on",
                sock.display()
            ))
            .args(["-serial", "chardev:s0"]);
        if s.uefi {
            let vars = self.dir.path().join("OVMF_VARS.fd");
            if !vars.exists() {
                std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
                    .expect("OVMF vars (package ovmf)");
            }
            cmd.arg("-drive")
                .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
                .arg("-drive")
                .arg(format!("if=pflash,format=raw,file={}", vars.display()));
        }
        let disk = format!(
            "file={},format=qcow2,if=none,id=d0,cache={}",
            self.disk().display(),
            s.cache
        );
        cmd.arg("-drive").arg(disk);
        match s.disk {
            "ahci" => cmd
                .args(["-device", "ahci,id=ahci0,addr=0x6"])
                .args(["-device", "ide-hd,drive=d0,bus=ahci0.0,bootindex=1"]),
            _ => cmd.args(["-device", "virtio-blk-pci,drive=d0,addr=0x6,bootindex=1"]),
        };
        let nets = [
            (
                "n0",
                "192.168.42.0/24",
                "192.168.42.1",
                vec![
                    (self.mgmt_https.port(), GUEST_MGMT, 443),
                    (self.mgmt_ssh.port(), GUEST_MGMT, 22),
                ],
                3,
            ),
            (
                "n1",
                "10.0.1.0/24",
                "10.0.1.2",
                vec![
                    (self.data1.port(), GUEST_DATA1, 25),
                    (self.data1_https.port(), GUEST_DATA1, 443),
                ],
                4,
            ),
            (
                "n2",
                "10.0.2.0/24",
                "10.0.2.2",
                vec![(self.data2.port(), GUEST_DATA2, 25)],
                5,
            ),
        ];
        for (id, net, host, fwds, slot) in nets {
            let mut netdev = format!("user,id={id},net={net},host={host},ipv6=off");
            if id == "n0" {
                netdev.push_str(&format!(",dhcpstart={GUEST_MGMT}"));
            }
            for (port, guest, guest_port) in fwds {
                netdev.push_str(&format!(
                    ",hostfwd=tcp:127.0.0.1:{port}-{guest}:{guest_port}"
                ));
            }
            cmd.arg("-netdev").arg(netdev);
            cmd.arg("-device")
                .arg(format!("{},netdev={id},addr=0x{slot:x},romfile=", s.nic));
        }
        // An entropy source, as libvirt and Proxmox give a KVM guest.
        cmd.args(["-object", "rng-random,id=rng0,filename=/dev/urandom"])
            .args(["-device", "virtio-rng-pci,rng=rng0,addr=0x8"]);
        if s.watchdog {
            cmd.args(["-device", "i6300esb,addr=0x7"])
                .args(["-action", "watchdog=reset"]);
        }
        let log = std::fs::File::create(self.dir.path().join("qemu.log")).expect("qemu log");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup qemu log"))
            .stderr(log);
        let child = cmd
            .spawn()
            .expect("qemu-system-x86_64 (package qemu-system-x86)");
        self.child = Some(child);
        // wait=on: QEMU starts the guest once the console is connected, so
        // nothing the kernel prints is lost.
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                        panic!(
                            "qemu exited at once ({status}):\n{}",
                            std::fs::read_to_string(self.dir.path().join("qemu.log"))
                                .unwrap_or_default()
                        );
                    }
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot connect to the serial console socket: {e}"),
            }
        };
        self.serial.attach(stream);
    }

    /// SIGKILL of the QEMU process itself: the power cut. What the guest
    /// fsynced is on the overlay; its page cache is gone.
    pub fn power_cut(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_and_reap(&mut c);
        }
        self.serial.detach();
    }

    /// Whether QEMU still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits for QEMU to exit by itself (a powered-off guest).
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !self.is_running() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Waits for the SMTP banner on a forwarded port (the listener is up).
    pub fn wait_banner(&self, addr: SocketAddrV4, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(b) = read_banner(addr) {
                return Some(b);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    }
}

fn read_banner(addr: SocketAddrV4) -> Option<String> {
    let (mut conn, banner) = SmtpConn::connect(Ipv4Addr::LOCALHOST, addr).ok()?;
    let _ = conn.cmd("QUIT");
    (banner.code == 220).then(|| banner.text())
}

impl Drop for Vm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- serial console (last 80 lines of {}) ---\n{}",
                self.serial.log.display(),
                self.serial.tail(80)
            );
            // Keep the evidence when asked to.
            if std::env::var_os("BREAKWATER_KEEP_VM").is_some() {
                let kept = self.dir.path().to_path_buf();
                eprintln!("keeping {}", kept.display());
                std::mem::forget(std::mem::replace(
                    &mut self.dir,
                    tempfile::tempdir().expect("temp dir"),
                ));
            }
        }
        self.power_cut();
    }
}

/// The serial console: everything the guest printed (kernel log, init's
/// lines, the login prompt) in one buffer, read by a thread, and a writer.
pub struct Serial {
    log: PathBuf,
    buf: Arc<(Mutex<Vec<u8>>, Condvar)>,
    writer: Option<UnixStream>,
    /// Where [`Serial::expect`] continues from.
    mark: usize,
}

impl Serial {
    fn new(log: PathBuf) -> Serial {
        Serial {
            log,
            buf: Arc::new((Mutex::new(Vec::new()), Condvar::new())),
            writer: None,
            mark: 0,
        }
    }

    fn attach(&mut self, stream: UnixStream) {
        let mut reader = stream.try_clone().expect("clone serial stream");
        self.writer = Some(stream);
        let buf = self.buf.clone();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("serial log");
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&chunk[..n]);
                let (lock, cv) = &*buf;
                lock.lock()
                    .expect("serial buffer")
                    .extend_from_slice(&chunk[..n]);
                cv.notify_all();
            }
        });
    }

    fn detach(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Everything printed so far, as text.
    pub fn text(&self) -> String {
        let (lock, _) = &*self.buf;
        String::from_utf8_lossy(&lock.lock().expect("serial buffer")).into_owned()
    }

    /// The last `lines` lines.
    pub fn tail(&self, lines: usize) -> String {
        let t = self.text();
        let all: Vec<&str> = t.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Skips everything printed so far: the next [`Serial::expect`] only
    /// looks at what comes after.
    pub fn skip(&mut self) {
        let (lock, _) = &*self.buf;
        self.mark = lock.lock().expect("serial buffer").len();
    }

    /// Waits for `needle` after the mark; moves the mark past it and returns
    /// the text up to and including it.
    ///
    /// # Panics
    /// At the timeout, with the console's tail.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        self.expect_any(&[needle], timeout)
    }

    /// Waits for whichever of `needles` comes first after the mark; returns
    /// the text up to and including it (so `ends_with` tells which).
    ///
    /// # Panics
    /// At the timeout, with the console's tail.
    pub fn expect_any(&mut self, needles: &[&str], timeout: Duration) -> String {
        match self.wait_any(needles, timeout) {
            Some(t) => t,
            None => panic!(
                "none of {needles:?} on the serial console within {} s; last lines:\n{}",
                timeout.as_secs(),
                self.tail(40)
            ),
        }
    }

    /// [`Serial::expect_any`] without the panic.
    pub fn wait_any(&mut self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.buf;
        let mut buf = lock.lock().expect("serial buffer");
        loop {
            let start = self.mark.min(buf.len());
            let first = needles
                .iter()
                .filter_map(|n| find(&buf[start..], n.as_bytes()).map(|p| (p, n.len())))
                .min();
            if let Some((pos, len)) = first {
                let end = start + pos + len;
                self.mark = end;
                return Some(String::from_utf8_lossy(&buf[start..end]).into_owned());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            buf = cv
                .wait_timeout(buf, deadline - now)
                .expect("serial buffer")
                .0;
        }
    }

    /// Types `text` (slowly enough for a 16550 without flow control).
    pub fn send(&mut self, text: &str) {
        let w = self.writer.as_mut().expect("serial console attached");
        for chunk in text.as_bytes().chunks(16) {
            w.write_all(chunk).expect("write to the serial console");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types a line and Enter.
    pub fn line(&mut self, text: &str) {
        self.send(&format!("{text}\r"));
    }

    /// Runs a console command at the prompt `prompt` and returns what it
    /// printed up to the next prompt.
    pub fn command(&mut self, prompt: &str, cmd: &str, timeout: Duration) -> String {
        self.line(cmd);
        // The echo of the command line itself comes first.
        self.expect(cmd, Duration::from_secs(30));
        let out = self.expect(prompt, timeout);
        out.trim_end_matches(prompt).to_string()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTPS file server on 127.0.0.1 for `upgrade install https://...`:
/// Python's `http.server` behind TLS, with a certificate for the host's
/// address on the Management network (192.168.42.1) issued by a CA made
/// for the test ([`TlsCert`]), which the appliance is told to trust.
pub struct HttpsServer {
    port: u16,
    child: Child,
    ca_pem: String,
    _certs: TempDir,
}

const HTTPS_SERVER: &str = r#"
import http.server, ssl, sys, os
root, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.chdir(root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"#;

impl HttpsServer {
    /// Serves the files of `root`.
    ///
    /// # Panics
    /// When openssl or python3 fail.
    pub fn start(root: &Path) -> HttpsServer {
        let certs = tempfile::tempdir().expect("cert dir");
        let ca = TlsCert::ca(certs.path(), "upgrade-ca");
        let srv = TlsCert::issued(
            certs.path(),
            "upgrade-server",
            &HOST_VIA_MGMT.to_string(),
            &ca,
        );
        let port = free_port();
        let child = Command::new("python3")
            .arg("-c")
            .arg(HTTPS_SERVER)
            .arg(root)
            .arg(port.to_string())
            .arg(&srv.chain)
            .arg(&srv.key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the HTTPS server never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
        let ca_pem = std::fs::read_to_string(&ca.cert).expect("the CA certificate");
        HttpsServer {
            port,
            child,
            ca_pem,
            _certs: certs,
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The URL of `file` as the guest reaches it over Management.
    pub fn url_via_management(&self, file: &str) -> String {
        format!("https://{HOST_VIA_MGMT}:{}/{file}", self.port)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}
