//! The relay lint: relaying that any customer of a shared mail service
//! could use, and message filters that test a sender group which can
//! never match.
//!
//! Every Microsoft 365 tenant's outbound servers have a verified name
//! under `.protection.outlook.com`, so a sender group with that member and
//! a RELAY policy relays for every tenant, not only the administrator's.
//! The seeds close the hole with a message filter that drops relayed mail
//! without a shared-secret header (`X-OUTBOUND-AUTH`). Two slips make that
//! filter silently useless, and the seeds contain both: the filter tests
//! `sendergroup == "RELAYLIST"` while the guide creates `RELAY_O365`, and a
//! group added below another with the same members never matches (the
//! HAT is read top to bottom, first match wins).
//!
//! [`lint`] finds both from the configuration and the parsed filters, and
//! returns [`RelayFinding`]s whose `Display` is the sentence the CLI and
//! the console print. Nothing here refuses anything: the findings are
//! warnings at `filters new`/`import`, at `commit` and in the `systemsetup`
//! summary. What counts as a secret check is documented in
//! docs/filters.md ("The relay lint"); a group no listener defines is
//! reported by [`crate::filters::validate`], not here.
//!
//! Pure functions over the typed config and the filter syntax tree; no
//! I/O. Host members are read with the HAT's own parser
//! ([`HostMember`]), so the lint and the listener agree on what a member is.

use std::fmt;

use super::hat::HostMember;
use crate::filters::{Action, Condition, Filter, FinalAction, IfChain, MatchOp, Stmt, TextField};

use super::model::{Behavior, Config, ListenerConfig, SenderGroup};

/// A domain whose verified host names belong to a service many unrelated
/// customers send through: a sender group holding it (or a name under it)
/// matches every one of those customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedDomain {
    pub domain: &'static str,
    /// Whose customers share it, as the warning names them.
    pub customers: &'static str,
}

/// The shared sending infrastructures the lint knows. Kept short: each is
/// a place where the seeds or a common relay set-up put a verified-name
/// member, and where one customer cannot be told from another by name.
/// SPF `include:` names (`_spf.google.com`) are not HAT members and do
/// not belong here.
pub const SHARED_DOMAINS: &[SharedDomain] = &[
    // Exchange Online Protection: every tenant's outbound servers
    // (`*.outbound.protection.outlook.com` and friends).
    SharedDomain {
        domain: "protection.outlook.com",
        customers: "every Microsoft 365 tenant",
    },
    // Gmail and Google Workspace (its SMTP relay service included) send
    // from `mail-*.google.com`.
    SharedDomain {
        domain: "google.com",
        customers: "every Google Workspace and Gmail customer",
    },
    // Amazon SES: `*.smtp-out.amazonses.com`, shared by every SES account.
    SharedDomain {
        domain: "amazonses.com",
        customers: "every Amazon SES customer",
    },
];

/// The header the seeds' filter checks and the `systemsetup` offer uses.
pub const SECRET_HEADER: &str = "X-OUTBOUND-AUTH";
/// The seeds' name for that filter.
pub const SECRET_FILTER_NAME: &str = "office365_outbound";
/// A shorter secret is within reach of guessing by a tenant who can send
/// many messages; 16 letters and digits are about 95 bits.
pub const MIN_SECRET_LEN: usize = 16;
/// Longer than any header value a transport rule needs.
pub const MAX_SECRET_LEN: usize = 128;

/// Why a filter's sender group can never match on a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeverMatches {
    /// The group has no members. `relaying` names the listener's groups
    /// that do relay (with members), where the hosts probably are.
    Empty { relaying: Vec<String> },
    /// Earlier groups on the listener match every member of this one.
    /// `by` holds each such group with its 1-based HAT order; `same` when
    /// it is one group with exactly the same members.
    Shadowed {
        order: usize,
        by: Vec<(String, usize)>,
        same: bool,
    },
}

/// One thing the lint found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayFinding {
    /// A RELAY sender group holds a shared domain and no active filter
    /// checks a secret header for it.
    UnguardedSharedRelay {
        listener: String,
        group: String,
        /// The member as the administrator typed it.
        member: String,
        shared: SharedDomain,
    },
    /// An active filter tests `sendergroup == <pattern>` and every group
    /// the pattern names on `listener` can never match there.
    GroupNeverMatches {
        filter: String,
        group: String,
        listener: String,
        why: NeverMatches,
    },
}

