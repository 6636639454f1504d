//! The Threat Defense Connector end to end (seed 004, issue 6): dnsmasq
//! gives each Message Intake domain an MX on loopback, the intake is a
//! scripted SMTP server on port 25 offering STARTTLS (copies go over TLS
//! 1.2 or newer only), the real mail goes to the day-one smtp-sink by SMTP
//! route, and mail enters on Data 1 (IncomingMail, public) from a client.
//!
//! - the three per-policy choices (global, custom, no), and each copy is
//!   the message as received plus `X-IronPort-RemoteIP` first;
//! - each row of the seed's retry table, counted at the intake;
//! - the age limit (shortened with `threatdefenseconfig setup --max-age`),
//!   with the real message unaffected and no DSN to the sender;
//! - at least 3 connections while the.tdc.queue has a backlog, closed
//!   once it is empty;
//! - `tophosts` and `status detail` against what the intakes saw, and the
//!   seed's log lines.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use breakwater_e2e::{
    Dns, Intake, SOON, Script, ScriptedServer, TestCert, TestNet, TophostsRow, World, mid_in_reply,
    mx_ip, parse_tophosts, simple_message, smtplib, status_counter, wait_until,
};
use regex::{Regex, escape};

/// The global Message Intake Address, and its domain's mail exchanger.
const INTAKE: &str = "intake@tdc.test";
const INTAKE_MX: &str = "mx.tdc.test";
/// The sender of the real mail: example.com is routed to the sink, so a
/// DSN to it would be seen there.
const SENDER: &str = "alice@example.com";
/// The client that sends the mail (`127.5.n.CLIENT`).
const CLIENT: u8 = 7;

const SEED_SUCCESS: &str =
    "successfully delivered for scanning with Cisco Secure Email Threat Defense";
const SEED_FAILED: &str = "delivery failed to Cisco Secure Email Threat Defense";

/// The TDC's settings and the DEFAULT policy's choice, committed. The
/// intakes' MX records point at loopback, which delivery by MX refuses
/// unless told otherwise (docs/security.md).
fn configure(w: &World, extra: &[&[&str]]) {
    w.gw.cli_ok(&["threatdefenseconfig", "enable", INTAKE]);
    w.gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--allow-loopback-next-hops",
        "yes",
    ]);
    for cmd in extra {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: Threat Defense Connector"]);
}

/// A certificate for an intake's mail exchanger, from a CA made for the
/// test, and the command that makes the gateway trust that CA: copies are
/// delivered only to an intake whose certificate verifies.
fn intake_cert(host: &str) -> (TestCert, TestCert, Vec<String>) {
    let (cert, ca) = TestCert::signed_by_new_ca(host);
    let name = format!("ca-{}", host.replace('.', "-"));
    let import = ["certconfig", "certauthority", "import"]
        .map(str::to_string)
        .into_iter()
        .chain([name, ca.cert.display().to_string()])
        .collect();
    (cert, ca, import)
}

/// Sends one message per `(recipient, Message-ID)` to Data 1 from the
/// test's client, up to 10 per SMTP session (the mail flow policy's
/// limit); returns the MIDs in order.
fn send_in(w: &World, messages: &[(&str, &str)]) -> Vec<u64> {
    let mut mids = Vec::new();
    for chunk in messages.chunks(10) {
        let mut steps = vec![smtplib::Step::Connect, smtplib::Step::Ehlo];
        for (rcpt, id) in chunk {
            steps.push(smtplib::Step::Mail {
                from: SENDER.to_string(),
                options: Vec::new(),
            });
            steps.push(smtplib::Step::Rcpt((*rcpt).to_string()));
            steps.push(smtplib::Step::Data(simple_message(
                SENDER,
                rcpt,
                id,
                "Dear Bob,\n.a line that starts with a dot\nsee you\n",
            )));
        }
        steps.push(smtplib::Step::Quit);
        let res = smtplib::run(w.net.data1_smtp(), w.net.client(CLIENT), &steps);
        let sent: Vec<u64> = res
            .iter()
            .filter(|r| r.op == "data")
            .map(|r| {
                assert_eq!(r.code, Some(250), "Data 1 refused a message: {res:?}");
                mid_in_reply(&r.text).expect("MID in the DATA reply")
            })
            .collect();
        assert_eq!(sent.len(), chunk.len(), "{res:?}");
        mids.extend(sent);
    }
    mids
}

