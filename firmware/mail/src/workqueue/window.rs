//! The work queue's bounded window over the queue on disk (issue 19).
//!
//! The queue on disk may hold far more messages than the work queue should
//! keep in memory (100,000 after a long outage). The work queue holds at
//! most [`Window::limit`] of them, the window (Postfix's qmgr keeps an
//! "active" queue the same way); the others stay on disk, where the
//! committer made them durable, and are paged in in MID order as the
//! window drains. Quarantined messages are held apart and do not count:
//! their quarantines' sizes bound them.
//!
//! # Why nothing is lost or delivered twice
//! MIDs are allocated when a message starts and committed when it ends,
//! so commits come out of MID order. Everything below runs in the work
//! queue's one task, as does every removal of a record (retiring), so a
//! page read from the store and the window's state never disagree.
//! - `owned` holds every MID the work queue took in (routing, delivery,
//!   processing under way in a task, quarantine) until it is retired. A
//!   record is taken in only when it is not owned: from the committer
//!   (`committed`) or from a page (`page`), whichever comes first; the
//!   other sees it owned and skips it. So nothing is taken in twice.
//! - `cursor` is the highest MID a page has looked at. While `backlog` is
//!   set, every committed record that is neither owned nor retired has a
//!   MID above the cursor. A committed record that does not fit stays on
//!   disk and sets `backlog`; if its MID is at or below the cursor (it
//!   committed after a page passed its MID), the cursor moves back below
//!   it, so the next page finds it. Owned records met again are skipped.
//! - A page that comes back short has seen every record on disk:
//!   `backlog` is cleared, and from then on every committed record is
//!   taken in, or sets `backlog` again.
//!
//! # Restart
//! At start every record on disk is backlog. The listeners do not wait:
//! the committer only counts the queue, and the spool files a crash left
//! without a record (never acknowledged) are removed in the background
//! ([`remove_orphans`]). Paging waits for that scan (`ready`), so a record
//! retired meanwhile cannot have its body taken for an orphan. Files of
//! messages being received now have MIDs from this run, which the scan
//! leaves alone.

use std::collections::HashSet;
use std::sync::Arc;

use crate::ids::Mid;
use crate::queue::{MessageRecord, QueueError, QueueStore};

/// Records read from the store per page: the work queue's task stops for
/// one page at a time (a few milliseconds), then serves commands and
/// delivery reports again.
pub const PAGE: usize = 256;

/// Where a paged-in record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// On disk when the daemon started: recovered (its processing and
    /// Threat Defense copy are done if it was processed).
    Recovered,
    /// Committed in this run and left on disk because the window was full.
    New,
}

pub struct Window {
    limit: usize,
    store: Arc<dyn QueueStore>,
    owned: HashSet<Mid>,
    cursor: Option<Mid>,
    backlog: bool,
    /// The orphan scan is done: paging may start.
    ready: bool,
    /// The first MID allocated in this run; `None`: unknown (every paged
    /// record is treated as recovered).
    first_new: Mid,
    /// `delivernow` (or `redirectrecipients`) given while records wait on
    /// disk: the recipients it names are due at once when paged in, until
    /// the pager has caught up.
    rush: Vec<String>,
}

