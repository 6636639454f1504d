//! The NTP client of the running daemon (`ntpconfig`): every poll
//! interval, one SNTP query to each configured server (names through the
//! gateway's own resolver, `dnsconfig`), the best answer chosen
//! (`ntp::packet::best`), and the clock stepped when it is off by more
//! than 128 ms. The daemon holds no `CAP_SYS_TIME`: on the appliance it
//! asks the root supervisor (`ntp::clock`, over the heartbeat socket); on
//! the development board it only measures. `ntpconfig status` shows the
//! last round; `settime` goes the same way as a step.
//!
//! Exposure: UDP replies from the configured servers only (the socket is
//! connected to the server's address), 48 bytes read, at most
//! [`MAX_DATAGRAMS`] per query; a forged reply must echo the request's
//! randomised transmit timestamp.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use breakwater_types::clock;
use chrono::{DateTime, Utc};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::config::Config;
use crate::config::ntp::{NtpServer, parse_server};
use crate::dns::Dns;
use crate::ntp::clock::{ClockRequest, needs_step};
use crate::ntp::packet::{self, Measurement, Request, parse_reply};

/// How long one server gets to answer (ntpd and chrony wait 1 to 2 s).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Datagrams read per query before giving up on a server that sends
/// replies that do not answer our request.
pub const MAX_DATAGRAMS: usize = 8;

/// Who sets the clock.
#[derive(Debug, Clone)]
pub enum ClockSetter {
    /// The root supervisor, over its socket.
    Supervisor { socket: PathBuf },
    /// Nobody: a development board measures only.
    MeasureOnly,
}

/// One server's last query.
#[derive(Debug, Clone)]
struct ServerState {
    server: String,
    address: Option<SocketAddr>,
    /// The last eight rounds, newest in bit 0 (`ntpq`'s reach register).
    reach: u8,
    last: Result<Measurement, String>,
}

#[derive(Debug, Default)]
struct SyncState {
    servers: Vec<ServerState>,
    last_round: Option<DateTime<Utc>>,
    /// When the clock was last found or made within 128 ms of the best
    /// server, and that server.
    last_sync: Option<(DateTime<Utc>, String)>,
    /// The last correction asked for (or, measuring only, needed).
    last_step: Option<(DateTime<Utc>, i128)>,
}

pub struct TimeSync {
    state: Mutex<SyncState>,
    setter: ClockSetter,
}

impl TimeSync {
    /// Starts the client on the current runtime; it follows `config`.
    pub fn start(config: watch::Receiver<Arc<Config>>, setter: ClockSetter) -> Arc<TimeSync> {
        let sync = Arc::new(TimeSync {
            state: Mutex::new(SyncState::default()),
            setter,
        });
        let task = sync.clone();
        tokio::spawn(async move { task.run(config).await });
        sync
    }

