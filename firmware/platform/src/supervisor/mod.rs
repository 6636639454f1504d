//! The supervisor: keeps the mail daemon alive and is the only thing that
//! pets the watchdog. What it and the daemon agree on is written down in
//! [`contract`].
//!
//! **Owns** the daemon child process, the watchdog, the heartbeat socket
//! (`<data-dir>/supervisor.sock`), `<data-dir>/daemon.pid` (the current
//! daemon's PID), the boot marker `<data-dir>/unclean-shutdown`, the stop
//! record `<data-dir>/last-stop` and the lock `<data-dir>/supervisor.lock`
//! (one supervisor per data directory); the install socket ([`install`],
//! in a directory of its own outside the data directory); and every write
//! to the boot partition ([`crate::slots`]): upgrades into the inactive
//! slot with their boot-once (syslinux's ADV, or systemd-boot's
//! `LoaderEntryOneShot` EFI variable), and the end of a trial boot (the
//! loaders' default, `trial`, `last-upgrade`). It never opens the
//! database or the queue.
//!
//! ```text
//!   breakwater run (supervisor) ──spawn──► breakwater daemon (mail daemon)
//!        ▲   │ pets while healthy              │ PR_SET_PDEATHSIG(SIGKILL)
//!        │   ▼                                 │
//!        │ watchdog (soft or /dev/watchdog)    │
//!        └──────── heartbeat datagram, 1/s ────┘
//! ```
//!
//! The loop: start the daemon; it is healthy while it beats (it gets
//! `start_timeout_secs` for the first beat, `heartbeat_timeout_secs`
//! between beats). When it exits or goes silent it is killed (SIGKILL:
//! a hung process cannot be trusted to handle SIGTERM), the crash is
//! recorded, and it is started again after a back-off that doubles with
//! each crash in the window (`backoff_initial_ms` up to `backoff_max_ms`).
//! The `max_crashes`-th crash within `crash_window_secs` makes the
//! supervisor give up: it stops petting the watchdog, which resets the box
//! (on the `dev` board the soft watchdog logs "watchdog would reset the
//! box" and the supervisor exits with [`EXIT_WATCHDOG_RESET`]).
//!
//! Two exits of the daemon are not crashes: 0 (an orderly stop, e.g.
//! `shutdown` on the console) ends the supervisor too, and
//! [`EXIT_REBOOT`] (`reboot`) starts it again at once. [`EXIT_STORE_DAMAGED`]
//! means the daemon refuses to start until an operator acts (see
//! `docs/operations.md`): restarting cannot help, so the supervisor says so
//! and exits with the same code instead of looping.
//!
//! On a board whose console is a serial device, the supervisor also keeps
//! `breakwater console --device DEV --baud BAUD` running as a second
//! child, apart from the daemon ([`start_console`]). On a board with
//! `run_as` the daemon gives up root itself ([`privilege`]); the supervisor
//! stays root and hands it the heartbeat socket.
//!
//! SIGTERM and SIGINT are forwarded to the daemon as SIGTERM; it gets
//! `stop_timeout_secs` to drain and flush, then SIGKILL. Every decision is
//! written to the system log (`<data-dir>/logs/system_logs/`).
//!
//! **Exposure:** none. It reads beats only from its owner-only socket and
//! ignores any datagram that is not a beat from the current daemon; it
//! takes upgrade packages only from the current daemon (its PID, checked
//! with `SO_PEERCRED`) and verifies them itself before writing a slot. It
//! runs as root in a directory the daemon's user owns, so every file it
//! touches there goes through [`safe_fs`] (by name, through the data
//! directory's descriptor, never following a link); a salvage runs in a
//! child process as the daemon's user ([`salvage_as_owner`]).

pub mod alert_notes;
mod boot;
mod console;
pub mod contract;
mod crashes;
pub mod heartbeat;
pub mod install;
pub mod privilege;
/// Root's race-free file-system work (its own crate: it names nothing of
/// the firmware, and the daemon side uses it too).
pub use breakwater_safe_fs as safe_fs;
pub mod watchdog;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use breakwater_board::{BoardProfile, SupervisorLimits};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::{Instant, MissedTickBehavior};

