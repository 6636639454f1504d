//! The rustls side of `sslconfig`: for one SMTP leg, a crypto provider
//! (aws-lc-rs) that carries exactly the leg's suites, in the leg's order,
//! and the protocol versions that are on. The listeners' acceptors and
//! delivery's connectors (next hops, DANE, the Threat Defense intake) are
//! built from it, so a commit changes both on the next connection.
//!
//! The order matters when Breakwater is the client (it is the order
//! offered); as a server rustls follows the client's preference among the
//! suites allowed, as OpenSSL does by default.

use std::sync::Arc;

use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{self, cipher_suite};

use crate::config::ssl::{SslPolicy, SslPolicyError, Tls12Suite};

/// What a rustls config builder needs for one leg.
#[derive(Debug, Clone)]
pub struct LegTls {
    pub provider: Arc<CryptoProvider>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

impl LegTls {
    /// The leg's provider and versions. An unusable policy (only a config
    /// stored by earlier firmware can hold one: `validate` refuses it) is
    /// an error; the caller reports it and uses [`LegTls::factory`].
    pub fn new(policy: &SslPolicy) -> Result<Self, SslPolicyError> {
        let tls12 = policy.tls12_suites()?;
        let mut suites = Vec::new();
        let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
        if policy.tls_1_3 {
            // OpenSSL's default `Ciphersuites` order; the cipher string
            // does not choose these (see `breakwater_config::ssl`).
            suites.extend([
                cipher_suite::TLS13_AES_256_GCM_SHA384,
                cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
                cipher_suite::TLS13_AES_128_GCM_SHA256,
            ]);
            versions.push(&rustls::version::TLS13);
        }
        if policy.tls_1_2 {
            suites.extend(tls12.into_iter().map(rustls_suite));
            versions.push(&rustls::version::TLS12);
        }
        Ok(Self {
            provider: Arc::new(CryptoProvider {
                cipher_suites: suites,
                ..aws_lc_rs::default_provider()
            }),
            versions,
        })
    }

    /// The factory policy (TLS 1.2 and 1.3, `DEFAULT`).
    pub fn factory() -> Self {
        let versions: Vec<&'static SupportedProtocolVersion> =
            vec![&rustls::version::TLS13, &rustls::version::TLS12];
        Self {
            provider: Arc::new(aws_lc_rs::default_provider()),
            versions,
        }
    }

