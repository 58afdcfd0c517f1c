//! The operator console's use cases (issue #12): console users (made with
//! the command line), sign-in with throttling, sessions with idle and
//! absolute timeouts, and what a signed-in user may see and do: the ID
//! verifications of their own account, their images and checks, and the
//! review. The rules are the domain's (`facegate_domain::console`); the
//! console's pages are `facegate_api::console`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use facegate_domain::{
    check_new_password, AccountId, AuditEntry, ConsoleUsername, EnrollmentRef, LoginThrottle, Scan,
    SessionPolicy,
};
use facegate_storage::{ConsoleSession, ImageKind, StoreError};
pub use facegate_storage::{ConsoleUser, ListFilter};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::authenticator::{hash_secret, verify_secret};
use crate::capture::token_hash;
use crate::error::{ServiceError, ServiceResult};
use crate::reviews::{ReviewRequest, ReviewedScan, Reviewer};
use crate::scans::ScanDetails;
use crate::Services;

/// The most rows a console list shows.
pub const MAX_LIST: u32 = 200;

/// A signed-in console user, as every console request finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleViewer {
    pub username: String,
    pub account: AccountId,
}

/// A scan as the console's detail view shows it.
#[derive(Debug, Clone)]
pub struct ConsoleScan {
    pub details: ScanDetails,
    pub audit: Vec<AuditEntry>,
    /// Its `NETVERIFYID` callbacks with their delivery attempts.
    pub callbacks: Vec<facegate_storage::CallbackRecord>,
}

/// Where a console user's TOTP secret is sealed: the account's key, bound
/// to the user.
fn totp_slot(account: AccountId, user: uuid::Uuid) -> facegate_facemap::ImageSlot<'static> {
    facegate_facemap::ImageSlot {
        account: account.as_uuid(),
        transaction: user,
        kind: "totp",
        n: 1,
    }
}

/// The CSRF token of a session: derived from the session's secret cookie,
/// which another site can neither read nor set (`HttpOnly`,
/// `SameSite=Strict`), so a form it forges cannot carry it.
pub fn csrf_token(session_token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"facegate console csrf\0");
    digest.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Whether `given` is the session's CSRF token (in constant time).
pub fn csrf_matches(session_token: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(csrf_token(session_token).as_bytes().ct_eq(given.as_bytes()))
}