/// The MID of the copy of `mid`, from the seed's "enqueued" line (which
/// names the original's Message-ID).
fn copy_of(w: &World, mid: u64, message_id: &str) -> u64 {
    let line = w.gw.wait_for_log(
        &format!(
            r"Info: TDC: MID (\d+) with Message-ID '<{}>' enqueued for delivery to Cisco Secure Email Threat Defense \(copy of MID {mid}\)",
            escape(message_id)
        ),
        SOON,
    );
    Regex::new(r"TDC: MID (\d+) with")
        .expect("regex")
        .captures(&line)
        .and_then(|c| c[1].parse().ok())
        .expect("copy MID")
}

/// The DCID of the connection that carried `copy` (the seed's
/// `TDC: Delivery start DCID <d> MID <copy>`).
fn delivery_dcid(w: &World, copy: u64) -> u64 {
    let line = w.gw.wait_for_log(
        &format!(r"Info: TDC: Delivery start DCID (\d+) MID {copy}$"),
        SOON,
    );
    Regex::new(r"DCID (\d+)")
        .expect("regex")
        .captures(&line)
        .and_then(|c| c[1].parse().ok())
        .expect("DCID")
}

/// The seed's lines for a copy delivered over `dcid` to `ip`, from
/// the enqueue to `Message finished`.
fn assert_seed_success_lines(w: &World, copy: u64, ip: Ipv4Addr) {
    let dcid = delivery_dcid(w, copy);
    let d2 = w.net.data2();
    for pattern in [
        format!(
            r"Info: TDC: New SMTP DCID {dcid} interface {} address {} port 25$",
            escape(&d2.to_string()),
            escape(&ip.to_string())
        ),
        format!(r"Info: DCID {dcid} TLS success protocol TLSv1\.[23] cipher \S+"),
        format!(r"Info: TDC: MID {copy} {SEED_SUCCESS}$"),
        format!(r"Info: Message finished MID {copy} done$"),
    ] {
        w.gw.wait_for_log(&pattern, SOON);
    }
}

/// The `tophosts` row of `host`.
fn tophosts_row(w: &World, host: &str) -> TophostsRow {
    let table = w.gw.cli_ok(&["tophosts"]);
    parse_tophosts(&table)
        .into_iter()
        .find(|r| r.host == host)
        .unwrap_or_else(|| panic!("tophosts has no {host} row:\n{table}"))
}

/// `(Copies Delivered, Copies Failed, Copies Expired)` since start.
fn tdc_counters(w: &World) -> (u64, u64, u64) {
    let status = w.gw.cli_ok(&["status", "detail"]);
    assert!(
        status.contains("Threat Defense Connector"),
        "status detail has no Threat Defense Connector section:\n{status}"
    );
    (
        status_counter(&status, "Copies Delivered").1,
        status_counter(&status, "Copies Failed").1,
        status_counter(&status, "Copies Expired").1,
    )
}

/// No DSN was made, and the sink got exactly the real messages.
fn assert_no_dsn(w: &World, real: usize) {
    assert!(
        w.gw.log_lines(r"was generated for bounce of MID")
            .is_empty(),
        "a DSN was generated: {:?}",
        w.gw.log_lines(r"was generated for bounce of MID")
    );
    let got = w.sink.messages();
    assert_eq!(
        got.len(),
        real,
        "the sink (the sender's next hop too) got {} messages for {real} real ones: {:?}",
        got.len(),
        got.iter().map(|m| m.message_id()).collect::<Vec<_>>()
    );
}

