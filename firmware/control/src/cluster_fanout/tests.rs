use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;

use super::*;

fn words(line: &str) -> Vec<String> {
    line.split(' ').map(String::from).collect()
}

#[test]
fn the_token_must_be_the_clusters_and_never_empty() {
    assert!(token_matches("s3cret-token", "s3cret-token"));
    assert!(!token_matches("s3cret-tokeN", "s3cret-token"));
    assert!(!token_matches("s3cret", "s3cret-token"));
    assert!(!token_matches("", ""));
}

#[test]
fn a_pin_reads_as_openssl_and_the_directory_write_it() {
    let der = b"not really a certificate";
    let hex = certificate_sha256(der);
    assert_eq!(hex.len(), 64);
    let colons: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect();
    assert_eq!(
        CertificatePin::parse(&hex).unwrap(),
        CertificatePin::parse(&colons.join(":")).unwrap()
    );
    assert!(CertificatePin::parse("abcd").is_err());
    assert!(CertificatePin::parse(&"zz".repeat(32)).is_err());
}

#[test]
fn the_cluster_forms_and_what_a_member_may_ask() {
    assert!(is_cluster_form(&words("findevent --from a@b --cluster")));
    assert!(is_cluster_form(&words("TOPHOSTS --CLUSTER")));
    assert!(!is_cluster_form(&words("findevent --from a@b")));
    assert!(!is_cluster_form(&words("commit --cluster")));
    assert!(member_may_ask(&words("findevent --json --from a@b")));
    assert!(member_may_ask(&words("tophosts")));
    // Text, fan-out loops and anything else: refused.
    assert!(!member_may_ask(&words("findevent --from a@b")));
    assert!(!member_may_ask(&words(
        "findevent --json --cluster --from a"
    )));
    assert!(!member_may_ask(&words("tophosts --cluster")));
    assert!(!member_may_ask(&words("commit")));
    assert!(!member_may_ask(&words("showconfig --json")));
}

#[test]
fn findevent_cluster_takes_the_long_options_as_tracking_parameters() {
    let s = tracking_search(&words(
        "findevent --cluster --from friend@internet.example --since 24h --json",
    ))
    .unwrap();
    assert!(s.json);
    assert_eq!(
        s.local_words,
        words("findevent --json --from friend@internet.example --since 24h")
    );
    assert_eq!(
        s.query,
        vec![
            ("sender".to_string(), "friend@internet.example".to_string()),
            ("since".to_string(), "24h".to_string())
        ]
    );
    let short = tracking_search(&words("findevent --cluster -f friend")).unwrap_err();
    assert!(short.contains("'-f' is not one"), "{short}");
    assert!(
        tracking_search(&words("findevent --cluster"))
            .unwrap_err()
            .starts_with("usage: findevent")
    );
    assert!(
        tracking_search(&words("findevent --cluster --mid"))
            .unwrap_err()
            .starts_with("--mid needs a value")
    );
}

#[test]
fn tracking_times_compare_across_zones() {
    let utc = tracking_time("24 Nov 2026 01:30:00 (GMT +00:00)").unwrap();
    let chicago = tracking_time("23 Nov 2026 19:31:00 (GMT -06:00)").unwrap();
    assert!(chicago > utc);
    assert!(tracking_time("24 Nov 2026 01:30:00").is_none());
}

fn message(mid: u64, time: &str, lines: usize) -> Value {
    json!({
        "mid": mid, "time": time, "icid": 1, "dcids": [2], "status": "Delivered",
        "last_state": "Delivered", "direction": "Incoming", "from": "a@example.org",
        "to": ["b@example.com"], "subject": "hello", "message_id": "x@y",
        "sender_group": "ALL", "sender_ip": "127.0.0.9",
        "lines": (0..lines).map(|i| format!("line {i} of MID {mid}")).collect::<Vec<_>>(),
        "details": [{"date": "24 Nov 2026", "time": "01:30:00", "text": format!("Message {mid} queued for delivery.")}],
    })
}