    async fn run(self: Arc<Self>, mut config: watch::Receiver<Arc<Config>>) {
        loop {
            let cfg = config.borrow_and_update().clone();
            if cfg.ntp.enabled && !cfg.ntp.servers.is_empty() {
                self.round(&cfg).await;
            } else if let Ok(mut s) = self.state.lock() {
                *s = SyncState::default();
            }
            let poll = Duration::from_secs(u64::from(cfg.ntp.poll_secs));
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                changed = config.changed() => if changed.is_err() { return },
            }
        }
    }

    async fn round(&self, cfg: &Config) {
        let dns = Dns::new(&cfg.dns).ok();
        let mut results = Vec::with_capacity(cfg.ntp.servers.len());
        for server in &cfg.ntp.servers {
            let (address, last) = match query_server(dns.as_ref(), server).await {
                Ok((a, m)) => (Some(a), Ok(m)),
                Err((a, e)) => (a, Err(e)),
            };
            results.push((server.clone(), address, last));
        }
        let now = Utc::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let old = std::mem::take(&mut state.servers);
        state.servers = results
            .into_iter()
            .map(|(server, address, last)| {
                let before = old
                    .iter()
                    .find(|o| o.server == server)
                    .map_or(0, |o| o.reach);
                ServerState {
                    reach: (before << 1) | u8::from(last.is_ok()),
                    server,
                    address,
                    last,
                }
            })
            .collect();
        state.last_round = Some(now);
        let best = packet::best(state.servers.iter().filter_map(|s| s.last.as_ref().ok()))
            .copied()
            .and_then(|m| {
                let name = state
                    .servers
                    .iter()
                    .find(|s| s.last.as_ref().ok() == Some(&m))
                    .map(|s| s.server.clone())?;
                Some((m, name))
            });
        let Some((best, name)) = best else {
            tracing::warn!("NTP: no configured server answered");
            return;
        };
        if !needs_step(best.offset_nanos) {
            state.last_sync = Some((now, name.clone()));
        }
        match &self.setter {
            // Every offset goes to the supervisor: it steps at boot and
            // slews after (ntp::discipline), so small offsets are corrected
            // too, without a jump.
            ClockSetter::Supervisor { socket } => {
                let request = ClockRequest::Offset {
                    pid: std::process::id(),
                    nanos: best.offset_nanos,
                };
                match send(socket, request) {
                    Ok(()) => {
                        tracing::info!(
                            "NTP: the clock is off by {} from {name}; the supervisor corrects it",
                            seconds(best.offset_nanos)
                        );
                        state.last_sync = Some((now, name));
                    }
                    Err(e) => {
                        tracing::warn!("NTP: cannot ask the supervisor to correct the clock: {e}")
                    }
                }
            }
            ClockSetter::MeasureOnly => {
                if needs_step(best.offset_nanos) {
                    state.last_step = Some((now, best.offset_nanos));
                    tracing::info!(
                        "NTP: the clock is off by {} from {name} (development board: not set)",
                        seconds(best.offset_nanos)
                    )
                }
            }
        }
    }

    /// `ntpconfig status`.
    pub fn status(&self, cfg: &Config) -> String {
        let mut out = breakwater_control::commands::ntpconfig::render(&cfg.ntp);
        out.push('\n');
        out.push_str(match self.setter {
            ClockSetter::Supervisor { .. } => {
                "Clock: set by the supervisor (stepped when off by more than 1 s in the first 3 updates after boot, slewed at up to 500 ppm after; over 1000 s after boot, not applied).\n"
            }
            ClockSetter::MeasureOnly => {
                "Clock: not set by NTP on this board (development board: offsets are measured and reported only).\n"
            }
        });
        let Ok(state) = self.state.lock() else {
            return out;
        };
        if !cfg.ntp.enabled {
            return out;
        }
        let when = |t: &DateTime<Utc>| {
            clock::local(*t)
                .format(clock::HEADER_TIME_FORMAT)
                .to_string()
        };
        match &state.last_sync {
            Some((t, server)) => out.push_str(&format!("Last sync: {} from {server}\n", when(t))),
            None => out.push_str("Last sync: never\n"),
        }
        if let Some((t, offset)) = &state.last_step {
            out.push_str(&format!(
                "Last offset not corrected: {} by {}\n",
                when(t),
                seconds(*offset)
            ));
        }
        if let ClockSetter::Supervisor { socket } = &self.setter
            && let Some(action) = last_clock_action(socket)
        {
            out.push_str(&format!("Last clock action: {action}\n"));
        }
        match &state.last_round {
            Some(t) => out.push_str(&format!("Last query: {}\n", when(t))),
            None => {
                out.push_str("Last query: none yet\n");
                return out;
            }
        }
        out.push_str(&format!(
            "\n{:<32} {:<24} {:>5} {:>7} {:>12} {:>10}  {}\n",
            "Server", "Address", "Reach", "Stratum", "Offset", "Delay", "Reference / state"
        ));
        for s in &state.servers {
            let address = s.address.map_or_else(|| "-".to_string(), |a| a.to_string());
            let line = match &s.last {
                Ok(m) => format!(
                    "{:<32} {:<24} {:>5o} {:>7} {:>12} {:>10}  {} (reachable)",
                    s.server,
                    address,
                    s.reach,
                    m.stratum,
                    seconds(m.offset_nanos),
                    seconds(m.delay_nanos),
                    m.reference()
                ),
                Err(e) => format!(
                    "{:<32} {:<24} {:>5o} {:>7} {:>12} {:>10}  unreachable: {e}",
                    s.server, address, s.reach, "-", "-", "-"
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.trim_end().to_string()
    }

    /// `settime`: asks the supervisor to set the clock to `unix_nanos`.
    pub fn set_time(&self, unix_nanos: i128) -> Result<String, String> {
        match &self.setter {
            ClockSetter::Supervisor { socket } => {
                let request = ClockRequest::Step {
                    pid: std::process::id(),
                    unix_nanos,
                };
                send(socket, request).map_err(|e| format!("Cannot reach the supervisor: {e}"))?;
                let t = DateTime::<Utc>::from_timestamp_nanos(
                    i64::try_from(unix_nanos).unwrap_or(i64::MAX),
                );
                Ok(format!(
                    "The system time is set to {} (in effect now; no commit needed).",
                    clock::local(t).format(clock::HEADER_TIME_FORMAT)
                ))
            }
            ClockSetter::MeasureOnly => Err(
                "This board does not set the clock (development board: no root supervisor)."
                    .to_string(),
            ),
        }
    }
}

/// The supervisor's last clock action (`<data-dir>/clock-action`, next to
/// its socket), `None` before the first.
fn last_clock_action(socket: &Path) -> Option<String> {
    let file = socket.parent()?.join(crate::supervisor::CLOCK_ACTION_FILE);
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn send(socket: &PathBuf, request: ClockRequest) -> std::io::Result<()> {
    let s = UnixDatagram::unbound()?;
    s.send_to(request.emit().as_bytes(), socket).map(|_| ())
}

/// `+2.500123` seconds, with the sign, to the microsecond.
fn seconds(nanos: i128) -> String {
    let sign = if nanos < 0 { '-' } else { '+' };
    let abs = nanos.unsigned_abs();
    format!(
        "{sign}{}.{:06}",
        abs / 1_000_000_000,
        (abs % 1_000_000_000) / 1000
    )
}

type QueryError = (Option<SocketAddr>, String);

/// One server: resolve, query, check. The address used comes back too.
async fn query_server(
    dns: Option<&Dns>,
    server: &str,
) -> Result<(SocketAddr, Measurement), QueryError> {
    let address = match parse_server(server).map_err(|e| (None, e.to_string()))? {
        NtpServer::Address(a) => a,
        NtpServer::Name { host, port } => {
            let dns = dns.ok_or((None, "no DNS resolver is configured".to_string()))?;
            let ip = dns
                .addresses(&host)
                .await
                .map_err(|e| (None, format!("cannot resolve {host}: {e}")))?
                .into_iter()
                .next()
                .ok_or((None, format!("{host} has no address")))?;
            SocketAddr::new(ip, port)
        }
    };
    let fail = |e: String| (Some(address), e);
    match tokio::time::timeout(QUERY_TIMEOUT, query(address)).await {
        Ok(Ok(m)) => Ok((address, m)),
        Ok(Err(e)) => Err(fail(e)),
        Err(_) => Err(fail(format!("no answer in {} s", QUERY_TIMEOUT.as_secs()))),
    }
}

async fn query(address: SocketAddr) -> Result<Measurement, String> {
    let local: SocketAddr = match address.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    // Connected: the kernel drops datagrams from any other address.
    socket.connect(address).await.map_err(|e| e.to_string())?;
    let request = Request::new(SystemTime::now(), packet::nonce());
    let sent = packet::unix_nanos(SystemTime::now());
    socket
        .send(&request.emit())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let mut last_error = String::new();
    for _ in 0..MAX_DATAGRAMS {
        let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
        let received = packet::unix_nanos(SystemTime::now());
        match parse_reply(&buf[..n]).and_then(|r| packet::measure(&request, &r, sent, received)) {
            Ok(m) => return Ok(m),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_shown_in_signed_seconds_to_the_microsecond() {
        assert_eq!(seconds(2_500_123_456), "+2.500123");
        assert_eq!(seconds(-1_000), "-0.000001");
        assert_eq!(seconds(0), "+0.000000");
    }
}
