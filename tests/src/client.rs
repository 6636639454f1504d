//! Internet clients: swaks, Python's smtplib, and a raw line-level client
//! for the conversations no polite client would have (over-long lines,
//! bare LF, holding connections open).
//!
//! Every client binds its own `127.5.n.x` source address, so the gateway's
//! HAT sees a distinct host per client.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// A TCP connection from `source` (port chosen by the kernel) to `server`.
pub fn bind_connect(
    source: Ipv4Addr,
    server: SocketAddrV4,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddrV4::new(source, 0).into())?;
    sock.connect_timeout(&server.into(), timeout)?;
    Ok(sock.into())
}

/// One SMTP reply: the code and the text of every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// Every line's text joined with `\n`, without the codes.
    #[must_use]
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text())
    }
}

/// A raw SMTP connection: we write exactly the bytes we are told to.
#[derive(Debug)]
pub struct SmtpConn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl SmtpConn {
    /// Connects from `source` and reads the greeting.
    ///
    /// # Errors
    /// Connection failures and a greeting that is not an SMTP reply.
    pub fn connect(source: Ipv4Addr, server: SocketAddrV4) -> io::Result<(SmtpConn, Reply)> {
        let stream = bind_connect(source, server, Duration::from_secs(30))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut conn = SmtpConn { stream, reader };
        let banner = conn.read_reply()?;
        Ok((conn, banner))
    }

    /// Sends `line` followed by CRLF and reads the reply.
    ///
    /// # Errors
    /// I/O errors, a closed connection, a malformed reply.
    pub fn cmd(&mut self, line: &str) -> io::Result<Reply> {
        self.send_raw(format!("{line}\r\n").as_bytes())?;
        self.read_reply()
    }

    /// `MAIL FROM:<from>`, `RCPT TO:<to>` and `DATA`, one at a time,
    /// asserting 250, 250 and 354: the connection is then in the message.
    ///
    /// # Panics
    /// On an I/O error or another reply.
    pub fn start_data(&mut self, from: &str, to: &str) {
        let mail = self.cmd(&format!("MAIL FROM:<{from}>")).expect("MAIL");
        assert_eq!(mail.code, 250, "MAIL FROM:<{from}>: {mail}");
        let rcpt = self.cmd(&format!("RCPT TO:<{to}>")).expect("RCPT");
        assert_eq!(rcpt.code, 250, "RCPT TO:<{to}>: {rcpt}");
        let data = self.cmd("DATA").expect("DATA");
        assert_eq!(data.code, 354, "DATA: {data}");
    }

    /// Writes bytes as they are.
    ///
    /// # Errors
    /// I/O errors.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads one (possibly multi-line) reply.
    ///
    /// # Errors
    /// I/O errors, EOF, or a line that is not `NNN[ -]text`.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = self.reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed (after {lines:?})"),
                ));
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("not a reply: {line:?}"))
                })?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// How long [`SmtpConn::read_reply`] waits for data (120 s unless set).
    pub fn set_read_timeout(&self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }

    /// EHLO and return the reply.
    ///
    /// # Errors
    /// As [`SmtpConn::cmd`].
    pub fn ehlo(&mut self, name: &str) -> io::Result<Reply> {
        self.cmd(&format!("EHLO {name}"))
    }
}

/// A swaks run under construction.
#[derive(Debug, Clone)]
pub struct Swaks {
    args: Vec<OsString>,
    to: Vec<String>,
}

/// What swaks did: its exit status and the conversation.
#[derive(Debug, Clone)]
pub struct SwaksOutcome {
    /// swaks' exit code (0: the whole transaction succeeded).
    pub status: Option<i32>,
    /// Everything swaks printed.
    pub transcript: String,
    /// Each server reply with the client line it answered (`None` for the
    /// greeting). The end of DATA is the client line `"."`.
    pub exchanges: Vec<(Option<String>, Reply)>,
}

impl Swaks {
    /// `swaks --server <server> --local-interface <source>`.
    #[must_use]
    pub fn new(server: SocketAddrV4, source: Ipv4Addr) -> Swaks {
        let args = [
            "--server".to_string(),
            server.to_string(),
            "--local-interface".to_string(),
            source.to_string(),
            "--ehlo".to_string(),
            "swaks.e2e.test".to_string(),
            "--timeout".to_string(),
            "120".to_string(),
        ];
        Swaks {
            args: args.into_iter().map(OsString::from).collect(),
            to: Vec::new(),
        }
    }

