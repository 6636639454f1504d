//! DNS for the gateway: forward-confirmed reverse DNS of connecting clients
//! (what sender groups such as `.protection.outlook.com` match against),
//! address lookups of SMTP route hosts, MX lookups, and the
//! DNSSEC-validated lookups DANE needs (MX, A/AAAA and TLSA with a
//! "secure" verdict, RFC 7672 §2.1).
//!
//! Name servers come from the committed `dnsconfig`, never implicitly from
//! the host, unless the list is empty (then the host's resolver
//! configuration is used, which is what a development machine wants). Every
//! query is bounded by the configured timeout and a single attempt per
//! server; answers are cached by hickory's cache.
//!
//! Validation is done here, not by the name servers: a second resolver
//! asks with the DO bit and checks every RRset up to a trust anchor (IANA's
//! root keys, or the administrator's `dnsconfig trustanchor` keys). The
//! AD bit of an upstream recursor is never trusted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError, NoRecords};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::op::{Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{ConnectionProvider, Resolver, ResolverBuilder, TokioResolver};

use crate::config::DnsConfig;

/// The result of checking a client's reverse DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseDns {
    /// The PTR name, without the trailing dot, if there is one.
    pub name: Option<String>,
    /// True when the name's A/AAAA records include the client address.
    pub verified: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("DNS resolver could not be built: {0}")]
pub struct DnsError(String);

/// A resolver built from the committed DNS configuration.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
    /// The same servers, asked with DNSSEC validation (DANE only).
    validating: TokioResolver,
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Dns {
    pub fn new(cfg: &DnsConfig) -> Result<Self, DnsError> {
        let timeout = Duration::from_secs(u64::from(cfg.timeout_secs.max(1)));
        let resolver = builder(cfg, timeout)?
            .build()
            .map_err(|e| DnsError(e.to_string()))?;
        let anchors = trust_anchors(&cfg.trust_anchors)?;
        let validating = builder(cfg, timeout)?
            .with_trust_anchor(Arc::new(anchors))
            .build()
            .map_err(|e| DnsError(e.to_string()))?;
        Ok(Self {
            resolver,
            validating,
            servers: cfg.servers.clone(),
            timeout,
        })
    }

    /// The sender-authentication verifier (SPF, DKIM, DMARC, ARC) on this
    /// very resolver: it asks the same `dnsconfig` servers with the same
    /// limits and shares the answer cache, so a sender's SPF record or DKIM
    /// key is fetched once per TTL, not once per message, and a
    /// `dnsflush` or a committed `dnsconfig` renews it with the rest.
    pub fn authenticator(&self) -> mail_auth::MessageAuthenticator {
        mail_auth::MessageAuthenticator(self.resolver.clone())
    }

    /// PTR lookup of `ip`, then a forward lookup of the name to confirm it.
    pub async fn reverse(&self, ip: IpAddr) -> ReverseDns {
        let name = if ip.is_loopback() && !self.servers.is_empty() {
            self.loopback_ptr(ip).await
        } else {
            ptr_with(&self.resolver, ip).await
        };
        let Some(name) = name else {
            return ReverseDns {
                name: None,
                verified: false,
            };
        };
        // Only the client's own address family is asked: an IPv4 client is
        // confirmed by an A record, and a slow AAAA answer must not hold up
        // every connection's banner.
        let start = std::time::Instant::now();
        let verified = match ip {
            IpAddr::V4(v4) => self
                .resolver
                .ipv4_lookup(name.as_str())
                .await
                .inspect(|_| STATS.record_ok(start))
                .inspect_err(|e| STATS.record_err(start, e))
                .is_ok_and(|found| {
                    found
                        .answers()
                        .iter()
                        .any(|r| matches!(&r.data, RData::A(a) if a.0 == v4))
                }),
            IpAddr::V6(v6) => self
                .resolver
                .ipv6_lookup(name.as_str())
                .await
                .inspect(|_| STATS.record_ok(start))
                .inspect_err(|e| STATS.record_err(start, e))
                .is_ok_and(|found| {
                    found
                        .answers()
                        .iter()
                        .any(|r| matches!(&r.data, RData::AAAA(a) if a.0 == v6))
                }),
        };
        ReverseDns {
            name: Some(name.trim_end_matches('.').to_string()),
            verified,
        }
    }

    /// hickory answers every PTR under 127.in-addr.arpa with "localhost"
    /// itself (RFC 6761) without asking anyone. Loopback clients only exist
    /// on test and development set-ups, where the configured server is
    /// authoritative for them, so ask it directly.
    async fn loopback_ptr(&self, ip: IpAddr) -> Option<String> {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(Name::from(ip), RecordType::PTR));
        let wire = query.to_vec().ok()?;
        for server in &self.servers {
            let bind: SocketAddr = if server.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let Ok(socket) = tokio::net::UdpSocket::bind(bind).await else {
                continue;
            };
            if socket.send_to(&wire, server).await.is_err() {
                continue;
            }
            let mut buf = [0u8; 1500];
            let Ok(Ok((n, from))) =
                tokio::time::timeout(self.timeout, socket.recv_from(&mut buf)).await
            else {
                continue;
            };
            if from != *server {
                continue;
            }
            let Ok(reply) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if reply.metadata.id != query.metadata.id {
                continue;
            }
            return reply.answers.iter().find_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_utf8()),
                _ => None,
            });
        }
        None
    }

    /// Addresses of `host` (an IP literal resolves to itself).
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        let start = std::time::Instant::now();
        let answer = self.resolver.lookup_ip(fqdn.as_str()).await;
        STATS.record(start, &answer);
        crate::metrics::observe(&crate::metrics::DNS_SECONDS, start.elapsed());
        match answer {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) => Err(LookupError::from_net(&e)),
        }
    }

    /// The MX records of `domain` as (preference, exchange without the
    /// trailing dot). A null MX (RFC 7505) is one record with exchange "".
    pub async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, LookupError> {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let start = std::time::Instant::now();
        let answer = self.resolver.mx_lookup(fqdn.as_str()).await;
        STATS.record(start, &answer);
        crate::metrics::observe(&crate::metrics::DNS_SECONDS, start.elapsed());
        match answer {
            Ok(found) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange
                            .to_utf8()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    )),
                    _ => None,
                })
                .collect()),
            Err(e) => Err(LookupError::from_net(&e)),
        }
    }
}

