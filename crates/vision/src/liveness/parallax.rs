//! Flatness from texture parallax: when a real head turns, its texture moves
//! unlike a plane's (the nose and cheeks move differently), and the best
//! homography between the frontal and the turned frame leaves a residual; a
//! photo or a screen is a plane, and the homography explains it exactly.
//!
//! Texture points (Shi–Tomasi) inside the face of a frontal frame are tracked
//! (pyramidal Lucas–Kanade, forward–backward checked) through intermediate
//! frames to a turned frame of each step (about 20°, or its peak); a
//! homography is fitted
//! to the tracks (normalised DLT); the RMS residual, as % of the face radius
//! ([`FaceFeatures::radius`]), is divided by the apparent rotation in
//! degrees. The study measured 0.46 %/° median for real heads and 0.25 for
//! synthetic flat photos with this texture measure, in its own face-radius
//! unit (`ParallaxConfig::threshold_pct_per_deg` gives this one's). FaceMesh landmark
//! residuals are not used: FaceMesh bends a flat face into a 3-D one, so its
//! residuals only restate the rotation (study §1).

use crate::frame::{FaceFeatures, FrameFeatures};
use crate::geometry::Point;
use crate::klt::{good_features, track_checked, GreyImage, LkParams, Pyramid};
use crate::liveness::compliance::ChallengeTrace;
use crate::liveness::config::ParallaxConfig;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

pub const NAME: &str = "parallax";

/// Pyramid levels for the 160-px patches (160, 80, 40).
const PYRAMID_LEVELS: usize = 3;
/// Forward–backward error (patch pixels) above which a track is dropped.
const MAX_FB_ERROR: f32 = 0.5;
/// The share of tracks with the largest residuals left out of the final fit
/// (tracking slips, eyelids and lips that move on their own).
const TRIM: f64 = 0.1;

/// A 3×3 homography, row-major, mapping `(x, y, 1)`.
pub type Homography = [[f64; 3]; 3];

/// One frontal-to-turned measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParallaxMeasurement {
    /// RMS homography residual, % of the face radius.
    pub residual_pct: f32,
    /// Apparent rotation between the two frames (degrees).
    pub rotation_deg: f32,
    /// Tracks that survived and were fitted.
    pub tracks: usize,
}

impl ParallaxMeasurement {
    /// Residual per degree of rotation (%/°).
    pub fn per_degree(&self) -> f32 {
        self.residual_pct / self.rotation_deg.max(1e-3)
    }
}

/// Applies `h` to `p`.
pub fn apply(h: &Homography, p: (f64, f64)) -> (f64, f64) {
    let w = h[2][0] * p.0 + h[2][1] * p.1 + h[2][2];
    (
        (h[0][0] * p.0 + h[0][1] * p.1 + h[0][2]) / w,
        (h[1][0] * p.0 + h[1][1] * p.1 + h[1][2]) / w,
    )
}

fn multiply(a: &Homography, b: &Homography) -> Homography {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// Hartley normalisation: the similarity taking `points` to centroid 0 and
/// mean distance √2, and its inverse.
fn normalisation(points: &[(f64, f64)]) -> Option<(Homography, Homography)> {
    let n = points.len() as f64;
    let (cx, cy) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0, y + p.1));
    let (cx, cy) = (cx / n, cy / n);
    let mean = points
        .iter()
        .map(|p| (p.0 - cx).hypot(p.1 - cy))
        .sum::<f64>()
        / n;
    if mean <= 1e-12 || !mean.is_finite() {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean;
    Some((
        [[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]],
        [[1.0 / s, 0.0, cx], [0.0, 1.0 / s, cy], [0.0, 0.0, 1.0]],
    ))
}

/// The eigenvector of the smallest eigenvalue of a symmetric 9×9 matrix
/// (cyclic Jacobi rotations: exact enough and dependency-free at this size).
// Rows p and q are rotated together, which an index loop says most plainly.
#[allow(clippy::needless_range_loop)]
fn smallest_eigenvector(mut a: [[f64; 9]; 9]) -> [f64; 9] {
    let mut v = [[0.0f64; 9]; 9];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let scale: f64 = a.iter().flatten().map(|x| x * x).sum::<f64>().max(1e-300);
    for _ in 0..60 {
        let off: f64 = (0..9)
            .flat_map(|p| (0..9).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p][q] * a[p][q])
            .sum();
        if off <= 1e-26 * scale {
            break;
        }
        for p in 0..9 {
            for q in p + 1..9 {
                if a[p][q].abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
                for k in 0..9 {
                    let (pk, qk) = (a[p][k], a[q][k]);
                    a[p][k] = c * pk - s * qk;
                    a[q][k] = s * pk + c * qk;
                }
                for row in v.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
            }
        }
    }
    let min = (0..9)
        .min_by(|&i, &j| a[i][i].total_cmp(&a[j][j]))
        .unwrap_or(8);
    std::array::from_fn(|k| v[k][min])
}

