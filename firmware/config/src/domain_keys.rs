//! DKIM signing of outgoing mail (`domainkeysconfig`, AsyncOS's "Domain
//! Keys" pages): signing keys, signing profiles per domain, and which
//! (listener, mail flow policy) pairs have "Domain Key/DKIM Signing" on.
//!
//! Kept in one struct at the end of [`crate::Config`] because the stored
//! config is positional and [`crate::MailFlowPolicy`] cannot gain a field;
//! the listener commands call [`DomainKeys::rename_policy`] /
//! [`DomainKeys::forget_policy`] / [`DomainKeys::forget_listener`] so the
//! per-policy switches follow a renamed or deleted policy.
//!
//! Private keys are secrets: `saveconfig`/`showconfig` mask them unless the
//! administrator asks for them (see the control plane's `masked`).

use serde::{Deserialize, Serialize};

/// The headers AsyncOS signs by default (its "Headers to sign: Standard"
/// list), in its order. Only those present in a message are signed.
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// Largest message signed (bytes), as the default maximum message size of
/// a mail flow policy (10 MB): signing reads the whole body once.
pub const DEFAULT_MAX_SIGNED_BYTES: u64 = 10 * 1024 * 1024;

/// Most keys and most profiles (the command refuses more).
pub const MAX_KEYS: usize = 100;
pub const MAX_PROFILES: usize = 100;
/// Most "users" entries of one profile.
pub const MAX_PROFILE_USERS: usize = 1000;

/// Everything `domainkeysconfig` sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DomainKeys {
    pub keys: Vec<SigningKey>,
    pub profiles: Vec<SigningProfile>,
    /// The (listener, mail flow policy) pairs whose "Domain Key/DKIM
    /// Signing" is On. AsyncOS's default for every flow policy is Off.
    pub signing_policies: Vec<SigningPolicy>,
    /// Messages larger than this are delivered unsigned (logged).
    pub max_signed_bytes: u64,
}

impl Default for DomainKeys {
    fn default() -> Self {
        DomainKeys {
            keys: Vec::new(),
            profiles: Vec::new(),
            signing_policies: Vec::new(),
            max_signed_bytes: DEFAULT_MAX_SIGNED_BYTES,
        }
    }
}

/// A signing key: generated on the box or imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub name: String,
    pub algorithm: KeyAlgorithm,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_pem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSA, signed with rsa-sha256.
    Rsa,
    /// Ed25519 (RFC 8463), signed with ed25519-sha256.
    Ed25519,
}

impl KeyAlgorithm {
    /// The DNS record's `k=` tag.
    pub fn dns_tag(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "rsa",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Canonicalization {
    Simple,
    Relaxed,
}

impl Canonicalization {
    pub fn name(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "simple" => Some(Canonicalization::Simple),
            "relaxed" => Some(Canonicalization::Relaxed),
            _ => None,
        }
    }
}

/// A signing profile: mail whose From address matches `users` in
/// `domain` is signed `d=domain s=selector` with `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningProfile {
    pub name: String,
    pub domain: String,
    pub selector: String,
    /// A [`SigningKey`]'s name.
    pub key: String,
    pub header_canonicalization: Canonicalization,
    pub body_canonicalization: Canonicalization,
    /// Header names to sign (those present are signed).
    pub headers: Vec<String>,
    /// The users the profile signs for: empty is every address in
    /// `domain` (and its subdomains); otherwise addresses
    /// (`user@example.com`), domains (`example.com`) or subdomain
    /// patterns (`.example.com`).
    pub users: Vec<String>,
}

impl SigningProfile {
    /// A profile with AsyncOS's defaults: relaxed/relaxed, the standard
    /// header list, every user of the domain, no body length.
    pub fn new(name: &str, domain: &str, selector: &str, key: &str) -> Self {
        SigningProfile {
            name: name.to_string(),
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_string(),
            key: key.to_string(),
            header_canonicalization: Canonicalization::Relaxed,
            body_canonicalization: Canonicalization::Relaxed,
            headers: DEFAULT_SIGNED_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            users: Vec::new(),
        }
    }