/// `nslookup`'s record types (AsyncOS's list).
pub const NSLOOKUP_TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "TXT"];

/// One record of an `nslookup` answer, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `A`, `MX`, ...
    pub rtype: String,
    /// The record's data, names without their trailing dot; an MX's
    /// preference is in `preference`.
    pub data: String,
    pub preference: Option<u16>,
    pub ttl: u32,
}

impl Dns {
    /// `nslookup NAME TYPE` through the gateway's own resolver and cache
    /// (a PTR query takes an IP address). `rtype` is one of
    /// [`NSLOOKUP_TYPES`], any case.
    pub async fn query(&self, name: &str, rtype: &str) -> Result<Vec<Answer>, LookupError> {
        let wanted = RecordType::from_str(&rtype.to_ascii_uppercase())
            .ok()
            .filter(|t| NSLOOKUP_TYPES.contains(&t.to_string().as_str()))
            .ok_or_else(|| LookupError::Temporary(format!("unknown query type {rtype}")))?;
        let qname = match name.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) if wanted == RecordType::PTR => Name::from(ip),
            _ => Name::from_str(&format!("{}.", name.trim_end_matches('.')))
                .map_err(|e| LookupError::Temporary(format!("'{name}' is not a name: {e}")))?,
        };
        let start = std::time::Instant::now();
        let answer = self.resolver.lookup(qname, wanted).await;
        STATS.record(start, &answer);
        let found = answer.map_err(|e| LookupError::from_net(&e))?;
        let text = |n: &Name| n.to_utf8().trim_end_matches('.').to_string();
        Ok(found
            .answers()
            .iter()
            .filter(|r| r.record_type() == wanted || r.record_type() == RecordType::CNAME)
            .map(|r| {
                let (data, preference) = match &r.data {
                    RData::MX(mx) => (text(&mx.exchange), Some(mx.preference)),
                    RData::CNAME(c) => (text(&c.0), None),
                    RData::NS(n) => (text(&n.0), None),
                    RData::PTR(p) => (text(&p.0), None),
                    RData::TXT(t) => (t.to_string(), None),
                    other => (other.to_string(), None),
                };
                Answer {
                    rtype: r.record_type().to_string(),
                    data,
                    preference,
                    ttl: r.ttl,
                }
            })
            .collect())
    }

    /// `dnsflush`: forgets every cached answer (both resolvers).
    pub fn clear_cache(&self) {
        self.resolver.clear_cache();
        self.validating.clear_cache();
    }

    /// The name servers asked (empty: the host's resolver configuration).
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }
}

