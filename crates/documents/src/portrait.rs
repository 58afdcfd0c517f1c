//! The holder's portrait on the document: MediaPipe BlazeFace full-range
//! (it finds the small faces a printed portrait makes), FaceMesh, alignment
//! and the embedder, all through `facegate-vision`'s still-image pipeline,
//! so the portrait's template is made exactly as a selfie frame's is and
//! the two can be compared.

use facegate_vision::detect::{DetectorKind, FaceChoice};
use facegate_vision::embed::{EmbedderKind, Template};
use facegate_vision::frame::FrameAnalyzerConfig;
use facegate_vision::geometry::{Point, RgbF32};
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use facegate_vision::runtime::Runtime;
use facegate_vision::VisionError;
use image::RgbImage;

use crate::error::DocumentsError;
use crate::page::{Homography, Quad};

/// The face printed on the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Portrait {
    /// The detector's face box in the photo: top-left, top-right,
    /// bottom-right, bottom-left of the upright face.
    pub face: Quad,
    /// The detector's score.
    pub score: f32,
    /// Distance between the eye centres, in pixels of the image the face
    /// was analysed in (the rectified page, or the photo).
    pub interocular_px: f32,
    /// One per configured embedder, in configuration order; the first is
    /// the one selfie frames are compared with.
    pub templates: Vec<Template>,
}

/// The portrait finder: its own model sessions, one thread.
pub struct PortraitFinder {
    pipeline: Pipeline,
}

impl std::fmt::Debug for PortraitFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortraitFinder")
            .field("config", self.pipeline.config())
            .finish_non_exhaustive()
    }
}

impl PortraitFinder {
    /// BlazeFace full-range, FaceMesh and `embedders` (the liveness frames'
    /// embedder first, so that portrait and selfie templates compare).
    pub fn new(
        store: &ModelStore,
        runtime: &dyn Runtime,
        embedders: Vec<EmbedderKind>,
    ) -> Result<Self, DocumentsError> {
        let config = PipelineConfig {
            detector: DetectorKind::FullRange,
            embedders,
            flip: false,
            // The portrait, not the smaller ghost image beside it.
            face_choice: FaceChoice::Largest,
            ..PipelineConfig::default()
        };
        Ok(Self {
            pipeline: Pipeline::load(store, runtime, config)?,
        })
    }

    /// The embedders the liveness frames use by default.
    pub fn default_embedders() -> Vec<EmbedderKind> {
        FrameAnalyzerConfig::default().embedders
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The largest face in `image`, whose pixel (x, y) is the photo's point
    /// `to_photo((x, y))`; `None` when there is none or it cannot be
    /// aligned.
    pub fn find(
        &mut self,
        image: &RgbImage,
        to_photo: &Homography,
    ) -> Result<Option<Portrait>, DocumentsError> {
        let analysis = match self.pipeline.analyze(&RgbF32::from_rgb8(image)) {
            Ok((analysis, _)) => analysis,
            // A face whose landmarks cannot be aligned is no usable portrait.
            Err(VisionError::Inference(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(a) = analysis else {
            return Ok(None);
        };
        let r = a.detection.rect;
        // Detections use pixel-centre coordinates; the page's frame has
        // pixel i covering [i, i + 1).
        let corner = |x: f32, y: f32| to_photo.apply(Point::new(x + 0.5, y + 0.5));
        let face = Quad([
            corner(r.x, r.y),
            corner(r.x + r.width, r.y),
            corner(r.x + r.width, r.y + r.height),
            corner(r.x, r.y + r.height),
        ]);
        Ok(Some(Portrait {
            face,
            score: a.detection.score,
            interocular_px: a.quality.interocular_px,
            templates: a.templates,
        }))
    }
}
