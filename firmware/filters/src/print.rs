//! Canonical source for the syntax tree: `parse(print(f)) == f` (checked by
//! a property test). Used by `filters detail` and `export`.

use std::fmt::{self, Write};

use super::ast::{
    Action, CmpOp, Condition, ContainsScope, Filter, IfChain, MatchOp, SizeField, Stmt, TextField,
};

/// Prints several filters as one script, one blank line between them.
pub fn print_script(filters: &[Filter]) -> String {
    let mut out = String::new();
    for (i, f) in filters.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{f}");
    }
    out
}

/// A double-quoted string literal with `\` and `"` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn size(n: u64) -> String {
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "k")] {
        let unit = 1u64 << shift;
        if n > 0 && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{} ", self.name, if self.active { ":" } else { "!" })?;
        for (i, stmt) in self.body.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write_stmt(f, stmt, 0)?;
        }
        Ok(())
    }
}

fn write_stmt(f: &mut fmt::Formatter<'_>, stmt: &Stmt, indent: usize) -> fmt::Result {
    match stmt {
        Stmt::Action(a) => write!(f, "{a};"),
        Stmt::If(chain) => write_if(f, chain, indent),
    }
}

fn write_block(f: &mut fmt::Formatter<'_>, block: &[Stmt], indent: usize) -> fmt::Result {
    f.write_str("{\n")?;
    for stmt in block {
        write!(f, "{:w$}", "", w = (indent + 1) * 4)?;
        write_stmt(f, stmt, indent + 1)?;
        f.write_str("\n")?;
    }
    write!(f, "{:w$}}}", "", w = indent * 4)
}

fn write_if(f: &mut fmt::Formatter<'_>, chain: &IfChain, indent: usize) -> fmt::Result {
    for (i, (cond, block)) in chain.branches.iter().enumerate() {
        if i > 0 {
            f.write_str(" else ")?;
        }
        write!(f, "if ({cond}) ")?;
        write_block(f, block, indent)?;
    }
    if let Some(block) = &chain.otherwise {
        f.write_str(" else ")?;
        write_block(f, block, indent)?;
    }
    Ok(())
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Eq => "==",
            MatchOp::Ne => "!=",
        })
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        })
    }
}

impl TextField {
    pub fn keyword(self) -> &'static str {
        match self {
            TextField::Subject => "subject",
            TextField::MailFrom => "mail-from",
            TextField::RcptTo => "rcpt-to",
            TextField::SenderGroup => "sendergroup",
            TextField::AttachmentFilename => "attachment-filename",
        }
    }
}

fn is_binary(c: &Condition) -> bool {
    matches!(c, Condition::And(..) | Condition::Or(..))
}

