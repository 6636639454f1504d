//! `dnsconfig`: the name servers the gateway asks (MX, PTR for the HAT,
//! TLSA), and how long it waits for them.

use std::net::{IpAddr, SocketAddr};

use super::args::{comma_list, invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) const USAGE: &str = "\
usage: dnsconfig servers <ip>[:port][,<ip>[:port]...]
       dnsconfig timeout <secs>
       dnsconfig print
servers: IPv4 as 192.0.2.53 or 192.0.2.53:5353, IPv6 as 2001:db8::53 or [2001:db8::53]:5353;
         port 53 by default; asked in the order given";

const DEFAULT_PORT: u16 = 53;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args.len()) {
        (Some("print"), 1) => Ok(render(&ctx.store.working()?)),
        (Some("servers"), n) if n >= 2 => {
            let items = comma_list(&args[1..]);
            if items.is_empty() {
                return Err(usage(USAGE));
            }
            let mut servers: Vec<SocketAddr> = Vec::new();
            for item in &items {
                let s = parse_server(item)?;
                if servers.contains(&s) {
                    return Err(invalid(format!("Name server {s} is listed twice.")));
                }
                servers.push(s);
            }
            let mut cfg = ctx.store.working()?;
            cfg.dns.servers = servers;
            let message = format!("Name servers set to {}.", list(&cfg));
            stage(ctx, &cfg, &message)
        }
        (Some("timeout"), 2) => {
            let secs = number("the DNS timeout", &args[1], 1u32, 300)?;
            let mut cfg = ctx.store.working()?;
            cfg.dns.timeout_secs = secs;
            stage(ctx, &cfg, &format!("DNS timeout set to {secs} seconds."))
        }
        _ => Err(usage(USAGE)),
    }
}

/// `ip`, `ipv4:port`, or `[ipv6]:port`.
fn parse_server(item: &str) -> Result<SocketAddr, CliError> {
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    if let Some(inner) = item.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
        && let Ok(ip @ IpAddr::V6(_)) = inner.parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    match item.parse::<SocketAddr>() {
        Ok(s) if s.port() != 0 => Ok(s),
        _ => Err(invalid(format!(
            "Invalid name server '{item}': use an IP address, optionally with a port (192.0.2.53:53, [2001:db8::53]:53)."
        ))),
    }
}

fn list(cfg: &Config) -> String {
    if cfg.dns.servers.is_empty() {
        return "the host's resolver configuration".to_string();
    }
    cfg.dns
        .servers
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn render(cfg: &Config) -> String {
    format!(
        "Name servers: {}\nTimeout: {} seconds\nCache size: {} entries",
        list(cfg),
        cfg.dns.timeout_secs,
        cfg.dns.cache_size
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::testutil::Fixture;

    #[test]
    fn servers_and_timeout_are_staged() {
        let cases: &[(&str, &[&str])] = &[
            ("dnsconfig servers 192.0.2.53", &["192.0.2.53:53"]),
            (
                "dnsconfig servers 127.0.0.1:5353,::1, [2001:db8::1]:5300",
                &["127.0.0.1:5353", "[::1]:53", "[2001:db8::1]:5300"],
            ),
            ("dnsconfig servers [::1]", &["[::1]:53"]),
        ];
        for (line, expected) in cases {
            let f = Fixture::new();
            f.run(line).unwrap();
            let expected: Vec<SocketAddr> = expected.iter().map(|s| s.parse().unwrap()).collect();
            assert_eq!(f.staged().unwrap().dns.servers, expected, "{line}");
        }
        let f = Fixture::new();
        f.run("dnsconfig timeout 10").unwrap();
        assert_eq!(f.staged().unwrap().dns.timeout_secs, 10);
        assert_eq!(
            f.run("dnsconfig print").unwrap(),
            "Name servers: the host's resolver configuration\nTimeout: 10 seconds\nCache size: 8192 entries"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "dnsconfig servers",
            "dnsconfig servers dns.example",
            "dnsconfig servers 192.0.2.300",
            "dnsconfig servers 192.0.2.1:0",
            "dnsconfig servers 192.0.2.1:70000",
            "dnsconfig servers 192.0.2.1,192.0.2.1:53",
            "dnsconfig servers [192.0.2.1]",
            "dnsconfig timeout 0",
            "dnsconfig timeout soon",
            "dnsconfig timeout",
            "dnsconfig frob",
        ]);
    }
}
