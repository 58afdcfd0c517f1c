//! The `passive` signal: the anti-spoof model's P(live) (computed per frame
//! by the frame analyser with [`crate::antispoof`]), averaged over the frames it
//! ran on.

use crate::frame::FrameFeatures;
use crate::liveness::config::PassiveConfig;
use crate::liveness::signal::{reasons, SignalResult, Verdict};

/// The `passive` signal: the mean P(live) over the frames the model ran on;
/// passes at or above `config.threshold`, fails below (the model says print
/// or screen); not applicable when no frame was measured.
pub fn passive_signal(frames: &[FrameFeatures], config: &PassiveConfig) -> SignalResult {
    const NAME: &str = "passive";
    let scores: Vec<f32> = frames
        .iter()
        .filter_map(|f| f.face.as_ref()?.passive)
        .collect();
    if scores.is_empty() {
        return SignalResult::not_applicable(NAME, config.threshold, reasons::NOT_MEASURED);
    }
    let mean = scores.iter().sum::<f32>() / scores.len() as f32;
    if mean >= config.threshold {
        SignalResult::new(NAME, mean, config.threshold, Verdict::Pass, Vec::new())
    } else {
        SignalResult::new(
            NAME,
            mean,
            config.threshold,
            Verdict::Fail,
            vec![reasons::PASSIVE_SPOOF],
        )
    }
}
