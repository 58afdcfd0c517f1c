//! An attempt's frames in storage (docs/capture-protocol.md §3): each
//! accepted frame's analysis is sealed under the account's image key and
//! stored as soon as the engine is done with it, and the finish concludes
//! the attempt from storage. So any node takes any frame and any node
//! finishes any attempt, and a node that stops mid-attempt costs at most
//! the analyses it had not stored: the finish then finds those frames
//! lost, and the attempt is a retry, never a decision from part of its
//! frames.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, CaptureAttempt, Findings, FrameCounts, TransactionRef};
use facegate_facemap::{ImageSlot, Keyring};
use facegate_storage::{FrameOutcome, Store, StoredFrame};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use uuid::Uuid;

use crate::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, FaceEngine, FrameAnalysis, FrameInput,
    FrameResult,
};
use crate::error::{CaptureRefusal, ServiceError, ServiceResult};

/// How long a finish waits for the analyses of its frames: far longer than
/// a frame waits for the engine's queue and is analysed, so a frame still
/// without an outcome then was lost with the node analysing it.
pub(crate) const FINISH_WAIT: StdDuration = StdDuration::from_secs(20);
/// How often a finish looks at storage for analyses stored by other nodes
/// (those of this node wake it at once).
const FINISH_POLL: StdDuration = StdDuration::from_millis(25);
/// How long a frame's upload waits for room in its attempt's queue on its
/// node before the frame is skipped.
pub(crate) const QUEUE_WAIT: StdDuration = StdDuration::from_secs(2);
/// The image slot kind frame analyses are sealed under.
const FRAME_SLOT: &str = "frame";

/// Where a frame's analysis is sealed: the account's image key, bound to
/// the transaction, the attempt and the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameSlot {
    pub(crate) account: AccountId,
    pub(crate) transaction: TransactionRef,
    pub(crate) attempt: Uuid,
}

impl FrameSlot {
    fn image_slot(&self, index: u32) -> ImageSlot<'static> {
        ImageSlot {
            account: self.account.as_uuid(),
            transaction: self.transaction.as_uuid(),
            kind: FRAME_SLOT,
            n: index,
        }
    }
}

/// What a node's frame work needs: the engine, storage, the keys, and the
/// signal that an analysis done here was stored.
#[derive(Clone)]
pub(crate) struct Frames {
    pub(crate) engine: Arc<dyn FaceEngine>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keyring: Arc<Keyring>,
    /// Notified whenever a frame analysed on this node is stored.
    pub(crate) stored: Arc<Notify>,
}

impl Frames {
    /// Analyses an accepted frame and stores its outcome. Failures are
    /// logged: the finish then finds the frame failed or lost.
    pub(crate) async fn analyse(
        self,
        slot: FrameSlot,
        queued: Option<OwnedSemaphorePermit>,
        model: &str,
        index: u32,
        t_ms: u32,
        jpeg: Vec<u8>,
    ) {
        let jpeg: Arc<[u8]> = jpeg.into();
        let frame = FrameInput {
            index,
            t_ms,
            jpeg: jpeg.clone(),
        };
        // Without room in the attempt's queue the frame is skipped.
        let outcome = match queued {
            Some(_queued) => self.analysed(&slot, model, frame, &jpeg).await,
            None => FrameOutcome::Skipped,
        };
        match self.store.record_frame(slot.attempt, index, &outcome).await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "a frame's analysis was not stored"),
        }
        self.stored.notify_waiters();
    }

    /// The engine's analysis of a frame, sealed.
    async fn analysed(
        &self,
        slot: &FrameSlot,
        model: &str,
        frame: FrameInput,
        jpeg: &[u8],
    ) -> FrameOutcome {
        let index = frame.index;
        match self.engine.analyse_frame(model, frame).await {
            Ok(FrameAnalysis::Analysed {
                features,
                keep_jpeg,
            }) => {
                let payload = encode_payload(&features, keep_jpeg.then_some(jpeg));
                match facegate_facemap::seal_image(&self.keyring, &slot.image_slot(index), &payload)
                {
                    Ok(sealed) => FrameOutcome::Analysed { sealed },
                    Err(e) => {
                        tracing::error!(error = %e, "sealing a frame's analysis failed");
                        FrameOutcome::Failed
                    }
                }
            }
            Ok(FrameAnalysis::Undecodable) => FrameOutcome::Undecodable,
            Err(e) => {
                tracing::error!(error = %e, "the face engine failed on a frame");
                FrameOutcome::Failed
            }
        }
    }
}

