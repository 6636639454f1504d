//! The `filters`, `policyconfig`, `threatdefenseconfig`,
//! `quarantineconfig` and `quarantine` menus as an administrator uses
//! them, over an in-memory pipe with the real line editor against a real
//! control server: the seed's filter entry flow exactly as written, a
//! syntax error that adds nothing, the per-policy Threat Defense choice,
//! and bad answers explained, asked again and staging nothing.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod console_support;

use breakwater::config::ThreatDefense;
use console_support::{PROMPT, rig};

/// The seed's filter, as the administrator pastes it.
const SEED: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}"#;

/// Text as a terminal pastes it: every line ended by CR.
fn pasted(text: &str) -> String {
    text.lines().map(|l| format!("{l}\r")).collect()
}

#[test]
fn the_seed_filter_is_pasted_at_the_filters_menu_and_committed() {
    let rig = rig();
    let mut t = rig.admin();
    // The seed's sender group for Microsoft 365 on the outgoing listener.
    assert!(
        t.command("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED")
            .contains("staged")
    );

    t.send("filters\r");
    t.expect("There are no message filters.");
    t.expect("Choose the operation you want to perform:");
    t.expect("- NEW - Create a new filter.");
    t.line_after("[]> ", "new");
    t.expect("Enter filter script. Enter '.' on its own line to end.");
    t.send(&pasted(SEED));
    t.send(".\r");
    let added = t.expect("1 filters added.");
    assert!(!added.contains("Syntax error"), "{added}");
    t.expect("The change is staged");
    // The menu lists the filters again; Enter goes back to the prompt.
    t.expect("1   Y      Y     office365_outbound");
    t.line_after("[]> ", "");
    t.expect(PROMPT);

    t.send("commit\r");
    t.line_after(
        "Please enter some comments describing your changes:\r\n[]> ",
        "Office 365 outbound filter",
    );
    let committed = t.expect("Changes committed: ");
    assert!(!committed.contains("Warning"), "{committed}");
    t.expect(PROMPT);

    let list = t.command("filters list");
    assert!(
        list.contains("1   Y      Y     office365_outbound"),
        "{list}"
    );
    let cfg = rig.store.committed().unwrap();
    assert_eq!(cfg.message_filters.len(), 1);
    let f = &cfg.message_filters[0];
    assert_eq!((f.name.as_str(), f.active), ("office365_outbound", true));
    assert!(f.source.contains("strip-header(\"X-OUTBOUND-AUTH\");"));
    let last = rig.store.history().unwrap().pop().unwrap();
    assert_eq!(last.comment, "Office 365 outbound filter");
    let detail = t.command("filters detail office365_outbound");
    assert!(detail.contains("drop();"), "{detail}");
    t.quit();
}

#[test]
fn a_filter_with_a_syntax_error_shows_where_and_adds_nothing() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("filters\r");
    t.line_after("[]> ", "NEW");
    t.expect("Enter filter script. Enter '.' on its own line to end.");
    // Pasted with LF endings and a tab, as some terminals send it.
    t.send("bad: if sendrgroup == 'X' {\n\tdrop();\n}\n.\n");
    let err = t.expect("Enter filter script. Enter '.' on its own line to end.");
    assert!(err.contains("Syntax error"), "{err}");
    assert!(err.contains("line 1, column 9"), "{err}");
    assert!(err.contains("unknown condition 'sendrgroup'"), "{err}");
    assert!(rig.store.staged().unwrap().is_none());
    // A '.' alone goes back to the menu; nothing was added.
    t.send(".\r");
    t.expect("There are no message filters.");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());

    // A filter naming an undefined sender group is added, with a warning.
    t.send("filters\r");
    t.line_after("[]> ", "new");
    t.expect("Enter filter script.");
    t.send(&pasted(SEED));
    t.send(".\r");
    t.expect("Warning: Filter 'office365_outbound': sender group 'RELAY_O365' is not defined");
    t.expect("1 filters added.");
    t.expect("1   Y      N     office365_outbound");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    t.quit();
}

