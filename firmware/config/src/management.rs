//! The management plane's settings (`adminaccessconfig`, `sshconfig`):
//! which of HTTPS (web UI and REST API), the HTTP redirect and SSH listen
//! on the Management interface, on which ports, with which certificate,
//! and the SSH public keys of the console's users. The management plane
//! never listens on Data 1 or Data 2 (docs/security.md).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::{Deserialize, Serialize};

/// AsyncOS logs an idle web session out after 30 minutes.
pub const DEFAULT_WEB_TIMEOUT_SECS: u32 = 30 * 60;
/// AsyncOS's "Web UI inactivity timeout" is 5 to 1440 minutes.
pub const MIN_WEB_TIMEOUT_SECS: u32 = 5 * 60;
pub const MAX_WEB_TIMEOUT_SECS: u32 = 24 * 60 * 60;
/// An `authorized_keys` line: an RSA 16384-bit key is about 2.8 KiB, so
/// 16 KiB holds any real key with a long comment.
pub const MAX_SSH_KEY_LEN: usize = 16 * 1024;
/// Keys per user (`sshconfig new` refuses the next one).
pub const MAX_SSH_KEYS_PER_USER: usize = 32;
/// The key types OpenSSH's `ssh-keygen` makes today (DSA is gone from
/// OpenSSH and is refused).
pub const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

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

/// Why a line is not an OpenSSH public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    #[error("the key line is longer than {MAX_SSH_KEY_LEN} bytes")]
    TooLong,
    #[error("the key line holds a control character (one key per line)")]
    Control,
    #[error(
        "not an OpenSSH public key: expected TYPE BASE64 [COMMENT], e.g. ssh-ed25519 AAAA... user@host (options before the type are not supported)"
    )]
    Shape,
    #[error(
        "unsupported key type '{0}' (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)"
    )]
    Type(String),
    #[error("the key data is not valid base64")]
    Base64,
    #[error("the key data does not hold a {0} key")]
    Mismatch(String),
}

/// A parsed `authorized_keys` line: `TYPE BASE64 [COMMENT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    /// `ssh-ed25519`, `ssh-rsa`, ...
    pub kind: String,
    /// The decoded key blob (the SSH wire form the client offers).
    pub blob: Vec<u8>,
    /// Everything after the key data, often `user@host`; may be empty.
    pub comment: String,
}

impl SshPublicKey {
    /// Parses one line as `ssh-keygen` writes it in `id_*.pub`. The blob's
    /// first string must name the same type as the line: a pasted key cut
    /// short or a type edited by hand is refused here, not at login.
    pub fn parse(line: &str) -> Result<Self, SshKeyError> {
        if line.len() > MAX_SSH_KEY_LEN {
            return Err(SshKeyError::TooLong);
        }
        // Tab is the one control character `authorized_keys` allows
        // (between fields); anything else is a second line or an escape.
        let line = line.trim();
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(SshKeyError::Control);
        }
        let mut parts = line.splitn(3, [' ', '\t']);
        let (Some(kind), Some(data)) = (parts.next(), parts.next()) else {
            return Err(SshKeyError::Shape);
        };
        let comment = parts.next().unwrap_or_default().trim().to_string();
        if data.is_empty() {
            return Err(SshKeyError::Shape);
        }
        if !SSH_KEY_TYPES.contains(&kind) {
            return Err(if kind.contains('=') || kind.contains(',') {
                SshKeyError::Shape
            } else {
                SshKeyError::Type(kind.to_string())
            });
        }
        let blob = STANDARD.decode(data).map_err(|_| SshKeyError::Base64)?;
        if first_string(&blob) != Some(kind.as_bytes()) {
            return Err(SshKeyError::Mismatch(kind.to_string()));
        }
        Ok(Self {
            kind: kind.to_string(),
            blob,
            comment,
        })
    }

    /// The fingerprint as OpenSSH prints it (`ssh-keygen -l`, the sshd
    /// log): `SHA256:` and the unpadded base64 of the SHA-256 of the blob.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.blob);
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest.as_ref()))
    }
}

/// The blob's first SSH `string`: a 4-byte big-endian length and the bytes.
fn first_string(blob: &[u8]) -> Option<&[u8]> {
    let (len, rest) = blob.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    rest.get(..len)
}

/// A console user name as the user store keeps it (`userconfig`): 1-32
/// lower-case letters, digits, `_`, `.` or `-`, starting with a letter.
/// The configuration cannot see the user store, so an `sshconfig` key may
/// name a user that does not exist (yet): it serves no login until the
/// user does.
pub fn valid_user_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -t ed25519 -C alice@laptop`; its fingerprint as
    /// `ssh-keygen -l` printed it.
    pub(crate) const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILkZr0pw/Ux9QDZjEMt4KrgqnxK8frHuzFs/vbGqcvoa alice@laptop";

    #[test]
    fn openssh_lines_parse_and_fingerprint_as_ssh_keygen_prints_them() {
        let k = SshPublicKey::parse(ED25519).unwrap();
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(k.comment, "alice@laptop");
        assert_eq!(k.blob.len(), 51);
        assert_eq!(k.fingerprint(), FINGERPRINT);
        // Without a comment, with a tab and surrounding blanks.
        let bare = ED25519
            .trim_end_matches(" alice@laptop")
            .replacen(' ', "\t", 1);
        let k = SshPublicKey::parse(&format!("  {bare} \n")).unwrap();
        assert_eq!(
            (k.comment.as_str(), k.fingerprint()),
            ("", FINGERPRINT.to_string())
        );
    }

    pub(crate) const FINGERPRINT: &str = "SHA256:mKphZtudUK6wEUz9ZCwOqSbjbbwoRtJZIyPSQtTcbmE";

    #[test]
    fn broken_lines_are_refused_for_what_is_wrong() {
        let data = ED25519.split(' ').nth(1).unwrap();
        let cases = [
            (String::new(), SshKeyError::Shape),
            ("ssh-ed25519".to_string(), SshKeyError::Shape),
            (
                format!("from=\"10.0.0.1\" ssh-ed25519 {data}"),
                SshKeyError::Shape,
            ),
            (
                format!("ssh-dss {data}"),
                SshKeyError::Type("ssh-dss".into()),
            ),
            ("ssh-ed25519 not!base64".to_string(), SshKeyError::Base64),
            // The blob says ed25519: the line's type must agree.
            (
                format!("ssh-rsa {data}"),
                SshKeyError::Mismatch("ssh-rsa".into()),
            ),
            // Cut short when pasted.
            (
                format!("ssh-ed25519 {}", &data[..12]),
                SshKeyError::Mismatch("ssh-ed25519".into()),
            ),
            (
                format!("{ED25519}\nssh-ed25519 {data}"),
                SshKeyError::Control,
            ),
            (
                format!("ssh-ed25519 {data} {}", "x".repeat(MAX_SSH_KEY_LEN)),
                SshKeyError::TooLong,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(SshPublicKey::parse(&line), Err(want), "{line:.60}");
        }
    }

    #[test]
    fn user_names_are_the_user_stores_shape() {
        for ok in ["admin", "bob.smith", "o-1_x"] {
            assert!(valid_user_name(ok), "{ok}");
        }
        for bad in ["", "Admin", "1bob", "bob smith", &"a".repeat(33)] {
            assert!(!valid_user_name(bad), "{bad}");
        }
    }
}
