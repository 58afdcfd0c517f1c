//! The capture protocol's routes (docs/capture-protocol.md): thin handlers
//! that read the capture token, the body and the frame headers, delegate to
//! the core in one call, and answer.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use facegate_core::capture::{FinishedAttempt, SessionView, StartedAttempt};
use facegate_core::CaptureRefusal;
use facegate_domain::time::format_timestamp;
use facegate_domain::FieldError;
use serde_json::{json, Value};

use crate::error::{ApiError, Code};
use crate::extract::{check_content_length, content_type_is, json_bytes};
use crate::AppState;

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

/// A small JSON object body (`application/json`).
async fn json_object(request: Request<Body>) -> ApiResult<serde_json::Map<String, Value>> {
    let bytes = json_bytes(request).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::new(
            Code::MALFORMED_JSON,
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            Code::MALFORMED_JSON,
            format!("invalid JSON at line {} column {}", e.line(), e.column()),
        )),
    }
}

fn required_string(map: &serde_json::Map<String, Value>, name: &str) -> ApiResult<String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(ApiError::validation(vec![FieldError::required(name)]))
        }
        Some(_) => Err(ApiError::validation(vec![FieldError::new(
            name,
            "FIELD_TYPE",
            format!("{name} must be a string"),
        )])),
    }
}

fn session_json(view: &SessionView) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("expiresAt".into(), format_timestamp(view.expires_at).into());
    map.insert(
        "transactionReference".into(),
        view.transaction.to_string().into(),
    );
    map.insert(
        "transactionStatus".into(),
        view.transaction_state.as_str().into(),
    );
    map.insert("locale".into(), view.locale.clone().into());
    map.insert("maxAttempts".into(), facegate_domain::MAX_ATTEMPTS.into());
    map.insert("attemptsUsed".into(), view.attempts_used.into());
    map.insert("successUrl".into(), view.success_url.clone().into());
    map.insert("errorUrl".into(), view.error_url.clone().into());
    map.insert("parentOrigin".into(), view.parent_origin.clone().into());
    map
}

fn frame_limits(state: &AppState) -> Value {
    let capture = state.services.capture_settings();
    json!({
        "maxBytes": capture.max_frame_bytes,
        "maxWidth": capture.max_frame_side,
        "maxHeight": capture.max_frame_side,
        "minFps": 15,
    })
}

/// `POST /api/capture/v1/session`.
pub async fn open_session(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let body = json_object(request).await?;
    let token = required_string(&body, "authorizationToken")?;
    // A native app says so; the web client sends nothing.
    let scan_source = match body.get("scanSource") {
        None | Some(Value::Null) => Some(facegate_domain::ScanSource::Web),
        Some(Value::String(s)) => facegate_domain::ScanSource::parse(s),
        Some(_) => None,
    }
    .ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "scanSource",
            "FIELD_INVALID",
            "scanSource must be WEB or SDK",
        )])
    })?;
    let opened = state
        .capture
        .open_capture_session(&token, scan_source)
        .await?;
    let mut map = session_json(&opened.view);
    map.insert("captureToken".into(), opened.capture_token.into());
    map.insert("frame".into(), frame_limits(&state));
    Ok((StatusCode::CREATED, Json(Value::Object(map))).into_response())
}

/// `GET /api/capture/v1/session`.
pub async fn session_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let view = state.capture.capture_status(&bearer(&headers)?).await?;
    let mut map = session_json(&view);
    map.insert("frame".into(), frame_limits(&state));
    Ok(Json(Value::Object(map)))
}

fn attempt_json(started: &StartedAttempt) -> Value {
    use base64::Engine as _;
    let a = &started.attempt;
    json!({
        "attemptId": a.id.hyphenated().to_string(),
        "attemptNumber": a.number,
        "attemptsLeft": started.attempts_left,
        "nonce": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(a.nonce),
        "startBy": format_timestamp(a.start_by()),
        "challenge": a.challenge,
    })
}

/// `POST /api/capture/v1/attempts`.
pub async fn start_attempt(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let token = bearer(request.headers())?;
    let body = json_object(request).await?;
    let flash = match body.get("flash") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::validation(vec![FieldError::new(
                "flash",
                "FIELD_TYPE",
                "flash must be a boolean",
            )]))
        }
    };
    let started = state.capture.start_attempt(&token, flash).await?;
    Ok((StatusCode::CREATED, Json(attempt_json(&started))).into_response())
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
    Ok((StatusCode::ACCEPTED, Json(json!({ "frame": index }))).into_response())
}

fn finished_json(done: &FinishedAttempt) -> Value {
    json!({
        "outcome": done.outcome.as_str(),
        "attemptsLeft": done.attempts_left,
        "guidance": done.guidance,
        "redirect": done.redirect.as_ref().map(|r| json!({
            "url": r.url,
            "transactionStatus": if r.success { "SUCCESS" } else { "ERROR" },
            "errorCode": r.error_code,
        })),
    })
}

/// `POST /api/capture/v1/attempts/{attemptId}/finish`.
pub async fn finish_attempt(
    State(state): State<AppState>,
    Path(attempt): Path<String>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let token = bearer(request.headers())?;
    let body = json_object(request).await?;
    let nonce = required_string(&body, "nonce")?;
    let done = state
        .capture
        .finish_attempt(&token, &attempt, &nonce)
        .await?;
    Ok(Json(finished_json(&done)))
}
