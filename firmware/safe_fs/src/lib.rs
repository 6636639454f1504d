//! File-system work done as root inside the daemon-owned data directory.
//!
//! On a board with `run_as` the data directory belongs to the mail
//! daemon's user, so everything in it may have been planted by a
//! compromised daemon, and may change between two system calls: a file
//! root is about to write can become a symbolic link to `/etc/shadow`, a
//! hard link to a root-owned file on the same file system, a FIFO (an
//! `open` for writing would hang root for good), or a directory can be
//! swapped for a link to another one. Root code therefore never resolves a
//! path under the data directory. It holds a [`Dir`] (an open directory
//! descriptor) and works relative to it, one name at a time:
//!
//! - every open has `O_NOFOLLOW` (a link at the name is an error, never
//!   followed) and `O_CLOEXEC`; subdirectories are opened one component
//!   at a time with `O_DIRECTORY | O_NOFOLLOW`, so a symlinked directory
//!   is refused too;
//! - opens carry `O_NONBLOCK` and the result is checked with `fstat`: a
//!   name expected to be a regular file that is anything else is refused;
//! - a file root writes in place (a log it appends to, the lock file) must
//!   have a single link: a second name means someone linked it, and a
//!   root write would land in whatever inode that is;
//! - files root replaces are written under a fresh temporary name created
//!   with `O_EXCL` (never an existing file) and renamed over the old name
//!   (`renameat` replaces the name, never what a link points to);
//! - ownership changes use the open descriptor (`fchown`, or `AT_EMPTY_PATH`
//!   on an `O_PATH` descriptor for a socket), never a path.
//!
//! `openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)` would do the walk in
//! one call, but only on Linux 5.6 and later; the walk by components with
//! `openat` gives the same guarantee on every kernel, so there is a single
//! code path to test.
//!
//! The data directory's own path is trusted: its parent (`/` on the
//! appliance, where it is the `/data` mount point) belongs to root, so the
//! daemon's user cannot replace it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// How deep [`chown_tree`] descends. The data directory is three levels
/// deep at most (`logs/system_logs/<file>`, `db/<file>`, `spool/<file>`);
/// a deeper tree was made by hand or by an attacker, and a walk without a
/// bound could be made to exhaust root's descriptors or stack.
pub const MAX_TREE_DEPTH: usize = 16;

/// Why a name in the data directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{path} is a {kind}, not a regular file: refused (root never opens one there)")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{path} has {links} names (hard links): refused (a root write would reach the other names)"
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{path} is a {kind}, not a {expected}: refused")]
    WrongKind {
        path: PathBuf,
        kind: &'static str,
        expected: &'static str,
    },
    #[error("{name:?} is not a single file name")]
    NotAName { name: String },
}

impl From<Refused> for io::Error {
    fn from(r: Refused) -> Self {
        let kind = match r {
            Refused::NotAName { .. } => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, r)
    }
}

/// An open directory: the root of every operation below.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// For messages only; never resolved again.
    path: PathBuf,
}

fn kind_of(st: &Stat) -> &'static str {
    let t = FileType::from_raw_mode(st.st_mode);
    if t.is_file() {
        "regular file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symbolic link"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "file of unknown type"
    }
}

/// `name` as one path component: no `/`, not `.` or `..`, not empty.
fn one_name(name: &str) -> io::Result<&str> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(_)), None) if !name.contains('/') => Ok(name),
        _ => Err(Refused::NotAName {
            name: name.to_string(),
        }
        .into()),
    }
}

/// `ELOOP` from `O_NOFOLLOW`, or `ENOTDIR` from `O_DIRECTORY`, said as
/// what the name really is (a link, a file).
fn explain(
    e: rustix::io::Errno,
    at: &OwnedFd,
    name: &std::ffi::OsStr,
    path: &Path,
    expected: &'static str,
) -> io::Error {
    if e != rustix::io::Errno::LOOP && e != rustix::io::Errno::NOTDIR {
        return e.into();
    }
    match rustix::fs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Refused::WrongKind {
            path: path.to_path_buf(),
            kind: kind_of(&st),
            expected,
        }
        .into(),
        Err(_) => e.into(),
    }
}

/// How [`Dir::open_regular`] opens a regular file.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub write: bool,
    pub append: bool,
    /// Create it (with this mode) when absent.
    pub create: Option<u32>,
    pub truncate: bool,
}

