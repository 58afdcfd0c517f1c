//! `facegate eval pairs`: false matches and false non-matches of any
//! labelled image pairs at the **shipped** operating point
//! (`models/thresholds.json`), not at a threshold chosen per fold, so the
//! numbers are what the server would decide on those faces.
//!
//! The pairs file has one pair per line, `image_a,image_b,label` (comma or
//! tab separated; the label `1`/`same`/`genuine` or `0`/`different`/
//! `impostor`); image paths are relative to the file's folder unless
//! absolute; empty lines and lines starting with `#` are skipped. An image
//! that cannot be read or decoded, or that holds no face, is a failure to
//! enrol: the pairs it is in are counted apart (and, for genuine pairs, also
//! in the false non-match rate that includes them), and the run goes on.

use std::path::{Path, PathBuf};

use facegate_vision::compare::Calibration;
use facegate_vision::embed::similarity_fn;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::PipelineConfig;
use facegate_vision::runtime::RuntimeKind;
use facegate_vision::VisionError;
use serde::Serialize;

use crate::liveness::Rate;
use crate::run::{embed_paths, PassStats};

/// One labelled pair, as indices into the image list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelledPair {
    pub a: usize,
    pub b: usize,
    pub genuine: bool,
}

/// A parsed pairs file: the distinct images and the pairs over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairsFile {
    pub images: Vec<PathBuf>,
    pub pairs: Vec<LabelledPair>,
}

/// Why a pairs file was refused: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PairsError {
    pub line: usize,
    pub message: String,
}

fn label(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "same" | "genuine" | "true" => Some(true),
        "0" | "different" | "impostor" | "false" => Some(false),
        _ => None,
    }
}

impl PairsFile {
    /// Parses `text`; relative image paths are resolved against `root`.
    pub fn parse(text: &str, root: &Path) -> Result<Self, PairsError> {
        let mut images: Vec<PathBuf> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut pairs = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: &str| PairsError {
                line: n + 1,
                message: message.to_owned(),
            };
            let fields: Vec<&str> = line.split([',', '\t']).map(str::trim).collect();
            let [a, b, l] = fields[..] else {
                return Err(error("expected image_a,image_b,label"));
            };
            if a.is_empty() || b.is_empty() {
                return Err(error("an image path is empty"));
            }
            let genuine = label(l)
                .ok_or_else(|| error("the label must be 1/same/genuine or 0/different/impostor"))?;
            let mut id = |p: &str| {
                let path = root.join(p);
                *index.entry(path.clone()).or_insert_with(|| {
                    images.push(path);
                    images.len() - 1
                })
            };
            let (a, b) = (id(a), id(b));
            pairs.push(LabelledPair { a, b, genuine });
        }
        if pairs.is_empty() {
            return Err(PairsError {
                line: 0,
                message: "no pairs".into(),
            });
        }
        Ok(Self { images, pairs })
    }
}

/// One pair the shipped threshold decided wrongly.
#[derive(Debug, Clone, Serialize)]
pub struct Error {
    pub image_a: String,
    pub image_b: String,
    pub score: f32,
}

/// `pairs-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PairsReport {
    pub pairs_file: String,
    pub model: String,
    /// The calibration's operating point the server decides at.
    pub target_fmr: f64,
    pub threshold: f32,
    pub images: usize,
    /// Images without a usable face (no face found, or unreadable).
    pub failures_to_enrol: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Genuine pairs with an image that failed to enrol.
    pub genuine_not_compared: usize,
    pub impostor_not_compared: usize,
    /// False non-matches over the compared genuine pairs.
    pub fnmr: Rate,
    /// The same with every genuine pair that could not be compared counted
    /// as a non-match (what a user would live through).
    pub fnmr_with_failures_to_enrol: Rate,
    /// False matches over the compared impostor pairs.
    pub fmr: Rate,
    pub false_matches: Vec<Error>,
    pub false_non_matches: Vec<Error>,
    pub pass: PassStats,
}