#[test]
fn filters_set_move_detail_export_import_and_delete() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("filters\r");
    t.line_after("[]> ", "new");
    t.expect("Enter filter script.");
    t.send("a: if true { log-entry('a'); }\rb: if true { log-entry('b'); }\r.\r");
    t.expect("2 filters added.");
    t.line_after("[]> ", "set");
    t.line_after("[]> ", "9");
    t.expect("There is no filter number 9");
    t.line_after("[]> ", "1");
    t.expect("- INACTIVE - ");
    t.line_after("[]> ", "inactive");
    t.expect("Filter 'a' is now inactive.");
    t.line_after("[]> ", "move");
    t.line_after("[]> ", "b");
    t.line_after("[]> ", "5");
    t.expect("the position must be between 1 and 2.");
    t.line_after("[]> ", "b");
    t.line_after("[]> ", "1");
    t.expect("Filter 'b' moved to position 1.");
    t.line_after("[]> ", "detail");
    t.line_after("[]> ", "nope");
    t.expect("There is no filter named 'nope'.");
    t.line_after("[]> ", "2");
    t.expect("Active: No");
    t.line_after("[]> ", "export");
    let export = t.expect("Choose the operation you want to perform:");
    let (b, a) = (export.find("b: if"), export.find("a! if"));
    assert!(b.is_some() && a > b, "{export}");
    t.line_after("[]> ", "import");
    t.line_after("Continue? [N]> ", "y");
    t.expect("Paste the filters to import.");
    t.send("c: if true { drop(); }\r.\r");
    t.expect("1 filter(s) imported");
    t.line_after("[]> ", "delete");
    t.line_after("[]> ", "a");
    t.expect("There is no filter named 'a'.");
    t.line_after("[]> ", "c");
    t.expect("Filter 'c' deleted.");
    t.expect("There are no message filters.");
    t.line_after("[]> ", "move");
    t.expect("There are no message filters; NEW or IMPORT creates them.");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    assert!(
        rig.store
            .staged()
            .unwrap()
            .unwrap()
            .message_filters
            .is_empty()
    );
    t.quit();
}

#[test]
fn the_policy_threat_defense_menu_stores_global() {
    let rig = rig();
    let mut t = rig.admin();
    assert!(
        t.command("threatdefenseconfig enable intake@tdc.example.com")
            .contains("staged")
    );
    t.send("policyconfig\r");
    t.expect("Would you like to configure Incoming or Outgoing Mail Policies?");
    t.line_after("[1]> ", "sideways");
    t.expect("'sideways' is not a choice");
    t.line_after("[1]> ", "");
    t.expect("Incoming mail policies");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "SALES");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "sales@example.com, bad@member@x");
    t.expect("bad@member@x");
    t.expect("Enter the name for this policy");
    assert!(
        rig.store
            .staged()
            .unwrap()
            .unwrap()
            .incoming_policies
            .policies
            .is_empty()
    );
    t.line_after("[]> ", "SALES");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "sales@example.com");
    t.expect("Mail policy SALES added to the incoming table.");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "sales");
    t.expect("Policy: SALES");
    t.expect("- THREATDEFENSE - ");
    t.line_after("[]> ", "threatdefense");
    t.expect("1. Use Global Settings (intake@tdc.example.com)");
    t.expect("2. Use custom Message Intake Address");
    t.expect("3. No");
    // A new policy follows DEFAULT: the fourth choice, the current one.
    t.expect("4. Use Default Settings (whatever DEFAULT does)");
    t.line_after("[4]> ", "5");
    t.expect("'5' is not a choice");
    t.line_after("]> ", "1");
    t.expect("Threat Defense Connector for mail policy SALES: Use global Message Intake Address.");
    assert_eq!(
        rig.store
            .staged()
            .unwrap()
            .unwrap()
            .incoming_policies
            .policies[0]
            .settings
            .threat_defense,
        ThreatDefense::Global
    );
    // A custom address is validated and asked again.
    t.line_after("[]> ", "threatdefense");
    t.line_after("[1]> ", "2");
    t.line_after("[]> ", "not-an-address");
    t.expect("'not-an-address' is not a valid Message Intake Address (user@domain).");
    t.line_after("[]> ", "soc@intake.example");
    t.expect("Custom Message Intake Address soc@intake.example");
    // Members: add one, remove one by number.
    t.line_after("[]> ", "add");
    t.line_after("[]> ", ".partner.example");
    t.line_after("[]> ", "");
    t.expect("Members of mail policy SALES updated.");
    t.line_after("[]> ", "delete");
    t.expect("2. sender .partner.example");
    t.line_after("[]> ", "2");
    t.expect("Members of mail policy SALES updated.");
    for _ in 0..2 {
        t.line_after("[]> ", "");
    }
    t.expect(PROMPT);
    let p = &rig
        .store
        .staged()
        .unwrap()
        .unwrap()
        .incoming_policies
        .policies[0];
    assert_eq!(p.members.len(), 1);
    assert_eq!(
        p.settings.threat_defense,
        ThreatDefense::Custom("soc@intake.example".into())
    );

    // Outgoing policies have no Threat Defense choice.
    t.send("policyconfig\r");
    t.line_after("[1]> ", "2");
    t.expect("Outgoing mail policies");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "DEFAULT");
    t.expect("has no members and no settings to edit");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    t.quit();
}

