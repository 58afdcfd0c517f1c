//! The API's wire: a `serde` type for every request and response body,
//! members camelCase as on the wire, each with its `utoipa` schema, from
//! which `docs/openapi.json` is generated (`crate::openapi`). Handlers
//! answer with these types; the integration tests and the bench read and
//! write them. The callback body and the timestamp are in `facegate-proto`,
//! which the core renders the callback with; they are re-exported here.
//!
//! Request members are [`Field`]s, so that a body is refused member by
//! member with the `errors[]` the API has always given, instead of failing
//! as a whole at its first wrong member.

mod capture;
mod field;
mod initiate;
mod problem;
mod retrieval;
mod review;
mod scan;

pub use capture::{
    AttemptFinished, AttemptStarted, FinishAttempt, FrameAccepted, FrameLimits, OpenSession,
    Redirect, RedirectStatus, Session, SessionOpened, StartAttempt,
};
pub use facegate_proto::{
    AuthenticationCallback, CallbackIdentity, IdVerificationCallback, RejectReasonBody, Timestamp,
    AUTHENTICATION_CALLBACK, ID_VERIFICATION_CALLBACK,
};
pub use field::{mistyped, Field, Text, WholeNumber};
pub use initiate::{EnrollmentMetadata, FacemapInitiateForm, FacemapInitiated, WebInitiated};
pub use problem::{Problem, ProblemField, PROBLEM};
pub use retrieval::{
    CallbackDelivery, CallbackHistory, DeliveryAttempt, DeliveryStatus, Image, Transaction,
    TransactionDeleted,
};
pub use review::{AuditRecord, ScanAudit, ScanReviewBody, ScanReviewed};
pub use scan::{
    Classified, IdVerificationInitiated, PartHeader, RetrievalIdentity, ScanCapture, ScanData,
    ScanDeleted, ScanDocument, ScanFinished, ScanImageList, ScanInitiate, ScanPreset, ScanStatus,
    ScanTransaction, ScanVerification,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz` and `GET /readyz` when they succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready` (the database answers).
    #[schema(example = "ok")]
    pub status: String,
}
