//! The document inspector's checks on generated documents: thresholds
//! calibrated on one set of seeds, error rates measured on another, per
//! effect, and the time per side.
//!
//! ```sh
//! cargo run --release -p facegate-documents --example document_checks -- \
//!     [--calibration 1000..1040] [--test 2000..2040] [--threads 1] [--faces DIR] \
//!     [--dump FILE.tsv]
//! ```
//!
//! Each seed renders (`facegate-docgen`, 1600 × 1200) the three document
//! sides (TD3 data page, TD1 front and back) clean and with each camera
//! effect, and the three scenes without a document (table, a printed face
//! photo, a selfie), the face from LFW (`../shared/data/lfw`, the person
//! drawn from the seed; the drawn placeholder face without it). Every image
//! is inspected once; the calibration then picks, for each check, the
//! threshold that flags at most [`FALSE_REJECT`] of the calibration images
//! that should pass it (all images without that effect), and the test set
//! is judged with both the shipped thresholds ([`Thresholds::default`]) and
//! the calibrated ones. The document must be found on every side; no
//! scene without a document may count as one (the fewest text lines is
//! one more than any calibration scene without a document had).
//!
//! Ground truth per check: `PHOTOCOPY_BLACK_WHITE` for the `photocopy`
//! effect; `BLURRED` for `blur` and `motion_blur` (rates per strength);
//! `GLARE` for `glare` washing out at least [`GLARE_TRUTH`] of the zone or
//! of the portrait (rates per target); `MISSING_PART_DOCUMENT` when a
//! corner is outside the image; `BAD_QUALITY` for `low_light`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{
    AppliedEffect, Effect, FaceInput, Generator, GroundTruth, IdentityRecord, Request, Side,
    Subject,
};
use facegate_documents::inspect::{DocumentInspector, DocumentSide, Measures, Thresholds};
use facegate_documents::page::Quad;
use facegate_domain::scan_verdict::SideFindings;
use facegate_domain::verification::RejectDetail;
use facegate_vision::geometry::Point;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;

/// Largest share of the calibration images without an effect that its
/// check may flag.
const FALSE_REJECT: f64 = 0.005;
/// A glare is one to flag when it washes out this share of the MRZ lines or
/// of the portrait (the generator's `mrz_washed`, `portrait_washed`).
const GLARE_TRUTH: f64 = 0.25;

const EFFECTS: [Option<Effect>; 10] = [
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
];

/// One inspected image.
#[derive(Debug, Clone)]
struct Record {
    /// `td3`, `td1_front`, `td1_back`, or the scene without a document.
    subject: String,
    effect: String,
    /// A finer label for rates per strength or target (`sigma 2.45`, `mrz`).
    detail: String,
    truth: GroundTruth,
    measures: Measures,
    portrait: Option<Quad>,
    has_portrait_side: bool,
    inspect_ms: f64,
}

impl Record {
    fn is_document(&self) -> bool {
        self.truth.scene == "document"
    }

    fn glare_to_flag(&self) -> bool {
        self.truth.effects.iter().any(|e| {
            matches!(e, AppliedEffect::Glare { mrz_washed, portrait_washed, .. }
                if *mrz_washed >= GLARE_TRUTH || *portrait_washed >= GLARE_TRUTH)
        })
    }

    fn fully_visible(&self) -> bool {
        self.truth.document.as_ref().is_none_or(|d| d.fully_visible)
    }

    /// The face box lies on the printed portrait: its centre inside, its
    /// area 10–80 % of the portrait's.
    fn portrait_box_ok(&self) -> bool {
        let (Some(found), Some(truth)) = (
            self.portrait,
            self.truth.document.as_ref().and_then(|d| d.portrait),
        ) else {
            return false;
        };
        let truth = Quad(truth.map(|p| Point::new(p[0] as f32, p[1] as f32)));
        let share = found.area() / truth.area().max(1.0);
        truth.contains(found.centroid(), 0.0) && (0.1..=0.8).contains(&share)
    }
}

