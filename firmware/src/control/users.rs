//! Console users, their roles and passphrases, login sessions and the
//! login history (`who`, `last`), kept by the daemon in sled.
//!
//! The console is a client process; this store is the only place that
//! knows passphrases. A passphrase is kept as an argon2id PHC string, never
//! in clear. Repeated failures slow a user down (the n-th consecutive
//! failure makes the next attempt wait n × `delay_step`) and
//! `max_failures` in a row lock the account for `lockout`; the daemon
//! refuses early attempts itself, so a console that skipped the wait gains
//! nothing. Sessions are stored too, so a console stays logged in while
//! the daemon restarts.
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

const USER_VERSION: u8 = 1;
/// The factory account; it must choose a new passphrase at first login.
pub const FACTORY_USER: &str = "admin";
pub const FACTORY_PASSWORD: &str = "breakwater";
/// `last` keeps this many logins.
const MAX_LOGIN_RECORDS: u64 = 200;
const MIN_PASSPHRASE: usize = 8;
const MAX_PASSPHRASE: usize = 256;

/// What a user may do (checked by the control plane on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Everything, including user management.
    Admin,
    /// Every configuration command; not user management.
    Operator,
    /// Print, show and status commands only.
    ReadOnly,
    /// Like read-only (AsyncOS's guest: a monitoring account).
    Guest,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s.to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            "read-only" | "readonly" => Role::ReadOnly,
            "guest" => Role::Guest,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::ReadOnly => "read-only",
            Role::Guest => "guest",
        }
    }
    pub fn can_change_config(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

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

/// The reply to a successful `__auth` (JSON in `Response::output`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthReply {
    pub token: String,
    pub role: Role,
    pub must_change: bool,
}

/// The reply to a failed `__auth`: what to print and how long to wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthFailure {
    pub message: String,
    pub delay_ms: u64,
}

/// Failed-login handling and session lifetime.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub max_failures: u32,
    pub delay_step: Duration,
    pub lockout: Duration,
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
    #[error("Login incorrect.")]
    Incorrect { delay_ms: u64 },
    #[error("Too many failed logins: the account is locked for {secs} more second(s).")]
    Locked { secs: u64 },
    #[error("Please wait before trying again.")]
    TooSoon { delay_ms: u64 },
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

pub struct UserStore {
    db: sled::Db,
    users: sled::Tree,
    sessions: sled::Tree,
    logins: sled::Tree,
    meta: sled::Tree,
    policy: LoginPolicy,
    /// Verified against for unknown names, so they cost as much as known ones.
    dummy_hash: String,
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

    fn delay_ms(&self, failures: u32) -> i64 {
        ms(self.policy.delay_step).saturating_mul(i64::from(failures))
    }

    /// Checks a passphrase and opens a session.
    pub fn authenticate(
        &self,
        name: &str,
        password: &str,
        tty: &str,
    ) -> Result<AuthReply, UserError> {
        let now = now_ms();
        let Some(mut u) = self.user(name)? else {
            let _ = verify(&self.dummy_hash, password);
            return Err(UserError::Incorrect {
                delay_ms: self.delay_ms(1).unsigned_abs(),
            });
        };
        if u.locked_until_ms > now {
            let secs = (u.locked_until_ms - now + 999) / 1000;
            return Err(UserError::Locked {
                secs: secs.unsigned_abs(),
            });
        }
        let ready_at = u.last_failure_ms.saturating_add(self.delay_ms(u.failures));
        if u.failures > 0 && now < ready_at {
            return Err(UserError::TooSoon {
                delay_ms: (ready_at - now).unsigned_abs(),
            });
        }
        if !verify(&u.hash, password) {
            u.failures += 1;
            u.last_failure_ms = now;
            let result = if u.failures >= self.policy.max_failures {
                u.failures = 0;
                u.locked_until_ms = now.saturating_add(ms(self.policy.lockout));
                Err(UserError::Locked {
                    secs: self.policy.lockout.as_secs(),
                })
            } else {
                Err(UserError::Incorrect {
                    delay_ms: self.delay_ms(u.failures).unsigned_abs(),
                })
            };
            self.put(&u)?;
            crate::durable::flush(&self.db)?;
            return result;
        }
        u.failures = 0;
        u.locked_until_ms = 0;
        self.put(&u)?;
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
        let mut u = self.existing(name)?;
        if !verify(&u.hash, old) {
            return Err(invalid("The old passphrase is not correct."));
        }
        if old == new {
            return Err(invalid("The new passphrase must differ from the old one."));
        }
        check_passphrase(&u.name, new)?;
        u.hash = hash(&self.policy, new)?;
        u.must_change = false;
        self.put(&u)?;
        crate::durable::flush(&self.db)?;
        Ok(())
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
    pub fn update(&self, name: &str, edit: impl FnOnce(&mut UserRecord)) -> Result<(), UserError> {
        let mut u = self.existing(name)?;
        edit(&mut u);
        let other_admin = self
            .users()?
            .iter()
            .any(|x| x.name != u.name && x.role == Role::Admin);
        if u.role != Role::Admin && !other_admin {
            return Err(invalid("There must be at least one admin account."));
        }
        self.put(&u)?;
        crate::durable::flush(&self.db)?;
        Ok(())
    }

    pub fn set_password(&self, name: &str, pw: &str) -> Result<(), UserError> {
        check_passphrase(name, pw)?;
        let hashed = hash(&self.policy, pw)?;
        self.update(name, |u| {
            u.hash = hashed;
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
        let r = s.authenticate("admin", FACTORY_PASSWORD, "ttyS0").unwrap();
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

    #[test]
    fn failures_grow_the_delay_then_lock_the_account() {
        let (_d, s) = store(fast());
        let wait = |e: UserError| match e {
            UserError::Incorrect { delay_ms } => delay_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            wait(s.authenticate("admin", "wrong1", "t").unwrap_err()),
            200
        );
        assert!(matches!(
            s.authenticate("admin", FACTORY_PASSWORD, "t"),
            Err(UserError::TooSoon { .. })
        ));
        std::thread::sleep(Duration::from_millis(210));
        assert_eq!(
            wait(s.authenticate("admin", "wrong2", "t").unwrap_err()),
            400
        );
        std::thread::sleep(Duration::from_millis(410));
        assert!(matches!(
            s.authenticate("admin", "wrong3", "t"),
            Err(UserError::Locked { .. })
        ));
        // Even the right passphrase is refused while locked.
        assert!(matches!(
            s.authenticate("admin", FACTORY_PASSWORD, "t"),
            Err(UserError::Locked { .. })
        ));
        std::thread::sleep(Duration::from_millis(620));
        assert!(s.authenticate("admin", FACTORY_PASSWORD, "t").is_ok());
        assert!(matches!(
            s.authenticate("nobody", "x", "t"),
            Err(UserError::Incorrect { .. })
        ));
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
        let r = s.authenticate("reader", "reader pass", "t").unwrap();
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
