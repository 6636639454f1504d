//! The platform: what runs the appliance around the mail daemon. PID 1
//! ([`init`]: mounts, modules, NIC naming, addresses, DHCP on Management,
//! the ordered shutdown), the [`supervisor`] (the daemon's life, the
//! watchdog, the install socket, privilege; its agreement with the daemon
//! is written in `supervisor::contract`), the firmware [`slots`] and the
//! signed [`upgrade`] packages.
//!
//! Exposure: root. Nothing here faces the network except the DHCP client
//! on Management and the HTTPS download of an upgrade package, both
//! bounded; every file root touches in the daemon's data directory goes
//! through `breakwater-safe-fs`.

// The lower crates, at the paths the modules name them by.
pub(crate) use breakwater_logging as logging;
pub(crate) use breakwater_store::config;
pub(crate) use breakwater_store::durable;

pub mod init;
pub mod ntp;
pub mod slots;
pub mod supervisor;
pub mod upgrade;
