//! One document side, measured: the document inspector (text detection,
//! page, portrait with its template, image checks) plus, on sides with a
//! machine-readable zone, the MRZ reader, per side kind (passport data
//! page, ID card front, ID card back), against a baseline measured in the
//! same run: the face pipeline on one selfie frame (decode, BlazeFace,
//! FaceMesh, the passive anti-spoof model and the template: a frame the
//! liveness sampling analyses in full).
//!
//! `taskset -c 0 cargo bench -p facegate-bench --bench documents` (one
//! core: every model session runs one intra-op thread). Criterion measures
//! each case; the run then prints each case's median per side and its
//! ratio to the baseline's median (the baseline is measured first and again
//! last, and both count), and writes them as JSON. The sides with
//! a zone are also measured in parts (the inspection alone, the MRZ read
//! alone, on the decoded image), to show where the time goes.
//!
//! The sides are rendered once by `tools/docgen` (1600 × 1200 JPEG,
//! quality 90, clean, one fixed seed; the portrait an LFW image when the
//! shared data is there, else docgen's drawn face). The selfie frame is the
//! first frame of the tranv recording (640 × 480; `pad/replay/
//! tranvanluyt2203_face_anti_spoofing/real_30fps.mjpeg`), else a selfie
//! scene docgen renders.
//!
//! Environment: FACEGATE_SHARED_DIR [../shared], FACEGATE_BENCH_OUT
//! [<target dir>/bench-documents.json].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use criterion::{black_box, Criterion};
use facegate_docgen::{FaceInput, Generator, IdentityRecord, Request, Side, Subject};
use facegate_documents::{DocumentInspector, DocumentSide, MrzReader};
use facegate_vision::frame::{FrameAnalyzer, FrameAnalyzerConfig, FrameOptions};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::default_runtime;
use image::RgbImage;

const SEED: u64 = 7;

fn shared_dir() -> PathBuf {
    std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
}

fn today() -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 6, 1).context("date")
}

