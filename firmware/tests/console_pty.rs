//! The console through a real pty, as `breakwater console` on a terminal,
//! against a real daemon (`breakwater run`) started as a child process:
//! first login with the forced passphrase change, a change, an
//! interactive commit, logout.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use breakwater::console::DaemonLink;

const BIN: &str = env!("CARGO_BIN_EXE_breakwater");
/// Debug-build argon2 at full cost takes about a second per hash.
const WAIT: Duration = Duration::from_secs(60);

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn start_daemon(dir: &Path) -> Daemon {
    let board = dir.join("board.toml");
    std::fs::write(
        &board,
        r#"name = "console-pty"
description = "console pty test"
listener_port = 2525
hostname = "pty.test.local"

[[interfaces]]
name = "Management"
address = "127.6.61.1"
prefix = 8

[[interfaces]]
name = "Data 1"
address = "127.7.61.1"
prefix = 8

[[interfaces]]
name = "Data 2"
address = "127.8.61.1"
prefix = 8

[console]
device = "stdio"
baud = 115200

[watchdog]
kind = "soft"
timeout_secs = 60
"#,
    )
    .unwrap();
    let data = dir.join("data");
    let child = Command::new(BIN)
        .arg("run")
        .arg("--data-dir")
        .arg(&data)
        .arg("--board-file")
        .arg(&board)
        .arg("--quiet")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    let link = DaemonLink::new(&data);
    let deadline = Instant::now() + WAIT;
    while link.call(vec!["status".into()], None, "test").is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon
}

struct Screen {
    rx: Receiver<Vec<u8>>,
    seen: String,
}

impl Screen {
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.seen.find(text) {
                let rest = self.seen.split_off(i + text.len());
                return std::mem::replace(&mut self.seen, rest);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("no {text:?} on the pty; it shows:\n{}", self.seen),
            }
        }
    }
}

#[test]
fn console_on_a_pty_against_a_real_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let _daemon = start_daemon(dir.path());
    let data = dir.path().join("data");

    let pty = nix::pty::openpty(None, None).unwrap();
    let mut console = Command::new(BIN)
        .arg("console")
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let mut keys = File::from(pty.master);
    let mut reader = keys.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let mut screen = Screen {
        rx,
        seen: String::new(),
    };
    let mut type_line = |s: &str| keys.write_all(format!("{s}\r").as_bytes()).unwrap();

    let banner = screen.expect("login: ");
    assert!(banner.contains("Serial #: "), "{banner}");
    type_line("admin");
    screen.expect("Password: ");
    type_line("breakwater");
    screen.expect("New passphrase: ");
    type_line("pty passphrase");
    screen.expect("again: ");
    type_line("pty passphrase");
    screen.expect("Passphrase changed.");
    screen.expect("pty.test.local> ");
    type_line("smtproutes new your_domain.com mx.example.com");
    screen.expect("The change is staged");
    screen.expect("pty.test.local> ");
    type_line("commit");
    screen.expect("[]> ");
    type_line("route over the pty");
    screen.expect("Changes committed: ");
    screen.expect("pty.test.local> ");
    type_line("quit");
    let bye = screen.expect("Goodbye.");
    assert!(!bye.contains("pty passphrase"));
    assert!(console.wait().unwrap().success());

    let log = DaemonLink::new(&data)
        .call(vec!["commitlog".into()], None, "test")
        .unwrap()
        .output;
    let line = log.lines().last().unwrap_or_default();
    assert!(
        line.contains("admin") && line.ends_with("route over the pty"),
        "{log}"
    );
    let last = DaemonLink::new(&data)
        .call(vec!["last".into()], None, "test")
        .unwrap()
        .output;
    assert!(last.contains("admin") && last.contains("logout"), "{last}");
}
