//! `alertconfig`, `ntpconfig` and `settime` as AsyncOS asks them (issue
//! 16's day-two settings). Each prints the current settings, asks, and
//! runs the batch form (docs/cli.md) until the daemon accepts it, so the
//! menu and `breakwater cli` can never disagree.

use super::ConsoleError;
use super::menus_config::{cmd, edit_settings, numbered, on_row, pick};
use super::shell::Shell;

/// The alert classes as AsyncOS lists them, with the batch word of each.
const CLASSES: [(&str, &str); 6] = [
    ("All", "all"),
    ("System", "system"),
    ("Hardware", "hardware"),
    ("Updater", "updater"),
    ("Mail Delivery / Queue", "maildelivery"),
    ("Threat Defense", "threatdefense"),
];

const SEVERITIES: [(&str, &str); 4] = [
    ("All", ""),
    ("Critical", "critical"),
    ("Warning", "warning"),
    ("Information", "information"),
];

/// Parses `2, 3` against a numbered list of `len` choices: the indices
/// (from 0), or `None` when an answer is not one of the numbers.
pub(super) fn choices(answer: &str, len: usize) -> Option<Vec<usize>> {
    let mut picked = Vec::new();
    for part in answer.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let i = part.parse::<usize>().ok()?.checked_sub(1)?;
        if i >= len {
            return None;
        }
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    (!picked.is_empty()).then_some(picked)
}

/// Asks a numbered question whose answer may name several choices
/// (`2, 3`), as AsyncOS's "Separate multiple choices with commas"; Enter
/// takes the first (All).
fn several(sh: &mut Shell<'_>, question: &str, names: &[&str]) -> Result<Vec<usize>, ConsoleError> {
    let mut text = format!("{question} Separate multiple choices with commas.");
    for (i, n) in names.iter().enumerate() {
        text.push_str(&format!("\n{}. {n}", i + 1));
    }
    loop {
        let a = sh.ask(&text, "1")?;
        match choices(&a, names.len()) {
            Some(c) => return Ok(c),
            None => sh.show(&format!(
                "'{a}' is not a choice: enter numbers from 1 to {}, separated by commas.",
                names.len()
            ))?,
        }
    }
}

/// The `class[:severities]` words of a recipient from the chosen classes
/// and severities (indices into [`CLASSES`] and [`SEVERITIES`]). All
/// classes is the word `all`; all severities is a class with no colon.
pub(super) fn class_words(classes: &[usize], severities: &[usize]) -> Vec<String> {
    let severity: Vec<&str> = if severities.contains(&0) {
        Vec::new()
    } else {
        severities.iter().map(|&s| SEVERITIES[s].1).collect()
    };
    let classes: Vec<&str> = if classes.contains(&0) {
        vec!["all"]
    } else {
        classes.iter().map(|&c| CLASSES[c].1).collect()
    };
    classes
        .into_iter()
        .map(|c| {
            if severity.is_empty() {
                c.to_string()
            } else {
                format!("{c}:{}", severity.join(","))
            }
        })
        .collect()
}

/// The classes and severities of one recipient, asked as AsyncOS does.
fn ask_classes(sh: &mut Shell<'_>) -> Result<Vec<String>, ConsoleError> {
    let names: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
    let classes = several(sh, "Choose the Alert Class(es) for this alert.", &names)?;
    let names: Vec<&str> = SEVERITIES.iter().map(|(n, _)| *n).collect();
    let severities = several(sh, "Select a Severity Level.", &names)?;
    Ok(class_words(&classes, &severities))
}

