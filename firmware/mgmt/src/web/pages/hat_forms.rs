//! The forms of the listeners' access pages turned into the words of the
//! catalog commands the CLI runs (`listenerconfig edit <L> hostaccess ...`,
//! `... rcptaccess ...`, `... setup ...`). Pure functions: the control plane
//! validates every value; these only check what they need to build the
//! words (a required field is there, an order is a number).

use std::fmt::Write as _;

/// A submitted form's fields, as [`crate::web::Change`] holds them.
pub struct Form<'a>(pub &'a [(String, String)]);

impl Form<'_> {
    /// A field's value, trimmed; `None` when missing or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A field's value, trimmed, empty included (`None` only when the
    /// form has no such field): an emptied text box means "remove".
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    fn required(&self, name: &str, label: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("{label} is required."))
    }

    /// An optional position (1 is the top of the table).
    fn order(&self) -> Result<Option<usize>, String> {
        match self.get("order") {
            None => Ok(None),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(format!(
                    "Order must be a whole number from 1 (the top of the table), not '{v}'."
                )),
            },
        }
    }
}

/// One catalog command's words.
pub type Words = Vec<String>;

fn words(prefix: &[&str], rest: impl IntoIterator<Item = String>) -> Words {
    prefix
        .iter()
        .map(|w| (*w).to_string())
        .chain(rest)
        .collect()
}

fn hostaccess(listener: &str, rest: &[&str]) -> Words {
    let mut w = words(&["listenerconfig", "edit", listener, "hostaccess"], []);
    w.extend(rest.iter().map(|s| (*s).to_string()));
    w
}

fn rcptaccess(listener: &str, rest: &[&str]) -> Words {
    let mut w = words(&["listenerconfig", "edit", listener, "rcptaccess"], []);
    w.extend(rest.iter().map(|s| (*s).to_string()));
    w
}

/// Senders typed in a text area, one per line or separated by commas or
/// spaces, as the CLI's comma list (`a,b,c`).
pub fn sender_list(text: &str) -> Option<String> {
    let members: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|m| !m.is_empty())
        .collect();
    (!members.is_empty()).then(|| members.join(","))
}

/// "Add Sender Group": one `new sendergroup NAME members --policy P
/// [--order N] [--comment TEXT] [--sender-comment TEXT]` (without an order
/// the CLI puts the group first, as the seeds show it).
pub fn sendergroup_new(listener: &str, form: &Form<'_>) -> Result<Vec<Words>, String> {
    let name = form.required("name", "Name")?;
    let policy = form.required("policy", "Policy")?;
    let senders = form
        .get("senders")
        .and_then(sender_list)
        .ok_or("Add at least one sender (an IP address, a CIDR range or a domain such as .protection.outlook.com).")?;
    let order = form.order()?.map(|n| n.to_string());
    let mut rest = vec!["new", "sendergroup", name, &senders, "--policy", policy];
    if let Some(n) = &order {
        rest.extend(["--order", n]);
    }
    if let Some(c) = form.get("comment") {
        rest.extend(["--comment", c]);
    }
    if let Some(c) = form.get("sender_comment") {
        rest.extend(["--sender-comment", c]);
    }
    Ok(vec![hostaccess(listener, &rest)])
}

/// What the "Edit Settings" form of a sender group starts from.
pub struct GroupSettings<'a> {
    pub policy: &'a str,
    /// 1 is the top of the table.
    pub position: usize,
    pub comment: &'a str,
}

