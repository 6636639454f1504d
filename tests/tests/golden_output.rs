//! Golden transcripts of what an operator reads after one message with two
//! recipients went through: `tophosts`, `status detail`, `workqueue
//! status`, `hoststatus` and `findevent` (its mail_logs lines and tracking
//! summary). Volatile parts are normalised by `golden::normalise`;
//! `BREAKWATER_BLESS=1` rewrites `tests/golden/operator_transcript.txt`.
//!
//! `findevent`'s mail_logs lines are compared in sorted order: reception
//! and the work queue run concurrently, so where `ICID n close` falls
//! among the processing and delivery lines varies from run to run (the
//! lifecycle order itself is `inbound.rs`'s test).

use breakwater_e2e::{SOON, World, golden, mid_in_reply, smtplib};

#[test]
fn operator_views_of_one_delivered_message_match_the_golden_transcript() {
    let w = World::start();
    let msg = breakwater_e2e::simple_message(
        "carol@internet.example",
        "dave@example.com",
        "golden@e2e.test",
        "golden transcript",
    );
    let res = smtplib::send(
        w.net.data1_smtp(),
        w.net.client(5),
        "carol@internet.example",
        &["dave@example.com", "erin@example.com"],
        &msg,
        &[],
    );
    let data = smtplib::find(&res, "data").expect("DATA step");
    assert_eq!(data.code, Some(250), "{res:?}");
    let mid = mid_in_reply(&data.text).expect("250 names the MID");
    w.sink
        .wait_for_message_id("golden@e2e.test", SOON)
        .expect("delivered");
    // Everything settled: the message is finished and its connections closed.
    w.gw.wait_for_log(&format!(r"Message finished MID {mid} done"), SOON);
    w.gw.wait_for_log(r"ICID \d+ close", SOON);
    w.gw.wait_for_log(r"DCID \d+ close", SOON);

    let mut transcript = String::new();
    for cmd in [
        "tophosts".to_string(),
        "status detail".to_string(),
        "workqueue status".to_string(),
        "hoststatus example.com".to_string(),
        format!("findevent --mid {mid}"),
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        let mut out = w.gw.cli(&args).unwrap_or_else(|e| panic!("{cmd}: {e}"));
        if cmd.starts_with("findevent") {
            // The Message Tracking details after the summary line hold
            // times and sizes, in an order as concurrent as the log's:
            // tests/tests/tracking.rs checks them line by line.
            if let Some((head, _)) = out.split_once("\nMessage Tracking: MID ") {
                out = head.to_string();
            }
            out = with_sorted_log_lines(&out);
        }
        transcript.push_str(&format!("> {cmd}\n{out}"));
        if !out.ends_with('\n') {
            transcript.push('\n');
        }
    }
    golden::check("operator_transcript.txt", &golden::normalise(&transcript));
}

/// `findevent`'s answer with its block of mail_logs lines (between the
/// first blank line and the next) sorted.
fn with_sorted_log_lines(out: &str) -> String {
    let mut parts = out.splitn(3, "\n\n");
    let (Some(head), Some(lines), rest) = (parts.next(), parts.next(), parts.next()) else {
        return out.to_string();
    };
    let mut lines: Vec<&str> = lines.lines().collect();
    lines.sort_unstable();
    let mut sorted = format!("{head}\n\n{}", lines.join("\n"));
    if let Some(rest) = rest {
        sorted.push_str("\n\n");
        sorted.push_str(rest);
    }
    sorted
}
