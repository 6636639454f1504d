//! Firmware upgrades in QEMU (TCG), as an administrator runs them: an
//! upgrade package fetched over HTTPS into the inactive slot, a trial boot
//! made permanent, and a broken image rolled back by the boot loader.
//!
//! Like `appliance.rs`, these need the built image; `tools/image boot-test`
//! runs every `appliance*.rs` file.

use std::time::Duration;

use breakwater_e2e::appliance::{LONG, PROMPT, first_login, login, package, reboot, run};
use breakwater_e2e::qemu::{Vm, VmSpec};

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn upgrade_to_slot_b_and_a_broken_image_rolls_back() {
    let files = tempfile::tempdir().expect("temp dir");
    let good = package(files.path(), "0.1.0-next", false);
    let broken = package(files.path(), "0.1.0-broken", true);
    let https = breakwater_e2e::qemu::HttpsServer::start(files.path());
    let mut vm = Vm::boot(VmSpec::vesa());
    first_login(&mut vm);
    // Trust the test server's CA, as an administrator would: pasted.
    vm.serial.line("certconfig certauthority import test-ca -");
    vm.serial
        .expect("Paste the text now", Duration::from_secs(30));
    for l in https.ca_pem().lines() {
        vm.serial.line(l);
    }
    vm.serial.line(".");
    let out = vm.serial.expect(PROMPT, Duration::from_secs(60));
    assert!(out.contains("Certificate authority test-ca added"), "{out}");
    assert!(run(&mut vm, "commit trust the upgrade server").contains("Changes committed"));

    let url = https.url_via_management(good.file_name().and_then(|n| n.to_str()).expect("name"));
    let out = run(&mut vm, &format!("upgrade install {url}"));
    assert!(out.contains("is installed in slot B"), "{out}");
    reboot(&mut vm);
    vm.serial
        .expect("Loading /B/vmlinuz", Duration::from_secs(60));
    let banner = login(&mut vm);
    assert!(
        banner.contains("Running slot: B (Breakwater 0.1.0-next)"),
        "{banner}"
    );
    assert!(banner.contains("Upgrade on trial"), "{banner}");
    // Healthy for a minute: permanent. Config and users survived (login).
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let st = run(&mut vm, "upgrade status");
        if st.contains("is permanent") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never made permanent:\n{st}"
        );
        std::thread::sleep(Duration::from_secs(10));
    }

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
        banner.contains("Running slot: B (Breakwater 0.1.0-next)"),
        "{banner}"
    );
    assert!(banner.contains("rolled back to slot B"), "{banner}");
}
