//! Face embedders: each takes its own aligned crop and returns a template;
//! [`Embedder::similarity`] compares two templates of the same model (higher
//! means more alike). Embedders are pluggable: a deployment chooses which one
//! issues facemaps, and a facemap records the model that made it.

use serde::{Deserialize, Serialize};

use crate::align::{arcface_112, dlib_chip, mirror};
use crate::geometry::{Point, RgbF32};
use crate::models::{ids, ModelStore};
use crate::runtime::{Runtime, Session, Tensor};
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

    /// Loads this embedder (checksum verified) on `runtime`; `flip` averages
    /// with the mirrored crop.
    pub fn load(
        self,
        store: &ModelStore,
        runtime: &dyn Runtime,
        flip: bool,
    ) -> Result<Box<dyn Embedder>, VisionError> {
        Ok(match self {
            Self::FrFeature => {
                let mut e = FrFeature::new(store.load(runtime, ids::FR_FEATURE_512)?);
                e.flip = flip;
                Box::new(e)
            }
            Self::FrFeatureInt8 => {
                let mut e = FrFeature::int8(store.load(runtime, ids::FR_FEATURE_512_INT8)?);
                e.flip = flip;
                Box::new(e)
            }
            Self::DlibResnet => {
                let mut e = DlibResnet::new(store.load(runtime, ids::DLIB_RESNET_128)?);
                e.flip = flip;
                Box::new(e)
            }
        })
    }
}

/// A template made by one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub model: &'static str,
    pub vector: Vec<f32>,
}

/// A stored template is read back only for a model this build has: its id
/// becomes the embedder's own `&'static str` again.
impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            model: String,
            vector: Vec<f32>,
        }
        let stored = Stored::deserialize(deserializer)?;
        let model = [
            EmbedderKind::FrFeatureInt8,
            EmbedderKind::FrFeature,
            EmbedderKind::DlibResnet,
        ]
        .into_iter()
        .map(EmbedderKind::model_id)
        .find(|id| *id == stored.model)
        .ok_or_else(|| serde::de::Error::custom("a template of an unknown model"))?;
        Ok(Template {
            model,
            vector: stored.vector,
        })
    }
}

/// The five alignment points in the two orders the embedders use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FivePoints {
    /// Image-left eye centre, image-right eye centre, nose tip, image-left
    /// mouth corner, image-right mouth corner (insightface order).
    pub arcface: [Point; 5],
    /// dlib's 5-point order: image-right eye outer, inner; image-left eye
    /// outer, inner; nose base.
    pub dlib: [Point; 5],
}

/// A face embedding model.
pub trait Embedder: Send {
    /// Stable id written into facemaps, e.g. `fr-feature-512-v1`. The suffix
    /// versions the whole recipe (alignment, preprocessing, model file).
    fn model_id(&self) -> &'static str;
    fn dimension(&self) -> usize;
    /// The crop this model was trained on.
    fn align(&self, image: &RgbF32, points: &FivePoints) -> Option<RgbF32>;
    /// The template of an aligned crop.
    fn embed_aligned(&mut self, crop: &RgbF32) -> Result<Vec<f32>, VisionError>;
    /// Higher is more alike; comparable with this model's thresholds only.
    fn similarity(&self, a: &[f32], b: &[f32]) -> f32;

    /// Aligns and embeds.
    fn embed(&mut self, image: &RgbF32, points: &FivePoints) -> Result<Vec<f32>, VisionError> {
        let crop = self
            .align(image, points)
            .ok_or_else(|| VisionError::Inference("degenerate landmarks: cannot align".into()))?;
        self.embed_aligned(&crop)
    }
}

fn single_output(
    session: &mut dyn Session,
    input: Tensor,
    dimension: usize,
) -> Result<Vec<f32>, VisionError> {
    let output = session
        .run(vec![input])?
        .into_iter()
        .next()
        .ok_or_else(|| VisionError::Inference("the embedder returned no output".into()))?;
    if output.data.len() != dimension {
        return Err(VisionError::Inference(format!(
            "expected a {dimension}-D embedding, got {} values",
            output.data.len()
        )));
    }
    if output.data.iter().any(|v| !v.is_finite()) {
        return Err(VisionError::Inference("the embedding is not finite".into()));
    }
    Ok(output.data)
}

/// The embedding of `crop` and, with `flip`, of its mirror: their sum and how
/// many embeddings it holds (test-time augmentation shared by the embedders).
fn embed_maybe_flipped(
    session: &mut dyn Session,
    crop: &RgbF32,
    flip: bool,
    tensor: fn(&RgbF32) -> Result<Tensor, VisionError>,
    dimension: usize,
) -> Result<(Vec<f32>, f32), VisionError> {
    let mut sum = single_output(session, tensor(crop)?, dimension)?;
    if !flip {
        return Ok((sum, 1.0));
    }
    let flipped = single_output(session, tensor(&mirror(crop))?, dimension)?;
    sum.iter_mut().zip(flipped).for_each(|(a, b)| *a += b);
    Ok((sum, 2.0))
}