/// "Edit Settings" of a sender group: its policy, comment, order and
/// name, each only when changed; the rename last, as the others name the
/// group as it was.
pub fn sendergroup_settings(
    listener: &str,
    group: &str,
    now: &GroupSettings<'_>,
    form: &Form<'_>,
) -> Result<Vec<Words>, String> {
    let mut out = Vec::new();
    if let Some(p) = form.get("policy")
        && !p.eq_ignore_ascii_case(now.policy)
    {
        out.push(hostaccess(
            listener,
            &["edit", "sendergroup", group, "policy", p],
        ));
    }
    if let Some(c) = form.raw("comment")
        && c != now.comment
    {
        out.push(hostaccess(
            listener,
            &["edit", "sendergroup", group, "comment", c],
        ));
    }
    if let Some(n) = form.order()?
        && n != now.position
    {
        out.push(hostaccess(
            listener,
            &["move", "sendergroup", group, &n.to_string()],
        ));
    }
    if let Some(to) = form.get("name")
        && to != group
    {
        out.push(hostaccess(
            listener,
            &["edit", "sendergroup", group, "rename", to],
        ));
    }
    if out.is_empty() {
        return Err("Nothing was changed.".into());
    }
    Ok(out)
}

/// "Add Sender...": the members added to an existing group.
pub fn senders_add(listener: &str, group: &str, form: &Form<'_>) -> Result<Words, String> {
    let senders = form
        .get("senders")
        .and_then(sender_list)
        .ok_or("Enter at least one sender.")?;
    let mut rest = vec!["new", "sendergroup", group, &senders];
    if let Some(c) = form.get("comment") {
        rest.extend(["--sender-comment", c]);
    }
    Ok(hostaccess(listener, &rest))
}

/// The senders ticked for deletion, one command each.
pub fn senders_delete(listener: &str, group: &str, form: &Form<'_>) -> Result<Vec<Words>, String> {
    let ticked = form.all("member");
    if ticked.is_empty() {
        return Err("Select the senders to delete.".into());
    }
    Ok(ticked
        .into_iter()
        .map(|m| hostaccess(listener, &["edit", "sendergroup", group, "delete", m]))
        .collect())
}

/// The moves that turn the order `current` into the one the "Edit Order"
/// form asks for: `wanted` gives each row a number; rows are sorted by it
/// (ties and rows without a number keep their current order), then each
/// row is moved to its place from the top down, skipping rows already
/// there. Rows not in `current` are ignored.
pub fn order_moves(current: &[String], wanted: &[(String, usize)]) -> Vec<(String, usize)> {
    let rank = |name: &str, i: usize| {
        wanted
            .iter()
            .find(|(n, _)| n == name)
            .map_or(i + 1, |(_, r)| *r)
    };
    let mut target: Vec<(usize, usize, &String)> = current
        .iter()
        .enumerate()
        .map(|(i, n)| (rank(n, i), i, n))
        .collect();
    target.sort();
    let mut now: Vec<&String> = current.iter().collect();
    let mut moves = Vec::new();
    for (place, (_, _, name)) in target.into_iter().enumerate() {
        let Some(at) = now.iter().position(|n| *n == name) else {
            continue;
        };
        if at != place {
            let row = now.remove(at);
            now.insert(place, row);
            moves.push((name.clone(), place + 1));
        }
    }
    moves
}

/// "Edit Order" of the sender groups: fields `order-NAME` for every group
/// but ALL (which stays last).
pub fn sendergroup_order(
    listener: &str,
    groups: &[String],
    form: &Form<'_>,
) -> Result<Vec<Words>, String> {
    let mut wanted = Vec::new();
    for g in groups {
        if let Some(v) = form.get(&format!("order-{g}")) {
            let n = v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("The order of {g} must be a whole number from 1."))?;
            wanted.push((g.clone(), n));
        }
    }
    Ok(order_moves(groups, &wanted)
        .into_iter()
        .map(|(g, n)| hostaccess(listener, &["move", "sendergroup", &g, &n.to_string()]))
        .collect())
}

/// The mail flow policy fields, in the form's order, with the CLI option
/// each one sets.
pub const POLICY_FIELDS: &[(&str, &str)] = &[
    ("behavior", "--behavior"),
    (
        "max_messages_per_connection",
        "--max-messages-per-connection",
    ),
    ("max_recipients", "--max-recipients"),
    ("max_message_size", "--max-message-size"),
    ("max_concurrency", "--max-concurrency"),
    ("max_recipients_per_hour", "--max-recipients-per-hour"),
    ("smtp_banner_code", "--smtp-banner-code"),
    ("smtp_banner_text", "--smtp-banner-text"),
    ("reject_banner_code", "--reject-banner-code"),
    ("reject_banner_text", "--reject-banner-text"),
    ("tls", "--tls"),
];

