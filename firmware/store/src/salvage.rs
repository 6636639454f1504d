//! Salvaging a damaged database: move the damaged store and its spool
//! aside (kept, never deleted), then build a new store from whatever the
//! damaged one still yields.
//!
//! The daemon refuses to start on a damaged store (`daemon::StoreDamaged`,
//! exit 78) because queue recovery on an empty index would delete every
//! spool body. Salvage is the way out that loses nothing more than the
//! damage already did:
//!
//! 1. `db` → `db.damaged-<time>`, `spool` → `spool.damaged-<time>` (one
//!    rename each, so the pair stays together);
//! 2. the damaged store is opened (a panic inside sled is caught) and every
//!    tree is copied key by key into a new `db` — configuration and its
//!    history, users, queued message records, ID reservations; an entry
//!    sled cannot read ends that tree's copy and is counted;
//! 3. the spool bodies are copied (not moved) into a new `spool`: at the
//!    next start queue recovery keeps those with a salvaged record;
//! 4. everything is flushed durably; the report says what came back.
//!
//! `breakwater salvage --data-dir DIR` runs it by hand (docs/operations.md,
//! "Damaged database"); on a board with `auto_salvage` the supervisor runs
//! it itself when the daemon reports a damaged store, since the appliance
//! has no shell. Either way it runs as the owner of the data directory
//! (the daemon's user on a board with `run_as`), never as root: the
//! supervisor starts `breakwater salvage` as a child, and that command
//! started by root drops to the owner first
//! (`supervisor::privilege::drop_to_owner_of`).

use std::path::{Path, PathBuf};

/// What a salvage did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SalvageReport {
    /// Where the damaged store and spool now are.
    pub damaged_db: PathBuf,
    pub damaged_spool: Option<PathBuf>,
    /// Whether the damaged store could be opened at all.
    pub opened: bool,
    pub trees: usize,
    pub entries: usize,
    /// Trees whose copy stopped at an unreadable entry.
    pub unreadable: usize,
    /// Queued message records salvaged.
    pub messages: usize,
    pub bodies: usize,
}

impl SalvageReport {
    /// One paragraph for the console and the system log.
    pub fn describe(&self) -> String {
        let what = if self.opened {
            format!(
                "{} entries in {} trees salvaged ({} queued messages, {} spool bodies copied){}",
                self.entries,
                self.trees,
                self.messages,
                self.bodies,
                if self.unreadable > 0 {
                    format!("; {} trees ended at an unreadable entry", self.unreadable)
                } else {
                    String::new()
                }
            )
        } else {
            "the damaged store could not be opened: nothing in it was readable; Breakwater starts with the factory configuration".to_string()
        };
        format!(
            "Database salvage: {what}. The damaged store is kept at {}{}.",
            self.damaged_db.display(),
            self.damaged_spool
                .as_ref()
                .map(|s| format!(" and its spool at {}", s.display()))
                .unwrap_or_default()
        )
    }
}

