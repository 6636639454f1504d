//! `smtproutes`: where mail for a receiving domain goes instead of its MX
//! hosts (AsyncOS SMTP routes).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use super::args::{comma_list, host_port, invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::NextHop;
use crate::config::{Config, RouteHost, RouteTarget, SmtpRoute};
use crate::table::{Table, TableRow};

pub(super) use breakwater_control_proto::usage::SMTPROUTES as USAGE;

const DEFAULT_PORT: u16 = 25;

impl TableRow for SmtpRoute {
    fn key(&self) -> &str {
        &self.domain
    }
}

fn routes() -> Table<SmtpRoute> {
    Table {
        duplicate_hint: "; use \"smtproutes edit\" to change it",
        ..Table::new("route for {}", "")
    }
}

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    let table = routes();
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("new"), [_, domain, hosts @ ..]) if !hosts.is_empty() => {
            let domain = parse_domain(domain)?;
            let target = parse_target(hosts)?;
            let mut cfg = ctx.store.working()?;
            let route = SmtpRoute { domain, target };
            let message = format!("Added route {}.", route_line(&route));
            // AsyncOS keeps the ALL route last.
            let all = table.position(&cfg.smtp_routes, "ALL");
            table.add(&mut cfg.smtp_routes, route, all.map(|i| i + 1))?;
            stage(ctx, &cfg, &message)
        }
        (Some("edit"), [_, domain, hosts @ ..]) if !hosts.is_empty() => {
            let domain = parse_domain(domain)?;
            let target = parse_target(hosts)?;
            let mut cfg = ctx.store.working()?;
            let route = table.get_mut(&mut cfg.smtp_routes, &domain)?;
            route.target = target;
            let message = format!("Changed route {}.", route_line(route));
            stage(ctx, &cfg, &message)
        }
        (Some("delete"), [_, domain]) => {
            let domain = parse_domain(domain)?;
            let mut cfg = ctx.store.working()?;
            let removed = table.delete(&mut cfg.smtp_routes, &domain)?;
            stage(
                ctx,
                &cfg,
                &format!("Deleted the route for {}.", removed.domain),
            )
        }
        _ => Err(usage(USAGE)),
    }
}

/// `ALL`, `example.com` or `.example.com`, lower-cased.
fn parse_domain(text: &str) -> Result<String, CliError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("ALL") {
        return Ok("ALL".to_string());
    }
    let name = t.strip_prefix('.').unwrap_or(t);
    if crate::config::HostName::parse(name).is_err() {
        return Err(invalid(format!(
            "Invalid route domain '{text}': use example.com, .example.com or ALL."
        )));
    }
    Ok(t.to_ascii_lowercase())
}

fn parse_target(args: &[String]) -> Result<RouteTarget, CliError> {
    let items = comma_list(args);
    if items.iter().any(|i| i == "/dev/null") {
        return if items.len() == 1 {
            Ok(RouteTarget::DevNull)
        } else {
            Err(invalid("/dev/null must be the route's only destination."))
        };
    }
    if items.iter().any(|i| i.eq_ignore_ascii_case("USEDNS")) {
        return if items.len() == 1 {
            Ok(RouteTarget::UseDns)
        } else {
            Err(invalid("USEDNS must be the route's only destination."))
        };
    }
    if items.is_empty() {
        return Err(usage(USAGE));
    }
    let mut hosts: Vec<RouteHost> = Vec::new();
    for item in &items {
        let h = parse_host(item)?;
        if hosts.iter().any(|o| o.host == h.host && o.port == h.port) {
            return Err(invalid(format!("Destination '{item}' is listed twice.")));
        }
        hosts.push(h);
    }
    Ok(RouteTarget::Hosts(hosts))
}

/// `host[:port][/pri=N]`, with IPv6 hosts in brackets (or bare, without a port).
fn parse_host(item: &str) -> Result<RouteHost, CliError> {
    let bad = |why: &str| invalid(format!("Invalid destination '{item}': {why}."));
    let lower = item.to_ascii_lowercase();
    let (hostport, priority) = match lower.find("/pri=") {
        Some(i) => (&item[..i], number("/pri", &item[i + 5..], 0u8, 99)?),
        None => (item, 0),
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        let ip: Ipv6Addr = addr
            .parse()
            .map_err(|_| bad("not an IPv6 address in brackets"))?;
        let port = match after {
            "" => DEFAULT_PORT,
            p => match p.strip_prefix(':') {
                Some(p) => number("the port", p, 1u16, u16::MAX)?,
                None => return Err(bad("expected ':port' after ']'")),
            },
        };
        (ip.to_string(), port)
    } else if let Ok(IpAddr::V6(ip)) = hostport.parse::<IpAddr>() {
        (ip.to_string(), DEFAULT_PORT)
    } else {
        let (host, port) = match hostport.split_once(':') {
            Some((h, p)) => (h, number("the port", p, 1u16, u16::MAX)?),
            None => (hostport, DEFAULT_PORT),
        };
        (host.to_ascii_lowercase(), port)
    };
    // One parse, the one the mail path uses (NextHop: an IP or a HostName).
    let host = NextHop::parse(&host).map_err(|_| bad("not a host name or IP address"))?;
    Ok(RouteHost {
        host,
        port,
        priority,
    })
}

