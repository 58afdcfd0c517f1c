//! [`OutboxStore`] on SQLite: the `outbox` and `delivery_attempts` tables.
//! Messages are queued by a finalisation ([`insert_outbox`], on its database
//! transaction) and erased with their transaction ([`erase_callbacks`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{AccountId, TransactionRef};
use sqlx::SqliteConnection;

use super::codec::{db_err, duration_to_db, ms, ATTEMPT_COLUMNS, OUTBOX_COLUMNS};
use super::{commit, execute, rows, Query, SqliteStore};
use crate::{
    CallbackRecord, ClaimFairness, DeliveryAttempt, NextStep, OutboxMessage, OutboxStatus,
    OutboxStore, PendingCallback, StoreError, StoreResult,
};

/// Queues a message on the caller's database transaction.
pub(super) async fn insert_outbox(
    conn: &mut SqliteConnection,
    message: &OutboxMessage,
) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO outbox (id, account, transaction_ref, event, url, body, status, attempts, \
         first_attempt_at, next_attempt_at, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)",
    )
    .bind(message.id.hyphenated().to_string())
    .bind(message.account.to_string())
    .bind(message.transaction.to_string())
    .bind(&message.event)
    .bind(&message.url)
    .bind(&message.body)
    .bind(OutboxStatus::Pending.as_str())
    .bind(ms(message.created_at))
    .bind(ms(message.created_at));
    execute(query, conn).await?;
    Ok(())
}

/// Erases a transaction's callbacks with their delivery attempts, on the
/// caller's database transaction.
pub(super) async fn erase_callbacks(
    conn: &mut SqliteConnection,
    transaction: TransactionRef,
) -> StoreResult<()> {
    let r = transaction.to_string();
    let query = sqlx::query(
        "DELETE FROM delivery_attempts WHERE outbox_id IN \
         (SELECT id FROM outbox WHERE transaction_ref = ?)",
    )
    .bind(&r);
    execute(query, &mut *conn).await?;
    let query = sqlx::query("DELETE FROM outbox WHERE transaction_ref = ?").bind(&r);
    execute(query, conn).await?;
    Ok(())
}

