//! Bounded everything: each limit answers with its code and enhanced
//! status, the session (or at least the gateway) keeps serving, and nothing
//! over a limit is delivered.

use breakwater_e2e::{SOON, SmtpConn, World, simple_message, smtplib};

/// Lowers the ACCEPTED policy: 100k messages, 3 recipients, TLS preferred.
fn tight_policy(w: &World) {
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "editpolicy",
        "ACCEPTED",
        "--max-message-size",
        "100k",
        "--max-recipients",
        "3",
        "--tls",
        "preferred",
    ]);
    w.gw.cli_ok(&["commit", "e2e: tight ACCEPTED policy"]);
}

/// Sends a small good message from another client and waits for it: the
/// gateway still serves, and anything refused before it did not travel.
fn control_message_arrives(w: &World, x: u8, id: &str) {
    let msg = simple_message(
        "friend@internet.example",
        "alice@example.com",
        id,
        "control",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(x),
        "friend@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "another client is no longer served: {res:?}"
    );
    w.sink
        .wait_for_message_id(id, SOON)
        .expect("control message delivered");
}

fn big_message(id: &str, size: usize) -> Vec<u8> {
    let mut m = simple_message("big@internet.example", "alice@example.com", id, "big");
    let line = format!("{}\r\n", "y".repeat(76));
    while m.len() < size {
        m.extend_from_slice(line.as_bytes());
    }
    m
}

#[test]
fn oversize_message_gets_552_5_3_4_and_is_not_delivered() {
    let w = World::start();
    tight_policy(&w);

    // Announced with SIZE=: refused at MAIL FROM.
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(3), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220);
    let ehlo = conn.ehlo("big.e2e.test").expect("EHLO");
    assert_eq!(ehlo.code, 250);
    assert!(
        ehlo.lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("SIZE")),
        "EHLO advertises SIZE: {ehlo}"
    );
    let r = conn
        .cmd("MAIL FROM:<big@internet.example> SIZE=250000")
        .expect("MAIL");
    assert_eq!(r.code, 552, "SIZE over the policy limit: {r}");
    assert!(r.text().starts_with("5.3.4"), "enhanced status 5.3.4: {r}");
    let r = conn.cmd("QUIT").expect("QUIT");
    assert_eq!(r.code, 221);

    // Not announced: refused at the end of DATA.
    let msg = big_message("too-big@e2e.test", 250_000);
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(4),
        "big@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("no DATA step: {res:?}"));
    assert_eq!(data.code, Some(552), "250 KB over a 100k limit: {res:?}");
    assert!(
        data.text.starts_with("5.3.4"),
        "enhanced status 5.3.4: {res:?}"
    );

    // Under the limit still passes, and the big one did not travel.
    let small = big_message("just-fits@e2e.test", 50_000);
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(4),
        "big@internet.example",
        &["alice@example.com"],
        &small,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    let m = w
        .sink
        .wait_for_message_id("just-fits@e2e.test", SOON)
        .expect("50 KB message delivered");
    assert_eq!(m.without_added_trace(), small.as_slice());
    control_message_arrives(&w, 5, "after-oversize@e2e.test");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("too-big@e2e.test")),
        "the oversize message was delivered"
    );
}

#[test]
fn too_many_recipients_get_452_4_5_3_and_the_rest_is_delivered() {
    let w = World::start();
    tight_policy(&w);
    let rcpts = [
        "r1@example.com",
        "r2@example.com",
        "r3@example.com",
        "r4@example.com",
    ];
    let msg = simple_message(
        "many@internet.example",
        "r1@example.com",
        "four-rcpts@e2e.test",
        "hi",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(3),
        "many@internet.example",
        &rcpts,
        &msg,
        &[],
    );
    let rcpt_codes: Vec<Option<u16>> = res
        .iter()
        .filter(|r| r.op == "rcpt")
        .map(|r| r.code)
        .collect();
    assert_eq!(
        rcpt_codes,
        [Some(250), Some(250), Some(250), Some(452)],
        "max 3 recipients: {res:?}"
    );
    let fourth = res
        .iter()
        .filter(|r| r.op == "rcpt")
        .nth(3)
        .expect("4th RCPT");
    assert!(
        fourth.text.starts_with("4.5.3"),
        "enhanced status 4.5.3: {fourth:?}"
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );

    let m = w
        .sink
        .wait_for_message_id("four-rcpts@e2e.test", SOON)
        .expect("delivered to the accepted three");
    let mut got = m.rcpts.clone();
    got.sort();
    assert_eq!(got, ["r1@example.com", "r2@example.com", "r3@example.com"]);
}

