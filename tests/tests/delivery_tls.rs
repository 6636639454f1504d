//! Outbound TLS per destination control, against a scripted next hop that
//! offers no STARTTLS, breaks the handshake, or completes it with a
//! certificate made by `openssl` for the test.
//!
//! TLS Required never sends the message in plain text: the peer must see
//! no MAIL command, and when the bounce profile's time is up the sender
//! gets a DSN. Preferred falls back to plain text.

use breakwater_e2e::{
    Dns, Outgoing, SOON, Script, ScriptedServer, TestCert, TestNet, World,
    allow_loopback_next_hops, allow_relay_from_clients, mx_ip, send_batch,
};

const SENDER: &str = "alice@example.com";

fn world_with(net: TestNet, dns: Dns, setup: &[Vec<&str>]) -> World {
    let w = World::with_dns(net, dns);
    // The mail exchangers of these tests listen on loopback.
    allow_loopback_next_hops(&w.gw);
    allow_relay_from_clients(&w);
    for cmd in setup {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: outbound TLS"]);
    w
}

/// No transaction at all reached `server`: nothing was sent in plain text.
fn assert_no_mail(server: &ScriptedServer, why: &str) {
    let mails = server.events_named("mail");
    assert!(
        mails.is_empty(),
        "{why}: the next hop saw MAIL FROM (the message left without TLS): {mails:?}"
    );
}

#[test]
fn tls_required_never_sends_plain_text_then_bounces_with_a_dsn() {
    let net = TestNet::new();
    let (plain_ip, broken_ip) = (mx_ip(&net, 50), mx_ip(&net, 51));
    let dns = Dns::builder(&net)
        .mx("plain.test", "mx.plain.test", 10)
        .host_record("mx.plain.test", plain_ip)
        .mx("broken.test", "mx.broken.test", 10)
        .host_record("mx.broken.test", broken_ip)
        .start();
    let w = world_with(
        net,
        dns,
        &[
            vec![
                "bounceconfig",
                "new",
                "quick",
                "--max_queue_lifetime",
                "6",
                "--initial_retry",
                "1",
                "--max_retry_timeout",
                "1",
            ],
            vec![
                "destconfig",
                "new",
                "plain.test",
                "--use_tls",
                "required",
                "--bounce_profile",
                "quick",
            ],
            vec![
                "destconfig",
                "new",
                "broken.test",
                "--use_tls",
                "required",
                "--bounce_profile",
                "quick",
            ],
        ],
    );
    // One peer does not offer STARTTLS; the other offers it and then
    // answers the handshake with garbage.
    let plain = Script::new(plain_ip, "mx.plain.test").start();
    let broken = Script::new(broken_ip, "mx.broken.test")
        .broken_starttls()
        .start();

    let mids = send_batch(
        &w,
        30,
        &[
            Outgoing::new(SENDER, &["bob@plain.test"], "tls-required-plain@e2e.test"),
            Outgoing::new(
                SENDER,
                &["carol@broken.test"],
                "tls-required-broken@e2e.test",
            ),
        ],
    );
    for (domain, mid) in [("plain\\.test", mids[0]), ("broken\\.test", mids[1])] {
        w.gw.wait_for_log(
            &format!(
                r"DCID \d+ TLS was required but could not be successfully negotiated for {domain}"
            ),
            SOON,
        );
        w.gw.wait_for_log(&format!(r"Message {mid} to RID \[0\] pending till"), SOON);
    }
    // It keeps trying (with TLS) until the profile's 6 s are up, then bounces.
    for mid in &mids {
        w.gw.wait_for_log(
            &format!(r"Bounced: DCID 0 MID {mid} to RID 0 - 5\.4\.7 - Delivery expired"),
            SOON,
        );
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
        w.gw.wait_for_log(
            &format!(r"MID \d+ was generated for bounce of MID {mid}\b"),
            SOON,
        );
    }
    assert!(
        plain.events_named("ehlo").len() >= 2,
        "the gateway did not retry the plain-only peer: {}",
        plain.event_tail(20)
    );
    assert!(
        !broken.events_named("starttls").is_empty(),
        "the gateway never tried STARTTLS with the peer that offers it"
    );
    assert_no_mail(&plain, "TLS required, peer without STARTTLS");
    assert_no_mail(&broken, "TLS required, handshake failed");

    // The sender hears about both, at her own next hop.
    let dsns = w.sink.wait_for(2, SOON);
    for rcpt in ["bob@plain.test", "carol@broken.test"] {
        let dsn = dsns
            .iter()
            .find(|m| {
                String::from_utf8_lossy(&m.raw)
                    .contains(&format!("Final-Recipient: rfc822; {rcpt}"))
            })
            .unwrap_or_else(|| panic!("no DSN for {rcpt}: {dsns:?}"));
        assert_eq!(dsn.mail_from, "");
        assert_eq!(dsn.rcpts, [SENDER]);
        let text = String::from_utf8_lossy(&dsn.raw);
        assert!(
            text.contains("Status: 5.4.7") && text.contains("Action: failed"),
            "DSN for {rcpt}:\n{text}"
        );
    }
    // Still nothing in plain text after the bounce.
    assert_no_mail(&plain, "TLS required, after the bounce");
    assert_no_mail(&broken, "TLS required, after the bounce");
}

#[test]
fn tls_preferred_falls_back_to_plain_text_when_the_handshake_fails() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 52);
    let dns = Dns::builder(&net)
        .mx("pref.test", "mx.pref.test", 10)
        .host_record("mx.pref.test", ip)
        .start();
    let w = world_with(
        net,
        dns,
        &[vec![
            "destconfig",
            "new",
            "pref.test",
            "--use_tls",
            "preferred",
        ]],
    );
    let server = Script::new(ip, "mx.pref.test").broken_starttls().start();
    let mid = send_batch(
        &w,
        31,
        &[Outgoing::new(
            SENDER,
            &["dan@pref.test"],
            "tls-preferred@e2e.test",
        )],
    )[0];
    server.wait_for_accepted(1, SOON);
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    w.gw.wait_for_log(r"DCID \d+ TLS failed", SOON);
    let conns = server.connections();
    assert!(
        conns.first().is_some_and(|c| c.starttls && c.mails == 0),
        "the first connection should try STARTTLS and send nothing: {conns:?}"
    );
    assert_eq!(server.accepted_ids(), ["tls-preferred@e2e.test"]);
    assert!(
        w.gw.log_lines(r"TLS was required").is_empty(),
        "Preferred is not Required"
    );
}

