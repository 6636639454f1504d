//! `listenerconfig edit <listener> rcptaccess ...`: the Recipient Access
//! Table of a public listener.
//!
//! First match wins and no match is rejected. AsyncOS keeps the `ALL` row
//! last, so new rows go in just above it, and the `ALL` row cannot be
//! deleted: without it a public listener still rejects unknown recipients,
//! but an administrator reading the table should see that said.

use std::fmt::Write as _;

use super::args::find_mut;
use super::args::{Opts, check_text, invalid, number, parse_opts, stage, usage};
use super::listener_table::{self, ListenerTable, Said};
use super::{CliError, CommandContext};
use crate::config::{ListenerConfig, ListenerKind, RatAction, RatEntry};
use crate::smtp_in::rat::RatPattern;
use crate::table::{Pinned, Table, TableRow};

const USAGE: &str = "\
usage: listenerconfig edit <listener> rcptaccess new <address> accept|reject [--code N] [--text TEXT]
              [--bypass-receiving-control]
       listenerconfig edit <listener> rcptaccess delete <address>
       listenerconfig edit <listener> rcptaccess move <address> <position>
       listenerconfig edit <listener> rcptaccess default accept|reject [--code N] [--text TEXT]
              (the ALL row's action)
       listenerconfig edit <listener> rcptaccess clear        (every row but ALL)
       listenerconfig edit <listener> rcptaccess export
       listenerconfig edit <listener> rcptaccess import <LINE>...   (replaces the table)
       listenerconfig edit <listener> rcptaccess print
addresses: example.com, .example.com (subdomains), user@, user@example.com, ALL
--code: 2xx for accept, 4xx or 5xx for reject
import/export lines: `address ACCEPT|REJECT [CODE] [\"TEXT\"] [BYPASS_RC]`, `ALL` last";

pub(super) fn run(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    if let Some(done) = listener_table::run::<Rat>(ctx, listener, args) {
        return done;
    }
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match sub.as_deref() {
        Some("new") => new_row(ctx, listener, &args[1..]),
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

fn is_all(r: &RatEntry) -> bool {
    r.address.eq_ignore_ascii_case("ALL")
}

impl TableRow for RatEntry {
    fn key(&self) -> &str {
        &self.address
    }

    /// Addresses are compared as patterns (`Example.COM` is `example.com`).
    fn is_named(&self, name: &str) -> bool {
        match (RatPattern::parse(name), RatPattern::parse(&self.address)) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.address.eq_ignore_ascii_case(name.trim()),
        }
    }
}

/// The Recipient Access Table of a public listener: ALL last.
struct Rat;

impl ListenerTable for Rat {
    type Row = RatEntry;
    fn said(listener: &str, what: Said<'_>) -> String {
        match what {
            Said::Deleted(address) => {
                format!("Deleted {address} from the Recipient Access Table of {listener}.")
            }
            Said::Moved(address, n) => format!("{address} moved to position {n} on {listener}."),
            Said::Cleared(n) => format!(
                "Removed {n} row(s) from the Recipient Access Table of {listener}; ALL remains."
            ),
            Said::OnlyPinned => {
                format!("The Recipient Access Table of {listener} holds only the ALL row.")
            }
        }
    }
    fn default_message(listener: &str, row: &RatEntry) -> String {
        format!(
            "The default (ALL) row of {listener} is now {}.",
            self::row(row)
        )
    }
    const TITLE: &'static str = "Recipient Access Table";
    const ROWS: &'static str = "row(s)";
    const KEYWORD: Option<&'static str> = None;
    const USAGE: &'static str = USAGE;

    fn rows(l: &mut ListenerConfig) -> Result<&mut Vec<RatEntry>, CliError> {
        Ok(&mut public(l)?.rat)
    }

    fn table(l: &ListenerConfig) -> Table<RatEntry> {
        Table {
            pinned: Some(Pinned {
                is: is_all,
                named: |n| RatPattern::parse(n).is_ok_and(|p| p == RatPattern::All),
                last: true,
                what: "the ALL row",
                why_kept: "it stays last so that unknown recipients are visibly rejected",
            }),
            duplicate_hint: "; delete it first to change it",
            twice: "this address",
            ..Table::new(
                "row '{}'",
                format!(" in the Recipient Access Table of {}", l.name),
            )
        }
    }

    fn parse_line(_: &ListenerConfig, line: &str) -> Result<RatEntry, CliError> {
        parse_line(line)
    }

    fn export_line(r: &RatEntry) -> String {
        row_text(r)
    }

    /// `default accept|reject [--code N] [--text TEXT] ...`: the ALL row.
    fn default_row(_: &ListenerConfig, args: &[String]) -> Result<RatEntry, CliError> {
        let opts = parse_opts(args, VALUED, FLAGS, USAGE)?;
        let [action] = opts.positional.as_slice() else {
            return Err(usage(USAGE));
        };
        entry("ALL", action, &opts)
    }

    fn print(_cfg: &crate::config::Config, l: &ListenerConfig) -> String {
        render_rat(l)
    }

    fn export_header(l: &ListenerConfig) -> String {
        format!(
            "# Recipient Access Table of {} (first match wins; no match is rejected)\n",
            l.name
        )
    }
}

const VALUED: &[&str] = &["code", "text"];
const FLAGS: &[&str] = &["bypass-receiving-control"];

/// A row from its address, `accept|reject` and the options
/// `[--code N] [--text TEXT] [--bypass-receiving-control]`, checked.
fn entry(address: &str, action: &str, opts: &Opts) -> Result<RatEntry, CliError> {
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
    Ok(RatEntry {
        address: address.trim().into(),
        action,
        code,
        text: text.map(Into::into),
        bypass_receiving_control: bypass,
    })
}

fn new_row(ctx: &CommandContext<'_>, listener: &str, args: &[String]) -> Result<String, CliError> {
    let opts = parse_opts(args, VALUED, FLAGS, USAGE)?;
    let [address, action] = opts.positional.as_slice() else {
        return Err(usage(USAGE));
    };
    pattern(address)?;
    let entry = entry(address, action, &opts)?;
    let mut cfg = ctx.store.working()?;
    let l = public(find_mut(&mut cfg, listener)?)?;
    let message = format!(
        "Added {} to the Recipient Access Table of {}.",
        row(&entry),
        l.name
    );
    Rat::table(l).add(&mut l.rat, entry, None)?;
    stage(ctx, &cfg, &message)
}

/// A row as `import` reads it (the text is quoted with `"` and `\`
/// escaped, so any accepted text survives the round trip).
fn row_text(r: &RatEntry) -> String {
    let text = r
        .text
        .as_ref()
        .map(|t| t.replace('\\', "\\\\").replace('"', "\\\""));
    words(r, text, " BYPASS_RC")
}

/// `example.com ACCEPT 250 "text" (bypass receiving control)`
fn row(r: &RatEntry) -> String {
    words(
        r,
        r.text.as_ref().map(ToString::to_string),
        " (bypass receiving control)",
    )
}

fn words(r: &RatEntry, text: Option<String>, bypass: &str) -> String {
    let action = match r.action {
        RatAction::Accept => "ACCEPT",
        RatAction::Reject => "REJECT",
    };
    let mut s = format!("{} {action}", r.address);
    if let Some(code) = r.code {
        let _ = write!(s, " {code}");
    }
    if let Some(text) = text {
        let _ = write!(s, " \"{text}\"");
    }
    if r.bypass_receiving_control {
        s.push_str(bypass);
    }
    s
}

/// Splits an exported line into words; `"..."` is one word, with `\"`
/// and `\\` inside it.
fn line_words(line: &str) -> Option<Vec<(String, bool)>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => w.push(chars.next()?),
                    c => w.push(c),
                }
            }
            words.push((w, true));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            words.push((w, false));
        }
    }
    Some(words)
}