/// What the gateway's lookups did since the daemon started, for
/// `dnsstatus`: process-wide, as a commit builds new resolvers.
pub static STATS: DnsStats = DnsStats::new();

/// Lookup counters and latency (the cache itself is hickory's and keeps
/// no counters of its own: a cached answer counts as an answered request
/// with its short latency).
#[derive(Debug)]
pub struct DnsStats {
    requests: AtomicU64,
    answered: AtomicU64,
    no_records: AtomicU64,
    failures: AtomicU64,
    latency_us_total: AtomicU64,
    latency_us_max: AtomicU64,
    flushes: AtomicU64,
    last_flush: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

/// A copy of [`DnsStats`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsStatsSnapshot {
    pub requests: u64,
    pub answered: u64,
    pub no_records: u64,
    pub failures: u64,
    pub latency_us_total: u64,
    pub latency_us_max: u64,
    pub flushes: u64,
    pub last_flush: Option<chrono::DateTime<chrono::Utc>>,
}

impl DnsStats {
    const fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            no_records: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency_us_total: AtomicU64::new(0),
            latency_us_max: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            last_flush: std::sync::Mutex::new(None),
        }
    }

    fn timed(&self, start: std::time::Instant) {
        let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency_us_total.fetch_add(us, Ordering::Relaxed);
        self.latency_us_max.fetch_max(us, Ordering::Relaxed);
    }

    fn record_ok(&self, start: std::time::Instant) {
        self.timed(start);
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    fn record_err(&self, start: std::time::Instant, e: &NetError) {
        self.timed(start);
        if e.is_nx_domain() || e.is_no_records_found() {
            self.no_records.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record<T>(&self, start: std::time::Instant, r: &Result<T, NetError>) {
        match r {
            Ok(_) => self.record_ok(start),
            Err(e) => self.record_err(start, e),
        }
    }

    /// Counts a `dnsflush`.
    pub fn flushed(&self, at: chrono::DateTime<chrono::Utc>) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        *self.last_flush.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    pub fn snapshot(&self) -> DnsStatsSnapshot {
        DnsStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            no_records: self.no_records.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            latency_us_total: self.latency_us_total.load(Ordering::Relaxed),
            latency_us_max: self.latency_us_max.load(Ordering::Relaxed),
            flushes: self.flushes.load(Ordering::Relaxed),
            last_flush: *self.last_flush.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// A resolver builder for the configured servers and limits.
fn builder(
    cfg: &DnsConfig,
    timeout: Duration,
) -> Result<ResolverBuilder<TokioRuntimeProvider>, DnsError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if cfg.servers.is_empty() {
        // No `dnsconfig` yet (a first boot): the host's resolver settings,
        // or, when there are none, no name server at all — lookups then
        // fail at once (clients show as "reverse dns host unknown") and
        // the gateway still starts, so `systemsetup` can set DNS.
        match Resolver::builder(provider.clone()) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(
                    "no usable host resolver configuration ({e}); DNS is off until dnsconfig sets servers"
                );
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(Vec::new()),
                    provider,
                )
            }
        }
    } else {
        let servers = cfg
            .servers
            .iter()
            .map(|s| {
                let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                for c in &mut ns.connections {
                    c.port = s.port();
                }
                ns
            })
            .collect();
        Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = u64::from(cfg.cache_size);
    opts.ndots = 0;
    Ok(builder.with_tls_config(unused_dns_tls()?))
}

/// The TLS settings hickory keeps for encrypted DNS (over TLS, HTTPS or
/// QUIC), which `dnsconfig` never sets up: its servers are asked over UDP
/// and TCP. Left to itself, hickory builds them from the host's whole
/// certificate store (rustls-platform-verifier) for every resolver: about
/// 50 ms of reading and parsing each, several resolvers at start and at
/// each DNS commit, on the way to the first banner after a restart. No
/// roots: an encrypted transport could verify no server, so it would fail
/// closed rather than trust one.
fn unused_dns_tls() -> Result<rustls::ClientConfig, DnsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DnsError(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(config)
}

/// The validator's anchors: the administrator's DNSKEY records, plus IANA's
/// root keys unless the administrator anchored the root itself (a private
/// root, as the end-to-end tests serve).
///
/// hickory 0.26 trusts a non-root zone's DNSKEY RRset without asking for
/// its DS only when *every* key in that RRset is an anchor; anchoring only
/// a zone's KSK makes it look the DS up at the zone itself and loop until
/// its depth limit (the answer is then bogus). Anchor all of a zone's
/// DNSKEYs, or a root key with a DS chain down to the zone.
///
/// A record that does not parse (the CLI checks them, so only a damaged
/// store has one) is skipped with a warning: DANE then fails closed for
/// the zones it covered, while the daemon and every other lookup go on.
fn trust_anchors(records: &[String]) -> Result<TrustAnchors, DnsError> {
    let good: Vec<&str> = records
        .iter()
        .filter(|r| match TrustAnchors::from_str(r) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!("DNSSEC trust anchor skipped ({e}): {r}");
                false
            }
        })
        .map(String::as_str)
        .collect();
    let mut anchors = TrustAnchors::from_str(&good.join("\n"))
        .map_err(|e| DnsError(format!("trust anchor: {e}")))?;
    if anchors.is_empty() {
        // `is_empty` and `get` only see root keys: exactly the ones asked.
        let iana = TrustAnchors::default();
        for key in (0..iana.len()).filter_map(|i| iana.get(i)) {
            anchors.insert(key);
        }
    }
    Ok(anchors)
}

