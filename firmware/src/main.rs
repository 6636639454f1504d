//! `breakwater`: the one multi-call binary of the appliance.
//!
//! - `breakwater run`: the supervisor, which runs the mail daemon as its
//!   child, restarts it and pets the watchdog (on a development machine:
//!   the `dev` board, a soft watchdog, its own data directory);
//! - `breakwater daemon` (internal): the mail daemon itself, started by the
//!   supervisor;
//! - `breakwater cli COMMAND ...`: one command against the running daemon;
//! - `breakwater init` (also when started as PID 1 under a name ending in
//!   `init`, e.g. `/init`): PID 1 on the appliance image (see
//!   `breakwater::init`);
//! - `breakwater console`: the interactive console (login, menus) on this
//!   terminal or on a serial device, against the running daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use breakwater::control;
use breakwater::daemon::{
    self, CannotDropPrivileges, ConfigTooNew, RunOptions, Stopped, StoreDamaged,
};
use breakwater::supervisor::{self, BootReason, LastBoot, SuperviseOptions};
use breakwater_board::BoardProfile;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "breakwater",
    version,
    about = "Breakwater email security gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct DaemonArgs {
    /// The data directory ("flash"): configuration, queue and logs.
    #[arg(long, env = "BREAKWATER_DATA_DIR", default_value = "breakwater-data")]
    data_dir: PathBuf,
    /// A built-in board profile.
    #[arg(long, default_value = "dev")]
    board: String,
    /// A board profile file (overrides --board).
    #[arg(long)]
    board_file: Option<PathBuf>,
    /// Do not echo the mail log on standard error.
    #[arg(long)]
    quiet: bool,
}

impl DaemonArgs {
    fn profile(&self) -> anyhow::Result<BoardProfile> {
        Ok(match &self.board_file {
            Some(path) => BoardProfile::from_file(path)?,
            None => BoardProfile::builtin(&self.board)?,
        })
    }

    /// The same board, as arguments for the daemon child.
    fn board_args(&self) -> Vec<std::ffi::OsString> {
        match &self.board_file {
            Some(path) => vec!["--board-file".into(), path.into()],
            None => vec!["--board".into(), self.board.clone().into()],
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// PID 1 on the appliance image: mounts, modules, NICs, the data
    /// partition, then the supervisor (`run`) as its child.
    Init {
        /// A built-in board profile (default: `breakwater.board=` on the
        /// kernel command line, then /etc/breakwater/board, then vesa).
        #[arg(long)]
        board: Option<String>,
    },
    /// Run the gateway in the foreground: the supervisor and, as its
    /// child, the mail daemon.
    Run {
        #[command(flatten)]
        common: DaemonArgs,
    },
    /// The mail daemon alone (started by `run`; not for operators).
    #[command(hide = true)]
    Daemon {
        #[command(flatten)]
        common: DaemonArgs,
        /// The supervisor's PID: the daemon dies with it.
        #[arg(long)]
        supervisor_pid: Option<i32>,
        /// The supervisor's heartbeat socket.
        #[arg(long)]
        heartbeat_socket: Option<PathBuf>,
        /// The supervisor's install socket (`upgrade install`).
        #[arg(long)]
        install_socket: Option<PathBuf>,
        /// How the box last stopped: clean or unclean.
        #[arg(long)]
        last_boot: Option<String>,
        /// Why the box started: power-on, reboot, watchdog or unclean.
        #[arg(long)]
        boot_reason: Option<String>,
    },
    /// Move a damaged database and its spool aside and build a new store
    /// from whatever it still yields (the gateway must be stopped).
    ///
    /// Started as root, it runs as the owner of the data directory (the
    /// mail daemon's user on a board with `run_as`).
    Salvage {
        #[arg(long, env = "BREAKWATER_DATA_DIR", default_value = "breakwater-data")]
        data_dir: PathBuf,
        /// Started by the supervisor, which holds the data directory's
        /// lock (not for operators).
        #[arg(long, hide = true)]
        supervised: bool,
    },
    /// Run one CLI command against the running daemon.
    Cli {
        #[arg(long, env = "BREAKWATER_DATA_DIR", default_value = "breakwater-data")]
        data_dir: PathBuf,
        /// The command and its arguments, e.g. `smtproutes print`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// The interactive console (login, AsyncOS-style menus) on this
    /// terminal, or on a serial device, against the running daemon.
    Console {
        #[arg(long, env = "BREAKWATER_DATA_DIR", default_value = "breakwater-data")]
        data_dir: PathBuf,
        /// A serial device such as /dev/ttyS0 (default: this terminal).
        #[arg(long)]
        device: Option<PathBuf>,
        /// The serial device's baud rate.
        #[arg(long, default_value_t = 115200)]
        baud: u32,
    },
}

/// Threads of the runtime's blocking pool (see [`runtime`]).
const MAX_BLOCKING_THREADS: usize = 64;

/// The async runtime, built per role: the mail daemon first does what
/// needs root (and gives it up) while it has only one thread.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is short file I/O (spool appends, the group
        // commit's syncs, log search): 64 threads keep a 2-core box busy,
        // where tokio's default of 512 let a burst of 1,000 sessions
        // start hundreds of threads, each with its stack and malloc state.
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("breakwater: cannot start the runtime: {e}");
            None
        }
    }
}

