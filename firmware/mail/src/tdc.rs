//! Threat Defense Connector (TDC): a copy of every message an incoming mail
//! policy selects goes to Cisco Secure Email Threat Defense's Message
//! Intake Address, through the dedicated delivery queue `the.tdc.queue`.
//!
//! The copy is an independent message (its own MID and DCIDs): the message
//! as received plus the original client IP in `X-IronPort-RemoteIP`. It
//! never delays, alters or bounces the real message and never causes a DSN.
//! Its retries follow the seed's table (see [`retry_rule`]) and it leaves
//! the queue after `max_age_secs` (120 s) whatever happens.

use std::net::IpAddr;

use crate::config::policy::ThreatDefense;

/// Connections kept open while the queue has entries.
pub const MIN_CONNECTIONS: u32 = 3;
// The settings and names the configuration holds live with it.
pub use crate::config::services::{
    TDC_DEFAULT_HEADER as DEFAULT_HEADER, TDC_DESTINATION as DESTINATION, ThreatDefenseConfig,
};

/// The intake address a message gets a copy sent to, if any. `policy` is
/// the setting in force (`MailPolicyTable::threat_defense` has resolved
/// `UseDefault`); an unresolved `UseDefault` sends nothing, as DEFAULT
/// itself can never hold it (`Config::validate`).
pub fn intake_for(global: &ThreatDefenseConfig, policy: &ThreatDefense) -> Option<String> {
    if !global.enabled {
        return None;
    }
    match policy {
        ThreatDefense::Global => global.intake_address.clone(),
        ThreatDefense::Custom(address) => Some(address.clone()),
        ThreatDefense::No | ThreatDefense::UseDefault => None,
    }
}

/// The copy: the client IP header, then the message exactly as received
/// (the gateway's own Received: header included, as on the appliance).
pub fn copy_body(original: &[u8], client_ip: IpAddr, header_name: &str) -> Vec<u8> {
    let header = format!("{header_name}: {client_ip}\r\n");
    let mut out = Vec::with_capacity(header.len() + original.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(original);
    out
}

/// Whether a failed attempt is retried (the seed's retry table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryRule {
    NoRetry,
    RetryOnce,
}

/// What kind of failure an attempt had, as the retry table tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// An SMTP reply with this code.
    Reply(u16),
    Tls,
    /// Network, connection or DNS trouble.
    Network,
}

/// The seed's table: 5xx except 503/552 → no retry; 4xx and 503/552 →
/// retry once; TLS error → no retry; network, connection, DNS → once.
pub fn retry_rule(kind: FailureKind) -> RetryRule {
    match kind {
        FailureKind::Reply(503 | 552) => RetryRule::RetryOnce,
        FailureKind::Reply(code) if (500..600).contains(&code) => RetryRule::NoRetry,
        FailureKind::Reply(_) => RetryRule::RetryOnce,
        FailureKind::Tls => RetryRule::NoRetry,
        FailureKind::Network => RetryRule::RetryOnce,
    }
}

/// Reads the failure kind back from a delivery outcome's text (a reply
/// such as `552 5.3.4 ...`, or the delivery engine's TLS and connection
/// messages).
pub fn failure_kind(text: &str) -> FailureKind {
    let code = text
        .get(..3)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (200..600).contains(c));
    match code {
        Some(c) => FailureKind::Reply(c),
        // A hard DNS answer ("5.1.2 - Bad destination host", null MX).
        None if text.starts_with("5.") => FailureKind::Reply(550),
        None if text.contains("TLS") => FailureKind::Tls,
        None => FailureKind::Network,
    }
}

/// The words the TDC log uses for a failure.
pub fn failure_words(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Tls => "TLS error",
        FailureKind::Reply(c) if c >= 500 => "Hard Bounced",
        FailureKind::Reply(_) => "Soft Bounced",
        FailureKind::Network => "Connection error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_retry_table() {
        let cases = [
            ("550 5.1.1 user unknown", RetryRule::NoRetry),
            ("554 5.7.1 rejected", RetryRule::NoRetry),
            ("503 5.5.1 bad sequence", RetryRule::RetryOnce),
            ("552 5.3.4 too big", RetryRule::RetryOnce),
            ("451 4.3.0 try later", RetryRule::RetryOnce),
            ("421 4.7.0 busy", RetryRule::RetryOnce),
            ("TLS error: received fatal alert", RetryRule::NoRetry),
            (
                "TLS required but not offered by 127.0.0.1:25",
                RetryRule::NoRetry,
            ),
            ("unable to connect to any next hop", RetryRule::RetryOnce),
            ("DNS temporary failure: timed out", RetryRule::RetryOnce),
            ("5.1.2 - Bad destination host", RetryRule::NoRetry),
            // Seed 004's own example: NXDOMAIN hard-bounces at once; a
            // SERVFAIL or timeout is the DNS error that gets the retry.
            (
                "5.1.2 - Bad destination host ('000', ['DNS Hard Error looking up esa.example.com (MX):  NXDomain'])",
                RetryRule::NoRetry,
            ),
            (
                "DNS temporary failure: no connections available",
                RetryRule::RetryOnce,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(retry_rule(failure_kind(text)), want, "{text}");
        }
    }

    #[test]
    fn policies_choose_the_intake_address() {
        let mut g = ThreatDefenseConfig::default();
        let custom = ThreatDefense::Custom("other@intake.example".into());
        assert_eq!(
            intake_for(&g, &ThreatDefense::Global),
            None,
            "disabled globally"
        );
        g.enabled = true;
        g.intake_address = Some("global@intake.example".into());
        assert_eq!(
            intake_for(&g, &ThreatDefense::Global).as_deref(),
            Some("global@intake.example")
        );
        assert_eq!(
            intake_for(&g, &custom).as_deref(),
            Some("other@intake.example")
        );
        assert_eq!(intake_for(&g, &ThreatDefense::No), None);
    }

    #[test]
    fn the_copy_is_the_message_plus_the_client_ip_header() {
        let original = b"Subject: x\r\n\r\nbody\r\n";
        let copy = copy_body(original, "198.51.100.7".parse().unwrap(), DEFAULT_HEADER);
        assert_eq!(
            copy,
            b"X-IronPort-RemoteIP: 198.51.100.7\r\nSubject: x\r\n\r\nbody\r\n"
        );
    }
}
