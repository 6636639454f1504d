//! The kernel's own file systems: `/proc`, `/sys`, `/dev` (devtmpfs: the
//! kernel is built without `DEVTMPFS_MOUNT`, so PID 1 mounts it) and
//! `/run` (tmpfs). Each mount is tried on its own; one that fails is
//! reported and the others still happen.

use std::path::Path;

use nix::mount::MsFlags;

/// One early mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Early {
    pub source: &'static str,
    pub target: &'static str,
    pub fstype: &'static str,
    pub flags: MsFlags,
    pub data: Option<&'static str>,
}

/// What PID 1 mounts first, in order.
pub fn early_mounts() -> [Early; 4] {
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    [
        Early {
            source: "proc",
            target: "/proc",
            fstype: "proc",
            flags: safe,
            data: None,
        },
        Early {
            source: "sysfs",
            target: "/sys",
            fstype: "sysfs",
            flags: safe,
            data: None,
        },
        Early {
            source: "devtmpfs",
            target: "/dev",
            fstype: "devtmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some("mode=0755"),
        },
        Early {
            source: "tmpfs",
            target: "/run",
            fstype: "tmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            data: Some("mode=0755,size=16m"),
        },
    ]
}

/// efivarfs, on a UEFI-booted box only (the kernel module refuses to load
/// on a BIOS one): root writes boot-loader variables through it.
pub fn efivarfs() -> Early {
    Early {
        source: "efivarfs",
        target: crate::slots::EFIVARS_DIR,
        fstype: "efivarfs",
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        data: None,
    }
}

/// Mounts one, creating the mount point in the initramfs if it is
/// missing. `EBUSY` (already mounted) counts as done.
pub fn mount_one(m: &Early) -> Result<(), String> {
    let target = Path::new(m.target);
    let _ = std::fs::create_dir_all(target);
    match nix::mount::mount(Some(m.source), target, Some(m.fstype), m.flags, m.data) {
        Ok(()) | Err(nix::errno::Errno::EBUSY) => Ok(()),
        Err(e) => Err(format!("cannot mount {} on {}: {e}", m.fstype, m.target)),
    }
}

/// All early mounts, each reported; returns how many failed.
pub fn mount_early(log: &mut dyn FnMut(String)) -> usize {
    let mut failed = 0;
    for m in early_mounts() {
        match mount_one(&m) {
            Ok(()) => log(format!("mounted {} on {}", m.fstype, m.target)),
            Err(e) => {
                failed += 1;
                log(e);
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_sys_come_before_dev_and_run() {
        let order: Vec<&str> = early_mounts().iter().map(|m| m.target).collect();
        assert_eq!(order, ["/proc", "/sys", "/dev", "/run"]);
        assert!(
            early_mounts()
                .iter()
                .all(|m| m.flags.contains(MsFlags::MS_NOSUID))
        );
    }
}
