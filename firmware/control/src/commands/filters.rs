//! `filters`: AsyncOS message filters — pasting new ones, listing,
//! ordering, (de)activating, importing and exporting the whole list, and
//! tracing a test message through it.
//!
//! Scripts come on standard input, ended by a line holding only `.` (the
//! console's paste convention). A script with a syntax error is refused as
//! a whole, with the line, column and a pointer; names nothing defines
//! (a sender group no listener has, a quarantine, ...) are warnings: the
//! filter is added and the warnings printed, at `new`, `import` and again
//! at `commit`. The relay lint (`config::relay_lint`) adds its own: at
//! `new` and `import`, a pasted filter's sender group that can never
//! match; at `commit`, that and a shared-domain relay no secret header
//! guards. Filters are stored as canonical source (see
//! `config::policy`), so `detail` and `export` print them back the same
//! way whatever spacing was pasted.

use super::args::{comma_list, invalid, parse_opts, stage, usage};
use super::{CliError, CommandContext};
use crate::config::{Config, MessageFilterConfig, relay_lint};
use crate::filters::{self, Filter, KnownNames, MessageContext, NoLookups};
use crate::table::{Table, TableRow};

pub(super) use breakwater_control_proto::usage::FILTERS as USAGE;

pub(super) fn run(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("new"), [_]) => paste(ctx, script(stdin)?, false),
        (Some("import"), [_]) => paste(ctx, script(stdin)?, true),
        (Some("list"), [_]) => Ok(list(&ctx.store.working()?)),
        (Some("export"), [_]) => {
            let cfg = ctx.store.working()?;
            Ok(filters::print_script(&compile(&cfg.message_filters)))
        }
        (Some("detail"), [_, name]) => detail(&ctx.store.working()?, name),
        (Some("delete"), [_, name]) => {
            let mut cfg = ctx.store.working()?;
            let f = table().delete(&mut cfg.message_filters, name)?;
            stage(ctx, &cfg, &format!("Filter '{}' deleted.", f.name))
        }
        (Some("move"), [_, name, to]) => {
            let mut cfg = ctx.store.working()?;
            let to = table().move_to(&mut cfg.message_filters, name, to)?;
            let msg = format!(
                "Filter '{}' moved to position {}.",
                cfg.message_filters[to].name,
                to + 1
            );
            stage(ctx, &cfg, &msg)
        }
        (Some("set"), [_, name, state]) => {
            let active = match state.to_ascii_lowercase().as_str() {
                "active" => true,
                "inactive" => false,
                _ => return Err(usage(USAGE)),
            };
            let mut cfg = ctx.store.working()?;
            let f = table().get_mut(&mut cfg.message_filters, name)?;
            f.active = active;
            let msg = format!(
                "Filter '{}' is now {}.",
                f.name,
                if active { "active" } else { "inactive" }
            );
            stage(ctx, &cfg, &msg)
        }
        (Some("trace"), [_, rest @ ..]) => trace(ctx, rest, stdin),
        _ => Err(usage(USAGE)),
    }
}

fn script(stdin: Option<&str>) -> Result<&str, CliError> {
    stdin.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        invalid("Enter the filter script on standard input, ended by a line holding only \".\".")
    })
}

fn parse(src: &str) -> Result<Vec<Filter>, CliError> {
    let parsed = filters::parse(src).map_err(|e| invalid(format!("Syntax error: {e}")))?;
    if parsed.is_empty() {
        return Err(invalid("The script holds no filter."));
    }
    Ok(parsed)
}

/// The stored form of a parsed filter.
fn stored(f: &Filter) -> MessageFilterConfig {
    let mut printed = f.clone();
    printed.active = true;
    MessageFilterConfig {
        name: f.name.clone(),
        active: f.active,
        source: printed.to_string(),
    }
}

