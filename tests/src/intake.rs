//! A Message Intake for the Threat Defense Connector tests: the scripted
//! SMTP server (`tests/scripts/smtp_server.py`, real STARTTLS) that also
//! keeps every message it accepted, byte for byte, so a test can compare
//! the copy Threat Defense would scan with what the real next hop got.
//!
//! It is the colleague's server unchanged: a few lines of Python load
//! `smtp_server.py` as a module, wrap its `Session.read_data` to write each
//! message to `<dir>/mail/<conn>.<tx>.eml` (as read off the wire, dots
//! unstuffed, CRLF kept), then run its `main()`. The events file has the
//! script's format (see its docstring).

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::nexthop::{MX_PORT, TestCert};
use crate::proc::{kill_and_reap, tail};
use crate::{SOON, wait_until};

const SHIM: &str = r#"
import asyncio, importlib.util, os, sys

script, capture, config = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = [script, config]  # smtp_server.py reads its configuration here
spec = importlib.util.spec_from_file_location("smtp_server", script)
server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(server)
read_data = server.Session.read_data

async def capturing(self):
    message = await read_data(self)
    name = os.path.join(capture, "%d.%d" % (self.conn, self.tx))
    with open(name + ".tmp", "wb") as f:
        f.write(message)
    os.rename(name + ".tmp", name + ".eml")
    return message

server.Session.read_data = capturing
asyncio.run(server.main())
"#;

/// One message the intake accepted.
#[derive(Debug, Clone)]
pub struct IntakeMessage {
    /// The connection it came on (the script's numbering, from 1).
    pub conn: u64,
    pub sender: String,
    pub rcpts: Vec<String>,
    /// The message as received (CRLF line ends, dots unstuffed).
    pub raw: Vec<u8>,
    /// The TLS version of its connection, if TLS was up.
    pub tls: Option<String>,
}

impl IntakeMessage {
    /// The first header called `name` (case-insensitive), unfolded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                found = Some(v.trim().to_string());
            }
        }
        found
    }

    /// The Message-ID without angle brackets.
    #[must_use]
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
            .map(|v| v.trim_matches(['<', '>']).to_string())
    }
}

/// The intake on `ip:25`, with STARTTLS; killed on drop.
#[derive(Debug)]
pub struct Intake {
    addr: SocketAddrV4,
    child: Option<Child>,
    dir: TempDir,
    events: PathBuf,
    mail: PathBuf,
}

impl Intake {
    /// Starts the intake on `ip:25` as `hostname`, offering STARTTLS with
    /// `cert`, waiting `data_delay` before each end-of-DATA reply.
    ///
    /// # Panics
    /// When it does not come up (not root, python3 missing).
    #[must_use]
    pub fn start(ip: Ipv4Addr, hostname: &str, cert: &TestCert, data_delay: Duration) -> Intake {
        let addr = SocketAddrV4::new(ip, MX_PORT);
        if let Err(e) = TcpListener::bind(addr) {
            panic!("cannot listen on {addr} ({e}): the intake tests must run as root");
        }
        let dir = tempfile::Builder::new()
            .prefix("bw-intake-")
            .tempdir()
            .expect("intake temp dir");
        let events = dir.path().join("events.jsonl");
        let mail = dir.path().join("mail");
        fs::create_dir_all(&mail).expect("intake mail dir");
        let shim = dir.path().join("intake.py");
        fs::write(&shim, SHIM).expect("write intake shim");
        let config = json!({
            "listen": addr.to_string(),
            "events": events.display().to_string(),
            "hostname": hostname,
            "starttls": "tls",
            "cert": cert.cert.display().to_string(),
            "key": cert.key.display().to_string(),
            "data_delay": data_delay.as_secs_f64(),
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp_server.py");
        let out = dir.path().join("server.out");
        let out_file = fs::File::create(&out).expect("intake output");
        let child = Command::new("python3")
            .arg(&shim)
            .arg(&script)
            .arg(&mail)
            .arg(config.to_string())
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().expect("dup output"))
            .stderr(out_file)
            .spawn()
            .expect("run python3 (is it installed? run tools/test)");
        let mut intake = Intake {
            addr,
            child: Some(child),
            dir,
            events,
            mail,
        };
        let ready = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = intake.child.as_mut().map(Child::try_wait) {
                panic!("intake on {addr} exited ({status}):\n{}", tail(&out, 30));
            }
            intake
                .events()
                .iter()
                .any(|e| e["ev"] == "ready")
                .then_some(())
        });
        assert!(
            ready.is_some(),
            "intake never listened on {addr}:\n{}",
            tail(&out, 30)
        );
        intake
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Every event so far (the script's JSON objects).
    #[must_use]
    pub fn events(&self) -> Vec<Value> {
        fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events named `ev`.
    #[must_use]
    pub fn events_named(&self, ev: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["ev"] == ev)
            .collect()
    }

    /// The messages accepted so far (end of DATA answered 2xx), in order.
    ///
    /// # Panics
    /// When an accepted message was not kept.
    #[must_use]
    pub fn messages(&self) -> Vec<IntakeMessage> {
        let events = self.events();
        let tls_of = |conn: u64| {
            events
                .iter()
                .find(|e| e["ev"] == "tls" && e["conn"] == conn && e["ok"] == true)
                .and_then(|e| e["version"].as_str())
                .map(str::to_string)
        };
        events
            .iter()
            .filter(|e| e["ev"] == "data")
            .filter(|e| e["code"].as_u64().is_some_and(|c| c / 100 == 2))
            .map(|e| {
                let conn = e["conn"].as_u64().unwrap_or(0);
                let tx = e["tx"].as_u64().unwrap_or(0);
                let file = self.mail.join(format!("{conn}.{tx}.eml"));
                let raw = fs::read(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
                IntakeMessage {
                    conn,
                    sender: e["sender"].as_str().unwrap_or("").to_string(),
                    rcpts: e["rcpts"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|r| r.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    raw,
                    tls: tls_of(conn),
                }
            })
            .collect()
    }

    /// Waits until `n` messages were accepted.
    ///
    /// # Panics
    /// On timeout, with what the intake saw.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<IntakeMessage> {
        wait_until(timeout, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| {
            panic!(
                "intake {} accepted {} of {n} expected messages within {timeout:?}; events:\n{}",
                self.addr,
                self.messages().len(),
                self.event_tail(40)
            )
        })
    }

    /// The last `n` events as text, for failure messages.
    #[must_use]
    pub fn event_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.events).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
        let stderr = tail(&self.dir.path().join("server.out"), 10);
        if !stderr.trim().is_empty() {
            out.push_str("\n-- server output --\n");
            out.push_str(&stderr);
        }
        out
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- intake {} (last 30 events) ----\n{}",
                self.addr,
                self.event_tail(30)
            );
        }
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}
