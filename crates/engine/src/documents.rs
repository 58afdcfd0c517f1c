//! The document engine of the capture service on the real models (the
//! implementation of `facegate_core::DocumentEngine`): the sides go through
//! `facegate_documents::DocumentAnalyzer` (page, copy and readability
//! checks, the machine-readable zone, the portrait and its template). The
//! analysers load on first use and are kept for the next document, one per
//! concurrent analysis.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use facegate_core::documents::{DocumentAnalysis, DocumentEngine, PortraitTemplate};
use facegate_core::engine::EngineError;
use facegate_documents::DocumentAnalyzer;
use facegate_domain::Workflow;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{for_kind, RuntimeKind};

/// The document engine: see the module documentation.
pub struct VisionDocumentEngine {
    runtime: RuntimeKind,
    store: OnceLock<Result<Arc<ModelStore>, String>>,
    idle: Mutex<Vec<DocumentAnalyzer>>,
}

impl VisionDocumentEngine {
    pub fn new(runtime: RuntimeKind) -> Self {
        Self {
            runtime,
            store: OnceLock::new(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The process's engine for `runtime`: every server of the process
    /// shares its loaded analysers.
    pub fn shared(runtime: RuntimeKind) -> Arc<VisionDocumentEngine> {
        static SHARED: Mutex<Vec<Arc<VisionDocumentEngine>>> = Mutex::new(Vec::new());
        let mut engines = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(engine) = engines.iter().find(|e| e.runtime == runtime) {
            return engine.clone();
        }
        let engine = Arc::new(VisionDocumentEngine::new(runtime));
        engines.push(engine.clone());
        engine
    }

    fn store(&self) -> Result<Arc<ModelStore>, EngineError> {
        self.store
            .get_or_init(|| {
                ModelStore::open_default()
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError)
    }

    fn checkout(&self) -> Result<DocumentAnalyzer, EngineError> {
        if let Some(analyzer) = self.idle_analyzers().pop() {
            return Ok(analyzer);
        }
        let store = self.store()?;
        let runtime = for_kind(self.runtime).map_err(|e| EngineError(e.to_string()))?;
        DocumentAnalyzer::new(&store, runtime.as_ref())
            .map_err(|e| EngineError(format!("document engine: {e}")))
    }

    fn checkin(&self, analyzer: DocumentAnalyzer) {
        self.idle_analyzers().push(analyzer);
    }

    fn idle_analyzers(&self) -> std::sync::MutexGuard<'_, Vec<DocumentAnalyzer>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DocumentEngine for VisionDocumentEngine {
    fn ready(&self) -> Result<(), EngineError> {
        let analyzer = self.checkout()?;
        self.checkin(analyzer);
        Ok(())
    }

    fn analyze(
        &self,
        front: &[u8],
        back: Option<&[u8]>,
        _workflow: Workflow,
    ) -> Result<DocumentAnalysis, EngineError> {
        let mut analyzer = self.checkout()?;
        let report = analyzer.analyze_bytes(front, back, Utc::now().date_naive());
        // An analyser that failed may hold a broken session: not kept.
        let report = report.map_err(|e| EngineError(format!("document engine: {e}")))?;
        self.checkin(analyzer);
        tracing::debug!(
            front_ms = report.front.total_ms,
            back_ms = report.back.as_ref().map(|b| b.total_ms),
            front_turn = report.front.turn.degrees(),
            back_turn = report.back.as_ref().map(|b| b.turn.degrees()),
            "document analysed"
        );
        Ok(DocumentAnalysis {
            findings: report.findings,
            portrait: report.portrait.map(|t| PortraitTemplate {
                model: t.model.to_owned(),
                vector: t.vector,
            }),
        })
    }

    fn document_in_view(&self, image: &[u8]) -> Result<bool, EngineError> {
        let mut analyzer = self.checkout()?;
        let shown = analyzer
            .document_in_view(image)
            .map_err(|e| EngineError(format!("document engine: {e}")))?;
        self.checkin(analyzer);
        Ok(shown)
    }
}
