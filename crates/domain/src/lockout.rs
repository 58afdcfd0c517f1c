//! Failure lockout (NIST SP 800-63B §5.2.2): after a run of consecutive
//! `FAILED` authentications of one enrollment, new initiations wait a delay
//! that doubles with every further failure; a `PASSED` one ends the run.
//! Only `FAILED` counts: an `INVALID` or `EXPIRED` transaction says nothing
//! about who stood in front of the camera.

use chrono::{DateTime, Duration, Utc};

/// No lockout lasts longer than this, however long the run of failures.
pub const MAX_LOCKOUT_DELAY: Duration = Duration::days(1);

/// When an enrollment locks and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures in a row that lock the enrollment; 0 disables the lockout.
    pub max_consecutive_failures: u32,
    /// The first lockout's length, doubled by every further failure; zero
    /// disables the lockout.
    pub base_delay: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_consecutive_failures: 5,
            base_delay: Duration::minutes(1),
        }
    }
}

/// An enrollment's current run of `FAILED` authentications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureStreak {
    pub consecutive: u32,
    /// When the last of them failed.
    pub last_failure_at: Option<DateTime<Utc>>,
}

impl LockoutPolicy {
    pub fn is_enabled(&self) -> bool {
        self.max_consecutive_failures > 0 && self.base_delay > Duration::zero()
    }

    /// How long an initiation at `now` must still wait; `None` when it may go
    /// ahead. One more try is allowed once the delay has passed, so a run
    /// only grows (and its delay doubles) through real failures.
    pub fn retry_after(&self, streak: &FailureStreak, now: DateTime<Utc>) -> Option<Duration> {
        if !self.is_enabled() || streak.consecutive < self.max_consecutive_failures {
            return None;
        }
        let last = streak.last_failure_at?;
        let doublings = streak.consecutive - self.max_consecutive_failures;
        let delay = doubled(self.base_delay, doublings).min(MAX_LOCKOUT_DELAY);
        let until = last.checked_add_signed(delay)?;
        (until > now).then(|| until - now)
    }
}

/// `base × 2^n`, saturating at the maximum lockout.
fn doubled(base: Duration, n: u32) -> Duration {
    let factor = 1i32.checked_shl(n.min(30)).unwrap_or(i32::MAX);
    base.checked_mul(factor).unwrap_or(MAX_LOCKOUT_DELAY)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn streak(consecutive: u32) -> FailureStreak {
        FailureStreak {
            consecutive,
            last_failure_at: Some(t0()),
        }
    }

    #[test]
    fn the_fifth_failure_locks_for_the_base_delay_and_each_further_one_doubles_it() {
        let policy = LockoutPolicy::default();
        assert_eq!(policy.retry_after(&streak(4), t0()), None);
        assert_eq!(
            policy.retry_after(&streak(5), t0()),
            Some(Duration::minutes(1))
        );
        assert_eq!(
            policy.retry_after(&streak(6), t0()),
            Some(Duration::minutes(2))
        );
        assert_eq!(
            policy.retry_after(&streak(8), t0()),
            Some(Duration::minutes(8))
        );
        assert_eq!(
            policy.retry_after(&streak(5), t0() + Duration::seconds(45)),
            Some(Duration::seconds(15))
        );
        assert_eq!(
            policy.retry_after(&streak(5), t0() + Duration::minutes(1)),
            None
        );
        assert_eq!(
            policy.retry_after(&streak(200), t0()),
            Some(MAX_LOCKOUT_DELAY)
        );
    }

    #[test]
    fn zero_disables_the_lockout() {
        for policy in [
            LockoutPolicy {
                max_consecutive_failures: 0,
                ..LockoutPolicy::default()
            },
            LockoutPolicy {
                base_delay: Duration::zero(),
                ..LockoutPolicy::default()
            },
        ] {
            assert!(!policy.is_enabled());
            assert_eq!(policy.retry_after(&streak(1_000), t0()), None);
        }
    }

    proptest! {
        /// Below the threshold nothing waits; at or above it the wait is
        /// positive, never above the cap, and never shorter for a longer run.
        #[test]
        fn the_delay_grows_with_the_run_and_stays_capped(
            max in 1u32..20,
            base_secs in 1i64..100_000,
            consecutive in 0u32..100,
            elapsed_secs in 0i64..200_000,
        ) {
            let policy = LockoutPolicy { max_consecutive_failures: max, base_delay: Duration::seconds(base_secs) };
            let now = t0() + Duration::seconds(elapsed_secs);
            let wait = policy.retry_after(&streak(consecutive), now);
            if consecutive < max {
                prop_assert_eq!(wait, None);
            }
            if let Some(wait) = wait {
                prop_assert!(wait > Duration::zero() && wait <= MAX_LOCKOUT_DELAY);
            }
            let longer = policy.retry_after(&streak(consecutive + 1), now).unwrap_or_else(Duration::zero);
            prop_assert!(longer >= wait.unwrap_or_else(Duration::zero));
            if consecutive >= max && elapsed_secs == 0 {
                prop_assert!(wait.is_some());
            }
        }
    }
}
