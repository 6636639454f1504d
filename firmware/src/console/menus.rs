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
    ConsoleError, menus_admin as admin, menus_config as config, menus_listener as listener,
};
use crate::control::commands;

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
    ("status", "Show the system status"),
    ("showconfig", "Display the whole configuration"),
    ("commitlog", "List every commit (alias commithistory)"),
    (
        "rollback",
        "Stage the configuration of commit N (batch form of rollbackconfig)",
    ),
    ("who", "List who is logged in"),
    ("last", "List recent logins"),
    ("quit", "Log out (also exit, logout)"),
];

/// Commands the daemon answers itself besides the batch command families.
const DAEMON_COMMANDS: &[&str] = &["status", "who", "last", "userconfig", "passwd"];

pub fn find(name: &str) -> Option<&'static MenuDef> {
    MENUS.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// A command the daemon runs (typed in its batch form).
pub fn is_batch(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    commands::names().contains(&name.as_str()) || DAEMON_COMMANDS.contains(&name.as_str())
}

/// Every command name, for Tab.
pub fn completion_words() -> Vec<String> {
    let mut words: Vec<String> = MENUS
        .iter()
        .map(|m| m.name)
        .chain(BATCH_ONLY.iter().map(|(n, _)| *n))
        .chain(commands::names().iter().copied())
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
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, s)| *s)
    })
}
