//! `smtpcallahead`: SMTP Call-Ahead recipient validation profiles, which
//! listener uses which, and the DSN attachment setting of bounce profiles.
//!
//! AsyncOS's SMTP Call-Ahead asks the next hop (the host the recipient's
//! mail would be delivered to, or a static list of servers) whether a
//! recipient exists before the gateway accepts it at RCPT TO, so mail for
//! unknown users is refused during the SMTP conversation instead of being
//! bounced later (backscatter). A listener names a profile (`listenerconfig
//! > edit > callahead` in AsyncOS); a mail flow policy can turn it off.
//!
//! Kept in one struct at the end of [`crate::Config`] because the stored
//! config is positional: [`crate::ListenerConfig`], [`crate::MailFlowPolicy`]
//! and [`crate::delivery::BounceProfile`] cannot grow. Everything here is
//! keyed by name, and the rename/delete paths of listeners, mail flow
//! policies and bounce profiles call [`CallAheadSettings::rename_listener`]
//! and its siblings so the keys follow.

use serde::{Deserialize, Serialize};

/// AsyncOS's default cache size (entries).
pub const DEFAULT_CACHE_SIZE: u32 = 10_000;
/// AsyncOS's default cache lifetime for an answer (seconds).
pub const DEFAULT_CACHE_TTL_SECS: u32 = 900;
/// AsyncOS's default validation request timeout (seconds): the whole
/// validation of one recipient, all servers tried included.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u32 = 30;
/// Connections to one call-ahead server at once (AsyncOS's "Max.
/// Connections per Server"; its default is not documented in what we
/// could read: 5 keeps a burst from looking like an attack on the next
/// hop).
pub const DEFAULT_MAX_CONNECTIONS_PER_SERVER: u32 = 5;
/// Bounds of the numeric settings.
pub const MAX_CACHE_SIZE: u32 = 1_000_000;
pub const MAX_CACHE_TTL_SECS: u32 = 86_400;
pub const MAX_REQUEST_TIMEOUT_SECS: u32 = 600;
pub const MAX_CONNECTIONS_PER_SERVER: u32 = 100;
/// The reply given when the validation fails and the profile rejects.
pub const DEFAULT_FAILURE_CODE: u16 = 451;
pub const DEFAULT_FAILURE_TEXT: &str = "4.4.3 Recipient validation failed, try again later";

/// Where the recipient is validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CallAheadServer {
    /// The host the recipient's mail is delivered to: its SMTP route, else
    /// its MX (AsyncOS's "Use Delivery Host").
    #[default]
    DeliveryHost,
    /// These servers, `host` or `host:port`, tried in order (AsyncOS's
    /// "Static Call-Ahead Servers").
    Static(Vec<String>),
}

/// What happens when the validation gets no answer, a temporary failure
/// or an unknown one (AsyncOS's "Validation Failure Action").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FailureAction {
    /// Accept the recipient (fail open), AsyncOS's default.
    #[default]
    Accept,
    /// Refuse the recipient with this reply (a 4xx: the client retries).
    Reject { code: u16, text: String },
}

/// One call-ahead server profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallAheadProfile {
    pub name: String,
    pub server: CallAheadServer,
    /// The reverse path of the probe; empty is the null sender `<>`.
    pub mail_from: String,
    /// The interface the probe leaves from; `None`: the delivery interface
    /// (`deliveryconfig`), as a delivery to the same host would.
    pub interface: Option<String>,
    pub request_timeout_secs: u32,
    pub failure_action: FailureAction,
    pub max_connections_per_server: u32,
    pub cache_size: u32,
    /// How long an answer (accepted or refused) is reused.
    pub cache_ttl_secs: u32,
}

