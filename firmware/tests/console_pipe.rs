//! The console as a person uses it, over an in-memory pipe with the real
//! line editor, against a real control server (sled config store, users,
//! argon2) in this process.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod console_support;

use std::time::Duration;

use breakwater::control::users::LoginPolicy;
use console_support::{NEW_PASS, PROMPT, console_at, fast_policy, rig, rig_with};

#[test]
fn first_login_shows_the_banner_and_forces_a_new_passphrase() {
    let rig = rig();
    let mut t = rig.console();
    let banner = t.expect("login: ");
    assert!(
        banner.contains("Breakwater") && banner.contains("Serial #: "),
        "{banner}"
    );
    t.send("admin\r");
    t.line_after("Password: ", "breakwater");
    t.expect("You must choose a new passphrase");
    t.line_after("New passphrase: ", "short");
    t.line_after("again: ", "short");
    t.expect("8 to 256 characters");
    t.line_after("New passphrase: ", NEW_PASS);
    t.line_after("again: ", "a typo here");
    t.expect("do not match");
    t.line_after("New passphrase: ", NEW_PASS);
    t.line_after("again: ", NEW_PASS);
    t.expect("Passphrase changed.");
    let welcome = t.expect(PROMPT);
    assert!(welcome.contains("\"commit\""), "{welcome}");
    assert!(
        t.command("status")
            .contains("Host name: breakwater.dev.local")
    );
    let screen = t.quit();
    assert!(
        !screen.contains(NEW_PASS) && !screen.contains("short\r"),
        "passphrase echoed"
    );

    // The old passphrase is gone; the new one needs no change.
    let mut t = rig.console();
    t.line_after("login: ", "admin");
    t.line_after("Password: ", "breakwater");
    t.expect("Login incorrect.");
    t.line_after("login: ", "admin");
    t.line_after("Password: ", NEW_PASS);
    t.expect(PROMPT);
    let who = t.command("who");
    assert!(who.contains("admin") && who.contains("pipe0"), "{who}");
    t.quit();
}

#[test]
fn wrong_passwords_slow_down_then_lock_the_account() {
    let rig = rig();
    let mut t = rig.console();
    // Three failures lock a network login; every answer is the same, so
    // nobody learns that the account exists or is locked.
    for _ in 0..3 {
        t.line_after("login: ", "admin");
        t.line_after("Password: ", "guess");
        t.expect("Login incorrect.");
    }
    // Locked: even the right passphrase is refused, with the same answer.
    t.line_after("login: ", "admin");
    t.line_after("Password: ", "breakwater");
    let refused = t.expect("login: ");
    assert!(refused.contains("Login incorrect."), "{refused}");
    assert!(!refused.contains("locked"), "{refused}");
    std::thread::sleep(Duration::from_millis(2100));
    t.send("admin\r");
    t.line_after("Password: ", "breakwater");
    t.expect("You must choose a new passphrase");
}

#[test]
fn a_locked_admin_still_logs_in_at_the_serial_console() {
    let rig = rig_with(LoginPolicy {
        lockout: Duration::from_secs(3600),
        ..fast_policy()
    });
    // Someone guessing over the network locks the admin for an hour.
    let mut net = rig.console();
    for _ in 0..3 {
        net.line_after("login: ", "admin");
        net.line_after("Password: ", "guess");
        net.expect("Login incorrect.");
    }
    // At the box's serial port the admin mistypes once, waits the
    // console's delay, and gets in.
    let mut serial = rig.serial_console();
    serial.line_after("login: ", "admin");
    serial.line_after("Password: ", "typo typo");
    serial.expect("Login incorrect.");
    serial.line_after("login: ", "admin");
    serial.line_after("Password: ", "breakwater");
    serial.line_after("New passphrase: ", NEW_PASS);
    serial.line_after("again: ", NEW_PASS);
    serial.expect(PROMPT);
    let users = serial.command("userconfig print");
    assert!(users.contains("locked"), "{users}");
    assert!(
        serial
            .command("userconfig unlock admin")
            .contains("unlocked")
    );
    serial.quit();
    // Unlocked by the admin: the network login works again.
    net.line_after("login: ", "admin");
    net.line_after("Password: ", NEW_PASS);
    net.expect(PROMPT);
    net.quit();
}

#[test]
fn a_menu_with_bad_input_explains_asks_again_and_stages_nothing() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("smtproutes\r");
    t.expect("Choose the operation you want to perform:");
    t.expect("- NEW - Create a new route.");
    t.line_after("[]> ", "frob");
    t.expect("'frob' is not an operation of this menu");
    t.line_after("[]> ", "New");
    t.line_after("[]> ", "example.com");
    t.line_after("[]> ", "bad host!!,");
    t.expect("Enter the domain");
    assert!(rig.store.staged().unwrap().is_none());
    t.send("\x03");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());

    // The same menu, good answers: staged, reported, committed with a comment.
    t.send("smtproutes\r");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "example.com");
    t.line_after("[]> ", "mx.example.com");
    t.expect("The change is staged");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_some());
    t.send("commit\r");
    t.line_after(
        "Please enter some comments describing your changes:\r\n[]> ",
        "first route",
    );
    t.expect("Changes committed: ");
    t.expect(PROMPT);
    let history = rig.store.history().unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.user.as_str(), last.comment.as_str()),
        ("admin", "first route")
    );
    assert_eq!(rig.store.committed().unwrap().smtp_routes.len(), 1);
    assert!(
        t.command("commit")
            .contains("There are no changes to commit.")
    );
    t.quit();
}

