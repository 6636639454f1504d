//! The daemon's heartbeat: one datagram a second on the supervisor's Unix
//! socket, `<data-dir>/supervisor.sock`.
//!
//! Why a datagram rather than a heartbeat file or a ping on the control
//! socket: a file rewritten every second is ~86 000 writes a day on the
//! flash the queue lives on; a ping would put the supervisor behind the
//! same request queue and JSON handling as an administrator's `status`, and
//! make it a client that can itself block. A datagram costs no flash, needs
//! no connection, cannot block the sender (it is sent non-blocking and a
//! full buffer just drops one beat), and carries the sender's PID, so a
//! beat from a daemon the supervisor has already given up on is ignored.
//!
//! The beat is sent by a task on the daemon's own runtime, after the
//! listeners and the control socket are up: the first beat means "ready",
//! and a runtime whose workers are all stuck stops beating.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the daemon beats.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The heartbeat socket's name in the data directory.
pub const SOCKET_NAME: &str = "supervisor.sock";

/// The supervisor's heartbeat socket in a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// One heartbeat: `beat <pid> <seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub pid: u32,
    pub seq: u64,
}

impl Beat {
    pub fn emit(&self) -> String {
        format!("beat {} {}", self.pid, self.seq)
    }

    /// `None` for anything that is not a well-formed beat.
    pub fn parse(bytes: &[u8]) -> Option<Beat> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut words = text.split(' ');
        if words.next()? != "beat" {
            return None;
        }
        let pid = words.next()?.parse().ok()?;
        let seq = words.next()?.parse().ok()?;
        words.next().is_none().then_some(Beat { pid, seq })
    }
}

/// `debughang supervisor`: the daemon asks the supervisor to stop petting
/// the watchdog (`hang <pid>`; only the current daemon's PID counts, and
/// the socket is owner-only).
pub fn hang_request(pid: u32) -> String {
    format!("hang {pid}")
}

/// The PID in a well-formed `hang <pid>` datagram.
pub fn parse_hang(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes)
        .ok()?
        .strip_prefix("hang ")?
        .parse()
        .ok()
}

/// Sends `hang <our pid>` to the supervisor's socket.
pub fn ask_supervisor_to_hang(socket: &Path) -> std::io::Result<()> {
    let s = UnixDatagram::unbound()?;
    s.send_to(hang_request(std::process::id()).as_bytes(), socket)
        .map(|_| ())
}

/// The daemon's side: beats on `socket` every [`INTERVAL`] until `hung` is
/// set (`debughang`). Must be called inside the daemon's runtime.
pub fn start(socket: PathBuf, hung: Arc<AtomicBool>) {
    let pid = std::process::id();
    tokio::spawn(async move {
        let sender = match UnixDatagram::unbound().and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("heartbeat: cannot create a socket: {e}");
                return;
            }
        };
        let mut tick = tokio::time::interval(INTERVAL);
        let mut reported = false;
        for seq in 0u64.. {
            tick.tick().await;
            if hung.load(Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
            let beat = Beat { pid, seq }.emit();
            match sender.send_to(beat.as_bytes(), &socket) {
                Ok(_) => reported = false,
                // Report an outage once; the supervisor sees it anyway.
                Err(e) if !reported => {
                    tracing::warn!("heartbeat to {} failed: {e}", socket.display());
                    reported = true;
                }
                Err(_) => {}
            }
        }
    });
}

/// `debughang`: stops the heartbeat, then parks every worker thread of the
/// current runtime, so the daemon hangs the way a real deadlock would
/// (mail, the control socket and the heartbeat all stop) and the
/// supervisor has to notice and kill it.
pub fn hang(hung: Arc<AtomicBool>, after: Duration) {
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        hung.store(true, Ordering::Relaxed);
        tracing::warn!("debughang: the daemon stops answering now");
        for _ in 0..handle.metrics().num_workers() {
            handle.spawn(async {
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_round_trip_and_junk_is_refused() {
        let b = Beat { pid: 42, seq: 7 };
        assert_eq!(Beat::parse(b.emit().as_bytes()), Some(b));
        for junk in [
            &b""[..],
            b"beat",
            b"beat 1",
            b"beat x 1",
            b"beat 1 2 3",
            b"ping 1 2",
            b"\xff",
        ] {
            assert_eq!(Beat::parse(junk), None, "{junk:?}");
        }
        assert_eq!(parse_hang(hang_request(42).as_bytes()), Some(42));
        assert_eq!(parse_hang(b"hang"), None);
        assert_eq!(parse_hang(b"beat 42 1"), None);
    }
}
