//! [`OutboxStore`] in SQL: the `outbox` and `delivery_attempts` tables.
//! Messages are queued by a finalisation ([`insert_outbox`], on its database
//! transaction) and erased with their transaction ([`erase_callbacks`]).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{AccountId, TransactionRef};
use sqlx::AnyConnection;

use super::codec::{db_err, duration_to_db, flag_to_db, ms, ATTEMPT_COLUMNS, OUTBOX_COLUMNS};
use super::{commit, execute, rows, Dialect, Query, SqlStore};
use crate::{
    CallbackRecord, ClaimFairness, DeliveryAttempt, NextStep, OutboxMessage, OutboxStatus,
    OutboxStore, PendingCallback, StoreError, StoreResult,
};

/// Queues a message on the caller's database transaction.
pub(super) async fn insert_outbox(
    conn: &mut AnyConnection,
    message: &OutboxMessage,
) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO outbox (id, account, transaction_ref, event, url, body, status, attempts, \
         first_attempt_at, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, $9)",
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
    conn: &mut AnyConnection,
    transaction: TransactionRef,
) -> StoreResult<()> {
    let r = transaction.to_string();
    // A delivery attempt being recorded meanwhile (PostgreSQL) waits, then
    // finds its message gone, instead of adding an attempt that the message's
    // deletion would trip over.
    let lock = Dialect::of(conn).lock_rows();
    if !lock.is_empty() {
        let sql = format!("SELECT 1 FROM outbox WHERE transaction_ref = $1{lock}");
        execute(sqlx::query(&sql).bind(&r), &mut *conn).await?;
    }
    let query = sqlx::query(
        "DELETE FROM delivery_attempts WHERE outbox_id IN \
         (SELECT id FROM outbox WHERE transaction_ref = $1)",
    )
    .bind(&r);
    execute(query, &mut *conn).await?;
    let query = sqlx::query("DELETE FROM outbox WHERE transaction_ref = $1").bind(&r);
    execute(query, conn).await?;
    Ok(())
}

/// Whether a claim's selection already locked the rows it selected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Selection {
    /// It ends with [`Dialect::claim_rows`].
    Locked,
    /// It cannot lock (a window function): the rows are locked after it.
    Unlocked,
}

impl SqlStore {
    /// Takes the messages `query` selects and pushes their next attempt to
    /// `now + lease`, so no other worker takes them meanwhile (both claims
    /// share it). On PostgreSQL a message is claimed only when this database
    /// transaction holds its row lock: of several nodes claiming at once,
    /// exactly one gets each message.
    async fn claim(
        &self,
        query: Query<'_>,
        selection: Selection,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<PendingCallback>> {
        let until = now
            .checked_add_signed(lease)
            .ok_or_else(|| StoreError::Backend("lease end out of range".to_owned()))?;
        let mut db = self.begin_write().await?;
        let mut claimed: Vec<PendingCallback> = rows(query, &mut *db).await?;
        if self.dialect == Dialect::Postgres && selection == Selection::Unlocked {
            claimed = self.lock_claimed(&mut db, claimed, now).await?;
        }
        for pending in &claimed {
            let query = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2")
                .bind(ms(until))
                .bind(pending.message.id.hyphenated().to_string());
            execute(query, &mut *db).await?;
        }
        commit(db).await?;
        Ok(claimed)
    }

    /// Keeps the selected messages this database transaction can lock and
    /// that are still due: one another node is claiming is locked (skipped),
    /// one it claimed since the selection's snapshot is no longer due.
    async fn lock_claimed(
        &self,
        db: &mut AnyConnection,
        selected: Vec<PendingCallback>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<PendingCallback>> {
        if selected.is_empty() {
            return Ok(selected);
        }
        let ids = (2..selected.len() + 2)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= $1 \
             AND id IN ({ids}){}",
            self.dialect.claim_rows()
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(ms(now));
        for pending in &selected {
            query = query.bind(pending.message.id.hyphenated().to_string());
        }
        let locked = query.fetch_all(&mut *db).await.map_err(db_err)?;
        Ok(selected
            .into_iter()
            .filter(|p| locked.contains(&p.message.id.hyphenated().to_string()))
            .collect())
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<PendingCallback>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, created_at, id LIMIT $2{}",
            self.dialect.claim_rows()
        );
        let query = sqlx::query(&sql).bind(ms(now)).bind(i64::from(limit));
        self.claim(query, Selection::Locked, now, lease).await
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
        // The in-flight counts bind first, as `($1, $2), ($3, $4), ...`.
        let busy = if fairness.in_flight.is_empty() {
            "SELECT '' AS busy_account, 0 AS busy_n WHERE 1 = 0".to_owned()
        } else {
            let rows = (0..fairness.in_flight.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            format!("VALUES {rows}")
        };
        let n = 2 * fairness.in_flight.len();
        let (now_at, per_account_at, limit_at) = (n + 1, n + 2, n + 3);
        let sql = format!(
            "WITH busy(busy_account, busy_n) AS ({busy}), \
             due AS (SELECT {OUTBOX_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY account \
                ORDER BY next_attempt_at, created_at, id) AS turn \
                FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ${now_at}) \
             SELECT {OUTBOX_COLUMNS} FROM due LEFT JOIN busy ON busy_account = account \
             WHERE turn + COALESCE(busy_n, 0) <= ${per_account_at} \
             ORDER BY turn, next_attempt_at, created_at, id LIMIT ${limit_at}",
        );
        let mut query = sqlx::query(&sql);
        for (account, n) in &fairness.in_flight {
            query = query.bind(account.to_string()).bind(i64::from(*n));
        }
        let query = query
            .bind(ms(now))
            .bind(i64::from(fairness.per_account))
            .bind(i64::from(limit));
        self.claim(query, Selection::Unlocked, now, lease).await
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
        // In SQL every SET expression sees the row as it was before the
        // update. A body nobody will send again is personal data kept for
        // nothing: the history shows status, attempts and times only.
        let query = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, $1), \
             status = CASE WHEN status = 'DELIVERED' THEN status ELSE $2 END, \
             next_attempt_at = CASE WHEN status = 'DELIVERED' THEN NULL ELSE $3 END, \
             body = CASE WHEN status = 'DELIVERED' OR $2 <> 'PENDING' THEN '' ELSE body END \
             WHERE id = $4",
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
             detail, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(i64::from(attempt.attempt_no))
        .bind(ms(attempt.at))
        .bind(flag_to_db(attempt.delivered))
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
        // As in `erase_callbacks`: an attempt recorded meanwhile waits.
        let lock = self.dialect.lock_rows();
        if !lock.is_empty() {
            let sql =
                format!("SELECT 1 FROM outbox WHERE status <> 'PENDING' AND created_at < $1{lock}");
            execute(sqlx::query(&sql).bind(ms(before)), &mut *db).await?;
        }
        let query = sqlx::query(
            "DELETE FROM delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE status <> 'PENDING' AND created_at < $1)",
        )
        .bind(ms(before));
        execute(query, &mut *db).await?;
        let query = sqlx::query("DELETE FROM outbox WHERE status <> 'PENDING' AND created_at < $1")
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
        let mut db = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE account = $1 AND transaction_ref = $2 \
             ORDER BY created_at, seq"
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
             (SELECT id FROM outbox WHERE account = $1 AND transaction_ref = $2) \
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
