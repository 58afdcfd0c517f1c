//! The end user's capture (docs/capture-protocol.md): the authorization token
//! is exchanged for a short-lived capture session; each attempt gets a random
//! challenge and a nonce, accepts a bounded, timed sequence of frames that the
//! face engine analyses as they arrive, and ends in a decision. The client
//! never holds an API secret and never sees a score.

use std::net::IpAddr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{
    decide_attempt, AttemptOutcome, AttemptState, AuthTransaction, CaptureAttempt, CaptureSession,
    CaptureSubject, Challenge, Country, DocumentSide, DocumentType, FrameCursor, FrameRefusal,
    Guidance, Preset, RedirectUrl, ScanSource, TransactionRef, TransactionState, Workflow,
    MAX_ATTEMPTS,
};
use facegate_facemap::ImageSlot;
use facegate_storage::{AttemptFinish, ImageKind, SealedImage};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::documents::{DocumentAnalysis, DocumentEngine};
use crate::engine::{AttemptContext, AttemptFindings, ComparisonTarget, FaceEngine};
use crate::error::{CaptureRefusal, ServiceError, ServiceResult};
use crate::frames::{FrameSlot, Frames, QUEUE_WAIT};
use crate::local::FrameTarget;
use crate::Services;

/// A session just opened.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub capture_token: String,
    pub view: SessionView,
}

/// What a client may know about its session.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub expires_at: DateTime<Utc>,
    pub transaction: TransactionRef,
    /// An authentication's state, or an ID verification's (`PENDING`,
    /// `DONE`, `FAILED`).
    pub transaction_state: &'static str,
    pub locale: String,
    pub attempts_used: u8,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    /// The account's `parentOrigin`: the only window the framed client
    /// posts its result to; `None` posts to any parent.
    pub parent_origin: Option<String>,
    /// What an ID verification's capture needs; `None` for an
    /// authentication.
    pub scan: Option<ScanCaptureView>,
}

/// What an ID verification's capture needs, as its client may know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCaptureView {
    pub workflow: Workflow,
    /// The initiation's `customerInternalReference` (the client hands it
    /// back in its redirects and messages, as the v4 guide shows).
    pub customer_internal_reference: Option<String>,
    /// The document types and issuing countries the account accepts (empty:
    /// all), so that the client offers only those.
    pub accepted_types: Vec<DocumentType>,
    pub accepted_countries: Vec<Country>,
    pub preset: Option<Preset>,
    /// The document type the user shows (the preset's, or named with the
    /// front); `None` until known.
    pub document_type: Option<DocumentType>,
    /// The sides the scan needs, and those given so far.
    pub sides_needed: Vec<DocumentSide>,
    pub sides_given: Vec<DocumentSide>,
    /// Whether a selfie (liveness attempt) follows the document.
    pub selfie: bool,
}

/// What a capture session captures for, as stored now.
enum Subject {
    Authentication(AuthTransaction),
    Scan(facegate_domain::Scan),
}

impl Subject {
    /// The account whose image key seals the attempt's frames.
    fn account(&self) -> facegate_domain::AccountId {
        match self {
            Subject::Authentication(tx) => tx.account,
            Subject::Scan(scan) => scan.account,
        }
    }
}

/// What an attempt's frames are analysed for.
pub(crate) struct AttemptTarget {
    /// The model of the templates the selfie is compared with.
    pub(crate) model: String,
    /// A scan's document analysis, kept on this node for the verdict (a
    /// finish on another node analyses the document again).
    pub(crate) document: Option<Arc<DocumentAnalysis>>,
}

/// Compare-and-set rounds a frame's acceptance tries before it gives up
/// (each lost round means another frame of the attempt was accepted).
const ACCEPT_TRIES: u32 = 4;

fn frame_refusal(r: FrameRefusal) -> ServiceError {
    refuse(match r {
        FrameRefusal::AttemptFinished => CaptureRefusal::AttemptFinished,
        FrameRefusal::OutOfWindow => CaptureRefusal::FrameOutOfWindow,
        FrameRefusal::OutOfOrder => CaptureRefusal::FrameOutOfOrder,
        FrameRefusal::Limit => CaptureRefusal::FrameLimit,
        FrameRefusal::TooFast => CaptureRefusal::FrameTooFast,
    })
}

