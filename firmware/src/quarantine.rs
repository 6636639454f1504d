//! Local quarantines, as the administrator reaches them: `quarantine list`,
//! `show`, `release`, `delete`.
//!
//! Held messages stay in the queue with a hold on their record (see
//! `workqueue::processing`); the work queue owns them, so these commands run
//! inside its task. The work queue registers itself here when it starts
//! ([`attach`]) and the control plane's command, which runs on a blocking
//! thread of the daemon's runtime, asks it through [`run`].
//!
//! The data directory lives here too ([`data_dir`]): the filters'
//! `archive()` writes mbox files under `<data-dir>/archive/`.
//!
//! Exposure: reached only through the owner-only control socket.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::workqueue::WorkQueueHandle;

pub const USAGE: &str = "\
usage: quarantine list [QUARANTINE]
       quarantine show <MID>
       quarantine release <MID>
       quarantine delete <MID>";

static LIVE: Mutex<Option<WorkQueueHandle>> = Mutex::new(None);

/// The running work queue (the last one started in this process).
pub fn attach(handle: WorkQueueHandle) {
    *LIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
}

/// Runs a `quarantine` command (`args` without the word `quarantine`).
/// Must be called from a blocking thread of the daemon's runtime.
pub fn run(args: &[String]) -> Result<String, String> {
    let handle = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or("The quarantines are reachable only on the running gateway.")?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "The quarantines are reachable only on the running gateway.".to_string())?;
    let args = args.to_vec();
    runtime
        .block_on(handle.query(move |wq| wq.quarantine_command(&args)))
        .unwrap_or_else(|| Err("The work queue is not running.".to_string()))
}

static DATA_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Tells the filters' archive where the data directory ("flash") is.
/// Until the daemon calls this, it is found as `breakwater run` finds it:
/// `--data-dir` on the command line, then `BREAKWATER_DATA_DIR`, then
/// `breakwater-data`.
pub fn set_data_dir(dir: &Path) {
    let _ = DATA_DIR.set(dir.to_path_buf());
}

/// The data directory (see [`set_data_dir`]).
pub fn data_dir() -> PathBuf {
    DATA_DIR
        .get_or_init(|| {
            let mut args = std::env::args_os();
            while let Some(a) = args.next() {
                if a == "--data-dir" {
                    if let Some(v) = args.next() {
                        return PathBuf::from(v);
                    }
                } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--data-dir=")) {
                    return PathBuf::from(v);
                }
            }
            std::env::var_os("BREAKWATER_DATA_DIR")
                .map_or_else(|| PathBuf::from("breakwater-data"), PathBuf::from)
        })
        .clone()
}
