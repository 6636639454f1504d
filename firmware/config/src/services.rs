//! Settings of services outside the mail path that the configuration
//! stores: log rotation and the Threat Defense Connector. They live here,
//! not with the code that uses them (`logging`, `tdc`), so the
//! configuration names nothing above it; those modules re-export them.

use super::values::HostName;

/// Rotation limits for one log (a named setting; AsyncOS-like defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogSettings {
    /// `<prefix>.current` is rotated before a line would take it past this.
    pub max_file_bytes: u64,
    /// Rotated files kept; older ones are deleted.
    pub max_files: u32,
}

impl Default for LogSettings {
    /// 10 MiB per file and 10 rotated files: at most 110 MiB per log.
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 10,
        }
    }
}

/// The delivery queue TDC copies travel through (what `tophosts` shows).
pub const TDC_DESTINATION: &str = "the.tdc.queue";
/// The header Threat Defense reads the original client IP from.
pub const TDC_DEFAULT_HEADER: &str = "X-IronPort-RemoteIP";

/// Global settings (`threatdefenseconfig`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThreatDefenseConfig {
    pub enabled: bool,
    /// The global Message Intake Address.
    pub intake_address: Option<String>,
    /// "Use Custom SEG header": the header that carries the client IP.
    pub header_name: String,
    /// A copy leaves the queue after this long, delivered or not.
    pub max_age_secs: u32,
}

impl Default for ThreatDefenseConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            intake_address: None,
            header_name: TDC_DEFAULT_HEADER.to_string(),
            max_age_secs: 120,
        }
    }
}

impl ThreatDefenseConfig {
    /// Whether `name` can be the client IP header's name: printable ASCII
    /// without `:` (no line break can end the header early), at most 76
    /// characters so the header fits one line.
    pub fn valid_header_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 76
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    }

    /// Whether `address` can be a Message Intake Address: `local@domain.tld`.
    pub fn valid_intake_address(address: &str) -> bool {
        address.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !local.contains(char::is_whitespace)
                && domain.contains('.')
                && HostName::parse(domain).is_ok()
        })
    }
}
