//! Breakwater: the userland of an email security gateway appliance.
//!
//! Mail flows one way through stages with one job each, joined by explicit
//! channels (see docs/architecture.md):
//!
//! ```text
//! smtp_in (listener, HAT, RAT, session) ──► queue::committer (single writer,
//! group commit) ──► workqueue (routing, retry schedule) ──► delivery
//! (per-destination queues, SMTP client) ──► next hop
//! ```
//!
//! `config` holds the staged/committed configuration, `control` the local
//! control socket and CLI commands, `logging` the AsyncOS-shaped logs.

// The lower crates, re-exported at the paths the firmware names them by
// (docs/architecture.md, "Crates").
pub use breakwater_console as console;
pub use breakwater_control as control;
pub use breakwater_filters as filters;
pub use breakwater_logging as logging;
pub use breakwater_mail::{
    alerts, delivery, dns, open_files, quarantine, queue, scan, smtp_in, tdc, tls_names, workqueue,
};
pub use breakwater_platform::{init, ntp, slots, supervisor, upgrade};
pub use breakwater_store::{codec, durable, ids, salvage};
pub use breakwater_types::{address, clock, display};

pub mod config;
pub mod daemon;
pub mod metrics;
pub mod timesync;