impl Window {
    pub fn new(limit: usize, store: Arc<dyn QueueStore>, first_new: Mid) -> Self {
        Window {
            limit: limit.max(1),
            store,
            owned: HashSet::new(),
            cursor: None,
            backlog: true,
            ready: false,
            first_new,
            rush: Vec::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Messages counted against the limit (`held`: the quarantined ones).
    pub fn in_use(&self, held: usize) -> usize {
        self.owned.len().saturating_sub(held)
    }

    fn room(&self, held: usize) -> usize {
        self.limit.saturating_sub(self.in_use(held))
    }

    pub fn owns(&self, mid: Mid) -> bool {
        self.owned.contains(&mid)
    }

    /// Whether records may be waiting on disk outside the window.
    pub fn backlog(&self) -> bool {
        self.backlog
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The orphan scan has finished: paging starts.
    pub fn set_ready(&mut self) {
        self.ready = true;
    }

    /// Whether a page should be read now: there are records on disk and
    /// at least `want` free places (a page at a time rather than a read
    /// per finished message).
    pub fn wants_page(&self, held: usize, want: usize) -> bool {
        self.ready && self.backlog && self.room(held) >= want.clamp(1, self.limit)
    }

    /// The free places worth a page while mail flows: an eighth of the
    /// window, at most a page.
    pub fn page_threshold(&self) -> usize {
        (self.limit / 8).clamp(1, PAGE)
    }

    /// A record the committer made durable. `true`: take it in now (it
    /// is owned from here on). `false`: it is owned already, or it stays
    /// on disk for a later page.
    pub fn committed(&mut self, mid: Mid, held: usize) -> bool {
        if self.owned.contains(&mid) {
            return false;
        }
        if self.room(held) > 0 {
            self.owned.insert(mid);
            return true;
        }
        self.backlog = true;
        if self.cursor.is_some_and(|c| mid <= c) {
            // Committed after a page passed its MID: look again from below it.
            self.cursor = mid.0.checked_sub(1).map(Mid);
        }
        false
    }

    /// The next records to take in, oldest MID first, as many as there is
    /// room for (at most a page); each is owned from here on.
    pub fn page(&mut self, held: usize) -> Result<Vec<(MessageRecord, Origin)>, QueueError> {
        if !self.ready || !self.backlog {
            return Ok(Vec::new());
        }
        let mut room = self.room(held);
        if room == 0 {
            return Ok(Vec::new());
        }
        let records = self.store.scan_page(self.cursor, PAGE)?;
        let complete = records.len() < PAGE;
        let mut taken = Vec::new();
        let mut stopped = false;
        for record in records {
            let owned = self.owned.contains(&record.mid);
            if room == 0 && !owned {
                stopped = true;
                break;
            }
            self.cursor = Some(record.mid);
            if !owned {
                self.owned.insert(record.mid);
                room -= 1;
                let origin = self.origin(record.mid);
                taken.push((record, origin));
            }
        }
        if complete && !stopped {
            self.backlog = false;
            self.rush.clear();
        }
        Ok(taken)
    }

    /// A message the work queue is done with (retired).
    pub fn release(&mut self, mid: Mid) {
        self.owned.remove(&mid);
    }

    /// Takes in one record by operator command (`delivernow MID`), even
    /// when the window is full: the operator asked for that message.
    pub fn adopt(&mut self, mid: Mid) -> bool {
        self.owned.insert(mid)
    }

    /// The origin of a record taken in by [`Self::adopt`].
    pub fn origin(&self, mid: Mid) -> Origin {
        if mid >= self.first_new {
            Origin::New
        } else {
            Origin::Recovered
        }
    }

    /// One record on disk by MID (owned or not).
    pub fn load(&self, mid: Mid) -> Result<Option<MessageRecord>, QueueError> {
        let after = mid.0.checked_sub(1).map(Mid);
        Ok(self
            .store
            .scan_page(after, 1)?
            .into_iter()
            .find(|r| r.mid == mid))
    }

    /// Remembers a `delivernow` target for records still on disk.
    pub fn rush(&mut self, which: &str) {
        if self.backlog && !self.rush.iter().any(|w| w.eq_ignore_ascii_case(which)) {
            self.rush.push(which.to_string());
        }
    }

    /// The `delivernow` targets a paged-in record's recipients are
    /// matched against.
    pub fn rushed(&self) -> &[String] {
        &self.rush
    }
}

/// Removes the spool files a crash left without a record (their client
/// never got a 250). Only MIDs below `first_new` are considered: a file of
/// this run may belong to a message being received right now. Runs in the
/// blocking pool while the daemon already takes mail.
pub fn remove_orphans(store: &dyn QueueStore, first_new: Mid) -> Result<usize, QueueError> {
    let mut removed = 0;
    for orphan in store.orphan_bodies()? {
        if orphan >= first_new {
            continue;
        }
        tracing::info!("queue recovery: removing unacknowledged spool file of MID {orphan}");
        store.remove_body(orphan)?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
