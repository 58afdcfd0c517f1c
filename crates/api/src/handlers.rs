//! Route handlers: extract, delegate to the core in one call, answer. Each
//! carries its `#[utoipa::path]`, from which the router registers it and
//! the OpenAPI document describes it.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use facegate_core::{ImageKind, Services};
use facegate_domain::TransactionRef;
use std::sync::Arc;

use crate::auth::Authenticated;
use crate::error::{ApiError, Code};
use crate::extract;
use crate::openapi::{
    ApiHeaders, Binary, DownloadHeaders, InitiateRefusals, LivenessImagePath, ReferencePath,
    RetrievalRefusals,
};
use crate::state::AppState;
use crate::wire::PROBLEM;
use crate::wire::{
    CallbackDelivery, CallbackHistory, EnrollmentMetadata, FacemapInitiateForm, FacemapInitiated,
    Health, Problem, Transaction, TransactionDeleted, WebInitiated,
};

type ApiResult<T> = Result<T, ApiError>;

fn reference(raw: &str) -> ApiResult<TransactionRef> {
    raw.parse().map_err(|_| {
        ApiError::new(
            Code::TRANSACTION_NOT_FOUND,
            "no transaction has this reference",
        )
    })
}

/// `POST /api/authentication/v1/facemap/initiate` and its aliases.
async fn initiate_with_facemap(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult<Json<FacemapInitiated>> {
    facegate_core::Services::authorize_initiate(&caller)?;
    let (fields, facemap) = extract::facemap_initiate_body(request).await?;
    let done = state
        .services
        .initiate_with_facemap(&caller, &fields, &facemap)
        .await?;
    Ok(Json(done.into()))
}

/// One route of [`initiate_with_facemap`], documented on its own path.
macro_rules! facemap_initiate_route {
    ($name:ident, $path:literal, $operation_id:literal, $summary:literal) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "Authentication",
            operation_id = $operation_id,
            summary = $summary,
            security(("basic" = [])),
            params(ApiHeaders),
            request_body(content((
                FacemapInitiateForm = "multipart/form-data",
                encoding(
                    ("enrollmentMetadata" = (content_type = "application/json")),
                    ("facemap" = (content_type = "application/octet-stream")),
                )
            ))),
            responses((status = 200, description = "Created", body = FacemapInitiated), InitiateRefusals)
        )]
        pub async fn $name(
            state: State<AppState>,
            caller: Authenticated,
            request: Request,
        ) -> ApiResult<Json<FacemapInitiated>> {
            initiate_with_facemap(state, caller, request).await
        }
    };
}

facemap_initiate_route!(
    facemap_initiate,
    "/api/authentication/v1/facemap/initiate",
    "facemapInitiate",
    "Start an authentication with the facemap the customer stored"
);
facemap_initiate_route!(
    facemap_initiate_alias_v1,
    "/api/authentication/v1/initiateAuthentication",
    "facemapInitiateAliasV1",
    "Start an authentication with the facemap the customer stored (alias)"
);
facemap_initiate_route!(
    facemap_initiate_alias_v4,
    "/api/v4/initiateAuthentication",
    "facemapInitiateAliasV4",
    "Start an authentication with the facemap the customer stored (alias)"
);
facemap_initiate_route!(
    facemap_initiate_alias_beta,
    "/api/auth/v1/initiate",
    "facemapInitiateAliasBeta",
    "Start an authentication with the facemap the customer stored (alias: the beta path)"
);

/// `POST /api/authentication/v1/web/initiate`.
#[utoipa::path(
    post,
    path = "/api/authentication/v1/web/initiate",
    tag = "Authentication",
    operation_id = "webInitiate",
    summary = "Start an authentication with the facemap the server still holds",
    security(("basic" = [])),
    params(ApiHeaders),
    request_body(
        content = EnrollmentMetadata,
        content_type = "application/json",
        description = "Bare or wrapped in `enrollmentMetadata`; at most 16 KiB."
    ),
    responses((status = 200, description = "Created", body = WebInitiated), InitiateRefusals)
)]
pub async fn web_initiate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult<Json<WebInitiated>> {
    facegate_core::Services::authorize_initiate(&caller)?;
    let fields = extract::json_initiate_body(request).await?;
    let done = state
        .services
        .initiate_with_server_facemap(&caller, &fields)
        .await?;
    Ok(Json(done.into()))
}

