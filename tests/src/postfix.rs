//! A real Postfix instance as the gateway's next hop.
//!
//! Each [`Postfix`] is a throwaway instance with its own config dir,
//! queue, data dir, log file and mailboxes under one temp dir, started the
//! way `/work/shared/bench/postfix-baseline.sh` and `tools/bench-delivery`
//! do it (checked on this machine, Postfix 3.7):
//!
//! ```text
//! <tmp>/etc/main.cf      written with `postconf -c <tmp>/etc -e ...`
//! <tmp>/etc/master.cf    Debian's, with smtp/inet disabled (`-M#`), no chroot
//!                        (`-F '*/*/chroot=n'`) and one smtpd on <ip>:<port>
//! <tmp>/spool            queue_directory (master.pid under pid/)
//! <tmp>/maillog          maillog_file (postlogd), what the tests read
//! <tmp>/mail/<user>/     virtual(8) Maildir per mailbox: new/ holds one
//!                        file per delivered message
//! ```
//!
//! `postfix -c <tmp>/etc start` starts it; drop runs `postfix -c <tmp>/etc
//! stop` and then kills, by PID, whatever of *this* instance is left (the
//! master from its pid file and the children it had, each checked by its
//! start time so a recycled PID is never hit). The system's default
//! instance (`/etc/postfix`) is never used: the only listener is the
//! explicit `<ip>:<port>` service, so nothing listens on 127.0.0.1:25.
//!
//! Mail for the test domain is delivered by the `virtual` agent into
//! Maildirs owned by `nobody` (`virtual_mailbox_maps` is an `inline:` map
//! of the test's mailboxes, so an unknown recipient gets `550 5.1.1`).
//! Nothing ever leaves the instance: `default_transport` and
//! `relay_transport` are `error:`, so not even a bounce goes out.
//!
//! Things that bit while setting this up:
//! - `inet_interfaces` must name a configured interface address; 127.4.n.x
//!   is routed to `lo` but not configured on it, so it is `127.0.0.1`
//!   (which then only serves Postfix's idea of "local"; the service itself
//!   has an explicit address);
//! - `maillog_file` must start with one of `maillog_file_prefixes`;
//! - Postfix's unprivileged daemons must be able to walk into the temp dir
//!   (mode 0755);
//! - errors found before logging is set up go to the terminal only, so
//!   with no terminal a failed `postfix start` says nothing: run
//!   `script -qc 'postfix -c <dir> check' /dev/null` to see them.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use regex::Regex;
use tempfile::TempDir;

use crate::nexthop::TestCert;
use crate::proc::{is_root, kill_and_reap, signal, tail, wait_timeout};
use crate::wait_until;

/// The port a test's Postfix listens on (next to smtp-sink's
/// `127.4.n.25:2525`, on its own `127.4.n.x`).
pub const POSTFIX_PORT: u16 = 2525;

/// How long starting or stopping an instance may take.
const START_STOP: Duration = Duration::from_secs(20);

/// What a [`Postfix`] will be; see [`Postfix::builder`].
#[derive(Debug, Clone)]
pub struct PostfixBuilder {
    addr: SocketAddrV4,
    domain: String,
    mailboxes: Vec<String>,
    tls: Option<(PathBuf, PathBuf)>,
    extra: Vec<String>,
}

impl PostfixBuilder {
    /// Listen on another port than [`POSTFIX_PORT`].
    #[must_use]
    pub fn port(mut self, port: u16) -> PostfixBuilder {
        self.addr.set_port(port);
        self
    }

    /// A mailbox `local@<domain>` (Maildir `<tmp>/mail/<local>/`).
    #[must_use]
    pub fn mailbox(mut self, local: &str) -> PostfixBuilder {
        assert!(
            !local.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
                && !local.starts_with('.'),
            "mailbox name {local:?}: keep it to [A-Za-z0-9._-]"
        );
        self.mailboxes.push(local.to_string());
        self
    }

    /// Offer STARTTLS with this certificate (`smtpd_tls_security_level =
    /// may`), log each TLS session (`smtpd_tls_loglevel = 1`) and say so in
    /// the Received header (`smtpd_tls_received_header = yes`).
    #[must_use]
    pub fn starttls(mut self, cert: &TestCert) -> PostfixBuilder {
        self.tls = Some((cert.cert.clone(), cert.key.clone()));
        self
    }

