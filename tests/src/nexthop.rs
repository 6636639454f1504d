//! Next hops for the delivery tests: mail exchangers found by MX.
//!
//! The gateway contacts a mail exchanger on port 25 of its address, so
//! these peers listen on `127.4.n.x:25` (`x` ≠ 25, the day-one sink's
//! address), which needs root, as the delivery tests are run:
//!
//! - [`MxSink`]: Postfix's `smtp-sink` on such an address, dumping every
//!   transaction like [`crate::Sink`] does;
//! - [`ScriptedServer`]: `tests/scripts/smtp_server.py`, a small SMTP
//!   server that answers what the test tells it (exact 4xx/5xx replies per
//!   recipient, STARTTLS absent, broken or real, slow DATA replies) and
//!   writes down every connection and command it saw;
//! - [`TestCert`]: certificates made with `openssl` for the TLS peers.
//!
//! Plus what the tests share around them: relaying through Data 2,
//! sending a batch of messages in one session, and reading `tophosts` and
//! `status detail` back as numbers.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::client::smtplib::{self, Step};
use crate::net::TestNet;
use crate::proc::{is_root, kill_and_reap, tail};
use crate::sink::SinkMessage;
use crate::world::World;
use crate::{SOON, mid_in_reply, wait_until};

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
fn check_port_25(addr: SocketAddrV4) {
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

/// A certificate and key made with `openssl` (PEM files in a temp dir).
#[derive(Debug)]
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: TempDir,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): the TLS delivery tests make their certificates with it (Debian package openssl)")
        });
    assert!(
        out.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCert {
    /// A self-signed certificate for `name` (CN and subjectAltName).
    ///
    /// # Panics
    /// When openssl is missing or fails.
    #[must_use]
    pub fn self_signed(name: &str) -> TestCert {
        TestCert::make_self_signed(name, &format!("subjectAltName=DNS:{name}"))
    }

    fn make_self_signed(name: &str, ext: &str) -> TestCert {
        let dir = tempfile::Builder::new()
            .prefix("bw-cert-")
            .tempdir()
            .expect("cert temp dir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            ext,
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
        ]);
        TestCert {
            cert,
            key,
            _dir: dir,
        }
    }

    /// A CA (`ca.cert` / `ca.key`) and a certificate for `name` it signed
    /// (the CA's certificate is the second element).
    ///
    /// # Panics
    /// When openssl is missing or fails.
    #[must_use]
    pub fn signed_by_new_ca(name: &str) -> (TestCert, TestCert) {
        let ca = TestCert::make_self_signed(
            "Breakwater e2e test CA",
            "keyUsage=critical,keyCertSign,cRLSign",
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-cert-")
            .tempdir()
            .expect("cert temp dir");
        let p = |f: &str| dir.path().join(f).display().to_string();
        let ext = dir.path().join("ext.cnf");
        fs::write(
            &ext,
            format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
        )
        .expect("write ext file");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &p("key.pem"),
            "-out",
            &p("req.csr"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("req.csr"),
            "-CA",
            &ca.cert.display().to_string(),
            "-CAkey",
            &ca.key.display().to_string(),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext.display().to_string(),
            "-out",
            &p("cert.pem"),
        ]);
        let leaf = TestCert {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        (leaf, ca)
    }
}

/// Lets this test's clients (`127.5.n.0/24`) relay through Data 2
/// (`OutgoingMail`, sender group RELAYLIST) and commits, so mail for any
/// domain goes out by SMTP route or MX.
pub fn allow_relay_from_clients(w: &World) {
    let range = format!("127.5.{}.0/24", w.net.n());
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "new",
        "sendergroup",
        "RELAYLIST",
        &range,
    ]);
    w.gw.cli_ok(&["commit", "e2e: clients relay through Data 2"]);
}

/// One message of a [`send_batch`]: envelope sender, recipients, Message-ID.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from: String,
    pub rcpts: Vec<String>,
    pub message_id: String,
}

impl Outgoing {
    /// A message from `from` to `rcpts` with this Message-ID (no brackets).
    #[must_use]
    pub fn new(from: &str, rcpts: &[&str], message_id: &str) -> Outgoing {
        Outgoing {
            from: from.to_string(),
            rcpts: rcpts.iter().map(|r| (*r).to_string()).collect(),
            message_id: message_id.to_string(),
        }
    }

