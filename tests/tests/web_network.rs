//! The seeds' delivery steps in the web UI, through `curl` (a real HTTPS
//! client with a cookie jar): Mail Policies > Destination Controls > Add
//! Destination (10 concurrent connections, 20 messages per connection, TLS
//! Preferred for the Microsoft 365 domain), Network > SMTP Routes > Add
//! Route (to the domain's `.mail.protection.outlook.com` host), DNS,
//! Bounce Profiles and Certificates (add by paste, delete).
//!
//! Every form must stage exactly what the CLI's command stages: after each
//! step the staged configuration (`showconfig --json`) is compared with
//! the one the same steps typed at the CLI give. A read-only account sees
//! the pages but its change is refused by the control plane.

use std::process::Command;

use breakwater_e2e::web::WebClient;
use breakwater_e2e::{Gateway, TestNet};

const DOMAIN: &str = "example.onmicrosoft.com";
const O365_HOST: &str = "example-onmicrosoft-com.mail.protection.outlook.com";

/// A CLI command (with what it reads on standard input) that the web step
/// must equal.
struct Step {
    words: Vec<String>,
    stdin: Option<String>,
}

fn step(words: &[&str]) -> Step {
    Step {
        words: words.iter().map(|w| (*w).to_string()).collect(),
        stdin: None,
    }
}

/// The staged configuration the web made must be the one the CLI makes:
/// take the web's, discard it, run `steps` at the CLI (over the control
/// socket, as the console does), take that, compare.
fn assert_same_as_cli(gw: &Gateway, steps: &[Step]) {
    let from_web = gw.cli_ok(&["showconfig", "--json"]);
    gw.cli_ok(&["clear"]);
    for s in steps {
        let words: Vec<&str> = s.words.iter().map(String::as_str).collect();
        let (ok, out) = gw.control(&words, s.stdin.as_deref());
        assert!(ok, "{}: {out}", s.words.join(" "));
    }
    let from_cli = gw.cli_ok(&["showconfig", "--json"]);
    assert_eq!(
        from_web,
        from_cli,
        "the web staged something else than {}",
        steps.last().map(|s| s.words.join(" ")).unwrap_or_default()
    );
}

/// A self-signed certificate and its key, by OpenSSL.
fn openssl_pair(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
        ])
        .args(["-subj", "/O=Example Org/CN=mx.example.test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(cert).expect("read cert"),
        std::fs::read_to_string(key).expect("read key"),
    )
}

/// The body of a PEM block (its base64 lines), to look for it in a page.
fn pem_body_line(pem: &str) -> String {
    pem.lines().nth(2).expect("a PEM body line").to_string()
}

