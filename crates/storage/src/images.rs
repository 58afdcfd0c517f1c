//! The sealed capture images a transaction keeps with its final state, and
//! their retention. They are written by [`crate::CaptureStore::finish_attempt`].

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
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Liveness => "liveness",
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
