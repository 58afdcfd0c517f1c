//! Runs the face pipeline over LFW and scores every pair: the engine behind
//! `facegate eval lfw`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use facegate_vision::detect::FaceChoice;
use facegate_vision::embed::similarity_fn;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use facegate_vision::runtime::{for_kind, RuntimeKind};
use facegate_vision::VisionError;
use serde::Serialize;

use crate::lfw::{evaluate, Dataset, Report};

/// Upper-triangular matrix of pair scores (i < j).
pub struct ScoreMatrix {
    n: usize,
    data: Vec<f32>,
}

impl ScoreMatrix {
    fn offset(&self, i: usize, j: usize) -> usize {
        let (i, j) = if i < j { (i, j) } else { (j, i) };
        i * (2 * self.n - i - 1) / 2 + (j - i - 1)
    }

    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[self.offset(i, j)]
    }

    /// Scores every pair of `templates` (missing ones score −∞), on `threads` threads.
    pub fn compute(
        templates: &[Option<Vec<f32>>],
        score: fn(&[f32], &[f32]) -> f32,
        threads: usize,
    ) -> Self {
        let n = templates.len();
        let rows: Vec<Vec<f32>> = {
            let next = AtomicUsize::new(0);
            let mut parts: Vec<Vec<(usize, Vec<f32>)>> = Vec::new();
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads.max(1))
                    .map(|_| {
                        s.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                if i >= n {
                                    return mine;
                                }
                                let row = ((i + 1)..n)
                                    .map(|j| match (&templates[i], &templates[j]) {
                                        (Some(a), Some(b)) => score(a, b),
                                        _ => f32::NEG_INFINITY,
                                    })
                                    .collect();
                                mine.push((i, row));
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    parts.push(h.join().unwrap_or_default());
                }
            });
            let mut rows: Vec<Vec<f32>> = vec![Vec::new(); n];
            for (i, row) in parts.into_iter().flatten() {
                rows[i] = row;
            }
            rows
        };
        Self {
            n,
            data: rows.into_iter().flatten().collect(),
        }
    }

    /// Mean and standard deviation of the finite scores (label-free, for fusion).
    pub fn moments(&self) -> (f64, f64) {
        let (mut sum, mut sq, mut count) = (0.0f64, 0.0f64, 0usize);
        for &v in self.data.iter().filter(|v| v.is_finite()) {
            sum += f64::from(v);
            sq += f64::from(v) * f64::from(v);
            count += 1;
        }
        let mean = sum / count.max(1) as f64;
        (
            mean,
            (sq / count.max(1) as f64 - mean * mean).max(0.0).sqrt(),
        )
    }

    /// Sum of z-normalised scores: score fusion without labels.
    pub fn fuse(matrices: &[&ScoreMatrix]) -> Option<Self> {
        let first = matrices.first()?;
        let moments: Vec<(f64, f64)> = matrices.iter().map(|m| m.moments()).collect();
        let data = (0..first.data.len())
            .map(|k| {
                matrices
                    .iter()
                    .zip(&moments)
                    .map(|(m, (mean, sd))| ((f64::from(m.data[k]) - mean) / sd.max(1e-12)) as f32)
                    .sum()
            })
            .collect();
        Some(Self { n: first.n, data })
    }
}

/// Per image, its template (`None` when no face was found).
pub type Templates = Vec<Option<Vec<f32>>>;
/// What one worker thread embedded: image index, templates per model, time,
/// and why the image could not be read when it could not.
type WorkerOutput = Result<Vec<(usize, Templates, Duration, Option<String>)>, VisionError>;

/// Timing of the embedding pass, and the images that could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct PassStats {
    pub images: usize,
    pub threads: usize,
    pub wall: Duration,
    pub median_per_image: Duration,
    /// Images that could not be read or decoded (e.g. a WebP named `.jpg`):
    /// failures to enrol, like an image without a face; the run goes on.
    pub unreadable: Vec<Unreadable>,
}

/// An image that could not be read or decoded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub image: String,
    pub reason: String,
}

/// Embeds every image of the dataset with every configured embedder.
/// Returns, per embedder, the template of each image (`None` when no face
/// or when the image cannot be read or decoded).
pub fn embed_all(
    data: &Dataset,
    store: &ModelStore,
    runtime: RuntimeKind,
    config: &PipelineConfig,
    threads: usize,
) -> Result<(Vec<Templates>, PassStats), VisionError> {
    let paths: Vec<std::path::PathBuf> =
        (0..data.images.len()).map(|i| data.image_path(i)).collect();
    embed_paths(&paths, store, runtime, config, threads)
}