#[test]
fn listenerconfig_hostaccess_and_rcptaccess_submenus() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("LISTENERCONFIG\r");
    t.expect("Currently configured listeners:");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "1");
    t.line_after("[]> ", "rcptaccess");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "your_domain.com");
    t.line_after("Select the action", "");
    t.line_after("custom SMTP response? [N]> ", "");
    t.line_after("bypass receiving control for this entry? [N]> ", "n");
    t.expect("Added your_domain.com ACCEPT");
    t.line_after("[]> ", "print");
    t.expect("your_domain.com");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "hostaccess");
    t.line_after("[]> ", "new");
    t.line_after("[]> ", "ALLOWED_LIST");
    t.line_after("[]> ", "10.0.0.0/33");
    t.line_after("[]> ", "");
    t.expect("Enter a comment for this sender group");
    t.line_after("[]> ", "");
    t.expect("CIDR prefix length too long");
    t.line_after("[]> ", "ALLOWED_LIST");
    t.line_after("[]> ", "10.0.0.0/8");
    t.line_after("[]> ", "");
    t.line_after("[]> ", "Partners we trust");
    t.expect("Added 1 member(s) to sender group ALLOWED_LIST");
    // EDIT: a host's comment, then the group's name; the comments follow.
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "ALLOWED_LIST");
    t.line_after("[]> ", "hostcomment");
    t.line_after("[]> ", "10.0.0.0/8");
    t.line_after("[]> ", "the lab");
    t.expect("Comment of sender '10.0.0.0/8' in sender group ALLOWED_LIST set.");
    t.line_after("[]> ", "edit");
    t.line_after("[]> ", "ALLOWED_LIST");
    t.line_after("[]> ", "rename");
    t.line_after("[]> ", "PARTNERS");
    t.expect("Sender group ALLOWED_LIST renamed PARTNERS");
    for _ in 0..3 {
        t.line_after("[]> ", "");
    }
    t.expect(PROMPT);
    let cfg = rig.store.staged().unwrap().unwrap();
    let printed = t.command("listenerconfig edit IncomingMail hostaccess print");
    assert!(printed.contains("10.0.0.0/8"), "{printed}");
    assert!(printed.contains("Comment: Partners we trust"), "{printed}");
    assert!(printed.contains("Sender 10.0.0.0/8: the lab"), "{printed}");
    let detail =
        t.command("listenerconfig edit IncomingMail hostaccess detail sendergroup PARTNERS");
    assert!(detail.contains("Comment:  Partners we trust"), "{detail}");
    assert_ne!(cfg, rig.store.committed().unwrap());
    t.quit();
}

#[test]
fn rollbackconfig_lists_commits_and_rolls_back_one() {
    let rig = rig();
    let factory_timeout = rig.store.committed().unwrap().dns.timeout_secs;
    let mut t = rig.admin();
    assert!(t.command("dnsconfig timeout 9").contains("staged"));
    assert!(
        t.command("commit shorter timeout")
            .contains("Changes committed")
    );
    t.send("rollbackconfig\r");
    let listing = t.expect("Enter the number of the configuration to revert to.");
    assert!(
        listing.contains("factory") && listing.contains("shorter timeout"),
        "{listing}"
    );
    t.line_after("[]> ", "99");
    t.expect("There is no commit number 99");
    t.line_after("[]> ", "1");
    t.expect("is staged");
    t.line_after("Do you want to commit this configuration now? [N]> ", "y");
    t.line_after("[Rollback to commit 1]> ", "");
    t.expect("Changes committed");
    t.expect(PROMPT);
    assert_eq!(
        rig.store.committed().unwrap().dns.timeout_secs,
        factory_timeout
    );
    assert_eq!(
        rig.store.history().unwrap().last().unwrap().comment,
        "Rollback to commit 1"
    );
    t.quit();
}

