//! Message filters, mail policies, local quarantines and the filter
//! archive, as they are stored in the configuration.
//!
//! Filters are stored as canonical source text (what `filters::print`
//! emits for one filter), not as a syntax tree: the tree holds compiled
//! regexes, and the text is what an administrator reads back with `filters
//! detail` and `export`. The work queue parses the committed list once per
//! commit (see `workqueue::processing`).
//!
//! Mail policies follow AsyncOS: an incoming table (messages received on a
//! public listener) and an outgoing table (private listeners), each a list
//! of custom policies read top to bottom and a DEFAULT policy that matches
//! what nothing else did. A policy matches a recipient of a message when
//! one of its sender members matches the envelope sender or one of its
//! recipient members matches the recipient.

use serde::{Deserialize, Serialize};

/// One message filter: its name, whether it runs, and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFilterConfig {
    pub name: String,
    pub active: bool,
    /// Canonical source of this one filter (printed active; `active`
    /// above says whether it runs).
    pub source: String,
}

/// Which side of the envelope a policy member looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberSide {
    Sender,
    Recipient,
}

impl MemberSide {
    pub fn word(self) -> &'static str {
        match self {
            MemberSide::Sender => "sender",
            MemberSide::Recipient => "recipient",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sender" | "from" => Some(MemberSide::Sender),
            "recipient" | "rcpt" | "to" => Some(MemberSide::Recipient),
            _ => None,
        }
    }
}

/// One member of a mail policy, as typed: `user@example.com`, `user@`,
/// `example.com` or `@example.com` (the domain), `.example.com` or
/// `@.example.com` (its subdomains).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMember {
    pub side: MemberSide,
    pub pattern: String,
}

/// Threat Defense Connector setting of a mail policy (used by the TDC
/// issue): send a copy to the global Message Intake Address, to a custom
/// one, or not at all; a custom policy may instead follow DEFAULT's
/// setting (AsyncOS's "Use Default Settings", listed as `(use default)`).
///
/// `UseDefault` is the last variant because postcard stores the variant
/// index: appending keeps every stored configuration readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ThreatDefense {
    Global,
    Custom(String),
    #[default]
    No,
    /// Whatever the DEFAULT policy does (custom policies only; see
    /// [`MailPolicyTable::threat_defense`]).
    UseDefault,
}

impl ThreatDefense {
    pub fn label(&self) -> String {
        match self {
            ThreatDefense::Global => "Use global Message Intake Address".to_string(),
            ThreatDefense::Custom(a) => format!("Custom Message Intake Address {a}"),
            ThreatDefense::No => "No".to_string(),
            ThreatDefense::UseDefault => "Use Default Settings".to_string(),
        }
    }

    /// The Incoming Mail Policies list's "Threat Defense Connector" column,
    /// in AsyncOS's words (seed 004's final view).
    pub fn column(&self) -> &'static str {
        match self {
            ThreatDefense::Global | ThreatDefense::Custom(_) => "Enabled",
            ThreatDefense::No => "Disabled",
            ThreatDefense::UseDefault => "(use default)",
        }
    }
}

/// Per-policy settings for the services after the filters. Anti-spam,
/// anti-virus and DKIM settings join here with their issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PolicySettings {
    pub threat_defense: ThreatDefense,
}

impl PolicySettings {
    /// What a new custom policy starts with: every service follows DEFAULT
    /// until the administrator sets it, as in AsyncOS.
    pub fn for_custom_policy() -> Self {
        PolicySettings {
            threat_defense: ThreatDefense::UseDefault,
        }
    }
}

/// A custom mail policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailPolicy {
    pub name: String,
    pub members: Vec<PolicyMember>,
    pub settings: PolicySettings,
}

/// The name of the policy that matches what no custom policy matched.
pub const DEFAULT_POLICY: &str = "DEFAULT";

