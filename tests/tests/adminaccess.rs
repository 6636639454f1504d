//! The management plane's settings through `breakwater cli` against a
//! running gateway: `adminaccessconfig` prints and stages the services of
//! Management, `Config::validate` refuses clashing ports naming the field,
//! `sshconfig` takes a key from a pipe as `ssh-keygen` wrote it and prints
//! OpenSSH's fingerprint, and `showconfig --json` is the working
//! configuration as the typed model (private keys masked), readable by a
//! read-only user who still may not change anything. A commit moves the
//! services at once: new HTTPS and SSH ports answer and the old ones
//! close, a new certificate is what HTTPS presents (`openssl s_client`),
//! and HTTPS off closes the web (HTTP too) while SSH keeps serving.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use breakwater::config::Config;
use breakwater_e2e::{
    Gateway, MGMT_HTTP_PORT, MGMT_HTTPS_PORT, MGMT_SSH_PORT, SOON, TestNet, wait_until,
};

/// `ssh-keygen -t ed25519 -C alice@laptop`, and what `ssh-keygen -l` says.
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILkZr0pw/Ux9QDZjEMt4KrgqnxK8frHuzFs/vbGqcvoa alice@laptop\n";
const FINGERPRINT: &str = "SHA256:mKphZtudUK6wEUz9ZCwOqSbjbbwoRtJZIyPSQtTcbmE";
const STAGED: &str = "The change is staged, not yet in effect";

fn json(gw: &Gateway) -> Config {
    let out = gw.cli_ok(&["showconfig", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("showconfig --json: {e}\n{out}"))
}

#[test]
fn management_access_and_ssh_keys_are_staged_validated_and_shown_as_json() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);

    // The factory services, as print shows them and as JSON.
    let factory = json(&gw);
    let m = &factory.management;
    assert!(m.https_enabled && m.http_redirect && m.ssh_enabled && m.api_enabled);
    assert_eq!(m.web_timeout_secs, 1800);
    let out = gw.cli_ok(&["adminaccessconfig", "print"]);
    for line in [
        format!("HTTPS (web UI):             enabled, port {}", m.https_port),
        format!(
            "HTTP:                       redirects to HTTPS, port {}",
            m.http_port
        ),
        format!("SSH (CLI):                  enabled, port {}", m.ssh_port),
        "REST API (/api/v1):         enabled, on the HTTPS port".to_string(),
        "Web UI inactivity timeout:  30 minutes".to_string(),
        "HTTPS certificate:          Demo (default: the first certificate)".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    let json_text = gw.cli_ok(&["showconfig", "--json"]);
    assert!(json_text.contains("*****") && !json_text.contains("PRIVATE KEY"));

    // A change is staged; the JSON is the working configuration.
    let out = gw.cli_ok(&[
        "adminaccessconfig",
        "setup",
        "--ssh-port",
        "2022",
        "--api",
        "off",
        "--timeout",
        "60",
    ]);
    assert!(
        out.contains("Management access settings updated.") && out.contains(STAGED),
        "{out}"
    );
    let staged = json(&gw);
    assert_eq!(
        (
            staged.management.ssh_port,
            staged.management.api_enabled,
            staged.management.web_timeout_secs
        ),
        (2022, false, 3600)
    );
    assert!(
        gw.cli_ok(&["adminaccessconfig", "print"])
            .contains("Web UI inactivity timeout:  60 minutes")
    );

    // Refused, naming what is wrong, and nothing more staged.
    let https = staged.management.https_port.to_string();
    for (args, said) in [
        (
            vec!["adminaccessconfig", "setup", "--ssh-port", https.as_str()],
            format!("management.ssh_port: the SSH port {https} is already the HTTPS port."),
        ),
        (
            vec!["adminaccessconfig", "setup", "--timeout", "2"],
            "--timeout must be between 5 and 1440.".to_string(),
        ),
        (
            vec!["adminaccessconfig", "setup", "--certificate", "Nope"],
            "There is no certificate named 'Nope'".to_string(),
        ),
        (
            vec!["sshconfig", "new", "alice", "ssh-ed25519", "AAAA"],
            "Invalid SSH public key: the key data does not hold a ssh-ed25519 key.".to_string(),
        ),
    ] {
        let err = gw.cli(&args).expect_err(&args.join(" "));
        assert!(err.contains(&said), "{args:?}: {err}");
    }
    assert_eq!(json(&gw), staged);
    gw.cli_ok(&["clear"]);
    assert_eq!(json(&gw), factory);

    // A key from a pipe, as `breakwater cli sshconfig new alice < id.pub`;
    // committed, it is the configuration in force.
    let out = gw
        .cli_input(&["sshconfig", "new", "alice"], KEY)
        .expect("sshconfig new");
    assert!(
        out.contains(&format!(
            "SSH key ssh-ed25519 {FINGERPRINT} added for alice."
        )),
        "{out}"
    );
    gw.cli_ok(&["commit", "alice's key"]);
    let out = gw.cli_ok(&["sshconfig", "print"]);
    assert!(
        out.contains(&format!(
            "Public keys of alice:\n1. ssh-ed25519 {FINGERPRINT} alice@laptop"
        )),
        "{out}"
    );
    let committed = json(&gw);
    assert_eq!(committed.management.ssh_keys.len(), 1);
    assert_eq!(committed.management.ssh_keys[0].key, KEY.trim_end());
    assert!(
        gw.cli_ok(&["showconfig"])
            .contains("no uncommitted changes")
    );

    // A read-only user reads all of it and changes none of it.
    let token = gw.console_user("auditor", "read-only");
    for args in [
        &["showconfig", "--json"][..],
        &["adminaccessconfig", "print"],
        &["sshconfig", "print"],
    ] {
        gw.cli_as(&token, args, None)
            .unwrap_or_else(|e| panic!("read-only {args:?}: {e}"));
    }
    let as_json = gw.cli_as(&token, &["showconfig", "--json"], None).unwrap();
    let read: Config = serde_json::from_str(&as_json).expect("JSON for the read-only user");
    assert_eq!(read, committed);
    for args in [
        &["adminaccessconfig", "setup", "--ssh", "off"][..],
        &["sshconfig", "delete", "alice", "1"],
    ] {
        let err = gw.cli_as(&token, args, None).expect_err("read-only change");
        assert!(err.contains("Permission denied"), "{args:?}: {err}");
    }
    assert_eq!(json(&gw), committed);

    gw.cli_ok(&["sshconfig", "delete", "alice", "1"]);
    assert!(json(&gw).management.ssh_keys.is_empty());
}

