//! [`ScanStore`] in SQL: the `scans` table, with the `enrollments` row
//! each scan decides, its images in `capture_images` and its capture
//! sessions and attempts.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use facegate_domain::{
    AttemptState, AuditEntry, CaptureSession, EnrollmentRef, RateLimit, Scan, ScanOutcome,
    ScanState, TransactionRef, VerificationStatus,
};
use sqlx::AnyConnection;

use super::accounts::take_initiation;
use super::capture::insert_session;
use super::codec::{
    db_err, flag_to_db, ms, opt_flag_to_db, serial_to_db, ScanImageRow, AUDIT_COLUMNS, SCAN_COLUMNS,
};
use super::images::{erase_images, insert_images, sealed_image};
use super::keys::facemap_key_id;
use super::outbox::{erase_callbacks, insert_outbox};
use super::transactions::end_capture;
use super::{commit, execute, row, rows, Dialect, SqlStore};
use crate::{
    ImageKind, ScanDecision, ScanReview, ScanSide, ScanStore, SelfieFinish, StoreError, StoreResult,
};

/// Capture sessions, attempts, images and callbacks name a scan by its
/// reference, in the column they name an authentication by.
fn as_transaction(reference: EnrollmentRef) -> TransactionRef {
    TransactionRef::from_uuid(reference.as_uuid())
}

/// Whether the scan is pending and not deleted; on PostgreSQL its row stays
/// locked until the caller's database transaction ends, so that no decision
/// or deletion slips in between the check and the writes that rely on it.
async fn is_pending(conn: &mut AnyConnection, reference: EnrollmentRef) -> StoreResult<bool> {
    let lock = Dialect::of(conn).lock_rows();
    let pending: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM scans WHERE reference = $1 AND state = 'PENDING' \
         AND deleted_at IS NULL{lock}"
    ))
    .bind(reference.to_string())
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(pending.is_some())
}

/// Finishes an open attempt of the scan; false when it was not open.
async fn finish_attempt_in(
    conn: &mut AnyConnection,
    reference: EnrollmentRef,
    finish: &SelfieFinish,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let decision = serde_json::to_string(&finish.decision)
        .map_err(|e| StoreError::Corrupt(format!("a decision that does not serialise: {e}")))?;
    let query = sqlx::query(
        "UPDATE capture_attempts SET state = $1, outcome = $2, decision = $3, finished_at = $4 \
         WHERE id = $5 AND transaction_ref = $6 AND state = 'OPEN'",
    )
    .bind(AttemptState::Finished.as_str())
    .bind(finish.outcome.as_str())
    .bind(decision)
    .bind(ms(at))
    .bind(finish.attempt.hyphenated().to_string())
    .bind(reference.to_string());
    if execute(query, &mut *conn).await? != 1 {
        return Ok(false);
    }
    Ok(true)
}

/// The reject details as stored: comma-separated detail codes.
fn details_text(outcome: &ScanOutcome) -> Option<String> {
    let details = outcome.rejection.as_ref()?.details();
    (!details.is_empty()).then(|| {
        details
            .iter()
            .map(|d| d.code().to_string())
            .collect::<Vec<_>>()
            .join(",")
    })
}

