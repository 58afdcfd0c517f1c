//! The document portrait against live faces: the operating point an ID
//! verification's selfie comparison is decided at.
//!
//! For each sampled LFW identity with at least two images, `tools/docgen`
//! renders a document (a TD3 passport page or a TD1 card front, clean or
//! with one mild camera effect, all drawn from the seed) whose portrait is
//! one image of the person. The real [`DocumentInspector`] finds the
//! portrait (BlazeFace full-range on the rectified page) and makes its
//! template. The probes, what a selfie frame would be, are every image of
//! the sampled identities embedded as `facegate eval lfw` embeds them (the
//! still-image pipeline with the shipped embedder). Genuine pairs are a
//! document and its holder's *other* images; impostor pairs a document and
//! another person's image.
//!
//! Identities fall in two halves by the same hash as `eval lfw`'s
//! held-out split ([`identity_half`]); thresholds are chosen on the
//! impostor pairs of half 0 and the error rates measured on half 1, so no
//! reported rate comes from the pairs that chose its threshold.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use facegate_docgen::{Effect, FaceInput, Generator, IdentityRecord, Request, Side};
use facegate_documents::{DocumentInspector, DocumentSide};
use facegate_vision::compare::{Calibration, ModelCalibration, OperatingPoint, SamePicturePoint};
use facegate_vision::detect::FaceChoice;
use facegate_vision::embed::{similarity_fn, EmbedderKind};
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::PipelineConfig;
use facegate_vision::runtime::{for_kind, RuntimeKind};
use serde::Serialize;

use super::{mix, name_hash, DocumentEvalError, Rate, Spread};
use crate::lfw::{all_pairs, identity_half, Dataset};
use crate::metrics::{self, RocPoint};
use crate::run::{embed_all, PassStats, ScoreMatrix};

/// The documents' effects, one drawn per document: half clean, the rest
/// one mild camera effect each (what a usable phone photo of a document
/// looks like; strong tilt, cut-off and photocopies are other checks).
pub const EFFECT_MIX: [Option<Effect>; 10] = [
    None,
    None,
    None,
    None,
    None,
    Some(Effect::Noise),
    Some(Effect::Jpeg),
    Some(Effect::Blur),
    Some(Effect::Glare),
    Some(Effect::LowLight),
];

/// The false-match rates a threshold is chosen for (when the calibration
/// half has at least [`MIN_IMPOSTORS_AT_TARGET`] impostors above it).
pub const FMR_TARGETS: [f64; 3] = [1e-3, 1e-4, 1e-5];
/// Fewest calibration impostors expected above a threshold for it to be
/// chosen at all: below that, the threshold is one or two scores.
pub const MIN_IMPOSTORS_AT_TARGET: f64 = 10.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct PortraitSettings {
    /// Identities with at least two images to render a document for: a
    /// seeded sample of that many (`None`: every one). Identities with one
    /// image join the probes in the same proportion.
    pub identities: Option<usize>,
    pub seed: u64,
    /// Worker threads (each with its own model sessions).
    pub threads: usize,
    pub runtime: RuntimeKind,
    /// The day the documents are valid on.
    pub today: NaiveDate,
}

/// One rendered document and what the inspector found on it.
#[derive(Debug, Clone, Serialize)]
pub struct PortraitDocument {
    pub identity: String,
    /// The LFW image printed as the portrait.
    pub portrait_image: String,
    /// `td3` or `td1_front`.
    pub side: String,
    /// `clean` or the docgen effect.
    pub effect: String,
    pub seed: u64,
    /// 0: calibration half, 1: test half.
    pub half: u32,
    /// A face was found on the document.
    pub found: bool,
    /// ... and its centre lies in the printed portrait (not the ghost
    /// image or elsewhere).
    pub found_at_portrait: bool,
    pub interocular_px: Option<f32>,
    /// The inspector's time for the side (text, page, portrait, checks).
    pub inspect_ms: f64,
    #[serde(skip)]
    pub template: Option<Vec<f32>>,
    #[serde(skip)]
    image_index: usize,
}

/// The share of genuine pairs of different pictures the same-picture
/// threshold is chosen to reach on the calibration half: such a pair is
/// only ever judged when its liveness failed too (see the domain's rule),
/// so the cost of a false flag is a more specific reason, never a refusal.
pub const SAME_PICTURE_FLAGGED: f64 = 0.01;

