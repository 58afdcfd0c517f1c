//! HTTP Basic authentication (RFC 7617): user = API token, password = secret.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use facegate_core::Caller;

use crate::error::{ApiError, Code};
use crate::AppState;

/// The authenticated caller of an API route.
pub struct Authenticated(pub Caller);

fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (token, secret) = decoded.split_once(':')?;
    Some((token.to_owned(), secret.to_owned()))
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, secret) = basic_credentials(parts).ok_or_else(|| {
            ApiError::new(Code::UNAUTHENTICATED, "HTTP Basic credentials are required")
        })?;
        let caller = state.services.authenticate(&token, &secret).await?;
        Ok(Self(caller))
    }
}
