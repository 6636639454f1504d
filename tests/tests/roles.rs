//! Roles end to end: one console user per role (admin, operator,
//! read-only, guest), each running every command of docs/console.md's
//! "Roles" table over the control socket exactly as the console does,
//! allowed or refused as the table says; and a guest never sees the
//! filter script's shared secret or a private key, whatever it runs.

use std::time::Duration;

use breakwater_e2e::{SmtpConn, World, mid_in_reply};

/// The seed's shared secret, in a filter on the gateway.
const SECRET: &str = "mysecretkey";
const SECRET_FILTER: &str = r#"o365_secret: if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
  strip-header("X-OUTBOUND-AUTH");
}
.
"#;
const PRIVATE_KEY: &str = "PRIVATE KEY";

const ROLES: [&str; 4] = ["admin", "operator", "read-only", "guest"];

/// docs/console.md's table: a command, then whether admin, operator,
/// read-only and guest may run it. (`debughang` is left out: run by the
/// admin it would stop the daemon; the unit test in `control` covers it.)
const TABLE: &[(&[&str], [bool; 4])] = &[
    (&["status"], [true, true, true, true]),
    (&["status", "detail"], [true, true, true, true]),
    (&["tophosts"], [true, true, true, true]),
    (&["reportdata"], [true, true, true, true]),
    (&["reportdata", "--json"], [true, true, true, true]),
    (&["hoststatus", "example.com"], [true, true, true, true]),
    (&["workqueue", "status"], [true, true, true, true]),
    (&["upgrade", "status"], [true, true, true, true]),
    (&["help"], [true, true, true, true]),
    (&["showconfig"], [true, true, true, false]),
    (&["filters", "list"], [true, true, true, false]),
    (
        &["filters", "detail", "o365_secret"],
        [true, true, true, false],
    ),
    (&["filters", "export"], [true, true, true, false]),
    (&["saveconfig", "print"], [true, true, true, false]),
    (&["certconfig", "print"], [true, true, true, false]),
    // What the web UI and the REST API read (the management plane runs
    // these in the logged-in user's session).
    (&["showconfig", "--json"], [true, true, true, false]),
    (&["adminaccessconfig", "print"], [true, true, true, false]),
    (&["sshconfig", "print"], [true, true, true, false]),
    (
        &["certconfig", "print", "--json"],
        [true, true, true, false],
    ),
    (&["listenerconfig", "print"], [true, true, true, false]),
    (&["commitlog"], [true, true, true, false]),
    (&["who"], [true, true, true, false]),
    (&["last"], [true, true, true, false]),
    (&["userconfig", "print"], [true, true, true, false]),
    (&["showmessage", "1"], [true, true, true, false]),
    (&["showrecipients"], [true, true, true, false]),
    (&["quarantine", "list"], [true, true, true, false]),
    (&["quarantine", "show", "1"], [true, true, true, false]),
    (&["findevent", "--mid", "1"], [true, true, true, false]),
    (&["tail", "5"], [true, true, true, false]),
    (&["grep", "Start"], [true, true, true, false]),
    (
        &[
            "trace",
            "--listener",
            "IncomingMail",
            "--remote-ip",
            "127.0.0.9",
            "--from",
            "friend@internet.example",
            "--to",
            "alice@example.com",
        ],
        [true, true, true, false],
    ),
    (&["systemsetup", "status"], [true, true, true, false]),
    (&["clear"], [true, true, false, false]),
    (
        &["sethostname", "mail.example.com"],
        [true, true, false, false],
    ),
    (
        &["quarantine", "release", "999999"],
        [true, true, false, false],
    ),
    (&["deletemessage", "999999"], [true, true, false, false]),
    // Nothing is suspended: resuming changes nothing.
    (&["resumedel"], [true, true, false, false]),
    (&["resumelistener"], [true, true, false, false]),
    (
        &["adminaccessconfig", "timeout", "60"],
        [true, true, false, false],
    ),
    (
        &["adminaccessconfig", "setup", "--api", "on"],
        [true, true, false, false],
    ),
    (
        &["sshconfig", "new", "e2e-admin", "ssh-ed25519", "AAAA"],
        [true, true, false, false],
    ),
    (
        &["sshconfig", "delete", "e2e-admin", "1"],
        [true, true, false, false],
    ),
    (&["saveconfig", "roles-test"], [true, true, false, false]),
    (
        &["saveconfig", "print", "--include-secrets"],
        [true, false, false, false],
    ),
    (
        &["userconfig", "unlock", "e2e-guest"],
        [true, false, false, false],
    ),
    (
        &["upgrade", "install", "/nonexistent/roles-test.bwup"],
        [true, false, false, false],
    ),
];

fn refused(result: &Result<String, String>) -> bool {
    matches!(result, Err(e) if e.starts_with("Permission denied"))
}

