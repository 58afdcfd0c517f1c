//! A person's review of a decided ID verification: a rejection with a
//! reason (`ERROR_NOT_READABLE_ID` / `300 MANUAL_REJECTION`, as the guides
//! list it) or an approval that overrides an automatic rejection. The new
//! outcome is sent again by callback, and every review is kept in the audit
//! trail (who, when, the status before and after, the reason).

use chrono::{DateTime, Utc};

use crate::input::FieldError;
use crate::{EnrollmentRef, RejectReason, Rejection, Scan, ScanOutcome, ScanState};

/// The longest review reason, in characters.
pub const MAX_REVIEW_REASON: usize = 500;

/// Why the reviewer decided so: 1 to 500 characters of text without control
/// characters (line breaks included), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewReason(String);

impl ReviewReason {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = raw.trim();
        let refuse =
            |code: &'static str, detail: &str| Err(FieldError::new("reason", code, detail));
        if text.is_empty() {
            return refuse("FIELD_REQUIRED", "a review needs a reason");
        }
        if text.chars().count() > MAX_REVIEW_REASON {
            return refuse("FIELD_TOO_LONG", "the reason is at most 500 characters");
        }
        if text.chars().any(char::is_control) {
            return refuse("FIELD_INVALID", "the reason is one line of text");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the reviewer decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    /// `APPROVED_VERIFIED`, whatever the automatic decision was.
    Approve,
    /// `ERROR_NOT_READABLE_ID` with `300 MANUAL_REJECTION`.
    Reject,
}

impl ReviewDecision {
    /// The audit trail's name of the action.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Approve => "SCAN_APPROVED",
            Self::Reject => "SCAN_REJECTED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "APPROVE" => Ok(Self::Approve),
            "REJECT" => Ok(Self::Reject),
            _ => Err(FieldError::new(
                "decision",
                "FIELD_INVALID",
                "decision must be APPROVE or REJECT",
            )),
        }
    }
}

/// Why a scan cannot be reviewed so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewRefusal {
    /// Still being captured: there is nothing decided to review.
    NotDecided,
    /// The user never finished (`NO_ID_UPLOADED`): there is nothing to
    /// approve or reject.
    NothingCaptured,
    /// The scan already has that status: a review changes something.
    Unchanged,
}

/// The outcome after the review. The measured comparison (similarity,
/// validity) and the zone's check stay as they were: a review changes the
/// verdict, not what was measured.
pub fn review(scan: &Scan, decision: &ReviewDecision) -> Result<ScanOutcome, ReviewRefusal> {
    let current = match scan.state {
        ScanState::Pending => None,
        ScanState::Done | ScanState::Failed => scan.outcome.as_ref(),
    };
    reviewed(current, decision)
}

/// [`review`] of a scan's outcome (`None`: not decided yet).
pub fn reviewed(
    current: Option<&ScanOutcome>,
    decision: &ReviewDecision,
) -> Result<ScanOutcome, ReviewRefusal> {
    let current = current.ok_or(ReviewRefusal::NotDecided)?;
    if current.status == crate::VerificationStatus::NoIdUploaded {
        return Err(ReviewRefusal::NothingCaptured);
    }
    let reviewed = match decision {
        ReviewDecision::Approve => ScanOutcome {
            status: crate::VerificationStatus::ApprovedVerified,
            rejection: None,
            ..current.clone()
        },
        ReviewDecision::Reject => {
            let rejection = Rejection::new(RejectReason::ManualRejection);
            ScanOutcome {
                status: rejection.reason().status(),
                rejection: Some(rejection),
                ..current.clone()
            }
        }
    };
    if reviewed.status == current.status && reviewed.rejection == current.rejection {
        return Err(ReviewRefusal::Unchanged);
    }
    Ok(reviewed)
}

/// One entry of the audit trail: who changed what, when, from what to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub account: crate::AccountId,
    pub at: DateTime<Utc>,
    /// `console:NAME` for a console user, `credential:ID` for an API
    /// credential, `cli` for the command line.
    pub actor: String,
    pub scan: EnrollmentRef,
    /// `SCAN_APPROVED` or `SCAN_REJECTED`.
    pub action: String,
    /// `verificationStatus` (and the reject code) before and after.
    pub before: String,
    pub after: String,
    /// The reviewer's reason; erased with the scan (it may name the person).
    pub reason: Option<String>,
}