/// A mail flow policy's form as `newpolicy NAME options` (`existing` is
/// `None`) or `editpolicy NAME options`. Every field the form has is sent,
/// so the policy ends up exactly as shown; an empty SMTP banner text is
/// `""` (the default `<hostname> ESMTP` greeting) and an empty recipients
/// per hour is `unlimited`.
pub fn policy(listener: &str, existing: Option<&str>, form: &Form<'_>) -> Result<Words, String> {
    let mut out = match existing {
        Some(name) => hostaccess(listener, &["editpolicy", name]),
        None => {
            let name = form.required("name", "Policy Name")?;
            hostaccess(listener, &["newpolicy", name.trim_start_matches('$')])
        }
    };
    let mut any = false;
    for (field, option) in POLICY_FIELDS {
        let value = match (*field, form.get(field)) {
            ("smtp_banner_text", v) if form.0.iter().any(|(k, _)| k == field) => {
                v.unwrap_or("").to_string()
            }
            ("max_recipients_per_hour", None) if form.0.iter().any(|(k, _)| k == field) => {
                "unlimited".to_string()
            }
            (_, Some(v)) => v.to_string(),
            (_, None) => continue,
        };
        out.push((*option).to_string());
        out.push(value);
        any = true;
    }
    if !any && existing.is_some() {
        return Err("Nothing was changed.".into());
    }
    Ok(out)
}

/// The options of a RAT row's form: the action, a custom SMTP response
/// (when "Yes"), Bypass Receiving Control (when "Yes").
fn rat_options(form: &Form<'_>) -> Result<(String, Option<String>, Option<String>, bool), String> {
    let action = match form.get("action").map(str::to_ascii_lowercase).as_deref() {
        Some("accept") => "accept",
        Some("reject") => "reject",
        _ => return Err("Choose the action: Accept or Reject.".into()),
    };
    let custom = form.get("custom_response") == Some("yes");
    let (code, text) = if custom {
        (
            form.get("response_code").map(str::to_string),
            form.get("response_text").map(str::to_string),
        )
    } else {
        (None, None)
    };
    let bypass = form.get("bypass_receiving_control") == Some("yes");
    Ok((action.to_string(), code, text, bypass))
}

fn rat_option_words(out: &mut Words, code: Option<String>, text: Option<String>, bypass: bool) {
    if let Some(c) = code {
        out.extend(["--code".to_string(), c]);
    }
    if let Some(t) = text {
        out.extend(["--text".to_string(), t]);
    }
    if bypass {
        out.push("--bypass-receiving-control".into());
    }
}

/// "Add Recipient": `rcptaccess new ADDRESS accept|reject [options]`, then
/// a move when the order asked for is not where a new row lands.
pub fn rat_new(listener: &str, form: &Form<'_>, landing: usize) -> Result<Vec<Words>, String> {
    let address = form.required("recipient_address", "Recipient Address")?;
    let (action, code, text, bypass) = rat_options(form)?;
    let mut new = rcptaccess(listener, &["new", address, &action]);
    rat_option_words(&mut new, code, text, bypass);
    let mut out = vec![new];
    if let Some(n) = form.order()?.filter(|n| *n != landing) {
        out.push(rcptaccess(listener, &["move", address, &n.to_string()]));
    }
    Ok(out)
}

/// The ALL row: `rcptaccess default accept|reject [options]`.
pub fn rat_default(listener: &str, form: &Form<'_>) -> Result<Words, String> {
    let (action, code, text, bypass) = rat_options(form)?;
    let mut out = rcptaccess(listener, &["default", &action]);
    rat_option_words(&mut out, code, text, bypass);
    Ok(out)
}

