//! The Recipient Access Table of a public listener: which recipients the
//! gateway accepts mail for. First match wins; a recipient no row matches is
//! rejected, which is what keeps a public listener from being an open relay.

use crate::address::Mailbox;
pub use crate::config::rat::{RatPattern, RatPatternError, RecipientPattern};
use crate::config::{RatAction, RatEntry};

/// The RAT's answer for one recipient; `None` entry means no row matched.
pub fn lookup<'a>(rat: &'a [RatEntry], address: &str) -> Option<&'a RatEntry> {
    rat.iter().find(|e| e.address.matches(address))
}

/// [`lookup`] for a recipient reception has already parsed.
pub fn lookup_mailbox<'a>(rat: &'a [RatEntry], mailbox: &Mailbox) -> Option<&'a RatEntry> {
    rat.iter().find(|e| e.address.matches_mailbox(mailbox))
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
}
