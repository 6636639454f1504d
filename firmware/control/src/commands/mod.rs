//! The batch-mode CLI commands, AsyncOS style: `listenerconfig edit
//! IncomingMail rcptaccess new example.com accept`, `smtproutes new ...`,
//! `commit "comment"`. One submodule per command family.
//!
//! Every change follows the same protocol: load the working config (the
//! staged copy, or the committed one), validate the whole request, edit,
//! and stage. A request that fails validation returns an error before
//! anything is staged, so a typo never leaves a half-made change behind.
//! Nothing is live until `commit`, which hands the new config to the
//! daemon through [`CommandContext::on_commit`].
//!
//! Exposure: reached only through the owner-only control socket, so the
//! caller is a trusted administrator. Arguments are still validated in
//! full (banner texts may not hold CR/LF, members and patterns are parsed
//! by the same code the listener uses) because a bad value, once
//! committed, would reach the internet-facing listener.

mod adminaccessconfig;
mod alertconfig;
mod antispamconfig; // issue 17: anti-spam engine
pub mod antivirusconfig; // issue 17
mod args;
mod bounceconfig;
mod bvconfig; // issue 17: bounce verification
mod certconfig;
pub mod clustercheck; // issue 20
pub mod clusterconfig; // issue 20
pub mod clustermode; // issue 20
mod commit;
#[cfg(test)]
mod content_security_guide; // issue 17: docs/content-security.md's commands run
pub mod cutover;
mod deliveryconfig;
mod destconfig;
pub mod dmarcconfig; // issue 17: dmarcconfig, hostaccess senderauth
mod dnsconfig;
mod domainkeys; // issue 17: DKIM signing
mod filters;
mod flow_security; // issue 17: a mail flow policy's security features, AsyncOS placement
mod hostaccess;
mod interfaceconfig;
mod listener_table;
mod listenerconfig;
mod logconfig;
pub mod monitor;
pub mod nettools;
pub mod ntpconfig; // issue 16: ntpconfig, settime
mod policy;
mod policyconfig;
mod quarantine;
mod rcptaccess;
pub mod saveconfig;
mod setgateway;
mod sethostname;
mod settings;
mod settz;
mod showconfig;
pub mod smtpcallahead; // issue 17: SMTP Call-Ahead
mod smtproutes;
mod sshconfig;
mod sslconfig;
pub mod systemsetup;
#[cfg(test)]
mod testutil;
mod threatdefenseconfig;
mod trace;

use std::path::Path;

use breakwater_control_proto::{catalog, usage};

use crate::config::{Config, ConfigStore, StoreError};

/// What a command runs against.
pub struct CommandContext<'a> {
    pub store: &'a ConfigStore,
    /// The user running the command (for the commit log).
    pub user: &'a str,
    /// Called after a successful commit with the newly committed config; the daemon applies it.
    pub on_commit: &'a (dyn Fn(&Config) + Sync),
}

