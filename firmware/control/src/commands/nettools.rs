//! The network checks admins reach for during a cut-over: `nslookup`
//! (through the gateway's own resolver: the daemon asks, this module
//! parses and prints), `telnet HOST PORT` from one of the appliance's
//! interfaces (by default the delivery interface, as mail leaves it), and
//! `ping`. `traceroute` is refused with the reason.
//!
//! Bounds, because a console must never wedge the daemon: `telnet`
//! connects within [`CONNECT_TIMEOUT`], reads at most [`TELNET_MAX_LINES`]
//! lines or [`TELNET_MAX_BYTES`] bytes of banner within [`READ_TIMEOUT`],
//! says `QUIT` and closes: it is a probe, not an interactive session.
//! `ping` sends at most [`PING_MAX_COUNT`] echoes, one a second, each
//! waited for [`PING_TIMEOUT`].
//!
//! Privilege: the daemon runs unprivileged (docs/decisions/0006). `ping`
//! uses the kernel's unprivileged ICMP datagram sockets, which
//! `net.ipv4.ping_group_range` must allow for the daemon's group; with
//! CAP_NET_RAW (a development run as root) a raw socket does too; without
//! either it says so and how to allow it.

use std::io::{BufReader, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use breakwater_mail::dns::{Answer, LookupError, NSLOOKUP_TYPES};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::Config;

pub use breakwater_control_proto::usage::{
    NSLOOKUP as NSLOOKUP_USAGE, PING as PING_USAGE, TELNET as TELNET_USAGE,
};

/// How long `telnet` waits for the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `telnet` waits for the banner, and `QUIT`'s answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most banner lines `telnet` shows (a multi-line 220 greeting fits).
pub const TELNET_MAX_LINES: usize = 10;
/// Most bytes `telnet` reads from the peer in all.
pub const TELNET_MAX_BYTES: u64 = 8 * 1024;
/// `ping`'s echoes by default, and at most.
pub const PING_DEFAULT_COUNT: u32 = 4;
pub const PING_MAX_COUNT: u32 = 20;
/// How long `ping` waits for each echo's reply.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Payload bytes of an echo request (ping(8)'s default).
const PING_PAYLOAD: usize = 56;

/// `nslookup NAME [TYPE]`: the name (or address, for PTR) and the type
/// (A by default; PTR by default for an IP address).
pub fn parse_nslookup(args: &[String]) -> Result<(String, String), String> {
    let (name, rtype) = match args {
        [name] => {
            let ptr = name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
            (name, if ptr { "PTR" } else { "A" }.to_string())
        }
        [name, rtype] => (name, rtype.to_ascii_uppercase()),
        _ => return Err(NSLOOKUP_USAGE.to_string()),
    };
    if !NSLOOKUP_TYPES.contains(&rtype.as_str()) {
        return Err(format!(
            "Unknown query type '{rtype}': use one of {}.\n{NSLOOKUP_USAGE}",
            NSLOOKUP_TYPES.join(", ")
        ));
    }
    Ok((name.clone(), rtype))
}

/// A TTL as AsyncOS's `nslookup` prints it: `1h`, `5m`, `30s`.
fn ttl(secs: u32) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `nslookup`'s answer: one `TYPE=data TTL=...` line per record.
pub fn nslookup_answer(
    name: &str,
    rtype: &str,
    found: Result<Vec<Answer>, LookupError>,
) -> Result<String, String> {
    match found {
        Ok(answers) if !answers.is_empty() => Ok(answers
            .iter()
            .map(|a| match a.preference {
                Some(p) => format!("{}={} PREF={p} TTL={}\n", a.rtype, a.data, ttl(a.ttl)),
                None => format!("{}={} TTL={}\n", a.rtype, a.data, ttl(a.ttl)),
            })
            .collect()),
        Ok(_) | Err(LookupError::NoRecords) => Err(format!("{name} has no {rtype} record.")),
        Err(LookupError::NxDomain) => Err(format!("{name}: domain does not exist.")),
        Err(LookupError::Temporary(e)) => Err(format!("Lookup of {name} {rtype} failed: {e}")),
    }
}

/// Where `telnet` connects, and from which interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelnetRequest {
    pub host: String,
    pub port: u16,
    /// The interface's name and address; `None`: the kernel chooses
    /// (`auto`).
    pub source: Option<(String, IpAddr)>,
}