/// The daemon's exit status for an error that ends it.
fn daemon_failed(e: &anyhow::Error) -> ExitCode {
    eprintln!("breakwater: {e:#}");
    if e.downcast_ref::<StoreDamaged>().is_some() {
        ExitCode::from(supervisor::EXIT_STORE_DAMAGED)
    } else if e.downcast_ref::<CannotDropPrivileges>().is_some() {
        ExitCode::from(supervisor::privilege::EXIT_CANNOT_DROP)
    } else if e.downcast_ref::<ConfigTooNew>().is_some() {
        ExitCode::from(supervisor::EXIT_CONFIG_TOO_NEW)
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    // The image starts the binary as /init with no arguments.
    if breakwater::init::invoked_as_init() {
        breakwater::init::main(None);
    }
    // A child of init inherits the signals init blocks: unblock them
    // before any thread starts, or the supervisor would not hear SIGTERM.
    breakwater::init::unblock_inherited_signals();
    let cli = Cli::parse();
    match cli.command {
        // Before any runtime exists: init blocks signals in its only thread.
        Command::Init { board } => breakwater::init::main(board),
        Command::Run { common } => {
            let Some(runtime) = runtime() else {
                return ExitCode::FAILURE;
            };
            let result = runtime.block_on(async {
                supervisor::supervise(SuperviseOptions {
                    data_dir: common.data_dir.clone(),
                    board: common.profile()?,
                    board_args: common.board_args(),
                    quiet: common.quiet,
                })
                .await
                .context("breakwater supervisor")
            });
            match result {
                Ok(outcome) => ExitCode::from(outcome.exit_code()),
                Err(e) => {
                    eprintln!("breakwater: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Daemon {
            common,
            supervisor_pid,
            heartbeat_socket,
            install_socket,
            last_boot,
            boot_reason,
        } => {
            if let Some(parent) = supervisor_pid
                && let Err(e) = die_with_supervisor(parent)
            {
                eprintln!("breakwater daemon: {e}");
                return ExitCode::FAILURE;
            }
            let board = match common.profile() {
                Ok(b) => b,
                Err(e) => return daemon_failed(&e.context("breakwater daemon")),
            };
            let opts = RunOptions {
                data_dir: common.data_dir.clone(),
                board,
                echo_logs: !common.quiet,
                heartbeat: heartbeat_socket,
                install_socket,
                last_boot: last_boot.as_deref().and_then(LastBoot::from_arg),
                boot_reason: boot_reason.as_deref().and_then(BootReason::from_arg),
            };
            // Before any runtime thread: this is where a board with
            // `run_as` binds its ports and gives up root.
            let opened = match daemon::open(&opts) {
                Ok(o) => o,
                Err(e) => return daemon_failed(&e.context("breakwater daemon")),
            };
            // Changing credentials clears the parent-death signal: arm it again.
            if opts.board.run_as.is_some()
                && let Some(parent) = supervisor_pid
                && let Err(e) = die_with_supervisor(parent)
            {
                eprintln!("breakwater daemon: {e}");
                return ExitCode::FAILURE;
            }
            let Some(runtime) = runtime() else {
                return ExitCode::FAILURE;
            };
            let result = runtime
                .block_on(async { daemon::run(opts, opened).await.context("breakwater daemon") });
            match result {
                Ok(Stopped::Shutdown) => ExitCode::SUCCESS,
                Ok(Stopped::Reboot) => ExitCode::from(supervisor::EXIT_REBOOT),
                Err(e) => daemon_failed(&e),
            }
        }
        Command::Console {
            data_dir,
            device,
            baud,
        } => run_console(data_dir, device, baud),
        Command::Salvage {
            data_dir,
            supervised,
        } => {
            let _lock = if supervised {
                None
            } else {
                match supervisor::lock_data_dir(&data_dir) {
                    Ok(lock) => Some(lock),
                    Err(e) => {
                        eprintln!("breakwater salvage: {e:#}; stop Breakwater first");
                        return ExitCode::FAILURE;
                    }
                }
            };
            // A damaged store is the daemon's data, possibly shaped by
            // whoever owned the daemon: never worked on as root.
            if let Err(e) = supervisor::privilege::drop_to_owner_of(&data_dir) {
                eprintln!("breakwater salvage: cannot run as the data directory's owner: {e:#}");
                return ExitCode::FAILURE;
            }
            match breakwater::salvage::salvage(&data_dir) {
                Ok(report) => {
                    println!("{}", report.describe());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("breakwater salvage: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Cli { data_dir, args } => {
            let args = match control::command_words(args) {
                Ok(args) => args,
                Err(e) => {
                    eprintln!("breakwater cli: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let user = std::env::var("USER").unwrap_or_else(|_| "admin".to_string());
            // A pasted filter script or test message comes on a pipe or a
            // file (`filters new < script`); a terminal is never read, and
            // only the commands that take a body read it at all (a script
            // that runs `breakwater cli status` with an open pipe as its
            // stdin must not hang).
            let takes_body = args
                .first()
                .and_then(|c| control::catalog::find(c))
                .is_some_and(|c| c.reads_paste);
            let stdin = {
                use std::io::{IsTerminal, Read};
                let mut text = String::new();
                let input = std::io::stdin();
                (takes_body && !input.is_terminal())
                    .then(|| {
                        input
                            .lock()
                            .take(control::MAX_REQUEST)
                            .read_to_string(&mut text)
                            .ok()
                    })
                    .flatten()
                    .map(|_| text)
            };
            let request = control::Request { args, stdin, user };
            let Some(runtime) = runtime() else {
                return ExitCode::FAILURE;
            };
            match runtime.block_on(control::call(&data_dir, &request)) {
                Ok(resp) if resp.ok => {
                    use std::io::Write;
                    let mut text = resp.output;
                    if !text.ends_with('\n') && !text.is_empty() {
                        text.push('\n');
                    }
                    // A reader that went away (`| head`) is not an error.
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Ok(resp) => {
                    eprintln!("{}", resp.output);
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("breakwater cli: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The daemon is killed when its supervisor dies (`PR_SET_PDEATHSIG`), so
/// a killed supervisor never leaves an unsupervised daemon holding the
/// database and the ports. Checked after arming: a supervisor that died
/// before the call would otherwise go unnoticed.
fn die_with_supervisor(parent: i32) -> anyhow::Result<()> {
    use nix::sys::signal::Signal;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).context("PR_SET_PDEATHSIG")?;
    let actual = nix::unistd::getppid().as_raw();
    anyhow::ensure!(
        actual == parent,
        "the supervisor {parent} is gone (parent is now {actual})"
    );
    Ok(())
}

/// `breakwater console`: a terminal logs out once and exits; a serial
/// device shows `login:` again after each logout, like a getty.
fn run_console(data_dir: PathBuf, device: Option<PathBuf>, baud: u32) -> ExitCode {
    use breakwater::console::{self, ConsoleOptions, DaemonLink};
    let opened = match &device {
        Some(path) => console::port::serial(path, baud),
        None => console::port::stdio(),
    };
    let (port, _raw) = match opened {
        Ok(p) => p,
        Err(e) => {
            eprintln!("breakwater console: cannot open the terminal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tty = match &device {
        Some(path) => path.file_name().map_or_else(
            || "serial".to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        None => nix::unistd::ttyname(std::io::stdin())
            .map(|p| p.to_string_lossy().trim_start_matches("/dev/").to_string())
            .unwrap_or_else(|_| "console".to_string()),
    };
    let options = ConsoleOptions {
        tty,
        exit_after_logout: device.is_none(),
        // The serial device is the box's own console: it slows down
        // after failed logins but never locks (docs/console.md).
        origin: if device.is_some() {
            console::Origin::Serial
        } else {
            console::Origin::Network
        },
        ..ConsoleOptions::default()
    };
    match console::run(port, DaemonLink::new(data_dir), options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("breakwater console: {e}");
            ExitCode::FAILURE
        }
    }
}
