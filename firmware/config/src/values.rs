//! Parsed configuration values: host names and reply texts, checked by one
//! set of rules wherever the configuration holds them.
//!
//! Values the mail path matches against (sender group members, RAT
//! patterns, reply texts) are stored as the administrator typed them and
//! parsed once when the configuration is read, never per connection or per
//! recipient. The stored form stays the string it always was (serde
//! `from`/`into` `String`), so the postcard schema and `saveconfig` files do
//! not change. Reading never fails on a value the parser refuses: a
//! configuration stored by earlier firmware (which let some of them
//! through) still loads, the refused value matches nothing on the mail
//! path, and [`Config::validate`](super::Config::validate) reports it the
//! next time anyone stages a change.

use std::fmt;

/// RFC 1035's limit on a whole name (without the final dot).
pub const MAX_NAME: usize = 253;
/// RFC 1035's limit on one label.
pub const MAX_LABEL: usize = 63;
/// Longest text of an SMTP reply the configuration sets (banners, RAT
/// replies): well inside RFC 5321's 512-octet reply line.
pub const MAX_REPLY_TEXT: usize = 400;

/// Why a host or domain name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a valid host name: {reason}")]
pub struct NameError {
    pub text: String,
    pub reason: &'static str,
}

/// A DNS host or domain name, lower-cased, without a final dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// A name as routes, destination rows, RAT rows and sender groups take
    /// it: labels of letters (internationalised names in their Unicode
    /// form included), digits, `-` and `_`, none starting or ending with
    /// `-`, within RFC 1035's lengths. One label is enough (`localdomain`).
    /// The text must be the name itself: no spaces, no final dot (a row
    /// `example.com.` would never match a recipient's domain).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        Self::check(text, false)
    }

    /// The appliance's own name (EHLO, the banner, `Received:`): a fully
    /// qualified name of ASCII letters, digits, `-` and `_`, at least two
    /// labels, and a top-level label that is not all digits (that would be
    /// an IPv4 address, which EHLO wants in brackets). Surrounding spaces
    /// and one final dot are dropped. `_` is not RFC 1123, but AsyncOS
    /// takes it and the seeds' guide writes `esa1.your_domain.com`; it
    /// cannot break a reply or a header (it is an `atext` character), and
    /// `docs/cli.md` warns that strict peers refuse it in EHLO.
    pub fn parse_fqdn(text: &str) -> Result<Self, NameError> {
        Self::check(text, true)
    }

    fn check(text: &str, fqdn: bool) -> Result<Self, NameError> {
        let n = if fqdn {
            let trimmed = text.trim();
            trimmed.strip_suffix('.').unwrap_or(trimmed).to_lowercase()
        } else {
            text.to_lowercase()
        };
        let bad = |reason| NameError {
            text: text.to_string(),
            reason,
        };
        if n.is_empty() {
            return Err(bad("it is empty"));
        }
        if n.chars().count() > MAX_NAME {
            return Err(bad("it is longer than 253 characters"));
        }
        let labels: Vec<&str> = n.split('.').collect();
        if fqdn && labels.len() < 2 {
            return Err(bad("it has no domain part"));
        }
        for label in &labels {
            if label.is_empty() {
                return Err(bad("it has an empty label"));
            }
            if label.chars().count() > MAX_LABEL {
                return Err(bad("a label is longer than 63 characters"));
            }
            if fqdn {
                if !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(bad("only letters, digits, '-', '_' and '.' are allowed"));
                }
            } else if !label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad("only letters, digits, '-', '_' and '.' are allowed"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label may not begin or end with '-'"));
            }
        }
        if fqdn
            && labels
                .last()
                .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("it looks like an IP address"));
        }
        Ok(HostName(n))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl From<HostName> for String {
    fn from(n: HostName) -> String {
        n.0
    }
}

/// Why a reply text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyTextError {
    /// A CR or LF would let the text forge further SMTP replies.
    #[error("must be one line of printable text (no control characters)")]
    ControlCharacter,
    #[error("is longer than {MAX_REPLY_TEXT} characters")]
    TooLong,
}

/// Implements the traits every stored-as-typed value shares: the string
/// form for serde, comparisons with and borrowing as `str`, and `Display`
/// of the text as typed.
macro_rules! stored_as_text {
    ($ty:ident) => {
        impl From<&str> for $ty {
            fn from(text: &str) -> Self {
                Self::read(text.to_string())
            }
        }

        impl From<String> for $ty {
            fn from(text: String) -> Self {
                Self::read(text)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.text
            }
        }

        impl std::ops::Deref for $ty {
            type Target = str;
            fn deref(&self) -> &str {
                &self.text
            }
        }

        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.text
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.text
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.text == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.text == *other
            }
        }

        impl PartialEq<String> for $ty {
            fn eq(&self, other: &String) -> bool {
                self.text == *other
            }
        }

        impl $ty {
            /// The text as the administrator typed it (and as it is stored).
            pub fn as_str(&self) -> &str {
                &self.text
            }
        }
    };
}
pub(crate) use stored_as_text;

/// The text of an SMTP reply the configuration sets (a mail flow policy's
/// banners, a RAT row's reply): one line of printable text, at most
/// [`MAX_REPLY_TEXT`] characters.
///
/// `Display` writes the text with any control character replaced by a
/// space: a text stored by earlier firmware with a CR or LF in it (its
/// `loadconfig` let them through) can then never forge a reply, although
/// it loads; [`ReplyText::check`] (and so `validate`) still refuses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub struct ReplyText {
    text: String,
    problem: Option<ReplyTextError>,
}

