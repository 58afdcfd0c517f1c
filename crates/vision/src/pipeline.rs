//! The per-image pipeline: decode → detect → FaceMesh → align → embed →
//! quality. One [`Pipeline`] owns its model sessions and runs on one thread;
//! run several for parallelism.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::decode::{decode_image, DecodeLimits};
use crate::detect::{largest, most_central, Detection, DetectorKind, FaceDetector};
use crate::embed::{DlibResnet, Embedder, FivePoints, FrFeature};
use crate::geometry::RgbF32;
use crate::landmarks::{FaceMesh, MeshModel};
use crate::models::{ids, ModelStore};
use crate::quality::{exposure_and_sharpness, head_pose, Quality};
use crate::runtime::Runtime;
use crate::VisionError;

/// Which embedding model(s) to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbedderKind {
    FrFeature,
    /// `fr-feature` on its int8 quantisation (`fr-feature-512-int8`): about
    /// 2.5× faster on one core, templates `fr-feature-512-int8-v1`.
    FrFeatureInt8,
    DlibResnet,
}

impl EmbedderKind {
    pub fn model_id(self) -> &'static str {
        match self {
            Self::FrFeature => FrFeature::MODEL_ID,
            Self::FrFeatureInt8 => FrFeature::INT8_MODEL_ID,
            Self::DlibResnet => DlibResnet::MODEL_ID,
        }
    }
}

/// Which face of several to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaceChoice {
    /// The detection nearest the image centre (the LFW convention).
    Central,
    /// The largest detection (a selfie).
    Largest,
}

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
    fn default() -> Self {
        Self {
            detector: DetectorKind::ShortRange,
            // int8: the shipped default (LFW 99.40 %, TAR 0.974 @ 1e-4, 2.4x
            // faster than float on one core; docs/face-engine.md).
            embedders: vec![EmbedderKind::FrFeatureInt8],
            flip: false,
            face_choice: FaceChoice::Largest,
            decode: DecodeLimits::default(),
        }
    }
}

/// Time spent per stage of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub decode: Duration,
    pub detect: Duration,
    pub landmarks: Duration,
    /// Alignment and embedding, all embedders.
    pub embed: Duration,
}

/// A template made by one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub model: &'static str,
    pub vector: Vec<f32>,
}

/// What the pipeline found in one image.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAnalysis {
    pub detection: Detection,
    pub mesh: FaceMesh,
    pub quality: Quality,
    pub templates: Vec<Template>,
}

/// Loads one embedder (checksum verified) on `runtime`; `flip` averages with
/// the mirrored crop.
pub fn load_embedder(
    store: &ModelStore,
    runtime: &dyn Runtime,
    kind: EmbedderKind,
    flip: bool,
) -> Result<Box<dyn Embedder>, VisionError> {
    Ok(match kind {
        EmbedderKind::FrFeature => {
            let mut e = FrFeature::new(store.load(runtime, ids::FR_FEATURE_512)?);
            e.flip = flip;
            Box::new(e)
        }
        EmbedderKind::FrFeatureInt8 => {
            let mut e = FrFeature::int8(store.load(runtime, ids::FR_FEATURE_512_INT8)?);
            e.flip = flip;
            Box::new(e)
        }
        EmbedderKind::DlibResnet => {
            let mut e = DlibResnet::new(store.load(runtime, ids::DLIB_RESNET_128)?);
            e.flip = flip;
            Box::new(e)
        }
    })
}

/// The per-image pipeline with its own model sessions.
pub struct Pipeline {
    config: PipelineConfig,
    detector: FaceDetector,
    mesh: MeshModel,
    embedders: Vec<Box<dyn Embedder>>,
}

impl Pipeline {
    /// Loads the configured models (checksums verified) on `runtime`.
    pub fn load(
        store: &ModelStore,
        runtime: &dyn Runtime,
        config: PipelineConfig,
    ) -> Result<Self, VisionError> {
        let detector_id = match config.detector {
            DetectorKind::ShortRange => ids::BLAZEFACE_SHORT_128,
            DetectorKind::FullRange => ids::BLAZEFACE_FULL_192,
        };
        let detector = FaceDetector::new(store.load(runtime, detector_id)?, config.detector);
        let mesh = MeshModel::new(store.load(runtime, ids::FACEMESH_468)?);
        let embedders = config
            .embedders
            .iter()
            .map(|&kind| load_embedder(store, runtime, kind, config.flip))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config,
            detector,
            mesh,
            embedders,
        })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The embedders, in configuration order (for [`Embedder::similarity`]).
    pub fn embedders(&self) -> &[Box<dyn Embedder>] {
        &self.embedders
    }

    /// Decodes and analyses encoded image bytes.
    pub fn analyze_bytes(
        &mut self,
        bytes: &[u8],
    ) -> Result<(Option<FaceAnalysis>, Timings), VisionError> {
        let started = Instant::now();
        let image = decode_image(bytes, &self.config.decode)?;
        let decoded = RgbF32::from_rgb8(&image);
        let decode = started.elapsed();
        let (analysis, mut timings) = self.analyze(&decoded)?;
        timings.decode = decode;
        Ok((analysis, timings))
    }

    /// Analyses a decoded image; `None` when no face is found.
    pub fn analyze(
        &mut self,
        image: &RgbF32,
    ) -> Result<(Option<FaceAnalysis>, Timings), VisionError> {
        let mut timings = Timings::default();
        let t = Instant::now();
        let detections = self.detector.detect(image)?;
        timings.detect = t.elapsed();
        let chosen = match self.config.face_choice {
            FaceChoice::Central => most_central(&detections, image.width, image.height),
            FaceChoice::Largest => largest(&detections),
        };
        let Some(detection) = chosen.cloned() else {
            return Ok((None, timings));
        };
        let t = Instant::now();
        let mesh = self.mesh.estimate(image, &detection)?;
        timings.landmarks = t.elapsed();
        let points = FivePoints {
            arcface: mesh.five_points_arcface(),
            dlib: mesh.five_points_dlib(),
        };
        let t = Instant::now();
        let mut templates = Vec::with_capacity(self.embedders.len());
        let mut quality_crop = None;
        for embedder in &mut self.embedders {
            let crop = embedder.align(image, &points).ok_or_else(|| {
                VisionError::Inference("degenerate landmarks: cannot align".into())
            })?;
            templates.push(Template {
                model: embedder.model_id(),
                vector: embedder.embed_aligned(&crop)?,
            });
            quality_crop.get_or_insert(crop);
        }
        timings.embed = t.elapsed();
        let (sharpness, brightness, clipped) = quality_crop
            .as_ref()
            .map_or((0.0, 0.0, 0.0), exposure_and_sharpness);
        let [left_eye, right_eye] = mesh.eye_centers();
        let (yaw, pitch, roll) = head_pose(&mesh.points).unwrap_or_default();
        let quality = Quality {
            interocular_px: ((right_eye.x - left_eye.x).powi(2)
                + (right_eye.y - left_eye.y).powi(2))
            .sqrt(),
            sharpness,
            brightness,
            clipped,
            yaw,
            pitch,
            roll,
            faces: detections.len(),
        };
        Ok((
            Some(FaceAnalysis {
                detection,
                mesh,
                quality,
                templates,
            }),
            timings,
        ))
    }
}
