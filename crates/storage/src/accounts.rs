//! Customer accounts and the API credentials that act for them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{Account, AccountId, Credential};

use crate::StoreResult;

/// Accounts and their credentials.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn insert_account(&self, account: &Account) -> StoreResult<()>;
    /// Updates everything but the id and `created_at`, which never change.
    /// Returns false when the account is unknown.
    async fn update_account(&self, account: &Account) -> StoreResult<bool>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    /// Every account, oldest first.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn insert_credential(&self, credential: &Credential) -> StoreResult<()>;
    /// Revoked credentials are returned too: the caller decides what
    /// `revoked_at` means for the request at hand.
    async fn credential_by_token(&self, token: &str) -> StoreResult<Option<Credential>>;
    /// The account's credentials, revoked ones included, oldest first.
    async fn list_credentials(&self, account: AccountId) -> StoreResult<Vec<Credential>>;
    /// Returns false when no active credential has this token.
    async fn revoke_credential(&self, token: &str, at: DateTime<Utc>) -> StoreResult<bool>;
}
