//! Rate limits as token buckets: `per_minute` events may come at once, and
//! the budget refills evenly over a minute. A bucket is plain data (kept in
//! micro-tokens, so that a stored one round-trips exactly): one node keeps
//! its buckets in memory, the database keeps the ones every node shares.

use chrono::{DateTime, Utc};

const MICRO: i64 = 1_000_000;

/// A limit of `per_minute` events; 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: u32,
}

/// What is left of a budget at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// Millionths of an event.
    pub micro_tokens: i64,
    pub at: DateTime<Utc>,
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit { per_minute: 0 };

    pub fn per_minute(per_minute: u32) -> Self {
        Self { per_minute }
    }

    pub fn is_off(&self) -> bool {
        self.per_minute == 0
    }

    /// A bucket with the whole budget left at `now`.
    pub fn full(&self, now: DateTime<Utc>) -> TokenBucket {
        TokenBucket {
            micro_tokens: i64::from(self.per_minute) * MICRO,
            at: now,
        }
    }

    /// Takes one event from `bucket` (a full one when there is none yet) at
    /// `now`: the bucket after it, or in how many whole seconds (at least 1)
    /// the next event is allowed. A bucket from a later moment (another
    /// node's clock a little ahead) refills nothing.
    pub fn take(
        &self,
        bucket: Option<TokenBucket>,
        now: DateTime<Utc>,
    ) -> Result<TokenBucket, u64> {
        let full = self.full(now);
        if self.is_off() {
            return Ok(full);
        }
        let capacity = full.micro_tokens;
        let bucket = bucket.unwrap_or(full);
        let (tokens, at) = (bucket.micro_tokens.clamp(0, capacity), bucket.at);
        let elapsed_ms = (now - at).num_milliseconds().clamp(0, 60_000);
        // per_minute events per 60,000 ms, in micro-tokens.
        let refill = elapsed_ms * i64::from(self.per_minute) * MICRO / 60_000;
        let tokens = (tokens + refill).min(capacity);
        if tokens >= MICRO {
            Ok(TokenBucket {
                micro_tokens: tokens - MICRO,
                at: now.max(at),
            })
        } else {
            let missing = MICRO - tokens;
            let per_second = i64::from(self.per_minute) * MICRO / 60;
            let wait = (missing + per_second - 1) / per_second.max(1);
            Err(u64::try_from(wait).unwrap_or(u64::MAX).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_burst_takes_the_whole_budget_then_waits_for_the_refill() {
        let limit = RateLimit::per_minute(6);
        let mut bucket = None;
        for _ in 0..6 {
            bucket = Some(limit.take(bucket, t0()).unwrap());
        }
        assert_eq!(limit.take(bucket, t0()), Err(10));
        assert_eq!(limit.take(bucket, t0() + Duration::seconds(9)), Err(1));
        assert!(limit.take(bucket, t0() + Duration::seconds(10)).is_ok());
        assert!(RateLimit::OFF.take(bucket, t0()).is_ok());
    }

    #[test]
    fn a_bucket_from_a_clock_ahead_refills_nothing_and_keeps_its_time() {
        let limit = RateLimit::per_minute(60);
        let ahead = TokenBucket {
            micro_tokens: 0,
            at: t0() + Duration::seconds(5),
        };
        assert_eq!(limit.take(Some(ahead), t0()), Err(1));
        let later = limit
            .take(Some(ahead), t0() + Duration::seconds(6))
            .unwrap();
        assert_eq!(later.at, t0() + Duration::seconds(6));
        assert_eq!(later.micro_tokens, 0);
    }

    proptest! {
        /// Over any sequence of requests, no more events are allowed than
        /// the budget plus what a minute's rate refills over the span.
        #[test]
        fn never_more_than_the_budget_and_its_refill(
            per_minute in 1u32..1_000,
            gaps in proptest::collection::vec(0i64..5_000, 1..300),
        ) {
            let limit = RateLimit::per_minute(per_minute);
            let (mut bucket, mut now, mut allowed) = (None, t0(), 0u64);
            for gap in &gaps {
                now += Duration::milliseconds(*gap);
                if let Ok(next) = limit.take(bucket, now) {
                    bucket = Some(next);
                    allowed += 1;
                }
            }
            let span_ms = (now - t0()).num_milliseconds() as u64;
            let bound = u64::from(per_minute) + u64::from(per_minute) * span_ms / 60_000 + 1;
            prop_assert!(allowed <= bound, "{allowed} > {bound}");
        }
    }
}
