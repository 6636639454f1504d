//! The Management port's DHCP client at work: init runs [`super::dhcp`]'s
//! state machine on a thread of its own, over a UDP socket bound to the
//! port, and installs each lease with rtnetlink ([`super::netlink::Netlink`]).
//!
//! - The socket is bound to 0.0.0.0:68 and to the port's device
//!   (`SO_BINDTODEVICE`), so replies on Data 1 or Data 2 are never seen,
//!   and may broadcast (`SO_BROADCAST`). Before the first lease the port
//!   has no address; DISCOVER and REQUEST set the broadcast flag so that
//!   servers answer to 255.255.255.255, which Linux delivers to such a
//!   socket. Renewals are unicast to the server and answered to the
//!   lease's address.
//! - The default route: the lease's router becomes the default route only
//!   when the configuration has no default gateway (`setgateway`). An
//!   administrator's gateway (usually out of Data 2) always wins; a DHCP
//!   server on the Management network cannot redirect the mail traffic.
//! - Each lease is written to [`LEASE_FILE`] (root's, world-readable), so
//!   `interfaceconfig print` in the unprivileged daemon can show it.
//! - Without an answer the client keeps asking (RFC 2131's backoff, at
//!   most every 64 s) for as long as init runs; the box boots anyway.
//!
//! SECURITY: runs as root in PID 1. It reads datagrams from anyone on the
//! Management link; [`super::dhcp`] checks each one before it can change
//! anything, and a change is one address, one prefix and at most one
//! default route on the Management port.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use super::console::say;
use super::dhcp::{
    Action, CLIENT_PORT, Destination, DhcpClient, Lease, MAX_MESSAGE_LEN, SERVER_PORT,
};
use super::netlink::Netlink;

/// Where init records the Management port's lease for the daemon.
pub const LEASE_FILE: &str = "/run/init/management.lease";
/// How long init waits for the first lease before it starts the
/// supervisor (DISCOVER at 0 s, again at about 4 s and 12 s): long enough
/// for any server that answers at all, short enough that a box on a
/// network without one is not held up. The client keeps asking after it.
pub const FIRST_LEASE_WAIT: Duration = Duration::from_secs(15);
/// How long the thread waits before trying again to open its socket or
/// netlink handle (a port that vanished, no memory).
const SETUP_RETRY: Duration = Duration::from_secs(30);

/// The port the client runs on.
#[derive(Debug, Clone)]
pub struct Port {
    /// The appliance's name ("Management").
    pub name: String,
    /// The kernel's (`mgmt`).
    pub kernel_name: String,
    pub index: u32,
    pub mac: [u8; 6],
}

impl Port {
    /// The port `kernel_name` as `/sys/class/net` describes it.
    pub fn from_sys(sys: &Path, name: &str, kernel_name: &str) -> Option<Self> {
        let index = super::nics::ifindex(sys, kernel_name)?;
        let text = std::fs::read_to_string(sys.join("class/net").join(kernel_name).join("address"))
            .ok()?;
        Some(Self {
            name: name.to_string(),
            kernel_name: kernel_name.to_string(),
            index,
            mac: parse_mac(&text)?,
        })
    }
}

/// `52:54:00:12:34:56` as sysfs writes it.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A lease as [`LEASE_FILE`] records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub server: Ipv4Addr,
    pub router: Option<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub lease_secs: u32,
    /// Whether the router is the default route (no `setgateway`).
    pub default_route: bool,
    /// When the lease was granted or last renewed (Unix seconds).
    pub obtained: i64,
}

impl LeaseRecord {
    fn of(lease: &Lease, default_route: bool) -> Self {
        Self {
            address: lease.address,
            prefix: lease.prefix,
            server: lease.server,
            router: lease.router,
            dns_servers: lease.dns_servers.clone(),
            lease_secs: lease.lease_secs,
            default_route,
            obtained: chrono::Utc::now().timestamp(),
        }
    }
}

