//! `queue-bench`: where should the durable mail queue keep message bodies?
//!
//! Strategies, same durable protocol, same churn:
//! - `sled`: envelope record and body both in sled (two trees, one `Db`);
//! - `spool`: sled holds only the envelope records (the index); each body is
//!   one file `spool/<2 hex bucket>/<16 hex id>` (decision 0001's model);
//! - `files`: the firmware's one-file-per-body store itself
//!   (`SledSpoolStore`) driven through the `QueueStore` trait the way the
//!   committer drives it, with its durable flush (sled's files fsynced);
//! - `segments`: the firmware's segment spool (`SegmentStore`, decision
//!   0021) driven the same way: bodies appended to segment files, one
//!   `fdatasync` per segment per batch, locations in sled.
//!
//! `both` runs `sled` and `spool` (decision 0001); `firmware` runs `files`
//! and `segments` (decision 0021).
//!
//! Enqueue is group commit. Each of `-c` session threads prepares a message
//! (postcard envelope, random body), hands it to the single committer and
//! blocks until it is durable: the moment a real session would answer `250`.
//! For `spool` the session first writes the body file and `sync_data`s it;
//! the committer then fsyncs each bucket directory the batch touched (once per
//! batch) so the new names are durable too. The committer inserts the batch
//! (index records, plus bodies for `sled`) and makes all of it durable with
//! one `Db::flush`, which covers every earlier write in the whole `Db`.
//!
//! A consumer "delivers" (deletes) the oldest message whenever more than `-w`
//! are queued; sessions wait while the backlog is over `-w`. Deletes are not
//! fsynced: after a crash a delivered message may go out again
//! (at-least-once), and recovery sweeps spool files without an index record.
//! For `files` and `segments` a delete is what the daemon's retire is: the
//! record (and location) goes at once, the body after the committer's next
//! flush. At the end everything is drained and the data directory is
//! measured with the `Db` open, closed, and after a reopen.
//!
//! Exposure: host-side tool, never shipped; writes only under `--dir`.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, ScopedJoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::{Parser, ValueEnum};
use rand::Rng;
use serde::Serialize;

use breakwater::ids::{Icid, Mid, Rid};
use breakwater::queue::{
    MessageRecord, QueueStore, Reception, Recipient, RecipientStatus, SegmentStore, SledSpoolStore,
};
use breakwater_tools::{DiskUse, mib, written};

/// Durable mail-queue storage benchmark: bodies in sled vs. spool files.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Messages to enqueue and then delete.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    messages: u64,
    /// Body size in bytes.
    #[arg(short = 'l', long, default_value_t = 10_240)]
    body_len: usize,
    /// Concurrent SMTP sessions enqueueing.
    #[arg(short = 'c', long, default_value_t = 50)]
    sessions: u64,
    /// Backlog the consumer leaves in the queue (messages).
    #[arg(short = 'w', long, default_value_t = 1000)]
    window: usize,
    #[arg(long, value_enum, default_value_t = Which::Both)]
    strategy: Which,
    /// Parent of the fresh per-run data directory. Use a real disk, not
    /// tmpfs, or fsync costs nothing.
    #[arg(long, default_value = "/var/tmp")]
    dir: PathBuf,
    /// A slow disk, injected (`files` and `segments`): every fsync the
    /// store's protocol makes costs this many milliseconds more (the
    /// committer's body sync and durable flush per batch; with `files`
    /// also each body's own `fdatasync` in its session). Shows whether
    /// throughput degrades through larger group commits or per-message
    /// waits.
    #[arg(long, default_value_t = 0)]
    fsync_delay_ms: u64,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Which {
    Sled,
    Spool,
    Files,
    Segments,
    /// `sled` and `spool`.
    Both,
    /// `files` and `segments`.
    Firmware,
}

/// How a run stores bodies.
#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    Sled,
    Spool,
    Files,
    Segments,
}

/// The queue's index record, shaped like the real envelope so its postcard
/// encoding lands in the same 200-500 byte range.
#[derive(Serialize)]
struct Envelope<'a> {
    version: u8,
    id: u64,
    received_at: u64,
    mail_from: &'a str,
    rcpt_to: &'a [String],
    body_len: u32,
    /// Peer, HELO, listener, policy verdicts: what the real record carries.
    trace: &'a str,
}

/// One session's message waiting for the committer.
struct Pending {
    id: u64,
    envelope: Vec<u8>,
    /// `Some` for the `sled` strategy; `spool` bodies are already on disk.
    body: Option<Vec<u8>>,
    durable: mpsc::SyncSender<()>,
}

