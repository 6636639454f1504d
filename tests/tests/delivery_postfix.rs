//! Delivery to a real Postfix as the next hop: internet → Data 1
//! (IncomingMail, the RAT accepts `postfix.test`) → SMTP route → a
//! throwaway Postfix instance on `127.4.n.x:2525` that delivers into
//! Maildirs. What Postfix stores must be what the client sent; Postfix's
//! own log shows the transaction and the TLS session the gateway made.

use std::time::Duration;

use breakwater_e2e::{
    Postfix, PostfixBuilder, SmtpConn, TestCert, World, mid_in_reply, mx_ip, simple_message,
    smtplib,
};
use regex::{Regex, escape};

/// The domain the Postfix instance serves.
const DOMAIN: &str = "postfix.test";
const SENDER: &str = "sender@internet.example";

/// Upper bound for anything in these tests; they normally take seconds.
const WAIT: Duration = Duration::from_secs(30);

/// The day-one world plus a Postfix on `127.4.n.x` for [`DOMAIN`], routed
/// and accepted on Data 1:
///
/// ```text
/// smtproutes new postfix.test 127.4.n.x:2525
/// listenerconfig edit IncomingMail rcptaccess new postfix.test accept
/// <extra>
/// commit
/// ```
///
/// Callers write `let (w, pf) = ...`: locals drop in reverse order, so
/// Postfix stops before the world (and its address slot) goes away.
fn world_with_postfix(
    x: u8,
    build: impl FnOnce(PostfixBuilder) -> PostfixBuilder,
    extra: &[&[&str]],
) -> (World, Postfix) {
    let w = World::start();
    let pf = build(Postfix::builder(mx_ip(&w.net, x), DOMAIN)).start();
    let route = pf.route();
    w.gw.cli_ok(&["smtproutes", "new", DOMAIN, &route]);
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        DOMAIN,
        "accept",
    ]);
    for cmd in extra {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: Postfix next hop"]);
    (w, pf)
}

/// Sends `body` from client `127.5.n.x` to Data 1 and returns the MID.
fn send_to_data1(w: &World, x: u8, rcpts: &[&str], body: &[u8]) -> u64 {
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(x),
        SENDER,
        rcpts,
        body,
        &["BODY=8BITMIME"],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("no DATA step: {res:?}"));
    assert_eq!(data.code, Some(250), "Data 1 refused the message: {res:?}");
    mid_in_reply(&data.text).unwrap_or_else(|| panic!("no MID in {:?}", data.text))
}

/// A message with what trips careless relays: dot lines (sent stuffed,
/// stored unstuffed), a line of dots, trailing spaces, a folded header,
/// 8-bit text, an empty body line, a long (but < 998 octets) line.
fn tricky_message(to: &str, message_id: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: Sender <sender@internet.example>\r\n");
    m.extend_from_slice(format!("To: <{to}>\r\n").as_bytes());
    m.extend_from_slice(b"Date: Tue, 24 Nov 2026 01:02:03 +0000\r\n");
    m.extend_from_slice(format!("Message-ID: <{message_id}>\r\n").as_bytes());
    m.extend_from_slice(b"Subject: to Postfix, byte for byte\r\n");
    m.extend_from_slice(b"X-Folded: first part\r\n\tsecond part\r\n");
    m.extend_from_slice(b"MIME-Version: 1.0\r\n");
    m.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    m.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n");
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice("Grüße aus Köln — 東京\r\n".as_bytes());
    m.extend_from_slice(b".a line that starts with a dot\r\n");
    m.extend_from_slice(b"..two dots\r\n");
    m.extend_from_slice(b"...\r\n");
    m.extend_from_slice(b"trailing spaces   \r\n");
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice("y".repeat(900).as_bytes());
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice(b"-- \r\nSender\r\n");
    m
}

/// The queue ID in the gateway's `MID <m> RID [...] Response '250 2.0.0 Ok:
/// queued as <id>'` line: Postfix's name for the same message.
fn postfix_queue_id(w: &World, mid: u64) -> String {
    let line =
        w.gw.wait_for_log(&format!(r"MID {mid} RID \[[0-9, ]+\] Response '250 "), WAIT);
    Regex::new(r"queued as ([0-9A-Za-z]+)")
        .expect("regex")
        .captures(&line)
        .unwrap_or_else(|| panic!("Postfix's 250 reply names no queue ID: {line}"))[1]
        .to_string()
}