fn route_line(r: &SmtpRoute) -> String {
    let targets = match &r.target {
        RouteTarget::DevNull => "/dev/null".to_string(),
        RouteTarget::UseDns => "USEDNS".to_string(),
        RouteTarget::Hosts(hosts) => hosts
            .iter()
            .map(|h| format!("{}/pri={}", host_port(&h.host, h.port), h.priority))
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!("{} => {targets}", r.domain)
}

/// AsyncOS's `smtproutes print`.
pub(super) fn render(cfg: &Config) -> String {
    if cfg.smtp_routes.is_empty() {
        return "No SMTP routes are configured (mail is delivered by MX lookup).".to_string();
    }
    let mut out = String::from("Host routes");
    for r in &cfg.smtp_routes {
        let _ = write!(out, "\n{}", route_line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;
    use crate::config::{RouteHost, RouteTarget, SmtpRoute};

    fn host(host: &str, port: u16, priority: u8) -> RouteHost {
        RouteHost {
            host: host.into(),
            port,
            priority,
        }
    }

    #[test]
    fn each_form_stages_the_right_route() {
        let cases: &[(&str, &str, RouteTarget)] = &[
            (
                "smtproutes new your_domain.com mx.example.mail.protection.outlook.com",
                "your_domain.com",
                RouteTarget::Hosts(vec![host("mx.example.mail.protection.outlook.com", 25, 0)]),
            ),
            (
                "smtproutes new Example.COM a.example:2525/pri=10,b.example/pri=5",
                "example.com",
                RouteTarget::Hosts(vec![host("a.example", 2525, 10), host("b.example", 25, 5)]),
            ),
            (
                "smtproutes new .example.com 192.0.2.1:26, [2001:db8::1]:587/pri=99, ::1",
                ".example.com",
                RouteTarget::Hosts(vec![
                    host("192.0.2.1", 26, 0),
                    host("2001:db8::1", 587, 99),
                    host("::1", 25, 0),
                ]),
            ),
            ("smtproutes new all /dev/null", "ALL", RouteTarget::DevNull),
            (
                "smtproutes new .sub.example.com USEDNS",
                ".sub.example.com",
                RouteTarget::UseDns,
            ),
        ];
        for (line, domain, target) in cases {
            let f = Fixture::new();
            assert!(f.run(line).unwrap().contains("commit"));
            let expected = SmtpRoute {
                domain: domain.to_string(),
                target: target.clone(),
            };
            assert_eq!(f.staged().unwrap().smtp_routes, [expected], "{line}");
        }
    }

    #[test]
    fn all_stays_last_and_edit_delete_print_work() {
        let f = Fixture::new();
        f.run("smtproutes new ALL relay.example").unwrap();
        f.run("smtproutes new .example.org [::1]:2525/pri=1")
            .unwrap();
        let domains: Vec<String> = f
            .working()
            .smtp_routes
            .iter()
            .map(|r| r.domain.clone())
            .collect();
        assert_eq!(domains, [".example.org", "ALL"]);
        f.run("smtproutes edit all /dev/null").unwrap();
        assert_eq!(
            f.run("smtproutes print").unwrap(),
            "Host routes\n.example.org => [::1]:2525/pri=1\nALL => /dev/null"
        );
        f.run("smtproutes delete .EXAMPLE.org").unwrap();
        assert_eq!(f.working().smtp_routes.len(), 1);
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        let f = Fixture::new();
        f.assert_refused(&[
            "smtproutes new example.com",
            "smtproutes new bad..domain mx.example",
            "smtproutes new example.com bad_host!",
            "smtproutes new example.com mx.example:0",
            "smtproutes new example.com mx.example:99999",
            "smtproutes new example.com mx.example/pri=100",
            "smtproutes new example.com mx.example/pri=x",
            "smtproutes new example.com [::1",
            "smtproutes new example.com [192.0.2.1]:25",
            "smtproutes new example.com [::1]25",
            "smtproutes new example.com /dev/null,mx.example",
            "smtproutes new example.com mx.example,MX.example:25",
            "smtproutes edit example.com mx.example",
            "smtproutes delete example.com",
            "smtproutes frob",
        ]);
        f.run("smtproutes new example.com mx.example").unwrap();
        let before = f.staged();
        assert!(
            f.run("smtproutes new EXAMPLE.com other.example")
                .unwrap_err()
                .to_string()
                .contains("smtproutes edit")
        );
        assert_eq!(f.staged(), before);
    }
}
