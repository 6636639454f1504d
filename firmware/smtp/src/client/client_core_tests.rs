use super::*;

#[test]
fn dot_stuffing_doubles_leading_dots_and_terminates() {
    assert_eq!(
        dot_stuff(b"a\r\n.b\r\n..c\r\n"),
        b"a\r\n..b\r\n...c\r\n.\r\n"
    );
    assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n");
}

#[test]
fn dot_stuffing_works_on_canonical_lines() {
    // A bare LF or CR is a line ending on the way out: the dot after it
    // is doubled and no bare CR reaches the next hop.
    assert_eq!(dot_stuff(b"a\n.\r\nb"), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(dot_stuff(b"a\r.\rb\r\n"), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(dot_stuff(b""), b".\r\n");
    let out = dot_stuff(b"x\r\n.\r\nMAIL FROM:<a@b>\r\n");
    assert_eq!(out.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 1);
}

#[test]
fn capabilities_are_read_from_the_ehlo_reply() {
    let c = Capabilities::from_ehlo(
        b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    );
    assert!(c.pipelining && c.starttls && c.eight_bit_mime && !c.smtputf8);
    assert_eq!(c.size, Some(1000));
}

/// Every reply in `bytes`, fed `chunk` bytes at a time.
fn replies(bytes: &[u8], chunk: usize) -> Vec<String> {
    let mut parser = ReplyParser::default();
    let mut inbuf = Vec::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        inbuf.extend_from_slice(piece);
        loop {
            let (used, reply) = parser.feed(&inbuf).unwrap();
            inbuf.drain(..used);
            match reply {
                Some(r) => out.push(reply_text(&r)),
                None => break,
            }
        }
    }
    out
}

#[test]
fn replies_read_the_same_however_the_bytes_arrive() {
    let bytes = b"220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n\
                  550 5.1.1 no such user\r\n";
    let whole = replies(bytes, bytes.len());
    assert_eq!(
        whole,
        [
            "220 mx.example ESMTP",
            "250 mx.example PIPELINING SIZE 1000",
            "550 5.1.1 no such user"
        ]
    );
    for chunk in 1..8 {
        assert_eq!(replies(bytes, chunk), whole, "chunks of {chunk}");
    }
}

#[test]
fn a_reply_that_is_not_smtp_is_a_protocol_error() {
    let mut parser = ReplyParser::default();
    assert!(matches!(
        parser.feed(b"HTTP/1.1 400 Bad Request\r\n"),
        Err(ClientError::Protocol(_))
    ));
}
/// Runs the core's current step against `server`, the bytes the next hop
/// sends (all of them available at once): what the client wrote and how
/// the step ended. A handshake is taken as done at once.
fn run(
    core: &mut ClientCore,
    server: &mut &[u8],
    wrote: &mut String,
) -> Result<Finished, ClientError> {
    loop {
        match core.poll()? {
            Next::Done(f) => return Ok(f),
            Next::Write(bytes) => wrote.push_str(&String::from_utf8_lossy(&bytes)),
            Next::Read { .. } => {
                if server.is_empty() {
                    core.fail(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()))?;
                    continue;
                }
                // A byte at a time: a reply never arrives together with
                // bytes sent after it (the TLS upgrade forgets those).
                let n = 1;
                core.feed(&server[..n])?;
                *server = &server[n..];
            }
            Next::UpgradeTls => core.tls_established("gw.test"),
        }
    }
}

fn greeted(server: &mut &[u8], wrote: &mut String) -> ClientCore {
    let mut core = ClientCore::new();
    assert!(matches!(run(&mut core, server, wrote), Ok(Finished::Greeting(r)) if r.code == 220));
    core.hello("gw.test");
    assert!(matches!(run(&mut core, server, wrote), Ok(Finished::Hello)));
    core
}

#[test]
fn a_pipelined_transaction_writes_mail_and_rcpts_in_one_batch() {
    let mut server: &[u8] =
        b"220 hop\r\n250-hop\r\n250-PIPELINING\r\n250-SIZE 100\r\n250 8BITMIME\r\n\
        250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 2.0.0 queued\r\n";
    let mut wrote = String::new();
    let mut core = greeted(&mut server, &mut wrote);
    assert!(core.caps.pipelining && core.caps.eight_bit_mime && !core.caps.starttls);
    core.send(
        "a@b.org",
        &["x@example.com", "y@example.com"],
        b"caf\xc3\xa9\r\n.dot\r\n",
    );
    let Ok(Finished::Sent(rcpts, data)) = run(&mut core, &mut server, &mut wrote) else {
        panic!("no transaction: {wrote}");
    };
    assert_eq!(rcpts.iter().map(|r| r.code).collect::<Vec<_>>(), [250, 550]);
    assert_eq!(data.map(|d| d.code), Some(250));
    assert_eq!(
        wrote,
        "EHLO gw.test\r\nMAIL FROM:<a@b.org> SIZE=13 BODY=8BITMIME\r\nRCPT TO:<x@example.com>\r\n\
         RCPT TO:<y@example.com>\r\nDATA\r\ncaf\u{e9}\r\n..dot\r\n.\r\n"
    );
}