/// The least-squares homography taking `src[i]` to `dst[i]` (normalised DLT,
/// at least 4 correspondences).
pub fn fit_homography(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<Homography> {
    if src.len() < 4 || src.len() != dst.len() {
        return None;
    }
    let (ts, _) = normalisation(src)?;
    let (td, td_inv) = normalisation(dst)?;
    let mut ata = [[0.0f64; 9]; 9];
    for (p, q) in src.iter().zip(dst) {
        let (x, y) = apply(&ts, *p);
        let (u, v) = apply(&td, *q);
        let rows = [
            [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v],
            [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, -u],
        ];
        for r in &rows {
            for i in 0..9 {
                for j in 0..9 {
                    ata[i][j] += r[i] * r[j];
                }
            }
        }
    }
    let h = smallest_eigenvector(ata);
    let hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], h[8]]];
    let full = multiply(&td_inv, &multiply(&hn, &ts));
    let norm = full[2][2];
    if !norm.is_finite() || norm.abs() < 1e-12 {
        return None;
    }
    Some(full.map(|row| row.map(|v| v / norm)))
}

/// Residual distances of each correspondence under `h`.
fn residuals(h: &Homography, src: &[(f64, f64)], dst: &[(f64, f64)]) -> Vec<f64> {
    src.iter()
        .zip(dst)
        .map(|(p, q)| {
            let r = apply(h, *p);
            (r.0 - q.0).hypot(r.1 - q.1)
        })
        .collect()
}

/// RMS residual (same unit as the points) of a homography fitted to the
/// correspondences, refitted once without the worst [`TRIM`] share.
pub fn homography_rms(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Option<f64> {
    let h = fit_homography(src, dst)?;
    let res = residuals(&h, src, dst);
    let mut order: Vec<usize> = (0..res.len()).collect();
    order.sort_by(|&a, &b| res[a].total_cmp(&res[b]));
    let keep = ((res.len() as f64) * (1.0 - TRIM)).ceil().max(4.0) as usize;
    let kept: Vec<usize> = order.into_iter().take(keep).collect();
    let s: Vec<_> = kept.iter().map(|&i| src[i]).collect();
    let d: Vec<_> = kept.iter().map(|&i| dst[i]).collect();
    let h = fit_homography(&s, &d)?;
    let res = residuals(&h, &s, &d);
    Some((res.iter().map(|r| r * r).sum::<f64>() / res.len() as f64).sqrt())
}

/// The face ellipse of `face` in its patch's coordinates: centre and
/// semi-axes, from the mesh's extent (shrunk to stay on skin), or the
/// patch's central region without a mesh.
fn face_ellipse(face: &FaceFeatures) -> (Point, f32, f32) {
    let patch = &face.patch;
    if face.mesh.is_empty() {
        let c = (patch.side as f32 - 1.0) / 2.0;
        return (
            Point::new(c, c),
            0.3 * patch.side as f32,
            0.35 * patch.side as f32,
        );
    }
    let pts: Vec<Point> = face
        .mesh
        .iter()
        .map(|p| patch.from_image(Point::new(p[0], p[1])))
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &pts {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    (
        Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0),
        0.85 * (x1 - x0) / 2.0,
        0.85 * (y1 - y0) / 2.0,
    )
}

/// The face radius of `face` in image pixels (mesh RMS radius, or a share of
/// the detection box without a mesh).
fn radius(face: &FaceFeatures) -> f32 {
    if face.mesh.is_empty() {
        0.35 * face.detection.rect.width
    } else {
        face.radius()
    }
}

/// Tracks texture from `chain[0]` (frontal) through the following frames to
/// the last one (turned), and measures the homography residual between the
/// first and the last.
pub fn measure(chain: &[&FaceFeatures], cfg: &ParallaxConfig) -> Option<ParallaxMeasurement> {
    let (first, last) = (chain.first()?, chain.last()?);
    if chain.len() < 2 || first.patch.side < 16 {
        return None;
    }
    let params = LkParams::default();
    let (c, ax, ay) = face_ellipse(first);
    let mask = |p: Point| ((p.x - c.x) / ax).powi(2) + ((p.y - c.y) / ay).powi(2) <= 1.0;
    let base = GreyImage::from_patch(&first.patch);
    let min_distance = first.patch.side as f32 / 40.0;
    let seeds = good_features(
        &base,
        cfg.max_points,
        0.01,
        min_distance.max(3.0),
        params.half_window + 1,
        &mask,
    );
    let mut start: Vec<Point> = seeds.iter().map(|&p| first.patch.to_image(p)).collect();
    let mut points = seeds;
    let mut previous = Pyramid::new(base, PYRAMID_LEVELS);
    for face in &chain[1..] {
        let next = Pyramid::new(GreyImage::from_patch(&face.patch), PYRAMID_LEVELS);
        // The patches follow the face, so "the same patch position" is the
        // better first guess than "the same image position".
        let tracked = track_checked(&previous, &next, &points, &points, &params, MAX_FB_ERROR);
        let (mut s, mut p) = (
            Vec::with_capacity(points.len()),
            Vec::with_capacity(points.len()),
        );
        for (origin, q) in start.iter().zip(tracked) {
            if let Some(q) = q {
                s.push(*origin);
                p.push(q);
            }
        }
        start = s;
        points = p;
        previous = next;
        if points.len() < cfg.min_tracks.max(4) {
            return None;
        }
    }
    let src: Vec<(f64, f64)> = start
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y)))
        .collect();
    let dst: Vec<(f64, f64)> = points
        .iter()
        .map(|&p| {
            let q = last.patch.to_image(p);
            (f64::from(q.x), f64::from(q.y))
        })
        .collect();
    let rms = homography_rms(&src, &dst)?;
    let r = f64::from(radius(first)).max(1.0);
    let rotation = (last.pose.yaw - first.pose.yaw).hypot(last.pose.pitch - first.pose.pitch);
    Some(ParallaxMeasurement {
        residual_pct: (100.0 * rms / r) as f32,
        rotation_deg: rotation,
        tracks: points.len(),
    })
}

