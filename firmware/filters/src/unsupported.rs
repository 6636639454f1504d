//! AsyncOS rules and actions Breakwater does not carry out, and why: one
//! table, [`UNSUPPORTED`]. Administrators paste filters written for
//! AsyncOS; a rule or action of that language that Breakwater lacks must
//! read as a gap with its reason, not as a typo ("unknown action"). So the
//! parser knows each name and how its arguments are written, reads them
//! (a malformed use is a syntax error like any other) and then refuses the
//! use with the reason from this table.
//!
//! A few rules the grammar takes fully (they print back and round-trip):
//! the LDAP group rules. (The sender authentication rules were among them
//! until issue 17 verified SPF, DKIM and DMARC: they are evaluated now.) A filter using one is refused when
//! the configuration is staged ([`refusals`], called by
//! `Config::validate`), with the same reason, instead of being evaluated
//! against a verification or a directory that does not exist.
//!
//! docs/filters.md ("Rules and actions not supported, and why") lists the
//! table; a test keeps the two in step.

use std::fmt;

use super::ast::{Condition, Filter, Stmt};

/// Whether a name is a rule (condition) or an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rule,
    Action,
}

/// How a rule's or action's arguments are written. Arguments of a
/// [`Shape::Call`] are each a string, a number (`1000`, `10M`, `-7.5`) or a
/// list of them in brackets (`['Cuba', 'Iran']`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A bare rule: `encrypted`.
    Flag,
    /// `==` or `!=` and a string: `attachment-filetype == 'exe'`.
    Match,
    /// A comparison and a number: `reputation < -7.5`.
    Compare,
    /// `(arg, ...)` with `min..=max` arguments, then `then`. With `min` 0
    /// a rule may leave out the parentheses (`spf-status == 'Pass'`).
    Call { min: usize, max: usize, then: Then },
}

/// What follows a [`Shape::Call`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    Nothing,
    /// An optional `== 'text'` or `!= 'text'`.
    OptionalMatch,
}

/// When a use is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// By the parser: the appliance has nothing that could carry it out.
    Parse,
    /// When the configuration is staged ([`refusals`]): the grammar takes
    /// it, the appliance cannot evaluate it yet.
    Commit,
}

/// One AsyncOS rule or action Breakwater does not carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported {
    pub name: &'static str,
    pub kind: Kind,
    pub shape: Shape,
    /// A use written as the AsyncOS guide writes it (the tests parse each).
    pub example: &'static str,
    pub reason: &'static str,
    pub stage: Stage,
}

impl Unsupported {
    /// The parser's and the validator's message: `rule 'x' is not
    /// supported: <reason>`.
    pub(crate) fn message(&self) -> String {
        let kind = match self.kind {
            Kind::Rule => "rule",
            Kind::Action => "action",
        };
        format!("{kind} '{}' is not supported: {}", self.name, self.reason)
    }
}

const LDAP: &str = "no LDAP server is configured (ldapconfig)";
const SBRS: &str = "no SenderBase reputation service on this appliance";
const URL: &str = "no URL filtering (URL category or reputation) service on this appliance";
const FILETYPE: &str =
    "no file-type detection on this appliance (use attachment-filename or attachment-type)";
const ATTACHMENT_ENGINE: &str = "no attachment scanning engine on this appliance \
     (password-protected, corrupt or embedded files are not detected)";
const DICTIONARY: &str = "no content dictionaries on this appliance (dictionaryconfig)";
const SMIME: &str = "no S/MIME on this appliance";
const ENCRYPTION: &str = "no encryption service on this appliance";
const GRAYMAIL: &str = "no graymail (marketing, social, bulk) detection on this appliance";
const FED: &str = "no Forged Email Detection on this appliance (it needs content dictionaries)";
const DROP_BY_NAME: &str = "not implemented (drop-attachments-by-name is)";
const MALFORMED: &str = "not implemented as a rule of its own ('not valid' is true for MIME \
     that did not parse cleanly)";

