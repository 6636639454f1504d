//! The table of interactive commands. A menu gathers answers and runs the
//! batch command of the same change through the daemon, so the menu and
//! the batch form can never disagree.
//!
//! To add a menu (e.g. `filters`): write `fn(&mut Shell, &[String])` in a
//! `menus_*` module and add a [`MenuDef`] line to [`MENUS`]; `help`, Tab
//! completion and dispatch pick it up. Typed with arguments, a command
//! whose menu has `takes_args: false` goes straight to its batch form.

use super::shell::Shell;
use super::{
    ConsoleError, menus_admin as admin, menus_config as config, menus_delivery as delivery,
    menus_filters as filters, menus_listener as listener, menus_logs as logs,
    menus_policy as policy, menus_quarantine as quarantine, menus_setup as setup,
    menus_system as system,
};
use crate::control::{commands, logsearch};
use crate::workqueue::operator;

pub type MenuFn = fn(&mut Shell<'_>, &[String]) -> Result<(), ConsoleError>;

pub struct MenuDef {
    pub name: &'static str,
    /// One line for `help`.
    pub summary: &'static str,
    /// The menu also handles the command typed with arguments.
    pub takes_args: bool,
    pub run: MenuFn,
}

const fn menu(name: &'static str, summary: &'static str, takes_args: bool, run: MenuFn) -> MenuDef {
    MenuDef {
        name,
        summary,
        takes_args,
        run,
    }
}

pub const MENUS: &[MenuDef] = &[
    menu(
        "systemsetup",
        "Run the System Setup Wizard (host name, network, DNS, mail flow, passphrase)",
        false,
        setup::systemsetup,
    ),
    menu(
        "listenerconfig",
        "Configure listeners, their Host Access Table and Recipient Access Table",
        false,
        listener::listenerconfig,
    ),
    menu(
        "smtproutes",
        "Set up permanent domain redirections (SMTP routes)",
        false,
        config::smtproutes,
    ),
    menu(
        "dnsconfig",
        "Configure the DNS servers",
        false,
        config::dnsconfig,
    ),
    menu(
        "interfaceconfig",
        "Configure the network interfaces",
        false,
        config::interfaceconfig,
    ),
    menu(
        "deliveryconfig",
        "Configure mail delivery (interface, retries, limits)",
        false,
        config::deliveryconfig,
    ),
    menu(
        "logconfig",
        "Configure log rollover",
        false,
        config::logconfig,
    ),
    menu(
        "destconfig",
        "Configure options for delivery to destination domains",
        false,
        delivery::destconfig,
    ),
    menu(
        "bounceconfig",
        "Configure the behavior of bounces (bounce profiles)",
        false,
        delivery::bounceconfig,
    ),
    menu(
        "filters",
        "Configure message filters (paste, list, order, activate, import, export)",
        false,
        filters::filters,
    ),
    menu(
        "policyconfig",
        "Configure the incoming and outgoing mail policies",
        false,
        policy::policyconfig,
    ),
    menu(
        "threatdefenseconfig",
        "Configure the Threat Defense Connector (copies to Secure Email Threat Defense)",
        false,
        policy::threatdefenseconfig,
    ),
    menu(
        "quarantineconfig",
        "Configure the local quarantines",
        false,
        quarantine::quarantineconfig,
    ),
    menu(
        "quarantine",
        "List, show, release or delete quarantined messages",
        false,
        quarantine::quarantine,
    ),
    menu(
        "sethostname",
        "Set the name of the machine",
        true,
        system::sethostname,
    ),
    menu(
        "setgateway",
        "Set the default network gateway",
        true,
        system::setgateway,
    ),
    menu(
        "saveconfig",
        "Save the configuration in force to a file (or print it)",
        true,
        system::saveconfig,
    ),
    menu(
        "loadconfig",
        "Stage a configuration saved with saveconfig",
        true,
        system::loadconfig,
    ),
    menu(
        "findevent",
        "Find every mail_logs line of messages by sender, recipient, subject or MID",
        true,
        logs::findevent,
    ),
    menu(
        "tail",
        "Show the end of mail_logs and follow it (tail N: the last N lines)",
        true,
        logs::tail,
    ),
    menu(
        "grep",
        "Search mail_logs for a regular expression",
        true,
        logs::grep,
    ),
    menu(
        "trace",
        "Trace a test message through HAT, RAT, policies and filters (nothing is delivered)",
        true,
        logs::trace,
    ),
    menu(
        "reboot",
        "Restart the mail daemon cleanly",
        true,
        system::reboot,
    ),
    menu(
        "shutdown",
        "Stop the mail daemon cleanly",
        true,
        system::shutdown,
    ),
    menu("commit", "Commit changes", true, admin::commit),
    menu("clear", "Clear changes", true, admin::clear),
    menu(
        "commitdetail",
        "Display the commit history",
        true,
        admin::commitdetail,
    ),
    menu(
        "rollbackconfig",
        "Roll back to one of the last 10 committed configurations",
        true,
        admin::rollbackconfig,
    ),
    menu(
        "userconfig",
        "Manage user accounts",
        true,
        admin::userconfig,
    ),
    menu("passwd", "Change your passphrase", true, admin::passwd),
    menu(
        "version",
        "View system version information",
        true,
        admin::version,
    ),
    menu(
        "help",
        "Help for commands (help COMMAND)",
        true,
        admin::help,
    ),
];

/// Commands without a menu, run as typed.
pub const BATCH_ONLY: &[(&str, &str)] = &[
    ("showconfig", "Display the whole configuration"),
    ("commitlog", "List every commit (alias commithistory)"),
    (
        "rollback",
        "Stage the configuration of commit N (batch form of rollbackconfig)",
    ),
    (
        "status",
        "Show the system status (\"status detail\": counters, gauges and rates)",
    ),
    (
        "workqueue",
        "Show the work queue: messages, active recipients, by destination",
    ),
    (
        "tophosts",
        "Show the destinations with the most active recipients (tophosts [active|conn|deliv|soft|hard])",
    ),
    (
        "hoststatus",
        "Show the delivery status of one destination domain",
    ),
    ("showmessage", "Show a queued message by MID"),
    ("deletemessage", "Delete a queued message by MID"),
    (
        "delivernow",
        "Retry queued mail now (all, a domain or an address)",
    ),
    (
        "bouncerecipients",
        "Bounce queued recipients (all, a domain or an address)",
    ),
    (
        "redirectrecipients",
        "Send all queued mail to one host (\"clear\" ends it)",
    ),
    (
        "resetcounters",
        "Reset the counters of status detail and tophosts",
    ),
    (
        "upgrade",
        "Install a firmware upgrade into the other slot (upgrade install [--allow-downgrade] <file|https://...>; upgrade status)",
    ),
    (
        "debughang",
        "Testing (admin): make the mail daemon hang; \"debughang supervisor\": stop petting the watchdog",
    ),
    ("who", "List who is logged in"),
    ("last", "List recent logins"),
    ("quit", "Log out (also exit, logout)"),
];

/// Commands the daemon answers itself besides the batch command families.
const DAEMON_COMMANDS: &[&str] = &[
    "status",
    "who",
    "last",
    "userconfig",
    "passwd",
    "upgrade",
    "debughang",
];

pub fn find(name: &str) -> Option<&'static MenuDef> {
    MENUS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// A command the daemon runs (typed in its batch form): a batch command
/// family, or one the daemon answers itself (users, logs, the queue).
pub fn is_batch(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    commands::names().contains(&name)
        || DAEMON_COMMANDS.contains(&name)
        || logsearch::NAMES.contains(&name)
        || operator::NAMES.contains(&name)
        || matches!(name, "reboot" | "shutdown")
}

/// Usage of the commands the daemon answers outside the batch families
/// (`help COMMAND` asks the daemon for the others).
pub fn daemon_usage(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "findevent" => logsearch::FINDEVENT_USAGE,
        "tail" => logsearch::TAIL_USAGE,
        "grep" => logsearch::GREP_USAGE,
        "workqueue" => "usage: workqueue [status]",
        "tophosts" => "usage: tophosts [active|conn|deliv|soft|hard]",
        "hoststatus" => "usage: hoststatus <domain>",
        "showmessage" => "usage: showmessage <MID>",
        "deletemessage" => "usage: deletemessage <MID>",
        "delivernow" => "usage: delivernow [all|<domain>|<address>]",
        "bouncerecipients" => "usage: bouncerecipients all|<domain>|<address>",
        "redirectrecipients" => "usage: redirectrecipients <host>[:port]|clear",
        "resetcounters" => "usage: resetcounters",
        "quarantine" => crate::quarantine::USAGE,
        "status" => "usage: status\n       status detail",
        "reboot" | "shutdown" => {
            "usage: reboot | shutdown   (asks for confirmation; both stop the daemon cleanly,\n\
             and its supervisor starts it again after a reboot)"
        }
        "upgrade" => {
            "usage: upgrade [status]\n       upgrade install [--allow-downgrade] <file in the data partition's upgrade/ directory | https://URL>"
        }
        "debughang" => "usage: debughang [supervisor]",
        "who" => "usage: who",
        "last" => "usage: last",
        "version" => "usage: version",
        "quit" | "exit" | "logout" => "usage: quit",
        "passwd" => "usage: passwd   (asks for the old and the new passphrase)",
        _ => return None,
    })
}

