//! The Recipient Access Table of a public listener: which recipients the
//! gateway accepts mail for. First match wins; a recipient no row matches is
//! rejected, which is what keeps a public listener from being an open relay.

use crate::address::{Domain, Mailbox};
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
        let s = text.trim().to_lowercase();
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

    /// `address` is an envelope recipient as text (`user@domain`, as the
    /// CLI's `trace` takes it). It is parsed first, so a quoted local part
    /// holding `@` never lends the match a domain from inside the quotes;
    /// text that is not an address matches nothing but `ALL`.
    pub fn matches(&self, address: &str) -> bool {
        match Mailbox::parse(address, true) {
            Ok(m) => self.matches_mailbox(&m),
            Err(_) => *self == RatPattern::All,
        }
    }

    /// The match itself, on the typed recipient. Domains are compared in
    /// their canonical form (lowercased, no trailing dot); local parts by
    /// their unquoted text, case-insensitively as AsyncOS does.
    pub fn matches_mailbox(&self, mailbox: &Mailbox) -> bool {
        let user = mailbox.local().as_str().to_lowercase();
        // An address literal is not a domain name: only `ALL` and `user@`
        // rows can match it.
        let domain = match mailbox.domain() {
            Domain::Name(d) => d.as_str(),
            _ => "",
        };
        match self {
            RatPattern::All => true,
            RatPattern::Domain(d) => domain == d,
            RatPattern::Subdomain(d) => {
                domain.len() > d.len()
                    && domain.ends_with(d.as_str())
                    && domain[..domain.len() - d.len()].ends_with('.')
            }
            RatPattern::User(u) => user == *u,
            RatPattern::Address(u, d) => user == *u && domain == d,
        }
    }
}

/// The RAT's answer for one recipient; `None` entry means no row matched.
pub fn lookup<'a>(rat: &'a [RatEntry], address: &str) -> Option<&'a RatEntry> {
    rat.iter()
        .find(|e| RatPattern::parse(&e.address).is_ok_and(|p| p.matches(address)))
}

/// [`lookup`] for a recipient reception has already parsed.
pub fn lookup_mailbox<'a>(rat: &'a [RatEntry], mailbox: &Mailbox) -> Option<&'a RatEntry> {
    rat.iter()
        .find(|e| RatPattern::parse(&e.address).is_ok_and(|p| p.matches_mailbox(mailbox)))
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
    fn a_quoted_at_never_supplies_the_domain() {
        let rat = vec![entry("external.example", RatAction::Accept)];
        assert!(!accepts(&rat, "\"victim@external.example\"@example.com"));
        assert!(!accepts(&rat, "victim@external.example> x@example.com"));
        let rat = vec![entry("example.com", RatAction::Accept)];
        assert!(accepts(&rat, "\"victim@external.example\"@example.com"));
        assert!(accepts(&rat, "bob@EXAMPLE.com."));
        assert!(!accepts(&rat, "bob@[192.0.2.1]"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "@", "a b@x.com", ".", "x@bad..domain"] {
            assert!(RatPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