/// Global, custom, no and "use default": each message's copy goes where
/// its incoming policy says (a new policy, FOLLOW, follows DEFAULT), and is the message as received (the gateway's Received:
/// header included, exactly what the real next hop got) with
/// `X-IronPort-RemoteIP: <client>` first. Logs, `tophosts` and `status
/// detail` agree with the intakes.
#[test]
fn each_policy_choice_sends_the_received_message_plus_the_client_ip_where_it_says() {
    let net = TestNet::new();
    let (global_ip, custom_ip) = (mx_ip(&net, 40), mx_ip(&net, 41));
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, global_ip)
        .mx("second-tdc.test", "mx.second-tdc.test", 10)
        .host_record("mx.second-tdc.test", custom_ip)
        .start();
    let w = World::with_dns(net, dns);
    let (global_cert, _global_ca, trust_global) = intake_cert(INTAKE_MX);
    let (custom_cert, _custom_ca, trust_custom) = intake_cert("mx.second-tdc.test");
    let trust_global: Vec<&str> = trust_global.iter().map(String::as_str).collect();
    let trust_custom: Vec<&str> = trust_custom.iter().map(String::as_str).collect();
    configure(
        &w,
        &[
            &trust_global,
            &trust_custom,
            &[
                "policyconfig",
                "new",
                "incoming",
                "SALES",
                "recipient",
                "sales@",
            ],
            &[
                "policyconfig",
                "edit",
                "incoming",
                "SALES",
                "threatdefense",
                "custom",
                "seg@second-tdc.test",
            ],
            &[
                "policyconfig",
                "new",
                "incoming",
                "PRIVATE",
                "recipient",
                "private@",
            ],
            &[
                "policyconfig",
                "edit",
                "incoming",
                "PRIVATE",
                "threatdefense",
                "no",
            ],
            &[
                "policyconfig",
                "edit",
                "incoming",
                "DEFAULT",
                "threatdefense",
                "global",
            ],
            &[
                "policyconfig",
                "new",
                "incoming",
                "FOLLOW",
                "recipient",
                "follow@",
            ],
        ],
    );
    let detail =
        w.gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"]);
    assert!(detail.contains("seg@second-tdc.test"), "{detail}");
    // A global intake a little slow to answer, as a busy one is.
    let global = Intake::start(
        global_ip,
        INTAKE_MX,
        &global_cert,
        Duration::from_millis(500),
    );
    let custom = Intake::start(
        custom_ip,
        "mx.second-tdc.test",
        &custom_cert,
        Duration::ZERO,
    );

    let mids = send_in(
        &w,
        &[
            ("bob@example.com", "to-default@e2e.test"),
            ("sales@example.com", "to-sales@e2e.test"),
            ("private@example.com", "to-private@e2e.test"),
            ("follow@example.com", "to-follow@e2e.test"),
        ],
    );
    let (bob, sales, private, follow) = (mids[0], mids[1], mids[2], mids[3]);
    let real = w.sink.wait_for(4, SOON);
    let bob_copy = copy_of(&w, bob, "to-default@e2e.test");
    let sales_copy = copy_of(&w, sales, "to-sales@e2e.test");
    let follow_copy = copy_of(&w, follow, "to-follow@e2e.test");
    for copy in [bob_copy, sales_copy, follow_copy] {
        w.gw.wait_for_log(&format!(r"Message finished MID {copy} done$"), SOON);
    }
    for mid in [bob, sales, private, follow] {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done$"), SOON);
    }
    // Message tracking of the original shows the seed's one line; the
    // copy's own lines are internal detail (seed 004).
    let tracked = w.gw.cli_ok(&["findevent", "--mid", &bob.to_string()]);
    let seed_line = format!("TDC: Message {bob} {SEED_SUCCESS}.");
    assert!(
        tracked
            .lines()
            .any(|l| l.trim_start().ends_with(&seed_line)),
        "no {seed_line:?} in\n{tracked}"
    );
    assert!(
        !tracked.contains(&format!(
            "Delivery start DCID {} MID {bob_copy}",
            delivery_dcid(&w, bob_copy)
        )),
        "{tracked}"
    );

    // Each intake got its policy's copy, and only that one (both copies
    // are logged as delivered by now).
    let at_global = global.messages();
    let at_custom = custom.messages();
    let summary = |m: &[breakwater_e2e::IntakeMessage]| {
        let mut s = m
            .iter()
            .map(|m| (m.rcpts.clone(), m.message_id()))
            .collect::<Vec<_>>();
        s.sort();
        s
    };
    assert_eq!(
        summary(&at_global),
        [
            (
                vec![INTAKE.to_string()],
                Some("to-default@e2e.test".to_string())
            ),
            (
                vec![INTAKE.to_string()],
                Some("to-follow@e2e.test".to_string())
            )
        ],
        "the global intake got other than the copies of DEFAULT and of FOLLOW (which uses DEFAULT's setting)"
    );
    assert_eq!(
        summary(&at_custom),
        [(
            vec!["seg@second-tdc.test".to_string()],
            Some("to-sales@e2e.test".to_string())
        )],
        "the custom intake got other than the SALES policy's copy"
    );

    // No: no copy of the PRIVATE policy's message, now or a little later.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        w.gw.log_lines(&format!(r"TDC: .*\(copy of MID {private}\)"))
            .is_empty(),
        "a copy of MID {private}, whose policy says no"
    );
    assert_eq!(global.messages().len() + custom.messages().len(), 3);

    // The copy is what the real next hop got (the gateway's Received:
    // header included) with the client IP header first; over TLS 1.2+.
    let client_ip = w.net.client(CLIENT);
    let default_copy = at_global
        .iter()
        .find(|m| m.message_id().as_deref() == Some("to-default@e2e.test"))
        .expect("DEFAULT's copy at the global intake");
    for (copy, id) in [
        (default_copy, "to-default@e2e.test"),
        (&at_custom[0], "to-sales@e2e.test"),
    ] {
        let original = real
            .iter()
            .find(|m| m.message_id().as_deref() == Some(id))
            .unwrap_or_else(|| panic!("the sink has no {id}"));
        assert!(
            String::from_utf8_lossy(&original.raw).starts_with("Received: "),
            "the real message lacks the gateway's Received: header first:\n{}",
            String::from_utf8_lossy(&original.raw)
        );
        let mut expected = format!("X-IronPort-RemoteIP: {client_ip}\r\n").into_bytes();
        expected.extend_from_slice(&original.raw);
        assert_eq!(
            String::from_utf8_lossy(&copy.raw),
            String::from_utf8_lossy(&expected),
            "the copy of {id} is not the received message plus X-IronPort-RemoteIP"
        );
        assert!(
            matches!(copy.tls.as_deref(), Some("TLSv1.2" | "TLSv1.3")),
            "the copy of {id} came over {:?}",
            copy.tls
        );
        assert!(
            original.header("X-IronPort-RemoteIP").is_none(),
            "the real message {id} was altered with the TDC header"
        );
    }

    // The seed's log lines, for each copy.
    assert_seed_success_lines(&w, bob_copy, global_ip);
    assert_seed_success_lines(&w, sales_copy, custom_ip);

    // The operator's view equals what the intakes saw.
    let row = tophosts_row(&w, "the.tdc.queue");
    let received = (global.messages().len() + custom.messages().len()) as u64;
    assert_eq!(
        (row.delivered, row.soft, row.hard, row.active),
        (received, 0, 0, 0),
        "the.tdc.queue in tophosts: {row:?}"
    );
    assert_eq!(tophosts_row(&w, "example.com").delivered, 4);
    assert_eq!(tdc_counters(&w), (received, 0, 0), "status detail");
    assert_no_dsn(&w, 4);
}

