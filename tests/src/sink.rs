//! The next hop: Postfix's `smtp-sink`, dumping every transaction.
//!
//! `smtp-sink -d <dir>/%Y%m%d%H%M%S. <ip>:<port> 256` writes one file per
//! mail transaction (checked against `man smtp-sink`, "DUMP FILE FORMAT",
//! and on this machine):
//!
//! ```text
//! X-Client-Addr: 127.2.7.1          ← where the delivery came from
//! X-Client-Proto: ESMTP
//! X-Helo-Args: gw.test.local
//! X-Mail-Args: <s@x.org> BODY=8BITMIME
//! X-Rcpt-Args: <a@example.com>      ← one per RCPT, in order
//! Received: from gw.test.local ([127.2.7.1])     ← smtp-sink's own 3-line
//! \tby smtp-sink (smtp-sink) with ESMTP id 7f00d7c1;   trace header that ends
//! \tTue, 24 Nov 2026 01:13:48 +0000 (UTC)              its pseudo-headers
//! <the message as received, dots unstuffed, one line per LF>
//! <an empty line>
//! ```
//!
//! Line ends are LF in the dump; [`SinkMessage::raw`] puts CRLF back, which
//! is what went over the wire. A transaction the client aborts is removed by
//! smtp-sink; one still in progress is a file smtp-sink holds open, which
//! [`Sink::messages`] skips (it looks at `/proc/<pid>/fd`), so a message is
//! only reported once smtp-sink has taken all of it.

use std::collections::HashSet;
use std::fs;
use std::net::{SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::TestNet;
use crate::proc::{is_root, kill_and_reap, signal, tail, wait_timeout};
use crate::{SOON, wait_until};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// A running (or stopped) smtp-sink on a fixed address.
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddrV4,
    child: Option<Child>,
    dir: TempDir,
    dump: PathBuf,
}

/// One dumped transaction.
#[derive(Debug, Clone)]
pub struct SinkMessage {
    /// The dump file, for failure messages.
    pub file: PathBuf,
    /// `X-Client-Addr`: the IP the delivery came from.
    pub client_addr: String,
    /// `X-Helo-Args`, if the client said HELO/EHLO.
    pub helo: Option<String>,
    /// `X-Mail-Args` as sent (address and parameters).
    pub mail_args: String,
    /// The reverse-path without brackets or parameters.
    pub mail_from: String,
    /// The forward-paths, without brackets, in RCPT order.
    pub rcpts: Vec<String>,
    /// The message as received, CRLF line ends, smtp-sink's pseudo-headers
    /// and trace header removed.
    pub raw: Vec<u8>,
}

impl Sink {
    /// Starts smtp-sink on this test's next-hop address (`127.4.n.25:2525`).
    ///
    /// # Panics
    /// When smtp-sink does not start listening.
    #[must_use]
    pub fn start(net: &TestNet) -> Sink {
        Sink::start_at(net.sink_addr())
    }

    /// Starts smtp-sink on any address (the appliance VM tests use
    /// 127.0.0.1, which the guest reaches through slirp).
    ///
    /// # Panics
    /// When smtp-sink does not start listening.
    #[must_use]
    pub fn start_at(addr: SocketAddrV4) -> Sink {
        let dir = tempfile::Builder::new()
            .prefix("bw-sink-")
            .tempdir()
            .expect("sink temp dir");
        let dump = dir.path().join("dump");
        fs::create_dir_all(&dump).expect("sink dump dir");
        let mut sink = Sink {
            addr,
            child: None,
            dir,
            dump,
        };
        sink.start_again();
        sink
    }

