//! Screen-flash response: the client lights the face with a random sequence
//! of screen colours; a face in front of that screen reflects them, so its
//! skin chromaticity must follow the sequence (after a display-to-camera lag
//! of 0–`max_lag_ms`). A video injected into the stream, or a replay shown on
//! another device, was not lit by this attempt's sequence.
//!
//! Expected: the chromaticity `rgb / (r + g + b)` of the screen colour shown
//! at `t − lag`, minus white's. Observed: the chromaticity of the mean skin
//! colour ([`crate::frame::FaceFeatures::skin_rgb`]) minus its median over
//! the attempt. Score: the best, over the lags tried, normalised correlation
//! of the two (each channel centred over the frames, the three channels
//! pooled). Pass at or above the threshold, Fail below.

use crate::frame::FrameFeatures;
use crate::liveness::challenge::ChallengeSpec;
use crate::liveness::config::FlashConfig;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

pub const NAME: &str = "flash";

/// Lags are tried in steps of this many milliseconds.
const LAG_STEP_MS: u32 = 33;

/// Chromaticity of an RGB colour (white and black give ⅓, ⅓, ⅓).
pub fn chromaticity(rgb: [f32; 3]) -> [f32; 3] {
    let sum = rgb[0] + rgb[1] + rgb[2];
    if sum <= 1e-3 {
        return [1.0 / 3.0; 3];
    }
    rgb.map(|v| v / sum)
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// The normalised correlation between the expected and the observed
/// chromaticity deviations at `lag_ms`, over `(t_ms, chromaticity)` samples;
/// `None` when the expectation does not vary over the samples.
fn correlation(
    spec: &ChallengeSpec,
    samples: &[(u32, [f32; 3])],
    base: [f32; 3],
    lag_ms: u32,
) -> Option<f32> {
    let expected: Vec<[f32; 3]> = samples
        .iter()
        .map(|&(t, _)| {
            let screen = spec.screen_at(t as f32 - lag_ms as f32);
            chromaticity(screen.map(f32::from)).map(|c| c - 1.0 / 3.0)
        })
        .collect();
    let observed: Vec<[f32; 3]> = samples
        .iter()
        .map(|(_, c)| [c[0] - base[0], c[1] - base[1], c[2] - base[2]])
        .collect();
    let n = samples.len() as f32;
    let (mut dot, mut ee, mut oo) = (0.0f32, 0.0f32, 0.0f32);
    for ch in 0..3 {
        let me = expected.iter().map(|e| e[ch]).sum::<f32>() / n;
        let mo = observed.iter().map(|o| o[ch]).sum::<f32>() / n;
        for (e, o) in expected.iter().zip(&observed) {
            let (e, o) = (e[ch] - me, o[ch] - mo);
            dot += e * o;
            ee += e * e;
            oo += o * o;
        }
    }
    if ee <= 1e-9 {
        return None;
    }
    Some(if oo <= 1e-12 {
        0.0
    } else {
        dot / (ee * oo).sqrt()
    })
}

/// The `flash` signal.
pub fn flash_signal(
    spec: &ChallengeSpec,
    frames: &[FrameFeatures],
    cfg: &FlashConfig,
) -> SignalResult {
    let threshold = cfg.threshold;
    if spec.flashes.is_empty() {
        return SignalResult::not_applicable(NAME, threshold, reasons::NO_FLASHES);
    }
    let samples: Vec<(u32, [f32; 3])> = frames
        .iter()
        .filter_map(|f| Some((f.t_ms, chromaticity(f.face.as_ref()?.skin_rgb))))
        .collect();
    let not_observed = || {
        SignalResult::new(
            NAME,
            0.0,
            threshold,
            Verdict::Retry,
            vec![reasons::FLASH_NOT_OBSERVED],
        )
    };
    let lit = samples
        .iter()
        .filter(|(t, _)| spec.screen_at(*t as f32) != crate::liveness::challenge::WHITE)
        .count();
    if lit < cfg.min_flash_frames || samples.len() < cfg.min_flash_frames + 2 {
        return not_observed();
    }
    let base = [0, 1, 2].map(|ch| median(samples.iter().map(|(_, c)| c[ch]).collect()));
    let best = (0..=cfg.max_lag_ms / LAG_STEP_MS)
        .filter_map(|k| correlation(spec, &samples, base, k * LAG_STEP_MS))
        .fold(f32::NEG_INFINITY, f32::max);
    if !best.is_finite() {
        return not_observed();
    }
    if best >= threshold {
        SignalResult::new(NAME, best, threshold, Verdict::Pass, Vec::new())
    } else {
        SignalResult::new(
            NAME,
            best,
            threshold,
            if cfg.fail_on_mismatch {
                Verdict::Fail
            } else {
                Verdict::Retry
            },
            vec![reasons::FLASH_NOT_FOLLOWED],
        )
    }
}

/// The colour cast a flash of `screen` adds to a lit face, as the documented
/// simulation of the tests and of `facegate eval liveness` models it: each
/// channel scaled by `1 − strength + strength · screen / 255`, so a white
/// screen changes nothing and a red one keeps red and dims green and blue by
/// `strength`.
pub fn cast_gain(screen: [u8; 3], strength: f32) -> [f32; 3] {
    screen.map(|c| 1.0 - strength + strength * f32::from(c) / 255.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::liveness::compliance::tests::face_frame;

    /// Frames at 15 fps whose skin is lit by `lit_by`'s flashes, `lag` ms late,
    /// plus a slow drift and a deterministic jitter (head motion, noise).
    fn frames(
        spec: &ChallengeSpec,
        lit_by: &ChallengeSpec,
        lag: u32,
        strength: f32,
    ) -> Vec<FrameFeatures> {
        (0..)
            .map(|i| i * 66)
            .take_while(|&t| t <= spec.duration_ms)
            .map(|t| {
                let mut f = face_frame(t, 0.0, 0.0, 320.0);
                let gain = cast_gain(lit_by.screen_at(t as f32 - lag as f32), strength);
                let drift = 1.0 + 0.02 * (t as f32 / 1500.0).sin();
                let jitter = ((t * 7919) % 13) as f32 / 13.0 - 0.5;
                let skin = [150.0, 110.0, 90.0];
                f.face.as_mut().unwrap().skin_rgb =
                    [0, 1, 2].map(|c| skin[c] * gain[c] * drift + 2.0 * jitter);
                f
            })
            .collect()
    }

    #[test]
    fn a_face_lit_by_the_flashes_follows_them_and_a_replay_does_not() {
        let cfg = FlashConfig {
            fail_on_mismatch: true,
            ..FlashConfig::default()
        };
        let spec = ChallengeSpec::from_seed(11, true);
        let live = flash_signal(&spec, &frames(&spec, &spec, 100, 0.1), &cfg);
        assert_eq!(live.verdict, Verdict::Pass, "{live:?}");
        assert!(live.score > 0.8, "{live:?}");
        let mut failed = 0;
        for seed in 100..120 {
            let other = ChallengeSpec::from_seed(seed, true);
            let replay = flash_signal(&spec, &frames(&spec, &other, 100, 0.1), &cfg);
            if replay.verdict == Verdict::Fail {
                failed += 1;
            }
        }
        assert!(failed >= 18, "only {failed}/20 replays failed");
        // An unlit face (a screen that shows no flash) fails.
        let unlit = flash_signal(&spec, &frames(&spec, &spec, 0, 0.0), &cfg);
        assert_eq!(unlit.verdict, Verdict::Fail, "{unlit:?}");
        // By default a mismatch asks for a retry, which never passes.
        let unlit = flash_signal(
            &spec,
            &frames(&spec, &spec, 0, 0.0),
            &FlashConfig::default(),
        );
        assert_eq!(unlit.verdict, Verdict::Retry, "{unlit:?}");
        assert_eq!(unlit.reasons, vec![reasons::FLASH_NOT_FOLLOWED]);
    }

    #[test]
    fn no_flashes_is_not_applicable_and_no_face_is_a_retry() {
        let cfg = FlashConfig::default();
        let spec = ChallengeSpec::from_seed(3, false);
        assert_eq!(
            flash_signal(&spec, &[], &cfg).verdict,
            Verdict::NotApplicable
        );
        let spec = ChallengeSpec::from_seed(3, true);
        let r = flash_signal(&spec, &[], &cfg);
        assert_eq!(
            (r.verdict, r.reasons),
            (Verdict::Retry, vec![reasons::FLASH_NOT_OBSERVED])
        );
    }

    #[test]
    fn a_white_flash_changes_nothing() {
        assert_eq!(cast_gain([255, 255, 255], 0.3), [1.0; 3]);
        let red = cast_gain([255, 0, 0], 0.2);
        assert!((red[0] - 1.0).abs() < 1e-6 && (red[1] - 0.8).abs() < 1e-6);
    }
}
