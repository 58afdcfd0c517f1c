//! The callback outbox: messages written in the same database transaction as
//! the state change they report, their claiming by delivery workers, their
//! delivery history and its retention.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{AccountId, AuthTransaction, TransactionRef};
use uuid::Uuid;

use crate::StoreResult;

/// A callback to deliver, written in the same database transaction as the
/// state change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Also the Standard Webhooks `webhook-id`: stable across retries.
    pub id: Uuid,
    pub account: AccountId,
    pub transaction: TransactionRef,
    /// `callBackType`, e.g. `NETVERIFY_AUTHENTICATION`.
    pub event: String,
    pub url: String,
    /// The `application/x-www-form-urlencoded` body.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Renders the callback for a transaction that just reached a final state.
/// Storage calls it inside its database transaction, with the transaction as
/// it is after the change; `None` means the transaction has no callback URL.
pub trait CallbackRenderer: Send + Sync {
    fn render(&self, tx: &AuthTransaction) -> Option<OutboxMessage>;
}

/// Where an outbox message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    Delivered,
    /// Retries were exhausted.
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::Failed => "FAILED",
        }
    }
}

/// An outbox message claimed for delivery by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCallback {
    pub message: OutboxMessage,
    /// Attempts made so far.
    pub attempts: u32,
    pub first_attempt_at: Option<DateTime<Utc>>,
}

/// One delivery attempt, as recorded and shown by the admin API.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub outbox_id: Uuid,
    /// 1-based.
    pub attempt_no: u32,
    pub at: DateTime<Utc>,
    pub delivered: bool,
    pub status: Option<u16>,
    /// Stable snake_case error kind (e.g. `forbidden_destination`).
    pub error: Option<String>,
    pub detail: Option<String>,
    pub duration_ms: u64,
}

/// What happens to an outbox message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// A callback with its whole delivery history.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRecord {
    pub message: OutboxMessage,
    pub status: OutboxStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// How [`OutboxStore::claim_due_callbacks_fair`] shares delivery slots between accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFairness {
    /// At most this many messages of one account in flight at once.
    pub per_account: u32,
    /// Messages of each account already in flight (claimed, not yet recorded).
    pub in_flight: Vec<(AccountId, u32)>,
}

/// The callback outbox. Messages are queued by the state changes of
/// [`crate::TransactionStore`] and [`crate::CaptureStore`], never on their own.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` pending messages due at `now`, pushing their next
    /// attempt to `now + lease` so that no other worker takes them meanwhile.
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<PendingCallback>>;
    /// Like [`OutboxStore::claim_due_callbacks`], but takes accounts in turn
    /// (each account's oldest due message first, then each one's second, …)
    /// and never beyond `fairness.per_account` in flight for one account, so
    /// one account's backlog cannot hold back another's callbacks.
    async fn claim_due_callbacks_fair(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        fairness: &ClaimFairness,
    ) -> StoreResult<Vec<PendingCallback>>;
    /// Records a delivery attempt. A message that reaches `DELIVERED` or
    /// `FAILED` loses its body (the history keeps status, attempts and
    /// times); a message erased meanwhile (its transaction was deleted) is
    /// left erased and nothing is recorded.
    async fn record_attempt(&self, attempt: &DeliveryAttempt, next: NextStep) -> StoreResult<()>;
    /// Erases delivered and failed callbacks created before `before`, with
    /// their delivery attempts (retention); returns how many were erased.
    async fn purge_callback_history(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Every callback of a transaction of `account`, oldest first, with attempts.
    async fn callbacks_for_transaction(
        &self,
        account: AccountId,
        reference: TransactionRef,
    ) -> StoreResult<Vec<CallbackRecord>>;
}
