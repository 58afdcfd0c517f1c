//! Conversions between stored values and the domain, and the mapping of sqlx
//! errors onto [`StoreError`]. Rows are read through the `Any` driver, whose
//! values are `i64`, `String` and `Vec<u8>` on both backends (a flag is an
//! integer 0 or 1, a time unix milliseconds, an identifier hyphenated text). Every value read from a row has one reader
//! here, a [`FromRow`] impl, used by all the queries that select it, single
//! row or list. Nothing here ever puts a bound or stored value into an error
//! message: rows carry facemaps, secrets and customer data.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use facegate_domain::{
    Account, AccountId, AttemptOutcome, AttemptState, AuditEntry, AuthTransaction, CaptureAttempt,
    CaptureSession, CaptureSubject, Challenge, Credential, CredentialId, Enrollment, EnrollmentRef,
    FacemapBinding, FailureStreak, FrameCursor, Locale, LocaleSet, ParentOrigin,
    PreviousWebhookKey, PrivateCallbackTargets, RedirectUrl, Role, ScanSource, Similarity,
    TransactionRef, TransactionState, UserReference, VerificationStatus,
};
use facegate_domain::{
    CaptureChannel, Country, DocumentAcceptance, DocumentType, IdentityVerdict, Preset,
    RejectDetail, RejectReason, Rejection, Scan, ScanOutcome, ScanState, ValidityReason, Workflow,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use uuid::Uuid;

use crate::{
    CallbackRecord, ConsoleSession, ConsoleUser, DeliveryAttempt, FrameOutcome, ImageKind,
    KeyUsage, OutboxMessage, OutboxStatus, PendingCallback, StoreError, StoreResult, StoredFacemap,
    StoredFrame, StoredImage,
};

/// Reads one value from a row holding its columns (by name, so a query may
/// select more). Implemented once per value; every query goes through it.
pub(super) trait FromRow: Sized {
    fn from_row(row: &AnyRow) -> StoreResult<Self>;
}

/// Columns of `auth_transactions` that make up an [`AuthTransaction`].
pub(super) const TX_COLUMNS: &str = "reference, account, enrollment, state, scan_source, \
     user_reference, callback_url, success_url, error_url, locale, token_hash, facemap, \
     created_at, expires_at, finalized_at, deleted_at, decision, face_images, liveness_images";

pub(super) const ACCOUNT_COLUMNS: &str = "id, name, facemap_auth_enabled, callback_url, \
     success_url, error_url, default_token_lifetime_minutes, default_locale, webhook_salt, \
     webhook_key_id, webhook_previous_key_id, webhook_previous_until, parent_origin, \
     refuse_pii_user_reference, callback_private_targets, scan_retention_days, \
     accepted_document_types, accepted_countries, accept_expired_documents, created_at";

pub(super) const CREDENTIAL_COLUMNS: &str =
    "id, account, token, secret_hash, role, created_at, revoked_at";

pub(super) const ENROLLMENT_COLUMNS: &str = "reference, account, verification_status, \
     similarity, validity, facemap_serial, facemap_model, facemap_revoked_at, server_facemap, \
     created_at, deleted_at";

pub(super) const OUTBOX_COLUMNS: &str = "id, account, transaction_ref, event, url, body, \
     status, attempts, first_attempt_at, next_attempt_at, created_at";

pub(super) const SESSION_COLUMNS: &str =
    "token_hash, transaction_ref, created_at, expires_at, ended_at, scan_source, subject";

pub(super) const CAPTURE_ATTEMPT_COLUMNS: &str = "id, transaction_ref, number, nonce, challenge, \
     flash, issued_at, state, outcome, finished_at, model, frames_received, last_t_ms, \
     earliest_start_ms, closed_at";

pub(super) const FRAME_COLUMNS: &str = "idx, accepted_at, outcome, sealed";

pub(super) const SCAN_COLUMNS: &str = "reference, account, state, workflow, \
     customer_internal_reference, user_reference, reporting_criteria, preset_country, \
     preset_type, callback_url, success_url, error_url, locale, token_hash, scan_source, channel, \
     client_ip, document_type, created_at, expires_at, first_attempt_at, decided_at, deleted_at, \
     verification_status, reject_reason, reject_details, similarity, validity, validity_reason, \
     mrz_checked, evidence";

pub(super) const STREAK_COLUMNS: &str = "consecutive, last_failure_at";

pub(super) const CONSOLE_USER_COLUMNS: &str =
    "id, account, username, password_hash, created_at, totp_secret, totp_last_step";

/// A session joined with its user: the session's columns, then the user's
/// under `u_` names.
pub(super) const CONSOLE_SESSION_COLUMNS: &str = "s.token_hash, s.user_id, s.signed_in_at, \
     s.last_seen_at, u.id, u.account, u.username, u.password_hash, u.created_at, u.totp_secret, \
     u.totp_last_step";

pub(super) const AUDIT_COLUMNS: &str =
    "id, account, at, actor, scan, action, before, after, reason";

pub(super) const ATTEMPT_COLUMNS: &str =
    "outbox_id, attempt_no, at, delivered, status, error, detail, duration_ms";

/// Maps a sqlx failure. The databases' own messages name tables, columns and
/// constraints, never bound values (PostgreSQL puts those in the error's
/// detail, which is not kept), so they are safe to keep.
pub(super) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) => StoreError::Backend(db.message().to_owned()),
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(e.to_string()),
        e => StoreError::Backend(e.to_string()),
    }
}