/// Something accepts TCP connections on `ip:port`.
fn open(ip: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(5)).is_ok()
}

/// `curl -k` of `url`: `(status, redirect location)`, `None` when nothing
/// answers.
fn curl(url: &str) -> Option<(u16, String)> {
    let out = Command::new("curl")
        .args(["-k", "-sS", "--max-time", "30", "-o", "/dev/null"])
        .args(["-w", "%{http_code} %{redirect_url}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, location) = text.split_once(' ').unwrap_or((&text, ""));
    let code: u16 = code.parse().ok()?;
    (out.status.success() && code != 0).then(|| (code, location.to_string()))
}

/// The subject of the certificate HTTPS presents on `ip:port`.
fn presented_subject(ip: Ipv4Addr, port: u16) -> String {
    let shown = Command::new("openssl")
        .args(["s_client", "-connect", &format!("{ip}:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl x509");
    std::io::Write::write_all(&mut x509.stdin.take().expect("stdin"), &shown.stdout)
        .expect("feed openssl x509");
    let out = x509.wait_with_output().expect("openssl x509");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `ssh -p PORT USER@ip COMMAND` with the private key `key`, non-interactive.
fn ssh(ip: Ipv4Addr, port: u16, user: &str, key: &Path, command: &str) -> std::process::Output {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "IdentityAgent=none", "-o", "ConnectTimeout=30"])
        .args([
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-i")
        .arg(key)
        .arg(format!("{user}@{ip}"))
        .arg(command)
        .stdin(Stdio::null())
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .expect("run ssh (Debian package openssh-client)")
}

#[test]
fn a_commit_moves_stops_and_recertifies_the_services_at_once() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let ip = net.management();
    let dir = tempfile::tempdir().expect("tmp");
    let https = |port: u16| format!("https://{ip}:{port}/login");
    wait_until(SOON, || {
        curl(&https(MGMT_HTTPS_PORT)).filter(|(c, _)| *c == 200)
    })
    .expect("HTTPS answers on the factory port");

    // A key for SSH, committed with the first change (`sshconfig new USER
    // KEY`, the key line as words).
    let _ = gw.console_user("keeper", "admin");
    let key = dir.path().join("id_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "keeper@e2e", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let mut words = vec!["sshconfig", "new", "keeper"];
    words.extend(public.split_whitespace());
    gw.cli_ok(&words);

    // New ports: the old ones close, the new ones answer, HTTP's redirect
    // names the new HTTPS port.
    let (new_https, new_ssh) = (9443, 2022);
    gw.cli_ok(&[
        "adminaccessconfig",
        "setup",
        "--https-port",
        &new_https.to_string(),
        "--ssh-port",
        &new_ssh.to_string(),
    ]);
    gw.cli_ok(&["commit", "e2e: move the management ports"]);
    wait_until(SOON, || {
        (!open(ip, MGMT_HTTPS_PORT) && !open(ip, MGMT_SSH_PORT)).then_some(())
    })
    .expect("the old HTTPS and SSH ports close");
    let (code, _) = curl(&https(new_https)).expect("HTTPS answers on the new port");
    assert_eq!(code, 200);
    let (code, location) =
        curl(&format!("http://{ip}:{MGMT_HTTP_PORT}/login")).expect("HTTP still redirects");
    assert_eq!(
        (code, location.as_str()),
        (301, format!("https://{ip}:{new_https}/login").as_str())
    );
    let out = ssh(ip, new_ssh, "keeper", &key, "status");
    assert!(
        out.status.success(),
        "SSH on the new port: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One commit where SSH takes the port HTTPS leaves: the old socket is
    // closed before the new one is bound.
    let (new_https, new_ssh) = (MGMT_HTTPS_PORT, new_https);
    gw.cli_ok(&[
        "adminaccessconfig",
        "setup",
        "--https-port",
        &new_https.to_string(),
        "--ssh-port",
        &new_ssh.to_string(),
    ]);
    gw.cli_ok(&["commit", "e2e: SSH takes the HTTPS port"]);
    wait_until(SOON, || (!open(ip, 2022)).then_some(())).expect("port 2022 closes");
    let (code, _) = curl(&https(new_https)).expect("HTTPS answers on its new port");
    assert_eq!(code, 200);
    let out = ssh(ip, new_ssh, "keeper", &key, "status");
    assert!(
        out.status.success(),
        "SSH on the port HTTPS left: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A new certificate is what HTTPS presents once committed.
    let before = presented_subject(ip, new_https);
    assert!(before.starts_with("subject="), "{before}");
    assert!(!before.contains("mgmt-new.e2e.test"), "{before}");
    let (cert, pkey) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=mgmt-new.e2e.test", "-keyout"])
        .arg(&pkey)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(made.success());
    let pem = std::fs::read_to_string(&cert).expect("cert")
        + &std::fs::read_to_string(&pkey).expect("key");
    gw.cli_input(&["certconfig", "import", "mgmt-new", "-"], &pem)
        .expect("certconfig import mgmt-new -");
    gw.cli_ok(&["adminaccessconfig", "setup", "--certificate", "mgmt-new"]);
    gw.cli_ok(&["commit", "e2e: management certificate"]);
    let after = wait_until(SOON, || {
        let s = presented_subject(ip, new_https);
        s.contains("mgmt-new.e2e.test").then_some(s)
    });
    assert!(after.is_some(), "HTTPS still presents {before}");

    // HTTPS off: no web (nor its HTTP redirect), SSH unchanged.
    gw.cli_ok(&["adminaccessconfig", "setup", "--https", "off"]);
    gw.cli_ok(&["commit", "e2e: HTTPS off"]);
    wait_until(SOON, || {
        (!open(ip, new_https) && !open(ip, MGMT_HTTP_PORT)).then_some(())
    })
    .expect("HTTPS and HTTP close");
    assert_eq!(curl(&https(new_https)), None, "the web is unreachable");
    assert_eq!(curl(&format!("http://{ip}:{MGMT_HTTP_PORT}/")), None);
    let out = ssh(ip, new_ssh, "keeper", &key, "adminaccessconfig print");
    assert!(
        out.status.success(),
        "SSH with HTTPS off: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!(
            "SSH (CLI):                  enabled, port {new_ssh}"
        )),
        "{printed}"
    );
}
