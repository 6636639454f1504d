//! The work queue holds a bounded window of a large queue (issue 19): with
//! a window of 50 and 500 messages queued while the next hop is down, the
//! rest waits on disk, the counts stay right, an operator reaches any
//! message by MID, and after `kill -9` and a restart every message is
//! delivered exactly once while new mail is accepted.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use breakwater_e2e::{
    EVENTUALLY, LoadClient, LoadJob, SOON, SinkMessage, World, mid_in_reply, simple_message,
    smtplib, wait_until,
};

const WINDOW: usize = 50;
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 125;
const TOTAL: usize = CLIENTS * PER_CLIENT;

/// The number after `label` in an operator command's answer.
fn count_after(text: &str, label: &str) -> Option<u64> {
    let rest = text.split(label).nth(1)?;
    rest.split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

#[test]
fn a_queue_ten_times_the_window_is_delivered_once_each_after_kill_9() {
    let mut w = World::start();
    // The test board's window: 50 messages (the factory default is 10,000).
    let mut board = std::fs::OpenOptions::new()
        .append(true)
        .open(w.gw.board_file())
        .expect("board file");
    writeln!(board, "\n[work_queue]\nwindow = {WINDOW}").expect("append to the board file");
    w.gw.restart();
    w.sink.stop();

    let acked = Arc::new(AtomicUsize::new(0));
    let prefixes: Vec<String> = (0..CLIENTS).map(|c| format!("window-c{c}")).collect();
    let clients: Vec<LoadClient> = (0..CLIENTS)
        .map(|c| {
            LoadClient::spawn(
                &LoadJob {
                    server: w.net.data1_smtp(),
                    source: w.net.client(30 + c as u8),
                    from: "load@internet.example",
                    to: "inbox@example.com",
                    count: PER_CLIENT,
                    per_conn: 10,
                    prefix: &prefixes[c],
                    body_lines: 5,
                    give_up_after: 3,
                },
                Arc::clone(&acked),
            )
        })
        .collect();
    let mut results = Vec::new();
    for c in clients {
        let (r, e) = c.finish(EVENTUALLY);
        assert!(e.is_empty(), "clients saw errors: {e:?}");
        results.extend(r);
    }
    let mids: HashMap<String, u64> = results
        .iter()
        .filter(|r| r.acknowledged())
        .map(|r| (r.id.clone(), mid_in_reply(&r.text).expect("MID in the 250")))
        .collect();
    assert_eq!(mids.len(), TOTAL, "every message acknowledged");

    // The counts come from the store, not from the window.
    let status = w.gw.cli_ok(&["status"]);
    assert_eq!(
        count_after(&status, "Messages in queue:"),
        Some(TOTAL as u64),
        "{status}"
    );
    let wq = w.gw.cli_ok(&["workqueue", "status"]);
    let in_window = count_after(&wq, "Messages in work queue:").expect("work queue count");
    assert!(in_window <= WINDOW as u64, "{wq}");
    assert_eq!(
        count_after(&wq, "Messages on disk, outside:"),
        Some(TOTAL as u64 - in_window),
        "{wq}"
    );

    // The newest message is outside the window: still shown by MID.
    let newest = *mids.values().max().expect("a MID");
    let shown = w.gw.cli_ok(&["showmessage", &newest.to_string()]);
    assert!(shown.contains(&format!("MID {newest}")), "{shown}");
    assert!(shown.contains("inbox@example.com"), "{shown}");

    // Deleted from disk by MID: never delivered, counted out of the queue.
    let deleted = w.gw.cli_ok(&["deletemessage", &newest.to_string()]);
    assert!(deleted.contains("deleted (1 recipient(s))"), "{deleted}");
    let deleted_id = mids
        .iter()
        .find(|(_, m)| **m == newest)
        .map(|(id, _)| id.clone())
        .expect("its Message-ID");
    let status = w.gw.cli_ok(&["status"]);
    assert_eq!(
        count_after(&status, "Messages in queue:"),
        Some(TOTAL as u64 - 1),
        "{status}"
    );

    // A removal is durable with the committer's next flush (decision
    // 0021: record and location first, bytes later); only then is the
    // kill a fair test. The committer counts every flush it makes.
    let flushes = |w: &World| {
        w.gw.cli_ok(&["metrics"])
            .lines()
            .find_map(|l| l.strip_prefix("breakwater_queue_commit_duration_seconds_count "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = flushes(&w);
    assert!(
        wait_until(SOON, || (flushes(&w) > before).then_some(())).is_some(),
        "the committer did not flush after the deletion"
    );

    w.gw.kill9();
    w.sink.start_again();
    w.gw.start_again();

    // New mail is accepted while the backlog drains.
    let msg = simple_message(
        "after@internet.example",
        "inbox@example.com",
        "window-after@e2e.test",
        "sent while the backlog drains",
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

    let expected = TOTAL; // 499 of the backlog and the new one
    let arrived = wait_until(EVENTUALLY, || {
        let n = w.sink.messages().len();
        (n >= expected).then_some(n)
    });
    assert!(
        arrived.is_some(),
        "only {} of {expected} messages arrived after the restart",
        w.sink.messages().len()
    );
    // Drained: nothing left on disk, and nothing arrives twice.
    let drained = wait_until(SOON, || {
        let status = w.gw.cli_ok(&["status"]);
        (count_after(&status, "Messages in queue:") == Some(0)).then_some(())
    });
    assert!(drained.is_some(), "{}", w.gw.cli_ok(&["status"]));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in w.sink.messages() {
        if let Some(id) = SinkMessage::message_id(&m) {
            *seen.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<&String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let missing: Vec<&String> = mids
        .keys()
        .filter(|id| **id != deleted_id && !seen.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert!(
        !seen.contains_key(&deleted_id),
        "the deleted message was delivered"
    );
    assert!(seen.contains_key("window-after@e2e.test"));
}
