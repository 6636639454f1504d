//! The SNTPv4 wire format (RFC 4330, RFC 5905 §7.3), sans I/O: a client
//! request is emitted as 48 bytes, a server reply is parsed from bytes,
//! checked against the request it answers, and turned into a
//! [`Measurement`] (offset and round-trip delay) with the four timestamps
//! of the exchange. No socket, no clock: the caller passes the local
//! send and receive times, so tests and the fuzzer drive it directly.
//!
//! Panic contract: [`parse_reply`] accepts any byte slice and never
//! panics; every arithmetic step on the timestamps is done in `i128`
//! nanoseconds, wide enough for any pair of 64-bit NTP timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every SNTP message without extension fields or a MAC: 48 bytes.
pub const PACKET_LEN: usize = 48;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_TO_UNIX_SECS: i128 = 2_208_988_800;

/// Nanoseconds in one NTP era (2^32 seconds, about 136 years).
const ERA_NANOS: i128 = (1i128 << 32) * 1_000_000_000;

/// The largest root distance (root delay / 2 + root dispersion) a server
/// may claim and still be used: RFC 5905's MAXDIST, 1.5 s. A server
/// further from its reference than that cannot set a clock usefully.
pub const MAX_ROOT_DISTANCE: Duration = Duration::from_millis(1500);

/// The protocol version the client speaks.
pub const VERSION: u8 = 4;

const MODE_CLIENT: u8 = 3;
const MODE_SERVER: u8 = 4;

/// A 64-bit NTP timestamp: seconds since 1900 (modulo 2^32) and a binary
/// fraction of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpTimestamp {
    pub seconds: u32,
    pub fraction: u32,
}

impl NtpTimestamp {
    /// The timestamp of a Unix time in nanoseconds (era 0 until 2036, then
    /// wrapping as the wire format does).
    pub fn from_unix_nanos(nanos: i128) -> NtpTimestamp {
        let ntp = nanos + NTP_TO_UNIX_SECS * 1_000_000_000;
        let secs = ntp.div_euclid(1_000_000_000);
        let sub = ntp.rem_euclid(1_000_000_000);
        NtpTimestamp {
            // Truncation to the era is the wire format.
            seconds: (secs & 0xffff_ffff) as u32,
            fraction: ((sub << 32) / 1_000_000_000) as u32,
        }
    }

    pub fn from_system_time(t: SystemTime) -> NtpTimestamp {
        NtpTimestamp::from_unix_nanos(unix_nanos(t))
    }

    /// Unix nanoseconds, placing the timestamp in the era that puts it
    /// nearest to `near` (the local clock): RFC 5905 §6's era rule, so a
    /// reply keeps working across 2036 as long as the local clock is
    /// within 68 years of the truth.
    pub fn to_unix_nanos(self, near: i128) -> i128 {
        let in_era0 = (i128::from(self.seconds) - NTP_TO_UNIX_SECS) * 1_000_000_000
            + ((i128::from(self.fraction) * 1_000_000_000) >> 32);
        let eras = (near - in_era0 + ERA_NANOS / 2).div_euclid(ERA_NANOS);
        in_era0 + eras * ERA_NANOS
    }

    pub fn is_zero(self) -> bool {
        self.seconds == 0 && self.fraction == 0
    }

    fn read(b: &[u8]) -> NtpTimestamp {
        NtpTimestamp {
            seconds: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            fraction: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    fn write(self, b: &mut [u8]) {
        b[..4].copy_from_slice(&self.seconds.to_be_bytes());
        b[4..8].copy_from_slice(&self.fraction.to_be_bytes());
    }
}

/// A `SystemTime` as signed nanoseconds since the Unix epoch.
pub fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The leap indicator of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leap {
    None,
    AddSecond,
    DeleteSecond,
    /// 3: the server's clock is not synchronised.
    Unsynchronised,
}

/// A client request: only the transmit timestamp matters, and the reply
/// must echo it as its origin timestamp (RFC 5905's bogus-packet check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub transmit: NtpTimestamp,
}

/// A random nonce for [`Request::new`].
pub fn nonce() -> u16 {
    rand::random()
}

impl Request {
    /// A request sent at `now`. The low 16 bits of the fraction (15 µs)
    /// are random, so an off-path attacker cannot guess the origin
    /// timestamp a forged reply must carry.
    pub fn new(now: SystemTime, nonce: u16) -> Request {
        let mut transmit = NtpTimestamp::from_system_time(now);
        transmit.fraction = (transmit.fraction & 0xffff_0000) | u32::from(nonce);
        Request { transmit }
    }