/// `GET /api/netverify/v2/authentications/{reference}`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/authentications/{reference}",
    tag = "Retrieval",
    operation_id = "retrieveAuthentication",
    summary = "Retrieve an authentication",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The transaction", body = Transaction), RetrievalRefusals)
)]
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<Transaction>> {
    let tx = state
        .services
        .retrieve_transaction(&caller, reference(&raw)?)
        .await?;
    Ok(Json(Transaction::new(
        &tx,
        state.services.now(),
        state.services.public_base_url(),
    )))
}

/// `DELETE /api/netverify/v2/authentications/{reference}`.
#[utoipa::path(
    delete,
    path = "/api/netverify/v2/authentications/{reference}",
    tag = "Retrieval",
    operation_id = "deleteAuthentication",
    summary = "Delete an authentication: erases PII, images and facemap",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "Deleted", body = TransactionDeleted), RetrievalRefusals)
)]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<TransactionDeleted>> {
    let reference = reference(&raw)?;
    state
        .services
        .delete_transaction(&caller, reference)
        .await?;
    Ok(Json(TransactionDeleted {
        timestamp: state.services.now().into(),
        transaction_reference: reference,
        deleted: true,
    }))
}

fn jpeg(bytes: Vec<u8>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
}

/// `GET /api/netverify/v2/authentications/{reference}/images/face`: the best
/// face frame, decrypted.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/authentications/{reference}/images/face",
    tag = "Retrieval",
    operation_id = "faceImage",
    summary = "The best face frame",
    security(("basic" = [])),
    params(DownloadHeaders, ReferencePath),
    responses(
        (status = 200, description = "JPEG", body = inline(Binary), content_type = "image/jpeg"),
        RetrievalRefusals
    )
)]
pub async fn image(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    state
        .services
        .transaction_image(&caller, reference(&raw)?, ImageKind::Face, 1)
        .await?
        .map(jpeg)
        .ok_or_else(|| ApiError::new(Code::IMAGE_NOT_FOUND, "this transaction has no face image"))
}

/// `GET /api/netverify/v2/authentications/{reference}/images/liveness/{n}`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/authentications/{reference}/images/liveness/{n}",
    tag = "Retrieval",
    operation_id = "livenessImage",
    summary = "A liveness frame",
    security(("basic" = [])),
    params(DownloadHeaders, LivenessImagePath),
    responses(
        (status = 200, description = "JPEG", body = inline(Binary), content_type = "image/jpeg"),
        RetrievalRefusals
    )
)]
pub async fn liveness_image(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((raw, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    let reference = reference(&raw)?;
    let missing = || {
        ApiError::new(
            Code::IMAGE_NOT_FOUND,
            "this transaction has no liveness image with this number",
        )
    };
    // Validate the reference (and the caller's access) before the number.
    let n = n.parse::<u32>().ok().filter(|n| *n >= 1);
    let image = state
        .services
        .transaction_image(&caller, reference, ImageKind::Liveness, n.unwrap_or(1))
        .await?;
    match (n, image) {
        (Some(_), Some(bytes)) => Ok(jpeg(bytes)),
        _ => Err(missing()),
    }
}

/// `GET /api/netverify/v2/authentications/{reference}/callbacks` (Beyond):
/// every callback of the transaction with every delivery attempt.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/authentications/{reference}/callbacks",
    tag = "Retrieval",
    operation_id = "authenticationCallbacks",
    summary = "Callbacks of the transaction with every delivery attempt",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "Delivery history", body = CallbackHistory), RetrievalRefusals)
)]
pub async fn callbacks(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<CallbackHistory>> {
    let records = state
        .services
        .transaction_callbacks(&caller, reference(&raw)?)
        .await?;
    Ok(Json(CallbackHistory {
        callbacks: records.iter().map(CallbackDelivery::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    operation_id = "healthz",
    summary = "Liveness",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    operation_id = "readyz",
    summary = "Readiness (database reachable)",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Problem, content_type = PROBLEM)
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.services.readiness().await {
        Ok(()) => Json(Health {
            status: "ready".to_owned(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::new(Code::SERVICE_UNAVAILABLE, "the database is not reachable")
                .into_response()
        }
    }
}

/// Prometheus metrics (no customer data: route templates, statuses, counts).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(services): State<Arc<Services>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        services.metrics().render(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(Code::NOT_FOUND, "no such resource")
}

pub async fn method_not_allowed() -> Response {
    let mut r = ApiError::new(
        Code::METHOD_NOT_ALLOWED,
        "this resource does not support the method",
    )
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