impl Access {
    pub const READ: Access = Access {
        write: false,
        append: false,
        create: None,
        truncate: false,
    };
}

impl Dir {
    /// Opens the directory at `path` (the data directory itself, whose
    /// path is trusted; see the module comment).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The subdirectory `rel` (one or more plain components), walked one
    /// component at a time without following any link; missing
    /// components are created with `create`'s mode when given.
    pub fn subdir(&self, rel: &Path, create: Option<u32>) -> io::Result<Dir> {
        let mut current = Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        };
        for part in rel.components() {
            let Component::Normal(name) = part else {
                return Err(Refused::NotAName {
                    name: rel.display().to_string(),
                }
                .into());
            };
            let path = current.path.join(name);
            if let Some(mode) = create {
                match rustix::fs::mkdirat(&current.fd, name, Mode::from_raw_mode(mode)) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io::Error::from(e)),
                }
            }
            let fd = rustix::fs::openat(
                &current.fd,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| explain(e, &current.fd, name, &path, "directory"))?;
            current = Dir { fd, path };
        }
        Ok(current)
    }

    /// Opens the regular file `name` without following a link, without
    /// blocking on a FIFO, and refuses anything that is not a regular
    /// file. A file opened for writing must have one name only.
    pub fn open_regular(&self, name: &str, access: Access) -> io::Result<File> {
        let name = one_name(name)?;
        let path = self.path.join(name);
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        flags |= if access.write {
            OFlags::WRONLY
        } else {
            OFlags::RDONLY
        };
        if access.append {
            flags |= OFlags::APPEND;
        }
        if access.create.is_some() {
            flags |= OFlags::CREATE;
        }
        let mode = Mode::from_raw_mode(access.create.unwrap_or(0));
        // Truncation waits for the checks below: O_TRUNC at open would
        // already have emptied a hard-linked file.
        let fd = rustix::fs::openat(&self.fd, name, flags, mode)
            .map_err(|e| explain(e, &self.fd, name.as_ref(), &path, "regular file"))?;
        let st = rustix::fs::fstat(&fd)?;
        if !FileType::from_raw_mode(st.st_mode).is_file() {
            return Err(Refused::NotRegular {
                path,
                kind: kind_of(&st),
            }
            .into());
        }
        if access.write && st.st_nlink > 1 {
            // `st_nlink` is u64 on x86_64, u32 on some other targets.
            #[allow(clippy::useless_conversion)]
            return Err(Refused::HardLinked {
                path,
                links: u64::from(st.st_nlink),
            }
            .into());
        }
        // Blocking again for the callers' ordinary reads and writes.
        let keep = if access.append {
            OFlags::APPEND
        } else {
            OFlags::empty()
        };
        rustix::fs::fcntl_setfl(&fd, keep)?;
        let file = File::from(fd);
        if access.truncate {
            file.set_len(0)?;
        }
        Ok(file)
    }

    /// Reads the regular file `name`, at most `max` bytes; `None` when it
    /// does not exist.
    pub fn read_file(&self, name: &str, max: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        let file = match self.open_regular(name, Access::READ) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.take(max).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Writes `bytes` to `name` atomically and durably: a fresh file
    /// `<name>.new` created exclusively (a name planted there is removed
    /// first, never opened), synced, renamed over `name`, the directory
    /// synced. A reader (or the next boot after a power cut) sees the old
    /// or the new content; whatever `name` was (a link, a FIFO), it is
    /// replaced, not written through.
    pub fn write_file(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let name = one_name(name)?;
        let tmp = format!("{name}.new");
        self.remove_name(&tmp)?;
        let fd = rustix::fs::openat(
            &self.fd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        file.sync_all()?;
        rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)?;
        self.sync()
    }

    /// Removes the name `name` (a file, a link or a socket, never what a
    /// link points to); absent is fine. The directory is synced.
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        if self.remove_name(one_name(name)?)? {
            self.sync()?;
        }
        Ok(())
    }

    /// True when something was removed.
    fn remove_name(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Renames `from` to `to` within this directory (names, not paths).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, one_name(from)?, &self.fd, one_name(to)?)?;
        Ok(())
    }

    /// Whether `name` exists, whatever it is (a link is not followed).
    pub fn exists(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::statat(&self.fd, one_name(name)?, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name.to_vec()));
            }
        }
        Ok(names)
    }

    /// `fsync` of the directory: names created, renamed or removed in it
    /// survive a power cut.
    pub fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd)?;
        Ok(())
    }

    /// Gives the socket `name` (just bound by the caller) to `uid:gid`
    /// with `mode`. The name is opened `O_PATH | O_NOFOLLOW` and checked to
    /// be a socket before anything changes, and the changes go to that
    /// inode (`AT_EMPTY_PATH`, and the `/proc/self/fd` link for the mode,
    /// which `fchmod` cannot do on an `O_PATH` descriptor): a name swapped
    /// for a link to a root file in between is refused, not followed.
    pub fn give_socket(&self, name: &str, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
        let name = one_name(name)?;
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = rustix::fs::fstat(&fd)?;
        if !FileType::from_raw_mode(st.st_mode).is_socket() {
            return Err(Refused::WrongKind {
                path,
                kind: kind_of(&st),
                expected: "socket",
            }
            .into());
        }
        let pinned = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&pinned, std::fs::Permissions::from_mode(mode))?;
        }
        chown_fd(&fd, uid, gid)?;
        Ok(())
    }
}

