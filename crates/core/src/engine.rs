//! The face engine as the capture service sees it: each frame is analysed
//! as it arrives, and at the end of an attempt the findings are concluded
//! from the analyses of all its frames (liveness signals and the 1:1
//! similarity with the facemap's template, or, for an ID verification's
//! selfie, with the document portrait's template). The engine is stateless
//! between the two: a frame's analysis is an opaque encoding the capture
//! service stores at once, so any node of a deployment analyses any frame
//! and any node concludes the attempt from storage. The engine measures; the
//! decision is `facegate_domain::decide_attempt`. The implementation on the
//! real models is `facegate_engine::VisionEngine` (the binary wires it in);
//! the trait keeps the protocol and its storage independent of how faces
//! are analysed.

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

/// One frame's analysis, as the engine hands it over to be stored.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameAnalysis {
    /// What the engine measured, in its own encoding (opaque to the rest of
    /// the server, which stores it sealed and hands it back to
    /// [`FaceEngine::conclude`]), and whether the frame's JPEG must be kept
    /// with it (a candidate for the images and the facemap).
    Analysed { features: Vec<u8>, keep_jpeg: bool },
    /// The frame did not decode: it counts as a frame without a face.
    Undecodable,
}

/// A frame's stored analysis, handed back for the conclusion.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameResult {
    Analysed {
        features: Vec<u8>,
        /// The JPEG as uploaded, when the analysis kept it.
        jpeg: Option<Arc<[u8]>>,
    },
    Undecodable,
    /// No room in the attempt's queue in time: not analysed, counted.
    Skipped,
}

/// One frame of an attempt as the conclusion reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysedFrame {
    pub index: u32,
    pub result: FrameResult,
}

/// Analyses frames and concludes attempts. Holds no state per attempt.
#[async_trait]
pub trait FaceEngine: Send + Sync + 'static {
    /// The facemap models this engine can compare with.
    fn supports_model(&self, model: &str) -> bool;
    /// Loads what the engine needs (may block for a while the first time);
    /// an error means the installation is broken.
    fn ready(&self) -> Result<(), EngineError>;
    /// Analyses one frame of an attempt whose templates are made by
    /// `model`, waiting for a free worker. An error means the installation
    /// is broken, not the frame.
    async fn analyse_frame(
        &self,
        model: &str,
        frame: FrameInput,
    ) -> Result<FrameAnalysis, EngineError>;
    /// What an attempt's frames show, from the stored analysis of every
    /// frame it accepted, in index order.
    async fn conclude(
        &self,
        context: AttemptContext,
        frames: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError>;
}
