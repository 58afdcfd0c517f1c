//! The capture protocol's routes (docs/capture-protocol.md): thin handlers
//! that read the capture token, the body and the frame headers, delegate to
//! the core in one call, and answer.

use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use facegate_core::CaptureRefusal;
use facegate_domain::{FieldError, ScanSource};

use crate::error::{ApiError, Code};
use crate::extract::{check_content_length, content_type_is, json_body};
use crate::openapi::{ApiHeaders, AttemptPath, Binary, FrameHeaders};
use crate::state::AppState;
use crate::wire::mistyped;
use crate::wire::PROBLEM;
use crate::wire::{
    AttemptFinished, AttemptStarted, FinishAttempt, FrameAccepted, FrameLimits, OpenSession,
    Problem, Session, SessionOpened, StartAttempt,
};

type ApiResult<T> = Result<T, ApiError>;

/// Upper bound of any frame body the router accepts; the configured limit
/// (at most this) is enforced by the core and by `Content-Length` first.
pub const MAX_FRAME_BODY: usize = 4 * 1024 * 1024;

impl From<CaptureRefusal> for Code {
    fn from(r: CaptureRefusal) -> Self {
        match r {
            CaptureRefusal::AuthorizationTokenInvalid => Code::CAPTURE_TOKEN_INVALID,
            CaptureRefusal::SessionInvalid => Code::CAPTURE_SESSION_INVALID,
            CaptureRefusal::SessionExpired => Code::CAPTURE_SESSION_EXPIRED,
            CaptureRefusal::TransactionExpired => Code::TRANSACTION_EXPIRED,
            CaptureRefusal::TransactionFinished => Code::TRANSACTION_FINISHED,
            CaptureRefusal::AttemptsExhausted => Code::ATTEMPTS_EXHAUSTED,
            CaptureRefusal::AttemptNotFound => Code::ATTEMPT_NOT_FOUND,
            CaptureRefusal::NonceMismatch => Code::NONCE_MISMATCH,
            CaptureRefusal::NonceReplayed => Code::NONCE_REPLAYED,
            CaptureRefusal::AttemptFinished => Code::ATTEMPT_FINISHED,
            CaptureRefusal::FrameOutOfWindow => Code::FRAME_OUT_OF_WINDOW,
            CaptureRefusal::FrameOutOfOrder => Code::FRAME_OUT_OF_ORDER,
            CaptureRefusal::FrameLimit => Code::FRAME_LIMIT,
            CaptureRefusal::FrameTooFast => Code::FRAME_TOO_FAST,
            CaptureRefusal::FrameTooLarge => Code::FRAME_TOO_LARGE,
            CaptureRefusal::FrameInvalid(_) => Code::FRAME_INVALID,
        }
    }
}

/// The capture token of `Authorization: Bearer …`.
pub fn bearer(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Code::CAPTURE_SESSION_INVALID,
                "send the capture token as Authorization: Bearer <captureToken>",
            )
        })
}

fn frame_limits(state: &AppState) -> FrameLimits {
    let capture = state.services.capture_settings();
    FrameLimits {
        max_bytes: capture.max_frame_bytes,
        max_width: capture.max_frame_side,
        max_height: capture.max_frame_side,
        min_fps: 15,
    }
}

