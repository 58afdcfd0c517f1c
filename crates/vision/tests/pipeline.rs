//! The whole pipeline on a handful of real LFW pairs, decided at the shipped
//! operating point (`models/thresholds.json`). Skips with a message when the
//! shared data set or the ONNX Runtime library is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use facegate_vision::compare::{compare, Calibration};
use facegate_vision::detect::FaceChoice;
use facegate_vision::embed::EmbedderKind;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use facegate_vision::runtime::{self, RuntimeKind};

fn lfw_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("data/lfw");
    dir.join("pairs.csv").is_file().then_some(dir)
}

/// The first `n` same-person and `n` different-person pairs of fold 1.
fn pairs(dir: &std::path::Path, n: usize) -> Vec<(bool, PathBuf, PathBuf)> {
    let text = std::fs::read_to_string(dir.join("pairs.csv")).unwrap();
    let mut same = Vec::new();
    let mut different = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let entry = (f[2] == "1", dir.join(f[4]), dir.join(f[6]));
        let bucket = if entry.0 { &mut same } else { &mut different };
        if f[0] == "1" && bucket.len() < n {
            bucket.push(entry);
        }
    }
    same.into_iter().chain(different).collect()
}

#[test]
fn real_pairs_are_decided_correctly_at_the_shipped_operating_point() {
    let Some(dir) = lfw_dir() else {
        eprintln!("SKIPPED: no LFW under $FACEGATE_SHARED_DIR/data/lfw");
        return;
    };
    let rt = match runtime::for_kind(RuntimeKind::Ort) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SKIPPED: ONNX Runtime unavailable ({e}); run scripts/setup-onnxruntime");
            return;
        }
    };
    let store = ModelStore::open_default().unwrap();
    let calibration = Calibration::load(store.dir()).unwrap();
    let config = PipelineConfig {
        embedders: vec![EmbedderKind::FrFeature],
        face_choice: FaceChoice::Central,
        ..PipelineConfig::default()
    };
    let model = calibration
        .model(EmbedderKind::FrFeature.model_id())
        .unwrap();
    let point = model.operating_point(None).unwrap();
    assert_eq!(point.target_fmr, 1e-4);
    let mut pipeline = Pipeline::load(&store, rt.as_ref(), config).unwrap();
    let mut template = |path: &PathBuf| {
        let (analysis, _) = pipeline
            .analyze_bytes(&std::fs::read(path).unwrap())
            .unwrap();
        analysis
            .expect("a face in every LFW image")
            .templates
            .remove(0)
            .vector
    };
    let (mut accepted_same, mut accepted_different, mut same_total) = (0, 0, 0);
    for (same, a, b) in pairs(&dir, 10) {
        let result = compare(model, point, &template(&a), &template(&b)).unwrap();
        assert!(result.estimated_fmr > 0.0 && result.estimated_fmr <= 1.0);
        if same {
            same_total += 1;
            accepted_same += usize::from(result.matched);
        } else {
            accepted_different += usize::from(result.matched);
        }
    }
    assert_eq!(same_total, 10);
    assert!(
        accepted_same >= 9,
        "only {accepted_same}/10 same-person pairs matched"
    );
    assert_eq!(accepted_different, 0, "a different-person pair matched");
}
