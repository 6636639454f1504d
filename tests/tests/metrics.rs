//! The Prometheus endpoint end to end: `GET /metrics` on the Management
//! address scraped with the real `curl` before and after a message is
//! relayed through Data 1 to the sink, the counters an administrator
//! graphs seen to move, the text checked by Debian's `promtool check
//! metrics` (package `prometheus`, tools/packages.txt), the refusal
//! without credentials, OpenMetrics on request, and nothing of it on Data
//! 1 or Data 2.

use std::io::Write;
use std::process::{Command, Stdio};

use breakwater_e2e::{SOON, World, simple_message, smtplib, wait_until};

/// `curl -k -sS -i ARGS URL`: (status, lower-case headers, body).
fn curl(args: &[&str], url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-k", "-sS", "-i", "--max-time", "90"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url} failed: {}",
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
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The sum of the samples of `name` whose labels contain every one of
/// `labels` (`key="value"`); 0 when there are none yet.
fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// `promtool check metrics` on `text`: its findings (empty when none).
fn promtool(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, listed in tools/packages.txt)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics: {findings}");
    findings
}

#[test]
fn metrics_count_a_relayed_message_and_pass_promtool() {
    let w = World::start();
    let pass = w.gw.ready_admin();
    let creds = format!("admin:{pass}");
    let url = format!("{}/metrics", w.gw.https_base());
    wait_until(SOON, || {
        Command::new("curl")
            .args(["-k", "-s", "-o", "/dev/null", &url])
            .status()
            .ok()
            .filter(std::process::ExitStatus::success)
    })
    .expect("HTTPS answers on the Management address");

    // A message filter that acts on the relayed message, and a recipient the
    // RAT of Data 1 refuses: both counted.
    let script = "count_it: if header('Subject') == 'e2e metrics-1@e2e.test' {\n  log-entry('counted');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: a filter to count"]);

    let (status, headers, before) = curl(&["-u", &creds], &url);
    assert_eq!(status, 200, "{before}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );

    // Over STARTTLS, to a recipient the RAT refuses.
    let refused = smtplib::run(
        w.net.data1_smtp(),
        w.net.client(7),
        &[
            smtplib::Step::Connect,
            smtplib::Step::Ehlo,
            smtplib::Step::StartTls,
            smtplib::Step::Ehlo,
            smtplib::Step::Mail {
                from: "friend@internet.example".into(),
                options: vec![],
            },
            smtplib::Step::Rcpt("someone@foreign.example".into()),
            smtplib::Step::Quit,
        ],
    );
    assert_eq!(
        smtplib::find(&refused, "starttls").and_then(|r| r.code),
        Some(220),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|r| r.code == Some(550)),
        "the RAT refuses a foreign recipient: {refused:?}"
    );
    let msg = simple_message(
        "friend@internet.example",
        "alice@example.com",
        "metrics-1@e2e.test",
        "counted",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["alice@example.com"],
        &msg,
        &[],
    );
    assert_eq!(
        smtplib::find(&res, "data").and_then(|r| r.code),
        Some(250),
        "{res:?}"
    );
    w.sink
        .wait_for_message_id("metrics-1@e2e.test", SOON)
        .expect("the message reached the sink");

    // The delivery is counted when its report reaches the work queue,
    // just after the sink has the message.
    let after = wait_until(SOON, || {
        let (_, _, text) = curl(&["-u", &creds], &url);
        (sum(&text, "breakwater_recipients_delivered_total", &[])
            > sum(&before, "breakwater_recipients_delivered_total", &[]))
        .then_some(text)
    })
    .expect("breakwater_recipients_delivered_total went up");
    let received = "breakwater_messages_received_total";
    assert_eq!(
        sum(&after, received, &[]) - sum(&before, received, &[]),
        1.0
    );
    assert_eq!(
        sum(&after, "breakwater_recipients_received_total", &[])
            - sum(&before, "breakwater_recipients_received_total", &[]),
        1.0
    );
    assert!(
        sum(
            &after,
            "breakwater_deliveries_total",
            &["domain=\"example.com\"", "outcome=\"delivered\""]
        ) >= 1.0,
        "{after}"
    );
    assert_eq!(
        sum(
            &after,
            "breakwater_recipients_rejected_total",
            &["reason=\"rat\""]
        ) - sum(
            &before,
            "breakwater_recipients_rejected_total",
            &["reason=\"rat\""]
        ),
        1.0,
        "{after}"
    );
    assert_eq!(
        sum(
            &after,
            "breakwater_filter_hits_total",
            &["filter=\"count_it\""]
        ),
        1.0,
        "{after}"
    );
    assert!(
        sum(&after, "breakwater_queue_commit_batch_messages_count", &[]) >= 1.0,
        "{after}"
    );
    // Mail out, by the listener it came in on.
    assert_eq!(
        sum(
            &after,
            "breakwater_listener_deliveries_total",
            &["listener=\"IncomingMail\"", "outcome=\"delivered\""]
        ) - sum(
            &before,
            "breakwater_listener_deliveries_total",
            &["listener=\"IncomingMail\"", "outcome=\"delivered\""]
        ),
        1.0,
        "{after}"
    );
    // Both sessions were classified by the HAT of IncomingMail and let
    // in (at least: the harness's readiness probe of the SMTP port is a
    // connection too, classified once its reverse DNS lookup is done).
    let connections = "breakwater_connections_total";
    let accepted = ["listener=\"IncomingMail\"", "behavior=\"accept\""];
    assert!(
        sum(&after, connections, &accepted) - sum(&before, connections, &accepted) >= 2.0,
        "{after}"
    );
    let tls_in = ["leg=\"inbound\"", "outcome=\"success\""];
    let tls = "breakwater_tls_connections_total";
    assert_eq!(
        sum(&after, tls, &tls_in) - sum(&before, tls, &tls_in),
        1.0,
        "{after}"
    );
    assert!(after.contains("# TYPE breakwater_queue_commit_duration_seconds histogram"));
    assert!(after.contains("# TYPE breakwater_dns_lookup_duration_seconds histogram"));
    assert!(after.contains("breakwater_reception_memory_limit_bytes "));
    assert!(after.contains("breakwater_queue_messages "));
    let findings = promtool(&after);
    assert!(findings.trim().is_empty(), "promtool: {findings}");

    // Prometheus asks for OpenMetrics; a person with curl gets the text
    // format above.
    let (status, headers, open) = curl(
        &[
            "-u",
            &creds,
            "-H",
            "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        ],
        &url,
    );
    assert_eq!(status, 200);
    assert!(
        headers.contains("content-type: application/openmetrics-text"),
        "{headers}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");

    // The Reports page's charts as files.
    for chart in ["incoming.svg", "queue.svg"] {
        let chart_url = format!("{}/api/v1/reports/{chart}", w.gw.https_base());
        let (status, headers, svg) = curl(&["-u", &creds], &chart_url);
        assert_eq!(status, 200, "{svg}");
        assert!(headers.contains("content-type: image/svg+xml"), "{headers}");
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
    }

    // The same text from the CLI.
    let cli = w.gw.cli_ok(&["metrics"]);
    assert!(
        cli.contains("# TYPE breakwater_messages_received_total counter"),
        "{cli}"
    );

    // The CLI's picture of the last minutes: an SVG an XML parser reads,
    // with a line for IncomingMail that counts the one message received.
    let plot =
        w.gw.cli_ok(&["status", "plot", "received", "--minutes", "10"]);
    let lines = svg_series(&plot);
    assert_eq!(
        lines
            .get("IncomingMail")
            .map(|v| (v.len(), v.iter().sum::<u64>())),
        Some((10, 1)),
        "{plot}"
    );
    let delivered = svg_series(&w.gw.cli_ok(&["status", "plot", "delivered"]));
    let points = delivered.get("Delivered").expect("a Delivered line");
    assert_eq!(points.len(), 60, "{delivered:?}");
    assert!(points.iter().sum::<u64>() >= 1, "{delivered:?}");
    let queue = svg_series(
        &w.gw
            .cli_ok(&["status", "plot", "queue", "--minutes", "1440"]),
    );
    assert_eq!(queue.get("Messages in queue").map(Vec::len), Some(144));
    let wrong = w.gw.cli(&["status", "plot", "spam"]).unwrap_err();
    assert!(wrong.contains("Unknown series \"spam\""), "{wrong}");
}

