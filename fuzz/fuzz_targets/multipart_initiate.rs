//! `POST /api/authentication/v1/facemap/initiate`'s body, read by the
//! handler's own reader (`facemap_initiate_body`, axum's `Multipart` on
//! multer) and its metadata parsed into the domain types the core
//! validates it with.
//!
//! Input: the `Content-Type` value, `\n`, then the body. The reader answers
//! the two parts within their limits or one of its documented refusal
//! codes, never panics; the domain parsers accept only what they promise.

#![no_main]

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use facegate_api::extract::{facemap_initiate_body, MAX_FACEMAP_PART};
use facegate_api::Code;
use facegate_domain::{
    EnrollmentRef, Locale, LocaleSet, PiiCheck, RedirectUrl, TokenLifetime, UrlField, UrlPolicy,
    UserReference,
};
use libfuzzer_sys::fuzz_target;

fn check_url(raw: &str, field: UrlField) {
    for allow_localhost in [false, true] {
        if let Ok(url) = RedirectUrl::parse(raw, field, UrlPolicy { allow_localhost }) {
            let url = url.as_str();
            // The scheme is case-insensitive; the URL is kept as sent.
            let lower = url.to_ascii_lowercase();
            assert!(
                lower.starts_with("https://") || (allow_localhost && lower.starts_with("http://")),
                "{url:?} accepted"
            );
            assert!(
                !url.contains('#') && !url.contains('\\') && url.is_ascii(),
                "{url:?} accepted"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = HeaderValue::from_bytes(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default().to_vec();
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/api/authentication/v1/facemap/initiate")
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .body(Body::from(body))
    else {
        return;
    };
    match futures::executor::block_on(facemap_initiate_body(request)) {
        Ok((metadata, facemap)) => {
            assert!(!facemap.is_empty() && facemap.len() <= MAX_FACEMAP_PART);
            if let Some(raw) = metadata.enrollment_transaction_reference.as_deref() {
                if let Ok(reference) = raw.parse::<EnrollmentRef>() {
                    assert_eq!(reference.to_string().len(), 36);
                }
            }
            if let Some(raw) = metadata.user_reference.as_deref() {
                for pii in [PiiCheck::Off, PiiCheck::Refuse] {
                    if let Ok(reference) = UserReference::parse(raw, "userReference", pii) {
                        let s = reference.as_str();
                        assert_eq!(s, raw);
                        assert!(
                            !s.trim().is_empty() && s.chars().count() <= UserReference::MAX_LEN
                        );
                        assert!(!s.chars().any(char::is_control));
                    }
                }
            }
            for (raw, field) in [
                (&metadata.callback_url, UrlField::Callback),
                (&metadata.success_url, UrlField::Success),
                (&metadata.error_url, UrlField::Error),
            ] {
                if let Some(raw) = raw.as_deref() {
                    check_url(raw, field);
                }
            }
            if let Some(raw) = metadata.locale.as_deref() {
                if let Ok(locale) = Locale::parse(raw, LocaleSet::Authentication) {
                    assert!(Locale::all(LocaleSet::Authentication).contains(&locale.as_str()));
                }
            }
            if let Some(minutes) = metadata.token_lifetime_minutes {
                if let Ok(lifetime) = TokenLifetime::parse(minutes) {
                    assert_eq!(i64::from(lifetime.minutes()), minutes);
                }
            }
        }
        Err(e) => {
            assert!(
                [
                    Code::UNSUPPORTED_MEDIA_TYPE,
                    Code::PAYLOAD_TOO_LARGE,
                    Code::MALFORMED_MULTIPART,
                    Code::MALFORMED_JSON,
                    Code::VALIDATION_FAILED,
                ]
                .contains(&e.code),
                "{:?}: {}",
                e.code,
                e.detail
            );
            let status = e.code.status();
            assert_eq!(e.into_response().status(), status);
        }
    }
});
