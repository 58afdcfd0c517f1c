//! Persistence for Facegate. [`Store`] is the one interface the rest of the
//! server uses; [`sqlite::SqliteStore`] implements it. A PostgreSQL store can be
//! added behind the same trait without touching the domain or the services.
//!
//! Every operation that changes a transaction's state also writes its callback
//! into the outbox in the same database transaction, so a state change and its
//! notification are never separated by a crash.

pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{
    Account, AccountId, AttemptOutcome, AuthTransaction, CaptureAttempt, CaptureSession,
    Credential, Enrollment, EnrollmentRef, FailureStreak, TransactionRef, TransactionState,
};
use uuid::Uuid;

pub use sqlite::SqliteStore;

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
}

pub type StoreResult<T> = Result<T, StoreError>;

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

/// Which image of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// The best face frame (`/images/face`, number 1).
    Face,
    /// A frame of the liveness sequence (`/images/liveness/{n}`).
    Liveness,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Liveness => "liveness",
        }
    }
}

/// An image sealed by the caller, to be stored with a final state.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedImage {
    pub kind: ImageKind,
    /// 1-based.
    pub n: u32,
    pub sealed: Vec<u8>,
}

/// What finishing an attempt writes.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFinish {
    pub attempt: Uuid,
    pub transaction: TransactionRef,
    pub outcome: AttemptOutcome,
    /// The attempt's decision object (JSON).
    pub decision: String,
    pub at: DateTime<Utc>,
    /// Stored with the final state (ignored when the outcome is not final).
    pub images: Vec<SealedImage>,
}

/// How [`Store::claim_due_callbacks_fair`] shares delivery slots between accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimFairness {
    /// At most this many messages of one account in flight at once.
    pub per_account: u32,
    /// Messages of each account already in flight (claimed, not yet recorded).
    pub in_flight: Vec<(AccountId, u32)>,
}

/// What still needs one master key; `facegate keys retire` refuses while any
/// count is non-zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Accounts whose current webhook signing secret is derived from the key.
    pub webhook_secrets: u64,
    /// Accounts still co-signing callbacks with the key (a rotation's overlap).
    pub webhook_overlaps: u64,
    /// Open transactions whose stored facemap the key sealed.
    pub transaction_facemaps: u64,
    /// Stored capture images the key sealed.
    pub images: u64,
    /// Facemaps the key issued that can still be presented (not revoked):
    /// the server's copy of a live enrollment, or the copy a customer holds.
    pub issued_facemaps: u64,
    /// Presentable facemaps whose key was never recorded (issued before
    /// migration 0003 and their server copy since erased): any key may have
    /// sealed them.
    pub issued_facemaps_unknown_key: u64,
}

impl KeyUsage {
    pub fn is_unused(&self) -> bool {
        *self == Self::default()
    }
}

/// An open transaction's stored facemap, for re-sealing.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFacemap {
    pub transaction: TransactionRef,
    pub account: AccountId,
    pub sealed: Vec<u8>,
}

/// A stored capture image, for re-sealing.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage {
    pub transaction: TransactionRef,
    pub account: AccountId,
    pub kind: ImageKind,
    pub n: u32,
    pub sealed: Vec<u8>,
}

/// Finding and re-sealing what a master key sealed (`facegate keys`). Rows
/// are matched by the key id in their cleartext header, so no key is needed
/// to count them.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn key_usage(&self, key_id: u32, now: DateTime<Utc>) -> StoreResult<KeyUsage>;
    /// Up to `limit` open transactions' facemaps sealed with `key_id`, with a
    /// reference after `after`, in reference order.
    async fn transaction_facemaps_sealed_with(
        &self,
        key_id: u32,
        after: Option<TransactionRef>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFacemap>>;
    /// Replaces a facemap with its re-sealed form, only while the transaction
    /// is open and still holds `old`; false, writing nothing, otherwise.
    async fn replace_transaction_facemap(
        &self,
        transaction: TransactionRef,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
    /// Up to `limit` images sealed with `key_id` after the position `after`
    /// (transaction, kind, number), in that order.
    async fn images_sealed_with(
        &self,
        key_id: u32,
        after: Option<(TransactionRef, ImageKind, u32)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredImage>>;
    /// Replaces an image with its re-sealed form while it still is `old`.
    async fn replace_image(&self, image: &StoredImage, new: &[u8]) -> StoreResult<bool>;
    /// Moves the account's webhook secret from key `from` to key `to`,
    /// co-signing with `from` until `overlap_until` when given. False when
    /// the account's secret is no longer derived from `from`.
    async fn move_webhook_key(
        &self,
        account: AccountId,
        from: u32,
        to: u32,
        overlap_until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
}

/// The storage interface.
#[async_trait]
pub trait Store: KeyStore + Send + Sync + 'static {
    /// Runs pending schema migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap liveness probe of the database (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    // Accounts and credentials.
    async fn insert_account(&self, account: &Account) -> StoreResult<()>;
    async fn update_account(&self, account: &Account) -> StoreResult<bool>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn insert_credential(&self, credential: &Credential) -> StoreResult<()>;
    async fn credential_by_token(&self, token: &str) -> StoreResult<Option<Credential>>;
    async fn list_credentials(&self, account: AccountId) -> StoreResult<Vec<Credential>>;
    /// Returns false when no active credential has this token.
    async fn revoke_credential(&self, token: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    // Enrollments.
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> StoreResult<()>;
    async fn enrollment(&self, reference: EnrollmentRef) -> StoreResult<Option<Enrollment>>;
    /// Turns the enrollment into its tombstone (`Enrollment::into_tombstone`).
    /// Returns false when unknown or already deleted.
    async fn delete_enrollment(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Revokes the enrollment's facemap. Returns false when unknown or already revoked.
    async fn revoke_facemap(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // Authentication transactions.
    /// Atomically: every non-final transaction of `tx.enrollment` becomes
    /// `EXPIRED` (facemap erased, callback queued via `renderer`), then `tx`
    /// is inserted. Concurrent calls for one enrollment serialise, so exactly
    /// the last one stays open. Returns the references that were expired.
    async fn initiate_transaction(
        &self,
        tx: &AuthTransaction,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Vec<TransactionRef>>;
    /// Deleted transactions are not returned.
    async fn transaction(&self, reference: TransactionRef) -> StoreResult<Option<AuthTransaction>>;
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
    /// The enrollment's current run of `FAILED` authentications (counted by
    /// every finalisation: `FAILED` adds one, `PASSED` ends the run).
    async fn failure_streak(&self, enrollment: EnrollmentRef) -> StoreResult<FailureStreak>;
    /// The enrollment and its failure streak in one read: what an
    /// initiation checks, without a second round trip on its hot path.
    async fn enrollment_with_streak(
        &self,
        reference: EnrollmentRef,
    ) -> StoreResult<Option<(Enrollment, FailureStreak)>>;

    // Capture (docs/capture-protocol.md).
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
    /// A sealed image of an undeleted transaction.
    async fn image(
        &self,
        transaction: TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Erases the images of transactions finalised before `before`
    /// (retention); returns how many images were erased.
    async fn purge_images(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    // Callback outbox.
    /// Claims up to `limit` pending messages due at `now`, pushing their next
    /// attempt to `now + lease` so that no other worker takes them meanwhile.
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<PendingCallback>>;
    /// Like [`Store::claim_due_callbacks`], but takes accounts in turn (each
    /// account's oldest due message first, then each one's second, …) and
    /// never beyond `fairness.per_account` in flight for one account, so one
    /// account's backlog cannot hold back another's callbacks.
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
