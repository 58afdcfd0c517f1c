//! What the document engine can fail with.

use facegate_vision::VisionError;

#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    /// A model does not have what the engine needs.
    #[error("OCR model: {0}")]
    Model(String),
}
