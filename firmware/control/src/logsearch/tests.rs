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
             {T} ICID 7 ACCEPT SG ALL match ALL SBRS not enabled country not enabled\n\
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
    let (dir, _logs) = logs();
    let out = grep(dir.path(), &args("-i dcid\\s55")).unwrap();
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = grep(dir.path(), &args("MID --max 2")).unwrap();
    assert!(out.contains("more line(s) not shown"), "{out}");
    assert!(grep(dir.path(), &args("(unclosed")).is_err());
    assert!(
        grep(dir.path(), &args("a{1000}{1000}")).is_err(),
        "size limit"
    );
    assert!(grep(dir.path(), &args("")).is_err());
    assert_eq!(
        grep(dir.path(), &args("nothing-like-this")).unwrap(),
        "No line of mail_logs matches."
    );
}

#[test]
fn tail_shows_the_last_lines_across_rotation_and_follows_new_ones() {
    let (dir, logs) = logs();
    let out = tail(dir.path(), &args("2")).unwrap();
    assert_eq!(
        out,
        format!("{T} Start MID 1010 ICID 8\n{T} Message finished MID 101 done\n")
    );
    // More than mail.current holds: the rotated file supplies the rest.
    assert!(
        tail(dir.path(), &args("17"))
            .unwrap()
            .starts_with(&format!("{T} ICID 7 ACCEPT"))
    );
    assert!(tail(dir.path(), &args("0")).is_err());

    let start = tail(dir.path(), &args("--follow start 1")).unwrap();
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
        rotated_key("mail", "mail.@20261124T010000.2.s"),
        Some(("20261124T010000".into(), 2))
    );
    assert_eq!(rotated_key("mail", "mail.current"), None);
    assert_eq!(rotated_key("mail", "mail.@junk.s"), None);
}

#[test]
fn findevent_ends_with_the_tracking_summary_of_each_message() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} New SMTP ICID 9 interface Data 2 (127.0.2.1) address 127.5.0.10 reverse dns host mail.protection.outlook.com verified yes\n\
         {T} ICID 9 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled\n\
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
         {T} ICID 9 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled\n\
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
    // The Threat Defense copy (MID 104) carries the same header but is
    // internal detail: found by its own MID only.
    let out = findevent(&logs, &args("--message-id <ABC.123@your_domain.com>")).unwrap();
    assert!(out.starts_with("1 message(s) found: MID 103\n"), "{out}");
    assert!(
        out.contains("TDC: MID 104 successfully delivered for scanning"),
        "the copy's outcome is among the original's lines:\n{out}"
    );
    let copy = findevent(&logs, &args("--mid 104")).unwrap();
    assert!(copy.starts_with("1 message(s) found: MID 104\n"), "{copy}");
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
    assert_eq!(
        m["threat_defense"],
        "TDC: Message 103 successfully delivered for scanning with Cisco Secure Email Threat Defense.",
        "{m}"
    );
    assert_eq!(m["last_state"], "Dropped By Message Filters");
    assert_eq!(m["sbrs_score"], "None");
    assert_eq!(m["reverse_dns"], "mail.protection.outlook.com");
    assert_eq!(m["reverse_dns_verified"], true);
    assert!(
        m["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["time"] == "01:06:39"
                && d["date"] == "24 Nov 2026"
                && d["text"] == "Message 103 aborted: Dropped by filter 'office365_outbound'"),
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
        tracking::in_zone(summer, breakwater_types::clock::Tz::America__New_York),
        "13 Aug 2021 14:14:59 (GMT -04:00)"
    );
}