/// Where a selfie is the portrait's own picture: chosen on the calibration
/// half's genuine pairs, measured on the test half.
#[derive(Debug, Clone, Serialize)]
pub struct SamePictureResult {
    pub target_flagged: f64,
    pub threshold: f32,
    pub calibration_genuine: usize,
    /// Test-half genuine pairs of different pictures at or above it.
    pub flagged: Rate,
    /// Test-half same-picture pairs at or above it.
    pub caught: Rate,
    pub caught_by_effect: Vec<(String, Rate)>,
}

fn same_picture_point(
    calibration: &HalfScores,
    test: &HalfScores,
    documents: &[PortraitDocument],
) -> Option<SamePictureResult> {
    let mut genuine: Vec<f32> = calibration.genuine.iter().map(|(_, s)| *s).collect();
    if SAME_PICTURE_FLAGGED * (genuine.len() as f64) < MIN_IMPOSTORS_AT_TARGET {
        return None;
    }
    let threshold = metrics::threshold_at_fmr(&mut genuine, SAME_PICTURE_FLAGGED)?;
    let test_genuine = test.genuine.iter().map(|(_, s)| *s);
    let mut by_effect: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (d, score) in &test.same_picture {
        let e = by_effect.entry(documents[*d].effect.clone()).or_default();
        e.0 += usize::from(*score >= threshold);
        e.1 += 1;
    }
    Some(SamePictureResult {
        target_flagged: SAME_PICTURE_FLAGGED,
        threshold,
        calibration_genuine: genuine.len(),
        flagged: Rate::new(accepted(test_genuine, threshold), test.genuine.len()),
        caught: Rate::new(
            accepted(test.same_picture.iter().map(|(_, s)| *s), threshold),
            test.same_picture.len(),
        ),
        caught_by_effect: by_effect
            .into_iter()
            .map(|(effect, (k, n))| (effect, Rate::new(k, n)))
            .collect(),
    })
}

/// A threshold chosen on the calibration half, measured on the test half.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOutPoint {
    pub target_fmr: f64,
    pub threshold: f32,
    pub calibration_impostors: usize,
    /// Test impostor pairs scoring at or above the threshold.
    pub fmr: Rate,
    /// Test genuine pairs (portrait found) scoring below it.
    pub fnmr: Rate,
    /// FNMR over every test genuine pair, a document whose portrait was
    /// not found counting as a non-match (what a holder experiences).
    pub fnmr_end_to_end: Rate,
}

/// The facemap calibration's threshold applied to document pairs (test
/// half): what deciding with the wrong operating point gives.
#[derive(Debug, Clone, Serialize)]
pub struct CrossTask {
    pub target_fmr: f64,
    pub facemap_threshold: f32,
    pub fmr: Rate,
    pub fnmr: Rate,
}

/// Detection and FNMR of one group of test-half documents at the default
/// operating point (`None` when no operating point was chosen).
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub detection: Rate,
    pub fnmr: Option<Rate>,
}

/// The whole portrait evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct PortraitReport {
    pub dataset: String,
    pub model: String,
    pub seed: u64,
    pub runtime: RuntimeKind,
    pub threads: usize,
    /// Identities with at least two images in the dataset, and how many
    /// were sampled.
    pub holders_total: usize,
    pub holders_sampled: usize,
    pub probe_images: usize,
    /// Probe images without a face (left out of every pair).
    pub probe_failures: usize,
    pub embed_pass: PassStats,
    pub documents: usize,
    /// Documents whose portrait was found (anywhere / at the printed
    /// portrait).
    pub detection: Rate,
    pub detection_at_portrait: Rate,
    pub detection_by_side: Vec<(String, Rate)>,
    pub detection_by_effect: Vec<(String, Rate)>,
    pub inspect_ms: Spread,
    pub calibration_genuine: usize,
    pub calibration_impostors: usize,
    pub test_genuine: usize,
    pub test_impostors: usize,
    pub held_out: Vec<HeldOutPoint>,
    /// The operating point the test-half groups are measured at (1e-4, or
    /// the loosest chosen).
    pub group_target_fmr: Option<f64>,
    pub by_side: Vec<GroupRow>,
    pub by_effect: Vec<GroupRow>,
    pub facemap_thresholds: Vec<CrossTask>,
    /// Every document pair of both halves (impostors within a half).
    pub roc: Vec<RocPoint>,
    pub roc_by_side: Vec<(String, Vec<RocPoint>)>,
    /// The probe images against each other (photo against photo, the same
    /// identities): the facemap task on this sample, for comparison.
    pub photo_roc: Vec<RocPoint>,
    pub photo_genuine: usize,
    pub photo_impostors: usize,
    /// `None` when the calibration half has too few genuine pairs.
    pub same_picture: Option<SamePictureResult>,
    pub document_list: Vec<PortraitDocument>,
}

