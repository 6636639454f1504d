//! The web UI's access pages (HAT Overview and sender groups, Mail Flow
//! Policies, Recipient Access Table, Listeners) driven with curl as the
//! seeds' administrator does: add RELAY_O365 with `.protection.outlook.com`
//! at order 1 on OutgoingMail (policy RELAYED), set RELAYED's TLS to
//! Preferred, add, edit and delete a RAT row, change the sender groups'
//! order and a listener's limit. After each step the CLI must see the same
//! staged configuration; a read-only user gets the control plane's
//! "Permission denied" and changes nothing.

use breakwater_e2e::web::WebClient;
use breakwater_e2e::{Gateway, TestNet};
use regex::Regex;

fn hat(gw: &Gateway, listener: &str) -> String {
    gw.cli_ok(&["listenerconfig", "edit", listener, "hostaccess", "print"])
}

fn rat(gw: &Gateway) -> String {
    gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "rcptaccess",
        "print",
    ])
}

/// The seeds' sender group comment.
const SEED_COMMENT: &str = "From Microsoft 365 mail to Cisco Secure Email";

fn has(text: &str, pattern: &str) -> bool {
    Regex::new(pattern).expect("test regex").is_match(text)
}

/// POSTs a form and returns the page it redirects to (where the outcome
/// is flashed).
fn submit(web: &WebClient, path: &str, fields: &[(&str, &str)]) -> String {
    let (status, to) = web.post(path, fields);
    assert_eq!(status, 303, "POST {path} answered {status}");
    web.get(&to)
}

