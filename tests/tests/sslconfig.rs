//! `sslconfig` end to end: the cipher string the seeds recommend (Cisco's
//! best practice in the Microsoft 365 guide) set on both legs, then real
//! clients against the listeners (`openssl s_client -starttls smtp`,
//! `swaks --tls`) and delivery to a TLS mail exchanger (Python's `ssl`,
//! i.e. OpenSSL, as the server), checked by what each peer negotiated and
//! by the `mail_logs` lines an administrator reads.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use breakwater_e2e::{SOON, Swaks, TlsCert, TlsMx, World, allow_relay_from_clients, tls_mx_ip};
use regex::{Regex, escape};

/// The string the seeds recommend for System Administration > SSL
/// Configuration.
const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

/// A world with STARTTLS offered on IncomingMail (ACCEPTED: TLS
/// Preferred) and the seeds' string on both legs, committed.
fn seeded_world() -> World {
    let w = World::start();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "editpolicy",
        "ACCEPTED",
        "--tls",
        "preferred",
    ]);
    for leg in ["inbound", "outbound"] {
        let out = w.gw.cli_ok(&["sslconfig", leg, "--ciphers", SEED]);
        assert!(
            out.contains("TLS 1.2 suites ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256."),
            "{out}"
        );
    }
    w.gw.cli_ok(&["commit", "e2e: the seeds' SSL configuration"]);
    w
}

