//! Server-side TLS for STARTTLS: rustls acceptors built from the
//! certificates in the committed configuration, with the versions and
//! suites of `sslconfig inbound` (`crate::tls_policy`).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Certificate;
use crate::tls_policy::LegTls;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate '{name}': {reason}")]
    Certificate { name: String, reason: String },
}

/// Builds one acceptor per configured certificate, by name, for the
/// inbound leg `leg`.
pub fn acceptors(
    certs: &[Certificate],
    leg: &LegTls,
) -> (HashMap<String, TlsAcceptor>, Vec<TlsError>) {
    let mut map = HashMap::new();
    let mut errors = Vec::new();
    for c in certs {
        match acceptor_for(c, leg) {
            Ok(a) => {
                map.insert(c.name.clone(), a);
            }
            Err(e) => errors.push(e),
        }
    }
    (map, errors)
}

/// An acceptor with the factory TLS settings: management HTTPS (not an
/// SMTP leg) and `certconfig import`'s check that a pair is usable.
pub fn acceptor(c: &Certificate) -> Result<TlsAcceptor, TlsError> {
    acceptor_for(c, &LegTls::factory())
}

pub fn acceptor_for(c: &Certificate, leg: &LegTls) -> Result<TlsAcceptor, TlsError> {
    let err = |reason: String| TlsError::Certificate {
        name: c.name.clone(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("bad certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(err("no certificate in PEM".to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())
        .map_err(|e| err(format!("bad private key PEM: {e}")))?;
    let config = ServerConfig::builder_with_provider(leg.provider.clone())
        .with_protocol_versions(&leg.versions)
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
