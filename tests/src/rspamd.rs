//! Debian's `rspamd` as the gateway's anti-spam engine: one normal worker
//! on a loopback address and a free port, its own config, run and log
//! directories in a temp dir, and nothing that reaches the network (no
//! module list, no RBLs, no fuzzy storage, no map or rule updates; its DNS
//! points at a port nothing answers on).
//!
//! Besides rspamd's built-in GTUBE check, a local Lua rule scores
//! [`SPAM_MARKER`] 20 (over the `reject` threshold of 15: positive spam)
//! and [`SUSPECT_MARKER`] 8 (over `add_header` at 6: suspected spam).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSPAMD: &str = "/usr/bin/rspamd";

/// A body line the local rule scores as spam.
pub const SPAM_MARKER: &str = "BREAKWATER-SPAM-MARKER";
/// A body line the local rule scores as suspected spam.
pub const SUSPECT_MARKER: &str = "BREAKWATER-SUSPECT-MARKER";
/// SpamAssassin's Generic Test for Unsolicited Bulk Email, which rspamd
/// recognises by itself.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// How long rspamd may take to load (language models, regex cache) on a
/// busy shared machine.
const STARTUP: Duration = Duration::from_secs(240);

const LOCAL_RULES: &str = r#"
local function has(task, marker)
  return tostring(task:get_content()):find(marker, 1, true) ~= nil
end
rspamd_config.BW_SPAM_MARKER = {
  callback = function(task) return has(task, 'BREAKWATER-SPAM-MARKER') end,
  score = 20.0,
  description = 'Breakwater test marker: spam',
}
rspamd_config.BW_SUSPECT_MARKER = {
  callback = function(task) return has(task, 'BREAKWATER-SUSPECT-MARKER') end,
  score = 8.0,
  description = 'Breakwater test marker: suspected spam',
}
"#;

pub struct Rspamd {
    dir: tempfile::TempDir,
    ip: Ipv4Addr,
    port: u16,
    child: Option<Child>,
}

impl Rspamd {
    /// Starts rspamd on `ip` (a free port) and waits until it answers
    /// `/ping`.
    ///
    /// # Panics
    /// When rspamd (package `rspamd`, tools/packages.txt) is missing or
    /// does not come up.
    #[must_use]
    pub fn start(ip: Ipv4Addr) -> Rspamd {
        assert!(
            Path::new(RSPAMD).exists(),
            "{RSPAMD} is missing: install the rspamd package (tools/packages.txt)"
        );
        let dir = tempfile::Builder::new()
            .prefix("bw-rspamd-")
            .tempdir()
            .expect("rspamd temp dir");
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("free TCP port")
            .port();
        let mut r = Rspamd {
            dir,
            ip,
            port,
            child: None,
        };
        r.write_config();
        r.restart();
        r
    }

    fn write_config(&self) {
        let d = self.dir.path();
        fs::write(d.join("local.lua"), LOCAL_RULES).expect("local.lua");
        // A short TLD list: compiling the full public suffix list takes
        // minutes on a loaded machine, and URLs play no part here.
        fs::write(d.join("tld.dat"), "com\norg\nnet\nexample\ntest\n").expect("tld.dat");
        let conf = format!(
            r#"options {{
  pidfile = "{d}/rspamd.pid";
  filters = "";
  url_tld = "{d}/tld.dat";
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{d}/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "{ip}:{port}"; count = 1; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
lua = "{d}/local.lua";
"#,
            d = d.display(),
            ip = self.ip,
            port = self.port,
        );
        fs::write(d.join("rspamd.conf"), conf).expect("rspamd.conf");
    }

    /// The worker's address.
    #[must_use]
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// rspamd's own log, for a failing test's message.
    #[must_use]
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("rspamd.log")).unwrap_or_default()
    }

    /// Stops rspamd and its worker (the whole process group), as an engine
    /// that goes down: connections are refused from then on.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pgid = c.id();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((self.ip, self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// (Re)starts rspamd with the same port and files; waits until it
    /// answers `/ping`.
    ///
    /// # Panics
    /// When it does not come up.
    pub fn restart(&mut self) {
        self.stop();
        let d = self.dir.path();
        let var = |name: &str| format!("{name}={}", d.display());
        let child = Command::new(RSPAMD)
            .args(["-f", "-i", "-u", "root", "-g", "root", "-c"])
            .arg(d.join("rspamd.conf"))
            .args(["--var", &var("DBDIR")])
            .args(["--var", &var("RUNDIR")])
            .args(["--var", &var("LOGDIR")])
            .env("TMPDIR", d)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(d.join("rspamd.err")).expect("stderr file"),
            ))
            .spawn()
            .expect("spawn rspamd");
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let err = fs::read_to_string(d.join("rspamd.err")).unwrap_or_default();
        panic!(
            "rspamd did not answer on {}:{} within {STARTUP:?}\n{err}\n{}",
            self.ip,
            self.port,
            self.log()
        );
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect((self.ip, self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.contains("pong")
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- rspamd log (last 20 lines) ----\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
        self.stop();
    }
}
