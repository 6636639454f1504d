//! The gateway under test: the real `breakwater run` (the supervisor, with
//! the mail daemon as its child process) with its own data dir and board
//! profile, managed with `breakwater cli` as an administrator would.

use std::fs;
use std::io::{Read, Write};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use tempfile::TempDir;

use crate::client::bind_connect;
use crate::net::TestNet;
use crate::proc::{kill_and_reap, signal, tail, wait_timeout};
use crate::{SOON, wait_until};

/// The `breakwater` binary, built once per test process if it is missing.
///
/// `$CARGO_TARGET_DIR/debug/breakwater`, else `<workspace>/target/debug/breakwater`.
///
/// # Panics
/// When the binary cannot be built.
pub fn breakwater_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let workspace = workspace_dir();
        let bin = target_dir().join("debug").join("breakwater");
        if !bin.exists() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(&workspace)
                .args(["build", "-p", "breakwater", "--bin", "breakwater"])
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build -p breakwater failed");
        }
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub(crate) fn target_dir() -> PathBuf {
    let workspace = workspace_dir();
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                workspace.join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| workspace.join("target"))
}

/// The web UI's HTTPS port on the test board's Management address (the
/// dev board's unprivileged port, written into the board profile).
pub const MGMT_HTTPS_PORT: u16 = 8443;
/// The plain-HTTP port that redirects to HTTPS.
pub const MGMT_HTTP_PORT: u16 = 8080;
/// The SSH port of the management CLI.
pub const MGMT_SSH_PORT: u16 = 2222;

/// A `breakwater` daemon; SIGKILLed on drop if still running.
#[derive(Debug)]
pub struct Gateway {
    dir: TempDir,
    data_dir: PathBuf,
    board: PathBuf,
    data1: SocketAddrV4,
    management: std::net::Ipv4Addr,
    probe_ip: std::net::Ipv4Addr,
    child: Option<Child>,
}

impl Gateway {
    /// Writes the board profile for this test's addresses and starts the
    /// daemon on a fresh data dir (factory configuration).
    ///
    /// # Panics
    /// When the daemon does not come up.
    #[must_use]
    pub fn start(net: &TestNet) -> Gateway {
        let dir = tempfile::Builder::new()
            .prefix("bw-gw-")
            .tempdir()
            .expect("gateway temp dir");
        let data_dir = dir.path().join("data");
        let board = dir.path().join("board.toml");
        fs::write(&board, board_profile(net)).expect("write board profile");
        let mut gw = Gateway {
            dir,
            data_dir,
            board,
            data1: net.data1_smtp(),
            management: net.management(),
            probe_ip: net.client(254),
            child: None,
        };
        gw.start_again();
        gw
    }