fn corrupt(column: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("{column}: {what}"))
}

/// Reads one column; a type mismatch or NULL where none is allowed is corruption.
fn get<'r, T>(row: &'r AnyRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    // The decode error describes types only, never the value.
    row.try_get(column)
        .map_err(|e| corrupt(column, &e.to_string()))
}

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

/// A flag as stored: 0 or 1 (the `Any` driver would bind a `bool` as a
/// PostgreSQL `boolean`, which an integer column refuses).
pub(super) fn flag_to_db(on: bool) -> i64 {
    i64::from(on)
}

pub(super) fn opt_flag_to_db(on: Option<bool>) -> Option<i64> {
    on.map(flag_to_db)
}

fn time(row: &AnyRow, column: &str) -> StoreResult<DateTime<Utc>> {
    let v: i64 = get(row, column)?;
    DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(column, "timestamp out of range"))
}

fn opt_time(row: &AnyRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let v: Option<i64> = get(row, column)?;
    v.map(|v| {
        DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt(column, "timestamp out of range"))
    })
    .transpose()
}

fn uuid(row: &AnyRow, column: &str) -> StoreResult<Uuid> {
    let v: String = get(row, column)?;
    Uuid::try_parse(&v).map_err(|_| corrupt(column, "not a UUID"))
}

/// Parses one of the domain's identifier newtypes from its hyphenated form.
fn id<T: FromStr>(row: &AnyRow, column: &str) -> StoreResult<T> {
    let v: String = get(row, column)?;
    v.parse()
        .map_err(|_| corrupt(column, "not a hyphenated UUID"))
}

fn flag(row: &AnyRow, column: &str) -> StoreResult<bool> {
    match get::<i64>(row, column)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(corrupt(column, "not a boolean")),
    }
}

fn opt_flag(row: &AnyRow, column: &str) -> StoreResult<Option<bool>> {
    match get::<Option<i64>>(row, column)? {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(_) => Err(corrupt(column, "not a boolean")),
    }
}

fn url(row: &AnyRow, column: &str) -> StoreResult<Option<RedirectUrl>> {
    Ok(get::<Option<String>>(row, column)?.map(RedirectUrl::from_trusted))
}

