//! DANE for outbound SMTP (RFC 7672) against real DNSSEC: BIND serves a
//! signed private root and signed zones under it on loopback, the gateway
//! validates with hickory against the root's KSK (`dnsconfig trustanchor`),
//! and the mail exchangers are STARTTLS servers with `openssl` certificates.
//!
//! ```text
//!   swaks-like client ──► Data 1 ──► breakwater ──► named 127.0.0.1:25300+n (. and *.test, signed)
//!                                        └──(STARTTLS)──► tls_mx.py 127.6.n.x:25
//! ```
//!
//! | domain | DNS | destconfig | expected |
//! | --- | --- | --- | --- |
//! | ee.test | TLSA 3 1 1 of the server key | mandatory | delivered, `DANE success` |
//! | ee512.test | TLSA 3 1 2 of the server key | mandatory | delivered |
//! | wrong.test | TLSA 3 1 1 of another key | opportunistic | no MAIL FROM, delayed |
//! | none.test | no TLSA (secure denial) | mandatory | no connection, delayed |
//! | opp.test | no TLSA | opportunistic, TLS required | delivered over TLS, no DANE |
//! | plain.test | unsigned zone | mandatory | no connection, delayed |
//! | ta.test | TLSA 2 0 1 of the issuing CA | mandatory | delivered |
//! | routed.test | SMTP route | mandatory | delivered, `DANE skipped` |

use std::net::Ipv4Addr;

use breakwater_e2e::{
    Bind, EVENTUALLY, Gateway, SOON, TestNet, TlsCert, TlsMx, simple_message, smtplib, tls_mx_ip,
    wait_until,
};
use regex::escape;

/// Peers and gateway of one DANE test; drops top to bottom.
struct DaneWorld {
    gw: Gateway,
    mx: TlsMx,
    _bind: Bind,
    net: TestNet,
    _certs: tempfile::TempDir,
}

/// Mail exchanger addresses (`127.6.n.x`).
const EE: u8 = 1;
const EE512: u8 = 2;
const WRONG: u8 = 3;
const NONE: u8 = 4;
const OPP: u8 = 5;
const PLAIN: u8 = 6;
const TA: u8 = 7;
const ROUTED: u8 = 8;