/// The AsyncOS bounce lines (`to RID 0`, DCID 0 for a filter's bounce and
/// for seed 004's Threat Defense hard bounce) read back as Hard Bounced.
#[test]
fn bounce_lines_as_asyncos_writes_them_are_hard_bounced() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} Start MID 106 ICID 8\n\
         {T} MID 106 queued for delivery\n\
         {T} Bounced: DCID 0 MID 106 to RID 0 - 5.7.1 - Bounced by filter 'no_exe'\n\
         {T} TDC: MID 171 with Message-ID '<a@b>' enqueued for delivery to Cisco Secure Email Threat Defense (copy of MID 106)\n\
         {T} DNS Error esa.example.com MX - NXDomain\n\
         {T} TDC: Hard bounced - 5.1.2 - Bad destination host ('000', 'DNS Hard Error looking up esa.example.com (MX):  NXDomain') (domain esa.example.com)\n\
         {T} TDC: MID 171 delivery failed to Cisco Secure Email Threat Defense: Hard Bounced.\n\
         {T} Bounced: DCID 0 MID 171 to RID 0 - Bounced by destination server with response: 5.1.2 - Bad destination host ('000', ['DNS Hard Error looking up esa.example.com (MX):  NXDomain'])\n"
    ));
    std::fs::write(&current, text).unwrap();
    let out = findevent(&logs, &args("--mid 106")).unwrap();
    assert!(out.contains("Status: Hard Bounced"), "{out}");
    let out = findevent(&logs, &args("--mid 171")).unwrap();
    assert!(
        out.contains("Bounced: DCID 0 MID 171 to RID 0 - Bounced by destination server"),
        "{out}"
    );
    assert!(out.contains("Status: Hard Bounced"), "{out}");
}

