//! The relay lint end to end, through `breakwater cli`: the seeds' own
//! pitfall set up as an administrator would (systemsetup's RELAYLIST with
//! `.protection.outlook.com`, then the guide's RELAY_O365 below it and
//! the seed filter naming it). `filters new` and `commit` warn, naming
//! both groups, `systemsetup print` shows the warning — and the warning
//! is true: a stranger's Microsoft 365 host relays without the secret.
//! With the filter written for the group that matches, the warnings go
//! and the same message is dropped.

use breakwater_e2e::{Dns, SOON, TestNet, World, mid_in_reply, simple_message, smtplib};
use regex::escape;

/// The "internet" domain; routed to the sink.
const PARTNER: &str = "partner.example";

/// The seed's filter for `group`, as pasted, ended by a line holding `.`.
fn seed_filter(group: &str) -> String {
    format!(
        "office365_outbound: if sendergroup == \"{group}\" {{\n  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {{\n    strip-header(\"X-OUTBOUND-AUTH\");\n  }} else {{\n    drop();\n  }}\n}}\n.\n"
    )
}

const NEVER_MATCHES: &str = "Warning: filter 'office365_outbound' checks sendergroup RELAY_O365, \
     which never matches on OutgoingMail: RELAYLIST (order 1) has the same members and comes first";
const UNGUARDED: &str = "Warning: OutgoingMail relays for sender group RELAYLIST, whose member \
     .protection.outlook.com matches the servers of every Microsoft 365 tenant, and no active \
     filter checks a secret header for RELAYLIST";

/// A Microsoft 365 host (.10, forward-confirmed under
/// `.protection.outlook.com`) — any tenant's — and partner.example routed
/// to the sink; RELAYLIST holds `.protection.outlook.com` as `systemsetup`
/// puts it there, and the guide's RELAY_O365 comes after it.
fn pitfall_world() -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record("mail-eopbgr.protection.outlook.com", net.client(10))
        .start();
    let w = World::with_dns(net, dns);
    let route = w.net.sink_route();
    w.gw.cli_ok(&["smtproutes", "new", PARTNER, &route]);
    let hostaccess = [
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "new",
    ];
    // systemsetup's step: members added to the factory's RELAYLIST.
    w.gw.cli_ok(
        &[
            &hostaccess[..],
            &["sendergroup", "RELAYLIST", ".protection.outlook.com"],
        ]
        .concat(),
    );
    // The guide's step, later: a new group, placed below RELAYLIST (a new
    // group goes first unless --order says otherwise).
    w.gw.cli_ok(
        &[
            &hostaccess[..],
            &[
                "sendergroup",
                "RELAY_O365",
                ".protection.outlook.com",
                "--policy",
                "RELAYED",
                "--order",
                "2",
            ],
        ]
        .concat(),
    );
    w
}

/// Sends a message without the secret header from the Microsoft 365 host
/// through Data 2; returns the MID.
fn send_without_secret(w: &World, id: &str) -> u64 {
    let to = format!("bob@{PARTNER}");
    let msg = simple_message("mallory@other-tenant.example", &to, id, "no secret");
    let res = smtplib::send(
        w.net.data2_smtp(),
        w.net.client(10),
        "mallory@other-tenant.example",
        &[&to],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    mid_in_reply(&data.text).expect("MID in 250")
}

#[test]
fn the_seeds_pitfall_is_warned_at_filters_new_commit_and_systemsetup_and_is_real() {
    let w = pitfall_world();
    let out =
        w.gw.cli_input(&["filters", "new"], &seed_filter("RELAY_O365"))
            .expect("added, with a warning");
    assert!(
        out.starts_with(&format!("{NEVER_MATCHES}\n1 filters added.\n")),
        "filters new: {out}"
    );
    let summary = w.gw.cli_ok(&["systemsetup", "print"]);
    assert!(summary.contains(UNGUARDED), "{summary}");

    let out = w.gw.cli_ok(&["commit", "e2e: the seeds' pitfall"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "commit: {out}");
    assert_eq!(lines[0], NEVER_MATCHES, "commit: {out}");
    assert!(lines[1].starts_with(UNGUARDED), "commit: {out}");
    assert!(lines[2].starts_with("Changes committed: "), "commit: {out}");

    // What the warning says: a stranger's tenant relays, no secret asked.
    send_without_secret(&w, "stranger-relayed@e2e.test");
    w.sink
        .wait_for_message_id("stranger-relayed@e2e.test", SOON)
        .expect("relayed: the filter never saw RELAY_O365");
    let sg =
        w.gw.log_lines(&escape("RELAY SG RELAYLIST match .protection.outlook.com"));
    assert!(!sg.is_empty(), "the connection matched RELAYLIST");

    // The filter for the group that matches: no warning, and dropped.
    w.gw.cli_ok(&["filters", "delete", "office365_outbound"]);
    let out =
        w.gw.cli_input(&["filters", "new"], &seed_filter("RELAYLIST"))
            .expect("filters new");
    assert!(!out.contains("Warning"), "filters new: {out}");
    let out = w.gw.cli_ok(&["commit", "e2e: the filter for RELAYLIST"]);
    assert!(!out.contains("Warning"), "commit: {out}");
    assert!(
        !w.gw.cli_ok(&["systemsetup", "print"]).contains("Warning"),
        "systemsetup print still warns"
    );
    let mid = send_without_secret(&w, "stranger-dropped@e2e.test");
    w.gw.wait_for_log(
        &format!(
            "{}$",
            escape(&format!(
                "Message aborted MID {mid} Dropped by filter 'office365_outbound'"
            ))
        ),
        SOON,
    );
}

#[test]
fn the_seed_filter_naming_the_empty_factory_relaylist_names_both_groups() {
    // The guide's own order: RELAY_O365 holds the tenants, and the filter
    // is pasted as the seed prints it, naming the factory's RELAYLIST.
    let w = World::start();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "new",
        "sendergroup",
        "RELAY_O365",
        ".protection.outlook.com",
        "--policy",
        "RELAYED",
    ]);
    let out =
        w.gw.cli_input(&["filters", "new"], &seed_filter("RELAYLIST"))
            .expect("added, with a warning");
    assert!(
        out.contains(
            "Warning: filter 'office365_outbound' checks sendergroup RELAYLIST, which never \
             matches on OutgoingMail: RELAYLIST has no members; the hosts OutgoingMail relays \
             for are in RELAY_O365"
        ),
        "filters new: {out}"
    );
    let out = w.gw.cli_ok(&["commit", "e2e: the empty RELAYLIST"]);
    assert!(
        out.contains(
            "Warning: OutgoingMail relays for sender group RELAY_O365, whose member \
             .protection.outlook.com"
        ),
        "commit: {out}"
    );
}
