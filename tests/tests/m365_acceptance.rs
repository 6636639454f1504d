//! The Microsoft 365 walkthrough of the seeds, end to end, as an
//! administrator does it: every party on loopback, the gateway configured
//! at the serial console in the seeds' order, then the seeds' checks.
//! Every console transcript in docs/microsoft-365.md comes from this test
//! (`BREAKWATER_BLESS=1` rewrites them from the run; see
//! tests/src/transcript.rs).
//!
//! ```text
//!  swaks (internet sender 127.5.n.10)
//!     └─► Data 1 IncomingMail ─► your-domain-test.mail.protection.outlook.com
//!                                  (Postfix "Microsoft 365 inbound", 127.4.n.10:25,
//!                                   TLS required, only from Data 2)
//!                            └─► the.tdc.queue ─► mx.tdc.test (intake, 127.4.n.40:25)
//!  swaks ─► Postfix "Microsoft 365 outbound" (127.5.n.175:2525, sends from
//!           127.5.n.175 = mail-dm6nam12lp2175.outbound.protection.outlook.com,
//!           STARTTLS always, any certificate, stamps X-OUTBOUND-AUTH)
//!     └─► Data 2 OutgoingMail (RELAY_O365, office365_outbound)
//!           └─► mx.internet.test (smtp-sink, 127.4.n.30:25)
//!  swaks (127.5.n.66 = mail.not-microsoft.test) ─► Data 2: refused
//! ```
//!
//! Assertions are collected and reported together at the end, so one run
//! says everything that differs from the seeds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use breakwater_e2e::console::Console;
use breakwater_e2e::transcript::{Normaliser, check_guide};
use breakwater_e2e::{
    Dns, EVENTUALLY, Gateway, Intake, MxSink, Postfix, SOON, Swaks, TestCert, TestNet,
    mid_in_reply, mx_ip, parse_tophosts, wait_until,
};

const DOMAIN: &str = "your-domain.test";
const M365_MX: &str = "your-domain-test.mail.protection.outlook.com";
const MS_HOST: &str = "mail-dm6nam12lp2175.outbound.protection.outlook.com";
const ROGUE_HOST: &str = "mail.not-microsoft.test";
const INTERNET: &str = "internet.test";
const INTERNET_MX: &str = "mx.internet.test";
const INTAKE: &str = "intake@tdc.test";
const INTAKE_MX: &str = "mx.tdc.test";
const SECRET: &str = "mysecretkey";
const HOSTNAME: &str = "esa1.your_domain.com";

/// The seeds' filter, with the sender group this guide creates (the seeds
/// say `RELAYLIST` and note that the name must be the relay group's).
const FILTER: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}"#;

/// Every assertion of the run; reported together at the end.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }

    /// `text` contains a line matching `pattern`.
    fn has_line(&mut self, text: &str, pattern: &str, what: &str) {
        let re = regex::Regex::new(pattern).expect("pattern");
        let ok = text.lines().any(|l| re.is_match(l));
        // The screen itself is in the transcript report at the end.
        self.check(ok, format!("{what}: no line matching /{pattern}/"));
    }
}

/// A message file for swaks.
fn message(
    dir: &Path,
    name: &str,
    from: &str,
    to: &str,
    id: &str,
    subject: &str,
) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "From: <{from}>\r\nTo: <{to}>\r\nMessage-ID: <{id}>\r\nSubject: {subject}\r\n\r\nA test of the Microsoft 365 walkthrough.\r\n"
        ),
    )
    .expect("write message");
    path
}

