//! Feeds arbitrary bytes as an NTP server's reply to the SNTP client's
//! parser and checks (anyone on the path to a configured server can send
//! these). The first 16 bytes, when present, set the local send and
//! receive times; the rest is the datagram, with the request's transmit
//! timestamp written in as its origin half the time so the fuzzer gets
//! past that check. Properties checked: no panic; an accepted reply has
//! a stratum of 1 to 15, is not unsynchronised, has a root distance of at
//! most 1.5 s and a round trip that is not negative; the chosen best of
//! the accepted measurements is one of them.
#![no_main]

use breakwater::ntp::packet::{
    Leap, MAX_ROOT_DISTANCE, NtpTimestamp, Request, best, measure, parse_reply,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (times, datagram) = data.split_at(data.len().min(16));
    let mut t = [0u8; 16];
    t[..times.len()].copy_from_slice(times);
    // Local times near 2026, give or take a few years each way.
    let base: i128 = 1_796_578_200 * 1_000_000_000;
    let jitter = |b: &[u8]| i128::from(i64::from_be_bytes(b.try_into().unwrap_or([0; 8])) >> 8);
    let sent = base + jitter(&t[..8]);
    let received = sent + jitter(&t[8..]).abs();
    let request = Request {
        transmit: NtpTimestamp::from_unix_nanos(sent),
    };
    let mut wire = datagram.to_vec();
    if wire.len() >= 48 && wire[0] & 1 == 0 {
        wire[24..28].copy_from_slice(&request.transmit.seconds.to_be_bytes());
        wire[28..32].copy_from_slice(&request.transmit.fraction.to_be_bytes());
    }
    let Ok(reply) = parse_reply(&wire) else {
        assert!(wire.len() < 48, "a 48-byte header always parses");
        return;
    };
    let mut accepted = Vec::new();
    if let Ok(m) = measure(&request, &reply, sent, received) {
        assert!((1..=15).contains(&m.stratum), "{m:?}");
        assert_ne!(m.leap, Leap::Unsynchronised);
        assert!(m.root_distance <= MAX_ROOT_DISTANCE, "{m:?}");
        assert!(m.delay_nanos >= 0, "{m:?}");
        let _ = m.reference();
        accepted.push(m);
    }
    if let Some(b) = best(&accepted) {
        assert!(accepted.contains(b));
    }
});