/// One exported line as a checked row.
fn parse_line(line: &str) -> Result<RatEntry, CliError> {
    let words = line_words(line).ok_or_else(|| invalid("unterminated quoted text"))?;
    let Some(((address, false), rest)) = words.split_first() else {
        return Err(invalid("expected an address first"));
    };
    pattern(address)?;
    let mut args = Vec::new();
    for (i, (w, quoted)) in rest.iter().enumerate() {
        match (i, quoted) {
            (_, true) => args.extend(["--text".to_string(), w.clone()]),
            (0, false) => args.push(w.clone()),
            (_, false) if w.eq_ignore_ascii_case("BYPASS_RC") => {
                args.push("--bypass-receiving-control".into())
            }
            (_, false) if w.bytes().all(|b| b.is_ascii_digit()) => {
                args.extend(["--code".to_string(), w.clone()])
            }
            _ => return Err(invalid(format!("unexpected '{w}'"))),
        }
    }
    let opts = parse_opts(&args, VALUED, FLAGS, USAGE)?;
    let [action] = opts.positional.as_slice() else {
        return Err(invalid("expected ACCEPT or REJECT after the address"));
    };
    entry(address, action, &opts).map_err(|e| match e {
        CliError::Usage(_) => invalid("expected ACCEPT or REJECT after the address"),
        e => e,
    })
}