/// Stored in the canonical text the parser wrote, so reading it back parses it again.
fn private_targets(row: &AnyRow, column: &str) -> StoreResult<PrivateCallbackTargets> {
    match get::<Option<String>>(row, column)? {
        None => Ok(PrivateCallbackTargets::NONE),
        Some(text) => PrivateCallbackTargets::parse(&text)
            .map_err(|_| corrupt(column, "not a private target list")),
    }
}

fn accepted_documents(row: &AnyRow) -> StoreResult<DocumentAcceptance> {
    let list = |column: &str| -> StoreResult<String> {
        Ok(get::<Option<String>>(row, column)?.unwrap_or_default())
    };
    let column = "accepted_document_types";
    let document_types = DocumentAcceptance::parse_types(&list(column)?, column)
        .map_err(|_| corrupt(column, "not a list of document types"))?;
    let column = "accepted_countries";
    let countries = DocumentAcceptance::parse_countries(&list(column)?, column)
        .map_err(|_| corrupt(column, "not a list of countries"))?;
    Ok(DocumentAcceptance {
        document_types,
        countries,
        accept_expired: flag(row, "accept_expired_documents")?,
    })
}

fn locale(row: &AnyRow, column: &str) -> StoreResult<Locale> {
    let v: String = get(row, column)?;
    // The enrollment set is the wider one: it accepts every stored locale.
    Locale::parse(&v, LocaleSet::Enrollment).map_err(|_| corrupt(column, "unsupported locale"))
}

fn blob<const N: usize>(row: &AnyRow, column: &str) -> StoreResult<[u8; N]> {
    let v: Vec<u8> = get(row, column)?;
    v.try_into().map_err(|_| corrupt(column, "wrong length"))
}

fn enum_of<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let v: String = get(row, column)?;
    parse(&v).ok_or_else(|| corrupt(column, "unknown value"))
}

fn opt_enum_of<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, column)?
        .map(|v| parse(&v).ok_or_else(|| corrupt(column, "unknown value")))
        .transpose()
}

fn unsigned<T: TryFrom<i64>>(row: &AnyRow, column: &str) -> StoreResult<T> {
    let v: i64 = get(row, column)?;
    T::try_from(v).map_err(|_| corrupt(column, "out of range"))
}

/// Database integers are signed 64-bit; a serial is stored bit for bit so that
/// the whole `u64` range round-trips (serials are never compared in SQL).
pub(super) fn serial_to_db(serial: u64) -> i64 {
    serial as i64
}

fn serial_from_db(v: i64) -> u64 {
    v as u64
}

/// Saturates rather than fails: a duration beyond `i64::MAX` ms is not real.
pub(super) fn duration_to_db(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl FromRow for Account {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(Account {
            id: id(row, "id")?,
            name: get(row, "name")?,
            facemap_auth_enabled: flag(row, "facemap_auth_enabled")?,
            callback_url: url(row, "callback_url")?,
            success_url: url(row, "success_url")?,
            error_url: url(row, "error_url")?,
            default_token_lifetime_minutes: unsigned(row, "default_token_lifetime_minutes")?,
            default_locale: locale(row, "default_locale")?,
            webhook_salt: blob(row, "webhook_salt")?,
            webhook_key_id: unsigned(row, "webhook_key_id")?,
            webhook_previous: previous_webhook_key(row)?,
            parent_origin: get::<Option<String>>(row, "parent_origin")?
                .map(ParentOrigin::from_trusted),
            refuse_pii_user_reference: flag(row, "refuse_pii_user_reference")?,
            callback_private_targets: private_targets(row, "callback_private_targets")?,
            scan_retention_days: unsigned(row, "scan_retention_days")?,
            accepted_documents: accepted_documents(row)?,
            created_at: time(row, "created_at")?,
        })
    }
}