/// `openssl s_client -starttls smtp` from `source` to Data 1 with `args`;
/// (handshake succeeded, everything it printed).
fn s_client(w: &World, source: Ipv4Addr, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("60")
        .arg("openssl")
        .args(["s_client", "-starttls", "smtp", "-name", "client.e2e.test"])
        .arg("-connect")
        .arg(w.net.data1_smtp().to_string())
        .arg("-bind")
        .arg(format!("{source}:0"))
        .args(["-brief", "-no_ign_eof"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client (is openssl installed? run tools/test)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text.contains("CONNECTION ESTABLISHED"), text)
}

/// The ICID of the latest connection from `source` to Data 1.
fn icid_from(w: &World, source: Ipv4Addr) -> String {
    let line = w.gw.wait_for_log(
        &format!(
            r"New SMTP ICID \d+ interface Data 1 \(\S+\) address {} ",
            escape(&source.to_string())
        ),
        SOON,
    );
    Regex::new(r"ICID (\d+)")
        .expect("regex")
        .captures(&line)
        .map(|c| c[1].to_string())
        .expect("ICID")
}

#[test]
fn the_seeds_cipher_string_negotiates_ecdhe_rsa_and_refuses_old_and_ecdsa_only_clients() {
    let w = seeded_world();

    // A TLS 1.2 client with OpenSSL's whole default list: the factory
    // Demo certificate is RSA, the string removed ECDSA, so ECDHE-RSA it is.
    let client = w.net.client(11);
    let (ok, out) = s_client(&w, client, &["-tls1_2"]);
    assert!(ok, "s_client -tls1_2 failed:\n{out}");
    assert!(out.contains("Protocol version: TLSv1.2"), "{out}");
    assert!(
        out.contains("Ciphersuite: ECDHE-RSA-AES256-GCM-SHA384"),
        "{out}"
    );
    let icid = icid_from(&w, client);
    w.gw.wait_for_log(
        &format!(r"ICID {icid} TLS success protocol TLSv1\.2 cipher ECDHE-RSA-AES256-GCM-SHA384$"),
        SOON,
    );

    // The seed's own log shape, with the AES-128 suite a client may prefer.
    let client = w.net.client(12);
    let (ok, out) = s_client(
        &w,
        client,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    );
    assert!(ok, "{out}");
    let icid = icid_from(&w, client);
    w.gw.wait_for_log(
        &format!(r"ICID {icid} TLS success protocol TLSv1\.2 cipher ECDHE-RSA-AES128-GCM-SHA256$"),
        SOON,
    );

    // TLS 1.0 and 1.1 (the client's own security level lowered so that it
    // really offers them) are refused by the gateway.
    for (n, version) in [(13, "-tls1"), (14, "-tls1_1")] {
        let client = w.net.client(n);
        let (ok, out) = s_client(&w, client, &[version, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{version} was accepted:\n{out}");
        let icid = icid_from(&w, client);
        w.gw.wait_for_log(&format!(r"ICID {icid} TLS failed: "), SOON);
    }

    // A TLS 1.2 client that can only do ECDSA-authenticated suites finds
    // nothing in common: the string removed them (and the certificate is
    // RSA, which is why the string and the Demo certificate go together).
    let client = w.net.client(15);
    let (ok, out) = s_client(
        &w,
        client,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
        ],
    );
    assert!(!ok, "an ECDSA-only client was accepted:\n{out}");
    let icid = icid_from(&w, client);
    w.gw.wait_for_log(&format!(r"ICID {icid} TLS failed: "), SOON);

    // TLS 1.3 is still on (its suites are not the string's business).
    let (ok, out) = s_client(&w, w.net.client(16), &["-tls1_3"]);
    assert!(ok && out.contains("Protocol version: TLSv1.3"), "{out}");

    // The listeners follow the string from the next commit on: without
    // AES-256, a client that wants only that suite is refused, and the
    // client offering everything gets its next choice.
    w.gw.cli_ok(&[
        "sslconfig",
        "inbound",
        "--ciphers",
        &format!("{SEED}:!AES256"),
    ]);
    w.gw.cli_ok(&["commit", "e2e: no AES-256 inbound"]);
    let client = w.net.client(18);
    let (ok, out) = s_client(
        &w,
        client,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
    );
    assert!(!ok, "a suite the string removed was negotiated:\n{out}");
    let (ok, out) = s_client(&w, w.net.client(19), &["-tls1_2"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Ciphersuite: ECDHE-RSA-CHACHA20-POLY1305"),
        "{out}"
    );
    w.gw.cli_ok(&["sslconfig", "inbound", "--ciphers", SEED]);
    w.gw.cli_ok(&["commit", "e2e: the seeds' string again"]);

    // swaks over TLS 1.2, with a message delivered.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    std::fs::write(
        &path,
        b"From: <sender@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <sslconfig-swaks@e2e.test>\r\nSubject: seeds' ciphers\r\n\r\nbody",
    )
    .expect("write message");
    let client = w.net.client(17);
    let out = Swaks::new(w.net.data1_smtp(), client)
        .from("sender@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .tls()
        .arg("--tls-protocol")
        .arg("tlsv1_2")
        .run();
    assert!(out.succeeded(), "{}", out.transcript);
    assert!(
        out.transcript
            .contains("TLS started with cipher TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384"),
        "{}",
        out.transcript
    );
    w.sink
        .wait_for_message_id("sslconfig-swaks@e2e.test", SOON)
        .expect("delivered");
}

#[test]
fn delivery_offers_only_the_outbound_suites_and_logs_them_as_the_seed_does() {
    let w = seeded_world();
    allow_relay_from_clients(&w);
    let certs = tempfile::tempdir().expect("tmp");
    let mx_ip = tls_mx_ip(&w.net, 1);
    let cert = TlsCert::self_signed_rsa(certs.path(), "mx", "mx.partner.test");
    let mx = TlsMx::start(&[(mx_ip, &cert)]);
    let route = format!("{mx_ip}:25");
    w.gw.cli_ok(&["smtproutes", "new", "partner.test", &route]);
    w.gw.cli_ok(&["destconfig", "new", "partner.test", "--use_tls", "required"]);
    w.gw.cli_ok(&["sslconfig", "outbound", "--methods", "TLSv1.2"]);
    w.gw.cli_ok(&["commit", "e2e: TLS 1.2 to partner.test"]);

    let send = |n: u8, id: &str| {
        let out = Swaks::new(w.net.data2_smtp(), w.net.client(n))
            .from("alice@example.com")
            .to("bob@partner.test")
            .arg("--header")
            .arg(format!("Message-ID: <{id}@e2e.test>"))
            .run();
        assert!(out.succeeded(), "{}", out.transcript);
    };

    // The seeds' string over TLS 1.2: the exchanger (OpenSSL, preferring
    // its own order) picks one of the RSA suites the string leaves.
    send(21, "sslconfig-out-1");
    let line = w.gw.wait_for_log(
        r"DCID \d+ TLS success protocol TLSv1\.2 cipher ECDHE-RSA-(AES256-GCM-SHA384|CHACHA20-POLY1305|AES128-GCM-SHA256)$",
        SOON,
    );
    let first = breakwater_e2e::wait_until(SOON, || mx.events_of(mx_ip, "data").first().cloned());
    assert!(first.is_some(), "the exchanger got no message");
    let tls = mx.events_of(mx_ip, "starttls");
    assert_eq!(tls[0]["version"], "TLSv1.2", "{tls:?}");
    let cipher = tls[0]["cipher"].as_str().unwrap_or_default().to_string();
    assert!(line.ends_with(&cipher), "{line} / {tls:?}");

    // Narrowed to one suite and committed: the next connection offers
    // only that one, and mail_logs prints the seed's very line.
    w.gw.cli_ok(&[
        "sslconfig",
        "outbound",
        "--ciphers",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ]);
    w.gw.cli_ok(&["commit", "e2e: one outbound suite"]);
    send(22, "sslconfig-out-2");
    w.gw.wait_for_log(
        r"DCID \d+ TLS success protocol TLSv1\.2 cipher ECDHE-RSA-AES128-GCM-SHA256$",
        SOON,
    );
    let second = breakwater_e2e::wait_until(SOON, || {
        let tls = mx.events_of(mx_ip, "starttls");
        (tls.len() >= 2).then(|| tls[tls.len() - 1].clone())
    })
    .expect("a second TLS session");
    assert_eq!(
        second["cipher"], "ECDHE-RSA-AES128-GCM-SHA256",
        "{second:?}"
    );
}

/// `sslconfig verify` against `openssl ciphers` itself (OpenSSL 3, the
/// library AsyncOS's strings were written for): for each string, the TLS
/// 1.2 suites Breakwater selects are OpenSSL's selection, in OpenSSL's
/// order, with the suites rustls does not implement left out.
#[test]
fn verify_selects_what_openssl_selects_among_rustls_suites() {
    const RUSTLS: [&str; 6] = [
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ];
    let net = breakwater_e2e::TestNet::new();
    let gw = breakwater_e2e::Gateway::start(&net);
    for string in [
        SEED,
        "DEFAULT",
        "ALL",
        "HIGH:@STRENGTH",
        "aRSA:+AES256",
        "ALL:-ECDSA:ECDHE-ECDSA-AES128-GCM-SHA256",
        "ALL:!ECDSA:ECDSA",
        "ECDHE+AESGCM:ECDHE+CHACHA20",
        "EECDH+AESGCM:EDH+AESGCM",
        "AES128:CHACHA20:@STRENGTH",
        "ALL:@SECLEVEL=4",
        "kECDHE+aECDSA:!AES128:CHACHA20",
        "HIGH:!aRSA:+CHACHA20:aRSA",
        "FIPS:-AES256",
        "AESGCM+AES128:SHA256:AES256",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:HIGH",
    ] {
        let out = Command::new("openssl")
            .args(["ciphers", "-s", string])
            .output()
            .expect("run openssl ciphers");
        assert!(out.status.success(), "openssl ciphers {string}: {out:?}");
        let expected: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(':')
            .filter(|s| RUSTLS.contains(s))
            .map(str::to_string)
            .collect();
        let verified = gw.cli_ok(&["sslconfig", "verify", string]);
        let got: Vec<String> = verified
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|s| RUSTLS.contains(s))
            .map(str::to_string)
            .collect();
        assert_eq!(got, expected, "{string}:\n{verified}");
    }
}

/// The serial console's `sslconfig` menu on a real pty, as the seeds'
/// administrator goes through it: INBOUND, Enter for the methods (both,
/// as set), the seeds' cipher string, Enter to leave the menu, `commit`;
/// then `sslconfig print` shows the string on the inbound leg only.
#[test]
fn the_console_menu_sets_the_seeds_string_on_inbound_and_commits() {
    use breakwater_e2e::console::Console;
    use breakwater_e2e::{Gateway, TestNet};

    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mut con = Console::login_factory_admin(&gw, "a passphrase for the ssl test");

    let out = con.dialogue("sslconfig", &["INBOUND", "", SEED, ""]);
    assert!(out.contains("Current SSL Settings:"), "{out}");
    assert!(
        out.contains("- INBOUND - Edit Inbound SMTP ssl settings."),
        "{out}"
    );
    assert!(
        out.contains("Enter the Inbound SMTP ssl methods: TLSv1.2, TLSv1.3 or both"),
        "{out}"
    );
    assert!(out.contains("[TLSv1.2, TLSv1.3]> "), "{out}");
    assert!(
        out.contains("Enter the Inbound SMTP ssl cipher you want to use.\n[DEFAULT]> "),
        "{out}"
    );
    assert!(
        out.contains("Inbound SMTP: TLSv1.2, TLSv1.3; TLS 1.2 suites ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256."),
        "{out}"
    );
    // The menu comes back with the staged settings before Enter leaves it.
    assert!(
        out.contains(&format!("Inbound SMTP ciphers: {SEED}")),
        "{out}"
    );

    let out = con.dialogue("commit", &["seeds: SSL configuration"]);
    assert!(out.contains("Changes committed"), "{out}");

    let printed = con.run("sslconfig print");
    assert!(
        printed.contains(&format!("Inbound SMTP ciphers: {SEED}\n")),
        "{printed}"
    );
    assert!(
        printed.contains("Inbound SMTP TLS 1.2 suites: ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-GCM-SHA256"),
        "{printed}"
    );
    assert!(
        printed.contains("Outbound SMTP ciphers: DEFAULT\n"),
        "{printed}"
    );
    // Committed, not staged: the control plane's view says the same.
    let committed = gw.cli_ok(&["sslconfig", "print"]);
    assert!(
        committed.contains(&format!("Inbound SMTP ciphers: {SEED}")),
        "{committed}"
    );
    con.logout();
}