/// The RAT, one row a line, in matching order.
pub(super) fn render_rat(l: &ListenerConfig) -> String {
    if l.kind == ListenerKind::Private {
        return "  Recipient Access Table: none (private listener)\n".to_string();
    }
    let rows = Rat::table(l).print(&l.rat, "    ", |r| {
        let rest = row(r);
        let rest = rest[r.address.len()..].trim_start().to_string();
        vec![r.address.to_string(), rest]
    });
    format!("  Recipient Access Table (first match wins; no match is rejected):\n{rows}")
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
                    r.address.to_string(),
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
    fn exported_text_with_quotes_and_backslashes_reads_back() {
        let row = super::RatEntry {
            address: "user@example.com".into(),
            action: RatAction::Reject,
            code: Some(550),
            text: Some(r#"say "no" \ twice"#.into()),
            bypass_receiving_control: false,
        };
        let line = super::row_text(&row);
        assert_eq!(line, r#"user@example.com REJECT 550 "say \"no\" \\ twice""#);
        assert_eq!(super::parse_line(&line).unwrap(), row);
    }

    #[test]
    fn move_default_clear_and_an_export_that_imports_back() {
        let f = Fixture::new();
        for line in [
            "listenerconfig edit IncomingMail rcptaccess new a.example accept",
            "listenerconfig edit IncomingMail rcptaccess new b.example reject --code 550 --text \"No \\b\\ here\"",
            "listenerconfig edit IncomingMail rcptaccess new c@ accept --code 250 --bypass-receiving-control",
            "listenerconfig edit IncomingMail rcptaccess move c@ 1",
            "listenerconfig edit IncomingMail rcptaccess default accept --code 250 --text \"ok\"",
        ] {
            f.run(line).unwrap();
        }
        let got: Vec<String> = rat(&f.working()).into_iter().map(|r| r.0).collect();
        assert_eq!(got, ["c@", "a.example", "b.example", "ALL"]);
        let exported = f
            .run("listenerconfig edit IncomingMail rcptaccess export")
            .unwrap();
        assert!(
            exported.contains("\nb.example REJECT 550 \"No \\\\b\\\\ here\"\n")
                && exported.contains("\nc@ ACCEPT 250 BYPASS_RC\n")
                && exported.ends_with("\nALL ACCEPT 250 \"ok\"\n"),
            "{exported}"
        );
        let before = f.working().listener("IncomingMail").unwrap().rat.clone();
        f.run("listenerconfig edit IncomingMail rcptaccess clear")
            .unwrap();
        assert_eq!(rat(&f.working()).len(), 1);
        f.run_args(&[
            "listenerconfig".into(),
            "edit".into(),
            "IncomingMail".into(),
            "rcptaccess".into(),
            "import".into(),
            exported,
        ])
        .unwrap();
        assert_eq!(f.working().listener("IncomingMail").unwrap().rat, before);
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "listenerconfig edit IncomingMail rcptaccess move ALL 1",
            "listenerconfig edit IncomingMail rcptaccess move nowhere.example 1",
            "listenerconfig edit IncomingMail rcptaccess default maybe",
            "listenerconfig edit IncomingMail rcptaccess default reject --code 250",
            "listenerconfig edit OutgoingMail rcptaccess default reject",
            "listenerconfig edit IncomingMail rcptaccess clear",
            "listenerconfig edit IncomingMail rcptaccess import \"example.com MAYBE\"",
            "listenerconfig edit IncomingMail rcptaccess import \"example.com ACCEPT 550\"",
            "listenerconfig edit IncomingMail rcptaccess import \"example.com ACCEPT \\\"open\"",
            "listenerconfig edit IncomingMail rcptaccess import \"a.com ACCEPT\" \"A.com REJECT\"",
            "listenerconfig edit IncomingMail rcptaccess import \"ALL REJECT\" \"a.com ACCEPT\"",
            "listenerconfig edit IncomingMail rcptaccess import \"bad..domain ACCEPT\"",
            "listenerconfig edit OutgoingMail rcptaccess import \"a.com ACCEPT\"",
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