    /// One more `main.cf` setting, `name=value`.
    #[must_use]
    pub fn postconf(mut self, setting: &str) -> PostfixBuilder {
        self.extra.push(setting.to_string());
        self
    }

    /// Writes the instance's configuration, starts it and waits until its
    /// smtpd listens.
    ///
    /// # Panics
    /// When the address is taken, Postfix is missing, or it does not start.
    #[must_use]
    pub fn start(self) -> Postfix {
        assert!(
            is_root(),
            "a Postfix instance needs root (`postfix start`); the delivery tests run as root"
        );
        assert!(
            !self.mailboxes.is_empty(),
            "a Postfix next hop needs at least one mailbox"
        );
        if let Err(e) = std::net::TcpListener::bind(self.addr) {
            panic!("cannot use {} for Postfix: {e}", self.addr);
        }
        let dir = tempfile::Builder::new()
            .prefix("bw-postfix-")
            .tempdir()
            .expect("postfix temp dir");
        // Postfix's unprivileged daemons walk in here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod postfix temp dir");
        let root = dir.path().to_path_buf();
        let conf = root.join("etc");
        let mail = root.join("mail");
        for d in [&conf, &root.join("spool"), &mail] {
            fs::create_dir_all(d).expect("postfix dirs");
        }
        let (uid, gid) = nobody();
        std::os::unix::fs::chown(&mail, Some(uid), Some(gid)).expect("chown mailbox base");
        fs::copy("/etc/postfix/master.cf", conf.join("master.cf")).unwrap_or_else(|e| {
            panic!("copy /etc/postfix/master.cf ({e}): is Debian's postfix package installed? run tools/test")
        });
        fs::write(conf.join("main.cf"), "").expect("write main.cf");

        let p = |name: &str| root.join(name).display().to_string();
        let map: Vec<String> = self
            .mailboxes
            .iter()
            .map(|m| format!("{m}@{}={m}/", self.domain))
            .collect();
        let mut settings = vec![
            "compatibility_level=3.6".to_string(),
            format!("queue_directory={}", p("spool")),
            format!("data_directory={}", p("data")),
            format!("maillog_file={}", p("maillog")),
            format!("maillog_file_prefixes={}", root.display()),
            format!("myhostname=mx.{}", self.domain),
            "mydestination=".to_string(),
            "alias_maps=".to_string(),
            "alias_database=".to_string(),
            "local_recipient_maps=".to_string(),
            "inet_interfaces=127.0.0.1".to_string(),
            "inet_protocols=ipv4".to_string(),
            "mynetworks=127.0.0.1/32".to_string(),
            "smtpd_peername_lookup=no".to_string(),
            "biff=no".to_string(),
            "in_flow_delay=0s".to_string(),
            // A client that talks ahead of time without having seen
            // PIPELINING in the EHLO reply gets its DATA refused.
            "smtpd_data_restrictions=reject_unauth_pipelining".to_string(),
            format!("virtual_mailbox_domains={}", self.domain),
            format!("virtual_mailbox_base={}", mail.display()),
            format!("virtual_mailbox_maps=inline:{{ {} }}", map.join(", ")),
            format!("virtual_uid_maps=static:{uid}"),
            format!("virtual_gid_maps=static:{gid}"),
            "default_transport=error:the e2e Postfix sends no mail out".to_string(),
            "relay_transport=error:the e2e Postfix sends no mail out".to_string(),
        ];
        if let Some((cert, key)) = &self.tls {
            let (c, k) = (conf.join("smtpd-cert.pem"), conf.join("smtpd-key.pem"));
            fs::copy(cert, &c).expect("copy TLS certificate");
            fs::copy(key, &k).expect("copy TLS key");
            settings.extend([
                "smtpd_tls_security_level=may".to_string(),
                format!("smtpd_tls_cert_file={}", c.display()),
                format!("smtpd_tls_key_file={}", k.display()),
                "smtpd_tls_loglevel=1".to_string(),
                "smtpd_tls_received_header=yes".to_string(),
            ]);
        }
        settings.extend(self.extra.iter().cloned());

        let mut e = vec!["-e".to_string()];
        e.extend(settings);
        postconf(&conf, &e);
        postconf(&conf, &["-M#".to_string(), "smtp/inet".to_string()]);
        postconf(
            &conf,
            &[
                "-M".to_string(),
                format!("{a}/inet={a} inet n - n - - smtpd", a = self.addr),
            ],
        );
        postconf(&conf, &["-F".to_string(), "*/*/chroot=n".to_string()]);

        let mut pf = Postfix {
            addr: self.addr,
            domain: self.domain,
            conf,
            root,
            master: None,
            _dir: dir,
        };
        pf.start_instance();
        pf
    }
}

