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
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
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

/// The verifier's signature algorithms and WebPKI checks (the suites of
/// the connection come from `sslconfig outbound`, in `connector`).
static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));

/// A connector whose only certificate check is `verifier`, presenting the
/// destination's client certificate when one is configured.
pub fn connector(
    config: &Config,
    verifier: Arc<DaneVerifier>,
    client_cert: Option<&str>,
) -> Result<TlsConnector, String> {
    // The versions and suites of `sslconfig outbound`, as for every other
    // delivery connection.
    let leg = super::tls::outbound_leg(config);
    let builder = ClientConfig::builder_with_provider(leg.provider.clone())
        .with_protocol_versions(&leg.versions)
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
            .find(|r| matches(r, cert))
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
fn matches(record: &Tlsa, cert: &[u8]) -> bool {
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
        MATCH_SHA256 => sha256(selected) == record.data,
        MATCH_SHA512 => sha512(selected).as_slice() == record.data.as_slice(),
        _ => false,
    }
}

/// SHA-256 and SHA-512 for TLSA matching types 1 and 2, from aws-lc-rs
/// (the crypto library rustls already uses here).
fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn sha512(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, data)
        .as_ref()
        .to_vec()
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
    fn sha256_matches_the_fips_180_4_example() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
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
            (tlsa(3, 1, 1, &sha256(&spki)), true),
            (tlsa(3, 0, 1, &sha256(&der)), true),
            (tlsa(3, 1, 2, &sha512(&spki)), true),
            (tlsa(3, 0, 2, &sha512(&der)), true),
            (tlsa(3, 1, 1, &[0u8; 32]), false),
            (tlsa(3, 1, 2, &sha512(&der)), false),
            (tlsa(3, 2, 1, &sha256(&spki)), false),
        ];
        for (record, expected) in cases {
            assert_eq!(matches(&record, &der), expected, "{record:?}");
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
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let other = rcgen::KeyPair::generate().expect("key");
        let good = tlsa(3, 1, 1, &sha256(&key.public_key_der()));
        let bad = tlsa(3, 1, 1, &sha256(&other.public_key_der()));
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
        let ta = tlsa(2, 1, 1, &sha256(&ca_key.public_key_der()));
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