/// `telnet HOST [PORT] [INTERFACE|auto]`: PORT 25 by default; INTERFACE
/// one of the configured interfaces (`Data 2` or `data2`, any case), the
/// delivery interface by default.
pub fn parse_telnet(args: &[String], config: &Config) -> Result<TelnetRequest, String> {
    let (host, rest) = args.split_first().ok_or_else(|| TELNET_USAGE.to_string())?;
    let (port, rest) = match rest.split_first() {
        Some((p, rest)) if p.bytes().all(|b| b.is_ascii_digit()) => (
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("'{p}' is not a port (1 to 65535).\n{TELNET_USAGE}"))?,
            rest,
        ),
        _ => (25, rest),
    };
    let wanted = if rest.is_empty() {
        config.delivery.interface.clone()
    } else {
        rest.join(" ")
    };
    let squash = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    let source = if squash(&wanted) == "auto" {
        None
    } else {
        let iface = config
            .interfaces
            .iter()
            .find(|i| squash(&i.name) == squash(&wanted))
            .ok_or_else(|| {
                let names: Vec<&str> = config.interfaces.iter().map(|i| i.name.as_str()).collect();
                format!(
                    "Unknown interface '{wanted}': use one of {}, or auto.\n{TELNET_USAGE}",
                    names.join(", ")
                )
            })?;
        let address = iface.address.ok_or_else(|| {
            format!(
                "The interface {} has no address (interfaceconfig); choose another, or auto.",
                iface.name
            )
        })?;
        Some((iface.name.clone(), address))
    };
    Ok(TelnetRequest {
        host: host.trim_matches(['[', ']']).to_string(),
        port,
        source,
    })
}

/// Connects to `target` from `source`, shows the banner (a few lines at
/// most), says `QUIT`, shows the answer and closes.
pub fn telnet(target: SocketAddr, source: Option<&(String, IpAddr)>) -> Result<String, String> {
    let mut out = format!("Trying {}...\n", target.ip());
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| format!("{out}Cannot open a socket: {e}"))?;
    if let Some((name, ip)) = source {
        if ip.is_ipv4() != target.is_ipv4() {
            return Err(format!(
                "{out}The interface {name} has an {} address; {} is {}: choose another interface, or auto.",
                if ip.is_ipv4() { "IPv4" } else { "IPv6" },
                target.ip(),
                if target.is_ipv4() { "IPv4" } else { "IPv6" },
            ));
        }
        socket
            .bind(&SockAddr::from(SocketAddr::new(*ip, 0)))
            .map_err(|e| format!("{out}Cannot send from {name} ({ip}): {e}"))?;
    }
    socket
        .connect_timeout(&SockAddr::from(target), CONNECT_TIMEOUT)
        .map_err(|e| format!("{out}telnet: connect to {target}: {e}"))?;
    let stream: TcpStream = socket.into();
    let from = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    out.push_str(&match source {
        Some((name, _)) => format!("Connected to {} from {name} ({from}).\n", target.ip()),
        None => format!("Connected to {} from {from}.\n", target.ip()),
    });
    out.push_str("Escape character is '^]'.\n");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|e| e.to_string())?
            .take(TELNET_MAX_BYTES),
    );
    let banner_done = read_reply(&mut reader, &mut out);
    if banner_done {
        let mut writer = &stream;
        if writer.write_all(b"QUIT\r\n").is_ok() {
            out.push_str("QUIT\n");
            read_reply(&mut reader, &mut out);
        }
    }
    out.push_str("Connection closed.\n");
    Ok(out)
}

