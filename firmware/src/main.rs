//! `breakwater`: the one multi-call binary of the appliance.
//!
//! - `breakwater run`: the mail daemon (on a development machine, on the
//!   `dev` board with its own data directory);
//! - `breakwater cli COMMAND ...`: one command against the running daemon;
//! - `breakwater console`: the interactive console (login, menus) on this
//!   terminal or on a serial device, against the running daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use breakwater::control;
use breakwater::daemon::{self, RunOptions};
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

#[derive(Subcommand)]
enum Command {
    /// Run the mail daemon in the foreground.
    Run {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("breakwater: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Run {
            data_dir,
            board,
            board_file,
            quiet,
        } => {
            let result = runtime.block_on(async {
                let board = match board_file {
                    Some(path) => BoardProfile::from_file(&path)?,
                    None => BoardProfile::builtin(&board)?,
                };
                daemon::run(RunOptions {
                    data_dir,
                    board,
                    echo_logs: !quiet,
                })
                .await
                .context("breakwater daemon")
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("breakwater: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Console {
            data_dir,
            device,
            baud,
        } => run_console(data_dir, device, baud),
        Command::Cli { data_dir, args } => {
            let user = std::env::var("USER").unwrap_or_else(|_| "admin".to_string());
            // A pasted filter script or test message comes on a pipe or a
            // file (`filters new < script`); a terminal is never read.
            let stdin = {
                use std::io::{IsTerminal, Read};
                let mut text = String::new();
                let input = std::io::stdin();
                (!input.is_terminal())
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
            match runtime.block_on(control::call(&data_dir, &request)) {
                Ok(resp) if resp.ok => {
                    print!("{}", resp.output);
                    if !resp.output.ends_with('\n') && !resp.output.is_empty() {
                        println!();
                    }
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
