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

pub mod address;
pub mod codec;
pub mod config;
pub mod console;
pub mod control;
pub mod daemon;
pub mod delivery;
pub mod display;
pub mod dns;
pub mod durable;
pub mod filters;
pub mod ids;
pub mod init;
pub mod logging;
pub mod open_files;
pub mod quarantine;
pub mod queue;
pub mod salvage;
pub mod slots;
pub mod smtp_in;
pub mod supervisor;
pub mod tdc;
pub mod tls_names;
pub mod upgrade;
pub mod workqueue;

/// Writes one line to `mail_logs` (see `logging`). New lines are
/// [`logging::MailEvent`] variants written with `MailEvent::log`, so
/// `findevent` can read them back; this macro remains only for the SMTP
/// session's lines until it emits events.
#[macro_export]
macro_rules! mail_log {
    ($($arg:tt)*) => {
        ::tracing::info!(target: "mail_logs", $($arg)*)
    };
}

#[cfg(test)]
mod golden;
