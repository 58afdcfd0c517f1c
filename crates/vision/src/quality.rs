//! Capture quality: is this face large, sharp, well exposed, frontal and
//! alone enough to be compared? Each measure is reported with the policy's
//! verdict so clients can be told what to fix.

use serde::{Deserialize, Serialize};

use crate::geometry::RgbF32;

/// FaceMesh indices used for head pose: face outline left/right, forehead, chin.
const MESH_LEFT_CHEEK: usize = 234;
const MESH_RIGHT_CHEEK: usize = 454;
const MESH_FOREHEAD: usize = 10;
const MESH_CHIN: usize = 152;

/// Measured quality of one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Distance between the eye centres, source pixels.
    pub interocular_px: f32,
    /// Variance of the Laplacian of the aligned grey crop (higher is sharper).
    pub sharpness: f32,
    /// Mean luminance of the aligned crop, 0..255.
    pub brightness: f32,
    /// Fraction of crop pixels at the ends of the range (≤ 5 or ≥ 250).
    pub clipped: f32,
    /// Head pose in degrees: yaw (left/right), pitch (up/down), roll (tilt).
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
    /// Faces detected in the image.
    pub faces: usize,
}

/// Why a capture is not good enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QualityIssue {
    NoFace,
    MultipleFaces,
    FaceTooSmall,
    Blurry,
    TooDark,
    TooBright,
    NotFrontal,
}

/// Limits a capture must meet (defaults suit a webcam selfie).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityPolicy {
    pub min_interocular_px: f32,
    pub min_sharpness: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub max_clipped: f32,
    pub max_yaw: f32,
    pub max_pitch: f32,
    pub max_roll: f32,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        Self {
            min_interocular_px: 30.0,
            min_sharpness: 15.0,
            min_brightness: 50.0,
            max_brightness: 215.0,
            max_clipped: 0.25,
            max_yaw: 30.0,
            max_pitch: 25.0,
            max_roll: 30.0,
        }
    }
}

impl QualityPolicy {
    /// Every limit the capture misses (empty when acceptable).
    pub fn issues(&self, q: &Quality) -> Vec<QualityIssue> {
        let mut issues = Vec::new();
        match q.faces {
            0 => return vec![QualityIssue::NoFace],
            1 => {}
            _ => issues.push(QualityIssue::MultipleFaces),
        }
        if q.interocular_px < self.min_interocular_px {
            issues.push(QualityIssue::FaceTooSmall);
        }
        if q.sharpness < self.min_sharpness {
            issues.push(QualityIssue::Blurry);
        }
        if q.brightness < self.min_brightness {
            issues.push(QualityIssue::TooDark);
        } else if q.brightness > self.max_brightness || q.clipped > self.max_clipped {
            issues.push(QualityIssue::TooBright);
        }
        if q.yaw.abs() > self.max_yaw
            || q.pitch.abs() > self.max_pitch
            || q.roll.abs() > self.max_roll
        {
            issues.push(QualityIssue::NotFrontal);
        }
        issues
    }
}

fn luminance(px: &[f32]) -> f32 {
    0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]
}

/// Sharpness, brightness and clipping of an aligned crop.
pub fn exposure_and_sharpness(crop: &RgbF32) -> (f32, f32, f32) {
    let (w, h) = (crop.width, crop.height);
    let grey: Vec<f32> = crop.data.chunks_exact(3).map(luminance).collect();
    if grey.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let brightness = grey.iter().sum::<f32>() / grey.len() as f32;
    let clipped =
        grey.iter().filter(|&&v| v <= 5.0 || v >= 250.0).count() as f32 / grey.len() as f32;
    let mut laplacians = Vec::with_capacity(w.saturating_sub(2) * h.saturating_sub(2));
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let at = |xx: usize, yy: usize| grey[yy * w + xx];
            laplacians
                .push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    let n = laplacians.len().max(1) as f32;
    let mean = laplacians.iter().sum::<f32>() / n;
    let variance = laplacians
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f32>()
        / n;
    (variance, brightness, clipped)
}