/// The Management lease init recorded, if there is one.
pub fn read_lease(path: &Path) -> Option<LeaseRecord> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes the record whole (a temporary file renamed over the old one),
/// readable by the daemon.
fn write_lease(path: &Path, record: &LeaseRecord) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec(record).map_err(io::Error::other)?;
    std::fs::write(&tmp, body)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(&tmp, path)
}

/// The console line for a lease: "Management is 192.168.42.42/24 (DHCP
/// from 192.168.42.2, lease 86400 s, router 192.168.42.1)".
pub fn describe(name: &str, lease: &Lease, default_route: bool) -> String {
    let router = match (lease.router, default_route) {
        (Some(r), true) => format!(", default route via {r}"),
        (Some(r), false) => format!(", router {r} not used: a default gateway is configured"),
        (None, _) => String::new(),
    };
    let dns = if lease.dns_servers.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = lease.dns_servers.iter().map(|a| a.to_string()).collect();
        format!(", DNS servers offered {}", list.join(" "))
    };
    format!(
        "{name} is {}/{} (DHCP from {}, lease {} s{router}{dns})",
        lease.address, lease.prefix, lease.server, lease.lease_secs
    )
}

/// Starts the client on `port` in a thread that runs as long as init,
/// and waits up to `wait` for its first lease (reported on the console
/// either way). `default_route`: whether the lease's router may become
/// the default route (the configuration has no default gateway).
pub fn start(port: Port, default_route: bool, wait: Duration) {
    let (first_tx, first_rx) = mpsc::channel();
    let name = port.name.clone();
    let spawned = std::thread::Builder::new()
        .name("dhcp-management".into())
        .spawn(move || run(port, default_route, PathBuf::from(LEASE_FILE), first_tx));
    if let Err(e) = spawned {
        say(format!("{name}: cannot start the DHCP client: {e}"));
        return;
    }
    if first_rx.recv_timeout(wait).is_err() {
        say(format!(
            "{name}: no DHCP answer in {} s; still asking in the background (the gateway starts without a {name} address)",
            wait.as_secs()
        ));
    }
}

