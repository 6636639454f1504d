//! `upgrade`: checks a signed firmware package and installs it into the
//! inactive slot, starting its trial boot ([`crate::slots`]).
//!
//! An upgrade package (`breakwater-<version>.upgrade`, made by `tools/image
//! build` through `upgrade-sign package`) is a ustar archive:
//!
//! ```text
//! manifest      product=breakwater, version=, board=, and sha256.<member>=
//!               for every other member (vmlinuz and initrd.img at least)
//! manifest.sig  key=<key id>, ed25519=<signature over the manifest's bytes>
//! vmlinuz       the kernel
//! initrd.img    the initramfs (the breakwater binary as /init, modules,
//!               the trusted keys in /etc/breakwater/upgrade-keys/)
//! ```
//!
//! The signature covers the manifest, and the manifest the SHA-256 of
//! every member, so one Ed25519 signature covers the whole package
//! (decision 0010). [`Package::parse`] refuses an unsigned package, a
//! signature by a key the image does not carry ([`TrustedKeys`]) or that
//! does not verify, a member the manifest does not list, a member given
//! twice, and a member whose SHA-256 differs; [`check`] then refuses a
//! package for another board, and a version older than (or equal to) the
//! running one unless the administrator allows a downgrade.
//!
//! The package comes from a file the administrator put in
//! `<data-dir>/upgrade/`, or from an `https://` URL (fetched over the
//! Management interface's route, the server's certificate checked
//! against the public roots and the `certconfig` CA list; plain http is
//! refused). Everything is checked before the slot is touched. The files
//! are written as `*.new`, synced, and renamed into the slot.

use std::cmp::Ordering;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::slots::{BootPartition, SlotError, write_synced};

#[cfg(test)]
mod package_tests;
mod signature;
mod version;

pub use signature::{SIGNATURE_MEMBER, SigningKey, TrustedKeys, key_id};
pub use version::{compare_versions, is_debian_version};

/// The largest package accepted (a kernel and an initramfs are ~15 MiB).
pub const MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;

/// The longest an `https://` download may take, from connect to the last
/// byte (the console waits for it: `console::link::INSTALL_CALL_TIMEOUT`).
pub const DOWNLOAD_TIMEOUT: std::time::Duration =
    breakwater_control_proto::UPGRADE_DOWNLOAD_TIMEOUT;

/// Where the image carries the public keys it accepts packages from (in
/// the initramfs: nothing at run time can add one).
pub const IMAGE_KEYS_DIR: &str = "/etc/breakwater/upgrade-keys";

/// The members every package has besides the manifest and its signature.
const KERNEL: &str = "vmlinuz";
const INITRD: &str = "initrd.img";
const MANIFEST: &str = "manifest";

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
    #[error(
        "the package is not signed (it has no {SIGNATURE_MEMBER}): this appliance installs only signed firmware"
    )]
    Unsigned,
    #[error(
        "the package is signed by key {key_id}, which this appliance does not trust (it trusts: {trusted})"
    )]
    UntrustedKey { key_id: String, trusted: String },
    #[error(
        "the package's signature by key {key_id} does not verify: its manifest was changed after signing, or the signature is damaged"
    )]
    BadSignature { key_id: String },
    #[error("the package holds {0}, which its signed manifest does not list")]
    UnlistedMember(String),
    #[error("the package holds {0} twice")]
    DuplicateMember(String),
    #[error(
        "this appliance has no trusted upgrade keys (no *.pub in {0}): it cannot verify any package"
    )]
    NoTrustedKeys(String),
    #[error("cannot use the key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("the package is for board {found}; this appliance is {expected}")]
    WrongBoard { found: String, expected: String },
    #[error(
        "the package is Breakwater {version}, older than the running {running}: refused, so a firmware with known flaws cannot be put back (an administrator can override with `upgrade install --allow-downgrade`)"
    )]
    Older { version: String, running: String },
    #[error(
        "Breakwater {0} is already running: nothing to upgrade (`upgrade install --allow-downgrade` reinstalls it into the other slot)"
    )]
    AlreadyRunning(String),
    #[error(
        "{member} does not match its SHA-256 in the signed manifest: the package is damaged or was tampered with"
    )]
    Checksum { member: String },
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("a trial of slot {0} is already in progress; reboot to finish it first")]
    TrialPending(&'static str),
}

