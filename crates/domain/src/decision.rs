//! The decision of one capture attempt: what liveness and the 1:1 match
//! found becomes `PASSED`, `FAILED`, `RETRY` or `INVALID`, the guidance the
//! user sees before a retry, and the record the customer retrieves.
//!
//! The face engine measures (signals, scores, the similarity and the
//! threshold of its calibrated operating point); this module decides. It is
//! the only place that turns findings into an outcome.

use serde::{Deserialize, Serialize};

use crate::capture::{attempt_outcome, AttemptOutcome, Evidence};

/// What one liveness signal, or the whole liveness decision, concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LivenessVerdict {
    /// Evidence of a live, compliant person.
    Pass,
    /// Evidence of an attack (print, screen, replay, another person).
    Fail,
    /// Not enough evidence; the user may try again.
    Retry,
    /// Not measured.
    NotApplicable,
}

/// One liveness signal as reported to the customer. Field order is the
/// order of the stored JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalRecord {
    /// Stable signal name (`passive`, `challenge`, `parallax`, `flash`,
    /// `identity`).
    pub name: String,
    /// Stable reason codes, most important first.
    pub reasons: Vec<String>,
    /// The measured score, in the signal's own unit.
    pub score: f32,
    /// The threshold the score was compared with.
    pub threshold: f32,
    pub verdict: LivenessVerdict,
    /// Whether the verdict counts in the decision.
    pub votes: bool,
}

/// The liveness decision as reported to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LivenessRecord {
    /// Every reason code of every voting signal, without repeats.
    pub reasons: Vec<String>,
    /// The weakest measured signal's score / threshold (monitoring only).
    pub score: f32,
    pub signals: Vec<SignalRecord>,
    pub verdict: LivenessVerdict,
}

/// The 1:1 comparison of the best live frame with the facemap's templates,
/// at the calibrated operating point of the facemap's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SimilarityRecord {
    /// The calibration's estimate of the false match rate at this score.
    pub estimated_fmr: f64,
    /// `score >= threshold`.
    #[serde(rename = "match")]
    pub matched: bool,
    pub model: String,
    pub score: f32,
    /// The false match rate the threshold was chosen for.
    pub target_fmr: f64,
    pub threshold: f32,
    /// Against a document portrait: the score at or above which a selfie
    /// that failed its liveness is that portrait itself
    /// (`SELFIE_CROPPED_FROM_ID`); absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_picture_threshold: Option<f32>,
}

impl SimilarityRecord {
    /// A comparison's record; `matched` follows from the score and threshold.
    pub fn new(
        model: impl Into<String>,
        score: f32,
        threshold: f32,
        target_fmr: f64,
        estimated_fmr: f64,
    ) -> Self {
        Self {
            estimated_fmr,
            matched: score >= threshold,
            model: model.into(),
            score,
            target_fmr,
            threshold,
            same_picture_threshold: None,
        }
    }

    /// The record with the calibration's same-picture point.
    #[must_use]
    pub fn with_same_picture(mut self, threshold: Option<f32>) -> Self {
        self.same_picture_threshold = threshold;
        self
    }
}

/// How many frames of an attempt reached the engine, and how many of them
/// it could not use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrameCounts {
    pub received: usize,
    /// Frames that did not decode (counted as frames without a face).
    pub undecodable: usize,
    /// Frames not analysed: no room in the attempt's queue in time.
    pub skipped: usize,
    /// Frames accepted whose analysis never reached storage (the node
    /// analysing them stopped). An attempt with lost frames is not decided
    /// from the rest: it is a retry ([`Findings::frames_lost`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The liveness reason of an attempt that lost frames.
pub const FRAMES_LOST: &str = "FRAMES_LOST";

/// What the face engine found in one attempt, before any decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub frames: FrameCounts,
    pub liveness: LivenessRecord,
    /// `None` when nothing could be compared (no live frame with a template,
    /// or no calibrated operating point for the facemap's model).
    pub similarity: Option<SimilarityRecord>,
}

impl Findings {
    /// The findings of an attempt some of whose accepted frames were never
    /// analysed: nothing is decided from the others (a missing turn or
    /// flash could read as an attack), the user is asked to retry.
    pub fn frames_lost(frames: FrameCounts) -> Findings {
        Findings {
            frames,
            liveness: LivenessRecord {
                reasons: vec![FRAMES_LOST.to_owned()],
                score: 0.0,
                signals: Vec::new(),
                verdict: LivenessVerdict::Retry,
            },
            similarity: None,
        }
    }
}

/// The decision record of one attempt, stored with the transaction and
/// returned by retrieval (`decision`). Never shown to the end user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// 1-based attempt number.
    pub attempt: u8,
    /// Whether the challenge had screen flashes.
    pub flash: bool,
    pub frames: FrameCounts,
    pub liveness: LivenessRecord,
    pub outcome: AttemptOutcome,
    pub similarity: Option<SimilarityRecord>,
}