    /// Starts the daemon again on the same data dir (after [`Gateway::stop`]
    /// or [`Gateway::kill9`]) and waits until it serves.
    ///
    /// # Panics
    /// When it is already running or does not come up.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "breakwater already running");
        let open = |name: &str| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .expect("gateway output file")
        };
        let child = Command::new(breakwater_bin())
            .arg("run")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--board-file")
            .arg(&self.board)
            .stdin(Stdio::null())
            .stdout(open("breakwater.stdout"))
            .stderr(open("breakwater.stderr"))
            .spawn()
            .expect("spawn breakwater run");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let ready = wait_until(SOON, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "breakwater run exited early ({status}); stderr:\n{}",
                    tail(&self.stderr_path(), 40)
                );
            }
            (self.cli(&["status"]).is_ok() && self.data1_answers()).then_some(())
        });
        if ready.is_none() {
            panic!(
                "breakwater did not become ready within {SOON:?} (cli status ok and Data 1 {} accepting); stderr:\n{}\nstatus: {:?}",
                self.data1,
                tail(&self.stderr_path(), 40),
                self.cli(&["status"])
            );
        }
    }

    /// Data 1 accepts a TCP connection; we say QUIT politely.
    fn data1_answers(&self) -> bool {
        let Ok(mut s) = bind_connect(self.probe_ip, self.data1, Duration::from_secs(2)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"QUIT\r\n");
        let _ = s.read(&mut buf);
        true
    }

    /// Runs `breakwater cli --data-dir <data> <args...>`: stdout on success,
    /// stderr (or stdout when stderr is empty) on a non-zero exit.
    ///
    /// # Errors
    /// The command's error text when it exits non-zero.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(breakwater_bin())
            .arg("cli")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run breakwater cli: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else if stderr.trim().is_empty() {
            Err(stdout)
        } else {
            Err(stderr)
        }
    }

    /// [`Gateway::cli`] with `stdin` piped in (a filter script ended by a
    /// line holding `.`, a test message): stdout on success, stderr and
    /// stdout on a non-zero exit.
    ///
    /// # Errors
    /// The command's error text when it exits non-zero.
    pub fn cli_input(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        let mut child = Command::new(breakwater_bin())
            .arg("cli")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run breakwater cli: {e}"))?;
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.as_bytes())
                .map_err(|e| format!("cannot write to breakwater cli: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("breakwater cli: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// One request on the control socket, exactly as the console sends
    /// it: `(ok, output)`.
    ///
    /// # Panics
    /// When the socket cannot be reached or answers nonsense.
    #[must_use]
    pub fn control(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let path = self.data_dir.join("control.sock");
        let mut stream = std::os::unix::net::UnixStream::connect(&path)
            .unwrap_or_else(|e| panic!("control socket {}: {e}", path.display()));
        let request = serde_json::json!({ "args": args, "stdin": stdin, "user": "e2e" });
        let mut line = request.to_string();
        line.push('\n');
        stream
            .write_all(line.as_bytes())
            .expect("send control request");
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .expect("read control reply");
        let v: serde_json::Value = serde_json::from_str(&reply).expect("control reply is JSON");
        (
            v["ok"].as_bool().unwrap_or(false),
            v["output"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Creates console user `name` with `role` (`breakwater cli
    /// userconfig new`), logs in as it over the control socket as the
    /// console does (`__auth`), makes the forced first passphrase change,
    /// and returns the session token for [`Gateway::cli_as`].
    ///
    /// # Panics
    /// When any step fails.
    #[must_use]
    pub fn console_user(&self, name: &str, role: &str) -> String {
        self.new_user(name, role).0
    }

    /// Creates console user `name` with `role` and makes its forced first
    /// passphrase change, so it logs in straight away (web UI, SSH, API);
    /// returns the passphrase it now has.
    ///
    /// # Panics
    /// When any step fails.
    #[must_use]
    pub fn ready_user(&self, name: &str, role: &str) -> String {
        self.new_user(name, role).1
    }

    /// `userconfig new` and the first passphrase change: `(session token,
    /// passphrase)`.
    fn new_user(&self, name: &str, role: &str) -> (String, String) {
        let first = format!("{name} first pass");
        let second = format!("{name} second pass");
        self.cli_input(&["userconfig", "new", name, role], &first)
            .unwrap_or_else(|e| panic!("userconfig new {name} {role}: {e}"));
        let token = self.first_passphrase_change(name, &first, &second);
        (token, second)
    }

    /// Makes the factory `admin`'s forced first passphrase change (from
    /// the factory passphrase) and returns the passphrase it now has.
    ///
    /// # Panics
    /// When the factory account cannot log in or the change is refused.
    #[must_use]
    pub fn ready_admin(&self) -> String {
        let passphrase = "admin web pass 1".to_string();
        // The factory account (breakwater_store::users::FACTORY_USER and
        // FACTORY_PASSWORD, as the appliance's label documents them).
        let _token = self.first_passphrase_change("admin", "breakwater", &passphrase);
        passphrase
    }

    /// Logs in as `name` over the control socket as the console does
    /// (`__auth`), changes its passphrase from `old` to `new` (`passwd`,
    /// which clears the forced change), and returns the session token.
    fn first_passphrase_change(&self, name: &str, old: &str, new: &str) -> String {
        let (ok, reply) = self.control(&["__auth", name, "pts/9", "network"], Some(old));
        assert!(ok, "login as {name}: {reply}");
        let v: serde_json::Value = serde_json::from_str(&reply).expect("auth reply is JSON");
        let token = v["token"].as_str().expect("session token").to_string();
        let (ok, out) = self.control(
            &["__session", &token, "passwd"],
            Some(&format!("{old}\n{new}")),
        );
        assert!(ok, "first passphrase change of {name}: {out}");
        token
    }

    /// The web UI's base URL: `https://<Management address>:8443`.
    #[must_use]
    pub fn https_base(&self) -> String {
        format!("https://{}:{MGMT_HTTPS_PORT}", self.management)
    }

    /// The plain-HTTP base URL (it redirects to [`Gateway::https_base`]).
    #[must_use]
    pub fn http_base(&self) -> String {
        format!("http://{}:{MGMT_HTTP_PORT}", self.management)
    }

    /// The SSH port on [`Gateway::management`].
    #[must_use]
    pub fn ssh_port(&self) -> u16 {
        MGMT_SSH_PORT
    }

    /// The test board's Management interface address (`127.3.n.1`).
    #[must_use]
    pub fn management(&self) -> std::net::Ipv4Addr {
        self.management
    }

    /// Runs `args` in the console session `token` (see
    /// [`Gateway::console_user`]): `Ok(output)` or `Err(output)`.
    ///
    /// # Errors
    /// The daemon's refusal or the command's error text.
    pub fn cli_as(
        &self,
        token: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, String> {
        let mut full = vec!["__session", token];
        full.extend_from_slice(args);
        match self.control(&full, stdin) {
            (true, out) => Ok(out),
            (false, out) => Err(out),
        }
    }

    /// Like [`Gateway::cli`], panicking with the command and its error.
    ///
    /// # Panics
    /// When the command fails.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        self.cli(args)
            .unwrap_or_else(|e| panic!("breakwater cli {} failed: {e}", args.join(" ")))
    }

    /// SIGKILL, no warning, to the supervisor and the mail daemon: a pulled
    /// plug. The supervisor goes first so it cannot restart the daemon;
    /// returns once the daemon is gone too (its database lock released).
    ///
    /// # Panics
    /// When the daemon is still alive [`SOON`] after SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(pid) = self.kill_all() {
            panic!("mail daemon {pid} survived SIGKILL");
        }
    }

    /// [`Gateway::kill9`] without the panic: the PID of a daemon that would
    /// not die.
    fn kill_all(&mut self) -> Option<u32> {
        let daemon = self.daemon_pid();
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
        let pid = daemon?;
        signal(pid, "KILL");
        wait_until(SOON, || (!process_alive(pid)).then_some(()))
            .is_none()
            .then_some(pid)
    }

    /// SIGKILL to the mail daemon only (a crash): the supervisor is expected
    /// to start it again. Returns the PID that was killed.
    ///
    /// # Panics
    /// When no daemon is running.
    pub fn kill_daemon(&mut self) -> u32 {
        let pid = self
            .daemon_pid()
            .expect("no daemon.pid: the mail daemon is not running");
        signal(pid, "KILL");
        pid
    }

    /// The current mail daemon's PID (`<data-dir>/daemon.pid`, written by
    /// the supervisor), when one runs.
    #[must_use]
    pub fn daemon_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir.join("daemon.pid")).ok()?;
        let pid = text.trim().parse().ok()?;
        process_alive(pid).then_some(pid)
    }

    /// Waits up to `timeout` for the supervisor to exit by itself and
    /// returns its status (`None`: still running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let status = wait_timeout(self.child.as_mut()?, timeout)?;
        self.child = None;
        Some(status)
    }

    /// SIGTERM to the supervisor without waiting (see [`Gateway::stop`]
    /// for the waiting form).
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            signal(child.id(), "TERM");
        }
    }

    /// The board profile file the gateway starts with (tests may append
    /// settings, e.g. a `[supervisor]` table, before a restart).
    #[must_use]
    pub fn board_file(&self) -> &Path {
        &self.board
    }

    /// SIGTERM, then wait for a clean exit.
    ///
    /// # Panics
    /// When it does not exit within [`SOON`] (it is SIGKILLed first).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(child.id(), "TERM");
        if wait_timeout(&mut child, SOON).is_none() {
            kill_and_reap(&mut child);
            panic!("breakwater did not exit within {SOON:?} of SIGTERM");
        }
    }

    /// Stop (SIGTERM) and start again on the same data dir.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Whether the daemon process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The daemon's data dir ("flash").
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("breakwater.stderr")
    }

    /// `mail_logs`: rotated files (oldest first) followed by `mail.current`.
    #[must_use]
    pub fn mail_log(&self) -> String {
        let dir = self.data_dir.join("logs").join("mail_logs");
        let mut rotated: Vec<PathBuf> = fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("mail.@"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        rotated.sort();
        let mut text = String::new();
        for p in rotated
            .iter()
            .chain(std::iter::once(&dir.join("mail.current")))
        {
            if let Ok(b) = fs::read(p) {
                text.push_str(&String::from_utf8_lossy(&b));
            }
        }
        text
    }

    /// Mail log lines matching the regex `pattern`.
    ///
    /// # Panics
    /// When `pattern` is not a valid regex.
    #[must_use]
    pub fn log_lines(&self, pattern: &str) -> Vec<String> {
        let re = Regex::new(pattern).expect("log pattern");
        self.mail_log()
            .lines()
            .filter(|l| re.is_match(l))
            .map(str::to_string)
            .collect()
    }

    /// Waits for a mail log line matching the regex `pattern` and returns it
    /// (use [`regex::escape`] for a literal).
    ///
    /// # Panics
    /// On timeout, with the end of the log.
    pub fn wait_for_log(&self, pattern: &str, timeout: Duration) -> String {
        let re = Regex::new(pattern).expect("log pattern");
        wait_until(timeout, || {
            self.mail_log()
                .lines()
                .find(|l| re.is_match(l))
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let log = self.mail_log();
            let lines: Vec<&str> = log.lines().collect();
            panic!(
                "no mail log line matching /{pattern}/ within {timeout:?}; last lines:\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            )
        })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.mail_log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- breakwater mail log (last 60 lines) ----\n{}\n---- breakwater stderr (last 30 lines) ----\n{}",
                lines[lines.len().saturating_sub(60)..].join("\n"),
                tail(&self.stderr_path(), 30)
            );
        }
        let _ = self.kill_all();
    }
}

/// Whether `pid` is a live process (a zombie counts as gone: it holds no
/// files or sockets any more).
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The board profile (`board/profiles/*.toml` shape) for this test's addresses.
fn board_profile(net: &TestNet) -> String {
    format!(
        r#"name = "test"
description = "test board"
listener_port = {port}
hostname = "gw.test.local"

[[interfaces]]
name = "Management"
address = "{mgmt}"
prefix = 8

[[interfaces]]
name = "Data 1"
address = "{d1}"
prefix = 8

[[interfaces]]
name = "Data 2"
address = "{d2}"
prefix = 8

[management_ports]
https = {https}
http = {http}
ssh = {ssh}

[console]
device = "stdio"
baud = 115200

[watchdog]
kind = "soft"
timeout_secs = 60
"#,
        port = crate::net::SMTP_PORT,
        https = MGMT_HTTPS_PORT,
        http = MGMT_HTTP_PORT,
        ssh = MGMT_SSH_PORT,
        mgmt = net.management(),
        d1 = net.data1(),
        d2 = net.data2(),
    )
}