/// Runs the pairs of `file` through the shipped embedder and decides each at
/// the calibration's operating point (`target_fmr`, or its default).
pub fn evaluate_pairs(
    file: &Path,
    store: &ModelStore,
    runtime: RuntimeKind,
    target_fmr: Option<f64>,
    threads: usize,
) -> Result<PairsReport, VisionError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| VisionError::Decode(format!("{}: {e}", file.display())))?;
    let root = file.parent().unwrap_or(Path::new("."));
    let parsed = PairsFile::parse(&text, root)
        .map_err(|e| VisionError::Decode(format!("{}: {e}", file.display())))?;
    let config = PipelineConfig::default();
    let embedder = config
        .embedders
        .first()
        .copied()
        .ok_or_else(|| VisionError::Model {
            model: "embedder".into(),
            detail: "the pipeline has no embedder".into(),
        })?;
    let model = embedder.model_id();
    let calibration = Calibration::load(store.dir())?;
    let point = calibration
        .model(model)
        .and_then(|m| m.operating_point(target_fmr))
        .ok_or_else(|| VisionError::Model {
            model: model.into(),
            detail: "no calibrated operating point for this false-match rate".into(),
        })?;
    let score = similarity_fn(model).ok_or_else(|| VisionError::Model {
        model: model.into(),
        detail: "no similarity function".into(),
    })?;
    let (templates, pass) = embed_paths(&parsed.images, store, runtime, &config, threads)?;
    let templates = &templates[0];
    Ok(decide_pairs(
        file,
        &parsed,
        templates,
        model,
        (point.target_fmr, point.threshold),
        score,
        pass,
    ))
}

/// The report of `parsed`'s pairs given each image's template.
fn decide_pairs(
    file: &Path,
    parsed: &PairsFile,
    templates: &[Option<Vec<f32>>],
    model: &str,
    (target_fmr, threshold): (f64, f32),
    score: fn(&[f32], &[f32]) -> f32,
    pass: PassStats,
) -> PairsReport {
    let name = |i: usize| parsed.images[i].display().to_string();
    let (mut genuine, mut impostor) = (0, 0);
    let (mut genuine_lost, mut impostor_lost) = (0, 0);
    let mut false_matches = Vec::new();
    let mut false_non_matches = Vec::new();
    for p in &parsed.pairs {
        if p.genuine {
            genuine += 1;
        } else {
            impostor += 1;
        }
        let (Some(a), Some(b)) = (&templates[p.a], &templates[p.b]) else {
            if p.genuine {
                genuine_lost += 1;
            } else {
                impostor_lost += 1;
            }
            continue;
        };
        let s = score(a, b);
        let error = Error {
            image_a: name(p.a),
            image_b: name(p.b),
            score: s,
        };
        match (p.genuine, s >= threshold) {
            (true, false) => false_non_matches.push(error),
            (false, true) => false_matches.push(error),
            _ => {}
        }
    }
    false_matches.sort_by(|a, b| b.score.total_cmp(&a.score));
    false_non_matches.sort_by(|a, b| a.score.total_cmp(&b.score));
    PairsReport {
        pairs_file: file.display().to_string(),
        model: model.to_owned(),
        target_fmr,
        threshold,
        images: parsed.images.len(),
        failures_to_enrol: templates.iter().filter(|t| t.is_none()).count(),
        genuine_pairs: genuine,
        impostor_pairs: impostor,
        genuine_not_compared: genuine_lost,
        impostor_not_compared: impostor_lost,
        fnmr: Rate::new(false_non_matches.len(), genuine - genuine_lost),
        fnmr_with_failures_to_enrol: Rate::new(false_non_matches.len() + genuine_lost, genuine),
        fmr: Rate::new(false_matches.len(), impostor - impostor_lost),
        false_matches,
        false_non_matches,
        pass,
    }
}

