//! The liveness decision of one attempt: every signal over the analysed
//! frames, combined so that any evidence of an attack fails the attempt, any
//! missing evidence asks for a retry, and only a clean set passes.

use serde::Serialize;

use crate::frame::FrameFeatures;
use crate::liveness::challenge::ChallengeSpec;
use crate::liveness::compliance::{challenge_signal, trace};
use crate::liveness::config::LivenessConfig;
use crate::liveness::flash::flash_signal;
use crate::liveness::identity::{best_frame, identity_signal};
use crate::liveness::parallax::parallax_signal;
use crate::liveness::passive::passive_signals;
use crate::liveness::signal::{SignalResult, Verdict};

/// The decision of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessDecision {
    /// Fail if any signal failed; else Retry if any asked for one; else Pass.
    pub verdict: Verdict,
    /// The weakest measured signal's score / threshold (≥ 1 when every
    /// measured signal cleared its threshold; 0 when none was measured).
    /// For logs and monitoring only: the verdict is the decision.
    pub score: f32,
    /// Every signal, in a fixed order: passive, challenge, parallax, flash,
    /// identity, then each passive model alone (`passive-fr-liveness`,
    /// `passive-minifasnet`; reported, not voting).
    pub signals: Vec<SignalResult>,
    /// The frame to compare with the enrolled template (frontal, sharp, with
    /// a template), an index into the frames.
    pub best_frame: Option<usize>,
}

impl LivenessDecision {
    /// Every reason code of every signal, in signal order, without repeats
    /// (what the server turns into user guidance).
    pub fn reasons(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for r in self
            .signals
            .iter()
            .filter(|s| s.votes)
            .flat_map(|s| &s.reasons)
        {
            if !out.contains(r) {
                out.push(r);
            }
        }
        out
    }

    pub fn signal(&self, name: &str) -> Option<&SignalResult> {
        self.signals.iter().find(|s| s.name == name)
    }
}

/// Combines signal verdicts: any Fail → Fail; else any Retry → Retry; else
/// Pass (not-applicable signals do not vote; with no measured signal at all
/// the attempt is a Retry).
pub fn combine(signals: &[SignalResult]) -> Verdict {
    let any = |v: Verdict| signals.iter().any(|s| s.votes && s.verdict == v);
    if any(Verdict::Fail) {
        Verdict::Fail
    } else if any(Verdict::Retry) || !any(Verdict::Pass) {
        Verdict::Retry
    } else {
        Verdict::Pass
    }
}

/// Decides one attempt from its analysed frames (in capture order). Runs in a
/// few milliseconds: the per-frame work was done by
/// [`crate::frame::FrameAnalyzer`] as frames arrived; only the texture
/// tracking of a few frame pairs happens here.
pub fn decide(
    spec: &ChallengeSpec,
    frames: &[FrameFeatures],
    config: &LivenessConfig,
) -> LivenessDecision {
    let tr = trace(spec, frames, &config.challenge);
    let best = best_frame(frames);
    let mut parallax = parallax_signal(frames, &tr, spec.neutral.0, &config.parallax);
    parallax.votes = config.parallax.enforce;
    let mut passive = passive_signals(frames, &config.passive);
    let models = passive.split_off(1);
    let mut signals = passive;
    signals.extend([
        challenge_signal(spec, frames, &tr, &config.challenge),
        parallax,
        flash_signal(spec, frames, &config.flash),
        identity_signal(frames, best, &config.identity),
    ]);
    // Each passive model alone, reported after the voting signals.
    signals.extend(models);
    let measured: Vec<f32> = signals
        .iter()
        .filter(|s| s.votes && s.verdict != Verdict::NotApplicable && s.threshold > 0.0)
        .map(|s| s.score / s.threshold)
        .collect();
    let score = if measured.is_empty() {
        0.0
    } else {
        measured.iter().copied().fold(f32::INFINITY, f32::min)
    };
    LivenessDecision {
        verdict: combine(&signals),
        score,
        signals,
        best_frame: best,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::embed::Template;
    use crate::liveness::compliance::tests::{follow, spec};
    use crate::liveness::signal::reasons;

    fn signal(name: &'static str, verdict: Verdict) -> SignalResult {
        SignalResult::new(name, 1.0, 1.0, verdict, Vec::new())
    }

    #[test]
    fn a_signal_that_does_not_vote_is_reported_but_does_not_decide() {
        use Verdict::*;
        let mut advisory = signal("parallax", Fail);
        advisory.votes = false;
        assert_eq!(combine(&[signal("a", Pass), advisory.clone()]), Pass);
        assert_eq!(combine(&[advisory]), Retry);
    }

    #[test]
    fn any_fail_fails_then_any_retry_retries() {
        use Verdict::*;
        assert_eq!(
            combine(&[signal("a", Pass), signal("b", Fail), signal("c", Retry)]),
            Fail
        );
        assert_eq!(combine(&[signal("a", Pass), signal("b", Retry)]), Retry);
        assert_eq!(
            combine(&[signal("a", Pass), signal("b", NotApplicable)]),
            Pass
        );
        assert_eq!(combine(&[signal("a", NotApplicable)]), Retry);
    }

    #[test]
    fn a_synthetic_compliant_attempt_passes_the_signals_it_can_measure() {
        let spec = spec();
        let mut frames = follow(&spec, 25.0, 300);
        for (i, f) in frames.iter_mut().enumerate() {
            let face = f.face.as_mut().unwrap();
            face.passive = Some(0.98);
            if i % 5 == 0 {
                face.template = Some(Template {
                    model: crate::embed::FrFeature::INT8_MODEL_ID,
                    vector: vec![1.0, 0.0],
                });
            }
        }
        let d = decide(&spec, &frames, &LivenessConfig::default());
        // The synthetic frames carry no texture: parallax cannot track.
        assert_eq!(
            d.signal("parallax").unwrap().reasons,
            vec![reasons::TRACKING_FAILED]
        );
        // Parallax does not vote by default (ParallaxConfig::enforce): the
        // measured signals decide.
        assert!(!d.signal("parallax").unwrap().votes);
        assert_eq!(d.verdict, Verdict::Pass);
        let enforced = LivenessConfig {
            parallax: crate::liveness::config::ParallaxConfig {
                enforce: true,
                ..Default::default()
            },
            ..LivenessConfig::default()
        };
        assert_eq!(decide(&spec, &frames, &enforced).verdict, Verdict::Retry);
        for name in ["passive", "challenge", "identity"] {
            assert_eq!(
                d.signal(name).unwrap().verdict,
                Verdict::Pass,
                "{name}: {d:?}"
            );
        }
        assert_eq!(d.signal("flash").unwrap().verdict, Verdict::NotApplicable);
        assert!(d.best_frame.is_some());
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["signals"][0]["name"], "passive");
        assert_eq!(json["verdict"], "PASS");
    }
}
