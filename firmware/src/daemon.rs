//! The mail daemon: opens the data directory ("flash"), loads or creates
//! the configuration, recovers the queue and wires the stages together.
//!
//! ```text
//! listeners ─► committer ─(committed)─► work queue ─(jobs)─► delivery
//!                                          ▲                    │
//!                                          └────(reports)───────┘
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context;
use breakwater_board::BoardProfile;
use breakwater_types::clock;
use tokio::sync::{Notify, mpsc, watch};

use crate::config::{Config, ConfigStore, factory};
use crate::control::users::{LoginPolicy, UserStore};
use crate::control::{ControlServer, DaemonStatus};
use crate::delivery::Delivery;
use crate::dns::Dns;
use crate::ids::IdAllocator;
use crate::queue::{self, QueueHandle, SegmentStore};
use crate::smtp_in::Reception;
use crate::smtp_in::Services;
use crate::smtp_in::limits::HourlyRecipients;
use crate::supervisor::{BootReason, LastBoot, heartbeat, privilege};
use crate::{logging, workqueue};

mod cluster;
mod cutover;

pub struct RunOptions {
    pub data_dir: PathBuf,
    pub board: BoardProfile,
    /// Echo the mail log on stderr (a terminal on a development machine).
    pub echo_logs: bool,
    /// The supervisor's heartbeat socket (`None`: run unsupervised).
    pub heartbeat: Option<PathBuf>,
    /// The supervisor's install socket (`None`: `upgrade install` is
    /// refused; only the supervisor writes the boot partition).
    pub install_socket: Option<PathBuf>,
    /// How the box last stopped, as the supervisor found it.
    pub last_boot: Option<LastBoot>,
    /// Why the box started, as the supervisor found it.
    pub boot_reason: Option<BootReason>,
}

/// How [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM, SIGINT or `shutdown`.
    Shutdown,
    /// `reboot`: the supervisor starts the daemon again.
    Reboot,
}

/// How long sessions in progress get to finish after SIGTERM before they
/// are told `421` and closed (their transaction is then abandoned, never
/// acknowledged). AsyncOS's `suspendlistener` offers 30 s by default; 10 s
/// keeps a supervised stop (45 s, `stop_timeout_secs`) well in bounds even
/// with a slow flush behind it.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

mod monitoring;

struct Status {
    reception: Arc<Reception>,
    delivery: Delivery,
    queue: QueueHandle,
    config: watch::Receiver<Arc<Config>>,
    board: String,
    /// The keys an upgrade package must be signed with (the board's).
    upgrade_keys: std::path::PathBuf,
    workqueue: workqueue::WorkQueueHandle,
    /// `shutdown` and `reboot` from the console: [`run`] stops as on SIGTERM.
    stop: Arc<Notify>,
    /// Set by `reboot`: [`run`] returns [`Stopped::Reboot`].
    reboot: Arc<AtomicBool>,
    /// Set by `debughang`.
    hung: Arc<AtomicBool>,
    last_boot: Option<LastBoot>,
    boot_reason: Option<BootReason>,
    /// The supervisor's heartbeat socket (`debughang supervisor`).
    heartbeat: Option<PathBuf>,
    /// The supervisor's install socket (`upgrade install`).
    install_socket: Option<PathBuf>,
    data_dir: PathBuf,
    /// Suspended listeners and delivery (`suspendlistener`, `suspenddel`),
    /// kept across restarts.
    suspension: breakwater_store::suspension::SuspensionStore,
    /// One cut-over command at a time (each reads, changes, saves).
    suspension_lock: std::sync::Mutex<()>,
    /// The grace sessions in progress get once stopping: `reboot` and
    /// `shutdown` set it from their delay; SIGTERM keeps [`SHUTDOWN_GRACE`].
    stop_grace_secs: Arc<AtomicU64>,
    /// The NTP client (`ntpconfig status`, `settime`).
    timesync: Arc<crate::timesync::TimeSync>,
    /// The cluster agent (issue 20).
    cluster: Arc<dyn crate::control::cluster::ClusterLink>,
}

/// How long the daemon waits after accepting `shutdown` or `reboot`, so
/// the answer reaches the console before the socket goes away.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