#[test]
fn threatdefenseconfig_enable_with_a_bad_address_asks_again() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("threatdefenseconfig\r");
    t.expect("Threat Defense Connector: Disabled");
    t.line_after("[]> ", "enable");
    t.line_after("[]> ", "not-an-address");
    t.expect("'not-an-address' is not a valid Message Intake Address (user@domain).");
    t.expect("Enter the Message Intake Address");
    t.line_after("[]> ", "a@nodot");
    t.expect("'a@nodot' is not a valid Message Intake Address");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "intake@tdc.example.com");
    t.expect("Threat Defense Connector enabled; Message Intake Address intake@tdc.example.com.");
    t.expect("Threat Defense Connector: Enabled");
    t.line_after("[]> ", "setup");
    t.line_after("[X-IronPort-RemoteIP]> ", "Bad:Name");
    t.line_after("[120]> ", "");
    t.expect("'Bad:Name' is not a header name.");
    t.line_after("[X-IronPort-RemoteIP]> ", "");
    t.line_after("[120]> ", "30");
    t.expect("Threat Defense Connector settings updated.");
    t.line_after("[]> ", "disable");
    t.line_after("[Y]> ", "n");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    let td = rig.store.staged().unwrap().unwrap().threat_defense;
    assert!(td.enabled);
    assert_eq!(td.intake_address.as_deref(), Some("intake@tdc.example.com"));
    assert_eq!(td.max_age_secs, 30);
    assert_eq!(td.header_name, "X-IronPort-RemoteIP");
    t.quit();
}

#[test]
fn quarantineconfig_and_quarantine_explain_bad_answers() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("quarantineconfig\r");
    t.expect("Policy");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "Hold");
    t.line_after("[]> ", "1");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "");
    t.expect("--max_size");
    t.expect("Enter the name of the new quarantine");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "Hold");
    t.line_after("[]> ", "10M");
    t.line_after("[]> ", "48");
    t.line_after("[]> ", "keep");
    t.expect("'keep' is not release or delete.");
    t.line_after("[]> ", "Hold");
    t.line_after("[]> ", "10M");
    t.line_after("[]> ", "48");
    t.line_after("[]> ", "delete");
    t.expect("Quarantine Hold added.");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "Hold");
    for _ in 0..3 {
        t.line_after("[]> ", "");
    }
    t.expect("Nothing changed.");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    let q = rig
        .store
        .staged()
        .unwrap()
        .unwrap()
        .quarantines
        .pop()
        .unwrap();
    assert_eq!(
        (q.name.as_str(), q.max_bytes, q.retention_hours),
        ("Hold", 10 << 20, 48)
    );

    // The held messages live in the running gateway's work queue; this
    // control server has none, and says so.
    t.send("quarantine\r");
    t.expect("- RELEASE - ");
    t.line_after("[]> ", "show");
    t.line_after("[]> ", "abc");
    t.expect("'abc' is not a MID");
    t.line_after("[]> ", "7");
    t.expect("reachable only on the running gateway");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    t.quit();
}

