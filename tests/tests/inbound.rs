//! Internet → Data 1 (IncomingMail) → SMTP route → the organisation's
//! server (smtp-sink): what arrives must be what was sent.

use breakwater_e2e::{SOON, Swaks, World, mid_in_reply, smtplib};
use regex::escape;

/// A message with the lines that trip careless relays: a line that starts
/// with a dot (sent dot-stuffed, must arrive unstuffed), a line that is only
/// dots, trailing whitespace, a long line, and an empty line in the body.
fn tricky_ascii_message(message_id: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: Sender <sender@internet.example>\r\n");
    m.extend_from_slice(b"To: Alice <alice@example.com>\r\n");
    m.extend_from_slice(format!("Message-ID: <{message_id}>\r\n").as_bytes());
    m.extend_from_slice(b"Subject: dots, spaces and a long line\r\n");
    m.extend_from_slice(b"X-Folded: first part\r\n\tsecond part\r\n");
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice(b"Hello Alice,\r\n");
    m.extend_from_slice(b".a line that starts with a dot\r\n");
    m.extend_from_slice(b"..two dots\r\n");
    m.extend_from_slice(b"...\r\n");
    m.extend_from_slice(b"trailing spaces   \r\n");
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice("x".repeat(990).as_bytes());
    m.extend_from_slice(b"\r\n");
    m.extend_from_slice(b"-- \r\nSender");
    m
}

#[test]
fn swaks_to_accepted_domain_arrives_byte_for_byte() {
    let w = World::start();
    let dir = tempfile::tempdir().expect("tmp");
    let body = tricky_ascii_message("inbound-swaks@e2e.test");
    let path = dir.path().join("msg.eml");
    std::fs::write(&path, &body).expect("write message");

    let out = Swaks::new(w.net.data1_smtp(), w.net.client(3))
        .from("sender@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .run();
    let reply = out
        .data_reply()
        .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
    assert_eq!(reply.code, 250, "{}", out.transcript);
    assert!(
        mid_in_reply(&reply.text()).is_some(),
        "250 must name the MID (\"Message <MID> accepted\"): {reply}"
    );
    assert!(out.succeeded(), "{}", out.transcript);

    let m = w
        .sink
        .wait_for_message_id("inbound-swaks@e2e.test", SOON)
        .expect("message reaches the next hop");
    // swaks ends the data with CRLF.CRLF after the file's last line.
    let mut expected = body.clone();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(m.without_added_trace()),
        String::from_utf8_lossy(&expected),
        "body must arrive byte-for-byte after the gateway's trace header(s)"
    );
    assert!(
        !m.leading_received().is_empty(),
        "the gateway prepends a Received: header"
    );
    assert_eq!(m.mail_from, "sender@internet.example");
    assert_eq!(m.rcpts, ["alice@example.com"]);
    assert_eq!(
        m.client_addr,
        w.net.data2().to_string(),
        "delivery leaves from the Data 2 address"
    );
}

#[test]
fn smtplib_8bit_body_with_dot_lines_arrives_byte_for_byte() {
    let w = World::start();
    let mut body = Vec::new();
    body.extend_from_slice(b"From: <sender@internet.example>\r\n");
    body.extend_from_slice(b"To: <bob@example.com>\r\n");
    body.extend_from_slice(b"Message-ID: <inbound-8bit@e2e.test>\r\n");
    body.extend_from_slice(b"Subject: 8bit\r\n");
    body.extend_from_slice(b"MIME-Version: 1.0\r\n");
    body.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    body.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n");
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice("Grüße aus Köln — été à Paris — 東京\r\n".as_bytes());
    body.extend_from_slice(b".\r\n");
    body.extend_from_slice(".début par un point\r\n".as_bytes());
    // Every byte value a text line may carry, apart from CR and LF.
    let high: Vec<u8> = (0x80..=0xffu8).collect();
    body.extend_from_slice(&high);
    body.extend_from_slice(b"\r\n");

    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(4),
        "sender@internet.example",
        &["bob@example.com"],
        &body,
        &["BODY=8BITMIME"],
    );
    let data = smtplib::find(&res, "data").unwrap_or_else(|| panic!("no DATA step: {res:?}"));
    assert_eq!(data.code, Some(250), "{res:?}");

    let m = w
        .sink
        .wait_for_message_id("inbound-8bit@e2e.test", SOON)
        .expect("message reaches the next hop");
    assert!(
        m.without_added_trace() == body.as_slice(),
        "8-bit body must arrive byte-for-byte\n sent: {:?}\n got:  {:?}",
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(m.without_added_trace())
    );
    assert_eq!(m.rcpts, ["bob@example.com"]);
}

