//! The end user's capture: sessions, attempts, the random liveness challenge
//! and the rules a frame must satisfy to be accepted (docs/capture-protocol.md).

use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::ids::TransactionRef;

/// Attempts one transaction may use.
pub const MAX_ATTEMPTS: u8 = 3;
/// A capture token lives at most this long (and never beyond its transaction).
pub const CAPTURE_SESSION_MINUTES: i64 = 10;
/// The client must start the challenge within this time of the attempt's issue.
pub const START_WITHIN_SECS: i64 = 15;
/// Frames may be captured this long after the challenge's end.
pub const FRAME_SLACK_MS: u32 = 500;
/// A frame must arrive within this time of its capture.
pub const MAX_UPLOAD_LAG_MS: i64 = 3_000;
/// Clock skew tolerated between "challenge started" and "attempt issued".
pub const START_SKEW_MS: i64 = 250;
/// Capture interval the client must keep (about 15 fps).
pub const FRAME_INTERVAL_MS: u32 = 66;

/// A direction to turn the head, from the user's point of view (`Left` is the
/// user's own left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

/// A time window of the challenge, ms since the client's `t = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub start_ms: u32,
    pub end_ms: u32,
}

/// One head turn to perform inside its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub direction: Direction,
    pub start_ms: u32,
    pub end_ms: u32,
}

/// One screen colour shown inside its window (`#rrggbb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flash {
    pub color: String,
    pub start_ms: u32,
    pub end_ms: u32,
}

impl Flash {
    /// The colour as RGB bytes; `None` for a malformed colour string.
    pub fn rgb(&self) -> Option<[u8; 3]> {
        let hex = self.color.strip_prefix('#')?;
        if hex.len() != 6 {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some([byte(0)?, byte(2)?, byte(4)?])
    }
}

/// The liveness challenge of one attempt, exactly as the client receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    pub duration_ms: u32,
    pub frame_interval_ms: u32,
    pub max_frames: u32,
    pub neutral: Window,
    pub steps: Vec<Step>,
    pub flashes: Vec<Flash>,
}

/// The colours a flash may take: saturated primaries and secondaries, so the
/// face's reflected chromaticity moves clearly away from white light.
const FLASH_COLORS: [&str; 6] = [
    "#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff", "#00ffff",
];

impl Challenge {
    /// A fresh random challenge: a neutral phase (with the colour sequence
    /// when `flash`), then one turn to each side in random order and one up or
    /// down turn at a random position, each in a window with random jitter.
    pub fn random(rng: &mut dyn RngCore, flash: bool) -> Self {
        let neutral_end: u32 = if flash { 2_400 } else { 1_200 };
        let mut flashes = Vec::new();
        if flash {
            let mut t = 200 + rng.gen_range(0..200);
            let mut previous = "";
            while t + 250 <= neutral_end - 200 {
                let len = rng.gen_range(250..=400);
                let color = loop {
                    let c = FLASH_COLORS[rng.gen_range(0..FLASH_COLORS.len())];
                    if c != previous {
                        break c;
                    }
                };
                let end = (t + len).min(neutral_end - 200);
                flashes.push(Flash {
                    color: color.to_owned(),
                    start_ms: t,
                    end_ms: end,
                });
                previous = color;
                // A short white gap between colours keeps each change visible.
                t = end + rng.gen_range(0..=150);
            }
        }
        let mut directions = vec![Direction::Left, Direction::Right];
        directions.shuffle(rng);
        let vertical = if rng.gen_bool(0.5) {
            Direction::Up
        } else {
            Direction::Down
        };
        directions.insert(rng.gen_range(0..=directions.len()), vertical);
        let mut steps = Vec::with_capacity(directions.len());
        let mut t = neutral_end;
        for direction in directions {
            let len = 1_800 + rng.gen_range(0..=400);
            steps.push(Step {
                direction,
                start_ms: t,
                end_ms: t + len,
            });
            // Time to come back to the centre before the next turn.
            t += len + 400 + rng.gen_range(0..=200);
        }
        let duration_ms = steps.last().map_or(neutral_end, |s| s.end_ms);
        Self::with_timeline(neutral_end, steps, flashes, duration_ms)
    }

