//! System Administration > Alerts, Time Settings and Log Subscriptions in
//! the web UI (issue 16), with curl as the browser: each page renders,
//! each form stages the CLI's change (`alertconfig`, `settz`,
//! `ntpconfig`, `logconfig subscribe|unsubscribe`), Commit Changes puts
//! them in effect, and the CLI then prints what the pages set. A
//! read-only user sees the pages without their forms and cannot change
//! anything through them.

use breakwater_e2e::web::WebClient;
use breakwater_e2e::{Gateway, TestNet};

/// POSTs a form, expects the redirect back to its page, returns that page.
fn submit(web: &WebClient, path: &str, fields: &[(&str, &str)]) -> String {
    let (status, to) = web.post(path, fields);
    assert_eq!(status, 303, "POST {path} answered {status}");
    web.get(&to)
}

/// The alert settings form as submitted with `changes` over the factory values.
fn alert_settings<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("from_address", ""),
        ("initial-interval", "300"),
        ("max-interval", "3600"),
        ("queue-threshold", "90"),
        ("data-threshold", "90"),
        ("certificate-days", "30"),
        ("threat-defense-failures", "5"),
        ("check-interval", "60"),
    ];
    for (k, v) in changes {
        if let Some(slot) = f.iter_mut().find(|(name, _)| name == k) {
            slot.1 = v;
        }
    }
    f
}

