//! Signed packages: what `Package::parse` and `check` accept and refuse.

use super::*;

/// The unit tests' signing key (a public seed: no image trusts it).
pub(super) fn test_key() -> SigningKey {
    SigningKey::from_seed(&[0x42; 32])
}

pub(super) fn test_keys() -> TrustedKeys {
    TrustedKeys::from_public_key_files(&[&test_key().public_key_file()]).unwrap()
}

fn package(version: &str, board: &str) -> Package {
    Package {
        version: version.to_string(),
        board: board.to_string(),
        vmlinuz: b"kernel bytes".to_vec(),
        initrd: b"initrd bytes".to_vec(),
        signed_by: String::new(),
    }
}

fn good() -> Vec<u8> {
    package("0.2.0", "vesa")
        .emit(&test_key(), 1_700_000_000)
        .unwrap()
}

/// A package of `members`: the manifest and signature made for the
/// genuine kernel and initrd, whatever the members then hold.
fn signed_with(members: &[(&str, &[u8])]) -> Vec<u8> {
    write_ustar(members, 0).unwrap()
}

fn parse(bytes: &[u8]) -> Result<Package, UpgradeError> {
    Package::parse(bytes, &test_keys())
}

#[test]
fn a_package_signed_by_a_trusted_key_parses() {
    let p = parse(&good()).unwrap();
    assert_eq!((p.version.as_str(), p.board.as_str()), ("0.2.0", "vesa"));
    assert_eq!(p.signed_by, test_key().key_id());
    assert_eq!(p.vmlinuz, b"kernel bytes");
    // Reproducible: the same inputs make the same bytes.
    assert_eq!(good(), good());
}

#[test]
fn a_package_signed_by_another_key_is_refused_naming_the_key() {
    let other = SigningKey::from_seed(&[0x17; 32]);
    let bytes = package("0.2.0", "vesa").emit(&other, 0).unwrap();
    let e = parse(&bytes).unwrap_err();
    assert!(matches!(e, UpgradeError::UntrustedKey { .. }), "{e}");
    let said = e.to_string();
    assert!(said.contains(other.key_id()), "{said}");
    assert!(said.contains(test_key().key_id()), "{said}");
    // A rotation: the box trusts both keys, and takes either.
    let both = TrustedKeys::from_public_key_files(&[
        &test_key().public_key_file(),
        &other.public_key_file(),
    ])
    .unwrap();
    assert_eq!(
        Package::parse(&bytes, &both).unwrap().signed_by,
        other.key_id()
    );
}

#[test]
fn tampered_members_and_manifests_are_refused() {
    let pkg = package("0.2.0", "vesa");
    let manifest = pkg.manifest();
    let sig = test_key().sign_manifest(&manifest);
    let m = &manifest[..];
    let s = &sig[..];
    let e = parse(&signed_with(&[
        ("manifest", m),
        ("manifest.sig", s),
        ("vmlinuz", b"evil kernel"),
        ("initrd.img", b"initrd bytes"),
    ]))
    .unwrap_err();
    assert!(e.to_string().starts_with("vmlinuz does not match"), "{e}");
    let e = parse(&signed_with(&[
        ("manifest", m),
        ("manifest.sig", s),
        ("vmlinuz", b"kernel bytes"),
        ("initrd.img", b"evil initrd"),
    ]))
    .unwrap_err();
    assert!(
        e.to_string().starts_with("initrd.img does not match"),
        "{e}"
    );
    // The manifest changed to match an evil kernel: the signature fails.
    let evil = String::from_utf8(manifest.clone())
        .unwrap()
        .replace(&sha256_hex(b"kernel bytes"), &sha256_hex(b"evil kernel"));
    let e = parse(&signed_with(&[
        ("manifest", evil.as_bytes()),
        ("manifest.sig", s),
        ("vmlinuz", b"evil kernel"),
        ("initrd.img", b"initrd bytes"),
    ]))
    .unwrap_err();
    assert!(matches!(e, UpgradeError::BadSignature { .. }), "{e}");
    assert!(e.to_string().contains(test_key().key_id()), "{e}");
}

#[test]
fn an_unsigned_package_is_refused() {
    let manifest = package("0.2.0", "vesa").manifest();
    let e = parse(&signed_with(&[
        ("manifest", &manifest),
        ("vmlinuz", b"kernel bytes"),
        ("initrd.img", b"initrd bytes"),
    ]))
    .unwrap_err();
    assert!(matches!(e, UpgradeError::Unsigned), "{e}");
    assert!(e.to_string().contains("not signed"), "{e}");
}

