//! Host Access Table members: which clients a sender group holds.
//!
//! A member is stored as typed (`10.1.1.0/24`, `10.1.1.`, `10.1.1.1-50`,
//! `2001:db8:`, `mail.example.com`, `.protection.outlook.com`, `ALL`) and
//! parsed once when the configuration is read ([`HatMember`]); the
//! listener classifies each connection against the parsed form. Host
//! names only ever match the client's *verified* (forward-confirmed)
//! reverse DNS name, so a client cannot put itself in
//! `.protection.outlook.com` by publishing a PTR record alone.

use std::net::IpAddr;

use super::values::{HostName, stored_as_text};

/// A parsed sender-group member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMember {
    All,
    Address(IpAddr),
    Cidr(IpAddr, u8),
    /// Octet ranges, e.g. `10.1.1.1-50` or the partial `10.1.1.` (missing
    /// trailing octets match anything).
    V4Ranges(Vec<(u8, u8)>),
    /// A partial IPv6 address such as `2001:db8:` (textual prefix of the
    /// fully expanded form).
    V6Prefix(String),
    Hostname(String),
    /// `.example.com`: any verified name under the domain.
    DomainSuffix(String),
}

/// Why a member could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sender group member '{member}': {reason}")]
pub struct MemberError {
    pub member: String,
    pub reason: &'static str,
}

impl HostMember {
    pub fn parse(text: &str) -> Result<Self, MemberError> {
        let s = text.trim();
        let err = |reason| MemberError {
            member: text.to_string(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.eq_ignore_ascii_case("ALL") {
            return Ok(HostMember::All);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(HostMember::Address(ip));
        }
        if let Some((addr, len)) = s.split_once('/') {
            let ip: IpAddr = addr.parse().map_err(|_| err("bad CIDR address"))?;
            let len: u8 = len.parse().map_err(|_| err("bad CIDR prefix length"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(err("CIDR prefix length too long"));
            }
            return Ok(HostMember::Cidr(ip, len));
        }
        if s.contains(':') {
            if !s.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                return Err(err("bad partial IPv6 address"));
            }
            return Ok(HostMember::V6Prefix(s.to_ascii_lowercase()));
        }
        if s.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        {
            return parse_v4_ranges(s).ok_or_else(|| err("bad IPv4 range or partial address"));
        }
        let (suffix, name) = match s.strip_prefix('.') {
            Some(domain) => (true, domain),
            None => (false, s),
        };
        let name = HostName::parse(name)
            .map_err(|_| err("not an address, range, host name or .domain"))?;
        Ok(if suffix {
            HostMember::DomainSuffix(name.into())
        } else {
            HostMember::Hostname(name.into())
        })
    }

    pub fn matches(&self, ip: IpAddr, verified_name: Option<&str>) -> bool {
        let ip = canonical(ip);
        match self {
            HostMember::All => true,
            HostMember::Address(a) => canonical(*a) == ip,
            HostMember::Cidr(net, len) => in_cidr(ip, canonical(*net), *len),
            HostMember::V4Ranges(ranges) => match ip {
                IpAddr::V4(v4) => v4
                    .octets()
                    .iter()
                    .zip(ranges)
                    .all(|(o, (lo, hi))| (lo..=hi).contains(&o)),
                IpAddr::V6(_) => false,
            },
            HostMember::V6Prefix(prefix) => match ip {
                IpAddr::V6(v6) => expanded_v6(v6).starts_with(&expand_partial_v6(prefix)),
                IpAddr::V4(_) => false,
            },
            HostMember::Hostname(h) => verified_name.is_some_and(|n| n.eq_ignore_ascii_case(h)),
            HostMember::DomainSuffix(d) => verified_name.is_some_and(|n| {
                let n = n.trim_end_matches('.').to_ascii_lowercase();
                n.len() > d.len()
                    && n.ends_with(d.as_str())
                    && n[..n.len() - d.len()].ends_with('.')
            }),
        }
    }
}

fn parse_v4_ranges(s: &str) -> Option<HostMember> {
    // "10.1.1." is a partial address: its missing octets match anything.
    let parts: Vec<&str> = s.strip_suffix('.').unwrap_or(s).split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut ranges = Vec::with_capacity(4);
    for p in parts {
        let (lo, hi) = match p.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => {
                let v: u8 = p.parse().ok()?;
                (v, v)
            }
        };
        if lo > hi {
            return None;
        }
        ranges.push((lo, hi));
    }
    Some(HostMember::V4Ranges(ranges))
}

/// IPv4-mapped IPv6 clients are matched as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn expanded_v6(ip: std::net::Ipv6Addr) -> String {
    let s: Vec<String> = ip.segments().iter().map(|s| format!("{s:04x}")).collect();
    s.join(":")
}

