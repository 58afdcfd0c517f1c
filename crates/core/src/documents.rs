//! The document engine as the capture service sees it: the sides of an ID
//! document go in, and out come its findings (document found, copy,
//! readability, the machine-readable zone and the fields read from it, the
//! portrait) and the template of its portrait, for the selfie comparison.
//! The engine measures; the verdict is `facegate_domain::decide_scan`.
//!
//! The implementation on real models lives in its own crate; the tests
//! script one. A deployment without a document engine refuses enrollment
//! capture (`DOCUMENT_ENGINE_UNAVAILABLE`).

use facegate_domain::{DocumentFindings, Workflow};

pub use crate::engine::EngineError;

/// A portrait's template and the model that made it (one of the face
/// engine's models, so that the selfie is embedded the same way and the
/// facemap issued from the selfie is one facemap authentication compares).
#[derive(Debug, Clone, PartialEq)]
pub struct PortraitTemplate {
    pub model: String,
    pub vector: Vec<f32>,
}

/// What the engine found on a document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentAnalysis {
    pub findings: DocumentFindings,
    /// The portrait's template, when a usable face was found on the document.
    pub portrait: Option<PortraitTemplate>,
}

/// Analyses ID documents. `analyze` may block for a while (model loading,
/// OCR): the capture service calls it on a blocking thread.
pub trait DocumentEngine: Send + Sync + 'static {
    /// Loads what the engine needs; an error means the installation is broken.
    fn ready(&self) -> Result<(), EngineError>;
    /// Analyses the sides the user gave (JPEG or PNG as uploaded; `back`
    /// when the document type has one) for `workflow`.
    fn analyze(
        &self,
        front: &[u8],
        back: Option<&[u8]>,
        workflow: Workflow,
    ) -> Result<DocumentAnalysis, EngineError>;
    /// Whether an ID document is in view in a selfie image (JPEG): the
    /// user showed the document to the camera (`ENTIRE_ID_USED_AS_SELFIE`).
    fn document_in_view(&self, image: &[u8]) -> Result<bool, EngineError>;
}
