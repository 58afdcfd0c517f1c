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
