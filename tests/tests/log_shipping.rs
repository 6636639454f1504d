//! Log subscriptions pushed by syslog to Debian's rsyslogd on loopback:
//! mail_logs over TCP (RFC 6587 octet counting) and audit_logs over TCP
//! and UDP. rsyslogd is killed mid-stream (SIGKILL) and restarted; every
//! mail_logs line written meanwhile must still arrive (at least once), with
//! the appliance's host name and the log's name as APP-NAME. The audit log
//! says who committed, from where, what changed and the comment.
//! mail_logs over TLS (RFC 5425) to rsyslogd's gtls input: refused while
//! the receiver's CA is unknown, then sent (nothing lost) once the
//! administrator imports the CA and commits.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use breakwater_e2e::{Rsyslog, TestCert, World};

const HOSTNAME: &str = "esa-ship.e2e.test";

/// The text of a log file line after its time and level word, as the
/// receiver gets it in MSG.
fn text(line: &str) -> &str {
    line.split_once(": ").map_or(line, |(_, t)| t)
}

/// Waits until `done` holds; the deadline is generous (a shared machine),
/// and what was missing is reported.
fn wait_until(what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match done() {
            Ok(()) => return,
            Err(missing) if Instant::now() > deadline => panic!("{what}: {missing}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn mail_and_audit_logs_reach_rsyslog_through_a_receiver_restart() {
    let w = World::start();
    let mut rs = Rsyslog::start(w.net.sink_ip());

    w.gw.cli_ok(&["sethostname", HOSTNAME]);
    let staged =
        w.gw.cli_ok(&["logconfig", "subscribe", "mail_logs", &rs.tcp_addr()]);
    assert!(
        staged.starts_with(&format!("mail_logs: Syslog Push to {} TCP.", rs.tcp_addr())),
        "{staged}"
    );
    w.gw.cli_ok(&["logconfig", "subscribe", "audit_logs", &rs.tcp_addr()]);
    w.gw.cli_ok(&[
        "logconfig",
        "subscribe",
        "audit_logs",
        &rs.udp_addr(),
        "--protocol",
        "udp",
    ]);
    w.gw.cli_ok(&["commit", "ship logs to rsyslog"]);
    let print = w.gw.cli_ok(&["logconfig", "print"]);
    assert!(
        print.contains(&format!(
            "3. audit_logs: roll over at 10M, keep 10 files; Syslog Push to {} TCP, {} UDP (facility auth, spool 64M)",
            rs.tcp_addr(),
            rs.udp_addr()
        )),
        "{print}"
    );

    // A second commit, from a console session, once the subscriptions run.
    let token = w.gw.console_user("ops", "admin");
    w.gw.cli_as(
        &token,
        &["logconfig", "mail_logs", "--max-files", "20"],
        None,
    )
    .expect("logconfig");
    w.gw.cli_as(&token, &["commit", "keep more mail logs"], None)
        .expect("commit");
    let audit_file = std::fs::read_to_string(w.gw.data_dir().join("logs/audit_logs/audit.current"))
        .expect("audit.current");
    let first = audit_file
        .lines()
        .find(|l| l.contains("comment: \"ship logs to rsyslog\""))
        .unwrap_or_else(|| panic!("first commit not audited:\n{audit_file}"));
    assert!(first.contains(" by admin from local cli: "), "{first}");
    assert!(first.contains("hostname changed"), "{first}");
    assert!(first.contains("log_shipping changed"), "{first}");
    let second = audit_file
        .lines()
        .find(|l| l.contains("comment: \"keep more mail logs\""))
        .unwrap_or_else(|| panic!("second commit not audited:\n{audit_file}"));
    assert!(
        second.contains(" by ops from console (pts/9): mail_logs changed; "),
        "{second}"
    );
    let shipped = format!("audit_logs {HOSTNAME} {}", text(second));
    wait_until("the audit line over TCP and UDP", || {
        let (tcp, udp) = (rs.tcp_lines(), rs.udp_lines());
        if tcp.contains(&shipped) && udp.contains(&shipped) {
            Ok(())
        } else {
            Err(format!("want {shipped:?}\nTCP: {tcp:#?}\nUDP: {udp:#?}"))
        }
    });

    // Mail before, during and after a receiver crash.
    let from_line = w.gw.mail_log().lines().count();
    w.deliver_inbound(w.net.client(10), "ship-1@e2e.test", "before");
    let all_arrived = |rs: &Rsyslog| {
        let log = w.gw.mail_log();
        let got: HashSet<String> = rs.tcp_lines().into_iter().collect();
        let missing: Vec<String> = log
            .lines()
            .skip(from_line)
            .map(|l| format!("mail_logs {HOSTNAME} {}", text(l)))
            .filter(|l| !got.contains(l))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing at the receiver: {missing:#?}"))
        }
    };
    wait_until("mail_logs before the restart", || all_arrived(&rs));

    rs.kill();
    w.deliver_inbound(w.net.client(11), "ship-2@e2e.test", "while down 1");
    w.deliver_inbound(w.net.client(12), "ship-3@e2e.test", "while down 2");
    rs.restart();
    w.deliver_inbound(w.net.client(13), "ship-4@e2e.test", "after");
    wait_until("every mail_logs line after the restart", || {
        all_arrived(&rs)
    });

    // Mail flow itself never waited on the receiver: all four delivered.
    for id in ["ship-1", "ship-2", "ship-3", "ship-4"] {
        assert!(
            w.sink
                .wait_for_message_id(&format!("{id}@e2e.test"), breakwater_e2e::SOON)
                .is_some(),
            "{id}"
        );
    }
}

#[test]
fn mail_logs_reach_rsyslog_over_tls_once_its_ca_is_imported() {
    let w = World::start();
    let ip = w.net.sink_ip();
    let (cert, ca) = TestCert::signed_by_new_ca(&ip.to_string());
    let rs = Rsyslog::start_tls(ip, &cert.cert, &cert.key, &ca.cert);

    w.gw.cli_ok(&["sethostname", HOSTNAME]);
    let staged = w.gw.cli_ok(&[
        "logconfig",
        "subscribe",
        "mail_logs",
        &rs.tls_addr(),
        "--protocol",
        "tls",
    ]);
    assert!(
        staged.starts_with(&format!("mail_logs: Syslog Push to {} TLS.", rs.tls_addr())),
        "{staged}"
    );
    for log in ["system_logs", "audit_logs"] {
        w.gw.cli_ok(&[
            "logconfig",
            "subscribe",
            log,
            &rs.tls_addr(),
            "--protocol",
            "tls",
        ]);
    }
    w.gw.cli_ok(&["commit", "ship mail logs over TLS"]);

    // The receiver's issuer is not trusted yet: the handshake is refused,
    // the lines wait in the spool and the system log says why.
    let from_line = w.gw.mail_log().lines().count();
    w.deliver_inbound(w.net.client(20), "tls-1@e2e.test", "before the CA");
    let system_log = || {
        std::fs::read_to_string(w.gw.data_dir().join("logs/system_logs/system.current"))
            .unwrap_or_default()
    };
    wait_until("the refused handshake in system_logs", || {
        let log = system_log();
        if log.contains(&format!("mail_logs to {}", rs.tls_addr())) && log.contains("UnknownIssuer")
        {
            Ok(())
        } else {
            Err(log)
        }
    });
    assert!(rs.tls_lines().is_empty(), "{:#?}", rs.tls_lines());

    let ca_pem = ca.cert.display().to_string();
    w.gw.cli_ok(&[
        "certconfig",
        "certauthority",
        "import",
        "rsyslog-ca",
        &ca_pem,
    ]);
    w.gw.cli_ok(&["commit", "trust the log host's CA"]);
    w.deliver_inbound(w.net.client(21), "tls-2@e2e.test", "after the CA");
    wait_until("every mail_logs line over TLS", || {
        let got: HashSet<String> = rs.tls_lines().into_iter().collect();
        let missing: Vec<String> =
            w.gw.mail_log()
                .lines()
                .skip(from_line)
                .map(|l| format!("mail_logs {HOSTNAME} {}", text(l)))
                .filter(|l| !got.contains(l))
                .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "missing at the receiver: {missing:#?}\nsystem_logs:\n{}",
                system_log()
            ))
        }
    });
}
