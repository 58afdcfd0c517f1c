//! The challenge of one attempt, as the vision crate sees it: the neutral
//! window, the head-turn steps and the screen-colour flashes, every time in
//! milliseconds from the moment the client starts showing it (`t = 0`,
//! `docs/capture-protocol.md` §2). The server owns the wire format; these
//! types are the small subset the signals need.

use serde::{Deserialize, Serialize};

/// A head-turn direction from the **user's** point of view: `Left` is the
/// user's own left (the image-right side of a non-mirrored camera frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

/// Which pose angle a direction moves ([`crate::frame::Pose`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Yaw,
    Pitch,
}

impl Direction {
    pub const ALL: [Direction; 4] = [
        Direction::Left,
        Direction::Right,
        Direction::Up,
        Direction::Down,
    ];

    /// The angle this direction changes and the sign of the change under
    /// [`crate::frame::Pose`]'s convention (yaw > 0: turned to the user's
    /// left; pitch > 0: looking up).
    pub const fn axis(self) -> (Axis, f32) {
        match self {
            Direction::Left => (Axis::Yaw, 1.0),
            Direction::Right => (Axis::Yaw, -1.0),
            Direction::Up => (Axis::Pitch, 1.0),
            Direction::Down => (Axis::Pitch, -1.0),
        }
    }
}

/// One head turn: during `[start_ms, end_ms)` the user turns towards
/// `direction` (about 25–30°) and comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub direction: Direction,
    pub start_ms: u32,
    pub end_ms: u32,
}

/// One screen flash: the screen around the face oval shows `rgb` during
/// `[start_ms, end_ms)`; it is white between and after flashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub rgb: [u8; 3],
    pub start_ms: u32,
    pub end_ms: u32,
}

/// The challenge of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeSpec {
    pub duration_ms: u32,
    /// `(start_ms, end_ms)` of the window in which the user looks straight
    /// into the camera (the reference pose).
    pub neutral: (u32, u32),
    pub steps: Vec<Step>,
    /// Empty when the user opted out of flashes (photosensitivity).
    pub flashes: Vec<Flash>,
}

/// The colour of a white screen.
pub const WHITE: [u8; 3] = [255, 255, 255];

/// The colours [`ChallengeSpec::from_seed`] flashes: saturated primaries and
/// secondaries, so that consecutive flashes differ in chromaticity.
pub const FLASH_PALETTE: [[u8; 3]; 6] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
    [0, 255, 255],
    [255, 0, 255],
];

