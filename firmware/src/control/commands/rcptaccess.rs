//! `listenerconfig edit <listener> rcptaccess ...`: the Recipient Access
//! Table of a public listener.
//!
//! First match wins and no match is rejected. AsyncOS keeps the `ALL` row
//! last, so new rows go in just above it, and the `ALL` row cannot be
//! deleted: without it a public listener still rejects unknown recipients,
//! but an administrator reading the table should see that said.

use std::fmt::Write as _;

use super::args::{check_text, invalid, number, parse_opts, stage, usage};
use super::listenerconfig::{find, find_mut};
use super::{CliError, CommandContext};
use crate::config::{ListenerConfig, ListenerKind, RatAction, RatEntry};
use crate::smtp_in::rat::RatPattern;

const USAGE: &str = "\
usage: listenerconfig edit <listener> rcptaccess new <address> accept|reject [--code N] [--text TEXT]
              [--bypass-receiving-control]
       listenerconfig edit <listener> rcptaccess delete <address>
       listenerconfig edit <listener> rcptaccess print
addresses: example.com, .example.com (subdomains), user@, user@example.com, ALL
--code: 2xx for accept, 4xx or 5xx for reject";

pub(super) fn run(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match sub.as_deref() {
        Some("print") if args.len() == 1 => {
            let cfg = ctx.store.working()?;
            let l = find(&cfg, listener)?;
            Ok(format!("{}:\n{}", l.name, render_rat(l))
                .trim_end()
                .to_string())
        }
        Some("new") => new_row(ctx, listener, &args[1..]),
        Some("delete") => delete_row(ctx, listener, &args[1..]),
        _ => Err(usage(USAGE)),
    }
}

fn public(l: &mut ListenerConfig) -> Result<&mut ListenerConfig, CliError> {
    match l.kind {
        ListenerKind::Public => Ok(l),
        ListenerKind::Private => Err(invalid(format!(
            "Listener {} is private: it has no Recipient Access Table (it relays only for sender groups whose policy is RELAY).",
            l.name
        ))),
    }
}

fn pattern(address: &str) -> Result<RatPattern, CliError> {
    RatPattern::parse(address).map_err(|e| {
        invalid(format!(
            "{e}: use example.com, .example.com, user@, user@example.com or ALL."
        ))
    })
}

fn position(l: &ListenerConfig, p: &RatPattern) -> Option<usize> {
    l.rat
        .iter()
        .position(|r| RatPattern::parse(&r.address).is_ok_and(|q| q == *p))
}

fn new_row(ctx: &CommandContext<'_>, listener: &str, args: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(
        args,
        &["code", "text"],
        &["bypass-receiving-control"],
        USAGE,
    )?;
    let [address, action] = opts.positional.as_slice() else {
        return Err(usage(USAGE));
    };
    let pat = pattern(address)?;
    let action = match action.to_ascii_lowercase().as_str() {
        "accept" => RatAction::Accept,
        "reject" => RatAction::Reject,
        _ => return Err(usage(USAGE)),
    };
    let code = match (opts.value("code"), action) {
        (None, _) => None,
        (Some(c), RatAction::Accept) => Some(number("--code for accept", c, 200u16, 299)?),
        (Some(c), RatAction::Reject) => Some(number("--code for reject", c, 400u16, 599)?),
    };
    let text = match opts.value("text") {
        Some(t) => {
            check_text("--text", t, 400)?;
            Some(t.trim().to_string()).filter(|t| !t.is_empty())
        }
        None => None,
    };
    let bypass = opts.flag("bypass-receiving-control");
    if bypass && action == RatAction::Reject {
        return Err(invalid(
            "--bypass-receiving-control applies to accept rows only.",
        ));
    }

    let mut cfg = ctx.store.working()?;
    let l = public(find_mut(&mut cfg, listener)?)?;
    if let Some(i) = position(l, &pat) {
        return Err(invalid(format!(
            "'{}' is already in the Recipient Access Table of {} (delete it first to change it).",
            l.rat[i].address, l.name
        )));
    }
    let at = match l.rat.last() {
        Some(r) if r.address.eq_ignore_ascii_case("ALL") => l.rat.len() - 1,
        _ => l.rat.len(),
    };
    let entry = RatEntry {
        address: address.trim().to_string(),
        action,
        code,
        text,
        bypass_receiving_control: bypass,
    };
    let message = format!(
        "Added {} to the Recipient Access Table of {}.",
        row(&entry),
        l.name
    );
    l.rat.insert(at, entry);
    stage(ctx, &cfg, &message)
}

fn delete_row(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let [address] = args else {
        return Err(usage(USAGE));
    };
    let pat = pattern(address)?;
    if pat == RatPattern::All {
        return Err(invalid(
            "The ALL row cannot be deleted; it stays last so that unknown recipients are visibly rejected.",
        ));
    }
    let mut cfg = ctx.store.working()?;
    let l = public(find_mut(&mut cfg, listener)?)?;
    let i = position(l, &pat).ok_or_else(|| {
        invalid(format!(
            "'{address}' is not in the Recipient Access Table of {}.",
            l.name
        ))
    })?;
    let removed = l.rat.remove(i);
    let message = format!(
        "Deleted {} from the Recipient Access Table of {}.",
        removed.address, l.name
    );
    stage(ctx, &cfg, &message)
}

