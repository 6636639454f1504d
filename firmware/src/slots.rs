//! Firmware slots A and B on the boot partition (the ESP, mounted at
//! `/boot` by init), which one runs, and the trial boot of an upgrade.
//!
//! ```text
//! /boot/A/{vmlinuz,initrd.img,version}   slot A
//! /boot/B/{vmlinuz,initrd.img,version}   slot B
//! /boot/syslinux/syslinux.cfg            BIOS: DEFAULT = the permanent slot
//! /boot/syslinux/ldlinux.sys             its last 1 KiB: syslinux's ADV
//! /boot/loader/loader.conf               UEFI (systemd-boot): default entry
//! /boot/trial                            an upgrade on trial (see below)
//! /boot/last-upgrade                     how the last upgrade ended
//! ```
//!
//! The running slot is on the kernel command line (`breakwater.slot=A`),
//! written there by the image builder for each loader entry.
//!
//! **Trial boot** (BIOS): `upgrade` writes the new firmware into the
//! inactive slot, records `/boot/trial`, and puts a boot-once command in
//! syslinux's auxiliary data vector (ADV): ldlinux boots that label once
//! and clears it before loading the kernel. The default stays the old
//! slot. If the new firmware comes up and its daemon stays healthy, the
//! supervisor makes the slot permanent ([`confirm`]: `DEFAULT` rewritten);
//! if it panics, hangs (watchdog) or is switched off, the next boot is the
//! old slot, which sees a trial naming the other slot and records the
//! rollback ([`settle_after_boot`]).

use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// A firmware slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn label(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn parse(s: &str) -> Option<Slot> {
        match s.trim() {
            "A" | "a" => Some(Slot::A),
            "B" | "b" => Some(Slot::B),
            _ => None,
        }
    }
}

/// The slot on a kernel command line (`breakwater.slot=A`).
pub fn running_from_cmdline(cmdline: &str) -> Option<Slot> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("breakwater.slot="))
        .and_then(Slot::parse)
}

/// Where init mounts the boot partition.
pub const BOOT_DIR: &str = "/boot";

/// The boot partition as this firmware sees it.
#[derive(Debug, Clone)]
pub struct BootPartition {
    pub dir: PathBuf,
    /// `None` off the appliance (no `breakwater.slot=` on the command line).
    pub running: Option<Slot>,
    /// Booted through UEFI (systemd-boot), not BIOS (syslinux).
    pub uefi: bool,
}

/// An upgrade on trial (`/boot/trial`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    pub slot: Slot,
    pub version: String,
    pub previous: Slot,
}

impl Trial {
    fn emit(&self) -> String {
        format!(
            "slot={}\nversion={}\nprevious={}\n",
            self.slot.label(),
            self.version,
            self.previous.label()
        )
    }

    fn parse(text: &str) -> Option<Trial> {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::trim)
        };
        Some(Trial {
            slot: Slot::parse(get("slot")?)?,
            version: get("version")?.to_string(),
            previous: Slot::parse(get("previous")?)?,
        })
    }
}

