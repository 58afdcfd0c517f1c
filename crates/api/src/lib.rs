//! Facegate's HTTP API: the router, its middleware and thin handlers that
//! extract, delegate to `facegate-core` in one call, and map the answer;
//! the typed request and response bodies (`wire`) and the OpenAPI document
//! generated from them and the router (`openapi`).

pub mod auth;
pub mod capture;
pub mod error;
pub mod extract;
mod handlers;
mod middleware;
pub mod openapi;
pub mod web;
pub mod wire;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use facegate_core::Services;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use error::{ApiError, Code};

/// What every handler receives.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
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
pub fn router(services: Arc<Services>) -> Router {
    router_with(services, &HttpOptions::default())
}

/// Every route, each registered from its handler's `#[utoipa::path]`, so the
/// router and the OpenAPI document ([`openapi`]) name the same routes.
fn routes(options: &HttpOptions) -> OpenApiRouter<AppState> {
    let multipart = || DefaultBodyLimit::max(extract::MAX_MULTIPART_BODY);
    let api = OpenApiRouter::new()
        .routes(routes!(handlers::facemap_initiate).layer(multipart()))
        .routes(routes!(handlers::facemap_initiate_alias_v1).layer(multipart()))
        .routes(routes!(handlers::facemap_initiate_alias_v4).layer(multipart()))
        .routes(routes!(handlers::web_initiate).layer(DefaultBodyLimit::max(extract::MAX_JSON)))
        .routes(routes!(handlers::retrieve, handlers::delete))
        .routes(routes!(handlers::image))
        .routes(routes!(handlers::liveness_image))
        .routes(routes!(handlers::callbacks))
        .routes(routes!(capture::open_session, capture::session_status))
        .routes(routes!(capture::start_attempt))
        .routes(
            routes!(capture::upload_frame).layer(DefaultBodyLimit::max(capture::MAX_FRAME_BODY)),
        )
        .routes(routes!(capture::finish_attempt))
        .layer(axum::middleware::from_fn(middleware::required_headers));
    let mut public = OpenApiRouter::new()
        .merge(api)
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::readyz));
    if options.public_metrics {
        public = public.routes(routes!(handlers::metrics));
    }
    public
        .routes(routes!(handlers::openapi))
        .routes(routes!(web::app))
        .routes(routes!(web::asset))
}

/// The whole application, so tests and the binary serve exactly the same thing.
pub fn router_with(services: Arc<Services>, options: &HttpOptions) -> Router {
    let state = AppState { services };
    let (public, _) = routes(options).split_for_parts();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        options.max_in_flight_requests.max(1),
    ));
    let router = public
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
        .with_state(AppState { services });
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