/// The summary line.
pub fn summary(r: &PairsReport) -> String {
    format!(
        "{} at the shipped threshold {:.4} (target FMR {:e}): false matches {} of impostor pairs, \
         false non-matches {} of genuine pairs ({} counting the {} genuine pairs not compared); \
         {} of {} images failed to enrol ({} unreadable)",
        r.model,
        r.threshold,
        r.target_fmr,
        r.fmr.describe(),
        r.fnmr.describe(),
        r.fnmr_with_failures_to_enrol.describe(),
        r.genuine_not_compared,
        r.failures_to_enrol,
        r.images,
        r.pass.unreadable.len(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_pairs_file_names_each_image_once() {
        let text =
            "# a comment\na.jpg,b.jpg,1\n\nb.jpg\tc.jpg\tdifferent\n/abs/d.jpg, a.jpg ,impostor\n";
        let parsed = PairsFile::parse(text, Path::new("/data")).unwrap();
        assert_eq!(
            parsed.images,
            ["/data/a.jpg", "/data/b.jpg", "/data/c.jpg", "/abs/d.jpg"].map(PathBuf::from)
        );
        assert_eq!(
            parsed.pairs,
            vec![
                LabelledPair {
                    a: 0,
                    b: 1,
                    genuine: true
                },
                LabelledPair {
                    a: 1,
                    b: 2,
                    genuine: false
                },
                LabelledPair {
                    a: 3,
                    b: 0,
                    genuine: false
                },
            ]
        );
    }

    #[test]
    fn a_malformed_line_is_refused_with_its_number() {
        let root = Path::new(".");
        assert_eq!(PairsFile::parse("a,b,1\na,b\n", root).unwrap_err().line, 2);
        assert_eq!(PairsFile::parse("a,b,maybe\n", root).unwrap_err().line, 1);
        assert_eq!(PairsFile::parse(",b,1\n", root).unwrap_err().line, 1);
        assert!(PairsFile::parse("# nothing\n", root).is_err());
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panic(text in "\\PC{0,200}") {
            if let Ok(parsed) = PairsFile::parse(&text, Path::new("r")) {
                prop_assert!(!parsed.pairs.is_empty());
                for p in &parsed.pairs {
                    prop_assert!(p.a < parsed.images.len() && p.b < parsed.images.len());
                }
            }
        }
    }

    #[test]
    fn pairs_are_decided_at_the_given_threshold_and_failures_to_enrol_counted() {
        let parsed =
            PairsFile::parse("a,b,1\na,c,0\nb,d,1\nc,d,0\na,e,1\n", Path::new("")).unwrap();
        // a, b, c, d, e: d failed to enrol.
        let templates = vec![
            Some(vec![1.0]),
            Some(vec![0.2]),
            Some(vec![0.9]),
            None,
            Some(vec![0.8]),
        ];
        let pass = PassStats {
            images: 5,
            threads: 1,
            wall: Duration::ZERO,
            median_per_image: Duration::ZERO,
            unreadable: Vec::new(),
        };
        let product: fn(&[f32], &[f32]) -> f32 = |a, b| a[0] * b[0];
        let r = decide_pairs(
            Path::new("p"),
            &parsed,
            &templates,
            "m",
            (1e-4, 0.5),
            product,
            pass,
        );
        // a–b 0.2 < 0.5: a false non-match; a–e 0.8 a match; b–d not compared.
        assert_eq!((r.genuine_pairs, r.genuine_not_compared), (3, 1));
        assert_eq!((r.fnmr.errors, r.fnmr.n), (1, 2));
        assert_eq!(
            (
                r.fnmr_with_failures_to_enrol.errors,
                r.fnmr_with_failures_to_enrol.n
            ),
            (2, 3)
        );
        // a–c 0.9 ≥ 0.5: a false match; c–d not compared.
        assert_eq!((r.fmr.errors, r.fmr.n), (1, 1));
        assert_eq!(r.false_matches[0].score, 0.9);
        assert_eq!(r.failures_to_enrol, 1);
    }
}