/// The three sides, rendered clean: (name, side, JPEG).
fn sides(generator: &Generator) -> anyhow::Result<Vec<(&'static str, DocumentSide, Vec<u8>)>> {
    let face_path =
        shared_dir().join("data/lfw/lfw-deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
    let face = image::open(&face_path).ok().map(|f| f.to_rgb8());
    let today = today()?;
    let mut out = Vec::new();
    for (name, side, inspected) in [
        ("passport_page", Side::Td3, DocumentSide::PassportPage),
        ("card_front", Side::Td1Front, DocumentSide::CardFront),
        ("card_back", Side::Td1Back, DocumentSide::CardBack),
    ] {
        let record = IdentityRecord::random(side.kind(), SEED, today);
        let mut request = Request::document(side, record, SEED, today);
        if let Some(face) = &face {
            request = request.with_face(
                FaceInput {
                    image: face,
                    crop: None,
                },
                None,
            );
        }
        out.push((name, inspected, generator.render(&request)?.jpeg));
    }
    Ok(out)
}

/// The baseline's frame: the tranv recording's first frame, else a
/// rendered selfie.
fn selfie_frame(generator: &Generator) -> anyhow::Result<(String, Vec<u8>)> {
    let video =
        shared_dir().join("data/pad/replay/tranvanluyt2203_face_anti_spoofing/real_30fps.mjpeg");
    if let Ok(bytes) = std::fs::read(&video) {
        if let Some(first) = facegate_vision::decode::split_mjpeg(&bytes).first() {
            return Ok(("tranv recording, frame 0 (640x480)".into(), first.to_vec()));
        }
    }
    let scene = Request::scene(Subject::Selfie, SEED, today()?).with_size(640, 480);
    Ok((
        "docgen selfie scene (640x480)".into(),
        generator.render(&scene)?.jpeg,
    ))
}

fn decode(jpeg: &[u8]) -> anyhow::Result<RgbImage> {
    Ok(image::load_from_memory(jpeg)?.to_rgb8())
}

/// Per case, the time of each measured iteration (criterion's batches
/// divided by their size).
type Samples = Arc<Mutex<Vec<(String, Vec<f64>)>>>;

fn record(samples: &Samples, case: &str, per_iter_ms: f64) {
    let mut all = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match all.iter_mut().find(|(c, _)| c == case) {
        Some((_, v)) => v.push(per_iter_ms),
        None => all.push((case.to_owned(), vec![per_iter_ms])),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let generator = Generator::new()?;
    let store = ModelStore::open_default()?;
    let runtime = default_runtime()?;
    let mut inspector = DocumentInspector::new(&store, runtime.as_ref())?;
    let mut reader = MrzReader::new(&store, runtime.as_ref())?;
    let mut frames = FrameAnalyzer::load(&store, runtime.as_ref(), FrameAnalyzerConfig::default())?;
    let (frame_source, frame) = selfie_frame(&generator)?;
    let sides = sides(&generator)?;
    let today = today()?;
    // The inputs work before anything is timed.
    let probe = frames.analyze_bytes(
        0,
        &frame,
        FrameOptions {
            template: true,
            passive: true,
        },
    )?;
    anyhow::ensure!(probe.face.is_some(), "no face in the baseline frame");

    let samples: Samples = Arc::new(Mutex::new(Vec::new()));
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    let mut group = criterion.benchmark_group("document_side");
    let mut baseline = |group: &mut criterion::BenchmarkGroup<'_, _>, case: &'static str| {
        let samples = samples.clone();
        group.bench_function(case, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for i in 0..iters {
                    let options = FrameOptions {
                        template: true,
                        passive: true,
                    };
                    let _ = black_box(frames.analyze_bytes(i as u32, black_box(&frame), options));
                }
                let elapsed = t.elapsed();
                record(&samples, case, elapsed.as_secs_f64() * 1e3 / iters as f64);
                elapsed
            });
        });
    };
    baseline(&mut group, "selfie_frame_baseline");
    for (name, side, jpeg) in &sides {
        let image = decode(jpeg)?;
        let inspection = inspector.inspect_side(&image, *side)?;
        anyhow::ensure!(
            inspection.findings.document_found,
            "{name}: the inspector finds no document"
        );
        let samples = samples.clone();
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    // What a side costs from its upload: decode, inspect,
                    // read the zone.
                    let Ok(image) = decode(black_box(jpeg)) else {
                        continue;
                    };
                    let _ = black_box(inspector.inspect_side(&image, *side));
                    if side.has_mrz() {
                        let _ = black_box(reader.read(&image, today));
                    }
                }
                let elapsed = t.elapsed();
                record(&samples, name, elapsed.as_secs_f64() * 1e3 / iters as f64);
                elapsed
            });
        });
    }
    // Where a side's time goes: the inspection and the zone reading alone.
    for (name, side, jpeg) in sides.iter().filter(|(_, side, _)| side.has_mrz()) {
        let image = decode(jpeg)?;
        for part in ["inspection", "mrz_read"] {
            let case = format!("{name}/{part}");
            let samples = samples.clone();
            group.bench_function(case.as_str(), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        if part == "inspection" {
                            let _ = black_box(inspector.inspect_side(black_box(&image), *side));
                        } else {
                            let _ = black_box(reader.read(black_box(&image), today));
                        }
                    }
                    let elapsed = t.elapsed();
                    record(&samples, &case, elapsed.as_secs_f64() * 1e3 / iters as f64);
                    elapsed
                });
            });
        }
    }
    // The baseline again at the end: on a shared machine the load drifts,
    // and the ratios use both measurements.
    baseline(&mut group, "selfie_frame_baseline_end");
    group.finish();
    criterion.final_summary();

    let all = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let baseline_samples: Vec<f64> = all
        .iter()
        .filter(|(c, _)| c.starts_with("selfie_frame_baseline"))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let baseline = median(&baseline_samples);
    println!(
        "\nbaseline: the face pipeline on one selfie frame ({frame_source}), passive model and template; \
         median of both baseline runs {baseline:.1} ms"
    );
    println!("| case | median ms per side | ratio to one selfie frame |");
    println!("|---|---:|---:|");
    let mut rows = Vec::new();
    for (case, v) in &all {
        let m = median(v);
        println!("| {case} | {m:.1} | ×{:.1} |", m / baseline);
        rows.push(serde_json::json!({
            "case": case,
            "median_ms": m,
            "ratio_to_baseline": m / baseline,
            "samples_ms": v,
        }));
    }
    let out = std::env::var_os("FACEGATE_BENCH_OUT").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/bench-documents.json"
            ))
        },
        PathBuf::from,
    );
    let cpus = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Cpus_allowed_list"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        });
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&serde_json::json!({
            "baseline": frame_source,
            "cpus_allowed": cpus,
            "cases": rows,
        }))?,
    )
    .with_context(|| format!("writing {}", out.display()))?;
    println!("results: {}", out.display());
    Ok(())
}
