//! The still-image pipeline (enrollment templates, the LFW evaluation): one
//! image in, the chosen face's templates and [`Quality`] out. A thin use of
//! the per-frame analyser ([`FrameAnalyzer::analyze_face`] with every
//! configured embedder); one [`Pipeline`] owns its model sessions and runs on
//! one thread; run several for parallelism.

use std::time::Instant;

use serde::Serialize;

use crate::decode::DecodeLimits;
use crate::detect::{Detection, DetectorKind, FaceChoice};
use crate::embed::{Embedder, EmbedderKind, Template};
use crate::frame::{FrameAnalyzer, FrameAnalyzerConfig, Timings};
use crate::geometry::RgbF32;
use crate::landmarks::FaceMesh;
use crate::models::ModelStore;
use crate::quality::{head_pose, Quality};
use crate::runtime::Runtime;
use crate::VisionError;

/// The still-image analyser's models and face choice (no anti-spoof model).
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub detector: DetectorKind,
    pub embedders: Vec<EmbedderKind>,
    /// Embed the mirrored crop too and average (test-time augmentation).
    pub flip: bool,
    pub face_choice: FaceChoice,
    pub decode: DecodeLimits,
}

impl Default for PipelineConfig {
    /// The frame analyser's defaults.
    fn default() -> Self {
        let FrameAnalyzerConfig {
            detector,
            embedders,
            flip,
            face_choice,
            passive: _,
            minifasnet: _,
            decode,
        } = FrameAnalyzerConfig::default();
        Self {
            detector,
            embedders,
            flip,
            face_choice,
            decode,
        }
    }
}

impl PipelineConfig {
    /// The frame analyser this pipeline runs: these models, no anti-spoof.
    fn analyzer(&self) -> FrameAnalyzerConfig {
        FrameAnalyzerConfig {
            detector: self.detector,
            embedders: self.embedders.clone(),
            flip: self.flip,
            face_choice: self.face_choice,
            passive: false,
            minifasnet: false,
            decode: self.decode,
        }
    }
}

/// What the pipeline found in one image.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAnalysis {
    pub detection: Detection,
    pub mesh: FaceMesh,
    pub quality: Quality,
    /// One per configured embedder, in configuration order.
    pub templates: Vec<Template>,
}

/// The still-image pipeline with its own model sessions.
pub struct Pipeline {
    config: PipelineConfig,
    analyzer: FrameAnalyzer,
}

impl Pipeline {
    /// Loads the configured models (checksums verified) on `runtime`.
    pub fn load(
        store: &ModelStore,
        runtime: &dyn Runtime,
        config: PipelineConfig,
    ) -> Result<Self, VisionError> {
        let analyzer = FrameAnalyzer::load(store, runtime, config.analyzer())?;
        Ok(Self { config, analyzer })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The embedders, in configuration order (for [`Embedder::similarity`]).
    pub fn embedders(&self) -> &[Box<dyn Embedder>] {
        self.analyzer.embedders()
    }

    /// Decodes and analyses encoded image bytes.
    pub fn analyze_bytes(
        &mut self,
        bytes: &[u8],
    ) -> Result<(Option<FaceAnalysis>, Timings), VisionError> {
        let started = Instant::now();
        let decoded = self.analyzer.decode(bytes)?;
        let decode = started.elapsed();
        let (analysis, mut timings) = self.analyze(&decoded)?;
        timings.decode = decode;
        Ok((analysis, timings))
    }

    /// Analyses a decoded image; `None` when no face is found, an error when
    /// an embedder cannot align the face.
    pub fn analyze(
        &mut self,
        image: &RgbF32,
    ) -> Result<(Option<FaceAnalysis>, Timings), VisionError> {
        let (face, timings) = self.analyzer.analyze_face(image, true)?;
        let Some(face) = face else {
            return Ok((None, timings));
        };
        let templates = face
            .templates
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| VisionError::Inference("degenerate landmarks: cannot align".into()))?;
        let (yaw, pitch, roll) = head_pose(&face.mesh.points).unwrap_or_default();
        let quality = Quality {
            interocular_px: face.quality.interocular_px,
            sharpness: face.quality.sharpness,
            brightness: face.quality.brightness,
            clipped: face.quality.clipped,
            yaw,
            pitch,
            roll,
            faces: face.faces,
        };
        Ok((
            Some(FaceAnalysis {
                detection: face.detection,
                mesh: face.mesh,
                quality,
                templates,
            }),
            timings,
        ))
    }
}
