//! Delivery by MX (no SMTP route): preference and failover, random choice
//! among equal preferences, implicit MX, null MX and a domain that does
//! not exist. dnsmasq serves the records; the mail exchangers are
//! smtp-sink on port 25 of their own `127.4.n.x` address.

use breakwater_e2e::{
    Dns, MxSink, Outgoing, SOON, TestNet, World, allow_loopback_next_hops,
    allow_relay_from_clients, mx_ip, send_batch,
};
use regex::escape;

/// The organisation's user: DSNs to her go to the day-one sink (route).
const SENDER: &str = "alice@example.com";

fn mx_world(net: TestNet, dns: Dns) -> World {
    let w = World::with_dns(net, dns);
    // The mail exchangers of these tests listen on loopback.
    allow_loopback_next_hops(&w.gw);
    allow_relay_from_clients(&w);
    w
}

#[test]
fn mx_preference_first_and_failover_to_the_next_when_the_preferred_is_down() {
    let net = TestNet::new();
    let (ip1, ip2, ip3) = (mx_ip(&net, 31), mx_ip(&net, 32), mx_ip(&net, 33));
    let dns = Dns::builder(&net)
        .mx("pref.test", "mx1.pref.test", 10)
        .mx("pref.test", "mx2.pref.test", 20)
        .mx("pref.test", "mx3.pref.test", 30)
        .host_record("mx1.pref.test", ip1)
        .host_record("mx2.pref.test", ip2)
        .host_record("mx3.pref.test", ip3)
        .start();
    let w = mx_world(net, dns);
    // mx1 (preference 10) is down: nothing listens on its address.
    let mx2 = MxSink::start(ip2);
    let mx3 = MxSink::start(ip3);

    let mid = send_batch(
        &w,
        10,
        &[Outgoing::new(
            SENDER,
            &["bob@pref.test"],
            "failover@e2e.test",
        )],
    )[0];
    let m = mx2
        .wait_for_message_id("failover@e2e.test", SOON)
        .unwrap_or_else(|| {
            panic!(
                "with mx1 down the message never reached mx2 (preference 20); mx3 has {} message(s)",
                mx3.messages().len()
            )
        });
    assert_eq!(m.rcpts, ["bob@pref.test"]);
    assert_eq!(m.mail_from, SENDER);
    assert_eq!(
        m.client_addr,
        w.net.data2().to_string(),
        "delivery connections bind the Data 2 address"
    );
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    // The log shows the failed attempt on the preferred exchanger first.
    w.gw.wait_for_log(
        &format!(
            r"Connection Error: DCID \d+ domain: pref\.test IP: {} port: 25 ",
            escape(&ip1.to_string())
        ),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(
            r"New SMTP DCID \d+ interface {} address {} port 25",
            escape(&w.net.data2().to_string()),
            escape(&ip2.to_string())
        ),
        SOON,
    );
    assert!(
        mx3.messages().is_empty(),
        "mx3 (preference 30) got mail although mx2 (20) was up"
    );

    // mx1 comes up: the preferred exchanger gets the next message.
    let mx1 = MxSink::start(ip1);
    let mid2 = send_batch(
        &w,
        10,
        &[Outgoing::new(
            SENDER,
            &["carol@pref.test"],
            "preferred@e2e.test",
        )],
    )[0];
    mx1.wait_for_message_id("preferred@e2e.test", SOON)
        .unwrap_or_else(|| {
            panic!(
                "mx1 (preference 10) is up but did not get the message; mx2 has {:?}",
                mx2.messages()
                    .iter()
                    .filter_map(breakwater_e2e::SinkMessage::message_id)
                    .collect::<Vec<_>>()
            )
        });
    w.gw.wait_for_log(&format!(r"Message finished MID {mid2} done"), SOON);
    assert_eq!(mx2.messages().len(), 1, "mx2 got the second message too");
    assert!(mx3.messages().is_empty(), "mx3 got mail");
}

#[test]
fn equal_preference_mail_exchangers_both_receive_mail() {
    const N: usize = 16;
    let net = TestNet::new();
    let (ip_a, ip_b) = (mx_ip(&net, 34), mx_ip(&net, 35));
    let dns = Dns::builder(&net)
        .mx("equal.test", "mxa.equal.test", 10)
        .mx("equal.test", "mxb.equal.test", 10)
        .host_record("mxa.equal.test", ip_a)
        .host_record("mxb.equal.test", ip_b)
        .start();
    let w = mx_world(net, dns);
    // One message per connection: every message is a fresh choice of
    // exchanger (a connection carrying several would hide the choice).
    w.gw.cli_ok(&[
        "destconfig",
        "new",
        "equal.test",
        "--max_messages_per_connection",
        "1",
    ]);
    w.gw.cli_ok(&["commit", "e2e: one message per connection"]);
    let a = MxSink::start(ip_a);
    let b = MxSink::start(ip_b);

    let batch: Vec<Outgoing> = (0..N)
        .map(|i| {
            Outgoing::new(
                SENDER,
                &[&format!("user{i}@equal.test")],
                &format!("equal-{i}@e2e.test"),
            )
        })
        .collect();
    let _ = send_batch(&w, 11, &batch);
    let all = breakwater_e2e::wait_until(SOON, || {
        (a.messages().len() + b.messages().len() >= N).then_some(())
    });
    let (na, nb) = (a.messages().len(), b.messages().len());
    assert!(
        all.is_some(),
        "only {} of {N} messages arrived (mxa {na}, mxb {nb})",
        na + nb
    );
    assert_eq!(na + nb, N, "duplicates: mxa {na} + mxb {nb} != {N}");
    // With a fair coin per connection, one side getting all 16 has
    // probability 2^-15.
    assert!(
        na > 0 && nb > 0,
        "all {N} messages went to one of two equal-preference exchangers (mxa {na}, mxb {nb}): \
         no random choice among equals"
    );
}

