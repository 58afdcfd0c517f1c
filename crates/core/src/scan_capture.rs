//! The capture of an ID verification (docs/capture-protocol.md, "ID
//! verification"): the authorization token of the scan's `redirectUrl`
//! opens the same capture session as an authentication's; the document
//! sides are uploaded as images; for identity workflows the selfie is the
//! same liveness attempt as an authentication's, compared with the
//! document's portrait instead of a facemap. Its final attempt (or, for an
//! ID-only workflow, the session's finish) decides the scan with
//! `facegate_domain::decide_scan`; an approved identity scan issues its
//! facemap from the selfie's template.

use std::net::IpAddr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use facegate_domain::{
    decide_scan, judge_selfie_attempt, Account, AttemptOutcome, CaptureAttempt, CaptureChannel,
    CaptureSession, CaptureSubject, Decision, DocumentFindings, DocumentSide, DocumentType,
    FieldError, RedirectUrl, Scan, ScanOutcome, ScanPolicy, ScanSource, ScanState, SelfieAttempt,
    SelfieFindings, SideFindings, ZoneFinding, MAX_ATTEMPTS,
};
use facegate_storage::{
    ImageKind, IssuedFacemap, ScanDecision, ScanSide, SealedImage, SelfieFinish,
};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::Serialize;

use crate::capture::{
    AttemptTarget, FinishedAttempt, OpenedSession, Redirect, ScanCaptureView, SessionView,
    StartedAttempt, NO_ACCEPTABLE_SCAN,
};
use crate::documents::{DocumentAnalysis, DocumentEngine};
use crate::engine::{AttemptContext, AttemptFindings, ComparisonTarget, EngineError};
use crate::error::{CaptureRefusal, ServiceError, ServiceResult};
use crate::render::ScanImages;
use crate::scans::{scan_slot, scan_transaction, DocumentRecord};
use crate::CaptureService;

/// Largest accepted document side (SPEC §0: an image ≤ 10 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted width or height of a document side.
pub const MAX_DOCUMENT_SIDE: u32 = 8192;
/// Smallest accepted width or height of a document side: below it no zone
/// can be read.
pub const MIN_DOCUMENT_SIDE: u32 = 200;

/// The answer to the finish of an ID-only scan.
#[derive(Debug, Clone)]
pub struct FinishedScan {
    pub redirect: Redirect,
}

fn refuse(r: CaptureRefusal) -> ServiceError {
    ServiceError::Capture(r)
}

/// Appends the web client's result parameters to a scan's success or error
/// URL (`netverify-web-v4.md`, "After the user journey").
fn scan_redirect_url(base: &RedirectUrl, scan: &Scan, error_code: Option<u16>) -> String {
    let Ok(mut url) = url::Url::parse(base.as_str()) else {
        return base.as_str().to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        let status = if error_code.is_some() {
            "ERROR"
        } else {
            "SUCCESS"
        };
        query.append_pair("transactionStatus", status);
        if let Some(cir) = &scan.customer_internal_reference {
            query.append_pair("customerInternalReference", cir);
        }
        query.append_pair("transactionReference", &scan.reference.to_string());
        if let Some(code) = error_code {
            query.append_pair("errorCode", &code.to_string());
        }
    }
    url.into()
}

fn scan_redirect(scan: &Scan, error_code: Option<u16>) -> Redirect {
    let base = match error_code {
        Some(_) => scan.error_url.as_ref(),
        None => scan.success_url.as_ref(),
    };
    Redirect {
        url: base.map(|b| scan_redirect_url(b, scan, error_code)),
        success: error_code.is_none(),
        error_code,
    }
}

/// What the account accepts for this scan, narrowed by the scan's preset
/// (see [`ScanPolicy::preset`]).
fn scan_policy(
    account: &Account,
    scan: &Scan,
    match_threshold: f32,
    same_picture_threshold: Option<f32>,
) -> ScanPolicy {
    let accepted = &account.accepted_documents;
    ScanPolicy {
        document_types: accepted.document_types.clone(),
        countries: accepted.countries.clone(),
        accept_expired: accepted.accept_expired,
        preset: scan.preset,
        match_threshold,
        same_picture_threshold,
    }
}

