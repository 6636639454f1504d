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
const BUILTIN: &[(&str, &str)] = &[
    ("dev", include_str!("../profiles/dev.toml")),
    ("vesa", include_str!("../profiles/vesa.toml")),
    (
        "x86-appliance",
        include_str!("../profiles/x86-appliance.toml"),
    ),
];

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
    /// How long the box may go unpetted before it is reset. A device
    /// cannot be told this without an ioctl (see
    /// `docs/decisions/0005-watchdog-supervisor.md`): `init` passes it to
    /// the driver module as its `heartbeat`/`soft_margin` parameter.
    pub timeout_secs: u32,
    /// The kernel module that drives the device (`i6300esb`, `iTCO_wdt`).
    #[serde(default)]
    pub driver: Option<String>,
    /// Load `softdog` when no hardware watchdog appears (VMware has none).
    #[serde(default)]
    pub softdog_fallback: bool,
}

impl Watchdog {
    /// The soft watchdog: a timer inside the supervisor.
    pub fn is_soft(&self) -> bool {
        self.kind == "soft"
    }
}

/// How a physical port becomes Management, Data 1 or Data 2. Exactly one
/// of `mac`, `bus_path` and `pci_order` is set: a MAC pins one unit's
/// ports, a bus path (`/sys/class/net/*/device` resolved, e.g.
/// `0000:00:03.0`) pins a model's layout whatever the MACs, and a PCI
/// order (1 = the first network port by PCI address) names the ports of a
/// virtual machine whatever the hypervisor's bus layout (QEMU puts NICs on
/// the root bus, VMware behind PCIe root ports).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NicRule {
    /// "Management", "Data 1" or "Data 2".
    pub name: String,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub bus_path: Option<String>,
    #[serde(default)]
    pub pci_order: Option<u32>,
    /// The expected driver, checked and reported, never required.
    #[serde(default)]
    pub driver: Option<String>,
}

/// One partition of the appliance's flash (disk, eMMC or SSD).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FlashPartition {
    /// The file-system label `init` looks for (`BW-DATA`).
    pub label: String,
    /// Where it is mounted (`/data`), or `None` for the boot partition
    /// that only the boot loader reads.
    #[serde(default)]
    pub mount: Option<String>,
    /// `vfat`, `ext4`.
    pub fs: String,
    /// What lives there: `boot` or `data` (configuration, queue, logs).
    pub role: String,
    /// Devices searched, in order, when no label matches (`/dev/vda2`).
    #[serde(default)]
    pub devices: Vec<String>,
}

/// The supervisor's limits (named settings; AsyncOS-like defaults).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisorLimits {
    /// Crashes (exits and hangs) tolerated within `crash_window_secs`;
    /// one more and the supervisor gives up and stops petting the watchdog.
    pub max_crashes: u32,
    pub crash_window_secs: u32,
    /// The first restart waits this long; each further crash in the window
    /// doubles it, up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// A running daemon silent this long is hung: killed and restarted.
    pub heartbeat_timeout_secs: u32,
    /// A starting daemon (database open, queue recovery) gets this long to
    /// send its first heartbeat.
    pub start_timeout_secs: u32,
    /// After forwarding SIGTERM, how long to wait before SIGKILL.
    pub stop_timeout_secs: u32,
    /// When the daemon reports a damaged database, salvage it (move it
    /// aside, keep what is readable) and start again, instead of stopping
    /// for an operator: the appliance has no shell to run `salvage` from.
    pub auto_salvage: bool,
}

