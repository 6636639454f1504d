//! Local quarantines, as the administrator reaches them: `quarantine list`,
//! `show`, `release`, `delete`.
//!
//! Held messages stay in the queue with a hold on their record (see
//! `workqueue::processing`); the work queue owns them, so these commands run
//! inside its task, reached like the other operator commands
//! (`workqueue::operator`).
//!
//! Exposure: reached only through the owner-only control socket.

pub use breakwater_control_proto::usage::QUARANTINE as USAGE;
