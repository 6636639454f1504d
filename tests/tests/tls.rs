//! STARTTLS on the listeners, with the Demo certificate generated on first
//! start.
//!
//! As in AsyncOS, the factory ACCEPTED policy has TLS Off; the administrator
//! turns it to Preferred (the reference scenario's setting) first.

use breakwater_e2e::{SOON, Swaks, World, smtplib};
use regex::escape;

/// A world whose ACCEPTED policy offers STARTTLS.
fn tls_world() -> World {
    let w = World::start();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "editpolicy",
        "ACCEPTED",
        "--tls",
        "preferred",
    ]);
    w.gw.cli_ok(&["commit", "e2e: TLS preferred"]);
    w
}

#[test]
fn swaks_starttls_is_logged_with_protocol_and_cipher() {
    let w = tls_world();
    let client = w.net.client(3);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    let body = b"From: <sender@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <tls-swaks@e2e.test>\r\nSubject: over TLS\r\n\r\nsecret";
    std::fs::write(&path, body).expect("write message");

    let out = Swaks::new(w.net.data1_smtp(), client)
        .from("sender@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .tls()
        .run();
    assert!(out.succeeded(), "swaks --tls failed:\n{}", out.transcript);
    assert!(
        out.transcript.contains("<~ "),
        "swaks did not talk TLS:\n{}",
        out.transcript
    );
    assert_eq!(
        out.data_reply().map(|r| r.code),
        Some(250),
        "{}",
        out.transcript
    );

    // Find this connection's ICID, then its TLS line.
    let new = w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 1 \(\S+\) address {} ",
            escape(&client.to_string())
        ),
        SOON,
    );
    let icid = regex::Regex::new(r"ICID (\d+)")
        .expect("regex")
        .captures(&new)
        .map(|c| c[1].to_string())
        .expect("ICID");
    let tls = w.gw.wait_for_log(
        &format!(r"ICID {icid} TLS success protocol TLSv1\.[23] cipher \S+"),
        SOON,
    );
    assert!(!tls.is_empty());

    let m = w
        .sink
        .wait_for_message_id("tls-swaks@e2e.test", SOON)
        .expect("delivered");
    let mut expected = body.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(m.without_added_trace(), expected.as_slice());
}

#[test]
fn smtplib_starttls_negotiates_what_the_log_reports() {
    let w = tls_world();
    let client = w.net.client(4);
    let msg = breakwater_e2e::simple_message(
        "sender@internet.example",
        "alice@example.com",
        "tls-smtplib@e2e.test",
        "over TLS",
    );
    let res = smtplib::run(
        w.net.data1_smtp(),
        client,
        &[
            smtplib::Step::Connect,
            smtplib::Step::Ehlo,
            smtplib::Step::StartTls,
            smtplib::Step::Ehlo,
            smtplib::Step::Mail {
                from: "sender@internet.example".into(),
                options: vec![],
            },
            smtplib::Step::Rcpt("alice@example.com".into()),
            smtplib::Step::Data(msg),
            smtplib::Step::Quit,
        ],
    );
    let starttls = smtplib::find(&res, "starttls").expect("STARTTLS step");
    assert_eq!(starttls.code, Some(220), "{res:?}");
    let (protocol, cipher) = starttls.tls.clone().expect("negotiated TLS");
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );

    // The log names the protocol and cipher the client actually got.
    let line = w.gw.wait_for_log(
        &format!(
            r"ICID \d+ TLS success protocol {} cipher ",
            escape(&protocol)
        ),
        SOON,
    );
    // OpenSSL and rustls name TLS 1.3 suites alike (TLS_AES_256_GCM_SHA384);
    // for TLS 1.2 the names differ, so compare only for 1.3.
    if protocol == "TLSv1.3" {
        assert!(
            line.contains(&cipher),
            "log cipher differs from the negotiated {cipher}: {line}"
        );
    }
    w.sink
        .wait_for_message_id("tls-smtplib@e2e.test", SOON)
        .expect("delivered");
}