/// An attempt just started.
#[derive(Debug, Clone)]
pub struct StartedAttempt {
    pub attempt: CaptureAttempt,
    pub attempts_left: u8,
}

/// Where the client goes once the transaction is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// `None` when the transaction has no such URL.
    pub url: Option<String>,
    pub success: bool,
    pub error_code: Option<u16>,
}

/// The answer to a finished attempt.
#[derive(Debug, Clone)]
pub struct FinishedAttempt {
    pub outcome: AttemptOutcome,
    pub attempts_left: u8,
    pub guidance: Vec<Guidance>,
    pub redirect: Option<Redirect>,
}

/// The error code the web client reports when no capture was usable
/// (`netverify-authentication.md`).
pub const NO_ACCEPTABLE_CAPTURE: u16 = 9836;

/// The same for ID verification: `netverify-web-v4.md` documents 9835
/// ("No acceptable submission in 3 attempts") where authentication has 9836.
pub const NO_ACCEPTABLE_SCAN: u16 = 9835;

pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn refuse(r: CaptureRefusal) -> ServiceError {
    ServiceError::Capture(r)
}

/// Appends the web client's result parameters to a customer URL.
pub fn redirect_url(base: &RedirectUrl, tx: TransactionRef, error_code: Option<u16>) -> String {
    let Ok(mut url) = url::Url::parse(base.as_str()) else {
        // Stored URLs were parsed on the way in; keep the original if not.
        return base.as_str().to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair(
            "transactionStatus",
            if error_code.is_some() {
                "ERROR"
            } else {
                "SUCCESS"
            },
        );
        query.append_pair("transactionReference", &tx.to_string());
        if let Some(code) = error_code {
            query.append_pair("errorCode", &code.to_string());
        }
    }
    url.into()
}

/// The capture protocol (docs/capture-protocol.md): the services with a
/// face engine. Without an engine there is no capture service, so an
/// attempt cannot start without one.
pub struct CaptureService {
    services: Arc<Services>,
    engine: Arc<dyn FaceEngine>,
    /// Analyses ID documents; without one, ID verification capture is
    /// refused (`DOCUMENT_ENGINE_UNAVAILABLE`).
    pub(crate) documents: Option<Arc<dyn DocumentEngine>>,
}

/// The capture service reads and writes through the services it extends.
impl std::ops::Deref for CaptureService {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl CaptureService {
    pub fn new(services: Arc<Services>, engine: Arc<dyn FaceEngine>) -> Self {
        Self {
            services,
            engine,
            documents: None,
        }
    }

    /// The same capture service, analysing ID documents with `documents`.
    pub fn with_documents(mut self, documents: Option<Arc<dyn DocumentEngine>>) -> Self {
        self.documents = documents;
        self
    }

    /// The services this capture service extends.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The face engine analysing the attempts.
    pub fn engine(&self) -> &Arc<dyn FaceEngine> {
        &self.engine
    }

    /// What this node's frame work needs.
    pub(crate) fn frames(&self) -> Frames {
        Frames {
            engine: self.engine.clone(),
            store: self.store.clone(),
            keyring: self.keyring.clone(),
            stored: self.local_capture.frame_stored.clone(),
        }
    }

    /// Finalises an overdue transaction and reports what a capture call
    /// should answer for a transaction that is no longer open.
    async fn check_open(&self, tx: &AuthTransaction) -> ServiceResult<()> {
        if tx.is_overdue(self.clock.now()) {
            self.finalize(tx.reference, TransactionState::Expired)
                .await?;
            return Err(refuse(CaptureRefusal::TransactionExpired));
        }
        match tx.state {
            TransactionState::Created | TransactionState::Started => Ok(()),
            TransactionState::Expired => Err(refuse(CaptureRefusal::TransactionExpired)),
            _ => Err(refuse(CaptureRefusal::TransactionFinished)),
        }
    }