    /// A challenge with the given timeline and the standard frame rules.
    pub fn with_timeline(
        neutral_end: u32,
        steps: Vec<Step>,
        flashes: Vec<Flash>,
        duration_ms: u32,
    ) -> Self {
        Self {
            duration_ms,
            frame_interval_ms: FRAME_INTERVAL_MS,
            // Room for a client that captures at up to 2× the asked rate.
            max_frames: 2 * (duration_ms + FRAME_SLACK_MS) / FRAME_INTERVAL_MS + 2,
            neutral: Window {
                start_ms: 0,
                end_ms: neutral_end,
            },
            steps,
            flashes,
        }
    }

    /// Checks a configured (test) challenge: windows in order, inside the
    /// duration, colours well formed.
    pub fn validate(&self) -> Result<(), String> {
        if self.duration_ms == 0 || self.duration_ms > 60_000 {
            return Err("durationMs must be 1..=60000".into());
        }
        if self.neutral.start_ms != 0 || self.neutral.end_ms > self.duration_ms {
            return Err("neutral must start at 0 and end within durationMs".into());
        }
        let mut last_end = self.neutral.end_ms;
        for step in &self.steps {
            if step.start_ms < last_end || step.end_ms <= step.start_ms {
                return Err("steps must follow the neutral phase and each other".into());
            }
            last_end = step.end_ms;
        }
        if last_end > self.duration_ms {
            return Err("steps must end within durationMs".into());
        }
        for flash in &self.flashes {
            if flash.rgb().is_none() || flash.end_ms <= flash.start_ms {
                return Err("flashes need a #rrggbb colour and a non-empty window".into());
            }
            if flash.end_ms > self.duration_ms {
                return Err("flashes must end within durationMs".into());
            }
        }
        Ok(())
    }
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptState {
    Open,
    Finished,
    /// Replaced by a newer attempt before it was finished (still counts).
    Abandoned,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Finished => "FINISHED",
            Self::Abandoned => "ABANDONED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Finished, Self::Abandoned]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The answer to one finished attempt, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptOutcome {
    Passed,
    Failed,
    Retry,
    Invalid,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Retry => "RETRY",
            Self::Invalid => "INVALID",
        }
    }

    /// The transaction's final state after this outcome, if it ends it.
    pub fn final_state(self) -> Option<crate::TransactionState> {
        use crate::TransactionState as S;
        match self {
            Self::Passed => Some(S::Passed),
            Self::Failed => Some(S::Failed),
            Self::Invalid => Some(S::Invalid),
            Self::Retry => None,
        }
    }
}

/// What liveness and matching concluded about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Live, and the face matches the facemap.
    LiveMatch,
    /// Live, but another person.
    LiveNoMatch,
    /// A presentation attack (or an identity change) was detected.
    Attack,
    /// No usable capture: challenge not followed, no face, poor quality.
    Unusable,
}

/// Decides an attempt's outcome: attacks and other persons end the
/// transaction at once; an unusable capture may be retried until the last
/// attempt, which makes the transaction `INVALID`.
pub fn attempt_outcome(evidence: Evidence, attempt_number: u8) -> AttemptOutcome {
    match evidence {
        Evidence::LiveMatch => AttemptOutcome::Passed,
        Evidence::LiveNoMatch | Evidence::Attack => AttemptOutcome::Failed,
        Evidence::Unusable if attempt_number >= MAX_ATTEMPTS => AttemptOutcome::Invalid,
        Evidence::Unusable => AttemptOutcome::Retry,
    }
}

/// How long after its last possible frame an attempt may still be finished.
pub const FINISH_GRACE_MS: i64 = 60_000;

/// A capture attempt as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureAttempt {
    pub id: uuid::Uuid,
    pub transaction: TransactionRef,
    /// 1-based.
    pub number: u8,
    pub nonce: [u8; 16],
    pub challenge: Challenge,
    pub flash: bool,
    pub issued_at: DateTime<Utc>,
    pub state: AttemptState,
    pub outcome: Option<AttemptOutcome>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The face model whose templates the attempt's frames are embedded
    /// with (the facemap's, or the document portrait's).
    pub model: String,
    /// The frames accepted so far (stored, so that any node takes the next
    /// frame).
    pub cursor: FrameCursor,
    /// Set when a finish began: no frame is accepted after it, so the
    /// decision sees every frame the attempt will ever have.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A capture session: the short-lived token a client holds instead of any API