/// The seeds' two Message Tracking screenshots (000, "Validate your RELAY
/// Sender Group"): a message relayed for Microsoft 365 and delivered, and
/// one dropped by `office365_outbound` on a connection Microsoft 365 left
/// without QUIT; the lines are the ones the firmware writes.
#[test]
fn tracking_shows_the_seeds_processing_details_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let logs_dir = dir.path().join("logs/mail_logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let t = "Fri Aug 13 14:14:59 2021 Info:";
    let lines = [
        "New SMTP ICID 405417 interface Data 2 (127.0.2.1) address 127.0.0.5 reverse dns host mail-dm6nam12lp2175.outbound.protection.outlook.com verified yes",
        "ICID 405417 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled",
        "ICID 405417 TLS success protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384",
        "Start MID 186371 ICID 405417",
        "MID 186371 ICID 405417 From: <alice@example.com>",
        "MID 186371 direction: outgoing",
        "MID 186371 ICID 405417 RID 0 To: <bob@partner.example>",
        "MID 186371 Message-ID '<MN2PR13MB4007@example.com>'",
        "MID 186371 Subject 'OUTBOUND EMAIL TEST'",
        "MID 186371 ready 7555 bytes from <alice@example.com>",
        "MID 186371 matched all recipients for per-recipient policy DEFAULT in the outbound table",
        "MID 186371 queued for delivery",
        "TDC: MID 186372 with Message-ID '<MN2PR13MB4007@example.com>' enqueued for delivery to Cisco Secure Email Threat Defense (copy of MID 186371)",
        "ICID 405417 lost",
        "New SMTP DCID 77 interface 127.0.2.1 address 127.0.0.25 port 25",
        "Delivery start DCID 77 MID 186371 to RID [0]",
        "TDC: Delivery start DCID 78 MID 186372",
        "TDC: MID 186372 successfully delivered for scanning with Cisco Secure Email Threat Defense",
        "Message finished MID 186372 done",
        "MID 186371 RID [0] Response '250 2.0.0 Ok: queued as 4B1C'",
        "Message done DCID 77 MID 186371 to RID [0]",
        "Message finished MID 186371 done",
        "DCID 77 close",
        // The second screenshot: dropped by the filter.
        "New SMTP ICID 137530 interface Data 2 (127.0.2.1) address 127.0.0.5 reverse dns host mail-dm6nam12lp2175.outbound.protection.outlook.com verified yes",
        "ICID 137530 RELAY SG RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled",
        "Start MID 94011 ICID 137530",
        "MID 94011 ICID 137530 From: <carol@bce-demo.com>",
        "MID 94011 direction: outgoing",
        "MID 94011 ICID 137530 RID 0 To: <dave@partner.example>",
        "MID 94011 Subject 'OUTBOUND MAIL 3:54PM POST-SECRET CHANGE'",
        "MID 94011 ready 7555 bytes from <carol@bce-demo.com>",
        "ICID 137530 lost",
        "Message aborted MID 94011 Dropped by filter 'office365_outbound'",
        "Message finished MID 94011 aborted",
    ];
    let text: String = lines.iter().map(|l| format!("{t} {l}\n")).collect();
    std::fs::write(logs_dir.join("mail.current"), text).unwrap();
    let logs = MailLogs::new(dir.path());

    let out = findevent(&logs, &args("--mid 186371")).unwrap();
    let details = out
        .split_once("Processing Details\n")
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no Processing Details in\n{out}"));
    let expected = [
        "13 Aug 2021",
        "Incoming connection (ICID 405417) has sender_group: RELAY_O365, sender_ip: 127.0.0.5 and sbrs: not enabled",
        "Protocol SMTP Interface Data 2 (IP 127.0.2.1) on incoming connection (ICID 405417) from sender IP 127.0.0.5. Reverse DNS host mail-dm6nam12lp2175.outbound.protection.outlook.com verified yes.",
        "(ICID 405417) RELAY sender group RELAY_O365 match .protection.outlook.com SBRS not enabled country not enabled",
        "Incoming connection (ICID 405417) successfully accepted TLS protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384.",
        "Message 186371 Sender Domain: example.com",
        "Start message 186371 on incoming connection (ICID 405417).",
        "Message 186371 enqueued on incoming connection (ICID 405417) from alice@example.com.",
        "Message 186371 direction: outgoing",
        "Message 186371 on incoming connection (ICID 405417) added recipient (bob@partner.example).",
        "Message 186371 contains message ID header '<MN2PR13MB4007@example.com>'",
        "Message 186371 original subject on injection: OUTBOUND EMAIL TEST",
        "Message 186371 (7555 bytes) from alice@example.com ready.",
        "Message 186371 has sender_group: RELAY_O365, sender_ip: 127.0.0.5 and sbrs: None",
        "Message 186371 matched per-recipient policy DEFAULT for outbound mail policies.",
        "Message 186371 queued for delivery.",
        "Incoming connection (ICID 405417) lost.",
        "SMTP delivery connection (DCID 77) opened from interface 127.0.2.1 to IP address 127.0.0.25 on port 25.",
        "(DCID 77) Delivery started for message 186371 to bob@partner.example.",
        "TDC: Message 186371 successfully delivered for scanning with Cisco Secure Email Threat Defense.",
        "Message 186371 to bob@partner.example received remote SMTP response '250 2.0.0 Ok: queued as 4B1C'.",
        "(DCID 77) Delivery details: Message 186371 sent to bob@partner.example",
        "Message finished MID 186371 done",
        "DCID 77 close",
    ];
    let got: Vec<&str> = details
        .lines()
        .map(|l| {
            let l = l.trim_start();
            // "14:14:57 text": the time, then the text.
            match l.split_once(' ') {
                Some((time, text)) if time.len() == 8 && time.as_bytes()[2] == b':' => text,
                _ => l,
            }
        })
        .collect();
    assert_eq!(got, expected, "\n{out}");
    assert!(
        details.contains("  14:14:59 Incoming connection (ICID 405417) has sender_group"),
        "{out}"
    );
    for row in [
        "  Last State: Delivered\n",
        "  Message: Outgoing\n",
        "  MID: 186371\n",
        "  Time: 13 Aug 2021 14:14:59 (GMT +00:00)\n",
        "  Sender: alice@example.com\n",
        "  Recipient: bob@partner.example\n",
        "  Subject: OUTBOUND EMAIL TEST\n",
        "  Policy Match: DEFAULT\n",
        "  Reverse DNS hostname: mail-dm6nam12lp2175.outbound.protection.outlook.com (verified)\n",
        "  IP address: 127.0.0.5\n",
        "  SBRS Score: None\n",
        "  Sender Group: RELAY_O365\n",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }
    // The copy's own delivery stays out of the original's details.
    assert!(!details.contains("186372"), "{out}");

    let out = findevent(&logs, &args("--mid 94011")).unwrap();
    for row in [
        "  Last State: Dropped By Message Filters\n",
        "  Policy Match: N/A\n",
        "Message 94011 Sender Domain: bce-demo.com\n",
        "Message 94011 original subject on injection: OUTBOUND MAIL 3:54PM POST-SECRET CHANGE\n",
        "Message 94011 (7555 bytes) from carol@bce-demo.com ready.\n",
        "Message 94011 has sender_group: RELAY_O365, sender_ip: 127.0.0.5 and sbrs: None\n",
        "Incoming connection (ICID 137530) lost.\n",
        "Message 94011 aborted: Dropped by filter 'office365_outbound'\n",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }
}

