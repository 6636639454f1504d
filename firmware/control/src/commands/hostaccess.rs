//! `listenerconfig edit <listener> hostaccess ...`: the sender groups of a
//! listener's Host Access Table. Mail flow policies are in `policy`.
//!
//! The HAT is read top to bottom and the first match wins, so AsyncOS keeps
//! the catch-all `ALL` group last: it can neither be deleted nor appear as
//! a member of another group (it would shadow every group below). A new
//! group goes first unless `--order` says otherwise, as in the seeds
//! (RELAY_O365 is "Order: 1", above the factory RELAYLIST): a group made
//! for a purpose is meant to match before the general ones.
//!
//! Comments on groups and members (`--comment`, `--sender-comment`,
//! `edit ... comment|sendercomment`) live in `Config::hat_comments`; every
//! verb here that renames, deletes or replaces groups or members keeps
//! them in step (`Config::rename_hat_comments`, `prune_hat_comments`).

use super::args::{check_name, comma_list, invalid, parse_opts, stage, usage};
use super::args::{find, find_mut};
use super::listener_table::{self, ListenerTable, Said};
use super::{CliError, CommandContext, policy};
use crate::config::{Config, ListenerConfig, SenderGroup, check_hat_comment};
use crate::smtp_in::hat::HostMember;
use crate::table::{Pinned, Table, TableRow};

pub(super) const USAGE: &str = "\
usage: listenerconfig edit <listener> hostaccess new sendergroup <NAME> <member>[,<member>...] [--policy <POLICY>]
              [--order N] [--comment TEXT] [--sender-comment TEXT]
       listenerconfig edit <listener> hostaccess delete sendergroup <NAME>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> delete <member>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> policy <POLICY>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> comment <TEXT>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> sendercomment <member> <TEXT>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> rename <NEWNAME>
       listenerconfig edit <listener> hostaccess detail sendergroup <NAME>
       listenerconfig edit <listener> hostaccess detail policy <POLICY>   (with its security features)
       listenerconfig edit <listener> hostaccess newpolicy <NAME> [policy options]
       listenerconfig edit <listener> hostaccess editpolicy <POLICY> [policy options]
              [--spf ...] [--dkim ...] [--dmarc ...] [--callahead on|off]
              [--untagged-bounces valid|invalid] [--dkim-signing on|off]
       listenerconfig edit <listener> hostaccess deletepolicy <POLICY>
       listenerconfig edit <listener> hostaccess senderauth <POLICY> [--spf on|off] [--spf-conformance LEVEL]
              [--dkim on|off] [--dmarc on|off] [--dmarc-profile PROFILE]   (SPF, DKIM, DMARC verification)
       listenerconfig edit <listener> hostaccess move sendergroup <NAME> <position>
       listenerconfig edit <listener> hostaccess default <POLICY>      (the ALL group's policy)
       listenerconfig edit <listener> hostaccess clear                 (every group but ALL)
       listenerconfig edit <listener> hostaccess export
       listenerconfig edit <listener> hostaccess import <LINE>...      (replaces the table)
       listenerconfig edit <listener> hostaccess print
members: 10.1.1.1, 10.1.1.0/24, 10.1.1., 10.1.1.1-50, 2001:db8::/32, mail.example.com, .example.com
(an existing group gets the members added; a new group needs --policy and goes
 first unless --order says where; an empty comment TEXT removes the comment)
import/export lines: `NAME: member, member $POLICY`, and `ALL $POLICY` last";

pub(super) fn run(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    if let Some(done) = listener_table::run::<Hat>(ctx, listener, args) {
        return done;
    }
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match sub.as_deref() {
        Some("new") => new_group(ctx, listener, &args[1..]),
        Some("edit") => edit_group(ctx, listener, &args[1..]),
        Some("detail") => match args.get(1).map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("policy") if args.len() == 3 => {
                super::flow_security::detail(ctx, listener, &args[2])
            }
            _ => detail(ctx, listener, &args[1..]),
        },
        Some("editpolicy") if super::flow_security::has_security_options(&args[1..]) => {
            super::flow_security::edit_policy(ctx, listener, args)
        }
        Some("newpolicy" | "editpolicy" | "deletepolicy") => policy::run(ctx, listener, args),
        Some("senderauth") => super::dmarcconfig::flow_policy(ctx, listener, args),
        _ => Err(usage(USAGE)),
    }
}