const fn entry(
    name: &'static str,
    kind: Kind,
    shape: Shape,
    example: &'static str,
    reason: &'static str,
) -> Unsupported {
    Unsupported {
        name,
        kind,
        shape,
        example,
        reason,
        stage: Stage::Parse,
    }
}

const fn rule(
    name: &'static str,
    shape: Shape,
    example: &'static str,
    reason: &'static str,
) -> Unsupported {
    entry(name, Kind::Rule, shape, example, reason)
}

const fn action(
    name: &'static str,
    min: usize,
    max: usize,
    example: &'static str,
    reason: &'static str,
) -> Unsupported {
    entry(
        name,
        Kind::Action,
        call(min, max, Then::Nothing),
        example,
        reason,
    )
}

const fn at_commit(u: Unsupported) -> Unsupported {
    Unsupported {
        stage: Stage::Commit,
        ..u
    }
}

const fn call(min: usize, max: usize, then: Then) -> Shape {
    Shape::Call { min, max, then }
}

/// The AsyncOS message filter rules and actions (AsyncOS User Guide, "Using
/// Message Filters to Enforce Email Policies", tables "Message Filter
/// Rules" and "Message Filter Actions") that Breakwater does not carry
/// out, in the guide's order.
pub(crate) const UNSUPPORTED: &[Unsupported] = &[
    at_commit(rule(
        "mail-from-group",
        Shape::Match,
        "mail-from-group == 'Executives'",
        LDAP,
    )),
    at_commit(rule(
        "rcpt-to-group",
        Shape::Match,
        "rcpt-to-group == 'ExpiredAccounts'",
        LDAP,
    )),
    rule("reputation", Shape::Compare, "reputation < -7.5", SBRS),
    rule("no-reputation", Shape::Flag, "no-reputation", SBRS),
    rule(
        "workqueue-count",
        Shape::Compare,
        "workqueue-count > 1000",
        "the work queue length is not given to the filters",
    ),
    rule(
        "image-verdict",
        Shape::Match,
        "image-verdict == 'inappropriate'",
        "no image analysis on this appliance",
    ),
    rule(
        "encrypted",
        Shape::Flag,
        "encrypted",
        "no detection of encrypted content on this appliance",
    ),
    rule(
        "attachment-filetype",
        Shape::Match,
        "attachment-filetype == 'exe'",
        FILETYPE,
    ),
    rule(
        "attachment-mimetype",
        Shape::Match,
        "attachment-mimetype == 'application/pdf'",
        "use attachment-type: on Breakwater it compares only the declared MIME type, \
         as attachment-mimetype does",
    ),
    rule(
        "attachment-protected",
        Shape::Flag,
        "attachment-protected",
        ATTACHMENT_ENGINE,
    ),
    rule(
        "attachment-unprotected",
        Shape::Flag,
        "attachment-unprotected",
        ATTACHMENT_ENGINE,
    ),
    rule(
        "attachment-corrupt",
        Shape::Flag,
        "attachment-corrupt",
        ATTACHMENT_ENGINE,
    ),
    rule(
        "attachment-binary-contains",
        call(1, 1, Then::Nothing),
        "attachment-binary-contains('MZ')",
        "no binary pattern scanning on this appliance (use attachment-contains)",
    ),
    rule(
        "every-attachment-contains",
        call(1, 2, Then::Nothing),
        "every-attachment-contains('confidential')",
        "not implemented (attachment-contains is)",
    ),
    rule(
        "dictionary-match",
        call(1, 2, Then::Nothing),
        "dictionary-match('secret_words')",
        DICTIONARY,
    ),
    rule(
        "attachment-dictionary-match",
        call(1, 2, Then::Nothing),
        "attachment-dictionary-match('secret_words', 2)",
        DICTIONARY,
    ),
    rule(
        "subject-dictionary-match",
        call(1, 2, Then::Nothing),
        "subject-dictionary-match('secret_words')",
        DICTIONARY,
    ),
    rule(
        "header-dictionary-match",
        call(2, 3, Then::Nothing),
        "header-dictionary-match('secret_words', 'X-Project')",
        DICTIONARY,
    ),
    rule(
        "body-dictionary-match",
        call(1, 2, Then::Nothing),
        "body-dictionary-match('secret_words')",
        DICTIONARY,
    ),
    rule(
        "rcpt-to-dictionary-match",
        call(1, 2, Then::Nothing),
        "rcpt-to-dictionary-match('executives')",
        DICTIONARY,
    ),
    rule(
        "mail-from-dictionary-match",
        call(1, 2, Then::Nothing),
        "mail-from-dictionary-match('executives')",
        DICTIONARY,
    ),
    rule("signed", Shape::Flag, "signed", SMIME),
    rule(
        "signed-certificate",
        call(1, 1, Then::OptionalMatch),
        "signed-certificate('issuer') == 'Example CA'",
        SMIME,
    ),
    rule(
        "smime-gateway-message",
        Shape::Flag,
        "smime-gateway-message",
        SMIME,
    ),
    rule(
        "smime-gateway-verified",
        Shape::Flag,
        "smime-gateway-verified",
        SMIME,
    ),
    rule(
        "url-category",
        call(1, 4, Then::Nothing),
        "url-category(['Gambling', 'Adult'], 'url_allowlist', 'none', 1)",
        URL,
    ),
    rule(
        "url-reputation",
        call(2, 5, Then::Nothing),
        "url-reputation(-10.0, -6.0, 'url_allowlist', 1, 1)",
        URL,
    ),
    rule(
        "url-no-reputation",
        call(0, 3, Then::Nothing),
        "url-no-reputation('url_allowlist', 1)",
        URL,
    ),
    rule(
        "domain-reputation",
        call(1, 3, Then::Nothing),
        "domain-reputation('sdr-reputation', ['awful', 'poor'])",
        "no domain reputation service on this appliance",
    ),
    rule(
        "geolocation-rule",
        call(1, 1, Then::Nothing),
        "geolocation-rule(['Cuba', 'Iran'])",
        "no geolocation database on this appliance",
    ),
    rule(
        "forged-email-detection",
        call(2, 2, Then::Nothing),
        "forged-email-detection('Executives', 90)",
        FED,
    ),
    rule(
        "malformed-header",
        Shape::Flag,
        "malformed-header",
        MALFORMED,
    ),
    rule(
        "duplicate-boundaries",
        Shape::Flag,
        "duplicate_boundaries",
        MALFORMED,
    ),
    action("encrypt", 0, 1, "encrypt('CRES')", ENCRYPTION),
    action(
        "encrypt-deferred",
        0,
        1,
        "encrypt-deferred('CRES')",
        ENCRYPTION,
    ),
    action(
        "smime-gateway",
        1,
        1,
        "smime-gateway('sign_profile')",
        SMIME,
    ),
    action(
        "smime-gateway-deferred",
        1,
        1,
        "smime-gateway-deferred('sign_profile')",
        SMIME,
    ),
    action(
        "html-convert",
        0,
        0,
        "html-convert()",
        "no HTML-to-text conversion on this appliance",
    ),
    action(
        "add-heading",
        1,
        3,
        "add-heading('Disclaimer')",
        "not implemented (add-footer is)",
    ),
    action(
        "skip-vofcheck",
        0,
        0,
        "skip-vofcheck()",
        "no Outbreak Filters on this appliance",
    ),
    action(
        "skip-ampcheck",
        0,
        0,
        "skip-ampcheck()",
        "no file reputation or file analysis (AMP) on this appliance",
    ),
    action(
        "skip-marketingcheck",
        0,
        0,
        "skip-marketingcheck()",
        GRAYMAIL,
    ),
    action("skip-socialcheck", 0, 0, "skip-socialcheck()", GRAYMAIL),
    action("skip-bulkcheck", 0, 0, "skip-bulkcheck()", GRAYMAIL),
    action(
        "drop-attachments-by-type",
        1,
        2,
        "drop-attachments-by-type('image/*')",
        DROP_BY_NAME,
    ),
    action(
        "drop-attachments-by-mimetype",
        1,
        2,
        "drop-attachments-by-mimetype('application/x-msdownload')",
        DROP_BY_NAME,
    ),
    action(
        "drop-attachments-by-filetype",
        1,
        2,
        "drop-attachments-by-filetype('exe')",
        FILETYPE,
    ),
    action(
        "drop-attachments-by-size",
        1,
        2,
        "drop-attachments-by-size(10M)",
        DROP_BY_NAME,
    ),
    action(
        "drop-attachments-where-contains",
        1,
        3,
        "drop-attachments-where-contains('confidential')",
        DROP_BY_NAME,
    ),
    action(
        "drop-attachments-where-dictionary-match",
        1,
        3,
        "drop-attachments-where-dictionary-match('secret_words')",
        DICTIONARY,
    ),
    action(
        "url-category-replace",
        2,
        5,
        "url-category-replace(['Gambling'], 'Removed', 'url_allowlist')",
        URL,
    ),
    action(
        "url-category-defang",
        1,
        4,
        "url-category-defang(['Gambling'], 'url_allowlist')",
        URL,
    ),
    action(
        "url-category-proxy-redirect",
        1,
        4,
        "url-category-proxy-redirect(['Gambling'], 'url_allowlist')",
        URL,
    ),
    action(
        "url-reputation-replace",
        3,
        6,
        "url-reputation-replace(-10.0, -6.0, 'Removed', 'url_allowlist', 1)",
        URL,
    ),
    action(
        "url-reputation-defang",
        2,
        5,
        "url-reputation-defang(-10.0, -6.0, 'url_allowlist', 1)",
        URL,
    ),
    action(
        "url-reputation-proxy-redirect",
        2,
        5,
        "url-reputation-proxy-redirect(-10.0, -6.0, 'url_allowlist', 1)",
        URL,
    ),
    action("fed", 2, 2, "fed('from', '')", FED),
];

