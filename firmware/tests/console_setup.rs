//! `systemsetup`, the System Setup Wizard, as an administrator runs it on
//! a new appliance: over an in-memory pipe with the real line editor,
//! against a real control server. Every question is answered (one answer
//! refused and asked again) and the committed result is read back with
//! the print commands; leaving with Ctrl-C or an empty answer commits
//! nothing; read-only users are refused; the first-login hint goes away
//! once someone has committed.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod console_support;

use console_support::{NEW_PASS, PROMPT, Term, rig};

const HINT: &str = "The system has not been configured. Run \"systemsetup\" to configure it.";
const NEW_PROMPT: &str = "mail.example.com> ";
const SECOND_PASS: &str = "an0ther horse";

/// Logs in as the factory admin, setting [`NEW_PASS`]; returns the screen
/// up to the first prompt.
fn first_login(t: &mut Term) -> String {
    t.line_after("login: ", "admin");
    t.line_after("Password: ", "breakwater");
    t.line_after("New passphrase: ", NEW_PASS);
    t.line_after("again: ", NEW_PASS);
    t.expect(PROMPT)
}

#[test]
fn the_wizard_asks_every_question_and_commits_the_answers() {
    let rig = rig();
    let mut t = rig.console();
    let screen = first_login(&mut t);
    assert!(screen.contains(HINT), "{screen}");

    t.send("systemsetup\r");
    t.expect("System Setup Wizard");
    t.expect("Enter the fully qualified host name");
    t.line_after("[breakwater.dev.local]> ", "mail.example.com");
    t.expect("Host name set to mail.example.com.");
    t.expect("Please enter the email address(es) to send alerts");
    t.line_after("[]> ", "noc@example.com, ops@example.com");
    t.expect("Alert recipient noc@example.com added.");
    t.expect("Alert recipient ops@example.com added.");
    t.expect("the Management interface");
    t.line_after("[127.0.0.1/8]> ", "");
    t.expect("the Data 1 interface");
    t.line_after("[127.0.1.1/8]> ", "192.0.2.10/24");
    t.expect("Interface Data 1 set to 192.0.2.10/24.");
    t.expect("the Data 2 interface");
    t.line_after("[127.0.2.1/8]> ", "198.51.100.10/24");
    t.expect("Interface Data 2 set to 198.51.100.10/24.");
    t.expect("Enter the default gateway");
    t.line_after("[]> ", "203.0.113.1");
    t.expect("203.0.113.1 is not on the subnet of any configured interface");
    t.expect("Enter the default gateway");
    t.line_after("[]> ", "192.0.2.1");
    t.expect("Default gateway set to 192.0.2.1.");
    t.expect("Enter the DNS servers");
    t.line_after("[]> ", "192.0.2.53, 192.0.2.54");
    t.expect("Name servers set to 192.0.2.53:53, 192.0.2.54:53.");
    t.expect("Incoming mail: listener IncomingMail (on Data 1).");
    t.expect("Enter the domains to accept mail for");
    t.line_after("[]> ", "example.com, .example.com");
    t.expect("Added example.com ACCEPT");
    t.expect("Added .example.com ACCEPT");
    t.expect("Enter the mail server to deliver mail for these domains to");
    t.line_after("[]> ", "example-com.mail.protection.outlook.com");
    t.expect("Added route example.com => example-com.mail.protection.outlook.com:25/pri=0.");
    t.expect("Added route .example.com => example-com.mail.protection.outlook.com:25/pri=0.");
    t.expect("Outgoing mail: listener OutgoingMail (on Data 2).");
    t.expect("Enter the hosts and networks allowed to relay mail");
    t.line_after("[]> ", "10.0.0.0/8, .protection.outlook.com");
    t.expect("Added 2 member(s) to sender group RELAYLIST");
    t.expect("RELAYLIST holds .protection.outlook.com: it matches the servers of every Microsoft 365 tenant");
    t.line_after(
        "Do you want to add the filter office365_outbound for RELAYLIST now? [Y]> ",
        "",
    );
    t.expect("Enter the shared secret");
    t.line_after("]> ", "mysecretkey");
    t.expect("Refused: the secret must be at least 16 characters long.");
    t.line_after("]> ", "Tenant$ecret0123456789");
    t.expect("Refused: the secret may hold letters, digits, '-' and '_' only ('$'");
    t.line_after("]> ", "Tenant-Secret_0123456789");
    t.expect("1 filters added.");
    t.expect("Filter 'office365_outbound' moved to position 1.");
    t.line_after("Do you want to change the admin passphrase? [N]> ", "y");
    t.line_after("Old passphrase: ", NEW_PASS);
    t.line_after("New passphrase: ", SECOND_PASS);
    t.line_after("again: ", SECOND_PASS);
    t.expect("Passphrase changed.");
    let summary = t.expect("Commit these changes? [Y]> ");
    for expected in [
        "mail.example.com   (in force: breakwater.dev.local)",
        "192.0.2.1   (in force: not configured)",
        "example.com, .example.com   (in force: none)",
        "10.0.0.0/8, .protection.outlook.com   (in force: none)",
        "noc@example.com, ops@example.com   (in force: none)",
    ] {
        assert!(summary.contains(expected), "{expected:?} in\n{summary}");
    }
    assert!(!summary.contains("The change is staged"), "{summary}");
    assert!(
        !summary.contains("Warning"),
        "the relay is guarded:\n{summary}"
    );
    assert_eq!(
        rig.store.history().unwrap().len(),
        1,
        "nothing committed yet"
    );
    t.send("\r");
    t.expect("Changes committed");
    t.expect("take effect at the next reboot");
    t.line_after("Reboot now? [N]> ", "");
    t.expect(NEW_PROMPT);

    let last = rig.store.history().unwrap().pop().unwrap();
    assert_eq!((last.number, last.comment.as_str()), (2, "systemsetup"));
    assert!(rig.store.staged().unwrap().is_none());
    let mut run = |line: &str| {
        t.send(&format!("{line}\r"));
        t.expect(NEW_PROMPT)
    };
    let shown = run("showconfig");
    assert!(shown.contains("no uncommitted changes"), "{shown}");
    assert!(shown.contains("Hostname: mail.example.com"), "{shown}");
    assert!(
        shown.contains("Name servers: 192.0.2.53:53, 192.0.2.54:53"),
        "{shown}"
    );
    let interfaces = run("interfaceconfig print");
    for expected in [
        "1. Management (127.0.0.1/8: mail.example.com)",
        "2. Data 1 (192.0.2.10/24: mail.example.com)",
        "3. Data 2 (198.51.100.10/24: mail.example.com)",
    ] {
        assert!(interfaces.contains(expected), "{interfaces}");
    }
    assert!(run("setgateway print").contains("Default gateway: 192.0.2.1"));
    let routes = run("smtproutes print");
    assert!(
        routes.contains("example.com => example-com.mail.protection.outlook.com:25/pri=0")
            && routes.contains(".example.com => example-com"),
        "{routes}"
    );
    let rat = run("listenerconfig edit IncomingMail rcptaccess print");
    assert!(
        rat.contains("1. example.com ")
            && rat.contains("2. .example.com")
            && rat.contains("3. ALL"),
        "{rat}"
    );
    let hat = run("listenerconfig edit OutgoingMail hostaccess print");
    assert!(
        hat.contains("RELAYLIST  $RELAYED  10.0.0.0/8, .protection.outlook.com"),
        "{hat}"
    );
    let filter = run("filters detail office365_outbound");
    for expected in [
        "Num: 1",
        "Active: Yes",
        "sendergroup == \"^RELAYLIST$\"",
        "header(\"X-OUTBOUND-AUTH\") == \"^Tenant-Secret_0123456789$\"",
        "drop();",
    ] {
        assert!(filter.contains(expected), "{expected:?} in\n{filter}");
    }

    // Run again, Enter everywhere: every value is kept, nothing is staged.
    t.send("systemsetup\r");
    t.line_after("[mail.example.com]> ", "");
    t.line_after("[noc@example.com, ops@example.com]> ", "");
    t.line_after("[127.0.0.1/8]> ", "");
    t.line_after("[192.0.2.10/24]> ", "");
    t.line_after("[198.51.100.10/24]> ", "");
    t.line_after("[192.0.2.1]> ", "");
    t.line_after("[192.0.2.53, 192.0.2.54]> ", "");
    t.line_after("[example.com, .example.com]> ", "");
    t.line_after("[example-com.mail.protection.outlook.com]> ", "");
    t.line_after("[10.0.0.0/8, .protection.outlook.com]> ", "");
    t.line_after("passphrase? [N]> ", "");
    t.expect("Nothing was changed: there is nothing to commit.");
    t.expect(NEW_PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.send("quit\r");
    t.expect("Goodbye.");

    // Configured now: no hint, and the new passphrase is the one.
    let mut t = rig.console();
    t.line_after("login: ", "admin");
    t.line_after("Password: ", SECOND_PASS);
    let screen = t.expect(NEW_PROMPT);
    assert!(!screen.contains(HINT), "{screen}");
    t.send("quit\r");
    t.expect("Goodbye.");
}

#[test]
fn a_declined_relay_filter_leaves_a_warning_in_the_summary_and_the_commit() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("systemsetup\r");
    t.line_after("[breakwater.dev.local]> ", "");
    t.expect("send alerts");
    t.line_after("[]> ", "");
    t.line_after("[127.0.0.1/8]> ", "");
    t.line_after("[127.0.1.1/8]> ", "192.0.2.10/24");
    t.line_after("[127.0.2.1/8]> ", "");
    t.expect("Enter the default gateway");
    t.line_after("[]> ", "192.0.2.1");
    t.expect("Enter the DNS servers");
    t.line_after("[]> ", "192.0.2.53");
    t.expect("Enter the domains to accept mail for");
    t.line_after("[]> ", "example.com");
    t.expect("Enter the mail server to deliver mail for these domains to");
    t.line_after("[]> ", "example-com.mail.protection.outlook.com");
    t.expect("Enter the hosts and networks allowed to relay mail");
    t.line_after("[]> ", ".outbound.protection.outlook.com");
    t.expect("Added 1 member(s) to sender group RELAYLIST");
    t.line_after("for RELAYLIST now? [Y]> ", "n");
    t.expect("No filter added: the summary and every commit warn about this relay.");
    t.line_after("passphrase? [N]> ", "");
    let warning = "Warning: OutgoingMail relays for sender group RELAYLIST, whose member \
                   .outbound.protection.outlook.com matches the servers of every Microsoft 365 \
                   tenant, and no active filter checks a secret header for RELAYLIST";
    let summary = t.expect("Commit these changes? [Y]> ");
    assert!(summary.contains(warning), "{summary}");
    t.send("\r");
    let committed = t.expect("Changes committed");
    assert!(committed.contains(warning), "{committed}");
    t.line_after("Reboot now? [N]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.committed().unwrap().message_filters.is_empty());
    t.quit();
}

#[test]
fn ctrl_c_or_an_empty_required_answer_leaves_without_committing() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("systemsetup\r");
    t.line_after("[breakwater.dev.local]> ", "mail.example.com");
    t.expect("Host name set to mail.example.com.");
    t.expect("send alerts");
    t.line_after("[]> ", "");
    t.expect("the Management interface");
    t.send("\x03");
    t.expect("The System Setup Wizard was left: nothing was committed.");
    t.expect("The answers given so far stay staged");
    t.expect(PROMPT);
    assert_eq!(
        rig.store.staged().unwrap().unwrap().hostname,
        "mail.example.com"
    );
    assert_eq!(rig.store.history().unwrap().len(), 1);

    // The staged name is the default now; no gateway yet: Enter leaves.
    t.send("systemsetup\r");
    t.line_after("[mail.example.com]> ", "");
    t.expect("send alerts");
    t.line_after("[]> ", "");
    for _ in 0..3 {
        t.line_after("/8]> ", "");
    }
    t.expect("Enter the default gateway");
    t.line_after("[]> ", "");
    t.expect("An answer is required here.");
    t.expect("The System Setup Wizard was left: nothing was committed.");
    t.expect(PROMPT);
    assert_eq!(rig.store.history().unwrap().len(), 1);
    assert!(!rig.store.committed().unwrap().hostname.starts_with("mail"));
    t.quit();
}

#[test]
fn read_only_users_are_refused_and_get_no_hint() {
    let rig = rig();
    let mut t = rig.reader();
    let screen = t.expect(PROMPT);
    assert!(!screen.contains(HINT), "{screen}");
    let refused = t.command("systemsetup");
    assert!(
        refused.contains("Permission denied: the read-only role cannot change the configuration."),
        "{refused}"
    );
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}