/// Reads one SMTP reply (up to its final `NNN ` line) into `out`, at most
/// [`TELNET_MAX_LINES`] lines; false when it did not end (timeout, close,
/// too long, not SMTP).
fn read_reply(reader: &mut impl std::io::BufRead, out: &mut String) -> bool {
    for _ in 0..TELNET_MAX_LINES {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => {
                out.push_str("Connection closed by foreign host.\n");
                return false;
            }
            Ok(_) => {}
            Err(e) => {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    out.push_str(&format!(
                        "(no more from the peer within {} s)\n",
                        READ_TIMEOUT.as_secs()
                    ));
                } else {
                    out.push_str(&format!("(read failed: {e})\n"));
                }
                return false;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        out.push_str(text);
        out.push('\n');
        let b = text.as_bytes();
        let last = b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) && b.get(3) != Some(&b'-');
        if last {
            return true;
        }
    }
    out.push_str(&format!("(stopped after {TELNET_MAX_LINES} lines)\n"));
    false
}

/// `ping HOST [COUNT]`: the count, bounded.
pub fn parse_ping(args: &[String]) -> Result<(String, u32), String> {
    match args {
        [host] => Ok((host.clone(), PING_DEFAULT_COUNT)),
        [host, n] => {
            let n = n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=PING_MAX_COUNT).contains(n))
                .ok_or_else(|| {
                    format!("The count must be a number from 1 to {PING_MAX_COUNT}.\n{PING_USAGE}")
                })?;
            Ok((host.clone(), n))
        }
        _ => Err(PING_USAGE.to_string()),
    }
}

/// An ICMP socket: the unprivileged datagram kind, else a raw one.
fn icmp_socket(v6: bool) -> Result<(Socket, bool), String> {
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let dgram_error = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => return Ok((s, false)),
        Err(e) => e,
    };
    match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(s) => Ok((s, true)),
        Err(_) => {
            use std::os::unix::fs::MetadataExt as _;
            let group = std::fs::metadata("/proc/self")
                .map(|m| m.gid().to_string())
                .unwrap_or_else(|_| "GID".to_string());
            Err(format!(
                "ping is not available: the kernel refused an ICMP socket ({dgram_error}). \
                 The mail daemon runs unprivileged, so it needs the unprivileged ICMP \
                 sockets that net.ipv4.ping_group_range allows: its group is {group}, \
                 outside the range the kernel has now ({}). Set \
                 net.ipv4.ping_group_range = \"{group} {group}\" on the host; until then \
                 telnet HOST PORT tests a next hop.",
                std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
                    .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_else(|_| "unknown".to_string())
            ))
        }
    }
}