#[test]
fn the_seeds_delivery_pages_stage_what_the_cli_stages() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let passphrase = gw.ready_admin();
    let viewer_pass = gw.ready_user("e2e-viewer", "read-only");
    let web = WebClient::login(&gw, "admin", &passphrase);
    let mut steps = Vec::new();

    // Mail Policies > Destination Controls: the table with the Default row.
    let page = web.get("/mail-policies/destination-controls");
    assert!(page.contains("Destination Control Table"), "{page}");
    assert!(page.contains("Add Destination..."));
    assert!(
        page.contains("500 concurrent connections, 50 messages per connection, No recipient limit")
    );

    // Add Destination, as the seed fills it in (the browser sends every
    // field; the untouched ones empty, "Use Default").
    let form = web.get("/mail-policies/destination-controls/new");
    for label in [
        "Destination:",
        "IP Address Preference:",
        "Concurrent Connections:",
        "Maximum Messages Per Connection:",
        "Recipients:",
        "Apply limits:",
        "TLS Support:",
        "Preferred (Verify)",
        "Bounce Profile:",
    ] {
        assert!(form.contains(label), "Add Destination lacks {label}");
    }
    let (status, to) = web.post(
        "/mail-policies/destination-controls/new",
        &[
            ("destination", DOMAIN),
            ("ip_preference", ""),
            ("max_host_concurrency", "10"),
            ("max_messages_per_connection", "20"),
            ("recipients", ""),
            ("recipient_limit", ""),
            ("recipient_minutes", ""),
            ("limit_applies_to", ""),
            ("use_tls", "preferred"),
            ("dane", ""),
            ("bounce_verification", ""),
            ("bounce_profile", ""),
            ("client_certificate", ""),
        ],
    );
    assert_eq!(
        (status, to.as_str()),
        (303, "/mail-policies/destination-controls")
    );
    let page = web.get("/mail-policies/destination-controls");
    assert!(
        page.contains(&format!("Destination control for {DOMAIN} added.")),
        "{page}"
    );
    assert!(page.contains("Changes staged. Press Commit Changes"));
    assert!(
        page.contains("10 concurrent connections, 20 messages per connection, No recipient limit")
    );
    let print = gw.cli_ok(&["destconfig", "print"]);
    let row = print
        .lines()
        .find(|l| l.starts_with(DOMAIN))
        .expect("the domain's row");
    assert!(
        row.contains("10 concurrent connections, 20 messages per connection"),
        "{row}"
    );
    assert!(row.contains("Preferred"), "{row}");
    steps.push(step(&[
        "destconfig",
        "new",
        DOMAIN,
        "--max_host_concurrency",
        "10",
        "--max_messages_per_connection",
        "20",
        "--use_tls",
        "preferred",
    ]));
    assert_same_as_cli(&gw, &steps);

    // Network > SMTP Routes > Add Route: the Microsoft 365 MX host.
    let page = web.get("/network/smtp-routes");
    assert!(page.contains("Add Route..."));
    let (status, _) = web.post(
        "/network/smtp-routes/new",
        &[
            ("receiving_domain", DOMAIN),
            ("priority", "0"),
            ("destination", O365_HOST),
            ("port", "25"),
            ("priority", ""),
            ("destination", ""),
            ("port", ""),
            ("priority", ""),
            ("destination", ""),
            ("port", ""),
        ],
    );
    assert_eq!(status, 303);
    let routes = gw.cli_ok(&["smtproutes", "print"]);
    assert!(
        routes.contains(&format!("{DOMAIN} => {O365_HOST}:25/pri=0")),
        "{routes}"
    );
    let page = web.get("/network/smtp-routes");
    assert!(
        page.contains(&format!("{O365_HOST}:25 (priority 0)")),
        "{page}"
    );
    steps.push(step(&[
        "smtproutes",
        "new",
        DOMAIN,
        &format!("{O365_HOST}:25/pri=0"),
    ]));
    assert_same_as_cli(&gw, &steps);

    // A subdomain discarded: /dev/null, alone, as the CLI takes it.
    let (status, _) = web.post(
        "/network/smtp-routes/new",
        &[
            ("receiving_domain", ".null.example"),
            ("priority", ""),
            ("destination", "/dev/null"),
            ("port", ""),
        ],
    );
    assert_eq!(status, 303);
    assert!(
        gw.cli_ok(&["smtproutes", "print"])
            .contains(".null.example => /dev/null")
    );
    steps.push(step(&["smtproutes", "new", ".null.example", "/dev/null"]));

    // Edit: the subdomain goes back to MX delivery (USEDNS), then Delete.
    let edit = web.get("/network/smtp-routes/edit/.null.example");
    assert!(edit.contains("value=\"/dev/null\""), "{edit}");
    let (status, _) = web.post(
        "/network/smtp-routes/edit/.null.example",
        &[("priority", ""), ("destination", "USEDNS"), ("port", "")],
    );
    assert_eq!(status, 303);
    assert!(
        gw.cli_ok(&["smtproutes", "print"])
            .contains(".null.example => USEDNS")
    );
    steps.push(step(&["smtproutes", "edit", ".null.example", "USEDNS"]));
    let (status, _) = web.post(
        "/network/smtp-routes/delete",
        &[("receiving_domain", ".null.example")],
    );
    assert_eq!(status, 303);
    steps.push(step(&["smtproutes", "delete", ".null.example"]));
    assert_same_as_cli(&gw, &steps);

    // Edit the destination: its own TLS setting becomes Required; the
    // limits it already has are sent back unchanged, as a browser does.
    let edit = web.get(&format!(
        "/mail-policies/destination-controls/edit/{DOMAIN}"
    ));
    assert!(edit.contains("value=\"10\""), "{edit}");
    let (status, _) = web.post(
        &format!("/mail-policies/destination-controls/edit/{DOMAIN}"),
        &[
            ("destination", DOMAIN),
            ("ip_preference", ""),
            ("max_host_concurrency", "10"),
            ("max_messages_per_connection", "20"),
            ("recipients", ""),
            ("limit_applies_to", ""),
            ("use_tls", "required"),
        ],
    );
    assert_eq!(status, 303);
    steps.push(step(&[
        "destconfig",
        "edit",
        DOMAIN,
        "--max_host_concurrency",
        "10",
        "--max_messages_per_connection",
        "20",
        "--use_tls",
        "required",
    ]));
    assert_same_as_cli(&gw, &steps);

    // Network > DNS: own servers and a longer timeout.
    let (status, _) = web.post(
        "/network/dns",
        &[
            ("dns_servers", "192.0.2.53, [2001:db8::53]:5353"),
            ("dns_timeout", "7"),
        ],
    );
    assert_eq!(status, 303);
    let dns = gw.cli_ok(&["dnsconfig", "print"]);
    assert!(
        dns.contains("Name servers: 192.0.2.53:53, [2001:db8::53]:5353"),
        "{dns}"
    );
    assert!(dns.contains("Timeout: 7 seconds"), "{dns}");
    steps.push(step(&[
        "dnsconfig",
        "servers",
        "192.0.2.53,[2001:db8::53]:5353",
    ]));
    steps.push(step(&["dnsconfig", "timeout", "7"]));
    assert_same_as_cli(&gw, &steps);

    // Network > Bounce Profiles: a profile for the destination.
    let (status, _) = web.post(
        "/network/bounce-profiles/new",
        &[
            ("profile_name", "o365"),
            ("max_retries", "10"),
            ("max_queue_lifetime", "86400"),
            ("initial_retry", "60"),
            ("max_retry_timeout", "3600"),
            ("hard_bounce_message", "on"),
            ("delay_warning", "off"),
        ],
    );
    assert_eq!(status, 303);
    assert!(
        web.get("/network/bounce-profiles")
            .contains("id=\"bounce-o365\"")
    );
    steps.push(step(&[
        "bounceconfig",
        "new",
        "o365",
        "--max_retries",
        "10",
        "--max_queue_lifetime",
        "86400",
        "--initial_retry",
        "60",
        "--max_retry_timeout",
        "3600",
        "--hard_bounce_message",
        "on",
        "--delay_warning",
        "off",
    ]));
    assert_same_as_cli(&gw, &steps);

    // Network > Certificates > Add Certificate: pasted certificate and key.
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = openssl_pair(dir.path());
    let (status, _) = web.post(
        "/network/certificates/new",
        &[
            ("certificate_name", "o365-client"),
            ("certificate", &cert),
            ("private_key", &key),
        ],
    );
    assert_eq!(status, 303);
    assert!(gw.cli_ok(&["certconfig", "print"]).contains("o365-client"));
    let page = web.get("/network/certificates");
    assert!(page.contains("Certificate o365-client imported"), "{page}");
    // What the control plane read from the certificate (certconfig print
    // --json), and that nothing uses it yet.
    assert!(page.contains("CN=mx.example.test, O=Example Org"), "{page}");
    assert!(page.contains("days left)"), "{page}");
    assert!(
        gw.cli_ok(&["certconfig", "print", "--json"])
            .contains(r#""subject":"CN=mx.example.test, O=Example Org""#)
    );
    assert!(!page.contains("PRIVATE KEY"), "a private key is shown");
    assert!(
        !page.contains(&pem_body_line(&key)),
        "a private key is shown"
    );
    steps.push(Step {
        words: ["certconfig", "import", "o365-client", "-"]
            .map(String::from)
            .to_vec(),
        stdin: Some(format!("{}\n{}\n", cert.trim(), key.trim())),
    });
    assert_same_as_cli(&gw, &steps);

    // A read-only account gets the page without Add Destination (the
    // table itself needs `showconfig --json` to be read-only in the
    // catalog), and its change (its own form, with its valid CSRF token)
    // is refused by the control plane.
    let viewer = WebClient::login(&gw, "e2e-viewer", &viewer_pass);
    let page = viewer.get("/network/certificates");
    assert!(page.contains(r#"id="cert-o365-client""#), "{page}");
    assert!(!page.contains(r#"id="delete-o365-client""#), "{page}");
    let page = viewer.get("/mail-policies/destination-controls");
    assert!(!page.contains("Add Destination..."), "{page}");
    let (status, _) = viewer.post(
        "/mail-policies/destination-controls/new",
        &[
            ("destination", "blocked.example"),
            ("max_host_concurrency", "5"),
        ],
    );
    assert_eq!(status, 303);
    let page = viewer.get("/mail-policies/destination-controls");
    assert!(
        page.contains("Permission denied: user e2e-viewer (read-only) cannot run"),
        "{page}"
    );
    assert!(
        !gw.cli_ok(&["destconfig", "print"])
            .contains("blocked.example")
    );

    // Delete the certificate, then commit what the seed configured.
    let (status, _) = web.post(
        "/network/certificates/delete",
        &[("certificate_name", "o365-client")],
    );
    assert_eq!(status, 303);
    assert!(!gw.cli_ok(&["certconfig", "print"]).contains("o365-client"));
    assert!(
        web.get("/network/certificates")
            .contains("Certificate o365-client deleted.")
    );
    let (status, _) = web.post("/commit", &[("comment", "Microsoft 365 delivery")]);
    assert_eq!(status, 303);
    assert!(gw.cli_ok(&["commitlog"]).contains("Microsoft 365 delivery"));
    let print = gw.cli_ok(&["destconfig", "print"]);
    assert!(print.lines().any(|l| l.starts_with(DOMAIN)), "{print}");
}
