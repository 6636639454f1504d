//! Debian's `chronyd` as an NTP server on a loopback address and an
//! unprivileged port, serving its own clock (`local stratum 8`), never
//! touching the system clock (`-x`), with no command port. Killed on drop.

use std::net::{SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::proc::{is_root, kill_and_reap, tail};

/// The port chronyd serves NTP on in the tests.
pub const CHRONY_NTP_PORT: u16 = 11123;

/// The stratum chronyd claims for its local clock.
pub const CHRONY_STRATUM: u8 = 8;

pub struct Chrony {
    child: Option<Child>,
    addr: SocketAddrV4,
    dir: tempfile::TempDir,
}

impl Chrony {
    /// Starts chronyd on `addr` and waits until it answers an NTP query.
    ///
    /// # Panics
    /// When chronyd is missing (tools/packages.txt lists `chrony`) or
    /// does not answer.
    #[must_use]
    pub fn start(addr: SocketAddrV4) -> Chrony {
        let dir = tempfile::Builder::new()
            .prefix("bw-chrony-")
            .tempdir()
            .expect("chrony temp dir");
        let conf = dir.path().join("chrony.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbindaddress {ip}\nlocal stratum {CHRONY_STRATUM}\nallow 127.0.0.0/8\ncmdport 0\npidfile {pid}\ndriftfile {drift}\n",
                port = addr.port(),
                ip = addr.ip(),
                pid = dir.path().join("chronyd.pid").display(),
                drift = dir.path().join("drift").display(),
            ),
        )
        .expect("write chrony.conf");
        let log = dir.path().join("chronyd.log");
        let mut cmd = Command::new("chronyd");
        // -x: never adjust the system clock; -d: stay in the foreground.
        cmd.arg("-x").arg("-d").arg("-f").arg(&conf);
        if is_root() {
            // Keep root: the temp dir is root's.
            cmd.arg("-u").arg("root");
        } else {
            // chrony 4's switch for starting without root.
            cmd.arg("-U");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("chrony log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run chronyd ({e}): install the `chrony` package (tools/packages.txt)"
                )
            });
        let mut chrony = Chrony {
            child: Some(child),
            addr,
            dir,
        };
        let answered = crate::wait_until(crate::SOON, || chrony.stratum());
        assert!(
            answered.is_some(),
            "chronyd does not answer on {addr}:\n{}",
            chrony.log()
        );
        chrony
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// chronyd's log, for failure reports.
    #[must_use]
    pub fn log(&self) -> String {
        tail(&self.log_path(), 40)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("chronyd.log")
    }

    /// The stratum of a reply to one SNTP query, if chronyd answers.
    fn stratum(&mut self) -> Option<u8> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("chronyd exited ({status}):\n{}", self.log());
        }
        let s = UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        let mut request = [0u8; 48];
        request[0] = 0x23; // version 4, client
        request[40..48].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        s.send_to(&request, self.addr).ok()?;
        let mut reply = [0u8; 128];
        let n = s.recv(&mut reply).ok()?;
        (n >= 48).then_some(reply[1])
    }
}

impl Drop for Chrony {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}