impl RelayFinding {
    /// The filter the finding is about, if it is about one.
    pub fn filter(&self) -> Option<&str> {
        match self {
            RelayFinding::GroupNeverMatches { filter, .. } => Some(filter),
            RelayFinding::UnguardedSharedRelay { .. } => None,
        }
    }
}

impl fmt::Display for RelayFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayFinding::UnguardedSharedRelay {
                listener,
                group,
                member,
                shared,
            } => write!(
                f,
                "{listener} relays for sender group {group}, whose member {member} matches the \
                 servers of {}, and no active filter checks a secret header for {group} \
                 (see \"Guard the relay\" in docs/microsoft-365.md)",
                shared.customers
            ),
            RelayFinding::GroupNeverMatches {
                filter,
                group,
                listener,
                why,
            } => {
                write!(
                    f,
                    "filter '{filter}' checks sendergroup {group}, which never matches on {listener}: "
                )?;
                match why {
                    NeverMatches::Empty { relaying } if relaying.is_empty() => {
                        write!(f, "{group} has no members")
                    }
                    NeverMatches::Empty { relaying } => write!(
                        f,
                        "{group} has no members; the hosts {listener} relays for are in {}",
                        relaying.join(", ")
                    ),
                    NeverMatches::Shadowed { by, same, .. } => {
                        let names: Vec<String> = by
                            .iter()
                            .map(|(g, order)| format!("{g} (order {order})"))
                            .collect();
                        match (by.len(), same) {
                            (1, true) => {
                                write!(f, "{} has the same members and comes first", names[0])
                            }
                            (1, false) => write!(
                                f,
                                "{} comes first and matches every member of {group}",
                                names[0]
                            ),
                            _ => write!(
                                f,
                                "{} come first and match every member of {group}",
                                names.join(" and ")
                            ),
                        }
                    }
                }
            }
        }
    }
}

/// Everything the lint finds in `cfg` with its filters parsed (`filters`,
/// in the order they run, with their active flags): first the filters'
/// dead sender groups, in filter order, then the unguarded relays, in
/// listener and HAT order.
pub fn lint(cfg: &Config, filters: &[Filter]) -> Vec<RelayFinding> {
    let mut out = Vec::new();
    for filter in filters.iter().filter(|f| f.active) {
        for finding in dead_groups(cfg, filter) {
            if !out.contains(&finding) {
                out.push(finding);
            }
        }
    }
    for listener in &cfg.listeners {
        for (i, group) in listener.hat.iter().enumerate() {
            if !relays(listener, group) || never_matches(listener, i).is_some() {
                continue;
            }
            let Some((member, shared)) = group
                .members
                .iter()
                .find_map(|m| shared_domain(m).map(|s| (m.as_str().to_string(), s)))
            else {
                continue;
            };
            if !guarded(filters, listener, &group.name) {
                out.push(RelayFinding::UnguardedSharedRelay {
                    listener: listener.name.clone(),
                    group: group.name.clone(),
                    member,
                    shared,
                });
            }
        }
    }
    out
}

/// The shared domain a sender-group member covers or lies under:
/// `.protection.outlook.com`, `.outbound.protection.outlook.com`,
/// `.outlook.com` and `mail-x.protection.outlook.com` all match Microsoft
/// 365's. `None` for addresses, `ALL` and other names.
pub fn shared_domain(member: &str) -> Option<SharedDomain> {
    let under = |name: &str, domain: &str| {
        name == domain
            || name
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.'))
    };
    match HostMember::parse(member).ok()? {
        HostMember::DomainSuffix(d) => SHARED_DOMAINS
            .iter()
            .find(|s| under(&d, s.domain) || under(s.domain, &d))
            .copied(),
        HostMember::Hostname(h) => SHARED_DOMAINS
            .iter()
            .find(|s| h != s.domain && under(&h, s.domain))
            .copied(),
        _ => None,
    }
}