enum Store {
    /// The models of decision 0001.
    Model(ModelStore),
    /// The firmware's own store, driven as the committer drives it.
    Firmware(FirmwareStore),
}

struct ModelStore {
    db: sled::Db,
    index: sled::Tree,
    bodies: sled::Tree,
    /// `Some` for the `spool` strategy.
    spool: Option<PathBuf>,
}

struct FirmwareStore {
    store: Arc<dyn QueueStore>,
    /// `--fsync-delay-ms`: added to every fsync of the protocol.
    fsync_delay: Duration,
    /// The store syncs each body in its session (`files`), not per batch.
    body_sync: bool,
    /// Retired messages whose bodies go after the next flush.
    doomed: Mutex<Vec<Mid>>,
}

impl Store {
    fn open(root: &Path, strategy: Strategy, fsync_delay: Duration) -> Result<Self> {
        let firmware = |segments: bool| -> Result<Self> {
            let db = breakwater::durable::open(sled::Config::new(), &root.join("index"))?;
            let store: Arc<dyn QueueStore> = if segments {
                Arc::new(SegmentStore::open(&db, root)?)
            } else {
                Arc::new(SledSpoolStore::open(&db, root)?)
            };
            Ok(Store::Firmware(FirmwareStore {
                store,
                fsync_delay,
                body_sync: !segments,
                doomed: Mutex::new(Vec::new()),
            }))
        };
        match strategy {
            Strategy::Sled => Ok(Store::Model(ModelStore::open(root, false)?)),
            Strategy::Spool => Ok(Store::Model(ModelStore::open(root, true)?)),
            Strategy::Files => firmware(false),
            Strategy::Segments => firmware(true),
        }
    }

    fn prepare(&self, id: u64, body: &[u8]) -> Result<Option<Vec<u8>>> {
        match self {
            Store::Model(m) => m.prepare(id, body),
            Store::Firmware(f) => {
                // Reception's last (here: only) chunk at the end of data.
                f.store.finish_body(Mid(id), body, true)?;
                if f.body_sync {
                    thread::sleep(f.fsync_delay);
                }
                Ok(None)
            }
        }
    }

    fn commit(&self, batch: &[Pending], body_len: usize) -> Result<()> {
        match self {
            Store::Model(m) => m.commit(batch),
            Store::Firmware(f) => f.commit(batch, body_len),
        }
    }

    fn delete(&self, id: u64) -> Result<()> {
        match self {
            Store::Model(m) => m.delete(id),
            Store::Firmware(f) => {
                f.store.remove(Mid(id))?;
                f.doomed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Mid(id));
                Ok(())
            }
        }
    }

    /// After the drain: everything deleted is durable and freed.
    fn finish(&self) -> Result<()> {
        match self {
            Store::Model(m) => drop(m.db.flush()?),
            Store::Firmware(f) => f.commit(&[], 0)?,
        }
        Ok(())
    }
}

impl FirmwareStore {
    /// The committer's batch: sync the bodies, put the records, one durable
    /// flush, then free the bodies retired before it.
    fn commit(&self, batch: &[Pending], body_len: usize) -> Result<()> {
        let doomed =
            std::mem::take(&mut *self.doomed.lock().unwrap_or_else(PoisonError::into_inner));
        let mids: Vec<Mid> = batch.iter().map(|p| Mid(p.id)).collect();
        if !mids.is_empty() {
            self.store.sync_bodies(&mids)?;
            thread::sleep(self.fsync_delay);
        }
        for p in batch {
            self.store.put(&record(p.id, body_len))?;
        }
        self.store.flush()?;
        thread::sleep(self.fsync_delay);
        for mid in doomed {
            self.store.remove_body(mid)?;
        }
        Ok(())
    }
}

/// A record shaped like reception's: three recipients, a verified client.
fn record(id: u64, body_len: usize) -> MessageRecord {
    let recipient = |i: u32| Recipient {
        rid: Rid(i),
        address: format!("user{i}@example.net"),
        status: RecipientStatus::Pending,
        attempts: 0,
        next_attempt: 0,
        last_response: None,
    };
    MessageRecord {
        mid: Mid(id),
        received_at: 1_795_000_000 + id as i64,
        reception: Reception {
            icid: Icid(1_234_567),
            listener: "IncomingMail".into(),
            interface: "Data 1".into(),
            sender_group: "ACCEPTLIST".into(),
            policy: "ACCEPTED".into(),
            client_ip: std::net::IpAddr::from([203, 0, 113, 45]),
            rdns: Some("mail-out-07.sender.example.com".into()),
            rdns_verified: true,
            helo: "mail-out-07.sender.example.com".into(),
            tls: None,
        },
        mail_from: "newsletter-bounces+abc123@sender.example.com".into(),
        recipients: (0..3).map(recipient).collect(),
        body_size: body_len as u64,
        message_id: Some(format!("<{id}@sender.example.com>")),
        subject: Some("Weekly newsletter".into()),
        processing: Default::default(),
    }
}

