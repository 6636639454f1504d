//! Parsing of actions: `name(arg, ...)`, every argument a quoted string.

use super::ParseError;
use super::ast::{Action, CopyKind, FinalAction};
use super::lexer::{Tok, Token};
use super::parse_cond::check_header_name;
use super::parser::{Parser, keyword};
use super::pattern::Pattern;
use super::unsupported::{self, Kind};

impl Parser<'_> {
    pub(super) fn action(&mut self) -> Result<Action, ParseError> {
        let t = self.next();
        let Tok::Ident(word) = &t.tok else {
            return Err(self.err_at(
                &t,
                format!("expected an action, found {}", t.tok.describe()),
            ));
        };
        let kw = keyword(word);
        if let Some(u) = unsupported::find(Kind::Action, &kw) {
            return Err(self.unsupported_use(u, &t));
        }
        let known = matches!(
            kw.as_str(),
            "drop"
                | "bounce"
                | "deliver"
                | "skip-filters"
                | "no-op"
                | "skip-spamcheck"
                | "skip-viruscheck"
                | "strip-header"
                | "insert-header"
                | "edit-header-text"
                | "edit-body-text"
                | "add-footer"
                | "drop-attachments-by-name"
                | "tag-message"
                | "alt-rcpt-to"
                | "alt-mailhost"
                | "alt-src-host"
                | "bcc"
                | "bcc-scan"
                | "notify"
                | "notify-copy"
                | "archive"
                | "quarantine"
                | "duplicate-quarantine"
                | "log-entry"
                | "bounce-profile"
        );
        if !known {
            return Err(self.err_at(&t, format!("unknown action '{word}'")));
        }
        self.expect(Tok::LParen, &format!("'(' after '{word}'"))?;
        let mut args: Vec<(String, Token)> = Vec::new();
        if self.peek().tok != Tok::RParen {
            loop {
                args.push(self.string("an action argument")?);
                if self.peek().tok == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "')'")?;
        let (min, max) = arity(&kw);
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.err_at(
                &t,
                format!("'{kw}' takes {want} argument(s), found {}", args.len()),
            ));
        }
        let mut it = args.into_iter();
        let mut arg = move || it.next().unwrap_or_default();
        Ok(match kw.as_str() {
            "drop" => Action::Final(FinalAction::Drop),
            "bounce" => Action::Final(FinalAction::Bounce),
            "deliver" => Action::Final(FinalAction::Deliver),
            "skip-filters" => Action::Final(FinalAction::SkipFilters),
            "no-op" => Action::NoOp,
            "skip-spamcheck" => Action::SkipSpamcheck,
            "skip-viruscheck" => Action::SkipViruscheck,
            "strip-header" => Action::StripHeader(self.header_name(arg())?),
            "insert-header" => Action::InsertHeader {
                name: self.header_name(arg())?,
                value: arg().0,
            },
            "edit-header-text" => Action::EditHeaderText {
                name: self.header_name(arg())?,
                pattern: self.compile(arg(), false)?,
                replacement: arg().0,
            },
            "edit-body-text" => Action::EditBodyText {
                pattern: self.compile(arg(), false)?,
                replacement: arg().0,
            },
            "add-footer" => Action::AddFooter(arg().0),
            "drop-attachments-by-name" => {
                let pattern = self.compile(arg(), true)?;
                let comment = Some(arg().0).filter(|c| !c.is_empty());
                Action::DropAttachmentsByName { pattern, comment }
            }
            "tag-message" => Action::TagMessage(arg().0),
            "alt-rcpt-to" => Action::AltRcptTo(arg().0),
            "alt-mailhost" => Action::AltMailhost(arg().0),
            "alt-src-host" => Action::AltSrcHost(arg().0),
            "archive" => Action::Archive(arg().0),
            "quarantine" => Action::Quarantine(arg().0),
            "duplicate-quarantine" => Action::DuplicateQuarantine(arg().0),
            "log-entry" => Action::LogEntry(arg().0),
            "bounce-profile" => Action::BounceProfile(arg().0),
            copy => {
                let kind = match copy {
                    "bcc" => CopyKind::Bcc,
                    "bcc-scan" => CopyKind::BccScan,
                    "notify" => CopyKind::Notify,
                    _ => CopyKind::NotifyCopy,
                };
                let to = arg().0;
                let mut extra = Vec::new();
                loop {
                    let (a, tok) = arg();
                    if tok.tok == Tok::Eof {
                        break;
                    }
                    extra.push(a);
                }
                Action::Copy { kind, to, extra }
            }
        })
    }

    fn header_name(&self, (name, t): (String, Token)) -> Result<String, ParseError> {
        check_header_name(&name).map_err(|m| self.err_at(&t, m))?;
        Ok(name)
    }

    fn compile(&self, (src, t): (String, Token), ci: bool) -> Result<Pattern, ParseError> {
        Pattern::new(&src, ci).map_err(|m| self.err_at(&t, m))
    }
}

/// Minimum and maximum argument counts.
fn arity(kw: &str) -> (usize, usize) {
    match kw {
        "drop" | "bounce" | "deliver" | "skip-filters" | "no-op" | "skip-spamcheck"
        | "skip-viruscheck" => (0, 0),
        "insert-header" | "edit-body-text" => (2, 2),
        "edit-header-text" => (3, 3),
        "drop-attachments-by-name" => (1, 2),
        "bcc" | "bcc-scan" | "notify" | "notify-copy" => (1, 1 + CopyKind::Bcc.max_extra()),
        _ => (1, 1),
    }
}

impl Default for Token {
    fn default() -> Self {
        Token {
            tok: Tok::Eof,
            line: 0,
            column: 0,
        }
    }
}
