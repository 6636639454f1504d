//! The harness's own peers, without the gateway: if these fail, the
//! gateway tests cannot be believed either way.

use breakwater_e2e::{Dns, QTYPE_A, QTYPE_PTR, SOON, Sink, Swaks, TestNet, reverse_name, smtplib};

/// NOERROR and NXDOMAIN.
const NOERROR: u8 = 0;
const NXDOMAIN: u8 = 3;

#[test]
fn dnsmasq_serves_forward_confirmed_and_ptr_only_names() {
    let net = TestNet::new();
    let good = net.client(10);
    let fake = net.client(11);
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", good)
        .ptr_record(fake, "fake.protection.outlook.com")
        .start();

    assert_eq!(
        dns.query(&reverse_name(good), QTYPE_PTR),
        Some((NOERROR, 1)),
        "host-record gives a PTR"
    );
    assert_eq!(
        dns.query("mail-eopbgr.protection.outlook.com", QTYPE_A),
        Some((NOERROR, 1)),
        "host-record gives the matching A"
    );
    assert_eq!(
        dns.query(&reverse_name(fake), QTYPE_PTR),
        Some((NOERROR, 1)),
        "ptr-record gives a PTR"
    );
    assert_eq!(
        dns.query("fake.protection.outlook.com", QTYPE_A),
        Some((NXDOMAIN, 0)),
        "ptr-record gives no A: the name is not forward-confirmed"
    );
    assert_eq!(
        dns.query("anything.else.example", QTYPE_A),
        Some((NXDOMAIN, 0)),
        "unknown names are NXDOMAIN"
    );
}

#[test]
fn smtp_sink_dump_is_parsed_back_byte_for_byte() {
    let net = TestNet::new();
    let sink = Sink::start(&net);
    let dir = tempfile::tempdir().expect("tmp");
    // No final CRLF: swaks appends CRLF.CRLF itself.
    let body = b"From: <a@example.org>\r\nTo: <b@example.com>\r\nMessage-ID: <peer-swaks@e2e.test>\r\nSubject: peer\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\nlast";
    let path = dir.path().join("msg.eml");
    std::fs::write(&path, body).expect("write message");
    let out = Swaks::new(sink.addr(), net.client(3))
        .from("a@example.org")
        .to("b@example.com")
        .to("c@example.com")
        .data_file(&path)
        .run();
    assert!(
        out.succeeded(),
        "swaks → smtp-sink failed:\n{}",
        out.transcript
    );
    assert_eq!(out.data_reply().map(|r| r.code), Some(250));

    let msgs = sink.wait_for(1, SOON);
    let m = &msgs[0];
    assert_eq!(m.client_addr, net.client(3).to_string());
    assert_eq!(m.mail_from, "a@example.org");
    assert_eq!(m.rcpts, ["b@example.com", "c@example.com"]);
    let mut expected = body.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(m.without_added_trace()),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(m.message_id().as_deref(), Some("peer-swaks@e2e.test"));
}

#[test]
fn smtplib_8bit_reaches_sink_and_sink_restarts_on_same_address() {
    let net = TestNet::new();
    let mut sink = Sink::start(&net);
    let msg = "From: <a@example.org>\r\nTo: <b@example.com>\r\nMessage-ID: <peer-8bit@e2e.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, été, 東京\r\n.\r\n"
        .as_bytes()
        .to_vec();
    let res = smtplib::send(
        sink.addr(),
        net.client(4),
        "a@example.org",
        &["b@example.com"],
        &msg,
        &["BODY=8BITMIME"],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    let m = sink.wait_for(1, SOON).remove(0);
    assert_eq!(m.raw, msg);
    assert!(m.mail_args.contains("BODY=8BITMIME"), "{}", m.mail_args);

    sink.stop();
    let refused = smtplib::run(sink.addr(), net.client(4), &[smtplib::Step::Connect]);
    assert!(
        refused[0].error.is_some(),
        "sink still answering: {refused:?}"
    );
    sink.start_again();
    let res = smtplib::send(
        sink.addr(),
        net.client(4),
        "a@example.org",
        &["b@example.com"],
        b"Message-ID: <peer-again@e2e.test>\r\n\r\nagain\r\n",
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    assert!(
        sink.wait_for_message_id("peer-again@e2e.test", SOON)
            .is_some()
    );
    assert_eq!(sink.messages().len(), 2);
}