/// A checked package: its signature verified by a trusted key, every
/// member listed in the signed manifest and matching its SHA-256.
#[derive(Debug)]
pub struct Package {
    pub version: String,
    pub board: String,
    pub vmlinuz: Vec<u8>,
    pub initrd: Vec<u8>,
    /// The id of the key whose signature verified.
    pub signed_by: String,
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

/// A version: a plain token, with an epoch's `:` allowed, in Debian's form.
fn is_plain_version(value: &str) -> bool {
    is_plain_token(&value.replace(':', "0")) && is_debian_version(value)
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The members of a ustar archive, in order, each name at most once.
fn read_members(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, UpgradeError> {
    let bad = |m: String| UpgradeError::BadPackage(m);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = entry.path().map_err(|e| bad(e.to_string()))?;
        let name = raw.to_string_lossy();
        let name = name.trim_start_matches("./").to_string();
        if !is_plain_token(&name) {
            return Err(bad("a member's name is not a plain file name".into()));
        }
        if !entry.header().entry_type().is_file() {
            return Err(bad(format!("{name} is not a regular file")));
        }
        if members.iter().any(|(n, _)| *n == name) {
            return Err(UpgradeError::DuplicateMember(name));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(e.to_string()))?;
        members.push((name, data));
    }
    Ok(members)
}

/// The manifest's `key=value` lines; a key given twice is refused (which
/// line would count is then a matter of reader, not of signer).
/// (Bytes that are not UTF-8 were replaced by U+FFFD, which no checked
/// value may hold.)
fn manifest_fields(text: &str) -> Result<Vec<(&str, &str)>, UpgradeError> {
    let bad = |m: String| UpgradeError::BadPackage(m);
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad("a manifest line is not key=value".into()))?;
        let (key, value) = (key.trim(), value.trim());
        if fields.iter().any(|(k, _)| *k == key) {
            return Err(bad(format!(
                "the manifest gives {} twice",
                if is_plain_token(key) { key } else { "a key" }
            )));
        }
        fields.push((key, value));
    }
    Ok(fields)
}

impl Package {
    /// Reads and checks a package: its signature by one of `keys` over
    /// the manifest, then every member against the manifest.
    pub fn parse(bytes: &[u8], keys: &TrustedKeys) -> Result<Package, UpgradeError> {
        let bad = |m: String| UpgradeError::BadPackage(m);
        let mut members = read_members(bytes)?;
        let take = |members: &mut Vec<(String, Vec<u8>)>, name: &str| {
            let i = members.iter().position(|(n, _)| n == name)?;
            Some(members.remove(i).1)
        };
        let manifest = take(&mut members, MANIFEST).ok_or_else(|| bad("no manifest".into()))?;
        let signature = take(&mut members, SIGNATURE_MEMBER).ok_or(UpgradeError::Unsigned)?;
        let signed_by = keys.verify(&manifest, &signature)?;
        // From here on the manifest is the signer's.
        let text = String::from_utf8_lossy(&manifest);
        let fields = manifest_fields(&text)?;
        let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        if get("product") != Some("breakwater") {
            return Err(bad("the manifest does not name product=breakwater".into()));
        }
        let version = get("version").ok_or_else(|| bad("no version in the manifest".into()))?;
        let board = get("board").ok_or_else(|| bad("no board in the manifest".into()))?;
        for (key, ok) in [
            ("version", is_plain_version(version)),
            ("board", is_plain_token(board)),
        ] {
            if !ok {
                return Err(bad(format!(
                    "the manifest's {key} is not a plain name (at most {MAX_TOKEN} letters, digits, '.', '_', '-', '+' or '~'; a version as Debian writes one)"
                )));
            }
        }
        // Every member listed, every listed member present and intact.
        for (name, _) in &members {
            if get(&format!("sha256.{name}")).is_none() {
                return Err(UpgradeError::UnlistedMember(name.clone()));
            }
        }
        for (key, want) in &fields {
            let Some(name) = key.strip_prefix("sha256.") else {
                continue;
            };
            let data = members
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d)
                .ok_or_else(|| {
                    bad(format!(
                        "the manifest lists {name}, which the package lacks"
                    ))
                })?;
            if !want.eq_ignore_ascii_case(&sha256_hex(data)) {
                return Err(UpgradeError::Checksum {
                    member: name.to_string(),
                });
            }
        }
        let vmlinuz = take(&mut members, KERNEL).ok_or_else(|| bad("no vmlinuz".into()))?;
        let initrd = take(&mut members, INITRD).ok_or_else(|| bad("no initrd.img".into()))?;
        Ok(Package {
            version: version.to_string(),
            board: board.to_string(),
            vmlinuz,
            initrd,
            signed_by,
        })
    }

    /// The manifest this package is described by (what gets signed).
    pub fn manifest(&self) -> Vec<u8> {
        format!(
            "product=breakwater\nversion={}\nboard={}\nsha256.{KERNEL}={}\nsha256.{INITRD}={}\n",
            self.version,
            self.board,
            sha256_hex(&self.vmlinuz),
            sha256_hex(&self.initrd)
        )
        .into_bytes()
    }

    /// The package file, signed by `key` (`upgrade-sign package`); every
    /// member's time is `mtime` (SOURCE_DATE_EPOCH: reproducible).
    pub fn emit(&self, key: &SigningKey, mtime: u64) -> std::io::Result<Vec<u8>> {
        let manifest = self.manifest();
        let signature = key.sign_manifest(&manifest);
        write_ustar(
            &[
                (MANIFEST, &manifest),
                (SIGNATURE_MEMBER, &signature),
                (KERNEL, &self.vmlinuz),
                (INITRD, &self.initrd),
            ],
            mtime,
        )
    }
}

