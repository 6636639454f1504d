//! DANE for SMTP (RFC 7672): what a mail exchanger's TLSA records demand,
//! and the certificate check that enforces them.
//!
//! DANE only applies to delivery by MX, and only when the MX RRset and the
//! host's address records validated Secure (the resolver decides that,
//! see `resolve::Source`). Then the TLSA RRset at `_25._tcp.<mx host>`
//! decides, per host:
//!
//! | TLSA answer | requirement |
//! | --- | --- |
//! | secure, some usable records | STARTTLS, and the peer must match a record |
//! | secure, none usable | STARTTLS, no authentication (§2.2) |
//! | secure denial, or insecure | DANE does not apply to this host |
//! | bogus or lookup failure | do not deliver to this host now (§2.2) |
//!
//! Usable: DANE-EE(3) and DANE-TA(2) with selector Cert(0)/SPKI(1) and
//! matching Full(0)/SHA2-256(1)/SHA2-512(2). PKIX-TA(0) and PKIX-EE(1)
//! are unusable for SMTP (§3.1.3): MX hosts are not expected to have
//! certificates a public CA vouches for, so their records are ignored.
//!
//! DANE-EE(3) matches the server's own certificate or key, with no name or
//! validity checks (§3.1.1). DANE-TA(2) matches a certificate the server
//! sends in its chain (servers must send it, §3.1.2); that certificate
//! becomes the only trust anchor of an ordinary path validation whose
//! reference identifiers are the MX host name and the next-hop domain
//! (§3.2.2).
//!
//! Exposure: reads certificates sent by untrusted servers. The DER walk
//! below is bounds-checked and returns `None` on anything malformed; the
//! full path validation is rustls-webpki's.

use std::sync::{Arc, LazyLock, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::hash::{Hash, HashAlgorithm};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedCipherSuite,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use crate::config::Config;
use crate::dns::{Dns, LookupError, Tlsa, Validated};

/// TLSA certificate usages (RFC 7218 names).
const DANE_TA: u8 = 2;
const DANE_EE: u8 = 3;
/// Selectors.
const SELECTOR_CERT: u8 = 0;
const SELECTOR_SPKI: u8 = 1;
/// Matching types.
const MATCH_FULL: u8 = 0;
const MATCH_SHA256: u8 = 1;
const MATCH_SHA512: u8 = 2;

/// What a host's TLSA records demand of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// DANE does not apply to this host; the reason, for the log.
    NotApplicable(String),
    /// A secure TLSA RRset with no usable record: encrypt, do not
    /// authenticate.
    EncryptOnly,
    /// Encrypt, and the peer's chain must match one of these records.
    Authenticate(Vec<Tlsa>),
}

/// Whether this implementation can use a TLSA record for SMTP.
pub fn usable(r: &Tlsa) -> bool {
    matches!(r.usage, DANE_TA | DANE_EE)
        && matches!(r.selector, SELECTOR_CERT | SELECTOR_SPKI)
        && match r.matching {
            MATCH_FULL => !r.data.is_empty(),
            MATCH_SHA256 => r.data.len() == 32,
            MATCH_SHA512 => r.data.len() == 64,
            _ => false,
        }
}

/// Classifies a validated TLSA answer (the table in the module doc).
pub fn requirement(answer: Validated<Tlsa>) -> Requirement {
    match answer {
        Validated::Found {
            records,
            secure: true,
        } => {
            let usable: Vec<Tlsa> = records.into_iter().filter(usable).collect();
            if usable.is_empty() {
                Requirement::EncryptOnly
            } else {
                Requirement::Authenticate(usable)
            }
        }
        Validated::Found { secure: false, .. } => {
            Requirement::NotApplicable("the TLSA records are not DNSSEC-signed".to_string())
        }
        Validated::Missing { secure: true, .. } => {
            Requirement::NotApplicable("there are no TLSA records".to_string())
        }
        Validated::Missing { secure: false, .. } => {
            Requirement::NotApplicable("the TLSA lookup is not DNSSEC-secure".to_string())
        }
    }
}

