//! The operator console's users, sessions and failed sign-ins, and the
//! account's ID verifications as the console lists them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{AccountId, AuthTransaction, Scan};
use uuid::Uuid;

use crate::StoreResult;

/// A console user: one account's reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: Uuid,
    pub account: AccountId,
    /// A parsed [`facegate_domain::ConsoleUsername`].
    pub username: String,
    /// Argon2id, PHC string.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// The TOTP secret, sealed by the caller; `None`: password only.
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP step a code was accepted for.
    pub totp_last_step: Option<i64>,
}

/// A signed-in console session, by the SHA-256 of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub token_hash: [u8; 32],
    pub user: Uuid,
    pub signed_in_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// What a console list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Scans: a `verificationStatus`, or `PENDING` for those not decided
    /// yet. Authentications: a state (`CREATED` … `EXPIRED`).
    pub status: Option<String>,
    /// Initiated at or after / before.
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Exactly: a scan's reference or its `customerInternalReference`; an
    /// authentication's reference, its enrollment's or its
    /// `userReference`.
    pub reference: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// `StoreError::Conflict` when the name is taken.
    async fn insert_console_user(&self, user: &ConsoleUser) -> StoreResult<()>;
    async fn console_user(&self, username: &str) -> StoreResult<Option<ConsoleUser>>;
    async fn insert_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// The session and its user.
    async fn console_session(
        &self,
        token_hash: &[u8; 32],
    ) -> StoreResult<Option<(ConsoleSession, ConsoleUser)>>;
    async fn touch_console_session(
        &self,
        token_hash: &[u8; 32],
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn end_console_session(&self, token_hash: &[u8; 32]) -> StoreResult<()>;
    async fn record_login_failure(&self, username: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// The name's failed sign-ins after `since`, oldest first.
    async fn login_failures(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DateTime<Utc>>>;
    async fn clear_login_failures(&self, username: &str) -> StoreResult<()>;
    /// Ends the sessions last seen before `idle_before` or signed in before
    /// `signed_in_before`, and forgets failed sign-ins before
    /// `failures_before`; answers how many rows went.
    async fn sweep_console(
        &self,
        idle_before: DateTime<Utc>,
        signed_in_before: DateTime<Utc>,
        failures_before: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Records that a code of `step` signed the user in; false, writing
    /// nothing, when a code of that step or a later one already did.
    async fn use_totp_step(&self, user: Uuid, step: i64) -> StoreResult<bool>;
    /// The account's undeleted scans that `filter` selects, newest first.
    async fn list_scans(&self, account: AccountId, filter: &ListFilter) -> StoreResult<Vec<Scan>>;
    /// The account's undeleted authentications that `filter` selects,
    /// newest first.
    async fn list_transactions(
        &self,
        account: AccountId,
        filter: &ListFilter,
    ) -> StoreResult<Vec<AuthTransaction>>;
}
