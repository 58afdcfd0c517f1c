//! Facegate's eyes: turns an image into a face template with real pretrained
//! models, and compares templates. No HTTP and no database, so it can be used
//! and benchmarked alone.
//!
//! Stages: [`decode`] → [`detect`] (BlazeFace) → [`landmarks`] (FaceMesh 468)
//! → [`align`] (each embedder's canonical crop) → [`embed`] → [`quality`] →
//! [`compare`]. Models run behind [`runtime`]: ONNX Runtime (`ort`) or
//! `tract`, which must agree. [`liveness`] decides whether a capture is a
//! live person following the server's challenge.

pub mod align;
pub mod compare;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod geometry;
pub mod landmarks;
pub mod liveness;
pub mod models;
pub mod pipeline;
pub mod quality;
pub mod runtime;

pub use geometry::{Point, Rect};
pub use runtime::{Runtime, RuntimeKind, Session, Tensor};

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
