//! No open relay: the public listener relays only to RAT-accepted
//! recipients; the private listener only for hosts in a relay sender group,
//! matched on forward-confirmed reverse DNS.

use breakwater_e2e::{Dns, SOON, SmtpConn, TestNet, World, mid_in_reply, simple_message, smtplib};
use regex::escape;

/// Domain of the "internet" recipient in outbound tests; routed to the sink.
const PARTNER: &str = "partner.example";

#[test]
fn data1_refuses_foreign_recipient_from_unlisted_client_550_571() {
    let w = World::start();
    let msg = simple_message(
        "spammer@internet.example",
        "victim@foreign.example",
        "relay-attempt@e2e.test",
        "please relay me",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "spammer@internet.example",
        &["victim@foreign.example"],
        &msg,
        &[],
    );
    let rcpt = smtplib::find(&res, "rcpt").unwrap_or_else(|| panic!("no RCPT step: {res:?}"));
    assert_eq!(
        rcpt.code,
        Some(550),
        "foreign recipient must be refused: {res:?}"
    );
    assert!(
        rcpt.text.starts_with("5.7.1"),
        "enhanced status 5.7.1 expected: {:?}",
        rcpt.text
    );
    assert!(
        rcpt.text.contains("victim@foreign.example"),
        "the reply names the refused address: {:?}",
        rcpt.text
    );
    // With no accepted recipient the transaction cannot be accepted.
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_ne!(
        data.code,
        Some(250),
        "DATA without recipients accepted: {res:?}"
    );

    // A following legitimate message proves delivery works, and that the
    // refused one did not travel with it.
    let ok = simple_message(
        "friend@internet.example",
        "alice@example.com",
        "relay-control@e2e.test",
        "hello",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(8),
        "friend@internet.example",
        &["alice@example.com"],
        &ok,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    w.sink
        .wait_for_message_id("relay-control@e2e.test", SOON)
        .expect("control message delivered");
    let msgs = w.sink.messages();
    assert!(
        msgs.iter()
            .all(|m| !m.rcpts.iter().any(|r| r.ends_with("@foreign.example"))),
        "a foreign recipient reached the next hop: {msgs:?}"
    );
    assert!(
        msgs.iter()
            .all(|m| m.message_id().as_deref() != Some("relay-attempt@e2e.test")),
        "the refused message reached the next hop"
    );
}

/// DNS for the outbound tests: .10 is a real Microsoft 365 outbound host
/// (PTR and matching A), .11 claims to be one by PTR only, .12 is not one.
fn outbound_world() -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", net.client(10))
        .ptr_record(net.client(11), "fake.protection.outlook.com")
        .host_record("mail.evil.example", net.client(12))
        .start();
    let w = World::with_dns(net, dns);
    w.relay_for_microsoft_365_to_sink(PARTNER);
    w.gw.cli_ok(&["commit", "e2e: relay for Microsoft 365"]);
    w
}

#[test]
fn data2_relays_for_forward_confirmed_protection_outlook_client() {
    let w = outbound_world();
    let client = w.net.client(10);
    let to = format!("bob@{PARTNER}");
    let msg = simple_message(
        "alice@example.com",
        &to,
        "outbound-o365@e2e.test",
        "from M365",
    );
    let res = smtplib::send(
        w.net.data2_smtp(),
        client,
        "alice@example.com",
        &[&to],
        &msg,
        &[],
    );
    let connect = smtplib::find(&res, "connect").expect("connect step");
    assert_eq!(
        connect.code,
        Some(220),
        "relay host must be greeted: {res:?}"
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(
        data.code,
        Some(250),
        "relay host's mail must be accepted: {res:?}"
    );
    let mid = mid_in_reply(&data.text).expect("MID in 250");

    let m = w
        .sink
        .wait_for_message_id("outbound-o365@e2e.test", SOON)
        .expect("relayed message reaches the next hop");
    assert_eq!(
        m.client_addr,
        w.net.data2().to_string(),
        "the next hop sees the Data 2 address as the source"
    );
    assert_eq!(m.rcpts, [to.as_str()]);
    assert_eq!(m.without_added_trace(), msg.as_slice());

    // The log shows why: verified rDNS, RELAY_O365.
    w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 2 \({}\) address {} reverse dns host mail-eopbgr\.protection\.outlook\.com verified yes",
            escape(&w.net.data2().to_string()),
            escape(&client.to_string())
        ),
        SOON,
    );
    w.gw.wait_for_log(
        r"ICID \d+ RELAY SG RELAY_O365 match \S+ SBRS not enabled",
        SOON,
    );
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
}

/// Connects to Data 2 from `client` and expects to be turned away (554 at
/// connect, as ALL→BLOCKED does); if the gateway chose to refuse later, the
/// transaction must still fail. Either way nothing is delivered.
/// `verified` is what the log must say of the client's rDNS ("yes" or "no").
fn assert_refused_on_data2(w: &World, client: std::net::Ipv4Addr, why: &str, verified: &str) {
    let to = format!("bob@{PARTNER}");
    let id = format!("refused-{}@e2e.test", client.octets()[3]);
    let msg = simple_message("alice@example.com", &to, &id, why);
    let res = smtplib::send(
        w.net.data2_smtp(),
        client,
        "alice@example.com",
        &[&to],
        &msg,
        &[],
    );
    let connect = smtplib::find(&res, "connect").expect("connect step");
    assert_eq!(
        connect.code,
        Some(554),
        "{why}: client {client} must get 554 at connect (OutgoingMail ALL→BLOCKED): {res:?}"
    );
    assert!(
        res.iter().all(|r| !(r.op == "data" && r.code == Some(250))),
        "{why}: message accepted: {res:?}"
    );
    // The verified relay host is still served, and its mail is the only one
    // that arrives.
    let control_id = format!("control-{}@e2e.test", client.octets()[3]);
    let control = simple_message("alice@example.com", &to, &control_id, "control");
    let res = smtplib::send(
        w.net.data2_smtp(),
        w.net.client(10),
        "alice@example.com",
        &[&to],
        &control,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    w.sink
        .wait_for_message_id(&control_id, SOON)
        .expect("control message delivered");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some(id.as_str())),
        "{why}: refused client's message was relayed"
    );
    w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 2 \(\S+\) address {} reverse dns host \S+ verified {verified}",
            escape(&client.to_string())
        ),
        SOON,
    );
}

#[test]
fn data2_refuses_ptr_only_protection_outlook_name() {
    let w = outbound_world();
    // PTR says fake.protection.outlook.com, but that name has no A record
    // pointing back: not verified, so not RELAY_O365.
    assert_refused_on_data2(&w, w.net.client(11), "unverified PTR", "no");
}

#[test]
fn data2_refuses_client_with_other_rdns() {
    let w = outbound_world();
    // Forward-confirmed, but not a name RELAY_O365 lists.
    assert_refused_on_data2(&w, w.net.client(12), "rDNS mail.evil.example", "yes");
}

#[test]
fn data2_refuses_client_without_rdns() {
    let w = outbound_world();
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(13), w.net.data2_smtp()).expect("TCP connect to Data 2");
    assert_eq!(banner.code, 554, "no rDNS: 554 at connect, got {banner}");
    // Whatever it says next, it must not take a message.
    if let Ok(r) = conn.ehlo("nobody.example")
        && r.code == 250
        && let Ok(r) = conn.cmd("MAIL FROM:<alice@example.com>")
    {
        assert_ne!(r.code, 250, "blocked client may start a transaction");
    }
    w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 2 \(\S+\) address {} reverse dns host unknown verified no",
            escape(&w.net.client(13).to_string())
        ),
        SOON,
    );
}
