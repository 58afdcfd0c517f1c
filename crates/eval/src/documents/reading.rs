//! Reading documents per camera effect: the MRZ full-read rate and field
//! accuracy ([`MrzReader`]), the document-face detection rate and the
//! time per document side ([`DocumentInspector`] + [`MrzReader`]), on
//! documents `tools/docgen` renders from seeds.
//!
//! Document `i` of every effect is the same document (record, face, pose,
//! surface: docgen draws each part from its own seeded stream), with only
//! the effect changed, so effects compare like with like. Even `i` is a
//! passport (its data page), odd `i` an ID card (front and back). A side is
//! *fully read* when the reader's verdict is valid and its zone equals the
//! printed lines cell for cell (as `crates/documents/examples/
//! mrz_read_rate.rs` counts it); a field is *correct* when the zone the
//! reader returned (whatever its verdict) holds the printed value.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{DocumentKind, Effect, FaceInput, Generator, IdentityRecord, Request, Side};
use facegate_documents::{DocumentInspector, DocumentSide, MrzReader};
use facegate_domain::mrz::{MachineReadableZone, MrzRead, Sex};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{for_kind, RuntimeKind};
use serde::Serialize;

use super::portrait::effect_name;
use super::{mix, DocumentEvalError, Rate, Spread};
use crate::lfw::Dataset;

/// The effects measured by default: clean, every camera effect docgen
/// draws, and the two forgeries of the zone ([`FORGERIES`]).
pub const EFFECTS: [Option<Effect>; 12] = [
    None,
    Some(Effect::Perspective),
    Some(Effect::CutOff),
    Some(Effect::Blur),
    Some(Effect::MotionBlur),
    Some(Effect::Glare),
    Some(Effect::Noise),
    Some(Effect::Jpeg),
    Some(Effect::LowLight),
    Some(Effect::Photocopy),
    Some(Effect::TamperedCheckDigit),
    Some(Effect::Specimen),
];

/// The effects whose zone must never read valid: an altered check digit
/// (`108 MRZ_CHECK_FAILED`) and a specimen (`202 SAMPLE_DOCUMENT`). A
/// zone read valid is what an approval needs, so the count of such sides
/// bounds the documents of these kinds that could be approved.
pub const FORGERIES: [&str; 2] = ["tampered_check_digit", "specimen"];

/// Whether `effect` is one of the camera effects the full-read average is
/// taken over: not clean, not cut_off (which hides part of the zone on
/// purpose), not a forgery.
pub fn is_camera_effect(effect: &str) -> bool {
    effect != "clean" && effect != "cut_off" && !FORGERIES.contains(&effect)
}