impl SqliteStore {
    /// Takes the messages `query` selects and pushes their next attempt to
    /// `now + lease`, so no other worker takes them meanwhile (both claims
    /// share it).
    async fn claim(
        &self,
        query: Query<'_>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<PendingCallback>> {
        let until = now
            .checked_add_signed(lease)
            .ok_or_else(|| StoreError::Backend("lease end out of range".to_owned()))?;
        let mut db = self.begin_write().await?;
        let claimed: Vec<PendingCallback> = rows(query, &mut *db).await?;
        for pending in &claimed {
            let query = sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
                .bind(ms(until))
                .bind(pending.message.id.hyphenated().to_string());
            execute(query, &mut *db).await?;
        }
        commit(db).await?;
        Ok(claimed)
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<PendingCallback>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, created_at, id LIMIT ?"
        );
        let query = sqlx::query(&sql).bind(ms(now)).bind(i64::from(limit));
        self.claim(query, now, lease).await
    }

    /// Each due message gets its turn within its account (1 for the oldest);
    /// ordering by turn first interleaves the accounts, and an account's turns
    /// stop where its in-flight messages would pass the per-account limit.
    async fn claim_due_callbacks_fair(
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
             due AS (SELECT {OUTBOX_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY account \
                ORDER BY next_attempt_at, created_at, id) AS turn \
                FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ?) \
             SELECT {OUTBOX_COLUMNS} FROM due LEFT JOIN busy ON busy_account = account \
             WHERE turn + COALESCE(busy_n, 0) <= ? \
             ORDER BY turn, next_attempt_at, created_at, id LIMIT ?",
        );
        let mut query = sqlx::query(&sql);
        for (account, n) in &fairness.in_flight {
            query = query.bind(account.to_string()).bind(i64::from(*n));
        }
        let query = query
            .bind(ms(now))
            .bind(i64::from(fairness.per_account))
            .bind(i64::from(limit));
        self.claim(query, now, lease).await
    }

    /// A message already delivered stays delivered whatever a late worker
    /// reports; otherwise `next` decides its status (a retry re-opens it).
    #[tracing::instrument(skip_all, fields(outbox_id = %attempt.outbox_id, attempt_no = attempt.attempt_no))]
    async fn record_attempt(&self, attempt: &DeliveryAttempt, next: NextStep) -> StoreResult<()> {
        let id = attempt.outbox_id.hyphenated().to_string();
        let (status, next_at) = match next {
            NextStep::Delivered => (OutboxStatus::Delivered, None),
            NextStep::RetryAt(at) => (OutboxStatus::Pending, Some(ms(at))),
            NextStep::GiveUp => (OutboxStatus::Failed, None),
        };
        let mut db = self.begin_write().await?;
        // In SQLite every SET expression sees the row as it was before the
        // update. A body nobody will send again is personal data kept for
        // nothing: the history shows status, attempts and times only.
        let query = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, ?1), \
             status = CASE WHEN status = 'DELIVERED' THEN status ELSE ?2 END, \
             next_attempt_at = CASE WHEN status = 'DELIVERED' THEN NULL ELSE ?3 END, \
             body = CASE WHEN status = 'DELIVERED' OR ?2 <> 'PENDING' THEN '' ELSE body END \
             WHERE id = ?4",
        )
        .bind(ms(attempt.at))
        .bind(status.as_str())
        .bind(next_at)
        .bind(&id);
        if execute(query, &mut *db).await? != 1 {
            // Erased with its deleted transaction while this attempt ran.
            return Ok(());
        }
        let query = sqlx::query(
            "INSERT INTO delivery_attempts (outbox_id, attempt_no, at, delivered, status, error, \
             detail, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(i64::from(attempt.attempt_no))
        .bind(ms(attempt.at))
        .bind(attempt.delivered)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(attempt.detail.as_deref())
        .bind(duration_to_db(attempt.duration_ms));
        execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn purge_callback_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        let query = sqlx::query(
            "DELETE FROM delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE status <> 'PENDING' AND created_at < ?)",
        )
        .bind(ms(before));
        execute(query, &mut *db).await?;
        let query = sqlx::query("DELETE FROM outbox WHERE status <> 'PENDING' AND created_at < ?")
            .bind(ms(before));
        let purged = execute(query, &mut *db).await?;
        commit(db).await?;
        if purged > 0 || self.is_erasure_pending() {
            self.flush_erasure().await;
        }
        Ok(purged)
    }

    #[tracing::instrument(skip_all, fields(account = %account, reference = %reference))]
    async fn callbacks_for_transaction(
        &self,
        account: AccountId,
        reference: TransactionRef,
    ) -> StoreResult<Vec<CallbackRecord>> {
        // One read transaction, so the messages and their attempts agree.
        let mut db = self.read.begin().await.map_err(db_err)?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE account = ? AND transaction_ref = ? \
             ORDER BY created_at, rowid"
        );
        let query = sqlx::query(&sql)
            .bind(account.to_string())
            .bind(reference.to_string());
        let mut records: Vec<CallbackRecord> = rows(query, &mut *db).await?;
        if records.is_empty() {
            return Ok(records);
        }

        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE account = ? AND transaction_ref = ?) \
             ORDER BY outbox_id, attempt_no"
        );
        let query = sqlx::query(&sql)
            .bind(account.to_string())
            .bind(reference.to_string());
        let attempts: Vec<DeliveryAttempt> = rows(query, &mut *db).await?;
        commit(db).await?;

        for attempt in attempts {
            if let Some(record) = records
                .iter_mut()
                .find(|r| r.message.id == attempt.outbox_id)
            {
                record.attempts.push(attempt);
            }
        }
        Ok(records)
    }
}
