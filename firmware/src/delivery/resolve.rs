//! Where a job's connections go: the SMTP route's hosts, or the recipient
//! domain's mail exchangers (RFC 5321 §5.1): MX records by preference with
//! a random order among equals, the domain's own address when it has no MX
//! (implicit MX), and a hard failure for a null MX (RFC 7505) or a domain
//! that does not exist. DNS trouble is a soft failure.
//!
//! For a destination with DANE the MX and address lookups are DNSSEC
//! validated and each candidate says whether the path to it was secure
//! (RFC 7672 §2.2: TLSA records are only looked up, and only mean
//! something, for a host reached through a secure MX RRset and secure
//! address records). A bogus answer is a soft failure like any other DNS
//! trouble.

use std::net::{IpAddr, SocketAddr};

use rand::seq::SliceRandom;

use super::routes;
use crate::config::{IpPreference, RouteHost};
use crate::dns::{Dns, LookupError, Validated};

/// One address to try, with the host name it belongs to (for TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub host: String,
    pub addr: SocketAddr,
    pub source: Source,
}

/// How a candidate was found, which decides whether DANE can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A host of an SMTP route: never DANE (the seed's note: "DANE will
    /// not be enforced for domains that have SMTP Routes configured").
    Route,
    /// A mail exchanger, or the domain itself as implicit MX. `secure`:
    /// the MX RRset (or its proven absence) and this host's address
    /// records validated Secure; always false when not validated.
    Mx { secure: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Candidates(Vec<Candidate>),
    /// No delivery will ever work: bounce.
    Hard(String),
    /// Try again later.
    Soft(String),
}

pub const BAD_DESTINATION: &str = "5.1.2 - Bad destination host";
pub const NULL_MX: &str = "5.1.10 - Recipient domain does not accept mail (null MX)";

/// The port mail exchangers listen on.
const SMTP_PORT: u16 = 25;

/// `validate`: look the MX path up with DNSSEC validation (the
/// destination uses DANE); ignored for routes.
pub async fn candidates(
    dns: &Dns,
    domain: &str,
    route: Option<&[RouteHost]>,
    pref: IpPreference,
    validate: bool,
) -> Resolved {
    match route {
        Some(hosts) => {
            let mut out = Vec::new();
            let mut last_error = None;
            for h in routes::attempt_order(hosts) {
                match dns.addresses(&h.host).await {
                    Ok(addrs) => {
                        push_ordered(&mut out, &h.host, addrs, h.port, pref, Source::Route)
                    }
                    Err(e) => last_error = Some(e),
                }
            }
            finish(
                out,
                last_error.map(|e| format!("cannot resolve the route's hosts: {e}")),
            )
        }
        None => mx_candidates(dns, domain, pref, validate).await,
    }
}

/// A lookup's records and whether they (or their absence) are secure.
type Checked<T> = (Result<Vec<T>, LookupError>, bool);

fn checked<T>(answer: Result<Validated<T>, LookupError>) -> Checked<T> {
    match answer {
        Ok(Validated::Found { records, secure }) => (Ok(records), secure),
        Ok(Validated::Missing { nx: true, secure }) => (Err(LookupError::NxDomain), secure),
        Ok(Validated::Missing { nx: false, secure }) => (Err(LookupError::NoRecords), secure),
        Err(e) => (Err(e), false),
    }
}

async fn mx_records(dns: &Dns, domain: &str, validate: bool) -> Checked<(u16, String)> {
    if validate {
        checked(dns.mx_validated(domain).await)
    } else {
        (dns.mx(domain).await, false)
    }
}

async fn addresses(dns: &Dns, host: &str, validate: bool) -> Checked<IpAddr> {
    if validate {
        checked(dns.addresses_validated(host).await)
    } else {
        (dns.addresses(host).await, false)
    }
}

async fn mx_candidates(dns: &Dns, domain: &str, pref: IpPreference, validate: bool) -> Resolved {
    let (mx, mx_secure) = mx_records(dns, domain, validate).await;
    match mx {
        Ok(records) if records.len() == 1 && (records[0].1.is_empty() || records[0].1 == ".") => {
            Resolved::Hard(NULL_MX.to_string())
        }
        Ok(mut records) if !records.is_empty() => {
            // Random among equal preferences, then stable by preference.
            records.shuffle(&mut rand::rng());
            records.sort_by_key(|(p, _)| *p);
            let mut out = Vec::new();
            let mut last_error = None;
            for (_, exchange) in records {
                match addresses(dns, &exchange, validate).await {
                    (Ok(addrs), secure) => {
                        let source = Source::Mx {
                            secure: mx_secure && secure,
                        };
                        push_ordered(&mut out, &exchange, addrs, SMTP_PORT, pref, source);
                    }
                    (Err(e), _) => last_error = Some(e),
                }
            }
            finish(
                out,
                last_error.map(|e| format!("cannot resolve the mail exchangers: {e}")),
            )
        }
        Ok(_) | Err(LookupError::NoRecords) => match addresses(dns, domain, validate).await {
            // Implicit MX: the domain's own address.
            (Ok(addrs), secure) => {
                let mut out = Vec::new();
                let source = Source::Mx {
                    secure: mx_secure && secure,
                };
                push_ordered(&mut out, domain, addrs, SMTP_PORT, pref, source);
                finish(out, None)
            }
            (Err(LookupError::NxDomain | LookupError::NoRecords), _) => {
                Resolved::Hard(BAD_DESTINATION.to_string())
            }
            (Err(LookupError::Temporary(e)), _) => {
                Resolved::Soft(format!("DNS temporary failure: {e}"))
            }
        },
        Err(LookupError::NxDomain) => Resolved::Hard(BAD_DESTINATION.to_string()),
        Err(LookupError::Temporary(e)) => Resolved::Soft(format!("DNS temporary failure: {e}")),
    }
}

fn finish(out: Vec<Candidate>, error: Option<String>) -> Resolved {
    if out.is_empty() {
        Resolved::Soft(error.unwrap_or_else(|| "no usable address for the destination".to_string()))
    } else {
        Resolved::Candidates(out)
    }
}

/// Adds a host's addresses in the order the IP preference asks for.
fn push_ordered(
    out: &mut Vec<Candidate>,
    host: &str,
    mut addrs: Vec<IpAddr>,
    port: u16,
    pref: IpPreference,
    source: Source,
) {
    addrs.retain(|a| match pref {
        IpPreference::Ipv4Only => a.is_ipv4(),
        IpPreference::Ipv6Only => a.is_ipv6(),
        _ => true,
    });
    let v6_first = pref == IpPreference::Ipv6Preferred;
    addrs.sort_by_key(|a| a.is_ipv6() != v6_first);
    out.extend(addrs.into_iter().map(|a| Candidate {
        host: host.trim_end_matches('.').to_string(),
        addr: SocketAddr::new(a, port),
        source,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_preference_orders_and_filters_addresses() {
        let addrs: Vec<IpAddr> = vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let order = |pref| {
            let mut out = Vec::new();
            let source = Source::Mx { secure: false };
            push_ordered(&mut out, "mx.example.", addrs.clone(), 25, pref, source);
            out.into_iter()
                .map(|c| c.addr.ip().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(IpPreference::Ipv6Preferred),
            ["2001:db8::1", "192.0.2.1"]
        );
        assert_eq!(
            order(IpPreference::Ipv4Preferred),
            ["192.0.2.1", "2001:db8::1"]
        );
        assert_eq!(order(IpPreference::Ipv4Only), ["192.0.2.1"]);
        assert_eq!(order(IpPreference::Ipv6Only), ["2001:db8::1"]);
    }
}