impl Default for SupervisorLimits {
    /// 5 crashes in 10 minutes, 1 s back-off doubling to 60 s, a daemon
    /// silent for 30 s is hung, 120 s to start, 45 s to stop.
    fn default() -> Self {
        Self {
            max_crashes: 5,
            crash_window_secs: 600,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60_000,
            heartbeat_timeout_secs: 30,
            start_timeout_secs: 120,
            stop_timeout_secs: 45,
            auto_salvage: false,
        }
    }
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
    /// Kernel modules `init` loads, in order (empty: all built in).
    #[serde(default)]
    pub kernel_modules: Vec<String>,
    /// How physical ports get their names (empty: the interfaces are
    /// already there, as on a development machine).
    #[serde(default)]
    pub nic_rules: Vec<NicRule>,
    /// The flash layout (empty: the data directory is a plain directory).
    #[serde(default)]
    pub flash: Vec<FlashPartition>,
    #[serde(default)]
    pub supervisor: SupervisorLimits,
    /// The unprivileged user the mail daemon runs as once it has bound its
    /// ports (a name, or numeric `UID[:GID]`); `None` (the `dev` board)
    /// keeps the user that started it. See
    /// `docs/decisions/0006-least-privilege.md`.
    #[serde(default)]
    pub run_as: Option<String>,
    /// DHCP on the Management port in the factory configuration (the
    /// first boot): on for the virtual appliance, which a cloud or a lab
    /// starts with no operator at a console; off on hardware, which ships
    /// with AsyncOS's 192.168.42.42 (docs/decisions/0011-dhcp-management.md).
    #[serde(default)]
    pub management_dhcp: bool,
    /// The directory of the Ed25519 public keys (`*.pub`) an upgrade
    /// package must be signed with; `None` (every real board): the keys
    /// the image carries, `/etc/breakwater/upgrade-keys`. Development and
    /// test boards name a directory of their own
    /// (docs/decisions/0010-signed-firmware.md).
    #[serde(default)]
    pub upgrade_keys: Option<String>,
    /// The Management interface's HTTPS, HTTP (redirect) and SSH ports in
    /// the factory configuration: 443, 80 and 22 on an appliance; the
    /// `dev` board uses unprivileged ones so a developer needs no root.
    #[serde(default)]
    pub management_ports: ManagementPorts,
    /// The mail work queue's memory bound (issue 19).
    #[serde(default)]
    pub work_queue: WorkQueueLimits,
}

/// How much of the mail queue the work queue holds in memory: a property
/// of the board's RAM, not of the mail flow, so it lives here rather than
/// in the committed configuration
/// (docs/decisions/0022-bounded-work-queue-window.md).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct WorkQueueLimits {
    /// At most this many queued messages are in the work queue (routing,
    /// delivery, processing) at once; the rest wait on disk and are paged
    /// in, oldest MID first, as the window drains. Quarantined messages
    /// are not counted (their quarantines' sizes bound them).
    pub window: usize,
}

impl Default for WorkQueueLimits {
    /// 10,000 messages: a record is about 1 KiB in memory with its
    /// bookkeeping, so about 10 MiB, and ten times what the delivery
    /// engine's default concurrency can have in flight.
    fn default() -> Self {
        Self { window: 10_000 }
    }
}

/// The factory ports of the management plane (issue 15).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ManagementPorts {
    pub https: u16,
    pub http: u16,
    pub ssh: u16,
}

impl Default for ManagementPorts {
    fn default() -> Self {
        Self {
            https: 443,
            http: 80,
            ssh: 22,
        }
    }
}

