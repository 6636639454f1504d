//! The store: the only crate that names sled (docs/architecture.md,
//! "Crates"). Everything the appliance keeps across a power cut goes
//! through here: the durable flush ([`durable`]), the versioned record
//! codec ([`codec`]), the staged / committed / history configuration
//! ([`config_store`]), the message queue's records and spool ([`queue`]),
//! the ID allocator ([`ids::IdAllocator`]), the administrator accounts,
//! sessions and login history ([`users`]) and the salvage of a damaged
//! database ([`salvage`]). Protocol cores above it are handed their IDs and
//! never reach a flush.

/// The database handle the stages are given (sled's; only this crate
/// depends on sled).
pub use sled::Db;

pub mod cluster_state;
pub mod codec;
pub mod config_store;

pub mod config {
    //! The configuration as the crates above name it: the model, parsed
    //! values and validation (`breakwater-config`) together with the
    //! store that keeps its staged, committed and history copies
    //! (`crate::config_store`), at the paths the firmware has always used
    //! (`config::Config`, `config::ConfigStore`, `config::store::...`).
    pub use crate::config_store as store;
    pub use crate::config_store::{CommitRecord, ConfigStore, StoreError};
    pub use breakwater_config::*;
}
pub mod counters;
pub mod durable;
pub mod ids;
pub mod open;
pub mod queue;
pub mod salvage;
pub mod suspension;
pub mod users;
