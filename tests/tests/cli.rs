//! The batch CLI as an administrator uses it: errors are clear and change
//! nothing, changes are staged until `commit`, `clear` discards them; a
//! whole command line in one argument (as `ssh admin@box '...'` passes it)
//! runs like separate words; the control socket answers as soon as the
//! SMTP banner does.

use std::process::{Child, Command, Stdio};

use breakwater_e2e::{SOON, SmtpConn, World, breakwater_bin, simple_message, smtplib, wait_until};

/// Sends one message to `rcpt` on Data 1; the RCPT reply code.
fn rcpt_code(w: &World, x: u8, rcpt: &str, id: &str) -> (Option<u16>, Vec<smtplib::StepResult>) {
    let msg = simple_message("sender@internet.example", rcpt, id, "cli test");
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(x),
        "sender@internet.example",
        &[rcpt],
        &msg,
        &[],
    );
    (smtplib::find(&res, "rcpt").and_then(|r| r.code), res)
}

#[test]
fn bad_commands_fail_clearly_and_change_nothing() {
    let w = World::start();
    let before = w.gw.cli_ok(&["showconfig"]);
    assert!(
        !before.trim().is_empty(),
        "showconfig prints the configuration"
    );

    let bad: &[&[&str]] = &[
        &[
            "listenerconfig",
            "edit",
            "NoSuchListener",
            "rcptaccess",
            "new",
            "x.example",
            "accept",
        ],
        &[
            "listenerconfig",
            "edit",
            "IncomingMail",
            "rcptaccess",
            "new",
            "x.example",
            "maybe",
        ],
        &[
            "listenerconfig",
            "edit",
            "IncomingMail",
            "hostaccess",
            "editpolicy",
            "ACCEPTED",
            "--max-message-size",
            "banana",
        ],
        &["smtproutes", "new", "x.example", "not a host:99999"],
        &["dnsconfig", "servers", "999.1.1.1"],
        &["nosuchcommand"],
    ];
    for args in bad {
        let err =
            w.gw.cli(args)
                .expect_err(&format!("`{}` must fail", args.join(" ")));
        assert!(
            !err.trim().is_empty(),
            "`{}` failed without saying why",
            args.join(" ")
        );
    }
    // Nothing was staged by the failures: a commit now changes nothing.
    let _ = w.gw.cli(&["commit", "e2e: after bad input"]);
    let after = w.gw.cli_ok(&["showconfig"]);
    assert_eq!(before, after, "bad input changed the configuration");
}

#[test]
fn staged_change_is_not_live_until_commit() {
    let w = World::start();
    let route = w.net.sink_route();
    w.gw.cli_ok(&["smtproutes", "new", "staged.example", &route]);
    w.gw.cli_ok(&["commit", "e2e: route for staged.example"]);

    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        "staged.example",
        "accept",
    ]);
    let (code, res) = rcpt_code(&w, 3, "user@staged.example", "staged-before@e2e.test");
    assert_eq!(
        code,
        Some(550),
        "RAT row is only staged, mail must still be refused: {res:?}"
    );

    w.gw.cli_ok(&["commit", "e2e: accept staged.example"]);
    let (code, res) = rcpt_code(&w, 4, "user@staged.example", "staged-after@e2e.test");
    assert_eq!(code, Some(250), "committed RAT row accepts: {res:?}");
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    w.sink
        .wait_for_message_id("staged-after@e2e.test", SOON)
        .expect("delivered after commit");
    assert!(
        w.gw.cli_ok(&["showconfig"]).contains("staged.example"),
        "showconfig shows the committed RAT row"
    );
}

#[test]
fn clear_discards_staged_changes() {
    let w = World::start();
    let before = w.gw.cli_ok(&["showconfig"]);
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        "cleared.example",
        "accept",
    ]);
    w.gw.cli_ok(&["clear"]);
    // Even a commit after clear has nothing to apply.
    let _ = w.gw.cli(&["commit", "e2e: after clear"]);
    let after = w.gw.cli_ok(&["showconfig"]);
    assert_eq!(before, after, "clear must discard the staged RAT row");
    assert!(!after.contains("cleared.example"));
    let (code, res) = rcpt_code(&w, 3, "user@cleared.example", "cleared@e2e.test");
    assert_eq!(code, Some(550), "cleared RAT row must not accept: {res:?}");
}

#[test]
fn status_answers_and_config_survives_restart() {
    let mut w = World::start();
    let status = w.gw.cli_ok(&["status"]);
    assert!(!status.trim().is_empty(), "status prints something");
    let before = w.gw.cli_ok(&["showconfig"]);
    assert!(
        before.contains("example.com"),
        "day-one RAT row in showconfig:\n{before}"
    );
    w.gw.restart();
    assert_eq!(
        w.gw.cli_ok(&["showconfig"]),
        before,
        "committed configuration survives a restart"
    );
    let (code, res) = rcpt_code(&w, 3, "alice@example.com", "after-restart@e2e.test");
    assert_eq!(code, Some(250), "{res:?}");
}

#[test]
fn one_quoted_command_line_runs_like_separate_words() {
    let w = World::start();
    let (code, res) = rcpt_code(&w, 3, "user@quoted.example", "before@e2e.test");
    assert_eq!(code, Some(550), "no RAT row yet: {res:?}");

    // Exactly what `ssh admin@box '...'` hands over: one string.
    let out =
        w.gw.cli_ok(&["listenerconfig edit IncomingMail rcptaccess new quoted.example accept"]);
    assert!(!out.contains("Unknown command"), "{out}");
    w.gw.cli_ok(&[r#"commit "accept quoted.example, sent as 'one string'""#]);
    let log = w.gw.cli_ok(&["commitlog"]);
    assert!(
        log.contains("accept quoted.example, sent as 'one string'"),
        "the quoted comment is one word:\n{log}"
    );
    let (code, res) = rcpt_code(&w, 4, "user@quoted.example", "after@e2e.test");
    assert_eq!(code, Some(250), "the RAT row is in force: {res:?}");

    let err =
        w.gw.cli(&["commit 'no closing quote"])
            .expect_err("an unbalanced line is refused");
    assert!(err.contains("unclosed quote"), "{err}");
}

/// `breakwater run` started by hand (no readiness wait), stopped with
/// SIGTERM when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn the_control_socket_answers_once_the_banner_does() {
    let mut w = World::start();
    w.gw.stop();
    // As a provisioning script does: start, wait for the banner, then
    // configure. A few starts, since the old order failed only now and then.
    for attempt in 0..3 {
        let _run = Started(
            Command::new(breakwater_bin())
                .arg("run")
                .arg("--data-dir")
                .arg(w.gw.data_dir())
                .arg("--board-file")
                .arg(w.gw.board_file())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn breakwater run"),
        );
        let banner = wait_until(SOON, || {
            SmtpConn::connect(w.net.client(5), w.net.data1_smtp())
                .ok()
                .map(|(_, banner)| banner)
        })
        .expect("the SMTP banner");
        assert_eq!(banner.code, 220, "{banner:?}");
        let status = Command::new(breakwater_bin())
            .arg("cli")
            .arg("--data-dir")
            .arg(w.gw.data_dir())
            .arg("status")
            .stdin(Stdio::null())
            .output()
            .expect("run breakwater cli");
        assert!(
            status.status.success(),
            "start {attempt}: cli status right after the banner: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}