    #[must_use]
    pub fn from(self, addr: &str) -> Swaks {
        self.arg("--from").arg(addr)
    }

    /// Adds a recipient (swaks takes them comma-separated).
    #[must_use]
    pub fn to(mut self, addr: &str) -> Swaks {
        self.to.push(addr.to_string());
        self
    }

    /// The message, as a file sent verbatim. swaks appends `CRLF.CRLF`, so a
    /// file without a final line end arrives as its content plus CRLF.
    #[must_use]
    pub fn data_file(self, path: &Path) -> Swaks {
        self.arg("--data").arg(path)
    }

    /// STARTTLS, required.
    #[must_use]
    pub fn tls(self) -> Swaks {
        self.arg("--tls")
    }

    #[must_use]
    pub fn arg(mut self, a: impl Into<OsString>) -> Swaks {
        self.args.push(a.into());
        self
    }

    /// Runs swaks to completion.
    ///
    /// # Panics
    /// When swaks cannot be started.
    #[must_use]
    pub fn run(self) -> SwaksOutcome {
        let mut cmd = Command::new("swaks");
        cmd.args(&self.args);
        if !self.to.is_empty() {
            cmd.arg("--to").arg(self.to.join(","));
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run swaks (is it installed? run tools/test)");
        let mut transcript = String::from_utf8_lossy(&out.stdout).into_owned();
        transcript.push_str(&String::from_utf8_lossy(&out.stderr));
        let exchanges = parse_swaks(&transcript);
        SwaksOutcome {
            status: out.status.code(),
            transcript,
            exchanges,
        }
    }
}

/// swaks marks lines: ` -> `/` ~> ` sent (plain/TLS), `<- `/`<~ ` received,
/// `<** `/`<~* ` received error replies, `=== `/`*** ` its own notes.
fn parse_swaks(transcript: &str) -> Vec<(Option<String>, Reply)> {
    let mut out = Vec::new();
    let mut last_client: Option<String> = None;
    let mut pending: Vec<String> = Vec::new();
    for line in transcript.lines() {
        if line.starts_with(" -> ") || line.starts_with(" ~> ") {
            last_client = Some(line[4..].to_string());
        } else if line.starts_with("<-") || line.starts_with("<~") || line.starts_with("<*") {
            let content = line.get(4..).unwrap_or("").trim_start();
            let Some(code) = content.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
                continue;
            };
            pending.push(content.get(4..).unwrap_or("").to_string());
            if content.as_bytes().get(3) != Some(&b'-') {
                out.push((
                    last_client.clone(),
                    Reply {
                        code,
                        lines: std::mem::take(&mut pending),
                    },
                ));
            }
        }
    }
    out
}

impl SwaksOutcome {
    /// Whether swaks reports the whole transaction as successful.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }

    /// The greeting.
    #[must_use]
    pub fn banner(&self) -> Option<&Reply> {
        self.exchanges
            .iter()
            .find(|(c, _)| c.is_none())
            .map(|(_, r)| r)
    }

    /// The reply to the last client line starting with `prefix`
    /// (case-insensitive), e.g. `"RCPT TO:<a@b>"`.
    #[must_use]
    pub fn reply_to(&self, prefix: &str) -> Option<&Reply> {
        let p = prefix.to_ascii_lowercase();
        self.exchanges
            .iter()
            .rev()
            .find(|(c, _)| {
                c.as_deref()
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with(&p))
            })
            .map(|(_, r)| r)
    }

    /// The reply to the end of DATA.
    #[must_use]
    pub fn data_reply(&self) -> Option<&Reply> {
        self.exchanges
            .iter()
            .rev()
            .find(|(c, _)| c.as_deref() == Some("."))
            .map(|(_, r)| r)
    }
}

/// Python's smtplib as a client, run with `python3 -c`.
pub mod smtplib {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use serde_json::{Value, json};

