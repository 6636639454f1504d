//! `upgrade install` on a development run: the mail daemon fetches and
//! pre-checks the package, then hands its bytes to the supervisor, which
//! verifies them again and writes the slot (here it refuses: a development
//! run boots from no slot). An unsupervised daemon refuses at once. The
//! whole install into a slot, BIOS and UEFI, is in `appliance_upgrade.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use breakwater_e2e::{SOON, World, breakwater_bin, wait_until};

fn system_log(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("logs/system_logs/system.current")).unwrap_or_default()
}

/// A well-formed package for `board` (a stand-in kernel and initramfs),
/// made by the same helper as `tools/image build`, in the data
/// directory's `upgrade/`.
fn package(data_dir: &Path, name: &str, board: &str) -> PathBuf {
    let dir = data_dir.join("upgrade");
    fs::create_dir_all(&dir).expect("upgrade dir");
    let scratch = tempfile::tempdir().expect("temp dir");
    let kernel = scratch.path().join("vmlinuz");
    let initrd = scratch.path().join("initrd.img");
    fs::write(&kernel, b"a kernel").expect("kernel");
    fs::write(&initrd, b"an initramfs").expect("initrd");
    let out = dir.join(name);
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/image-helper.py");
    let ok = Command::new("python3")
        .arg(helper)
        .arg("upgrade-package")
        .arg(&out)
        .args(["0.2.0", board])
        .arg(&kernel)
        .arg(&initrd)
        .arg("1700000000")
        .status()
        .expect("python3");
    assert!(ok.success(), "upgrade-package failed");
    out
}

#[test]
fn the_daemon_hands_the_package_to_the_supervisor_which_checks_it_again() {
    let w = World::start();
    let data = w.gw.data_dir().to_path_buf();
    package(&data, "good.upgrade", "test");
    package(&data, "other-board.upgrade", "vesa");
    fs::write(data.join("upgrade/junk.upgrade"), b"not a tar file").expect("junk");

    // The daemon's own check: nothing reaches the supervisor.
    let e =
        w.gw.cli(&["upgrade", "install", "junk.upgrade"])
            .unwrap_err();
    assert!(e.contains("Upgrade failed: not an upgrade package"), "{e}");
    let e =
        w.gw.cli(&["upgrade", "install", "other-board.upgrade"])
            .unwrap_err();
    assert!(
        e.contains("the package is for board vesa; this appliance is test"),
        "{e}"
    );
    assert!(!system_log(&data).contains("handed over a package"));

    // A good package crosses to the supervisor, whose answer is the
    // console's: a development run has no slot to write.
    let e =
        w.gw.cli(&["upgrade", "install", "--allow-downgrade", "good.upgrade"])
            .unwrap_err();
    assert!(
        e.contains("Upgrade failed: not running from a firmware slot"),
        "{e}"
    );
    let size = fs::metadata(data.join("upgrade/good.upgrade"))
        .expect("package")
        .len();
    let log = system_log(&data);
    assert!(
        log.contains(&format!(
            "upgrade: the mail daemon handed over a package of {size} bytes (--allow-downgrade)"
        )) && log.contains("the administrator allowed a downgrade")
            && log.contains(
                "upgrade: the supervisor refused the package: not running from a firmware slot"
            ),
        "{log}"
    );

    let e =
        w.gw.cli(&["upgrade", "install", "--force", "good.upgrade"])
            .unwrap_err();
    assert!(e.contains("usage: upgrade"), "{e}");
}

#[test]
fn an_unsupervised_daemon_refuses_upgrade_install() {
    let mut w = World::start();
    w.gw.stop();
    let mut daemon = Command::new(breakwater_bin())
        .arg("daemon")
        .arg("--data-dir")
        .arg(w.gw.data_dir())
        .arg("--board-file")
        .arg(w.gw.board_file())
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn breakwater daemon");
    let up = wait_until(SOON, || w.gw.cli(&["status"]).ok());
    assert!(up.is_some(), "the unsupervised daemon never answered");
    package(w.gw.data_dir(), "good.upgrade", "test");
    let e =
        w.gw.cli(&["upgrade", "install", "good.upgrade"])
            .unwrap_err();
    assert!(e.contains("upgrade install needs the supervisor"), "{e}");
    let _ = daemon.kill();
    let _ = daemon.wait();
}
