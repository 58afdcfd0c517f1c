//! Reading request bodies within their limits: the two-part multipart body of
//! `facemap/initiate` and the JSON of `web/initiate`, into the raw fields that
//! the core validates.

use axum::body::Body;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;
use facegate_core::InitiateRequest;
use facegate_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, Code};
use crate::wire::EnrollmentMetadata;

/// Largest accepted facemap part (SPEC §0).
pub const MAX_FACEMAP_PART: usize = facegate_facemap::MAX_FACEMAP_BYTES;
/// Largest accepted JSON metadata (part or body).
pub const MAX_JSON: usize = 16 * 1024;
/// Largest whole multipart body: both parts plus their headers.
pub const MAX_MULTIPART_BODY: usize = MAX_FACEMAP_PART + MAX_JSON + 8 * 1024;

fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::new(
        Code::PAYLOAD_TOO_LARGE,
        format!("{what} exceeds {limit} bytes"),
    )
}

/// Refuses a declared length over `limit` before reading any of the body.
pub fn check_content_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(too_large("the request body", limit)),
        _ => Ok(()),
    }
}

pub fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
}

/// Reads one part chunk by chunk, refusing it as soon as it passes `limit`.
async fn read_part(mut field: Field<'_>, name: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if data.len() + chunk.len() > limit {
            return Err(too_large(&format!("the {name} part"), limit));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        too_large("the request body", MAX_MULTIPART_BODY)
    } else {
        ApiError::new(
            Code::MALFORMED_MULTIPART,
            "the multipart/form-data body is malformed",
        )
    }
}

/// `enrollmentMetadata` + `facemap`, read from `multipart/form-data`.
pub async fn facemap_initiate_body(
    request: Request<Body>,
) -> Result<(InitiateRequest, Vec<u8>), ApiError> {
    if !content_type_is(request.headers(), "multipart/form-data") {
        return Err(ApiError::new(
            Code::UNSUPPORTED_MEDIA_TYPE,
            "the body must be multipart/form-data with the parts enrollmentMetadata and facemap",
        ));
    }
    check_content_length(request.headers(), MAX_MULTIPART_BODY)?;
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|_| {
        ApiError::new(
            Code::MALFORMED_MULTIPART,
            "the multipart boundary is missing or invalid",
        )
    })?;
    let (mut metadata, mut facemap) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let (slot, limit) = match name.as_str() {
            "enrollmentMetadata" => (&mut metadata, MAX_JSON),
            "facemap" => (&mut facemap, MAX_FACEMAP_PART),
            // Unknown parts are read (bounded) and ignored, for forward compatibility.
            _ => {
                read_part(field, &name, MAX_JSON).await?;
                continue;
            }
        };
        if slot.is_some() {
            return Err(ApiError::validation(vec![FieldError::new(
                &name,
                "PART_DUPLICATE",
                format!("the part {name} appears more than once"),
            )]));
        }
        *slot = Some(read_part(field, &name, limit).await?);
    }
    let missing: Vec<FieldError> = [
        ("enrollmentMetadata", metadata.is_none()),
        ("facemap", facemap.as_ref().is_none_or(Vec::is_empty)),
    ]
    .into_iter()
    .filter(|(_, missing)| *missing)
    .map(|(name, _)| {
        FieldError::new(
            name,
            "PART_REQUIRED",
            format!("the part {name} is required"),
        )
    })
    .collect();
    match (metadata, facemap) {
        (Some(metadata), Some(facemap)) if missing.is_empty() => {
            Ok((metadata_fields(&metadata)?, facemap))
        }
        _ => Err(ApiError::validation(missing)),
    }
}

/// An `application/json` body of at most [`MAX_JSON`] bytes, unparsed.
pub async fn json_bytes(request: Request<Body>) -> Result<axum::body::Bytes, ApiError> {
    if !content_type_is(request.headers(), "application/json") {
        return Err(ApiError::new(
            Code::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        ));
    }
    check_content_length(request.headers(), MAX_JSON)?;
    axum::body::to_bytes(request.into_body(), MAX_JSON)
        .await
        .map_err(|_| too_large("the request body", MAX_JSON))
}

/// A JSON object body, read into `T` (whose members are [`crate::wire::Field`]s,
/// so only a body that is no JSON object is refused here).
pub async fn json_body<T: DeserializeOwned>(request: Request<Body>) -> Result<T, ApiError> {
    json_object(
        &json_bytes(request).await?,
        "the body must be a JSON object",
    )
}

/// The JSON body of `web/initiate`.
pub async fn json_initiate_body(request: Request<Body>) -> Result<InitiateRequest, ApiError> {
    metadata_fields(&json_bytes(request).await?)
}

/// Accepts the bare object or `{"enrollmentMetadata": {...}}` (SPEC §2.1).
pub fn metadata_fields(json: &[u8]) -> Result<InitiateRequest, ApiError> {
    let outer: Map<String, Value> = json_object(json, "the metadata must be a JSON object")?;
    let object = match outer.get("enrollmentMetadata") {
        Some(Value::Object(inner)) => inner.clone(),
        _ => outer,
    };
    EnrollmentMetadata::deserialize(Value::Object(object))
        .map_err(|_| ApiError::new(Code::MALFORMED_JSON, "the metadata must be a JSON object"))?
        .into_request()
        .map_err(ApiError::validation)
}

/// `json` as a JSON object read into `T`; `MALFORMED_JSON` otherwise. The
/// object is parsed first, so a repeated member counts once (its last
/// value) and `T` reads every member it knows, whatever its type.
fn json_object<T: DeserializeOwned>(json: &[u8], not_an_object: &str) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(json).map_err(|e| {
        ApiError::new(
            Code::MALFORMED_JSON,
            format!("invalid JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(Code::MALFORMED_JSON, not_an_object));
    }
    serde_json::from_value(value).map_err(|_| ApiError::new(Code::MALFORMED_JSON, not_an_object))
}
