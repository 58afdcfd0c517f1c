//! Per-image latency of the face pipeline on one thread: the engine behind
//! `facegate eval speed`.
//!
//! One [`Pipeline`] runs on the calling thread (every model session has one
//! intra-op thread) over a fixed list of images, after a warm-up on the first
//! images of that list. Each image is timed once, per stage: read + decode,
//! detect, landmarks (FaceMesh), align + embed, and the whole call. Pin the
//! process to one core (`taskset -c 0`) for numbers that mean "one core"; the
//! report records the CPU affinity and the load average so a reader can tell.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use facegate_vision::frame::Timings;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use facegate_vision::runtime::{for_kind, RuntimeKind};
use facegate_vision::VisionError;
use serde::Serialize;

use crate::lfw::{Dataset, LfwError};

#[derive(Debug, thiserror::Error)]
pub enum SpeedError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lfw(#[from] LfwError),
    #[error("{image}: {source}")]
    Vision { image: String, source: VisionError },
    #[error(transparent)]
    Setup(#[from] VisionError),
    #[error("no images to measure")]
    Empty,
}

/// The images to measure: paths relative to `root` (or absolute), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pub root: PathBuf,
    pub images: Vec<String>,
}

const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

impl ImageSet {
    /// A text file of image paths, one a line (blank lines and lines
    /// starting with `#` skipped); relative paths are taken from `root`, by
    /// default the list's own folder.
    pub fn from_list(file: &Path, root: Option<&Path>) -> Result<Self, SpeedError> {
        let text = std::fs::read_to_string(file).map_err(|source| SpeedError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let images = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => file.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        Ok(Self { root, images })
    }

    /// Every `.jpg`, `.jpeg` and `.png` under `dir`, recursively, sorted.
    pub fn from_dir(dir: &Path) -> Result<Self, SpeedError> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> Result<(), SpeedError> {
            let io = |source| SpeedError::Io {
                path: dir.to_path_buf(),
                source,
            };
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                if path.is_dir() {
                    walk(&path, base, out)?;
                } else if path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                {
                    let rel = path.strip_prefix(base).unwrap_or(&path);
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
            Ok(())
        }
        let mut images = Vec::new();
        walk(dir, dir, &mut images)?;
        images.sort();
        Ok(Self {
            root: dir.to_path_buf(),
            images,
        })
    }

    /// A list file or a folder, whichever `path` is.
    pub fn from_path(path: &Path, root: Option<&Path>) -> Result<Self, SpeedError> {
        if path.is_dir() {
            Self::from_dir(path)
        } else {
            Self::from_list(path, root)
        }
    }

    /// The distinct images of LFW's `pairs.csv` in order of first appearance,
    /// from the pairs of `folds` (all folds when empty).
    pub fn from_lfw(dir: &Path, folds: &[usize]) -> Result<Self, SpeedError> {
        let data = Dataset::open(dir)?;
        Ok(Self {
            root: dir.to_path_buf(),
            images: lfw_images(&data, folds),
        })
    }

    /// Keeps the first `n` images.
    #[must_use]
    pub fn limit(mut self, n: Option<usize>) -> Self {
        if let Some(n) = n {
            self.images.truncate(n);
        }
        self
    }

    pub fn path(&self, i: usize) -> PathBuf {
        self.root.join(&self.images[i])
    }
}

/// The distinct images of the pairs of `folds` (all when empty), in order of
/// first appearance.
pub fn lfw_images(data: &Dataset, folds: &[usize]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for pair in data
        .pairs
        .iter()
        .filter(|p| folds.is_empty() || folds.contains(&p.fold))
    {
        for i in [pair.a, pair.b] {
            if seen.insert(i) {
                out.push(data.images[i].clone());
            }
        }
    }
    out
}

/// Milliseconds spent on one image, per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageMs {
    /// Reading the file and decoding it to RGB.
    pub decode: f64,
    pub detect: f64,
    /// FaceMesh (0 when no face was found).
    pub landmarks: f64,
    /// Alignment and embedding (0 when no face was found).
    pub align_embed: f64,
    /// The whole image, read to templates (quality checks included).
    pub total: f64,
    /// `total` less `decode`: detect + landmarks + align + embed (+ quality).
    pub total_without_decode: f64,
}

/// One measured image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRecord {
    pub image: String,
    pub face: bool,
    pub ms: StageMs,
}

/// Order statistics of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    /// Nearest-rank 95th percentile.
    pub p95: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// Median (mean of the two middle values for an even count), nearest-rank
    /// p95, mean, min and max. Non-finite values are ignored.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Self {
            n,
            median,
            p95: v[rank - 1],
            mean: v.iter().sum::<f64>() / n as f64,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// Per-stage summaries. `landmarks` and `align_embed` cover the images with
/// a face; the others cover every image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageSummary {
    pub decode: Summary,
    pub detect: Summary,
    pub landmarks: Summary,
    pub align_embed: Summary,
    pub total: Summary,
    pub total_without_decode: Summary,
}