/// The Internet checksum (RFC 1071) of an ICMPv4 message.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request: ICMPv4 type 8 or ICMPv6 type 128.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend((0..PING_PAYLOAD).map(|i| i as u8));
    // ICMPv6's checksum covers a pseudo-header: the kernel fills it in.
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The sequence number of `packet` when it is an echo reply to us (a raw
/// IPv4 socket also hands over the IP header; a datagram socket's kernel
/// sets the identifier itself and passes only its own replies).
fn echo_reply_seq(packet: &[u8], v6: bool, raw: bool, id: u16) -> Option<u16> {
    let icmp = if raw && !v6 {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    } else {
        packet
    };
    let reply_type = if v6 { 129 } else { 0 };
    if icmp.len() < 8 || icmp[0] != reply_type {
        return None;
    }
    if raw && u16::from_be_bytes([icmp[4], icmp[5]]) != id {
        return None;
    }
    Some(u16::from_be_bytes([icmp[6], icmp[7]]))
}

/// Sends `count` echoes to `target`, one a second, and reports as
/// ping(8) does.
pub fn ping(host: &str, target: IpAddr, count: u32) -> Result<String, String> {
    let v6 = target.is_ipv6();
    let (socket, raw) = icmp_socket(v6)?;
    socket
        .connect(&SockAddr::from(SocketAddr::new(target, 0)))
        .map_err(|e| format!("ping: cannot reach {target}: {e}"))?;
    socket
        .set_read_timeout(Some(PING_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let id = (std::process::id() & 0xffff) as u16;
    let mut out = format!("PING {host} ({target}): {PING_PAYLOAD} data bytes\n");
    let mut received = 0u32;
    let mut times: Vec<Duration> = Vec::new();
    for seq in 0..count {
        let seq = seq as u16;
        let sent = Instant::now();
        if let Err(e) = socket.send(&echo_request(v6, id, seq)) {
            out.push_str(&format!("ping: sendto {target}: {e}\n"));
        } else {
            let mut buf = [0u8; 1500];
            loop {
                let left = PING_TIMEOUT.saturating_sub(sent.elapsed());
                if left.is_zero() {
                    out.push_str(&format!("Request timeout for icmp_seq {seq}\n"));
                    break;
                }
                let _ = socket.set_read_timeout(Some(left));
                match (&socket).read(&mut buf) {
                    Ok(n) if echo_reply_seq(&buf[..n], v6, raw, id) == Some(seq) => {
                        let rtt = sent.elapsed();
                        received += 1;
                        times.push(rtt);
                        out.push_str(&format!(
                            "{} bytes from {target}: icmp_seq={seq} time={:.3} ms\n",
                            PING_PAYLOAD + 8,
                            rtt.as_secs_f64() * 1000.0
                        ));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        out.push_str(&format!("Request timeout for icmp_seq {seq}\n"));
                        break;
                    }
                }
            }
        }
        if seq as u32 + 1 < count {
            std::thread::sleep(Duration::from_secs(1).saturating_sub(sent.elapsed()));
        }
    }
    let loss = f64::from(count - received) * 100.0 / f64::from(count);
    out.push_str(&format!(
        "\n--- {host} ping statistics ---\n{count} packets transmitted, {received} packets received, {loss:.1}% packet loss\n"
    ));
    if let (Some(min), Some(max)) = (times.iter().min(), times.iter().max()) {
        let avg = times.iter().sum::<Duration>() / times.len() as u32;
        out.push_str(&format!(
            "round-trip min/avg/max = {:.3}/{:.3}/{:.3} ms\n",
            min.as_secs_f64() * 1000.0,
            avg.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0
        ));
    }
    Ok(out)
}

/// Why `traceroute` is not offered.
pub const TRACEROUTE_UNAVAILABLE: &str = "traceroute is not available on this appliance: it needs the ICMP \
Time Exceeded answers of the routers on the way, which an unprivileged process can only read from a \
socket's error queue (IP_RECVERR), and the mail daemon runs unprivileged without reading it. \
Use ping HOST to test that a host answers, and telnet HOST PORT to test an SMTP next hop from \
the delivery interface.";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead as _;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn config() -> Config {
        let mut c = crate::commands::testutil::factory();
        c.interfaces = vec![
            crate::config::Interface {
                name: "Data 1".into(),
                address: Some("127.0.0.1".parse().unwrap()),
                prefix: 8,
            },
            crate::config::Interface {
                name: "Data 2".into(),
                address: Some("127.0.0.1".parse().unwrap()),
                prefix: 8,
            },
            crate::config::Interface {
                name: "Management".into(),
                address: None,
                prefix: 24,
            },
        ];
        c.delivery.interface = "Data 2".into();
        c
    }

    #[test]
    fn nslookup_takes_a_name_and_a_type() {
        assert_eq!(
            parse_nslookup(&args("example.com")).unwrap(),
            ("example.com".into(), "A".into())
        );
        assert_eq!(
            parse_nslookup(&args("example.com mx")).unwrap(),
            ("example.com".into(), "MX".into())
        );
        assert_eq!(
            parse_nslookup(&args("192.0.2.1")).unwrap().1,
            "PTR",
            "an address is looked up by PTR"
        );
        assert!(parse_nslookup(&args("example.com AXFR")).is_err());
        assert!(parse_nslookup(&[]).is_err());
    }

    #[test]
    fn nslookup_prints_asyncos_record_lines() {
        let answers = vec![
            Answer {
                rtype: "MX".into(),
                data: "mx.example.com".into(),
                preference: Some(10),
                ttl: 3600,
            },
            Answer {
                rtype: "A".into(),
                data: "192.0.2.1".into(),
                preference: None,
                ttl: 90,
            },
        ];
        assert_eq!(
            nslookup_answer("example.com", "MX", Ok(answers)).unwrap(),
            "MX=mx.example.com PREF=10 TTL=1h\nA=192.0.2.1 TTL=90s\n"
        );
        assert_eq!(
            nslookup_answer("nx.example", "A", Err(LookupError::NxDomain)).unwrap_err(),
            "nx.example: domain does not exist."
        );
        assert!(nslookup_answer("example.com", "TXT", Ok(vec![])).is_err());
        assert_eq!(ttl(300), "5m");
    }

    #[test]
    fn telnet_goes_out_of_the_delivery_interface_unless_told() {
        let c = config();
        let r = parse_telnet(&args("mx.example.com"), &c).unwrap();
        assert_eq!(r.port, 25);
        assert_eq!(r.source.as_ref().unwrap().0, "Data 2");
        let r = parse_telnet(&args("mx.example.com 2525 data 1"), &c).unwrap();
        assert_eq!((r.port, r.source.unwrap().0.as_str()), (2525, "Data 1"));
        let r = parse_telnet(&args("[192.0.2.1] 25 auto"), &c).unwrap();
        assert_eq!((r.host.as_str(), r.source), ("192.0.2.1", None));
        let no_address = parse_telnet(&args("h 25 Management"), &c).unwrap_err();
        assert!(no_address.contains("has no address"), "{no_address}");
        assert!(parse_telnet(&args("h 25 Data 3"), &c).is_err());
        assert!(parse_telnet(&args("h 0"), &c).is_err());
        assert!(parse_telnet(&[], &c).is_err());
    }

    #[test]
    fn telnet_reads_the_banner_says_quit_and_closes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"220-sink.example ESMTP\r\n220 ready\r\n")
                .unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            s.write_all(b"221 2.0.0 Bye\r\n").unwrap();
            line
        });
        let source = ("Data 2".to_string(), "127.0.0.1".parse().unwrap());
        let out = telnet(addr, Some(&source)).unwrap();
        assert_eq!(peer.join().unwrap(), "QUIT\r\n");
        assert!(
            out.contains("Connected to 127.0.0.1 from Data 2 (127.0.0.1).\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "220-sink.example ESMTP\n220 ready\nQUIT\n221 2.0.0 Bye\nConnection closed.\n"
            ),
            "{out}"
        );
        // Nobody listening: the error says where it tried.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap();
        drop(closed);
        assert!(telnet(gone, None).unwrap_err().contains("connect to"));
    }

    #[test]
    fn echo_packets_are_well_formed_and_replies_recognised() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p.len(), 8 + PING_PAYLOAD);
        assert_eq!(checksum(&p), 0, "a correct checksum sums to zero");
        let mut reply = p.clone();
        reply[0] = 0;
        assert_eq!(echo_reply_seq(&reply, false, false, 0), Some(7));
        let mut with_ip = vec![0x45u8; 1];
        with_ip.extend([0u8; 19]);
        with_ip.extend(&reply);
        assert_eq!(echo_reply_seq(&with_ip, false, true, 0x1234), Some(7));
        assert_eq!(echo_reply_seq(&with_ip, false, true, 0x4321), None);
        assert_eq!(echo_reply_seq(&p, false, false, 0), None, "a request");
        assert_eq!(parse_ping(&args("h")).unwrap().1, PING_DEFAULT_COUNT);
        assert!(parse_ping(&args("h 21")).is_err());
    }
}