#[test]
fn implicit_mx_delivers_to_the_domains_own_address() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 36);
    let dns = Dns::builder(&net).host_record("implicit.test", ip).start();
    let w = mx_world(net, dns);
    let sink = MxSink::start(ip);
    let mid = send_batch(
        &w,
        12,
        &[Outgoing::new(
            SENDER,
            &["dave@implicit.test"],
            "implicit@e2e.test",
        )],
    )[0];
    let m = sink
        .wait_for_message_id("implicit@e2e.test", SOON)
        .expect("a domain without MX but with an A record gets its mail there (implicit MX)");
    assert_eq!(m.rcpts, ["dave@implicit.test"]);
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
}

/// Null MX (RFC 7505, `MX 0 .`) and a domain that does not exist: hard
/// bounces without any connection, and a DSN to the sender for each.
#[test]
fn null_mx_and_nxdomain_hard_bounce_with_a_dsn_to_the_sender() {
    let net = TestNet::new();
    let dns = Dns::builder(&net).mx("nullmx.test", ".", 0).start();
    let w = mx_world(net, dns);
    let mids = send_batch(
        &w,
        13,
        &[
            Outgoing::new(SENDER, &["erin@nullmx.test"], "nullmx@e2e.test"),
            Outgoing::new(SENDER, &["frank@nxdomain.test"], "nxdomain@e2e.test"),
        ],
    );
    let (null_mid, nx_mid) = (mids[0], mids[1]);

    w.gw.wait_for_log(r"Hard bounced - 5\.1\.10 .*nullmx\.test", SOON);
    // AsyncOS's DNS hard-bounce lines, in order.
    w.gw.wait_for_log(r"Info: DNS Error nxdomain\.test MX - NXDomain$", SOON);
    w.gw.wait_for_log(
        r"Hard bounced - 5\.1\.2 - Bad destination host \('000', 'DNS Hard Error looking up nxdomain\.test \(MX\):  NXDomain'\) \(domain nxdomain\.test\)$",
        SOON,
    );
    for mid in [null_mid, nx_mid] {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
        w.gw.wait_for_log(
            &format!(r"MID \d+ was generated for bounce of MID {mid}\b"),
            SOON,
        );
    }
    // No connection went anywhere but to the sender's next hop (the DSNs).
    let sink_conn = format!(
        "address {} port {}",
        w.net.sink_ip(),
        w.net.sink_addr().port()
    );
    let stray: Vec<String> =
        w.gw.log_lines(r"New SMTP DCID \d+ ")
            .into_iter()
            .filter(|l| !l.contains(&sink_conn))
            .collect();
    assert!(
        stray.is_empty(),
        "connections for a null-MX / nonexistent domain: {stray:?}"
    );

    // Both DSNs reach the sender's next hop (example.com → day-one sink).
    let dsns = w.sink.wait_for(2, SOON);
    for (addr, status) in [
        ("erin@nullmx.test", "5.1.10"),
        ("frank@nxdomain.test", "5.1.2"),
    ] {
        let dsn = dsns
            .iter()
            .find(|m| {
                String::from_utf8_lossy(&m.raw)
                    .contains(&format!("Final-Recipient: rfc822; {addr}"))
            })
            .unwrap_or_else(|| panic!("no DSN names {addr}: {dsns:?}"));
        assert_eq!(dsn.mail_from, "", "a DSN comes from the null sender");
        assert_eq!(dsn.rcpts, [SENDER]);
        let text = String::from_utf8_lossy(&dsn.raw);
        assert!(
            text.contains("multipart/report") && text.contains("report-type=delivery-status"),
            "DSN is not a multipart/report:\n{text}"
        );
        assert!(
            text.contains(&format!("Status: {status}\r\n")),
            "DSN for {addr} lacks Status: {status}:\n{text}"
        );
    }

    // Message tracking: the bounce is logged against the message and
    // recipient it happened to (AsyncOS: "Bounced: DCID 0 MID .. to RID
    // 0 - Bounced by destination server with response: 5.1.2 - Bad
    // destination host ..."), not only per domain.
    // Checked last so the DSN results above are reported either way.
    for (mid, code) in [(null_mid, "5.1.10"), (nx_mid, "5.1.2")] {
        let lines = w.gw.log_lines(&format!(
            r"Bounced: DCID 0 MID {mid} to RID 0 - (Bounced by destination server with response: )?{}\b",
            escape(code)
        ));
        assert!(
            !lines.is_empty(),
            "no 'Bounced: DCID 0 MID {mid} to RID 0 - ... {code} ...' line: the mail log says only \
             {:?}",
            w.gw.log_lines(r"Hard bounced")
        );
    }
}
