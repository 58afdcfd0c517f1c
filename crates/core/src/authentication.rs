//! Authentication transactions: initiation with a customer-held facemap or
//! the server's copy, retrieval, deletion and expiry (SPEC §2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use facegate_domain::{
    auth_lifetime, Account, AuthTransaction, EnrollmentRef, FailureStreak, FieldError, Ineligible,
    Locale, LocaleSet, Permission, RedirectUrl, ScanSource, TokenLifetime, TransactionRef,
    TransactionState, UrlField, UserReference,
};
use facegate_storage::StoreError;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::credentials::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::render::AuthCallback;
use crate::Services;

/// The raw fields of `enrollmentMetadata` (or the web initiate body), as the
/// transport found them. Validation happens here, all fields at once.
#[derive(Debug, Clone, Default)]
pub struct InitiateRequest {
    pub enrollment_transaction_reference: Option<String>,
    pub user_reference: Option<String>,
    pub callback_url: Option<String>,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    pub locale: Option<String>,
    pub token_lifetime_minutes: Option<i64>,
}

/// A new transaction, as answered to the customer.
#[derive(Debug, Clone)]
pub struct Initiated {
    pub reference: TransactionRef,
    pub redirect_url: String,
    pub timestamp: DateTime<Utc>,
    /// Earlier transactions of the enrollment that this one expired.
    pub superseded: Vec<TransactionRef>,
}

struct ValidRequest {
    enrollment: EnrollmentRef,
    user_reference: Option<UserReference>,
    callback_url: Option<RedirectUrl>,
    success_url: Option<RedirectUrl>,
    error_url: Option<RedirectUrl>,
    locale: Option<Locale>,
    lifetime: Option<TokenLifetime>,
}

impl Services {
    /// The account decides whether user references are checked for PII and
    /// which private addresses its callback URLs may name.
    fn validate(&self, account: &Account, req: &InitiateRequest) -> ServiceResult<ValidRequest> {
        let mut errors: Vec<FieldError> = Vec::new();
        let enrollment = match req.enrollment_transaction_reference.as_deref() {
            None => keep(
                &mut errors,
                Err(FieldError::required("enrollmentTransactionReference")),
            ),
            Some(raw) => keep(
                &mut errors,
                raw.parse::<EnrollmentRef>().map_err(|_| {
                    FieldError::new(
                        "enrollmentTransactionReference",
                        "REFERENCE_INVALID",
                        "enrollmentTransactionReference must be a 36-character UUID",
                    )
                }),
            ),
        };
        let user_reference = keep(
            &mut errors,
            UserReference::parse_optional(
                req.user_reference.as_deref(),
                "userReference",
                account.pii_check(),
            ),
        )
        .flatten();
        let policy = self.settings.url_policy;
        let private = &account.callback_private_targets;
        let mut url = |raw: &Option<String>, field| {
            raw.as_deref().and_then(|r| {
                keep(
                    &mut errors,
                    RedirectUrl::parse_for(r, field, policy, private),
                )
            })
        };
        let callback_url = url(&req.callback_url, UrlField::Callback);
        let success_url = url(&req.success_url, UrlField::Success);
        let error_url = url(&req.error_url, UrlField::Error);
        let locale = req
            .locale
            .as_deref()
            .and_then(|l| keep(&mut errors, Locale::parse(l, LocaleSet::Authentication)));
        let lifetime = req
            .token_lifetime_minutes
            .and_then(|m| keep(&mut errors, TokenLifetime::parse(m)));
        match enrollment {
            Some(enrollment) if errors.is_empty() => Ok(ValidRequest {
                enrollment,
                user_reference,
                callback_url,
                success_url,
                error_url,
                locale,
                lifetime,
            }),
            _ => Err(ServiceError::Validation(errors)),
        }
    }

