//! Board profiles: the facts about a piece of hardware (or a VM, or a
//! development machine) that the firmware needs before it can configure
//! itself — which network interface is Management, Data 1 and Data 2 and what
//! addresses they get out of the factory, which port the listeners use, the
//! console device and the watchdog.
//!
//! Profiles are data files (`board/profiles/*.toml`); the built-in ones are
//! compiled into the binary so that an appliance needs no file to boot, and a
//! development or test run may point at its own file.
//!
//! Exposure: none. This crate only parses trusted files shipped with the
//! image or given on the command line.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// The built-in profiles, by name.
const BUILTIN: &[(&str, &str)] = &[("dev", include_str!("../profiles/dev.toml"))];

/// Why a board profile could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    #[error("unknown board profile '{0}' (built in: {1})")]
    Unknown(String, String),
    #[error("cannot read board profile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("board profile {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

/// One network interface the board provides.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BoardInterface {
    /// "Management", "Data 1" or "Data 2".
    pub name: String,
    /// Factory address; `None` leaves the interface unconfigured.
    pub address: Option<IpAddr>,
    #[serde(default = "default_prefix")]
    pub prefix: u8,
}

fn default_prefix() -> u8 {
    24
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Console {
    /// `stdio` on a development machine, `/dev/ttyS0` on hardware and VMs.
    pub device: String,
    pub baud: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Watchdog {
    /// `soft` (a timer in the supervisor) or a device path such as `/dev/watchdog`.
    pub kind: String,
    pub timeout_secs: u32,
}

/// A whole board profile.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BoardProfile {
    pub name: String,
    pub description: String,
    /// The port both factory listeners use (25 on an appliance).
    pub listener_port: u16,
    /// The factory host name.
    pub hostname: String,
    pub interfaces: Vec<BoardInterface>,
    pub console: Console,
    pub watchdog: Watchdog,
}

impl BoardProfile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Self, BoardError> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            BoardError::Unknown(name.to_string(), names.join(", "))
        })?;
        Self::parse(name, text)
    }

    /// A profile from a file (development and tests).
    pub fn from_file(path: &Path) -> Result<Self, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, BoardError> {
        let profile: BoardProfile = toml::from_str(text).map_err(|e| BoardError::Invalid {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        for required in ["Management", "Data 1", "Data 2"] {
            if profile.interface(required).is_none() {
                return Err(BoardError::Invalid {
                    name: name.to_string(),
                    reason: format!("no interface named '{required}'"),
                });
            }
        }
        Ok(profile)
    }

    pub fn interface(&self, name: &str) -> Option<&BoardInterface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_profile_uses_the_documented_loopback_addresses() {
        let dev = BoardProfile::builtin("dev").unwrap();
        let addr = |n: &str| dev.interface(n).unwrap().address.unwrap().to_string();
        assert_eq!(addr("Management"), "127.0.0.1");
        assert_eq!(addr("Data 1"), "127.0.1.1");
        assert_eq!(addr("Data 2"), "127.0.2.1");
        assert_eq!(dev.listener_port, 2525);
    }

    #[test]
    fn a_profile_without_data_2_is_refused() {
        let text = r#"
            name = "x"
            description = "x"
            listener_port = 25
            hostname = "h"
            interfaces = [{ name = "Management", address = "10.0.0.1" }, { name = "Data 1" }]
            console = { device = "stdio", baud = 9600 }
            watchdog = { kind = "soft", timeout_secs = 10 }
        "#;
        let err = BoardProfile::parse("x", text).unwrap_err();
        assert!(err.to_string().contains("Data 2"), "{err}");
    }
}