/// One row of the retry table: the intake address (its policy is the
/// recipient's local part), what is expected of it.
struct Row {
    /// Local part of the real recipient and of the intake address.
    name: &'static str,
    /// The intake's domain.
    domain: &'static str,
    /// Attempts the intake should see.
    attempts: usize,
    /// The end of the seed's failure line (a regex), `None` for success.
    failure: Option<&'static str>,
    /// A hard bounce's response, as the copy's `Bounced: ... - Bounced by
    /// destination server with response: ...` line gives it (a regex).
    response: Option<&'static str>,
}

/// The seed's retry table, one row at a time: 5xx except 503/552 → no
/// retry; 4xx, 503 and 552 → one retry; TLS error → no retry; refused
/// connection → one retry; NXDOMAIN → no connection at all. The real mail
/// is never touched, the sender never gets a DSN, and `tophosts` and
/// `status detail` count what the intake saw.
#[test]
fn the_seed_retry_table_at_the_intake() {
    let net = TestNet::new();
    let (ip, tls_ip, down_ip) = (mx_ip(&net, 50), mx_ip(&net, 51), mx_ip(&net, 52));
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, ip)
        .mx("tls-broken.test", "mx.tls-broken.test", 10)
        .host_record("mx.tls-broken.test", tls_ip)
        .mx("down.test", "mx.down.test", 10)
        .host_record("mx.down.test", down_ip)
        .start();
    let w = World::with_dns(net, dns);
    let rows = [
        Row {
            name: "ok",
            domain: "tdc.test",
            attempts: 1,
            failure: None,
            response: None,
        },
        Row {
            name: "data451",
            domain: "tdc.test",
            attempts: 2,
            failure: Some(r".*451 4\.3\.0 Try again later"),
            response: None,
        },
        Row {
            name: "rcpt450",
            domain: "tdc.test",
            attempts: 2,
            failure: Some(r".*450 4\.2\.1 Intake busy"),
            response: None,
        },
        Row {
            name: "data503",
            domain: "tdc.test",
            attempts: 2,
            failure: Some(r" Hard Bounced\.$"),
            response: Some(r"503 5\.5\.1 Bad sequence"),
        },
        Row {
            name: "data552",
            domain: "tdc.test",
            attempts: 2,
            failure: Some(r" Hard Bounced\.$"),
            response: Some(r"552 5\.3\.4 Message too big"),
        },
        Row {
            name: "rcpt550",
            domain: "tdc.test",
            attempts: 1,
            failure: Some(r" Hard Bounced\.$"),
            response: Some(r"550 5\.1\.1 No such intake"),
        },
        Row {
            name: "tls",
            domain: "tls-broken.test",
            attempts: 1,
            failure: Some(r" ?TLS error"),
            response: None,
        },
        Row {
            name: "refused",
            domain: "down.test",
            attempts: 2,
            failure: Some(r".*"),
            response: None,
        },
        Row {
            name: "nx",
            domain: "nx.test",
            attempts: 0,
            failure: Some(r" Hard Bounced\.$"),
            response: Some(
                r"5\.1\.2 - Bad destination host \('000', \['DNS Hard Error looking up nx\.test \(MX\):  NXDomain'\]\)$",
            ),
        },
    ];
    // One custom policy per row: recipient <name>@ → intake <name>@<domain>.
    let (cert, _ca, trust) = intake_cert(INTAKE_MX);
    let mut cmds: Vec<Vec<String>> = vec![trust];
    for r in &rows {
        let policy = r.name.to_uppercase();
        cmds.push(
            ["policyconfig", "new", "incoming", &policy, "recipient"]
                .iter()
                .map(|s| (*s).to_string())
                .chain([format!("{}@", r.name)])
                .collect(),
        );
        cmds.push(
            [
                "policyconfig",
                "edit",
                "incoming",
                &policy,
                "threatdefense",
                "custom",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .chain([format!("{}@{}", r.name, r.domain)])
            .collect(),
        );
    }
    let cmd_refs: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let slices: Vec<&[&str]> = cmd_refs.iter().map(Vec::as_slice).collect();
    configure(&w, &slices);

    let intake = Script::new(ip, INTAKE_MX)
        .starttls(&cert)
        .data("^data451@", &["451 4.3.0 Try again later"])
        .data("^data503@", &["503 5.5.1 Bad sequence of commands"])
        .data("^data552@", &["552 5.3.4 Message too big for system"])
        .rcpt("^rcpt450@", &["450 4.2.1 Intake busy"])
        .rcpt("^rcpt550@", &["550 5.1.1 No such intake address"])
        .start();
    let broken = Script::new(tls_ip, "mx.tls-broken.test")
        .broken_starttls()
        .start();

    let mut copies = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let id = format!("row-{}@e2e.test", r.name);
        let rcpt = format!("{}@example.com", r.name);
        let mid = send_in(&w, &[(&rcpt, &id)])[0];
        let copy = copy_of(&w, mid, &id);
        copies.push(copy);
        let started = Instant::now();
        w.gw.wait_for_log(&format!(r"Message finished MID {copy} done$"), SOON);
        let took = started.elapsed();
        let address = format!("{}@{}", r.name, r.domain);
        let seen = match r.domain {
            "tdc.test" => rcpt_attempts(&intake, &address),
            "tls-broken.test" => broken.events_named("connect").len(),
            "down.test" => w
                .gw
                .log_lines(&format!(
                    r"Info: TDC: Connection Error: DCID \d+ domain: the\.tdc\.queue IP: {} port: 25 ",
                    escape(&down_ip.to_string())
                ))
                .len(),
            _ => w
                .gw
                .log_lines(&format!(r"TDC: Delivery start DCID \d+ MID {copy}$"))
                .len(),
        };
        assert_eq!(
            seen, r.attempts,
            "row {} ({address}): attempts seen (copy MID {copy}, done in {took:?})",
            r.name
        );
        match r.failure {
            None => {
                logged(&w, &format!(r"Info: TDC: MID {copy} {SEED_SUCCESS}$"));
            }
            Some(tail) => {
                let line = logged(&w, &format!(r"Info: TDC: MID {copy} {SEED_FAILED}:{tail}"));
                let retried = w.gw.log_lines(&format!(
                    r"TDC: MID {copy} delivery to .* will be retried once"
                ));
                assert_eq!(
                    retried.len(),
                    r.attempts.saturating_sub(1),
                    "row {}: retries logged ({line})",
                    r.name
                );
            }
        }
        // A hard bounce: the copy's recipient line, once, as seed 004.
        let bounced =
            w.gw.log_lines(&format!(r"Bounced: DCID \d+ MID {copy} to RID"));
        match r.response {
            Some(response) => {
                assert_eq!(bounced.len(), 1, "row {}: {bounced:?}", r.name);
                logged(
                    &w,
                    &format!(
                        r"Info: Bounced: DCID \d+ MID {copy} to RID 0 - Bounced by destination server with response: {response}"
                    ),
                );
            }
            None => assert!(bounced.is_empty(), "row {}: {bounced:?}", r.name),
        }
        // The real message went on, whatever happened to the copy.
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done$"), SOON);
        w.sink.wait_for(i + 1, SOON);
    }

    // The TLS row: the handshake failed, no transaction was attempted.
    assert!(
        broken.events_named("mail").is_empty(),
        "mail was sent to the intake whose TLS failed: {}",
        broken.event_tail(10)
    );
    // NXDOMAIN: seed 004's sequence, in order, at once (no retry).
    let nx = copies[rows.len() - 1];
    let log = w.gw.mail_log();
    let at = |pattern: &str| {
        let re = Regex::new(pattern).expect("pattern");
        log.lines()
            .position(|l| re.is_match(l))
            .unwrap_or_else(|| panic!("no line /{pattern}/ in the mail log"))
    };
    let sequence = [
        at(r"Info: DNS Error nx\.test MX - NXDomain$"),
        at(
            r"Info: TDC: Hard bounced - 5\.1\.2 - Bad destination host \('000', 'DNS Hard Error looking up nx\.test \(MX\):  NXDomain'\)",
        ),
        at(&format!(
            r"Info: TDC: MID {nx} delivery failed to Cisco Secure Email Threat Defense: Hard Bounced\.$"
        )),
        at(&format!(
            r"Info: Bounced: DCID 0 MID {nx} to RID 0 - Bounced by destination server with response: 5\.1\.2 - Bad destination host"
        )),
    ];
    assert!(
        sequence.is_sorted(),
        "seed 004's NXDOMAIN lines out of order: {sequence:?}"
    );
    assert!(
        w.gw.log_lines(&format!(r"TDC: Delivery start DCID \d+ MID {nx}$"))
            .is_empty(),
        "the NXDOMAIN copy was delivered somewhere"
    );
    // Over TLS only, every transaction the intake saw.
    for c in intake.connections() {
        assert_eq!(c.plain_mails, 0, "a copy offered in plain text: {c:?}");
    }

    // The operator's view: Deliv. Recip. is what the intake accepted;
    // the failures are the hard bounces, the retries the soft ones.
    let failed = rows.iter().filter(|r| r.failure.is_some()).count() as u64;
    let retries = rows
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.attempts.saturating_sub(1) as u64)
        .sum::<u64>();
    let accepted = intake.accepted().len() as u64;
    assert_eq!(accepted, 1);
    let row = tophosts_row(&w, "the.tdc.queue");
    assert_eq!(
        (row.delivered, row.soft, row.hard, row.active),
        (accepted, retries, failed, 0),
        "the.tdc.queue in tophosts: {row:?}"
    );
    assert_eq!(tdc_counters(&w), (accepted, failed, 0), "status detail");
    assert_no_dsn(&w, rows.len());
}