    /// Role and feature checks of both initiate calls; transports run it before
    /// reading the body, so a caller that may not initiate learns that first.
    pub fn authorize_initiate(caller: &Caller) -> ServiceResult<()> {
        Self::check_facemap_feature(caller)
    }

    fn check_facemap_feature(caller: &Caller) -> ServiceResult<()> {
        caller.require(Permission::Initiate)?;
        if caller.account.facemap_auth_enabled {
            Ok(())
        } else {
            Err(ServiceError::FeatureNotEnabled)
        }
    }

    /// Each account has its own initiation budget, so one account's burst
    /// does not crowd out the others. This node's bucket refuses a burst
    /// before any database work; the bucket every node shares is taken with
    /// the initiation's writes.
    pub(crate) fn check_initiation_rate(&self, caller: &Caller) -> ServiceResult<()> {
        self.initiation_limiter
            .take(caller.account.id, self.clock.now())
            .map_err(|retry_after_secs| {
                self.metrics
                    .increment("facegate_initiations_rate_limited_total", "");
                ServiceError::InitiationRateLimited { retry_after_secs }
            })
    }

    /// Counts an initiation the shared budget refused (in the store, on the
    /// initiation's own database transaction) as this node's refusals are.
    pub(crate) fn count_shared_refusal(&self, e: &StoreError) {
        if matches!(e, StoreError::RateLimited { .. }) {
            self.metrics
                .increment("facegate_initiations_rate_limited_total", "");
        }
    }

    /// `POST /api/authentication/v1/facemap/initiate`.
    pub async fn initiate_with_facemap(
        &self,
        caller: &Caller,
        req: &InitiateRequest,
        facemap: &[u8],
    ) -> ServiceResult<Initiated> {
        Self::check_facemap_feature(caller)?;
        self.check_initiation_rate(caller)?;
        let valid = self.validate(&caller.account, req)?;
        let (enrollment, streak) = self.owned_enrollment(caller, valid.enrollment).await?;
        let binding = enrollment
            .eligible_for_facemap_auth()
            .map_err(ServiceError::Ineligible)?;
        self.check_facemap(&caller.account, &enrollment, binding, facemap)?;
        self.check_lockout(valid.enrollment, &streak)?;
        self.create_transaction(caller, valid, facemap.to_vec(), ScanSource::Web)
            .await
    }

    /// `POST /api/authentication/v1/web/initiate`: the server still holds the facemap.
    pub async fn initiate_with_server_facemap(
        &self,
        caller: &Caller,
        req: &InitiateRequest,
    ) -> ServiceResult<Initiated> {
        Self::check_facemap_feature(caller)?;
        self.check_initiation_rate(caller)?;
        let valid = self.validate(&caller.account, req)?;
        let (enrollment, streak) = self.owned_enrollment(caller, valid.enrollment).await?;
        let (binding, facemap) = enrollment
            .eligible_for_web_auth()
            .map_err(ServiceError::Ineligible)?;
        self.check_facemap(&caller.account, &enrollment, binding, facemap)?;
        self.check_lockout(valid.enrollment, &streak)?;
        let facemap = facemap.to_vec();
        self.create_transaction(caller, valid, facemap, ScanSource::Web)
            .await
    }

