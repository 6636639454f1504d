//! The REST API end to end, with the real `curl` against a started
//! gateway's Management address: every example of docs/api.md run as
//! written (host, passphrase, token and MIDs substituted), Basic and token
//! authentication, the console's lockout, roles, the change model (a
//! change staged through the API, committed, seen by `breakwater cli`),
//! message tracking of a message sent with swaks, and the API switched
//! off.

use std::path::Path;
use std::process::Command;

use breakwater_e2e::{
    Gateway, SOON, TestNet, World, mid_in_reply, simple_message, smtplib, wait_until,
};
use serde_json::Value;

/// The administrator's passphrase after the forced first change (shell-
/// and JSON-safe, as the documented examples put it in quotes).
const ADMIN_PASS: &str = "Api-Test-Pass-9";

/// An answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn base(gw_net: &TestNet) -> String {
    format!("https://{}:8443", gw_net.management())
}

/// `curl -k -sS -i ARGS...`, split into status, headers and body.
fn curl(args: &[&str]) -> Answer {
    let out = Command::new("curl")
        .args(["-k", "-sS", "-i", "--max-time", "90"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn basic(base: &str, creds: &str, path: &str) -> Answer {
    curl(&["-u", creds, &format!("{base}{path}")])
}

fn post(base: &str, auth: &[&str], path: &str, body: &str) -> Answer {
    let url = format!("{base}{path}");
    let mut args: Vec<&str> = auth.to_vec();
    args.extend(["-H", "Content-Type: application/json", "-d", body, &url]);
    curl(&args)
}

/// Waits for HTTPS on the Management address, then makes the forced first
/// passphrase change of `admin` over the control socket (as the console
/// does) so that the API accepts it.
fn ready_admin(gw: &Gateway, base: &str) {
    wait_until(SOON, || {
        Command::new("curl")
            .args(["-k", "-s", "-o", "/dev/null", &format!("{base}/login")])
            .status()
            .ok()
            .filter(std::process::ExitStatus::success)
    })
    .expect("HTTPS answers on the Management address");
    let (ok, reply) = gw.control(&["__auth", "admin", "pts/9", "network"], Some("breakwater"));
    assert!(ok, "admin login: {reply}");
    let v: Value = serde_json::from_str(&reply).expect("auth reply");
    let token = v["token"].as_str().expect("token");
    let (ok, out) = gw.control(
        &["__session", token, "passwd"],
        Some(&format!("breakwater\n{ADMIN_PASS}\n")),
    );
    assert!(ok, "admin passphrase change: {out}");
}

fn login_token(base: &str, user: &str, pass: &str) -> String {
    let a = post(
        base,
        &[],
        "/api/v1/login",
        &serde_json::json!({ "username": user, "password": pass }).to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["token"].as_str().expect("token").to_string()
}

/// One documented example: the command line and the status it documents.
struct Example {
    command: String,
    status: u16,
}

/// Every ```sh block of docs/api.md: its `curl` line (continuations
/// joined) and its `# HTTP NNN` line.
fn examples(doc: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("```sh\n") {
        let block = &rest[start + 6..];
        let end = block.find("```").expect("closed sh block");
        let text = block[..end].replace("\\\n", " ");
        rest = &block[end + 3..];
        let command = text
            .lines()
            .find(|l| l.trim_start().starts_with("curl "))
            .unwrap_or_else(|| panic!("a sh block without curl: {text}"))
            .to_string();
        let status = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("# HTTP "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("a sh block without '# HTTP NNN': {text}"));
        found.push(Example { command, status });
    }
    found
}

/// Holds two messages in the Policy quarantine; returns their MIDs.
fn quarantine_two(w: &World) -> Vec<u64> {
    let script = "hold_it: if header('X-Hold') == 'yes' {\n  quarantine('Policy');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: quarantine"]);
    let mut mids = Vec::new();
    for n in 0..2 {
        let mut msg = b"X-Hold: yes\r\n".to_vec();
        msg.extend(simple_message(
            "friend@internet.example",
            "alice@example.com",
            &format!("api-hold-{n}@e2e.test"),
            "hold this",
        ));
        let res = smtplib::send(
            w.net.data1_smtp(),
            w.net.client(7),
            "friend@internet.example",
            &["alice@example.com"],
            &msg,
            &[],
        );
        let data = smtplib::find(&res, "data").expect("DATA step");
        let mid = mid_in_reply(&data.text).expect("MID");
        w.gw.wait_for_log(&format!("MID {mid} quarantined to"), SOON);
        mids.push(mid);
    }
    mids
}

#[test]
fn every_documented_example_runs_as_written() {
    let w = World::start();
    let base = base(&w.net);
    ready_admin(&w.gw, &base);
    let mut mids = quarantine_two(&w).into_iter();
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md"))
        .expect("docs/api.md");
    let all = examples(&doc);
    assert!(all.len() >= 15, "docs/api.md has {} examples", all.len());
    let body = tempfile::NamedTempFile::new().expect("body file");
    let body_path = body.path().to_str().expect("utf-8 path").to_string();
    for ex in all {
        let mut command = ex
            .command
            .replace("https://127.0.0.1:8443", &base)
            .replace("PASSPHRASE", ADMIN_PASS);
        if command.contains("TOKEN") {
            command = command.replace("TOKEN", &login_token(&base, "admin", ADMIN_PASS));
        }
        if command.contains("/MID") {
            let mid = mids
                .next()
                .expect("a held message for each quarantine example");
            command = command.replace("/MID", &format!("/{mid}"));
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{command} -sS --max-time 90 -o '{body_path}' -w '%{{http_code}}'"
            ))
            .output()
            .expect("run sh");
        let answer = std::fs::read_to_string(&body_path).unwrap_or_default();
        assert!(
            out.status.success(),
            "{command}: curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = String::from_utf8_lossy(&out.stdout);
        eprintln!("{command}\n  -> {status} {answer}");
        assert_eq!(
            status,
            ex.status.to_string(),
            "{command}: documented {}, answered {status}: {answer}",
            ex.status
        );
        let _: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("{command}: the answer is not JSON ({e}): {answer}"));
    }
    assert!(mids.next().is_none(), "both held messages were used");
    // The examples' change was committed and their messages left.
    let config = w.gw.cli_ok(&["destconfig", "print"]);
    assert!(config.contains("example.com"), "{config}");
    let held = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(held.contains("No messages are held."), "{held}");
}

#[test]
fn basic_and_token_authentication_and_the_consoles_lockout() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let base = base(&net);
    ready_admin(&gw, &base);
    let admin = format!("admin:{ADMIN_PASS}");

    let a = basic(&base, &admin, "/api/v1/config");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["hostname"], "gw.test.local");

    let a = curl(&[&format!("{base}/api/v1/config")]);
    assert_eq!(a.status, 401, "no credentials: {}", a.body);
    assert!(
        a.headers
            .contains("www-authenticate: basic realm=\"breakwater\""),
        "{}",
        a.headers
    );
    assert!(a.json()["error"].is_string());

    // A token, used, then logged out.
    let token = login_token(&base, "admin", ADMIN_PASS);
    let bearer = format!("Authorization: Bearer {token}");
    let a = curl(&["-H", &bearer, &format!("{base}/api/v1/config/status")]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["role"], "admin");
    let who = gw.cli_ok(&["who"]);
    assert!(who.contains("api"), "who shows the API login: {who}");
    assert_eq!(
        post(&base, &["-H", &bearer], "/api/v1/logout", "{}").status,
        200
    );
    let a = curl(&["-H", &bearer, &format!("{base}/api/v1/config/status")]);
    assert_eq!(a.status, 401, "a logged-out token: {}", a.body);

    // A new account must choose its passphrase before using the API.
    gw.cli_input(
        &["userconfig", "new", "fresh", "operator"],
        "fresh first pass",
    )
    .expect("userconfig new fresh");
    let a = basic(&base, "fresh:fresh first pass", "/api/v1/config");
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("must be changed")
    );

    // The control plane's network lockout: 5 wrong passphrases in a row
    // lock the account; the right one is then refused too.
    let _ = gw.console_user("victim", "operator");
    for _ in 0..5 {
        let a = basic(&base, "victim:wrong passphrase", "/api/v1/status");
        assert_eq!(a.status, 401, "{}", a.body);
        assert_eq!(a.json()["error"], "Login incorrect.");
    }
    let a = basic(&base, "victim:victim second pass", "/api/v1/status");
    assert_eq!(a.status, 401, "a locked account: {}", a.body);
    let users = gw.cli_ok(&["userconfig", "print"]);
    assert!(
        users
            .lines()
            .any(|l| l.contains("victim") && l.contains("locked")),
        "{users}"
    );
    // The lock is the account's, not the API's: admin still gets in.
    assert_eq!(basic(&base, &admin, "/api/v1/status").status, 200);
}

