//! Firmware slots A and B on the boot partition (the ESP, mounted at
//! `/boot` by init), which one runs, and the trial boot of an upgrade.
//!
//! ```text
//! /boot/A/{vmlinuz,initrd.img,version}   slot A
//! /boot/B/{vmlinuz,initrd.img,version}   slot B
//! /boot/syslinux/syslinux.cfg            BIOS: DEFAULT = the permanent slot
//! /boot/syslinux/ldlinux.sys             its last 1 KiB: syslinux's ADV
//! /boot/loader/loader.conf               UEFI (systemd-boot): default entry
//! /boot/loader/entries/breakwater-a.conf  UEFI: slot A's entry (and -b)
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
//!
//! **Trial boot** (UEFI): the same, with systemd-boot's one-shot entry
//! instead of the ADV: the EFI variable `LoaderEntryOneShot` (systemd's
//! loader vendor GUID) names the slot's entry file, `breakwater-b.conf`;
//! systemd-boot deletes it before booting that entry once, and the default
//! in `loader.conf` stays the old slot until [`confirm`]. The variable is
//! written through efivarfs, which init mounts at [`EFIVARS_DIR`] on a
//! UEFI-booted box (root only).
//!
//! Every write here is made by the supervisor (root): the boot partition
//! is mounted root-owned, readable by the mail daemon (for `status`,
//! `version` and the login banner), not writable by it.

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

/// Where init mounts efivarfs on a UEFI-booted box.
pub const EFIVARS_DIR: &str = "/sys/firmware/efi/efivars";

/// systemd-boot's vendor GUID for its loader variables (`LoaderEntryOneShot`,
/// `LoaderEntryDefault`, `LoaderInfo`...), as in systemd's `src/boot/efi`.
pub const LOADER_VENDOR_GUID: &str = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";

/// The EFI variable systemd-boot boots once and deletes.
pub const ONE_SHOT_VARIABLE: &str = "LoaderEntryOneShot";

/// EFI variable attributes: non-volatile, boot-service and runtime access
/// (UEFI 2.x `EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS |
/// RUNTIME_ACCESS`), what systemd's `bootctl set-oneshot` writes.
pub const EFI_ATTRIBUTES_NV_BS_RT: u32 = 0x1 | 0x2 | 0x4;

/// A slot's systemd-boot entry id: its file name in `loader/entries/`
/// (`tools/image` writes `breakwater-a.conf` and `breakwater-b.conf`).
pub fn loader_entry_id(slot: Slot) -> String {
    format!("breakwater-{}.conf", slot.label().to_ascii_lowercase())
}