fn previous_webhook_key(row: &AnyRow) -> StoreResult<Option<PreviousWebhookKey>> {
    let key_id: Option<i64> = get(row, "webhook_previous_key_id")?;
    match (key_id, opt_time(row, "webhook_previous_until")?) {
        (Some(key_id), Some(until)) => Ok(Some(PreviousWebhookKey {
            key_id: u32::try_from(key_id)
                .map_err(|_| StoreError::Corrupt("webhook_previous_key_id".to_owned()))?,
            until,
        })),
        _ => Ok(None),
    }
}

impl FromRow for Credential {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(Credential {
            id: id::<CredentialId>(row, "id")?,
            account: id::<AccountId>(row, "account")?,
            token: get(row, "token")?,
            secret_hash: get(row, "secret_hash")?,
            role: enum_of(row, "role", Role::parse)?,
            created_at: time(row, "created_at")?,
            revoked_at: opt_time(row, "revoked_at")?,
        })
    }
}

impl FromRow for Enrollment {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let serial: Option<i64> = get(row, "facemap_serial")?;
        let model: Option<String> = get(row, "facemap_model")?;
        let revoked_at = opt_time(row, "facemap_revoked_at")?;
        let facemap = match (serial, model) {
            (Some(serial), Some(model)) => Some(FacemapBinding {
                serial: serial_from_db(serial),
                model,
                revoked_at,
            }),
            (None, None) if revoked_at.is_none() => None,
            _ => return Err(corrupt("facemap_serial", "incomplete facemap binding")),
        };
        Ok(Enrollment {
            reference: id::<EnrollmentRef>(row, "reference")?,
            account: id::<AccountId>(row, "account")?,
            verification_status: opt_enum_of(
                row,
                "verification_status",
                VerificationStatus::parse,
            )?,
            similarity: opt_enum_of(row, "similarity", Similarity::parse)?,
            validity: opt_flag(row, "validity")?,
            facemap,
            server_facemap: get(row, "server_facemap")?,
            created_at: time(row, "created_at")?,
            deleted_at: opt_time(row, "deleted_at")?,
        })
    }
}

impl FromRow for AuthTransaction {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(AuthTransaction {
            reference: id::<TransactionRef>(row, "reference")?,
            account: id::<AccountId>(row, "account")?,
            enrollment: id::<EnrollmentRef>(row, "enrollment")?,
            state: enum_of(row, "state", TransactionState::parse)?,
            scan_source: enum_of(row, "scan_source", ScanSource::parse)?,
            user_reference: get::<Option<String>>(row, "user_reference")?
                .map(UserReference::from_trusted),
            callback_url: url(row, "callback_url")?,
            success_url: url(row, "success_url")?,
            error_url: url(row, "error_url")?,
            locale: locale(row, "locale")?,
            token_hash: blob(row, "token_hash")?,
            facemap: get(row, "facemap")?,
            created_at: time(row, "created_at")?,
            expires_at: time(row, "expires_at")?,
            finalized_at: opt_time(row, "finalized_at")?,
            deleted_at: opt_time(row, "deleted_at")?,
            // A record that no longer reads as a decision is shown as none.
            decision: get::<Option<String>>(row, "decision")?
                .and_then(|d| serde_json::from_str(&d).ok()),
            face_image: flag(row, "face_images")?,
            liveness_images: unsigned(row, "liveness_images")?,
        })
    }
}

impl FromRow for CaptureSession {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(CaptureSession {
            token_hash: blob(row, "token_hash")?,
            transaction: id::<TransactionRef>(row, "transaction_ref")?,
            created_at: time(row, "created_at")?,
            expires_at: time(row, "expires_at")?,
            ended_at: opt_time(row, "ended_at")?,
            scan_source: enum_of(row, "scan_source", ScanSource::parse)?,
            subject: enum_of(row, "subject", CaptureSubject::parse)?,
        })
    }
}