    /// `new`, or the factory policy and the problem to report.
    pub fn or_factory(policy: &SslPolicy) -> (Self, Option<SslPolicyError>) {
        match Self::new(policy) {
            Ok(t) => (t, None),
            Err(e) => (Self::factory(), Some(e)),
        }
    }
}

/// Each suite `sslconfig` can select is one aws-lc-rs implements.
fn rustls_suite(s: Tls12Suite) -> rustls::SupportedCipherSuite {
    match s {
        Tls12Suite::EcdheEcdsaAes256GcmSha384 => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        }
        Tls12Suite::EcdheRsaAes256GcmSha384 => cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        Tls12Suite::EcdheEcdsaChacha20Poly1305 => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        Tls12Suite::EcdheRsaChacha20Poly1305 => {
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        Tls12Suite::EcdheEcdsaAes128GcmSha256 => {
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        }
        Tls12Suite::EcdheRsaAes128GcmSha256 => cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls_names::openssl_name;

    const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

    #[test]
    fn every_selectable_suite_has_the_name_the_evaluator_gave_it() {
        for s in Tls12Suite::ALL {
            assert_eq!(openssl_name(rustls_suite(s).suite()), s.openssl_name());
        }
        // The factory string selects every TLS 1.2 suite aws-lc-rs offers.
        let default = LegTls::new(&SslPolicy::default()).unwrap();
        assert_eq!(
            default.provider.cipher_suites.len(),
            aws_lc_rs::default_provider().cipher_suites.len()
        );
    }

    #[test]
    fn the_seed_policy_keeps_rsa_suites_in_order_and_both_versions() {
        let policy = SslPolicy {
            ciphers: SEED.into(),
            ..SslPolicy::default()
        };
        let leg = LegTls::new(&policy).unwrap();
        let names: Vec<String> = leg
            .provider
            .cipher_suites
            .iter()
            .map(|s| openssl_name(s.suite()))
            .collect();
        assert_eq!(
            names,
            [
                "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_AES_128_GCM_SHA256",
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-RSA-CHACHA20-POLY1305",
                "ECDHE-RSA-AES128-GCM-SHA256"
            ]
        );
        assert_eq!(leg.versions.len(), 2);
        let only12 = SslPolicy {
            tls_1_3: false,
            ..policy
        };
        let leg = LegTls::new(&only12).unwrap();
        assert_eq!(leg.provider.cipher_suites.len(), 3);
        assert_eq!(leg.versions, vec![&rustls::version::TLS12]);
    }

    #[test]
    fn an_unusable_stored_policy_falls_back_to_the_factory_one() {
        let bad = SslPolicy {
            ciphers: "!ALL".into(),
            ..SslPolicy::default()
        };
        let (leg, problem) = LegTls::or_factory(&bad);
        assert!(problem.is_some());
        assert_eq!(leg.versions.len(), 2);
    }

    /// A client offering `suites` over `versions` against a listener with
    /// the factory demo certificate and the seed's inbound policy: the
    /// negotiated suite's OpenSSL name, or the handshake error.
    fn handshake(
        suites: Vec<rustls::SupportedCipherSuite>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Result<String, rustls::Error> {
        use rustls::pki_types::ServerName;
        let demo = crate::config::factory::demo_certificate("esa1.example.com").unwrap();
        let policy = SslPolicy {
            ciphers: SEED.into(),
            ..SslPolicy::default()
        };
        let leg = LegTls::new(&policy).unwrap();
        let chain: Vec<_> =
            rustls_pki_types::pem::PemObject::pem_slice_iter(demo.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key =
            rustls_pki_types::pem::PemObject::from_pem_slice(demo.key_pem.as_bytes()).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(leg.provider.clone())
            .with_protocol_versions(&leg.versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let provider = Arc::new(CryptoProvider {
            cipher_suites: suites,
            ..aws_lc_rs::default_provider()
        });
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls_pki_types::pem::PemObject::pem_slice_iter(demo.cert_pem.as_bytes()) {
            roots.add(der.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut c = rustls::ClientConnection::new(
            Arc::new(client),
            ServerName::try_from("esa1.example.com").unwrap(),
        )
        .unwrap();
        let mut s = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        while c.is_handshaking() || s.is_handshaking() {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()?;
            let mut buf = Vec::new();
            s.write_tls(&mut buf).unwrap();
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets()?;
        }
        Ok(openssl_name(c.negotiated_cipher_suite().unwrap().suite()))
    }

    #[test]
    fn the_rsa_demo_certificate_negotiates_the_seeds_ecdhe_rsa_suite() {
        let all = aws_lc_rs::default_provider().cipher_suites;
        assert_eq!(
            handshake(all.clone(), &[&rustls::version::TLS12]).unwrap(),
            "ECDHE-RSA-AES256-GCM-SHA384"
        );
        assert_eq!(
            handshake(
                all.clone(),
                &[&rustls::version::TLS13, &rustls::version::TLS12]
            )
            .unwrap(),
            "TLS_AES_256_GCM_SHA384"
        );
        // A TLS 1.2 client that offers only ECDSA suites finds none in common.
        let ecdsa_only: Vec<_> = all
            .into_iter()
            .filter(|s| openssl_name(s.suite()).starts_with("ECDHE-ECDSA-"))
            .collect();
        assert!(handshake(ecdsa_only, &[&rustls::version::TLS12]).is_err());
    }
}
