//! Retries and bounces against a scripted next hop: a 4xx is retried and
//! then delivered; a 5xx is a hard bounce whose DSN reaches the sender's
//! own next hop (example.com → the day-one sink); never a DSN for a null
//! sender. And the operator's view (`tophosts`, `status detail`,
//! `hoststatus`, `bouncerecipients`, `resetcounters`) against what the
//! peers saw.

use std::time::Duration;

use breakwater_e2e::{
    Dns, MxSink, Outgoing, SOON, Script, TestNet, TophostsRow, World, allow_loopback_next_hops,
    allow_relay_from_clients, mx_ip, parse_tophosts, send_batch, status_counter, status_gauge,
    wait_until,
};

const SENDER: &str = "alice@example.com";

fn world_with(net: TestNet, dns: Dns) -> World {
    let w = World::with_dns(net, dns);
    // The mail exchangers of these tests listen on loopback.
    allow_loopback_next_hops(&w.gw);
    allow_relay_from_clients(&w);
    w
}

/// The data events of one message at a scripted server: its reply codes.
fn data_codes(server: &breakwater_e2e::ScriptedServer, message_id: &str) -> Vec<u64> {
    server
        .events_named("data")
        .iter()
        .filter(|e| e["message_id"].as_str() == Some(&format!("<{message_id}>")))
        .filter_map(|e| e["code"].as_u64())
        .collect()
}

#[test]
fn temporary_failures_are_retried_then_delivered() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 40);
    let dns = Dns::builder(&net)
        .mx("soft.test", "mx.soft.test", 10)
        .host_record("mx.soft.test", ip)
        .start();
    let w = world_with(net, dns);
    let server = Script::new(ip, "mx.soft.test")
        .data(
            "^greylisted@",
            &[
                "451 4.3.0 Temporary local problem - please try later",
                "250 2.0.0 Ok: queued after retry",
            ],
        )
        .rcpt(
            "^busy@",
            &["450 4.2.1 Mailbox busy, try again", "250 2.1.5 Ok"],
        )
        .start();

    let mids = send_batch(
        &w,
        20,
        &[
            Outgoing::new(SENDER, &["greylisted@soft.test"], "soft-data@e2e.test"),
            Outgoing::new(SENDER, &["busy@soft.test"], "soft-rcpt@e2e.test"),
        ],
    );
    let (a, b) = (mids[0], mids[1]);
    server.wait_for_accepted(2, SOON);
    for mid in [a, b] {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    }

    // The next hop saw the refusal first, then the message again.
    assert_eq!(
        data_codes(&server, "soft-data@e2e.test"),
        [451, 250],
        "end-of-DATA replies for the greylisted message"
    );
    let busy: Vec<u64> = server
        .events_named("rcpt")
        .iter()
        .filter(|e| e["to"] == "busy@soft.test")
        .filter_map(|e| e["code"].as_u64())
        .collect();
    assert_eq!(busy, [450, 250], "RCPT replies for the busy mailbox");
    assert_eq!(data_codes(&server, "soft-rcpt@e2e.test"), [250]);

    // The log says why each waited, and until when.
    w.gw.wait_for_log(
        &format!(r"Delayed: DCID \d+ MID {a} to RID 0 - 451 4\.3\.0 Temporary local problem"),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"Delayed: DCID \d+ MID {b} to RID 0 - 450 4\.2\.1 Mailbox busy"),
        SOON,
    );
    for mid in [a, b] {
        w.gw.wait_for_log(
            &format!(
                r"Message {mid} to RID \[0\] pending till \w{{3}} \w{{3}} +\d+ \d\d:\d\d:\d\d \d{{4}}"
            ),
            SOON,
        );
        w.gw.wait_for_log(
            &format!(r"Message done DCID \d+ MID {mid} to RID \[0\]"),
            SOON,
        );
        assert!(
            w.gw.log_lines(&format!(r"generated for bounce of MID {mid}\b"))
                .is_empty(),
            "a DSN for MID {mid}, which was delivered"
        );
    }
    assert!(
        w.sink.messages().is_empty(),
        "the sender got mail (a DSN?) for messages that were delivered"
    );
}

