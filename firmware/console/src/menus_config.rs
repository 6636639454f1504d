//! Menus for `smtproutes`, `dnsconfig`, `interfaceconfig`,
//! `deliveryconfig` and `logconfig`. Each prints the current settings,
//! asks, and runs the batch form (see docs/cli.md) until it is accepted.

use super::ConsoleError;
use super::shell::Shell;

/// Asks each `(option, question)`; an empty answer leaves that setting as
/// it is (`keeps` says what stays: "the current value"). Returns the
/// `--option value` arguments.
pub(super) fn answers(
    sh: &mut Shell<'_>,
    questions: &[(&str, &str)],
    keeps: &str,
) -> Result<Vec<String>, ConsoleError> {
    let mut args = Vec::new();
    for (option, question) in questions {
        if let Some(v) = sh.ask_some(&format!("{question} (Enter keeps {keeps})"))? {
            args.push(format!("--{option}"));
            args.push(v);
        }
    }
    Ok(args)
}

/// [`answers`] for an edit: `None` (saying so) when nothing was answered.
pub(super) fn options(
    sh: &mut Shell<'_>,
    questions: &[(&str, &str)],
) -> Result<Option<Vec<String>>, ConsoleError> {
    let args = answers(sh, questions, "the current value")?;
    if args.is_empty() {
        sh.show("Nothing changed.")?;
        return Ok(None);
    }
    Ok(Some(args))
}

/// The NEW, EDIT and DELETE menu of a table of named rows with settings
/// (`bounceconfig`, `quarantineconfig`): `ops` says what each does,
/// `names` asks the row's name for each, `questions` asks its settings.
pub(super) fn named_rows(
    sh: &mut Shell<'_>,
    command: &str,
    ops: [(&str, &str); 3],
    names: [&str; 3],
    questions: &[(&str, &str)],
) -> Result<(), ConsoleError> {
    loop {
        sh.run(&[command, "print"])?;
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => row_settings(sh, &[command, "new"], names[0], questions, false)?,
            Some(1) => row_settings(sh, &[command, "edit"], names[1], questions, true)?,
            Some(_) => on_row(sh, &[command, "delete"], names[2])?,
        };
    }
}

/// SETUP or EDIT of settings: asks each `(option, question)` and runs
/// `base <options>` until the daemon accepts it; no answer changes nothing.
pub(super) fn edit_settings(
    sh: &mut Shell<'_>,
    base: &[&str],
    questions: &[(&str, &str)],
) -> Result<bool, ConsoleError> {
    sh.until_accepted(|sh| Ok(options(sh, questions)?.and_then(|o| cmd(base, o))))
}

/// `name args` as owned-free words, for a batch command typed at the prompt.
pub(super) fn with_args<'a>(name: &'a str, args: &'a [String]) -> Vec<&'a str> {
    std::iter::once(name)
        .chain(args.iter().map(String::as_str))
        .collect()
}

/// `parts` as the words of a batch command.
pub(super) fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// The batch command `parts` followed by `more`.
pub(super) fn cmd(parts: &[&str], more: Vec<String>) -> Option<Vec<String>> {
    Some(parts.iter().map(|s| s.to_string()).chain(more).collect())
}

// The ordered tables' menus (sender groups, RAT rows, routes, policies,
// filters, profiles...) take a row by its name or by its number as the
// table prints it: the daemon's table engine (`control::table`) reads
// both, so the answer goes to the batch command as typed and a wrong one
// is refused there with the same text as on the command line.

/// DELETE (or another verb on one row): asks `question` and runs
/// `base <row>` until the daemon accepts it; Enter goes back.
pub(super) fn on_row(
    sh: &mut Shell<'_>,
    base: &[&str],
    question: &str,
) -> Result<bool, ConsoleError> {
    sh.until_accepted(|sh| Ok(sh.ask_some(question)?.and_then(|r| cmd(base, vec![r]))))
}

/// MOVE: asks for the row (`noun`) and its new position, 1 being the top
/// (`last` says where the table ends), and runs `base <row> <position>`.
pub(super) fn move_row(
    sh: &mut Shell<'_>,
    base: &[&str],
    noun: &str,
    last: &str,
) -> Result<bool, ConsoleError> {
    sh.until_accepted(|sh| {
        let question = format!("Enter the name or number of the {noun} you wish to move.");
        let Some(row) = sh.ask_some(&question)? else {
            return Ok(None);
        };
        let question = format!("Enter the position to move it to (1 is the top{last}).");
        let Some(to) = sh.ask_some(&question)? else {
            return Ok(None);
        };
        Ok(cmd(base, vec![row, to]))
    })
}