    /// `POST /api/capture/v1/session`: exchanges the authorization token of
    /// `redirectUrl` for a capture token. `client` is the user's address,
    /// which an ID verification keeps as its `clientIp`.
    pub async fn open_capture_session(
        &self,
        authorization_token: &str,
        scan_source: ScanSource,
        client: Option<IpAddr>,
    ) -> ServiceResult<OpenedSession> {
        let hash = token_hash(authorization_token);
        let Some(tx) = self
            .store
            .transaction_by_token_hash(&hash)
            .await?
            .filter(|t| t.deleted_at.is_none())
        else {
            let scan = self
                .store
                .scan_by_token_hash(&hash)
                .await?
                .ok_or(refuse(CaptureRefusal::AuthorizationTokenInvalid))?;
            return self.open_scan_session(scan, scan_source, client).await;
        };
        self.check_open(&tx).await?;
        self.check_facemap_still_valid(&tx).await?;
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let capture_token = URL_SAFE_NO_PAD.encode(raw);
        let session = CaptureSession::new(
            token_hash(&capture_token),
            tx.reference,
            self.clock.now(),
            tx.expires_at,
        )
        .with_scan_source(scan_source);
        if !self.store.open_capture_session(&session).await? {
            // Finalised between the read and the write.
            let now = self.store.transaction(tx.reference).await?;
            return Err(match now.map(|t| t.state) {
                Some(TransactionState::Expired) => refuse(CaptureRefusal::TransactionExpired),
                _ => refuse(CaptureRefusal::TransactionFinished),
            });
        }
        tracing::info!(transaction = %tx.reference, "capture session opened");
        let view = self.session_view(&session, &tx).await?;
        Ok(OpenedSession {
            capture_token,
            view: SessionView {
                transaction_state: TransactionState::Started.as_str(),
                ..view
            },
        })
    }

    async fn session_view(
        &self,
        session: &CaptureSession,
        tx: &AuthTransaction,
    ) -> ServiceResult<SessionView> {
        Ok(SessionView {
            expires_at: session.expires_at,
            transaction: tx.reference,
            transaction_state: tx.state.as_str(),
            locale: tx.locale.as_str().to_owned(),
            attempts_used: self.store.attempts_used(tx.reference).await?,
            success_url: tx.success_url.as_ref().map(|u| u.as_str().to_owned()),
            error_url: tx.error_url.as_ref().map(|u| u.as_str().to_owned()),
            parent_origin: self
                .store
                .account(tx.account)
                .await?
                .and_then(|a| a.parent_origin)
                .map(|o| o.as_str().to_owned()),
            scan: None,
        })
    }

    /// The usable session of a capture token, whatever it captures for.
    pub(crate) async fn usable_session(
        &self,
        capture_token: &str,
    ) -> ServiceResult<CaptureSession> {
        let session = self
            .store
            .capture_session(&token_hash(capture_token))
            .await?
            .filter(|s| s.ended_at.is_none())
            .ok_or(refuse(CaptureRefusal::SessionInvalid))?;
        if !session.is_usable(self.clock.now()) {
            return Err(refuse(CaptureRefusal::SessionExpired));
        }
        Ok(session)
    }

    /// The session of a capture token and its transaction, or why not.
    async fn capture_context(
        &self,
        capture_token: &str,
    ) -> ServiceResult<(CaptureSession, AuthTransaction)> {
        let session = self.usable_session(capture_token).await?;
        let tx = self
            .store
            .transaction(session.transaction)
            .await?
            .ok_or(refuse(CaptureRefusal::SessionInvalid))?;
        Ok((session, tx))
    }

    /// `GET /api/capture/v1/session`.
    pub async fn capture_status(&self, capture_token: &str) -> ServiceResult<SessionView> {
        let session = self.usable_session(capture_token).await?;
        if session.subject == CaptureSubject::Scan {
            return self.scan_status(&session).await;
        }
        let (session, tx) = self.capture_context(capture_token).await?;
        let tx = if tx.is_overdue(self.clock.now()) {
            self.finalize(tx.reference, TransactionState::Expired)
                .await?;
            self.store
                .transaction(tx.reference)
                .await?
                .ok_or(refuse(CaptureRefusal::SessionInvalid))?
        } else {
            tx
        };
        self.session_view(&session, &tx).await
    }

