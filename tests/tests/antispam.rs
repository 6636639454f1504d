//! Anti-spam end to end with Debian's rspamd started by the test: clean
//! mail delivered untouched, GTUBE and the local rule's spam marker tagged
//! or held in the Spam quarantine per mail policy, suspected spam tagged;
//! then rspamd stopped mid-run: a fail-open policy delivers with
//! `X-Breakwater-Spam-Status: unscanned`, a fail-closed one keeps the
//! message until rspamd is back and then acts on its verdict. Nothing is
//! lost.

use breakwater_e2e::{
    GTUBE, Rspamd, SOON, SPAM_MARKER, SUSPECT_MARKER, World, mid_in_reply, simple_message, smtplib,
};
use regex::escape;

/// rspamd and a world whose gateway scans with it (retry every 2 s when
/// it is down, 10 s timeout).
fn spam_world() -> (World, Rspamd) {
    let w = World::start();
    let rspamd = Rspamd::start(w.net.client(250));
    let port = rspamd.port().to_string();
    let host = rspamd.ip().to_string();
    w.gw.cli_ok(&[
        "antispamconfig",
        "setup",
        "--host",
        &host,
        "--port",
        &port,
        "--timeout",
        "10",
        "--retry",
        "2",
    ]);
    w.gw.cli_ok(&["antispamconfig", "enable"]);
    // The Spam quarantine may already be predefined; made here otherwise.
    let _ = w.gw.cli(&["quarantineconfig", "new", "Spam"]);
    (w, rspamd)
}

/// Sends `body` to `to` through Data 1; returns the MID.
fn send(w: &World, to: &str, id: &str, body: &str) -> u64 {
    let msg = simple_message("sender@internet.example", to, id, body);
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(9),
        "sender@internet.example",
        &[to],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    mid_in_reply(&data.text).expect("MID in 250")
}

fn line(w: &World, text: &str) {
    w.gw.wait_for_log(&format!("{}$", escape(text)), SOON);
}

#[test]
fn spam_is_tagged_or_quarantined_per_policy_and_clean_mail_passes() {
    let (w, _rspamd) = spam_world();
    let bob = World::local("bob");
    w.gw.cli_ok(&[
        "policyconfig",
        "new",
        "incoming",
        "STRICT",
        "recipient",
        &bob,
    ]);
    w.gw.cli_ok(&[
        "policyconfig",
        "edit",
        "incoming",
        "STRICT",
        "antispam",
        "positive",
        "action",
        "quarantine",
    ]);
    w.gw.cli_ok(&["commit", "e2e: anti-spam"]);
    let list = w.gw.cli_ok(&["policyconfig", "list", "incoming"]);
    assert!(list.contains("STRICT               rspamd"), "{list}");

    let alice = World::local("alice");
    let clean = send(&w, &alice, "clean@e2e.test", "Lunch at noon?");
    let m = w
        .sink
        .wait_for_message_id("clean@e2e.test", SOON)
        .expect("clean mail is delivered");
    assert_eq!(m.header("Subject").as_deref(), Some("e2e clean@e2e.test"));
    assert_eq!(m.header("X-Breakwater-Spam-Status"), None);
    line(
        &w,
        &format!("MID {clean} using engine: rspamd spam negative"),
    );
    line(&w, &format!("MID {clean} antispam negative"));

    let gtube = send(&w, &alice, "gtube@e2e.test", GTUBE);
    let m = w
        .sink
        .wait_for_message_id("gtube@e2e.test", SOON)
        .expect("DEFAULT delivers positive spam, tagged");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[SPAM] e2e gtube@e2e.test")
    );
    line(
        &w,
        &format!("MID {gtube} interim verdict using engine: rspamd spam positive"),
    );
    line(&w, &format!("MID {gtube} antispam positive"));

    let suspect = send(&w, &alice, "suspect@e2e.test", SUSPECT_MARKER);
    let m = w
        .sink
        .wait_for_message_id("suspect@e2e.test", SOON)
        .expect("suspected spam is delivered, tagged");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[SUSPECTED SPAM] e2e suspect@e2e.test")
    );
    line(&w, &format!("MID {suspect} antispam suspect"));

    let held = send(&w, &bob, "held@e2e.test", SPAM_MARKER);
    line(
        &w,
        &format!("MID {held} quarantined to \"Spam\" (antispam positive)"),
    );
    let q = w.gw.cli_ok(&["quarantine", "list", "Spam"]);
    assert!(
        q.lines()
            .any(|l| l.trim_start().starts_with(&format!("{held}  Spam "))),
        "{q}"
    );
    // Released, it goes on to bob, tagged.
    w.gw.cli_ok(&["quarantine", "release", &held.to_string()]);
    let m = w
        .sink
        .wait_for_message_id("held@e2e.test", SOON)
        .expect("a released message is delivered");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[SPAM] e2e held@e2e.test")
    );
    assert_eq!(m.rcpts, [bob.as_str()]);

    // One message to both policies: split, and each part gets its
    // policy's action (alice's tagged and delivered, bob's held).
    let both = {
        let msg = simple_message(
            "sender@internet.example",
            &alice,
            "both@e2e.test",
            SPAM_MARKER,
        );
        let res = smtplib::send(
            w.net.data1_smtp(),
            w.net.client(9),
            "sender@internet.example",
            &[alice.as_str(), bob.as_str()],
            &msg,
            &[],
        );
        let data = smtplib::find(&res, "data").expect("DATA step");
        assert_eq!(data.code, Some(250), "{res:?}");
        mid_in_reply(&data.text).expect("MID in 250")
    };
    let m = w
        .sink
        .wait_for_message_id("both@e2e.test", SOON)
        .expect("DEFAULT's part is delivered");
    assert_eq!(m.rcpts, [alice.as_str()]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[SPAM] e2e both@e2e.test")
    );
    let split = w.gw.wait_for_log(
        &format!("MID {both} was split creating MID (\\d+) due to a per-recipient policy"),
        SOON,
    );
    let part: u64 = split
        .rsplit_once("creating MID ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the part's MID");
    line(
        &w,
        &format!("MID {part} quarantined to \"Spam\" (antispam positive)"),
    );
    // The part reaches the quarantine once it is queued.
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let q = w.gw.cli_ok(&["quarantine", "list", "Spam"]);
        if q.contains("e2e both@e2e.test") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{q}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // A policy that drops positive spam.
    let carol = World::local("carol");
    w.gw.cli_ok(&[
        "policyconfig",
        "new",
        "incoming",
        "DROPPER",
        "recipient",
        &carol,
    ]);
    w.gw.cli_ok(&[
        "policyconfig",
        "edit",
        "incoming",
        "DROPPER",
        "antispam",
        "positive",
        "action",
        "drop",
    ]);
    w.gw.cli_ok(&["commit", "e2e: drop spam"]);
    let dropped = send(&w, &carol, "dropped@e2e.test", GTUBE);
    line(
        &w,
        &format!("Message aborted MID {dropped} Dropped by rspamd"),
    );
    send(&w, &carol, "kept@e2e.test", "a normal note");
    w.sink
        .wait_for_message_id("kept@e2e.test", SOON)
        .expect("clean mail to the dropping policy is delivered");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("dropped@e2e.test")),
        "dropped spam was delivered"
    );
}