/// The guide's values for what this run's addresses and counters are.
/// Waits until every delivery connection opened so far has logged its
/// close: the delivery connection cache keeps a connection open, idle, for
/// its time (2 s, decision 0023) after the message, and the guide's
/// `findevent` transcripts show `DCID n close`.
fn wait_for_delivery_connections_closed(gw: &Gateway) {
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let log = gw.mail_log();
        let opened = log.matches("New SMTP DCID").count();
        let closed = log
            .lines()
            .filter(|l| l.contains("Info: DCID ") && l.trim_end().ends_with(" close"))
            .count();
        if closed >= opened || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn normaliser(net: &TestNet, ips: &[(Ipv4Addr, &str)]) -> Normaliser {
    let mut n = Normaliser::default().literal("gw.test.local", "breakwater.example.com");
    let mut all: Vec<(Ipv4Addr, &str)> = vec![
        (net.data1(), "203.0.113.25"),
        (net.data2(), "198.51.100.25"),
        (net.management(), "192.168.42.42"),
    ];
    all.extend_from_slice(ips);
    for (ip, to) in all {
        n = n.pattern(&format!(r"\b{}\b", regex::escape(&ip.to_string())), to);
    }
    n.literal(DOMAIN, "your-domain.com")
        .literal(M365_MX, "your-domain-com.mail.protection.outlook.com")
        .literal(INTERNET_MX, "mx.example.org")
        .literal(ROGUE_HOST, "mail.example.net")
        // The test board's listeners use 2525; an appliance's use 25.
        .literal("port 2525", "port 25")
        .literal(INTERNET, "example.org")
        .literal(INTAKE_MX, "mx.intake.example.net")
        .literal("tdc.test", "intake.example.net")
        .pattern(r"\b(MID|ICID|DCID|RID) \d+", "$1 <$1>")
        .pattern(r"\b([Mm]essage) \d+", "$1 <MID>")
        .pattern(r"\bMIDs? \d+(, \d+)*", "MID <MID>")
        .pattern(r"\bMID: \d+(, \d+)*", "MID: <MID>")
        // Processing Details' date line.
        .pattern(
            r"(?m)^  \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$",
            "  <day>",
        )
        .pattern(r"\(\d+ bytes\)", "(<size> bytes)")
        .pattern(r"\bready \d+ bytes", "ready <size> bytes")
        .pattern(r"queued as [0-9A-F]+", "queued as <queue id>")
        .pattern(
            r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d( \(GMT [+-]\d\d:\d\d\))?",
            "<date>",
        )
        .pattern(
            r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d( \d{4})?",
            "<date>",
        )
        .pattern(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?", "<date>")
        .pattern(r"\b\d\d:\d\d:\d\d\b", "<time>")
}

#[test]
fn the_microsoft_365_walkthrough_at_the_console() {
    let net = TestNet::new();
    let n = net.n();
    let m365_in_ip = mx_ip(&net, 10);
    let internet_ip = mx_ip(&net, 30);
    let intake_ip = mx_ip(&net, 40);
    let sender_ip = net.client(10);
    let ms_ip = net.client(175);
    let rogue_ip = net.client(66);
    let _dns = Dns::builder(&net)
        .mx(DOMAIN, M365_MX, 0)
        .host_record(M365_MX, m365_in_ip)
        .host_record(MS_HOST, ms_ip)
        .host_record(ROGUE_HOST, rogue_ip)
        .mx(INTERNET, INTERNET_MX, 10)
        .host_record(INTERNET_MX, internet_ip)
        .mx("tdc.test", INTAKE_MX, 10)
        .host_record(INTAKE_MX, intake_ip)
        .start();
    let norm = normaliser(
        &net,
        &[
            (m365_in_ip, "192.0.2.110"),
            (internet_ip, "192.0.2.30"),
            (intake_ip, "192.0.2.40"),
            (sender_ip, "192.0.2.10"),
            (ms_ip, "40.107.0.175"),
            (rogue_ip, "192.0.2.66"),
        ],
    );
    let mut checks = Checks::default();
    let shots: RefCell<BTreeMap<String, String>> = RefCell::new(BTreeMap::new());
    let record = |name: &str, shown: &str| {
        shots
            .borrow_mut()
            .insert(name.to_string(), norm.apply(shown));
    };

    // Microsoft 365 inbound: mail for the domain only over TLS and only
    // from the gateway's delivery address (the partner connector that
    // rejects mail not sent over TLS, restricted to the gateway's IPs).
    let m365_cert = TestCert::self_signed(M365_MX);
    let m365_in = Postfix::builder(m365_in_ip, DOMAIN)
        .port(25)
        .mailbox("alice")
        .starttls(&m365_cert)
        .postconf("smtpd_tls_security_level=encrypt")
        .postconf(&format!(
            "smtpd_client_restrictions=check_client_access inline:{{ {}=OK }}, reject",
            net.data2()
        ))
        .start();

    // Microsoft 365 outbound: the transport rule "Outbound to Cisco CES"
    // stamps the secret (here by Subject, so one instance also sends the
    // wrong value and none), the connector always uses TLS, accepts any
    // certificate, and sends from the Microsoft-named address.
    let lab = tempfile::tempdir().expect("lab dir");
    std::fs::set_permissions(lab.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let checks_file = lab.path().join("header_checks");
    std::fs::write(
        &checks_file,
        format!(
            "/^Subject: OUTBOUND EMAIL TEST/ PREPEND X-OUTBOUND-AUTH: {SECRET}\n\
             /^Subject: OUTBOUND MAIL WRONG SECRET/ PREPEND X-OUTBOUND-AUTH: notmysecretkey\n"
        ),
    )
    .expect("header_checks");
    std::fs::set_permissions(&checks_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let m365_out = Postfix::builder(ms_ip, DOMAIN)
        .mailbox("postmaster")
        .postconf("mynetworks=127.0.0.0/8")
        .postconf(&format!("myhostname={MS_HOST}"))
        .postconf("default_transport=smtp")
        .postconf("relay_transport=smtp")
        .postconf(&format!(
            "relayhost=[{}]:{}",
            net.data2(),
            breakwater_e2e::SMTP_PORT
        ))
        .postconf(&format!("smtp_bind_address={ms_ip}"))
        .postconf("smtp_tls_security_level=encrypt")
        .postconf("smtp_tls_loglevel=1")
        .postconf(&format!("header_checks=regexp:{}", checks_file.display()))
        .start();

    let internet = MxSink::start(internet_ip);
    let (intake_cert, intake_ca) = TestCert::signed_by_new_ca(INTAKE_MX);

    let gw = Gateway::start(&net);
    // The lab only: this run's DNS server, next hops on loopback (refused
    // on a real appliance), the intake's test CA, and a short retry so the
    // queued copy goes out soon once the intake is up.
    for cmd in [
        vec!["dnsconfig", "servers", &net.dns_server()],
        vec![
            "deliveryconfig",
            "setup",
            "--allow-loopback-next-hops",
            "yes",
        ],
        vec![
            "deliveryconfig",
            "retry",
            "--initial-secs",
            "20",
            "--max-secs",
            "30",
        ],
        vec![
            "certconfig",
            "certauthority",
            "import",
            "ca-intake",
            &intake_ca.cert.display().to_string(),
        ],
        vec!["commit", "lab"],
    ] {
        let cmd: Vec<&str> = cmd.iter().map(|s| &**s).collect();
        gw.cli_ok(&cmd);
    }

    let mut con = Console::login_factory_admin(&gw, "a new passphrase for the lab");
    let step = |con: &mut Console, name: &str, cmd: &str| -> String {
        let shown = con.run(cmd);
        record(name, &shown);
        shown
    };

    // --- The host name (the seeds' esa1.your_domain.com).
    let out = step(&mut con, "sethostname", &format!("sethostname {HOSTNAME}"));
    checks.check(
        out.contains("staged"),
        format!("sethostname {HOSTNAME} is accepted, as AsyncOS accepts it:\n{out}"),
    );

    // --- Inbound: destination controls, RAT, SMTP route, commit.
    let out = step(
        &mut con,
        "destconfig",
        &format!(
            "destconfig new {DOMAIN} --max_host_concurrency 10 --max_messages_per_connection 20 --use_tls preferred"
        ),
    );
    checks.check(out.contains("staged"), format!("destconfig new:\n{out}"));
    let out = step(&mut con, "destconfig-list", "destconfig list");
    checks.has_line(
        &out,
        &format!(
            r"{}.*10 concurrent connections, 20 messages per connection.*Preferred",
            regex::escape(DOMAIN)
        ),
        "the Destination Control Table",
    );
    let out = step(
        &mut con,
        "rat",
        &format!("listenerconfig edit IncomingMail rcptaccess new {DOMAIN} accept"),
    );
    checks.check(out.contains("staged"), format!("RAT accept:\n{out}"));
    let out = step(
        &mut con,
        "smtproutes",
        &format!("smtproutes new {DOMAIN} {M365_MX}"),
    );
    checks.check(out.contains("staged"), format!("smtproutes new:\n{out}"));
    let out = con.dialogue("commit", &["inbound to Microsoft 365"]);
    record("commit-inbound", &out);
    checks.check(out.contains("Changes committed"), format!("commit:\n{out}"));

    // --- Test inbound mail: it reaches Microsoft 365 over TLS.
    let dir = tempfile::tempdir().expect("tmp");
    let send = |to_server: SocketAddrV4, from_ip: Ipv4Addr, file: &Path, from: &str, to: &str| {
        Swaks::new(to_server, from_ip)
            .from(from)
            .to(to)
            .data_file(file)
            .run()
    };
    let inbound1 = message(
        dir.path(),
        "in1.eml",
        "sender@test.com",
        &format!("alice@{DOMAIN}"),
        "inbound-1@test.com",
        "INBOUND EMAIL TEST",
    );
    let out = send(
        net.data1_smtp(),
        sender_ip,
        &inbound1,
        "sender@test.com",
        &format!("alice@{DOMAIN}"),
    );
    let in1_mid = out.data_reply().and_then(|r| mid_in_reply(&r.text()));
    assert!(
        in1_mid.is_some(),
        "Data 1 did not accept the inbound test:\n{}",
        out.transcript
    );
    let got = m365_in
        .wait_for_message_id("alice", "inbound-1@test.com", SOON)
        .expect("the inbound test reaches Microsoft 365");
    let received = got.leading_received().join("\n");
    checks.check(
        received.contains("using TLS"),
        format!("Microsoft 365 received the inbound test over TLS (Received header):\n{received}"),
    );
    checks.check(
        !m365_in
            .log_lines(r"TLS connection established from")
            .is_empty(),
        format!(
            "Postfix logged a TLS session from the gateway:\n{}",
            m365_in.log_tail(20)
        ),
    );
    // The Microsoft 365 side holds its part: no mail without TLS, none
    // from anyone but the gateway (so the TLS seen above is not luck).
    let plain = send(
        m365_in.addr(),
        sender_ip,
        &inbound1,
        "sender@test.com",
        &format!("alice@{DOMAIN}"),
    );
    checks.check(
        plain.data_reply().is_none_or(|r| r.code != 250),
        format!(
            "the Microsoft 365 Postfix refuses mail not sent over TLS:\n{}",
            plain.transcript
        ),
    );
    let other = Swaks::new(m365_in.addr(), sender_ip)
        .from("sender@test.com")
        .to(&format!("alice@{DOMAIN}"))
        .data_file(&inbound1)
        .tls()
        .run();
    checks.check(
        other.data_reply().is_none_or(|r| r.code != 250),
        format!(
            "the Microsoft 365 Postfix refuses a host other than the gateway:\n{}",
            other.transcript
        ),
    );
    wait_for_delivery_connections_closed(&gw);
    let out = step(
        &mut con,
        "findevent-inbound",
        "findevent --subject \"INBOUND EMAIL TEST\"",
    );
    checks.has_line(
        &out,
        r"Delivered",
        "findevent shows the inbound test delivered",
    );
    checks.has_line(
        &out,
        r"Message \d+ direction: incoming",
        "findevent: the inbound test's direction",
    );

    // --- Outbound: the RELAY_O365 sender group, RELAYED with TLS
    // Preferred, the shared-secret filter, commit.
    let out = step(
        &mut con,
        "sendergroup",
        "listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED",
    );
    checks.check(out.contains("staged"), format!("sender group:\n{out}"));
    let out = step(
        &mut con,
        "hat-print",
        "listenerconfig edit OutgoingMail hostaccess print",
    );
    let first_group = out
        .lines()
        .find(|l| l.contains("RELAY_O365") || l.contains("RELAYLIST"))
        .unwrap_or_default()
        .to_string();
    checks.check(
        first_group.contains("RELAY_O365"),
        format!("a new sender group is order 1, as in the seeds:\n{out}"),
    );
    let out = step(
        &mut con,
        "relayed-tls",
        "listenerconfig edit OutgoingMail hostaccess editpolicy RELAYED --tls preferred",
    );
    checks.check(
        out.contains("staged"),
        format!("RELAYED TLS preferred:\n{out}"),
    );

    con.type_line("filters");
    let mut filters = con.expect("]> ");
    con.type_line("new");
    filters.push_str(&con.expect("new\n"));
    filters.push_str(&con.expect("to end."));
    con.paste(FILTER);
    con.type_line(".");
    filters.push_str(&con.expect("\n.\n"));
    filters.push_str(&con.expect("]> "));
    con.type_line("");
    filters.push_str(&con.wait_prompt());
    record("filters", &filters);
    checks.check(
        filters.contains("1 filters added."),
        format!("filters new answers as AsyncOS, `1 filters added.`:\n{filters}"),
    );
    let out = con.dialogue("commit", &["outbound from Microsoft 365"]);
    record("commit-outbound", &out);
    checks.check(out.contains("Changes committed"), format!("commit:\n{out}"));
    checks.check(
        !out.contains("Warning"),
        format!("the seeds' configuration commits without a relay warning:\n{out}"),
    );

    // --- Test outbound mail: the right secret goes out without the
    // header; a wrong one and none are dropped by the filter.
    let bob = format!("bob@{INTERNET}");
    let user = format!("user@{DOMAIN}");
    let cases = [
        ("out-secret@outlook.test", "OUTBOUND EMAIL TEST"),
        ("out-wrong@outlook.test", "OUTBOUND MAIL WRONG SECRET"),
        ("out-none@outlook.test", "OUTBOUND MAIL NO SECRET"),
    ];
    for (i, (id, subject)) in cases.iter().enumerate() {
        let file = message(dir.path(), &format!("out{i}.eml"), &user, &bob, id, subject);
        let out = send(m365_out.addr(), sender_ip, &file, &user, &bob);
        assert_eq!(
            out.data_reply().map(|r| r.code),
            Some(250),
            "the Microsoft 365 Postfix took the message:\n{}",
            out.transcript
        );
    }
    let delivered = internet.wait_for_message_id("out-secret@outlook.test", EVENTUALLY);
    match &delivered {
        Some(m) => checks.check(
            m.header("X-OUTBOUND-AUTH").is_none(),
            "the delivered outbound message still carries X-OUTBOUND-AUTH",
        ),
        None => checks.check(
            false,
            format!(
                "the outbound test with the right secret never reached the internet sink; Postfix:\n{}\ngateway:\n{}",
                m365_out.log_tail(30),
                gw.mail_log()
            ),
        ),
    }
    let mid_re = regex::Regex::new(r"MID (\d+)").expect("regex");
    for (id, _) in &cases[1..] {
        let line = wait_until(SOON, || {
            let log = gw.mail_log();
            let mid = log.lines().find_map(|l| {
                l.contains(&format!("Message-ID '<{id}>'"))
                    .then(|| mid_re.captures(l)?[1].parse::<u64>().ok())
                    .flatten()
            })?;
            log.lines()
                .find(|l| {
                    l.contains(&format!("MID {mid} "))
                        && l.contains("Dropped by filter 'office365_outbound'")
                })
                .map(str::to_string)
        });
        checks.check(
            line.is_some(),
            format!("{id}: mail_logs says Dropped by filter 'office365_outbound'"),
        );
    }
    checks.check(
        !m365_out
            .log_lines(r"TLS connection established to")
            .is_empty(),
        format!(
            "Microsoft 365 reached Data 2 over TLS:\n{}",
            m365_out.log_tail(20)
        ),
    );
    std::thread::sleep(Duration::from_secs(1));
    checks.check(
        internet.messages().len() == 1,
        format!(
            "only the message with the secret went out: {} at the sink",
            internet.messages().len()
        ),
    );

    wait_for_delivery_connections_closed(&gw);
    let out = step(
        &mut con,
        "findevent-outbound",
        "findevent --subject \"OUTBOUND EMAIL TEST\"",
    );
    for (pattern, what) in [
        (
            r"Incoming connection \(ICID \d+\) has sender_group: RELAY_O365, sender_ip: \S+ and sbrs: ",
            "sender group line",
        ),
        (
            r"Protocol SMTP Interface Data 2 \(IP \S+\) on incoming connection \(ICID \d+\) from sender IP \S+\. Reverse DNS host mail-dm6nam12lp2175\.outbound\.protection\.outlook\.com verified yes\.",
            "interface line",
        ),
        (
            r"\(ICID \d+\) RELAY sender group RELAY_O365 match",
            "RELAY match line",
        ),
        (
            r"Incoming connection \(ICID \d+\) successfully accepted TLS protocol TLSv1\.[23] cipher ",
            "TLS line",
        ),
        (
            r"Message \d+ Sender Domain: your-domain\.test",
            "Sender Domain line",
        ),
        (
            r"Start message \d+ on incoming connection \(ICID \d+\)\.",
            "Start message line",
        ),
        (r"Message \d+ direction: outgoing", "direction line"),
        (
            r"Message \d+ on incoming connection \(ICID \d+\) added recipient",
            "added recipient line",
        ),
        (
            r"Message \d+ contains message ID header '<out-secret@outlook\.test>'",
            "message ID line",
        ),
        (r"Delivered", "status"),
    ] {
        checks.has_line(
            &out,
            pattern,
            &format!("findevent (outbound, seed screenshot): {what}"),
        );
    }
    wait_for_delivery_connections_closed(&gw);
    let out = step(
        &mut con,
        "findevent-dropped",
        "findevent --subject \"OUTBOUND MAIL WRONG SECRET\"",
    );
    for (pattern, what) in [
        (
            r"Message \d+ original subject on injection: OUTBOUND MAIL WRONG SECRET",
            "original subject line",
        ),
        (r"Message \d+ \(\d+ bytes\) from \S+ ready\.", "ready line"),
        (
            r"Message \d+ has sender_group: RELAY_O365, sender_ip: \S+ and sbrs: ",
            "message sender group line",
        ),
        (
            r"Message \d+ aborted: Dropped by filter 'office365_outbound'",
            "aborted line",
        ),
        (r"Dropped By Message Filters", "status"),
    ] {
        checks.has_line(
            &out,
            pattern,
            &format!("findevent (dropped, seed screenshot): {what}"),
        );
    }

    // --- The non-Microsoft host is refused on Data 2.
    let file = message(
        dir.path(),
        "rogue.eml",
        &user,
        &bob,
        "rogue@not-microsoft.test",
        "ROGUE",
    );
    let out = send(net.data2_smtp(), rogue_ip, &file, &user, &bob);
    checks.check(
        out.data_reply().is_none_or(|r| r.code != 250),
        format!("Data 2 refuses {ROGUE_HOST}:\n{}", out.transcript),
    );
    let line = gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 2 .* address {} ",
            regex::escape(&rogue_ip.to_string())
        ),
        SOON,
    );
    let icid = regex::Regex::new(r"ICID (\d+)")
        .expect("regex")
        .captures(&line)
        .expect("ICID")[1]
        .to_string();
    gw.wait_for_log(&format!(r"ICID {icid} close"), SOON);
    let out = step(&mut con, "grep-refused", &format!("grep \"ICID {icid} \""));
    checks.has_line(
        &out,
        &format!(r"ICID {icid} REJECT SG ALL match"),
        "the mail log shows Data 2 rejecting the non-Microsoft host",
    );

    // `trace` for the troubleshooting section: a Microsoft 365 host's
    // message without the secret, through OutgoingMail.
    let out = step(
        &mut con,
        "trace",
        &format!(
            "trace --listener OutgoingMail --remote-ip {ms_ip} --rdns {MS_HOST} --from {user} --to {bob}"
        ),
    );
    checks.has_line(&out, r"RELAY_O365", "trace names the sender group");
    checks.has_line(&out, r"office365_outbound", "trace names the filter");

    // --- Threat Defense Connector (seed 004): enable, the DEFAULT policy
    // uses it, commit.
    let _ = step(
        &mut con,
        "threatdefenseconfig",
        &format!("threatdefenseconfig enable {INTAKE}"),
    );
    let _ = step(
        &mut con,
        "policyconfig",
        "policyconfig edit incoming DEFAULT threatdefense global",
    );
    let out = con.dialogue("commit", &["Threat Defense"]);
    record("commit-tdc", &out);
    checks.check(out.contains("Changes committed"), format!("commit:\n{out}"));
    let out = step(&mut con, "policyconfig-list", "policyconfig list incoming");
    checks.has_line(
        &out,
        r"Threat Defense",
        "the incoming mail policies list has a Threat Defense Connector column",
    );
    checks.has_line(
        &out,
        r"DEFAULT.*Enabled",
        "the DEFAULT policy shows the Threat Defense Connector Enabled",
    );

    // The intake is down: the copy waits in the.tdc.queue.
    let inbound2 = message(
        dir.path(),
        "in2.eml",
        "sender@test.com",
        &format!("alice@{DOMAIN}"),
        "inbound-2@test.com",
        "INBOUND EMAIL TEST 2",
    );
    let out = send(
        net.data1_smtp(),
        sender_ip,
        &inbound2,
        "sender@test.com",
        &format!("alice@{DOMAIN}"),
    );
    assert_eq!(
        out.data_reply().map(|r| r.code),
        Some(250),
        "{}",
        out.transcript
    );
    m365_in
        .wait_for_message_id("alice", "inbound-2@test.com", SOON)
        .expect("the second inbound test reaches Microsoft 365 while the intake is down");
    gw.wait_for_log(
        r"TDC: Connection Error: DCID \d+ domain: the\.tdc\.queue",
        SOON,
    );
    wait_for_delivery_connections_closed(&gw);
    let out = step(&mut con, "tophosts-queued", "tophosts");
    let rows = parse_tophosts(&out);
    let tdc = rows.iter().find(|r| r.host == "the.tdc.queue");
    checks.check(
        tdc.is_some_and(|r| r.active == 1),
        format!("tophosts lists the.tdc.queue with the queued copy active:\n{out}"),
    );
    checks.check(
        !rows.iter().any(|r| r.host == "tdc.test"),
        format!("tophosts has no row for the intake's domain:\n{out}"),
    );

    // The intake comes up: the copy arrives with X-IronPort-RemoteIP.
    let intake = Intake::start(intake_ip, INTAKE_MX, &intake_cert, Duration::ZERO);
    let copies = intake.wait_for(1, EVENTUALLY);
    let copy = copies
        .iter()
        .find(|m| m.message_id().as_deref() == Some("inbound-2@test.com"));
    checks.check(
        copy.is_some_and(|m| {
            m.header("X-IronPort-RemoteIP").as_deref() == Some(sender_ip.to_string().as_str())
        }),
        format!(
            "the intake has a copy of the inbound message with X-IronPort-RemoteIP: {sender_ip}"
        ),
    );
    gw.wait_for_log(r"TDC: .*successfully delivered for scanning", SOON);
    wait_for_delivery_connections_closed(&gw);
    let out = step(&mut con, "tophosts-after", "tophosts");
    let rows = parse_tophosts(&out);
    checks.check(
        rows.iter()
            .any(|r| r.host == "the.tdc.queue" && r.delivered == 1 && r.active == 0),
        format!("tophosts lists the.tdc.queue after the copy left:\n{out}"),
    );
    let out = step(
        &mut con,
        "findevent-tdc",
        "findevent --subject \"INBOUND EMAIL TEST 2\"",
    );
    checks.has_line(
        &out,
        r"TDC: Message \d+ successfully delivered for scanning with Cisco Secure Email Threat Defense\.",
        "findevent of the original shows the seed's TDC line",
    );

    con.logout();

    if let Err(e) = check_guide(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/microsoft-365.md"),
        &shots.borrow(),
    ) {
        checks.check(false, e);
    }
    let _ = n;
    assert!(
        checks.0.is_empty(),
        "{} check(s) of the Microsoft 365 walkthrough failed:\n\n{}",
        checks.0.len(),
        checks.0.join("\n\n")
    );
}
