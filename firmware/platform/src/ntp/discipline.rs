//! Stepping at boot, slewing after: what the supervisor does with the
//! daemon's NTP offsets (issue 16).
//!
//! It follows chrony's `makestep 1.0 3`: during the first
//! [`STEP_UPDATES`] updates after boot an offset over [`STEP_LIMIT`] is
//! stepped (a box that booted with a wrong battery clock is right at once);
//! every other offset is slewed, so the clock never jumps under running
//! mail (time-outs, log order, `Received:` dates stay monotonic). Slewing
//! runs the clock fast or slow by at most [`MAX_SLEW_PPM`] (the kernel's
//! own limit) for as long as it takes to absorb the offset, then puts the
//! frequency back. After boot an offset over [`PANIC_LIMIT`] is not applied
//! (ntpd's panic threshold): a clock that far off after boot means a bad or
//! forged server more likely than a clock that jumped; the admin forces
//! it with `settime` (which needs NTP disabled).
//!
//! [`decide`] is the pure decision; [`Discipline`] keeps the count of
//! updates and the slew in progress and drives a [`SteerableClock`], so
//! tests never touch the host's clock.

use std::fmt;
use std::time::Duration;

use clock_steering::Clock;
use clock_steering::unix::UnixClock;

use super::clock::{ClockError, now_nanos, step_to};

/// Offsets over this are stepped during the first updates after boot
/// (chrony's `makestep` threshold).
pub const STEP_LIMIT: Duration = Duration::from_secs(1);
/// How many updates after boot may step (chrony's `makestep` limit).
pub const STEP_UPDATES: u32 = 3;
/// After boot, offsets over this are refused (ntpd's panic threshold).
pub const PANIC_LIMIT: Duration = Duration::from_secs(1000);
/// The fastest slew: Linux clamps `adjtimex` frequencies to ±500 ppm.
pub const MAX_SLEW_PPM: f64 = 500.0;

/// What to do with one measured offset (positive: the clock is behind).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockAction {
    /// Move the clock by `nanos` at once.
    Step { nanos: i128 },
    /// Run the clock `ppm` parts per million fast (negative: slow) for
    /// `secs` seconds.
    Slew { nanos: i128, ppm: f64, secs: f64 },
    /// Over the panic threshold after boot: logged, not applied.
    Refuse { nanos: i128 },
    /// Nothing to correct.
    Ignore,
}

/// The decision for `offset_nanos`, the `updates`-th offset since boot
/// (0 for the first).
pub fn decide(offset_nanos: i128, updates: u32) -> ClockAction {
    let size = offset_nanos.unsigned_abs();
    if size == 0 {
        return ClockAction::Ignore;
    }
    if updates < STEP_UPDATES {
        if size > STEP_LIMIT.as_nanos() {
            return ClockAction::Step {
                nanos: offset_nanos,
            };
        }
    } else if size > PANIC_LIMIT.as_nanos() {
        return ClockAction::Refuse {
            nanos: offset_nanos,
        };
    }
    // Under the panic limit, so the offset fits an f64 exactly enough.
    let offset_secs = offset_nanos as f64 / 1e9;
    let ppm = MAX_SLEW_PPM.copysign(offset_secs);
    ClockAction::Slew {
        nanos: offset_nanos,
        ppm,
        secs: offset_secs.abs() / (MAX_SLEW_PPM * 1e-6),
    }
}

impl fmt::Display for ClockAction {
    /// The wording of `ntpconfig status` and the supervisor's log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockAction::Step { nanos } => write!(f, "stepped by {}", signed_secs(*nanos)),
            ClockAction::Slew { nanos, ppm, secs } => write!(
                f,
                "slewing {} over {secs:.0} s at {ppm:+.0} ppm",
                signed_secs(*nanos)
            ),
            ClockAction::Refuse { nanos } => write!(
                f,
                "not applied: off by {} (over the {} s panic threshold; to force it: ntpconfig disable, commit, settime)",
                signed_secs(*nanos),
                PANIC_LIMIT.as_secs()
            ),
            ClockAction::Ignore => write!(f, "in step, nothing to correct"),
        }
    }
}

fn signed_secs(nanos: i128) -> String {
    let sign = if nanos < 0 { '-' } else { '+' };
    let abs = nanos.unsigned_abs();
    format!(
        "{sign}{}.{:06} s",
        abs / 1_000_000_000,
        (abs % 1_000_000_000) / 1000
    )
}

