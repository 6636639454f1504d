//! The DHCPv4 client of the Management port, sans I/O (RFC 2131).
//!
//! A virtual appliance deployed in a cloud or a lab has no console
//! operator to type an address, so the `vesa` board asks for one on its
//! first boot (`interfaceconfig edit Management dhcp`; see
//! docs/decisions/0011-dhcp-management.md). This module is the protocol
//! only: bytes and the time in, [`Action`]s out (packets to send, a lease
//! to install or remove). [`super::dhcp_io`] is the thin driver that owns
//! the UDP socket and the rtnetlink handle; tests and the fuzzer drive the
//! core directly.
//!
//! The wire format is smoltcp's (`smoltcp::wire::DhcpPacket` /
//! `DhcpRepr`): a checked view of the packet and a validated
//! representation, with no accessor that panics once checked. On top of
//! it [`parse_reply`] applies what a client must check itself: only
//! OFFER, ACK and NAK from a server, a server identifier, a usable
//! unicast address, a contiguous subnet mask, a bounded option list.
//!
//! Exposure: every datagram on UDP port 68 of the Management network,
//! from anyone on that link. A packet that does not parse, that carries
//! another transaction's `xid` or another client's hardware address, or
//! that does not fit the state is dropped without changing anything.
//! Lease times are clamped ([`MIN_LEASE_SECS`], [`MAX_LEASE_SECS`]) and a
//! NAK restarts the exchange only after [`NAK_HOLDOFF`], so a hostile
//! server can neither spin the client nor make it forget a lease by
//! talking out of turn.
//!
//! The states, as in RFC 2131 figure 5:
//!
//! ```text
//!  Selecting --OFFER--> Requesting --ACK--> Bound --T1--> Renewing --T2--> Rebinding
//!      ^                    |                 ^              |  ACK            |  ACK
//!      +---NAK, no answer---+                 +--------------+-----------------+
//!      ^                                                     | NAK / lease expired
//!      +-----------------------------------------------------+----------------+
//! ```

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use smoltcp::wire::{DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress};

/// The port servers answer on.
pub const CLIENT_PORT: u16 = smoltcp::wire::DHCP_CLIENT_PORT;
/// The port requests go to.
pub const SERVER_PORT: u16 = smoltcp::wire::DHCP_SERVER_PORT;

/// BOOTP's minimum message (RFC 1542 section 2.1): some relays and
/// servers drop anything shorter, so requests are padded to it.
const MIN_MESSAGE_LEN: usize = 300;
/// The largest datagram a reply may be: a DHCP message fills at most one
/// Ethernet frame (576 octets is the RFC minimum; 1500 the usual MTU).
pub const MAX_MESSAGE_LEN: usize = 1500;
/// First retransmission delay (RFC 2131 section 4.1: 4 s, doubled each
/// time up to 64 s, randomised by one second either way).
const FIRST_RETRANSMIT: Duration = Duration::from_secs(4);
const MAX_RETRANSMIT: Duration = Duration::from_secs(64);
/// REQUESTs sent for one OFFER before the client starts over with a
/// DISCOVER (4 s + 8 s + 16 s + 32 s: one minute, as dhclient).
const REQUEST_ATTEMPTS: u32 = 4;
/// In RENEWING and REBINDING the client retransmits at half the time left
/// (to T2 or to expiry), but not more often than this (RFC 2131 4.4.5).
const MIN_RENEW_RETRANSMIT: Duration = Duration::from_secs(60);
/// Leases shorter than this are taken as this long: a server (or an
/// attacker) giving one-second leases would have the client renew in a
/// loop. dhcpcd clamps to 20 s; a minute is still far below any real
/// server's default (dnsmasq: 1 h, QEMU: 24 h).
pub const MIN_LEASE_SECS: u32 = 60;
/// Leases longer than this (including "infinite", 0xffffffff) are renewed
/// after this long anyway; it also keeps every deadline representable.
pub const MAX_LEASE_SECS: u32 = 365 * 24 * 3600;
/// After a NAK in REQUESTING, wait this long before the next DISCOVER, so
/// a server that NAKs every REQUEST cannot make the client loop at wire
/// speed.
pub const NAK_HOLDOFF: Duration = Duration::from_secs(4);
/// What the client asks servers for (RFC 2132 codes): subnet mask,
/// router, domain name servers, lease time, T1, T2.
const PARAMETER_REQUEST_LIST: &[u8] = &[1, 3, 6, 51, 58, 59];
/// RFC 2132 option code of the router list (smoltcp's representation
/// reads a single router only; a server may send several).
const OPT_ROUTER: u8 = 3;

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    #[error("not a DHCP message")]
    Malformed,
    #[error("a {0:?} message is not a server's reply")]
    NotAReply(DhcpMessageType),
    #[error("the reply names no server identifier")]
    NoServerIdentifier,
    #[error("{0} cannot be an interface address")]
    UnusableAddress(Ipv4Addr),
    #[error("subnet mask {0} is not contiguous")]
    BadSubnetMask(Ipv4Addr),
    #[error("the reply is longer than {MAX_MESSAGE_LEN} octets")]
    TooLong,
}

