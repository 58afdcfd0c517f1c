//! Identity consistency and capture quality: one person throughout the
//! attempt (every sampled template matches the best frame's), one face in
//! the picture, and a face large and bright enough to compare. A different
//! person is an attack (Fail). A second face in view (a bystander, a phone or
//! a photo held up beside the user) is reported as `MULTIPLE_FACES` and the
//! attempt retried (guidance `ONE_FACE_ONLY`): it never passes, and a real
//! user with someone walking behind can try again. A missing, small or dark
//! face is a capture the user can fix (Retry).

use crate::embed::similarity_fn;
use crate::frame::FrameFeatures;
use crate::liveness::config::IdentityConfig;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

pub const NAME: &str = "identity";

/// Frames within this many degrees of frontal (|yaw| and |pitch|) are
/// preferred as the best frame.
const FRONTAL_DEG: f32 = 10.0;

/// The best face frame: one with a template, frontal (within 10°) if any,
/// then the sharpest; without a frontal one, the least turned.
pub fn best_frame(frames: &[FrameFeatures]) -> Option<usize> {
    best_frames(frames).into_iter().next()
}

/// Templates a facemap holds at most: the best frame's and two more.
pub const FACEMAP_TEMPLATES: usize = 3;
/// The frames of a facemap's templates lie at least this far apart (ms).
pub const FACEMAP_FRAME_GAP_MS: u32 = 500;

/// The frames an enrollment's facemap is issued with: `best` (the decision's
/// best frame), then the next frames in [`best_frames`]' order that lie at
/// least [`FACEMAP_FRAME_GAP_MS`] from every one taken, up to
/// [`FACEMAP_TEMPLATES`]. Several views of the face make the facemap match
/// more of its owner's later captures (docs/face-engine.md: two templates,
/// matched by their mean, measured on LFW).
pub fn facemap_frames(frames: &[FrameFeatures], best: Option<usize>) -> Vec<usize> {
    let Some(best) = best.filter(|&i| i < frames.len()) else {
        return Vec::new();
    };
    let mut out = vec![best];
    for i in best_frames(frames) {
        if out.len() >= FACEMAP_TEMPLATES {
            break;
        }
        let t = frames[i].t_ms;
        if out
            .iter()
            .all(|&j| t.abs_diff(frames[j].t_ms) >= FACEMAP_FRAME_GAP_MS)
        {
            out.push(i);
        }
    }
    out
}

/// Every frame with a template, best first by [`best_frame`]'s order
/// (frontal ones by sharpness, then the others by how little they turn).
pub fn best_frames(frames: &[FrameFeatures]) -> Vec<usize> {
    let mut ranked: Vec<(usize, f32, f32)> = frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let face = f.face.as_ref()?;
            face.template.as_ref()?;
            let turn = face.pose.yaw.abs().max(face.pose.pitch.abs());
            Some((i, turn, face.quality.sharpness))
        })
        .collect();
    let frontal = |t: f32| t <= FRONTAL_DEG;
    // Best first; among equals the later frame, as `max_by` picked before.
    ranked.sort_by(|a, b| {
        frontal(b.1)
            .cmp(&frontal(a.1))
            .then_with(|| {
                if frontal(a.1) {
                    b.2.total_cmp(&a.2)
                } else {
                    a.1.total_cmp(&b.1)
                }
            })
            .then_with(|| b.0.cmp(&a.0))
    });
    ranked.into_iter().map(|(i, _, _)| i).collect()
}