/// A socket root connects to in the daemon's directory, pinned: opened
/// `O_PATH | O_NOFOLLOW` and checked to be a socket, so a name swapped for
/// a link to another socket (another root service's) is refused.
/// [`PinnedSocket::path`] names that very inode through `/proc/self/fd`,
/// for `connect(2)`, while the value lives.
#[derive(Debug)]
pub struct PinnedSocket {
    _fd: OwnedFd,
    path: PathBuf,
}

impl PinnedSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Dir {
    /// Pins the socket `name` in this directory (see [`PinnedSocket`]).
    pub fn pin_socket(&self, name: &str) -> io::Result<PinnedSocket> {
        let name = one_name(name)?;
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| explain(e, &self.fd, name.as_ref(), &path, "socket"))?;
        let st = rustix::fs::fstat(&fd)?;
        if !FileType::from_raw_mode(st.st_mode).is_socket() {
            return Err(Refused::WrongKind {
                path,
                kind: kind_of(&st),
                expected: "socket",
            }
            .into());
        }
        let pinned = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Ok(PinnedSocket {
            _fd: fd,
            path: pinned,
        })
    }
}

/// `chown` of the inode behind `fd` (also an `O_PATH` descriptor).
fn chown_fd(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::chownat(
        fd,
        "",
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::EMPTY_PATH,
    )?;
    Ok(())
}

/// What [`chown_tree`] left alone, for the caller to log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChownReport {
    /// Entries given to the user.
    pub changed: usize,
    /// Entries not changed, with the reason.
    pub skipped: Vec<String>,
}

/// Gives `dir` and everything under it to `uid:gid`, race-free: each
/// entry is opened `O_PATH | O_NOFOLLOW` and changed through that
/// descriptor (the inode it pinned, whatever the name points to by then),
/// directories are entered through the same descriptor, and:
///
/// - a symbolic link is never followed nor changed (sled, the spool and
///   the logs make none; its owner would not matter);
/// - a regular file owned by someone else with more than one name is left
///   alone: the data directory holds no hard links of its own, so a
///   second name means someone linked a file from elsewhere on the same
///   file system (a root-owned one, to make root give it away);
/// - entries of other kinds (sockets, FIFOs) are changed like files; none
///   is ever opened for reading or writing;
/// - the walk stops at [`MAX_TREE_DEPTH`].
///
/// Only entries owned by someone else are changed, so a second run is
/// cheap. An entry removed meanwhile is not an error.
pub fn chown_tree(dir: &Dir, uid: u32, gid: u32) -> io::Result<ChownReport> {
    let mut report = ChownReport::default();
    let st = rustix::fs::fstat(&dir.fd)?;
    if st.st_uid != uid || st.st_gid != gid {
        chown_fd(&dir.fd, uid, gid)?;
        report.changed += 1;
    }
    walk(dir, uid, gid, 1, &mut report)?;
    Ok(report)
}

