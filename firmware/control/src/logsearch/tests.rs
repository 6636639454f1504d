//! Log search on real log files written in a temporary directory.

use super::*;

const T: &str = "Tue Nov 24 01:06:39 2026 Info:";

/// A data directory with a rotated file and mail.current holding two
/// messages on one connection and a third on another.
fn logs() -> (tempfile::TempDir, MailLogs) {
    let dir = tempfile::tempdir().unwrap();
    let logs_dir = dir.path().join("logs/mail_logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    std::fs::write(
        logs_dir.join("mail.@20261124T010000.s"),
        format!(
            "{T} New SMTP ICID 7 interface Data 1 (127.0.0.1) address 192.0.2.9 reverse dns host unknown verified no\n\
             {T} ICID 7 ACCEPT SG ALL match ALL SBRS not enabled\n\
             {T} Start MID 101 ICID 7\n\
             {T} MID 101 ICID 7 From: <alice@example.org>\n\
             {T} MID 101 ICID 7 RID 0 To: <bob@your_domain.com>\n\
             {T} MID 101 Subject 'Quarterly report'\n"
        ),
    )
    .unwrap();
    std::fs::write(
        logs_dir.join("mail.current"),
        format!(
            "{T} MID 101 ready 310 bytes from <alice@example.org>\n\
             {T} Start MID 102 ICID 7\n\
             {T} MID 102 ICID 7 From: <carol@example.org>\n\
             {T} MID 102 ICID 7 RID 0 To: <dave@your_domain.com>\n\
             {T} ICID 7 close\n\
             {T} New SMTP DCID 55 interface 127.0.0.1 address 192.0.2.25 port 25\n\
             {T} Delivery start DCID 55 MID 101 to RID [0]\n\
             {T} Message done DCID 55 MID 101 to RID [0]\n\
             {T} DCID 55 close\n\
             {T} Message 102 to RID [0] pending till Tue Nov 24 02:00:00 2026\n\
             {T} Start MID 1010 ICID 8\n\
             {T} Message finished MID 101 done\n"
        ),
    )
    .unwrap();
    let logs = MailLogs::new(dir.path());
    (dir, logs)
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn findevent_prints_every_line_of_the_message_and_its_connections() {
    let (_dir, logs) = logs();
    let out = findevent(&logs, &args("--subject quarterly")).unwrap();
    assert!(out.starts_with("1 message(s) found: MID 101\n"), "{out}");
    for expected in [
        "New SMTP ICID 7",
        "ICID 7 ACCEPT",
        "Start MID 101 ICID 7",
        "From: <alice@example.org>",
        "MID 101 ready",
        "ICID 7 close",
        "Delivery start DCID 55 MID 101",
        "DCID 55 close",
        "Message finished MID 101 done",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    for other in ["MID 102", "Message 102", "MID 1010", "New SMTP DCID 55"] {
        // The DCID line before "Delivery start" is found by its DCID.
        if other == "New SMTP DCID 55" {
            assert!(out.contains(other), "{out}");
        } else {
            assert!(!out.contains(other), "{other:?} in\n{out}");
        }
    }
    let by_to = findevent(&logs, &args("--to DAVE@your_domain.com")).unwrap();
    assert!(
        by_to.starts_with("1 message(s) found: MID 102\n"),
        "{by_to}"
    );
    assert!(
        by_to.contains("Message 102 to RID [0] pending till"),
        "{by_to}"
    );
    let by_from = findevent(&logs, &args("--from example.org")).unwrap();
    assert!(
        by_from.starts_with("2 message(s) found: MID 101, 102\n"),
        "{by_from}"
    );
    let by_mid = findevent(&logs, &args("--mid 1010")).unwrap();
    assert!(by_mid.contains("Start MID 1010"), "{by_mid}");
    let timed = findevent(&logs, &args("--from alice --since 2026-11-25")).unwrap();
    assert_eq!(timed, "No message in mail_logs matches.");
    let timed = findevent(&logs, &args("--from alice --until 2026-11-24")).unwrap();
    assert!(timed.starts_with("1 message(s)"), "{timed}");
    for bad in ["", "--mid x", "--since yesterday", "--mid", "--colour red"] {
        assert!(findevent(&logs, &args(bad)).is_err(), "{bad}");
    }
}

#[test]
fn grep_is_bounded_and_refuses_bad_patterns() {
    let (_dir, logs) = logs();
    let out = grep(&logs, &args("-i dcid\\s55")).unwrap();
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = grep(&logs, &args("MID --max 2")).unwrap();
    assert!(out.contains("more line(s) not shown"), "{out}");
    assert!(grep(&logs, &args("(unclosed")).is_err());
    assert!(grep(&logs, &args("a{1000}{1000}")).is_err(), "size limit");
    assert!(grep(&logs, &args("")).is_err());
    assert_eq!(
        grep(&logs, &args("nothing-like-this")).unwrap(),
        "No line of mail_logs matches."
    );
}

#[test]
fn tail_shows_the_last_lines_across_rotation_and_follows_new_ones() {
    let (dir, logs) = logs();
    let out = tail(&logs, &args("2")).unwrap();
    assert_eq!(
        out,
        format!("{T} Start MID 1010 ICID 8\n{T} Message finished MID 101 done\n")
    );
    // More than mail.current holds: the rotated file supplies the rest.
    assert!(
        tail(&logs, &args("17"))
            .unwrap()
            .starts_with(&format!("{T} ICID 7 ACCEPT"))
    );
    assert!(tail(&logs, &args("0")).is_err());

    let start = tail(&logs, &args("--follow start 1")).unwrap();
    let (first, rest) = start.split_once('\n').unwrap();
    assert_eq!(rest, format!("{T} Message finished MID 101 done\n"));
    let cursor: Cursor = first.strip_prefix(CURSOR_PREFIX).unwrap().parse().unwrap();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let append = |text: &str| {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&current)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append(&format!("{T} new line one\n{T} half a li"));
    let (cursor, text) = follow(&logs, cursor);
    assert_eq!(text, format!("{T} new line one\n"));
    append("ne\n");
    // Rotation: the old file is renamed, a new mail.current begins.
    std::fs::rename(
        &current,
        dir.path().join("logs/mail_logs/mail.@20261124T020000.s"),
    )
    .unwrap();
    std::fs::write(&current, format!("{T} after rotation\n")).unwrap();
    let (cursor, text) = follow(&logs, cursor);
    assert_eq!(text, format!("{T} half a line\n{T} after rotation\n"));
    let (_, text) = follow(&logs, cursor);
    assert_eq!(text, "");
}

#[test]
fn rotated_names_sort_by_time_then_number() {
    assert_eq!(
        rotated_key("mail.@20261124T010000.2.s"),
        Some(("20261124T010000".into(), 2))
    );
    assert_eq!(rotated_key("mail.current"), None);
    assert_eq!(rotated_key("mail.@junk.s"), None);
}

#[test]
fn findevent_ends_with_the_tracking_summary_of_each_message() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} New SMTP ICID 9 interface Data 2 (127.0.2.1) address 127.5.0.10 reverse dns host mail.protection.outlook.com verified yes\n\
         {T} ICID 9 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled\n\
         {T} ICID 9 TLS success protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384\n\
         {T} Start MID 103 ICID 9\n\
         {T} MID 103 ICID 9 From: <x@your_domain.com>\n\
         {T} Message aborted MID 103 Dropped by filter 'office365_outbound'\n"
    ));
    std::fs::write(&current, text).unwrap();
    let out = findevent(&logs, &args("--mid 103")).unwrap();
    assert!(
        out.contains("MID 103  ICID 9  Sender group RELAY_O365  Sender IP 127.5.0.10  TLS protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384  DCID -  Status: Dropped By Message Filters ('office365_outbound')"),
        "{out}"
    );
    let out = findevent(&logs, &args("--mid 101")).unwrap();
    assert!(out.contains("DCID 55  Status: Delivered"), "{out}");
    let out = findevent(&logs, &args("--mid 102")).unwrap();
    assert!(out.contains("Status: Soft Bounced"), "{out}");
}