/// The client's loop: never returns while init runs.
fn run(port: Port, default_route: bool, lease_file: PathBuf, first: mpsc::Sender<()>) {
    let (socket, netlink) = loop {
        match (open_socket(&port.kernel_name), Netlink::open()) {
            (Ok(s), Ok(n)) => break (s, n),
            (Err(e), _) | (_, Err(e)) => {
                say(format!(
                    "{}: cannot start DHCP ({e}); trying again in {} s",
                    port.name,
                    SETUP_RETRY.as_secs()
                ));
                std::thread::sleep(SETUP_RETRY);
            }
        }
    };
    let mut driver = Driver {
        port,
        default_route,
        lease_file,
        netlink,
        first: Some(first),
    };
    let mut client = DhcpClient::new(driver.port.mac, rand::random(), Instant::now());
    let mut buf = vec![0u8; MAX_MESSAGE_LEN + 1];
    loop {
        for action in client.poll(Instant::now()) {
            driver.act(&socket, action);
        }
        let wait = client
            .next_wakeup()
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        if let Err(e) = socket.set_read_timeout(Some(wait)) {
            say(format!("{}: DHCP socket: {e}", driver.port.name));
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if from.port() == SERVER_PORT => {
                for action in client.receive(Instant::now(), &buf[..n]) {
                    driver.act(&socket, action);
                }
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                say(format!("{}: DHCP socket: {e}", driver.port.name));
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// UDP 0.0.0.0:68 on `device` only, allowed to broadcast.
fn open_socket(device: &str) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(device.as_bytes()))?;
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT);
    socket.bind(&SocketAddr::V4(any).into())?;
    Ok(socket.into())
}

/// What the client's actions do to the system.
struct Driver {
    port: Port,
    default_route: bool,
    lease_file: PathBuf,
    netlink: Netlink,
    first: Option<mpsc::Sender<()>>,
}

impl Driver {
    fn act(&mut self, socket: &std::net::UdpSocket, action: Action) {
        let name = &self.port.name;
        match action {
            Action::Send { to, packet } => {
                let ip = match to {
                    Destination::Broadcast => Ipv4Addr::BROADCAST,
                    Destination::Server(s) => s,
                };
                // A lost message is retransmitted by the state machine.
                let _ = socket.send_to(&packet, SocketAddrV4::new(ip, SERVER_PORT));
            }
            Action::Configure { lease, replaces } => {
                if let Some(old) = replaces {
                    self.remove(&old);
                }
                let addr = IpAddr::V4(lease.address);
                if let Err(e) = self
                    .netlink
                    .add_address(self.port.index, addr, lease.prefix)
                {
                    say(format!(
                        "{name}: cannot set the DHCP address {addr}/{}: {e}",
                        lease.prefix
                    ));
                }
                if let (Some(router), true) = (lease.router, self.default_route)
                    && let Err(e) = self.netlink.set_default_route(IpAddr::V4(router))
                {
                    say(format!("{name}: default route via {router}: {e}"));
                }
                say(describe(name, &lease, self.default_route));
                self.record(&lease);
                if let Some(first) = self.first.take() {
                    let _ = first.send(());
                }
            }
            Action::Renewed(lease) => {
                say(format!(
                    "{name}: DHCP lease on {} renewed for {} s",
                    lease.address, lease.lease_secs
                ));
                self.record(&lease);
            }
            Action::Deconfigure(lease) => {
                self.remove(&lease);
                let _ = std::fs::remove_file(&self.lease_file);
                say(format!(
                    "{name}: DHCP lease on {} lost; {name} has no address until a server answers",
                    lease.address
                ));
            }
        }
    }

    fn remove(&self, lease: &Lease) {
        if let (Some(router), true) = (lease.router, self.default_route) {
            // Gone with the address anyway when the kernel drops the
            // subnet; removed here so no stale route is left either way.
            let _ = self.netlink.remove_default_route(IpAddr::V4(router));
        }
        let addr = IpAddr::V4(lease.address);
        if let Err(e) = self
            .netlink
            .remove_address(self.port.index, addr, lease.prefix)
        {
            say(format!(
                "{}: cannot remove {addr}/{}: {e}",
                self.port.name, lease.prefix
            ));
        }
    }

    fn record(&self, lease: &Lease) {
        let record = LeaseRecord::of(lease, self.default_route);
        if let Err(e) = write_lease(&self.lease_file, &record) {
            say(format!(
                "{}: cannot record the lease in {}: {e}",
                self.port.name,
                self.lease_file.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease() -> Lease {
        Lease {
            address: Ipv4Addr::new(192, 168, 42, 42),
            prefix: 24,
            router: Some(Ipv4Addr::new(192, 168, 42, 1)),
            dns_servers: vec![Ipv4Addr::new(192, 168, 42, 3)],
            server: Ipv4Addr::new(192, 168, 42, 2),
            lease_secs: 86400,
            renew_secs: 43200,
            rebind_secs: 75600,
        }
    }

    #[test]
    fn the_console_line_names_address_server_lease_and_route() {
        assert_eq!(
            describe("Management", &lease(), true),
            "Management is 192.168.42.42/24 (DHCP from 192.168.42.2, lease 86400 s, default route via 192.168.42.1, DNS servers offered 192.168.42.3)"
        );
        assert!(
            describe("Management", &lease(), false)
                .contains("router 192.168.42.1 not used: a default gateway is configured")
        );
    }

    #[test]
    fn the_lease_file_round_trips_and_a_damaged_one_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("init/management.lease");
        assert_eq!(read_lease(&path), None);
        let record = LeaseRecord::of(&lease(), true);
        write_lease(&path, &record).unwrap();
        assert_eq!(read_lease(&path), Some(record));
        std::fs::write(&path, b"{\"address\":").unwrap();
        assert_eq!(read_lease(&path), None);
    }

    #[test]
    fn sysfs_mac_addresses_parse() {
        assert_eq!(
            parse_mac("52:54:00:12:34:56\n"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!(parse_mac("52:54:00:12:34"), None);
        assert_eq!(parse_mac("52:54:00:12:34:56:78"), None);
        assert_eq!(parse_mac("zz:54:00:12:34:56"), None);
    }
}
