//! What conditions look at: the envelope, the connection, and the message,
//! parsed lazily (a header-only filter list never builds a MIME tree).

use std::cell::OnceCell;
use std::net::{IpAddr, Ipv4Addr};

pub use super::mime::{MimeLimitHit, MimeLimits};
use super::mime::{Parts, decode_value, header_block, parse_parts};
use crate::ids::Mid;
use chrono::{DateTime, Utc};

/// Lookups that need the network or shared state; the caller implements
/// them (DNS with hickory, counters in the work queue).
pub trait Lookups {
    /// The addresses the DNS list `zone` answers for `ip` (the A records
    /// of `<reversed ip>.<zone>`); empty when `ip` is not listed.
    /// `dnslist('zone')` is "listed"; `dnslist('zone') == '127.0.0.2'`
    /// compares the answer.
    fn dnslist(&self, zone: &str, ip: IpAddr) -> Vec<IpAddr>;

    /// How many messages with this `value` of `target` (`subject` or
    /// `mail-from`) were seen in the last hour, this one included
    /// (`header-repeats`). The default answers 0: rule never true.
    fn header_repeats(&self, target: &str, value: &str, direction: Option<&str>) -> u64 {
        let _ = (target, value, direction);
        0
    }
}

/// Lookups that find nothing: no DNS list lists anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLookups;

impl Lookups for NoLookups {
    fn dnslist(&self, _zone: &str, _ip: IpAddr) -> Vec<IpAddr> {
        Vec::new()
    }
}

/// A top-level header, name as written and value decoded.
#[derive(Debug, Clone)]
pub(crate) struct HeaderField {
    pub name: String,
    pub value: String,
    /// The raw value's range in the message (for address parsing).
    pub raw: std::ops::Range<usize>,
}

/// One message as the filters see it. Fill the public fields; the raw
/// message is parsed on first use.
pub struct MessageContext<'a> {
    pub mid: Mid,
    /// MAIL FROM address without angle brackets; empty for the null sender.
    pub envelope_sender: String,
    pub recipients: Vec<String>,
    /// HAT sender group; `None` when no group matched.
    pub sender_group: Option<String>,
    pub listener: String,
    pub interface: String,
    pub remote_ip: IpAddr,
    /// Verified reverse DNS name of the client, if any.
    pub remote_host: Option<String>,
    /// Mail policy name (`$Policy`).
    pub policy: Option<String>,
    /// This gateway's hostname (`$Hostname`).
    pub hostname: String,
    /// SMTP AUTH identity; `None` until SMTP AUTH exists.
    pub smtp_auth_id: Option<String>,
    pub now: DateTime<Utc>,
    pub limits: MimeLimits,
    raw: &'a [u8],
    headers: OnceCell<Vec<HeaderField>>,
    parts: OnceCell<Parts>,
}

impl<'a> MessageContext<'a> {
    /// A context for `raw` (headers and body, CRLF line endings) with empty
    /// envelope and connection fields.
    pub fn new(mid: Mid, raw: &'a [u8], now: DateTime<Utc>) -> MessageContext<'a> {
        MessageContext {
            mid,
            envelope_sender: String::new(),
            recipients: Vec::new(),
            sender_group: None,
            listener: String::new(),
            interface: String::new(),
            remote_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            remote_host: None,
            policy: None,
            hostname: String::new(),
            smtp_auth_id: None,
            now,
            limits: MimeLimits::default(),
            raw,
            headers: OnceCell::new(),
            parts: OnceCell::new(),
        }
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub(crate) fn headers(&self) -> &[HeaderField] {
        self.headers.get_or_init(|| {
            let (fields, _) = header_block(self.raw, 0);
            let cap = self.limits.max_header_bytes;
            fields
                .into_iter()
                .map(|h| {
                    // Rules see the first `max_header_bytes` of a value: a
                    // 100 KB header costs each rule that much, not more.
                    let raw = h.value.start..h.value.end.min(h.value.start.saturating_add(cap));
                    HeaderField {
                        name: String::from_utf8_lossy(&self.raw[h.name.clone()]).into_owned(),
                        value: decode_value(&self.raw[raw.clone()]),
                        raw,
                    }
                })
                .collect()
        })
    }

    /// The gateway's own sender authentication results: the message's
    /// first header when it is an `Authentication-Results:` whose
    /// authserv-id is this gateway's hostname (reception puts it there,
    /// above anything the client sent; see `auth_results`). `None`: not
    /// verified.
    pub(crate) fn auth_results(&self) -> Option<super::auth_results::AuthResults> {
        let first = self.headers().first()?;
        if !first.name.eq_ignore_ascii_case("Authentication-Results") || self.hostname.is_empty() {
            return None;
        }
        super::auth_results::parse(&first.value)
            .filter(|r| r.authserv_id.eq_ignore_ascii_case(&self.hostname))
    }

    /// Decoded values of every top-level header called `name`.
    pub(crate) fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.headers()
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    pub(crate) fn header_fields<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s HeaderField> {
        self.headers()
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    /// The decoded subject, empty when there is none.
    pub fn subject(&self) -> &str {
        self.header_values("Subject").next().unwrap_or("")
    }

    /// The first address in `From:`, if any.
    pub fn from_address(&self) -> Option<String> {
        let range = self.header_fields("From").next()?.raw.clone();
        let mut owned = self.raw[range].to_vec();
        owned.push(b'\n');
        match mail_parser::parsers::MessageStream::new(&owned).parse_address() {
            mail_parser::HeaderValue::Address(a) => {
                a.first().and_then(|x| x.address()).map(str::to_string)
            }
            _ => None,
        }
    }

    pub(crate) fn parts(&self) -> &Parts {
        self.parts
            .get_or_init(|| parse_parts(self.raw, &self.limits))
    }

    /// The limit that kept the filters from seeing the whole message, if
    /// a rule looked at its MIME structure and one did (for the log).
    pub fn mime_limit(&self) -> Option<MimeLimitHit> {
        self.parts.get().and_then(|p| p.limit)
    }
}
