//! Message filters end to end: the seed's `office365_outbound` filter
//! entered with `breakwater cli filters new` exactly as the seed writes it,
//! then committed; quarantine and release; a bcc copy; and a syntax error
//! that reports its position and adds nothing.

use breakwater_e2e::{Dns, SOON, TestNet, World, mid_in_reply, simple_message, smtplib};
use regex::escape;

/// The "internet" domain of the outbound tests; routed to the sink.
const PARTNER: &str = "partner.example";

/// The seed's filter, as pasted at the CLI, ended by a line holding `.`.
const SEED_FILTER: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}
.
"#;

/// A message with extra header lines (each ending in CRLF) after the
/// standard ones.
fn message_with(from: &str, to: &str, id: &str, extra: &str) -> Vec<u8> {
    let plain = simple_message(from, to, id, "hello from the tenant");
    let text = String::from_utf8(plain).expect("ascii message");
    let (head, body) = text.split_once("\r\n\r\n").expect("header block");
    format!("{head}\r\n{extra}\r\n{body}").into_bytes()
}

/// Microsoft 365's outbound host (.10, forward-confirmed) in RELAY_O365 on
/// OutgoingMail, partner.example routed to the sink, and the seed filter.
fn seed_world() -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", net.client(10))
        .start();
    let w = World::with_dns(net, dns);
    w.relay_for_microsoft_365_to_sink(PARTNER);
    let out =
        w.gw.cli_input(&["filters", "new"], SEED_FILTER)
            .expect("filters new");
    assert!(out.contains("1 filters added."), "filters new: {out}");
    assert!(!out.contains("Warning"), "RELAY_O365 exists: {out}");
    w.gw.cli_ok(&["commit", "e2e: office365_outbound"]);
    w
}

/// Sends `msg` from the Microsoft 365 host through Data 2; returns the MID.
fn send_outbound(w: &World, to: &str, msg: &[u8]) -> u64 {
    let res = smtplib::send(
        w.net.data2_smtp(),
        w.net.client(10),
        "alice@example.com",
        &[to],
        msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    mid_in_reply(&data.text).expect("MID in 250")
}

#[test]
fn seed_filter_strips_the_secret_header_and_delivers() {
    let w = seed_world();
    let to = format!("bob@{PARTNER}");
    let msg = message_with(
        "alice@example.com",
        &to,
        "good-secret@e2e.test",
        "X-OUTBOUND-AUTH: mysecretkey",
    );
    send_outbound(&w, &to, &msg);
    let m = w
        .sink
        .wait_for_message_id("good-secret@e2e.test", SOON)
        .expect("message with the right secret is delivered");
    assert_eq!(m.rcpts, [to.as_str()]);
    assert_eq!(m.header("X-OUTBOUND-AUTH"), None, "the secret was stripped");
    assert!(
        !String::from_utf8_lossy(&m.raw).contains("mysecretkey"),
        "the secret reached the internet"
    );
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("e2e good-secret@e2e.test")
    );
}

#[test]
fn seed_filter_drops_wrong_or_missing_secret() {
    let w = seed_world();
    let to = format!("bob@{PARTNER}");
    let wrong = message_with(
        "alice@example.com",
        &to,
        "wrong-secret@e2e.test",
        "X-OUTBOUND-AUTH: guessed",
    );
    let missing = simple_message("alice@example.com", &to, "no-secret@e2e.test", "hi");
    for msg in [wrong, missing] {
        let mid = send_outbound(&w, &to, &msg);
        w.gw.wait_for_log(
            &format!(
                "{}$",
                escape(&format!(
                    "Message aborted MID {mid} Dropped by filter 'office365_outbound'"
                ))
            ),
            SOON,
        );
    }
    // A message sent afterwards arrives; the dropped ones never do.
    let control = message_with(
        "alice@example.com",
        &to,
        "control-secret@e2e.test",
        "X-OUTBOUND-AUTH: mysecretkey",
    );
    send_outbound(&w, &to, &control);
    w.sink
        .wait_for_message_id("control-secret@e2e.test", SOON)
        .expect("control message delivered");
    let ids: Vec<Option<String>> = w.sink.messages().iter().map(|m| m.message_id()).collect();
    assert!(
        ids.iter().all(|id| !matches!(
            id.as_deref(),
            Some("wrong-secret@e2e.test" | "no-secret@e2e.test")
        )),
        "a dropped message reached the next hop: {ids:?}"
    );
}