/// `POST /api/capture/v1/session`.
#[utoipa::path(
    post,
    path = "/api/capture/v1/session",
    tag = "Capture",
    operation_id = "openCaptureSession",
    summary = "Exchange the authorization token for a capture session",
    params(ApiHeaders),
    request_body(content = OpenSession, content_type = "application/json"),
    responses(
        (status = 201, description = "The capture session", body = SessionOpened),
        (status = 400, description = "Invalid body", body = Problem, content_type = PROBLEM),
        (status = 401, description = "CAPTURE_TOKEN_INVALID", body = Problem, content_type = PROBLEM),
        (status = 409, description = "TRANSACTION_EXPIRED or TRANSACTION_FINISHED", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not JSON", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn open_session(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let body: OpenSession = json_body(request).await?;
    let token = body.authorization_token.required("authorizationToken")?;
    // A native app says so; the web client sends nothing.
    let scan_source = body
        .scan_source
        .optional(|| {
            FieldError::new(
                "scanSource",
                "FIELD_INVALID",
                "scanSource must be WEB or SDK",
            )
        })?
        .unwrap_or(ScanSource::Web);
    let opened = state
        .capture
        .open_capture_session(&token, scan_source)
        .await?;
    let answer = SessionOpened {
        capture_token: opened.capture_token,
        session: Session::new(&opened.view, frame_limits(&state)),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /api/capture/v1/session`.
#[utoipa::path(
    get,
    path = "/api/capture/v1/session",
    tag = "Capture",
    operation_id = "captureSession",
    summary = "The capture session's state",
    security(("captureToken" = [])),
    params(ApiHeaders),
    responses(
        (status = 200, description = "The session without its token", body = Session),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn session_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Session>> {
    let view = state.capture.capture_status(&bearer(&headers)?).await?;
    Ok(Json(Session::new(&view, frame_limits(&state))))
}

/// `POST /api/capture/v1/attempts`.
#[utoipa::path(
    post,
    path = "/api/capture/v1/attempts",
    tag = "Capture",
    operation_id = "startAttempt",
    summary = "Start an attempt: its nonce and random challenge",
    security(("captureToken" = [])),
    params(ApiHeaders),
    request_body(content = StartAttempt, content_type = "application/json"),
    responses(
        (status = 201, description = "The attempt", body = AttemptStarted),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
        (status = 409, description = "ATTEMPTS_EXHAUSTED, TRANSACTION_EXPIRED or TRANSACTION_FINISHED", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn start_attempt(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let token = bearer(request.headers())?;
    let body: StartAttempt = json_body(request).await?;
    let flash = body
        .flash
        .optional(|| mistyped("flash", "a boolean"))?
        .unwrap_or(true);
    let started = state.capture.start_attempt(&token, flash).await?;
    Ok((StatusCode::CREATED, Json(AttemptStarted::from(&started))).into_response())
}

/// What a frame upload states in its headers besides the token
/// (docs/capture-protocol.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameFields {
    pub nonce: String,
    pub t_ms: u32,
    pub index: u32,
}

/// `Capture-Nonce`, `Capture-Time-Ms` and `Capture-Frame`, each required;
/// public so that the fuzz target (fuzz/fuzz_targets/frame_headers.rs) runs
/// the parser the handler runs.
pub fn frame_fields(headers: &HeaderMap) -> ApiResult<FrameFields> {
    Ok(FrameFields {
        nonce: frame_header(headers, "capture-nonce")?,
        t_ms: frame_number(headers, "capture-time-ms")?,
        index: frame_number(headers, "capture-frame")?,
    })
}

fn frame_header(headers: &HeaderMap, name: &str) -> ApiResult<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Code::FRAME_INVALID,
                format!("the {name} header is required"),
            )
        })
}

fn frame_number(headers: &HeaderMap, name: &str) -> ApiResult<u32> {
    frame_header(headers, name)?.parse().map_err(|_| {
        ApiError::new(
            Code::FRAME_INVALID,
            format!("{name} must be a non-negative integer"),
        )
    })
}

/// `POST /api/capture/v1/attempts/{attemptId}/frames`.
#[utoipa::path(
    post,
    path = "/api/capture/v1/attempts/{attempt}/frames",
    tag = "Capture",
    operation_id = "uploadFrame",
    summary = "Upload one frame of the attempt",
    security(("captureToken" = [])),
    params(ApiHeaders, FrameHeaders, AttemptPath),
    request_body(content = inline(Binary), content_type = "image/jpeg"),
    responses(
        (status = 202, description = "Accepted for analysis", body = FrameAccepted),
        (status = 400, description = "FRAME_INVALID", body = Problem, content_type = PROBLEM),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
        (status = 404, description = "ATTEMPT_NOT_FOUND", body = Problem, content_type = PROBLEM),
        (status = 409, description = "NONCE_MISMATCH, NONCE_REPLAYED, ATTEMPT_FINISHED, FRAME_OUT_OF_WINDOW, FRAME_OUT_OF_ORDER, FRAME_LIMIT or FRAME_TOO_FAST", body = Problem, content_type = PROBLEM),
        (status = 413, description = "FRAME_TOO_LARGE", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not image/jpeg", body = Problem, content_type = PROBLEM),
        (status = 503, description = "CAPTURE_BUSY; see Retry-After", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn upload_frame(
    State(state): State<AppState>,
    Path(attempt): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let headers = request.headers().clone();
    let token = bearer(&headers)?;
    if !content_type_is(&headers, "image/jpeg") {
        return Err(ApiError::new(
            Code::UNSUPPORTED_MEDIA_TYPE,
            "a frame is one image/jpeg body",
        ));
    }
    let limit = state.services.capture_settings().max_frame_bytes;
    let too_large = || {
        ApiError::new(
            Code::FRAME_TOO_LARGE,
            format!("a frame may have at most {limit} bytes"),
        )
    };
    if check_content_length(&headers, limit).is_err() {
        return Err(too_large());
    }
    let FrameFields { nonce, t_ms, index } = frame_fields(&headers)?;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(limit);
    // Token, attempt and nonce first: a body is read only for an open
    // attempt, within the server's in-flight body budget.
    let target = state
        .capture
        .frame_target(&token, &attempt, &nonce, declared)
        .await?;
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| too_large())?;
    state
        .capture
        .upload_frame(target, index, t_ms, body.to_vec())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(FrameAccepted { frame: index })).into_response())
}

/// `POST /api/capture/v1/attempts/{attemptId}/finish`.
#[utoipa::path(
    post,
    path = "/api/capture/v1/attempts/{attempt}/finish",
    tag = "Capture",
    operation_id = "finishAttempt",
    summary = "Finish the attempt and get its outcome",
    security(("captureToken" = [])),
    params(ApiHeaders, AttemptPath),
    request_body(content = FinishAttempt, content_type = "application/json"),
    responses(
        (status = 200, description = "The outcome (never a score)", body = AttemptFinished),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
        (status = 404, description = "ATTEMPT_NOT_FOUND", body = Problem, content_type = PROBLEM),
        (status = 409, description = "NONCE_MISMATCH, NONCE_REPLAYED or ATTEMPT_FINISHED", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn finish_attempt(
    State(state): State<AppState>,
    Path(attempt): Path<String>,
    request: Request,
) -> ApiResult<Json<AttemptFinished>> {
    let token = bearer(request.headers())?;
    let body: FinishAttempt = json_body(request).await?;
    let nonce = body.nonce.required("nonce")?;
    let done = state
        .capture
        .finish_attempt(&token, &attempt, &nonce)
        .await?;
    Ok(Json(AttemptFinished::from(&done)))
}
