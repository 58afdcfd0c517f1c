//! What one node keeps about capture, none of it needed for correctness:
//! the in-flight budget of frame bodies shared by all uploads, the signal
//! that a frame analysed here reached storage (a finish waiting on this
//! node wakes at once instead of at its next poll), and the document
//! analyses of scan selfie attempts started here (a finish on another node
//! analyses the document again). An attempt itself lives in storage: any
//! node takes any frame and any node finishes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, CaptureAttempt, TransactionRef};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::documents::DocumentAnalysis;
use crate::settings::CaptureSettings;

/// Document analyses kept for selfie attempts at most (the oldest go first).
const MAX_DOCUMENTS: usize = 64;

/// A document analysis kept for an attempt started on this node.
struct KeptDocument {
    transaction: TransactionRef,
    analysis: Arc<DocumentAnalysis>,
    deadline: DateTime<Utc>,
}

pub(crate) struct LocalCapture {
    /// The in-flight frame body budget, in KiB permits.
    pub(crate) frame_budget: Arc<Semaphore>,
    /// Notified whenever a frame analysed on this node is stored.
    pub(crate) frame_stored: Arc<Notify>,
    documents: Mutex<HashMap<Uuid, KeptDocument>>,
    /// Per attempt analysed here, room for its frames in the engine's
    /// queue ([`CaptureSettings::max_queued_frames`]).
    backlogs: Mutex<HashMap<Uuid, Backlog>>,
    queued_per_attempt: usize,
}

struct Backlog {
    room: Arc<Semaphore>,
    deadline: DateTime<Utc>,
}

impl LocalCapture {
    pub(crate) fn new(settings: &CaptureSettings) -> Self {
        Self {
            frame_budget: Arc::new(Semaphore::new(
                settings.max_frame_bytes_in_flight.div_ceil(1024),
            )),
            frame_stored: Arc::new(Notify::new()),
            documents: Mutex::default(),
            backlogs: Mutex::default(),
            queued_per_attempt: settings.max_queued_frames.max(1),
        }
    }

    /// The room for `attempt`'s frames in this node's engine queue.
    pub(crate) fn backlog(&self, attempt: &CaptureAttempt) -> Arc<Semaphore> {
        let mut map = self.backlogs.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(attempt.id)
            .or_insert_with(|| Backlog {
                room: Arc::new(Semaphore::new(self.queued_per_attempt)),
                deadline: attempt.finish_by(),
            })
            .room
            .clone()
    }

    fn documents(&self) -> MutexGuard<'_, HashMap<Uuid, KeptDocument>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the document analysis a selfie attempt started with, until
    /// `deadline`.
    pub(crate) fn keep_document(
        &self,
        attempt: &CaptureAttempt,
        analysis: Arc<DocumentAnalysis>,
        deadline: DateTime<Utc>,
    ) {
        let mut map = self.documents();
        if map.len() >= MAX_DOCUMENTS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, kept)| kept.deadline)
                .map(|(id, _)| *id)
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            attempt.id,
            KeptDocument {
                transaction: attempt.transaction,
                analysis,
                deadline,
            },
        );
    }

    /// The document analysis kept for `attempt` on this node, taken out.
    pub(crate) fn take_document(&self, attempt: Uuid) -> Option<Arc<DocumentAnalysis>> {
        self.documents().remove(&attempt).map(|kept| kept.analysis)
    }

    /// Drops what is kept for a transaction that is final or deleted.
    pub(crate) fn forget_transaction(&self, transaction: TransactionRef) {
        self.documents()
            .retain(|_, kept| kept.transaction != transaction);
    }

    /// Drops what is kept for attempts past their deadline; returns how
    /// many are left.
    pub(crate) fn sweep(&self, now: DateTime<Utc>) -> usize {
        self.backlogs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, backlog| backlog.deadline > now);
        let mut map = self.documents();
        map.retain(|_, kept| kept.deadline > now);
        map.len()
    }
}

/// An open attempt that may receive the frame whose body is about to be
/// read, with the part of the in-flight body budget reserved for it (held
/// until the frame's analysis is stored).
pub struct FrameTarget {
    /// The account whose image key seals the frame's analysis.
    pub(crate) account: AccountId,
    pub(crate) attempt: CaptureAttempt,
    pub(crate) budget: OwnedSemaphorePermit,
}
