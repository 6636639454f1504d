//! DKIM signing of outgoing mail (issue 17): a signing key made on the
//! gateway, a signing profile, "Domain Key/DKIM Signing" on for the
//! private listener's RELAYED policy; a message relayed from Microsoft 365
//! reaches the next hop signed, and Debian's dkimpy verifies the signature
//! against the TXT record `domainkeysconfig profiles dnstxt` printed,
//! served by dnsmasq. Mail through a policy without signing, or from
//! another domain, goes out unsigned.

use std::process::Command;

use breakwater_e2e::{Dns, SOON, TestNet, World, mid_in_reply, simple_message, smtplib};

const PARTNER: &str = "partner.example";
/// The verifier's dnsmasq: beside the gateway's, on another port.
const VERIFIER_DNS_PORT: u16 = 5354;

/// The Microsoft 365 outbound host (.10) may relay through OutgoingMail.
fn outbound_world() -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", net.client(10))
        .start();
    let w = World::with_dns(net, dns);
    w.relay_for_microsoft_365_to_sink(PARTNER);
    w.gw.cli_ok(&["commit", "e2e: relay for Microsoft 365"]);
    w
}

/// Relays one message from `from` through Data 2; returns its MID and the
/// bytes the next hop received.
fn relay(w: &World, from: &str, message_id: &str) -> (u64, Vec<u8>) {
    let to = format!("bob@{PARTNER}");
    let msg = simple_message(from, &to, message_id, "quarterly figures");
    let res = smtplib::send(
        w.net.data2_smtp(),
        w.net.client(10),
        from,
        &[&to],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "relay refused: {res:?}");
    let mid = mid_in_reply(&data.text).expect("MID in 250");
    let m = w
        .sink
        .wait_for_message_id(message_id, SOON)
        .expect("relayed message reaches the next hop");
    (mid, m.raw)
}

/// The TXT record's name and strings from `profiles dnstxt`'s
/// `sel._domainkey.example.com. IN TXT "..." "..."`.
fn parse_record(line: &str) -> (String, Vec<String>) {
    let (name, rest) = line
        .trim()
        .split_once(" IN TXT ")
        .unwrap_or_else(|| panic!("not a TXT record line: {line}"));
    let strings = rest
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    (name.to_string(), strings)
}

/// dkimpy's verdict on `message`, its key lookups answered by dnsmasq.
fn dkimpy_verifies(net: &TestNet, message: &[u8]) -> (bool, String) {
    const SCRIPT: &str = r#"
import sys, logging, dkim, dns.resolver
logging.basicConfig(level=logging.DEBUG)
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
def txt(name, timeout=5):
    answer = r.resolve(name.decode().rstrip('.') + '.', 'TXT', lifetime=timeout)
    return b''.join(answer[0].strings)
msg = open(sys.argv[3], 'rb').read()
ok = dkim.verify(msg, logger=logging.getLogger('dkim'), dnsfunc=txt)
print('pass' if ok else 'fail')
"#;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("received.eml");
    std::fs::write(&file, message).expect("write message");
    // Debian's python (with python3-dkim), not PATH's.
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(net.dns_ip().to_string())
        .arg(VERIFIER_DNS_PORT.to_string())
        .arg(&file)
        .output()
        .expect("run /usr/bin/python3 (is python3-dkim installed? see tools/packages.txt)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "dkimpy did not run (python3-dkim, python3-nacl, python3-dnspython): {text}"
    );
    // The verdict is stdout's; dkimpy's debug log (stderr) explains it.
    (String::from_utf8_lossy(&out.stdout).trim() == "pass", text)
}

/// A signing key of `key_type` made on the gateway, profile `example_com`
/// (selector bw2026) and signing on for RELAYED, committed; the TXT record
/// `profiles dnstxt` prints, served by the verifier's dnsmasq (returned:
/// it answers while it lives) with the record's name and strings.
fn signing_on(w: &World, key_type: &str) -> (Dns, String, Vec<String>) {
    w.gw.cli_ok(&[
        "domainkeysconfig",
        "keys",
        "new",
        "outbound",
        "--type",
        key_type,
    ]);
    w.gw.cli_ok(&[
        "domainkeysconfig",
        "profiles",
        "new",
        "example_com",
        "example.com",
        "bw2026",
        "outbound",
    ]);
    w.gw.cli_ok(&[
        "domainkeysconfig",
        "policy",
        "OutgoingMail",
        "RELAYED",
        "on",
    ]);
    w.gw.cli_ok(&["commit", "e2e: DKIM signing"]);
    let record =
        w.gw.cli_ok(&["domainkeysconfig", "profiles", "dnstxt", "example_com"]);
    let (name, strings) = parse_record(&record);
    let strs: Vec<&str> = strings.iter().map(String::as_str).collect();
    let dns = Dns::builder(&w.net)
        .port(VERIFIER_DNS_PORT)
        .txt_record(&name, &strs)
        .start();
    (dns, name, strings)
}