impl Status {
    /// `shutdown` and `reboot` both stop the daemon cleanly (the same
    /// path as SIGTERM: the database is flushed, then the process exits).
    /// After a `reboot` the supervisor starts it again.
    fn stop(&self, name: &str, grace: std::time::Duration) -> String {
        tracing::info!("{name} requested through the control socket");
        self.reboot.store(name == "reboot", Ordering::Relaxed);
        let stop = self.stop.clone();
        tokio::runtime::Handle::current().spawn(async move {
            tokio::time::sleep(STOP_GRACE).await;
            stop.notify_one();
        });
        let drain = format!(
            "listeners answer 421 now, sessions in progress get up to {} s to finish",
            grace.as_secs()
        );
        if name == "reboot" {
            format!(
                "The mail daemon is stopping for a restart: {drain} (queued mail is safe on disk)."
            )
        } else {
            format!("The mail daemon is shutting down: {drain} (queued mail is safe on disk).")
        }
    }

    /// `debughang supervisor`: admin only (control::permitted), as `debughang`.
    fn hang_supervisor(&self) -> Result<String, String> {
        tracing::warn!("debughang supervisor requested through the control socket");
        let Some(socket) = &self.heartbeat else {
            return Err(
                "The mail daemon is not supervised: there is no watchdog to test.".to_string(),
            );
        };
        match heartbeat::ask_supervisor_to_hang(socket) {
            Ok(()) => Ok(
                "The supervisor stops petting the watchdog now, as if it had hung: the watchdog should reset the box when its timeout runs out."
                    .to_string(),
            ),
            Err(e) => Err(format!("Cannot reach the supervisor: {e}")),
        }
    }

    /// An operator command, answered inside the work queue's task.
    fn ask_work_queue(&self, args: &[String]) -> Option<Result<String, String>> {
        let args = args.to_vec();
        // Called on a blocking thread of the runtime (see control).
        let answer = tokio::runtime::Handle::current().block_on(
            self.workqueue
                .query(move |wq| workqueue::operator::run(wq, &args)),
        );
        match answer {
            Some(result) => result,
            None => Some(Err("The work queue is not running.".to_string())),
        }
    }
}

// --- metrics (issue 16): the Prometheus exposition behind `/metrics` ---
impl Status {
    /// `metrics [--openmetrics]`: the exposition text of the counters and gauges the
    /// stages keep (see [`crate::metrics`]).
    fn metrics(&self, args: &[String]) -> Result<String, String> {
        // Called on a blocking thread of the runtime (see control).
        let workqueue = tokio::runtime::Handle::current()
            .block_on(self.workqueue.query(|wq| wq.metrics()))
            .ok_or_else(|| "The work queue is not running.".to_string())?;
        let (queue_messages, queue_bytes) = self.queue.counts();
        let inputs = crate::metrics::Inputs {
            workqueue,
            now: chrono::Utc::now().timestamp(),
            queue_messages,
            queue_bytes,
            listeners: self
                .reception
                .summary()
                .into_iter()
                .map(|(name, _, conns)| (name, conns))
                .collect(),
            reception_memory: self.reception.memory(),
            destinations: self.delivery.summary(),
        };
        crate::metrics::command(&inputs, args)
    }
}
// --- end metrics ---

impl DaemonStatus for Status {
    fn command(&self, args: &[String]) -> Option<Result<String, String>> {
        use crate::control::catalog::{self, Answerer};
        let command = catalog::find(args.first()?)?;
        let rest = &args[1..];
        let word = |w: &str| rest.first().is_some_and(|a| a.eq_ignore_ascii_case(w));
        // suspendlistener, suspenddel, suspend, their resume, reboot, shutdown.
        let named: Vec<String> = std::iter::once(command.name.to_string())
            .chain(rest.iter().cloned())
            .collect();
        if let Some(request) = crate::control::commands::cutover::parse(&named) {
            return Some(request.and_then(|r| self.cutover(r)));
        }
        match (command.name, rest.len()) {
            ("upgrade", _) => Some(self.upgrade(rest)),
            ("debughang", 1) if word("supervisor") => Some(self.hang_supervisor()),
            ("debughang", 0) => {
                // Admin only (control::permitted). The answer goes out first.
                tracing::warn!("debughang requested through the control socket");
                heartbeat::hang(self.hung.clone(), STOP_GRACE);
                Some(Ok(
                    "The mail daemon will stop answering in a moment; the supervisor should restart it."
                        .to_string(),
                ))
            }
            ("status", _) if word("detail") || word("plot") => self.ask_work_queue(args),
            ("ntpconfig", 1) if word("status") => {
                Some(Ok(self.timesync.status(&self.config.borrow())))
            }
            ("settime", 1..) => Some(
                crate::control::commands::ntpconfig::parse_settime(&self.config.borrow(), rest)
                    .map_err(|e| e.to_string())
                    .and_then(|t| self.timesync.set_time(t)),
            ),
            ("metrics", _) => Some(self.metrics(rest)),
            // --- call-ahead (issue 17) ---
            ("smtpcallahead", 1) if word("flushcache") => {
                let n = self.reception.call_ahead().flush();
                Some(Ok(format!("SMTP Call-Ahead cache flushed ({n} entries).")))
            }
            ("smtpcallahead", 1) if word("status") => {
                let c = self.reception.call_ahead().counters();
                Some(Ok(format!(
                    "SMTP Call-Ahead:\n  Probes: {}\n  Cache hits: {}\n  Accepted: {}\n  Rejected: {}\n  Failures: {}",
                    c.probes, c.cache_hits, c.accepted, c.rejected, c.failures
                )))
            }
            ("smtpcallahead", _) => None,
            // --- end call-ahead ---
            _ if command.answered_by == Answerer::WorkQueue => self.ask_work_queue(args),
            _ => self.monitoring(command.name, rest),
        }
    }

