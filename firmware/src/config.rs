//! The configuration and its store, at the paths the firmware has always
//! named them by (see `breakwater_store::config`).

pub use breakwater_store::config::*;