/// What a server said, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: ReplyKind,
    pub xid: u32,
    pub client_hardware_address: [u8; 6],
    pub server: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    Offer(Offered),
    Ack(Offered),
    Nak,
}

/// An address and its parameters as an OFFER or an ACK carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub lease_secs: Option<u32>,
    pub renew_secs: Option<u32>,
    pub rebind_secs: Option<u32>,
}

/// Parses and checks one datagram from port 67. Everything on the link
/// can send one: nothing here trusts a length or an option.
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, DhcpError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(DhcpError::TooLong);
    }
    let packet = DhcpPacket::new_checked(bytes).map_err(|_| DhcpError::Malformed)?;
    let repr = DhcpRepr::parse(&packet).map_err(|_| DhcpError::Malformed)?;
    let server = repr
        .server_identifier
        .ok_or(DhcpError::NoServerIdentifier)?;
    let kind = match repr.message_type {
        DhcpMessageType::Nak => ReplyKind::Nak,
        t @ (DhcpMessageType::Offer | DhcpMessageType::Ack) => {
            let address = repr.your_ip;
            if !usable_unicast(address) {
                return Err(DhcpError::UnusableAddress(address));
            }
            let prefix = match repr.subnet_mask {
                Some(mask) => prefix_of(mask).ok_or(DhcpError::BadSubnetMask(mask))?,
                None => classful_prefix(address),
            };
            // The first usable router of the list (smoltcp's
            // representation only reads a list of exactly one).
            let router = packet
                .options()
                .filter(|o| o.kind == OPT_ROUTER)
                .flat_map(|o| o.data.chunks_exact(4))
                .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                .find(|r| usable_unicast(*r) && *r != address);
            let offered = Offered {
                address,
                prefix,
                router,
                dns_servers: repr
                    .dns_servers
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|a| usable_unicast(*a))
                    .collect(),
                lease_secs: repr.lease_duration,
                renew_secs: repr.renew_duration,
                rebind_secs: repr.rebind_duration,
            };
            if t == DhcpMessageType::Offer {
                ReplyKind::Offer(offered)
            } else {
                ReplyKind::Ack(offered)
            }
        }
        other => return Err(DhcpError::NotAReply(other)),
    };
    Ok(Reply {
        kind,
        xid: repr.transaction_id,
        client_hardware_address: repr.client_hardware_address.0,
        server,
    })
}

/// An address a host may take or route through.
fn usable_unicast(a: Ipv4Addr) -> bool {
    !(a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_loopback()
        || a.octets()[0] >= 240)
}