/// Looks up and classifies the TLSA records of `host`:`port`. An error is
/// a temporary failure for this host (bogus answer, SERVFAIL, timeout).
pub async fn lookup(dns: &Dns, host: &str, port: u16) -> Result<Requirement, String> {
    match dns.tlsa(host, port).await {
        Ok(answer) => Ok(requirement(answer)),
        Err(LookupError::Temporary(e)) => Err(format!("TLSA lookup for {host}: {e}")),
        // Not produced by validated lookups (they report a denial as
        // `Missing`), but an absent name is no TLSA record all the same.
        Err(LookupError::NxDomain | LookupError::NoRecords) => Ok(Requirement::NotApplicable(
            "there are no TLSA records".to_string(),
        )),
    }
}

static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));

/// A connector whose only certificate check is `verifier`, presenting the
/// destination's client certificate when one is configured.
pub fn connector(
    config: &Config,
    verifier: Arc<DaneVerifier>,
    client_cert: Option<&str>,
) -> Result<TlsConnector, String> {
    let builder = ClientConfig::builder_with_provider(PROVIDER.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let tls = match client_cert {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let cert = config.certificate(name).ok_or_else(|| {
                format!("client certificate '{name}' is not in the certificate list")
            })?;
            let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client certificate '{name}': {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
                .map_err(|e| format!("client certificate '{name}': {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate '{name}': {e}"))?
        }
    };
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// The certificate check for one connection to one host: the chain must
/// match one of `records`. Keeps the reason of a mismatch for the log
/// (rustls only reports that the certificate was refused).
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    /// Reference identifiers for DANE-TA: the MX host, then the domain.
    names: Vec<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
    failure: Mutex<Option<String>>,
}

impl DaneVerifier {
    /// `records` should be the usable ones; `host` is the MX host name and
    /// `domain` the next-hop (recipient) domain.
    pub fn new(records: Vec<Tlsa>, host: &str, domain: &str) -> Self {
        let mut names = Vec::new();
        for n in [host, domain] {
            if let Ok(name) = ServerName::try_from(n.trim_end_matches('.').to_string())
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        Self {
            records,
            names,
            provider: PROVIDER.clone(),
            failure: Mutex::new(None),
        }
    }

    /// Why the last check refused the peer, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn refuse(&self, why: String) -> rustls::Error {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        rustls::Error::General(why)
    }

    /// Which record, if any, `cert` matches with the given usage.
    fn matching(&self, usage: u8, cert: &[u8]) -> Option<&Tlsa> {
        self.records
            .iter()
            .filter(|r| r.usage == usage)
            .find(|r| matches(&self.provider, r, cert))
    }

    /// DANE-TA: a chain certificate matching a record anchors a path
    /// validation of the end entity for one of the reference names.
    fn check_ta(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), String> {
        let anchors: Vec<&CertificateDer<'_>> = intermediates
            .iter()
            .filter(|c| self.matching(DANE_TA, c).is_some())
            .collect();
        if anchors.is_empty() {
            return Err("no certificate in the chain matches a TLSA record".to_string());
        }
        let mut last = String::new();
        for anchor in anchors {
            let mut roots = RootCertStore::empty();
            if let Err(e) = roots.add(anchor.clone().into_owned()) {
                last = format!("the matching trust anchor is unusable: {e}");
                continue;
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|e| format!("trust anchor: {e}"))?;
            for name in &self.names {
                match verifier.verify_server_cert(end_entity, intermediates, name, &[], now) {
                    Ok(_) => return Ok(()),
                    Err(e) => last = format!("DANE-TA(2) chain does not verify for {name:?}: {e}"),
                }
            }
        }
        Err(last)
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.matching(DANE_EE, end_entity).is_some() {
            return Ok(ServerCertVerified::assertion());
        }
        let has_ta = self.records.iter().any(|r| r.usage == DANE_TA);
        if has_ta {
            match self.check_ta(end_entity, intermediates, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(why) => return Err(self.refuse(why)),
            }
        }
        Err(self.refuse("the server certificate matches no DANE-EE(3) TLSA record".to_string()))
    }

    // The handshake signatures are checked as always: a matching
    // certificate is worthless unless the peer holds its key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether `cert` (DER) matches `record`.
fn matches(provider: &CryptoProvider, record: &Tlsa, cert: &[u8]) -> bool {
    let selected = match record.selector {
        SELECTOR_CERT => cert,
        SELECTOR_SPKI => match spki(cert) {
            Some(s) => s,
            None => return false,
        },
        _ => return false,
    };
    match record.matching {
        MATCH_FULL => selected == record.data.as_slice(),
        MATCH_SHA256 => sha256(provider, selected).is_some_and(|d| d == record.data),
        MATCH_SHA512 => sha512(selected).as_slice() == record.data.as_slice(),
        _ => false,
    }
}

/// SHA-256 through the TLS crypto provider (aws-lc-rs), which has it for
/// its cipher suites.
fn sha256(provider: &CryptoProvider, data: &[u8]) -> Option<Vec<u8>> {
    let hash: &dyn Hash = provider.cipher_suites.iter().find_map(|s| {
        let h = match s {
            SupportedCipherSuite::Tls13(s) => s.common.hash_provider,
            SupportedCipherSuite::Tls12(s) => s.common.hash_provider,
        };
        (h.algorithm() == HashAlgorithm::SHA256).then_some(h)
    })?;
    Some(hash.hash(data).as_ref().to_vec())
}

/// SHA-512 (FIPS 180-4 §6.4), for TLSA matching type 2. No crate in the
/// build offers it to us: rustls's providers only expose the hashes of
/// their cipher suites (SHA-256/384), and aws-lc-rs and `sha2` are not
/// direct dependencies. Replace with `aws_lc_rs::digest::SHA512` when
/// aws-lc-rs (already in Cargo.lock through rustls) becomes one. Checked
/// against the FIPS 180-4 examples below.
fn sha512(data: &[u8]) -> [u8; 64] {
    const K: [u64; 80] = [
        0x428a2f98d728ae22,
        0x7137449123ef65cd,
        0xb5c0fbcfec4d3b2f,
        0xe9b5dba58189dbbc,
        0x3956c25bf348b538,
        0x59f111f1b605d019,
        0x923f82a4af194f9b,
        0xab1c5ed5da6d8118,
        0xd807aa98a3030242,
        0x12835b0145706fbe,
        0x243185be4ee4b28c,
        0x550c7dc3d5ffb4e2,
        0x72be5d74f27b896f,
        0x80deb1fe3b1696b1,
        0x9bdc06a725c71235,
        0xc19bf174cf692694,
        0xe49b69c19ef14ad2,
        0xefbe4786384f25e3,
        0x0fc19dc68b8cd5b5,
        0x240ca1cc77ac9c65,
        0x2de92c6f592b0275,
        0x4a7484aa6ea6e483,
        0x5cb0a9dcbd41fbd4,
        0x76f988da831153b5,
        0x983e5152ee66dfab,
        0xa831c66d2db43210,
        0xb00327c898fb213f,
        0xbf597fc7beef0ee4,
        0xc6e00bf33da88fc2,
        0xd5a79147930aa725,
        0x06ca6351e003826f,
        0x142929670a0e6e70,
        0x27b70a8546d22ffc,
        0x2e1b21385c26c926,
        0x4d2c6dfc5ac42aed,
        0x53380d139d95b3df,
        0x650a73548baf63de,
        0x766a0abb3c77b2a8,
        0x81c2c92e47edaee6,
        0x92722c851482353b,
        0xa2bfe8a14cf10364,
        0xa81a664bbc423001,
        0xc24b8b70d0f89791,
        0xc76c51a30654be30,
        0xd192e819d6ef5218,
        0xd69906245565a910,
        0xf40e35855771202a,
        0x106aa07032bbd1b8,
        0x19a4c116b8d2d0c8,
        0x1e376c085141ab53,
        0x2748774cdf8eeb99,
        0x34b0bcb5e19b48a8,
        0x391c0cb3c5c95a63,
        0x4ed8aa4ae3418acb,
        0x5b9cca4f7763e373,
        0x682e6ff3d6b2b8a3,
        0x748f82ee5defb2fc,
        0x78a5636f43172f60,
        0x84c87814a1f0ab72,
        0x8cc702081a6439ec,
        0x90befffa23631e28,
        0xa4506cebde82bde9,
        0xbef9a3f7b2c67915,
        0xc67178f2e372532b,
        0xca273eceea26619c,
        0xd186b8c721c0c207,
        0xeada7dd6cde0eb1e,
        0xf57d4f7fee6ed178,
        0x06f067aa72176fba,
        0x0a637dc5a2c898a6,
        0x113f9804bef90dae,
        0x1b710b35131c471b,
        0x28db77f523047d84,
        0x32caab7b40c72493,
        0x3c9ebe0a15c9bebc,
        0x431d67c49c100d4c,
        0x4cc5d4becb3e42b6,
        0x597f299cfc657e2a,
        0x5fcb6fab3ad6faec,
        0x6c44198c4a475817,
    ];
    let mut h: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    // Padding: 0x80, zeros to 112 mod 128, then the bit length in 128 bits.
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 128 != 112 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u128) * 8).to_be_bytes());
    for block in msg.chunks_exact(128) {
        let mut w = [0u64; 80];
        for (i, word) in block.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            w[i] = u64::from_be_bytes(b);
        }
        for t in 16..80 {
            let s0 = w[t - 15].rotate_right(1) ^ w[t - 15].rotate_right(8) ^ (w[t - 15] >> 7);
            let s1 = w[t - 2].rotate_right(19) ^ w[t - 2].rotate_right(61) ^ (w[t - 2] >> 6);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for t in 0..80 {
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[t])
                .wrapping_add(w[t]);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// One DER element, checked: the tag, its contents, the whole encoding
/// (tag and length included) and what follows it. Once built, every slice
/// is in bounds.
struct DerElement<'a> {
    tag: u8,
    whole: &'a [u8],
    contents: &'a [u8],
    rest: &'a [u8],
}

