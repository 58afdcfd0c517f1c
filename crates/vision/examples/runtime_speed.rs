//! Single-image latency of every model in `models/manifest.json` under ONNX
//! Runtime and tract: median of N runs (default 50) after 5 warm-up runs,
//! on a fixed pseudo-random input. Sessions are single-threaded, so pin the
//! process to one core for numbers that mean something:
//!
//! ```text
//! scripts/setup-onnxruntime
//! taskset -c 0 cargo run --release -p facegate-vision --example runtime_speed [-- RUNS] [--ort-levels]
//! ```
//!
//! `--ort-levels` also times every ONNX Runtime optimisation level per
//! model (what `DEFAULT_OPTIMIZATION_OVERRIDES` is chosen from).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::{OrtOptimization, OrtRuntime};
use facegate_vision::runtime::tract::TractRuntime;
use facegate_vision::runtime::{Runtime, Tensor};
use facegate_vision::VisionError;

const WARM_UP: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let levels = args.iter().any(|a| a == "--ort-levels");
    let runs: usize = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or(50, |a| a.parse().expect("RUNS must be a number"));
    let store = ModelStore::open_default().expect("models/manifest.json");
    let ort = OrtRuntime::new().expect("the ONNX Runtime library");
    let tract = TractRuntime::new();
    println!(
        "runs: {runs} after {WARM_UP} warm-up; library: {}",
        ort.library().display()
    );
    let variants = [
        OrtOptimization::All,
        OrtOptimization::AllButNchwc,
        OrtOptimization::Extended,
        OrtOptimization::Basic,
    ];
    if levels {
        println!("| model | ort All ms | ort AllButNchwc ms | ort Extended ms | ort Basic ms |");
        println!("|---|---|---|---|---|");
        for entry in &store.manifest().models {
            let input = input_for(entry.input_shape().expect("input.shape"));
            let ms: Vec<String> = variants
                .iter()
                .map(|&level| {
                    let rt = ort.clone().with_optimization(&entry.id, level);
                    format!(
                        "{:.2}",
                        time(&rt, &store, &entry.id, &input, runs).unwrap().1
                    )
                })
                .collect();
            println!("| {} | {} |", entry.id, ms.join(" | "));
        }
        println!();
    }
    println!(
        "| model | input | ort level | ort load ms | tract load ms | ort median ms | tract median ms | tract / ort |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for entry in &store.manifest().models {
        let shape = entry.input_shape().expect("input.shape");
        let input = input_for(shape.clone());
        let (ort_load, ort_ms) = time(&ort, &store, &entry.id, &input, runs).unwrap();
        // tract may not run every model (e.g. int8 QDQ graphs).
        let (tract_load, tract_ms, ratio) = match time(&tract, &store, &entry.id, &input, runs) {
            Ok((load, ms)) => (
                format!("{load:.0}"),
                format!("{ms:.2}"),
                format!("{:.1}×", ms / ort_ms),
            ),
            Err(e) => {
                eprintln!("{}: tract: {e}", entry.id);
                ("n/a".into(), "n/a".into(), "n/a".into())
            }
        };
        println!(
            "| {} | {:?} | {:?} | {ort_load:.0} | {tract_load} | {ort_ms:.2} | {tract_ms} | {ratio} |",
            entry.id,
            shape,
            ort.optimization(&entry.id),
        );
    }
}

/// A fixed LCG stream in [0, 1); the values do not matter for speed.
fn input_for(shape: Vec<usize>) -> Tensor {
    let n: usize = shape.iter().product();
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let data = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    Tensor::new(shape, data).unwrap()
}

/// (load ms, median run ms)
fn time(
    runtime: &dyn Runtime,
    store: &ModelStore,
    id: &str,
    input: &Tensor,
    runs: usize,
) -> Result<(f64, f64), VisionError> {
    let started = Instant::now();
    let mut session = store.load(runtime, id)?;
    let load = started.elapsed().as_secs_f64() * 1e3;
    for _ in 0..WARM_UP {
        session.run(vec![input.clone()])?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = vec![input.clone()];
        let t = Instant::now();
        session.run(input)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((load, times[times.len() / 2]))
}