/// Postfix had nothing to complain about: no warnings, no protocol
/// errors, no dropped or timed-out sessions, no command sent ahead of
/// time where SMTP does not allow it.
fn assert_postfix_content(pf: &Postfix) {
    let bad: Vec<String> = pf
        .log_lines(
            r"(warning|error|fatal|panic): |improper command pipelining|lost connection|timeout after",
        )
        .into_iter()
        // cleanup's note about this machine's clocks under load (the file
        // system's time stamps vs the local clock), not about the session.
        .filter(|l| {
            !l.contains("file system clock is") && !l.contains("resetting file time stamps")
        })
        .collect();
    assert!(bad.is_empty(), "Postfix complained:\n{}", bad.join("\n"));
}

#[test]
fn postfix_next_hop_stores_the_message_byte_for_byte() {
    let (w, pf) = world_with_postfix(70, |b| b.mailbox("bob"), &[]);
    let rcpt = format!("bob@{DOMAIN}");
    let body = tricky_message(&rcpt, "postfix-bytes@e2e.test");
    let mid = send_to_data1(&w, 3, &[&rcpt], &body);

    let m = pf
        .wait_for_message_id("bob", "postfix-bytes@e2e.test", WAIT)
        .unwrap_or_else(|| {
            panic!(
                "the message never reached Postfix's mailbox; Postfix log:\n{}",
                pf.log_tail(20)
            )
        });
    assert!(
        m.without_added_trace() == body.as_slice(),
        "Postfix must store what the client sent, apart from trace headers ({}):\n sent: {:?}\n got:  {:?}",
        m.file.display(),
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(m.without_added_trace())
    );
    assert_eq!(m.return_path().as_deref(), Some(SENDER), "envelope sender");
    assert_eq!(
        m.delivered_to().as_deref(),
        Some(rcpt.as_str()),
        "envelope recipient"
    );
    // Newest first: Postfix's own, then the gateway's.
    let received = m.leading_received();
    assert!(
        received.len() >= 2,
        "expected Postfix's and the gateway's Received: headers: {received:?}"
    );
    let data2 = w.net.data2().to_string();
    assert!(
        received[0].contains(&format!("[{data2}]")) && received[0].contains("(Postfix)"),
        "Postfix's Received: should name the gateway's Data 2 address {data2}: {}",
        received[0]
    );

    // Both sides agree on which message this was.
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), WAIT);
    let qid = postfix_queue_id(&w, mid);
    let entries = pf.queue_entries();
    let entry = entries
        .iter()
        .find(|e| e.queue_id == qid)
        .unwrap_or_else(|| panic!("Postfix's log has no queue entry {qid}: {entries:?}"));
    assert_eq!(entry.from, SENDER);
    assert_eq!(entry.nrcpt, 1);
    pf.wait_for_log(
        &format!(
            r"postfix/virtual\[\d+\]: {qid}: to=<{}>, .*status=sent \(delivered to maildir\)",
            escape(&rcpt)
        ),
        WAIT,
    );
    assert_postfix_content(&pf);
}

#[test]
fn three_recipients_go_to_postfix_in_one_pipelined_transaction() {
    let (w, pf) = world_with_postfix(
        71,
        |b| b.mailbox("bob").mailbox("carol").mailbox("dave"),
        &[],
    );
    // The premise: Postfix offers PIPELINING (and, through
    // smtpd_data_restrictions = reject_unauth_pipelining, refuses DATA
    // from a client that talks ahead without it).
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(9), pf.addr()).expect("connect to Postfix");
    assert_eq!(banner.code, 220, "{banner}");
    let ehlo = conn.ehlo("probe.e2e.test").expect("EHLO to Postfix");
    assert!(
        ehlo.lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("PIPELINING")),
        "Postfix does not offer PIPELINING: {ehlo}"
    );
    let _ = conn.cmd("QUIT");
    drop(conn);

    let rcpts: Vec<String> = ["bob", "carol", "dave"]
        .iter()
        .map(|u| format!("{u}@{DOMAIN}"))
        .collect();
    let rcpt_refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let body = simple_message(
        SENDER,
        &rcpts.join(">, <"),
        "postfix-three@e2e.test",
        "one message, three recipients",
    );
    let mid = send_to_data1(&w, 4, &rcpt_refs, &body);

    for user in ["bob", "carol", "dave"] {
        let m = pf
            .wait_for_message_id(user, "postfix-three@e2e.test", WAIT)
            .unwrap_or_else(|| {
                panic!(
                    "{user}'s mailbox never got the message; Postfix log:\n{}",
                    pf.log_tail(30)
                )
            });
        assert!(
            m.without_added_trace() == body.as_slice(),
            "{user}: not byte-for-byte:\n{}",
            String::from_utf8_lossy(m.without_added_trace())
        );
    }
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), WAIT);

    // One queue file with three recipients at Postfix, and it is the one
    // the gateway's single 250 reply named.
    let qid = postfix_queue_id(&w, mid);
    let entries: Vec<_> = pf
        .queue_entries()
        .into_iter()
        .filter(|e| e.from == SENDER)
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "the message should be one Postfix queue entry: {entries:?}"
    );
    assert_eq!(entries[0].nrcpt, 3, "{entries:?}");
    assert_eq!(entries[0].queue_id, qid);

    // The gateway's session: one MAIL, three RCPTs, one DATA, all accepted.
    let data2 = w.net.data2().to_string();
    pf.wait_for_log(
        &format!(
            r"postfix/smtpd\[\d+\]: disconnect from [^\[]*\[{}\]",
            escape(&data2)
        ),
        WAIT,
    );
    let sessions: Vec<_> = pf
        .sessions()
        .into_iter()
        .filter(|s| s.client == data2)
        .collect();
    assert_eq!(
        sessions.len(),
        1,
        "one connection from the gateway: {sessions:?}"
    );
    let s = &sessions[0];
    assert_eq!(
        (s.ok("mail"), s.ok("rcpt"), s.ok("data")),
        (Some(1), Some(3), Some(1)),
        "the gateway's session at Postfix: {s:?}"
    );
    // And the gateway logged it as one delivery of RIDs 0, 1 and 2.
    let starts =
        w.gw.log_lines(&format!(r"Delivery start DCID \d+ MID {mid} to RID"));
    assert_eq!(
        starts.len(),
        1,
        "one delivery attempt for MID {mid}: {starts:?}"
    );
    assert!(starts[0].ends_with("to RID [0, 1, 2]"), "{}", starts[0]);
    assert_postfix_content(&pf);
}

