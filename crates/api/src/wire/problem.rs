//! The RFC 9457 `application/problem+json` body of every refusal.

use facegate_domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer (`application/problem+json`). `code` is stable and
/// documented in docs/errors.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:facegate:error:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:facegate:error:VALIDATION_FAILED")]
    pub kind: String,
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// For the developer; never secrets, facemaps or internal error text.
    pub detail: String,
    /// Stable machine code, see docs/errors.md.
    #[schema(schema_with = code_schema)]
    pub code: String,
    /// With `VALIDATION_FAILED`: every refused member.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// The media type of every refusal.
pub const PROBLEM: &str = "application/problem+json";

/// Every code of [`crate::code::Code`].
fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(crate::code::Code::ALL.iter().map(|c| c.as_str())))
        .description(Some("Stable machine code, see docs/errors.md."))
        .build()
}

/// One refused member of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemField {
    /// The member (or multipart part), e.g. `userReference`.
    pub field: String,
    /// Stable field code, e.g. `FIELD_REQUIRED` (docs/errors.md).
    pub code: String,
    pub detail: String,
}

impl From<&FieldError> for ProblemField {
    fn from(e: &FieldError) -> Self {
        Self {
            field: e.field.clone(),
            code: e.code.to_owned(),
            detail: e.detail.clone(),
        }
    }
}