/// `nobody`'s uid and gid (65534 when /etc/passwd does not say).
fn nobody() -> (u32, u32) {
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == "nobody")
                    .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                    .flatten()
            })
        })
        .unwrap_or((65534, 65534))
}

/// `postconf -c <conf> <args>`, panicking with its error.
fn postconf(conf: &Path, args: &[String]) {
    let out = Command::new("postconf")
        .arg("-c")
        .arg(conf)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run postconf ({e}): is Debian's postfix package installed?")
        });
    assert!(
        out.status.success(),
        "postconf -c {} {} failed:\n{}{}",
        conf.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A process of the instance, pinned by its start time so a recycled PID
/// is never signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: u32,
    start: u64,
}

/// `(state, ppid, starttime)` from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f.first()?.chars().next()?,
        f.get(1)?.parse().ok()?,
        f.get(19)?.parse().ok()?,
    ))
}

impl Proc {
    fn of(pid: u32) -> Option<Proc> {
        stat(pid).map(|(_, _, start)| Proc { pid, start })
    }

    /// Still the same process, and not a zombie.
    fn alive(self) -> bool {
        stat(self.pid).is_some_and(|(state, _, start)| start == self.start && state != 'Z')
    }

    /// Every live descendant.
    fn descendants(self) -> Vec<Proc> {
        let mut all: Vec<(u32, u32, u64)> = Vec::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.filter_map(Result::ok) {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                if let Some((_, ppid, start)) = stat(pid) {
                    all.push((pid, ppid, start));
                }
            }
        }
        let mut out = Vec::new();
        let mut parents = vec![self.pid];
        while let Some(parent) = parents.pop() {
            for &(pid, ppid, start) in &all {
                if ppid == parent && !out.iter().any(|p: &Proc| p.pid == pid) {
                    out.push(Proc { pid, start });
                    parents.push(pid);
                }
            }
        }
        out
    }
}

/// Whether something listens on `addr` (TCP, `/proc/net/tcp`), without
/// connecting to it (which would put a session in Postfix's log).
fn listening(addr: SocketAddrV4) -> bool {
    let want = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(addr.ip().octets()),
        addr.port()
    );
    fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
    })
}

/// A running Postfix instance; stopped on drop.
#[derive(Debug)]
pub struct Postfix {
    addr: SocketAddrV4,
    domain: String,
    conf: PathBuf,
    root: PathBuf,
    master: Option<Proc>,
    _dir: TempDir,
}

/// One queue file as Postfix's queue manager logged it when it first
/// became active (`<id>: from=<s>, size=N, nrcpt=R (queue active)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub queue_id: String,
    pub from: String,
    pub size: u64,
    pub nrcpt: u32,
}

/// One finished SMTP session as smtpd logged it (`disconnect from
/// name[ip] ehlo=1 starttls=1 mail=1 rcpt=3 data=1 quit=1 commands=8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpdSession {
    /// The client's IP address.
    pub client: String,
    /// Command name → count as logged (`"3"`, or `"2/3"` when some failed).
    pub commands: BTreeMap<String, String>,
}

impl SmtpdSession {
    /// The count for `command`, when all of them succeeded.
    #[must_use]
    pub fn ok(&self, command: &str) -> Option<u32> {
        self.commands.get(command)?.parse().ok()
    }
}

impl Postfix {
    /// An instance on `ip:`[`POSTFIX_PORT`] that accepts mail for `domain`
    /// (give it mailboxes with [`PostfixBuilder::mailbox`]).
    #[must_use]
    pub fn builder(ip: Ipv4Addr, domain: &str) -> PostfixBuilder {
        PostfixBuilder {
            addr: SocketAddrV4::new(ip, POSTFIX_PORT),
            domain: domain.to_string(),
            mailboxes: Vec::new(),
            tls: None,
            extra: Vec::new(),
        }
    }

