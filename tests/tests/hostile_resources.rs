//! Resource exhaustion, on both listeners: huge header lines, thousands of
//! headers, a 60 MB message, 2,000 recipients, slowloris, thousands of idle
//! connections and 500 slow 10 MB senders. Each limit answers with its
//! reply, the mail daemon's memory stays bounded (read from
//! `/proc/<daemon pid>/status`), and a normal client is still served.

use std::io::Read;
use std::net::{SocketAddrV4, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use breakwater_e2e::hostile::{
    RssSampler, Side, assert_both_served, assert_served, assert_sink_holds_exactly, daemon_rss_kib,
    hostile_world, open, replies_until_close, spread_client,
};
use breakwater_e2e::{SOON, SmtpConn, World, simple_message, wait_until};

/// The memory target of issue 12: the mail daemon's resident set stays
/// under this whatever the internet sends.
const RSS_TARGET_KIB: u64 = 256 * 1024;

/// How much the daemon may grow while one oversize message streams in: its
/// buffers, not the message (the largest one sent is 60 MB).
const RSS_SLACK_KIB: u64 = 32 * 1024;

/// A message with `headers` extra header lines before the body.
fn with_headers(id: &str, headers: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: <tester@internet.example>\r\nTo: <alice@example.com>\r\n");
    m.extend_from_slice(format!("Message-ID: <{id}>\r\nSubject: headers\r\n").as_bytes());
    m.extend_from_slice(headers);
    m.extend_from_slice(b"\r\nbody\r\n");
    m
}

/// MAIL, RCPT, DATA, `message` in 1 MiB writes, the end of data; the reply
/// to it, then QUIT must be answered (the session survives a refusal).
fn send_raw_message(w: &World, side: Side, x: u8, message: &[u8]) -> breakwater_e2e::Reply {
    let mut conn = open(w, side, x);
    conn.start_data("tester@internet.example", "alice@example.com");
    for chunk in message.chunks(1 << 20) {
        conn.send_raw(chunk).expect("message data");
    }
    let reply = conn.cmd(".").expect("reply to the end of data");
    let quit = conn.cmd("QUIT").expect("QUIT");
    assert_eq!(quit.code, 221, "{side}: the session continues: {quit}");
    reply
}

fn assert_552_5_3_4(case: &str, reply: &breakwater_e2e::Reply) {
    assert_eq!(reply.code, 552, "{case}: {reply}");
    assert!(
        reply.text().starts_with("5.3.4"),
        "{case}: enhanced status 5.3.4: {reply}"
    );
}

#[test]
fn header_line_over_100_kib_and_10000_headers_get_552_5_3_4_on_both_listeners() {
    let w = hostile_world();
    let long_line = format!("X-Long: {}\r\n", "h".repeat(101 * 1024));
    let many: String = (0..10_000)
        .map(|i| format!("X-Many-{i}: header {i}\r\n"))
        .collect();
    for side in Side::BOTH {
        let reply = send_raw_message(
            &w,
            side,
            30,
            &with_headers("long-header-line@e2e.test", long_line.as_bytes()),
        );
        assert_552_5_3_4(&format!("{side}, a 101 KiB header line"), &reply);
        let reply = send_raw_message(
            &w,
            side,
            31,
            &with_headers("ten-thousand-headers@e2e.test", many.as_bytes()),
        );
        assert_552_5_3_4(&format!("{side}, 10,000 headers"), &reply);
    }
    let mut expected = Vec::new();
    assert_both_served(&w, "headers", (32, 33), &mut expected);
    assert_sink_holds_exactly(&w, &expected, &[]);
}

/// A message that already passed 100 MTAs is a mail loop: refused with
/// 554 5.4.6 (Postfix's hopcount_limit, as `listenerconfig setup
/// --max-hops`), so the sender's MTA bounces it instead of it circling.
#[test]
fn a_message_with_100_received_headers_is_refused_as_a_mail_loop_on_both_listeners() {
    let w = hostile_world();
    let hops: String = (0..100)
        .map(|i| format!("Received: from hop{i}.example by hop{}.example; Mon, 1 Dec 2026 00:00:00 +0000\r\n", i + 1))
        .collect();
    for (side, x) in [(Side::Incoming, 34), (Side::Outgoing, 35)] {
        let reply = send_raw_message(
            &w,
            side,
            x,
            &with_headers("looping@e2e.test", hops.as_bytes()),
        );
        assert_eq!(reply.code, 554, "{side}: {reply:?}");
        assert!(reply.text().contains("5.4.6"), "{side}: {reply:?}");
    }
    // 99 hops are still mail.
    let fewer: String = hops.lines().take(99).map(|l| format!("{l}\r\n")).collect();
    let reply = send_raw_message(
        &w,
        Side::Incoming,
        36,
        &with_headers("ninety-nine-hops@e2e.test", fewer.as_bytes()),
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    assert_sink_holds_exactly(&w, &["ninety-nine-hops@e2e.test".to_string()], &[]);
}

#[test]
fn message_of_60_mb_gets_552_5_3_4_and_the_daemon_does_not_grow() {
    let w = hostile_world();
    // RELAYED takes 100M by default; 50M is what AsyncOS's docs suggest.
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "editpolicy",
        "RELAYED",
        "--max-message-size",
        "50M",
    ]);
    w.gw.cli_ok(&["commit", "e2e: RELAYED takes 50M"]);
    let mut message = with_headers("sixty-mb@e2e.test", b"");
    let line = format!("{}\r\n", "z".repeat(998));
    while message.len() < 60_000_000 {
        message.extend_from_slice(line.as_bytes());
    }
    for side in Side::BOTH {
        let before = daemon_rss_kib(&w);
        let sampler = RssSampler::daemon(&w);
        let reply = send_raw_message(&w, side, 34, &message);
        let (peak, _) = sampler.finish();
        assert_552_5_3_4(&format!("{side}, 60 MB"), &reply);
        assert!(
            peak < before + RSS_SLACK_KIB,
            "{side}: the daemon grew from {before} KiB to {peak} KiB while a 60 MB message streamed in"
        );
    }
    let mut expected = Vec::new();
    assert_both_served(&w, "60mb", (35, 36), &mut expected);
    assert_sink_holds_exactly(&w, &expected, &[]);
}

