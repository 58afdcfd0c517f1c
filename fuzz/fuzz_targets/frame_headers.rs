//! The capture frame headers, as `upload_frame` reads them before it
//! touches the body: `Authorization: Bearer`, `Content-Type`,
//! `Content-Length`, `Capture-Nonce`, `Capture-Time-Ms`, `Capture-Frame`.
//!
//! Input: header lines `name: value` separated by `\n` (names and values
//! the `http` crate refuses are skipped, as a server never hands them to a
//! handler). Every parser answers a value or its documented refusal code,
//! never panics, and what it accepts is what the header said.

#![no_main]

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use facegate_api::capture::{bearer, frame_fields, FrameFields};
use facegate_api::extract::{check_content_length, content_type_is};
use facegate_api::{ApiError, Code};
use libfuzzer_sys::fuzz_target;

/// The frame limit of the default `[capture]` settings.
const MAX_FRAME_BYTES: usize = 512 * 1024;

fn headers(data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    map
}

/// The first value of `name` as text, which is what the parsers read.
fn text<'a>(map: &'a HeaderMap, name: &str) -> Option<&'a str> {
    map.get(name).and_then(|v| v.to_str().ok())
}

/// A refusal is a problem answer with its code's status.
fn check_refusal(error: ApiError, expected: Code) {
    assert_eq!(error.code, expected, "{}", error.detail);
    let response = error.into_response();
    assert_eq!(response.status(), expected.status());
}

/// `digits` as `u32::from_str` reads it, by hand: an optional `+`, then
/// decimal digits without overflow.
fn decimal(digits: &str) -> Option<u32> {
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.bytes().try_fold(0u32, |n, b| {
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

fuzz_target!(|data: &[u8]| {
    let map = headers(data);

    match bearer(&map) {
        Ok(token) => {
            let raw = text(&map, AUTHORIZATION.as_str()).unwrap_or_default();
            let rest = raw
                .strip_prefix("Bearer ")
                .or_else(|| raw.strip_prefix("bearer "))
                .unwrap_or_else(|| panic!("a token from {raw:?}"));
            assert!(!token.is_empty());
            assert_eq!(token, rest.trim());
        }
        Err(e) => check_refusal(e, Code::CAPTURE_SESSION_INVALID),
    }

    if content_type_is(&map, "image/jpeg") {
        let raw = text(&map, "content-type").unwrap_or_default();
        let media = raw.split(';').next().unwrap_or_default();
        assert!(media.trim().eq_ignore_ascii_case("image/jpeg"), "{raw:?}");
    }

    if let Err(e) = check_content_length(&map, MAX_FRAME_BYTES) {
        let declared = text(&map, "content-length").and_then(|v| v.parse::<u64>().ok());
        assert!(
            declared.is_some_and(|n| n > MAX_FRAME_BYTES as u64),
            "{declared:?}"
        );
        check_refusal(e, Code::PAYLOAD_TOO_LARGE);
    }

    match frame_fields(&map) {
        Ok(FrameFields { nonce, t_ms, index }) => {
            assert!(!nonce.is_empty());
            assert_eq!(
                Some(nonce.as_str()),
                text(&map, "capture-nonce").map(str::trim)
            );
            assert_eq!(
                text(&map, "capture-time-ms")
                    .map(str::trim)
                    .and_then(decimal),
                Some(t_ms)
            );
            assert_eq!(
                text(&map, "capture-frame").map(str::trim).and_then(decimal),
                Some(index)
            );
        }
        Err(e) => {
            let time = text(&map, "capture-time-ms")
                .map(str::trim)
                .and_then(decimal);
            let frame = text(&map, "capture-frame").map(str::trim).and_then(decimal);
            let nonce = text(&map, "capture-nonce")
                .map(str::trim)
                .filter(|n| !n.is_empty());
            assert!(
                nonce.is_none() || time.is_none() || frame.is_none(),
                "refused valid frame headers: {}",
                e.detail
            );
            check_refusal(e, Code::FRAME_INVALID);
        }
    }
});
