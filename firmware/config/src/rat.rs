//! Recipient Access Table patterns: which recipients a public listener
//! accepts mail for.
//!
//! A row's address is stored as typed (`example.com`, `.example.com`,
//! `user@`, `user@example.com`, `ALL`) and parsed once when the
//! configuration is read ([`RecipientPattern`]); reception matches each
//! RCPT against the parsed form.

use super::values::{HostName, stored_as_text};
use crate::address::{Domain, Mailbox};

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
        // One rule for every domain the configuration holds; a final dot
        // is dropped, as recipients' domains are compared without it.
        let domain = |d: &str| HostName::parse(d).map(String::from).map_err(|_| err());
        if s == "all" {
            return Ok(RatPattern::All);
        }
        if let Some((user, d)) = s.split_once('@') {
            if user.is_empty() || user.contains(char::is_whitespace) {
                return Err(err());
            }
            if d.is_empty() {
                return Ok(RatPattern::User(user.to_string()));
            }
            return Ok(RatPattern::Address(user.to_string(), domain(d)?));
        }
        match s.strip_prefix('.') {
            Some(d) => Ok(RatPattern::Subdomain(domain(d)?)),
            None => Ok(RatPattern::Domain(domain(&s)?)),
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

/// A RAT row's address as the administrator typed it, with its parse. See
/// [`super::values`] for why a pattern that does not parse still loads (it
/// matches no recipient; `validate` reports it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub struct RecipientPattern {
    text: String,
    parsed: Result<RatPattern, RatPatternError>,
}

impl RecipientPattern {
    /// A pattern that parses; the error says why not.
    pub fn parse(text: &str) -> Result<Self, RatPatternError> {
        let p = Self::read(text.to_string());
        p.parsed.clone().map(|_| p)
    }

    fn read(text: String) -> Self {
        let parsed = RatPattern::parse(&text);
        Self { text, parsed }
    }

    /// The parsed pattern; `None` for a stored one that does not parse.
    pub fn pattern(&self) -> Option<&RatPattern> {
        self.parsed.as_ref().ok()
    }

    pub fn check(&self) -> Result<&RatPattern, &RatPatternError> {
        self.parsed.as_ref()
    }

    /// [`RatPattern::matches`]; never, for a pattern that does not parse.
    pub fn matches(&self, address: &str) -> bool {
        self.pattern().is_some_and(|p| p.matches(address))
    }

    /// [`RatPattern::matches_mailbox`]; never, for a pattern that does not parse.
    pub fn matches_mailbox(&self, mailbox: &Mailbox) -> bool {
        self.pattern().is_some_and(|p| p.matches_mailbox(mailbox))
    }
}

stored_as_text!(RecipientPattern);

impl std::fmt::Display for RecipientPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "@", "a b@x.com", ".", "x@bad..domain", "x@-bad.example"] {
            assert!(RatPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stored_pattern_keeps_its_text_and_a_bad_one_matches_nothing() {
        let p = RecipientPattern::from("Example.COM");
        assert!(p.matches("bob@example.com"));
        assert_eq!(p, "Example.COM");
        let bad = RecipientPattern::from("x@bad..domain");
        assert!(bad.check().is_err() && !bad.matches("x@bad..domain"));
        assert!(RecipientPattern::parse("x@bad..domain").is_err());
    }
}
