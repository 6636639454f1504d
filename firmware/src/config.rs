//! The configuration: the typed model, its parsing and validation and the
//! factory defaults live in `breakwater-config`; the store that keeps the
//! staged, committed and history copies in sled lives in
//! `breakwater-store`. Both are re-exported here at the paths the firmware
//! has always named them by (`crate::config::Config`,
//! `crate::config::ConfigStore`, `crate::config::store::...`).

pub use breakwater_config::*;
pub use breakwater_store::config_store as store;
pub use breakwater_store::config_store::{CommitRecord, ConfigStore, StoreError};