#[test]
fn two_thousand_recipients_get_452_4_5_3_past_the_policy_limit_on_both_listeners() {
    let w = hostile_world();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "OutgoingMail",
        "hostaccess",
        "editpolicy",
        "RELAYED",
        "--max-recipients",
        "1000",
    ]);
    w.gw.cli_ok(&["commit", "e2e: RELAYED takes 1000 recipients"]);
    let mut expected = Vec::new();
    // ACCEPTED keeps AsyncOS's 50 recipients per message.
    for (side, limit, x) in [(Side::Incoming, 50, 37), (Side::Outgoing, 1000, 38)] {
        let mut conn = open(&w, side, x);
        assert_eq!(
            conn.cmd("MAIL FROM:<tester@internet.example>")
                .expect("MAIL")
                .code,
            250
        );
        // Pipelined (PIPELINING is advertised), 100 RCPTs per write.
        let mut codes = Vec::new();
        for batch in 0..20 {
            let lines: String = (0..100)
                .map(|i| format!("RCPT TO:<r{}@example.com>\r\n", batch * 100 + i))
                .collect();
            conn.send_raw(lines.as_bytes()).expect("RCPT batch");
            for _ in 0..100 {
                let r = conn.read_reply().expect("reply to RCPT");
                if r.code == 452 {
                    assert!(r.text().starts_with("4.5.3"), "{side}: {r}");
                }
                codes.push(r.code);
            }
        }
        let accepted = codes.iter().filter(|&&c| c == 250).count();
        assert_eq!(accepted, limit, "{side}: RCPTs accepted up to the limit");
        assert!(
            codes[..limit].iter().all(|&c| c == 250) && codes[limit..].iter().all(|&c| c == 452),
            "{side}: 250 up to {limit}, then 452: {codes:?}"
        );
        let id = format!("two-thousand-{}@e2e.test", side.listener().to_lowercase());
        assert_eq!(conn.cmd("DATA").expect("DATA").code, 354);
        conn.send_raw(&simple_message(
            "tester@internet.example",
            "r0@example.com",
            &id,
            "many recipients",
        ))
        .expect("message");
        assert_eq!(conn.cmd(".").expect("end of data").code, 250, "{side}");
        assert_eq!(conn.cmd("QUIT").expect("QUIT").code, 221);
        let m = w
            .sink
            .wait_for_message_id(&id, SOON)
            .unwrap_or_else(|| panic!("{side}: the message reaches the next hop"));
        let mut got = m.rcpts.clone();
        got.sort();
        let mut want: Vec<String> = (0..limit).map(|i| format!("r{i}@example.com")).collect();
        want.sort();
        assert_eq!(got, want, "{side}: delivered to the accepted recipients");
        expected.push(id);
    }
    assert_both_served(&w, "rcpts", (39, 40), &mut expected);
    assert_sink_holds_exactly(&w, &expected, &[]);
}

