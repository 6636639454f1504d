//! The durable queue: the single writer of new queue entries.
//!
//! # Commit protocol
//! 1. The reception session has the whole message. It writes the body to
//!    `spool/<xx>/<mid>` and `fsync`s the file (in the blocking pool, so
//!    many sessions' fsyncs overlap).
//! 2. It hands the record to the committer and waits.
//! 3. The committer takes every request that is waiting (group commit),
//!    `fsync`s the spool directories those bodies were created in, inserts
//!    the records into sled and calls one `flush` for the whole batch.
//! 4. Only then does each session get its answer and send `250`.
//!
//! A crash before step 3 completes leaves at most a body without a record;
//! recovery deletes such orphans (their client never got a 250). A crash
//! after it leaves a complete message, which recovery hands to the work
//! queue again.
//!
//! Removing a delivered message removes the record at once but unlinks the
//! body only after a later flush has made the removal durable, so a crash can
//! cause a duplicate delivery but never a record without its body.

pub mod committer;
// Records and spool live in the store crate (the only one naming sled).
pub use breakwater_store::queue::{record, store};

pub use committer::{QueueHandle, start};
pub use record::{MessageRecord, Reception, Recipient, RecipientStatus};
pub use store::{QueueError, QueueStore, SledSpoolStore};