    /// The script both modes share. One JSON job on stdin (argv is limited
    /// to 128 KiB per argument, too small for big messages), one JSON
    /// object per line out (flushed, so a killed run still tells what it
    /// saw). Message bytes travel as hex and are sent as bytes: smtplib then
    /// dot-stuffs and terminates but changes nothing else.
    const SCRIPT: &str = r#"
import json, smtplib, ssl, sys, time

job = json.loads(sys.stdin.buffer.read())

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def txt(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)

def session():
    s = smtplib.SMTP(timeout=job["timeout"], source_address=(job["source"], 0),
                     local_hostname=job["helo"])
    for step in job["steps"]:
        op = step["op"]
        res = {"op": op}
        try:
            if op == "connect":
                code, msg = s.connect(job["host"], job["port"])
                # starttls() names the server after the host given to the
                # constructor, which connect() does not set.
                s._host = job["host"]
            elif op == "ehlo":
                code, msg = s.ehlo()
            elif op == "helo":
                code, msg = s.helo()
            elif op == "starttls":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                code, msg = s.starttls(context=ctx)
                res["tls_version"] = s.sock.version()
                res["tls_cipher"] = s.sock.cipher()[0]
            elif op == "mail":
                code, msg = s.mail(step["from"], step.get("options", []))
            elif op == "rcpt":
                code, msg = s.rcpt(step["to"])
            elif op == "data":
                try:
                    code, msg = s.data(bytes.fromhex(step["hex"]))
                except smtplib.SMTPDataError as e:
                    res["stage"] = "DATA"
                    code, msg = e.smtp_code, e.smtp_error
            elif op == "raw":
                s.send(bytes.fromhex(step["hex"]))
                code, msg = s.getreply()
            elif op == "rset":
                code, msg = s.rset()
            elif op == "noop":
                code, msg = s.noop()
            elif op == "quit":
                code, msg = s.docmd("QUIT")
                s.close()
            else:
                raise ValueError("unknown op " + op)
            res["code"] = code
            res["text"] = txt(msg)
            out(res)
        except smtplib.SMTPResponseException as e:
            res["code"] = e.smtp_code
            res["text"] = txt(e.smtp_error)
            out(res)
        except Exception as e:
            res["error"] = type(e).__name__ + ": " + str(e)
            out(res)
            return

def load():
    msg_tpl = bytes.fromhex(job["template_hex"])
    sent = 0
    failures = 0
    while sent < job["count"]:
        inflight = None
        try:
            s = smtplib.SMTP(job["host"], job["port"], timeout=job["timeout"],
                             source_address=(job["source"], 0), local_hostname=job["helo"])
            s.ehlo()
            failures = 0
            for _ in range(job["per_conn"]):
                if sent >= job["count"]:
                    break
                mid = "%s-%d@e2e.test" % (job["prefix"], sent)
                sent += 1
                inflight = mid
                code, msg = s.mail(job["from"])
                if code != 250:
                    out({"id": mid, "code": code, "text": txt(msg), "stage": "MAIL"})
                    inflight = None
                    s.rset()
                    continue
                code, msg = s.rcpt(job["to"])
                if code != 250:
                    out({"id": mid, "code": code, "text": txt(msg), "stage": "RCPT"})
                    inflight = None
                    s.rset()
                    continue
                code, msg = s.data(msg_tpl.replace(b"@@ID@@", mid.encode()))
                out({"id": mid, "code": code, "text": txt(msg)})
                inflight = None
            s.quit()
        except Exception as e:
            if inflight is not None:
                out({"id": inflight, "error": type(e).__name__ + ": " + str(e)})
            else:
                out({"error": type(e).__name__ + ": " + str(e)})
            failures += 1
            if failures >= job["give_up_after"]:
                break
            time.sleep(0.3)
    out({"done": True, "attempted": sent})

session() if job["mode"] == "session" else load()
"#;

    /// One step of a scripted smtplib session.
    #[derive(Debug, Clone)]
    pub enum Step {
        Connect,
        Ehlo,
        Helo,
        /// STARTTLS without certificate verification (the gateway's Demo
        /// certificate is self-signed).
        StartTls,
        Mail {
            from: String,
            options: Vec<String>,
        },
        Rcpt(String),
        /// The message; smtplib dot-stuffs it and adds CRLF.CRLF.
        Data(Vec<u8>),
        /// Bytes written as they are, then one reply read.
        Raw(Vec<u8>),
        Rset,
        Noop,
        Quit,
    }

