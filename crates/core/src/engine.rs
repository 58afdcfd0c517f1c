//! The face engine as the capture service sees it: frames go in as they
//! arrive, and at the end of an attempt its findings come out (liveness
//! signals and the 1:1 similarity with the facemap's template, or, for an
//! ID verification's selfie, with the document portrait's template). The engine
//! measures; the decision is `facegate_domain::decide_attempt`. The
//! implementation on the real models is `facegate_engine::VisionEngine` (the
//! binary wires it in); the trait keeps the protocol and its storage
//! independent of how faces are analysed.

use std::sync::Arc;

use async_trait::async_trait;
use facegate_domain::{Challenge, Findings};

/// One uploaded frame, already checked against the protocol's rules.
#[derive(Clone)]
pub struct FrameInput {
    pub index: u32,
    /// Capture time on the client's challenge clock.
    pub t_ms: u32,
    pub jpeg: Arc<[u8]>,
}

/// What the selfie is compared with: the two are different tasks (a
/// printed, small portrait is not a live face), each with its own
/// calibrated operating point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ComparisonTarget {
    /// The templates of a facemap (authentication).
    #[default]
    Facemap,
    /// The template of an ID document's portrait (an ID verification's
    /// selfie).
    DocumentPortrait,
}

/// What an attempt is analysed against.
pub struct AttemptContext {
    pub challenge: Challenge,
    pub flash: bool,
    /// The model that made the templates, and the templates (a facemap's,
    /// or the document portrait's; none when the document has no portrait).
    pub model: String,
    pub templates: Vec<Vec<f32>>,
    pub target: ComparisonTarget,
}

/// The end of an attempt's analysis: what was found, and the images.
#[derive(Debug, Clone)]
pub struct AttemptFindings {
    /// Liveness signals and the similarity, for the decision.
    pub findings: Findings,
    /// The best face frame (JPEG as uploaded).
    pub face_image: Option<Arc<[u8]>>,
    /// A few frames of the liveness sequence (JPEG as uploaded).
    pub liveness_images: Vec<Arc<[u8]>>,
    /// The templates of the best live frames, made by the context's model,
    /// the best frame's first: what an ID verification's facemap is issued
    /// from (a facemap's templates are matched by their mean,
    /// docs/face-engine.md). Empty when no live frame had one.
    pub templates: Vec<Vec<f32>>,
}

/// The engine failed (a broken installation, not a bad capture).
#[derive(Debug, Clone, thiserror::Error)]
#[error("face engine: {0}")]
pub struct EngineError(pub String);

/// Starts the analysis of attempts.
pub trait FaceEngine: Send + Sync + 'static {
    /// The facemap models this engine can compare with.
    fn supports_model(&self, model: &str) -> bool;
    /// Loads what the engine needs (may block for a while the first time);
    /// an error means the installation is broken.
    fn ready(&self) -> Result<(), EngineError>;
    fn begin(&self, context: AttemptContext) -> Box<dyn AttemptAnalysis>;
}

/// One attempt being analysed. Dropping it cancels the analysis of the
/// frames it still has queued (the attempt was finished, abandoned or
/// expired).
#[async_trait]
pub trait AttemptAnalysis: Send + Sync {
    /// Queues a frame; analysis starts at once, in the background. Waits
    /// while the attempt already has its bound of frames queued, so one
    /// attempt cannot fill the engine's queue (a frame that finds no room in
    /// time is skipped and counted, not queued without bound).
    async fn push(&self, frame: FrameInput);
    /// Waits for every pushed frame, then reports what it found.
    async fn finish(&self) -> Result<AttemptFindings, EngineError>;
}
