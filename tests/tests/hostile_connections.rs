//! Connections a hostile internet makes, and next hops it chooses, over
//! real sockets (issue 12, docs/security.md "Connections and next hops"):
//!
//! - the per-IP, per-listener and all-listeners caps refuse at accept,
//!   before any DNS: with a name server that never answers, the refused
//!   client has its 421 while the clients it competed with still wait for
//!   their banner (their reverse DNS lookup);
//! - a mail exchanger (or implicit-MX address) that DNS puts on loopback
//!   is refused with a log line and a bounce, while the administrator's
//!   SMTP route to loopback is trusted; `deliveryconfig setup
//!   --allow-loopback-next-hops yes` lets the next message through;
//! - a next hop that holds back its reply to the end of data is given up
//!   on at the data deadline, a temporary failure.
//!
//! Each ends with a normal client served.

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream, UdpSocket};
use std::time::Duration;

use breakwater_e2e::{
    DNS_PORT, Dns, EVENTUALLY, MxSink, Outgoing, SOON, Script, SmtpConn, TestNet, World,
    allow_relay_from_clients, bind_connect, mx_ip, send_batch, simple_message, smtplib, wait_until,
};
use regex::escape;

const SENDER: &str = "alice@example.com";

/// A name server that never answers: a UDP socket nobody reads from, on
/// `127.5.n.200`. Every lookup the gateway makes waits its full timeout.
fn silent_dns(net: &TestNet) -> UdpSocket {
    UdpSocket::bind(SocketAddrV4::new(net.client(200), DNS_PORT)).expect("silent DNS socket")
}

/// Points the gateway at the silent name server, with `limits` (whole CLI
/// commands) staged too, and commits. A client's reverse DNS then takes
/// the gateway two timeouts (PTR, then the confirming A query): a minute.
fn hang_dns_with(w: &World, silent: &UdpSocket, limits: &[&[&str]]) {
    let server = silent.local_addr().expect("silent DNS address").to_string();
    w.gw.cli_ok(&["dnsconfig", "servers", &server]);
    w.gw.cli_ok(&["dnsconfig", "timeout", "30"]);
    for cmd in limits {
        w.gw.cli_ok(cmd);
    }
    w.gw.cli_ok(&["commit", "e2e: silent DNS and tight limits"]);
}

/// A connection from `source` that the gateway accepted and is now
/// classifying: it has had no banner yet.
fn waiting_connection(source: Ipv4Addr, server: SocketAddrV4) -> TcpStream {
    let s = bind_connect(source, server, SOON).expect("connect");
    s.set_nonblocking(true).expect("non-blocking");
    s
}

