//! AsyncOS message filters: the language, its validation against the
//! gateway's names, its evaluation on a message, and the message rewrites
//! its actions ask for.
//!
//! Owns: the filter syntax tree and everything computed from it. Touches:
//! nothing outside this crate — it is sans-I/O, and Cargo enforces it: the crate
//! depends only on `breakwater-types`. The work queue builds a
//! [`MessageContext`] for each message, calls [`evaluate`], carries out the
//! returned [`ActionInvocation`]s that reach outside the message (bcc,
//! quarantine, archive, ...) and applies the rest with [`apply_rewrites`].
//! DNS lists and "seen in the last hour" counters are asked through the
//! [`Lookups`] trait, which the caller implements.
//!
//! Exposure: filter scripts come from the administrator (CLI paste or
//! import); messages come from the internet. Both are hostile input here:
//! scripts are bounded in length and nesting, regexes are compiled with size
//! limits and run in linear time, and MIME is parsed and looked at only
//! within [`MimeLimits`] (`prescan` bounds what `mail-parser` is shown).
//! Nothing in this module panics on any input (the fuzz targets
//! `fuzz/fuzz_targets/filter_parser.rs` and `message_headers.rs` check the
//! parser, and the message handling with every family of rules).
//!
//! Layout, in pipeline order:
//! - `lexer`, `parser`, `parse_cond`, `parse_action`: source → [`Filter`]s,
//!   or a [`ParseError`] with line, column and a pointer.
//! - `ast`, `pattern`, `print`: the tree, compiled regexes, canonical source.
//! - `unsupported`: the AsyncOS rules and actions Breakwater does not carry
//!   out, with why; the parser refuses most, [`refusals`] the rest.
//! - `validate`: warnings for names nothing defines ([`validate`]).
//! - `context`: what conditions look at ([`MessageContext`]).
//! - `conditions`, `eval`: [`evaluate`] → [`Verdict`].
//! - `vars`, `invocation`: action variables and the typed actions.
//! - `rewrite`, `mime`, `prescan`: header and body rewrites on the raw
//!   message; the bounded MIME parse both they and the conditions use.
//! - `bench`: [`bench_header_filters`].

/// The ID types, at the path the filter modules name them by.
pub(crate) use breakwater_types::ids;

mod ast;
pub mod auth_results; // issue 17: the sender authentication rules
mod bench;
mod conditions;
mod context;
mod encode;
mod eval;
mod invocation;
mod lexer;
mod mime;
mod parse_action;
mod parse_cond;
mod parser;
mod pattern;
mod prescan;
mod print;
mod rewrite;
mod unsupported;
mod validate;
mod vars;

#[cfg(test)]
mod tests;

pub use ast::{
    Action, CmpOp, Condition, ContainsScope, CopyKind, Filter, FinalAction, GroupField, IfChain,
    IpSpec, MatchOp, SizeField, Stmt, TextField,
};
pub use bench::{bench_header_filters, header_filter_script};
pub use context::{Lookups, MessageContext, NoLookups};
pub use eval::{TraceEvent, TraceLine, Verdict, evaluate, trace};
pub use invocation::{ActionInvocation, ActionKind};
pub use lexer::MAX_SCRIPT_LEN;
pub use mime::{
    MIME_MAX_BOUNDARY_FIELD, MIME_MAX_DECLARATIONS, MIME_MAX_DECODED, MIME_MAX_DELIMITERS,
    MIME_MAX_DEPTH, MIME_MAX_HEADER_BYTES, MIME_MAX_PARTS, MimeLimitHit, MimeLimits,
};
pub use parser::{MAX_DEPTH, parse};
pub use pattern::{MAX_PATTERN_LEN, Pattern, REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT};
pub use print::{print_script, quote};
pub use rewrite::{
    add_footer, apply_rewrites, drop_attachments_by_name, edit_body_text, edit_header_text,
    insert_header, strip_header,
};
pub use unsupported::{Refusal, refusals};
pub use validate::{KnownNames, Warning, validate};
pub use vars::Vars;

/// A syntax error: where it is and what is wrong. `Display` prints the
/// message, the source line and a `^` under the offending token:
///
/// ```text
/// line 2, column 6: unknown condition 'sendrgroup'
///   if sendrgroup == "RELAY_O365" {
///      ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    /// The text of the line the error is on (without its line ending).
    pub source_line: String,
}

impl ParseError {
    pub(crate) fn at(src: &str, line: usize, column: usize, message: String) -> ParseError {
        let source_line = src
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        ParseError {
            line,
            column,
            message,
            source_line,
        }
    }

    fn render(&self) -> String {
        // Keep tabs in the padding so the caret lines up in a terminal.
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "line {}, column {}: {}\n  {}\n  {pad}^",
            self.line, self.column, self.message, self.source_line
        )
    }
}
