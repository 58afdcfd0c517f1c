//! The passive anti-spoof classifier `fr_liveness` (faceplugin, id
//! `fr-liveness`): one frame in, P(live) out. Preprocessing follows
//! faceplugin's `alignLivenessImage` (the MiniFASNet crop): the detection box
//! scaled 2.7× about its centre, shrunk if needed so that it fits the image
//! and shifted back inside it, resized to 128×128; the model takes BGR, raw
//! 0–255, NCHW (`models/manifest.json` `input`), and class 0 of the softmax
//! of its 3 logits is "live". BGR matters: with RGB real faces are rejected
//! (liveness study §1).
//!
//! The second, independently trained classifier pair is Minivision's
//! Silent-Face MiniFASNet ([`MiniFasNet`], Apache-2.0): V2 on a 2.7× crop and
//! V1SE on a 4.0× crop, both 80×80, BGR raw 0–255, class 1 of the softmax
//! "real"; the pair's P(live) is the mean of the two (the repository's own
//! `test.py` fusion). Same crop code, other scales and size.
//!
//! Per-frame building blocks: the frame analyser runs them on the frames the
//! liveness sampling asks for, and the `passive` liveness signal fuses and
//! averages their outputs.

use crate::geometry::{Rect, RgbF32};
use crate::runtime::{Session, Tensor};
use crate::VisionError;

/// Box scale of the crop.
pub const CROP_SCALE: f32 = 2.7;
/// Side of the model input.
pub const INPUT_SIZE: usize = 128;

/// Exposure normalisation of the passive crops: a face whose mean
/// luminance (the ArcFace crop's, 0–255) is under this is brightened to it,
/// as a camera's auto-exposure would (faces above it are left as they are).
/// 120: a well-exposed face's mean; fixed before it was measured.
pub const EXPOSURE_TARGET: f32 = 120.0;
/// The most a crop is brightened (a face at 30 or darker gets 4×).
pub const MAX_EXPOSURE_GAIN: f32 = 4.0;

/// The gain [`EXPOSURE_TARGET`] gives a face of mean luminance `brightness`.
pub fn exposure_gain(brightness: f32) -> f32 {
    if brightness >= EXPOSURE_TARGET || brightness <= 0.0 {
        return if brightness <= 0.0 {
            MAX_EXPOSURE_GAIN
        } else {
            1.0
        };
    }
    (EXPOSURE_TARGET / brightness).min(MAX_EXPOSURE_GAIN)
}

/// Side of the MiniFASNet inputs.
pub const MINIFASNET_INPUT_SIZE: usize = 80;
/// Box scale of MiniFASNetV2's crop.
pub const MINIFASNET_V2_SCALE: f32 = 2.7;
/// Box scale of MiniFASNetV1SE's crop.
pub const MINIFASNET_V1SE_SCALE: f32 = 4.0;

/// The fr-liveness model behind a [`Session`].
pub struct AntiSpoofModel {
    session: Box<dyn Session>,
}

impl std::fmt::Debug for AntiSpoofModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AntiSpoofModel").finish_non_exhaustive()
    }
}

impl AntiSpoofModel {
    pub fn new(session: Box<dyn Session>) -> Self {
        Self { session }
    }

    /// P(live) of the face in `face_box` (a detection box, source pixels),
    /// its crop's pixels multiplied by `gain` ([`exposure_gain`]).
    pub fn live_probability(
        &mut self,
        image: &RgbF32,
        face_box: &Rect,
        gain: f32,
    ) -> Result<f32, VisionError> {
        let crop = liveness_crop(image.width, image.height, face_box, CROP_SCALE);
        self.live_probability_of_input(input_tensor(image, &crop, INPUT_SIZE, gain)?)
    }

    /// P(live) of an already prepared input tensor ([1, 3, 128, 128], BGR
    /// 0–255).
    pub fn live_probability_of_input(&mut self, input: Tensor) -> Result<f32, VisionError> {
        Ok(class_probabilities(self.session.as_mut(), input, "fr-liveness")?[0])
    }
}

