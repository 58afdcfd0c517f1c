//! [`ConsoleStore`] in SQL: `console_users`, `console_sessions`,
//! `console_login_failures`, and the console's list of `scans`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, AuthTransaction, Scan};

use super::codec::{ms, CONSOLE_SESSION_COLUMNS, CONSOLE_USER_COLUMNS, SCAN_COLUMNS, TX_COLUMNS};
use super::{execute, row, rows, Query, SqlStore};
use crate::{ConsoleSession, ConsoleStore, ConsoleUser, ListFilter, StoreResult};

/// Binds a list's `?1` (the account) to `?6` (the limit) in the order both
/// lists name them.
fn bind_filter<'q>(query: Query<'q>, account: AccountId, filter: &'q ListFilter) -> Query<'q> {
    query
        .bind(account.to_string())
        .bind(filter.status.as_deref())
        .bind(filter.from.map(ms))
        .bind(filter.until.map(ms))
        .bind(filter.reference.as_deref())
        .bind(i64::from(filter.limit))
}

#[async_trait]
impl ConsoleStore for SqlStore {
    #[tracing::instrument(skip_all)]
    async fn insert_console_user(&self, user: &ConsoleUser) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO console_users (id, account, username, password_hash, created_at, \
             totp_secret, totp_last_step) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user.id.hyphenated().to_string())
        .bind(user.account.to_string())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(ms(user.created_at))
        .bind(user.totp_secret.as_deref())
        .bind(user.totp_last_step);
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn console_user(&self, username: &str) -> StoreResult<Option<ConsoleUser>> {
        let sql = format!("SELECT {CONSOLE_USER_COLUMNS} FROM console_users WHERE username = $1");
        row(sqlx::query(&sql).bind(username), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn insert_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, signed_in_at, last_seen_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(session.token_hash.as_slice())
        .bind(session.user.hyphenated().to_string())
        .bind(ms(session.signed_in_at))
        .bind(ms(session.last_seen_at));
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn console_session(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<(ConsoleSession, ConsoleUser)>> {
        let sql = format!(
            "SELECT {CONSOLE_SESSION_COLUMNS} FROM console_sessions s \
             JOIN console_users u ON u.id = s.user_id WHERE s.token_hash = $1"
        );
        row(sqlx::query(&sql).bind(token_hash.as_slice()), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn touch_console_session(
        &self,
        token_hash: &[u8; 32],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(ms(at))
                .bind(token_hash.as_slice());
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn end_console_session(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        let query = sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash.as_slice());
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn record_login_failure(&self, username: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let query =
            sqlx::query("INSERT INTO console_login_failures (username, at) VALUES ($1, $2)")
                .bind(username)
                .bind(ms(at));
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn login_failures(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DateTime<Utc>>> {
        let at: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM console_login_failures WHERE username = $1 AND at > $2 ORDER BY at",
        )
        .bind(username)
        .bind(ms(since))
        .fetch_all(&self.read)
        .await
        .map_err(super::codec::db_err)?;
        Ok(at
            .into_iter()
            .filter_map(DateTime::from_timestamp_millis)
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        let query =
            sqlx::query("DELETE FROM console_login_failures WHERE username = $1").bind(username);
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn sweep_console(
        &self,
        idle_before: DateTime<Utc>,
        signed_in_before: DateTime<Utc>,
        failures_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let sessions = sqlx::query(
            "DELETE FROM console_sessions WHERE last_seen_at < $1 OR signed_in_at < $2",
        )
        .bind(ms(idle_before))
        .bind(ms(signed_in_before));
        let failures = sqlx::query("DELETE FROM console_login_failures WHERE at < $1")
            .bind(ms(failures_before));
        Ok(execute(sessions, &self.write).await? + execute(failures, &self.write).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn use_totp_step(&self, user: uuid::Uuid, step: i64) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE console_users SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(user.hyphenated().to_string())
        .bind(step);
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all)]
    async fn list_scans(&self, account: AccountId, filter: &ListFilter) -> StoreResult<Vec<Scan>> {
        // Each condition holds when its value is NULL (no filter).
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM scans WHERE account = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR (CASE WHEN $2 = 'PENDING' THEN state = 'PENDING' \
                  ELSE verification_status = $2 END)) \
             AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
             AND ($5 IS NULL OR reference = $5 OR customer_internal_reference = $5) \
             ORDER BY created_at DESC, reference LIMIT $6"
        );
        rows(bind_filter(sqlx::query(&sql), account, filter), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_transactions(
        &self,
        account: AccountId,
        filter: &ListFilter,
    ) -> StoreResult<Vec<AuthTransaction>> {
        let sql = format!(
            "SELECT {TX_COLUMNS} FROM auth_transactions WHERE account = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
             AND ($5 IS NULL OR reference = $5 OR enrollment = $5 OR user_reference = $5) \
             ORDER BY created_at DESC, reference LIMIT $6"
        );
        rows(bind_filter(sqlx::query(&sql), account, filter), &self.read).await
    }
}
