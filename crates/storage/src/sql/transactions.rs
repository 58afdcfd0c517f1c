//! [`TransactionStore`] in SQL: the `auth_transactions` table, and the
//! finalisation every final state goes through ([`finalize_in`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AuthTransaction, RateLimit, TransactionRef, TransactionState};
use sqlx::AnyConnection;

use super::accounts::take_initiation;
use super::codec::{db_err, ms, opt_ms, TX_COLUMNS};
use super::enrollments::count_failure;
use super::images::erase_images;
use super::outbox::{erase_callbacks, insert_outbox};
use super::{commit, execute, row, rows, Dialect, SqlStore, OPEN_STATES};
use crate::{CallbackRenderer, OutboxMessage, StoreError, StoreResult, TransactionStore};

/// Erases a deleted transaction's attempt decisions and ends its capture
/// sessions, on the caller's database transaction (the attempts themselves
/// stay: their nonces stay burnt).
pub(super) async fn end_capture(
    conn: &mut AnyConnection,
    transaction: TransactionRef,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let r = transaction.to_string();
    let query = sqlx::query(
        "UPDATE capture_attempts SET decision = NULL, \
         state = CASE WHEN state = 'OPEN' THEN 'ABANDONED' ELSE state END \
         WHERE transaction_ref = $1",
    )
    .bind(&r);
    execute(query, &mut *conn).await?;
    super::frames::erase_ended(&mut *conn, &r).await?;
    let query = sqlx::query(
        "UPDATE capture_sessions SET ended_at = COALESCE(ended_at, $1) WHERE transaction_ref = $2",
    )
    .bind(ms(at))
    .bind(&r);
    execute(query, conn).await?;
    Ok(())
}

/// Reads a transaction, deleted or not.
pub(super) async fn fetch_transaction(
    conn: &mut AnyConnection,
    reference: TransactionRef,
) -> StoreResult<Option<AuthTransaction>> {
    let sql = format!("SELECT {TX_COLUMNS} FROM auth_transactions WHERE reference = $1");
    row(sqlx::query(&sql).bind(reference.to_string()), conn).await
}

/// Whether the transaction `reference` is open and not deleted; on
/// PostgreSQL its row stays locked until the caller's database transaction
/// ends, so that no finalisation slips in between the check and the writes
/// that rely on it.
pub(super) async fn is_open(conn: &mut AnyConnection, reference: &str) -> StoreResult<bool> {
    let lock = Dialect::of(conn).lock_rows();
    let open: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM auth_transactions WHERE reference = $1 AND {OPEN_STATES} \
         AND deleted_at IS NULL{lock}"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(open.is_some())
}

/// Moves an open, undeleted transaction to `state`, erases its facemap,
/// counts the enrollment's failure streak and queues its callback, all on the
/// caller's database transaction. `None` when the transaction was not open
/// (or is unknown or deleted).
pub(super) async fn finalize_in(
    conn: &mut AnyConnection,
    reference: TransactionRef,
    state: TransactionState,
    at: DateTime<Utc>,
    renderer: &dyn CallbackRenderer,
) -> StoreResult<Option<AuthTransaction>> {
    if !state.is_final() {
        return Err(StoreError::Conflict(format!(
            "{} is not a final state",
            state.as_str()
        )));
    }
    // The state guard in the WHERE clause is what makes finalisation happen
    // at most once, whatever the callers raced on.
    let sql = format!(
        "UPDATE auth_transactions SET state = $1, finalized_at = $2, facemap = NULL \
         WHERE reference = $3 AND {OPEN_STATES} AND deleted_at IS NULL"
    );
    let query = sqlx::query(&sql)
        .bind(state.as_str())
        .bind(ms(at))
        .bind(reference.to_string());
    if execute(query, &mut *conn).await? == 0 {
        return Ok(None);
    }
    super::frames::erase_open(&mut *conn, &reference.to_string()).await?;
    let updated = fetch_transaction(&mut *conn, reference)
        .await?
        .ok_or_else(|| StoreError::Corrupt("finalised transaction vanished".to_owned()))?;
    count_failure(&mut *conn, updated.enrollment, state, at).await?;
    if let Some(message) = renderer.render(&updated) {
        insert_outbox(conn, &message).await?;
    }
    Ok(Some(updated))
}

