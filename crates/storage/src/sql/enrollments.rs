//! [`EnrollmentStore`] in SQL: the `enrollments` table and the failure
//! streaks in `enrollment_failures`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{Enrollment, EnrollmentRef, FailureStreak, TransactionState};
use sqlx::AnyConnection;

use super::codec::{ms, opt_flag_to_db, opt_ms, serial_to_db, ENROLLMENT_COLUMNS, STREAK_COLUMNS};
use super::keys::facemap_key_id;
use super::{execute, row, SqlStore};
use crate::{EnrollmentStore, StoreResult};

/// Keeps the enrollment's run of `FAILED` authentications (failure lockout):
/// `FAILED` extends it, `PASSED` ends it, other final states leave it alone.
/// Runs on the finalising caller's database transaction.
pub(super) async fn count_failure(
    conn: &mut AnyConnection,
    enrollment: EnrollmentRef,
    state: TransactionState,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let e = enrollment.to_string();
    let query = match state {
        // The existing row is named by its table: PostgreSQL would find a
        // bare `consecutive` ambiguous (it could be the proposed row's).
        TransactionState::Failed => sqlx::query(
            "INSERT INTO enrollment_failures (enrollment, consecutive, last_failure_at) \
             VALUES ($1, 1, $2) ON CONFLICT (enrollment) DO UPDATE SET \
             consecutive = enrollment_failures.consecutive + 1, last_failure_at = $2",
        )
        .bind(e)
        .bind(ms(at)),
        TransactionState::Passed => {
            sqlx::query("DELETE FROM enrollment_failures WHERE enrollment = $1").bind(e)
        }
        _ => return Ok(()),
    };
    execute(query, conn).await?;
    Ok(())
}

#[async_trait]
impl EnrollmentStore for SqlStore {
    #[tracing::instrument(skip_all, fields(reference = %enrollment.reference))]
    async fn insert_enrollment(&self, enrollment: &Enrollment) -> StoreResult<()> {
        let binding = enrollment.facemap.as_ref();
        let query = sqlx::query(
            "INSERT INTO enrollments (reference, account, verification_status, similarity, \
             validity, facemap_serial, facemap_model, facemap_revoked_at, server_facemap, \
             facemap_key_id, created_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(enrollment.reference.to_string())
        .bind(enrollment.account.to_string())
        .bind(enrollment.verification_status.map(|v| v.as_str()))
        .bind(enrollment.similarity.map(|v| v.as_str()))
        .bind(opt_flag_to_db(enrollment.validity))
        .bind(binding.map(|b| serial_to_db(b.serial)))
        .bind(binding.map(|b| b.model.as_str()))
        .bind(binding.and_then(|b| opt_ms(b.revoked_at)))
        .bind(enrollment.server_facemap.as_deref())
        .bind(
            enrollment
                .server_facemap
                .as_deref()
                .and_then(facemap_key_id)
                .map(i64::from),
        )
        .bind(ms(enrollment.created_at))
        .bind(opt_ms(enrollment.deleted_at));
        execute(query, &self.write).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn enrollment(&self, reference: EnrollmentRef) -> StoreResult<Option<Enrollment>> {
        let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE reference = $1");
        row(sqlx::query(&sql).bind(reference.to_string()), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn delete_enrollment(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Mirrors `Enrollment::into_tombstone`: decision and binding stay.
        let query = sqlx::query(
            "UPDATE enrollments SET server_facemap = NULL, deleted_at = $1 \
             WHERE reference = $2 AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string());
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn revoke_facemap(
        &self,
        reference: EnrollmentRef,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE enrollments SET facemap_revoked_at = $1 \
             WHERE reference = $2 AND facemap_serial IS NOT NULL AND facemap_revoked_at IS NULL",
        )
        .bind(ms(at))
        .bind(reference.to_string());
        Ok(execute(query, &self.write).await? == 1)
    }

    #[tracing::instrument(skip_all, fields(enrollment = %enrollment))]
    async fn failure_streak(&self, enrollment: EnrollmentRef) -> StoreResult<FailureStreak> {
        let sql = format!("SELECT {STREAK_COLUMNS} FROM enrollment_failures WHERE enrollment = $1");
        let streak = row(sqlx::query(&sql).bind(enrollment.to_string()), &self.read).await?;
        Ok(streak.unwrap_or_default())
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn enrollment_with_streak(
        &self,
        reference: EnrollmentRef,
    ) -> StoreResult<Option<(Enrollment, FailureStreak)>> {
        let sql = format!(
            "SELECT {ENROLLMENT_COLUMNS}, {STREAK_COLUMNS} FROM enrollments \
             LEFT JOIN enrollment_failures f ON f.enrollment = enrollments.reference \
             WHERE enrollments.reference = $1"
        );
        row(sqlx::query(&sql).bind(reference.to_string()), &self.read).await
    }
}
