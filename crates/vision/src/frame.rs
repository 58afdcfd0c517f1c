//! The one per-image analyser, [`FrameAnalyzer`]: the building blocks in
//! order (detect → choose the face → FaceMesh → align → embed → quality).
//! The still-image pipeline (`pipeline.rs`: enrollment templates, LFW) uses its
//! shared steps, [`FrameAnalyzer::analyze_face`]; the liveness capture uses
//! [`FrameAnalyzer::analyze`], which adds what the signals need from one
//! frame, computed once when the frame arrives so that the final decision
//! only combines small per-frame records.
//!
//! Every liveness frame gets BlazeFace (short-range by default) and FaceMesh,
//! the pose, cheap quality measures, the mean skin colour (flash signal) and
//! a small greyscale copy of the face region (texture tracking); the
//! anti-spoof model and the embedding run only when [`FrameOptions`] asks
//! (they cost more).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::align::arcface_112;
use crate::antispoof::{exposure_gain, AntiSpoofModel, MiniFasNet};
use crate::decode::{decode_image, DecodeLimits};
use crate::detect::{Detection, DetectorKind, FaceChoice, FaceDetector};
use crate::embed::{Embedder, EmbedderKind, FivePoints, Template};
use crate::geometry::{Point, Rect, RgbF32};
use crate::klt::GreyPatch;
use crate::landmarks::{FaceMesh, MeshModel};
use crate::models::{ids, ModelStore};
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
    /// Fraction of that crop's pixels at the ends of the range (≤ 5 or
    /// ≥ 250).
    pub clipped: f32,
    /// Mean luminance, 0–255, of the face's surroundings: the detection box
    /// widened to [`SURROUND_SCALE`] about its centre, without the face box
    /// itself (what a window or a lamp behind the user brightens).
    #[serde(default)]
    pub surround_brightness: f32,
    /// Fraction of the surroundings' pixels at 245 or more (a window, the
    /// sky, a lamp: light the camera cannot hold).
    #[serde(default)]
    pub surround_saturated: f32,
    /// Fraction of the detection box inside the image (1 when the whole face
    /// is in view).
    #[serde(default = "one")]
    pub visible_fraction: f32,
}

fn one() -> f32 {
    1.0
}

fn yes() -> bool {
    true
}

/// The surroundings measured around a face box: this multiple of the box's
/// width and height.
pub const SURROUND_SCALE: f32 = 2.5;

impl FrameQuality {
    /// The quality of the face `mesh` (detected in `face_box`) found in
    /// `image`.
    pub fn of(image: &RgbF32, mesh: &FaceMesh, face_box: &Rect) -> Self {
        let [right_eye, left_eye] = mesh.eye_centers();
        let crop = arcface_112(image, &mesh.five_points_arcface());
        let (sharpness, brightness, clipped) = crop
            .as_ref()
            .map_or((0.0, 0.0, 0.0), exposure_and_sharpness);
        let (surround_brightness, surround_saturated) = surroundings(image, face_box);
        Self {
            interocular_px: distance(right_eye, left_eye),
            sharpness,
            brightness,
            clipped,
            surround_brightness,
            surround_saturated,
            visible_fraction: visible_fraction(image, face_box),
        }
    }
}

/// Mean luminance and the share of pixels at 245 or more of the region
/// around `face_box` ([`SURROUND_SCALE`] times its size, inside the image)
/// without the box itself, sampled on a grid of about 64 × 64 points.
/// `(0, 0)` when nothing of it is in the image.
pub fn surroundings(image: &RgbF32, face_box: &Rect) -> (f32, f32) {
    let c = face_box.center();
    let (hw, hh) = (
        SURROUND_SCALE * face_box.width / 2.0,
        SURROUND_SCALE * face_box.height / 2.0,
    );
    let clamp_x = |v: f32| v.clamp(0.0, image.width as f32 - 1.0);
    let clamp_y = |v: f32| v.clamp(0.0, image.height as f32 - 1.0);
    let (x0, x1) = (clamp_x(c.x - hw), clamp_x(c.x + hw));
    let (y0, y1) = (clamp_y(c.y - hh), clamp_y(c.y + hh));
    let step = ((x1 - x0).max(y1 - y0) / 64.0).max(1.0);
    let inside_face = |x: f32, y: f32| {
        x >= face_box.x
            && x < face_box.x + face_box.width
            && y >= face_box.y
            && y < face_box.y + face_box.height
    };
    let (mut sum, mut saturated, mut n) = (0.0f64, 0usize, 0usize);
    let mut y = y0;
    while y <= y1 {
        let mut x = x0;
        while x <= x1 {
            if !inside_face(x, y) {
                let k = (y as usize * image.width + x as usize) * 3;
                if let Some(px) = image.data.get(k..k + 3) {
                    let l = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                    sum += f64::from(l);
                    saturated += usize::from(l >= 245.0);
                    n += 1;
                }
            }
            x += step;
        }
        y += step;
    }
    if n == 0 {
        return (0.0, 0.0);
    }
    ((sum / n as f64) as f32, saturated as f32 / n as f32)
}

