//! The appliance VM's serial console, as the QEMU tests drive it
//! (`tests/tests/appliance*.rs`): logins, commands, reboots, and upgrade
//! packages made from the built image.

use std::time::Duration;

use crate::qemu::{BOOT, Vm};

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

/// An upgrade package made from the built image's kernel and initramfs
/// (`tools/image-helper.py upgrade-package`), with its own version label;
/// `broken` replaces the initramfs with bytes no kernel can unpack.
pub fn package(dir: &std::path::Path, version: &str, broken: bool) -> std::path::PathBuf {
    let img = crate::qemu::image_dir();
    let initrd = if broken {
        let p = dir.join("broken-initrd.img");
        std::fs::write(&p, vec![0x5au8; 4096]).expect("broken initrd");
        p
    } else {
        img.join("initrd.img")
    };
    let out = dir.join(format!("breakwater-{version}.upgrade"));
    let helper = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/image-helper.py");
    let ok = std::process::Command::new("python3")
        .arg(helper)
        .args(["upgrade-package"])
        .arg(&out)
        .args([version, "vesa"])
        .arg(img.join("vmlinuz"))
        .arg(&initrd)
        .arg("1700000000")
        .status()
        .expect("python3");
    assert!(ok.success(), "upgrade-package failed");
    out
}