/// A frame's stored payload: the features' length (4 bytes, big-endian),
/// the features, then the kept JPEG, if any.
fn encode_payload(features: &[u8], jpeg: Option<&[u8]>) -> Vec<u8> {
    let jpeg = jpeg.unwrap_or_default();
    let mut out = Vec::with_capacity(4 + features.len() + jpeg.len());
    out.extend_from_slice(
        &u32::try_from(features.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(features);
    out.extend_from_slice(jpeg);
    out
}

/// Reads back what [`encode_payload`] wrote; `None` when it is not that.
fn decode_payload(payload: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (len, rest) = payload.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    let features = rest.get(..len)?;
    let jpeg = rest.get(len..)?;
    Some((features, (!jpeg.is_empty()).then_some(jpeg)))
}

impl Frames {
    /// Closes `attempt` to further frames, waits for the analyses of every
    /// frame it accepted, and concludes it in the engine. Frames still
    /// without an analysis after [`FINISH_WAIT`] are lost: the findings
    /// are then [`Findings::frames_lost`], nothing is concluded from the
    /// others.
    pub(crate) async fn conclude_attempt(
        &self,
        attempt: &CaptureAttempt,
        account: AccountId,
        context: AttemptContext,
        now: DateTime<Utc>,
    ) -> ServiceResult<AttemptFindings> {
        self.store
            .close_attempt(attempt.id, now)
            .await?
            .filter(|a| a.state == facegate_domain::AttemptState::Open)
            .ok_or(ServiceError::Capture(CaptureRefusal::AttemptFinished))?;
        self.wait_for_frames(attempt.id).await?;
        let frames = self.store.attempt_frames(attempt.id).await?;
        let slot = FrameSlot {
            account,
            transaction: attempt.transaction,
            attempt: attempt.id,
        };
        let lost = frames.iter().filter(|f| f.outcome.is_none()).count();
        if lost > 0 {
            tracing::warn!(attempt = %attempt.id, lost, "frames lost before their analysis was stored");
            return Ok(AttemptFindings {
                findings: Findings::frames_lost(FrameCounts {
                    received: frames.len(),
                    lost,
                    ..FrameCounts::default()
                }),
                face_image: None,
                liveness_images: Vec::new(),
                templates: Vec::new(),
            });
        }
        let analysed = frames
            .into_iter()
            .map(|frame| self.open_frame(&slot, frame))
            .collect::<ServiceResult<Vec<_>>>()?;
        self.engine
            .conclude(context, analysed)
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Erases the frames of `attempt` if it has ended, in a task of its own:
    /// the caller answers meanwhile. What a failure leaves behind, the
    /// retention sweep erases.
    pub(crate) fn erase_ended(&self, attempt: Uuid) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.erase_frames(attempt).await {
                tracing::warn!(error = %e, %attempt, "an ended attempt's frames wait for the retention sweep");
            }
        });
    }

    /// Waits until every accepted frame of the attempt has an outcome, or
    /// [`FINISH_WAIT`] passed.
    async fn wait_for_frames(&self, attempt: Uuid) -> ServiceResult<()> {
        let started = tokio::time::Instant::now();
        loop {
            // Registered before looking, so a store in between still wakes.
            let stored = self.stored.notified();
            tokio::pin!(stored);
            stored.as_mut().enable();
            let progress = self.store.frame_progress(attempt).await?;
            if progress.done >= progress.accepted || started.elapsed() >= FINISH_WAIT {
                return Ok(());
            }
            let _ = tokio::time::timeout(FINISH_POLL, stored).await;
        }
    }

    /// A stored frame as the engine concludes from it.
    fn open_frame(&self, slot: &FrameSlot, frame: StoredFrame) -> ServiceResult<AnalysedFrame> {
        let corrupt = || ServiceError::Internal("a stored frame analysis does not open".into());
        let result = match frame.outcome {
            Some(FrameOutcome::Analysed { sealed }) => {
                let payload = facegate_facemap::open_image(
                    &self.keyring,
                    &slot.image_slot(frame.index),
                    &sealed,
                )
                .map_err(|_| corrupt())?;
                let (features, jpeg) = decode_payload(&payload).ok_or_else(corrupt)?;
                FrameResult::Analysed {
                    features: features.to_vec(),
                    jpeg: jpeg.map(Arc::from),
                }
            }
            Some(FrameOutcome::Undecodable) => FrameResult::Undecodable,
            Some(FrameOutcome::Skipped) => FrameResult::Skipped,
            Some(FrameOutcome::Failed) => {
                return Err(ServiceError::Internal(
                    "the face engine failed on a frame".into(),
                ))
            }
            None => return Err(corrupt()),
        };
        Ok(AnalysedFrame {
            index: frame.index,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn payloads_read_back_as_written(
            features in proptest::collection::vec(any::<u8>(), 0..64),
            jpeg in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..64)),
        ) {
            let payload = encode_payload(&features, jpeg.as_deref());
            let (f, j) = decode_payload(&payload).unwrap();
            prop_assert_eq!(f, features.as_slice());
            prop_assert_eq!(j, jpeg.as_deref());
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some((f, j)) = decode_payload(&bytes) {
                prop_assert!(4 + f.len() + j.map_or(0, <[u8]>::len) == bytes.len());
            }
        }
    }
}
