//! Every error the API answers, as RFC 9457 `application/problem+json` with a
//! stable `code`. [`Code`] is the single table of codes; `docs/errors.md`
//! documents it (a test keeps the two in step). Turning an error into a
//! response has no side effects; logging happens in the trace layer.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use facegate_core::{FacemapRefusal, ServiceError};
use facegate_domain::{FieldError, Ineligible, ReviewRefusal};

use crate::wire::{Problem, ProblemField};

pub use crate::code::Code;

/// An error answer. `detail` is for the API user and never contains secrets,
/// facemaps or internal error text.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Sent as `Retry-After` (with 429 and 503).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => one.detail.clone(),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            code: Code::VALIDATION_FAILED,
            detail,
            errors,
            retry_after_secs: None,
        }
    }
}

/// One refused member: `VALIDATION_FAILED` with that one error.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::validation(vec![e])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let problem = Problem {
            kind: format!("urn:facegate:error:{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail,
            code: self.code.as_str().to_owned(),
            errors: self.errors.iter().map(ProblemField::from).collect(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            // The capture protocol authenticates with a bearer capture token.
            let challenge = if self.code == Code::UNAUTHENTICATED {
                "Basic realm=\"facegate\""
            } else {
                "Bearer realm=\"facegate-capture\""
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self.code);
        response
    }
}

impl From<Ineligible> for Code {
    fn from(e: Ineligible) -> Self {
        match e {
            Ineligible::NotDeleted => Code::ENROLLMENT_NOT_DELETED,
            Ineligible::Deleted => Code::ENROLLMENT_DELETED,
            Ineligible::NotApproved => Code::ENROLLMENT_NOT_APPROVED,
            Ineligible::NoSimilarityMatch => Code::ENROLLMENT_SIMILARITY_NOT_MATCH,
            Ineligible::NotValid => Code::ENROLLMENT_VALIDITY_NOT_TRUE,
            Ineligible::NoFacemap => Code::ENROLLMENT_NO_FACEMAP,
            Ineligible::FacemapRevoked => Code::FACEMAP_REVOKED,
        }
    }
}