fn outcome(s: &str) -> Option<AttemptOutcome> {
    [
        AttemptOutcome::Passed,
        AttemptOutcome::Failed,
        AttemptOutcome::Retry,
        AttemptOutcome::Invalid,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

impl FromRow for CaptureAttempt {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let challenge: String = get(row, "challenge")?;
        let challenge: Challenge = serde_json::from_str(&challenge)
            .map_err(|_| corrupt("challenge", "not a challenge"))?;
        Ok(CaptureAttempt {
            id: uuid(row, "id")?,
            transaction: id::<TransactionRef>(row, "transaction_ref")?,
            number: unsigned(row, "number")?,
            nonce: blob(row, "nonce")?,
            challenge,
            flash: flag(row, "flash")?,
            issued_at: time(row, "issued_at")?,
            state: enum_of(row, "state", AttemptState::parse)?,
            outcome: opt_enum_of(row, "outcome", outcome)?,
            finished_at: opt_time(row, "finished_at")?,
            model: get(row, "model")?,
            cursor: FrameCursor {
                received: unsigned(row, "frames_received")?,
                last_t_ms: get::<Option<i64>>(row, "last_t_ms")?
                    .map(|t| u32::try_from(t).map_err(|_| corrupt("last_t_ms", "out of range")))
                    .transpose()?,
                earliest_start_ms: get(row, "earliest_start_ms")?,
            },
            closed_at: opt_time(row, "closed_at")?,
        })
    }
}

impl FromRow for StoredFrame {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let outcome = match get::<Option<String>>(row, "outcome")?.as_deref() {
            None => None,
            Some("ANALYSED") => Some(FrameOutcome::Analysed {
                sealed: get(row, "sealed")?,
            }),
            Some("UNDECODABLE") => Some(FrameOutcome::Undecodable),
            Some("SKIPPED") => Some(FrameOutcome::Skipped),
            Some("FAILED") => Some(FrameOutcome::Failed),
            Some(_) => return Err(corrupt("outcome", "unknown value")),
        };
        Ok(StoredFrame {
            index: unsigned(row, "idx")?,
            accepted_at: time(row, "accepted_at")?,
            outcome,
        })
    }
}

fn outbox_status(s: &str) -> Option<OutboxStatus> {
    [
        OutboxStatus::Pending,
        OutboxStatus::Delivered,
        OutboxStatus::Failed,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

impl FromRow for OutboxMessage {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(OutboxMessage {
            id: uuid(row, "id")?,
            account: id::<AccountId>(row, "account")?,
            transaction: id::<TransactionRef>(row, "transaction_ref")?,
            event: get(row, "event")?,
            url: get(row, "url")?,
            body: get(row, "body")?,
            created_at: time(row, "created_at")?,
        })
    }
}

impl FromRow for PendingCallback {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(PendingCallback {
            message: OutboxMessage::from_row(row)?,
            attempts: unsigned(row, "attempts")?,
            first_attempt_at: opt_time(row, "first_attempt_at")?,
        })
    }
}

/// A callback record without its attempts; they are read separately.
impl FromRow for CallbackRecord {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(CallbackRecord {
            message: OutboxMessage::from_row(row)?,
            status: enum_of(row, "status", outbox_status)?,
            next_attempt_at: opt_time(row, "next_attempt_at")?,
            attempts: Vec::new(),
        })
    }
}

/// An enrollment row joined with its (possibly missing) failure streak.
impl FromRow for (Enrollment, FailureStreak) {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let counted: Option<i64> = get(row, "consecutive")?;
        let streak = match counted {
            Some(_) => FailureStreak::from_row(row)?,
            None => FailureStreak::default(),
        };
        Ok((Enrollment::from_row(row)?, streak))
    }
}

impl FromRow for FailureStreak {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(FailureStreak {
            consecutive: unsigned(row, "consecutive")?,
            last_failure_at: opt_time(row, "last_failure_at")?,
        })
    }
}

