//! Per-account initiation limits: one account's burst of initiations must not
//! use up the server for every other account.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, RateLimit, TokenBucket};

/// Used when the configuration names no limit.
pub const DEFAULT_INITIATIONS_PER_MINUTE: u32 = 600;

/// One node's first line of the per-account initiation limit: a token
/// bucket per account that initiated, in memory, so that a burst is refused
/// before it costs a database read. The limit every node shares is the
/// same bucket kept in the database and taken in the initiation's own
/// database transaction (`TransactionStore::initiate_transaction`).
#[derive(Debug)]
pub struct InitiationLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<AccountId, TokenBucket>>,
}

impl InitiationLimiter {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            limit: RateLimit::per_minute(per_minute),
            buckets: Mutex::default(),
        }
    }

    /// The limit, for the shared bucket.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one initiation from the account's budget, or answers in how many
    /// whole seconds (at least 1) the next one is available.
    pub fn take(&self, account: AccountId, now: DateTime<Utc>) -> Result<(), u64> {
        if self.limit.is_off() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let next = self.limit.take(buckets.get(&account).copied(), now)?;
        buckets.insert(account, next);
        Ok(())
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