impl ModelStore {
    fn open(root: &Path, spool: bool) -> Result<Self> {
        let db = sled::open(root.join("index")).context("opening sled")?;
        let spool = spool.then(|| root.join("spool"));
        if let Some(spool) = &spool {
            // Buckets exist before the first message, as after queue creation.
            for bucket in 0..=255u8 {
                fs::create_dir_all(spool.join(format!("{bucket:02x}")))?;
            }
            File::open(spool)?.sync_all()?;
            File::open(root)?.sync_all()?;
        }
        let (index, bodies) = (db.open_tree("index")?, db.open_tree("bodies")?);
        Ok(ModelStore {
            db,
            index,
            bodies,
            spool,
        })
    }

    fn bucket(spool: &Path, id: u64) -> PathBuf {
        spool.join(format!("{:02x}", id & 0xff))
    }

    fn body_path(spool: &Path, id: u64) -> PathBuf {
        Self::bucket(spool, id).join(format!("{id:016x}"))
    }

    /// Session side. For `spool` the body reaches stable storage before the
    /// session asks for a commit, so no index record can point at a body
    /// that a crash lost. For `sled` the body rides in the batch.
    fn prepare(&self, id: u64, body: &[u8]) -> Result<Option<Vec<u8>>> {
        let Some(spool) = &self.spool else {
            return Ok(Some(body.to_vec()));
        };
        let mut file = File::create_new(Self::body_path(spool, id))?;
        file.write_all(body)?;
        file.sync_data()?;
        Ok(None)
    }

    /// Committer side: make a whole batch durable.
    fn commit(&self, batch: &[Pending]) -> Result<()> {
        if let Some(spool) = &self.spool {
            let buckets: BTreeSet<u64> = batch.iter().map(|p| p.id & 0xff).collect();
            for bucket in buckets {
                File::open(Self::bucket(spool, bucket))?.sync_all()?;
            }
        }
        for p in batch {
            let key = p.id.to_be_bytes();
            if let Some(body) = &p.body {
                self.bodies.insert(key, body.as_slice())?;
            }
            self.index.insert(key, p.envelope.as_slice())?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Consumer side: the message was delivered. Index first, so a crash in
    /// between leaves an orphan spool file (swept), never a dangling record.
    fn delete(&self, id: u64) -> Result<()> {
        let key = id.to_be_bytes();
        self.index.remove(key)?;
        match &self.spool {
            None => drop(self.bodies.remove(key)?),
            Some(spool) => fs::remove_file(Self::body_path(spool, id))?,
        }
        Ok(())
    }
}

/// State shared by sessions, committer and consumer.
#[derive(Default)]
struct Shared {
    next_id: AtomicU64,
    sessions_left: AtomicU64,
    pending: Mutex<Vec<Pending>>,
    pending_cv: Condvar,
    /// Committed, not yet deleted, oldest first.
    queued: Mutex<VecDeque<u64>>,
    queued_cv: Condvar,
    enqueue_done: AtomicBool,
    /// Set when the run is over or any thread failed.
    stop: AtomicBool,
    batches: AtomicU64,
    peak_queued: AtomicU64,
}

impl Shared {
    /// Waits on `cv` until `ready`. Short timeouts, so that a failed thread
    /// (which sets `stop`) cannot leave the others blocked forever.
    fn wait<'a, T>(
        &self,
        cv: &Condvar,
        lock: &'a Mutex<T>,
        ready: impl Fn(&T) -> bool,
    ) -> Result<MutexGuard<'a, T>> {
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !ready(&guard) {
            ensure!(
                !self.stop.load(Relaxed),
                "stopped after a failure elsewhere"
            );
            let timeout = Duration::from_millis(50);
            guard = cv
                .wait_timeout(guard, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(guard)
    }

    /// Runs one thread's work; a failure tells every other thread to give up.
    fn guard<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.stop.store(true, Relaxed);
        }
        result
    }
}