    /// Whether this profile signs mail from `address` (`user@domain`).
    pub fn matches(&self, address: &str) -> bool {
        let Some((_, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_ascii_lowercase();
        if self.users.is_empty() {
            return domain == self.domain || domain.ends_with(&format!(".{}", self.domain));
        }
        self.users.iter().any(|u| {
            let u = u.to_ascii_lowercase();
            if u.contains('@') {
                u.eq_ignore_ascii_case(address)
            } else if let Some(suffix) = u.strip_prefix('.') {
                domain.ends_with(&format!(".{suffix}"))
            } else {
                domain == u
            }
        })
    }
}

/// "Domain Key/DKIM Signing: On" for one mail flow policy of a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningPolicy {
    pub listener: String,
    pub policy: String,
}

/// A value `domainkeysconfig` cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainKeysError {
    #[error("'{0}' is not a valid name (letters, digits, '-', '_', '.'; at most 64).")]
    BadName(String),
    #[error("'{0}' is not a valid domain.")]
    BadDomain(String),
    #[error("'{0}' is not a valid selector (DNS labels separated by '.').")]
    BadSelector(String),
    #[error("'{0}' is not a valid header name.")]
    BadHeader(String),
    #[error("'{0}' is not an address, a domain or a .subdomain pattern.")]
    BadUser(String),
    #[error("Signing profile {profile}: no signing key named {key}.")]
    NoSuchKey { profile: String, key: String },
    #[error("Signing profile {0}: the header list must include From.")]
    FromNotSigned(String),
    #[error("Duplicate name {0}.")]
    Duplicate(String),
}

/// A key, profile name: what AsyncOS accepts, bounded.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// A domain name (`example.com`): at least two labels.
pub fn valid_domain(d: &str) -> bool {
    d.len() <= 253 && d.contains('.') && d.split('.').all(valid_label)
}

/// A selector: one or more DNS labels.
pub fn valid_selector(s: &str) -> bool {
    s.len() <= 63 && s.split('.').all(valid_label)
}

pub fn valid_header(h: &str) -> bool {
    !h.is_empty() && h.len() <= 76 && h.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

pub fn valid_user(u: &str) -> bool {
    match u.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && local.bytes().all(|b| b.is_ascii_graphic())
                && valid_domain(domain)
        }
        None => valid_domain(u.strip_prefix('.').unwrap_or(u)),
    }
}

