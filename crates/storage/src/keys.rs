//! What each master key sealed: counting it for `facegate keys retire` and
//! re-sealing it for `facegate keys rewrap`. Rows are matched by the key id in
//! their cleartext header, so no key is needed to count them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, TransactionRef};

use crate::{ImageKind, StoreResult};

/// What still needs one master key; `facegate keys retire` refuses while any
/// count is non-zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Accounts whose current webhook signing secret is derived from the key.
    pub webhook_secrets: u64,
    /// Accounts still co-signing callbacks with the key (a rotation's overlap).
    pub webhook_overlaps: u64,
    /// Open transactions whose stored facemap the key sealed.
    pub transaction_facemaps: u64,
    /// Stored capture images the key sealed.
    pub images: u64,
    /// Facemaps the key issued that can still be presented (not revoked):
    /// the server's copy of a live enrollment, or the copy a customer holds.
    pub issued_facemaps: u64,
    /// Presentable facemaps whose key was never recorded (issued before
    /// migration 0003 and their server copy since erased): any key may have
    /// sealed them.
    pub issued_facemaps_unknown_key: u64,
}

impl KeyUsage {
    pub fn is_unused(&self) -> bool {
        *self == Self::default()
    }
}

/// An open transaction's stored facemap, for re-sealing.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFacemap {
    pub transaction: TransactionRef,
    pub account: AccountId,
    pub sealed: Vec<u8>,
}

/// A stored capture image, for re-sealing.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage {
    pub transaction: TransactionRef,
    pub account: AccountId,
    pub kind: ImageKind,
    pub n: u32,
    pub sealed: Vec<u8>,
}

/// Finding and re-sealing what a master key sealed (`facegate keys`).
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn key_usage(&self, key_id: u32, now: DateTime<Utc>) -> StoreResult<KeyUsage>;
    /// Up to `limit` open transactions' facemaps sealed with `key_id`, with a
    /// reference after `after`, in reference order.
    async fn transaction_facemaps_sealed_with(
        &self,
        key_id: u32,
        after: Option<TransactionRef>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFacemap>>;
    /// Replaces a facemap with its re-sealed form, only while the transaction
    /// is open and still holds `old`; false, writing nothing, otherwise.
    async fn replace_transaction_facemap(
        &self,
        transaction: TransactionRef,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
    /// Up to `limit` images sealed with `key_id` after the position `after`
    /// (transaction, kind, number), in that order.
    async fn images_sealed_with(
        &self,
        key_id: u32,
        after: Option<(TransactionRef, ImageKind, u32)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredImage>>;
    /// Replaces an image with its re-sealed form while it still is `old`.
    async fn replace_image(&self, image: &StoredImage, new: &[u8]) -> StoreResult<bool>;
    /// Moves the account's webhook secret from key `from` to key `to`,
    /// co-signing with `from` until `overlap_until` when given. False when
    /// the account's secret is no longer derived from `from`.
    async fn move_webhook_key(
        &self,
        account: AccountId,
        from: u32,
        to: u32,
        overlap_until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
}