#[test]
fn permanent_failure_bounces_with_a_dsn_that_reaches_the_sender_but_never_for_a_null_sender() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 41);
    let dns = Dns::builder(&net)
        .mx("bounce.test", "mx.bounce.test", 10)
        .host_record("mx.bounce.test", ip)
        .start();
    let w = world_with(net, dns);
    let server = Script::new(ip, "mx.bounce.test")
        .rcpt(
            "^nobody@",
            &["550 5.1.1 <nobody@bounce.test>: Recipient address rejected: User unknown"],
        )
        .start();

    let mids = send_batch(
        &w,
        21,
        &[
            // Mixed: one recipient refused, one accepted.
            Outgoing::new(
                SENDER,
                &["nobody@bounce.test", "somebody@bounce.test"],
                "mixed@e2e.test",
            ),
            // A bounce of a bounce must not happen.
            Outgoing::new("", &["nobody@bounce.test"], "null-sender@e2e.test"),
        ],
    );
    let (mixed, null) = (mids[0], mids[1]);

    // The accepted recipient is delivered on its own.
    let accepted = server.wait_for_accepted(1, SOON);
    assert_eq!(
        accepted[0]["rcpts"],
        serde_json::json!(["somebody@bounce.test"])
    );
    w.gw.wait_for_log(
        &format!(r"Bounced: DCID \d+ MID {mixed} to RID 0 - 550 5\.1\.1 "),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"Message done DCID \d+ MID {mixed} to RID \[1\]"),
        SOON,
    );
    w.gw.wait_for_log(
        &format!(r"Bounced: DCID \d+ MID {null} to RID 0 - 550 5\.1\.1 "),
        SOON,
    );
    let line = w.gw.wait_for_log(
        &format!(r"MID \d+ was generated for bounce of MID {mixed}\b"),
        SOON,
    );
    let dsn_mid: u64 = regex::Regex::new(r"MID (\d+) was generated")
        .expect("regex")
        .captures(&line)
        .and_then(|c| c[1].parse().ok())
        .expect("DSN MID");
    for mid in [mixed, null, dsn_mid] {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    }

    // The DSN reaches the sender's next hop: from <>, to the sender, an
    // RFC 3464 report naming only the refused recipient, original attached.
    let dsns = w.sink.wait_for(1, SOON);
    let dsn = &dsns[0];
    assert_eq!(dsn.mail_from, "", "a DSN comes from the null sender");
    assert_eq!(dsn.rcpts, [SENDER]);
    let text = String::from_utf8_lossy(&dsn.raw);
    let content_type = dsn.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/report")
            && content_type.contains("report-type=delivery-status"),
        "DSN Content-Type: {content_type:?}"
    );
    for needle in [
        "Content-Type: message/delivery-status",
        "Final-Recipient: rfc822; nobody@bounce.test",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1",
        "Content-Type: message/rfc822",
        "Message-ID: <mixed@e2e.test>",
    ] {
        assert!(text.contains(needle), "DSN lacks {needle:?}:\n{text}");
    }
    assert!(
        !text.contains("Final-Recipient: rfc822; somebody@bounce.test"),
        "the DSN reports the delivered recipient as failed:\n{text}"
    );

    // No DSN for the null sender's message, then or later.
    assert!(
        w.gw.log_lines(&format!(r"generated for bounce of MID {null}\b"))
            .is_empty(),
        "a DSN was generated for a message from the null sender"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        w.sink.messages().len(),
        1,
        "more than the one DSN reached the sender's next hop"
    );
    // The only transaction from <> the exchanger saw is the null-sender
    // message itself, not a DSN about it.
    let from_null: Vec<serde_json::Value> = server
        .events_named("mail")
        .into_iter()
        .filter(|e| e["sender"] == "")
        .collect();
    assert_eq!(
        from_null.len(),
        1,
        "transactions from <> at the recipient's exchanger: {from_null:?}"
    );
}

fn row(host: &str, down: bool, counts: [u64; 5]) -> TophostsRow {
    TophostsRow {
        host: host.to_string(),
        down,
        active: counts[0],
        conn_out: counts[1],
        delivered: counts[2],
        soft: counts[3],
        hard: counts[4],
    }
}

fn sorted(mut rows: Vec<TophostsRow>) -> Vec<TophostsRow> {
    rows.sort_by(|a, b| a.host.cmp(&b.host));
    rows
}