/// A real handshake: Required delivers over TLS and logs protocol and
/// cipher; Required (Verify) refuses the same kind of self-signed
/// certificate (no trusted chain) and never falls back to plain text.
#[test]
fn tls_required_delivers_over_tls_but_verify_refuses_an_untrusted_certificate() {
    let net = TestNet::new();
    let (ok_ip, verify_ip) = (mx_ip(&net, 53), mx_ip(&net, 54));
    let dns = Dns::builder(&net)
        .mx("tlsok.test", "mx.tlsok.test", 10)
        .host_record("mx.tlsok.test", ok_ip)
        .mx("tlsverify.test", "mx.tlsverify.test", 10)
        .host_record("mx.tlsverify.test", verify_ip)
        .start();
    let w = world_with(
        net,
        dns,
        &[
            vec!["destconfig", "new", "tlsok.test", "--use_tls", "required"],
            vec![
                "destconfig",
                "new",
                "tlsverify.test",
                "--use_tls",
                "required-verify",
            ],
        ],
    );
    let ok_cert = TestCert::self_signed("mx.tlsok.test");
    let verify_cert = TestCert::self_signed("mx.tlsverify.test");
    let ok = Script::new(ok_ip, "mx.tlsok.test")
        .starttls(&ok_cert)
        .start();
    let verify = Script::new(verify_ip, "mx.tlsverify.test")
        .starttls(&verify_cert)
        .start();

    let mids = send_batch(
        &w,
        32,
        &[
            Outgoing::new(SENDER, &["erin@tlsok.test"], "tls-ok@e2e.test"),
            Outgoing::new(SENDER, &["fred@tlsverify.test"], "tls-verify@e2e.test"),
        ],
    );
    let accepted = ok.wait_for_accepted(1, SOON);
    assert_eq!(
        accepted[0]["tls"], true,
        "delivered without TLS: {accepted:?}"
    );
    let conns = ok.connections();
    assert!(
        conns.iter().all(|c| c.plain_mails == 0),
        "a transaction before TLS: {conns:?}"
    );
    w.gw.wait_for_log(&format!(r"Message finished MID {} done", mids[0]), SOON);
    w.gw.wait_for_log(
        r"DCID \d+ TLS success protocol TLSv1\.[23] cipher [A-Z0-9_-]+",
        SOON,
    );

    w.gw.wait_for_log(
        r"DCID \d+ TLS was required but could not be successfully negotiated for tlsverify\.test",
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"Message {} to RID \[0\] pending till", mids[1]),
        SOON,
    );
    assert!(
        !verify.events_named("starttls").is_empty(),
        "no STARTTLS at the Verify destination"
    );
    assert_no_mail(&verify, "TLS required (verify), untrusted certificate");

    // /metrics counts both handshakes of the outbound leg.
    let metrics = w.gw.cli_ok(&["metrics"]);
    for outcome in ["success", "failed"] {
        let line =
            format!("breakwater_tls_connections_total{{leg=\"outbound\",outcome=\"{outcome}\"}} ");
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line)?.parse().ok())
            .unwrap_or(0);
        assert!(n >= 1, "no outbound TLS {outcome} counted: {metrics}");
    }
}

