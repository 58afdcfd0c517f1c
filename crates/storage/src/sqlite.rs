//! The SQLite [`Store`]: one database file in WAL mode, one writer connection
//! so that writes serialise inside the process, and a small pool of readers.

mod codec;
mod keys;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use facegate_domain::{
    Account, AccountId, AttemptState, AuthTransaction, CaptureAttempt, CaptureSession, Credential,
    Enrollment, EnrollmentRef, FailureStreak, TransactionRef, TransactionState,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Row;

use self::codec::{db_err, ms, opt_ms};
use crate::{
    AttemptFinish, CallbackRecord, CallbackRenderer, DeliveryAttempt, ImageKind, NextStep,
    OutboxMessage, OutboxStatus, PendingCallback, Store, StoreError, StoreResult,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Readers never block the writer in WAL mode; a few suffice for the API.
const READ_CONNECTIONS: u32 = 4;
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Starts every write transaction. IMMEDIATE takes the write lock up front, so
/// a transaction that reads before it writes can never fail on lock upgrade
/// (relevant when another process, e.g. an admin CLI, shares the file).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The open (non-final) states, spelled as in the schema's partial index so
/// that SQLite can use it.
const OPEN_STATES: &str = "state IN ('CREATED', 'STARTED')";

/// A [`Store`] backed by one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it, in order.
    write: SqlitePool,
    read: SqlitePool,
    /// Set when erased content may still sit in the WAL file because its
    /// checkpoint could not complete; the next [`Store::purge_callback_history`]
    /// retries it.
    erasure_pending: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path`. Run
    /// [`Store::migrate`] before first use.
    #[tracing::instrument(skip_all)]
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            // A state change reported to the customer must survive a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Deleted and overwritten content (erased personal data) is
            // zeroed in its page instead of lingering in free space.
            .pragma("secure_delete", "ON");

        // The writer is opened first: it creates the file and switches it to
        // WAL (a persistent property of the file), before any reader connects.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Keeping the writer open keeps the WAL index alive between bursts.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .map_err(db_err)?;

        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            // A write through a reader would bypass the writer's serialisation.
            .connect_with(base.create_if_missing(false).pragma("query_only", "ON"))
            .await
            .map_err(db_err)?;

        Ok(SqliteStore {
            write,
            read,
            erasure_pending: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.write.begin_with(BEGIN_WRITE).await.map_err(db_err)
    }

    /// Moves every committed page into the database file and truncates the
    /// WAL. `secure_delete` zeroes erased content in the new page versions,
    /// but the WAL still holds the older versions (the inserts) until it is
    /// truncated. Readers holding an older snapshot can make it incomplete;
    /// it is then retried by the next retention sweep.
    async fn flush_erasure(&self) {
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.write)
            .await;
        let complete = matches!(done, Ok((0, _, _)));
        self.erasure_pending.store(!complete, Ordering::SeqCst);
        if !complete {
            tracing::warn!("erased content stays in the WAL until the next retention sweep");
        }
    }
}

/// Reads a transaction, deleted or not.
async fn fetch_transaction(
    conn: &mut SqliteConnection,
    reference: TransactionRef,
) -> StoreResult<Option<AuthTransaction>> {
    let sql = format!(
        "SELECT {} FROM auth_transactions WHERE reference = ?",
        codec::TX_COLUMNS
    );
    sqlx::query(&sql)
        .bind(reference.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(codec::transaction)
        .transpose()
}

async fn insert_outbox(conn: &mut SqliteConnection, message: &OutboxMessage) -> StoreResult<()> {
    sqlx::query(
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
    .bind(ms(message.created_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Moves an open, undeleted transaction to `state`, erases its facemap and
/// queues its callback, all on the caller's database transaction. `None` when
/// the transaction was not open (or is unknown or deleted).
async fn finalize_in(
    conn: &mut SqliteConnection,
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
        "UPDATE auth_transactions SET state = ?, finalized_at = ?, facemap = NULL \
         WHERE reference = ? AND {OPEN_STATES} AND deleted_at IS NULL"
    );
    let done = sqlx::query(&sql)
        .bind(state.as_str())
        .bind(ms(at))
        .bind(reference.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    let updated = fetch_transaction(&mut *conn, reference)
        .await?
        .ok_or_else(|| StoreError::Corrupt("finalised transaction vanished".to_owned()))?;
    count_failure(&mut *conn, &updated.enrollment.to_string(), state, at).await?;
    if let Some(message) = renderer.render(&updated) {
        insert_outbox(conn, &message).await?;
    }
    Ok(Some(updated))
}

/// Keeps the enrollment's run of `FAILED` authentications (failure lockout):
/// `FAILED` extends it, `PASSED` ends it, other final states leave it alone.
async fn count_failure(
    conn: &mut SqliteConnection,
    enrollment: &str,
    state: TransactionState,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let sql = match state {
        TransactionState::Failed => {
            "INSERT INTO enrollment_failures (enrollment, consecutive, last_failure_at) \
             VALUES (?1, 1, ?2) ON CONFLICT (enrollment) DO UPDATE SET \
             consecutive = consecutive + 1, last_failure_at = ?2"
        }
        TransactionState::Passed => "DELETE FROM enrollment_failures WHERE enrollment = ?1",
        _ => return Ok(()),
    };
    sqlx::query(sql)
        .bind(enrollment)
        .bind(ms(at))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Erases a transaction's callbacks with their delivery attempts.
async fn erase_callbacks(conn: &mut SqliteConnection, reference: &str) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM delivery_attempts WHERE outbox_id IN \
         (SELECT id FROM outbox WHERE transaction_ref = ?)",
    )
    .bind(reference)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("DELETE FROM outbox WHERE transaction_ref = ?")
        .bind(reference)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// A renderer for finalisations that must not queue a callback.
struct NoCallback;

impl CallbackRenderer for NoCallback {
    fn render(&self, _: &AuthTransaction) -> Option<OutboxMessage> {
        None
    }
}

/// The one row `sql` selects with `key` bound, decoded; `None` when there is
/// none.
async fn row_by<'q, K, T>(
    pool: &SqlitePool,
    sql: &'q str,
    key: K,
    decode: fn(&sqlx::sqlite::SqliteRow) -> StoreResult<T>,
) -> StoreResult<Option<T>>
where
    K: 'q + sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send,
{
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Pushes the next attempt of just-claimed messages to `now + lease`, so no
/// other worker takes them meanwhile (both claim queries share it).
pub(crate) async fn lease_claimed(
    conn: &mut SqliteConnection,
    claimed: &[PendingCallback],
    now: DateTime<Utc>,
    lease: Duration,
) -> StoreResult<()> {
    let until = now
        .checked_add_signed(lease)
        .ok_or_else(|| StoreError::Backend("lease end out of range".to_owned()))?;
    for pending in claimed {
        sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ?")
            .bind(ms(until))
            .bind(pending.message.id.hyphenated().to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Whether the transaction `reference` is open and not deleted.
async fn is_open(conn: &mut SqliteConnection, reference: &str) -> StoreResult<bool> {
    let open: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM auth_transactions WHERE reference = ? AND {OPEN_STATES} \
         AND deleted_at IS NULL"
    ))
    .bind(reference)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(open.is_some())
}

/// Erases a deleted transaction's images and attempt decisions and ends its
/// capture sessions (the attempts themselves stay: their nonces stay burnt).
async fn erase_capture_data(
    conn: &mut SqliteConnection,
    reference: TransactionRef,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let r = reference.to_string();
    sqlx::query("DELETE FROM capture_images WHERE transaction_ref = ?")
        .bind(&r)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "UPDATE capture_attempts SET decision = NULL, \
         state = CASE WHEN state = 'OPEN' THEN 'ABANDONED' ELSE state END \
         WHERE transaction_ref = ?",
    )
    .bind(&r)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "UPDATE capture_sessions SET ended_at = COALESCE(ended_at, ?) WHERE transaction_ref = ?",
    )
    .bind(ms(at))
    .bind(&r)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.write).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => db_err(e),
            e => StoreError::Backend(e.to_string()),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account = %account.id))]
    async fn insert_account(&self, account: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, facemap_auth_enabled, callback_url, success_url, \
             error_url, default_token_lifetime_minutes, default_locale, webhook_salt, \
             webhook_key_id, webhook_previous_key_id, webhook_previous_until, parent_origin, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account.id.to_string())
        .bind(&account.name)
        .bind(account.facemap_auth_enabled)
        .bind(account.callback_url.as_ref().map(|u| u.as_str()))
        .bind(account.success_url.as_ref().map(|u| u.as_str()))
        .bind(account.error_url.as_ref().map(|u| u.as_str()))
        .bind(i64::from(account.default_token_lifetime_minutes))
        .bind(account.default_locale.as_str())
        .bind(account.webhook_salt.as_slice())
        .bind(i64::from(account.webhook_key_id))
        .bind(account.webhook_previous.map(|p| i64::from(p.key_id)))
        .bind(account.webhook_previous.map(|p| ms(p.until)))
        .bind(account.parent_origin.as_ref().map(|o| o.as_str()))
        .bind(ms(account.created_at))
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Updates everything but the id and `created_at`, which never change.
    #[tracing::instrument(skip_all, fields(account = %account.id))]
    async fn update_account(&self, account: &Account) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET name = ?, facemap_auth_enabled = ?, callback_url = ?, \
             success_url = ?, error_url = ?, default_token_lifetime_minutes = ?, \
             default_locale = ?, webhook_salt = ?, webhook_key_id = ?, \
             webhook_previous_key_id = ?, webhook_previous_until = ?, parent_origin = ? \
             WHERE id = ?",
        )
        .bind(&account.name)
        .bind(account.facemap_auth_enabled)
        .bind(account.callback_url.as_ref().map(|u| u.as_str()))
        .bind(account.success_url.as_ref().map(|u| u.as_str()))
        .bind(account.error_url.as_ref().map(|u| u.as_str()))
        .bind(i64::from(account.default_token_lifetime_minutes))
        .bind(account.default_locale.as_str())
        .bind(account.webhook_salt.as_slice())
        .bind(i64::from(account.webhook_key_id))
        .bind(account.webhook_previous.map(|p| i64::from(p.key_id)))
        .bind(account.webhook_previous.map(|p| ms(p.until)))
        .bind(account.parent_origin.as_ref().map(|o| o.as_str()))
        .bind(account.id.to_string())
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(account = %id))]
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE id = ?",
            codec::ACCOUNT_COLUMNS
        );
        row_by(&self.read, &sql, id.to_string(), codec::account).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let sql = format!(
            "SELECT {} FROM accounts ORDER BY created_at, id",
            codec::ACCOUNT_COLUMNS
        );
        sqlx::query(&sql)
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(codec::account)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(account = %credential.account, credential = %credential.id))]
    async fn insert_credential(&self, credential: &Credential) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO credentials (id, account, token, secret_hash, role, created_at, \
             revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(credential.id.to_string())
        .bind(credential.account.to_string())
        .bind(&credential.token)
        .bind(&credential.secret_hash)
        .bind(credential.role.as_str())
        .bind(ms(credential.created_at))
        .bind(opt_ms(credential.revoked_at))
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Revoked credentials are returned too: the caller decides what
    /// `revoked_at` means for the request at hand.
    #[tracing::instrument(skip_all)]
    async fn credential_by_token(&self, token: &str) -> StoreResult<Option<Credential>> {
        let sql = format!(
            "SELECT {} FROM credentials WHERE token = ?",
            codec::CREDENTIAL_COLUMNS
        );
        row_by(&self.read, &sql, token, codec::credential).await
    }

    #[tracing::instrument(skip_all, fields(account = %account))]
    async fn list_credentials(&self, account: AccountId) -> StoreResult<Vec<Credential>> {
        let sql = format!(
            "SELECT {} FROM credentials WHERE account = ? ORDER BY created_at, id",
            codec::CREDENTIAL_COLUMNS
        );
        sqlx::query(&sql)
            .bind(account.to_string())
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(codec::credential)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_credential(&self, token: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE token = ? AND revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(token)
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(reference = %enrollment.reference))]
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> StoreResult<()> {
        let binding = enrollment.facemap.as_ref();
        sqlx::query(
            "INSERT INTO enrollments (reference, account, verification_status, similarity, \
             validity, facemap_serial, facemap_model, facemap_revoked_at, server_facemap, \
             facemap_key_id, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(enrollment.reference.to_string())
        .bind(enrollment.account.to_string())
        .bind(enrollment.verification_status.map(|v| v.as_str()))
        .bind(enrollment.similarity.map(|v| v.as_str()))
        .bind(enrollment.validity)
        .bind(binding.map(|b| codec::serial_to_db(b.serial)))
        .bind(binding.map(|b| b.model.as_str()))
        .bind(binding.and_then(|b| opt_ms(b.revoked_at)))
        .bind(enrollment.server_facemap.as_deref())
        .bind(
            enrollment
                .server_facemap
                .as_deref()
                .and_then(keys::facemap_key_id)
                .map(i64::from),
        )
        .bind(ms(enrollment.created_at))
        .bind(opt_ms(enrollment.deleted_at))
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Tombstones are returned too: facemap authentication needs them.
    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn enrollment(&self, reference: EnrollmentRef) -> StoreResult<Option<Enrollment>> {
        let sql = format!(
            "SELECT {} FROM enrollments WHERE reference = ?",
            codec::ENROLLMENT_COLUMNS
        );
        row_by(&self.read, &sql, reference.to_string(), codec::enrollment).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn delete_enrollment(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Mirrors `Enrollment::into_tombstone`: decision and binding stay.
        let done = sqlx::query(
            "UPDATE enrollments SET server_facemap = NULL, deleted_at = ? \
             WHERE reference = ? AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string())
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn revoke_facemap(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE enrollments SET facemap_revoked_at = ? \
             WHERE reference = ? AND facemap_serial IS NOT NULL AND facemap_revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string())
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(skip_all, fields(reference = %tx.reference, enrollment = %tx.enrollment))]
    async fn initiate_transaction(
        &self,
        tx: &AuthTransaction,
        renderer: &dyn CallbackRenderer,
    ) -> StoreResult<Vec<TransactionRef>> {
        let mut db = self.begin_write().await?;

        let sql = format!(
            "SELECT reference FROM auth_transactions \
             WHERE enrollment = ? AND {OPEN_STATES} AND deleted_at IS NULL \
             ORDER BY created_at, reference"
        );
        let open = sqlx::query(&sql)
            .bind(tx.enrollment.to_string())
            .fetch_all(&mut *db)
            .await
            .map_err(db_err)?;
        let mut expired = Vec::with_capacity(open.len());
        for row in &open {
            let raw: String = row.try_get("reference").map_err(db_err)?;
            let reference: TransactionRef = raw
                .parse()
                .map_err(|_| StoreError::Corrupt("reference: not a hyphenated UUID".to_owned()))?;
            // The new transaction supersedes the old one at the moment it is created.
            let done = finalize_in(
                &mut db,
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

        sqlx::query(
            "INSERT INTO auth_transactions (reference, account, enrollment, state, scan_source, \
             user_reference, callback_url, success_url, error_url, locale, token_hash, facemap, \
             created_at, expires_at, finalized_at, deleted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(opt_ms(tx.deleted_at))
        .execute(&mut *db)
        .await
        .map_err(db_err)?;

        db.commit().await.map_err(db_err)?;
        if !expired.is_empty() {
            tracing::debug!(expired = expired.len(), "superseded open transactions");
        }
        Ok(expired)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn transaction(&self, reference: TransactionRef) -> StoreResult<Option<AuthTransaction>> {
        let sql = format!(
            "SELECT {} FROM auth_transactions WHERE reference = ? AND deleted_at IS NULL",
            codec::TX_COLUMNS
        );
        sqlx::query(&sql)
            .bind(reference.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(codec::transaction)
            .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn transaction_by_token_hash(
        &self,
        hash: &[u8; 32],
    ) -> StoreResult<Option<AuthTransaction>> {
        let sql = format!(
            "SELECT {} FROM auth_transactions WHERE token_hash = ? AND deleted_at IS NULL",
            codec::TX_COLUMNS
        );
        sqlx::query(&sql)
            .bind(hash.as_slice())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(codec::transaction)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn mark_started(
        &self,
        reference: TransactionRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE auth_transactions SET state = 'STARTED', started_at = ? \
             WHERE reference = ? AND state = 'CREATED' AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string())
        .execute(&self.write)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
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
        db.commit().await.map_err(db_err)?;
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
             WHERE {OPEN_STATES} AND expires_at <= ? AND deleted_at IS NULL \
             ORDER BY expires_at, reference LIMIT ?"
        );
        sqlx::query(&sql)
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| {
                let raw: String = row.try_get("reference").map_err(db_err)?;
                raw.parse()
                    .map_err(|_| StoreError::Corrupt("reference: not a hyphenated UUID".to_owned()))
            })
            .collect()
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
        let done = sqlx::query(
            "UPDATE auth_transactions SET user_reference = NULL, callback_url = NULL, \
             success_url = NULL, error_url = NULL, facemap = NULL, decision = NULL, \
             face_images = 0, liveness_images = 0, deleted_at = ? \
             WHERE reference = ? AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string())
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            erase_capture_data(&mut db, reference, at).await?;
            erase_callbacks(&mut db, &reference.to_string()).await?;
        }
        db.commit().await.map_err(db_err)?;
        if deleted {
            self.flush_erasure().await;
        }
        Ok(deleted)
    }

    #[tracing::instrument(skip_all, fields(enrollment = %enrollment))]
    async fn failure_streak(&self, enrollment: EnrollmentRef) -> StoreResult<FailureStreak> {
        let sql =
            "SELECT consecutive, last_failure_at FROM enrollment_failures WHERE enrollment = ?";
        Ok(row_by(
            &self.read,
            sql,
            enrollment.to_string(),
            codec::failure_streak,
        )
        .await?
        .unwrap_or_default())
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn enrollment_with_streak(
        &self,
        reference: EnrollmentRef,
    ) -> StoreResult<Option<(Enrollment, FailureStreak)>> {
        let sql = format!(
            "SELECT {}, f.consecutive, f.last_failure_at FROM enrollments \
             LEFT JOIN enrollment_failures f ON f.enrollment = enrollments.reference \
             WHERE enrollments.reference = ?",
            codec::ENROLLMENT_COLUMNS
        );
        row_by(
            &self.read,
            &sql,
            reference.to_string(),
            codec::enrollment_with_streak,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(reference = %session.transaction))]
    async fn open_capture_session(&self, session: &CaptureSession) -> StoreResult<bool> {
        let mut db = self.begin_write().await?;
        let r = session.transaction.to_string();
        if !is_open(&mut db, &r).await? {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE capture_sessions SET ended_at = ? WHERE transaction_ref = ? AND ended_at IS NULL",
        )
        .bind(ms(session.created_at))
        .bind(&r)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO capture_sessions (token_hash, transaction_ref, created_at, expires_at, \
             ended_at, scan_source) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(session.token_hash.as_slice())
        .bind(&r)
        .bind(ms(session.created_at))
        .bind(ms(session.expires_at))
        .bind(opt_ms(session.ended_at))
        .bind(session.scan_source.as_str())
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE auth_transactions SET state = 'STARTED', \
             started_at = COALESCE(started_at, ?), scan_source = ? \
             WHERE reference = ?",
        )
        .bind(ms(session.created_at))
        .bind(session.scan_source.as_str())
        .bind(&r)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn capture_session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<CaptureSession>> {
        let sql = format!(
            "SELECT {} FROM capture_sessions WHERE token_hash = ?",
            codec::SESSION_COLUMNS
        );
        row_by(
            &self.read,
            &sql,
            token_hash.as_slice(),
            codec::capture_session,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(reference = %attempt.transaction, number = attempt.number))]
    async fn insert_attempt(&self, attempt: &CaptureAttempt) -> StoreResult<()> {
        let challenge = serde_json::to_string(&attempt.challenge)
            .map_err(|e| StoreError::Backend(format!("challenge encoding: {e}")))?;
        let mut db = self.begin_write().await?;
        let r = attempt.transaction.to_string();
        sqlx::query(
            "UPDATE capture_attempts SET state = 'ABANDONED' \
             WHERE transaction_ref = ? AND state = 'OPEN'",
        )
        .bind(&r)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO capture_attempts (id, transaction_ref, number, nonce, challenge, flash, \
             issued_at, state, outcome, decision, finished_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        )
        .bind(attempt.id.hyphenated().to_string())
        .bind(&r)
        .bind(i64::from(attempt.number))
        .bind(attempt.nonce.as_slice())
        .bind(challenge)
        .bind(attempt.flash)
        .bind(ms(attempt.issued_at))
        .bind(attempt.state.as_str())
        .bind(attempt.outcome.map(|o| o.as_str()))
        .bind(opt_ms(attempt.finished_at))
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(attempt = %id))]
    async fn attempt(&self, id: uuid::Uuid) -> StoreResult<Option<CaptureAttempt>> {
        let sql = format!(
            "SELECT {} FROM capture_attempts WHERE id = ?",
            codec::CAPTURE_ATTEMPT_COLUMNS
        );
        row_by(
            &self.read,
            &sql,
            id.hyphenated().to_string(),
            codec::capture_attempt,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn attempt_by_nonce(&self, nonce: &[u8; 16]) -> StoreResult<Option<CaptureAttempt>> {
        let sql = format!(
            "SELECT {} FROM capture_attempts WHERE nonce = ?",
            codec::CAPTURE_ATTEMPT_COLUMNS
        );
        row_by(&self.read, &sql, nonce.as_slice(), codec::capture_attempt).await
    }

    #[tracing::instrument(skip_all, fields(reference = %transaction))]
    async fn attempts_used(&self, transaction: TransactionRef) -> StoreResult<u8> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM capture_attempts WHERE transaction_ref = ?")
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
        let mut db = self.begin_write().await?;
        let r = finish.transaction.to_string();
        if !is_open(&mut db, &r).await? {
            return Ok(None);
        }
        let done = sqlx::query(
            "UPDATE capture_attempts SET state = ?, outcome = ?, decision = ?, finished_at = ? \
             WHERE id = ? AND transaction_ref = ? AND state = 'OPEN'",
        )
        .bind(AttemptState::Finished.as_str())
        .bind(finish.outcome.as_str())
        .bind(&finish.decision)
        .bind(ms(finish.at))
        .bind(finish.attempt.hyphenated().to_string())
        .bind(&r)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let Some(state) = finish.outcome.final_state() else {
            let tx = fetch_transaction(&mut db, finish.transaction).await?;
            db.commit().await.map_err(db_err)?;
            return Ok(tx);
        };
        let mut face = 0i64;
        let mut liveness = 0i64;
        for image in &finish.images {
            match image.kind {
                ImageKind::Face => face = 1,
                ImageKind::Liveness => liveness += 1,
            }
            sqlx::query(
                "INSERT INTO capture_images (transaction_ref, kind, n, sealed, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&r)
            .bind(image.kind.as_str())
            .bind(i64::from(image.n))
            .bind(image.sealed.as_slice())
            .bind(ms(finish.at))
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        }
        // The decision and image counts first, so that the callback rendered
        // by the finalisation names the images.
        sqlx::query(
            "UPDATE auth_transactions SET decision = ?, face_images = ?, liveness_images = ? \
             WHERE reference = ?",
        )
        .bind(&finish.decision)
        .bind(face)
        .bind(liveness)
        .bind(&r)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        let updated = finalize_in(&mut db, finish.transaction, state, finish.at, renderer).await?;
        if updated.is_none() {
            // Cannot happen inside this database transaction; write nothing.
            return Err(StoreError::Conflict(
                "transaction left the open states".to_owned(),
            ));
        }
        db.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(reference = %transaction, kind = kind.as_str(), n = n))]
    async fn image(
        &self,
        transaction: TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT i.sealed FROM capture_images i JOIN auth_transactions t \
             ON t.reference = i.transaction_ref \
             WHERE i.transaction_ref = ? AND i.kind = ? AND i.n = ? AND t.deleted_at IS NULL",
        )
        .bind(transaction.to_string())
        .bind(kind.as_str())
        .bind(i64::from(n))
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)
    }

    #[tracing::instrument(skip_all)]
    async fn purge_images(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        let purged = sqlx::query("DELETE FROM capture_images WHERE created_at < ?")
            .bind(ms(before))
            .execute(&mut *db)
            .await
            .map_err(db_err)?
            .rows_affected();
        if purged > 0 {
            sqlx::query(
                "UPDATE auth_transactions SET face_images = 0, liveness_images = 0 \
                 WHERE (face_images > 0 OR liveness_images > 0) AND NOT EXISTS \
                 (SELECT 1 FROM capture_images i WHERE i.transaction_ref = reference)",
            )
            .execute(&mut *db)
            .await
            .map_err(db_err)?;
        }
        db.commit().await.map_err(db_err)?;
        if purged > 0 {
            self.erasure_pending.store(true, Ordering::SeqCst);
        }
        Ok(purged)
    }

    #[tracing::instrument(skip_all, fields(limit = limit))]
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<PendingCallback>> {
        let mut db = self.begin_write().await?;
        let sql = format!(
            "SELECT {} FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, created_at, id LIMIT ?",
            codec::OUTBOX_COLUMNS
        );
        let claimed = sqlx::query(&sql)
            .bind(ms(now))
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

    async fn claim_due_callbacks_fair(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        fairness: &crate::ClaimFairness,
    ) -> StoreResult<Vec<PendingCallback>> {
        self.claim_fair(now, lease, limit, fairness).await
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
        let done = sqlx::query(
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
        .bind(&id)
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            // Erased with its deleted transaction while this attempt ran.
            return Ok(());
        }
        sqlx::query(
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
        .bind(codec::duration_to_db(attempt.duration_ms))
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        db.commit().await.map_err(db_err)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn purge_callback_history(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut db = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE status <> 'PENDING' AND created_at < ?)",
        )
        .bind(ms(before))
        .execute(&mut *db)
        .await
        .map_err(db_err)?;
        let purged = sqlx::query("DELETE FROM outbox WHERE status <> 'PENDING' AND created_at < ?")
            .bind(ms(before))
            .execute(&mut *db)
            .await
            .map_err(db_err)?
            .rows_affected();
        db.commit().await.map_err(db_err)?;
        if purged > 0 || self.erasure_pending.load(Ordering::SeqCst) {
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
            "SELECT {} FROM outbox WHERE account = ? AND transaction_ref = ? \
             ORDER BY created_at, rowid",
            codec::OUTBOX_COLUMNS
        );
        let mut records = sqlx::query(&sql)
            .bind(account.to_string())
            .bind(reference.to_string())
            .fetch_all(&mut *db)
            .await
            .map_err(db_err)?
            .iter()
            .map(codec::callback_record)
            .collect::<StoreResult<Vec<_>>>()?;
        if records.is_empty() {
            return Ok(records);
        }

        let sql = format!(
            "SELECT {} FROM delivery_attempts WHERE outbox_id IN \
             (SELECT id FROM outbox WHERE account = ? AND transaction_ref = ?) \
             ORDER BY outbox_id, attempt_no",
            codec::ATTEMPT_COLUMNS
        );
        let attempts = sqlx::query(&sql)
            .bind(account.to_string())
            .bind(reference.to_string())
            .fetch_all(&mut *db)
            .await
            .map_err(db_err)?
            .iter()
            .map(codec::delivery_attempt)
            .collect::<StoreResult<Vec<_>>>()?;
        db.commit().await.map_err(db_err)?;

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
