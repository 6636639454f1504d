//! `policyconfig`: the incoming and outgoing mail policy tables — custom
//! policies matched per recipient by sender or recipient members, first
//! match wins, and DEFAULT for the rest; and each policy's settings for
//! the services after the filters (the Threat Defense Connector today).
//!
//! The direction may come before or after the verb: `policyconfig new
//! incoming SALES ...` and `policyconfig incoming new SALES ...` are the
//! same command.

use super::args::{check_name, comma_list, invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::antispam::{
    AntiSpamSettings, Direction, EngineDown, PolicyAntiSpam, Score, SpamAction, SpamActions,
    check_header_name,
};
use crate::config::antivirus::{
    AntiVirusSettings, Direction as AvDirection, EngineDown as AvEngineDown, VerdictAction,
};
use crate::config::{
    Config, DEFAULT_POLICY, MailPolicy, MailPolicyTable, MemberSide, PolicyMember, PolicySettings,
    ThreatDefense, check_member,
};
use crate::table::{Pinned, Table, TableRow};

pub(super) use breakwater_control_proto::usage::POLICYCONFIG as USAGE;

fn table<'c>(cfg: &'c mut Config, dir: &str) -> &'c mut MailPolicyTable {
    if dir == "incoming" {
        &mut cfg.incoming_policies
    } else {
        &mut cfg.outgoing_policies
    }
}

impl TableRow for MailPolicy {
    fn key(&self) -> &str {
        &self.name
    }
}

/// The custom policies, in matching order; DEFAULT is not among them (it
/// is the table's own last row), so it can be neither deleted nor moved.
fn policies() -> Table<MailPolicy> {
    Table {
        pinned: Some(Pinned {
            is: |_| false,
            named: |n| n.eq_ignore_ascii_case(DEFAULT_POLICY),
            last: true,
            what: "the DEFAULT policy",
            why_kept: "it matches every recipient no other policy matches (edit it instead)",
        }),
        ..Table::new("mail policy named '{}'", "")
    }
}

