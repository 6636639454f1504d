//! The session state machine driven without a socket.

use std::sync::Arc;

use super::message::FIRST_CHUNK;
use super::*;
use crate::config::HeaderLimits;
use crate::config::{MailFlowPolicy, RatEntry};
use crate::server::budget::ReceptionBudget;
use crate::server::hat;

struct Harness {
    session: Session,
    /// The driver's MID allocator.
    next_mid: u64,
    /// Every event the session reported, as the driver takes them.
    events: Vec<MailEvent>,
}

impl Harness {
    /// What the driver does on `NeedMid`: allocate, hand it over.
    fn allocate_mid(&mut self) -> Vec<Action> {
        self.next_mid += 1;
        let actions = self.session.mid_allocated(Some(Mid(self.next_mid)));
        self.take_events();
        actions
    }

    fn take_events(&mut self) {
        self.events.extend(self.session.take_events());
    }

    /// The `mail_logs` lines the driver would write.
    fn log_lines(&self) -> Vec<String> {
        self.events.iter().map(ToString::to_string).collect()
    }
}

/// A fixed wall clock: 2026-01-02 03:04:05 UTC.
fn fixed_clock() -> chrono::DateTime<breakwater_types::clock::Tz> {
    breakwater_types::clock::local(
        chrono::DateTime::from_timestamp(1_767_323_045, 0).unwrap_or_default(),
    )
}

fn listener(name: &str, tweak: impl FnOnce(&mut ListenerConfig)) -> ListenerConfig {
    let mut l = crate::config::factory::dev_factory_for_tests()
        .listener(name)
        .unwrap()
        .clone();
    tweak(&mut l);
    l
}

fn harness(l: ListenerConfig, client: &str, verified: Option<&str>, tls: bool) -> Harness {
    let ip: IpAddr = client.parse().unwrap();
    let hat = hat::classify(&l, ip, verified).unwrap();
    let conn = Connection {
        icid: Icid(1),
        hostname: "gw.test".into(),
        listener: Arc::new(l),
        interface: "Data 1".into(),
        client_ip: ip,
        rdns: verified.map(str::to_string),
        rdns_verified: verified.is_some(),
        hat,
        tls_available: tls,
        headers: HeaderLimits::default(),
        bounce_verification: None,
        call_ahead: false,
    };
    let services = SessionServices {
        hourly: Arc::new(HourlyRecipients::default()),
        budget: ReceptionBudget::new(64 * 1024 * 1024),
        clock: fixed_clock,
    };
    Harness {
        session: Session::new(conn, services),
        next_mid: 0,
        events: Vec::new(),
    }
}

/// A RAT row accepting example.com, first.
fn accept_example_com(l: &mut ListenerConfig) {
    l.rat.insert(
        0,
        RatEntry {
            address: "example.com".into(),
            action: RatAction::Accept,
            code: None,
            text: None,
            bypass_receiving_control: false,
        },
    );
}

fn accepting_example_com() -> ListenerConfig {
    listener("IncomingMail", |l| {
        accept_example_com(l);
        l.policies.iter_mut().for_each(|p: &mut MailFlowPolicy| {
            p.max_recipients_per_message = 2;
            p.max_message_size = 1000;
            p.tls = TlsMode::Preferred;
        });
    })
}

/// Feeds `input` and returns the reply lines and the other actions.
/// A MID asked for is allocated at once and the rest fed, as the driver
/// does; every other action ends the call.
fn feed(h: &mut Harness, input: &[u8]) -> (usize, Vec<String>, Vec<Action>) {
    let mut replies = Vec::new();
    let mut other = Vec::new();
    let mut used = 0;
    loop {
        let (n, actions) = h.session.feed(&input[used..]);
        h.take_events();
        used += n;
        let mut again = false;
        for a in actions {
            match a {
                Action::Reply(r) => replies.push(r),
                Action::NeedMid => {
                    for a in h.allocate_mid() {
                        if let Action::Reply(r) = a {
                            replies.push(r);
                        }
                    }
                    again = used < input.len();
                }
                a => other.push(a),
            }
        }
        if !again {
            return (used, replies, other);
        }
    }
}

