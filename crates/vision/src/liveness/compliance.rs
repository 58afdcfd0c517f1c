//! Challenge compliance, the main liveness defence: did the head follow this
//! attempt's random, timed turns, continuously, at a usable frame rate?
//!
//! The baseline pose is the median over the neutral window. For each step,
//! within its window (plus `slack_ms` of reaction time) the rotation relative
//! to the baseline in the asked direction must peak at `min_rotation_deg` or
//! more, must start well below that when the window opens (a turn that was
//! already there, as in a replay, is not a response), and the other axis must
//! not dominate. The sequence must be continuous: a pose or position jump
//! between consecutive frames faster than a head moves, that persists, is a
//! cut between two pictures or recordings (Fail). Too few frames, long gaps
//! or a lost face make the attempt unusable (Retry).
//!
//! Score: the smallest over the steps of peak / `min_rotation_deg` (pass at
//! 1).

use crate::frame::{FrameFeatures, Pose};
use crate::liveness::challenge::{Axis, ChallengeSpec, Step};
use crate::liveness::config::ChallengeConfig;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

pub const NAME: &str = "challenge";

/// What was observed during one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTrace {
    pub step: Step,
    /// Frames inside the window (with slack), and those with a face.
    pub frames: usize,
    pub face_frames: usize,
    /// The frame (index into the frames) of the peak rotation in the asked
    /// direction.
    pub peak_frame: Option<usize>,
    /// Peak rotation in the asked direction, degrees relative to the
    /// baseline (negative when the head never moved that way).
    pub peak_deg: f32,
    /// |rotation| about the other axis at the peak.
    pub cross_deg: f32,
    /// Largest rotation about the other axis anywhere in the window.
    pub max_cross_deg: f32,
    /// Largest rotation in the opposite direction in the window.
    pub opposite_deg: f32,
    /// Rotation in the asked direction when the window opened.
    pub start_deg: f32,
}

/// The challenge as observed: baseline, neutral frame and per-step traces.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeTrace {
    /// Median pose over the neutral window.
    pub baseline: Option<Pose>,
    /// The neutral-window face frame closest to the baseline.
    pub neutral_frame: Option<usize>,
    pub steps: Vec<StepTrace>,
}

/// (yaw, pitch) of `pose` relative to `base`.
fn relative(pose: &Pose, base: &Pose) -> (f32, f32) {
    (pose.yaw - base.yaw, pose.pitch - base.pitch)
}

/// `(along the asked direction, about the other axis)` for a step.
fn components(step: &Step, rel: (f32, f32)) -> (f32, f32) {
    let (axis, sign) = step.direction.axis();
    match axis {
        Axis::Yaw => (sign * rel.0, rel.1),
        Axis::Pitch => (sign * rel.1, rel.0),
    }
}

