//! LFW View 2 from raw images: the 6,000 official pairs in 10 folds for
//! accuracy, and every pair of the images for error rates at low FMR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::metrics::{self, RocPoint, Scored};

/// One official pair (`pairs.csv`: fold,label,is_same,identity_a,image_a,identity_b,image_b).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub fold: usize,
    pub same: bool,
    pub a: usize,
    pub b: usize,
}

/// The evaluation set: image paths (relative to the data dir) with their
/// identity, and the official pairs as indices into them.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub root: PathBuf,
    pub images: Vec<String>,
    pub identities: Vec<String>,
    pub pairs: Vec<Pair>,
}

#[derive(Debug, thiserror::Error)]
pub enum LfwError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pairs.csv line {line}: {detail}")]
    Format { line: usize, detail: String },
}

impl Dataset {
    /// Reads `DIR/pairs.csv`; images are `DIR/<image path>`.
    pub fn open(dir: &Path) -> Result<Self, LfwError> {
        let path = dir.join("pairs.csv");
        let text = std::fs::read_to_string(&path).map_err(|source| LfwError::Io {
            path: path.clone(),
            source,
        })?;
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut images = Vec::new();
        let mut identities = Vec::new();
        let mut pairs = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            let err = |detail: &str| LfwError::Format {
                line: n + 1,
                detail: detail.to_owned(),
            };
            if f.len() != 7 {
                return Err(err("expected 7 columns"));
            }
            let fold = f[0].parse().map_err(|_| err("fold is not a number"))?;
            let same = match f[2] {
                "1" => true,
                "0" => false,
                _ => return Err(err("is_same must be 0 or 1")),
            };
            let mut id = |identity: &str, image: &str| {
                *index.entry(image.to_owned()).or_insert_with(|| {
                    images.push(image.to_owned());
                    identities.push(identity.to_owned());
                    images.len() - 1
                })
            };
            let a = id(f[3], f[4]);
            let b = id(f[5], f[6]);
            pairs.push(Pair { fold, same, a, b });
        }
        Ok(Self {
            root: dir.to_path_buf(),
            images,
            identities,
            pairs,
        })
    }

    pub fn image_path(&self, i: usize) -> PathBuf {
        self.root.join(&self.images[i])
    }
}

/// Results of one embedder (or fusion) on the dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub model: String,
    pub images: usize,
    pub failures_to_enrol: usize,
    pub official_pairs: usize,
    pub accuracy_mean: f64,
    pub accuracy_std: f64,
    pub folds: Vec<metrics::Fold>,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// TAR at the FMR targets, thresholds chosen on all pairs (as published numbers are).
    pub tar_at_fmr: Vec<TarAtFmr>,
    /// Identity-disjoint calibration: threshold chosen on identities of one
    /// half, rates measured on the other half.
    pub held_out: Vec<HeldOut>,
    pub roc: Vec<RocPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TarAtFmr {
    pub fmr: f64,
    pub threshold: f32,
    pub tar: f64,
    pub tar_ci95: (f64, f64),
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    pub target_fmr: f64,
    pub threshold: f32,
    pub measured_fmr: f64,
    pub measured_tar: f64,
    pub calibration_impostors: usize,
    pub test_impostors: usize,
    pub test_genuine: usize,
}

/// Genuine and impostor scores over every pair of the enrolled images.
/// `score(i, j)` is only called for images that enrolled.
pub fn all_pairs(
    identities: &[String],
    enrolled: &[bool],
    mut score: impl FnMut(usize, usize) -> f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = identities.len();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::with_capacity(n * n / 2));
    for i in 0..n {
        if !enrolled[i] {
            continue;
        }
        for j in (i + 1)..n {
            if !enrolled[j] {
                continue;
            }
            let s = score(i, j);
            if identities[i] == identities[j] {
                genuine.push(s);
            } else {
                impostor.push(s);
            }
        }
    }
    (genuine, impostor)
}

