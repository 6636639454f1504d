//! The signature of an upgrade package (decision 0010): Ed25519 over the
//! exact bytes of the package's `manifest`, which lists the SHA-256 of
//! every other member, so one signature covers the whole package.
//!
//! ```text
//! manifest.sig     key=<key id>
//!                  ed25519=<128 hex digits: the signature over `manifest`>
//! <name>.pub       ed25519 <64 hex digits: the public key>   (# comments allowed)
//! <name>.pk8       the private key, PKCS#8 (DER); never on an appliance
//! ```
//!
//! A key id is the first 8 bytes of the SHA-256 of the public key, in
//! hex: derived from the key, so a package cannot claim another key's
//! name, and short enough to read out on a console. The appliance trusts
//! the `*.pub` files its image carries in [`super::IMAGE_KEYS_DIR`] (the
//! initramfs: read-only, replaced only by a signed upgrade).

use std::path::Path;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use super::{UpgradeError, sha256_hex};

/// The package member that holds the signature.
pub const SIGNATURE_MEMBER: &str = "manifest.sig";

/// Bytes in an Ed25519 public key and in a signature.
const PUBLIC_KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// Hex digits in a key id (8 bytes of SHA-256).
const KEY_ID_LEN: usize = 16;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The key id of an Ed25519 public key.
pub fn key_id(public_key: &[u8]) -> String {
    sha256_hex(public_key)[..KEY_ID_LEN].to_string()
}

/// The text of a `.pub` file.
fn public_key_file(public_key: &[u8]) -> String {
    format!(
        "# Breakwater firmware signing key {}\ned25519 {}\n",
        key_id(public_key),
        hex(public_key)
    )
}

/// The public key in a `.pub` file's text.
fn parse_public_key(text: &str) -> Result<Vec<u8>, String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or("no key in the file")?;
    if lines.next().is_some() {
        return Err("more than one key line (one key per file)".to_string());
    }
    let hex_key = line
        .strip_prefix("ed25519 ")
        .ok_or("not an `ed25519 <hex>` line")?;
    match unhex(hex_key.trim()) {
        Some(key) if key.len() == PUBLIC_KEY_LEN => Ok(key),
        _ => Err(format!("the key is not {} hex digits", PUBLIC_KEY_LEN * 2)),
    }
}

#[derive(Debug, Clone)]
struct TrustedKey {
    id: String,
    public_key: Vec<u8>,
}

/// The public keys an appliance accepts packages from.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// Every `*.pub` file in `dir`. A file that is not a key is an error
    /// rather than skipped: a rotation that ships a broken key file must
    /// not pass unnoticed. No key at all is [`UpgradeError::NoTrustedKeys`].
    pub fn load(dir: &Path) -> Result<TrustedKeys, UpgradeError> {
        let no_keys = || UpgradeError::NoTrustedKeys(dir.display().to_string());
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_keys()),
            Err(e) => {
                return Err(UpgradeError::KeyFile {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).map_err(|e| UpgradeError::KeyFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            texts.push((path.display().to_string(), text));
        }
        if texts.is_empty() {
            return Err(no_keys());
        }
        Self::from_named(texts.iter().map(|(p, t)| (p.as_str(), t.as_str())))
    }

    /// The keys this image carries ([`super::IMAGE_KEYS_DIR`]).
    pub fn image() -> Result<TrustedKeys, UpgradeError> {
        Self::load(Path::new(super::IMAGE_KEYS_DIR))
    }

    /// The keys of `.pub` file texts (tests, the fuzzer, `upgrade-sign
    /// verify`).
    pub fn from_public_key_files(texts: &[&str]) -> Result<TrustedKeys, UpgradeError> {
        if texts.is_empty() {
            return Err(UpgradeError::NoTrustedKeys("(none given)".to_string()));
        }
        Self::from_named(texts.iter().map(|t| ("(given key)", *t)))
    }

    fn from_named<'a>(
        files: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<TrustedKeys, UpgradeError> {
        let mut keys: Vec<TrustedKey> = Vec::new();
        for (path, text) in files {
            let public_key = parse_public_key(text).map_err(|reason| UpgradeError::KeyFile {
                path: path.to_string(),
                reason,
            })?;
            let id = key_id(&public_key);
            if !keys.iter().any(|k| k.id == id) {
                keys.push(TrustedKey { id, public_key });
            }
        }
        Ok(TrustedKeys { keys })
    }

    /// The ids of the trusted keys, for messages.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Checks `signature` (a `manifest.sig` member) over `manifest`;
    /// returns the id of the key that signed.
    pub(super) fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<String, UpgradeError> {
        if self.keys.is_empty() {
            return Err(UpgradeError::NoTrustedKeys("(none given)".to_string()));
        }
        let bad = |m: &str| UpgradeError::BadPackage(format!("{SIGNATURE_MEMBER}: {m}"));
        let text = std::str::from_utf8(signature).map_err(|_| bad("not text"))?;
        let get = |k: &str| {
            let mut values = text
                .lines()
                .filter_map(|l| l.strip_prefix(k)?.strip_prefix('='));
            match (values.next(), values.next()) {
                (Some(v), None) => Some(v.trim()),
                _ => None,
            }
        };
        // The id reaches the console: only hex digits of the right length.
        let id = get("key")
            .filter(|id| id.len() == KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("no key id (one `key=` line of 16 hex digits)"))?
            .to_ascii_lowercase();
        let sig = get("ed25519")
            .and_then(unhex)
            .filter(|s| s.len() == SIGNATURE_LEN)
            .ok_or_else(|| bad("no signature (one `ed25519=` line of 128 hex digits)"))?;
        let key =
            self.keys
                .iter()
                .find(|k| k.id == id)
                .ok_or_else(|| UpgradeError::UntrustedKey {
                    key_id: id.clone(),
                    trusted: self.ids().join(", "),
                })?;
        UnparsedPublicKey::new(&ED25519, &key.public_key)
            .verify(manifest, &sig)
            .map_err(|_| UpgradeError::BadSignature { key_id: id.clone() })?;
        Ok(id)
    }
}

