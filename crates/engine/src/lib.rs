//! The face engine of the capture service on the real models (the
//! implementation of `facegate_core::FaceEngine`): frames are decoded and
//! analysed (BlazeFace, FaceMesh, and on sampled frames the passive model
//! and the embedding) on a bounded pool of worker threads as they arrive;
//! `finish` runs the liveness signals on the analysed frames and compares
//! the best frame with the facemap's template, or an ID document portrait's,
//! at the calibrated operating point of that comparison
//! (`models/thresholds.json` for facemaps, `models/document_thresholds.json`
//! for document portraits: a printed portrait is a harder task with its own
//! threshold). It reports findings; the outcome and the user's guidance are
//! decided by `facegate_domain::decide_attempt`.
//!
//! Model sessions load on the first attempt (not at start-up) and are shared
//! by every server of the process.

pub mod documents;

pub use documents::VisionDocumentEngine;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, ComparisonTarget, EngineError, FaceEngine,
    FrameAnalysis, FrameInput, FrameResult,
};
use facegate_domain::{
    Challenge, Direction, Findings, FrameCounts, LivenessRecord, LivenessVerdict, SignalRecord,
    SimilarityRecord,
};
use facegate_vision::compare::Calibration;
use facegate_vision::decode::DecodeLimits;
use facegate_vision::embed::{similarity_fn, EmbedderKind};
use facegate_vision::frame::{FrameAnalyzer, FrameAnalyzerConfig, FrameFeatures};
use facegate_vision::liveness::identity::facemap_frames;
use facegate_vision::liveness::{
    self, decide, ChallengeSpec, LivenessConfig, LivenessDecision, Verdict,
};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{for_kind, RuntimeKind};
use tokio::sync::Semaphore;

/// Liveness images kept per transaction.
const LIVENESS_IMAGES: usize = 4;

/// The engine's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    pub runtime: RuntimeKind,
    /// Worker threads (each with its own model sessions).
    pub workers: usize,
    pub liveness: LivenessConfig,
    /// The false-match rate whose threshold decides a match with a
    /// facemap (the facemap calibration's default when `None`).
    pub target_fmr: Option<f64>,
    /// The false-match rate whose threshold decides a match with an ID
    /// document's portrait (the document calibration's default when
    /// `None`).
    pub document_target_fmr: Option<f64>,
    /// Bounds on a frame's decode: the capture upload limits.
    pub frame_limits: DecodeLimits,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::default(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            liveness: LivenessConfig::default(),
            target_fmr: None,
            document_target_fmr: None,
            frame_limits: DecodeLimits::default(),
        }
    }
}

/// The operating points a selfie is compared at, one per
/// [`ComparisonTarget`].
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrations {
    /// A live face against a facemap's templates (`models/thresholds.json`).
    pub facemap: Calibration,
    /// A live face against an ID document's printed portrait
    /// (`models/document_thresholds.json`).
    pub document: Calibration,
}

impl Calibrations {
    /// Both files from the models folder; either missing is a broken
    /// installation.
    pub fn load(models_dir: &Path) -> Result<Self, facegate_vision::VisionError> {
        Ok(Self {
            facemap: Calibration::load(models_dir)?,
            document: Calibration::load_document(models_dir)?,
        })
    }

    /// The calibration a comparison with `target` is decided with.
    pub fn for_target(&self, target: ComparisonTarget) -> &Calibration {
        match target {
            ComparisonTarget::Facemap => &self.facemap,
            ComparisonTarget::DocumentPortrait => &self.document,
        }
    }
}

/// Model sessions and calibrations, loaded once.
struct Loaded {
    store: ModelStore,
    calibrations: Calibrations,
    runtime: RuntimeKind,
    decode: DecodeLimits,
    /// Whether the MiniFASNet pair runs beside fr-liveness
    /// (`liveness.passive.minifasnet`).
    minifasnet: bool,
    /// Idle analysers, each with the embedder of its kind.
    idle: Mutex<Vec<(EmbedderKind, FrameAnalyzer)>>,
}