    /// Another account's enrollment is reported exactly like an unknown one.
    /// Its failure streak comes with it, in the same read.
    async fn owned_enrollment(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<(facegate_domain::Enrollment, FailureStreak)> {
        self.store
            .enrollment_with_streak(reference)
            .await?
            .filter(|(e, _)| e.account == caller.account.id)
            .ok_or(ServiceError::EnrollmentNotFound)
    }

    async fn create_transaction(
        &self,
        caller: &Caller,
        valid: ValidRequest,
        facemap: Vec<u8>,
        scan_source: ScanSource,
    ) -> ServiceResult<Initiated> {
        let account = &caller.account;
        let now = self.clock.now();
        let mut token = [0u8; 32];
        OsRng.fill_bytes(&mut token);
        let token_text = URL_SAFE_NO_PAD.encode(token);
        // The account default applies when it is an authentication locale
        // (accounts may default to an enrollment-only one such as `ar`).
        let locale = valid
            .locale
            .or_else(|| {
                Locale::parse(account.default_locale.as_str(), LocaleSet::Authentication).ok()
            })
            .unwrap_or(Locale::DEFAULT);
        let tx = AuthTransaction {
            reference: TransactionRef::new_random(),
            account: account.id,
            enrollment: valid.enrollment,
            state: TransactionState::Created,
            scan_source,
            user_reference: valid.user_reference,
            callback_url: valid.callback_url.or_else(|| account.callback_url.clone()),
            success_url: valid.success_url.or_else(|| account.success_url.clone()),
            error_url: valid.error_url.or_else(|| account.error_url.clone()),
            locale,
            token_hash: Sha256::digest(token_text.as_bytes()).into(),
            facemap: Some(facemap),
            created_at: now,
            expires_at: now + auth_lifetime(valid.lifetime, account.default_token_lifetime_minutes),
            finalized_at: None,
            deleted_at: None,
            decision: None,
            face_image: false,
            liveness_images: 0,
        };
        let renderer = self.renderer(now);
        let superseded = self
            .store
            .initiate_transaction(&tx, self.initiation_limiter.limit(), &renderer)
            .await
            .inspect_err(|e| self.count_shared_refusal(e))?;
        self.metrics
            .increment("facegate_transactions_initiated_total", "");
        for _ in &superseded {
            self.metrics
                .increment("facegate_transactions_finalised_total", "state=\"EXPIRED\"");
        }
        if !superseded.is_empty() {
            self.callbacks_queued.notify_one();
        }
        let redirect_url = format!(
            "{}/web/v4/app?locale={}&authorizationToken={}",
            self.settings.public_base_url,
            locale.as_str(),
            token_text
        );
        tracing::info!(transaction = %tx.reference, enrollment = %tx.enrollment, superseded = superseded.len(), "authentication initiated");
        Ok(Initiated {
            reference: tx.reference,
            redirect_url,
            timestamp: now,
            superseded,
        })
    }

    pub(crate) fn renderer(&self, now: DateTime<Utc>) -> AuthCallback<'_> {
        AuthCallback {
            now,
            public_base_url: &self.settings.public_base_url,
        }
    }

    /// `GET /api/netverify/v2/authentications/{ref}`. A transaction past its
    /// lifetime is expired on the spot, so readers never see a stale state.
    pub async fn retrieve_transaction(
        &self,
        caller: &Caller,
        reference: TransactionRef,
    ) -> ServiceResult<AuthTransaction> {
        caller.require(Permission::Administer)?;
        let tx = self.owned_transaction(caller, reference).await?;
        if tx.is_overdue(self.clock.now()) {
            self.finalize(reference, TransactionState::Expired).await?;
            return self.owned_transaction(caller, reference).await;
        }
        Ok(tx)
    }

    async fn owned_transaction(
        &self,
        caller: &Caller,
        reference: TransactionRef,
    ) -> ServiceResult<AuthTransaction> {
        self.store
            .transaction(reference)
            .await?
            .filter(|t| t.account == caller.account.id)
            .ok_or(ServiceError::TransactionNotFound)
    }

    /// `DELETE /api/netverify/v2/authentications/{ref}`.
    pub async fn delete_transaction(
        &self,
        caller: &Caller,
        reference: TransactionRef,
    ) -> ServiceResult<()> {
        caller.require(Permission::Administer)?;
        self.owned_transaction(caller, reference).await?;
        if !self
            .store
            .delete_transaction(reference, self.clock.now())
            .await?
        {
            return Err(ServiceError::TransactionNotFound);
        }
        self.local_capture.forget_transaction(reference);
        tracing::info!(transaction = %reference, "authentication deleted");
        Ok(())
    }

