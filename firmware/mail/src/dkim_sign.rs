//! DKIM signing of outgoing mail (`domainkeysconfig`): key generation and
//! import, the DNS TXT record to publish, and the signature added at
//! delivery (see docs/decisions/0018-dkim-signing-point.md for why at
//! delivery).
//!
//! Signing is a pure function of the configured key and the message bytes
//! (no I/O): RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, so
//! only the `t=` timestamp differs between two delivery attempts of the
//! same spooled message, and each attempt's signature is valid on its own.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256, SigningKey as AuthKey};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization as AuthCanon, DkimSigner};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::domain_keys::{
    Canonicalization, DomainKeys, KeyAlgorithm, SigningKey, SigningProfile,
};
use crate::ids::Mid;
use crate::logging::MailEvent;
use crate::logging::WriteMailLog as _;

/// Why a key or a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkimSignError {
    #[error("cannot generate the key: {0}")]
    Generate(String),
    #[error("not a usable private key: {0}")]
    BadKey(String),
    #[error("message too large ({size} bytes, signing limit {limit})")]
    TooLarge { size: usize, limit: u64 },
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// The RSA key size generated on the box (AsyncOS offers 512 to 2048;
/// below 1024 verifiers reject, RFC 8301).
pub const RSA_BITS: usize = 2048;

/// A new private key as PKCS#8 PEM.
pub fn generate(algorithm: KeyAlgorithm) -> Result<String, DkimSignError> {
    let gen_err = |e: &dyn std::fmt::Display| DkimSignError::Generate(e.to_string());
    let der: Vec<u8> = match algorithm {
        KeyAlgorithm::Rsa => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|e| gen_err(&e))?;
            let der: Pkcs8V1Der<'static> = kp.as_der().map_err(|e| gen_err(&e))?;
            der.as_ref().to_vec()
        }
        KeyAlgorithm::Ed25519 => {
            let kp = aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|e| gen_err(&e))?;
            let der: Pkcs8V1Der<'static> = kp.as_der().map_err(|e| gen_err(&e))?;
            der.as_ref().to_vec()
        }
    };
    Ok(pem("PRIVATE KEY", &der))
}

/// An imported PEM key (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE
/// KEY`), normalised to PKCS#8 PEM, with its algorithm.
pub fn import(text: &str) -> Result<(KeyAlgorithm, String), DkimSignError> {
    let bad = |e: &dyn std::fmt::Display| DkimSignError::BadKey(e.to_string());
    let key = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| bad(&e))?;
    match key {
        PrivateKeyDer::Pkcs1(k) => {
            let kp =
                aws_lc_rs::rsa::KeyPair::from_der(k.secret_pkcs1_der()).map_err(|e| bad(&e))?;
            let der: Pkcs8V1Der<'static> = kp.as_der().map_err(|e| bad(&e))?;
            check_rsa_size(&kp)?;
            Ok((KeyAlgorithm::Rsa, pem("PRIVATE KEY", der.as_ref())))
        }
        PrivateKeyDer::Pkcs8(k) => {
            let der = k.secret_pkcs8_der();
            if let Ok(kp) = aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
                check_rsa_size(&kp)?;
                Ok((KeyAlgorithm::Rsa, pem("PRIVATE KEY", der)))
            } else if aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).is_ok()
            {
                Ok((KeyAlgorithm::Ed25519, pem("PRIVATE KEY", der)))
            } else {
                Err(DkimSignError::BadKey(
                    "neither an RSA nor an Ed25519 key".into(),
                ))
            }
        }
        _ => Err(DkimSignError::BadKey(
            "only RSA and Ed25519 keys sign DKIM".into(),
        )),
    }
}

fn check_rsa_size(kp: &aws_lc_rs::rsa::KeyPair) -> Result<(), DkimSignError> {
    let bits = kp.public_modulus_len() * 8;
    if bits < 1024 {
        return Err(DkimSignError::BadKey(format!(
            "an RSA key of {bits} bits is too short (at least 1024, RFC 8301)"
        )));
    }
    Ok(())
}

