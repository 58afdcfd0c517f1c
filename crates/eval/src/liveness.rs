//! Presentation-attack evaluation of the liveness signals on the shared data
//! (`pad/` and `video/`) and on extra sources from the package registries
//! (`scripts/fetch-liveness-extra`): APCER per attack source and BPCER per
//! bona fide source and per seeded hard-light augmentation of the bona fide
//! frames ([`crate::augment`]), with sample counts and Wilson 95 %
//! intervals, at the thresholds of [`LivenessConfig`] (fixed a priori, never
//! tuned here). The decision measured is the `passive` signal as the server
//! runs it: both models fused, behind the quality gate; a quality `RETRY`
//! counts as a rejection for BPCER and is reported apart from a `FAIL`. Each
//! model alone is reported beside it (its mean P(live) against 0.5, no gate).
//!
//! Recorded data cannot follow a live challenge, so only the passive signal
//! is measured directly. The challenge and the flash signals are evaluated by
//! documented simulations:
//! - **compliance**: the chance that a recorded pose trace satisfies a random
//!   challenge ([`ChallengeSpec::from_seed`]) laid over it at a random
//!   offset: what an unresponsive replay of that recording would get from the
//!   challenge signal alone;
//! - **flash**: the recorded live frames with a colour cast following the
//!   attempt's flash schedule (a face lit by the screen) or a different random
//!   schedule (a replay lit by another sequence), the cast applied to the
//!   measured skin colour (`flash::cast_gain`, strength 0.15, 100 ms lag).

use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_vision::decode::{decode_image, split_mjpeg, DecodeLimits};
use facegate_vision::frame::{FrameAnalyzer, FrameAnalyzerConfig, FrameFeatures, FrameOptions};
use facegate_vision::geometry::RgbF32;
use facegate_vision::liveness::challenge::{ChallengeSpec, SplitMix64};
use facegate_vision::liveness::compliance::{challenge_signal, trace};
use facegate_vision::liveness::flash::{cast_gain, flash_signal};
use facegate_vision::liveness::passive::{passive_signal, passive_signals};
use facegate_vision::liveness::{
    decide, reasons, Fusion, LivenessConfig, PassiveConfig, SignalResult, Verdict,
};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{self, RuntimeKind};
use facegate_vision::VisionError;
use serde::Serialize;

use crate::augment::Augmentation;
use crate::metrics::wilson_interval;

/// Frame interval of the simulated 15-fps capture (every 2nd frame of the
/// 30-fps recordings).
const FRAME_MS: u32 = 66;
/// Frames of a 1-s window at 15 fps.
const WINDOW: usize = 15;
/// NUAA sessions longer than this are split into interleaved units of about
/// 20 frames (the study's units).
const NUAA_UNIT: usize = 20;
/// Strength and lag of the simulated flash cast.
const CAST_STRENGTH: f32 = 0.15;
const CAST_LAG_MS: f32 = 100.0;

/// An error rate with its count and Wilson 95 % interval.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub errors: usize,
    pub n: usize,
    pub rate: f64,
    pub ci95: (f64, f64),
}

impl Rate {
    pub fn new(errors: usize, n: usize) -> Self {
        Self {
            errors,
            n,
            rate: if n == 0 {
                0.0
            } else {
                errors as f64 / n as f64
            },
            ci95: wilson_interval(errors, n),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}/{} = {:.1} % [{:.1}–{:.1}]",
            self.errors,
            self.n,
            100.0 * self.rate,
            100.0 * self.ci95.0,
            100.0 * self.ci95.1
        )
    }
}

/// One evaluated unit (a NUAA sub-sequence, a 1-s window, a still).
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    /// The source it belongs to (`nuaa/client`, `replay/<name>/real`,
    /// `video/<file>`, `extra/<name>/live`, …).
    pub source: String,
    pub name: String,
    /// The hard-light augmentation applied, if any.
    pub augmentation: Option<&'static str>,
    pub bona_fide: bool,
    pub frames: usize,
    pub face_frames: usize,
    /// The passive signal (fused, gated): its score, verdict and reasons.
    /// No measured face counts as a `RETRY`.
    pub passive: Option<f32>,
    pub verdict: Verdict,
    pub reasons: Vec<&'static str>,
    /// The same decision with the other fusion rule (the mean of the two
    /// models when the configuration fuses by the maximum, and the other way
    /// round).
    pub other_fusion_verdict: Verdict,
    /// Each model's mean P(live) over the unit, and its verdict at 0.5
    /// (no gate; no face: `RETRY`).
    pub fr_liveness: Option<f32>,
    pub fr_liveness_verdict: Verdict,
    pub minifasnet: Option<f32>,
    pub minifasnet_verdict: Verdict,
}

