//! Sender authentication on IncomingMail (issue 17): SPF, DKIM and DMARC
//! verified against a real DNS server (dnsmasq with TXT records), with
//! messages signed by an independent signer (dkimpy's `dkimsign`), as an
//! administrator checks it: the reply at end of data, the
//! `Authentication-Results:` header the mailbox server receives, and the
//! `mail_logs` lines.

use std::net::{SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};

use breakwater_e2e::{Dns, SOON, SinkMessage, Swaks, SwaksOutcome, TestNet, World, mid_in_reply};

/// dkimpy's programs, run with Debian's python (the PATH python3 may be
/// another one without the `dkim` module).
const PYTHON: &str = "/usr/bin/python3";
const DKIMSIGN: &str = "/usr/bin/dkimsign";
const ARCSIGN: &str = "/usr/bin/arcsign";
const DKNEWKEY: &str = "/usr/bin/dknewkey";

/// A 2048-bit RSA key made by dknewkey: (private key file, DNS TXT value).
fn dkim_key(dir: &Path) -> (std::path::PathBuf, String) {
    assert!(
        Path::new(DKNEWKEY).exists(),
        "{DKNEWKEY} is missing: install python3-dkim (tools/packages.txt)"
    );
    let status = Command::new(PYTHON)
        .arg(DKNEWKEY)
        .arg("sel")
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .expect("run dknewkey");
    assert!(status.success(), "dknewkey failed");
    let txt = std::fs::read_to_string(dir.join("sel.dns")).expect("sel.dns");
    // dknewkey writes `sel._domainkey IN TXT "v=DKIM1; ..."` or the bare
    // value, depending on its version: keep what is inside the quotes.
    let value = match (txt.find('"'), txt.rfind('"')) {
        (Some(a), Some(b)) if b > a => txt[a + 1..b].replace("\" \"", ""),
        _ => txt.trim().to_string(),
    };
    (dir.join("sel.key"), value)
}

/// `message` signed by dkimsign for d=signed.e2e.test s=sel.
fn dkim_sign(key: &Path, message: &[u8]) -> Vec<u8> {
    dkim_sign_as(key, "signed.e2e.test", message)
}

/// `message` signed by dkimsign for d=`domain` s=sel.
fn dkim_sign_as(key: &Path, domain: &str, message: &[u8]) -> Vec<u8> {
    run_signer(&[DKIMSIGN, "sel", domain], key, &[], message)
}

/// `message` ARC-sealed by dkimpy's arcsign as a forwarder would: it has
/// verified the message (its own Authentication-Results, authserv-id
/// lists.e2e.test) and seals it with d=signed.e2e.test s=sel.
fn arc_seal(key: &Path, message: &[u8]) -> Vec<u8> {
    assert!(
        Path::new(ARCSIGN).exists(),
        "{ARCSIGN} is missing: install python3-dkim and python3-authres (tools/packages.txt)"
    );
    let mut with_results =
        b"Authentication-Results: lists.e2e.test; spf=pass smtp.mailfrom=user@signed.e2e.test\r\n"
            .to_vec();
    with_results.extend_from_slice(message);
    run_signer(
        &[ARCSIGN, "sel", "signed.e2e.test"],
        key,
        &["lists.e2e.test"],
        &with_results,
    )
}

/// Runs a dkimpy signer: `args`, the key file, `after`; the message on stdin.
fn run_signer(args: &[&str], key: &Path, after: &[&str], message: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = Command::new(PYTHON)
        .args(args)
        .arg(key)
        .args(after)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the dkimpy signer");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write to the signer");
    let out = child.wait_with_output().expect("signer output");
    assert!(out.status.success(), "{args:?} failed");
    // dkimsign keeps the message's line ends; the signature lines it adds
    // end in LF: make everything CRLF for SMTP.
    let text = String::from_utf8(out.stdout).expect("utf-8");
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

