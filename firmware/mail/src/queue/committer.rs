//! The committer task (see the protocol in the module above).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::record::MessageRecord;
use super::store::{QueueError, QueueStore};
use crate::config::QueueSettings;
use crate::ids::Mid;
use crate::logging::WriteMailLog as _;

/// Requests the committer takes in one batch at most.
const MAX_BATCH: usize = 1024;

/// How often the store may compact (move the few live bodies out of a
/// mostly dead segment, decision 0021). Rare enough that its copying and
/// flush cost nothing measurable; often enough that a pinned segment's
/// space is back within minutes.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(60);

struct Commit {
    record: MessageRecord,
    reply: oneshot::Sender<Result<(), QueueError>>,
    /// A message a listener received: the committer logs `MID n queued for
    /// delivery` once it is durable and before the work queue can see it,
    /// so the line always precedes that message's `Delivery start`.
    received: bool,
}

/// The handle the stages use to reach the queue.
#[derive(Clone)]
pub struct QueueHandle {
    store: Arc<dyn QueueStore>,
    tx: mpsc::Sender<Commit>,
    unlink: Arc<Mutex<Vec<Mid>>>,
    messages: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    /// Of those, held in quarantines (set by the work queue, which owns
    /// them): counted apart from the delivery queue.
    held_messages: Arc<AtomicU64>,
    held_bytes: Arc<AtomicU64>,
    settings: Arc<Mutex<QueueSettings>>,
}

impl QueueHandle {
    /// Makes a message durable; returns once it is safe to answer 250.
    pub async fn enqueue(&self, record: MessageRecord, body: Vec<u8>) -> Result<(), QueueError> {
        self.submit(record, body).await
    }

    async fn submit(&self, record: MessageRecord, body: Vec<u8>) -> Result<(), QueueError> {
        let size = body.len() as u64;
        self.check_room(size)?;
        let store = self.store.clone();
        let mid = record.mid;
        tokio::task::spawn_blocking(move || store.write_body(mid, &body))
            .await
            .map_err(|_| QueueError::Stopped)??;
        self.commit(record, size, false).await
    }

