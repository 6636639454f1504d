//! The newer console menus as a person uses them, over an in-memory pipe
//! with the real line editor against a real control server: bad answers
//! are explained, asked again, and stage nothing; saveconfig/loadconfig
//! round-trip; trace shows the seed filter dropping a message; help covers
//! every command.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod console_support;

use breakwater::config::MessageFilterConfig;
use console_support::{PROMPT, rig};

#[test]
fn destconfig_and_bounceconfig_explain_bad_answers_and_ask_again() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("destconfig\r");
    t.expect("Destination Control Table");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "bad..domain");
    for _ in 0..10 {
        t.line_after("[]> ", "");
    }
    t.expect("'bad..domain' is not a domain");
    t.expect("Enter the domain you wish to configure");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "example.com");
    t.line_after("[]> ", "0");
    for _ in 0..9 {
        t.line_after("[]> ", "");
    }
    t.expect("--max_host_concurrency must be between 1 and 10000.");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "example.com");
    t.line_after("[]> ", "10");
    for _ in 0..4 {
        t.line_after("[]> ", "");
    }
    t.line_after("[]> ", "preferred");
    for _ in 0..4 {
        t.line_after("[]> ", "");
    }
    t.expect("Destination control for example.com added.");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    let staged = rig.store.staged().unwrap().unwrap();
    assert_eq!(staged.destination("example.com").max_concurrency, 10);
    assert_eq!(rig.store.committed().unwrap().destination_controls.len(), 0);
    t.send("clear\r");
    t.line_after("[Y]> ", "");
    t.expect("Changes cleared.");
    t.expect(PROMPT);

    t.send("bounceconfig\r");
    t.expect("Bounce profiles:");
    t.line_after("[]> ", "EDIT");
    t.line_after("[]> ", "Default");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "100");
    t.line_after("[]> ", "10");
    t.line_after("[]> ", "maybe");
    t.line_after("[]> ", "");
    t.expect("must be at least the initial one");
    t.expect("Enter the name of the profile you wish to edit.");
    assert!(rig.store.staged().unwrap().is_none());
    t.send("\x03");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}

#[test]
fn sethostname_refuses_a_bad_name_and_stages_a_good_one() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("sethostname\r");
    t.line_after("[breakwater.dev.local]> ", "bad_host!");
    t.expect("is not a valid host name");
    t.line_after("[breakwater.dev.local]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.send("sethostname\r");
    t.line_after("[breakwater.dev.local]> ", "mail.example.com");
    t.expect("Host name set to mail.example.com.");
    t.expect(PROMPT);
    assert_eq!(
        rig.store.staged().unwrap().unwrap().hostname,
        "mail.example.com"
    );
    // The prompt changes only with the commit.
    t.send("commit new name\r");
    t.expect("Changes committed");
    t.expect("mail.example.com> ");
    t.send("quit\r");
    t.expect("Goodbye.");
}

#[test]
fn settz_asks_a_region_then_a_zone_and_explains_an_unknown_name() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("settz\r");
    t.expect("Current time zone: UTC (now ");
    t.expect("Choose your region (Africa, America,");
    t.line_after("[]> ", "Mars");
    t.expect("Unknown time zone 'Mars'");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "America");
    t.expect("Choose a zone of America: ");
    t.expect("Chicago");
    t.line_after("[]> ", "Chicago");
    t.expect("Time zone set to America/Chicago.");
    t.expect(PROMPT);
    assert_eq!(
        rig.store.staged().unwrap().unwrap().time_zone,
        "America/Chicago"
    );
    // Typed with its argument, it is the batch command.
    t.send("settz UTC\r");
    t.expect("Time zone set to UTC.");
    t.expect(PROMPT);
    t.quit();
}