/// The zone fields whose accuracy is reported.
pub const FIELDS: [&str; 10] = [
    "document_code",
    "issuing_state",
    "surname",
    "given_names",
    "document_number",
    "nationality",
    "date_of_birth",
    "sex",
    "date_of_expiry",
    "optional_data",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct ReadingSettings {
    /// Documents per effect (passports and ID cards alternating).
    pub per_effect: usize,
    pub seed: u64,
    pub threads: usize,
    pub runtime: RuntimeKind,
    pub today: NaiveDate,
    pub effects: Vec<Option<Effect>>,
}

/// One side inspected and read.
#[derive(Debug, Clone, Serialize)]
pub struct SideRecord {
    pub effect: String,
    /// `passport_page`, `card_front` or `card_back`.
    pub side: String,
    pub seed: u64,
    pub document_found: bool,
    /// Sides with a portrait: a face was found.
    pub portrait_found: Option<bool>,
    /// Sides with a zone: the reader's verdict.
    pub mrz_verdict: Option<String>,
    pub full_read: Option<bool>,
    /// Sides with a zone: per [`FIELDS`] entry, read correctly.
    pub fields: Vec<bool>,
    pub inspect_ms: f64,
    pub read_ms: Option<f64>,
    pub total_ms: f64,
}

/// The figures of one effect.
#[derive(Debug, Clone, Serialize)]
pub struct EffectRow {
    pub effect: String,
    pub sides: usize,
    /// Every side, the inspector's `document_found`.
    pub document_found: Rate,
    pub mrz_full_read: Rate,
    /// Zone sides whose verdict was valid but the zone is not the printed one.
    pub mrz_valid_other_data: usize,
    /// Zone sides whose verdict was valid (a specimen's is `specimen`).
    pub mrz_valid: usize,
    pub mrz_check_failed: usize,
    pub mrz_not_readable: usize,
    /// Per [`FIELDS`] entry.
    pub field_accuracy: Vec<(String, Rate)>,
    pub portrait_found: Rate,
}

/// Time per side of one kind, over every effect.
#[derive(Debug, Clone, Serialize)]
pub struct SideTiming {
    pub side: String,
    pub inspect_ms: Spread,
    pub read_ms: Spread,
    pub total_ms: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadingReport {
    pub documents_per_effect: usize,
    pub seed: u64,
    pub threads: usize,
    pub runtime: RuntimeKind,
    /// Where the printed faces came from (`None`: docgen's drawn placeholder).
    pub faces: Option<String>,
    pub effects: Vec<EffectRow>,
    /// Mean full-read rate over the camera effects ([`is_camera_effect`];
    /// `None` when none was measured).
    pub camera_full_read_mean: Option<f64>,
    /// Per forgery measured ([`FORGERIES`]): its zone sides read valid
    /// (must be none).
    pub forgeries_read_valid: Vec<(String, Rate)>,
    pub timing: Vec<SideTiming>,
    pub sides: Vec<SideRecord>,
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Td3 => "passport_page",
        Side::Td1Front => "card_front",
        Side::Td1Back => "card_back",
    }
}

fn inspected_side(side: Side) -> DocumentSide {
    match side {
        Side::Td3 => DocumentSide::PassportPage,
        Side::Td1Front => DocumentSide::CardFront,
        Side::Td1Back => DocumentSide::CardBack,
    }
}

/// Zone text without fillers, words separated by single spaces.
fn plain(s: &str) -> String {
    s.replace('<', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `YYYY-MM-DD` as the zone's six cells.
fn zone_date(iso: &str) -> String {
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    digits.get(2..).unwrap_or_default().to_owned()
}

fn sex_letter(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
        Sex::Unspecified => "X",
    }
}

/// Per [`FIELDS`] entry: does the zone hold the printed value?
fn field_matches(zone: &MachineReadableZone, truth: &facegate_docgen::MrzRead) -> Vec<bool> {
    let optional = |read: Option<&String>, printed: Option<&String>| {
        plain(read.map_or("", String::as_str)) == plain(printed.map_or("", String::as_str))
    };
    let optional_data = match zone.personal_number.as_ref() {
        Some(personal) => optional(Some(personal), truth.optional_data_1.as_ref()),
        None => {
            optional(
                zone.optional_data_1.as_ref(),
                truth.optional_data_1.as_ref(),
            ) && optional(
                zone.optional_data_2.as_ref(),
                truth.optional_data_2.as_ref(),
            )
        }
    };
    vec![
        plain(&zone.document_code) == plain(&truth.document_code),
        zone.issuing_state == truth.issuing_state,
        plain(&zone.surname) == plain(&truth.surname),
        plain(&zone.given_names) == plain(&truth.given_names),
        zone.document_number == truth.document_number,
        zone.nationality_code == truth.nationality,
        zone.date_of_birth.raw == zone_date(&truth.date_of_birth),
        sex_letter(zone.sex) == truth.sex,
        zone.date_of_expiry.raw == zone_date(&truth.date_of_expiry),
        optional_data,
    ]
}

fn verdict_name(read: &MrzRead) -> &'static str {
    match read {
        MrzRead::Valid(_) => "valid",
        MrzRead::Specimen { .. } => "specimen",
        MrzRead::CheckFailed(_) => "check_failed",
        MrzRead::NotReadable(_) => "not_readable",
    }
}

/// One unit of work: document `index` with effect `effect`.
#[derive(Debug, Clone, Copy)]
struct Job {
    effect: Option<Effect>,
    index: usize,
}

struct Worker<'a> {
    generator: Generator,
    inspector: DocumentInspector,
    reader: MrzReader,
    faces: Option<&'a Dataset>,
    settings: &'a ReadingSettings,
}

