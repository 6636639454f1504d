//! The SMTP protocol cores, sans I/O: they are handed bytes, a MID, a clock
//! and the configuration, and answer with actions (bytes to write, a body
//! chunk to spool, a message to enqueue) and `MailEvent`s to log. Drivers in
//! the mail stages (`breakwater::smtp_in::listener`,
//! `breakwater::delivery::client`) own the sockets, TLS, timers, the store
//! and the log. This crate cannot name tokio, sled or tracing
//! (docs/architecture.md, "Crates"; checked by tests/tests/crate_graph.rs),
//! so a session's `feed` can never reach a flush or a blocking call.
//!
//! - [`server`]: the SMTP server session (HELO/EHLO, MAIL, RCPT with the
//!   RAT, DATA and BDAT receivers, the streaming header scanner, limits,
//!   the reception budget, our Received: header, the replies);
//! - [`client`]: the delivery client's protocol over smtp-proto's reply
//!   and EHLO parsers, with dot-stuffing;
//! - [`routes`]: which SMTP route a recipient domain takes.
//!
//! Exposure: every byte from the internet (server) or from a remote server
//! (client) arrives here first; each parser is bounded and fuzzed
//! (`fuzz/fuzz_targets/smtp_session.rs`, `data_receiver.rs`,
//! `bdat_receiver.rs`, `delivery_reply.rs`, `delivery_client.rs`).

// The lower crates, at the paths the modules name them by.
pub(crate) use breakwater_config as config;
pub(crate) use breakwater_types::{address, display, ids};
pub(crate) mod logging {
    //! The typed `mail_logs` lines the session reports.
    pub use breakwater_types::mail_event as event;
}
pub(crate) mod queue {
    //! The message record the session hands to its driver for the queue.
    pub use breakwater_types::record::*;
}

pub mod client;
pub mod routes;
pub mod server;