/// `example.com ACCEPT 250 "text" (bypass receiving control)`
fn row(r: &RatEntry) -> String {
    let mut s = format!(
        "{} {}",
        r.address,
        match r.action {
            RatAction::Accept => "ACCEPT",
            RatAction::Reject => "REJECT",
        }
    );
    if let Some(code) = r.code {
        let _ = write!(s, " {code}");
    }
    if let Some(text) = &r.text {
        let _ = write!(s, " \"{text}\"");
    }
    if r.bypass_receiving_control {
        s.push_str(" (bypass receiving control)");
    }
    s
}

/// The RAT, one row a line, in matching order.
pub(super) fn render_rat(l: &ListenerConfig) -> String {
    if l.kind == ListenerKind::Private {
        return "  Recipient Access Table: none (private listener)\n".to_string();
    }
    let mut out =
        String::from("  Recipient Access Table (first match wins; no match is rejected):\n");
    let width = l.rat.iter().map(|r| r.address.len()).max().unwrap_or(0);
    for (i, r) in l.rat.iter().enumerate() {
        let rest = row(r);
        let rest = rest[r.address.len()..].trim_start();
        let _ = writeln!(out, "    {}. {:<width$}  {rest}", i + 1, r.address);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::{Config, RatAction};

    fn rat(c: &Config) -> Vec<(String, RatAction, Option<u16>, bool)> {
        c.listener("IncomingMail")
            .unwrap()
            .rat
            .iter()
            .map(|r| {
                (
                    r.address.clone(),
                    r.action,
                    r.code,
                    r.bypass_receiving_control,
                )
            })
            .collect()
    }

    #[test]
    fn new_rows_go_above_all_and_carry_their_options() {
        let f = Fixture::new();
        f.run("listenerconfig edit incomingmail rcptaccess new your_domain.com accept")
            .unwrap();
        f.run("listenerconfig edit IncomingMail rcptaccess new .sub.example accept --code 250 --text \"ok\" --bypass-receiving-control")
            .unwrap();
        f.run("listenerconfig edit IncomingMail rcptaccess new postmaster@ reject --code 550 --text \"No such user\"")
            .unwrap();
        let got = rat(&f.staged().unwrap());
        assert_eq!(
            got,
            [
                (
                    "your_domain.com".to_string(),
                    RatAction::Accept,
                    None,
                    false
                ),
                (
                    ".sub.example".to_string(),
                    RatAction::Accept,
                    Some(250),
                    true
                ),
                (
                    "postmaster@".to_string(),
                    RatAction::Reject,
                    Some(550),
                    false
                ),
                ("ALL".to_string(), RatAction::Reject, None, false),
            ]
        );
        let out = f
            .run("listenerconfig edit IncomingMail rcptaccess print")
            .unwrap();
        assert!(
            out.contains("2. .sub.example     ACCEPT 250 \"ok\" (bypass receiving control)"),
            "{out}"
        );
        f.run("listenerconfig edit IncomingMail rcptaccess delete YOUR_DOMAIN.COM")
            .unwrap();
        assert_eq!(rat(&f.staged().unwrap()).len(), 3);
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "listenerconfig edit OutgoingMail rcptaccess new example.com accept",
            "listenerconfig edit Nope rcptaccess new example.com accept",
            "listenerconfig edit IncomingMail rcptaccess new bad..domain accept",
            "listenerconfig edit IncomingMail rcptaccess new \"a b@example.com\" accept",
            "listenerconfig edit IncomingMail rcptaccess new example.com maybe",
            "listenerconfig edit IncomingMail rcptaccess new example.com",
            "listenerconfig edit IncomingMail rcptaccess new all reject",
            "listenerconfig edit IncomingMail rcptaccess new example.com accept --code 550",
            "listenerconfig edit IncomingMail rcptaccess new example.com reject --code 250",
            "listenerconfig edit IncomingMail rcptaccess new example.com reject --bypass-receiving-control",
            "listenerconfig edit IncomingMail rcptaccess new example.com reject --text \"a\nb\"",
            "listenerconfig edit IncomingMail rcptaccess delete ALL",
            "listenerconfig edit IncomingMail rcptaccess delete example.com",
            "listenerconfig edit IncomingMail rcptaccess frob",
        ]);
        f.run("listenerconfig edit IncomingMail rcptaccess new example.com accept")
            .unwrap();
        let before = f.staged();
        assert!(
            f.run("listenerconfig edit IncomingMail rcptaccess new EXAMPLE.com reject")
                .is_err()
        );
        assert_eq!(f.staged(), before);
    }
}
