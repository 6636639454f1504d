//! `upgrade install` on a development run: the mail daemon fetches and
//! pre-checks the package, then hands its bytes to the supervisor, which
//! verifies them again and writes the slot (here it refuses: a development
//! run boots from no slot). An unsupervised daemon refuses at once. The
//! whole install into a slot, BIOS and UEFI, is in `appliance_upgrade.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use breakwater::upgrade::{Package, SigningKey};
use breakwater_e2e::{Gateway, SOON, World, breakwater_bin, wait_until};

fn system_log(data_dir: &Path) -> String {
    fs::read_to_string(data_dir.join("logs/system_logs/system.current")).unwrap_or_default()
}

/// The test's own signing key (made for this run; nothing trusts it but
/// the board below).
fn signing_key() -> SigningKey {
    SigningKey::generate().expect("a new Ed25519 key").0
}

/// Gives the test board a directory of trusted keys holding `key`'s
/// public half (a real board trusts the image's keys), before its top
/// level ends at the first table, and restarts on it.
fn trust(gw: &mut Gateway, keys: &Path, key: &SigningKey) {
    fs::write(keys.join("test.pub"), key.public_key_file()).expect("public key");
    let path = gw.board_file().to_path_buf();
    let text = fs::read_to_string(&path).expect("board file");
    let (head, tables) = text.split_once("[[interfaces]]").expect("interfaces");
    let text = format!(
        "{head}upgrade_keys = \"{}\"\n\n[[interfaces]]{tables}",
        keys.display()
    );
    fs::write(&path, text).expect("write board file");
    gw.restart();
}

/// A well-formed package for `board` (a stand-in kernel and initramfs),
/// signed by `key` with the same code as `tools/image build`, in the data
/// directory's `upgrade/`.
fn package(data_dir: &Path, name: &str, board: &str, key: &SigningKey) -> PathBuf {
    let dir = data_dir.join("upgrade");
    fs::create_dir_all(&dir).expect("upgrade dir");
    let pkg = Package {
        version: "0.2.0".into(),
        board: board.into(),
        vmlinuz: b"a kernel".to_vec(),
        initrd: b"an initramfs".to_vec(),
        signed_by: String::new(),
    };
    let out = dir.join(name);
    fs::write(&out, pkg.emit(key, 1_700_000_000).expect("package")).expect("write package");
    out
}

#[test]
fn the_daemon_hands_the_package_to_the_supervisor_which_checks_it_again() {
    let mut w = World::start();
    let keys = tempfile::tempdir().expect("keys dir");
    let key = signing_key();
    trust(&mut w.gw, keys.path(), &key);
    let data = w.gw.data_dir().to_path_buf();
    package(&data, "good.upgrade", "test", &key);
    package(&data, "other-board.upgrade", "vesa", &key);
    package(&data, "stranger.upgrade", "test", &signing_key());
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
    let e =
        w.gw.cli(&["upgrade", "install", "stranger.upgrade"])
            .unwrap_err();
    assert!(e.contains("which this appliance does not trust"), "{e}");
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
    package(w.gw.data_dir(), "good.upgrade", "test", &signing_key());
    let e =
        w.gw.cli(&["upgrade", "install", "good.upgrade"])
            .unwrap_err();
    assert!(e.contains("upgrade install needs the supervisor"), "{e}");
    let _ = daemon.kill();
    let _ = daemon.wait();
}
