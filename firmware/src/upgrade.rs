//! `upgrade`: installs a new firmware into the inactive slot and starts its
//! trial boot ([`crate::slots`]).
//!
//! An upgrade package (`breakwater-<version>.upgrade`, made by `tools/image
//! build`) is a ustar archive of three members:
//!
//! ```text
//! manifest     product=breakwater, version=, board=, sha256.vmlinuz=, sha256.initrd.img=
//! vmlinuz      the kernel
//! initrd.img   the initramfs (the breakwater binary as /init, modules)
//! ```
//!
//! It comes from a file the administrator put in `<data-dir>/upgrade/`, or
//! from an `https://` URL (fetched over the Management interface's route,
//! the server's certificate checked against the public roots and the
//! `certconfig` CA list; plain http is refused). Everything is checked
//! before the slot is touched: the board, each member's SHA-256. The
//! files are written as `*.new`, synced, and renamed into the slot.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::slots::{BootPartition, SlotError, write_synced};

/// The largest package accepted (a kernel and an initramfs are ~15 MiB).
pub const MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Typed failures, each a sentence for the console.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("no upgrade file {0} (put packages in the data partition's upgrade/ directory)")]
    NoFile(String),
    #[error("give a package name from upgrade/ or an https:// URL; {0}")]
    BadSource(String),
    #[error("cannot download {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("not an upgrade package: {0}")]
    BadPackage(String),
    #[error("the package is for board {found}; this appliance is {expected}")]
    WrongBoard { found: String, expected: String },
    #[error("{member} does not match its SHA-256 in the manifest: the package is damaged")]
    Checksum { member: String },
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("a trial of slot {0} is already in progress; reboot to finish it first")]
    TrialPending(&'static str),
}

/// A checked package.
#[derive(Debug)]
pub struct Package {
    pub version: String,
    pub board: String,
    pub vmlinuz: Vec<u8>,
    pub initrd: Vec<u8>,
}

/// Longest version or board name a manifest may give.
const MAX_TOKEN: usize = 64;

/// A manifest's version and board reach the slot's `version` file, the
/// trial record, the boot messages and the console: only the characters
/// of a Debian version, so none of them can hold a control character, a
/// line of its own or bytes that are not UTF-8 (found by the
/// `upgrade_package` fuzz target: a board of `\xe4ev` was accepted).
fn is_plain_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_TOKEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~'))
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Package {
    /// Reads and checks a package (members and checksums).
    pub fn parse(bytes: &[u8]) -> Result<Package, UpgradeError> {
        let bad = |m: String| UpgradeError::BadPackage(m);
        let mut manifest = None;
        let mut vmlinuz = None;
        let mut initrd = None;
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let name = entry
                .path()
                .map_err(|e| bad(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| bad(e.to_string()))?;
            match name.trim_start_matches("./") {
                "manifest" => manifest = Some(String::from_utf8_lossy(&data).into_owned()),
                "vmlinuz" => vmlinuz = Some(data),
                "initrd.img" => initrd = Some(data),
                _ => {}
            }
        }
        let manifest = manifest.ok_or_else(|| bad("no manifest".into()))?;
        let get = |k: &str| {
            manifest
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(|v| v.trim().to_string())
        };
        if get("product").as_deref() != Some("breakwater") {
            return Err(bad("the manifest does not name product=breakwater".into()));
        }
        let version = get("version").ok_or_else(|| bad("no version in the manifest".into()))?;
        let board = get("board").ok_or_else(|| bad("no board in the manifest".into()))?;
        for (key, value) in [("version", &version), ("board", &board)] {
            if !is_plain_token(value) {
                return Err(bad(format!(
                    "the manifest's {key} is not a plain name (at most {MAX_TOKEN} letters, digits, '.', '_', '-', '+' or '~')"
                )));
            }
        }
        let vmlinuz = vmlinuz.ok_or_else(|| bad("no vmlinuz".into()))?;
        let initrd = initrd.ok_or_else(|| bad("no initrd.img".into()))?;
        for (member, data) in [("vmlinuz", &vmlinuz), ("initrd.img", &initrd)] {
            let want = get(&format!("sha256.{member}"))
                .ok_or_else(|| bad(format!("no sha256.{member} in the manifest")))?;
            if !want.eq_ignore_ascii_case(&sha256_hex(data)) {
                return Err(UpgradeError::Checksum {
                    member: member.to_string(),
                });
            }
        }
        Ok(Package {
            version,
            board,
            vmlinuz,
            initrd,
        })
    }
}