#[test]
fn the_tracking_time_is_in_the_appliance_zone() {
    let t = chrono::NaiveDate::from_ymd_opt(2021, 8, 13)
        .unwrap()
        .and_hms_opt(14, 14, 59)
        .unwrap();
    // UTC unless a test (or settz) set another zone; the offset is the zone's.
    let zone = breakwater_types::clock::zone();
    let shown = tracking::with_zone(t);
    assert!(shown.starts_with("13 Aug 2021 14:14:59 (GMT "), "{shown}");
    if zone == breakwater_types::clock::Tz::UTC {
        assert_eq!(shown, "13 Aug 2021 14:14:59 (GMT +00:00)");
    }
}

#[test]
fn findevent_takes_asyncos_flags_with_regular_expressions() {
    let (_dir, logs) = logs();
    let found = |line: &str| {
        findevent(&logs, &args(line))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(found("-m 102 mail_logs"), "1 message(s) found: MID 102");
    // -f, -s, -t take a regex, case-sensitive unless -i.
    assert_eq!(
        found("-f ^(alice|carol)@example\\.org$"),
        "2 message(s) found: MID 101, 102"
    );
    assert_eq!(
        found("-s ^Quarterly mail_logs"),
        "1 message(s) found: MID 101"
    );
    assert_eq!(found("-s ^quarterly"), "No message in mail_logs matches.");
    assert_eq!(found("-i -s ^quarterly"), "1 message(s) found: MID 101");
    assert_eq!(found("-s ^quarterly -i"), "1 message(s) found: MID 101");
    assert_eq!(found("-t dave@"), "1 message(s) found: MID 102");
    // The long options still take part of the value, any case, literally.
    assert_eq!(
        found("--from ALICE@EXAMPLE.ORG"),
        "1 message(s) found: MID 101"
    );
    assert_eq!(
        found("--from alice.example"),
        "No message in mail_logs matches."
    );
    let bad = findevent(&logs, &args("-s (unclosed")).unwrap_err();
    assert!(bad.starts_with("Invalid regular expression"), "{bad}");
    assert!(
        findevent(&logs, &args("-f a{1000}{1000}")).is_err(),
        "size limit"
    );
    let other_log = findevent(&logs, &args("-m 101 gui_logs")).unwrap_err();
    assert!(
        other_log.starts_with("Unknown log 'gui_logs'"),
        "{other_log}"
    );
    assert!(
        findevent(&logs, &args("-i")).is_err(),
        "-i alone is no criterion"
    );
    assert!(findevent(&logs, &args("-m")).is_err());
}

#[test]
fn grep_and_tail_take_asyncos_forms() {
    let (dir, _logs) = logs();
    assert_eq!(
        grep(dir.path(), &args("-e dcid\\s55 -i mail_logs")).unwrap(),
        grep(dir.path(), &args("-i dcid\\s55")).unwrap()
    );
    assert_eq!(
        grep(dir.path(), &args("-i -e ICID\\s8 mail_logs")).unwrap(),
        format!("{T} Start MID 1010 ICID 8\n")
    );
    // -C: the lines around each match, groups apart marked with `--`.
    assert_eq!(
        grep(dir.path(), &args("-C 1 -e ^.*Start.MID.1010 mail_logs")).unwrap(),
        format!(
            "{T} Message 102 to RID [0] pending till Tue Nov 24 02:00:00 2026\n\
             {T} Start MID 1010 ICID 8\n\
             {T} Message finished MID 101 done\n"
        )
    );
    let two = grep(dir.path(), &args("-C 1 -e (Subject|ICID.8)")).unwrap();
    assert_eq!(two.lines().filter(|l| *l == "--").count(), 1, "{two}");
    assert!(grep(dir.path(), &args("-C 11 -e x")).is_err());
    assert!(grep(dir.path(), &args("-e a -e b")).is_err());
    let other = grep(dir.path(), &args("-e x gui_logs")).unwrap_err();
    assert!(
        other.starts_with("Unknown log 'gui_logs'. The logs this command reads: mail_logs, system_logs, audit_logs."),
        "{other}"
    );
    assert!(grep(dir.path(), &args("-t -e x mail_logs")).is_err());

    let last = format!("{T} Message finished MID 101 done\n");
    assert_eq!(tail(dir.path(), &args("-n 1 mail_logs")).unwrap(), last);
    assert_eq!(tail(dir.path(), &args("mail_logs 1")).unwrap(), last);
    assert_eq!(
        tail(dir.path(), &args("mail_logs"))
            .unwrap()
            .lines()
            .count(),
        18
    );
    assert!(
        tail(dir.path(), &args("gui_logs"))
            .unwrap_err()
            .starts_with("Unknown log")
    );
    assert!(tail(dir.path(), &args("-x")).is_err());
}

#[test]
fn tail_and_grep_read_system_logs_and_audit_logs_by_name() {
    let (dir, _logs) = logs();
    let audit = dir.path().join("logs/audit_logs");
    std::fs::create_dir_all(&audit).unwrap();
    std::fs::write(
        audit.join("audit.@20261124T000000.s"),
        format!("{T} Commit 1 by admin from local cli: hostname changed; comment: \"first\"\n"),
    )
    .unwrap();
    std::fs::write(
        audit.join("audit.current"),
        format!("{T} Commit 2 by ops from web (192.0.2.1): dns changed; comment: \"second\"\n"),
    )
    .unwrap();
    let system = dir.path().join("logs/system_logs");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::write(
        system.join("system.current"),
        format!("{T} listener IncomingMail listening on 192.0.2.1:25\n"),
    )
    .unwrap();

    assert_eq!(
        tail(dir.path(), &args("audit_logs 1")).unwrap(),
        format!("{T} Commit 2 by ops from web (192.0.2.1): dns changed; comment: \"second\"\n")
    );
    // Across rotation, oldest first, as for mail_logs.
    assert_eq!(
        grep(dir.path(), &args("-e ^.*Commit audit_logs"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert_eq!(
        grep(dir.path(), &args("-i COMMIT.1 AUDIT_LOGS")).unwrap(),
        format!("{T} Commit 1 by admin from local cli: hostname changed; comment: \"first\"\n")
    );
    assert_eq!(
        tail(dir.path(), &args("-n 5 system_logs")).unwrap(),
        format!("{T} listener IncomingMail listening on 192.0.2.1:25\n")
    );
    assert_eq!(
        grep(dir.path(), &args("MID system_logs")).unwrap(),
        "No line of system_logs matches."
    );
    // The console's follow of a named log.
    let start = tail(dir.path(), &args("--follow start 1 audit_logs")).unwrap();
    let (first, rest) = start.split_once('\n').unwrap();
    assert!(rest.contains("Commit 2 by ops"), "{rest}");
    let cursor = first.strip_prefix(CURSOR_PREFIX).unwrap();
    std::fs::write(
        audit.join("audit.current"),
        format!(
            "{T} Commit 2 by ops from web (192.0.2.1): dns changed; comment: \"second\"\n{T} Commit 3\n"
        ),
    )
    .unwrap();
    let next = tail(dir.path(), &args(&format!("--follow {cursor} audit_logs"))).unwrap();
    assert!(next.ends_with(&format!("\n{T} Commit 3\n")), "{next}");
    // mail_logs stays the default, and findevent reads mail_logs only.
    assert!(
        tail(dir.path(), &args("1"))
            .unwrap()
            .contains("Message finished MID 101")
    );
    let other = findevent(&MailLogs::new(dir.path()), &args("-m 101 audit_logs")).unwrap_err();
    assert!(
        other.starts_with("Unknown log 'audit_logs'. The logs this command reads: mail_logs."),
        "{other}"
    );
}

#[test]
fn a_spam_verdict_is_tracked_and_a_spam_quarantine_is_the_status() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} Start MID 106 ICID 8\n\
         {T} MID 106 interim verdict using engine: rspamd spam positive\n\
         {T} MID 106 using engine: rspamd spam positive\n\
         {T} MID 106 antispam positive\n\
         {T} MID 106 queued for delivery\n\
         {T} MID 106 quarantined to \"Spam\" (antispam positive)\n\
         {T} Start MID 107 ICID 8\n\
         {T} MID 107 using engine: rspamd spam positive\n\
         {T} Message aborted MID 107 Dropped by rspamd\n"
    ));
    std::fs::write(&current, &text).unwrap();
    let out = findevent(&logs, &args("--mid 106")).unwrap();
    assert!(out.contains("Status: Quarantined (\"Spam\")"), "{out}");
    assert!(
        out.contains("Message 106 scanned by Anti-Spam engine: rspamd. Interim verdict: positive"),
        "{out}"
    );
    assert!(
        out.contains("Message 106 scanned by Anti-Spam engine rspamd. Final verdict: positive"),
        "{out}"
    );
    assert!(out.contains("MID 106 antispam positive"), "{out}");
    let out = findevent(&logs, &args("--mid 107")).unwrap();
    assert!(out.contains("Status: Dropped By Anti-Spam"), "{out}");
}

