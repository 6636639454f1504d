//! The crash record: crashes within a sliding window, the back-off before
//! the next start, and when to give up.

use std::collections::VecDeque;
use std::time::Duration;

use breakwater_board::SupervisorLimits;
use tokio::time::Instant;

/// The crash record over the sliding window.
#[derive(Debug)]
pub(super) struct Crashes {
    limits: SupervisorLimits,
    times: VecDeque<Instant>,
}

impl Crashes {
    pub(super) fn new(limits: SupervisorLimits) -> Self {
        Self {
            limits,
            times: VecDeque::new(),
        }
    }

    /// Records a crash at `now`; `Some(back-off)` to restart after, `None`
    /// to give up.
    pub(super) fn record(&mut self, now: Instant) -> Option<Duration> {
        let window = Duration::from_secs(self.limits.crash_window_secs.into());
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.times.pop_front();
        }
        self.times.push_back(now);
        let n = self.times.len() as u32;
        if n >= self.limits.max_crashes {
            return None;
        }
        let factor = 1u64.checked_shl(n - 1).unwrap_or(u64::MAX);
        let ms = self
            .limits
            .backoff_initial_ms
            .saturating_mul(factor)
            .min(self.limits.backoff_max_ms);
        Some(Duration::from_millis(ms))
    }

    pub(super) fn count(&self) -> usize {
        self.times.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SupervisorLimits {
        SupervisorLimits {
            max_crashes: 4,
            crash_window_secs: 60,
            backoff_initial_ms: 100,
            backoff_max_ms: 350,
            ..SupervisorLimits::default()
        }
    }

    #[test]
    fn back_off_doubles_then_caps_then_gives_up() {
        let mut c = Crashes::new(limits());
        let t = Instant::now();
        assert_eq!(c.record(t), Some(Duration::from_millis(100)));
        assert_eq!(c.record(t), Some(Duration::from_millis(200)));
        assert_eq!(c.record(t), Some(Duration::from_millis(350)));
        assert_eq!(c.record(t), None, "the 4th crash in the window");
    }

    #[test]
    fn crashes_outside_the_window_are_forgotten() {
        let mut c = Crashes::new(limits());
        let t = Instant::now();
        for _ in 0..3 {
            assert!(c.record(t).is_some());
        }
        let later = t + Duration::from_secs(61);
        assert_eq!(c.record(later), Some(Duration::from_millis(100)));
        assert_eq!(c.count(), 1);
    }
}
