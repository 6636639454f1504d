//! Roles end to end: one console user per role (admin, operator,
//! read-only, guest), each running every command of docs/console.md's
//! "Roles" table over the control socket exactly as the console does,
//! allowed or refused as the table says; and a guest never sees the
//! filter script's shared secret or a private key, whatever it runs.

use breakwater_e2e::World;

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
    (&["listenerconfig", "print"], [true, true, true, false]),
    (&["commitlog"], [true, true, true, false]),
    (&["who"], [true, true, true, false]),
    (&["last"], [true, true, true, false]),
    (&["userconfig", "print"], [true, true, true, false]),
    (&["showmessage", "1"], [true, true, true, false]),
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