#[test]
fn a_pipelined_transaction_is_enqueued_and_acknowledged_with_its_mid() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    assert!(matches!(&h.session.greeting()[..], [Action::Reply(r)] if r == "220 gw.test ESMTP"));
    let (used, replies, _) = feed(
        &mut h,
        b"EHLO client\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    assert_eq!(used, 67);
    let input = b"Subject: hi\r\n\r\n..x\r\n.\r\nQUIT\r\n";
    let (used, more, other) = feed(&mut h, input);
    assert!(more.is_empty(), "{more:?}");
    assert!(
        replies[0].starts_with("250-gw.test\r\n250-8BITMIME"),
        "{replies:?}"
    );
    assert!(
        !replies[0].contains("STARTTLS"),
        "no TLS acceptor, no STARTTLS"
    );
    assert_eq!(replies[1], "250 2.1.0 sender <a@b.org> ok");
    assert_eq!(replies[2], "250 2.1.5 recipient <bob@example.com> ok");
    assert_eq!(replies[3], "354 go ahead");
    let [Action::Enqueue(msg)] = &other[..] else {
        panic!("{other:?}")
    };
    let (record, body) = msg.as_ref();
    assert!(body.starts_with(b"Received: from client (unknown [198.51.100.7])\r\n"));
    assert!(body.ends_with(b"Subject: hi\r\n\r\n.x\r\n"));
    assert_eq!(record.recipients[0].address, "bob@example.com");
    assert_eq!(record.reception.sender_group, "ALL");
    assert_eq!(
        &input[used..],
        b"QUIT\r\n",
        "the rest waits until the message is durable"
    );
    let mid = record.mid;
    let after = h.session.enqueued(Ok(mid));
    assert!(
        matches!(&after[..], [Action::Reply(r)] if *r == format!("250 ok:  Message {mid} accepted"))
    );
    let (_, replies, other) = feed(&mut h, &input[used..]);
    assert_eq!(replies, vec!["221 2.0.0 gw.test Bye"]);
    assert!(matches!(other[..], [Action::Close]));
}

#[test]
fn policy_and_rat_limits_answer_with_the_right_codes() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, _) = feed(&mut h, b"MAIL FROM:<a@b.org>\r\n");
    assert_eq!(r, vec![reply::NEED_HELO]);
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<x@foreign.example>\r\nRCPT TO:<1@example.com>\r\nRCPT TO:<2@example.com>\r\nRCPT TO:<3@example.com>\r\n",
    );
    assert_eq!(
        r[2],
        "550 5.7.1 Recipient address rejected: relaying denied for <x@foreign.example>"
    );
    assert!(r[3].starts_with("250 ") && r[4].starts_with("250 "));
    assert_eq!(r[5], reply::TOO_MANY_RCPTS);
    let (_, r, _) = feed(&mut h, b"DATA\r\n");
    assert_eq!(r, vec![reply::START_DATA]);
    let mut big = Vec::new();
    big.extend(std::iter::repeat_n(b'x', 2000));
    big.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
    let (_, r, other) = feed(&mut h, &big);
    assert_eq!(r, vec![reply::TOO_LARGE, reply::OK]);
    assert!(other.is_empty());
}

#[test]
fn an_over_long_command_line_is_refused_and_the_session_goes_on() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let mut input = b"EHLO ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 600));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    // Byte by byte, to exercise the bounded line buffer.
    let mut replies = Vec::new();
    for b in &input {
        let (used, r, _) = feed(&mut h, std::slice::from_ref(b));
        assert_eq!(used, 1);
        replies.extend(r);
    }
    assert_eq!(replies, vec![reply::LINE_TOO_LONG, reply::OK]);
}

#[test]
fn strict_crlf_refuses_a_bare_line_feed() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, other) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
    );
    assert_eq!(r.last().unwrap(), reply::START_DATA);
    let (_, r, other2) = feed(&mut h, b"bare\nlf\r\n.\r\n");
    assert_eq!(r, vec![reply::BARE_LINE_ENDING]);
    assert!(other2.is_empty());
    assert!(other.is_empty());
}

#[test]
fn blocked_clients_get_the_reject_banner_and_are_closed() {
    let l = listener("IncomingMail", |l| {
        l.hat[1].members.push("203.0.113.9".into())
    });
    let mut h = harness(l, "203.0.113.9", None, false);
    let actions = h.session.greeting();
    assert!(matches!(&actions[..], [Action::Reply(r), Action::Close] if r == "554 Access Denied"));
}

