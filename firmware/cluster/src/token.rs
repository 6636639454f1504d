//! The join token `clusterconfig token` prints and `clusterconfig join`
//! reads: what a new member needs to reach the cluster's etcd.

use serde::{Deserialize, Serialize};

use crate::{ClusterError, valid_name};

/// The join token `clusterconfig token` prints: base64url (no padding)
/// of `{"cluster", "endpoints", "ca_pem"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinToken {
    pub cluster: String,
    pub endpoints: Vec<String>,
    pub ca_pem: String,
}

/// The longest join token accepted: a CA certificate chain of a few
/// certificates and a handful of endpoints fit with room to spare; a
/// pasted token is text an administrator brought from elsewhere.
pub const MAX_JOIN_TOKEN_CHARS: usize = 32 * 1024;
/// The most etcd endpoints a token (or `clusterconfig create --etcd`)
/// names: etcd clusters have 3, 5 or 7 members.
pub const MAX_ENDPOINTS: usize = 16;

/// Why a pasted join token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinTokenError {
    #[error("the join token is longer than {MAX_JOIN_TOKEN_CHARS} characters")]
    TooLong,
    #[error("this is not a join token (clusterconfig token prints one)")]
    Malformed,
    #[error("the join token names an invalid cluster name")]
    BadName,
    #[error("the join token must name 1 to {MAX_ENDPOINTS} https:// etcd endpoints")]
    BadEndpoints,
    #[error("the join token carries no CA certificate")]
    NoCa,
}

impl JoinToken {
    /// The one line `clusterconfig token` prints.
    pub fn encode(&self) -> Result<String, ClusterError> {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).map_err(|e| ClusterError::Settings(e.to_string()))?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a pasted token, refusing what `encode` never writes: the
    /// name becomes part of etcd keys, the endpoints are dialled and the
    /// CA trusted, so each is checked here, before any of that.
    pub fn decode(text: &str) -> Result<Self, JoinTokenError> {
        use base64::Engine as _;
        let text = text.trim();
        if text.len() > MAX_JOIN_TOKEN_CHARS {
            return Err(JoinTokenError::TooLong);
        }
        let token: Self = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JoinTokenError::Malformed)?;
        if !valid_name(&token.cluster) {
            return Err(JoinTokenError::BadName);
        }
        if token.endpoints.is_empty()
            || token.endpoints.len() > MAX_ENDPOINTS
            || token.endpoints.iter().any(|e| !valid_endpoint(e))
        {
            return Err(JoinTokenError::BadEndpoints);
        }
        if !token.ca_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(JoinTokenError::NoCa);
        }
        Ok(token)
    }
}

/// `https://HOST:PORT` with a host of letters, digits, `.`, `-`, `:` or
/// brackets (IPv6) and nothing after the port.
pub fn valid_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}