fn pkcs8_der(key: &SigningKey) -> Result<Vec<u8>, DkimSignError> {
    PrivatePkcs8KeyDer::from_pem_slice(key.private_pem.as_bytes())
        .map(|k| k.secret_pkcs8_der().to_vec())
        .map_err(|e| DkimSignError::BadKey(format!("key {}: {e}", key.name)))
}

/// The public key as the DNS record's `p=` carries it: the
/// SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519 (RFC 8463).
pub fn public_key_b64(key: &SigningKey) -> Result<String, DkimSignError> {
    let der = pkcs8_der(key)?;
    let bad = |e: &dyn std::fmt::Display| DkimSignError::BadKey(format!("key {}: {e}", key.name));
    let public = match key.algorithm {
        KeyAlgorithm::Rsa => {
            let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| bad(&e))?;
            let spki: PublicKeyX509Der<'static> = kp.public_key().as_der().map_err(|e| bad(&e))?;
            spki.as_ref().to_vec()
        }
        KeyAlgorithm::Ed25519 => {
            let kp = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .map_err(|e| bad(&e))?;
            kp.public_key().as_ref().to_vec()
        }
    };
    Ok(B64.encode(public))
}

/// The TXT record's text: `v=DKIM1; k=rsa; p=...`.
pub fn txt_value(key: &SigningKey) -> Result<String, DkimSignError> {
    Ok(format!(
        "v=DKIM1; k={}; p={}",
        key.algorithm.dns_tag(),
        public_key_b64(key)?
    ))
}

/// The record to publish, as a zone file line:
/// `sel._domainkey.example.com. IN TXT "v=DKIM1; k=rsa; " "p=..."`, the
/// text split into strings of at most 255 bytes (a TXT string's limit).
pub fn dns_record(profile: &SigningProfile, key: &SigningKey) -> Result<String, DkimSignError> {
    let text = txt_value(key)?;
    let strings: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    Ok(format!(
        "{}._domainkey.{}. IN TXT {}",
        profile.selector,
        profile.domain,
        strings.join(" ")
    ))
}

fn canon(c: Canonicalization) -> AuthCanon {
    match c {
        Canonicalization::Simple => AuthCanon::Simple,
        Canonicalization::Relaxed => AuthCanon::Relaxed,
    }
}

fn sign_with<K: AuthKey>(
    key: K,
    profile: &SigningProfile,
    message: &[u8],
) -> Result<String, DkimSignError> {
    // Only the headers the message has: a listed but absent header would
    // be "oversigned" (mail-auth lists it in h= anyway), and a mailing list
    // adding List-Id or Sender downstream would then break the signature.
    let present = header_names(message);
    let headers: Vec<String> = profile
        .headers
        .iter()
        .filter(|h| present.iter().any(|p| p.eq_ignore_ascii_case(h)))
        .cloned()
        .collect();
    let signature = DkimSigner::from_key(key)
        .domain(profile.domain.clone())
        .selector(profile.selector.clone())
        .headers(headers)
        .header_canonicalization(canon(profile.header_canonicalization))
        .body_canonicalization(canon(profile.body_canonicalization))
        .sign(message)
        .map_err(|e| DkimSignError::Sign(e.to_string()))?;
    Ok(signature.to_header())
}

/// The names of the header fields of `message` (its header block, up to
/// the first empty line).
fn header_names(message: &[u8]) -> Vec<&str> {
    let mut names = Vec::new();
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && let Ok(name) = std::str::from_utf8(&line[..colon])
        {
            names.push(name.trim_end());
        }
    }
    names
}

