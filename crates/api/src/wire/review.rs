//! The manual review of an ID verification (admin API):
//! `POST /api/netverify/v2/scans/{reference}/review` and its audit trail.

use facegate_core::reviews::{ReviewRequest, ReviewedScan};
use facegate_domain::{AuditEntry, EnrollmentRef, FieldError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{mistyped, Field, Timestamp};

/// `POST /api/netverify/v2/scans/{reference}/review`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScanReviewBody {
    /// `APPROVE` (`APPROVED_VERIFIED`, overriding an automatic rejection)
    /// or `REJECT` (`ERROR_NOT_READABLE_ID`, `300 MANUAL_REJECTION`).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, required = true, example = "REJECT")]
    pub decision: Field<String>,
    /// Why: one line of 1 to 500 characters, kept in the audit trail (and
    /// erased with the scan).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, required = true, example = "The portrait is another person's")]
    pub reason: Field<String>,
}

impl ScanReviewBody {
    pub fn into_request(self) -> Result<ReviewRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let decision = self
            .decision
            .collect(&mut errors, || mistyped("decision", "a string"));
        let reason = self
            .reason
            .collect(&mut errors, || mistyped("reason", "a string"));
        if errors.is_empty() {
            Ok(ReviewRequest { decision, reason })
        } else {
            Err(errors)
        }
    }
}

/// One entry of a scan's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub at: Timestamp,
    /// `console:NAME`, `credential:ID` or `cli`.
    pub actor: String,
    /// `SCAN_APPROVED` or `SCAN_REJECTED`.
    pub action: String,
    /// `verificationStatus` and reject code before the review, e.g.
    /// `DENIED_FRAUD 107`.
    pub before: String,
    /// The same after the review, e.g. `ERROR_NOT_READABLE_ID 300`.
    pub after: String,
    /// The reviewer's reason; `null` once the scan is deleted.
    pub reason: Option<String>,
}

impl From<&AuditEntry> for AuditRecord {
    fn from(e: &AuditEntry) -> Self {
        Self {
            at: e.at.into(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            reason: e.reason.clone(),
        }
    }
}

/// A scan's audit trail, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanAudit {
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    pub audit: Vec<AuditRecord>,
}

/// The answer to a review: the new verdict and the whole audit trail. The
/// `NETVERIFYID` callback with the new verdict is on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanReviewed {
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    pub verification_status: String,
    /// The reject reason's code (`300` after a rejection), `null` when
    /// approved.
    pub reject_reason_code: Option<u16>,
    pub audit: Vec<AuditRecord>,
}

impl From<&ReviewedScan> for ScanReviewed {
    fn from(r: &ReviewedScan) -> Self {
        let outcome = r.scan.outcome.as_ref();
        Self {
            scan_reference: r.scan.reference,
            verification_status: outcome.map_or("", |o| o.status.as_str()).to_owned(),
            reject_reason_code: outcome
                .and_then(|o| o.rejection.as_ref())
                .map(|j| j.reason().code()),
            audit: r.audit.iter().map(AuditRecord::from).collect(),
        }
    }
}
