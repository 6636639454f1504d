//! The ordered tables the commands and menus edit — sender groups (HAT),
//! Recipient Access Table rows, SMTP routes, destination controls, mail
//! policies, mail flow policies, bounce profiles, quarantines and message
//! filters — share one engine: select a row by name or by its AsyncOS
//! order number, add (above a pinned last row such as `ALL`), edit,
//! delete, move, and print numbered from 1.
//!
//! The engine is pure (no store, no I/O): the commands fetch the working
//! configuration, call it on the table's `Vec`, and stage the result, so the
//! same rules and the same error texts hold for every table and every
//! caller (commands, console, the future API).

use std::fmt::Write as _;

/// A row of an ordered table.
pub trait TableRow {
    /// The name the row is shown and selected by (`RELAYLIST`,
    /// `example.com`, `office365_outbound`).
    fn key(&self) -> &str;

    /// Whether the typed `name` selects this row. Case-insensitive by
    /// default; tables whose keys are patterns compare the parsed pattern.
    fn is_named(&self, name: &str) -> bool {
        self.key().eq_ignore_ascii_case(name.trim())
    }
}

/// A row that can be neither deleted nor moved: AsyncOS's `ALL` sender
/// group and `ALL` RAT row (which also stay last), the `DEFAULT` mail
/// policy, the `Default` bounce profile.
pub struct Pinned<R> {
    /// Whether `row` is the pinned one.
    pub is: fn(&R) -> bool,
    /// Whether a typed name means the pinned row even when the table has
    /// none (so `delete ALL` says why instead of "there is none").
    pub named: fn(&str) -> bool,
    /// Whether the row stays last: new rows go in above it.
    pub last: bool,
    /// The pinned row in messages: "the ALL sender group".
    pub what: &'static str,
    /// Why it cannot be deleted: "it always stays last; change its policy
    /// instead".
    pub why_kept: &'static str,
}

/// How a table is named in its messages, and its rules.
pub struct Table<R> {
    /// A row in messages, `{}` standing for its name: "sender group {}",
    /// "route for {}", "filter named '{}'".
    pub named: &'static str,
    /// Where the rows are, appended to messages: " on listener
    /// IncomingMail", or empty.
    pub place: String,
    /// The last row that stays last, if the table has one.
    pub pinned: Option<Pinned<R>>,
    /// Said after a duplicate name: `; use "smtproutes edit" to change it`.
    pub duplicate_hint: &'static str,
    /// The plural listed after an unknown name ("Policies"), if the known
    /// names help the reader.
    pub list_known: Option<&'static str>,
    /// The rows in an import's messages: "sender groups".
    pub plural: &'static str,
    /// A row named twice in an import, when the table says it its own way
    /// ("this address"); empty: the row's name (`named`).
    pub twice: &'static str,
}