#[test]
fn findevent_finds_by_message_id_and_sender_ip_and_answers_json() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} New SMTP ICID 9 interface Data 2 (127.0.2.1) address 127.5.0.10 reverse dns host mail.protection.outlook.com verified yes\n\
         {T} ICID 9 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled\n\
         {T} ICID 9 TLS success protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384\n\
         {T} Start MID 103 ICID 9\n\
         {T} MID 103 ICID 9 From: <x@your_domain.com>\n\
         {T} MID 103 Message-ID '<abc.123@your_domain.com>'\n\
         {T} TDC: MID 104 with Message-ID '<abc.123@your_domain.com>' enqueued for delivery to Cisco Secure Email Threat Defense (copy of MID 103)\n\
         {T} TDC: MID 104 successfully delivered for scanning with Cisco Secure Email Threat Defense\n\
         {T} Message aborted MID 103 Dropped by filter 'office365_outbound'\n"
    ));
    std::fs::write(&current, text).unwrap();
    // Part of the header, with or without the angle brackets.
    let out = findevent(&logs, &args("--message-id <ABC.123@your_domain.com>")).unwrap();
    assert!(
        out.starts_with("2 message(s) found: MID 103, 104\n"),
        "{out}"
    );
    let out = findevent(&logs, &args("--ip 127.5.0.10")).unwrap();
    assert!(out.starts_with("1 message(s) found: MID 103\n"), "{out}");
    assert_eq!(
        findevent(&logs, &args("--ip 127.5.0.11")).unwrap(),
        "No message in mail_logs matches."
    );
    assert!(findevent(&logs, &args("--ip example.org")).is_err());
    assert!(findevent(&logs, &args("--json")).is_err(), "no criterion");

    let out = findevent(&logs, &args("--ip 127.5.0.10 --json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["found"], 1);
    let m = &v["messages"][0];
    assert_eq!(m["mid"], 103);
    assert_eq!(m["icid"], 9);
    assert_eq!(m["sender_group"], "RELAY_O365");
    assert_eq!(m["sender_ip"], "127.5.0.10");
    assert_eq!(m["tls_protocol"], "TLSv1.3");
    assert_eq!(m["tls_cipher"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(m["from"], "x@your_domain.com");
    assert_eq!(m["message_id"], "abc.123@your_domain.com");
    assert_eq!(
        m["status"],
        "Dropped By Message Filters ('office365_outbound')"
    );
    assert!(
        m["threat_defense"]
            .as_str()
            .unwrap()
            .contains("MID 104 successfully delivered"),
        "{m}"
    );
    assert!(
        m["time"]
            .as_str()
            .unwrap()
            .starts_with("24 Nov 2026 01:06:39 (GMT ")
    );
    let lines: Vec<&str> = m["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("New SMTP ICID 9")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Dropped by filter")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("MID 101")), "{lines:?}");
    let none = findevent(&logs, &args("--mid 999 --json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(v["found"], 0);
}

#[test]
fn times_ago_count_back_from_now() {
    let now = parse_time("2026-11-24 12:00", false).unwrap();
    assert_eq!(
        parse_time_at("24h", false, now).unwrap(),
        parse_time("2026-11-23 12:00", false).unwrap()
    );
    assert_eq!(
        parse_time_at("7d", false, now).unwrap(),
        parse_time("2026-11-17 12:00", false).unwrap()
    );
    for bad in ["-1d", "d", "99999d", "1w"] {
        assert!(parse_time_at(bad, false, now).is_err(), "{bad}");
    }
    let (_dir, logs) = logs();
    // The fixture's messages are from 2026-11-24, long before "now".
    assert_eq!(
        findevent(&logs, &args("--from alice --since 1d")).unwrap(),
        "No message in mail_logs matches."
    );
}

#[test]
fn a_quarantined_message_is_tracked_as_quarantined_then_released() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} Start MID 105 ICID 8\n\
         {T} MID 105 queued for delivery\n\
         {T} MID 105 quarantined to \"Policy\" (message filter:hold_it)\n"
    ));
    std::fs::write(&current, &text).unwrap();
    let out = findevent(&logs, &args("--mid 105")).unwrap();
    assert!(out.contains("Status: Quarantined (\"Policy\")"), "{out}");
    text.push_str(&format!(
        "{T} MID 105 released from quarantine \"Policy\" (manual)\n"
    ));
    std::fs::write(&current, &text).unwrap();
    let out = findevent(&logs, &args("--mid 105")).unwrap();
    assert!(
        out.contains("Status: Released from quarantine (\"Policy\")"),
        "{out}"
    );
}