    fn last_boot(&self) -> Option<String> {
        self.last_boot.map(|b| b.describe().to_string())
    }

    fn boot_info(&self) -> Vec<String> {
        boot_info(self.boot_reason)
    }

    fn model(&self) -> Option<String> {
        Some(self.board.clone())
    }

    fn cluster(&self) -> Option<Arc<dyn crate::control::cluster::ClusterLink>> {
        Some(self.cluster.clone())
    }

    fn status(&self) -> String {
        let config = self.config.borrow().clone();
        let (messages, bytes) = self.queue.counts();
        let boot: String = boot_info(self.boot_reason)
            .into_iter()
            .chain(memory_line())
            .map(|l| format!("{l}\n"))
            .collect();
        let mut out = format!(
            "{}\nHost name: {}\nBoard: {}\nVersion: Breakwater {}\nSystem status: {}\nLast boot: {}\n{boot}\nQueue:\n  Messages in queue: {messages}\n  Spool bytes: {bytes}\n\nListeners:\n",
            status_as_of(clock::now()),
            config.hostname,
            self.board,
            env!("CARGO_PKG_VERSION"),
            self.suspension
                .load()
                .system_status(config.listeners.iter().map(|l| l.name.as_str())),
            self.last_boot
                .map_or("unknown (not supervised)", LastBoot::describe),
        );
        for (name, addr, conns) in self.reception.summary() {
            let state = if self.reception.is_suspended(&name) {
                "  Suspended"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {name:<16} {addr:<22} {conns} connection(s){state}\n"
            ));
        }
        for problem in self.reception.problems() {
            out.push_str(&format!("  Warning: {problem}\n"));
        }
        let (used, limit) = self.reception.memory();
        out.push_str(&format!(
            "  Reception memory: {} KiB in use of {} MB (listenerconfig setup --reception-memory)\n",
            used / 1024,
            limit / (1024 * 1024)
        ));
        out.push_str("\nDelivery (destination, queued, connections):\n");
        let dests = self.delivery.summary();
        if dests.is_empty() {
            out.push_str("  (idle)\n");
        }
        for (name, queued, active) in dests {
            out.push_str(&format!("  {name:<30} {queued:>6} {active:>4}\n"));
        }
        out
    }
}