/// Checks one `dnsconfig trustanchor add` record: a single DNSKEY record
/// in zone-file form with an absolute owner name. Returns the record as it
/// will be stored (one line, single spaces).
pub fn parse_trust_anchor(text: &str) -> Result<String, String> {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut words = line.split(' ');
    let owner = words.next().unwrap_or_default();
    if owner.is_empty() {
        return Err("the record is empty".to_string());
    }
    if !owner.ends_with('.') {
        return Err(format!(
            "the owner name '{owner}' must be absolute (end with a dot)"
        ));
    }
    // The type follows the optional TTL and class.
    let rtype = words.find(|w| {
        !w.bytes().all(|b| b.is_ascii_digit())
            && !["IN", "CH", "HS"].contains(&w.to_ascii_uppercase().as_str())
    });
    if rtype.is_some_and(|t| t.eq_ignore_ascii_case("DS")) {
        return Err(
            "DS records cannot be anchors here: give the zone's DNSKEY record (dig DNSKEY <zone>)"
                .to_string(),
        );
    }
    TrustAnchors::from_str(&line).map_err(|e| format!("not a DNSKEY record: {e}"))?;
    Ok(line)
}

/// A TLSA record (RFC 6698 §2.1) as read from DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

/// A DNSSEC-validated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validated<T> {
    /// Records; `secure` when every RRset in the answer validated Secure
    /// (RFC 4035 §4.3), false when it is provably or possibly insecure.
    Found { records: Vec<T>, secure: bool },
    /// No such records (`nx`: no such name), and whether the denial of
    /// existence validated Secure.
    Missing { nx: bool, secure: bool },
}

impl<T> Validated<T> {
    pub fn secure(&self) -> bool {
        match self {
            Validated::Found { secure, .. } | Validated::Missing { secure, .. } => *secure,
        }
    }

