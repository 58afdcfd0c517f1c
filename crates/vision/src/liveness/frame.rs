//! Per-frame analysis for liveness: everything the signals need from one
//! frame, computed once when the frame arrives so that the final decision
//! only combines small per-frame records.
//!
//! Every frame gets BlazeFace (short-range by default) and FaceMesh, the pose,
//! cheap quality measures, the mean skin colour (flash signal) and a small
//! greyscale copy of the face region (texture tracking); the passive model
//! and the embedding run only when [`FrameOptions`] asks (they cost more).

use serde::{Deserialize, Serialize};

use crate::align::arcface_112;
use crate::decode::{decode_image, DecodeLimits};
use crate::detect::{largest, Detection, DetectorKind, FaceDetector};
use crate::embed::{Embedder, FivePoints};
use crate::geometry::{Point, Rect, RgbF32};
use crate::landmarks::{FaceMesh, MeshModel};
use crate::liveness::passive::PassiveModel;
use crate::models::{ids, ModelStore};
use crate::pipeline::{load_embedder, EmbedderKind, Template};
use crate::quality::{exposure_and_sharpness, head_pose};
use crate::runtime::Runtime;
use crate::VisionError;

/// Side of [`GreyPatch`] in pixels: 160 × 160 bytes (25 KiB) per frame, about
/// 4.5 MiB for the protocol's 180 frames, and still about 2.5 patch pixels
/// per source pixel of precision lost at most for 640×480 webcams.
pub const PATCH_SIDE: usize = 160;
/// The patch covers this multiple of the detection box's longer side.
pub const PATCH_SCALE: f32 = 1.6;

/// FaceMesh points at the centre of the skin areas sampled for the flash
/// signal: the subject's right cheek, left cheek and mid-forehead.
const SKIN_POINTS: [usize; 3] = [50, 280, 151];
/// FaceMesh face-outline points (subject's right and left), for the face width.
const OUTLINE_RIGHT: usize = 234;
const OUTLINE_LEFT: usize = 454;

/// Head pose in degrees, relative to the camera and named from the
/// **user's** point of view on a non-mirrored camera frame:
/// - `yaw > 0`: the head is turned towards the user's own **left** (the nose
///   points to the image-right side); `yaw < 0`: towards the user's right.
/// - `pitch > 0`: the user looks **up**; `pitch < 0`: down.
/// - `roll > 0`: the head is tilted towards the user's left shoulder (the
///   image-right side of the face is lower).
///
/// 0, 0, 0 is a frontal, upright face. A horizontally mirrored frame flips
/// the sign of yaw and roll (`tests/liveness.rs` checks both on real frames).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

impl Pose {
    /// The pose of a FaceMesh, in this convention.
    pub fn from_mesh(points: &[[f32; 3]]) -> Option<Self> {
        // `quality::head_pose` measures yaw with the opposite sign (its face
        // normal points away from the camera): negate it for the user's view.
        let (yaw, pitch, roll) = head_pose(points)?;
        Some(Self {
            yaw: -yaw,
            pitch,
            roll,
        })
    }
}

/// What to compute on a frame beyond the always-on analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FrameOptions {
    /// Compute the embedding template (identity signal, best frame).
    pub template: bool,
    /// Run the passive anti-spoof model.
    pub passive: bool,
}

/// Cheap quality measures of the face.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameQuality {
    /// Distance between the FaceMesh eye centres, source pixels.
    pub interocular_px: f32,
    /// Variance of the Laplacian of the ArcFace 112×112 grey crop.
    pub sharpness: f32,
    /// Mean luminance of that crop, 0–255.
    pub brightness: f32,
}

/// A greyscale copy of the face region, resampled to
/// [`PATCH_SIDE`]² whatever the face size so memory stays bounded. Patch
/// pixel `(u, v)` has its centre at image point `origin + scale·(u, v)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyPatch {
    pub side: usize,
    /// Luminance, row-major.
    pub data: Vec<u8>,
    /// Image position of patch pixel (0, 0).
    pub origin: Point,
    /// Image pixels per patch pixel.
    pub scale: f32,
}