use self::boot::{BOOT_MARKER, LAST_STOP, LOCK_FILE, PID_FILE};
pub use self::boot::{BootReason, LastBoot, boot_marker_path, last_stop_path, pid_path};
use self::console::start_console;
use self::crashes::Crashes;
use self::heartbeat::Beat;
use self::watchdog::Watchdog;

pub use self::contract::{
    EXIT_CONFIG_TOO_NEW, EXIT_REBOOT, EXIT_STORE_DAMAGED, EXIT_WATCHDOG_RESET, TRIAL_HEALTHY,
};

/// How often the supervisor checks health and pets the watchdog.
const TICK: Duration = Duration::from_millis(250);

pub struct SuperviseOptions {
    pub data_dir: PathBuf,
    pub board: BoardProfile,
    /// How the daemon is told the same board (`--board NAME` or
    /// `--board-file PATH`).
    pub board_args: Vec<OsString>,
    pub quiet: bool,
}

/// Why the supervisor stopped; [`Outcome::exit_code`] is its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// SIGTERM/SIGINT, or the daemon stopped in order.
    Stopped,
    /// It gave up, stopped petting, and the (soft) watchdog fired.
    WatchdogReset,
    /// The daemon refuses to start (damaged store).
    DaemonCannotStart,
    /// The administrator asked for `reboot` and PID 1 (`init`) is our
    /// parent: it reboots the box when we exit with [`EXIT_REBOOT`].
    Reboot,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Stopped => 0,
            Outcome::WatchdogReset => EXIT_WATCHDOG_RESET,
            Outcome::DaemonCannotStart => EXIT_STORE_DAMAGED,
            Outcome::Reboot => EXIT_REBOOT,
        }
    }
}

