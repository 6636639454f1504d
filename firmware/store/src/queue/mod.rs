//! The message queue on disk: a record per message in sled and its body in
//! the spool. The commit protocol that writes them (group commit, the
//! order of `fsync`s) is the committer's, in the mail stages
//! (`breakwater::queue`); this is the storage it drives.

/// The record is a domain type (the SMTP session builds it without naming
/// the store): it lives in `breakwater-types`.
pub use breakwater_types::record;
pub mod store;