/// [`embed_all`] over any list of image files.
pub fn embed_paths(
    paths: &[std::path::PathBuf],
    store: &ModelStore,
    runtime: RuntimeKind,
    config: &PipelineConfig,
    threads: usize,
) -> Result<(Vec<Templates>, PassStats), VisionError> {
    let n = paths.len();
    let models = config.embedders.len();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<WorkerOutput> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let rt = for_kind(runtime)?;
                    let mut pipeline = Pipeline::load(store, rt.as_ref(), config.clone())?;
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(mine);
                        }
                        let t = Instant::now();
                        let analysed = std::fs::read(&paths[i])
                            .map_err(|e| VisionError::Decode(e.to_string()))
                            .and_then(|bytes| pipeline.analyze_bytes(&bytes));
                        let elapsed = t.elapsed();
                        let (templates, unreadable) = match analysed {
                            Ok((Some(a), _)) => (
                                a.templates.into_iter().map(|t| Some(t.vector)).collect(),
                                None,
                            ),
                            Ok((None, _)) => (vec![None; models], None),
                            // The image itself is unusable: a failure to
                            // enrol, and the run goes on.
                            Err(e @ (VisionError::Decode(_) | VisionError::ImageBounds(_))) => {
                                (vec![None; models], Some(e.to_string()))
                            }
                            Err(e) => return Err(e),
                        };
                        mine.push((i, templates, elapsed, unreadable));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(VisionError::Inference("a worker panicked".into())))
            })
            .collect()
    });
    let mut per_model: Vec<Templates> = vec![vec![None; n]; models];
    let mut times = Vec::with_capacity(n);
    let mut unreadable = Vec::new();
    for part in results {
        for (i, templates, elapsed, why) in part? {
            for (m, t) in templates.into_iter().enumerate() {
                per_model[m][i] = t;
            }
            times.push(elapsed);
            if let Some(reason) = why {
                unreadable.push(Unreadable {
                    image: paths[i].display().to_string(),
                    reason,
                });
            }
        }
    }
    unreadable.sort_by(|a, b| a.image.cmp(&b.image));
    times.sort_unstable();
    let stats = PassStats {
        images: n,
        threads,
        wall: started.elapsed(),
        median_per_image: times.get(times.len() / 2).copied().unwrap_or_default(),
        unreadable,
    };
    Ok((per_model, stats))
}

/// The whole LFW evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct LfwResult {
    pub dataset: String,
    pub runtime: RuntimeKind,
    pub flip: bool,
    pub pass: PassStats,
    pub reports: Vec<Report>,
}

pub const FMR_TARGETS: [f64; 3] = [1e-3, 1e-4, 1e-5];

/// Runs the evaluation for the configured embedders and, when there are
/// several, their fusion.
pub fn evaluate_lfw(
    dir: &Path,
    store: &ModelStore,
    runtime: RuntimeKind,
    mut config: PipelineConfig,
    threads: usize,
) -> Result<LfwResult, VisionError> {
    let data = Dataset::open(dir).map_err(|e| VisionError::Decode(e.to_string()))?;
    // LFW images are centred on the person of interest.
    config.face_choice = FaceChoice::Central;
    let (templates, pass) = embed_all(&data, store, runtime, &config, threads)?;
    let mut reports = Vec::new();
    let mut matrices = Vec::new();
    for (kind, per_image) in config.embedders.iter().zip(&templates) {
        let model = kind.model_id();
        let score = similarity_fn(model).ok_or_else(|| VisionError::Model {
            model: model.into(),
            detail: "no similarity function".into(),
        })?;
        let enrolled: Vec<bool> = per_image.iter().map(Option::is_some).collect();
        let matrix = ScoreMatrix::compute(per_image, score, threads);
        reports.push(evaluate(model, &data, &enrolled, &FMR_TARGETS, |i, j| {
            matrix.get(i, j)
        }));
        matrices.push((enrolled, matrix));
    }
    if matrices.len() > 1 {
        let refs: Vec<&ScoreMatrix> = matrices.iter().map(|(_, m)| m).collect();
        if let Some(fused) = ScoreMatrix::fuse(&refs) {
            let enrolled: Vec<bool> = (0..data.images.len())
                .map(|i| matrices.iter().all(|(e, _)| e[i]))
                .collect();
            let name = config
                .embedders
                .iter()
                .map(|k| k.model_id())
                .collect::<Vec<_>>()
                .join("+");
            reports.push(evaluate(
                &format!("fusion({name})"),
                &data,
                &enrolled,
                &FMR_TARGETS,
                |i, j| fused.get(i, j),
            ));
        }
    }
    Ok(LfwResult {
        dataset: dir.display().to_string(),
        runtime,
        flip: config.flip,
        pass,
        reports,
    })
}

/// The calibration file `facegate eval lfw --write-calibration` produces:
/// operating points from the identity-disjoint held-out split, and the
/// score-to-FMR table from every cross-identity pair.
pub fn calibration(result: &LfwResult, command: &str) -> facegate_vision::compare::Calibration {
    use facegate_vision::compare::{Calibration, ModelCalibration, OperatingPoint};
    let models = result
        .reports
        .iter()
        .filter(|r| similarity_fn(&r.model).is_some())
        .map(|r| ModelCalibration {
            model: r.model.clone(),
            default_target_fmr: 1e-4,
            operating_points: r
                .held_out
                .iter()
                .map(|h| OperatingPoint {
                    target_fmr: h.target_fmr,
                    threshold: h.threshold,
                    measured_fmr: h.measured_fmr,
                    measured_tar: h.measured_tar,
                    test_impostor_pairs: h.test_impostors,
                    test_genuine_pairs: h.test_genuine,
                })
                .collect(),
            score_to_fmr: r.roc.iter().map(|p| (p.threshold, p.fmr)).collect(),
            same_picture: None,
        })
        .collect();
    Calibration {
        source: format!(
            "{command}: LFW {} images, thresholds chosen on the impostor pairs of one half of the identities and measured on the other half",
            result.pass.images
        ),
        models,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_matrix_indexes_every_pair_once() {
        let t: Vec<Option<Vec<f32>>> = (0..5).map(|i| Some(vec![i as f32])).collect();
        let m = ScoreMatrix::compute(&t, |a, b| a[0] * 10.0 + b[0], 2);
        assert_eq!(m.data.len(), 10);
        for i in 0..5 {
            for j in (i + 1)..5 {
                assert_eq!(m.get(i, j), (i * 10 + j) as f32);
                assert_eq!(m.get(j, i), (i * 10 + j) as f32);
            }
        }
    }
}
