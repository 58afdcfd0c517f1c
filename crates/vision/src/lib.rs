//! Facegate's eyes: turns an image into a face template with real pretrained
//! models, and compares templates. No HTTP and no database, so it can be used
//! and benchmarked alone.
//!
//! Three layers, each using only the ones below it (no module imports one
//! above it, so the module graph has no cycle):
//!
//! 1. **Building blocks**, one step of one image each: [`geometry`],
//!    [`runtime`] (ONNX Runtime `ort` or `tract`, which must agree),
//!    [`models`] (the checksummed model store), [`decode`], [`detect`]
//!    (BlazeFace), [`landmarks`] (FaceMesh 468), [`align`] (each embedder's
//!    canonical crop), [`embed`], [`antispoof`] (the fr-liveness model),
//!    [`klt`] (texture tracking), [`quality`] and [`compare`].
//! 2. **The per-frame analyser**, [`frame`]: the blocks in order (detect →
//!    FaceMesh → align → embed → quality, plus the liveness cues of a frame).
//!    The still-image [`pipeline`] (enrollment templates, LFW) is a thin use
//!    of it.
//! 3. **[`liveness`]**: the challenge, the signals over the analysed frames,
//!    their configuration and the decision whether a capture is a live
//!    person following the server's challenge.
//!
//! [`VisionError`] is defined here and used by every layer.

pub mod align;
pub mod antispoof;
pub mod compare;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod frame;
pub mod geometry;
pub mod klt;
pub mod landmarks;
pub mod liveness;
pub mod models;
pub mod pipeline;
pub mod quality;
pub mod runtime;

/// Everything that can go wrong in the vision pipeline, typed so callers can
/// tell bad input from a broken installation.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// The bytes are not an image we decode (or are corrupt).
    #[error("the image could not be decoded: {0}")]
    Decode(String),
    /// The image is empty, too large in bytes or in pixels.
    #[error("the image is out of bounds: {0}")]
    ImageBounds(String),
    /// A model file is missing, has the wrong checksum or fails to load.
    #[error("model {model}: {detail}")]
    Model { model: String, detail: String },
    /// The inference runtime failed.
    #[error("inference failed: {0}")]
    Inference(String),
}
