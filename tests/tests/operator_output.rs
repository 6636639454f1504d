//! What a sender chooses never reaches the operator's terminal as it is:
//! mail whose Subject, HELO, envelope sender, header values and
//! attachment file name hold escape sequences (`ESC [ 2 J`, an OSC window
//! title), the one-byte C1 CSI and a bidi override is held in the queue
//! and in a quarantine, then looked at with `showmessage`, `quarantine
//! show`, `trace`, `findevent`, `tail` and `grep`. No raw ESC, BEL, C1 or
//! bidi character may come out, and the escaped form must be there.

use breakwater_e2e::{SOON, SmtpConn, World, mid_in_reply};
use regex::escape;

/// Characters that must never come out raw.
const RAW: &[char] = &['\x1b', '\x07', '\u{9b}', '\u{202e}'];
const SUBJECT: &str = "Invoice \x1b[2J\x1b]0;owned\x07 \u{9b}31m \u{202e}fdp.exe";
const FILENAME: &str = "\x1b]0;title\x07report\u{202e}fdp.exe";

fn hostile_message(message_id: &str, hold: bool) -> Vec<u8> {
    format!(
        "From: <friend@internet.example>\r\n\
         To: <keep@held.test>\r\n\
         Subject: {SUBJECT}\r\n\
         Message-ID: <{message_id}>\r\n\
         X-Note: header \x1b[31mred\x1b[0m \u{9b}1m\r\n\
         {}\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         see attached\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"{FILENAME}\"\r\n\
         \r\n\
         AAAA\r\n\
         --b1--\r\n",
        if hold { "X-Hold: yes\r\n" } else { "" }
    )
    .into_bytes()
}

/// What the session let through: (HELO accepted, sender accepted, MID).
fn send(w: &World, rcpt: &str, message_id: &str, hold: bool) -> (bool, bool, u64) {
    let (mut c, banner) = SmtpConn::connect(w.net.client(7), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    // The HELO and the sender as hostile as the parsers allow; the plain
    // forms when they refuse (a refusal is fine, that text never lands).
    let helo_ok = c.ehlo("evil\x1b[2J\u{202e}.example").expect("EHLO").code == 250;
    if !helo_ok {
        assert_eq!(c.ehlo("plain.example").expect("EHLO").code, 250);
    }
    let mail = c
        .cmd("MAIL FROM:<fr\u{202e}iend@internet.example> SMTPUTF8")
        .expect("MAIL");
    let sender_ok = mail.code == 250;
    if !sender_ok {
        let plain = c.cmd("MAIL FROM:<friend@internet.example>").expect("MAIL");
        assert_eq!(plain.code, 250, "{plain}");
    }
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).expect("RCPT");
    assert_eq!(r.code, 250, "{r}");
    assert_eq!(c.cmd("DATA").expect("DATA").code, 354);
    let mut body = hostile_message(message_id, hold);
    body.extend_from_slice(b".\r\n");
    c.send_raw(&body).expect("message");
    let done = c.read_reply().expect("end of data");
    assert_eq!(done.code, 250, "{done}");
    let mid = mid_in_reply(&done.text()).expect("MID in the reply");
    let _ = c.cmd("QUIT");
    (helo_ok, sender_ok, mid)
}

fn assert_clean(what: &str, out: &str) {
    for c in RAW {
        assert!(
            !out.contains(*c),
            "{what} printed a raw {c:?}:\n{}",
            out.escape_debug()
        );
    }
}

#[test]
fn sender_chosen_text_is_escaped_in_every_operator_view() {
    let w = World::start();
    // held.test: accepted, routed to a port nobody listens on, retried
    // hourly, so its message stays in the queue for `showmessage`.
    let dead = format!("{}:1", w.net.sink_route().split(':').next().expect("ip"));
    for cmd in [
        vec![
            "bounceconfig",
            "new",
            "hourly",
            "--initial_retry",
            "3600",
            "--max_retry_timeout",
            "3600",
        ],
        vec![
            "destconfig",
            "new",
            "held.test",
            "--bounce_profile",
            "hourly",
        ],
        vec!["smtproutes", "new", "held.test", dead.as_str()],
        vec![
            "listenerconfig",
            "edit",
            "IncomingMail",
            "rcptaccess",
            "new",
            "held.test",
            "accept",
        ],
    ] {
        w.gw.cli_ok(&cmd);
    }
    let hold = "hold_it: if header('X-Hold') == 'yes' {\n  quarantine('Policy');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], hold)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: operator output"]);

    let (helo_ok, sender_ok, queued) = send(&w, "keep@held.test", "queued@e2e.test", false);
    let (_, _, held) = send(&w, "alice@example.com", "held@e2e.test", true);
    w.gw.wait_for_log(
        &format!(r"Message {queued} to RID \[0\] pending till"),
        SOON,
    );
    w.gw.wait_for_log(
        &escape(&format!("MID {held} quarantined to \"Policy\"")),
        SOON,
    );

    // The message's own head, as the queue and the quarantine show it.
    let shown = w.gw.cli_ok(&["showmessage", &queued.to_string()]);
    let quarantined = w.gw.cli_ok(&["quarantine", "show", &held.to_string()]);
    for (what, out) in [("showmessage", &shown), ("quarantine show", &quarantined)] {
        assert_clean(what, out);
        for escaped in [
            "\\u{1b}[2J\\u{1b}]0;owned\\u{7}",
            "\\u{9b}31m",
            "\\u{202e}fdp.exe",
            "header \\u{1b}[31mred",
        ] {
            assert!(out.contains(escaped), "{what} lacks {escaped}:\n{out}");
        }
    }
    // `showmessage` shows the body too: the attachment's file name.
    let filename = "\\u{1b}]0;title\\u{7}report\\u{202e}fdp.exe";
    assert!(shown.contains(filename), "{shown}");
    if helo_ok {
        assert!(shown.contains("evil\\u{1b}[2J\\u{202e}.example"), "{shown}");
    }
    if sender_ok {
        assert!(
            shown.contains("fr\\u{202e}iend@internet.example"),
            "{shown}"
        );
    }

    // A trace of the same message, pasted as an operator would.
    let pasted = String::from_utf8(hostile_message("traced@e2e.test", true)).expect("utf-8");
    let traced =
        w.gw.cli_input(
            &[
                "trace",
                "--listener",
                "IncomingMail",
                "--remote-ip",
                "127.0.0.9",
                "--from",
                "friend@internet.example",
                "--to",
                "alice@example.com",
                "--subject",
                SUBJECT,
            ],
            &pasted,
        )
        .expect("trace");
    assert_clean("trace", &traced);
    assert!(traced.contains("quarantine"), "{traced}");

    // The logs: the Subject line and the session lines of both messages.
    let found = w.gw.cli_ok(&["findevent", "--mid", &queued.to_string()]);
    assert!(found.contains("Subject"), "{found}");
    let tail = w.gw.cli_ok(&["tail", "200"]);
    let grep = w.gw.cli_ok(&["grep", "Subject|EHLO|HELO|From"]);
    for (what, out) in [("findevent", &found), ("tail", &tail), ("grep", &grep)] {
        assert_clean(what, out);
    }
    assert!(grep.contains(&format!("MID {held} Subject")), "{grep}");
}
