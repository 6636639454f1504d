//! `interfaceconfig`: the addresses of Management, Data 1 and Data 2 (the
//! board profile decides which NIC each one is), and DHCP on Management.
//!
//! Addresses take effect at the next boot (init applies them). With DHCP,
//! `print` shows the lease init recorded ([`dhcp_io::LEASE_FILE`]) in the
//! same place as a static address, so `Management (192.168.42.42/24`
//! reads the same whichever way the address came.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::args::{interface_name, invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;
use crate::init::dhcp_io::{self, LeaseRecord};
use crate::init::netconfig::MANAGEMENT;

pub(super) use breakwater_control_proto::usage::INTERFACECONFIG as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        // AsyncOS sets Management's HTTPS/HTTP/SSH services here too.
        (Some("edit"), [_, name, options @ ..])
            if name.eq_ignore_ascii_case(MANAGEMENT)
                && options.first().is_some_and(|o| o.starts_with("--")) =>
        {
            super::adminaccessconfig::setup(ctx, options)
        }
        (Some("edit"), [_, name, cidr]) => edit(ctx, name, cidr),
        // `interfaceconfig edit Data 1 192.0.2.1/24` without the quotes.
        (Some("edit"), [_, first, second, cidr]) => edit(ctx, &format!("{first} {second}"), cidr),
        _ => Err(usage(USAGE)),
    }
}

fn edit(ctx: &CommandContext<'_>, name: &str, cidr: &str) -> Result<String, CliError> {
    if cidr.eq_ignore_ascii_case("dhcp") {
        return edit_dhcp(ctx, name);
    }
    let (addr, prefix) = cidr.split_once('/').ok_or_else(|| {
        invalid(format!(
            "Invalid address '{cidr}': give the address and prefix length, e.g. 192.0.2.10/24."
        ))
    })?;
    let address: IpAddr = addr
        .parse()
        .map_err(|_| invalid(format!("Invalid IP address '{addr}'.")))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = number("the prefix length", prefix, 1u8, max)?;
    if address.is_unspecified() || address.is_multicast() {
        return Err(invalid(format!(
            "{address} cannot be an interface address."
        )));
    }
    let mut cfg = ctx.store.working()?;
    let canonical = interface_name(&cfg, name)?;
    if let Some(other) = cfg
        .interfaces
        .iter()
        .find(|i| i.name != canonical && i.address == Some(address))
    {
        return Err(invalid(format!(
            "{address} is already the address of {}.",
            other.name
        )));
    }
    for i in cfg.interfaces.iter_mut().filter(|i| i.name == canonical) {
        i.address = Some(address);
        i.prefix = prefix;
    }
    if canonical == MANAGEMENT {
        cfg.management_dhcp = false;
    }
    stage(
        ctx,
        &cfg,
        &format!("Interface {canonical} set to {address}/{prefix}."),
    )
}

/// `interfaceconfig edit Management dhcp`: init asks a DHCP server for
/// Management's address at boot; the static address is dropped.
fn edit_dhcp(ctx: &CommandContext<'_>, name: &str) -> Result<String, CliError> {
    if !name.eq_ignore_ascii_case(MANAGEMENT) {
        return Err(invalid(format!(
            "DHCP is available on {MANAGEMENT} only; give {name} an address and prefix length, e.g. 192.0.2.10/24."
        )));
    }
    let mut cfg = ctx.store.working()?;
    for i in cfg.interfaces.iter_mut().filter(|i| i.name == MANAGEMENT) {
        i.address = None;
    }
    cfg.management_dhcp = true;
    let listeners: Vec<&str> = cfg
        .listeners
        .iter()
        .filter(|l| l.interface.eq_ignore_ascii_case(MANAGEMENT))
        .map(|l| l.name.as_str())
        .collect();
    let note = if listeners.is_empty() {
        String::new()
    } else {
        format!(
            "\nListeners on {MANAGEMENT} ({}) do not listen while its address comes from DHCP.",
            listeners.join(", ")
        )
    };
    stage(
        ctx,
        &cfg,
        &format!("Interface {MANAGEMENT} set to DHCP.{note}"),
    )
}

/// AsyncOS's `interfaceconfig` list, with the Management lease init
/// recorded when Management uses DHCP.
pub(super) fn render(cfg: &Config) -> String {
    let lease = cfg
        .management_dhcp
        .then(|| dhcp_io::read_lease(Path::new(dhcp_io::LEASE_FILE)))
        .flatten();
    render_with(cfg, lease.as_ref())
}