/// A document to render.
struct Plan {
    identity: String,
    image_index: usize,
    side: Side,
    effect: Option<Effect>,
    seed: u64,
    half: u32,
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Td3 => "td3",
        Side::Td1Front => "td1_front",
        Side::Td1Back => "td1_back",
    }
}

pub fn effect_name(effect: Option<Effect>) -> &'static str {
    effect.map_or("clean", Effect::name)
}

/// The sampled identities: holders (≥ 2 images) and the probe images.
struct Sample {
    holders_total: usize,
    holders: Vec<String>,
    /// Dataset image indices of the sampled identities.
    probes: Vec<usize>,
}

fn sample(data: &Dataset, settings: &PortraitSettings) -> Sample {
    let mut by_identity: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, id) in data.identities.iter().enumerate() {
        by_identity.entry(id).or_default().push(i);
    }
    let draw = |name: &str| mix(settings.seed, name_hash(name));
    let mut holders: Vec<&str> = by_identity
        .iter()
        .filter(|(_, images)| images.len() >= 2)
        .map(|(name, _)| *name)
        .collect();
    let holders_total = holders.len();
    holders.sort_by_key(|name| draw(name));
    let keep = settings
        .identities
        .unwrap_or(holders_total)
        .min(holders_total);
    holders.truncate(keep);
    holders.sort_unstable();
    let share = keep as f64 / holders_total.max(1) as f64;
    let mut probes: Vec<usize> = by_identity
        .iter()
        .filter(|(name, images)| {
            if images.len() >= 2 {
                holders.binary_search(name).is_ok()
            } else {
                // The same share of one-image identities, drawn alike.
                (draw(name) >> 11) as f64 / (1u64 << 53) as f64 <= share
            }
        })
        .flat_map(|(_, images)| images.iter().copied())
        .collect();
    probes.sort_unstable();
    Sample {
        holders_total,
        holders: holders.into_iter().map(str::to_owned).collect(),
        probes,
    }
}

fn plans(data: &Dataset, holders: &[String], seed: u64) -> Vec<Plan> {
    holders
        .iter()
        .map(|name| {
            let h = name_hash(name);
            let images: Vec<usize> = (0..data.images.len())
                .filter(|&i| &data.identities[i] == name)
                .collect();
            let pick = |salt: u64| mix(seed, h.wrapping_add(salt));
            Plan {
                identity: name.clone(),
                image_index: images[(pick(1) % images.len() as u64) as usize],
                side: if pick(2) % 2 == 0 {
                    Side::Td3
                } else {
                    Side::Td1Front
                },
                effect: EFFECT_MIX[(pick(3) % EFFECT_MIX.len() as u64) as usize],
                seed: pick(4),
                half: identity_half(name),
            }
        })
        .collect()
}

/// Is `p` inside the convex quad `q` (either winding)?
fn inside(q: &[[f64; 2]; 4], p: (f64, f64)) -> bool {
    let cross =
        |a: [f64; 2], b: [f64; 2]| (b[0] - a[0]) * (p.1 - a[1]) - (b[1] - a[1]) * (p.0 - a[0]);
    let signs: Vec<f64> = (0..4).map(|i| cross(q[i], q[(i + 1) % 4])).collect();
    signs.iter().all(|&s| s >= 0.0) || signs.iter().all(|&s| s <= 0.0)
}

