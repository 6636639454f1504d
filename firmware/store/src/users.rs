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

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};

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

/// Failed-login handling and session lifetime.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Network logins: this many failures in a row lock the account.
    pub max_failures: u32,
    /// The n-th failure in a row makes the next attempt wait n × this.
    pub delay_step: Duration,
    /// How long a locked account stays locked (network logins only).
    pub lockout: Duration,
    /// The serial console's wait grows no further than this; it never locks.
    pub serial_max_delay: Duration,
    /// A session nobody used for this long is gone (the console's own
    /// idle timeout, 30 minutes, is shorter).
    pub session_expiry: Duration,
    /// argon2id memory (KiB) and passes for new hashes. Verification uses
    /// the parameters stored in each PHC string, so these can grow later.
    pub hash_memory_kib: u32,
    pub hash_passes: u32,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            delay_step: Duration::from_secs(1),
            lockout: Duration::from_secs(15 * 60),
            serial_max_delay: Duration::from_secs(60),
            session_expiry: Duration::from_secs(60 * 60),
            // OWASP's first recommended argon2id setting.
            hash_memory_kib: 19 * 1024,
            hash_passes: 2,
        }
    }
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

/// One name's consecutive failures at one origin: a known user's network
/// counter is the three fields of its [`UserRecord`]; the others live in
/// [`UserStore`]'s memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    pub failures: u32,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

impl Throttle {
    fn of(u: &UserRecord) -> Self {
        Self {
            failures: u.failures,
            last_failure_ms: u.last_failure_ms,
            locked_until_ms: u.locked_until_ms,
        }
    }
    fn store(self, u: &mut UserRecord) {
        u.failures = self.failures;
        u.last_failure_ms = self.last_failure_ms;
        u.locked_until_ms = self.locked_until_ms;
    }
}

/// Whether an attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Too early after the last failure: this much longer.
    Wait {
        delay_ms: u64,
    },
    /// A network login to a locked account.
    Locked,
}

impl LoginPolicy {
    /// The wait after `failures` failures in a row at `origin`.
    pub fn delay_ms(&self, failures: u32, origin: Origin) -> u64 {
        let wait = self.delay_step.saturating_mul(failures);
        let wait = match origin {
            Origin::Serial => wait.min(self.serial_max_delay),
            Origin::Network => wait,
        };
        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether `t` lets an attempt from `origin` through at `now`.
    pub fn gate(&self, t: &Throttle, origin: Origin, now: i64) -> Gate {
        if origin == Origin::Network && t.locked_until_ms > now {
            return Gate::Locked;
        }
        let wait = i64::try_from(self.delay_ms(t.failures, origin)).unwrap_or(i64::MAX);
        let ready_at = t.last_failure_ms.saturating_add(wait);
        // `wait > 0`: with no wait, a concurrent failure stamped a moment
        // after this attempt's `now` must not turn it away uncounted.
        if t.failures > 0 && wait > 0 && now < ready_at {
            return Gate::Wait {
                delay_ms: (ready_at - now).unsigned_abs(),
            };
        }
        Gate::Open
    }

    /// Counts one failure at `now`; true when it locks the account (a
    /// network login's `max_failures`-th failure in a row). The count
    /// starts again after a lock.
    pub fn fail(&self, t: &mut Throttle, origin: Origin, now: i64) -> bool {
        t.failures = t.failures.saturating_add(1);
        t.last_failure_ms = now;
        if origin == Origin::Network && t.failures >= self.max_failures {
            t.failures = 0;
            t.locked_until_ms = now.saturating_add(ms(self.lockout));
            return true;
        }
        false
    }

    /// The wait a refusal announces: after `t` (just updated), or the
    /// whole scale's top for a locked account.
    fn refusal_delay(&self, t: &Throttle, origin: Origin, locked: bool) -> u64 {
        if locked {
            self.delay_ms(self.max_failures, origin)
        } else {
            self.delay_ms(t.failures, origin)
        }
    }
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

/// `who`: the open console sessions.
pub fn render_who(sessions: &[SessionRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<10} {:<26} {:>8}",
        "Username", "Terminal", "Login Time", "Idle"
    );
    let now = now_ms();
    for s in sessions {
        let idle = (now - s.last_seen_ms).max(0) / 1000;
        let _ = write!(
            out,
            "\n{:<16} {:<10} {:<26} {:>5}:{:02}",
            s.user,
            s.tty,
            time(s.login_ms),
            idle / 60,
            idle % 60
        );
    }
    out
}

/// `last`: recent logins, newest first.
pub fn render_last(logins: &[LoginRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<10} {:<26} Logout",
        "Username", "Terminal", "Login Time"
    );
    for l in logins {
        let end = match l.logout_ms {
            Some(t) => format!("{} ({})", time(t), l.ended),
            None => "still logged in".to_string(),
        };
        let _ = write!(
            out,
            "\n{:<16} {:<10} {:<26} {end}",
            l.user,
            l.tty,
            time(l.login_ms)
        );
    }
    out
}