impl BoardProfile {
    /// The console runs on a serial device (not this terminal): the
    /// supervisor keeps `breakwater console` running on it.
    pub fn serial_console(&self) -> Option<&str> {
        (self.console.device != "stdio").then_some(self.console.device.as_str())
    }
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
        if profile.work_queue.window == 0 {
            return Err(BoardError::Invalid {
                name: name.to_string(),
                reason: "work_queue.window must be at least 1 message".to_string(),
            });
        }
        for rule in &profile.nic_rules {
            if profile.interface(&rule.name).is_none() {
                return Err(BoardError::Invalid {
                    name: name.to_string(),
                    reason: format!("NIC rule for unknown interface '{}'", rule.name),
                });
            }
            let set = [
                rule.mac.is_some(),
                rule.bus_path.is_some(),
                rule.pci_order.is_some_and(|n| n > 0),
            ];
            if set.iter().filter(|b| **b).count() != 1 {
                return Err(BoardError::Invalid {
                    name: name.to_string(),
                    reason: format!(
                        "NIC rule for '{}' needs exactly one of mac, bus_path and pci_order (from 1)",
                        rule.name
                    ),
                });
            }
        }
        let limits = &profile.supervisor;
        if profile
            .run_as
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            return Err(BoardError::Invalid {
                name: name.to_string(),
                reason: "run_as must name a user (or be left out)".into(),
            });
        }
        if limits.max_crashes == 0
            || limits.heartbeat_timeout_secs == 0
            || limits.backoff_initial_ms == 0
            || profile.watchdog.timeout_secs == 0
        {
            return Err(BoardError::Invalid {
                name: name.to_string(),
                reason: "supervisor limits and the watchdog timeout must be above zero".into(),
            });
        }
        Ok(profile)
    }

    /// The names of the built-in profiles.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
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
    fn every_builtin_profile_parses() {
        for name in BoardProfile::builtin_names() {
            let p = BoardProfile::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn dev_profile_keeps_the_defaults_it_never_names() {
        let dev = BoardProfile::builtin("dev").unwrap();
        assert!(dev.watchdog.is_soft());
        assert!(dev.kernel_modules.is_empty());
        assert!(dev.nic_rules.is_empty());
        assert!(dev.flash.is_empty());
        assert_eq!(dev.supervisor, SupervisorLimits::default());
        assert_eq!(dev.run_as, None);
        assert_eq!(dev.serial_console(), None);
    }

    #[test]
    fn vesa_profile_names_virtio_ports_by_pci_order() {
        let v = BoardProfile::builtin("vesa").unwrap();
        let order: Vec<(&str, u32)> = v
            .nic_rules
            .iter()
            .map(|r| (r.name.as_str(), r.pci_order.unwrap()))
            .collect();
        assert_eq!(order, [("Management", 1), ("Data 1", 2), ("Data 2", 3)]);
        assert_eq!(v.console.device, "/dev/ttyS0");
        assert_eq!(v.console.baud, 115_200);
        assert_eq!(v.watchdog.driver.as_deref(), Some("i6300esb"));
        assert!(v.kernel_modules.iter().any(|m| m == "virtio_net"));
        assert!(v.flash.iter().any(|p| p.role == "data"));
    }

    #[test]
    fn hardware_profile_uses_intel_ports_and_the_tco_watchdog() {
        let hw = BoardProfile::builtin("x86-appliance").unwrap();
        assert_eq!(hw.watchdog.driver.as_deref(), Some("iTCO_wdt"));
        let modules = &hw.kernel_modules;
        let pos = |m: &str| modules.iter().position(|x| x == m).unwrap();
        // iTCO_wdt finds its device through lpc_ich: load order matters.
        assert!(pos("lpc_ich") < pos("iTCO_wdt"));
        assert!(hw.nic_rules.iter().all(|r| r.bus_path.is_some()));
        assert_eq!(hw.console.device, "/dev/ttyS0");
    }

    #[test]
    fn appliance_profiles_drop_root_and_run_the_serial_console() {
        for name in ["vesa", "x86-appliance"] {
            let p = BoardProfile::builtin(name).unwrap();
            assert_eq!(p.run_as.as_deref(), Some("breakwater"), "{name}");
            assert_eq!(p.serial_console(), Some("/dev/ttyS0"), "{name}");
        }
    }

    #[test]
    fn only_the_virtual_appliance_asks_dhcp_for_management_at_first_boot() {
        let dhcp = |n: &str| BoardProfile::builtin(n).unwrap().management_dhcp;
        assert!(dhcp("vesa"));
        assert!(!dhcp("x86-appliance"));
        assert!(!dhcp("dev"), "the dev board never runs init");
    }

    #[test]
    fn supervisor_limits_can_be_set_in_part() {
        let text = DEV_LIKE.to_string() + "[supervisor]\nmax_crashes = 2\ncrash_window_secs = 30\n";
        let p = BoardProfile::parse("x", &text).unwrap();
        assert_eq!(p.supervisor.max_crashes, 2);
        assert_eq!(p.supervisor.crash_window_secs, 30);
        assert_eq!(
            p.supervisor.heartbeat_timeout_secs,
            SupervisorLimits::default().heartbeat_timeout_secs
        );
    }

    #[test]
    fn the_work_queue_window_defaults_to_ten_thousand_and_cannot_be_zero() {
        let p = BoardProfile::parse("x", DEV_LIKE).unwrap();
        assert_eq!(p.work_queue.window, 10_000);
        let small = DEV_LIKE.to_string() + "[work_queue]\nwindow = 50\n";
        assert_eq!(
            BoardProfile::parse("x", &small).unwrap().work_queue.window,
            50
        );
        let zero = DEV_LIKE.to_string() + "[work_queue]\nwindow = 0\n";
        let err = BoardProfile::parse("x", &zero).unwrap_err();
        assert!(err.to_string().contains("work_queue.window"), "{err}");
    }

    #[test]
    fn a_nic_rule_needs_exactly_one_match() {
        let both = DEV_LIKE.to_string()
            + "[[nic_rules]]\nname = \"Data 1\"\nmac = \"52:54:00:00:00:01\"\nbus_path = \"0000:00:04.0\"\n";
        let err = BoardProfile::parse("x", &both).unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let unknown = DEV_LIKE.to_string() + "[[nic_rules]]\nname = \"Data 3\"\nmac = \"x\"\n";
        assert!(BoardProfile::parse("x", &unknown).is_err());
    }

    const DEV_LIKE: &str = r#"
        name = "x"
        description = "x"
        listener_port = 25
        hostname = "h"
        interfaces = [{ name = "Management" }, { name = "Data 1" }, { name = "Data 2" }]
        console = { device = "stdio", baud = 9600 }
        watchdog = { kind = "soft", timeout_secs = 10 }
    "#;

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