/// NEW and EDIT of a named row with settings (`--option value`): asks the
/// name (`name_question`), then each setting, and runs `base <name>
/// <options>`. An edit with no answer changes nothing.
pub(super) fn row_settings(
    sh: &mut Shell<'_>,
    base: &[&str],
    name_question: &str,
    questions: &[(&str, &str)],
    edit: bool,
) -> Result<bool, ConsoleError> {
    sh.until_accepted(|sh| {
        let Some(name) = sh.ask_some(name_question)? else {
            return Ok(None);
        };
        let o = if edit {
            options(sh, questions)?
        } else {
            Some(answers(sh, questions, "the default")?)
        };
        Ok(o.and_then(|o| cmd(&[base, &[name.as_str()]].concat(), o)))
    })
}

pub(super) fn smtproutes(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["smtproutes", "print"])?;
        let ops = [
            ("NEW", "Create a new route."),
            ("EDIT", "Edit destination hosts for an existing route."),
            ("DELETE", "Remove a route."),
            ("PRINT", "Display all routes."),
        ];
        let verb = match sh.choose(&ops)? {
            None => return Ok(()),
            Some(3) => continue,
            Some(0) => "new",
            Some(1) => "edit",
            Some(_) => "delete",
        };
        sh.until_accepted(|sh| {
            let Some(domain) = sh.ask_some(
                "Enter the domain for the route. Partial hostnames such as \".example.com\" are allowed.\nUse \"ALL\" for the default route.",
            )?
            else {
                return Ok(None);
            };
            if verb == "delete" {
                return Ok(cmd(&["smtproutes", verb, &domain], vec![]));
            }
            let Some(hosts) = sh.ask_some(&format!(
                "Enter the destination hosts for {domain}, separated by commas: host[:port][/pri=N].\nEnter /dev/null by itself to discard the mail."
            ))?
            else {
                return Ok(None);
            };
            Ok(cmd(&["smtproutes", verb, &domain, &hosts], vec![]))
        })?;
    }
}

pub(super) fn dnsconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["dnsconfig", "print"])?;
        let ops = [
            ("SERVERS", "Set the name servers to ask, in order."),
            ("TIMEOUT", "Set the query timeout."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => on_row(
                sh,
                &["dnsconfig", "servers"],
                "Enter the name servers, separated by commas: ip[:port] ([v6]:port for IPv6 with a port).",
            )?,
            Some(_) => on_row(
                sh,
                &["dnsconfig", "timeout"],
                "Enter the DNS query timeout in seconds (1-300).",
            )?,
        };
    }
}

/// Asks a numbered question until the answer is one of `choices` (by
/// number or by its first word, case-insensitive); Enter takes `default`.
pub(super) fn numbered(
    sh: &mut Shell<'_>,
    question: &str,
    choices: &[&str],
    default: usize,
) -> Result<usize, ConsoleError> {
    let mut text = question.to_string();
    for (i, c) in choices.iter().enumerate() {
        text.push_str(&format!("\n{}. {c}", i + 1));
    }
    loop {
        let a = sh.ask(&text, &(default + 1).to_string())?;
        let by_number = a
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < choices.len());
        // A choice's first word works too when no other choice shares it.
        let word_of = |c: &&str| c.split_whitespace().next().unwrap_or("").to_string();
        let by_word = choices
            .iter()
            .position(|c| word_of(c).eq_ignore_ascii_case(&a))
            .filter(|_| {
                choices
                    .iter()
                    .filter(|c| word_of(c).eq_ignore_ascii_case(&a))
                    .count()
                    == 1
            });
        match by_number.or(by_word) {
            Some(i) => return Ok(i),
            None => sh.show(&format!(
                "'{a}' is not a choice: enter a number from 1 to {}.",
                choices.len()
            ))?,
        }
    }
}

/// "1. Name (...)" lines of a print: the names, for answers by number.
pub(super) fn numbered_names(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (n, rest) = l.split_once(". ")?;
            n.trim().parse::<u32>().ok()?;
            Some(rest.split(" (").next()?.trim().to_string())
        })
        .collect()
}

