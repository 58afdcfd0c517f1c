//! The sealed capture images a transaction keeps with its final state, and
//! their retention. They are written by [`crate::CaptureStore::finish_attempt`]
//! for authentications; a scan's (its document sides, its selfie frames and
//! its sealed extracted data) by [`crate::ScanStore`], in the same table, so
//! that retention, key rotation and erasure treat them alike.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::TransactionRef;

use crate::StoreResult;

/// Which image of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// The best face frame (`/images/face`, number 1).
    Face,
    /// A frame of the liveness sequence (`/images/liveness/{n}`).
    Liveness,
    /// A scan's document front (`/images/front`, number 1).
    Front,
    /// A scan's document back (`/images/back`, number 1).
    Back,
    /// A scan's extracted document data (sealed JSON, number 1): never an
    /// image download, but sealed, rotated and erased as the images are.
    Document,
}

impl ImageKind {
    pub const ALL: [Self; 5] = [
        Self::Face,
        Self::Liveness,
        Self::Front,
        Self::Back,
        Self::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Liveness => "liveness",
            Self::Front => "front",
            Self::Back => "back",
            Self::Document => "document",
        }
    }
}

/// An image sealed by the caller, to be stored with a final state.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedImage {
    pub kind: ImageKind,
    /// 1-based.
    pub n: u32,
    pub sealed: Vec<u8>,
}

/// Reading and expiring stored capture images.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// A sealed image of an undeleted transaction.
    async fn image(
        &self,
        transaction: TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// Erases the images of transactions finalised before `before`
    /// (retention); returns how many images were erased.
    async fn purge_images(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