#[test]
fn a_read_only_user_is_refused_every_change() {
    let rig = rig();
    let mut t = rig.reader();
    t.expect(PROMPT);
    let refused = t.command("smtproutes new example.com mx.example.com");
    assert!(refused.contains("Permission denied"), "{refused}");
    assert!(t.command("commit x").contains("Permission denied"));
    assert!(
        t.command("userconfig delete admin")
            .contains("Permission denied")
    );
    assert!(t.command("smtproutes print").contains("No SMTP routes"));
    t.send("dnsconfig\r");
    t.line_after("[]> ", "servers");
    t.expect("Permission denied: the read-only role cannot change the configuration.");
    t.line_after("[]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}

#[test]
fn tab_completion_history_and_ctrl_c_cancelling_a_menu() {
    let rig = rig();
    let mut t = rig.admin();
    t.send("smtpr\t");
    t.expect("smtproutes ");
    t.send("\r");
    t.line_after("[]> ", "new");
    t.expect("Enter the domain");
    t.send("half-typed\x03");
    t.expect("^C");
    t.expect(PROMPT);
    t.send("dnsc\t\x15");
    t.expect("dnsconfig ");
    t.send("\x1b[A\r");
    t.expect("- NEW - Create a new route.");
    t.send("\x03");
    t.expect(PROMPT);
    t.send("sh\t");
    t.expect("showconfig  showmessage  showrecipients  shutdown");
    t.send("\x15\r");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}

#[test]
fn a_long_paste_with_mixed_line_endings_loses_nothing() {
    let rig = rig();
    let mut t = rig.admin();
    let mut paste = String::new();
    for i in 0..40 {
        let end = ["\r", "\n", "\r\n"][i % 3];
        paste.push_str(&format!("listenerconfig edit IncomingMail rcptaccess new user{i}@your-domain-with-a-long-name.example accept{end}"));
    }
    t.send(&paste);
    for i in 0..40 {
        t.expect(&format!(
            "Added user{i}@your-domain-with-a-long-name.example ACCEPT"
        ));
    }
    t.expect(PROMPT);
    let cfg = rig.store.staged().unwrap().unwrap();
    let rat = format!("{:?}", cfg);
    assert!(rat.contains("user39@your-domain-with-a-long-name.example"));
    t.quit();
}

#[test]
fn an_unreachable_daemon_is_reported_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = console_at(dir.path().to_path_buf());
    t.expect("The mail daemon is restarting; try again in a moment.");
    t.line_after("login: ", "admin");
    t.line_after("Password: ", "x");
    t.expect("The mail daemon is restarting; try again in a moment.");
    t.expect("login: ");
}

#[test]
fn a_dash_argument_reads_a_paste_as_standard_input() {
    let rig = rig();
    let mut t = rig.admin();
    let ca = rcgen::generate_simple_self_signed(vec!["ca.example.com".to_string()])
        .expect("a certificate")
        .cert
        .pem();
    t.send("certconfig certauthority import partner-ca -\r");
    t.expect("Paste the text now");
    for line in ca.lines() {
        t.send(&format!("{line}\r"));
    }
    t.send(".\r");
    let said = t.expect(PROMPT);
    assert!(
        said.contains("Certificate authority partner-ca added (1 certificate(s))"),
        "{said}"
    );
    assert!(
        t.command("certconfig certauthority print")
            .contains("partner-ca")
    );
    t.quit();
}

/// A session opened elsewhere (an SSH login): the console's shell starts
/// at the lines after `login:`, with the forced first passphrase change
/// when the passphrase that logged in is known, and refuses the shell
/// (closing the session) when it is not.
#[test]
fn a_session_opened_elsewhere_gets_the_same_shell() {
    use breakwater::console::{AuthReply, ConsoleOptions, DaemonLink};
    let rig = rig();
    let link = DaemonLink::new(rig.path());
    let open = || -> AuthReply {
        let args = vec![
            "__auth".into(),
            "admin".into(),
            "ssh".into(),
            "network".into(),
        ];
        let r = link.call(args, Some("breakwater"), "admin").unwrap();
        assert!(r.ok, "{}", r.output);
        serde_json::from_str(&r.output).unwrap()
    };
    let options = ConsoleOptions {
        tty: "ssh".into(),
        exit_after_logout: true,
        ..ConsoleOptions::default()
    };
    let start = |auth: AuthReply, passphrase: Option<&'static str>| {
        let (port, peer) = breakwater::console::port::pipe();
        let (link, options) = (link.clone(), options.clone());
        let done = std::thread::spawn(move || {
            breakwater::console::run_session(port, link, "admin", auth, passphrase, &options)
                .is_ok()
        });
        (peer, done)
    };

    // Without the passphrase, the forced change cannot be made.
    let auth = open();
    let token = auth.token.clone();
    let (mut peer, done) = start(auth, None);
    peer.expect(
        "You must choose a new passphrase first",
        Duration::from_secs(20),
    )
    .unwrap();
    assert!(!done.join().unwrap());
    let r = link
        .call(
            vec!["__session".into(), token, "__state".into()],
            None,
            "admin",
        )
        .unwrap();
    assert!(!r.ok, "the session was closed: {}", r.output);

    // With it: the change, then the prompt, then quit.
    let (peer, done) = start(open(), Some("breakwater"));
    let mut t = console_support::Term::from_parts(peer, done);
    t.line_after("New passphrase: ", NEW_PASS);
    t.line_after("again: ", NEW_PASS);
    t.expect("Logged in as admin (admin).");
    t.expect(PROMPT);
    assert!(t.command("status").contains("Host name"));
    let who = t.command("who");
    assert!(who.contains("ssh"), "{who}");
    t.quit();
}
