//! Bounce Verification end to end (`bvconfig`, issue 17): mail relayed
//! outward from Microsoft 365 leaves with a `prvs=` tagged envelope
//! sender; a bounce coming back to that address is accepted and delivered
//! to the original user; a forged bounce to an untagged address, or to one
//! tagged with a purged key, is refused at RCPT (or flagged, per the
//! setting).

use breakwater_e2e::{Dns, SOON, TestNet, World, mid_in_reply, simple_message, smtplib};
use regex::{Regex, escape};

/// The "internet" domain outbound mail goes to; routed to the sink.
const PARTNER: &str = "partner.example";

/// A world where client .10 is a forward-confirmed Microsoft 365 outbound
/// host allowed to relay through Data 2, with a tagging key, tagging on
/// for the default destination, and `extra` bvconfig commands.
fn tagging_world(extra: &[&[&str]]) -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", net.client(10))
        .start();
    let w = World::with_dns(net, dns);
    w.relay_for_microsoft_365_to_sink(PARTNER);
    w.gw.cli_ok(&["bvconfig", "new", "e2e tagging key number one"]);
    w.gw.cli_ok(&["bvconfig", "tagging", "default", "on"]);
    for args in extra {
        w.gw.cli_ok(args);
    }
    w.gw.cli_ok(&["commit", "e2e: bounce verification"]);
    w
}

/// Sends `from` → `to` through `smtp` from `client`; the RCPT and DATA
/// replies.
fn send(
    smtp: std::net::SocketAddrV4,
    client: std::net::Ipv4Addr,
    from: &str,
    to: &str,
    id: &str,
) -> (smtplib::StepResult, Option<smtplib::StepResult>) {
    let header_from = if from.is_empty() {
        "MAILER-DAEMON@partner.example"
    } else {
        from
    };
    let msg = simple_message(header_from, to, id, "bounce verification");
    let res = smtplib::send(smtp, client, from, &[to], &msg, &[]);
    let rcpt = smtplib::find(&res, "rcpt")
        .unwrap_or_else(|| panic!("no RCPT step: {res:?}"))
        .clone();
    (rcpt, smtplib::find(&res, "data").cloned())
}

/// Relays one message from alice@example.com outward; the envelope sender
/// the next hop saw.
fn relay_out(w: &World, id: &str) -> String {
    let to = format!("bob@{PARTNER}");
    let (_, data) = send(
        w.net.data2_smtp(),
        w.net.client(10),
        "alice@example.com",
        &to,
        id,
    );
    let data = data.expect("DATA step");
    assert_eq!(data.code, Some(250), "{data:?}");
    let mid = mid_in_reply(&data.text).expect("MID");
    let m = w
        .sink
        .wait_for_message_id(id, SOON)
        .expect("relayed message reaches the next hop");
    w.gw.wait_for_log(
        &format!(
            "MID {mid} bounce verification tag added for {}: <{}>",
            escape(PARTNER),
            escape(&m.mail_from)
        ),
        SOON,
    );
    m.mail_from
}

