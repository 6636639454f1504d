//! Issue 17's web pages through `curl` (a real HTTPS client with a cookie
//! jar), as an administrator uses them: Security Services > Anti-Spam and
//! Anti-Virus, a mail policy's Anti-Spam and Anti-Virus pages, Signing Keys and Profiles, DMARC, Bounce
//! Verification, SMTP Call-Ahead and a mail flow policy's Security
//! Features. Each page renders, one change per page goes through its form,
//! the lot is committed with Commit Changes, and the CLI then shows each
//! change (the web runs the same catalog commands).

use breakwater_e2e::web::{WebClient, strip_tags};
use breakwater_e2e::{Gateway, TestNet};

/// Submits a form and expects the redirect back to `to` with no error.
fn submit(web: &WebClient, path: &str, fields: &[(&str, &str)], to: &str) {
    let (status, location) = web.post(path, fields);
    assert_eq!((status, location.as_str()), (303, to), "{path}");
    let page = web.get(to);
    assert!(
        !page.contains("flash error"),
        "{path}: {}",
        strip_tags(&page)
    );
}

#[test]
fn each_content_security_page_stages_its_change_and_the_cli_sees_it_committed() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let passphrase = gw.ready_admin();
    let web = WebClient::login(&gw, "admin", &passphrase);

    // The menu entries.
    let status = web.get("/monitor/status");
    for path in [
        "/security/antispam",
        "/mail-policies/signing",
        "/mail-policies/dmarc",
        "/mail-policies/bounce-verification",
        "/network/smtp-call-ahead",
    ] {
        assert!(
            status.contains(&format!("href=\"{path}\"")),
            "no menu entry {path}"
        );
    }

    // Security Services > Anti-Spam: the engine's settings, then enable
    // scanning and move the engine's port.
    let page = strip_tags(&web.get("/security/antispam"));
    assert!(page.contains("Anti-spam scanning: Disabled"), "{page}");
    assert!(page.contains("Engine address: 127.0.0.1:11333"), "{page}");
    submit(
        &web,
        "/security/antispam",
        &[
            ("enabled", "on"),
            ("host", "127.0.0.1"),
            ("port", "11334"),
            ("timeout", "30"),
            ("max_concurrent", "16"),
            ("max_message_size", "1048576"),
            ("retry", "60"),
        ],
        "/security/antispam",
    );

    // A value the control plane refuses: said in red, nothing staged.
    let before = gw.cli_ok(&["showconfig", "--json"]);
    let (status, location) = web.post(
        "/security/antispam",
        &[
            ("enabled", "on"),
            ("host", "127.0.0.1"),
            ("port", "70000"),
            ("timeout", "30"),
            ("max_concurrent", "16"),
            ("max_message_size", "1048576"),
            ("retry", "60"),
        ],
    );
    assert_eq!((status, location.as_str()), (303, "/security/antispam"));
    let page = web.get("/security/antispam");
    assert!(page.contains("class=\"flash error\""), "{page}");
    assert_eq!(before, gw.cli_ok(&["showconfig", "--json"]));

    // Security Services > Anti-Virus: scanning enabled, clamd's port.
    let page = strip_tags(&web.get("/security/antivirus"));
    assert!(page.contains("Anti-Virus scanning: Disabled"), "{page}");
    assert!(page.contains("Engine: ClamAV at 127.0.0.1:3310"), "{page}");
    submit(
        &web,
        "/security/antivirus",
        &[
            ("enabled", "on"),
            ("host", "127.0.0.1"),
            ("port", "3311"),
            ("timeout", "60"),
            ("max_parallel", "8"),
            ("max_size", "26214400"),
        ],
        "/security/antivirus",
    );

    // Incoming Mail Policies: the Anti-Spam column links to DEFAULT's page;
    // positive spam goes to the Spam quarantine.
    let list = web.get("/mail-policies/incoming");
    assert!(
        list.contains("href=\"/mail-policies/incoming/DEFAULT/antispam\""),
        "{list}"
    );
    assert!(strip_tags(&list).contains("Anti-Spam"), "{list}");
    let cell = &list[list
        .find("id=\"antispam-DEFAULT\"")
        .expect("DEFAULT's cell")..];
    assert!(cell.contains(">rspamd<"), "{cell}");
    let form = strip_tags(&web.get("/mail-policies/incoming/DEFAULT/antispam"));
    assert!(form.contains("Positively-Identified Spam"), "{form}");
    assert!(form.contains("When the engine cannot be reached"), "{form}");
    submit(
        &web,
        "/mail-policies/incoming/DEFAULT/antispam",
        &[
            ("mode", "enable"),
            ("positive_action", "quarantine"),
            ("positive_tag", "[SPAM] "),
            ("suspect_action", "deliver"),
            ("suspect_tag", "[SUSPECTED SPAM] "),
            ("enginedown", "hold"),
        ],
        "/mail-policies/incoming/DEFAULT/antispam",
    );

    // The Anti-Virus column, and DEFAULT's page: infected mail to the
    // Virus quarantine.
    assert!(
        list.contains("href=\"/mail-policies/incoming/DEFAULT/antivirus\""),
        "{list}"
    );
    let form = strip_tags(&web.get("/mail-policies/incoming/DEFAULT/antivirus"));
    assert!(form.contains("Virus Infected Messages"), "{form}");
    submit(
        &web,
        "/mail-policies/incoming/DEFAULT/antivirus",
        &[
            ("mode", "enable"),
            ("infected", "quarantine"),
            ("unscannable", "tag"),
            ("encrypted", "tag"),
            ("enginedown", "fail-closed"),
        ],
        "/mail-policies/incoming/DEFAULT/antivirus",
    );

    // Signing Keys and Profiles: a key generated on the appliance and a
    // profile signing example.com with it.
    let page = web.get("/mail-policies/signing");
    assert!(page.contains("id=\"dk-newkey\""), "{page}");
    submit(
        &web,
        "/mail-policies/signing",
        &[
            ("op", "newkey"),
            ("key_name", "k1"),
            ("key_type", "ed25519"),
        ],
        "/mail-policies/signing",
    );
    submit(
        &web,
        "/mail-policies/signing",
        &[
            ("op", "newprofile"),
            ("profile_name", "example_com"),
            ("domain", "example.com"),
            ("selector", "sel1"),
            ("key", "k1"),
        ],
        "/mail-policies/signing",
    );
    let record = strip_tags(&web.get("/mail-policies/signing?dnstxt=example_com"));
    assert!(
        record.contains("sel1._domainkey.example.com. IN TXT \"v=DKIM1; k=ed25519; p="),
        "{record}"
    );

    // DMARC: a new profile.
    let page = strip_tags(&web.get("/mail-policies/dmarc"));
    assert!(page.contains("DMARC verification profiles:"), "{page}");
    submit(
        &web,
        "/mail-policies/dmarc",
        &[("op", "new"), ("profile", "STRICT")],
        "/mail-policies/dmarc",
    );

    // Bounce Verification: invalid bounces flagged with a header.
    assert!(
        web.get("/mail-policies/bounce-verification")
            .contains("id=\"bv-setup\"")
    );
    submit(
        &web,
        "/mail-policies/bounce-verification",
        &[
            ("op", "setup"),
            ("invalid_action", "header"),
            ("header_name", "X-Bad-Bounce"),
            ("header_value", "yes"),
        ],
        "/mail-policies/bounce-verification",
    );

    // SMTP Call-Ahead: a static profile.
    assert!(
        web.get("/network/smtp-call-ahead")
            .contains("id=\"callahead-new\"")
    );
    submit(
        &web,
        "/network/smtp-call-ahead",
        &[
            ("op", "new"),
            ("profile", "exchange"),
            ("type", "static"),
            ("servers", "127.0.0.1:2525"),
            ("timeout", "10"),
            ("failure", "accept"),
        ],
        "/network/smtp-call-ahead",
    );

    // A mail flow policy's Security Features: SPF and DMARC verification.
    let policy = "/mail-policies/mail-flow/IncomingMail/policy/ACCEPTED";
    let page = strip_tags(&web.get(policy));
    assert!(page.contains("Security Features"), "{page}");
    assert!(page.contains("SPF/SIDF Verification:"), "{page}");
    submit(
        &web,
        &format!("{policy}/security"),
        &[
            ("spf", "on"),
            ("spf_conformance", "spf-only"),
            ("dmarc", "on"),
            ("dmarc_profile", "STRICT"),
            ("callahead", "on"),
        ],
        policy,
    );

    // Commit Changes, then each change as the CLI shows it.
    let (status, location) = web.post("/commit", &[("comment", "content security from the web")]);
    assert_eq!((status, location.as_str()), (303, "/commit"));
    assert!(web.text("/commit").contains("Changes committed"));

    let spam = gw.cli_ok(&["antispamconfig", "print"]);
    assert!(spam.contains("Anti-spam scanning: Enabled"), "{spam}");
    assert!(spam.contains("Engine address: 127.0.0.1:11334"), "{spam}");
    assert!(spam.contains("Scanning timeout: 30 seconds"), "{spam}");
    let detail = gw.cli_ok(&["policyconfig", "detail", "incoming", "DEFAULT"]);
    assert!(
        detail.contains("Positive spam: Spam Quarantine; subject tag: \"[SPAM] \""),
        "{detail}"
    );
    assert!(
        detail.contains("When the engine is down: Hold and retry"),
        "{detail}"
    );
    let av = gw.cli_ok(&["antivirusconfig", "print"]);
    assert!(av.contains("Anti-Virus scanning: Enabled"), "{av}");
    assert!(av.contains("Engine: ClamAV at 127.0.0.1:3311"), "{av}");
    assert!(
        detail.contains("Anti-Virus: ClamAV (infected: quarantine, unscannable: tag, encrypted: tag, engine down: fail-closed)"),
        "{detail}"
    );
    let dk = gw.cli_ok(&["domainkeysconfig", "profiles", "print", "example_com"]);
    assert!(
        dk.contains("example.com") && dk.contains("sel1") && dk.contains("k1"),
        "{dk}"
    );
    assert!(gw.cli_ok(&["dmarcconfig", "print"]).contains("STRICT"));
    let bv = gw.cli_ok(&["bvconfig", "print"]);
    assert!(bv.contains("X-Bad-Bounce"), "{bv}");
    let ca = gw.cli_ok(&["smtpcallahead", "print"]);
    assert!(
        ca.contains("exchange") && ca.contains("127.0.0.1:2525"),
        "{ca}"
    );
    let auth = gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "hostaccess",
        "senderauth",
        "ACCEPTED",
    ]);
    assert!(
        auth.contains("SPF/SIDF verification: on (spf-only)"),
        "{auth}"
    );
    assert!(auth.contains("DKIM verification: off"), "{auth}");
    assert!(
        auth.contains("DMARC verification: on (profile STRICT)"),
        "{auth}"
    );
}