/// A private signing key (host side: `upgrade-sign`, tests).
#[derive(Debug)]
pub struct SigningKey {
    pair: Ed25519KeyPair,
    id: String,
}

impl SigningKey {
    fn from_pair(pair: Ed25519KeyPair) -> SigningKey {
        let id = key_id(pair.public_key().as_ref());
        SigningKey { pair, id }
    }

    /// A new random key, and its PKCS#8 document to store.
    pub fn generate() -> Result<(SigningKey, Vec<u8>), UpgradeError> {
        let failed = |what: &str| UpgradeError::KeyFile {
            path: "(new key)".to_string(),
            reason: format!("cannot {what} an Ed25519 key"),
        };
        let pair = Ed25519KeyPair::generate().map_err(|_| failed("generate"))?;
        let pkcs8 = pair.to_pkcs8().map_err(|_| failed("encode"))?;
        Ok((Self::from_pair(pair), pkcs8.as_ref().to_vec()))
    }

    /// A key from a PKCS#8 document (v1 or v2, as OpenSSL's `genpkey -algorithm
    /// ed25519 -outform DER` writes it too).
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, UpgradeError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Self::from_pair)
            .map_err(|e| UpgradeError::KeyFile {
                path: "(PKCS#8)".to_string(),
                reason: format!("not an Ed25519 private key: {e}"),
            })
    }

    /// A key read from a `.pk8` file.
    pub fn load(path: &Path) -> Result<SigningKey, UpgradeError> {
        let named = |reason: String| UpgradeError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let der = std::fs::read(path).map_err(|e| named(e.to_string()))?;
        Self::from_pkcs8(&der).map_err(|e| match e {
            UpgradeError::KeyFile { reason, .. } => named(reason),
            other => other,
        })
    }

    /// A key from a 32-byte seed: for tests and the fuzzer only. A seed
    /// written in source is public; no image may trust its key.
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        match Ed25519KeyPair::from_seed_unchecked(seed) {
            Ok(pair) => Self::from_pair(pair),
            // Every 32-byte string is an Ed25519 seed (RFC 8032 5.1.5).
            Err(e) => unreachable!("a 32-byte Ed25519 seed was refused: {e}"),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The text of this key's `.pub` file.
    pub fn public_key_file(&self) -> String {
        public_key_file(self.pair.public_key().as_ref())
    }

    /// The `manifest.sig` member for `manifest`.
    pub fn sign_manifest(&self, manifest: &[u8]) -> Vec<u8> {
        format!(
            "key={}\ned25519={}\n",
            self.id,
            hex(self.pair.sign(manifest).as_ref())
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_file_round_trips_and_names_its_key() {
        let key = SigningKey::from_seed(&[7; 32]);
        let keys = TrustedKeys::from_public_key_files(&[&key.public_key_file()]).unwrap();
        assert_eq!(keys.ids(), vec![key.key_id()]);
        assert!(key.public_key_file().contains(key.key_id()));
        let sig = key.sign_manifest(b"product=breakwater\n");
        keys.verify(b"product=breakwater\n", &sig).unwrap();
        let e = keys.verify(b"product=breakwater\n\n", &sig).unwrap_err();
        assert!(matches!(e, UpgradeError::BadSignature { .. }), "{e}");
    }

    #[test]
    fn a_generated_key_survives_its_pkcs8_file() {
        let (key, der) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(&der).unwrap();
        assert_eq!(key.key_id(), again.key_id());
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
    }

    #[test]
    fn broken_key_files_and_empty_key_directories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = TrustedKeys::load(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(e, UpgradeError::NoTrustedKeys(_)), "{e}");
        std::fs::write(dir.path().join("README"), "not a key, not a .pub").unwrap();
        let e = TrustedKeys::load(dir.path()).unwrap_err();
        assert!(matches!(e, UpgradeError::NoTrustedKeys(_)), "{e}");
        let key = SigningKey::from_seed(&[1; 32]);
        std::fs::write(dir.path().join("a.pub"), key.public_key_file()).unwrap();
        assert_eq!(
            TrustedKeys::load(dir.path()).unwrap().ids(),
            vec![key.key_id()]
        );
        for broken in [
            "",
            "ed25519 abcd",
            "ssh-ed25519 AAAA",
            "ed25519 00\ned25519 11",
        ] {
            std::fs::write(dir.path().join("b.pub"), broken).unwrap();
            let e = TrustedKeys::load(dir.path()).unwrap_err();
            assert!(e.to_string().contains("b.pub"), "{broken:?}: {e}");
        }
    }

    #[test]
    fn a_signature_file_with_a_hostile_key_id_is_refused_without_echoing_it() {
        let key = SigningKey::from_seed(&[2; 32]);
        let keys = TrustedKeys::from_public_key_files(&[&key.public_key_file()]).unwrap();
        let sig = String::from_utf8(key.sign_manifest(b"m")).unwrap();
        for hostile in [
            sig.replace(key.key_id(), "\x1b[2Jabcdef0123456"),
            format!("{sig}key=0000000000000000\n"),
            sig.replace("ed25519=", "ed25519=00"),
        ] {
            let e = keys.verify(b"m", hostile.as_bytes()).unwrap_err();
            assert!(matches!(e, UpgradeError::BadPackage(_)), "{e}");
            assert!(!e.to_string().contains('\x1b'), "{e}");
        }
    }
}