/// The lines of an SVG chart as Python's `xml.etree` reads them: each
/// `<g class="series" data-series="NAME">` and the `data-value` of its
/// points. Panics when the SVG does not parse.
fn svg_series(svg: &str) -> std::collections::BTreeMap<String, Vec<u64>> {
    const READ: &str = r#"
import sys, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.fromstring(sys.stdin.read())
assert root.tag == NS + "svg", root.tag
for g in root.iter(NS + "g"):
    if g.get("class") == "series":
        values = [c.get("data-value") for c in g.iter(NS + "circle")]
        print(g.get("data-series") + "\t" + " ".join(values))
"#;
    let mut child = Command::new("python3")
        .args(["-c", READ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(svg.as_bytes())
        .expect("write the SVG");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "the SVG does not parse: {}\n{svg}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, values) = l.split_once('\t')?;
            let values = values
                .split_whitespace()
                .map(|v| v.parse().expect("a number"))
                .collect();
            Some((name.to_string(), values))
        })
        .collect()
}

#[test]
fn metrics_refuse_without_credentials_and_stay_off_the_data_interfaces_even_on_the_plain_port() {
    let w = World::start();
    let pass = w.gw.ready_admin();
    let url = format!("{}/metrics", w.gw.https_base());
    wait_until(SOON, || {
        Command::new("curl")
            .args(["-k", "-s", "-o", "/dev/null", &url])
            .status()
            .ok()
            .filter(std::process::ExitStatus::success)
    })
    .expect("HTTPS answers on the Management address");
    let (status, headers, body) = curl(&[], &url);
    assert_eq!(status, 401, "{body}");
    assert!(headers.contains("www-authenticate: basic"), "{headers}");
    assert!(!body.contains("breakwater_"), "{body}");
    let (status, _, body) = curl(&["-u", "admin:not-the-passphrase"], &url);
    assert_eq!(status, 401, "{body}");
    let (status, _, _) = curl(&["-u", &format!("admin:{pass}")], &url);
    assert_eq!(status, 200);

    // The admin's plain-HTTP port: no login, Management only.
    let plain = format!("http://{}:9154/metrics", w.gw.management());
    assert!(
        Command::new("curl")
            .args(["-sS", "--max-time", "10", &plain])
            .output()
            .expect("curl")
            .status
            .code()
            != Some(0),
        "the plain port is off by default"
    );
    w.gw.cli_ok(&["adminaccessconfig", "setup", "--metrics-port", "9154"]);
    w.gw.cli_ok(&["commit", "e2e: plain metrics port"]);
    let printed = w.gw.cli_ok(&["adminaccessconfig", "print"]);
    assert!(
        printed.contains("plain HTTP, no login, port 9154"),
        "{printed}"
    );
    let body = wait_until(SOON, || {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", &plain])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    })
    .expect("the plain metrics port answers after the commit");
    assert!(
        body.contains("# TYPE breakwater_queue_messages gauge"),
        "{body}"
    );
    let findings = promtool(&body);
    assert!(findings.trim().is_empty(), "promtool: {findings}");
    let (status, _, _) = curl(
        &[],
        &format!("http://{}:9154/api/v1/status", w.gw.management()),
    );
    assert_eq!(
        status, 404,
        "the plain port serves /metrics and nothing else"
    );
    // HTTPS still asks for a login.
    let (status, _, _) = curl(&[], &url);
    assert_eq!(status, 401);

    for data in [w.net.data1(), w.net.data2()] {
        for (scheme, port) in [("https", 8443), ("http", 8443), ("http", 9154)] {
            let other = format!("{scheme}://{data}:{port}/metrics");
            let out = Command::new("curl")
                .args(["-k", "-sS", "--max-time", "10", "-u"])
                .arg(format!("admin:{pass}"))
                .arg(&other)
                .output()
                .expect("run curl");
            assert!(
                !out.status.success(),
                "{other} answered: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