fn median(mut v: Vec<f32>) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Traces the challenge over `frames` (in capture order).
pub fn trace(
    spec: &ChallengeSpec,
    frames: &[FrameFeatures],
    cfg: &ChallengeConfig,
) -> ChallengeTrace {
    let in_neutral = |f: &&FrameFeatures| f.t_ms >= spec.neutral.0 && f.t_ms < spec.neutral.1;
    let neutral: Vec<&Pose> = frames
        .iter()
        .filter(in_neutral)
        .filter_map(|f| f.face.as_ref().map(|face| &face.pose))
        .collect();
    let baseline = match (
        median(neutral.iter().map(|p| p.yaw).collect()),
        median(neutral.iter().map(|p| p.pitch).collect()),
        median(neutral.iter().map(|p| p.roll).collect()),
    ) {
        (Some(yaw), Some(pitch), Some(roll)) => Some(Pose { yaw, pitch, roll }),
        _ => None,
    };
    let Some(base) = baseline else {
        return ChallengeTrace {
            baseline: None,
            neutral_frame: None,
            steps: Vec::new(),
        };
    };
    let neutral_frame = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| in_neutral(f))
        .filter_map(|(i, f)| {
            let (y, p) = relative(&f.face.as_ref()?.pose, &base);
            Some((i, y.hypot(p)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let steps = spec
        .steps
        .iter()
        .map(|step| {
            let end = step.end_ms.saturating_add(cfg.slack_ms);
            let mut t = StepTrace {
                step: *step,
                frames: 0,
                face_frames: 0,
                peak_frame: None,
                peak_deg: f32::NEG_INFINITY,
                cross_deg: 0.0,
                max_cross_deg: 0.0,
                opposite_deg: 0.0,
                start_deg: 0.0,
            };
            let mut start_seen = false;
            let mut before_start: Option<f32> = None;
            for (i, f) in frames.iter().enumerate() {
                let along_cross = f
                    .face
                    .as_ref()
                    .map(|face| components(step, relative(&face.pose, &base)));
                if f.t_ms < step.start_ms {
                    if let Some((a, _)) = along_cross {
                        before_start = Some(a);
                    }
                    continue;
                }
                if f.t_ms >= end {
                    break;
                }
                t.frames += 1;
                let Some((along, cross)) = along_cross else {
                    continue;
                };
                t.face_frames += 1;
                if f.t_ms < step.start_ms.saturating_add(cfg.start_ms) {
                    t.start_deg = if start_seen {
                        t.start_deg.max(along)
                    } else {
                        along
                    };
                    start_seen = true;
                }
                if along > t.peak_deg {
                    t.peak_deg = along;
                    t.peak_frame = Some(i);
                    t.cross_deg = cross.abs();
                }
                t.max_cross_deg = t.max_cross_deg.max(cross.abs());
                t.opposite_deg = t.opposite_deg.max(-along);
            }
            if !start_seen {
                // No frame in the first milliseconds: the last one before.
                t.start_deg = before_start.unwrap_or(0.0);
            }
            if t.peak_frame.is_none() {
                t.peak_deg = 0.0;
            }
            t
        })
        .collect();
    ChallengeTrace {
        baseline,
        neutral_frame,
        steps,
    }
}

/// Frame count and largest gap over `[0, duration_ms]`.
fn frame_rate_ok(spec: &ChallengeSpec, frames: &[FrameFeatures], cfg: &ChallengeConfig) -> bool {
    let times: Vec<u32> = frames
        .iter()
        .map(|f| f.t_ms)
        .filter(|&t| t <= spec.duration_ms)
        .collect();
    let needed = 0.9 * cfg.min_fps * spec.duration_ms as f32 / 1000.0;
    if (times.len() as f32) < needed.floor() {
        return false;
    }
    let mut previous = 0;
    for &t in times.iter().chain(std::iter::once(&spec.duration_ms)) {
        if t.saturating_sub(previous) > cfg.max_gap_ms {
            return false;
        }
        previous = t;
    }
    true
}

/// Median of three.
fn median3(a: f32, b: f32, c: f32) -> f32 {
    a.max(b).min(a.min(b).max(c))
}

/// Jumps between consecutive face frames larger than a head moves in that
/// time: rotation faster than `max_rotation_speed_deg_s` (and over
/// `min_jump_deg`), or the face centre moving more than
/// `max_jump_face_widths` per 66-ms frame interval. The track (yaw, pitch,
/// centre) is median-filtered over three frames first, so a one-frame
/// landmark glitch disappears while a cut between two pictures, which
/// persists, stays a jump.
pub fn discontinuities(frames: &[FrameFeatures], cfg: &ChallengeConfig) -> usize {
    let track: Vec<(u32, [f32; 4], f32)> = frames
        .iter()
        .filter_map(|f| {
            let face = f.face.as_ref()?;
            let c = face.detection.rect.center();
            Some((
                f.t_ms,
                [face.pose.yaw, face.pose.pitch, c.x, c.y],
                face.detection.rect.width,
            ))
        })
        .collect();
    let n = track.len();
    let filtered: Vec<[f32; 4]> = (0..n)
        .map(|k| {
            if k == 0 || k + 1 == n {
                return track[k].1;
            }
            std::array::from_fn(|c| median3(track[k - 1].1[c], track[k].1[c], track[k + 1].1[c]))
        })
        .collect();
    (1..n)
        .filter(|&k| {
            let (a, b) = (filtered[k - 1], filtered[k]);
            let dt = track[k].0.saturating_sub(track[k - 1].0) as f32 / 1000.0;
            let rotation = (b[0] - a[0]).hypot(b[1] - a[1]);
            let width = track[k].2.max(track[k - 1].2).max(1.0);
            let moved = (b[2] - a[2]).hypot(b[3] - a[3]) / width;
            let rotation_limit = cfg.min_jump_deg.max(cfg.max_rotation_speed_deg_s * dt);
            let position_limit = cfg.max_jump_face_widths * (dt / 0.066).max(1.0);
            rotation > rotation_limit || moved > position_limit
        })
        .count()
}

/// The `challenge` signal.
pub fn challenge_signal(
    spec: &ChallengeSpec,
    frames: &[FrameFeatures],
    trace: &ChallengeTrace,
    cfg: &ChallengeConfig,
) -> SignalResult {
    let threshold = 1.0;
    if spec.problem().is_some() {
        return SignalResult::new(
            NAME,
            0.0,
            threshold,
            Verdict::Retry,
            vec![reasons::CHALLENGE_INVALID],
        );
    }
    if spec.steps.is_empty() {
        return SignalResult::not_applicable(NAME, threshold, reasons::NOT_MEASURED);
    }
    let mut why: Vec<&'static str> = Vec::new();
    let mut add = |r: &'static str| {
        if !why.contains(&r) {
            why.push(r);
        }
    };
    if discontinuities(frames, cfg) > 0 {
        add(reasons::POSE_DISCONTINUITY);
    }
    if !frame_rate_ok(spec, frames, cfg) {
        add(reasons::CAMERA_TOO_SLOW);
    }
    let faces = frames.iter().filter(|f| f.face.is_some()).count();
    if frames.is_empty() || (faces as f32) < cfg.min_face_fraction * frames.len() as f32 {
        add(reasons::FACE_LOST);
    }
    if trace.baseline.is_none() {
        add(reasons::NEUTRAL_NOT_SEEN);
    }
    let required = cfg.min_rotation_deg.max(1e-3);
    let mut score = f32::INFINITY;
    for s in &trace.steps {
        score = score.min(s.peak_deg.max(0.0) / required);
        if s.frames == 0 || (s.face_frames as f32) < cfg.min_face_fraction * s.frames as f32 {
            add(reasons::FACE_LOST);
            continue;
        }
        if s.start_deg >= cfg.start_fraction * required {
            add(reasons::FOLLOW_TIMING);
        }
        if s.peak_deg < required {
            if s.opposite_deg >= required || s.max_cross_deg >= required {
                add(reasons::TURN_WRONG_DIRECTION);
            } else {
                add(reasons::TURN_NOT_DONE);
            }
        } else if s.cross_deg > cfg.max_cross_ratio * s.peak_deg {
            add(reasons::TURN_WRONG_DIRECTION);
        }
    }
    if trace.steps.is_empty() {
        score = 0.0;
    }
    let verdict = if why.contains(&reasons::POSE_DISCONTINUITY) {
        Verdict::Fail
    } else if why.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Retry
    };
    SignalResult::new(NAME, score, threshold, verdict, why)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::detect::Detection;
    use crate::frame::{FaceFeatures, FrameQuality};
    use crate::geometry::{Point, Rect};
    use crate::klt::GreyPatch;
    use crate::liveness::challenge::Direction;

    /// A synthetic face frame at `t` with a pose and a box centre.
    pub(crate) fn face_frame(t_ms: u32, yaw: f32, pitch: f32, cx: f32) -> FrameFeatures {
        FrameFeatures {
            t_ms,
            faces: 1,
            face: Some(FaceFeatures {
                detection: Detection {
                    rect: Rect {
                        x: cx - 100.0,
                        y: 140.0,
                        width: 200.0,
                        height: 200.0,
                    },
                    keypoints: [Point::default(); 6],
                    score: 0.9,
                },
                other_faces: Vec::new(),
                mesh: Vec::new(),
                mesh_presence: 1.0,
                pose: Pose {
                    yaw,
                    pitch,
                    roll: 0.0,
                },
                quality: FrameQuality {
                    interocular_px: 60.0,
                    sharpness: 100.0,
                    brightness: 120.0,
                    clipped: 0.0,
                    surround_brightness: 120.0,
                    surround_saturated: 0.0,
                    visible_fraction: 1.0,
                },
                skin_rgb: [150.0, 110.0, 90.0],
                patch: GreyPatch {
                    side: 0,
                    data: Vec::new(),
                    origin: Point::default(),
                    scale: 1.0,
                },
                passive: None,
                passive_minifasnet: None,
                template: None,
            }),
        }
    }

    pub(crate) fn spec() -> ChallengeSpec {
        ChallengeSpec {
            duration_ms: 5600,
            neutral: (0, 1200),
            steps: vec![
                Step {
                    direction: Direction::Left,
                    start_ms: 1200,
                    end_ms: 3200,
                },
                Step {
                    direction: Direction::Up,
                    start_ms: 3600,
                    end_ms: 5600,
                },
            ],
            flashes: Vec::new(),
        }
    }

    /// A user following `spec`: 15 fps, a smooth 0 → `amplitude` → 0 turn
    /// per step starting `delay` ms into the window, lasting 1.2 s.
    pub(crate) fn follow(spec: &ChallengeSpec, amplitude: f32, delay: u32) -> Vec<FrameFeatures> {
        (0..)
            .map(|i| i * 66)
            .take_while(|&t| t <= spec.duration_ms)
            .map(|t| {
                let (mut yaw, mut pitch) = (1.0f32, -2.0f32);
                for s in &spec.steps {
                    let start = s.start_ms + delay;
                    if t >= start && t < start + 1200 {
                        let phase = (t - start) as f32 / 1200.0 * std::f32::consts::PI;
                        let v = amplitude * phase.sin();
                        let (axis, sign) = s.direction.axis();
                        match axis {
                            Axis::Yaw => yaw += sign * v,
                            Axis::Pitch => pitch += sign * v,
                        }
                    }
                }
                face_frame(t, yaw, pitch, 320.0)
            })
            .collect()
    }

    fn run(spec: &ChallengeSpec, frames: &[FrameFeatures]) -> SignalResult {
        let cfg = ChallengeConfig::default();
        let tr = trace(spec, frames, &cfg);
        challenge_signal(spec, frames, &tr, &cfg)
    }

    #[test]
    fn a_user_who_follows_the_challenge_passes() {
        let spec = spec();
        let r = run(&spec, &follow(&spec, 25.0, 300));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert!((r.score - 25.0 / 15.0).abs() < 0.1, "{r:?}");
    }

    #[test]
    fn a_small_turn_is_a_retry_to_turn_further() {
        let spec = spec();
        let r = run(&spec, &follow(&spec, 8.0, 300));
        assert_eq!(
            (r.verdict, r.reasons.clone()),
            (Verdict::Retry, vec![reasons::TURN_NOT_DONE])
        );
        assert!(r.score < 1.0);
    }

    #[test]
    fn turning_the_wrong_way_is_named() {
        let spec = spec();
        let mut mirrored = spec.clone();
        mirrored.steps[0].direction = Direction::Right;
        let r = run(&spec, &follow(&mirrored, 25.0, 300));
        assert_eq!(r.verdict, Verdict::Retry);
        assert_eq!(r.reasons, vec![reasons::TURN_WRONG_DIRECTION]);
        // Up asked, left done: the other axis dominates.
        let mut sideways = spec.clone();
        sideways.steps[1].direction = Direction::Left;
        let r = run(&spec, &follow(&sideways, 25.0, 300));
        assert_eq!(r.reasons, vec![reasons::TURN_WRONG_DIRECTION]);
    }

    #[test]
    fn a_turn_already_made_when_the_window_opens_does_not_count() {
        let spec = spec();
        // The turn starts 600 ms before each window: a replay out of step.
        let mut early = spec.clone();
        for s in &mut early.steps {
            s.start_ms -= 600;
        }
        let r = run(&spec, &follow(&early, 25.0, 0));
        assert_eq!(r.verdict, Verdict::Retry, "{r:?}");
        assert!(r.reasons.contains(&reasons::FOLLOW_TIMING), "{r:?}");
    }

    #[test]
    fn a_slow_camera_and_a_lost_face_are_retries() {
        let spec = spec();
        let frames: Vec<_> = follow(&spec, 25.0, 300).into_iter().step_by(3).collect();
        let r = run(&spec, &frames);
        assert!(r.reasons.contains(&reasons::CAMERA_TOO_SLOW), "{r:?}");
        let mut frames = follow(&spec, 25.0, 300);
        for f in frames.iter_mut().skip(20).step_by(2) {
            f.face = None;
            f.faces = 0;
        }
        let r = run(&spec, &frames);
        assert_eq!(r.verdict, Verdict::Retry);
        assert!(r.reasons.contains(&reasons::FACE_LOST), "{r:?}");
    }

    #[test]
    fn cutting_between_two_photos_fails_but_a_one_frame_glitch_does_not() {
        let spec = spec();
        // A frontal photo, then a photo turned 25° left, then back: the pose
        // teleports between frames.
        let frames: Vec<_> = follow(&spec, 25.0, 300)
            .into_iter()
            .map(|mut f| {
                let p = &mut f.face.as_mut().unwrap().pose;
                p.yaw = if p.yaw > 13.0 { 26.0 } else { 1.0 };
                f
            })
            .collect();
        let r = run(&spec, &frames);
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        assert!(r.reasons.contains(&reasons::POSE_DISCONTINUITY));
        let mut frames = follow(&spec, 25.0, 300);
        frames[5].face.as_mut().unwrap().pose.yaw = 40.0;
        let r = run(&spec, &frames);
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        // A face that jumps across the picture persistently is a cut too.
        let mut frames = follow(&spec, 25.0, 300);
        for f in frames.iter_mut().skip(40) {
            f.face.as_mut().unwrap().detection.rect.x += 250.0;
        }
        assert_eq!(run(&spec, &frames).verdict, Verdict::Fail);
    }

    #[test]
    fn no_neutral_face_means_no_baseline() {
        let spec = spec();
        let frames: Vec<_> = follow(&spec, 25.0, 300)
            .into_iter()
            .map(|mut f| {
                if f.t_ms < 1200 {
                    f.face = None;
                }
                f
            })
            .collect();
        let r = run(&spec, &frames);
        assert!(r.reasons.contains(&reasons::NEUTRAL_NOT_SEEN), "{r:?}");
        assert_eq!(r.verdict, Verdict::Retry);
    }
}
