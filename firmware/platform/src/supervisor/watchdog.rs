//! The watchdog the supervisor pets while the mail daemon is healthy.
//!
//! Two implementations behind one trait:
//!
//! - [`SoftWatchdog`] (the `dev` board): a deadline inside the supervisor.
//!   When it passes, the supervisor logs "watchdog would reset the box"
//!   and exits with [`super::EXIT_WATCHDOG_RESET`] — what a reset looks
//!   like from outside a development machine.
//! - [`DeviceWatchdog`] (`/dev/watchdog` on the appliance): pets with a
//!   plain `write(2)` and closes with the magic `V`. Setting the timeout
//!   and reading the boot status are ioctls, which would need `unsafe`
//!   (forbidden in this workspace); the timeout is given to the driver as a
//!   module parameter and the boot status is read from sysfs instead — see
//!   `docs/decisions/0005-watchdog-supervisor.md`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `WDIOF_CARDRESET` in `<linux/watchdog.h>`: the last reboot was caused
/// by the watchdog.
const WDIOF_CARDRESET: u32 = 0x0020;

/// Something that resets the box unless it is petted in time.
pub trait Watchdog: Send {
    /// Postpones the reset by one timeout.
    fn pet(&mut self) -> io::Result<()>;
    /// Whether the reset has happened. Only a soft watchdog can say yes: a
    /// real one takes the supervisor with it.
    fn expired(&self) -> bool {
        false
    }
    /// Orderly shutdown: disarms the watchdog (the magic close).
    fn disarm(&mut self) -> io::Result<()>;
    /// Whether the device says the last boot was its reset (`None`: it
    /// cannot tell).
    fn caused_last_boot(&self) -> Option<bool> {
        None
    }
    /// For the system log.
    fn describe(&self) -> String;
}

/// The `dev` board's watchdog: a deadline the supervisor checks every tick.
#[derive(Debug)]
pub struct SoftWatchdog {
    timeout: Duration,
    deadline: Option<Instant>,
}

impl SoftWatchdog {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            deadline: Some(Instant::now() + timeout),
        }
    }
}

impl Watchdog for SoftWatchdog {
    fn pet(&mut self) -> io::Result<()> {
        if self.deadline.is_some() {
            self.deadline = Some(Instant::now() + self.timeout);
        }
        Ok(())
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn disarm(&mut self) -> io::Result<()> {
        self.deadline = None;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("soft watchdog, timeout {} s", self.timeout.as_secs())
    }
}

/// A Linux watchdog device (`/dev/watchdog`): open arms it, any byte pets
/// it, `V` then close disarms it (unless the driver was built `nowayout`).
#[derive(Debug)]
pub struct DeviceWatchdog {
    path: PathBuf,
    file: Option<File>,
    timeout_secs: Option<u32>,
    card_reset: Option<bool>,
}

impl DeviceWatchdog {
    /// Opens (and so arms) the device. The boot status and the timeout the
    /// driver runs with are read from `/sys/class/watchdog/<name>/`, where
    /// the watchdog core publishes what `WDIOC_GETBOOTSTATUS` and
    /// `WDIOC_GETTIMEOUT` would return.
    pub fn open(path: &Path) -> io::Result<Self> {
        let sysfs = sysfs_dir(path);
        let read = |name: &str| {
            sysfs
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.join(name)).ok())
        };
        let card_reset = read("bootstatus")
            .and_then(|s| parse_bootstatus(&s))
            .map(|bits| bits & WDIOF_CARDRESET != 0);
        let timeout_secs = read("timeout").and_then(|s| s.trim().parse().ok());
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Some(file),
            timeout_secs,
            card_reset,
        })
    }
}

/// `/dev/watchdog` is the legacy alias of `watchdog0`.
fn sysfs_dir(device: &Path) -> Option<PathBuf> {
    let name = device.file_name()?.to_str()?;
    let name = if name == "watchdog" {
        "watchdog0"
    } else {
        name
    };
    Some(Path::new("/sys/class/watchdog").join(name))
}

/// The sysfs `bootstatus` attribute: a decimal number of `WDIOF_*` bits.
fn parse_bootstatus(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

impl Watchdog for DeviceWatchdog {
    fn pet(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            // Any byte but `V` is a keepalive (drivers/watchdog/watchdog_dev.c).
            Some(f) => f.write_all(b"k"),
            None => Ok(()),
        }
    }

    fn disarm(&mut self) -> io::Result<()> {
        match self.file.take() {
            Some(mut f) => f.write_all(b"V"),
            None => Ok(()),
        }
    }

    fn caused_last_boot(&self) -> Option<bool> {
        self.card_reset
    }

    fn describe(&self) -> String {
        match self.timeout_secs {
            Some(t) => format!("{} (timeout {t} s)", self.path.display()),
            None => format!("{} (timeout unknown)", self.path.display()),
        }
    }
}

/// The watchdog a board profile names: `soft`, or a device path.
pub fn open(board: &breakwater_board::Watchdog) -> io::Result<Box<dyn Watchdog>> {
    if board.is_soft() {
        Ok(Box::new(SoftWatchdog::new(Duration::from_secs(
            board.timeout_secs.into(),
        ))))
    } else {
        Ok(Box::new(DeviceWatchdog::open(Path::new(&board.kind))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_watchdog_expires_unless_petted_and_never_after_disarm() {
        let mut w = SoftWatchdog::new(Duration::from_millis(30));
        assert!(!w.expired());
        std::thread::sleep(Duration::from_millis(20));
        w.pet().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!w.expired(), "petted 20 ms ago, timeout 30 ms");
        std::thread::sleep(Duration::from_millis(20));
        assert!(w.expired());
        w.disarm().unwrap();
        assert!(!w.expired());
    }

    #[test]
    fn device_watchdog_writes_keepalives_then_the_magic_close() {
        // A plain file stands in for the device: the protocol is bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watchdog");
        std::fs::write(&path, b"").unwrap();
        let mut w = DeviceWatchdog::open(&path).unwrap();
        w.pet().unwrap();
        w.pet().unwrap();
        w.disarm().unwrap();
        w.pet().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"kkV");
    }

    #[test]
    fn bootstatus_bits() {
        assert_eq!(parse_bootstatus("32\n"), Some(32));
        assert_eq!(parse_bootstatus("0x20"), Some(32));
        assert_eq!(parse_bootstatus("x"), None);
        assert_eq!(
            sysfs_dir(Path::new("/dev/watchdog")),
            Some(PathBuf::from("/sys/class/watchdog/watchdog0"))
        );
    }
}
