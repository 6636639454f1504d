//! The commands of a cut-over, against real peers: `suspendlistener` (a
//! new client gets 421, also after a restart of the daemon) and
//! `resumelistener`; `suspenddel` (mail stays queued, `showrecipients` and
//! `tophosts` show it) and `resumedel`; `delivernow <MID>` while
//! suspended; `redirectrecipients host H port P` to another sink;
//! `suspend`/`resume` in `status`; `resetcounters`; a transaction in
//! progress finishing within `suspendlistener`'s delay.

use std::net::SocketAddrV4;

use breakwater_e2e::{
    SINK_PORT, SOON, Sink, SmtpConn, Swaks, World, allow_loopback_next_hops, mid_in_reply, mx_ip,
    simple_message, status_counter, wait_until,
};

/// Sends one message to alice@example.com through IncomingMail; the
/// swaks outcome (the caller checks the replies).
fn send(w: &World, client: u8, message_id: &str) -> breakwater_e2e::SwaksOutcome {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    std::fs::write(
        &path,
        format!(
            "From: <sender@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <{message_id}>\r\nSubject: cut-over {message_id}\r\n\r\nHello.\r\n"
        ),
    )
    .expect("write message");
    Swaks::new(w.net.data1_smtp(), w.net.client(client))
        .from("sender@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .run()
}

/// Sends one message and returns its MID (the gateway must accept it).
fn send_accepted(w: &World, client: u8, message_id: &str) -> u64 {
    let out = send(w, client, message_id);
    let reply = out
        .data_reply()
        .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
    assert_eq!(reply.code, 250, "{}", out.transcript);
    mid_in_reply(&reply.text()).expect("the 250 names the MID")
}

/// The client is turned away with 421 before any transaction.
fn assert_refused(w: &World, client: u8, message_id: &str) {
    let out = send(w, client, message_id);
    let banner = out
        .banner()
        .unwrap_or_else(|| panic!("no greeting:\n{}", out.transcript));
    assert_eq!(banner.code, 421, "{}", out.transcript);
    assert!(
        banner.text().contains("Service temporarily unavailable"),
        "{}",
        out.transcript
    );
    assert!(!out.succeeded(), "{}", out.transcript);
}

#[test]
fn suspendlistener_refuses_with_421_until_resumelistener_even_across_a_restart() {
    let mut w = World::start();

    let answer = w.gw.cli_ok(&["suspendlistener", "IncomingMail", "0"]);
    assert!(
        answer.contains("Receiving suspended for IncomingMail."),
        "{answer}"
    );
    let status = w.gw.cli_ok(&["status"]);
    let line = status
        .lines()
        .find(|l| l.trim_start().starts_with("IncomingMail"))
        .unwrap_or_else(|| panic!("status lists no IncomingMail:\n{status}"));
    assert!(line.contains("Suspended"), "{status}");
    // OutgoingMail still receives: the system is not "Receiving suspended".
    assert!(status.contains("System status: Online"), "{status}");
    assert_refused(&w, 3, "cut-refused@e2e.test");

    // Operational state, kept across a restart of the daemon.
    w.gw.restart();
    assert_refused(&w, 3, "cut-refused-again@e2e.test");

    let answer = w.gw.cli_ok(&["resumelistener", "IncomingMail"]);
    assert!(
        answer.contains("Receiving resumed for IncomingMail."),
        "{answer}"
    );
    w.deliver_inbound(w.net.client(3), "cut-resumed@e2e.test", "resumed");

    // An unknown listener changes nothing.
    let err =
        w.gw.cli(&["suspendlistener", "NoSuchListener"])
            .expect_err("an unknown listener is refused");
    assert!(err.contains("Unknown listener \"NoSuchListener\""), "{err}");

    // suspend / resume: both, in status.
    w.gw.cli_ok(&["suspend", "0"]);
    let status = w.gw.cli_ok(&["status"]);
    assert!(
        status.contains("System status: Receiving and delivery suspended"),
        "{status}"
    );
    assert_refused(&w, 3, "cut-suspended@e2e.test");
    let answer = w.gw.cli_ok(&["resume"]);
    assert!(answer.contains("Mail delivery resumed."), "{answer}");
    assert!(
        w.gw.cli_ok(&["status"]).contains("System status: Online"),
        "resume left something suspended"
    );
}

#[test]
fn suspenddel_keeps_mail_queued_until_resumedel_redirect_and_resetcounters() {
    let w = World::start();
    allow_loopback_next_hops(&w.gw);

    let answer = w.gw.cli_ok(&["suspenddel", "0"]);
    assert!(answer.contains("Mail delivery suspended."), "{answer}");
    assert!(
        w.gw.cli_ok(&["status", "detail"])
            .contains("System status:               Delivery suspended"),
        "status detail does not say delivery is suspended"
    );

    // Accepted, then held: showrecipients and tophosts show it.
    let mid = send_accepted(&w, 4, "cut-held@e2e.test");
    let shown = wait_until(SOON, || {
        let out = w.gw.cli_ok(&["showrecipients", "host", "example.com"]);
        out.contains(&mid.to_string()).then_some(out)
    })
    .expect("showrecipients lists the held message");
    assert!(shown.contains("sender@internet.example"), "{shown}");
    assert!(shown.contains("alice@example.com"), "{shown}");
    let by_sender =
        w.gw.cli_ok(&["showrecipients", "sender", "sender@internet.example"]);
    assert!(by_sender.contains(&mid.to_string()), "{by_sender}");
    let tophosts = w.gw.cli_ok(&["tophosts"]);
    assert!(
        tophosts
            .lines()
            .any(|l| l.contains("example.com") && l.split_whitespace().nth(2) == Some("1")),
        "tophosts shows no active recipient for example.com:\n{tophosts}"
    );
    // delivernow does not override the suspension; it says so.
    let answer = w.gw.cli_ok(&["delivernow", &mid.to_string()]);
    assert!(answer.contains("Mail delivery is suspended"), "{answer}");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("cut-held@e2e.test")),
        "a message went out while delivery was suspended"
    );

    // resumedel: it goes.
    assert!(
        w.gw.cli_ok(&["resumedel"])
            .contains("Mail delivery resumed.")
    );
    w.sink
        .wait_for_message_id("cut-held@e2e.test", SOON)
        .expect("resumedel delivered the held message");
    w.gw.wait_for_log(&format!("Message finished MID {mid} done"), SOON);

    // redirectrecipients, AsyncOS's batch form: held mail goes to another host.
    let other_addr = SocketAddrV4::new(mx_ip(&w.net, 60), SINK_PORT);
    let other = Sink::start_at(other_addr);
    w.gw.cli_ok(&["suspenddel", "0"]);
    let moved = send_accepted(&w, 4, "cut-moved@e2e.test");
    wait_until(SOON, || {
        w.gw.cli_ok(&["showrecipients"])
            .contains(&moved.to_string())
            .then_some(())
    })
    .expect("showrecipients lists the second held message");
    w.gw.cli_ok(&[
        "redirectrecipients",
        "host",
        &other_addr.ip().to_string(),
        "port",
        &other_addr.port().to_string(),
    ]);
    w.gw.cli_ok(&["resumedel"]);
    other
        .wait_for_message_id("cut-moved@e2e.test", SOON)
        .expect("redirectrecipients sent the queued message to the other host");
    w.gw.wait_for_log(&format!("Message finished MID {moved} done"), SOON);
    w.gw.cli_ok(&["redirectrecipients", "clear"]);

    // resetcounters: the Reset column starts again.
    let before = w.gw.cli_ok(&["status", "detail"]);
    assert!(
        status_counter(&before, "Recipients Delivered").0 >= 2,
        "{before}"
    );
    let answer = w.gw.cli_ok(&["resetcounters"]);
    assert!(answer.starts_with("Counters reset: "), "{answer}");
    let after = w.gw.cli_ok(&["status", "detail"]);
    assert_eq!(
        status_counter(&after, "Recipients Delivered").0,
        0,
        "{after}"
    );
    assert_eq!(status_counter(&after, "Messages Received").0, 0, "{after}");
    assert!(
        status_counter(&after, "Messages Received").1 >= 2,
        "{after}"
    );
}