#[test]
fn outgoing_mail_is_tagged_and_only_tagged_bounces_come_back() {
    let w = tagging_world(&[]);
    let tagged = relay_out(&w, "bv-out@e2e.test");
    let form = Regex::new(r"^prvs=[0-9]{4}[0-9a-f]{6}=alice@example\.com$").expect("regex");
    assert!(
        form.is_match(&tagged),
        "MAIL FROM at the next hop: {tagged}"
    );

    // The partner's DSN to the tagged address reaches alice herself.
    let (rcpt, data) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        &tagged,
        "bv-dsn@e2e.test",
    );
    assert_eq!(rcpt.code, Some(250), "{rcpt:?}");
    assert_eq!(data.and_then(|d| d.code), Some(250));
    let dsn = w
        .sink
        .wait_for_message_id("bv-dsn@e2e.test", SOON)
        .expect("the bounce is delivered");
    assert_eq!(dsn.rcpts, ["alice@example.com"]);
    assert_eq!(dsn.mail_from, "");
    w.gw.wait_for_log(
        &format!(
            r"rcpt address <{}> bounce verification tag valid, rewritten to <alice@example\.com>",
            escape(&tagged)
        ),
        SOON,
    );

    // A forged bounce to the untagged address is refused at RCPT.
    let (rcpt, _) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        "alice@example.com",
        "bv-forged@e2e.test",
    );
    assert_eq!(rcpt.code, Some(550), "{rcpt:?}");
    assert_eq!(rcpt.text, "5.7.1 Bounce verification failed");
    let line = w.gw.wait_for_log(
        r"MID \d+ ICID \d+ invalid bounce, rcpt address <alice@example\.com> rejected by bounce verification\.",
        SOON,
    );
    // Message tracking shows the refusal.
    let mid = Regex::new(r"MID (\d+) ICID")
        .expect("regex")
        .captures(&line)
        .map(|c| c[1].to_string())
        .expect("MID");
    let tracked = w.gw.cli_ok(&["findevent", "--mid", &mid]);
    assert!(
        tracked.contains(
            "invalid bounce, rcpt address <alice@example.com> rejected by bounce verification."
        ),
        "{tracked}"
    );
    // Mail with a sender to the same address is not a bounce: accepted.
    let (rcpt, _) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        "alice@example.com",
        "bv-plain@e2e.test",
    );
    assert_eq!(rcpt.code, Some(250), "{rcpt:?}");

    // A new key replaces the first; purging the first makes its tags fail.
    w.gw.cli_ok(&["bvconfig", "new", "e2e tagging key number two"]);
    w.gw.cli_ok(&["commit", "e2e: second key"]);
    let (rcpt, _) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        &tagged,
        "bv-grace@e2e.test",
    );
    assert_eq!(
        rcpt.code,
        Some(250),
        "a replaced key keeps verifying: {rcpt:?}"
    );
    let purged = w.gw.cli_ok(&["bvconfig", "purge", "0"]);
    assert!(purged.contains("1 key(s)"), "{purged}");
    w.gw.cli_ok(&["commit", "e2e: purge"]);
    let (rcpt, _) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        &tagged,
        "bv-purged@e2e.test",
    );
    assert_eq!(rcpt.code, Some(550), "a purged key's tag: {rcpt:?}");
    let listed = w.gw.cli_ok(&["bvconfig"]);
    assert!(
        !listed.contains("e2e tagging key"),
        "keys are secrets: {listed}"
    );
    assert!(listed.contains("1. Key 1 (current)"), "{listed}");
}

#[test]
fn invalid_bounces_can_be_flagged_and_untagged_ones_allowed_per_policy() {
    let w = tagging_world(&[&["bvconfig", "setup", "header", "X-Invalid-Bounce", "forged"]]);
    let (rcpt, data) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        "carol@example.com",
        "bv-flagged@e2e.test",
    );
    assert_eq!(rcpt.code, Some(250), "{rcpt:?}");
    assert_eq!(data.and_then(|d| d.code), Some(250));
    let m = w
        .sink
        .wait_for_message_id("bv-flagged@e2e.test", SOON)
        .expect("the flagged bounce is delivered");
    assert_eq!(m.header("X-Invalid-Bounce").as_deref(), Some("forged"));
    w.gw.wait_for_log(
        r"invalid bounce, rcpt address <carol@example\.com> flagged by bounce verification\.",
        SOON,
    );

    // Back to rejecting, but the ACCEPTED policy considers untagged
    // bounces valid: the same bounce passes, unflagged.
    w.gw.cli_ok(&["bvconfig", "setup", "reject"]);
    w.gw.cli_ok(&["bvconfig", "untagged", "IncomingMail", "ACCEPTED", "valid"]);
    w.gw.cli_ok(&["commit", "e2e: untagged bounces valid"]);
    let (rcpt, _) = send(
        w.net.data1_smtp(),
        w.net.client(7),
        "",
        "carol@example.com",
        "bv-untagged@e2e.test",
    );
    assert_eq!(rcpt.code, Some(250), "{rcpt:?}");
    let m = w
        .sink
        .wait_for_message_id("bv-untagged@e2e.test", SOON)
        .expect("delivered");
    assert_eq!(m.header("X-Invalid-Bounce"), None);
}
