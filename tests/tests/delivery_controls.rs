//! Destination controls (`destconfig`) as the next hop sees them: at most
//! N simultaneous connections, at most N messages per connection, at most
//! N recipients per time window. The scripted server counts connections
//! and transactions; it answers DATA slowly so that a backlog builds up.

use std::time::{Duration, Instant};

use breakwater_e2e::{
    Dns, Outgoing, SOON, Script, TestNet, World, allow_loopback_next_hops,
    allow_relay_from_clients, mx_ip, send_batch, wait_until,
};

const SENDER: &str = "alice@example.com";

fn world_with(net: TestNet, dns: Dns, destconfig: &[&str]) -> World {
    let w = World::with_dns(net, dns);
    // The mail exchangers of these tests listen on loopback.
    allow_loopback_next_hops(&w.gw);
    allow_relay_from_clients(&w);
    let mut cmd = vec!["destconfig", "new"];
    cmd.extend_from_slice(destconfig);
    w.gw.cli_ok(&cmd);
    w.gw.cli_ok(&["commit", "e2e: destination controls"]);
    let list = w.gw.cli_ok(&["destconfig", "list"]);
    assert!(
        list.contains(destconfig[0]),
        "destconfig list lacks {}:\n{list}",
        destconfig[0]
    );
    w
}

fn batch(domain: &str, prefix: &str, n: usize) -> Vec<Outgoing> {
    (0..n)
        .map(|i| {
            Outgoing::new(
                SENDER,
                &[&format!("user{i}@{domain}")],
                &format!("{prefix}-{i}@e2e.test"),
            )
        })
        .collect()
}

#[test]
fn max_host_concurrency_caps_simultaneous_connections() {
    const N: usize = 12;
    let net = TestNet::new();
    let ip = mx_ip(&net, 60);
    let dns = Dns::builder(&net)
        .mx("conc.test", "mx.conc.test", 10)
        .host_record("mx.conc.test", ip)
        .start();
    let w = world_with(net, dns, &["conc.test", "--max_host_concurrency", "2"]);
    // Each DATA takes 1 s: with 12 messages queued, an unlimited gateway
    // would open many connections at once.
    let server = Script::new(ip, "mx.conc.test")
        .data_delay(Duration::from_secs(1))
        .start();
    let _ = send_batch(&w, 40, &batch("conc.test", "conc", N));
    server.wait_for_accepted(N, SOON);

    let max = server.max_open();
    assert!(
        max <= 2,
        "the next hop saw {max} simultaneous connections with --max_host_concurrency 2:\n{}",
        server.event_tail(60)
    );
    assert_eq!(
        max, 2,
        "only ever one connection at a time: the backlog of {N} slow messages should use both \
         allowed connections"
    );
    let mut ids = server.accepted_ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "each message exactly once: {ids:?}");
    assert_eq!(server.accepted().len(), N, "duplicate deliveries");
}

#[test]
fn max_messages_per_connection_closes_and_reconnects() {
    const N: usize = 8;
    let net = TestNet::new();
    let ip = mx_ip(&net, 61);
    let dns = Dns::builder(&net)
        .mx("batch.test", "mx.batch.test", 10)
        .host_record("mx.batch.test", ip)
        .start();
    let w = world_with(
        net,
        dns,
        &[
            "batch.test",
            "--max_messages_per_connection",
            "3",
            "--max_host_concurrency",
            "1",
        ],
    );
    let server = Script::new(ip, "mx.batch.test")
        .data_delay(Duration::from_millis(500))
        .start();
    let _ = send_batch(&w, 41, &batch("batch.test", "batch", N));
    server.wait_for_accepted(N, SOON);
    // The last connection is closed after its last message.
    let _ = wait_until(SOON, || {
        let e = server.events();
        (e.iter().filter(|e| e["ev"] == "connect").count()
            == e.iter().filter(|e| e["ev"] == "close").count())
        .then_some(())
    });

    let conns = server.connections();
    let per_conn: Vec<usize> = conns.iter().map(|c| c.mails).collect();
    assert!(
        per_conn.iter().all(|&n| n <= 3),
        "more than 3 transactions on one connection with --max_messages_per_connection 3: \
         {per_conn:?}"
    );
    assert!(
        per_conn.contains(&3),
        "no connection carried 3 messages although {N} slow messages were queued (the limit \
         is not the reason for reconnecting): {per_conn:?}"
    );
    assert_eq!(per_conn.iter().sum::<usize>(), N, "{per_conn:?}");
    assert!(
        server.max_open() <= 1,
        "--max_host_concurrency 1, yet {} connections at once",
        server.max_open()
    );
    // A connection that reached the limit said QUIT.
    let quits = server.events_named("quit").len();
    assert_eq!(quits, conns.len(), "connections closed without QUIT");
}

/// `--recipient_limit 2 --recipient_minutes 1`: two recipients go at
/// once, the third waits for the window (about a minute) and is then
/// delivered, not lost.
#[test]
fn recipient_limit_holds_the_third_recipient_until_the_window_moves_on() {
    let net = TestNet::new();
    let ip = mx_ip(&net, 62);
    let dns = Dns::builder(&net)
        .mx("rate.test", "mx.rate.test", 10)
        .host_record("mx.rate.test", ip)
        .start();
    let w = world_with(
        net,
        dns,
        &[
            "rate.test",
            "--recipient_limit",
            "2",
            "--recipient_minutes",
            "1",
        ],
    );
    let server = Script::new(ip, "mx.rate.test").start();
    let start = Instant::now();
    let mids = send_batch(&w, 42, &batch("rate.test", "rate", 3));
    server.wait_for_accepted(2, SOON);
    let line = w.gw.wait_for_log(
        r"DCID \d+ recipient limit for rate\.test reached; delivery resumes in \d+s",
        SOON,
    );
    std::thread::sleep(Duration::from_secs(5));
    let early = server.accepted();
    assert_eq!(
        early.len(),
        2,
        "with 2 recipients per minute, {} were delivered within {:?}: {early:?}",
        early.len(),
        start.elapsed()
    );
    let resumes: u64 = regex::Regex::new(r"resumes in (\d+)s")
        .expect("regex")
        .captures(&line)
        .and_then(|c| c[1].parse().ok())
        .expect("seconds in the log line");
    assert!(
        (40..=61).contains(&resumes),
        "the window is a minute, yet delivery resumes in {resumes}s: {line}"
    );

    // The held recipient goes when the window has moved on.
    let all = server.wait_for_accepted(3, Duration::from_secs(90));
    let third = all[2]["t"].as_f64().unwrap_or(0.0) - all[0]["t"].as_f64().unwrap_or(0.0);
    assert!(
        third >= 55.0,
        "the third recipient went {third:.1}s after the first; the window is 60 s"
    );
    for mid in mids {
        w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    }
}
