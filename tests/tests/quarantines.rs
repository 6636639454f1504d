//! Quarantines as AsyncOS lays them out, on the real gateway between
//! swaks and the sink: a message filter holds mail in `Policy` and in a
//! quarantine of the test's own; the retention timer gives expired mail
//! the quarantine's default action (release: delivered to the sink;
//! delete: gone, with AsyncOS's `(expired)` lines), `quarantine delay`
//! keeps a message past its retention, a full quarantine frees space by
//! its default action (`(queue full)`), held mail is counted apart from
//! the delivery queue, survives `kill -9`, and is delayed and released
//! from the web UI.

use breakwater_e2e::{EVENTUALLY, SOON, Swaks, WebClient, World, mid_in_reply};

/// Holds mail by its `X-Hold` header: `policy` in Policy, `short` in
/// Short, `small` in Small.
const FILTERS: &str = "hold_policy: if header('X-Hold') == '^policy$' {\n  quarantine('Policy');\n}\nhold_short: if header('X-Hold') == '^short$' {\n  quarantine('Short');\n}\nhold_small: if header('X-Hold') == '^small$' {\n  quarantine('Small');\n}\n.\n";

fn setup(w: &World) {
    // Real, short retention periods: AsyncOS counts in hours; minutes are
    // this gateway's own unit.
    w.gw.cli_ok(&[
        "quarantineconfig",
        "edit",
        "Policy",
        "--retention",
        "1m",
        "--action",
        "release",
    ]);
    w.gw.cli_ok(&[
        "quarantineconfig",
        "new",
        "Short",
        "--retention",
        "1m",
        "--action",
        "delete",
    ]);
    w.gw.cli_ok(&[
        "quarantineconfig",
        "new",
        "Small",
        "--max_size",
        "1M",
        "--action",
        "delete",
    ]);
    w.gw.cli_input(&["filters", "new"], FILTERS)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: quarantines"]);
}

/// Sends a message through Data 1 held by `hold`; its MID once held.
fn send_held(w: &World, hold: &str, message_id: &str, padding: usize) -> u64 {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    let body = "x".repeat(76) + "\r\n";
    std::fs::write(
        &path,
        format!(
            "From: <friend@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <{message_id}>\r\nSubject: held {message_id}\r\nX-Hold: {hold}\r\n\r\nHello.\r\n{}",
            body.repeat(padding)
        ),
    )
    .expect("write message");
    let out = Swaks::new(w.net.data1_smtp(), w.net.client(7))
        .from("friend@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .run();
    let reply = out.data_reply().expect("a reply to DATA");
    assert_eq!(reply.code, 250, "{}", out.transcript);
    let mid = mid_in_reply(&reply.text()).expect("MID");
    w.gw.wait_for_log(&format!("MID {mid} quarantined to"), SOON);
    mid
}

/// Whether `quarantine list` shows `mid` held in `quarantine`.
fn holds(list: &str, mid: u64, quarantine: &str) -> bool {
    let mid = mid.to_string();
    list.lines().any(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some(mid.as_str()) && words.next() == Some(quarantine)
    })
}

fn delivered(w: &World, message_id: &str) -> bool {
    w.sink
        .messages()
        .iter()
        .any(|m| m.headers().iter().any(|(_, v)| v.contains(message_id)))
}