    /// The facemap an open transaction was initiated with, opened.
    fn open_transaction_facemap(
        &self,
        tx: &AuthTransaction,
    ) -> ServiceResult<facegate_facemap::FacemapContents> {
        let sealed = tx
            .facemap
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("an open transaction has no facemap".into()))?;
        facegate_facemap::open(&self.keyring, sealed, tx.account.as_uuid())
            .map_err(|e| self.transaction_facemap_error(e))
    }

    /// `POST /api/capture/v1/attempts`.
    pub async fn start_attempt(
        &self,
        capture_token: &str,
        flash: bool,
    ) -> ServiceResult<StartedAttempt> {
        let session = self.usable_session(capture_token).await?;
        if session.subject == CaptureSubject::Scan {
            return self.start_selfie_attempt(&session, flash).await;
        }
        let (_, tx) = self.capture_context(capture_token).await?;
        self.check_open(&tx).await?;
        self.check_facemap_still_valid(&tx).await?;
        let used = self.store.attempts_used(tx.reference).await?;
        if used >= MAX_ATTEMPTS {
            return Err(refuse(CaptureRefusal::AttemptsExhausted));
        }
        let contents = self.open_transaction_facemap(&tx)?;
        self.begin_attempt(
            tx.reference,
            used,
            flash,
            AttemptTarget {
                model: contents.model,
                document: None,
            },
        )
        .await
    }

    /// Starts attempt `used + 1` of `transaction` (an authentication's or a
    /// scan's): checks the engine, draws the challenge and the nonce,
    /// and records the attempt (abandoning an open one).
    pub(crate) async fn begin_attempt(
        &self,
        transaction: TransactionRef,
        used: u8,
        flash: bool,
        target: AttemptTarget,
    ) -> ServiceResult<StartedAttempt> {
        let engine = &self.engine;
        if !engine.supports_model(&target.model) {
            return Err(ServiceError::Internal(format!(
                "the face engine cannot compare model {}",
                target.model
            )));
        }
        // Loading the models (the first attempt) blocks: off the async
        // workers, and before an attempt is used up by a broken installation.
        let ready = engine.clone();
        tokio::task::spawn_blocking(move || ready.ready())
            .await
            .map_err(|e| ServiceError::Internal(format!("face engine start-up: {e}")))?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let challenge = match &self.settings.capture.fixed_challenge {
            Some(fixed) => {
                let mut c = fixed.clone();
                if !flash {
                    c.flashes.clear();
                }
                c
            }
            None => Challenge::random(&mut OsRng, flash),
        };
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let now = self.clock.now();
        let attempt = CaptureAttempt {
            id: Uuid::new_v4(),
            transaction,
            number: used + 1,
            nonce,
            challenge: challenge.clone(),
            flash: flash && !challenge.flashes.is_empty(),
            issued_at: now,
            state: AttemptState::Open,
            outcome: None,
            finished_at: None,
            model: target.model,
            cursor: FrameCursor::default(),
            closed_at: None,
        };
        self.store.insert_attempt(&attempt).await?;
        if let Some(document) = target.document {
            self.local_capture
                .keep_document(&attempt, document, attempt.finish_by());
        }
        tracing::info!(transaction = %transaction, attempt = attempt.number, "capture attempt started");
        Ok(StartedAttempt {
            attempts_left: MAX_ATTEMPTS - attempt.number,
            attempt,
        })
    }

