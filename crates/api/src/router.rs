//! The router: every route with its middleware, the metrics-only router,
//! and the headers on every answer.

use std::sync::{Arc, LazyLock};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use facegate_core::{CaptureService, Services};
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::state::{AppState, HttpOptions};
use crate::{capture, extract, handlers, middleware, openapi, scans, web};

/// The whole application with the default [`HttpOptions`].
pub fn router(capture: Arc<CaptureService>) -> Router {
    router_with(capture, &HttpOptions::default())
}

/// Every route, each registered from its handler's `#[utoipa::path]`, so the
/// router and the OpenAPI document ([`openapi`]) name the same routes.
fn routes(options: &HttpOptions) -> OpenApiRouter<AppState> {
    let multipart = || DefaultBodyLimit::max(extract::MAX_MULTIPART_BODY);
    let api = OpenApiRouter::new()
        .routes(routes!(handlers::facemap_initiate).layer(multipart()))
        .routes(routes!(handlers::facemap_initiate_alias_v1).layer(multipart()))
        .routes(routes!(handlers::facemap_initiate_alias_v4).layer(multipart()))
        .routes(routes!(handlers::facemap_initiate_alias_beta).layer(multipart()))
        .routes(routes!(handlers::web_initiate).layer(DefaultBodyLimit::max(extract::MAX_JSON)))
        .routes(routes!(scans::initiate).layer(DefaultBodyLimit::max(extract::MAX_JSON)))
        .routes(routes!(scans::status, scans::delete))
        .routes(routes!(scans::review).layer(DefaultBodyLimit::max(extract::MAX_JSON)))
        .routes(routes!(scans::audit))
        .routes(routes!(scans::data))
        .routes(routes!(scans::document))
        .routes(routes!(scans::transaction))
        .routes(routes!(scans::verification))
        .routes(routes!(scans::images))
        .routes(routes!(handlers::retrieve, handlers::delete))
        .routes(routes!(handlers::callbacks))
        .routes(routes!(capture::open_session, capture::session_status))
        .routes(routes!(capture::start_attempt))
        .routes(
            routes!(capture::upload_frame).layer(DefaultBodyLimit::max(capture::MAX_FRAME_BODY)),
        )
        .routes(routes!(capture::finish_attempt))
        .routes(
            routes!(capture::upload_document)
                .layer(DefaultBodyLimit::max(capture::MAX_DOCUMENT_BODY)),
        )
        .routes(routes!(capture::finish_scan))
        .layer(axum::middleware::from_fn(middleware::required_headers));
    // Image downloads answer JPEG: `User-Agent` is enough, as in the guides.
    let downloads = OpenApiRouter::new()
        .routes(routes!(handlers::image))
        .routes(routes!(handlers::liveness_image))
        .routes(routes!(scans::image))
        .routes(routes!(scans::liveness_image))
        .routes(routes!(scans::facemap))
        .layer(axum::middleware::from_fn(middleware::required_user_agent));
    let mut public = OpenApiRouter::new()
        .merge(api)
        .merge(downloads)
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::readyz));
    if options.public_metrics {
        public = public.routes(routes!(handlers::metrics));
    }
    public
        .routes(routes!(serve_openapi))
        .routes(routes!(web::app))
        .routes(routes!(web::asset))
}

/// The whole application, so tests and the binary serve exactly the same thing.
pub fn router_with(capture: Arc<CaptureService>, options: &HttpOptions) -> Router {
    let state = AppState {
        services: capture.services().clone(),
        capture,
    };
    let (public, _) = routes(options).split_for_parts();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        options.max_in_flight_requests.max(1),
    ));
    let router = public
        .merge(crate::console::router(options.secure_cookies))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::record_metrics,
        ))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
        // The web client's assets set their own caching; nothing else is cached.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(axum::middleware::from_fn(middleware::decodable_path))
        .layer(axum::middleware::from_fn_with_state(
            in_flight,
            middleware::in_flight_limit,
        ))
        .layer(
            // Spans name the route template, never the raw URI: query strings
            // can carry authorization tokens.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str)
                        .to_owned();
                    tracing::info_span!("http", method = %req.method(), route)
                })
                .on_response(middleware::log_response),
        )
        .layer(axum::middleware::from_fn(middleware::time_limit));
    let router = security_headers(router, options.hsts);
    // The guides write some paths with a trailing slash
    // (`…/initiateAuthentication/`, `…/authentications/{ref}/`): every path
    // is routed without it, by one normalisation before routing instead of
    // a second route for each.
    Router::new().fallback_service(NormalizePathLayer::trim_trailing_slash().layer(router))
}

/// `/metrics` alone, for a listener apart from the public one.
pub fn metrics_router(services: Arc<Services>) -> Router {
    let router = Router::new()
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .with_state(services);
    security_headers(router, false)
}

/// Headers on every answer, errors and fallbacks included.
fn security_headers(router: Router, hsts: bool) -> Router {
    let router = router.layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ));
    if !hsts {
        return router;
    }
    // One year, the usual preload minimum; subdomains are the operator's
    // to decide, not this server's.
    router.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
}

/// The OpenAPI document of every route (`/metrics` included, wherever it is
/// served).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let all_routes = HttpOptions {
        public_metrics: true,
        ..HttpOptions::default()
    };
    let (_, paths) = routes(&all_routes).split_for_parts();
    openapi::document(paths)
}

/// [`openapi_document`] as served and committed.
pub static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| openapi::to_json(&openapi_document()));

/// `GET /openapi.json`: the OpenAPI document of every route.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Operations",
    operation_id = "openapi",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object, content_type = "application/json"))
)]
async fn serve_openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;

    use super::HttpOptions;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

    /// `docs/openapi.json` is the generated document; with
    /// `FACEGATE_UPDATE_OPENAPI=1` this test writes it.
    #[test]
    fn the_committed_openapi_document_is_the_generated_one() {
        if std::env::var_os("FACEGATE_UPDATE_OPENAPI").is_some() {
            std::fs::write(COMMITTED, super::OPENAPI_JSON.as_str()).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap();
        assert!(
            committed == *super::OPENAPI_JSON,
            "docs/openapi.json is not the generated document; regenerate it with \
             FACEGATE_UPDATE_OPENAPI=1 cargo test -p facegate-api openapi"
        );
    }

    /// Every route of the router, with every method, is in the document,
    /// and the document names no other.
    #[test]
    fn the_openapi_document_covers_every_route() {
        let (_, routed) = super::routes(&HttpOptions::default()).split_for_parts();
        let operations = |document: &utoipa::openapi::OpenApi| -> BTreeSet<String> {
            let json = serde_json::to_value(&document.paths).unwrap();
            json.as_object()
                .unwrap()
                .iter()
                .flat_map(|(path, item)| {
                    item.as_object()
                        .unwrap()
                        .keys()
                        .map(move |method| format!("{} {path}", method.to_uppercase()))
                })
                .collect()
        };
        let routed = operations(&routed);
        let documented = operations(&super::openapi_document());
        assert!(routed.len() == 36, "{routed:?}");
        assert_eq!(routed, documented);
        for path in [
            "/api/v4/initiateAuthentication",
            "/api/authentication/v1/initiateAuthentication",
        ] {
            assert!(documented.contains(&format!("POST {path}")), "{path}");
        }
    }
}