/// A command's failure, printed to the administrator; the CLI exits non-zero.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A wrong or incomplete command; the text is the family's usage.
    #[error("{0}")]
    Usage(String),
    /// A well-formed command with a value that cannot be accepted.
    #[error("{0}")]
    Invalid(String),
    #[error("Unknown command: {0}. Commands: {names}.", names = names().join(", "))]
    UnknownCommand(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one batch command (`args[0]` is the command name, case-insensitive). Returns the text to print.
/// `data_dir` holds the files `saveconfig` writes and `loadconfig` reads
/// (without it they only print and read standard input).
pub fn run(
    ctx: &CommandContext<'_>,
    data_dir: Option<&Path>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    // `stdin` carries pasted scripts and messages (`filters new`, `import`,
    // `trace`); a pasted message filter ends with a line holding a single `.`.
    let Some(name) = args.first() else {
        return Err(CliError::Usage(overview()));
    };
    let rest = &args[1..];
    match name.to_ascii_lowercase().as_str() {
        "listenerconfig" => listenerconfig::run(ctx, rest),
        "smtproutes" => smtproutes::run(ctx, rest),
        "dnsconfig" => dnsconfig::run(ctx, rest),
        "interfaceconfig" => interfaceconfig::run(ctx, rest),
        "deliveryconfig" => deliveryconfig::run(ctx, rest),
        "destconfig" => destconfig::run(ctx, rest),
        "bounceconfig" => bounceconfig::run(ctx, rest),
        "certconfig" => certconfig::run(ctx, rest, stdin),
        "sslconfig" => sslconfig::run(ctx, rest),
        "adminaccessconfig" => adminaccessconfig::run(ctx, rest),
        "sshconfig" => sshconfig::run(ctx, rest, stdin),
        "threatdefenseconfig" => threatdefenseconfig::run(ctx, rest),
        "domainkeysconfig" => domainkeys::run(ctx, rest, stdin),
        "logconfig" => logconfig::run(ctx, rest),
        "filters" => filters::run(ctx, rest, stdin),
        "policyconfig" => policyconfig::run(ctx, rest),
        "antispamconfig" => antispamconfig::run(ctx, rest),
        "quarantineconfig" => quarantine::run(ctx, rest),
        "quarantine" => quarantine::held(rest),
        // Commit prints the filters' warnings (names nothing defines) too.
        "commit" => filters::commit(ctx, rest),
        "clear" => commit::clear(ctx, rest),
        "commitlog" | "commithistory" => commit::commitlog(ctx, rest),
        "rollback" => commit::rollback(ctx, rest),
        "showconfig" => showconfig::run(ctx, rest),
        "sethostname" => sethostname::run(ctx, rest),
        "setgateway" => setgateway::run(ctx, rest),
        "settz" => settz::run(ctx, rest),
        "ntpconfig" => ntpconfig::run(ctx, rest),
        "bvconfig" => bvconfig::run(ctx, rest, stdin),
        "antivirusconfig" => antivirusconfig::run(ctx, rest),
        "settime" => ntpconfig::settime(rest),
        "dmarcconfig" => dmarcconfig::run(ctx, rest),
        "smtpcallahead" => smtpcallahead::run(ctx, rest),
        "alertconfig" => alertconfig::run(ctx, rest),
        "systemsetup" => systemsetup::run(ctx, rest, stdin),
        "saveconfig" | "loadconfig" => saveconfig::run(ctx, data_dir, name, rest, stdin),
        "trace" => trace::run(ctx, rest, stdin),
        "help" => help(rest),
        // Without the daemon's cluster agent (a test rig): standalone.
        "clusterconfig" if rest.is_empty() => Ok(clusterconfig::NOT_IN_A_CLUSTER.to_string()),
        "clusterconfig" | "clustermode" | "clustercheck" => Err(CliError::Invalid(
            clusterconfig::NOT_IN_A_CLUSTER.to_string(),
        )),
        _ => Err(CliError::UnknownCommand(name.clone())),
    }
}

/// A commit time as `commitlog` prints it.
pub fn commit_time(secs: i64) -> String {
    commit::time(secs)
}

/// Names of the commands the daemon answers (for "Unknown command"):
/// the catalog's.
pub fn names() -> Vec<&'static str> {
    catalog::daemon_names()
}

/// What an empty request prints: how commands are written, and their names.
pub fn overview() -> String {
    format!(
        "usage: COMMAND [ARGUMENTS...]\ncommands: {}\nChanges are staged until \"commit\"; \"help COMMAND\" shows a command's forms.",
        names().join(", ")
    )
}

/// `help [COMMAND]`: the overview, or a command's forms (the catalog's usage).
fn help(args: &[String]) -> Result<String, CliError> {
    match args {
        [] => Ok(overview()),
        [command] => catalog::find(command)
            .map(|c| c.usage.to_string())
            .ok_or_else(|| CliError::UnknownCommand(command.clone())),
        _ => Err(CliError::Usage(usage::HELP.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::Fixture;
    use super::*;

    #[test]
    fn command_names_are_case_insensitive_and_unknown_ones_are_refused() {
        let f = Fixture::new();
        assert!(f.run("DNSCONFIG print").unwrap().contains("Timeout"));
        let err = f.run("frobnicate").unwrap_err();
        assert!(matches!(err, CliError::UnknownCommand(_)));
        assert!(err.to_string().contains("listenerconfig"));
        assert!(matches!(f.run_args(&[]), Err(CliError::Usage(_))));
    }

    #[test]
    fn every_name_has_usage_text() {
        let f = Fixture::new();
        for name in names() {
            assert!(f.run(&format!("help {name}")).unwrap().contains("usage"));
        }
    }

    #[test]
    fn incomplete_family_commands_print_their_usage() {
        let f = Fixture::new();
        for line in [
            "listenerconfig",
            "listenerconfig edit IncomingMail",
            "smtproutes",
            "dnsconfig",
            "interfaceconfig edit",
            "deliveryconfig",
            "logconfig",
            "rollback",
        ] {
            let err = f.run(line).unwrap_err();
            assert!(
                matches!(err, CliError::Usage(ref u) if u.contains("usage")),
                "{line}: {err:?}"
            );
        }
        assert!(f.staged().is_none());
    }
}
