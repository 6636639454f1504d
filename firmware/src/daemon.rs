//! The mail daemon: opens the data directory ("flash"), loads or creates
//! the configuration, recovers the queue and wires the stages together.
//!
//! ```text
//! listeners ─► committer ─(committed)─► work queue ─(jobs)─► delivery
//!                                          ▲                    │
//!                                          └────(reports)───────┘
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use breakwater_board::BoardProfile;
use tokio::sync::{Notify, mpsc, watch};

use crate::config::{Config, ConfigStore, factory};
use crate::control::users::{LoginPolicy, UserStore};
use crate::control::{ControlServer, DaemonStatus};
use crate::delivery::Delivery;
use crate::dns::Dns;
use crate::ids::IdAllocator;
use crate::queue::{self, QueueHandle, SledSpoolStore};
use crate::smtp_in::Reception;
use crate::smtp_in::limits::HourlyRecipients;
use crate::smtp_in::session::Services;
use crate::{logging, workqueue};

/// sled's page cache; the default (1 GiB) is far too much for an appliance.
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

pub struct RunOptions {
    pub data_dir: PathBuf,
    pub board: BoardProfile,
    /// Echo the mail log on stderr (a terminal on a development machine).
    pub echo_logs: bool,
}

struct Status {
    reception: Arc<Reception>,
    delivery: Delivery,
    queue: QueueHandle,
    config: watch::Receiver<Arc<Config>>,
    board: String,
    workqueue: workqueue::WorkQueueHandle,
    /// `shutdown` and `reboot` from the console: [`run`] stops as on SIGTERM.
    stop: Arc<Notify>,
}

/// How long the daemon waits after accepting `shutdown` or `reboot`, so
/// the answer reaches the console before the socket goes away.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

impl DaemonStatus for Status {
    fn command(&self, args: &[String]) -> Option<Result<String, String>> {
        if let [name] = args
            && (name.eq_ignore_ascii_case("shutdown") || name.eq_ignore_ascii_case("reboot"))
        {
            // Both stop the daemon cleanly (the same path as SIGTERM: the
            // database is flushed, then the process exits). Starting it
            // again after a `reboot` is the supervisor's job, which comes
            // with its own issue; until then a reboot is a clean stop.
            let name = name.to_ascii_lowercase();
            tracing::info!("{name} requested through the control socket");
            let stop = self.stop.clone();
            tokio::runtime::Handle::current().spawn(async move {
                tokio::time::sleep(STOP_GRACE).await;
                stop.notify_one();
            });
            return Some(Ok(if name == "reboot" {
                "The mail daemon is stopping for a restart (queued mail is safe on disk)."
                    .to_string()
            } else {
                "The mail daemon is shutting down (queued mail is safe on disk).".to_string()
            }));
        }
        if !workqueue::operator::handles(args) {
            return None;
        }
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

    fn status(&self) -> String {
        let config = self.config.borrow().clone();
        let (messages, bytes) = self.queue.counts();
        let mut out = format!(
            "Status as of: {}\nHost name: {}\nBoard: {}\nVersion: Breakwater {}\n\nQueue:\n  Messages in queue: {messages}\n  Spool bytes: {bytes}\n\nListeners:\n",
            chrono::Local::now().format("%a %b %d %H:%M:%S %Y"),
            config.hostname,
            self.board,
            env!("CARGO_PKG_VERSION"),
        );
        for (name, addr, conns) in self.reception.summary() {
            out.push_str(&format!("  {name:<16} {addr:<22} {conns} connection(s)\n"));
        }
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

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
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
    Ok(store.committed()?)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(opts: RunOptions) -> anyhow::Result<()> {
    let dir = &opts.data_dir;
    prepare_data_dir(dir)?;
    let log = logging::init(dir, Default::default(), opts.echo_logs)?;
    let db = sled::Config::new()
        .path(dir.join("db"))
        .cache_capacity(SLED_CACHE_BYTES)
        .open()
        .with_context(|| format!("cannot open the database in {}", dir.display()))?;
    let store = Arc::new(ConfigStore::open(&db)?);
    let config = load_config(&store, &opts.board)?;
    // As on AsyncOS, uncommitted changes do not survive a restart.
    if store.clear()? {
        tracing::warn!("uncommitted configuration changes from before the restart were discarded");
    }
    log.set_settings(config.mail_logs);
    let (config_tx, config_rx) = watch::channel(Arc::new(config.clone()));

    let ids = Arc::new(IdAllocator::open(&db)?);
    let spool = Arc::new(SledSpoolStore::open(&db, dir)?);
    let (committed_tx, committed_rx) = mpsc::unbounded_channel();
    let (queue, recovered) = queue::start(spool, config.queue, committed_tx)?;
    let dns = Dns::new(&config.dns)?;
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let delivery = Delivery::new(
        config_rx.clone(),
        ids.clone(),
        queue.clone(),
        dns.clone(),
        reports_tx,
    );
    let workqueue = workqueue::start(
        config_rx.clone(),
        queue.clone(),
        delivery.clone(),
        ids.clone(),
        workqueue::Stats::open(&db)?,
        dir.to_path_buf(),
        recovered,
        committed_rx,
        reports_rx,
    );

    let services = Arc::new(Services {
        ids,
        hourly: Arc::new(HourlyRecipients::default()),
    });
    let reception = Arc::new(Reception::new(
        config_rx.clone(),
        dns,
        services,
        queue.clone(),
    ));
    for problem in reception.apply(&config).await {
        tracing::warn!("{problem}");
    }

    // Apply every commit: listeners, DNS, TLS, log and queue limits.
    {
        let mut changes = config_rx.clone();
        let reception = reception.clone();
        let delivery = delivery.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let cfg = changes.borrow_and_update().clone();
                for problem in reception.apply(&cfg).await {
                    tracing::warn!("{problem}");
                }
                delivery.reconfigure(Dns::new(&cfg.dns).ok());
                log.set_settings(cfg.mail_logs);
                queue.set_settings(cfg.queue);
            }
        });
    }

    let stop = Arc::new(Notify::new());
    let control = ControlServer {
        store,
        on_commit: Arc::new(move |c: &Config| {
            config_tx.send_replace(Arc::new(c.clone()));
        }),
        daemon: Arc::new(Status {
            reception,
            delivery,
            queue,
            config: config_rx,
            board: opts.board.name.clone(),
            workqueue,
            stop: stop.clone(),
        }),
    };
    let users = UserStore::open(&db, LoginPolicy::default())?;
    let _control = control
        .start_with_users(dir, users)
        .context("cannot create the control socket")?;
    tracing::info!(
        "Breakwater {} running (board {}, data {})",
        env!("CARGO_PKG_VERSION"),
        opts.board.name,
        dir.display()
    );

    wait_for_shutdown(&stop).await;
    tracing::info!("shutting down");
    db.flush_async().await?;
    Ok(())
}

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
