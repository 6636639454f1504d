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
use crate::config::Host;
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
    /// DNS says the destination does not exist: bounce, the AsyncOS way.
    DnsHard(DnsHardError),
    /// Try again later.
    Soft(String),
}

pub const BAD_DESTINATION: &str = "5.1.2 - Bad destination host";

/// A DNS answer that the destination cannot exist, AsyncOS's "DNS Hard
/// Error": an NXDOMAIN, or a domain with neither MX nor address. A hard
/// failure: never retried (a SERVFAIL or timeout is the soft, retried
/// kind), also for Threat Defense copies (seed 004's NXDOMAIN example
/// hard-bounces at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHardError {
    /// The name looked up.
    pub name: String,
    /// The record type (`MX`, `A`).
    pub qtype: &'static str,
    /// AsyncOS's words for the answer (`NXDomain`, `domain has no A record`).
    pub error: &'static str,
}

impl DnsHardError {
    /// `DNS Hard Error looking up example.com (MX):  NXDomain` (AsyncOS
    /// puts two spaces before the answer).
    fn lookup(&self) -> String {
        format!(
            "DNS Hard Error looking up {} ({}):  {}",
            self.name, self.qtype, self.error
        )
    }

    /// A recipient's bounce reason, as AsyncOS's `Bounced:` lines and DSNs
    /// carry it: `5.1.2 - Bad destination host ('000', ['DNS Hard Error
    /// looking up example.com (MX):  NXDomain'])`.
    pub fn reason(&self) -> String {
        format!("{BAD_DESTINATION} ('000', ['{}'])", self.lookup())
    }

    /// The domain's `Hard bounced - ...` line, as seed 004 prints it:
    /// `5.1.2 - Bad destination host ('000', 'DNS Hard Error ...')`.
    pub fn domain_reason(&self) -> String {
        format!("{BAD_DESTINATION} ('000', '{}')", self.lookup())
    }
}

fn dns_hard(name: &str, qtype: &'static str, error: &'static str) -> Resolved {
    Resolved::DnsHard(DnsHardError {
        name: name.trim_end_matches('.').to_string(),
        qtype,
        error,
    })
}
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
                // Parsed when the configuration was: an IP needs no lookup.
                let found = match h.host.host() {
                    Some(Host::Ip(ip)) => Ok(vec![*ip]),
                    _ => dns.addresses(&h.host).await,
                };
                match found {
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
            (Err(LookupError::NxDomain), _) => dns_hard(domain, "A", "NXDomain"),
            (Err(LookupError::NoRecords), _) => dns_hard(domain, "A", "domain has no A record"),
            (Err(LookupError::Temporary(e)), _) => {
                Resolved::Soft(format!("DNS temporary failure: {e}"))
            }
        },
        Err(LookupError::NxDomain) => dns_hard(domain, "MX", "NXDomain"),
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

/// Why a next hop found in DNS (MX or A/AAAA, not an SMTP route) is not
/// connected to. Whoever controls a domain's DNS chooses these addresses:
/// without this check a message to a domain of the sender's choosing
/// makes the gateway connect to itself, to its loopback services or to
/// the Management network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unspecified,
    Loopback,
    LinkLocal,
    Multicast,
    /// 255.255.255.255 and the reserved 240.0.0.0/4.
    Broadcast,
    /// RFC 1918, RFC 6598 (shared address space), IPv6 unique local.
    Private,
    /// An address of one of the appliance's interfaces.
    OwnAddress,
    /// Inside the Management interface's network.
    Management,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Unspecified => "an unspecified address",
            Refusal::Loopback => "a loopback address",
            Refusal::LinkLocal => "a link-local address",
            Refusal::Multicast => "a multicast address",
            Refusal::Broadcast => "a broadcast or reserved address",
            Refusal::Private => "a private address",
            Refusal::OwnAddress => "an address of this appliance",
            Refusal::Management => "an address in the Management network",
        }
    }
}

