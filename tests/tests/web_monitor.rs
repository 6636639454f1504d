//! The web UI's Monitor menu with a real HTTPS client (curl): a message
//! sent through Data 1 with swaks is found in Message Tracking (by
//! sender, by MID, by Message-ID header and by sender IP), its More
//! Details list its log lines, Delivery Status shows the destination's
//! row, and Reports draws a non-zero bar for the listener that took it.

use breakwater_e2e::{SOON, Swaks, WebClient, World, mid_in_reply};

#[test]
fn a_message_sent_through_data1_is_tracked_and_counted_in_the_web_ui() {
    let w = World::start();
    let client_ip = w.net.client(3);
    let mid = w.deliver_inbound(client_ip, "web-monitor@e2e.test", "Web monitor test");

    // Pages need a session.
    let anonymous = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!(
            "https://{}:8443/monitor/tracking",
            w.net.management()
        ))
        .output()
        .expect("curl");
    let anonymous = String::from_utf8_lossy(&anonymous.stdout).into_owned();
    assert!(anonymous.ends_with("/login"), "{anonymous}");

    let web = WebClient::login(&w.gw, "admin", "breakwater");

    // The search form has the seeds' fields.
    let form = web.get("/monitor/tracking");
    for id in [
        "sender",
        "recipient",
        "subject",
        "mid",
        "message_id",
        "sender_ip",
        "received-day",
        "received-week",
        "received-custom",
        "since",
        "until",
        "search",
    ] {
        assert!(
            form.contains(&format!("id=\"{id}\"")),
            "no #{id} in\n{form}"
        );
    }

    let row = format!("id=\"mid-{mid}\"");
    let ip = client_ip.to_string();
    for query in [
        "sender=sender%40internet.example&received=day&search=1".to_string(),
        format!("mid={mid}&received=week&search=1"),
        "message_id=web-monitor%40e2e.test&received=day&search=1".to_string(),
        format!("sender_ip={ip}&recipient=alice%40example.com&received=day&search=1"),
    ] {
        let page = web.get(&format!("/monitor/tracking?{query}"));
        assert!(
            page.contains("id=\"results\""),
            "{query}: no results table in\n{page}"
        );
        assert!(
            page.contains(&row),
            "{query}: MID {mid} not found in\n{page}"
        );
        assert!(page.contains("Delivered"), "{query}: {page}");
        assert!(page.contains(&ip), "{query}: sender IP {ip} missing");
        assert!(
            page.contains("Web monitor test"),
            "{query}: subject missing"
        );
        assert!(page.contains("(GMT "), "{query}: time without its zone");
        assert!(
            page.contains(&format!("href=\"/monitor/tracking/{mid}\"")),
            "{query}: no More Details link"
        );
    }
    // A search that matches nothing says so.
    let none = web.get("/monitor/tracking?sender=nobody%40nowhere.example&received=day&search=1");
    assert!(none.contains("id=\"no-results\""), "{none}");

    let details = web.get(&format!("/monitor/tracking/{mid}"));
    for expected in [
        format!("Start MID {mid} ICID"),
        "From: &lt;sender@internet.example&gt;".to_string(),
        "&lt;web-monitor@e2e.test&gt;".to_string(),
        format!("Message finished MID {mid} done"),
        "Sending Host Summary".to_string(),
        ip.clone(),
        // The seeds' Processing Details and summary.
        "Processing Details".to_string(),
        format!("Message {mid} direction: incoming"),
        format!("Message {mid} Sender Domain: internet.example"),
        "<td id=\"direction\">Incoming</td>".to_string(),
        "SBRS Score".to_string(),
    ] {
        assert!(
            details.contains(&expected),
            "no {expected:?} in More Details:\n{details}"
        );
    }

    let delivery = web.get("/monitor/delivery");
    assert!(delivery.contains("id=\"tophosts\""), "{delivery}");
    assert!(delivery.contains("id=\"host-example.com\""), "{delivery}");
    assert!(
        delivery.contains("href=\"/monitor/delivery/host/example.com\""),
        "{delivery}"
    );
    let host = web.get("/monitor/delivery/host/example.com");
    assert!(host.contains("Delivery Status: example.com"), "{host}");

    let reports = web.get("/monitor/reports");
    assert!(reports.contains("<svg"), "{reports}");
    let listener_bar = "data-label=\"IncomingMail\" data-value=\"";
    let at = reports
        .find(listener_bar)
        .unwrap_or_else(|| panic!("no bar for IncomingMail in\n{reports}"));
    let value: u64 = reports[at + listener_bar.len()..]
        .split('"')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a bar value");
    assert!(value >= 1, "IncomingMail's bar is {value}");
    assert!(
        reports.contains("data-label=\"internet.example\""),
        "the sender domain is in the top list:\n{reports}"
    );
    // The daemon's own answer agrees.
    let data = w.gw.cli_ok(&["reportdata", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&data).expect("reportdata --json");
    assert_eq!(v["top_sender_ips"][0][0], ip, "{data}");

    for (path, title) in [
        ("/monitor/status", "System Status"),
        ("/monitor/workqueue", "Work Queue"),
        ("/monitor/quarantines", "Quarantines"),
    ] {
        let page = web.get(path);
        assert!(
            page.contains(&format!("<h1>{title}</h1>")),
            "{path}:\n{page}"
        );
    }
    assert!(web.get("/monitor/status").contains("Messages in queue"));
}

