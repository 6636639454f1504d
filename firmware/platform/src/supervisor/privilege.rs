//! Least privilege: the mail daemon gives up root once it holds what only
//! root can get (its listening sockets on port 25, its open database and
//! log files), before its async runtime starts. See
//! `docs/decisions/0006-least-privilege.md`.
//!
//! The board profile's `run_as` names the user (`breakwater` on the
//! appliance profiles; unset on `dev`, where nothing changes). The daemon,
//! still root and still single-threaded as far as tokio is concerned:
//!
//! 1. gives the whole data directory to that user ([`chown_tree`],
//!    race-free: root never follows a link there);
//! 2. opens the logs and the database and reads the configuration with
//!    the user's effective IDs ([`as_user`]), so the kernel checks every
//!    path there as the user;
//! 3. binds the listeners the committed configuration names (root again);
//! 4. [`drop_to`]: `setgroups([gid])`, `setgid`, `setuid` (all three
//!    process-wide), and checks that root cannot be taken back.
//!
//! The supervisor stays root (it pets the watchdog and starts the console
//! on the serial device) and hands the heartbeat socket to the user.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use anyhow::Context as _;
use nix::unistd::{Gid, Uid, User};

use super::safe_fs;

/// The daemon's exit status when it cannot become the board's `run_as`
/// user (no such user, or the switch failed): restarting cannot help, so
/// the supervisor stops instead of looping (sysexits' `EX_NOPERM`).
pub const EXIT_CANNOT_DROP: u8 = 77;

/// The unprivileged user the daemon runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

/// Looks up `spec`: a user name from the password database, or numeric
/// `UID` / `UID:GID` for an image without one.
pub fn resolve(spec: &str) -> anyhow::Result<RunAs> {
    let who = lookup(spec)?;
    anyhow::ensure!(
        !who.uid.is_root() && who.gid.as_raw() != 0,
        "run_as = \"{spec}\" is root: that is no drop of privileges"
    );
    Ok(who)
}

fn lookup(spec: &str) -> anyhow::Result<RunAs> {
    let numeric = |s: &str| s.parse::<u32>().ok();
    if let Some((u, g)) = spec.split_once(':')
        && let (Some(uid), Some(gid)) = (numeric(u), numeric(g))
    {
        return Ok(RunAs {
            name: spec.to_string(),
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
        });
    }
    if let Some(uid) = numeric(spec) {
        return Ok(RunAs {
            name: spec.to_string(),
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(uid),
        });
    }
    let user = User::from_name(spec)
        .with_context(|| format!("cannot look up the user '{spec}'"))?
        .with_context(|| {
            format!(
                "the board profile says run_as = \"{spec}\", but there is no such user (add it to the image's /etc/passwd, or give a numeric UID:GID)"
            )
        })?;
    Ok(RunAs {
        name: spec.to_string(),
        uid: user.uid,
        gid: user.gid,
    })
}

/// Gives `dir` and everything under it to `who`, race-free: through
/// descriptors, never following a link, leaving hard-linked files of
/// others alone ([`safe_fs::chown_tree`], which says why). Only entries
/// owned by someone else are changed, so a second run is cheap. What was
/// left alone is in the report, for the log.
pub fn chown_tree(dir: &Path, who: &RunAs) -> io::Result<safe_fs::ChownReport> {
    let dir = safe_fs::Dir::open(dir)?;
    safe_fs::chown_tree(&dir, who.uid.as_raw(), who.gid.as_raw())
}

/// Runs `f` with the effective user and group of `who` (and `who`'s group
/// as the only supplementary group), then takes root back: the real and
/// saved IDs stay root, so this is a mask for file-system work in the
/// daemon's directory, not a drop. The kernel then checks every path `f`
/// resolves as `who`: a link the daemon's user planted to a root file
/// leads nowhere `who` could not go already. glibc applies each change to
/// every thread of the process. Returns `f`'s value, or the error of a
/// change that failed (root could not be taken back: the caller must
/// stop).
pub fn as_user<T>(who: &RunAs, f: impl FnOnce() -> T) -> anyhow::Result<T> {
    let groups = nix::unistd::getgroups().context("getgroups")?;
    nix::unistd::setgroups(&[who.gid]).context("setgroups")?;
    nix::unistd::setegid(who.gid).context("setegid")?;
    if let Err(e) = nix::unistd::seteuid(who.uid) {
        let _ = nix::unistd::setegid(Gid::from_raw(0));
        let _ = nix::unistd::setgroups(&groups);
        return Err(anyhow::Error::from(e).context("seteuid"));
    }
    let value = f();
    nix::unistd::seteuid(Uid::from_raw(0)).context("taking root back (seteuid)")?;
    nix::unistd::setegid(Gid::from_raw(0)).context("taking root back (setegid)")?;
    nix::unistd::setgroups(&groups).context("taking root back (setgroups)")?;
    Ok(value)
}

/// For a one-shot tool started as root on the daemon's data (`breakwater
/// salvage`): becomes the owner of `dir` for good when that is not root
/// (on a board with `run_as`, the daemon's user), so nothing it reads can
/// lead root anywhere, and what it creates belongs to the daemon. `None`
/// when nothing changed (not root, or a root-owned directory).
pub fn drop_to_owner_of(dir: &Path) -> anyhow::Result<Option<RunAs>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if meta.uid() == 0 {
        return Ok(None);
    }
    let who = RunAs {
        name: format!("{}:{}", meta.uid(), meta.gid()),
        uid: Uid::from_raw(meta.uid()),
        gid: Gid::from_raw(meta.gid()),
    };
    drop_to(&who)?;
    Ok(Some(who))
}

/// Becomes `who` for good: supplementary groups, group, then user (the
/// order matters: after `setuid` the others are no longer allowed). glibc
/// applies each to every thread of the process. Checks afterwards that
/// root cannot be regained.
pub fn drop_to(who: &RunAs) -> anyhow::Result<()> {
    nix::unistd::setgroups(&[who.gid]).context("setgroups")?;
    nix::unistd::setgid(who.gid).context("setgid")?;
    nix::unistd::setuid(who.uid).context("setuid")?;
    anyhow::ensure!(
        nix::unistd::getuid() == who.uid
            && nix::unistd::geteuid() == who.uid
            && nix::unistd::getegid() == who.gid,
        "the switch to {} did not take",
        who.name
    );
    anyhow::ensure!(
        nix::unistd::setuid(Uid::from_raw(0)).is_err(),
        "root could be regained after switching to {}",
        who.name
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_forms_need_no_password_database() {
        let a = resolve("1234:2345").unwrap();
        assert_eq!((a.uid.as_raw(), a.gid.as_raw()), (1234, 2345));
        let b = resolve("1234").unwrap();
        assert_eq!((b.uid.as_raw(), b.gid.as_raw()), (1234, 1234));
    }

    #[test]
    fn root_and_unknown_users_are_refused() {
        assert!(resolve("root").is_err());
        assert!(resolve("0").is_err());
        let err = resolve("no-such-user-breakwater-test").unwrap_err();
        assert!(format!("{err:#}").contains("no such user"), "{err:#}");
    }

    #[test]
    fn chown_tree_to_the_current_owner_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), b"x").unwrap();
        let me = RunAs {
            name: "me".into(),
            uid: nix::unistd::getuid(),
            gid: nix::unistd::getgid(),
        };
        let report = chown_tree(dir.path(), &me).unwrap();
        assert_eq!(report, safe_fs::ChownReport::default());
    }
}