impl FromRow for DeliveryAttempt {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let status: Option<i64> = get(row, "status")?;
        Ok(DeliveryAttempt {
            outbox_id: uuid(row, "outbox_id")?,
            attempt_no: unsigned(row, "attempt_no")?,
            at: time(row, "at")?,
            delivered: flag(row, "delivered")?,
            status: status
                .map(|s| u16::try_from(s).map_err(|_| corrupt("status", "out of range")))
                .transpose()?,
            error: get(row, "error")?,
            detail: get(row, "detail")?,
            duration_ms: unsigned(row, "duration_ms")?,
        })
    }
}

/// A scan's (enrollment's) reference alone, from its `reference` column.
impl FromRow for EnrollmentRef {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        id(row, "reference")
    }
}

fn preset(row: &AnyRow) -> StoreResult<Option<Preset>> {
    let country: Option<String> = get(row, "preset_country")?;
    let kind: Option<String> = get(row, "preset_type")?;
    match (country, kind) {
        (None, None) => Ok(None),
        (Some(country), Some(kind)) => Ok(Some(Preset {
            country: Country::parse(&country, "preset_country")
                .map_err(|_| corrupt("preset_country", "not a country"))?,
            document_type: DocumentType::parse(&kind, "preset_type")
                .map_err(|_| corrupt("preset_type", "not a document type"))?,
        })),
        _ => Err(corrupt("preset_country", "incomplete preset")),
    }
}

/// The outcome columns of a decided scan; `None` while pending.
fn scan_outcome(row: &AnyRow) -> StoreResult<Option<ScanOutcome>> {
    let Some(status) = opt_enum_of(row, "verification_status", VerificationStatus::parse)? else {
        return Ok(None);
    };
    let rejection = match get::<Option<i64>>(row, "reject_reason")? {
        None => None,
        Some(code) => {
            let reason = u16::try_from(code)
                .ok()
                .and_then(RejectReason::from_code)
                .ok_or_else(|| corrupt("reject_reason", "unknown code"))?;
            let details = get::<Option<String>>(row, "reject_details")?
                .unwrap_or_default()
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| {
                    d.parse::<u16>()
                        .ok()
                        .and_then(RejectDetail::from_code)
                        .ok_or_else(|| corrupt("reject_details", "unknown code"))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Some(
                Rejection::with_details(reason, &details)
                    .ok_or_else(|| corrupt("reject_details", "details of another reason"))?,
            )
        }
    };
    let similarity = opt_enum_of(row, "similarity", Similarity::parse)?;
    let identity = match (similarity, opt_flag(row, "validity")?) {
        (Some(similarity), Some(validity)) => Some(IdentityVerdict {
            similarity,
            validity,
            reason: opt_enum_of(row, "validity_reason", ValidityReason::parse)?,
        }),
        (None, None) => None,
        _ => return Err(corrupt("similarity", "incomplete identity verification")),
    };
    Ok(Some(ScanOutcome {
        status,
        rejection,
        identity,
        mrz_checked: flag(row, "mrz_checked")?,
    }))
}

impl FromRow for Scan {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let workflow: i64 = get(row, "workflow")?;
        Ok(Scan {
            reference: id::<EnrollmentRef>(row, "reference")?,
            account: id::<AccountId>(row, "account")?,
            state: enum_of(row, "state", ScanState::parse)?,
            workflow: Workflow::parse(workflow).map_err(|_| corrupt("workflow", "unknown"))?,
            customer_internal_reference: get(row, "customer_internal_reference")?,
            user_reference: get::<Option<String>>(row, "user_reference")?
                .map(UserReference::from_trusted),
            reporting_criteria: get(row, "reporting_criteria")?,
            preset: preset(row)?,
            callback_url: url(row, "callback_url")?,
            success_url: url(row, "success_url")?,
            error_url: url(row, "error_url")?,
            locale: locale(row, "locale")?,
            token_hash: blob(row, "token_hash")?,
            scan_source: enum_of(row, "scan_source", ScanSource::parse)?,
            channel: opt_enum_of(row, "channel", CaptureChannel::parse)?,
            client_ip: get::<Option<String>>(row, "client_ip")?
                .map(|ip| {
                    ip.parse()
                        .map_err(|_| corrupt("client_ip", "not an address"))
                })
                .transpose()?,
            document_type: opt_enum_of(row, "document_type", |t| {
                DocumentType::parse(t, "document_type").ok()
            })?,
            created_at: time(row, "created_at")?,
            expires_at: time(row, "expires_at")?,
            first_attempt_at: opt_time(row, "first_attempt_at")?,
            decided_at: opt_time(row, "decided_at")?,
            deleted_at: opt_time(row, "deleted_at")?,
            outcome: scan_outcome(row)?,
            evidence: get(row, "evidence")?,
        })
    }
}

