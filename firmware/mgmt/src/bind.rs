//! Where the management plane listens: the Management interface and
//! nothing else. With a static address, that address; with DHCP (the
//! virtual appliance's first boot, decision 0011) the daemon does not
//! know the lease, so the socket binds the wildcard address *and* the
//! Management device (`SO_BINDTODEVICE`): the kernel then delivers only
//! connections that arrive on Management, never on Data 1 or Data 2.
//!
//! Ports below 1024 and `SO_BINDTODEVICE` need root, which the daemon
//! gives up before its runtime starts (decision 0006): [`prebind`] runs
//! while it is still root and [`listen`] adopts those sockets, as the mail
//! listeners do.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use breakwater_config::Config;
use socket2::{Domain, Protocol, Socket, Type};

/// The kernel name init gives the Management port (`init::nics`).
pub const MANAGEMENT_DEVICE: &str = "mgmt";

/// Where on the box the management plane listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    pub ip: IpAddr,
    /// Bound to this device as well (DHCP on Management).
    pub device: Option<String>,
}

/// The Management interface's place in `config`; `None` when it has no
/// address and no DHCP (nothing to listen on).
pub fn place(config: &Config) -> Option<Place> {
    let interface = config.interface("Management")?;
    match interface.address {
        Some(ip) => Some(Place { ip, device: None }),
        None if config.management_dhcp => Some(Place {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            device: Some(MANAGEMENT_DEVICE.to_string()),
        }),
        None => None,
    }
}

/// The (service, address) pairs `config` asks for: `https`, `http`, `ssh`,
/// `metrics` (the plain-HTTP metrics port).
pub fn endpoints(config: &Config) -> Vec<(&'static str, SocketAddr, Option<String>)> {
    let Some(place) = place(config) else {
        return Vec::new();
    };
    let m = &config.management;
    let mut out = Vec::new();
    let mut add = |on: bool, name: &'static str, port: u16| {
        if on {
            out.push((name, SocketAddr::new(place.ip, port), place.device.clone()));
        }
    };
    add(m.https_enabled, "https", m.https_port);
    add(m.https_enabled && m.http_redirect, "http", m.http_port);
    add(m.ssh_enabled, "ssh", m.ssh_port);
    if let Some(port) = config.metrics.plain_port {
        add(true, "metrics", port);
    }
    out
}

type Prebound = (SocketAddr, Option<String>, std::net::TcpListener);

/// Sockets bound while the daemon was root.
static PREBOUND: Mutex<Vec<Prebound>> = Mutex::new(Vec::new());

/// Binds every management socket `config` names, for a daemon about to
/// give up root. Returns the problems found (a port in use): the daemon
/// logs them and runs on without that service.
pub fn prebind(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pool = PREBOUND.lock().unwrap_or_else(|e| e.into_inner());
    for (name, addr, device) in endpoints(config) {
        if pool.iter().any(|(a, d, _)| *a == addr && *d == device) {
            continue;
        }
        match bind_socket(addr, device.as_deref()) {
            Ok(socket) => pool.push((addr, device, socket)),
            Err(e) => problems.push(format!("management {name}: cannot listen on {addr}: {e}")),
        }
    }
    problems
}

/// A listening socket on `addr` (and `device`): the prebound one, or a new
/// one.
pub fn listen(addr: SocketAddr, device: Option<&str>) -> std::io::Result<tokio::net::TcpListener> {
    let prebound = {
        let mut pool = PREBOUND.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter()
            .position(|(a, d, _)| *a == addr && d.as_deref() == device)
            .map(|i| pool.swap_remove(i).2)
    };
    let socket = match prebound {
        Some(s) => s,
        None => bind_socket(addr, device)?,
    };
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket)
}

fn bind_socket(addr: SocketAddr, device: Option<&str>) -> std::io::Result<std::net::TcpListener> {
    if addr.ip().is_unspecified() && device.is_none() {
        // Listening on every interface would answer on Data 1 and Data 2.
        return Err(std::io::Error::other(
            "refusing to bind the wildcard address without the Management device",
        ));
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if let Some(device) = device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    socket.bind(&addr.into())?;
    // A management plane serves a handful of administrators.
    socket.listen(64)?;
    Ok(socket.into())
}