#[test]
fn a_private_listener_relays_only_for_relay_policies() {
    let l = listener("OutgoingMail", |l| {
        l.hat[0].members.push(".protection.outlook.com".into())
    });
    let mut relay = harness(
        l.clone(),
        "127.5.0.10",
        Some("mail.protection.outlook.com"),
        false,
    );
    let (_, r, _) = feed(
        &mut relay,
        b"EHLO o365\r\nMAIL FROM:<a@org>\r\nRCPT TO:<x@internet.example>\r\n",
    );
    assert!(r[2].starts_with("250 "), "{r:?}");
    // Unverified rDNS does not match the sender group: ALL -> BLOCKED.
    let mut other = harness(l, "127.5.0.11", None, false);
    assert!(
        matches!(&other.session.greeting()[..], [Action::Reply(r), Action::Close] if r.starts_with("554"))
    );
}

#[test]
fn starttls_stops_reading_so_pipelined_plaintext_is_not_used() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, true);
    let input = b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x>\r\n";
    let (used, r, other) = feed(&mut h, input);
    assert!(r[0].contains("250 STARTTLS"), "{r:?}");
    assert_eq!(r[1], reply::START_TLS);
    assert!(matches!(other[..], [Action::StartTls]));
    assert_eq!(&input[used..], b"MAIL FROM:<injected@x>\r\n");
    h.session
        .tls_started("TLSv1.3".into(), "TLS13_AES_256_GCM_SHA384".into());
    let (_, r, _) = feed(&mut h, b"MAIL FROM:<a@b.org>\r\n");
    assert_eq!(r, vec![reply::NEED_HELO], "EHLO again after TLS");
}

#[test]
fn bdat_chunks_make_one_message() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, other) = feed(&mut h, b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<b@example.com>\r\nBDAT 5\r\nhelloBDAT 8 LAST\r\n world\r\n");
    assert_eq!(r[3], "250 2.0.0 5 octets received");
    let [Action::Enqueue(msg)] = &other[..] else {
        panic!("{r:?} {other:?}")
    };
    assert!(msg.1.ends_with(b"hello world\r\n"));
}

#[test]
fn recipients_per_hour_are_limited_unless_the_rat_row_bypasses_receiving_control() {
    let l = listener("IncomingMail", |l| {
        for (address, bypass) in [("vip.example", true), ("example.com", false)] {
            l.rat.insert(
                0,
                RatEntry {
                    address: address.into(),
                    action: RatAction::Accept,
                    code: None,
                    text: None,
                    bypass_receiving_control: bypass,
                },
            );
        }
        l.policies
            .iter_mut()
            .for_each(|p| p.max_recipients_per_hour = Some(1));
    });
    let mut h = harness(l, "198.51.100.7", None, false);
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<1@example.com>\r\nRCPT TO:<2@example.com>\r\nRCPT TO:<boss@vip.example>\r\n",
    );
    assert!(r[2].starts_with("250 "), "{r:?}");
    assert_eq!(r[3], reply::RCPTS_PER_HOUR);
    assert!(r[4].starts_with("250 "), "bypass: {r:?}");
}