/// Whether the gateway has sent nothing on `s` yet (still in reverse DNS).
fn no_banner_yet(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    matches!(s.read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// The reply a refused client gets, read as any SMTP client reads a banner.
fn refused_banner(source: Ipv4Addr, server: SocketAddrV4) -> String {
    let (_conn, banner) = SmtpConn::connect(source, server).expect("connect and read a reply");
    format!("{} {}", banner.code, banner.text())
}

/// DNS back to dnsmasq; a new client is then greeted and its mail
/// delivered, once the held sessions have given up on their reverse DNS
/// and released their slots (until then it may be refused: retried).
fn a_normal_client_is_served(w: &World, x: u8, id: &str) {
    w.gw.cli_ok(&["dnsconfig", "servers", &w.net.dns_server()]);
    w.gw.cli_ok(&["dnsconfig", "timeout", "5"]);
    w.gw.cli_ok(&["commit", "e2e: DNS answers again"]);
    let rcpt = World::local("bob");
    let msg = simple_message(SENDER, &rcpt, id, "still served");
    let mut last = Vec::new();
    let served = wait_until(EVENTUALLY, || {
        last = smtplib::send(
            w.net.data1_smtp(),
            w.net.client(x),
            SENDER,
            &[&rcpt],
            &msg,
            &[],
        );
        let ok = smtplib::find(&last, "data").is_some_and(|d| d.code == Some(250));
        if !ok {
            std::thread::sleep(Duration::from_secs(1));
        }
        ok.then_some(())
    });
    assert!(
        served.is_some(),
        "the normal client was never served: {last:?}"
    );
    assert!(
        w.sink.wait_for_message_id(id, SOON).is_some(),
        "the normal client's message never reached the next hop"
    );
}

#[test]
fn the_per_ip_cap_refuses_at_accept_before_any_dns_lookup() {
    let w = World::start();
    let silent = silent_dns(&w.net);
    hang_dns_with(
        &w,
        &silent,
        &[&["listenerconfig", "limits", "--max-connections-per-ip", "2"]],
    );
    let attacker = w.net.client(66);
    let data1 = w.net.data1_smtp();
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| waiting_connection(attacker, data1))
        .collect();
    // Both are accepted (in order, before the next one) and wait for the
    // silent name server.
    let reply = refused_banner(attacker, data1);
    assert!(
        reply.starts_with("421 4.7.0 Too many concurrent connections from your address"),
        "{reply}"
    );
    for s in &mut held {
        assert!(
            no_banner_yet(s),
            "a held connection was greeted: the refusal did not come before DNS"
        );
    }
    let ip = escape(&attacker.to_string());
    w.gw.wait_for_log(
        &format!(
            r"Info: Connection from {ip} on IncomingMail refused: 4\.7\.0 Too many concurrent"
        ),
        SOON,
    );
    assert!(
        w.gw.log_lines(&format!(r"New SMTP ICID \d+ .* address {ip} "))
            .is_empty(),
        "an ICID was logged for the attacker before its reverse DNS finished"
    );
    drop(held);
    a_normal_client_is_served(&w, 7, "per-ip-normal@e2e.test");
}

#[test]
fn the_listener_and_all_listeners_caps_refuse_at_accept_before_any_dns_lookup() {
    let w = World::start();
    let silent = silent_dns(&w.net);
    hang_dns_with(
        &w,
        &silent,
        &[
            &[
                "listenerconfig",
                "edit",
                "IncomingMail",
                "setup",
                "--max-concurrency",
                "2",
            ],
            &["listenerconfig", "limits", "--max-connections-total", "3"],
        ],
    );
    let (data1, data2) = (w.net.data1_smtp(), w.net.data2_smtp());
    let mut held = vec![
        waiting_connection(w.net.client(61), data1),
        waiting_connection(w.net.client(62), data1),
    ];
    // IncomingMail is full: a third client is refused there...
    let reply = refused_banner(w.net.client(63), data1);
    assert!(
        reply.starts_with("421 4.3.2 Too many connections"),
        "{reply}"
    );
    w.gw.wait_for_log(
        r"Info: Connection from \S+ on IncomingMail refused: 4\.3\.2 Too many connections",
        SOON,
    );
    // ...OutgoingMail (600) takes one more, then the gateway is full.
    held.push(waiting_connection(w.net.client(64), data2));
    let reply = refused_banner(w.net.client(65), data2);
    assert!(
        reply.starts_with("421 4.3.2 Too many connections"),
        "{reply}"
    );
    w.gw.wait_for_log(
        r"Info: Connection from \S+ on OutgoingMail refused: 4\.3\.2 Too many connections",
        SOON,
    );
    for s in &mut held {
        assert!(
            no_banner_yet(s),
            "a held connection was greeted: the refusal did not come before DNS"
        );
    }
    drop(held);
    a_normal_client_is_served(&w, 7, "listener-cap-normal@e2e.test");
}

/// Mail exchangers come from DNS, which whoever owns the recipient domain
/// writes: an MX (or a bare A record, implicit MX) pointing at loopback is
/// refused with a log line, and the message bounces (5.4.4) with a DSN.
/// The DSN itself goes out by the administrator's SMTP route, also on
/// loopback: routes are trusted. An administrator whose next hops really
/// are on loopback says so, and the next message goes through.
#[test]
fn next_hops_on_loopback_from_dns_are_refused_and_bounced_but_routes_are_trusted() {
    let net = TestNet::new();
    let (mx, implicit) = (mx_ip(&net, 80), mx_ip(&net, 81));
    let dns = Dns::builder(&net)
        .mx("evil.test", "mx.evil.test", 10)
        .host_record("mx.evil.test", mx)
        .host_record("implicit-evil.test", implicit)
        .start();
    let w = World::with_dns(net, dns);
    allow_relay_from_clients(&w);
    let mx_sink = MxSink::start(mx);
    let implicit_sink = MxSink::start(implicit);

    let mids = send_batch(
        &w,
        13,
        &[
            Outgoing::new(SENDER, &["victim@evil.test"], "loopback-mx@e2e.test"),
            Outgoing::new(
                SENDER,
                &["victim@implicit-evil.test"],
                "loopback-a@e2e.test",
            ),
        ],
    );
    for (host, ip, domain) in [
        ("mx.evil.test", mx, "evil.test"),
        ("implicit-evil.test", implicit, "implicit-evil.test"),
    ] {
        w.gw.wait_for_log(
            &format!(
                r"Next hop {} \[{}\] for {} refused: it is a loopback address",
                escape(host),
                escape(&ip.to_string()),
                escape(domain)
            ),
            SOON,
        );
        w.gw.wait_for_log(
            &format!(
                r"Hard bounced - 5\.4\.4 - No acceptable next hop for {}",
                escape(domain)
            ),
            SOON,
        );
    }
    for mid in &mids {
        w.gw.wait_for_log(
            &format!(r"MID \d+ was generated for bounce of MID {mid}\b"),
            SOON,
        );
    }
    let dsns = w.sink.wait_for(2, SOON);
    for addr in ["victim@evil.test", "victim@implicit-evil.test"] {
        let dsn = dsns
            .iter()
            .find(|m| {
                String::from_utf8_lossy(&m.raw)
                    .contains(&format!("Final-Recipient: rfc822; {addr}"))
            })
            .unwrap_or_else(|| panic!("no DSN names {addr}: {dsns:?}"));
        let text = String::from_utf8_lossy(&dsn.raw);
        assert!(
            text.contains("Status: 5.4.4\r\n"),
            "DSN for {addr}:\n{text}"
        );
    }
    for ip in [mx, implicit] {
        assert!(
            w.gw.log_lines(&format!(
                r"New SMTP DCID \d+ .*address {} ",
                escape(&ip.to_string())
            ))
            .is_empty(),
            "the gateway connected to {ip}"
        );
    }
    assert!(mx_sink.messages().is_empty() && implicit_sink.messages().is_empty());

    w.gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--allow-loopback-next-hops",
        "yes",
    ]);
    w.gw.cli_ok(&["commit", "e2e: next hops on loopback are ours"]);
    let _allowed = send_batch(
        &w,
        14,
        &[Outgoing::new(
            SENDER,
            &["friend@evil.test"],
            "allowed-mx@e2e.test",
        )],
    );
    assert!(
        mx_sink
            .wait_for_message_id("allowed-mx@e2e.test", SOON)
            .is_some(),
        "with loopback next hops allowed, the mail exchanger got nothing"
    );
}

