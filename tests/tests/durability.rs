//! A 250 is a promise: acknowledged mail survives a next hop that is down,
//! a restart, and `kill -9` in the middle of a load.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use breakwater_e2e::{
    EVENTUALLY, LoadClient, LoadJob, SOON, World, mid_in_reply, simple_message, smtplib, wait_until,
};

#[test]
fn mail_queued_while_next_hop_is_down_is_delivered_after_restart() {
    let mut w = World::start();
    w.sink.stop();

    let msg = simple_message(
        "sender@internet.example",
        "alice@example.com",
        "queued-while-down@e2e.test",
        "the next hop is down",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(3),
        "sender@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    let mid = mid_in_reply(&data.text).expect("MID in 250");

    w.gw.wait_for_log(&format!(r"MID {mid} queued for delivery"), SOON);
    // An administrator looking at the log sees why it is still here: a
    // failed connection / deferral (AsyncOS: "Connection error: ...",
    // "Delayed: ..."). Checked at the end so a missing line does not hide
    // the durability result.
    let deferral = wait_until(SOON, || {
        let log = w.gw.mail_log();
        let after = log
            .split(&format!("MID {mid} queued for delivery"))
            .nth(1)?
            .to_string();
        regex::Regex::new(
            r"(?i)(connection error|delayed|deferred|defer|retry|refused|unreachable)",
        )
        .expect("regex")
        .find(&after)
        .map(|m| m.as_str().to_string())
    });
    assert!(
        w.gw.log_lines(&format!(r"Message finished MID {mid} done"))
            .is_empty(),
        "message finished although the next hop is down"
    );
    assert!(
        w.sink.messages().is_empty(),
        "the sink is down, yet got mail"
    );

    w.gw.stop();
    w.sink.start_again();
    w.gw.start_again();

    let m = w
        .sink
        .wait_for_message_id("queued-while-down@e2e.test", EVENTUALLY)
        .expect("queued message delivered after restart");
    assert_eq!(m.without_added_trace(), msg.as_slice());
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    assert!(
        deferral.is_some(),
        "while the next hop was down the mail log never said why MID {mid} waited \
         (no connection error / delayed / deferred line)"
    );
}

/// Four clients, 300 messages, and a SIGKILL once a third are in. Every
/// Message-ID that got a 250 must reach the next hop (duplicates are
/// allowed: at-least-once), and MIDs are not reused after the restart.
#[test]
fn kill_9_under_load_loses_no_acknowledged_message() {
    const CLIENTS: usize = 4;
    const PER_CLIENT: usize = 75;
    const TOTAL: usize = CLIENTS * PER_CLIENT;

    let mut w = World::start();
    let acked = Arc::new(AtomicUsize::new(0));
    let prefixes: Vec<String> = (0..CLIENTS).map(|c| format!("kill9-c{c}")).collect();
    let clients: Vec<LoadClient> = (0..CLIENTS)
        .map(|c| {
            LoadClient::spawn(
                &LoadJob {
                    server: w.net.data1_smtp(),
                    source: w.net.client(30 + c as u8),
                    from: "load@internet.example",
                    to: "inbox@example.com",
                    count: PER_CLIENT,
                    per_conn: 5,
                    prefix: &prefixes[c],
                    body_lines: 40,
                    give_up_after: 8,
                },
                Arc::clone(&acked),
            )
        })
        .collect();

    let reached = wait_until(EVENTUALLY, || {
        (acked.load(Ordering::SeqCst) >= TOTAL / 3).then_some(())
    });
    assert!(
        reached.is_some(),
        "only {} of {TOTAL} messages acknowledged before the kill deadline",
        acked.load(Ordering::SeqCst)
    );
    w.gw.kill9();
    let at_kill = acked.load(Ordering::SeqCst);
    assert!(
        at_kill < TOTAL,
        "the load finished before the kill; the test proves nothing (raise PER_CLIENT)"
    );

    let mut results = Vec::new();
    let mut errors = Vec::new();
    for c in clients {
        let (r, e) = c.finish(EVENTUALLY);
        results.extend(r);
        errors.extend(e);
    }
    assert!(
        !errors.is_empty(),
        "no client noticed the kill: was the daemon really killed mid-load?"
    );
    let acknowledged: BTreeSet<String> = results
        .iter()
        .filter(|r| r.acknowledged())
        .map(|r| r.id.clone())
        .collect();
    assert!(acknowledged.len() >= TOTAL / 3);
    let max_mid_before = results
        .iter()
        .filter(|r| r.acknowledged())
        .filter_map(|r| mid_in_reply(&r.text))
        .max()
        .expect("MIDs in 250 replies");

    eprintln!(
        "kill -9 after {at_kill} of {TOTAL} acknowledged; {} acknowledged in all, {} client errors",
        acknowledged.len(),
        errors.len()
    );
    w.gw.start_again();

    let missing = wait_until(EVENTUALLY, || {
        let arrived: HashSet<String> = w
            .sink
            .messages()
            .iter()
            .filter_map(breakwater_e2e::SinkMessage::message_id)
            .collect();
        let missing: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !arrived.contains(*id))
            .collect();
        missing.is_empty().then_some(())
    });
    if missing.is_none() {
        let arrived: HashSet<String> = w
            .sink
            .messages()
            .iter()
            .filter_map(breakwater_e2e::SinkMessage::message_id)
            .collect();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !arrived.contains(*id))
            .collect();
        panic!(
            "{} of {} acknowledged messages never arrived after kill -9 and restart (first: {:?})",
            lost.len(),
            acknowledged.len(),
            &lost[..lost.len().min(10)]
        );
    }

    // A MID is never handed out twice, also across a crash.
    let msg = simple_message(
        "after@internet.example",
        "inbox@example.com",
        "kill9-after@e2e.test",
        "after the restart",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(40),
        "after@internet.example",
        &["inbox@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    let mid_after = mid_in_reply(&data.text).expect("MID");
    assert!(
        mid_after > max_mid_before,
        "MID {mid_after} after restart reuses the range before the crash (max {max_mid_before})"
    );
    assert!(
        w.sink
            .wait_for_message_id("kill9-after@e2e.test", SOON)
            .is_some()
    );

    // The spool gives its space back: once everything is delivered the
    // segments written before the crash (acknowledged bodies and the
    // chunks of messages that never got a 250) are gone, and only the
    // segment new mail goes to is left; no file per message anywhere.
    let spool = w.gw.data_dir().join("spool");
    let segments = || -> Vec<String> {
        std::fs::read_dir(spool.join("segments"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let reclaimed = wait_until(EVENTUALLY, || (segments().len() <= 1).then_some(()));
    assert!(
        reclaimed.is_some(),
        "segments left after every message was delivered: {:?}",
        segments()
    );
    let per_message_files: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "segments")
        .collect();
    assert!(per_message_files.is_empty(), "{per_message_files:?}");
}
