//! Anti-virus through a real ClamAV engine (issue 17): Debian's clamd on
//! loopback with a signature database the test writes (one signature, for
//! the EICAR test file), scanning each message after the policy split.
//!
//! - an EICAR attachment is quarantined in "Virus" (the policy's choice)
//!   or dropped (the factory action), a clean message is delivered;
//! - clamd killed with SIGKILL: fail-closed keeps the messages (through a
//!   gateway crash too) and scans them once clamd is back, each delivered
//!   or quarantined exactly once; fail-open delivers them marked
//!   unscanned with the unscannable action's subject tag.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use base64::Engine as _;
use breakwater_e2e::{
    Clamd, EICAR_SIGNATURE, SOON, World, eicar, mid_in_reply, simple_message, smtplib, wait_until,
};
use regex::escape;

const SENDER: &str = "friend@internet.example";
const RCPT: &str = "alice@example.com";
/// The client that sends the mail (`127.5.n.CLIENT`).
const CLIENT: u8 = 9;
/// A fail-closed message is scanned again every 60 s
/// (`RESCAN_SECS`): the wait for one rescan, with room to spare.
const RESCAN_WAIT: Duration = Duration::from_secs(180);

/// clamd's address: beside the sink, on clamd's customary port.
fn clamd_addr(w: &World) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(127, 4, w.net.n(), 33), 3310)
}

/// A world whose gateway scans with `clamd`, with the extra policy
/// commands, committed.
fn world(extra: &[&[&str]]) -> (World, Clamd) {
    let w = World::start();
    let clamd = Clamd::start(clamd_addr(&w));
    let host = clamd.addr().ip().to_string();
    let port = clamd.addr().port().to_string();
    w.gw.cli_ok(&["antivirusconfig", "setup", "--host", &host, "--port", &port]);
    w.gw.cli_ok(&["antivirusconfig", "enable"]);
    for cmd in extra {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: anti-virus"]);
    (w, clamd)
}

/// A message with the EICAR test file as a base64 attachment.
fn infected_message(message_id: &str) -> Vec<u8> {
    let attachment = base64::engine::general_purpose::STANDARD.encode(eicar());
    format!(
        "From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: invoice\r\nMessage-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlease see the attachment.\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=\"invoice.com\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"invoice.com\"\r\n\r\n{attachment}\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

fn clean_message(message_id: &str) -> Vec<u8> {
    simple_message(SENDER, RCPT, message_id, "Nothing to see here.\n")
}

/// Sends `message` through Data 1; returns its MID.
fn send(w: &World, message: &[u8]) -> u64 {
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(CLIENT),
        SENDER,
        &[RCPT],
        message,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "Data 1 refused the message: {res:?}");
    mid_in_reply(&data.text).expect("MID in the DATA reply")
}

/// How many messages the sink got with `message_id`.
fn delivered(w: &World, message_id: &str) -> usize {
    w.sink
        .messages()
        .iter()
        .filter(|m| m.message_id().as_deref() == Some(message_id))
        .count()
}

fn assert_quarantined_in_virus(w: &World, mid: u64) {
    w.gw.wait_for_log(
        &escape(&format!("MID {mid} antivirus positive '{EICAR_SIGNATURE}'")),
        SOON,
    );
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {mid} quarantined to \"Virus\" (a/v verdict:VIRAL)"
        )),
        SOON,
    );
    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(list.contains(&format!("{mid}  Virus")), "{list}");
}

#[test]
fn an_infected_attachment_is_quarantined_and_a_clean_message_delivered() {
    let (w, _clamd) = world(&[&[
        "policyconfig",
        "edit",
        "incoming",
        "DEFAULT",
        "antivirus",
        "infected",
        "quarantine",
    ]]);
    let bad = send(&w, &infected_message("infected@e2e.test"));
    let good = send(&w, &clean_message("clean@e2e.test"));
    let m = w
        .sink
        .wait_for_message_id("clean@e2e.test", SOON)
        .expect("the clean message is delivered");
    assert_eq!(
        m.header("X-Breakwater-AV-Status"),
        None,
        "a clean message is not marked"
    );
    for line in [
        format!("MID {good} interim AV verdict using ClamAV CLEAN"),
        format!("MID {good} antivirus negative"),
        format!("MID {bad} interim AV verdict using ClamAV VIRAL"),
    ] {
        w.gw.wait_for_log(&escape(&line), SOON);
    }
    assert_quarantined_in_virus(&w, bad);
    assert_eq!(
        delivered(&w, "infected@e2e.test"),
        0,
        "the infected message was delivered"
    );
    let show = w.gw.cli_ok(&["quarantine", "show", &bad.to_string()]);
    assert!(show.contains("Message-ID: <infected@e2e.test>"), "{show}");
}