/// How a slowloris client fared.
#[derive(Debug)]
struct Slowloris {
    bytes_sent: usize,
    /// The reply the gateway sent before closing, if any.
    reply: Option<breakwater_e2e::Reply>,
    closed: bool,
}

/// One byte a second, in the command phase or (after DATA's 354) in the
/// message, until the gateway closes the connection or `max_bytes` are
/// sent. The one-second read between bytes is the pacing.
fn slowloris(server: SocketAddrV4, source: std::net::Ipv4Addr, in_data: bool) -> Slowloris {
    let (mut conn, banner) = SmtpConn::connect(source, server).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert_eq!(conn.ehlo("slow.e2e.test").expect("EHLO").code, 250);
    if in_data {
        conn.start_data("slow@internet.example", "alice@example.com");
    }
    let max_bytes = 100;
    let payload = b"X-Slow-Header-That-Never-Ends: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    while sent < max_bytes {
        if conn.send_raw(&payload[sent..=sent]).is_err() {
            return Slowloris {
                bytes_sent: sent,
                reply: None,
                closed: true,
            };
        }
        sent += 1;
        let (replies, closed) = replies_until_close(&mut conn, Duration::from_secs(1));
        if closed || !replies.is_empty() {
            let (_, closed_after) = replies_until_close(&mut conn, Duration::from_secs(5));
            return Slowloris {
                bytes_sent: sent,
                reply: replies.into_iter().next(),
                closed: closed || closed_after,
            };
        }
    }
    Slowloris {
        bytes_sent: sent,
        reply: None,
        closed: false,
    }
}

#[test]
fn slowloris_at_one_byte_a_second_is_cut_off_by_the_session_timeouts() {
    let w = hostile_world();
    // Short timeouts so the test waits seconds, not the 15-minute default.
    for side in Side::BOTH {
        w.gw.cli_ok(&[
            "listenerconfig",
            "edit",
            side.listener(),
            "setup",
            "--idle-timeout",
            "10",
            "--unsuccessful-timeout",
            "20",
            "--total-timeout",
            "20",
        ]);
    }
    w.gw.cli_ok(&["commit", "e2e: short session timeouts"]);
    let mut threads = Vec::new();
    for (i, side) in Side::BOTH.into_iter().enumerate() {
        for in_data in [false, true] {
            let server = side.addr(&w);
            let source = w
                .net
                .client(60 + u8::try_from(i * 2).expect("small") + u8::from(in_data));
            threads.push((
                side,
                in_data,
                std::thread::spawn(move || slowloris(server, source, in_data)),
            ));
        }
    }
    // While they drip, a normal client is served on both listeners.
    let mut expected = Vec::new();
    assert_both_served(&w, "slowloris", (70, 71), &mut expected);
    for (side, in_data, t) in threads {
        let case = format!(
            "{side}, slowloris in the {}",
            if in_data { "message" } else { "command phase" }
        );
        let s = t.join().expect("slowloris thread");
        assert!(
            s.closed,
            "{case}: still open after {} bytes at 1 byte/s: {s:?}",
            s.bytes_sent
        );
        if let Some(r) = &s.reply {
            assert_eq!(r.code, 421, "{case}: the timeout reply: {r}");
            assert!(r.text().starts_with("4.4.2"), "{case}: 4.4.2: {r}");
        }
    }
    assert_sink_holds_exactly(&w, &expected, &[]);
}

