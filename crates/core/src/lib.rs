//! Facegate's application services: each public method is one use case
//! (initiate, retrieve, delete, expire, deliver callbacks, manage accounts),
//! combining the domain rules, the facemap keyring, storage and the clock.
//! Transports (HTTP, CLI) stay thin and call these.

pub mod accounts;
pub mod authentication;
pub mod capture;
pub mod credentials;
pub mod delivery;
pub mod engine;
pub mod error;
pub mod facemaps;
pub mod images;
pub mod keys;
pub mod limits;
pub mod metrics;
mod render;

use std::sync::Arc;

use facegate_domain::{Clock, LockoutPolicy, UrlPolicy};
use facegate_facemap::Keyring;
use facegate_storage::Store;
use tokio::sync::Notify;

pub use authentication::{InitiateRequest, Initiated};
pub use capture::CaptureSettings;
pub use credentials::{AuthSettings, Caller, IssuedCredential};
pub use engine::FaceEngine;
pub use error::{CaptureRefusal, FacemapRefusal, ServiceError};
pub use ipnet::IpNet;

/// Settings the services need (a subset of the server configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public base URL of this deployment, without a trailing slash; used in
    /// `redirectUrl` and in the image links of callbacks.
    pub public_base_url: String,
    /// Development relaxations of the customer URL rules.
    pub url_policy: UrlPolicy,
    /// Embedding models whose facemaps this deployment can compare.
    pub supported_models: Vec<String>,
    pub capture: CaptureSettings,
    /// Failure lockout of enrollments (NIST SP 800-63B).
    pub lockout: LockoutPolicy,
    /// Delivered and failed callbacks are erased this long after they were queued.
    pub callback_history_retention: chrono::Duration,
    /// Client addresses and the throttling of credential checks.
    pub auth: AuthSettings,
}

/// The services, shared by every handler and worker.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub(crate) authenticator: Arc<credentials::Authenticator>,
    /// Woken whenever a callback is queued, so delivery does not wait for a poll.
    pub callbacks_queued: Arc<Notify>,
    pub metrics: metrics::Metrics,
    /// Analyses captures; without one, attempts cannot start (CLI use).
    pub engine: Option<Arc<dyn FaceEngine>>,
    pub(crate) live_attempts: capture::LiveAttempts,
    pub(crate) initiation_limiter: limits::InitiationLimiter,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let live_attempts = capture::LiveAttempts::new(&settings.capture);
        let authenticator = Arc::new(credentials::Authenticator::new(&settings.auth));
        Self {
            store,
            keyring,
            clock,
            settings,
            authenticator,
            callbacks_queued: Arc::new(Notify::new()),
            metrics: metrics::Metrics::default(),
            engine: None,
            live_attempts,
            initiation_limiter: limits::InitiationLimiter::new(
                limits::DEFAULT_INITIATIONS_PER_MINUTE,
            ),
        }
    }

    /// The same services with `per_minute` initiations allowed per account
    /// (0: unlimited).
    pub fn with_initiation_limit(mut self, per_minute: u32) -> Self {
        self.initiation_limiter = limits::InitiationLimiter::new(per_minute);
        self
    }

    /// The same services with a face engine for captures.
    pub fn with_engine(mut self, engine: Arc<dyn FaceEngine>) -> Self {
        self.engine = Some(engine);
        self
    }
}