impl Default for CallAheadProfile {
    fn default() -> Self {
        Self {
            name: String::new(),
            server: CallAheadServer::DeliveryHost,
            mail_from: String::new(),
            interface: None,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            failure_action: FailureAction::Accept,
            max_connections_per_server: DEFAULT_MAX_CONNECTIONS_PER_SERVER,
            cache_size: DEFAULT_CACHE_SIZE,
            cache_ttl_secs: DEFAULT_CACHE_TTL_SECS,
        }
    }
}

/// A listener's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerCallAhead {
    pub listener: String,
    pub profile: String,
}

/// A mail flow policy of a listener with call-ahead turned off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCallAheadOff {
    pub listener: String,
    pub policy: String,
}

/// The `call_ahead` field of [`crate::Config`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CallAheadSettings {
    pub profiles: Vec<CallAheadProfile>,
    pub listeners: Vec<ListenerCallAhead>,
    pub policies_off: Vec<PolicyCallAheadOff>,
    /// Bounce profiles whose DSNs attach the complete original message
    /// (AsyncOS's "Send complete original message: Yes"); the others send
    /// its headers only (`text/rfc822-headers`, RFC 3462).
    pub full_original_bounce_profiles: Vec<String>,
}

/// Why a call-ahead setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallAheadError {
    #[error("profile name must be 1-64 letters, digits, '-', '_' or '.'")]
    BadName,
    #[error("{what} must be between {min} and {max}")]
    OutOfRange {
        what: &'static str,
        min: u32,
        max: u32,
    },
    #[error("a static call-ahead profile needs at least one server")]
    NoServers,
    #[error("server {0:?} is not host or host:port")]
    BadServer(String),
    #[error("the failure reply code must be 4xx or 5xx")]
    BadCode,
    #[error("no call-ahead profile named {0:?}")]
    UnknownProfile(String),
}

fn range(what: &'static str, v: u32, min: u32, max: u32) -> Result<(), CallAheadError> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(CallAheadError::OutOfRange { what, min, max })
    }
}

/// `host` or `host:port`, split; `None` when malformed.
pub fn parse_server(s: &str) -> Option<(String, u16)> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse::<u16>().ok().filter(|p| *p > 0)?),
        _ => (s, 25),
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then(|| (host.to_ascii_lowercase(), port))
}

impl CallAheadProfile {
    pub fn check(&self) -> Result<(), CallAheadError> {
        let name_ok = (1..=64).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(CallAheadError::BadName);
        }
        range(
            "request timeout",
            self.request_timeout_secs,
            1,
            MAX_REQUEST_TIMEOUT_SECS,
        )?;
        range(
            "max connections per server",
            self.max_connections_per_server,
            1,
            MAX_CONNECTIONS_PER_SERVER,
        )?;
        range("cache size", self.cache_size, 0, MAX_CACHE_SIZE)?;
        range("cache TTL", self.cache_ttl_secs, 0, MAX_CACHE_TTL_SECS)?;
        if let CallAheadServer::Static(servers) = &self.server {
            if servers.is_empty() {
                return Err(CallAheadError::NoServers);
            }
            if let Some(bad) = servers.iter().find(|s| parse_server(s).is_none()) {
                return Err(CallAheadError::BadServer(bad.clone()));
            }
        }
        if let FailureAction::Reject { code, .. } = &self.failure_action
            && !(400..=599).contains(code)
        {
            return Err(CallAheadError::BadCode);
        }
        Ok(())
    }
}

