//! [`AccountStore`] in SQL: the `accounts` and `credentials` tables, and
//! each account's shared initiation budget (`initiation_budgets`), taken by
//! the initiations of authentications and scans ([`take_initiation`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{Account, AccountId, Credential, RateLimit, TokenBucket};
use sqlx::AnyConnection;

use super::codec::{db_err, flag_to_db, ms, opt_ms, ACCOUNT_COLUMNS, CREDENTIAL_COLUMNS};
use super::{execute, row, rows, Dialect, Query, SqlStore};
use crate::{AccountStore, StoreError, StoreResult};

/// Binds every column of an account but `id` and `created_at`, in the order
/// both the insert and the update name them.
fn bind_settings<'q>(query: Query<'q>, account: &'q Account) -> Query<'q> {
    query
        .bind(&account.name)
        .bind(flag_to_db(account.facemap_auth_enabled))
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
        .bind(flag_to_db(account.refuse_pii_user_reference))
        .bind(private_targets(account))
        .bind(i64::from(account.scan_retention_days))
        .bind(non_empty(account.accepted_documents.types_text()))
        .bind(non_empty(account.accepted_documents.countries_text()))
        .bind(flag_to_db(account.accepted_documents.accept_expired))
}

/// An empty list is stored as NULL (accepts everything).
fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// The canonical text of the account's private callback targets; none is NULL.
fn private_targets(account: &Account) -> Option<String> {
    let private = &account.callback_private_targets;
    (!private.is_empty()).then(|| private.to_string())
}

/// Takes one initiation from the account's shared budget, on the caller's
/// database transaction: the account's bucket row is created full if
/// missing, then read locked (PostgreSQL: concurrent initiations of the
/// account on any node wait for it), taken from by the domain's rule and
/// written back.
pub(super) async fn take_initiation(
    conn: &mut AnyConnection,
    account: AccountId,
    at: DateTime<Utc>,
    limit: RateLimit,
) -> StoreResult<()> {
    if limit.is_off() {
        return Ok(());
    }
    let account = account.to_string();
    let full = limit.full(at);
    let query = sqlx::query(
        "INSERT INTO initiation_budgets (account, micro_tokens, at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (account) DO NOTHING",
    )
    .bind(&account)
    .bind(full.micro_tokens)
    .bind(ms(full.at));
    execute(query, &mut *conn).await?;
    let lock = Dialect::of(conn).lock_rows();
    let (micro_tokens, at_ms): (i64, i64) = sqlx::query_as(&format!(
        "SELECT micro_tokens, at_ms FROM initiation_budgets WHERE account = $1{lock}"
    ))
    .bind(&account)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let stored_at = DateTime::from_timestamp_millis(at_ms)
        .ok_or_else(|| StoreError::Corrupt("initiation budget time out of range".to_owned()))?;
    let next = limit
        .take(
            Some(TokenBucket {
                micro_tokens,
                at: stored_at,
            }),
            at,
        )
        .map_err(|retry_after_secs| StoreError::RateLimited { retry_after_secs })?;
    let query = sqlx::query(
        "UPDATE initiation_budgets SET micro_tokens = $1, at_ms = $2 WHERE account = $3",
    )
    .bind(next.micro_tokens)
    .bind(ms(next.at))
    .bind(&account);
    execute(query, conn).await?;
    Ok(())
}

#[async_trait]
impl AccountStore for SqlStore {
    #[tracing::instrument(skip_all, fields(account = %account.id))]
    async fn insert_account(&self, account: &Account) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO accounts (name, facemap_auth_enabled, callback_url, success_url, \
             error_url, default_token_lifetime_minutes, default_locale, webhook_salt, \
             webhook_key_id, webhook_previous_key_id, webhook_previous_until, parent_origin, \
             refuse_pii_user_reference, callback_private_targets, scan_retention_days, \
             accepted_document_types, accepted_countries, accept_expired_documents, id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        );
        let query = bind_settings(query, account)
            .bind(account.id.to_string())
            .bind(ms(account.created_at));
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account = %account.id))]
    async fn update_account(&self, account: &Account) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE accounts SET name = $1, facemap_auth_enabled = $2, callback_url = $3, \
             success_url = $4, error_url = $5, default_token_lifetime_minutes = $6, \
             default_locale = $7, webhook_salt = $8, webhook_key_id = $9, \
             webhook_previous_key_id = $10, webhook_previous_until = $11, parent_origin = $12, \
             refuse_pii_user_reference = $13, callback_private_targets = $14, \
             scan_retention_days = $15, accepted_document_types = $16, accepted_countries = $17, \
             accept_expired_documents = $18 WHERE id = $19",
        );
        let query = bind_settings(query, account).bind(account.id.to_string());
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(account = %id))]
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        row(sqlx::query(&sql).bind(id.to_string()), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id");
        rows(sqlx::query(&sql), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(account = %credential.account, credential = %credential.id))]
    async fn insert_credential(&self, credential: &Credential) -> StoreResult<()> {
        let query = sqlx::query(
            "INSERT INTO credentials (id, account, token, secret_hash, role, created_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(credential.id.to_string())
        .bind(credential.account.to_string())
        .bind(&credential.token)
        .bind(&credential.secret_hash)
        .bind(credential.role.as_str())
        .bind(ms(credential.created_at))
        .bind(opt_ms(credential.revoked_at));
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn credential_by_token(&self, token: &str) -> StoreResult<Option<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE token = $1");
        row(sqlx::query(&sql).bind(token), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(account = %account))]
    async fn list_credentials(&self, account: AccountId) -> StoreResult<Vec<Credential>> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account = $1 \
             ORDER BY created_at, id"
        );
        rows(sqlx::query(&sql).bind(account.to_string()), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_credential(&self, token: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE credentials SET revoked_at = $1 WHERE token = $2 AND revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(token);
        Ok(execute(query, &self.write).await? == 1)
    }
}