/// The mail log line matching `pattern`, which must be there already.
fn logged(w: &World, pattern: &str) -> String {
    w.gw.log_lines(pattern)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            let log = w.gw.mail_log();
            let lines: Vec<&str> = log.lines().collect();
            panic!(
                "no mail log line matching /{pattern}/; last lines:\n{}",
                lines[lines.len().saturating_sub(30)..].join("\n")
            )
        })
}

/// RCPT commands for `address` the server saw: one per attempt.
fn rcpt_attempts(server: &ScriptedServer, address: &str) -> usize {
    server
        .events_named("rcpt")
        .iter()
        .filter(|e| e["to"] == address)
        .count()
}

/// The intake is down (nothing listens on its MX) and copies may wait 3 s:
/// the real message is delivered at once, unaltered; the copy leaves the
/// queue after about 3 s with the expired line, though its retry was not
/// due yet; the sender never hears of it.
#[test]
fn intake_down_the_real_mail_goes_on_and_the_copy_leaves_at_the_age_limit() {
    let net = TestNet::new();
    let down_ip = mx_ip(&net, 60);
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, down_ip)
        .start();
    let w = World::with_dns(net, dns);
    configure(
        &w,
        &[
            &["threatdefenseconfig", "setup", "--max-age", "3"],
            &[
                "policyconfig",
                "edit",
                "incoming",
                "DEFAULT",
                "threatdefense",
                "global",
            ],
            // The copy's one retry waits longer than its age limit.
            &[
                "deliveryconfig",
                "retry",
                "--initial-secs",
                "30",
                "--max-secs",
                "60",
            ],
        ],
    );
    let print = w.gw.cli_ok(&["threatdefenseconfig", "print"]);
    assert!(
        print.contains("Maximum time in the.tdc.queue: 3 seconds"),
        "{print}"
    );

    let started = Instant::now();
    let mid = send_in(&w, &[("bob@example.com", "intake-down@e2e.test")])[0];
    let copy = copy_of(&w, mid, "intake-down@e2e.test");
    let real = w
        .sink
        .wait_for_message_id("intake-down@e2e.test", SOON)
        .expect("the real message reached the sink");
    assert!(
        real.header("X-IronPort-RemoteIP").is_none(),
        "the real message carries the TDC header"
    );
    w.gw.wait_for_log(
        &format!(
            r"Info: TDC: Connection Error: DCID \d+ domain: the\.tdc\.queue IP: {} port: 25 ",
            escape(&down_ip.to_string())
        ),
        SOON,
    );
    let line = w.gw.wait_for_log(
        &format!(r"Info: TDC: MID {copy} {SEED_FAILED}: message expired after 3 seconds in the\.tdc\.queue"),
        Duration::from_secs(20),
    );
    let left = started.elapsed();
    w.gw.wait_for_log(&format!(r"Message finished MID {copy} done$"), SOON);
    let refused =
        w.gw.log_lines(r"Info: TDC: Connection Error: DCID \d+ domain: the\.tdc\.queue ");
    assert_eq!(
        refused.len(),
        1,
        "attempts before the copy expired: {refused:?}"
    );
    assert!(
        left < Duration::from_secs(6),
        "the copy left the.tdc.queue {left:?} after it was sent, for a 3 s age limit ({line})"
    );
    assert_eq!(tdc_counters(&w), (0, 0, 1), "status detail");
    let row = tophosts_row(&w, "the.tdc.queue");
    assert_eq!((row.delivered, row.active), (0, 0), "{row:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert_no_dsn(&w, 1);
}

