//! `commit`, `clear`, `commitdetail`, `rollbackconfig`, `userconfig`,
//! `passwd`, `version` and `help`.

use super::ConsoleError;
use super::editor::Mode;
use super::login::ask_new_passphrase;
use super::menus_config::with_args;
use super::shell::Shell;
use breakwater_control_proto::{Role, catalog};

const COMMENT_QUESTION: &str = "Please enter some comments describing your changes:";
const ROLE_QUESTION: &str = "Assign a role: admin, operator, read-only or guest.";

pub(super) fn commit(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.state()?.staged {
        return sh.show("There are no changes to commit.");
    }
    if !sh.may_change()? {
        return Ok(());
    }
    sh.until_accepted(|sh| {
        let comment = sh.ask(COMMENT_QUESTION, "")?;
        Ok(Some(vec!["commit".into(), comment]))
    })?;
    Ok(())
}

pub(super) fn clear(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.state()?.staged {
        return sh.show("There are no uncommitted changes.");
    }
    if sh.yes_no(
        "Are you sure you want to clear all changes since the last commit?",
        true,
    )? {
        sh.run(&["clear"])?;
    }
    Ok(())
}

pub(super) fn commitdetail(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    sh.run(&["commitlog"])?;
    Ok(())
}

pub(super) fn rollbackconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    let log = sh.call(&["commitlog"], None)?.output;
    let lines: Vec<&str> = log.lines().collect();
    let Some((header, commits)) = lines.split_first() else {
        return Ok(());
    };
    let recent = &commits[commits.len().saturating_sub(10)..];
    sh.show(&format!(
        "Previous commits:\n{header}\n{}",
        recent.join("\n")
    ))?;
    let mut chosen = String::new();
    let staged = sh.until_accepted(|sh| {
        let Some(n) = sh.ask_some("Enter the number of the configuration to revert to.")? else {
            return Ok(None);
        };
        chosen = n.clone();
        Ok(Some(vec!["rollback".into(), n]))
    })?;
    if staged && sh.yes_no("Do you want to commit this configuration now?", false)? {
        let comment = sh.ask(COMMENT_QUESTION, &format!("Rollback to commit {chosen}"))?;
        sh.run(&["commit", &comment])?;
    }
    Ok(())
}

pub(super) fn version(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let text = sh.session.banner.version_text();
    sh.show(&text)
}

pub(super) fn help(sh: &mut Shell<'_>, args: &[String]) -> Result<(), ConsoleError> {
    let Some(name) = args.first() else {
        return sh.show(&catalog::overview());
    };
    let text = catalog::help(name).unwrap_or_else(|| {
        format!("Unknown command: {name}. Type \"help\" for the list of commands.")
    });
    sh.show(&text)
}

/// Runs a user command whose passphrase goes on stdin.
fn with_passphrase(sh: &mut Shell<'_>, args: &[&str]) -> Result<bool, ConsoleError> {
    let pass = ask_new_passphrase(sh.term)?;
    let r = sh.call(args, Some(&pass))?;
    sh.show(&r.output)?;
    Ok(r.ok)
}

pub(super) fn userconfig(sh: &mut Shell<'_>, args: &[String]) -> Result<(), ConsoleError> {
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [] => {}
        // The forms that set a passphrase read it from standard input.
        [new, ..] if new == "new" => {
            return with_passphrase(sh, &with_args("userconfig", args)).map(drop);
        }
        [edit, _, password] if edit == "edit" && password == "password" => {
            return with_passphrase(sh, &with_args("userconfig", args)).map(drop);
        }
        _ => return sh.run(&with_args("userconfig", args)).map(drop),
    }
    if sh.session.role != Role::Admin {
        return sh.show("Permission denied: only an admin can manage users.");
    }
    loop {
        sh.run(&["userconfig", "print"])?;
        let ops = [
            ("NEW", "Create a new account."),
            ("EDIT", "Modify an account (role, full name, passphrase)."),
            ("DELETE", "Remove an account."),
            ("UNLOCK", "Unlock an account locked after failed logins."),
        ];
        let Some(op) = sh.choose(&ops)? else {
            return Ok(());
        };
        let Some(name) = sh.ask_some("Enter the username.")? else {
            continue;
        };
        match op {
            0 => loop {
                let full = sh.ask(&format!("Enter the full name for {name}."), "")?;
                let role = sh.ask(ROLE_QUESTION, "read-only")?;
                let mut a = vec!["userconfig", "new", name.as_str(), role.as_str()];
                a.extend(full.split_whitespace());
                if with_passphrase(sh, &a)? || !sh.yes_no("Try again?", true)? {
                    break;
                }
            },
            1 => {
                let ops = [
                    ("ROLE", "Change the role."),
                    ("FULLNAME", "Change the full name."),
                    (
                        "PASSWORD",
                        "Set a new passphrase (to be changed at next login).",
                    ),
                ];
                match sh.choose(&ops)? {
                    Some(0) => {
                        let role = sh.ask(ROLE_QUESTION, "read-only")?;
                        sh.run(&["userconfig", "edit", &name, "role", &role])?;
                    }
                    Some(1) => {
                        let full = sh.ask("Enter the full name.", "")?;
                        let mut a = vec!["userconfig", "edit", name.as_str(), "fullname"];
                        a.extend(full.split_whitespace());
                        sh.run(&a)?;
                    }
                    Some(_) => {
                        with_passphrase(sh, &["userconfig", "edit", &name, "password"])?;
                    }
                    None => {}
                }
            }
            2 => {
                if sh.yes_no(&format!("Are you sure you want to delete {name}?"), false)? {
                    sh.run(&["userconfig", "delete", &name])?;
                }
            }
            _ => {
                sh.run(&["userconfig", "unlock", &name])?;
            }
        }
    }
}

pub(super) fn passwd(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    change_passphrase(sh).map(drop)
}

/// Asks the user's old and new passphrases and changes it (`passwd`, and
/// the setup wizard); true if it changed.
pub(super) fn change_passphrase(sh: &mut Shell<'_>) -> Result<bool, ConsoleError> {
    let old = sh.term.read_line("Old passphrase: ", Mode::Secret)?;
    let new = ask_new_passphrase(sh.term)?;
    let r = sh.call(&["passwd"], Some(&format!("{old}\n{new}")))?;
    sh.show(&r.output)?;
    Ok(r.ok)
}
