//! Menus for `destconfig` (the destination control table) and
//! `bounceconfig` (bounce profiles). Each prints the table, asks, and runs
//! the batch form (see docs/cli.md) until the daemon accepts it.

use super::ConsoleError;
use super::menus_config::{edit_settings, named_rows, on_row, row_settings};
use super::shell::Shell;

/// Destination control questions: `(option, question)`, Enter keeps the
/// current (or Default) value.
#[rustfmt::skip]
const DEST_QUESTIONS: &[(&str, &str)] = &[
    ("max_host_concurrency", "Enter the maximum number of concurrent connections (1-10000)."),
    ("max_messages_per_connection", "Enter the maximum number of messages per connection (1-100000)."),
    ("recipient_limit", "Enter the maximum number of recipients per time window, or \"none\"."),
    ("recipient_minutes", "Enter the length of that time window in minutes (1-1440)."),
    ("limit_applies_to", "Apply the limits to the whole domain or to each host: domain or host."),
    ("use_tls", "Enter the TLS setting: none, preferred, required, preferred-verify or required-verify."),
    ("dane", "Enter the DANE setting: none, opportunistic or mandatory."),
    ("ip_preference", "Enter the IP address preference: ipv4-only, ipv4-preferred, ipv6-preferred or ipv6-only."),
    ("bounce_profile", "Enter the bounce profile to use."),
    ("bounce_verification", "Turn bounce verification on or off: on or off."),
];

#[rustfmt::skip]
const BOUNCE_QUESTIONS: &[(&str, &str)] = &[
    ("max_retries", "Enter the maximum number of retries."),
    ("max_queue_lifetime", "Enter the maximum number of seconds a message may stay in the queue."),
    ("initial_retry", "Enter the number of seconds to wait before the first retry."),
    ("max_retry_timeout", "Enter the longest wait between two retries, in seconds."),
    ("hard_bounce_message", "Send a bounce message (DSN) for hard bounces: on or off."),
    ("delay_warning", "Send delay warnings: on or off."),
];

pub(super) fn destconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        sh.run(&["destconfig", "list"])?;
        let ops = [
            ("NEW", "Create a new entry."),
            ("EDIT", "Modify an entry."),
            ("DELETE", "Remove an entry."),
            ("DEFAULT", "Change the default."),
            ("LIST", "Display a summary list of all entries."),
            ("DETAIL", "Display details for one destination."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => row_settings(
                sh,
                &["destconfig", "new"],
                "Enter the domain you wish to configure (example.com, or .example.com for its subdomains).",
                DEST_QUESTIONS,
                false,
            )?,
            Some(1) => row_settings(
                sh,
                &["destconfig", "edit"],
                "Enter the domain of the entry you wish to edit.",
                DEST_QUESTIONS,
                true,
            )?,
            Some(2) => on_row(
                sh,
                &["destconfig", "delete"],
                "Enter the domain of the entry you wish to delete.",
            )?,
            Some(3) => edit_settings(sh, &["destconfig", "edit", "Default"], DEST_QUESTIONS)?,
            Some(4) => false,
            Some(_) => {
                while let Some(d) = sh.ask_some(
                    "Enter the domain you wish to see (\"Default\" for the default settings).",
                )? {
                    if sh.run(&["destconfig", "detail", &d])? {
                        break;
                    }
                }
                false
            }
        };
    }
}

pub(super) fn bounceconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let ops = [
        ("NEW", "Create a new profile."),
        ("EDIT", "Modify a profile."),
        ("DELETE", "Remove a profile."),
    ];
    let names = [
        "Enter the name of the new bounce profile (letters, digits, '_' and '-').",
        "Enter the name of the profile you wish to edit.",
        "Enter the name of the profile you wish to delete.",
    ];
    named_rows(sh, "bounceconfig", ops, names, BOUNCE_QUESTIONS)
}