/// Why one daemon run ended.
enum Ended {
    Exited(ExitStatus),
    Hung(&'static str),
    /// A signal for the supervisor: the daemon has been stopped.
    Stop,
    /// The soft watchdog fired.
    Reset,
}

/// Creates the data directory, owner-only (0700). Part of the supervision
/// contract: the supervisor and a daemon started
/// alone both call it before anything else touches the data directory.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Runs the supervisor until it is stopped or gives up. The global log
/// subscriber must not be installed yet (this installs it).
pub async fn supervise(opts: SuperviseOptions) -> anyhow::Result<Outcome> {
    let dir = &opts.data_dir;
    prepare_data_dir(dir)?;
    let _lock = lock_data_dir(dir)?;
    crate::logging::init(dir, Default::default(), false)?;
    // Everything below in the data directory is done by name through this
    // descriptor: the daemon's user owns the directory (safe_fs).
    let data = safe_fs::Dir::open(dir)
        .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    let limits = opts.board.supervisor;

    let mut watchdog = watchdog::open(&opts.board.watchdog)
        .with_context(|| format!("cannot open the watchdog {}", opts.board.watchdog.kind))?;
    let card_reset = watchdog.caused_last_boot() == Some(true);
    // Anything at the marker's name counts: even a planted link means the
    // last run did not remove it in order.
    let marker = data.exists(BOOT_MARKER).unwrap_or(true);
    let last_boot = if marker || card_reset {
        LastBoot::Unclean
    } else {
        LastBoot::Clean
    };
    let last_stop = match data.read_file(LAST_STOP, 64) {
        Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
        Err(e) => {
            tracing::warn!("ignoring {}: {e}", last_stop_path(dir).display());
            None
        }
    };
    if let Err(e) = data.remove_file(LAST_STOP) {
        tracing::warn!("cannot remove {}: {e}", last_stop_path(dir).display());
    }
    let boot_reason = BootReason::decide(card_reset, marker, last_stop.as_deref());
    data.write_file(
        BOOT_MARKER,
        format!("{}\n", std::process::id()).as_bytes(),
        0o644,
    )
    .context("cannot write the boot marker")?;
    tracing::info!(
        "supervisor {} started (board {}, {}); last boot: {}; boot reason: {}",
        std::process::id(),
        opts.board.name,
        watchdog.describe(),
        last_boot.describe(),
        boot_reason.describe()
    );

    // -- alerts (issue 16): what the daemon sends as alerts. --
    let boot_note = match boot_reason {
        BootReason::Watchdog => Some(alert_notes::AlertNote::new(
            "Critical",
            "Hardware",
            "The watchdog reset the appliance (the mail daemon or the system stopped answering)",
        )),
        BootReason::Unclean => Some(alert_notes::AlertNote::new(
            "Critical",
            "System",
            "The appliance restarted without an orderly shutdown (power loss or crash)",
        )),
        BootReason::PowerOn | BootReason::Reboot => None,
    };
    note(&data, boot_note);
    // -- end alerts --
    // A trial boot that came back to the old slot is a rollback.
    let boot = crate::slots::BootPartition::probe();
    if let Some(line) = boot.settle_after_boot() {
        tracing::error!("upgrade: {line}");
        eprintln!("breakwater: {line}");
        note(
            &data,
            Some(alert_notes::AlertNote::new("Critical", "Updater", line)),
        );
    }
    let trial = boot.trial().filter(|t| Some(t.slot) == boot.running);

    let socket_path = heartbeat::socket_path(dir);
    data.remove_file(heartbeat::SOCKET_NAME)
        .with_context(|| format!("cannot remove the old {}", socket_path.display()))?;
    // bind(2) creates the name and fails on anything already there (a
    // link is not followed): the daemon's user cannot redirect it.
    let beats = UnixDatagram::bind(&socket_path)
        .with_context(|| format!("cannot bind {}", socket_path.display()))?;
    // A daemon that gives up root (the board's `run_as`) must still be
    // able to send its beats: the socket stays owner-only, owned by it.
    // Changed through a descriptor on the socket itself: a name swapped
    // for a link to a root file meanwhile is refused, not followed.
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let daemon_user = match opts.board.run_as.as_deref().map(privilege::resolve) {
        Some(Ok(who)) => Some((who.uid.as_raw(), who.gid.as_raw())),
        // The daemon reports it and exits with EXIT_CANNOT_DROP.
        Some(Err(e)) => {
            tracing::error!("{e:#}");
            None
        }
        None => None,
    };
    let owner = daemon_user.unwrap_or(me);
    data.give_socket(heartbeat::SOCKET_NAME, owner.0, owner.1, 0o600)
        .with_context(|| format!("cannot give {} to the mail daemon", socket_path.display()))?;
    // Without it the box runs; only `upgrade install` is refused.
    let installs = match install::InstallSocket::open(daemon_user) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!("cannot open the install socket: {e}; upgrades are not possible");
            None
        }
    };
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let mut crashes = Crashes::new(limits);
    let mut supervisor = Supervisor {
        opts: &opts,
        data: &data,
        limits,
        watchdog: &mut *watchdog,
        beats,
        last_boot,
        boot_reason,
        console: None,
        frozen: false,
        boot,
        trial,
        installs,
        install_busy: Arc::new(Mutex::new(())),
        discipline: crate::ntp::discipline::Discipline::new(crate::ntp::discipline::RealtimeClock),
        slew_until: None,
    };
    let outcome = loop {
        let mut child = match supervisor.spawn() {
            Ok(c) => c,
            Err(e) => {
                // Cannot even fork/exec: count it like a crash.
                tracing::error!("cannot start the mail daemon: {e:#}");
                match crashes.record(Instant::now()) {
                    Some(delay) => {
                        if supervisor
                            .wait_petting(delay, &mut tick, &mut term, &mut int)
                            .await
                        {
                            break Outcome::Stopped;
                        }
                        continue;
                    }
                    None => break supervisor.give_up(&mut tick, &mut term, &mut int).await,
                }
            }
        };
        let pid = child.id().unwrap_or(0);
        let ended = supervisor
            .watch(&mut child, pid, &mut tick, &mut term, &mut int)
            .await;
        let _ = data.remove_file(PID_FILE);
        let why = match ended {
            Ended::Stop => break Outcome::Stopped,
            Ended::Reset => {
                let _ = child.kill().await;
                break Outcome::WatchdogReset;
            }
            Ended::Exited(status) => match status.code() {
                Some(0) => {
                    tracing::info!("the mail daemon {pid} stopped in order; supervisor stopping");
                    break Outcome::Stopped;
                }
                Some(c) if c == i32::from(EXIT_REBOOT) => {
                    // On the appliance init is our parent and reboots the
                    // box; on a development machine a reboot is a restart.
                    if std::os::unix::process::parent_id() == 1 {
                        tracing::info!(
                            "the mail daemon {pid} stopped for a reboot; asking init to reboot"
                        );
                        break Outcome::Reboot;
                    }
                    tracing::info!(
                        "the mail daemon {pid} stopped for a restart; starting it again"
                    );
                    continue;
                }
                Some(c) if c == i32::from(privilege::EXIT_CANNOT_DROP) => {
                    tracing::error!(
                        "the mail daemon cannot give up root (the board's run_as user; see its message); not restarting it"
                    );
                    eprintln!(
                        "breakwater: the mail daemon cannot run as the board's run_as user; the supervisor will not restart it. See docs/decisions/0006-least-privilege.md."
                    );
                    break Outcome::DaemonCannotStart;
                }
                Some(c) if c == i32::from(EXIT_CONFIG_TOO_NEW) => {
                    tracing::error!(
                        "the mail daemon cannot start: the configuration was written by a newer firmware; not restarting it (boot the newer firmware's slot)"
                    );
                    eprintln!(
                        "breakwater: the configuration was written by a newer firmware; this firmware will not start the mail daemon. Boot the newer firmware again."
                    );
                    break Outcome::DaemonCannotStart;
                }
                Some(c) if c == i32::from(EXIT_STORE_DAMAGED) && limits.auto_salvage => {
                    // The daemon has exited: the store is free.
                    tracing::error!(
                        "the mail daemon cannot start: its database is damaged; salvaging it (auto_salvage)"
                    );
                    // Not as root: in a child, as the owner of the data
                    // directory (the daemon's user).
                    match salvage_as_owner(dir).await {
                        Ok(report) => {
                            tracing::warn!("{report}");
                            eprintln!("breakwater: {report}");
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(
                                "database salvage failed: {e}; not restarting the mail daemon"
                            );
                            eprintln!("breakwater: database salvage failed: {e}");
                            break Outcome::DaemonCannotStart;
                        }
                    }
                }
                Some(c) if c == i32::from(EXIT_STORE_DAMAGED) => {
                    tracing::error!(
                        "the mail daemon cannot start: its database is damaged (see the daemon's message and docs/operations.md); not restarting it"
                    );
                    eprintln!(
                        "breakwater: the mail daemon cannot start (damaged database); the supervisor will not restart it. See docs/operations.md, \"Damaged database\"."
                    );
                    break Outcome::DaemonCannotStart;
                }
                _ => format!("exited ({status})"),
            },
            Ended::Hung(why) => {
                tracing::error!("the mail daemon {pid} {why}; killing it");
                let _ = child.kill().await;
                why.to_string()
            }
        };
        match crashes.record(Instant::now()) {
            Some(delay) => {
                tracing::warn!(
                    "the mail daemon {pid} {why}; crash {} of {} allowed in {} s; restarting in {} ms",
                    crashes.count(),
                    limits.max_crashes,
                    limits.crash_window_secs,
                    delay.as_millis()
                );
                note(
                    &data,
                    Some(alert_notes::AlertNote::new(
                        "Critical",
                        "System",
                        format!(
                            "The mail daemon {why}; the supervisor restarted it (crash {} of {} allowed in {} s)",
                            crashes.count(),
                            limits.max_crashes,
                            limits.crash_window_secs
                        ),
                    )),
                );
                if supervisor
                    .wait_petting(delay, &mut tick, &mut term, &mut int)
                    .await
                {
                    break Outcome::Stopped;
                }
            }
            None => {
                tracing::error!(
                    "the mail daemon {pid} {why}: {} crashes within {} s; giving up",
                    crashes.count(),
                    limits.crash_window_secs
                );
                break supervisor.give_up(&mut tick, &mut term, &mut int).await;
            }
        }
    };
    if let Some(console) = supervisor.console.take() {
        // Dropping the task kills the console process (kill_on_drop).
        console.abort();
        let _ = console.await;
    }
    let _ = data.remove_file(heartbeat::SOCKET_NAME);
    match outcome {
        Outcome::Stopped | Outcome::DaemonCannotStart | Outcome::Reboot => {
            // On the appliance init writes it again as it goes down (it
            // knows whether a SIGTERM means reboot or power-off).
            let word = if outcome == Outcome::Reboot {
                "reboot\n"
            } else {
                "power-off\n"
            };
            if let Err(e) = data.write_file(LAST_STOP, word.as_bytes(), 0o644) {
                tracing::error!("cannot record the stop: {e}");
            }
            if let Err(e) = watchdog.disarm() {
                tracing::error!("watchdog magic close failed: {e}");
            }
            let _ = data.remove_file(BOOT_MARKER);
            tracing::info!("supervisor stopped");
        }
        Outcome::WatchdogReset => {
            // The marker stays: the next start reports an unclean boot.
            tracing::error!("watchdog would reset the box now");
            eprintln!("breakwater: watchdog would reset the box now (supervisor gave up)");
        }
    }
    Ok(outcome)
}

