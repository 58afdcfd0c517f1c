//! What each master key sealed: counting it for `facegate keys retire`,
//! re-sealing it for `facegate keys rewrap`, and the fair outbox claim.
//!
//! Sealed values carry their key id in a cleartext header (facemaps at byte
//! 5, images at byte 4, big-endian u32), so rows are matched with `substr`
//! on the stored blob and no key is needed to find them.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{AccountId, TransactionRef};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::codec::{self, db_err, ms};
use super::{lease_claimed, SqliteStore, OPEN_STATES};
use crate::{
    ClaimFairness, ImageKind, KeyStore, KeyUsage, PendingCallback, StoreError, StoreResult,
    StoredFacemap, StoredImage,
};

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

/// The header bytes `substr` compares with (SQLite's `substr` is 1-based).
fn key_bytes(key_id: u32) -> Vec<u8> {
    key_id.to_be_bytes().to_vec()
}

fn count(row: &SqliteRow, column: &str) -> StoreResult<u64> {
    let n: i64 = row.try_get(column).map_err(db_err)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {column}")))
}

fn parse<T: std::str::FromStr>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let text: String = row.try_get(column).map_err(db_err)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} is not an identifier")))
}

fn image_kind(text: &str) -> StoreResult<ImageKind> {
    match text {
        "face" => Ok(ImageKind::Face),
        "liveness" => Ok(ImageKind::Liveness),
        _ => Err(StoreError::Corrupt("capture_images.kind".to_owned())),
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(key_id))]
    async fn key_usage(&self, key_id: u32, now: DateTime<Utc>) -> StoreResult<KeyUsage> {
        let sql = format!(
            "SELECT \
             (SELECT count(*) FROM accounts WHERE webhook_key_id = ?) AS webhook_secrets, \
             (SELECT count(*) FROM accounts WHERE webhook_previous_key_id = ? \
                AND webhook_previous_until > ?) AS webhook_overlaps, \
             (SELECT count(*) FROM auth_transactions WHERE {OPEN_STATES} \
                AND facemap IS NOT NULL AND substr(facemap, {f}, 4) = ?) AS transaction_facemaps, \
             (SELECT count(*) FROM capture_images WHERE substr(sealed, {i}, 4) = ?) AS images, \
             (SELECT count(*) FROM enrollments WHERE facemap_serial IS NOT NULL \
                AND facemap_revoked_at IS NULL AND (facemap_key_id = ? OR \
                (server_facemap IS NOT NULL AND substr(server_facemap, {f}, 4) = ?))) \
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
        Ok(KeyUsage {
            webhook_secrets: count(&row, "webhook_secrets")?,
            webhook_overlaps: count(&row, "webhook_overlaps")?,
            transaction_facemaps: count(&row, "transaction_facemaps")?,
            images: count(&row, "images")?,
            issued_facemaps: count(&row, "issued_facemaps")?,
            issued_facemaps_unknown_key: count(&row, "issued_facemaps_unknown_key")?,
        })
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
             WHERE {OPEN_STATES} AND facemap IS NOT NULL AND substr(facemap, {f}, 4) = ? \
             AND reference > ? ORDER BY reference LIMIT ?",
            f = FACEMAP_KEY_AT + 1,
        );
        sqlx::query(&sql)
            .bind(key_bytes(key_id))
            .bind(after.map(|r| r.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| {
                Ok(StoredFacemap {
                    transaction: parse(row, "reference")?,
                    account: parse(row, "account")?,
                    sealed: row.try_get("facemap").map_err(db_err)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(reference = %transaction))]
    async fn replace_transaction_facemap(
        &self,
        transaction: TransactionRef,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE auth_transactions SET facemap = ? \
             WHERE reference = ? AND facemap = ? AND {OPEN_STATES}"
        );
        let done = sqlx::query(&sql)
            .bind(new)
            .bind(transaction.to_string())
            .bind(old)
            .execute(&self.write)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
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
            "SELECT i.transaction_ref, t.account, i.kind, i.n, i.sealed \
             FROM capture_images i JOIN auth_transactions t ON t.reference = i.transaction_ref \
             WHERE substr(i.sealed, {i}, 4) = ? AND (i.transaction_ref, i.kind, i.n) > (?, ?, ?) \
             ORDER BY i.transaction_ref, i.kind, i.n LIMIT ?",
            i = IMAGE_KEY_AT + 1,
        );
        sqlx::query(&sql)
            .bind(key_bytes(key_id))
            .bind(after_tx)
            .bind(after_kind)
            .bind(after_n)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(db_err)?;
                let n: i64 = row.try_get("n").map_err(db_err)?;
                Ok(StoredImage {
                    transaction: parse(row, "transaction_ref")?,
                    account: parse(row, "account")?,
                    kind: image_kind(&kind)?,
                    n: u32::try_from(n)
                        .map_err(|_| StoreError::Corrupt("capture_images.n".to_owned()))?,
                    sealed: row.try_get("sealed").map_err(db_err)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(reference = %image.transaction, kind = image.kind.as_str(), n = image.n))]
    async fn replace_image(&self, image: &StoredImage, new: &[u8]) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE capture_images SET sealed = ? \
             WHERE transaction_ref = ? AND kind = ? AND n = ? AND sealed = ?",
        )
        .bind(new)
        .bind(image.transaction.to_string())
        .bind(image.kind.as_str())
        .bind(i64::from(image.n))
        .bind(image.sealed.as_slice())
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(account = %account, from, to))]
    async fn move_webhook_key(
        &self,
        account: AccountId,
        from: u32,
        to: u32,
        overlap_until: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET webhook_key_id = ?, webhook_previous_key_id = ?, \
             webhook_previous_until = ? WHERE id = ? AND webhook_key_id = ?",
        )
        .bind(i64::from(to))
        .bind(overlap_until.map(|_| i64::from(from)))
        .bind(overlap_until.map(ms))
        .bind(account.to_string())
        .bind(i64::from(from))
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}

