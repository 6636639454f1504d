//! The appliance VM's serial console, as the QEMU tests drive it
//! (`tests/tests/appliance*.rs`): logins, commands, reboots, and upgrade
//! packages made from the built image.

use std::path::{Path, PathBuf};
use std::time::Duration;

use breakwater::upgrade::{Package, SIGNATURE_MEMBER, SigningKey, write_ustar};

use crate::qemu::{BOOT, HttpsServer, Vm};

pub const PROMPT: &str = "breakwater.example.com> ";
pub const PASSPHRASE: &str = "Appliance-test-1";
pub const LONG: Duration = Duration::from_secs(300);

/// First login on the factory image: admin/breakwater, then the forced
/// passphrase change. Returns the banner text.
pub fn first_login(vm: &mut Vm) -> String {
    let banner = vm.serial.expect("login: ", BOOT);
    eprintln!(
        "measure: boot to the login banner under TCG: {} s",
        vm.started.elapsed().as_secs()
    );
    vm.serial.line("admin");
    vm.serial.expect("Password: ", Duration::from_secs(30));
    vm.serial.line("breakwater");
    vm.serial
        .expect("New passphrase: ", Duration::from_secs(60));
    vm.serial.line(PASSPHRASE);
    vm.serial.expect("again: ", Duration::from_secs(30));
    vm.serial.line(PASSPHRASE);
    vm.serial.expect(PROMPT, Duration::from_secs(60));
    banner
}

/// A later login; returns the banner. While the daemon is still busy
/// after a boot (recovering a full queue) the console answers "try again"
/// and shows `login:` again: then it tries again.
pub fn login(vm: &mut Vm) -> String {
    let mut banner = vm.serial.expect("login: ", BOOT);
    for _ in 0..10 {
        vm.serial.line("admin");
        vm.serial.expect("Password: ", Duration::from_secs(30));
        vm.serial.line(PASSPHRASE);
        let after = vm.serial.expect("\n", Duration::from_secs(60));
        let next = vm
            .serial
            .expect_any(&[PROMPT, "login: "], Duration::from_secs(120));
        if next.ends_with(PROMPT) {
            return banner;
        }
        eprintln!("login refused ({}), trying again", after.trim());
        banner = next;
        std::thread::sleep(Duration::from_secs(5));
    }
    panic!("could not log in:\n{}", vm.serial.tail(40));
}

pub fn run(vm: &mut Vm, cmd: &str) -> String {
    vm.serial.command(PROMPT, cmd, Duration::from_secs(120))
}

/// Answers one `systemsetup` question: waits for its text, then its
/// `[default]> ` prompt.
pub fn answer(vm: &mut Vm, question: &str, reply: &str) {
    vm.serial.expect(question, Duration::from_secs(60));
    vm.serial.expect("]> ", Duration::from_secs(30));
    vm.serial.line(reply);
}

/// `reboot` at the console (the interface addresses apply at boot); returns
/// once the boot loader (syslinux) starts again, so the next `login: ` is the
/// new boot's, not the console's prompt while the box goes down.
pub fn reboot(vm: &mut Vm) {
    vm.serial.line("reboot");
    vm.serial.expect("]>", Duration::from_secs(30));
    vm.serial.line("y");
    vm.serial.expect("\nSYSLINUX ", BOOT);
}

/// `reboot` at the console of a UEFI-booted VM: OVMF and systemd-boot
/// (`timeout 0`) print no "SYSLINUX" banner nor "Loading /B/vmlinuz", so
/// this returns once the new kernel prints its command line, and returns
/// that line (`... breakwater.slot=B`: the slot the loader chose).
pub fn reboot_uefi(vm: &mut Vm) -> String {
    vm.serial.line("reboot");
    vm.serial.expect("]>", Duration::from_secs(30));
    vm.serial.line("y");
    vm.serial.expect("Command line: ", BOOT);
    vm.serial.expect("\n", Duration::from_secs(30))
}

/// The key the built image's upgrade packages are signed with:
/// `BREAKWATER_SIGNING_KEY` when the image was built with a release key,
/// else the development key `tools/image build` made in `<image>/keys/`.
pub fn image_signing_key() -> SigningKey {
    let path = std::env::var_os("BREAKWATER_SIGNING_KEY")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::qemu::image_dir().join("keys/dev-signing.pk8"));
    SigningKey::load(&path).unwrap_or_else(|e| {
        panic!("the image's signing key: {e} (set BREAKWATER_SIGNING_KEY to the key the image was built with)")
    })
}

