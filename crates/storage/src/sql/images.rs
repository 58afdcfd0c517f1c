//! [`ImageStore`] in SQL: the `capture_images` table. Images are written
//! with their transaction's final state ([`insert_images`]) and erased with
//! the transaction ([`erase_images`]) or by retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::TransactionRef;
use sqlx::{AnyConnection, AnyPool};

use super::codec::{db_err, ms};
use super::{commit, execute, SqlStore};
use crate::{ImageKind, ImageStore, SealedImage, StoreResult};

/// Inserts a finished attempt's images on the caller's database transaction;
/// returns the counts the transaction records (face images, liveness images).
pub(super) async fn insert_images(
    conn: &mut AnyConnection,
    transaction: TransactionRef,
    images: &[SealedImage],
    at: DateTime<Utc>,
) -> StoreResult<(i64, i64)> {
    let r = transaction.to_string();
    let mut face = 0i64;
    let mut liveness = 0i64;
    for image in images {
        match image.kind {
            ImageKind::Face => face = 1,
            ImageKind::Liveness => liveness += 1,
            ImageKind::Front | ImageKind::Back | ImageKind::Document => {}
        }
        let query = sqlx::query(
            "INSERT INTO capture_images (transaction_ref, kind, n, sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r)
        .bind(image.kind.as_str())
        .bind(i64::from(image.n))
        .bind(image.sealed.as_slice())
        .bind(ms(at));
        execute(query, &mut *conn).await?;
    }
    Ok((face, liveness))
}

/// Erases a deleted transaction's images, on the caller's database transaction.
pub(super) async fn erase_images(
    conn: &mut AnyConnection,
    transaction: TransactionRef,
) -> StoreResult<()> {
    let query = sqlx::query("DELETE FROM capture_images WHERE transaction_ref = $1")
        .bind(transaction.to_string());
    execute(query, conn).await?;
    Ok(())
}

/// The sealed image `kind` number `n` of `reference`, unless its owner (a
/// row of `owners`: `auth_transactions` or `scans`) is deleted.
pub(super) async fn sealed_image(
    read: &AnyPool,
    owners: &'static str,
    reference: String,
    kind: ImageKind,
    n: u32,
) -> StoreResult<Option<Vec<u8>>> {
    sqlx::query_scalar(&format!(
        "SELECT i.sealed FROM capture_images i JOIN {owners} o \
         ON o.reference = i.transaction_ref \
         WHERE i.transaction_ref = $1 AND i.kind = $2 AND i.n = $3 AND o.deleted_at IS NULL"
    ))
    .bind(reference)
    .bind(kind.as_str())
    .bind(i64::from(n))
    .fetch_optional(read)
    .await
    .map_err(db_err)
}

#[async_trait]
impl ImageStore for SqlStore {
    #[tracing::instrument(skip_all, fields(reference = %transaction, kind = kind.as_str(), n = n))]
    async fn image(
        &self,
        transaction: TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        sealed_image(
            &self.read,
            "auth_transactions",
            transaction.to_string(),
            kind,
            n,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn purge_images(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        let query =
            sqlx::query("DELETE FROM capture_images WHERE created_at < $1").bind(ms(before));
        let purged = execute(query, &mut *db).await?;
        if purged > 0 {
            // Only transactions finalised before `before` can have lost
            // images (they are stored at the final state): one finalised
            // meanwhile by another node keeps its counts, although this
            // statement's snapshot does not see its images (PostgreSQL).
            let query = sqlx::query(
                "UPDATE auth_transactions SET face_images = 0, liveness_images = 0 \
                 WHERE (face_images > 0 OR liveness_images > 0) AND finalized_at < $1 \
                 AND NOT EXISTS \
                 (SELECT 1 FROM capture_images i WHERE i.transaction_ref = reference)",
            )
            .bind(ms(before));
            execute(query, &mut *db).await?;
        }
        commit(db).await?;
        if purged > 0 {
            self.mark_erasure_pending();
        }
        Ok(purged)
    }
}
