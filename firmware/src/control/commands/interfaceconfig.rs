//! `interfaceconfig`: the addresses of Management, Data 1 and Data 2 (the
//! board profile decides which NIC each one is).

use std::fmt::Write as _;
use std::net::IpAddr;

use super::args::{invalid, number, stage, usage};
use super::{CliError, CommandContext};
use crate::config::Config;

pub(super) const USAGE: &str = "\
usage: interfaceconfig print
       interfaceconfig edit <name> <ip>/<prefix>
names: Management, \"Data 1\", \"Data 2\" (quote the space)";

pub(super) fn run(ctx: &CommandContext<'_>, args: &[String]) -> Result<String, CliError> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args) {
        (Some("print"), [_]) => Ok(render(&ctx.store.working()?)),
        (Some("edit"), [_, name, cidr]) => edit(ctx, name, cidr),
        // `interfaceconfig edit Data 1 192.0.2.1/24` without the quotes.
        (Some("edit"), [_, first, second, cidr]) => edit(ctx, &format!("{first} {second}"), cidr),
        _ => Err(usage(USAGE)),
    }
}

fn edit(ctx: &CommandContext<'_>, name: &str, cidr: &str) -> Result<String, CliError> {
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
    let canonical = cfg.interface(name).map(|i| i.name.clone()).ok_or_else(|| {
        let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
        invalid(format!(
            "There is no interface named '{name}'. Interfaces: {}.",
            names.join(", ")
        ))
    })?;
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
    stage(
        ctx,
        &cfg,
        &format!("Interface {canonical} set to {address}/{prefix}."),
    )
}

/// AsyncOS's `interfaceconfig` list.
pub(super) fn render(cfg: &Config) -> String {
    let mut out = String::from("Currently configured interfaces:");
    for (n, i) in cfg.interfaces.iter().enumerate() {
        let address = i.address.map_or_else(
            || "not configured".to_string(),
            |a| format!("{a}/{}", i.prefix),
        );
        let _ = write!(out, "\n{}. {} ({address}: {})", n + 1, i.name, cfg.hostname);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::testutil::Fixture;

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
    fn bad_requests_are_refused_and_stage_nothing() {
        Fixture::new().assert_refused(&[
            "interfaceconfig edit \"Data 3\" 192.0.2.1/24",
            "interfaceconfig edit \"Data 1\" 192.0.2.1",
            "interfaceconfig edit \"Data 1\" 192.0.2.1/33",
            "interfaceconfig edit \"Data 1\" 192.0.2.1/0",
            "interfaceconfig edit \"Data 1\" host.example/24",
            "interfaceconfig edit \"Data 1\" 0.0.0.0/24",
            "interfaceconfig edit \"Data 1\" 127.0.2.1/8",
            "interfaceconfig edit",
            "interfaceconfig frob",
        ]);
    }
}