#[test]
fn tls_preferred_negotiates_starttls_with_postfix() {
    let cert = TestCert::self_signed(&format!("mx.{DOMAIN}"));
    let (w, pf) = world_with_postfix(
        72,
        |b| b.mailbox("erin").starttls(&cert),
        &[&["destconfig", "new", DOMAIN, "--use_tls", "preferred"]],
    );
    let rcpt = format!("erin@{DOMAIN}");
    let body = tricky_message(&rcpt, "postfix-tls@e2e.test");
    let mid = send_to_data1(&w, 5, &[&rcpt], &body);

    let m = pf
        .wait_for_message_id("erin", "postfix-tls@e2e.test", WAIT)
        .unwrap_or_else(|| {
            panic!(
                "the message never reached Postfix's mailbox; Postfix log:\n{}",
                pf.log_tail(20)
            )
        });
    assert!(
        m.without_added_trace() == body.as_slice(),
        "not byte-for-byte over TLS:\n{}",
        String::from_utf8_lossy(m.without_added_trace())
    );
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), WAIT);

    // The gateway: a TLS session on the connection to this Postfix.
    let ip = escape(&pf.addr().ip().to_string());
    let port = pf.addr().port();
    let new = w.gw.wait_for_log(
        &format!(r"New SMTP DCID \d+ interface \S+ address {ip} port {port}"),
        WAIT,
    );
    let dcid: u64 = Regex::new(r"DCID (\d+)")
        .expect("regex")
        .captures(&new)
        .expect("DCID")[1]
        .parse()
        .expect("number");
    let ok = w.gw.wait_for_log(
        &format!(r"DCID {dcid} TLS success protocol TLSv1\.[23] cipher [A-Za-z0-9_-]+$"),
        WAIT,
    );
    let gw_tls = Regex::new(r"protocol (\S+) cipher (\S+)$")
        .expect("regex")
        .captures(&ok)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .expect("protocol and cipher");
    assert!(
        w.gw.log_lines(&format!(r"DCID {dcid} TLS failed"))
            .is_empty(),
        "TLS failed on DCID {dcid}"
    );

    // Postfix: the same session, seen from its side.
    let data2 = escape(&w.net.data2().to_string());
    let line = pf.wait_for_log(
        &format!(
            r"postfix/smtpd\[\d+\]: Anonymous TLS connection established from [^\[]*\[{data2}\]: "
        ),
        WAIT,
    );
    let pf_tls = Regex::new(r": (TLSv1\.[23]) with cipher (\S+)")
        .expect("regex")
        .captures(&line)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .unwrap_or_else(|| panic!("no protocol/cipher in Postfix's line: {line}"));
    assert_eq!(
        gw_tls, pf_tls,
        "the gateway and Postfix disagree on protocol and cipher"
    );
    // The message itself went over that session.
    let received = m.leading_received();
    assert!(
        received
            .first()
            .is_some_and(|r| r.contains(&format!("(using {} with cipher {}", pf_tls.0, pf_tls.1))),
        "Postfix's Received: does not say the message came over TLS: {received:?}"
    );
    pf.wait_for_log(
        &format!(r"disconnect from [^\[]*\[{data2}\] .*starttls=1 .*data=1"),
        WAIT,
    );
    assert_postfix_content(&pf);
}