/// An efivarfs file's contents: the attributes (4 bytes, little-endian)
/// then the value, here a UTF-16LE string with its NUL, as systemd-boot
/// reads string variables.
pub fn efi_string_variable(attributes: u32, value: &str) -> Vec<u8> {
    let mut bytes = attributes.to_le_bytes().to_vec();
    for unit in value.encode_utf16().chain(std::iter::once(0)) {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// The string in an efivarfs file's contents ([`efi_string_variable`]),
/// `None` when it is not a UTF-16LE, NUL-terminated string.
pub fn parse_efi_string_variable(bytes: &[u8]) -> Option<String> {
    let value = bytes.get(4..)?;
    if value.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = value
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (last, text) = units.split_last()?;
    (*last == 0).then_some(())?;
    String::from_utf16(text).ok()
}

/// The boot partition as this firmware sees it.
#[derive(Debug, Clone)]
pub struct BootPartition {
    pub dir: PathBuf,
    /// `None` off the appliance (no `breakwater.slot=` on the command line).
    pub running: Option<Slot>,
    /// Booted through UEFI (systemd-boot), not BIOS (syslinux).
    pub uefi: bool,
    /// Where efivarfs is mounted ([`EFIVARS_DIR`]); used when `uefi`.
    pub efivars: PathBuf,
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
    #[error(
        "no EFI variables at {0}: efivarfs is not mounted, so the one-shot boot entry cannot be set"
    )]
    NoEfiVariables(String),
    #[error("the boot partition has no systemd-boot entry {0}")]
    NoLoaderEntry(String),
    // efivarfs makes every existing variable outside the kernel's short
    // list immutable (`chattr -i` needs the FS_IOC_SETFLAGS ioctl, which
    // the workspace's no-`unsafe` rule keeps out), so an existing one
    // cannot be rewritten; it is gone after the next boot, which
    // systemd-boot deletes it in.
    #[error(
        "systemd-boot's one-shot entry (EFI variable LoaderEntryOneShot) is already set to {0}; it is used and cleared at the next boot: reboot, then install again"
    )]
    OneShotPending(String),
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
            efivars: PathBuf::from(EFIVARS_DIR),
        }
    }

    /// Whether the loader this box booted through can start a trial of
    /// `slot`: checked before a slot is written, so a box that cannot
    /// boot the new firmware once is not left with a half-done upgrade.
    pub fn ready_for_trial(&self, slot: Slot) -> Result<(), SlotError> {
        if self.uefi {
            let entry = self.dir.join("loader/entries").join(loader_entry_id(slot));
            if !entry.is_file() {
                return Err(if self.dir.join("loader").is_dir() {
                    SlotError::NoLoaderEntry(entry.display().to_string())
                } else {
                    SlotError::NotMounted(self.dir.display().to_string())
                });
            }
            let visible = std::fs::read_dir(&self.efivars)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if !visible {
                return Err(SlotError::NoEfiVariables(
                    self.efivars.display().to_string(),
                ));
            }
            return match one_shot(&self.efivars)? {
                Some(set) if set != loader_entry_id(slot) => Err(SlotError::OneShotPending(set)),
                _ => Ok(()),
            };
        }
        if !self.dir.join("syslinux").is_dir() {
            return Err(SlotError::NotMounted(self.dir.display().to_string()));
        }
        Ok(())
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
        let armed = if self.uefi {
            set_one_shot(&self.efivars, &loader_entry_id(slot))
        } else {
            set_boot_once(&self.dir.join("syslinux/ldlinux.sys"), slot.label())
        };
        // Without the loader's boot-once the next boot is the old slot,
        // which would report a rollback of a trial that never ran.
        if armed.is_err() {
            let _ = remove_synced(&self.dir.join("trial"));
        }
        armed
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
        let entry = format!("default {}", loader_entry_id(slot));
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

/// The efivarfs file of systemd-boot's one-shot entry.
pub fn one_shot_path(efivars: &Path) -> PathBuf {
    efivars.join(format!("{ONE_SHOT_VARIABLE}-{LOADER_VENDOR_GUID}"))
}

/// The entry id in `LoaderEntryOneShot`, `None` when it is not set.
pub fn one_shot(efivars: &Path) -> Result<Option<String>, SlotError> {
    let path = one_shot_path(efivars);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(
            parse_efi_string_variable(&bytes).unwrap_or_else(|| "an unreadable value".to_string()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Sets systemd-boot's one-shot entry to `entry` (`breakwater-b.conf`).
/// efivarfs takes a variable in one `write(2)` of attributes and value; a
/// new file can be created and written, an existing one is immutable
/// ([`SlotError::OneShotPending`] unless it already says `entry`). The
/// firmware commits the variable to flash inside that write: no fsync.
pub fn set_one_shot(efivars: &Path, entry: &str) -> Result<(), SlotError> {
    match one_shot(efivars)? {
        Some(set) if set == entry => return Ok(()),
        Some(set) => return Err(SlotError::OneShotPending(set)),
        None => {}
    }
    let path = one_shot_path(efivars);
    let bytes = efi_string_variable(EFI_ATTRIBUTES_NV_BS_RT, entry);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io(&path))?;
    let written = file.write(&bytes).map_err(io(&path))?;
    if written != bytes.len() {
        return Err(io(&path)(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("short write ({written} of {} bytes)", bytes.len()),
        )));
    }
    Ok(())
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
            efivars: PathBuf::new(),
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
            efivars: PathBuf::new(),
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
            efivars: PathBuf::new(),
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

    /// A fake efivarfs directory with what systemd-boot sets at every boot.
    fn fake_efivars(boot: &Path) -> PathBuf {
        let vars = boot.join("efivars");
        std::fs::create_dir_all(&vars).unwrap();
        std::fs::write(
            vars.join(format!("LoaderInfo-{LOADER_VENDOR_GUID}")),
            efi_string_variable(0x6, "systemd-boot 252"),
        )
        .unwrap();
        vars
    }

    #[test]
    fn the_one_shot_variable_is_utf16_with_its_nul_after_the_attributes() {
        let bytes = efi_string_variable(EFI_ATTRIBUTES_NV_BS_RT, "breakwater-b.conf");
        assert_eq!(&bytes[..4], &[7, 0, 0, 0]);
        assert_eq!(&bytes[4..8], &[b'b', 0, b'r', 0]);
        assert_eq!(&bytes[bytes.len() - 4..], &[b'f', 0, 0, 0]);
        assert_eq!(bytes.len(), 4 + 2 * ("breakwater-b.conf".len() + 1));
        assert_eq!(
            parse_efi_string_variable(&bytes).as_deref(),
            Some("breakwater-b.conf")
        );
        for junk in [&b""[..], b"\x07\0\0\0b", b"\x07\0\0\0b\0"] {
            assert_eq!(parse_efi_string_variable(junk), None, "{junk:?}");
        }
        assert_eq!(loader_entry_id(Slot::B), "breakwater-b.conf");
    }

    #[test]
    fn a_uefi_trial_sets_the_one_shot_entry_and_leaves_the_adv_alone() {
        let dir = fake_boot();
        let b = dir.path();
        std::fs::create_dir_all(b.join("loader/entries")).unwrap();
        std::fs::write(b.join("loader/entries/breakwater-b.conf"), "title B\n").unwrap();
        let boot = BootPartition {
            dir: b.to_path_buf(),
            running: Some(Slot::A),
            uefi: true,
            efivars: fake_efivars(b),
        };
        let adv_before = std::fs::read(b.join("syslinux/ldlinux.sys")).unwrap();
        boot.ready_for_trial(Slot::B).unwrap();
        boot.begin_trial(Slot::B, "0.2.0").unwrap();
        let var = std::fs::read(one_shot_path(&boot.efivars)).unwrap();
        assert_eq!(
            var,
            efi_string_variable(EFI_ATTRIBUTES_NV_BS_RT, "breakwater-b.conf")
        );
        assert_eq!(
            std::fs::read(b.join("syslinux/ldlinux.sys")).unwrap(),
            adv_before
        );
        assert_eq!(boot.trial().map(|t| t.slot), Some(Slot::B));
        // Setting the same entry again is a no-op; another one is refused
        // (efivarfs keeps existing variables immutable).
        set_one_shot(&boot.efivars, "breakwater-b.conf").unwrap();
        let e = set_one_shot(&boot.efivars, "breakwater-a.conf").unwrap_err();
        assert!(
            e.to_string().contains(
                "already set to breakwater-b.conf; it is used and cleared at the next boot"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_uefi_box_without_efi_variables_or_the_entry_cannot_start_a_trial() {
        let dir = fake_boot();
        let b = dir.path();
        let mut boot = BootPartition {
            dir: b.to_path_buf(),
            running: Some(Slot::A),
            uefi: true,
            efivars: b.join("efivars"),
        };
        let e = boot.ready_for_trial(Slot::B).unwrap_err();
        assert!(matches!(e, SlotError::NoLoaderEntry(_)), "{e}");
        std::fs::create_dir_all(b.join("loader/entries")).unwrap();
        std::fs::write(b.join("loader/entries/breakwater-b.conf"), "title B\n").unwrap();
        std::fs::create_dir_all(&boot.efivars).unwrap();
        let e = boot.ready_for_trial(Slot::B).unwrap_err();
        assert!(matches!(e, SlotError::NoEfiVariables(_)), "{e}");
        boot.efivars = fake_efivars(b);
        std::fs::write(
            one_shot_path(&boot.efivars),
            efi_string_variable(EFI_ATTRIBUTES_NV_BS_RT, "other.conf"),
        )
        .unwrap();
        let e = boot.ready_for_trial(Slot::B).unwrap_err();
        assert!(
            matches!(e, SlotError::OneShotPending(ref s) if s == "other.conf"),
            "{e}"
        );
    }
}