/// Raises this process's soft open-file limit to its hard limit; returns
/// the soft limit in effect.
fn raise_nofile_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// A connection from `source` that reads the greeting's code and then says
/// nothing: one file descriptor per connection (an [`SmtpConn`] holds two).
fn idle_connection(
    source: std::net::Ipv4Addr,
    server: SocketAddrV4,
) -> std::io::Result<(TcpStream, u16)> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddrV4::new(source, 0).into())?;
    sock.connect_timeout(&server.into(), Duration::from_secs(30))?;
    let mut stream: TcpStream = sock.into();
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut greeting = [0u8; 512];
    let n = stream.read(&mut greeting)?;
    let code = std::str::from_utf8(&greeting[..n.min(3)])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((stream, code))
}

fn daemon_open_files(w: &World) -> usize {
    let pid = w.gw.daemon_pid().expect("the mail daemon runs");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .unwrap_or(0)
}

#[test]
fn ten_thousand_idle_connections_are_capped_and_the_gateway_keeps_serving() {
    let w = hostile_world();
    // What this process may open, with room for the harness's own files.
    let target = usize::try_from(raise_nofile_limit())
        .unwrap_or(usize::MAX)
        .saturating_sub(1_000)
        .min(10_000);
    let daemon = w.gw.daemon_pid().expect("daemon");
    let server = w.net.data1_smtp();
    // IncomingMail takes 300 connections; ACCEPTED 10 per IP. 100 client
    // addresses, 4 threads opening connections and holding them idle.
    let greeted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sources: Vec<_> = (0..target)
                .filter(|i| i % 4 == t)
                .map(|i| spread_client(&w, 100, i % 100, 1))
                .collect();
            let (g, r, f) = (
                Arc::clone(&greeted),
                Arc::clone(&refused),
                Arc::clone(&failed),
            );
            std::thread::spawn(move || {
                let mut held: Vec<TcpStream> = Vec::new();
                for source in sources {
                    match idle_connection(source, server) {
                        Ok((stream, code)) => {
                            if code == 220 {
                                g.fetch_add(1, Ordering::SeqCst);
                            } else {
                                r.fetch_add(1, Ordering::SeqCst);
                            }
                            held.push(stream);
                        }
                        Err(_) => {
                            f.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                held
            })
        })
        .collect();
    let held: Vec<Vec<TcpStream>> = threads
        .into_iter()
        .map(|t| t.join().expect("connection thread"))
        .collect();
    let (greeted, refused, failed) = (
        greeted.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
    );
    let count = format!(
        "{target} connections: {greeted} greeted, {refused} refused at connect, {failed} failed"
    );
    assert!(
        greeted <= 300,
        "IncomingMail takes at most 300 connections: {count}"
    );
    assert!(greeted > 0, "{count}");
    assert_eq!(
        w.gw.daemon_pid(),
        Some(daemon),
        "the mail daemon must survive: {count}"
    );
    let files = daemon_open_files(&w);
    assert!(
        files < 300 + 200,
        "the daemon holds {files} files for at most 300 sessions: {count}"
    );
    assert!(daemon_rss_kib(&w) < RSS_TARGET_KIB, "{count}");
    // The private listener is not starved by the public one's crowd.
    let mut expected = vec!["served-idle-outgoing@e2e.test".to_string()];
    assert_served(&w, Side::Outgoing, 90, &expected[0]);
    drop(held);
    // Slots free up once the crowd hangs up.
    let probe = w.net.client(91);
    let freed = wait_until(SOON, || {
        let (mut c, banner) = SmtpConn::connect(probe, server).ok()?;
        let _ = c.cmd("QUIT");
        (banner.code == 220).then_some(())
    });
    assert!(freed.is_some(), "IncomingMail never took connections again");
    expected.push("served-idle-incoming@e2e.test".to_string());
    assert_served(&w, Side::Incoming, 92, &expected[1]);
    assert_sink_holds_exactly(&w, &expected, &[]);
}

/// Connections in the memory test, and what each sends at most.
const SLOW_SENDERS: usize = 500;
const SLOW_MESSAGE_BYTES: usize = 10 * 1000 * 1000;
const SLOW_CHUNK: usize = 64 * 1024;
const SLOW_THREADS: usize = 10;
/// How long the senders stream: 500 × 10 MB is 5 GB, more than a debug
/// build on two shared cores takes in the time a test may run, so each
/// sender stops at 10 MB or after this long, whichever comes first (the
/// volume actually sent is printed).
const SLOW_STREAM_FOR: Duration = Duration::from_secs(30);

/// One slow sender's fate.
#[derive(Debug, Default, Clone, Copy)]
struct SlowOutcome {
    /// DATA was answered 354: the sender was in its message.
    in_data: bool,
    /// Message bytes written before it stopped.
    bytes: usize,
    /// The gateway cut it off (write failed).
    cut_off: bool,
    /// The reply that kept it out of DATA, if one came.
    refused: Option<u16>,
}

#[test]
fn five_hundred_slow_10_mb_senders_keep_the_daemon_under_256_mib() {
    let w = hostile_world();
    w.gw.cli_ok(&[
        "listenerconfig",
        "edit",
        "IncomingMail",
        "setup",
        "--max-concurrency",
        "1000",
    ]);
    w.gw.cli_ok(&["commit", "e2e: room for 500 senders"]);
    let server = w.net.data1_smtp();
    let sampler = RssSampler::daemon(&w);
    let line = format!("{}\r\n", "m".repeat(1000));
    let chunk: Arc<Vec<u8>> = Arc::new(line.as_bytes().repeat(SLOW_CHUNK / line.len()));
    let per_thread = SLOW_SENDERS / SLOW_THREADS;
    // Every thread connects all its senders before any starts to stream.
    let ready = Arc::new(std::sync::Barrier::new(SLOW_THREADS + 1));
    // 50 client addresses, 10 connections each (ACCEPTED's per-IP limit).
    let threads: Vec<_> = (0..SLOW_THREADS)
        .map(|t| {
            let sources: Vec<_> = (0..per_thread)
                .map(|i| spread_client(&w, 100, t * per_thread + i, 10))
                .collect();
            let chunk = Arc::clone(&chunk);
            let ready = Arc::clone(&ready);
            std::thread::spawn(move || slow_senders(server, &sources, &chunk, &ready))
        })
        .collect();
    // Once every sender is in its message and streaming, a well-behaved
    // client.
    ready.wait();
    std::thread::sleep(Duration::from_secs(5));
    assert_served(&w, Side::Incoming, 200, "served-during-flood@e2e.test");
    // The administrator's view of the same: `status` counts each sender's
    // read buffer and message buffer against the reception budget.
    let status = w.gw.cli_ok(&["status"]);
    let in_use: u64 = status
        .lines()
        .find_map(|l| l.trim().strip_prefix("Reception memory: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no reception memory line in status: {status}"));
    // (Half of them, at least: a sender may already be done.)
    assert!(
        in_use >= (SLOW_SENDERS as u64 / 2) * 64,
        "senders in DATA hold at least 64 KiB each: {status}"
    );
    let outcomes: Vec<SlowOutcome> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("sender thread"))
        .collect();
    let (peak, hwm) = sampler.finish();
    let in_data = outcomes.iter().filter(|o| o.in_data).count();
    let cut_off = outcomes.iter().filter(|o| o.cut_off).count();
    let total: usize = outcomes.iter().map(|o| o.bytes).sum();
    let least = outcomes.iter().map(|o| o.bytes).min().unwrap_or(0);
    let refused: Vec<u16> = outcomes.iter().filter_map(|o| o.refused).collect();
    let summary = format!(
        "{in_data} senders in DATA at once sent {} MB in all (the least {} KB), {cut_off} cut off, refused with {refused:?}; daemon VmRSS peak {peak} KiB, VmHWM {hwm} KiB",
        total / 1_000_000,
        least / 1000
    );
    eprintln!("{summary}");
    // 500 sessions fit the default reception budget (64 MiB): none is
    // deferred, each streams to the spool.
    assert_eq!(in_data, SLOW_SENDERS, "every sender gets 354: {summary}");
    assert_eq!(cut_off, 0, "no sender is cut off: {summary}");
    assert!(least > 0, "every sender streamed: {summary}");
    assert!(peak < RSS_TARGET_KIB, "{summary}");
    assert!(hwm < RSS_TARGET_KIB, "{summary}");
    assert_served(&w, Side::Incoming, 201, "served-after-flood@e2e.test");
    assert_served(&w, Side::Outgoing, 202, "served-after-flood-out@e2e.test");
    assert_sink_holds_exactly(
        &w,
        &[
            "served-during-flood@e2e.test".to_string(),
            "served-after-flood@e2e.test".to_string(),
            "served-after-flood-out@e2e.test".to_string(),
        ],
        &[],
    );
}