/// An incoming or outgoing mail policy table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MailPolicyTable {
    /// Custom policies, first match wins.
    pub policies: Vec<MailPolicy>,
    /// The DEFAULT policy's settings.
    pub default: PolicySettings,
}

impl MailPolicyTable {
    /// The policy for one recipient: the first custom policy with a member
    /// matching, else DEFAULT.
    pub fn select(&self, sender: &str, recipient: &str) -> &str {
        self.policies
            .iter()
            .find(|p| {
                p.members.iter().any(|m| match m.side {
                    MemberSide::Sender => member_matches(&m.pattern, sender),
                    MemberSide::Recipient => member_matches(&m.pattern, recipient),
                })
            })
            .map_or(DEFAULT_POLICY, |p| p.name.as_str())
    }

    /// The Threat Defense Connector setting `settings` (a policy of this
    /// table) puts in force: DEFAULT's own when it says `UseDefault`.
    pub fn threat_defense<'a>(&'a self, settings: &'a PolicySettings) -> &'a ThreatDefense {
        match &settings.threat_defense {
            ThreatDefense::UseDefault => &self.default.threat_defense,
            own => own,
        }
    }

    /// A policy's settings by name (DEFAULT included).
    pub fn settings(&self, name: &str) -> Option<&PolicySettings> {
        if name.eq_ignore_ascii_case(DEFAULT_POLICY) {
            return Some(&self.default);
        }
        self.policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| &p.settings)
    }
}

/// Checks a member as typed; the error says what is accepted.
pub fn check_member(pattern: &str) -> Result<(), String> {
    let ok = !pattern.is_empty()
        && pattern.len() <= 254
        && pattern.chars().filter(|c| *c == '@').count() <= 1
        && pattern
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | '"'))
        && pattern != "@"
        && pattern != ".";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid member '{pattern}': use user@example.com, user@, example.com, @example.com, .example.com or @.example.com."
        ))
    }
}

/// Whether `address` matches the member `pattern` (case-insensitive).
pub fn member_matches(pattern: &str, address: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let a = address.to_ascii_lowercase();
    let (local, domain) = a.rsplit_once('@').unwrap_or(("", a.as_str()));
    match p.split_once('@') {
        // `user@`
        Some((user, "")) => !user.is_empty() && user == local,
        // `@example.com`, `@.example.com`
        Some(("", d)) => domain_matches(d, domain),
        // `user@example.com`
        Some(_) => p == a,
        None => domain_matches(&p, domain),
    }
}

fn domain_matches(pattern: &str, domain: &str) -> bool {
    match pattern.strip_prefix('.') {
        Some(_) => domain.ends_with(pattern),
        None => domain == pattern,
    }
}

/// What happens to the oldest messages of a full quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowAction {
    Release,
    Delete,
}

impl OverflowAction {
    pub fn word(self) -> &'static str {
        match self {
            OverflowAction::Release => "Release",
            OverflowAction::Delete => "Delete",
        }
    }
}

/// A local quarantine: held messages stay in the queue, not delivered,
/// until an administrator releases or deletes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineConfig {
    pub name: String,
    /// Held bytes at most; the oldest messages get `overflow` to make room.
    pub max_bytes: u64,
    /// How long a message is kept, in whole hours (rounded up when the
    /// period is set in minutes: see `quarantine_settings`).
    pub retention_hours: u32,
    /// AsyncOS's "Default Action": applied when a message's retention
    /// period ends and to the oldest messages of a full quarantine.
    pub overflow: OverflowAction,
}

impl QuarantineConfig {
    /// AsyncOS's predefined quarantines.
    pub fn predefined() -> Vec<QuarantineConfig> {
        let q = |name: &str, hours| QuarantineConfig {
            name: name.to_string(),
            max_bytes: 512 * 1024 * 1024,
            retention_hours: hours,
            overflow: OverflowAction::Release,
        };
        vec![
            q("Policy", 240),
            q("Virus", 720),
            q("Outbreak", 24),
            q(SPAM_QUARANTINE, 14 * 24),
        ]
    }
}

