//! 1:1 comparison with calibrated thresholds. The thresholds and the
//! score-to-false-match-rate table come from `facegate eval lfw`
//! (`models/thresholds.json`: a live face against a facemap's templates)
//! and `facegate eval documents` (`models/document_thresholds.json`: a live
//! face against the portrait printed on an ID document, a different task
//! with its own operating point), measured on identities disjoint from
//! those that chose them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::embed::similarity_fn;
use crate::VisionError;

/// One operating point of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The false-match rate the threshold was chosen for.
    pub target_fmr: f64,
    /// Similarity at or above which two templates match.
    pub threshold: f32,
    /// Rates measured at this threshold on held-out identities.
    pub measured_fmr: f64,
    pub measured_tar: f64,
    pub test_impostor_pairs: usize,
    pub test_genuine_pairs: usize,
}

/// Calibration of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCalibration {
    pub model: String,
    /// The operating point used for decisions unless configured otherwise.
    pub default_target_fmr: f64,
    pub operating_points: Vec<OperatingPoint>,
    /// `(similarity, false-match rate)` pairs, similarity descending: the
    /// fraction of impostor pairs scoring above that similarity.
    pub score_to_fmr: Vec<(f32, f64)>,
    /// Document portraits only: where a selfie is the portrait's own
    /// picture rather than another picture of its holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_picture: Option<SamePicturePoint>,
}

/// The similarity above which a selfie is the very picture printed on the
/// document (the portrait's source image, shown to the camera), chosen so
/// that a given share of genuine pairs from different pictures reach it,
/// and measured on held-out identities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamePicturePoint {
    /// Share of genuine different-picture pairs of the calibration half at
    /// or above the threshold (what it was chosen for).
    pub target_flagged: f64,
    pub threshold: f32,
    /// Held-out genuine pairs of different pictures at or above it.
    pub measured_flagged: f64,
    /// Held-out same-picture pairs at or above it.
    pub measured_caught: f64,
    pub test_genuine_pairs: usize,
    pub test_same_picture_pairs: usize,
}

/// The calibration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// How it was measured (command, dataset, counts).
    pub source: String,
    pub models: Vec<ModelCalibration>,
}

impl Calibration {
    /// Selfie against a facemap (authentication).
    pub const FILE: &'static str = "thresholds.json";
    /// Selfie against an ID document's printed portrait (ID verification).
    pub const DOCUMENT_FILE: &'static str = "document_thresholds.json";

    /// The facemap calibration, [`Self::FILE`].
    pub fn load(models_dir: &Path) -> Result<Self, VisionError> {
        Self::load_file(models_dir, Self::FILE)
    }

    /// The document-portrait calibration, [`Self::DOCUMENT_FILE`].
    pub fn load_document(models_dir: &Path) -> Result<Self, VisionError> {
        Self::load_file(models_dir, Self::DOCUMENT_FILE)
    }

    fn load_file(models_dir: &Path, file: &str) -> Result<Self, VisionError> {
        let path = models_dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| VisionError::Model {
            model: file.into(),
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        serde_json::from_str(&text).map_err(|e| VisionError::Model {
            model: file.into(),
            detail: e.to_string(),
        })
    }

    pub fn model(&self, model: &str) -> Option<&ModelCalibration> {
        self.models.iter().find(|m| m.model == model)
    }
}

impl ModelCalibration {
    /// The operating point for `target_fmr` (the default when `None`).
    pub fn operating_point(&self, target_fmr: Option<f64>) -> Option<&OperatingPoint> {
        let target = target_fmr.unwrap_or(self.default_target_fmr);
        self.operating_points
            .iter()
            .find(|p| (p.target_fmr - target).abs() <= target * 1e-6)
    }

    /// The estimated false-match rate of a similarity: the share of impostor
    /// pairs that score at least this high, interpolated in log space.
    pub fn estimated_fmr(&self, similarity: f32) -> f64 {
        let table = &self.score_to_fmr;
        let Some(&(top, top_fmr)) = table.first() else {
            return 1.0;
        };
        if similarity >= top {
            return top_fmr;
        }
        for w in table.windows(2) {
            let ((s_hi, f_hi), (s_lo, f_lo)) = (w[0], w[1]);
            if similarity <= s_hi && similarity >= s_lo {
                let t = if s_hi > s_lo {
                    f64::from((s_hi - similarity) / (s_hi - s_lo))
                } else {
                    0.0
                };
                return (f_hi.ln() + t * (f_lo.ln() - f_hi.ln())).exp();
            }
        }
        table.last().map_or(1.0, |&(_, f)| f)
    }
}

/// The outcome of a 1:1 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub similarity: f32,
    pub threshold: f32,
    pub matched: bool,
    /// Estimated false-match rate at this similarity (lower = stronger evidence).
    pub estimated_fmr: f64,
}

/// Compares two templates of `calibration.model` at an operating point.
pub fn compare(
    calibration: &ModelCalibration,
    point: &OperatingPoint,
    a: &[f32],
    b: &[f32],
) -> Result<Comparison, VisionError> {
    let score = similarity_fn(&calibration.model).ok_or_else(|| VisionError::Model {
        model: calibration.model.clone(),
        detail: "no comparison function for this model".into(),
    })?;
    if a.len() != b.len() || a.is_empty() {
        return Err(VisionError::Inference(format!(
            "templates of {} and {} values",
            a.len(),
            b.len()
        )));
    }
    let similarity = score(a, b);
    Ok(Comparison {
        similarity,
        threshold: point.threshold,
        matched: similarity >= point.threshold,
        estimated_fmr: calibration.estimated_fmr(similarity),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn calibration() -> ModelCalibration {
        ModelCalibration {
            model: "fr-feature-512-v1".into(),
            default_target_fmr: 1e-4,
            operating_points: vec![OperatingPoint {
                target_fmr: 1e-4,
                threshold: 0.41,
                measured_fmr: 9e-5,
                measured_tar: 0.97,
                test_impostor_pairs: 1000,
                test_genuine_pairs: 10,
            }],
            score_to_fmr: vec![(0.5, 1e-6), (0.4, 1e-4), (0.2, 1e-2)],
            same_picture: None,
        }
    }

    #[test]
    fn the_estimated_fmr_interpolates_in_log_space() {
        let c = calibration();
        assert_eq!(c.estimated_fmr(0.9), 1e-6);
        assert!((c.estimated_fmr(0.45) - 1e-5).abs() < 1e-9);
        assert!((c.estimated_fmr(0.3) - 1e-3).abs() < 1e-9);
        assert_eq!(c.estimated_fmr(-1.0), 1e-2);
    }

    #[test]
    fn compare_decides_at_the_operating_point() {
        let c = calibration();
        let p = *c.operating_point(None).unwrap();
        let same = compare(&c, &p, &[1.0, 0.0], &[0.9, 0.1]).unwrap();
        assert!(same.matched && same.similarity > 0.9);
        let different = compare(&c, &p, &[1.0, 0.0], &[0.0, 1.0]).unwrap();
        assert!(!different.matched);
        assert!(compare(&c, &p, &[1.0], &[1.0, 0.0]).is_err());
    }
}