    /// Starts smtp-sink again on the same address after [`Sink::stop`];
    /// earlier dumps stay.
    ///
    /// # Panics
    /// When it is already running or does not come up.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "smtp-sink already running");
        let out = self.dir.path().join("smtp-sink.out");
        let out_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .expect("sink output file");
        let mut cmd = Command::new(SMTP_SINK);
        if is_root() {
            // smtp-sink refuses to run as root without a user to become;
            // staying root keeps the dump files readable and removable.
            cmd.args(["-u", "root"]);
        }
        cmd.arg("-d")
            .arg(format!("{}/%Y%m%d%H%M%S.", self.dump.display()))
            .arg(self.addr.to_string())
            .arg("256")
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().expect("dup sink output"))
            .stderr(out_file);
        let child = cmd
            .spawn()
            .expect("spawn /usr/sbin/smtp-sink (is postfix installed? run tools/test)");
        self.child = Some(child);
        let up = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("smtp-sink exited early ({status}):\n{}", tail(&out, 20));
            }
            TcpStream::connect_timeout(&self.addr.into(), Duration::from_secs(1))
                .ok()
                .map(|_| ())
        });
        assert!(
            up.is_some(),
            "smtp-sink never listened on {}:\n{}",
            self.addr,
            tail(&out, 20)
        );
    }

    /// Stops smtp-sink (the next hop goes down). Transactions in progress
    /// are discarded, as smtp-sink does for an aborted transaction.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let open = open_dumps(child.id(), &self.dump);
        signal(child.id(), "TERM");
        if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
            kill_and_reap(&mut child);
        }
        for path in open {
            let _ = fs::remove_file(path);
        }
    }

    /// Whether smtp-sink is running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Every complete transaction received so far, oldest first.
    ///
    /// # Panics
    /// When a dump file does not have the documented shape.
    #[must_use]
    pub fn messages(&self) -> Vec<SinkMessage> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = match fs::read_dir(&self.dump) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| {
                    let mtime = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    (mtime, e.path())
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let open = self
            .child
            .as_ref()
            .map(|c| open_dumps(c.id(), &self.dump))
            .unwrap_or_default();
        files.retain(|(_, p)| !open.contains(p));
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| {
                let bytes = fs::read(&p).ok()?;
                Some(
                    SinkMessage::parse(&p, &bytes)
                        .unwrap_or_else(|e| panic!("{}: not an smtp-sink dump: {e}", p.display())),
                )
            })
            .collect()
    }

    /// Waits until at least `n` transactions are in.
    ///
    /// # Panics
    /// On timeout, listing what did arrive.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<SinkMessage> {
        wait_until(timeout, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| {
            panic!(
                "smtp-sink at {} got {} of {n} expected messages within {timeout:?}",
                self.addr,
                self.messages().len()
            )
        })
    }

    /// The first message with this Message-ID (angle brackets optional),
    /// waiting up to `timeout`; `None` if it never arrives.
    #[must_use]
    pub fn wait_for_message_id(&self, id: &str, timeout: Duration) -> Option<SinkMessage> {
        let id = id.trim_matches(['<', '>']);
        wait_until(timeout, || {
            self.messages()
                .into_iter()
                .find(|m| m.message_id().as_deref() == Some(id))
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}

/// Dump files that process `pid` holds open (transactions in progress).
fn open_dumps(pid: u32, dump: &Path) -> HashSet<PathBuf> {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter(|p| p.starts_with(dump))
        .collect()
}

fn strip_angles(arg: &str) -> String {
    let addr = arg.split_whitespace().next().unwrap_or("");
    addr.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

impl SinkMessage {
    fn parse(file: &Path, bytes: &[u8]) -> Result<SinkMessage, String> {
        let mut client_addr = None;
        let mut helo = None;
        let mut mail_args = None;
        let mut rcpts = Vec::new();
        let mut pos = 0;
        // Pseudo-headers, up to smtp-sink's own Received: header.
        loop {
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .ok_or("dump ends inside the pseudo-headers")?;
            let line = String::from_utf8_lossy(&bytes[pos..pos + end]).into_owned();
            pos += end + 1;
            if let Some(v) = line.strip_prefix("X-Client-Addr: ") {
                client_addr = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
                helo = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
                mail_args = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
                rcpts.push(strip_angles(v));
            } else if line.starts_with("Received: ") {
                break;
            }
        }
        // The rest of smtp-sink's Received: header (continuation lines).
        while pos < bytes.len() && (bytes[pos] == b'\t' || bytes[pos] == b' ') {
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .ok_or("dump ends inside smtp-sink's Received header")?;
            pos += end + 1;
        }
        let body = &bytes[pos..];
        // The dump ends with one empty line of its own.
        let body = body
            .strip_suffix(b"\n")
            .ok_or("dump lacks its closing empty line")?;
        let mut raw = Vec::with_capacity(body.len() + body.len() / 40);
        for &b in body {
            if b == b'\n' {
                raw.extend_from_slice(b"\r\n");
            } else {
                raw.push(b);
            }
        }
        let mail_args = mail_args.ok_or("no X-Mail-Args")?;
        Ok(SinkMessage {
            file: file.to_path_buf(),
            client_addr: client_addr.ok_or("no X-Client-Addr")?,
            helo,
            mail_from: strip_angles(&mail_args),
            mail_args,
            rcpts,
            raw,
        })
    }

    /// The header section's lines, unfolded, as `(name, value)`.
    #[must_use]
    pub fn headers(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(&self.raw);
        let mut out: Vec<(String, String)> = Vec::new();
        for line in text.split("\r\n") {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = out.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                out.push((name.to_string(), value.trim().to_string()));
            }
        }
        out
    }

    /// The first header called `name` (case-insensitive), unfolded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The Message-ID without angle brackets.
    #[must_use]
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
            .map(|v| v.trim().trim_matches(['<', '>']).to_string())
    }

    /// The message with the trace fields a relay prepends (`Received:`,
    /// `Return-Path:`) removed from the top: what the original sender wrote.
    #[must_use]
    pub fn without_added_trace(&self) -> &[u8] {
        let mut pos = 0;
        let raw = &self.raw;
        loop {
            let rest = &raw[pos..];
            let is_trace = ["received:", "return-path:"].iter().any(|p| {
                rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            });
            if !is_trace {
                return rest;
            }
            // Skip the field and its continuation lines.
            loop {
                match raw[pos..].windows(2).position(|w| w == b"\r\n") {
                    Some(i) => pos += i + 2,
                    None => return &raw[raw.len()..],
                }
                if !matches!(raw.get(pos), Some(b' ' | b'\t')) {
                    break;
                }
            }
        }
    }

    /// The `Received:` fields at the top of the message (unfolded), newest first.
    #[must_use]
    pub fn leading_received(&self) -> Vec<String> {
        self.headers()
            .into_iter()
            .take_while(|(n, _)| {
                n.eq_ignore_ascii_case("Received") || n.eq_ignore_ascii_case("Return-Path")
            })
            .filter(|(n, _)| n.eq_ignore_ascii_case("Received"))
            .map(|(_, v)| v)
            .collect()
    }
}