    /// The attempt `attempt_id` of the capture token's transaction (an
    /// authentication's or a scan's), open and addressed with its own
    /// nonce, read from storage (any node serves any attempt).
    async fn open_attempt(
        &self,
        capture_token: &str,
        attempt_id: &str,
        nonce: &str,
    ) -> ServiceResult<(Subject, CaptureAttempt)> {
        let session = self.usable_session(capture_token).await?;
        let id = Uuid::try_parse(attempt_id)
            .ok()
            .ok_or(refuse(CaptureRefusal::AttemptNotFound))?;
        let attempt = self
            .store
            .attempt(id)
            .await?
            .filter(|a| a.transaction == session.transaction)
            .ok_or(refuse(CaptureRefusal::AttemptNotFound))?;
        let nonce: [u8; 16] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(refuse(CaptureRefusal::NonceMismatch))?;
        if nonce != attempt.nonce {
            let burnt = self
                .store
                .attempt_by_nonce(&nonce)
                .await?
                .is_some_and(|a| a.state == AttemptState::Finished);
            return Err(refuse(if burnt {
                CaptureRefusal::NonceReplayed
            } else {
                CaptureRefusal::NonceMismatch
            }));
        }
        match attempt.state {
            AttemptState::Finished => return Err(refuse(CaptureRefusal::NonceReplayed)),
            AttemptState::Abandoned => return Err(refuse(CaptureRefusal::AttemptFinished)),
            AttemptState::Open => {}
        }
        let subject = match session.subject {
            CaptureSubject::Authentication => {
                let tx = self
                    .store
                    .transaction(session.transaction)
                    .await?
                    .ok_or(refuse(CaptureRefusal::SessionInvalid))?;
                if tx.state.is_final() || tx.is_overdue(self.clock.now()) {
                    self.check_open(&tx).await?;
                    return Err(refuse(CaptureRefusal::AttemptFinished));
                }
                Subject::Authentication(tx)
            }
            CaptureSubject::Scan => {
                let scan = self.session_scan(&session).await?;
                self.check_scan_open(&scan).await?;
                Subject::Scan(scan)
            }
        };
        if self.clock.now() > attempt.finish_by() {
            return Err(refuse(CaptureRefusal::AttemptFinished));
        }
        Ok((subject, attempt))
    }

