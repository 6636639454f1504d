//! API tokens: `POST /api/v1/login` opens a control-plane session (argon2
//! once) and hands the client a random token that names it, so the
//! following requests skip the passphrase check. The control token itself
//! never leaves the appliance: the map is the only way from one to the
//! other, bounded, and idle entries expire with the web UI's timeout
//! (`adminaccessconfig`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use breakwater_control_proto::Role;

use crate::web::session::{random_token, same};

/// Tokens kept at once (each a few hundred bytes); the longest idle goes
/// first when a new login would exceed it, as for web sessions.
pub const MAX_TOKENS: usize = 256;

/// One API login.
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// The control-plane session the token acts in.
    pub control: String,
    pub user: String,
    pub role: Role,
    last_used: Instant,
}

/// Every live API token, by its value.
#[derive(Default)]
pub struct ApiTokens {
    map: Mutex<HashMap<String, ApiToken>>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Live {
        control: String,
        user: String,
    },
    /// Idle longer than the timeout: removed; the caller ends the control
    /// session too.
    Expired {
        control: String,
    },
    Unknown,
}

/// An API token's shape: 32 random bytes in hex.
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ApiTokens {
    /// Records a login; returns the new token and, when the map was full,
    /// the control session dropped to make room.
    pub fn create(&self, control: String, user: String, role: Role) -> (String, Option<String>) {
        let token = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = None;
        if map.len() >= MAX_TOKENS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, t)| t.last_used)
                .map(|(k, _)| k.clone())
        {
            evicted = map.remove(&oldest).map(|t| t.control);
        }
        map.insert(
            token.clone(),
            ApiToken {
                control,
                user,
                role,
                last_used: Instant::now(),
            },
        );
        (token, evicted)
    }

    /// The control session of `token`, touched.
    pub fn get(&self, token: &str, timeout: Duration) -> Lookup {
        if !well_formed(token) {
            return Lookup::Unknown;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // The key comparison of a hash map is not constant-time; the
        // token's entropy (256 bits) is what protects it, the second
        // comparison only keeps the found entry honest.
        let Some(entry) = map.get_mut(token) else {
            return Lookup::Unknown;
        };
        if entry.last_used.elapsed() > timeout {
            let control = entry.control.clone();
            map.remove(token);
            return Lookup::Expired { control };
        }
        entry.last_used = Instant::now();
        Lookup::Live {
            control: entry.control.clone(),
            user: entry.user.clone(),
        }
    }

    /// Forgets `token`; returns its control session to end.
    pub fn remove(&self, token: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let key = map.keys().find(|k| same(k, token)).cloned()?;
        map.remove(&key).map(|t| t.control)
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_control_session_until_it_idles_out() {
        let t = ApiTokens::default();
        let (token, evicted) = t.create("c1".into(), "admin".into(), Role::Admin);
        assert!(evicted.is_none() && well_formed(&token));
        assert_eq!(
            t.get(&token, Duration::from_secs(60)),
            Lookup::Live {
                control: "c1".into(),
                user: "admin".into()
            }
        );
        assert_eq!(
            t.get(&token, Duration::ZERO),
            Lookup::Expired {
                control: "c1".into()
            }
        );
        assert_eq!(t.get(&token, Duration::from_secs(60)), Lookup::Unknown);
        assert_eq!(t.get("c1", Duration::from_secs(60)), Lookup::Unknown);
    }

    #[test]
    fn the_map_is_bounded_and_logout_forgets() {
        let t = ApiTokens::default();
        let (first, _) = t.create("c0".into(), "u".into(), Role::Guest);
        let mut last = None;
        for i in 1..=MAX_TOKENS {
            last = t.create(format!("c{i}"), "u".into(), Role::Guest).1;
        }
        assert_eq!(last.as_deref(), Some("c0"), "the longest idle token goes");
        assert_eq!(t.len(), MAX_TOKENS);
        assert_eq!(t.get(&first, Duration::from_secs(60)), Lookup::Unknown);
        let (token, _) = t.create("cx".into(), "u".into(), Role::Guest);
        assert_eq!(t.remove(&token).as_deref(), Some("cx"));
        assert_eq!(t.remove(&token), None);
    }
}