/// Opens a transaction for bob@example.com and answers its DATA with 354.
fn at_data(h: &mut Harness) {
    let (_, r, _) = feed(
        h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    assert_eq!(
        r.last().map(String::as_str),
        Some(reply::START_DATA),
        "{r:?}"
    );
}

/// Feeds `input` until it is used up (the driver's loop), collecting the
/// replies, the spooled bytes and the enqueued record.
fn drive(
    h: &mut Harness,
    mut input: &[u8],
) -> (Vec<String>, Vec<u8>, Option<MessageRecord>, Vec<Action>) {
    let (mut replies, mut spooled, mut record, mut other) =
        (Vec::new(), Vec::new(), None, Vec::new());
    while !input.is_empty() && !h.session.is_closed() {
        let (used, actions) = h.session.feed(input);
        h.take_events();
        input = &input[used..];
        for a in actions {
            match a {
                Action::Reply(r) => replies.push(r),
                Action::NeedMid => {
                    for a in h.allocate_mid() {
                        if let Action::Reply(r) = a {
                            replies.push(r);
                        }
                    }
                }
                Action::Spool(_, bytes) => {
                    assert!(bytes.len() <= SPOOL_CHUNK + 3, "a spool chunk is bounded");
                    spooled.extend(bytes);
                }
                Action::Enqueue(m) => {
                    let (r, tail) = *m;
                    spooled.extend(tail);
                    let mid = r.mid;
                    record = Some(r);
                    for a in h.session.enqueued(Ok(mid)) {
                        if let Action::Reply(r) = a {
                            replies.push(r);
                        }
                    }
                }
                a => other.push(a),
            }
        }
    }
    (replies, spooled, record, other)
}

#[test]
fn smuggled_end_of_data_variants_never_start_a_second_transaction() {
    let variants = crate::server::data::FAKE_ENDS_OF_DATA;
    for lenient in [false, true] {
        for v in variants {
            let l = listener("IncomingMail", |l| {
                accept_example_com(l);
                if lenient {
                    l.crlf = crate::config::CrLfHandling::Lenient;
                }
            });
            let mut h = harness(l, "198.51.100.7", None, false);
            at_data(&mut h);
            let mut wire = b"Subject: x\r\n\r\nhello".to_vec();
            wire.extend_from_slice(v);
            wire.extend_from_slice(b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nspoofed\r\n.\r\nNOOP\r\n");
            let (replies, body, record, _) = drive(&mut h, &wire);
            // One message, one reply to its end, then NOOP's.
            assert_eq!(replies.len(), 2, "{v:?} lenient {lenient}: {replies:?}");
            assert_eq!(replies[1], reply::OK);
            if lenient {
                assert!(replies[0].starts_with("250 ok:"), "{replies:?}");
                let record = record.unwrap();
                assert_eq!(record.mail_from, "a@b.org");
                assert_eq!(record.body_size, body.len() as u64);
                // No bare CR or LF survives in what was stored.
                let text = String::from_utf8_lossy(&body);
                assert!(
                    !text.replace("\r\n", "").contains(['\r', '\n']),
                    "{v:?}: {text:?}"
                );
            } else {
                assert!(replies[0].starts_with("550 5.6.0"), "{v:?}: {replies:?}");
                assert!(record.is_none() && body.is_empty());
            }
        }
    }
}

#[test]
fn data_sent_before_the_354_is_a_protocol_violation() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (replies, _, record, other) = drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n",
    );
    assert_eq!(replies.last().unwrap(), reply::SYNC_ERROR, "{replies:?}");
    assert!(!replies.iter().any(|r| r == reply::START_DATA));
    assert!(record.is_none());
    assert!(matches!(other[..], [Action::Close]));
    assert!(h.session.is_closed());
}

#[test]
fn commands_pipelined_after_bdat_last_are_refused() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (replies, _, record, other) = drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 4 LAST\r\nhi\r\nMAIL FROM:<ceo@example.com>\r\n",
    );
    assert_eq!(replies.last().unwrap(), reply::SYNC_ERROR, "{replies:?}");
    assert!(record.is_none());
    assert!(matches!(other[..], [Action::Close]));
}

#[test]
fn bdat_follows_the_strict_crlf_setting() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (replies, _, record, _) = drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 34 LAST\r\nx\n.\r\nMAIL FROM:<ceo@example.com>\r\n",
    );
    assert_eq!(
        replies.last().unwrap(),
        reply::BARE_LINE_ENDING,
        "{replies:?}"
    );
    assert!(record.is_none());
}

/// The factory listener with a RAT row for example.com (10 MB messages).
fn factory_accepting_example_com() -> ListenerConfig {
    listener("IncomingMail", |l| {
        accept_example_com(l);
    })
}

