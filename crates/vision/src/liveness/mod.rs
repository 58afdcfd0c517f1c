//! Server-side liveness: is the face in front of the camera a live person who
//! follows this attempt's random challenge, or a photo, a screen or a replay?
//!
//! The server issues a [`ChallengeSpec`] per attempt (a neutral window,
//! head-turn [`Step`]s and screen-colour [`Flash`]es; `docs/capture-protocol.md`
//! §2), analyses every uploaded frame as it arrives with the per-frame
//! analyser (`frame::FrameAnalyzer`: BlazeFace + FaceMesh per frame, the
//! anti-spoof model and the embedding only on the frames asked for), and
//! calls [`decide`] once the last frame is in. This module holds only the
//! challenge, the signals over the analysed frames, their configuration and
//! the decision; the per-frame building blocks live beside it.
//!
//! Signals (each a [`SignalResult`]), chosen from what the shared liveness
//! study (`../shared/research/liveness-study.md`) found to work:
//! - [`passive`]: two independently trained print/screen classifiers
//!   (fr-liveness and the Silent-Face MiniFASNet pair, `antispoof`), fused,
//!   voting only on the frames the quality [`gate`] accepts;
//! - [`compliance`]: the head followed the random, timed turns, continuously
//!   (the main defence against prints and pre-recorded video);
//! - [`parallax`]: texture (KLT, `klt`) parallax between the frontal and the
//!   turned frames is larger than a plane's (against tilted photos; FaceMesh
//!   residuals cannot do this, they only restate the rotation);
//! - [`flash`]: the skin colour follows the screen-colour sequence (against
//!   injected or replayed video);
//! - [`identity`]: one person throughout, with enough quality.
//!
//! Thresholds live in [`LivenessConfig`] (serde, documented defaults) so the
//! server can expose them as configuration. This module knows no HTTP, no
//! database and no other Facegate crate: its challenge types are its own.

pub mod challenge;
pub mod compliance;
pub mod config;
pub mod decide;
pub mod flash;
pub mod gate;
pub mod identity;
pub mod parallax;
pub mod passive;
pub mod signal;

pub use challenge::{ChallengeSpec, Direction, Flash, Step};
pub use config::{
    ChallengeConfig, FlashConfig, Fusion, IdentityConfig, LivenessConfig, ParallaxConfig,
    PassiveConfig, SamplingConfig,
};
pub use decide::{decide, LivenessDecision};
pub use gate::GateConfig;
pub use signal::{reasons, SignalResult, Verdict};
