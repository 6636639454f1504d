//! `setgateway`: the appliance's default gateway, as AsyncOS's command.
//!
//! The daemon runs unprivileged and cannot change routes: init installs
//! the default route at boot from the committed configuration (see
//! `init::netconfig`), so a committed change takes effect at the next
//! reboot. An IPv4 gateway must be on the subnet of a configured
//! interface, or the kernel would refuse the route at boot and the box
//! would come up unreachable from outside its own subnets.

use std::net::{IpAddr, Ipv4Addr};

use super::args::{invalid, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) use breakwater_control_proto::usage::SETGATEWAY as USAGE;

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    match args {
        [p] if p.eq_ignore_ascii_case("print") => Ok(render(&ctx.store.working()?)),
        [d] if d.eq_ignore_ascii_case("delete") => {
            let mut cfg = ctx.store.working()?;
            if cfg.default_gateway.take().is_none() {
                return Err(invalid("There is no default gateway to delete."));
            }
            stage(ctx, &cfg, "Default gateway deleted.")
        }
        [ip] => {
            let mut cfg = ctx.store.working()?;
            let gateway = check_gateway(&cfg, ip)?;
            if cfg.default_gateway == Some(gateway) {
                return Err(invalid(format!(
                    "The default gateway is already {gateway}."
                )));
            }
            cfg.default_gateway = Some(gateway);
            stage(ctx, &cfg, &format!("Default gateway set to {gateway}."))
        }
        _ => Err(usage(USAGE)),
    }
}

/// The `setgateway print` line (also a section of `showconfig`).
pub(super) fn render(cfg: &Config) -> String {
    match cfg.default_gateway {
        Some(gw) => format!("Default gateway: {gw}"),
        None => "Default gateway: not configured".to_string(),
    }
}

/// `text` as a gateway `cfg`'s interfaces can reach.
pub(super) fn check_gateway(cfg: &Config, text: &str) -> Result<IpAddr, CliError> {
    let gateway: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| invalid(format!("Invalid IP address '{text}'.")))?;
    if gateway.is_unspecified() || gateway.is_multicast() || gateway.is_loopback() {
        return Err(invalid(format!("{gateway} cannot be a gateway.")));
    }
    if let Some(own) = cfg.interfaces.iter().find(|i| i.address == Some(gateway)) {
        return Err(invalid(format!(
            "{gateway} is the address of interface {}; give the router's address.",
            own.name
        )));
    }
    match gateway {
        IpAddr::V4(v4) => check_v4(cfg, v4).map(|()| gateway),
        // A link-local next hop needs an outgoing interface, which the
        // configuration does not name; a global address does not.
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Err(invalid(format!(
            "{gateway} is a link-local address; give the router's global IPv6 address."
        ))),
        IpAddr::V6(_) => Ok(gateway),
    }
}

fn check_v4(cfg: &Config, gw: Ipv4Addr) -> Result<(), CliError> {
    let on = cfg.interfaces.iter().find_map(|i| match i.address {
        Some(IpAddr::V4(a)) if same_subnet(a, gw, i.prefix) => Some((i, a)),
        _ => None,
    });
    let Some((interface, addr)) = on else {
        let subnets: Vec<String> = cfg
            .interfaces
            .iter()
            .filter_map(|i| match i.address {
                Some(a @ IpAddr::V4(_)) => Some(format!("{} {a}/{}", i.name, i.prefix)),
                _ => None,
            })
            .collect();
        let known = if subnets.is_empty() {
            "no interface has an IPv4 address".to_string()
        } else {
            format!("interfaces: {}", subnets.join(", "))
        };
        return Err(invalid(format!(
            "{gw} is not on the subnet of any configured interface ({known}); \
             set the interface's address first (interfaceconfig)."
        )));
    };
    // The network and broadcast addresses of a subnet are no host's.
    let mask = mask(interface.prefix);
    let host = u32::from(gw) & !mask;
    if interface.prefix <= 30 && (host == 0 || host == !mask) {
        return Err(invalid(format!(
            "{gw} is the network or broadcast address of {} ({addr}/{}).",
            interface.name, interface.prefix
        )));
    }
    Ok(())
}

fn mask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let m = mask(prefix);
    u32::from(a) & m == u32::from(b) & m
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Fixture;

    /// The factory dev board has loopback addresses only: give Data 1 and
    /// Data 2 real ones first.
    fn fixture() -> Fixture {
        let f = Fixture::new();
        f.run("interfaceconfig edit \"Data 1\" 192.0.2.10/24")
            .unwrap();
        f.run("interfaceconfig edit \"Data 2\" 198.51.100.10/24")
            .unwrap();
        f.run("commit addresses").unwrap();
        f
    }

    #[test]
    fn a_gateway_on_an_interface_subnet_is_staged_and_printed() {
        let f = fixture();
        assert_eq!(
            f.run("setgateway print").unwrap(),
            "Default gateway: not configured"
        );
        let out = f.run("setgateway 192.0.2.1").unwrap();
        assert!(
            out.starts_with("Default gateway set to 192.0.2.1."),
            "{out}"
        );
        assert!(
            out.contains("The change is staged, not yet in effect"),
            "{out}"
        );
        assert_eq!(
            f.staged().unwrap().default_gateway,
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(f.store.committed().unwrap().default_gateway, None);
        assert_eq!(
            f.run("SETGATEWAY PRINT").unwrap(),
            "Default gateway: 192.0.2.1"
        );
        let shown = f.run("showconfig").unwrap();
        assert!(shown.contains("Default gateway: 192.0.2.1"), "{shown}");
        assert!(f.run("setgateway 192.0.2.1").is_err(), "already set");
        f.run("setgateway 198.51.100.1").unwrap();
        f.run("setgateway 2001:db8::1").unwrap();
        assert_eq!(
            f.working().default_gateway,
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn a_gateway_outside_every_subnet_is_refused_naming_the_interfaces() {
        let f = fixture();
        let err = f.run("setgateway 203.0.113.1").unwrap_err().to_string();
        assert!(
            err.contains("203.0.113.1 is not on the subnet of any configured interface")
                && err.contains("Data 1 192.0.2.10/24")
                && err.contains("interfaceconfig"),
            "{err}"
        );
        assert!(f.staged().is_none());
    }

    #[test]
    fn bad_gateways_are_refused_and_stage_nothing() {
        fixture().assert_refused(&[
            "setgateway",
            "setgateway gateway.example.com",
            "setgateway 10.0.0.1",
            "setgateway 192.0.2.10",
            "setgateway 192.0.2.0",
            "setgateway 192.0.2.255",
            "setgateway 127.0.1.254",
            "setgateway 0.0.0.0",
            "setgateway 224.0.0.1",
            "setgateway ::",
            "setgateway ::1",
            "setgateway fe80::1",
            "setgateway 192.0.2.1 extra",
            "setgateway delete",
        ]);
    }

    #[test]
    fn delete_removes_the_gateway() {
        let f = fixture();
        f.run("setgateway 198.51.100.1").unwrap();
        f.run("commit gateway").unwrap();
        let out = f.run("setgateway delete").unwrap();
        assert!(out.starts_with("Default gateway deleted."), "{out}");
        assert_eq!(f.staged().unwrap().default_gateway, None);
        assert_eq!(
            f.store.committed().unwrap().default_gateway,
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(
            f.run("setgateway print").unwrap(),
            "Default gateway: not configured"
        );
    }
}