/// The softmax of a 3-class classifier's logits on `input`; an error unless
/// the model gives exactly 3 finite logits.
fn class_probabilities(
    session: &mut dyn Session,
    input: Tensor,
    model: &str,
) -> Result<Vec<f32>, VisionError> {
    let output = session
        .run(vec![input])?
        .into_iter()
        .next()
        .ok_or_else(|| VisionError::Inference(format!("{model} returned no output")))?;
    if output.data.len() != 3 || output.data.iter().any(|v| !v.is_finite()) {
        return Err(VisionError::Inference(format!(
            "{model}: expected 3 finite logits, got {:?}",
            output.data
        )));
    }
    Ok(softmax(&output.data))
}

/// The Silent-Face MiniFASNet pair (V2 and V1SE), each behind a [`Session`].
pub struct MiniFasNet {
    v2: Box<dyn Session>,
    v1se: Box<dyn Session>,
}

impl std::fmt::Debug for MiniFasNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniFasNet").finish_non_exhaustive()
    }
}

impl MiniFasNet {
    pub fn new(v2: Box<dyn Session>, v1se: Box<dyn Session>) -> Self {
        Self { v2, v1se }
    }

    /// P(live) of the face in `face_box`: the mean of the two models'
    /// softmax class 1, each on its own crop of the image (pixels multiplied
    /// by `gain`).
    pub fn live_probability(
        &mut self,
        image: &RgbF32,
        face_box: &Rect,
        gain: f32,
    ) -> Result<f32, VisionError> {
        let mut sum = 0.0;
        for (session, scale) in [
            (&mut self.v2, MINIFASNET_V2_SCALE),
            (&mut self.v1se, MINIFASNET_V1SE_SCALE),
        ] {
            let crop = liveness_crop(image.width, image.height, face_box, scale);
            let input = input_tensor(image, &crop, MINIFASNET_INPUT_SIZE, gain)?;
            sum += class_probabilities(session.as_mut(), input, "MiniFASNet")?[1];
        }
        Ok(sum / 2.0)
    }
}

/// Softmax of logits (max-subtracted, so large logits do not overflow).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|v| v / sum).collect()
}

/// The crop rectangle `alignLivenessImage` takes, in integer pixel bounds
/// (`x, y` the first column and row, `width, height` the counts): the box
/// scaled by `scale` about its centre, the scale reduced so that the crop
/// fits in the image (`(side − 1) / box side`), then shifted (not clipped)
/// back inside the image, so the face keeps its place in the crop's framing.
pub fn liveness_crop(width: usize, height: usize, face_box: &Rect, scale: f32) -> Rect {
    let (w, h) = (width as f32, height as f32);
    let (bw, bh) = (face_box.width.max(1.0), face_box.height.max(1.0));
    let scale = scale.min((h - 1.0) / bh).min((w - 1.0) / bw).max(0.0);
    let (nw, nh) = (bw * scale, bh * scale);
    let c = face_box.center();
    let (mut x0, mut y0) = (c.x - nw / 2.0, c.y - nh / 2.0);
    let (mut x1, mut y1) = (c.x + nw / 2.0, c.y + nh / 2.0);
    if x0 < 0.0 {
        x1 -= x0;
        x0 = 0.0;
    }
    if y0 < 0.0 {
        y1 -= y0;
        y0 = 0.0;
    }
    if x1 > w - 1.0 {
        x0 -= x1 - (w - 1.0);
        x1 = w - 1.0;
    }
    if y1 > h - 1.0 {
        y0 -= y1 - (h - 1.0);
        y1 = h - 1.0;
    }
    // Integer bounds, inclusive of the last row and column, as the original.
    let (x0, y0) = (x0.max(0.0).trunc(), y0.max(0.0).trunc());
    let (x1, y1) = (x1.max(x0).trunc(), y1.max(y0).trunc());
    Rect {
        x: x0,
        y: y0,
        width: x1 - x0 + 1.0,
        height: y1 - y0 + 1.0,
    }
}

