//! `listenerconfig edit <listener> hostaccess ...`: the sender groups of a
//! listener's Host Access Table. Mail flow policies are in `policy`.
//!
//! The HAT is read top to bottom and the first match wins, so AsyncOS keeps
//! the catch-all `ALL` group last: new groups go in just above it, and `ALL`
//! can neither be deleted nor appear as a member of another group (it would
//! shadow every group below).

use super::args::find_mut;
use super::args::{check_name, comma_list, invalid, parse_opts, stage, usage};
use super::listener_table::{self, ListenerTable, Said};
use super::{CliError, CommandContext, policy};
use crate::config::{ListenerConfig, SenderGroup};
use crate::smtp_in::hat::HostMember;
use crate::table::{Pinned, Table, TableRow};

pub(super) const USAGE: &str = "\
usage: listenerconfig edit <listener> hostaccess new sendergroup <NAME> <member>[,<member>...] [--policy <POLICY>]
       listenerconfig edit <listener> hostaccess delete sendergroup <NAME>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> delete <member>
       listenerconfig edit <listener> hostaccess edit sendergroup <NAME> policy <POLICY>
       listenerconfig edit <listener> hostaccess newpolicy <NAME> [policy options]
       listenerconfig edit <listener> hostaccess editpolicy <POLICY> [policy options]
       listenerconfig edit <listener> hostaccess deletepolicy <POLICY>
       listenerconfig edit <listener> hostaccess move sendergroup <NAME> <position>
       listenerconfig edit <listener> hostaccess default <POLICY>      (the ALL group's policy)
       listenerconfig edit <listener> hostaccess clear                 (every group but ALL)
       listenerconfig edit <listener> hostaccess export
       listenerconfig edit <listener> hostaccess import <LINE>...      (replaces the table)
       listenerconfig edit <listener> hostaccess print
members: 10.1.1.1, 10.1.1.0/24, 10.1.1., 10.1.1.1-50, 2001:db8::/32, mail.example.com, .example.com
(an existing group gets the members added; a new group needs --policy)
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
        Some("newpolicy" | "editpolicy" | "deletepolicy") => policy::run(ctx, listener, args),
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

    fn print(l: &ListenerConfig) -> String {
        render_hat(l) + &policy::render_policies(l)
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

fn new_group(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let opts = parse_opts(args, &["policy"], &[], USAGE)?;
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
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let policy = opts
        .value("policy")
        .map(|p| policy::canonical_name(l, p))
        .transpose()?;
    let table = Hat::table(l);
    let lname = l.name.clone();
    let message = match table.position(&l.hat, name) {
        Some(i) if l.hat[i].name.eq_ignore_ascii_case(name) => {
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
            format!(
                "Added {} member(s) to sender group {} (policy ${}) on {lname}.",
                members.len(),
                group.name,
                group.policy
            )
        }
        _ => {
            let policy = policy.ok_or_else(|| {
                invalid(format!(
                    "Sender group {name} does not exist yet: give it a policy with --policy <POLICY>."
                ))
            })?;
            let message = format!(
                "Created sender group {name} (policy ${policy}) on {lname} with {} member(s).",
                members.len()
            );
            let group = SenderGroup {
                name: name.to_string(),
                members: members.into_iter().map(Into::into).collect(),
                policy,
            };
            table.add(&mut l.hat, group, None)?;
            message
        }
    };
    stage(ctx, &cfg, &message)
}

fn edit_group(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let (name, [action, value]) = listener_table::selector::<Hat>(args)? else {
        return Err(usage(USAGE));
    };
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let i = Hat::table(l).find(&l.hat, name)?;
    let message = match action.to_ascii_lowercase().as_str() {
        "delete" => {
            let group = &mut l.hat[i];
            if is_all(&group.name) {
                return Err(invalid("The ALL sender group's member cannot be deleted."));
            }
            let wanted = HostMember::parse(value).ok();
            let at = group
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
                })?;
            let removed = group.members.remove(at);
            format!("Deleted '{removed}' from sender group {}.", group.name)
        }
        "policy" => {
            let p = policy::canonical_name(l, value)?;
            let group = &mut l.hat[i];
            group.policy = p;
            format!(
                "Sender group {} now uses policy ${}.",
                group.name, group.policy
            )
        }
        _ => return Err(usage(USAGE)),
    };
    stage(ctx, &cfg, &message)
}

/// The HAT, one group a line, in matching order.
pub(super) fn render_hat(l: &ListenerConfig) -> String {
    let rows = Hat::table(l).print(&l.hat, "    ", |g| {
        let members = if g.members.is_empty() {
            "(no members)".to_string()
        } else {
            g.members.join(", ")
        };
        vec![g.name.clone(), format!("${}", g.policy), members]
    });
    format!("  Host Access Table (first match wins):\n{rows}")
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
                |c| assert_eq!(names(c, "OutgoingMail"), ["RELAYLIST", "RELAY_O365", "ALL"]),
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