impl Loaded {
    fn checkout(&self, kind: EmbedderKind) -> Result<FrameAnalyzer, String> {
        {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = idle.iter().position(|(k, _)| *k == kind) {
                return Ok(idle.swap_remove(i).1);
            }
        }
        let runtime = for_kind(self.runtime).map_err(|e| e.to_string())?;
        FrameAnalyzer::load(
            &self.store,
            runtime.as_ref(),
            FrameAnalyzerConfig {
                embedders: vec![kind],
                decode: self.decode,
                minifasnet: self.minifasnet,
                ..FrameAnalyzerConfig::default()
            },
        )
        .map_err(|e| e.to_string())
    }

    fn checkin(&self, kind: EmbedderKind, analyzer: FrameAnalyzer) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((kind, analyzer));
    }
}

/// The engine: see the module documentation.
pub struct VisionEngine {
    settings: EngineSettings,
    loaded: OnceLock<Result<Arc<Loaded>, String>>,
    /// Worker threads free to analyse a frame.
    permits: Arc<Semaphore>,
    /// Frames analysed since start (whatever their attempt's fate).
    analysed: Arc<AtomicU64>,
}

fn embedder_for(model: &str) -> Option<EmbedderKind> {
    [
        EmbedderKind::FrFeatureInt8,
        EmbedderKind::FrFeature,
        EmbedderKind::DlibResnet,
    ]
    .into_iter()
    .find(|k| k.model_id() == model)
}