impl StageSummary {
    pub fn of(records: &[ImageRecord]) -> Self {
        let all = |f: fn(&StageMs) -> f64| {
            Summary::of(&records.iter().map(|r| f(&r.ms)).collect::<Vec<_>>())
        };
        let faces = |f: fn(&StageMs) -> f64| {
            Summary::of(
                &records
                    .iter()
                    .filter(|r| r.face)
                    .map(|r| f(&r.ms))
                    .collect::<Vec<_>>(),
            )
        };
        Self {
            decode: all(|m| m.decode),
            detect: all(|m| m.detect),
            landmarks: faces(|m| m.landmarks),
            align_embed: faces(|m| m.align_embed),
            total: all(|m| m.total),
            total_without_decode: all(|m| m.total_without_decode),
        }
    }
}

/// Facts about the machine and the process during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Machine {
    pub cpu_model: Option<String>,
    /// CPUs of the machine (`/proc/cpuinfo` processors).
    pub cpus_online: Option<usize>,
    /// CPUs this process may run on (`Cpus_allowed_list`, e.g. "0" under `taskset -c 0`).
    pub cpus_allowed: Option<String>,
    /// What the standard library thinks it may use (honours the affinity).
    pub available_parallelism: Option<usize>,
    /// Load average (1, 5, 15 min) before and after the timed pass.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    pub kernel: Option<String>,
}

impl Machine {
    /// Reads what Linux's `/proc` says; fields are `None` elsewhere.
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned());
        let processors = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cpus_allowed = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_owned())
            });
        Self {
            cpu_model,
            cpus_online: (processors > 0).then_some(processors),
            cpus_allowed,
            available_parallelism: std::thread::available_parallelism().ok().map(usize::from),
            load_before: load_average(),
            load_after: None,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        }
    }
}

/// `/proc/loadavg`'s three averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

/// The report of one speed run (JSON).
#[derive(Debug, Clone, Serialize)]
pub struct SpeedReport {
    pub tool: &'static str,
    pub runtime: RuntimeKind,
    pub embedders: Vec<&'static str>,
    pub detector: String,
    pub flip: bool,
    /// Threads the pipeline ran on, and intra-op threads of each model session.
    pub threads: usize,
    pub intra_op_threads: usize,
    pub root: String,
    pub warmup: usize,
    pub images: usize,
    pub faces_found: usize,
    pub summary: StageSummary,
    pub machine: Machine,
    pub records: Vec<ImageRecord>,
}

/// A speed run with, when kept, the templates of each image (per embedder,
/// `None` where no face was found).
#[derive(Debug, Clone)]
pub struct SpeedRun {
    pub report: SpeedReport,
    pub templates: Option<Vec<ImageTemplates>>,
}

/// One image's templates, one per embedder (`None` where no face was found).
pub type ImageTemplates = Vec<Option<Vec<f32>>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Reads and analyses one image; the decode stage includes the file read.
fn timed(
    pipeline: &mut Pipeline,
    set: &ImageSet,
    i: usize,
) -> Result<(bool, StageMs, ImageTemplates), SpeedError> {
    let vision = |source| SpeedError::Vision {
        image: set.images[i].clone(),
        source,
    };
    let path = set.path(i);
    let started = Instant::now();
    let bytes = std::fs::read(&path).map_err(|source| SpeedError::Io { path, source })?;
    let read = started.elapsed();
    let (analysis, t): (_, Timings) = pipeline.analyze_bytes(&bytes).map_err(vision)?;
    let total = started.elapsed();
    let decode = read + t.decode;
    let stages = StageMs {
        decode: ms(decode),
        detect: ms(t.detect),
        landmarks: ms(t.landmarks),
        align_embed: ms(t.embed),
        total: ms(total),
        total_without_decode: ms(total.saturating_sub(decode)),
    };
    let models = pipeline.config().embedders.len();
    Ok(match analysis {
        Some(a) => (
            true,
            stages,
            a.templates.into_iter().map(|t| Some(t.vector)).collect(),
        ),
        None => (false, stages, vec![None; models]),
    })
}

/// Runs one pipeline on this thread over `set`: `warmup` untimed images
/// first (the first ones of the set, repeated if the set is shorter), then
/// every image once, timed.
pub fn measure(
    set: &ImageSet,
    store: &ModelStore,
    runtime: RuntimeKind,
    config: PipelineConfig,
    warmup: usize,
    keep_templates: bool,
) -> Result<SpeedRun, SpeedError> {
    if set.images.is_empty() {
        return Err(SpeedError::Empty);
    }
    let rt = for_kind(runtime)?;
    let mut pipeline = Pipeline::load(store, rt.as_ref(), config.clone())?;
    for k in 0..warmup {
        timed(&mut pipeline, set, k % set.images.len())?;
    }
    let mut machine = Machine::probe();
    let mut records = Vec::with_capacity(set.images.len());
    let mut templates: Vec<ImageTemplates> = vec![Vec::new(); config.embedders.len()];
    for i in 0..set.images.len() {
        let (face, stages, per_model) = timed(&mut pipeline, set, i)?;
        records.push(ImageRecord {
            image: set.images[i].clone(),
            face,
            ms: stages,
        });
        if keep_templates {
            for (m, t) in per_model.into_iter().enumerate() {
                templates[m].push(t);
            }
        }
    }
    machine.load_after = load_average();
    let report = SpeedReport {
        tool: "facegate",
        runtime,
        embedders: config.embedders.iter().map(|e| e.model_id()).collect(),
        detector: format!("{:?}", config.detector),
        flip: config.flip,
        threads: 1,
        intra_op_threads: 1,
        root: set.root.display().to_string(),
        warmup,
        images: records.len(),
        faces_found: records.iter().filter(|r| r.face).count(),
        summary: StageSummary::of(&records),
        machine,
        records,
    };
    Ok(SpeedRun {
        report,
        templates: keep_templates.then_some(templates),
    })
}