/// A copy waiting for its retry (the intake is down) is one active
/// recipient of `the.tdc.queue` in `tophosts`, as in seed 004's row
/// `5   the.tdc.queue   1   0   104,163 0   0`: never a row for the intake
/// address's domain, while it is queued or after.
#[test]
fn a_queued_copy_is_counted_under_the_tdc_queue_in_tophosts() {
    let net = TestNet::new();
    let down_ip = mx_ip(&net, 61);
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, down_ip)
        .start();
    let w = World::with_dns(net, dns);
    configure(
        &w,
        &[
            &[
                "policyconfig",
                "edit",
                "incoming",
                "DEFAULT",
                "threatdefense",
                "global",
            ],
            // The copy's one retry waits far longer than this test does.
            &[
                "deliveryconfig",
                "retry",
                "--initial-secs",
                "600",
                "--max-secs",
                "600",
            ],
        ],
    );
    let mid = send_in(&w, &[("bob@example.com", "queued-copy@e2e.test")])[0];
    let copy = copy_of(&w, mid, "queued-copy@e2e.test");
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done$"), SOON);
    w.gw.wait_for_log(
        &format!(r"Info: TDC: MID {copy} delivery to Cisco Secure Email Threat Defense will be retried once"),
        SOON,
    );

    let table = w.gw.cli_ok(&["tophosts"]);
    let rows = parse_tophosts(&table);
    let row = tophosts_row(&w, "the.tdc.queue");
    assert_eq!(
        (row.active, row.conn_out, row.delivered, row.hard),
        (1, 0, 0, 0),
        "the.tdc.queue while the copy waits:\n{table}"
    );
    assert!(
        rows.iter().all(|r| r.host != "tdc.test"),
        "the intake's domain has a row of its own:\n{table}"
    );
    assert_eq!(tophosts_row(&w, "example.com").delivered, 1, "{table}");
    // The seed's row, column for column (the web UI reads this layout).
    let line = table
        .lines()
        .find(|l| l.contains("the.tdc.queue"))
        .unwrap_or_else(|| panic!("no the.tdc.queue line:\n{table}"));
    assert!(
        Regex::new(r"^\d+ +\*?the\.tdc\.queue +1 +0 +0 +\d+ +0$")
            .expect("pattern")
            .is_match(line),
        "{line:?}"
    );
    assert_no_dsn(&w, 1);
}