/// `userconfig print`.
pub fn render_users(users: &[UserRecord]) -> String {
    let mut out = format!(
        "{:<16} {:<24} {:<10} Status",
        "Username", "Full Name", "Role"
    );
    let now = now_ms();
    for u in users {
        let status = if u.locked_until_ms > now {
            "locked"
        } else if u.must_change {
            "active (must change passphrase)"
        } else {
            "active"
        };
        let _ = write!(
            out,
            "\n{:<16} {:<24} {:<10} {status}",
            u.name,
            u.full_name,
            u.role.name()
        );
    }
    out
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| {
        t.format("%a %b %d %H:%M:%S %Y").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(policy: LoginPolicy) -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = UserStore::open_standalone(dir.path(), policy).unwrap();
        (dir, s)
    }

    fn fast() -> LoginPolicy {
        LoginPolicy {
            max_failures: 3,
            delay_step: Duration::from_millis(200),
            lockout: Duration::from_millis(600),
            hash_memory_kib: 64,
            hash_passes: 1,
            ..LoginPolicy::default()
        }
    }

    #[test]
    fn factory_admin_logs_in_with_argon2_and_must_change() {
        let (_d, s) = store(fast());
        let u = s.user("ADMIN").unwrap().unwrap();
        assert!(u.hash.starts_with("$argon2id$") && !u.hash.contains(FACTORY_PASSWORD));
        let r = s
            .authenticate("admin", FACTORY_PASSWORD, "ttyS0", SERIAL)
            .unwrap();
        assert!(r.must_change && r.role == Role::Admin);
        assert!(
            s.change_password("admin", FACTORY_PASSWORD, "short")
                .is_err()
        );
        assert!(
            s.change_password("admin", FACTORY_PASSWORD, FACTORY_PASSWORD)
                .is_err()
        );
        s.change_password("admin", FACTORY_PASSWORD, "n3w passphrase")
            .unwrap();
        assert!(!s.user("admin").unwrap().unwrap().must_change);
        assert!(s.session(&r.token).unwrap().is_some());
        s.end(&r.token, "logout").unwrap();
        assert!(s.session(&r.token).unwrap().is_none());
        assert_eq!(s.last(10).unwrap()[0].ended, "logout");
    }

    const NET: Origin = Origin::Network;
    const SERIAL: Origin = Origin::Serial;

    fn delay(r: Result<AuthReply, UserError>) -> u64 {
        match r {
            Err(UserError::Incorrect { delay_ms }) => delay_ms,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_grow_the_delay_then_lock_a_network_login() {
        let (_d, s) = store(fast());
        assert_eq!(delay(s.authenticate("admin", "wrong1", "t", NET)), 200);
        // Too early: refused with the same answer, the rest of the wait.
        assert!(delay(s.authenticate("admin", FACTORY_PASSWORD, "t", NET)) <= 200);
        std::thread::sleep(Duration::from_millis(210));
        assert_eq!(delay(s.authenticate("admin", "wrong2", "t", NET)), 400);
        std::thread::sleep(Duration::from_millis(410));
        // The third failure locks; the answer is still "Login incorrect."
        // with the top of the scale.
        assert_eq!(delay(s.authenticate("admin", "wrong3", "t", NET)), 600);
        let u = s.user("admin").unwrap().unwrap();
        assert!(u.locked_until_ms > now_ms());
        // Even the right passphrase is refused while locked.
        assert_eq!(
            delay(s.authenticate("admin", FACTORY_PASSWORD, "t", NET)),
            600
        );
        std::thread::sleep(Duration::from_millis(620));
        assert!(s.authenticate("admin", FACTORY_PASSWORD, "t", NET).is_ok());
    }

    #[test]
    fn unknown_wrong_and_locked_get_the_same_answer_and_waits() {
        let (_d, s) = store(LoginPolicy {
            lockout: Duration::from_secs(3600),
            ..fast()
        });
        s.add_user("alice", "", Role::Operator, "alice pass 1")
            .unwrap();
        // The same sequence of answers for a known and an unknown name,
        // through the lock and while locked.
        let mut answers = Vec::new();
        for name in ["alice", "mallory"] {
            let mut seen = Vec::new();
            for _ in 0..4 {
                let r = s.authenticate(name, "guess guess", "t", NET);
                let text = r.as_ref().map(|_| ()).unwrap_err().to_string();
                seen.push((text, delay(r)));
                std::thread::sleep(Duration::from_millis(
                    seen.last().map_or(0, |(_, d)| *d) + 10,
                ));
            }
            answers.push(seen);
        }
        assert_eq!(answers[0], answers[1]);
        assert!(answers[0].iter().all(|(t, _)| t == "Login incorrect."));
        assert_eq!(
            answers[0].iter().map(|(_, d)| *d).collect::<Vec<_>>(),
            [200, 400, 600, 600]
        );
        // alice is locked now: the right passphrase gets the same answer.
        assert_eq!(
            delay(s.authenticate("alice", "alice pass 1", "t", NET)),
            600
        );
    }

    #[test]
    fn the_serial_console_slows_down_but_never_locks() {
        let policy = LoginPolicy {
            lockout: Duration::from_secs(3600),
            serial_max_delay: Duration::from_millis(500),
            ..fast()
        };
        let (_d, s) = store(policy);
        // Someone on the network locks the admin for an hour.
        for i in 0..3 {
            let d = delay(s.authenticate("admin", "guess guess", "pts/1", NET));
            if i < 2 {
                std::thread::sleep(Duration::from_millis(d + 10));
            }
        }
        assert!(s.user("admin").unwrap().unwrap().locked_until_ms > now_ms());
        // At the serial console, failures slow down, capped, never lock.
        let mut waits = Vec::new();
        for _ in 0..5 {
            let d = delay(s.authenticate("admin", "typo typo", "ttyS0", SERIAL));
            waits.push(d);
            std::thread::sleep(Duration::from_millis(d + 10));
        }
        assert_eq!(waits, [200, 400, 500, 500, 500]);
        // The administrator at the box still gets in, though the account
        // is locked for network logins.
        let r = s.authenticate("admin", FACTORY_PASSWORD, "ttyS0", SERIAL);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            delay(s.authenticate("admin", FACTORY_PASSWORD, "pts/1", NET)),
            600
        );
        assert_eq!(policy.delay_ms(1000, SERIAL), 500);
        assert_eq!(
            LoginPolicy::default().serial_max_delay,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn concurrent_failures_each_count() {
        // No wait between attempts and no lock within the run, so every
        // attempt is checked and must be counted once.
        let policy = LoginPolicy {
            max_failures: 1000,
            delay_step: Duration::ZERO,
            ..fast()
        };
        let (_d, s) = store(policy);
        let s = std::sync::Arc::new(s);
        const THREADS: u32 = 8;
        const EACH: u32 = 5;
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..EACH {
                        assert!(s.authenticate("admin", "guess guess", "t", NET).is_err());
                        assert!(s.authenticate("ghost", "guess guess", "t", NET).is_err());
                        assert!(s.authenticate("admin", "guess guess", "t", SERIAL).is_err());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        for (name, origin) in [("admin", NET), ("ghost", NET), ("admin", SERIAL)] {
            assert_eq!(
                s.throttle(name, origin).unwrap().failures,
                THREADS * EACH,
                "{name} {origin:?}"
            );
        }
    }

    #[test]
    fn an_edit_does_not_lose_a_failure_counted_meanwhile() {
        let (_d, s) = store(fast());
        let _ = s.authenticate("admin", "guess guess", "t", NET);
        s.update("admin", |u| u.full_name = "Root".into()).unwrap();
        assert_eq!(s.throttle("admin", NET).unwrap().failures, 1);
        assert_eq!(s.user("admin").unwrap().unwrap().full_name, "Root");
    }

    #[test]
    fn users_roles_and_the_last_admin() {
        let (_d, s) = store(fast());
        s.add_user("Reader", "Read Only", Role::ReadOnly, "reader pass")
            .unwrap();
        assert!(
            s.add_user("reader", "", Role::Guest, "reader pass")
                .is_err()
        );
        assert!(s.add_user("1bad", "", Role::Guest, "reader pass").is_err());
        let r = s.authenticate("reader", "reader pass", "t", NET).unwrap();
        assert_eq!(r.role, Role::ReadOnly);
        assert!(r.must_change && !r.role.can_change_config());
        assert!(s.update("admin", |u| u.role = Role::Operator).is_err());
        assert_eq!(s.user("admin").unwrap().unwrap().role, Role::Admin);
        assert!(s.delete_user("admin", "reader").is_err());
        assert!(s.delete_user("admin", "admin").is_err());
        s.delete_user("reader", "admin").unwrap();
        assert!(s.session(&r.token).unwrap().is_none());
        assert_eq!(Role::parse("READ-ONLY"), Some(Role::ReadOnly));
        assert_eq!(s.serial().unwrap(), s.serial().unwrap());
    }
}