    pub fn emit(&self) -> [u8; PACKET_LEN] {
        let mut b = [0u8; PACKET_LEN];
        b[0] = (VERSION << 3) | MODE_CLIENT;
        self.transmit.write(&mut b[40..48]);
        b
    }
}

/// A server's reply, as parsed (not yet checked against a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub leap: Leap,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    /// Round-trip delay to the server's reference, NTP short format (16.16 s).
    pub root_delay: u32,
    /// The server's dispersion from its reference, NTP short format.
    pub root_dispersion: u32,
    /// For stratum 1, four ASCII characters (`GPS`, `PPS`, `LOCL`); above,
    /// the IPv4 address of the server's own server; for stratum 0, a
    /// kiss code (`RATE`, `DENY`).
    pub reference_id: [u8; 4],
    pub reference: NtpTimestamp,
    pub origin: NtpTimestamp,
    pub receive: NtpTimestamp,
    pub transmit: NtpTimestamp,
}

/// Why a datagram is not a usable reply. Each maps to the line `ntpconfig
/// status` shows for that server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    #[error("a reply of {0} bytes (an NTP reply has at least 48)")]
    TooShort(usize),
    #[error("not a server reply (version {version}, mode {mode})")]
    NotAServerReply { version: u8, mode: u8 },
    #[error("the server refused the query (kiss code {0})")]
    KissOfDeath(String),
    #[error("the server is not synchronised (leap indicator 3)")]
    Unsynchronised,
    #[error("stratum {0} is out of range (1 to 15)")]
    BadStratum(u8),
    #[error("the reply does not answer our request (origin timestamp differs)")]
    WrongOrigin,
    #[error("the reply carries no transmit timestamp")]
    NoTransmitTime,
    #[error("the server's root distance {0:?} exceeds 1.5 s")]
    TooFarFromReference(Duration),
    #[error("the reply's timestamps are inconsistent (negative round-trip delay)")]
    NegativeDelay,
}

/// Parses the fixed 48-byte header; extension fields and a MAC after it
/// are ignored (the client sends none, so a server adds none we must read).
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, ReplyError> {
    if bytes.len() < PACKET_LEN {
        return Err(ReplyError::TooShort(bytes.len()));
    }
    let leap = match bytes[0] >> 6 {
        0 => Leap::None,
        1 => Leap::AddSecond,
        2 => Leap::DeleteSecond,
        _ => Leap::Unsynchronised,
    };
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Ok(Reply {
        leap,
        version: (bytes[0] >> 3) & 0b111,
        mode: bytes[0] & 0b111,
        stratum: bytes[1],
        poll: bytes[2] as i8,
        precision: bytes[3] as i8,
        root_delay: word(4),
        root_dispersion: word(8),
        reference_id: [bytes[12], bytes[13], bytes[14], bytes[15]],
        reference: NtpTimestamp::read(&bytes[16..24]),
        origin: NtpTimestamp::read(&bytes[24..32]),
        receive: NtpTimestamp::read(&bytes[32..40]),
        transmit: NtpTimestamp::read(&bytes[40..48]),
    })
}

/// An NTP short-format value (16.16 seconds) as a duration.
pub fn short_to_duration(v: u32) -> Duration {
    Duration::from_nanos((u64::from(v) * 1_000_000_000) >> 16)
}

/// One exchange's result (RFC 5905 §8): how far the local clock is
/// behind the server (`offset`, positive: the local clock is slow) and the
/// round trip (`delay`), both in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    pub offset_nanos: i128,
    pub delay_nanos: i128,
    pub stratum: u8,
    pub leap: Leap,
    pub reference_id: [u8; 4],
    /// Root delay / 2 + root dispersion: the server's own error bound.
    pub root_distance: Duration,
}

impl Measurement {
    /// How good the measurement is as a time source (lower is better):
    /// the server's root distance plus half our round trip, the bound on
    /// its error as RFC 5905 §11.2 ranks peers.
    pub fn distance_nanos(&self) -> i128 {
        self.root_distance.as_nanos() as i128 + self.delay_nanos / 2
    }

    /// The reference id as `ntpconfig status` shows it: four letters for
    /// stratum 1, a dotted quad above.
    pub fn reference(&self) -> String {
        let id = self.reference_id;
        if self.stratum == 1 {
            id.iter()
                .take_while(|b| **b != 0)
                .filter(|b| b.is_ascii_graphic())
                .map(|b| char::from(*b))
                .collect()
        } else {
            format!("{}.{}.{}.{}", id[0], id[1], id[2], id[3])
        }
    }
}

