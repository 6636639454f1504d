//! TLS versions and cipher preferences for the SMTP legs (`sslconfig`).
//!
//! AsyncOS's `sslconfig` keeps, per leg (inbound SMTP on the listeners,
//! outbound SMTP in delivery), the TLS methods offered and an
//! OpenSSL-style cipher string; the seeds recommend one for both legs.
//! rustls offers TLS 1.2 and 1.3 and a short list of AEAD suites, so the
//! string is read against that list (see `sslconfig` in docs/cli.md for
//! what it can and cannot express). Version 6 of the stored config added
//! these settings as a field at its end (see `store`).

use serde::{Deserialize, Serialize};

/// `sslconfig`: one policy per SMTP leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SslConfig {
    /// TLS the listeners accept (STARTTLS on Data 1 and Data 2).
    pub inbound: SslPolicy,
    /// TLS delivery offers to next hops and to the Threat Defense intake.
    pub outbound: SslPolicy,
}

/// The TLS methods and cipher string of one leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SslPolicy {
    /// TLS 1.2 offered.
    pub tls_1_2: bool,
    /// TLS 1.3 offered.
    pub tls_1_3: bool,
    /// An OpenSSL-style cipher string, as the administrator typed it.
    pub ciphers: String,
}

/// The factory string: OpenSSL's `DEFAULT` keyword, every suite rustls
/// offers, strongest first.
pub const DEFAULT_CIPHERS: &str = "DEFAULT";

impl Default for SslPolicy {
    fn default() -> Self {
        Self {
            tls_1_2: true,
            tls_1_3: true,
            ciphers: DEFAULT_CIPHERS.to_string(),
        }
    }
}