/// Required (Verify) checks the host name, not only the chain: a
/// certificate from a trusted CA for another name is refused, one for the
/// exchanger's own name is accepted.
///
/// The test's CA is added the way an administrator does (AsyncOS:
/// certconfig → CERTAUTHORITY → CUSTOM → IMPORT), then committed:
///
/// ```text
/// breakwater cli certconfig certauthority import <name> <pem-file>
/// ```
#[test]
fn tls_verify_refuses_a_trusted_certificate_for_another_host_name() {
    let net = TestNet::new();
    let (right_ip, wrong_ip) = (mx_ip(&net, 55), mx_ip(&net, 56));
    let dns = Dns::builder(&net)
        .mx("right.test", "mx.right.test", 10)
        .host_record("mx.right.test", right_ip)
        .mx("wrong.test", "mx.wrong.test", 10)
        .host_record("mx.wrong.test", wrong_ip)
        .start();
    let (right_cert, ca) = TestCert::signed_by_new_ca("mx.right.test");
    let ca_pem = ca.cert.display().to_string();
    let w = world_with(
        net,
        dns,
        &[
            vec!["certconfig", "certauthority", "import", "e2e-ca", &ca_pem],
            vec![
                "destconfig",
                "new",
                "right.test",
                "--use_tls",
                "required-verify",
            ],
            vec![
                "destconfig",
                "new",
                "wrong.test",
                "--use_tls",
                "required-verify",
            ],
        ],
    );
    // The wrong exchanger presents the right exchanger's (valid, trusted)
    // certificate: good chain, wrong name.
    let right = Script::new(right_ip, "mx.right.test")
        .starttls(&right_cert)
        .start();
    let wrong = Script::new(wrong_ip, "mx.wrong.test")
        .starttls(&right_cert)
        .start();
    let mids = send_batch(
        &w,
        33,
        &[
            Outgoing::new(SENDER, &["gina@right.test"], "verify-right@e2e.test"),
            Outgoing::new(SENDER, &["hank@wrong.test"], "verify-wrong@e2e.test"),
        ],
    );
    let accepted = right.wait_for_accepted(1, SOON);
    assert_eq!(accepted[0]["tls"], true);
    w.gw.wait_for_log(&format!(r"Message finished MID {} done", mids[0]), SOON);
    w.gw.wait_for_log(
        r"DCID \d+ TLS was required but could not be successfully negotiated for wrong\.test",
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"Message {} to RID \[0\] pending till", mids[1]),
        SOON,
    );
    assert!(
        !w.gw
            .log_lines(r"(?i)DCID \d+ TLS failed: .*(name|NotValidForName)")
            .is_empty(),
        "the TLS failure does not say the name did not match:\n{:?}",
        w.gw.log_lines(r"TLS failed")
    );
    assert_no_mail(&wrong, "Required (Verify), certificate for another name");
}
