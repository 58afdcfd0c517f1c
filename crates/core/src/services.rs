//! The services: storage, keys, the clock and the settings behind the
//! use cases, which the other modules of this crate implement.

use std::sync::Arc;

use facegate_domain::Clock;
use facegate_facemap::Keyring;
use facegate_storage::Store;
use tokio::sync::Notify;

use crate::authenticator::{AuthSettings, Authenticator};
use crate::error::ServiceResult;
use crate::limits::{InitiationLimiter, DEFAULT_INITIATIONS_PER_MINUTE};
use crate::local::LocalCapture;
use crate::metrics::Metrics;
use crate::settings::{CaptureSettings, Settings};

/// The services, shared by every handler and worker. Transports (HTTP,
/// CLI, the bench, tests) reach storage, keys and the clock only through
/// the use-case methods; the capture protocol, which needs a face engine,
/// is [`crate::CaptureService`].
pub struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Settings,
    pub(crate) authenticator: Arc<Authenticator>,
    /// Woken whenever a callback is queued, so delivery does not wait for a poll.
    pub(crate) callbacks_queued: Arc<Notify>,
    pub(crate) metrics: Metrics,
    pub(crate) local_capture: LocalCapture,
    pub(crate) initiation_limiter: InitiationLimiter,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let local_capture = LocalCapture::new(&settings.capture);
        let authenticator = Arc::new(Authenticator::new(&settings.auth));
        Self {
            store,
            keyring,
            clock,
            settings,
            authenticator,
            callbacks_queued: Arc::new(Notify::new()),
            metrics: Metrics::default(),
            local_capture,
            initiation_limiter: InitiationLimiter::new(DEFAULT_INITIATIONS_PER_MINUTE),
        }
    }

    /// The same services with `per_minute` initiations allowed per account
    /// (0: unlimited).
    pub fn with_initiation_limit(mut self, per_minute: u32) -> Self {
        self.initiation_limiter = InitiationLimiter::new(per_minute);
        self
    }

    /// Now, by the services' clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The public base URL, without a trailing slash.
    pub fn public_base_url(&self) -> &str {
        &self.settings.public_base_url
    }

    /// The capture limits clients are told about.
    pub fn capture_settings(&self) -> &CaptureSettings {
        &self.settings.capture
    }

    /// Client addresses and credential throttling.
    pub fn auth_settings(&self) -> &AuthSettings {
        &self.settings.auth
    }

    /// The process's metrics (route latencies are recorded by the transport).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Readiness: the database answers.
    pub async fn readiness(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }
}
