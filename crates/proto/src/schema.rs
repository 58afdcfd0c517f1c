//! Schemas of the domain's enumerations, written from their `as_str`, for
//! the members whose Rust type is the domain's own.

use facegate_domain::{ScanSource, TransactionState};

/// The enumeration of the transaction states, as the API writes them.
pub fn transaction_state_schema() -> utoipa::openapi::Object {
    string_enum(TransactionState::ALL.map(TransactionState::as_str))
}

/// `WEB` or `SDK`.
pub fn scan_source_schema() -> utoipa::openapi::Object {
    string_enum([ScanSource::Web, ScanSource::Sdk].map(ScanSource::as_str))
}

/// A string schema with these values only.
pub fn string_enum<const N: usize>(values: [&str; N]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .build()
}
