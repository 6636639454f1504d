//! How the box last stopped and why it started: the files the supervisor
//! keeps in the data directory for that, and the words `status`, `version`
//! and the login banner show.

use std::path::{Path, PathBuf};

/// The names in the data directory (the supervisor, root, works on them
/// through `safe_fs`, by name).
pub(super) const PID_FILE: &str = "daemon.pid";
pub(super) const BOOT_MARKER: &str = "unclean-shutdown";
pub(super) const LAST_STOP: &str = "last-stop";
pub(super) const LOCK_FILE: &str = "supervisor.lock";

/// The current daemon's PID, for tests and operators.
pub fn pid_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PID_FILE)
}

/// Present while a supervisor runs; found at start it means the last one
/// did not stop in order (crash, kill, reset or power cut).
pub fn boot_marker_path(data_dir: &Path) -> PathBuf {
    data_dir.join(BOOT_MARKER)
}

/// Written at an orderly stop (`reboot`, `power-off`), read and removed at
/// the next start: with the boot marker and the watchdog's boot status it
/// tells the [`BootReason`].
pub fn last_stop_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LAST_STOP)
}

/// Why the box (or, on a development machine, the supervisor) started:
/// shown by `status`, `version` and the login banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootReason {
    /// No record of a stop: switched on after a power-off.
    PowerOn,
    /// After `reboot` (or init's reboot on SIGTERM/Ctrl-Alt-Del).
    Reboot,
    /// The watchdog card reset the box (its boot status says so).
    Watchdog,
    /// The last run never stopped in order: a crash, a kill or a power cut.
    Unclean,
}

impl BootReason {
    /// Decides from what the last run left behind.
    pub fn decide(card_reset: bool, marker: bool, last_stop: Option<&str>) -> BootReason {
        if card_reset {
            BootReason::Watchdog
        } else if marker {
            BootReason::Unclean
        } else if last_stop.map(str::trim) == Some("reboot") {
            BootReason::Reboot
        } else {
            BootReason::PowerOn
        }
    }

    pub fn as_arg(self) -> &'static str {
        match self {
            BootReason::PowerOn => "power-on",
            BootReason::Reboot => "reboot",
            BootReason::Watchdog => "watchdog",
            BootReason::Unclean => "unclean",
        }
    }

    pub fn from_arg(s: &str) -> Option<Self> {
        [
            BootReason::PowerOn,
            BootReason::Reboot,
            BootReason::Watchdog,
            BootReason::Unclean,
        ]
        .into_iter()
        .find(|r| r.as_arg() == s)
    }

    /// The `Boot reason:` line.
    pub fn describe(self) -> &'static str {
        match self {
            BootReason::PowerOn => "power-on",
            BootReason::Reboot => "reboot",
            BootReason::Watchdog => "watchdog reset",
            BootReason::Unclean => "power loss or crash (no orderly shutdown)",
        }
    }
}

/// How the previous run of the box ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastBoot {
    Clean,
    /// A crash, a kill, a watchdog reset or a power cut.
    Unclean,
}

impl LastBoot {
    pub fn as_arg(self) -> &'static str {
        match self {
            LastBoot::Clean => "clean",
            LastBoot::Unclean => "unclean",
        }
    }

    pub fn from_arg(s: &str) -> Option<Self> {
        match s {
            "clean" => Some(LastBoot::Clean),
            "unclean" => Some(LastBoot::Unclean),
            _ => None,
        }
    }

    /// The `status` line.
    pub fn describe(self) -> &'static str {
        match self {
            LastBoot::Clean => "clean",
            LastBoot::Unclean => "after a crash or reset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_boot_words() {
        for b in [LastBoot::Clean, LastBoot::Unclean] {
            assert_eq!(LastBoot::from_arg(b.as_arg()), Some(b));
        }
        assert_eq!(LastBoot::Unclean.describe(), "after a crash or reset");
    }

    #[test]
    fn boot_reasons_by_precedence() {
        use BootReason::*;
        assert_eq!(BootReason::decide(true, true, Some("reboot")), Watchdog);
        assert_eq!(BootReason::decide(false, true, Some("reboot")), Unclean);
        assert_eq!(BootReason::decide(false, false, Some("reboot\n")), Reboot);
        assert_eq!(BootReason::decide(false, false, Some("power-off")), PowerOn);
        assert_eq!(BootReason::decide(false, false, None), PowerOn);
        for r in [PowerOn, Reboot, Watchdog, Unclean] {
            assert_eq!(BootReason::from_arg(r.as_arg()), Some(r));
        }
    }
}
