//! What every handler receives, and how the router is exposed.

use std::sync::Arc;

use facegate_core::{CaptureService, Services};

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
    /// The console's session cookie is `Secure` (`__Host-` named): true
    /// outside development.
    pub secure_cookies: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            public_metrics: true,
            hsts: false,
            max_in_flight_requests: 512,
            secure_cookies: false,
        }
    }
}
