//! The ID verification routes: `POST /api/v4/initiate` and retrieval and
//! deletion under `/api/netverify/v2/scans/{reference}`. Thin handlers:
//! extract, delegate to the core in one call, answer.

use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use facegate_core::{ImageKind, Services};
use facegate_domain::EnrollmentRef;

use crate::auth::Authenticated;
use crate::error::{ApiError, Code};
use crate::extract;
use crate::openapi::{
    ApiHeaders, Binary, DownloadHeaders, InitiateRefusals, LivenessImagePath, ReferencePath,
    RetrievalRefusals, ScanImagePath,
};
use crate::state::AppState;
use crate::wire::{
    IdVerificationInitiated, ScanAudit, ScanData, ScanDeleted, ScanDocument, ScanImageList,
    ScanInitiate, ScanReviewBody, ScanReviewed, ScanStatus, ScanTransaction, ScanVerification,
};

type ApiResult<T> = Result<T, ApiError>;

fn reference(raw: &str) -> ApiResult<EnrollmentRef> {
    raw.parse().map_err(|_| {
        ApiError::new(
            Code::SCAN_NOT_FOUND,
            "no ID verification has this reference",
        )
    })
}

/// `POST /api/v4/initiate`.
#[utoipa::path(
    post,
    path = "/api/v4/initiate",
    tag = "ID verification",
    operation_id = "initiateIdVerification",
    summary = "Start an ID verification (an enrollment: ID document and, for identity workflows, a live selfie)",
    security(("basic" = [])),
    params(ApiHeaders),
    request_body(content = ScanInitiate, content_type = "application/json", description = "At most 16 KiB."),
    responses((status = 200, description = "Created", body = IdVerificationInitiated), InitiateRefusals)
)]
pub async fn initiate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    request: Request,
) -> ApiResult<Json<IdVerificationInitiated>> {
    Services::authorize_scan_initiate(&caller)?;
    let body: ScanInitiate = extract::json_body(request).await?;
    let fields = body.into_request().map_err(ApiError::validation)?;
    let done = state.services.initiate_scan(&caller, &fields).await?;
    Ok(Json(done.into()))
}

/// `GET /api/netverify/v2/scans/{reference}`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}",
    tag = "ID verification",
    operation_id = "scanStatus",
    summary = "The status of an ID verification: PENDING, DONE or FAILED",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The status", body = ScanStatus), RetrievalRefusals)
)]
pub async fn status(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanStatus>> {
    let scan = state
        .services
        .retrieve_scan(&caller, reference(&raw)?)
        .await?;
    Ok(Json(ScanStatus::new(&scan, state.services.now())))
}

/// `DELETE /api/netverify/v2/scans/{reference}`.
#[utoipa::path(
    delete,
    path = "/api/netverify/v2/scans/{reference}",
    tag = "ID verification",
    operation_id = "deleteScan",
    summary = "Delete an ID verification: erases images, extracted data and the server's facemap; the tombstone facemap authentication needs remains",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "Deleted", body = ScanDeleted), RetrievalRefusals)
)]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanDeleted>> {
    let reference = reference(&raw)?;
    state.services.delete_scan(&caller, reference).await?;
    Ok(Json(ScanDeleted {
        timestamp: state.services.now().into(),
        scan_reference: reference,
        deleted: true,
    }))
}

/// `POST /api/netverify/v2/scans/{reference}/review`.
#[utoipa::path(
    post,
    path = "/api/netverify/v2/scans/{reference}/review",
    tag = "ID verification",
    operation_id = "reviewScan",
    summary = "Approve or reject a decided ID verification by hand, with a reason; the callback is sent again",
    description = "`REJECT` makes the scan `ERROR_NOT_READABLE_ID` with `300 MANUAL_REJECTION`; \
        `APPROVE` makes it `APPROVED_VERIFIED`, overriding an automatic rejection (a facemap is \
        issued only by an automatic approval: a rejected scan's selfie template was never kept). \
        Only an approved enrollment authenticates. Every review is in the scan's audit trail. \
        Admin credential.",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    request_body(content = ScanReviewBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Reviewed", body = ScanReviewed),
        (status = 400, description = "VALIDATION_FAILED", body = crate::wire::Problem, content_type = crate::wire::PROBLEM),
        (status = 409, description = "SCAN_NOT_DECIDED, SCAN_NOTHING_TO_REVIEW or REVIEW_UNCHANGED", body = crate::wire::Problem, content_type = crate::wire::PROBLEM),
        RetrievalRefusals
    )
)]
pub async fn review(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
    request: Request,
) -> ApiResult<Json<ScanReviewed>> {
    let reference = reference(&raw)?;
    let body: ScanReviewBody = extract::json_body(request).await?;
    let fields = body.into_request().map_err(ApiError::validation)?;
    let reviewed = state
        .services
        .review_scan(&caller, reference, &fields)
        .await?;
    Ok(Json(ScanReviewed::from(&reviewed)))
}

/// `GET /api/netverify/v2/scans/{reference}/audit`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/audit",
    tag = "ID verification",
    operation_id = "scanAudit",
    summary = "The audit trail of an ID verification's manual reviews",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "Oldest first", body = ScanAudit), RetrievalRefusals)
)]
pub async fn audit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanAudit>> {
    let reference = reference(&raw)?;
    let trail = state.services.scan_audit(&caller, reference).await?;
    Ok(Json(ScanAudit {
        scan_reference: reference,
        audit: trail.iter().map(Into::into).collect(),
    }))
}