#[test]
fn mail_log_records_the_lifecycle_of_a_message() {
    let w = World::start();
    let client = w.net.client(5);
    let msg = breakwater_e2e::simple_message(
        "carol@internet.example",
        "dave@example.com",
        "inbound-log@e2e.test",
        "logged",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        client,
        "carol@internet.example",
        &["dave@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    let mid = mid_in_reply(&data.text)
        .unwrap_or_else(|| panic!("250 must name the MID: {:?}", data.text));
    w.sink
        .wait_for_message_id("inbound-log@e2e.test", SOON)
        .expect("delivered");

    let finished =
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    assert!(!finished.is_empty());

    // Reception: the connection, its sender group, the envelope.
    let start =
        w.gw.wait_for_log(&format!(r"Start MID {mid} ICID \d+"), SOON);
    let icid: u64 = regex::Regex::new(r"ICID (\d+)")
        .expect("regex")
        .captures(&start)
        .and_then(|c| c[1].parse().ok())
        .expect("ICID in Start MID line");
    let d1 = w.net.data1().to_string();
    w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID {icid} interface Data 1 \({}\) address {} reverse dns host \S+ verified (yes|no)",
            escape(&d1),
            escape(&client.to_string())
        ),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"ICID {icid} ACCEPT SG \S+ match \S+ SBRS not enabled"),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"MID {mid} ICID {icid} From: <?carol@internet\.example>?"),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"MID {mid} ICID {icid} RID 0 To: <?dave@example\.com>?"),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"MID {mid} ready \d+ bytes from <?carol@internet\.example>?"),
        SOON,
    );
    w.gw.wait_for_log(&format!(r"MID {mid} queued for delivery"), SOON);

    // Delivery: a DCID carries the message and reports it done.
    let start = w.gw.wait_for_log(
        &format!(r"Delivery start DCID \d+ MID {mid} to RID \[0\]"),
        SOON,
    );
    let dcid: u64 = regex::Regex::new(r"DCID (\d+)")
        .expect("regex")
        .captures(&start)
        .and_then(|c| c[1].parse().ok())
        .expect("DCID");
    w.gw.wait_for_log(&format!(r"New SMTP DCID {dcid} "), SOON);
    w.gw.wait_for_log(
        &format!(r"Message done DCID {dcid} MID {mid} to RID \[0\]"),
        SOON,
    );

    // The lines come in lifecycle order.
    let log = w.gw.mail_log();
    let pos = |pat: &str| {
        let re = regex::Regex::new(pat).expect("regex");
        log.lines()
            .position(|l| re.is_match(l))
            .unwrap_or_else(|| panic!("no line /{pat}/"))
    };
    let order = [
        pos(&format!(r"New SMTP ICID {icid} ")),
        pos(&format!(r"Start MID {mid} ICID")),
        pos(&format!(r"MID {mid} queued for delivery")),
        pos(&format!(r"Delivery start DCID {dcid} MID {mid}")),
        pos(&format!(r"Message done DCID {dcid} MID {mid}")),
        pos(&format!(r"Message finished MID {mid} done")),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "lifecycle lines out of order: {order:?}"
    );
    // AsyncOS timestamp shape: "Www Mmm dd HH:MM:SS YYYY Info: ...".
    let line = &log.lines().nth(order[1]).expect("line");
    assert!(
        regex::Regex::new(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} Info: ")
            .expect("regex")
            .is_match(line),
        "mail log line not in AsyncOS shape: {line:?}"
    );
}

/// Every recipient refused by the RAT, then QUIT: the started MID
/// finishes in the log as AsyncOS writes it (`Message aborted MID n
/// Receiving aborted by sender`, `Message finished MID n aborted`); the
/// refused recipient gets no RID (AsyncOS numbers accepted ones only).
#[test]
fn a_message_whose_recipients_the_rat_refused_finishes_aborted() {
    use smtplib::Step;
    let w = World::start();
    let res = smtplib::run(
        w.net.data1_smtp(),
        w.net.client(6),
        &[
            Step::Connect,
            Step::Ehlo,
            Step::Mail {
                from: "carol@internet.example".to_string(),
                options: Vec::new(),
            },
            Step::Rcpt("nobody@elsewhere.example".to_string()),
            Step::Quit,
        ],
    );
    let rcpt = smtplib::find(&res, "rcpt").expect("RCPT step");
    assert_eq!(rcpt.code.map(|c| c / 100), Some(5), "{res:?}");
    let refused = w.gw.wait_for_log(
        r"Info: MID \d+ ICID \d+ To: <nobody@elsewhere\.example> Rejected by RAT$",
        SOON,
    );
    let ids = regex::Regex::new(r"MID (\d+) ICID (\d+)")
        .expect("regex")
        .captures(&refused)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .expect("MID and ICID");
    let (mid, icid) = (ids.0.as_str(), ids.1.as_str());
    w.gw.wait_for_log(&format!(r"Info: Message finished MID {mid} aborted$"), SOON);
    let log = w.gw.mail_log();
    let pos = |line: String| {
        log.lines()
            .position(|l| l.ends_with(&format!("Info: {line}")))
            .unwrap_or_else(|| panic!("no line {line:?} in the mail log:\n{log}"))
    };
    let order = [
        pos(format!("Start MID {mid} ICID {icid}")),
        pos(format!(
            "MID {mid} ICID {icid} From: <carol@internet.example>"
        )),
        pos(format!(
            "MID {mid} ICID {icid} To: <nobody@elsewhere.example> Rejected by RAT"
        )),
        pos(format!(
            "Message aborted MID {mid} Receiving aborted by sender"
        )),
        pos(format!("Message finished MID {mid} aborted")),
        pos(format!("ICID {icid} close")),
    ];
    assert!(order.is_sorted(), "lines out of order: {order:?}\n{log}");
}
