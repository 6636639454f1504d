//! The management plane's settings through `breakwater cli` against a
//! running gateway: `adminaccessconfig` prints and stages the services of
//! Management, `Config::validate` refuses clashing ports naming the field,
//! `sshconfig` takes a key from a pipe as `ssh-keygen` wrote it and prints
//! OpenSSH's fingerprint, and `showconfig --json` is the working
//! configuration as the typed model (private keys masked), readable by a
//! read-only user who still may not change anything.

use breakwater::config::Config;
use breakwater_e2e::{Gateway, TestNet};

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
