//! `policyconfig` (the incoming and outgoing mail policy tables: NEW,
//! EDIT — members ADD/DELETE, THREATDEFENSE for incoming policies —,
//! DELETE, MOVE, LIST, DETAIL) and `threatdefenseconfig` (ENABLE with the
//! Message Intake Address, DISABLE, SETUP, PRINT). Each runs the batch
//! command of the same change (see `control::commands::policyconfig` and
//! `threatdefenseconfig`).

use super::ConsoleError;
use super::menus_config::{cmd, move_row, numbered, numbered_column, on_row, pick, words};
use super::shell::Shell;

const DEFAULT_POLICY: &str = "DEFAULT";

const MEMBERS_HELP: &str = "separated by commas: user@example.com, user@, example.com or @example.com,\n\
.example.com or @.example.com";

/// The `(side, pattern)` members of a `policyconfig detail` answer.
fn members_of(detail: &str) -> Vec<(String, String)> {
    detail
        .lines()
        .skip_while(|l| !l.starts_with("Members:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (side, pattern) = l.trim().split_once(' ')?;
            matches!(side, "sender" | "recipient").then(|| (side.to_string(), pattern.to_string()))
        })
        .collect()
}

/// The value after `key: ` in a printed setting list.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(|s| s.trim().to_string())
}

/// The global Message Intake Address, if one is set.
fn global_address(sh: &mut Shell<'_>) -> Result<Option<String>, ConsoleError> {
    let print = sh.call(&["threatdefenseconfig", "print"], None)?.output;
    Ok(field(&print, "Message Intake Address").filter(|a| a.contains('@')))
}

/// Asks for a policy by name or number; a number becomes the name (the
/// edit menu shows it), DEFAULT and unknown names go to the daemon as typed.
fn ask_policy(
    sh: &mut Shell<'_>,
    names: &[String],
    question: &str,
) -> Result<Option<String>, ConsoleError> {
    Ok(sh.ask_some(question)?.map(|a| {
        a.parse::<usize>()
            .ok()
            .and_then(|n| names.get(n.checked_sub(1)?))
            .cloned()
            .unwrap_or(a)
    }))
}

pub(super) fn policyconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    let dir = numbered(
        sh,
        "Would you like to configure Incoming or Outgoing Mail Policies?",
        &["Incoming", "Outgoing"],
        0,
    )?;
    let dir = if dir == 0 { "incoming" } else { "outgoing" };
    loop {
        let list = sh.call(&["policyconfig", "list", dir], None)?.output;
        sh.show(&list)?;
        let names = numbered_column(&list, 1);
        let ops = [
            ("NEW", "Create a new policy."),
            ("EDIT", "Edit an existing policy."),
            ("DELETE", "Remove a policy."),
            ("MOVE", "Move a policy to a different position."),
            ("LIST", "List the policies."),
            ("DETAIL", "Display the members and settings of a policy."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => new_policy(sh, dir)?,
            Some(1) => {
                if let Some(p) = ask_policy(
                    sh,
                    &names,
                    "Enter the name or number of the policy you wish to edit (DEFAULT for the default policy).",
                )? {
                    edit_policy(sh, dir, &p)?;
                }
            }
            Some(2) => {
                on_row(
                    sh,
                    &["policyconfig", "delete", dir],
                    "Enter the name or number of the policy you wish to delete.",
                )?;
            }
            Some(3) => {
                let last = format!(", {} the last before DEFAULT", names.len().max(1));
                move_row(sh, &["policyconfig", "move", dir], "policy", &last)?;
            }
            Some(4) => {}
            Some(_) => {
                if let Some(p) = ask_policy(
                    sh,
                    &names,
                    "Enter the name or number of the policy to display (DEFAULT for the default policy).",
                )? {
                    sh.run(&["policyconfig", "detail", dir, &p])?;
                }
            }
        }
    }
}