/// A ustar archive of `members`, owned by root, mode 0644.
pub fn write_ustar(members: &[(&str, &[u8])], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append_data(&mut header, name, *data)?;
    }
    tar.into_inner()
}

/// What an installation must respect besides the package's own checks.
#[derive(Debug, Clone, Copy)]
pub struct InstallPolicy<'a> {
    /// This appliance's board (`/etc/breakwater/board`).
    pub board: &'a str,
    /// The running slot's version.
    pub running_version: &'a str,
    /// `upgrade install --allow-downgrade`: an administrator's explicit
    /// choice to install an older (or the same) version.
    pub allow_downgrade: bool,
}

/// Refuses a package this appliance must not install: another board's,
/// or (anti-rollback) a version not newer than the running one, unless
/// the administrator allowed a downgrade. An equal version is refused
/// too: reinstalling the running firmware spends a trial boot for
/// nothing and usually means the wrong file was picked; the override
/// covers the rare repair of the other slot.
pub fn check(pkg: &Package, policy: &InstallPolicy) -> Result<(), UpgradeError> {
    if pkg.board != policy.board {
        return Err(UpgradeError::WrongBoard {
            found: pkg.board.clone(),
            expected: policy.board.to_string(),
        });
    }
    let order = compare_versions(&pkg.version, policy.running_version);
    match order {
        Ordering::Greater => Ok(()),
        _ if policy.allow_downgrade => {
            tracing::warn!(
                "upgrade: Breakwater {} over the running {}: anti-rollback overridden by the administrator (--allow-downgrade)",
                pkg.version,
                policy.running_version
            );
            Ok(())
        }
        Ordering::Equal => Err(UpgradeError::AlreadyRunning(pkg.version.clone())),
        Ordering::Less => Err(UpgradeError::Older {
            version: pkg.version.clone(),
            running: policy.running_version.to_string(),
        }),
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
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
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

/// The one check a package passes before a slot is written: size,
/// signature by a trusted key, every member against the signed manifest,
/// then [`check`] (board, anti-rollback). The daemon runs it to answer at
/// once; the supervisor (root) runs it again on the bytes it was handed,
/// because the daemon's check proves nothing to root.
pub fn verify_for_install(
    bytes: &[u8],
    keys: &TrustedKeys,
    policy: &InstallPolicy<'_>,
) -> Result<Package, UpgradeError> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(UpgradeError::BadPackage(format!(
            "the package is larger than {MAX_PACKAGE_BYTES} bytes"
        )));
    }
    let pkg = Package::parse(bytes, keys)?;
    check(&pkg, policy)?;
    Ok(pkg)
}