/// Fraction of `face_box`'s area inside the image.
pub fn visible_fraction(image: &RgbF32, face_box: &Rect) -> f32 {
    let area = face_box.width.max(0.0) * face_box.height.max(0.0);
    if area <= 0.0 {
        return 0.0;
    }
    let w = (face_box.x + face_box.width).min(image.width as f32) - face_box.x.max(0.0);
    let h = (face_box.y + face_box.height).min(image.height as f32) - face_box.y.max(0.0);
    (w.max(0.0) * h.max(0.0) / area).clamp(0.0, 1.0)
}

/// Everything the signals need about the face of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceFeatures {
    /// The chosen detection (by default the largest × score).
    pub detection: Detection,
    /// The boxes of the other detections.
    pub other_faces: Vec<Rect>,
    /// FaceMesh's 468 points (x, y in source pixels, z relative depth).
    #[serde(with = "mesh_points")]
    pub mesh: Vec<[f32; 3]>,
    /// FaceMesh's face presence probability.
    pub mesh_presence: f32,
    pub pose: Pose,
    pub quality: FrameQuality,
    /// Mean RGB (0–255) of the cheek and forehead skin.
    pub skin_rgb: [f32; 3],
    pub patch: GreyPatch,
    /// P(live) from the passive model (fr-liveness), when asked.
    pub passive: Option<f32>,
    /// P(live) from the second passive model (the MiniFASNet pair), when
    /// asked.
    pub passive_minifasnet: Option<f32>,
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

/// One analysed frame. Serialisable: the capture service stores each
/// frame's features as they are computed, and any node decides from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameFeatures {
    /// Capture time, ms since the challenge started.
    pub t_ms: u32,
    /// Faces the detector found.
    pub faces: usize,
    /// The chosen face, when there is one.
    pub face: Option<FaceFeatures>,
}

/// Which models a [`FrameAnalyzer`] runs, and how it picks the face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameAnalyzerConfig {
    pub detector: DetectorKind,
    /// The embedders run when templates are asked for, in this order.
    pub embedders: Vec<EmbedderKind>,
    /// Embed the mirrored crop too and average (test-time augmentation).
    #[serde(default)]
    pub flip: bool,
    pub face_choice: FaceChoice,
    /// Load the anti-spoof models (needed for `FrameOptions::passive`).
    pub passive: bool,
    /// With `passive`, also load and run the second passive model (the
    /// MiniFASNet pair). Default true; false leaves fr-liveness alone (the
    /// attempt benchmark's baseline).
    #[serde(default = "yes")]
    pub minifasnet: bool,
    /// Bounds on the frames [`FrameAnalyzer::decode`] accepts: the capture
    /// service passes its upload limits, so a frame is never decoded beyond
    /// what the upload check allowed.
    #[serde(default)]
    pub decode: DecodeLimits,
}