#[test]
fn a_refused_sender_without_pipelining_sends_no_rcpt_and_resets() {
    let mut server: &[u8] = b"220 hop\r\n250 hop\r\n451 4.3.0 later\r\n250 reset\r\n";
    let mut wrote = String::new();
    let mut core = greeted(&mut server, &mut wrote);
    core.send("a@b.org", &["x@example.com", "bad address"], b"hi\r\n");
    let Ok(Finished::Sent(rcpts, data)) = run(&mut core, &mut server, &mut wrote) else {
        panic!("no transaction: {wrote}");
    };
    assert_eq!(rcpts.iter().map(|r| r.code).collect::<Vec<_>>(), [451, 553]);
    assert!(data.is_none());
    assert_eq!(wrote, "EHLO gw.test\r\nMAIL FROM:<a@b.org>\r\nRSET\r\n");
}

#[test]
fn a_refused_ehlo_falls_back_to_helo_and_a_refused_helo_is_an_error() {
    let mut server: &[u8] = b"220 hop\r\n502 no\r\n250 hop\r\n";
    let mut wrote = String::new();
    let core = greeted(&mut server, &mut wrote);
    assert!(!core.caps.pipelining);
    assert_eq!(wrote, "EHLO gw.test\r\nHELO gw.test\r\n");

    let mut server: &[u8] = b"220 hop\r\n502 no\r\n554 5.7.1 go away\r\n";
    let mut core = ClientCore::new();
    let _ = run(&mut core, &mut server, &mut wrote);
    core.hello("gw.test");
    assert!(matches!(
        run(&mut core, &mut server, &mut wrote),
        Err(ClientError::Reply(t)) if t == "554 5.7.1 go away"
    ));
}

#[test]
fn starttls_asks_for_the_upgrade_then_says_ehlo_again() {
    let mut server: &[u8] =
        b"220 hop\r\n250-hop\r\n250 STARTTLS\r\n220 go ahead\r\n250-hop\r\n250 PIPELINING\r\n";
    let mut wrote = String::new();
    let mut core = greeted(&mut server, &mut wrote);
    assert!(core.caps.starttls);
    core.starttls();
    assert!(matches!(
        run(&mut core, &mut server, &mut wrote),
        Ok(Finished::StartTls(true))
    ));
    assert!(core.caps.pipelining && !core.caps.starttls);
    assert_eq!(wrote, "EHLO gw.test\r\nSTARTTLS\r\nEHLO gw.test\r\n");

    // Not offered: nothing is written.
    core.starttls();
    assert!(matches!(
        run(&mut core, &mut server, &mut wrote),
        Ok(Finished::StartTls(false))
    ));
}

#[test]
fn a_failed_rset_does_not_fail_the_transaction_and_a_failed_quit_is_quiet() {
    let mut server: &[u8] = b"220 hop\r\n250 hop\r\n250 ok\r\n550 5.1.1 no\r\n";
    let mut wrote = String::new();
    let mut core = greeted(&mut server, &mut wrote);
    core.send("a@b.org", &["x@example.com"], b"hi\r\n");
    // The server hangs up instead of answering RSET.
    let Ok(Finished::Sent(rcpts, None)) = run(&mut core, &mut server, &mut wrote) else {
        panic!("{wrote}");
    };
    assert_eq!(rcpts[0].code, 550);
    core.quit();
    assert!(matches!(
        run(&mut core, &mut server, &mut wrote),
        Ok(Finished::Quit)
    ));
}