/// Word `column` (from 0) of each line of a printed table whose first
/// word is its number: the names, in order, for answers by number.
pub(super) fn numbered_column(list: &str, column: usize) -> Vec<String> {
    list.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first()?.parse::<u32>().ok()?;
            w.get(column).map(|s| s.to_string())
        })
        .collect()
}

/// Asks for a name or its number in `names`; `None` on Enter.
pub(super) fn pick(
    sh: &mut Shell<'_>,
    question: &str,
    names: &[String],
) -> Result<Option<String>, ConsoleError> {
    loop {
        let Some(a) = sh.ask_some(question)? else {
            return Ok(None);
        };
        let by_number = a
            .parse::<usize>()
            .ok()
            .and_then(|n| names.get(n.checked_sub(1)?));
        let by_name = names.iter().find(|n| n.eq_ignore_ascii_case(&a));
        match by_number.or(by_name) {
            Some(n) => return Ok(Some(n.clone())),
            None => sh.show(&format!("'{a}' is not one of: {}.", names.join(", ")))?,
        }
    }
}

pub(super) fn interfaceconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let listing = sh.call(&["interfaceconfig", "print"], None)?.output;
        sh.show(&listing)?;
        let names = numbered_names(&listing);
        match sh.choose(&[("EDIT", "Modify an interface.")])? {
            None => return Ok(()),
            Some(_) => {
                let Some(name) = pick(
                    sh,
                    "Enter the number or name of the interface you wish to edit.",
                    &names,
                )?
                else {
                    continue;
                };
                let dhcp = if name == "Management" {
                    ", or DHCP"
                } else {
                    ""
                };
                let question = format!(
                    "Enter the IP address and prefix length for {name} (e.g. 192.0.2.10/24){dhcp}."
                );
                on_row(sh, &["interfaceconfig", "edit", &name], &question)?;
            }
        }
    }
}

pub(super) fn deliveryconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["deliveryconfig", "print"])?;
        let ops = [
            (
                "INTERFACE",
                "Choose the interface outgoing connections use.",
            ),
            ("RETRY", "Set the retry interval for deferred messages."),
            ("SETUP", "Set the default destination limits and timeouts."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => on_row(
                sh,
                &["deliveryconfig", "interface"],
                "Enter the interface for outgoing mail (Management, Data 1 or Data 2).",
            )?,
            Some(1) => edit_settings(sh, &["deliveryconfig", "retry"], RETRY_QUESTIONS)?,
            Some(_) => edit_settings(sh, &["deliveryconfig", "setup"], SETUP_QUESTIONS)?,
        };
    }
}

#[rustfmt::skip]
const RETRY_QUESTIONS: &[(&str, &str)] = &[
    ("initial-secs", "Enter the first retry interval in seconds."),
    ("max-secs", "Enter the longest retry interval in seconds."),
];

#[rustfmt::skip]
const SETUP_QUESTIONS: &[(&str, &str)] = &[
    ("max-concurrency", "Enter the maximum concurrent connections per destination."),
    ("max-messages-per-connection", "Enter the maximum messages per connection."),
    ("connect-timeout", "Enter the connection timeout in seconds."),
    ("command-timeout", "Enter the SMTP command timeout in seconds."),
];

#[rustfmt::skip]
const LOG_QUESTIONS: &[(&str, &str)] = &[
    ("max-file-size", "Enter the size at which mail_logs is rolled over (e.g. 10M)."),
    ("max-files", "Enter how many rolled-over files to keep."),
];

pub(super) fn logconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let print = sh.call(&["logconfig", "print"], None)?.output;
        sh.show(&print)?;
        let ops = [
            ("EDIT", "Modify the rollover of mail_logs."),
            ("SUBSCRIBE", "Push a log to a syslog host (Syslog Push)."),
            ("UNSUBSCRIBE", "Stop pushing a log to its syslog hosts."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => edit_settings(sh, &["logconfig", "mail_logs"], LOG_QUESTIONS)?,
            Some(1) => super::menus_dayops::subscribe(sh, &print)?,
            Some(_) => super::menus_dayops::unsubscribe(sh, &print)?,
        };
    }
}