/// The clock calls the discipline needs.
pub trait SteerableClock {
    /// Moves the clock by `nanos` (range-checked like `settime`).
    fn step_by(&self, nanos: i128) -> Result<(), ClockError>;
    /// The kernel's current frequency correction, in ppm.
    fn frequency_ppm(&self) -> Result<f64, ClockError>;
    /// Sets the kernel's frequency correction, in ppm.
    fn set_frequency_ppm(&self, ppm: f64) -> Result<(), ClockError>;
}

/// `CLOCK_REALTIME`, through `clock-steering`'s safe `clock_adjtime`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealtimeClock;

impl SteerableClock for RealtimeClock {
    fn step_by(&self, nanos: i128) -> Result<(), ClockError> {
        // Absolute and range-checked, like `settime`: a step never lands
        // outside 2020..2037.
        step_to(now_nanos()? + nanos)
    }

    fn frequency_ppm(&self) -> Result<f64, ClockError> {
        // clock-steering's `get_frequency`/`set_frequency` are in ppm
        // (they convert from and to the kernel's 2^-16 ppm units).
        UnixClock::CLOCK_REALTIME
            .get_frequency()
            .map_err(|e| ClockError::Adjust(e.to_string()))
    }

    fn set_frequency_ppm(&self, ppm: f64) -> Result<(), ClockError> {
        UnixClock::CLOCK_REALTIME
            .set_frequency(ppm)
            .map(|_| ())
            .map_err(|e| ClockError::Adjust(e.to_string()))
    }
}

/// A slew under way.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slewing {
    /// The frequency to go back to when the slew ends.
    base_ppm: f64,
}

/// The supervisor's clock state across daemon restarts (it lives as long
/// as the supervisor, i.e. since boot). Dropping it ends a slew under
/// way: the kernel would otherwise keep the temporary frequency and the
/// clock would drift by up to 500 ppm.
#[derive(Debug)]
pub struct Discipline<C: SteerableClock> {
    clock: C,
    updates: u32,
    slewing: Option<Slewing>,
}

impl<C: SteerableClock> Drop for Discipline<C> {
    fn drop(&mut self) {
        // Nothing to report to: the supervisor is going away.
        let _ = self.end_slew();
    }
}

impl<C: SteerableClock> Discipline<C> {
    pub fn new(clock: C) -> Self {
        Discipline {
            clock,
            updates: 0,
            slewing: None,
        }
    }

    /// Handles one NTP offset: decides, applies, and returns the action
    /// (for a slew, the caller calls [`Discipline::end_slew`] after
    /// `secs`).
    pub fn offset(&mut self, offset_nanos: i128) -> Result<ClockAction, ClockError> {
        let action = decide(offset_nanos, self.updates);
        self.updates = self.updates.saturating_add(1);
        match action {
            ClockAction::Step { nanos } => {
                self.end_slew()?;
                self.clock.step_by(nanos)?;
            }
            ClockAction::Slew { ppm, .. } => {
                // A new offset replaces the slew under way: it was measured
                // with that slew's correction partly done.
                let base_ppm = match self.slewing {
                    Some(s) => s.base_ppm,
                    None => self.clock.frequency_ppm()?,
                };
                self.clock.set_frequency_ppm(base_ppm + ppm)?;
                self.slewing = Some(Slewing { base_ppm });
            }
            // Nothing left to absorb: a slew under way would overshoot.
            ClockAction::Ignore => self.end_slew()?,
            ClockAction::Refuse { .. } => {}
        }
        Ok(action)
    }

    /// `settime`: the admin's absolute time, whatever the offset; a slew
    /// under way stops first.
    pub fn forced_step(
        &mut self,
        apply: impl FnOnce() -> Result<i128, ClockError>,
    ) -> Result<i128, ClockError> {
        self.end_slew()?;
        apply()
    }

    /// Puts the frequency back when a slew has run its course.
    pub fn end_slew(&mut self) -> Result<(), ClockError> {
        if let Some(s) = self.slewing.take() {
            self.clock.set_frequency_ppm(s.base_ppm)?;
        }
        Ok(())
    }

