//! The capture protocol's routes (docs/capture-protocol.md): thin handlers
//! that read the capture token, the body and the frame headers, delegate to
//! the core in one call, and answer. An ID verification's session also
//! uploads document sides and, for ID-only workflows, finishes the scan.

use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use facegate_core::CaptureRefusal;
use facegate_domain::{CaptureChannel, DocumentSide, DocumentType, FieldError, ScanSource};

use crate::auth::client_address;
use crate::error::{ApiError, Code};
use crate::extract::{check_content_length, content_type_is, json_body};
use crate::openapi::{
    ApiHeaders, AttemptPath, Binary, DocumentHeaders, DocumentSidePath, FrameHeaders,
};
use crate::state::AppState;
use crate::wire::mistyped;
use crate::wire::PROBLEM;
use crate::wire::{
    AttemptFinished, AttemptStarted, FinishAttempt, FrameAccepted, FrameLimits, OpenSession,
    Problem, ScanFinished, Session, SessionOpened, StartAttempt,
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
            CaptureRefusal::NotAScan => Code::CAPTURE_NOT_A_SCAN,
            CaptureRefusal::DocumentTooLarge => Code::DOCUMENT_TOO_LARGE,
            CaptureRefusal::DocumentInvalid(_) => Code::DOCUMENT_INVALID,
            CaptureRefusal::CaptureMethodNotAllowed => Code::CAPTURE_METHOD_NOT_ALLOWED,
            CaptureRefusal::DocumentSideNotNeeded => Code::DOCUMENT_SIDE_NOT_NEEDED,
            CaptureRefusal::DocumentSideMissing => Code::DOCUMENT_SIDE_MISSING,
            CaptureRefusal::SelfieRequired => Code::SELFIE_REQUIRED,
            CaptureRefusal::SelfieNotNeeded => Code::SELFIE_NOT_NEEDED,
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
    let trusted = &state.services.auth_settings().trusted_proxies;
    let client = client_address(request.extensions(), request.headers(), trusted);
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
        .open_capture_session(&token, scan_source, client)
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

/// Upper bound of a document side's body (SPEC §0: an image ≤ 10 MiB).
pub const MAX_DOCUMENT_BODY: usize = facegate_core::scan_capture::MAX_DOCUMENT_BYTES;

/// `PUT /api/capture/v1/documents/{side}`.
#[utoipa::path(
    put,
    path = "/api/capture/v1/documents/{side}",
    tag = "Capture",
    operation_id = "uploadDocumentSide",
    summary = "Give a side of the ID document (an ID verification's session)",
    security(("captureToken" = [])),
    params(ApiHeaders, DocumentHeaders, DocumentSidePath),
    request_body(content = inline(Binary), content_type = "image/jpeg", description = "JPEG or PNG (image/png), at most 10 MiB."),
    responses(
        (status = 200, description = "Stored; the session as it is now", body = Session),
        (status = 400, description = "DOCUMENT_INVALID or VALIDATION_FAILED (the capture headers)", body = Problem, content_type = PROBLEM),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
        (status = 404, description = "No such side", body = Problem, content_type = PROBLEM),
        (status = 409, description = "CAPTURE_NOT_A_SCAN, CAPTURE_METHOD_NOT_ALLOWED, DOCUMENT_SIDE_NOT_NEEDED, TRANSACTION_EXPIRED or TRANSACTION_FINISHED", body = Problem, content_type = PROBLEM),
        (status = 413, description = "DOCUMENT_TOO_LARGE", body = Problem, content_type = PROBLEM),
        (status = 415, description = "Not image/jpeg or image/png", body = Problem, content_type = PROBLEM),
        (status = 503, description = "DOCUMENT_ENGINE_UNAVAILABLE", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn upload_document(
    State(state): State<AppState>,
    Path(side): Path<String>,
    request: Request,
) -> ApiResult<Json<Session>> {
    let headers = request.headers().clone();
    let token = bearer(&headers)?;
    let side = DocumentSide::parse(&side)
        .ok_or_else(|| ApiError::new(Code::NOT_FOUND, "a document side is front or back"))?;
    if !content_type_is(&headers, "image/jpeg") && !content_type_is(&headers, "image/png") {
        return Err(ApiError::new(
            Code::UNSUPPORTED_MEDIA_TYPE,
            "a document side is one image/jpeg or image/png body",
        ));
    }
    let too_large = || {
        ApiError::new(
            Code::DOCUMENT_TOO_LARGE,
            format!("a document side may have at most {MAX_DOCUMENT_BODY} bytes"),
        )
    };
    if check_content_length(&headers, MAX_DOCUMENT_BODY).is_err() {
        return Err(too_large());
    }
    let (channel, document_type) = document_fields(&headers)?;
    let body = axum::body::to_bytes(request.into_body(), MAX_DOCUMENT_BODY)
        .await
        .map_err(|_| too_large())?;
    let view = state
        .capture
        .upload_document_side(&token, side, channel, document_type, body.to_vec())
        .await?;
    Ok(Json(Session::new(&view, frame_limits(&state))))
}

/// `Capture-Method` (required) and `Capture-Document-Type` (optional), all
/// errors at once.
fn document_fields(headers: &HeaderMap) -> ApiResult<(CaptureChannel, Option<DocumentType>)> {
    const METHOD: &str = "Capture-Method";
    const TYPE: &str = "Capture-Document-Type";
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut errors = Vec::new();
    let channel = match text(METHOD) {
        None => {
            errors.push(FieldError::required(METHOD));
            None
        }
        Some(raw) => CaptureChannel::parse(raw).or_else(|| {
            errors.push(FieldError::new(
                METHOD,
                "FIELD_INVALID",
                "Capture-Method must be CAMERA or UPLOAD",
            ));
            None
        }),
    };
    let document_type = text(TYPE).and_then(|raw| {
        DocumentType::parse(raw, TYPE)
            .map_err(|e| errors.push(e))
            .ok()
    });
    match channel {
        Some(channel) if errors.is_empty() => Ok((channel, document_type)),
        _ => Err(ApiError::validation(errors)),
    }
}

/// `POST /api/capture/v1/scan/finish`.
#[utoipa::path(
    post,
    path = "/api/capture/v1/scan/finish",
    tag = "Capture",
    operation_id = "finishScan",
    summary = "End an ID-only verification's capture: its document is decided",
    security(("captureToken" = [])),
    params(ApiHeaders),
    responses(
        (status = 200, description = "Accepted for processing; where to go", body = ScanFinished),
        (status = 401, description = "CAPTURE_SESSION_INVALID or CAPTURE_SESSION_EXPIRED", body = Problem, content_type = PROBLEM),
        (status = 409, description = "CAPTURE_NOT_A_SCAN, DOCUMENT_SIDE_MISSING, SELFIE_REQUIRED, TRANSACTION_EXPIRED or TRANSACTION_FINISHED", body = Problem, content_type = PROBLEM),
        (status = 503, description = "DOCUMENT_ENGINE_UNAVAILABLE", body = Problem, content_type = PROBLEM),
    )
)]
pub async fn finish_scan(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<ScanFinished>> {
    let done = state.capture.finish_scan(&bearer(&headers)?).await?;
    Ok(Json(ScanFinished::from(&done)))
}
