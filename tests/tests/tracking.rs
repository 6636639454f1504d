//! Message tracking as the seeds' screenshots show it ("Validate your
//! RELAY Sender Group and Mail Flow Policy"): Microsoft 365 relays through
//! Data 2 (RELAY_O365, TLS Preferred, the seed's `office365_outbound`
//! filter); one message with the shared secret is delivered, one without
//! it is dropped on a connection the client leaves without QUIT, as
//! Microsoft 365 does. `findevent` prints the seeds' Processing Details
//! and summary for each.

use breakwater_e2e::{Dns, SOON, SmtpConn, Swaks, TestNet, World, mid_in_reply};
use regex::escape;

/// The "internet" domain; routed to the sink.
const PARTNER: &str = "partner.example";
const O365_HOST: &str = "mail-dm6nam12lp2175.outbound.protection.outlook.com";

/// The seed's filter, pasted at `filters new` and ended by a line holding `.`.
const SEED_FILTER: &str = r#"office365_outbound: if sendergroup == "RELAY_O365" {
  if header("X-OUTBOUND-AUTH") == "^mysecretkey$" {
    strip-header("X-OUTBOUND-AUTH");
  } else {
    drop();
  }
}
.
"#;

fn relay_world() -> World {
    let net = TestNet::new();
    let dns = Dns::builder(&net)
        .host_record(O365_HOST, net.client(10))
        .start();
    let w = World::with_dns(net, dns);
    let route = w.net.sink_route();
    for cmd in [
        vec![
            "listenerconfig",
            "edit",
            "OutgoingMail",
            "hostaccess",
            "new",
            "sendergroup",
            "RELAY_O365",
            ".protection.outlook.com",
            "--policy",
            "RELAYED",
        ],
        vec![
            "listenerconfig",
            "edit",
            "OutgoingMail",
            "hostaccess",
            "editpolicy",
            "RELAYED",
            "--tls",
            "preferred",
        ],
        vec!["smtproutes", "new", PARTNER, &route],
    ] {
        w.gw.cli_ok(&cmd);
    }
    w.gw.cli_input(&["filters", "new"], SEED_FILTER)
        .expect("filters new");
    w.gw.cli_ok(&["commit", "e2e: relay for Microsoft 365"]);
    w
}

/// The Processing Details of `findevent`'s answer, without their times
/// (`  14:14:59 text` -> `text`).
fn processing_details(out: &str) -> Vec<String> {
    let Some((_, details)) = out.split_once("Processing Details\n") else {
        panic!("no Processing Details in\n{out}");
    };
    details
        .lines()
        .filter_map(|l| {
            let (time, text) = l.trim_start().split_once(' ')?;
            (time.len() == 8 && time.as_bytes()[2] == b':').then(|| text.to_string())
        })
        .collect()
}

/// Every line of `expected`, in this order, among `details`.
fn assert_in_order(details: &[String], expected: &[String], out: &str) {
    let mut from = 0;
    for e in expected {
        let at = details[from..]
            .iter()
            .position(|d| d == e)
            .unwrap_or_else(|| panic!("no {e:?} (in order) in Processing Details:\n{out}"));
        from += at + 1;
    }
}