/// secret (only its SHA-256 is stored), bound to one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSession {
    pub token_hash: [u8; 32],
    pub transaction: TransactionRef,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when a newer session of the same transaction replaced it.
    pub ended_at: Option<DateTime<Utc>>,
    /// The kind of client that opened it; becomes the transaction's
    /// `scanSource`.
    pub scan_source: crate::ScanSource,
    /// What the session captures for: an authentication, or an ID
    /// verification (then `transaction` is the scan's reference).
    pub subject: CaptureSubject,
}

/// What a capture session captures for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureSubject {
    /// An authentication transaction: the selfie is compared with a facemap.
    Authentication,
    /// An ID verification ("scan"): document sides, then (identity
    /// workflows) the selfie, compared with the document's portrait.
    Scan,
}

impl CaptureSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "AUTHENTICATION",
            Self::Scan => "SCAN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Authentication, Self::Scan]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl CaptureSession {
    /// A session opened at `now` for a transaction that ends at `tx_expires_at`.
    pub fn new(
        token_hash: [u8; 32],
        transaction: TransactionRef,
        now: DateTime<Utc>,
        tx_expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            token_hash,
            transaction,
            created_at: now,
            expires_at: (now + Duration::minutes(CAPTURE_SESSION_MINUTES)).min(tx_expires_at),
            ended_at: None,
            scan_source: crate::ScanSource::Web,
            subject: CaptureSubject::Authentication,
        }
    }

    /// The same session, capturing for an ID verification.
    pub fn for_scan(mut self) -> Self {
        self.subject = CaptureSubject::Scan;
        self
    }

    /// The same session, opened by a client of kind `scan_source`.
    pub fn with_scan_source(mut self, scan_source: crate::ScanSource) -> Self {
        self.scan_source = scan_source;
        self
    }

    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && now < self.expires_at
    }
}

/// Why a frame is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameRefusal {
    #[error("the attempt is finished or abandoned")]
    AttemptFinished,
    #[error("the frame is outside the challenge's time window")]
    OutOfWindow,
    #[error("the frame index or capture time is out of order")]
    OutOfOrder,
    #[error("the attempt has received its maximum number of frames")]
    Limit,
    #[error("the frame comes sooner than the challenge's frame rate allows")]
    TooFast,
}

/// The frame bookkeeping of an open attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameCursor {
    /// Frames accepted so far.
    pub received: u32,
    /// Capture time of the last accepted frame.
    pub last_t_ms: Option<u32>,
    /// The earliest inferred challenge start (ms after the attempt's issue).
    pub earliest_start_ms: Option<i64>,
}

impl CaptureAttempt {
    /// The client must show the challenge by this time.
    pub fn start_by(&self) -> DateTime<Utc> {
        self.issued_at + Duration::seconds(START_WITHIN_SECS)
    }

    /// After this an open attempt takes no frame and no finish (its last
    /// frame's upload lag and a minute for the finish): it is left to be
    /// abandoned by the next attempt or its transaction's end.
    pub fn finish_by(&self) -> DateTime<Utc> {
        self.start_by()
            + Duration::milliseconds(
                i64::from(self.challenge.duration_ms) + MAX_UPLOAD_LAG_MS + FINISH_GRACE_MS,
            )
    }

