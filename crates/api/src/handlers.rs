//! Route handlers: extract, delegate to the core in one call, answer.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use facegate_core::{CallbackRecord, ImageKind, Services};
use facegate_domain::time::format_timestamp;
use facegate_domain::{AuthTransaction, TransactionRef};
use serde_json::{json, Value};
use std::sync::Arc;

use crate::auth::Authenticated;
use crate::error::{ApiError, Code};
use crate::extract;
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

fn reference(raw: &str) -> ApiResult<TransactionRef> {
    raw.parse().map_err(|_| {
        ApiError::new(
            Code::TRANSACTION_NOT_FOUND,
            "no transaction has this reference",
        )
    })
}

/// `POST /api/authentication/v1/facemap/initiate` and its two aliases.
pub async fn facemap_initiate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult<Json<Value>> {
    facegate_core::Services::authorize_initiate(&caller)?;
    let (fields, facemap) = extract::facemap_initiate_body(request).await?;
    let done = state
        .services
        .initiate_with_facemap(&caller, &fields, &facemap)
        .await?;
    Ok(Json(json!({
        "authenticationTransactionReference": done.reference.to_string(),
        "redirectUrl": done.redirect_url,
        "timestamp": format_timestamp(done.timestamp),
    })))
}

/// `POST /api/authentication/v1/web/initiate`.
pub async fn web_initiate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult<Json<Value>> {
    facegate_core::Services::authorize_initiate(&caller)?;
    let fields = extract::json_initiate_body(request).await?;
    let done = state
        .services
        .initiate_with_server_facemap(&caller, &fields)
        .await?;
    Ok(Json(json!({
        "timestamp": format_timestamp(done.timestamp),
        "redirectUrl": done.redirect_url,
        "transactionReference": done.reference.to_string(),
    })))
}

fn transaction_json(tx: &AuthTransaction, now: DateTime<Utc>, base: &str) -> Value {
    let images = facegate_core::images::ImageLinks::new(base, tx);
    json!({
        "timestamp": format_timestamp(now),
        "transactionReference": tx.reference.to_string(),
        "enrollmentTransactionReference": tx.enrollment.to_string(),
        "transactionResult": tx.state.as_str(),
        "transactionDate": format_timestamp(tx.created_at),
        "scanSource": tx.scan_source.as_str(),
        "userReference": tx.user_reference.as_ref().map(|u| u.as_str()),
        "images": images.face.iter().map(|href| json!({"classifier": "face", "href": href})).collect::<Vec<_>>(),
        "livenessImages": images.liveness,
        "decision": tx.decision,
    })
}

/// `GET /api/netverify/v2/authentications/{reference}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let tx = state
        .services
        .retrieve_transaction(&caller, reference(&raw)?)
        .await?;
    Ok(Json(transaction_json(
        &tx,
        state.services.now(),
        state.services.public_base_url(),
    )))
}

/// `DELETE /api/netverify/v2/authentications/{reference}`.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let reference = reference(&raw)?;
    state
        .services
        .delete_transaction(&caller, reference)
        .await?;
    Ok(Json(json!({
        "timestamp": format_timestamp(state.services.now()),
        "transactionReference": reference.to_string(),
        "deleted": true,
    })))
}

fn jpeg(bytes: Vec<u8>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
}

/// `GET /api/netverify/v2/authentications/{reference}/images/face`: the best
/// face frame, decrypted.
pub async fn image(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    state
        .services
        .transaction_image(&caller, reference(&raw)?, ImageKind::Face, 1)
        .await?
        .map(jpeg)
        .ok_or_else(|| ApiError::new(Code::IMAGE_NOT_FOUND, "this transaction has no face image"))
}

/// `GET /api/netverify/v2/authentications/{reference}/images/liveness/{n}`.
pub async fn liveness_image(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((raw, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    let reference = reference(&raw)?;
    let missing = || {
        ApiError::new(
            Code::IMAGE_NOT_FOUND,
            "this transaction has no liveness image with this number",
        )
    };
    // Validate the reference (and the caller's access) before the number.
    let n = n.parse::<u32>().ok().filter(|n| *n >= 1);
    let image = state
        .services
        .transaction_image(&caller, reference, ImageKind::Liveness, n.unwrap_or(1))
        .await?;
    match (n, image) {
        (Some(_), Some(bytes)) => Ok(jpeg(bytes)),
        _ => Err(missing()),
    }
}

fn callback_json(record: &CallbackRecord) -> Value {
    let m = &record.message;
    json!({
        "id": format!("msg_{}", m.id.simple()),
        "callBackType": m.event,
        "url": m.url,
        "status": record.status.as_str(),
        "createdAt": format_timestamp(m.created_at),
        "nextAttemptAt": record.next_attempt_at.map(format_timestamp),
        "attempts": record.attempts.iter().map(|a| json!({
            "attempt": a.attempt_no,
            "at": format_timestamp(a.at),
            "delivered": a.delivered,
            "httpStatus": a.status,
            "error": a.error,
            "detail": a.detail,
            "durationMs": a.duration_ms,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/netverify/v2/authentications/{reference}/callbacks` (Beyond):
/// every callback of the transaction with every delivery attempt.
pub async fn callbacks(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let records = state
        .services
        .transaction_callbacks(&caller, reference(&raw)?)
        .await?;
    Ok(Json(
        json!({ "callbacks": records.iter().map(callback_json).collect::<Vec<_>>() }),
    ))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.readiness().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(Code::SERVICE_UNAVAILABLE, "the database is not reachable")
                .into_response()
        }
    }
}

/// Prometheus metrics (no customer data: route templates, statuses, counts).
pub async fn metrics(State(services): State<Arc<Services>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        services.metrics().render(),
    )
        .into_response()
}

/// The OpenAPI document of every endpoint.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(Code::NOT_FOUND, "no such resource")
}

pub async fn method_not_allowed() -> Response {
    let mut r = ApiError::new(
        Code::METHOD_NOT_ALLOWED,
        "this resource does not support the method",
    )
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