#[test]
fn retention_releases_or_deletes_expired_mail_and_delay_keeps_it() {
    let w = World::start();
    setup(&w);
    let released = send_held(&w, "policy", "expire-release@e2e.test", 0);
    let delayed = send_held(&w, "policy", "expire-delay@e2e.test", 0);
    let deleted = send_held(&w, "short", "expire-delete@e2e.test", 0);

    // Held mail is not waiting for delivery.
    let detail = w.gw.cli_ok(&["status", "detail"]);
    let gauge = |name: &str| {
        detail
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no {name} in\n{detail}"))
            .to_string()
    };
    assert_eq!(gauge("Messages in Quarantine"), "3", "{detail}");
    assert_eq!(gauge("Messages in Queue"), "0", "{detail}");
    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(list.contains("Scheduled exit"), "{list}");
    assert!(list.contains("% Full"), "{list}");

    let out =
        w.gw.cli_ok(&["quarantine", "delay", &delayed.to_string(), "1d"]);
    assert!(out.contains("delayed to"), "{out}");

    w.gw.wait_for_log(
        &format!("MID {released} released from quarantine \"Policy\" \\(expired\\)"),
        EVENTUALLY,
    );
    w.sink
        .wait_for_message_id("expire-release@e2e.test", SOON)
        .expect("the expired message is released to the sink");
    w.gw.wait_for_log(
        &format!("MID {deleted} deleted from quarantine \"Short\" \\(expired\\)"),
        EVENTUALLY,
    );
    assert!(!delivered(&w, "expire-delete@e2e.test"));

    // The delayed message passed its 1 minute and is still held.
    let list = w.gw.cli_ok(&["quarantine", "list", "Policy"]);
    assert!(holds(&list, delayed, "Policy"), "{list}");
    assert!(!holds(&list, released, "Policy"), "{list}");
    assert!(!delivered(&w, "expire-delay@e2e.test"));
}

#[test]
fn a_full_quarantine_frees_space_by_its_default_action() {
    let w = World::start();
    setup(&w);
    // Two of about 600 KiB do not fit in 1M: the oldest goes.
    let first = send_held(&w, "small", "full-1@e2e.test", 8000);
    let second = send_held(&w, "small", "full-2@e2e.test", 8000);
    w.gw.wait_for_log(
        &format!("MID {first} deleted from quarantine \"Small\" \\(queue full\\)"),
        SOON,
    );
    let list = w.gw.cli_ok(&["quarantine", "list", "Small"]);
    assert!(holds(&list, second, "Small"), "{list}");
    assert!(!holds(&list, first, "Small"), "{list}");
    assert!(!delivered(&w, "full-1@e2e.test"));
}

#[test]
fn held_mail_survives_kill_9_and_is_delayed_and_released_from_the_web_ui() {
    let mut w = World::start();
    w.gw.cli_ok(&["quarantineconfig", "edit", "Policy", "--retention", "1d"]);
    w.gw.cli_input(&["filters", "new"], FILTERS)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: quarantines"]);
    let mid = send_held(&w, "policy", "survivor@e2e.test", 0);

    w.gw.kill9();
    w.gw.start_again();

    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(holds(&list, mid, "Policy"), "{list}");
    let exit_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("Scheduled exit:"))
            .unwrap_or_else(|| panic!("no scheduled exit in\n{text}"))
            .to_string()
    };
    let before = exit_line(&w.gw.cli_ok(&["quarantine", "show", &mid.to_string()]));

    let web = WebClient::login(&w.gw, "admin", "breakwater");
    let page = web.get(&format!("/monitor/quarantines/{mid}"));
    assert!(page.contains("id=\"delay\""), "{page}");
    let (status, location) = web.post(
        &format!("/monitor/quarantines/{mid}/delay"),
        &[("period", "2d")],
    );
    assert_eq!(
        (status, location),
        (303, format!("/monitor/quarantines/{mid}"))
    );
    let after = exit_line(&w.gw.cli_ok(&["quarantine", "show", &mid.to_string()]));
    assert_ne!(before, after, "the scheduled exit moved");
    assert!(!delivered(&w, "survivor@e2e.test"));

    let (status, _) = web.post(&format!("/monitor/quarantines/{mid}/release"), &[]);
    assert_eq!(status, 303);
    w.gw.wait_for_log(
        &format!("MID {mid} released from quarantine \"Policy\" \\(manual\\)"),
        SOON,
    );
    w.sink
        .wait_for_message_id("survivor@e2e.test", SOON)
        .expect("the released message is delivered");
}
