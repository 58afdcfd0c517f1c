//! Per-account initiation limits: one account's burst of initiations must not
//! use up the server for every other account.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use facegate_domain::AccountId;

/// Used when the configuration names no limit.
pub const DEFAULT_INITIATIONS_PER_MINUTE: u32 = 600;

/// A token bucket per account: `per_minute` initiations may come at once,
/// and the budget refills evenly over a minute. The buckets live in memory,
/// one per account that initiated; each instance of a deployment counts its
/// own.
#[derive(Debug)]
pub struct InitiationLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<AccountId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl InitiationLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Takes one initiation from the account's budget, or answers in how many
    /// whole seconds (at least 1) the next one is available.
    pub fn take(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(account).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = (now - bucket.at).num_milliseconds().max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil();
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn a_burst_is_limited_per_account_and_refills_over_the_minute() {
        let limiter = InitiationLimiter::new(6);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let (a, b) = (AccountId::new_random(), AccountId::new_random());
        for _ in 0..6 {
            limiter.take(a, now).unwrap();
        }
        assert_eq!(limiter.take(a, now), Err(10));
        limiter.take(b, now).unwrap();
        assert_eq!(limiter.take(a, now + Duration::seconds(9)), Err(1));
        limiter.take(a, now + Duration::seconds(10)).unwrap();
        assert!(InitiationLimiter::new(0).take(a, now).is_ok());
    }
}