/// An upgrade package made from the built image's kernel and initramfs,
/// signed with the image's key ([`image_signing_key`]), with its own
/// version label; `broken` replaces the initramfs with bytes no kernel can
/// unpack.
pub fn package(dir: &Path, version: &str, broken: bool) -> PathBuf {
    let img = crate::qemu::image_dir();
    let initrd = if broken {
        vec![0x5au8; 4096]
    } else {
        std::fs::read(img.join("initrd.img")).expect("the image's initrd.img")
    };
    let bytes = build(version, "vesa", initrd, &image_signing_key(), Tamper::None);
    let out = dir.join(format!("breakwater-{version}.upgrade"));
    std::fs::write(&out, bytes).expect("write the package");
    out
}

/// How [`package_signed_by`] spoils a package after signing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// A genuine package.
    None,
    /// One byte of the initramfs changed (the manifest's SHA-256 no
    /// longer matches).
    Initrd,
    /// One byte of the kernel changed.
    Kernel,
    /// The manifest names another version (the signature no longer
    /// verifies).
    Manifest,
    /// No `manifest.sig` member.
    Unsigned,
}

/// A package of the built image's kernel and initramfs for `board`,
/// signed by `key`, spoiled as `tamper` says; named after all of them.
pub fn package_signed_by(
    dir: &Path,
    version: &str,
    board: &str,
    key: &SigningKey,
    tamper: Tamper,
) -> PathBuf {
    let img = crate::qemu::image_dir();
    let initrd = std::fs::read(img.join("initrd.img")).expect("the image's initrd.img");
    let bytes = build(version, board, initrd, key, tamper);
    let out = dir.join(format!(
        "breakwater-{version}-{board}-{}-{}.upgrade",
        key.key_id(),
        format!("{tamper:?}").to_lowercase()
    ));
    std::fs::write(&out, bytes).expect("write the package");
    out
}

fn build(version: &str, board: &str, initrd: Vec<u8>, key: &SigningKey, tamper: Tamper) -> Vec<u8> {
    let img = crate::qemu::image_dir();
    let mut pkg = Package {
        version: version.to_string(),
        board: board.to_string(),
        vmlinuz: std::fs::read(img.join("vmlinuz")).expect("the image's vmlinuz"),
        initrd,
        signed_by: key.key_id().to_string(),
    };
    if tamper == Tamper::None {
        return pkg.emit(key, 1_700_000_000).expect("package");
    }
    let mut manifest = pkg.manifest();
    let signature = key.sign_manifest(&manifest);
    match tamper {
        Tamper::Initrd => flip_last_byte(&mut pkg.initrd),
        Tamper::Kernel => flip_last_byte(&mut pkg.vmlinuz),
        Tamper::Manifest => {
            manifest = String::from_utf8(manifest)
                .expect("manifest text")
                .replace(&format!("version={version}\n"), "version=99.0\n")
                .into_bytes();
        }
        Tamper::None | Tamper::Unsigned => {}
    }
    let mut members: Vec<(&str, &[u8])> = vec![("manifest", &manifest)];
    if tamper != Tamper::Unsigned {
        members.push((SIGNATURE_MEMBER, &signature));
    }
    members.push(("vmlinuz", &pkg.vmlinuz));
    members.push(("initrd.img", &pkg.initrd));
    write_ustar(&members, 1_700_000_000).expect("package")
}

fn flip_last_byte(bytes: &mut [u8]) {
    if let Some(last) = bytes.last_mut() {
        *last ^= 0xff;
    }
}

/// Trusts the test server's CA, as an administrator would: pasted.
pub fn trust_upgrade_server(vm: &mut Vm, https: &HttpsServer) {
    vm.serial.line("certconfig certauthority import test-ca -");
    vm.serial
        .expect("Paste the text now", Duration::from_secs(30));
    for l in https.ca_pem().lines() {
        vm.serial.line(l);
    }
    vm.serial.line(".");
    let out = vm.serial.expect(PROMPT, Duration::from_secs(60));
    assert!(out.contains("Certificate authority test-ca added"), "{out}");
    assert!(run(vm, "commit trust the upgrade server").contains("Changes committed"));
}