    /// `POST /api/capture/v1/attempts/{id}/frames`, before its body is
    /// read: the capture token, the attempt and its nonce are checked, and
    /// `body_bytes` (the declared length, else the frame limit) is reserved
    /// in the in-flight body budget. A client without a valid attempt thus
    /// never gets its body buffered, and all uploads together hold at most
    /// `capture.max_frame_bytes_in_flight`.
    pub async fn frame_target(
        &self,
        capture_token: &str,
        attempt_id: &str,
        nonce: &str,
        body_bytes: usize,
    ) -> ServiceResult<FrameTarget> {
        let (subject, attempt) = self.open_attempt(capture_token, attempt_id, nonce).await?;
        let kib = body_bytes
            .min(self.settings.capture.max_frame_bytes)
            .div_ceil(1024)
            .max(1);
        let budget = self
            .local_capture
            .frame_budget
            .clone()
            .try_acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX))
            .map_err(|_| {
                self.metrics
                    .increment("facegate_capture_frames_refused_total", "reason=\"busy\"");
                ServiceError::Busy {
                    retry_after_secs: 1,
                }
            })?;
        Ok(FrameTarget {
            account: subject.account(),
            attempt,
            budget,
        })
    }

    /// `POST /api/capture/v1/attempts/{id}/frames`, once its body is read:
    /// the frame is accepted in storage (the attempt's cursor advances by
    /// compare-and-set, so frames of one attempt may come to any node), and
    /// answered; its analysis runs in the background and is stored sealed
    /// as soon as it is done. The body budget is held until then.
    pub async fn upload_frame(
        &self,
        target: FrameTarget,
        index: u32,
        t_ms: u32,
        jpeg: Vec<u8>,
    ) -> ServiceResult<()> {
        self.check_frame_image(&jpeg)?;
        let now = self.clock.now();
        let FrameTarget {
            account,
            mut attempt,
            budget,
        } = target;
        let mut tries = 0;
        loop {
            let mut cursor = attempt.cursor;
            attempt
                .accept_frame(&mut cursor, index, t_ms, now)
                .map_err(frame_refusal)?;
            if self
                .store
                .accept_frame(attempt.id, &attempt.cursor, &cursor, index, now)
                .await?
            {
                break;
            }
            // Another node moved the attempt meanwhile: judge the frame
            // again against the attempt as it is now.
            tries += 1;
            attempt = self
                .store
                .attempt(attempt.id)
                .await?
                .ok_or(refuse(CaptureRefusal::AttemptNotFound))?;
            if tries >= ACCEPT_TRIES {
                return Err(refuse(CaptureRefusal::FrameOutOfOrder));
            }
        }
        let slot = FrameSlot {
            account,
            transaction: attempt.transaction,
            attempt: attempt.id,
        };
        // The upload waits for room in its attempt's queue (so a client
        // cannot send faster than its frames are analysed), but not for
        // the analysis itself.
        let backlog = self.local_capture.backlog(&attempt);
        let queued = tokio::time::timeout(QUEUE_WAIT, backlog.acquire_owned())
            .await
            .ok()
            .and_then(Result::ok);
        let (frames, model) = (self.frames(), attempt.model);
        tokio::spawn(async move {
            let _budget = budget;
            frames
                .analyse(slot, queued, &model, index, t_ms, jpeg)
                .await;
        });
        Ok(())
    }

    /// A frame must be a JPEG within the size limits, its size read by the
    /// decoder's own header parse (the one the engine decodes with, under the
    /// same limits); a frame that turns out corrupt in the engine counts as
    /// a frame without a face.
    fn check_frame_image(&self, jpeg: &[u8]) -> ServiceResult<()> {
        let limits = &self.settings.capture;
        if jpeg.len() > limits.max_frame_bytes {
            return Err(refuse(CaptureRefusal::FrameTooLarge));
        }
        let (w, h) = facegate_vision::decode::jpeg_dimensions(jpeg).ok_or_else(|| {
            refuse(CaptureRefusal::FrameInvalid(
                "the frame is not a baseline or progressive JPEG",
            ))
        })?;
        if w == 0 || h == 0 || w > limits.max_frame_side || h > limits.max_frame_side {
            return Err(refuse(CaptureRefusal::FrameInvalid(
                "the frame's dimensions are out of bounds",
            )));
        }
        Ok(())
    }

    /// `POST /api/capture/v1/attempts/{id}/finish`.
    pub async fn finish_attempt(
        &self,
        capture_token: &str,
        attempt_id: &str,
        nonce: &str,
    ) -> ServiceResult<FinishedAttempt> {
        let (subject, attempt) = self.open_attempt(capture_token, attempt_id, nonce).await?;
        let id = attempt.id;
        let finished = match subject {
            Subject::Authentication(tx) => self.finish_authentication_attempt(tx, &attempt).await,
            Subject::Scan(scan) => self.finish_selfie_attempt(scan, attempt).await,
        };
        // Once the decision is stored (or the attempt was ended anyway): the
        // frames go in a database transaction of their own, after the answer.
        self.frames().erase_ended(id);
        finished
    }

    async fn finish_authentication_attempt(
        &self,
        tx: AuthTransaction,
        attempt: &CaptureAttempt,
    ) -> ServiceResult<FinishedAttempt> {
        let contents = self.open_transaction_facemap(&tx)?;
        let analysed = self
            .frames()
            .conclude_attempt(
                attempt,
                tx.account,
                AttemptContext {
                    challenge: attempt.challenge.clone(),
                    flash: attempt.flash,
                    model: contents.model,
                    templates: contents.templates,
                    target: ComparisonTarget::Facemap,
                },
                self.clock.now(),
            )
            .await?;
        self.check_facemap_still_valid(&tx).await?;
        let AttemptFindings {
            findings,
            face_image,
            liveness_images,
            ..
        } = analysed;
        let decided = decide_attempt(findings, attempt.number, attempt.flash);
        let outcome = decided.outcome;
        let label = format!("outcome=\"{}\"", outcome.as_str());
        self.metrics
            .increment("facegate_capture_attempts_total", &label);
        let now = self.clock.now();
        let images = if outcome.final_state().is_some() {
            self.seal_images(&tx, face_image.as_deref(), &liveness_images)?
        } else {
            Vec::new()
        };
        let finish = AttemptFinish {
            attempt: attempt.id,
            transaction: tx.reference,
            outcome,
            decision: decided.record,
            at: now,
            images,
        };
        let Some(updated) = self
            .store
            .finish_attempt(&finish, &self.renderer(now))
            .await?
        else {
            return Err(refuse(CaptureRefusal::AttemptFinished));
        };
        if let Some(state) = outcome.final_state() {
            let label = format!("state=\"{}\"", state.as_str());
            self.metrics
                .increment("facegate_transactions_finalised_total", &label);
            self.callbacks_queued.notify_one();
            tracing::info!(transaction = %tx.reference, state = state.as_str(), attempt = attempt.number, "authentication decided");
        } else {
            tracing::info!(transaction = %tx.reference, attempt = attempt.number, "capture attempt needs a retry");
        }
        let redirect = outcome.final_state().map(|state| {
            let error_code = (state == TransactionState::Invalid).then_some(NO_ACCEPTABLE_CAPTURE);
            let base = if error_code.is_some() {
                updated.error_url.as_ref()
            } else {
                updated.success_url.as_ref()
            };
            Redirect {
                url: base.map(|b| redirect_url(b, tx.reference, error_code)),
                success: error_code.is_none(),
                error_code,
            }
        });
        Ok(FinishedAttempt {
            outcome,
            attempts_left: MAX_ATTEMPTS - attempt.number,
            guidance: decided.guidance,
            redirect,
        })
    }

    fn seal_images(
        &self,
        tx: &AuthTransaction,
        face_image: Option<&[u8]>,
        liveness_images: &[Arc<[u8]>],
    ) -> ServiceResult<Vec<SealedImage>> {
        let seal = |kind: ImageKind, n: u32, jpeg: &[u8]| {
            let slot = ImageSlot {
                account: tx.account.as_uuid(),
                transaction: tx.reference.as_uuid(),
                kind: kind.as_str(),
                n,
            };
            facegate_facemap::seal_image(&self.keyring, &slot, jpeg)
                .map(|sealed| SealedImage { kind, n, sealed })
                .map_err(|e| ServiceError::Internal(format!("sealing an image: {e}")))
        };
        let mut images = Vec::new();
        if let Some(face) = face_image {
            images.push(seal(ImageKind::Face, 1, face)?);
        }
        for (i, jpeg) in liveness_images.iter().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            images.push(seal(ImageKind::Liveness, n, jpeg)?);
        }
        Ok(images)
    }
}

