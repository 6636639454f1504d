//! Opening the database at the daemon's start: every way sled can fail on
//! a damaged store (an error, a panic inside sled, a store that comes up
//! empty although it was initialised) becomes [`StoreDamaged`], so the
//! daemon refuses to start rather than recover an empty queue index over
//! a spool of acknowledged mail.

use std::path::Path;
use std::sync::Arc;

use crate::config_store::ConfigStore;

/// sled's page cache; the default (1 GiB) is far too much for an appliance.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Why the database did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another daemon holds the lock: not damage, just a clear error.
    #[error("the database {0} is in use by another process")]
    InUse(String),
    #[error(transparent)]
    Damaged(StoreDamaged),
    #[error("cannot record that the store is initialised: {0}")]
    Marker(std::io::Error),
}

/// The database could not be opened, or opened without the data it is
/// known to hold. The daemon refuses to start (exit status
/// `EXIT_STORE_DAMAGED` (the supervision contract)) rather than start on a new,
/// empty store: queue recovery on an empty index would delete every spool
/// body, acknowledged mail included. The recovery path is in
/// `docs/operations.md` ("Damaged database").
#[derive(Debug, thiserror::Error)]
#[error(
    "the database {path} is damaged: {reason}.\n\
     Breakwater will not start on it, so that no queued message is lost.\n\
     To recover (see docs/operations.md, \"Damaged database\"):\n  \
     1. stop Breakwater;\n  \
     2. run \"breakwater salvage --data-dir <data-dir>\": it moves {path} and {spool}\n     \
     aside together (*.damaged-<time>, nothing is deleted) and keeps what is readable;\n  \
     3. start Breakwater; if the configuration was lost, load a saved one with \"loadconfig\"."
)]
pub struct StoreDamaged {
    pub path: String,
    pub spool: String,
    pub reason: String,
}

/// Written (durably) inside the store's directory once it holds a committed
/// configuration: from then on, a store that opens without one has lost
/// data. Inside, so that moving a damaged store aside moves its marker too
/// (sled ignores files it did not create).
const STORE_MARKER: &str = "db/breakwater.initialised";

/// Opens sled, turning every way it can fail on a damaged store (an error,
/// a panic inside sled, or a store that comes up empty although it was
/// initialised) into [`StoreDamaged`].
pub fn open_store(dir: &Path) -> Result<(sled::Db, Arc<ConfigStore>), OpenError> {
    let path = dir.join("db");
    let damaged = |reason: String| StoreDamaged {
        path: path.display().to_string(),
        spool: dir.join("spool").display().to_string(),
        reason,
    };
    // Through `durable::open`: its flushes then fsync sled's files (see
    // durable.rs: sled's own flush is not power-cut safe on Linux).
    let opened = std::panic::catch_unwind(|| {
        crate::durable::open(sled::Config::new().cache_capacity(CACHE_BYTES), &path)
    });
    let db = match opened {
        Ok(Ok(db)) => db,
        // Another daemon holds the lock: not damage, just a clear error.
        Ok(Err(sled::Error::Io(e))) if e.kind() == std::io::ErrorKind::WouldBlock => {
            return Err(OpenError::InUse(path.display().to_string()));
        }
        Ok(Err(e)) => return Err(OpenError::Damaged(damaged(e.to_string()))),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "sled panicked while opening it".to_string());
            return Err(OpenError::Damaged(damaged(what)));
        }
    };
    let store = match ConfigStore::open(&db) {
        Ok(s) => Arc::new(s),
        Err(e) => return Err(OpenError::Damaged(damaged(e.to_string()))),
    };
    let marker = dir.join(STORE_MARKER);
    match store.is_initialised() {
        Ok(true) => mark_initialised(dir).map_err(OpenError::Marker)?,
        Ok(false) if marker.exists() => {
            return Err(OpenError::Damaged(damaged(
                "it opened without its committed configuration (truncated or replaced)".into(),
            )));
        }
        Ok(false) => {}
        Err(e) => return Err(OpenError::Damaged(damaged(e.to_string()))),
    }
    Ok((db, store))
}

/// Writes [`STORE_MARKER`] durably unless it is there already.
pub fn mark_initialised(dir: &Path) -> std::io::Result<()> {
    let marker = dir.join(STORE_MARKER);
    if !marker.exists() {
        crate::durable::write_file(&marker, b"1\n")?;
    }
    Ok(())
}