/// Renders and inspects every planned document on `threads` workers.
fn inspect_documents(
    data: &Dataset,
    plans: &[Plan],
    store: &ModelStore,
    settings: &PortraitSettings,
) -> Result<Vec<PortraitDocument>, DocumentEvalError> {
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<PortraitDocument>, DocumentEvalError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..settings.threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let generator = Generator::new()?;
                    let runtime = for_kind(settings.runtime)?;
                    let mut inspector = DocumentInspector::new(store, runtime.as_ref())?;
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(plan) = plans.get(i) else {
                            return Ok(mine);
                        };
                        mine.push(inspect_one(
                            data,
                            plan,
                            &generator,
                            &mut inspector,
                            settings,
                        )?);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DocumentEvalError::Setup("a worker panicked".into())))
            })
            .collect()
    });
    let mut documents = Vec::with_capacity(plans.len());
    for part in results {
        documents.extend(part?);
    }
    documents.sort_by(|a, b| a.identity.cmp(&b.identity));
    Ok(documents)
}

fn inspect_one(
    data: &Dataset,
    plan: &Plan,
    generator: &Generator,
    inspector: &mut DocumentInspector,
    settings: &PortraitSettings,
) -> Result<PortraitDocument, DocumentEvalError> {
    let path = data.image_path(plan.image_index);
    let face = image::open(&path)
        .map_err(|e| DocumentEvalError::Image {
            path: path.clone(),
            detail: e.to_string(),
        })?
        .to_rgb8();
    let record = IdentityRecord::random(plan.side.kind(), plan.seed, settings.today);
    let request = Request::document(plan.side, record, plan.seed, settings.today)
        .with_face(
            FaceInput {
                image: &face,
                crop: None,
            },
            Some(data.images[plan.image_index].clone()),
        )
        .with_effects(&plan.effect.into_iter().collect::<Vec<_>>());
    let rendered = generator.render(&request)?;
    let photo = image::load_from_memory(&rendered.jpeg)
        .map_err(|e| DocumentEvalError::Image {
            path: path.clone(),
            detail: format!("the rendered document: {e}"),
        })?
        .to_rgb8();
    let side = match plan.side {
        Side::Td3 => DocumentSide::PassportPage,
        _ => DocumentSide::CardFront,
    };
    let inspection = inspector.inspect_side(&photo, side)?;
    let printed = rendered.truth.document.as_ref().and_then(|d| d.portrait);
    let portrait = inspection.portrait.as_ref();
    let found_at_portrait = match (portrait, printed) {
        (Some(p), Some(quad)) => {
            let c = p.face.centroid();
            inside(&quad, (f64::from(c.x), f64::from(c.y)))
        }
        _ => false,
    };
    Ok(PortraitDocument {
        identity: plan.identity.clone(),
        portrait_image: data.images[plan.image_index].clone(),
        side: side_name(plan.side).to_owned(),
        effect: effect_name(plan.effect).to_owned(),
        seed: plan.seed,
        half: plan.half,
        found: portrait.is_some(),
        found_at_portrait,
        interocular_px: portrait.map(|p| p.interocular_px),
        inspect_ms: inspection.timings.total_ms,
        template: portrait
            .and_then(|p| p.templates.first())
            .map(|t| t.vector.clone()),
        image_index: plan.image_index,
    })
}

/// Genuine and impostor scores of one half's documents against that
/// half's probes; genuine scores keep their document's index.
struct HalfScores {
    genuine: Vec<(usize, f32)>,
    impostor: Vec<f32>,
    /// Each document against the very image its portrait was rendered
    /// from (a selfie cropped from the ID), with the document's index.
    same_picture: Vec<(usize, f32)>,
    /// Genuine pairs of documents whose portrait was not found.
    missed_genuine: Vec<usize>,
}

fn score_half(
    half: u32,
    documents: &[PortraitDocument],
    data: &Dataset,
    probes: &[(usize, Vec<f32>)],
    score: fn(&[f32], &[f32]) -> f32,
) -> HalfScores {
    let mut out = HalfScores {
        genuine: Vec::new(),
        impostor: Vec::new(),
        same_picture: Vec::new(),
        missed_genuine: Vec::new(),
    };
    let in_half: Vec<&(usize, Vec<f32>)> = probes
        .iter()
        .filter(|(i, _)| identity_half(&data.identities[*i]) == half)
        .collect();
    for (d, doc) in documents.iter().enumerate().filter(|(_, d)| d.half == half) {
        for (p, template) in &in_half {
            if *p == doc.image_index {
                if let Some(t) = &doc.template {
                    out.same_picture.push((d, score(t, template)));
                }
                continue;
            }
            let same = data.identities[*p] == doc.identity;
            match &doc.template {
                Some(t) if same => out.genuine.push((d, score(t, template))),
                Some(t) => out.impostor.push(score(t, template)),
                None if same => out.missed_genuine.push(d),
                None => {}
            }
        }
    }
    out
}

