//! `ntpconfig`: the NTP servers the appliance sets its clock from.
//!
//! AsyncOS ships with NTP on and `time.sco.cisco.com` as its server.
//! Breakwater ships with NTP off and no server (see
//! `docs/decisions/0015-ntp-client.md`): a gateway commissioned on an
//! isolated network would otherwise query a public pool name it cannot
//! resolve forever, and a site usually has its own time servers (domain
//! controllers); `systemsetup` and `ntpconfig` name them. Version 7 of the
//! stored config added these settings as one field at its end (`store`).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::values::HostName;

/// NTP's port.
pub const NTP_PORT: u16 = 123;

/// How many servers may be configured (AsyncOS takes a short list; four
/// is what RFC 8633 recommends for a client to outvote one falseticker).
pub const MAX_NTP_SERVERS: usize = 8;

/// The factory poll interval: 1024 s (2^10, ntpd's and chrony's maxpoll
/// default).
pub const DEFAULT_POLL_SECS: u32 = 1024;
/// Shortest poll interval accepted: 64 s (RFC 5905's MINPOLL is 16 s,
/// but public servers rate-limit below 64 s).
pub const MIN_POLL_SECS: u32 = 64;
/// Longest poll interval accepted: 36 hours (RFC 5905's MAXPOLL).
pub const MAX_POLL_SECS: u32 = 131_072;

/// `ntpconfig`'s settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NtpSettings {
    /// Whether the appliance sets its clock by NTP (`settime` is refused
    /// while it does, as in AsyncOS).
    pub enabled: bool,
    /// Servers as typed: a host name or an address, optionally with a
    /// port (`ntp1.example.com`, `192.0.2.1`, `192.0.2.1:1123`,
    /// `[2001:db8::1]:123`).
    pub servers: Vec<String>,
    /// Seconds between two rounds of queries.
    pub poll_secs: u32,
}

impl Default for NtpSettings {
    fn default() -> Self {
        NtpSettings {
            enabled: false,
            servers: Vec::new(),
            poll_secs: DEFAULT_POLL_SECS,
        }
    }
}

/// A configured server, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtpServer {
    Address(SocketAddr),
    Name { host: String, port: u16 },
}

impl NtpServer {
    pub fn port(&self) -> u16 {
        match self {
            NtpServer::Address(a) => a.port(),
            NtpServer::Name { port, .. } => *port,
        }
    }
}

/// Why a setting is refused; the text is the CLI's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtpSettingsError {
    #[error(
        "Invalid NTP server '{0}': enter a host name or an IP address, optionally with :port (ntp1.example.com, 192.0.2.1, [2001:db8::1]:123)."
    )]
    BadServer(String),
    #[error("The NTP server {0} is already configured.")]
    Duplicate(String),
    #[error("At most {MAX_NTP_SERVERS} NTP servers can be configured.")]
    TooMany,
    #[error("The poll interval must be between {MIN_POLL_SECS} and {MAX_POLL_SECS} seconds.")]
    BadPoll,
    #[error("NTP is enabled but no server is configured: add one with 'ntpconfig add <server>'.")]
    NoServer,
}

/// Parses one server as `ntpconfig add` takes it.
pub fn parse_server(text: &str) -> Result<NtpServer, NtpSettingsError> {
    let bad = || NtpSettingsError::BadServer(text.to_string());
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(NtpServer::Address(SocketAddr::new(ip, NTP_PORT)));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return if sa.port() == 0 {
            Err(bad())
        } else {
            Ok(NtpServer::Address(sa))
        };
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        ),
        None => (text, NTP_PORT),
    };
    let name = HostName::parse(host).map_err(|_| bad())?;
    Ok(NtpServer::Name {
        host: name.to_string(),
        port,
    })
}

impl NtpSettings {
    pub fn validate(&self) -> Result<(), NtpSettingsError> {
        if self.servers.len() > MAX_NTP_SERVERS {
            return Err(NtpSettingsError::TooMany);
        }
        for (i, s) in self.servers.iter().enumerate() {
            parse_server(s)?;
            if self.servers[..i].iter().any(|o| o.eq_ignore_ascii_case(s)) {
                return Err(NtpSettingsError::Duplicate(s.clone()));
            }
        }
        if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&self.poll_secs) {
            return Err(NtpSettingsError::BadPoll);
        }
        if self.enabled && self.servers.is_empty() {
            return Err(NtpSettingsError::NoServer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_names_or_addresses_with_an_optional_port() {
        assert_eq!(
            parse_server("192.0.2.1"),
            Ok(NtpServer::Address("192.0.2.1:123".parse().unwrap()))
        );
        assert_eq!(
            parse_server("127.0.0.5:11123"),
            Ok(NtpServer::Address("127.0.0.5:11123".parse().unwrap()))
        );
        assert_eq!(
            parse_server("2001:db8::1"),
            Ok(NtpServer::Address("[2001:db8::1]:123".parse().unwrap()))
        );
        assert_eq!(
            parse_server("ntp1.example.com"),
            Ok(NtpServer::Name {
                host: "ntp1.example.com".into(),
                port: 123
            })
        );
        assert_eq!(parse_server("time.example.net:1123").unwrap().port(), 1123);
        for bad in [
            "",
            "ntp..example",
            "host:0",
            "host:99999",
            "-x.example",
            "a b",
        ] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let mut s = NtpSettings::default();
        assert_eq!(s.validate(), Ok(()));
        s.enabled = true;
        assert_eq!(s.validate(), Err(NtpSettingsError::NoServer));
        s.servers = vec!["ntp1.example.com".into(), "NTP1.example.com".into()];
        assert_eq!(
            s.validate(),
            Err(NtpSettingsError::Duplicate("NTP1.example.com".into()))
        );
        s.servers = (0..9).map(|i| format!("10.0.0.{i}")).collect();
        assert_eq!(s.validate(), Err(NtpSettingsError::TooMany));
        s.servers.truncate(2);
        s.poll_secs = 10;
        assert_eq!(s.validate(), Err(NtpSettingsError::BadPoll));
    }
}