/// `tophosts` and `status detail` against what the sinks and servers saw:
/// ok.test (smtp-sink) takes 4 recipients, soft.test refuses twice then
/// takes 1, hard.test refuses 1 (its DSN goes to example.com), down.test
/// has no one listening and retries only hourly.
#[test]
fn tophosts_and_status_detail_match_what_the_next_hops_saw() {
    let net = TestNet::new();
    let (ok_ip, soft_ip, hard_ip, down_ip) = (
        mx_ip(&net, 42),
        mx_ip(&net, 43),
        mx_ip(&net, 44),
        mx_ip(&net, 45),
    );
    let dns = Dns::builder(&net)
        .mx("ok.test", "mx.ok.test", 10)
        .host_record("mx.ok.test", ok_ip)
        .mx("soft.test", "mx.soft.test", 10)
        .host_record("mx.soft.test", soft_ip)
        .mx("hard.test", "mx.hard.test", 10)
        .host_record("mx.hard.test", hard_ip)
        .mx("down.test", "mx.down.test", 10)
        .host_record("mx.down.test", down_ip)
        .start();
    let w = world_with(net, dns);
    for cmd in [
        vec![
            "bounceconfig",
            "new",
            "hourly",
            "--initial_retry",
            "3600",
            "--max_retry_timeout",
            "3600",
        ],
        vec![
            "destconfig",
            "new",
            "down.test",
            "--bounce_profile",
            "hourly",
        ],
        vec!["commit", "e2e: down.test retries hourly"],
    ] {
        w.gw.cli_ok(&cmd);
    }
    let ok_sink = MxSink::start(ok_ip);
    let soft = Script::new(soft_ip, "mx.soft.test")
        .data(
            ".",
            &[
                "451 4.3.0 Try again later",
                "451 4.3.0 Try again later",
                "250 2.0.0 Ok: queued",
            ],
        )
        .start();
    let hard = Script::new(hard_ip, "mx.hard.test")
        .rcpt(".", &["550 5.1.1 User unknown"])
        .start();

    let mids = send_batch(
        &w,
        22,
        &[
            Outgoing::new(SENDER, &["a@ok.test"], "top-ok-1@e2e.test"),
            Outgoing::new(
                SENDER,
                &["b@ok.test", "c@ok.test", "d@ok.test"],
                "top-ok-2@e2e.test",
            ),
            Outgoing::new(SENDER, &["e@soft.test"], "top-soft@e2e.test"),
            Outgoing::new(SENDER, &["f@hard.test"], "top-hard@e2e.test"),
            Outgoing::new(SENDER, &["g@down.test"], "top-down@e2e.test"),
        ],
    );
    let down_mid = mids[4];
    for &mid in &mids[..4] {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    }
    w.gw.wait_for_log(
        &format!(r"Message {down_mid} to RID \[0\] pending till"),
        SOON,
    );
    let dsn = w.sink.wait_for(1, SOON);

    // What the peers saw.
    let ok_rcpts = ok_sink.recipient_count();
    let soft_codes = data_codes(&soft, "top-soft@e2e.test");
    let hard_refused = hard
        .events_named("rcpt")
        .iter()
        .filter(|e| e["code"] == 550)
        .count() as u64;
    assert_eq!(ok_rcpts, 4, "ok.test's sink: {:?}", ok_sink.messages());
    assert_eq!(soft_codes, [451, 451, 250]);
    assert_eq!(hard_refused, 1);
    assert_eq!(dsn.len(), 1);
    let soft_events = soft_codes.iter().filter(|c| **c / 100 == 4).count() as u64;

    let expected = sorted(vec![
        row("down.test", true, [1, 0, 0, 1, 0]),
        row("example.com", false, [0, 0, dsn.len() as u64, 0, 0]),
        row("hard.test", false, [0, 0, 0, 0, hard_refused]),
        row("ok.test", false, [0, 0, ok_rcpts as u64, 0, 0]),
        row("soft.test", false, [0, 0, 1, soft_events, 0]),
    ]);
    // Connections close just after the last delivery; wait for the table
    // to settle, then compare.
    let settled = wait_until(SOON, || {
        let rows = parse_tophosts(&w.gw.cli_ok(&["tophosts"]));
        (sorted(rows) == expected).then_some(())
    });
    let table = w.gw.cli_ok(&["tophosts"]);
    assert!(
        settled.is_some(),
        "tophosts does not match the next hops:\nexpected {expected:#?}\ngot:\n{table}"
    );
    // Default order: most active recipients first.
    assert_eq!(parse_tophosts(&table)[0].host, "down.test", "{table}");
    assert!(
        table.contains("*down.test"),
        "down.test is not marked '*':\n{table}"
    );
    let by_deliv = parse_tophosts(&w.gw.cli_ok(&["tophosts", "deliv"]));
    assert_eq!(by_deliv[0].host, "ok.test", "tophosts deliv: {by_deliv:?}");
    let by_soft = parse_tophosts(&w.gw.cli_ok(&["tophosts", "soft"]));
    assert_eq!(by_soft[0].host, "soft.test", "tophosts soft: {by_soft:?}");
    let by_hard = parse_tophosts(&w.gw.cli_ok(&["tophosts", "hard"]));
    assert_eq!(by_hard[0].host, "hard.test", "tophosts hard: {by_hard:?}");

    // status detail: the same numbers, in all three columns (a fresh
    // appliance: no reset, no earlier lifetime).
    let status = w.gw.cli_ok(&["status", "detail"]);
    let first_status = status.clone();
    let delivered = ok_rcpts as u64 + 1 + dsn.len() as u64;
    for (label, want) in [
        ("Recipients Delivered", delivered),
        ("Soft Bounced Events", soft_events + 1),
        ("Hard Bounced Recipients", hard_refused),
        ("DSNs Generated", 1),
    ] {
        assert_eq!(
            status_counter(&status, label),
            (want, want, want),
            "status detail '{label}' (reset, uptime, lifetime):\n{status}"
        );
    }
    assert_eq!(status_gauge(&status, "Recipients Active"), 1, "{status}");
    assert_eq!(status_gauge(&status, "Messages in Queue"), 1, "{status}");
    assert_eq!(status_gauge(&status, "Connections Out"), 0, "{status}");

    // hoststatus for the host that is down.
    let hs = w.gw.cli_ok(&["hoststatus", "down.test"]);
    assert!(
        regex::Regex::new(r"Host up/down:\s+down")
            .expect("regex")
            .is_match(&hs)
            && regex::Regex::new(r"Active Recipients\s+1\b")
                .expect("regex")
                .is_match(&hs),
        "hoststatus down.test:\n{hs}"
    );

    // resetcounters: the Reset column starts again, Uptime does not.
    w.gw.cli_ok(&["resetcounters"]);
    let status = w.gw.cli_ok(&["status", "detail"]);
    assert_eq!(
        status_counter(&status, "Recipients Delivered"),
        (0, delivered, delivered),
        "after resetcounters:\n{status}"
    );
    let rows = parse_tophosts(&w.gw.cli_ok(&["tophosts"]));
    assert_eq!(
        rows.iter()
            .map(|r| r.delivered + r.soft + r.hard)
            .sum::<u64>(),
        0,
        "tophosts counters after resetcounters: {rows:?}"
    );

    // The administrator gives up on down.test: the recipient bounces, its
    // DSN reaches the sender, the queue is empty.
    w.gw.cli_ok(&["bouncerecipients", "down.test"]);
    w.gw.wait_for_log(&format!(r"Message finished MID {down_mid} done"), SOON);
    let dsns = w.sink.wait_for(2, SOON);
    assert!(
        dsns.iter().any(|m| {
            String::from_utf8_lossy(&m.raw).contains("Final-Recipient: rfc822; g@down.test")
        }),
        "no DSN for the recipient bounced by the administrator"
    );
    let empty = wait_until(SOON, || {
        let s = w.gw.cli_ok(&["status", "detail"]);
        (status_gauge(&s, "Messages in Queue") == 0 && status_gauge(&s, "Recipients Active") == 0)
            .then_some(())
    });
    assert!(
        empty.is_some(),
        "queue not empty after bouncerecipients:\n{}",
        w.gw.cli_ok(&["status", "detail"])
    );

    // Received: what the listeners took in (5 messages, 7 recipients).
    // The DSN the gateway generated is not mail it received; AsyncOS
    // counts those apart ("Generated Bounce Recipients"), as "DSNs
    // Generated" does here. Checked last so the checks above run either way.
    for (label, want) in [
        ("Messages Received", mids.len() as u64),
        ("Recipients Received", 7),
    ] {
        assert_eq!(
            status_counter(&first_status, label),
            (want, want, want),
            "status detail '{label}' (reset, uptime, lifetime) after {} messages with 7 \
             recipients from clients and 1 generated DSN:\n{first_status}",
            mids.len()
        );
    }
}

