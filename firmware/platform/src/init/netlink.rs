//! Renaming the ports and giving them addresses, over rtnetlink.
//!
//! Runs on a current-thread tokio runtime of its own (PID 1 has no other
//! runtime). Each step is tried on its own and reported; a failed rename
//! leaves the kernel's name in place, and the addresses then go on that
//! name (the mapping is always logged).

use std::net::IpAddr;
use std::path::Path;

use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use super::netconfig::NetPlan;
use super::nics::{Assignment, ifindex};

/// The kernel name each appliance interface ended up with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(pub Vec<(String, String)>);

impl Names {
    pub fn kernel_name(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| k.as_str())
    }
}

/// Renames the assigned ports, brings up loopback and the ports, adds the
/// plan's addresses and default route. Returns the names in force.
pub fn apply(
    sys: &Path,
    assigned: &[Assignment],
    plan: &NetPlan,
    log: &mut dyn FnMut(String),
) -> Names {
    let fallback = || {
        Names(
            assigned
                .iter()
                .map(|a| (a.name.clone(), a.kernel_name.clone()))
                .collect(),
        )
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log(format!("network: cannot start a runtime for netlink: {e}"));
            return fallback();
        }
    };
    runtime.block_on(async {
        let (connection, handle, _) = match rtnetlink::new_connection() {
            Ok(c) => c,
            Err(e) => {
                log(format!("network: cannot open a netlink socket: {e}"));
                return fallback();
            }
        };
        tokio::spawn(connection);
        let mut names = Names::default();
        for a in assigned {
            names
                .0
                .push((a.name.clone(), rename(&handle, sys, a, log).await));
        }
        if let Some(lo) = ifindex(sys, "lo")
            && let Err(e) = up(&handle, lo).await
        {
            log(format!("network: cannot bring up lo: {e}"));
        }
        for (_, kernel) in &names.0 {
            match ifindex(sys, kernel) {
                Some(i) => {
                    if let Err(e) = up(&handle, i).await {
                        log(format!("network: cannot bring up {kernel}: {e}"));
                    }
                }
                None => log(format!("network: {kernel} has no ifindex")),
            }
        }
        for (name, addr, prefix) in &plan.addresses {
            let Some(kernel) = names.kernel_name(name) else {
                log(format!(
                    "network: {name} {addr}/{prefix}: no such port on this box"
                ));
                continue;
            };
            let Some(index) = ifindex(sys, kernel) else {
                log(format!("network: {name} ({kernel}) has no ifindex"));
                continue;
            };
            match handle
                .address()
                .add(index, *addr, *prefix)
                .replace()
                .execute()
                .await
            {
                Ok(()) => log(format!("network: {name} ({kernel}) {addr}/{prefix}")),
                Err(e) => log(format!("network: {name} ({kernel}) {addr}/{prefix}: {e}")),
            }
        }
        match plan.default_gateway {
            Some(gw) => match default_route(&handle, gw).await {
                Ok(()) => log(format!("network: default route via {gw}")),
                Err(e) => log(format!("network: default route via {gw}: {e}")),
            },
            None => log("network: no default gateway configured".into()),
        }
        names
    })
}

/// A netlink handle for changes after boot: the Management port's DHCP
/// lease ([`super::dhcp_io`]) is installed, renewed and removed while
/// init runs. Each call blocks on a current-thread runtime of its own.
pub struct Netlink {
    runtime: tokio::runtime::Runtime,
    handle: Handle,
}