/// The `DKIM-Signature:` header (folded, ending in CRLF) for `message`.
pub fn signature_header(
    profile: &SigningProfile,
    key: &SigningKey,
    message: &[u8],
) -> Result<String, DkimSignError> {
    let der = pkcs8_der(key)?;
    let bad = |e: &dyn std::fmt::Display| DkimSignError::BadKey(format!("key {}: {e}", key.name));
    match key.algorithm {
        KeyAlgorithm::Rsa => {
            let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der.as_slice().into()))
                .map_err(|e| bad(&e))?;
            sign_with(k, profile, message)
        }
        KeyAlgorithm::Ed25519 => {
            let k = Ed25519Key::from_pkcs8_maybe_unchecked_der(&der).map_err(|e| bad(&e))?;
            sign_with(k, profile, message)
        }
    }
}

/// The From header's (first) address: the author AsyncOS matches signing
/// profiles against.
pub fn author(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    parsed.from()?.first()?.address().map(|a| a.to_string())
}

/// What delivery sends for `mid`: the spooled message, with a
/// `DKIM-Signature` prepended when a profile matches its author. Never
/// fails the delivery: a message that cannot be signed goes out unsigned,
/// with a `DKIM: cannot sign` line.
pub fn sign_for_delivery(dk: &DomainKeys, mid: Mid, body: Vec<u8>) -> Vec<u8> {
    let Some(address) = author(&body) else {
        return body;
    };
    let Some(profile) = dk.profile_for(&address) else {
        return body;
    };
    match sign(dk, profile, &body) {
        Ok(header) => {
            MailEvent::DkimSigning {
                mid,
                profile: profile.name.clone(),
                address,
            }
            .log();
            let mut signed = Vec::with_capacity(header.len() + body.len());
            signed.extend_from_slice(header.as_bytes());
            signed.extend_from_slice(&body);
            signed
        }
        Err(e) => {
            MailEvent::DkimCannotSign {
                mid,
                why: e.to_string(),
            }
            .log();
            body
        }
    }
}

fn sign(dk: &DomainKeys, profile: &SigningProfile, body: &[u8]) -> Result<String, DkimSignError> {
    if body.len() as u64 > dk.max_signed_bytes {
        return Err(DkimSignError::TooLarge {
            size: body.len(),
            limit: dk.max_signed_bytes,
        });
    }
    let key = dk
        .key(&profile.key)
        .ok_or_else(|| DkimSignError::BadKey(format!("no key named {}", profile.key)))?;
    signature_header(profile, key, body)
}