/// A daemon whose work queue holds MID 7 in the Policy quarantine: it
/// answers `quarantine ...` as the running gateway does and records what
/// it was asked.
struct HeldDaemon(std::sync::Mutex<Vec<String>>);

impl breakwater::control::DaemonStatus for HeldDaemon {
    fn status(&self) -> String {
        "Status as of: now".into()
    }
    fn command(&self, args: &[String]) -> Option<Result<String, String>> {
        if !args[0].eq_ignore_ascii_case("quarantine") {
            return None;
        }
        self.0.lock().unwrap().push(args.join(" "));
        Some(
            match args[1..].iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["list"] => Ok("Policy 1\n\n       7  Policy ...".into()),
                ["show", "7"] => Ok("MID: 7\nQuarantine: Policy".into()),
                ["release", "7"] => Ok("Message 7 released from quarantine \"Policy\".".into()),
                [_, mid] => Err(format!("MID {mid} is not in a quarantine.")),
                _ => Err("usage".into()),
            },
        )
    }
}

#[test]
fn the_quarantine_menu_asks_the_daemon_for_held_messages() {
    use std::sync::Arc;

    use breakwater::config::{Certificate, ConfigStore, factory};
    use breakwater::control::ControlServer;
    use breakwater::control::users::UserStore;

    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("db")).unwrap();
    let store = Arc::new(ConfigStore::open(&db).unwrap());
    let board = breakwater_board::BoardProfile::builtin("dev").unwrap();
    let cert = Certificate {
        name: "Demo".into(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    store
        .commit(
            "system",
            "factory",
            Some(&factory::factory_config(&board, cert)),
        )
        .unwrap();
    let users = UserStore::open(&db, console_support::fast_policy()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let daemon = Arc::new(HeldDaemon(Default::default()));
    let server = ControlServer {
        store,
        on_commit: Arc::new(|_| {}),
        daemon: daemon.clone(),
    };
    {
        let _guard = rt.enter();
        server.start_with_users(dir.path(), users).unwrap();
    }
    let mut t = console_support::console_at(dir.path().to_path_buf());
    t.line_after("login: ", "admin");
    t.line_after("Password: ", "breakwater");
    t.line_after("New passphrase: ", console_support::NEW_PASS);
    t.line_after("again: ", console_support::NEW_PASS);
    t.expect(PROMPT);
    t.send("quarantine\r");
    t.line_after("[]> ", "LIST");
    t.line_after("[]> ", "");
    t.expect("7  Policy");
    t.line_after("[]> ", "show");
    t.line_after("[]> ", "8");
    t.expect("MID 8 is not in a quarantine.");
    t.line_after("[]> ", "7");
    t.expect("Quarantine: Policy");
    t.line_after("[]> ", "delete");
    t.line_after("[]> ", "7");
    t.line_after("It is not delivered. [N]> ", "n");
    t.line_after("[]> ", "release");
    t.line_after("[]> ", "x");
    t.expect("'x' is not a MID");
    t.line_after("[]> ", "7");
    t.expect("Message 7 released from quarantine \"Policy\".");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    t.quit();
    assert_eq!(
        *daemon.0.lock().unwrap(),
        [
            "quarantine list",
            "quarantine show 8",
            "quarantine show 7",
            "quarantine release 7"
        ]
    );
}