const TRACE: &str = "203.0.113.45:53122 HELO mail-out-07.sender.example.com \
    listener IncomingMail ICID 1234567 SBRS 3.5 HAT ACCEPTLIST policy DEFAULT \
    spf=pass dkim=pass dmarc=pass antispam=negative antivirus=clean";

/// One SMTP session: enqueue until the id counter passes `n`. Returns the
/// enqueue latencies (prepare to durable) in microseconds.
fn session(store: &Store, shared: &Shared, args: &Args) -> Result<Vec<u32>> {
    let mut body = vec![0u8; args.body_len];
    rand::rng().fill(body.as_mut_slice());
    let rcpt_to: Vec<String> = (0..3).map(|i| format!("user{i}@example.net")).collect();
    let mut latencies = Vec::new();
    loop {
        drop(shared.wait(&shared.queued_cv, &shared.queued, |q| {
            q.len() <= args.window
        })?);
        let id = shared.next_id.fetch_add(1, Relaxed);
        if id >= args.messages {
            return Ok(latencies);
        }
        let start = Instant::now();
        body[..8].copy_from_slice(&id.to_le_bytes());
        let envelope = postcard::to_allocvec(&Envelope {
            version: 1,
            id,
            received_at: 1_795_000_000 + id,
            mail_from: "newsletter-bounces+abc123@sender.example.com",
            rcpt_to: &rcpt_to,
            body_len: u32::try_from(body.len())?,
            trace: TRACE,
        })?;
        let body = store.prepare(id, &body)?;
        let (durable, is_durable) = mpsc::sync_channel(1);
        let pending = Pending {
            id,
            envelope,
            body,
            durable,
        };
        shared
            .wait(&shared.pending_cv, &shared.pending, |_| true)?
            .push(pending);
        shared.pending_cv.notify_one();
        is_durable.recv().context("committer gave up")?;
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
}

/// The single committer: one flush for whatever sessions are waiting.
fn committer(store: &Store, shared: &Shared, body_len: usize) -> Result<()> {
    loop {
        let batch =
            std::mem::take(&mut *shared.wait(&shared.pending_cv, &shared.pending, |p| {
                !p.is_empty() || shared.sessions_left.load(Relaxed) == 0
            })?);
        if batch.is_empty() {
            return Ok(());
        }
        store.commit(&batch, body_len)?;
        shared.batches.fetch_add(1, Relaxed);
        let mut queued = shared.wait(&shared.queued_cv, &shared.queued, |_| true)?;
        queued.extend(batch.iter().map(|p| p.id));
        shared.peak_queued.fetch_max(queued.len() as u64, Relaxed);
        drop(queued);
        shared.queued_cv.notify_all();
        for p in batch {
            let _ = p.durable.send(()); // fails only if the session gave up
        }
    }
}

/// Deletes the oldest message while the backlog exceeds `window`; drains
/// everything once enqueueing is over.
fn consumer(store: &Store, shared: &Shared, window: usize) -> Result<()> {
    loop {
        let oldest = shared
            .wait(&shared.queued_cv, &shared.queued, |q| {
                q.len() > window || shared.enqueue_done.load(Relaxed)
            })?
            .pop_front();
        let Some(id) = oldest else { return Ok(()) };
        shared.queued_cv.notify_all();
        store.delete(id)?;
    }
}

fn join<T>(handle: ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle.join().map_err(|_| anyhow!("thread panicked"))?
}

fn run(args: &Args, strategy: Strategy) -> Result<Vec<(&'static str, String)>> {
    let tmp = tempfile::Builder::new()
        .prefix("queue-bench-")
        .tempdir_in(&args.dir)?;
    let root = tmp.path();
    let store = Store::open(root, strategy, Duration::from_millis(args.fsync_delay_ms))?;
    let shared = Shared {
        sessions_left: AtomicU64::new(args.sessions),
        ..Shared::default()
    };
    let written_before = written(root)?;
    let cpu_before = cpu_seconds()?;
    let start = Instant::now();
    let (mut latencies, enqueue_secs, peak) = thread::scope(|s| -> Result<_> {
        let committer = s.spawn(|| shared.guard(committer(&store, &shared, args.body_len)));
        let consumer = s.spawn(|| shared.guard(consumer(&store, &shared, args.window)));
        let sampler = s.spawn(|| -> Result<DiskUse> {
            let mut peak = DiskUse::default();
            while !shared.stop.load(Relaxed) {
                peak = peak.max(DiskUse::measure(root)?);
                thread::sleep(Duration::from_millis(250));
            }
            Ok(peak)
        });
        let sessions: Vec<_> = (0..args.sessions)
            .map(|_| {
                s.spawn(|| {
                    let result = shared.guard(session(&store, &shared, args));
                    shared.sessions_left.fetch_sub(1, Relaxed);
                    shared.pending_cv.notify_one();
                    result
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for session in sessions {
            latencies.extend(join(session)?);
        }
        let enqueue_secs = start.elapsed().as_secs_f64();
        shared.enqueue_done.store(true, Relaxed);
        shared.queued_cv.notify_all();
        join(committer)?;
        join(consumer)?;
        store.finish()?;
        shared.stop.store(true, Relaxed);
        Ok((latencies, enqueue_secs, join(sampler)?))
    })?;
    let total_secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu_before;
    let written_after = written(root)?;
    let end_open = DiskUse::measure(root)?;
    drop(store);
    let end_closed = DiskUse::measure(root)?;
    // Reopen, and give sled's recovery and segment cleaner a chance to reclaim.
    let db = sled::open(root.join("index"))?;
    let records = match strategy {
        Strategy::Sled | Strategy::Spool => "index",
        Strategy::Files | Strategy::Segments => "messages",
    };
    let left = db.open_tree(records)?.len() + db.open_tree("bodies")?.len();
    ensure!(left == 0, "{left} records left after draining");
    thread::sleep(Duration::from_secs(2));
    db.flush()?;
    drop(db);
    let reopened = DiskUse::measure(root)?;

    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    let n = args.messages as f64;
    let batches = shared.batches.load(Relaxed).max(1) as f64;
    let bytes = written_after.0 - written_before.0;
    Ok(vec![
        (
            "enqueue throughput (msg/s)",
            format!("{:.0}", n / enqueue_secs),
        ),
        ("mean batch (msgs per flush)", format!("{:.1}", n / batches)),
        (
            "enqueue latency p50 / p99 (ms)",
            format!("{:.1} / {:.1}", pct(0.5), pct(0.99)),
        ),
        ("enqueue wall time (s)", format!("{enqueue_secs:.1}")),
        (
            "CPU of this process per message, user+sys (ms)",
            format!("{:.3}", cpu * 1000.0 / n),
        ),
        ("total wall time, drained (s)", format!("{total_secs:.1}")),
        (
            "peak messages queued",
            shared.peak_queued.load(Relaxed).to_string(),
        ),
        ("peak disk, MiB (apparent / du)", peak.to_string()),
        ("drained, Db open, MiB", end_open.to_string()),
        ("drained, Db closed, MiB", end_closed.to_string()),
        ("drained, after reopen, MiB", reopened.to_string()),
        (
            "written by this process, MiB (KiB/msg)",
            format!("{:.0} ({:.1})", mib(bytes), bytes as f64 / n / 1024.0),
        ),
        (
            "written to the device, all processes, MiB",
            format!("{:.0}", mib(written_after.1 - written_before.1)),
        ),
    ])
}

/// This process's CPU time so far, user and system (`/proc/self/stat`,
/// fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> Result<f64> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces: count after its ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .context("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    // Fields 14 and 15 are the 12th and 13th after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.messages > 0 && args.sessions > 0,
        "-n and -c must be positive"
    );
    let sled = ("sled (bodies in sled)", Strategy::Sled);
    let spool = ("spool (files + sled index)", Strategy::Spool);
    let files = ("files (SledSpoolStore)", Strategy::Files);
    let segments = ("segments (SegmentStore)", Strategy::Segments);
    let strategies = match args.strategy {
        Which::Sled => vec![sled],
        Which::Spool => vec![spool],
        Which::Files => vec![files],
        Which::Segments => vec![segments],
        Which::Both => vec![sled, spool],
        Which::Firmware => vec![files, segments],
    };
    let mut reports = Vec::new();
    for (name, strategy) in strategies {
        eprintln!("running {name}");
        reports.push((name, run(&args, strategy)?));
    }

    let (n, l, c, w) = (args.messages, args.body_len, args.sessions, args.window);
    println!(
        "n={n} body={l} B sessions={c} window={w} dir={}",
        args.dir.display()
    );
    let names: Vec<&str> = reports.iter().map(|(name, _)| *name).collect();
    println!("| metric | {} |", names.join(" | "));
    println!("| --- |{}", " ---: |".repeat(names.len()));
    for (i, (label, _)) in reports[0].1.iter().enumerate() {
        let cells: Vec<&str> = reports.iter().map(|(_, r)| r[i].1.as_str()).collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    Ok(())
}