/// [`verify_for_install`] on this box: the trusted keys in `keys_dir`
/// ([`keys_dir`]: the image's own on every real board) and the running
/// slot's version (the workspace version off the appliance).
pub fn verify_on_this_box(
    bytes: &[u8],
    boot: &BootPartition,
    board: &str,
    keys_dir: &Path,
    allow_downgrade: bool,
) -> Result<Package, UpgradeError> {
    let running = running_version(boot);
    verify_for_install(
        bytes,
        &TrustedKeys::load(keys_dir)?,
        &InstallPolicy {
            board,
            running_version: &running,
            allow_downgrade,
        },
    )
}

/// Where `board` keeps the keys it trusts: its `upgrade_keys` directory,
/// else the image's [`IMAGE_KEYS_DIR`].
pub fn keys_dir(board: &breakwater_board::BoardProfile) -> PathBuf {
    board
        .upgrade_keys
        .as_deref()
        .map_or_else(|| PathBuf::from(IMAGE_KEYS_DIR), PathBuf::from)
}

/// The version the box runs: its slot's `version` file, or the firmware's
/// own version when it did not boot from a slot.
pub fn running_version(boot: &BootPartition) -> String {
    boot.running
        .and_then(|s| boot.version_of(s))
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
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
        let signature = package_tests::test_key().sign_manifest(&manifest);
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("manifest", manifest),
            ("manifest.sig", signature),
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
        let p = Package::parse(&package("vesa", false), &package_tests::test_keys()).unwrap();
        assert_eq!((p.version.as_str(), p.board.as_str()), ("0.2.0", "vesa"));
        let e = Package::parse(&package("vesa", true), &package_tests::test_keys()).unwrap_err();
        assert!(e.to_string().contains("initrd.img does not match"), "{e}");
        let e = Package::parse(b"junk", &package_tests::test_keys()).unwrap_err();
        assert!(matches!(e, UpgradeError::BadPackage(_)), "{e}");
    }

    /// Found by the `upgrade_package` fuzz target
    /// (`fuzz/corpus/upgrade_package/board_not_utf8`).
    #[test]
    fn fuzz_upgrade_package_board_not_utf8_is_refused() {
        let e = Package::parse(
            &package_with(b"0.3.1", b"\xe4ev", false),
            &package_tests::test_keys(),
        )
        .unwrap_err();
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
            let e = Package::parse(
                &package_with(version, board, false),
                &package_tests::test_keys(),
            )
            .unwrap_err();
            assert!(
                matches!(e, UpgradeError::BadPackage(_)),
                "{version:?} {board:?}: {e}"
            );
        }
        let p = Package::parse(
            &package_with(b"1.2.3~rc1+deb12", b"vesa", false),
            &package_tests::test_keys(),
        )
        .unwrap();
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
        let pkg = Package::parse(&package("vesa", false), &package_tests::test_keys()).unwrap();
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

    /// [`verify_for_install`] with the tests' key on a box running 0.1.0.
    fn verify_on(
        bytes: Vec<u8>,
        board: &str,
        allow_downgrade: bool,
    ) -> Result<Package, UpgradeError> {
        let policy = InstallPolicy {
            board,
            running_version: "0.1.0",
            allow_downgrade,
        };
        verify_for_install(&bytes, &package_tests::test_keys(), &policy)
    }

    #[test]
    fn a_uefi_box_installs_and_sets_systemd_boots_one_shot_entry() {
        let (dir, boot) = fake_boot(true);
        let pkg = verify_on(package("vesa", false), "vesa", false).unwrap();
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
        let pkg = verify_on(package("vesa", false), "vesa", false).unwrap();
        let e = install(&boot, "vesa", &pkg).unwrap_err();
        assert!(e.to_string().contains("reboot, then install again"), "{e}");
        assert!(!dir.path().join("B").exists());
        assert!(boot.trial().is_none());
    }

    #[test]
    fn verification_refuses_a_damaged_package_or_another_board() {
        let e = verify_on(package("vesa", true), "vesa", false).unwrap_err();
        assert!(matches!(e, UpgradeError::Checksum { .. }), "{e}");
        let e = verify_on(package("vesa", false), "x86-appliance", true).unwrap_err();
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
