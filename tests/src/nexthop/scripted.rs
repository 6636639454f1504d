//! [`ScriptedServer`]: `tests/scripts/smtp_server.py`, an SMTP server that
//! answers what the test tells it and writes down what it saw.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::mx_sink::{MX_PORT, check_port_25};
use super::test_cert::TestCert;
use crate::proc::{kill_and_reap, tail};
use crate::{SOON, wait_until};

/// What [`ScriptedServer`] does; see `tests/scripts/smtp_server.py`.
#[derive(Debug, Clone)]
pub struct Script {
    ip: Ipv4Addr,
    hostname: String,
    starttls: &'static str,
    cert: Option<(PathBuf, PathBuf)>,
    rcpt: Vec<Value>,
    data: Vec<Value>,
    data_delay: f64,
}

impl Script {
    /// Accepts everything, offers no STARTTLS, answers at once.
    #[must_use]
    pub fn new(ip: Ipv4Addr, hostname: &str) -> Script {
        Script {
            ip,
            hostname: hostname.to_string(),
            starttls: "none",
            cert: None,
            rcpt: Vec::new(),
            data: Vec::new(),
            data_delay: 0.0,
        }
    }

    /// Offers STARTTLS, says 220 to it, then answers the ClientHello with
    /// bytes that are not TLS.
    #[must_use]
    pub fn broken_starttls(mut self) -> Script {
        self.starttls = "broken";
        self
    }

    /// Offers STARTTLS and completes the handshake with this certificate.
    #[must_use]
    pub fn starttls(mut self, cert: &TestCert) -> Script {
        self.starttls = "tls";
        self.cert = Some((cert.cert.clone(), cert.key.clone()));
        self
    }

    /// RCPTs whose address matches the regex `pattern` get `replies` in
    /// turn (the last one repeats); others get 250.
    #[must_use]
    pub fn rcpt(mut self, pattern: &str, replies: &[&str]) -> Script {
        self.rcpt
            .push(json!({"match": pattern, "replies": replies}));
        self
    }

    /// Ends of DATA with an accepted recipient matching `pattern` get
    /// `replies` in turn (the last one repeats); others get 250.
    #[must_use]
    pub fn data(mut self, pattern: &str, replies: &[&str]) -> Script {
        self.data
            .push(json!({"match": pattern, "replies": replies}));
        self
    }

    /// Waits this long before answering each end of DATA.
    #[must_use]
    pub fn data_delay(mut self, delay: Duration) -> Script {
        self.data_delay = delay.as_secs_f64();
        self
    }

    /// Starts the server.
    ///
    /// # Panics
    /// When it does not come up.
    #[must_use]
    pub fn start(self) -> ScriptedServer {
        ScriptedServer::start(self)
    }
}

/// `tests/scripts/smtp_server.py` on `127.4.n.x:25`, killed on drop.
#[derive(Debug)]
pub struct ScriptedServer {
    addr: SocketAddrV4,
    child: Option<Child>,
    dir: TempDir,
    events: PathBuf,
}

/// One connection as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct ServerConn {
    pub id: u64,
    /// The client's address (`ip:port`).
    pub peer: String,
    /// MAIL commands (transactions started).
    pub mails: usize,
    /// MAIL commands sent before TLS was up.
    pub plain_mails: usize,
    pub starttls: bool,
    /// `Some(version)` once a handshake succeeded.
    pub tls: Option<String>,
    /// The reply code to each end of DATA, in order.
    pub data_codes: Vec<u16>,
}