    /// Moves a transaction to a final state (erasing its facemap and queuing
    /// its callback). `false` when it was already final.
    pub async fn finalize(
        &self,
        reference: TransactionRef,
        state: TransactionState,
    ) -> ServiceResult<bool> {
        let now = self.clock.now();
        let done = self
            .store
            .finalize_transaction(reference, state, now, &self.renderer(now))
            .await?
            .is_some();
        if done {
            self.local_capture.forget_transaction(reference);
            let label = format!("state=\"{}\"", state.as_str());
            self.metrics
                .increment("facegate_transactions_finalised_total", &label);
            self.callbacks_queued.notify_one();
            tracing::info!(transaction = %reference, state = state.as_str(), "authentication finalised");
        }
        Ok(done)
    }

    /// Expires every overdue transaction; returns how many were expired.
    pub async fn expire_overdue(&self) -> ServiceResult<usize> {
        let mut expired = 0;
        loop {
            let overdue = self
                .store
                .overdue_transactions(self.clock.now(), 100)
                .await?;
            if overdue.is_empty() {
                return Ok(expired);
            }
            let batch = overdue.len();
            for reference in overdue {
                if self.finalize(reference, TransactionState::Expired).await? {
                    expired += 1;
                }
            }
            if batch < 100 {
                return Ok(expired);
            }
        }
    }

    /// Delivery history of a transaction's callbacks (admin).
    pub async fn transaction_callbacks(
        &self,
        caller: &Caller,
        reference: TransactionRef,
    ) -> ServiceResult<Vec<facegate_storage::CallbackRecord>> {
        caller.require(Permission::Administer)?;
        self.owned_transaction(caller, reference).await?;
        Ok(self
            .store
            .callbacks_for_transaction(caller.account.id, reference)
            .await?)
    }

    /// Refuses an initiation while the enrollment is locked out after a run
    /// of `FAILED` authentications (`lockout.*`).
    fn check_lockout(
        &self,
        enrollment: EnrollmentRef,
        streak: &FailureStreak,
    ) -> ServiceResult<()> {
        let policy = &self.settings.lockout;
        if !policy.is_enabled() {
            return Ok(());
        }
        match policy.retry_after(streak, self.clock.now()) {
            None => Ok(()),
            Some(wait) => {
                tracing::info!(enrollment = %enrollment, failures = streak.consecutive, "initiation refused: enrollment locked out");
                // Whole seconds, rounded up: retrying at Retry-After must succeed.
                let millis = u64::try_from(wait.num_milliseconds()).unwrap_or(0);
                Err(ServiceError::LockedOut {
                    retry_after_secs: millis.div_ceil(1000).max(1),
                })
            }
        }
    }

    /// Erases delivered and failed callbacks past `retention.callback_history_days`;
    /// returns how many were erased.
    pub async fn enforce_callback_retention(&self) -> ServiceResult<u64> {
        let before = self.clock.now() - self.settings.callback_history_retention;
        Ok(self.store.purge_callback_history(before).await?)
    }

    /// Revokes the facemap of one of the account's enrollments (renewability).
    pub async fn revoke_facemap(
        &self,
        account: facegate_domain::AccountId,
        reference: EnrollmentRef,
    ) -> ServiceResult<bool> {
        let enrollment = self
            .store
            .enrollment(reference)
            .await?
            .filter(|e| e.account == account)
            .ok_or(ServiceError::EnrollmentNotFound)?;
        Ok(self
            .store
            .revoke_facemap(enrollment.reference, self.clock.now())
            .await?)
    }
}

/// Collects a field's error so that every invalid field is reported at once.
fn keep<T>(errors: &mut Vec<FieldError>, parsed: Result<T, FieldError>) -> Option<T> {
    parsed.map_err(|e| errors.push(e)).ok()
}

impl From<Ineligible> for ServiceError {
    fn from(e: Ineligible) -> Self {
        Self::Ineligible(e)
    }
}
