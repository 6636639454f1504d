//! Central visibility of a cluster (decision 0020), end to end against
//! started gateways and the real `curl`: the `--cluster` forms of
//! `findevent` and `tophosts`, and a member's side of them — the REST API
//! takes the cluster's token (`Authorization: Cluster TOKEN`) for
//! `/api/v1/tracking` and `/api/v1/status/tophosts` only, and a box that
//! is not in a cluster refuses it.

use std::process::Command;

use breakwater_e2e::{Gateway, SOON, TestNet, wait_until};
use serde_json::Value;

/// `curl -k -sS ARGS... -w '\n%{http_code}'`: (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-k", "-sS", "--max-time", "60", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (Debian's curl, tools/packages.txt)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (
        status.trim().parse().expect("HTTP status"),
        body.to_string(),
    )
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn api_ready(gw: &Gateway) {
    let base = gw.https_base();
    wait_until(SOON, || {
        Command::new("curl")
            .args(["-k", "-s", "-o", "/dev/null", &format!("{base}/login")])
            .status()
            .ok()
            .filter(std::process::ExitStatus::success)
    })
    .expect("HTTPS answers on the Management address");
}

#[test]
fn a_standalone_box_refuses_the_cluster_forms_and_the_clusters_token() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let pass = gw.ready_admin();
    api_ready(&gw);
    let base = gw.https_base();

    for args in [
        &[
            "findevent",
            "--cluster",
            "--from",
            "friend@internet.example",
        ][..],
        &["tophosts", "--cluster"][..],
        &["tophosts", "--cluster", "--json"][..],
    ] {
        assert_eq!(
            gw.cli(args).unwrap_err().trim(),
            "This appliance is not part of a cluster.",
            "{args:?}"
        );
    }
    // The short AsyncOS flags are one box's: told, not sent to members.
    let short = gw
        .cli(&["findevent", "--cluster", "-f", "friend"])
        .unwrap_err();
    assert!(short.contains("takes the long options"), "{short}");

    // A member's side: the token of a cluster this box is not in.
    let cluster = ["-H", "Authorization: Cluster 0123456789abcdef"];
    for path in [
        "/api/v1/tracking?sender=friend@internet.example",
        "/api/v1/status/tophosts",
    ] {
        let url = format!("{base}{path}");
        let (status, body) = curl(&[cluster[0], cluster[1], &url]);
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(json(&body)["error"], "The cluster API token was refused.");
    }
    // Never anything else, whatever the token.
    let (status, body) = curl(&[cluster[0], cluster[1], &format!("{base}/api/v1/config")]);
    assert_eq!(status, 403, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("reads only GET /api/v1/tracking")
    );

    // An administrator reads the same tophosts rows the members answer.
    let creds = format!("admin:{pass}");
    let (status, body) = curl(&["-u", &creds, &format!("{base}/api/v1/status/tophosts")]);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert!(v["hosts"].is_array(), "{body}");
    assert!(
        v["text"].as_str().unwrap().contains("Recipient Host"),
        "{body}"
    );
}
