//! The durable queue: the single writer of new queue entries.
//!
//! # Commit protocol
//! Storage: records in sled (tree `messages`), bodies appended to segment
//! files `spool/segments/<16 hex>.seg`, each body's location (extents,
//! length, CRC-32) in sled (tree `bodies`). See
//! docs/decisions/0021-segment-spool.md.
//! 1. While the message arrives, the reception session appends its body in
//!    64 KiB chunks to the active segment (`pwrite`, no fsync); the store
//!    keeps the body's extents in memory. A new transaction on the same MID
//!    (`first`) drops them.
//! 2. At the end of data it appends the last bytes and hands the record to
//!    the committer, and waits.
//! 3. The committer takes every request that is waiting (group commit). It
//!    `fdatasync`s each segment the batch's bodies were written to, once,
//!    and the segments directory when a segment was created since its last
//!    fsync; then it inserts the bodies' locations and the records into
//!    sled and makes them durable with one flush (`durable::flush`: sled's
//!    flush, then an fsync of its files).
//! 4. Only then does each session get its answer and send `250`.
//!
//! A crash before step 3 completes leaves at most bytes in a segment that
//! no location names (and maybe a location without a record, which the
//! store deletes at open): that message's client never got a 250, and its
//! bytes go when their segment does. A crash after it leaves a complete
//! message, which recovery hands to the work queue again; reading it checks
//! the extents against the segment files and the CRC, so damage is an error
//! for that message, never a garbled body delivered.
//!
//! Removing a delivered message removes its record and location at once,
//! but frees its bytes (`remove_body`) only after a later flush has made the
//! removal durable; a segment that no longer takes bodies is deleted when
//! the last message in it is freed. So a crash can cause a duplicate
//! delivery but never a location whose bytes are gone.
//!
//! A message filter's rewrite (`replace_body`) appends the new body,
//! `fdatasync`s it, replaces the location and flushes before the old bytes
//! are freed: a crash leaves the old body or the new one, never a mix.
//!
//! Bodies an older firmware spooled one per file (`spool/<xx>/<mid>`, no
//! location) are read from there and unlinked when retired, so a queue
//! survives the upgrade.

pub mod committer;
// Records and spool live in the store crate (the only one naming sled).
pub use breakwater_store::queue::{location, record, store};

pub use breakwater_store::queue::segments::SegmentStore;
pub use committer::{QueueHandle, start};
pub use record::{MessageRecord, Reception, Recipient, RecipientStatus};
pub use store::{QueueError, QueueStore, SledSpoolStore};