#[async_trait]
impl ScanStore for SqlStore {
    #[tracing::instrument(skip_all, fields(reference = %scan.reference))]
    async fn insert_scan(&self, scan: &Scan, limit: RateLimit) -> StoreResult<()> {
        let mut db = self.begin_write().await?;
        take_initiation(&mut db, scan.account, scan.created_at, limit).await?;
        let query = sqlx::query(
            "INSERT INTO enrollments (reference, account, created_at) VALUES ($1, $2, $3)",
        )
        .bind(scan.reference.to_string())
        .bind(scan.account.to_string())
        .bind(ms(scan.created_at));
        execute(query, &mut *db).await?;
        let query = sqlx::query(
            "INSERT INTO scans (reference, account, state, workflow, \
             customer_internal_reference, user_reference, reporting_criteria, preset_country, \
             preset_type, callback_url, success_url, error_url, locale, token_hash, scan_source, \
             channel, document_type, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(scan.reference.to_string())
        .bind(scan.account.to_string())
        .bind(scan.state.as_str())
        .bind(i64::from(scan.workflow.id()))
        .bind(scan.customer_internal_reference.as_deref())
        .bind(scan.user_reference.as_ref().map(|u| u.as_str()))
        .bind(scan.reporting_criteria.as_deref())
        .bind(scan.preset.map(|p| p.country.as_str().to_owned()))
        .bind(scan.preset.map(|p| p.document_type.as_str()))
        .bind(scan.callback_url.as_ref().map(|u| u.as_str()))
        .bind(scan.success_url.as_ref().map(|u| u.as_str()))
        .bind(scan.error_url.as_ref().map(|u| u.as_str()))
        .bind(scan.locale.as_str())
        .bind(scan.token_hash.as_slice())
        .bind(scan.scan_source.as_str())
        .bind(scan.channel.map(|c| c.as_str()))
        .bind(scan.document_type.map(|t| t.as_str()))
        .bind(ms(scan.created_at))
        .bind(ms(scan.expires_at));
        execute(query, &mut *db).await?;
        commit(db).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn scan(&self, reference: EnrollmentRef) -> StoreResult<Option<Scan>> {
        let sql =
            format!("SELECT {SCAN_COLUMNS} FROM scans WHERE reference = $1 AND deleted_at IS NULL");
        row(sqlx::query(&sql).bind(reference.to_string()), &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn scan_by_token_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<Scan>> {
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM scans WHERE token_hash = $1 AND deleted_at IS NULL"
        );
        row(sqlx::query(&sql).bind(hash.as_slice()), &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %session.transaction))]
    async fn open_scan_session(
        &self,
        session: &CaptureSession,
        client: Option<IpAddr>,
    ) -> StoreResult<bool> {
        let reference = EnrollmentRef::from_uuid(session.transaction.as_uuid());
        let mut db = self.begin_write().await?;
        if !is_pending(&mut db, reference).await? {
            return Ok(false);
        }
        insert_session(&mut db, session).await?;
        let query = sqlx::query(
            "UPDATE scans SET scan_source = $1, client_ip = COALESCE($2, client_ip) \
             WHERE reference = $3",
        )
        .bind(session.scan_source.as_str())
        .bind(client.map(|ip| ip.to_string()))
        .bind(reference.to_string());
        execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(reference = %side.reference, kind = side.image.kind.as_str()))]
    async fn store_scan_side(&self, side: &ScanSide) -> StoreResult<bool> {
        let mut db = self.begin_write().await?;
        if !is_pending(&mut db, side.reference).await? {
            return Ok(false);
        }
        let r = side.reference.to_string();
        let query = sqlx::query(
            "DELETE FROM capture_images WHERE transaction_ref = $1 AND kind = $2 AND n = $3",
        )
        .bind(&r)
        .bind(side.image.kind.as_str())
        .bind(i64::from(side.image.n));
        execute(query, &mut *db).await?;
        insert_images(
            &mut db,
            as_transaction(side.reference),
            std::slice::from_ref(&side.image),
            side.at,
        )
        .await?;
        // An upload makes the whole document an upload (`WEB_UPLOAD`).
        let query = sqlx::query(
            "UPDATE scans SET channel = CASE WHEN channel = 'UPLOAD' THEN channel ELSE $1 END, \
             document_type = COALESCE($2, document_type), \
             first_attempt_at = COALESCE(first_attempt_at, $3) WHERE reference = $4",
        )
        .bind(side.channel.as_str())
        .bind(side.document_type.map(|t| t.as_str()))
        .bind(ms(side.at))
        .bind(&r);
        execute(query, &mut *db).await?;
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn scan_images(&self, reference: EnrollmentRef) -> StoreResult<Vec<(ImageKind, u32)>> {
        let query = sqlx::query(
            "SELECT i.kind, i.n FROM capture_images i JOIN scans s \
             ON s.reference = i.transaction_ref \
             WHERE i.transaction_ref = $1 AND s.deleted_at IS NULL ORDER BY i.kind, i.n",
        )
        .bind(reference.to_string());
        let found: Vec<ScanImageRow> = rows(query, &self.read).await?;
        Ok(found.into_iter().map(|r| (r.kind, r.n)).collect())
    }

    #[tracing::instrument(skip_all, fields(reference = %reference, kind = kind.as_str(), n = n))]
    async fn scan_image(
        &self,
        reference: EnrollmentRef,
        kind: ImageKind,
        n: u32,
    ) -> StoreResult<Option<Vec<u8>>> {
        sealed_image(&self.read, "scans", reference.to_string(), kind, n).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference, outcome = finish.outcome.as_str()))]
    async fn finish_selfie_attempt(
        &self,
        reference: EnrollmentRef,
        finish: &SelfieFinish,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut db = self.begin_write().await?;
        if !is_pending(&mut db, reference).await? {
            return Ok(false);
        }
        if !finish_attempt_in(&mut db, reference, finish, at).await? {
            return Ok(false);
        }
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(reference = %decision.reference, status = decision.outcome.status.as_str()))]
    async fn decide_scan(&self, decision: &ScanDecision) -> StoreResult<bool> {
        if decision.state == ScanState::Pending {
            return Err(StoreError::Conflict("a decision is not PENDING".to_owned()));
        }
        let reference = decision.reference;
        let r = reference.to_string();
        let outcome = &decision.outcome;
        let identity = outcome.identity.as_ref();
        let mut db = self.begin_write().await?;
        let query = sqlx::query(
            "UPDATE scans SET state = $1, decided_at = $2, verification_status = $3, \
             reject_reason = $4, reject_details = $5, similarity = $6, validity = $7, \
             validity_reason = $8, mrz_checked = $9, evidence = $10 \
             WHERE reference = $11 AND state = 'PENDING' AND deleted_at IS NULL",
        )
        .bind(decision.state.as_str())
        .bind(ms(decision.at))
        .bind(outcome.status.as_str())
        .bind(
            outcome
                .rejection
                .as_ref()
                .map(|r| i64::from(r.reason().code())),
        )
        .bind(details_text(&decision.outcome))
        .bind(identity.map(|i| i.similarity.as_str()))
        .bind(opt_flag_to_db(identity.map(|i| i.validity)))
        .bind(identity.and_then(|i| i.reason).map(|r| r.as_str()))
        .bind(flag_to_db(outcome.mrz_checked))
        .bind(decision.evidence.as_deref())
        .bind(&r);
        if execute(query, &mut *db).await? == 0 {
            return Ok(false);
        }
        if let Some(selfie) = &decision.selfie {
            if !finish_attempt_in(&mut db, reference, selfie, decision.at).await? {
                // Rolled back: the attempt was finished by a concurrent call.
                return Ok(false);
            }
        }
        insert_images(
            &mut db,
            as_transaction(reference),
            &decision.images,
            decision.at,
        )
        .await?;
        let binding = decision.facemap.as_ref().map(|f| &f.binding);
        let sealed = decision.facemap.as_ref().map(|f| f.sealed.as_slice());
        let query = sqlx::query(
            "UPDATE enrollments SET verification_status = $1, similarity = $2, validity = $3, \
             facemap_serial = $4, facemap_model = $5, facemap_revoked_at = NULL, \
             server_facemap = $6, facemap_key_id = $7 WHERE reference = $8 AND deleted_at IS NULL",
        )
        .bind(outcome.status.as_str())
        .bind(identity.map(|i| i.similarity.as_str()))
        .bind(opt_flag_to_db(identity.map(|i| i.validity)))
        .bind(binding.map(|b| serial_to_db(b.serial)))
        .bind(binding.map(|b| b.model.as_str()))
        .bind(sealed)
        .bind(sealed.and_then(facemap_key_id).map(i64::from))
        .bind(&r);
        execute(query, &mut *db).await?;
        if let Some(message) = &decision.callback {
            insert_outbox(&mut db, message).await?;
        }
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn overdue_scans(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<EnrollmentRef>> {
        let query = sqlx::query(
            "SELECT reference FROM scans WHERE state = 'PENDING' AND expires_at <= $1 \
             AND deleted_at IS NULL ORDER BY expires_at, reference LIMIT $2",
        )
        .bind(ms(now))
        .bind(i64::from(limit));
        rows(query, &self.read).await
    }

    #[tracing::instrument(skip_all)]
    async fn scans_past_retention(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<EnrollmentRef>> {
        let query = sqlx::query(
            "SELECT s.reference FROM scans s JOIN accounts a ON a.id = s.account \
             WHERE s.state <> 'PENDING' AND s.deleted_at IS NULL \
             AND s.decided_at <= $1 - a.scan_retention_days * 86400000 \
             ORDER BY s.decided_at, s.reference LIMIT $2",
        )
        .bind(ms(now))
        .bind(i64::from(limit));
        rows(query, &self.read).await
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    async fn delete_scan(&self, reference: EnrollmentRef, at: DateTime<Utc>) -> StoreResult<bool> {
        let r = reference.to_string();
        let mut db = self.begin_write().await?;
        // A pending scan ends as the user never finishing it would, without
        // a callback: the DELETE answer is the customer's last word.
        let query = sqlx::query(
            "UPDATE scans SET state = 'FAILED', decided_at = $1, verification_status = $2 \
             WHERE reference = $3 AND state = 'PENDING' AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(VerificationStatus::NoIdUploaded.as_str())
        .bind(&r);
        let failed = execute(query, &mut *db).await? == 1;
        if failed {
            let query =
                sqlx::query("UPDATE enrollments SET verification_status = $1 WHERE reference = $2")
                    .bind(VerificationStatus::NoIdUploaded.as_str())
                    .bind(&r);
            execute(query, &mut *db).await?;
        }
        let query = sqlx::query(
            "UPDATE scans SET customer_internal_reference = NULL, user_reference = NULL, \
             reporting_criteria = NULL, callback_url = NULL, success_url = NULL, \
             error_url = NULL, client_ip = NULL, deleted_at = $1 WHERE reference = $2 AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(&r);
        let deleted = execute(query, &mut *db).await? == 1;
        if deleted {
            // The audit trail stays; the reviewers' words about the person go.
            let query =
                sqlx::query("UPDATE audit_events SET reason = NULL WHERE scan = $1").bind(&r);
            execute(query, &mut *db).await?;
            let transaction = as_transaction(reference);
            erase_images(&mut db, transaction).await?;
            end_capture(&mut db, transaction, at).await?;
            erase_callbacks(&mut db, transaction).await?;
            // Mirrors `Enrollment::into_tombstone`: decision and binding stay.
            let query = sqlx::query(
                "UPDATE enrollments SET server_facemap = NULL, \
                 deleted_at = COALESCE(deleted_at, $1) WHERE reference = $2",
            )
            .bind(ms(at))
            .bind(&r);
            execute(query, &mut *db).await?;
        }
        commit(db).await?;
        if deleted {
            self.flush_erasure().await;
        }
        Ok(deleted)
    }

    #[tracing::instrument(skip_all)]
    async fn review_scan(&self, review: &ScanReview) -> StoreResult<bool> {
        let r = review.reference.to_string();
        let (before, after) = (&review.before, &review.outcome);
        let code = |o: &ScanOutcome| o.rejection.as_ref().map(|r| i64::from(r.reason().code()));
        let mut db = self.begin_write().await?;
        // Compare and set: the verdict the review was decided against.
        let query = sqlx::query(
            "UPDATE scans SET verification_status = $1, reject_reason = $2, reject_details = $3 \
             WHERE reference = $4 AND state <> 'PENDING' AND deleted_at IS NULL \
             AND verification_status = $5 AND reject_reason IS NOT DISTINCT FROM $6",
        )
        .bind(after.status.as_str())
        .bind(code(after))
        .bind(details_text(after))
        .bind(&r)
        .bind(before.status.as_str())
        .bind(code(before));
        if execute(query, &mut *db).await? == 0 {
            return Ok(false);
        }
        let query =
            sqlx::query("UPDATE enrollments SET verification_status = $1 WHERE reference = $2")
                .bind(after.status.as_str())
                .bind(&r);
        execute(query, &mut *db).await?;
        let a = &review.audit;
        let query = sqlx::query(
            "INSERT INTO audit_events (id, account, at, actor, scan, action, before, after, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(a.id.hyphenated().to_string())
        .bind(a.account.to_string())
        .bind(ms(a.at))
        .bind(&a.actor)
        .bind(&r)
        .bind(&a.action)
        .bind(&a.before)
        .bind(&a.after)
        .bind(a.reason.as_deref());
        execute(query, &mut *db).await?;
        if let Some(message) = &review.callback {
            insert_outbox(&mut db, message).await?;
        }
        commit(db).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn audit_trail(&self, reference: EnrollmentRef) -> StoreResult<Vec<AuditEntry>> {
        // `seq` keeps the order of entries made within one millisecond.
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE scan = $1 ORDER BY at, seq");
        let query = sqlx::query(&sql).bind(reference.to_string());
        rows(query, &self.read).await
    }
}
