//! The interface every engine implements: tensors in and out, a loaded
//! model ([`Session`]), an engine that loads models ([`Runtime`]) and the
//! engine's name ([`RuntimeKind`]). A leaf, so that the engines (`ort`,
//! `tract`) and the choice between them (`runtime`) both build on it.

use crate::VisionError;

/// A dense f32 tensor in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, VisionError> {
        let expected: usize = shape.iter().product();
        if expected != data.len() {
            return Err(VisionError::Inference(format!(
                "tensor of shape {shape:?} needs {expected} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }
}

/// A loaded model, ready to run. Not shared between threads: a worker owns
/// its sessions (each runs single-threaded; parallelism comes from workers).
pub trait Session: Send {
    /// Runs the model on its inputs (in the model's input order) and returns
    /// every output in the model's output order.
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError>;
}

/// Which engine runs the models.
///
/// The default is [`RuntimeKind::Ort`]: on one core it ran every model of
/// `models/` faster than `tract` (BlazeFace 3–7×, FaceMesh, dlib ResNet and
/// fr-liveness 1.4–3.5×, fr-feature-512 1.2–1.3×; `examples/runtime_speed.rs`)
/// with the same outputs (within 2e-6 relative). `tract` needs no shared
/// library, so it is the fallback where `libonnxruntime` cannot be shipped.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    #[default]
    Ort,
    Tract,
}

impl RuntimeKind {
    /// Every kind, default first.
    pub const ALL: [RuntimeKind; 2] = [RuntimeKind::Ort, RuntimeKind::Tract];

    /// The name used in configuration and logs (`"ort"`, `"tract"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Ort => "ort",
            RuntimeKind::Tract => "tract",
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = VisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ort" | "onnxruntime" => Ok(RuntimeKind::Ort),
            "tract" => Ok(RuntimeKind::Tract),
            other => Err(VisionError::Inference(format!(
                "unknown runtime {other:?}: expected \"ort\" or \"tract\""
            ))),
        }
    }
}

/// An inference engine that can load model files.
pub trait Runtime: Send + Sync {
    fn kind(&self) -> RuntimeKind;
    /// Loads an ONNX file (already checksum-verified by the caller).
    fn load(&self, name: &str, onnx: &[u8]) -> Result<Box<dyn Session>, VisionError>;
}