/// PEM armour, 64 columns.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use mail_auth::common::parse::TxtRecordParser as _;
    use mail_auth::common::verify::DomainKey;
    use mail_auth::{
        AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
    };

    use super::*;

    /// The TXT records a verifier sees: an in-memory zone.
    #[derive(Default)]
    struct Zone(Mutex<HashMap<Box<str>, Txt>>);

    impl ResolverCache<Box<str>, Txt> for Zone {
        fn get<Q>(&self, name: &Q) -> Option<Txt>
        where
            Box<str>: std::borrow::Borrow<Q>,
            Q: std::hash::Hash + Eq + ?Sized,
        {
            self.0.lock().unwrap().get(name).cloned()
        }
        fn remove<Q>(&self, name: &Q) -> Option<Txt>
        where
            Box<str>: std::borrow::Borrow<Q>,
            Q: std::hash::Hash + Eq + ?Sized,
        {
            self.0.lock().unwrap().remove(name)
        }
        fn insert(&self, key: Box<str>, value: Txt, _: std::time::Instant) {
            self.0.lock().unwrap().insert(key, value);
        }
    }

    const MESSAGE: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: quarterly report\r\nDate: Sun, 6 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello Bob,\r\n\r\nthe figures are attached.\r\n";

    fn setup(algorithm: KeyAlgorithm) -> (DomainKeys, SigningProfile, SigningKey) {
        let key = SigningKey {
            name: "k".into(),
            algorithm,
            private_pem: generate(algorithm).unwrap(),
        };
        let profile = SigningProfile::new("example_com", "example.com", "sel1", "k");
        let dk = DomainKeys {
            keys: vec![key.clone()],
            profiles: vec![profile.clone()],
            ..DomainKeys::default()
        };
        (dk, profile, key)
    }

    async fn verify(signed: &[u8], profile: &SigningProfile, key: &SigningKey) -> DkimResult {
        let zone = Zone::default();
        let name = format!("{}._domainkey.{}.", profile.selector, profile.domain);
        let record = DomainKey::parse(txt_value(key).unwrap().as_bytes()).unwrap();
        zone.insert(name.into(), Txt::from(record), std::time::Instant::now());
        // The resolver is never asked: every name is in `zone`.
        let auth = MessageAuthenticator::new_cloudflare().unwrap();
        let msg = AuthenticatedMessage::parse(signed).unwrap();
        let out = auth
            .verify_dkim(Parameters::new(&msg).with_txt_cache(&zone))
            .await;
        out.first().unwrap().result().clone()
    }

    #[tokio::test]
    async fn rsa_and_ed25519_signatures_verify_against_the_published_record() {
        for alg in [KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519] {
            let (dk, profile, key) = setup(alg);
            let signed = sign_for_delivery(&dk, Mid(7), MESSAGE.as_bytes().to_vec());
            let text = String::from_utf8(signed.clone()).unwrap();
            assert!(text.starts_with("DKIM-Signature: "), "{text}");
            assert!(text.contains("d=example.com") && text.contains("s=sel1"));
            // Present headers only: nothing absent is oversigned.
            assert!(
                text.contains("h=Message-ID:Date:Subject:To:From;"),
                "{text}"
            );
            assert!(text.ends_with(MESSAGE));
            assert_eq!(
                verify(&signed, &profile, &key).await,
                DkimResult::Pass,
                "{alg:?}"
            );
            // A changed body no longer verifies.
            let tampered = text.replace("figures", "fig ures");
            assert_ne!(
                verify(tampered.as_bytes(), &profile, &key).await,
                DkimResult::Pass
            );
        }
    }

    #[tokio::test]
    async fn simple_canonicalization_and_imported_keys_verify() {
        let (_, mut profile, key) = setup(KeyAlgorithm::Rsa);
        let (alg, pem) = import(&key.private_pem).unwrap();
        assert_eq!(
            (alg, pem.as_str()),
            (KeyAlgorithm::Rsa, key.private_pem.as_str())
        );
        profile.header_canonicalization = Canonicalization::Simple;
        profile.body_canonicalization = Canonicalization::Simple;
        let header = signature_header(&profile, &key, MESSAGE.as_bytes()).unwrap();
        assert!(header.contains("c=simple/simple"));
        let signed = format!("{header}{MESSAGE}");
        assert_eq!(
            verify(signed.as_bytes(), &profile, &key).await,
            DkimResult::Pass
        );
    }

    #[test]
    fn mail_from_another_domain_or_too_large_goes_out_unsigned() {
        let (mut dk, _, _) = setup(KeyAlgorithm::Ed25519);
        let other = MESSAGE.replace("alice@example.com", "alice@example.org");
        assert_eq!(
            sign_for_delivery(&dk, Mid(1), other.clone().into_bytes()),
            other.into_bytes()
        );
        dk.max_signed_bytes = 10;
        assert_eq!(
            sign_for_delivery(&dk, Mid(1), MESSAGE.as_bytes().to_vec()),
            MESSAGE.as_bytes()
        );
    }

    #[test]
    fn the_dns_record_is_split_into_255_byte_strings() {
        let (_, profile, key) = setup(KeyAlgorithm::Rsa);
        let record = dns_record(&profile, &key).unwrap();
        assert!(record.starts_with("sel1._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=MII"));
        let strings: Vec<&str> = record.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.len(), 2, "{record}");
        assert_eq!(strings[0].len(), 255);
        assert_eq!(strings.concat(), txt_value(&key).unwrap());
        let (_, profile, key) = setup(KeyAlgorithm::Ed25519);
        let record = dns_record(&profile, &key).unwrap();
        assert!(record.contains("\"v=DKIM1; k=ed25519; p="));
    }

    #[test]
    fn import_refuses_what_is_not_a_key() {
        assert!(import("hello").is_err());
        assert!(import("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
