//! The web UI's mail policy pages end to end, with `curl` against the
//! started gateway's Management address, checked with `breakwater cli`
//! the way an administrator would:
//!
//! - Security Services > Threat Defense Connector Settings: enable with
//!   the seed's Message Intake Address (`threatdefenseconfig print`);
//! - Incoming Mail Policies: add a policy, give it "Use custom Message
//!   Intake Address", DEFAULT "Use Global Settings", and the table's
//!   Threat Defense Connector column shows both; a bad address is the
//!   CLI's refusal;
//! - Message Filters: paste the seed's `office365_outbound` (in `filters
//!   list`), the CLI's warnings for a filter naming an unknown sender
//!   group, the CLI's syntax error for a broken one (nothing added),
//!   deactivate, then Commit Changes;
//! - a read-only user sees the pages but is refused every change.

use breakwater_e2e::web::{WebClient, html_escape};
use breakwater_e2e::{Gateway, TestNet};

/// Seed 004's global and secondary Message Intake Addresses.
const GLOBAL_INTAKE: &str = "b5986efe-374c-47a5-aade-b8d98847e1a6@beta.cmd.cisco.com";
const CUSTOM_INTAKE: &str = "15e1c36b-098c-4e87-590@beta.cmd.cisco.com";

/// Seed 000's outbound filter, as pasted at the console.
const SEED_FILTER: &str = "office365_outbound: if sendergroup == \"RELAYLIST\" {\r\n  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {\r\n    strip-header(\"X-OUTBOUND-AUTH\");\r\n  } else {\r\n    drop();\r\n  }\r\n}\r\n.\r\n";
/// A filter naming a sender group no listener has: added, with a warning.
const WARN_FILTER: &str = "typo_guard: if sendergroup == \"RELAYLIST_TYPO\" {\n  drop();\n}\n.\n";
/// The CLI reference's broken filter: a syntax error, nothing added.
const BAD_FILTER: &str = "broken: if sendrgroup == \"RELAYLIST\" {\n  drop();\n}\n.\n";

fn flash_ok(page: &str, text: &str) -> bool {
    page.contains("class=\"flash ok\"") && page.contains(&html_escape(text))
}

