//! The console's side of the control socket: one blocking request per
//! call, with bounded connect, write and read times, so a console never
//! hangs on a daemon that is restarting or stuck.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use breakwater_control_proto::{CONTROL_SOCKET_NAME, Request, Response, SESSION};

/// How long one request may take (a commit flushes sled; a login runs argon2).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `upgrade install` may take: the download's own limit
/// ([`breakwater_control_proto::UPGRADE_DOWNLOAD_TIMEOUT`]), then two
/// checks of up to 256 MiB and the slot written and synced on flash. With
/// the 30 s of other requests, the console gave up while the install went
/// on.
pub const INSTALL_CALL_TIMEOUT: Duration =
    Duration::from_secs(breakwater_control_proto::UPGRADE_DOWNLOAD_TIMEOUT.as_secs() + 300);
/// Largest reply read (a `showconfig` is a few kB).
const MAX_REPLY: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// No daemon on the socket, or it did not answer in time.
    #[error("The mail daemon is restarting; try again in a moment.")]
    Unreachable,
    #[error("malformed reply from the mail daemon: {0}")]
    Malformed(String),
}

/// Where the daemon is.
#[derive(Debug, Clone)]
pub struct DaemonLink {
    data_dir: PathBuf,
    timeout: Duration,
}

impl DaemonLink {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            timeout: CALL_TIMEOUT,
        }
    }

    /// Sends one request and waits for its answer.
    pub fn call(
        &self,
        args: Vec<String>,
        stdin: Option<&str>,
        user: &str,
    ) -> Result<Response, LinkError> {
        let request = Request {
            args,
            stdin: stdin.map(str::to_string),
            user: user.to_string(),
        };
        let mut text =
            serde_json::to_string(&request).map_err(|e| LinkError::Malformed(e.to_string()))?;
        text.push('\n');
        let timeout = if is_install(&request.args) {
            INSTALL_CALL_TIMEOUT
        } else {
            self.timeout
        };
        let unreachable = |_| LinkError::Unreachable;
        // The console runs as root on the serial port, and the data
        // directory belongs to the daemon's user: the socket's name is
        // pinned (no link followed, a socket and nothing else) before
        // connect(2), as `breakwater cli` does.
        let pinned = breakwater_safe_fs::Dir::open(&self.data_dir)
            .and_then(|d| d.pin_socket(CONTROL_SOCKET_NAME))
            .map_err(unreachable)?;
        let mut stream = UnixStream::connect(pinned.path()).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(unreachable)?;
        stream.write_all(text.as_bytes()).map_err(unreachable)?;
        let mut reply = String::new();
        BufReader::new(stream.take(MAX_REPLY))
            .read_line(&mut reply)
            .map_err(unreachable)?;
        if reply.is_empty() {
            return Err(LinkError::Unreachable);
        }
        serde_json::from_str(&reply).map_err(|e| LinkError::Malformed(e.to_string()))
    }
}

/// `upgrade install ...`, alone or in a console session
/// (`__session TOKEN upgrade install ...`).
fn is_install(args: &[String]) -> bool {
    let args = match args {
        [session, _token, rest @ ..] if session == SESSION => rest,
        all => all,
    };
    matches!(args, [u, i, ..] if u.eq_ignore_ascii_case("upgrade") && i.eq_ignore_ascii_case("install"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_waits_for_the_download_and_the_slot() {
        let words = |l: &str| l.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(is_install(&words("upgrade install https://x/p.upgrade")));
        assert!(is_install(&words(
            "__session t0k3n UPGRADE Install p.upgrade"
        )));
        assert!(!is_install(&words("upgrade status")));
        assert!(!is_install(&words("__session t0k3n status")));
        assert!(INSTALL_CALL_TIMEOUT > CALL_TIMEOUT * 20);
    }
}
