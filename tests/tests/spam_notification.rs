//! The Spam Quarantine notification (AsyncOS's "Spam Notification") on the
//! real gateway between swaks and the sink: mail a message filter holds in
//! `Spam` is announced to each of its recipients by one digest (date
//! received, MID, sender, subject), at once on `quarantine notify now` and
//! then every interval; a digest lists only what was quarantined since
//! the last one, and the held mail itself stays held.

use breakwater_e2e::{EVENTUALLY, SOON, SinkMessage, Swaks, World, mid_in_reply};

const FILTERS: &str = "hold_spam: if header('X-Spam') == '^yes$' {\n  quarantine('Spam');\n}\n.\n";

/// Sends a message held in Spam by the filter; its MID once held.
fn send_spam(w: &World, to: &[&str], subject: &str) -> u64 {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    std::fs::write(
        &path,
        format!(
            "From: <spammer@internet.example>\r\nTo: <{}>\r\nMessage-ID: <{subject}@e2e.test>\r\nSubject: {subject}\r\nX-Spam: yes\r\n\r\nBuy now.\r\n",
            to[0]
        ),
    )
    .expect("write message");
    let mut swaks =
        Swaks::new(w.net.data1_smtp(), w.net.client(7)).from("spammer@internet.example");
    for rcpt in to {
        swaks = swaks.to(rcpt);
    }
    let out = swaks.data_file(&path).run();
    let reply = out.data_reply().expect("a reply to DATA");
    assert_eq!(reply.code, 250, "{}", out.transcript);
    let mid = mid_in_reply(&reply.text()).expect("MID");
    w.gw.wait_for_log(&format!("MID {mid} quarantined to \"Spam\""), SOON);
    mid
}

/// The digests the sink received, by recipient.
fn digests_to(w: &World, rcpt: &str) -> Vec<SinkMessage> {
    w.sink
        .messages()
        .into_iter()
        .filter(|m| {
            m.header("Subject").as_deref() == Some("Spam Quarantine Notification")
                && m.rcpts.iter().any(|r| r == rcpt)
        })
        .collect()
}

fn text(m: &SinkMessage) -> String {
    String::from_utf8_lossy(&m.raw).into_owned()
}

#[test]
fn each_recipient_of_held_spam_gets_one_digest_of_what_is_new() {
    let w = World::start();
    w.gw.cli_input(&["filters", "new"], FILTERS)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: spam filter"]);

    let both = send_spam(
        &w,
        &["alice@example.com", "bob@example.com"],
        "cheap-watches",
    );
    let alone = send_spam(&w, &["alice@example.com"], "lottery-win");

    let out = w.gw.cli_ok(&["quarantine", "notify", "now"]);
    assert!(out.contains("2 recipient(s), 2 message(s)"), "{out}");
    w.gw.wait_for_log(
        "Spam Quarantine notification to <alice@example.com> listing 2 messages",
        SOON,
    );
    w.gw.wait_for_log(
        "Spam Quarantine notification to <bob@example.com> listing 1 messages",
        SOON,
    );
    w.sink.wait_for(2, SOON);
    let alice = digests_to(&w, "alice@example.com");
    let bob = digests_to(&w, "bob@example.com");
    assert_eq!((alice.len(), bob.len()), (1, 1));
    let a = text(&alice[0]);
    assert!(a.contains(&format!("MID: {both}\r\n")), "{a}");
    assert!(a.contains(&format!("MID: {alone}\r\n")), "{a}");
    assert!(a.contains("From: <spammer@internet.example>"), "{a}");
    assert!(a.contains("Subject: lottery-win"), "{a}");
    assert!(a.contains("Date received: "), "{a}");
    let b = text(&bob[0]);
    assert!(b.contains(&format!("MID: {both}\r\n")), "{b}");
    assert!(!b.contains(&format!("MID: {alone}\r\n")), "{b}");
    // The digest is the gateway's own mail, from the null sender.
    assert_eq!(bob[0].mail_from, "");
    let from = bob[0].header("From").unwrap_or_default();
    assert!(from.starts_with("quarantine@"), "{from}");

    // The spam itself stays held.
    let list = w.gw.cli_ok(&["quarantine", "list", "Spam"]);
    assert!(list.contains(&both.to_string()), "{list}");

    // Nothing new: no digest.
    let out = w.gw.cli_ok(&["quarantine", "notify", "now"]);
    assert!(out.contains("0 recipient(s), 0 message(s)"), "{out}");

    // The periodic digest lists only the message held since.
    w.gw.cli_ok(&[
        "quarantineconfig",
        "notify",
        "--enable",
        "on",
        "--interval",
        "1m",
        "--subject",
        "Held spam",
    ]);
    w.gw.cli_ok(&["commit", "e2e: spam notification every minute"]);
    let later = send_spam(&w, &["bob@example.com"], "free-cruise");
    let m = w
        .sink
        .wait_for(3, EVENTUALLY)
        .into_iter()
        .find(|m| m.header("Subject").as_deref() == Some("Held spam"))
        .expect("the periodic digest reaches the sink");
    let t = text(&m);
    assert!(t.contains(&format!("MID: {later}\r\n")), "{t}");
    assert!(!t.contains(&format!("MID: {both}\r\n")), "{t}");
    assert_eq!(m.rcpts, ["bob@example.com"]);
    let lines =
        w.gw.log_lines("Spam Quarantine notification to <bob@example.com> listing 1 messages");
    assert_eq!(lines.len(), 2, "{lines:?}");
}