#[test]
fn alerts_time_settings_and_log_subscriptions_are_staged_from_the_web_and_committed() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let web = WebClient::login(&gw, "admin", "breakwater");

    // Alerts: the factory page, then a recipient of two classes at two
    // severities, a refused address, and a longer repeat interval.
    let page = web.get("/system-administration/alerts");
    assert!(page.contains("No alert recipients"), "{page}");
    assert!(
        page.contains(r#"href="/system-administration/time-settings""#),
        "the navigation names Time Settings:\n{page}"
    );
    assert!(
        page.contains(r#"href="/system-administration/log-subscriptions""#),
        "{page}"
    );
    let page = submit(
        &web,
        "/system-administration/alerts/recipient",
        &[
            ("address", "ops@example.com"),
            ("system_critical", "on"),
            ("system_warning", "on"),
            ("hardware_critical", "on"),
            ("hardware_warning", "on"),
        ],
    );
    assert!(
        page.contains("Alert recipient ops@example.com added."),
        "{page}"
    );
    assert!(page.contains("Changes staged."), "{page}");
    assert!(page.contains("System: Critical, Warning"), "{page}");
    let page = submit(
        &web,
        "/system-administration/alerts/recipient",
        &[("address", "not an address"), ("system_critical", "on")],
    );
    assert!(page.contains(r#"class="flash error""#), "{page}");
    assert!(page.contains("Invalid e-mail address"), "{page}");
    let page = submit(
        &web,
        "/system-administration/alerts/settings",
        &alert_settings(&[
            ("initial-interval", "600"),
            ("from_address", "gateway@example.com"),
        ]),
    );
    assert!(!page.contains(r#"class="flash error""#), "{page}");

    // Time Settings: a zone, an NTP server, NTP on, a shorter interval.
    let page = web.get("/system-administration/time-settings");
    assert!(page.contains("Set Time Manually"), "{page}");
    assert!(page.contains(r#"id="settime-form""#), "{page}");
    // Set Time goes to the control plane's settime, whose refusal of a
    // time outside 2020-2037 the page shows (the test host's clock is
    // never set).
    let page = submit(
        &web,
        "/system-administration/time-settings/settime",
        &[("date", "2040-01-02"), ("time", "10:00")],
    );
    assert!(page.contains(r#"class="flash error""#), "{page}");
    assert!(
        page.contains("The time must be between 2020 and 2037."),
        "{page}"
    );
    submit(
        &web,
        "/system-administration/time-settings/zone",
        &[("zone", "america/chicago")],
    );
    submit(
        &web,
        "/system-administration/time-settings/ntp/add",
        &[("server", "127.0.0.1:11123")],
    );
    submit(
        &web,
        "/system-administration/time-settings/ntp/mode",
        &[("mode", "enable")],
    );
    let page = submit(
        &web,
        "/system-administration/time-settings/ntp/poll",
        &[("poll", "64")],
    );
    assert!(page.contains("Use Network Time Protocol"), "{page}");
    assert!(page.contains("127.0.0.1:11123"), "{page}");
    // With NTP on, Set Time is not offered (settime would be refused).
    assert!(!page.contains(r#"id="settime-form""#), "{page}");
    let page = submit(
        &web,
        "/system-administration/time-settings/ntp/poll",
        &[("poll", "5")],
    );
    assert!(page.contains(r#"class="flash error""#), "{page}");

    // Log Subscriptions: mail_logs and audit_logs pushed, audit_logs removed.
    let page = web.get("/system-administration/log-subscriptions");
    assert!(page.contains("Manually Download"), "{page}");
    let page = submit(
        &web,
        "/system-administration/log-subscriptions/add",
        &[
            ("log", "mail_logs"),
            ("host", "127.0.0.1"),
            ("port", "5514"),
            ("protocol", "udp"),
            ("facility", "local3"),
            ("spool_size", ""),
        ],
    );
    assert!(
        page.contains("mail_logs: Syslog Push to 127.0.0.1:5514 UDP."),
        "{page}"
    );
    let page = submit(
        &web,
        "/system-administration/log-subscriptions/add",
        &[
            ("log", "audit_logs"),
            ("host", "127.0.0.1"),
            ("port", ""),
            ("protocol", "tls"),
            ("facility", ""),
            ("spool_size", "2M"),
        ],
    );
    assert!(page.contains("127.0.0.1:6514 TLS"), "{page}");
    let page = submit(
        &web,
        "/system-administration/log-subscriptions/delete",
        &[
            ("log", "audit_logs"),
            ("host", "127.0.0.1"),
            ("port", "6514"),
            ("protocol", "TLS"),
        ],
    );
    assert!(!page.contains(r#"class="flash error""#), "{page}");
    assert!(!page.contains("127.0.0.1:6514 TLS"), "{page}");

    let page = submit(
        &web,
        "/commit",
        &[("comment", "day-two settings from the web")],
    );
    assert!(!page.contains(r#"class="flash error""#), "{page}");

    let alerts = gw.cli_ok(&["alertconfig", "print"]);
    assert!(
        alerts.contains("    ops@example.com\n        Class: System - Severities: Critical, Warning\n        Class: Hardware - Severities: Critical, Warning"),
        "{alerts}"
    );
    assert!(
        alerts.contains("Initial number of seconds to wait before sending a duplicate alert: 600"),
        "{alerts}"
    );
    assert!(alerts.contains("gateway@example.com"), "{alerts}");
    let ntp = gw.cli_ok(&["ntpconfig", "print"]);
    assert!(
        ntp.starts_with("NTP is enabled (poll interval 64 seconds).\nCurrently configured NTP servers:\n1. 127.0.0.1:11123"),
        "{ntp}"
    );
    let tz = gw.cli_ok(&["settz", "print"]);
    assert!(tz.starts_with("Current time zone: America/Chicago"), "{tz}");
    let logs = gw.cli_ok(&["logconfig", "print"]);
    assert!(
        logs.contains("Syslog Push to 127.0.0.1:5514 UDP (facility local3, spool 64M)"),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.starts_with("3. audit_logs:") && l.ends_with("Manually Download")),
        "{logs}"
    );

    // A read-only user: the pages without their forms; a forced POST is
    // the control plane's refusal and nothing changes.
    gw.cli_input(
        &["userconfig", "new", "e2e-viewer", "read-only"],
        "viewer first pass",
    )
    .expect("userconfig new e2e-viewer read-only");
    let viewer = WebClient::login(&gw, "e2e-viewer", "viewer first pass");
    let page = viewer.get("/system-administration/alerts");
    assert!(page.contains("ops@example.com"), "{page}");
    assert!(!page.contains("Add or Edit Recipient"), "{page}");
    let page = viewer.get("/system-administration/log-subscriptions");
    assert!(!page.contains("Add Log Subscription"), "{page}");
    let page = submit(
        &viewer,
        "/system-administration/alerts/delete",
        &[("address", "ops@example.com")],
    );
    assert!(page.contains("Permission denied"), "{page}");
    assert!(
        gw.cli_ok(&["alertconfig", "print"])
            .contains("ops@example.com")
    );

    // The admin deletes the recipient from its row.
    let page = submit(
        &web,
        "/system-administration/alerts/delete",
        &[("address", "ops@example.com")],
    );
    assert!(!page.contains(r#"class="flash error""#), "{page}");
    assert!(page.contains("No alert recipients"), "{page}");
}