/// A backlog in the.tdc.queue: 12 copies for an intake that takes a
/// second to answer each; the intake counts at least 3 connections open at
/// once, all over TLS, all closed once the queue is empty; `tophosts`
/// counts what it accepted.
#[test]
fn a_backlog_is_carried_by_at_least_three_connections() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 70);
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, ip)
        .start();
    let w = World::with_dns(net, dns);
    let (cert, _ca, trust) = intake_cert(INTAKE_MX);
    let trust: Vec<&str> = trust.iter().map(String::as_str).collect();
    configure(
        &w,
        &[
            &trust,
            &[
                "policyconfig",
                "edit",
                "incoming",
                "DEFAULT",
                "threatdefense",
                "global",
            ],
        ],
    );
    let intake = Script::new(ip, INTAKE_MX)
        .starttls(&cert)
        .data_delay(Duration::from_secs(1))
        .start();

    let ids: Vec<String> = (0..12).map(|i| format!("backlog-{i}@e2e.test")).collect();
    let messages: Vec<(&str, &str)> = ids
        .iter()
        .map(|id| ("bob@example.com", id.as_str()))
        .collect();
    let mids = send_in(&w, &messages);
    w.sink.wait_for(12, SOON);
    let accepted = intake.wait_for_accepted(12, SOON);
    let mut got: Vec<String> = intake.accepted_ids();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "the intake got other than one copy of each");
    assert!(
        intake.max_open() >= 3,
        "at most {} connections were open at once with a backlog of 12 copies; events:\n{}",
        intake.max_open(),
        intake.event_tail(60)
    );
    for (mid, id) in mids.iter().zip(&ids) {
        let copy = copy_of(&w, *mid, id);
        w.gw.wait_for_log(&format!(r"Message finished MID {copy} done$"), SOON);
    }
    // Closed once the queue is empty: every connection said QUIT.
    let closed = wait_until(Duration::from_secs(10), || {
        let conns = intake.events_named("connect").len();
        let quits = intake.events_named("quit").len();
        (conns == quits).then_some(())
    });
    assert!(
        closed.is_some(),
        "connections left open after the queue emptied:\n{}",
        intake.event_tail(40)
    );
    for c in intake.connections() {
        assert!(
            matches!(c.tls.as_deref(), Some("TLSv1.2" | "TLSv1.3")) && c.plain_mails == 0,
            "a connection not over TLS 1.2+: {c:?}"
        );
    }
    let row = tophosts_row(&w, "the.tdc.queue");
    assert_eq!(
        (row.delivered, row.conn_out, row.active),
        (accepted.len() as u64, 0, 0),
        "{row:?}"
    );
    assert_eq!(tdc_counters(&w), (12, 0, 0), "status detail");
}