/// A next hop that accepts the message but holds back its reply to the
/// end of data is given up on at `deliveryconfig setup --data-timeout`:
/// the recipient is delayed (a temporary failure) with a log line that
/// says why, and other mail still flows.
#[test]
fn a_next_hop_that_never_answers_the_end_of_data_is_a_temporary_failure() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 82);
    let dns = Dns::builder(&net)
        .mx("slow.test", "mx.slow.test", 10)
        .host_record("mx.slow.test", ip)
        .start();
    let w = World::with_dns(net, dns);
    w.gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--data-timeout",
        "2",
        // The mail exchanger of this test listens on loopback.
        "--allow-loopback-next-hops",
        "yes",
    ]);
    allow_relay_from_clients(&w);
    let slow = Script::new(ip, "mx.slow.test")
        .data_delay(Duration::from_secs(30))
        .start();
    let mid = send_batch(
        &w,
        15,
        &[Outgoing::new(
            SENDER,
            &["carol@slow.test"],
            "slow-data@e2e.test",
        )],
    )[0];
    w.gw.wait_for_log(
        &format!(
            r"Delayed: DCID \d+ MID {mid} to RID 0 - timed out: no complete reply from the server within 2s"
        ),
        SOON,
    );
    assert!(
        !slow.events_named("mail").is_empty(),
        "the slow next hop never saw the transaction"
    );
    a_normal_client_is_served(&w, 7, "after-slow@e2e.test");
}