/// Opens one connection per source and starts a transaction on each
/// (then waits at `ready` for the other threads), then feeds them `chunk` by
/// `chunk` in turn until each has sent [`SLOW_MESSAGE_BYTES`] or
/// [`SLOW_STREAM_FOR`] is over; never sends the final dot, and hangs up.
fn slow_senders(
    server: SocketAddrV4,
    sources: &[std::net::Ipv4Addr],
    chunk: &[u8],
    ready: &std::sync::Barrier,
) -> Vec<SlowOutcome> {
    let mut outcomes = vec![SlowOutcome::default(); sources.len()];
    let mut streams: Vec<Option<SmtpConn>> = Vec::new();
    for (i, &source) in sources.iter().enumerate() {
        let Ok((mut conn, banner)) = SmtpConn::connect(source, server) else {
            streams.push(None);
            continue;
        };
        let mut start = || -> Option<u16> {
            if banner.code != 220 {
                return Some(banner.code);
            }
            conn.ehlo("slow.e2e.test").ok()?;
            conn.cmd("MAIL FROM:<slow@internet.example>").ok()?;
            conn.cmd("RCPT TO:<alice@example.com>").ok()?;
            Some(conn.cmd("DATA").ok()?.code)
        };
        let code = start();
        if code == Some(354) {
            outcomes[i].in_data = true;
            streams.push(Some(conn));
        } else {
            outcomes[i].refused = code;
            streams.push(None);
        }
    }
    ready.wait();
    let deadline = Instant::now() + SLOW_STREAM_FOR;
    let rounds = SLOW_MESSAGE_BYTES.div_ceil(chunk.len());
    for _ in 0..rounds {
        if Instant::now() >= deadline {
            break;
        }
        for (i, slot) in streams.iter_mut().enumerate() {
            let Some(conn) = slot else { continue };
            if conn.send_raw(chunk).is_err() {
                outcomes[i].cut_off = true;
                *slot = None;
            } else {
                outcomes[i].bytes += chunk.len();
            }
        }
    }
    outcomes
}