    fn map<U>(self, f: impl FnMut(T) -> Option<U>) -> Validated<U> {
        match self {
            Validated::Found { records, secure } => {
                let records: Vec<U> = records.into_iter().filter_map(f).collect();
                if records.is_empty() {
                    Validated::Missing { nx: false, secure }
                } else {
                    Validated::Found { records, secure }
                }
            }
            Validated::Missing { nx, secure } => Validated::Missing { nx, secure },
        }
    }
}

impl Dns {
    /// MX records of `domain`, validated (see [`Dns::mx`] for the shape).
    pub async fn mx_validated(
        &self,
        domain: &str,
    ) -> Result<Validated<(u16, String)>, LookupError> {
        Ok(self
            .validated(domain, RecordType::MX)
            .await?
            .map(|data| match data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange
                        .to_utf8()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                )),
                _ => None,
            }))
    }

    /// A and AAAA records of `host`, validated: secure only when both
    /// families' answers (or their denials) are.
    pub async fn addresses_validated(&self, host: &str) -> Result<Validated<IpAddr>, LookupError> {
        let (v4, v6) = tokio::join!(
            self.validated(host, RecordType::A),
            self.validated(host, RecordType::AAAA)
        );
        let ip = |data: RData| match data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        };
        match (v4.map(|v| v.map(ip)), v6.map(|v| v.map(ip))) {
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(a), Ok(b)) => {
                let secure = a.secure() && b.secure();
                Ok(match (a, b) {
                    (Validated::Missing { nx: nx_a, .. }, Validated::Missing { nx: nx_b, .. }) => {
                        Validated::Missing {
                            nx: nx_a && nx_b,
                            secure,
                        }
                    }
                    (a, b) => {
                        let mut records = Vec::new();
                        for v in [a, b] {
                            if let Validated::Found { records: r, .. } = v {
                                records.extend(r);
                            }
                        }
                        Validated::Found { records, secure }
                    }
                })
            }
        }
    }

    /// TLSA records at `_<port>._tcp.<host>` (RFC 7672 §2.2.3), validated.
    pub async fn tlsa(&self, host: &str, port: u16) -> Result<Validated<Tlsa>, LookupError> {
        let name = format!("_{port}._tcp.{}", host.trim_end_matches('.'));
        Ok(self
            .validated(&name, RecordType::TLSA)
            .await?
            .map(|data| match data {
                RData::TLSA(t) => Some(Tlsa {
                    usage: t.cert_usage.into(),
                    selector: t.selector.into(),
                    matching: t.matching.into(),
                    data: t.cert_data,
                }),
                _ => None,
            }))
    }

    /// One validated lookup. A bogus answer is a temporary failure
    /// (RFC 7672 §2.1.1: the zone may be mid-rollover or under attack; try
    /// later, never treat it as unsigned).
    async fn validated(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Validated<RData>, LookupError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let bogus =
            || LookupError::Temporary(format!("DNSSEC validation failed for {fqdn} {rtype}"));
        let start = std::time::Instant::now();
        let answer = self.validating.lookup(fqdn.as_str(), rtype).await;
        STATS.record(start, &answer);
        match answer {
            Ok(found) => {
                let rrsets: Vec<&Record> = found
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .collect();
                if rrsets.iter().any(|r| r.proof == Proof::Bogus) {
                    return Err(bogus());
                }
                let secure = !rrsets.is_empty() && rrsets.iter().all(|r| r.proof.is_secure());
                let records = rrsets
                    .into_iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect();
                Ok(Validated::Found { records, secure })
            }
            Err(NetError::Dns(HickoryDnsError::NoRecordsFound(none))) => {
                if denial_proof(&none) == Proof::Bogus {
                    return Err(bogus());
                }
                Ok(Validated::Missing {
                    nx: none.response_code == ResponseCode::NXDomain,
                    secure: denial_proof(&none).is_secure(),
                })
            }
            Err(NetError::Dns(HickoryDnsError::DnssecBogus | HickoryDnsError::Nsec { .. })) => {
                Err(bogus())
            }
            Err(e) => Err(LookupError::from_net(&e)),
        }
    }
}

