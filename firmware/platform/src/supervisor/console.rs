//! The serial console as the supervisor's second child.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

use super::SuperviseOptions;

/// A console that failed within this long after starting backs off.
const CONSOLE_STABLE: Duration = Duration::from_secs(60);
const CONSOLE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// On a board whose console is a serial device (not `stdio`), keeps
/// `breakwater console --device DEV --baud BAUD` running on it, apart from
/// the daemon: the console stays at `login:` while the daemon restarts.
/// Restarted 1 s after it exits, backing off (doubling, up to 30 s) while
/// it keeps failing at once (a missing device). Aborting the task kills it.
pub(super) fn start_console(opts: &SuperviseOptions) -> Option<tokio::task::JoinHandle<()>> {
    let device = opts.board.serial_console()?.to_string();
    let baud = opts.board.console.baud;
    let data_dir = opts.data_dir.clone();
    Some(tokio::spawn(async move {
        let initial = Duration::from_secs(1);
        // Doubled before the first wait: a console that fails at once
        // waits 1 s, then 2 s, 4 s...
        let mut delay = initial / 2;
        loop {
            let started = Instant::now();
            let spawned = std::env::current_exe().and_then(|exe| {
                Command::new(exe)
                    .arg("console")
                    .arg("--data-dir")
                    .arg(&data_dir)
                    .arg("--device")
                    .arg(&device)
                    .arg("--baud")
                    .arg(baud.to_string())
                    .stdin(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
            });
            let why = match spawned {
                Ok(mut child) => {
                    let pid = child.id().unwrap_or(0);
                    tracing::info!("started the console on {device} ({baud} baud), pid {pid}");
                    match child.wait().await {
                        Ok(status) => format!("the console {pid} on {device} exited ({status})"),
                        Err(e) => {
                            format!("the console {pid} on {device} cannot be waited for: {e}")
                        }
                    }
                }
                Err(e) => format!("cannot start the console on {device}: {e}"),
            };
            delay = if started.elapsed() >= CONSOLE_STABLE {
                initial
            } else {
                (delay * 2).min(CONSOLE_BACKOFF_MAX)
            };
            tracing::warn!("{why}; restarting it in {} ms", delay.as_millis());
            tokio::time::sleep(delay).await;
        }
    }))
}