/// `sender a,b recipient c` → members.
fn members(words: &[String]) -> Result<Vec<PolicyMember>, CliError> {
    let mut out = Vec::new();
    let mut side = None;
    for w in words {
        if let Some(s) = MemberSide::parse(w) {
            side = Some(s);
            continue;
        }
        let side = side.ok_or_else(|| usage(USAGE))?;
        for pattern in comma_list(std::slice::from_ref(w)) {
            check_member(&pattern).map_err(invalid)?;
            out.push(PolicyMember { side, pattern });
        }
    }
    if out.is_empty() {
        return Err(usage(USAGE));
    }
    Ok(out)
}

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let mut args = args.to_vec();
    if args.len() >= 2
        && matches!(
            args[0].to_ascii_lowercase().as_str(),
            "incoming" | "outgoing"
        )
    {
        args.swap(0, 1);
    }
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    let Some(&dir) = words
        .get(1)
        .filter(|d| matches!(**d, "incoming" | "outgoing"))
    else {
        return Err(usage(USAGE));
    };
    let mut cfg = ctx.store.working()?;
    let spam = cfg.antispam.clone();
    let av = cfg.antivirus.clone();
    let direction = if dir == "incoming" {
        Direction::Incoming
    } else {
        Direction::Outgoing
    };
    let t = table(&mut cfg, dir);
    match words.as_slice() {
        ["list" | "print", _] => Ok(render(t, dir, &spam, direction, &av)),
        ["detail", _, _] => {
            let name = &args[2];
            let mut out = if name.eq_ignore_ascii_case(DEFAULT_POLICY) {
                detail(t, DEFAULT_POLICY, &[], &t.default)
            } else {
                let p = policies().get(&t.policies, name)?;
                detail(t, &p.name, &p.members, &p.settings)
            };
            let shown = out
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("Policy: ")
                .to_string();
            out.push_str(&antispam_detail(&spam, direction, &shown));
            out.push_str(&format!(
                "Anti-Virus: {}\n",
                antivirus_detail(&av, av_direction(dir), &shown)
            ));
            Ok(out)
        }
        ["edit", _, _, "antispam", ..] => {
            let name = if args[2].eq_ignore_ascii_case(DEFAULT_POLICY) {
                DEFAULT_POLICY.to_string()
            } else {
                policies().get(&t.policies, &args[2])?.name.clone()
            };
            let msg = antispam_edit(&mut cfg.antispam, direction, &name, &args[4..])?;
            stage(ctx, &cfg, &msg)
        }
        ["edit", _, _, "antivirus", ..] => {
            let name = if args[2].eq_ignore_ascii_case(DEFAULT_POLICY) {
                DEFAULT_POLICY.to_string()
            } else {
                policies().get(&t.policies, &args[2])?.name.clone()
            };
            let msg = edit_antivirus(&mut cfg.antivirus, av_direction(dir), &name, &words[4..])?;
            stage(ctx, &cfg, &msg)
        }
        ["new", _, _, _, ..] => {
            let name = &args[2];
            check_name("mail policy", name)?;
            if name.eq_ignore_ascii_case(DEFAULT_POLICY) {
                return Err(invalid("DEFAULT always exists; edit it instead."));
            }
            let m = members(&args[3..])?;
            let p = MailPolicy {
                name: name.clone(),
                members: m,
                settings: PolicySettings::for_custom_policy(),
            };
            policies().add(&mut t.policies, p, None)?;
            stage(
                ctx,
                &cfg,
                &format!("Mail policy {name} added to the {dir} table."),
            )
        }
        ["delete", _, _] => {
            let p = policies().delete(&mut t.policies, &args[2])?;
            cfg.antispam.delete_policy(direction, &p.name);
            // Its Anti-Virus settings go with it.
            cfg.antivirus.delete_policy(av_direction(dir), &p.name);
            stage(ctx, &cfg, &format!("Mail policy {} deleted.", p.name))
        }
        // AsyncOS's policyconfig EDIT > NAME.
        ["rename", _, _, _] | ["edit", _, _, "name", _] => {
            let new = args.last().map_or("", String::as_str).to_string();
            check_name("mail policy", &new)?;
            if new.eq_ignore_ascii_case(DEFAULT_POLICY) {
                return Err(invalid(
                    "DEFAULT is the table's last policy; choose another name.",
                ));
            }
            let old = policies().get(&t.policies, &args[2])?.name.clone();
            if !new.eq_ignore_ascii_case(&old)
                && t.policies.iter().any(|p| p.name.eq_ignore_ascii_case(&new))
            {
                return Err(invalid(format!(
                    "A mail policy named '{new}' already exists in the {dir} table."
                )));
            }
            policies().get_mut(&mut t.policies, &old)?.name = new.clone();
            // Per-policy settings kept outside the table follow the name.
            cfg.antispam.rename_policy(direction, &old, &new);
            cfg.antivirus.rename_policy(av_direction(dir), &old, &new);
            stage(ctx, &cfg, &format!("Mail policy {old} renamed to {new}."))
        }
        ["move", _, _, to] => {
            let to = policies().move_to(&mut t.policies, &args[2], to)?;
            let msg = format!(
                "Mail policy {} moved to position {}.",
                t.policies[to].name,
                to + 1
            );
            stage(ctx, &cfg, &msg)
        }
        ["edit", _, _, "members", "add", ..] => {
            let m = members(&args[5..])?;
            let p = policies().get_mut(&mut t.policies, &args[2])?;
            for x in m {
                if !p.members.contains(&x) {
                    p.members.push(x);
                }
            }
            let msg = format!("Members of mail policy {} updated.", p.name);
            stage(ctx, &cfg, &msg)
        }
        ["edit", _, _, "members", "delete", side, _] => {
            let side = MemberSide::parse(side).ok_or_else(|| usage(USAGE))?;
            let p = policies().get_mut(&mut t.policies, &args[2])?;
            let before = p.members.len();
            p.members
                .retain(|m| !(m.side == side && m.pattern.eq_ignore_ascii_case(&args[6])));
            if p.members.len() == before {
                return Err(invalid(format!(
                    "Mail policy {} has no {} member '{}'.",
                    p.name,
                    side.word(),
                    args[6]
                )));
            }
            if p.members.is_empty() {
                return Err(invalid(format!(
                    "Mail policy {} would have no members left; delete the policy instead.",
                    p.name
                )));
            }
            let msg = format!("Members of mail policy {} updated.", p.name);
            stage(ctx, &cfg, &msg)
        }
        ["edit", _, _, "threatdefense", how, rest @ ..] => {
            let td = match (*how, rest) {
                ("global", []) => ThreatDefense::Global,
                ("no" | "off", []) => ThreatDefense::No,
                ("default", []) if args[2].eq_ignore_ascii_case(DEFAULT_POLICY) => {
                    return Err(invalid(
                        "DEFAULT is the default: choose global, custom <address> or no.",
                    ));
                }
                ("default", []) => ThreatDefense::UseDefault,
                ("custom", [_]) => {
                    let address = args[5].clone();
                    // The same check as the global address.
                    super::threatdefenseconfig::check_address(&address)?;
                    ThreatDefense::Custom(address)
                }
                _ => return Err(usage(USAGE)),
            };
            let (name, settings) = if args[2].eq_ignore_ascii_case(DEFAULT_POLICY) {
                (DEFAULT_POLICY.to_string(), &mut t.default)
            } else {
                let p = policies().get_mut(&mut t.policies, &args[2])?;
                (p.name.clone(), &mut p.settings)
            };
            let msg = format!(
                "Threat Defense Connector for mail policy {name}: {}.",
                td.label()
            );
            settings.threat_defense = td;
            stage(ctx, &cfg, &msg)
        }
        _ => Err(usage(USAGE)),
    }
}