/// An initiation's writes (see [`TransactionStore::initiate_transaction`]),
/// on the caller's database transaction.
async fn initiate_in(
    conn: &mut AnyConnection,
    tx: &AuthTransaction,
    limit: RateLimit,
    renderer: &dyn CallbackRenderer,
) -> StoreResult<Vec<TransactionRef>> {
    take_initiation(&mut *conn, tx.account, tx.created_at, limit).await?;
    let dialect = Dialect::of(conn);
    // Initiations for one enrollment take turns (PostgreSQL; SQLite's
    // single writer already serialises them): the last one wins, and
    // expires every transaction the earlier ones left open.
    if dialect == Dialect::Postgres {
        let sql = format!(
            "SELECT 1 FROM enrollments WHERE reference = $1{}",
            dialect.lock_rows()
        );
        execute(
            sqlx::query(&sql).bind(tx.enrollment.to_string()),
            &mut *conn,
        )
        .await?;
    }

    let sql = format!(
        "SELECT reference FROM auth_transactions \
         WHERE enrollment = $1 AND {OPEN_STATES} AND deleted_at IS NULL \
         ORDER BY created_at, reference"
    );
    let open: Vec<TransactionRef> = rows(
        sqlx::query(&sql).bind(tx.enrollment.to_string()),
        &mut *conn,
    )
    .await?;
    let mut expired = Vec::with_capacity(open.len());
    for reference in open {
        // The new transaction supersedes the old one at the moment it is created.
        let done = finalize_in(
            &mut *conn,
            reference,
            TransactionState::Expired,
            tx.created_at,
            renderer,
        )
        .await?;
        if done.is_some() {
            expired.push(reference);
        }
    }

    let query = sqlx::query(
        "INSERT INTO auth_transactions (reference, account, enrollment, state, scan_source, \
         user_reference, callback_url, success_url, error_url, locale, token_hash, facemap, \
         created_at, expires_at, finalized_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(tx.reference.to_string())
    .bind(tx.account.to_string())
    .bind(tx.enrollment.to_string())
    .bind(tx.state.as_str())
    .bind(tx.scan_source.as_str())
    .bind(tx.user_reference.as_ref().map(|u| u.as_str()))
    .bind(tx.callback_url.as_ref().map(|u| u.as_str()))
    .bind(tx.success_url.as_ref().map(|u| u.as_str()))
    .bind(tx.error_url.as_ref().map(|u| u.as_str()))
    .bind(tx.locale.as_str())
    .bind(tx.token_hash.as_slice())
    .bind(tx.facemap.as_deref())
    .bind(ms(tx.created_at))
    .bind(ms(tx.expires_at))
    .bind(opt_ms(tx.finalized_at))
    .bind(opt_ms(tx.deleted_at));
    execute(query, conn).await?;

    Ok(expired)
}

/// A renderer for finalisations that must not queue a callback.
struct NoCallback;

impl CallbackRenderer for NoCallback {
    fn render(&self, _: &AuthTransaction) -> Option<OutboxMessage> {
        None
    }
}

#[async_trait]
impl TransactionStore for SqlStore {
    #[tracing::instrument(skip_all, fields(reference = %tx.reference, enrollment = %tx.enrollment))]
    async fn initiate_transaction(
        &self,
        tx: &AuthTransaction,
        limit: RateLimit,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Vec<TransactionRef>> {
        let expired = match &self.group {
            // SQLite: concurrent initiations share one commit (one fsync).
            Some(group) => {
                let mut member = group.join().await?;
                let done = initiate_in(member.conn(), tx, limit, renderer).await;
                member.finish(done).await?
            }
            None => {
                let mut db = self.begin_write().await?;
                let expired = initiate_in(&mut db, tx, limit, renderer).await?;
                commit(db).await?;
                expired
            }
        };
        if !expired.is_empty() {
            tracing::debug!(expired = expired.len(), "superseded open transactions");
        }
        Ok(expired)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn transaction(&self, reference: TransactionRef) -> StoreResult<Option<AuthTransaction>> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM auth_transactions WHERE reference = $1 AND deleted_at IS NULL"
        );
        row(sqlx::query(&sql).bind(reference.to_string()), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn transaction_by_token_hash(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<AuthTransaction>> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM auth_transactions WHERE token_hash = $1 AND deleted_at IS NULL"
        );
        row(sqlx::query(&sql).bind(hash.as_slice()), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn mark_started(
        &self,
        reference: TransactionRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE auth_transactions SET state = 'STARTED', started_at = $1 \
             WHERE reference = $2 AND state = 'CREATED' AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string());
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference, state = state.as_str()))]
    async fn finalize_transaction(
        &self,
        reference: TransactionRef,
        state: TransactionState,
        at: DateTime<Utc>,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Option<AuthTransaction>> {
        let mut db = self.begin_write().await?;
        let updated = finalize_in(&mut db, reference, state, at, renderer).await?;
        commit(db).await?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all)]
    async fn overdue_transactions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<TransactionRef>> {
        let sql = format!(
            "SELECT reference FROM auth_transactions \
             WHERE {OPEN_STATES} AND expires_at <= $1 AND deleted_at IS NULL \
             ORDER BY expires_at, reference LIMIT $2"
        );
        let query = sqlx::query(&sql).bind(ms(now)).bind(i64::from(limit));
        rows(query, &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn delete_transaction(
        &self,
        reference: TransactionRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut db = self.begin_write().await?;
        // A callback would carry the user reference to a URL that is being
        // erased: the customer's DELETE answer is the last word instead.
        finalize_in(
            &mut db,
            reference,
            TransactionState::Expired,
            at,
            &NoCallback,
        )
        .await?;
        let query = sqlx::query(
            "UPDATE auth_transactions SET user_reference = NULL, callback_url = NULL, \
             success_url = NULL, error_url = NULL, facemap = NULL, decision = NULL, \
             face_images = 0, liveness_images = 0, deleted_at = $1 \
             WHERE reference = $2 AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string());
        let deleted = execute(query, &mut *db).await? == 1;
        if deleted {
            erase_images(&mut db, reference).await?;
            end_capture(&mut db, reference, at).await?;
            erase_callbacks(&mut db, reference).await?;
        }
        commit(db).await?;
        if deleted {
            self.flush_erasure().await;
        }
        Ok(deleted)
    }
}
