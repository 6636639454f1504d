//! The supervisor keeps the mail daemon alive: a killed daemon comes back
//! by itself, a hung one is killed and restarted, too many crashes make it
//! give up (the soft watchdog "resets the box"), SIGTERM drains the
//! listeners with `421 4.3.2`, and a damaged database stops the start with
//! instructions instead of a crash loop.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use breakwater_e2e::{
    EVENTUALLY, Gateway, SOON, SmtpConn, World, breakwater_bin, mid_in_reply, simple_message,
    smtplib, wait_until,
};

/// The soft watchdog's "reset" (see `firmware/platform/src/supervisor`).
const EXIT_WATCHDOG_RESET: i32 = 86;
/// The daemon refuses a damaged database.
const EXIT_STORE_DAMAGED: i32 = 78;

fn system_log(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("logs/system_logs/system.current")).unwrap_or_default()
}

/// Replaces the board's supervisor limits and watchdog timeout (the file
/// ends with the `[watchdog]` table) and restarts on the new board.
fn with_limits(gw: &mut Gateway, watchdog_secs: u32, supervisor: &str) {
    let path = gw.board_file().to_path_buf();
    let text = fs::read_to_string(&path).expect("board file");
    let (head, _) = text.split_once("[watchdog]").expect("a [watchdog] table");
    let text = format!(
        "{head}[watchdog]\nkind = \"soft\"\ntimeout_secs = {watchdog_secs}\n\n[supervisor]\n{supervisor}\n"
    );
    fs::write(&path, text).expect("write board file");
    gw.restart();
}

/// Truncates sled's data file and drops its snapshots: sled itself opens
/// that as a new, empty store (the daemon must see the damage).
fn truncate_store(data: &Path) {
    let db = data.join("db");
    fs::OpenOptions::new()
        .write(true)
        .open(db.join("db"))
        .expect("sled data file")
        .set_len(0)
        .expect("truncate");
    for entry in fs::read_dir(&db).expect("db dir").flatten() {
        if entry.file_name().to_string_lossy().starts_with("snap.") {
            fs::remove_file(entry.path()).expect("remove snapshot");
        }
    }
}

/// Sends one message through Data 1 and waits until the sink has it.
fn mail_flows(w: &World, tag: &str) {
    let id = format!("{tag}@e2e.test");
    let to = World::local("alice");
    let msg = simple_message("sender@internet.example", &to, &id, tag);
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "sender@internet.example",
        &[to.as_str()],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    w.sink
        .wait_for_message_id(&id, EVENTUALLY)
        .unwrap_or_else(|| panic!("{id} was not delivered"));
}

/// Waits until a daemon other than `old` runs and answers `status`.
fn wait_for_new_daemon(gw: &Gateway, old: u32) -> u32 {
    wait_until(EVENTUALLY, || {
        let pid = gw.daemon_pid().filter(|p| *p != old)?;
        gw.cli(&["status"]).ok().map(|_| pid)
    })
    .unwrap_or_else(|| {
        panic!(
            "no new mail daemon after {old}; system log:\n{}",
            system_log(gw.data_dir())
        )
    })
}

#[test]
fn a_killed_daemon_comes_back_by_itself_and_mail_flows_again() {
    let mut w = World::start();
    mail_flows(&w, "before-kill");
    let old = w.gw.kill_daemon();
    let new = wait_for_new_daemon(&w.gw, old);
    assert_ne!(old, new);
    assert!(w.gw.is_running(), "the supervisor itself must stay up");
    mail_flows(&w, "after-kill");
    let log = system_log(w.gw.data_dir());
    assert!(
        log.contains(&format!("the mail daemon {old} exited")) && log.contains("restarting in"),
        "the system log does not say what the supervisor did:\n{log}"
    );
    // The restarted daemon knows the box itself did not restart.
    assert!(w.gw.cli_ok(&["status"]).contains("Last boot: clean"));
}