impl DomainKeys {
    pub fn key(&self, name: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.name.eq_ignore_ascii_case(name))
    }

    pub fn profile(&self, name: &str) -> Option<&SigningProfile> {
        self.profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether mail received on `listener` under flow policy `policy` is
    /// signed.
    pub fn signs(&self, listener: &str, policy: &str) -> bool {
        self.signing_policies.iter().any(|s| {
            s.listener.eq_ignore_ascii_case(listener) && s.policy.eq_ignore_ascii_case(policy)
        })
    }

    /// Turns signing on or off for one (listener, flow policy).
    pub fn set_signing(&mut self, listener: &str, policy: &str, on: bool) {
        self.signing_policies.retain(|s| {
            !(s.listener.eq_ignore_ascii_case(listener) && s.policy.eq_ignore_ascii_case(policy))
        });
        if on {
            self.signing_policies.push(SigningPolicy {
                listener: listener.to_string(),
                policy: policy.to_string(),
            });
        }
    }

    /// The profile that signs mail from `address`: the first in order
    /// whose users match (a specific address before a whole domain, as
    /// AsyncOS: profiles naming users are tried first).
    pub fn profile_for(&self, address: &str) -> Option<&SigningProfile> {
        self.profiles
            .iter()
            .filter(|p| !p.users.is_empty())
            .chain(self.profiles.iter().filter(|p| p.users.is_empty()))
            .find(|p| p.matches(address))
    }

    /// A mail flow policy renamed (`listenerconfig edit L hostaccess ...`).
    pub fn rename_policy(&mut self, listener: &str, from: &str, to: &str) {
        for s in &mut self.signing_policies {
            if s.listener.eq_ignore_ascii_case(listener) && s.policy.eq_ignore_ascii_case(from) {
                s.policy = to.to_string();
            }
        }
    }

    /// A mail flow policy deleted.
    pub fn forget_policy(&mut self, listener: &str, policy: &str) {
        self.set_signing(listener, policy, false);
    }

    /// A listener renamed.
    pub fn rename_listener(&mut self, from: &str, to: &str) {
        for s in &mut self.signing_policies {
            if s.listener.eq_ignore_ascii_case(from) {
                s.listener = to.to_string();
            }
        }
    }

    /// A listener deleted.
    pub fn forget_listener(&mut self, listener: &str) {
        self.signing_policies
            .retain(|s| !s.listener.eq_ignore_ascii_case(listener));
    }

    /// Every name valid, unique, every profile's key present.
    pub fn validate(&self) -> Result<(), DomainKeysError> {
        let mut seen = std::collections::BTreeSet::new();
        for k in &self.keys {
            if !valid_name(&k.name) {
                return Err(DomainKeysError::BadName(k.name.clone()));
            }
            if !seen.insert(format!("k:{}", k.name.to_ascii_lowercase())) {
                return Err(DomainKeysError::Duplicate(k.name.clone()));
            }
        }
        for p in &self.profiles {
            if !valid_name(&p.name) {
                return Err(DomainKeysError::BadName(p.name.clone()));
            }
            if !seen.insert(format!("p:{}", p.name.to_ascii_lowercase())) {
                return Err(DomainKeysError::Duplicate(p.name.clone()));
            }
            if !valid_domain(&p.domain) {
                return Err(DomainKeysError::BadDomain(p.domain.clone()));
            }
            if !valid_selector(&p.selector) {
                return Err(DomainKeysError::BadSelector(p.selector.clone()));
            }
            if self.key(&p.key).is_none() {
                return Err(DomainKeysError::NoSuchKey {
                    profile: p.name.clone(),
                    key: p.key.clone(),
                });
            }
            if let Some(h) = p.headers.iter().find(|h| !valid_header(h)) {
                return Err(DomainKeysError::BadHeader(h.clone()));
            }
            if !p.headers.iter().any(|h| h.eq_ignore_ascii_case("From")) {
                return Err(DomainKeysError::FromNotSigned(p.name.clone()));
            }
            if let Some(u) = p.users.iter().find(|u| !valid_user(u)) {
                return Err(DomainKeysError::BadUser(u.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_profile(users: &[&str]) -> DomainKeys {
        let mut dk = DomainKeys::default();
        dk.keys.push(SigningKey {
            name: "k1".into(),
            algorithm: KeyAlgorithm::Rsa,
            private_pem: "PEM".into(),
        });
        let mut p = SigningProfile::new("p1", "example.com", "sel", "k1");
        p.users = users.iter().map(|u| u.to_string()).collect();
        dk.profiles.push(p);
        dk
    }

    #[test]
    fn a_profile_without_users_signs_its_domain_and_subdomains() {
        let dk = with_profile(&[]);
        assert!(dk.profile_for("a@example.com").is_some());
        assert!(dk.profile_for("a@EXAMPLE.com").is_some());
        assert!(dk.profile_for("a@mail.example.com").is_some());
        assert!(dk.profile_for("a@badexample.com").is_none());
        assert!(dk.profile_for("nobody").is_none());
    }

    #[test]
    fn users_narrow_a_profile_and_specific_profiles_come_first() {
        let mut dk = with_profile(&["ceo@example.com", ".sub.example.com"]);
        assert!(dk.profile_for("ceo@example.com").is_some());
        assert!(dk.profile_for("a@x.sub.example.com").is_some());
        assert!(dk.profile_for("other@example.com").is_none());
        dk.profiles
            .insert(0, SigningProfile::new("all", "example.com", "s2", "k1"));
        assert_eq!(dk.profile_for("ceo@example.com").unwrap().name, "p1");
        assert_eq!(dk.profile_for("other@example.com").unwrap().name, "all");
    }

    #[test]
    fn signing_is_off_by_default_and_follows_renames_and_deletes() {
        let mut dk = DomainKeys::default();
        assert!(!dk.signs("OutgoingMail", "RELAYED"));
        dk.set_signing("OutgoingMail", "RELAYED", true);
        assert!(dk.signs("outgoingmail", "relayed"));
        dk.rename_policy("OutgoingMail", "RELAYED", "RELAY2");
        assert!(dk.signs("OutgoingMail", "RELAY2"));
        dk.rename_listener("OutgoingMail", "Out");
        assert!(dk.signs("Out", "RELAY2"));
        dk.forget_policy("Out", "RELAY2");
        assert!(!dk.signs("Out", "RELAY2"));
        dk.set_signing("Out", "RELAYED", true);
        dk.forget_listener("Out");
        assert!(dk.signing_policies.is_empty());
    }

    #[test]
    fn validation_refuses_bad_values() {
        assert_eq!(with_profile(&[]).validate(), Ok(()));
        let mut dk = with_profile(&[]);
        dk.profiles[0].key = "nokey".into();
        assert!(matches!(
            dk.validate(),
            Err(DomainKeysError::NoSuchKey { .. })
        ));
        let mut dk = with_profile(&["not an address"]);
        assert!(matches!(dk.validate(), Err(DomainKeysError::BadUser(_))));
        dk.profiles[0].users.clear();
        dk.profiles[0].selector = "bad selector".into();
        assert!(matches!(
            dk.validate(),
            Err(DomainKeysError::BadSelector(_))
        ));
        let mut dk = with_profile(&[]);
        dk.profiles[0].headers = vec!["Subject".into()];
        assert!(matches!(
            dk.validate(),
            Err(DomainKeysError::FromNotSigned(_))
        ));
    }
}
