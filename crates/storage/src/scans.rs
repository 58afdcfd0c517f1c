//! ID verifications ("scans"): their life from initiation to a decision (or
//! `NO_ID_UPLOADED`), their document sides and images, their deletion and
//! retention. A scan's reference is its enrollment's; every write that
//! decides a scan also updates the enrollment (decision, facemap binding,
//! the server's facemap) and queues the callback, in one database
//! transaction.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{
    AttemptOutcome, AuditEntry, CaptureChannel, CaptureSession, Decision, DocumentType,
    EnrollmentRef, FacemapBinding, RateLimit, Scan, ScanOutcome, ScanState,
};
use uuid::Uuid;

use crate::{ImageKind, OutboxMessage, SealedImage, StoreResult};

/// A document side given by the user, sealed by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSide {
    pub reference: EnrollmentRef,
    /// [`ImageKind::Front`] or [`ImageKind::Back`], number 1.
    pub image: SealedImage,
    pub channel: CaptureChannel,
    /// The document type the user names with the front (none: keep).
    pub document_type: Option<DocumentType>,
    pub at: DateTime<Utc>,
}

/// The selfie attempt a write finishes.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfieFinish {
    pub attempt: Uuid,
    pub outcome: AttemptOutcome,
    pub decision: Decision,
}

/// The facemap a decided scan issues: its binding and the server's copy.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedFacemap {
    pub binding: FacemapBinding,
    pub sealed: Vec<u8>,
}

/// What deciding (or failing) a scan writes, at once.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanDecision {
    pub reference: EnrollmentRef,
    pub at: DateTime<Utc>,
    /// `DONE` or `FAILED`.
    pub state: ScanState,
    pub outcome: ScanOutcome,
    /// The evidence (JSON, no personal data).
    pub evidence: Option<String>,
    /// The selfie attempt whose end decides the scan (identity workflows).
    pub selfie: Option<SelfieFinish>,
    /// The selfie's face and liveness images, and the sealed extracted data
    /// ([`ImageKind::Document`]).
    pub images: Vec<SealedImage>,
    pub facemap: Option<IssuedFacemap>,
    /// The `NETVERIFYID` callback, when the scan has a callback URL.
    pub callback: Option<OutboxMessage>,
}

/// A person's review of a decided scan ([`facegate_domain::review`]): the
/// new outcome, the audit entry and the callback sent again, at once.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReview {
    pub reference: EnrollmentRef,
    /// The outcome the review was decided against: the write does nothing
    /// when another review changed it meanwhile.
    pub before: ScanOutcome,
    pub outcome: ScanOutcome,
    pub audit: AuditEntry,
    /// The `NETVERIFYID` callback with the new outcome, when the scan has a
    /// callback URL.
    pub callback: Option<OutboxMessage>,
}

/// ID verifications.
#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Takes one initiation from the scan's account's budget under `limit`
    /// (the one every node shares, as for authentications:
    /// `StoreError::RateLimited` and nothing written when it is empty), then
    /// inserts the scan and its undecided enrollment.
    async fn insert_scan(&self, scan: &Scan, limit: RateLimit) -> StoreResult<()>;
    /// Deleted scans are not returned.
    async fn scan(&self, reference: EnrollmentRef) -> StoreResult<Option<Scan>>;
    /// Deleted scans are not returned.
    async fn scan_by_token_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<Scan>>;
    /// Records `session` (a scan session) for its scan when that is pending
    /// and not deleted, ending the scan's earlier sessions and recording the
    /// client kind and, when known, the client's address. Returns false,
    /// writing nothing, otherwise.
    async fn open_scan_session(
        &self,
        session: &CaptureSession,
        client: Option<IpAddr>,
    ) -> StoreResult<bool>;
    /// Stores (or replaces) a document side of a pending scan. Returns false,
    /// writing nothing, when the scan is not pending.
    async fn store_scan_side(&self, side: &ScanSide) -> StoreResult<bool>;
    /// The images a scan holds (kind and number), the extracted data
    /// included, in kind and number order.
    async fn scan_images(&self, reference: EnrollmentRef) -> StoreResult<Vec<(ImageKind, u32)>>;
    /// A sealed image (or the sealed extracted data) of an undeleted scan.
    async fn scan_image(
        &self,
        reference: EnrollmentRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Finishes an open selfie attempt that does not decide its scan (a
    /// retry). False, writing nothing, when the attempt was not open or the
    /// scan not pending.
    async fn finish_selfie_attempt(
        &self,
        reference: EnrollmentRef,
        finish: &SelfieFinish,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Decides a pending scan: its outcome, evidence, images, the selfie
    /// attempt, the enrollment's decision and facemap, and the callback, in
    /// one database transaction. False, writing nothing, when the scan was
    /// no longer pending (or the selfie attempt no longer open).
    async fn decide_scan(&self, decision: &ScanDecision) -> StoreResult<bool>;
    /// Pending scans whose `expires_at <= now`, oldest first.
    async fn overdue_scans(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<EnrollmentRef>>;
    /// Decided, undeleted scans whose account's retention has passed
    /// (`decided_at + scan_retention_days <= now`), oldest first.
    async fn scans_past_retention(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<EnrollmentRef>>;
    /// Erases the scan's personal data (references, URLs), its images and
    /// extracted data, ends its capture sessions, erases its callbacks with
    /// their delivery history, and turns its enrollment into the tombstone
    /// (`Enrollment::into_tombstone`: the server's facemap goes, the decision
    /// and binding stay). A pending scan first fails `NO_ID_UPLOADED`,
    /// without a callback. Returns false when unknown or already deleted.
    async fn delete_scan(&self, reference: EnrollmentRef, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Writes a review of a decided, undeleted scan whose outcome is still
    /// `before`: the scan's and its enrollment's verdict (an enrollment no
    /// longer approved authenticates nobody; its facemap binding stays, so
    /// that a later approval restores it), the audit entry and the callback.
    /// False, writing nothing, otherwise.
    async fn review_scan(&self, review: &ScanReview) -> StoreResult<bool>;
    /// The scan's audit trail, oldest first (also after its deletion; the
    /// reasons are erased with the scan).
    async fn audit_trail(&self, reference: EnrollmentRef) -> StoreResult<Vec<AuditEntry>>;
}