#[test]
fn a_hung_daemon_is_killed_and_restarted() {
    let mut w = World::start();
    with_limits(&mut w.gw, 60, "heartbeat_timeout_secs = 3");
    let old = w.gw.daemon_pid().expect("daemon pid");
    let answer = w.gw.cli_ok(&["debughang"]);
    assert!(answer.contains("stop answering"), "{answer}");
    let new = wait_for_new_daemon(&w.gw, old);
    assert_ne!(old, new);
    let log = system_log(w.gw.data_dir());
    assert!(
        log.contains(&format!("the mail daemon {old} stopped answering")),
        "{log}"
    );
    mail_flows(&w, "after-hang");
}

#[test]
fn too_many_crashes_make_the_supervisor_give_up_and_the_watchdog_fire() {
    let mut w = World::start();
    with_limits(
        &mut w.gw,
        2,
        "max_crashes = 2\ncrash_window_secs = 120\nbackoff_initial_ms = 100",
    );
    let first = w.gw.kill_daemon();
    let second = wait_for_new_daemon(&w.gw, first);
    w.gw.kill_daemon();
    let status =
        w.gw.wait_exit(SOON)
            .expect("the supervisor should give up and exit");
    assert_eq!(status.code(), Some(EXIT_WATCHDOG_RESET), "{status}");
    let log = system_log(w.gw.data_dir());
    assert!(
        log.contains(&format!("the mail daemon {second} exited"))
            && log.contains("giving up")
            && log.contains("watchdog would reset the box"),
        "{log}"
    );
    assert!(
        log.contains("crash 1 of 2 allowed") && !log.contains("crash 2 of 2 allowed"),
        "exactly one restart expected:\n{log}"
    );
    // "After the reset" the box comes up again and says so.
    w.gw.start_again();
    let status = w.gw.cli_ok(&["status"]);
    assert!(
        status.contains("Last boot: after a crash or reset"),
        "{status}"
    );
    mail_flows(&w, "after-reset");
}

#[test]
fn debughang_supervisor_stops_the_petting_and_the_watchdog_fires() {
    let mut w = World::start();
    with_limits(&mut w.gw, 3, "max_crashes = 5");
    // A stop in order, then a start: "power-on"; `reboot`: "reboot".
    let status = w.gw.cli_ok(&["status"]);
    assert!(status.contains("Boot reason: power-on"), "{status}");
    assert!(
        status.contains("Firmware slot: none"),
        "a development run has no slots:\n{status}"
    );
    let out = w.gw.cli_ok(&["debughang", "supervisor"]);
    assert!(out.contains("stops petting the watchdog"), "{out}");
    let status =
        w.gw.wait_exit(SOON)
            .expect("the soft watchdog should fire and end the supervisor");
    assert_eq!(status.code(), Some(EXIT_WATCHDOG_RESET), "{status}");
    let log = system_log(w.gw.data_dir());
    assert!(
        log.contains("debughang supervisor: the supervisor stops petting the watchdog")
            && log.contains("watchdog would reset the box"),
        "{log}"
    );
    // The daemon's own `debughang` (no argument) is unchanged; operators
    // may not use either form.
    w.gw.start_again();
    let status = w.gw.cli_ok(&["status"]);
    assert!(
        status.contains("Boot reason: power loss or crash"),
        "a box that never stopped in order:\n{status}"
    );
    mail_flows(&w, "after-soft-reset");
}

