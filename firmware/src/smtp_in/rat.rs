//! The Recipient Access Table of a public listener: which recipients the
//! gateway accepts mail for. First match wins; a recipient no row matches is
//! rejected, which is what keeps a public listener from being an open relay.

use crate::config::{RatAction, RatEntry};

/// A parsed RAT address pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatPattern {
    All,
    Domain(String),
    /// `.example.com`: any subdomain of example.com (not example.com itself).
    Subdomain(String),
    /// `user@`: that local part at any domain.
    User(String),
    /// `user@example.com`.
    Address(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid recipient access table address '{0}'")]
pub struct RatPatternError(pub String);

impl RatPattern {
    pub fn parse(text: &str) -> Result<Self, RatPatternError> {
        let s = text.trim().to_ascii_lowercase();
        let err = || RatPatternError(text.to_string());
        let domain_ok = |d: &str| {
            !d.is_empty()
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.chars()
                            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
                })
        };
        if s == "all" {
            return Ok(RatPattern::All);
        }
        if let Some((user, domain)) = s.split_once('@') {
            if user.is_empty() || user.contains(char::is_whitespace) {
                return Err(err());
            }
            if domain.is_empty() {
                return Ok(RatPattern::User(user.to_string()));
            }
            if !domain_ok(domain) {
                return Err(err());
            }
            return Ok(RatPattern::Address(user.to_string(), domain.to_string()));
        }
        if let Some(d) = s.strip_prefix('.') {
            return if domain_ok(d) {
                Ok(RatPattern::Subdomain(d.to_string()))
            } else {
                Err(err())
            };
        }
        if domain_ok(&s) {
            Ok(RatPattern::Domain(s))
        } else {
            Err(err())
        }
    }

    /// `address` is an envelope recipient (`user@domain`).
    pub fn matches(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        let (user, domain) = address.rsplit_once('@').unwrap_or((address.as_str(), ""));
        match self {
            RatPattern::All => true,
            RatPattern::Domain(d) => domain == d,
            RatPattern::Subdomain(d) => {
                domain.len() > d.len()
                    && domain.ends_with(d.as_str())
                    && domain[..domain.len() - d.len()].ends_with('.')
            }
            RatPattern::User(u) => user == u,
            RatPattern::Address(u, d) => user == u && domain == d,
        }
    }
}

/// The RAT's answer for one recipient; `None` entry means no row matched.
pub fn lookup<'a>(rat: &'a [RatEntry], address: &str) -> Option<&'a RatEntry> {
    rat.iter()
        .find(|e| RatPattern::parse(&e.address).is_ok_and(|p| p.matches(address)))
}

/// True when the RAT accepts `address`.
pub fn accepts(rat: &[RatEntry], address: &str) -> bool {
    lookup(rat, address).is_some_and(|e| e.action == RatAction::Accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(address: &str, action: RatAction) -> RatEntry {
        RatEntry {
            address: address.into(),
            action,
            code: None,
            text: None,
            bypass_receiving_control: false,
        }
    }

    #[test]
    fn first_match_wins_and_unknown_domains_are_refused() {
        let rat = vec![
            entry("ceo@your_domain.com", RatAction::Reject),
            entry("your_domain.com", RatAction::Accept),
            entry(".sub.org", RatAction::Accept),
            entry("postmaster@", RatAction::Accept),
            entry("ALL", RatAction::Reject),
        ];
        assert!(accepts(&rat, "bob@your_domain.com"));
        assert!(accepts(&rat, "Bob@YOUR_DOMAIN.COM"));
        assert!(!accepts(&rat, "ceo@your_domain.com"));
        assert!(accepts(&rat, "x@a.sub.org"));
        assert!(!accepts(&rat, "x@sub.org"));
        assert!(accepts(&rat, "postmaster@anything.net"));
        assert!(!accepts(&rat, "victim@foreign.example"));
        assert!(!accepts(&[], "anyone@anywhere"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "@", "a b@x.com", ".", "x@bad..domain"] {
            assert!(RatPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