/// Every command name, for Tab.
pub fn completion_words() -> Vec<String> {
    let mut words: Vec<String> = MENUS
        .iter()
        .map(|m| m.name)
        .chain(BATCH_ONLY.iter().map(|(n, _)| *n))
        .chain(commands::names().iter().copied())
        .chain(operator::NAMES.iter().copied())
        .chain(DAEMON_COMMANDS.iter().copied())
        .chain(["exit", "logout"])
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// `help`: every command and what it does.
pub fn overview() -> String {
    let mut rows: Vec<(&str, &str)> = MENUS.iter().map(|m| (m.name, m.summary)).collect();
    rows.extend(BATCH_ONLY.iter().filter(|(n, _)| find(n).is_none()));
    for name in commands::names() {
        if !rows.iter().any(|(n, _)| n == name) && summary(name) == Some(FAMILY) {
            rows.push((name, FAMILY));
        }
    }
    rows.sort();
    let mut out = String::from(
        "Commands (\"help COMMAND\" for details; a menu command typed alone asks its questions):\n",
    );
    for (name, summary) in rows {
        out.push_str(&format!("{name:<16} {summary}\n"));
    }
    out
}

/// One line for `help COMMAND`.
pub fn summary(name: &str) -> Option<&'static str> {
    find(name).map(|m| m.summary).or_else(|| {
        BATCH_ONLY
            .iter()
            .chain(ALIASES)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| *s)
            .or_else(|| {
                let lower = name.to_ascii_lowercase();
                commands::names()
                    .contains(&lower.as_str())
                    .then_some(FAMILY)
            })
    })
}

/// Names `help` knows that the overview does not list on a line of their own.
const ALIASES: &[(&str, &str)] = &[
    ("exit", "Log out (also quit, logout)"),
    ("logout", "Log out (also quit, exit)"),
    ("commithistory", "List every commit (alias of commitlog)"),
];

/// What `help` says of a batch command family that has no menu line yet.
const FAMILY: &str = "Configuration command (typed with its arguments; the forms follow)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_completable_command_has_help() {
        for word in completion_words() {
            assert!(summary(&word).is_some(), "no help summary for {word}");
        }
    }

    #[test]
    fn every_daemon_command_outside_the_families_has_usage() {
        for name in logsearch::NAMES
            .iter()
            .chain(operator::NAMES)
            .chain(DAEMON_COMMANDS)
            .chain(&["reboot", "shutdown"])
        {
            if *name == "userconfig" {
                continue; // the daemon prints its usage for a wrong form
            }
            assert!(daemon_usage(name).is_some(), "no usage for {name}");
        }
    }
}