/// The `identity` signal. Score: the lowest similarity of a sampled template
/// to the best frame's (1 when only one template was taken).
pub fn identity_signal(
    frames: &[FrameFeatures],
    best: Option<usize>,
    cfg: &IdentityConfig,
) -> SignalResult {
    let threshold = cfg.min_similarity;
    let face_frames: Vec<_> = frames.iter().filter_map(|f| f.face.as_ref()).collect();
    let not_found = || {
        SignalResult::new(
            NAME,
            0.0,
            threshold,
            Verdict::Retry,
            vec![reasons::FACE_NOT_FOUND],
        )
    };
    let enough_faces = !frames.is_empty()
        && (face_frames.len() as f32) >= cfg.min_face_fraction * frames.len() as f32;
    let Some(best_face) = best
        .filter(|_| enough_faces)
        .and_then(|i| frames.get(i)?.face.as_ref())
    else {
        return not_found();
    };
    let Some(reference) = best_face.template.as_ref() else {
        return not_found();
    };
    let mut retry = Vec::new();
    let multi = face_frames
        .iter()
        .filter(|face| {
            let area = face.detection.rect.area();
            face.other_faces
                .iter()
                .any(|r| r.area() >= cfg.other_face_min_area * area)
        })
        .count();
    if multi as f32 > cfg.max_multi_face_fraction * face_frames.len() as f32 {
        retry.push(reasons::MULTIPLE_FACES);
    }
    let score_fn = similarity_fn(reference.model);
    let mut lowest = 1.0f32;
    for face in &face_frames {
        let Some(t) = face.template.as_ref() else {
            continue;
        };
        if face.pose.yaw.abs().max(face.pose.pitch.abs()) > cfg.max_compare_deg {
            continue;
        }
        let s = match score_fn {
            Some(f) if t.model == reference.model => f(&t.vector, &reference.vector),
            // Templates of another model cannot be compared: treat as a change.
            _ => f32::NEG_INFINITY,
        };
        lowest = lowest.min(s);
    }
    if lowest < threshold {
        return SignalResult::new(
            NAME,
            lowest,
            threshold,
            Verdict::Fail,
            vec![reasons::IDENTITY_CHANGED],
        );
    }
    let mut interocular: Vec<f32> = face_frames
        .iter()
        .map(|f| f.quality.interocular_px)
        .collect();
    interocular.sort_by(f32::total_cmp);
    if interocular[interocular.len() / 2] < cfg.min_interocular_px {
        retry.push(reasons::MOVE_CLOSER);
    }
    if best_face.quality.brightness < cfg.min_brightness {
        retry.push(reasons::MORE_LIGHT);
    }
    let verdict = if retry.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Retry
    };
    SignalResult::new(NAME, lowest, threshold, verdict, retry)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::embed::Template;
    use crate::geometry::Rect;
    use crate::liveness::compliance::tests::face_frame;

    fn with_template(mut f: FrameFeatures, v: Vec<f32>) -> FrameFeatures {
        f.face.as_mut().unwrap().template = Some(Template {
            model: crate::embed::FrFeature::INT8_MODEL_ID,
            vector: v,
        });
        f
    }

    fn frames() -> Vec<FrameFeatures> {
        (0..30)
            .map(|i| {
                let f = face_frame(i * 66, (i as f32 - 10.0) * 2.0, 0.0, 320.0);
                if i % 5 == 0 {
                    with_template(f, vec![1.0, 0.1 * i as f32 / 30.0, 0.0])
                } else {
                    f
                }
            })
            .collect()
    }

    #[test]
    fn one_person_passes_and_the_best_frame_is_frontal() {
        let mut frames = frames();
        // Frames 5, 10 and 15 are within 10° of frontal; 10 is the sharpest.
        frames[10].face.as_mut().unwrap().quality.sharpness = 200.0;
        frames[25].face.as_mut().unwrap().quality.sharpness = 900.0;
        let best = best_frame(&frames);
        assert_eq!(best, Some(10));
        let r = identity_signal(&frames, best, &IdentityConfig::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert!(r.score > 0.99);
    }

    #[test]
    fn templates_of_strongly_turned_frames_are_not_compared() {
        let mut frames = frames();
        // Frame 25 (30°) is compared; a 45° frame with a low score is not.
        frames[25] = with_template(frames[25].clone(), vec![1.0, 0.0, 0.0]);
        frames[29].face.as_mut().unwrap().pose.yaw = 45.0;
        frames[29] = with_template(frames[29].clone(), vec![0.3, 1.0, 0.0]);
        let best = best_frame(&frames);
        let r = identity_signal(&frames, best, &IdentityConfig::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        frames[29].face.as_mut().unwrap().pose.yaw = 25.0;
        let r = identity_signal(&frames, best, &IdentityConfig::default());
        assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
        assert_eq!(r.reasons, vec![reasons::IDENTITY_CHANGED]);
    }

    #[test]
    fn another_person_fails_and_a_second_face_is_retried() {
        let mut frames = frames();
        frames[20] = with_template(frames[20].clone(), vec![0.0, 0.0, 1.0]);
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(
            (r.verdict, r.reasons[0]),
            (Verdict::Fail, reasons::IDENTITY_CHANGED)
        );
        let mut frames = self::frames();
        for f in frames.iter_mut().step_by(3) {
            f.face.as_mut().unwrap().other_faces.push(Rect {
                x: 0.0,
                y: 0.0,
                width: 150.0,
                height: 150.0,
            });
        }
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(
            (r.verdict, r.reasons.clone()),
            (Verdict::Retry, vec![reasons::MULTIPLE_FACES])
        );
        // A phone held beside the user: a face a third as wide still counts.
        let mut frames = self::frames();
        for f in &mut frames {
            let side = f.face.as_ref().unwrap().detection.rect.width / 3.0;
            f.face.as_mut().unwrap().other_faces.push(Rect {
                x: 0.0,
                y: 0.0,
                width: side,
                height: side,
            });
        }
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(r.reasons, vec![reasons::MULTIPLE_FACES]);
        // A small face far behind does not count.
        let mut frames = self::frames();
        for f in &mut frames {
            f.face.as_mut().unwrap().other_faces.push(Rect {
                x: 0.0,
                y: 0.0,
                width: 20.0,
                height: 20.0,
            });
        }
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    }

    #[test]
    fn a_facemap_takes_the_best_frame_and_sharp_frontal_frames_apart_in_time() {
        let mut frames = frames();
        for (i, f) in frames.iter_mut().enumerate() {
            let face = f.face.as_mut().unwrap();
            face.quality.sharpness = 100.0 + i as f32;
            if i % 5 == 0 {
                face.template = Some(Template {
                    model: crate::embed::FrFeature::INT8_MODEL_ID,
                    vector: vec![1.0, 0.0, 0.0],
                });
            }
        }
        let best = best_frame(&frames);
        let chosen = facemap_frames(&frames, best);
        assert_eq!(chosen.len(), FACEMAP_TEMPLATES);
        assert_eq!(Some(chosen[0]), best);
        for (k, &a) in chosen.iter().enumerate() {
            assert!(frames[a].face.as_ref().unwrap().template.is_some());
            for &b in &chosen[k + 1..] {
                assert!(frames[a].t_ms.abs_diff(frames[b].t_ms) >= FACEMAP_FRAME_GAP_MS);
            }
        }
        assert!(facemap_frames(&frames, None).is_empty());
    }

    #[test]
    fn missing_small_or_dark_faces_are_retries() {
        let mut frames = frames();
        for f in frames.iter_mut().skip(5) {
            f.face = None;
        }
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(
            (r.verdict, r.reasons),
            (Verdict::Retry, vec![reasons::FACE_NOT_FOUND])
        );
        let mut frames = self::frames();
        for f in &mut frames {
            let q = &mut f.face.as_mut().unwrap().quality;
            q.interocular_px = 20.0;
            q.brightness = 30.0;
        }
        let r = identity_signal(&frames, best_frame(&frames), &IdentityConfig::default());
        assert_eq!(
            (r.verdict, r.reasons),
            (
                Verdict::Retry,
                vec![reasons::MOVE_CLOSER, reasons::MORE_LIGHT]
            )
        );
    }
}