#[test]
fn hostaccess_and_rcptaccess_move_default_import_export_and_clear() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("listenerconfig\r");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "IncomingMail");
    t.line_after("[]> ", "hostaccess");
    t.line_after("[]> ", "move");
    t.line_after("[]> ", "ALLOWED_LIST");
    t.line_after("[]> ", "9");
    t.expect("the position must be between 1 and 4.");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "import");
    t.expect("Enter '.' on a line by itself to end");
    t.send("A: 10.0.0.1 $NOPE\r.\r");
    t.expect("Line 1:");
    t.expect("Enter '.' on a line by itself to end");
    t.send(".\r");
    t.line_after("[]> ", "default");
    t.line_after("[]> ", "NOPE");
    t.expect("NOPE");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "$THROTTLED");
    t.expect("The ALL sender group of IncomingMail now uses policy $THROTTLED.");
    t.line_after("[]> ", "export");
    t.expect("ALL $THROTTLED");
    t.line_after("[]> ", "clear");
    t.line_after("Remove every sender group except ALL? [N]> ", "y");
    t.expect("Removed 4 sender group(s) from IncomingMail; ALL remains.");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "rcptaccess");
    t.line_after("[]> ", "import");
    t.expect("Enter '.' on a line by itself to end");
    t.send("example.com ACCEPT\rexample.com REJECT\r.\r");
    t.expect("Line 2: this address is listed twice");
    t.expect("Enter '.' on a line by itself to end");
    t.send("example.com ACCEPT\r.example.com accept 250 \"ok\"\rALL REJECT\r.\r");
    t.expect("Imported 3 row(s)");
    t.line_after("[]> ", "move");
    t.line_after("[]> ", ".example.com");
    t.line_after("[]> ", "1");
    t.expect(".example.com moved to position 1 on IncomingMail.");
    t.line_after("[]> ", "export");
    let exported = t.expect("ALL REJECT");
    assert!(
        exported.contains(".example.com ACCEPT 250 \"ok\"\r\nexample.com ACCEPT\r\n"),
        "{exported}"
    );
    for _ in 0..3 {
        t.line_after("[]> ", "");
    }
    t.expect(PROMPT);
    let cfg = rig.store.staged().unwrap().unwrap();
    let l = cfg.listener("IncomingMail").unwrap();
    assert_eq!(l.hat.len(), 1);
    assert_eq!(l.rat.len(), 3);
    t.quit();
}

#[test]
fn saveconfig_then_loadconfig_brings_back_the_saved_configuration() {
    let rig = rig();
    let before = rig.store.committed().unwrap();
    let mut t = rig.admin();
    t.send("saveconfig\r");
    t.line_after("[N]> ", "");
    t.line_after("[]> ", "../escape");
    t.expect("is not a configuration file name");
    t.line_after("[]> ", "before-change");
    t.expect("configuration/before-change.toml (private keys masked)");
    t.expect(PROMPT);
    let file = rig.path().join("configuration/before-change.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("hostname = \"breakwater.dev.local\""),
        "{text}"
    );

    assert!(t.command("dnsconfig timeout 9").contains("staged"));
    assert!(t.command("commit shorter").contains("Changes committed"));
    assert_ne!(rig.store.committed().unwrap(), before);

    t.send("loadconfig\r");
    t.line_after("[]> ", "file");
    t.line_after("[]> ", "no-such-file");
    t.expect("Cannot read");
    assert!(rig.store.staged().unwrap().is_none());
    t.line_after("[]> ", "before-change");
    t.expect("is staged");
    t.expect(PROMPT);
    assert_eq!(rig.store.staged().unwrap().unwrap(), before);
    assert!(t.command("commit back").contains("Changes committed"));
    assert_eq!(rig.store.committed().unwrap(), before);
    // The file is printed too, and read-only users may print it masked.
    assert!(t.command("saveconfig print").contains("format = 1"));
    t.quit();
}

const SEED: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}
"#;