#[test]
fn command_line_over_512_octets_gets_500_5_5_2_and_session_continues() {
    let w = World::start();
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(3), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220);
    assert_eq!(conn.ehlo("long.e2e.test").expect("EHLO").code, 250);

    let long = format!("MAIL FROM:<{}@internet.example>", "a".repeat(600 - 28));
    assert!(long.len() > 512, "{}", long.len());
    let r = conn.cmd(&long).expect("reply to the long line");
    assert_eq!(r.code, 500, "line over 512 octets: {r}");
    assert!(r.text().starts_with("5.5.2"), "enhanced status 5.5.2: {r}");

    // The session is still usable for a good transaction.
    let r = conn.cmd("MAIL FROM:<ok@internet.example>").expect("MAIL");
    assert_eq!(r.code, 250, "good MAIL after the long line: {r}");
    let r = conn.cmd("RCPT TO:<alice@example.com>").expect("RCPT");
    assert_eq!(r.code, 250, "{r}");
    let r = conn.cmd("DATA").expect("DATA");
    assert_eq!(r.code, 354, "{r}");
    let msg = simple_message(
        "ok@internet.example",
        "alice@example.com",
        "after-long-line@e2e.test",
        "ok",
    );
    conn.send_raw(&msg).expect("message");
    conn.send_raw(b".\r\n").expect("end of data");
    let r = conn.read_reply().expect("reply to end of data");
    assert_eq!(r.code, 250, "{r}");
    assert_eq!(conn.cmd("QUIT").expect("QUIT").code, 221);
    let m = w
        .sink
        .wait_for_message_id("after-long-line@e2e.test", SOON)
        .expect("delivered");
    assert_eq!(m.without_added_trace(), msg.as_slice());
}

#[test]
fn blocked_list_client_gets_554_and_others_are_served() {
    let w = World::start();
    let blocked = w.net.client(66);
    let blocked_s = blocked.to_string();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "new",
        "sendergroup",
        "BLOCKED_LIST",
        &blocked_s,
        "--policy",
        "BLOCKED",
    ]);
    w.gw.cli_ok(&["commit", "e2e: block 127.5.n.66"]);

    let (mut conn, banner) = SmtpConn::connect(blocked, w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 554, "BLOCKED_LIST client at connect: {banner}");
    // Whatever it says next, it must not take a message.
    if let Ok(r) = conn.ehlo("blocked.e2e.test")
        && r.code == 250
        && let Ok(r) = conn.cmd("MAIL FROM:<x@internet.example>")
    {
        assert_ne!(r.code, 250, "blocked client may start a transaction");
    }
    w.gw.wait_for_log(
        &format!(
            r"ICID \d+ REJECT SG BLOCKED_LIST match {} ",
            regex::escape(&blocked_s)
        ),
        SOON,
    );
    control_message_arrives(&w, 67, "after-blocked@e2e.test");
}

#[test]
fn bare_lf_in_data_is_refused_and_nothing_is_delivered() {
    let w = World::start();
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(3), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220);
    assert_eq!(conn.ehlo("lf.e2e.test").expect("EHLO").code, 250);
    conn.start_data("lf@internet.example", "alice@example.com");
    // A bare LF in the body, and a bare-LF "end of data" that must not end
    // anything (SMTP smuggling), then the real end.
    conn.send_raw(
        b"From: <lf@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <bare-lf@e2e.test>\r\n\r\nline one\nline two\r\n\n.\nMAIL FROM:<smuggled@internet.example>\r\n.\r\n",
    )
    .expect("data");
    let r = conn.read_reply().expect("reply to end of data");
    assert!(
        (500..600).contains(&r.code),
        "strict CR/LF: bare LF in DATA must be refused with 5xx, got {r}"
    );
    let _ = conn.cmd("QUIT");

    control_message_arrives(&w, 4, "after-bare-lf@e2e.test");
    let msgs = w.sink.messages();
    assert_eq!(
        msgs.len(),
        1,
        "only the control message may arrive: {:?}",
        msgs.iter().map(|m| m.message_id()).collect::<Vec<_>>()
    );
}

#[test]
fn connections_over_the_per_ip_limit_get_421_4_7_0() {
    let w = World::start();
    let crowd = w.net.client(20);
    // ACCEPTED allows 10 concurrent connections per IP.
    let mut held = Vec::new();
    for i in 0..10 {
        let (conn, banner) = SmtpConn::connect(crowd, w.net.data1_smtp())
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(
            banner.code, 220,
            "connection {i} within the limit: {banner}"
        );
        held.push(conn);
    }
    let (_conn, banner) = SmtpConn::connect(crowd, w.net.data1_smtp()).expect("11th connect");
    assert_eq!(banner.code, 421, "11th connection from one IP: {banner}");
    assert!(
        banner.text().starts_with("4.7.0"),
        "enhanced status 4.7.0: {banner}"
    );

    // Another host is unaffected.
    control_message_arrives(&w, 21, "other-host@e2e.test");
    // Released connections free the slots.
    for mut c in held.drain(..) {
        let _ = c.cmd("QUIT");
    }
    let again = breakwater_e2e::wait_until(SOON, || {
        let (mut c, b) = SmtpConn::connect(crowd, w.net.data1_smtp()).ok()?;
        let _ = c.cmd("QUIT");
        (b.code == 220).then_some(())
    });
    assert!(again.is_some(), "slots not released after QUIT");
}