/// Why a table operation was refused. The texts are the CLI's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// No row has that name (and it is not an order number in range).
    #[error("There is no {what}{place}.{known}")]
    Unknown {
        what: String,
        place: String,
        known: String,
    },
    /// A row with that name exists already.
    #[error("There is already a {what}{place}{hint}.")]
    Duplicate {
        what: String,
        place: String,
        hint: &'static str,
    },
    /// An order number that is not a whole number.
    #[error("Invalid value for the position: '{0}' (expected a whole number).")]
    NotANumber(String),
    /// An order number outside `1..=max`.
    #[error("the position must be between 1 and {max}.")]
    OutOfRange { max: usize },
    /// The pinned row cannot be deleted or moved.
    #[error("{} cannot be {verb}: {why}.", capitalized(what))]
    Protected {
        what: &'static str,
        verb: &'static str,
        why: &'static str,
    },
    /// A line of an imported table that cannot be taken.
    #[error("Line {number}: {why} ({text})")]
    Line {
        number: usize,
        text: String,
        why: String,
    },
    /// An imported table without rows.
    #[error("The imported table has no {0}.")]
    Empty(&'static str),
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl<R: TableRow> Table<R> {
    /// A table without a pinned row, hint or name list.
    pub fn new(named: &'static str, place: impl Into<String>) -> Self {
        Table {
            named,
            place: place.into(),
            pinned: None,
            duplicate_hint: "",
            list_known: None,
            plural: "rows",
            twice: "",
        }
    }

    /// A row named `name` in messages: "sender group 'X'".
    pub fn what(&self, name: &str) -> String {
        self.named.replace("{}", name)
    }

    fn is_pinned(&self, row: &R) -> bool {
        self.pinned.as_ref().is_some_and(|p| (p.is)(row))
    }

    fn is_pinned_last(&self, row: &R) -> bool {
        self.pinned.as_ref().is_some_and(|p| p.last && (p.is)(row))
    }

    /// How many rows may be reordered: all but a pinned last row.
    fn movable(&self, rows: &[R]) -> usize {
        rows.len() - usize::from(rows.last().is_some_and(|r| self.is_pinned_last(r)))
    }

    /// The unknown-name error for `name`.
    pub fn unknown(&self, rows: &[R], name: &str) -> TableError {
        let known = match self.list_known {
            Some(plural) => {
                let names: Vec<&str> = rows.iter().map(TableRow::key).collect();
                format!(" {plural}: {}.", names.join(", "))
            }
            None => String::new(),
        };
        TableError::Unknown {
            what: self.what(name),
            place: self.place.clone(),
            known,
        }
    }

    /// The index of the row `selector` names: a name first (so a row named
    /// `2` stays reachable by its name), else a 1-based order number.
    pub fn find(&self, rows: &[R], selector: &str) -> Result<usize, TableError> {
        self.position(rows, selector)
            .ok_or_else(|| self.unknown(rows, selector))
    }

    /// [`Table::find`] without the error.
    pub fn position(&self, rows: &[R], selector: &str) -> Option<usize> {
        rows.iter().position(|r| r.is_named(selector)).or_else(|| {
            let n: usize = selector.trim().parse().ok()?;
            (1..=rows.len()).contains(&n).then(|| n - 1)
        })
    }

    /// The row `selector` names.
    pub fn get<'r>(&self, rows: &'r [R], selector: &str) -> Result<&'r R, TableError> {
        self.find(rows, selector).map(|i| &rows[i])
    }

    /// The row `selector` names, to edit in place.
    pub fn get_mut<'r>(&self, rows: &'r mut [R], selector: &str) -> Result<&'r mut R, TableError> {
        let i = self.find(rows, selector)?;
        Ok(&mut rows[i])
    }

    /// Refuses `name` if a row has it already.
    fn check_new(&self, rows: &[R], name: &str) -> Result<(), TableError> {
        match rows.iter().find(|r| r.is_named(name)) {
            Some(r) => Err(TableError::Duplicate {
                what: self.what(r.key()),
                place: self.place.clone(),
                hint: self.duplicate_hint,
            }),
            None => Ok(()),
        }
    }

    /// Adds `row` at order number `at` (1-based; `None`: last, but above a
    /// pinned row). Returns the row's order number.
    pub fn add(&self, rows: &mut Vec<R>, row: R, at: Option<usize>) -> Result<usize, TableError> {
        self.check_new(rows, row.key())?;
        let last = self.movable(rows) + 1;
        let order = match at {
            Some(n) if n == 0 || n > last => return Err(TableError::OutOfRange { max: last }),
            Some(n) => n,
            None => last,
        };
        rows.insert(order - 1, row);
        Ok(order)
    }

    fn protect(&self, rows: &[R], selector: &str, verb: &'static str) -> Result<(), TableError> {
        let Some(p) = &self.pinned else {
            return Ok(());
        };
        let hit = (p.named)(selector)
            || self
                .position(rows, selector)
                .is_some_and(|i| (p.is)(&rows[i]));
        if hit {
            return Err(TableError::Protected {
                what: p.what,
                verb,
                why: if verb == "moved" && p.last {
                    "it always stays last"
                } else {
                    p.why_kept
                },
            });
        }
        Ok(())
    }

    /// Removes the row `selector` names and returns it.
    pub fn delete(&self, rows: &mut Vec<R>, selector: &str) -> Result<R, TableError> {
        self.protect(rows, selector, "deleted")?;
        let i = self.find(rows, selector)?;
        Ok(rows.remove(i))
    }

    /// Moves the row `selector` names to order number `to` (as typed).
    /// Returns the moved row's index.
    pub fn move_to(&self, rows: &mut [R], selector: &str, to: &str) -> Result<usize, TableError> {
        self.protect(rows, selector, "moved")?;
        let from = self.find(rows, selector)?;
        let to = order(to, self.movable(rows))? - 1;
        if from < to {
            rows[from..=to].rotate_left(1);
        } else {
            rows[to..=from].rotate_right(1);
        }
        Ok(to)
    }

    /// Puts `row` in place of the pinned row (AsyncOS's `default`), or
    /// last if the table has none.
    pub fn set_pinned(&self, rows: &mut Vec<R>, row: R) {
        match rows.iter_mut().find(|r| self.is_pinned(r)) {
            Some(r) => *r = row,
            None => rows.push(row),
        }
    }

    /// Every row but a pinned one is removed; returns how many went.
    pub fn clear(&self, rows: &mut Vec<R>) -> usize {
        let before = rows.len();
        rows.retain(|r| self.is_pinned(r));
        before - rows.len()
    }

    /// The rows of an imported table, one a line (`#` comments and blank
    /// lines skipped), each read by `parse`; checked as a whole before
    /// anything changes. Without a pinned last row, `current`'s is kept.
    pub fn import<E: std::fmt::Display>(
        &self,
        current: &[R],
        text: &str,
        mut parse: impl FnMut(&str) -> Result<R, E>,
    ) -> Result<Vec<R>, TableError>
    where
        R: Clone,
    {
        let mut new: Vec<R> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| TableError::Line {
                number: n + 1,
                text: line.to_string(),
                why,
            };
            if let (Some(p), Some(last)) = (&self.pinned, new.last())
                && self.is_pinned_last(last)
            {
                return Err(at(format!("nothing may follow {}", p.what)));
            }
            let row = parse(line).map_err(|e| at(e.to_string()))?;
            if new.iter().any(|r| r.is_named(row.key())) {
                let what = match self.twice {
                    "" => self.what(row.key()),
                    own => own.to_string(),
                };
                return Err(at(format!("{what} is listed twice")));
            }
            new.push(row);
        }
        if new.is_empty() {
            return Err(TableError::Empty(self.plural));
        }
        if !new.last().is_some_and(|r| self.is_pinned_last(r))
            && let Some(pinned) = current.iter().find(|r| self.is_pinned_last(r))
        {
            new.push(pinned.clone());
        }
        Ok(new)
    }

    /// The rows, one a line, numbered from 1 as AsyncOS prints them:
    /// `{indent}N. ` then the columns, each but the last padded to the
    /// widest value and joined by two spaces.
    pub fn print(&self, rows: &[R], indent: &str, columns: impl Fn(&R) -> Vec<String>) -> String {
        let cells: Vec<Vec<String>> = rows.iter().map(columns).collect();
        let count = cells.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..count)
            .map(|c| {
                cells
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(String::len)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (i, row) in cells.iter().enumerate() {
            let _ = write!(out, "{indent}{}. ", i + 1);
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// An order number as typed, within `1..=max`.
fn order(text: &str, max: usize) -> Result<usize, TableError> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| TableError::NotANumber(text.to_string()))?;
    if n == 0 || n > max {
        return Err(TableError::OutOfRange { max });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Row(String);

    impl TableRow for Row {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn rows(names: &[&str]) -> Vec<Row> {
        names.iter().map(|n| Row(n.to_string())).collect()
    }

    fn keys(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|r| r.0.as_str()).collect()
    }

    fn hat() -> Table<Row> {
        Table {
            pinned: Some(Pinned {
                is: |r: &Row| r.0 == "ALL",
                named: |n| n.eq_ignore_ascii_case("ALL"),
                last: true,
                what: "the ALL sender group",
                why_kept: "it always stays last (change its policy instead)",
            }),
            plural: "sender groups",
            ..Table::new("sender group {}", " on listener IncomingMail")
        }
    }

    #[test]
    fn selectors_take_a_name_first_then_an_order_number() {
        let t = Table::<Row>::new("filter named '{}'", "");
        let r = rows(&["a", "2", "c"]);
        assert_eq!(t.find(&r, "C"), Ok(2));
        assert_eq!(t.find(&r, "2"), Ok(1), "the row named 2, not the second");
        assert_eq!(t.find(&r, "3"), Ok(2));
        assert_eq!(
            t.find(&r, "4").unwrap_err().to_string(),
            "There is no filter named '4'."
        );
    }

    #[test]
    fn new_rows_go_above_the_pinned_row_and_names_are_unique() {
        let t = hat();
        let mut r = rows(&["A", "ALL"]);
        assert_eq!(t.add(&mut r, Row("B".into()), None), Ok(2));
        assert_eq!(t.add(&mut r, Row("C".into()), Some(1)), Ok(1));
        assert_eq!(keys(&r), ["C", "A", "B", "ALL"]);
        assert_eq!(
            t.add(&mut r, Row("c".into()), None)
                .unwrap_err()
                .to_string(),
            "There is already a sender group C on listener IncomingMail."
        );
        assert_eq!(
            t.add(&mut r, Row("D".into()), Some(5)),
            Err(TableError::OutOfRange { max: 4 })
        );
    }

    #[test]
    fn the_pinned_row_is_neither_deleted_nor_moved() {
        let t = hat();
        let mut r = rows(&["A", "B", "ALL"]);
        assert_eq!(
            t.delete(&mut r, "all").unwrap_err().to_string(),
            "The ALL sender group cannot be deleted: it always stays last (change its policy instead)."
        );
        assert!(t.delete(&mut r, "3").is_err(), "by number too");
        assert_eq!(
            t.move_to(&mut r, "ALL", "1").unwrap_err().to_string(),
            "The ALL sender group cannot be moved: it always stays last."
        );
        assert_eq!(
            t.move_to(&mut r, "A", "3"),
            Err(TableError::OutOfRange { max: 2 })
        );
        assert_eq!(
            t.move_to(&mut r, "A", "x").unwrap_err().to_string(),
            "Invalid value for the position: 'x' (expected a whole number)."
        );
        assert_eq!(t.move_to(&mut r, "A", "2"), Ok(1));
        assert_eq!(keys(&r), ["B", "A", "ALL"]);
        assert_eq!(t.clear(&mut r), 2);
        assert_eq!(keys(&r), ["ALL"]);
        t.set_pinned(&mut r, Row("ALL".into()));
        assert_eq!(keys(&r), ["ALL"]);
        let mut none = rows(&["A"]);
        t.set_pinned(&mut none, Row("ALL".into()));
        assert_eq!(keys(&none), ["A", "ALL"]);
        // Without an ALL row, `delete ALL` still says why.
        assert!(matches!(
            t.delete(&mut rows(&["A"]), "ALL"),
            Err(TableError::Protected { .. })
        ));
    }

    #[test]
    fn an_import_is_checked_whole_and_keeps_the_pinned_row() {
        let t = hat();
        let current = rows(&["X", "ALL"]);
        let parse = |l: &str| -> Result<Row, String> {
            if l.contains(' ') {
                Err("no spaces".into())
            } else {
                Ok(Row(l.into()))
            }
        };
        assert_eq!(
            keys(&t.import(&current, "# table\nA\n\nB\n", parse).unwrap()),
            ["A", "B", "ALL"]
        );
        for (text, why) in [
            ("A\na b", "Line 2: no spaces (a b)"),
            ("A\na", "Line 2: sender group a is listed twice (a)"),
            (
                "ALL\nA",
                "Line 2: nothing may follow the ALL sender group (A)",
            ),
            ("# only", "The imported table has no sender groups."),
        ] {
            assert_eq!(
                t.import(&current, text, parse).unwrap_err().to_string(),
                why
            );
        }
    }

    #[test]
    fn unknown_names_may_list_the_known_ones() {
        let t = Table {
            list_known: Some("Policies"),
            ..Table::<Row>::new("mail flow policy '{}'", " on listener L")
        };
        assert_eq!(
            t.find(&rows(&["ACCEPTED", "RELAYED"]), "NOPE")
                .unwrap_err()
                .to_string(),
            "There is no mail flow policy 'NOPE' on listener L. Policies: ACCEPTED, RELAYED."
        );
    }

    #[test]
    fn print_numbers_from_one_and_aligns_all_but_the_last_column() {
        let t = hat();
        let r = rows(&["LONGNAME", "ALL"]);
        let out = t.print(&r, "    ", |r| vec![r.0.clone(), "$P".into(), "m".into()]);
        assert_eq!(out, "    1. LONGNAME  $P  m\n    2. ALL       $P  m\n");
    }

    fn table_of(n: usize) -> Vec<Row> {
        (0..n).map(|i| Row(format!("r{i}"))).collect()
    }

    proptest! {
        #[test]
        fn move_keeps_a_permutation_and_lands_where_asked(n in 1usize..12, from in 0usize..12, to in 1usize..13) {
            let t = Table::<Row>::new("row {}", "");
            let mut r = table_of(n);
            let from = from % n;
            let to = (to - 1) % n + 1;
            let name = r[from].0.clone();
            let got = t.move_to(&mut r, &name, &to.to_string()).unwrap();
            prop_assert_eq!(got, to - 1);
            prop_assert_eq!(&r[to - 1].0, &name);
            let mut sorted = keys(&r).iter().map(|s| s.to_string()).collect::<Vec<_>>();
            sorted.sort();
            let mut expected: Vec<String> = table_of(n).into_iter().map(|r| r.0).collect();
            expected.sort();
            prop_assert_eq!(sorted, expected);
            // The others keep their relative order.
            let rest: Vec<&str> = keys(&r).into_iter().filter(|k| *k != name).collect();
            let before: Vec<String> = table_of(n).into_iter().map(|r| r.0).filter(|k| *k != name).collect();
            prop_assert_eq!(rest, before.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn numbering_stays_one_to_n_through_adds_and_deletes(ops in proptest::collection::vec((any::<bool>(), 0usize..20), 0..40)) {
            let t = hat();
            let mut r = rows(&["ALL"]);
            let mut next = 0;
            for (add, at) in ops {
                if add {
                    let at = (at % t.movable(&r).saturating_add(1)) + 1;
                    let order = t.add(&mut r, Row(format!("g{next}")), Some(at)).unwrap();
                    prop_assert_eq!(order, at);
                    next += 1;
                } else if r.len() > 1 {
                    let n = at % (r.len() - 1) + 1;
                    t.delete(&mut r, &n.to_string()).unwrap();
                }
                prop_assert_eq!(&r.last().unwrap().0, "ALL");
                let printed = t.print(&r, "", |r| vec![r.0.clone()]);
                let numbers: Vec<usize> = printed
                    .lines()
                    .map(|l| l.split('.').next().unwrap().parse().unwrap())
                    .collect();
                prop_assert_eq!(numbers, (1..=r.len()).collect::<Vec<_>>());
                for (i, row) in r.iter().enumerate() {
                    prop_assert_eq!(t.find(&r, &(i + 1).to_string()).ok(), Some(i));
                    prop_assert_eq!(t.find(&r, &row.0), Ok(i));
                }
            }
        }
    }
}
