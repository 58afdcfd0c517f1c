//! What the services are configured with (a subset of the server
//! configuration, which the binary maps onto these).

use chrono::Duration;
use facegate_domain::{Challenge, LockoutPolicy, UrlPolicy};

use crate::authenticator::AuthSettings;

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

/// Capture settings (a subset of the server configuration).
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// Development and tests only: every attempt gets this challenge instead
    /// of a random one (recorded videos cannot follow a random schedule). The
    /// configuration refuses it in production mode.
    pub fixed_challenge: Option<Challenge>,
    /// Largest accepted frame upload.
    pub max_frame_bytes: usize,
    /// Largest accepted frame width and height.
    pub max_frame_side: u32,
    /// Images are erased this long after the transaction's final state.
    pub image_retention: Duration,
    /// Frame bytes all uploads together may hold while their bodies are
    /// read: beyond it an upload is refused at once instead of buffered.
    pub max_frame_bytes_in_flight: usize,
    /// Frames of one attempt queued for or in analysis on one node at
    /// most: a frame that finds no room within a few seconds is skipped
    /// and counted, so one attempt cannot fill the engine's queue.
    pub max_queued_frames: usize,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            fixed_challenge: None,
            max_frame_bytes: 512 * 1024,
            max_frame_side: 1280,
            image_retention: Duration::days(30),
            max_frame_bytes_in_flight: 64 * 1024 * 1024,
            max_queued_frames: 8,
        }
    }
}