impl Services {
    /// `facegate console-user create`: a reviewer of `account`; with
    /// `totp`, also the `otpauth://` URI of the new second factor (shown
    /// once: the secret is kept sealed).
    pub async fn create_console_user(
        &self,
        account: AccountId,
        username: &str,
        password: &str,
        totp: bool,
    ) -> ServiceResult<(ConsoleUser, Option<String>)> {
        let name =
            ConsoleUsername::parse(username).map_err(|e| ServiceError::Validation(vec![e]))?;
        check_new_password(password, &name).map_err(|e| ServiceError::Validation(vec![e]))?;
        if self.store.account(account).await?.is_none() {
            return Err(ServiceError::AccountNotFound);
        }
        let password = password.to_owned();
        let password_hash = tokio::task::spawn_blocking(move || hash_secret(&password))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let id = uuid::Uuid::new_v4();
        let (totp_secret, uri) = if totp {
            let mut secret = [0u8; crate::totp::SECRET_BYTES];
            OsRng.fill_bytes(&mut secret);
            let sealed =
                facegate_facemap::seal_image(&self.keyring, &totp_slot(account, id), &secret)
                    .map_err(|e| {
                        ServiceError::Internal(format!("the TOTP secret cannot be sealed: {e}"))
                    })?;
            (
                Some(sealed),
                Some(crate::totp::provisioning_uri(name.as_str(), &secret)),
            )
        } else {
            (None, None)
        };
        let user = ConsoleUser {
            id,
            account,
            username: name.as_str().to_owned(),
            password_hash,
            created_at: self.clock.now(),
            totp_secret,
            totp_last_step: None,
        };
        self.store
            .insert_console_user(&user)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ServiceError::Validation(vec![facegate_domain::FieldError::new(
                        "username",
                        "FIELD_TAKEN",
                        "a console user has this name",
                    )])
                }
                other => other.into(),
            })?;
        tracing::info!(account = %account, "console user created");
        Ok((user, uri))
    }

    /// Signs in; answers the new session's token (the cookie's value). A
    /// wrong name and a wrong password are the same `Unauthenticated`, at
    /// the cost of one Argon2 hash each; after 5 failures of one name in
    /// 15 minutes every try of it is `RateLimited` until the window passes.
    pub async fn console_sign_in(
        &self,
        username: &str,
        password: &str,
        one_time_code: Option<&str>,
    ) -> ServiceResult<String> {
        let now = self.clock.now();
        let throttle = LoginThrottle::default();
        let name = ConsoleUsername::parse(username)
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        let failures = self
            .store
            .login_failures(&name, now - throttle.window)
            .await?;
        if let Some(wait) = throttle.retry_after(&failures, now) {
            self.metrics
                .increment("facegate_console_sign_ins_total", "outcome=\"throttled\"");
            return Err(ServiceError::RateLimited {
                retry_after_secs: u64::try_from(wait.num_seconds().max(1)).unwrap_or(1),
            });
        }
        let user = match name.is_empty() {
            true => None,
            false => self.store.console_user(&name).await?,
        };
        // An unknown name costs the hash a known one costs.
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let given = password.to_owned();
        let verified = tokio::task::spawn_blocking(move || match phc {
            Some(phc) => verify_secret(&given, &phc),
            None => {
                let _ = hash_secret(&given);
                false
            }
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let user = match user.filter(|_| verified) {
            Some(user) if self.second_factor_holds(&user, one_time_code, now).await? => Some(user),
            _ => None,
        };
        let Some(user) = user else {
            if !name.is_empty() {
                self.store.record_login_failure(&name, now).await?;
            }
            self.metrics
                .increment("facegate_console_sign_ins_total", "outcome=\"refused\"");
            return Err(ServiceError::Unauthenticated);
        };
        self.store.clear_login_failures(&user.username).await?;
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        self.store
            .insert_console_session(&ConsoleSession {
                token_hash: token_hash(&token),
                user: user.id,
                signed_in_at: now,
                last_seen_at: now,
            })
            .await?;
        self.metrics
            .increment("facegate_console_sign_ins_total", "outcome=\"signed_in\"");
        tracing::info!(account = %user.account, "console sign-in");
        Ok(token)
    }

    /// Whether a user with a second factor gave a code of it not used
    /// before (a user without one needs none).
    async fn second_factor_holds(
        &self,
        user: &ConsoleUser,
        code: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<bool> {
        let Some(sealed) = &user.totp_secret else {
            return Ok(true);
        };
        let secret =
            facegate_facemap::open_image(&self.keyring, &totp_slot(user.account, user.id), sealed)
                .map_err(|e| {
                    tracing::error!(error = %e, "a console user's TOTP secret does not open");
                    ServiceError::KeyUnavailable
                })?;
        let Some(step) = code.and_then(|c| crate::totp::matching_step(&secret, c, now)) else {
            return Ok(false);
        };
        Ok(self.store.use_totp_step(user.id, step).await?)
    }

    /// The signed-in user of a session token; an unknown, idle or too old
    /// session is `Unauthenticated` (and ended).
    pub async fn console_viewer(&self, token: &str) -> ServiceResult<ConsoleViewer> {
        let hash = token_hash(token);
        let Some((session, user)) = self.store.console_session(&hash).await? else {
            return Err(ServiceError::Unauthenticated);
        };
        let now = self.clock.now();
        if !SessionPolicy::default().is_live(session.signed_in_at, session.last_seen_at, now) {
            self.store.end_console_session(&hash).await?;
            return Err(ServiceError::Unauthenticated);
        }
        self.store.touch_console_session(&hash, now).await?;
        Ok(ConsoleViewer {
            username: user.username,
            account: user.account,
        })
    }

    pub async fn console_sign_out(&self, token: &str) -> ServiceResult<()> {
        Ok(self.store.end_console_session(&token_hash(token)).await?)
    }

    /// Forgets ended sessions (idle or too old) and failed sign-ins that no
    /// longer count (outside the throttle's window): neither is kept
    /// longer than its rule needs it (a failure names the name tried).
    pub async fn sweep_console(&self) -> ServiceResult<u64> {
        let now = self.clock.now();
        let policy = SessionPolicy::default();
        let window = LoginThrottle::default().window;
        Ok(self
            .store
            .sweep_console(now - policy.idle, now - policy.absolute, now - window)
            .await?)
    }

    /// The viewer's account's ID verifications that `filter` selects.
    pub async fn console_scans(
        &self,
        viewer: &ConsoleViewer,
        filter: &ListFilter,
    ) -> ServiceResult<Vec<Scan>> {
        let filter = ListFilter {
            limit: filter.limit.clamp(1, MAX_LIST),
            ..filter.clone()
        };
        Ok(self.store.list_scans(viewer.account, &filter).await?)
    }

    /// One ID verification of the viewer's account; another account's is
    /// `ScanNotFound`.
    pub async fn console_scan(
        &self,
        viewer: &ConsoleViewer,
        reference: EnrollmentRef,
    ) -> ServiceResult<ConsoleScan> {
        let scan = self.account_scan(viewer.account, reference).await?;
        let callbacks = self
            .store
            .callbacks_for_transaction(
                viewer.account,
                facegate_domain::TransactionRef::from_uuid(reference.as_uuid()),
            )
            .await?;
        Ok(ConsoleScan {
            details: self.details_of(scan).await?,
            audit: self.store.audit_trail(reference).await?,
            callbacks,
        })
    }

    /// A scan image (front, back, face, liveness n) of the viewer's account.
    pub async fn console_scan_image(
        &self,
        viewer: &ConsoleViewer,
        reference: EnrollmentRef,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Vec<u8>> {
        let scan = self.account_scan(viewer.account, reference).await?;
        self.open_scan_image(&scan, kind, n)
            .await?
            .ok_or(ServiceError::ScanNotFound)
    }

    /// The viewer's account's authentications that `filter` selects.
    pub async fn console_authentications(
        &self,
        viewer: &ConsoleViewer,
        filter: &ListFilter,
    ) -> ServiceResult<Vec<facegate_domain::AuthTransaction>> {
        let filter = ListFilter {
            limit: filter.limit.clamp(1, MAX_LIST),
            ..filter.clone()
        };
        Ok(self
            .store
            .list_transactions(viewer.account, &filter)
            .await?)
    }

    /// One authentication of the viewer's account, with its callbacks;
    /// another account's is `TransactionNotFound`.
    pub async fn console_authentication(
        &self,
        viewer: &ConsoleViewer,
        reference: facegate_domain::TransactionRef,
    ) -> ServiceResult<(
        facegate_domain::AuthTransaction,
        Vec<facegate_storage::CallbackRecord>,
    )> {
        let tx = self.account_transaction(viewer.account, reference).await?;
        let callbacks = self
            .store
            .callbacks_for_transaction(viewer.account, reference)
            .await?;
        Ok((tx, callbacks))
    }

    /// An authentication's face or liveness image, of the viewer's account.
    pub async fn console_authentication_image(
        &self,
        viewer: &ConsoleViewer,
        reference: facegate_domain::TransactionRef,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Vec<u8>> {
        let tx = self.account_transaction(viewer.account, reference).await?;
        self.open_transaction_image(&tx, kind, n)
            .await?
            .ok_or(ServiceError::TransactionNotFound)
    }

    async fn account_transaction(
        &self,
        account: AccountId,
        reference: facegate_domain::TransactionRef,
    ) -> ServiceResult<facegate_domain::AuthTransaction> {
        self.store
            .transaction(reference)
            .await?
            .filter(|t| t.account == account && t.deleted_at.is_none())
            .ok_or(ServiceError::TransactionNotFound)
    }

    /// The review, audited as `console:NAME`.
    pub async fn console_review(
        &self,
        viewer: &ConsoleViewer,
        reference: EnrollmentRef,
        request: &ReviewRequest,
    ) -> ServiceResult<ReviewedScan> {
        let reviewer = Reviewer::ConsoleUser(viewer.username.clone());
        self.review_account_scan(viewer.account, &reviewer, reference, request)
            .await
    }
}