/// The stored filters, parsed, with their active flags.
pub(super) fn compile(stored: &[MessageFilterConfig]) -> Vec<Filter> {
    stored
        .iter()
        .filter_map(|f| {
            let mut parsed = filters::parse(&f.source).ok()?;
            let mut one = parsed.drain(..).next()?;
            one.active = f.active;
            Some(one)
        })
        .collect()
}

/// Every name the filters may refer to.
pub(super) fn known_names(cfg: &Config) -> KnownNames {
    let mut k = KnownNames::default();
    for l in &cfg.listeners {
        k.listeners.push(l.name.clone());
        for g in &l.hat {
            if !k.sender_groups.contains(&g.name) {
                k.sender_groups.push(g.name.clone());
            }
        }
    }
    k.interfaces = cfg.interfaces.iter().map(|i| i.name.clone()).collect();
    // Predefined ones included: Spam exists on configs stored before it.
    k.quarantines = crate::config::quarantine_settings::quarantines(cfg)
        .into_iter()
        .map(|q| q.name)
        .collect();
    k.bounce_profiles = cfg.bounce_profiles.iter().map(|b| b.name.clone()).collect();
    k
}

/// `Warning: ...` lines for `filters` in `cfg`, or nothing.
pub(super) fn warnings(cfg: &Config, filters: &[Filter]) -> String {
    filters::validate(filters, &known_names(cfg))
        .iter()
        .map(|w| format!("Warning: {w}\n"))
        .collect()
}

/// `Warning: ...` lines of the relay lint for the whole of `cfg`; with
/// `only`, just the findings about those filters (the ones being added).
pub(super) fn relay_warnings(cfg: &Config, only: Option<&[Filter]>) -> String {
    relay_lint::lint(cfg, &compile(&cfg.message_filters))
        .iter()
        .filter(|f| {
            only.is_none_or(|new| {
                f.filter()
                    .is_some_and(|name| new.iter().any(|n| n.name == name))
            })
        })
        .map(|f| format!("Warning: {f}\n"))
        .collect()
}

impl TableRow for MessageFilterConfig {
    fn key(&self) -> &str {
        &self.name
    }
}

/// The filters, in the order they run.
fn table() -> Table<MessageFilterConfig> {
    Table {
        duplicate_hint: "; delete it first or choose another name",
        ..Table::new("filter named '{}'", "")
    }
}

/// `new` adds the pasted filters after the others; `import` (`replace`)
/// replaces the whole list with them.
fn paste(ctx: &CommandContext<'_>, src: &str, replace: bool) -> Result<String, CliError> {
    let parsed = parse(src)?;
    let mut cfg = ctx.store.working()?;
    if replace {
        cfg.message_filters = parsed.iter().map(stored).collect();
    } else {
        for f in &parsed {
            table().add(&mut cfg.message_filters, stored(f), None)?;
        }
    }
    let mut out = warnings(&cfg, &parsed);
    out.push_str(&relay_warnings(&cfg, Some(&parsed)));
    if replace {
        let n = parsed.len();
        out.push_str(&format!(
            "{n} filter(s) imported; they replace the previous list."
        ));
    } else {
        // AsyncOS's own words, plural whatever the count ("1 filters
        // added."), so scripts written against AsyncOS match.
        out.push_str(&format!("{} filters added.", parsed.len()));
    }
    stage(ctx, &cfg, &out)
}

fn list(cfg: &Config) -> String {
    if cfg.message_filters.is_empty() {
        return "There are no message filters.".to_string();
    }
    let compiled = compile(&cfg.message_filters);
    let known = known_names(cfg);
    let mut out = String::from("Num Active Valid Name\n");
    for (i, f) in cfg.message_filters.iter().enumerate() {
        let valid = compiled
            .iter()
            .find(|c| c.name == f.name)
            .is_some_and(|c| filters::validate(std::slice::from_ref(c), &known).is_empty());
        out.push_str(&format!(
            "{:<3} {:<6} {:<5} {}\n",
            i + 1,
            if f.active { "Y" } else { "N" },
            if valid { "Y" } else { "N" },
            f.name
        ));
    }
    out
}

