//! MRZ full-read rate per effect and time per document side, on a set of
//! rendered documents with ground truth.
//!
//! ```sh
//! cargo run --release -p facegate-documents --example mrz_read_rate -- DIR [--show-misses]
//! ```
//!
//! `DIR/truth.jsonl` has one JSON object per image: `file` (relative to
//! DIR), `effect` (a label to group by), `lines` (the zone as printed, top
//! to bottom). A side counts as fully read when the reader's verdict is
//! valid (or a specimen) and its zone equals `lines` cell for cell.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use facegate_documents::MrzReader;
use facegate_domain::mrz::MrzRead;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: mrz_read_rate DIR [--show-misses]")?,
    );
    let rest: Vec<String> = args.collect();
    let show = rest.iter().any(|a| a == "--show-misses");
    let stats = rest.iter().any(|a| a == "--doubt-stats");
    let (mut wrong, mut right): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
    let runtime = OrtRuntime::new()?;
    let mut reader = MrzReader::new(&ModelStore::open_default()?, &runtime)?;
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;

    #[derive(Default)]
    struct Tally {
        n: usize,
        full: usize,
        ms: Vec<f64>,
    }
    let mut by_effect: BTreeMap<String, Tally> = BTreeMap::new();
    let truth = std::fs::read_to_string(dir.join("truth.jsonl"))?;
    for line in truth.lines().filter(|l| !l.trim().is_empty()) {
        let t: serde_json::Value = serde_json::from_str(line)?;
        let file = t["file"].as_str().ok_or("file")?;
        let effect = t["effect"].as_str().unwrap_or("clean").to_owned();
        let lines: Vec<String> = t["lines"]
            .as_array()
            .ok_or("lines")?
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        let image = image::open(dir.join(file))?.to_rgb8();
        let reading = reader.read(&image, today)?;
        let full = match &reading.outcome {
            MrzRead::Valid(z) | MrzRead::Specimen { zone: z, .. } => z.lines == lines,
            _ => false,
        };
        if stats && reading.lines.len() == lines.len() {
            for (want, got) in lines.iter().zip(&reading.lines) {
                for (i, (w, g)) in want.chars().zip(got.text.chars()).enumerate() {
                    let alts = got.alternatives.get(i).cloned().unwrap_or_default();
                    if w != g {
                        let p = alts.iter().find(|(c, _)| *c == w).map_or(0.0, |a| a.1);
                        wrong.push(p);
                    } else if let Some(&(_, p)) = alts.first() {
                        right.push(p);
                    }
                }
            }
        }
        let tally = by_effect.entry(effect.clone()).or_default();
        tally.n += 1;
        tally.full += usize::from(full);
        tally.ms.push(reading.timing.total_ms);
        if show && !full {
            println!("MISS {file} ({effect}): {:?}", verdict(&reading.outcome));
            for (want, got) in lines.iter().zip(&reading.lines) {
                let doubts: Vec<String> = got
                    .alternatives
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| !a.is_empty())
                    .map(|(i, a)| {
                        let alts: Vec<String> =
                            a.iter().map(|(c, p)| format!("{c}{p:.2}")).collect();
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
            println!("  timing {:?} boxes {}", reading.timing, reading.boxes);
            if reading.lines.is_empty() {
                println!("  no zone among {} boxes", reading.boxes);
            }
        }
    }
    println!("| effect | sides | full reads | rate | median ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut rates = Vec::new();
    for (effect, t) in &mut by_effect {
        t.ms.sort_by(f64::total_cmp);
        let rate = t.full as f64 / t.n.max(1) as f64;
        if effect != "clean" {
            rates.push(rate);
        }
        println!(
            "| {effect} | {} | {} | {:.1} % | {:.0} | {:.0} |",
            t.n,
            t.full,
            100.0 * rate,
            t.ms[t.ms.len() / 2],
            t.ms.last().copied().unwrap_or(0.0)
        );
    }
    if stats {
        for threshold in [0.02f32, 0.05, 0.1, 0.2, 0.3] {
            println!(
                "doubt >= {threshold}: {} of {} misread cells offer the truth; {} correct cells offer a doubt",
                wrong.iter().filter(|&&p| p >= threshold).count(),
                wrong.len(),
                right.iter().filter(|&&p| p >= threshold).count(),
            );
        }
    }
    if !rates.is_empty() {
        println!(
            "\naverage over the {} effects: {:.1} %",
            rates.len(),
            100.0 * rates.iter().sum::<f64>() / rates.len() as f64
        );
    }
    Ok(())
}

fn verdict(r: &MrzRead) -> String {
    match r {
        MrzRead::Valid(_) => "valid, other data".into(),
        MrzRead::Specimen { .. } => "specimen, other data".into(),
        MrzRead::CheckFailed(z) => format!("check failed {:?}", z.failed_checks()),
        MrzRead::NotReadable(why) => format!("not readable {why:?}"),
    }
}
