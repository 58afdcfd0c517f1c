//! The inference runtimes against the real models in `models/`: ONNX Runtime
//! and tract must agree on every model of the manifest, files must match
//! their checksums, and a missing ONNX Runtime library must say how to fix
//! it. Tests that need `models/manifest.json` or the library skip with a
//! message when it is absent (run `scripts/setup-onnxruntime` for the
//! library; `FACEGATE_MODELS_DIR` points elsewhere for the models).
//!
//! Parity with the models' original frameworks uses `models/reference/`
//! (see its README): synthetic inputs are rebuilt bit for bit here; the LFW
//! case also needs `$FACEGATE_SHARED_DIR/data/lfw` and skips without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use facegate_vision::models::{self, ModelEntry, ModelStore};
use facegate_vision::runtime::ort::OrtRuntime;
use facegate_vision::runtime::tract::TractRuntime;
use facegate_vision::runtime::{self, Runtime, RuntimeKind, Tensor};
use facegate_vision::VisionError;

/// ort and tract may differ by this much, relative to the output's scale:
/// max |Δ| ≤ TOLERANCE · max(1, max |ort|). They reorder float sums
/// differently; the survey measured ≈1e-5 worst case on these models.
const TOLERANCE: f32 = 1e-4;

fn store() -> Option<ModelStore> {
    let dir = models::default_models_dir();
    if !dir.join(models::MANIFEST_FILE).is_file() {
        eprintln!(
            "SKIPPED: no {} in {} (set FACEGATE_MODELS_DIR)",
            models::MANIFEST_FILE,
            dir.display()
        );
        return None;
    }
    match ModelStore::open(&dir) {
        Ok(store) => Some(store),
        Err(e) => panic!("models/manifest.json is present but does not parse: {e}"),
    }
}