/// The error rates of one source (or of one augmentation over every bona
/// fide source).
#[derive(Debug, Clone, Serialize)]
pub struct SourceRates {
    pub source: String,
    pub augmentation: Option<&'static str>,
    pub bona_fide: bool,
    pub units: usize,
    pub passed: usize,
    pub failed: usize,
    pub retried: usize,
    /// BPCER (`FAIL` or `RETRY`) for a bona fide source, APCER (`PASS`) for
    /// an attack source: the fused, gated decision.
    pub error: Rate,
    /// The quality `RETRY`s alone.
    pub retry: Rate,
    /// The same error with the other fusion rule.
    pub other_fusion_error: Rate,
    /// The same error for each model alone.
    pub fr_liveness_error: Rate,
    pub minifasnet_error: Rate,
}

/// The passive decision's error rates.
#[derive(Debug, Clone, Serialize)]
pub struct PassiveResults {
    /// Print attacks (NUAA imposters, the silent_face poster, extra prints)
    /// accepted.
    pub apcer_print: Rate,
    /// Screen replays (replay/*/fake, the silent_face screen, extra
    /// replays) accepted.
    pub apcer_screen: Rate,
    /// Every bona fide unit without augmentation rejected.
    pub bpcer: Rate,
    /// Per source, without augmentation.
    pub sources: Vec<SourceRates>,
    /// Per augmentation over every augmented bona fide source.
    pub augmentations: Vec<SourceRates>,
    /// Per augmentation and source.
    pub augmented_sources: Vec<SourceRates>,
}

/// The compliance simulation of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceSimulation {
    pub source: String,
    pub bona_fide_recording: bool,
    /// Random challenges laid over the recording, and those it passed.
    pub passed: Rate,
    /// Reason codes and how often they occurred.
    pub reasons: Vec<(String, usize)>,
}

/// The flash simulation.
#[derive(Debug, Clone, Serialize)]
pub struct FlashSimulation {
    pub source: String,
    /// Lit by the attempt's own schedule and rejected (BPCER-like).
    pub rejected_when_following: Rate,
    /// Lit by another random schedule and accepted (APCER-like).
    pub accepted_when_not_following: Rate,
}

/// `liveness-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct LivenessReport {
    pub data: String,
    pub runtime: String,
    pub thresholds: LivenessConfig,
    pub passive: PassiveResults,
    /// The silent_face stills: file, bona fide, fused P(live).
    pub silent_face: Vec<(String, bool, Option<f32>)>,
    pub compliance_simulation: Vec<ComplianceSimulation>,
    pub flash_simulation: Vec<FlashSimulation>,
    /// Wall time of `decide` on whole simulated attempts (ms): median, max, n.
    pub decide_ms: (f64, f64, usize),
    /// Per-frame analysis time (ms, this process): median, n.
    pub analyze_ms: (f64, usize),
    pub units: Vec<Unit>,
    pub notes: Vec<String>,
}

/// What [`evaluate_liveness`] covers beyond the shared data.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Random challenges (and flash schedules) simulated per recording.
    pub simulations: usize,
    /// Also measure every bona fide frame under each hard-light
    /// augmentation.
    pub augment: bool,
    /// The extra sources' folder (`scripts/fetch-liveness-extra`), if any.
    pub extra: Option<PathBuf>,
}

struct Analyzer {
    inner: FrameAnalyzer,
    times: Vec<f64>,
}

/// One frame analysed as it was and under each augmentation (in
/// [`Augmentation::ALL`] order; empty when not augmented).
struct Analysed {
    original: FrameFeatures,
    augmented: Vec<FrameFeatures>,
}

impl Analyzer {
    fn run(
        &mut self,
        t_ms: u32,
        image: &RgbF32,
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let started = Instant::now();
        let f = self.inner.analyze(t_ms, image, opts)?;
        self.times.push(started.elapsed().as_secs_f64() * 1e3);
        Ok(f)
    }