#[test]
fn the_data_done_reply_has_its_own_timer() {
    let mut server: &[u8] = b"220 hop\r\n250 hop\r\n250 ok\r\n250 ok\r\n354 go\r\n";
    let mut wrote = String::new();
    let mut core = greeted(&mut server, &mut wrote);
    core.send("a@b.org", &["x@example.com"], b"hi\r\n");
    let mut timers = Vec::new();
    loop {
        match core.poll() {
            Ok(Next::Read { timer, .. }) if server.is_empty() => {
                timers.push(timer);
                break;
            }
            Ok(Next::Read { timer, .. }) => {
                timers.push(timer);
                let n = server.len().min(7);
                core.feed(&server[..n]).unwrap();
                server = &server[n..];
            }
            Ok(Next::Write(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(timers.last(), Some(&Timer::DataDone));
    assert!(
        timers[..timers.len() - 1]
            .iter()
            .all(|t| *t == Timer::Command)
    );
}

#[test]
fn a_reply_without_end_is_refused_past_the_reply_limit() {
    let mut core = ClientCore::new();
    assert!(matches!(core.poll(), Ok(Next::Read { .. })));
    let line = [b'x'; 1000];
    core.feed(b"220-").unwrap();
    let mut refused = false;
    for _ in 0..(MAX_REPLY / line.len() + 2) {
        if core.feed(&line).is_err() {
            refused = true;
            break;
        }
        let _ = core.poll();
        assert!(core.buffered() <= MAX_REPLY + line.len());
    }
    assert!(refused || core.poll().is_err());
}

/// Like [`run`], but keeps each write apart: the round trips a step costs.
fn run_writes(core: &mut ClientCore, server: &mut &[u8]) -> (Finished, Vec<String>) {
    let mut writes = Vec::new();
    loop {
        match core.poll().unwrap() {
            Next::Done(f) => return (f, writes),
            Next::Write(bytes) => writes.push(String::from_utf8_lossy(&bytes).into_owned()),
            Next::Read { .. } => {
                assert!(!server.is_empty(), "the client waits for more: {writes:?}");
                core.feed(&server[..1]).unwrap();
                *server = &server[1..];
            }
            Next::UpgradeTls => core.tls_established("gw.test"),
        }
    }
}

const PIPELINING_HOP: &[u8] = b"220 hop\r\n250-hop\r\n250 PIPELINING\r\n";

fn pipelining_core(server: &mut &[u8]) -> ClientCore {
    let mut wrote = String::new();
    greeted(server, &mut wrote)
}

#[test]
fn with_pipelining_mail_every_rcpt_and_data_go_in_one_write_then_the_body() {
    let replies = b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 queued\r\n\
        250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 queued again\r\n";
    let all = [PIPELINING_HOP, &replies[..]].concat();
    let mut server: &[u8] = &all;
    let mut core = pipelining_core(&mut server);
    core.send("a@b.org", &["x@example.com", "y@example.com"], b"hi\r\n");
    let (done, writes) = run_writes(&mut core, &mut server);
    let Finished::Sent(rcpts, Some(data)) = done else {
        panic!("{done:?}");
    };
    assert_eq!(rcpts.iter().map(|r| r.code).collect::<Vec<_>>(), [250, 250]);
    assert_eq!(data.code, 250);
    assert_eq!(
        writes,
        [
            "MAIL FROM:<a@b.org>\r\nRCPT TO:<x@example.com>\r\nRCPT TO:<y@example.com>\r\nDATA\r\n",
            "hi\r\n.\r\n"
        ]
    );
    // The next message on the same connection: no RSET in between.
    core.send("a@b.org", &["z@example.com"], b"again\r\n");
    let (done, writes) = run_writes(&mut core, &mut server);
    assert!(
        matches!(done, Finished::Sent(_, Some(ref d)) if d.code == 250),
        "{done:?}"
    );
    assert_eq!(
        writes,
        [
            "MAIL FROM:<a@b.org>\r\nRCPT TO:<z@example.com>\r\nDATA\r\n",
            "again\r\n.\r\n"
        ]
    );
    assert!(server.is_empty());
}

#[test]
fn with_pipelining_every_recipient_refused_sends_no_body() {
    // DATA refused, as RFC 2920 asks of a server with no recipient.
    let replies = b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n250 reset\r\n";
    let all = [PIPELINING_HOP, &replies[..]].concat();
    let mut server: &[u8] = &all;
    let mut core = pipelining_core(&mut server);
    core.send("a@b.org", &["x@example.com"], b"secret\r\n");
    let (done, writes) = run_writes(&mut core, &mut server);
    let Finished::Sent(rcpts, data) = done else {
        panic!("{done:?}");
    };
    assert_eq!(rcpts[0].code, 550);
    assert!(data.is_none());
    assert_eq!(
        writes,
        [
            "MAIL FROM:<a@b.org>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n",
            "RSET\r\n"
        ]
    );

    // A server that says 354 anyway gets an empty end of data, never the
    // body.
    let replies = b"250 ok\r\n550 5.1.1 no\r\n354 go\r\n554 5.5.1 nothing\r\n";
    let all = [PIPELINING_HOP, &replies[..]].concat();
    let mut server: &[u8] = &all;
    let mut core = pipelining_core(&mut server);
    core.send("a@b.org", &["x@example.com"], b"secret\r\n");
    let (done, writes) = run_writes(&mut core, &mut server);
    let Finished::Sent(rcpts, data) = done else {
        panic!("{done:?}");
    };
    assert_eq!((rcpts[0].code, data), (550, None));
    assert_eq!(writes[1], ".\r\n");
    assert!(!writes.concat().contains("secret"));
}

#[test]
fn with_pipelining_a_refused_sender_answers_every_recipient_and_data_is_not_sent() {
    let replies = b"452 4.3.1 full\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n250 reset\r\n";
    let all = [PIPELINING_HOP, &replies[..]].concat();
    let mut server: &[u8] = &all;
    let mut core = pipelining_core(&mut server);
    core.send("a@b.org", &["x@example.com"], b"hi\r\n");
    let (done, writes) = run_writes(&mut core, &mut server);
    let Finished::Sent(rcpts, data) = done else {
        panic!("{done:?}");
    };
    assert_eq!((rcpts[0].code, data), (452, None));
    assert_eq!(writes.last().map(String::as_str), Some("RSET\r\n"));
}