#[test]
fn message_data_streams_out_in_bounded_chunks() {
    let mut h = harness(factory_accepting_example_com(), "198.51.100.7", None, false);
    at_data(&mut h);
    let line = b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
    let mut wire = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..10_000 {
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    let (replies, body, record, _) = drive(&mut h, &wire);
    assert!(replies[0].starts_with("250 ok:"), "{replies:?}");
    let record = record.unwrap();
    assert_eq!(record.body_size, body.len() as u64);
    assert!(body.starts_with(b"Received: "));
    assert!(body.ends_with(line));
    assert_eq!(record.subject.as_deref(), Some("big"));
}

#[test]
fn a_spent_memory_budget_defers_data() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let hold = h
        .session
        .services
        .budget
        .try_reserve(64 * 1024 * 1024 - 100)
        .unwrap();
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    assert_eq!(r.last().unwrap(), reply::BUDGET_SPENT);
    drop(hold);
    let (_, r, _) = feed(&mut h, b"DATA\r\n");
    assert_eq!(r, vec![reply::START_DATA]);
}

#[test]
fn header_limits_and_hop_count_refuse_after_the_end_of_data() {
    let mut h = harness(factory_accepting_example_com(), "198.51.100.7", None, false);
    at_data(&mut h);
    let mut wire = Vec::new();
    for i in 0..100 {
        wire.extend_from_slice(format!("Received: from hop{i}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\nloop\r\n.\r\nNOOP\r\n");
    let (replies, _, record, _) = drive(&mut h, &wire);
    assert!(
        replies[0].starts_with("554 5.4.6 Too many hops"),
        "{replies:?}"
    );
    assert_eq!(replies[1], reply::OK);
    assert!(record.is_none());

    let mut h = harness(factory_accepting_example_com(), "198.51.100.7", None, false);
    at_data(&mut h);
    let mut wire = Vec::new();
    for i in 0..1001 {
        wire.extend_from_slice(format!("X-H{i}: y\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n.\r\n");
    let (replies, _, record, _) = drive(&mut h, &wire);
    assert!(replies[0].starts_with("552 5.3.4 "), "{replies:?}");
    assert!(record.is_none());
}

/// Issue 12, "relay by quoting": smtp-proto hands back the address with its
/// quotes dropped, so the next hop read one recipient plus a parameter.
#[test]
fn relay_by_quoting_is_refused_and_a_quoted_local_part_stays_quoted() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<\"victim@external.example> ORCPT=rfc822;x\"@example.com>\r\n",
    );
    assert_eq!(
        r[2],
        "553 5.7.1 Recipient address rejected: <\"victim@external.example> ORCPT=rfc822;x\"@example.com>: '@' inside a quoted local part is not accepted"
    );
    let (_, r, _) = feed(
        &mut h,
        b"RCPT TO:<\"x> ORCPT=rfc822;x\"@Example.COM>\r\nDATA\r\n",
    );
    assert_eq!(
        r[0],
        "250 2.1.5 recipient <\"x> ORCPT=rfc822;x\"@example.com> ok"
    );
    let (_, _, record, _) = drive(&mut h, b"Subject: q\r\n\r\nhi\r\n.\r\n");
    let record = record.expect("enqueued");
    let stored = &record.recipients[0].address;
    assert_eq!(stored, "\"x> ORCPT=rfc822;x\"@example.com");
    assert_eq!(
        record.recipients.len(),
        1,
        "the refused recipient is not kept"
    );
    // What delivery writes inside RCPT TO:<...> is that same quoted form.
    let again = crate::address::Mailbox::parse(stored, false).unwrap();
    assert_eq!(again.local().as_str(), "x> ORCPT=rfc822;x");
    assert_eq!(again.to_string(), *stored);
}

#[test]
fn control_characters_and_8bit_addresses_are_refused_with_a_reason() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<\"a\x1b[2J\"@b.org>\r\nMAIL FROM:<\"a\x7f\"@b.org>\r\nMAIL FROM:<jos\xc3\xa9@b.org>\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<\"b\x01\"@example.com>\r\nRCPT TO:<jos\xc3\xa9@example.com>\r\nRCPT TO:<>\r\n",
    );
    assert_eq!(
        &r[1..],
        [
            "501 5.1.7 Bad sender address syntax: control character U+001B not allowed",
            "501 5.1.7 Bad sender address syntax: control character U+007F not allowed",
            "553 5.6.7 Sender address rejected: 8-bit characters need SMTPUTF8",
            "250 2.1.0 sender <a@b.org> ok",
            "501 5.1.3 Bad recipient address syntax: control character U+0001 not allowed",
            "553 5.6.7 Recipient address rejected: 8-bit characters need SMTPUTF8",
            "501 5.1.3 Bad recipient address syntax: the null path <> is only a sender",
        ]
    );
    // With SMTPUTF8 on MAIL FROM the same recipient is welcome.
    let (_, r, _) = feed(
        &mut h,
        "RSET\r\nMAIL FROM:<jos\u{e9}@b.org> SMTPUTF8\r\nRCPT TO:<jos\u{e9}@EXAMPLE.com>\r\n"
            .as_bytes(),
    );
    assert_eq!(r[1], "250 2.1.0 sender <jos\u{e9}@b.org> ok");
    assert_eq!(r[2], "250 2.1.5 recipient <jos\u{e9}@example.com> ok");
}