impl VisionEngine {
    pub fn new(settings: EngineSettings) -> Self {
        let workers = settings.workers.max(1);
        Self {
            settings,
            loaded: OnceLock::new(),
            permits: Arc::new(Semaphore::new(workers)),
            analysed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many frames this engine has analysed so far.
    pub fn frames_analysed(&self) -> u64 {
        self.analysed.load(Ordering::Relaxed)
    }

    /// One engine per process and settings, shared by every server in it
    /// (tests start many; the models load once).
    pub fn shared(settings: EngineSettings) -> Arc<VisionEngine> {
        static SHARED: Mutex<Vec<Arc<VisionEngine>>> = Mutex::new(Vec::new());
        let mut engines = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(engine) = engines.iter().find(|e| e.settings == settings) {
            return engine.clone();
        }
        let engine = Arc::new(VisionEngine::new(settings));
        engines.push(engine.clone());
        engine
    }

    fn loaded(&self) -> Result<Arc<Loaded>, EngineError> {
        self.loaded
            .get_or_init(|| {
                let store = ModelStore::open_default().map_err(|e| e.to_string())?;
                let calibrations = Calibrations::load(store.dir()).map_err(|e| e.to_string())?;
                Ok(Arc::new(Loaded {
                    store,
                    calibrations,
                    runtime: self.settings.runtime,
                    decode: self.settings.frame_limits,
                    minifasnet: self.settings.liveness.passive.minifasnet,
                    idle: Mutex::new(Vec::new()),
                }))
            })
            .clone()
            .map_err(EngineError)
    }
}

/// The template of the (largest) face in an image, with the shipped
/// embedder: what an enrollment's selfie becomes (the development `enrollment
/// demo --face-image` and the tests enrol with it until enrollment capture
/// exists). Returns the model id and the template.
pub fn enrollment_template(image: &[u8]) -> anyhow::Result<(String, Vec<f32>)> {
    use facegate_vision::pipeline::{Pipeline, PipelineConfig};
    let store = ModelStore::open_default()?;
    let runtime = facegate_vision::runtime::default_runtime()?;
    let mut pipeline = Pipeline::load(&store, runtime.as_ref(), PipelineConfig::default())?;
    let (analysis, _) = pipeline.analyze_bytes(image)?;
    let template = analysis
        .and_then(|a| a.templates.into_iter().next())
        .ok_or_else(|| anyhow::anyhow!("no face found"))?;
    Ok((template.model.to_owned(), template.vector))
}

/// The vision crate's view of a challenge.
pub fn challenge_spec(challenge: &Challenge) -> ChallengeSpec {
    ChallengeSpec {
        duration_ms: challenge.duration_ms,
        neutral: (challenge.neutral.start_ms, challenge.neutral.end_ms),
        steps: challenge
            .steps
            .iter()
            .map(|s| liveness::Step {
                direction: match s.direction {
                    Direction::Left => liveness::Direction::Left,
                    Direction::Right => liveness::Direction::Right,
                    Direction::Up => liveness::Direction::Up,
                    Direction::Down => liveness::Direction::Down,
                },
                start_ms: s.start_ms,
                end_ms: s.end_ms,
            })
            .collect(),
        flashes: challenge
            .flashes
            .iter()
            .filter_map(|f| {
                Some(liveness::Flash {
                    rgb: f.rgb()?,
                    start_ms: f.start_ms,
                    end_ms: f.end_ms,
                })
            })
            .collect(),
    }
}

/// Encodes a frame's features for storage: CBOR, which keeps every `f32`
/// exactly, so a decision from stored features is the decision from the
/// features themselves.
fn encode_features(features: &FrameFeatures) -> Result<Vec<u8>, EngineError> {
    let mut out = Vec::new();
    ciborium::into_writer(features, &mut out)
        .map_err(|e| EngineError(format!("encoding frame features: {e}")))?;
    Ok(out)
}

/// Reads back what [`encode_features`] wrote; anything else is refused.
fn decode_features(bytes: &[u8]) -> Result<FrameFeatures, EngineError> {
    ciborium::from_reader(bytes)
        .map_err(|e| EngineError(format!("stored frame features do not decode: {e}")))
}

#[async_trait]
impl FaceEngine for VisionEngine {
    fn supports_model(&self, model: &str) -> bool {
        embedder_for(model).is_some()
    }

    /// Loads the model store and calibration, and one analyser so that the
    /// model sessions of the first attempt are warm.
    fn ready(&self) -> Result<(), EngineError> {
        let loaded = self.loaded()?;
        let warm = loaded
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|(k, _)| *k == EmbedderKind::FrFeatureInt8);
        if !warm {
            let analyzer = loaded
                .checkout(EmbedderKind::FrFeatureInt8)
                .map_err(EngineError)?;
            loaded.checkin(EmbedderKind::FrFeatureInt8, analyzer);
        }
        Ok(())
    }

    async fn analyse_frame(
        &self,
        model: &str,
        frame: FrameInput,
    ) -> Result<FrameAnalysis, EngineError> {
        let loaded = self.loaded()?;
        let kind = embedder_for(model).unwrap_or(EmbedderKind::FrFeatureInt8);
        let options = self.settings.liveness.sampling.options(frame.index);
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| EngineError(e.to_string()))?;
        let analysed = self.analysed.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut analyzer = loaded.checkout(kind).map_err(EngineError)?;
            let result = analyzer.analyze_bytes(frame.t_ms, &frame.jpeg, options);
            loaded.checkin(kind, analyzer);
            analysed.fetch_add(1, Ordering::Relaxed);
            Ok::<_, EngineError>(result)
        })
        .await
        .map_err(|e| EngineError(e.to_string()))??;
        match result {
            Ok(features) => Ok(FrameAnalysis::Analysed {
                features: encode_features(&features)?,
                // Only the sampled frames that get a template may become an
                // image (the best frame is one of them), so an attempt keeps
                // at most a fifth of its uploads.
                keep_jpeg: options.template,
            }),
            // A frame that does not decode is a frame without a face.
            Err(_) => Ok(FrameAnalysis::Undecodable),
        }
    }

    async fn conclude(
        &self,
        context: AttemptContext,
        mut frames: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        let loaded = self.loaded()?;
        frames.sort_by_key(|f| f.index);
        let config = self.settings.liveness.clone();
        let target_fmr = match context.target {
            ComparisonTarget::Facemap => self.settings.target_fmr,
            ComparisonTarget::DocumentPortrait => self.settings.document_target_fmr,
        };
        tokio::task::spawn_blocking(move || {
            let spec = challenge_spec(&context.challenge);
            let mut counts = FrameCounts {
                received: frames.len(),
                ..FrameCounts::default()
            };
            let mut features = Vec::with_capacity(frames.len());
            let mut jpegs = Vec::with_capacity(frames.len());
            for frame in frames {
                match frame.result {
                    FrameResult::Analysed { features: f, jpeg } => {
                        features.push(decode_features(&f)?);
                        jpegs.push(jpeg);
                    }
                    FrameResult::Undecodable => counts.undecodable += 1,
                    FrameResult::Skipped => counts.skipped += 1,
                }
            }
            let decision = decide(&spec, &features, &config);
            let facemap_templates = facemap_frames(&features, decision.best_frame)
                .into_iter()
                .filter_map(|i| features.get(i)?.face.as_ref()?.template.as_ref())
                .map(|t| t.vector.clone())
                .collect();
            Ok(AttemptFindings {
                templates: facemap_templates,
                findings: findings(
                    &decision,
                    counts,
                    &features,
                    loaded.calibrations.for_target(context.target),
                    &context.model,
                    &context.templates,
                    target_fmr,
                ),
                face_image: decision.best_frame.and_then(|i| jpegs.get(i)?.clone()),
                liveness_images: liveness_frames(&spec, &features, &jpegs)
                    .into_iter()
                    .filter_map(|i| jpegs.get(i)?.clone())
                    .collect(),
            })
        })
        .await
        .map_err(|e| EngineError(e.to_string()))?
    }
}

