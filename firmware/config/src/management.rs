//! The management plane's settings (`adminaccessconfig`, `sshconfig`):
//! which of HTTPS (web UI and REST API), the HTTP redirect and SSH listen
//! on the Management interface, on which ports, with which certificate,
//! and the SSH public keys of the console's users. The management plane
//! never listens on Data 1 or Data 2 (docs/security.md).

use serde::{Deserialize, Serialize};

/// AsyncOS logs an idle web session out after 30 minutes.
pub const DEFAULT_WEB_TIMEOUT_SECS: u32 = 30 * 60;

/// Version 5 of the stored config appended this as `Config::management`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagementAccess {
    /// The web UI and the REST API (`/api/v1`) over HTTPS.
    pub https_enabled: bool,
    pub https_port: u16,
    /// Plain HTTP, answered only with a redirect to HTTPS.
    pub http_redirect: bool,
    pub http_port: u16,
    /// The CLI over SSH.
    pub ssh_enabled: bool,
    pub ssh_port: u16,
    /// The REST API under `/api/v1` on the HTTPS port.
    pub api_enabled: bool,
    /// An idle web session ends after this long.
    pub web_timeout_secs: u32,
    /// The certificate (by its `certconfig` name) HTTPS presents; empty:
    /// the first certificate, the factory "Demo".
    pub certificate: String,
    /// `sshconfig` public keys, each an OpenSSH `authorized_keys` line
    /// bound to a console user.
    pub ssh_keys: Vec<SshUserKey>,
}

impl Default for ManagementAccess {
    fn default() -> Self {
        Self {
            https_enabled: true,
            https_port: 443,
            http_redirect: true,
            http_port: 80,
            ssh_enabled: true,
            ssh_port: 22,
            api_enabled: true,
            web_timeout_secs: DEFAULT_WEB_TIMEOUT_SECS,
            certificate: String::new(),
            ssh_keys: Vec::new(),
        }
    }
}

/// One `sshconfig` key: whose, and the key as `ssh-ed25519 AAAA... comment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshUserKey {
    pub user: String,
    pub key: String,
}