impl ScriptedServer {
    fn start(script: Script) -> ScriptedServer {
        let addr = SocketAddrV4::new(script.ip, MX_PORT);
        check_port_25(addr);
        let dir = tempfile::Builder::new()
            .prefix("bw-scripted-")
            .tempdir()
            .expect("scripted server temp dir");
        let events = dir.path().join("events.jsonl");
        let mut config = json!({
            "listen": addr.to_string(),
            "events": events.display().to_string(),
            "hostname": script.hostname,
            "starttls": script.starttls,
            "rcpt": script.rcpt,
            "data": script.data,
            "data_delay": script.data_delay,
        });
        if let Some((cert, key)) = &script.cert {
            config["cert"] = json!(cert.display().to_string());
            config["key"] = json!(key.display().to_string());
        }
        let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp_server.py");
        let out = dir.path().join("server.out");
        let out_file = fs::File::create(&out).expect("scripted server output");
        let child = Command::new("python3")
            .arg(&script_path)
            .arg(config.to_string())
            .stdin(Stdio::null())
            .stdout(out_file.try_clone().expect("dup output"))
            .stderr(out_file)
            .spawn()
            .expect("run python3 (is it installed? run tools/test)");
        let mut server = ScriptedServer {
            addr,
            child: Some(child),
            dir,
            events,
        };
        let ready = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{} on {addr} exited ({status}):\n{}",
                    script_path.display(),
                    tail(&out, 30)
                );
            }
            server
                .events()
                .iter()
                .any(|e| e["ev"] == "ready")
                .then_some(())
        });
        assert!(
            ready.is_some(),
            "scripted server never listened on {addr}:\n{}",
            tail(&out, 30)
        );
        server
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Every event so far (one JSON object each; see the script).
    #[must_use]
    pub fn events(&self) -> Vec<Value> {
        fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events named `ev` (`"connect"`, `"mail"`, `"rcpt"`, `"data"`, ...).
    #[must_use]
    pub fn events_named(&self, ev: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["ev"] == ev)
            .collect()
    }

    /// Ends of DATA answered 2xx.
    #[must_use]
    pub fn accepted(&self) -> Vec<Value> {
        self.events_named("data")
            .into_iter()
            .filter(|e| e["code"].as_u64().is_some_and(|c| c / 100 == 2))
            .collect()
    }

    /// The Message-IDs (without brackets) of the accepted messages.
    #[must_use]
    pub fn accepted_ids(&self) -> Vec<String> {
        self.accepted()
            .iter()
            .filter_map(|e| e["message_id"].as_str())
            .map(|s| s.trim_matches(['<', '>']).to_string())
            .collect()
    }

    /// Waits until `n` messages were accepted.
    ///
    /// # Panics
    /// On timeout, with what the server saw.
    pub fn wait_for_accepted(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_until(timeout, || {
            let a = self.accepted();
            (a.len() >= n).then_some(a)
        })
        .unwrap_or_else(|| {
            panic!(
                "{} accepted {} of {n} expected messages within {timeout:?}; events:\n{}",
                self.addr,
                self.accepted().len(),
                self.event_tail(40)
            )
        })
    }

    /// The connections, in order of arrival.
    #[must_use]
    pub fn connections(&self) -> Vec<ServerConn> {
        let mut conns: BTreeMap<u64, ServerConn> = BTreeMap::new();
        for e in self.events() {
            let Some(id) = e["conn"].as_u64() else {
                continue;
            };
            let c = conns.entry(id).or_insert_with(|| ServerConn {
                id,
                ..ServerConn::default()
            });
            match e["ev"].as_str().unwrap_or("") {
                "connect" => c.peer = e["peer"].as_str().unwrap_or("").to_string(),
                "mail" => {
                    c.mails += 1;
                    if e["tls"] != true {
                        c.plain_mails += 1;
                    }
                }
                "starttls" => c.starttls = true,
                "tls" if e["ok"] == true => {
                    c.tls = Some(e["version"].as_str().unwrap_or("?").to_string());
                }
                "data" => c.data_codes.push(
                    e["code"]
                        .as_u64()
                        .and_then(|v| u16::try_from(v).ok())
                        .unwrap_or(0),
                ),
                _ => {}
            }
        }
        conns.into_values().collect()
    }

    /// The most connections that were open at once (a connection is open
    /// from accept until QUIT or disconnect).
    #[must_use]
    pub fn max_open(&self) -> u64 {
        self.events_named("connect")
            .iter()
            .filter_map(|e| e["open"].as_u64())
            .max()
            .unwrap_or(0)
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

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- scripted server {} (last 30 events) ----\n{}",
                self.addr,
                self.event_tail(30)
            );
        }
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}
