//! MRZ full-read rate per effect and time per document side, on documents
//! rendered by `tools/docgen` (placeholder faces; TD3 passport pages and
//! TD1 card backs alternating; seeded, so a run is reproducible).
//!
//! ```sh
//! cargo run --release -p facegate-documents --example mrz_read_rate -- \
//!     [--per-effect 40] [--seed 1] [--effects clean,blur,...] [--show-misses] \
//!     [--detect-max-side 960]
//! ```
//!
//! A side is fully read when the reader's verdict is valid and its zone
//! equals the printed lines cell for cell. "camera average" is the mean
//! rate over the camera effects issue #11 names (perspective, blur, glare,
//! noise, jpeg, low_light, photocopy).

use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{Effect, Generator, IdentityRecord, Request, Side};
use facegate_documents::{MrzReader, MrzReading};
use facegate_domain::mrz::MrzRead;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;

/// The camera effects the issue's bar averages over.
const CAMERA: [&str; 7] = [
    "perspective",
    "blur",
    "glare",
    "noise",
    "jpeg",
    "low_light",
    "photocopy",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let per_effect: usize = value("--per-effect").map_or(Ok(40), |v| v.parse())?;
    let seed: u64 = value("--seed").map_or(Ok(1), |v| v.parse())?;
    let show = args.iter().any(|a| a == "--show-misses");
    let effects: Vec<String> = match value("--effects") {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => ["clean", "motion_blur", "cut_off"]
            .into_iter()
            .chain(CAMERA)
            .map(str::to_owned)
            .collect(),
    };

    let generator = Generator::new()?;
    let runtime = OrtRuntime::new()?;
    let mut reader = MrzReader::new(&ModelStore::open_default()?, &runtime)?;
    let mut settings = *reader.settings();
    if let Some(side) = value("--detect-max-side") {
        settings.detect_max_side = side.parse()?;
    }
    if let Some(v) = value("--crop-height") {
        settings.crop_height = v.parse()?;
    }
    if let Some(v) = value("--reread-crop-heights") {
        let v: Vec<f32> = v.split(',').map(str::parse).collect::<Result<_, _>>()?;
        settings.reread_crop_heights = [
            v.first().copied().unwrap_or(0.0),
            v.get(1).copied().unwrap_or(0.0),
        ];
    }
    if let Some(v) = value("--min-aspect") {
        settings.min_aspect = v.parse()?;
    }
    reader = reader.with_settings(settings);
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;

    println!(
        "| effect | sides | full reads | rate | valid, other data | check failed | not readable | median ms | p95 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut camera_rates = Vec::new();
    let mut all_ms = Vec::new();
    for name in &effects {
        let effect: Option<Effect> = match name.as_str() {
            "clean" => None,
            other => Some(other.parse::<Effect>()?),
        };
        let (mut full, mut ms) = (0usize, Vec::new());
        let (mut wrong, mut failed, mut unreadable) = (0usize, 0usize, 0usize);
        for i in 0..per_effect {
            let side = if i.is_multiple_of(2) {
                Side::Td3
            } else {
                Side::Td1Back
            };
            let doc_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let record = IdentityRecord::random(side.kind(), doc_seed, today);
            let request = Request::document(side, record, doc_seed, today)
                .with_effects(&effect.into_iter().collect::<Vec<_>>());
            let rendered = generator.render(&request)?;
            let lines = rendered
                .truth
                .mrz
                .as_ref()
                .map(|m| m.lines.clone())
                .unwrap_or_default();
            let image = image::load_from_memory(&rendered.jpeg)?.to_rgb8();
            let started = Instant::now();
            let reading = reader.read(&image, today)?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            let ok = matches!(&reading.outcome, MrzRead::Valid(z) if z.lines == lines);
            full += usize::from(ok);
            match &reading.outcome {
                MrzRead::Valid(_) | MrzRead::Specimen { .. } if !ok => wrong += 1,
                MrzRead::CheckFailed(_) => failed += 1,
                MrzRead::NotReadable(_) => unreadable += 1,
                _ => {}
            }
            if show && !ok {
                print_miss(name, doc_seed, side, &lines, &reading);
            }
        }
        let rate = full as f64 / per_effect.max(1) as f64;
        if CAMERA.contains(&name.as_str()) {
            camera_rates.push(rate);
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
        println!(
            "| {name} | {per_effect} | {full} | {:.1} % | {wrong} | {failed} | {unreadable} | {:.0} | {:.0} | {:.0} |",
            100.0 * rate,
            at(0.5),
            at(0.95),
            ms.last().copied().unwrap_or(0.0)
        );
        all_ms.extend(ms);
    }
    if !camera_rates.is_empty() {
        println!(
            "\ncamera average ({} effects): {:.1} %",
            camera_rates.len(),
            100.0 * camera_rates.iter().sum::<f64>() / camera_rates.len() as f64
        );
    }
    all_ms.sort_by(f64::total_cmp);
    if !all_ms.is_empty() {
        println!(
            "time per side (one thread, {} sides): median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            all_ms.len(),
            all_ms[all_ms.len() / 2],
            all_ms[(all_ms.len() * 95 / 100).min(all_ms.len() - 1)],
            all_ms[all_ms.len() - 1]
        );
    }
    Ok(())
}

fn print_miss(effect: &str, seed: u64, side: Side, lines: &[String], reading: &MrzReading) {
    let verdict = match &reading.outcome {
        MrzRead::Valid(_) => "valid, other data".to_owned(),
        MrzRead::Specimen { .. } => "specimen".to_owned(),
        MrzRead::CheckFailed(z) => format!("check failed {:?}", z.failed_checks()),
        MrzRead::NotReadable(why) => format!("not readable {why:?}"),
    };
    println!("MISS {effect} seed {seed} {side:?}: {verdict}");
    for (want, got) in lines.iter().zip(&reading.lines) {
        let doubts: Vec<String> = got
            .alternatives
            .iter()
            .enumerate()
            .filter(|(_, a)| !a.is_empty())
            .map(|(i, a)| {
                let alts: Vec<String> = a.iter().map(|(c, p)| format!("{c}{p:.2}")).collect();
                format!("{i}:{}", alts.join(","))
            })
            .collect();
        println!(
            "  want {want}\n  read {}\n  free {}\n  doubts {}",
            got.text,
            got.free_text,
            doubts.join(" ")
        );
    }
    if reading.lines.is_empty() {
        println!("  no zone among {} boxes", reading.boxes);
    }
    println!("  {:?}", reading.timing);
}