impl Status {
    /// `upgrade [status]`, `upgrade install [--allow-downgrade]
    /// <file|https-url>` (admin only). The daemon fetches and pre-checks
    /// the package; the supervisor (root) verifies it again and writes the
    /// slot, and its answer is the console's.
    fn upgrade(&self, args: &[String]) -> Result<String, String> {
        const USAGE: &str = "usage: upgrade [status] | upgrade install [--allow-downgrade] <file in upgrade/ | https://...>";
        match args {
            [] => Ok(crate::slots::BootPartition::probe().describe().join("\n")),
            [s] if s.eq_ignore_ascii_case("status") => {
                Ok(crate::slots::BootPartition::probe().describe().join("\n"))
            }
            [i, rest @ ..] if i.eq_ignore_ascii_case("install") => {
                let (allow_downgrade, source) = match rest {
                    [source] => (false, source),
                    [flag, source] if flag.eq_ignore_ascii_case("--allow-downgrade") => {
                        (true, source)
                    }
                    _ => return Err(USAGE.to_string()),
                };
                let Some(socket) = &self.install_socket else {
                    return Err(
                        "Upgrade failed: upgrade install needs the supervisor (it writes the boot partition); this mail daemon runs without one (start the gateway with `breakwater run`)"
                            .to_string(),
                    );
                };
                let config = self.config.borrow().clone();
                tracing::info!(
                    "upgrade: installing from {source}{}",
                    if allow_downgrade {
                        " (--allow-downgrade)"
                    } else {
                        ""
                    }
                );
                let bytes = crate::upgrade::fetch(source, &self.data_dir, &config)
                    .and_then(|bytes| {
                        crate::upgrade::verify_on_this_box(
                            &bytes,
                            &crate::slots::BootPartition::probe(),
                            &self.board,
                            &self.upgrade_keys,
                            allow_downgrade,
                        )
                        .map(|_| bytes)
                    })
                    .map_err(|e| {
                        tracing::error!("upgrade from {source} failed: {e}");
                        format!("Upgrade failed: {e}")
                    })?;
                use crate::supervisor::install::{InstallAnswer, ask_supervisor_to_install};
                match ask_supervisor_to_install(socket, allow_downgrade, &bytes) {
                    Ok(InstallAnswer::Installed(text)) => {
                        tracing::info!("upgrade: installed from {source}; trial on the next boot");
                        Ok(text)
                    }
                    Ok(InstallAnswer::Refused(why)) => {
                        tracing::error!("upgrade from {source} refused by the supervisor: {why}");
                        Err(format!("Upgrade failed: {why}"))
                    }
                    Err(e) => {
                        tracing::error!("upgrade from {source}: cannot reach the supervisor: {e}");
                        Err(format!(
                            "Upgrade failed: cannot hand the package to the supervisor: {e}"
                        ))
                    }
                }
            }
            _ => Err(USAGE.to_string()),
        }
    }
}

/// The daemon's resident memory, as the kernel counts it (VmRSS), for
/// `status`.
/// The first line of `status`, in the appliance's zone and with its
/// abbreviation, as AsyncOS prints it: `Fri Feb 16 19:55:34 2024 CST`.
fn status_as_of(now: chrono::DateTime<clock::Tz>) -> String {
    format!("Status as of: {}", now.format(clock::HEADER_TIME_FORMAT))
}

/// Makes the configuration's zone (`settz`) the one every time is shown
/// in from now on. `Config::validate` refuses an unknown name, so only a
/// record from older firmware could hold one; its times stay as they were.
fn apply_time_zone(config: &Config) {
    match clock::parse_zone(&config.time_zone) {
        Ok(zone) => clock::set_zone(zone),
        Err(e) => tracing::warn!("{e}; times stay in {}", clock::zone()),
    }
}

fn memory_line() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(format!(
        "Mail daemon memory (RSS): {} MiB",
        kib.div_ceil(1024)
    ))
}

/// `Boot reason:` and the firmware slots, for `status`, `version` and the
/// login banner.
fn boot_info(reason: Option<BootReason>) -> Vec<String> {
    let mut lines = vec![format!(
        "Boot reason: {}",
        reason.map_or("unknown (not supervised)", BootReason::describe)
    )];
    lines.extend(crate::slots::BootPartition::probe().describe());
    lines
}

fn load_config(store: &ConfigStore, board: &BoardProfile) -> anyhow::Result<Config> {
    if !store.is_initialised()? {
        let cert = factory::demo_certificate(&board.hostname)
            .context("cannot generate the Demo certificate")?;
        let cfg = factory::factory_config(board, cert);
        store.commit("system", "factory defaults", Some(&cfg))?;
        tracing::info!(
            "new data directory: factory configuration committed for board {}",
            board.name
        );
    }
    match store.committed() {
        Err(crate::config::StoreError::Codec(crate::codec::CodecError::Version {
            found,
            expected,
        })) if found > expected => Err(ConfigTooNew { found, expected }.into()),
        other => Ok(other?),
    }
}

/// The committed configuration was written by a newer firmware (a higher
/// format version): this one refuses to read it rather than misread it,
/// and does not start (exit status
/// [`crate::supervisor::EXIT_CONFIG_TOO_NEW`]; no restart, no salvage: the
/// store is not damaged).
#[derive(Debug, thiserror::Error)]
#[error(
    "the configuration was written by a newer firmware (configuration format {found}; \
     this firmware reads format {expected}).\n\
     This firmware will not start on it. Boot the newer firmware again (its slot is kept), \
     or, to go back to this version for good, restore a configuration saved by it."
)]
pub struct ConfigTooNew {
    pub found: u8,
    pub expected: u8,
}

pub use breakwater_store::open::StoreDamaged;
use breakwater_store::open::{OpenError, mark_initialised, open_store};

/// What the daemon opens before its async runtime exists (and, on a board
/// with `run_as`, before it gives up root): see [`open`].
pub struct Opened {
    log: logging::LogHandle,
    db: breakwater_store::Db,
    store: Arc<ConfigStore>,
    config: Config,
}

