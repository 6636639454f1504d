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

/// Two gateways in one cluster (a one-member etcd with client-certificate
/// TLS): each received a message of its own while standalone; from gw1,
/// `findevent --cluster` shows both, each under its machine, `tophosts
/// --cluster` sums their delivery counts with a column per machine, a
/// member answers the cluster's token for its two read-only views only,
/// and a stopped member is named, not left out.
#[test]
fn two_members_answer_findevent_and_tophosts_cluster() {
    let etcd_net = TestNet::new();
    let etcd = breakwater_e2e::EtcdCluster::start(&etcd_net, 1);
    let mut worlds: Vec<breakwater_e2e::World> =
        (0..2).map(|_| breakwater_e2e::World::start()).collect();
    for (i, w) in worlds.iter().enumerate() {
        w.deliver_inbound(
            w.net.client(4),
            &format!("fan-{}@e2e.test", i + 1),
            &format!("fan-out test {}", i + 1),
        );
    }
    for (i, w) in worlds.iter().enumerate() {
        etcd.trust_on(&w.gw, &format!("gw{}", i + 1));
    }
    worlds[0].gw.cli_ok(&[
        "clusterconfig",
        "create",
        "Hosted_Cluster",
        "--etcd",
        &etcd.endpoints_arg(),
        "--ca",
        "etcd_ca",
        "--certificate",
        "etcd_client",
        "--machine",
        "gw1",
    ]);
    let token = worlds[0].gw.cli_ok(&["clusterconfig", "token"]);
    worlds[1].gw.cli_ok(&[
        "clusterconfig",
        "join",
        token.trim(),
        "--certificate",
        "etcd_client",
        "--machine",
        "gw2",
    ]);
    for w in &worlds {
        api_ready(&w.gw);
    }
    let gw1 = &worlds[0].gw;

    // Text: one block per message, each under its machine.
    let out = gw1.cli_ok(&[
        "findevent",
        "--cluster",
        "--from",
        "sender@internet.example",
    ]);
    assert!(
        out.starts_with("2 message(s) found on 2 of 2 machine(s)."),
        "{out}"
    );
    for i in 1..=2 {
        let block = out
            .split("\nMachine: ")
            .find(|b| b.starts_with(&format!("gw{i}\n")))
            .unwrap_or_else(|| panic!("no block of gw{i}:\n{out}"));
        assert!(
            block.contains(&format!("Subject: fan-out test {i}")),
            "{block}"
        );
        assert!(block.contains("Last State: Delivered"), "{block}");
    }
    assert!(!out.contains("Not answered"), "{out}");

    // JSON: the same messages, each with its machine.
    let v = json(&gw1.cli_ok(&[
        "findevent",
        "--cluster",
        "--json",
        "--message-id",
        "fan-2@e2e.test",
    ]));
    assert_eq!(v["found"], 1, "{v}");
    assert_eq!(v["messages"][0]["machine"], "gw2", "{v}");
    assert_eq!(v["messages"][0]["subject"], "fan-out test 2", "{v}");
    assert_eq!(v["not_answered"], serde_json::json!([]), "{v}");

    // tophosts: every host summed, a column per machine.
    let v = json(&gw1.cli_ok(&["tophosts", "--cluster", "--json"]));
    assert_eq!(v["machines"], serde_json::json!(["gw1", "gw2"]), "{v}");
    let hosts = v["hosts"].as_array().expect("hosts");
    let delivered = hosts
        .iter()
        .find(|h| h["machines"]["gw1"].is_object() && h["machines"]["gw2"].is_object())
        .unwrap_or_else(|| panic!("no host both machines delivered to: {v}"));
    let per_machine = delivered["machines"]["gw1"]["delivered_recipients"]
        .as_u64()
        .unwrap()
        + delivered["machines"]["gw2"]["delivered_recipients"]
            .as_u64()
            .unwrap();
    assert!(per_machine >= 2, "{v}");
    assert_eq!(
        delivered["delivered_recipients"].as_u64(),
        Some(per_machine)
    );
    let text = gw1.cli_ok(&["tophosts", "--cluster"]);
    assert!(
        text.starts_with("Cluster totals of 2 of 2 machine(s)."),
        "{text}"
    );

    // A member's side: the cluster's token reads the two views, nothing else.
    let meta = etcd
        .get("/breakwater/v1/Hosted_Cluster/meta")
        .expect("the cluster's meta record");
    let api_token = json(&meta)["api_token"]
        .as_str()
        .expect("api_token")
        .to_string();
    let base = worlds[1].gw.https_base();
    let auth = format!("Authorization: Cluster {api_token}");
    let (status, body) = curl(&["-H", &auth, &format!("{base}/api/v1/status/tophosts")]);
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["hosts"].is_array(), "{body}");
    let (status, body) = curl(&[
        "-H",
        &auth,
        &format!("{base}/api/v1/tracking?message_id=fan-2@e2e.test"),
    ]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["found"], 1, "{body}");
    let (status, body) = curl(&["-H", &auth, &format!("{base}/api/v1/config")]);
    assert_eq!(status, 403, "{body}");
    let (status, body) = curl(&[
        "-H",
        "Authorization: Cluster not-the-token",
        &format!("{base}/api/v1/status/tophosts"),
    ]);
    assert_eq!(status, 401, "{body}");

    // A member whose certificate is not the one the cluster lists is
    // refused (the pin), and publishes its own again when it starts.
    let key = "/breakwater/v1/Hosted_Cluster/members/gw2";
    let mut record = json(&etcd.get(key).expect("gw2's member record"));
    let real_pin = record["api_cert_sha256"]
        .as_str()
        .expect("gw2 published a certificate pin")
        .to_string();
    assert_eq!(real_pin.len(), 64, "{record}");
    record["api_cert_sha256"] = serde_json::json!("00".repeat(32));
    etcd.etcdctl(&["put", key, &record.to_string()])
        .expect("etcdctl put");
    let out = worlds[0].gw.cli_ok(&["tophosts", "--cluster"]);
    assert!(
        out.contains(&format!(
            "\nNot answered: gw2 (the member's certificate (SHA-256 {real_pin}) is not the one the cluster lists)"
        )),
        "{out}"
    );
    worlds[1].gw.stop();
    worlds[1].gw.start_again();
    wait_until(breakwater_e2e::EVENTUALLY, || {
        etcd.get(key).filter(|r| r.contains(&real_pin))
    })
    .expect("gw2 publishes its certificate pin again when it starts");
    api_ready(&worlds[1].gw);
    let out = worlds[0].gw.cli_ok(&["tophosts", "--cluster"]);
    assert!(
        out.starts_with("Cluster totals of 2 of 2 machine(s)."),
        "{out}"
    );

    // A member that does not answer is named.
    worlds[1].gw.stop();
    let out = worlds[0].gw.cli_ok(&["tophosts", "--cluster"]);
    assert!(
        out.starts_with("Cluster totals of 1 of 2 machine(s)."),
        "{out}"
    );
    assert!(out.contains("\nNot answered: gw2 ("), "{out}");
}