impl Netlink {
    pub fn open() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let handle = runtime.block_on(async {
            let (connection, handle, _) = rtnetlink::new_connection()?;
            tokio::spawn(connection);
            Ok::<_, std::io::Error>(handle)
        })?;
        Ok(Self { runtime, handle })
    }

    /// `ip address replace ADDR/PREFIX dev INDEX`.
    pub fn add_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), rtnetlink::Error> {
        self.runtime.block_on(
            self.handle
                .address()
                .add(index, addr, prefix)
                .replace()
                .execute(),
        )
    }

    /// `ip address del ADDR/PREFIX dev INDEX`.
    pub fn remove_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), rtnetlink::Error> {
        let mut add = self.handle.address().add(index, addr, prefix);
        let message = add.message_mut().clone();
        self.runtime
            .block_on(self.handle.address().del(message).execute())
    }

    /// `ip route replace default via GW`.
    pub fn set_default_route(&self, gw: IpAddr) -> Result<(), rtnetlink::Error> {
        self.runtime.block_on(default_route(&self.handle, gw))
    }

    /// `ip route del default via GW`.
    pub fn remove_default_route(&self, gw: IpAddr) -> Result<(), rtnetlink::Error> {
        self.runtime
            .block_on(self.handle.route().del(default_route_message(gw)).execute())
    }
}

/// Renames one port (it is down this early in boot); the name in force.
async fn rename(
    handle: &Handle,
    sys: &Path,
    a: &Assignment,
    log: &mut dyn FnMut(String),
) -> String {
    if a.kernel_name == a.target_name {
        return a.kernel_name.clone();
    }
    let Some(index) = ifindex(sys, &a.kernel_name) else {
        log(format!(
            "network: {} has no ifindex; keeping its name",
            a.kernel_name
        ));
        return a.kernel_name.clone();
    };
    let msg = LinkUnspec::new_with_index(index)
        .name(a.target_name.clone())
        .build();
    match handle.link().set(msg).execute().await {
        Ok(()) => {
            log(format!(
                "network: {} is {} ({})",
                a.kernel_name, a.target_name, a.name
            ));
            a.target_name.clone()
        }
        Err(e) => {
            log(format!(
                "network: cannot rename {} to {}: {e}; {} stays {}",
                a.kernel_name, a.target_name, a.name, a.kernel_name
            ));
            a.kernel_name.clone()
        }
    }
}

async fn up(handle: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
}

async fn default_route(handle: &Handle, gw: IpAddr) -> Result<(), rtnetlink::Error> {
    // Replace: a route left from an earlier attempt must not fail the boot.
    handle
        .route()
        .add(default_route_message(gw))
        .replace()
        .execute()
        .await
}

/// `ip route add default via GW`, as iproute2 sends it: a destination
/// prefix length of 0 and no destination attribute; the builder's header
/// is the main table, static, universe scope, unicast.
fn default_route_message(gw: IpAddr) -> RouteMessage {
    match gw {
        IpAddr::V4(v4) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .gateway(v4)
            .build(),
        IpAddr::V6(v6) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
            .gateway(v6)
            .build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_route_is_a_zero_length_prefix_via_the_gateway() {
        use rtnetlink::packet_route::AddressFamily;
        use rtnetlink::packet_route::route::{
            RouteAddress, RouteAttribute, RouteHeader, RouteProtocol, RouteScope, RouteType,
        };
        for (gw, family) in [
            ("192.0.2.1", AddressFamily::Inet),
            ("2001:db8::1", AddressFamily::Inet6),
        ] {
            let gw: IpAddr = gw.parse().unwrap();
            let m = default_route_message(gw);
            assert_eq!(m.header.address_family, family);
            assert_eq!(m.header.destination_prefix_length, 0);
            assert_eq!(m.header.table, RouteHeader::RT_TABLE_MAIN);
            assert_eq!(m.header.protocol, RouteProtocol::Static);
            assert_eq!(m.header.scope, RouteScope::Universe);
            assert_eq!(m.header.kind, RouteType::Unicast);
            let via = m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
                RouteAttribute::Gateway(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
                _ => None,
            });
            assert_eq!(via, Some(gw));
            let dst = m
                .attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Destination(_)));
            assert!(!dst, "a destination would make it a host or network route");
        }
    }

    #[test]
    fn names_are_looked_up_case_insensitively() {
        let n = Names(vec![("Data 1".into(), "data1".into())]);
        assert_eq!(n.kernel_name("data 1"), Some("data1"));
        assert_eq!(n.kernel_name("Data 2"), None);
    }
}