impl Worker<'_> {
    fn run(&mut self, job: Job) -> Result<Vec<SideRecord>, DocumentEvalError> {
        let settings = self.settings;
        let seed = mix(settings.seed, job.index as u64);
        let kind = if job.index.is_multiple_of(2) {
            DocumentKind::Td3
        } else {
            DocumentKind::Td1
        };
        let face = match self.faces {
            Some(data) if !data.images.is_empty() => {
                let i = (mix(seed, 1) % data.images.len() as u64) as usize;
                let path = data.image_path(i);
                Some(
                    image::open(&path)
                        .map_err(|e| DocumentEvalError::Image {
                            path: path.clone(),
                            detail: e.to_string(),
                        })?
                        .to_rgb8(),
                )
            }
            _ => None,
        };
        let record = IdentityRecord::random(kind, seed, settings.today);
        let mut out = Vec::new();
        for (k, &side) in Side::of(kind).iter().enumerate() {
            let side_seed = mix(seed, 2 + k as u64);
            let mut request = Request::document(side, record.clone(), side_seed, settings.today)
                .with_effects(&job.effect.into_iter().collect::<Vec<_>>());
            if let Some(face) = &face {
                request = request.with_face(
                    FaceInput {
                        image: face,
                        crop: None,
                    },
                    None,
                );
            }
            let rendered = self.generator.render(&request)?;
            let photo = image::load_from_memory(&rendered.jpeg)
                .map_err(|e| DocumentEvalError::Setup(format!("a rendered document: {e}")))?
                .to_rgb8();
            let started = Instant::now();
            let inspection = self.inspector.inspect_side(&photo, inspected_side(side))?;
            let inspect_ms = ms(started);
            let (mut verdict, mut full_read, mut fields, mut read_ms) =
                (None, None, Vec::new(), None);
            if side.has_mrz() {
                let t = Instant::now();
                let reading = self.reader.read(&photo, settings.today)?;
                read_ms = Some(ms(t));
                let truth = rendered.truth.mrz.as_ref();
                let printed = truth.map(|m| m.lines.clone()).unwrap_or_default();
                verdict = Some(verdict_name(&reading.outcome).to_owned());
                full_read =
                    Some(matches!(&reading.outcome, MrzRead::Valid(z) if z.lines == printed));
                fields = match (reading.outcome.zone(), truth) {
                    (Some(zone), Some(truth)) => field_matches(zone, &truth.read),
                    _ => vec![false; FIELDS.len()],
                };
            }
            out.push(SideRecord {
                effect: effect_name(job.effect).to_owned(),
                side: side_name(side).to_owned(),
                seed: side_seed,
                document_found: inspection.findings.document_found,
                portrait_found: side.has_portrait().then_some(inspection.portrait.is_some()),
                mrz_verdict: verdict,
                full_read,
                fields,
                inspect_ms,
                read_ms,
                total_ms: ms(started),
            });
        }
        Ok(out)
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Runs the reading evaluation. `faces`: an LFW folder whose images are
/// printed as portraits (docgen's drawn placeholder face without it).
pub fn evaluate_reading(
    faces: Option<&Path>,
    store: &ModelStore,
    settings: &ReadingSettings,
) -> Result<ReadingReport, DocumentEvalError> {
    let faces_data = faces.map(Dataset::open).transpose()?;
    let jobs: Vec<Job> = settings
        .effects
        .iter()
        .flat_map(|&effect| (0..settings.per_effect).map(move |index| Job { effect, index }))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<SideRecord>, DocumentEvalError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..settings.threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let runtime = for_kind(settings.runtime)?;
                    let mut worker = Worker {
                        generator: Generator::new()?,
                        inspector: DocumentInspector::new(store, runtime.as_ref())?,
                        reader: MrzReader::new(store, runtime.as_ref())?,
                        faces: faces_data.as_ref(),
                        settings,
                    };
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&job) = jobs.get(i) else {
                            return Ok(mine);
                        };
                        mine.extend(worker.run(job)?);
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
    let mut sides = Vec::new();
    for part in results {
        sides.extend(part?);
    }
    sides.sort_by(|a, b| (&a.effect, a.seed).cmp(&(&b.effect, b.seed)));

    let effects: Vec<EffectRow> = settings
        .effects
        .iter()
        .map(|&e| effect_row(effect_name(e), &sides))
        .collect();
    let camera: Vec<f64> = effects
        .iter()
        .filter(|r| is_camera_effect(&r.effect))
        .map(|r| r.mrz_full_read.rate)
        .collect();
    let forgeries_read_valid = effects
        .iter()
        .filter(|r| FORGERIES.contains(&r.effect.as_str()))
        .map(|r| (r.effect.clone(), Rate::new(r.mrz_valid, r.mrz_full_read.n)))
        .collect();
    let timing = ["passport_page", "card_front", "card_back"]
        .iter()
        .map(|&side| {
            let of = |f: &dyn Fn(&SideRecord) -> Option<f64>| -> Vec<f64> {
                sides
                    .iter()
                    .filter(|s| s.side == side)
                    .filter_map(f)
                    .collect()
            };
            SideTiming {
                side: side.to_owned(),
                inspect_ms: Spread::of(&of(&|s| Some(s.inspect_ms))),
                read_ms: Spread::of(&of(&|s| s.read_ms)),
                total_ms: Spread::of(&of(&|s| Some(s.total_ms))),
            }
        })
        .collect();
    Ok(ReadingReport {
        documents_per_effect: settings.per_effect,
        seed: settings.seed,
        threads: settings.threads,
        runtime: settings.runtime,
        faces: faces.map(|p| p.display().to_string()),
        camera_full_read_mean: (!camera.is_empty())
            .then(|| camera.iter().sum::<f64>() / camera.len() as f64),
        forgeries_read_valid,
        effects,
        timing,
        sides,
    })
}