/// `GET /api/netverify/v2/scans/{reference}/data`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/data",
    tag = "ID verification",
    operation_id = "scanData",
    summary = "Document, transaction and verification data of an ID verification, and its facemap link",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The details", body = ScanData), RetrievalRefusals)
)]
pub async fn data(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanData>> {
    let services = &state.services;
    let details = services.scan_details(&caller, reference(&raw)?).await?;
    Ok(Json(ScanData::new(
        &details,
        services.now(),
        services.public_base_url(),
    )))
}

/// `GET /api/netverify/v2/scans/{reference}/data/document`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/data/document",
    tag = "ID verification",
    operation_id = "scanDocument",
    summary = "What was read from the document",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The document data", body = ScanDocument), RetrievalRefusals)
)]
pub async fn document(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanDocument>> {
    let details = state
        .services
        .scan_details(&caller, reference(&raw)?)
        .await?;
    Ok(Json(ScanDocument::document(
        &details,
        Some(state.services.now()),
    )))
}

/// `GET /api/netverify/v2/scans/{reference}/data/transaction`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/data/transaction",
    tag = "ID verification",
    operation_id = "scanTransaction",
    summary = "The transaction data of an ID verification",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The transaction data", body = ScanTransaction), RetrievalRefusals)
)]
pub async fn transaction(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanTransaction>> {
    let scan = state
        .services
        .retrieve_scan(&caller, reference(&raw)?)
        .await?;
    Ok(Json(ScanTransaction::alone(&scan, state.services.now())))
}

/// `GET /api/netverify/v2/scans/{reference}/data/verification`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/data/verification",
    tag = "ID verification",
    operation_id = "scanVerification",
    summary = "The verification data: MRZ check, reject reason, identity verification and the evidence",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The verification data", body = ScanVerification), RetrievalRefusals)
)]
pub async fn verification(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanVerification>> {
    let scan = state
        .services
        .retrieve_scan(&caller, reference(&raw)?)
        .await?;
    Ok(Json(ScanVerification::alone(&scan, state.services.now())))
}

/// `GET /api/netverify/v2/scans/{reference}/images`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/images",
    tag = "ID verification",
    operation_id = "scanImages",
    summary = "The images of an ID verification",
    security(("basic" = [])),
    params(ApiHeaders, ReferencePath),
    responses((status = 200, description = "The image links", body = ScanImageList), RetrievalRefusals)
)]
pub async fn images(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Json<ScanImageList>> {
    let services = &state.services;
    let details = services.scan_details(&caller, reference(&raw)?).await?;
    Ok(Json(ScanImageList::new(
        &details,
        services.now(),
        services.public_base_url(),
    )))
}

/// An image answered with its own type (document sides may be PNG).
fn image_response(bytes: Vec<u8>) -> Response {
    let png = bytes.starts_with(b"\x89PNG");
    let content_type = if png { "image/png" } else { "image/jpeg" };
    ([(CONTENT_TYPE, content_type)], bytes).into_response()
}

fn no_image() -> ApiError {
    ApiError::new(
        Code::IMAGE_NOT_FOUND,
        "this ID verification has no such image",
    )
}

/// `GET /api/netverify/v2/scans/{reference}/images/{classifier}`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/images/{classifier}",
    tag = "ID verification",
    operation_id = "scanImage",
    summary = "The document front or back, or the selfie's face",
    security(("basic" = [])),
    params(DownloadHeaders, ScanImagePath),
    responses(
        (status = 200, description = "JPEG or PNG", body = inline(Binary), content_type = "image/jpeg"),
        RetrievalRefusals
    )
)]
pub async fn image(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((raw, classifier)): Path<(String, String)>,
) -> ApiResult<Response> {
    let reference = reference(&raw)?;
    let kind = match classifier.as_str() {
        "front" => Some(ImageKind::Front),
        "back" => Some(ImageKind::Back),
        "face" => Some(ImageKind::Face),
        _ => None,
    };
    // The reference (and the caller's access) first, then the classifier.
    let image = state
        .services
        .scan_image(&caller, reference, kind.unwrap_or(ImageKind::Front), 1)
        .await?;
    match (kind, image) {
        (Some(_), Some(bytes)) => Ok(image_response(bytes)),
        _ => Err(no_image()),
    }
}

/// `GET /api/netverify/v2/scans/{reference}/images/liveness/{n}`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/images/liveness/{n}",
    tag = "ID verification",
    operation_id = "scanLivenessImage",
    summary = "A liveness frame of the selfie",
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
    let n = n.parse::<u32>().ok().filter(|n| *n >= 1);
    let image = state
        .services
        .scan_image(&caller, reference, ImageKind::Liveness, n.unwrap_or(1))
        .await?;
    match (n, image) {
        (Some(_), Some(bytes)) => Ok(image_response(bytes)),
        _ => Err(no_image()),
    }
}

/// `GET /api/netverify/v2/scans/{reference}/data/facemap`.
#[utoipa::path(
    get,
    path = "/api/netverify/v2/scans/{reference}/data/facemap",
    tag = "ID verification",
    operation_id = "scanFacemap",
    summary = "The facemap the ID verification issued (store it: after DELETE only your copy remains)",
    security(("basic" = [])),
    params(DownloadHeaders, ReferencePath),
    responses(
        (status = 200, description = "The facemap", body = inline(Binary), content_type = "application/octet-stream"),
        RetrievalRefusals
    )
)]
pub async fn facemap(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let bytes = state
        .services
        .scan_facemap(&caller, reference(&raw)?)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::FACEMAP_NOT_FOUND,
                "this ID verification issued no facemap",
            )
        })?;
    Ok(([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