fn is_all(name: &str) -> bool {
    name.eq_ignore_ascii_case("ALL")
}

impl TableRow for SenderGroup {
    fn key(&self) -> &str {
        &self.name
    }
}

/// The Host Access Table: sender groups, ALL last.
struct Hat;

impl ListenerTable for Hat {
    type Row = SenderGroup;
    fn said(listener: &str, what: Said<'_>) -> String {
        match what {
            Said::Deleted(name) => format!("Deleted sender group {name} from {listener}."),
            Said::Moved(name, n) => {
                format!("Sender group {name} moved to position {n} on {listener}.")
            }
            Said::Cleared(n) => {
                format!("Removed {n} sender group(s) from {listener}; ALL remains.")
            }
            Said::OnlyPinned => {
                format!("The Host Access Table of {listener} holds only the ALL group.")
            }
        }
    }
    fn default_message(listener: &str, row: &SenderGroup) -> String {
        format!(
            "The ALL sender group of {listener} now uses policy ${}.",
            row.policy
        )
    }
    const TITLE: &'static str = "Host Access Table";
    const ROWS: &'static str = "sender group(s)";
    const KEYWORD: Option<&'static str> = Some("sendergroup");
    const USAGE: &'static str = USAGE;

    fn rows(l: &mut ListenerConfig) -> Result<&mut Vec<SenderGroup>, CliError> {
        Ok(&mut l.hat)
    }

    fn table(l: &ListenerConfig) -> Table<SenderGroup> {
        Table {
            pinned: Some(Pinned {
                is: |g| is_all(&g.name),
                named: is_all,
                last: true,
                what: "the ALL sender group",
                why_kept: "it always stays last (change its policy instead)",
            }),
            plural: "sender groups",
            ..Table::new("sender group '{}'", format!(" on listener {}", l.name))
        }
    }

    /// `NAME: members $POLICY` or `ALL $POLICY`, checked against `l`'s
    /// policies.
    fn parse_line(l: &ListenerConfig, line: &str) -> Result<SenderGroup, CliError> {
        let (body, policy) = line
            .rsplit_once('$')
            .ok_or_else(|| invalid("no $POLICY at the end"))?;
        let policy = policy::canonical_name(l, policy.trim())?;
        let (name, members) = match body.trim().split_once(':') {
            Some((name, members)) => (name.trim(), comma_list(&[members.to_string()])),
            None if is_all(body.trim()) => ("ALL", vec!["ALL".to_string()]),
            None => return Err(invalid("expected NAME: members $POLICY or ALL $POLICY")),
        };
        check_name("sender group", name)?;
        if !is_all(name) {
            parse_members(&members)?;
        }
        Ok(SenderGroup {
            name: name.to_string(),
            members: members.into_iter().map(Into::into).collect(),
            policy,
        })
    }

    /// `default <POLICY>`: the ALL group with that policy.
    fn default_row(l: &ListenerConfig, args: &[String]) -> Result<SenderGroup, CliError> {
        let [p] = args else {
            return Err(usage(USAGE));
        };
        Ok(SenderGroup {
            name: "ALL".into(),
            members: vec!["ALL".into()],
            policy: policy::canonical_name(l, p.trim_start_matches('$'))?,
        })
    }

    fn print(cfg: &Config, l: &ListenerConfig) -> String {
        render_hat(cfg, l) + &policy::render_policies(l)
    }

    fn tidy(cfg: &mut Config) {
        cfg.prune_hat_comments();
    }

    /// `NAME: members $POLICY`, `ALL $POLICY` (mail flow policies are
    /// named, not defined, here).
    fn export_line(g: &SenderGroup) -> String {
        if is_all(&g.name) {
            format!("ALL ${}", g.policy)
        } else if g.members.is_empty() {
            format!("{}: ${}", g.name, g.policy)
        } else {
            format!("{}: {} ${}", g.name, g.members.join(", "), g.policy)
        }
    }