impl From<FacemapRefusal> for Code {
    fn from(r: FacemapRefusal) -> Self {
        match r {
            FacemapRefusal::NotAFacemap => Code::FACEMAP_INVALID,
            FacemapRefusal::UnsupportedVersion => Code::FACEMAP_UNSUPPORTED_VERSION,
            FacemapRefusal::UnknownKey => Code::FACEMAP_UNKNOWN_KEY,
            FacemapRefusal::WrongAccount => Code::FACEMAP_WRONG_ACCOUNT,
            FacemapRefusal::Tampered => Code::FACEMAP_TAMPERED,
            FacemapRefusal::Revoked => Code::FACEMAP_REVOKED,
            FacemapRefusal::EnrollmentMismatch => Code::FACEMAP_ENROLLMENT_MISMATCH,
            FacemapRefusal::UnsupportedModel => Code::FACEMAP_UNSUPPORTED_MODEL,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::Unauthenticated => Code::UNAUTHENTICATED,
            ServiceError::WrongRole => Code::FORBIDDEN_ROLE,
            ServiceError::FeatureNotEnabled => Code::FEATURE_NOT_ENABLED,
            ServiceError::Validation(_) => Code::VALIDATION_FAILED,
            ServiceError::RateLimited { .. } => Code::RATE_LIMITED,
            ServiceError::Busy { .. } => Code::CAPTURE_BUSY,
            ServiceError::LockedOut { .. } => Code::ENROLLMENT_LOCKED,
            ServiceError::InitiationRateLimited { .. } => Code::INITIATION_RATE_LIMITED,
            ServiceError::KeyUnavailable => Code::KEY_UNAVAILABLE,
            ServiceError::AuthenticationBusy { .. } => Code::AUTHENTICATION_BUSY,
            ServiceError::AccountNotFound => Code::NOT_FOUND,
            ServiceError::EnrollmentNotFound => Code::ENROLLMENT_NOT_FOUND,
            ServiceError::Ineligible(i) => (*i).into(),
            ServiceError::Facemap(r) => (*r).into(),
            ServiceError::TransactionNotFound => Code::TRANSACTION_NOT_FOUND,
            ServiceError::ScanNotFound => Code::SCAN_NOT_FOUND,
            ServiceError::Review(r) => match r {
                ReviewRefusal::NotDecided => Code::SCAN_NOT_DECIDED,
                ReviewRefusal::NothingCaptured => Code::SCAN_NOTHING_TO_REVIEW,
                ReviewRefusal::Unchanged => Code::REVIEW_UNCHANGED,
            },
            ServiceError::DocumentEngineUnavailable => Code::DOCUMENT_ENGINE_UNAVAILABLE,
            ServiceError::Capture(r) => (*r).into(),
            ServiceError::Conflict(_) => Code::CONFLICT,
            ServiceError::Database(_) => Code::SERVICE_UNAVAILABLE,
            ServiceError::Internal(_) => Code::INTERNAL_ERROR,
        };
        match e {
            ServiceError::Validation(errors) => Self::validation(errors),
            ServiceError::RateLimited { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(code, "too many wrong secrets for this token; retry later")
            },
            ServiceError::Busy { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(
                    code,
                    "the server is receiving too many frames; retry shortly",
                )
            },
            ServiceError::LockedOut { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(
                    code,
                    "too many consecutive failed authentications of this enrollment; retry later",
                )
            },
            ServiceError::InitiationRateLimited { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(
                    code,
                    "this account has used its initiations for now; retry later",
                )
            },
            // A uniqueness rule met a concurrent request (two attempts
            // started at once): the database is fine, the request lost.
            ServiceError::Conflict(inner) => {
                tracing::info!(error = %inner, "storage conflict");
                Self::new(
                    code,
                    "a concurrent request changed the same record; retry if it still applies",
                )
            }
            ServiceError::AuthenticationBusy { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(code, "too many credential checks at once; retry shortly")
            },
            ServiceError::Database(inner) => {
                tracing::error!(error = %inner, "storage failure");
                Self {
                    retry_after_secs: Some(1),
                    ..Self::new(code, "the database is unavailable; retry later")
                }
            }
            ServiceError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                Self::new(code, "an internal error occurred")
            }
            other => Self::new(code, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::{ApiError, Code};
    use facegate_core::ServiceError;

    #[test]
    fn a_constraint_conflict_is_409_and_a_failing_database_503() {
        let conflict = ApiError::from(ServiceError::Conflict(
            "UNIQUE constraint failed: capture_attempts.transaction_ref".into(),
        ));
        assert_eq!(conflict.code, Code::CONFLICT);
        assert_eq!(Code::CONFLICT.status().as_u16(), 409);
        assert!(!conflict.detail.contains("UNIQUE"), "{}", conflict.detail);
        let down = ApiError::from(ServiceError::Database("disk I/O error".into()));
        assert_eq!(down.code, Code::SERVICE_UNAVAILABLE);
    }

    const ERRORS_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");

    /// The rows of the table under `heading`, as (code, status column) pairs:
    /// every line of that section that starts with "| `".
    fn table(doc: &str, heading: &str) -> Vec<(String, String)> {
        let start = doc
            .find(heading)
            .unwrap_or_else(|| panic!("docs/errors.md has no {heading:?} section"));
        let section = &doc[start + heading.len()..];
        let section = section.split("\n## ").next().unwrap_or_default();
        section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_owned(), cells[2].to_owned())
            })
            .collect()
    }

    #[test]
    fn every_code_is_documented_with_its_status_in_docs_errors_md() {
        let doc = std::fs::read_to_string(ERRORS_MD).expect("docs/errors.md");
        let rows = table(&doc, "## Error codes\n");
        for code in Code::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
            assert!(
                doc.lines().any(|line| line.starts_with(&row)),
                "docs/errors.md has no row starting with {row:?}"
            );
            let documented = rows.iter().filter(|(c, _)| c == code.as_str()).count();
            assert_eq!(
                documented,
                1,
                "{} is documented {documented} times",
                code.as_str()
            );
        }
    }

    #[test]
    fn every_code_in_docs_errors_md_exists() {
        let doc = std::fs::read_to_string(ERRORS_MD).expect("docs/errors.md");
        let rows = table(&doc, "## Error codes\n");
        assert!(
            !rows.is_empty(),
            "the error code table of docs/errors.md is empty"
        );
        for (name, status) in &rows {
            let code = Code::ALL
                .iter()
                .find(|c| c.as_str() == name)
                .unwrap_or_else(|| {
                    panic!("docs/errors.md documents {name}, which Code::ALL lacks")
                });
            assert_eq!(
                status,
                &code.status().as_u16().to_string(),
                "status of {name}"
            );
        }
        // Field codes are not error codes: the second table is separate.
        let fields = table(&doc, "## Field codes\n");
        assert!(
            fields.iter().any(|(c, _)| c == "FIELD_REQUIRED"),
            "{fields:?}"
        );
        for (field_code, _) in &fields {
            assert!(
                !rows.iter().any(|(c, _)| c == field_code),
                "{field_code} is in both tables"
            );
        }
    }
}
