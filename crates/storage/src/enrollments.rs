//! Enrollments, the revocation of the facemaps they issued, and their run of
//! failed authentications (failure lockout).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{Enrollment, EnrollmentRef, FailureStreak};

use crate::StoreResult;

/// Enrollments with their facemap binding and failure streak.
#[async_trait]
pub trait EnrollmentStore: Send + Sync {
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> StoreResult<()>;
    /// Tombstones are returned too: facemap authentication needs them.
    async fn enrollment(&self, reference: EnrollmentRef) -> StoreResult<Option<Enrollment>>;
    /// Turns the enrollment into its tombstone (`Enrollment::into_tombstone`).
    /// Returns false when unknown or already deleted.
    async fn delete_enrollment(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Revokes the enrollment's facemap. Returns false when unknown or already revoked.
    async fn revoke_facemap(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The enrollment's current run of `FAILED` authentications (counted by
    /// every finalisation: `FAILED` adds one, `PASSED` ends the run).
    async fn failure_streak(&self, enrollment: EnrollmentRef) -> StoreResult<FailureStreak>;
    /// The enrollment and its failure streak in one read: what an
    /// initiation checks, without a second round trip on its hot path.
    async fn enrollment_with_streak(
        &self,
        reference: EnrollmentRef,
    ) -> StoreResult<Option<(Enrollment, FailureStreak)>>;
}