fn detail(cfg: &Config, name: &str) -> Result<String, CliError> {
    let i = table().find(&cfg.message_filters, name)?;
    let f = &cfg.message_filters[i];
    let compiled = compile(std::slice::from_ref(f));
    let problems = warnings(cfg, &compiled);
    Ok(format!(
        "Num: {}\nName: {}\nActive: {}\nValid: {}\n{problems}\n{}",
        i + 1,
        f.name,
        if f.active { "Yes" } else { "No" },
        if problems.is_empty() { "Yes" } else { "No" },
        compiled
            .first()
            .map_or_else(|| f.source.clone(), |c| format!("{c}\n")),
    ))
}

/// `commit`, with the filters' warnings and the relay lint's (see
/// `config::relay_lint`) printed before the commit line.
pub(super) fn commit(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let staged = ctx.store.staged()?;
    let out = super::commit::commit(ctx, args)?;
    let notes = staged
        .map(|cfg| {
            let mut notes = warnings(&cfg, &compile(&cfg.message_filters));
            notes.push_str(&relay_warnings(&cfg, None));
            notes
        })
        .unwrap_or_default();
    Ok(format!("{notes}{out}"))
}

const TRACE_OPTS: &[&str] = &[
    "from",
    "to",
    "sendergroup",
    "listener",
    "interface",
    "remote-ip",
    "remote-host",
];

