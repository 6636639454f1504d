//! Web sessions: a random cookie names a control-plane session (the token
//! `__auth` returned), with a per-session CSRF token and the idle timeout
//! `adminaccessconfig` sets. The control plane keeps its own session (and
//! ends it on logout or timeout), so `who` and `last` show web logins.
//!
//! The cookie is `Secure; HttpOnly; SameSite=Strict; Path=/`: never sent
//! over plain HTTP, unreadable by scripts, never sent on a cross-site
//! request. Every change also carries the session's CSRF token in its
//! form, checked in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use breakwater_control_proto::Role;
use rand::RngCore;

/// The session cookie's name.
pub const COOKIE: &str = "bw_session";
/// Web sessions kept at once; the longest idle is dropped first when a new
/// login would exceed it (each holds a few hundred bytes).
pub const MAX_SESSIONS: usize = 256;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// The control-plane session this browser acts in.
    pub token: String,
    pub user: String,
    pub role: Role,
    /// The hidden `csrf` field every change must carry.
    pub csrf: String,
    /// A message for the next page shown (the outcome of a change).
    pub flash: Option<Flash>,
    last_seen: Instant,
}

/// The outcome of a change, shown once at the top of the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// Every web session, by cookie value.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, WebSession>>,
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal strings, compared without an early exit.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Records a login; returns the cookie value and, when the table was
    /// full, the control token of the session dropped to make room.
    pub fn create(&self, token: String, user: String, role: Role) -> (String, Option<String>) {
        let id = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = None;
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            evicted = map.remove(&oldest).map(|s| s.token);
        }
        map.insert(
            id.clone(),
            WebSession {
                token,
                user,
                role,
                csrf: random_token(),
                flash: None,
                last_seen: Instant::now(),
            },
        );
        (id, evicted)
    }

    /// The session of `id`, touched; `Err(token)` when it was idle longer
    /// than `timeout` (removed: the caller ends the control session too).
    pub fn get(&self, id: &str, timeout: Duration) -> Result<Option<WebSession>, String> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(session) = map.get_mut(id) else {
            return Ok(None);
        };
        if session.last_seen.elapsed() > timeout {
            let token = session.token.clone();
            map.remove(id);
            return Err(token);
        }
        session.last_seen = Instant::now();
        let found = session.clone();
        session.flash = None;
        Ok(Some(found))
    }

    /// Leaves a message for the next page of `id`.
    pub fn flash(&self, id: &str, ok: bool, text: impl Into<String>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(id) {
            s.flash = Some(Flash {
                ok,
                text: text.into(),
            });
        }
    }

    pub fn remove(&self, id: &str) -> Option<WebSession> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }
}

/// The `Set-Cookie` value that opens a session.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that ends it in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value in a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_the_idle_timeout_and_the_table_is_bounded() {
        let s = Sessions::default();
        let (id, _) = s.create("t1".into(), "admin".into(), Role::Admin);
        assert_eq!(
            s.get(&id, Duration::from_secs(60)).unwrap().unwrap().user,
            "admin"
        );
        assert_eq!(s.get(&id, Duration::ZERO).err().as_deref(), Some("t1"));
        assert!(s.get(&id, Duration::from_secs(60)).unwrap().is_none());
        let mut last = None;
        for i in 0..=MAX_SESSIONS {
            last = s.create(format!("t{i}"), "u".into(), Role::Guest).1;
        }
        assert_eq!(last.as_deref(), Some("t0"), "the longest idle session goes");
    }

    #[test]
    fn the_cookie_is_found_only_in_its_own_shape() {
        let id = random_token();
        assert_eq!(
            cookie_value(&format!("a=b; {COOKIE}={id}")),
            Some(id.as_str())
        );
        assert_eq!(cookie_value(&format!("{COOKIE}=../../etc")), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert!(set_cookie(&id).contains("Secure; HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn a_flash_is_shown_once() {
        let s = Sessions::default();
        let (id, _) = s.create("t".into(), "admin".into(), Role::Admin);
        s.flash(&id, true, "Done.");
        let t = Duration::from_secs(60);
        assert_eq!(s.get(&id, t).unwrap().unwrap().flash.unwrap().text, "Done.");
        assert!(s.get(&id, t).unwrap().unwrap().flash.is_none());
    }
}
