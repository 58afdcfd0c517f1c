//! Whole documents photographed turned (a quarter, half or three quarters
//! clockwise, stored without an orientation tag) through the analyser and
//! the domain's verdict: how many are approved with the printed document
//! number, against the same documents upright. Passport pages and ID cards
//! (front and back turned alike) with LFW portraits, seeded.
//!
//! ```sh
//! FACEGATE_SHARED_DIR=../shared cargo run --release -p facegate-documents \
//!     --example document_turns -- [--per-turn 10] [--seed 21] \
//!     [--turns 0,90,180,270] [--effect glare] [--light 1,0.75,0.45]
//! ```
//!
//! `--effect` applies a docgen effect to every side: with `--turns 0`, how
//! often an upright document that is hard to read (glare over the portrait,
//! blur) is analysed turned, and whether that changes its verdict.
//! `--light` multiplies each channel (red, green, blue) by a gain: a
//! coloured or dim light (`1,0.75,0.45` tungsten, `0.5,0.37,0.22` dim
//! tungsten).

mod common;

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{
    DocumentKind, Effect, FaceInput, Generator, IdentityRecord, Request, Side, Subject,
};
use facegate_documents::{quality, DocumentAnalyzer, Turn};
use facegate_domain::scan::Workflow;
use facegate_domain::scan_verdict::{decide_scan, ScanPolicy};
use facegate_domain::VerificationStatus;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;
use image::RgbImage;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| common::value(&args, name);
    let per_turn: u64 = value("--per-turn").map_or(Ok(10), |v| v.parse())?;
    let seed: u64 = value("--seed").map_or(Ok(21), |v| v.parse())?;
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .map_or_else(|| PathBuf::from("../shared"), PathBuf::from);
    let lfw = shared.join("data/lfw/lfw-deepfunneled");
    let mut people: Vec<PathBuf> = std::fs::read_dir(&lfw)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    people.sort();
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;
    let generator = Generator::new()?;
    let runtime = OrtRuntime::new()?;
    let mut analyzer = DocumentAnalyzer::new(&ModelStore::open_default()?, &runtime)?;
    let policy = ScanPolicy {
        document_types: Vec::new(),
        countries: Vec::new(),
        accept_expired: false,
        preset: None,
        match_threshold: 0.5,
        same_picture_threshold: None,
    };
    let workflow = Workflow::parse(100).map_err(|e| format!("{e:?}"))?;
    // Gains per channel: the light's colour and strength.
    let cast: [f32; 3] = match value("--light") {
        Some(list) => {
            let gains: Vec<f32> = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
            [0, 1, 2].map(|c| gains.get(c).copied().unwrap_or(1.0))
        }
        None => [1.0; 3],
    };
    let effects: Vec<Effect> = match value("--effect") {
        Some(name) => vec![name.parse()?],
        None => Vec::new(),
    };
    let turns: Vec<Turn> = match value("--turns") {
        Some(list) => list
            .split(',')
            .map(|d| match d {
                "0" => Ok(Turn::Upright),
                "90" => Ok(Turn::Quarter),
                "180" => Ok(Turn::Half),
                "270" => Ok(Turn::ThreeQuarters),
                other => Err(format!("no turn of {other}°")),
            })
            .collect::<Result<_, _>>()?,
        None => vec![
            Turn::Upright,
            Turn::Quarter,
            Turn::Half,
            Turn::ThreeQuarters,
        ],
    };
    println!(
        "| turn | passports approved | cards approved | sides analysed turned | median ms per document |"
    );
    println!("|---|---:|---:|---:|---:|");
    for turn in turns {
        let (mut passports, mut cards, mut ms) = (0u64, 0u64, Vec::new());
        let mut sides_turned = 0u64;
        for i in 0..per_turn {
            let doc_seed = seed.wrapping_mul(1_000_003).wrapping_add(i);
            let person = people
                .get((doc_seed % people.len().max(1) as u64) as usize)
                .ok_or("no LFW people")?;
            let face_path = std::fs::read_dir(person)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .min()
                .ok_or("an LFW person without images")?;
            let face = image::open(face_path)?.to_rgb8();
            let render = |side: Side, record: &IdentityRecord, s: u64| {
                let subject = Subject::Document {
                    side,
                    record: record.clone(),
                };
                let request = Request::scene(subject, s, today)
                    .with_face(
                        FaceInput {
                            image: &face,
                            crop: None,
                        },
                        None,
                    )
                    .with_effects(&effects);
                generator
                    .render(&request)
                    .map(|r| turned(&r.jpeg, turn).map(|image| quality::lit(image, cast)))
            };
            for kind in [DocumentKind::Td3, DocumentKind::Td1] {
                let record = IdentityRecord::random(kind, doc_seed, today);
                let (front, back) = match kind {
                    DocumentKind::Td3 => (render(Side::Td3, &record, doc_seed)??, None),
                    _ => (
                        render(Side::Td1Front, &record, doc_seed)??,
                        Some(render(Side::Td1Back, &record, doc_seed + 1)??),
                    ),
                };
                let started = Instant::now();
                let report = analyzer.analyze(Some(&front), back.as_ref().map(Some), today)?;
                ms.push(started.elapsed().as_secs_f64() * 1e3);
                sides_turned += [Some(&report.front), report.back.as_ref()]
                    .into_iter()
                    .flatten()
                    .filter(|side| side.turn != Turn::Upright)
                    .count() as u64;
                let verdict = decide_scan(workflow, &report.findings, None, &policy, today);
                let ok = verdict.status == VerificationStatus::ApprovedVerified
                    && verdict.document.as_ref().and_then(|d| d.number.as_deref())
                        == Some(record.document_number.as_str());
                if !ok {
                    eprintln!(
                        "MISS {kind:?} seed {doc_seed} turned {}°: {:?} {:?}",
                        turn.degrees(),
                        verdict.status,
                        report.findings
                    );
                }
                match kind {
                    DocumentKind::Td3 => passports += u64::from(ok),
                    _ => cards += u64::from(ok),
                }
            }
        }
        ms.sort_by(f64::total_cmp);
        let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
        println!(
            "| {}° | {passports}/{per_turn} | {cards}/{per_turn} | {sides_turned} | {median:.0} |",
            turn.degrees()
        );
    }
    Ok(())
}

/// The rendered JPEG decoded and turned.
fn turned(jpeg: &[u8], turn: Turn) -> Result<RgbImage, image::ImageError> {
    Ok(turn.apply(&image::load_from_memory(jpeg)?.to_rgb8()))
}