#[test]
fn trace_shows_the_seed_filter_dropping_a_message_without_the_header() {
    let rig = rig();
    let mut cfg = rig.store.committed().unwrap();
    let outgoing = cfg.listener_mut("OutgoingMail").unwrap();
    let mut group = outgoing.hat[0].clone();
    group.name = "RELAY_O365".into();
    group.members = vec!["192.0.2.0/24".into()];
    outgoing.hat.insert(0, group);
    cfg.message_filters.push(MessageFilterConfig {
        name: "office365_outbound".into(),
        active: true,
        source: SEED.into(),
    });
    rig.store.commit("admin", "seed", Some(&cfg)).unwrap();

    let mut t = rig.admin();
    t.send("trace\r");
    t.line_after("[]> ", "not-an-ip");
    t.expect("'not-an-ip' is not an IPv4 or IPv6 address.");
    t.line_after("[]> ", "192.0.2.7");
    t.line_after("[]> ", "");
    t.expect("Select the listener to trace behavior on:");
    t.line_after("[]> ", "outgoingmail");
    t.line_after("[]> ", "user@your_domain.com");
    t.line_after("[]> ", "someone@example.org");
    t.expect("Enter or paste the message here.");
    t.send("From: user@your_domain.com\rSubject: no secret\r\rhello\r.\r");
    let out = t.expect(PROMPT);
    for expected in [
        "Sender group RELAY_O365 (match 192.0.2.0/24)",
        "<someone@example.org>: relayed (the policy is RELAY)",
        "Final action: drop() by filter 'office365_outbound'",
        "the message would be dropped by filter 'office365_outbound'",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}

#[test]
fn help_covers_every_command_and_the_new_ones_show_their_forms() {
    let rig = rig();
    let mut t = rig.admin();
    let overview = t.command("help");
    for name in [
        "destconfig",
        "bounceconfig",
        "sethostname",
        "saveconfig",
        "loadconfig",
        "findevent",
        "tail",
        "grep",
        "trace",
        "workqueue",
        "reboot",
        "shutdown",
        "version",
    ] {
        assert!(
            overview.contains(name),
            "{name} missing from help:\n{overview}"
        );
        let help = t.command(&format!("help {name}"));
        assert!(
            help.contains(&format!("{name}: ")) && help.contains("usage"),
            "help {name}:\n{help}"
        );
    }
    let version = t.command("version");
    for field in [
        "Current Version",
        "Model: ",
        "Version: ",
        "Build Date: ",
        "CPUs: ",
        "Memory: ",
    ] {
        assert!(version.contains(field), "{field} in\n{version}");
    }
    t.quit();
}

#[test]
fn tail_follows_mail_logs_until_ctrl_c() {
    let rig = rig();
    let logs = rig.path().join("logs/mail_logs");
    std::fs::create_dir_all(&logs).unwrap();
    let line = |text: &str| format!("Tue Nov 24 01:06:39 2026 Info: {text}\n");
    std::fs::write(logs.join("mail.current"), line("old line")).unwrap();
    let mut t = rig.admin();
    t.send("tail\r");
    t.expect("Press Ctrl-C to stop.");
    t.expect("old line");
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(logs.join("mail.current"))
            .unwrap();
        f.write_all(line("Start MID 7 ICID 3").as_bytes()).unwrap();
    }
    t.expect("Start MID 7 ICID 3");
    t.send("\x03");
    t.expect("^C");
    t.expect(PROMPT);
    assert!(t.command("tail 1").contains("Start MID 7 ICID 3"));
    let found = t.command("findevent --mid 7");
    assert!(found.contains("1 message(s) found: MID 7"), "{found}");
    assert!(t.command("grep (").contains("Invalid regular expression"));

    // Another log by its name: followed the same way.
    let audit = rig.path().join("logs/audit_logs");
    std::fs::create_dir_all(&audit).unwrap();
    std::fs::write(audit.join("audit.current"), line("Commit 2 by ops")).unwrap();
    t.send("tail audit_logs\r");
    t.expect("Press Ctrl-C to stop.");
    t.expect("Commit 2 by ops");
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(audit.join("audit.current"))
            .unwrap();
        f.write_all(line("Commit 3 by admin").as_bytes()).unwrap();
    }
    t.expect("Commit 3 by admin");
    t.send("\x03");
    t.expect("^C");
    t.expect(PROMPT);
    assert!(
        t.command("grep -e Commit.3 audit_logs")
            .contains("Commit 3 by admin")
    );
    t.quit();
}
