//! `findevent`, `tail` (with `-f`: follow until Ctrl-C), `grep` and
//! `trace`. The daemon does the reading and the tracing (see
//! `control::logsearch` and `commands::trace`); these menus ask and print.

use super::ConsoleError;
use super::menus_config::{numbered, numbered_names, pick, with_args};
use super::shell::Shell;
use breakwater_control_proto::TAIL_CURSOR_PREFIX as CURSOR_PREFIX;

pub(super) fn findevent(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let kinds = ["--from", "--mid", "--subject", "--to"];
    let kind = kinds[numbered(
        sh,
        "Please choose which type of search you want to perform:",
        &[
            "Search by envelope FROM",
            "Search by Message ID",
            "Search by Subject",
            "Search by envelope TO",
        ],
        0,
    )?];
    loop {
        let Some(value) = sh.ask_some(if kind == "--mid" {
            "Enter the MID to search for."
        } else {
            "Enter the text to search for (part of the value is enough; case does not matter)."
        })?
        else {
            return Ok(());
        };
        let mut a = vec!["findevent".to_string(), kind.to_string(), value];
        if sh.yes_no("Do you want to limit the search to a time range?", false)? {
            for (option, question) in [
                (
                    "--since",
                    "Enter the start (YYYY-MM-DD[ HH:MM]), or Enter for none.",
                ),
                (
                    "--until",
                    "Enter the end (YYYY-MM-DD[ HH:MM]), or Enter for none.",
                ),
            ] {
                if let Some(t) = sh.ask_some(question)? {
                    a.extend([option.to_string(), t]);
                }
            }
        }
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        if sh.run(&a)? {
            return Ok(());
        }
    }
}

pub(super) fn grep(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let Some(re) = sh.ask_some("Enter the regular expression to grep for.")? else {
            return Ok(());
        };
        let insensitive = sh.yes_no("Do you want this search to be case insensitive?", true)?;
        let mut a = vec!["grep"];
        if insensitive {
            a.push("-i");
        }
        a.push(&re);
        if sh.run(&a)? {
            return Ok(());
        }
    }
}

/// `tail`, `tail LOG` (mail_logs, system_logs, audit_logs) or `tail -f
/// [N]` follows the log (mail_logs unless named) until Ctrl-C (as
/// AsyncOS's `tail mail_logs` does); `tail N` prints the last N lines and
/// returns.
pub(super) fn tail(sh: &mut Shell<'_>, args: &[String]) -> Result<(), ConsoleError> {
    let (count, log) = match args {
        [] => ("20".to_string(), "mail_logs".to_string()),
        [l] if ["mail_logs", "system_logs", "audit_logs"]
            .iter()
            .any(|n| l.eq_ignore_ascii_case(n)) =>
        {
            ("20".to_string(), l.to_ascii_lowercase())
        }
        [f] if f == "-f" => ("20".to_string(), "mail_logs".to_string()),
        [f, n] if f == "-f" => (n.clone(), "mail_logs".to_string()),
        _ => {
            sh.run(&with_args("tail", args))?;
            return Ok(());
        }
    };
    let r = sh.call(&["tail", "--follow", "start", &count, &log], None)?;
    if !r.ok {
        return sh.show(&r.output);
    }
    sh.show("Press Ctrl-C to stop.")?;
    let mut cursor = print_follow(sh, &r.output)?;
    loop {
        // One port tick (250 ms) between reads: the wait for a key is the pause.
        match sh.term.poll_key()? {
            Some(0x03) => {
                sh.term.println("^C")?;
                return Ok(());
            }
            Some(0x04) => return Err(ConsoleError::Eof),
            _ => {}
        }
        let r = sh.call(&["tail", "--follow", &cursor, &log], None)?;
        if !r.ok {
            return sh.show(&r.output);
        }
        cursor = print_follow(sh, &r.output)?;
    }
}

/// Prints a `tail --follow` answer's lines; returns its cursor.
fn print_follow(sh: &mut Shell<'_>, output: &str) -> Result<String, ConsoleError> {
    let (first, lines) = output.split_once('\n').unwrap_or((output, ""));
    if !lines.is_empty() {
        sh.term.print(lines)?;
    }
    Ok(first
        .strip_prefix(CURSOR_PREFIX)
        .unwrap_or("0:0")
        .to_string())
}

pub(super) fn trace(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let ip = loop {
        let Some(ip) = sh.ask_some("Enter the source IP address for this test.")? else {
            return Ok(());
        };
        if ip
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
        {
            break ip;
        }
        sh.show(&format!("'{ip}' is not an IPv4 or IPv6 address."))?;
    };
    let rdns = sh.ask_some(
        "Enter the fully qualified domain name of the source IP (Enter for none; it is taken as verified).",
    )?;
    let listing = sh.call(&["listenerconfig", "print"], None)?.output;
    sh.show("Select the listener to trace behavior on:")?;
    let summary: Vec<&str> = listing
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    sh.show(&summary.join("\n"))?;
    let Some(listener) = pick(
        sh,
        "Enter the name or number of the listener.",
        &numbered_names(&listing),
    )?
    else {
        return Ok(());
    };
    let Some(from) = sh.ask_some("Enter the Envelope Sender address.")? else {
        return Ok(());
    };
    let Some(to) = sh.ask_some(
        "Enter the Envelope Recipient addresses. Separate multiple addresses by commas.",
    )?
    else {
        return Ok(());
    };
    let body = sh.read_script(
        "Enter or paste the message here. Enter '.' on a blank line to end (a '.' alone makes a short test message).",
    )?;
    let mut a = vec![
        "trace",
        "--listener",
        &listener,
        "--remote-ip",
        &ip,
        "--from",
        &from,
        "--to",
        &to,
    ];
    if let Some(r) = &rdns {
        a.extend(["--rdns", r.as_str()]);
    }
    let r = sh.call(&a, Some(&body))?;
    sh.show(&r.output)
}