/// The supervisor's last clock action, `<time> <action>` on one line, in
/// the data directory (read by the daemon for `ntpconfig status`).
pub const CLOCK_ACTION_FILE: &str = "clock-action";

/// Waits until `deadline`, or forever when there is none.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

struct Supervisor<'a> {
    opts: &'a SuperviseOptions,
    /// The data directory's descriptor (see [`safe_fs`]).
    data: &'a safe_fs::Dir,
    limits: SupervisorLimits,
    watchdog: &'a mut dyn Watchdog,
    beats: UnixDatagram,
    last_boot: LastBoot,
    boot_reason: BootReason,
    /// `debughang supervisor`: the supervisor stops petting the watchdog
    /// for good, as if it had hung, so the box resets.
    frozen: bool,
    boot: crate::slots::BootPartition,
    /// An upgrade on trial in the running slot: made permanent once the
    /// daemon has stayed healthy for [`TRIAL_HEALTHY`].
    trial: Option<crate::slots::Trial>,
    /// The serial console, started once the first daemon is up.
    console: Option<tokio::task::JoinHandle<()>>,
    /// Where the daemon hands over upgrade packages (`None`: it could not
    /// be created; `upgrade install` is refused).
    installs: Option<install::InstallSocket>,
    /// Held while a package is verified and written: one at a time.
    install_busy: Arc<Mutex<()>>,
    /// NTP (issue 16): step at boot, slew after; lives as long as the
    /// supervisor, i.e. since boot, across daemon restarts.
    discipline: crate::ntp::discipline::Discipline<crate::ntp::discipline::RealtimeClock>,
    /// When the slew under way has absorbed its offset.
    slew_until: Option<tokio::time::Instant>,
}