fn tracking(messages: Vec<Value>) -> Value {
    json!({"found": messages.len(), "shown": messages.len(), "lines_omitted": 0, "messages": messages})
}

#[test]
fn messages_merge_by_time_each_with_its_machine_and_the_silent_are_named() {
    let answers = vec![
        (
            "esa1.example.com".to_string(),
            Ok(tracking(vec![
                message(7, "24 Nov 2026 01:32:00 (GMT +00:00)", 1),
                message(5, "24 Nov 2026 01:30:00 (GMT +00:00)", 1),
            ])),
        ),
        (
            "esa2.example.com".to_string(),
            Ok(tracking(vec![message(
                3,
                "23 Nov 2026 19:31:00 (GMT -06:00)",
                2,
            )])),
        ),
        (
            "esa3.example.com".to_string(),
            Err("no answer within 10 s".to_string()),
        ),
    ];
    let merged = merge_tracking(answers);
    assert_eq!(merged.found, 3);
    let order: Vec<(u64, &str)> = merged
        .messages
        .iter()
        .map(|m| (m["mid"].as_u64().unwrap(), m["machine"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        vec![
            (7, "esa1.example.com"),
            (3, "esa2.example.com"),
            (5, "esa1.example.com")
        ]
    );
    let text = tracking_text(&merged);
    assert!(
        text.starts_with("3 message(s) found on 2 of 3 machine(s).\n"),
        "{text}"
    );
    assert!(text.contains("\nMachine: esa2.example.com\nMessage Tracking: MID 3\n"));
    assert!(text.contains("  line 1 of MID 3\n"));
    assert!(text.ends_with("\nNot answered: esa3.example.com (no answer within 10 s)\n"));
    let json: Value = serde_json::from_str(&tracking_json(&merged).unwrap()).unwrap();
    assert_eq!(json["shown"], 3);
    assert_eq!(json["messages"][1]["machine"], "esa2.example.com");
    assert_eq!(
        json["not_answered"],
        json!([{"machine": "esa3.example.com", "reason": "no answer within 10 s"}])
    );
}

#[test]
fn the_merged_answer_is_bounded_like_findevents() {
    let many = |n: u64| {
        tracking(
            (0..n)
                .map(|i| {
                    message(
                        i,
                        &format!("24 Nov 2026 01:{:02}:{:02} (GMT +00:00)", i / 60, i % 60),
                        20,
                    )
                })
                .collect(),
        )
    };
    let merged = merge_tracking(vec![
        ("esa1".to_string(), Ok(many(400))),
        ("esa2".to_string(), Ok(many(400))),
    ]);
    assert_eq!(merged.found, 800);
    assert_eq!(merged.messages.len(), MAX_MESSAGES);
    let lines: usize = merged
        .messages
        .iter()
        .map(|m| m["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(lines, MAX_LINES);
    assert_eq!(merged.lines_omitted, (500 * 20 - MAX_LINES) as u64);
    assert!(tracking_text(&merged).contains(", the newest 500 shown."));
}

fn row(host: &str, down: bool, active: u64, delivered: u64) -> HostRow {
    HostRow {
        host: host.to_string(),
        down,
        active_recipients: active,
        connections_out: 1,
        delivered_recipients: delivered,
        soft_bounced: 0,
        hard_bounced: 0,
    }
}

#[test]
fn host_rows_sum_over_machines_with_a_column_per_machine() {
    let answers = vec![
        (
            "esa1".to_string(),
            Ok(json!({"hosts": [row("example.com", false, 3, 10), row("b.example", false, 0, 1)]})),
        ),
        (
            "esa2".to_string(),
            Ok(json!({"hosts": [row("example.com", true, 4, 5)]})),
        ),
        (
            "esa3".to_string(),
            Err("HTTP 401: The cluster API token was refused.".to_string()),
        ),
        ("esa4".to_string(), Ok(json!({"text": "no table"}))),
    ];
    let (mut hosts, failed) = merge_tophosts(answers);
    sort_hosts(&mut hosts, "deliv");
    assert_eq!(hosts[0].host, "example.com");
    assert!(hosts[0].down);
    assert_eq!(hosts[0].active_recipients, 7);
    assert_eq!(hosts[0].connections_out, 2);
    assert_eq!(hosts[0].delivered_recipients, 15);
    assert_eq!(hosts[0].machines["esa2"].delivered_recipients, 5);
    assert_eq!(hosts[1].host, "b.example");
    assert_eq!(
        failed.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["esa3", "esa4"]
    );
    let text = tophosts_text(&hosts, 4, &failed);
    assert!(
        text.starts_with("Cluster totals of 2 of 4 machine(s).\n"),
        "{text}"
    );
    let first = text
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(first, ["1", "*example.com", "7", "2", "15", "0", "0"]);
    // The table reads back as one machine's does (the API parses it).
    let all_answered = tophosts_text(&hosts, 2, &[]);
    assert_eq!(
        tophosts_rows(&all_answered).unwrap()[0].delivered_recipients,
        15
    );
    assert!(text.contains(
        "Not answered: esa3 (HTTP 401: The cluster API token was refused.)\nNot answered: esa4 (its answer has no host table)\n"
    ));
}

/// A member's HTTPS API for one request: answers `body` with `status`,
/// and sends back the request head it read.
fn one_request_server(status: u16, body: &str) -> (String, String, mpsc::Receiver<String>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pin = certificate_sha256(cert.der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("https://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    let body = body.to_string();
    std::thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else {
            return;
        };
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut head = String::new();
        {
            let mut reader = BufReader::new(&mut tls);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push_str(&line),
                }
            }
        }
        let _ = tx.send(head);
        let _ = write!(
            tls,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tls.flush();
        tls.conn.send_close_notify();
        let _ = tls.flush();
    });
    (api, pin, rx)
}

fn member(machine: &str, api: &str, pin: &str) -> ClusterMember {
    ClusterMember {
        machine: machine.to_string(),
        api: api.to_string(),
        api_cert_sha256: pin.to_string(),
    }
}

fn question() -> Question {
    Question {
        path: "/api/v1/tracking",
        query: vec![("sender".into(), "a b@example.org".into())],
        local: Ok(Value::Null),
    }
}

#[test]
fn a_member_with_the_pinned_certificate_is_asked_with_the_token() {
    let (api, pin, head) = one_request_server(200, r#"{"found": 0, "messages": []}"#);
    let answer = ask_member(&member("esa2", &api, &pin), "tok", &question()).unwrap();
    assert_eq!(answer["found"], 0);
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("GET /api/v1/tracking?sender=a+b%40example.org HTTP/1.1\r\n")
            || head.starts_with("GET /api/v1/tracking?sender=a%20b%40example.org HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("authorization: Cluster tok\r\n")
            || head.contains("Authorization: Cluster tok\r\n"),
        "{head}"
    );
}

#[test]
fn a_certificate_other_than_the_pinned_one_is_refused() {
    let (api, pin, _head) = one_request_server(200, "{}");
    let other = certificate_sha256(b"another certificate");
    let err = ask_member(&member("esa2", &api, &other), "tok", &question()).unwrap_err();
    assert!(
        err.contains("is not the one the cluster lists") && err.contains(&pin),
        "{err}"
    );
}

#[test]
fn a_members_refusal_is_its_reason() {
    let (api, pin, _head) =
        one_request_server(401, r#"{"error": "The cluster API token was refused."}"#);
    let err = ask_member(&member("esa2", &api, &pin), "tok", &question()).unwrap_err();
    assert_eq!(err, "HTTP 401: The cluster API token was refused.");
    let plain = ask_member(
        &member("esa2", "http://127.0.0.1:1", &pin),
        "tok",
        &question(),
    )
    .unwrap_err();
    assert!(plain.contains("is not https://"), "{plain}");
}

#[test]
fn an_answer_larger_than_the_cap_is_refused_not_read() {
    let big = format!("\"{}\"", "x".repeat(MAX_REPLY_BYTES as usize));
    let (api, pin, _head) = one_request_server(200, &big);
    let err = ask_member(&member("esa2", &api, &pin), "tok", &question()).unwrap_err();
    assert_eq!(
        err,
        format!("its answer is larger than {MAX_REPLY_BYTES} bytes")
    );
}

/// A directory as the cluster core gives it, fixed for the test.
struct Directory(Vec<ClusterMember>);

impl ClusterDirectory for Directory {
    fn members(&self) -> Result<Vec<ClusterMember>, String> {
        Ok(self.0.clone())
    }
    fn api_token(&self) -> Result<String, String> {
        Ok("tok".to_string())
    }
    fn this_machine(&self) -> Option<String> {
        Some("esa1".to_string())
    }
}

#[test]
fn tophosts_cluster_merges_this_machine_and_a_member_and_names_the_unreachable() {
    let (api, pin, _head) = one_request_server(
        200,
        &json!({"hosts": [row("example.com", false, 2, 7)]}).to_string(),
    );
    // A port nothing listens on: refused at once.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let directory = Directory(vec![
        member("esa1", "https://127.0.0.1:1", &pin),
        member("esa2", &api, &pin),
        member("esa3", &dead, &pin),
    ]);
    let local = || {
        Ok(
            "Status as of:                Sun Dec  6 16:36:48 2026 UTC\n\
            Hosts marked with '*' were down as of the last delivery attempt.\n\n\
            #   Recipient Host                Active   Conn.    Deliv.     Soft     Hard\n\
            #   Recipient Host                Recip.     Out    Recip.  Bounced  Bounced\n\
            1   example.com                        1       0         3        0        0\n"
                .to_string(),
        )
    };
    let out = tophosts(
        Some(&directory),
        &words("tophosts --cluster --json"),
        &local,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["machines"], json!(["esa1", "esa2", "esa3"]));
    assert_eq!(v["hosts"][0]["delivered_recipients"], 10);
    assert_eq!(v["hosts"][0]["machines"]["esa1"]["delivered_recipients"], 3);
    assert_eq!(v["hosts"][0]["machines"]["esa2"]["delivered_recipients"], 7);
    assert_eq!(v["not_answered"][0]["machine"], "esa3");
    assert_eq!(
        tophosts(None, &words("tophosts --cluster"), &local).unwrap_err(),
        NOT_CLUSTERED
    );
    assert!(
        tophosts(
            Some(&directory),
            &words("tophosts --cluster sideways"),
            &local
        )
        .unwrap_err()
        .starts_with("usage: tophosts")
    );
}

#[test]
fn this_appliance_publishes_its_management_api_and_certificate_pin() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["esa1.example.com".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut config = crate::config::factory::factory_config(
        &breakwater_board::BoardProfile::builtin("dev").unwrap(),
        crate::config::Certificate {
            name: "api".into(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    );
    config.interfaces.retain(|i| i.name != "Management");
    config.interfaces.push(crate::config::Interface {
        name: "Management".into(),
        address: Some("127.3.1.1".parse().unwrap()),
        prefix: 24,
    });
    config.management.certificate = "api".into();
    config.management.https_enabled = true;
    config.management.api_enabled = true;
    config.management.https_port = 8443;
    assert_eq!(
        published_api(&config),
        Some((
            "https://127.3.1.1:8443".to_string(),
            certificate_sha256(cert.der())
        ))
    );
    config.management.api_enabled = false;
    assert_eq!(published_api(&config), None);
}
