//! The filter language's syntax tree, as the parser builds it and the
//! printer emits it. Equality is structural; regexes compare by their source
//! text (a compiled `Regex` has no useful equality).

use std::fmt;
use std::net::IpAddr;

use chrono::NaiveDateTime;

use super::pattern::Pattern;

/// One message filter: `name: if (...) { ... }` (active) or
/// `name! if ...` (inactive, AsyncOS's export syntax).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub name: String,
    pub active: bool,
    /// Statements run in order; in practice one `if` chain.
    pub body: Vec<Stmt>,
}

/// A statement inside a filter or a block.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    If(IfChain),
    Action(Action),
}

/// `if c1 {..} elif c2 {..} else {..}`: `branches` holds each condition with
/// its block, tried in order; `otherwise` runs when none matched.
#[derive(Debug, Clone, PartialEq)]
pub struct IfChain {
    pub branches: Vec<(Condition, Vec<Stmt>)>,
    pub otherwise: Option<Vec<Stmt>>,
}

/// `==` / `!=` against a regex or a name. `!=` is always the negation of `==`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Ne,
}

/// Numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn test<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
        }
    }
}

/// Which envelope/connection/header string a regex rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// Decoded `Subject:` header.
    Subject,
    /// Envelope sender (MAIL FROM).
    MailFrom,
    /// Any envelope recipient (RCPT TO).
    RcptTo,
    /// HAT sender group name.
    SenderGroup,
    /// Filename of any attachment.
    AttachmentFilename,
}

/// Which envelope address an LDAP group rule looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    MailFrom,
    RcptTo,
}

impl GroupField {
    pub fn keyword(self) -> &'static str {
        match self {
            GroupField::MailFrom => "mail-from-group",
            GroupField::RcptTo => "rcpt-to-group",
        }
    }
}

/// Which size a numeric rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeField {
    RcptCount,
    BodySize,
    AttachmentSize,
}

/// Where a `*-contains` rule searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainsScope {
    /// `body-contains`: text body parts and attachments.
    Body,
    /// `only-body-contains`: text body parts only.
    OnlyBody,
    /// `attachment-contains`: attachments only.
    Attachment,
}

/// One `remote-ip` alternative: an address, a CIDR block or an AsyncOS
/// octet range (`10.1.1.1-10`, `10.2.3.`). Several are comma separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpSpec {
    Cidr(IpAddr, u8),
    /// IPv4 octet ranges, inclusive, one per octet.
    Octets([(u8, u8); 4]),
}

/// A condition (AsyncOS: "rule").
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    True,
    Valid,
    Text(TextField, MatchOp, Pattern),
    /// `recv-listener == 'name'`: exact listener name.
    RecvListener(MatchOp, String),
    /// `recv-int == 'name'`: exact interface name.
    RecvInt(MatchOp, String),
    /// `remote-ip == '10.0.0.0/8, 192.168.1.1-20'`; `source` keeps the text.
    RemoteIp {
        op: MatchOp,
        source: String,
        specs: Vec<IpSpec>,
    },
    /// `header('X')` (presence) or `header('X') == 'regex'`.
    Header {
        name: String,
        test: Option<(MatchOp, Pattern)>,
    },
    Size(SizeField, CmpOp, u64),
    /// `body-contains('re'[, n])` and friends: at least `min` matches.
    Contains {
        scope: ContainsScope,
        pattern: Pattern,
        min: u32,
    },
    /// `attachment-type == 'image/*'`: MIME type glob, case-insensitive.
    AttachmentType(MatchOp, String),
    /// `date > 'MM/DD/YYYY HH:MM:SS'`, compared with the evaluation time (UTC).
    Date(CmpOp, NaiveDateTime),
    /// `random(n) < m`: a uniform number in `0..n`; bare `random(n)` is `random(n) == 0`.
    Random {
        range: u64,
        cmp: Option<(CmpOp, u64)>,
    },
    /// `smtp-auth-id-matches('*EnvelopeFrom'[, '+'])`.
    SmtpAuthIdMatches {
        target: String,
        sieve: Option<String>,
    },
    /// `addr-count('To', 'Cc') > 30`.
    AddrCount {
        headers: Vec<String>,
        op: CmpOp,
        count: u64,
    },
    /// `header-repeats('subject', 1000[, 'incoming'])`.
    HeaderRepeats {
        target: String,
        threshold: u64,
        direction: Option<String>,
    },
    /// `dnslist('zone')`: is the remote IP listed in the zone;
    /// `dnslist('zone') == '127.0.0.2'`: is that one of the addresses the
    /// zone answered (DNS lists encode the reason in the answer, RFC 5782).
    DnsList {
        zone: String,
        answer: Option<(MatchOp, IpAddr)>,
    },
    /// `spf-status == 'Pass'`, `spf-status('helo') == 'Fail, SoftFail'`:
    /// the identity (`mailfrom`, `helo`, `pra`; none: any of them) and the
    /// results as written, one or more comma separated (case-insensitive).
    SpfStatus {
        identity: Option<String>,
        op: MatchOp,
        results: String,
    },
    /// `spf-passed`: the SPF result is `Pass`.
    SpfPassed,
    /// `dkim-authentication == 'pass'`.
    DkimAuthentication(MatchOp, String),
    /// `mail-from-group == 'Group'`, `rcpt-to-group == 'Group'`: the
    /// envelope sender / any recipient is in that LDAP group.
    LdapGroup {
        field: GroupField,
        op: MatchOp,
        group: String,
    },
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

/// Actions that end filter processing for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalAction {
    Drop,
    Bounce,
    Deliver,
    SkipFilters,
}

impl FinalAction {
    pub fn keyword(self) -> &'static str {
        match self {
            FinalAction::Drop => "drop",
            FinalAction::Bounce => "bounce",
            FinalAction::Deliver => "deliver",
            FinalAction::SkipFilters => "skip-filters",
        }
    }
}

impl fmt::Display for FinalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// An action as written. String arguments are templates: action variables
/// (`$MID`, `$Header['X']`, ...) are expanded when the action runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Final(FinalAction),
    NoOp,
    StripHeader(String),
    InsertHeader {
        name: String,
        value: String,
    },
    EditHeaderText {
        name: String,
        pattern: Pattern,
        replacement: String,
    },
    EditBodyText {
        pattern: Pattern,
        replacement: String,
    },
    AddFooter(String),
    DropAttachmentsByName {
        pattern: Pattern,
        comment: Option<String>,
    },
    TagMessage(String),
    AltRcptTo(String),
    AltMailhost(String),
    AltSrcHost(String),
    /// `bcc`, `bcc-scan`, `notify`, `notify-copy`: recipient and optional
    /// subject, return path and (bcc) alternate mail host / (notify) template.
    Copy {
        kind: CopyKind,
        to: String,
        extra: Vec<String>,
    },
    Archive(String),
    Quarantine(String),
    DuplicateQuarantine(String),
    LogEntry(String),
    BounceProfile(String),
    SkipSpamcheck,
    SkipViruscheck,
}

/// The four "send a copy or a notice" actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyKind {
    Bcc,
    BccScan,
    Notify,
    NotifyCopy,
}

impl CopyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            CopyKind::Bcc => "bcc",
            CopyKind::BccScan => "bcc-scan",
            CopyKind::Notify => "notify",
            CopyKind::NotifyCopy => "notify-copy",
        }
    }

    /// How many optional arguments follow the address.
    pub fn max_extra(self) -> usize {
        3
    }
}