impl Default for FrameAnalyzerConfig {
    fn default() -> Self {
        Self {
            detector: DetectorKind::ShortRange,
            // int8: the shipped default (LFW 99.40 %, TAR 0.974 @ 1e-4, 2.4x
            // faster than float on one core, same accuracy;
            // docs/face-engine.md).
            embedders: vec![EmbedderKind::FrFeatureInt8],
            flip: false,
            face_choice: FaceChoice::Subject,
            passive: true,
            minifasnet: true,
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

/// The chosen face of one image after the steps every analysis shares
/// ([`FrameAnalyzer::analyze_face`]).
#[derive(Debug, Clone)]
pub struct Face {
    /// The chosen detection ([`FrameAnalyzerConfig::face_choice`]).
    pub detection: Detection,
    /// Faces the detector found, the chosen one included.
    pub faces: usize,
    /// The boxes of the other detections.
    pub other_faces: Vec<Rect>,
    pub mesh: FaceMesh,
    /// Measured on the ArcFace 112×112 crop.
    pub quality: FrameQuality,
    /// One per embedder, in configuration order, when templates were asked
    /// for (empty otherwise); `None` where the landmarks are too degenerate
    /// to align.
    pub templates: Vec<Option<Template>>,
}

/// The per-frame analyser: owns its model sessions and runs on one thread
/// (run several for parallelism). Both the still-image pipeline
/// and the liveness capture analyse their images with it.
pub struct FrameAnalyzer {
    detector: FaceDetector,
    mesh: MeshModel,
    embedders: Vec<Box<dyn Embedder>>,
    antispoof: Option<AntiSpoofModel>,
    minifasnet: Option<MiniFasNet>,
    face_choice: FaceChoice,
    decode: DecodeLimits,
}

impl FrameAnalyzer {
    /// Loads the models (checksums verified) on `runtime`.
    pub fn load(
        store: &ModelStore,
        runtime: &dyn Runtime,
        config: FrameAnalyzerConfig,
    ) -> Result<Self, VisionError> {
        let detector = store.load(runtime, config.detector.model_id())?;
        Ok(Self {
            detector: FaceDetector::new(detector, config.detector),
            mesh: MeshModel::new(store.load(runtime, ids::FACEMESH_468)?),
            embedders: config
                .embedders
                .iter()
                .map(|kind| kind.load(store, runtime, config.flip))
                .collect::<Result<_, _>>()?,
            antispoof: if config.passive {
                Some(AntiSpoofModel::new(store.load(runtime, ids::FR_LIVENESS)?))
            } else {
                None
            },
            minifasnet: if config.passive && config.minifasnet {
                Some(MiniFasNet::new(
                    store.load(runtime, ids::MINIFASNET_V2_80)?,
                    store.load(runtime, ids::MINIFASNET_V1SE_80)?,
                ))
            } else {
                None
            },
            face_choice: config.face_choice,
            decode: config.decode,
        })
    }

    /// The embedders, in configuration order (for [`Embedder::similarity`]).
    pub fn embedders(&self) -> &[Box<dyn Embedder>] {
        &self.embedders
    }

    /// Decodes a JPEG/PNG image within the configured bounds.
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbF32, VisionError> {
        Ok(RgbF32::from_rgb8(&decode_image(bytes, &self.decode)?))
    }

    /// The steps every analysis shares: detect, choose the face, FaceMesh,
    /// the crop quality and, with `templates`, align and embed with every
    /// embedder. `None` when no face is found. The timings leave `decode` at
    /// zero.
    pub fn analyze_face(
        &mut self,
        image: &RgbF32,
        templates: bool,
    ) -> Result<(Option<Face>, Timings), VisionError> {
        let mut timings = Timings::default();
        let t = Instant::now();
        let detections = self.detector.detect(image)?;
        timings.detect = t.elapsed();
        let chosen = self
            .face_choice
            .pick(&detections, image.width, image.height);
        let Some(detection) = chosen.copied() else {
            return Ok((None, timings));
        };
        let t = Instant::now();
        let mesh = self.mesh.estimate(image, &detection)?;
        timings.landmarks = t.elapsed();
        let t = Instant::now();
        let templates = if templates {
            self.templates(image, &mesh)?
        } else {
            Vec::new()
        };
        timings.embed = t.elapsed();
        let quality = FrameQuality::of(image, &mesh, &detection.rect);
        let other_faces = detections
            .iter()
            .filter(|d| **d != detection)
            .map(|d| d.rect)
            .collect();
        Ok((
            Some(Face {
                detection,
                faces: detections.len(),
                other_faces,
                mesh,
                quality,
                templates,
            }),
            timings,
        ))
    }

    fn templates(
        &mut self,
        image: &RgbF32,
        mesh: &FaceMesh,
    ) -> Result<Vec<Option<Template>>, VisionError> {
        let points = FivePoints {
            arcface: mesh.five_points_arcface(),
            dlib: mesh.five_points_dlib(),
        };
        self.embedders
            .iter_mut()
            .map(|embedder| {
                let Some(crop) = embedder.align(image, &points) else {
                    return Ok(None);
                };
                Ok(Some(Template {
                    model: embedder.model_id(),
                    vector: embedder.embed_aligned(&crop)?,
                }))
            })
            .collect()
    }

    /// Decodes a JPEG/PNG frame and analyses it.
    pub fn analyze_bytes(
        &mut self,
        t_ms: u32,
        bytes: &[u8],
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let image = self.decode(bytes)?;
        self.analyze(t_ms, &image, opts)
    }

    /// Analyses one decoded frame (RGB 0–255) for liveness: the shared steps
    /// ([`FrameAnalyzer::analyze_face`], templates when `opts` asks), then
    /// the pose, the skin colour, the texture patch and, when asked, the
    /// anti-spoof model. The frame's template is the first embedder's.
    pub fn analyze(
        &mut self,
        t_ms: u32,
        image: &RgbF32,
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let (face, _) = self.analyze_face(image, opts.template)?;
        let Some(face) = face else {
            return Ok(FrameFeatures {
                t_ms,
                faces: 0,
                face: None,
            });
        };
        let Face {
            detection,
            faces,
            other_faces,
            mesh,
            quality,
            templates,
        } = face;
        let pose = Pose::from_mesh(&mesh.points).unwrap_or_default();
        let skin_rgb = skin_colour(image, &mesh);
        let center = detection.rect.center();
        let region = PATCH_SCALE * detection.rect.width.max(detection.rect.height);
        let patch = GreyPatch::extract(image, center, region, PATCH_SIDE);
        let not_loaded = |model: &str| VisionError::Model {
            model: model.into(),
            detail: "the passive models were not loaded (FrameAnalyzerConfig::passive)".into(),
        };
        let (passive, passive_minifasnet) = if opts.passive {
            // Dark faces reach the passive models at a normal exposure.
            let gain = exposure_gain(quality.brightness);
            let fr = self
                .antispoof
                .as_mut()
                .ok_or_else(|| not_loaded(ids::FR_LIVENESS))?
                .live_probability(image, &detection.rect, gain)?;
            let minifasnet = match self.minifasnet.as_mut() {
                Some(model) => Some(model.live_probability(image, &detection.rect, gain)?),
                None => None,
            };
            (Some(fr), minifasnet)
        } else {
            (None, None)
        };
        Ok(FrameFeatures {
            t_ms,
            faces,
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
                passive_minifasnet,
                template: templates.into_iter().next().flatten(),
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

/// The mesh as a byte string of little-endian `f32`s in binary formats (the
/// stored analysis of a frame, read back by the thousand at an attempt's
/// finish: one copy instead of 1,404 numbers decoded one by one), and as
/// `[x, y, z]` arrays in readable ones. Every `f32` round-trips exactly; the
/// array form is read in both.
mod mesh_points {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        mesh: &[[f32; 3]],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return mesh.serialize(serializer);
        }
        let bytes: Vec<u8> = mesh
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        serializer.serialize_bytes(&bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<[f32; 3]>, D::Error> {
        if deserializer.is_human_readable() {
            return Vec::<[f32; 3]>::deserialize(deserializer);
        }
        deserializer.deserialize_byte_buf(Points)
    }

    struct Points;

    impl<'de> Visitor<'de> for Points {
        type Value = Vec<[f32; 3]>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("mesh points as bytes (12 a point) or [x, y, z] arrays")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            if !v.len().is_multiple_of(12) {
                return Err(E::invalid_length(v.len(), &self));
            }
            Ok(v.chunks_exact(12)
                .map(|p| {
                    let f = |i: usize| f32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
                    [f(0), f(4), f(8)]
                })
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 12));
            while let Some(p) = seq.next_element::<[f32; 3]>()? {
                out.push(p);
            }
            Ok(out)
        }
    }
}