/// The daemon's first, synchronous part: the data directory, the logs, the
/// database and the committed configuration. On a board with `run_as`
/// (see `docs/decisions/0006-least-privilege.md`) root's only file work is
/// giving the data directory to that user (race-free:
/// [`privilege::chown_tree`]); the logs, the database and the
/// configuration are then opened with the user's effective IDs
/// ([`privilege::as_user`]), so nothing the user planted there (a link to
/// a root file in `db/`, say) leads root anywhere. Root comes back only to
/// bind the listeners, then the process becomes the user for good. The
/// caller must not have started any runtime yet. A failure to become the
/// user is [`CannotDropPrivileges`].
pub fn open(opts: &RunOptions) -> anyhow::Result<Opened> {
    let dir = &opts.data_dir;
    // Resolve the user first: an image without it should say so before
    // anything is created as root.
    let run_as = match opts.board.run_as.as_deref().map(privilege::resolve) {
        Some(Ok(who)) => Some(who),
        Some(Err(e)) => return Err(CannotDropPrivileges(format!("{e:#}")).into()),
        None => None,
    };
    crate::supervisor::prepare_data_dir(dir)?;
    let chowned = match &run_as {
        Some(who) => Some(
            privilege::chown_tree(dir, who)
                .with_context(|| format!("cannot give {} to {}", dir.display(), who.name))
                .map_err(|e| CannotDropPrivileges(format!("{e:#}")))?,
        ),
        None => None,
    };
    // Before giving up root, which may raise the hard limit too.
    let raised = crate::open_files::raise();
    let opened = match &run_as {
        Some(who) => privilege::as_user(who, || open_as_owner(opts))
            .map_err(|e| CannotDropPrivileges(format!("{e:#}")))??,
        None => open_as_owner(opts)?,
    };
    match raised {
        Ok(r) => tracing::info!("open-file limit {} (was {})", r.after, r.before),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    for skipped in chowned.iter().flat_map(|r| &r.skipped) {
        tracing::warn!("data directory: {skipped}");
    }
    if let Some(who) = run_as {
        // Root again, for the ports only. sled's flusher thread exists by
        // now and runs as root too until drop_to: it only writes through
        // the descriptors it opened as the user; nothing writes to the
        // store meanwhile, so it opens no file.
        for problem in crate::smtp_in::prebind(&opened.config) {
            tracing::warn!("{problem}");
        }
        for problem in breakwater_mgmt::bind::prebind(&opened.config) {
            tracing::warn!("{problem}");
        }
        if let Err(e) = privilege::drop_to(&who) {
            let e = CannotDropPrivileges(format!("{e:#}"));
            tracing::error!("{e}");
            return Err(e.into());
        }
        tracing::info!(
            "the mail daemon runs as {} (uid {}, gid {}); its ports are bound",
            who.name,
            who.uid,
            who.gid
        );
    }
    Ok(opened)
}

/// The logs, the store and the committed configuration, opened with the
/// data directory owner's rights (see [`open`]).
fn open_as_owner(opts: &RunOptions) -> anyhow::Result<Opened> {
    let dir = &opts.data_dir;
    let log = logging::init(dir, Default::default(), opts.echo_logs)?;
    let (db, store) = match open_store(dir) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!("{e:#}");
            // main.rs finds StoreDamaged by type (exit status 78).
            return Err(match e {
                OpenError::Damaged(damaged) => damaged.into(),
                other => other.into(),
            });
        }
    };
    let config = load_config(&store, &opts.board)?;
    // Before the next line is logged: every line is in the zone.
    apply_time_zone(&config);
    mark_initialised(dir)?;
    // As on AsyncOS, uncommitted changes do not survive a restart.
    if store.clear()? {
        tracing::warn!("uncommitted configuration changes from before the restart were discarded");
    }
    log.set_settings(config.mail_logs);
    Ok(Opened {
        log,
        db,
        store,
        config,
    })
}

/// The daemon could not become the board's `run_as` user; it exits with
/// [`privilege::EXIT_CANNOT_DROP`] and the supervisor does not restart it.
#[derive(Debug, thiserror::Error)]
#[error("the mail daemon cannot give up root: {0}")]
pub struct CannotDropPrivileges(pub String);

