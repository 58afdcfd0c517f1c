//! Deterministic exponential retry schedule for failed callback attempts.

use std::time::Duration;

use rand::Rng;

/// Exponential back-off: `initial * factor^(attempts_made - 1)`, capped at `max_delay`, until the
/// next attempt would land later than `give_up_after` past the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub initial: Duration,
    /// Values below 1 are treated as 1 (constant delay) so delays never shrink.
    pub factor: u32,
    pub max_delay: Duration,
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    /// 1 min, doubling, capped at 4 h, for up to 26 h: integrators get at least a day to recover.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(60),
            factor: 2,
            max_delay: Duration::from_secs(4 * 3600),
            give_up_after: Duration::from_secs(26 * 3600),
        }
    }
}

impl RetrySchedule {
    /// Delay before the next attempt, given how many attempts were already made (0 is treated
    /// like 1) and the time since the first one; `None` means give up.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        elapsed_since_first_attempt: Duration,
    ) -> Option<Duration> {
        let exponent = attempts_made.saturating_sub(1);
        let delay = self
            .factor
            .max(1)
            .checked_pow(exponent)
            .and_then(|multiplier| self.initial.checked_mul(multiplier))
            // Overflow only happens far beyond any sane cap, so the cap is the right answer.
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        let next_at = elapsed_since_first_attempt.checked_add(delay)?;
        (next_at <= self.give_up_after).then_some(delay)
    }
}

/// Adds a uniformly random extra of up to `max_extra_fraction` (clamped to 0..=1) of `delay`,
/// so receivers recovering from an outage are not hit by synchronized retries.
pub fn with_jitter<R: Rng + ?Sized>(
    delay: Duration,
    max_extra_fraction: f64,
    rng: &mut R,
) -> Duration {
    let fraction = if max_extra_fraction.is_finite() {
        max_extra_fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let extra = delay.mul_f64(fraction * rng.gen_range(0.0..=1.0));
    delay.saturating_add(extra)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn run_to_exhaustion(s: &RetrySchedule) -> Vec<Duration> {
        let mut delays = Vec::new();
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while let Some(d) = s.next_delay(attempts, elapsed) {
            delays.push(d);
            elapsed += d;
            attempts += 1;
            assert!(attempts < 10_000, "schedule never gives up");
        }
        delays
    }

    #[test]
    fn default_schedule_spans_at_least_a_day() {
        let s = RetrySchedule::default();
        let delays = run_to_exhaustion(&s);
        let total: Duration = delays.iter().sum();
        assert!(total >= 24 * HOUR, "total {total:?}");
        assert!(total <= s.give_up_after, "total {total:?}");
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= s.max_delay));
        assert_eq!(delays.last(), Some(&s.max_delay));
        let secs: Vec<u64> = delays.iter().take(4).map(Duration::as_secs).collect();
        assert_eq!(secs, [60, 120, 240, 480]);
    }

    #[test]
    fn deterministic_and_zero_attempts_like_one() {
        let s = RetrySchedule::default();
        assert_eq!(
            s.next_delay(0, Duration::ZERO),
            s.next_delay(1, Duration::ZERO)
        );
        assert_eq!(run_to_exhaustion(&s), run_to_exhaustion(&s));
    }

    #[test]
    fn gives_up_past_deadline_and_survives_overflow() {
        let s = RetrySchedule::default();
        assert_eq!(s.next_delay(3, 26 * HOUR), None);
        assert_eq!(s.next_delay(1, 26 * HOUR - Duration::from_secs(59)), None);
        assert_eq!(
            s.next_delay(1, 26 * HOUR - Duration::from_secs(60)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(s.next_delay(u32::MAX, Duration::ZERO), Some(s.max_delay));
        assert_eq!(s.next_delay(2, Duration::MAX), None);
    }

    #[test]
    fn factor_below_one_is_constant() {
        let s = RetrySchedule {
            factor: 0,
            ..RetrySchedule::default()
        };
        assert_eq!(
            s.next_delay(5, Duration::ZERO),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let mut rng = rand::thread_rng();
        let base = Duration::from_secs(100);
        for _ in 0..1000 {
            let j = with_jitter(base, 0.1, &mut rng);
            assert!(j >= base && j <= Duration::from_secs(110), "{j:?}");
        }
        assert_eq!(with_jitter(base, f64::NAN, &mut rng), base);
        assert_eq!(with_jitter(base, -1.0, &mut rng), base);
    }
}
