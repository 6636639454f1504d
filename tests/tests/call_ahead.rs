//! SMTP Call-Ahead recipient validation (issue 17) against the Postfix
//! instance that plays Microsoft 365: Postfix knows its users
//! (`virtual_mailbox_maps`) and refuses others at RCPT with `550 5.1.1`.
//! The gateway asks it before accepting a recipient on Data 1, passes an
//! unknown user's refusal on, answers the second question from its cache
//! (Postfix's log shows one probe), and applies the profile's failure
//! action when the next hop does not answer. Also: a DSN for mail from
//! the internet carries the original's headers, not its body.

use std::time::Duration;

use breakwater_e2e::{Postfix, Step, StepResult, World, mx_ip, smtplib};

const DOMAIN: &str = "postfix.test";
const SENDER: &str = "sender@internet.example";
const WAIT: Duration = Duration::from_secs(30);

/// Data 1 accepts [`DOMAIN`], routed to a Postfix on `127.4.n.x` that
/// has the mailbox `alice` only.
fn world_with_m365(x: u8, extra: &[&[&str]]) -> (World, Postfix) {
    let w = World::start();
    let pf = Postfix::builder(mx_ip(&w.net, x), DOMAIN)
        .mailbox("alice")
        .start();
    let route = pf.route();
    w.gw.cli_ok(&["smtproutes", "new", DOMAIN, &route]);
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "new",
        DOMAIN,
        "accept",
    ]);
    for cmd in extra {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: call-ahead"]);
    (w, pf)
}

/// One session to Data 1 from `127.5.n.x`: MAIL FROM, the recipients,
/// and DATA when any was accepted.
fn session(w: &World, x: u8, rcpts: &[&str], message_id: &str) -> Vec<StepResult> {
    let mut steps = vec![
        Step::Connect,
        Step::Ehlo,
        Step::Mail {
            from: SENDER.to_string(),
            options: Vec::new(),
        },
    ];
    steps.extend(rcpts.iter().map(|r| Step::Rcpt((*r).to_string())));
    steps.push(Step::Data(
        format!(
            "From: <{SENDER}>\r\nTo: <{}>\r\nMessage-ID: <{message_id}>\r\nSubject: call-ahead\r\n\r\nThe body.\r\n",
            rcpts[0]
        )
        .into_bytes(),
    ));
    steps.push(Step::Quit);
    smtplib::run(w.net.data1_smtp(), w.net.client(x), &steps)
}

fn rcpt_replies(res: &[StepResult]) -> Vec<(Option<u16>, String)> {
    res.iter()
        .filter(|r| r.op == "rcpt")
        .map(|r| (r.code, r.text.clone()))
        .collect()
}

#[test]
fn known_users_are_accepted_unknown_ones_refused_with_the_next_hops_reply_and_answers_are_cached() {
    let (w, pf) = world_with_m365(
        60,
        &[
            &["smtpcallahead", "new", "m365"],
            &["smtpcallahead", "listener", "IncomingMail", "m365"],
        ],
    );
    let res = session(
        &w,
        61,
        &["alice@postfix.test", "ghost@postfix.test"],
        "ca-1@e2e.test",
    );
    let rcpts = rcpt_replies(&res);
    assert_eq!(rcpts[0].0, Some(250), "{res:?}");
    assert_eq!(rcpts[1].0, Some(550), "{res:?}");
    assert!(
        rcpts[1].1.contains("5.1.1") && rcpts[1].1.contains("User unknown"),
        "Postfix's refusal is passed on: {:?}",
        rcpts[1].1
    );
    assert!(
        pf.wait_for_message_id("alice", "ca-1@e2e.test", WAIT)
            .is_some(),
        "the known user's message is delivered"
    );
    w.gw.wait_for_log(
        r"ICID \d+ To: <ghost@postfix\.test> Rejected by SMTP Call-Ahead: '550 5\.1\.1",
        WAIT,
    );

    // Asked again: the answer comes from the cache; Postfix saw one probe.
    let res = session(&w, 62, &["ghost@postfix.test"], "ca-2@e2e.test");
    assert_eq!(rcpt_replies(&res)[0].0, Some(550), "{res:?}");
    let probes = pf.log_lines(r"NOQUEUE: reject: RCPT from .*<ghost@postfix\.test>");
    assert_eq!(probes.len(), 1, "one probe for two questions: {probes:?}");
    let status = w.gw.cli_ok(&["smtpcallahead", "status"]);
    assert!(status.contains("Cache hits: 1"), "{status}");
    let flushed = w.gw.cli_ok(&["smtpcallahead", "flushcache"]);
    assert!(flushed.contains("cache flushed"), "{flushed}");
}

#[test]
fn a_next_hop_that_does_not_answer_gets_the_failure_action() {
    // A static server on a port nothing listens on.
    let (w, _pf) = world_with_m365(
        63,
        &[
            &[
                "smtpcallahead",
                "new",
                "down",
                "--type",
                "static",
                "--servers",
                "127.0.0.1:9",
                "--failure",
                "reject",
            ],
            &["smtpcallahead", "listener", "IncomingMail", "down"],
        ],
    );
    let res = session(&w, 64, &["alice@postfix.test"], "ca-3@e2e.test");
    let rcpts = rcpt_replies(&res);
    assert_eq!(rcpts[0].0, Some(451), "{res:?}");
    assert!(rcpts[0].1.contains("4.4.3"), "{res:?}");

    // Fail open: accepted.
    w.gw.cli_ok(&["smtpcallahead", "edit", "down", "--failure", "accept"]);
    w.gw.cli_ok(&["commit", "e2e: fail open"]);
    let res = session(&w, 65, &["alice@postfix.test"], "ca-4@e2e.test");
    assert_eq!(rcpt_replies(&res)[0].0, Some(250), "{res:?}");
}

#[test]
fn a_dsn_for_mail_from_the_internet_carries_its_headers_not_its_body() {
    // No call-ahead: Postfix refuses the unknown user at delivery, and the
    // DSN goes to the internet sender (routed to the day-one sink).
    let (w, _pf) = world_with_m365(66, &[]);
    let route = w.net.sink_route();
    w.gw.cli_ok(&["smtproutes", "new", "internet.example", &route]);
    w.gw.cli_ok(&["commit", "e2e: the sender's domain"]);
    let res = session(&w, 67, &["ghost@postfix.test"], "ca-dsn@e2e.test");
    assert_eq!(rcpt_replies(&res)[0].0, Some(250), "{res:?}");
    let dsns = w.sink.wait_for(1, WAIT);
    let dsn = &dsns[0];
    assert_eq!(dsn.mail_from, "");
    assert_eq!(dsn.rcpts, [SENDER]);
    let text = String::from_utf8_lossy(&dsn.raw);
    assert!(text.contains("Content-Type: text/rfc822-headers"), "{text}");
    assert!(text.contains("Message-ID: <ca-dsn@e2e.test>"), "{text}");
    assert!(!text.contains("The body."), "the body went back: {text}");
    assert!(!text.contains("message/rfc822"), "{text}");
}
