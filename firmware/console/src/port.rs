//! The byte streams a console runs over, as `embedded_io` `Read + Write`:
//! the process's terminal (or a pty) in raw mode, a serial port at a baud
//! rate, and in-memory pipes for tests.
//!
//! Every port reads through a [`ChannelPort`]: a thread that does nothing
//! but drain the device into an unbounded channel. A pasted filter script
//! at 115200 baud (about 11.5 kB/s) therefore never waits on the console's
//! echo or on a control request: the kernel's 4 KiB tty buffer is emptied
//! as fast as it fills, so no character is lost. `read` gives up after a
//! short tick with `ErrorKind::TimedOut`, which is how the console counts
//! idle time without a `poll` of its own.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::termios::{self, BaudRate, SetArg, Termios};

/// How long `read` waits before reporting `TimedOut` (one idle tick).
pub const TICK: Duration = Duration::from_millis(250);

/// A port whose input arrives through a channel fed by a reader thread.
pub struct ChannelPort {
    input: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
    output: Box<dyn io::Write + Send>,
}

impl ChannelPort {
    /// Reads `reader` on a thread of its own; writes go to `writer`.
    pub fn spawn(
        reader: impl io::Read + Send + 'static,
        writer: impl io::Write + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || pump(reader, tx));
        Self::from_channel(rx, writer)
    }

    pub fn from_channel(input: Receiver<Vec<u8>>, writer: impl io::Write + Send + 'static) -> Self {
        Self {
            input,
            pending: Vec::new(),
            pos: 0,
            output: Box::new(writer),
        }
    }
}

fn pump(mut reader: impl io::Read, tx: Sender<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EIO is how a pty says its other side has gone.
            Err(_) => return,
        }
    }
}

impl embedded_io::ErrorType for ChannelPort {
    type Error = io::Error;
}

impl embedded_io::Read for ChannelPort {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.pending.len() {
            match self.input.recv_timeout(TICK) {
                Ok(chunk) => {
                    self.pending = chunk;
                    self.pos = 0;
                }
                Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::TimedOut.into()),
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for ChannelPort {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> Result<(), io::Error> {
        self.output.flush()
    }
}

/// Puts a terminal in raw mode and restores its settings when dropped.
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    pub fn enter(fd: OwnedFd, baud: Option<u32>) -> io::Result<Self> {
        let saved = termios::tcgetattr(fd.as_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if let Some(baud) = baud {
            termios::cfsetspeed(&mut raw, baud_rate(baud)?)?;
        }
        termios::tcsetattr(fd.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Self { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd.as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

fn baud_rate(baud: u32) -> io::Result<BaudRate> {
    Ok(match baud {
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported baud rate {baud}"),
            ));
        }
    })
}

/// The process's standard input and output (a terminal or a pty), raw.
pub fn stdio() -> io::Result<(ChannelPort, RawMode)> {
    let raw = RawMode::enter(io::stdin().as_fd().try_clone_to_owned()?, None)?;
    Ok((ChannelPort::spawn(io::stdin(), io::stdout()), raw))
}

/// A serial device (e.g. `/dev/ttyS0`), raw, at `baud`.
pub fn serial(path: &Path, baud: u32) -> io::Result<(ChannelPort, RawMode)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let raw = RawMode::enter(file.as_fd().try_clone_to_owned()?, Some(baud))?;
    let reader = file.try_clone()?;
    Ok((ChannelPort::spawn(reader, file), raw))
}

/// The far end of an in-memory console: what a person at the terminal
/// types and sees (tests and simulators).
pub struct PipePeer {
    keys: Sender<Vec<u8>>,
    screen: Receiver<Vec<u8>>,
    /// Everything received and not yet consumed by [`PipePeer::expect`].
    pub seen: String,
}

struct ChannelWriter(Sender<Vec<u8>>);

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An in-memory console port and the person at its other end.
pub fn pipe() -> (ChannelPort, PipePeer) {
    let (keys, input) = mpsc::channel();
    let (screen_tx, screen) = mpsc::channel();
    let port = ChannelPort::from_channel(input, ChannelWriter(screen_tx));
    let peer = PipePeer {
        keys,
        screen,
        seen: String::new(),
    };
    (port, peer)
}

impl PipePeer {
    /// Types `bytes` (returns false once the console has gone).
    pub fn send(&self, bytes: impl AsRef<[u8]>) -> bool {
        self.keys.send(bytes.as_ref().to_vec()).is_ok()
    }

    /// Waits until the screen shows `text`; returns everything up to and
    /// including it, and keeps the rest for the next call.
    pub fn expect(&mut self, text: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen.find(text) {
                let rest = self.seen.split_off(i + text.len());
                return Ok(std::mem::replace(&mut self.seen, rest));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => {
                    return Err(format!(
                        "no {text:?} on the screen; it shows:\n{}",
                        self.seen
                    ));
                }
            }
        }
    }
}