/// `2001:db8:` → `2001:0db8:` so prefixes compare against the expanded form.
fn expand_partial_v6(prefix: &str) -> String {
    let (body, trailing) = match prefix.strip_suffix(':') {
        Some(b) => (b, true),
        None => (prefix, false),
    };
    let groups: Vec<&str> = body.split(':').collect();
    let last = groups.len() - 1;
    let mut out = groups
        .iter()
        .enumerate()
        // A last group without its colon may be incomplete: keep it as typed.
        .map(|(i, g)| {
            if i == last && !trailing {
                g.to_string()
            } else {
                format!("{g:0>4}")
            }
        })
        .collect::<Vec<_>>()
        .join(":");
    if trailing {
        out.push(':');
    }
    out
}

/// A sender group member as the administrator typed it, with its parse.
/// See [`super::values`] for why a member that does not parse still
/// loads (it matches no client; `validate` reports it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub struct HatMember {
    text: String,
    parsed: Result<HostMember, MemberError>,
}

impl HatMember {
    /// A member that parses; the error says why not.
    pub fn parse(text: &str) -> Result<Self, MemberError> {
        let m = Self::read(text.to_string());
        m.parsed.clone().map(|_| m)
    }

    fn read(text: String) -> Self {
        let parsed = HostMember::parse(&text);
        Self { text, parsed }
    }

    /// The parsed member; `None` for a stored member that does not parse.
    pub fn member(&self) -> Option<&HostMember> {
        self.parsed.as_ref().ok()
    }

    pub fn check(&self) -> Result<&HostMember, &MemberError> {
        self.parsed.as_ref()
    }

    /// Whether a client at `ip` with the verified name `verified_name`
    /// is this member (never, for a member that does not parse).
    pub fn matches(&self, ip: IpAddr, verified_name: Option<&str>) -> bool {
        self.member().is_some_and(|m| m.matches(ip, verified_name))
    }
}

stored_as_text!(HatMember);

impl std::fmt::Display for HatMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> HostMember {
        HostMember::parse(s).unwrap()
    }

    #[test]
    fn member_forms_match_as_asyncos_does() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            ("ALL", "198.51.100.7", None, true),
            ("10.1.1.1", "10.1.1.1", None, true),
            ("10.1.1.1", "10.1.1.2", None, false),
            ("10.1.1.0/24", "10.1.1.200", None, true),
            ("10.1.1.0/24", "10.1.2.1", None, false),
            ("10.1.1.", "10.1.1.9", None, true),
            ("10.1.1.", "10.1.10.9", None, false),
            ("10.1.1.1-50", "10.1.1.50", None, true),
            ("10.1.1.1-50", "10.1.1.51", None, false),
            ("2001:db8::/32", "2001:db8:1::5", None, true),
            ("2001:db8:", "2001:db8:1::5", None, true),
            ("2001:db8:", "2001:db9::5", None, false),
            (
                ".protection.outlook.com",
                "127.5.0.1",
                Some("mail-am6.protection.outlook.com"),
                true,
            ),
            (
                ".protection.outlook.com",
                "127.5.0.1",
                Some("evilprotection.outlook.com"),
                false,
            ),
            (".protection.outlook.com", "127.5.0.1", None, false),
            ("mx.example.com", "127.5.0.1", Some("MX.example.com"), true),
            ("10.1.1.1", "::ffff:10.1.1.1", None, true),
        ];
        for (member, addr, name, want) in cases {
            assert_eq!(
                m(member).matches(ip(addr), name),
                want,
                "{member} vs {addr} {name:?}"
            );
        }
    }

    #[test]
    fn a_stored_member_keeps_its_text_and_a_bad_one_matches_nothing() {
        let ip = "10.1.1.9".parse().unwrap();
        let good = HatMember::from(" 10.1.1.0/24");
        assert!(good.matches(ip, None));
        assert_eq!(good, " 10.1.1.0/24", "kept as typed");
        let bad = HatMember::from("10.1.1.0/33");
        assert!(bad.check().is_err() && !bad.matches(ip, None));
        assert!(HatMember::parse("10.1.1.0/33").is_err());
        let bytes = postcard::to_allocvec(&good).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(" 10.1.1.0/24").unwrap());
    }

    #[test]
    fn bad_members_are_refused_with_a_reason() {
        for bad in ["", "10.1.1.0/33", "10.1.300.1-2", "not a host", "10.1.5-2."] {
            assert!(HostMember::parse(bad).is_err(), "{bad}");
        }
    }
}
