//! The login rules, apart from where they are stored: how long a name
//! waits after failures, when a network login locks the account (the
//! serial console never locks), how long a session lives. Pure: the
//! store applies them inside its compare-and-swap.

use std::time::Duration;

use super::{Origin, UserRecord, ms};

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
    pub(super) fn of(u: &UserRecord) -> Self {
        Self {
            failures: u.failures,
            last_failure_ms: u.last_failure_ms,
            locked_until_ms: u.locked_until_ms,
        }
    }
    pub(super) fn store(self, u: &mut UserRecord) {
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
    pub(super) fn refusal_delay(&self, t: &Throttle, origin: Origin, locked: bool) -> u64 {
        if locked {
            self.delay_ms(self.max_failures, origin)
        } else {
            self.delay_ms(t.failures, origin)
        }
    }
}