/// `sender a,b recipient c`: the member arguments of NEW and ADD; `None`
/// (with a message) when both answers are empty.
fn ask_members(sh: &mut Shell<'_>) -> Result<Option<Vec<String>>, ConsoleError> {
    let mut a = Vec::new();
    for side in ["sender", "recipient"] {
        if let Some(m) = sh.ask_some(&format!(
            "Enter the {side}s this policy matches (Enter for none), {MEMBERS_HELP}"
        ))? {
            a.extend([side.to_string(), m.split_whitespace().collect::<String>()]);
        }
    }
    if a.is_empty() {
        sh.show("A policy needs at least one sender or recipient.")?;
        return Ok(None);
    }
    Ok(Some(a))
}

fn new_policy(sh: &mut Shell<'_>, dir: &str) -> Result<(), ConsoleError> {
    sh.until_accepted(|sh| {
        let Some(name) =
            sh.ask_some("Enter the name for this policy (letters, digits, '_' and '-'):")?
        else {
            return Ok(None);
        };
        let Some(members) = ask_members(sh)? else {
            return Ok(None);
        };
        let mut a = words(&["policyconfig", "new", dir, &name]);
        a.extend(members);
        Ok(Some(a))
    })?;
    Ok(())
}

fn edit_policy(sh: &mut Shell<'_>, dir: &str, p: &str) -> Result<(), ConsoleError> {
    let incoming = dir == "incoming";
    let default = p.eq_ignore_ascii_case(DEFAULT_POLICY);
    if default && !incoming {
        return sh.show("The DEFAULT outgoing policy has no members and no settings to edit yet.");
    }
    loop {
        let detail = sh.call(&["policyconfig", "detail", dir, p], None)?;
        sh.show(&detail.output)?;
        if !detail.ok {
            return Ok(());
        }
        let mut ops = Vec::new();
        if !default {
            ops.push(("ADD", "Add senders or recipients to this policy."));
            ops.push(("DELETE", "Remove a sender or recipient from this policy."));
        }
        if incoming {
            ops.push((
                "THREATDEFENSE",
                "Send copies of this policy's messages to Secure Email Threat Defense.",
            ));
        }
        let Some(i) = sh.choose(&ops)? else {
            return Ok(());
        };
        match ops[i].0 {
            "ADD" => {
                sh.until_accepted(|sh| {
                    let m = ask_members(sh)?;
                    Ok(m.map(|m| {
                        let mut a = words(&["policyconfig", "edit", dir, p, "members", "add"]);
                        a.extend(m);
                        a
                    }))
                })?;
            }
            "DELETE" => {
                let members = members_of(&detail.output);
                delete_member(sh, dir, p, &members)?;
            }
            _ => threat_defense(sh, p, &detail.output)?,
        }
    }
}

fn delete_member(
    sh: &mut Shell<'_>,
    dir: &str,
    p: &str,
    members: &[(String, String)],
) -> Result<(), ConsoleError> {
    let names: Vec<String> = members.iter().map(|(s, m)| format!("{s} {m}")).collect();
    let mut question = String::from("Enter the number of the member to remove:");
    for (i, n) in names.iter().enumerate() {
        question.push_str(&format!("\n{}. {n}", i + 1));
    }
    sh.until_accepted(|sh| {
        let member = pick(sh, &question, &names)?;
        Ok(member.as_deref().and_then(|m| {
            let (side, pattern) = m.split_once(' ')?;
            let base = ["policyconfig", "edit", dir, p, "members", "delete"];
            cmd(&base, vec![side.into(), pattern.into()])
        }))
    })?;
    Ok(())
}