    /// Appends message data a listener is receiving to the spool (`first`
    /// starts the body anew). Not durable until `enqueue_spooled`.
    pub async fn spool(&self, mid: Mid, bytes: Vec<u8>, first: bool) -> Result<(), QueueError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.append_body(mid, &bytes, first))
            .await
            .map_err(|_| QueueError::Stopped)?
    }

    /// Makes a message whose data was streamed with `spool` durable:
    /// appends `tail` and commits the record (its `body_size` is the whole
    /// body) in the group commit, which syncs the body. Returns once it is
    /// safe to answer 250; on an error the body is freed.
    pub async fn enqueue_spooled(
        &self,
        record: MessageRecord,
        tail: Vec<u8>,
        first: bool,
    ) -> Result<(), QueueError> {
        let mid = record.mid;
        let size = record.body_size;
        if let Err(e) = self.check_room(size) {
            self.discard_spooled(mid).await;
            return Err(e);
        }
        let store = self.store.clone();
        let written = tokio::task::spawn_blocking(move || store.finish_body(mid, &tail, first))
            .await
            .map_err(|_| QueueError::Stopped)
            .and_then(|r| r);
        if let Err(e) = written {
            self.discard_spooled(mid).await;
            return Err(e);
        }
        self.commit(record, size, true).await
    }

    /// Frees the spooled body of a message that was not accepted.
    pub async fn discard_spooled(&self, mid: Mid) {
        let store = self.store.clone();
        let removed = tokio::task::spawn_blocking(move || store.remove_body(mid)).await;
        if let Ok(Err(e)) = removed {
            tracing::warn!("cannot remove the spool file of refused MID {mid}: {e}");
        }
    }

    /// Refuses a message of `size` bytes when the queue is at its limits.
    fn check_room(&self, size: u64) -> Result<(), QueueError> {
        let limits = *self.settings.lock().unwrap_or_else(|e| e.into_inner());
        if self.messages.load(Ordering::Relaxed) >= limits.max_messages {
            return Err(QueueError::Full(format!(
                "{} messages",
                limits.max_messages
            )));
        }
        // The spool's dead bytes (segments pinned by a live message) take
        // flash too: the limit counts them, so it protects the disk.
        let used = self.bytes.load(Ordering::Relaxed) + self.store.slack_bytes();
        if used + size > limits.max_spool_bytes {
            return Err(QueueError::Full(format!(
                "{} bytes",
                limits.max_spool_bytes
            )));
        }
        Ok(())
    }

    /// Commits the record of a message whose body is written and synced.
    async fn commit(
        &self,
        record: MessageRecord,
        size: u64,
        received: bool,
    ) -> Result<(), QueueError> {
        let mid = record.mid;
        // Count the message before the committer can hand it on: delivery
        // may retire it before this task hears back, and retiring an
        // uncounted message would wrap the counters.
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let commit = Commit {
            record,
            reply,
            received,
        };
        let result = match self.tx.send(commit).await {
            Ok(()) => answer.await.unwrap_or(Err(QueueError::Stopped)),
            Err(_) => {
                let _ = self.store.remove_body(mid);
                Err(QueueError::Stopped)
            }
        };
        if result.is_err() {
            self.messages.fetch_sub(1, Ordering::Relaxed);
            self.bytes.fetch_sub(size, Ordering::Relaxed);
        }
        result
    }

    /// Records a changed record (retry schedule, delivered recipients).
    /// Durable with the next flush; losing it only repeats an attempt.
    pub fn update(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.store.put(record)
    }

    /// Removes a finished message; its body goes after the next flush.
    pub fn retire(&self, record: &MessageRecord) -> Result<(), QueueError> {
        self.store.remove(record.mid)?;
        self.unlink
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.mid);
        self.messages.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(record.body_size, Ordering::Relaxed);
        Ok(())
    }

    /// Replaces the body of a committed message (a message filter rewrote
    /// it) and updates the spool byte count; `record.body_size` is the old
    /// size and is set to the new one.
    pub fn replace_body(&self, record: &mut MessageRecord, body: &[u8]) -> Result<(), QueueError> {
        self.store.replace_body(record.mid, body)?;
        let new = body.len() as u64;
        if new >= record.body_size {
            self.bytes
                .fetch_add(new - record.body_size, Ordering::Relaxed);
        } else {
            self.bytes
                .fetch_sub(record.body_size - new, Ordering::Relaxed);
        }
        record.body_size = new;
        Ok(())
    }

    pub fn read_body(&self, mid: Mid) -> Result<Vec<u8>, QueueError> {
        self.store.read_body(mid)
    }

    pub fn set_settings(&self, settings: QueueSettings) {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Messages and spooled bytes in the delivery queue now: quarantined
    /// messages are on disk too but are not waiting for delivery (see
    /// [`Self::held_counts`]). The queue's own limits count both: they
    /// protect the disk.
    pub fn counts(&self) -> (u64, u64) {
        let (held_messages, held_bytes) = self.held_counts();
        (
            self.messages
                .load(Ordering::Relaxed)
                .saturating_sub(held_messages),
            self.bytes
                .load(Ordering::Relaxed)
                .saturating_sub(held_bytes),
        )
    }

    /// Messages and spooled bytes held in quarantines now.
    pub fn held_counts(&self) -> (u64, u64) {
        (
            self.held_messages.load(Ordering::Relaxed),
            self.held_bytes.load(Ordering::Relaxed),
        )
    }

    /// The work queue's count of its quarantined messages.
    pub fn set_held(&self, messages: u64, bytes: u64) {
        self.held_messages.store(messages, Ordering::Relaxed);
        self.held_bytes.store(bytes, Ordering::Relaxed);
    }
}

/// Records counted per read at start (bounded memory, whatever the queue).
const COUNT_PAGE: usize = 4096;

