//! Enrollments: the ID verifications that issue facemaps, and what remains of
//! them (a tombstone without PII) after the customer deletes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, EnrollmentRef};

/// `verificationStatus` of SPEC §1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationStatus {
    ApprovedVerified,
    DeniedFraud,
    DeniedUnsupportedIdType,
    DeniedUnsupportedIdCountry,
    ErrorNotReadableId,
    NoIdUploaded,
}

impl VerificationStatus {
    pub const ALL: [Self; 6] = [
        Self::ApprovedVerified,
        Self::DeniedFraud,
        Self::DeniedUnsupportedIdType,
        Self::DeniedUnsupportedIdCountry,
        Self::ErrorNotReadableId,
        Self::NoIdUploaded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApprovedVerified => "APPROVED_VERIFIED",
            Self::DeniedFraud => "DENIED_FRAUD",
            Self::DeniedUnsupportedIdType => "DENIED_UNSUPPORTED_ID_TYPE",
            Self::DeniedUnsupportedIdCountry => "DENIED_UNSUPPORTED_ID_COUNTRY",
            Self::ErrorNotReadableId => "ERROR_NOT_READABLE_ID",
            Self::NoIdUploaded => "NO_ID_UPLOADED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// `identityVerification.similarity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Similarity {
    Match,
    NoMatch,
    NotPossible,
}

impl Similarity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "MATCH",
            Self::NoMatch => "NO_MATCH",
            Self::NotPossible => "NOT_POSSIBLE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Match, Self::NoMatch, Self::NotPossible]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What binds facemaps to their enrollment; kept in the tombstone so that a
/// facemap can still be checked (and revoked) after deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacemapBinding {
    /// Serial of the one facemap currently valid for this enrollment.
    pub serial: u64,
    /// Embedding model the facemap's template was made with.
    pub model: String,
    /// Set when the customer or an operator revoked the facemap.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An enrollment, live or deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrollment {
    pub reference: EnrollmentRef,
    pub account: AccountId,
    pub verification_status: Option<VerificationStatus>,
    pub similarity: Option<Similarity>,
    pub validity: Option<bool>,
    pub facemap: Option<FacemapBinding>,
    /// The server's own copy of the facemap (sealed); erased at deletion.
    pub server_facemap: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Why an enrollment cannot start an authentication (SPEC §2.2, §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error(
        "the enrollment has not been deleted; delete it before authenticating with its facemap"
    )]
    NotDeleted,
    #[error("the enrollment has been deleted; the server no longer holds its facemap")]
    Deleted,
    #[error("the enrollment did not end APPROVED_VERIFIED")]
    NotApproved,
    #[error("the enrollment's document and selfie did not MATCH")]
    NoSimilarityMatch,
    #[error("the enrollment's selfie was not found valid (live)")]
    NotValid,
    #[error("the enrollment has no facemap")]
    NoFacemap,
    #[error("the enrollment's facemap has been revoked")]
    FacemapRevoked,
}

impl Enrollment {
    /// An enrollment decided `APPROVED_VERIFIED` with a matching, valid
    /// selfie, holding `facemap` (bound by `binding`), not deleted.
    pub fn approved(
        reference: EnrollmentRef,
        account: AccountId,
        binding: FacemapBinding,
        facemap: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            reference,
            account,
            verification_status: Some(VerificationStatus::ApprovedVerified),
            similarity: Some(Similarity::Match),
            validity: Some(true),
            facemap: Some(binding),
            server_facemap: Some(facemap),
            created_at: now,
            deleted_at: None,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    fn check_decision(&self) -> Result<&FacemapBinding, Ineligible> {
        if self.verification_status != Some(VerificationStatus::ApprovedVerified) {
            return Err(Ineligible::NotApproved);
        }
        if self.similarity != Some(Similarity::Match) {
            return Err(Ineligible::NoSimilarityMatch);
        }
        if self.validity != Some(true) {
            return Err(Ineligible::NotValid);
        }
        let binding = self.facemap.as_ref().ok_or(Ineligible::NoFacemap)?;
        if binding.revoked_at.is_some() {
            return Err(Ineligible::FacemapRevoked);
        }
        Ok(binding)
    }

    /// Preconditions of `facemap/initiate`: deleted, approved, matched, valid.
    pub fn eligible_for_facemap_auth(&self) -> Result<&FacemapBinding, Ineligible> {
        if !self.is_deleted() {
            return Err(Ineligible::NotDeleted);
        }
        self.check_decision()
    }

    /// Preconditions of `web/initiate`: the server still holds the facemap.
    pub fn eligible_for_web_auth(&self) -> Result<(&FacemapBinding, &[u8]), Ineligible> {
        if self.is_deleted() {
            return Err(Ineligible::Deleted);
        }
        let binding = self.check_decision()?;
        let facemap = self
            .server_facemap
            .as_deref()
            .ok_or(Ineligible::NoFacemap)?;
        Ok((binding, facemap))
    }

    /// The tombstone: decision fields and binding stay, PII and facemap go.
    pub fn into_tombstone(mut self, at: DateTime<Utc>) -> Self {
        self.server_facemap = None;
        self.deleted_at.get_or_insert(at);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved() -> Enrollment {
        Enrollment {
            reference: EnrollmentRef::new_random(),
            account: AccountId::new_random(),
            verification_status: Some(VerificationStatus::ApprovedVerified),
            similarity: Some(Similarity::Match),
            validity: Some(true),
            facemap: Some(FacemapBinding {
                serial: 1,
                model: "m".into(),
                revoked_at: None,
            }),
            server_facemap: Some(vec![1, 2, 3]),
            created_at: Utc::now(),
            deleted_at: None,
        }
    }

    #[test]
    fn facemap_auth_requires_deletion_and_a_clean_decision() {
        let live = approved();
        assert_eq!(
            live.eligible_for_facemap_auth().err(),
            Some(Ineligible::NotDeleted)
        );
        assert!(live.eligible_for_web_auth().is_ok());
        let gone = live.into_tombstone(Utc::now());
        assert!(gone.server_facemap.is_none());
        assert!(gone.eligible_for_facemap_auth().is_ok());
        assert_eq!(
            gone.eligible_for_web_auth().err(),
            Some(Ineligible::Deleted)
        );

        let mut e = approved().into_tombstone(Utc::now());
        e.similarity = Some(Similarity::NoMatch);
        assert_eq!(
            e.eligible_for_facemap_auth().err(),
            Some(Ineligible::NoSimilarityMatch)
        );
        e.similarity = Some(Similarity::Match);
        e.validity = Some(false);
        assert_eq!(
            e.eligible_for_facemap_auth().err(),
            Some(Ineligible::NotValid)
        );
        e.validity = Some(true);
        e.verification_status = Some(VerificationStatus::DeniedFraud);
        assert_eq!(
            e.eligible_for_facemap_auth().err(),
            Some(Ineligible::NotApproved)
        );
        e.verification_status = Some(VerificationStatus::ApprovedVerified);
        if let Some(b) = e.facemap.as_mut() {
            b.revoked_at = Some(Utc::now());
        }
        assert_eq!(
            e.eligible_for_facemap_auth().err(),
            Some(Ineligible::FacemapRevoked)
        );
    }
}
