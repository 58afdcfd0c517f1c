//! Authentication transactions: their life from initiation to a final state,
//! and their deletion.
//!
//! Every operation that moves a transaction to a final state also counts the
//! enrollment's failure streak and queues the transaction's callback (see
//! [`crate::outbox`]) in the same database transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AuthTransaction, RateLimit, TransactionRef, TransactionState};

use crate::{CallbackRenderer, StoreResult};

/// Authentication transactions.
#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Atomically: one initiation is taken from `tx.account`'s budget under
    /// `limit` (the bucket every node shares; `StoreError::RateLimited` and
    /// nothing written when it is empty), every non-final transaction of
    /// `tx.enrollment` becomes `EXPIRED` (facemap erased, callback queued via
    /// `renderer`), then `tx` is inserted. Concurrent calls for one
    /// enrollment serialise, so exactly the last one stays open. Returns the
    /// references that were expired.
    async fn initiate_transaction(
        &self,
        tx: &AuthTransaction,
        limit: RateLimit,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Vec<TransactionRef>>;
    /// Deleted transactions are not returned.
    async fn transaction(&self, reference: TransactionRef) -> StoreResult<Option<AuthTransaction>>;
    /// Deleted transactions are not returned.
    async fn transaction_by_token_hash(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<AuthTransaction>>;
    /// `CREATED → STARTED`; false when the transaction is not `CREATED`.
    async fn mark_started(&self, reference: TransactionRef, at: DateTime<Utc>)
        -> StoreResult<bool>;
    /// Moves a non-final transaction to the final `state`, erases its facemap
    /// and queues its callback, in one database transaction. Returns the
    /// updated transaction, or `None` when it was already final (or deleted).
    async fn finalize_transaction(
        &self,
        reference: TransactionRef,
        state: TransactionState,
        at: DateTime<Utc>,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Option<AuthTransaction>>;
    /// Non-final transactions whose `expires_at <= now`, oldest first.
    async fn overdue_transactions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<TransactionRef>>;
    /// Erases the transaction's personal data (userReference, its URLs),
    /// images, decisions and facemap, ends its capture sessions, erases its
    /// callbacks (undelivered ones are never sent) with their delivery
    /// history, and hides it from retrieval; a non-final transaction becomes
    /// `EXPIRED` first, without a callback. Erased content does not linger in
    /// the database files (README, "Erasure and lockout"). Returns false when
    /// unknown or already deleted.
    async fn delete_transaction(
        &self,
        reference: TransactionRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