/// A model input: `crop` resized to `n`×`n` with bilinear sampling at pixel
/// centres (OpenCV's `resize` convention), BGR planes, raw 0–255, each value
/// multiplied by `gain` and clipped at 255 (1: the pixels as they are).
pub fn input_tensor(
    image: &RgbF32,
    crop: &Rect,
    n: usize,
    gain: f32,
) -> Result<Tensor, VisionError> {
    let plane = n * n;
    let (sx, sy) = (crop.width / n as f32, crop.height / n as f32);
    let mut data = vec![0.0f32; plane * 3];
    for v in 0..n {
        let y = crop.y + (v as f32 + 0.5) * sy - 0.5;
        for u in 0..n {
            let x = crop.x + (u as f32 + 0.5) * sx - 0.5;
            let [r, g, b] = image.sample(x, y).map(|c| (c * gain).min(255.0));
            let i = v * n + u;
            data[i] = b;
            data[plane + i] = g;
            data[2 * plane + i] = r;
        }
    }
    Tensor::new(vec![1, 3, n, n], data)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_crop_is_the_scaled_box_shifted_inside_the_image() {
        // Centred, fits: 2.7 × 100 = 270 around (320, 240).
        let r = liveness_crop(
            640,
            480,
            &Rect {
                x: 270.0,
                y: 190.0,
                width: 100.0,
                height: 100.0,
            },
            2.7,
        );
        assert_eq!((r.x, r.y, r.width, r.height), (185.0, 105.0, 271.0, 271.0));
        // Near the left edge: shifted right, same size.
        let r = liveness_crop(
            640,
            480,
            &Rect {
                x: 0.0,
                y: 190.0,
                width: 100.0,
                height: 100.0,
            },
            2.7,
        );
        assert_eq!((r.x, r.width), (0.0, 271.0));
        // Too large for the image: the scale shrinks to (480 − 1) / 200.
        let r = liveness_crop(
            640,
            480,
            &Rect {
                x: 220.0,
                y: 140.0,
                width: 200.0,
                height: 200.0,
            },
            2.7,
        );
        assert_eq!((r.y, r.height), (0.0, 480.0));
        assert!(r.x >= 0.0 && r.x + r.width <= 640.0);
    }

    #[test]
    fn the_input_is_bgr_planes_of_raw_pixels() {
        let image = RgbF32 {
            width: 4,
            height: 4,
            data: [10.0, 20.0, 30.0].repeat(16),
        };
        let t = input_tensor(
            &image,
            &Rect {
                x: 0.0,
                y: 0.0,
                width: 4.0,
                height: 4.0,
            },
            INPUT_SIZE,
            1.0,
        )
        .unwrap();
        assert_eq!(t.shape, vec![1, 3, 128, 128]);
        let plane = 128 * 128;
        assert_eq!(
            (t.data[0], t.data[plane], t.data[2 * plane]),
            (30.0, 20.0, 10.0)
        );
    }

    #[test]
    fn only_faces_darker_than_the_target_are_brightened_and_not_without_bound() {
        assert_eq!(exposure_gain(150.0), 1.0);
        assert_eq!(exposure_gain(EXPOSURE_TARGET), 1.0);
        assert!((exposure_gain(60.0) - 2.0).abs() < 1e-6);
        assert_eq!(exposure_gain(10.0), MAX_EXPOSURE_GAIN);
        assert_eq!(exposure_gain(0.0), MAX_EXPOSURE_GAIN);
        let image = RgbF32 {
            width: 2,
            height: 2,
            data: [50.0, 100.0, 200.0].repeat(4),
        };
        let crop = Rect {
            x: 0.0,
            y: 0.0,
            width: 2.0,
            height: 2.0,
        };
        let t = input_tensor(&image, &crop, 2, 2.0).unwrap();
        // BGR planes: 200 × 2 clipped, 100 × 2, 50 × 2.
        assert_eq!((t.data[0], t.data[4], t.data[8]), (255.0, 200.0, 100.0));
    }

    #[test]
    fn softmax_sums_to_one_and_survives_large_logits() {
        let p = softmax(&[1000.0, 0.0, -1000.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > 0.999);
    }
}
