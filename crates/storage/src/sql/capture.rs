//! [`CaptureStore`] in SQL: the `capture_sessions` and `capture_attempts`
//! tables. Finishing an attempt with a final outcome writes its images and
//! finalises its transaction on the same database transaction.

use async_trait::async_trait;
use facegate_domain::{
    AttemptState, AuthTransaction, CaptureAttempt, CaptureSession, TransactionRef,
};
use sqlx::AnyConnection;
use uuid::Uuid;

use super::codec::{db_err, flag_to_db, ms, opt_ms, CAPTURE_ATTEMPT_COLUMNS, SESSION_COLUMNS};
use super::images::insert_images;
use super::transactions::{fetch_transaction, finalize_in, is_open};
use super::{commit, execute, frames, row, Dialect, SqlStore};
use crate::{AttemptFinish, CallbackRenderer, CaptureStore, StoreError, StoreResult};

/// Ends the subject's earlier sessions and records `session`, on the
/// caller's database transaction (authentications and scans alike).
pub(super) async fn insert_session(
    conn: &mut AnyConnection,
    session: &CaptureSession,
) -> StoreResult<()> {
    let r = session.transaction.to_string();
    let query = sqlx::query(
        "UPDATE capture_sessions SET ended_at = $1 WHERE transaction_ref = $2 AND ended_at IS NULL",
    )
    .bind(ms(session.created_at))
    .bind(&r);
    execute(query, &mut *conn).await?;
    let query = sqlx::query(
        "INSERT INTO capture_sessions (token_hash, transaction_ref, created_at, expires_at, \
         ended_at, scan_source, subject) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session.token_hash.as_slice())
    .bind(&r)
    .bind(ms(session.created_at))
    .bind(ms(session.expires_at))
    .bind(opt_ms(session.ended_at))
    .bind(session.scan_source.as_str())
    .bind(session.subject.as_str());
    execute(query, conn).await?;
    Ok(())
}

/// Makes one subject's capture writes take turns (PostgreSQL): locks the
/// authentication or the scan `reference` names, whichever it is, until the
/// caller's database transaction ends. SQLite's single writer already does.
async fn lock_subject(conn: &mut AnyConnection, reference: &str) -> StoreResult<()> {
    let dialect = Dialect::of(conn);
    if dialect == Dialect::Sqlite {
        return Ok(());
    }
    let lock = dialect.lock_rows();
    for table in ["auth_transactions", "scans"] {
        let sql = format!("SELECT 1 FROM {table} WHERE reference = $1{lock}");
        execute(sqlx::query(&sql).bind(reference), &mut *conn).await?;
    }
    Ok(())
}

#[async_trait]
impl CaptureStore for SqlStore {
    #[tracing::instrument(skip_all, fields(reference = %session.transaction))]
    async fn open_capture_session(&self, session: &CaptureSession) -> StoreResult<bool> {
        let mut db = self.begin_write().await?;
        let r = session.transaction.to_string();
        if !is_open(&mut db, &r).await? {
            return Ok(false);
        }
        insert_session(&mut db, session).await?;
        let query = sqlx::query(
            "UPDATE auth_transactions SET state = 'STARTED', \
             started_at = COALESCE(started_at, $1), scan_source = $2 \
             WHERE reference = $3",
        )
        .bind(ms(session.created_at))
        .bind(session.scan_source.as_str())
        .bind(&r);
        execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn capture_session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<CaptureSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM capture_sessions WHERE token_hash = $1");
        row(sqlx::query(&sql).bind(token_hash.as_slice()), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %attempt.transaction, number = attempt.number))]
    async fn insert_attempt(&self, attempt: &CaptureAttempt) -> StoreResult<()> {
        let challenge = serde_json::to_string(&attempt.challenge)
            .map_err(|e| StoreError::Backend(format!("challenge encoding: {e}")))?;
        let mut db = self.begin_write().await?;
        let r = attempt.transaction.to_string();
        // The new attempt abandons the open one: two at once would both stay open.
        lock_subject(&mut db, &r).await?;
        let query = sqlx::query(
            "UPDATE capture_attempts SET state = 'ABANDONED' \
             WHERE transaction_ref = $1 AND state = 'OPEN'",
        )
        .bind(&r);
        execute(query, &mut *db).await?;
        let query = sqlx::query(
            "INSERT INTO capture_attempts (id, transaction_ref, number, nonce, challenge, flash, \
             issued_at, state, outcome, decision, finished_at, model) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11)",
        )
        .bind(attempt.id.hyphenated().to_string())
        .bind(&r)
        .bind(i64::from(attempt.number))
        .bind(attempt.nonce.as_slice())
        .bind(challenge)
        .bind(flag_to_db(attempt.flash))
        .bind(ms(attempt.issued_at))
        .bind(attempt.state.as_str())
        .bind(attempt.outcome.map(|o| o.as_str()))
        .bind(opt_ms(attempt.finished_at))
        .bind(&attempt.model);
        execute(query, &mut *db).await?;
        frames::erase_ended(&mut db, &r).await?;
        commit(db).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(attempt = %id))]
    async fn attempt(&self, id: Uuid) -> StoreResult<Option<CaptureAttempt>> {
        let sql = format!("SELECT {CAPTURE_ATTEMPT_COLUMNS} FROM capture_attempts WHERE id = $1");
        row(
            sqlx::query(&sql).bind(id.hyphenated().to_string()),
            &self.read,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn attempt_by_nonce(&self, nonce: &[u8; 16]) -> StoreResult<Option<CaptureAttempt>> {
        let sql =
            format!("SELECT {CAPTURE_ATTEMPT_COLUMNS} FROM capture_attempts WHERE nonce = $1");
        row(sqlx::query(&sql).bind(nonce.as_slice()), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %transaction))]
    async fn attempts_used(&self, transaction: TransactionRef) -> StoreResult<u8> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM capture_attempts WHERE transaction_ref = $1")
                .bind(transaction.to_string())
                .fetch_one(&self.read)
                .await
                .map_err(db_err)?;
        u8::try_from(n).map_err(|_| StoreError::Corrupt("attempt count out of range".to_owned()))
    }

    #[tracing::instrument(skip_all, fields(reference = %finish.transaction, outcome = finish.outcome.as_str()))]
    async fn finish_attempt(
        &self,
        finish: &AttemptFinish,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Option<AuthTransaction>> {
        let decision = serde_json::to_string(&finish.decision)
            .map_err(|e| StoreError::Corrupt(format!("a decision that does not serialise: {e}")))?;
        let mut db = self.begin_write().await?;
        let r = finish.transaction.to_string();
        if !is_open(&mut db, &r).await? {
            return Ok(None);
        }
        let query = sqlx::query(
            "UPDATE capture_attempts SET state = $1, outcome = $2, decision = $3, finished_at = $4 \
             WHERE id = $5 AND transaction_ref = $6 AND state = 'OPEN'",
        )
        .bind(AttemptState::Finished.as_str())
        .bind(finish.outcome.as_str())
        .bind(&decision)
        .bind(ms(finish.at))
        .bind(finish.attempt.hyphenated().to_string())
        .bind(&r);
        if execute(query, &mut *db).await? == 0 {
            return Ok(None);
        }
        let Some(state) = finish.outcome.final_state() else {
            let tx = fetch_transaction(&mut db, finish.transaction).await?;
            commit(db).await?;
            return Ok(tx);
        };
        let (face, liveness) =
            insert_images(&mut db, finish.transaction, &finish.images, finish.at).await?;
        // The decision and image counts first, so that the callback rendered
        // by the finalisation names the images.
        let query = sqlx::query(
            "UPDATE auth_transactions SET decision = $1, face_images = $2, liveness_images = $3 \
             WHERE reference = $4",
        )
        .bind(&decision)
        .bind(face)
        .bind(liveness)
        .bind(&r);
        execute(query, &mut *db).await?;
        let updated = finalize_in(&mut db, finish.transaction, state, finish.at, renderer).await?;
        if updated.is_none() {
            // Cannot happen inside this database transaction; write nothing.
            return Err(StoreError::Conflict(
                "transaction left the open states".to_owned(),
            ));
        }
        commit(db).await?;
        Ok(updated)
    }
}