/// `kind, n` of a `capture_images` row.
pub(super) struct ScanImageRow {
    pub kind: ImageKind,
    pub n: u32,
}

impl FromRow for ScanImageRow {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(ScanImageRow {
            kind: enum_of(row, "kind", image_kind)?,
            n: unsigned(row, "n")?,
        })
    }
}

/// A transaction's reference alone, from its `reference` column.
impl FromRow for TransactionRef {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        id(row, "reference")
    }
}

fn image_kind(s: &str) -> Option<ImageKind> {
    ImageKind::ALL.into_iter().find(|k| k.as_str() == s)
}

/// `reference, account, facemap` of `auth_transactions`.
impl FromRow for StoredFacemap {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(StoredFacemap {
            transaction: id(row, "reference")?,
            account: id(row, "account")?,
            sealed: get(row, "facemap")?,
        })
    }
}

/// A `capture_images` row with its transaction's `account`.
impl FromRow for StoredImage {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(StoredImage {
            transaction: id(row, "transaction_ref")?,
            account: id(row, "account")?,
            kind: enum_of(row, "kind", image_kind)?,
            n: unsigned(row, "n")?,
            sealed: get(row, "sealed")?,
        })
    }
}

/// One count per column, named as the fields.
impl FromRow for KeyUsage {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(KeyUsage {
            webhook_secrets: unsigned(row, "webhook_secrets")?,
            webhook_overlaps: unsigned(row, "webhook_overlaps")?,
            transaction_facemaps: unsigned(row, "transaction_facemaps")?,
            images: unsigned(row, "images")?,
            issued_facemaps: unsigned(row, "issued_facemaps")?,
            issued_facemaps_unknown_key: unsigned(row, "issued_facemaps_unknown_key")?,
        })
    }
}

impl FromRow for AuditEntry {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(Self {
            id: uuid(row, "id")?,
            account: id::<AccountId>(row, "account")?,
            at: time(row, "at")?,
            actor: get(row, "actor")?,
            scan: id::<EnrollmentRef>(row, "scan")?,
            action: get(row, "action")?,
            before: get(row, "before")?,
            after: get(row, "after")?,
            reason: get(row, "reason")?,
        })
    }
}

impl FromRow for ConsoleUser {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        Ok(Self {
            id: uuid(row, "id")?,
            account: id::<AccountId>(row, "account")?,
            username: get(row, "username")?,
            password_hash: get(row, "password_hash")?,
            created_at: time(row, "created_at")?,
            totp_secret: get(row, "totp_secret")?,
            totp_last_step: get(row, "totp_last_step")?,
        })
    }
}

impl FromRow for (ConsoleSession, ConsoleUser) {
    fn from_row(row: &AnyRow) -> StoreResult<Self> {
        let session = ConsoleSession {
            token_hash: blob(row, "token_hash")?,
            user: uuid(row, "user_id")?,
            signed_in_at: time(row, "signed_in_at")?,
            last_seen_at: time(row, "last_seen_at")?,
        };
        Ok((session, ConsoleUser::from_row(row)?))
    }
}
