//! Least privilege: on a board with `run_as`, the mail daemon binds its
//! ports, then runs as that unprivileged user; the data directory is that
//! user's, the control socket stays owner-only and answers both root and
//! that user, the supervisor stays root, and mail still flows.
//!
//! Needs root (it creates a system user and the daemon calls setuid): as
//! any other user the test says so and passes without checking anything.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use breakwater_e2e::{EVENTUALLY, World, breakwater_bin, simple_message, smtplib};

const USER: &str = "bw-e2e";

/// `Uid:`/`Gid:` of a process: real, effective, saved, file system.
fn ids(pid: u32, field: &str) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect()
}

fn am_root() -> bool {
    ids(std::process::id(), "Uid:")[1] == 0
}

/// Creates the system user unless it exists; returns (uid, gid, created).
fn ensure_user() -> (u32, u32, bool) {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, USER])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    };
    let mut created = false;
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args(["-r", "-U", "-M", "-s", "/usr/sbin/nologin", USER])
            .status()
            .expect("run useradd");
        assert!(status.success(), "useradd {USER} failed");
        created = true;
    }
    (
        id("-u").expect("uid of the test user"),
        id("-g").expect("gid of the test user"),
        created,
    )
}

#[test]
fn the_daemon_runs_as_the_boards_user_and_mail_still_flows() {
    if !am_root() {
        eprintln!(
            "SKIPPED the_daemon_runs_as_the_boards_user_and_mail_still_flows: needs root \
             (it creates the user {USER} and the daemon calls setuid)"
        );
        return;
    }
    let (uid, gid, created) = ensure_user();
    let mut w = World::start();
    w.gw.stop();

    // The board now says run_as (a top-level key: before every table).
    let board = w.gw.board_file().to_path_buf();
    let text = fs::read_to_string(&board).expect("board file");
    fs::write(&board, format!("run_as = \"{USER}\"\n{text}")).expect("write board");
    // The test's temp dir is root's (0700): let the user pass through it
    // to its data directory, as /data is reachable on the appliance.
    let parent = w.gw.data_dir().parent().expect("parent").to_path_buf();
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o711)).expect("chmod");
    w.gw.start_again();

    let daemon = w.gw.daemon_pid().expect("daemon pid");
    assert_eq!(ids(daemon, "Uid:"), vec![uid; 4], "daemon {daemon} uid");
    assert_eq!(ids(daemon, "Gid:"), vec![gid; 4], "daemon {daemon} gid");
    let status = fs::read_to_string(format!("/proc/{daemon}/status")).unwrap();
    let groups = status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>();
    assert!(
        groups.iter().all(|g| *g == gid.to_string()),
        "supplementary groups left: {groups:?}"
    );
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or("")
        .trim()
        .to_string();
    assert_eq!(caps, "0000000000000000", "the daemon kept capabilities");

    // The supervisor (its PID is in the boot marker) stays root.
    let data = w.gw.data_dir().to_path_buf();
    let supervisor: u32 = fs::read_to_string(data.join("unclean-shutdown"))
        .expect("boot marker")
        .trim()
        .parse()
        .expect("supervisor pid");
    assert_eq!(
        ids(supervisor, "Uid:")[1],
        0,
        "the supervisor must stay root"
    );

    // The data directory and everything the daemon writes are the user's.
    for p in [
        data.clone(),
        data.join("db"),
        data.join("logs/mail_logs/mail.current"),
        data.join("control.sock"),
    ] {
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{} owner", p.display());
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir mode");
    assert_eq!(
        mode(&data.join("control.sock")),
        0o600,
        "control socket mode"
    );

    // The CLI works for root and for the user.
    assert!(w.gw.cli_ok(&["status"]).contains("Host name"));
    let as_user = Command::new("runuser")
        .args(["-u", USER, "--"])
        .arg(breakwater_bin())
        .arg("cli")
        .arg("--data-dir")
        .arg(&data)
        .arg("status")
        .stdin(Stdio::null())
        .output()
        .expect("runuser");
    assert!(
        as_user.status.success() && String::from_utf8_lossy(&as_user.stdout).contains("Host name"),
        "breakwater cli as {USER}: {}",
        String::from_utf8_lossy(&as_user.stderr)
    );
    // The login banner knows how the box last stopped.
    let banner = w.gw.cli_ok(&["__banner"]);
    assert!(banner.contains("\"last_boot\":\"clean\""), "{banner}");

    // Mail flows through the unprivileged daemon.
    let to = World::local("alice");
    let id = "run-as-user@e2e.test";
    let msg = simple_message("sender@internet.example", &to, id, "as a user");
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "sender@internet.example",
        &[to.as_str()],
        &msg,
        &[],
    );
    let data_step = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data_step.code, Some(250), "{res:?}");
    w.sink
        .wait_for_message_id(id, EVENTUALLY)
        .unwrap_or_else(|| panic!("{id} was not delivered"));

    // A killed daemon comes back as the user too (the supervisor can
    // still reach it and it can still reach the heartbeat socket).
    let old = w.gw.kill_daemon();
    let new = breakwater_e2e::wait_until(EVENTUALLY, || {
        let pid = w.gw.daemon_pid().filter(|p| *p != old)?;
        w.gw.cli(&["status"]).ok().map(|_| pid)
    })
    .expect("no new daemon after kill -9");
    assert_eq!(ids(new, "Uid:")[1], uid);

    w.gw.stop();
    drop(w);
    if created {
        let _ = Command::new("userdel").arg(USER).status();
    }
}
