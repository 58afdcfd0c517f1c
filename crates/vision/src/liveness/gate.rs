//! The quality gate in front of the passive vote: a frame whose face is
//! backlit, too dark, over-exposed, blurred, too small or partly outside the
//! image is not evidence of an attack. The passive models were trained on
//! faces a camera could expose; in a backlit room they see a dark, flat
//! face and call it a print (unseen webcam recordings: a backlit person at
//! median P(live) 0.22). Such a frame yields a reason the user can act on
//! (`BACKLIT` → guidance `AVOID_BACKLIGHT`, …) instead of a `FAIL`.
//!
//! The gate never makes a pass easier: the `passive` signal
//! ([`super::passive`]) votes `FAIL` only on the frames the gate accepts, and
//! a frame it holds back can only turn what would have been a `FAIL` into a
//! `RETRY`, which never passes (after the last attempt the transaction is
//! `INVALID`).

use serde::{Deserialize, Serialize};

use crate::frame::FrameQuality;
use crate::liveness::signal::reasons;

/// The gate's limits. Fixed a priori from what the models and the camera
/// can do (each default says why), not from the evaluation's error rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateConfig {
    /// Less of the face box than this inside the image: partly out of view.
    /// Default 0.85 (a face cut by the frame's edge loses the cheek or chin
    /// the crop's context needs).
    pub min_visible_fraction: f32,
    /// Interocular distance (source pixels) below which the face is too
    /// small for the passive crops. Default 20: the 2.7× crop of such a face
    /// is about 130 px, the fr-liveness input's own size; smaller faces reach
    /// the models upsampled.
    pub min_interocular_px: f32,
    /// Face (ArcFace crop) mean luminance below which it is too dark.
    /// Default 40 of 255: the camera's noise and compression dominate.
    pub min_brightness: f32,
    /// Face mean luminance above which it is over-exposed. Default 220.
    pub max_brightness: f32,
    /// Share of clipped face pixels (≤ 5 or ≥ 250) above which it is
    /// over- or under-exposed. Default 0.3.
    pub max_clipped: f32,
    /// Backlight: the surroundings at least this much brighter than the face
    /// (luminance levels)… Default 60: a quarter of the range; an evenly lit
    /// face and its room differ by a few tens at most.
    pub backlight_min_contrast: f32,
    /// …while the face itself is below this luminance. Default 128 (under
    /// mid-grey: the camera exposed for the light behind, and veiling glare
    /// lifts the face's dark parts).
    pub backlight_max_brightness: f32,
    /// Laplacian variance of the face crop below which it is blurred.
    /// Default 8 (a sharp webcam face measures tens to hundreds).
    pub min_sharpness: f32,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            min_visible_fraction: 0.85,
            min_interocular_px: 20.0,
            min_brightness: 40.0,
            max_brightness: 220.0,
            max_clipped: 0.3,
            backlight_min_contrast: 60.0,
            backlight_max_brightness: 128.0,
            min_sharpness: 8.0,
        }
    }
}

/// Why the gate holds a frame back (a reason code), or `None` when it lets
/// it vote. One reason per frame, the first of: not fully visible, too
/// small, backlit, too dark, over-exposed, blurred (backlight before
/// darkness: the advice differs).
pub fn gate(q: &FrameQuality, cfg: &GateConfig) -> Option<&'static str> {
    if q.visible_fraction < cfg.min_visible_fraction {
        return Some(reasons::FACE_NOT_FULLY_VISIBLE);
    }
    if q.interocular_px < cfg.min_interocular_px {
        return Some(reasons::FACE_TOO_SMALL);
    }
    if q.brightness < cfg.backlight_max_brightness
        && q.surround_brightness - q.brightness >= cfg.backlight_min_contrast
    {
        return Some(reasons::BACKLIT);
    }
    if q.brightness < cfg.min_brightness {
        return Some(reasons::FACE_TOO_DARK);
    }
    if q.brightness > cfg.max_brightness || q.clipped > cfg.max_clipped {
        return Some(reasons::FACE_OVEREXPOSED);
    }
    if q.sharpness < cfg.min_sharpness {
        return Some(reasons::FACE_BLURRED);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> FrameQuality {
        FrameQuality {
            interocular_px: 60.0,
            sharpness: 100.0,
            brightness: 130.0,
            clipped: 0.01,
            surround_brightness: 120.0,
            surround_saturated: 0.0,
            visible_fraction: 1.0,
        }
    }

    #[test]
    fn a_well_lit_sharp_face_in_view_votes() {
        assert_eq!(gate(&good(), &GateConfig::default()), None);
        // A dark room around a lit face is not backlight.
        let q = FrameQuality {
            surround_brightness: 20.0,
            ..good()
        };
        assert_eq!(gate(&q, &GateConfig::default()), None);
    }

    #[test]
    fn each_defect_has_its_reason() {
        let cfg = GateConfig::default();
        let with = |f: &dyn Fn(&mut FrameQuality)| {
            let mut q = good();
            f(&mut q);
            gate(&q, &cfg)
        };
        assert_eq!(
            with(&|q| {
                q.brightness = 70.0;
                q.surround_brightness = 200.0;
            }),
            Some(reasons::BACKLIT)
        );
        // Bright surroundings and a bright face: not backlit.
        assert_eq!(
            with(&|q| {
                q.brightness = 150.0;
                q.surround_brightness = 235.0;
            }),
            None
        );
        assert_eq!(
            with(&|q| {
                q.brightness = 30.0;
                q.surround_brightness = 35.0;
            }),
            Some(reasons::FACE_TOO_DARK)
        );
        assert_eq!(
            with(&|q| q.brightness = 235.0),
            Some(reasons::FACE_OVEREXPOSED)
        );
        assert_eq!(with(&|q| q.clipped = 0.5), Some(reasons::FACE_OVEREXPOSED));
        assert_eq!(with(&|q| q.sharpness = 3.0), Some(reasons::FACE_BLURRED));
        assert_eq!(
            with(&|q| q.interocular_px = 12.0),
            Some(reasons::FACE_TOO_SMALL)
        );
        assert_eq!(
            with(&|q| q.visible_fraction = 0.6),
            Some(reasons::FACE_NOT_FULLY_VISIBLE)
        );
    }
}