impl CallAheadSettings {
    pub fn profile(&self, name: &str) -> Option<&CallAheadProfile> {
        self.profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The profile `listener` validates recipients with, if any.
    pub fn profile_for_listener(&self, listener: &str) -> Option<&CallAheadProfile> {
        self.listeners
            .iter()
            .find(|l| l.listener.eq_ignore_ascii_case(listener))
            .and_then(|l| self.profile(&l.profile))
    }

    /// Whether recipients of a connection on `listener` that `policy`
    /// (its mail flow policy) governs are validated.
    pub fn enabled_for(&self, listener: &str, policy: &str) -> bool {
        self.profile_for_listener(listener).is_some()
            && !self.policies_off.iter().any(|p| {
                p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(policy)
            })
    }

    /// Points `listener` at `profile` (`None`: no call-ahead).
    pub fn set_listener(
        &mut self,
        listener: &str,
        profile: Option<&str>,
    ) -> Result<(), CallAheadError> {
        self.listeners
            .retain(|l| !l.listener.eq_ignore_ascii_case(listener));
        if let Some(profile) = profile {
            let name = self
                .profile(profile)
                .ok_or_else(|| CallAheadError::UnknownProfile(profile.to_string()))?
                .name
                .clone();
            self.listeners.push(ListenerCallAhead {
                listener: listener.to_string(),
                profile: name,
            });
        }
        Ok(())
    }

    /// Turns call-ahead on or off for one mail flow policy of a listener.
    pub fn set_policy(&mut self, listener: &str, policy: &str, on: bool) {
        self.policies_off.retain(|p| {
            !(p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(policy))
        });
        if !on {
            self.policies_off.push(PolicyCallAheadOff {
                listener: listener.to_string(),
                policy: policy.to_string(),
            });
        }
    }

    /// Deleting a profile detaches the listeners using it.
    pub fn delete_profile(&mut self, name: &str) -> bool {
        let before = self.profiles.len();
        self.profiles.retain(|p| !p.name.eq_ignore_ascii_case(name));
        self.listeners
            .retain(|l| !l.profile.eq_ignore_ascii_case(name));
        before != self.profiles.len()
    }

    pub fn rename_profile(&mut self, old: &str, new: &str) {
        for p in &mut self.profiles {
            if p.name.eq_ignore_ascii_case(old) {
                p.name = new.to_string();
            }
        }
        for l in &mut self.listeners {
            if l.profile.eq_ignore_ascii_case(old) {
                l.profile = new.to_string();
            }
        }
    }

    pub fn rename_listener(&mut self, old: &str, new: &str) {
        for l in &mut self.listeners {
            if l.listener.eq_ignore_ascii_case(old) {
                l.listener = new.to_string();
            }
        }
        for p in &mut self.policies_off {
            if p.listener.eq_ignore_ascii_case(old) {
                p.listener = new.to_string();
            }
        }
    }

    pub fn delete_listener(&mut self, name: &str) {
        self.listeners
            .retain(|l| !l.listener.eq_ignore_ascii_case(name));
        self.policies_off
            .retain(|p| !p.listener.eq_ignore_ascii_case(name));
    }

    pub fn rename_policy(&mut self, listener: &str, old: &str, new: &str) {
        for p in &mut self.policies_off {
            if p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(old) {
                p.policy = new.to_string();
            }
        }
    }

    pub fn delete_policy(&mut self, listener: &str, name: &str) {
        self.policies_off.retain(|p| {
            !(p.listener.eq_ignore_ascii_case(listener) && p.policy.eq_ignore_ascii_case(name))
        });
    }

    /// Whether DSNs of `bounce_profile` attach the complete original.
    pub fn full_original(&self, bounce_profile: &str) -> bool {
        self.full_original_bounce_profiles
            .iter()
            .any(|b| b.eq_ignore_ascii_case(bounce_profile))
    }

    pub fn set_full_original(&mut self, bounce_profile: &str, on: bool) {
        self.full_original_bounce_profiles
            .retain(|b| !b.eq_ignore_ascii_case(bounce_profile));
        if on {
            self.full_original_bounce_profiles
                .push(bounce_profile.to_string());
        }
    }

    pub fn rename_bounce_profile(&mut self, old: &str, new: &str) {
        for b in &mut self.full_original_bounce_profiles {
            if b.eq_ignore_ascii_case(old) {
                *b = new.to_string();
            }
        }
    }

    pub fn delete_bounce_profile(&mut self, name: &str) {
        self.set_full_original(name, false);
    }

    /// Every profile valid, names unique, listeners naming known profiles.
    pub fn check(&self) -> Result<(), CallAheadError> {
        for (i, p) in self.profiles.iter().enumerate() {
            p.check()?;
            if self.profiles[..i]
                .iter()
                .any(|q| q.name.eq_ignore_ascii_case(&p.name))
            {
                return Err(CallAheadError::BadName);
            }
        }
        if let Some(l) = self
            .listeners
            .iter()
            .find(|l| self.profile(&l.profile).is_none())
        {
            return Err(CallAheadError::UnknownProfile(l.profile.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> CallAheadProfile {
        CallAheadProfile {
            name: name.to_string(),
            ..CallAheadProfile::default()
        }
    }

    #[test]
    fn defaults_are_asyncos_ones() {
        let p = profile("m365");
        assert_eq!(p.cache_size, 10_000);
        assert_eq!(p.cache_ttl_secs, 900);
        assert_eq!(p.mail_from, "");
        assert_eq!(p.failure_action, FailureAction::Accept);
        assert_eq!(p.server, CallAheadServer::DeliveryHost);
        assert_eq!(p.check(), Ok(()));
    }

    #[test]
    fn bad_values_are_refused_with_their_reason() {
        let mut p = profile("x");
        p.request_timeout_secs = 0;
        assert!(matches!(p.check(), Err(CallAheadError::OutOfRange { .. })));
        let mut p = profile("x");
        p.server = CallAheadServer::Static(vec![]);
        assert_eq!(p.check(), Err(CallAheadError::NoServers));
        p.server = CallAheadServer::Static(vec!["mx.example:99999".into()]);
        assert!(matches!(p.check(), Err(CallAheadError::BadServer(_))));
        p.server = CallAheadServer::Static(vec!["127.0.0.5:2525".into(), "mx.example".into()]);
        assert_eq!(p.check(), Ok(()));
        p.failure_action = FailureAction::Reject {
            code: 250,
            text: "x".into(),
        };
        assert_eq!(p.check(), Err(CallAheadError::BadCode));
        assert_eq!(profile("bad name").check(), Err(CallAheadError::BadName));
    }

    #[test]
    fn keys_follow_renames_and_deletes() {
        let mut s = CallAheadSettings {
            profiles: vec![profile("m365")],
            ..Default::default()
        };
        s.set_listener("IncomingMail", Some("M365")).unwrap();
        s.set_policy("IncomingMail", "THROTTLED", false);
        assert!(s.enabled_for("incomingmail", "ACCEPTED"));
        assert!(!s.enabled_for("IncomingMail", "throttled"));
        s.rename_listener("IncomingMail", "Inbound");
        s.rename_policy("Inbound", "THROTTLED", "SLOW");
        assert!(s.enabled_for("Inbound", "ACCEPTED"));
        assert!(!s.enabled_for("Inbound", "SLOW"));
        s.rename_profile("m365", "o365");
        assert_eq!(s.profile_for_listener("Inbound").unwrap().name, "o365");
        assert_eq!(s.check(), Ok(()));
        assert!(s.delete_profile("o365"));
        assert!(!s.enabled_for("Inbound", "ACCEPTED"));
        assert_eq!(
            s.set_listener("Inbound", Some("nope")),
            Err(CallAheadError::UnknownProfile("nope".into()))
        );
        s.set_full_original("Default", true);
        s.rename_bounce_profile("default", "Strict");
        assert!(s.full_original("strict") && !s.full_original("Default"));
        s.delete_bounce_profile("Strict");
        assert!(!s.full_original("Strict"));
    }

    #[test]
    fn servers_parse_as_host_and_port() {
        assert_eq!(parse_server("MX.example"), Some(("mx.example".into(), 25)));
        assert_eq!(
            parse_server("127.0.0.9:2525"),
            Some(("127.0.0.9".into(), 2525))
        );
        assert_eq!(parse_server("a b"), None);
        assert_eq!(parse_server(":25"), None);
    }
}