#[test]
fn sigterm_answers_421_to_new_clients_and_lets_a_transaction_finish() {
    let mut w = World::start();
    let to = World::local("alice");
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(9), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert_eq!(conn.ehlo("client.internet.example").unwrap().code, 250);
    assert_eq!(
        conn.cmd("MAIL FROM:<sender@internet.example>")
            .unwrap()
            .code,
        250
    );
    assert_eq!(conn.cmd(&format!("RCPT TO:<{to}>")).unwrap().code, 250);
    assert_eq!(conn.cmd("DATA").unwrap().code, 354);
    let msg = simple_message(
        "sender@internet.example",
        &to,
        "in-flight-at-sigterm@e2e.test",
        "sent while the gateway shuts down",
    );
    conn.send_raw(&msg).unwrap();

    w.gw.terminate();
    wait_until(SOON, || {
        system_log(w.gw.data_dir())
            .contains("shutting down: listeners answer 421")
            .then_some(())
    })
    .expect("the daemon did not start shutting down");

    // A new client is told to come back later.
    let (_late, banner) =
        SmtpConn::connect(w.net.client(10), w.net.data1_smtp()).expect("connect while draining");
    assert_eq!(banner.code, 421, "{banner}");
    assert!(
        banner.text().contains("4.3.2") && banner.text().contains("Service shutting down"),
        "{banner}"
    );

    // The transaction in progress still finishes within the grace period.
    conn.send_raw(b".\r\n").unwrap();
    let done = conn.read_reply().expect("reply to the end of data");
    assert_eq!(done.code, 250, "{done}");
    let mid = mid_in_reply(&done.text()).expect("MID in 250");
    let _ = conn.cmd("QUIT");

    let status =
        w.gw.wait_exit(SOON)
            .expect("the gateway did not exit after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(
        w.gw.daemon_pid().is_none(),
        "the mail daemon outlived its supervisor"
    );

    // Acknowledged means kept: delivered after the next start.
    w.gw.start_again();
    w.sink
        .wait_for_message_id("in-flight-at-sigterm@e2e.test", EVENTUALLY)
        .unwrap_or_else(|| panic!("MID {mid} lost across a SIGTERM"));
    assert!(w.gw.cli_ok(&["status"]).contains("Last boot: clean"));
}

#[test]
fn a_truncated_database_stops_the_start_with_instructions_not_a_crash_loop() {
    let mut w = World::start();
    mail_flows(&w, "before-damage");
    w.gw.stop();
    let data = w.gw.data_dir().to_path_buf();
    let db = data.join("db");
    truncate_store(&data);
    let before = system_log(&data).matches("started the mail daemon").count();

    let out = Command::new(breakwater_bin())
        .arg("run")
        .arg("--data-dir")
        .arg(&data)
        .arg("--board-file")
        .arg(w.gw.board_file())
        .stdin(Stdio::null())
        .output()
        .expect("run breakwater");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_STORE_DAMAGED), "{stderr}");
    assert!(
        stderr.contains("is damaged") && stderr.contains("docs/operations.md"),
        "{stderr}"
    );
    let log = system_log(&data);
    assert!(log.contains("is damaged"), "{log}");
    assert!(log.contains("not restarting it"), "{log}");
    assert_eq!(
        log.matches("started the mail daemon").count(),
        before + 1,
        "the supervisor must not restart a daemon that refuses its store:\n{log}"
    );
    // Nothing was thrown away: the damaged store and the spool are intact.
    assert!(db.join("conf").exists() && data.join("spool").exists());

    // The documented recovery: `breakwater salvage` moves both aside
    // together and keeps what is readable; then start.
    let out = Command::new(breakwater_bin())
        .arg("salvage")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .expect("run breakwater salvage");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("Database salvage") && said.contains("db.damaged-"),
        "{said}"
    );
    let kept: Vec<String> = fs::read_dir(&data)
        .expect("data dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".damaged-"))
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "the damaged store and spool are kept: {kept:?}"
    );
    // Nothing of a truncated store is readable: the gateway starts on the
    // factory configuration (an operator then runs `loadconfig`).
    w.gw.start_again();
    assert!(w.gw.cli_ok(&["status"]).contains("Host name"));
}

#[test]
fn with_auto_salvage_the_supervisor_salvages_a_damaged_store_and_starts() {
    let mut w = World::start();
    with_limits(&mut w.gw, 60, "auto_salvage = true");
    mail_flows(&w, "before-damage");
    w.gw.stop();
    let data = w.gw.data_dir().to_path_buf();
    truncate_store(&data);
    w.gw.start_again();
    let status = w.gw.cli_ok(&["status"]);
    assert!(status.contains("Host name"), "{status}");
    let log = system_log(&data);
    assert!(
        log.contains("salvaging it (auto_salvage)") && log.contains("Database salvage"),
        "{log}"
    );
    assert!(
        fs::read_dir(&data)
            .expect("data dir")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("db.damaged-")),
        "the damaged store is kept"
    );
}