/// Whether a group's connections may relay (its policy is RELAY).
fn relays(listener: &ListenerConfig, group: &SenderGroup) -> bool {
    listener
        .policy(&group.policy)
        .is_some_and(|p| p.behavior == Behavior::Relay)
}

/// Why the `index`th group of `listener`'s HAT can never match, if so.
pub fn never_matches(listener: &ListenerConfig, index: usize) -> Option<NeverMatches> {
    let group = listener.hat.get(index)?;
    let members = parsed(group);
    if members.is_empty() {
        let relaying = listener
            .hat
            .iter()
            .enumerate()
            .filter(|(i, g)| {
                *i != index && relays(listener, g) && !parsed(g).is_empty() && g.name != "ALL"
            })
            .map(|(_, g)| g.name.clone())
            .collect();
        return Some(NeverMatches::Empty { relaying });
    }
    let earlier: Vec<(usize, Vec<HostMember>)> = listener.hat[..index]
        .iter()
        .enumerate()
        .map(|(i, g)| (i, parsed(g)))
        .collect();
    let mut by: Vec<usize> = Vec::new();
    for m in &members {
        let first = earlier
            .iter()
            .find(|(_, ms)| ms.iter().any(|e| covers(e, m)))?;
        if !by.contains(&first.0) {
            by.push(first.0);
        }
    }
    by.sort_unstable();
    let same = match by.as_slice() {
        [only] => {
            let theirs = &earlier[*only].1;
            theirs.len() == members.len() && theirs.iter().all(|t| members.contains(t))
        }
        _ => false,
    };
    Some(NeverMatches::Shadowed {
        order: index + 1,
        by: by
            .into_iter()
            .map(|i| (listener.hat[i].name.clone(), i + 1))
            .collect(),
        same,
    })
}

/// A group's members that parse (staging refuses the others).
fn parsed(group: &SenderGroup) -> Vec<HostMember> {
    group
        .members
        .iter()
        .filter_map(|m| m.member().cloned())
        .collect()
}

/// Whether every client `b` matches is matched by `a` too.
fn covers(a: &HostMember, b: &HostMember) -> bool {
    let under = |name: &str, domain: &str| {
        name.strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
    };
    match (a, b) {
        _ if a == b => true,
        (HostMember::All, _) => true,
        (_, HostMember::Address(ip)) => a.matches(*ip, None),
        (HostMember::Cidr(_, outer), HostMember::Cidr(net, inner)) => {
            inner >= outer && a.matches(*net, None)
        }
        (HostMember::DomainSuffix(d), HostMember::DomainSuffix(e))
        | (HostMember::DomainSuffix(d), HostMember::Hostname(e)) => under(e, d),
        _ => false,
    }
}

/// The `sendergroup == "…"` tests of an active filter whose groups can
/// never match on a listener where the pattern names a group.
fn dead_groups(cfg: &Config, filter: &Filter) -> Vec<RelayFinding> {
    let mut patterns = Vec::new();
    for_each_condition(&filter.body, &mut |c| group_tests(c, false, &mut patterns));
    let mut out = Vec::new();
    for pattern in patterns {
        for listener in &cfg.listeners {
            let named: Vec<usize> = (0..listener.hat.len())
                .filter(|&i| pattern.is_match(&listener.hat[i].name))
                .collect();
            let dead: Vec<(usize, NeverMatches)> = named
                .iter()
                .filter_map(|&i| never_matches(listener, i).map(|why| (i, why)))
                .collect();
            // One live group is enough for the test to mean something here.
            if named.is_empty() || dead.len() < named.len() {
                continue;
            }
            for (i, why) in dead {
                out.push(RelayFinding::GroupNeverMatches {
                    filter: filter.name.clone(),
                    group: listener.hat[i].name.clone(),
                    listener: listener.name.clone(),
                    why,
                });
            }
        }
    }
    out
}

fn for_each_condition<'a>(stmts: &'a [Stmt], f: &mut impl FnMut(&'a Condition)) {
    for s in stmts {
        if let Stmt::If(chain) = s {
            for (c, block) in &chain.branches {
                f(c);
                for_each_condition(block, f);
            }
            if let Some(block) = &chain.otherwise {
                for_each_condition(block, f);
            }
        }
    }
}

