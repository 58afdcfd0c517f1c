//! The `passive` signal: two independently trained print/screen classifiers,
//! fr-liveness and the Silent-Face MiniFASNet pair (computed per frame by the
//! frame analyser with [`crate::antispoof`]), fused per frame and averaged
//! over the frames the quality [`gate`](super::gate) lets vote.
//!
//! **Fusion** (fixed from the shared data, `docs/liveness.md`): a frame's
//! score is the higher of the two models' P(live) ([`Fusion::Max`]; the mean
//! is the alternative `facegate eval liveness` reports beside it). On the
//! shared data each model alone keeps every attack unit below 0.5 (APCER 0,
//! the highest attack unit at 0.36), but each has its own false rejections
//! of live faces, and they hardly overlap: fr-liveness doubts backlit faces
//! (as on the unseen backlit webcams), MiniFASNet turned heads, low
//! resolution and dark faces. Fused by the maximum, a live face needs one
//! convinced model; an attack must fool one of two independently trained
//! models, and still faces the challenge, the flashes and identity.
//! MiniFASNet is pose-sensitive (shared conversion notes: its misses are the
//! turned-head windows), so on a frame turned more than
//! [`PassiveConfig::minifasnet_max_turn_deg`] the frame's score is
//! fr-liveness's alone. The threshold is 0.5, both models' natural one.
//!
//! **Gate**: when at least half of the measured frames pass the gate, the
//! mean over those decides (`FAIL` below the threshold). When most are held
//! back, the attempt passes only if every measured frame's mean and the
//! accepted frames' mean clear the threshold (what the signal would have
//! decided without a gate); otherwise it asks for a retry with the gate's
//! most frequent reasons. So the gate only ever turns a `FAIL` into a
//! `RETRY`.

use crate::frame::{FaceFeatures, FrameFeatures};
use crate::liveness::config::{Fusion, PassiveConfig};
use crate::liveness::gate::gate;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

pub const NAME: &str = "passive";
/// The fr-liveness model alone (reported, does not vote).
pub const FR_LIVENESS: &str = "passive-fr-liveness";
/// The MiniFASNet pair alone (reported, does not vote).
pub const MINIFASNET: &str = "passive-minifasnet";

/// One measured frame: its fused score and the gate's reason, if any.
struct Measured {
    fused: f32,
    held: Option<&'static str>,
}

/// The frame's fused P(live): both models by [`PassiveConfig::fusion`], or
/// fr-liveness alone on a turned face or when the pair was not run.
pub fn fused_score(face: &FaceFeatures, config: &PassiveConfig) -> Option<f32> {
    let fr = face.passive?;
    let turn = face.pose.yaw.abs().max(face.pose.pitch.abs());
    Some(match face.passive_minifasnet {
        Some(mf) if config.minifasnet && turn <= config.minifasnet_max_turn_deg => {
            match config.fusion {
                Fusion::Max => fr.max(mf),
                Fusion::Mean => (fr + mf) / 2.0,
            }
        }
        _ => fr,
    })
}

fn mean(v: impl Iterator<Item = f32>) -> Option<f32> {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f32)
}