fn walk(dir: &Dir, uid: u32, gid: u32, depth: usize, report: &mut ChownReport) -> io::Result<()> {
    for name in dir.names()? {
        let path = dir.path.join(&name);
        let fd = match rustix::fs::openat(
            &dir.fd,
            name.as_os_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // Removed meanwhile (a rotated log, a delivered body).
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&fd)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        let foreign = st.st_uid != uid || st.st_gid != gid;
        if kind.is_symlink() {
            continue;
        }
        if kind.is_file() && foreign && st.st_nlink > 1 {
            report.skipped.push(format!(
                "{}: {} names (hard links); not given away",
                path.display(),
                st.st_nlink
            ));
            continue;
        }
        if kind.is_dir() && depth >= MAX_TREE_DEPTH {
            report.skipped.push(format!(
                "{}: deeper than {MAX_TREE_DEPTH} levels; not walked",
                path.display()
            ));
            continue;
        }
        if foreign {
            chown_fd(&fd, uid, gid)?;
            report.changed += 1;
        }
        if kind.is_dir() {
            // "." of the pinned directory: the same inode, not the name.
            let sub = rustix::fs::openat(
                &fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            walk(&Dir { fd: sub, path }, uid, gid, depth + 1, report)?;
        }
    }
    Ok(())
}

mod durable_file;
pub use durable_file::{remove_file, sync_dir, write_file};

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn setup() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        (tmp, dir)
    }

    fn write_access() -> Access {
        Access {
            write: true,
            append: true,
            create: Some(0o600),
            truncate: false,
        }
    }

    #[test]
    fn a_symlink_at_the_name_is_replaced_not_written_through() {
        let (tmp, dir) = setup();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("shadow");
        std::fs::write(&victim, b"root's\n").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("daemon.pid")).unwrap();
        // A planted temporary name too: removed, never opened.
        std::os::unix::fs::symlink(&victim, tmp.path().join("daemon.pid.new")).unwrap();
        dir.write_file("daemon.pid", b"42\n", 0o644).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"root's\n");
        let meta = std::fs::symlink_metadata(tmp.path().join("daemon.pid")).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(
            std::fs::read(tmp.path().join("daemon.pid")).unwrap(),
            b"42\n"
        );
        assert!(!tmp.path().join("daemon.pid.new").exists());
    }

    #[test]
    fn a_symlink_at_the_name_is_refused_for_reading_and_appending() {
        let (tmp, dir) = setup();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("shadow");
        std::fs::write(&victim, b"secret\n").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("last-stop")).unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("system.current")).unwrap();
        let err = dir.read_file("last-stop", 64).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = dir
            .open_regular("system.current", write_access())
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A dangling link is not created through either.
        std::os::unix::fs::symlink(outside.path().join("new"), tmp.path().join("lock")).unwrap();
        assert!(dir.open_regular("lock", write_access()).is_err());
        assert!(!outside.path().join("new").exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"secret\n");
    }

    #[test]
    fn a_symlinked_intermediate_directory_is_refused() {
        let (tmp, dir) = setup();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("logs")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("logs/system_logs")).unwrap();
        let err = dir
            .subdir(Path::new("logs/system_logs"), Some(0o700))
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // The real thing is created and walked.
        let made = dir
            .subdir(Path::new("logs/mail_logs"), Some(0o700))
            .unwrap();
        made.write_file("x", b"1", 0o600).unwrap();
        assert!(tmp.path().join("logs/mail_logs/x").is_file());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(dir.subdir(Path::new("../etc"), None).is_err());
        assert!(
            dir.read_file("logs/mail_logs/x", 8).is_err(),
            "one name only"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let (tmp, dir) = setup();
        nix::unistd::mkfifo(&tmp.path().join("last-stop"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        nix::unistd::mkfifo(&tmp.path().join("lock"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = dir.read_file("last-stop", 64).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        // O_WRONLY on a FIFO without a reader fails (ENXIO) rather than
        // blocking, thanks to O_NONBLOCK; either way it is refused.
        assert!(dir.open_regular("lock", write_access()).is_err());
        // Replacing one is fine: the name is renamed over.
        dir.write_file("last-stop", b"reboot\n", 0o644).unwrap();
        assert_eq!(
            dir.read_file("last-stop", 64).unwrap().unwrap(),
            b"reboot\n"
        );
    }

    #[test]
    fn a_hard_link_is_refused_for_writing_and_never_truncated() {
        let (tmp, dir) = setup();
        let other = tmp.path().join("elsewhere");
        std::fs::write(&other, b"keep me\n").unwrap();
        std::fs::hard_link(&other, tmp.path().join("system.current")).unwrap();
        let err = dir
            .open_regular(
                "system.current",
                Access {
                    truncate: true,
                    ..write_access()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("hard links"), "{err}");
        assert_eq!(std::fs::read(&other).unwrap(), b"keep me\n");
        // Reading is harmless and allowed.
        assert!(dir.read_file("system.current", 64).unwrap().is_some());
    }

    #[test]
    fn a_socket_is_given_only_when_it_is_a_socket() {
        let (tmp, dir) = setup();
        let me = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let _sock = std::os::unix::net::UnixDatagram::bind(tmp.path().join("s.sock")).unwrap();
        dir.give_socket("s.sock", me.0, me.1, 0o600).unwrap();
        let mode = std::fs::metadata(tmp.path().join("s.sock")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("passwd");
        std::fs::write(&victim, b"x").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("t.sock")).unwrap();
        assert!(dir.give_socket("t.sock", me.0, me.1, 0o666).is_err());
        std::fs::write(tmp.path().join("u.sock"), b"").unwrap();
        let err = dir.give_socket("u.sock", me.0, me.1, 0o666).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        let mode = std::fs::metadata(&victim).unwrap().mode();
        assert_ne!(mode & 0o777, 0o666);
    }

    #[test]
    fn a_pinned_socket_connects_and_a_link_to_another_is_refused() {
        let (tmp, dir) = setup();
        let outside = tempfile::tempdir().unwrap();
        let real = std::os::unix::net::UnixListener::bind(tmp.path().join("control.sock")).unwrap();
        let _other =
            std::os::unix::net::UnixListener::bind(outside.path().join("root.sock")).unwrap();
        let pinned = dir.pin_socket("control.sock").unwrap();
        let _client = std::os::unix::net::UnixStream::connect(pinned.path()).unwrap();
        assert!(real.accept().is_ok(), "connected to the pinned socket");
        std::fs::remove_file(tmp.path().join("control.sock")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("root.sock"),
            tmp.path().join("control.sock"),
        )
        .unwrap();
        let err = dir.pin_socket("control.sock").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn chown_tree_walks_real_entries_and_skips_links() {
        let (tmp, dir) = setup();
        std::fs::create_dir_all(tmp.path().join("logs/system_logs")).unwrap();
        std::fs::write(tmp.path().join("logs/system_logs/system.current"), b"x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("evil")).unwrap();
        nix::unistd::mkfifo(&tmp.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let me = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        // Everything is ours already: nothing to change, nothing refused,
        // and the FIFO did not hang the walk.
        let report = chown_tree(&dir, me.0, me.1).unwrap();
        assert_eq!(report, ChownReport::default());
    }

    #[test]
    fn chown_tree_gives_files_but_not_hard_links_or_link_targets() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to change owners");
            return;
        }
        let (tmp, dir) = setup();
        let (uid, gid) = (64_123, 64_123);
        std::fs::create_dir(tmp.path().join("db")).unwrap();
        std::fs::write(tmp.path().join("db/conf"), b"x").unwrap();
        // Root's files outside the tree, reached by a link and a hard link.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("shadow"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("evil-dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("shadow"), tmp.path().join("evil-file"))
            .unwrap();
        let root_file = tmp.path().join("root-only");
        std::fs::write(&root_file, b"x").unwrap();
        std::fs::hard_link(&root_file, tmp.path().join("db/linked")).unwrap();
        let report = chown_tree(&dir, uid, gid).unwrap();
        let owner = |p: &Path| std::fs::symlink_metadata(p).unwrap().uid();
        assert_eq!(owner(tmp.path()), uid);
        assert_eq!(owner(&tmp.path().join("db")), uid);
        assert_eq!(owner(&tmp.path().join("db/conf")), uid);
        assert_eq!(owner(&outside.path().join("shadow")), 0);
        assert_eq!(owner(outside.path()), 0);
        assert_eq!(owner(&root_file), 0, "a hard-linked file is not given away");
        assert_eq!(report.skipped.len(), 2, "{report:?}");
        assert!(report.skipped.iter().all(|s| s.contains("hard links")));
    }
}
