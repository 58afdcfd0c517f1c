//! MRZ full-read rate per effect and time per document side, on documents
//! rendered by `tools/docgen` (placeholder faces; TD3 passport pages and
//! TD1 card backs alternating; seeded, so a run is reproducible).
//!
//! ```sh
//! cargo run --release -p facegate-documents --example mrz_read_rate -- \
//!     [--per-effect 40] [--seed 1] [--effects clean,blur,...] [--show-misses] \
//!     [--show-glare] [--detect-max-side 960] [--close-look true] [--coarse 640]
//! ```
//!
//! Glare at full intensity turns the photo white: a zone cell whose centre
//! keeps under 2 % of its ink's contrast ([`ERASED`], computed from the
//! glare docgen drew) is erased, and no reader can read it. Such sides are
//! counted as misses in the rates; a second figure leaves them out.
//!
//! Times are per side on one thread: wall clock, and the thread's CPU time
//! (what the reading costs when other processes share the cores).
//!
//! A side is fully read when the reader's verdict is valid and its zone
//! equals the printed lines cell for cell. "camera average" is the mean
//! rate over the camera effects issue #11 names (perspective, blur, glare,
//! noise, jpeg, low_light, photocopy).

mod common;

use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{AppliedEffect, Effect, Generator, IdentityRecord, Request, Side};
use facegate_documents::{MrzReader, MrzReading};
use facegate_domain::mrz::{MrzFormat, MrzRead};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;

