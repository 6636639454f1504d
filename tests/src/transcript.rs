//! Console transcripts kept in a guide and checked against a real run, so
//! the guide cannot drift from the product.
//!
//! A guide marks each transcript with the name of the step that produces
//! it:
//!
//! ````text
//! <!-- transcript: sethostname -->
//! ```text
//! esa1.your_domain.com> ...
//! ```
//! <!-- /transcript -->
//! ````
//!
//! The test captures each step's screen, replaces what differs from run to
//! run or from a real appliance (test addresses, MIDs, times) with the
//! guide's values ([`Normaliser`]), and [`check_guide`] compares: a block
//! that differs, a block no step produced, or a step with no block is a
//! failure. With `BREAKWATER_BLESS=1` the blocks are rewritten from the
//! run instead (review the diff before committing it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use regex::Regex;

/// Replacements applied, in order, to every captured screen. A
/// replacement followed by three or more spaces (a table column) keeps the
/// next column where it was: the spaces grow or shrink by the difference
/// in length (at least one stays).
#[derive(Debug, Default)]
pub struct Normaliser {
    literal: Vec<(String, String)>,
    patterns: Vec<(Regex, String)>,
}

impl Normaliser {
    /// Replace `from` by `to` wherever it occurs (applied before the
    /// patterns, longest first so a name never hits a longer one's
    /// prefix).
    #[must_use]
    pub fn literal(mut self, from: &str, to: &str) -> Normaliser {
        self.literal.push((from.to_string(), to.to_string()));
        self.literal
            .sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        self
    }

    /// Replace every match of `pattern` by `to` (`$1` etc. allowed).
    ///
    /// # Panics
    /// When `pattern` is not a regex.
    #[must_use]
    pub fn pattern(mut self, pattern: &str, to: &str) -> Normaliser {
        self.patterns.push((compile(pattern), to.to_string()));
        self
    }

    /// `text` with every replacement made and trailing blanks removed from
    /// each line.
    #[must_use]
    pub fn apply(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (from, to) in &self.literal {
            s = replace_aligned(&compile(&regex::escape(from)), &s, &to.replace('$', "$$"));
        }
        for (re, to) in &self.patterns {
            s = replace_aligned(re, &s, to);
        }
        let mut out = String::new();
        for line in s.trim_end_matches('\n').lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `pattern` with an optional trailing run of 3+ spaces captured as `pad`
/// (two spaces separate the fields of a line such as findevent's tracking
/// line, which must stay as it is).
fn compile(pattern: &str) -> Regex {
    Regex::new(&format!("(?:{pattern})(?P<pad> {{3,}})?")).expect("normaliser pattern")
}

fn replace_aligned(re: &Regex, text: &str, to: &str) -> String {
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let pad = caps.name("pad").map_or(0, |m| m.as_str().len());
        let mut out = String::new();
        caps.expand(to, &mut out);
        if pad > 0 {
            // The cell and its padding were this wide: keep that width.
            let width = whole.chars().count();
            let spaces = width.saturating_sub(out.chars().count()).max(1);
            out.push_str(&" ".repeat(spaces));
        }
        out
    })
    .into_owned()
}

const OPEN: &str = "<!-- transcript: ";
const CLOSE: &str = "<!-- /transcript -->";

/// The guide's transcripts by name: the text inside each block's code
/// fence.
///
/// # Errors
/// A block that is not closed or has no code fence.
pub fn blocks(guide: &str) -> Result<BTreeMap<String, String>, String> {
    let mut found = BTreeMap::new();
    let mut rest = guide;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let end_name = after
            .find("-->")
            .ok_or("a transcript marker is not closed")?;
        let name = after[..end_name].trim().to_string();
        let body_start = &after[end_name + 3..];
        let close = body_start
            .find(CLOSE)
            .ok_or_else(|| format!("transcript {name} has no {CLOSE}"))?;
        let inner = fenced(&body_start[..close])
            .ok_or_else(|| format!("transcript {name} holds no ```text fence"))?;
        if found.insert(name.clone(), inner).is_some() {
            return Err(format!("transcript {name} appears twice"));
        }
        rest = &body_start[close + CLOSE.len()..];
    }
    Ok(found)
}

/// The text between the first ```` ``` ```` fence line and the last one.
fn fenced(block: &str) -> Option<String> {
    let open = block.find("```")?;
    let body = &block[open..];
    let first_nl = body.find('\n')?;
    let body = &body[first_nl + 1..];
    let close = body.rfind("```")?;
    Some(body[..close].to_string())
}

/// `guide` with each named block's fence content replaced by `got`'s.
fn rewrite(guide: &str, got: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = guide;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end_name) = after.find("-->") else {
            break;
        };
        let name = after[..end_name].trim();
        let Some(close) = after.find(CLOSE) else {
            break;
        };
        match got.get(name) {
            Some(text) => {
                let _ = write!(out, "{OPEN}{name} -->\n```text\n{text}```\n{CLOSE}");
            }
            None => out.push_str(&rest[i..i + OPEN.len() + close + CLOSE.len()]),
        }
        rest = &after[close + CLOSE.len()..];
    }
    out.push_str(rest);
    out
}

