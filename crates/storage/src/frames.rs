//! The frames an open capture attempt accepted, with their analyses
//! (docs/capture-protocol.md §7): the attempt's frame cursor advances by
//! compare-and-set, so any node takes any frame, and each analysis is
//! stored as it is done, so any node finishes the attempt. An attempt's
//! frames are erased when it finishes or is abandoned, and with its
//! transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{CaptureAttempt, FrameCursor};
use uuid::Uuid;

use crate::StoreResult;

/// What became of an accepted frame's analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameOutcome {
    /// The engine's features (and the JPEG when kept), sealed by the
    /// capture service under the account's image key.
    Analysed {
        sealed: Vec<u8>,
    },
    Undecodable,
    Skipped,
    /// The engine failed on it (a broken installation).
    Failed,
}

impl FrameOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Analysed { .. } => "ANALYSED",
            Self::Undecodable => "UNDECODABLE",
            Self::Skipped => "SKIPPED",
            Self::Failed => "FAILED",
        }
    }
}

/// A frame an attempt accepted, with its analysis once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    pub index: u32,
    pub accepted_at: DateTime<Utc>,
    /// `None` while its analysis runs (or when the node running it stopped).
    pub outcome: Option<FrameOutcome>,
}

/// How far the analysis of a closed attempt's frames is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameProgress {
    pub accepted: u32,
    /// Frames whose outcome is stored.
    pub done: u32,
}

/// The frames of open attempts.
#[async_trait]
pub trait FrameStore: Send + Sync {
    /// Advances an open attempt's frame cursor from `from` (as read) to
    /// `to` and records frame `index` as accepted, unless the attempt moved
    /// meanwhile (another frame took the index, a finish closed it, it
    /// ended): then returns false, writing nothing. The compare-and-set on
    /// the cursor is what lets any node take any frame.
    async fn accept_frame(
        &self,
        attempt: Uuid,
        from: &FrameCursor,
        to: &FrameCursor,
        index: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Stores the analysis of an accepted frame (the first one stored wins);
    /// false when the frame is no longer there (its attempt ended).
    async fn record_frame(
        &self,
        attempt: Uuid,
        index: u32,
        outcome: &FrameOutcome,
    ) -> StoreResult<bool>;
    /// Closes an open attempt to further frames (idempotent: the first
    /// close's time stays). Returns the attempt as it is afterwards.
    async fn close_attempt(
        &self,
        attempt: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<CaptureAttempt>>;
    /// How many frames the attempt accepted, and how many have an outcome.
    async fn frame_progress(&self, attempt: Uuid) -> StoreResult<FrameProgress>;
    /// The attempt's accepted frames, in index order.
    async fn attempt_frames(&self, attempt: Uuid) -> StoreResult<Vec<StoredFrame>>;
    /// Erases the frames of `attempt` once it is no longer open; returns
    /// how many (none while it is open). A finish stores its decision
    /// first and erases the frames after it, in a database transaction of
    /// their own, so that erasing some megabytes does not delay the
    /// decision.
    async fn erase_frames(&self, attempt: Uuid) -> StoreResult<u64>;
    /// Erases the frames of every attempt that is no longer open (those a
    /// node stopped before it erased them) and of attempts still open but
    /// issued before `issued_before` (past any deadline); returns how many.
    async fn purge_stale_frames(&self, issued_before: DateTime<Utc>) -> StoreResult<u64>;
}
