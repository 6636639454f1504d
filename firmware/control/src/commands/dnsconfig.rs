//! `dnsconfig`: the name servers the gateway asks (MX, PTR for the HAT,
//! TLSA), how long it waits for them, and the DNSSEC trust anchors DANE
//! validates against.

use std::net::{IpAddr, SocketAddr};

use super::args::{comma_list, invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::DNSCONFIG as USAGE;

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
        (Some("trustanchor"), n) if n >= 2 => trust_anchor(ctx, &args[1..]),
        (Some("timeout"), 2) => {
            let secs = number("the DNS timeout", &args[1], 1u32, 300)?;
            let mut cfg = ctx.store.working()?;
            cfg.dns.timeout_secs = secs;
            stage(ctx, &cfg, &format!("DNS timeout set to {secs} seconds."))
        }
        _ => Err(usage(USAGE)),
    }
}

/// `trustanchor add <record>|delete <n>|print`.
fn trust_anchor(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args[0].to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("print", 1) => Ok(render_anchors(&ctx.store.working()?)),
        ("add", n) if n >= 2 => {
            let record = crate::dns::parse_trust_anchor(&args[1..].join(" "))
                .map_err(|e| invalid(format!("Invalid trust anchor: {e}.")))?;
            let mut cfg = ctx.store.working()?;
            if cfg.dns.trust_anchors.contains(&record) {
                return Err(invalid("That trust anchor is already listed."));
            }
            cfg.dns.trust_anchors.push(record);
            let n = cfg.dns.trust_anchors.len();
            stage(ctx, &cfg, &format!("Trust anchor {n} added."))
        }
        ("delete", 2) => {
            let mut cfg = ctx.store.working()?;
            let count = cfg.dns.trust_anchors.len();
            if count == 0 {
                return Err(invalid("There are no trust anchors to delete."));
            }
            let n: usize = number("the trust anchor number", &args[1], 1, count)?;
            cfg.dns.trust_anchors.remove(n - 1);
            stage(ctx, &cfg, &format!("Trust anchor {n} deleted."))
        }
        _ => Err(usage(USAGE)),
    }
}

fn render_anchors(cfg: &Config) -> String {
    if cfg.dns.trust_anchors.is_empty() {
        return "Trust anchors: IANA root keys (built in)".to_string();
    }
    let mut out = String::from("Trust anchors:");
    for (i, a) in cfg.dns.trust_anchors.iter().enumerate() {
        out.push_str(&format!("\n{}. {a}", i + 1));
    }
    out
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
        "Name servers: {}\nTimeout: {} seconds\nCache size: {} entries\n{}",
        list(cfg),
        cfg.dns.timeout_secs,
        cfg.dns.cache_size,
        render_anchors(cfg)
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
            "Name servers: the host's resolver configuration\nTimeout: 10 seconds\nCache size: 8192 entries\nTrust anchors: IANA root keys (built in)"
        );
    }

    const KSK: &str = "dane.test. IN DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYj VNmhP/IK7V4UemYzud+amejuZlQZQw==";

    #[test]
    fn trust_anchors_are_added_listed_and_deleted() {
        let f = Fixture::new();
        f.run(&format!("dnsconfig trustanchor add {KSK}")).unwrap();
        f.run("dnsconfig trustanchor add .  3600 IN DNSKEY 257 3 13 LkLrFU9nDTU9udh+koDlyLTXntjBv9rdyIO3m2yJ384e7ysKfXnCBbLpAO//lf0jgouSPDXTvQ7HOU/z3nrgrQ==")
            .unwrap();
        let staged = f.staged().unwrap();
        assert_eq!(staged.dns.trust_anchors.len(), 2);
        // Stored on one line with single spaces.
        assert_eq!(
            staged.dns.trust_anchors[1],
            ". 3600 IN DNSKEY 257 3 13 LkLrFU9nDTU9udh+koDlyLTXntjBv9rdyIO3m2yJ384e7ysKfXnCBbLpAO//lf0jgouSPDXTvQ7HOU/z3nrgrQ=="
        );
        let printed = f.run("dnsconfig trustanchor print").unwrap();
        assert!(
            printed.starts_with("Trust anchors:\n1. dane.test. IN DNSKEY 257 3 13"),
            "{printed}"
        );
        f.run("dnsconfig trustanchor delete 1").unwrap();
        assert_eq!(f.staged().unwrap().dns.trust_anchors.len(), 1);
        assert!(f.staged().unwrap().dns.trust_anchors[0].starts_with(". 3600"));
    }

    #[test]
    fn bad_trust_anchors_are_refused() {
        let f = Fixture::new();
        f.run(&format!("dnsconfig trustanchor add {KSK}")).unwrap();
        Fixture::new().assert_refused(&[
            "dnsconfig trustanchor",
            "dnsconfig trustanchor add",
            "dnsconfig trustanchor delete 1",
            "dnsconfig trustanchor add dane.test IN DNSKEY 257 3 13 9dXvKnFENiKJ4fCc4caV1DVwuHn2Txqi4N7+PBP2uN0GrhGUCKag9nYjVNmhP/IK7V4UemYzud+amejuZlQZQw==",
            "dnsconfig trustanchor add dane.test. IN DS 29325 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "dnsconfig trustanchor add dane.test. IN DNSKEY 257 3 13 !!!",
            "dnsconfig trustanchor add dane.test. IN A 192.0.2.1",
            "dnsconfig trustanchor frob",
        ]);
        assert!(f.run(&format!("dnsconfig trustanchor add {KSK}")).is_err());
        assert!(f.run("dnsconfig trustanchor delete 2").is_err());
        assert!(f.run("dnsconfig trustanchor delete 0").is_err());
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
