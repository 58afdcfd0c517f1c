//! Capture sessions and attempts (docs/capture-protocol.md), and the
//! finishing of an attempt, which may finalise its transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{
    AttemptOutcome, AuthTransaction, CaptureAttempt, CaptureSession, TransactionRef,
};
use uuid::Uuid;

use crate::{CallbackRenderer, SealedImage, StoreResult};

/// What finishing an attempt writes.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFinish {
    pub attempt: Uuid,
    pub transaction: TransactionRef,
    pub outcome: AttemptOutcome,
    /// The attempt's decision record.
    pub decision: facegate_domain::Decision,
    pub at: DateTime<Utc>,
    /// Stored with the final state (ignored when the outcome is not final).
    pub images: Vec<SealedImage>,
}

/// Capture sessions and attempts.
#[async_trait]
pub trait CaptureStore: Send + Sync {
    /// Records `session` for its transaction when that is open and not
    /// deleted: ends the transaction's earlier sessions and moves it from
    /// `CREATED` to `STARTED`. Returns false, writing nothing, otherwise.
    async fn open_capture_session(&self, session: &CaptureSession) -> StoreResult<bool>;
    /// The session with this token hash, ended or expired ones included.
    async fn capture_session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<CaptureSession>>;
    /// Inserts an open attempt, abandoning the transaction's open ones.
    /// `Conflict` when its number or nonce is taken (a concurrent start).
    async fn insert_attempt(&self, attempt: &CaptureAttempt) -> StoreResult<()>;
    async fn attempt(&self, id: Uuid) -> StoreResult<Option<CaptureAttempt>>;
    /// The attempt whose nonce is `nonce`, whatever its state.
    async fn attempt_by_nonce(&self, nonce: &[u8; 16]) -> StoreResult<Option<CaptureAttempt>>;
    /// Attempts the transaction has used (open, finished and abandoned).
    async fn attempts_used(&self, transaction: TransactionRef) -> StoreResult<u8>;
    /// Finishes an open attempt. When the outcome is final, in the same
    /// database transaction the transaction reaches that state with the
    /// decision and the images, its facemap is erased and its callback
    /// queued. Returns the transaction as it is afterwards, or `None`, writing
    /// nothing, when the attempt was not open or the transaction not open.
    async fn finish_attempt(
        &self,
        finish: &AttemptFinish,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Option<AuthTransaction>>;
}
