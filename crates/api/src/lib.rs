//! Facegate's HTTP API: the router, its middleware and thin handlers that
//! extract, delegate to `facegate-core` in one call, and map the answer.

pub mod auth;
pub mod capture;
pub mod error;
pub mod extract;
mod handlers;
mod middleware;
pub mod web;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use facegate_core::{CaptureService, Services};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, Code};

/// What every handler receives: the services, and the capture protocol
/// (which exists only with a face engine).
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub capture: Arc<CaptureService>,
}

impl axum::extract::FromRef<AppState> for Arc<Services> {
    fn from_ref(state: &AppState) -> Self {
        state.services.clone()
    }
}

/// How the router is exposed; the defaults suit development.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Serve `/metrics` here (else only [`metrics_router`] serves it).
    pub public_metrics: bool,
    /// Send `Strict-Transport-Security`: only true behind TLS.
    pub hsts: bool,
    /// Requests handled at once at most; beyond it `503 SERVER_BUSY`.
    pub max_in_flight_requests: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            public_metrics: true,
            hsts: false,
            max_in_flight_requests: 512,
        }
    }
}

/// The whole application with the default [`HttpOptions`].
pub fn router(capture: Arc<CaptureService>) -> Router {
    router_with(capture, &HttpOptions::default())
}

/// The whole application, so tests and the binary serve exactly the same thing.
pub fn router_with(capture: Arc<CaptureService>, options: &HttpOptions) -> Router {
    let state = AppState {
        services: capture.services().clone(),
        capture,
    };
    let initiate =
        post(handlers::facemap_initiate).layer(DefaultBodyLimit::max(extract::MAX_MULTIPART_BODY));
    let api = Router::new()
        .route("/api/authentication/v1/facemap/initiate", initiate.clone())
        .route(
            "/api/authentication/v1/initiateAuthentication",
            initiate.clone(),
        )
        .route("/api/v4/initiateAuthentication", initiate)
        .route(
            "/api/authentication/v1/web/initiate",
            post(handlers::web_initiate).layer(DefaultBodyLimit::max(extract::MAX_JSON)),
        )
        .route(
            "/api/netverify/v2/authentications/{reference}",
            get(handlers::retrieve).delete(handlers::delete),
        )
        .route(
            "/api/netverify/v2/authentications/{reference}/images/face",
            get(handlers::image),
        )
        .route(
            "/api/netverify/v2/authentications/{reference}/images/liveness/{n}",
            get(handlers::liveness_image),
        )
        .route(
            "/api/netverify/v2/authentications/{reference}/callbacks",
            get(handlers::callbacks),
        )
        .route(
            "/api/capture/v1/session",
            post(capture::open_session).get(capture::session_status),
        )
        .route("/api/capture/v1/attempts", post(capture::start_attempt))
        .route(
            "/api/capture/v1/attempts/{attempt}/frames",
            post(capture::upload_frame).layer(DefaultBodyLimit::max(capture::MAX_FRAME_BODY)),
        )
        .route(
            "/api/capture/v1/attempts/{attempt}/finish",
            post(capture::finish_attempt),
        )
        .layer(axum::middleware::from_fn(middleware::required_headers));
    let mut public = Router::new()
        .merge(api)
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz));
    if options.public_metrics {
        public = public.route("/metrics", get(handlers::metrics));
    }
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        options.max_in_flight_requests.max(1),
    ));
    let router = public
        .route("/openapi.json", get(handlers::openapi))
        .route("/web/v4/app", get(web::app))
        .route("/web/v4/assets/{file}", get(web::asset))
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
    security_headers(router, options.hsts)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    /// Every route of the router is documented in `docs/openapi.json`, and
    /// the document names no route that does not exist.
    #[test]
    fn the_openapi_document_covers_every_route() {
        let source = include_str!("lib.rs");
        let router_source = source.split("#[cfg(test)]").next().unwrap();
        let mut routes: Vec<String> = router_source
            .split(".route(")
            .skip(1)
            .filter_map(|rest| rest.trim_start().strip_prefix('"'))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect();
        routes.sort();
        routes.dedup();
        let doc: serde_json::Value = serde_json::from_str(crate::handlers::OPENAPI).unwrap();
        let mut documented: Vec<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        documented.sort();
        assert_eq!(routes, documented);
    }
}
