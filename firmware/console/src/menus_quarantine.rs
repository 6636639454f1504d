//! `quarantineconfig` (the local quarantines: NEW, EDIT, DELETE) and
//! `quarantine` (the held messages: LIST, SHOW, RELEASE, DELETE, DELAY, and
//! NOTIFY for the Spam Quarantine notifications, which the running
//! gateway's work queue answers). Both run the batch commands
//! (see `control::commands::quarantine`).

use super::ConsoleError;
use super::menus_config::named_rows;
use super::menus_config::words;
use super::shell::Shell;

#[rustfmt::skip]
const QUESTIONS: &[(&str, &str)] = &[
    ("max_size", "Enter the maximum size of the quarantine (e.g. 500M, 2G)."),
    ("retention", "Enter the retention period: hours (240), or 30m, 12h, 14d (1 minute to 365 days)."),
    ("action", "Enter the default action, applied when the retention period ends or the quarantine is full: release or delete."),
];

pub(super) fn quarantineconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let ops = [
        ("NEW", "Create a new quarantine."),
        ("EDIT", "Modify a quarantine."),
        ("DELETE", "Remove a quarantine."),
    ];
    let names = [
        "Enter the name of the new quarantine (letters, digits, '_' and '-').",
        "Enter the name of the quarantine you wish to edit.",
        "Enter the name of the quarantine you wish to delete (filters that name it are reported).",
    ];
    named_rows(sh, "quarantineconfig", ops, names, QUESTIONS)
}

/// Asks for a MID; `None` on Enter.
fn ask_mid(sh: &mut Shell<'_>, question: &str) -> Result<Option<String>, ConsoleError> {
    loop {
        let Some(a) = sh.ask_some(question)? else {
            return Ok(None);
        };
        if a.parse::<u64>().is_ok() {
            return Ok(Some(a));
        }
        sh.show(&format!("'{a}' is not a MID: enter the message's number."))?;
    }
}

pub(super) fn quarantine(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let ops = [
            ("LIST", "List the quarantines and the messages they hold."),
            ("SHOW", "Display a held message."),
            ("RELEASE", "Release a held message for delivery."),
            ("DELETE", "Delete a held message."),
            ("DELAY", "Delay a held message's scheduled exit."),
            ("NOTIFY", "Send the Spam Quarantine notifications now."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                let q = sh.ask(
                    "Enter the quarantine whose messages to list, or Enter for every quarantine.",
                    "",
                )?;
                let mut a = vec!["quarantine", "list"];
                if !q.is_empty() {
                    a.push(&q);
                }
                sh.run(&a)?;
            }
            Some(1) => {
                while let Some(mid) = ask_mid(sh, "Enter the MID of the message to display.")? {
                    if sh.run(&["quarantine", "show", &mid])? {
                        break;
                    }
                }
            }
            Some(4) => {
                sh.until_accepted(|sh| {
                    let Some(mid) = ask_mid(sh, "Enter the MID of the message to delay.")? else {
                        return Ok(None);
                    };
                    let period = sh.ask(
                        "Enter how much later it leaves the quarantine: hours (24), or 30m, 12h, 2d.",
                        "1d",
                    )?;
                    Ok(Some(words(&["quarantine", "delay", &mid, &period])))
                })?;
            }
            Some(5) => {
                sh.run(&["quarantine", "notify", "now"])?;
            }
            Some(op) => {
                let verb = if op == 2 { "release" } else { "delete" };
                sh.until_accepted(|sh| {
                    let Some(mid) =
                        ask_mid(sh, &format!("Enter the MID of the message to {verb}."))?
                    else {
                        return Ok(None);
                    };
                    if verb == "delete"
                        && !sh.yes_no(
                            &format!("Delete message {mid} for good? It is not delivered."),
                            false,
                        )?
                    {
                        return Ok(None);
                    }
                    Ok(Some(words(&["quarantine", verb, &mid])))
                })?;
            }
        }
    }
}
