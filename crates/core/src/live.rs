//! Attempts being captured in this process: each one's frame cursor and the
//! engine's analysis of its frames, and the in-flight budget of frame
//! bodies shared by all uploads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use facegate_domain::{CaptureAttempt, FrameCursor, TransactionRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::documents::DocumentAnalysis;
use crate::engine::AttemptAnalysis;
use crate::settings::CaptureSettings;

/// A live attempt: the frame cursor and the analysis running in the engine.
/// Frames are analysed in this process, so a deployment with several
/// instances routes one transaction's capture calls to one instance.
pub(crate) struct LiveAttempt {
    /// The attempt as stored when it started (live attempts are open).
    pub(crate) attempt: CaptureAttempt,
    pub(crate) cursor: Mutex<FrameCursor>,
    pub(crate) analysis: Box<dyn AttemptAnalysis>,
    /// After this the attempt can no longer receive frames; it is dropped.
    pub(crate) deadline: DateTime<Utc>,
    /// A scan's selfie attempt: the document analysis its verdict is made
    /// with (analysed when the attempt started).
    pub(crate) document: Option<Arc<DocumentAnalysis>>,
}

pub(crate) struct LiveAttempts {
    pub(crate) attempts: Mutex<HashMap<Uuid, Arc<LiveAttempt>>>,
    /// The in-flight frame body budget, in KiB permits.
    pub(crate) frame_budget: Arc<Semaphore>,
}

impl LiveAttempts {
    pub(crate) fn new(settings: &CaptureSettings) -> Self {
        Self {
            attempts: Mutex::default(),
            frame_budget: Arc::new(Semaphore::new(
                settings.max_frame_bytes_in_flight.div_ceil(1024),
            )),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<LiveAttempt>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops attempts past their deadline; returns how many are left.
    /// Dropping an attempt cancels the analysis of its queued frames.
    pub(crate) fn sweep(&self, now: DateTime<Utc>) -> usize {
        let mut map = self.lock();
        map.retain(|_, live| live.deadline > now);
        map.len()
    }

    /// Drops the live attempt of a transaction that is final or deleted.
    pub(crate) fn forget_transaction(&self, transaction: TransactionRef) {
        self.lock()
            .retain(|_, live| live.attempt.transaction != transaction);
    }
}

/// An open attempt that may receive the frame whose body is about to be
/// read, with the part of the in-flight body budget reserved for it.
pub struct FrameTarget {
    pub(crate) live: Arc<LiveAttempt>,
    pub(crate) _budget: OwnedSemaphorePermit,
}