impl Supervisor<'_> {
    fn spawn(&mut self) -> anyhow::Result<Child> {
        let exe = std::env::current_exe().context("cannot find the breakwater binary")?;
        let mut cmd = Command::new(exe);
        cmd.arg("daemon")
            .arg("--data-dir")
            .arg(&self.opts.data_dir)
            .args(&self.opts.board_args)
            .arg("--supervisor-pid")
            .arg(std::process::id().to_string())
            .arg("--heartbeat-socket")
            .arg(heartbeat::socket_path(&self.opts.data_dir))
            .arg("--last-boot")
            .arg(self.last_boot.as_arg())
            .arg("--boot-reason")
            .arg(self.boot_reason.as_arg())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // glibc gives each thread that allocates under contention its
            // own arena (up to 8 per core), and the blocking pool's threads
            // come and go with load: the arenas' fragments kept the
            // daemon's RSS up after a burst of 1,000 sessions
            // (docs/performance.md, "Memory"). Two arenas cost nothing
            // measurable in throughput on the 2-core appliance.
            cmd.env("MALLOC_ARENA_MAX", "2");
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // A fixed mmap threshold (glibc's default, 128 KiB): glibc
            // otherwise raises it to the size of every large block freed.
            // An Argon2 password hash takes 19 MiB by design (at start and
            // at each login); once freed, every later block up to that
            // size came from the heap and stayed resident. Fixed, large
            // blocks go back to the system when freed: 47 -> 29 MiB with
            // no client (decision 0026).
            cmd.env("MALLOC_MMAP_THRESHOLD_", "131072");
        }
        if let Some(installs) = &self.installs {
            cmd.arg("--install-socket").arg(&installs.path);
        }
        if self.opts.quiet {
            cmd.arg("--quiet");
        }
        let child = cmd.spawn().context("cannot spawn the mail daemon")?;
        let pid = child.id().unwrap_or(0);
        self.data
            .write_file(PID_FILE, format!("{pid}\n").as_bytes(), 0o644)
            .context("cannot write daemon.pid")?;
        tracing::info!("started the mail daemon, pid {pid}");
        Ok(child)
    }

    /// Pets the watchdog unless `given_up` (or frozen); true when it fired.
    fn pet(&mut self, given_up: bool) -> bool {
        if !given_up
            && !self.frozen
            && let Err(e) = self.watchdog.pet()
        {
            tracing::error!("cannot pet the watchdog: {e}");
        }
        self.watchdog.expired()
    }

    /// Until the daemon exits, hangs, or the supervisor is told to stop.
    async fn watch(
        &mut self,
        child: &mut Child,
        pid: u32,
        tick: &mut tokio::time::Interval,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> Ended {
        let started = Instant::now();
        let start_timeout = Duration::from_secs(self.limits.start_timeout_secs.into());
        let beat_timeout = Duration::from_secs(self.limits.heartbeat_timeout_secs.into());
        let mut last_beat: Option<Instant> = None;
        let mut buf = [0u8; 64];
        loop {
            tokio::select! {
                status = child.wait() => {
                    return match status {
                        Ok(s) => Ended::Exited(s),
                        Err(_) => Ended::Hung("cannot be waited for"),
                    };
                }
                received = self.beats.recv(&mut buf) => {
                    if let Ok(n) = received
                        && heartbeat::parse_hang(&buf[..n]) == Some(pid)
                        && !self.frozen
                    {
                        self.frozen = true;
                        tracing::error!(
                            "debughang supervisor: the supervisor stops petting the watchdog now, as if it had hung; {} should reset the box in about {} s",
                            self.watchdog.describe(),
                            self.opts.board.watchdog.timeout_secs
                        );
                        eprintln!("breakwater: debughang supervisor: no longer petting the watchdog");
                    }
                    // ntp (issue 16): the daemon has no CAP_SYS_TIME; the
                    // supervisor sets the clock for it (ntp::clock).
                    if let Ok(n) = received
                        && let Some(request) = crate::ntp::clock::ClockRequest::parse(&buf[..n])
                        && request.pid() == pid
                    {
                        self.clock_request(request);
                    }
                    if let Ok(n) = received
                        && Beat::parse(&buf[..n]).is_some_and(|b| b.pid == pid)
                    {
                        if last_beat.is_none() {
                            tracing::info!(
                                "the mail daemon {pid} is up (first heartbeat after {} ms)",
                                started.elapsed().as_millis()
                            );
                            // The console's login banner comes from the
                            // daemon: start it once there is one to ask.
                            if self.console.is_none() {
                                self.console = start_console(self.opts);
                            }
                        }
                        last_beat = Some(Instant::now());
                    }
                }
                _ = sleep_until_some(self.slew_until) => {
                    self.slew_until = None;
                    match self.discipline.end_slew() {
                        Ok(()) => tracing::info!("NTP: the slew is done; the clock runs at its own frequency again"),
                        Err(e) => tracing::warn!("NTP: cannot end the slew: {e}"),
                    }
                }
                accepted = accept_install(self.installs.as_ref()) => {
                    if let Ok((stream, _)) = accepted {
                        self.hand_install(stream, pid);
                    }
                }
                _ = tick.tick() => {
                    let healthy = match last_beat {
                        None => started.elapsed() < start_timeout,
                        Some(t) => t.elapsed() < beat_timeout,
                    };
                    if !healthy {
                        return Ended::Hung(if last_beat.is_none() {
                            "did not start in time (no heartbeat)"
                        } else {
                            "stopped answering (no heartbeat)"
                        });
                    }
                    if self.pet(false) {
                        return Ended::Reset;
                    }
                    if last_beat.is_some() && started.elapsed() >= TRIAL_HEALTHY {
                        self.confirm_trial();
                    }
                }
                _ = term.recv() => {
                    self.stop_daemon(child, pid, "SIGTERM").await;
                    return Ended::Stop;
                }
                _ = int.recv() => {
                    self.stop_daemon(child, pid, "SIGINT").await;
                    return Ended::Stop;
                }
            }
        }
    }

    /// The daemon's `clock` datagram (ntp::clock): `settime` steps at
    /// once; an NTP offset goes through the discipline (ntp::discipline).
    /// The last action is left in [`CLOCK_ACTION_FILE`] for `ntpconfig
    /// status` (the daemon reads it; the supervisor never reads config).
    fn clock_request(&mut self, request: crate::ntp::clock::ClockRequest) {
        use crate::ntp::clock::{ClockRequest, apply};
        use crate::ntp::discipline::ClockAction;
        let line = match request {
            ClockRequest::Step { .. } => {
                self.slew_until = None;
                match self.discipline.forced_step(|| apply(request)) {
                    Ok(t) => {
                        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(
                            i64::try_from(t).unwrap_or(i64::MAX),
                        );
                        tracing::info!(
                            "the clock is set to {at} (asked by the mail daemon: {})",
                            request.emit()
                        );
                        format!("set to {} by settime", at.format("%Y-%m-%d %H:%M:%S UTC"))
                    }
                    Err(e) => {
                        tracing::warn!("the mail daemon's clock request: {e}");
                        format!("settime failed: {e}")
                    }
                }
            }
            ClockRequest::Offset { nanos, .. } => match self.discipline.offset(nanos) {
                Ok(action) => {
                    self.slew_until = match action {
                        ClockAction::Slew { secs, .. } => {
                            Some(tokio::time::Instant::now() + Duration::from_secs_f64(secs))
                        }
                        ClockAction::Step { .. } | ClockAction::Ignore => None,
                        ClockAction::Refuse { .. } => self.slew_until,
                    };
                    match action {
                        ClockAction::Refuse { .. } => tracing::warn!("NTP: {action}"),
                        _ => tracing::info!("NTP: {action}"),
                    }
                    action.to_string()
                }
                Err(e) => {
                    tracing::warn!("NTP: cannot correct the clock: {e}");
                    format!("correction failed: {e}")
                }
            },
        };
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        if let Err(e) = self.data.write_file(
            CLOCK_ACTION_FILE,
            format!("{now} {line}\n").as_bytes(),
            0o644,
        ) {
            tracing::warn!("NTP: cannot record the clock action: {e}");
        }
    }

    /// A connection on the install socket: served (on a blocking thread:
    /// hashing and writing a slot take seconds, and the watchdog must be
    /// petted meanwhile) only when it comes from the current daemon.
    fn hand_install(&self, stream: tokio::net::UnixStream, pid: u32) {
        let peer = stream.peer_cred().ok().and_then(|c| c.pid());
        if peer != i32::try_from(pid).ok() {
            tracing::warn!(
                "upgrade: install socket: a connection from pid {peer:?}, not the mail daemon {pid}: closed"
            );
            return;
        }
        let stream = match stream.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("upgrade: install socket: {e}");
                return;
            }
        };
        let boot = self.boot.clone();
        let board = self.opts.board.name.clone();
        let keys = crate::upgrade::keys_dir(&self.opts.board);
        let busy = self.install_busy.clone();
        tokio::task::spawn_blocking(move || install::serve(stream, &boot, &board, &keys, &busy));
    }

    /// The firmware on trial has been healthy long enough: permanent.
    fn confirm_trial(&mut self) {
        let Some(trial) = self.trial.take() else {
            return;
        };
        match self.boot.confirm(&trial) {
            Ok(()) => {
                let line = format!(
                    "Breakwater {} in slot {} came up healthy; it is now the default",
                    trial.version,
                    trial.slot.label()
                );
                tracing::info!("upgrade: {line}");
                note(
                    self.data,
                    Some(alert_notes::AlertNote::new(
                        "Information",
                        "Updater",
                        format!("Upgrade installed: {line}"),
                    )),
                );
            }
            Err(e) => tracing::error!(
                "upgrade: cannot make slot {} permanent: {e}",
                trial.slot.label()
            ),
        }
    }

    /// Forwards SIGTERM; SIGKILL after `stop_timeout_secs`.
    async fn stop_daemon(&mut self, child: &mut Child, pid: u32, got: &str) {
        let timeout = Duration::from_secs(self.limits.stop_timeout_secs.into());
        tracing::info!("{got} received: stopping the mail daemon {pid}");
        if let Ok(raw) = i32::try_from(pid)
            && raw > 0
        {
            let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
        }
        let waited = {
            // Keep petting while the daemon drains: a long flush is not a hang.
            let deadline = Instant::now() + timeout;
            loop {
                tokio::select! {
                    s = child.wait() => break s.ok(),
                    _ = tokio::time::sleep_until(deadline) => break None,
                    _ = tokio::time::sleep(TICK) => { self.pet(false); }
                }
            }
        };
        match waited {
            Some(status) => tracing::info!("the mail daemon {pid} stopped ({status})"),
            None => {
                tracing::error!(
                    "the mail daemon {pid} did not stop within {} s; killing it",
                    timeout.as_secs()
                );
                let _ = child.kill().await;
            }
        }
    }

    /// Sleeps `delay` while petting; true when told to stop meanwhile.
    async fn wait_petting(
        &mut self,
        delay: Duration,
        tick: &mut tokio::time::Interval,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> bool {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return false,
                _ = tick.tick() => { self.pet(false); }
                _ = term.recv() => return true,
                _ = int.recv() => return true,
            }
        }
    }

    /// Stops petting and waits for the watchdog to reset the box (a device
    /// watchdog takes the supervisor with it; the soft one returns).
    async fn give_up(
        &mut self,
        tick: &mut tokio::time::Interval,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> Outcome {
        tracing::error!(
            "supervisor gave up on the mail daemon: no longer petting the watchdog ({})",
            self.watchdog.describe()
        );
        eprintln!("breakwater: the mail daemon keeps failing; supervisor gave up");
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.pet(true) {
                        return Outcome::WatchdogReset;
                    }
                }
                // An operator may still stop the box in order.
                _ = term.recv() => return Outcome::Stopped,
                _ = int.recv() => return Outcome::Stopped,
            }
        }
    }
}

