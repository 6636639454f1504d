//! Setting the system clock, and the daemon's request for it.
//!
//! Only a process with `CAP_SYS_TIME` may set the clock. On the appliance
//! that is the supervisor (root); the daemon sends it one datagram on the
//! heartbeat socket (`<data-dir>/supervisor.sock`, owner-only):
//! `clock <pid> step <unix-nanoseconds>` (`settime`, or NTP's first
//! correction) or `clock <pid> offset <nanoseconds>` (NTP's later
//! corrections, applied relative to the supervisor's own clock so the
//! datagram's queueing time does not count). Like `hang <pid>`, only the
//! current daemon's PID is obeyed.
//!
//! Exposure: a compromised daemon could move the clock; it is bounded to
//! [`MIN_UNIX_SECS`]..[`MAX_UNIX_SECS`], the same range `settime` accepts,
//! so it cannot take the box back before its own firmware was built
//! (certificate checks would then pass for expired certificates) or into
//! the 2038 wrap.
//!
//! The daemon sends every NTP offset; whether it is stepped, slewed or
//! refused is the supervisor's decision ([`super::discipline`], chrony's
//! `makestep 1.0 3`). [`STEP_THRESHOLD`] (RFC 5905's 128 ms) only tells
//! the daemon whether its clock counts as synchronised.

use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime, clock_settime};

/// A clock within this of the best server counts as synchronised (RFC
/// 5905's STEPT).
pub const STEP_THRESHOLD: Duration = Duration::from_millis(128);

/// 2020-01-01 00:00:00 UTC: no clock is set earlier.
pub const MIN_UNIX_SECS: i64 = 1_577_836_800;
/// 2037-12-31 23:59:59 UTC: no clock is set later (the 32-bit time_t wrap
/// in 2038 is in reach of many peers' software).
pub const MAX_UNIX_SECS: i64 = 2_145_916_799;

/// What the daemon asks the supervisor to do to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockRequest {
    /// Set the clock to this Unix time (nanoseconds).
    Step { pid: u32, unix_nanos: i128 },
    /// Move the clock by this many nanoseconds.
    Offset { pid: u32, nanos: i128 },
}

impl ClockRequest {
    pub fn pid(&self) -> u32 {
        match self {
            ClockRequest::Step { pid, .. } | ClockRequest::Offset { pid, .. } => *pid,
        }
    }

    pub fn emit(&self) -> String {
        match self {
            ClockRequest::Step { pid, unix_nanos } => format!("clock {pid} step {unix_nanos}"),
            ClockRequest::Offset { pid, nanos } => format!("clock {pid} offset {nanos}"),
        }
    }

    /// `None` for anything that is not a well-formed request.
    pub fn parse(bytes: &[u8]) -> Option<ClockRequest> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut words = text.split(' ');
        if words.next()? != "clock" {
            return None;
        }
        let pid = words.next()?.parse().ok()?;
        let kind = words.next()?;
        let value: i128 = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        match kind {
            "step" => Some(ClockRequest::Step {
                pid,
                unix_nanos: value,
            }),
            "offset" => Some(ClockRequest::Offset { pid, nanos: value }),
            _ => None,
        }
    }
}

/// Why the clock was not set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    #[error("the time is out of range (2020-01-01 to 2037-12-31)")]
    OutOfRange,
    #[error("cannot read the clock: {0}")]
    Read(nix::Error),
    #[error("cannot set the clock: {0} (setting it needs root or CAP_SYS_TIME)")]
    Set(nix::Error),
    #[error("cannot adjust the clock's frequency: {0}")]
    Adjust(String),
}

/// The realtime clock now, in Unix nanoseconds.
pub fn now_nanos() -> Result<i128, ClockError> {
    let t = clock_gettime(ClockId::CLOCK_REALTIME).map_err(ClockError::Read)?;
    Ok(i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
}

/// Carries out `request` (the caller has checked its PID). Returns the
/// Unix time the clock was set to.
pub fn apply(request: ClockRequest) -> Result<i128, ClockError> {
    let target = match request {
        ClockRequest::Step { unix_nanos, .. } => unix_nanos,
        ClockRequest::Offset { nanos, .. } => now_nanos()? + nanos,
    };
    step_to(target)?;
    Ok(target)
}

/// Sets the realtime clock to `unix_nanos`, within the accepted range.
pub fn step_to(unix_nanos: i128) -> Result<(), ClockError> {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nsec = unix_nanos.rem_euclid(1_000_000_000);
    if !(i128::from(MIN_UNIX_SECS)..=i128::from(MAX_UNIX_SECS)).contains(&secs) {
        return Err(ClockError::OutOfRange);
    }
    // Both fit: the range check above, and 0 <= nsec < 10^9.
    let spec = TimeSpec::new(secs as i64, nsec as i64);
    clock_settime(ClockId::CLOCK_REALTIME, spec).map_err(ClockError::Set)
}

/// Whether an NTP offset is worth a step.
pub fn needs_step(offset_nanos: i128) -> bool {
    offset_nanos.unsigned_abs() >= STEP_THRESHOLD.as_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_junk_is_ignored() {
        for r in [
            ClockRequest::Step {
                pid: 42,
                unix_nanos: 1_796_578_200_000_000_000,
            },
            ClockRequest::Offset {
                pid: 7,
                nanos: -2_500_000_000,
            },
        ] {
            assert!(r.emit().len() <= 64, "fits the supervisor's buffer");
            assert_eq!(ClockRequest::parse(r.emit().as_bytes()), Some(r));
        }
        for junk in [
            &b"clock 42 step"[..],
            b"clock 42 jump 5",
            b"clock x step 5",
            b"clock 42 step 5 6",
            b"beat 42 1",
            b"\xff",
        ] {
            assert_eq!(ClockRequest::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn only_offsets_beyond_128_ms_are_stepped_and_far_times_are_refused() {
        assert!(!needs_step(127_999_999));
        assert!(needs_step(-128_000_000));
        assert!(needs_step(3_600_000_000_000));
        // Refused before the system call: runs unprivileged.
        assert!(matches!(step_to(0), Err(ClockError::OutOfRange)));
        assert!(matches!(
            step_to(i128::from(MAX_UNIX_SECS + 1) * 1_000_000_000),
            Err(ClockError::OutOfRange)
        ));
    }
}
