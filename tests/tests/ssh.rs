//! The CLI over SSH on the Management interface, with the real OpenSSH
//! client: one-shot commands (output and exit status as `breakwater
//! cli`'s), a change staged and committed over SSH, the console's shell
//! through a terminal, roles, the passphrase lockout, public-key logins
//! with a committed key, a host key that survives a restart, and no SSH
//! on Data 1 or Data 2.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use breakwater_e2e::ssh::{SshAuth as Auth, SshClient};
use breakwater_e2e::{Gateway, MGMT_SSH_PORT, TestNet};

/// Waits (bounded) for a system log line holding `text`.
fn wait_for_system_log(gw: &Gateway, text: &str) -> String {
    let path = gw.data_dir().join("logs/system_logs/system.current");
    for _ in 0..300 {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains(text)) {
            return line.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "no {text:?} in the system log:\n{}",
        std::fs::read_to_string(&path).unwrap_or_default()
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Succeeded, with its stdout.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ssh failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A console user `name` whose first passphrase change is done (see
/// `Gateway::console_user`), with its passphrase.
fn user(gw: &Gateway, name: &str, role: &str) -> Auth {
    let token = gw.console_user(name, role);
    let _ = gw.cli_as(&token, &["__logout"], None);
    Auth::Passphrase(format!("{name} second pass"))
}

#[test]
fn one_shot_commands_run_as_the_user_and_a_commit_over_ssh_is_in_force() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let client = SshClient::new(net.management(), MGMT_SSH_PORT);
    let admin = user(&gw, "sshadmin", "admin");

    // The same text as `breakwater cli`, and exit status 0.
    let out = client.run("sshadmin", &admin, "showconfig", "");
    assert_eq!(ok(&out), gw.cli_ok(&["showconfig"]));

    // A change staged over SSH, then committed over SSH, is committed.
    let out = client.run("sshadmin", &admin, "sethostname ssh-staged.example.com", "");
    assert!(
        ok(&out).contains("The change is staged"),
        "{}",
        text(&out.stdout)
    );
    let out = client.run("sshadmin", &admin, r#"commit "hostname over ssh""#, "");
    ok(&out);
    assert!(
        gw.cli_ok(&["showconfig"])
            .contains("ssh-staged.example.com")
    );
    assert!(gw.cli_ok(&["commitlog"]).contains("hostname over ssh"));

    // The console's own commands answer as at the console.
    let version = ok(&client.run("sshadmin", &admin, "version", ""));
    assert!(version.starts_with("Current Version"), "{version}");
    assert!(
        version.contains("Host name: ssh-staged.example.com"),
        "{version}"
    );
    assert!(ok(&client.run("sshadmin", &admin, "commitdetail", "")).contains("hostname over ssh"));
    let out = client.run("sshadmin", &admin, "rollbackconfig", "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is interactive"),
        "{}",
        text(&out.stderr)
    );

    // A failing command: its error on stderr, exit status 1.
    let out = client.run("sshadmin", &admin, "nosuchcommand", "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nosuchcommand"),
        "{}",
        text(&out.stderr)
    );

    // A command that reads a body reads what the client sends.
    let saved = gw.cli_ok(&["saveconfig", "print"]);
    let out = client.run("sshadmin", &admin, "loadconfig -", &saved);
    ok(&out);

    // A body is bounded (ssh::MAX_EXEC_INPUT, 1 MiB).
    let huge = "#".repeat(1024 * 1024 + 1);
    let out = client.run("sshadmin", &admin, "loadconfig -", &huge);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("larger than 1024 KiB"),
        "{}",
        text(&out.stderr)
    );

    // A read-only user reads but may not change anything.
    let reader = user(&gw, "sshreader", "read-only");
    ok(&client.run("sshreader", &reader, "showconfig", ""));
    let out = client.run("sshreader", &reader, "sethostname nope.example.com", "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    assert!(!gw.cli_ok(&["showconfig"]).contains("nope.example.com"));

    // Each one-shot command's session ended with it.
    let who = gw.cli_ok(&["who"]);
    assert!(
        !who.contains("sshadmin") && !who.contains("sshreader"),
        "{who}"
    );
    assert!(
        gw.cli_ok(&["last"]).contains("ssh"),
        "last shows SSH logins"
    );
}

/// Drives `argv` on a terminal (python3's pty module): waits for each
/// text, then types its answer; returns the screen and the exit code.
fn on_terminal(argv: &[String], envs: &[(&str, &Path)], steps: &[(&str, &str)]) -> (String, i32) {
    const DRIVER: &str = r#"
import json, os, pty, select, sys, time
steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
screen = b""
def read(deadline):
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""
seen = 0
for want, answer in steps:
    deadline = time.time() + 60
    while want.encode() not in screen[seen:]:
        chunk = read(deadline)
        if not chunk:
            sys.stdout.write(screen.decode("utf-8", "replace"))
            sys.stdout.write("\n[no %r on the screen]\n" % want)
            sys.exit(99)
        screen += chunk
    seen = screen.index(want.encode(), seen) + len(want)
    os.write(fd, answer.encode())
deadline = time.time() + 60
while True:
    chunk = read(deadline)
    if not chunk:
        break
    screen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(screen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let steps = serde_json::to_string(steps).unwrap();
    let mut cmd = Command::new("python3");
    cmd.args(["-c", DRIVER, &steps]).args(argv);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python3");
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

#[test]
fn the_console_shell_runs_on_an_ssh_terminal() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let client = SshClient::new(net.management(), MGMT_SSH_PORT);
    // A new user's first login, over SSH: the console's forced change.
    gw.cli_input(
        &["userconfig", "new", "sshop", "operator"],
        "sshop first pass",
    )
    .unwrap();
    let askpass = client.askpass("sshop first pass");
    let cmd = client.command(
        "sshop",
        &Auth::Passphrase("sshop first pass".into()),
        &["-tt"],
    );
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (screen, code) = on_terminal(
        &argv,
        &[
            ("SSH_ASKPASS", &askpass),
            ("SSH_ASKPASS_REQUIRE", Path::new("force")),
        ],
        &[
            ("New passphrase: ", "sshop new pass\r"),
            ("again: ", "sshop new pass\r"),
            ("Logged in as sshop (operator)", ""),
            ("gw.test.local> ", "status\r"),
            ("gw.test.local> ", "sethostname\r"),
            ("Enter the new hostname.", ""),
            ("]> ", "menu.example.com\r"),
            ("> ", "commit\r"),
            // commit's menu asks for a comment.
            ("]> ", "from the ssh shell\r"),
            ("menu.example.com> ", "quit\r"),
            ("Goodbye.", ""),
        ],
    );
    assert_eq!(code, 0, "ssh exits 0 after quit:\n{screen}");
    assert!(
        screen.contains("Messages in queue:"),
        "status ran:\n{screen}"
    );
    assert!(
        gw.cli_ok(&["showconfig"]).contains("menu.example.com"),
        "{screen}"
    );
    // The new passphrase is the one now.
    let out = client.run(
        "sshop",
        &Auth::Passphrase("sshop new pass".into()),
        "status",
        "",
    );
    ok(&out);
}

#[test]
fn wrong_passphrases_are_refused_and_lock_the_account() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let client = SshClient::new(net.management(), MGMT_SSH_PORT);
    let Auth::Passphrase(right) = user(&gw, "sshlock", "admin") else {
        unreachable!()
    };
    let wrong = Auth::Passphrase("not the passphrase".into());
    // Five failures in a row lock a network login (console.md).
    for _ in 0..5 {
        let out = client.run("sshlock", &wrong, "status", "");
        assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("Permission denied"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = client.run("sshlock", &Auth::Passphrase(right.clone()), "status", "");
    assert_eq!(
        out.status.code(),
        Some(255),
        "locked: even the right passphrase is refused"
    );
    wait_for_system_log(&gw, "user 'sshlock' locked");
    gw.cli_ok(&["userconfig", "unlock", "sshlock"]);
    ok(&client.run("sshlock", &Auth::Passphrase(right), "status", ""));
}

#[test]
fn a_committed_public_key_logs_in_and_the_host_key_survives_a_restart() {
    let net = TestNet::new();
    let mut gw = Gateway::start(&net);
    let client = SshClient::new(net.management(), MGMT_SSH_PORT);
    let _ = user(&gw, "sshkey", "admin");
    let key = client.dir().join("id_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "sshkey@e2e", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let by_key = Auth::Key(key.clone());

    // Not configured yet: refused.
    let out = client.run("sshkey", &by_key, "status", "");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));

    // The key staged through the CLI, as `ssh-keygen` wrote it (`sshconfig
    // new USER -` reads it from standard input): refused until committed.
    let out = gw
        .cli_input(&["sshconfig", "new", "sshkey", "-"], &public)
        .expect("sshconfig new sshkey -");
    assert!(out.contains("added for sshkey."), "{out}");
    let out = client.run("sshkey", &by_key, "status", "");
    assert_eq!(out.status.code(), Some(255), "a staged key grants nothing");
    gw.cli_ok(&["commit", "ssh key for sshkey"]);
    ok(&client.run("sshkey", &by_key, "status", ""));
    // Another user may not use it.
    let _ = user(&gw, "other", "admin");
    let out = client.run("other", &by_key, "status", "");
    assert_eq!(out.status.code(), Some(255));

    // The host key: owner-only on flash, its fingerprint logged, the
    // same after a restart (known_hosts checked strictly).
    let file = gw.data_dir().join("ssh/ssh_host_ed25519_key");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    let logged = wait_for_system_log(&gw, "SSH host key fingerprint: SHA256:");
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(client.known_hosts())
        .output()
        .unwrap();
    let fingerprint = text(&listed.stdout);
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap_or_default();
    assert!(
        fingerprint.starts_with("SHA256:") && logged.contains(fingerprint),
        "the client saw {fingerprint}; the log says {logged}"
    );
    gw.restart();
    let mut strict = client.command("sshkey", &by_key, &["-o", "StrictHostKeyChecking=yes"]);
    let out = strict.arg("status").stdin(Stdio::null()).output().unwrap();
    ok(&out);
}

#[test]
fn ssh_listens_on_the_management_address_only() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let port = MGMT_SSH_PORT;
    let connect = |ip: Ipv4Addr| {
        TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(5))
    };
    let mut banner = [0u8; 7];
    let mut stream = connect(net.management()).expect("SSH on Management");
    std::io::Read::read_exact(&mut stream, &mut banner).unwrap();
    assert_eq!(&banner, b"SSH-2.0");
    for ip in [net.data1(), net.data2()] {
        assert!(connect(ip).is_err(), "SSH answers on {ip}");
    }

    // At most 16 connections at once (ssh::MAX_CONNECTIONS): one more is
    // closed without a greeting.
    let greets = |stream: &mut TcpStream| {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut banner = [0u8; 7];
        std::io::Read::read_exact(stream, &mut banner).is_ok_and(|()| &banner == b"SSH-2.0")
    };
    let mut open = vec![stream];
    while open.len() < 16 {
        let mut s = connect(net.management()).unwrap();
        assert!(greets(&mut s), "connection {} is served", open.len() + 1);
        open.push(s);
    }
    let mut extra = connect(net.management()).unwrap();
    assert!(!greets(&mut extra), "a 17th connection is closed");
    drop(gw);
}