    /// Checks a frame with index `index`, captured at `t_ms` on the client's
    /// challenge clock and received at `received_at`, against the attempt's
    /// rules; on success the cursor advances.
    ///
    /// The client's `t = 0` is inferred as `received_at − t_ms` (minus the
    /// upload time): it must not precede the attempt's issue and must not
    /// follow `start_by`; a frame must also arrive within
    /// [`MAX_UPLOAD_LAG_MS`] of its capture.
    pub fn accept_frame(
        &self,
        cursor: &mut FrameCursor,
        index: u32,
        t_ms: u32,
        received_at: DateTime<Utc>,
    ) -> Result<(), FrameRefusal> {
        if self.state != AttemptState::Open || self.closed_at.is_some() {
            return Err(FrameRefusal::AttemptFinished);
        }
        if cursor.received >= self.challenge.max_frames {
            return Err(FrameRefusal::Limit);
        }
        if index != cursor.received || cursor.last_t_ms.is_some_and(|last| t_ms < last) {
            return Err(FrameRefusal::OutOfOrder);
        }
        // Capture times strictly increase, at most twice the asked rate on
        // average: with the upload window below (a frame cannot arrive
        // before its capture time) this bounds how fast frames can be fed
        // to the analysis, however fast they are sent.
        let earliest_t = u64::from(index) * u64::from(self.challenge.frame_interval_ms / 2);
        if cursor.last_t_ms == Some(t_ms) || u64::from(t_ms) < earliest_t {
            return Err(FrameRefusal::TooFast);
        }
        if t_ms > self.challenge.duration_ms + FRAME_SLACK_MS {
            return Err(FrameRefusal::OutOfWindow);
        }
        let since_issue_ms = (received_at - self.issued_at).num_milliseconds();
        // The challenge's t = 0 on the server clock, at the latest.
        let start_ms = since_issue_ms - i64::from(t_ms);
        if start_ms < -START_SKEW_MS {
            return Err(FrameRefusal::OutOfWindow);
        }
        if start_ms > START_WITHIN_SECS * 1000 + MAX_UPLOAD_LAG_MS {
            return Err(FrameRefusal::OutOfWindow);
        }
        // Upload time only ever makes the inferred start later: the earliest
        // inference is the best estimate of the real start, and a frame whose
        // inference is much later than it arrived late.
        let earliest = cursor
            .earliest_start_ms
            .map_or(start_ms, |e| e.min(start_ms));
        if start_ms - earliest > MAX_UPLOAD_LAG_MS {
            return Err(FrameRefusal::OutOfWindow);
        }
        cursor.received += 1;
        cursor.last_t_ms = Some(t_ms);
        cursor.earliest_start_ms = Some(earliest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn attempt(challenge: Challenge) -> CaptureAttempt {
        CaptureAttempt {
            id: uuid::Uuid::new_v4(),
            transaction: TransactionRef::new_random(),
            number: 1,
            nonce: [7; 16],
            challenge,
            flash: true,
            issued_at: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
            state: AttemptState::Open,
            outcome: None,
            finished_at: None,
            model: "m".to_owned(),
            cursor: FrameCursor::default(),
            closed_at: None,
        }
    }

    #[test]
    fn a_closed_attempt_takes_no_frame() {
        let mut a = attempt(Challenge::random(&mut StdRng::seed_from_u64(1), false));
        let at = a.issued_at + Duration::milliseconds(2_000);
        a.closed_at = Some(at);
        assert_eq!(
            a.accept_frame(&mut FrameCursor::default(), 0, 0, at),
            Err(FrameRefusal::AttemptFinished)
        );
    }

    #[test]
    fn random_challenges_are_valid_and_differ() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        for flash in [true, false] {
            for _ in 0..200 {
                let c = Challenge::random(&mut rng, flash);
                c.validate().unwrap();
                assert_eq!(c.steps.len(), 3);
                let dirs: Vec<Direction> = c.steps.iter().map(|s| s.direction).collect();
                assert!(dirs.contains(&Direction::Left) && dirs.contains(&Direction::Right));
                assert!(dirs.contains(&Direction::Up) ^ dirs.contains(&Direction::Down));
                assert_eq!(c.flashes.is_empty(), !flash);
                for f in &c.flashes {
                    assert!(f.end_ms <= c.neutral.end_ms && f.rgb().is_some());
                }
                for pair in c.flashes.windows(2) {
                    assert_ne!(pair[0].color, pair[1].color);
                }
                seen.insert(format!("{dirs:?}"));
            }
        }
        // 2 horizontal orders × 2 vertical directions × 3 positions.
        assert_eq!(seen.len(), 12);
    }

    #[test]
    fn flash_colours_parse() {
        let f = |c: &str| Flash {
            color: c.into(),
            start_ms: 0,
            end_ms: 1,
        };
        assert_eq!(f("#ff0080").rgb(), Some([255, 0, 128]));
        assert_eq!(f("ff0080").rgb(), None);
        assert_eq!(f("#ff00").rgb(), None);
        assert_eq!(f("#gg0000").rgb(), None);
    }

    #[test]
    fn frames_must_come_in_order_inside_the_window() {
        let a = attempt(Challenge::with_timeline(1000, vec![], vec![], 4000));
        let at = |ms: i64| a.issued_at + Duration::milliseconds(ms);
        let mut c = FrameCursor::default();
        // Challenge starts 2 s after issue; frames arrive 100 ms after capture.
        a.accept_frame(&mut c, 0, 0, at(2_100)).unwrap();
        a.accept_frame(&mut c, 1, 66, at(2_166)).unwrap();
        assert_eq!(
            a.accept_frame(&mut c, 3, 132, at(2_232)),
            Err(FrameRefusal::OutOfOrder)
        );
        assert_eq!(
            a.accept_frame(&mut c, 2, 10, at(2_232)),
            Err(FrameRefusal::OutOfOrder)
        );
        assert_eq!(
            a.accept_frame(&mut c, 2, 4_600, at(6_700)),
            Err(FrameRefusal::OutOfWindow)
        );
        // Captured at 1 s but uploaded 3.5 s later than the first frames.
        assert_eq!(
            a.accept_frame(&mut c, 2, 1_000, at(6_600)),
            Err(FrameRefusal::OutOfWindow)
        );
        a.accept_frame(&mut c, 2, 4_400, at(6_500)).unwrap();
        assert_eq!(c.received, 3);
    }

    #[test]
    fn frames_cannot_come_faster_than_twice_the_frame_rate() {
        let a = attempt(Challenge::with_timeline(1000, vec![], vec![], 4000));
        let at = |ms: i64| a.issued_at + Duration::milliseconds(ms);
        let half = a.challenge.frame_interval_ms / 2;
        let mut c = FrameCursor::default();
        a.accept_frame(&mut c, 0, 0, at(2_000)).unwrap();
        // The same capture time twice.
        assert_eq!(
            a.accept_frame(&mut c, 1, 0, at(2_001)),
            Err(FrameRefusal::TooFast)
        );
        // Frame k is captured at k · interval / 2 at the earliest.
        let mut t = 0u32;
        for k in 1..20u32 {
            t = k * half;
            a.accept_frame(&mut c, k, t, at(2_000 + i64::from(t)))
                .unwrap();
        }
        assert_eq!(
            a.accept_frame(&mut c, 20, t + 1, at(2_000 + i64::from(t) + 1)),
            Err(FrameRefusal::TooFast)
        );
        // Back on the rate, frames are accepted again.
        a.accept_frame(&mut c, 20, 20 * half, at(2_000 + i64::from(20 * half)))
            .unwrap();
    }

    #[test]
    fn a_challenge_cannot_start_before_the_attempt_or_after_its_deadline() {
        let a = attempt(Challenge::with_timeline(1000, vec![], vec![], 4000));
        let at = |ms: i64| a.issued_at + Duration::milliseconds(ms);
        // Claims to have been captured 1 s into a challenge 200 ms after issue.
        assert_eq!(
            a.accept_frame(&mut FrameCursor::default(), 0, 1_000, at(200)),
            Err(FrameRefusal::OutOfWindow)
        );
        assert_eq!(
            a.accept_frame(
                &mut FrameCursor::default(),
                0,
                0,
                at(START_WITHIN_SECS * 1000 + 3_500)
            ),
            Err(FrameRefusal::OutOfWindow)
        );
    }

    #[test]
    fn finished_attempts_and_full_attempts_refuse_frames() {
        let mut a = attempt(Challenge::with_timeline(1000, vec![], vec![], 4000));
        let mut c = FrameCursor {
            received: a.challenge.max_frames,
            last_t_ms: Some(0),
            earliest_start_ms: Some(0),
        };
        let next = c.received;
        assert_eq!(
            a.accept_frame(&mut c, next, 10, a.issued_at),
            Err(FrameRefusal::Limit)
        );
        a.state = AttemptState::Finished;
        assert_eq!(
            a.accept_frame(&mut FrameCursor::default(), 0, 0, a.issued_at),
            Err(FrameRefusal::AttemptFinished)
        );
    }

    #[test]
    fn only_the_last_attempt_turns_an_unusable_capture_into_invalid() {
        assert_eq!(
            attempt_outcome(Evidence::Unusable, 1),
            AttemptOutcome::Retry
        );
        assert_eq!(
            attempt_outcome(Evidence::Unusable, 2),
            AttemptOutcome::Retry
        );
        assert_eq!(
            attempt_outcome(Evidence::Unusable, 3),
            AttemptOutcome::Invalid
        );
        assert_eq!(attempt_outcome(Evidence::Attack, 1), AttemptOutcome::Failed);
        assert_eq!(
            attempt_outcome(Evidence::LiveNoMatch, 1),
            AttemptOutcome::Failed
        );
        assert_eq!(
            attempt_outcome(Evidence::LiveMatch, 3),
            AttemptOutcome::Passed
        );
    }
}
