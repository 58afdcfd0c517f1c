//! The one error every storage operation returns, whatever the backend.

/// A storage failure. The message is for logs; it never contains facemaps,
/// secrets or other customer data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. a duplicate token or reference).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row could not be mapped back to the domain (should never happen).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
    /// A write was refused under a rate limit its caller gave; nothing was
    /// written. The next one is allowed in `retry_after_secs` seconds.
    #[error("rate limited: retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
}

pub type StoreResult<T> = Result<T, StoreError>;