    /// Analyses a JPEG frame and, with `augment` (and when the passive
    /// models run on it), the same frame under every augmentation, placed
    /// around the face found in the original.
    fn analyse(
        &mut self,
        t_ms: u32,
        bytes: &[u8],
        opts: FrameOptions,
        augment: bool,
        seed: u64,
    ) -> Result<Analysed, VisionError> {
        let rgb = decode_image(bytes, &DecodeLimits::default())?;
        let original = self.run(t_ms, &RgbF32::from_rgb8(&rgb), opts)?;
        let mut augmented = Vec::new();
        if augment && opts.passive {
            let face = original.face.as_ref().map(|f| f.detection.rect);
            for aug in Augmentation::ALL {
                let jpeg = aug.apply(&rgb, face, seed);
                let image = decode_image(&jpeg, &DecodeLimits::default())?;
                augmented.push(self.run(t_ms, &RgbF32::from_rgb8(&image), opts)?);
            }
        }
        Ok(Analysed {
            original,
            augmented,
        })
    }
}

/// The frames of one unit, as they were and under each augmentation.
struct Group {
    augment: bool,
    original: Vec<FrameFeatures>,
    augmented: Vec<Vec<FrameFeatures>>,
}

impl Group {
    fn new(augment: bool) -> Self {
        Self {
            augment,
            original: Vec::new(),
            augmented: if augment {
                vec![Vec::new(); Augmentation::ALL.len()]
            } else {
                Vec::new()
            },
        }
    }

    fn push(&mut self, frame: Analysed) {
        self.original.push(frame.original);
        for (list, f) in self.augmented.iter_mut().zip(frame.augmented) {
            list.push(f);
        }
    }