/// Yaw, pitch and roll (degrees) from FaceMesh's 3-D points: the normal of
/// the plane spanned by the cheek-to-cheek and forehead-to-chin axes, and the
/// tilt of the cheek axis. 0 means frontal and upright.
pub fn head_pose(mesh: &[[f32; 3]]) -> Option<(f32, f32, f32)> {
    let get = |i: usize| mesh.get(i).copied();
    let (l, r, top, bottom) = (
        get(MESH_LEFT_CHEEK)?,
        get(MESH_RIGHT_CHEEK)?,
        get(MESH_FOREHEAD)?,
        get(MESH_CHIN)?,
    );
    let across = [r[0] - l[0], r[1] - l[1], r[2] - l[2]];
    let down = [bottom[0] - top[0], bottom[1] - top[1], bottom[2] - top[2]];
    // across × down points away from the camera (into +z) for a frontal face.
    let n = [
        across[1] * down[2] - across[2] * down[1],
        across[2] * down[0] - across[0] * down[2],
        across[0] * down[1] - across[1] * down[0],
    ];
    let norm = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if norm <= f32::EPSILON {
        return None;
    }
    let yaw = (n[0] / norm).asin().to_degrees();
    let pitch = (n[1] / norm).asin().to_degrees();
    let roll = across[1].atan2(across[0]).to_degrees();
    Some((yaw, pitch, roll))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_crop_is_not_sharp_and_a_checkerboard_is() {
        let flat = RgbF32 {
            width: 8,
            height: 8,
            data: vec![128.0; 8 * 8 * 3],
        };
        let (sharp, bright, clipped) = exposure_and_sharpness(&flat);
        assert_eq!((sharp, clipped), (0.0, 0.0));
        assert!((bright - 128.0).abs() < 0.01);
        let board: Vec<f32> = (0..64)
            .flat_map(|i| {
                let v = if (i % 8 + i / 8) % 2 == 0 { 0.0 } else { 255.0 };
                [v, v, v]
            })
            .collect();
        let (sharp, _, clipped) = exposure_and_sharpness(&RgbF32 {
            width: 8,
            height: 8,
            data: board,
        });
        assert!(sharp > 1000.0);
        assert_eq!(clipped, 1.0);
    }

    #[test]
    fn pose_of_a_frontal_and_a_turned_face() {
        let mut mesh = vec![[0.0f32; 3]; 468];
        mesh[MESH_LEFT_CHEEK] = [-1.0, 0.0, 0.0];
        mesh[MESH_RIGHT_CHEEK] = [1.0, 0.0, 0.0];
        mesh[MESH_FOREHEAD] = [0.0, -1.0, 0.0];
        mesh[MESH_CHIN] = [0.0, 1.0, 0.0];
        let (yaw, pitch, roll) = head_pose(&mesh).unwrap_or_default();
        assert!(yaw.abs() < 1e-3 && pitch.abs() < 1e-3 && roll.abs() < 1e-3);
        // Turn 30° about the vertical axis.
        let (s, c) = 30f32.to_radians().sin_cos();
        mesh[MESH_LEFT_CHEEK] = [-c, 0.0, s];
        mesh[MESH_RIGHT_CHEEK] = [c, 0.0, -s];
        let (yaw, _, _) = head_pose(&mesh).unwrap_or_default();
        assert!((yaw.abs() - 30.0).abs() < 0.5, "{yaw}");
    }

    #[test]
    fn the_policy_names_every_problem() {
        let good = Quality {
            interocular_px: 60.0,
            sharpness: 100.0,
            brightness: 120.0,
            clipped: 0.0,
            yaw: 0.0,
            pitch: 0.0,
            roll: 0.0,
            faces: 1,
        };
        let policy = QualityPolicy::default();
        assert!(policy.issues(&good).is_empty());
        assert_eq!(
            policy.issues(&Quality { faces: 0, ..good }),
            vec![QualityIssue::NoFace]
        );
        let bad = Quality {
            faces: 2,
            interocular_px: 10.0,
            sharpness: 1.0,
            brightness: 20.0,
            yaw: 45.0,
            ..good
        };
        assert_eq!(
            policy.issues(&bad),
            vec![
                QualityIssue::MultipleFaces,
                QualityIssue::FaceTooSmall,
                QualityIssue::Blurry,
                QualityIssue::TooDark,
                QualityIssue::NotFrontal
            ]
        );
    }
}