/// What DNSSEC says of a negative answer: hickory has already checked the
/// NSEC/NSEC3 proof when the zone is signed, so the SOA's proof is the
/// zone's verdict.
fn denial_proof(none: &NoRecords) -> Proof {
    let all: Vec<Proof> = none
        .soa
        .iter()
        .map(|soa| soa.proof)
        .chain(
            none.authorities
                .iter()
                .flat_map(|a| a.iter().map(|r| r.proof)),
        )
        .collect();
    if all.contains(&Proof::Bogus) {
        Proof::Bogus
    } else if !all.is_empty() && all.iter().all(Proof::is_secure) {
        Proof::Secure
    } else {
        Proof::Insecure
    }
}

/// Why a lookup gave no answer, as delivery must treat it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name does not exist: a hard failure.
    NxDomain,
    /// The name exists but has no record of that type.
    NoRecords,
    /// SERVFAIL, timeout, network: try again later.
    Temporary(String),
}

impl LookupError {
    fn from_net(e: &hickory_resolver::net::NetError) -> Self {
        if e.is_nx_domain() {
            LookupError::NxDomain
        } else if e.is_no_records_found() {
            LookupError::NoRecords
        } else {
            LookupError::Temporary(e.to_string())
        }
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NxDomain => write!(f, "domain does not exist"),
            LookupError::NoRecords => write!(f, "no records"),
            LookupError::Temporary(e) => write!(f, "DNS temporary failure: {e}"),
        }
    }
}

async fn ptr_with<P: ConnectionProvider>(resolver: &Resolver<P>, ip: IpAddr) -> Option<String> {
    let start = std::time::Instant::now();
    let ptr = resolver.reverse_lookup(Name::from(ip)).await;
    STATS.record(start, &ptr);
    let ptr = ptr.ok()?;
    ptr.answers().iter().find_map(|r| match &r.data {
        RData::PTR(p) => Some(p.0.to_utf8()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = ". IN DNSKEY 257 3 13 LkLrFU9nDTU9udh+koDlyLTXntjBv9rdyIO3m2yJ384e7ysKfXnCBbLpAO//lf0jgouSPDXTvQ7HOU/z3nrgrQ==";
    const ZONE: &str = "dane.test. IN DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYjVNmhP/IK7V4UemYzud+amejuZlQZQw==";

    #[test]
    fn a_root_anchor_replaces_iana_and_others_add_to_it() {
        let iana = TrustAnchors::default().len();
        assert_eq!(trust_anchors(&[]).map(|a| a.len()).ok(), Some(iana));
        assert_eq!(
            trust_anchors(&[ZONE.to_string()]).map(|a| a.len()).ok(),
            Some(iana)
        );
        assert_eq!(
            trust_anchors(&[ROOT.to_string(), ZONE.to_string()])
                .map(|a| a.len())
                .ok(),
            Some(1)
        );
    }

    #[test]
    fn trust_anchor_records_are_checked_and_normalised() {
        assert_eq!(
            parse_trust_anchor("  dane.test.   3600 IN  DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYj\n VNmhP/IK7V4UemYzud+amejuZlQZQw==").as_deref(),
            Ok("dane.test. 3600 IN DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYj VNmhP/IK7V4UemYzud+amejuZlQZQw==")
        );
        for bad in [
            "",
            "dane.test IN DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYjVNmhP/IK7V4UemYzud+amejuZlQZQw==",
            "dane.test. 300 IN DS 29325 13 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            "dane.test. IN TXT hello",
        ] {
            assert!(parse_trust_anchor(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod no_servers_tests {
    use super::*;

    #[tokio::test]
    async fn a_resolver_without_name_servers_builds_and_fails_lookups_quickly() {
        let provider = TokioRuntimeProvider::default();
        let resolver =
            Resolver::builder_with_config(ResolverConfig::from_name_servers(Vec::new()), provider)
                .build()
                .expect("a resolver with no servers still builds");
        let started = std::time::Instant::now();
        assert!(resolver.lookup_ip("example.com.").await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
