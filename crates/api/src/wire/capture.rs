//! The capture protocol's bodies (docs/capture-protocol.md).

use facegate_core::capture::{FinishedAttempt, SessionView, StartedAttempt};
use facegate_domain::{
    AttemptOutcome, Challenge, Guidance, ScanSource, TransactionRef, TransactionState,
};
use facegate_proto::schema::{scan_source_schema, string_enum};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Field, Timestamp};

/// `POST /api/capture/v1/session`: the authorization token for a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenSession {
    /// The `authorizationToken` of the `redirectUrl`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, required = true)]
    pub authorization_token: Field<String>,
    /// `SDK` for a native app, `WEB` (the default) for the web client;
    /// becomes the transaction's `scanSource`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(schema_with = requested_scan_source_schema)]
    pub scan_source: Field<ScanSource>,
}

fn requested_scan_source_schema() -> utoipa::openapi::Object {
    let mut schema = scan_source_schema();
    schema.default = Some(ScanSource::Web.as_str().into());
    schema.description = Some(
        "`SDK` for a native app, `WEB` (the default) for the web client; becomes the \
         transaction's `scanSource`."
            .to_owned(),
    );
    schema
}

/// A capture session as its client may know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub expires_at: Timestamp,
    /// The authentication's reference, or the ID verification's.
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: TransactionRef,
    /// An authentication's state, or an ID verification's (`PENDING`,
    /// `DONE`, `FAILED`).
    #[schema(schema_with = session_state_schema)]
    pub transaction_status: String,
    /// The web client's language.
    pub locale: String,
    pub max_attempts: u8,
    pub attempts_used: u8,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    /// The account's `parentOrigin`: the only origin the web client posts
    /// its result message to; `null` posts to any parent.
    pub parent_origin: Option<String>,
    pub frame: FrameLimits,
    /// For an ID verification: its document sides and whether a selfie
    /// follows; absent for an authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<super::ScanCapture>,
}

fn session_state_schema() -> utoipa::openapi::Object {
    let mut states: Vec<&str> = TransactionState::ALL.map(TransactionState::as_str).to_vec();
    states.extend(["PENDING", "DONE", "FAILED"]);
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(states))
        .build()
}

/// What a frame upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrameLimits {
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    /// Frames per second the client should at least send.
    pub min_fps: u32,
}

impl Session {
    pub fn new(view: &SessionView, frame: FrameLimits) -> Self {
        Self {
            expires_at: view.expires_at.into(),
            transaction_reference: view.transaction,
            transaction_status: view.transaction_state.to_owned(),
            locale: view.locale.clone(),
            max_attempts: facegate_domain::MAX_ATTEMPTS,
            attempts_used: view.attempts_used,
            success_url: view.success_url.clone(),
            error_url: view.error_url.clone(),
            parent_origin: view.parent_origin.clone(),
            frame,
            scan: view.scan.as_ref().map(super::ScanCapture::from),
        }
    }
}

/// A new capture session: the session and its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOpened {
    /// Sent as `Authorization: Bearer <captureToken>` by every later call.
    pub capture_token: String,
    #[serde(flatten)]
    pub session: Session,
}

/// `POST /api/capture/v1/attempts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartAttempt {
    /// `false`: no screen-colour sequence (photosensitive users; lowers
    /// assurance).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = bool, default = true)]
    pub flash: Field<bool>,
}

/// An attempt just started: its nonce and its random challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptStarted {
    #[schema(value_type = uuid::Uuid)]
    pub attempt_id: uuid::Uuid,
    pub attempt_number: u8,
    pub attempts_left: u8,
    /// Base64url, sent with every frame (`Capture-Nonce`) and the finish.
    pub nonce: String,
    /// The first frame must come before this.
    pub start_by: Timestamp,
    /// The liveness challenge: its phases, head turns and screen colours
    /// (docs/capture-protocol.md).
    #[schema(value_type = Object)]
    pub challenge: Challenge,
}

impl From<&StartedAttempt> for AttemptStarted {
    fn from(started: &StartedAttempt) -> Self {
        use base64::Engine as _;
        let a = &started.attempt;
        Self {
            attempt_id: a.id,
            attempt_number: a.number,
            attempts_left: started.attempts_left,
            nonce: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(a.nonce),
            start_by: a.start_by().into(),
            challenge: a.challenge.clone(),
        }
    }
}

/// The answer to a frame upload: the frame is accepted for analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FrameAccepted {
    /// The frame's `Capture-Frame` index.
    pub frame: u32,
}

/// `POST /api/capture/v1/attempts/{attempt}/finish`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinishAttempt {
    /// The attempt's nonce.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, required = true)]
    pub nonce: Field<String>,
}

/// The outcome of a finished attempt (never a score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptFinished {
    #[schema(schema_with = outcome_schema)]
    pub outcome: AttemptOutcome,
    pub attempts_left: u8,
    /// Stable codes of what the user should change, e.g. `FACE_NOT_FOUND`.
    pub guidance: Vec<Guidance>,
    /// Where to go once the transaction is final.
    pub redirect: Option<Redirect>,
}

fn outcome_schema() -> utoipa::openapi::Object {
    use AttemptOutcome as O;
    string_enum([O::Passed, O::Failed, O::Retry, O::Invalid].map(O::as_str))
}

/// Where the client goes once the transaction is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    /// The success or error URL with the result appended; `null` when the
    /// transaction has none.
    pub url: Option<String>,
    pub transaction_status: RedirectStatus,
    /// With `ERROR`, e.g. 9836 (no usable capture).
    pub error_code: Option<u16>,
}

/// `SUCCESS` or `ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedirectStatus {
    Success,
    Error,
}

impl From<&facegate_core::capture::Redirect> for Redirect {
    fn from(r: &facegate_core::capture::Redirect) -> Self {
        Self {
            url: r.url.clone(),
            transaction_status: if r.success {
                RedirectStatus::Success
            } else {
                RedirectStatus::Error
            },
            error_code: r.error_code,
        }
    }
}

impl From<&FinishedAttempt> for AttemptFinished {
    fn from(done: &FinishedAttempt) -> Self {
        Self {
            outcome: done.outcome,
            attempts_left: done.attempts_left,
            guidance: done.guidance.clone(),
            redirect: done.redirect.as_ref().map(Redirect::from),
        }
    }
}