/// The prefix length of a contiguous mask (/1 to /32); `None` otherwise.
fn prefix_of(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (ones >= 1 && bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// RFC 2131 leaves a missing mask to the client: the address's class.
fn classful_prefix(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

/// An address the client holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    /// The server identifier: where renewals go.
    pub server: Ipv4Addr,
    /// Clamped to [`MIN_LEASE_SECS`]..=[`MAX_LEASE_SECS`].
    pub lease_secs: u32,
    /// T1: when RENEWING starts, seconds after the ACK.
    pub renew_secs: u32,
    /// T2: when REBINDING starts, seconds after the ACK.
    pub rebind_secs: u32,
}

impl Lease {
    /// The lease an ACK grants; `None` without a lease time (RFC 2131
    /// table 3: a server MUST send one in an ACK to a REQUEST).
    fn from_ack(server: Ipv4Addr, o: Offered) -> Option<Self> {
        let lease = o.lease_secs?.clamp(MIN_LEASE_SECS, MAX_LEASE_SECS);
        // RFC 2131 4.4.5: T1 defaults to half the lease, T2 to 7/8; times
        // out of order are replaced by the defaults.
        let default_t1 = lease / 2;
        let default_t2 = (u64::from(lease) * 7 / 8) as u32;
        let (t1, t2) = match (o.renew_secs, o.rebind_secs) {
            (Some(t1), Some(t2)) if t1 < t2 && t2 < lease => (t1, t2),
            (Some(t1), None) if t1 < default_t2 => (t1, default_t2),
            (None, Some(t2)) if default_t1 < t2 && t2 < lease => (default_t1, t2),
            _ => (default_t1, default_t2),
        };
        Some(Self {
            address: o.address,
            prefix: o.prefix,
            router: o.router,
            dns_servers: o.dns_servers,
            server,
            lease_secs: lease,
            renew_secs: t1,
            rebind_secs: t2,
        })
    }

    /// The same address on the same network through the same router: a
    /// renewal that needs no change to the interface.
    fn same_binding(&self, other: &Lease) -> bool {
        (self.address, self.prefix, self.router) == (other.address, other.prefix, other.router)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// 255.255.255.255:67 (SELECTING, REQUESTING, REBINDING).
    Broadcast,
    /// The lease's server, unicast (RENEWING).
    Server(Ipv4Addr),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: Destination,
        packet: Vec<u8>,
    },
    /// Install this lease: a new one, or one whose address, prefix or
    /// router changed (the driver removes `replaces` first).
    Configure {
        lease: Lease,
        replaces: Option<Lease>,
    },
    /// The same binding again with fresh timers (nothing to change on
    /// the interface).
    Renewed(Lease),
    /// The lease is gone (expired or refused): remove its address.
    Deconfigure(Lease),
}

#[derive(Debug, Clone)]
enum State {
    /// DISCOVER sent (or due); waiting for an OFFER.
    Selecting,
    /// REQUEST for an OFFER sent `attempts` times.
    Requesting {
        server: Ipv4Addr,
        offered: Offered,
        attempts: u32,
    },
    /// Holding `lease` since `acked`.
    Bound { lease: Lease, acked: Instant },
    /// After T1: unicast REQUESTs to the lease's server.
    Renewing { lease: Lease, acked: Instant },
    /// After T2: broadcast REQUESTs to any server.
    Rebinding { lease: Lease, acked: Instant },
}

/// The client of one interface.
#[derive(Debug)]
pub struct DhcpClient {
    mac: [u8; 6],
    state: State,
    xid: u32,
    /// When the current exchange began (the `secs` field).
    began: Instant,
    /// When the next message of the current state is due.
    next_send: Instant,
    backoff: Duration,
    rng: StdRng,
}

impl DhcpClient {
    /// A client for the interface with hardware address `mac`, starting
    /// in SELECTING with a DISCOVER due at `now`. `seed` feeds the
    /// transaction ids and the retransmission jitter.
    pub fn new(mac: [u8; 6], seed: u64, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let xid = rng.random();
        Self {
            mac,
            state: State::Selecting,
            xid,
            began: now,
            next_send: now,
            backoff: FIRST_RETRANSMIT,
            rng,
        }
    }

    /// The lease held, if any (BOUND, RENEWING or REBINDING).
    pub fn lease(&self) -> Option<&Lease> {
        match &self.state {
            State::Bound { lease, .. }
            | State::Renewing { lease, .. }
            | State::Rebinding { lease, .. } => Some(lease),
            _ => None,
        }
    }

    /// When [`Self::poll`] has something to do next.
    pub fn next_wakeup(&self) -> Instant {
        match &self.state {
            State::Selecting | State::Requesting { .. } => self.next_send,
            State::Bound { lease, acked } => *acked + secs(lease.renew_secs),
            State::Renewing { lease, acked } => self
                .next_send
                .min(*acked + secs(lease.rebind_secs))
                .min(*acked + secs(lease.lease_secs)),
            State::Rebinding { lease, acked } => {
                self.next_send.min(*acked + secs(lease.lease_secs))
            }
        }
    }

    /// Timers: what is due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let state = self.state.clone();
        match state {
            State::Selecting => {
                if now >= self.next_send {
                    out.push(self.discover(now));
                }
            }
            State::Requesting {
                server,
                offered,
                attempts,
            } => {
                if now >= self.next_send {
                    if attempts >= REQUEST_ATTEMPTS {
                        self.restart(now);
                        out.push(self.discover(now));
                    } else {
                        self.state = State::Requesting {
                            server,
                            offered: offered.clone(),
                            attempts: attempts + 1,
                        };
                        out.push(self.request_offer(now, server, offered.address));
                    }
                }
            }
            State::Bound { lease, acked } | State::Renewing { lease, acked }
                if now >= acked + secs(lease.lease_secs) =>
            {
                out.extend(self.expire(now, lease));
            }
            State::Rebinding { lease, acked } if now >= acked + secs(lease.lease_secs) => {
                out.extend(self.expire(now, lease));
            }
            State::Bound { lease, acked } | State::Renewing { lease, acked }
                if now >= acked + secs(lease.rebind_secs) =>
            {
                self.new_exchange(now);
                self.state = State::Rebinding {
                    lease: lease.clone(),
                    acked,
                };
                out.push(self.renewal(now, &lease, acked, Destination::Broadcast));
            }
            State::Bound { lease, acked } if now >= acked + secs(lease.renew_secs) => {
                self.new_exchange(now);
                self.state = State::Renewing {
                    lease: lease.clone(),
                    acked,
                };
                let to = Destination::Server(lease.server);
                out.push(self.renewal(now, &lease, acked, to));
            }
            State::Renewing { lease, acked } if now >= self.next_send => {
                let to = Destination::Server(lease.server);
                out.push(self.renewal(now, &lease, acked, to));
            }
            State::Rebinding { lease, acked } if now >= self.next_send => {
                out.push(self.renewal(now, &lease, acked, Destination::Broadcast));
            }
            State::Bound { .. } | State::Renewing { .. } | State::Rebinding { .. } => {}
        }
        out
    }

    /// A datagram from port 67. Anything that does not parse, is not for
    /// this exchange or does not fit the state is dropped (no action).
    pub fn receive(&mut self, now: Instant, datagram: &[u8]) -> Vec<Action> {
        let Ok(reply) = parse_reply(datagram) else {
            return Vec::new();
        };
        if reply.xid != self.xid || reply.client_hardware_address != self.mac {
            return Vec::new();
        }
        let state = self.state.clone();
        match (state, reply.kind) {
            (State::Selecting, ReplyKind::Offer(offered)) => {
                // The first acceptable OFFER wins (RFC 2131 allows any
                // choice; waiting for more only delays the boot).
                let address = offered.address;
                self.backoff = FIRST_RETRANSMIT;
                self.state = State::Requesting {
                    server: reply.server,
                    offered,
                    attempts: 1,
                };
                vec![self.request_offer(now, reply.server, address)]
            }
            (
                State::Requesting {
                    server, offered, ..
                },
                ReplyKind::Ack(acked),
            ) if reply.server == server && acked.address == offered.address => {
                match Lease::from_ack(server, acked) {
                    Some(lease) => {
                        self.state = State::Bound {
                            lease: lease.clone(),
                            acked: now,
                        };
                        vec![Action::Configure {
                            lease,
                            replaces: None,
                        }]
                    }
                    None => Vec::new(),
                }
            }
            (State::Requesting { server, .. }, ReplyKind::Nak) if reply.server == server => {
                self.restart(now);
                self.next_send = now + NAK_HOLDOFF;
                Vec::new()
            }
            (
                State::Renewing { lease: old, .. } | State::Rebinding { lease: old, .. },
                ReplyKind::Ack(acked),
            ) => {
                // In RENEWING only the lease's server answers a unicast
                // REQUEST; in REBINDING any server may extend the lease.
                if matches!(self.state, State::Renewing { .. }) && reply.server != old.server {
                    return Vec::new();
                }
                let Some(lease) = Lease::from_ack(reply.server, acked) else {
                    return Vec::new();
                };
                self.state = State::Bound {
                    lease: lease.clone(),
                    acked: now,
                };
                if lease.same_binding(&old) {
                    vec![Action::Renewed(lease)]
                } else {
                    vec![Action::Configure {
                        lease,
                        replaces: Some(old),
                    }]
                }
            }
            (State::Renewing { lease, .. }, ReplyKind::Nak) if reply.server == lease.server => {
                self.expire(now, lease)
            }
            (State::Rebinding { lease, .. }, ReplyKind::Nak) => self.expire(now, lease),
            _ => Vec::new(),
        }
    }

    /// The lease is gone: remove it and start over at once.
    fn expire(&mut self, now: Instant, lease: Lease) -> Vec<Action> {
        self.restart(now);
        vec![Action::Deconfigure(lease), self.discover(now)]
    }

    /// Back to SELECTING with a new transaction.
    fn restart(&mut self, now: Instant) {
        self.state = State::Selecting;
        self.new_exchange(now);
    }

    fn new_exchange(&mut self, now: Instant) {
        self.xid = self.rng.random();
        self.began = now;
        self.backoff = FIRST_RETRANSMIT;
        self.next_send = now;
    }

    /// Schedules the next retransmission by the exponential backoff.
    fn schedule_backoff(&mut self, now: Instant) {
        let jitter_ms = self.rng.random_range(0..=2000u64);
        self.next_send =
            now + self.backoff + Duration::from_millis(jitter_ms) - Duration::from_millis(1000);
        self.backoff = (self.backoff * 2).min(MAX_RETRANSMIT);
    }

    fn discover(&mut self, now: Instant) -> Action {
        self.schedule_backoff(now);
        let mut repr = self.base_repr(now, DhcpMessageType::Discover);
        repr.broadcast = true;
        self.send(Destination::Broadcast, &repr)
    }

    fn request_offer(&mut self, now: Instant, server: Ipv4Addr, address: Ipv4Addr) -> Action {
        self.schedule_backoff(now);
        let mut repr = self.base_repr(now, DhcpMessageType::Request);
        repr.broadcast = true;
        repr.requested_ip = Some(address);
        repr.server_identifier = Some(server);
        self.send(Destination::Broadcast, &repr)
    }

    /// A REQUEST in RENEWING or REBINDING: `ciaddr` is the lease's address
    /// and the reply comes by unicast to it (RFC 2131 4.3.2).
    fn renewal(&mut self, now: Instant, lease: &Lease, acked: Instant, to: Destination) -> Action {
        let until = match to {
            Destination::Server(_) => acked + secs(lease.rebind_secs),
            Destination::Broadcast => acked + secs(lease.lease_secs),
        };
        self.next_send = now + (until.saturating_duration_since(now) / 2).max(MIN_RENEW_RETRANSMIT);
        let mut repr = self.base_repr(now, DhcpMessageType::Request);
        repr.client_ip = lease.address;
        self.send(to, &repr)
    }

    fn base_repr(&self, now: Instant, message_type: DhcpMessageType) -> DhcpRepr<'static> {
        let secs = now.saturating_duration_since(self.began).as_secs();
        DhcpRepr {
            message_type,
            transaction_id: self.xid,
            secs: u16::try_from(secs).unwrap_or(u16::MAX),
            client_hardware_address: EthernetAddress(self.mac),
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: Ipv4Addr::UNSPECIFIED,
            server_ip: Ipv4Addr::UNSPECIFIED,
            router: None,
            subnet_mask: None,
            relay_agent_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: false,
            requested_ip: None,
            client_identifier: Some(EthernetAddress(self.mac)),
            server_identifier: None,
            parameter_request_list: Some(PARAMETER_REQUEST_LIST),
            dns_servers: None,
            max_size: Some(MAX_MESSAGE_LEN as u16),
            lease_duration: None,
            renew_duration: None,
            rebind_duration: None,
            additional_options: &[],
        }
    }

    fn send(&self, to: Destination, repr: &DhcpRepr<'_>) -> Action {
        Action::Send {
            to,
            packet: emit(repr),
        }
    }
}