#[test]
fn members_the_manifest_does_not_list_or_that_come_twice_are_refused() {
    let manifest = package("0.2.0", "vesa").manifest();
    let sig = test_key().sign_manifest(&manifest);
    let base: Vec<(&str, &[u8])> = vec![
        ("manifest", &manifest),
        ("manifest.sig", &sig),
        ("vmlinuz", b"kernel bytes"),
        ("initrd.img", b"initrd bytes"),
    ];
    let mut extra = base.clone();
    extra.push(("preinst", b"#!/bin/sh\n"));
    let e = parse(&signed_with(&extra)).unwrap_err();
    assert!(
        matches!(&e, UpgradeError::UnlistedMember(m) if m == "preinst"),
        "{e}"
    );
    for twice in ["initrd.img", "manifest", "manifest.sig"] {
        let mut dup = base.clone();
        let again = base.iter().find(|(n, _)| *n == twice).unwrap().1;
        dup.push((twice, again));
        let e = parse(&signed_with(&dup)).unwrap_err();
        assert!(
            matches!(&e, UpgradeError::DuplicateMember(m) if m == twice),
            "{e}"
        );
    }
    // "./vmlinuz" is the same member as "vmlinuz".
    let mut dotted = base.clone();
    dotted.push(("./vmlinuz", b"evil kernel"));
    let e = parse(&signed_with(&dotted)).unwrap_err();
    assert!(matches!(e, UpgradeError::DuplicateMember(_)), "{e}");
    // A manifest that lists a member the package lacks.
    let mut missing = base.clone();
    missing.retain(|(n, _)| *n != "initrd.img");
    let e = parse(&signed_with(&missing)).unwrap_err();
    assert!(e.to_string().contains("lists initrd.img"), "{e}");
}

#[test]
fn a_signed_manifest_that_gives_a_key_twice_is_refused() {
    let pkg = package("0.2.0", "vesa");
    let mut manifest = pkg.manifest();
    manifest.extend_from_slice(b"board=x86-appliance\n");
    let sig = test_key().sign_manifest(&manifest);
    let e = parse(&signed_with(&[
        ("manifest", &manifest),
        ("manifest.sig", &sig),
        ("vmlinuz", b"kernel bytes"),
        ("initrd.img", b"initrd bytes"),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("gives board twice"), "{e}");
}

fn policy<'a>(running: &'a str, allow_downgrade: bool) -> InstallPolicy<'a> {
    InstallPolicy {
        board: "vesa",
        running_version: running,
        allow_downgrade,
    }
}

#[test]
fn check_refuses_another_board_even_with_a_downgrade_allowed() {
    let pkg = parse(
        &package("0.2.0", "x86-appliance")
            .emit(&test_key(), 0)
            .unwrap(),
    )
    .unwrap();
    for allow in [false, true] {
        let e = check(&pkg, &policy("0.1.0", allow)).unwrap_err();
        assert!(matches!(e, UpgradeError::WrongBoard { .. }), "{e}");
        assert!(e.to_string().contains("for board x86-appliance"), "{e}");
    }
}

#[test]
fn check_refuses_an_older_or_the_same_version_unless_allowed() {
    let pkg = parse(&good()).unwrap();
    check(&pkg, &policy("0.1.0", false)).unwrap();
    check(&pkg, &policy("0.2.0~rc1", false)).unwrap();
    let e = check(&pkg, &policy("0.10.0", false)).unwrap_err();
    assert!(matches!(e, UpgradeError::Older { .. }), "{e}");
    let said = e.to_string();
    assert!(said.contains("older than the running 0.10.0"), "{said}");
    assert!(said.contains("--allow-downgrade"), "{said}");
    let e = check(&pkg, &policy("0.2.0", false)).unwrap_err();
    assert!(matches!(e, UpgradeError::AlreadyRunning(_)), "{e}");
    check(&pkg, &policy("0.10.0", true)).unwrap();
    check(&pkg, &policy("0.2.0", true)).unwrap();
}

#[test]
fn an_epoch_in_a_version_is_taken_and_ordered() {
    let pkg = parse(&package("1:0.1", "vesa").emit(&test_key(), 0).unwrap()).unwrap();
    check(&pkg, &policy("9.9", false)).unwrap();
    let e = parse(&package("v1.0", "vesa").emit(&test_key(), 0).unwrap()).unwrap_err();
    assert!(e.to_string().contains("version is not a plain name"), "{e}");
}
