//! The message queue on disk: a record per message in sled and its body in
//! the spool. The commit protocol that writes them (group commit, the
//! order of `fsync`s) is the committer's, in the mail stages
//! (`breakwater::queue`); this is the storage it drives.
//!
//! - [`records`]: the `messages` tree every store shares;
//! - [`segments`]: the firmware's store, bodies appended to segment files
//!   (decision 0021), their [`location`]s in sled beside the records;
//! - [`store`]: the trait, and the one-file-per-body store it replaced,
//!   whose spool ([`legacy`]) the segment store still reads after an
//!   upgrade.

/// The record is a domain type (the SMTP session builds it without naming
/// the store): it lives in `breakwater-types`.
pub use breakwater_types::record;
pub mod legacy;
pub mod location;
pub mod records;
pub mod segments;
pub mod store;
