//! Least privilege: on a board with `run_as`, the mail daemon binds its
//! ports, then runs as that unprivileged user; the data directory is that
//! user's, the control socket stays owner-only and answers both root and
//! that user, the supervisor stays root, and mail still flows.
//!
//! Also: what the daemon's user plants in its data directory (links to
//! root's files, a FIFO, a hard link) never makes root (the supervisor,
//! the daemon before it drops, salvage) write, truncate or give away a
//! file outside it, and `breakwater salvage` started by root works as
//! that user.
//!
//! Needs root (it creates a system user and the daemon calls setuid): as
//! any other user the tests say so and pass without checking anything.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use breakwater_e2e::{EVENTUALLY, World, breakwater_bin, simple_message, smtplib};

const USER: &str = "bw-e2e";

/// The tests share the system user, which each creates and deletes: one
/// at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

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

/// Restarts the gateway of `w` on a board with `run_as = USER`.
fn restart_as_user(w: &mut World) {
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
}

/// Sends one message through Data 1 and waits for the sink to have it.
fn mail_flows(w: &World, id: &str) {
    let to = World::local("alice");
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
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (uid, gid, created) = ensure_user();
    let mut w = World::start();
    restart_as_user(&mut w);

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
    mail_flows(&w, "run-as-user@e2e.test");

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

/// How many stores `salvage` has moved aside in `data`.
fn damaged_stores(data: &Path) -> usize {
    fs::read_dir(data)
        .expect("data dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("db.damaged-"))
        .count()
}

/// Runs `args` as the daemon's user (what a compromised daemon can do).
fn as_daemon_user(args: &[&str]) {
    let status = Command::new("runuser")
        .args(["-u", USER, "--"])
        .args(args)
        .status()
        .expect("runuser");
    assert!(status.success(), "as {USER}: {args:?}");
}

/// A root-owned file outside the data directory: its content, owner and
/// mode must never change.
struct Victim {
    path: std::path::PathBuf,
}

impl Victim {
    const CONTENT: &'static [u8] = b"root's own file\n";

    fn new(dir: &Path, name: &str) -> Victim {
        let path = dir.join(name);
        fs::write(&path, Self::CONTENT).expect("victim");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod victim");
        Victim { path }
    }

    fn assert_untouched(&self) {
        let meta = fs::metadata(&self.path).expect("victim still there");
        assert_eq!(
            fs::read(&self.path).expect("read victim"),
            Self::CONTENT,
            "{} was written",
            self.path.display()
        );
        assert_eq!(
            (meta.uid(), meta.gid()),
            (0, 0),
            "{} was given away",
            self.path.display()
        );
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{} mode",
            self.path.display()
        );
    }
}

#[test]
fn links_planted_by_the_daemons_user_never_lead_root_outside_the_data_directory() {
    if !am_root() {
        eprintln!(
            "SKIPPED links_planted_by_the_daemons_user_never_lead_root_outside_the_data_directory: \
             needs root (it creates the user {USER} and the daemon calls setuid)"
        );
        return;
    }
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (uid, gid, created) = ensure_user();
    let mut w = World::start();
    restart_as_user(&mut w);
    let data = w.gw.data_dir().to_path_buf();
    let d = |name: &str| data.join(name).to_string_lossy().into_owned();

    // Root's files, in a root-only directory outside the data directory
    // (on the same file system, so a hard link can reach one).
    let outside = tempfile::Builder::new()
        .prefix("bw-root-only")
        .tempdir_in(
            data.parent()
                .expect("parent")
                .parent()
                .expect("grandparent"),
        )
        .expect("root-only dir");
    fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
    let pid_victim = Victim::new(outside.path(), "pid-victim");
    let tmp_victim = Victim::new(outside.path(), "tmp-victim");
    let stop_victim = Victim::new(outside.path(), "stop-victim");
    let lock_victim = Victim::new(outside.path(), "lock-victim");
    let chown_victim = Victim::new(outside.path(), "chown-victim");
    let hard_victim = Victim::new(outside.path(), "hard-victim");
    let dir_victim = outside.path().join("a-directory");
    fs::create_dir(&dir_victim).expect("victim directory");
    let dir_owner = || fs::metadata(&dir_victim).unwrap().uid();

    let old = w.gw.daemon_pid().expect("daemon pid");
    // As the daemon's user: the PID file the supervisor rewrites at every
    // daemon start, and its temporary name, become links to root's files;
    // links for chown_tree to follow (a file and a directory).
    let p = |v: &Victim| v.path.to_string_lossy().into_owned();
    as_daemon_user(&["ln", "-sfn", &p(&pid_victim), &d("daemon.pid")]);
    as_daemon_user(&["ln", "-sfn", &p(&tmp_victim), &d("daemon.pid.new")]);
    as_daemon_user(&["ln", "-sfn", &p(&chown_victim), &d("evil-file")]);
    as_daemon_user(&["ln", "-sfn", &dir_victim.to_string_lossy(), &d("evil-dir")]);
    // A hard link to a root file: the kernel here refuses it to the user
    // (fs.protected_hardlinks), so root plants it, as the user could on a
    // kernel without that protection.
    fs::hard_link(&hard_victim.path, data.join("db/evil-hard-link")).expect("hard link");

    // kill -9: the supervisor writes the new daemon's PID, the new daemon
    // gives the data directory to its user again.
    let killed = Command::new("kill")
        .args(["-9", &old.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -9 {old}");
    let new = breakwater_e2e::wait_until(EVENTUALLY, || {
        let text = fs::read_to_string(data.join("daemon.pid")).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        (pid != old).then_some(pid)
    })
    .expect("no new daemon.pid after kill -9");
    breakwater_e2e::wait_until(EVENTUALLY, || w.gw.cli(&["status"]).ok()).expect("new daemon");
    assert_eq!(ids(new, "Uid:")[1], uid, "the new daemon runs as {USER}");
    assert!(
        fs::symlink_metadata(data.join("daemon.pid"))
            .unwrap()
            .file_type()
            .is_file(),
        "the planted link was replaced by a file"
    );
    let log = fs::read_to_string(data.join("logs/system_logs/system.current")).unwrap_or_default();
    assert!(
        log.contains("names (hard links); not given away"),
        "the hard link is reported:\n{log}"
    );
    mail_flows(&w, "planted-links-1@e2e.test");

    // A whole restart: the supervisor writes its stop record (through a
    // planted temporary name) and reads it back (planted as a FIFO, which
    // would hang a plain read), takes its lock (planted as a link) and
    // writes the boot marker.
    w.gw.stop();
    as_daemon_user(&["ln", "-sfn", &p(&stop_victim), &d("last-stop.new")]);
    as_daemon_user(&["ln", "-sfn", &p(&stop_victim), &d("unclean-shutdown.new")]);
    as_daemon_user(&["rm", "-f", &d("supervisor.lock"), &d("last-stop")]);
    as_daemon_user(&["ln", "-sfn", &p(&lock_victim), &d("supervisor.lock")]);
    as_daemon_user(&["mkfifo", &d("last-stop")]);
    w.gw.start_again();
    breakwater_e2e::wait_until(EVENTUALLY, || w.gw.cli(&["status"]).ok())
        .expect("the gateway starts despite the planted names");
    mail_flows(&w, "planted-links-2@e2e.test");

    for v in [
        &pid_victim,
        &tmp_victim,
        &stop_victim,
        &lock_victim,
        &chown_victim,
        &hard_victim,
    ] {
        v.assert_untouched();
    }
    assert_eq!(dir_owner(), 0, "a linked directory was given away");
    assert!(
        !outside.path().join("logs").exists()
            && fs::read_dir(&dir_victim).unwrap().next().is_none(),
        "nothing was created outside the data directory"
    );

    // `breakwater salvage` started by root works as the user: what it
    // creates is the user's.
    w.gw.stop();
    let out = Command::new(breakwater_bin())
        .arg("salvage")
        .arg("--data-dir")
        .arg(&data)
        .stdin(Stdio::null())
        .output()
        .expect("breakwater salvage");
    assert!(
        out.status.success(),
        "breakwater salvage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aside = fs::read_dir(&data)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("db.damaged-"))
        .expect("the store moved aside");
    for p in [data.join("db"), data.join("db/db"), aside.path()] {
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            (m.uid(), m.gid()),
            (uid, gid),
            "{} owner after salvage",
            p.display()
        );
    }
    hard_victim.assert_untouched();
    w.gw.start_again();
    mail_flows(&w, "after-salvage@e2e.test");

    // The supervisor's own salvage (auto_salvage, as on the appliance
    // boards) runs as the user too: the store it builds is the user's.
    w.gw.stop();
    let board = w.gw.board_file().to_path_buf();
    let text = fs::read_to_string(&board).expect("board file");
    assert!(
        !text.contains("[supervisor]"),
        "the test board has no [supervisor] table yet"
    );
    fs::write(
        &board,
        format!("{text}\n[supervisor]\nauto_salvage = true\n"),
    )
    .expect("board");
    let damaged_before = damaged_stores(&data);
    fs::OpenOptions::new()
        .write(true)
        .open(data.join("db/db"))
        .expect("sled data file")
        .set_len(0)
        .expect("truncate");
    for entry in fs::read_dir(data.join("db")).expect("db dir").flatten() {
        if entry.file_name().to_string_lossy().starts_with("snap.") {
            fs::remove_file(entry.path()).expect("remove snapshot");
        }
    }
    w.gw.start_again();
    breakwater_e2e::wait_until(EVENTUALLY, || w.gw.cli(&["status"]).ok())
        .expect("the gateway starts after the supervisor's salvage");
    let log = fs::read_to_string(data.join("logs/system_logs/system.current")).unwrap_or_default();
    assert!(log.contains("Database salvage"), "{log}");
    assert_eq!(
        damaged_stores(&data),
        damaged_before + 1,
        "one more store aside"
    );
    for p in [
        data.join("db"),
        data.join("db/db"),
        data.join("db/breakwater.initialised"),
    ] {
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            (m.uid(), m.gid()),
            (uid, gid),
            "{} owner after auto_salvage",
            p.display()
        );
    }
    // (A truncated store yields no configuration: the gateway is back on
    // its factory one, so no mail check here; an operator would now run
    // `loadconfig`.)

    w.gw.stop();
    drop(w);
    if created {
        let _ = Command::new("userdel").arg(USER).status();
    }
}