#[test]
fn threat_defense_policies_and_filters_through_the_web_ui() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let web = WebClient::login(&gw, "admin", "breakwater");

    // Security Services > Threat Defense Connector Settings.
    let form = web.get("/security/threat-defense/edit");
    assert!(form.contains("id=\"enabled\""), "{form}");
    assert!(form.contains("id=\"intake_address\""), "{form}");
    let (code, to) = web.post(
        "/security/threat-defense/edit",
        &[
            ("verify_shown", "1"),
            ("enabled", "on"),
            ("intake_address", GLOBAL_INTAKE),
            ("header_name", "X-IronPort-RemoteIP"),
            ("max_age", "120"),
            ("verify_certificate", "on"),
        ],
    );
    assert_eq!((code, to.as_str()), (303, "/security/threat-defense"));
    let print = gw.cli_ok(&["threatdefenseconfig", "print"]);
    assert!(
        print.contains("Threat Defense Connector: Enabled"),
        "{print}"
    );
    assert!(
        print.contains(&format!("Message Intake Address: {GLOBAL_INTAKE}")),
        "{print}"
    );
    let page = web.get("/security/threat-defense");
    assert!(
        flash_ok(
            &page,
            &format!("Threat Defense Connector enabled; Message Intake Address {GLOBAL_INTAKE}.")
        ),
        "{page}"
    );
    assert!(page.contains("Commit Changes"), "{page}");

    // Incoming Mail Policies > Add Policy...
    let (code, to) = web.post(
        "/mail-policies/incoming/new",
        &[
            ("policy_name", "SALES"),
            ("senders", ""),
            ("recipients", "sales@, .sales.example.com"),
        ],
    );
    assert_eq!((code, to.as_str()), (303, "/mail-policies/incoming"));
    let detail = gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"]);
    assert!(detail.contains("recipient sales@"), "{detail}");
    assert!(detail.contains("recipient .sales.example.com"), "{detail}");

    // A new policy follows DEFAULT: the list says "(use default)", as in
    // seed 004's final view.
    let table = web.get("/mail-policies/incoming");
    let start = table.find("id=\"tdc-SALES\"").expect("SALES cell");
    assert!(
        table[start..]
            .split("</td>")
            .next()
            .unwrap_or("")
            .contains("(use default)"),
        "{table}"
    );
    // The per-policy page: the four choices (Use Default Settings checked),
    // the global address shown; DEFAULT's own page has no inherit choice.
    let td = web.get("/mail-policies/incoming/SALES/threat-defense");
    for id in [
        "threat_defense_global",
        "threat_defense_custom",
        "threat_defense_no",
        "threat_defense_default",
        "intake_address",
    ] {
        assert!(td.contains(&format!("id=\"{id}\"")), "{id}: {td}");
    }
    assert!(
        td.contains(
            "id=\"threat_defense_default\" name=\"threat_defense\" value=\"default\" checked"
        ),
        "{td}"
    );
    assert!(td.contains("Use Default Settings (Disabled)"), "{td}");
    let default_page = web.get("/mail-policies/incoming/DEFAULT/threat-defense");
    assert!(
        !default_page.contains("threat_defense_default"),
        "{default_page}"
    );
    assert!(
        td.contains(&format!("Use Global Settings ({GLOBAL_INTAKE})")),
        "{td}"
    );
    // A bad custom address is the CLI's refusal, and changes nothing.
    let (code, _) = web.post(
        "/mail-policies/incoming/SALES/threat-defense",
        &[
            ("threat_defense", "custom"),
            ("intake_address", "not-an-address"),
        ],
    );
    assert_eq!(code, 303);
    let table = web.get("/mail-policies/incoming");
    assert!(
        table.contains("is not a valid Message Intake Address (user@domain)."),
        "{table}"
    );
    assert!(
        gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"])
            .contains("Threat Defense Connector: Use Default Settings (DEFAULT: No)")
    );
    let (code, _) = web.post(
        "/mail-policies/incoming/SALES/threat-defense",
        &[
            ("threat_defense", "custom"),
            ("intake_address", CUSTOM_INTAKE),
        ],
    );
    assert_eq!(code, 303);
    let (code, _) = web.post(
        "/mail-policies/incoming/DEFAULT/threat-defense",
        &[("threat_defense", "global"), ("intake_address", "")],
    );
    assert_eq!(code, 303);
    let detail = gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"]);
    assert!(
        detail.contains(&format!(
            "Threat Defense Connector: Custom Message Intake Address {CUSTOM_INTAKE}"
        )),
        "{detail}"
    );
    let default = gw.cli_ok(&["policyconfig", "detail", "incoming", "DEFAULT"]);
    assert!(
        default.contains("Threat Defense Connector: Use global Message Intake Address"),
        "{default}"
    );
    // The table: SALES first, the Default Policy last, the column's values.
    let table = web.get("/mail-policies/incoming");
    let sales = table.find("id=\"policy-SALES\"").expect("SALES row");
    let default_row = table.find("id=\"policy-DEFAULT\"").expect("DEFAULT row");
    assert!(sales < default_row, "{table}");
    assert!(table.contains("Threat Defense Connector</th>"), "{table}");
    let cell = |id: &str| -> String {
        let start = table
            .find(&format!("id=\"tdc-{id}\""))
            .unwrap_or_else(|| panic!("no tdc-{id}: {table}"));
        let rest = &table[start..];
        rest[..rest.find("</td>").expect("cell end")].to_string()
    };
    assert!(
        cell("SALES").contains(&format!("Enabled ({CUSTOM_INTAKE})")),
        "{table}"
    );
    assert!(cell("DEFAULT").contains(">Enabled<"), "{table}");
    // Members and order: a second policy, moved above SALES.
    let (code, _) = web.post(
        "/mail-policies/incoming/new",
        &[("policy_name", "PARTNER"), ("senders", ".partner.example")],
    );
    assert_eq!(code, 303);
    let (code, to) = web.post(
        "/mail-policies/incoming/PARTNER/members/add",
        &[("recipients", "deals@example.com")],
    );
    assert_eq!(
        (code, to.as_str()),
        (303, "/mail-policies/incoming/PARTNER")
    );
    let (code, _) = web.post(
        "/mail-policies/incoming/PARTNER/members/delete",
        &[("side", "sender"), ("member", ".partner.example")],
    );
    assert_eq!(code, 303);
    let (code, _) = web.post("/mail-policies/incoming/PARTNER/move", &[("position", "1")]);
    assert_eq!(code, 303);
    let list = gw.cli_ok(&["policyconfig", "list", "incoming"]);
    let partner = list.find("PARTNER").expect("PARTNER listed");
    assert!(
        partner < list.find("SALES").expect("SALES listed"),
        "{list}"
    );
    assert!(list.contains("recipient deals@example.com"), "{list}");
    assert!(!list.contains(".partner.example"), "{list}");
    let edit = web.get("/mail-policies/incoming/PARTNER");
    assert!(edit.contains("deals@example.com"), "{edit}");
    assert!(edit.contains("id=\"position\""), "{edit}");
    let (code, _) = web.post("/mail-policies/incoming/PARTNER/delete", &[]);
    assert_eq!(code, 303);
    assert!(
        !gw.cli_ok(&["policyconfig", "list", "incoming"])
            .contains("PARTNER")
    );

    // Outgoing Mail Policies: its own table, no Threat Defense column.
    let (code, _) = web.post(
        "/mail-policies/outgoing/new",
        &[("policy_name", "EXEC"), ("senders", "ceo@example.com")],
    );
    assert_eq!(code, 303);
    let outgoing = gw.cli_ok(&["policyconfig", "list", "outgoing"]);
    assert!(
        outgoing.contains("EXEC") && outgoing.contains("sender ceo@example.com"),
        "{outgoing}"
    );
    let outgoing = web.get("/mail-policies/outgoing");
    assert!(outgoing.contains("id=\"policy-EXEC\""), "{outgoing}");
    assert!(!outgoing.contains("Threat Defense Connector</th>"));

    // Message Filters: the seed's filter, pasted as a browser sends it.
    let (code, to) = web.post("/mail-policies/filters/new", &[("script", SEED_FILTER)]);
    assert_eq!((code, to.as_str()), (303, "/mail-policies/filters"));
    let list = gw.cli_ok(&["filters", "list"]);
    assert!(list.contains("office365_outbound"), "{list}");
    let page = web.get("/mail-policies/filters");
    assert!(flash_ok(&page, "1 filters added."), "{page}");
    assert!(page.contains("id=\"filter-office365_outbound\""), "{page}");
    let detail = web.get("/mail-policies/filters/office365_outbound");
    assert!(
        detail.contains(&html_escape("strip-header(\"X-OUTBOUND-AUTH\");")),
        "{detail}"
    );

    // Warnings are the CLI's own: what the console prints for the same
    // script is what the page shows.
    let cli_out = gw
        .cli_input(&["filters", "new"], WARN_FILTER)
        .expect("the CLI adds the filter");
    gw.cli_ok(&["filters", "delete", "typo_guard"]);
    let warnings: Vec<&str> = cli_out
        .lines()
        .filter(|l| l.starts_with("Warning:"))
        .collect();
    assert!(!warnings.is_empty(), "{cli_out}");
    let (code, _) = web.post("/mail-policies/filters/new", &[("script", WARN_FILTER)]);
    assert_eq!(code, 303);
    let page = web.get("/mail-policies/filters");
    for w in &warnings {
        assert!(page.contains(&html_escape(w)), "{w}: {page}");
    }
    assert!(
        gw.cli_ok(&["filters", "list"])
            .contains("2   Y      N     typo_guard")
    );

    // A broken filter: the CLI's error on the form, the script kept,
    // nothing added.
    let cli_err = gw
        .cli_input(&["filters", "new"], BAD_FILTER)
        .expect_err("the CLI refuses the broken filter");
    let first = cli_err.lines().next().expect("error line").trim();
    assert!(first.starts_with("Syntax error"), "{cli_err}");
    let (code, _, body) = web.post_page("/mail-policies/filters/new", &[("script", BAD_FILTER)]);
    assert_eq!(code, 200);
    assert!(body.contains("id=\"filter-error\""), "{body}");
    assert!(body.contains(&html_escape(first)), "{first}: {body}");
    assert!(body.contains("sendrgroup"), "{body}");
    assert!(!gw.cli_ok(&["filters", "list"]).contains("broken"));

    // Order: typo_guard first, as `filters move` puts it.
    let (code, _) = web.post(
        "/mail-policies/filters/typo_guard/move",
        &[("position", "1")],
    );
    assert_eq!(code, 303);
    assert!(
        gw.cli_ok(&["filters", "list"])
            .contains("1   Y      N     typo_guard")
    );

    // Deactivate, delete, then Commit Changes with a comment.
    let (code, _) = web.post(
        "/mail-policies/filters/typo_guard/state",
        &[("state", "inactive")],
    );
    assert_eq!(code, 303);
    assert!(
        gw.cli_ok(&["filters", "list"])
            .contains("1   N      N     typo_guard")
    );
    let (code, _) = web.post("/mail-policies/filters/typo_guard/delete", &[]);
    assert_eq!(code, 303);
    assert!(!gw.cli_ok(&["filters", "list"]).contains("typo_guard"));
    let (code, _) = web.post("/commit", &[("comment", "web: TDC and office365_outbound")]);
    assert_eq!(code, 303);
    let log = gw.cli_ok(&["commitlog"]);
    assert!(log.contains("web: TDC and office365_outbound"), "{log}");

    // A read-only user: the pages, no forms, every change refused.
    let _ = gw.console_user("auditor", "read-only");
    let ro = WebClient::login(&gw, "auditor", "auditor second pass");
    let table = ro.get("/mail-policies/incoming");
    assert!(table.contains("id=\"tdc-SALES\""), "{table}");
    assert!(!table.contains("Add Policy..."), "{table}");
    assert!(!ro.get("/mail-policies/filters").contains("Add Filter..."));
    let (code, _) = ro.post(
        "/mail-policies/incoming/SALES/threat-defense",
        &[("threat_defense", "no")],
    );
    assert_eq!(code, 303);
    assert!(
        ro.get("/mail-policies/incoming")
            .contains("Permission denied")
    );
    let (code, _) = ro.post("/mail-policies/filters/office365_outbound/delete", &[]);
    assert_eq!(code, 303);
    assert!(
        ro.get("/mail-policies/filters")
            .contains("Permission denied")
    );
    assert!(
        gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"])
            .contains(CUSTOM_INTAKE)
    );
    assert!(
        gw.cli_ok(&["filters", "list"])
            .contains("office365_outbound")
    );
}
