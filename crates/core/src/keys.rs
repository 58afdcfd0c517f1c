//! The master-key lifecycle over stored data: what a key still protects,
//! re-sealing that under the primary key (`facegate keys rewrap`), moving
//! webhook secrets to a new key with an overlap, and how a missing key is
//! reported when stored data needs it.

use chrono::Duration;
use facegate_facemap::{FacemapError, ImageSealError, ImageSlot, KeyId};
use facegate_storage::{KeyUsage, StoredImage};

use crate::error::{ServiceError, ServiceResult};
use crate::Services;

/// Rows re-sealed per storage read.
const PAGE: u32 = 100;

/// What one `rewrap` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Accounts whose webhook secret moved to the primary key.
    pub webhook_secrets: u64,
    pub transaction_facemaps: u64,
    pub images: u64,
    /// Rows that changed under the rewrap (finished, deleted) and were left.
    pub skipped: u64,
}

/// Which stored data needed a key that is not loaded (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedData {
    TransactionFacemap,
    Image,
}

impl SealedData {
    fn label(self) -> &'static str {
        match self {
            Self::TransactionFacemap => "data=\"transaction_facemap\"",
            Self::Image => "data=\"image\"",
        }
    }
}

impl Services {
    /// The master keys this process has loaded.
    pub fn loaded_keys(&self) -> Vec<KeyId> {
        self.keyring.key_ids()
    }

    /// The key new secrets and facemaps are sealed under.
    pub fn primary_key(&self) -> KeyId {
        self.keyring.primary()
    }

    /// What still needs key `id`.
    pub async fn key_usage(&self, id: KeyId) -> ServiceResult<KeyUsage> {
        Ok(self.store.key_usage(id.0, self.clock.now()).await?)
    }

    /// Moves every account's webhook secret that is not derived from the
    /// primary key to it. Receivers get the new secret from `facegate account
    /// webhook-secret`; until `now + overlap` callbacks carry a signature
    /// under the old secret too (none when `overlap` is zero). Returns how
    /// many accounts moved.
    pub async fn move_webhook_secrets(
        &self,
        from: Option<KeyId>,
        overlap: Duration,
    ) -> ServiceResult<u64> {
        let primary = self.keyring.primary();
        let now = self.clock.now();
        let until = (overlap > Duration::zero()).then(|| now + overlap);
        let mut moved = 0;
        for account in self.store.list_accounts().await? {
            let current = KeyId(account.webhook_key_id);
            if current == primary || from.is_some_and(|f| f != current) {
                continue;
            }
            // Signing with a key that is gone is impossible: no overlap then.
            let until = until.filter(|_| self.keyring.contains(current));
            if self
                .store
                .move_webhook_key(account.id, current.0, primary.0, until)
                .await?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Re-seals everything key `id` sealed under the primary key: open
    /// transactions' facemaps, stored images and webhook secrets (with
    /// `overlap`). Each row is replaced only if unchanged since it was read,
    /// so running it next to a live server, or twice, is safe. Facemaps that
    /// customers hold cannot be re-sealed; [`KeyUsage::issued_facemaps`]
    /// still counts them.
    pub async fn rewrap_key(&self, id: KeyId, overlap: Duration) -> ServiceResult<RewrapReport> {
        let primary = self.keyring.primary();
        if id == primary {
            return Err(ServiceError::Internal(format!(
                "key {id} is the primary key; there is nothing to re-seal"
            )));
        }
        if !self.keyring.contains(id) {
            return Err(ServiceError::Internal(format!(
                "key {id} is not loaded, so what it sealed cannot be opened"
            )));
        }
        let mut report = RewrapReport {
            webhook_secrets: self.move_webhook_secrets(Some(id), overlap).await?,
            ..RewrapReport::default()
        };
        let mut after = None;
        loop {
            let page = self
                .store
                .transaction_facemaps_sealed_with(id.0, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.transaction);
            for stored in page {
                let resealed =
                    facegate_facemap::open(&self.keyring, &stored.sealed, stored.account.as_uuid())
                        .map_err(|e| e.to_string())
                        .and_then(|contents| {
                            facegate_facemap::seal(&self.keyring, &contents)
                                .map_err(|e| e.to_string())
                        });
                let done = match resealed {
                    Ok(new) => {
                        self.store
                            .replace_transaction_facemap(stored.transaction, &stored.sealed, &new)
                            .await?
                    }
                    Err(e) => {
                        tracing::warn!(transaction = %stored.transaction, error = %e, "facemap not re-sealed");
                        false
                    }
                };
                if done {
                    report.transaction_facemaps += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
        let mut after = None;
        loop {
            let page = self.store.images_sealed_with(id.0, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.transaction, last.kind, last.n));
            for stored in page {
                let done = match self.reseal_image(&stored) {
                    Ok(new) => self.store.replace_image(&stored, &new).await?,
                    Err(e) => {
                        tracing::warn!(transaction = %stored.transaction, error = %e, "image not re-sealed");
                        false
                    }
                };
                if done {
                    report.images += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
        tracing::info!(key = %id, primary = %primary, ?report, "key re-sealed");
        Ok(report)
    }

    fn reseal_image(&self, stored: &StoredImage) -> Result<Vec<u8>, ImageSealError> {
        let slot = ImageSlot {
            account: stored.account.as_uuid(),
            transaction: stored.transaction.as_uuid(),
            kind: stored.kind.as_str(),
            n: stored.n,
        };
        let image = facegate_facemap::open_image(&self.keyring, &slot, &stored.sealed)?;
        facegate_facemap::seal_image(&self.keyring, &slot, &image)
    }

    /// The error for stored data that would not open. A key that is not
    /// loaded is an operator mistake (retired too early, or a server started
    /// with an old keyring): counted and logged as an alert, and answered as
    /// `KEY_UNAVAILABLE` rather than a bare internal error.
    pub(crate) fn sealed_data_error(
        &self,
        data: SealedData,
        missing: Option<KeyId>,
    ) -> ServiceError {
        match missing {
            Some(key) => {
                self.metrics
                    .increment("facegate_master_key_missing_total", data.label());
                tracing::error!(
                    alert = true,
                    key = %key,
                    data = data.label(),
                    "stored data is sealed with a master key this server has not loaded"
                );
                ServiceError::KeyUnavailable
            }
            None => {
                ServiceError::Internal(format!("stored data failed to open ({})", data.label()))
            }
        }
    }

    /// [`Self::sealed_data_error`] for a transaction's facemap.
    pub(crate) fn transaction_facemap_error(&self, e: FacemapError) -> ServiceError {
        let missing = match e {
            FacemapError::UnknownKey(key) => Some(key),
            _ => None,
        };
        self.sealed_data_error(SealedData::TransactionFacemap, missing)
    }

    /// [`Self::sealed_data_error`] for a stored image.
    pub(crate) fn image_error(&self, e: ImageSealError) -> ServiceError {
        let missing = match e {
            ImageSealError::UnknownKey(key) => Some(key),
            _ => None,
        };
        self.sealed_data_error(SealedData::Image, missing)
    }
}