/// The recipients `alertconfig print` lists (the indented addresses
/// under "Sending alerts to:"), for answers by number.
fn recipients(print: &str) -> Vec<String> {
    print
        .lines()
        .skip_while(|l| !l.starts_with("Sending alerts to:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("    ") && !l.starts_with("        "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[rustfmt::skip]
const ALERT_SETUP: &[(&str, &str)] = &[
    ("initial-interval", "Enter the initial number of seconds to wait before sending a duplicate alert (0: send every one)."),
    ("max-interval", "Enter the maximum number of seconds to wait before sending a duplicate alert."),
    ("queue-threshold", "Enter the percent of the work queue's limit above which a Mail Delivery alert is sent."),
    ("data-threshold", "Enter the percent use of the data partition above which a System alert is sent."),
    ("certificate-days", "Enter how many days before a certificate expires a System warning is sent."),
    ("threat-defense-failures", "Enter how many failed Threat Defense copies in a row raise an alert."),
    ("check-interval", "Enter the seconds between two checks of the thresholds (1-3600)."),
];

pub(super) fn alertconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let print = sh.call(&["alertconfig", "print"], None)?.output;
        sh.show(&print)?;
        let ops = [
            ("NEW", "Add a new email address to send alerts."),
            ("EDIT", "Modify an email address."),
            ("DELETE", "Remove an email address."),
            ("CLEAR", "Remove all email addresses (disable alerts)."),
            ("FROM", "Configure the From Address of alert emails."),
            ("SETUP", "Configure alert settings."),
        ];
        let Some(op) = sh.choose(&ops)? else {
            return Ok(());
        };
        let names = recipients(&print);
        match op {
            0 => sh.until_accepted(|sh| {
                let Some(address) =
                    sh.ask_some("Please enter a new email address to send alerts.")?
                else {
                    return Ok(None);
                };
                let classes = ask_classes(sh)?;
                Ok(cmd(&["alertconfig", "new", &address], classes))
            })?,
            1 => sh.until_accepted(|sh| {
                let Some(address) = pick(sh, "Enter the email address or number to edit.", &names)?
                else {
                    return Ok(None);
                };
                let classes = ask_classes(sh)?;
                Ok(cmd(&["alertconfig", "edit", &address], classes))
            })?,
            2 => sh.until_accepted(|sh| {
                let address = pick(sh, "Enter the email address or number to delete.", &names)?;
                Ok(address.and_then(|a| cmd(&["alertconfig", "delete", &a], Vec::new())))
            })?,
            3 => {
                if sh.may_change()?
                    && sh.yes_no("Do you want to remove all alert recipients?", false)?
                {
                    sh.run(&["alertconfig", "clear"])?;
                }
                false
            }
            4 => on_row(
                sh,
                &["alertconfig", "from"],
                "Enter the From Address of alert emails, or 'default' for alert@<hostname>.",
            )?,
            _ => edit_settings(sh, &["alertconfig", "setup"], ALERT_SETUP)?,
        };
    }
}

pub(super) fn ntpconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let print = sh.call(&["ntpconfig", "print"], None)?.output;
        sh.show(&print)?;
        let enabled = print.starts_with("NTP is enabled");
        let toggle = if enabled {
            ("DISABLE", "Stop setting the clock from NTP.")
        } else {
            ("ENABLE", "Set the clock from the NTP servers.")
        };
        let ops = [
            ("ADD", "Add a server."),
            ("DELETE", "Remove a server."),
            toggle,
            ("POLL", "Set the interval between two rounds of queries."),
            ("STATUS", "Show the synchronisation status."),
        ];
        let Some(op) = sh.choose(&ops)? else {
            return Ok(());
        };
        match op {
            0 => on_row(
                sh,
                &["ntpconfig", "new"],
                "Please enter the fully qualified hostname or IP address of your NTP server (optionally with :port).",
            )?,
            1 => on_row(
                sh,
                &["ntpconfig", "delete"],
                "Enter the number or name of the server you wish to remove.",
            )?,
            2 => {
                let verb = if enabled { "disable" } else { "enable" };
                sh.until_accepted(|_| Ok(cmd(&["ntpconfig", verb], Vec::new())))?
            }
            3 => on_row(
                sh,
                &["ntpconfig", "poll"],
                "Enter the number of seconds between two rounds of NTP queries (64-131072).",
            )?,
            _ => sh.run(&["ntpconfig", "status"])?,
        };
    }
}

/// AsyncOS's `settime`: the current time, then the new one in the
/// appliance's zone (refused by the daemon while NTP is on, with the way
/// out).
pub(super) fn settime(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    sh.run(&["settime"])?;
    sh.until_accepted(|sh| {
        let t = sh.ask_some(
            "Please enter the time in MM/DD/YYYY HH:MM:SS format (in the appliance's time zone), or Enter to keep it.",
        )?;
        Ok(t.and_then(|t| cmd(&["settime"], vec![t])))
    })?;
    Ok(())
}