    fn export_header(l: &ListenerConfig) -> String {
        format!(
            "# Host Access Table of {} (first match wins): NAME: members $POLICY\n",
            l.name
        )
    }
}

/// The members as typed, each parsed once; ALL and repeats refused.
fn parse_members(members: &[String]) -> Result<Vec<HostMember>, CliError> {
    let mut parsed = Vec::new();
    for m in members {
        let p = HostMember::parse(m).map_err(|e| invalid(e.to_string()))?;
        if p == HostMember::All {
            return Err(invalid(
                "ALL belongs only to the final ALL sender group (it would shadow every group below).",
            ));
        }
        if parsed.contains(&p) {
            return Err(invalid(format!("Member '{m}' is listed twice.")));
        }
        parsed.push(p);
    }
    Ok(parsed)
}

/// Whether stored member `stored` is the parsed member `m`.
fn same_member(stored: &str, m: &HostMember) -> bool {
    HostMember::parse(stored).is_ok_and(|s| s == *m)
}

/// A comment as typed, checked (an empty one removes the comment).
fn comment_text(text: &str) -> Result<&str, CliError> {
    check_hat_comment(text.trim()).map_err(|e| invalid(format!("Invalid comment: {e}")))?;
    Ok(text.trim())
}

fn new_group(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let opts = parse_opts(
        args,
        &["policy", "order", "comment", "sender-comment"],
        &[],
        USAGE,
    )?;
    let (name, member_args) = listener_table::selector::<Hat>(&opts.positional)?;
    let members = comma_list(member_args);
    if members.is_empty() {
        return Err(usage(USAGE));
    }
    check_name("sender group", name)?;
    if is_all(name) {
        return Err(invalid(
            "The ALL sender group matches every host; it takes no members.",
        ));
    }
    let parsed = parse_members(&members)?;
    let comment = opts.value("comment").map(comment_text).transpose()?;
    let sender_comment = opts.value("sender-comment").map(comment_text).transpose()?;
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let policy = opts
        .value("policy")
        .map(|p| policy::canonical_name(l, p))
        .transpose()?;
    let table = Hat::table(l);
    let lname = l.name.clone();
    let (group_name, message) = match table.position(&l.hat, name) {
        Some(i) if l.hat[i].name.eq_ignore_ascii_case(name) => {
            if opts.value("order").is_some() {
                return Err(invalid(format!(
                    "Sender group {} exists: --order places a new group; use 'move sendergroup {} <position>'.",
                    l.hat[i].name, l.hat[i].name
                )));
            }
            let group = &mut l.hat[i];
            for (m, p) in members.iter().zip(&parsed) {
                if group.members.iter().any(|e| same_member(e, p)) {
                    return Err(invalid(format!(
                        "'{m}' is already a member of sender group {}.",
                        group.name
                    )));
                }
            }
            group
                .members
                .extend(members.iter().map(|m| m.as_str().into()));
            if let Some(p) = policy {
                group.policy = p;
            }
            let message = format!(
                "Added {} member(s) to sender group {} (policy ${}) on {lname}.",
                members.len(),
                group.name,
                group.policy
            );
            (group.name.clone(), message)
        }
        _ => {
            let policy = policy.ok_or_else(|| {
                invalid(format!(
                    "Sender group {name} does not exist yet: give it a policy with --policy <POLICY>."
                ))
            })?;
            // First by default (the seeds' "Order: 1"); `add` checks the
            // range and keeps ALL last.
            let order = match opts.value("order") {
                Some(n) => Some(n.trim().parse::<usize>().map_err(|_| {
                    invalid(format!(
                        "--order takes a position (1 is read first), not '{n}'."
                    ))
                })?),
                None => Some(1),
            };
            let group = SenderGroup {
                name: name.to_string(),
                members: members.iter().map(|m| m.as_str().into()).collect(),
                policy: policy.clone(),
            };
            let at = table.add(&mut l.hat, group, order)?;
            let message = format!(
                "Created sender group {name} (policy ${policy}) at position {at} on {lname} with {} member(s).",
                members.len()
            );
            (name.to_string(), message)
        }
    };
    if let Some(c) = comment {
        cfg.set_hat_comment(&lname, &group_name, None, c);
    }
    if let Some(c) = sender_comment {
        for m in &members {
            cfg.set_hat_comment(&lname, &group_name, Some(m.trim()), c);
        }
    }
    stage(ctx, &cfg, &message)
}

