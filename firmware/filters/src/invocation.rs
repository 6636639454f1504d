//! Actions as the work queue receives them: typed, with every argument
//! expanded for this message.

use std::mem::discriminant;

use super::ast::{Action, CopyKind};
use super::pattern::Pattern;
use super::vars::Vars;

/// A non-final action a filter took on a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionInvocation {
    /// The filter that took it (for log lines such as "rewritten to MID ...
    /// by alt-rcpt-to filter '<name>'").
    pub filter: String,
    pub kind: ActionKind,
}

/// What to do. The first group rewrites the message ([`super::apply_rewrites`]);
/// the rest reach outside it and are the work queue's to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    // Rewrites of the message itself.
    StripHeader {
        name: String,
    },
    InsertHeader {
        name: String,
        value: String,
    },
    /// Replacement: `\1`..`\9` are groups, `\\` a backslash.
    EditHeaderText {
        name: String,
        pattern: Pattern,
        replacement: String,
    },
    EditBodyText {
        pattern: Pattern,
        replacement: String,
    },
    AddFooter {
        text: String,
    },
    DropAttachmentsByName {
        pattern: Pattern,
        comment: Option<String>,
    },
    // Effects outside the message.
    TagMessage {
        tag: String,
    },
    AltRcptTo {
        address: String,
    },
    AltMailhost {
        host: String,
    },
    AltSrcHost {
        interface: String,
    },
    /// `bcc`, `bcc-scan`, `notify`, `notify-copy`. `third` is the
    /// alternate mail host for the bcc kinds and the template for notify.
    Copy {
        kind: CopyKind,
        to: String,
        subject: Option<String>,
        return_path: Option<String>,
        third: Option<String>,
    },
    Archive {
        mbox: String,
    },
    Quarantine {
        name: String,
    },
    DuplicateQuarantine {
        name: String,
    },
    /// Written as `MID <mid> Custom Log Entry: <text>` ([`ActionKind::log_line`]).
    LogEntry {
        text: String,
    },
    BounceProfile {
        name: String,
    },
    SkipSpamcheck,
    SkipViruscheck,
}

impl ActionKind {
    /// True for the actions [`super::apply_rewrites`] carries out.
    pub fn is_rewrite(&self) -> bool {
        matches!(
            self,
            ActionKind::StripHeader { .. }
                | ActionKind::InsertHeader { .. }
                | ActionKind::EditHeaderText { .. }
                | ActionKind::EditBodyText { .. }
                | ActionKind::AddFooter { .. }
                | ActionKind::DropAttachmentsByName { .. }
        )
    }

    /// The `mail_logs` line for a `log-entry` action.
    pub fn log_line(&self, mid: crate::ids::Mid) -> Option<String> {
        match self {
            ActionKind::LogEntry { text } => Some(format!("MID {mid} Custom Log Entry: {text}")),
            _ => None,
        }
    }

    /// What makes two actions "the same action" (AsyncOS: the later of two
    /// identical actions wins): the kind plus its target. Single-valued
    /// settings (alt-rcpt-to, alt-mailhost, alt-src-host, bounce-profile,
    /// skip-*) have no target: only the last one counts.
    pub(crate) fn same_target(&self, other: &ActionKind) -> bool {
        use ActionKind as K;
        if discriminant(self) != discriminant(other) {
            return false;
        }
        let ci = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match (self, other) {
            (K::StripHeader { name: a }, K::StripHeader { name: b })
            | (K::InsertHeader { name: a, .. }, K::InsertHeader { name: b, .. }) => ci(a, b),
            (
                K::EditHeaderText {
                    name: a,
                    pattern: p,
                    ..
                },
                K::EditHeaderText {
                    name: b,
                    pattern: q,
                    ..
                },
            ) => ci(a, b) && p == q,
            (K::EditBodyText { pattern: p, .. }, K::EditBodyText { pattern: q, .. })
            | (
                K::DropAttachmentsByName { pattern: p, .. },
                K::DropAttachmentsByName { pattern: q, .. },
            ) => p == q,
            (K::AddFooter { text: a }, K::AddFooter { text: b })
            | (K::TagMessage { tag: a }, K::TagMessage { tag: b })
            | (K::Archive { mbox: a }, K::Archive { mbox: b })
            | (K::Quarantine { name: a }, K::Quarantine { name: b })
            | (K::DuplicateQuarantine { name: a }, K::DuplicateQuarantine { name: b })
            | (K::LogEntry { text: a }, K::LogEntry { text: b }) => a == b,
            (K::Copy { kind: k, to: a, .. }, K::Copy { kind: l, to: b, .. }) => k == l && ci(a, b),
            _ => true,
        }
    }

    /// Builds the invocation of `action` with its arguments expanded;
    /// `None` for final actions and `no-op`.
    pub(crate) fn from_action(action: &Action, vars: &Vars) -> Option<ActionKind> {
        let x = |s: &String| vars.expand(s);
        Some(match action {
            Action::Final(_) | Action::NoOp => return None,
            Action::StripHeader(n) => ActionKind::StripHeader { name: n.clone() },
            Action::InsertHeader { name, value } => ActionKind::InsertHeader {
                name: name.clone(),
                value: x(value),
            },
            Action::EditHeaderText {
                name,
                pattern,
                replacement,
            } => ActionKind::EditHeaderText {
                name: name.clone(),
                pattern: pattern.clone(),
                replacement: vars.expand_replacement(replacement),
            },
            Action::EditBodyText {
                pattern,
                replacement,
            } => ActionKind::EditBodyText {
                pattern: pattern.clone(),
                replacement: vars.expand_replacement(replacement),
            },
            Action::AddFooter(t) => ActionKind::AddFooter { text: x(t) },
            Action::DropAttachmentsByName { pattern, comment } => {
                ActionKind::DropAttachmentsByName {
                    pattern: pattern.clone(),
                    comment: comment.as_ref().map(x),
                }
            }
            Action::TagMessage(t) => ActionKind::TagMessage { tag: x(t) },
            Action::AltRcptTo(a) => ActionKind::AltRcptTo { address: x(a) },
            Action::AltMailhost(h) => ActionKind::AltMailhost { host: x(h) },
            Action::AltSrcHost(i) => ActionKind::AltSrcHost { interface: x(i) },
            Action::Copy { kind, to, extra } => ActionKind::Copy {
                kind: *kind,
                to: x(to),
                subject: extra.first().map(x),
                return_path: extra.get(1).map(x),
                third: extra.get(2).map(x),
            },
            Action::Archive(m) => ActionKind::Archive { mbox: x(m) },
            Action::Quarantine(q) => ActionKind::Quarantine { name: x(q) },
            Action::DuplicateQuarantine(q) => ActionKind::DuplicateQuarantine { name: x(q) },
            Action::LogEntry(t) => ActionKind::LogEntry { text: x(t) },
            Action::BounceProfile(b) => ActionKind::BounceProfile { name: x(b) },
            Action::SkipSpamcheck => ActionKind::SkipSpamcheck,
            Action::SkipViruscheck => ActionKind::SkipViruscheck,
        })
    }
}