/// The patterns a condition asks a message's sender group to match
/// (`sendergroup == P`, or `sendergroup != P` under a `not`).
fn group_tests<'a>(c: &'a Condition, negated: bool, out: &mut Vec<&'a crate::filters::Pattern>) {
    match c {
        Condition::Text(TextField::SenderGroup, op, p) if (*op == MatchOp::Eq) != negated => {
            out.push(p)
        }
        Condition::Not(a) => group_tests(a, !negated, out),
        Condition::And(a, b) | Condition::Or(a, b) => {
            group_tests(a, negated, out);
            group_tests(b, negated, out);
        }
        _ => {}
    }
}

/// What a condition is for every message of one sender group on one
/// listener, before looking at the message itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    Always,
    Never,
    Maybe,
}

impl Truth {
    fn of(b: bool) -> Truth {
        if b { Truth::Always } else { Truth::Never }
    }

    fn not(self) -> Truth {
        match self {
            Truth::Always => Truth::Never,
            Truth::Never => Truth::Always,
            Truth::Maybe => Truth::Maybe,
        }
    }
}

/// The sender group and listener a message came through.
struct Origin<'a> {
    listener: &'a ListenerConfig,
    group: &'a str,
}

impl Origin<'_> {
    fn truth(&self, c: &Condition) -> Truth {
        let op = |op: &MatchOp, b: bool| Truth::of((*op == MatchOp::Eq) == b);
        match c {
            Condition::True => Truth::Always,
            Condition::Text(TextField::SenderGroup, o, p) => op(o, p.is_match(self.group)),
            Condition::RecvListener(o, name) => op(o, *name == self.listener.name),
            Condition::RecvInt(o, name) => op(o, *name == self.listener.interface),
            Condition::Not(a) => self.truth(a).not(),
            Condition::And(a, b) => match (self.truth(a), self.truth(b)) {
                (Truth::Never, _) | (_, Truth::Never) => Truth::Never,
                (Truth::Always, Truth::Always) => Truth::Always,
                _ => Truth::Maybe,
            },
            Condition::Or(a, b) => match (self.truth(a), self.truth(b)) {
                (Truth::Always, _) | (_, Truth::Always) => Truth::Always,
                (Truth::Never, Truth::Never) => Truth::Never,
                _ => Truth::Maybe,
            },
            _ => Truth::Maybe,
        }
    }

    /// `header("N") == "P"` with a `P` that a missing or empty header does
    /// not satisfy: true when the secret matches.
    fn secret_matches(&self, c: &Condition) -> bool {
        match c {
            Condition::Header {
                test: Some((MatchOp::Eq, p)),
                ..
            } => !p.is_match(""),
            Condition::Not(a) => self.secret_differs(a),
            Condition::And(a, b) => {
                (self.truth(a) == Truth::Always && self.secret_matches(b))
                    || (self.truth(b) == Truth::Always && self.secret_matches(a))
            }
            _ => false,
        }
    }

    /// The negation: true when the secret does not match.
    fn secret_differs(&self, c: &Condition) -> bool {
        match c {
            Condition::Header {
                test: Some((MatchOp::Ne, p)),
                ..
            } => !p.is_match(""),
            Condition::Not(a) => self.secret_matches(a),
            Condition::And(a, b) => {
                (self.truth(a) == Truth::Always && self.secret_differs(b))
                    || (self.truth(b) == Truth::Always && self.secret_differs(a))
            }
            _ => false,
        }
    }
}

/// What following a list of statements found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every message of the group meets a secret check that drops or
    /// bounces it on a mismatch.
    Guarded,
    /// A `deliver()` or `skip-filters()` may end filtering first.
    Escaped,
    /// Neither: later statements and filters still run.
    Open,
}

/// Whether the active filters, in order, check a secret header for every
/// message `group` relays on `listener`. See docs/filters.md for the rule.
pub fn guarded(filters: &[Filter], listener: &ListenerConfig, group: &str) -> bool {
    let origin = Origin { listener, group };
    for f in filters.iter().filter(|f| f.active) {
        match walk(&origin, &f.body) {
            Walk::Guarded => return true,
            Walk::Escaped => return false,
            Walk::Open => {}
        }
    }
    false
}