    fn start_instance(&mut self) {
        let out_path = self.root.join("postfix-start.out");
        let out = fs::File::create(&out_path).expect("postfix start output");
        let mut child = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("start")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup output"))
            .stderr(out)
            .spawn()
            .expect("run postfix (is Debian's postfix package installed? run tools/test)");
        let status = wait_timeout(&mut child, START_STOP);
        if status.is_none() {
            kill_and_reap(&mut child);
        }
        let pid_file = self.root.join("spool/pid/master.pid");
        // Even a failed start may have left a master behind: find it, so
        // that drop stops it.
        let patience = if status.is_some_and(|s| s.success()) {
            START_STOP
        } else {
            Duration::from_millis(500)
        };
        let master = wait_until(patience, || {
            let pid: u32 = fs::read_to_string(&pid_file).ok()?.trim().parse().ok()?;
            Proc::of(pid)
        });
        self.master = master;
        let failed = |why: &str| -> ! {
            panic!(
                "Postfix at {} {why} (postfix start: {status:?}); output:\n{}\nmaillog:\n{}\n\
                 (errors found before logging is set up only go to a terminal: run \
                 `script -qc 'postfix -c {} check' /dev/null`)",
                self.addr,
                tail(&out_path, 20),
                tail(&self.root.join("maillog"), 20),
                self.conf.display()
            )
        };
        if !status.is_some_and(|s| s.success()) || self.master.is_none() {
            failed("did not start");
        }
        if wait_until(START_STOP, || listening(self.addr).then_some(())).is_none() {
            failed("never listened");
        }
    }

    /// Stops the instance: `postfix -c <conf> stop`, then SIGKILL for the
    /// master and any child of it still there (by PID, this instance's
    /// only). Idempotent.
    pub fn stop(&mut self) {
        let Some(master) = self.master.take() else {
            return;
        };
        let kids = master.descendants();
        if let Ok(mut child) = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            && wait_timeout(&mut child, START_STOP).is_none()
        {
            kill_and_reap(&mut child);
        }
        if wait_until(Duration::from_secs(10), || (!master.alive()).then_some(())).is_none()
            && master.alive()
        {
            signal(master.pid, "KILL");
        }
        let left: Vec<Proc> = kids.into_iter().filter(|k| k.alive()).collect();
        for k in &left {
            signal(k.pid, "TERM");
        }
        let _ = wait_until(Duration::from_secs(5), || {
            left.iter().all(|k| !k.alive()).then_some(())
        });
        for k in left.iter().filter(|k| k.alive()) {
            signal(k.pid, "KILL");
        }
    }

    /// Where its smtpd listens.
    #[must_use]
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// `"<ip>:<port>"`, the form `smtproutes new` takes.
    #[must_use]
    pub fn route(&self) -> String {
        self.addr.to_string()
    }

    /// The domain it accepts mail for.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The instance's config dir (for `postfix -c` / `postconf -c`).
    #[must_use]
    pub fn config_dir(&self) -> &Path {
        &self.conf
    }

