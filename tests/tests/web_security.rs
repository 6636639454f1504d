//! The web UI as an attacker on the network would try it: the management
//! plane answers on the Management address only, over TLS with the
//! appliance's certificate and strict headers; pages need a session;
//! every change needs the session's CSRF token; a logout ends the
//! session on the gateway; failed web logins lock the account for the
//! console too (one lockout for every way in). And the change model as
//! an administrator uses it: a change staged at the CLI shows the Commit
//! Changes banner on the web, the web commits it with a comment, and
//! Abandon Changes discards what was staged.

use std::net::{SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::Duration;

use breakwater_e2e::web::{WebClient, strip_tags};
use breakwater_e2e::{Gateway, MGMT_HTTP_PORT, MGMT_HTTPS_PORT, MGMT_SSH_PORT, TestNet};

fn connects(addr: SocketAddrV4) -> bool {
    TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)).is_ok()
}

#[test]
fn the_management_plane_answers_on_management_only_with_tls_and_strict_headers() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mgmt = net.management();
    assert!(connects(SocketAddrV4::new(mgmt, MGMT_HTTPS_PORT)));
    assert!(connects(SocketAddrV4::new(mgmt, MGMT_HTTP_PORT)));
    for data in [net.data1(), net.data2()] {
        for port in [MGMT_HTTPS_PORT, MGMT_HTTP_PORT, MGMT_SSH_PORT, 443, 80, 22] {
            assert!(
                !connects(SocketAddrV4::new(data, port)),
                "port {port} answers on the Data address {data}"
            );
        }
    }

    // Plain HTTP only redirects.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!(
            "{}/mail-policies/hat?listener=IncomingMail",
            gw.http_base()
        ))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "301 {}/mail-policies/hat?listener=IncomingMail",
            gw.https_base()
        )
    );

    // The appliance's certificate: certconfig's "Demo", the one the
    // configuration holds.
    let config: serde_json::Value =
        serde_json::from_str(&gw.cli_ok(&["showconfig", "--json"])).expect("config JSON");
    let demo = config["certificates"][0]["cert_pem"]
        .as_str()
        .expect("a certificate");
    let served = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("{mgmt}:{MGMT_HTTPS_PORT}"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let served = String::from_utf8_lossy(&served.stdout);
    let pem = |text: &str| -> String {
        text.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .take_while(|l| !l.starts_with("-----END CERTIFICATE"))
            .collect()
    };
    assert_eq!(
        pem(&served),
        pem(demo),
        "HTTPS does not present the Demo certificate"
    );
    let out = Command::new("curl")
        .args(["-skv", "-o", "/dev/null"])
        .arg(format!("{}/login", gw.https_base()))
        .output()
        .expect("curl");
    let verbose = String::from_utf8_lossy(&out.stderr);
    for header in [
        "content-security-policy: default-src 'self'",
        "x-frame-options: DENY",
        "x-content-type-options: nosniff",
        "strict-transport-security: max-age=",
        "cache-control: no-store",
    ] {
        assert!(
            verbose
                .to_ascii_lowercase()
                .contains(&header.to_ascii_lowercase()),
            "missing {header}:\n{verbose}"
        );
    }

    // Without a session every page sends the browser to the login page.
    let anonymous = WebClient::anonymous(&gw);
    for path in ["/monitor/status", "/system/history", "/commit"] {
        let r = anonymous.request("GET", path, &[]);
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some("/login")),
            "{path}"
        );
    }
    let r = anonymous.request("POST", "/commit/abandon", &[("csrf", "0")]);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")));
}

#[test]
fn changes_need_the_csrf_token_and_the_commit_model_is_the_clis() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let web = WebClient::login(&gw, "admin", "breakwater");

    // Staged at the CLI: the web shows the banner and Commit Changes.
    gw.cli_ok(&["sethostname", "esa1.example.com"]);
    let status = web.get("/monitor/status");
    assert!(status.contains("id=\"commit-changes\""), "{status}");
    assert!(strip_tags(&status).contains("Uncommitted changes"));

    // A forged form (no token, a wrong token) changes nothing.
    for fields in [
        vec![("comment", "x".to_string())],
        vec![("csrf", "0".repeat(64))],
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = web.request("POST", "/commit/abandon", &fields);
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert!(
        gw.cli_ok(&["showconfig"])
            .contains("there are uncommitted changes")
    );

    // Commit Changes with a comment: committed under the web user's name.
    let (status, location) = web.post("/commit", &[("comment", "hostname from the web")]);
    assert_eq!((status, location.as_str()), (303, "/commit"));
    let page = web.text("/commit");
    assert!(page.contains("Changes committed"), "{page}");
    assert!(page.contains("There are no uncommitted changes."), "{page}");
    let log = gw.cli_ok(&["commitlog"]);
    assert!(log.contains("hostname from the web"), "{log}");
    assert!(
        gw.cli_ok(&["sethostname", "print"])
            .contains("esa1.example.com")
    );
    assert!(web.get("/monitor/status").contains("No Changes Pending"));

    // Abandon Changes discards a staged change, wherever it was made.
    gw.cli_ok(&["sethostname", "esa2.example.com"]);
    let (status, _) = web.post("/commit/abandon", &[]);
    assert_eq!(status, 303);
    assert!(
        gw.cli_ok(&["showconfig"])
            .contains("no uncommitted changes")
    );
    assert!(
        gw.cli_ok(&["sethostname", "print"])
            .contains("esa1.example.com")
    );

    // Log Out ends the session on the gateway: the old cookie is refused.
    let (status, location) = web.post("/logout", &[]);
    assert_eq!((status, location.as_str()), (303, "/login"));
    let r = web.request("GET", "/monitor/status", &[]);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")));
}

#[test]
fn failed_web_logins_lock_the_account_for_the_console_too() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let pass = gw.ready_user("carol", "operator");
    let anonymous = WebClient::anonymous(&gw);
    for _ in 0..5 {
        let r = anonymous.request(
            "POST",
            "/login",
            &[("username", "carol"), ("password", "wrong guess")],
        );
        assert_eq!(r.status, 200, "a failed login shows the form again");
        assert!(
            strip_tags(&r.body).contains("Login incorrect."),
            "{}",
            r.body
        );
        // The form keeps the user name, never the passphrase.
        assert!(r.body.contains("value=\"carol\""), "{}", r.body);
        assert!(!r.body.contains("wrong guess"), "{}", r.body);
    }
    // The right passphrase now fails on the web and at a network console
    // alike (a locked account answers as a wrong passphrase does: nothing
    // tells a guesser that the account exists or that it is locked).
    let r = anonymous.request(
        "POST",
        "/login",
        &[("username", "carol"), ("password", &pass)],
    );
    assert_eq!(r.status, 200);
    assert!(
        strip_tags(&r.body).contains("Login incorrect."),
        "{}",
        r.body
    );
    let (ok, reply) = gw.control(&["__auth", "carol", "pts/3", "network"], Some(&pass));
    assert!(!ok && reply.contains("Login incorrect."), "{reply}");
    // An administrator unlocks it, and the web login works again.
    gw.cli_ok(&["userconfig", "unlock", "carol"]);
    let web = WebClient::login(&gw, "carol", &pass);
    assert!(
        web.text("/monitor/status")
            .contains("Logged in as: carol (operator)")
    );
}
