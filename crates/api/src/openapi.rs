//! The OpenAPI 3.1 document, generated from the wire types ([`crate::wire`])
//! and the `#[utoipa::path]` of every handler the router serves (the router
//! registers its routes from those annotations, so it serves no route the
//! document lacks), and the types those annotations name. The router
//! builds the document from its routes and serves it at `GET /openapi.json`;
//! `docs/openapi.json` is its committed copy, which a test keeps equal:
//! `FACEGATE_UPDATE_OPENAPI=1 cargo test -p facegate-api openapi` rewrites it.

use std::borrow::Cow;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use crate::wire::{self, Problem, PROBLEM};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Facegate API",
        description = "Jumio Netverify-compatible facemap authentication API. Error codes: docs/errors.md."
    ),
    components(schemas(Problem, wire::AuthenticationCallback, wire::IdVerificationCallback)),
    modifiers(&SecuritySchemes, &Webhooks),
    tags(
        (name = "Authentication", description = "Starting an authentication (HTTP Basic, role ALL or API)"),
        (name = "ID verification", description = "Enrollment: starting an ID verification (role ALL or API), retrieving and deleting it (role ALL or ADMIN)"),
        (name = "Retrieval", description = "Reading, auditing and deleting transactions (HTTP Basic, role ALL or ADMIN)"),
        (name = "Capture", description = "The capture protocol the web client and native apps speak (docs/capture-protocol.md)"),
        (name = "Operations", description = "Probes, metrics and this document"),
    )
)]
struct Document;

/// The whole document: its frame, then `paths` (every route of the
/// router, from [`crate::router`]).
pub fn document(paths: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut document = Document::openapi();
    document.merge(paths);
    describe_content_security_policy(&mut document);
    document
}

/// Names the web client's policy on every `Content-Security-Policy` header
/// (an annotation's header description can only be a literal).
fn describe_content_security_policy(document: &mut utoipa::openapi::OpenApi) {
    let description = format!("Self only: `{}`", crate::web::CONTENT_SECURITY_POLICY);
    let operations = document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
    });
    for operation in operations {
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                if let Some(header) = response.headers.get_mut("Content-Security-Policy") {
                    header.description = Some(description.clone());
                }
            }
        }
    }
}

/// A document as served and committed: pretty JSON, one final newline.
pub fn to_json(document: &utoipa::openapi::OpenApi) -> String {
    let mut text = document
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        let http = |scheme, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(scheme)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "basic",
            http(
                HttpAuthScheme::Basic,
                "User = API token, password = API secret.",
            ),
        );
        components.add_security_scheme(
            "captureToken",
            http(
                HttpAuthScheme::Bearer,
                "The capture token from `POST /api/capture/v1/session` (docs/capture-protocol.md).",
            ),
        );
    }
}

/// The callback the server sends, as an OpenAPI 3.1 `webhooks` entry.
/// utoipa 5 has no `webhooks` member; its extension map is written into
/// the document's top level as it is, so it carries the entry.
struct Webhooks;

impl Modify for Webhooks {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let mut entry = serde_json::Map::new();
        for (event, schema, summary) in [
            (
                wire::AUTHENTICATION_CALLBACK,
                wire::AuthenticationCallback::name(),
                "Sent for every final state (EXPIRED included), signed per Standard Webhooks \
                 (webhook-id, webhook-timestamp, webhook-signature; during a master-key \
                 rotation's overlap webhook-signature holds two space-separated v1 signatures, \
                 under the new and the old secret)",
            ),
            (
                wire::ID_VERIFICATION_CALLBACK,
                wire::IdVerificationCallback::name(),
                "Sent when an ID verification is decided, or ends NO_ID_UPLOADED when its token \
                 lifetime is over; signed as every callback",
            ),
        ] {
            let operation = OperationBuilder::new()
                .summary(Some(summary))
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .content(
                            "application/x-www-form-urlencoded",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(schema)))
                                .build(),
                        )
                        .required(Some(utoipa::openapi::Required::True))
                        .build(),
                ))
                .response(
                    "200",
                    ResponseBuilder::new().description(
                        "Any 2xx acknowledges; anything else is retried with backoff for at least 24 h",
                    ),
                )
                .build();
            let item = PathItem::new(HttpMethod::Post, operation);
            entry.insert(
                event.to_owned(),
                serde_json::to_value(item).unwrap_or_default(),
            );
        }
        document
            .extensions
            .get_or_insert_with(Default::default)
            .insert("webhooks".to_owned(), entry.into());
    }
}