fn render_with(cfg: &Config, lease: Option<&LeaseRecord>) -> String {
    let mut out = String::from("Currently configured interfaces:");
    for (n, i) in cfg.interfaces.iter().enumerate() {
        let host = &cfg.hostname;
        let _ = write!(out, "\n{}. {} (", n + 1, i.name);
        if cfg.management_dhcp && i.name == MANAGEMENT {
            let _ = match lease {
                Some(l) => write!(
                    out,
                    "{}/{}: {host}) DHCP from {}, lease {} s",
                    l.address, l.prefix, l.server, l.lease_secs
                ),
                None => write!(out, "DHCP, no lease yet: {host})"),
            };
            continue;
        }
        let _ = match i.address {
            Some(a) => write!(out, "{a}/{}: {host})", i.prefix),
            None => write!(out, "not configured: {host})"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::testutil::Fixture;
    use super::*;

    #[test]
    fn print_shows_each_interface_with_address_and_hostname() {
        let f = Fixture::new();
        assert_eq!(
            f.run("interfaceconfig print").unwrap(),
            "Currently configured interfaces:\n\
             1. Management (127.0.0.1/8: breakwater.dev.local)\n\
             2. Data 1 (127.0.1.1/8: breakwater.dev.local)\n\
             3. Data 2 (127.0.2.1/8: breakwater.dev.local)"
        );
    }

    #[test]
    fn edit_sets_address_and_prefix() {
        for (line, name, addr, prefix) in [
            (
                "interfaceconfig edit \"data 1\" 192.0.2.10/24",
                "Data 1",
                "192.0.2.10",
                24,
            ),
            (
                "interfaceconfig edit Data 2 2001:db8::25/64",
                "Data 2",
                "2001:db8::25",
                64,
            ),
            (
                "interfaceconfig edit MANAGEMENT 10.0.0.2/16",
                "Management",
                "10.0.0.2",
                16,
            ),
        ] {
            let f = Fixture::new();
            f.run(line).unwrap();
            let cfg = f.staged().unwrap();
            let i = cfg.interface(name).unwrap();
            assert_eq!(i.address, Some(addr.parse::<IpAddr>().unwrap()), "{line}");
            assert_eq!(i.prefix, prefix);
        }
    }

    #[test]
    fn dhcp_on_management_replaces_its_address_and_a_static_one_turns_it_off() {
        let f = Fixture::new();
        let out = f.run("interfaceconfig edit management DHCP").unwrap();
        assert!(
            out.starts_with("Interface Management set to DHCP."),
            "{out}"
        );
        let cfg = f.staged().unwrap();
        assert!(cfg.management_dhcp);
        assert_eq!(cfg.interface("Management").unwrap().address, None);
        assert!(
            f.run("interfaceconfig print")
                .unwrap()
                .contains("\n1. Management (DHCP, no lease yet: breakwater.dev.local)\n")
        );
        f.run("interfaceconfig edit Management 192.0.2.42/24")
            .unwrap();
        let cfg = f.staged().unwrap();
        assert!(!cfg.management_dhcp);
        assert_eq!(
            cfg.interface("Management").unwrap().address,
            Some("192.0.2.42".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn print_shows_the_lease_where_a_static_address_would_be() {
        let f = Fixture::new();
        f.run("interfaceconfig edit Management dhcp").unwrap();
        let lease = LeaseRecord {
            address: "192.168.42.42".parse().unwrap(),
            prefix: 24,
            server: "192.168.42.2".parse().unwrap(),
            router: Some("192.168.42.1".parse().unwrap()),
            dns_servers: vec![],
            lease_secs: 86400,
            default_route: true,
            obtained: 0,
        };
        let out = render_with(&f.staged().unwrap(), Some(&lease));
        assert!(
            out.contains(
                "\n1. Management (192.168.42.42/24: breakwater.dev.local) DHCP from 192.168.42.2, lease 86400 s\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "interfaceconfig edit \"Data 3\" 192.0.2.1/24",
            "interfaceconfig edit \"Data 1\" 192.0.2.1",
            "interfaceconfig edit \"Data 1\" 192.0.2.1/33",
            "interfaceconfig edit \"Data 1\" 192.0.2.1/0",
            "interfaceconfig edit \"Data 1\" host.example/24",
            "interfaceconfig edit \"Data 1\" 0.0.0.0/24",
            "interfaceconfig edit \"Data 1\" 127.0.2.1/8",
            "interfaceconfig edit \"Data 1\" dhcp",
            "interfaceconfig edit Data 2 DHCP",
            "interfaceconfig edit",
            "interfaceconfig frob",
        ]);
    }
}