    pub fn is_slewing(&self) -> bool {
        self.slewing.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    const SEC: i128 = 1_000_000_000;

    #[derive(Default)]
    struct FakeClock {
        calls: RefCell<Vec<String>>,
        frequency: RefCell<f64>,
    }

    impl SteerableClock for Rc<FakeClock> {
        fn step_by(&self, nanos: i128) -> Result<(), ClockError> {
            self.calls.borrow_mut().push(format!("step {nanos}"));
            Ok(())
        }
        fn frequency_ppm(&self) -> Result<f64, ClockError> {
            Ok(*self.frequency.borrow())
        }
        fn set_frequency_ppm(&self, ppm: f64) -> Result<(), ClockError> {
            *self.frequency.borrow_mut() = ppm;
            self.calls.borrow_mut().push(format!("freq {ppm}"));
            Ok(())
        }
    }

    #[test]
    fn big_offsets_are_stepped_only_in_the_first_three_updates() {
        assert_eq!(decide(2 * SEC, 0), ClockAction::Step { nanos: 2 * SEC });
        assert_eq!(
            decide(-3600 * SEC, 2),
            ClockAction::Step { nanos: -3600 * SEC }
        );
        // Exactly 1 s is not over the limit: slewed.
        assert!(matches!(decide(SEC, 0), ClockAction::Slew { .. }));
        // The fourth update slews even 2 s.
        assert_eq!(
            decide(2 * SEC, 3),
            ClockAction::Slew {
                nanos: 2 * SEC,
                ppm: 500.0,
                secs: 4000.0
            }
        );
    }

    #[test]
    fn slews_run_at_500_ppm_for_as_long_as_the_offset_needs() {
        let ClockAction::Slew { ppm, secs, .. } = decide(-50_000_000, 7) else {
            panic!("a 50 ms offset is slewed");
        };
        assert_eq!(ppm, -500.0);
        assert!((secs - 100.0).abs() < 1e-6, "{secs}");
        assert_eq!(decide(0, 7), ClockAction::Ignore);
    }

    #[test]
    fn huge_offsets_after_boot_are_refused() {
        assert_eq!(
            decide(1001 * SEC, 3),
            ClockAction::Refuse { nanos: 1001 * SEC }
        );
        assert!(matches!(decide(1000 * SEC, 3), ClockAction::Slew { .. }));
        assert!(
            ClockAction::Refuse { nanos: 1001 * SEC }
                .to_string()
                .contains("ntpconfig disable, commit, settime")
        );
    }

    #[test]
    fn the_discipline_steps_slews_and_restores_the_frequency() {
        let clock = Rc::new(FakeClock::default());
        *clock.frequency.borrow_mut() = 12.5;
        let mut d = Discipline::new(Rc::clone(&clock));
        assert_eq!(
            d.offset(5 * SEC).ok(),
            Some(ClockAction::Step { nanos: 5 * SEC })
        );
        let a = d.offset(10_000_000).ok();
        assert_eq!(
            a.map(|a| a.to_string()).as_deref(),
            Some("slewing +0.010000 s over 20 s at +500 ppm")
        );
        assert!(d.is_slewing());
        // A new offset during the slew keeps the original base frequency.
        assert!(d.offset(-4_000_000).is_ok());
        assert!(d.end_slew().is_ok());
        assert!(!d.is_slewing());
        assert_eq!(
            *clock.calls.borrow(),
            [
                format!("step {}", 5 * SEC),
                "freq 512.5".to_string(),
                "freq -487.5".to_string(),
                "freq 12.5".to_string(),
            ]
        );
        // An offset of zero mid-slew means the slew is done.
        assert!(d.offset(2_000_000).is_ok());
        assert_eq!(d.offset(0).ok(), Some(ClockAction::Ignore));
        assert!(!d.is_slewing());
        assert_eq!(*clock.frequency.borrow(), 12.5);
        // A forced step (settime) ends a slew first.
        assert!(d.offset(1_000_000).is_ok());
        assert!(d.forced_step(|| Ok(0)).is_ok());
        assert_eq!(*clock.frequency.borrow(), 12.5);
        // Dropped mid-slew (the supervisor stops): the frequency goes back.
        assert!(d.offset(-1_000_000).is_ok());
        assert_eq!(*clock.frequency.borrow(), -487.5);
        drop(d);
        assert_eq!(*clock.frequency.borrow(), 12.5);
    }
}