#[test]
fn findevent_shows_the_seeds_tracking_of_a_relayed_and_a_dropped_message() {
    let w = relay_world();
    let client = w.net.client(10);
    let data2 = w.net.data2().to_string();
    let ip = client.to_string();
    let to = format!("bob@{PARTNER}");

    // Delivered: the secret is right; swaks talks TLS and ends with QUIT.
    let out = Swaks::new(w.net.data2_smtp(), client)
        .from("alice@example.com")
        .to(&to)
        .tls()
        .arg("--header")
        .arg("Subject: OUTBOUND EMAIL TEST")
        .arg("--header")
        .arg("Message-Id: <outbound-tracking@e2e.test>")
        .arg("--add-header")
        .arg("X-OUTBOUND-AUTH: mysecretkey")
        .run();
    assert!(out.succeeded(), "{}", out.transcript);
    let delivered = out
        .data_reply()
        .and_then(|r| mid_in_reply(&r.text()))
        .unwrap_or_else(|| panic!("no MID in the 250:\n{}", out.transcript));
    w.sink
        .wait_for_message_id("outbound-tracking@e2e.test", SOON)
        .expect("relayed to the internet");
    w.gw.wait_for_log(&format!(r"Message finished MID {delivered} done$"), SOON);

    // Dropped: no secret, and the client goes away without QUIT.
    let (mut conn, banner) = SmtpConn::connect(client, w.net.data2_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert_eq!(conn.ehlo("o365.e2e.test").expect("EHLO").code, 250);
    conn.start_data("carol@example.com", &to);
    conn.send_raw(
        format!(
            "From: <carol@example.com>\r\nTo: <{to}>\r\nMessage-ID: <dropped-tracking@e2e.test>\r\n\
             Subject: OUTBOUND MAIL\r\n\r\nno secret\r\n.\r\n"
        )
        .as_bytes(),
    )
    .expect("data");
    let reply = conn.read_reply().expect("end of data");
    assert_eq!(reply.code, 250, "{reply}");
    let dropped = mid_in_reply(&reply.text()).expect("MID in the 250");
    drop(conn);
    w.gw.wait_for_log(
        &format!(
            "{}$",
            escape(&format!(
                "Message aborted MID {dropped} Dropped by filter 'office365_outbound'"
            ))
        ),
        SOON,
    );
    let lost = w.gw.wait_for_log(r"ICID \d+ lost$", SOON);
    let icid: u64 = lost
        .rsplit_once("ICID ")
        .and_then(|(_, r)| r.split(' ').next()?.parse().ok())
        .expect("ICID");

    // The delivered message, as the first screenshot shows it.
    let out = w.gw.cli_ok(&["findevent", "--mid", &delivered.to_string()]);
    let details = processing_details(&out);
    let first = details
        .iter()
        .find_map(|d| d.strip_prefix("Incoming connection (ICID "))
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no incoming connection in\n{out}"))
        .to_string();
    let tls = details
        .iter()
        .find(|d| {
            d.starts_with(&format!(
                "Incoming connection (ICID {first}) successfully accepted TLS protocol TLSv1."
            ))
        })
        .unwrap_or_else(|| panic!("no TLS line in\n{out}"))
        .clone();
    let m = delivered;
    assert_in_order(
        &details,
        &[
            format!(
                "Incoming connection (ICID {first}) has sender_group: RELAY_O365, sender_ip: {ip} and sbrs: not enabled"
            ),
            format!(
                "Protocol SMTP Interface Data 2 (IP {data2}) on incoming connection (ICID {first}) from sender IP {ip}. Reverse DNS host {O365_HOST} verified yes."
            ),
            format!(
                "(ICID {first}) RELAY sender group RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled"
            ),
            tls,
            format!("Message {m} Sender Domain: example.com"),
            format!("Start message {m} on incoming connection (ICID {first})."),
            format!(
                "Message {m} enqueued on incoming connection (ICID {first}) from alice@example.com."
            ),
            format!("Message {m} direction: outgoing"),
            format!("Message {m} on incoming connection (ICID {first}) added recipient ({to})."),
            format!("Message {m} contains message ID header '<outbound-tracking@e2e.test>'"),
            format!("Message {m} original subject on injection: OUTBOUND EMAIL TEST"),
            format!("Message {m} has sender_group: RELAY_O365, sender_ip: {ip} and sbrs: None"),
            format!(
                "(DCID {}) Delivery details: Message {m} sent to {to}",
                dcid_of(&out)
            ),
        ],
        &out,
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with(&format!("Message {m} ("))
                && d.ends_with("from alice@example.com ready.")),
        "no ready line in\n{out}"
    );
    // swaks ended with QUIT: closed, not lost.
    assert!(
        details.contains(&format!(
            "Incoming connection (ICID {first}) successfully closed."
        )),
        "{out}"
    );
    for row in [
        "  Last State: Delivered\n".to_string(),
        "  Message: Outgoing\n".to_string(),
        format!("  MID: {m}\n"),
        "  Sender: alice@example.com\n".to_string(),
        format!("  Recipient: {to}\n"),
        "  Subject: OUTBOUND EMAIL TEST\n".to_string(),
        "  Policy Match: DEFAULT\n".to_string(),
        format!("  Reverse DNS hostname: {O365_HOST} (verified)\n"),
        format!("  IP address: {ip}\n"),
        "  SBRS Score: None\n".to_string(),
        "  Sender Group: RELAY_O365\n".to_string(),
    ] {
        assert!(out.contains(&row), "no {row:?} in\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("  Time: ") && l.ends_with(" (GMT +00:00)")),
        "the time with its zone:\n{out}"
    );

    // The dropped one, as the second screenshot shows it.
    let out = w.gw.cli_ok(&["findevent", "--mid", &dropped.to_string()]);
    let details = processing_details(&out);
    let m = dropped;
    assert_in_order(
        &details,
        &[
            format!(
                "Incoming connection (ICID {icid}) has sender_group: RELAY_O365, sender_ip: {ip} and sbrs: not enabled"
            ),
            format!("Message {m} Sender Domain: example.com"),
            format!("Start message {m} on incoming connection (ICID {icid})."),
            format!(
                "Message {m} enqueued on incoming connection (ICID {icid}) from carol@example.com."
            ),
            format!("Message {m} direction: outgoing"),
            format!("Message {m} on incoming connection (ICID {icid}) added recipient ({to})."),
            format!("Message {m} contains message ID header '<dropped-tracking@e2e.test>'"),
            format!("Message {m} original subject on injection: OUTBOUND MAIL"),
            format!("Message {m} has sender_group: RELAY_O365, sender_ip: {ip} and sbrs: None"),
            format!("Message {m} aborted: Dropped by filter 'office365_outbound'"),
        ],
        &out,
    );
    assert!(
        details.contains(&format!("Incoming connection (ICID {icid}) lost.")),
        "{out}"
    );
    for row in [
        "  Last State: Dropped By Message Filters\n",
        "  Message: Outgoing\n",
        "  Policy Match: N/A\n",
        "  Sender Group: RELAY_O365\n",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }

    // --json carries the same (the web UI and the API read it).
    let json =
        w.gw.cli_ok(&["findevent", "--mid", &m.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let msg = &v["messages"][0];
    assert_eq!(msg["last_state"], "Dropped By Message Filters", "{msg}");
    assert_eq!(msg["direction"], "Outgoing", "{msg}");
    assert_eq!(msg["reverse_dns"], O365_HOST, "{msg}");
    assert!(
        msg["details"]
            .as_array()
            .expect("details")
            .iter()
            .any(|d| d["text"] == format!("Incoming connection (ICID {icid}) lost.")),
        "{msg}"
    );
}

/// The DCID of the delivery in `findevent`'s answer.
fn dcid_of(out: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            l.split_once("Delivery start DCID ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no delivery in\n{out}"))
}