    /// The unit as it was, then one per augmentation.
    fn units(
        &self,
        source: &str,
        name: &str,
        bona_fide: bool,
        config: &LivenessConfig,
        out: &mut Vec<Unit>,
    ) {
        out.push(unit(source, name, None, bona_fide, &self.original, config));
        for (aug, frames) in Augmentation::ALL.iter().zip(&self.augmented) {
            if !frames.is_empty() {
                out.push(unit(
                    source,
                    name,
                    Some(aug.name()),
                    bona_fide,
                    frames,
                    config,
                ));
            }
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, VisionError> {
    std::fs::read(path).map_err(|e| VisionError::Decode(format!("{}: {e}", path.display())))
}

/// The face engine as the probes run it (`examples/light_probe.rs`,
/// `examples/still_probe.rs`): the default models and runtime, the passive
/// models on, no template.
pub fn passive_probe() -> Result<(FrameAnalyzer, FrameOptions), VisionError> {
    let store = ModelStore::open_default()?;
    let runtime = runtime::default_runtime()?;
    let analyzer = FrameAnalyzer::load(
        &store,
        runtime.as_ref(),
        FrameAnalyzerConfig {
            embedders: Vec::new(),
            ..FrameAnalyzerConfig::default()
        },
    )?;
    let opts = FrameOptions {
        passive: true,
        template: false,
    };
    Ok((analyzer, opts))
}

/// What the probes print of an analysed frame: the gate's measures, its
/// reason and each passive model's P(live).
pub fn probe_line(f: &FrameFeatures) -> String {
    use facegate_vision::liveness::gate::{gate, GateConfig};
    match &f.face {
        Some(face) => format!(
            "face {:5.1} surround {:5.1} sharp {:6.1} io {:5.1} gate {:?} fr {:.2} mf {:.2}",
            face.quality.brightness,
            face.quality.surround_brightness,
            face.quality.sharpness,
            face.quality.interocular_px,
            gate(&face.quality, &GateConfig::default()),
            face.passive.unwrap_or(f32::NAN),
            face.passive_minifasnet.unwrap_or(f32::NAN)
        ),
        None => "no face".to_owned(),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_owned()
}

/// The files of `dir` with one of `extensions`, sorted; none when the
/// folder is absent.
fn files(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, VisionError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| extensions.contains(&x.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// A stable seed for the augmentations of frame `i` of `name`.
fn seed_of(name: &str, i: usize) -> u64 {
    name.bytes().fold(0xA5A5_0000_u64 ^ i as u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// A unit from analysed frames: the passive signals over them.
fn unit(
    source: &str,
    name: &str,
    augmentation: Option<&'static str>,
    bona_fide: bool,
    frames: &[FrameFeatures],
    config: &LivenessConfig,
) -> Unit {
    let signals = passive_signals(frames, &config.passive);
    let measured = |s: &SignalResult| s.verdict != Verdict::NotApplicable;
    // No face at all: the server would ask for a retry; for an attack
    // that is not an acceptance, for a live person it is a rejection.
    let verdict = |s: &SignalResult| {
        if measured(s) {
            s.verdict
        } else {
            Verdict::Retry
        }
    };
    let score = |s: &SignalResult| measured(s).then_some(s.score);
    let (fused, fr, mf) = (&signals[0], &signals[1], &signals[2]);
    let other = PassiveConfig {
        fusion: match config.passive.fusion {
            Fusion::Max => Fusion::Mean,
            Fusion::Mean => Fusion::Max,
        },
        ..config.passive
    };
    let other = passive_signal(frames, &other);
    Unit {
        source: source.to_owned(),
        name: name.to_owned(),
        augmentation,
        bona_fide,
        frames: frames.len(),
        face_frames: frames.iter().filter(|f| f.face.is_some()).count(),
        passive: score(fused),
        verdict: verdict(fused),
        other_fusion_verdict: verdict(&other),
        reasons: if measured(fused) {
            fused.reasons.clone()
        } else {
            vec![reasons::FACE_NOT_FOUND]
        },
        fr_liveness: score(fr),
        fr_liveness_verdict: verdict(fr),
        minifasnet: score(mf),
        minifasnet_verdict: verdict(mf),
    }
}

/// One source of `scripts/fetch-liveness-extra` (`SOURCES.json`).
#[derive(Debug, Clone)]
pub struct ExtraSource {
    /// `extra/<name>/live` or `extra/<name>/attack`.
    pub name: String,
    pub bona_fide: bool,
    /// Print or screen, for an attack source (from `SOURCES.json`'s
    /// `attack_kind`; screen when absent).
    pub print: bool,
    pub videos: Vec<PathBuf>,
    pub stills: Vec<PathBuf>,
}

/// The extra sources under `dir`: `<name>/live/` and `<name>/attack/`, each
/// holding MJPEG videos and JPEG/PNG stills.
pub fn extra_sources(dir: &Path) -> Result<Vec<ExtraSource>, VisionError> {
    let manifest: serde_json::Value = std::fs::read_to_string(dir.join("SOURCES.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let print_sources: Vec<String> = manifest["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["attack_kind"].as_str() == Some("print"))
        .filter_map(|s| Some(s["name"].as_str()?.to_owned()))
        .collect();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    for source in names {
        let name = file_name(&source);
        for (kind, bona_fide) in [("live", true), ("attack", false)] {
            let videos = files(&source.join(kind), &["mjpeg"])?;
            let stills = files(&source.join(kind), &["jpg", "jpeg", "png"])?;
            if videos.is_empty() && stills.is_empty() {
                continue;
            }
            out.push(ExtraSource {
                name: format!("extra/{name}/{kind}"),
                bona_fide,
                print: print_sources.contains(&name),
                videos,
                stills,
            });
        }
    }
    Ok(out)
}

/// NUAA: frames of one `ID_glasses_pos_session`, in frame order, split into
/// interleaved units of about [`NUAA_UNIT`] frames.
fn nuaa_units(dir: &Path, list: &str) -> Result<Vec<(String, Vec<PathBuf>)>, VisionError> {
    let text = std::fs::read_to_string(dir.join(list))
        .map_err(|e| VisionError::Decode(format!("{}: {e}", dir.join(list).display())))?;
    let folder = if list.starts_with("client") {
        "ClientRaw"
    } else {
        "ImposterRaw"
    };
    let mut sessions: std::collections::BTreeMap<String, Vec<(u32, PathBuf)>> = Default::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.replace('\\', "/");
        let stem = Path::new(&line)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some((session, frame)) = stem.rsplit_once('_') else {
            continue;
        };
        let frame = frame.parse().unwrap_or(0);
        sessions
            .entry(session.to_owned())
            .or_default()
            .push((frame, dir.join(folder).join(&line)));
    }
    let mut units = Vec::new();
    for (session, mut frames) in sessions {
        frames.sort();
        let parts = frames.len().div_ceil(NUAA_UNIT + 1).max(1);
        for k in 0..parts {
            let paths: Vec<PathBuf> = frames
                .iter()
                .skip(k)
                .step_by(parts)
                .map(|(_, p)| p.clone())
                .collect();
            units.push((format!("nuaa/{session}#{k}"), paths));
        }
    }
    Ok(units)
}

/// The frames of a 30-fps MJPEG file as a 15-fps capture, each analysed with
/// the server's sampling (passive every 3rd frame, no templates), and the
/// 1-s windows as unit groups (with their augmented frames when `augment`).
fn video(
    a: &mut Analyzer,
    path: &Path,
    config: &LivenessConfig,
    augment: bool,
) -> Result<(Vec<FrameFeatures>, Vec<Group>), VisionError> {
    let bytes = read(path)?;
    let name = path.display().to_string();
    let mut frames = Vec::new();
    let mut groups = Vec::new();
    let jpegs: Vec<&[u8]> = split_mjpeg(&bytes).into_iter().step_by(2).collect();
    for (k, window) in jpegs.chunks(WINDOW).enumerate() {
        let mut group = Group::new(augment);
        for (j, jpeg) in window.iter().enumerate() {
            let i = k * WINDOW + j;
            let opts = FrameOptions {
                passive: config.sampling.options(i as u32).passive,
                template: false,
            };
            let analysed =
                a.analyse(i as u32 * FRAME_MS, jpeg, opts, augment, seed_of(&name, i))?;
            frames.push(analysed.original.clone());
            group.push(analysed);
        }
        // A trailing partial window is analysed (for the simulations) but
        // is not a unit.
        if window.len() == WINDOW {
            groups.push(group);
        }
    }
    Ok((frames, groups))
}

/// The rates of a set of units.
fn rates(
    source: &str,
    augmentation: Option<&'static str>,
    bona_fide: bool,
    set: &[&Unit],
) -> SourceRates {
    let count = |v: Verdict| set.iter().filter(|u| u.verdict == v).count();
    let error = |verdict: &dyn Fn(&Unit) -> Verdict| {
        let errors = set
            .iter()
            .filter(|u| (verdict(u) == Verdict::Pass) != bona_fide)
            .count();
        Rate::new(errors, set.len())
    };
    SourceRates {
        source: source.to_owned(),
        augmentation,
        bona_fide,
        units: set.len(),
        passed: count(Verdict::Pass),
        failed: count(Verdict::Fail),
        retried: count(Verdict::Retry),
        error: error(&|u| u.verdict),
        retry: Rate::new(count(Verdict::Retry), set.len()),
        other_fusion_error: error(&|u| u.other_fusion_verdict),
        fr_liveness_error: error(&|u| u.fr_liveness_verdict),
        minifasnet_error: error(&|u| u.minifasnet_verdict),
    }
}

/// Per source, per augmentation, and the headline rates.
fn passive_results(units: &[Unit], extra: &[ExtraSource]) -> PassiveResults {
    let mut sources: Vec<(String, bool)> = Vec::new();
    for u in units {
        if !sources.iter().any(|(s, _)| *s == u.source) {
            sources.push((u.source.clone(), u.bona_fide));
        }
    }
    let select =
        |f: &dyn Fn(&Unit) -> bool| -> Vec<&Unit> { units.iter().filter(|u| f(u)).collect() };
    let is_print = |u: &Unit| {
        u.source == "nuaa/imposter"
            || u.source == "silent_face/print"
            || extra.iter().any(|e| e.name == u.source && e.print)
    };
    let apcer = |print: bool| {
        let set = select(&|u| !u.bona_fide && u.augmentation.is_none() && is_print(u) == print);
        rates("", None, false, &set).error
    };
    let mut augmented_sources = Vec::new();
    let mut augmentations = Vec::new();
    for aug in Augmentation::ALL {
        let name = Some(aug.name());
        let set = select(&|u| u.augmentation == name);
        if set.is_empty() {
            continue;
        }
        augmentations.push(rates("every augmented bona fide source", name, true, &set));
        for (source, _) in sources.iter().filter(|(_, b)| *b) {
            let set = select(&|u| u.augmentation == name && u.source == *source);
            if !set.is_empty() {
                augmented_sources.push(rates(source, name, true, &set));
            }
        }
    }
    PassiveResults {
        apcer_print: apcer(true),
        apcer_screen: apcer(false),
        bpcer: rates(
            "",
            None,
            true,
            &select(&|u| u.bona_fide && u.augmentation.is_none()),
        )
        .error,
        sources: sources
            .iter()
            .map(|(source, bona_fide)| {
                let set = select(&|u| u.source == *source && u.augmentation.is_none());
                rates(source, None, *bona_fide, &set)
            })
            .collect(),
        augmentations,
        augmented_sources,
    }
}

/// `frames[from..]` re-timed so that `frames[from]` is at t = 0, up to
/// `duration_ms`.
fn window(frames: &[FrameFeatures], from: usize, duration_ms: u32) -> Vec<FrameFeatures> {
    let t0 = frames.get(from).map_or(0, |f| f.t_ms);
    frames[from.min(frames.len())..]
        .iter()
        .take_while(|f| f.t_ms - t0 <= duration_ms)
        .map(|f| {
            let mut f = f.clone();
            f.t_ms -= t0;
            f
        })
        .collect()
}

fn count(reasons: &mut Vec<(String, usize)>, r: &str) {
    match reasons.iter_mut().find(|(k, _)| k == r) {
        Some((_, n)) => *n += 1,
        None => reasons.push((r.to_owned(), 1)),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the whole evaluation. `simulations` random challenges are laid over
/// each recording for the compliance simulation (and flash schedules over
/// each live video).
pub fn evaluate_liveness(
    data: &Path,
    store: &ModelStore,
    runtime_kind: RuntimeKind,
    config: &LivenessConfig,
    options: &Options,
) -> Result<LivenessReport, VisionError> {
    let simulations = options.simulations;
    let rt = runtime::for_kind(runtime_kind)?;
    let mut a = Analyzer {
        inner: FrameAnalyzer::load(store, rt.as_ref(), FrameAnalyzerConfig::default())?,
        times: Vec::new(),
    };
    let passive_only = FrameOptions {
        passive: true,
        template: false,
    };
    let augment = options.augment;
    let mut units = Vec::new();
    // NUAA: every frame through the passive models (the frames are sparse).
    let nuaa = data.join("pad/nuaa");
    for (list, bona_fide, source) in [
        ("client_test.txt", true, "nuaa/client"),
        ("imposter_test.txt", false, "nuaa/imposter"),
    ] {
        for (name, paths) in nuaa_units(&nuaa, list)? {
            let mut group = Group::new(bona_fide && augment);
            for (i, p) in paths.iter().enumerate() {
                let seed = seed_of(&name, i);
                group.push(a.analyse(0, &read(p)?, passive_only, group.augment, seed)?);
            }
            group.units(source, &name, bona_fide, config, &mut units);
        }
    }
    // Videos: 1-s windows of a 15-fps capture.
    let mut recordings: Vec<(String, bool, bool, Vec<FrameFeatures>)> = Vec::new();
    let mut replay_dirs: Vec<PathBuf> = std::fs::read_dir(data.join("pad/replay"))
        .map_err(|e| VisionError::Decode(format!("pad/replay: {e}")))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_dir())
        .collect();
    replay_dirs.sort();
    let mut videos: Vec<(String, bool, bool, PathBuf)> = Vec::new();
    for dir in &replay_dirs {
        let name = file_name(dir);
        for (file, bona_fide, kind) in [
            ("real_30fps.mjpeg", true, "real"),
            ("fake_30fps.mjpeg", false, "fake"),
        ] {
            videos.push((
                format!("replay/{name}/{kind}"),
                bona_fide,
                false,
                dir.join(file),
            ));
        }
    }
    for path in files(&data.join("video"), &["mjpeg"])? {
        videos.push((format!("video/{}", file_name(&path)), true, true, path));
    }
    let extra = match &options.extra {
        Some(dir) => extra_sources(dir)?,
        None => Vec::new(),
    };
    for source in &extra {
        for path in &source.videos {
            videos.push((
                source.name.clone(),
                source.bona_fide,
                source.bona_fide,
                path.clone(),
            ));
        }
    }
    for (source, bona_fide, live, path) in videos {
        let (frames, groups) = video(&mut a, &path, config, bona_fide && augment)?;
        let stem = file_name(&path);
        for (k, group) in groups.into_iter().enumerate() {
            group.units(
                &source,
                &format!("{source}/{stem}@{k}s"),
                bona_fide,
                config,
                &mut units,
            );
        }
        recordings.push((format!("{source}/{stem}"), bona_fide, live, frames));
    }
    // Stills: the silent_face four and the extra sources' images.
    let silent = data.join("pad/silent_face");
    let mut stills: Vec<(String, bool, PathBuf)> = [
        ("image_F1.jpg", false, "silent_face/print"),
        ("image_F2.jpg", false, "silent_face/screen"),
        ("image_T1.jpg", true, "silent_face/real"),
        ("image_T2.jpg", true, "silent_face/real"),
    ]
    .into_iter()
    .map(|(file, bona_fide, source)| (source.to_owned(), bona_fide, silent.join(file)))
    .collect();
    for source in &extra {
        for path in &source.stills {
            stills.push((source.name.clone(), source.bona_fide, path.clone()));
        }
    }
    let mut silent_face = Vec::new();
    for (source, bona_fide, path) in stills {
        let name = format!("{source}/{}", file_name(&path));
        let mut group = Group::new(bona_fide && augment);
        group.push(a.analyse(
            0,
            &read(&path)?,
            passive_only,
            group.augment,
            seed_of(&name, 0),
        )?);
        let first = units.len();
        group.units(&source, &name, bona_fide, config, &mut units);
        if source.starts_with("silent_face/") {
            silent_face.push((file_name(&path), bona_fide, units[first].passive));
        }
    }
    let passive = passive_results(&units, &extra);
    // Compliance simulation, and decide timing on whole simulated attempts.
    let mut compliance = Vec::new();
    let mut decide_times = Vec::new();
    for (ri, (name, bona_fide, _, frames)) in recordings.iter().enumerate() {
        let mut rng = SplitMix64(0x5EED_0000 + ri as u64);
        let mut passed = 0;
        let mut reasons = Vec::new();
        let mut runs = 0;
        for _ in 0..simulations {
            let spec = ChallengeSpec::from_seed(rng.next_u64(), false);
            let span = (spec.duration_ms / FRAME_MS) as usize + 1;
            if frames.len() < span {
                break;
            }
            let from = rng.below((frames.len() - span + 1) as u64) as usize;
            let attempt = window(frames, from, spec.duration_ms);
            let tr = trace(&spec, &attempt, &config.challenge);
            let r = challenge_signal(&spec, &attempt, &tr, &config.challenge);
            runs += 1;
            if r.verdict == Verdict::Pass {
                passed += 1;
            }
            for reason in &r.reasons {
                count(&mut reasons, reason);
            }
            if decide_times.len() < 200 {
                let started = Instant::now();
                let _ = decide(&spec, &attempt, config);
                decide_times.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        compliance.push(ComplianceSimulation {
            source: name.clone(),
            bona_fide_recording: *bona_fide,
            passed: Rate::new(passed, runs),
            reasons,
        });
    }
    // Flash simulation on the live videos.
    let mut flash = Vec::new();
    for (ri, (name, _, live, frames)) in recordings.iter().enumerate() {
        if !live {
            continue;
        }
        let mut rng = SplitMix64(0xF1A5_0000 + ri as u64);
        let (mut rejected_own, mut accepted_other, mut n) = (0, 0, 0);
        for _ in 0..simulations {
            let spec = ChallengeSpec::from_seed(rng.next_u64(), true);
            let other = ChallengeSpec::from_seed(rng.next_u64(), true);
            let span = (spec.duration_ms / FRAME_MS) as usize + 1;
            if frames.len() < span {
                break;
            }
            let from = rng.below((frames.len() - span + 1) as u64) as usize;
            let attempt = window(frames, from, spec.duration_ms);
            let lit = |schedule: &ChallengeSpec| -> Vec<FrameFeatures> {
                attempt
                    .iter()
                    .map(|f| {
                        let mut f = f.clone();
                        if let Some(face) = f.face.as_mut() {
                            let g = cast_gain(
                                schedule.screen_at(f.t_ms as f32 - CAST_LAG_MS),
                                CAST_STRENGTH,
                            );
                            face.skin_rgb = [0, 1, 2].map(|c| (face.skin_rgb[c] * g[c]).min(255.0));
                        }
                        f
                    })
                    .collect()
            };
            n += 1;
            if flash_signal(&spec, &lit(&spec), &config.flash).verdict != Verdict::Pass {
                rejected_own += 1;
            }
            if flash_signal(&spec, &lit(&other), &config.flash).verdict == Verdict::Pass {
                accepted_other += 1;
            }
        }
        flash.push(FlashSimulation {
            source: name.clone(),
            rejected_when_following: Rate::new(rejected_own, n),
            accepted_when_not_following: Rate::new(accepted_other, n),
        });
    }
    let decide_ms = (
        median(decide_times.clone()),
        decide_times.iter().copied().fold(0.0, f64::max),
        decide_times.len(),
    );
    Ok(LivenessReport {
        data: data.display().to_string(),
        runtime: runtime_kind.to_string(),
        thresholds: config.clone(),
        passive,
        silent_face,
        compliance_simulation: compliance,
        flash_simulation: flash,
        decide_ms,
        analyze_ms: (median(a.times.clone()), a.times.len()),
        units,
        notes: vec![
            "Thresholds are LivenessConfig's defaults, fixed before this evaluation; nothing here tuned them.".into(),
            "The passive decision is the server's: fr-liveness and MiniFASNet fused per frame (liveness.passive.fusion; MiniFASNet only on faces turned 20° or less) and averaged over the frames behind the quality gate; 'other fusion' is the same decision with the other rule (max or mean); a quality RETRY counts as a rejection for BPCER and is reported apart (retried). Each model alone is judged by its mean P(live) against 0.5 without the gate.".into(),
            "Augmentations (crate::augment, seeded per frame): backlight, low light, colour cast, side light, low resolution, webcam noise and compression, applied to the bona fide frames that the passive models run on; their ranges were fixed before any result.".into(),
            "Only the passive signal is measured directly: recorded data cannot follow a live challenge.".into(),
            "Compliance: the share of random challenges (ChallengeSpec::from_seed, no flashes) laid at random offsets over a recording's 15-fps pose trace that the challenge signal passes; for an attack recording it is the acceptance of an unresponsive replay by the challenge alone; for a bona fide recording it says nothing about BPCER (the person did not see the challenge).".into(),
            format!("Flash: a simulation, the live videos' skin colour multiplied by flash::cast_gain(screen colour shown {CAST_LAG_MS} ms earlier, strength {CAST_STRENGTH}) of the attempt's own schedule or of another random schedule; it checks the detector logic, not real screen light."),
            "Windows of one video are correlated: the effective sample sizes are the sources (2 replay sources, 2 live people, 9 NUAA clients, 15 print subjects).".into(),
        ],
    })
}

/// The summary: the headline rates, then one line per source and per
/// augmentation.
pub fn summary(r: &LivenessReport) -> String {
    let p = &r.passive;
    let sim = |bona: bool| {
        let (passed, n) = r
            .compliance_simulation
            .iter()
            .filter(|c| c.bona_fide_recording == bona)
            .fold((0, 0), |(a, b), c| (a + c.passed.errors, b + c.passed.n));
        Rate::new(passed, n).describe()
    };
    let mut out = format!(
        "liveness (passive: fused, gated, at {:.2}): APCER print {} · screen {}; BPCER {}; \
         challenge simulation: random challenges passed by attack recordings {} (bona fide recordings {}); decide median {:.1} ms, max {:.0} ms over {} simulated attempts (only those of turning recordings run the parallax tracking)",
        r.thresholds.passive.threshold,
        p.apcer_print.describe(),
        p.apcer_screen.describe(),
        p.bpcer.describe(),
        sim(false),
        sim(true),
        r.decide_ms.0,
        r.decide_ms.1,
        r.decide_ms.2
    );
    for s in p.sources.iter().chain(&p.augmentations) {
        out.push_str(&format!(
            "\n  {:<40} {:<15} {} {} (retry {}, fail {}) · other fusion {} · fr-liveness {} · minifasnet {}",
            s.source,
            s.augmentation.unwrap_or("-"),
            if s.bona_fide { "BPCER" } else { "APCER" },
            s.error.describe(),
            s.retried,
            s.failed,
            s.other_fusion_error.describe(),
            s.fr_liveness_error.describe(),
            s.minifasnet_error.describe(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rates_carry_their_interval() {
        let r = Rate::new(0, 88);
        assert_eq!(r.rate, 0.0);
        assert!(r.ci95.1 > 0.03 && r.ci95.1 < 0.05);
        assert!(r.describe().starts_with("0/88 = 0.0 %"));
    }
}
