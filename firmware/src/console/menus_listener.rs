//! `listenerconfig`: choose a listener, then its SETUP, HOSTACCESS (sender
//! groups) and RCPTACCESS (Recipient Access Table) sub-menus: NEW, EDIT,
//! DELETE, MOVE, DEFAULT, PRINT, IMPORT, EXPORT and CLEAR.

use super::ConsoleError;
use super::menus_config::{move_row, numbered_names, on_row, options, pick};
use super::shell::Shell;

const MEMBERS_HELP: &str = "Enter the hosts to add, separated by commas.\n\
CIDR addresses such as 10.1.1.0/24 are allowed.\n\
IP address ranges such as 10.1.1.10-20 are allowed.\n\
IP subnets such as 10.2.3. are allowed.\n\
Hostnames such as crm.example.com are allowed.\n\
Partial hostnames such as .example.com are allowed.";

const LC: &str = "listenerconfig";

fn v(parts: &[&str]) -> Option<Vec<String>> {
    Some(parts.iter().map(|s| s.to_string()).collect())
}

pub(super) fn listenerconfig(sh: &mut Shell<'_>, _args: &[String]) -> Result<(), ConsoleError> {
    loop {
        let full = sh.call(&["listenerconfig", "print"], None)?.output;
        let summary: Vec<&str> = full.lines().take_while(|l| !l.trim().is_empty()).collect();
        sh.show(&summary.join("\n"))?;
        let names = numbered_names(&full);
        let ops = [
            ("EDIT", "Modify a listener."),
            ("PRINT", "Display the full configuration of every listener."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(1) => sh.show(&full)?,
            Some(_) => {
                if let Some(l) = pick(
                    sh,
                    "Enter the name or number of the listener you wish to edit.",
                    &names,
                )? {
                    edit_listener(sh, &l)?;
                }
            }
        }
    }
}

fn edit_listener(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    loop {
        sh.show(&format!("\nListener {l}"))?;
        let ops = [
            ("SETUP", "Change the port, interface, limits and timeouts."),
            (
                "HOSTACCESS",
                "Modify the Host Access Table (sender groups).",
            ),
            ("RCPTACCESS", "Modify the Recipient Access Table."),
            ("PRINT", "Display this listener."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted(|sh| {
                    let o = options(
                        sh,
                        &[
                            ("port", "Enter the TCP port."),
                            (
                                "interface",
                                "Enter the interface (Management, Data 1 or Data 2).",
                            ),
                            (
                                "max-concurrency",
                                "Enter the maximum concurrent connections.",
                            ),
                            ("crlf", "Enter the CR/LF handling (strict or lenient)."),
                            ("idle-timeout", "Enter the idle timeout in seconds."),
                        ],
                    )?;
                    Ok(o.map(|o| {
                        ["listenerconfig", "edit", l, "setup"]
                            .iter()
                            .map(|s| s.to_string())
                            .chain(o)
                            .collect()
                    }))
                })?;
            }
            Some(1) => hostaccess(sh, l)?,
            Some(2) => rcptaccess(sh, l)?,
            Some(_) => {
                sh.run(&["listenerconfig", "edit", l, "print"])?;
            }
        }
    }
}

fn hostaccess(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    loop {
        let ops = [
            ("NEW", "Create a new sender group, or add hosts to one."),
            (
                "EDIT",
                "Modify a sender group (remove a host, change its policy).",
            ),
            ("DELETE", "Remove a sender group."),
            ("MOVE", "Move a sender group up or down the table."),
            ("DEFAULT", "Change the policy of the ALL sender group."),
            (
                "PRINT",
                "Display the Host Access Table and mail flow policies.",
            ),
            ("IMPORT", "Replace the table with one pasted here."),
            ("EXPORT", "Display the table in the form IMPORT reads."),
            ("CLEAR", "Remove every sender group except ALL."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted(|sh| {
                    let Some(name) = sh.ask_some("Enter a name for this sender group (an existing group gets the hosts added).")? else {
                        return Ok(None);
                    };
                    let Some(members) = sh.ask_some(MEMBERS_HELP)? else {
                        return Ok(None);
                    };
                    let policy = sh.ask(
                        "Enter the mail flow policy for this group (needed for a new group; Enter keeps an existing group's policy).",
                        "",
                    )?;
                    let mut a = vec!["listenerconfig", "edit", l, "hostaccess", "new", "sendergroup", &name, &members];
                    if !policy.is_empty() {
                        a.extend(["--policy", policy.trim_start_matches('$')]);
                    }
                    Ok(v(&a))
                })?;
            }
            Some(1) => {
                let Some(group) =
                    sh.ask_some("Enter the name of the sender group you wish to edit.")?
                else {
                    continue;
                };
                let ops = [
                    ("DELETE", "Remove a host from this group."),
                    ("POLICY", "Change this group's mail flow policy."),
                ];
                let Some(op) = sh.choose(&ops)? else {
                    continue;
                };
                sh.until_accepted(|sh| {
                    let base = [
                        "listenerconfig",
                        "edit",
                        l,
                        "hostaccess",
                        "edit",
                        "sendergroup",
                        group.as_str(),
                    ];
                    if op == 0 {
                        let Some(host) = sh.ask_some("Enter the host to remove.")? else {
                            return Ok(None);
                        };
                        Ok(v(&[&base[..], &["delete", &host]].concat()))
                    } else {
                        let Some(p) = sh.ask_some("Enter the mail flow policy for this group.")?
                        else {
                            return Ok(None);
                        };
                        Ok(v(
                            &[&base[..], &["policy", p.trim_start_matches('$')]].concat()
                        ))
                    }
                })?;
            }
            Some(2) => {
                let base = [LC, "edit", l, "hostaccess", "delete", "sendergroup"];
                on_row(
                    sh,
                    &base,
                    "Enter the name or number of the sender group you wish to delete.",
                )?;
            }
            Some(3) => {
                let base = [LC, "edit", l, "hostaccess", "move", "sendergroup"];
                move_row(sh, &base, "sender group", ", ALL stays last")?;
            }
            Some(4) => {
                sh.until_accepted(|sh| {
                    let p = sh.ask_some("Enter the mail flow policy for the ALL sender group.")?;
                    Ok(p.and_then(|p| {
                        v(&[
                            "listenerconfig",
                            "edit",
                            l,
                            "hostaccess",
                            "default",
                            p.trim_start_matches('$'),
                        ])
                    }))
                })?;
            }
            Some(6) => import(
                sh,
                l,
                "hostaccess",
                "Paste the Host Access Table, one sender group a line (NAME: members $POLICY, ALL $POLICY last).",
            )?,
            Some(7) => {
                sh.run(&["listenerconfig", "edit", l, "hostaccess", "export"])?;
            }
            Some(8) => clear(sh, l, "hostaccess", "Remove every sender group except ALL?")?,
            Some(_) => {
                sh.run(&["listenerconfig", "edit", l, "hostaccess", "print"])?;
            }
        }
    }
}

/// Asks for a RAT entry's action and response; the arguments after the address.
fn rat_action(sh: &mut Shell<'_>) -> Result<Vec<String>, ConsoleError> {
    let accept = loop {
        let a = sh.ask(
            "Select the action to apply to this address:\n1. Accept\n2. Reject",
            "1",
        )?;
        match a.to_ascii_lowercase().as_str() {
            "1" | "accept" => break true,
            "2" | "reject" => break false,
            _ => sh.show("Please enter 1 (Accept) or 2 (Reject).")?,
        }
    };
    let mut a = vec![if accept { "accept" } else { "reject" }.to_string()];
    if sh.yes_no("Would you like to use a custom SMTP response?", false)? {
        let code = sh.ask(
            "Enter the SMTP code to use in the response.",
            if accept { "250" } else { "550" },
        )?;
        a.extend(["--code".to_string(), code]);
        if let Some(text) = sh.ask_some("Enter your custom SMTP response text.")? {
            a.extend(["--text".to_string(), text]);
        }
    }
    if accept
        && sh.yes_no(
            "Would you like to bypass receiving control for this entry?",
            false,
        )?
    {
        a.push("--bypass-receiving-control".into());
    }
    Ok(a)
}

const RAT_ADDRESS: &str = "Enter the recipient address for this entry.\n\
Domains such as example.com, partial domains such as .example.com, user@ (any domain),\n\
user@example.com and ALL are allowed.";

fn rcptaccess(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    loop {
        let ops = [
            ("NEW", "Create a new entry."),
            ("EDIT", "Modify an entry (its action and response)."),
            ("DELETE", "Remove an entry."),
            ("MOVE", "Move an entry up or down the table."),
            ("DEFAULT", "Change the action of the ALL entry."),
            ("PRINT", "Display the table."),
            ("IMPORT", "Replace the table with one pasted here."),
            ("EXPORT", "Display the table in the form IMPORT reads."),
            ("CLEAR", "Remove every entry except ALL."),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                sh.until_accepted(|sh| {
                    let Some(addr) = sh.ask_some(RAT_ADDRESS)? else {
                        return Ok(None);
                    };
                    let rest = rat_action(sh)?;
                    let mut a: Vec<String> =
                        ["listenerconfig", "edit", l, "rcptaccess", "new", &addr]
                            .iter()
                            .map(|s| s.to_string())
                            .collect();
                    a.extend(rest);
                    Ok(Some(a))
                })?;
            }
            Some(1) => {
                // The batch form has no edit: the entry is deleted, then
                // added back with the new answers, asked again until the
                // daemon accepts them ("clear" undoes both if abandoned).
                let Some(addr) =
                    sh.ask_some("Enter the recipient address of the entry you wish to edit.")?
                else {
                    continue;
                };
                if sh.run(&["listenerconfig", "edit", l, "rcptaccess", "delete", &addr])? {
                    sh.until_accepted(|sh| {
                        let rest = rat_action(sh)?;
                        let mut a: Vec<String> =
                            ["listenerconfig", "edit", l, "rcptaccess", "new", &addr]
                                .iter()
                                .map(|s| s.to_string())
                                .collect();
                        a.extend(rest);
                        Ok(Some(a))
                    })?;
                }
            }
            Some(2) => {
                on_row(
                    sh,
                    &[LC, "edit", l, "rcptaccess", "delete"],
                    "Enter the recipient address or number of the entry you wish to delete.",
                )?;
            }
            Some(3) => {
                let base = [LC, "edit", l, "rcptaccess", "move"];
                move_row(
                    sh,
                    &base,
                    "entry (its recipient address)",
                    ", ALL stays last",
                )?;
            }
            Some(4) => {
                sh.until_accepted(|sh| {
                    let rest = rat_action(sh)?;
                    let mut a: Vec<String> = ["listenerconfig", "edit", l, "rcptaccess", "default"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    a.extend(rest);
                    Ok(Some(a))
                })?;
            }
            Some(6) => import(
                sh,
                l,
                "rcptaccess",
                "Paste the Recipient Access Table, one entry a line (address ACCEPT|REJECT [CODE] [\"TEXT\"] [BYPASS_RC], ALL last).",
            )?,
            Some(7) => {
                sh.run(&["listenerconfig", "edit", l, "rcptaccess", "export"])?;
            }
            Some(8) => clear(sh, l, "rcptaccess", "Remove every entry except ALL?")?,
            Some(_) => {
                sh.run(&["listenerconfig", "edit", l, "rcptaccess", "print"])?;
            }
        }
    }
}

/// IMPORT: a pasted table, staged only if every line is valid; asked again
/// while it is refused (nothing is staged until then).
fn import(sh: &mut Shell<'_>, l: &str, table: &str, intro: &str) -> Result<(), ConsoleError> {
    sh.until_accepted(|sh| {
        let text = sh.read_script(&format!(
            "{intro}\nEnter '.' on a line by itself to end (a '.' alone goes back)."
        ))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        Ok(v(&["listenerconfig", "edit", l, table, "import", &text]))
    })?;
    Ok(())
}

fn clear(sh: &mut Shell<'_>, l: &str, table: &str, question: &str) -> Result<(), ConsoleError> {
    if sh.may_change()? && sh.yes_no(question, false)? {
        sh.run(&["listenerconfig", "edit", l, table, "clear"])?;
    }
    Ok(())
}
