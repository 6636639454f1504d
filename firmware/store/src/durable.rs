//! Making sled's flushes survive a power cut.
//!
//! sled 0.34 (`pagecache/iobuf.rs`) makes its log writes "stable" on Linux
//! with `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`, not `fsync`:
//! the data pages reach the disk, but neither the file's metadata (its
//! size, when the log grew into a new segment) nor the device's write
//! cache is flushed. Only its background flusher calls `fsync`, every
//! `flush_every_ms`. So `Db::flush()` returning is not yet "on stable
//! storage": the QEMU power-cut test (tests/tests/appliance.rs) lost a
//! committed configuration that way, and the same would hold for a
//! queued message's index record.
//!
//! The fix needs no `unsafe` and no change to sled: `fsync(2)` works on
//! the inode, whichever descriptor it is called on, so after every
//! `flush()` that must be durable we `fsync` sled's files through our own
//! read-only descriptors ([`sync`]). [`open`] opens the database and
//! records those files; [`flush`] is the durable flush.
//!
//! The small files beside the database (the supervisor's boot marker and
//! stop record, the boot partition's slot files) use [`write_file`],
//! [`remove_file`] and [`sync_dir`]; [`write_file`] never writes through a
//! link planted at either name (root uses it in the daemon's directory).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Read-only descriptors on the open databases' files, by database
/// directory. A process normally has one database (the daemon's).
static FILES: Mutex<Vec<(PathBuf, Vec<File>)>> = Mutex::new(Vec::new());

/// Opens (creating it if needed) the sled database in `path` with
/// `config`'s other settings, and records its files for [`sync`].
pub fn open(config: sled::Config, path: &Path) -> sled::Result<sled::Db> {
    let db = config.path(path).open()?;
    register(path)?;
    Ok(db)
}

/// Records the files of the database in `dir` (sled's log `db` and its
/// `conf`), and syncs the directory so the files themselves survive.
pub fn register(dir: &Path) -> std::io::Result<()> {
    let mut files = Vec::new();
    for name in ["db", "conf"] {
        match File::open(dir.join(name)) {
            Ok(f) => files.push(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    sync_dir(dir)?;
    let mut all = FILES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|(d, _)| d != dir);
    all.push((dir.to_path_buf(), files));
    Ok(())
}

/// `fsync` of every recorded database file: what sled's `flush()` wrote
/// is then on stable storage, file size included.
pub fn sync() -> std::io::Result<()> {
    let all = FILES.lock().unwrap_or_else(|e| e.into_inner());
    for (_, files) in all.iter() {
        for f in files {
            f.sync_all()?;
        }
    }
    Ok(())
}

/// The durable flush: sled's own, then [`sync`].
pub fn flush(db: &sled::Tree) -> sled::Result<usize> {
    let n = db.flush()?;
    sync()?;
    Ok(n)
}

// The small files' durable writes name no sled, so they live with root's
// file-system rules in breakwater-safe-fs (slots and the supervisor use
// them without the store); re-exported here, where the protocol is told.
pub use breakwater_safe_fs::{remove_file, sync_dir, write_file};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_flush_syncs_the_registered_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = open(sled::Config::new(), &path).unwrap();
        db.insert(b"k", b"v").unwrap();
        assert!(flush(&db).is_ok());
        let registered = FILES.lock().unwrap();
        let (_, files) = registered.iter().find(|(d, _)| *d == path).unwrap();
        assert!(!files.is_empty(), "sled's log file is recorded");
    }

    #[test]
    fn write_file_replaces_and_remove_file_tolerates_absence() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.pid");
        write_file(&p, b"1\n").unwrap();
        write_file(&p, b"2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2\n");
        assert!(!p.with_extension("new").exists());
        remove_file(&p).unwrap();
        remove_file(&p).unwrap();
        assert!(!p.exists());
    }
}
