//! The content-security menus at the console (issue 17): typed alone,
//! `antispamconfig`, `bvconfig`, `dmarcconfig`, `smtpcallahead` and
//! `domainkeysconfig` walk the administrator through AsyncOS-style
//! questions; after `commit` the batch commands show what the answers set.
//! The mail flow policy's security features are set with AsyncOS's option
//! names in `hostaccess editpolicy` and shown by `hostaccess detail policy`.

use breakwater_e2e::console::Console;
use breakwater_e2e::{Gateway, TestNet};

#[test]
fn the_security_menus_stage_what_the_batch_commands_then_show() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mut con = Console::login_factory_admin(&gw, "a passphrase for the security menus");

    let out = con.dialogue(
        "antispamconfig",
        &["SETUP", "Y", "", "11334", "", "", "", "", ""],
    );
    assert!(
        out.contains("- SETUP - Edit Anti-Spam configuration."),
        "{out}"
    );
    assert!(
        out.contains("Would you like to use Anti-Spam scanning? [N]> "),
        "{out}"
    );
    assert!(out.contains("Anti-spam scanning enabled"), "{out}");

    let out = con.dialogue("bvconfig", &["KEY", "", "SETUP", "2", "", "", ""]);
    assert!(out.contains("- KEY - Assign a new key."), "{out}");
    assert!(
        out.contains("How do you want bounce messages which are not valid to be handled?"),
        "{out}"
    );

    let out = con.dialogue(
        "dmarcconfig",
        &[
            "NEW",
            "strict",
            "EDIT",
            "strict",
            "reject",
            "550",
            "5.7.1 go away",
            "none",
            "reject",
            "",
        ],
    );
    assert!(
        out.contains("- NEW - Create a new DMARC verification profile."),
        "{out}"
    );

    let mut answers = vec!["NEW", "probe", "static", "127.0.0.1:2525"];
    answers.extend([""; 10]);
    let out = con.dialogue("smtpcallahead", &answers);
    assert!(
        out.contains("Validation failure action: accept or reject."),
        "{out}"
    );

    let out = con.dialogue(
        "domainkeysconfig",
        &[
            "KEYS",
            "NEW",
            "k1",
            "ed25519",
            "",
            "PROFILES",
            "NEW",
            "example",
            "example.com",
            "sel1",
            "k1",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    );
    assert!(
        out.contains("- PROFILES - Manage signing profiles."),
        "{out}"
    );

    let out = con.run(
        "listenerconfig edit IncomingMail hostaccess editpolicy ACCEPTED --spf on --spf-conformance sidf-compatible --dmarc on --dmarc-profile strict",
    );
    assert!(
        out.contains("Mail flow policy $ACCEPTED on IncomingMail"),
        "{out}"
    );

    // listenerconfig > EDIT > SECURITY asks the same features.
    let mut answers = vec!["EDIT", "IncomingMail", "SECURITY", "ACCEPTED"];
    answers.extend([""; 7]);
    answers.extend(["on", "", ""]);
    let out = con.dialogue("listenerconfig", &answers);
    assert!(out.contains("Domain Key/DKIM Signing: on or off."), "{out}");
    assert!(out.contains("Domain Key/DKIM Signing: On\n"), "{out}");

    let out = con.dialogue("commit", &["issue 17: content security from the console"]);
    assert!(out.contains("Changes committed"), "{out}");

    let spam = con.run("antispamconfig print");
    assert!(spam.contains("Anti-spam scanning: Enabled"), "{spam}");
    assert!(spam.contains("Engine address: 127.0.0.1:11334"), "{spam}");

    let bv = con.run("bvconfig print");
    assert!(
        bv.contains(
            "Invalid bounces: delivered with the header \"X-IronPort-Invalid-Bounce: Bounce verification failed\""
        ),
        "{bv}"
    );

    let dmarc = con.run("dmarcconfig print");
    assert!(
        dmarc.contains("p=reject:      reject 550 5.7.1 go away"),
        "{dmarc}"
    );
    assert!(dmarc.contains("p=quarantine:  none"), "{dmarc}");

    let callahead = con.run("smtpcallahead print");
    assert!(callahead.contains("probe"), "{callahead}");
    assert!(
        callahead.contains("Static Call-Ahead Servers: 127.0.0.1:2525"),
        "{callahead}"
    );

    let txt = con.run("domainkeysconfig profiles dnstxt example");
    assert!(txt.contains("sel1._domainkey.example.com. IN TXT"), "{txt}");
    assert!(txt.contains("k=ed25519"), "{txt}");

    let detail = con.run("listenerconfig edit IncomingMail hostaccess detail policy ACCEPTED");
    assert!(
        detail.contains("Use SPF/SIDF Verification: Yes"),
        "{detail}"
    );
    assert!(
        detail.contains("Conformance Level: SIDF compatible"),
        "{detail}"
    );
    assert!(
        detail.contains("DMARC Verification Profile: strict"),
        "{detail}"
    );
    con.logout();
}