fn effect_row(effect: &str, sides: &[SideRecord]) -> EffectRow {
    let mine: Vec<&SideRecord> = sides.iter().filter(|s| s.effect == effect).collect();
    let zone: Vec<&&SideRecord> = mine.iter().filter(|s| s.full_read.is_some()).collect();
    let count = |f: &dyn Fn(&SideRecord) -> bool| zone.iter().filter(|s| f(s)).count();
    let verdict = |v: &str| count(&|s| s.mrz_verdict.as_deref() == Some(v));
    let full = count(&|s| s.full_read == Some(true));
    let portraits: Vec<bool> = mine.iter().filter_map(|s| s.portrait_found).collect();
    let mut field_accuracy = Vec::new();
    for (i, name) in FIELDS.iter().enumerate() {
        let ok = count(&|s| s.fields.get(i).copied().unwrap_or(false));
        field_accuracy.push(((*name).to_owned(), Rate::new(ok, zone.len())));
    }
    EffectRow {
        effect: effect.to_owned(),
        sides: mine.len(),
        document_found: Rate::new(mine.iter().filter(|s| s.document_found).count(), mine.len()),
        mrz_full_read: Rate::new(full, zone.len()),
        mrz_valid_other_data: verdict("valid") + verdict("specimen") - full,
        mrz_valid: verdict("valid"),
        mrz_check_failed: verdict("check_failed"),
        mrz_not_readable: verdict("not_readable"),
        field_accuracy,
        portrait_found: Rate::new(portraits.iter().filter(|p| **p).count(), portraits.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_dates_are_the_six_cells() {
        assert_eq!(zone_date("1974-08-12"), "740812");
        assert_eq!(zone_date("2031-01-05"), "310105");
    }

    #[test]
    fn plain_text_drops_fillers() {
        assert_eq!(plain("ANNA<MARIA<<<"), "ANNA MARIA");
        assert_eq!(plain("ANNA MARIA"), "ANNA MARIA");
        assert_eq!(plain("<<<"), "");
    }

    fn side(
        effect: &str,
        full: Option<bool>,
        verdict: Option<&str>,
        portrait: Option<bool>,
    ) -> SideRecord {
        SideRecord {
            effect: effect.into(),
            side: "passport_page".into(),
            seed: 0,
            document_found: true,
            portrait_found: portrait,
            mrz_verdict: verdict.map(str::to_owned),
            full_read: full,
            fields: if full.is_some() {
                vec![full == Some(true); FIELDS.len()]
            } else {
                Vec::new()
            },
            inspect_ms: 1.0,
            read_ms: None,
            total_ms: 1.0,
        }
    }

    #[test]
    fn forgeries_and_cut_off_sides_are_not_camera_effects() {
        for effect in ["clean", "cut_off", "tampered_check_digit", "specimen"] {
            assert!(!is_camera_effect(effect), "{effect}");
        }
        for effect in ["blur", "glare", "perspective", "photocopy"] {
            assert!(is_camera_effect(effect), "{effect}");
        }
    }

    #[test]
    fn an_effect_row_counts_zone_sides_and_portrait_sides_apart() {
        let sides = vec![
            side("blur", Some(true), Some("valid"), Some(true)),
            side("blur", Some(false), Some("valid"), Some(false)),
            side("blur", Some(false), Some("check_failed"), None),
            side("blur", None, None, Some(true)),
            side("clean", Some(true), Some("valid"), None),
        ];
        let row = effect_row("blur", &sides);
        assert_eq!(row.sides, 4);
        assert_eq!((row.mrz_full_read.k, row.mrz_full_read.n), (1, 3));
        assert_eq!(
            (
                row.mrz_valid_other_data,
                row.mrz_check_failed,
                row.mrz_not_readable
            ),
            (1, 1, 0)
        );
        assert_eq!(row.mrz_valid, 2);
        assert_eq!((row.portrait_found.k, row.portrait_found.n), (2, 3));
        assert_eq!(row.field_accuracy[4].1.k, 1);
    }
}