/// What [`check_next_hop`] allows besides public addresses.
#[derive(Debug, Clone, Default)]
pub struct NextHopPolicy {
    /// `deliveryconfig setup --allow-private-next-hops`.
    pub allow_private: bool,
    /// `deliveryconfig setup --allow-loopback-next-hops`: loopback
    /// addresses are then accepted outright (on loopback the appliance's
    /// own addresses and its next hops are told apart by port only).
    pub allow_loopback: bool,
    /// The appliance's interface addresses.
    pub own: Vec<IpAddr>,
    /// The Management interface's address and prefix length.
    pub management: Option<(IpAddr, u8)>,
}

impl NextHopPolicy {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            allow_private: cfg.connections.allow_private_next_hops,
            allow_loopback: cfg.connections.allow_loopback_next_hops,
            own: cfg.interfaces.iter().filter_map(|i| i.address).collect(),
            management: cfg
                .interface("Management")
                .and_then(|i| i.address.map(|a| (a, i.prefix))),
        }
    }
}

/// Whether delivery may connect to `ip`, found in DNS.
pub fn check_next_hop(ip: IpAddr, policy: &NextHopPolicy) -> Result<(), Refusal> {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return if policy.allow_loopback {
            Ok(())
        } else {
            Err(Refusal::Loopback)
        };
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_unspecified() || a == 0 {
                return Err(Refusal::Unspecified);
            }
            if v4.is_link_local() {
                return Err(Refusal::LinkLocal);
            }
            if v4.is_multicast() {
                return Err(Refusal::Multicast);
            }
            if v4.is_broadcast() || a >= 240 {
                return Err(Refusal::Broadcast);
            }
            let shared = a == 100 && (64..128).contains(&b);
            if (v4.is_private() || shared) && !policy.allow_private {
                return Err(Refusal::Private);
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_unspecified() {
                return Err(Refusal::Unspecified);
            }
            if first & 0xffc0 == 0xfe80 {
                return Err(Refusal::LinkLocal);
            }
            if v6.is_multicast() {
                return Err(Refusal::Multicast);
            }
            if first & 0xfe00 == 0xfc00 && !policy.allow_private {
                return Err(Refusal::Private);
            }
        }
    }
    if policy.own.iter().any(|own| own.to_canonical() == ip) {
        return Err(Refusal::OwnAddress);
    }
    if let Some((net, prefix)) = policy.management
        && same_network(net.to_canonical(), ip, prefix)
    {
        return Err(Refusal::Management);
    }
    Ok(())
}

