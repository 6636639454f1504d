//! [`MxSink`]: Postfix's `smtp-sink` on a mail exchanger's address, port 25.

use std::collections::HashSet;
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::TestNet;
use crate::proc::{is_root, kill_and_reap, tail};
use crate::sink::SinkMessage;
use crate::{SOON, wait_until};

/// The port mail exchangers are contacted on.
pub const MX_PORT: u16 = 25;

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// `127.4.n.x`: an address for a mail exchanger of this test.
///
/// # Panics
/// For `x` = 25 (the day-one sink's address) or 0/255.
#[must_use]
pub fn mx_ip(net: &TestNet, x: u8) -> Ipv4Addr {
    assert!(
        x != 25 && x != 0 && x != 255,
        "127.4.n.{x} is not for mail exchangers"
    );
    Ipv4Addr::new(127, 4, net.n(), x)
}

/// Fails clearly when port 25 cannot be bound (not root).
pub(super) fn check_port_25(addr: SocketAddrV4) {
    if let Err(e) = TcpListener::bind(addr) {
        panic!(
            "cannot listen on {addr} ({e}): mail exchangers listen on port 25, so the delivery \
             tests must run as root (as .ci/run does), and nothing else may hold that address"
        );
    }
}

/// smtp-sink as a mail exchanger on `ip:25`, dumping every transaction.
#[derive(Debug)]
pub struct MxSink {
    addr: SocketAddrV4,
    child: Option<Child>,
    dir: TempDir,
    dump: PathBuf,
}

impl MxSink {
    /// Starts smtp-sink on `ip:25` and waits until it listens.
    ///
    /// # Panics
    /// When it cannot start (not root, smtp-sink missing).
    #[must_use]
    pub fn start(ip: Ipv4Addr) -> MxSink {
        let addr = SocketAddrV4::new(ip, MX_PORT);
        check_port_25(addr);
        let dir = tempfile::Builder::new()
            .prefix("bw-mxsink-")
            .tempdir()
            .expect("mx sink temp dir");
        let dump = dir.path().join("dump");
        fs::create_dir_all(&dump).expect("mx sink dump dir");
        let out = dir.path().join("smtp-sink.out");
        let out_file = fs::File::create(&out).expect("mx sink output file");
        let mut cmd = Command::new(SMTP_SINK);
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        cmd.arg("-d")
            .arg(format!("{}/%Y%m%d%H%M%S.", dump.display()))
            .arg(addr.to_string())
            .arg("256")
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().expect("dup output"))
            .stderr(out_file);
        let child = cmd
            .spawn()
            .expect("spawn /usr/sbin/smtp-sink (is postfix installed? run tools/test)");
        let mut sink = MxSink {
            addr,
            child: Some(child),
            dir,
            dump,
        };
        let up = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = sink.child.as_mut().map(Child::try_wait) {
                panic!("smtp-sink on {addr} exited ({status}):\n{}", tail(&out, 20));
            }
            TcpStream::connect_timeout(&addr.into(), Duration::from_secs(1))
                .ok()
                .map(|_| ())
        });
        assert!(
            up.is_some(),
            "smtp-sink never listened on {addr}:\n{}",
            tail(&out, 20)
        );
        sink
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Every complete transaction so far, oldest first.
    ///
    /// # Panics
    /// When a dump does not have smtp-sink's shape.
    #[must_use]
    pub fn messages(&self) -> Vec<SinkMessage> {
        let open: HashSet<PathBuf> = self
            .child
            .as_ref()
            .map(|c| open_files(c.id(), &self.dump))
            .unwrap_or_default();
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&self.dump)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file() && !open.contains(p))
                    .map(|p| {
                        let t = fs::metadata(&p)
                            .and_then(|m| m.modified())
                            .unwrap_or(std::time::UNIX_EPOCH);
                        (t, p)
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| {
                let bytes = fs::read(&p).ok()?;
                Some(
                    parse_dump(&p, &bytes)
                        .unwrap_or_else(|e| panic!("{}: not an smtp-sink dump: {e}", p.display())),
                )
            })
            .collect()
    }

    /// Recipients over all transactions.
    #[must_use]
    pub fn recipient_count(&self) -> usize {
        self.messages().iter().map(|m| m.rcpts.len()).sum()
    }

    /// The message with this Message-ID, waiting up to `timeout`.
    #[must_use]
    pub fn wait_for_message_id(&self, id: &str, timeout: Duration) -> Option<SinkMessage> {
        wait_until(timeout, || {
            self.messages()
                .into_iter()
                .find(|m| m.message_id().as_deref() == Some(id))
        })
    }

    /// Stops smtp-sink: the mail exchanger goes down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// smtp-sink's own output, for failure messages.
    #[must_use]
    pub fn output(&self) -> String {
        tail(&self.dir.path().join("smtp-sink.out"), 20)
    }
}

impl Drop for MxSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Files under `dir` that process `pid` holds open (transactions in progress).
fn open_files(pid: u32, dir: &Path) -> HashSet<PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| fs::read_link(e.path()).ok())
                .filter(|p| p.starts_with(dir))
                .collect()
        })
        .unwrap_or_default()
}

fn unbracket(arg: &str) -> String {
    arg.split_whitespace()
        .next()
        .unwrap_or("")
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// One smtp-sink dump: `X-...` pseudo-headers, smtp-sink's `Received:`
/// header, the message with LF line ends, one closing empty line.
fn parse_dump(file: &Path, bytes: &[u8]) -> Result<SinkMessage, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n').peekable();
    let (mut client_addr, mut helo, mut mail_args) = (None, None, None);
    let mut rcpts = Vec::new();
    loop {
        let line = lines.next().ok_or("dump ends inside the pseudo-headers")?;
        if let Some(v) = line.strip_prefix("X-Client-Addr: ") {
            client_addr = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
            helo = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            mail_args = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            rcpts.push(unbracket(v));
        } else if line.starts_with("Received: ") {
            break;
        }
    }
    while lines
        .peek()
        .is_some_and(|l| l.starts_with(' ') || l.starts_with('\t'))
    {
        lines.next();
    }
    let rest: Vec<&str> = lines.collect();
    // The message, then the dump's own empty line (and the split's last "").
    let body = rest
        .strip_suffix(&["", ""])
        .ok_or("dump lacks its closing empty line")?;
    let mut raw = Vec::new();
    for l in body {
        raw.extend_from_slice(l.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    let mail_args = mail_args.ok_or("no X-Mail-Args")?;
    Ok(SinkMessage {
        file: file.to_path_buf(),
        client_addr: client_addr.ok_or("no X-Client-Addr")?,
        helo,
        mail_from: unbracket(&mail_args),
        mail_args,
        rcpts,
        raw,
    })
}