/// The logs `logconfig print` numbers, for answers by number.
pub(super) fn log_names(print: &str) -> Vec<String> {
    print
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(". ")?;
            n.trim().parse::<u32>().ok()?;
            Some(rest.split(':').next()?.trim().to_string())
        })
        .collect()
}

/// SUBSCRIBE of `logconfig`: the log (by number or name), the host, the
/// protocol, and optionally the facility and the spool size, as AsyncOS's
/// "Syslog Push" questions; runs `logconfig subscribe ...`.
pub(super) fn subscribe(sh: &mut Shell<'_>, print: &str) -> Result<bool, ConsoleError> {
    let logs = log_names(print);
    sh.until_accepted(|sh| {
        let Some(log) = pick(sh, "Enter the number or name of the log to push.", &logs)? else {
            return Ok(None);
        };
        let Some(host) = sh.ask_some(
            "Please enter the hostname or IP address of the syslog server (optionally with :port).",
        )?
        else {
            return Ok(None);
        };
        let protocol = ["tcp", "tls", "udp"][numbered(
            sh,
            "Which protocol do you want to use to transfer the log data?",
            &["TCP (port 514)", "TLS (port 6514)", "UDP (port 514)"],
            0,
        )?];
        let mut more = vec![host, "--protocol".to_string(), protocol.to_string()];
        if let Some(f) = sh.ask_some(
            "Enter the syslog facility (0-23 or a name such as mail, auth, local3), or Enter for the log's default.",
        )? {
            more.extend(["--facility".to_string(), f]);
        }
        if let Some(n) = sh.ask_some(
            "Enter the size of the spool kept on flash while the server is down (1M-1G), or Enter for 64M.",
        )? {
            more.extend(["--spool-size".to_string(), n]);
        }
        Ok(cmd(&["logconfig", "subscribe", &log], more))
    })
}

/// UNSUBSCRIBE of `logconfig`: the log, then one host or all of them.
pub(super) fn unsubscribe(sh: &mut Shell<'_>, print: &str) -> Result<bool, ConsoleError> {
    let logs = log_names(print);
    sh.until_accepted(|sh| {
        let Some(log) = pick(sh, "Enter the number or name of the log to stop pushing.", &logs)?
        else {
            return Ok(None);
        };
        let host = sh.ask_some(
            "Enter the syslog host (optionally with :port) to remove, or Enter for all of the log's hosts.",
        )?;
        Ok(cmd(&["logconfig", "unsubscribe", &log], host.into_iter().collect()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_answers_name_several_choices() {
        assert_eq!(choices("2, 3", 6), Some(vec![1, 2]));
        assert_eq!(choices("1", 6), Some(vec![0]));
        assert_eq!(choices("3,3", 4), Some(vec![2]));
        assert_eq!(choices("7", 6), None);
        assert_eq!(choices("0", 6), None);
        assert_eq!(choices("two", 6), None);
        assert_eq!(choices("", 6), None);
    }

    #[test]
    fn classes_and_severities_make_the_batch_words() {
        assert_eq!(class_words(&[0], &[0]), ["all"]);
        assert_eq!(
            class_words(&[1, 2], &[1, 2]),
            ["system:critical,warning", "hardware:critical,warning"]
        );
        assert_eq!(class_words(&[0, 4], &[3]), ["all:information"]);
        assert_eq!(class_words(&[4], &[0, 1]), ["maildelivery"]);
    }

    #[test]
    fn recipients_and_logs_are_read_from_the_prints() {
        let print = "Sending alerts to:\n    ops@example.com\n        Class: All - Severities: All\n    hw@example.com\n        Class: System - Severities: Critical\n\nInitial number of seconds ...: 300";
        assert_eq!(recipients(print), ["ops@example.com", "hw@example.com"]);
        let logs = "Currently configured logs:\n1. mail_logs: roll over at 20M, keep 5 files; Manually Download\n2. system_logs: roll over\n3. audit_logs: roll over";
        assert_eq!(log_names(logs), ["mail_logs", "system_logs", "audit_logs"]);
    }
}