    /// The outcome of one step: a reply, or the exception that ended the
    /// session.
    #[derive(Debug, Clone)]
    pub struct StepResult {
        pub op: String,
        pub code: Option<u16>,
        pub text: String,
        pub error: Option<String>,
        /// For STARTTLS: negotiated protocol and cipher.
        pub tls: Option<(String, String)>,
        /// `Some("DATA")` when the DATA command itself was refused.
        pub stage: Option<String>,
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn step_json(step: &Step) -> Value {
        match step {
            Step::Connect => json!({"op": "connect"}),
            Step::Ehlo => json!({"op": "ehlo"}),
            Step::Helo => json!({"op": "helo"}),
            Step::StartTls => json!({"op": "starttls"}),
            Step::Mail { from, options } => json!({"op": "mail", "from": from, "options": options}),
            Step::Rcpt(to) => json!({"op": "rcpt", "to": to}),
            Step::Data(b) => json!({"op": "data", "hex": hex(b)}),
            Step::Raw(b) => json!({"op": "raw", "hex": hex(b)}),
            Step::Rset => json!({"op": "rset"}),
            Step::Noop => json!({"op": "noop"}),
            Step::Quit => json!({"op": "quit"}),
        }
    }

    /// Starts `python3 -c SCRIPT` and hands it `job` on stdin.
    fn python(job: &Value, stdout: Stdio, stderr: Stdio) -> Child {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("run python3 (is it installed? run tools/test)");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let job = job.to_string();
        // A writer thread, so a script that dies early cannot block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(job.as_bytes());
        });
        child
    }

    /// Runs `steps` from `source` against `server`; one result per step
    /// until the first exception.
    ///
    /// # Panics
    /// When python3 cannot run or prints something unexpected.
    #[must_use]
    pub fn run(server: SocketAddrV4, source: Ipv4Addr, steps: &[Step]) -> Vec<StepResult> {
        let job = json!({
            "mode": "session",
            "host": server.ip().to_string(),
            "port": server.port(),
            "source": source.to_string(),
            "helo": "smtplib.e2e.test",
            "timeout": 120,
            "steps": steps.iter().map(step_json).collect::<Vec<_>>(),
        });
        let out = python(&job, Stdio::piped(), Stdio::piped())
            .wait_with_output()
            .expect("wait for python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python3 smtplib script failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("bad smtplib output {l:?}: {e}"));
                StepResult {
                    op: v["op"].as_str().unwrap_or("").to_string(),
                    code: v["code"].as_u64().and_then(|c| u16::try_from(c).ok()),
                    text: v["text"].as_str().unwrap_or("").to_string(),
                    error: v["error"].as_str().map(str::to_string),
                    tls: match (v["tls_version"].as_str(), v["tls_cipher"].as_str()) {
                        (Some(p), Some(c)) => Some((p.to_string(), c.to_string())),
                        _ => None,
                    },
                    stage: v["stage"].as_str().map(str::to_string),
                }
            })
            .collect()
    }

    /// One whole transaction: connect, EHLO, MAIL (with `mail_options`),
    /// RCPT per recipient, DATA, QUIT.
    #[must_use]
    pub fn send(
        server: SocketAddrV4,
        source: Ipv4Addr,
        from: &str,
        rcpts: &[&str],
        message: &[u8],
        mail_options: &[&str],
    ) -> Vec<StepResult> {
        let mut steps = vec![
            Step::Connect,
            Step::Ehlo,
            Step::Mail {
                from: from.to_string(),
                options: mail_options.iter().map(|s| (*s).to_string()).collect(),
            },
        ];
        steps.extend(rcpts.iter().map(|r| Step::Rcpt((*r).to_string())));
        steps.push(Step::Data(message.to_vec()));
        steps.push(Step::Quit);
        run(server, source, &steps)
    }

    /// The result of the step `op` (the last one with that name).
    #[must_use]
    pub fn find<'a>(results: &'a [StepResult], op: &str) -> Option<&'a StepResult> {
        results.iter().rev().find(|r| r.op == op)
    }

    /// One message's fate in a [`LoadClient`] run.
    #[derive(Debug, Clone)]
    pub struct LoadResult {
        /// The Message-ID (without brackets).
        pub id: String,
        pub code: Option<u16>,
        pub text: String,
        pub error: Option<String>,
    }

    impl LoadResult {
        /// The gateway took responsibility for this message (250 to DATA).
        #[must_use]
        pub fn acknowledged(&self) -> bool {
            self.code == Some(250) && self.error.is_none()
        }
    }

    /// A python3 process sending `count` messages, `per_conn` per
    /// connection, reconnecting after errors until it gives up; results
    /// stream in while it runs.
    #[derive(Debug)]
    pub struct LoadClient {
        child: Child,
        reader: Option<JoinHandle<()>>,
        results: Arc<Mutex<Vec<LoadResult>>>,
        errors: Arc<Mutex<Vec<String>>>,
    }

    /// Parameters of a [`LoadClient`].
    #[derive(Debug, Clone)]
    pub struct LoadJob<'a> {
        pub server: SocketAddrV4,
        pub source: Ipv4Addr,
        pub from: &'a str,
        pub to: &'a str,
        pub count: usize,
        pub per_conn: usize,
        /// Message-IDs are `<prefix>-<i>@e2e.test`.
        pub prefix: &'a str,
        /// Body lines of filler text per message.
        pub body_lines: usize,
        /// Consecutive failed connections before the client stops.
        pub give_up_after: usize,
    }

    impl LoadClient {
        /// Starts the client; `acked` counts 250s across clients.
        ///
        /// # Panics
        /// When python3 cannot be started.
        #[must_use]
        pub fn spawn(job: &LoadJob<'_>, acked: Arc<AtomicUsize>) -> LoadClient {
            let mut tpl = format!(
                "From: <{}>\r\nTo: <{}>\r\nSubject: load @@ID@@\r\nMessage-ID: <@@ID@@>\r\n\r\n",
                job.from, job.to
            );
            for i in 0..job.body_lines {
                tpl.push_str(&format!(
                    "line {i:04} of a message sent while the gateway may be killed at any moment\r\n"
                ));
            }
            let spec = json!({
                "mode": "load",
                "host": job.server.ip().to_string(),
                "port": job.server.port(),
                "source": job.source.to_string(),
                "helo": "load.e2e.test",
                "timeout": 120,
                "from": job.from,
                "to": job.to,
                "count": job.count,
                "per_conn": job.per_conn,
                "prefix": job.prefix,
                "give_up_after": job.give_up_after,
                "template_hex": hex(tpl.as_bytes()),
            });
            let mut child = python(&spec, Stdio::piped(), Stdio::inherit());
            let stdout = child.stdout.take().expect("piped stdout");
            let results = Arc::new(Mutex::new(Vec::new()));
            let errors = Arc::new(Mutex::new(Vec::new()));
            let (r, e) = (Arc::clone(&results), Arc::clone(&errors));
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let Ok(v) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    let err = v["error"].as_str().map(str::to_string);
                    if let Some(id) = v["id"].as_str() {
                        let res = LoadResult {
                            id: id.to_string(),
                            code: v["code"].as_u64().and_then(|c| u16::try_from(c).ok()),
                            text: v["text"].as_str().unwrap_or("").to_string(),
                            error: err.clone(),
                        };
                        if res.acknowledged() {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        r.lock().expect("results lock").push(res);
                    }
                    if let Some(err) = err {
                        e.lock().expect("errors lock").push(err);
                    }
                }
            });
            LoadClient {
                child,
                reader: Some(reader),
                results,
                errors,
            }
        }

        /// Waits for the client to finish; its results and the errors it saw.
        ///
        /// # Panics
        /// When it does not finish within `timeout` (it is killed first).
        pub fn finish(mut self, timeout: Duration) -> (Vec<LoadResult>, Vec<String>) {
            if crate::proc::wait_timeout(&mut self.child, timeout).is_none() {
                crate::proc::kill_and_reap(&mut self.child);
                panic!("smtplib load client did not finish within {timeout:?}");
            }
            if let Some(h) = self.reader.take() {
                let _ = h.join();
            }
            let results = self.results.lock().expect("results lock").clone();
            let errors = self.errors.lock().expect("errors lock").clone();
            (results, errors)
        }
    }

    impl Drop for LoadClient {
        fn drop(&mut self) {
            crate::proc::kill_and_reap(&mut self.child);
        }
    }
}