fn ort() -> Option<OrtRuntime> {
    match OrtRuntime::new() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

/// SplitMix64, as `models/reference/README.md` specifies it: a fixed,
/// dependency-free stream so every run and both runtimes see the same input.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), exact in f32.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A deterministic input for `entry`: uniform in the manifest's
/// `input.range` when it gives one, else in [-1, 1].
fn input_for(entry: &ModelEntry) -> Tensor {
    let shape = entry
        .input_shape()
        .unwrap_or_else(|| panic!("{}: the manifest gives no input.shape", entry.id));
    let (lo, hi) = entry
        .input
        .get("range")
        .and_then(|r| r.as_array())
        .and_then(|r| Some((r.first()?.as_f64()?, r.get(1)?.as_f64()?)))
        .map_or((-1.0, 1.0), |(lo, hi)| (lo as f32, hi as f32));
    let seed = entry.id.bytes().fold(0xFACE_6A7E_u64, |h, b| {
        h.wrapping_mul(0x100_0000_01B3) ^ u64::from(b)
    });
    let mut rng = SplitMix(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect();
    Tensor::new(shape, data).unwrap()
}

fn max_abs(xs: &[f32]) -> f32 {
    xs.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn ort_and_tract_agree_on_every_model_in_the_manifest() {
    let (Some(store), Some(ort)) = (store(), ort()) else {
        return;
    };
    let tract = TractRuntime::new();
    assert!(
        !store.manifest().models.is_empty(),
        "the manifest lists no models"
    );
    for entry in &store.manifest().models {
        let input = input_for(entry);
        let mut a = store.load(&ort, &entry.id).unwrap();
        let mut b = store.load(&tract, &entry.id).unwrap();
        let out_a = a.run(vec![input.clone()]).unwrap();
        let out_b = b.run(vec![input]).unwrap();
        assert_eq!(out_a.len(), out_b.len(), "{}: output count", entry.id);
        if !entry.outputs.is_empty() {
            assert_eq!(
                out_a.len(),
                entry.outputs.len(),
                "{}: outputs vs manifest",
                entry.id
            );
        }
        for (i, (x, y)) in out_a.iter().zip(&out_b).enumerate() {
            assert_eq!(x.shape, y.shape, "{} output {i}: shapes", entry.id);
            assert!(
                x.data.iter().chain(&y.data).all(|v| v.is_finite()),
                "{} output {i}: non-finite values",
                entry.id
            );
            let scale = max_abs(&x.data);
            let diff = max_abs_diff(&x.data, &y.data);
            eprintln!(
                "{} output {i} {:?}: max|ort| = {scale:.4}, max|ort - tract| = {diff:.3e} ({:.2e} relative)",
                entry.id,
                x.shape,
                diff / scale.max(1.0)
            );
            if entry.id.contains("int8") {
                // Quantized graphs: ort runs integer kernels with its own
                // requantisation rounding (and, on x86-64 without VNNI,
                // 16-bit pairwise sums the runtime's precision option
                // avoids only in part), tract dequantizes; they agree as
                // embeddings (direction), not value by value.
                let cosine = facegate_vision::embed::cosine(&x.data, &y.data);
                eprintln!("{} output {i}: cosine(ort, tract) = {cosine:.5}", entry.id);
                assert!(cosine >= 0.99, "{} output {i}: cosine {cosine}", entry.id);
                continue;
            }
            assert!(
                diff <= TOLERANCE * scale.max(1.0),
                "{} output {i}: ort and tract differ by {diff} (scale {scale})",
                entry.id
            );
        }
    }
}

#[test]
fn every_pipeline_model_is_in_the_manifest() {
    let Some(store) = store() else { return };
    for id in [
        models::ids::BLAZEFACE_SHORT_128,
        models::ids::BLAZEFACE_FULL_192,
        models::ids::FACEMESH_468,
        models::ids::DLIB_RESNET_128,
        models::ids::FR_FEATURE_512,
        models::ids::FR_LIVENESS,
    ] {
        let entry = store.entry(id).unwrap();
        assert!(entry.input_shape().is_some(), "{id}: no input.shape");
        assert!(store.path(id).unwrap().is_file(), "{id}: file missing");
    }
}

#[test]
fn sessions_refuse_the_wrong_number_of_inputs() {
    let Some(store) = store() else { return };
    let id = &store.manifest().models[0].id;
    let mut runtimes: Vec<Box<dyn Runtime>> = vec![Box::new(TractRuntime::new())];
    if let Some(ort) = ort() {
        runtimes.push(Box::new(ort));
    }
    for rt in runtimes {
        let mut session = store.load(rt.as_ref(), id).unwrap();
        let err = session.run(Vec::new()).unwrap_err();
        assert!(
            matches!(err, VisionError::Inference(_)),
            "{}: {err}",
            rt.kind()
        );
    }
}

/// A fresh directory under the system temp dir for one test.
fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "facegate-vision-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_store(dir: &PathBuf, file_bytes: &[u8], sha256: &str) -> ModelStore {
    std::fs::write(dir.join("m.onnx"), file_bytes).unwrap();
    let manifest = serde_json::json!({
        "models": [{
            "id": "m", "file": "m.onnx", "sha256": sha256,
            "input": {"shape": [1, 3]}, "outputs": []
        }]
    });
    std::fs::write(dir.join(models::MANIFEST_FILE), manifest.to_string()).unwrap();
    ModelStore::open(dir).unwrap()
}

#[test]
fn a_model_whose_checksum_does_not_match_is_refused() {
    let dir = scratch_dir("checksum");
    let store = write_store(&dir, b"not the model", &models::sha256_hex(b"the model"));
    let err = store.load(&TractRuntime::new(), "m").err().unwrap();
    match &err {
        VisionError::Model { model, detail } => {
            assert_eq!(model, "m");
            assert!(detail.contains("checksum mismatch"), "{detail}");
        }
        other => panic!("expected a model error, got {other:?}"),
    }
    // The real models too: a tampered copy of the first one is refused.
    if let Some(real) = store_for_tamper_test() {
        let entry = &real.manifest().models[0];
        let mut bytes = std::fs::read(real.path(&entry.id).unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = write_store(&scratch_dir("tamper"), &bytes, &entry.sha256);
        let err = tampered.read_verified("m").unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn store_for_tamper_test() -> Option<ModelStore> {
    store()
}

#[test]
fn a_model_file_that_is_not_onnx_is_a_model_error_on_both_runtimes() {
    let dir = scratch_dir("garbage");
    let garbage = b"definitely not protobuf \xff\xff\xff";
    let store = write_store(&dir, garbage, &models::sha256_hex(garbage));
    let mut runtimes: Vec<Box<dyn Runtime>> = vec![Box::new(TractRuntime::new())];
    if let Some(ort) = ort() {
        runtimes.push(Box::new(ort));
    }
    for rt in runtimes {
        let err = store.load(rt.as_ref(), "m").err().unwrap();
        assert!(
            matches!(&err, VisionError::Model { model, .. } if model == "m"),
            "{}: {err:?}",
            rt.kind()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_onnx_runtime_library_is_a_clear_error() {
    let path = scratch_dir("nolib").join("libonnxruntime.so.1.32.0");
    let err = OrtRuntime::with_library(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, VisionError::Model { .. }), "{err:?}");
    assert!(text.contains("scripts/setup-onnxruntime"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
}

#[test]
fn for_kind_builds_each_runtime() {
    let tract = runtime::for_kind(RuntimeKind::Tract).unwrap();
    assert_eq!(tract.kind(), RuntimeKind::Tract);
    match runtime::for_kind(RuntimeKind::Ort) {
        Ok(rt) => assert_eq!(rt.kind(), RuntimeKind::Ort),
        Err(e) => {
            assert!(e.to_string().contains("scripts/setup-onnxruntime"), "{e}");
            eprintln!("SKIPPED the ort half: {e}");
        }
    }
    assert_eq!(RuntimeKind::default(), RuntimeKind::Ort);
    assert_eq!("tract".parse::<RuntimeKind>().unwrap(), RuntimeKind::Tract);
    assert!("onnx".parse::<RuntimeKind>().is_err());
}

// ---- parity with the original frameworks (models/reference/) ----

/// Tolerance of an LFW case whose decoded pixels differ from the
/// reference's (`rgb_sha256`; the references are made with this crate's
/// `image` version, so only after a decoder upgrade): the case then checks
/// that the model is not far off, not that it is exact. Pillow's pixels
/// instead of zune-jpeg's moved the outputs by at most 3.3e-2.
const LOOSE_DECODER_TOLERANCE: f32 = 0.1;

fn shared_dir() -> PathBuf {
    match std::env::var_os("FACEGATE_SHARED_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

fn f32_sha256(data: &[f32]) -> String {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    models::sha256_hex(&bytes)
}

fn decode_f32(base64_le: &str) -> Vec<f32> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_le)
        .unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn str_field<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("reference: {key} is not a string"))
}

fn usize_field(v: &serde_json::Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("reference: {key} is not an integer")) as usize
}

fn shape_field(v: &serde_json::Value, key: &str) -> Vec<usize> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("reference: {key} is not an array"))
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The README's synthetic recipe.
fn synthetic_input(case: &serde_json::Value, n: usize) -> Vec<f32> {
    let mut rng = SplitMix(case["seed"].as_u64().unwrap());
    let generator = str_field(case, "generator");
    (0..n)
        .map(|_| {
            let z = rng.next();
            match generator {
                "uniform_pm1" => (z >> 40) as f32 * (2.0f32).powi(-23) - 1.0,
                "uniform_01" => (z >> 40) as f32 * (2.0f32).powi(-24),
                "u8" => (z >> 56) as f32,
                "u8_pm127_128" => ((z >> 56) as f32 - 127.0) / 128.0,
                other => panic!("unknown synthetic generator {other}"),
            }
        })
        .collect()
}

/// The README's LFW recipe, or why the case cannot be rebuilt here. The
/// flag is true when the JPEG decoder gives other pixels than the
/// reference's, so the input is close but not equal.
fn lfw_input(case: &serde_json::Value) -> Result<(Vec<f32>, bool), String> {
    let path = shared_dir()
        .join("data/lfw")
        .join(str_field(case, "lfw_path"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    assert_eq!(
        models::sha256_hex(&bytes),
        str_field(case, "file_sha256"),
        "{} is not the reference's file",
        path.display()
    );
    let rgb = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let decoder_differs = models::sha256_hex(rgb.as_raw()) != str_field(case, "rgb_sha256");
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (crop, size) = (usize_field(case, "crop"), usize_field(case, "size"));
    let (top, left) = ((h - crop) / 2, (w - crop) / 2);
    let src = |i: usize| (2 * i + 1) * crop / (2 * size);
    let bgr = str_field(case, "channels") == "BGR";
    let nchw = str_field(case, "layout") == "NCHW";
    let norm = str_field(case, "norm");
    let mut out = vec![0.0f32; size * size * 3];
    for y in 0..size {
        for x in 0..size {
            let px = rgb
                .get_pixel((left + src(x)) as u32, (top + src(y)) as u32)
                .0;
            for c in 0..3 {
                let v = f32::from(px[if bgr { 2 - c } else { c }]);
                let v = match norm {
                    "pm1" => v / 127.5 - 1.0,
                    "01" => v / 255.0,
                    "u8" => v,
                    "pm127_128" => (v - 127.0) / 128.0,
                    other => panic!("unknown normalisation {other}"),
                };
                let at = if nchw {
                    c * size * size + y * size + x
                } else {
                    (y * size + x) * 3 + c
                };
                out[at] = v;
            }
        }
    }
    Ok((out, decoder_differs))
}

fn cosine_and_l2(a: &[f32], b: &[f32]) -> (f32, f32) {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    let l2 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt();
    (dot / (na * nb), l2)
}

#[test]
fn every_model_matches_its_original_framework_on_the_reference_inputs() {
    let (Some(store), Some(ort)) = (store(), ort()) else {
        return;
    };
    let tract = TractRuntime::new();
    let mut checked = 0;
    for entry in &store.manifest().models {
        let reference_path = store.dir().join(
            entry
                .extra
                .get("reference")
                .and_then(|r| r.as_str())
                .map_or_else(|| format!("reference/{}.json", entry.id), str::to_owned),
        );
        let Ok(json) = std::fs::read_to_string(&reference_path) else {
            eprintln!("SKIPPED {}: no {}", entry.id, reference_path.display());
            continue;
        };
        let reference: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            str_field(&reference, "model_sha256"),
            entry.sha256,
            "{}: the reference was made for another file",
            entry.id
        );
        let max_rel = reference["tolerance"]["max_rel"].as_f64().unwrap() as f32;
        let mut sessions = [
            (RuntimeKind::Ort, store.load(&ort, &entry.id).unwrap()),
            (RuntimeKind::Tract, store.load(&tract, &entry.id).unwrap()),
        ];
        for case in reference["cases"].as_array().unwrap() {
            let name = str_field(case, "name");
            let shape = shape_field(case, "input_shape");
            let n = shape.iter().product();
            let (data, decoder_differs) = match str_field(case, "kind") {
                "synthetic" => (synthetic_input(case, n), false),
                "lfw" => match lfw_input(case) {
                    Ok(rebuilt) => rebuilt,
                    Err(why) => {
                        eprintln!("SKIPPED {} {name}: {why}", entry.id);
                        continue;
                    }
                },
                other => panic!("{}: unknown case kind {other}", entry.id),
            };
            let tolerance = if decoder_differs {
                eprintln!(
                    "{} {name}: the JPEG decoder differs from Pillow, comparing with tolerance {LOOSE_DECODER_TOLERANCE:.0e}",
                    entry.id
                );
                LOOSE_DECODER_TOLERANCE
            } else {
                assert_eq!(
                    f32_sha256(&data),
                    str_field(case, "input_sha256"),
                    "{} {name}: the rebuilt input differs from the reference's",
                    entry.id
                );
                max_rel
            };
            let input = Tensor::new(shape, data).unwrap();
            for (kind, session) in &mut sessions {
                let outputs = session.run(vec![input.clone()]).unwrap();
                let expected = case["outputs"].as_array().unwrap();
                assert_eq!(outputs.len(), expected.len(), "{} {name} {kind}", entry.id);
                for (out, exp) in outputs.iter().zip(expected) {
                    let out_name = str_field(exp, "name");
                    let want = decode_f32(str_field(exp, "data"));
                    assert_eq!(
                        out.shape,
                        shape_field(exp, "shape"),
                        "{} {out_name}",
                        entry.id
                    );
                    let rel = max_abs_diff(&out.data, &want) / max_abs(&want);
                    eprintln!(
                        "{} {name} {kind} {out_name}: max|Δ|/max|ref| = {rel:.2e} (tolerance {tolerance:.0e}; python onnxruntime {:.2e})",
                        entry.id,
                        case["python_onnxruntime_max_rel"].as_f64().unwrap_or(f64::NAN)
                    );
                    assert!(
                        rel <= tolerance,
                        "{} {name} {kind} {out_name}: relative error {rel} > {tolerance}",
                        entry.id
                    );
                }
                if let Some(dlib) = case.get("dlib") {
                    let want = decode_f32(str_field(&dlib["descriptor"], "data"));
                    let (cos, l2) = cosine_and_l2(&outputs[0].data, &want);
                    let cos_min = dlib["tolerance"]["cos_min"].as_f64().unwrap() as f32;
                    let l2_max = dlib["tolerance"]["l2_max"].as_f64().unwrap() as f32;
                    eprintln!(
                        "{} {name} {kind} vs dlib itself: cos = {cos:.5}, L2 = {l2:.4} (tolerance cos ≥ {cos_min}, L2 ≤ {l2_max})",
                        entry.id
                    );
                    assert!(
                        cos >= cos_min && l2 <= l2_max,
                        "{} {name} {kind} vs dlib",
                        entry.id
                    );
                }
                checked += 1;
            }
        }
    }
    eprintln!("{checked} reference case×runtime runs checked");
}
