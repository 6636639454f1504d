//! Firmware upgrades in QEMU (TCG), as an administrator runs them: an
//! upgrade package fetched over HTTPS by the mail daemon, installed into
//! the inactive slot by the supervisor (root; the daemon's user cannot
//! write the boot partition), a trial boot made permanent, and a broken
//! image rolled back by the boot loader; on BIOS (syslinux's boot-once)
//! and on UEFI (systemd-boot's `LoaderEntryOneShot`).
//!
//! The image is Breakwater 0.1.0; the packages count up from there (the
//! firmware refuses an older version without `--allow-downgrade`).
//!
//! Like `appliance.rs`, these need the built image; `tools/image boot-test`
//! runs every `appliance*.rs` file.

use std::time::Duration;

use breakwater_e2e::appliance::{
    LONG, first_login, login, package, reboot, reboot_uefi, run, trust_upgrade_server,
};
use breakwater_e2e::qemu::{HttpsServer, Vm, VmSpec};

/// `upgrade status` until the trial is permanent (the new firmware's
/// daemon stays healthy for a minute).
fn wait_until_permanent(vm: &mut Vm) -> String {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let st = run(vm, "upgrade status");
        if st.contains("is permanent") {
            return st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never made permanent:\n{st}"
        );
        std::thread::sleep(Duration::from_secs(10));
    }
}

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn upgrade_to_slot_b_and_a_broken_image_rolls_back() {
    let files = tempfile::tempdir().expect("temp dir");
    let good = package(files.path(), "0.2.0", false);
    let broken = package(files.path(), "0.3.0", true);
    let https = HttpsServer::start(files.path());
    let mut vm = Vm::boot(VmSpec::vesa());
    first_login(&mut vm);
    trust_upgrade_server(&mut vm, &https);

    let url = https.url_via_management(good.file_name().and_then(|n| n.to_str()).expect("name"));
    let out = run(&mut vm, &format!("upgrade install {url}"));
    assert!(out.contains("is installed in slot B"), "{out}");
    reboot(&mut vm);
    vm.serial
        .expect("Loading /B/vmlinuz", Duration::from_secs(60));
    let banner = login(&mut vm);
    assert!(
        banner.contains("Running slot: B (Breakwater 0.2.0)"),
        "{banner}"
    );
    assert!(banner.contains("Upgrade on trial"), "{banner}");
    // Healthy for a minute: permanent. Config and users survived (login).
    wait_until_permanent(&mut vm);

    // Now a broken image into slot A: it must come back to B.
    let url = https.url_via_management(broken.file_name().and_then(|n| n.to_str()).expect("name"));
    let out = run(&mut vm, &format!("upgrade install {url}"));
    assert!(out.contains("is installed in slot A"), "{out}");
    reboot(&mut vm);
    vm.serial
        .expect("Loading /A/vmlinuz", Duration::from_secs(60));
    // The kernel cannot unpack it and panics (panic=10), the box resets,
    // and the boot-once is spent: slot B again.
    vm.serial.expect("Loading /B/vmlinuz", LONG);
    let banner = login(&mut vm);
    assert!(
        banner.contains("Running slot: B (Breakwater 0.2.0)"),
        "{banner}"
    );
    assert!(banner.contains("rolled back to slot B"), "{banner}");
}

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn a_uefi_box_upgrades_through_systemd_boots_one_shot_entry() {
    let files = tempfile::tempdir().expect("temp dir");
    let good = package(files.path(), "0.2.0", false);
    let https = HttpsServer::start(files.path());
    let mut spec = VmSpec::vesa();
    spec.uefi = true;
    let mut vm = Vm::boot(spec);
    let banner = first_login(&mut vm);
    assert!(banner.contains("Running slot: A"), "{banner}");
    trust_upgrade_server(&mut vm, &https);

    let url = https.url_via_management(good.file_name().and_then(|n| n.to_str()).expect("name"));
    let out = run(&mut vm, &format!("upgrade install {url}"));
    assert!(out.contains("is installed in slot B"), "{out}");
    // systemd-boot boots the one-shot entry (OVMF keeps the variable in
    // the VM's own copy of OVMF_VARS across the reboot).
    let cmdline = reboot_uefi(&mut vm);
    assert!(cmdline.contains("breakwater.slot=B"), "{cmdline}");
    let banner = login(&mut vm);
    assert!(
        banner.contains("Running slot: B (Breakwater 0.2.0)"),
        "{banner}"
    );
    assert!(banner.contains("Upgrade on trial"), "{banner}");
    wait_until_permanent(&mut vm);

    // Permanent means loader.conf's default: the next boot is B again,
    // with no one-shot entry left.
    let cmdline = reboot_uefi(&mut vm);
    assert!(cmdline.contains("breakwater.slot=B"), "{cmdline}");
    let banner = login(&mut vm);
    assert!(
        banner.contains("Running slot: B (Breakwater 0.2.0)"),
        "{banner}"
    );
    assert!(banner.contains("is permanent"), "{banner}");
}
