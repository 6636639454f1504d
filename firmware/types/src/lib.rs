//! The bottom of the crate graph (docs/architecture.md, "Crates"): the
//! identifiers AsyncOS administrators track mail by, mail addresses as
//! SMTP carries them, and the escaping every operator-facing text goes
//! through. Nothing here does I/O or names sled, tokio or tracing, so every
//! crate above (configuration, protocol cores, store, mail stages, control
//! plane, console, platform) can use these types.

pub mod address;
pub mod chart;
pub mod clock;
pub mod display;
pub mod ids;
pub mod mail_event;
pub mod record;