fn signs_and_verifies(key_type: &str) {
    let w = outbound_world();
    let (_verifier_dns, name, strings) = signing_on(&w, key_type);
    assert_eq!(name, "bw2026._domainkey.example.com.");
    assert!(strings.iter().all(|s| s.len() <= 255), "{strings:?}");
    assert!(
        strings[0].starts_with(&format!("v=DKIM1; k={key_type}; p=")),
        "{strings:?}"
    );

    let (mid, raw) = relay(&w, "alice@example.com", "dkim-signed@e2e.test");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("DKIM-Signature: ")
            && text.contains("d=example.com")
            && text.contains("s=bw2026"),
        "no signature for example.com:\n{text}"
    );
    let (ok, why) = dkimpy_verifies(&w.net, &raw);
    assert!(
        ok,
        "dkimpy does not verify the {key_type} signature: {why}\n{text}"
    );
    w.gw.wait_for_log(
        &format!(r"MID {mid} DKIM: signing with example_com - matches alice@example\.com"),
        SOON,
    );

    // A changed body fails: the signature covers it.
    let tampered = text.replace("quarterly figures", "quarterly figurez");
    let (ok, _) = dkimpy_verifies(&w.net, tampered.as_bytes());
    assert!(!ok, "a tampered message still verifies");

    // Mail from a domain without a profile goes out unsigned.
    let (_, raw) = relay(&w, "carol@other.example", "dkim-other@e2e.test");
    assert!(
        !String::from_utf8_lossy(&raw).contains("DKIM-Signature:"),
        "mail from other.example was signed"
    );

    // Signing off for RELAYED: unsigned again.
    w.gw.cli_ok(&[
        "domainkeysconfig",
        "policy",
        "OutgoingMail",
        "RELAYED",
        "off",
    ]);
    w.gw.cli_ok(&["commit", "e2e: DKIM signing off"]);
    let (_, raw) = relay(&w, "alice@example.com", "dkim-off@e2e.test");
    assert!(
        !String::from_utf8_lossy(&raw).contains("DKIM-Signature:"),
        "signed with signing off"
    );
}

#[test]
fn relayed_mail_is_signed_rsa_2048_and_dkimpy_verifies_it() {
    signs_and_verifies("rsa");
}

#[test]
fn relayed_mail_is_signed_ed25519_and_dkimpy_verifies_it() {
    signs_and_verifies("ed25519");
}

#[test]
fn private_keys_are_masked_in_saved_configurations() {
    let w = World::start();
    w.gw.cli_ok(&["domainkeysconfig", "keys", "new", "k1"]);
    w.gw.cli_ok(&["commit", "e2e: a DKIM key"]);
    let shown = w.gw.cli_ok(&["showconfig", "--json"]);
    assert!(
        !shown.contains("PRIVATE KEY"),
        "showconfig shows a DKIM private key"
    );
    let printed = w.gw.cli_ok(&["domainkeysconfig", "print"]);
    assert!(!printed.contains("PRIVATE KEY"));
    let exported = w.gw.cli_ok(&["domainkeysconfig", "keys", "export", "k1"]);
    assert!(exported.starts_with("-----BEGIN PRIVATE KEY-----"));
}

/// The issue's round trip: what the gateway signs on the way out, its own
/// verification passes on the way in (the relayed message sent back to
/// IncomingMail with DKIM verification on, the key from `dnstxt` served by
/// the gateway's name server).
#[test]
fn the_gateways_own_dkim_verification_passes_what_it_signed() {
    let w = outbound_world();
    let (_verifier_dns, _, _) = signing_on(&w, "rsa");
    let (_, raw) = relay(&w, "alice@example.com", "dkim-roundtrip@e2e.test");

    // The gateway now asks that name server and verifies DKIM on
    // IncomingMail.
    w.gw.cli_ok(&[
        "dnsconfig",
        "servers",
        &format!("{}:{VERIFIER_DNS_PORT}", w.net.dns_ip()),
    ]);
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "senderauth",
        "ACCEPTED",
        "--dkim",
        "on",
    ]);
    w.gw.cli_ok(&["commit", "e2e: DKIM verification"]);
    let before = w.sink.messages().len();
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(1),
        "alice@example.com",
        &["alice@example.com"],
        &raw,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "refused on IncomingMail: {res:?}");
    let got = w.sink.wait_for(before + 1, SOON);
    let back = got.last().expect("the message came back in");
    let header = back
        .header("Authentication-Results")
        .unwrap_or_else(|| panic!("no Authentication-Results:\n{:?}", back.headers()));
    assert!(
        header.contains("dkim=pass") && header.contains("header.d=example.com"),
        "the gateway does not verify its own signature: {header}"
    );
}