impl SqliteStore {
    /// See [`crate::Store::claim_due_callbacks_fair`]. Each due message gets
    /// its turn within its account (1 for the oldest); ordering by turn first
    /// interleaves the accounts, and an account's turns stop where its
    /// in-flight messages would pass the per-account limit.
    pub(super) async fn claim_fair(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        fairness: &ClaimFairness,
    ) -> StoreResult<Vec<PendingCallback>> {
        let busy = if fairness.in_flight.is_empty() {
            "SELECT '' AS busy_account, 0 AS busy_n WHERE 0".to_owned()
        } else {
            let rows = vec!["(?, ?)"; fairness.in_flight.len()].join(", ");
            format!("VALUES {rows}")
        };
        let sql = format!(
            "WITH busy(busy_account, busy_n) AS ({busy}), \
             due AS (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY account \
                ORDER BY next_attempt_at, created_at, id) AS turn \
                FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ?) \
             SELECT {cols} FROM due LEFT JOIN busy ON busy_account = account \
             WHERE turn + COALESCE(busy_n, 0) <= ? \
             ORDER BY turn, next_attempt_at, created_at, id LIMIT ?",
            cols = codec::OUTBOX_COLUMNS,
        );
        let mut db = self.begin_write().await?;
        let mut query = sqlx::query(&sql);
        for (account, n) in &fairness.in_flight {
            query = query.bind(account.to_string()).bind(i64::from(*n));
        }
        let claimed = query
            .bind(ms(now))
            .bind(i64::from(fairness.per_account))
            .bind(i64::from(limit))
            .fetch_all(&mut *db)
            .await
            .map_err(db_err)?
            .iter()
            .map(codec::pending_callback)
            .collect::<StoreResult<Vec<_>>>()?;
        lease_claimed(&mut db, &claimed, now, lease).await?;
        db.commit().await.map_err(db_err)?;
        Ok(claimed)
    }
}