/// The `passive` signal (see the module documentation).
pub fn passive_signal(frames: &[FrameFeatures], config: &PassiveConfig) -> SignalResult {
    let threshold = config.threshold;
    let measured: Vec<Measured> = frames
        .iter()
        .filter_map(|f| {
            let face = f.face.as_ref()?;
            Some(Measured {
                fused: fused_score(face, config)?,
                held: gate(&face.quality, &config.gate),
            })
        })
        .collect();
    let Some(all) = mean(measured.iter().map(|m| m.fused)) else {
        return SignalResult::not_applicable(NAME, threshold, reasons::NOT_MEASURED);
    };
    let accepted = mean(
        measured
            .iter()
            .filter(|m| m.held.is_none())
            .map(|m| m.fused),
    );
    let n_accepted = measured.iter().filter(|m| m.held.is_none()).count();
    if 2 * n_accepted >= measured.len() {
        let score = accepted.unwrap_or(all);
        return if score >= threshold {
            SignalResult::new(NAME, score, threshold, Verdict::Pass, Vec::new())
        } else {
            SignalResult::new(
                NAME,
                score,
                threshold,
                Verdict::Fail,
                vec![reasons::PASSIVE_SPOOF],
            )
        };
    }
    if all >= threshold && accepted.is_none_or(|a| a >= threshold) {
        return SignalResult::new(NAME, all, threshold, Verdict::Pass, Vec::new());
    }
    // Most frames held back: the gate's reasons, most frequent first.
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for reason in measured.iter().filter_map(|m| m.held) {
        match counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((reason, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    SignalResult::new(
        NAME,
        all,
        threshold,
        Verdict::Retry,
        counts.into_iter().map(|(r, _)| r).collect(),
    )
}

/// One model's mean P(live) over every frame it ran on, against the same
/// threshold, reported beside the fused signal (does not vote).
fn model_signal(
    name: &'static str,
    frames: &[FrameFeatures],
    threshold: f32,
    score: impl Fn(&FaceFeatures) -> Option<f32>,
) -> SignalResult {
    let mut signal = match mean(frames.iter().filter_map(|f| score(f.face.as_ref()?))) {
        None => SignalResult::not_applicable(name, threshold, reasons::NOT_MEASURED),
        Some(m) if m >= threshold => SignalResult::new(name, m, threshold, Verdict::Pass, vec![]),
        Some(m) => SignalResult::new(
            name,
            m,
            threshold,
            Verdict::Fail,
            vec![reasons::PASSIVE_SPOOF],
        ),
    };
    signal.votes = false;
    signal
}

/// The fused `passive` signal, then each model's own (reported, not voting).
pub fn passive_signals(frames: &[FrameFeatures], config: &PassiveConfig) -> Vec<SignalResult> {
    vec![
        passive_signal(frames, config),
        model_signal(FR_LIVENESS, frames, config.threshold, |f| f.passive),
        model_signal(MINIFASNET, frames, config.threshold, |f| {
            f.passive_minifasnet
        }),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::liveness::compliance::tests::face_frame;

    /// Frames with the given (fr-liveness, MiniFASNet) scores and face
    /// brightness / surroundings.
    fn frames(scores: &[(f32, f32)], face: f32, surround: f32) -> Vec<FrameFeatures> {
        scores
            .iter()
            .enumerate()
            .map(|(i, &(fr, mf))| {
                let mut f = face_frame(i as u32 * 200, 0.0, 0.0, 320.0);
                let x = f.face.as_mut().unwrap();
                x.passive = Some(fr);
                x.passive_minifasnet = Some(mf);
                x.quality.brightness = face;
                x.quality.surround_brightness = surround;
                f
            })
            .collect()
    }

    #[test]
    fn the_fused_score_is_the_higher_model_on_a_frontal_face() {
        let cfg = PassiveConfig::default();
        let f = frames(&[(0.3, 0.9)], 130.0, 120.0);
        let s = passive_signal(&f, &cfg);
        assert!((s.score - 0.9).abs() < 1e-6);
        assert_eq!(s.verdict, Verdict::Pass);
        let mean = PassiveConfig {
            fusion: Fusion::Mean,
            ..cfg
        };
        assert!((passive_signal(&f, &mean).score - 0.6).abs() < 1e-6);
        // Turned: fr-liveness alone.
        let mut turned = f.clone();
        turned[0].face.as_mut().unwrap().pose.yaw = 30.0;
        let s = passive_signal(&turned, &cfg);
        assert!((s.score - 0.3).abs() < 1e-6);
        assert_eq!(s.verdict, Verdict::Fail);
        assert_eq!(s.reasons, vec![reasons::PASSIVE_SPOOF]);
    }

    #[test]
    fn a_spoof_in_good_light_fails_and_each_model_is_reported() {
        let signals = passive_signals(
            &frames(&[(0.1, 0.2), (0.05, 0.3)], 130.0, 120.0),
            &PassiveConfig::default(),
        );
        assert_eq!(signals[0].verdict, Verdict::Fail);
        assert!(signals[0].votes);
        assert_eq!(
            signals.iter().map(|s| s.name).collect::<Vec<_>>(),
            vec![NAME, FR_LIVENESS, MINIFASNET]
        );
        assert!(!signals[1].votes && !signals[2].votes);
        assert!((signals[2].score - 0.25).abs() < 1e-6);
    }

    #[test]
    fn a_backlit_face_the_models_doubt_is_a_retry_never_a_fail() {
        let backlit = frames(&[(0.2, 0.3), (0.25, 0.2), (0.3, 0.1)], 70.0, 210.0);
        let s = passive_signal(&backlit, &PassiveConfig::default());
        assert_eq!(s.verdict, Verdict::Retry);
        assert_eq!(s.reasons, vec![reasons::BACKLIT]);
        // The same frames in good light are a spoof.
        let lit = frames(&[(0.2, 0.3), (0.25, 0.2), (0.3, 0.1)], 130.0, 120.0);
        assert_eq!(
            passive_signal(&lit, &PassiveConfig::default()).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn the_gate_never_turns_a_fail_into_a_pass() {
        let cfg = PassiveConfig::default();
        // Backlit frames the models call live pass, as without a gate.
        let live = frames(&[(0.9, 0.8), (0.7, 0.9), (0.8, 0.8)], 70.0, 210.0);
        assert_eq!(passive_signal(&live, &cfg).verdict, Verdict::Pass);
        // One accepted frame that looks like a spoof holds a mostly gated
        // attempt back from passing.
        let mut mixed = frames(&[(0.9, 0.9), (0.9, 0.9), (0.9, 0.9)], 70.0, 210.0);
        mixed.extend(frames(&[(0.05, 0.05)], 130.0, 120.0));
        let s = passive_signal(&mixed, &cfg);
        assert_eq!(s.verdict, Verdict::Retry);
        // With the gate off the same frames pass or fail on the mean alone;
        // with it, nothing passes that the plain mean would fail.
        for (fr, face, surround) in [(0.4, 70.0, 210.0), (0.45, 30.0, 30.0), (0.3, 130.0, 120.0)] {
            let f = frames(&[(fr, fr); 4], face, surround);
            assert_ne!(passive_signal(&f, &cfg).verdict, Verdict::Pass);
        }
    }

    #[test]
    fn without_a_measured_frame_the_signal_is_not_applicable() {
        let mut f = frames(&[(0.9, 0.9)], 130.0, 120.0);
        f[0].face.as_mut().unwrap().passive = None;
        let s = passive_signal(&f, &PassiveConfig::default());
        assert_eq!(s.verdict, Verdict::NotApplicable);
    }
}