fn accepted(scores: impl Iterator<Item = f32>, threshold: f32) -> usize {
    scores.filter(|&s| s >= threshold).count()
}

fn rate_by<K: Ord + Clone>(
    documents: &[PortraitDocument],
    key: impl Fn(&PortraitDocument) -> K,
    hit: impl Fn(&PortraitDocument) -> bool,
) -> BTreeMap<K, (usize, usize)> {
    let mut out: BTreeMap<K, (usize, usize)> = BTreeMap::new();
    for d in documents {
        let e = out.entry(key(d)).or_default();
        e.0 += usize::from(hit(d));
        e.1 += 1;
    }
    out
}

fn roc_of(genuine: &[f32], impostor: &[f32]) -> Vec<RocPoint> {
    let mut desc = impostor.to_vec();
    desc.sort_unstable_by(|a, b| b.total_cmp(a));
    metrics::roc(genuine, &desc, 1e-6, 10)
}

/// Runs the portrait evaluation (see the module documentation).
/// `facemap` is the shipped selfie calibration, applied to document pairs
/// for comparison.
pub fn evaluate_portraits(
    dir: &Path,
    store: &ModelStore,
    facemap: Option<&Calibration>,
    settings: &PortraitSettings,
) -> Result<PortraitReport, DocumentEvalError> {
    let data = Dataset::open(dir)?;
    let sampled = sample(&data, settings);
    let embedder = EmbedderKind::FrFeatureInt8;
    let model = embedder.model_id();
    let score = similarity_fn(model)
        .ok_or_else(|| DocumentEvalError::Setup(format!("{model}: no similarity")))?;

    // Probes as `eval lfw` embeds LFW: the still-image pipeline, the most
    // central face, the shipped embedder.
    let probe_set = Dataset {
        root: data.root.clone(),
        images: sampled
            .probes
            .iter()
            .map(|&i| data.images[i].clone())
            .collect(),
        identities: sampled
            .probes
            .iter()
            .map(|&i| data.identities[i].clone())
            .collect(),
        pairs: Vec::new(),
    };
    let config = PipelineConfig {
        embedders: vec![embedder],
        flip: false,
        face_choice: FaceChoice::Central,
        ..PipelineConfig::default()
    };
    let (templates, embed_pass) = embed_all(
        &probe_set,
        store,
        settings.runtime,
        &config,
        settings.threads,
    )?;
    let probe_templates = templates.into_iter().next().unwrap_or_default();
    let probes: Vec<(usize, Vec<f32>)> = sampled
        .probes
        .iter()
        .zip(&probe_templates)
        .filter_map(|(&i, t)| Some((i, t.clone()?)))
        .collect();

    let plans = plans(&data, &sampled.holders, settings.seed);
    let documents = inspect_documents(&data, &plans, store, settings)?;

    let calibration = score_half(0, &documents, &data, &probes, score);
    let test = score_half(1, &documents, &data, &probes, score);
    let mut calibration_impostors = calibration.impostor.clone();
    let test_genuine: Vec<f32> = test.genuine.iter().map(|(_, s)| *s).collect();
    let calibration_count = calibration_impostors.len();
    let held_out: Vec<HeldOutPoint> = FMR_TARGETS
        .iter()
        .filter(|&&fmr| fmr * calibration_count as f64 >= MIN_IMPOSTORS_AT_TARGET)
        .filter_map(|&target_fmr| {
            let threshold = metrics::threshold_at_fmr(&mut calibration_impostors, target_fmr)?;
            let genuine_ok = accepted(test_genuine.iter().copied(), threshold);
            let all_genuine = test_genuine.len() + test.missed_genuine.len();
            Some(HeldOutPoint {
                target_fmr,
                threshold,
                calibration_impostors: calibration_count,
                fmr: Rate::new(
                    accepted(test.impostor.iter().copied(), threshold),
                    test.impostor.len(),
                ),
                fnmr: Rate::new(test_genuine.len() - genuine_ok, test_genuine.len()),
                fnmr_end_to_end: Rate::new(all_genuine - genuine_ok, all_genuine),
            })
        })
        .collect();

    // Groups of the test half at 1e-4 (or the loosest point chosen).
    let group_point = held_out
        .iter()
        .find(|p| (p.target_fmr - 1e-4).abs() < 1e-12)
        .or(held_out.first());
    let group_target_fmr = group_point.map(|p| p.target_fmr);
    let group_threshold = group_point.map(|p| p.threshold);
    let test_docs: Vec<PortraitDocument> =
        documents.iter().filter(|d| d.half == 1).cloned().collect();
    let group_rows = |key: &dyn Fn(&PortraitDocument) -> String| -> Vec<GroupRow> {
        let detection = rate_by(&test_docs, key, |d| d.found);
        detection
            .into_iter()
            .map(|(group, (found, n))| {
                let scores: Vec<f32> = test
                    .genuine
                    .iter()
                    .filter(|(d, _)| key(&documents[*d]) == group)
                    .map(|(_, s)| *s)
                    .collect();
                GroupRow {
                    group,
                    detection: Rate::new(found, n),
                    fnmr: group_threshold.map(|t| {
                        Rate::new(
                            scores.len() - accepted(scores.iter().copied(), t),
                            scores.len(),
                        )
                    }),
                }
            })
            .collect()
    };
    let by_side = group_rows(&|d| d.side.clone());
    let by_effect = group_rows(&|d| d.effect.clone());

    let facemap_thresholds = facemap
        .and_then(|c| c.model(model))
        .map(|m| {
            m.operating_points
                .iter()
                .map(|op| CrossTask {
                    target_fmr: op.target_fmr,
                    facemap_threshold: op.threshold,
                    fmr: Rate::new(
                        accepted(test.impostor.iter().copied(), op.threshold),
                        test.impostor.len(),
                    ),
                    fnmr: Rate::new(
                        test_genuine.len() - accepted(test_genuine.iter().copied(), op.threshold),
                        test_genuine.len(),
                    ),
                })
                .collect()
        })
        .unwrap_or_default();

    let rates = |found: &dyn Fn(&PortraitDocument) -> bool| {
        Rate::new(
            documents.iter().filter(|d| found(d)).count(),
            documents.len(),
        )
    };
    let to_rows = |m: BTreeMap<String, (usize, usize)>| -> Vec<(String, Rate)> {
        m.into_iter()
            .map(|(k, (hit, n))| (k, Rate::new(hit, n)))
            .collect()
    };

    let all_genuine: Vec<(usize, f32)> = calibration
        .genuine
        .iter()
        .chain(&test.genuine)
        .copied()
        .collect();
    let all_impostor: Vec<f32> = calibration
        .impostor
        .iter()
        .chain(&test.impostor)
        .copied()
        .collect();
    let genuine_scores: Vec<f32> = all_genuine.iter().map(|(_, s)| *s).collect();
    let roc = roc_of(&genuine_scores, &all_impostor);
    // Per side: impostors by the document's side too.
    let roc_by_side = ["td3", "td1_front"]
        .iter()
        .map(|&side| {
            let genuine: Vec<f32> = all_genuine
                .iter()
                .filter(|(d, _)| documents[*d].side == side)
                .map(|(_, s)| *s)
                .collect();
            let impostor = side_impostors(side, &documents, &data, &probes, score);
            (side.to_owned(), roc_of(&genuine, &impostor))
        })
        .collect();

    // Photo against photo on the same sample (the facemap task).
    let probe_enrolled: Vec<bool> = probe_templates.iter().map(Option::is_some).collect();
    let matrix = ScoreMatrix::compute(&probe_templates, score, settings.threads);
    let (photo_genuine, photo_impostor) =
        all_pairs(&probe_set.identities, &probe_enrolled, |i, j| {
            matrix.get(i, j)
        });
    drop(matrix);
    let photo_roc = roc_of(&photo_genuine, &photo_impostor);

    Ok(PortraitReport {
        dataset: dir.display().to_string(),
        model: model.to_owned(),
        seed: settings.seed,
        runtime: settings.runtime,
        threads: settings.threads,
        holders_total: sampled.holders_total,
        holders_sampled: sampled.holders.len(),
        probe_images: sampled.probes.len(),
        probe_failures: probe_templates.iter().filter(|t| t.is_none()).count(),
        embed_pass,
        documents: documents.len(),
        detection: rates(&|d| d.found),
        detection_at_portrait: rates(&|d| d.found_at_portrait),
        detection_by_side: to_rows(rate_by(&documents, |d| d.side.clone(), |d| d.found)),
        detection_by_effect: to_rows(rate_by(&documents, |d| d.effect.clone(), |d| d.found)),
        inspect_ms: Spread::of(&documents.iter().map(|d| d.inspect_ms).collect::<Vec<_>>()),
        calibration_genuine: calibration.genuine.len(),
        calibration_impostors: calibration.impostor.len(),
        test_genuine: test.genuine.len(),
        test_impostors: test.impostor.len(),
        held_out,
        group_target_fmr,
        by_side,
        by_effect,
        facemap_thresholds,
        roc,
        roc_by_side,
        photo_roc,
        photo_genuine: photo_genuine.len(),
        photo_impostors: photo_impostor.len(),
        same_picture: same_picture_point(&calibration, &test, &documents),
        document_list: documents,
    })
}