#[test]
fn classic_routing_tricks_are_refused_or_go_to_the_local_domain() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, r, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\n\
RCPT TO:<victim%external.example@example.com>\r\n\
RCPT TO:<external.example!victim@example.com>\r\n\
RCPT TO:<victim@[192.0.2.1]>\r\n\
RCPT TO:<Postmaster>\r\n\
RCPT TO:<@relay.external.example,@x.example:Bob@EXAMPLE.COM.>\r\n",
    );
    assert_eq!(
        &r[2..],
        [
            "553 5.7.1 Recipient address rejected: <victim%external.example@example.com>: '%' routing in the local part is not accepted",
            "553 5.7.1 Recipient address rejected: <external.example!victim@example.com>: '!' (UUCP bang path) routing in the local part is not accepted",
            // smtp-proto refuses the '[' already; crate::address would
            // answer 553 5.7.1 (AddressLiteral) if it ever got through.
            "501 5.1.3 Bad recipient address syntax",
            "553 5.1.3 Recipient address rejected: <postmaster> needs a domain on this gateway",
            "250 2.1.5 recipient <Bob@example.com> ok",
        ]
    );
}

/// The session writes no log itself: the lines of a whole transaction come
/// out as events, in order, and read as `mail_logs` shows them.
#[test]
fn a_transaction_reports_its_mail_logs_lines_as_events() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<nobody@elsewhere.test>\r\n\
          RCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    let (_, _, record, _) = drive(
        &mut h,
        b"Subject: hi\r\nMessage-ID: <x@b.org>\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.org>\r\nRSET\r\n",
    );
    let record = record.expect("enqueued");
    assert_eq!(
        h.log_lines(),
        [
            "Start MID 1 ICID 1",
            "MID 1 ICID 1 From: <a@b.org>",
            "MID 1 direction: incoming",
            "MID 1 ICID 1 To: <nobody@elsewhere.test> Rejected by RAT",
            "MID 1 ICID 1 RID 0 To: <bob@example.com>",
            "MID 1 Message-ID '<x@b.org>'",
            "MID 1 Subject 'hi'",
            &format!("MID 1 ready {} bytes from <a@b.org>", record.body_size),
            "Start MID 2 ICID 1",
            "MID 2 ICID 1 From: <a@b.org>",
            "MID 2 direction: incoming",
            "Message aborted MID 2 Receiving aborted by sender",
            "Message finished MID 2 aborted",
        ]
    );
    // The clock is the driver's.
    assert_eq!(record.received_at, 1_767_323_045);
}

/// Every recipient refused by the RAT, then QUIT: the MID that started
/// still finishes in the log, the AsyncOS way (the refused recipient gets
/// no RID: AsyncOS numbers accepted recipients only).
#[test]
fn a_transaction_whose_recipients_were_all_refused_finishes_aborted() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<nobody@elsewhere.test>\r\nQUIT\r\n",
    );
    assert_eq!(
        h.log_lines(),
        [
            "Start MID 1 ICID 1",
            "MID 1 ICID 1 From: <a@b.org>",
            "MID 1 direction: incoming",
            "MID 1 ICID 1 To: <nobody@elsewhere.test> Rejected by RAT",
            "Message aborted MID 1 Receiving aborted by sender",
            "Message finished MID 1 aborted",
        ]
    );
}