fn seeds(arg: &str) -> Result<std::ops::Range<u64>, Box<dyn std::error::Error>> {
    let (a, b) = arg.split_once("..").ok_or("seeds are A..B")?;
    Ok(a.parse()?..b.parse()?)
}

/// LFW's people, sorted, when the data set is there.
fn lfw_people(dir: &Path) -> Vec<PathBuf> {
    let mut people: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    people.sort();
    people
}

fn face_of(people: &[PathBuf], seed: u64) -> Option<(image::RgbImage, String)> {
    if people.is_empty() {
        return None;
    }
    let person = &people[(seed.wrapping_mul(2_654_435_761) % people.len() as u64) as usize];
    let mut files: Vec<PathBuf> = std::fs::read_dir(person)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let file = files.first()?;
    let img = image::open(file).ok()?.to_rgb8();
    Some((img, file.display().to_string()))
}

fn inspect_seeds(
    seeds: Vec<u64>,
    people: &[PathBuf],
    today: NaiveDate,
) -> Result<Vec<Record>, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let generator = Generator::new().map_err(|e| err(&e))?;
    let runtime = OrtRuntime::new().map_err(|e| err(&e))?;
    let store = ModelStore::open_default().map_err(|e| err(&e))?;
    let mut inspector = DocumentInspector::new(&store, &runtime).map_err(|e| err(&e))?;
    let mut out = Vec::new();
    for seed in seeds {
        let face = face_of(people, seed);
        let mut jobs: Vec<(Subject, Option<Effect>, String)> = Vec::new();
        for side in [Side::Td3, Side::Td1Front, Side::Td1Back] {
            let record = IdentityRecord::random(side.kind(), seed, today);
            let name = match side {
                Side::Td3 => "td3",
                Side::Td1Front => "td1_front",
                Side::Td1Back => "td1_back",
            };
            for effect in EFFECTS {
                jobs.push((
                    Subject::Document {
                        side,
                        record: record.clone(),
                    },
                    effect,
                    name.to_string(),
                ));
            }
        }
        for (scene, name) in [
            (Subject::Background, "background"),
            (Subject::FacePhoto, "face_photo"),
            (Subject::Selfie, "selfie"),
        ] {
            jobs.push((scene, None, name.to_string()));
        }
        for (subject, effect, name) in jobs {
            let side = match &subject {
                Subject::Document {
                    side: Side::Td1Front,
                    ..
                } => DocumentSide::CardFront,
                Subject::Document {
                    side: Side::Td1Back,
                    ..
                } => DocumentSide::CardBack,
                _ => DocumentSide::PassportPage,
            };
            let mut req = Request::scene(subject, seed, today);
            if let Some((img, label)) = &face {
                req = req.with_face(
                    FaceInput {
                        image: img,
                        crop: None,
                    },
                    Some(label.clone()),
                );
            }
            if let Some(e) = effect {
                req = req.with_effects(&[e]);
            }
            let rendered = generator.render(&req).map_err(|e| err(&e))?;
            let image = image::load_from_memory(&rendered.jpeg)
                .map_err(|e| err(&e))?
                .to_rgb8();
            let started = Instant::now();
            let inspection = inspector.inspect_side(&image, side).map_err(|e| err(&e))?;
            let inspect_ms = started.elapsed().as_secs_f64() * 1e3;
            let detail = rendered
                .truth
                .effects
                .iter()
                .find_map(|e| match e {
                    AppliedEffect::Blur { sigma_px } => Some(format!("σ {sigma_px}")),
                    AppliedEffect::MotionBlur { length_px, .. } => Some(format!(
                        "{} px",
                        if *length_px < 10.0 {
                            "6–9"
                        } else {
                            "10–16"
                        }
                    )),
                    AppliedEffect::Glare { target, .. } => Some(target.clone()),
                    AppliedEffect::Photocopy { whole_image, .. } => {
                        Some(if *whole_image { "whole image" } else { "page" }.to_string())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            out.push(Record {
                subject: name,
                effect: effect.map_or("clean", |e| e.name()).to_string(),
                detail,
                truth: rendered.truth,
                has_portrait_side: side.has_portrait(),
                portrait: inspection.portrait.map(|p| p.face),
                measures: inspection.measures,
                inspect_ms,
            });
        }
    }
    Ok(out)
}

fn run_sets(
    seeds: std::ops::Range<u64>,
    threads: usize,
    people: &[PathBuf],
    today: NaiveDate,
) -> Result<Vec<Record>, Box<dyn std::error::Error>> {
    let all: Vec<u64> = seeds.collect();
    let chunks: Vec<Vec<u64>> = (0..threads.max(1))
        .map(|t| {
            all.iter()
                .copied()
                .skip(t)
                .step_by(threads.max(1))
                .collect()
        })
        .collect();
    let results: Vec<Result<Vec<Record>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || inspect_seeds(c, people, today)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The `q`-quantile of `v` (sorted here).
fn quantile(v: &mut [f32], q: f64) -> f32 {
    v.sort_by(f32::total_cmp);
    if v.is_empty() {
        return f32::NAN;
    }
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

/// Thresholds from the calibration set.
fn calibrate(records: &[Record]) -> Thresholds {
    let docs: Vec<&Record> = records.iter().filter(|r| r.is_document()).collect();
    let min_text_lines = records
        .iter()
        .filter(|r| !r.is_document())
        .map(|r| r.measures.page_text_lines)
        .max()
        .unwrap_or(0)
        + 1;
    let not = |effects: &[&str]| {
        docs.iter()
            .filter(|r| !effects.contains(&r.effect.as_str()))
            .copied()
            .collect::<Vec<&Record>>()
    };
    // Flag below the FALSE_REJECT quantile, or above the 1 − FALSE_REJECT one.
    let mut colour: Vec<f32> = not(&["photocopy"])
        .iter()
        .filter_map(|r| r.measures.colour.map(|c| c.p98))
        .collect();
    let mut blur: Vec<f32> = not(&["blur", "motion_blur"])
        .iter()
        .filter_map(|r| r.measures.blur.map(|b| b.relative))
        .collect();
    let mut glare_mrz: Vec<f32> = not(&["glare"])
        .iter()
        .filter_map(|r| r.measures.glare_mrz)
        .collect();
    let mut glare_portrait: Vec<f32> = not(&["glare"])
        .iter()
        .filter_map(|r| r.measures.glare_portrait)
        .collect();
    let mut paper: Vec<f32> = not(&["low_light"])
        .iter()
        .filter_map(|r| r.measures.colour.map(|c| c.paper))
        .collect();
    let round = |v: f32, step: f32| (v / step).round() * step;
    Thresholds {
        min_text_lines,
        colour_p98: round(quantile(&mut colour, FALSE_REJECT), 0.5),
        blur_relative: round(quantile(&mut blur, 1.0 - FALSE_REJECT), 0.005),
        glare_mrz: round(quantile(&mut glare_mrz, 1.0 - FALSE_REJECT), 0.01),
        glare_portrait: round(quantile(&mut glare_portrait, 1.0 - FALSE_REJECT), 0.01),
        min_paper: round(quantile(&mut paper, FALSE_REJECT), 1.0),
    }
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * n as f64 / of as f64)
    }
}

type Judged<'a> = (&'a Record, SideFindings);

fn has(findings: &SideFindings, d: RejectDetail) -> bool {
    findings.unreadable.contains(&d)
}

/// Per check: how often it fires on the images it should and should not
/// fire on.
fn report(title: &str, records: &[Record], t: &Thresholds) {
    println!("\n### {title}\n\n```\n{t:?}\n```\n");
    let judged: Vec<Judged> = records.iter().map(|r| (r, t.judge(&r.measures))).collect();
    let docs: Vec<&Judged> = judged.iter().filter(|(r, _)| r.is_document()).collect();
    println!("| check | should fire: fired | should not: fired |");
    println!("|---|---:|---:|");
    let row = |name: &str,
               fire: &dyn Fn(&Record) -> bool,
               fired: &dyn Fn(&SideFindings) -> bool,
               pool: &[&Judged]| {
        let (mut p, mut pf, mut n, mut nf) = (0, 0, 0, 0);
        for (r, f) in pool.iter().map(|x| (x.0, &x.1)) {
            if fire(r) {
                p += 1;
                pf += usize::from(fired(f));
            } else {
                n += 1;
                nf += usize::from(fired(f));
            }
        }
        println!(
            "| {name} | {pf}/{p} ({}) | {nf}/{n} ({}) |",
            pct(pf, p),
            pct(nf, n)
        );
    };
    let all: Vec<&Judged> = judged.iter().collect();
    row(
        "document found",
        &|r| r.is_document(),
        &|f| f.document_found,
        &all,
    );
    row(
        "PHOTOCOPY_BLACK_WHITE",
        &|r| r.effect == "photocopy",
        &|f| f.black_and_white,
        &docs,
    );
    row(
        "BLURRED",
        &|r| r.effect == "blur" || r.effect == "motion_blur",
        &|f| has(f, RejectDetail::Blurred),
        &docs,
    );
    row(
        "GLARE",
        &|r| r.glare_to_flag(),
        &|f| has(f, RejectDetail::Glare),
        &docs,
    );
    row(
        "MISSING_PART_DOCUMENT",
        &|r| !r.fully_visible(),
        &|f| has(f, RejectDetail::MissingPartDocument),
        &docs,
    );
    row(
        "BAD_QUALITY",
        &|r| r.effect == "low_light",
        &|f| has(f, RejectDetail::BadQuality),
        &docs,
    );
    let clean: Vec<_> = docs.iter().filter(|(r, _)| r.effect == "clean").collect();
    let passed = clean
        .iter()
        .filter(|(_, f)| f.document_found && !f.black_and_white && f.unreadable.is_empty())
        .count();
    println!(
        "\nClean sides passing every check: {passed}/{} ({}).",
        clean.len(),
        pct(passed, clean.len())
    );

    println!("\n| side | effect | detail | n | found | B&W | BLURRED | GLARE | MISSING_PART | BAD_QUALITY | passes | portrait | portrait box | median ms | p90 ms |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut groups: BTreeMap<(String, String, String), Vec<&Judged>> = BTreeMap::new();
    for j in &judged {
        groups
            .entry((j.0.subject.clone(), j.0.effect.clone(), j.0.detail.clone()))
            .or_default()
            .push(j);
    }
    for ((subject, effect, detail), g) in &groups {
        let n = g.len();
        let count = |f: &dyn Fn(&Record, &SideFindings) -> bool| {
            g.iter().filter(|(r, fi)| f(r, fi)).count()
        };
        let portrait_sides = g
            .iter()
            .filter(|(r, _)| r.has_portrait_side && r.is_document())
            .count();
        let mut ms: Vec<f32> = g.iter().map(|(r, _)| r.inspect_ms as f32).collect();
        println!(
            "| {subject} | {effect} | {detail} | {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
            pct(count(&|_, f| f.document_found), n),
            pct(count(&|_, f| f.black_and_white), n),
            pct(count(&|_, f| has(f, RejectDetail::Blurred)), n),
            pct(count(&|_, f| has(f, RejectDetail::Glare)), n),
            pct(count(&|_, f| has(f, RejectDetail::MissingPartDocument)), n),
            pct(count(&|_, f| has(f, RejectDetail::BadQuality)), n),
            pct(
                count(&|_, f| f.document_found && !f.black_and_white && f.unreadable.is_empty()),
                n
            ),
            pct(count(&|r, _| r.has_portrait_side && r.is_document() && r.portrait.is_some()), portrait_sides),
            pct(count(&|r, _| r.has_portrait_side && r.is_document() && r.portrait_box_ok()), portrait_sides),
            quantile(&mut ms, 0.5),
            quantile(&mut ms, 0.9),
        );
    }
}

/// One line per image: the labels and every measurement, tab-separated.
fn dump(path: &Path, sets: &[(&str, &[Record])]) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut out = String::from(
        "set\tsubject\teffect\tdetail\tvisible\tglare_truth\ttext\tpage_text\tpage\tclosed\tcut\tat_border\tblur_px\tblur_rel\tp90\tp98\tp995\tpaper\tglare_mrz\tglare_portrait\tportrait\tportrait_ok\tms\n",
    );
    let opt = |v: Option<f32>| v.map_or("".to_string(), |v| format!("{v:.4}"));
    for (set, records) in sets {
        for r in records.iter() {
            let m = &r.measures;
            let _ = writeln!(
                out,
                "{set}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.0}",
                r.subject,
                r.effect,
                r.detail,
                u8::from(r.fully_visible()),
                u8::from(r.glare_to_flag()),
                m.text_lines,
                m.page_text_lines,
                u8::from(m.page_found),
                u8::from(m.page_closed),
                u8::from(m.page_cut),
                u8::from(m.content_at_border),
                opt(m.blur.map(|b| b.sigma_px)),
                opt(m.blur.map(|b| b.relative)),
                opt(m.colour.map(|c| c.p90)),
                opt(m.colour.map(|c| c.p98)),
                opt(m.colour.map(|c| c.p995)),
                opt(m.colour.map(|c| c.paper)),
                opt(m.glare_mrz),
                opt(m.glare_portrait),
                u8::from(r.portrait.is_some()),
                u8::from(r.portrait_box_ok()),
                r.inspect_ms,
            );
        }
    }
    std::fs::write(path, out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| common::value(&args, name);
    let calibration = seeds(&value("--calibration").unwrap_or_else(|| "1000..1040".into()))?;
    let test = seeds(&value("--test").unwrap_or_else(|| "2000..2040".into()))?;
    let threads: usize = value("--threads").map_or(Ok(1), |t| t.parse())?;
    let faces = value("--faces").map_or_else(
        || {
            std::env::var("FACEGATE_SHARED_DIR")
                .map_or_else(|_| PathBuf::from("../shared"), PathBuf::from)
                .join("data/lfw/lfw-deepfunneled")
        },
        PathBuf::from,
    );
    let people = lfw_people(&faces);
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;
    println!(
        "# Document checks\n\nCalibration seeds {calibration:?}, test seeds {test:?}; faces: {}.",
        if people.is_empty() {
            "the drawn placeholder".to_string()
        } else {
            format!("{} LFW people from {}", people.len(), faces.display())
        }
    );

    let calibration_set = run_sets(calibration, threads, &people, today)?;
    let calibrated = calibrate(&calibration_set);
    println!("\n## Calibration ({} images)", calibration_set.len());
    report(
        "calibrated thresholds, calibration set",
        &calibration_set,
        &calibrated,
    );

    let test_set = run_sets(test, threads, &people, today)?;
    println!("\n## Test ({} images)", test_set.len());
    report(
        "shipped thresholds, test set",
        &test_set,
        &Thresholds::default(),
    );
    if calibrated != Thresholds::default() {
        report("calibrated thresholds, test set", &test_set, &calibrated);
    }
    if let Some(path) = value("--dump") {
        dump(
            Path::new(&path),
            &[("calibration", &calibration_set), ("test", &test_set)],
        )?;
    }
    Ok(())
}