impl ChallengeSpec {
    /// Why the spec cannot be evaluated, if it cannot: windows must be
    /// non-empty, inside `[0, duration_ms]`, and steps must not overlap.
    pub fn problem(&self) -> Option<&'static str> {
        let inside = |s: u32, e: u32| s < e && e <= self.duration_ms;
        if !inside(self.neutral.0, self.neutral.1) {
            return Some("the neutral window is empty or outside the challenge");
        }
        if self.steps.iter().any(|s| !inside(s.start_ms, s.end_ms)) {
            return Some("a step window is empty or outside the challenge");
        }
        if self.steps.windows(2).any(|w| w[1].start_ms < w[0].end_ms) {
            return Some("steps overlap or are out of order");
        }
        if self.flashes.iter().any(|f| !inside(f.start_ms, f.end_ms)) {
            return Some("a flash window is empty or outside the challenge");
        }
        None
    }

    /// The screen colour shown at `t_ms` (white outside every flash).
    pub fn screen_at(&self, t_ms: f32) -> [u8; 3] {
        self.flashes
            .iter()
            .find(|f| t_ms >= f.start_ms as f32 && t_ms < f.end_ms as f32)
            .map_or(WHITE, |f| f.rgb)
    }

    /// A random challenge from a 64-bit seed, in the shape the capture
    /// protocol describes: a 1.2-s neutral window, then three steps (LEFT and
    /// RIGHT in random order and one of UP/DOWN at a random position), each
    /// 1.8–2.2 s with 0.4-s pauses, and, with `flash`, six 300-ms flashes of
    /// random palette colours (never twice the same in a row) with random
    /// white gaps, from 200 ms on.
    ///
    /// The seed must come from a cryptographic generator on the server: the
    /// challenge is a defence only while an attacker cannot predict it.
    pub fn from_seed(seed: u64, flash: bool) -> Self {
        let mut rng = SplitMix64(seed);
        let vertical = if rng.below(2) == 0 {
            Direction::Up
        } else {
            Direction::Down
        };
        let mut directions = if rng.below(2) == 0 {
            vec![Direction::Left, Direction::Right]
        } else {
            vec![Direction::Right, Direction::Left]
        };
        directions.insert(rng.below(3) as usize, vertical);
        let neutral = (0, 1200);
        let mut t = neutral.1;
        let mut steps = Vec::with_capacity(directions.len());
        for (i, direction) in directions.into_iter().enumerate() {
            if i > 0 {
                t += 400;
            }
            let length = 1800 + 100 * rng.below(5) as u32;
            steps.push(Step {
                direction,
                start_ms: t,
                end_ms: t + length,
            });
            t += length;
        }
        let mut flashes = Vec::new();
        if flash {
            let mut start = 200;
            let mut previous = usize::MAX;
            for _ in 0..6 {
                let mut colour = rng.below(FLASH_PALETTE.len() as u64) as usize;
                if colour == previous {
                    colour = (colour + 1) % FLASH_PALETTE.len();
                }
                previous = colour;
                flashes.push(Flash {
                    rgb: FLASH_PALETTE[colour],
                    start_ms: start,
                    end_ms: start + 300,
                });
                start += 300 + 100 * rng.below(4) as u32;
            }
        }
        Self {
            duration_ms: t,
            neutral,
            steps,
            flashes,
        }
    }
}

/// A small deterministic generator for [`ChallengeSpec::from_seed`]
/// (SplitMix64: every seed gives a different, well-mixed stream).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is below 2⁻⁵⁰ here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn seeded_challenges_are_valid_varied_and_reproducible() {
        let mut orders = std::collections::HashSet::new();
        for seed in 0..200 {
            let spec = ChallengeSpec::from_seed(seed, true);
            assert_eq!(spec.problem(), None, "seed {seed}: {spec:?}");
            assert_eq!(spec.steps.len(), 3);
            let dirs: Vec<Direction> = spec.steps.iter().map(|s| s.direction).collect();
            assert!(dirs.contains(&Direction::Left) && dirs.contains(&Direction::Right));
            assert_eq!(spec.flashes.len(), 6);
            assert!(spec
                .flashes
                .windows(2)
                .all(|w| w[0].rgb != w[1].rgb && w[0].end_ms <= w[1].start_ms));
            orders.insert(dirs);
            assert_eq!(spec, ChallengeSpec::from_seed(seed, true));
        }
        // 2 yaw orders × 2 vertical directions × 3 positions.
        assert_eq!(orders.len(), 12);
        assert!(ChallengeSpec::from_seed(7, false).flashes.is_empty());
    }

    #[test]
    fn malformed_specs_are_named() {
        let mut spec = ChallengeSpec::from_seed(1, true);
        spec.steps.swap(0, 1);
        assert!(spec.problem().is_some());
        let mut spec = ChallengeSpec::from_seed(1, true);
        spec.neutral = (500, 500);
        assert!(spec.problem().is_some());
        let spec = ChallengeSpec::from_seed(1, true);
        let f = spec.flashes[0];
        assert_eq!(spec.screen_at(f.start_ms as f32 + 1.0), f.rgb);
        assert_eq!(spec.screen_at(f.start_ms as f32 - 1.0), WHITE);
    }

    #[test]
    fn directions_map_to_the_documented_pose_signs() {
        assert_eq!(Direction::Left.axis(), (Axis::Yaw, 1.0));
        assert_eq!(Direction::Right.axis(), (Axis::Yaw, -1.0));
        assert_eq!(Direction::Up.axis(), (Axis::Pitch, 1.0));
        assert_eq!(Direction::Down.axis(), (Axis::Pitch, -1.0));
    }
}