/// A message refused at the end of DATA finishes too.
#[test]
fn a_message_refused_at_the_end_of_data_finishes_aborted() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    drive(&mut h, b"Subject: a\r\n\r\nbo\0dy\r\n.\r\n");
    let lines = h.log_lines();
    let tail: Vec<&str> = lines
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    assert!(tail[0].starts_with("MID 1 rejected: "), "{lines:?}");
    assert_eq!(tail[1], "Message finished MID 1 aborted", "{lines:?}");
}

/// The queue refused the finished message: its MID finishes too.
#[test]
fn a_message_the_queue_refused_finishes_aborted() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    drive(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    let (_, actions) = h.session.feed(b"Subject: a\r\n\r\nbody\r\n.\r\n");
    assert!(
        actions.iter().any(|a| matches!(a, Action::Enqueue(_))),
        "{actions:?}"
    );
    h.session.enqueued(Err(NotQueued {
        reason: "queue full".to_string(),
        storage_full: true,
        reply: None,
    }));
    h.take_events();
    let lines = h.log_lines();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "ICID 1 message not queued: queue full",
            "Message finished MID 1 aborted"
        ],
        "{lines:?}"
    );
}

/// No MID to be had (the store failed): the sender gets a temporary
/// error and no transaction starts.
#[test]
fn a_mid_the_driver_cannot_allocate_refuses_the_sender_for_now() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    let (_, _, _) = feed(&mut h, b"EHLO c\r\n");
    let (used, actions) = h
        .session
        .feed(b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\n");
    assert_eq!(used, 21, "the rest waits for the MID");
    assert!(matches!(actions[..], [Action::NeedMid]), "{actions:?}");
    let after = h.session.mid_allocated(None);
    assert!(matches!(&after[..], [Action::Reply(r)] if r == reply::QUEUE_ERROR));
    assert!(!h.session.in_transaction());
    let (_, r, _) = feed(&mut h, b"RCPT TO:<bob@example.com>\r\n");
    assert_eq!(r, [reply::NEED_MAIL]);
    assert_eq!(h.session.take_events().count(), 0);
}

// --- bounce verification (issue 17) ---

fn bounce_checked(
    action: crate::config::bounce_verification::InvalidBounceAction,
    untagged_valid: bool,
) -> (Harness, String) {
    use crate::config::bounce_verification::{BounceCheck, BounceVerificationSettings, tag};
    let mut settings = BounceVerificationSettings {
        default_tagging: true,
        invalid_action: action,
        ..Default::default()
    };
    let now = fixed_clock().timestamp();
    settings.add_key("a tagging key".into(), now - 60).unwrap();
    let tagged = tag(settings.current_key().unwrap(), "joe@example.com", now - 60);
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    h.session.conn.bounce_verification = Some(BounceCheck {
        settings: Arc::new(settings),
        untagged_valid,
    });
    (h, tagged)
}

#[test]
fn bounces_need_a_valid_tag_which_is_stripped() {
    use crate::config::bounce_verification::InvalidBounceAction;
    let (mut h, tagged) = bounce_checked(InvalidBounceAction::Reject, false);
    let input =
        format!("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<{tagged}>\r\nRCPT TO:<bob@example.com>\r\n");
    let (_, replies, _) = feed(&mut h, input.as_bytes());
    assert_eq!(
        replies[replies.len() - 2],
        "250 2.1.5 recipient <joe@example.com> ok"
    );
    assert_eq!(
        replies[replies.len() - 1],
        "550 5.7.1 Bounce verification failed"
    );
    let lines = h.log_lines();
    assert!(
        lines.iter().any(|l| l
            == "MID 1 ICID 1 invalid bounce, rcpt address <bob@example.com> rejected by bounce verification."),
        "{lines:?}"
    );
    // Mail with a sender is never refused for a missing tag.
    let (_, replies, _) = feed(
        &mut h,
        b"RSET\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\n",
    );
    assert_eq!(
        replies.last().unwrap(),
        "250 2.1.5 recipient <bob@example.com> ok"
    );
}