/// `deliveryconfig setup --max-outbound-connections 1`: two destinations
/// with mail at once, and the second waits (logged) until the first's
/// connection has closed; both are delivered.
#[test]
fn the_outbound_cap_holds_a_destination_back_until_a_connection_closes() {
    let net = TestNet::new();
    let (a, b) = (mx_ip(&net, 83), mx_ip(&net, 84));
    let dns = Dns::builder(&net)
        .mx("a.test", "mx.a.test", 10)
        .host_record("mx.a.test", a)
        .mx("b.test", "mx.b.test", 10)
        .host_record("mx.b.test", b)
        .start();
    let w = World::with_dns(net, dns);
    w.gw.cli_ok(&[
        "deliveryconfig",
        "setup",
        "--max-outbound-connections",
        "1",
        // The mail exchangers of this test listen on loopback.
        "--allow-loopback-next-hops",
        "yes",
    ]);
    allow_relay_from_clients(&w);
    // Each holds its transaction a moment, so the two overlap if allowed.
    let delay = Duration::from_secs(2);
    let server_a = Script::new(a, "mx.a.test").data_delay(delay).start();
    let server_b = Script::new(b, "mx.b.test").data_delay(delay).start();
    let _mids = send_batch(
        &w,
        16,
        &[
            Outgoing::new(SENDER, &["ann@a.test"], "cap-a@e2e.test"),
            Outgoing::new(SENDER, &["ben@b.test"], "cap-b@e2e.test"),
        ],
    );
    w.gw.wait_for_log(
        r"1 outbound connections open \(the limit for all destinations\): delivery to [ab]\.test waits for one to close",
        SOON,
    );
    for (server, id) in [(&server_a, "cap-a@e2e.test"), (&server_b, "cap-b@e2e.test")] {
        let got = wait_until(SOON, || {
            server.accepted_ids().iter().any(|i| i == id).then_some(())
        });
        assert!(got.is_some(), "{id} was never delivered");
    }
    // The connections did not overlap: one said QUIT (the server writes
    // that down before its 221, which the gateway waits for before it
    // counts the connection out) before the other was opened. The last
    // QUIT may still be on its way when the message is seen accepted.
    let time = |server: &breakwater_e2e::ScriptedServer, ev: &str| {
        wait_until(SOON, || {
            server
                .events_named(ev)
                .first()
                .and_then(|e| e["t"].as_f64())
        })
        .unwrap_or_else(|| panic!("the next hop never logged {ev}"))
    };
    let (a_open, a_quit) = (time(&server_a, "connect"), time(&server_a, "quit"));
    let (b_open, b_quit) = (time(&server_b, "connect"), time(&server_b, "quit"));
    assert!(
        a_quit <= b_open || b_quit <= a_open,
        "two outbound connections at once: a {a_open}..{a_quit}, b {b_open}..{b_quit}"
    );
}
