//! The commands admins reach for during a cut-over, against a real
//! gateway, dnsmasq and smtp-sink: `rate`, `hoststatus`, `hostrate` and
//! `topin` after relaying mail; `nslookup` through the gateway's own
//! resolver and cache, and `dnsflush` (dnsmasq's query log shows which
//! lookups reached the server); `telnet` to the sink from the Data 2
//! address; `findevent` with AsyncOS's flags; `ping` and `traceroute`.

use breakwater_e2e::console::Console;
use breakwater_e2e::{Dns, SOON, SmtpConn, TestNet, World, wait_until};

/// Lines of dnsmasq's query log asking `name`'s A record.
fn a_queries(w: &World, name: &str) -> usize {
    w.dns
        .log()
        .lines()
        .filter(|l| l.contains(&format!("query[A] {name} ")))
        .count()
}

/// The whitespace-separated words of the last line of `out`.
fn last_words(out: &str) -> Vec<String> {
    out.lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn cutover_commands_answer_from_the_running_gateway() {
    let net = TestNet::new();
    let mta = net.client(9);
    let dns = Dns::builder(&net)
        .host_record("relay.cutover.test", net.sink_ip())
        .host_record("mta9.cutover.test", mta)
        .local_ttl(300)
        .start();
    let w = World::with_dns(net, dns);

    let first = w.deliver_inbound(w.net.client(5), "cut-1@internet.example", "Cutover report");
    let second = w.deliver_inbound(w.net.client(6), "cut-2@internet.example", "weekly NEWS");

    // rate: the totals since the start and their change over the interval.
    let rate = w.gw.cli_ok(&["rate", "1", "1"]);
    let head: Vec<&str> = rate.lines().take(2).collect();
    assert!(
        head[0].starts_with("Time") && head[0].contains("Connections"),
        "{rate}"
    );
    assert!(
        head[1].contains("Received") && head[1].contains("K-Bytes"),
        "{rate}"
    );
    let words = last_words(&rate);
    assert_eq!(words.len(), 8, "{rate}");
    // Received, then Completed: both messages had one recipient each.
    assert_eq!((words[3].as_str(), words[5].as_str()), ("2", "2"), "{rate}");
    assert!(w.gw.cli(&["rate", "0"]).is_err());

    // hoststatus and hostrate for the route's domain.
    let hs = w.gw.cli_ok(&["hoststatus", "example.com"]);
    for pattern in [
        r"Host up/down:\s+up",
        r"(?m)^      Delivered Recipients\s+2$",
        r"(?m)^    Completed Recipients\s+2$",
        r"(?m)^    Active Recipients\s+0$",
        r"No errors seen for this host\.",
    ] {
        assert!(
            regex::Regex::new(pattern).unwrap().is_match(&hs),
            "{pattern}:\n{hs}"
        );
    }
    let hr = w.gw.cli_ok(&["hostrate", "example.com", "1", "1"]);
    assert!(hr.starts_with("Host: example.com\n"), "{hr}");
    // Time, status, connections out, active and its delta, delivered and
    // its delta, hard and soft deltas.
    let words = last_words(&hr);
    assert_eq!(
        words[1..],
        ["up", "0", "0", "0", "2", "0", "0", "0"],
        "{hr}"
    );

    // topin: an open connection from a host whose PTR its A confirms.
    let (held, banner) = SmtpConn::connect(mta, w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    let topin = w.gw.cli_ok(&["topin"]);
    let row = topin
        .lines()
        .find(|l| l.contains(&mta.to_string()))
        .unwrap_or_else(|| panic!("no row for {mta}:\n{topin}"));
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "1",
            "mta9.cutover.test",
            &mta.to_string(),
            "IncomingMail",
            "1"
        ],
        "{topin}"
    );
    drop(held);

    // nslookup through the gateway's resolver: the second answer comes
    // from its cache; after dnsflush the server is asked again.
    let name = "relay.cutover.test";
    let answer = w.gw.cli_ok(&["nslookup", name]);
    assert_eq!(answer.trim_end(), format!("A={} TTL=5m", w.net.sink_ip()));
    assert!(wait_until(SOON, || (a_queries(&w, name) == 1).then_some(())).is_some());
    let again = w.gw.cli_ok(&["nslookup", name, "a"]);
    assert!(
        again.starts_with(&format!("A={} TTL=", w.net.sink_ip())),
        "{again}"
    );
    assert_eq!(
        w.gw.cli_ok(&["dnsflush"]).trim_end(),
        "The DNS cache has been flushed."
    );
    w.gw.cli_ok(&["nslookup", name]);
    assert!(
        wait_until(SOON, || (a_queries(&w, name) == 2).then_some(())).is_some(),
        "after dnsflush the server is asked again:\n{}",
        w.dns.log()
    );
    assert_eq!(
        a_queries(&w, name),
        2,
        "the second lookup was answered from the cache"
    );
    let nx = w.gw.cli(&["nslookup", "nowhere.cutover.test"]).unwrap_err();
    assert!(nx.contains("domain does not exist"), "{nx}");
    let status = w.gw.cli_ok(&["dnsstatus"]);
    assert!(
        status.contains(&format!(
            "Name servers:                {}",
            w.net.dns_addr()
        )),
        "{status}"
    );
    assert!(
        regex::Regex::new(r"(?m)^  Cache Flushes\s+1$")
            .unwrap()
            .is_match(&status),
        "{status}"
    );

    // telnet to the sink from the Data 2 address: its banner, then QUIT.
    let sink = w.net.sink_addr();
    let port = sink.port().to_string();
    let t = w.gw.cli_ok(&["telnet", name, &port, "Data", "2"]);
    assert!(
        t.contains(&format!(
            "Connected to {} from Data 2 ({}).",
            sink.ip(),
            w.net.data2()
        )),
        "{t}"
    );
    let lines: Vec<&str> = t.lines().collect();
    let banner = lines.iter().position(|l| l.starts_with("220 ")).expect(&t);
    assert_eq!(lines[banner + 1], "QUIT", "{t}");
    assert!(lines[banner + 2].starts_with("221"), "{t}");
    assert_eq!(lines.last(), Some(&"Connection closed."), "{t}");

    // findevent with AsyncOS's flags.
    let found = |args: &[&str]| {
        let mut a = vec!["findevent"];
        a.extend_from_slice(args);
        w.gw.cli_ok(&a)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        found(&["-m", &first.to_string(), "mail_logs"]),
        format!("1 message(s) found: MID {first}")
    );
    assert_eq!(
        found(&["-f", r"^sender@internet\.example$"]),
        format!("2 message(s) found: MID {first}, {second}")
    );
    assert_eq!(
        found(&["-s", "^Cutover"]),
        format!("1 message(s) found: MID {first}")
    );
    assert_eq!(found(&["-s", "news$"]), "No message in mail_logs matches.");
    assert_eq!(
        found(&["-i", "-s", "news$"]),
        format!("1 message(s) found: MID {second}")
    );
    assert_eq!(
        found(&["-t", "^alice@", "-s", "report"]),
        format!("1 message(s) found: MID {first}")
    );

    // ping: answered, or refused with how to allow it (the daemon is
    // unprivileged; the kernel's ping_group_range decides).
    match w.gw.cli(&["ping", "127.0.0.1", "1"]) {
        Ok(out) => assert!(
            out.contains("1 packets transmitted, 1 packets received"),
            "{out}"
        ),
        Err(e) => assert!(e.contains("net.ipv4.ping_group_range"), "{e}"),
    }
    let tr = w.gw.cli(&["traceroute", name]).unwrap_err();
    assert!(tr.starts_with("traceroute is not available"), "{tr}");

    // At the console, typed alone, they ask as AsyncOS's do.
    let mut con = Console::login_factory_admin(&w.gw, "a new passphrase for the cut-over");
    let hs = con.dialogue("hoststatus", &["example.com"]);
    assert!(hs.contains("Host mail status for: 'example.com'"), "{hs}");
    let ns = con.dialogue("nslookup", &[name, "1"]);
    assert!(ns.contains(&format!("A={} TTL=", w.net.sink_ip())), "{ns}");
    let t = con.dialogue("telnet", &["3", name, &port]);
    assert!(
        t.contains(&format!("from Data 2 ({})", w.net.data2())) && t.contains("221"),
        "{t}"
    );
    con.logout();
}