/// Impostor scores (both halves, within a half) of the documents of `side`.
fn side_impostors(
    side: &str,
    documents: &[PortraitDocument],
    data: &Dataset,
    probes: &[(usize, Vec<f32>)],
    score: fn(&[f32], &[f32]) -> f32,
) -> Vec<f32> {
    let mut out = Vec::new();
    for doc in documents.iter().filter(|d| d.side == side) {
        let Some(t) = &doc.template else { continue };
        for (p, template) in probes {
            let id = &data.identities[*p];
            if *id != doc.identity && identity_half(id) == doc.half {
                out.push(score(t, template));
            }
        }
    }
    out
}

/// The calibration file `facegate eval documents --write-calibration`
/// writes: operating points from the held-out split, the score-to-FMR
/// table from every document impostor pair, `default_target_fmr` the
/// operating point the engine decides at.
pub fn calibration(report: &PortraitReport, command: &str, default_target_fmr: f64) -> Calibration {
    let operating_points = report
        .held_out
        .iter()
        .map(|h| OperatingPoint {
            target_fmr: h.target_fmr,
            threshold: h.threshold,
            measured_fmr: h.fmr.rate,
            measured_tar: 1.0 - h.fnmr.rate,
            test_impostor_pairs: h.fmr.n,
            test_genuine_pairs: h.fnmr.n,
        })
        .collect();
    Calibration {
        source: format!(
            "{command}: document portrait (tools/docgen TD3 pages and TD1 fronts, half clean, half one mild camera effect; \
             found by the document inspector) against live-face templates of LFW images (the still-image pipeline of eval lfw); \
             {} documents of {} of the {} identities with two or more images (seed {}), {} probe images; \
             thresholds chosen on the impostor pairs of one half of the identities and measured on the other half; \
             the same-picture point on the genuine pairs of the first half (each document against its own portrait's image in the second)",
            report.documents,
            report.holders_sampled,
            report.holders_total,
            report.seed,
            report.probe_images
        ),
        models: vec![ModelCalibration {
            model: report.model.clone(),
            default_target_fmr,
            operating_points,
            score_to_fmr: report.roc.iter().map(|p| (p.threshold, p.fmr)).collect(),
            same_picture: report.same_picture.as_ref().map(|s| SamePicturePoint {
                target_flagged: s.target_flagged,
                threshold: s.threshold,
                measured_flagged: s.flagged.rate,
                measured_caught: s.caught.rate,
                test_genuine_pairs: s.flagged.n,
                test_same_picture_pairs: s.caught.n,
            }),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(names: &[(&str, usize)]) -> Dataset {
        let mut images = Vec::new();
        let mut identities = Vec::new();
        for (name, count) in names {
            for k in 0..*count {
                images.push(format!("{name}/{name}_{k:04}.jpg"));
                identities.push((*name).to_owned());
            }
        }
        Dataset {
            root: "lfw".into(),
            images,
            identities,
            pairs: Vec::new(),
        }
    }

    fn settings(identities: Option<usize>) -> PortraitSettings {
        PortraitSettings {
            identities,
            seed: 3,
            threads: 1,
            runtime: RuntimeKind::default(),
            today: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default(),
        }
    }

    #[test]
    fn the_sample_takes_holders_by_seed_and_every_image_of_them() {
        let names: Vec<(String, usize)> = (0..40)
            .map(|i| (format!("P{i:02}"), if i % 2 == 0 { 3 } else { 1 }))
            .collect();
        let refs: Vec<(&str, usize)> = names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let data = dataset(&refs);
        let all = sample(&data, &settings(None));
        assert_eq!((all.holders_total, all.holders.len()), (20, 20));
        assert_eq!(all.probes.len(), data.images.len());
        let some = sample(&data, &settings(Some(5)));
        assert_eq!(some.holders.len(), 5);
        // Every image of a sampled holder is a probe.
        for h in &some.holders {
            let mine = (0..data.images.len()).filter(|&i| &data.identities[i] == h);
            assert!(mine.into_iter().all(|i| some.probes.contains(&i)));
        }
        assert!(some.probes.len() < all.probes.len());
        // Another seed, another sample.
        let other = sample(
            &data,
            &PortraitSettings {
                seed: 4,
                ..settings(Some(5))
            },
        );
        assert_ne!(other.holders, some.holders);
    }

    #[test]
    fn a_plan_prints_one_of_the_holders_images_on_a_portrait_side() {
        let data = dataset(&[("Ann", 3), ("Bob", 2)]);
        let holders = vec!["Ann".to_owned(), "Bob".to_owned()];
        for seed in 0..20 {
            for plan in plans(&data, &holders, seed) {
                assert_eq!(data.identities[plan.image_index], plan.identity);
                assert!(plan.side.has_portrait());
                assert_eq!(plan.half, identity_half(&plan.identity));
            }
        }
    }

    fn doc(
        identity: &str,
        image_index: usize,
        half: u32,
        template: Option<Vec<f32>>,
    ) -> PortraitDocument {
        PortraitDocument {
            identity: identity.into(),
            portrait_image: String::new(),
            side: "td3".into(),
            effect: "clean".into(),
            seed: 0,
            half,
            found: template.is_some(),
            found_at_portrait: template.is_some(),
            interocular_px: None,
            inspect_ms: 0.0,
            template,
            image_index,
        }
    }

    #[test]
    fn pairs_leave_out_the_printed_image_and_the_other_half() {
        // Identities: two in each half.
        let mut names = Vec::new();
        for i in 0.. {
            let name = format!("N{i}");
            let h = identity_half(&name);
            if names.iter().filter(|(_, hh)| *hh == h).count() < 2 {
                names.push((name, h));
            }
            if names.len() == 4 {
                break;
            }
        }
        let refs: Vec<(&str, usize)> = names.iter().map(|(n, _)| (n.as_str(), 3)).collect();
        let data = dataset(&refs);
        let probes: Vec<(usize, Vec<f32>)> =
            (0..data.images.len()).map(|i| (i, vec![1.0])).collect();
        let docs: Vec<PortraitDocument> = names
            .iter()
            .enumerate()
            .map(|(k, (n, h))| doc(n, 3 * k, *h, if k == 0 { None } else { Some(vec![1.0]) }))
            .collect();
        let score: fn(&[f32], &[f32]) -> f32 = |_, _| 0.5;
        for half in 0..2 {
            let s = score_half(half, &docs, &data, &probes, score);
            let with_template = docs.iter().filter(|d| d.half == half && d.found).count();
            let without = docs.iter().filter(|d| d.half == half && !d.found).count();
            // Two other images of the holder; three of the other identity
            // of the same half; nothing of the other half.
            assert_eq!(s.genuine.len(), 2 * with_template);
            assert_eq!(s.impostor.len(), 3 * with_template);
            assert_eq!(s.missed_genuine.len(), 2 * without);
        }
    }

    #[test]
    fn a_point_is_inside_its_quad_in_either_winding() {
        let q = [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]];
        assert!(inside(&q, (5.0, 2.0)));
        assert!(!inside(&q, (11.0, 2.0)));
        let mut r = q;
        r.reverse();
        assert!(inside(&r, (5.0, 2.0)));
    }
}