impl ReplyText {
    /// The text as given, if it may go into a reply.
    pub fn parse(text: &str) -> Result<Self, ReplyTextError> {
        let t = Self::read(text.to_string());
        match t.problem {
            Some(e) => Err(e),
            None => Ok(t),
        }
    }

    /// Keeps any text (reading a stored config); `check` says if it is bad.
    fn read(text: String) -> Self {
        let problem = if text.chars().any(char::is_control) {
            Some(ReplyTextError::ControlCharacter)
        } else if text.chars().count() > MAX_REPLY_TEXT {
            Some(ReplyTextError::TooLong)
        } else {
            None
        };
        Self { text, problem }
    }

    pub fn check(&self) -> Result<(), ReplyTextError> {
        self.problem.map_or(Ok(()), Err)
    }
}

stored_as_text!(ReplyText);

impl fmt::Display for ReplyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.problem == Some(ReplyTextError::ControlCharacter) {
            let safe: String = self
                .text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            f.pad(&safe)
        } else {
            f.pad(&self.text)
        }
    }
}

/// Where an SMTP route's next hop is: an IP address or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(std::net::IpAddr),
    Name(HostName),
}

/// An SMTP route's next hop as the administrator typed it (`smtproutes`),
/// parsed once when the configuration is read or staged, never per
/// delivery: an IP address (bracketed or not) goes straight to a
/// connection, a name to the resolver. A stored value the parser now
/// refuses still loads (and resolves to nothing); [`NextHop::check`], and
/// so `validate`, names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub struct NextHop {
    text: String,
    host: Result<Host, NameError>,
}

impl NextHop {
    /// The next hop `text` names, if it is an IP address or a host name.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let hop = Self::read(text.to_string());
        hop.check().map(|()| hop)
    }

    /// Keeps any text (reading a stored config); `check` says if it is bad.
    fn read(text: String) -> Self {
        let host = match text.trim_matches(['[', ']']).parse() {
            Ok(ip) => Ok(Host::Ip(ip)),
            Err(_) => HostName::parse(&text).map(Host::Name),
        };
        Self { text, host }
    }

    pub fn check(&self) -> Result<(), NameError> {
        self.host.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The parsed next hop (`None` for a stored value that does not parse).
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref().ok()
    }
}

stored_as_text!(NextHop);

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_one_set_of_rules() {
        for good in [
            "example.com",
            "Mail.Example.COM",
            "a_b.example",
            "localdomain",
            "bücher.de",
        ] {
            assert!(HostName::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            HostName::parse_fqdn(" Mail.Example.COM. ")
                .unwrap()
                .as_str(),
            "mail.example.com"
        );
        let long_label = format!("{}.example.com", "a".repeat(64));
        for bad in [
            "",
            ".",
            "a..b",
            "-a.b",
            "a-.b",
            "a b.c",
            "x@y.z",
            "example.com.",
            " example.com",
            &long_label,
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad}");
        }
        assert!(HostName::parse_fqdn("a-b.c0").is_ok());
        // The seeds' `sethostname esa1.your_domain.com`, as AsyncOS takes it.
        assert_eq!(
            HostName::parse_fqdn("ESA1.your_domain.com")
                .unwrap()
                .as_str(),
            "esa1.your_domain.com"
        );
        assert!(HostName::parse_fqdn("mail_1.example.com").is_ok());
        let long_name = format!("{}.com", ["abcdefghij"; 25].join("."));
        for bad in [
            "localhost",
            "192.0.2.1",
            "bücher.de",
            "mail example.com",
            "mail\texample.com",
            "mail.exa\rmple.com",
            "mail.example.com\n250 forged",
            "mail..example.com",
            "_-.example.com",
            &long_label,
            &long_name,
        ] {
            assert!(HostName::parse_fqdn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reply_texts_are_one_bounded_line_and_a_stored_bad_one_is_made_safe() {
        assert!(ReplyText::parse("Welcome, friend").is_ok());
        assert_eq!(
            ReplyText::parse("hi\r\n250 forged"),
            Err(ReplyTextError::ControlCharacter)
        );
        assert_eq!(
            ReplyText::parse(&"x".repeat(401)),
            Err(ReplyTextError::TooLong)
        );
        let stored = ReplyText::from("hi\r\n250 forged");
        assert!(stored.check().is_err());
        assert_eq!(stored.to_string(), "hi  250 forged");
        assert_eq!(String::from(stored), "hi\r\n250 forged", "stored as typed");
    }

    #[test]
    fn next_hops_are_parsed_once_and_stored_as_typed() {
        let ip = NextHop::parse("[192.0.2.7]").unwrap();
        assert_eq!(ip.host(), Some(&Host::Ip("192.0.2.7".parse().unwrap())));
        assert_eq!(ip.to_string(), "[192.0.2.7]");
        let name = NextHop::parse("mx.example.com").unwrap();
        assert!(matches!(name.host(), Some(Host::Name(n)) if n.to_string() == "mx.example.com"));
        assert!(NextHop::parse("not a host").is_err());
        // A stored value the parser refuses still loads, resolves to
        // nothing and is named by check().
        let stored = NextHop::from("bad host!");
        assert_eq!(stored.host(), None);
        assert!(stored.check().is_err());
        assert_eq!(String::from(stored), "bad host!");
    }
}