#[test]
fn the_seeds_access_steps_in_the_web_ui_stage_what_the_cli_would() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let web = WebClient::login(&gw, "admin", "breakwater");

    // HAT Overview of OutgoingMail: the factory groups and the buttons.
    let page = web.get("/mail-policies/hat?listener=OutgoingMail");
    assert!(page.contains("Add Sender Group..."), "{page}");
    assert!(page.contains(r#"id="sendergroup-RELAYLIST""#), "{page}");

    // The form offers the seeds' Order 1 and a Comment field.
    let form = web.get("/mail-policies/hat/OutgoingMail/sendergroup/new");
    assert!(
        has(
            &form,
            r#"id="order" name="order" min="1" max="\d+" value="1""#
        ),
        "{form}"
    );
    assert!(form.contains(r#"id="comment""#), "{form}");

    // Add Sender Group: RELAY_O365, order 1, its comment, RELAYED,
    // .protection.outlook.com with the same comment (the seeds' page).
    let page = submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/new",
        &[
            ("name", "RELAY_O365"),
            ("order", "1"),
            ("comment", SEED_COMMENT),
            ("policy", "RELAYED"),
            ("senders", ".protection.outlook.com"),
            ("sender_comment", SEED_COMMENT),
        ],
    );
    assert!(page.contains("Created sender group RELAY_O365"), "{page}");
    // The Sender Group page as the seeds show it: Order 1, the comment,
    // the sender list with its Comment column.
    assert!(
        page.contains(r#"id="order" name="order" min="1" value="1""#),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            r#"id="comment" name="comment" maxlength="255" size="48" value="{SEED_COMMENT}""#
        )),
        "{page}"
    );
    assert!(page.contains("<th>Sender</th><th>Comment</th>"), "{page}");
    assert!(
        page.contains(&format!(r#"<td id="member-comment-0">{SEED_COMMENT}</td>"#)),
        "{page}"
    );
    let detail = gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "detail",
        "sendergroup",
        "RELAY_O365",
    ]);
    assert!(
        detail.contains(&format!("Comment:  {SEED_COMMENT}")),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(".protection.outlook.com  {SEED_COMMENT}")),
        "{detail}"
    );

    // Edit Settings: a group made without an order lands first; its
    // comment and name are changed, then it is deleted.
    submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/new",
        &[
            ("name", "LAB"),
            ("policy", "RELAYED"),
            ("senders", "10.9.0.0/16"),
        ],
    );
    assert!(has(&hat(&gw, "OutgoingMail"), r"1\.\s+LAB\s"));
    let page = submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/LAB/settings",
        &[
            ("name", "LAB2"),
            ("order", "1"),
            ("comment", "the test lab"),
            ("policy", "RELAYED"),
        ],
    );
    assert!(page.contains("Sender group LAB renamed LAB2"), "{page}");
    assert!(page.contains(r#"value="the test lab""#), "{page}");
    assert!(hat(&gw, "OutgoingMail").contains("Comment: the test lab"));
    submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/LAB2/delete",
        &[],
    );
    let print = hat(&gw, "OutgoingMail");
    assert!(
        !print.contains("LAB2") && !print.contains("the test lab"),
        "{print}"
    );
    assert!(page.contains("Commit Changes"), "{page}");
    let print = hat(&gw, "OutgoingMail");
    assert!(
        has(
            &print,
            r"1\.\s+RELAY_O365\s+\$RELAYED\s+\.protection\.outlook\.com"
        ),
        "{print}"
    );
    assert!(has(&print, r"2\.\s+RELAYLIST"), "{print}");
    let page = web.get("/mail-policies/hat?listener=OutgoingMail");
    assert!(page.contains(".protection.outlook.com"), "{page}");

    // A second sender, then its deletion, on the group's page.
    submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/RELAY_O365/senders",
        &[("senders", "192.0.2.0/24")],
    );
    assert!(hat(&gw, "OutgoingMail").contains("192.0.2.0/24"));
    let page = submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/RELAY_O365/senders/delete",
        &[("member", "192.0.2.0/24")],
    );
    assert!(page.contains("Deleted '192.0.2.0/24'"), "{page}");
    assert!(!hat(&gw, "OutgoingMail").contains("192.0.2.0/24"));

    // A sender the CLI refuses is refused with the CLI's words.
    let page = submit(
        &web,
        "/mail-policies/hat/OutgoingMail/sendergroup/RELAY_O365/senders",
        &[("senders", "10.0.0.0/33")],
    );
    assert!(page.contains("CIDR prefix length too long"), "{page}");

    // Edit Order: RELAYLIST first again.
    submit(
        &web,
        "/mail-policies/hat/OutgoingMail/order",
        &[("order-RELAY_O365", "2"), ("order-RELAYLIST", "1")],
    );
    let print = hat(&gw, "OutgoingMail");
    assert!(has(&print, r"1\.\s+RELAYLIST"), "{print}");
    assert!(has(&print, r"2\.\s+RELAY_O365"), "{print}");
    assert!(has(&print, r"3\.\s+ALL"), "{print}");

    // RELAYED's TLS: Off from the CLI, then Preferred on the policy's page
    // with every field as the page shows it.
    gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "editpolicy",
        "RELAYED",
        "--tls",
        "off",
    ]);
    let page = web.get("/mail-policies/mail-flow/OutgoingMail/policy/RELAYED");
    assert!(page.contains(r#"id="tls-off" checked"#), "{page}");
    assert!(
        page.contains("Max. Concurrent Connections From a Single IP"),
        "{page}"
    );
    let page = submit(
        &web,
        "/mail-policies/mail-flow/OutgoingMail/policy/RELAYED",
        &[
            ("behavior", "relay"),
            ("max_messages_per_connection", "5000"),
            ("max_recipients", "5000"),
            ("max_message_size", "100M"),
            ("max_concurrency", "600"),
            ("smtp_banner_code", "220"),
            ("smtp_banner_text", ""),
            ("reject_banner_code", "554"),
            ("reject_banner_text", "Access Denied"),
            ("max_recipients_per_hour", ""),
            ("tls", "preferred"),
        ],
    );
    assert!(
        page.contains("Mail flow policy $RELAYED on OutgoingMail updated"),
        "{page}"
    );
    let print = hat(&gw, "OutgoingMail");
    assert!(print.contains("$RELAYED: RELAY, TLS Preferred"), "{print}");
    assert!(print.contains("banner 220 \"<hostname> ESMTP\""), "{print}");
    assert!(print.contains("recipients/hour unlimited"), "{print}");
    let page = web.get("/mail-policies/mail-flow?listener=OutgoingMail");
    assert!(
        has(&page, r"RELAYED</a></td><td>RELAY</td><td>Preferred"),
        "{page}"
    );

    // Add Policy... and Delete on Mail Flow Policies.
    let page = web.get("/mail-policies/mail-flow/IncomingMail/new");
    assert!(
        page.contains(r#"id="tls-off" checked"#),
        "newpolicy starts with TLS off: {page}"
    );
    let page = submit(
        &web,
        "/mail-policies/mail-flow/IncomingMail/new",
        &[
            ("name", "PARTNERS"),
            ("behavior", "accept"),
            ("max_recipients_per_hour", "1000"),
            ("tls", "required"),
        ],
    );
    assert!(
        page.contains("Created mail flow policy $PARTNERS on IncomingMail"),
        "{page}"
    );
    let print = hat(&gw, "IncomingMail");
    assert!(print.contains("$PARTNERS: ACCEPT, TLS Required"), "{print}");
    assert!(print.contains("recipients/hour 1000"), "{print}");
    submit(
        &web,
        "/mail-policies/mail-flow/IncomingMail/policy/PARTNERS/delete",
        &[],
    );
    assert!(!hat(&gw, "IncomingMail").contains("PARTNERS"));

    // A sender group's settings, and Delete on the HAT Overview.
    submit(
        &web,
        "/mail-policies/hat/IncomingMail/sendergroup/new",
        &[
            ("name", "PARTNER_MX"),
            ("order", "5"),
            ("policy", "ACCEPTED"),
            ("senders", "192.0.2.25, .partner.example"),
        ],
    );
    assert!(has(&hat(&gw, "IncomingMail"), r"5\.\s+PARTNER_MX\s"));
    let page = submit(
        &web,
        "/mail-policies/hat/IncomingMail/sendergroup/PARTNER_MX/settings",
        &[("order", "1"), ("policy", "TRUSTED")],
    );
    assert!(
        page.contains(r#"id="name" name="name" maxlength="64" value="PARTNER_MX""#),
        "{page}"
    );
    let print = hat(&gw, "IncomingMail");
    assert!(
        has(
            &print,
            r"1\.\s+PARTNER_MX\s+\$TRUSTED\s+192\.0\.2\.25, \.partner\.example"
        ),
        "{print}"
    );
    let page = submit(
        &web,
        "/mail-policies/hat/IncomingMail/sendergroup/PARTNER_MX/delete",
        &[],
    );
    assert!(
        page.contains("Deleted sender group PARTNER_MX from IncomingMail"),
        "{page}"
    );
    assert!(!hat(&gw, "IncomingMail").contains("PARTNER_MX"));
    // ALL cannot be deleted: the control plane says why.
    let page = submit(
        &web,
        "/mail-policies/hat/IncomingMail/sendergroup/ALL/delete",
        &[],
    );
    assert!(page.contains("cannot be deleted"), "{page}");

    // RAT of IncomingMail: add example.com (accept), edit it, delete it.
    let page = submit(
        &web,
        "/mail-policies/rat/IncomingMail/new",
        &[
            ("order", "1"),
            ("recipient_address", "example.com"),
            ("action", "accept"),
            ("custom_response", "no"),
            ("response_code", "250"),
            ("bypass_receiving_control", "no"),
        ],
    );
    assert!(page.contains("Added example.com ACCEPT"), "{page}");
    assert!(
        has(&rat(&gw), r"1\.\s+example\.com\s+ACCEPT"),
        "{}",
        rat(&gw)
    );
    submit(
        &web,
        "/mail-policies/rat/IncomingMail/recipient/example.com",
        &[
            ("order", "1"),
            ("recipient_address", "example.com"),
            ("action", "reject"),
            ("custom_response", "yes"),
            ("response_code", "550"),
            ("response_text", "No such domain"),
            ("bypass_receiving_control", "no"),
        ],
    );
    assert!(
        has(
            &rat(&gw),
            r#"1\.\s+example\.com\s+REJECT 550 "No such domain""#
        ),
        "{}",
        rat(&gw)
    );
    // The ALL row's action is the CLI's `default`.
    submit(
        &web,
        "/mail-policies/rat/IncomingMail/recipient/ALL",
        &[
            ("action", "reject"),
            ("custom_response", "yes"),
            ("response_code", "550"),
            ("response_text", "Relaying denied"),
        ],
    );
    assert!(
        has(&rat(&gw), r#"2\.\s+ALL\s+REJECT 550 "Relaying denied""#),
        "{}",
        rat(&gw)
    );
    let page = submit(
        &web,
        "/mail-policies/rat/IncomingMail/recipient/example.com/delete",
        &[],
    );
    assert!(page.contains("Deleted example.com"), "{page}");
    assert!(!rat(&gw).contains("example.com"), "{}", rat(&gw));

    // Listeners: the table, and a limit changed on the listener's page.
    let page = web.get("/network/listeners");
    assert!(page.contains(r#"id="listener-IncomingMail""#), "{page}");
    submit(
        &web,
        "/network/listeners/IncomingMail",
        &[("max_concurrency", "100")],
    );
    let print = gw.cli_ok(&["listenerconfig", "edit", "IncomingMail", "print"]);
    assert!(print.contains("max concurrency: 100"), "{print}");

    // A read-only user sees the pages without the forms, and a change
    // forced past them is the control plane's refusal: nothing changes.
    gw.cli_input(
        &["userconfig", "new", "e2e-viewer", "read-only"],
        "viewer first pass",
    )
    .expect("userconfig new e2e-viewer read-only");
    let viewer = WebClient::login(&gw, "e2e-viewer", "viewer first pass");
    let page = viewer.get("/mail-policies/hat?listener=OutgoingMail");
    assert!(page.contains("RELAY_O365"), "{page}");
    assert!(!page.contains("Add Sender Group..."), "{page}");
    let before = hat(&gw, "OutgoingMail");
    let page = submit(
        &viewer,
        "/mail-policies/hat/OutgoingMail/sendergroup/new",
        &[
            ("name", "SNEAKY"),
            ("policy", "RELAYED"),
            ("senders", "10.9.9.9"),
        ],
    );
    assert!(page.contains("Permission denied"), "{page}");
    let page = submit(
        &viewer,
        "/mail-policies/mail-flow/OutgoingMail/policy/RELAYED",
        &[("tls", "off")],
    );
    assert!(page.contains("Permission denied"), "{page}");
    assert_eq!(hat(&gw, "OutgoingMail"), before);

    // The staged tables commit as they are.
    let page = submit(
        &web,
        "/commit",
        &[("comment", "access tables from the web")],
    );
    assert!(!page.contains("class=\"flash error\""), "{page}");
    let log = gw.cli_ok(&["commitlog"]);
    assert!(log.contains("access tables from the web"), "{log}");
}
