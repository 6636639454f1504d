//! Debian's `clamav-daemon` (clamd) on a loopback TCP port, with a
//! signature database the test writes: one MD5 signature (`.hdb`) for the
//! EICAR test file, which clamd also finds inside a base64 MIME
//! attachment (it decodes mail). The package ships no signatures and
//! nothing is downloaded (freshclam never runs). Killed on drop.

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::proc::{is_root, kill_and_reap, tail};

const CLAMD: &str = "/usr/sbin/clamd";

/// The signature's name; clamd reports it with `.UNOFFICIAL` appended
/// (a database that is not ClamAV's own).
pub const EICAR_SIGNATURE: &str = "Breakwater.Test.EICAR.UNOFFICIAL";

/// The EICAR anti-virus test file, put together at run time so this
/// source file does not itself look like the test file to a scanner.
#[must_use]
pub fn eicar() -> Vec<u8> {
    let parts = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-",
        "ANTIVIRUS-TEST-FILE!$H+H*",
    ];
    parts.concat().into_bytes()
}

pub struct Clamd {
    child: Option<Child>,
    addr: SocketAddrV4,
    dir: tempfile::TempDir,
}

impl Clamd {
    /// Starts clamd on `addr` and waits until it answers `PING`.
    ///
    /// # Panics
    /// When clamd is missing (tools/packages.txt lists `clamav-daemon`)
    /// or does not answer.
    #[must_use]
    pub fn start(addr: SocketAddrV4) -> Clamd {
        let dir = tempfile::Builder::new()
            .prefix("bw-clamd-")
            .tempdir()
            .expect("clamd temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("clamd db dir");
        let file = eicar();
        let md5 = md5_hex(&file);
        std::fs::write(
            db.join("breakwater-test.hdb"),
            format!("{md5}:{}:Breakwater.Test.EICAR\n", file.len()),
        )
        .expect("write the signature");
        let conf = dir.path().join("clamd.conf");
        let mut text = format!(
            "Foreground yes\nTCPSocket {}\nTCPAddr {}\nDatabaseDirectory {}\nLogFile {}\nPidFile {}\n",
            addr.port(),
            addr.ip(),
            db.display(),
            dir.path().join("clamd.log").display(),
            dir.path().join("clamd.pid").display(),
        );
        if is_root() {
            // Keep root: the temp dir is root's.
            text.push_str("User root\n");
        }
        std::fs::write(&conf, text).expect("write clamd.conf");
        let child = Command::new(CLAMD)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {CLAMD} ({e}): install `clamav-daemon` (tools/packages.txt)")
            });
        let clamd = Clamd {
            child: Some(child),
            addr,
            dir,
        };
        let up = crate::wait_until(crate::SOON, || clamd.ping().then_some(()));
        assert!(
            up.is_some(),
            "clamd does not answer on {addr}:\n{}",
            clamd.log()
        );
        clamd
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Whether clamd answers `zPING` with `PONG`.
    #[must_use]
    pub fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&self.addr.into(), Duration::from_secs(2))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"zPING\0").is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"PONG"))
    }

    /// Stops clamd (the engine goes down mid-run).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_and_reap(&mut c);
        }
    }

    /// The end of clamd's log, for failure messages.
    #[must_use]
    pub fn log(&self) -> String {
        tail(&self.dir.path().join("clamd.log"), 30)
    }

    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// MD5 through coreutils' `md5sum` (the signature format is MD5; the
/// tests need no hashing crate for it).
fn md5_hex(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum (coreutils)");
    child
        .stdin
        .take()
        .expect("md5sum stdin")
        .write_all(data)
        .expect("write to md5sum");
    let out = child.wait_with_output().expect("md5sum output");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