impl<'a> DerElement<'a> {
    /// The element at the start of `input`. Single-octet tags and definite
    /// lengths only, as DER requires; `None` when malformed or truncated.
    fn new_checked(input: &'a [u8]) -> Option<Self> {
        let (&tag, after_tag) = input.split_first()?;
        let (&first, mut after_len) = after_tag.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let octets = usize::from(first & 0x7f);
            if octets == 0 || octets > 4 || after_len.len() < octets {
                return None;
            }
            let (bytes, rest) = after_len.split_at(octets);
            after_len = rest;
            bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
        };
        if after_len.len() < len {
            return None;
        }
        let header = input.len() - after_len.len();
        let (contents, rest) = after_len.split_at(len);
        Some(Self {
            tag,
            whole: &input[..header + len],
            contents,
            rest,
        })
    }
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 §4.1):
/// the seventh field of tbsCertificate when the version is present, the
/// sixth otherwise.
fn spki(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const VERSION: u8 = 0xa0;
    let certificate = DerElement::new_checked(cert).filter(|e| e.tag == SEQUENCE)?;
    let tbs = DerElement::new_checked(certificate.contents).filter(|e| e.tag == SEQUENCE)?;
    let mut rest = tbs.contents;
    let first = DerElement::new_checked(rest)?;
    if first.tag == VERSION {
        rest = first.rest;
    }
    // serialNumber, signature, issuer, validity, subject, then the key.
    for _ in 0..5 {
        rest = DerElement::new_checked(rest)?.rest;
    }
    let key = DerElement::new_checked(rest).filter(|e| e.tag == SEQUENCE)?;
    Some(key.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn tlsa(usage: u8, selector: u8, matching: u8, data: &[u8]) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data: data.to_vec(),
        }
    }

    #[test]
    fn sha512_matches_the_fips_180_4_examples() {
        assert_eq!(
            hex(&sha512(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            hex(&sha512(b"")),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        let two_blocks = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        assert_eq!(
            hex(&sha512(two_blocks)),
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
             501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"
        );
    }

    #[test]
    fn sha256_comes_from_the_provider() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        assert_eq!(
            sha256(&provider, b"abc").map(|d| hex(&d)).as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    #[test]
    fn spki_is_found_in_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let der = cert.der().to_vec();
        assert_eq!(spki(&der), Some(key.public_key_der().as_slice()));
        // Truncated anywhere: no panic, no key.
        for n in 0..der.len() {
            assert_eq!(spki(&der[..n]), None, "truncated at {n}");
        }
    }

    #[test]
    fn records_match_by_selector_and_matching_type() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let der = cert.der().to_vec();
        let spki = key.public_key_der();
        let cases = [
            (tlsa(3, 0, 0, &der), true),
            (tlsa(3, 1, 0, &spki), true),
            (
                tlsa(3, 1, 1, &sha256(&provider, &spki).expect("sha256")),
                true,
            ),
            (
                tlsa(3, 0, 1, &sha256(&provider, &der).expect("sha256")),
                true,
            ),
            (tlsa(3, 1, 2, &sha512(&spki)), true),
            (tlsa(3, 0, 2, &sha512(&der)), true),
            (tlsa(3, 1, 1, &[0u8; 32]), false),
            (tlsa(3, 1, 2, &sha512(&der)), false),
            (
                tlsa(3, 2, 1, &sha256(&provider, &spki).expect("sha256")),
                false,
            ),
        ];
        for (record, expected) in cases {
            assert_eq!(matches(&provider, &record, &der), expected, "{record:?}");
        }
    }

    #[test]
    fn requirement_follows_rfc_7672() {
        let ee = tlsa(3, 1, 1, &[7u8; 32]);
        let pkix = tlsa(1, 1, 1, &[7u8; 32]);
        let short = tlsa(3, 1, 1, &[7u8; 31]);
        assert_eq!(
            requirement(Validated::Found {
                records: vec![pkix.clone(), ee.clone()],
                secure: true
            }),
            Requirement::Authenticate(vec![ee.clone()])
        );
        assert_eq!(
            requirement(Validated::Found {
                records: vec![pkix, short],
                secure: true
            }),
            Requirement::EncryptOnly
        );
        assert!(matches!(
            requirement(Validated::Found {
                records: vec![ee],
                secure: false
            }),
            Requirement::NotApplicable(_)
        ));
        assert!(matches!(
            requirement(Validated::Missing {
                nx: false,
                secure: true
            }),
            Requirement::NotApplicable(_)
        ));
    }

    #[test]
    fn dane_ee_accepts_the_matching_certificate_only() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let other = rcgen::KeyPair::generate().expect("key");
        let good = tlsa(
            3,
            1,
            1,
            &sha256(&provider, &key.public_key_der()).expect("sha256"),
        );
        let bad = tlsa(
            3,
            1,
            1,
            &sha256(&provider, &other.public_key_der()).expect("sha256"),
        );
        let name = ServerName::try_from("mx.example").expect("name");
        let ok = DaneVerifier::new(vec![good], "mx.example", "example");
        assert!(
            ok.verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now())
                .is_ok()
        );
        let refused = DaneVerifier::new(vec![bad], "mx.example", "example");
        assert!(
            refused
                .verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now())
                .is_err()
        );
        assert!(refused.failure().is_some());
    }

    #[test]
    fn dane_ta_checks_the_chain_and_the_name() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "DANE test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf");
        let ta = tlsa(
            2,
            1,
            1,
            &sha256(&provider, &ca_key.public_key_der()).expect("sha256"),
        );
        let name = ServerName::try_from("mx.example").expect("name");
        let chain = [ca.der().clone()];
        let right = DaneVerifier::new(vec![ta.clone()], "mx.example", "example");
        assert!(
            right
                .verify_server_cert(leaf.der(), &chain, &name, &[], UnixTime::now())
                .is_ok(),
            "{:?}",
            right.failure()
        );
        // Another MX host name: the certificate does not name it.
        let wrong = DaneVerifier::new(vec![ta.clone()], "mx2.other", "other");
        assert!(
            wrong
                .verify_server_cert(leaf.der(), &chain, &name, &[], UnixTime::now())
                .is_err()
        );
        // The TA certificate must be in the chain.
        let missing = DaneVerifier::new(vec![ta], "mx.example", "example");
        assert!(
            missing
                .verify_server_cert(leaf.der(), &[], &name, &[], UnixTime::now())
                .is_err()
        );
    }
}