#[test]
fn changes_are_staged_by_role_and_committed() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let base = base(&net);
    ready_admin(&gw, &base);
    let admin = format!("admin:{ADMIN_PASS}");
    let _ = gw.console_user("reader", "read-only");
    let reader = "reader:reader second pass";
    let change = r#"{"command": "destconfig new example.com --max_host_concurrency 10"}"#;

    // Read-only: reads, cannot change.
    assert_eq!(basic(&base, reader, "/api/v1/config").status, 200);
    let a = post(&base, &["-u", reader], "/api/v1/commands", change);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("Permission denied"),
        "{}",
        a.body
    );

    // A POST must be JSON; a command the catalog refuses is a 400.
    let a = curl(&[
        "-u",
        &admin,
        "-d",
        change,
        &format!("{base}/api/v1/commands"),
    ]);
    assert_eq!(a.status, 415, "{}", a.body);
    let a = post(
        &base,
        &["-u", &admin],
        "/api/v1/commands",
        r#"{"command": "destconfig new example.com --max_host_concurrency lots"}"#,
    );
    assert_eq!(a.status, 400, "{}", a.body);
    let a = post(
        &base,
        &["-u", &admin],
        "/api/v1/commands",
        r#"{"command": "frobnicate"}"#,
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(basic(&base, &admin, "/api/v1/nothing-here").status, 404);
    let a = basic(&base, &admin, "/api/v1/commit");
    assert_eq!(a.status, 405, "GET on a POST endpoint: {}", a.body);
    assert!(a.json()["error"].is_string(), "{}", a.body);

    // Staged through the API, seen by everyone, committed.
    let a = post(&base, &["-u", &admin], "/api/v1/commands", change);
    assert_eq!(a.status, 200, "{}", a.body);
    let a = basic(&base, reader, "/api/v1/config/status");
    assert_eq!(a.json()["staged"], true, "{}", a.body);
    let config = basic(&base, &admin, "/api/v1/config").json();
    assert!(config.to_string().contains("example.com"), "{config}");
    let a = post(&base, &["-u", reader], "/api/v1/commit", "{}");
    assert_eq!(a.status, 403, "a read-only user cannot commit: {}", a.body);
    let a = post(
        &base,
        &["-u", &admin],
        "/api/v1/commit",
        r#"{"comment": "api: example.com"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = basic(&base, &admin, "/api/v1/config/status");
    assert_eq!(a.json()["staged"], false, "{}", a.body);
    let committed = gw.cli_ok(&["showconfig"]);
    assert!(committed.contains("example.com"), "{committed}");
    let history = basic(&base, &admin, "/api/v1/commits").json();
    let last = history["commits"]
        .as_array()
        .and_then(|c| c.last())
        .cloned()
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(last["comment"], "api: example.com");
    assert_eq!(last["user"], "admin");

    // Abandon drops what is staged.
    let a = post(
        &base,
        &["-u", &admin],
        "/api/v1/commands",
        r#"{"command": "destconfig delete example.com"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        post(&base, &["-u", &admin], "/api/v1/abandon", "").status,
        200
    );
    assert_eq!(
        basic(&base, &admin, "/api/v1/config/status").json()["staged"],
        false
    );
    assert!(gw.cli_ok(&["showconfig"]).contains("example.com"));
}

#[test]
fn tracking_finds_a_delivered_message_by_sender_ip_and_by_mid() {
    let w = World::start();
    let base = base(&w.net);
    ready_admin(&w.gw, &base);
    let admin = format!("admin:{ADMIN_PASS}");
    let client_ip = w.net.client(4);
    let mid = w.deliver_inbound(client_ip, "api-tracking@e2e.test", "API tracking test");

    let ip = client_ip.to_string();
    for query in [format!("sender_ip={ip}"), format!("mid={mid}")] {
        let a = basic(&base, &admin, &format!("/api/v1/tracking?{query}"));
        assert_eq!(a.status, 200, "{query}: {}", a.body);
        let v = a.json();
        assert_eq!(v["found"], 1, "{query}: {v}");
        assert_eq!(v["shown"], 1, "{query}: {v}");
        let m = &v["messages"][0];
        assert_eq!(m["mid"], mid, "{query}: {m}");
        assert_eq!(m["sender_ip"], ip.as_str(), "{query}: {m}");
        assert_eq!(m["status"], "Delivered", "{query}: {m}");
        assert_eq!(m["from"], "sender@internet.example", "{query}: {m}");
        assert_eq!(m["to"][0], "alice@example.com", "{query}: {m}");
        assert_eq!(m["subject"], "API tracking test", "{query}: {m}");
        let lines = m["lines"].as_array().expect("lines");
        assert!(
            lines.iter().any(|l| l
                .as_str()
                .is_some_and(|l| l.contains(&format!("Message finished MID {mid} done")))),
            "{query}: {m}"
        );
    }
    // Another address finds nothing; a malformed MID is findevent's 400.
    let none = basic(&base, &admin, "/api/v1/tracking?sender_ip=127.9.9.9").json();
    assert_eq!(none["found"], 0, "{none}");
    assert_eq!(none["messages"].as_array().map(Vec::len), Some(0), "{none}");
    let a = basic(&base, &admin, "/api/v1/tracking?mid=seven");
    assert_eq!(a.status, 400, "{}", a.body);
    let a = basic(&base, &admin, "/api/v1/tracking");
    assert_eq!(a.status, 400, "no criterion: {}", a.body);
}

#[test]
fn the_api_switched_off_answers_404_and_the_web_ui_stays() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let base = base(&net);
    ready_admin(&gw, &base);
    let admin = format!("admin:{ADMIN_PASS}");
    assert_eq!(basic(&base, &admin, "/api/v1/status").status, 200);

    gw.cli_ok(&["adminaccessconfig", "setup", "--api", "off"]);
    gw.cli_ok(&["commit", "e2e: API off"]);

    let off = wait_until(SOON, || {
        let a = basic(&base, &admin, "/api/v1/status");
        (a.status == 404).then_some(a)
    })
    .expect("the API answers 404 once switched off");
    assert!(off.json()["error"].as_str().unwrap().contains("disabled"));
    let a = post(
        &base,
        &[],
        "/api/v1/login",
        &serde_json::json!({ "username": "admin", "password": ADMIN_PASS }).to_string(),
    );
    assert_eq!(a.status, 404, "{}", a.body);
    let page = curl(&[&format!("{base}/login")]);
    assert_eq!(page.status, 200, "the web UI still answers");
}