/// A zone cell keeping less than this share of its ink's contrast at its
/// centre (docgen's glare at full intensity there) is erased: nothing in
/// the photo says what it holds.
const ERASED: f64 = 0.02;

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
    let value = |name: &str| common::value(&args, name);
    let per_effect: usize = value("--per-effect").map_or(Ok(40), |v| v.parse())?;
    let seed: u64 = value("--seed").map_or(Ok(1), |v| v.parse())?;
    let show = args.iter().any(|a| a == "--show-misses");
    let show_glare = args.iter().any(|a| a == "--show-glare");
    let mut cells_out = match value("--cells") {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
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
    if let Some(v) = value("--trust") {
        let v: Vec<f32> = v.split(',').map(str::parse).collect::<Result<_, _>>()?;
        settings.trust.checked = v.first().copied().unwrap_or(0.5);
        settings.trust.unchecked = v.get(1).copied().unwrap_or(0.7);
        settings.trust.unchecked_decisive = v.get(2).copied().unwrap_or(0.3);
        settings.trust.decisive = v.get(3).copied().unwrap_or(0.05);
    }
    if let Some(v) = value("--close-look") {
        settings.close_look = v.parse()?;
    }
    if let Some(v) = value("--coarse") {
        settings.coarse_detect_max_side = v.parse()?;
    }
    if let Some(v) = value("--smooth") {
        settings.smooth = v.parse()?;
    }
    if let Some(v) = value("--min-aspect") {
        settings.min_aspect = v.parse()?;
    }
    reader = reader.with_settings(settings);
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;

    println!(
        "| effect | sides | full reads | rate | valid, other data | check failed | not readable | median ms | p95 ms | max ms | recognitions |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut camera_rates = Vec::new();
    let mut readable_rates = Vec::new();
    let mut erased_notes: Vec<String> = Vec::new();
    let mut all_ms = Vec::new();
    let mut cpu_ms: Vec<f64> = Vec::new();
    for name in &effects {
        let effect: Option<Effect> = match name.as_str() {
            "clean" => None,
            other => Some(other.parse::<Effect>()?),
        };
        let (mut full, mut ms) = (0usize, Vec::new());
        let (mut wrong, mut failed, mut unreadable) = (0usize, 0usize, 0usize);
        let mut recognitions = 0usize;
        let (mut erased_sides, mut full_unerased) = (0usize, 0usize);
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
            let cpu_started = thread_cpu_ms();
            let reading = reader.read(&image, today)?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            recognitions += reading.timing.recognitions;
            if let (Some(a), Some(b)) = (cpu_started, thread_cpu_ms()) {
                cpu_ms.push(b - a);
            }
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
            if let Some(out) = cells_out.as_mut() {
                write_cells(out, name, doc_seed, &lines, &reading)?;
            }
            if let Some((least, under)) = glare_residual(&rendered.truth) {
                let erased = least < ERASED;
                erased_sides += usize::from(erased);
                full_unerased += usize::from(ok && !erased);
                if show_glare {
                    println!(
                        "GLARE seed {doc_seed} {side:?}: least contrast left in a zone cell {least:.3}, cells under 0.1: {under}, read: {ok}"
                    );
                }
            }
        }
        let rate = full as f64 / per_effect.max(1) as f64;
        if CAMERA.contains(&name.as_str()) {
            camera_rates.push(rate);
            // Glare that erased a cell: those sides are left out.
            readable_rates.push(if erased_sides > 0 && erased_sides < per_effect {
                full_unerased as f64 / (per_effect - erased_sides) as f64
            } else {
                rate
            });
        }
        if erased_sides > 0 {
            erased_notes.push(format!(
                "{name}: {erased_sides} of {per_effect} sides have a zone cell the glare erased (under {ERASED} of the ink's contrast left at its centre); {full_unerased} of the other {} read ({:.1} %)",
                per_effect - erased_sides,
                100.0 * full_unerased as f64 / (per_effect - erased_sides).max(1) as f64
            ));
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
        println!(
            "| {name} | {per_effect} | {full} | {:.1} % | {wrong} | {failed} | {unreadable} | {:.0} | {:.0} | {:.0} | {:.1} |",
            100.0 * rate,
            at(0.5),
            at(0.95),
            ms.last().copied().unwrap_or(0.0),
            recognitions as f64 / per_effect.max(1) as f64
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
    for note in &erased_notes {
        println!("{note}");
    }
    if !erased_notes.is_empty() && !readable_rates.is_empty() {
        println!(
            "camera average without the sides whose zone the glare erased: {:.1} %",
            100.0 * readable_rates.iter().sum::<f64>() / readable_rates.len() as f64
        );
    }
    for (what, times) in [("wall", &mut all_ms), ("thread CPU", &mut cpu_ms)] {
        times.sort_by(f64::total_cmp);
        if !times.is_empty() {
            println!(
                "time per side ({what}, one thread, {} sides): median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                times.len(),
                times[times.len() / 2],
                times[(times.len() * 95 / 100).min(times.len() - 1)],
                times[times.len() - 1]
            );
        }
    }
    Ok(())
}

/// For a glare render, how much of the ink's contrast the glare left in the
/// zone's most washed cell (`1 -` the glare's intensity at the cell's
/// centre, as docgen draws it), and how many cells keep less than a tenth.
fn glare_residual(truth: &facegate_docgen::GroundTruth) -> Option<(f64, usize)> {
    let glare = truth.effects.iter().find_map(|e| match e {
        AppliedEffect::Glare {
            center,
            radii,
            angle_deg,
            strength,
            ..
        } => Some((*center, *radii, *angle_deg, *strength)),
        _ => None,
    })?;
    let (center, radii, angle, strength) = glare;
    let (sa, ca) = angle.to_radians().sin_cos();
    let intensity = |p: [f64; 2]| {
        let (dx, dy) = (p[0] - center[0], p[1] - center[1]);
        let u = (dx * ca + dy * sa) / radii[0];
        let v = (-dx * sa + dy * ca) / radii[1];
        (strength * (-2.5 * (u * u + v * v)).exp()).min(1.0)
    };
    let doc = truth.document.as_ref()?;
    let lines = &truth.mrz.as_ref()?.lines;
    let (mut least, mut under) = (1.0f64, 0usize);
    for (quad, line) in doc.mrz_lines.iter().zip(lines) {
        let n = line.chars().count() as f64;
        // docgen's line box: 0.3 mm before the first cell and after the
        // last, cells of 2.54 mm.
        let width = n * 2.54 + 0.6;
        for k in 0..line.chars().count() {
            let t = (0.3 + (k as f64 + 0.5) * 2.54) / width;
            let top = [
                quad[0][0] + (quad[1][0] - quad[0][0]) * t,
                quad[0][1] + (quad[1][1] - quad[0][1]) * t,
            ];
            let bottom = [
                quad[3][0] + (quad[2][0] - quad[3][0]) * t,
                quad[3][1] + (quad[2][1] - quad[3][1]) * t,
            ];
            let centre = [(top[0] + bottom[0]) / 2.0, (top[1] + bottom[1]) / 2.0];
            let left = 1.0 - intensity(centre);
            least = least.min(left);
            under += usize::from(left < 0.1);
        }
    }
    Some((least, under))
}

/// Every cell of the zone as read, for calibrating the reader's thresholds:
/// `effect,seed,format,line,position,class,truth,read,share,runner_up,ratio`
/// (class: the domain's cell class; ratio: runner-up over share).
fn write_cells(
    out: &mut impl std::io::Write,
    effect: &str,
    seed: u64,
    lines: &[String],
    reading: &MrzReading,
) -> std::io::Result<()> {
    let format = match lines.first().map(String::len) {
        Some(44) => MrzFormat::Td3,
        Some(36) => MrzFormat::Td2,
        _ => MrzFormat::Td1,
    };
    if reading.lines.len() != lines.len() {
        return Ok(());
    }
    for (l, (want, got)) in lines.iter().zip(&reading.lines).enumerate() {
        for (p, (w, r)) in want.chars().zip(got.text.chars()).enumerate() {
            let share = got.peaks.get(p).copied().unwrap_or(0.0);
            let (alt, alt_share) = got
                .alternatives
                .get(p)
                .and_then(|a| a.first().copied())
                .unwrap_or(('-', 0.0));
            writeln!(
                out,
                "{effect},{seed},{format},{l},{p},{:?},{w},{r},{share:.4},{alt},{:.4}",
                format.cell(l, p),
                alt_share / share.max(1e-6)
            )?;
        }
    }
    Ok(())
}

/// This thread's CPU time (user and system) in milliseconds, from
/// `/proc/thread-self/stat` (Linux; 10 ms ticks): what the reader costs
/// when other processes share the cores.
fn thread_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
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
