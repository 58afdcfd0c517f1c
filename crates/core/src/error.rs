//! What a use case can refuse, independent of how a transport shows it.

use facegate_domain::{FieldError, Ineligible, ReviewRefusal};
use facegate_storage::StoreError;

/// Why a facemap was refused (SPEC §4). Each maps to its own API code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FacemapRefusal {
    #[error("the facemap part is not a Facegate facemap")]
    NotAFacemap,
    #[error("the facemap format version is not supported")]
    UnsupportedVersion,
    #[error("the facemap was sealed with a key this deployment does not hold")]
    UnknownKey,
    #[error("the facemap belongs to another account")]
    WrongAccount,
    #[error("the facemap failed its integrity check")]
    Tampered,
    #[error("the facemap has been revoked or superseded")]
    Revoked,
    #[error("the facemap was issued for a different enrollment")]
    EnrollmentMismatch,
    #[error("the facemap was made by a face model this deployment does not support")]
    UnsupportedModel,
}

/// Why a capture call was refused (docs/capture-protocol.md). Each maps to
/// its own API code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptureRefusal {
    #[error("the authorization token is unknown or no longer valid")]
    AuthorizationTokenInvalid,
    #[error("the capture token is unknown or was replaced by a newer session")]
    SessionInvalid,
    #[error("the capture session has expired")]
    SessionExpired,
    #[error("the transaction's lifetime is over")]
    TransactionExpired,
    #[error("the transaction already has its final result")]
    TransactionFinished,
    #[error("all 3 attempts of this transaction have been used")]
    AttemptsExhausted,
    #[error("no attempt of this transaction has this id")]
    AttemptNotFound,
    #[error("the nonce is not this attempt's nonce")]
    NonceMismatch,
    #[error("the nonce belongs to an attempt that is already finished")]
    NonceReplayed,
    #[error("the attempt is finished or was replaced by a newer attempt")]
    AttemptFinished,
    #[error("the frame is outside the challenge's time window")]
    FrameOutOfWindow,
    #[error("the frame index or capture time is out of order")]
    FrameOutOfOrder,
    #[error("the attempt has received its maximum number of frames")]
    FrameLimit,
    #[error("the frame comes sooner than the challenge's frame rate allows")]
    FrameTooFast,
    #[error("the frame is larger than the upload limit")]
    FrameTooLarge,
    #[error("{0}")]
    FrameInvalid(&'static str),
    #[error("the capture session is not an ID verification's")]
    NotAScan,
    #[error("the document side is larger than the upload limit")]
    DocumentTooLarge,
    #[error("{0}")]
    DocumentInvalid(&'static str),
    #[error("the workflow does not allow this capture method for the document")]
    CaptureMethodNotAllowed,
    #[error("the document type has no such side")]
    DocumentSideNotNeeded,
    #[error("a document side the scan needs has not been given")]
    DocumentSideMissing,
    #[error("this ID verification takes a selfie: finish it with the selfie attempt")]
    SelfieRequired,
    #[error("this ID verification takes no selfie (an ID-only workflow)")]
    SelfieNotNeeded,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("missing or invalid credentials")]
    Unauthenticated,
    #[error("the credential's role does not allow this call")]
    WrongRole,
    #[error("facemap authentication is not enabled for this account")]
    FeatureNotEnabled,
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the server is busy; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("too many failed authentications of this enrollment; retry in {retry_after_secs} s")]
    LockedOut { retry_after_secs: u64 },
    #[error("the account has made too many initiations; retry in {retry_after_secs} s")]
    InitiationRateLimited { retry_after_secs: u64 },
    #[error("the data is sealed with a master key this server has not loaded")]
    KeyUnavailable,
    #[error("too many credential checks are waiting; retry in {retry_after_secs} s")]
    AuthenticationBusy { retry_after_secs: u64 },
    #[error("no such account")]
    AccountNotFound,
    #[error("no such enrollment")]
    EnrollmentNotFound,
    #[error("{0}")]
    Ineligible(Ineligible),
    #[error("{0}")]
    Facemap(FacemapRefusal),
    #[error("no such transaction")]
    TransactionNotFound,
    #[error("no such ID verification")]
    ScanNotFound,
    #[error("{}", review_refusal_text(*.0))]
    Review(ReviewRefusal),
    #[error("this deployment has no document engine: ID verification capture is unavailable")]
    DocumentEngineUnavailable,
    #[error("{0}")]
    Capture(CaptureRefusal),
    /// A uniqueness rule met a concurrent request: the request lost.
    #[error("storage conflict: {0}")]
    Conflict(String),
    /// The database failed or is unreachable.
    #[error("storage failure: {0}")]
    Database(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(detail) => Self::Conflict(detail),
            StoreError::RateLimited { retry_after_secs } => {
                Self::InitiationRateLimited { retry_after_secs }
            }
            other => Self::Database(other.to_string()),
        }
    }
}

impl ServiceError {
    pub fn field(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

fn review_refusal_text(refusal: ReviewRefusal) -> &'static str {
    match refusal {
        ReviewRefusal::NotDecided => "the ID verification is not decided yet",
        ReviewRefusal::NothingCaptured => {
            "the user never finished the ID verification: there is nothing to review"
        }
        ReviewRefusal::Unchanged => "the ID verification already has this verdict",
    }
}