/// Whether two transcripts say the same: equal, except that within a run
/// of consecutive log lines (`<date> Info: ...`) the order may differ. The
/// gateway's connection and its work queue log in parallel, so `ICID n
/// close` may come before or after the message's next line; the lines
/// themselves must all be there.
#[must_use]
pub fn equivalent(a: &str, b: &str) -> bool {
    fn segments(t: &str) -> Vec<Vec<&str>> {
        let mut out: Vec<Vec<&str>> = Vec::new();
        let mut in_log = false;
        for line in t.lines() {
            // Log lines, and tracking's Processing Details, come from
            // stages that write in parallel (the connection closes while
            // the work queue takes the message): a run of them is
            // compared as a set.
            let log = line.starts_with("<date> Info: ") || line.starts_with("  <time> ");
            if log && in_log {
                if let Some(last) = out.last_mut() {
                    last.push(line);
                }
            } else {
                out.push(vec![line]);
            }
            in_log = log;
        }
        for seg in &mut out {
            seg.sort_unstable();
        }
        out
    }
    segments(a) == segments(b)
}

/// Compares the guide at `path` with the run's transcripts `got` (already
/// normalised). With `BREAKWATER_BLESS=1` in the environment, rewrites
/// the guide's blocks from `got` instead and only reports the steps the
/// guide has no block for.
///
/// # Errors
/// Every difference, as a readable report.
pub fn check_guide(path: &Path, got: &BTreeMap<String, String>) -> Result<(), String> {
    let guide = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let want = blocks(&guide)?;
    let mut problems = Vec::new();
    for name in got.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!(
            "{}: the run produced transcript {name:?}, which the guide has no block for \
             (add `{OPEN}{name} -->` ... `{CLOSE}` where it belongs)",
            path.display()
        ));
    }
    if std::env::var_os("BREAKWATER_BLESS").is_some_and(|v| v == "1") {
        let changed: BTreeMap<String, String> = got
            .iter()
            .filter(|(name, text)| !want.get(*name).is_some_and(|w| equivalent(w, text)))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        let blessed = rewrite(&guide, &changed);
        if blessed != guide {
            std::fs::write(path, blessed)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    } else {
        for (name, text) in &want {
            match got.get(name) {
                None => problems.push(format!(
                    "{}: transcript {name:?} is in the guide but no step of the run produced it",
                    path.display()
                )),
                Some(run) if !equivalent(run, text) => problems.push(format!(
                    "{}: transcript {name:?} differs from the run (BREAKWATER_BLESS=1 rewrites it):\n--- guide\n{text}--- run\n{run}",
                    path.display()
                )),
                Some(_) => {}
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "# Guide\n\nText.\n\n<!-- transcript: one -->\n```text\nhost> a\nA\n```\n<!-- /transcript -->\n\nMore.\n<!-- transcript: two -->\n```text\nold\n```\n<!-- /transcript -->\nEnd.\n";

    #[test]
    fn blocks_are_read_by_name() {
        let b = blocks(GUIDE).unwrap();
        assert_eq!(b["one"], "host> a\nA\n");
        assert_eq!(b["two"], "old\n");
    }

    #[test]
    fn rewrite_changes_only_the_named_blocks() {
        let mut got = BTreeMap::new();
        got.insert("two".to_string(), "new\nlines\n".to_string());
        let out = rewrite(GUIDE, &got);
        assert_eq!(
            out,
            GUIDE.replace("```text\nold\n```", "```text\nnew\nlines\n```")
        );
    }

    #[test]
    fn the_normaliser_replaces_longest_literals_first_then_patterns() {
        let n = Normaliser::default()
            .literal("127.1.3.1", "203.0.113.25")
            .literal("127.1.3.10", "192.0.2.10")
            .pattern(r"MID \d+", "MID <MID>");
        assert_eq!(
            n.apply("MID 12 from 127.1.3.10 to 127.1.3.1  \n\n"),
            "MID <MID> from 192.0.2.10 to 203.0.113.25\n"
        );
    }

    #[test]
    fn log_lines_may_come_in_another_order_but_must_all_be_there() {
        let a = "host> findevent\n<date> Info: A\n<date> Info: B\nTracking:\n";
        let b = "host> findevent\n<date> Info: B\n<date> Info: A\nTracking:\n";
        assert!(equivalent(a, b));
        assert!(!equivalent(
            a,
            "host> findevent\n<date> Info: A\nTracking:\n"
        ));
        assert!(!equivalent("x\ny\n", "y\nx\n"));
    }

    #[test]
    fn a_replaced_table_cell_keeps_the_next_column_in_place() {
        let n = Normaliser::default()
            .literal("internet.test", "example.org")
            .literal("tdc.test", "intake.example.net");
        assert_eq!(
            n.apply("1   internet.test      1\n2   tdc.test           0\n"),
            "1   example.org        1\n2   intake.example.net 0\n"
        );
    }
}