/// Checks `reply` against the `request` it answers and measures the
/// exchange. `sent` and `received` are the local clock (Unix
/// nanoseconds) when the request left and the reply arrived.
pub fn measure(
    request: &Request,
    reply: &Reply,
    sent: i128,
    received: i128,
) -> Result<Measurement, ReplyError> {
    if reply.mode != MODE_SERVER || !(1..=VERSION).contains(&reply.version) {
        return Err(ReplyError::NotAServerReply {
            version: reply.version,
            mode: reply.mode,
        });
    }
    if reply.stratum == 0 {
        let code: String = reply
            .reference_id
            .iter()
            .filter(|b| b.is_ascii_graphic())
            .map(|b| char::from(*b))
            .collect();
        return Err(ReplyError::KissOfDeath(code));
    }
    if reply.origin != request.transmit {
        return Err(ReplyError::WrongOrigin);
    }
    if reply.leap == Leap::Unsynchronised {
        return Err(ReplyError::Unsynchronised);
    }
    if reply.stratum > 15 {
        return Err(ReplyError::BadStratum(reply.stratum));
    }
    if reply.transmit.is_zero() {
        return Err(ReplyError::NoTransmitTime);
    }
    let root_distance =
        short_to_duration(reply.root_delay) / 2 + short_to_duration(reply.root_dispersion);
    if root_distance > MAX_ROOT_DISTANCE {
        return Err(ReplyError::TooFarFromReference(root_distance));
    }
    // T1..T4 of RFC 5905: the server's times placed in the era nearest
    // our own clock; a server years away still measures correctly.
    let t1 = sent;
    let t2 = reply.receive.to_unix_nanos(sent);
    let t3 = reply.transmit.to_unix_nanos(received);
    let t4 = received;
    let delay = (t4 - t1) - (t3 - t2);
    if delay < 0 {
        return Err(ReplyError::NegativeDelay);
    }
    Ok(Measurement {
        offset_nanos: ((t2 - t1) + (t3 - t4)) / 2,
        delay_nanos: delay,
        stratum: reply.stratum,
        leap: reply.leap,
        reference_id: reply.reference_id,
        root_distance,
    })
}