/// A RAT row as `rcptaccess import` reads it:
/// `ADDRESS ACCEPT|REJECT [CODE] ["TEXT"] [BYPASS_RC]`, the text quoted
/// with `"` and `\` escaped.
pub fn rat_line(form: &Form<'_>) -> Result<String, String> {
    let address = form.required("recipient_address", "Recipient Address")?;
    if address.contains(char::is_whitespace) {
        return Err(format!("'{address}' is not one address."));
    }
    let (action, code, text, bypass) = rat_options(form)?;
    let mut line = format!("{address} {}", action.to_ascii_uppercase());
    if let Some(c) = code {
        let _ = write!(line, " {c}");
    }
    if let Some(t) = text {
        let _ = write!(
            line,
            " \"{}\"",
            t.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    if bypass {
        line.push_str(" BYPASS_RC");
    }
    Ok(line)
}

/// Editing row `index` (0-based) of the RAT: the table as `export` printed
/// it (`exported`), with that row replaced by the form's and put at the
/// form's order (the ALL row stays last), as one `rcptaccess import`, so
/// the edit is staged at once or not at all.
pub fn rat_edit(
    listener: &str,
    exported: &str,
    index: usize,
    form: &Form<'_>,
) -> Result<Words, String> {
    let mut lines: Vec<String> = exported
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if index >= lines.len() {
        return Err("The table has changed since the page was shown; reload it.".into());
    }
    lines.remove(index);
    let to = match form.order()? {
        Some(n) => (n - 1).min(lines.len().saturating_sub(1)),
        None => index,
    };
    lines.insert(to.min(lines.len()), rat_line(form)?);
    let mut out = rcptaccess(listener, &["import"]);
    out.extend(lines);
    Ok(out)
}

/// A listener's edit form as `listenerconfig edit L setup --option value
/// ...`, every field the form has.
pub fn listener_setup(listener: &str, form: &Form<'_>) -> Result<Words, String> {
    const FIELDS: &[(&str, &str)] = &[
        ("interface", "--interface"),
        ("port", "--port"),
        ("certificate", "--certificate"),
        ("max_concurrency", "--max-concurrency"),
        ("crlf", "--crlf"),
        ("unsuccessful_timeout", "--unsuccessful-timeout"),
        ("total_timeout", "--total-timeout"),
        ("idle_timeout", "--idle-timeout"),
    ];
    let mut out = words(&["listenerconfig", "edit", listener, "setup"], []);
    for (field, option) in FIELDS {
        if let Some(v) = form.get(field) {
            out.push((*option).to_string());
            out.push(v.to_string());
        }
    }
    if out.len() == 4 {
        return Err("Nothing was changed.".into());
    }
    Ok(out)
}

/// A size as the CLI takes it back: `10M`, `64k` or bytes.
pub fn size_text(bytes: u64) -> String {
    const K: u64 = 1024;
    if bytes >= K * K && bytes.is_multiple_of(K * K) {
        format!("{}M", bytes / (K * K))
    } else if bytes >= K && bytes.is_multiple_of(K) {
        format!("{}k", bytes / K)
    } else {
        bytes.to_string()
    }
}

pub use crate::web::fields::segment;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::web::fields::fields as form;

    fn cmd(line: &str) -> Words {
        line.split(' ').map(str::to_string).collect()
    }

    /// The seeds' "Sender Group Settings": Name, Order 1, Comment, Policy,
    /// and the sender with its comment, as one CLI command.
    #[test]
    fn the_seeds_sender_group_is_one_cli_command_with_its_order_and_comments() {
        let comment = "From Microsoft 365 mail to Cisco Secure Email";
        let f = form(&[
            ("name", "RELAY_O365"),
            ("order", "1"),
            ("comment", comment),
            ("policy", "RELAYED"),
            ("senders", " .protection.outlook.com\r\n"),
            ("sender_comment", comment),
        ]);
        let out = sendergroup_new("OutgoingMail", &Form(&f)).unwrap();
        let mut want = cmd(
            "listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED --order 1",
        );
        want.extend(["--comment".into(), comment.into()]);
        want.extend(["--sender-comment".into(), comment.into()]);
        assert_eq!(out, [want]);
        // No order, no comments: the CLI's defaults (first, none).
        let f = form(&[
            ("name", "X"),
            ("policy", "RELAYED"),
            ("senders", "10.0.0.1"),
            ("comment", " "),
        ]);
        assert_eq!(
            sendergroup_new("L", &Form(&f)).unwrap(),
            [cmd(
                "listenerconfig edit L hostaccess new sendergroup X 10.0.0.1 --policy RELAYED"
            )]
        );
    }

    #[test]
    fn a_sender_group_form_needs_a_name_a_policy_and_senders() {
        let f = form(&[("name", "X"), ("policy", "RELAYED"), ("senders", " ,\n")]);
        assert!(
            sendergroup_new("L", &Form(&f))
                .unwrap_err()
                .contains("sender")
        );
        let f = form(&[("policy", "RELAYED"), ("senders", "10.0.0.1")]);
        assert_eq!(
            sendergroup_new("L", &Form(&f)).unwrap_err(),
            "Name is required."
        );
        let f = form(&[
            ("name", "X"),
            ("policy", "P"),
            ("senders", "1.2.3.4"),
            ("order", "0"),
        ]);
        assert!(
            sendergroup_new("L", &Form(&f))
                .unwrap_err()
                .contains("Order")
        );
    }

    #[test]
    fn senders_are_taken_one_per_line_or_comma_separated() {
        assert_eq!(
            sender_list("10.1.1.0/24, .example.com\n2001:db8::/32  mail.example.com").as_deref(),
            Some("10.1.1.0/24,.example.com,2001:db8::/32,mail.example.com")
        );
        assert_eq!(sender_list(" \n ,"), None);
        let f = form(&[("senders", "10.0.0.1\n10.0.0.2")]);
        assert_eq!(
            senders_add("IncomingMail", "ALLOWED_LIST", &Form(&f)).unwrap(),
            cmd(
                "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.1,10.0.0.2"
            )
        );
        let f = form(&[("senders", "10.0.0.3"), ("comment", "lab")]);
        assert_eq!(
            senders_add("L", "G", &Form(&f)).unwrap(),
            cmd("listenerconfig edit L hostaccess new sendergroup G 10.0.0.3 --sender-comment lab")
        );
        let f = form(&[("member", "10.0.0.1"), ("member", ".example.com")]);
        assert_eq!(
            senders_delete("L", "G", &Form(&f)).unwrap(),
            [
                cmd("listenerconfig edit L hostaccess edit sendergroup G delete 10.0.0.1"),
                cmd("listenerconfig edit L hostaccess edit sendergroup G delete .example.com"),
            ]
        );
        assert!(senders_delete("L", "G", &Form(&[])).is_err());
    }

    #[test]
    fn settings_send_only_what_changed() {
        let now = GroupSettings {
            policy: "RELAYED",
            position: 1,
            comment: "old",
        };
        let f = form(&[("policy", "relayed"), ("order", "2"), ("comment", "old")]);
        assert_eq!(
            sendergroup_settings("O", "G", &now, &Form(&f)).unwrap(),
            [cmd("listenerconfig edit O hostaccess move sendergroup G 2")]
        );
        let f = form(&[("policy", "BLOCKED"), ("order", "1")]);
        assert_eq!(
            sendergroup_settings("O", "G", &now, &Form(&f)).unwrap(),
            [cmd(
                "listenerconfig edit O hostaccess edit sendergroup G policy BLOCKED"
            )]
        );
        let f = form(&[("policy", "RELAYED"), ("order", "1"), ("name", "G")]);
        assert!(sendergroup_settings("O", "G", &now, &Form(&f)).is_err());
        // An emptied comment removes it; a new name is the last step.
        let f = form(&[("comment", ""), ("name", "H")]);
        let mut remove = cmd("listenerconfig edit O hostaccess edit sendergroup G comment");
        remove.push(String::new());
        assert_eq!(
            sendergroup_settings("O", "G", &now, &Form(&f)).unwrap(),
            [
                remove,
                cmd("listenerconfig edit O hostaccess edit sendergroup G rename H")
            ]
        );
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    /// Applies the moves as the table engine does.
    fn apply(current: &[String], moves: &[(String, usize)]) -> Vec<String> {
        let mut now = current.to_vec();
        for (name, to) in moves {
            let at = now.iter().position(|n| n == name).unwrap();
            let row = now.remove(at);
            now.insert(to - 1, row);
        }
        now
    }

    #[test]
    fn edit_order_becomes_the_fewest_moves_from_the_top() {
        let current = names(&["A", "B", "C", "D"]);
        let wanted = [
            ("A".to_string(), 4),
            ("B".to_string(), 1),
            ("C".to_string(), 2),
            ("D".to_string(), 3),
        ];
        let moves = order_moves(&current, &wanted);
        assert_eq!(apply(&current, &moves), names(&["B", "C", "D", "A"]));
        assert_eq!(moves.len(), 3);
        // Unchanged numbers: nothing to do.
        let same: Vec<_> = current.iter().cloned().zip(1..).collect();
        assert!(order_moves(&current, &same).is_empty());
        // One row to the top; ties keep the current order.
        let moves = order_moves(&current, &[("D".to_string(), 1), ("A".to_string(), 1)]);
        assert_eq!(apply(&current, &moves), names(&["A", "D", "B", "C"]));
        let f = form(&[("order-A", "2"), ("order-B", "1"), ("order-C", "3")]);
        assert_eq!(
            sendergroup_order("L", &names(&["A", "B", "C"]), &Form(&f)).unwrap(),
            [cmd("listenerconfig edit L hostaccess move sendergroup B 1")]
        );
        let f = form(&[("order-A", "x")]);
        assert!(sendergroup_order("L", &names(&["A"]), &Form(&f)).is_err());
    }

    #[test]
    fn a_policy_form_sends_every_parameter_to_editpolicy() {
        let f = form(&[
            ("behavior", "relay"),
            ("max_messages_per_connection", "5000"),
            ("max_recipients", "5000"),
            ("max_message_size", "100M"),
            ("max_concurrency", "600"),
            ("max_recipients_per_hour", ""),
            ("smtp_banner_code", "220"),
            ("smtp_banner_text", ""),
            ("reject_banner_code", "554"),
            ("reject_banner_text", "Access Denied"),
            ("tls", "preferred"),
        ]);
        let w = policy("OutgoingMail", Some("RELAYED"), &Form(&f)).unwrap();
        let expected: Words = [
            "listenerconfig",
            "edit",
            "OutgoingMail",
            "hostaccess",
            "editpolicy",
            "RELAYED",
            "--behavior",
            "relay",
            "--max-messages-per-connection",
            "5000",
            "--max-recipients",
            "5000",
            "--max-message-size",
            "100M",
            "--max-concurrency",
            "600",
            "--max-recipients-per-hour",
            "unlimited",
            "--smtp-banner-code",
            "220",
            "--smtp-banner-text",
            "",
            "--reject-banner-code",
            "554",
            "--reject-banner-text",
            "Access Denied",
            "--tls",
            "preferred",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        assert_eq!(w, expected);
        // Only TLS, as the seeds' step changes it.
        let f = form(&[("tls", "preferred")]);
        assert_eq!(
            policy("OutgoingMail", Some("RELAYED"), &Form(&f)).unwrap(),
            cmd("listenerconfig edit OutgoingMail hostaccess editpolicy RELAYED --tls preferred")
        );
        assert!(policy("O", Some("RELAYED"), &Form(&[])).is_err());
        let f = form(&[("name", "$PARTNERS"), ("tls", "required")]);
        assert_eq!(
            policy("IncomingMail", None, &Form(&f)).unwrap(),
            cmd("listenerconfig edit IncomingMail hostaccess newpolicy PARTNERS --tls required")
        );
        assert!(policy("IncomingMail", None, &Form(&[])).is_err());
    }

    #[test]
    fn a_rat_row_is_new_then_moved_or_the_default() {
        let f = form(&[
            ("order", "1"),
            ("recipient_address", "example.com"),
            ("action", "accept"),
            ("custom_response", "no"),
            ("response_code", "250"),
            ("bypass_receiving_control", "no"),
        ]);
        assert_eq!(
            rat_new("IncomingMail", &Form(&f), 1).unwrap(),
            [cmd(
                "listenerconfig edit IncomingMail rcptaccess new example.com accept"
            )]
        );
        assert_eq!(rat_new("IncomingMail", &Form(&f), 3).unwrap().len(), 2);
        let f = form(&[
            ("recipient_address", "postmaster@example.com"),
            ("action", "reject"),
            ("custom_response", "yes"),
            ("response_code", "550"),
            ("response_text", "No such user"),
        ]);
        let w = rat_new("IncomingMail", &Form(&f), 2).unwrap();
        assert_eq!(
            w[0][4..],
            [
                "new",
                "postmaster@example.com",
                "reject",
                "--code",
                "550",
                "--text",
                "No such user"
            ]
        );
        let f = form(&[("action", "accept"), ("bypass_receiving_control", "yes")]);
        assert_eq!(
            rat_default("IncomingMail", &Form(&f)).unwrap(),
            cmd(
                "listenerconfig edit IncomingMail rcptaccess default accept --bypass-receiving-control"
            )
        );
        assert!(rat_default("IncomingMail", &Form(&[])).is_err());
    }

    #[test]
    fn editing_a_rat_row_is_one_import_of_the_exported_table() {
        let exported = "# Recipient Access Table of IncomingMail (first match wins; no match is rejected)\n\
                        a.example ACCEPT\nb.example REJECT 550 \"No\"\nALL REJECT\n";
        let f = form(&[
            ("order", "1"),
            ("recipient_address", "b.example"),
            ("action", "reject"),
            ("custom_response", "yes"),
            ("response_code", "550"),
            ("response_text", "Say \"no\""),
        ]);
        let w = rat_edit("IncomingMail", exported, 1, &Form(&f)).unwrap();
        assert_eq!(
            w[4..],
            [
                "import",
                "b.example REJECT 550 \"Say \\\"no\\\"\"",
                "a.example ACCEPT",
                "ALL REJECT"
            ]
        );
        // An order past the end keeps ALL last.
        let f = form(&[
            ("order", "9"),
            ("recipient_address", "a.example"),
            ("action", "accept"),
        ]);
        let w = rat_edit("IncomingMail", exported, 0, &Form(&f)).unwrap();
        assert_eq!(
            w[5..],
            [
                "b.example REJECT 550 \"No\"",
                "a.example ACCEPT",
                "ALL REJECT"
            ]
        );
        assert!(rat_edit("IncomingMail", exported, 7, &Form(&f)).is_err());
        let f = form(&[("recipient_address", "a b"), ("action", "accept")]);
        assert!(rat_line(&Form(&f)).is_err());
    }

    #[test]
    fn the_listener_form_is_listenerconfig_edit_setup() {
        let f = form(&[
            ("interface", "Data 1"),
            ("port", "25"),
            ("certificate", "Demo"),
            ("max_concurrency", "300"),
            ("crlf", "strict"),
            ("unsuccessful_timeout", "300"),
            ("total_timeout", ""),
            ("idle_timeout", "300"),
        ]);
        let w = listener_setup("IncomingMail", &Form(&f)).unwrap();
        assert_eq!(
            w,
            [
                "listenerconfig",
                "edit",
                "IncomingMail",
                "setup",
                "--interface",
                "Data 1",
                "--port",
                "25",
                "--certificate",
                "Demo",
                "--max-concurrency",
                "300",
                "--crlf",
                "strict",
                "--unsuccessful-timeout",
                "300",
                "--idle-timeout",
                "300"
            ]
        );
        assert!(listener_setup("IncomingMail", &Form(&[])).is_err());
    }

    #[test]
    fn sizes_and_path_segments() {
        assert_eq!(size_text(10 * 1024 * 1024), "10M");
        assert_eq!(size_text(64 * 1024), "64k");
        assert_eq!(size_text(1000), "1000");
        assert_eq!(segment("user@example.com"), "user%40example.com");
        assert_eq!(segment("RELAY_O365"), "RELAY_O365");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