/// The quarantine anti-spam holds positive and suspected spam in.
pub const SPAM_QUARANTINE: &str = "Spam";

/// `archive()` mbox files under `<data-dir>/archive/`: each rotated when
/// it would pass `max_file_bytes`, at most `max_files` rotated files kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSettings {
    pub max_file_bytes: u64,
    pub max_files: u32,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_match_addresses_domains_subdomains_and_local_parts() {
        for (p, a, want) in [
            ("bob@example.com", "Bob@Example.com", true),
            ("bob@example.com", "bob@example.org", false),
            ("bob@", "bob@anything.example", true),
            ("bob@", "bobby@example.com", false),
            ("example.com", "x@example.com", true),
            ("@example.com", "x@example.com", true),
            ("example.com", "x@sub.example.com", false),
            (".example.com", "x@sub.example.com", true),
            ("@.example.com", "x@a.b.example.com", true),
            (".example.com", "x@example.com", false),
            (".example.com", "x@badexample.com", false),
        ] {
            assert_eq!(member_matches(p, a), want, "{p} vs {a}");
        }
        assert!(check_member("@.example.com").is_ok());
        assert!(check_member("a@b@c").is_err());
        assert!(check_member("bad member").is_err());
    }

    #[test]
    fn first_matching_policy_wins_and_default_takes_the_rest() {
        let m = |side, p: &str| PolicyMember {
            side,
            pattern: p.to_string(),
        };
        let table = MailPolicyTable {
            policies: vec![
                MailPolicy {
                    name: "SALES".into(),
                    members: vec![m(MemberSide::Recipient, "sales@")],
                    settings: PolicySettings::default(),
                },
                MailPolicy {
                    name: "PARTNER".into(),
                    members: vec![
                        m(MemberSide::Sender, ".partner.example"),
                        m(MemberSide::Recipient, "sales@example.com"),
                    ],
                    settings: PolicySettings::default(),
                },
            ],
            default: PolicySettings::default(),
        };
        assert_eq!(
            table.select("x@mx.partner.example", "sales@example.com"),
            "SALES"
        );
        assert_eq!(
            table.select("x@mx.partner.example", "bob@example.com"),
            "PARTNER"
        );
        assert_eq!(table.select("x@else.example", "bob@example.com"), "DEFAULT");
        assert!(table.settings("default").is_some());
        assert!(table.settings("nope").is_none());
    }

    #[test]
    fn a_custom_policy_uses_defaults_threat_defense_until_set() {
        let mut table = MailPolicyTable::default();
        let custom = PolicySettings::for_custom_policy();
        assert_eq!(table.threat_defense(&custom), &ThreatDefense::No);
        assert_eq!(custom.threat_defense.column(), "(use default)");
        table.default.threat_defense = ThreatDefense::Global;
        assert_eq!(table.threat_defense(&custom), &ThreatDefense::Global);
        let own = PolicySettings {
            threat_defense: ThreatDefense::Custom("t@intake.example".into()),
        };
        assert_eq!(table.threat_defense(&own), &own.threat_defense);
        assert_eq!(own.threat_defense.column(), "Enabled");
        assert_eq!(ThreatDefense::No.column(), "Disabled");
    }

    #[test]
    fn use_default_is_appended_so_stored_variants_keep_their_index() {
        // postcard stores the variant index: the three older variants must
        // read back exactly as before.
        for (td, index) in [
            (ThreatDefense::Global, 0u8),
            (ThreatDefense::No, 2),
            (ThreatDefense::UseDefault, 3),
        ] {
            let bytes = postcard::to_allocvec(&td).unwrap();
            assert_eq!(bytes, [index]);
            assert_eq!(postcard::from_bytes::<ThreatDefense>(&bytes).unwrap(), td);
        }
    }
}