/// How an outcome reads in the audit trail: `DENIED_FRAUD 107`.
pub fn audit_status(outcome: &ScanOutcome) -> String {
    match &outcome.rejection {
        Some(r) => format!("{} {}", outcome.status.as_str(), r.reason().code()),
        None => outcome.status.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{IdentityVerdict, Similarity, VerificationStatus};
    use proptest::prelude::*;

    fn decided(status: VerificationStatus, rejection: Option<Rejection>) -> ScanOutcome {
        ScanOutcome {
            status,
            rejection,
            identity: Some(IdentityVerdict {
                similarity: Similarity::NoMatch,
                validity: true,
                reason: None,
            }),
            mrz_checked: true,
        }
    }

    #[test]
    fn a_rejection_is_error_not_readable_id_300_and_keeps_what_was_measured() {
        let approved = decided(VerificationStatus::ApprovedVerified, None);
        let out = reviewed(Some(&approved), &ReviewDecision::Reject).unwrap();
        assert_eq!(out.status, VerificationStatus::ErrorNotReadableId);
        assert_eq!(out.rejection.as_ref().unwrap().reason().code(), 300);
        assert_eq!(out.identity, approved.identity);
        assert!(out.mrz_checked);
        assert_eq!(audit_status(&out), "ERROR_NOT_READABLE_ID 300");
    }

    #[test]
    fn an_approval_overrides_an_automatic_rejection() {
        let denied = decided(
            VerificationStatus::DeniedFraud,
            Some(Rejection::new(RejectReason::PhotoMismatch)),
        );
        let out = reviewed(Some(&denied), &ReviewDecision::Approve).unwrap();
        assert_eq!(out.status, VerificationStatus::ApprovedVerified);
        assert_eq!(out.rejection, None);
        assert_eq!(audit_status(&out), "APPROVED_VERIFIED");
        assert_eq!(audit_status(&denied), "DENIED_FRAUD 107");
        // A denial can be turned into a manual rejection too.
        let out = reviewed(Some(&denied), &ReviewDecision::Reject).unwrap();
        assert_eq!(out.rejection.unwrap().reason().code(), 300);
    }

    #[test]
    fn a_review_needs_a_decided_scan_with_something_captured_and_a_change() {
        let approved = decided(VerificationStatus::ApprovedVerified, None);
        assert_eq!(
            reviewed(Some(&approved), &ReviewDecision::Approve),
            Err(ReviewRefusal::Unchanged)
        );
        let rejected = decided(
            VerificationStatus::ErrorNotReadableId,
            Some(Rejection::new(RejectReason::ManualRejection)),
        );
        assert_eq!(
            reviewed(Some(&rejected), &ReviewDecision::Reject),
            Err(ReviewRefusal::Unchanged)
        );
        assert_eq!(
            reviewed(None, &ReviewDecision::Approve),
            Err(ReviewRefusal::NotDecided)
        );
        assert_eq!(
            reviewed(
                Some(&ScanOutcome::no_id_uploaded()),
                &ReviewDecision::Reject
            ),
            Err(ReviewRefusal::NothingCaptured)
        );
    }

    #[test]
    fn a_reason_is_one_trimmed_line_of_1_to_500_characters() {
        assert_eq!(
            ReviewReason::parse("  blurry  ").unwrap().as_str(),
            "blurry"
        );
        assert_eq!(
            ReviewReason::parse(&"é".repeat(500))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            500
        );
        for (raw, code) in [
            ("", "FIELD_REQUIRED"),
            ("   ", "FIELD_REQUIRED"),
            ("a\nb", "FIELD_INVALID"),
            ("a\u{7}", "FIELD_INVALID"),
        ] {
            assert_eq!(ReviewReason::parse(raw).unwrap_err().code, code, "{raw:?}");
        }
        assert_eq!(
            ReviewReason::parse(&"x".repeat(501)).unwrap_err().code,
            "FIELD_TOO_LONG"
        );
        assert_eq!(ReviewDecision::parse("REJECT"), Ok(ReviewDecision::Reject));
        assert!(ReviewDecision::parse("reject").is_err());
    }

    proptest! {
        #[test]
        fn reason_parsing_never_panics_and_keeps_only_valid_text(raw in "\\PC{0,600}|.{0,20}") {
            if let Ok(reason) = ReviewReason::parse(&raw) {
                let text = reason.as_str();
                prop_assert!(!text.is_empty());
                prop_assert!(text.chars().count() <= MAX_REVIEW_REASON);
                prop_assert!(!text.chars().any(char::is_control));
                prop_assert_eq!(text, text.trim());
            }
        }
    }
}
