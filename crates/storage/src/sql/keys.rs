//! [`KeyStore`] in SQL: what each master key sealed, counted for
//! `facegate keys retire` and re-sealed for `facegate keys rewrap`.
//!
//! Sealed values carry their key id in a cleartext header (facemaps at byte
//! 5, images at byte 4, big-endian u32), so rows are matched with `substr`
//! on the stored blob and no key is needed to find them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, TransactionRef};

use super::codec::{db_err, ms, FromRow};
use super::{execute, rows, SqlStore, OPEN_STATES};
use crate::{ImageKind, KeyStore, KeyUsage, StoreResult, StoredFacemap, StoredImage};

/// Where the key id sits in a facemap header: after `"FGFM"` and the version.
const FACEMAP_KEY_AT: usize = 5;
/// Where the key id sits in a sealed image header: after `"FGIM"`.
const IMAGE_KEY_AT: usize = 4;

/// The key id in a facemap's header, when the bytes look like a facemap.
pub(super) fn facemap_key_id(sealed: &[u8]) -> Option<u32> {
    if sealed.get(..4)? != b"FGFM" {
        return None;
    }
    let bytes: [u8; 4] = sealed
        .get(FACEMAP_KEY_AT..FACEMAP_KEY_AT + 4)?
        .try_into()
        .ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// The header bytes `substr` compares with (`substr` is 1-based, on a blob as on
/// a `bytea`).
fn key_bytes(key_id: u32) -> Vec<u8> {
    key_id.to_be_bytes().to_vec()
}

#[async_trait]
impl KeyStore for SqlStore {
    #[tracing::instrument(skip_all, fields(key_id))]
    async fn key_usage(&self, key_id: u32, now: DateTime<Utc>) -> StoreResult<KeyUsage> {
        let sql = format!(
            "SELECT \
             (SELECT count(*) FROM accounts WHERE webhook_key_id = $1) AS webhook_secrets, \
             (SELECT count(*) FROM accounts WHERE webhook_previous_key_id = $2 \
                AND webhook_previous_until > $3) AS webhook_overlaps, \
             (SELECT count(*) FROM auth_transactions WHERE {OPEN_STATES} \
                AND facemap IS NOT NULL AND substr(facemap, {f}, 4) = $4) AS transaction_facemaps, \
             (SELECT count(*) FROM capture_images WHERE substr(sealed, {i}, 4) = $5) AS images, \
             (SELECT count(*) FROM enrollments WHERE facemap_serial IS NOT NULL \
                AND facemap_revoked_at IS NULL AND (facemap_key_id = $6 OR \
                (server_facemap IS NOT NULL AND substr(server_facemap, {f}, 4) = $7))) \
                AS issued_facemaps, \
             (SELECT count(*) FROM enrollments WHERE facemap_serial IS NOT NULL \
                AND facemap_revoked_at IS NULL AND facemap_key_id IS NULL \
                AND server_facemap IS NULL) AS issued_facemaps_unknown_key",
            f = FACEMAP_KEY_AT + 1,
            i = IMAGE_KEY_AT + 1,
        );
        let id = i64::from(key_id);
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(id)
            .bind(ms(now))
            .bind(key_bytes(key_id))
            .bind(key_bytes(key_id))
            .bind(id)
            .bind(key_bytes(key_id))
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        KeyUsage::from_row(&row)
    }

    #[tracing::instrument(skip_all, fields(key_id))]
    async fn transaction_facemaps_sealed_with(
        &self,
        key_id: u32,
        after: Option<TransactionRef>,
        limit: u32,
    ) -> StoreResult<Vec<StoredFacemap>> {
        let sql = format!(
            "SELECT reference, account, facemap FROM auth_transactions \
             WHERE {OPEN_STATES} AND facemap IS NOT NULL AND substr(facemap, {f}, 4) = $1 \
             AND reference > $2 ORDER BY reference LIMIT $3",
            f = FACEMAP_KEY_AT + 1,
        );
        let query = sqlx::query(&sql)
            .bind(key_bytes(key_id))
            .bind(after.map(|r| r.to_string()).unwrap_or_default())
            .bind(i64::from(limit));
        rows(query, &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %transaction))]
    async fn replace_transaction_facemap(
        &self,
        transaction: TransactionRef,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE auth_transactions SET facemap = $1 \
             WHERE reference = $2 AND facemap = $3 AND {OPEN_STATES}"
        );
        let query = sqlx::query(&sql)
            .bind(new)
            .bind(transaction.to_string())
            .bind(old);
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(key_id))]
    async fn images_sealed_with(
        &self,
        key_id: u32,
        after: Option<(TransactionRef, ImageKind, u32)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredImage>> {
        let (after_tx, after_kind, after_n) = match after {
            Some((t, k, n)) => (t.to_string(), k.as_str(), i64::from(n)),
            None => (String::new(), "", 0),
        };
        let sql = format!(
            "SELECT i.transaction_ref, COALESCE(t.account, s.account) AS account, i.kind, i.n, \
             i.sealed FROM capture_images i \
             LEFT JOIN auth_transactions t ON t.reference = i.transaction_ref \
             LEFT JOIN scans s ON s.reference = i.transaction_ref \
             WHERE substr(i.sealed, {i}, 4) = $1 AND (i.transaction_ref, i.kind, i.n) > ($2, $3, $4) \
             ORDER BY i.transaction_ref, i.kind, i.n LIMIT $5",
            i = IMAGE_KEY_AT + 1,
        );
        let query = sqlx::query(&sql)
            .bind(key_bytes(key_id))
            .bind(after_tx)
            .bind(after_kind)
            .bind(after_n)
            .bind(i64::from(limit));
        rows(query, &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %image.transaction, kind = image.kind.as_str(), n = image.n))]
    async fn replace_image(&self, image: &StoredImage, new: &[u8]) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE capture_images SET sealed = $1 \
             WHERE transaction_ref = $2 AND kind = $3 AND n = $4 AND sealed = $5",
        )
        .bind(new)
        .bind(image.transaction.to_string())
        .bind(image.kind.as_str())
        .bind(i64::from(image.n))
        .bind(image.sealed.as_slice());
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(account = %account, from, to))]
    async fn move_webhook_key(
        &self,
        account: AccountId,
        from: u32,
        to: u32,
        overlap_until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE accounts SET webhook_key_id = $1, webhook_previous_key_id = $2, \
             webhook_previous_until = $3 WHERE id = $4 AND webhook_key_id = $5",
        )
        .bind(i64::from(to))
        .bind(overlap_until.map(|_| i64::from(from)))
        .bind(overlap_until.map(ms))
        .bind(account.to_string())
        .bind(i64::from(from));
        Ok(execute(query, &self.write).await? == 1)
    }
}
