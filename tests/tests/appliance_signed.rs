//! Signed firmware in QEMU (TCG), as an administrator meets it: packages
//! signed by a key the box does not trust, tampered with, unsigned, older
//! than the running firmware or made for another board are each refused
//! with their reason, the slots stay as they were, and a correctly signed
//! newer package installs (booting it is `appliance_upgrade.rs`'s test).
//!
//! Like `appliance.rs`, this needs the built image; `tools/image
//! boot-test` runs every `appliance*.rs` file.

use breakwater::upgrade::SigningKey;
use breakwater_e2e::appliance::{
    Tamper, first_login, image_signing_key, package_signed_by, run, trust_upgrade_server,
};
use breakwater_e2e::qemu::{HttpsServer, Vm, VmSpec};

#[test]
#[ignore = "needs the image: tools/image boot-test"]
fn only_a_newer_package_signed_by_the_image_key_for_this_board_installs() {
    let files = tempfile::tempdir().expect("temp dir");
    let dir = files.path();
    let key = image_signing_key();
    let (stranger, _) = SigningKey::generate().expect("a key the image does not trust");
    // The image is the workspace version, 0.1.0.
    let refused = [
        (
            package_signed_by(dir, "0.2.0", "vesa", &stranger, Tamper::None),
            format!(
                "signed by key {}, which this appliance does not trust",
                stranger.key_id()
            ),
        ),
        (
            package_signed_by(dir, "0.2.0", "vesa", &key, Tamper::Initrd),
            "initrd.img does not match its SHA-256 in the signed manifest".to_string(),
        ),
        (
            package_signed_by(dir, "0.2.0", "vesa", &key, Tamper::Manifest),
            format!("signature by key {} does not verify", key.key_id()),
        ),
        (
            package_signed_by(dir, "0.2.0", "vesa", &key, Tamper::Unsigned),
            "the package is not signed".to_string(),
        ),
        (
            package_signed_by(dir, "0.0.9", "vesa", &key, Tamper::None),
            "older than the running 0.1.0".to_string(),
        ),
        (
            package_signed_by(dir, "0.2.0", "x86-appliance", &key, Tamper::None),
            "the package is for board x86-appliance; this appliance is vesa".to_string(),
        ),
    ];
    let good = package_signed_by(dir, "0.2.0", "vesa", &key, Tamper::None);
    let https = HttpsServer::start(dir);
    let url = |p: &std::path::Path| {
        https.url_via_management(p.file_name().and_then(|n| n.to_str()).expect("name"))
    };

    let mut vm = Vm::boot(VmSpec::vesa());
    first_login(&mut vm);
    trust_upgrade_server(&mut vm, &https);

    let before = run(&mut vm, "upgrade status");
    assert!(
        before.contains("Running slot: A (Breakwater 0.1.0)"),
        "{before}"
    );
    assert!(
        before.contains("Other slot: B (Breakwater 0.1.0)"),
        "{before}"
    );
    for (package, reason) in &refused {
        let out = run(&mut vm, &format!("upgrade install {}", url(package)));
        assert!(
            out.contains("Upgrade failed"),
            "{}: {out}",
            package.display()
        );
        assert!(
            out.contains(reason.as_str()),
            "{}: {out}",
            package.display()
        );
        assert!(
            !out.contains("is installed"),
            "{}: {out}",
            package.display()
        );
    }
    let after = run(&mut vm, "upgrade status");
    for line in [
        "Running slot: A (Breakwater 0.1.0)",
        "Other slot: B (Breakwater 0.1.0)",
    ] {
        assert!(after.contains(line), "{after}");
    }
    assert!(!after.contains("Upgrade on trial"), "{after}");

    let out = run(&mut vm, &format!("upgrade install {}", url(&good)));
    assert!(
        out.contains("Breakwater 0.2.0 is installed in slot B"),
        "{out}"
    );
    let status = run(&mut vm, "upgrade status");
    assert!(
        status.contains("Other slot: B (Breakwater 0.2.0)"),
        "{status}"
    );
    assert!(
        status.contains("Upgrade on trial: slot B (Breakwater 0.2.0)"),
        "{status}"
    );
}
