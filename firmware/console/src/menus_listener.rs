//! `listenerconfig`: choose a listener, then its SETUP, HOSTACCESS (sender
//! groups) and RCPTACCESS (Recipient Access Table) sub-menus: NEW, EDIT,
//! DELETE, MOVE, DEFAULT, PRINT, IMPORT, EXPORT and CLEAR.

use super::ConsoleError;
use super::menus_config::{
    cmd, edit_settings, move_row, numbered, numbered_names, on_row, pick, words,
};
use super::shell::Shell;

const MEMBERS_HELP: &str = "Enter the hosts to add, separated by commas.\n\
CIDR addresses such as 10.1.1.0/24 are allowed.\n\
IP address ranges such as 10.1.1.10-20 are allowed.\n\
IP subnets such as 10.2.3. are allowed.\n\
Hostnames such as crm.example.com are allowed.\n\
Partial hostnames such as .example.com are allowed.";

const LC: &str = "listenerconfig";

#[rustfmt::skip]
const SETUP_QUESTIONS: &[(&str, &str)] = &[
    ("port", "Enter the TCP port."),
    ("interface", "Enter the interface (Management, Data 1 or Data 2)."),
    ("max-concurrency", "Enter the maximum concurrent connections."),
    ("crlf", "Enter the CR/LF handling (strict or lenient)."),
    ("idle-timeout", "Enter the idle timeout in seconds."),
];

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
            (
                "SECURITY",
                "Modify a mail flow policy's security features (SPF, DKIM, DMARC, call-ahead, bounces, signing).",
            ),
        ];
        match sh.choose(&ops)? {
            None => return Ok(()),
            Some(0) => {
                edit_settings(sh, &["listenerconfig", "edit", l, "setup"], SETUP_QUESTIONS)?;
            }
            Some(1) => hostaccess(sh, l)?,
            Some(2) => rcptaccess(sh, l)?,
            Some(4) => super::menus_security::flow_policy(sh, l)?,
            Some(_) => {
                sh.run(&["listenerconfig", "edit", l, "print"])?;
            }
        }
    }
}

/// What the HOSTACCESS and RCPTACCESS menus differ in; [`table_menu`]
/// runs the rest (DELETE, MOVE, PRINT, IMPORT, EXPORT, CLEAR) the same way
/// for both, as the daemon's `listener_table` does.
struct TableMenu {
    /// `hostaccess` or `rcptaccess`.
    table: &'static str,
    /// The words before a row's name (`sendergroup`), if any.
    select: &'static [&'static str],
    /// A row, in the questions: "sender group".
    noun: &'static str,
    /// NEW, EDIT, DELETE, MOVE, DEFAULT, PRINT, IMPORT, EXPORT, CLEAR.
    ops: [(&'static str, &'static str); 9],
    import_intro: &'static str,
    clear_question: &'static str,
    /// NEW: the arguments after `new`; `None` goes back.
    new: Ask,
    /// DEFAULT: the arguments after `default`.
    default: Ask,
    /// EDIT: its own dialog on listener `l`.
    edit: fn(&mut Shell<'_>, &str) -> Result<(), ConsoleError>,
}

type Ask = fn(&mut Shell<'_>) -> Result<Option<Vec<String>>, ConsoleError>;

fn table_menu(sh: &mut Shell<'_>, l: &str, m: &TableMenu) -> Result<(), ConsoleError> {
    let base = |verb: &'static str, select: bool| -> Vec<&str> {
        let mut a = vec![LC, "edit", l, m.table, verb];
        if select {
            a.extend(m.select);
        }
        a
    };
    let with = |verb, more: Vec<String>| cmd(&base(verb, false), more);
    loop {
        match sh.choose(&m.ops)? {
            None => return Ok(()),
            Some(0) => sh.until_accepted(|sh| Ok((m.new)(sh)?.and_then(|a| with("new", a))))?,
            Some(1) => {
                (m.edit)(sh, l)?;
                true
            }
            Some(2) => {
                let question = format!(
                    "Enter the name or number of the {} you wish to delete.",
                    m.noun
                );
                on_row(sh, &base("delete", true), &question)?
            }
            Some(3) => move_row(sh, &base("move", true), m.noun, ", ALL stays last")?,
            Some(4) => {
                sh.until_accepted(|sh| Ok((m.default)(sh)?.and_then(|a| with("default", a))))?
            }
            Some(5) => sh.run(&base("print", false))?,
            Some(6) => sh.until_accepted(|sh| {
                let text = sh.read_script(&format!(
                    "{}\nEnter '.' on a line by itself to end (a '.' alone goes back).",
                    m.import_intro
                ))?;
                Ok((!text.trim().is_empty())
                    .then_some(text)
                    .and_then(|t| with("import", vec![t])))
            })?,
            Some(7) => sh.run(&base("export", false))?,
            Some(_) => {
                sh.may_change()?
                    && sh.yes_no(m.clear_question, false)?
                    && sh.run(&base("clear", false))?
            }
        };
    }
}