fn dane_world() -> DaneWorld {
    let net = TestNet::new();
    let certs = tempfile::tempdir().expect("cert dir");
    let d = certs.path();
    let ip = |x| tls_mx_ip(&net, x);
    let cert = |name: &str, host: &str| TlsCert::self_signed(d, name, host);
    let ee = cert("ee", "mx.ee.test");
    let ee512 = cert("ee512", "mx.ee512.test");
    let wrong = cert("wrong", "mx.wrong.test");
    let other = cert("other", "mx.wrong.test");
    let none = cert("none", "mx.none.test");
    let opp = cert("opp", "mx.opp.test");
    let plain = cert("plain", "mx.plain.test");
    let routed = cert("routed", "mx.routed.test");
    let ca = TlsCert::ca(d, "ta-ca");
    let ta = TlsCert::issued(d, "ta", "mx.ta.test", &ca);

    let mut dns = Bind::builder();
    for zone in [
        "ee.test",
        "ee512.test",
        "wrong.test",
        "none.test",
        "opp.test",
        "ta.test",
    ] {
        dns = dns.signed_zone(zone);
    }
    let dns = dns
        .unsigned_zone("plain.test")
        .mx("ee.test", "mx.ee.test", 10)
        .a("mx.ee.test", ip(EE))
        .tlsa("mx.ee.test", 3, 1, 1, &ee.spki_sha256())
        .mx("ee512.test", "mx.ee512.test", 10)
        .a("mx.ee512.test", ip(EE512))
        .tlsa("mx.ee512.test", 3, 1, 2, &ee512.spki_sha512())
        .mx("wrong.test", "mx.wrong.test", 10)
        .a("mx.wrong.test", ip(WRONG))
        .tlsa("mx.wrong.test", 3, 1, 1, &other.spki_sha256())
        .mx("none.test", "mx.none.test", 10)
        .a("mx.none.test", ip(NONE))
        .mx("opp.test", "mx.opp.test", 10)
        .a("mx.opp.test", ip(OPP))
        .mx("plain.test", "mx.plain.test", 10)
        .a("mx.plain.test", ip(PLAIN))
        .tlsa("mx.plain.test", 3, 1, 1, &plain.spki_sha256())
        .mx("ta.test", "mx.ta.test", 10)
        .a("mx.ta.test", ip(TA))
        .tlsa("mx.ta.test", 2, 0, 1, &ca.cert_sha256())
        .start(&net);

    let mx = TlsMx::start(&[
        (ip(EE), &ee),
        (ip(EE512), &ee512),
        (ip(WRONG), &wrong),
        (ip(NONE), &none),
        (ip(OPP), &opp),
        (ip(PLAIN), &plain),
        (ip(TA), &ta),
        (ip(ROUTED), &routed),
    ]);

    let gw = Gateway::start(&net);
    let server = dns.server();
    let route = format!("{}:25", ip(ROUTED));
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["dnsconfig".into(), "servers".into(), server],
        vec![
            "smtproutes".into(),
            "new".into(),
            "routed.test".into(),
            route,
        ],
        vec![
            "deliveryconfig".into(),
            "retry".into(),
            "--initial-secs".into(),
            "1".into(),
            "--max-secs".into(),
            "2".into(),
        ],
        // The mail exchangers listen on loopback, which delivery by MX
        // refuses unless told otherwise (docs/security.md).
        vec![
            "deliveryconfig".into(),
            "setup".into(),
            "--allow-loopback-next-hops".into(),
            "yes".into(),
        ],
    ];
    let mut anchor = vec!["dnsconfig".to_string(), "trustanchor".into(), "add".into()];
    anchor.extend(dns.trust_anchor().split(' ').map(str::to_string));
    cmds.push(anchor);
    for (domain, dane, tls) in [
        ("ee.test", "mandatory", "none"),
        ("ee512.test", "mandatory", "none"),
        ("wrong.test", "opportunistic", "preferred"),
        ("none.test", "mandatory", "preferred"),
        ("opp.test", "opportunistic", "required"),
        ("plain.test", "mandatory", "preferred"),
        ("ta.test", "mandatory", "none"),
        ("routed.test", "mandatory", "none"),
    ] {
        cmds.push(
            [
                "listenerconfig",
                "edit",
                "IncomingMail",
                "rcptaccess",
                "new",
                domain,
                "accept",
            ]
            .map(str::to_string)
            .to_vec(),
        );
        cmds.push(
            [
                "destconfig",
                "new",
                domain,
                "--dane",
                dane,
                "--use_tls",
                tls,
            ]
            .map(str::to_string)
            .to_vec(),
        );
    }
    cmds.push(vec!["commit".into(), "e2e: DANE".into()]);
    for cmd in &cmds {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        gw.cli_ok(&args);
    }
    DaneWorld {
        gw,
        mx,
        _bind: dns,
        net,
        _certs: certs,
    }
}

impl DaneWorld {
    /// Sends one message to `user@domain` through Data 1; returns its MID.
    fn send(&self, domain: &str, id: &str) -> u64 {
        let to = format!("user@{domain}");
        let msg = simple_message("sender@internet.example", &to, id, "DANE test");
        let res = smtplib::send(
            self.net.data1_smtp(),
            self.net.client(9),
            "sender@internet.example",
            &[&to],
            &msg,
            &[],
        );
        let data = smtplib::find(&res, "data").expect("DATA step");
        assert_eq!(data.code, Some(250), "{res:?}");
        breakwater_e2e::mid_in_reply(&data.text).expect("MID in the 250 reply")
    }

    fn ip(&self, x: u8) -> Ipv4Addr {
        tls_mx_ip(&self.net, x)
    }

    /// Waits until the server at `x` received a message over TLS.
    fn wait_delivered_over_tls(&self, x: u8) {
        let got = wait_until(SOON, || {
            self.mx
                .events_of(self.ip(x), "data")
                .into_iter()
                .find(|e| e["tls"] == true)
        });
        assert!(
            got.is_some(),
            "no message over TLS at {}: {:?}",
            self.ip(x),
            self.mx.events(self.ip(x))
        );
    }

    /// Waits for the message to be deferred (the retry line).
    fn wait_delayed(&self, mid: u64) -> String {
        self.gw.wait_for_log(
            &format!(r"Message {mid} to RID \[\d+\] pending till"),
            EVENTUALLY,
        )
    }
}