/// The package bytes from `source`: a name in `<data_dir>/upgrade/`, or an
/// `https://` URL.
pub fn fetch(source: &str, data_dir: &Path, config: &Config) -> Result<Vec<u8>, UpgradeError> {
    if source.starts_with("https://") {
        return download(source, config);
    }
    if source.contains("://") {
        return Err(UpgradeError::BadSource(
            "only https:// URLs are accepted".to_string(),
        ));
    }
    if source.is_empty() || source.contains('/') || source.starts_with('.') {
        return Err(UpgradeError::BadSource(format!(
            "'{source}' is not a file name"
        )));
    }
    let path: PathBuf = data_dir.join("upgrade").join(source);
    let meta = std::fs::metadata(&path).map_err(|_| UpgradeError::NoFile(source.to_string()))?;
    if meta.len() > MAX_PACKAGE_BYTES {
        return Err(UpgradeError::BadPackage(format!(
            "{source} is larger than {MAX_PACKAGE_BYTES} bytes"
        )));
    }
    std::fs::read(&path).map_err(|_| UpgradeError::NoFile(source.to_string()))
}

fn download(url: &str, config: &Config) -> Result<Vec<u8>, UpgradeError> {
    let fail = |reason: String| UpgradeError::Download {
        url: url.to_string(),
        reason,
    };
    let mut roots: Vec<ureq::tls::Certificate<'static>> = Vec::new();
    // The image's CA bundle and the administrator's CA list.
    let bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    for pem in [bundle].into_iter().chain(
        config
            .ca_certificates
            .iter()
            .map(|c| c.cert_pem.as_bytes().to_vec()),
    ) {
        for item in ureq::tls::parse_pem(&pem).flatten() {
            if let ureq::tls::PemItem::Certificate(c) = item {
                roots.push(c.to_owned());
            }
        }
    }
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    let agent: ureq::Agent = ureq::config::Config::builder()
        .tls_config(tls)
        .https_only(true)
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_global(Some(std::time::Duration::from_secs(600)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    response
        .body_mut()
        .with_config()
        .limit(MAX_PACKAGE_BYTES)
        .read_to_vec()
        .map_err(|e| fail(e.to_string()))
}

/// Writes the package into the inactive slot and starts its trial (the
/// loader's boot-once: syslinux's ADV on a BIOS box, systemd-boot's
/// `LoaderEntryOneShot` on a UEFI one). Run by the supervisor (root) with a
/// package from [`verify_for_install`]. Returns the console's answer.
pub fn install(boot: &BootPartition, board: &str, pkg: &Package) -> Result<String, UpgradeError> {
    let running = boot.running.ok_or(SlotError::NoSlot)?;
    let target = running.other();
    boot.ready_for_trial(target)?;
    if let Some(t) = boot.trial() {
        return Err(UpgradeError::TrialPending(t.slot.label()));
    }
    if pkg.board != board {
        return Err(UpgradeError::WrongBoard {
            found: pkg.board.clone(),
            expected: board.to_string(),
        });
    }
    let dir = boot.slot_dir(target);
    std::fs::create_dir_all(&dir).map_err(|source| SlotError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    // The version file goes last: a slot with a half-written kernel never
    // claims a version.
    let _ = std::fs::remove_file(dir.join("version"));
    write_synced(&dir.join("vmlinuz"), &pkg.vmlinuz)?;
    write_synced(&dir.join("initrd.img"), &pkg.initrd)?;
    write_synced(
        &dir.join("version"),
        format!("breakwater {}\nboard {}\n", pkg.version, pkg.board).as_bytes(),
    )?;
    boot.begin_trial(target, &pkg.version)?;
    Ok(format!(
        "Breakwater {} is installed in slot {}.\nReboot to try it: the box boots slot {} once, and makes it permanent when the new firmware reports healthy; if it does not come up, the next boot returns to slot {}.",
        pkg.version,
        target.label(),
        target.label(),
        running.label()
    ))
}

/// Every check a package passes before a slot is written, in one place:
/// the supervisor runs it on the bytes the mail daemon handed over (it
/// trusts nothing the daemon checked), and the daemon runs it first so an
/// administrator hears about a bad package before it is sent. Today: the
/// size bound, the package's members and their SHA-256
/// ([`Package::parse`]), and the board. `allow_downgrade` is the
/// administrator's `--allow-downgrade`, for the version check against the
/// running firmware (anti-rollback, with the signature check of issue 13)
/// that belongs here as well.
pub fn verify_for_install(
    bytes: &[u8],
    board: &str,
    allow_downgrade: bool,
) -> Result<Package, UpgradeError> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(UpgradeError::BadPackage(format!(
            "the package is larger than {MAX_PACKAGE_BYTES} bytes"
        )));
    }
    let pkg = Package::parse(bytes)?;
    if pkg.board != board {
        return Err(UpgradeError::WrongBoard {
            found: pkg.board.clone(),
            expected: board.to_string(),
        });
    }
    let _ = allow_downgrade;
    Ok(pkg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(board: &str, corrupt: bool) -> Vec<u8> {
        package_with("0.2.0".as_bytes(), board.as_bytes(), corrupt)
    }

    fn package_with(version: &[u8], board: &[u8], corrupt: bool) -> Vec<u8> {
        let kernel = b"kernel bytes".to_vec();
        let initrd = b"initrd bytes".to_vec();
        let mut manifest = b"product=breakwater\nversion=".to_vec();
        manifest.extend_from_slice(version);
        manifest.extend_from_slice(b"\nboard=");
        manifest.extend_from_slice(board);
        manifest.extend_from_slice(
            format!(
                "\nsha256.vmlinuz={}\nsha256.initrd.img={}\n",
                sha256_hex(&kernel),
                sha256_hex(&initrd)
            )
            .as_bytes(),
        );
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("manifest", manifest),
            ("vmlinuz", kernel),
            (
                "initrd.img",
                if corrupt { b"other".to_vec() } else { initrd },
            ),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_good_package_parses_and_a_damaged_one_is_refused() {
        let p = Package::parse(&package("vesa", false)).unwrap();
        assert_eq!((p.version.as_str(), p.board.as_str()), ("0.2.0", "vesa"));
        let e = Package::parse(&package("vesa", true)).unwrap_err();
        assert!(e.to_string().contains("initrd.img does not match"), "{e}");
        let e = Package::parse(b"junk").unwrap_err();
        assert!(matches!(e, UpgradeError::BadPackage(_)), "{e}");
    }

    /// Found by the `upgrade_package` fuzz target
    /// (`fuzz/corpus/upgrade_package/board_not_utf8`).
    #[test]
    fn fuzz_upgrade_package_board_not_utf8_is_refused() {
        let e = Package::parse(&package_with(b"0.3.1", b"\xe4ev", false)).unwrap_err();
        assert!(
            e.to_string()
                .contains("the manifest's board is not a plain name"),
            "{e}"
        );
    }

    #[test]
    fn versions_and_boards_that_could_forge_a_line_are_refused() {
        for (version, board) in [
            (&b"0.2\r0"[..], &b"vesa"[..]),
            (b"0.2.0\x1b[2J", b"vesa"),
            (b"", b"vesa"),
            (b"0.2.0", b"ve sa"),
            (b"0.2.0", &[b'v'; 65][..]),
        ] {
            let e = Package::parse(&package_with(version, board, false)).unwrap_err();
            assert!(
                matches!(e, UpgradeError::BadPackage(_)),
                "{version:?} {board:?}: {e}"
            );
        }
        let p = Package::parse(&package_with(b"1.2.3~rc1+deb12", b"vesa", false)).unwrap();
        assert_eq!(p.version, "1.2.3~rc1+deb12");
    }

    /// A boot partition as `tools/image` lays it out (both loaders), and
    /// for `uefi` a fake efivarfs directory beside it.
    fn fake_boot(uefi: bool) -> (tempfile::TempDir, BootPartition) {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        std::fs::create_dir_all(b.join("syslinux")).unwrap();
        std::fs::write(b.join("syslinux/syslinux.cfg"), "DEFAULT A\n").unwrap();
        let mut ld = vec![0u8; 2048];
        let adv = crate::slots::adv_with_boot_once("");
        ld.extend_from_slice(&adv);
        ld.extend_from_slice(&adv);
        std::fs::write(b.join("syslinux/ldlinux.sys"), ld).unwrap();
        std::fs::create_dir_all(b.join("loader/entries")).unwrap();
        std::fs::write(b.join("loader/loader.conf"), "default breakwater-a.conf\n").unwrap();
        for l in ["a", "b"] {
            std::fs::write(
                b.join(format!("loader/entries/breakwater-{l}.conf")),
                "title\n",
            )
            .unwrap();
        }
        let efivars = b.join("efivars");
        std::fs::create_dir_all(&efivars).unwrap();
        std::fs::write(
            efivars.join(format!("LoaderInfo-{}", crate::slots::LOADER_VENDOR_GUID)),
            crate::slots::efi_string_variable(6, "systemd-boot"),
        )
        .unwrap();
        let boot = BootPartition {
            dir: b.to_path_buf(),
            running: Some(crate::slots::Slot::A),
            uefi,
            efivars,
        };
        (dir, boot)
    }

    #[test]
    fn install_writes_the_other_slot_and_arms_one_trial() {
        let (dir, boot) = fake_boot(false);
        let pkg = Package::parse(&package("vesa", false)).unwrap();
        let e = install(&boot, "x86-appliance", &pkg).unwrap_err();
        assert!(matches!(e, UpgradeError::WrongBoard { .. }), "{e}");
        let said = install(&boot, "vesa", &pkg).unwrap();
        assert!(said.contains("installed in slot B"), "{said}");
        assert_eq!(
            std::fs::read(dir.path().join("B/initrd.img")).unwrap(),
            b"initrd bytes"
        );
        assert_eq!(
            boot.version_of(crate::slots::Slot::B).as_deref(),
            Some("0.2.0")
        );
        let ld = std::fs::read(dir.path().join("syslinux/ldlinux.sys")).unwrap();
        assert_eq!(&ld[2048 + 8..2048 + 11], &[1, 1, b'B'], "boot-once B armed");
        assert!(
            !crate::slots::one_shot_path(&boot.efivars).exists(),
            "a BIOS box sets no EFI variable"
        );
        let e = install(&boot, "vesa", &pkg).unwrap_err();
        assert!(matches!(e, UpgradeError::TrialPending("B")), "{e}");
    }

    #[test]
    fn a_uefi_box_installs_and_sets_systemd_boots_one_shot_entry() {
        let (dir, boot) = fake_boot(true);
        let pkg = verify_for_install(&package("vesa", false), "vesa", false).unwrap();
        let said = install(&boot, "vesa", &pkg).unwrap();
        assert!(said.contains("installed in slot B"), "{said}");
        assert_eq!(
            boot.version_of(crate::slots::Slot::B).as_deref(),
            Some("0.2.0")
        );
        assert_eq!(
            crate::slots::one_shot(&boot.efivars).unwrap().as_deref(),
            Some("breakwater-b.conf")
        );
        let loader = std::fs::read_to_string(dir.path().join("loader/loader.conf")).unwrap();
        assert!(
            loader.contains("default breakwater-a.conf"),
            "the default stays"
        );
        let ld = std::fs::read(dir.path().join("syslinux/ldlinux.sys")).unwrap();
        assert_eq!(&ld[2048 + 8..2048 + 11], &[1, 0, 0], "no ADV boot-once");
    }

    #[test]
    fn a_uefi_box_with_a_pending_one_shot_refuses_before_touching_a_slot() {
        let (dir, boot) = fake_boot(true);
        crate::slots::set_one_shot(&boot.efivars, "something-else.conf").unwrap();
        let pkg = verify_for_install(&package("vesa", false), "vesa", false).unwrap();
        let e = install(&boot, "vesa", &pkg).unwrap_err();
        assert!(e.to_string().contains("reboot, then install again"), "{e}");
        assert!(!dir.path().join("B").exists());
        assert!(boot.trial().is_none());
    }

    #[test]
    fn verification_refuses_a_damaged_package_or_another_board() {
        let e = verify_for_install(&package("vesa", true), "vesa", false).unwrap_err();
        assert!(matches!(e, UpgradeError::Checksum { .. }), "{e}");
        let e = verify_for_install(&package("vesa", false), "x86-appliance", true).unwrap_err();
        assert!(
            e.to_string()
                .contains("the package is for board vesa; this appliance is x86-appliance"),
            "{e}"
        );
    }

    #[test]
    fn sources_are_files_in_upgrade_or_https_urls() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::factory::factory_config(
            &breakwater_board::BoardProfile::builtin("dev").unwrap(),
            crate::config::factory::demo_certificate("x.example.com").unwrap(),
        );
        for bad in ["../etc/passwd", "http://x/y", "a/b", ""] {
            assert!(fetch(bad, dir.path(), &cfg).is_err(), "{bad}");
        }
        std::fs::create_dir_all(dir.path().join("upgrade")).unwrap();
        std::fs::write(dir.path().join("upgrade/p.upgrade"), b"x").unwrap();
        assert_eq!(fetch("p.upgrade", dir.path(), &cfg).unwrap(), b"x");
    }
}