impl Services {
    /// An image of one of the caller's transactions, decrypted (admin).
    pub async fn transaction_image(
        &self,
        caller: &crate::Caller,
        reference: TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Option<Vec<u8>>> {
        let tx = self.retrieve_transaction(caller, reference).await?;
        self.open_transaction_image(&tx, kind, n).await
    }

    /// A stored image of `tx`, decrypted.
    pub(crate) async fn open_transaction_image(
        &self,
        tx: &AuthTransaction,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Option<Vec<u8>>> {
        let Some(sealed) = self.store.image(tx.reference, kind, n).await? else {
            return Ok(None);
        };
        let slot = ImageSlot {
            account: tx.account.as_uuid(),
            transaction: tx.reference.as_uuid(),
            kind: kind.as_str(),
            n,
        };
        facegate_facemap::open_image(&self.keyring, &slot, &sealed)
            .map(Some)
            .map_err(|e| self.image_error(e))
    }

    /// Erases images past their retention, the frames of attempts left
    /// open past any deadline and those of ended attempts that a stopped
    /// node did not erase after their finish, and forgets what this node
    /// kept for attempts past theirs; returns how many images were erased.
    pub async fn enforce_retention(&self) -> ServiceResult<u64> {
        let now = self.clock.now();
        self.local_capture.sweep(now);
        // Longer than any attempt's finish_by (a challenge lasts seconds).
        let stale = now - Duration::minutes(facegate_domain::capture::CAPTURE_SESSION_MINUTES);
        self.store.purge_stale_frames(stale).await?;
        Ok(self
            .store
            .purge_images(now - self.settings.capture.image_retention)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redirects_keep_the_customer_query_and_add_the_result() {
        let base = RedirectUrl::from_trusted("https://acme.example/done?session=7".into());
        let tx = TransactionRef::new_random();
        let ok = redirect_url(&base, tx, None);
        assert_eq!(
            ok,
            format!("https://acme.example/done?session=7&transactionStatus=SUCCESS&transactionReference={tx}")
        );
        let err = redirect_url(&base, tx, Some(9836));
        assert!(err.ends_with(&format!(
            "transactionStatus=ERROR&transactionReference={tx}&errorCode=9836"
        )));
    }
}
