//! The console on a pty against a real daemon child process, through a
//! crash: a commit made at the console survives `kill -9` of the daemon,
//! an uncommitted change does not; `findevent` finds a message sent with a
//! real SMTP client; the console says the daemon is restarting instead of
//! hanging; `shutdown` stops the daemon cleanly.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use breakwater::console::DaemonLink;

const BIN: &str = env!("CARGO_BIN_EXE_breakwater");
/// Debug-build argon2 at full cost takes about a second per hash.
const WAIT: Duration = Duration::from_secs(60);
/// Data 1, where IncomingMail listens; unique to this test file.
const DATA1: &str = "127.7.72.2";
const PROMPT: &str = "crash.test.local> ";

struct Daemon(Option<Child>);

impl Daemon {
    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0.as_ref().map_or(0, |c| c.id() as i32))
    }

    /// `kill -9`: no flush, no goodbye.
    fn crash(&mut self) {
        nix::sys::signal::kill(self.pid(), nix::sys::signal::Signal::SIGKILL).unwrap();
        if let Some(mut c) = self.0.take() {
            c.wait().unwrap();
        }
    }

    /// Waits for the daemon to exit on its own; its exit status.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the daemon did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = c.wait();
        }
    }
}

fn board(dir: &Path) -> PathBuf {
    let board = dir.join("board.toml");
    std::fs::write(
        &board,
        format!(
            r#"name = "console-daemon"
description = "console crash test"
listener_port = 2525
hostname = "crash.test.local"

[[interfaces]]
name = "Management"
address = "127.7.72.1"
prefix = 8

[[interfaces]]
name = "Data 1"
address = "{DATA1}"
prefix = 8

[[interfaces]]
name = "Data 2"
address = "127.7.72.3"
prefix = 8

[console]
device = "stdio"
baud = 115200

[watchdog]
kind = "soft"
timeout_secs = 60
"#
        ),
    )
    .unwrap();
    board
}

fn start_daemon(dir: &Path) -> Daemon {
    let data = dir.join("data");
    let child = Command::new(BIN)
        .arg("run")
        .arg("--data-dir")
        .arg(&data)
        .arg("--board-file")
        .arg(board(dir))
        .arg("--quiet")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(Some(child));
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
    keys: File,
    console: Child,
}

impl Screen {
    fn open(data: &Path) -> Screen {
        let pty = nix::pty::openpty(None, None).unwrap();
        let console = Command::new(BIN)
            .arg("console")
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave))
            .spawn()
            .unwrap();
        let keys = File::from(pty.master);
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
        Screen {
            rx,
            seen: String::new(),
            keys,
            console,
        }
    }

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

    fn line(&mut self, s: &str) {
        self.keys.write_all(format!("{s}\r").as_bytes()).unwrap();
    }

    fn command(&mut self, s: &str) -> String {
        self.line(s);
        self.expect(PROMPT)
    }
}

/// One message through IncomingMail with a plain SMTP client.
fn send_mail(from: &str, to: &str, subject: &str) {
    let stream = TcpStream::connect((DATA1, 2525)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut reply = |expect: &str| {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(expect), "expected {expect}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    };
    reply("220");
    for (cmd, code) in [
        ("EHLO client.example.net".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
        (
            format!("From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHello.\r\n."),
            "250",
        ),
        ("QUIT".to_string(), "221"),
    ] {
        writer.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        reply(code);
    }
}

#[test]
fn a_commit_survives_kill_9_and_findevent_finds_a_real_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut daemon = start_daemon(dir.path());

    let mut s = Screen::open(&data);
    s.expect("login: ");
    s.line("admin");
    s.expect("Password: ");
    s.line("breakwater");
    s.expect("New passphrase: ");
    s.line("crash passphrase");
    s.expect("again: ");
    s.line("crash passphrase");
    s.expect(PROMPT);
    assert!(
        s.command("listenerconfig edit IncomingMail rcptaccess new example.com accept")
            .contains("staged")
    );
    assert!(
        s.command("smtproutes new example.com /dev/null")
            .contains("staged")
    );
    s.line("commit");
    s.expect("[]> ");
    s.line("accept example.com, discard it");
    s.expect("Changes committed: ");
    s.expect(PROMPT);

    send_mail("alice@example.net", "bob@example.com", "crash test");
    let link = DaemonLink::new(&data);
    let deadline = Instant::now() + WAIT;
    loop {
        let found = link
            .call(
                vec!["findevent".into(), "--to".into(), "BOB@example.com".into()],
                None,
                "test",
            )
            .unwrap()
            .output;
        if found.contains("Message finished") {
            break;
        }
        assert!(Instant::now() < deadline, "findevent:\n{found}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let found = s.command("findevent --subject \"CRASH TEST\"");
    for expected in [
        "1 message(s) found: MID ",
        "New SMTP ICID ",
        "From: <alice@example.net>",
        "To: <bob@example.com>",
        "Subject 'crash test'",
        "dropped by the /dev/null SMTP route",
        "Message finished MID ",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
    assert!(s.command("tail 3").contains("Message finished MID "));
    assert!(
        s.command("grep -i FROM:\\s<alice")
            .contains("alice@example.net")
    );
    assert!(s.command("workqueue").contains("Messages in work queue:"));

    // An uncommitted change, then a crash.
    assert!(s.command("dnsconfig timeout 9").contains("staged"));
    daemon.crash();
    let said = s.command("status");
    assert!(
        said.contains("The mail daemon is restarting; try again in a moment."),
        "{said}"
    );

    let mut daemon = start_daemon(dir.path());
    let routes = link
        .call(vec!["smtproutes".into(), "print".into()], None, "test")
        .unwrap()
        .output;
    assert!(routes.contains("example.com"), "{routes}");
    let shown = link
        .call(vec!["showconfig".into()], None, "test")
        .unwrap()
        .output;
    assert!(
        shown.starts_with("Working configuration: no uncommitted changes"),
        "{shown}"
    );
    assert!(shown.contains("Timeout: 5 seconds"), "{shown}");

    // The session lives in the daemon's database: the console goes on.
    assert!(s.command("status").contains("Host name: crash.test.local"));
    s.line("shutdown");
    s.expect("Are you sure you want to shut down the mail daemon? [N]> ");
    s.line("y");
    s.expect("The mail daemon is shutting down");
    s.expect("Goodbye.");
    assert!(daemon.wait_exit().success());
    assert!(s.console.wait().unwrap().success());
}