/// Builds the report from a score function over image indices.
/// `score(i, j)` returns `None` when an image failed to enrol.
pub fn evaluate(
    model: &str,
    data: &Dataset,
    enrolled: &[bool],
    fmrs: &[f64],
    score: impl Fn(usize, usize) -> f32,
) -> Report {
    let official: Vec<(usize, Scored)> = data
        .pairs
        .iter()
        .map(|p| {
            // A pair with an image that did not enrol is decided "different".
            let s = if enrolled[p.a] && enrolled[p.b] {
                score(p.a, p.b)
            } else {
                f32::NEG_INFINITY
            };
            (
                p.fold,
                Scored {
                    score: s,
                    same: p.same,
                },
            )
        })
        .collect();
    let (folds, accuracy_mean, accuracy_std) = metrics::k_fold_accuracy(&official);
    let (genuine, mut impostor) = all_pairs(&data.identities, enrolled, &score);
    let tar_at_fmr = fmrs
        .iter()
        .filter_map(|&fmr| {
            let threshold = metrics::threshold_at_fmr(&mut impostor, fmr)?;
            let accepted = genuine.iter().filter(|&&g| g > threshold).count();
            Some(TarAtFmr {
                fmr,
                threshold,
                tar: accepted as f64 / genuine.len().max(1) as f64,
                tar_ci95: metrics::wilson_interval(accepted, genuine.len()),
            })
        })
        .collect();
    let held_out = held_out(&data.identities, enrolled, fmrs, &score);
    impostor.sort_unstable_by(|a, b| b.total_cmp(a));
    let roc = metrics::roc(&genuine, &impostor, 1e-6, 10);
    Report {
        model: model.to_owned(),
        images: data.images.len(),
        failures_to_enrol: enrolled.iter().filter(|e| !**e).count(),
        official_pairs: official.len(),
        accuracy_mean,
        accuracy_std,
        folds,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        tar_at_fmr,
        held_out,
        roc,
    }
}

/// The half (0: calibration, 1: test) an identity falls in: a stable hash
/// of its name (FNV-1a), so every evaluation splits LFW the same way.
pub fn identity_half(name: &str) -> u32 {
    name.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    }) % 2
}

/// Splits identities in two halves (by a stable hash of the name), chooses
/// thresholds on the impostors within half A and measures FMR and TAR within
/// half B: no threshold is reported on the data that chose it.
fn held_out(
    identities: &[String],
    enrolled: &[bool],
    fmrs: &[f64],
    score: &impl Fn(usize, usize) -> f32,
) -> Vec<HeldOut> {
    let side: Vec<u32> = identities.iter().map(|n| identity_half(n)).collect();
    let subset = |s: u32| -> Vec<bool> {
        enrolled
            .iter()
            .zip(&side)
            .map(|(e, h)| *e && *h == s)
            .collect()
    };
    let (_, mut calibration) = all_pairs(identities, &subset(0), score);
    let (test_genuine, test_impostor) = all_pairs(identities, &subset(1), score);
    fmrs.iter()
        .filter_map(|&target_fmr| {
            let threshold = metrics::threshold_at_fmr(&mut calibration, target_fmr)?;
            Some(HeldOut {
                target_fmr,
                threshold,
                measured_fmr: metrics::rate_above(&test_impostor, threshold),
                measured_tar: metrics::rate_above(&test_genuine, threshold),
                calibration_impostors: calibration.len(),
                test_impostors: test_impostor.len(),
                test_genuine: test_genuine.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_pairs_splits_genuine_and_impostor() {
        let ids: Vec<String> = ["a", "a", "b", "c"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let (g, i) = all_pairs(&ids, &[true, true, true, true], |_, _| 1.0);
        assert_eq!((g.len(), i.len()), (1, 5));
        let (g, i) = all_pairs(&ids, &[true, false, true, true], |_, _| 1.0);
        assert_eq!((g.len(), i.len()), (0, 3));
    }
}
