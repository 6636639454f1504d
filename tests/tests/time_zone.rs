//! The seeds' `settz` and `sethostname esa1.your_domain.com`, committed on
//! a running gateway: the `status` and `tophosts` headers name the zone
//! (`CST`), the banner and the `Received:` header carry the underscore
//! name, the `Received:` date has Chicago's offset, and message tracking
//! shows the time with it.

use breakwater_e2e::{SOON, SmtpConn, World};
use regex::Regex;

/// A header time in Chicago, winter or summer: `Sun Dec  6 10:36:48 2026 CST`.
const CHICAGO_TIME: &str = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} C[SD]T";

#[test]
fn settz_and_the_seeds_host_name_reach_headers_tracking_and_the_smtp_dialogue() {
    let w = World::start();
    let staged = w.gw.cli_ok(&["settz", "America/Chicago"]);
    assert!(
        staged.starts_with("Time zone set to America/Chicago."),
        "{staged}"
    );
    let staged = w.gw.cli_ok(&["sethostname", "esa1.your_domain.com"]);
    assert!(
        staged.starts_with("Host name set to esa1.your_domain.com."),
        "{staged}"
    );
    w.gw.cli_ok(&["commit", "seeds: time zone and host name"]);

    let status = w.gw.cli_ok(&["status"]);
    let first = status.lines().next().unwrap_or_default();
    assert!(
        Regex::new(&format!("^Status as of: {CHICAGO_TIME}$"))
            .expect("regex")
            .is_match(first),
        "{status}"
    );
    let tophosts = w.gw.cli_ok(&["tophosts"]);
    let first = tophosts.lines().next().unwrap_or_default();
    assert!(
        Regex::new(&format!("^Status as of:                {CHICAGO_TIME}$"))
            .expect("regex")
            .is_match(first),
        "{tophosts}"
    );
    assert!(
        w.gw.cli_ok(&["settz", "print"])
            .starts_with("Current time zone: America/Chicago (now "),
    );

    let (_conn, banner) = SmtpConn::connect(w.net.client(3), w.net.data1_smtp()).expect("connect");
    assert_eq!(banner.code, 220, "{banner}");
    assert!(
        banner.text().starts_with("esa1.your_domain.com ESMTP"),
        "{banner}"
    );

    let mid = w.deliver_inbound(w.net.client(4), "tz@e2e.test", "zone");
    let delivered = w
        .sink
        .wait_for_message_id("tz@e2e.test", SOON)
        .expect("delivered");
    let received = delivered.leading_received();
    let ours = received
        .iter()
        .find(|r| r.contains("by esa1.your_domain.com with ESMTP"))
        .unwrap_or_else(|| panic!("no Received: by the gateway in {received:?}"));
    assert!(
        ours.ends_with(" -0600") || ours.ends_with(" -0500"),
        "{ours}"
    );

    let json =
        w.gw.cli_ok(&["findevent", "--mid", &mid.to_string(), "--json"]);
    let found: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let time = found["messages"][0]["time"].as_str().unwrap_or_default();
    assert!(
        time.ends_with("(GMT -06:00)") || time.ends_with("(GMT -05:00)"),
        "{json}"
    );
}