/// Typed failures (the rename or the new store; reading damage is not
/// one: it is what salvage is for).
#[derive(Debug, thiserror::Error)]
pub enum SalvageError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the new database: {0}")]
    NewStore(#[from] sled::Error),
    #[error("no database at {0}")]
    NoStore(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SalvageError + '_ {
    move |source| SalvageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Salvages `<data_dir>/db`; the daemon (and any other user of the
/// store) must be stopped.
pub fn salvage(data_dir: &Path) -> Result<SalvageReport, SalvageError> {
    let db_dir = data_dir.join("db");
    if !db_dir.exists() {
        return Err(SalvageError::NoStore(db_dir.display().to_string()));
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut report = SalvageReport {
        damaged_db: data_dir.join(format!("db.damaged-{stamp}")),
        ..SalvageReport::default()
    };
    std::fs::rename(&db_dir, &report.damaged_db).map_err(io(&db_dir))?;
    let spool = data_dir.join("spool");
    if spool.exists() {
        let aside = data_dir.join(format!("spool.damaged-{stamp}"));
        std::fs::rename(&spool, &aside).map_err(io(&spool))?;
        report.damaged_spool = Some(aside);
    }
    sync_dir(data_dir)?;

    let new = crate::durable::open(sled::Config::new(), &db_dir)?;
    let damaged = report.damaged_db.clone();
    let old = std::panic::catch_unwind(|| sled::Config::new().path(&damaged).open());
    if let Ok(Ok(old)) = old {
        report.opened = true;
        copy_trees(&old, &new, &mut report);
        // The marker that says "this store was initialised" comes along
        // only when the configuration did.
        if new.open_tree("config")?.get("committed")?.is_some() {
            let marker = report.damaged_db.join("breakwater.initialised");
            if marker.exists() {
                let _ = std::fs::copy(&marker, db_dir.join("breakwater.initialised"));
            }
        }
    }
    crate::durable::flush(&new)?;
    if let Some(aside) = &report.damaged_spool {
        report.bodies = copy_dir(aside, &spool)?;
        sync_dir(&spool)?;
    }
    sync_dir(data_dir)?;
    Ok(report)
}

/// Copies every tree, key by key, stopping a tree at its first unreadable
/// entry (sled's iterator cannot skip past one).
fn copy_trees(old: &sled::Db, new: &sled::Db, report: &mut SalvageReport) {
    for name in old.tree_names() {
        let (Ok(from), Ok(to)) = (old.open_tree(&name), new.open_tree(&name)) else {
            report.unreadable += 1;
            continue;
        };
        report.trees += 1;
        let is_queue = &*name == b"messages";
        for entry in from.iter() {
            let Ok((k, v)) = entry else {
                report.unreadable += 1;
                break;
            };
            if to.insert(k, v).is_err() {
                report.unreadable += 1;
                break;
            }
            report.entries += 1;
            if is_queue {
                report.messages += 1;
            }
        }
    }
}

/// Copies a directory tree of plain files; returns the number of files.
fn copy_dir(from: &Path, to: &Path) -> Result<usize, SalvageError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    let mut n = 0;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().map_err(io(&src))?.is_dir() {
            n += copy_dir(&src, &dst)?;
            sync_dir(&dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
            std::fs::File::open(&dst)
                .and_then(|f| f.sync_all())
                .map_err(io(&dst))?;
            n += 1;
        }
    }
    Ok(n)
}

fn sync_dir(dir: &Path) -> Result<(), SalvageError> {
    crate::durable::sync_dir(dir).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_store_comes_back_whole_and_the_damaged_pair_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        {
            let db = sled::Config::new().path(d.join("db")).open().unwrap();
            db.open_tree("config")
                .unwrap()
                .insert("committed", b"cfg")
                .unwrap();
            let m = db.open_tree("messages").unwrap();
            m.insert(1u64.to_be_bytes(), b"r1").unwrap();
            m.insert(2u64.to_be_bytes(), b"r2").unwrap();
            db.flush().unwrap();
        }
        std::fs::write(d.join("db/breakwater.initialised"), b"1\n").unwrap();
        std::fs::create_dir_all(d.join("spool/00")).unwrap();
        std::fs::write(d.join("spool/00/1"), b"body").unwrap();

        let r = salvage(d).unwrap();
        assert!(r.opened && r.messages == 2 && r.bodies == 1, "{r:?}");
        assert!(r.damaged_db.exists() && r.damaged_spool.as_ref().unwrap().exists());
        assert!(d.join("db/breakwater.initialised").exists());
        assert_eq!(std::fs::read(d.join("spool/00/1")).unwrap(), b"body");
        let db = sled::Config::new().path(d.join("db")).open().unwrap();
        assert_eq!(db.open_tree("messages").unwrap().len(), 2);
        assert!(
            r.describe().contains("2 queued messages"),
            "{}",
            r.describe()
        );
    }

    #[test]
    fn an_unopenable_store_is_moved_aside_and_replaced_by_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("db")).unwrap();
        // Not a sled store: a `conf` sled cannot parse.
        std::fs::write(d.join("db/conf"), b"\xff\xff garbage").unwrap();
        std::fs::write(d.join("db/db"), b"garbage").unwrap();
        let r = salvage(d).unwrap();
        assert!(!r.opened || r.entries == 0, "{r:?}");
        assert!(r.damaged_db.join("db").exists(), "the damaged file is kept");
        assert!(d.join("db").is_dir());
        assert!(!d.join("db/breakwater.initialised").exists());
    }
}