#[test]
fn every_role_runs_exactly_what_the_table_says() {
    let w = World::start();
    w.gw.cli_input(&["filters", "new"], SECRET_FILTER)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: roles"]);
    // The secrets are there to be seen by whoever may: the negative
    // checks below mean something.
    assert!(w.gw.cli_ok(&["filters", "export"]).contains(SECRET));
    let with_keys = w.gw.cli_ok(&["saveconfig", "print", "--include-secrets"]);
    assert!(with_keys.contains(PRIVATE_KEY), "{with_keys}");

    let tokens: Vec<String> = ROLES
        .iter()
        .map(|role| {
            w.gw.console_user(&format!("e2e-{}", role.replace("read-", "r")), role)
        })
        .collect();
    let mut wrong = Vec::new();
    let mut seen_by = vec![String::new(); ROLES.len()];
    for (args, allowed) in TABLE {
        for (i, role) in ROLES.iter().enumerate() {
            let result = w.gw.cli_as(&tokens[i], args, None);
            if refused(&result) == allowed[i] {
                wrong.push(format!(
                    "{role} running \"{}\": expected {}, got {result:?}",
                    args.join(" "),
                    if allowed[i] { "allowed" } else { "refused" }
                ));
            }
            let text = match &result {
                Ok(t) | Err(t) => t,
            };
            seen_by[i].push_str(text);
            seen_by[i].push('\n');
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let (read_only, guest) = (&seen_by[2], &seen_by[3]);
    assert!(!guest.contains(SECRET), "a guest saw the shared secret");
    assert!(!guest.contains("o365_secret"), "a guest saw a filter");
    assert!(!guest.contains(PRIVATE_KEY), "a guest saw a private key");
    assert!(
        !read_only.contains(PRIVATE_KEY),
        "read-only saw a private key"
    );
    // Documented: read-only sees the configuration, filter scripts too.
    assert!(read_only.contains(SECRET));
}

/// Sends one message through IncomingMail (the seed's accepted domain)
/// with `subject`, so the logs hold something to find. Returns its MID.
fn send_one(w: &World, subject: &str) -> u64 {
    let (mut c, banner) = SmtpConn::connect(w.net.client(7), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert_eq!(c.ehlo("roles.example").expect("EHLO").code, 250);
    c.start_data("friend@internet.example", "alice@example.com");
    let body = format!(
        "From: <friend@internet.example>\r\nTo: <alice@example.com>\r\nSubject: {subject}\r\nMessage-ID: <roles@e2e.test>\r\n\r\nhello\r\n.\r\n"
    );
    c.send_raw(body.as_bytes()).expect("message");
    let done = c.read_reply().expect("end of data");
    assert_eq!(done.code, 250, "{done}");
    let _ = c.cmd("QUIT");
    mid_in_reply(&done.text()).expect("MID in the reply")
}

/// docs/console.md: a read-only user runs the views (logs, tracking,
/// trace, the work queue, the masked saved configuration) and gets their
/// answers, not only "not refused"; a change is refused. A guest sees the
/// state of the box and nothing of the configuration or the logs.
#[test]
fn read_only_and_guest_users_run_their_views_themselves() {
    let w = World::start();
    let subject = "roles-e2e-subject";
    let mid = send_one(&w, subject);
    w.gw.wait_for_log(&format!("MID {mid} Subject"), Duration::from_secs(20));
    let read_only = w.gw.console_user("e2e-viewer", "read-only");
    let guest = w.gw.console_user("e2e-monitor", "guest");
    let run = |token: &str, args: &[&str]| w.gw.cli_as(token, args, None);

    let mid_text = mid.to_string();
    let views: &[(&[&str], &str)] = &[
        (&["findevent", "--mid", &mid_text], subject),
        (&["findevent", "--subject", subject], &mid_text),
        (&["tail", "50"], subject),
        (&["grep", subject], subject),
        (&["workqueue"], "work queue"),
        (&["workqueue", "status"], "work queue"),
        (&["saveconfig", "print"], "IncomingMail"),
        (
            &[
                "trace",
                "--listener",
                "IncomingMail",
                "--remote-ip",
                "127.0.0.9",
                "--from",
                "friend@internet.example",
                "--to",
                "alice@example.com",
            ],
            "alice@example.com",
        ),
    ];
    for (args, expected) in views {
        let out =
            run(&read_only, args).unwrap_or_else(|e| panic!("read-only running {args:?}: {e}"));
        assert!(
            out.to_ascii_lowercase()
                .contains(&expected.to_ascii_lowercase()),
            "read-only running {args:?}: no {expected:?} in\n{out}"
        );
    }
    assert!(
        !run(&read_only, &["saveconfig", "print"])
            .unwrap()
            .contains("PRIVATE KEY")
    );

    // A change, and keys in clear: refused, and nothing staged.
    for args in [
        &["sethostname", "viewer.example.com"][..],
        &["smtproutes", "new", "roles.example", "127.0.0.1"],
        &["saveconfig", "print", "--include-secrets"],
        &["deletemessage", &mid_text],
    ] {
        let result = run(&read_only, args);
        assert!(refused(&result), "read-only running {args:?}: {result:?}");
    }
    let staged = run(&read_only, &["showconfig"]).expect("showconfig");
    assert!(!staged.contains("viewer.example.com"), "{staged}");

    // The guest: status yes; configuration, logs and messages no.
    assert!(run(&guest, &["status"]).is_ok());
    assert!(run(&guest, &["workqueue"]).is_ok());
    for args in [
        &["showconfig"][..],
        &["saveconfig", "print"],
        &["tail", "50"],
        &["grep", subject],
        &["findevent", "--mid", &mid_text],
        &["showmessage", &mid_text],
        &["listenerconfig", "print"],
        &["sethostname", "guest.example.com"],
    ] {
        let result = run(&guest, args);
        assert!(refused(&result), "guest running {args:?}: {result:?}");
        let text = match &result {
            Ok(t) | Err(t) => t,
        };
        assert!(
            !text.contains(subject),
            "{args:?} showed the guest a subject"
        );
    }
    // An unknown command is unknown to everyone, not a permission matter.
    let unknown = run(&guest, &["frobnicate"]);
    assert!(
        matches!(&unknown, Err(e) if e.starts_with("Unknown command: frobnicate.")),
        "{unknown:?}"
    );
}
