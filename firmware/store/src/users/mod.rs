//! Console users, their roles and passphrases, login sessions and the
//! login history (`who`, `last`), kept by the daemon in sled.
//!
//! The console is a client process; this store is the only place that
//! knows passphrases. A passphrase is kept as an argon2id PHC string, never
//! in clear.
//!
//! **Failed logins.** Every login says where it comes from ([`Origin`]).
//! Repeated failures slow a name down (the n-th consecutive failure makes
//! the next attempt wait n × `delay_step`). A network login (anything but
//! the appliance's own serial console) locks the account for `lockout`
//! after `max_failures` in a row. The serial console never locks: its
//! wait keeps growing instead, up to `serial_max_delay`, so whoever stands
//! at the box can always get in, however long someone on the network has
//! been guessing. The daemon refuses early attempts itself, so a console
//! that skipped the wait gains nothing.
//!
//! Every refusal, whether the name is unknown, the passphrase wrong, the
//! account locked or the attempt too early, is the same `Login incorrect.`
//! with a wait computed the same way: unknown names are counted like known
//! ones (in memory), and a locked account costs an argon2 verification
//! like any other attempt, so neither the text, the wait nor the time
//! tells whether an account exists or is locked. The real reason goes to
//! the system log for the administrator.
//!
//! **Atomic counters.** A known user's network failures are stored in the
//! user's record and changed with one sled compare-and-swap
//! (`update_and_fetch`), so concurrent attempts each count; the serial
//! console's and unknown names' counters live in memory behind one mutex.
//!
//! Sessions are stored too, so a console stays logged in while the daemon
//! restarts.
//!
//! Trees (values are versioned postcard, see `crate::codec`): `users`
//! (name → [`UserRecord`]), `sessions` (token → [`SessionRecord`]),
//! `logins` (sequence → [`LoginRecord`], the newest `MAX_LOGIN_RECORDS`),
//! `meta` (the generated serial number).

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};

mod policy;
pub use policy::{Gate, LoginPolicy, Throttle};

/// The roles, the login origins and the answers to `__auth` are the
/// control protocol's (the console reads them).
pub use breakwater_control_proto::{AuthFailure, AuthReply, Origin, Role};

const USER_VERSION: u8 = 1;
/// The factory account; it must choose a new passphrase at first login.
pub const FACTORY_USER: &str = "admin";
pub const FACTORY_PASSWORD: &str = "breakwater";
/// `last` keeps this many logins.
const MAX_LOGIN_RECORDS: u64 = 200;
const MIN_PASSPHRASE: usize = 8;
const MAX_PASSPHRASE: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub full_name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub hash: String,
    pub must_change: bool,
    /// Consecutive failed logins, and when the last one happened (ms).
    pub failures: u32,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    pub tty: String,
    pub login_ms: i64,
    pub last_seen_ms: i64,
    /// Key of this login in the `logins` tree.
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRecord {
    pub user: String,
    pub tty: String,
    pub login_ms: i64,
    pub logout_ms: Option<i64>,
    /// "logout", "timed out", …
    pub ended: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    #[error("user storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Every refused login, whatever the reason (see the module doc).
    #[error("Login incorrect.")]
    Incorrect { delay_ms: u64 },
    #[error("There is no user named '{0}'.")]
    NoSuchUser(String),
    #[error("{0}")]
    Invalid(String),
    #[error("passphrase hashing failed: {0}")]
    Hash(String),
}