/// Runs the daemon until SIGTERM, SIGINT, `shutdown` or `reboot`.
/// The HTTPS certificate of the management plane: the one
/// `adminaccessconfig` names, else the first (the factory "Demo"), loaded
/// as the listeners load theirs. `None` (logged) when it does not load:
/// HTTPS then refuses connections rather than serve in clear.
fn management_tls(config: &Config) -> Option<tokio_rustls::TlsAcceptor> {
    let wanted = &config.management.certificate;
    let cert = config
        .certificates
        .iter()
        .find(|c| !wanted.is_empty() && c.name == *wanted)
        .or_else(|| config.certificates.first())?;
    match crate::smtp_in::tls::acceptor(cert) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::warn!("management HTTPS: {e}");
            None
        }
    }
}

pub async fn run(opts: RunOptions, opened: Opened) -> anyhow::Result<Stopped> {
    let dir = &opts.data_dir;
    let Opened {
        log,
        db,
        store,
        config,
    } = opened;
    let (config_tx, config_rx) = watch::channel(Arc::new(config.clone()));

    let ids = Arc::new(IdAllocator::open(&db)?);
    let spool = Arc::new(SegmentStore::open(&db, dir)?);
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    // Counts the queue on disk, nothing more: recovery (the orphan scan,
    // paging the records in) runs in the work queue while the listeners
    // already take mail (docs/decisions/0022-bounded-work-queue-window.md).
    let queue = queue::start(spool.clone(), config.queue, committed_tx)?;
    let dns = Dns::new(&config.dns)?;
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let delivery = Delivery::new(
        config_rx.clone(),
        ids.clone(),
        queue.clone(),
        dns.clone(),
        reports_tx,
    );
    // Suspended receiving and delivery stay suspended across a restart.
    let suspension_store = breakwater_store::suspension::SuspensionStore::open(&db)?;
    let suspension = suspension_store.load();
    if suspension != Default::default() {
        tracing::warn!(
            "still suspended since before the restart: {}{}",
            if suspension.listeners.is_empty() {
                String::new()
            } else {
                format!(
                    "receiving on {} ",
                    suspension
                        .listeners
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if suspension.delivery { "delivery" } else { "" }
        );
    }
    let workqueue = workqueue::start(
        config_rx.clone(),
        queue.clone(),
        spool,
        opts.board.work_queue.window,
        delivery.clone(),
        ids.clone(),
        workqueue::Stats::open(breakwater_store::counters::CounterStore::open(
            &db,
            workqueue::COUNTERS_VERSION,
        )?),
        dir.to_path_buf(),
        committed_rx,
        reports_rx,
        suspension.delivery,
    );
    {
        let line = suspension.system_status(config.listeners.iter().map(|l| l.name.as_str()));
        let _ = workqueue.query(move |wq| wq.system_status = line).await;
    }

    // -- alerts (issue 16): alert mail, its checks and the supervisor's notes. --
    let alerter = crate::alerts::Alerter::new(config_rx.clone(), queue.clone(), ids.clone());
    start_alerts(&alerter, &workqueue, dir);
    // -- end alerts --

    let services = Arc::new(Services {
        ids,
        hourly: Arc::new(HourlyRecipients::default()),
        budget: crate::smtp_in::budget::ReceptionBudget::new(config.reception.memory_budget_bytes),
    });
    let reception = Arc::new(Reception::new(
        config_rx.clone(),
        dns,
        services,
        queue.clone(),
    ));
    let stop = Arc::new(Notify::new());
    let reboot = Arc::new(AtomicBool::new(false));
    let stop_grace_secs = Arc::new(AtomicU64::new(SHUTDOWN_GRACE.as_secs()));
    let hung = Arc::new(AtomicBool::new(false));
    let draining = reception.clone();
    // What applies the commits, taken before the control server owns the
    // originals (the receiver's clone sees any commit made from here on).
    let listeners = reception.clone();
    let delivery_for_commits = delivery.clone();
    let delivery_for_shutdown = delivery.clone();
    let queue_for_commits = queue.clone();
    let mut changes = config_rx.clone();
    // The config the task below has last applied: `commit` answers only
    // once the listeners, DNS, TLS and management plane run on it, so the
    // administrator's (or a script's) next connection meets the new
    // settings, not the old ones for a few milliseconds more.
    let (applied_tx, applied_rx) = watch::channel(config_rx.borrow().clone());
    // Only a board whose daemon drops root has a root supervisor to set
    // the clock; the development board measures only (0015-ntp-client).
    let clock_setter = match (&opts.board.run_as, &opts.heartbeat) {
        (Some(_), Some(socket)) => crate::timesync::ClockSetter::Supervisor {
            socket: socket.clone(),
        },
        _ => crate::timesync::ClockSetter::MeasureOnly,
    };
    let timesync = crate::timesync::TimeSync::start(config_rx.clone(), clock_setter);
    // --- log shipping (issue 16): syslog subscriptions start here, after
    // the privilege drop, so their spools belong to the daemon's user ---
    log.apply_shipping(&config);
    let log_for_commits = log.clone();
    // --- end log shipping ---
    let on_commit: Arc<dyn Fn(&Config) + Send + Sync> = Arc::new(move |c: &Config| {
        // At once, not in the task below: the commit's own answer and
        // the next command already show times in the new zone.
        apply_time_zone(c);
        // At once too: once `commit` answers, every line logged ships
        // to the new subscriptions. In the task below, lines logged
        // between the answer and the task's turn were never shipped
        // (and a subscriber with nothing spooled never connected).
        log_for_commits.apply_shipping(c);
        let committed = Arc::new(c.clone());
        config_tx.send_replace(committed.clone());
        wait_until_applied(&config_tx, applied_rx.clone());
    });
    // --- clusters (issue 20): the agent follows the cluster's levels in
    // the background; startup and mail never wait for etcd ---
    let cluster_agent = cluster::Agent::new(
        crate::control::cluster::ClusterState::open(&db)?,
        store.clone(),
        on_commit.clone(),
    );
    tokio::spawn(cluster_agent.clone().run());
    let control = ControlServer {
        store,
        on_commit,
        daemon: Arc::new(Status {
            cluster: Arc::new(cluster::Link(cluster_agent)),
            reception,
            delivery,
            queue,
            config: config_rx,
            board: opts.board.name.clone(),
            upgrade_keys: crate::upgrade::keys_dir(&opts.board),
            workqueue,
            stop: stop.clone(),
            reboot: reboot.clone(),
            hung: hung.clone(),
            last_boot: opts.last_boot,
            boot_reason: opts.boot_reason,
            heartbeat: opts.heartbeat.clone(),
            install_socket: opts.install_socket.clone(),
            data_dir: opts.data_dir.clone(),
            suspension: suspension_store,
            suspension_lock: std::sync::Mutex::new(()),
            stop_grace_secs: stop_grace_secs.clone(),
            timesync,
        }),
    };
    let users = UserStore::open(&db, LoginPolicy::default())?;
    let _control = control
        .start_with_users(dir, users)
        .context("cannot create the control socket")?;
    // Listeners suspended before the restart answer 421 from their first
    // connection on.
    let _ = draining
        .suspend(&suspension.listeners, std::time::Duration::ZERO)
        .await;
    // The listeners start only once the control socket exists: a script
    // that waits for the SMTP banner and then runs `breakwater cli` must
    // find the socket there.
    for problem in listeners.apply(&config).await {
        tracing::warn!("{problem}");
        alerter.raise(crate::alerts::listener_problem(&problem));
    }
    // The web UI, API and SSH on Management: clients of the control
    // socket, started once it exists.
    let mut management = breakwater_mgmt::ManagementPlane::new(dir);
    for problem in management.apply(&config, management_tls(&config)).await {
        tracing::warn!("{problem}");
        alerter.raise(crate::alerts::listener_problem(&problem));
    }

    // Apply every commit: listeners, DNS, TLS, log and queue limits, the
    // management plane.
    let alerts_for_commits = alerter.clone();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let cfg = changes.borrow_and_update().clone();
            for problem in listeners.apply(&cfg).await {
                tracing::warn!("{problem}");
                alerts_for_commits.raise(crate::alerts::listener_problem(&problem));
            }
            for problem in management.apply(&cfg, management_tls(&cfg)).await {
                tracing::warn!("{problem}");
                alerts_for_commits.raise(crate::alerts::listener_problem(&problem));
            }
            delivery_for_commits.reconfigure(Dns::new(&cfg.dns).ok());
            log.set_settings(cfg.mail_logs);
            queue_for_commits.set_settings(cfg.queue);
            applied_tx.send_replace(cfg);
        }
    });

    tracing::info!(
        "Breakwater {} running (board {}, data {})",
        env!("CARGO_PKG_VERSION"),
        opts.board.name,
        dir.display()
    );

    if let Some(socket) = opts.heartbeat {
        heartbeat::start(socket, hung);
    }

    wait_for_shutdown(&stop).await;
    let grace = std::time::Duration::from_secs(stop_grace_secs.load(Ordering::Relaxed));
    tracing::info!(
        "shutting down: listeners answer 421, sessions in progress get {} s",
        grace.as_secs()
    );
    // Idle cached delivery connections say QUIT while sessions drain.
    delivery_for_shutdown.close_idle();
    draining.drain(grace).await;
    db.flush_async().await?;
    crate::durable::sync()?;
    tracing::info!("database flushed; mail daemon stopped");
    Ok(if reboot.load(Ordering::Relaxed) {
        Stopped::Reboot
    } else {
        Stopped::Shutdown
    })
}