    /// The message text (CRLF, small).
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let from = if self.from.is_empty() {
            "MAILER-DAEMON@internet.example"
        } else {
            &self.from
        };
        crate::simple_message(
            from,
            &self.rcpts.join(">, <"),
            &self.message_id,
            "a message for the delivery engine",
        )
    }
}

/// Sends `messages` to Data 2 from client `127.5.n.x` in one SMTP session
/// (one transaction each) and returns their MIDs, in order.
///
/// # Panics
/// When any of them is not accepted.
#[must_use]
pub fn send_batch(w: &World, x: u8, messages: &[Outgoing]) -> Vec<u64> {
    let mut steps = vec![Step::Connect, Step::Ehlo];
    for m in messages {
        steps.push(Step::Mail {
            from: m.from.clone(),
            options: Vec::new(),
        });
        steps.extend(m.rcpts.iter().map(|r| Step::Rcpt(r.clone())));
        steps.push(Step::Data(m.body()));
    }
    steps.push(Step::Quit);
    let res = smtplib::run(w.net.data2_smtp(), w.net.client(x), &steps);
    let mids: Vec<u64> = res
        .iter()
        .filter(|r| r.op == "data")
        .filter_map(|r| {
            assert_eq!(r.code, Some(250), "Data 2 refused a message: {res:?}");
            mid_in_reply(&r.text)
        })
        .collect();
    assert_eq!(
        mids.len(),
        messages.len(),
        "not every message got a MID: {res:?}"
    );
    mids
}

/// One row of `tophosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TophostsRow {
    pub host: String,
    /// Marked `*`: down as of the last delivery attempt.
    pub down: bool,
    pub active: u64,
    pub conn_out: u64,
    pub delivered: u64,
    pub soft: u64,
    pub hard: u64,
}

fn number(s: &str) -> Option<u64> {
    s.replace(',', "").parse().ok()
}

/// Parses the `tophosts` table (the seed's layout): the rows after the two
/// header lines, `# host active conn deliv soft hard`.
///
/// # Panics
/// When the table does not have that shape.
#[must_use]
pub fn parse_tophosts(text: &str) -> Vec<TophostsRow> {
    assert!(
        text.contains("Status as of:")
            && text.contains("Hosts marked with '*' were down as of the last delivery attempt."),
        "tophosts lacks the seed's header:\n{text}"
    );
    // The seed's table has two header lines, both starting "# Recipient Host".
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with('#') && l.contains("Recipient Host"))
        .unwrap_or_else(|| panic!("tophosts has no '# Recipient Host' header:\n{text}"));
    text.lines()
        .skip(header + 1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let nums: Option<Vec<u64>> = f
                .get(2..7)
                .map(|s| s.iter().filter_map(|v| number(v)).collect());
            match (f.len(), f.first().and_then(|v| number(v)), nums) {
                (7, Some(_), Some(n)) if n.len() == 5 => {
                    let (down, host) = match f[1].strip_prefix('*') {
                        Some(h) => (true, h.to_string()),
                        None => (false, f[1].to_string()),
                    };
                    TophostsRow {
                        host,
                        down,
                        active: n[0],
                        conn_out: n[1],
                        delivered: n[2],
                        soft: n[3],
                        hard: n[4],
                    }
                }
                _ => panic!(
                    "tophosts row {l:?} is not '# host active conn deliv soft hard':\n{text}"
                ),
            }
        })
        .collect()
}

/// A counter row of `status detail`: `(reset, uptime, lifetime)`.
///
/// # Panics
/// When the row is missing or malformed.
#[must_use]
pub fn status_counter(text: &str, label: &str) -> (u64, u64, u64) {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("status detail has no '{label}' row:\n{text}"));
    let nums: Vec<u64> = line[line.find(label).unwrap_or(0) + label.len()..]
        .split_whitespace()
        .filter_map(number)
        .collect();
    match nums[..] {
        [r, u, l] => (r, u, l),
        _ => panic!("status detail row {line:?} does not have three counters"),
    }
}

/// A gauge row of `status detail` (one number).
///
/// # Panics
/// When the row is missing or malformed.
#[must_use]
pub fn status_gauge(text: &str, label: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("status detail has no '{label}' row:\n{text}"));
    let nums: Vec<u64> = line[line.find(label).unwrap_or(0) + label.len()..]
        .split_whitespace()
        .filter_map(number)
        .collect();
    match nums[..] {
        [n] => n,
        _ => panic!("status detail gauge {line:?} does not have one number"),
    }
}