fn edit_group(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let (name, rest) = listener_table::selector::<Hat>(args)?;
    let (action, values) = rest.split_first().ok_or_else(|| usage(USAGE))?;
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let lname = l.name.clone();
    let i = Hat::table(l).find(&l.hat, name)?;
    let gname = l.hat[i].name.clone();
    let message = match (action.to_ascii_lowercase().as_str(), values) {
        ("delete", [value]) => {
            let group = &mut l.hat[i];
            if is_all(&group.name) {
                return Err(invalid("The ALL sender group's member cannot be deleted."));
            }
            let at = member_position(group, value)?;
            let removed = group.members.remove(at);
            // Its comment goes with it.
            cfg.prune_hat_comments();
            format!("Deleted '{removed}' from sender group {gname}.")
        }
        ("policy", [value]) => {
            let p = policy::canonical_name(l, value)?;
            let group = &mut l.hat[i];
            group.policy = p;
            format!(
                "Sender group {} now uses policy ${}.",
                group.name, group.policy
            )
        }
        ("comment", [text]) => {
            let text = comment_text(text)?;
            cfg.set_hat_comment(&lname, &gname, None, text);
            if text.is_empty() {
                format!("Sender group {gname} has no comment now.")
            } else {
                format!("Comment of sender group {gname} set.")
            }
        }
        ("sendercomment", [member, text]) => {
            let text = comment_text(text)?;
            let at = member_position(&l.hat[i], member)?;
            let stored = l.hat[i].members[at].to_string();
            cfg.set_hat_comment(&lname, &gname, Some(&stored), text);
            if text.is_empty() {
                format!("Sender '{stored}' of sender group {gname} has no comment now.")
            } else {
                format!("Comment of sender '{stored}' in sender group {gname} set.")
            }
        }
        ("rename", [to]) => {
            if is_all(&gname) {
                return Err(invalid("The ALL sender group keeps its name."));
            }
            check_name("sender group", to)?;
            if is_all(to) {
                return Err(invalid("ALL is the name of the final catch-all group."));
            }
            if l.hat
                .iter()
                .enumerate()
                .any(|(j, g)| j != i && g.name.eq_ignore_ascii_case(to))
            {
                return Err(invalid(format!(
                    "There is already a sender group '{to}' on listener {lname}."
                )));
            }
            l.hat[i].name = to.clone();
            cfg.rename_hat_comments(&lname, &gname, to);
            format!(
                "Sender group {gname} renamed {to}; message filters that test sendergroup == \"{gname}\" need the new name too."
            )
        }
        _ => return Err(usage(USAGE)),
    };
    stage(ctx, &cfg, &message)
}

/// Where member `value` (as typed, or any spelling that parses the same)
/// is in `group`.
fn member_position(group: &SenderGroup, value: &str) -> Result<usize, CliError> {
    let wanted = HostMember::parse(value).ok();
    group
        .members
        .iter()
        .position(|m| {
            m.eq_ignore_ascii_case(value.trim())
                || wanted.as_ref().is_some_and(|w| same_member(m, w))
        })
        .ok_or_else(|| {
            invalid(format!(
                "'{value}' is not a member of sender group {}.",
                group.name
            ))
        })
}

