//! Log subscriptions pushed by syslog (`logconfig subscribe`): AsyncOS's
//! "Syslog Push" retrieval method for `mail_logs`, `system_logs` and
//! `audit_logs`, each to one or more hosts over UDP, TCP or TCP with TLS.
//!
//! Stored as one field appended to [`crate::Config`] (version 7): the
//! record is positional (postcard), so these structs must not gain fields;
//! a new protocol or log is a new enum variant at the END of its enum.

use serde::{Deserialize, Serialize};

/// AsyncOS keeps at most a few pushes per log; ten is plenty and bounds
/// the shipping tasks and spool files a configuration can ask for.
pub const MAX_HOSTS_PER_LOG: usize = 10;
/// The smallest spool: a few thousand lines, enough to ride out a receiver
/// restart on a quiet box.
pub const MIN_SPOOL_BYTES: u64 = 1024 * 1024;
/// The largest spool: the log partition's budget for one subscription.
pub const MAX_SPOOL_BYTES: u64 = 1024 * 1024 * 1024;
/// AsyncOS-like default buffer per subscription while a receiver is down.
pub const DEFAULT_SPOOL_BYTES: u64 = 64 * 1024 * 1024;

/// The logs an administrator can subscribe to (AsyncOS's log names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LogName {
    MailLogs,
    SystemLogs,
    AuditLogs,
}

impl LogName {
    pub const ALL: [Self; 3] = [Self::MailLogs, Self::SystemLogs, Self::AuditLogs];

    /// The log's name on the CLI, in the directory tree and as syslog APP-NAME.
    pub fn name(self) -> &'static str {
        match self {
            Self::MailLogs => "mail_logs",
            Self::SystemLogs => "system_logs",
            Self::AuditLogs => "audit_logs",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

/// How a line travels to a syslog host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SyslogProtocol {
    /// One datagram per message (RFC 5426); lost silently when the host is down.
    Udp,
    /// Octet-counted frames (RFC 6587) on a TCP connection.
    Tcp,
    /// As `Tcp`, inside TLS (RFC 5425), the host's certificate verified.
    Tls,
}

impl SyslogProtocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Udp, Self::Tcp, Self::Tls]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// 514 for UDP and TCP, 6514 for TLS (RFC 5425).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 514,
            Self::Tls => 6514,
        }
    }
}

/// One receiver of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SyslogHost {
    /// A host name or an IP address.
    pub host: String,
    pub port: u16,
    pub protocol: SyslogProtocol,
}

impl std::fmt::Display for SyslogHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {}", self.host, self.port, self.protocol.name())
    }
}

/// A log pushed to its hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSubscription {
    pub log: LogName,
    pub hosts: Vec<SyslogHost>,
    /// The syslog facility number (0..=23); AsyncOS's default is `user` (1)
    /// for most logs; mail_logs uses `mail` (2).
    pub facility: u8,
    /// Spool size per host while it is unreachable; the oldest lines are
    /// dropped (and counted) beyond it.
    pub spool_max_bytes: u64,
}

impl LogSubscription {
    pub fn new(log: LogName) -> Self {
        Self {
            log,
            hosts: Vec::new(),
            facility: default_facility(log),
            spool_max_bytes: DEFAULT_SPOOL_BYTES,
        }
    }
}

/// `mail` for mail_logs, `auth` (4: security/authorization) for the audit
/// log, `user` otherwise.
pub fn default_facility(log: LogName) -> u8 {
    match log {
        LogName::MailLogs => 2,
        LogName::AuditLogs => 4,
        LogName::SystemLogs => 1,
    }
}

/// The facility keywords of RFC 5424 table 1, by number.
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// A facility by keyword or number.
pub fn parse_facility(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (usize::from(n) < FACILITIES.len()).then_some(n);
    }
    FACILITIES
        .iter()
        .position(|f| f.eq_ignore_ascii_case(s))
        .and_then(|n| u8::try_from(n).ok())
}

/// All subscriptions (`Config::log_shipping`); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogShipping {
    pub subscriptions: Vec<LogSubscription>,
}

impl LogShipping {
    pub fn subscription(&self, log: LogName) -> Option<&LogSubscription> {
        self.subscriptions.iter().find(|s| s.log == log)
    }

    /// The problems of these settings as (field, message), for `Config::validate`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for s in &self.subscriptions {
            let field = format!("log_shipping[{}]", s.log.name());
            if seen.contains(&s.log) {
                out.push((field.clone(), "subscribed twice".to_string()));
            }
            seen.push(s.log);
            if s.hosts.is_empty() {
                out.push((field.clone(), "no syslog host".to_string()));
            }
            if s.hosts.len() > MAX_HOSTS_PER_LOG {
                out.push((
                    field.clone(),
                    format!("at most {MAX_HOSTS_PER_LOG} syslog hosts"),
                ));
            }
            if usize::from(s.facility) >= FACILITIES.len() {
                out.push((field.clone(), "the facility is 0 to 23".to_string()));
            }
            if !(MIN_SPOOL_BYTES..=MAX_SPOOL_BYTES).contains(&s.spool_max_bytes) {
                out.push((field.clone(), "the spool size is 1M to 1G".to_string()));
            }
            for (i, h) in s.hosts.iter().enumerate() {
                if h.port == 0 {
                    out.push((format!("{field}.hosts[{i}]"), "port 0".to_string()));
                }
                if h.host.parse::<std::net::IpAddr>().is_err()
                    && crate::values::HostName::parse_fqdn(&h.host).is_err()
                    && crate::values::HostName::parse(&h.host).is_err()
                {
                    out.push((
                        format!("{field}.hosts[{i}]"),
                        format!("{:?} is neither an IP address nor a host name", h.host),
                    ));
                }
                if s.hosts[..i]
                    .iter()
                    .any(|o| o.host == h.host && o.port == h.port && o.protocol == h.protocol)
                {
                    out.push((format!("{field}.hosts[{i}]"), "listed twice".to_string()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(host: &str, port: u16) -> LogShipping {
        let mut s = LogSubscription::new(LogName::MailLogs);
        s.hosts.push(SyslogHost {
            host: host.into(),
            port,
            protocol: SyslogProtocol::Tcp,
        });
        LogShipping {
            subscriptions: vec![s],
        }
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!(LogName::parse("MAIL_LOGS"), Some(LogName::MailLogs));
        assert_eq!(LogName::parse("audit_logs"), Some(LogName::AuditLogs));
        assert_eq!(LogName::parse("gui_logs"), None);
        assert_eq!(SyslogProtocol::parse("tls"), Some(SyslogProtocol::Tls));
        assert_eq!(parse_facility("local7"), Some(23));
        assert_eq!(parse_facility("2"), Some(2));
        assert_eq!(parse_facility("24"), None);
        assert_eq!(parse_facility("nope"), None);
    }

    #[test]
    fn problems_name_the_field() {
        assert!(sub("127.0.0.1", 514).problems().is_empty());
        assert!(sub("logs.example.com", 514).problems().is_empty());
        let p = sub("bad host!", 0).problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p.iter()
                .all(|(f, _)| f == "log_shipping[mail_logs].hosts[0]")
        );
        let mut s = sub("127.0.0.1", 514);
        s.subscriptions[0].spool_max_bytes = 1;
        s.subscriptions
            .push(LogSubscription::new(LogName::MailLogs));
        let p = s.problems();
        assert_eq!(p.len(), 3, "{p:?}");
    }
}