/// A message as it goes on the wire, padded to BOOTP's minimum.
pub fn emit(repr: &DhcpRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len().max(MIN_MESSAGE_LEN)];
    let mut packet = DhcpPacket::new_unchecked(&mut buf[..]);
    // The buffer is sized by `buffer_len`, the one condition under which
    // smoltcp's emitter fails; a failure would be a bug in that sizing,
    // and the message then goes out as zeros that every server drops.
    let _ = repr.emit(&mut packet);
    buf
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 42, 2);
    const ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 42, 42);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 168, 42, 1);

    /// A server's reply to `request`, built by smoltcp's emitter.
    fn reply(request: &[u8], kind: DhcpMessageType, lease: Option<u32>) -> Vec<u8> {
        let packet = DhcpPacket::new_checked(request).unwrap();
        let req = DhcpRepr::parse(&packet).unwrap();
        let mut dns = heapless::Vec::new();
        dns.push(Ipv4Addr::new(192, 168, 42, 3)).unwrap();
        let repr = DhcpRepr {
            message_type: kind,
            transaction_id: req.transaction_id,
            secs: 0,
            client_hardware_address: req.client_hardware_address,
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: if kind == DhcpMessageType::Nak {
                Ipv4Addr::UNSPECIFIED
            } else {
                ADDRESS
            },
            server_ip: SERVER,
            router: Some(ROUTER),
            subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            relay_agent_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: true,
            requested_ip: None,
            client_identifier: None,
            server_identifier: Some(SERVER),
            parameter_request_list: None,
            dns_servers: Some(dns),
            max_size: None,
            lease_duration: lease,
            renew_duration: None,
            rebind_duration: None,
            additional_options: &[],
        };
        emit(&repr)
    }

    fn sent(actions: &[Action]) -> (Destination, Vec<u8>) {
        match actions {
            [Action::Send { to, packet }] => (*to, packet.clone()),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn parsed(packet: &[u8]) -> (DhcpMessageType, u32, bool, Ipv4Addr, Option<Ipv4Addr>) {
        let p = DhcpPacket::new_checked(packet).unwrap();
        let r = DhcpRepr::parse(&p).unwrap();
        (
            r.message_type,
            r.transaction_id,
            r.broadcast,
            r.client_ip,
            r.requested_ip,
        )
    }

    /// A client bound at `t0` with a 3600 s lease (T1 1800 s, T2 3150 s).
    fn bound(t0: Instant) -> (DhcpClient, Vec<u8>) {
        let mut c = DhcpClient::new(MAC, 7, t0);
        let (to, discover) = sent(&c.poll(t0));
        assert_eq!(to, Destination::Broadcast);
        assert!(discover.len() >= MIN_MESSAGE_LEN);
        let (_, request) =
            sent(&c.receive(t0, &reply(&discover, DhcpMessageType::Offer, Some(3600))));
        let acts = c.receive(t0, &reply(&request, DhcpMessageType::Ack, Some(3600)));
        assert!(matches!(
            &acts[..],
            [Action::Configure { replaces: None, .. }]
        ));
        (c, request)
    }

    #[test]
    fn discover_offer_request_ack_binds_the_offered_address() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 1, t0);
        let (_, discover) = sent(&c.poll(t0));
        let (kind, xid, broadcast, _, _) = parsed(&discover);
        assert_eq!((kind, broadcast), (DhcpMessageType::Discover, true));
        let (to, request) = sent(&c.receive(t0, &reply(&discover, DhcpMessageType::Offer, None)));
        let (kind, rxid, broadcast, _, requested) = parsed(&request);
        assert_eq!(to, Destination::Broadcast);
        assert_eq!(
            (kind, rxid, broadcast, requested),
            (DhcpMessageType::Request, xid, true, Some(ADDRESS))
        );
        let acts = c.receive(t0, &reply(&request, DhcpMessageType::Ack, Some(86400)));
        let expected = Lease {
            address: ADDRESS,
            prefix: 24,
            router: Some(ROUTER),
            dns_servers: vec![Ipv4Addr::new(192, 168, 42, 3)],
            server: SERVER,
            lease_secs: 86400,
            renew_secs: 43200,
            rebind_secs: 75600,
        };
        assert_eq!(
            acts,
            [Action::Configure {
                lease: expected.clone(),
                replaces: None
            }]
        );
        assert_eq!(c.lease(), Some(&expected));
        assert_eq!(c.next_wakeup(), t0 + Duration::from_secs(43200));
    }

    #[test]
    fn replies_for_another_transaction_or_client_are_dropped() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 2, t0);
        let (_, discover) = sent(&c.poll(t0));
        let mut offer = reply(&discover, DhcpMessageType::Offer, None);
        offer[4] ^= 0xff; // xid
        assert!(c.receive(t0, &offer).is_empty());
        let mut offer = reply(&discover, DhcpMessageType::Offer, None);
        offer[28] ^= 0xff; // chaddr
        assert!(c.receive(t0, &offer).is_empty());
        // An ACK in SELECTING is out of turn.
        assert!(
            c.receive(t0, &reply(&discover, DhcpMessageType::Ack, Some(60)))
                .is_empty()
        );
        assert!(c.lease().is_none());
    }

    #[test]
    fn garbage_and_truncations_are_dropped() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 3, t0);
        let (_, discover) = sent(&c.poll(t0));
        let offer = reply(&discover, DhcpMessageType::Offer, None);
        for len in 0..offer.len() {
            let _ = c.receive(t0, &offer[..len]);
        }
        assert!(c.receive(t0, &[0xff; 2000]).is_empty());
        assert_eq!(parse_reply(&[0xff; 2000]), Err(DhcpError::TooLong));
        // The client's own DISCOVER (looped back) is not a reply.
        assert!(parse_reply(&discover).is_err());
    }

    #[test]
    fn discover_is_retransmitted_with_backoff_up_to_64_seconds() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 4, t0);
        let mut t = t0;
        let mut gaps = Vec::new();
        sent(&c.poll(t));
        for _ in 0..7 {
            assert!(c.poll(t).is_empty(), "nothing before the deadline");
            let next = c.next_wakeup();
            gaps.push(next.duration_since(t).as_secs_f64());
            t = next;
            let (kind, ..) = parsed(&sent(&c.poll(t)).1);
            assert_eq!(kind, DhcpMessageType::Discover);
        }
        for (gap, base) in gaps.iter().zip([4.0, 8.0, 16.0, 32.0, 64.0, 64.0, 64.0]) {
            assert!((base - 1.0..=base + 1.0).contains(gap), "{gaps:?}");
        }
    }

    #[test]
    fn an_unanswered_request_falls_back_to_discover() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 5, t0);
        let (_, discover) = sent(&c.poll(t0));
        sent(&c.receive(t0, &reply(&discover, DhcpMessageType::Offer, None)));
        let mut kinds = Vec::new();
        for _ in 0..REQUEST_ATTEMPTS {
            let t = c.next_wakeup();
            kinds.push(parsed(&sent(&c.poll(t)).1).0);
        }
        assert_eq!(kinds.last(), Some(&DhcpMessageType::Discover));
        assert!(
            kinds[..kinds.len() - 1]
                .iter()
                .all(|k| *k == DhcpMessageType::Request)
        );
    }

    #[test]
    fn a_nak_to_the_request_restarts_after_a_holdoff() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 6, t0);
        let (_, discover) = sent(&c.poll(t0));
        let (_, request) = sent(&c.receive(t0, &reply(&discover, DhcpMessageType::Offer, None)));
        assert!(
            c.receive(t0, &reply(&request, DhcpMessageType::Nak, None))
                .is_empty()
        );
        assert_eq!(c.next_wakeup(), t0 + NAK_HOLDOFF);
        let (_, again) = sent(&c.poll(t0 + NAK_HOLDOFF));
        let (kind, xid, ..) = parsed(&again);
        assert_eq!(kind, DhcpMessageType::Discover);
        assert_ne!(xid, parsed(&discover).1, "a new transaction");
    }

    #[test]
    fn renewal_is_unicast_at_t1_and_an_ack_renews_the_same_binding() {
        let t0 = Instant::now();
        let (mut c, _) = bound(t0);
        assert!(c.poll(t0 + Duration::from_secs(1799)).is_empty());
        let t1 = t0 + Duration::from_secs(1800);
        let (to, renew) = sent(&c.poll(t1));
        assert_eq!(to, Destination::Server(SERVER));
        let (kind, _, broadcast, ciaddr, requested) = parsed(&renew);
        assert_eq!(
            (kind, broadcast, ciaddr, requested),
            (DhcpMessageType::Request, false, ADDRESS, None)
        );
        let acts = c.receive(t1, &reply(&renew, DhcpMessageType::Ack, Some(3600)));
        assert!(matches!(&acts[..], [Action::Renewed(l)] if l.address == ADDRESS));
        assert_eq!(c.next_wakeup(), t1 + Duration::from_secs(1800));
    }

    #[test]
    fn rebinding_at_t2_broadcasts_and_expiry_removes_the_address() {
        let t0 = Instant::now();
        let (mut c, _) = bound(t0);
        sent(&c.poll(t0 + Duration::from_secs(1800)));
        let t2 = t0 + Duration::from_secs(3150);
        let (to, rebind) = sent(&c.poll(t2));
        assert_eq!(to, Destination::Broadcast);
        assert_eq!(parsed(&rebind).3, ADDRESS);
        let end = t0 + Duration::from_secs(3600);
        let acts = c.poll(end);
        assert!(matches!(&acts[0], Action::Deconfigure(l) if l.address == ADDRESS));
        assert!(matches!(
            &acts[1],
            Action::Send {
                to: Destination::Broadcast,
                ..
            }
        ));
        assert_eq!(parsed(&sent(&acts[1..]).1).0, DhcpMessageType::Discover);
        assert!(c.lease().is_none());
    }

    #[test]
    fn a_nak_while_renewing_removes_the_address() {
        let t0 = Instant::now();
        let (mut c, _) = bound(t0);
        let t1 = t0 + Duration::from_secs(1800);
        let (_, renew) = sent(&c.poll(t1));
        let acts = c.receive(t1, &reply(&renew, DhcpMessageType::Nak, None));
        assert!(matches!(&acts[0], Action::Deconfigure(_)));
        assert!(c.lease().is_none());
    }

    #[test]
    fn an_ack_without_a_lease_time_is_not_a_lease() {
        let t0 = Instant::now();
        let mut c = DhcpClient::new(MAC, 8, t0);
        let (_, discover) = sent(&c.poll(t0));
        let (_, request) = sent(&c.receive(t0, &reply(&discover, DhcpMessageType::Offer, None)));
        assert!(
            c.receive(t0, &reply(&request, DhcpMessageType::Ack, None))
                .is_empty()
        );
        assert!(c.lease().is_none());
    }

    #[test]
    fn lease_times_are_clamped_and_t1_t2_kept_in_order() {
        let o = |lease, t1, t2| Offered {
            address: ADDRESS,
            prefix: 24,
            router: None,
            dns_servers: vec![],
            lease_secs: Some(lease),
            renew_secs: t1,
            rebind_secs: t2,
        };
        let l = |lease, t1, t2| {
            let l = Lease::from_ack(SERVER, o(lease, t1, t2)).unwrap();
            (l.lease_secs, l.renew_secs, l.rebind_secs)
        };
        assert_eq!(l(1, None, None), (60, 30, 52));
        assert_eq!(l(u32::MAX, None, None).0, MAX_LEASE_SECS);
        assert_eq!(l(1000, Some(100), Some(200)), (1000, 100, 200));
        assert_eq!(l(1000, Some(900), Some(200)), (1000, 500, 875));
        assert_eq!(l(1000, Some(100), Some(5000)), (1000, 500, 875));
    }

    #[test]
    fn masks_and_addresses_are_checked() {
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_of(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(prefix_of(Ipv4Addr::UNSPECIFIED), None);
        assert_eq!(classful_prefix(Ipv4Addr::new(10, 1, 2, 3)), 8);
        assert_eq!(classful_prefix(Ipv4Addr::new(192, 168, 1, 2)), 24);
        for bad in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "127.0.0.1",
            "240.0.0.1",
        ] {
            assert!(!usable_unicast(bad.parse().unwrap()), "{bad}");
        }
    }
}