/// The list as AsyncOS's Incoming/Outgoing Mail Policies page shows it,
/// the Threat Defense Connector column included (`(use default)`,
/// `Enabled`, `Disabled`: seed 004's final view).
fn render(
    t: &MailPolicyTable,
    dir: &str,
    spam: &AntiSpamSettings,
    d: Direction,
    av: &AntiVirusSettings,
) -> String {
    let avd = av_direction(dir);
    let mut out = format!(
        "{} mail policies (first match wins):\n\n  #  {:<20} {:<14} {:<15} {:<25} Members\n",
        if dir == "incoming" {
            "Incoming"
        } else {
            "Outgoing"
        },
        "Policy",
        "Anti-Spam",
        "Anti-Virus",
        "Threat Defense Connector"
    );
    for (i, p) in t.policies.iter().enumerate() {
        let members: Vec<String> = p
            .members
            .iter()
            .map(|m| format!("{} {}", m.side.word(), m.pattern))
            .collect();
        out.push_str(&format!(
            "{:>3}  {:<20} {:<14} {:<15} {:<25} {}\n",
            i + 1,
            p.name,
            spam_column(spam, d, &p.name),
            av.column(avd, &p.name),
            p.settings.threat_defense.column(),
            members.join(", ")
        ));
    }
    out.push_str(&format!(
        "     {DEFAULT_POLICY:<20} {:<14} {:<15} {:<25} (all other recipients)\n",
        spam_column(spam, d, DEFAULT_POLICY),
        av.column(avd, DEFAULT_POLICY),
        t.default.threat_defense.column()
    ));
    out
}

fn detail(t: &MailPolicyTable, name: &str, members: &[PolicyMember], s: &PolicySettings) -> String {
    let mut out = format!("Policy: {name}\nMembers:\n");
    if members.is_empty() {
        out.push_str("  (every recipient no other policy matches)\n");
    }
    for m in members {
        out.push_str(&format!("  {} {}\n", m.side.word(), m.pattern));
    }
    let td = match &s.threat_defense {
        ThreatDefense::UseDefault => format!(
            "{} (DEFAULT: {})",
            s.threat_defense.label(),
            t.threat_defense(s).label()
        ),
        own => own.label(),
    };
    out.push_str(&format!("Threat Defense Connector: {td}\n"));
    out
}

// --- antivirus (issue 17) ---
fn av_direction(dir: &str) -> AvDirection {
    if dir == "incoming" {
        AvDirection::Incoming
    } else {
        AvDirection::Outgoing
    }
}