#[test]
fn seed_filter_leaves_other_sender_groups_alone() {
    let w = seed_world();
    // Inbound through Data 1 (sender group ALL on IncomingMail), with a
    // header the filter would act on if it applied.
    let msg = message_with(
        "friend@internet.example",
        "alice@example.com",
        "inbound-untouched@e2e.test",
        "X-OUTBOUND-AUTH: guessed",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    let m = w
        .sink
        .wait_for_message_id("inbound-untouched@e2e.test", SOON)
        .expect("inbound message delivered");
    assert_eq!(m.header("X-OUTBOUND-AUTH").as_deref(), Some("guessed"));
    assert_eq!(m.without_added_trace(), msg.as_slice());
}

#[test]
fn quarantined_message_waits_until_released() {
    let w = World::start();
    let script = "hold_it: if header('Message-ID') == 'hold-me' {\n  quarantine('Policy');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: quarantine"]);
    let msg = simple_message(
        "friend@internet.example",
        "alice@example.com",
        "hold-me@e2e.test",
        "hold this",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    let mid = mid_in_reply(&data.text).expect("MID");
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {mid} quarantined to \"Policy\" (message filter:hold_it)"
        )),
        SOON,
    );
    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(list.contains(&format!("{mid}  Policy")), "{list}");
    let show = w.gw.cli_ok(&["quarantine", "show", &mid.to_string()]);
    assert!(show.contains("Message-ID: <hold-me@e2e.test>"), "{show}");
    // Held: a later message overtakes it.
    let later = simple_message(
        "friend@internet.example",
        "alice@example.com",
        "after-hold@e2e.test",
        "not held",
    );
    let _ = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["alice@example.com"],
        &later,
        &[],
    );
    w.sink
        .wait_for_message_id("after-hold@e2e.test", SOON)
        .expect("unheld message delivered");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("hold-me@e2e.test")),
        "a held message was delivered"
    );
    let out = w.gw.cli_ok(&["quarantine", "release", &mid.to_string()]);
    assert!(out.contains("released"), "{out}");
    w.sink
        .wait_for_message_id("hold-me@e2e.test", SOON)
        .expect("released message delivered");
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {mid} released from quarantine \"Policy\" (manual)"
        )),
        SOON,
    );
    assert!(
        w.gw.cli(&["quarantine", "release", &mid.to_string()])
            .is_err()
    );
}

#[test]
fn bcc_copy_arrives_beside_the_original() {
    let w = World::start();
    let script = "audit_copy: if rcpt-to == '^alice@' {\n  bcc('audit@example.com');\n  log-entry('audited');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: bcc"]);
    let msg = simple_message(
        "friend@internet.example",
        "alice@example.com",
        "bcc-me@e2e.test",
        "copy this",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    let mid = mid_in_reply(&smtplib::find(&res, "data").expect("DATA").text).expect("MID");
    let both = w.sink.wait_for(2, SOON);
    let mut rcpts: Vec<String> = both.iter().flat_map(|m| m.rcpts.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["alice@example.com", "audit@example.com"]);
    assert!(
        both.iter()
            .all(|m| m.message_id().as_deref() == Some("bcc-me@e2e.test"))
    );
    w.gw.wait_for_log(
        &format!(r"MID \d+ generated based on MID {mid} by bcc filter 'audit_copy'"),
        SOON,
    );
    w.gw.wait_for_log(
        &escape(&format!("MID {mid} Custom Log Entry: audited")),
        SOON,
    );
}

#[test]
fn syntax_error_reports_its_position_and_adds_nothing() {
    let w = World::start();
    let bad = "office365_outbound: if sendrgroup == \"RELAY_O365\" {\n  drop();\n}\n.\n";
    let err =
        w.gw.cli_input(&["filters", "new"], bad)
            .expect_err("refused");
    assert!(
        err.contains("line 1, column 24: unknown condition 'sendrgroup'"),
        "{err}"
    );
    assert!(
        err.contains(&format!("\n  {}^", " ".repeat(23))),
        "pointer under the token: {err}"
    );
    assert_eq!(
        w.gw.cli_ok(&["filters", "list"]).trim(),
        "There are no message filters."
    );
    assert!(
        w.gw.cli(&["commit", "nothing"]).is_err(),
        "nothing was staged"
    );
    // The guides' RELAYLIST pitfall: added, with a warning.
    let out =
        w.gw.cli_input(
            &["filters", "new"],
            &SEED_FILTER.replace("RELAY_O365", "RELAYLIST_TYPO"),
        )
        .expect("added with a warning");
    assert!(
        out.contains(
            "Warning: Filter 'office365_outbound': sender group 'RELAYLIST_TYPO' is not defined"
        ),
        "{out}"
    );
}

/// A filter's `bounce()`: AsyncOS's line, DCID 0 (no connection was
/// made) and the RID bare, then the message finishes.
#[test]
fn bounce_action_logs_the_asyncos_bounced_line() {
    let w = World::start();
    let script = "no_exe: if header('Message-ID') == 'bounce-me' {\n  bounce();\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: bounce"]);
    let msg = simple_message(
        "friend@example.com",
        "alice@example.com",
        "bounce-me@e2e.test",
        "bounce this",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@example.com",
        &["alice@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    let mid = mid_in_reply(&data.text).expect("MID");
    w.gw.wait_for_log(
        &format!(
            "Info: {}$",
            escape(&format!(
                "Bounced: DCID 0 MID {mid} to RID 0 - 5.7.1 - Bounced by filter 'no_exe'"
            ))
        ),
        SOON,
    );
    w.gw.wait_for_log(&format!(r"Info: Message finished MID {mid} done$"), SOON);
    assert!(
        w.gw.log_lines(&format!(r"Bounced: MID {mid} ")).is_empty(),
        "a bounce line without DCID"
    );
}