/// The summary as a Markdown table (ms per image).
pub fn table(report: &SpeedReport) -> String {
    let s = &report.summary;
    let rows = [
        ("read + decode", &s.decode),
        ("detect (BlazeFace)", &s.detect),
        ("landmarks (FaceMesh)", &s.landmarks),
        ("align + embed", &s.align_embed),
        ("total without decode", &s.total_without_decode),
        ("total", &s.total),
    ];
    let mut out =
        String::from("| stage | n | median ms | p95 ms | mean ms |\n|---|---|---|---|---|\n");
    for (name, x) in rows {
        out.push_str(&format!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} |\n",
            x.n, x.median, x.p95, x.mean
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_uses_the_middle_mean_and_nearest_rank_p95() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(
            (s.n, s.median, s.p95, s.mean, s.min, s.max),
            (4, 2.5, 4.0, 2.5, 1.0, 4.0)
        );
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        let s = Summary::of(&v);
        assert_eq!((s.median, s.p95), (100.5, 190.0));
        assert_eq!(Summary::of(&[7.0]).p95, 7.0);
        assert_eq!(Summary::of(&[]).n, 0);
        assert_eq!(Summary::of(&[f64::NAN, 1.0]).n, 1);
    }

    #[test]
    fn stage_summary_counts_landmarks_only_where_a_face_was_found() {
        let rec = |face, v| ImageRecord {
            image: String::new(),
            face,
            ms: StageMs {
                decode: v,
                detect: v,
                landmarks: v,
                align_embed: v,
                total: v,
                total_without_decode: v,
            },
        };
        let s = StageSummary::of(&[rec(true, 1.0), rec(false, 3.0), rec(true, 2.0)]);
        assert_eq!(s.total.n, 3);
        assert_eq!(s.landmarks.n, 2);
        assert_eq!(s.landmarks.median, 1.5);
    }

    #[test]
    fn image_lists_skip_comments_and_resolve_against_the_root() -> Result<(), SpeedError> {
        let dir = std::env::temp_dir().join(format!("facegate-speed-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).map_err(|source| SpeedError::Io {
            path: dir.clone(),
            source,
        })?;
        let list = dir.join("list.txt");
        let io = |source| SpeedError::Io {
            path: list.clone(),
            source,
        };
        std::fs::write(&list, "# images\na/x.jpg\n\n  a/y.png \n").map_err(io)?;
        std::fs::write(dir.join("a/x.jpg"), b"").map_err(io)?;
        std::fs::write(dir.join("a/y.PNG"), b"").map_err(io)?;
        std::fs::write(dir.join("a/notes.txt"), b"").map_err(io)?;
        let set = ImageSet::from_path(&list, None)?;
        assert_eq!(set.images, ["a/x.jpg", "a/y.png"]);
        assert_eq!(set.path(0), dir.join("a/x.jpg"));
        assert_eq!(set.clone().limit(Some(1)).images.len(), 1);
        let set = ImageSet::from_path(&dir, None)?;
        assert_eq!(set.images, ["a/x.jpg", "a/y.PNG"]);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn lfw_images_are_distinct_in_order_of_appearance() -> Result<(), SpeedError> {
        let dir = std::env::temp_dir().join(format!("facegate-speed-lfw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| SpeedError::Io {
            path: dir.clone(),
            source,
        })?;
        let csv = "fold,label,is_same,identity_a,image_a,identity_b,image_b\n\
                   1,same,1,A,A/1.jpg,A,A/2.jpg\n\
                   1,diff,0,A,A/1.jpg,B,B/1.jpg\n\
                   2,same,1,C,C/1.jpg,C,C/2.jpg\n";
        std::fs::write(dir.join("pairs.csv"), csv).map_err(|source| SpeedError::Io {
            path: dir.clone(),
            source,
        })?;
        assert_eq!(
            ImageSet::from_lfw(&dir, &[])?.images,
            ["A/1.jpg", "A/2.jpg", "B/1.jpg", "C/1.jpg", "C/2.jpg"]
        );
        assert_eq!(
            ImageSet::from_lfw(&dir, &[2])?.images,
            ["C/1.jpg", "C/2.jpg"]
        );
        assert_eq!(
            ImageSet::from_lfw(&dir, &[])?.limit(Some(2)).images,
            ["A/1.jpg", "A/2.jpg"]
        );
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