    /// The whole `maillog_file`.
    #[must_use]
    pub fn log(&self) -> String {
        fs::read(self.root.join("maillog"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Log lines matching the regex `pattern`.
    ///
    /// # Panics
    /// When `pattern` is not a valid regex.
    #[must_use]
    pub fn log_lines(&self, pattern: &str) -> Vec<String> {
        let re = Regex::new(pattern).expect("log pattern");
        self.log()
            .lines()
            .filter(|l| re.is_match(l))
            .map(str::to_string)
            .collect()
    }

    /// Waits for a log line matching `pattern` and returns it.
    ///
    /// # Panics
    /// On timeout, with the end of the log.
    pub fn wait_for_log(&self, pattern: &str, timeout: Duration) -> String {
        let re = Regex::new(pattern).expect("log pattern");
        wait_until(timeout, || {
            self.log()
                .lines()
                .find(|l| re.is_match(l))
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            panic!(
                "no Postfix log line matching /{pattern}/ within {timeout:?}; last lines:\n{}",
                self.log_tail(40)
            )
        })
    }

    /// The last `n` lines of the log.
    #[must_use]
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.root.join("maillog"), n)
    }

    /// Every queue file the queue manager took in, in log order.
    ///
    /// # Panics
    /// Never (static regex).
    #[must_use]
    pub fn queue_entries(&self) -> Vec<QueueEntry> {
        let re = Regex::new(
            r"postfix/qmgr\[\d+\]: ([0-9A-Za-z]+): from=<([^>]*)>, size=(\d+), nrcpt=(\d+) \(queue active\)",
        )
        .expect("static regex");
        self.log()
            .lines()
            .filter_map(|l| {
                let c = re.captures(l)?;
                Some(QueueEntry {
                    queue_id: c[1].to_string(),
                    from: c[2].to_string(),
                    size: c[3].parse().ok()?,
                    nrcpt: c[4].parse().ok()?,
                })
            })
            .collect()
    }

    /// Every finished smtpd session, in log order.
    ///
    /// # Panics
    /// Never (static regex).
    #[must_use]
    pub fn sessions(&self) -> Vec<SmtpdSession> {
        let re = Regex::new(r"postfix/smtpd\[\d+\]: disconnect from [^\[]*\[([^\]]+)\](.*)$")
            .expect("static regex");
        self.log()
            .lines()
            .filter_map(|l| {
                let c = re.captures(l)?;
                let commands = c[2]
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Some(SmtpdSession {
                    client: c[1].to_string(),
                    commands,
                })
            })
            .collect()
    }

    /// The messages delivered to `local@<domain>`, oldest first.
    #[must_use]
    pub fn mailbox(&self, local: &str) -> Vec<PostfixMessage> {
        // virtual(8) writes into tmp/ and renames into new/: a file in new/
        // is complete.
        let new = self.root.join("mail").join(local).join("new");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(&new)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
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
                Some(PostfixMessage::from_maildir(p, &bytes))
            })
            .collect()
    }

    /// The message with this Message-ID (brackets optional) in
    /// `local`'s mailbox, waiting up to `timeout`.
    #[must_use]
    pub fn wait_for_message_id(
        &self,
        local: &str,
        id: &str,
        timeout: Duration,
    ) -> Option<PostfixMessage> {
        let id = id.trim_matches(['<', '>']);
        wait_until(timeout, || {
            self.mailbox(local)
                .into_iter()
                .find(|m| m.message_id().as_deref() == Some(id))
        })
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- Postfix {} maillog (last 40 lines) ----\n{}",
                self.addr,
                self.log_tail(40)
            );
        }
        self.stop();
    }
}

/// One message from a Maildir: what Postfix stored, line ends put back
/// to CRLF (as it went over the wire).
#[derive(Debug, Clone)]
pub struct PostfixMessage {
    /// The Maildir file, for failure messages.
    pub file: PathBuf,
    /// The message with `virtual(8)`'s delivery headers (`Return-Path:`,
    /// `X-Original-To:`, `Delivered-To:`) and Postfix's `Received:` on top.
    pub raw: Vec<u8>,
}

/// Header fields delivery and relays prepend.
const TRACE: [&str; 4] = [
    "received:",
    "return-path:",
    "delivered-to:",
    "x-original-to:",
];

impl PostfixMessage {
    fn from_maildir(file: PathBuf, bytes: &[u8]) -> PostfixMessage {
        let mut raw = Vec::with_capacity(bytes.len() + bytes.len() / 40);
        for &b in bytes {
            if b == b'\n' {
                raw.extend_from_slice(b"\r\n");
            } else {
                raw.push(b);
            }
        }
        PostfixMessage { file, raw }
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

    /// The envelope sender (`Return-Path:`), without brackets.
    #[must_use]
    pub fn return_path(&self) -> Option<String> {
        self.header("Return-Path")
            .map(|v| v.trim().trim_matches(['<', '>']).to_string())
    }

    /// The envelope recipient it was delivered to (`Delivered-To:`).
    #[must_use]
    pub fn delivered_to(&self) -> Option<String> {
        self.header("Delivered-To")
    }

    /// The `Received:` fields at the top (unfolded), newest first.
    #[must_use]
    pub fn leading_received(&self) -> Vec<String> {
        self.headers()
            .into_iter()
            .take_while(|(n, _)| {
                TRACE
                    .iter()
                    .any(|t| t[..t.len() - 1].eq_ignore_ascii_case(n))
            })
            .filter(|(n, _)| n.eq_ignore_ascii_case("Received"))
            .map(|(_, v)| v)
            .collect()
    }

    /// The message with the trace and delivery fields at the top removed:
    /// what the original sender wrote.
    #[must_use]
    pub fn without_added_trace(&self) -> &[u8] {
        let raw = &self.raw;
        let mut pos = 0;
        loop {
            let rest = &raw[pos..];
            let is_trace = TRACE.iter().any(|p| {
                rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            });
            if !is_trace {
                return rest;
            }
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
}
