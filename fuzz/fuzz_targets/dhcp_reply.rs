//! Feeds arbitrary bytes as DHCP server replies on the Management port:
//! to the reply parser, then as two datagrams (first byte: where the
//! bytes split) to a client that has sent its DISCOVER, with the client's
//! own transaction id and hardware address written in so the fuzzer gets
//! past those checks. Anyone on the Management link can send these.
//! Properties checked: no panic; an accepted reply's address is a usable
//! unicast address with a prefix of 1 to 32 and a router other than
//! itself; a configured lease's times are clamped and in order (T1 < T2 <
//! lease); the client's messages are well-formed replies-to-be (at least
//! BOOTP's 300 octets) and go to the broadcast address or the lease's
//! server.
#![no_main]

use std::time::{Duration, Instant};

use breakwater::init::dhcp::{
    Action, Destination, DhcpClient, MAX_LEASE_SECS, MIN_LEASE_SECS, ReplyKind, parse_reply,
};
use libfuzzer_sys::fuzz_target;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The BOOTP offsets of `xid` and `chaddr`.
fn patch(datagram: &[u8], like: &[u8]) -> Vec<u8> {
    let mut d = datagram.to_vec();
    if d.len() >= 34 && like.len() >= 34 {
        d[4..8].copy_from_slice(&like[4..8]);
        d[28..34].copy_from_slice(&like[28..34]);
    }
    d
}

fn check(actions: &[Action], sent: &mut Vec<u8>) {
    for a in actions {
        match a {
            Action::Send { to, packet } => {
                assert!(packet.len() >= 300);
                if let Destination::Server(s) = to {
                    assert!(!s.is_broadcast() && !s.is_unspecified());
                }
                sent.clone_from(packet);
            }
            Action::Configure { lease, .. } | Action::Renewed(lease) => {
                assert!((MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&lease.lease_secs));
                assert!(lease.renew_secs < lease.rebind_secs);
                assert!(lease.rebind_secs < lease.lease_secs);
                assert!((1..=32).contains(&lease.prefix));
            }
            Action::Deconfigure(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_reply(data) {
        if let ReplyKind::Offer(o) | ReplyKind::Ack(o) = &reply.kind {
            assert!(!o.address.is_unspecified() && !o.address.is_broadcast());
            assert!(!o.address.is_multicast() && !o.address.is_loopback());
            assert!((1..=32).contains(&o.prefix));
            assert_ne!(o.router, Some(o.address));
            assert!(o.dns_servers.len() <= 3);
        }
    }
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(first) * rest.len() / 256;
    let (one, two) = rest.split_at(at);
    let t0 = Instant::now();
    let mut client = DhcpClient::new(MAC, 1, t0);
    let mut sent = Vec::new();
    check(&client.poll(t0), &mut sent);
    for (n, datagram) in [one, two].into_iter().enumerate() {
        let now = t0 + Duration::from_secs(n as u64);
        let actions = client.receive(now, &patch(datagram, &sent));
        check(&actions, &mut sent);
    }
    // Time passes: renewals, rebinding, expiry.
    for secs in [1800, 3200, 3700, MAX_LEASE_SECS as u64 + 10] {
        let actions = client.poll(t0 + Duration::from_secs(secs));
        check(&actions, &mut sent);
    }
});
