//! Durable writes of the small files beside the database (the boot marker,
//! the stop record, the boot partition's slot files): see the store's
//! `durable` module for the whole durability protocol.

use std::fs::File;
use std::path::Path;

use crate::Dir;

/// Writes `bytes` to `path` through a temporary name, synced, renamed over
/// the old file, the directory synced: a reader (or the next boot after a
/// power cut) sees the old or the new content, never a mix. Root calls it
/// on the daemon-owned data directory, so the temporary is created
/// exclusively and nothing at either name is followed
/// ([`Dir::write_file`]); `path`'s directory
/// itself is trusted.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, name) = split(path)?;
    Dir::open(dir)?.write_file(name, bytes, 0o644)
}

/// `path` as its directory and its file name.
fn split(path: &Path) -> std::io::Result<(&Path, &str)> {
    let name = path.file_name().and_then(|n| n.to_str());
    match (path.parent(), name) {
        (Some(dir), Some(name)) => Ok((
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            },
            name,
        )),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )),
    }
}

/// Removes `path` (absent is fine) and syncs its directory.
pub fn remove_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Syncs a directory: the names created, renamed or removed in it survive.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