/// How long `commit` waits for the daemon to apply what it committed: a
/// listener rebinding or a management-plane restart takes well under a
/// second; past this the answer goes out anyway (the change is committed
/// and will apply) rather than hold the console.
const APPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Blocks the control command (a blocking thread of the runtime) until the
/// commit task has applied the newest committed config. Comparing with the
/// newest, not with the one this commit sent, keeps two commits in quick
/// succession (which the watch channel coalesces) from waiting in vain.
fn wait_until_applied(
    committed: &watch::Sender<Arc<Config>>,
    mut applied: watch::Receiver<Arc<Config>>,
) {
    let caught_up = async {
        applied
            .wait_for(|a| Arc::ptr_eq(a, &committed.borrow()))
            .await
            .is_ok()
    };
    let done = match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .block_on(async { tokio::time::timeout(APPLY_WAIT, caught_up).await })
            .unwrap_or(false),
        // Outside the runtime (never in the daemon): nothing to wait on.
        Err(_) => true,
    };
    if !done {
        tracing::warn!(
            "commit: the daemon had not applied the change after {} s; it will apply",
            APPLY_WAIT.as_secs()
        );
    }
}

// -- alerts (issue 16) --
/// Starts the alert checks (queue, data partition, certificates, Threat
/// Defense copies) and sends the supervisor's notes (restarts, resets,
/// upgrades) now and at each check.
fn start_alerts(
    alerter: &crate::alerts::Alerter,
    workqueue: &workqueue::WorkQueueHandle,
    dir: &std::path::Path,
) {
    let wq = workqueue.clone();
    crate::alerts::start_monitor(alerter.clone(), dir.to_path_buf(), move || {
        let wq = wq.clone();
        async move {
            wq.query(|wq| {
                let c = &wq.stats.since_start;
                (c.tdc_sent, c.tdc_failed + c.tdc_expired)
            })
            .await
        }
    });
    let alerter = alerter.clone();
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        loop {
            let taken = {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || crate::supervisor::alert_notes::take(&dir))
                    .await
            };
            let notes = match taken {
                Ok(Ok(notes)) => notes,
                Ok(Err(e)) => {
                    tracing::warn!("cannot read the supervisor's alert notes: {e}");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
            for n in notes {
                let class = crate::config::AlertClass::parse(&n.class)
                    .unwrap_or(crate::config::AlertClass::System);
                let severity = crate::config::Severity::parse(&n.severity)
                    .unwrap_or(crate::config::Severity::Critical);
                alerter.raise(crate::alerts::Alert::new(
                    class,
                    severity,
                    n.summary.clone(),
                    n.summary,
                    "Reported by the supervisor. See `status` (boot reason), `version` and the \
                     system logs for the details.",
                ));
            }
            alerter.next_check().await;
        }
    });
}
// -- end alerts --

