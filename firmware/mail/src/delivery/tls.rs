//! Client-side TLS for delivery, per destination control:
//! - opportunistic (Preferred, Required): encrypt, do not verify the peer's
//!   certificate — what opportunistic TLS means (RFC 7435);
//! - verifying (Preferred/Required (Verify)): the chain must lead to a
//!   trusted root (Mozilla's roots plus the administrator's CA
//!   certificates) and name the host we connected to.
//!
//! Both use the versions and suites of `sslconfig outbound`
//! (`crate::tls_policy`), for next hops and the Threat Defense intake
//! alike, and may present the destination's client certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use crate::config::Config;
use crate::tls_policy::LegTls;

#[derive(Debug)]
struct Opportunistic(Arc<CryptoProvider>);

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // Signatures are still checked: the handshake must be genuine even if
    // the certificate is not trusted.
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a connector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate '{0}' is not in the certificate list")]
    NoSuchCertificate(String),
    #[error("client certificate '{0}': {1}")]
    BadCertificate(String, String),
}

/// Connectors by (verify, client certificate), rebuilt when the config
/// changes (the CA list, a certificate or `sslconfig outbound` may have
/// changed).
#[derive(Default)]
pub struct Connectors {
    cache: Mutex<HashMap<(bool, Option<String>), TlsConnector>>,
}

impl Connectors {
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn get(
        &self,
        config: &Config,
        verify: bool,
        client_cert: Option<&str>,
    ) -> Result<TlsConnector, TlsSetupError> {
        let key = (verify, client_cert.map(str::to_string));
        if let Some(c) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(c.clone());
        }
        let leg = outbound_leg(config);
        let builder = ClientConfig::builder_with_provider(leg.provider.clone())
            .with_protocol_versions(&leg.versions)?;
        let builder = if verify {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for ca in &config.ca_certificates {
                for der in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()).flatten() {
                    // A bad administrator CA is skipped; the rest still work.
                    let _ = roots.add(der);
                }
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Opportunistic(leg.provider.clone())))
        };
        let config_tls = match client_cert {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let cert = config
                    .certificate(name)
                    .ok_or_else(|| TlsSetupError::NoSuchCertificate(name.to_string()))?;
                let bad = |e: String| TlsSetupError::BadCertificate(name.to_string(), e);
                let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
                    .map_err(|e| bad(e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| bad(e.to_string()))?
            }
        };
        let connector = TlsConnector::from(Arc::new(config_tls));
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, connector.clone());
        Ok(connector)
    }
}

/// `sslconfig outbound` as rustls takes it; a stored policy that no longer
/// validates (earlier firmware) is logged and the factory one used.
pub(super) fn outbound_leg(config: &Config) -> LegTls {
    let (leg, problem) = LegTls::or_factory(&config.ssl.outbound);
    if let Some(e) = problem {
        tracing::warn!("sslconfig outbound: {e}; the factory TLS settings are used");
    }
    leg
}
