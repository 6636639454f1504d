//! SMTP routes: which next hops serve a recipient domain.
//!
//! The most specific route wins: an exact domain, then the longest
//! `.domain` suffix, then `ALL`. Hosts are tried by priority (0 first);
//! hosts of equal priority share the load round-robin.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{RouteHost, SmtpRoute};

/// The route for `domain`, if any.
pub fn select<'a>(routes: &'a [SmtpRoute], domain: &str) -> Option<&'a SmtpRoute> {
    let domain = domain.to_ascii_lowercase();
    let exact = routes
        .iter()
        .find(|r| r.domain.eq_ignore_ascii_case(&domain));
    exact
        .or_else(|| {
            routes
                .iter()
                .filter(|r| {
                    r.domain.starts_with('.') && {
                        let suffix = r.domain.to_ascii_lowercase();
                        domain.ends_with(&suffix)
                    }
                })
                .max_by_key(|r| r.domain.len())
        })
        .or_else(|| routes.iter().find(|r| r.domain.eq_ignore_ascii_case("ALL")))
}

static ROUND_ROBIN: AtomicUsize = AtomicUsize::new(0);

/// The order to try `hosts` in: by priority, equal priorities rotated.
pub fn attempt_order(hosts: &[RouteHost]) -> Vec<RouteHost> {
    let mut sorted = hosts.to_vec();
    sorted.sort_by_key(|h| h.priority);
    let turn = ROUND_ROBIN.fetch_add(1, Ordering::Relaxed);
    let mut out = Vec::with_capacity(sorted.len());
    for group in sorted.chunk_by(|a, b| a.priority == b.priority) {
        let shift = turn % group.len();
        out.extend(group[shift..].iter().cloned());
        out.extend(group[..shift].iter().cloned());
    }
    out
}

/// The domain part of an address.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteTarget;

    fn route(domain: &str) -> SmtpRoute {
        SmtpRoute {
            domain: domain.into(),
            target: RouteTarget::DevNull,
        }
    }

    #[test]
    fn the_most_specific_route_wins() {
        let routes = vec![
            route("ALL"),
            route(".example.com"),
            route(".mail.example.com"),
            route("example.com"),
        ];
        assert_eq!(
            select(&routes, "example.com").unwrap().domain,
            "example.com"
        );
        assert_eq!(
            select(&routes, "a.mail.example.com").unwrap().domain,
            ".mail.example.com"
        );
        assert_eq!(
            select(&routes, "b.example.com").unwrap().domain,
            ".example.com"
        );
        assert_eq!(select(&routes, "other.org").unwrap().domain, "ALL");
        assert!(select(&routes[1..], "other.org").is_none());
    }

    #[test]
    fn priorities_order_hosts_and_equals_rotate() {
        let h = |host: &str, priority| RouteHost {
            host: host.into(),
            port: 25,
            priority,
        };
        let hosts = vec![h("b", 1), h("a1", 0), h("a2", 0)];
        let first: Vec<String> = attempt_order(&hosts)
            .into_iter()
            .map(|h| h.host.to_string())
            .collect();
        let second: Vec<String> = attempt_order(&hosts)
            .into_iter()
            .map(|h| h.host.to_string())
            .collect();
        assert_eq!(first[2], "b");
        assert_eq!(second[2], "b");
        assert_ne!(first[0], second[0]);
    }
}
