//! Mail policies end to end: recipients of one message that match
//! different incoming policies are split into one message per policy,
//! logged as AsyncOS logs it, and every recipient still gets the mail.

use breakwater_e2e::{SOON, World, mid_in_reply, simple_message, smtplib};
use regex::escape;

#[test]
fn recipients_of_different_policies_are_split_and_all_delivered() {
    let w = World::start();
    w.gw.cli_ok(&[
        "policyconfig",
        "new",
        "incoming",
        "SALES",
        "recipient",
        "sales@",
    ]);
    w.gw.cli_ok(&[
        "policyconfig",
        "edit",
        "incoming",
        "SALES",
        "threatdefense",
        "custom",
        "tdc@intake.example",
    ]);
    w.gw.cli_ok(&["commit", "e2e: SALES policy"]);
    let detail =
        w.gw.cli_ok(&["policyconfig", "detail", "incoming", "SALES"]);
    assert!(detail.contains("recipient sales@"), "{detail}");
    assert!(detail.contains("tdc@intake.example"), "{detail}");

    let msg = simple_message(
        "friend@internet.example",
        "bob@example.com",
        "split-me@e2e.test",
        "to two policies",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["bob@example.com", "sales@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    let mid = mid_in_reply(&data.text).expect("MID");

    let split = w.gw.wait_for_log(
        &format!(
            r"MID {mid} was split creating MID (\d+) due to a per-recipient policy SALES in the inbound table"
        ),
        SOON,
    );
    let new_mid: u64 = regex::Regex::new(r"creating MID (\d+)")
        .expect("regex")
        .captures(&split)
        .and_then(|c| c[1].parse().ok())
        .expect("new MID");
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {mid} matched all recipients for per-recipient policy DEFAULT in the inbound table"
        )),
        SOON,
    );
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {new_mid} matched all recipients for per-recipient policy SALES in the inbound table"
        )),
        SOON,
    );
    let both = w.sink.wait_for(2, SOON);
    let mut rcpts: Vec<String> = both.iter().flat_map(|m| m.rcpts.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["bob@example.com", "sales@example.com"]);
    w.gw.wait_for_log(&format!(r"Message finished MID {new_mid} done"), SOON);
}

#[test]
fn one_policy_for_every_recipient_means_no_split() {
    let w = World::start();
    let msg = simple_message(
        "friend@internet.example",
        "bob@example.com",
        "no-split@e2e.test",
        "one policy",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(7),
        "friend@internet.example",
        &["bob@example.com", "carol@example.com"],
        &msg,
        &[],
    );
    let mid = mid_in_reply(&smtplib::find(&res, "data").expect("DATA").text).expect("MID");
    w.gw.wait_for_log(
        &escape(&format!(
            "MID {mid} matched all recipients for per-recipient policy DEFAULT in the inbound table"
        )),
        SOON,
    );
    let m = w
        .sink
        .wait_for_message_id("no-split@e2e.test", SOON)
        .expect("delivered");
    assert_eq!(m.rcpts, ["bob@example.com", "carol@example.com"]);
    assert!(w.gw.log_lines(&format!("MID {mid} was split")).is_empty());
}