#[test]
fn an_infected_message_is_dropped_by_the_factory_action() {
    let (w, _clamd) = world(&[]);
    let bad = send(&w, &infected_message("dropped@e2e.test"));
    w.gw.wait_for_log(
        &escape(&format!("MID {bad} antivirus positive '{EICAR_SIGNATURE}'")),
        SOON,
    );
    w.gw.wait_for_log(
        &escape(&format!("Message aborted MID {bad} Dropped by antivirus")),
        SOON,
    );
    // A clean message sent after it arrives; the dropped one never does.
    let _ = send(&w, &clean_message("after-drop@e2e.test"));
    w.sink
        .wait_for_message_id("after-drop@e2e.test", SOON)
        .expect("the clean message is delivered");
    assert_eq!(delivered(&w, "dropped@e2e.test"), 0);
    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(!list.contains(&format!("{bad}  ")), "{list}");
}

#[test]
fn fail_closed_keeps_messages_until_clamd_is_back_even_across_a_crash() {
    let (mut w, mut clamd) = world(&[&[
        "policyconfig",
        "edit",
        "incoming",
        "DEFAULT",
        "antivirus",
        "infected",
        "quarantine",
    ]]);
    // Fail-closed is the factory behaviour.
    clamd.kill();
    let good = send(&w, &clean_message("waits@e2e.test"));
    let bad = send(&w, &infected_message("waits-infected@e2e.test"));
    for mid in [good, bad] {
        w.gw.wait_for_log(
            &format!(r"MID {mid} anti-virus scan deferred: .*; scanning again in 60s"),
            SOON,
        );
    }
    assert_eq!(delivered(&w, "waits@e2e.test"), 0, "delivered unscanned");

    // The gateway crashes while they wait: recovered, still not scanned.
    w.gw.kill9();
    w.gw.start_again();
    let deferred = |mid: u64| {
        w.gw.log_lines(&format!(r"MID {mid} anti-virus scan deferred"))
            .len()
    };
    wait_until(SOON, || {
        (deferred(good) >= 2 && deferred(bad) >= 2).then_some(())
    })
    .expect("the recovered messages wait for the engine again");
    assert_eq!(delivered(&w, "waits@e2e.test"), 0, "delivered unscanned");

    let _clamd = Clamd::start(clamd_addr(&w));
    w.sink
        .wait_for_message_id("waits@e2e.test", RESCAN_WAIT)
        .expect("the clean message is delivered once clamd is back");
    w.gw.wait_for_log(&escape(&format!("MID {good} antivirus negative")), SOON);
    assert_quarantined_in_virus(&w, bad);
    w.gw.wait_for_log(&escape(&format!("Message finished MID {good} done")), SOON);
    assert_eq!(
        delivered(&w, "waits@e2e.test"),
        1,
        "delivered more than once"
    );
    assert_eq!(delivered(&w, "waits-infected@e2e.test"), 0);
}

#[test]
fn fail_open_delivers_unscanned_with_the_unscannable_tag() {
    let (w, mut clamd) = world(&[&[
        "policyconfig",
        "edit",
        "incoming",
        "DEFAULT",
        "antivirus",
        "engine-down",
        "fail-open",
    ]]);
    clamd.kill();
    let mid = send(&w, &infected_message("unscanned@e2e.test"));
    let m = w
        .sink
        .wait_for_message_id("unscanned@e2e.test", SOON)
        .expect("fail-open delivers the message");
    assert_eq!(
        m.header("X-Breakwater-AV-Status").as_deref(),
        Some("unscanned")
    );
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("[WARNING: A/V UNSCANNABLE] invoice")
    );
    w.gw.wait_for_log(&format!(r"MID {mid} antivirus unscannable: "), SOON);
    assert_eq!(delivered(&w, "unscanned@e2e.test"), 1);
}

#[test]
fn with_scanning_disabled_mail_flows_unscanned() {
    // The factory state: `antivirusconfig` disabled, no clamd at all.
    let w = World::start();
    let mid = w.deliver_inbound(w.net.client(CLIENT), "unscanned-off@e2e.test", "hello");
    assert!(
        w.gw.log_lines(&format!(
            r"MID {mid} (interim AV verdict|antivirus|anti-virus)"
        ))
        .is_empty(),
        "scanned while anti-virus is disabled"
    );
}