fn paren(f: &mut fmt::Formatter<'_>, c: &Condition, wrap: bool) -> fmt::Result {
    if wrap {
        write!(f, "({c})")
    } else {
        write!(f, "{c}")
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::True => f.write_str("true"),
            Condition::Valid => f.write_str("valid"),
            Condition::Text(field, op, p) => {
                write!(f, "{} {op} {}", field.keyword(), quote(p.source()))
            }
            Condition::RecvListener(op, n) => write!(f, "recv-listener {op} {}", quote(n)),
            Condition::RecvInt(op, n) => write!(f, "recv-int {op} {}", quote(n)),
            Condition::RemoteIp { op, source, .. } => {
                write!(f, "remote-ip {op} {}", quote(source))
            }
            Condition::Header { name, test } => {
                write!(f, "header({})", quote(name))?;
                if let Some((op, p)) = test {
                    write!(f, " {op} {}", quote(p.source()))?;
                }
                Ok(())
            }
            Condition::Size(field, op, n) => match field {
                SizeField::RcptCount => write!(f, "rcpt-count {op} {n}"),
                SizeField::BodySize => write!(f, "body-size {op} {}", size(*n)),
                SizeField::AttachmentSize => write!(f, "attachment-size {op} {}", size(*n)),
            },
            Condition::Contains {
                scope,
                pattern,
                min,
            } => {
                let kw = match scope {
                    ContainsScope::Body => "body-contains",
                    ContainsScope::OnlyBody => "only-body-contains",
                    ContainsScope::Attachment => "attachment-contains",
                };
                write!(f, "{kw}({}", quote(pattern.source()))?;
                if *min != 1 {
                    write!(f, ", {min}")?;
                }
                f.write_str(")")
            }
            Condition::AttachmentType(op, glob) => {
                write!(f, "attachment-type {op} {}", quote(glob))
            }
            Condition::Date(op, when) => {
                write!(f, "date {op} \"{}\"", when.format("%m/%d/%Y %H:%M:%S"))
            }
            Condition::Random { range, cmp } => {
                write!(f, "random({range})")?;
                if let Some((op, n)) = cmp {
                    write!(f, " {op} {n}")?;
                }
                Ok(())
            }
            Condition::SmtpAuthIdMatches { target, sieve } => {
                write!(f, "smtp-auth-id-matches({}", quote(target))?;
                if let Some(s) = sieve {
                    write!(f, ", {}", quote(s))?;
                }
                f.write_str(")")
            }
            Condition::AddrCount { headers, op, count } => {
                let hs: Vec<String> = headers.iter().map(|h| quote(h)).collect();
                write!(f, "addr-count({}) {op} {count}", hs.join(", "))
            }
            Condition::HeaderRepeats {
                target,
                threshold,
                direction,
            } => {
                write!(f, "header-repeats({}, {threshold}", quote(target))?;
                if let Some(d) = direction {
                    write!(f, ", {}", quote(d))?;
                }
                f.write_str(")")
            }
            Condition::DnsList { zone, answer } => {
                write!(f, "dnslist({})", quote(zone))?;
                match answer {
                    Some((op, ip)) => write!(f, " {} {}", op, quote(&ip.to_string())),
                    None => Ok(()),
                }
            }
            Condition::SpfStatus {
                identity,
                op,
                results,
            } => {
                f.write_str("spf-status")?;
                if let Some(id) = identity {
                    write!(f, "({})", quote(id))?;
                }
                write!(f, " {op} {}", quote(results))
            }
            Condition::SpfPassed => f.write_str("spf-passed"),
            Condition::LdapGroup { field, op, group } => {
                write!(f, "{} {op} {}", field.keyword(), quote(group))
            }
            Condition::DkimAuthentication(op, v) => {
                write!(f, "dkim-authentication {op} {}", quote(v))
            }
            Condition::Not(c) => {
                f.write_str("not ")?;
                paren(f, c, is_binary(c))
            }
            Condition::And(a, b) => {
                paren(f, a, matches!(**a, Condition::Or(..)))?;
                f.write_str(" and ")?;
                paren(f, b, is_binary(b))
            }
            Condition::Or(a, b) => {
                paren(f, a, false)?;
                f.write_str(" or ")?;
                paren(f, b, matches!(**b, Condition::Or(..)))
            }
        }
    }
}

impl Action {
    /// The keyword as written in scripts.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Final(k) => k.keyword(),
            Action::NoOp => "no-op",
            Action::StripHeader(_) => "strip-header",
            Action::InsertHeader { .. } => "insert-header",
            Action::EditHeaderText { .. } => "edit-header-text",
            Action::EditBodyText { .. } => "edit-body-text",
            Action::AddFooter(_) => "add-footer",
            Action::DropAttachmentsByName { .. } => "drop-attachments-by-name",
            Action::TagMessage(_) => "tag-message",
            Action::AltRcptTo(_) => "alt-rcpt-to",
            Action::AltMailhost(_) => "alt-mailhost",
            Action::AltSrcHost(_) => "alt-src-host",
            Action::Copy { kind, .. } => kind.keyword(),
            Action::Archive(_) => "archive",
            Action::Quarantine(_) => "quarantine",
            Action::DuplicateQuarantine(_) => "duplicate-quarantine",
            Action::LogEntry(_) => "log-entry",
            Action::BounceProfile(_) => "bounce-profile",
            Action::SkipSpamcheck => "skip-spamcheck",
            Action::SkipViruscheck => "skip-viruscheck",
        }
    }

    /// The arguments as written (regexes by source).
    pub fn args(&self) -> Vec<&str> {
        match self {
            Action::Final(_) | Action::NoOp | Action::SkipSpamcheck | Action::SkipViruscheck => {
                vec![]
            }
            Action::StripHeader(a)
            | Action::AddFooter(a)
            | Action::TagMessage(a)
            | Action::AltRcptTo(a)
            | Action::AltMailhost(a)
            | Action::AltSrcHost(a)
            | Action::Archive(a)
            | Action::Quarantine(a)
            | Action::DuplicateQuarantine(a)
            | Action::LogEntry(a)
            | Action::BounceProfile(a) => vec![a],
            Action::InsertHeader { name, value } => vec![name, value],
            Action::EditHeaderText {
                name,
                pattern,
                replacement,
            } => vec![name, pattern.source(), replacement],
            Action::EditBodyText {
                pattern,
                replacement,
            } => vec![pattern.source(), replacement],
            Action::DropAttachmentsByName { pattern, comment } => {
                let mut v = vec![pattern.source()];
                v.extend(comment.as_deref());
                v
            }
            Action::Copy { to, extra, .. } => {
                let mut v = vec![to.as_str()];
                v.extend(extra.iter().map(String::as_str));
                v
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args().into_iter().map(quote).collect();
        write!(f, "{}({})", self.keyword(), args.join(", "))
    }
}
