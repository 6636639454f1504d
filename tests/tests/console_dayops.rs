//! The serial console's day-two menus on a real pty (issue 16):
//! `alertconfig`, `ntpconfig` (+ `settime`) and `logconfig`'s syslog
//! subscriptions, walked as an administrator answers them, then committed
//! and read back with the batch command the menu runs underneath.

use breakwater_e2e::console::Console;
use breakwater_e2e::{Gateway, TestNet};

#[test]
fn the_alertconfig_menu_adds_a_recipient_by_class_and_severity_and_sets_the_interval() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mut con = Console::login_factory_admin(&gw, "a passphrase for the alert menu");

    let out = con.dialogue(
        "alertconfig",
        &[
            "NEW",
            "not an address",
            "1",
            "1",
            // Refused by the daemon: the menu asks again.
            "ops@example.com",
            "2, 3",
            "2,3",
            "SETUP",
            "600",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    );
    assert!(
        out.contains("- NEW - Add a new email address to send alerts."),
        "{out}"
    );
    assert!(out.contains("- SETUP - Configure alert settings."), "{out}");
    assert!(
        out.contains("Choose the Alert Class(es) for this alert. Separate multiple choices with commas.\n1. All\n2. System\n3. Hardware"),
        "{out}"
    );
    assert!(
        out.contains("Select a Severity Level. Separate multiple choices with commas.\n1. All\n2. Critical\n3. Warning\n4. Information"),
        "{out}"
    );
    assert!(out.contains("Invalid e-mail address"), "{out}");
    assert!(
        out.contains("Alert recipient ops@example.com added."),
        "{out}"
    );

    let out = con.dialogue("commit", &["alerts to ops"]);
    assert!(out.contains("Changes committed"), "{out}");

    let printed = gw.cli_ok(&["alertconfig", "print"]);
    assert!(
        printed.contains(
            "    ops@example.com\n        Class: System - Severities: Critical, Warning\n        Class: Hardware - Severities: Critical, Warning"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("Initial number of seconds to wait before sending a duplicate alert: 600"),
        "{printed}"
    );

    // DELETE by the number the menu's list gives.
    let out = con.dialogue("alertconfig", &["DELETE", "1", ""]);
    assert!(
        out.contains("Enter the email address or number to delete."),
        "{out}"
    );
    con.dialogue("commit", &["no more alerts"]);
    let printed = gw.cli_ok(&["alertconfig", "print"]);
    assert!(!printed.contains("ops@example.com"), "{printed}");
    con.logout();
}

#[test]
fn the_ntpconfig_menu_adds_a_server_enables_ntp_and_settime_is_then_refused() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mut con = Console::login_factory_admin(&gw, "a passphrase for the ntp menu");

    let out = con.dialogue(
        "ntpconfig",
        &["ADD", "127.0.0.1:11123", "ENABLE", "POLL", "64", ""],
    );
    assert!(
        out.contains("NTP is disabled: the clock is set with settime."),
        "{out}"
    );
    assert!(out.contains("- ADD - Add a server."), "{out}");
    assert!(
        out.contains("- ENABLE - Set the clock from the NTP servers."),
        "{out}"
    );
    assert!(out.contains("NTP server 127.0.0.1:11123 added."), "{out}");
    // Once enabled (staged), the menu offers the way back.
    assert!(
        out.contains("- DISABLE - Stop setting the clock from NTP."),
        "{out}"
    );

    let out = con.dialogue("commit", &["ntp on"]);
    assert!(out.contains("Changes committed"), "{out}");
    let printed = gw.cli_ok(&["ntpconfig", "print"]);
    assert!(
        printed.starts_with(
            "NTP is enabled (poll interval 64 seconds).\nCurrently configured NTP servers:\n1. 127.0.0.1:11123"
        ),
        "{printed}"
    );

    let out = con.dialogue("ntpconfig", &["STATUS", ""]);
    assert!(out.contains("127.0.0.1:11123"), "{out}");
    assert!(out.contains("Reach"), "{out}");

    // settime shows the clock, then the daemon refuses while NTP is on.
    let out = con.dialogue("settime", &["01/02/2030 10:00:00", ""]);
    assert!(out.contains("Current time: "), "{out}");
    assert!(
        out.contains("Please enter the time in MM/DD/YYYY HH:MM:SS format"),
        "{out}"
    );
    assert!(
        out.contains("The time cannot be set while NTP is enabled"),
        "{out}"
    );
    con.logout();
}

#[test]
fn the_logconfig_menu_subscribes_and_unsubscribes_syslog_hosts() {
    let net = TestNet::new();
    let gw = Gateway::start(&net);
    let mut con = Console::login_factory_admin(&gw, "a passphrase for the log menu");

    let out = con.dialogue(
        "logconfig",
        &[
            "SUBSCRIBE",
            "1",
            "127.0.0.1:5514",
            "3",
            "local3",
            "",
            "SUBSCRIBE",
            "audit_logs",
            "127.0.0.1:6514",
            "2",
            "",
            "2M",
            "UNSUBSCRIBE",
            "3",
            "",
            "",
        ],
    );
    assert!(
        out.contains("- SUBSCRIBE - Push a log to a syslog host (Syslog Push)."),
        "{out}"
    );
    assert!(
        out.contains("Which protocol do you want to use to transfer the log data?\n1. TCP (port 514)\n2. TLS (port 6514)\n3. UDP (port 514)"),
        "{out}"
    );
    assert!(
        out.contains("mail_logs: Syslog Push to 127.0.0.1:5514 UDP."),
        "{out}"
    );
    assert!(
        out.contains("audit_logs: Syslog Push to 127.0.0.1:6514 TLS."),
        "{out}"
    );
    assert!(out.contains("audit_logs: no longer pushed."), "{out}");

    let out = con.dialogue("commit", &["mail_logs to syslog"]);
    assert!(out.contains("Changes committed"), "{out}");
    let printed = gw.cli_ok(&["logconfig", "print"]);
    assert!(
        printed.contains("Syslog Push to 127.0.0.1:5514 UDP (facility local3, spool 64M)"),
        "{printed}"
    );
    assert!(
        printed
            .lines()
            .any(|l| l.starts_with("3. audit_logs:") && l.ends_with("Manually Download")),
        "{printed}"
    );
    con.logout();
}