/// `policyconfig edit <dir> <policy> antivirus ...`: AsyncOS's Anti-Virus
/// column of the policy table.
fn edit_antivirus(
    av: &mut AntiVirusSettings,
    dir: AvDirection,
    name: &str,
    words: &[&str],
) -> Result<String, CliError> {
    let is_default = name.eq_ignore_ascii_case(DEFAULT_POLICY);
    match words {
        ["default"] if is_default => {
            Err(invalid("DEFAULT is the default: choose enable or disable."))
        }
        ["default"] => {
            av.use_default(dir, name);
            Ok(format!("Anti-Virus for mail policy {name}: (use default)."))
        }
        [w @ ("enable" | "disable")] => {
            av.entry_mut(dir, name).enabled = *w == "enable";
            Ok(format!("Anti-Virus for mail policy {name}: {w}d."))
        }
        [verdict @ ("infected" | "unscannable" | "encrypted"), action] => {
            let a = VerdictAction::parse(action).ok_or_else(|| {
                invalid(format!(
                    "Unknown action '{action}': choose deliver, tag, quarantine or drop."
                ))
            })?;
            let e = av.entry_mut(dir, name);
            match *verdict {
                "infected" => e.infected = a,
                "unscannable" => e.unscannable = a,
                _ => e.encrypted = a,
            }
            Ok(format!(
                "Anti-Virus for mail policy {name}: {verdict} messages: {}.",
                a.word()
            ))
        }
        ["engine-down", how] => {
            let b = AvEngineDown::parse(how).ok_or_else(|| {
                invalid("When the engine is down: choose fail-open or fail-closed.")
            })?;
            av.entry_mut(dir, name).engine_down = b;
            Ok(format!(
                "Anti-Virus for mail policy {name}: engine down: {}.",
                b.word()
            ))
        }
        _ => Err(usage(USAGE)),
    }
}
/// `policyconfig detail`'s Anti-Virus line: the column's value, then
/// the settings in force (DEFAULT's for a policy that follows it).
fn antivirus_detail(av: &AntiVirusSettings, dir: AvDirection, name: &str) -> String {
    let column = av.column(dir, name);
    let e = av.effective(dir, name);
    let settings = format!(
        "infected: {}, unscannable: {}, encrypted: {}, engine down: {}",
        e.infected.word(),
        e.unscannable.word(),
        e.encrypted.word(),
        e.engine_down.word()
    );
    if !e.enabled {
        return column;
    }
    format!("{column} ({settings})")
}
// --- end antivirus ---

/// The Anti-Spam column: while `antispamconfig` is off, a policy with
/// its own setting (and DEFAULT) reads `Not Available`, as AsyncOS shows a
/// service that is not enabled; one following DEFAULT still reads `(use
/// default)` (as the Anti-Virus column does).
fn spam_column(spam: &AntiSpamSettings, d: Direction, policy: &str) -> &'static str {
    match spam.own(d, policy) {
        own @ PolicyAntiSpam::UseDefault => own.column(),
        _ if !spam.enabled => "Not Available",
        own => own.column(),
    }
}

/// The policy's anti-spam lines of `policyconfig detail`.
fn antispam_detail(spam: &AntiSpamSettings, d: Direction, policy: &str) -> String {
    let own = spam.own(d, policy);
    let mut out = match &own {
        PolicyAntiSpam::UseDefault => format!(
            "Anti-Spam: Use Default Settings (DEFAULT: {})\n",
            spam.own(d, DEFAULT_POLICY).column()
        ),
        other => format!("Anti-Spam: {}\n", other.column()),
    };
    if let Some(a) = spam.effective(d, policy) {
        for (label, v, threshold) in [
            ("Positive spam", &a.positive, a.positive_score),
            ("Suspected spam", &a.suspect, a.suspect_score),
        ] {
            out.push_str(&format!(
                "  {label}: {}; subject tag: {}; header: {}; threshold: {}\n",
                v.action.word(),
                v.subject_tag
                    .as_deref()
                    .map_or("none".to_string(), |t| format!("\"{t}\"")),
                v.header
                    .as_ref()
                    .map_or("none".to_string(), |(n, x)| format!("{n}: {x}")),
                threshold.map_or("rspamd's action".to_string(), |s| s.to_string()),
            ));
        }
        out.push_str(&format!(
            "  When the engine is down: {}\n",
            a.engine_down.word()
        ));
    }
    out
}

