//! Request checks shared by every API route, and the access log line.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::{ACCEPT, USER_AGENT};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tracing::Span;

use crate::error::{ApiError, Code};

/// The headers every JSON call of the API needs (SPEC §0): `User-Agent`,
/// then `Accept`.
pub async fn required_headers(request: Request, next: Next) -> Response {
    if let Some(refusal) = missing_user_agent(&request).or_else(|| missing_accept(&request)) {
        return refusal;
    }
    next.run(request).await
}

/// The headers a binary download (an image) needs: `User-Agent` only, as
/// Jumio's guides list for downloads; several HTTP clients send no `Accept`
/// by default, and any `Accept` (`*/*`, `image/jpeg`) is fine.
pub async fn required_user_agent(request: Request, next: Next) -> Response {
    if let Some(refusal) = missing_user_agent(&request) {
        return refusal;
    }
    next.run(request).await
}

fn missing_user_agent(request: &Request) -> Option<Response> {
    let present = request
        .headers()
        .get(USER_AGENT)
        .is_some_and(|v| !v.is_empty());
    (!present).then(|| {
        ApiError::new(
            Code::MISSING_USER_AGENT,
            "send a User-Agent naming your company and application",
        )
        .into_response()
    })
}

fn missing_accept(request: &Request) -> Option<Response> {
    let present = request.headers().get(ACCEPT).is_some_and(|v| !v.is_empty());
    (!present).then(|| {
        ApiError::new(Code::MISSING_ACCEPT, "send Accept: application/json").into_response()
    })
}

/// No request may take longer than this; the client gets a problem, not a hang.
const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(30);

pub async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(Code::TIMEOUT, "the request took longer than 30 s").into_response(),
    }
}

/// A path whose percent-escapes do not decode to UTF-8 can name no resource;
/// answering it here gives a problem instead of the router's plain-text
/// rejection of the path parameter.
pub async fn decodable_path(request: Request, next: Next) -> Response {
    if !percent_decodes_to_utf8(request.uri().path()) {
        return ApiError::new(
            Code::MALFORMED_PATH,
            "the path's percent-escapes do not decode to UTF-8",
        )
        .into_response();
    }
    next.run(request).await
}

/// Decodes like the router's path parameters do: `%XX` is a byte, and a `%`
/// not followed by two hex digits stands for itself.
fn percent_decodes_to_utf8(path: &str) -> bool {
    if !path.contains('%') {
        return true;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Bounds the requests handled at once: beyond the bound the client is told
/// to come back at once rather than queued behind work the server cannot
/// finish. `/healthz` is exempt so that an orchestrator does not restart a
/// merely busy server.
pub async fn in_flight_limit(
    axum::extract::State(slots): axum::extract::State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let Ok(_slot) = slots.try_acquire() else {
        return ApiError {
            retry_after_secs: Some(1),
            ..ApiError::new(
                Code::SERVER_BUSY,
                "the server is handling as many requests as it allows; retry shortly",
            )
        }
        .into_response();
    };
    next.run(request).await
}

/// Counts every routed request by route template and status.
pub async fn record_metrics(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
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
    state.services.metrics().observe_request(
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

#[cfg(test)]
mod tests {
    use super::percent_decodes_to_utf8;

    #[test]
    fn paths_decode_like_the_router_decodes_parameters() {
        for good in ["/a/b", "/a/%41", "/a/%C3%A9", "/a/%zz", "/a/100%", "/a/%4"] {
            assert!(percent_decodes_to_utf8(good), "{good}");
        }
        for bad in ["/a/%ff%fe", "/a/%C3", "/a/%c3%28"] {
            assert!(!percent_decodes_to_utf8(bad), "{bad}");
        }
    }
}