/// Typed failures of the slot operations.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("not running from a firmware slot (no breakwater.slot= on the kernel command line)")]
    NoSlot,
    #[error("the boot partition is not mounted at {0}")]
    NotMounted(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} does not end with a valid syslinux ADV; reinstall the boot loader")]
    NoAdv(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SlotError + '_ {
    move |source| SlotError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl BootPartition {
    /// The real one: `/boot` and `/proc/cmdline`.
    pub fn probe() -> BootPartition {
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        BootPartition {
            dir: PathBuf::from(BOOT_DIR),
            running: running_from_cmdline(&cmdline),
            uefi: Path::new("/sys/firmware/efi").exists(),
        }
    }

    pub fn slot_dir(&self, slot: Slot) -> PathBuf {
        self.dir.join(slot.label())
    }

    /// The Breakwater version a slot holds (`breakwater 0.1.0` in its
    /// `version` file), `None` when empty or unreadable.
    pub fn version_of(&self, slot: Slot) -> Option<String> {
        let text = std::fs::read_to_string(self.slot_dir(slot).join("version")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("breakwater "))
            .map(|v| v.trim().to_string())
    }

    pub fn trial(&self) -> Option<Trial> {
        Trial::parse(&std::fs::read_to_string(self.dir.join("trial")).ok()?)
    }

    /// The lines `status`, `version` and the login banner show.
    pub fn describe(&self) -> Vec<String> {
        let Some(running) = self.running else {
            return vec!["Firmware slot: none (not booted from a slot)".to_string()];
        };
        let show = |s: Slot| match self.version_of(s) {
            Some(v) => format!("{} (Breakwater {v})", s.label()),
            None => format!("{} (empty)", s.label()),
        };
        let mut lines = vec![
            format!("Running slot: {}", show(running)),
            format!("Other slot: {}", show(running.other())),
        ];
        if let Some(t) = self.trial() {
            lines.push(format!(
                "Upgrade on trial: slot {} (Breakwater {}), permanent once healthy",
                t.slot.label(),
                t.version
            ));
        }
        if let Ok(last) = std::fs::read_to_string(self.dir.join("last-upgrade"))
            && !last.trim().is_empty()
        {
            lines.push(format!("Last upgrade: {}", last.trim()));
        }
        lines
    }

    /// Starts the trial of `slot`: records it and sets the boot-once.
    pub fn begin_trial(&self, slot: Slot, version: &str) -> Result<(), SlotError> {
        let running = self.running.ok_or(SlotError::NoSlot)?;
        let trial = Trial {
            slot,
            version: version.to_string(),
            previous: running,
        };
        write_synced(&self.dir.join("trial"), trial.emit().as_bytes())?;
        set_boot_once(&self.dir.join("syslinux/ldlinux.sys"), slot.label())
    }

    /// Makes the running slot permanent (its trial succeeded).
    pub fn confirm(&self, trial: &Trial) -> Result<(), SlotError> {
        set_default(&self.dir, trial.slot)?;
        write_synced(
            &self.dir.join("last-upgrade"),
            format!(
                "Breakwater {} in slot {} is permanent (came up healthy)\n",
                trial.version,
                trial.slot.label()
            )
            .as_bytes(),
        )?;
        remove_synced(&self.dir.join("trial"))
    }

    /// Right after boot: a trial that names another slot than the running
    /// one failed (the boot-once was used and the box came back). Returns
    /// the line to log, if any.
    pub fn settle_after_boot(&self) -> Option<String> {
        let running = self.running?;
        let trial = self.trial()?;
        if trial.slot == running {
            return None;
        }
        let line = format!(
            "Breakwater {} in slot {} did not come up healthy; rolled back to slot {}",
            trial.version,
            trial.slot.label(),
            running.label()
        );
        let _ = write_synced(
            &self.dir.join("last-upgrade"),
            format!("{line}\n").as_bytes(),
        );
        let _ = remove_synced(&self.dir.join("trial"));
        Some(line)
    }
}

/// Rewrites the loaders' default: `DEFAULT <slot>` in syslinux.cfg and
/// `default breakwater-<slot>.conf` in systemd-boot's loader.conf. Each
/// file is written to a new name, synced and renamed over the old one.
pub fn set_default(boot: &Path, slot: Slot) -> Result<(), SlotError> {
    let sys = boot.join("syslinux/syslinux.cfg");
    let text = std::fs::read_to_string(&sys).map_err(io(&sys))?;
    let new: String = text
        .lines()
        .map(|l| {
            if l.trim_start().to_ascii_uppercase().starts_with("DEFAULT ") {
                format!("DEFAULT {}\n", slot.label())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    write_synced(&sys, new.as_bytes())?;
    let loader = boot.join("loader/loader.conf");
    if let Ok(text) = std::fs::read_to_string(&loader) {
        let entry = format!(
            "default breakwater-{}.conf",
            slot.label().to_ascii_lowercase()
        );
        let new: String = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("default ") {
                    format!("{entry}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        write_synced(&loader, new.as_bytes())?;
    }
    Ok(())
}

/// [`crate::durable::write_file`], with the path in the error.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), SlotError> {
    crate::durable::write_file(path, bytes).map_err(io(path))
}

fn remove_synced(path: &Path) -> Result<(), SlotError> {
    crate::durable::remove_file(path).map_err(io(path))
}

// syslinux's auxiliary data vector: two identical 512-byte copies at the
// end of ldlinux.sys, each `MAGIC1, checksum, 500 bytes of tag/length/
// value items, MAGIC3`, the checksum making the sum of the words after
// MAGIC1 equal MAGIC2. ldlinux reads it at boot; a BOOTONCE item is
// cleared (and the ADV written back) before the command runs.
const ADV_SIZE: usize = 512;
const ADV_MAGIC1: u32 = 0x5a2d_2fa5;
const ADV_MAGIC2: u32 = 0xa304_1767;
const ADV_MAGIC3: u32 = 0xdd28_bf64;
const ADV_BOOTONCE: u8 = 1;

/// An ADV copy holding one BOOTONCE item (`command`).
pub fn adv_with_boot_once(command: &str) -> [u8; ADV_SIZE] {
    let mut blk = [0u8; ADV_SIZE];
    blk[0..4].copy_from_slice(&ADV_MAGIC1.to_le_bytes());
    let cmd = command.as_bytes();
    let len = cmd.len().min(255);
    blk[8] = ADV_BOOTONCE;
    blk[9] = len as u8;
    blk[10..10 + len].copy_from_slice(&cmd[..len]);
    let mut csum = ADV_MAGIC2;
    for word in blk[8..ADV_SIZE - 4].chunks_exact(4) {
        csum = csum.wrapping_sub(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
    }
    blk[4..8].copy_from_slice(&csum.to_le_bytes());
    blk[ADV_SIZE - 4..].copy_from_slice(&ADV_MAGIC3.to_le_bytes());
    blk
}

/// Whether a 512-byte ADV copy is well-formed.
pub fn adv_valid(blk: &[u8]) -> bool {
    let word = |i: usize| u32::from_le_bytes([blk[i], blk[i + 1], blk[i + 2], blk[i + 3]]);
    blk.len() == ADV_SIZE
        && word(0) == ADV_MAGIC1
        && word(ADV_SIZE - 4) == ADV_MAGIC3
        && (4..ADV_SIZE - 4)
            .step_by(4)
            .fold(0u32, |s, i| s.wrapping_add(word(i)))
            == ADV_MAGIC2
}

/// Puts a boot-once command in ldlinux.sys's ADV, in place: the boot
/// loader knows the file's sectors from installation, so the file must
/// keep its size and clusters (written at an offset, never truncated).
pub fn set_boot_once(ldlinux: &Path, command: &str) -> Result<(), SlotError> {
    let data = std::fs::read(ldlinux).map_err(io(ldlinux))?;
    let n = data.len();
    if n < 2 * ADV_SIZE
        || !(adv_valid(&data[n - 2 * ADV_SIZE..n - ADV_SIZE]) || adv_valid(&data[n - ADV_SIZE..]))
    {
        return Err(SlotError::NoAdv(ldlinux.display().to_string()));
    }
    let blk = adv_with_boot_once(command);
    // `syslinux --install` marks ldlinux.sys read-only (FAT attribute);
    // vfat maps that to the write bits, so lift it for the write and put
    // it back, as syslinux's own installers do.
    let perms = std::fs::metadata(ldlinux)
        .map_err(io(ldlinux))?
        .permissions();
    let was_read_only = perms.readonly();
    if was_read_only {
        let mut writable = perms.clone();
        #[allow(clippy::permissions_set_readonly_false)]
        writable.set_readonly(false);
        std::fs::set_permissions(ldlinux, writable).map_err(io(ldlinux))?;
    }
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).open(ldlinux)?;
        f.seek(SeekFrom::Start((n - 2 * ADV_SIZE) as u64))?;
        f.write_all(&blk)?;
        f.write_all(&blk)?;
        f.sync_all()
    })();
    if was_read_only {
        let _ = std::fs::set_permissions(ldlinux, perms);
    }
    written.map_err(io(ldlinux))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_comes_from_the_command_line() {
        let c = "console=ttyS0,115200 panic=10 breakwater.board=vesa breakwater.slot=B";
        assert_eq!(running_from_cmdline(c), Some(Slot::B));
        assert_eq!(running_from_cmdline("console=ttyS0"), None);
    }

    #[test]
    fn a_boot_once_adv_is_valid_and_holds_the_label() {
        let blk = adv_with_boot_once("B");
        assert!(adv_valid(&blk));
        assert_eq!(&blk[8..11], &[1, 1, b'B']);
        let mut bad = blk;
        bad[100] ^= 1;
        assert!(!adv_valid(&bad));
    }

    fn fake_boot() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        for s in ["A", "B"] {
            std::fs::create_dir_all(b.join(s)).unwrap();
            std::fs::write(b.join(s).join("version"), "breakwater 0.1.0\n").unwrap();
        }
        std::fs::create_dir_all(b.join("syslinux")).unwrap();
        std::fs::create_dir_all(b.join("loader")).unwrap();
        std::fs::write(
            b.join("syslinux/syslinux.cfg"),
            "SERIAL 0 115200\nDEFAULT A\nLABEL A\n  LINUX /A/vmlinuz\n",
        )
        .unwrap();
        std::fs::write(
            b.join("loader/loader.conf"),
            "default breakwater-a.conf\ntimeout 0\n",
        )
        .unwrap();
        // An ldlinux.sys with an empty (valid) ADV at its end.
        let mut ld = vec![0x90u8; 4096];
        let empty = {
            let mut blk = adv_with_boot_once("");
            blk[8] = 0;
            let mut csum = ADV_MAGIC2;
            for w in blk[8..ADV_SIZE - 4].chunks_exact(4) {
                csum = csum.wrapping_sub(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            }
            blk[4..8].copy_from_slice(&csum.to_le_bytes());
            blk
        };
        ld.extend_from_slice(&empty);
        ld.extend_from_slice(&empty);
        let ld_path = b.join("syslinux/ldlinux.sys");
        std::fs::write(&ld_path, ld).unwrap();
        // As `syslinux --install` leaves it.
        let mut ro = std::fs::metadata(&ld_path).unwrap().permissions();
        ro.set_readonly(true);
        std::fs::set_permissions(&ld_path, ro).unwrap();
        dir
    }

    #[test]
    fn a_trial_sets_boot_once_and_confirm_makes_it_the_default() {
        let dir = fake_boot();
        let boot = BootPartition {
            dir: dir.path().to_path_buf(),
            running: Some(Slot::A),
            uefi: false,
        };
        boot.begin_trial(Slot::B, "0.2.0").unwrap();
        let ld = std::fs::read(dir.path().join("syslinux/ldlinux.sys")).unwrap();
        assert_eq!(
            ld.len(),
            4096 + 1024,
            "same size: the loader knows its sectors"
        );
        assert!(adv_valid(&ld[4096..4096 + 512]));
        assert_eq!(&ld[4096 + 8..4096 + 11], &[1, 1, b'B']);
        let ld_meta = std::fs::metadata(dir.path().join("syslinux/ldlinux.sys")).unwrap();
        assert!(ld_meta.permissions().readonly(), "read-only again");
        let t = boot.trial().unwrap();
        assert_eq!(
            (t.slot, t.previous, t.version.as_str()),
            (Slot::B, Slot::A, "0.2.0")
        );

        // Booted into B, healthy: permanent.
        let on_b = BootPartition {
            dir: dir.path().to_path_buf(),
            running: Some(Slot::B),
            uefi: false,
        };
        assert_eq!(
            on_b.settle_after_boot(),
            None,
            "a trial of the running slot waits"
        );
        on_b.confirm(&t).unwrap();
        let cfg = std::fs::read_to_string(dir.path().join("syslinux/syslinux.cfg")).unwrap();
        assert!(
            cfg.contains("\nDEFAULT B\n") && !cfg.contains("DEFAULT A"),
            "{cfg}"
        );
        let loader = std::fs::read_to_string(dir.path().join("loader/loader.conf")).unwrap();
        assert!(
            loader.starts_with("default breakwater-b.conf\n"),
            "{loader}"
        );
        assert!(on_b.trial().is_none());
        assert!(on_b.describe().iter().any(|l| l.contains("is permanent")));
    }

    #[test]
    fn back_on_the_old_slot_the_trial_is_a_rollback() {
        let dir = fake_boot();
        let boot = BootPartition {
            dir: dir.path().to_path_buf(),
            running: Some(Slot::A),
            uefi: false,
        };
        boot.begin_trial(Slot::B, "0.2.0").unwrap();
        let line = boot.settle_after_boot().unwrap();
        assert!(line.contains("rolled back to slot A"), "{line}");
        assert!(boot.trial().is_none());
        let cfg = std::fs::read_to_string(dir.path().join("syslinux/syslinux.cfg")).unwrap();
        assert!(cfg.contains("DEFAULT A"));
        assert!(
            boot.describe()
                .iter()
                .any(|l| l.starts_with("Last upgrade: ") && l.contains("rolled back"))
        );
    }
}
