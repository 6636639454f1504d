//! DNS for the gateway: forward-confirmed reverse DNS of connecting clients
//! (what sender groups such as `.protection.outlook.com` match against) and
//! address lookups of SMTP route hosts.
//!
//! Name servers come from the committed `dnsconfig`, never implicitly from
//! the host, unless the list is empty (then the host's resolver
//! configuration is used, which is what a development machine wants). Every
//! query is bounded by the configured timeout and a single attempt per
//! server; answers are cached by hickory's cache.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::{Message, Query};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{ConnectionProvider, Resolver, TokioResolver};

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
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Dns {
    pub fn new(cfg: &DnsConfig) -> Result<Self, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if cfg.servers.is_empty() {
            Resolver::builder(provider).map_err(|e| DnsError(e.to_string()))?
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
        let timeout = Duration::from_secs(u64::from(cfg.timeout_secs.max(1)));
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.cache_size = u64::from(cfg.cache_size);
        opts.ndots = 0;
        let resolver = builder.build().map_err(|e| DnsError(e.to_string()))?;
        Ok(Self {
            resolver,
            servers: cfg.servers.clone(),
            timeout,
        })
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
        let verified = match ip {
            IpAddr::V4(v4) => self
                .resolver
                .ipv4_lookup(name.as_str())
                .await
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
        match self.resolver.lookup_ip(fqdn.as_str()).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) => Err(LookupError::from_net(&e)),
        }
    }

    /// The MX records of `domain` as (preference, exchange without the
    /// trailing dot). A null MX (RFC 7505) is one record with exchange "".
    pub async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, LookupError> {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match self.resolver.mx_lookup(fqdn.as_str()).await {
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
    let ptr = resolver.reverse_lookup(Name::from(ip)).await.ok()?;
    ptr.answers().iter().find_map(|r| match &r.data {
        RData::PTR(p) => Some(p.0.to_utf8()),
        _ => None,
    })
}
