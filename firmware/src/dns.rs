//! DNS for the gateway: forward-confirmed reverse DNS of connecting clients
//! (what sender groups such as `.protection.outlook.com` match against) and
//! address lookups of SMTP route hosts.
//!
//! Name servers come from the committed `dnsconfig`, never implicitly from
//! the host, unless the list is empty (then the host's resolver
//! configuration is used, which is what a development machine wants). Every
//! query is bounded by the configured timeout and a single attempt per
//! server; answers are cached by hickory's cache.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
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
        let opts = builder.options_mut();
        opts.timeout = Duration::from_secs(u64::from(cfg.timeout_secs.max(1)));
        opts.attempts = 1;
        opts.cache_size = u64::from(cfg.cache_size);
        opts.ndots = 0;
        let resolver = builder.build().map_err(|e| DnsError(e.to_string()))?;
        Ok(Self { resolver })
    }

    /// PTR lookup of `ip`, then a forward lookup of the name to confirm it.
    pub async fn reverse(&self, ip: IpAddr) -> ReverseDns {
        reverse_with(&self.resolver, ip).await
    }

    /// Addresses of `host` (an IP literal resolves to itself).
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match self.resolver.lookup_ip(fqdn.as_str()).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) => Err(e.to_string()),
        }
    }
}

async fn reverse_with<P: ConnectionProvider>(resolver: &Resolver<P>, ip: IpAddr) -> ReverseDns {
    let unverified = |name| ReverseDns {
        name,
        verified: false,
    };
    let Ok(ptr) = resolver.reverse_lookup(Name::from(ip)).await else {
        return unverified(None);
    };
    let Some(name) = ptr.answers().iter().find_map(|r| match &r.data {
        RData::PTR(p) => Some(p.0.to_utf8()),
        _ => None,
    }) else {
        return unverified(None);
    };
    let Ok(forward) = resolver.lookup_ip(name.as_str()).await else {
        return unverified(Some(name.trim_end_matches('.').to_string()));
    };
    let verified = forward.iter().any(|a| a == ip);
    ReverseDns {
        name: Some(name.trim_end_matches('.').to_string()),
        verified,
    }
}