fn walk(o: &Origin<'_>, stmts: &[Stmt]) -> Walk {
    for s in stmts {
        let step = match s {
            Stmt::Action(Action::Final(FinalAction::Deliver | FinalAction::SkipFilters)) => {
                Walk::Escaped
            }
            Stmt::Action(_) => Walk::Open,
            Stmt::If(chain) => walk_chain(o, chain),
        };
        if step != Walk::Open {
            return step;
        }
    }
    Walk::Open
}

fn walk_chain(o: &Origin<'_>, chain: &IfChain) -> Walk {
    let live: Vec<(&Condition, &Vec<Stmt>, Truth)> = chain
        .branches
        .iter()
        .map(|(c, b)| (c, b, o.truth(c)))
        .filter(|(_, _, t)| *t != Truth::Never)
        .collect();
    for (i, (c, block, truth)) in live.iter().enumerate() {
        if *truth == Truth::Always {
            // Later branches and `else` are never reached.
            return walk(o, block);
        }
        if o.secret_differs(c) && refuses(block) {
            return Walk::Guarded;
        }
        let last = i + 1 == live.len();
        if last && o.secret_matches(c) && chain.otherwise.as_deref().is_some_and(refuses) {
            return Walk::Guarded;
        }
        if escapes(block) {
            return Walk::Escaped;
        }
    }
    match &chain.otherwise {
        // Every branch is false for the group: the `else` always runs.
        Some(block) if live.is_empty() => walk(o, block),
        Some(block) if escapes(block) => Walk::Escaped,
        _ => Walk::Open,
    }
}

/// A block that drops or bounces the message (at its top level).
fn refuses(block: &[Stmt]) -> bool {
    block.iter().any(|s| {
        matches!(
            s,
            Stmt::Action(Action::Final(FinalAction::Drop | FinalAction::Bounce))
        )
    })
}

/// Whether `deliver()` or `skip-filters()` appears anywhere in `stmts`.
fn escapes(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Action(a) => matches!(
            a,
            Action::Final(FinalAction::Deliver | FinalAction::SkipFilters)
        ),
        Stmt::If(chain) => {
            chain.branches.iter().any(|(_, b)| escapes(b))
                || chain.otherwise.as_deref().is_some_and(escapes)
        }
    })
}

/// Why a shared secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret must be at least {MIN_SECRET_LEN} characters long")]
    TooShort,
    #[error("the secret must be at most {MAX_SECRET_LEN} characters long")]
    TooLong,
    #[error(
        "the secret may hold letters, digits, '-' and '_' only ('{0}' is a regular-expression or header character)"
    )]
    Character(char),
}

/// Checks a shared secret for the header filter. The seeds warn against
/// special characters: the value sits in a regular expression between `^`
/// and `$`, and Microsoft 365's rule editor and the header line must carry
/// it unchanged.
pub fn check_secret(secret: &str) -> Result<(), SecretError> {
    if let Some(c) = secret
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(SecretError::Character(c));
    }
    match secret.len() {
        n if n < MIN_SECRET_LEN => Err(SecretError::TooShort),
        n if n > MAX_SECRET_LEN => Err(SecretError::TooLong),
        _ => Ok(()),
    }
}

/// The seeds' shared-secret filter for `group`, as `filters new` takes it
/// (ended by a line holding `.`): keep and strip the header when it holds
/// the secret, drop the message otherwise. The group is matched exactly,
/// so a `RELAYLIST2` is not taken for `RELAYLIST`.
pub fn secret_filter_script(name: &str, group: &str, secret: &str) -> Result<String, SecretError> {
    check_secret(secret)?;
    let header = crate::filters::quote(SECRET_HEADER);
    let group = crate::filters::quote(&format!("^{}$", regex::escape(group)));
    Ok(format!(
        "{name}: if sendergroup == {group} {{\n  if header({header}) == \"^{secret}$\" {{\n    strip-header({header});\n  }} else {{\n    drop();\n  }}\n}}\n.\n"
    ))
}

#[cfg(test)]
mod tests;
