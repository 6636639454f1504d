//! Feeds arbitrary bytes to the upgrade package reader (a package comes
//! from a file or an https:// URL). The first byte picks what the rest is:
//! even, a whole package (ustar); odd, the manifest alone, packed with a
//! small kernel and initramfs by the fuzzer. Properties checked: no panic,
//! and an accepted package has a version and a board that are plain
//! tokens (they reach the slot's version file, the trial record, the boot
//! loader's menu and the console).
#![no_main]

use breakwater::upgrade::Package;
use libfuzzer_sys::fuzz_target;

fn member(tar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, name, data)
        .expect("tar member");
}

fn with_manifest(manifest: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    member(&mut tar, "manifest", manifest);
    member(&mut tar, "vmlinuz", b"kernel");
    member(&mut tar, "initrd.img", b"initramfs");
    tar.into_inner().expect("tar")
}

fn plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~'))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let package = if first % 2 == 0 {
        rest.to_vec()
    } else {
        with_manifest(rest)
    };
    let Ok(pkg) = Package::parse(&package) else {
        return;
    };
    assert!(plain_token(&pkg.version), "version {:?}", pkg.version);
    assert!(plain_token(&pkg.board), "board {:?}", pkg.board);
});