fn l2_normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Euclidean distance.
pub fn euclidean(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Compares two templates of one model (higher is more alike).
pub type SimilarityFn = fn(&[f32], &[f32]) -> f32;

/// The comparison of a model's templates, by model id (for evaluation and
/// for comparing stored templates without loading the model).
pub fn similarity_fn(model_id: &str) -> Option<SimilarityFn> {
    fn negative_euclidean(a: &[f32], b: &[f32]) -> f32 {
        -euclidean(a, b)
    }
    match model_id {
        FrFeature::MODEL_ID | FrFeature::INT8_MODEL_ID => Some(cosine),
        DlibResnet::MODEL_ID => Some(negative_euclidean),
        _ => None,
    }
}

/// `fr_feature`: 512-D, ArcFace 112×112 template, BGR, NCHW, (x − 127) / 128.
/// Compared by cosine similarity. The same recipe runs the fp32 model
/// ([`FrFeature::new`], templates `fr-feature-512-v1`) or its int8
/// quantisation ([`FrFeature::int8`], `fr-feature-512-int8-v1`): their
/// templates differ slightly, so they carry distinct ids and thresholds.
pub struct FrFeature {
    session: Box<dyn Session>,
    model_id: &'static str,
    /// Average with the mirrored crop (test-time augmentation).
    pub flip: bool,
}

impl FrFeature {
    /// Templates of the fp32 model `fr-feature-512`.
    pub const MODEL_ID: &'static str = "fr-feature-512-v1";
    /// Templates of the int8 model `fr-feature-512-int8`.
    pub const INT8_MODEL_ID: &'static str = "fr-feature-512-int8-v1";
    pub const DIMENSION: usize = 512;

    /// `session` holds the fp32 model (`fr-feature-512`).
    pub fn new(session: Box<dyn Session>) -> Self {
        Self::with_model_id(session, Self::MODEL_ID)
    }

    /// `session` holds the int8 model (`fr-feature-512-int8`).
    pub fn int8(session: Box<dyn Session>) -> Self {
        Self::with_model_id(session, Self::INT8_MODEL_ID)
    }

    fn with_model_id(session: Box<dyn Session>, model_id: &'static str) -> Self {
        Self {
            session,
            model_id,
            flip: false,
        }
    }

    fn tensor(crop: &RgbF32) -> Result<Tensor, VisionError> {
        let plane = crop.width * crop.height;
        let mut data = vec![0.0f32; plane * 3];
        for (i, px) in crop.data.chunks_exact(3).enumerate() {
            // BGR planes: the study measured 2.2 points of TAR@1e-4 lost with RGB.
            for (c, &v) in [px[2], px[1], px[0]].iter().enumerate() {
                data[c * plane + i] = (v - 127.0) / 128.0;
            }
        }
        Tensor::new(vec![1, 3, crop.height, crop.width], data)
    }
}

impl Embedder for FrFeature {
    fn model_id(&self) -> &'static str {
        self.model_id
    }

    fn dimension(&self) -> usize {
        Self::DIMENSION
    }

    fn align(&self, image: &RgbF32, points: &FivePoints) -> Option<RgbF32> {
        arcface_112(image, &points.arcface)
    }

    fn embed_aligned(&mut self, crop: &RgbF32) -> Result<Vec<f32>, VisionError> {
        let (sum, _) = embed_maybe_flipped(
            self.session.as_mut(),
            crop,
            self.flip,
            Self::tensor,
            Self::DIMENSION,
        )?;
        Ok(l2_normalised(sum))
    }

    fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        cosine(a, b)
    }
}

/// dlib's ResNet metric network (rebuilt from face-api.js weights): 128-D from
/// dlib's 150×150 chip with padding 0.25, RGB 0..255 NHWC. dlib compares by
/// Euclidean distance (same person below 0.6); the similarity is its negative.
pub struct DlibResnet {
    session: Box<dyn Session>,
    pub flip: bool,
}

impl DlibResnet {
    pub const MODEL_ID: &'static str = "dlib-resnet-128-v1";
    pub const DIMENSION: usize = 128;
    pub const CHIP_SIZE: usize = 150;
    pub const PADDING: f64 = 0.25;

    pub fn new(session: Box<dyn Session>) -> Self {
        Self {
            session,
            flip: false,
        }
    }

    fn tensor(crop: &RgbF32) -> Result<Tensor, VisionError> {
        Tensor::new(vec![1, crop.height, crop.width, 3], crop.data.clone())
    }
}

impl Embedder for DlibResnet {
    fn model_id(&self) -> &'static str {
        Self::MODEL_ID
    }

    fn dimension(&self) -> usize {
        Self::DIMENSION
    }

    fn align(&self, image: &RgbF32, points: &FivePoints) -> Option<RgbF32> {
        dlib_chip(image, &points.dlib, Self::CHIP_SIZE, Self::PADDING)
    }

    fn embed_aligned(&mut self, crop: &RgbF32) -> Result<Vec<f32>, VisionError> {
        // Averaged (not summed) so that distances keep dlib's scale (threshold 0.6).
        let (sum, count) = embed_maybe_flipped(
            self.session.as_mut(),
            crop,
            self.flip,
            Self::tensor,
            Self::DIMENSION,
        )?;
        Ok(sum.into_iter().map(|v| v / count).collect())
    }

    fn similarity(&self, a: &[f32], b: &[f32]) -> f32 {
        -euclidean(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_euclidean_basics() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((euclidean(&[0.0, 3.0], &[4.0, 0.0]) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn fr_feature_input_is_bgr_planar_and_centred() {
        let crop = RgbF32 {
            width: 1,
            height: 1,
            data: vec![255.0, 127.0, 0.0],
        };
        let t = FrFeature::tensor(&crop).unwrap_or_else(|_| Tensor {
            shape: vec![],
            data: vec![],
        });
        assert_eq!(t.shape, vec![1, 3, 1, 1]);
        assert_eq!(t.data, vec![-127.0 / 128.0, 0.0, 1.0]);
    }
}
