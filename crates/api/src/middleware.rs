//! Request checks shared by every API route, and the access log line.

use std::time::Duration;

use axum::extract::Request;
use axum::http::header::{ACCEPT, USER_AGENT};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Span;

use crate::error::{ApiError, Code};

/// SPEC §0: `Accept` and `User-Agent` are required on every API call.
pub async fn required_headers(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let (has_agent, has_accept) = (
        headers.get(USER_AGENT).is_some_and(|v| !v.is_empty()),
        headers.get(ACCEPT).is_some_and(|v| !v.is_empty()),
    );
    if !has_agent {
        return ApiError::new(
            Code::MISSING_USER_AGENT,
            "send a User-Agent naming your company and application",
        )
        .into_response();
    }
    if !has_accept {
        return ApiError::new(Code::MISSING_ACCEPT, "send Accept: application/json")
            .into_response();
    }
    next.run(request).await
}

/// No request may take longer than this; the client gets a problem, not a hang.
const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(30);

pub async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(Code::TIMEOUT, "the request took longer than 30 s").into_response(),
    }
}

/// Counts every routed request by route template and status.
pub async fn record_metrics(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.services.metrics.observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// One line per request: status, error code if any, latency. No headers, no
/// query, no body.
pub fn log_response(response: &Response, latency: Duration, _span: &Span) {
    let code = response
        .extensions()
        .get::<Code>()
        .map_or("", |c| c.as_str());
    tracing::info!(
        status = response.status().as_u16(),
        code,
        latency_ms = latency.as_millis() as u64,
        "request"
    );
}