/// `policyconfig edit <dir> <policy> antispam ...`.
fn antispam_edit(
    spam: &mut AntiSpamSettings,
    d: Direction,
    policy: &str,
    args: &[String],
) -> Result<String, CliError> {
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    let is_default = policy.eq_ignore_ascii_case(DEFAULT_POLICY);
    // The actions to edit: the policy's own, else what it had in force
    // (DEFAULT's, or the factory actions) made its own.
    let actions = || -> SpamActions {
        match spam.own(d, policy) {
            PolicyAntiSpam::Enabled(a) => a,
            _ => spam.effective(d, DEFAULT_POLICY).unwrap_or_default(),
        }
    };
    let (setting, msg) = match words.as_slice() {
        ["enable"] => (
            PolicyAntiSpam::Enabled(actions()),
            format!("Anti-spam enabled for mail policy {policy}."),
        ),
        ["disable"] => (
            PolicyAntiSpam::Disabled,
            format!("Anti-spam disabled for mail policy {policy}."),
        ),
        ["default"] if is_default => {
            return Err(invalid(
                "DEFAULT is the default: enable or disable anti-spam.",
            ));
        }
        ["default"] => (
            PolicyAntiSpam::UseDefault,
            format!("Mail policy {policy} uses the DEFAULT anti-spam settings."),
        ),
        ["enginedown", how] => {
            let how = EngineDown::parse(how).ok_or_else(|| usage(USAGE))?;
            let mut a = actions();
            a.engine_down = how;
            (
                PolicyAntiSpam::Enabled(a),
                format!(
                    "Mail policy {policy}: when the anti-spam engine is down: {}.",
                    how.word()
                ),
            )
        }
        [which @ ("positive" | "suspect"), what, ..] => {
            let rest = &args[2..];
            let mut a = actions();
            let positive = *which == "positive";
            let label = if positive { "positive" } else { "suspected" };
            let v = if positive {
                &mut a.positive
            } else {
                &mut a.suspect
            };
            match (*what, rest) {
                ("action", [x]) => {
                    v.action = SpamAction::parse(x).ok_or_else(|| usage(USAGE))?;
                }
                ("tag", [x]) if x.eq_ignore_ascii_case("none") => v.subject_tag = None,
                ("tag", [_, ..]) => v.subject_tag = Some(rest.join(" ")),
                ("header", [x]) if x.eq_ignore_ascii_case("none") => v.header = None,
                ("header", [name, value @ ..]) if !value.is_empty() => {
                    check_header_name(name).map_err(|e| invalid(e.to_string()))?;
                    v.header = Some((name.clone(), value.join(" ")));
                }
                ("threshold", [x]) => {
                    let score = if x.eq_ignore_ascii_case("engine") {
                        None
                    } else {
                        Some(Score::parse(x).ok_or_else(|| {
                            invalid(format!(
                                "Invalid score '{x}': a number with at most two decimals, or 'engine' for rspamd's own action."
                            ))
                        })?)
                    };
                    if positive {
                        a.positive_score = score;
                    } else {
                        a.suspect_score = score;
                    }
                }
                _ => return Err(usage(USAGE)),
            }
            (
                PolicyAntiSpam::Enabled(a),
                format!("Mail policy {policy}: {label} spam settings updated."),
            )
        }
        _ => return Err(usage(USAGE)),
    };
    spam.set(d, policy, setting);
    spam.validate().map_err(|e| invalid(e.to_string()))?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::ThreatDefense;

    #[test]
    fn policies_are_added_ordered_edited_and_matched_first_wins() {
        let f = Fixture::new();
        f.run("policyconfig new incoming SALES recipient sales@,sales@example.com")
            .unwrap();
        f.run("policyconfig incoming new PARTNERS sender .partner.example recipient @partner-team.example.com").unwrap();
        f.run("policyconfig move incoming PARTNERS 1").unwrap();
        f.run("policyconfig edit incoming SALES members add recipient deals@")
            .unwrap();
        f.run("policyconfig edit incoming SALES members delete recipient sales@example.com")
            .unwrap();
        f.run("policyconfig edit incoming SALES threatdefense custom tdc@intake.example")
            .unwrap();
        f.run("policyconfig edit incoming DEFAULT threatdefense global")
            .unwrap();
        let cfg = f.staged().unwrap();
        let t = &cfg.incoming_policies;
        assert_eq!(t.policies[0].name, "PARTNERS");
        assert_eq!(
            t.select("a@mx.partner.example", "sales@example.com"),
            "PARTNERS"
        );
        assert_eq!(t.select("a@else.example", "deals@example.com"), "SALES");
        assert_eq!(t.select("a@else.example", "bob@example.com"), "DEFAULT");
        assert_eq!(
            t.policies[1].settings.threat_defense,
            ThreatDefense::Custom("tdc@intake.example".into())
        );
        assert_eq!(t.default.threat_defense, ThreatDefense::Global);
        assert!(cfg.outgoing_policies.policies.is_empty());
        let list = f.run("policyconfig list incoming").unwrap();
        assert!(list.contains("1  PARTNERS"), "{list}");
        let detail = f.run("policyconfig detail incoming SALES").unwrap();
        assert!(
            detail.contains(
                "Threat Defense Connector: Custom Message Intake Address tdc@intake.example"
            ),
            "{detail}"
        );
        f.run("policyconfig delete incoming PARTNERS").unwrap();
        assert_eq!(f.staged().unwrap().incoming_policies.policies.len(), 1);
    }

    #[test]
    fn policies_are_taken_by_number_and_default_stays() {
        let f = Fixture::new();
        f.run("policyconfig new incoming A recipient a@").unwrap();
        f.run("policyconfig new incoming B recipient b@").unwrap();
        f.run("policyconfig move incoming 2 1").unwrap();
        let cfg = f.staged().unwrap();
        let names: Vec<&str> = cfg
            .incoming_policies
            .policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["B", "A"]);
        let detail = f.run("policyconfig detail incoming 2").unwrap();
        assert!(detail.starts_with("Policy: A\n"), "{detail}");
        let err = f
            .run("policyconfig move incoming DEFAULT 1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("The DEFAULT policy cannot be moved"),
            "{err}"
        );
        let err = f
            .run("policyconfig move incoming A 3")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "the position must be between 1 and 2.");
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "policyconfig",
            "policyconfig list sideways",
            "policyconfig new incoming DEFAULT recipient a@",
            "policyconfig new incoming SALES",
            "policyconfig new incoming SALES sales@",
            "policyconfig new incoming SALES recipient bad@member@x",
            "policyconfig new incoming \"bad name\" recipient a@",
            "policyconfig delete incoming DEFAULT",
            "policyconfig delete incoming NOPE",
            "policyconfig rename incoming NOPE X",
            "policyconfig rename incoming DEFAULT X",
            "policyconfig edit incoming NOPE threatdefense global",
            "policyconfig edit incoming DEFAULT threatdefense custom not-an-address",
            "policyconfig edit incoming DEFAULT threatdefense maybe",
            "policyconfig edit incoming DEFAULT threatdefense default",
        ]);
    }

    #[test]
    fn a_new_policy_follows_default_and_the_list_says_so() {
        let f = Fixture::new();
        f.run("policyconfig new incoming SALES recipient sales@")
            .unwrap();
        f.run("policyconfig new incoming LEGAL recipient legal@")
            .unwrap();
        f.run("policyconfig edit incoming LEGAL threatdefense custom tdc@intake.example")
            .unwrap();
        let cfg = f.staged().unwrap();
        let t = &cfg.incoming_policies;
        assert_eq!(
            t.policies[0].settings.threat_defense,
            ThreatDefense::UseDefault
        );
        assert_eq!(
            f.run("policyconfig list incoming").unwrap(),
            "Incoming mail policies (first match wins):\n\n\
             \x20 #  Policy               Anti-Spam      Anti-Virus      Threat Defense Connector  Members\n\
             \x20 1  SALES                (use default)  (use default)   (use default)             recipient sales@\n\
             \x20 2  LEGAL                (use default)  (use default)   Enabled                   recipient legal@\n\
             \x20    DEFAULT              Not Available  Not Available   Disabled                  (all other recipients)\n"
        );
        f.run("policyconfig edit incoming DEFAULT threatdefense global")
            .unwrap();
        let detail = f.run("policyconfig detail incoming SALES").unwrap();
        assert!(
            detail.contains(
                "Threat Defense Connector: Use Default Settings (DEFAULT: Use global Message Intake Address)"
            ),
            "{detail}"
        );
        // Back from a setting of its own to DEFAULT's.
        f.run("policyconfig edit incoming LEGAL threatdefense default")
            .unwrap();
        let list = f.run("policyconfig list incoming").unwrap();
        assert!(
            list.contains("2  LEGAL                (use default)  (use default)   (use default)"),
            "{list}"
        );
        assert!(
            list.contains("DEFAULT              Not Available  Not Available   Enabled"),
            "{list}"
        );
    }

    #[test]
    fn antivirus_settings_are_edited_per_policy_and_follow_a_delete() {
        use crate::config::antivirus::{Direction, EngineDown, VerdictAction};
        let f = Fixture::new();
        f.run("policyconfig new incoming SALES recipient sales@")
            .unwrap();
        f.run("policyconfig edit incoming SALES antivirus infected quarantine")
            .unwrap();
        f.run("policyconfig edit incoming DEFAULT antivirus engine-down fail-open")
            .unwrap();
        let av = f.staged().unwrap().antivirus;
        let sales = av.effective(Direction::Incoming, "SALES");
        assert_eq!(sales.infected, VerdictAction::Quarantine);
        assert_eq!(sales.engine_down, EngineDown::FailClosed);
        assert_eq!(
            av.effective(Direction::Incoming, "OTHER").engine_down,
            EngineDown::FailOpen
        );
        let fresh = Fixture::new();
        fresh.assert_refused(&[
            "policyconfig edit incoming SALES antivirus infected explode",
            "policyconfig edit incoming DEFAULT antivirus default",
            "policyconfig edit incoming NOPE antivirus enable",
        ]);
        // The list's Anti-Virus column and the detail's line.
        let list = f.run("policyconfig list incoming").unwrap();
        assert!(
            list.contains("1  SALES                (use default)  Not Available"),
            "{list}"
        );
        f.run("antivirusconfig enable").unwrap();
        f.run("policyconfig new incoming LEGAL recipient legal@")
            .unwrap();
        f.run("policyconfig new incoming HR recipient hr@").unwrap();
        f.run("policyconfig edit incoming LEGAL antivirus disable")
            .unwrap();
        let list = f.run("policyconfig list incoming").unwrap();
        for row in [
            "1  SALES                (use default)  ClamAV          (use default)",
            "2  LEGAL                (use default)  Disabled        (use default)",
            "3  HR                   (use default)  (use default)   (use default)",
            "   DEFAULT              Not Available  ClamAV          Disabled",
        ] {
            assert!(list.contains(row), "{row}:\n{list}");
        }
        let detail = f.run("policyconfig detail incoming SALES").unwrap();
        assert!(
            detail.contains(
                "Anti-Virus: ClamAV (infected: quarantine, unscannable: tag, encrypted: tag, engine down: fail-closed)\n"
            ),
            "{detail}"
        );
        let detail = f.run("policyconfig detail incoming LEGAL").unwrap();
        assert!(detail.contains("Anti-Virus: Disabled\n"), "{detail}");
        f.run("policyconfig delete incoming SALES").unwrap();
        let av = f.staged().unwrap().antivirus;
        assert!(av.own(Direction::Incoming, "SALES").is_none());
    }

    #[test]
    fn antispam_is_set_per_policy_shown_in_the_list_and_follows_a_delete() {
        use crate::config::antispam::{Direction, EngineDown, PolicyAntiSpam, Score, SpamAction};
        let f = Fixture::new();
        f.run("policyconfig new incoming SALES recipient sales@")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam positive action quarantine")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam suspect tag \"[MAYBE SPAM] \"")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam positive header X-Spam yes")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam positive threshold 12.5")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam enginedown hold")
            .unwrap();
        f.run("policyconfig edit outgoing DEFAULT antispam enable")
            .unwrap();
        let cfg = f.staged().unwrap();
        let a = cfg
            .antispam
            .effective(Direction::Incoming, "SALES")
            .unwrap();
        assert_eq!(a.positive.action, SpamAction::Quarantine);
        assert_eq!(a.positive.subject_tag.as_deref(), Some("[SPAM] "));
        assert_eq!(a.suspect.subject_tag.as_deref(), Some("[MAYBE SPAM] "));
        assert_eq!(a.positive.header, Some(("X-Spam".into(), "yes".into())));
        assert_eq!(a.positive_score, Some(Score(1250)));
        assert_eq!(a.engine_down, EngineDown::Hold);
        assert!(
            cfg.antispam
                .effective(Direction::Outgoing, "DEFAULT")
                .is_some()
        );
        let list = f.run("policyconfig list incoming").unwrap();
        assert!(
            list.contains("1  SALES                Not Available"),
            "{list}"
        );
        f.run("antispamconfig enable").unwrap();
        let list = f.run("policyconfig list incoming").unwrap();
        assert!(list.contains("1  SALES                rspamd "), "{list}");
        let detail = f.run("policyconfig detail incoming SALES").unwrap();
        assert!(
            detail.contains("Positive spam: Spam Quarantine; subject tag: \"[SPAM] \"; header: X-Spam: yes; threshold: 12.50"),
            "{detail}"
        );
        assert!(
            detail.contains("When the engine is down: Hold and retry"),
            "{detail}"
        );
        f.run("policyconfig edit incoming DEFAULT antispam disable")
            .unwrap();
        f.run("policyconfig edit incoming SALES antispam default")
            .unwrap();
        let detail = f.run("policyconfig detail incoming SALES").unwrap();
        assert!(
            detail.contains("Anti-Spam: Use Default Settings (DEFAULT: Disabled)"),
            "{detail}"
        );
        f.run("policyconfig edit incoming SALES antispam enable")
            .unwrap();
        f.run("policyconfig rename incoming SALES Sales-Team")
            .unwrap();
        let cfg = f.staged().unwrap();
        let named = |n: &str| cfg.antispam.policies.iter().any(|e| e.policy == n);
        assert!(
            named("Sales-Team") && !named("SALES"),
            "{:?}",
            cfg.antispam.policies
        );
        assert!(
            cfg.incoming_policies
                .policies
                .iter()
                .any(|p| p.name == "Sales-Team")
        );
        f.run("policyconfig edit incoming Sales-Team name SALES")
            .unwrap();
        f.run("policyconfig delete incoming SALES").unwrap();
        let cfg = f.staged().unwrap();
        assert!(
            !cfg.antispam.policies.iter().any(|e| e.policy == "SALES"),
            "{:?}",
            cfg.antispam.policies
        );
        assert_eq!(
            cfg.antispam.own(Direction::Incoming, "DEFAULT"),
            PolicyAntiSpam::Disabled
        );
    }

    #[test]
    fn bad_antispam_edits_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.run("policyconfig new incoming SALES recipient sales@")
            .unwrap();
        f.run("commit").unwrap();
        f.assert_refused(&[
            "policyconfig edit incoming DEFAULT antispam default",
            "policyconfig edit incoming NOPE antispam enable",
            "policyconfig edit incoming SALES antispam positive action burn",
            "policyconfig edit incoming SALES antispam positive threshold lots",
            "policyconfig edit incoming SALES antispam suspect threshold -",
            "policyconfig edit incoming SALES antispam positive header \"Bad Name\" x",
            "policyconfig edit incoming SALES antispam enginedown maybe",
            "policyconfig edit incoming SALES antispam",
        ]);
    }
}