/// The frames shown as liveness images, among those whose JPEG was kept:
/// the most frontal neutral frame and the frame of largest rotation in each
/// step window.
fn liveness_frames(
    spec: &ChallengeSpec,
    frames: &[FrameFeatures],
    jpegs: &[Option<Arc<[u8]>>],
) -> Vec<usize> {
    let with_face = |lo: u32, hi: u32| {
        frames.iter().enumerate().filter(move |(i, f)| {
            jpegs.get(*i).is_some_and(Option::is_some)
                && f.face.is_some()
                && f.t_ms >= lo
                && f.t_ms < hi
        })
    };
    let turn = |f: &FrameFeatures| {
        f.face
            .as_ref()
            .map_or(0.0, |x| x.pose.yaw.abs().max(x.pose.pitch.abs()))
    };
    let mut out = Vec::new();
    if let Some((i, _)) =
        with_face(spec.neutral.0, spec.neutral.1).min_by(|a, b| turn(a.1).total_cmp(&turn(b.1)))
    {
        out.push(i);
    }
    for step in &spec.steps {
        if let Some((i, _)) = with_face(step.start_ms, step.end_ms + 300)
            .max_by(|a, b| turn(a.1).total_cmp(&turn(b.1)))
        {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out.truncate(LIVENESS_IMAGES);
    out
}

fn liveness_verdict(verdict: Verdict) -> LivenessVerdict {
    match verdict {
        Verdict::Pass => LivenessVerdict::Pass,
        Verdict::Fail => LivenessVerdict::Fail,
        Verdict::Retry => LivenessVerdict::Retry,
        Verdict::NotApplicable => LivenessVerdict::NotApplicable,
    }
}

/// The liveness decision as the domain records it.
fn liveness_record(decision: &LivenessDecision) -> LivenessRecord {
    let codes = |reasons: &[&'static str]| reasons.iter().map(|r| (*r).to_owned()).collect();
    LivenessRecord {
        reasons: codes(&decision.reasons()),
        score: decision.score,
        signals: decision
            .signals
            .iter()
            .map(|s| SignalRecord {
                name: s.name.to_owned(),
                reasons: codes(&s.reasons),
                score: s.score,
                threshold: s.threshold,
                verdict: liveness_verdict(s.verdict),
                votes: s.votes,
            })
            .collect(),
        verdict: liveness_verdict(decision.verdict),
    }
}

/// What the attempt's frames show: the liveness decision and, when a live
/// frame has a template, its best similarity with the context's templates
/// at the operating point `calibration` gives the model (the comparison
/// target's calibration).
fn findings(
    decision: &LivenessDecision,
    frames: FrameCounts,
    features: &[FrameFeatures],
    calibration: &Calibration,
    model: &str,
    templates: &[Vec<f32>],
    target_fmr: Option<f64>,
) -> Findings {
    let probe = decision
        .best_frame
        .and_then(|i| features.get(i))
        .and_then(|f| f.face.as_ref())
        .and_then(|f| f.template.as_ref());
    Findings {
        frames,
        liveness: liveness_record(decision),
        similarity: probe
            .and_then(|p| similarity_record(&p.vector, calibration, model, templates, target_fmr)),
    }
}

/// The mean similarity of `probe` with `templates` (a facemap's several
/// templates are matched by their mean: the best score would nearly double
/// the false-match rate at the calibrated threshold, docs/face-engine.md),
/// at the operating point `calibration` gives `model` for `target_fmr` (its
/// default when `None`); `None` when the model has no comparison or no such
/// operating point.
fn similarity_record(
    probe: &[f32],
    calibration: &Calibration,
    model: &str,
    templates: &[Vec<f32>],
    target_fmr: Option<f64>,
) -> Option<SimilarityRecord> {
    let similarity = similarity_fn(model)?;
    let m = calibration.model(model)?;
    let op = m.operating_point(target_fmr)?;
    let scores: Vec<f32> = templates
        .iter()
        .filter(|t| t.len() == probe.len())
        .map(|t| similarity(probe, t))
        .collect();
    // No comparable template scores below any threshold (and, unlike an
    // infinity, is still a number in the record).
    let score = if scores.is_empty() {
        f32::MIN
    } else {
        scores.iter().sum::<f32>() / scores.len() as f32
    };
    let record = SimilarityRecord::new(
        model,
        score,
        op.threshold,
        op.target_fmr,
        m.estimated_fmr(score),
    );
    Some(record.with_same_picture(m.same_picture.map(|p| p.threshold)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use facegate_vision::compare::{ModelCalibration, OperatingPoint};

    use super::*;

    const MODEL: &str = "fr-feature-512-int8-v1";

    fn calibration(source: &str, default_target_fmr: f64, points: &[(f64, f32)]) -> Calibration {
        Calibration {
            source: source.into(),
            models: vec![ModelCalibration {
                model: MODEL.into(),
                default_target_fmr,
                operating_points: points
                    .iter()
                    .map(|&(target_fmr, threshold)| OperatingPoint {
                        target_fmr,
                        threshold,
                        measured_fmr: target_fmr,
                        measured_tar: 0.9,
                        test_impostor_pairs: 1,
                        test_genuine_pairs: 1,
                    })
                    .collect(),
                score_to_fmr: vec![(0.6, 1e-6), (0.0, 1.0)],
                same_picture: None,
            }],
        }
    }

    /// Unit vectors at cosine similarity `cos`.
    fn pair(cos: f32) -> (Vec<f32>, Vec<f32>) {
        let mut a = vec![0.0; 512];
        let mut b = vec![0.0; 512];
        a[0] = 1.0;
        b[0] = cos;
        b[1] = (1.0 - cos * cos).sqrt();
        (a, b)
    }

    /// Stored features are the features: a decision from storage is the
    /// decision from the analysis itself.
    #[test]
    fn stored_frame_features_read_back_exactly() {
        let shared = std::env::var_os("FACEGATE_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
            });
        let video =
            shared.join("data/pad/replay/tranvanluyt2203_face_anti_spoofing/real_30fps.mjpeg");
        let Ok(bytes) = std::fs::read(&video) else {
            eprintln!("SKIPPED: no shared face data at {}", video.display());
            return;
        };
        let frames = facegate_vision::decode::split_mjpeg(&bytes);
        let store = ModelStore::open_default().unwrap();
        let runtime = facegate_vision::runtime::default_runtime().unwrap();
        let mut analyzer =
            FrameAnalyzer::load(&store, runtime.as_ref(), FrameAnalyzerConfig::default()).unwrap();
        let options = LivenessConfig::default().sampling.options(0);
        assert!(options.template && options.passive, "frame 0 is sampled");
        let features = analyzer.analyze_bytes(0, frames[600], options).unwrap();
        let face = features.face.as_ref().unwrap();
        assert!(face.template.is_some() && face.passive.is_some());
        let stored = encode_features(&features).unwrap();
        assert_eq!(decode_features(&stored).unwrap(), features);
        // The texture patch and the mesh, most of a frame's analysis, are
        // byte strings (a byte a pixel, 12 a point), not sequences of
        // numbers that the finish of an attempt would decode one by one
        // (issue #14: 124 ms for 249 frames).
        let raw = face.patch.data.len() + 12 * face.mesh.len();
        assert!(
            stored.len() < raw + 6_000,
            "{} bytes for {raw} bytes of patch and mesh",
            stored.len()
        );
        assert!(decode_features(&stored[..stored.len() / 2]).is_err());
    }

    #[test]
    fn a_document_portrait_is_compared_at_the_document_operating_point() {
        let calibrations = Calibrations {
            facemap: calibration("facemaps", 1e-4, &[(1e-3, 0.33), (1e-4, 0.42)]),
            document: calibration("documents", 1e-4, &[(1e-3, 0.25), (1e-4, 0.31)]),
        };
        // Between the two thresholds: a match only at the document's.
        let (probe, template) = pair(0.36);
        let record = |target| {
            similarity_record(
                &probe,
                calibrations.for_target(target),
                MODEL,
                std::slice::from_ref(&template),
                None,
            )
            .unwrap()
        };
        let document = record(ComparisonTarget::DocumentPortrait);
        assert_eq!((document.threshold, document.matched), (0.31, true));
        let facemap = record(ComparisonTarget::Facemap);
        assert_eq!((facemap.threshold, facemap.matched), (0.42, false));
        assert!((document.score - 0.36).abs() < 1e-5);
        // A configured FMR picks that operating point of the document file.
        let at_1e3 = similarity_record(
            &probe,
            calibrations.for_target(ComparisonTarget::DocumentPortrait),
            MODEL,
            &[template],
            Some(1e-3),
        )
        .unwrap();
        assert_eq!(at_1e3.threshold, 0.25);
    }

    #[test]
    fn a_facemap_with_several_templates_is_matched_by_their_mean() {
        let calibration = calibration("facemaps", 1e-4, &[(1e-4, 0.42)]);
        let (probe, close) = pair(0.9);
        let (_, far) = pair(0.1);
        let record = |templates: &[Vec<f32>]| {
            similarity_record(&probe, &calibration, MODEL, templates, None).unwrap()
        };
        let one = record(std::slice::from_ref(&close));
        assert!((one.score - 0.9).abs() < 1e-5);
        // The mean, not the best: a far template pulls the score down.
        let two = record(&[close.clone(), far]);
        assert!((two.score - 0.5).abs() < 1e-5, "{}", two.score);
        // A template of another length is not compared.
        let three = record(&[close, vec![1.0; 3]]);
        assert!((three.score - 0.9).abs() < 1e-5);
    }

    #[test]
    fn the_shipped_document_calibration_is_its_own_operating_point() {
        let dir = facegate_vision::models::default_models_dir();
        let calibrations = Calibrations::load(&dir).unwrap();
        assert!(
            calibrations
                .document
                .source
                .starts_with("facegate eval documents"),
            "{}",
            calibrations.document.source
        );
        let threshold = |c: &Calibration| {
            let m = c.model(MODEL).unwrap();
            m.operating_point(None).unwrap().threshold
        };
        let document = threshold(calibrations.for_target(ComparisonTarget::DocumentPortrait));
        let facemap = threshold(calibrations.for_target(ComparisonTarget::Facemap));
        assert_eq!(document, threshold(&calibrations.document));
        assert_eq!(facemap, threshold(&calibrations.facemap));
        // Otherwise this test could not tell which file the engine used.
        assert_ne!(document, facemap, "the two calibrations must differ");
    }
}