fn invalid(msg: impl Into<String>) -> UserError {
    UserError::Invalid(msg.into())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn hash(policy: &LoginPolicy, password: &str) -> Result<String, UserError> {
    let err = |e: argon2::password_hash::Error| UserError::Hash(e.to_string());
    let params = Params::new(policy.hash_memory_kib, policy.hash_passes, 1, None)
        .map_err(|e| UserError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(err)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(err)
}

/// Checks `password` against a PHC string, with the parameters it names.
fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn check_name(name: &str) -> Result<String, UserError> {
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(invalid(format!(
            "Invalid user name '{name}': 1-32 letters, digits, '_', '.' or '-', starting with a letter."
        )))
    }
}

fn check_passphrase(user: &str, password: &str) -> Result<(), UserError> {
    let n = password.chars().count();
    if !(MIN_PASSPHRASE..=MAX_PASSPHRASE).contains(&n) {
        return Err(invalid(format!(
            "The passphrase must be {MIN_PASSPHRASE} to {MAX_PASSPHRASE} characters long."
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(invalid(
            "The passphrase may not contain control characters.",
        ));
    }
    if password.eq_ignore_ascii_case(user) || password == FACTORY_PASSWORD {
        return Err(invalid("That passphrase is too easy to guess."));
    }
    Ok(())
}

/// How many names the in-memory counters follow; when full, the ones
/// whose wait is over and that are not locked are forgotten, and if that
/// is not enough all are (a flood of invented names must not grow the
/// daemon without bound; forgetting only shortens someone's wait).
const MAX_TRACKED_NAMES: usize = 4096;

pub struct UserStore {
    db: sled::Db,
    users: sled::Tree,
    sessions: sled::Tree,
    logins: sled::Tree,
    meta: sled::Tree,
    policy: LoginPolicy,
    /// Verified against for unknown names and locked accounts, so they
    /// cost as much as an ordinary attempt.
    dummy_hash: String,
    /// Failures counted in memory: every name at the serial console, and
    /// unknown names over the network (see the module doc).
    throttles: std::sync::Mutex<std::collections::HashMap<(Origin, String), Throttle>>,
}

impl UserStore {
    /// Opens the trees in `db`, creating the factory account on first use.
    pub fn open(db: &sled::Db, policy: LoginPolicy) -> Result<Self, UserError> {
        let store = Self {
            db: db.clone(),
            users: db.open_tree("users")?,
            sessions: db.open_tree("sessions")?,
            logins: db.open_tree("logins")?,
            meta: db.open_tree("meta")?,
            policy,
            dummy_hash: hash(&policy, "no such user, no such passphrase")?,
            throttles: std::sync::Mutex::default(),
        };
        if store.users.is_empty() {
            store.put(&UserRecord {
                name: FACTORY_USER.into(),
                full_name: "Administrator".into(),
                role: Role::Admin,
                hash: hash(&store.policy, FACTORY_PASSWORD)?,
                must_change: true,
                failures: 0,
                last_failure_ms: 0,
                locked_until_ms: 0,
            })?;
            crate::durable::flush(&store.db)?;
        }
        Ok(store)
    }

    /// A database of its own under `data_dir` (used until the daemon hands
    /// the control server its main database).
    pub fn open_standalone(data_dir: &Path, policy: LoginPolicy) -> Result<Self, UserError> {
        let db = sled::Config::new()
            .path(data_dir.join("users"))
            .cache_capacity(1024 * 1024)
            .open()?;
        Self::open(&db, policy)
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, UserError> {
        let key = name.to_ascii_lowercase();
        Ok(match self.users.get(key.as_bytes())? {
            Some(v) => Some(codec::decode(USER_VERSION, &v)?),
            None => None,
        })
    }

    fn existing(&self, name: &str) -> Result<UserRecord, UserError> {
        self.user(name)?
            .ok_or_else(|| UserError::NoSuchUser(name.to_string()))
    }

    fn put(&self, u: &UserRecord) -> Result<(), UserError> {
        self.users
            .insert(u.name.as_bytes(), codec::encode(USER_VERSION, u)?)?;
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<UserRecord>, UserError> {
        self.users
            .iter()
            .values()
            .map(|v| Ok(codec::decode(USER_VERSION, &v?)?))
            .collect()
    }

    pub fn policy(&self) -> &LoginPolicy {
        &self.policy
    }

    /// Whether this name's counter at `origin` is kept in the user's
    /// record (a known user over the network) rather than in memory.
    fn stored_counter(origin: Origin, user: Option<&UserRecord>) -> bool {
        origin == Origin::Network && user.is_some()
    }

    fn throttles(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(Origin, String), Throttle>> {
        // A panic while holding the lock leaves a map of plain counters:
        // still usable.
        self.throttles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current counter of `key` at `origin`.
    pub fn throttle(&self, key: &str, origin: Origin) -> Result<Throttle, UserError> {
        let user = self.user(key)?;
        Ok(if Self::stored_counter(origin, user.as_ref()) {
            user.as_ref().map(Throttle::of).unwrap_or_default()
        } else {
            self.throttles()
                .get(&(origin, key.to_ascii_lowercase()))
                .copied()
                .unwrap_or_default()
        })
    }

    /// Applies `edit` to a counter atomically and returns what it returned
    /// with the counter after it: one sled compare-and-swap for a stored
    /// counter (retried on a concurrent change, so `edit` may run more
    /// than once, each time on the newest value), the mutex otherwise.
    fn update_throttle<R: Default>(
        &self,
        key: &str,
        origin: Origin,
        stored: bool,
        mut edit: impl FnMut(&mut Throttle) -> R,
    ) -> Result<(Throttle, R), UserError> {
        let key = key.to_ascii_lowercase();
        if !stored {
            let mut map = self.throttles();
            if map.len() >= MAX_TRACKED_NAMES && !map.contains_key(&(origin, key.clone())) {
                let now = now_ms();
                let policy = self.policy;
                map.retain(|(o, _), t| policy.gate(t, *o, now) != Gate::Open);
                if map.len() >= MAX_TRACKED_NAMES {
                    map.clear();
                }
            }
            let t = map.entry((origin, key)).or_default();
            let r = edit(t);
            return Ok((*t, r));
        }
        let mut result = R::default();
        let mut broken: Option<CodecError> = None;
        let after = self.users.update_and_fetch(key.as_bytes(), |old| {
            let old = old?;
            let mut u: UserRecord = match codec::decode(USER_VERSION, old) {
                Ok(u) => u,
                Err(e) => {
                    broken = Some(e);
                    return Some(old.to_vec());
                }
            };
            let mut t = Throttle::of(&u);
            result = edit(&mut t);
            t.store(&mut u);
            match codec::encode(USER_VERSION, &u) {
                Ok(v) => Some(v),
                Err(e) => {
                    broken = Some(e);
                    Some(old.to_vec())
                }
            }
        })?;
        if let Some(e) = broken {
            return Err(e.into());
        }
        let t = match after {
            Some(v) => Throttle::of(&codec::decode::<UserRecord>(USER_VERSION, &v)?),
            None => Throttle::default(),
        };
        Ok((t, result))
    }

    /// Checks a passphrase and opens a session. Every refusal is
    /// [`UserError::Incorrect`] with the wait before the next attempt;
    /// the reason is logged (system log) for the administrator.
    pub fn authenticate(
        &self,
        name: &str,
        password: &str,
        tty: &str,
        origin: Origin,
    ) -> Result<AuthReply, UserError> {
        let now = now_ms();
        let key = name.to_ascii_lowercase();
        let user = self.user(&key)?;
        let stored = Self::stored_counter(origin, user.as_ref());
        let before = self.throttle(&key, origin)?;
        let refuse = |reason: &str, delay_ms: u64| {
            tracing::info!(
                "Console login refused for '{key}' on {tty} ({} login): {reason}",
                origin.name()
            );
            Err(UserError::Incorrect { delay_ms })
        };
        match self.policy.gate(&before, origin, now) {
            Gate::Open => {}
            Gate::Wait { delay_ms } => return refuse("attempt before the wait was over", delay_ms),
            Gate::Locked => {
                // As costly as an attempt that is checked, and the right
                // passphrase is not confirmed while locked.
                let _ = verify(&self.dummy_hash, password);
                let delay = self.policy.refusal_delay(&before, origin, true);
                return refuse("the account is locked", delay);
            }
        }
        let right = match &user {
            Some(u) => verify(&u.hash, password),
            None => {
                let _ = verify(&self.dummy_hash, password);
                false
            }
        };
        if !right {
            let policy = self.policy;
            let (after, locked) =
                self.update_throttle(&key, origin, stored, |t| policy.fail(t, origin, now))?;
            if stored {
                crate::durable::flush(&self.db)?;
            }
            // An unknown name "locks" in memory only, so that it answers
            // like a real one; there is nothing for the admin to unlock.
            if locked && user.is_some() {
                tracing::warn!(
                    "Console login: user '{key}' locked for {} s after {} failed network logins in a row (last on {tty}); \"userconfig unlock {key}\" lifts it",
                    policy.lockout.as_secs(),
                    policy.max_failures
                );
            }
            let reason = if user.is_some() {
                "wrong passphrase"
            } else {
                "unknown user"
            };
            return refuse(reason, policy.refusal_delay(&after, origin, locked));
        }
        let Some(u) = user else {
            return refuse("unknown user", self.policy.delay_ms(1, origin));
        };
        self.update_throttle(&key, origin, stored, |t| {
            t.failures = 0;
            t.locked_until_ms = 0;
        })?;
        self.open_session(&u, tty, now)
    }

    /// Opens a session for `name`, whose identity the caller has already
    /// proven without a passphrase (SSH public-key authentication, the
    /// key checked by the control plane against the committed
    /// `management.ssh_keys`). Refuses, with the same `Login incorrect.`
    /// as [`UserStore::authenticate`], an unknown user, an account locked
    /// by failed network logins (a key does not lift a lock: the admin's
    /// `userconfig unlock` does), and a user who must still choose a
    /// passphrase (that change needs the old passphrase, which a key
    /// login does not have). Nothing is counted: there was no guess.
    pub fn open_session_for_key(&self, name: &str, tty: &str) -> Result<AuthReply, UserError> {
        let now = now_ms();
        let key = name.to_ascii_lowercase();
        let refuse = |reason: &str| {
            tracing::info!("Console login by key refused for '{key}' on {tty}: {reason}");
            Err(UserError::Incorrect { delay_ms: 0 })
        };
        let Some(u) = self.user(&key)? else {
            return refuse("unknown user");
        };
        let throttle = self.throttle(&key, Origin::Network)?;
        if self.policy.gate(&throttle, Origin::Network, now) == Gate::Locked {
            return refuse("the account is locked");
        }
        if u.must_change {
            return refuse("the user must first choose a passphrase (log in with it once)");
        }
        self.open_session(&u, tty, now)
    }

    /// Records a login of `u` on `tty` and opens its session.
    fn open_session(&self, u: &UserRecord, tty: &str, now: i64) -> Result<AuthReply, UserError> {
        let seq = self.db.generate_id()?;
        let token = format!("{:032x}", rand::random::<u128>());
        let login = LoginRecord {
            user: u.name.clone(),
            tty: tty.to_string(),
            login_ms: now,
            logout_ms: None,
            ended: String::new(),
        };
        self.logins
            .insert(seq.to_be_bytes(), codec::encode(USER_VERSION, &login)?)?;
        while self.logins.len() as u64 > MAX_LOGIN_RECORDS {
            self.logins.pop_min()?;
        }
        let session = SessionRecord {
            user: u.name.clone(),
            tty: tty.to_string(),
            login_ms: now,
            last_seen_ms: now,
            seq,
        };
        self.sessions
            .insert(token.as_bytes(), codec::encode(USER_VERSION, &session)?)?;
        crate::durable::flush(&self.db)?;
        Ok(AuthReply {
            token,
            role: u.role,
            must_change: u.must_change,
        })
    }

    /// The live session of `token` and its user (marks it as used now).
    /// Expired sessions and sessions of deleted users are closed.
    pub fn session(&self, token: &str) -> Result<Option<(UserRecord, SessionRecord)>, UserError> {
        self.expire()?;
        let Some(v) = self.sessions.get(token.as_bytes())? else {
            return Ok(None);
        };
        let mut s: SessionRecord = codec::decode(USER_VERSION, &v)?;
        let Some(u) = self.user(&s.user)? else {
            self.end(token, "user deleted")?;
            return Ok(None);
        };
        s.last_seen_ms = now_ms();
        self.sessions
            .insert(token.as_bytes(), codec::encode(USER_VERSION, &s)?)?;
        Ok(Some((u, s)))
    }

    /// Closes a session and completes its `last` record.
    pub fn end(&self, token: &str, how: &str) -> Result<(), UserError> {
        let Some(v) = self.sessions.remove(token.as_bytes())? else {
            return Ok(());
        };
        let s: SessionRecord = codec::decode(USER_VERSION, &v)?;
        if let Some(v) = self.logins.get(s.seq.to_be_bytes())? {
            let mut l: LoginRecord = codec::decode(USER_VERSION, &v)?;
            l.logout_ms = Some(now_ms());
            l.ended = how.to_string();
            self.logins
                .insert(s.seq.to_be_bytes(), codec::encode(USER_VERSION, &l)?)?;
        }
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    fn expire(&self) -> Result<(), UserError> {
        let cutoff = now_ms() - ms(self.policy.session_expiry);
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let s: SessionRecord = codec::decode(USER_VERSION, &v)?;
            if s.last_seen_ms < cutoff {
                self.end(&String::from_utf8_lossy(&k), "timed out")?;
            }
        }
        Ok(())
    }

    pub fn sessions(&self) -> Result<Vec<SessionRecord>, UserError> {
        self.expire()?;
        self.sessions
            .iter()
            .values()
            .map(|v| Ok(codec::decode(USER_VERSION, &v?)?))
            .collect()
    }

    /// The newest `n` logins, newest first.
    pub fn last(&self, n: usize) -> Result<Vec<LoginRecord>, UserError> {
        self.logins
            .iter()
            .values()
            .rev()
            .take(n)
            .map(|v| Ok(codec::decode(USER_VERSION, &v?)?))
            .collect()
    }

    /// A user changes their own passphrase (also the forced first change).
    pub fn change_password(&self, name: &str, old: &str, new: &str) -> Result<(), UserError> {
        let u = self.existing(name)?;
        if !verify(&u.hash, old) {
            return Err(invalid("The old passphrase is not correct."));
        }
        if old == new {
            return Err(invalid("The new passphrase must differ from the old one."));
        }
        check_passphrase(&u.name, new)?;
        let hashed = hash(&self.policy, new)?;
        self.update(name, |u| {
            u.hash.clone_from(&hashed);
            u.must_change = false;
        })
    }

    /// An administrator creates a user, who must change the passphrase at first login.
    pub fn add_user(&self, name: &str, full: &str, role: Role, pw: &str) -> Result<(), UserError> {
        let name = check_name(name)?;
        if self.user(&name)?.is_some() {
            return Err(invalid(format!("User '{name}' already exists.")));
        }
        if full.chars().any(char::is_control) || full.len() > 128 {
            return Err(invalid(
                "The full name must be one line of at most 128 characters.",
            ));
        }
        check_passphrase(&name, pw)?;
        self.put(&UserRecord {
            name,
            full_name: full.to_string(),
            role,
            hash: hash(&self.policy, pw)?,
            must_change: true,
            failures: 0,
            last_failure_ms: 0,
            locked_until_ms: 0,
        })?;
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    /// Applies `edit` to an existing user; refuses to leave no admin.
    ///
    /// The record is replaced with a compare-and-swap against the one
    /// `edit` saw, retried on a concurrent change (a failed login counted
    /// meanwhile is not lost), so `edit` may run more than once.
    pub fn update(&self, name: &str, edit: impl Fn(&mut UserRecord)) -> Result<(), UserError> {
        let key = name.to_ascii_lowercase();
        loop {
            let Some(old) = self.users.get(key.as_bytes())? else {
                return Err(UserError::NoSuchUser(name.to_string()));
            };
            let mut u: UserRecord = codec::decode(USER_VERSION, &old)?;
            edit(&mut u);
            let other_admin = self
                .users()?
                .iter()
                .any(|x| x.name != u.name && x.role == Role::Admin);
            if u.role != Role::Admin && !other_admin {
                return Err(invalid("There must be at least one admin account."));
            }
            let new = codec::encode(USER_VERSION, &u)?;
            if self
                .users
                .compare_and_swap(key.as_bytes(), Some(old), Some(new))?
                .is_ok()
            {
                break;
            }
        }
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    pub fn set_password(&self, name: &str, pw: &str) -> Result<(), UserError> {
        check_passphrase(name, pw)?;
        let hashed = hash(&self.policy, pw)?;
        self.update(name, |u| {
            u.hash.clone_from(&hashed);
            u.must_change = true;
        })
    }

    pub fn delete_user(&self, name: &str, by: &str) -> Result<(), UserError> {
        let u = self.existing(name)?;
        if u.name == by {
            return Err(invalid("You cannot delete your own account."));
        }
        if u.role == Role::Admin
            && self
                .users()?
                .iter()
                .filter(|x| x.role == Role::Admin)
                .count()
                == 1
        {
            return Err(invalid("There must be at least one admin account."));
        }
        self.users.remove(u.name.as_bytes())?;
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    /// The DMI serial number when the hardware has one, else one generated
    /// once and kept.
    pub fn serial(&self) -> Result<String, UserError> {
        if let Ok(s) = std::fs::read_to_string("/sys/class/dmi/id/product_serial") {
            let s = s.trim();
            let placeholder = s.is_empty() || s.contains("To be filled") || s == "None";
            if !placeholder && s.chars().all(|c| c.is_ascii_graphic()) {
                return Ok(s.to_string());
            }
        }
        if let Some(v) = self.meta.get("serial")? {
            return Ok(String::from_utf8_lossy(&v).into_owned());
        }
        let serial = format!("BW{:010X}", rand::random::<u64>() & 0xFF_FFFF_FFFF);
        self.meta.insert("serial", serial.as_bytes())?;
        crate::durable::flush(&self.db)?;
        Ok(serial)
    }
}

#[cfg(test)]
mod tests;
