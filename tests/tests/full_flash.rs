//! Full flash: the data directory on a real, size-limited file system (an
//! 8 MiB tmpfs) is filled up; new mail gets `452 4.3.1`, mail queued
//! before is not lost, and acceptance resumes once space is freed.
//!
//! Needs root to mount the tmpfs: as any other user (or where mounting is
//! refused) the test says so and passes without checking anything.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use breakwater_e2e::{EVENTUALLY, World, simple_message, smtplib};

fn send(w: &World, id: &str) -> (Option<u16>, String) {
    send_text(w, id, "on a full flash")
}

/// A message larger than the few bytes a full file system may still have
/// in the last, partly written page of a queue file: the segment spool
/// (decision 0021) appends to one file, and a small message that fits in
/// space already allocated to it is really stored, so it gets its 250.
fn send_large(w: &World, id: &str) -> (Option<u16>, String) {
    let line = "a full flash has no room for this line of a 38 KB message body\r\n";
    send_text(w, id, &line.repeat(600))
}

fn send_text(w: &World, id: &str, text: &str) -> (Option<u16>, String) {
    let to = World::local("alice");
    let msg = simple_message("sender@internet.example", &to, id, text);
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(11),
        "sender@internet.example",
        &[to.as_str()],
        &msg,
        &[],
    );
    let step = smtplib::find(&res, "data").expect("DATA step");
    (step.code, step.text.clone())
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

fn mount_tmpfs(dir: &Path) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_flash_answers_452_loses_nothing_and_recovers() {
    let mut w = World::start();
    w.gw.stop();
    // The data directory moves onto an 8 MiB tmpfs.
    let data = w.gw.data_dir().to_path_buf();
    let saved = data.with_extension("saved");
    fs::rename(&data, &saved).expect("move data aside");
    fs::create_dir(&data).expect("mount point");
    if !mount_tmpfs(&data) {
        eprintln!(
            "SKIPPED a_full_flash_answers_452_loses_nothing_and_recovers: cannot mount a tmpfs \
             here (needs root and CAP_SYS_ADMIN)"
        );
        fs::remove_dir(&data).ok();
        fs::rename(&saved, &data).ok();
        return;
    }
    let _unmount = Unmount(data.clone());
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", saved.display()))
        .arg(&data)
        .status()
        .expect("cp");
    assert!(
        copied.success(),
        "cannot copy the data directory onto the tmpfs"
    );
    w.gw.start_again();

    // Mail queued while the next hop is down: it must survive the full flash.
    w.sink.stop();
    let (code, text) = send(&w, "before-full@e2e.test");
    assert_eq!(code, Some(250), "{text}");

    let filler = data.join("filler");
    fill(&filler);
    let (code, text) = send_large(&w, "while-full@e2e.test");
    assert_eq!(code, Some(452), "a full flash must answer 452: {text}");
    assert!(text.contains("4.3.1"), "{text}");
    // Still full: still 452, and the daemon still runs.
    let (code, text) = send_large(&w, "while-full-2@e2e.test");
    assert_eq!(code, Some(452), "{text}");
    assert!(
        w.gw.cli(&["status"]).is_ok(),
        "the daemon must survive a full flash"
    );

    // Space returns: acceptance resumes, and nothing queued was lost.
    fs::remove_file(&filler).expect("free space");
    let (code, text) = send(&w, "after-full@e2e.test");
    assert_eq!(
        code,
        Some(250),
        "mail must flow again once space returns: {text}"
    );
    w.sink.start_again();
    for id in ["before-full@e2e.test", "after-full@e2e.test"] {
        w.sink
            .wait_for_message_id(id, EVENTUALLY)
            .unwrap_or_else(|| panic!("{id} was lost"));
    }
    let ids: Vec<String> = w
        .sink
        .messages()
        .iter()
        .filter_map(breakwater_e2e::SinkMessage::message_id)
        .collect();
    assert!(
        !ids.iter().any(|i| i.starts_with("while-full")),
        "a message answered 452 was delivered: {ids:?}"
    );
    w.gw.stop();
}