/// The entry for `name` (already a keyword: lower case, `_` as `-`).
pub(crate) fn find(kind: Kind, name: &str) -> Option<&'static Unsupported> {
    UNSUPPORTED
        .iter()
        .find(|u| u.kind == kind && u.name == name)
}

/// A rule a filter uses that the appliance cannot evaluate: the
/// configuration holding the filter is refused when staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub filter: String,
    /// The rule's name (`spf-status`).
    pub rule: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule '{}' is not supported: {}", self.rule, self.reason)
    }
}

/// Every use of a rule the grammar takes but the appliance cannot evaluate
/// (sender authentication, LDAP groups), in filter order, each rule once
/// per filter.
pub fn refusals(filters: &[Filter]) -> Vec<Refusal> {
    let mut out = Vec::new();
    for f in filters {
        let mut names = Vec::new();
        stmts(&f.body, &mut names);
        for name in names {
            let Some(u) = find(Kind::Rule, name) else {
                continue;
            };
            let r = Refusal {
                filter: f.name.clone(),
                rule: u.name,
                reason: u.reason,
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

fn stmts(body: &[Stmt], out: &mut Vec<&'static str>) {
    for s in body {
        if let Stmt::If(chain) = s {
            for (c, block) in &chain.branches {
                condition(c, out);
                stmts(block, out);
            }
            if let Some(block) = &chain.otherwise {
                stmts(block, out);
            }
        }
    }
}

fn condition(c: &Condition, out: &mut Vec<&'static str>) {
    match c {
        Condition::Not(a) => condition(a, out),
        Condition::And(a, b) | Condition::Or(a, b) => {
            condition(a, out);
            condition(b, out);
        }
        Condition::LdapGroup { field, .. } => out.push(field.keyword()),
        _ => {}
    }
}