/// Selfie images the document engine looks at for a document in view.
const SELFIE_DOCUMENT_LOOKS: usize = 3;

/// The selfie's part in a verdict.
struct SelfieInput {
    findings: SelfieFindings,
    /// The comparison with the portrait (its calibrated operating point
    /// and same-picture point); `None` when nothing was compared.
    comparison: Option<facegate_domain::decision::SimilarityRecord>,
    analysed: AttemptFindings,
    finish: SelfieFinish,
}

/// What a decision rested on, stored for review (no personal data).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Evidence<'a> {
    workflow: u16,
    document: DocumentEvidence,
    policy: PolicyEvidence,
    /// The selfie attempt's record: liveness signals and the comparison
    /// with the portrait (score, threshold, operating point).
    selfie: Option<&'a Decision>,
    /// Whether the document engine found a document in the selfie.
    document_in_selfie: Option<bool>,
    facemap_issued: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SideEvidence {
    document_found: bool,
    black_and_white: bool,
    unreadable: Vec<&'static str>,
}

impl SideEvidence {
    fn of(side: &SideFindings) -> Self {
        Self {
            document_found: side.document_found,
            black_and_white: side.black_and_white,
            unreadable: side.unreadable.iter().map(|d| d.description()).collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentEvidence {
    front: SideEvidence,
    back: Option<SideEvidence>,
    /// `READ`, `ABSENT`, `UNREADABLE` or `CHECK_FAILED`.
    zone: &'static str,
    /// The fields whose check digit failed.
    check_failed: Vec<&'static str>,
    specimen: bool,
    portrait_found: bool,
    /// Whether a portrait template was made for the comparison.
    portrait_template: bool,
}

impl DocumentEvidence {
    fn of(analysis: &DocumentAnalysis) -> Self {
        let f: &DocumentFindings = &analysis.findings;
        let (zone, check_failed, specimen) = match &f.zone {
            ZoneFinding::Absent => ("ABSENT", Vec::new(), false),
            ZoneFinding::Unreadable => ("UNREADABLE", Vec::new(), false),
            ZoneFinding::CheckFailed(d) => (
                "CHECK_FAILED",
                d.iter().map(|d| d.description()).collect(),
                false,
            ),
            ZoneFinding::Read(data) => ("READ", Vec::new(), data.specimen),
        };
        Self {
            front: SideEvidence::of(&f.front),
            back: f.back.as_ref().map(SideEvidence::of),
            zone,
            check_failed,
            specimen,
            portrait_found: f.portrait_found,
            portrait_template: analysis.portrait.is_some(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyEvidence {
    document_types: Vec<&'static str>,
    countries: Vec<String>,
    accept_expired: bool,
    /// The preset's type and country, when the scan has one.
    preset: Option<(&'static str, String)>,
    match_threshold: Option<f32>,
    same_picture_threshold: Option<f32>,
}

impl CaptureService {
    fn documents(&self) -> ServiceResult<&Arc<dyn DocumentEngine>> {
        self.documents
            .as_ref()
            .ok_or(ServiceError::DocumentEngineUnavailable)
    }

    /// The scan a scan session captures for.
    pub(crate) async fn session_scan(&self, session: &CaptureSession) -> ServiceResult<Scan> {
        self.store
            .scan(facegate_domain::EnrollmentRef::from_uuid(
                session.transaction.as_uuid(),
            ))
            .await?
            .ok_or(refuse(CaptureRefusal::SessionInvalid))
    }

    /// The scan session of a capture token.
    async fn scan_context(&self, capture_token: &str) -> ServiceResult<(CaptureSession, Scan)> {
        let session = self.usable_session(capture_token).await?;
        if session.subject != CaptureSubject::Scan {
            return Err(refuse(CaptureRefusal::NotAScan));
        }
        let scan = self.session_scan(&session).await?;
        Ok((session, scan))
    }

    /// Ends an overdue scan and reports what a capture call should answer
    /// for a scan that is no longer pending.
    pub(crate) async fn check_scan_open(&self, scan: &Scan) -> ServiceResult<()> {
        if scan.is_overdue(self.clock.now()) {
            self.fail_unfinished_scan(scan).await?;
            return Err(refuse(CaptureRefusal::TransactionExpired));
        }
        match scan.state {
            ScanState::Pending => Ok(()),
            ScanState::Failed => Err(refuse(CaptureRefusal::TransactionExpired)),
            ScanState::Done => Err(refuse(CaptureRefusal::TransactionFinished)),
        }
    }

    /// `POST /api/capture/v1/session` with a scan's authorization token.
    pub(crate) async fn open_scan_session(
        &self,
        scan: Scan,
        scan_source: ScanSource,
        client: Option<IpAddr>,
    ) -> ServiceResult<OpenedSession> {
        self.documents()?;
        self.check_scan_open(&scan).await?;
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let capture_token = URL_SAFE_NO_PAD.encode(raw);
        let session = CaptureSession::new(
            crate::capture::token_hash(&capture_token),
            scan_transaction(scan.reference),
            self.clock.now(),
            scan.expires_at,
        )
        .with_scan_source(scan_source)
        .for_scan();
        if !self.store.open_scan_session(&session, client).await? {
            // Decided or ended between the read and the write.
            return Err(refuse(CaptureRefusal::TransactionFinished));
        }
        tracing::info!(scan = %scan.reference, "scan capture session opened");
        let view = self.scan_view(&session, &scan).await?;
        Ok(OpenedSession {
            capture_token,
            view,
        })
    }

    /// `GET /api/capture/v1/session` of a scan session.
    pub(crate) async fn scan_status(&self, session: &CaptureSession) -> ServiceResult<SessionView> {
        let scan = self.session_scan(session).await?;
        let scan = if scan.is_overdue(self.clock.now()) {
            self.fail_unfinished_scan(&scan).await?;
            self.session_scan(session).await?
        } else {
            scan
        };
        self.scan_view(session, &scan).await
    }

    async fn scan_view(&self, session: &CaptureSession, scan: &Scan) -> ServiceResult<SessionView> {
        let stored = self.store.scan_images(scan.reference).await?;
        let given = |side: DocumentSide| {
            let kind = match side {
                DocumentSide::Front => ImageKind::Front,
                DocumentSide::Back => ImageKind::Back,
            };
            stored.iter().any(|(k, _)| *k == kind)
        };
        let sides_needed = scan.sides_needed();
        let account = self.store.account(scan.account).await?;
        let accepted = account
            .as_ref()
            .map(|a| a.accepted_documents.clone())
            .unwrap_or_default();
        Ok(SessionView {
            expires_at: session.expires_at,
            transaction: session.transaction,
            transaction_state: scan.state.as_str(),
            locale: scan.locale.as_str().to_owned(),
            attempts_used: self.store.attempts_used(session.transaction).await?,
            success_url: scan.success_url.as_ref().map(|u| u.as_str().to_owned()),
            error_url: scan.error_url.as_ref().map(|u| u.as_str().to_owned()),
            parent_origin: account
                .and_then(|a| a.parent_origin)
                .map(|o| o.as_str().to_owned()),
            scan: Some(ScanCaptureView {
                workflow: scan.workflow,
                customer_internal_reference: scan.customer_internal_reference.clone(),
                accepted_types: accepted.document_types,
                accepted_countries: accepted.countries,
                preset: scan.preset,
                document_type: scan.document_type,
                sides_given: [DocumentSide::Front, DocumentSide::Back]
                    .into_iter()
                    .filter(|s| given(*s))
                    .collect(),
                sides_needed,
                selfie: scan.workflow.includes_identity(),
            }),
        })
    }

    /// A document side must be a JPEG or PNG within the size limits, its
    /// dimensions read from its header (nothing is decoded here).
    fn check_document_image(&self, image: &[u8]) -> ServiceResult<()> {
        use facegate_vision::decode::{header_dimensions, sniff};
        if image.len() > MAX_DOCUMENT_BYTES {
            return Err(refuse(CaptureRefusal::DocumentTooLarge));
        }
        let kind = sniff(image).ok_or(refuse(CaptureRefusal::DocumentInvalid(
            "a document side is a JPEG or PNG image",
        )))?;
        let (w, h) = header_dimensions(kind, image).ok_or(refuse(
            CaptureRefusal::DocumentInvalid("the image header could not be read"),
        ))?;
        let side = MIN_DOCUMENT_SIDE..=MAX_DOCUMENT_SIDE;
        if !side.contains(&w) || !side.contains(&h) {
            return Err(refuse(CaptureRefusal::DocumentInvalid(
                "the image's dimensions are out of bounds",
            )));
        }
        Ok(())
    }

    /// `PUT /api/capture/v1/documents/{side}`: stores (or replaces) a side
    /// of the document. `document_type` names the type the user shows (with
    /// the front, when the scan has no preset).
    pub async fn upload_document_side(
        &self,
        capture_token: &str,
        side: DocumentSide,
        channel: CaptureChannel,
        document_type: Option<DocumentType>,
        image: Vec<u8>,
    ) -> ServiceResult<SessionView> {
        let (session, scan) = self.scan_context(capture_token).await?;
        self.documents()?;
        self.check_scan_open(&scan).await?;
        if !channel.allowed_by(scan.workflow) {
            return Err(refuse(CaptureRefusal::CaptureMethodNotAllowed));
        }
        const TYPE_FIELD: &str = "Capture-Document-Type";
        let chosen = match (scan.preset, document_type) {
            (Some(preset), Some(named)) if named != preset.document_type => {
                return Err(ServiceError::field(FieldError::new(
                    TYPE_FIELD,
                    "DOCUMENT_TYPE_MISMATCH",
                    format!(
                        "this ID verification asks for a {}",
                        preset.document_type.as_str()
                    ),
                )))
            }
            (Some(preset), _) => preset.document_type,
            (None, Some(named)) => named,
            (None, None) => scan
                .document_type
                .ok_or_else(|| ServiceError::field(FieldError::required(TYPE_FIELD)))?,
        };
        if side == DocumentSide::Back && !chosen.has_back() {
            return Err(refuse(CaptureRefusal::DocumentSideNotNeeded));
        }
        self.check_document_image(&image)?;
        let kind = match side {
            DocumentSide::Front => ImageKind::Front,
            DocumentSide::Back => ImageKind::Back,
        };
        let sealed =
            facegate_facemap::seal_image(&self.keyring, &scan_slot(&scan, kind, 1), &image)
                .map_err(|e| ServiceError::Internal(format!("sealing a document side: {e}")))?;
        let stored = self
            .store
            .store_scan_side(&ScanSide {
                reference: scan.reference,
                image: SealedImage { kind, n: 1, sealed },
                channel,
                document_type: Some(chosen),
                at: self.clock.now(),
            })
            .await?;
        if !stored {
            return Err(refuse(CaptureRefusal::TransactionFinished));
        }
        tracing::info!(scan = %scan.reference, side = side.as_str(), channel = channel.as_str(), "document side stored");
        let scan = self.session_scan(&session).await?;
        self.scan_view(&session, &scan).await
    }

    /// Analyses the scan's document sides; every side it needs must be given.
    async fn analyze_document(&self, scan: &Scan) -> ServiceResult<DocumentAnalysis> {
        let engine = self.documents()?.clone();
        let front = self
            .open_scan_image(scan, ImageKind::Front, 1)
            .await?
            .ok_or(refuse(CaptureRefusal::DocumentSideMissing))?;
        let back = if scan.sides_needed().contains(&DocumentSide::Back) {
            Some(
                self.open_scan_image(scan, ImageKind::Back, 1)
                    .await?
                    .ok_or(refuse(CaptureRefusal::DocumentSideMissing))?,
            )
        } else {
            None
        };
        let workflow = scan.workflow;
        tokio::task::spawn_blocking(move || {
            engine.ready()?;
            engine.analyze(&front, back.as_deref(), workflow)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("document engine: {e}")))?
        .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// `POST /api/capture/v1/attempts` of a scan session: the selfie. The
    /// document is analysed first; its portrait is what the selfie is
    /// compared with.
    pub(crate) async fn start_selfie_attempt(
        &self,
        session: &CaptureSession,
        flash: bool,
    ) -> ServiceResult<StartedAttempt> {
        self.documents()?;
        let scan = self.session_scan(session).await?;
        self.check_scan_open(&scan).await?;
        if !scan.workflow.includes_identity() {
            return Err(refuse(CaptureRefusal::SelfieNotNeeded));
        }
        let used = self.store.attempts_used(session.transaction).await?;
        if used >= MAX_ATTEMPTS {
            return Err(refuse(CaptureRefusal::AttemptsExhausted));
        }
        let analysis = self.analyze_document(&scan).await?;
        let model = match &analysis.portrait {
            Some(p) => p.model.clone(),
            // No portrait: the selfie is still taken (and its liveness
            // recorded); the document decides the verdict.
            None => self.default_model()?,
        };
        self.begin_attempt(
            session.transaction,
            used,
            flash,
            AttemptTarget {
                model,
                document: Some(Arc::new(analysis)),
            },
        )
        .await
    }

    /// The face model facemaps are issued with when the document gave none.
    fn default_model(&self) -> ServiceResult<String> {
        self.settings
            .supported_models
            .first()
            .cloned()
            .ok_or_else(|| ServiceError::Internal("no supported face model".into()))
    }

    /// `POST /api/capture/v1/attempts/{id}/finish` of a scan's selfie: a
    /// retry, or the scan's verdict.
    pub(crate) async fn finish_selfie_attempt(
        &self,
        scan: Scan,
        attempt: CaptureAttempt,
    ) -> ServiceResult<FinishedAttempt> {
        let attempt = &attempt;
        // The document analysis this node kept when the attempt started;
        // on another node, the document is analysed again (the same sides
        // give the same analysis).
        let analysis = match self.local_capture.take_document(attempt.id) {
            Some(analysis) => analysis,
            None => Arc::new(self.analyze_document(&scan).await?),
        };
        let (model, templates) = match &analysis.portrait {
            Some(p) => (p.model.clone(), vec![p.vector.clone()]),
            None => (attempt.model.clone(), Vec::new()),
        };
        let analysed = self
            .frames()
            .conclude_attempt(
                attempt,
                scan.account,
                AttemptContext {
                    challenge: attempt.challenge.clone(),
                    flash: attempt.flash,
                    model,
                    templates,
                    target: ComparisonTarget::DocumentPortrait,
                },
                self.clock.now(),
            )
            .await?;
        let judged = judge_selfie_attempt(&analysed.findings, attempt.number);
        let outcome = match &judged {
            SelfieAttempt::Retry(_) => AttemptOutcome::Retry,
            SelfieAttempt::Final { outcome, .. } => *outcome,
        };
        let record = Decision {
            attempt: attempt.number,
            flash: attempt.flash,
            frames: analysed.findings.frames,
            liveness: analysed.findings.liveness.clone(),
            outcome,
            similarity: analysed.findings.similarity.clone(),
        };
        let finish = SelfieFinish {
            attempt: attempt.id,
            outcome,
            decision: record,
        };
        let label = format!("outcome=\"{}\"", outcome.as_str());
        self.metrics
            .increment("facegate_scan_selfie_attempts_total", &label);
        let attempts_left = MAX_ATTEMPTS - attempt.number;
        let findings = match judged {
            SelfieAttempt::Retry(guidance) => {
                let now = self.clock.now();
                if !self
                    .store
                    .finish_selfie_attempt(scan.reference, &finish, now)
                    .await?
                {
                    return Err(refuse(CaptureRefusal::AttemptFinished));
                }
                tracing::info!(scan = %scan.reference, attempt = attempt.number, "selfie attempt needs a retry");
                return Ok(FinishedAttempt {
                    outcome,
                    attempts_left,
                    guidance,
                    redirect: None,
                });
            }
            SelfieAttempt::Final { findings, .. } => findings,
        };
        let mut findings = findings;
        findings.document_in_view = self.document_in_selfie(&analysed).await?;
        let mut comparison = analysed.findings.similarity.clone();
        if analysis.portrait.is_none() {
            // Nothing was compared (an engine may still score against no
            // template): `NOT_POSSIBLE`, never a mismatch.
            findings.similarity = None;
            comparison = None;
        }
        let decided = self
            .decide(
                &scan,
                &analysis,
                Some(SelfieInput {
                    findings,
                    comparison,
                    analysed,
                    finish,
                }),
            )
            .await?;
        if !decided {
            return Err(refuse(CaptureRefusal::AttemptFinished));
        }
        // Images were accepted for processing: the success URL, unless no
        // usable selfie came in the last attempt.
        let error_code = (outcome == AttemptOutcome::Invalid).then_some(NO_ACCEPTABLE_SCAN);
        Ok(FinishedAttempt {
            outcome,
            attempts_left,
            guidance: Vec::new(),
            redirect: Some(scan_redirect(&scan, error_code)),
        })
    }

    /// Whether the selfie's best frame or its first liveness images show an
    /// ID document (the user held the document up to the camera).
    async fn document_in_selfie(&self, analysed: &AttemptFindings) -> ServiceResult<bool> {
        let engine = self.documents()?.clone();
        let images: Vec<Arc<[u8]>> = analysed
            .face_image
            .iter()
            .chain(
                analysed
                    .liveness_images
                    .iter()
                    .take(SELFIE_DOCUMENT_LOOKS - 1),
            )
            .cloned()
            .collect();
        tokio::task::spawn_blocking(move || {
            for image in images {
                if engine.document_in_view(&image)? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("document engine: {e}")))?
        .map_err(|e: EngineError| ServiceError::Internal(e.to_string()))
    }

    /// `POST /api/capture/v1/scan/finish`: decides an ID-only scan on its
    /// document sides.
    pub async fn finish_scan(&self, capture_token: &str) -> ServiceResult<FinishedScan> {
        let (_, scan) = self.scan_context(capture_token).await?;
        self.documents()?;
        self.check_scan_open(&scan).await?;
        if scan.workflow.includes_identity() {
            return Err(refuse(CaptureRefusal::SelfieRequired));
        }
        let analysis = self.analyze_document(&scan).await?;
        if !self.decide(&scan, &analysis, None).await? {
            return Err(refuse(CaptureRefusal::TransactionFinished));
        }
        Ok(FinishedScan {
            redirect: scan_redirect(&scan, None),
        })
    }

    /// Decides `scan` and writes the verdict, the selfie's images, the
    /// extracted data, the facemap and the callback at once. `false` when
    /// the scan was decided or ended meanwhile.
    async fn decide(
        &self,
        scan: &Scan,
        analysis: &DocumentAnalysis,
        selfie: Option<SelfieInput>,
    ) -> ServiceResult<bool> {
        let now = self.clock.now();
        let comparison = selfie.as_ref().and_then(|s| s.comparison.as_ref());
        let threshold = comparison.map(|c| c.threshold);
        let same_picture_threshold = comparison.and_then(|c| c.same_picture_threshold);
        let account = self
            .store
            .account(scan.account)
            .await?
            .ok_or(ServiceError::AccountNotFound)?;
        // Without an operating point nothing is a match.
        let policy = scan_policy(
            &account,
            scan,
            threshold.unwrap_or(f32::INFINITY),
            same_picture_threshold,
        );
        let verdict = decide_scan(
            scan.workflow,
            &analysis.findings,
            selfie.as_ref().map(|s| &s.findings),
            &policy,
            now.date_naive(),
        );
        let templates = selfie
            .as_ref()
            .map(|s| s.analysed.templates.clone())
            .filter(|t| !t.is_empty());
        let model = analysis.portrait.as_ref().map(|p| p.model.clone());
        let facemap = match (verdict.issues_facemap, templates, model) {
            (true, Some(templates), Some(model)) => {
                let (sealed, binding) =
                    self.issue_facemap(&account, scan.reference, None, &model, templates)?;
                Some(IssuedFacemap { binding, sealed })
            }
            (true, _, _) => {
                tracing::warn!(scan = %scan.reference, "an approved selfie without a template: no facemap issued");
                None
            }
            _ => None,
        };
        let seal = |kind: ImageKind, n: u32, bytes: &[u8]| {
            facegate_facemap::seal_image(&self.keyring, &scan_slot(scan, kind, n), bytes)
                .map(|sealed| SealedImage { kind, n, sealed })
                .map_err(|e| ServiceError::Internal(format!("sealing a scan image: {e}")))
        };
        let mut images = Vec::new();
        if let Some(s) = &selfie {
            if let Some(face) = &s.analysed.face_image {
                images.push(seal(ImageKind::Face, 1, face)?);
            }
            for (i, jpeg) in s.analysed.liveness_images.iter().enumerate() {
                let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                images.push(seal(ImageKind::Liveness, n, jpeg)?);
            }
        }
        if let Some(data) = &verdict.document {
            let json = serde_json::to_vec(&DocumentRecord::of(data))
                .map_err(|e| ServiceError::Internal(format!("extracted data: {e}")))?;
            images.push(seal(ImageKind::Document, 1, &json)?);
        }
        let mut stored = self.store.scan_images(scan.reference).await?;
        stored.extend(images.iter().map(|i| (i.kind, i.n)));
        let outcome = ScanOutcome::of(&verdict);
        let evidence = Evidence {
            workflow: scan.workflow.id(),
            document: DocumentEvidence::of(analysis),
            policy: PolicyEvidence {
                document_types: policy.document_types.iter().map(|t| t.as_str()).collect(),
                countries: policy
                    .countries
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect(),
                accept_expired: policy.accept_expired,
                preset: policy
                    .preset
                    .map(|p| (p.document_type.as_str(), p.country.as_str().to_owned())),
                match_threshold: threshold,
                same_picture_threshold,
            },
            selfie: selfie.as_ref().map(|s| &s.finish.decision),
            document_in_selfie: selfie.as_ref().map(|s| s.findings.document_in_view),
            facemap_issued: facemap.is_some(),
        };
        let evidence = serde_json::to_string(&evidence)
            .map_err(|e| ServiceError::Internal(format!("evidence: {e}")))?;
        let callback = self.scan_renderer(now).render(
            scan,
            &outcome,
            verdict.document.as_ref(),
            &ScanImages::of(&stored),
            facemap.is_some(),
        );
        let decision = ScanDecision {
            reference: scan.reference,
            at: now,
            state: ScanState::Done,
            outcome,
            evidence: Some(evidence),
            selfie: selfie.map(|s| s.finish),
            images,
            facemap,
            callback,
        };
        let done = self.store.decide_scan(&decision).await?;
        if done {
            self.local_capture
                .forget_transaction(scan_transaction(scan.reference));
            let label = format!("status=\"{}\"", decision.outcome.status.as_str());
            self.metrics
                .increment("facegate_scans_decided_total", &label);
            self.callbacks_queued.notify_one();
            tracing::info!(scan = %scan.reference, status = decision.outcome.status.as_str(), facemap = decision.facemap.is_some(), "ID verification decided");
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;
    use facegate_domain::{AccountId, EnrollmentRef, Locale, Workflow};

    use super::*;

    #[test]
    fn scan_redirects_name_the_customer_reference_as_the_guide_shows() {
        let now = Utc::now();
        let scan = Scan {
            reference: EnrollmentRef::new_random(),
            account: AccountId::new_random(),
            state: ScanState::Pending,
            workflow: Workflow::default(),
            customer_internal_reference: Some("YOUR_REF".into()),
            user_reference: None,
            reporting_criteria: None,
            preset: None,
            callback_url: None,
            success_url: Some(RedirectUrl::from_trusted("https://acme.example/ok".into())),
            error_url: None,
            locale: Locale::DEFAULT,
            token_hash: [0; 32],
            scan_source: ScanSource::Web,
            channel: None,
            client_ip: None,
            document_type: None,
            created_at: now,
            expires_at: now,
            first_attempt_at: None,
            decided_at: None,
            deleted_at: None,
            outcome: None,
            evidence: None,
        };
        let ok = scan_redirect(&scan, None);
        assert_eq!(
            ok.url.unwrap(),
            format!(
                "https://acme.example/ok?transactionStatus=SUCCESS\
                 &customerInternalReference=YOUR_REF&transactionReference={}",
                scan.reference
            )
        );
        let failed = scan_redirect(&scan, Some(NO_ACCEPTABLE_SCAN));
        assert_eq!((failed.url, failed.success), (None, false));
    }
}
