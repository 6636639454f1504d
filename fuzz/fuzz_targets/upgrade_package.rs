//! Feeds arbitrary bytes to the upgrade package reader (a package comes
//! from a file or an https:// URL). The first byte picks what the rest is:
//! even, a whole package (ustar); odd, the manifest alone, which the
//! harness signs with its test key and packs with a small kernel and
//! initramfs, so the fuzzer reaches the manifest checks behind the
//! signature. Properties checked: no panic; an accepted package was
//! signed by the test key, and has a version and a board that are plain
//! tokens (they reach the slot's version file, the trial record, the boot
//! loader's menu and the console).
//!
//! The test key comes from a seed written here: it is public, and no
//! image trusts it. The seed `whole_signed_package` is signed with it.
#![no_main]

use std::sync::OnceLock;

use breakwater::upgrade::{Package, SigningKey, TrustedKeys};
use libfuzzer_sys::fuzz_target;

const FUZZ_KEY_SEED: [u8; 32] = [0x5e; 32];

fn key() -> &'static (SigningKey, TrustedKeys) {
    static KEY: OnceLock<(SigningKey, TrustedKeys)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = SigningKey::from_seed(&FUZZ_KEY_SEED);
        let keys = TrustedKeys::from_public_key_files(&[&key.public_key_file()])
            .expect("the fuzz key's .pub");
        (key, keys)
    })
}

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
    member(&mut tar, "manifest.sig", &key().0.sign_manifest(manifest));
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
    let Ok(pkg) = Package::parse(&package, &key().1) else {
        return;
    };
    assert_eq!(pkg.signed_by, key().0.key_id());
    // A version may hold `:` (an epoch, and then in its upstream part) beyond a token.
    assert!(
        plain_token(&pkg.version.replace(':', "0")),
        "version {:?}",
        pkg.version
    );
    assert!(plain_token(&pkg.board), "board {:?}", pkg.board);
});