/// At most `max_hops` face frames from `from` to `to` (both included),
/// evenly spaced by index.
fn chain_indices(frames: &[FrameFeatures], from: usize, to: usize, max_hops: usize) -> Vec<usize> {
    let faces: Vec<usize> = (from..=to).filter(|&i| frames[i].face.is_some()).collect();
    let hops = max_hops.max(1);
    if faces.len() <= hops + 1 {
        return faces;
    }
    (0..=hops)
        .map(|k| faces[k * (faces.len() - 1) / hops])
        .collect()
}

/// The frame a step's parallax is measured from: the one closest to the
/// baseline pose between the end of the previous step (or the neutral
/// window's start) and shortly after this step's start.
fn reference_frame(
    frames: &[FrameFeatures],
    trace: &ChallengeTrace,
    step_index: usize,
    neutral_start: u32,
) -> Option<usize> {
    let base = trace.baseline?;
    let step = trace.steps.get(step_index)?.step;
    let from = match step_index.checked_sub(1) {
        Some(k) => trace.steps.get(k)?.step.end_ms,
        None => neutral_start,
    };
    let to = step.start_ms.saturating_add(150);
    frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.t_ms >= from && f.t_ms <= to)
        .filter_map(|(i, f)| {
            let p = f.face.as_ref()?.pose;
            Some((i, (p.yaw - base.yaw).hypot(p.pitch - base.pitch)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
        .or(trace.neutral_frame)
}

/// The turned frame of step `k`: the first frame after `reference` and
/// inside the step's window whose rotation from the reference reaches
/// `target_rotation_deg`, or the peak frame when none does.
fn target_frame(
    frames: &[FrameFeatures],
    trace: &ChallengeTrace,
    k: usize,
    reference: usize,
    cfg: &ParallaxConfig,
) -> Option<usize> {
    let s = trace.steps.get(k)?;
    let peak = s.peak_frame?;
    let base = frames.get(reference)?.face.as_ref()?.pose;
    (reference + 1..=peak)
        .find(|&i| {
            frames[i].t_ms >= s.step.start_ms
                && frames[i].face.as_ref().is_some_and(|f| {
                    (f.pose.yaw - base.yaw).hypot(f.pose.pitch - base.pitch)
                        >= cfg.target_rotation_deg
                })
        })
        .or(Some(peak))
}

/// The per-step measurements of a challenge (steps whose rotation is below
/// `min_rotation_deg`, or that could not be tracked, give `None`).
pub fn measure_steps(
    frames: &[FrameFeatures],
    trace: &ChallengeTrace,
    neutral_start: u32,
    cfg: &ParallaxConfig,
) -> Vec<Option<ParallaxMeasurement>> {
    (0..trace.steps.len())
        .map(|k| {
            let reference = reference_frame(frames, trace, k, neutral_start)?;
            let peak = target_frame(frames, trace, k, reference, cfg)?;
            let (a, b) = (
                frames[reference].face.as_ref()?,
                frames[peak].face.as_ref()?,
            );
            let rotation = (b.pose.yaw - a.pose.yaw).hypot(b.pose.pitch - a.pose.pitch);
            if reference >= peak || rotation < cfg.min_rotation_deg {
                return None;
            }
            let chain: Vec<&FaceFeatures> = chain_indices(frames, reference, peak, cfg.max_hops)
                .into_iter()
                .filter_map(|i| frames[i].face.as_ref())
                .collect();
            measure(&chain, cfg)
        })
        .collect()
}

/// The `parallax` signal: the median residual per degree over the steps
/// that rotated at least `min_rotation_deg`. Pass at or above the threshold,
/// Fail below (flat); not applicable when no step rotated enough; Retry when
/// steps rotated enough but could not be tracked.
pub fn parallax_signal(
    frames: &[FrameFeatures],
    trace: &ChallengeTrace,
    neutral_start: u32,
    cfg: &ParallaxConfig,
) -> SignalResult {
    let threshold = cfg.threshold_pct_per_deg;
    let rotated = trace
        .steps
        .iter()
        .filter(|s| s.peak_deg >= cfg.min_rotation_deg)
        .count();
    let mut values: Vec<f32> = measure_steps(frames, trace, neutral_start, cfg)
        .into_iter()
        .flatten()
        .map(|m| m.per_degree())
        .collect();
    if values.is_empty() {
        return if rotated == 0 {
            SignalResult::not_applicable(NAME, threshold, reasons::ROTATION_TOO_SMALL)
        } else {
            SignalResult::new(
                NAME,
                0.0,
                threshold,
                Verdict::Retry,
                vec![reasons::TRACKING_FAILED],
            )
        };
    }
    values.sort_by(f32::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    if median >= threshold {
        SignalResult::new(NAME, median, threshold, Verdict::Pass, Vec::new())
    } else {
        SignalResult::new(
            NAME,
            median,
            threshold,
            Verdict::Fail,
            vec![reasons::FLAT_SURFACE],
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn grid() -> Vec<(f64, f64)> {
        (0..64)
            .map(|i| {
                (
                    f64::from(i % 8) * 20.0 + 100.0,
                    f64::from(i / 8) * 15.0 + 80.0,
                )
            })
            .collect()
    }

    #[test]
    fn an_exact_homography_is_recovered_with_no_residual() {
        let h: Homography = [[1.1, 0.05, 12.0], [-0.03, 0.95, -7.0], [2e-4, -1e-4, 1.0]];
        let src = grid();
        let dst: Vec<_> = src.iter().map(|&p| apply(&h, p)).collect();
        let fitted = fit_homography(&src, &dst).unwrap();
        for (a, b) in fitted.iter().flatten().zip(h.iter().flatten()) {
            assert!(
                (a - b).abs() < 1e-6 * b.abs().max(1.0),
                "{fitted:?} vs {h:?}"
            );
        }
        assert!(homography_rms(&src, &dst).unwrap() < 1e-6);
    }

    #[test]
    fn out_of_plane_motion_leaves_a_residual() {
        // Points of a bump (a "nose") move more than the plane around them.
        let src = grid();
        let dst: Vec<_> = src
            .iter()
            .map(|&(x, y)| {
                let bump =
                    6.0 * (-(((x - 170.0) / 40.0).powi(2) + ((y - 132.0) / 40.0).powi(2))).exp();
                (x + 5.0 + bump, y)
            })
            .collect();
        let rms = homography_rms(&src, &dst).unwrap();
        assert!(rms > 0.5, "{rms}");
    }

    #[test]
    fn too_few_or_degenerate_points_give_no_fit() {
        assert!(fit_homography(&[(0.0, 0.0); 3], &[(0.0, 0.0); 3]).is_none());
        assert!(fit_homography(&[(1.0, 1.0); 6], &[(2.0, 2.0); 6]).is_none());
    }
}
