//! Alerts (`alertconfig`) are mail the gateway writes and delivers itself:
//! the alert recipient's domain is routed to smtp-sink. A listener that
//! cannot bind (its port is taken), a mail daemon the supervisor had to
//! restart, the boot after a power cut, a data partition above its
//! threshold and a certificate about to expire each reach the sink with
//! the AsyncOS-like subject and a body naming the problem; the same alert
//! within the repeat interval is held back.

use std::fs;
use std::path::Path;

use breakwater_e2e::{EVENTUALLY, SOON, SinkMessage, World, wait_until};

fn system_log(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("logs/system_logs/system.current")).unwrap_or_default()
}

/// The first message at the sink whose Subject contains `text`.
fn alert_mail(w: &World, text: &str) -> SinkMessage {
    wait_until(EVENTUALLY, || {
        w.sink
            .messages()
            .into_iter()
            .find(|m| m.header("Subject").is_some_and(|s| s.contains(text)))
    })
    .unwrap_or_else(|| {
        let subjects: Vec<Option<String>> = w
            .sink
            .messages()
            .iter()
            .map(|m| m.header("Subject"))
            .collect();
        panic!("no alert mail about '{text}' at the sink; it has {subjects:?}")
    })
}

fn hostname(w: &World) -> String {
    let out = w.gw.cli_ok(&["sethostname", "print"]);
    out.split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

#[test]
fn a_listener_that_cannot_bind_is_mailed_to_the_alert_recipient_once_per_interval() {
    let w = World::start();
    let added = w.gw.cli_ok(&["alertconfig", "new", "ops@example.com"]);
    assert!(
        added.starts_with("Alert recipient ops@example.com added."),
        "{added}"
    );
    w.gw.cli_ok(&["commit", "e2e: alert recipient"]);

    // Someone else holds the port IncomingMail is moved to.
    let taken = std::net::TcpListener::bind((w.net.data1(), 2626)).expect("bind the port first");
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "setup",
        "--port",
        "2626",
    ]);
    w.gw.cli_ok(&["commit", "e2e: a port that is taken"]);

    let mail = alert_mail(&w, "Listener IncomingMail: cannot listen on");
    let host = hostname(&w);
    let subject = mail.header("Subject").unwrap_or_default();
    assert!(
        subject.starts_with(&format!(
            "[Breakwater] Critical-{host}: Listener IncomingMail: cannot listen on {}:2626",
            w.net.data1()
        )),
        "{subject}"
    );
    assert_eq!(mail.rcpts, ["ops@example.com"]);
    assert_eq!(mail.mail_from, "", "alerts come from the null sender");
    assert_eq!(
        mail.header("From").as_deref(),
        Some(format!("alert@{host}").as_str())
    );
    let body = String::from_utf8_lossy(&mail.raw).into_owned();
    assert!(
        body.contains("in use"),
        "the body names the problem:\n{body}"
    );
    assert!(body.contains("Alert class: System"), "{body}");
    let generated = w.gw.wait_for_log(
        "generated for Critical System alert: Listener IncomingMail: cannot listen on",
        SOON,
    );
    assert!(generated.contains("MID "), "{generated}");

    // Another commit tries the port again: the same alert, held back.
    w.gw.cli_ok(&["alertconfig", "setup", "--data-threshold", "95"]);
    w.gw.cli_ok(&["commit", "e2e: any change"]);
    wait_until(SOON, || {
        system_log(w.gw.data_dir())
            .contains("alert held back (a repeat within its interval): Listener IncomingMail")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no held-back line:\n{}", system_log(w.gw.data_dir())));
    let sent =
        w.gw.log_lines("generated for Critical System alert: Listener IncomingMail");
    assert_eq!(sent.len(), 1, "{sent:?}");
    drop(taken);
}

#[test]
fn a_daemon_the_supervisor_restarted_sends_the_crash_alert() {
    let mut w = World::start();
    w.gw.cli_ok(&["alertconfig", "new", "ops@example.com", "system:critical"]);
    w.gw.cli_ok(&["commit", "e2e: alert recipient"]);
    let host = hostname(&w);
    let old = w.gw.kill_daemon();

    let mail = alert_mail(&w, "The mail daemon");
    let subject = mail.header("Subject").unwrap_or_default();
    assert!(
        subject.starts_with(&format!("[Breakwater] Critical-{host}: The mail daemon "))
            && subject.contains("the supervisor restarted it"),
        "{subject}"
    );
    assert!(
        system_log(w.gw.data_dir()).contains(&format!("the mail daemon {old} exited")),
        "the supervisor logged the crash it reports"
    );
    let body = String::from_utf8_lossy(&mail.raw).into_owned();
    assert!(body.contains("the supervisor restarted it"), "{body}");
    // Taken once: the note is gone from the data directory.
    assert!(!w.gw.data_dir().join("alert-notes").exists());
}

#[test]
fn a_data_partition_above_its_threshold_is_mailed_once_and_its_repeats_held_back() {
    let w = World::start();
    w.gw.cli_ok(&["alertconfig", "new", "ops@example.com"]);
    // Any partition a test runs on is more than 1% full.
    w.gw.cli_ok(&[
        "alertconfig",
        "setup",
        "--data-threshold",
        "1",
        "--check-interval",
        "1",
    ]);
    w.gw.cli_ok(&["commit", "e2e: a low data threshold, checked every second"]);

    let mail = alert_mail(&w, "The data partition is over 1% full");
    let body = String::from_utf8_lossy(&mail.raw).into_owned();
    assert!(
        body.contains("bytes are in use on the data partition"),
        "{body}"
    );
    wait_until(SOON, || {
        system_log(w.gw.data_dir())
            .contains("alert held back (a repeat within its interval): The data partition")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no held-back line:\n{}", system_log(w.gw.data_dir())));
    let sent =
        w.gw.log_lines("generated for Critical System alert: The data partition");
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn the_boot_after_a_power_cut_sends_the_unclean_restart_alert() {
    let mut w = World::start();
    w.gw.cli_ok(&["alertconfig", "new", "ops@example.com", "system:critical"]);
    w.gw.cli_ok(&["commit", "e2e: alert recipient"]);
    let host = hostname(&w);
    // Supervisor and daemon die at once, as at a power cut.
    w.gw.kill9();
    w.gw.start_again();

    let mail = alert_mail(&w, "without an orderly shutdown");
    let subject = mail.header("Subject").unwrap_or_default();
    assert_eq!(
        subject,
        format!(
            "[Breakwater] Critical-{host}: The appliance restarted without an orderly shutdown (power loss or crash)"
        )
    );
    assert!(w.gw.cli_ok(&["status"]).contains("power loss or crash"));
}

#[test]
fn a_certificate_about_to_expire_is_a_warning_alert() {
    let w = World::start();
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "10",
        ])
        .args(["-subj", "/CN=short.e2e.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl req");
    assert!(made.success());
    let pem = fs::read_to_string(&cert).expect("cert") + &fs::read_to_string(&key).expect("key");
    w.gw.cli_input(&["certconfig", "import", "short-lived", "-"], &pem)
        .expect("certconfig import");
    w.gw.cli_ok(&["alertconfig", "new", "ops@example.com"]);
    w.gw.cli_ok(&["commit", "e2e: a certificate valid for 10 days"]);

    let mail = alert_mail(&w, "Certificate short-lived expires in");
    let subject = mail.header("Subject").unwrap_or_default();
    // 9 or 10 whole days left, depending on when the check ran.
    let host = hostname(&w);
    assert!(
        subject.starts_with(&format!(
            "[Breakwater] Warning-{host}: Certificate short-lived expires in "
        )) && subject.ends_with(" days"),
        "{subject}"
    );
    let body = String::from_utf8_lossy(&mail.raw).into_owned();
    assert!(body.contains("import a new one with certconfig"), "{body}");
}