/// Queue management on mail whose next hop is down and retried only
/// hourly: `showmessage`, `deletemessage` (no DSN), `delivernow` once the
/// exchanger is back (delivered without waiting an hour or a restart),
/// `redirectrecipients` to another host and `clear`.
#[test]
fn queue_management_show_delete_delivernow_and_redirect() {
    let net = TestNet::new();
    let (held_ip, other_ip) = (mx_ip(&net, 46), mx_ip(&net, 47));
    let dns = Dns::builder(&net)
        .mx("held.test", "mx.held.test", 10)
        .host_record("mx.held.test", held_ip)
        .mx("other.test", "mx.other.test", 10)
        .host_record("mx.other.test", other_ip)
        .start();
    let w = world_with(net, dns);
    for cmd in [
        vec![
            "bounceconfig",
            "new",
            "hourly",
            "--initial_retry",
            "3600",
            "--max_retry_timeout",
            "3600",
        ],
        vec![
            "destconfig",
            "new",
            "held.test",
            "--bounce_profile",
            "hourly",
        ],
        vec![
            "destconfig",
            "new",
            "other.test",
            "--bounce_profile",
            "hourly",
        ],
        vec!["commit", "e2e: hourly retries"],
    ] {
        w.gw.cli_ok(&cmd);
    }
    let mids = send_batch(
        &w,
        23,
        &[
            Outgoing::new(SENDER, &["keep@held.test"], "op-keep@e2e.test"),
            Outgoing::new(SENDER, &["drop@held.test"], "op-drop@e2e.test"),
            Outgoing::new(SENDER, &["moved@other.test"], "op-moved@e2e.test"),
        ],
    );
    let (keep, drop, moved) = (mids[0], mids[1], mids[2]);
    for mid in &mids {
        w.gw.wait_for_log(&format!(r"Message {mid} to RID \[0\] pending till"), SOON);
    }

    let shown = w.gw.cli_ok(&["showmessage", &keep.to_string()]);
    for needle in [
        format!("MID {keep}"),
        "<keep@held.test>".to_string(),
        "Pending".to_string(),
        "Subject: e2e op-keep@e2e.test".to_string(),
    ] {
        assert!(
            shown.contains(&needle),
            "showmessage lacks {needle:?}:\n{shown}"
        );
    }

    // deletemessage: gone, no DSN.
    w.gw.cli_ok(&["deletemessage", &drop.to_string()]);
    w.gw.wait_for_log(&format!(r"Message finished MID {drop} done"), SOON);
    assert!(
        w.gw.cli(&["showmessage", &drop.to_string()]).is_err(),
        "showmessage still finds a deleted message"
    );

    // The exchanger comes back; delivernow sends at once.
    let sink = MxSink::start(held_ip);
    w.gw.cli_ok(&["delivernow", "held.test"]);
    sink.wait_for_message_id("op-keep@e2e.test", SOON)
        .expect("delivernow held.test delivered the held message");
    w.gw.wait_for_log(&format!(r"Message finished MID {keep} done"), SOON);

    // redirectrecipients: the message for other.test goes to the day-one
    // sink instead of its (down) exchanger.
    let route = w.net.sink_route();
    w.gw.cli_ok(&["redirectrecipients", &route]);
    let m = w
        .sink
        .wait_for_message_id("op-moved@e2e.test", SOON)
        .expect("redirectrecipients sent the queued message to the given host");
    assert_eq!(m.rcpts, ["moved@other.test"]);
    w.gw.wait_for_log(&format!(r"Message finished MID {moved} done"), SOON);
    w.gw.cli_ok(&["redirectrecipients", "clear"]);

    assert!(
        w.gw.log_lines(r"was generated for bounce of MID")
            .is_empty(),
        "a DSN was generated (a deleted message does not bounce)"
    );
    assert_eq!(
        sink.messages().len(),
        1,
        "the deleted message was delivered after all"
    );
    let s = w.gw.cli_ok(&["status", "detail"]);
    assert_eq!(status_gauge(&s, "Messages in Queue"), 0, "{s}");
}