/// The best of several servers' measurements: the smallest distance
/// (root distance plus half the round trip), then the lowest stratum.
pub fn best<'a, I>(measurements: I) -> Option<&'a Measurement>
where
    I: IntoIterator<Item = &'a Measurement>,
{
    measurements
        .into_iter()
        .min_by_key(|m| (m.distance_nanos(), m.stratum))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i128 = 1_000_000_000;
    /// 2026-12-06 17:30:00 UTC.
    const NOW: i128 = 1_796_578_200 * SEC;

    fn reply_to(request: &Request, t2: i128, t3: i128) -> Reply {
        Reply {
            leap: Leap::None,
            version: 4,
            mode: MODE_SERVER,
            stratum: 2,
            poll: 6,
            precision: -20,
            root_delay: 0x0000_0400,      // 15.6 ms
            root_dispersion: 0x0000_0200, // 7.8 ms
            reference_id: [192, 0, 2, 1],
            reference: NtpTimestamp::from_unix_nanos(t2 - 60 * SEC),
            origin: request.transmit,
            receive: NtpTimestamp::from_unix_nanos(t2),
            transmit: NtpTimestamp::from_unix_nanos(t3),
        }
    }

    fn emit_reply(r: &Reply) -> [u8; PACKET_LEN] {
        let mut b = [0u8; PACKET_LEN];
        let li = match r.leap {
            Leap::None => 0,
            Leap::AddSecond => 1,
            Leap::DeleteSecond => 2,
            Leap::Unsynchronised => 3,
        };
        b[0] = (li << 6) | (r.version << 3) | r.mode;
        b[1] = r.stratum;
        b[2] = r.poll as u8;
        b[3] = r.precision as u8;
        b[4..8].copy_from_slice(&r.root_delay.to_be_bytes());
        b[8..12].copy_from_slice(&r.root_dispersion.to_be_bytes());
        b[12..16].copy_from_slice(&r.reference_id);
        r.reference.write(&mut b[16..24]);
        r.origin.write(&mut b[24..32]);
        r.receive.write(&mut b[32..40]);
        r.transmit.write(&mut b[40..48]);
        b
    }

    #[test]
    fn a_request_is_48_bytes_of_version_4_client_mode_with_its_transmit_time() {
        let t = UNIX_EPOCH + Duration::from_nanos(NOW as u64);
        let req = Request::new(t, 0xbeef);
        let b = req.emit();
        assert_eq!(b.len(), 48);
        assert_eq!(b[0], 0x23, "LI 0, VN 4, mode 3");
        assert!(b[1..40].iter().all(|x| *x == 0));
        assert_eq!(NtpTimestamp::read(&b[40..48]), req.transmit);
        // 2026 is in era 0: seconds since 1900.
        assert_eq!(req.transmit.seconds, (NOW / SEC + NTP_TO_UNIX_SECS) as u32);
        assert_eq!(req.transmit.fraction & 0xffff, 0xbeef);
    }

    #[test]
    fn timestamps_round_trip_to_within_a_nanosecond_and_across_the_2036_era() {
        for t in [NOW, NOW + 123_456_789, 0, 2_085_978_496 * SEC + 5 * SEC] {
            let back = NtpTimestamp::from_unix_nanos(t).to_unix_nanos(t);
            assert!((back - t).abs() <= 1, "{t} -> {back}");
        }
        // 2036-02-07 06:28:16 UTC wraps the seconds to 0 (era 1).
        let wrap = (1i128 << 32) * SEC - NTP_TO_UNIX_SECS * SEC;
        assert_eq!(NtpTimestamp::from_unix_nanos(wrap).seconds, 0);
    }

    #[test]
    fn offset_and_delay_follow_rfc_5905() {
        let req = Request {
            transmit: NtpTimestamp::from_unix_nanos(NOW),
        };
        // The server is 2.5 s ahead; 10 ms each way; 1 ms in the server.
        let t1 = NOW;
        let t2 = NOW + 2_500_000_000 + 10_000_000;
        let t3 = t2 + 1_000_000;
        let t4 = NOW + 21_000_000;
        let m = measure(&req, &reply_to(&req, t2, t3), t1, t4).unwrap();
        assert!((m.offset_nanos - 2_500_000_000).abs() <= 2, "{m:?}");
        assert!((m.delay_nanos - 20_000_000).abs() <= 2, "{m:?}");
        assert_eq!(m.stratum, 2);
        assert_eq!(m.reference(), "192.0.2.1");
        // 15.6 ms / 2 + 7.8 ms, plus half the round trip.
        assert_eq!(m.root_distance.as_micros(), 15_625);
        assert_eq!(m.distance_nanos(), 15_625_000 + 10_000_000);
    }

    #[test]
    fn a_parsed_reply_is_the_one_emitted() {
        let req = Request {
            transmit: NtpTimestamp::from_unix_nanos(NOW),
        };
        let r = reply_to(&req, NOW + SEC, NOW + SEC);
        let mut wire = emit_reply(&r).to_vec();
        assert_eq!(parse_reply(&wire), Ok(r));
        // Extension fields or a MAC after the header are ignored.
        wire.extend_from_slice(&[0u8; 20]);
        assert_eq!(parse_reply(&wire), Ok(r));
        assert_eq!(parse_reply(&wire[..47]), Err(ReplyError::TooShort(47)));
    }

    #[test]
    fn bogus_replies_are_refused_with_their_reason() {
        let req = Request {
            transmit: NtpTimestamp::from_unix_nanos(NOW),
        };
        let good = reply_to(&req, NOW + 5_000_000, NOW + 6_000_000);
        let t4 = NOW + 10_000_000;
        let cases: Vec<(Reply, ReplyError)> = vec![
            (
                Reply { mode: 3, ..good },
                ReplyError::NotAServerReply {
                    version: 4,
                    mode: 3,
                },
            ),
            (
                Reply {
                    stratum: 0,
                    reference_id: *b"RATE",
                    ..good
                },
                ReplyError::KissOfDeath("RATE".into()),
            ),
            (
                Reply {
                    leap: Leap::Unsynchronised,
                    ..good
                },
                ReplyError::Unsynchronised,
            ),
            (
                Reply {
                    stratum: 16,
                    ..good
                },
                ReplyError::BadStratum(16),
            ),
            (
                Reply {
                    origin: NtpTimestamp::from_unix_nanos(NOW - SEC),
                    ..good
                },
                ReplyError::WrongOrigin,
            ),
            (
                Reply {
                    transmit: NtpTimestamp::default(),
                    ..good
                },
                ReplyError::NoTransmitTime,
            ),
            (
                Reply {
                    root_dispersion: 2 << 16,
                    ..good
                },
                ReplyError::TooFarFromReference(Duration::from_nanos(2_007_812_500)),
            ),
            (
                // The server says it spent longer than the whole round trip.
                reply_to(&req, NOW, NOW + 50_000_000),
                ReplyError::NegativeDelay,
            ),
        ];
        for (reply, want) in cases {
            assert_eq!(measure(&req, &reply, NOW, t4), Err(want));
        }
        assert!(measure(&req, &good, NOW, t4).is_ok());
    }

    #[test]
    fn the_best_server_is_the_nearest_to_its_reference() {
        let m = |distance_ms: u64, delay_ms: i128, stratum: u8| Measurement {
            offset_nanos: 0,
            delay_nanos: delay_ms * 1_000_000,
            stratum,
            leap: Leap::None,
            reference_id: *b"GPS\0",
            root_distance: Duration::from_millis(distance_ms),
        };
        let all = [m(40, 10, 1), m(5, 20, 3), m(5, 60, 2)];
        assert_eq!(best(&all), Some(&all[1]));
        assert_eq!(all[0].reference(), "GPS");
        assert_eq!(best(&[]), None);
    }
}