/// Counts the queue on disk and starts the committer. Returns the handle;
/// the records stay on disk, where the work queue pages them in (a bounded
/// window, `workqueue::window`), and it also removes the spool files a
/// crash left without a record, in the background, so neither delays the
/// listeners. Committed new messages are sent on `committed`.
pub fn start(
    store: Arc<dyn QueueStore>,
    settings: QueueSettings,
    committed: mpsc::UnboundedSender<MessageRecord>,
) -> Result<QueueHandle, QueueError> {
    // The counts are the queue limits' and `status`'s, right from the
    // first message; a page at a time, never every record at once.
    let (mut messages, mut bytes, mut after) = (0u64, 0u64, None);
    loop {
        let page = store.scan_page(after, COUNT_PAGE)?;
        messages += page.len() as u64;
        bytes += page.iter().map(|r| r.body_size).sum::<u64>();
        match page.last() {
            Some(last) if page.len() == COUNT_PAGE => after = Some(last.mid),
            _ => break,
        }
    }
    let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
    let handle = QueueHandle {
        store: store.clone(),
        tx,
        unlink: Arc::new(Mutex::new(Vec::new())),
        messages: Arc::new(AtomicU64::new(messages)),
        bytes: Arc::new(AtomicU64::new(bytes)),
        held_messages: Arc::new(AtomicU64::new(0)),
        held_bytes: Arc::new(AtomicU64::new(0)),
        settings: Arc::new(Mutex::new(settings)),
    };
    tokio::spawn(run(store, rx, handle.unlink.clone(), committed));
    Ok(handle)
}

async fn run(
    store: Arc<dyn QueueStore>,
    mut rx: mpsc::Receiver<Commit>,
    unlink: Arc<Mutex<Vec<Mid>>>,
    committed: mpsc::UnboundedSender<MessageRecord>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut compaction: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_compaction = std::time::Instant::now();
    loop {
        // Off the commit path: a blocking task, at most one at a time.
        if last_compaction.elapsed() >= COMPACTION_INTERVAL
            && compaction.as_ref().is_none_or(|c| c.is_finished())
        {
            last_compaction = std::time::Instant::now();
            let s = store.clone();
            compaction = Some(tokio::task::spawn_blocking(move || match s.compact() {
                Ok(0) => {}
                Ok(freed) => tracing::info!("queue: compaction freed {freed} bytes of spool"),
                Err(e) => tracing::warn!("queue: compaction failed: {e}"),
            }));
        }
        let mut batch = Vec::new();
        tokio::select! {
            first = rx.recv() => match first {
                Some(c) => batch.push(c),
                None => return,
            },
            _ = tick.tick() => {}
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        // Bodies whose removal this flush will make durable.
        let doomed = std::mem::take(&mut *unlink.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() && doomed.is_empty() {
            continue;
        }
        let records: Vec<MessageRecord> = batch.iter().map(|c| c.record.clone()).collect();
        if !records.is_empty() {
            crate::metrics::COMMIT_BATCH.observe(records.len() as f64);
        }
        let started = std::time::Instant::now();
        let s = store.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<(), QueueError> {
            let mids: Vec<Mid> = records.iter().map(|r| r.mid).collect();
            if !mids.is_empty() {
                s.sync_bodies(&mids)?;
            }
            for r in &records {
                s.put(r)?;
            }
            s.flush()?;
            for mid in doomed {
                s.remove_body(mid)?;
            }
            Ok(())
        })
        .await
        .unwrap_or(Err(QueueError::Stopped));
        crate::metrics::observe(&crate::metrics::COMMIT_SECONDS, started.elapsed());
        match result {
            Ok(()) => {
                for c in batch {
                    if c.received {
                        crate::logging::MailEvent::Queued { mid: c.record.mid }.log();
                    }
                    let _ = committed.send(c.record);
                    let _ = c.reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!("queue commit failed: {e}");
                for c in batch {
                    let _ = store.remove(c.record.mid);
                    let _ = store.remove_body(c.record.mid);
                    let _ = c
                        .reply
                        .send(Err(QueueError::Io(std::io::Error::other(e.to_string()))));
                }
            }
        }
    }
}