fn trace(
    ctx: &CommandContext<'_>,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    let opts = parse_opts(args, TRACE_OPTS, &[], USAGE)?;
    if !opts.positional.is_empty() {
        return Err(usage(USAGE));
    }
    let cfg = ctx.store.working()?;
    let text = stdin.unwrap_or("");
    // The console pastes the message too: stop at a lone ".".
    let mut raw = String::new();
    for line in text.lines() {
        if line.trim_end_matches('\r') == "." {
            break;
        }
        raw.push_str(line.trim_end_matches('\r'));
        raw.push_str("\r\n");
    }
    if raw.trim().is_empty() {
        return Err(invalid(
            "Enter the test message (headers, a blank line, the body) on standard input.",
        ));
    }
    let listener_name = opts.value("listener").unwrap_or("IncomingMail");
    let listener = cfg.listener(listener_name);
    let mut msg = MessageContext::new(crate::ids::Mid(0), raw.as_bytes(), chrono::Utc::now());
    msg.envelope_sender = opts.value("from").unwrap_or("").to_string();
    msg.recipients = comma_list(&[opts.value("to").unwrap_or("").to_string()]);
    msg.sender_group = opts.value("sendergroup").map(str::to_string);
    msg.listener = listener.map_or(listener_name.to_string(), |l| l.name.clone());
    msg.interface = opts
        .value("interface")
        .map(str::to_string)
        .or_else(|| listener.map(|l| l.interface.clone()))
        .unwrap_or_default();
    if let Some(ip) = opts.value("remote-ip") {
        msg.remote_ip = ip
            .parse()
            .map_err(|_| invalid(format!("--remote-ip: '{ip}' is not an IP address.")))?;
    }
    msg.remote_host = opts.value("remote-host").map(str::to_string);
    msg.hostname = cfg.hostname.clone();
    let list = compile(&cfg.message_filters);
    if list.is_empty() {
        return Ok("There are no message filters.".to_string());
    }
    let verdict = filters::trace(&list, &msg, &NoLookups, &mut rand::rng());
    let mut out = String::new();
    for line in &verdict.trace {
        out.push_str(&format!("{line}\n"));
    }
    out.push_str(&match (&verdict.final_action, &verdict.final_filter) {
        (Some(a), Some(f)) => format!("\nFinal action: {a}() by filter '{f}'\n"),
        _ => "\nFinal action: none (the message goes on to the mail policies)\n".to_string(),
    });
    if !verdict.actions.is_empty() {
        out.push_str("Actions taken:\n");
        for a in &verdict.actions {
            out.push_str(&format!("  {} ({:?})\n", a.filter, a.kind));
        }
    }
    let rewritten = filters::apply_rewrites(&verdict.actions, raw.as_bytes());
    if rewritten != raw.as_bytes() {
        out.push_str("\nMessage after the rewrites:\n");
        out.push_str(&String::from_utf8_lossy(&rewritten));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use super::super::{CliError, CommandContext, run};

    const SEED: &str = "office365_outbound: if sendergroup == \"RELAY_O365\" {\n  if header(\"X-OUTBOUND-AUTH\") == \"^mysecretkey$\" {\n    strip-header(\"X-OUTBOUND-AUTH\");\n  } else {\n    drop();\n  }\n}\n.\n";

    fn with_stdin(f: &Fixture, line: &str, stdin: &str) -> Result<String, CliError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let on_commit = |_: &crate::config::Config| {};
        let ctx = CommandContext {
            store: &f.store,
            user: "admin",
            on_commit: &on_commit,
        };
        run(&ctx, None, &args, Some(stdin))
    }

    #[test]
    fn the_seed_filter_is_added_with_a_warning_until_its_sender_group_exists() {
        let f = Fixture::new();
        let out = with_stdin(&f, "filters new", SEED).unwrap();
        assert!(out.contains("1 filters added."), "{out}");
        assert!(
            out.contains(
                "Warning: Filter 'office365_outbound': sender group 'RELAY_O365' is not defined"
            ),
            "{out}"
        );
        let list = f.run("filters list").unwrap();
        assert!(
            list.contains("1   Y      N     office365_outbound"),
            "{list}"
        );
        let detail = f.run("filters detail office365_outbound").unwrap();
        assert!(
            detail.contains("strip-header(\"X-OUTBOUND-AUTH\");"),
            "{detail}"
        );
        f.run("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED").unwrap();
        let list = f.run("filters list").unwrap();
        assert!(
            list.contains("1   Y      Y     office365_outbound"),
            "{list}"
        );
        let out = f.run("commit \"filters\"").unwrap();
        assert!(!out.contains("Warning"), "{out}");
        assert_eq!(f.applied.lock().unwrap()[0].message_filters.len(), 1);
    }

    #[test]
    fn the_seed_filter_naming_the_empty_relaylist_is_added_with_both_groups_named() {
        let f = Fixture::new();
        f.run("listenerconfig edit OutgoingMail hostaccess new sendergroup RELAY_O365 .protection.outlook.com --policy RELAYED").unwrap();
        let out = with_stdin(&f, "filters new", &SEED.replace("RELAY_O365", "RELAYLIST")).unwrap();
        assert!(
            out.starts_with(
                "Warning: filter 'office365_outbound' checks sendergroup RELAYLIST, which never \
                 matches on OutgoingMail: RELAYLIST has no members; the hosts OutgoingMail relays \
                 for are in RELAY_O365\n1 filters added.\n"
            ),
            "{out}"
        );
        let out = f.run("commit").unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].contains("checks sendergroup RELAYLIST"), "{out}");
        assert!(
            lines[1].starts_with("Warning: OutgoingMail relays for sender group RELAY_O365,"),
            "{out}"
        );
        assert!(lines[2].starts_with("Changes committed: "), "{out}");
    }

    #[test]
    fn a_syntax_error_reports_its_position_and_adds_nothing() {
        let f = Fixture::new();
        let err = with_stdin(
            &f,
            "filters new",
            "bad: if sendrgroup == 'X' { drop(); }\n.\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 1, column 9"), "{err}");
        assert!(err.contains("unknown condition 'sendrgroup'"), "{err}");
        assert!(err.contains("        ^"), "{err}");
        assert!(f.staged().is_none());
        assert!(with_stdin(&f, "filters new", "").is_err());
        assert!(f.staged().is_none());
    }

    /// AsyncOS rules and actions Breakwater lacks reach the administrator
    /// with their reason, not as typos; SPF and LDAP group rules parse and
    /// the change is refused when staged.
    #[test]
    fn sender_authentication_rules_are_staged() {
        // Evaluated from reception's verification since issue 17.
        let f = Fixture::new();
        with_stdin(
            &f,
            "filters new",
            "helo_fail: if spf-status(\"helo\") == \"Fail\" or not spf-passed \
             or dkim-authentication == 'hardfail' {\n  drop();\n}\n.\n",
        )
        .expect("the sender authentication rules are evaluated");
        assert!(f.staged().is_some());
    }

    #[test]
    fn an_unsupported_rule_or_action_is_refused_with_its_reason() {
        let f = Fixture::new();
        let err = with_stdin(
            &f,
            "filters new",
            "enc: if true {\n  encrypt('CRES');\n}\n.\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "line 2, column 3: action 'encrypt' is not supported: no encryption service on this appliance"
            ),
            "{err}"
        );
        let err = with_stdin(
            &f,
            "filters new",
            "expired: if (rcpt-to-group == 'ExpiredAccounts') { drop(); }\n.\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.ends_with(
                "rule 'rcpt-to-group' is not supported: no LDAP server is configured (ldapconfig)"
            ),
            "{err}"
        );
        assert!(f.staged().is_none());
    }

    #[test]
    fn filters_are_moved_deactivated_deleted_exported_and_imported() {
        let f = Fixture::new();
        let out = with_stdin(
            &f,
            "filters new",
            "a: if true { log-entry('a'); }\nb: if true { log-entry('b'); }\nc! if true { drop(); }\n.\n",
        )
        .unwrap();
        assert!(out.starts_with("3 filters added.\n"), "{out}");
        assert!(with_stdin(&f, "filters new", "a: if true { drop(); }\n").is_err());
        f.run("filters move c 1").unwrap();
        f.run("filters set a inactive").unwrap();
        let names: Vec<(String, bool)> = f
            .working()
            .message_filters
            .iter()
            .map(|x| (x.name.clone(), x.active))
            .collect();
        assert_eq!(
            names,
            [("c".into(), false), ("a".into(), false), ("b".into(), true)]
        );
        let export = f.run("filters export").unwrap();
        assert!(export.starts_with("c! "), "{export}");
        f.run("filters delete b").unwrap();
        assert!(f.run("filters delete b").is_err());
        assert!(f.run("filters move a 9").is_err());
        with_stdin(&f, "filters import", &export).unwrap();
        assert_eq!(f.working().message_filters.len(), 3);
        assert_eq!(f.run("filters export").unwrap(), export);
    }

    #[test]
    fn trace_shows_conditions_and_the_final_action() {
        let f = Fixture::new();
        with_stdin(&f, "filters new", SEED).unwrap();
        let msg = "Subject: hi\r\nX-OUTBOUND-AUTH: wrong\r\n\r\nbody\r\n";
        let out = with_stdin(
            &f,
            "filters trace --from a@example.com --to b@partner.example --sendergroup RELAY_O365 --listener OutgoingMail",
            msg,
        )
        .unwrap();
        assert!(
            out.contains("Filter 'office365_outbound': (sendergroup == \"RELAY_O365\") is true"),
            "{out}"
        );
        assert!(
            out.contains("Final action: drop() by filter 'office365_outbound'"),
            "{out}"
        );
        let msg = "Subject: hi\r\nX-OUTBOUND-AUTH: mysecretkey\r\n\r\nbody\r\n";
        let out = with_stdin(&f, "filters trace --sendergroup RELAY_O365", msg).unwrap();
        assert!(out.contains("Final action: none"), "{out}");
        assert!(
            out.contains("Message after the rewrites:\nSubject: hi\r\n\r\nbody"),
            "{out}"
        );
    }
}
