//! What a listener's two tables — the Host Access Table (`hostaccess`)
//! and the Recipient Access Table (`rcptaccess`) — share on top of the
//! table engine (`control::table`): the verbs that only reorder or replace
//! rows (delete, move, clear, import, export) and their messages. Each
//! table's own file keeps its rows' fields and parsing and its own verbs
//! (new, edit, default).

use super::args::{find, find_mut};
use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::{Config, ListenerConfig};
use crate::table::{Table, TableRow};

/// One of a listener's tables.
pub(super) trait ListenerTable {
    type Row: TableRow + Clone;
    /// "Host Access Table".
    const TITLE: &'static str;
    /// The rows counted in messages: "sender group(s)".
    const ROWS: &'static str;
    /// The word before a row's name in the commands (`sendergroup`).
    const KEYWORD: Option<&'static str>;
    const USAGE: &'static str;

    /// The rows of `l`; refused where the listener has no such table.
    fn rows(l: &mut ListenerConfig) -> Result<&mut Vec<Self::Row>, CliError>;
    /// The engine's view of `l`'s table (names, pinned ALL row).
    fn table(l: &ListenerConfig) -> Table<Self::Row>;
    /// One exported line, read back and checked.
    fn parse_line(l: &ListenerConfig, line: &str) -> Result<Self::Row, CliError>;
    /// One row as `import` reads it.
    fn export_line(row: &Self::Row) -> String;
    /// The comment line heading an export.
    fn export_header(l: &ListenerConfig) -> String;
    /// The ALL row that `default <args>` asks for.
    fn default_row(l: &ListenerConfig, args: &[String]) -> Result<Self::Row, CliError>;
    /// What `default` answers (each table keeps its own words).
    fn default_message(listener: &str, row: &Self::Row) -> String;
    /// What `delete`, `move` and `clear` answer, in the table's own words
    /// (the texts administrators and scripts already read).
    fn said(listener: &str, what: Said<'_>) -> String;
    /// What `print` shows under the listener's name (`cfg` holds what
    /// lives beside the listener, such as the sender group comments).
    fn print(cfg: &Config, l: &ListenerConfig) -> String;
    /// Brings what lives beside the table in step after rows were
    /// deleted or replaced (the sender group comments); nothing by default.
    fn tidy(_cfg: &mut Config) {}
}

/// Runs the verbs every listener table has; `None` when `args` is none of
/// them (the table's own file answers it).
/// A change `said` words for.
pub(super) enum Said<'a> {
    Deleted(&'a str),
    Moved(&'a str, usize),
    Cleared(usize),
    OnlyPinned,
}

pub(super) fn run<T: ListenerTable>(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Option<Result<String, CliError>> {
    let sub = args.first()?.to_ascii_lowercase();
    let rest = &args[1..];
    let result = match (sub.as_str(), rest) {
        ("delete", _) => match selector::<T>(rest) {
            Ok((row, [])) => change::<T>(ctx, listener, |t, rows, name| {
                let removed = t.delete(rows, row)?;
                Ok(T::said(&name, Said::Deleted(removed.key())))
            }),
            _ => Err(usage(T::USAGE)),
        },
        ("move", _) => match selector::<T>(rest) {
            Ok((row, [to])) => change::<T>(ctx, listener, |t, rows, name| {
                let to = t.move_to(rows, row, to)?;
                Ok(T::said(&name, Said::Moved(rows[to].key(), to + 1)))
            }),
            _ => Err(usage(T::USAGE)),
        },
        ("clear", []) => change::<T>(ctx, listener, |t, rows, name| match t.clear(rows) {
            0 => Err(invalid(T::said(&name, Said::OnlyPinned))),
            n => Ok(T::said(&name, Said::Cleared(n))),
        }),
        ("default", _) => default::<T>(ctx, listener, rest),
        ("print", []) => print::<T>(ctx, listener),
        ("export", []) => export::<T>(ctx, listener),
        ("import", [_, ..]) => import::<T>(ctx, listener, rest),
        _ => return None,
    };
    Some(result)
}

/// `[KEYWORD] <row> rest...` → the row as typed, the rest.
pub(super) fn selector<T: ListenerTable>(args: &[String]) -> Result<(&str, &[String]), CliError> {
    match (T::KEYWORD, args) {
        (Some(k), [kw, row, rest @ ..]) if kw.eq_ignore_ascii_case(k) => Ok((row.as_str(), rest)),
        (None, [row, rest @ ..]) => Ok((row.as_str(), rest)),
        _ => Err(usage(T::USAGE)),
    }
}

/// Applies `f` to the working configuration's table of `listener` and
/// stages the result; `f` gets the table, its rows and "the <TITLE> of
/// <listener>", and returns the message.
fn change<T: ListenerTable>(
    ctx: &CommandContext<'_>,
    listener: &str,
    f: impl FnOnce(&Table<T::Row>, &mut Vec<T::Row>, String) -> Result<String, CliError>,
) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let table = T::table(l);
    let name = l.name.clone();
    let message = f(&table, T::rows(l)?, name)?;
    T::tidy(&mut cfg);
    stage(ctx, &cfg, &message)
}

/// `default ...`: the ALL row, replaced (or added last).
fn default<T: ListenerTable>(
    ctx: &CommandContext<'_>,
    listener: &str,
    args: &[String],
) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let row = T::default_row(l, args)?;
    let table = T::table(l);
    let message = T::default_message(&l.name, &row);
    table.set_pinned(T::rows(l)?, row);
    stage(ctx, &cfg, &message)
}

/// `print`: the table under the listener's name.
fn print<T: ListenerTable>(ctx: &CommandContext<'_>, listener: &str) -> Result<String, CliError> {
    let cfg = ctx.store.working()?;
    let l = find(&cfg, listener)?;
    Ok(format!("{}:\n{}", l.name, T::print(&cfg, l))
        .trim_end()
        .to_string())
}

/// The table as `import` reads it, one row a line, in matching order.
fn export<T: ListenerTable>(ctx: &CommandContext<'_>, listener: &str) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let mut out = T::export_header(l);
    for row in T::rows(l)?.iter() {
        out.push_str(&T::export_line(row));
        out.push('\n');
    }
    Ok(out)
}

/// `import <LINE>...`: replaces the table. Each argument holds one or more
/// lines (the console passes a pasted table as one); every line is
/// checked before anything changes, and without an ALL line the current
/// ALL row is kept last.
fn import<T: ListenerTable>(
    ctx: &CommandContext<'_>,
    listener: &str,
    lines: &[String],
) -> Result<String, CliError> {
    let mut cfg = ctx.store.working()?;
    let l = find_mut(&mut cfg, listener)?;
    let current = T::rows(l)?.clone();
    let rows = T::table(l).import(&current, &lines.join("\n"), |line| T::parse_line(l, line))?;
    let message = format!(
        "Imported {} {} into the {} of {}.",
        rows.len(),
        T::ROWS,
        T::TITLE,
        l.name
    );
    *T::rows(l)? = rows;
    T::tidy(&mut cfg);
    stage(ctx, &cfg, &message)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::Config;

    fn hat(c: &Config) -> Vec<String> {
        let l = c.listener("IncomingMail").unwrap();
        l.hat.iter().map(|g| g.name.clone()).collect()
    }

    #[test]
    fn rows_are_taken_by_their_printed_number_too() {
        let f = Fixture::new();
        let print = f
            .run("listenerconfig edit IncomingMail hostaccess print")
            .unwrap();
        assert!(print.contains("    4. UNKNOWNLIST"), "{print}");
        f.run("listenerconfig edit IncomingMail hostaccess move sendergroup 4 1")
            .unwrap();
        f.run("listenerconfig edit IncomingMail hostaccess delete sendergroup 2")
            .unwrap();
        assert_eq!(
            hat(&f.working()),
            ["UNKNOWNLIST", "BLOCKED_LIST", "SUSPECTLIST", "ALL"]
        );
        // The ALL row by its number is still the ALL row.
        let err = f
            .run("listenerconfig edit IncomingMail hostaccess delete sendergroup 4")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("The ALL sender group cannot be deleted"),
            "{err}"
        );
        for row in ["a.example", "b.example"] {
            f.run(&format!(
                "listenerconfig edit IncomingMail rcptaccess new {row} accept"
            ))
            .unwrap();
        }
        f.run("listenerconfig edit IncomingMail rcptaccess move 2 1")
            .unwrap();
        let rat = f
            .run("listenerconfig edit IncomingMail rcptaccess print")
            .unwrap();
        assert!(
            rat.contains("    1. b.example  ACCEPT\n    2. a.example  ACCEPT\n    3. ALL"),
            "{rat}"
        );
    }

    #[test]
    fn default_replaces_the_all_row_and_says_so() {
        let f = Fixture::new();
        let out = f
            .run("listenerconfig edit IncomingMail hostaccess default $throttled")
            .unwrap();
        assert!(
            out.starts_with("The ALL sender group of IncomingMail now uses policy $THROTTLED."),
            "{out}"
        );
        let out = f
            .run("listenerconfig edit IncomingMail rcptaccess default reject --code 550 --text \"no\"")
            .unwrap();
        assert!(
            out.starts_with("The default (ALL) row of IncomingMail is now ALL REJECT 550 \"no\"."),
            "{out}"
        );
        let c = f.working();
        let l = c.listener("IncomingMail").unwrap();
        assert_eq!(l.hat.last().unwrap().policy, "THROTTLED");
        assert_eq!(l.rat.last().unwrap().code, Some(550));
        assert_eq!(hat(&c).len(), 5, "replaced, not added");
    }
}