/// AsyncOS's delay: a transaction in progress when the listener is
/// suspended still finishes (250, delivered) while new clients get 421;
/// `suspendlistener` answers once the session has closed.
#[test]
fn a_transaction_in_progress_finishes_within_the_suspendlistener_delay() {
    let w = World::start();
    let to = World::local("alice");
    let (mut conn, banner) =
        SmtpConn::connect(w.net.client(9), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert_eq!(conn.ehlo("client.internet.example").unwrap().code, 250);
    assert_eq!(
        conn.cmd("MAIL FROM:<sender@internet.example>")
            .unwrap()
            .code,
        250
    );
    assert_eq!(conn.cmd(&format!("RCPT TO:<{to}>")).unwrap().code, 250);
    assert_eq!(conn.cmd("DATA").unwrap().code, 354);
    conn.send_raw(&simple_message(
        "sender@internet.example",
        &to,
        "in-flight-at-suspend@e2e.test",
        "sent while the listener is suspended",
    ))
    .unwrap();

    std::thread::scope(|s| {
        // Blocks until the session has closed (or the delay has passed).
        let suspending = s.spawn(|| w.gw.cli(&["suspendlistener", "IncomingMail", "120"]));
        wait_until(SOON, || {
            w.gw.cli_ok(&["status"])
                .lines()
                .any(|l| l.trim_start().starts_with("IncomingMail") && l.contains("Suspended"))
                .then_some(())
        })
        .expect("status shows IncomingMail suspended");

        let (_late, banner) =
            SmtpConn::connect(w.net.client(10), w.net.data1_smtp()).expect("connect");
        assert_eq!(banner.code, 421, "{banner}");

        conn.send_raw(b".\r\n").unwrap();
        let done = conn.read_reply().expect("reply to the end of data");
        assert_eq!(done.code, 250, "{done}");
        // Between transactions the session is told 421 and closed.
        let bye = conn.read_reply().expect("the 421 that ends the session");
        assert_eq!(bye.code, 421, "{bye}");

        let answer = suspending
            .join()
            .expect("the suspendlistener thread")
            .expect("suspendlistener succeeded");
        assert!(
            answer.contains("Receiving suspended for IncomingMail."),
            "{answer}"
        );
    });
    w.sink
        .wait_for_message_id("in-flight-at-suspend@e2e.test", SOON)
        .expect("the acknowledged message is delivered");
}
