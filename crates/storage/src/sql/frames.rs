//! The frames of open capture attempts (`capture_frames`) and the frame
//! cursor on `capture_attempts`: what lets any node take any frame and
//! finish any attempt. Erased right after their attempt's finish
//! ([`FrameStore::erase_frames`]), when the next attempt starts or the
//! transaction is deleted ([`erase_ended`]), when the transaction is final
//! ([`erase_open`]), and by the retention sweep.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{CaptureAttempt, FrameCursor};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::codec::{ms, CAPTURE_ATTEMPT_COLUMNS, FRAME_COLUMNS};
use super::{commit, execute, row, rows, SqlStore};
use crate::{FrameOutcome, FrameProgress, FrameStore, StoreResult, StoredFrame};

/// Erases the frames of the transaction's attempts that are no longer open,
/// on the caller's database transaction.
pub(super) async fn erase_ended(conn: &mut AnyConnection, transaction: &str) -> StoreResult<()> {
    let query = sqlx::query(
        "DELETE FROM capture_frames WHERE attempt IN \
         (SELECT id FROM capture_attempts WHERE transaction_ref = $1 AND state <> 'OPEN')",
    )
    .bind(transaction);
    execute(query, conn).await?;
    Ok(())
}

/// Erases the frames of the transaction's open attempts (it is final: none
/// of them can finish), on the caller's database transaction. The frames of
/// its ended attempts go with [`FrameStore::erase_frames`] after their
/// finish, or with the retention sweep.
pub(super) async fn erase_open(conn: &mut AnyConnection, transaction: &str) -> StoreResult<()> {
    let query = sqlx::query(
        "DELETE FROM capture_frames WHERE attempt IN \
         (SELECT id FROM capture_attempts WHERE transaction_ref = $1 AND state = 'OPEN')",
    )
    .bind(transaction);
    execute(query, conn).await?;
    Ok(())
}

#[async_trait]
impl FrameStore for SqlStore {
    #[tracing::instrument(skip_all, fields(attempt = %attempt, index))]
    async fn accept_frame(
        &self,
        attempt: Uuid,
        from: &FrameCursor,
        to: &FrameCursor,
        index: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let id = attempt.hyphenated().to_string();
        let mut db = self.begin_write().await?;
        // The count as read is the guard: every accepted frame moves it, so
        // a frame another node accepted meanwhile fails the guard.
        let query = sqlx::query(
            "UPDATE capture_attempts SET frames_received = $1, last_t_ms = $2, \
             earliest_start_ms = $3 \
             WHERE id = $4 AND state = 'OPEN' AND closed_at IS NULL AND frames_received = $5",
        )
        .bind(i64::from(to.received))
        .bind(to.last_t_ms.map(i64::from))
        .bind(to.earliest_start_ms)
        .bind(&id)
        .bind(i64::from(from.received));
        if execute(query, &mut *db).await? == 0 {
            return Ok(false);
        }
        let query = sqlx::query(
            "INSERT INTO capture_frames (attempt, idx, accepted_at, outcome, sealed) \
             VALUES ($1, $2, $3, NULL, NULL)",
        )
        .bind(&id)
        .bind(i64::from(index))
        .bind(ms(at));
        execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(attempt = %attempt, index, outcome = outcome.as_str()))]
    async fn record_frame(
        &self,
        attempt: Uuid,
        index: u32,
        outcome: &FrameOutcome,
    ) -> StoreResult<bool> {
        let sealed = match outcome {
            FrameOutcome::Analysed { sealed } => Some(sealed.as_slice()),
            _ => None,
        };
        let query = sqlx::query(
            "UPDATE capture_frames SET outcome = $1, sealed = $2 \
             WHERE attempt = $3 AND idx = $4 AND outcome IS NULL",
        )
        .bind(outcome.as_str())
        .bind(sealed)
        .bind(attempt.hyphenated().to_string())
        .bind(i64::from(index));
        let mut db = self.begin_write().await?;
        let stored = execute(query, &mut *db).await? == 1;
        commit(db).await?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all, fields(attempt = %attempt))]
    async fn close_attempt(
        &self,
        attempt: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<CaptureAttempt>> {
        let id = attempt.hyphenated().to_string();
        let mut db = self.begin_write().await?;
        let query = sqlx::query(
            "UPDATE capture_attempts SET closed_at = $1 \
             WHERE id = $2 AND state = 'OPEN' AND closed_at IS NULL",
        )
        .bind(ms(at))
        .bind(&id);
        execute(query, &mut *db).await?;
        let sql = format!("SELECT {CAPTURE_ATTEMPT_COLUMNS} FROM capture_attempts WHERE id = $1");
        let attempt = row(sqlx::query(&sql).bind(&id), &mut *db).await?;
        commit(db).await?;
        Ok(attempt)
    }

    #[tracing::instrument(skip_all, fields(attempt = %attempt))]
    async fn frame_progress(&self, attempt: Uuid) -> StoreResult<FrameProgress> {
        let (accepted, done): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(outcome) FROM capture_frames WHERE attempt = $1",
        )
        .bind(attempt.hyphenated().to_string())
        .fetch_one(&self.read)
        .await
        .map_err(super::codec::db_err)?;
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(FrameProgress {
            accepted: count(accepted),
            done: count(done),
        })
    }

    #[tracing::instrument(skip_all, fields(attempt = %attempt))]
    async fn attempt_frames(&self, attempt: Uuid) -> StoreResult<Vec<StoredFrame>> {
        let sql =
            format!("SELECT {FRAME_COLUMNS} FROM capture_frames WHERE attempt = $1 ORDER BY idx");
        rows(
            sqlx::query(&sql).bind(attempt.hyphenated().to_string()),
            &self.read,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(attempt = %attempt))]
    async fn erase_frames(&self, attempt: Uuid) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        let query = sqlx::query(
            "DELETE FROM capture_frames WHERE attempt IN \
             (SELECT id FROM capture_attempts WHERE id = $1 AND state <> 'OPEN')",
        )
        .bind(attempt.hyphenated().to_string());
        let n = execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(n)
    }

    #[tracing::instrument(skip_all)]
    async fn purge_stale_frames(&self, issued_before: DateTime<Utc>) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        let query = sqlx::query(
            "DELETE FROM capture_frames WHERE attempt IN \
             (SELECT id FROM capture_attempts WHERE issued_at < $1 OR state <> 'OPEN')",
        )
        .bind(ms(issued_before));
        let n = execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(n)
    }
}