/// `detail sendergroup NAME`: the group as AsyncOS's Sender Group page
/// shows it — Name, Order, Comment, Policy, then the senders with their
/// comments.
fn detail(ctx: &CommandContext<'_>, listener: &str, args: &[String]) -> Result<String, CliError> {
    let (name, []) = listener_table::selector::<Hat>(args)? else {
        return Err(usage(USAGE));
    };
    let cfg = ctx.store.working()?;
    let l = find(&cfg, listener)?;
    let i = Hat::table(l).find(&l.hat, name)?;
    let g = &l.hat[i];
    let comment = cfg.hat_comment(&l.name, &g.name, None).unwrap_or("");
    let mut out = format!(
        "Sender Group Settings (listener {})\n  Name:     {}\n  Order:    {}\n  Comment:  {comment}\n  Policy:   {}\n\n",
        l.name,
        g.name,
        i + 1,
        g.policy
    );
    if g.members.is_empty() {
        out.push_str("Sender List: (no senders)\n");
        return Ok(out);
    }
    let senders: Vec<String> = g.members.iter().map(ToString::to_string).collect();
    let width = senders.iter().map(String::len).max().unwrap_or(0).max(6);
    out.push_str(&format!("{:<width$}  Comment\n", "Sender"));
    for m in &senders {
        let c = cfg.hat_comment(&l.name, &g.name, Some(m)).unwrap_or("");
        out.push_str(format!("{m:<width$}  {c}").trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// The HAT, one group a line, in matching order; a group's comment and
/// its senders' comments on the lines below it.
pub(super) fn render_hat(cfg: &Config, l: &ListenerConfig) -> String {
    let rows = Hat::table(l).print(&l.hat, "    ", |g| {
        let members = if g.members.is_empty() {
            "(no members)".to_string()
        } else {
            g.members.join(", ")
        };
        vec![g.name.clone(), format!("${}", g.policy), members]
    });
    let mut out = String::from("  Host Access Table (first match wins):\n");
    for (line, g) in rows.lines().zip(&l.hat) {
        out.push_str(line);
        out.push('\n');
        if let Some(c) = cfg.hat_comment(&l.name, &g.name, None) {
            out.push_str(&format!("         Comment: {c}\n"));
        }
        for m in &g.members {
            let m = m.to_string();
            if let Some(c) = cfg.hat_comment(&l.name, &g.name, Some(&m)) {
                out.push_str(&format!("         Sender {m}: {c}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::Config;

    fn group<'c>(cfg: &'c Config, listener: &str, name: &str) -> &'c crate::config::SenderGroup {
        let hat = &cfg.listener(listener).unwrap().hat;
        hat.iter().find(|g| g.name == name).unwrap()
    }

    fn names(cfg: &Config, listener: &str) -> Vec<String> {
        let hat = &cfg.listener(listener).unwrap().hat;
        hat.iter().map(|g| g.name.clone()).collect()
    }

    #[test]
    fn each_form_stages_the_right_change() {
        type Check = fn(&Config);
        let cases: &[(&str, Check)] = &[
            (
                "listenerconfig edit outgoingmail hostaccess new sendergroup relaylist .protection.outlook.com,10.0.0.0/8 --policy relayed",
                |c| {
                    let g = group(c, "OutgoingMail", "RELAYLIST");
                    assert_eq!(g.members, [".protection.outlook.com", "10.0.0.0/8"]);
                    assert_eq!(g.policy, "RELAYED");
                },
            ),
            (
                "listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED",
                |c| assert_eq!(names(c, "OutgoingMail"), ["RELAY_O365", "RELAYLIST", "ALL"]),
            ),
            (
                "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 192.0.2.1, 192.0.2.2",
                |c| {
                    let g = group(c, "IncomingMail", "ALLOWED_LIST");
                    assert_eq!(g.members, ["192.0.2.1", "192.0.2.2"]);
                    assert_eq!(g.policy, "TRUSTED");
                },
            ),
            (
                "listenerconfig edit IncomingMail hostaccess delete sendergroup suspectlist",
                |c| assert!(!names(c, "IncomingMail").contains(&"SUSPECTLIST".to_string())),
            ),
            (
                "listenerconfig edit OutgoingMail hostaccess edit sendergroup ALL policy relayed",
                |c| {
                    assert_eq!(group(c, "OutgoingMail", "ALL").policy, "RELAYED");
                },
            ),
        ];
        for (line, check) in cases {
            let f = Fixture::new();
            let out = f.run(line).unwrap();
            assert!(out.contains("commit"), "{out}");
            check(&f.staged().unwrap());
        }
    }

    /// Each line is refused and changes nothing already staged.
    fn refused(f: &Fixture, lines: &[&str]) {
        for line in lines {
            let before = f.staged();
            assert!(f.run(line).is_err(), "{line} was accepted");
            assert_eq!(f.staged(), before, "{line} changed the staged config");
        }
    }

    /// The seeds' RELAY_O365: Order 1, a comment on the group and on its
    /// sender, shown by `print` and `detail`; `--order` places a group.
    #[test]
    fn a_new_group_goes_first_and_carries_the_seeds_comments() {
        let f = Fixture::new();
        let out = f
            .run("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED --comment \"From Microsoft 365 mail to Cisco Secure Email\" --sender-comment \"From Microsoft 365 mail to Cisco Secure Email\"")
            .unwrap();
        assert!(
            out.starts_with("Created sender group RELAY_O365 (policy $RELAYED) at position 1 on OutgoingMail with 1 member(s)."),
            "{out}"
        );
        let cfg = f.working();
        assert_eq!(
            names(&cfg, "OutgoingMail"),
            ["RELAY_O365", "RELAYLIST", "ALL"]
        );
        assert_eq!(
            cfg.hat_comment(
                "OutgoingMail",
                "RELAY_O365",
                Some(".protection.outlook.com")
            ),
            Some("From Microsoft 365 mail to Cisco Secure Email")
        );
        let detail = f
            .run("listenerconfig edit OutgoingMail hostaccess detail sendergroup relay_o365")
            .unwrap();
        assert_eq!(
            detail,
            "Sender Group Settings (listener OutgoingMail)\n  Name:     RELAY_O365\n  Order:    1\n  \
             Comment:  From Microsoft 365 mail to Cisco Secure Email\n  Policy:   RELAYED\n\n\
             Sender                   Comment\n\
             .protection.outlook.com  From Microsoft 365 mail to Cisco Secure Email\n"
        );
        let print = f
            .run("listenerconfig edit OutgoingMail hostaccess print")
            .unwrap();
        assert!(
            print.contains(
                "    1. RELAY_O365  $RELAYED  .protection.outlook.com\n         \
                 Comment: From Microsoft 365 mail to Cisco Secure Email\n         \
                 Sender .protection.outlook.com: From Microsoft 365 mail to Cisco Secure Email\n    2. RELAYLIST"
            ),
            "{print}"
        );
        // An explicit order; out of range is refused.
        f.run("listenerconfig edit OutgoingMail hostaccess new sendergroup LAB 10.0.0.0/8 --policy RELAYED --order 3")
            .unwrap();
        assert_eq!(
            names(&f.working(), "OutgoingMail"),
            ["RELAY_O365", "RELAYLIST", "LAB", "ALL"]
        );
        refused(
            &f,
            &[
                "listenerconfig edit OutgoingMail hostaccess new sendergroup X 10.1.0.0/16 --policy RELAYED --order 5",
                "listenerconfig edit OutgoingMail hostaccess new sendergroup X 10.1.0.0/16 --policy RELAYED --order 0",
                "listenerconfig edit OutgoingMail hostaccess new sendergroup X 10.1.0.0/16 --policy RELAYED --order first",
                "listenerconfig edit OutgoingMail hostaccess new sendergroup LAB 10.1.0.0/16 --order 1",
            ],
        );
    }

    /// Comments follow a renamed group, go with a deleted member or group,
    /// and are checked (one line, 255 characters at most).
    #[test]
    fn comments_are_edited_and_kept_in_step() {
        let f = Fixture::new();
        let base = "listenerconfig edit OutgoingMail hostaccess";
        f.run(&format!("{base} new sendergroup RELAY_O365 .protection.outlook.com,10.1.1.1 --policy RELAYED --sender-comment \"M365\""))
            .unwrap();
        f.run(&format!(
            "{base} edit sendergroup RELAY_O365 comment \"Microsoft 365\""
        ))
        .unwrap();
        f.run(&format!(
            "{base} edit sendergroup RELAY_O365 sendercomment 10.1.1.1 \"lab host\""
        ))
        .unwrap();
        f.run(&format!(
            "{base} edit sendergroup RELAY_O365 rename M365_RELAY"
        ))
        .unwrap();
        let c = f.working();
        assert_eq!(
            c.hat_comment("OutgoingMail", "M365_RELAY", None),
            Some("Microsoft 365")
        );
        assert_eq!(
            c.hat_comment("OutgoingMail", "M365_RELAY", Some("10.1.1.1")),
            Some("lab host")
        );
        assert!(c.hat_comment("OutgoingMail", "RELAY_O365", None).is_none());
        f.run(&format!(
            "{base} edit sendergroup M365_RELAY delete 10.1.1.1"
        ))
        .unwrap();
        assert_eq!(f.working().hat_comments.len(), 2);
        f.run(&format!("{base} edit sendergroup M365_RELAY comment \"\""))
            .unwrap();
        assert_eq!(f.working().hat_comments.len(), 1);
        refused(
            &f,
            &[
                &format!(
                    "{base} edit sendergroup M365_RELAY comment \"{}\"",
                    "x".repeat(256)
                ),
                &format!("{base} edit sendergroup M365_RELAY comment \"a\tb\""),
                &format!(
                    "{base} edit sendergroup M365_RELAY sendercomment 10.9.9.9 \"no such sender\""
                ),
                &format!("{base} edit sendergroup M365_RELAY rename RELAYLIST"),
                &format!("{base} edit sendergroup M365_RELAY rename ALL"),
                &format!("{base} edit sendergroup ALL rename EVERYONE"),
                &format!("{base} new sendergroup M365_RELAY 10.2.2.2 --comment \"two\nlines\""),
            ],
        );
        f.run(&format!("{base} delete sendergroup M365_RELAY"))
            .unwrap();
        assert!(f.working().hat_comments.is_empty());
        f.working().validate().unwrap();
    }

    #[test]
    fn a_member_can_be_deleted_again() {
        let f = Fixture::new();
        f.run("listenerconfig edit IncomingMail hostaccess new sendergroup BLOCKED_LIST 198.51.100.0/24,spam.example").unwrap();
        f.run("listenerconfig edit IncomingMail hostaccess edit sendergroup blocked_list delete SPAM.example").unwrap();
        assert_eq!(
            group(&f.working(), "IncomingMail", "BLOCKED_LIST").members,
            ["198.51.100.0/24"]
        );
        let out = f
            .run("listenerconfig edit IncomingMail hostaccess print")
            .unwrap();
        assert!(
            out.contains("BLOCKED_LIST  $BLOCKED    198.51.100.0/24"),
            "{out}"
        );
    }

    #[test]
    fn move_default_clear_and_an_export_that_imports_back() {
        let f = Fixture::new();
        f.run("listenerconfig edit IncomingMail hostaccess move sendergroup unknownlist 1")
            .unwrap();
        assert_eq!(
            names(&f.working(), "IncomingMail"),
            [
                "UNKNOWNLIST",
                "ALLOWED_LIST",
                "BLOCKED_LIST",
                "SUSPECTLIST",
                "ALL"
            ]
        );
        f.run("listenerconfig edit IncomingMail hostaccess default throttled")
            .unwrap();
        assert_eq!(
            group(&f.working(), "IncomingMail", "ALL").policy,
            "THROTTLED"
        );
        f.run("listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.0/8, .example.com")
            .unwrap();
        let exported = f
            .run("listenerconfig edit IncomingMail hostaccess export")
            .unwrap();
        assert!(
            exported.contains("\nALLOWED_LIST: 10.0.0.0/8, .example.com $TRUSTED\n"),
            "{exported}"
        );
        assert!(exported.ends_with("ALL $THROTTLED\n"), "{exported}");
        let before = f.working().listener("IncomingMail").unwrap().hat.clone();
        let out = f
            .run("listenerconfig edit IncomingMail hostaccess clear")
            .unwrap();
        assert!(out.starts_with("Removed 4 sender group(s)"), "{out}");
        assert_eq!(names(&f.working(), "IncomingMail"), ["ALL"]);
        f.run_args(&[
            "listenerconfig".into(),
            "edit".into(),
            "IncomingMail".into(),
            "hostaccess".into(),
            "import".into(),
            exported,
        ])
        .unwrap();
        assert_eq!(f.working().listener("IncomingMail").unwrap().hat, before);
        // One line per argument works as well; the ALL group is kept.
        f.run("listenerconfig edit IncomingMail hostaccess import \"A: 192.0.2.1 $TRUSTED\" \"B: $BLOCKED\"")
            .unwrap();
        assert_eq!(names(&f.working(), "IncomingMail"), ["A", "B", "ALL"]);
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "listenerconfig edit IncomingMail hostaccess move sendergroup ALL 1",
            "listenerconfig edit IncomingMail hostaccess move sendergroup ALLOWED_LIST 5",
            "listenerconfig edit IncomingMail hostaccess move sendergroup ALLOWED_LIST 0",
            "listenerconfig edit IncomingMail hostaccess move sendergroup NOPE 1",
            "listenerconfig edit IncomingMail hostaccess default NOPE",
            "listenerconfig edit IncomingMail hostaccess default",
            "listenerconfig edit IncomingMail hostaccess import \"A: 10.0.0.1\"",
            "listenerconfig edit IncomingMail hostaccess import \"A: 10.0.0.1 $NOPE\"",
            "listenerconfig edit IncomingMail hostaccess import \"A: 10.0.0.0/33 $TRUSTED\"",
            "listenerconfig edit IncomingMail hostaccess import \"A: ALL $TRUSTED\"",
            "listenerconfig edit IncomingMail hostaccess import \"A: $TRUSTED\" \"a: $TRUSTED\"",
            "listenerconfig edit IncomingMail hostaccess import \"ALL $TRUSTED\" \"A: $TRUSTED\"",
            "listenerconfig edit IncomingMail hostaccess import \"# only a comment\"",
            "listenerconfig edit IncomingMail hostaccess import",
            "listenerconfig edit IncomingMail hostaccess export extra",
            "listenerconfig edit IncomingMail hostaccess new sendergroup NEWGROUP 10.0.0.1",
            "listenerconfig edit IncomingMail hostaccess new sendergroup NEWGROUP 10.0.0.1 --policy NOPE",
            "listenerconfig edit OutgoingMail hostaccess new sendergroup NEWGROUP 10.0.0.1 --policy TRUSTED",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.0/33",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST bad_host!",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.1,10.0.0.1",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST ALL",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALL 10.0.0.1",
            "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST",
            "listenerconfig edit IncomingMail hostaccess new sendergroup \"BAD NAME\" 10.0.0.1 --policy TRUSTED",
            "listenerconfig edit IncomingMail hostaccess delete sendergroup ALL",
            "listenerconfig edit IncomingMail hostaccess delete sendergroup NOPE",
            "listenerconfig edit IncomingMail hostaccess edit sendergroup ALLOWED_LIST delete 10.9.9.9",
            "listenerconfig edit IncomingMail hostaccess edit sendergroup ALL delete ALL",
            "listenerconfig edit IncomingMail hostaccess edit sendergroup ALL policy NOPE",
            "listenerconfig edit IncomingMail hostaccess frob",
        ]);
        // A member already in the group (here: staged by an earlier command).
        f.run("listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.1")
            .unwrap();
        let before = f.staged();
        assert!(
            f.run(
                "listenerconfig edit IncomingMail hostaccess new sendergroup ALLOWED_LIST 10.0.0.1"
            )
            .is_err()
        );
        assert_eq!(f.staged(), before);
    }
}