/// Until SIGTERM, SIGINT, or `shutdown`/`reboot` from the console.
async fn wait_for_shutdown(stop: &Notify) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        stop.notified().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = stop.notified() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_header_names_the_zone() {
        use chrono::TimeZone as _;
        let zone = clock::parse_zone("America/Chicago").unwrap();
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 12, 6, 22, 36, 48)
            .unwrap();
        assert_eq!(
            status_as_of(zone.from_utc_datetime(&at.naive_utc())),
            "Status as of: Sun Dec  6 16:36:48 2026 CST"
        );
    }

    #[test]
    fn a_configuration_from_a_newer_firmware_is_refused_with_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let store = ConfigStore::open(&db).unwrap();
        let board = BoardProfile::builtin("dev").unwrap();
        load_config(&store, &board).unwrap();
        // A newer firmware's record: a format version this one does not know.
        let tree = db.open_tree("config").unwrap();
        let mut bytes = tree.get("committed").unwrap().unwrap().to_vec();
        bytes[0] = bytes[0].wrapping_add(1);
        tree.insert("committed", bytes).unwrap();
        let err = load_config(&store, &board).unwrap_err();
        let too_new = err.downcast_ref::<ConfigTooNew>().expect("ConfigTooNew");
        assert!(too_new.found > too_new.expected);
        assert!(
            err.to_string().contains("written by a newer firmware"),
            "{err}"
        );
    }
}