#[test]
fn findevent_shows_sender_authentication_in_processing_details_words() {
    let (dir, logs) = logs();
    let current = dir.path().join("logs/mail_logs/mail.current");
    let mut text = std::fs::read_to_string(&current).unwrap();
    text.push_str(&format!(
        "{T} Start MID 104 ICID 11\n\
         {T} MID 104 ICID 11 From: <news@lists.example>\n\
         {T} ICID 11 SPF: helo identity postmaster@mx.lists.example None\n\
         {T} MID 104 SPF: mailfrom identity news@lists.example Pass (v=spf1)\n\
         {T} MID 104 DKIM: pass signature verified (d=lists.example s=sel i=@lists.example)\n\
         {T} MID 104 ARC: pass (i=1 d=lists.example)\n\
         {T} MID 104 DMARC: Message from domain lists.example, DMARC pass (SPF aligned True, DKIM aligned True)\n"
    ));
    std::fs::write(&current, text).unwrap();
    let out = findevent(&logs, &args("--mid 104")).unwrap();
    // findevent prints the raw lines first, then the tracking view.
    let details = out
        .split("Processing Details")
        .nth(1)
        .expect("a Processing Details section");
    for line in [
        "Message 104 SPF: helo identity postmaster@mx.lists.example None",
        "Message 104 SPF: mailfrom identity news@lists.example Pass (v=spf1)",
        "Message 104 DKIM: pass signature verified (d=lists.example s=sel i=@lists.example)",
        "Message 104 ARC: pass (i=1 d=lists.example)",
        "Message 104 DMARC: Message from domain lists.example, DMARC pass (SPF aligned True, DKIM aligned True)",
    ] {
        assert!(details.contains(line), "{line} missing from:\n{out}");
    }
    assert!(!details.contains("MID 104"), "{out}");
}
