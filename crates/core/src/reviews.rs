//! Manual review of decided ID verifications (issue #12): a person
//! approves or rejects a scan with a reason, through the admin API, the
//! command line or the operator console. The rule is the domain's
//! ([`facegate_domain::review`]); here the scan is found in the reviewer's
//! account, the callback rendered again with the new verdict and queued,
//! and the audit entry written with it, at once.

use facegate_domain::{
    audit_status, review, AccountId, AuditEntry, CredentialId, EnrollmentRef, FieldError,
    Permission, ReviewDecision, ReviewReason, Scan,
};
use facegate_storage::ScanReview;

use crate::credentials::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::render::ScanImages;
use crate::Services;

/// Who reviews: named in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    /// A console user, by name.
    ConsoleUser(String),
    /// An API credential (the admin API).
    Credential(CredentialId),
    /// `facegate scan review` on the server's machine.
    CommandLine,
}

impl Reviewer {
    fn actor(&self) -> String {
        match self {
            Self::ConsoleUser(name) => format!("console:{name}"),
            Self::Credential(id) => format!("credential:{id}"),
            Self::CommandLine => "cli".to_owned(),
        }
    }
}

/// A review as the transport found it; validated here, all fields at once.
#[derive(Debug, Clone, Default)]
pub struct ReviewRequest {
    /// `APPROVE` or `REJECT`.
    pub decision: Option<String>,
    pub reason: Option<String>,
}

impl ReviewRequest {
    fn parse(&self) -> Result<(ReviewDecision, ReviewReason), ServiceError> {
        let mut errors = Vec::new();
        let decision = match self.decision.as_deref() {
            None => Err(FieldError::new(
                "decision",
                "FIELD_REQUIRED",
                "decision is required",
            )),
            Some(raw) => ReviewDecision::parse(raw),
        };
        let reason = ReviewReason::parse(self.reason.as_deref().unwrap_or_default());
        match (decision, reason) {
            (Ok(d), Ok(r)) => return Ok((d, r)),
            (d, r) => {
                errors.extend(d.err());
                errors.extend(r.err());
            }
        }
        Err(ServiceError::Validation(errors))
    }
}

/// A scan after its review, with its whole audit trail.
#[derive(Debug, Clone)]
pub struct ReviewedScan {
    pub scan: Scan,
    pub audit: Vec<AuditEntry>,
}

impl Services {
    /// `POST /api/netverify/v2/scans/{ref}/review` (admin credential).
    pub async fn review_scan(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
        request: &ReviewRequest,
    ) -> ServiceResult<ReviewedScan> {
        caller.require(Permission::Administer)?;
        let reviewer = Reviewer::Credential(caller.credential);
        self.review_account_scan(caller.account.id, &reviewer, reference, request)
            .await
    }

    /// Reviews a scan of `account` (the console's user's account, or the
    /// account the command line names); another account's scan is
    /// `SCAN_NOT_FOUND`.
    pub async fn review_account_scan(
        &self,
        account: AccountId,
        reviewer: &Reviewer,
        reference: EnrollmentRef,
        request: &ReviewRequest,
    ) -> ServiceResult<ReviewedScan> {
        let (decision, reason) = request.parse()?;
        let scan = self.account_scan(account, reference).await?;
        let outcome = review(&scan, &decision).map_err(ServiceError::Review)?;
        // `review` answers an outcome only for a decided scan, which has one.
        let before = scan.outcome.clone().ok_or(ServiceError::Review(
            facegate_domain::ReviewRefusal::NotDecided,
        ))?;
        let now = self.clock.now();
        let details = self.details_of(scan).await?;
        let callback = self.scan_renderer(now).render(
            &details.scan,
            &outcome,
            details.document.as_ref(),
            &ScanImages::of(&details.images),
            details.facemap
                && outcome.status == facegate_domain::VerificationStatus::ApprovedVerified,
        );
        let write = ScanReview {
            reference,
            audit: AuditEntry {
                id: uuid::Uuid::new_v4(),
                account,
                at: now,
                actor: reviewer.actor(),
                scan: reference,
                action: decision.action().to_owned(),
                before: audit_status(&before),
                after: audit_status(&outcome),
                reason: Some(reason.as_str().to_owned()),
            },
            before,
            outcome,
            callback,
        };
        if !self.store.review_scan(&write).await? {
            // Deleted, or reviewed by someone else meanwhile.
            let now = self.account_scan(account, reference).await?;
            return Err(match review(&now, &decision) {
                Err(refusal) => ServiceError::Review(refusal),
                Ok(_) => ServiceError::Conflict("the scan was reviewed meanwhile".to_owned()),
            });
        }
        self.callbacks_queued.notify_one();
        self.metrics.increment(
            "facegate_scan_reviews_total",
            &format!("action=\"{}\"", decision.action()),
        );
        tracing::info!(scan = %reference, action = decision.action(), "ID verification reviewed");
        Ok(ReviewedScan {
            scan: self.account_scan(account, reference).await?,
            audit: self.store.audit_trail(reference).await?,
        })
    }

    /// The scan's audit trail (admin credential).
    pub async fn scan_audit(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<Vec<AuditEntry>> {
        caller.require(Permission::Administer)?;
        self.account_scan_audit(caller.account.id, reference).await
    }

    /// The audit trail of a scan of `account` (console, command line).
    pub async fn account_scan_audit(
        &self,
        account: AccountId,
        reference: EnrollmentRef,
    ) -> ServiceResult<Vec<AuditEntry>> {
        // The trail outlives the scan (its reasons erased): a deleted scan's
        // entries still answer, another account's never.
        let trail: Vec<AuditEntry> = self
            .store
            .audit_trail(reference)
            .await?
            .into_iter()
            .filter(|e| e.account == account)
            .collect();
        if trail.is_empty() {
            self.account_scan(account, reference).await?;
        }
        Ok(trail)
    }

    pub(crate) async fn account_scan(
        &self,
        account: AccountId,
        reference: EnrollmentRef,
    ) -> ServiceResult<Scan> {
        self.store
            .scan(reference)
            .await?
            .filter(|s| s.account == account)
            .ok_or(ServiceError::ScanNotFound)
    }
}
