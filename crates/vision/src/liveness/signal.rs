//! The outcome of one liveness signal: a score against a threshold, a
//! verdict and stable reason codes the server turns into user guidance.

use serde::{Deserialize, Serialize};

/// What one signal (or the whole decision) concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Evidence of a live, compliant person.
    Pass,
    /// Evidence of an attack (print, screen, replay, another person).
    Fail,
    /// Not enough evidence: the user did not comply or the capture was poor;
    /// the user may try again.
    Retry,
    /// The signal was not measured (not asked for, or nothing to measure).
    NotApplicable,
}

/// One signal's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalResult {
    /// Stable signal name (`passive`, `challenge`, `parallax`, `flash`,
    /// `identity`).
    pub name: &'static str,
    /// The measured score, in the signal's own unit (documented per signal).
    pub score: f32,
    /// The threshold the score was compared with.
    pub threshold: f32,
    pub verdict: Verdict,
    /// Stable SCREAMING_SNAKE reason codes ([`reasons`]), most important
    /// first; empty on a plain pass.
    pub reasons: Vec<&'static str>,
    /// Whether the verdict counts in the decision (false for a signal that
    /// is measured and reported but not trusted to decide).
    pub votes: bool,
}

impl SignalResult {
    pub fn new(
        name: &'static str,
        score: f32,
        threshold: f32,
        verdict: Verdict,
        reasons: Vec<&'static str>,
    ) -> Self {
        Self {
            name,
            // NaN would poison every comparison downstream (and JSON).
            score: if score.is_finite() { score } else { 0.0 },
            threshold,
            verdict,
            reasons,
            votes: true,
        }
    }

    /// A signal that was not measured, with why.
    pub fn not_applicable(name: &'static str, threshold: f32, reason: &'static str) -> Self {
        Self::new(name, 0.0, threshold, Verdict::NotApplicable, vec![reason])
    }
}

/// Reason codes. Retry reasons the user can act on match the capture
/// protocol's guidance codes where one exists (`MORE_LIGHT`, `MOVE_CLOSER`,
/// `FACE_NOT_FOUND`, `FOLLOW_TIMING`, `CAMERA_TOO_SLOW`).
pub mod reasons {
    // Challenge compliance.
    /// A step's rotation stayed below the required angle (guidance `TURN_FURTHER`).
    pub const TURN_NOT_DONE: &str = "TURN_NOT_DONE";
    /// The head turned the other way, or along the other axis.
    pub const TURN_WRONG_DIRECTION: &str = "TURN_WRONG_DIRECTION";
    /// The head was already turned when the window opened, or turned too late.
    pub const FOLLOW_TIMING: &str = "FOLLOW_TIMING";
    /// Fewer frames than the minimum frame rate, or a long gap.
    pub const CAMERA_TOO_SLOW: &str = "CAMERA_TOO_SLOW";
    /// The face was missing from too many frames (of the challenge or a step).
    pub const FACE_LOST: &str = "FACE_LOST";
    /// No frontal face during the neutral window (no baseline pose).
    pub const NEUTRAL_NOT_SEEN: &str = "NEUTRAL_NOT_SEEN";
    /// The pose or position jumped between frames faster than a head moves:
    /// a cut between pictures or recordings.
    pub const POSE_DISCONTINUITY: &str = "POSE_DISCONTINUITY";
    /// The challenge itself is malformed (a server bug).
    pub const CHALLENGE_INVALID: &str = "CHALLENGE_INVALID";
    // Passive.
    /// The passive model sees a print or a screen.
    pub const PASSIVE_SPOOF: &str = "PASSIVE_SPOOF";
    /// No frame was given to the passive model.
    pub const NOT_MEASURED: &str = "NOT_MEASURED";
    // Parallax.
    /// The face moved like a plane while it turned.
    pub const FLAT_SURFACE: &str = "FLAT_SURFACE";
    /// The head did not rotate enough for a parallax measurement.
    pub const ROTATION_TOO_SMALL: &str = "ROTATION_TOO_SMALL";
    /// Too few texture points could be tracked.
    pub const TRACKING_FAILED: &str = "TRACKING_FAILED";
    // Flash.
    /// The challenge has no flashes.
    pub const NO_FLASHES: &str = "NO_FLASHES";
    /// The skin colour does not follow the flash sequence.
    pub const FLASH_NOT_FOLLOWED: &str = "FLASH_NOT_FOLLOWED";
    /// Too few face frames during the flashes to tell.
    pub const FLASH_NOT_OBSERVED: &str = "FLASH_NOT_OBSERVED";
    // Identity and quality.
    /// Two sampled frames show different people.
    pub const IDENTITY_CHANGED: &str = "IDENTITY_CHANGED";
    /// Another large face in the picture in too many frames.
    pub const MULTIPLE_FACES: &str = "MULTIPLE_FACES";
    /// No face (or no template) in too many frames.
    pub const FACE_NOT_FOUND: &str = "FACE_NOT_FOUND";
    /// The face is too dark.
    pub const MORE_LIGHT: &str = "MORE_LIGHT";
    /// The face is too small.
    pub const MOVE_CLOSER: &str = "MOVE_CLOSER";
    // The quality gate in front of the passive vote (`gate`).
    /// The light is behind the user: the face much darker than its
    /// surroundings (guidance `AVOID_BACKLIGHT`).
    pub const BACKLIT: &str = "BACKLIT";
    /// The face is too dark (guidance `MORE_LIGHT`).
    pub const FACE_TOO_DARK: &str = "FACE_TOO_DARK";
    /// The face is over-exposed (guidance `LESS_LIGHT`).
    pub const FACE_OVEREXPOSED: &str = "FACE_OVEREXPOSED";
    /// The face is blurred (guidance `HOLD_STEADY`).
    pub const FACE_BLURRED: &str = "FACE_BLURRED";
    /// The face is too small for the passive models (guidance `MOVE_CLOSER`).
    pub const FACE_TOO_SMALL: &str = "FACE_TOO_SMALL";
    /// The face is partly outside the image (guidance `KEEP_FACE_IN_OVAL`).
    pub const FACE_NOT_FULLY_VISIBLE: &str = "FACE_NOT_FULLY_VISIBLE";
}