/// What the user should change before a retry: stable codes the web client
/// and native clients translate (docs/capture-protocol.md §4). Never a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Guidance {
    TurnFurther,
    FollowTiming,
    CameraTooSlow,
    KeepFaceInOval,
    OneFaceOnly,
    MoveCloser,
    FaceNotFound,
    MoreLight,
    /// The light is behind the user: the face is much darker than what
    /// surrounds it.
    AvoidBacklight,
    /// The face is over-exposed (direct sun, a lamp pointed at the face).
    LessLight,
    /// The face is blurred (the device or the head moved).
    HoldSteady,
}

impl Guidance {
    /// Every code, in a fixed order (what clients must translate).
    pub const ALL: [Guidance; 11] = [
        Self::TurnFurther,
        Self::FollowTiming,
        Self::CameraTooSlow,
        Self::KeepFaceInOval,
        Self::OneFaceOnly,
        Self::MoveCloser,
        Self::FaceNotFound,
        Self::MoreLight,
        Self::AvoidBacklight,
        Self::LessLight,
        Self::HoldSteady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TurnFurther => "TURN_FURTHER",
            Self::FollowTiming => "FOLLOW_TIMING",
            Self::CameraTooSlow => "CAMERA_TOO_SLOW",
            Self::KeepFaceInOval => "KEEP_FACE_IN_OVAL",
            Self::OneFaceOnly => "ONE_FACE_ONLY",
            Self::MoveCloser => "MOVE_CLOSER",
            Self::FaceNotFound => "FACE_NOT_FOUND",
            Self::MoreLight => "MORE_LIGHT",
            Self::AvoidBacklight => "AVOID_BACKLIGHT",
            Self::LessLight => "LESS_LIGHT",
            Self::HoldSteady => "HOLD_STEADY",
        }
    }

    /// The guidance for a liveness reason code (docs/liveness.md), if the
    /// user can act on it. Attack reasons give none: an attacker learns
    /// nothing from the answer.
    pub fn for_reason(reason: &str) -> Option<Self> {
        Some(match reason {
            "TURN_NOT_DONE" | "TURN_WRONG_DIRECTION" => Self::TurnFurther,
            "FOLLOW_TIMING" | "NEUTRAL_NOT_SEEN" => Self::FollowTiming,
            "CAMERA_TOO_SLOW" => Self::CameraTooSlow,
            "FACE_LOST" => Self::KeepFaceInOval,
            "MULTIPLE_FACES" => Self::OneFaceOnly,
            // Closer to the screen, its light reaches the face.
            "FLASH_NOT_FOLLOWED" | "FLASH_NOT_OBSERVED" | "MOVE_CLOSER" => Self::MoveCloser,
            "FACE_NOT_FOUND" => Self::FaceNotFound,
            "MORE_LIGHT" | "FACE_TOO_DARK" => Self::MoreLight,
            "BACKLIT" => Self::AvoidBacklight,
            "FACE_OVEREXPOSED" => Self::LessLight,
            "FACE_BLURRED" => Self::HoldSteady,
            "FACE_TOO_SMALL" => Self::MoveCloser,
            "FACE_NOT_FULLY_VISIBLE" => Self::KeepFaceInOval,
            _ => return None,
        })
    }
}

/// An attempt decided: the outcome, the guidance for a retry (empty unless
/// the outcome is `RETRY`) and the record to store.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptDecision {
    pub outcome: AttemptOutcome,
    pub guidance: Vec<Guidance>,
    pub record: Decision,
}

/// What the findings amount to: a live person who matches, a live person
/// who does not, an attack, or nothing usable.
pub fn evidence(findings: &Findings) -> Evidence {
    match findings.liveness.verdict {
        LivenessVerdict::Fail => Evidence::Attack,
        LivenessVerdict::Retry | LivenessVerdict::NotApplicable => Evidence::Unusable,
        LivenessVerdict::Pass => match &findings.similarity {
            Some(s) if s.matched => Evidence::LiveMatch,
            Some(_) => Evidence::LiveNoMatch,
            // Live but no comparable template: nothing usable to compare.
            None => Evidence::Unusable,
        },
    }
}