/// THREATDEFENSE of an incoming policy: Use Global Settings / custom
/// Message Intake Address / No.
fn threat_defense(sh: &mut Shell<'_>, p: &str, detail: &str) -> Result<(), ConsoleError> {
    if !sh.may_change()? {
        return Ok(());
    }
    let global = global_address(sh)?;
    let current = field(detail, "Threat Defense Connector").unwrap_or_default();
    let now = if current.starts_with("Custom") {
        1
    } else if current == "No" {
        2
    } else if current.starts_with("Use Default") {
        3
    } else {
        0
    };
    let global_choice = format!(
        "Use Global Settings ({})",
        global
            .as_deref()
            .unwrap_or("no global Message Intake Address yet: see threatdefenseconfig")
    );
    // A custom policy may follow DEFAULT; DEFAULT itself cannot.
    let mut choices = vec![
        global_choice.as_str(),
        "Use custom Message Intake Address",
        "No",
    ];
    if !p.eq_ignore_ascii_case("DEFAULT") {
        choices.push("Use Default Settings (whatever DEFAULT does)");
    }
    let choice = numbered(
        sh,
        &format!("Threat Defense Connector for mail policy {p}:"),
        &choices,
        now.min(choices.len() - 1),
    )?;
    let base = ["policyconfig", "edit", "incoming", p, "threatdefense"];
    match choice {
        0 => {
            sh.run(&[&base[..], &["global"]].concat())?;
        }
        2 => {
            sh.run(&[&base[..], &["no"]].concat())?;
        }
        3 => {
            sh.run(&[&base[..], &["default"]].concat())?;
        }
        _ => {
            let before = current
                .strip_prefix("Custom Message Intake Address ")
                .unwrap_or("")
                .to_string();
            sh.until_accepted(|sh| {
                let a = sh.ask("Enter the Message Intake Address for this policy.", &before)?;
                Ok((!a.is_empty()).then(|| words(&[&base[..], &["custom", &a]].concat())))
            })?;
        }
    }
    Ok(())
}

pub(super) fn threatdefenseconfig(
    sh: &mut Shell<'_>,
    _args: &[String],
) -> Result<(), ConsoleError> {
    loop {
        let print = sh.call(&["threatdefenseconfig", "print"], None)?.output;
        sh.show(&print)?;
        let ops = [
            (
                "ENABLE",
                "Enable the Threat Defense Connector and set the Message Intake Address.",
            ),
            ("DISABLE", "Disable the Threat Defense Connector."),
            (
                "SETUP",
                "Change the client IP header and the longest time a copy waits in the.tdc.queue.",
            ),
            ("PRINT", "Display the settings."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                let current = field(&print, "Message Intake Address")
                    .filter(|a| a.contains('@'))
                    .unwrap_or_default();
                sh.until_accepted(|sh| {
                    let a = sh.ask(
                        "Enter the Message Intake Address (from the Secure Email Threat Defense portal).",
                        &current,
                    )?;
                    Ok((!a.is_empty()).then(|| words(&["threatdefenseconfig", "enable", &a])))
                })?;
            }
            Some(1) => {
                if sh.may_change()?
                    && sh.yes_no("Stop sending copies to Secure Email Threat Defense?", true)?
                {
                    sh.run(&["threatdefenseconfig", "disable"])?;
                }
            }
            Some(2) => {
                let header = field(&print, "Client IP header").unwrap_or_default();
                let age = field(&print, "Maximum time in the.tdc.queue")
                    .and_then(|s| s.split_whitespace().next().map(str::to_string))
                    .unwrap_or_default();
                sh.until_accepted(|sh| {
                    let h = sh.ask(
                        "Enter the name of the header that carries the original client IP.",
                        &header,
                    )?;
                    let m = sh.ask(
                        "Enter the longest time in seconds a copy may wait in the.tdc.queue.",
                        &age,
                    )?;
                    let mut a = words(&["threatdefenseconfig", "setup"]);
                    if h != header {
                        a.extend(["--header".to_string(), h]);
                    }
                    if m != age {
                        a.extend(["--max-age".to_string(), m]);
                    }
                    if a.len() == 2 {
                        sh.show("Nothing changed.")?;
                        return Ok(None);
                    }
                    Ok(Some(a))
                })?;
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_answers_are_read_back() {
        let list = "Incoming mail policies (first match wins):\n\n  #  Policy               Anti-Virus      Threat Defense Connector  Members\n  1  SALES                (use default)   (use default)             recipient sales@\n     DEFAULT              Not Available   Disabled                  (all other recipients)\n";
        assert_eq!(numbered_column(list, 1), ["SALES"]);
        let detail = "Policy: SALES\nMembers:\n  recipient sales@\n  sender .partner.example\nAnti-Virus: (use default)\nThreat Defense Connector: No\n";
        assert_eq!(
            members_of(detail),
            [
                ("recipient".to_string(), "sales@".to_string()),
                ("sender".to_string(), ".partner.example".to_string())
            ]
        );
        assert_eq!(
            field(detail, "Threat Defense Connector").as_deref(),
            Some("No")
        );
    }
}