#[test]
fn untagged_bounces_pass_when_the_policy_says_so_or_are_flagged() {
    use crate::config::bounce_verification::InvalidBounceAction;
    let (mut h, _) = bounce_checked(InvalidBounceAction::Reject, true);
    let (_, replies, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\n",
    );
    assert_eq!(
        replies.last().unwrap(),
        "250 2.1.5 recipient <bob@example.com> ok"
    );
    // A forged tag is invalid even there.
    let (_, replies, _) = feed(&mut h, b"RCPT TO:<prvs=0123abcdef=bob@example.com>\r\n");
    assert_eq!(
        replies.last().unwrap(),
        "550 5.7.1 Bounce verification failed"
    );

    let flag = InvalidBounceAction::AddHeader {
        name: "X-Invalid-Bounce".into(),
        value: "yes".into(),
    };
    let (mut h, _) = bounce_checked(flag, false);
    let (_, replies, _) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
    );
    let (_, _, other) = feed(&mut h, b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert!(replies.contains(&"250 2.1.5 recipient <bob@example.com> ok".to_string()));
    let body: Vec<u8> = other
        .iter()
        .flat_map(|a| match a {
            Action::Spool(_, b) => b.clone(),
            Action::Enqueue(e) => e.1.clone(),
            _ => Vec::new(),
        })
        .collect();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("\r\nX-Invalid-Bounce: yes\r\nSubject: x"),
        "{text} {other:?}"
    );
}

#[test]
fn call_ahead_holds_the_rcpt_until_the_next_hop_answers_and_passes_its_refusal_on() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    h.session.conn.call_ahead = true;
    h.session.greeting();
    let (_, replies, _) = feed(&mut h, b"EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    assert_eq!(replies.len(), 2);
    // Pipelined: the second RCPT waits until the first one is answered.
    let input = b"RCPT TO:<ghost@example.com>\r\nRCPT TO:<bob@example.com>\r\n";
    let (used, replies, other) = feed(&mut h, input);
    assert!(replies.is_empty());
    assert!(matches!(&other[..], [Action::ValidateRecipient(a)] if a == "ghost@example.com"));
    let refusal = "550 5.1.1 <ghost@example.com>: Recipient address rejected: User unknown";
    let actions = h.session.recipient_validated(Some(refusal.to_string()));
    h.take_events();
    assert!(matches!(&actions[..], [Action::Reply(r)] if r == refusal));
    let (_, replies, other) = feed(&mut h, &input[used..]);
    assert!(replies.is_empty());
    assert!(matches!(&other[..], [Action::ValidateRecipient(a)] if a == "bob@example.com"));
    let actions = h.session.recipient_validated(None);
    h.take_events();
    assert!(matches!(&actions[..], [Action::Reply(r)] if r.starts_with("250 2.1.5")));
    let lines = h.log_lines();
    assert!(lines.contains(&format!(
        "MID 1 ICID 1 To: <ghost@example.com> Rejected by SMTP Call-Ahead: '{refusal}'"
    )));
    assert!(lines.contains(&"MID 1 ICID 1 RID 0 To: <bob@example.com>".to_string()));
}

#[test]
fn a_recipient_the_rat_refuses_is_never_called_ahead() {
    let mut h = harness(accepting_example_com(), "198.51.100.7", None, false);
    h.session.conn.call_ahead = true;
    h.session.greeting();
    let (_, replies, other) = feed(
        &mut h,
        b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@elsewhere.test>\r\n",
    );
    assert!(other.is_empty());
    assert!(replies[2].starts_with("550"));
}

/// The message buffer starts small and doubles, never past the chunk and
/// the bytes a receiver may write beyond it, whatever arrives: a thousand
/// sessions receiving small messages hold small buffers.
#[test]
fn the_message_buffer_grows_by_doubling_up_to_the_chunk() {
    let mut pending = Vec::with_capacity(FIRST_CHUNK);
    pending.extend_from_slice(&[b'x'; 300]);
    grow_pending(&mut pending, 1000);
    assert_eq!(pending.capacity(), FIRST_CHUNK, "room enough: no growth");
    grow_pending(&mut pending, FIRST_CHUNK / 2);
    assert_eq!(pending.capacity(), 2 * FIRST_CHUNK, "doubled");
    for incoming in [1, 10_000, 100_000, usize::MAX] {
        grow_pending(&mut pending, incoming);
        assert!(
            pending.capacity() <= SPOOL_CHUNK + 3,
            "never past the chunk"
        );
    }
    assert_eq!(pending.capacity(), SPOOL_CHUNK + 3);
    assert_eq!(pending.len(), 300, "growing keeps what is buffered");
}