fn same_network(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = u32::from(prefix.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Splits candidates into those delivery may connect to and those it must
/// not. SMTP route hosts are the administrator's own choice and always
/// pass; mail exchangers and implicit-MX addresses come from DNS and are
/// checked with [`check_next_hop`].
pub fn screen(
    candidates: Vec<Candidate>,
    policy: &NextHopPolicy,
) -> (Vec<Candidate>, Vec<(Candidate, Refusal)>) {
    let mut usable = Vec::with_capacity(candidates.len());
    let mut refused = Vec::new();
    for c in candidates {
        match c.source {
            Source::Route => usable.push(c),
            Source::Mx { .. } => match check_next_hop(c.addr.ip(), policy) {
                Ok(()) => usable.push(c),
                Err(why) => refused.push((c, why)),
            },
        }
    }
    (usable, refused)
}

/// The bounce text when every next hop DNS gave was refused.
pub fn all_refused(domain: &str, refused: &[(Candidate, Refusal)]) -> String {
    let list: Vec<String> = refused
        .iter()
        .map(|(c, why)| format!("{} [{}] is {}", c.host, c.addr.ip(), why.describe()))
        .collect();
    format!(
        "5.4.4 - No acceptable next hop for {domain}: {}",
        list.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AsyncOS's DNS hard-bounce texts, as seed 004 and AsyncOS's own
    /// `Bounced:` lines and DSNs show them.
    #[test]
    fn dns_hard_errors_read_as_asyncos_writes_them() {
        let Resolved::DnsHard(e) = dns_hard("esa.example.com.", "MX", "NXDomain") else {
            panic!("a DNS hard error");
        };
        assert_eq!(
            e.reason(),
            "5.1.2 - Bad destination host ('000', ['DNS Hard Error looking up esa.example.com (MX):  NXDomain'])"
        );
        assert_eq!(
            e.domain_reason(),
            "5.1.2 - Bad destination host ('000', 'DNS Hard Error looking up esa.example.com (MX):  NXDomain')"
        );
    }

    #[test]
    fn next_hops_from_dns_must_be_public_unless_allowed() {
        let appliance = NextHopPolicy {
            allow_private: false,
            allow_loopback: false,
            own: vec![
                "203.0.113.10".parse().unwrap(),
                "2001:db8::10".parse().unwrap(),
            ],
            management: Some(("198.51.100.5".parse().unwrap(), 24)),
        };
        let cases: &[(&str, Result<(), Refusal>)] = &[
            ("192.0.2.25", Ok(())),
            ("2001:db8::25", Ok(())),
            ("127.0.0.1", Err(Refusal::Loopback)),
            ("127.8.9.10", Err(Refusal::Loopback)),
            ("::1", Err(Refusal::Loopback)),
            ("::ffff:127.0.0.1", Err(Refusal::Loopback)),
            ("0.0.0.0", Err(Refusal::Unspecified)),
            ("0.1.2.3", Err(Refusal::Unspecified)),
            ("::", Err(Refusal::Unspecified)),
            ("169.254.169.254", Err(Refusal::LinkLocal)),
            ("fe80::1", Err(Refusal::LinkLocal)),
            ("224.0.0.1", Err(Refusal::Multicast)),
            ("ff02::1", Err(Refusal::Multicast)),
            ("255.255.255.255", Err(Refusal::Broadcast)),
            ("240.0.0.1", Err(Refusal::Broadcast)),
            ("10.1.2.3", Err(Refusal::Private)),
            ("172.16.0.1", Err(Refusal::Private)),
            ("192.168.1.1", Err(Refusal::Private)),
            ("100.64.0.1", Err(Refusal::Private)),
            ("fd00::1", Err(Refusal::Private)),
            ("203.0.113.10", Err(Refusal::OwnAddress)),
            ("2001:db8::10", Err(Refusal::OwnAddress)),
            ("198.51.100.200", Err(Refusal::Management)),
            ("198.51.101.1", Ok(())),
        ];
        for (ip, want) in cases {
            assert_eq!(
                check_next_hop(ip.parse().unwrap(), &appliance),
                *want,
                "{ip}"
            );
        }
        let internal = NextHopPolicy {
            allow_private: true,
            ..appliance.clone()
        };
        assert_eq!(
            check_next_hop("10.1.2.3".parse().unwrap(), &internal),
            Ok(())
        );
        assert_eq!(
            check_next_hop("fd00::1".parse().unwrap(), &internal),
            Ok(())
        );
        assert_eq!(
            check_next_hop("127.0.0.1".parse().unwrap(), &internal),
            Err(Refusal::Loopback)
        );
        let test_bench = NextHopPolicy {
            allow_loopback: true,
            management: Some(("127.0.0.1".parse().unwrap(), 8)),
            own: vec!["127.0.1.1".parse().unwrap()],
            ..appliance
        };
        assert_eq!(
            check_next_hop("127.0.0.1".parse().unwrap(), &test_bench),
            Ok(())
        );
        assert_eq!(
            check_next_hop("169.254.1.1".parse().unwrap(), &test_bench),
            Err(Refusal::LinkLocal)
        );
    }

    #[test]
    fn routes_are_trusted_and_dns_answers_screened() {
        let cand = |ip: &str, source| Candidate {
            host: "mx.example".into(),
            addr: SocketAddr::new(ip.parse().unwrap(), 25),
            source,
        };
        let policy = NextHopPolicy::default();
        let (usable, refused) = screen(
            vec![
                cand("127.0.0.1", Source::Route),
                cand("127.0.0.1", Source::Mx { secure: false }),
                cand("192.0.2.1", Source::Mx { secure: false }),
            ],
            &policy,
        );
        let ips: Vec<String> = usable.iter().map(|c| c.addr.to_string()).collect();
        assert_eq!(ips, ["127.0.0.1:25", "192.0.2.1:25"]);
        assert_eq!(refused.len(), 1);
        assert_eq!(
            all_refused("example.com", &refused),
            "5.4.4 - No acceptable next hop for example.com: mx.example [127.0.0.1] is a loopback address"
        );
    }

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
