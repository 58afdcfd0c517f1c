//! Face engines whose verdict the test chooses: [`ScriptedEngine`] drives
//! transactions to `PASSED` or `FAILED` without faces or models;
//! [`HolderSelfies`] makes every ID verification's selfie the document's
//! holder, so that a test about authentication can enroll by a scan.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, ComparisonTarget, EngineError, FaceEngine,
    FrameAnalysis, FrameInput,
};
use facegate_domain::{
    Evidence, Findings, FrameCounts, LivenessRecord, LivenessVerdict, SimilarityRecord,
};

use crate::capture::{authorization_token, blank_jpeg, Capture};
use crate::helpers::{json as body_json, Credential, TestApp};

/// Every attempt ends with the evidence set last (at its finish).
#[derive(Clone)]
pub struct ScriptedEngine {
    evidence: Arc<Mutex<Evidence>>,
    /// Liveness frames each finished attempt keeps, with a face image;
    /// none (and no face image) unless asked.
    liveness_images: usize,
}

impl ScriptedEngine {
    pub fn new(evidence: Evidence) -> Self {
        Self {
            evidence: Arc::new(Mutex::new(evidence)),
            liveness_images: 0,
        }
    }

    /// Each finished attempt also keeps a face image and `liveness` frames
    /// (small grey JPEGs), as the real engine keeps its best frames.
    pub fn keeping_images(self, liveness: usize) -> Self {
        Self {
            liveness_images: liveness,
            ..self
        }
    }

    pub fn set(&self, evidence: Evidence) {
        *self.evidence.lock().unwrap() = evidence;
    }
}

/// Every frame "analysed" by a scripted engine: nothing measured.
pub fn nothing_measured() -> Result<FrameAnalysis, EngineError> {
    Ok(FrameAnalysis::Analysed {
        features: Vec::new(),
        keep_jpeg: false,
    })
}

#[async_trait]
impl facegate_core::FaceEngine for ScriptedEngine {
    fn supports_model(&self, _: &str) -> bool {
        true
    }
    fn ready(&self) -> Result<(), EngineError> {
        Ok(())
    }
    async fn analyse_frame(&self, _: &str, _: FrameInput) -> Result<FrameAnalysis, EngineError> {
        nothing_measured()
    }
    async fn conclude(
        &self,
        _: AttemptContext,
        _: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        let jpeg = || Arc::<[u8]>::from(blank_jpeg());
        Ok(AttemptFindings {
            findings: findings_showing(*self.evidence.lock().unwrap()),
            face_image: (self.liveness_images > 0).then(jpeg),
            liveness_images: (0..self.liveness_images).map(|_| jpeg()).collect(),
            templates: Vec::new(),
        })
    }
}

/// A face engine for tests that enroll by a scan but are about
/// authentication: an ID verification's selfie (compared with the document's
/// portrait) is the portrait's holder, live, and its template is the
/// portrait's, so the scan issues a facemap of the face the document shows
/// ([`crate::scans::ScriptedDocuments`] says which). Authentications are
/// analysed by `authentication`, the engine the test is about.
pub struct HolderSelfies {
    pub authentication: Arc<dyn FaceEngine>,
}

#[async_trait]
impl FaceEngine for HolderSelfies {
    fn supports_model(&self, model: &str) -> bool {
        self.authentication.supports_model(model)
    }
    fn ready(&self) -> Result<(), EngineError> {
        self.authentication.ready()
    }
    /// Frames go to the authentication engine: a selfie's are not looked at.
    async fn analyse_frame(
        &self,
        model: &str,
        frame: FrameInput,
    ) -> Result<FrameAnalysis, EngineError> {
        self.authentication.analyse_frame(model, frame).await
    }
    async fn conclude(
        &self,
        context: AttemptContext,
        frames: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        match context.target {
            ComparisonTarget::DocumentPortrait => Ok(AttemptFindings {
                findings: findings_showing(Evidence::LiveMatch),
                face_image: None,
                liveness_images: Vec::new(),
                templates: context.templates.first().cloned().into_iter().collect(),
            }),
            ComparisonTarget::Facemap => self.authentication.conclude(context, frames).await,
        }
    }
}

/// Findings that the domain's decision reads as `evidence`.
pub fn findings_showing(evidence: Evidence) -> Findings {
    let (verdict, score) = match evidence {
        Evidence::LiveMatch => (LivenessVerdict::Pass, Some(0.9)),
        Evidence::LiveNoMatch => (LivenessVerdict::Pass, Some(0.1)),
        Evidence::Attack => (LivenessVerdict::Fail, None),
        Evidence::Unusable => (LivenessVerdict::Retry, None),
    };
    Findings {
        frames: FrameCounts::default(),
        liveness: LivenessRecord {
            reasons: Vec::new(),
            score: 1.0,
            signals: Vec::new(),
            verdict,
        },
        similarity: score.map(|s| SimilarityRecord::new("scripted", s, 0.5, 1e-4, 1e-4)),
    }
}

/// Initiates with `metadata` and runs one attempt to its end; returns the
/// transaction reference and the finish answer (the initiation must succeed).
pub async fn authenticate(
    app: &TestApp,
    api: &Credential,
    metadata: &serde_json::Value,
    facemap: &[u8],
) -> (String, serde_json::Value) {
    let (status, body) = body_json(app.initiate(api, metadata, facemap).await).await;
    assert_eq!(status, 200, "{body}");
    let token = authorization_token(body["redirectUrl"].as_str().unwrap());
    let capture = Capture::open(app, &token).await;
    let attempt = capture.start().await;
    let (status, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
    assert_eq!(status, 200, "{done}");
    let reference = body["authenticationTransactionReference"].as_str().unwrap();
    (reference.to_owned(), done)
}