fn message(from: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <alice@example.com>\r\nSubject: sender auth {id}\r\nMessage-ID: <{id}>\r\nDate: Sun, 06 Dec 2026 12:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn send(world: &World, from: &str, data: &[u8]) -> SwaksOutcome {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    std::fs::write(&path, data).expect("write message");
    Swaks::new(world.net.data1_smtp(), world.net.client(1))
        .from(from)
        .to("alice@example.com")
        .data_file(&path)
        .run()
}

/// Sends and expects 250; returns the MID and the message the sink got.
fn delivered(world: &World, from: &str, id: &str, data: &[u8]) -> (u64, SinkMessage) {
    let out = send(world, from, data);
    let reply = out
        .data_reply()
        .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
    assert_eq!(reply.code, 250, "{}", out.transcript);
    let mid = mid_in_reply(&reply.text()).expect("the 250 names the MID");
    let got = world
        .sink
        .wait_for_message_id(id, SOON)
        .expect("the message reaches the sink");
    (mid, got)
}

/// The gateway's Authentication-Results header (the first one).
fn auth_results(m: &SinkMessage) -> String {
    m.headers()
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no Authentication-Results header:\n{:?}", m.headers()))
}

#[test]
fn spf_dkim_and_dmarc_verdicts_reach_the_header_the_log_and_the_reply() {
    let keys = tempfile::tempdir().expect("tmp");
    let (key, key_txt) = dkim_key(keys.path());
    // A name server that never answers: SPF's lookup there times out.
    let net = TestNet::new();
    let silent = UdpSocket::bind(SocketAddrV4::new(net.client(200), 0)).expect("bind silent");
    let silent_addr = match silent.local_addr().expect("addr") {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => unreachable!("bound to IPv4"),
    };
    let dns = Dns::builder(&net)
        .txt("pass.e2e.test", "v=spf1 ip4:127.0.0.0/8 -all")
        .txt("fail.e2e.test", "v=spf1 -all")
        .txt("soft.e2e.test", "v=spf1 ~all")
        .txt("dmarc.e2e.test", "v=spf1 -all")
        .txt("_dmarc.dmarc.e2e.test", "v=DMARC1; p=reject")
        .txt("quar.e2e.test", "v=spf1 -all")
        .txt("_dmarc.quar.e2e.test", "v=DMARC1; p=quarantine")
        .txt("signed.e2e.test", "v=spf1 ip4:127.0.0.0/8 -all")
        .txt("_dmarc.signed.e2e.test", "v=DMARC1; p=reject")
        .txt("sel._domainkey.signed.e2e.test", &key_txt)
        .forward("tempfail.e2e.test", silent_addr)
        // Its DKIM keys are on a name server that never answers.
        .txt("slow.e2e.test", "v=spf1 ip4:127.0.0.0/8 -all")
        .forward("_domainkey.slow.e2e.test", silent_addr)
        .start();
    let world = World::with_dns(net, dns);
    world.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "senderauth",
        "ACCEPTED",
        "--spf",
        "on",
        "--dkim",
        "on",
        "--dmarc",
        "on",
    ]);
    world
        .gw
        .cli_ok(&["dmarcconfig", "setup", "--dns-budget", "30"]);
    world.gw.cli_ok(&["commit", "e2e: sender authentication"]);

    // SPF pass, fail, softfail, none, temperror.
    for (domain, spf, word) in [
        ("pass.e2e.test", "spf=pass", "Pass (v=spf1)"),
        ("fail.e2e.test", "spf=fail", "Fail"),
        ("soft.e2e.test", "spf=softfail", "SoftFail"),
        ("none.e2e.test", "spf=none", "None"),
        ("tempfail.e2e.test", "spf=temperror", "TempError"),
    ] {
        let from = format!("user@{domain}");
        let id = format!("spf-{domain}@e2e.test");
        let (mid, got) = delivered(&world, &from, &id, &message(&from, &id, "Hello."));
        let header = auth_results(&got);
        assert!(header.contains(&format!("{spf} ")), "{domain}: {header}");
        world.gw.wait_for_log(
            &regex::escape(&format!("MID {mid} SPF: mailfrom identity {from} {word}")),
            SOON,
        );
    }
    // The HELO identity has no SPF record.
    world
        .gw
        .wait_for_log("SPF: helo identity postmaster@swaks.e2e.test None", SOON);

    // DKIM: signed by dkimpy, verified; the same message altered fails.
    let from = "user@signed.e2e.test";
    let signed = dkim_sign(&key, &message(from, "dkim-ok@e2e.test", "Signed body."));
    let (mid, got) = delivered(&world, from, "dkim-ok@e2e.test", &signed);
    let header = auth_results(&got);
    assert!(header.contains("dkim=pass"), "{header}");
    assert!(header.contains("dmarc=pass"), "{header}");
    world.gw.wait_for_log(
        &regex::escape(&format!(
            "MID {mid} DKIM: pass signature verified (d=signed.e2e.test s=sel"
        )),
        SOON,
    );
    let signed = dkim_sign(&key, &message(from, "dkim-bad@e2e.test", "Signed body."));
    let tampered = String::from_utf8(signed)
        .expect("utf-8")
        .replace("Signed body.", "Changed body.");
    let (_, got) = delivered(&world, from, "dkim-bad@e2e.test", tampered.as_bytes());
    let header = auth_results(&got);
    // mail-auth reports a body hash mismatch as neutral (the signature
    // itself is sound); what matters is that it does not pass.
    assert!(!header.contains("dkim=pass"), "{header}");
    assert!(header.contains("body hash did not verify"), "{header}");

    // DMARC: SPF fails, nothing signed, the domain says p=reject.
    let from = "user@dmarc.e2e.test";
    let out = send(&world, from, &message(from, "dmarc@e2e.test", "Forged."));
    let reply = out
        .data_reply()
        .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
    assert_eq!(reply.code, 550, "{}", out.transcript);
    assert!(
        reply
            .text()
            .contains("5.7.1 DMARC unauthenticated mail is prohibited"),
        "{}",
        out.transcript
    );
    world
        .gw
        .wait_for_log("DMARC: Message rejected by DMARC policy: 550 5.7.1", SOON);
    // Refused at end of data: nothing was queued, so nothing was delivered.
    assert!(
        !world
            .sink
            .messages()
            .iter()
            .any(|m| String::from_utf8_lossy(&m.raw).contains("dmarc@e2e.test")),
        "a DMARC reject is not delivered"
    );

    // DMARC p=quarantine: accepted, then held in the profile's quarantine
    // (Policy) instead of being delivered.
    let from = "user@quar.e2e.test";
    let out = send(&world, from, &message(from, "quar@e2e.test", "Suspect."));
    let reply = out
        .data_reply()
        .unwrap_or_else(|| panic!("no reply to end of DATA:\n{}", out.transcript));
    assert_eq!(reply.code, 250, "{}", out.transcript);
    let mid = mid_in_reply(&reply.text()).expect("the 250 names the MID");
    world.gw.wait_for_log(
        &regex::escape(&format!(
            "MID {mid} quarantined to \"Policy\" (message filter:DMARC)"
        )),
        SOON,
    );

    // ARC (RFC 8617): a forwarder's sealed chain verifies; the same
    // message changed after sealing does not. DMARC is not overridden by
    // the chain (AsyncOS has no trusted-sealer setting).
    let from = "user@signed.e2e.test";
    let sealed = arc_seal(&key, &message(from, "arc-ok@e2e.test", "Forwarded body."));
    let (mid, got) = delivered(&world, from, "arc-ok@e2e.test", &sealed);
    let header = auth_results(&got);
    assert!(
        header.contains("arc=pass (i=1 d=signed.e2e.test)"),
        "{header}"
    );
    world.gw.wait_for_log(
        &regex::escape(&format!("MID {mid} ARC: pass (i=1 d=signed.e2e.test)")),
        SOON,
    );
    let sealed = arc_seal(&key, &message(from, "arc-bad@e2e.test", "Forwarded body."));
    let tampered = String::from_utf8(sealed)
        .expect("utf-8")
        .replace("Forwarded body.", "Rewritten body.");
    let (mid, got) = delivered(&world, from, "arc-bad@e2e.test", tampered.as_bytes());
    let header = auth_results(&got);
    assert!(header.contains("arc=fail"), "{header}");
    world
        .gw
        .wait_for_log(&regex::escape(&format!("MID {mid} ARC: fail")), SOON);
    // Unsealed mail: arc=none.
    let id = "arc-none@e2e.test";
    let (_, got) = delivered(&world, from, id, &message(from, id, "Plain."));
    assert!(
        auth_results(&got).contains("arc=none"),
        "{:?}",
        got.headers()
    );

    // The per-message DNS budget: the DKIM key's name server never
    // answers, the lookup outlives a budget of one second (dnsconfig's
    // query timeout is 5 s), and what was not done is a temperror. The
    // factory DMARC profile accepts on temperror.
    world
        .gw
        .cli_ok(&["dmarcconfig", "setup", "--dns-budget", "1"]);
    world.gw.cli_ok(&["commit", "e2e: a one-second DNS budget"]);
    let from = "user@slow.e2e.test";
    let id = "budget@e2e.test";
    let signed = dkim_sign_as(&key, "slow.e2e.test", &message(from, id, "Slow key."));
    let (mid, got) = delivered(&world, from, id, &signed);
    let header = auth_results(&got);
    assert!(
        header.contains("dkim=temperror (DNS budget spent)"),
        "{header}"
    );
    world.gw.wait_for_log(
        &regex::escape(&format!(
            "MID {mid} sender authentication: DNS budget of 1 seconds spent"
        )),
        SOON,
    );
    drop(silent);
}
