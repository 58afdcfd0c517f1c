//! One small interface over the inference engines: ONNX Runtime through `ort`
//! (library loaded at run time from the pinned PyPI wheel, never downloaded by
//! the crate) and the pure-Rust `tract`. Both must give the same outputs on the
//! same inputs; the faster one is the default.

use crate::VisionError;

mod interface;
#[cfg(feature = "ort")]
pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;

pub use interface::{Runtime, RuntimeKind, Session, Tensor};

/// Builds the engine of the given kind with its default setup: `ort` finds
/// and loads the ONNX Runtime library (see [`ort::OrtRuntime::new`]);
/// `tract` needs nothing. A kind whose cargo feature is off is an error.
pub fn for_kind(kind: RuntimeKind) -> Result<Box<dyn Runtime>, VisionError> {
    match kind {
        #[cfg(feature = "ort")]
        RuntimeKind::Ort => Ok(Box::new(self::ort::OrtRuntime::new()?)),
        #[cfg(feature = "tract")]
        RuntimeKind::Tract => Ok(Box::new(self::tract::TractRuntime::new())),
        #[allow(unreachable_patterns)]
        other => Err(VisionError::Inference(format!(
            "runtime {other} is not compiled in (enable the facegate-vision feature \"{other}\")"
        ))),
    }
}

/// The default engine ([`RuntimeKind::default`]).
pub fn default_runtime() -> Result<Box<dyn Runtime>, VisionError> {
    for_kind(RuntimeKind::default())
}