/// The guidance for the findings' liveness reasons, without repeats, in
/// reason order; an unusable capture without any actionable reason is
/// told that no face was found.
pub fn guidance(findings: &Findings) -> Vec<Guidance> {
    let mut out: Vec<Guidance> = Vec::new();
    for code in findings
        .liveness
        .reasons
        .iter()
        .filter_map(|r| Guidance::for_reason(r))
    {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    // Lost frames are the server's doing: nothing for the user to change.
    if out.is_empty() && evidence(findings) == Evidence::Unusable && findings.frames.lost == 0 {
        out.push(Guidance::FaceNotFound);
    }
    out
}

/// Decides attempt `attempt` (1-based) from what the engine found.
pub fn decide_attempt(findings: Findings, attempt: u8, flash: bool) -> AttemptDecision {
    let outcome = attempt_outcome(evidence(&findings), attempt);
    let guidance = if outcome == AttemptOutcome::Retry {
        guidance(&findings)
    } else {
        Vec::new()
    };
    AttemptDecision {
        outcome,
        guidance,
        record: Decision {
            attempt,
            flash,
            frames: findings.frames,
            liveness: findings.liveness,
            outcome,
            similarity: findings.similarity,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::MAX_ATTEMPTS;

    fn liveness(verdict: LivenessVerdict, reasons: &[&str]) -> LivenessRecord {
        LivenessRecord {
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
            score: 1.0,
            signals: Vec::new(),
            verdict,
        }
    }

    fn similarity(score: f32) -> Option<SimilarityRecord> {
        Some(SimilarityRecord::new("m", score, 0.5, 1e-4, 1e-3))
    }

    fn decide(verdict: LivenessVerdict, reasons: &[&str], score: Option<f32>) -> AttemptDecision {
        let findings = Findings {
            frames: FrameCounts::default(),
            liveness: liveness(verdict, reasons),
            similarity: score.and_then(similarity),
        };
        decide_attempt(findings, 1, true)
    }

    #[test]
    fn lost_frames_are_a_retry_without_guidance_and_invalid_at_the_last_attempt() {
        let frames = FrameCounts {
            received: 40,
            lost: 3,
            ..FrameCounts::default()
        };
        let first = decide_attempt(Findings::frames_lost(frames), 1, true);
        assert_eq!(first.outcome, AttemptOutcome::Retry);
        assert!(first.guidance.is_empty());
        assert_eq!(first.record.frames.lost, 3);
        assert_eq!(first.record.liveness.reasons, vec![FRAMES_LOST.to_owned()]);
        let last = decide_attempt(Findings::frames_lost(frames), MAX_ATTEMPTS, true);
        assert_eq!(last.outcome, AttemptOutcome::Invalid);
    }

    #[test]
    fn a_live_match_passes_and_another_person_fails() {
        let passed = decide(LivenessVerdict::Pass, &[], Some(0.5));
        assert_eq!(passed.outcome, AttemptOutcome::Passed);
        assert!(passed.guidance.is_empty());
        let other = decide(LivenessVerdict::Pass, &[], Some(0.49));
        assert_eq!(other.outcome, AttemptOutcome::Failed);
        assert!(other.guidance.is_empty());
    }

    #[test]
    fn an_attack_fails_without_guidance_whatever_the_similarity() {
        for score in [None, Some(0.9), Some(0.1)] {
            let d = decide(
                LivenessVerdict::Fail,
                &["PASSIVE_SPOOF", "FACE_LOST"],
                score,
            );
            assert_eq!(d.outcome, AttemptOutcome::Failed);
            assert!(d.guidance.is_empty(), "an attacker learns nothing");
        }
    }

    #[test]
    fn an_unusable_capture_is_retried_with_guidance_until_the_last_attempt() {
        let findings = Findings {
            frames: FrameCounts::default(),
            liveness: liveness(
                LivenessVerdict::Retry,
                &[
                    "TURN_NOT_DONE",
                    "FLASH_NOT_OBSERVED",
                    "TURN_WRONG_DIRECTION",
                    "NOT_MEASURED",
                ],
            ),
            similarity: None,
        };
        let first = decide_attempt(findings.clone(), 1, false);
        assert_eq!(first.outcome, AttemptOutcome::Retry);
        assert_eq!(
            first.guidance,
            vec![Guidance::TurnFurther, Guidance::MoveCloser]
        );
        let last = decide_attempt(findings, MAX_ATTEMPTS, false);
        assert_eq!(last.outcome, AttemptOutcome::Invalid);
        assert!(last.guidance.is_empty());
    }

    #[test]
    fn live_without_a_comparison_or_without_reasons_asks_for_the_face() {
        let d = decide(LivenessVerdict::Pass, &[], None);
        assert_eq!(d.outcome, AttemptOutcome::Retry);
        assert_eq!(d.guidance, vec![Guidance::FaceNotFound]);
        let d = decide(LivenessVerdict::NotApplicable, &["NOT_MEASURED"], None);
        assert_eq!(d.guidance, vec![Guidance::FaceNotFound]);
    }

    #[test]
    fn every_guidance_code_round_trips_through_its_wire_form() {
        for g in Guidance::ALL {
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{}\"", g.as_str()));
        }
    }

    #[test]
    fn the_record_serialises_as_retrieval_shows_it() {
        let d = decide(LivenessVerdict::Pass, &[], Some(0.75));
        let json = serde_json::to_value(&d.record).unwrap();
        assert_eq!(json["outcome"], "PASSED");
        assert_eq!(json["attempt"], 1);
        assert_eq!(json["flash"], true);
        assert_eq!(json["liveness"]["verdict"], "PASS");
        assert_eq!(json["similarity"]["match"], true);
        assert_eq!(json["similarity"]["targetFmr"], 1e-4);
        assert_eq!(json["similarity"]["estimatedFmr"], 1e-3);
        let back: Decision = serde_json::from_value(json).unwrap();
        assert_eq!(back, d.record);
    }
}
