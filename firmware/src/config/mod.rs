//! Configuration: the typed model, factory defaults, and the staged/commit
//! store in sled. The running daemon reads committed configs only; every
//! command edits the staged copy (see `store`).
//!
//! Exposure: none directly; commands reach it through the owner-only control
//! socket.

pub mod factory;
pub mod hat;
pub mod model;
pub mod policy;
pub mod rat;
pub mod relay_lint;
pub mod services;
pub mod store;
pub mod validate;
pub mod values;

pub use model::*;
pub use policy::*;
pub use services::{LogSettings, ThreatDefenseConfig};
pub use store::{CommitRecord, ConfigStore, StoreError};
pub use validate::{ConfigError, FieldError};
pub use values::{HostName, NameError, ReplyText, ReplyTextError};