/// Copies carry every inbound message, so the intake's certificate is
/// checked by default: an intake presenting a certificate no trusted CA
/// signed gets no copy (the seed's TLS error, no retry), and nothing is
/// sent to it; `threatdefenseconfig setup --verify-certificate no` relaxes
/// that to TLS without verification, and the next copy is delivered.
#[test]
fn an_intake_whose_certificate_does_not_verify_gets_no_copy_unless_relaxed() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 75);
    let dns = Dns::builder(&net)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, ip)
        .start();
    let w = World::with_dns(net, dns);
    configure(
        &w,
        &[&[
            "policyconfig",
            "edit",
            "incoming",
            "DEFAULT",
            "threatdefense",
            "global",
        ]],
    );
    let untrusted = TestCert::self_signed(INTAKE_MX);
    let intake = Script::new(ip, INTAKE_MX).starttls(&untrusted).start();

    let mid = send_in(&w, &[("bob@example.com", "unverified@e2e.test")])[0];
    let copy = copy_of(&w, mid, "unverified@e2e.test");
    w.gw.wait_for_log(
        &format!(r"Info: TDC: MID {copy} {SEED_FAILED}: ?TLS error: invalid peer certificate"),
        SOON,
    );
    assert!(
        intake.events_named("mail").is_empty(),
        "a copy was offered to an intake whose certificate does not verify: {}",
        intake.event_tail(10)
    );
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done$"), SOON);

    let shown = w.gw.cli_ok(&["threatdefenseconfig", "print"]);
    assert!(
        shown.contains("TLS: required, certificate verified"),
        "{shown}"
    );
    w.gw.cli_ok(&["threatdefenseconfig", "setup", "--verify-certificate", "no"]);
    w.gw.cli_ok(&["commit", "e2e: intake certificate not verified"]);
    let mid = send_in(&w, &[("bob@example.com", "relaxed@e2e.test")])[0];
    let copy = copy_of(&w, mid, "relaxed@e2e.test");
    w.gw.wait_for_log(&format!(r"Info: TDC: MID {copy} {SEED_SUCCESS}$"), SOON);
    assert_eq!(intake.accepted().len(), 1);
    for c in intake.connections() {
        assert_eq!(c.plain_mails, 0, "a copy offered in plain text: {c:?}");
    }
}
