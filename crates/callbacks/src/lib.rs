//! Outbound callback delivery mechanics: Standard Webhooks signing, SSRF-safe name resolution,
//! a single-attempt HTTP deliverer and the retry schedule.
//!
//! The outbox table and the worker loop that drives retries live elsewhere; they call into this
//! crate for each attempt and persist the returned [`AttemptOutcome`].

mod deliver;
mod policy;
mod resolve;
mod retry;
mod signing;

pub use deliver::{
    AttemptErrorKind, AttemptOutcome, Deliverer, DelivererConfig, Delivery, DeliveryError,
    DEFAULT_USER_AGENT, MAX_RESPONSE_BYTES,
};
pub use policy::{is_forbidden, is_permitted, AddressPolicy};
pub use resolve::{
    BoxFuture, GuardedResolver, NameLookup, ResolveError, StaticLookup, SystemLookup,
};
pub use retry::{with_jitter, RetrySchedule};
pub use signing::{
    sign, sign_all, verify, SecretError, SigningSecret, VerifyError, DEFAULT_TOLERANCE_SECS,
    MIN_SECRET_LEN, SECRET_PREFIX, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