#[test]
fn engine_down_delivers_unscanned_or_holds_until_it_is_back() {
    let (w, mut rspamd) = spam_world();
    let dave = World::local("dave");
    w.gw.cli_ok(&[
        "policyconfig",
        "new",
        "incoming",
        "CLOSED",
        "recipient",
        &dave,
    ]);
    w.gw.cli_ok(&[
        "policyconfig",
        "edit",
        "incoming",
        "CLOSED",
        "antispam",
        "enginedown",
        "hold",
    ]);
    w.gw.cli_ok(&["commit", "e2e: fail open and closed"]);
    let alice = World::local("alice");
    // Scanned while rspamd is up.
    send(&w, &alice, "before@e2e.test", "hello");
    w.sink
        .wait_for_message_id("before@e2e.test", SOON)
        .expect("delivered while rspamd runs");

    rspamd.stop();
    let open = send(&w, &alice, "open@e2e.test", SPAM_MARKER);
    let m = w
        .sink
        .wait_for_message_id("open@e2e.test", SOON)
        .expect("fail open: delivered while rspamd is down");
    assert_eq!(
        m.header("X-Breakwater-Spam-Status").as_deref(),
        Some("unscanned")
    );
    assert_eq!(m.header("Subject").as_deref(), Some("e2e open@e2e.test"));
    w.gw.wait_for_log(
        &format!(
            "MID {open} antispam scan failed using engine: rspamd \\(.*\\): delivered unscanned$"
        ),
        SOON,
    );

    let closed = send(&w, &dave, "closed@e2e.test", SPAM_MARKER);
    w.gw.wait_for_log(
        &format!(
            "MID {closed} antispam scan failed using engine: rspamd \\(.*\\): held for another scan in 2 seconds$"
        ),
        SOON,
    );
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("closed@e2e.test")),
        "fail closed: nothing is delivered unscanned"
    );

    rspamd.restart();
    let m = w
        .sink
        .wait_for_message_id("closed@e2e.test", SOON)
        .expect("scanned and delivered once rspamd is back");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[SPAM] e2e closed@e2e.test")
    );
    assert_eq!(m.header("X-Breakwater-Spam-Status"), None);
    line(&w, &format!("MID {closed} antispam positive"));
}