impl GreyPatch {
    /// The luminance patch of `region` (a square in image pixels), averaging
    /// 2×2 bilinear samples per patch pixel to limit aliasing when shrinking.
    pub fn extract(image: &RgbF32, center: Point, region_side: f32, side: usize) -> Self {
        let side = side.max(2);
        let scale = (region_side / side as f32).max(1e-3);
        let origin = Point::new(
            center.x - scale * (side as f32 - 1.0) / 2.0,
            center.y - scale * (side as f32 - 1.0) / 2.0,
        );
        let offsets = [-0.25f32, 0.25];
        let mut data = Vec::with_capacity(side * side);
        for v in 0..side {
            for u in 0..side {
                let mut sum = 0.0;
                for dy in offsets {
                    for dx in offsets {
                        let px = image.sample(
                            origin.x + (u as f32 + dx) * scale,
                            origin.y + (v as f32 + dy) * scale,
                        );
                        sum += 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                    }
                }
                data.push((sum / 4.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        Self {
            side,
            data,
            origin,
            scale,
        }
    }

    pub fn to_image(&self, p: Point) -> Point {
        Point::new(
            self.origin.x + p.x * self.scale,
            self.origin.y + p.y * self.scale,
        )
    }

    pub fn from_image(&self, p: Point) -> Point {
        Point::new(
            (p.x - self.origin.x) / self.scale,
            (p.y - self.origin.y) / self.scale,
        )
    }
}

/// Everything the signals need about the face of one frame.
#[derive(Debug, Clone)]
pub struct FaceFeatures {
    /// The chosen (largest × score) detection.
    pub detection: Detection,
    /// The boxes of the other detections.
    pub other_faces: Vec<Rect>,
    /// FaceMesh's 468 points (x, y in source pixels, z relative depth).
    pub mesh: Vec<[f32; 3]>,
    /// FaceMesh's face presence probability.
    pub mesh_presence: f32,
    pub pose: Pose,
    pub quality: FrameQuality,
    /// Mean RGB (0–255) of the cheek and forehead skin.
    pub skin_rgb: [f32; 3],
    pub patch: GreyPatch,
    /// P(live) from the passive model, when asked.
    pub passive: Option<f32>,
    /// The embedding, when asked.
    pub template: Option<Template>,
}

impl FaceFeatures {
    /// The mesh point `i` in 2-D.
    pub fn point(&self, i: usize) -> Point {
        self.mesh
            .get(i)
            .map_or(Point::default(), |p| Point::new(p[0], p[1]))
    }

    /// RMS distance of the 2-D mesh points from their centroid: the "face
    /// radius" parallax residuals are expressed in.
    pub fn radius(&self) -> f32 {
        let n = self.mesh.len().max(1) as f32;
        let (cx, cy) = self
            .mesh
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        let (cx, cy) = (cx / n, cy / n);
        (self
            .mesh
            .iter()
            .map(|p| (p[0] - cx).powi(2) + (p[1] - cy).powi(2))
            .sum::<f32>()
            / n)
            .sqrt()
    }
}

/// One analysed frame.
#[derive(Debug, Clone)]
pub struct FrameFeatures {
    /// Capture time, ms since the challenge started.
    pub t_ms: u32,
    /// Faces the detector found.
    pub faces: usize,
    /// The chosen face, when there is one.
    pub face: Option<FaceFeatures>,
}

/// Which models a [`FrameAnalyzer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameAnalyzerConfig {
    pub detector: DetectorKind,
    /// The embedder of the identity templates. Default `fr-feature-int8`
    /// (about 2.5× faster than fp32 on one core, same LFW accuracy).
    pub embedder: EmbedderKind,
    /// Load the passive model (needed for `FrameOptions::passive`).
    pub passive: bool,
    /// Bounds on the frames [`FrameAnalyzer::analyze_bytes`] decodes: the
    /// capture service passes its upload limits, so a frame is never decoded
    /// beyond what the upload check allowed.
    #[serde(default)]
    pub decode: DecodeLimits,
}

impl Default for FrameAnalyzerConfig {
    fn default() -> Self {
        Self {
            detector: DetectorKind::ShortRange,
            embedder: EmbedderKind::FrFeatureInt8,
            passive: true,
            decode: DecodeLimits::default(),
        }
    }
}

/// The per-frame analyser; owns its model sessions and runs on one thread,
/// like [`crate::pipeline::Pipeline`].
pub struct FrameAnalyzer {
    detector: FaceDetector,
    mesh: MeshModel,
    embedder: Box<dyn Embedder>,
    passive: Option<PassiveModel>,
    decode: DecodeLimits,
}

impl FrameAnalyzer {
    /// Loads the models (checksums verified) on `runtime`.
    pub fn load(
        store: &ModelStore,
        runtime: &dyn Runtime,
        config: FrameAnalyzerConfig,
    ) -> Result<Self, VisionError> {
        let detector_id = match config.detector {
            DetectorKind::ShortRange => ids::BLAZEFACE_SHORT_128,
            DetectorKind::FullRange => ids::BLAZEFACE_FULL_192,
        };
        Ok(Self {
            detector: FaceDetector::new(store.load(runtime, detector_id)?, config.detector),
            mesh: MeshModel::new(store.load(runtime, ids::FACEMESH_468)?),
            embedder: load_embedder(store, runtime, config.embedder, false)?,
            passive: if config.passive {
                Some(PassiveModel::new(store.load(runtime, ids::FR_LIVENESS)?))
            } else {
                None
            },
            decode: config.decode,
        })
    }

    /// The embedder (for its model id and similarity).
    pub fn embedder(&self) -> &dyn Embedder {
        self.embedder.as_ref()
    }

    /// Decodes a JPEG/PNG frame and analyses it.
    pub fn analyze_bytes(
        &mut self,
        t_ms: u32,
        bytes: &[u8],
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let image = RgbF32::from_rgb8(&decode_image(bytes, &self.decode)?);
        self.analyze(t_ms, &image, opts)
    }

    /// Analyses one decoded frame (RGB 0–255).
    pub fn analyze(
        &mut self,
        t_ms: u32,
        image: &RgbF32,
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let detections = self.detector.detect(image)?;
        let Some(detection) = largest(&detections).copied() else {
            return Ok(FrameFeatures {
                t_ms,
                faces: 0,
                face: None,
            });
        };
        let other_faces = detections
            .iter()
            .filter(|d| **d != detection)
            .map(|d| d.rect)
            .collect();
        let mesh = self.mesh.estimate(image, &detection)?;
        let pose = Pose::from_mesh(&mesh.points).unwrap_or_default();
        let [right_eye, left_eye] = mesh.eye_centers();
        let crop = arcface_112(image, &mesh.five_points_arcface());
        let (sharpness, brightness, _) = crop
            .as_ref()
            .map_or((0.0, 0.0, 0.0), exposure_and_sharpness);
        let quality = FrameQuality {
            interocular_px: distance(right_eye, left_eye),
            sharpness,
            brightness,
        };
        let skin_rgb = skin_colour(image, &mesh);
        let center = detection.rect.center();
        let region = PATCH_SCALE * detection.rect.width.max(detection.rect.height);
        let patch = GreyPatch::extract(image, center, region, PATCH_SIDE);
        let passive = if opts.passive {
            let model = self.passive.as_mut().ok_or_else(|| VisionError::Model {
                model: ids::FR_LIVENESS.into(),
                detail: "the passive model was not loaded (FrameAnalyzerConfig::passive)".into(),
            })?;
            Some(model.live_probability(image, &detection.rect)?)
        } else {
            None
        };
        let template = if opts.template {
            let points = FivePoints {
                arcface: mesh.five_points_arcface(),
                dlib: mesh.five_points_dlib(),
            };
            match self.embedder.align(image, &points) {
                Some(c) => Some(Template {
                    model: self.embedder.model_id(),
                    vector: self.embedder.embed_aligned(&c)?,
                }),
                None => None,
            }
        } else {
            None
        };
        Ok(FrameFeatures {
            t_ms,
            faces: detections.len(),
            face: Some(FaceFeatures {
                detection,
                other_faces,
                mesh_presence: mesh.presence,
                mesh: mesh.points,
                pose,
                quality,
                skin_rgb,
                patch,
                passive,
                template,
            }),
        })
    }
}

fn distance(a: Point, b: Point) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// Mean RGB over small squares of skin around [`SKIN_POINTS`] (side 14 % of
/// the face width), away from eyes, brows, lips and hair.
pub fn skin_colour(image: &RgbF32, mesh: &FaceMesh) -> [f32; 3] {
    let width = distance(mesh.point(OUTLINE_RIGHT), mesh.point(OUTLINE_LEFT));
    let r = (0.07 * width).max(1.0);
    let mut sum = [0.0f64; 3];
    let mut n = 0usize;
    for &i in &SKIN_POINTS {
        let c = mesh.point(i);
        let (x0, x1) = ((c.x - r).round().max(0.0), (c.x + r).round());
        let (y0, y1) = ((c.y - r).round().max(0.0), (c.y + r).round());
        let (x1, y1) = (
            x1.min(image.width as f32 - 1.0),
            y1.min(image.height as f32 - 1.0),
        );
        if x1 < x0 || y1 < y0 {
            continue;
        }
        for y in (y0 as usize)..=(y1 as usize) {
            for x in (x0 as usize)..=(x1 as usize) {
                let k = (y * image.width + x) * 3;
                for (s, v) in sum.iter_mut().zip(&image.data[k..k + 3]) {
                    *s += f64::from(*v);
                }
                n += 1;
            }
        }
    }
    if n == 0 {
        return [0.0; 3];
    }
    sum.map(|s| (s / n as f64) as f32)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_patch_maps_back_to_the_image_it_came_from() {
        // A horizontal ramp: the patch's grey must follow the image x.
        let (w, h) = (200, 100);
        let data = (0..w * h)
            .flat_map(|i| {
                let v = (i % w) as f32;
                [v, v, v]
            })
            .collect();
        let image = RgbF32 {
            width: w,
            height: h,
            data,
        };
        let patch = GreyPatch::extract(&image, Point::new(100.0, 50.0), 64.0, 32);
        assert!((patch.scale - 2.0).abs() < 1e-6);
        for (u, v) in [(0usize, 0usize), (10, 5), (31, 31)] {
            let p = patch.to_image(Point::new(u as f32, v as f32));
            let grey = f32::from(patch.data[v * 32 + u]);
            assert!(
                (grey - p.x).abs() <= 1.0,
                "({u},{v}) grey {grey} at x {}",
                p.x
            );
            let back = patch.from_image(p);
            assert!((back.x - u as f32).abs() < 1e-4 && (back.y - v as f32).abs() < 1e-4);
        }
    }
}