/// The next connection on the install socket; never, without one.
async fn accept_install(
    installs: Option<&install::InstallSocket>,
) -> std::io::Result<(tokio::net::UnixStream, tokio::net::unix::SocketAddr)> {
    match installs {
        Some(s) => s.listener.accept().await,
        None => std::future::pending().await,
    }
}

/// One supervisor per data directory: a second one would fight the first
/// over the heartbeat socket and the daemon. The lock file is opened by
/// name without following a link, and must be a regular file with one
/// name (root opens it for writing).
pub fn lock_data_dir(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    use nix::fcntl::{Flock, FlockArg};
    let path = dir.join(LOCK_FILE);
    let access = safe_fs::Access {
        write: true,
        append: false,
        create: Some(0o600),
        truncate: false,
    };
    let file = safe_fs::Dir::open(dir)
        .and_then(|d| match d.open_regular(LOCK_FILE, access) {
            // A link, a FIFO or a hard link planted at the name cannot be
            // a lock another supervisor holds (that is a regular file
            // with one name): replace it rather than refuse to start.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                d.remove_file(LOCK_FILE)?;
                d.open_regular(LOCK_FILE, access)
            }
            other => other,
        })
        .with_context(|| format!("cannot open {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!("another supervisor is running on {} ({e})", dir.display())
    })
}

/// Salvages the store in `dir` in a child process, `breakwater salvage
/// --supervised`, which runs as the owner of the data directory (the
/// daemon's user on a board with `run_as`; see [`breakwater_store::salvage`]): a
/// salvage reads and copies a damaged store, which is the daemon's data
/// and may have been shaped by whoever owned the daemon. The supervisor
/// holds the data directory's lock meanwhile. The report (the child's
/// output) on success.
pub async fn salvage_as_owner(dir: &Path) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the breakwater binary")?;
    let out = Command::new(exe)
        .arg("salvage")
        .arg("--data-dir")
        .arg(dir)
        .arg("--supervised")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot start breakwater salvage")?;
    let said = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        Ok(said(&out.stdout))
    } else {
        anyhow::bail!("{} ({})", said(&out.stderr), out.status)
    }
}

// -- alerts (issue 16) --
/// Leaves `note` for the mail daemon to send as an alert; a failure to
/// write it is logged, never fatal.
fn note(data: &safe_fs::Dir, note: Option<alert_notes::AlertNote>) {
    if let Some(Err(e)) = note.map(|n| alert_notes::append(data, &n)) {
        tracing::warn!("cannot leave an alert note for the mail daemon: {e}");
    }
}
// -- end alerts --