#[test]
fn dane_ee_match_delivers_over_tls_and_logs_success() {
    let w = dane_world();
    let mid = w.send("ee.test", "dane-ee@e2e.test");
    w.wait_delivered_over_tls(EE);
    let success =
        w.gw.wait_for_log(r"DCID (\d+) DANE success for mx\.ee\.test", SOON);
    let dcid = regex::Regex::new(r"DCID (\d+)")
        .expect("regex")
        .captures(&success)
        .map(|c| c[1].to_string())
        .expect("DCID");
    w.gw.wait_for_log(
        &format!(r"DCID {dcid} TLS success protocol TLSv1\.[23] cipher \S+"),
        SOON,
    );
    w.gw.wait_for_log(&format!(r"Message done DCID {dcid} MID {mid} "), SOON);
}

#[test]
fn dane_ee_sha512_record_matches() {
    let w = dane_world();
    w.send("ee512.test", "dane-ee512@e2e.test");
    w.wait_delivered_over_tls(EE512);
    w.gw.wait_for_log(r"DCID \d+ DANE success for mx\.ee512\.test", SOON);
}

#[test]
fn dane_ta_record_matching_the_issuer_delivers() {
    let w = dane_world();
    w.send("ta.test", "dane-ta@e2e.test");
    w.wait_delivered_over_tls(TA);
    w.gw.wait_for_log(r"DCID \d+ DANE success for mx\.ta\.test", SOON);
}

#[test]
fn dane_mismatch_is_never_delivered_and_is_delayed() {
    let w = dane_world();
    let mid = w.send("wrong.test", "dane-wrong@e2e.test");
    w.gw.wait_for_log(r"DCID \d+ DANE failed: .*TLSA", SOON);
    w.wait_delayed(mid);
    // The server saw the connection and the STARTTLS, never a sender.
    assert!(
        !w.mx.events_of(w.ip(WRONG), "connect").is_empty(),
        "{:?}",
        w.mx.events(w.ip(WRONG))
    );
    assert!(
        w.mx.events_of(w.ip(WRONG), "mail").is_empty(),
        "MAIL FROM reached a server whose certificate does not match: {:?}",
        w.mx.events(w.ip(WRONG))
    );
    assert!(
        w.gw.log_lines(&format!(r"DANE success for {}", escape("mx.wrong.test")))
            .is_empty()
    );
}

#[test]
fn dane_mandatory_without_tlsa_does_not_connect_and_is_delayed() {
    let w = dane_world();
    let mid = w.send("none.test", "dane-none@e2e.test");
    w.gw.wait_for_log(
        r"DANE failed for mx\.none\.test: there are no TLSA records",
        SOON,
    );
    w.wait_delayed(mid);
    assert!(
        w.mx.events(w.ip(NONE)).is_empty(),
        "{:?}",
        w.mx.events(w.ip(NONE))
    );
}

#[test]
fn dane_mandatory_with_an_unsigned_zone_is_delayed() {
    let w = dane_world();
    let mid = w.send("plain.test", "dane-plain@e2e.test");
    w.gw.wait_for_log(
        r"DANE failed for mx\.plain\.test: .*not DNSSEC-secure",
        SOON,
    );
    w.wait_delayed(mid);
    assert!(
        w.mx.events(w.ip(PLAIN)).is_empty(),
        "{:?}",
        w.mx.events(w.ip(PLAIN))
    );
}

#[test]
fn dane_opportunistic_without_tlsa_follows_the_tls_setting() {
    let w = dane_world();
    let mid = w.send("opp.test", "dane-opp@e2e.test");
    w.wait_delivered_over_tls(OPP);
    w.gw.wait_for_log(
        r"DANE not applicable to mx\.opp\.test: there are no TLSA records; using the TLS setting",
        SOON,
    );
    w.gw.wait_for_log(&format!(r"Message done DCID \d+ MID {mid} "), SOON);
    assert!(w.gw.log_lines(r"DANE success for mx\.opp\.test").is_empty());
}

#[test]
fn dane_is_skipped_for_a_domain_with_an_smtp_route() {
    let w = dane_world();
    let mid = w.send("routed.test", "dane-routed@e2e.test");
    w.gw.wait_for_log(
        r"DANE skipped for routed\.test: delivery is by SMTP route",
        SOON,
    );
    w.gw.wait_for_log(&format!(r"Message done DCID \d+ MID {mid} "), SOON);
    // `--use_tls none`: the route gets plain text, as configured.
    let data = w.mx.events_of(w.ip(ROUTED), "data");
    assert_eq!(data.len(), 1, "{:?}", w.mx.events(w.ip(ROUTED)));
    assert_eq!(data[0]["tls"], false);
}