/// Sends a message with this Message-ID through Data 1; its MID.
fn send(w: &World, message_id: &str, subject: &str) -> u64 {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("msg.eml");
    std::fs::write(
        &path,
        format!("From: <friend@internet.example>\r\nTo: <alice@example.com>\r\nMessage-ID: <{message_id}>\r\nSubject: {subject}\r\n\r\nHello.\r\n"),
    )
    .expect("write message");
    let out = Swaks::new(w.net.data1_smtp(), w.net.client(7))
        .from("friend@internet.example")
        .to("alice@example.com")
        .data_file(&path)
        .run();
    let reply = out.data_reply().expect("a reply to DATA");
    assert_eq!(reply.code, 250, "{}", out.transcript);
    mid_in_reply(&reply.text()).expect("MID")
}

#[test]
fn quarantined_messages_are_viewed_released_and_deleted_from_the_web_ui() {
    let w = World::start();
    let script =
        "hold_web: if header('Message-ID') == 'hold-web' {\n  quarantine('Policy');\n}\n.\n";
    w.gw.cli_input(&["filters", "new"], script)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: quarantine"]);
    let kept = send(&w, "hold-web-1@e2e.test", "to be released");
    let dropped = send(&w, "hold-web-2@e2e.test", "to be deleted");
    for mid in [kept, dropped] {
        w.gw.wait_for_log(&format!("MID {mid} quarantined to \"Policy\""), SOON);
    }
    let web = WebClient::login(&w.gw, "admin", "breakwater");

    let list = web.get("/monitor/quarantines");
    for mid in [kept, dropped] {
        assert!(list.contains(&format!("id=\"held-{mid}\"")), "{list}");
    }
    assert!(list.contains("to be released"), "{list}");
    let view = web.get(&format!("/monitor/quarantines/{kept}"));
    assert!(
        view.contains("Message-ID: &lt;hold-web-1@e2e.test&gt;"),
        "{view}"
    );
    assert!(
        view.contains("id=\"release\"") && view.contains("id=\"delete\""),
        "{view}"
    );
    // Tracking knows where it is.
    let tracked = web.get(&format!("/monitor/tracking?mid={kept}&search=1"));
    assert!(tracked.contains("Quarantined"), "{tracked}");

    let (status, location) = web.post(&format!("/monitor/quarantines/{kept}/release"), &[]);
    assert_eq!((status, location.as_str()), (303, "/monitor/quarantines"));
    assert!(
        web.get("/monitor/quarantines")
            .contains("released from quarantine")
    );
    w.sink
        .wait_for_message_id("hold-web-1@e2e.test", SOON)
        .expect("the released message is delivered");

    let (status, _) = web.post(&format!("/monitor/quarantines/{dropped}/delete"), &[]);
    assert_eq!(status, 303);
    let list = w.gw.cli_ok(&["quarantine", "list"]);
    assert!(list.contains("No messages are held."), "{list}");
    assert!(
        w.sink
            .messages()
            .iter()
            .all(|m| m.message_id().as_deref() != Some("hold-web-2@e2e.test")),
        "a deleted message was delivered"
    );
}