#[test]
fn space_padded_days_are_read_and_tracking_times_carry_the_zone_offset() {
    let dir = tempfile::tempdir().unwrap();
    let logs_dir = dir.path().join("logs/mail_logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let t = "Sun Dec  6 16:36:48 2026 Info:";
    std::fs::write(
        logs_dir.join("mail.current"),
        format!(
            "{t} Start MID 7 ICID 3\n\
             {t} MID 7 ICID 3 From: <erin@example.org>\n\
             {t} Message finished MID 7 done\n"
        ),
    )
    .unwrap();
    let logs = MailLogs::new(dir.path());
    let found = findevent(&logs, &args("--from erin --since 2026-12-06")).unwrap();
    assert!(found.starts_with("1 message(s) found: MID 7\n"), "{found}");
    assert!(
        found.contains("Sun Dec  6 16:36:48 2026 Info: Start MID 7"),
        "{found}"
    );
    assert_eq!(
        findevent(&logs, &args("--from erin --until 2026-12-05")).unwrap(),
        "No message in mail_logs matches."
    );
    // Seed 001's tracking screenshot: `13 Aug 2021 14:14:59 (GMT -04:00)`.
    let summer = chrono::NaiveDate::from_ymd_opt(2021, 8, 13)
        .and_then(|d| d.and_hms_opt(14, 14, 59))
        .unwrap();
    assert_eq!(
        json::in_zone(summer, breakwater_types::clock::Tz::America__New_York),
        "13 Aug 2021 14:14:59 (GMT -04:00)"
    );
}
