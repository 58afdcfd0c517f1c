//! Writes the exact input tensors the pipeline feeds each model, for a list
//! of images: the calibration (and held-out fidelity) data of
//! `tools/models/quantize.py`, which turns the fp32 models into int8 ones.
//!
//! Each image runs through the real [`Pipeline`] (decode → BlazeFace
//! short-range → FaceMesh → ArcFace 112×112 alignment → fr-feature, the
//! largest face, no flip) on ONNX Runtime with the fp32 models; a runtime
//! wrapper records what every session is given. For each image in which a
//! face is found, one tensor per model is kept:
//!
//! ```text
//! OUT/blazeface-short-128.npy  [N, 128, 128, 3]  f32 (letterboxed RGB, x / 127.5 − 1)
//! OUT/facemesh-468.npy         [N, 192, 192, 3]  f32 (rotated face ROI, RGB, x / 255)
//! OUT/fr-feature-512.npy       [N, 3, 112, 112]  f32 (ArcFace crop, BGR, (x − 127) / 128)
//! OUT/images.txt               the N source images, one a line, in the same order
//! ```
//!
//! Usage (the list holds image paths, one a line, relative to the list's
//! folder or absolute; `#` starts a comment):
//!
//! ```text
//! scripts/setup-onnxruntime
//! cargo run --release -p facegate-vision --example model_inputs -- LIST OUT_DIR
//! ```
//!
//! The models come from `$FACEGATE_MODELS_DIR` (default: the repository's
//! `models/`); `quantize.py` points it at the fp32 files it quantises.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use facegate_vision::detect::FaceChoice;
use facegate_vision::embed::EmbedderKind;
use facegate_vision::models::{ids, ModelStore};
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use facegate_vision::runtime::ort::OrtRuntime;
use facegate_vision::runtime::{Runtime, RuntimeKind, Session, Tensor};
use facegate_vision::VisionError;

/// The last input each model was given, by model id.
type Recorded = Arc<Mutex<BTreeMap<String, Tensor>>>;

struct Recording {
    inner: OrtRuntime,
    recorded: Recorded,
}

struct RecordingSession {
    id: String,
    inner: Box<dyn Session>,
    recorded: Recorded,
}

impl Runtime for Recording {
    fn kind(&self) -> RuntimeKind {
        self.inner.kind()
    }

    fn load(&self, name: &str, onnx: &[u8]) -> Result<Box<dyn Session>, VisionError> {
        Ok(Box::new(RecordingSession {
            id: name.to_owned(),
            inner: self.inner.load(name, onnx)?,
            recorded: Arc::clone(&self.recorded),
        }))
    }
}

impl Session for RecordingSession {
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError> {
        if let [only] = inputs.as_slice() {
            self.recorded
                .lock()
                .unwrap()
                .insert(self.id.clone(), only.clone());
        }
        self.inner.run(inputs)
    }
}

const MODELS: [&str; 3] = [
    ids::BLAZEFACE_SHORT_128,
    ids::FACEMESH_468,
    ids::FR_FEATURE_512,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [list, out] = args.as_slice() else {
        panic!("usage: model_inputs LIST OUT_DIR");
    };
    let (list, out) = (PathBuf::from(list), PathBuf::from(out));
    let base = list.parent().map(Path::to_path_buf).unwrap_or_default();
    let images: Vec<PathBuf> = std::fs::read_to_string(&list)
        .expect("the image list")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| base.join(l))
        .collect();
    let store = ModelStore::open_default().expect("models/manifest.json");
    let recorded = Recorded::default();
    let runtime = Recording {
        inner: OrtRuntime::new().expect("the ONNX Runtime library"),
        recorded: Arc::clone(&recorded),
    };
    let config = PipelineConfig {
        embedders: vec![EmbedderKind::FrFeature],
        flip: false,
        face_choice: FaceChoice::Largest,
        ..PipelineConfig::default()
    };
    let mut pipeline = Pipeline::load(&store, &runtime, config).expect("the pipeline");
    let mut kept: Vec<String> = Vec::new();
    let mut tensors: BTreeMap<&str, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    for path in &images {
        recorded.lock().unwrap().clear();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (analysis, _) = pipeline
            .analyze_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if analysis.is_none() {
            eprintln!("no face: {}", path.display());
            continue;
        }
        let seen = recorded.lock().unwrap();
        for id in MODELS {
            let t = seen.get(id).unwrap_or_else(|| panic!("{id} was not run"));
            let (shape, data) = tensors
                .entry(id)
                .or_insert_with(|| (t.shape[1..].to_vec(), Vec::new()));
            assert_eq!(shape.as_slice(), &t.shape[1..], "{id}: input shape changed");
            data.extend_from_slice(&t.data);
        }
        kept.push(path.display().to_string());
    }
    std::fs::create_dir_all(&out).expect("the output folder");
    for (id, (shape, data)) in &tensors {
        let mut full = vec![kept.len()];
        full.extend_from_slice(shape);
        write_npy(&out.join(format!("{id}.npy")), &full, data);
    }
    let mut index = kept.join("\n");
    index.push('\n');
    std::fs::write(out.join("images.txt"), index).expect("images.txt");
    println!(
        "{} of {} images with a face; inputs of {} written to {}",
        kept.len(),
        images.len(),
        MODELS.join(", "),
        out.display()
    );
}

/// A NumPy `.npy` file (format 1.0), little-endian f32, C order.
fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    let dims = shape.iter().map(|d| format!("{d}, ")).collect::<String>();
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("the .npy file"));
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&u16::try_from(header.len()).unwrap().to_le_bytes())
        .unwrap();
    f.write_all(header.as_bytes()).unwrap();
    for v in data {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    f.flush().unwrap();
}
