//! Initiating an authentication: the enrollment metadata, the multipart
//! form of `facemap/initiate`, and the two answers.

use facegate_core::{InitiateRequest, Initiated};
use facegate_domain::{FieldError, LocaleSet, TransactionRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::field::{mistyped, Field, Text, WholeNumber};
use super::Timestamp;

/// What the customer says about the authentication it starts: the JSON of
/// the `enrollmentMetadata` part or the `web/initiate` body (bare, or
/// wrapped in `{"enrollmentMetadata": …}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentMetadata {
    /// The enrollment (ID verification) the facemap belongs to.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = uuid::Uuid, required = true)]
    pub enrollment_transaction_reference: Field<String>,
    /// Your reference for the user (a number is kept as its decimal text;
    /// empty means none). Keep personal data out of it; an account may have
    /// values that look like e-mail addresses or phone numbers refused.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, max_length = 100)]
    pub user_reference: Field<Text>,
    /// Where the `NETVERIFY_AUTHENTICATION` callback is posted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 255)]
    pub callback_url: Field<String>,
    /// Where the web client sends the user after a success.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 2047)]
    pub success_url: Field<String>,
    /// Where the web client sends the user after a failure.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 255)]
    pub error_url: Field<String>,
    /// The web client's language (any case, `_` or `-`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(schema_with = locale_schema)]
    pub locale: Field<String>,
    /// Authentication transactions live min(this or the account default, 15) minutes.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    /// A JSON integer or a decimal string (`"30"`).
    #[schema(value_type = i64, minimum = 5, maximum = 86400)]
    pub token_lifetime_in_minutes: Field<WholeNumber>,
}

fn locale_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(facegate_domain::Locale::all(
            LocaleSet::Authentication,
        )))
        .description(Some("The web client's language (any case, `_` or `-`)."))
        .build()
}

impl EnrollmentMetadata {
    /// For a customer: metadata naming the enrollment only.
    pub fn for_enrollment(reference: impl ToString) -> Self {
        Self {
            enrollment_transaction_reference: reference.to_string().into(),
            ..Self::default()
        }
    }

    /// The raw fields the core validates; every member of a wrong JSON type
    /// is one `FIELD_TYPE` error, in the order of the members.
    pub fn into_request(self) -> Result<InitiateRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let string = |errors: &mut Vec<FieldError>, field: Field<String>, name: &str| {
            field.collect(errors, || mistyped(name, "a string"))
        };
        let request = InitiateRequest {
            enrollment_transaction_reference: string(
                &mut errors,
                self.enrollment_transaction_reference,
                "enrollmentTransactionReference",
            ),
            user_reference: self
                .user_reference
                .collect(&mut errors, || {
                    mistyped("userReference", "a string or a number")
                })
                .map(|t| t.0),
            callback_url: string(&mut errors, self.callback_url, "callbackUrl"),
            success_url: string(&mut errors, self.success_url, "successUrl"),
            error_url: string(&mut errors, self.error_url, "errorUrl"),
            locale: string(&mut errors, self.locale, "locale"),
            token_lifetime_minutes: self
                .token_lifetime_in_minutes
                .collect(&mut errors, || {
                    mistyped("tokenLifetimeInMinutes", "an integer")
                })
                .map(|n| n.0),
        };
        if errors.is_empty() {
            Ok(request)
        } else {
            Err(errors)
        }
    }
}

/// The `multipart/form-data` body of `facemap/initiate` (documentation only:
/// the parts are read one by one within their limits).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FacemapInitiateForm {
    /// JSON (`application/json`), bare or wrapped in `enrollmentMetadata`;
    /// at most 16 KiB.
    enrollment_metadata: EnrollmentMetadata,
    /// The facemap the customer stored (`application/octet-stream`).
    #[schema(value_type = String, format = Binary, max_length = 65536)]
    facemap: Vec<u8>,
}

/// The answer to `facemap/initiate` and its aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FacemapInitiated {
    #[schema(value_type = uuid::Uuid)]
    pub authentication_transaction_reference: TransactionRef,
    /// The web client's page with the authorization token.
    #[schema(format = "uri")]
    pub redirect_url: String,
    pub timestamp: Timestamp,
}

impl From<Initiated> for FacemapInitiated {
    fn from(done: Initiated) -> Self {
        Self {
            authentication_transaction_reference: done.reference,
            redirect_url: done.redirect_url,
            timestamp: done.timestamp.into(),
        }
    }
}

/// The answer to `web/initiate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebInitiated {
    pub timestamp: Timestamp,
    /// The web client's page with the authorization token.
    #[schema(format = "uri")]
    pub redirect_url: String,
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: TransactionRef,
}

impl From<Initiated> for WebInitiated {
    fn from(done: Initiated) -> Self {
        Self {
            timestamp: done.timestamp.into(),
            redirect_url: done.redirect_url,
            transaction_reference: done.reference,
        }
    }
}
