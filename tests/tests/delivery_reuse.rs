//! Delivery connection reuse (issue 19): a steady trickle of messages to one
//! next hop, each sent once the one before arrived, goes over cached
//! connections instead of a connection per message. The next hop is a real
//! Postfix (`127.4.n.x:2525`, Maildir delivery); its smtpd log says how
//! many sessions it saw and how many messages each carried.
//!
//! ```text
//! smtproutes new postfix.test 127.4.n.x:2525
//! listenerconfig edit IncomingMail rcptaccess new postfix.test accept
//! deliveryconfig setup --connection-cache-secs 60
//! commit
//! ```

use std::time::Duration;

use breakwater_e2e::{
    Postfix, PostfixBuilder, World, mid_in_reply, mx_ip, simple_message, smtplib,
};

const DOMAIN: &str = "postfix.test";
const SENDER: &str = "sender@internet.example";

/// Upper bound for anything in these tests; they normally take seconds.
const WAIT: Duration = Duration::from_secs(60);

/// How many messages the trickle sends.
const TRICKLE: usize = 12;

/// The day-one world, a Postfix for [`DOMAIN`] routed and accepted on
/// Data 1, and the connection cache set to `cache_secs` (long enough for a
/// debug build under load never to expire between two messages of the
/// trickle: what is measured is reuse, not the timer).
fn world_with_postfix(
    x: u8,
    build: impl FnOnce(PostfixBuilder) -> PostfixBuilder,
    cache_secs: u32,
) -> (World, Postfix) {
    let w = World::start();
    let pf = build(Postfix::builder(mx_ip(&w.net, x), DOMAIN).mailbox("bob")).start();
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
    w.gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--connection-cache-secs",
        &cache_secs.to_string(),
    ]);
    w.gw.cli_ok(&["commit", "e2e: connection reuse"]);
    (w, pf)
}

/// Sends message `n` of the trickle to Data 1, waits until Postfix stored
/// it, and returns its MID.
fn send_and_wait(w: &World, pf: &Postfix, n: usize) -> u64 {
    let id = format!("reuse-{n}@e2e.test");
    let to = format!("bob@{DOMAIN}");
    let body = simple_message(SENDER, &to, &id, &format!("message {n} of the trickle"));
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(81),
        SENDER,
        &[to.as_str()],
        &body,
        &[],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("no DATA step: {res:?}"));
    assert_eq!(data.code, Some(250), "Data 1 refused the message: {res:?}");
    let mid = mid_in_reply(&data.text).unwrap_or_else(|| panic!("no MID in {:?}", data.text));
    if pf.wait_for_message_id("bob", &id, WAIT).is_none() {
        panic!(
            "message {n} (MID {mid}) never reached Postfix; Postfix log:\n{}\nmail log:\n{}",
            pf.log_tail(20),
            w.gw.mail_log()
        );
    }
    mid
}

/// Each message of the trickle is in the mailbox exactly once.
fn assert_each_once(pf: &Postfix) {
    let ids: Vec<String> = pf
        .mailbox("bob")
        .iter()
        .filter_map(|m| m.message_id())
        .collect();
    for n in 0..TRICKLE {
        let id = format!("reuse-{n}@e2e.test");
        let copies = ids.iter().filter(|i| **i == id).count();
        assert_eq!(copies, 1, "{id}: {copies} copies in {ids:?}");
    }
}

#[test]
fn a_steady_trickle_of_messages_shares_a_few_connections() {
    let (w, pf) = world_with_postfix(80, |b| b, 60);
    for n in 0..TRICKLE {
        send_and_wait(&w, &pf, n);
    }
    // A commit closes idle connections (with QUIT): Postfix then logs the
    // session's totals.
    w.gw.cli_ok(&["deliveryconfig", "setup", "--connection-cache-secs", "2"]);
    w.gw.cli_ok(&["commit", "e2e: close idle connections"]);
    let gateway = w.net.data2().to_string();
    let sessions = breakwater_e2e::wait_until(WAIT, || {
        let s: Vec<_> = pf
            .sessions()
            .into_iter()
            .filter(|s| s.client == gateway)
            .collect();
        let mails: u32 = s.iter().filter_map(|s| s.ok("mail")).sum();
        (mails as usize == TRICKLE).then_some(s)
    })
    .unwrap_or_else(|| panic!("Postfix did not log every session:\n{}", pf.log_tail(40)));
    assert!(
        sessions.len() <= 2,
        "{TRICKLE} messages took {} sessions: {sessions:?}",
        sessions.len()
    );
    // Each ended with QUIT, not a dropped connection or a timeout.
    assert!(
        sessions.iter().all(|s| s.ok("quit") == Some(1)),
        "{sessions:?}"
    );
    assert_each_once(&pf);
    assert!(
        w.gw.log_lines(r"Delayed:|Bounced:").is_empty(),
        "{}",
        w.gw.mail_log()
    );
}

#[test]
fn a_next_hop_that_closes_idle_connections_loses_and_delays_nothing() {
    // Postfix drops a client idle for a second (`421 4.4.2 ... Error:
    // timeout exceeded`); the gateway would keep the connection a minute.
    let (w, pf) = world_with_postfix(82, |b| b.postconf("smtpd_timeout=1s"), 60);
    for n in 0..TRICKLE {
        send_and_wait(&w, &pf, n);
        if n % 2 == 0 {
            // The next message comes after Postfix dropped the connection.
            let before = pf.log_lines("timeout after").len();
            breakwater_e2e::wait_until(WAIT, || {
                (pf.log_lines("timeout after").len() > before).then_some(())
            })
            .unwrap_or_else(|| panic!("Postfix kept the connection:\n{}", pf.log_tail(20)));
        }
    }
    assert_each_once(&pf);
    // Not one message was deferred or retried: every recipient has one
    // "Delivery start" and no "Delayed" line.
    assert!(
        w.gw.log_lines(r"Delayed:|Bounced:").is_empty(),
        "{}",
        w.gw.mail_log()
    );
}
