//! Least privilege: the mail daemon gives up root once it holds what only
//! root can get (its listening sockets on port 25, its open database and
//! log files), before its async runtime starts. See
//! `docs/decisions/0006-least-privilege.md`.
//!
//! The board profile's `run_as` names the user (`breakwater` on the
//! appliance profiles; unset on `dev`, where nothing changes). The daemon,
//! still root and still single-threaded as far as tokio is concerned:
//!
//! 1. opens the data directory, the logs and the database, and binds the
//!    listeners the committed configuration names;
//! 2. gives the whole data directory to that user ([`chown_tree`]);
//! 3. [`drop_to`]: `setgroups([gid])`, `setgid`, `setuid` (all three
//!    process-wide), and checks that root cannot be taken back.
//!
//! The supervisor stays root (it pets the watchdog and starts the console
//! on the serial device) and hands the heartbeat socket to the user.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use anyhow::Context as _;
use nix::unistd::{Gid, Uid, User};

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

/// Gives `dir` and everything under it to `who` (files, directories and
/// sockets; symbolic links themselves, never what they point to). Only
/// entries owned by someone else are changed, so a second run is cheap.
pub fn chown_tree(dir: &Path, who: &RunAs) -> io::Result<()> {
    let (uid, gid) = (who.uid.as_raw(), who.gid.as_raw());
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.uid() != uid || meta.gid() != gid {
        std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            match chown_tree(&entry.path(), who) {
                Ok(()) => {}
                // Removed meanwhile (a rotated log, a delivered body).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
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
        chown_tree(dir.path(), &me).unwrap();
    }
}