fn hostaccess(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    table_menu(
        sh,
        l,
        &TableMenu {
            table: "hostaccess",
            select: &["sendergroup"],
            noun: "sender group",
            ops: [
                ("NEW", "Create a new sender group, or add hosts to one."),
                (
                    "EDIT",
                    "Modify a sender group (hosts, policy, comments, name).",
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
            ],
            import_intro: "Paste the Host Access Table, one sender group a line (NAME: members $POLICY, ALL $POLICY last).",
            clear_question: "Remove every sender group except ALL?",
            new: |sh| {
                let Some(name) = sh.ask_some(
                    "Enter a name for this sender group (an existing group gets the hosts added).",
                )?
                else {
                    return Ok(None);
                };
                let Some(members) = sh.ask_some(MEMBERS_HELP)? else {
                    return Ok(None);
                };
                let policy = sh.ask(
                "Enter the mail flow policy for this group (needed for a new group; Enter keeps an existing group's policy).",
                "",
            )?;
                let comment = sh.ask(
                    "Enter a comment for this sender group (optional; Enter keeps the current one).",
                    "",
                )?;
                let mut a = vec!["sendergroup", &name, &members];
                if !policy.is_empty() {
                    a.extend(["--policy", policy.trim_start_matches('$')]);
                }
                if !comment.is_empty() {
                    a.extend(["--comment", &comment]);
                }
                Ok(Some(words(&a)))
            },
            default: |sh| {
                let p = sh.ask_some("Enter the mail flow policy for the ALL sender group.")?;
                Ok(p.map(|p| words(&[p.trim_start_matches('$')])))
            },
            edit: edit_group,
        },
    )
}

/// EDIT of a sender group: remove a host, change its policy, its comment
/// or a host's comment, or rename it.
fn edit_group(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    let Some(group) =
        sh.ask_some("Enter the name or number of the sender group you wish to edit.")?
    else {
        return Ok(());
    };
    let ops = [
        ("DELETE", "Remove a host from this group."),
        ("POLICY", "Change this group's mail flow policy."),
        ("COMMENT", "Change this group's comment."),
        ("HOSTCOMMENT", "Change the comment of one of its hosts."),
        ("RENAME", "Rename this group."),
    ];
    let Some(op) = sh.choose(&ops)? else {
        return Ok(());
    };
    sh.until_accepted(|sh| {
        let base = [LC, "edit", l, "hostaccess", "edit", "sendergroup", &group];
        let mut rest = Vec::new();
        let (question, verb) = match op {
            0 => ("Enter the host to remove.", "delete"),
            1 => ("Enter the mail flow policy for this group.", "policy"),
            2 => (
                "Enter the comment for this group (- removes it).",
                "comment",
            ),
            3 => {
                let Some(host) = sh.ask_some("Enter the host whose comment you wish to change.")?
                else {
                    return Ok(None);
                };
                rest.push(host);
                (
                    "Enter the comment for this host (- removes it).",
                    "sendercomment",
                )
            }
            _ => ("Enter the new name for this group.", "rename"),
        };
        let Some(a) = sh.ask_some(question)? else {
            return Ok(None);
        };
        let mut args = vec![verb.to_string()];
        args.extend(rest);
        args.push(match (verb, a.as_str()) {
            ("comment" | "sendercomment", "-") => String::new(),
            ("comment" | "sendercomment", _) => a,
            _ => a.trim_start_matches('$').to_string(),
        });
        Ok(cmd(&base, args))
    })?;
    Ok(())
}

/// Asks for a RAT entry's action and response; the arguments after the address.
fn rat_action(sh: &mut Shell<'_>) -> Result<Vec<String>, ConsoleError> {
    let accept = numbered(
        sh,
        "Select the action to apply to this address:",
        &["Accept", "Reject"],
        0,
    )? == 0;
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
    table_menu(
        sh,
        l,
        &TableMenu {
            table: "rcptaccess",
            select: &[],
            noun: "entry (its recipient address)",
            ops: [
                ("NEW", "Create a new entry."),
                ("EDIT", "Modify an entry (its action and response)."),
                ("DELETE", "Remove an entry."),
                ("MOVE", "Move an entry up or down the table."),
                ("DEFAULT", "Change the action of the ALL entry."),
                ("PRINT", "Display the table."),
                ("IMPORT", "Replace the table with one pasted here."),
                ("EXPORT", "Display the table in the form IMPORT reads."),
                ("CLEAR", "Remove every entry except ALL."),
            ],
            import_intro: "Paste the Recipient Access Table, one entry a line (address ACCEPT|REJECT [CODE] [\"TEXT\"] [BYPASS_RC], ALL last).",
            clear_question: "Remove every entry except ALL?",
            new: |sh| {
                let Some(addr) = sh.ask_some(RAT_ADDRESS)? else {
                    return Ok(None);
                };
                Ok(cmd(&[&addr], rat_action(sh)?))
            },
            default: |sh| Ok(Some(rat_action(sh)?)),
            edit: edit_entry,
        },
    )
}

/// EDIT of a RAT entry. The batch form has no edit: the entry is deleted,
/// then added back with the new answers, asked again until the daemon
/// accepts them ("clear" undoes both if abandoned).
fn edit_entry(sh: &mut Shell<'_>, l: &str) -> Result<(), ConsoleError> {
    let Some(addr) = sh.ask_some("Enter the recipient address of the entry you wish to edit.")?
    else {
        return Ok(());
    };
    if sh.run(&[LC, "edit", l, "rcptaccess", "delete", &addr])? {
        sh.until_accepted(|sh| {
            Ok(cmd(
                &[LC, "edit", l, "rcptaccess", "new", &addr],
                rat_action(sh)?,
            ))
        })?;
    }
    Ok(())
}
