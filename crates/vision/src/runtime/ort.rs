//! ONNX Runtime through the `ort` crate, with the shared library loaded at run
//! time (`load-dynamic`) from the pinned PyPI wheel that
//! `scripts/setup-onnxruntime` unpacks. The crate never downloads anything.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ::ort::environment::Environment;
use ::ort::session::builder::GraphOptimizationLevel;
use ::ort::session::{Session as OrtSession, SessionInputValue};
use ::ort::value::{Tensor as OrtTensor, ValueType};

use crate::runtime::interface::{Runtime, RuntimeKind, Session, Tensor};
use crate::VisionError;

/// The file name of the pinned ONNX Runtime library (from the
/// `onnxruntime==1.32.0` wheel).
pub const LIBRARY_FILE_NAME: &str = "libonnxruntime.so.1.32.0";

/// Environment variables naming the library, checked in this order.
pub const LIBRARY_ENV_VARS: [&str; 2] = ["FACEGATE_ORT_DYLIB", "ORT_DYLIB_PATH"];

const SETUP_HINT: &str = "run scripts/setup-onnxruntime (it fetches the pinned library from PyPI) \
     or set FACEGATE_ORT_DYLIB to a libonnxruntime.so of version 1.24 or newer";

/// The one ONNX Runtime environment of this process and the library it came
/// from. ONNX Runtime can be loaded only once per process, so the first
/// successful load wins; a failed load leaves it empty so a later call (with
/// a good path) can still succeed.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Where the library is looked for, in order: the environment variables
/// [`LIBRARY_ENV_VARS`], the repository's `.cache/onnxruntime/` (for
/// development and tests, found from this crate's source location), then
/// next to the running executable.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for var in LIBRARY_ENV_VARS {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(PathBuf::from(v));
        }
    }
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.cache/onnxruntime")
            .join(LIBRARY_FILE_NAME),
    );
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(LIBRARY_FILE_NAME));
    }
    out
}