/// `User-Agent` and `Accept`, which every JSON call of `/api` needs (SPEC §0).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ApiHeaders {
    /// Your company and application, e.g. `Acme Onboarding/1.0`.
    #[param(rename = "User-Agent")]
    user_agent: String,
    #[param(rename = "Accept", example = "application/json")]
    accept: String,
}

/// `User-Agent`, which an image download needs (no `Accept`, as in the
/// guides).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct DownloadHeaders {
    /// Your company and application, e.g. `Acme Onboarding/1.0`.
    #[param(rename = "User-Agent")]
    user_agent: String,
}

/// A transaction's reference in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ReferencePath {
    #[param(value_type = uuid::Uuid, min_length = 36, max_length = 36)]
    reference: String,
}

/// A transaction's reference and a liveness image's number in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct LivenessImagePath {
    #[param(value_type = uuid::Uuid, min_length = 36, max_length = 36)]
    reference: String,
    /// 1-based.
    #[param(minimum = 1)]
    n: u32,
}

/// A scan's reference and an image classifier in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ScanImagePath {
    #[param(value_type = uuid::Uuid, min_length = 36, max_length = 36)]
    reference: String,
    /// `front`, `back` or `face`.
    #[param(example = "front")]
    classifier: String,
}

/// A document side in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct DocumentSidePath {
    /// `front` or `back`.
    #[param(example = "front")]
    side: String,
}

/// The headers of a document side's upload besides the token.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct DocumentHeaders {
    /// `CAMERA` (captured by the client's camera) or `UPLOAD` (a file the
    /// user chose); the workflow decides which are allowed.
    #[param(rename = "Capture-Method", example = "CAMERA")]
    method: String,
    /// `PASSPORT`, `DRIVING_LICENSE` or `ID_CARD`: required with the front
    /// when the initiation named no preset.
    #[param(rename = "Capture-Document-Type", required = false)]
    document_type: Option<String>,
}

/// A capture attempt's id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AttemptPath {
    attempt: uuid::Uuid,
}

/// The headers of a frame upload besides the token.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct FrameHeaders {
    /// The attempt's nonce.
    #[param(rename = "Capture-Nonce")]
    nonce: String,
    /// Milliseconds since the attempt's first frame.
    #[param(rename = "Capture-Time-Ms", minimum = 0)]
    time_ms: u32,
    /// The frame's index, from 0.
    #[param(rename = "Capture-Frame", minimum = 0)]
    frame: u32,
}

/// Bytes of a body (an image): a binary string.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for Binary {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Binary")
    }
}

/// The refusals of an initiation.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum InitiateRefusals {
    #[response(status = 400, description = "Invalid input", content_type = PROBLEM)]
    Invalid(Problem),
    #[response(status = 401, description = "Missing or invalid credentials", content_type = PROBLEM)]
    Unauthenticated(Problem),
    #[response(status = 403, description = "Wrong role or feature not enabled", content_type = PROBLEM)]
    Forbidden(Problem),
    #[response(status = 404, description = "Unknown or deleted", content_type = PROBLEM)]
    NotFound(Problem),
    #[response(status = 409, description = "State conflict", content_type = PROBLEM)]
    Conflict(Problem),
    #[response(status = 413, description = "Too large", content_type = PROBLEM)]
    TooLarge(Problem),
    #[response(status = 415, description = "Wrong media type", content_type = PROBLEM)]
    WrongMediaType(Problem),
    #[response(
        status = 429,
        description = "Too many failed attempts (RATE_LIMITED) or too many initiations for this account (INITIATION_RATE_LIMITED); see Retry-After",
        content_type = PROBLEM
    )]
    TooMany(Problem),
    #[response(status = 503, description = "Not ready", content_type = PROBLEM)]
    Unavailable(Problem),
}

/// The refusals of the retrieval routes.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum RetrievalRefusals {
    #[response(status = 401, description = "Missing or invalid credentials", content_type = PROBLEM)]
    Unauthenticated(Problem),
    #[response(status = 403, description = "Wrong role or feature not enabled", content_type = PROBLEM)]
    Forbidden(Problem),
    #[response(status = 404, description = "Unknown or deleted", content_type = PROBLEM)]
    NotFound(Problem),
    #[response(status = 429, description = "Too many failed attempts; see Retry-After", content_type = PROBLEM)]
    TooMany(Problem),
    #[response(status = 503, description = "Not ready", content_type = PROBLEM)]
    Unavailable(Problem),
}
