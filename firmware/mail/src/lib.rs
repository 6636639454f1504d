//! The mail stages, joined by explicit channels (docs/architecture.md,
//! "The mail path"): reception ([`smtp_in`]: listeners, the HAT, per-IP
//! limits, driving the sans-I/O session of `breakwater-smtp` over sockets
//! and TLS), the queue's single writer ([`queue`]: group commit), the work
//! queue ([`workqueue`]: filters, mail policies, Threat Defense copies
//! ([`tdc`]), quarantines ([`quarantine`]), routing, retries, bounces,
//! operator commands), delivery ([`delivery`]: destination controls, MX,
//! DANE, client TLS), and the resolver ([`dns`]).
//!
//! Nothing here names sled: the queue's records, the spool, the ID
//! allocator and the counters are `breakwater-store`'s. The control plane
//! reaches the running stages only through the daemon's `DaemonStatus`
//! answers (operator commands run inside the work queue's task).
//!
//! Exposure: the internet on Data 1, Microsoft 365 on Data 2, remote
//! servers on delivery; every limit is a named setting (docs/cli.md).

// The lower crates, at the paths the stages name them by.
pub(crate) use breakwater_config as config;
pub(crate) use breakwater_filters as filters;
pub(crate) use breakwater_logging as logging;
pub(crate) use breakwater_store::ids;
pub(crate) use breakwater_types::display;

pub mod alerts;
pub mod delivery;
pub mod dns;
pub mod metrics;
pub mod open_files;
pub mod quarantine;
pub mod queue;
pub mod reports;
pub mod scan;
pub mod smtp_in;
pub mod tdc;
pub mod tls_names;
pub mod tls_policy;
pub mod workqueue;