/// The library to load: the first environment variable that is set wins
/// even if its file is missing (so a typo is reported, not silently
/// replaced); otherwise the first existing default location.
pub fn find_library() -> Result<PathBuf, VisionError> {
    let candidates = library_candidates();
    let from_env = LIBRARY_ENV_VARS
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    let found = if from_env {
        candidates.first().cloned()
    } else {
        candidates.iter().find(|p| p.is_file()).cloned()
    };
    match found {
        Some(p) => Ok(p),
        None => Err(missing_library(&format!(
            "{LIBRARY_FILE_NAME} was not found (looked at {})",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn missing_library(what: &str) -> VisionError {
    VisionError::Model {
        model: "onnxruntime".to_owned(),
        detail: format!("the ONNX Runtime library is unavailable: {what}; {SETUP_HINT}"),
    }
}

fn environment(library: &Path) -> Result<(PathBuf, Environment), VisionError> {
    // Checked first (even when a library is already loaded) so a wrong path
    // is always reported, and because `ort` would otherwise fall back to
    // searching the system's library path with an error that does not say
    // how to fix it.
    if !library.is_file() {
        return Err(missing_library(&format!(
            "{} does not exist",
            library.display()
        )));
    }
    let mut slot = ENVIRONMENT.lock().map_err(|_| VisionError::Model {
        model: "onnxruntime".to_owned(),
        detail: "the ONNX Runtime initialisation lock is poisoned".to_owned(),
    })?;
    if let Some((loaded, env)) = slot.as_ref() {
        if loaded != library {
            tracing::warn!(
                loaded = %loaded.display(),
                requested = %library.display(),
                "ONNX Runtime is already loaded in this process; reusing it"
            );
        }
        return Ok((loaded.clone(), env.clone()));
    }
    let env = ::ort::init_from(library)
        .map_err(|e| missing_library(&format!("loading {} failed: {e}", library.display())))?
        .with_name("facegate")
        .with_telemetry(false)
        .build()
        .map_err(|e| VisionError::Model {
            model: "onnxruntime".to_owned(),
            detail: format!("creating the ONNX Runtime environment failed: {e}"),
        })?;
    tracing::info!(library = %library.display(), "loaded ONNX Runtime");
    *slot = Some((library.to_path_buf(), env.clone()));
    Ok((library.to_path_buf(), env))
}

/// How much ONNX Runtime rewrites a model's graph when loading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrtOptimization {
    /// Every optimisation (`ORT_ENABLE_ALL`), including the NCHWc layout
    /// transformation. The fastest for most models.
    All,
    /// Everything except the NCHWc layout transformer.
    AllButNchwc,
    /// Basic and extended rewrites (`ORT_ENABLE_EXTENDED`): adds complex
    /// fusions (for int8 QDQ models, Q/DQ pairs around a convolution fused
    /// into one integer convolution), no layout transformation.
    Extended,
    /// Basic rewrites only (`ORT_ENABLE_BASIC`): constant folding, redundant
    /// node removal, simple fusions.
    Basic,
}

/// Models for which [`OrtOptimization::All`] is not the fastest, measured
/// on one core (`examples/runtime_speed.rs --ort-levels`): the NCHWc layout
/// transformation makes `fr-feature-512` (a MobileFaceNet with PReLU and
/// depthwise convolutions on 112×112) 3–4× slower (≈83–88 ms against
/// ≈19–28 ms with basic rewrites only), while it speeds the other models up
/// 2–4×. `fr-feature-512-int8` (PReLU as Mul + Max, integer convolutions)
/// is fastest with `All` (≈4.0–4.5 ms, the same as `AllButNchwc`;
/// `Extended` ≈4.4–5.3 ms, `Basic` ≈10–11 ms), so it has no override.
pub const DEFAULT_OPTIMIZATION_OVERRIDES: &[(&str, OrtOptimization)] =
    &[("fr-feature-512", OrtOptimization::Basic)];

/// Integer products without 16-bit saturation on x86-64 processors
/// without VNNI: there ONNX Runtime multiplies u8 activations by s8 weights
/// with `vpmaddubsw`, whose pairwise sums saturate at ±32767, so the int8
/// embedder drifts from its quantised graph (on an AVX2 host, cosine 0.986
/// worst and 0.995 mean against the unoptimised graph over 60 LFW face
/// crops, 0.989 against tract on the parity test's input). With this
/// option, which runs those products as u8u8 where the weights exceed
/// [-64, 63], ort and tract agree to 6e-6 on that input
/// (`tests/runtime.rs`). On such a processor it costs ≈20 % of that
/// model's run time (same-run A/B in Python onnxruntime 1.32, one thread,
/// on the 2-vCPU AVX2 machine: 7.3–7.6 ms → 8.8–9.2 ms per face); it
/// changes nothing for float models or on processors with VNNI.
const X64_QUANT_PRECISION: &str = "session.x64quantprecision";

/// ONNX Runtime: one single-threaded session per model (parallelism comes
/// from workers), all graph optimisations on except where
/// [`DEFAULT_OPTIMIZATION_OVERRIDES`] or [`OrtRuntime::with_optimization`]
/// say otherwise.
#[derive(Clone)]
pub struct OrtRuntime {
    library: PathBuf,
    env: Environment,
    overrides: Vec<(String, OrtOptimization)>,
}

impl std::fmt::Debug for OrtRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtRuntime")
            .field("library", &self.library)
            .field("overrides", &self.overrides)
            .finish_non_exhaustive()
    }
}

impl OrtRuntime {
    /// Loads the library found by [`find_library`] (once per process).
    pub fn new() -> Result<Self, VisionError> {
        Self::with_library(&find_library()?)
    }

    /// Loads ONNX Runtime from `library`. If the process already loaded it
    /// (from any path) that instance is reused: ONNX Runtime cannot be
    /// loaded twice.
    pub fn with_library(library: &Path) -> Result<Self, VisionError> {
        let (library, env) = environment(library)?;
        Ok(Self {
            library,
            env,
            overrides: DEFAULT_OPTIMIZATION_OVERRIDES
                .iter()
                .map(|&(id, level)| (id.to_owned(), level))
                .collect(),
        })
    }

    /// Uses `level` for the model loaded under `name` (the model id when
    /// loaded through the `models` store).
    #[must_use]
    pub fn with_optimization(mut self, name: &str, level: OrtOptimization) -> Self {
        self.overrides.retain(|(id, _)| id != name);
        self.overrides.push((name.to_owned(), level));
        self
    }

    /// The optimisation level a model loaded under `name` gets.
    pub fn optimization(&self, name: &str) -> OrtOptimization {
        self.overrides
            .iter()
            .find(|(id, _)| id == name)
            .map_or(OrtOptimization::All, |&(_, level)| level)
    }

    /// The library this runtime actually uses.
    pub fn library(&self) -> &Path {
        &self.library
    }
}

fn model_error(name: &str, what: &str, e: impl std::fmt::Display) -> VisionError {
    VisionError::Model {
        model: name.to_owned(),
        detail: format!("{what}: {e}"),
    }
}

impl Runtime for OrtRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Ort
    }

    fn load(&self, name: &str, onnx: &[u8]) -> Result<Box<dyn Session>, VisionError> {
        let err = |what: &str, e: &dyn std::fmt::Display| model_error(name, what, e);
        let optimization = self.optimization(name);
        let level = match optimization {
            OrtOptimization::All | OrtOptimization::AllButNchwc => GraphOptimizationLevel::All,
            OrtOptimization::Extended => GraphOptimizationLevel::Level2,
            OrtOptimization::Basic => GraphOptimizationLevel::Level1,
        };
        let mut builder = OrtSession::builder(&self.env)
            .map_err(|e| err("creating an ONNX Runtime session builder", &e))?
            .with_optimization_level(level)
            .map_err(|e| err("setting the optimisation level", &e))?
            .with_config_entry(X64_QUANT_PRECISION, "1")
            .map_err(|e| err("asking for exact integer products", &e))?;
        if optimization == OrtOptimization::AllButNchwc {
            builder = builder
                .with_disabled_optimizers("NchwcTransformer")
                .map_err(|e| err("disabling the NCHWc transformer", &e))?;
        }
        let session = builder
            .with_intra_threads(1)
            .map_err(|e| err("setting intra-op threads", &e))?
            .with_inter_threads(1)
            .map_err(|e| err("setting inter-op threads", &e))?
            .with_parallel_execution(false)
            .map_err(|e| err("setting sequential execution", &e))?
            .commit_from_memory(onnx)
            .map_err(|e| err("ONNX Runtime could not load the model", &e))?;
        for outlet in session.inputs() {
            match outlet.dtype() {
                ValueType::Tensor { ty, .. } if *ty == ::ort::value::TensorElementType::Float32 => {
                }
                other => {
                    return Err(model_error(
                        name,
                        "unsupported model",
                        format!(
                            "input {:?} is {other}, only f32 tensors are supported",
                            outlet.name()
                        ),
                    ))
                }
            }
        }
        Ok(Box::new(OrtModelSession {
            name: name.to_owned(),
            session,
        }))
    }
}

struct OrtModelSession {
    name: String,
    session: OrtSession,
}

impl Session for OrtModelSession {
    fn run(&mut self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, VisionError> {
        let expected = self.session.inputs().len();
        if inputs.len() != expected {
            return Err(VisionError::Inference(format!(
                "{}: the model takes {expected} inputs, got {}",
                self.name,
                inputs.len()
            )));
        }
        let name = &self.name;
        let values = inputs
            .into_iter()
            .map(|t| {
                OrtTensor::from_array((t.shape, t.data))
                    .map(SessionInputValue::from)
                    .map_err(|e| VisionError::Inference(format!("{name}: bad input: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = self
            .session
            .run(values.as_slice())
            .map_err(|e| VisionError::Inference(format!("{name}: {e}")))?;
        outputs
            .iter()
            .map(|(key, value)| {
                let (shape, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| VisionError::Inference(format!("{name}: output {key:?}: {e}")))?;
                let shape = shape
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        VisionError::Inference(format!("{name}: output {key:?} shape: {e}"))
                    })?;
                Tensor::new(shape, data.to_vec())
            })
            .collect()
    }
}
