//! ID verifications ("scans", SPEC §1): initiation, retrieval, deletion,
//! the end of those the user never finished (`NO_ID_UPLOADED`) and the
//! retention of finished ones. The capture of a scan (document sides, the
//! selfie, the decision) is `crate::scan_capture`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use facegate_domain::{
    Account, Country, DocumentData, DocumentType, EnrollmentRef, FieldError, Locale, LocaleSet,
    Permission, PiiCheck, Preset, RedirectUrl, Scan, ScanOutcome, ScanSource, ScanState,
    TokenLifetime, TransactionRef, UrlField, UserReference, Workflow,
};
use facegate_facemap::ImageSlot;
use facegate_storage::{ImageKind, ScanDecision};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::credentials::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::render::ScanCallback;
use crate::Services;

/// One entry of `presets`, as the transport found it.
#[derive(Debug, Clone, Default)]
pub struct PresetRequest {
    pub index: Option<i64>,
    pub country: Option<String>,
    pub document_type: Option<String>,
}

/// The raw fields of `POST /api/v4/initiate`, as the transport found them.
/// Validation happens here, all fields at once.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    pub customer_internal_reference: Option<String>,
    pub user_reference: Option<String>,
    pub reporting_criteria: Option<String>,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    pub callback_url: Option<String>,
    pub workflow_id: Option<i64>,
    pub presets: Option<Vec<PresetRequest>>,
    pub locale: Option<String>,
    pub token_lifetime_minutes: Option<i64>,
}

/// A new scan, as answered to the customer.
#[derive(Debug, Clone)]
pub struct ScanInitiated {
    pub reference: EnrollmentRef,
    pub redirect_url: String,
    pub timestamp: DateTime<Utc>,
}

/// A scan as retrieval shows it: the scan, what was read from its document,
/// which images it holds and whether the server holds its facemap.
#[derive(Debug, Clone)]
pub struct ScanDetails {
    pub scan: Scan,
    pub document: Option<DocumentData>,
    pub images: Vec<(ImageKind, u32)>,
    pub facemap: bool,
}

struct ValidScan {
    customer_internal_reference: String,
    user_reference: UserReference,
    reporting_criteria: Option<String>,
    success_url: Option<RedirectUrl>,
    error_url: Option<RedirectUrl>,
    callback_url: Option<RedirectUrl>,
    workflow: Workflow,
    preset: Option<Preset>,
    locale: Option<Locale>,
    lifetime: Option<TokenLifetime>,
}

/// Collects a field's error so that every invalid field is reported at once.
fn keep<T>(errors: &mut Vec<FieldError>, parsed: Result<T, FieldError>) -> Option<T> {
    parsed.map_err(|e| errors.push(e)).ok()
}

/// A required reference of at most 100 characters (`customerInternalReference`,
/// `userReference`): absent or blank is `FIELD_REQUIRED`.
fn required_reference(
    raw: Option<&str>,
    field: &str,
    pii: PiiCheck,
) -> Result<UserReference, FieldError> {
    match raw {
        Some(r) if !r.trim().is_empty() => UserReference::parse(r, field, pii),
        _ => Err(FieldError::required(field)),
    }
}

fn parse_presets(presets: &[PresetRequest], errors: &mut Vec<FieldError>) -> Option<Preset> {
    if presets.len() > 1 {
        errors.push(FieldError::new(
            "presets",
            "PRESETS_INVALID",
            "presets holds at most one preset (index 1)",
        ));
        return None;
    }
    let p = presets.first()?;
    Preset::parse(0, p.index, p.country.as_deref(), p.document_type.as_deref())
        .map_err(|e| errors.extend(e))
        .ok()
}

impl Services {
    fn validate_scan(&self, account: &Account, req: &ScanRequest) -> ServiceResult<ValidScan> {
        let mut errors = Vec::new();
        let pii = account.pii_check();
        let customer_internal_reference = keep(
            &mut errors,
            required_reference(
                req.customer_internal_reference.as_deref(),
                "customerInternalReference",
                pii,
            ),
        );
        let user_reference = keep(
            &mut errors,
            required_reference(req.user_reference.as_deref(), "userReference", pii),
        );
        // Reporting criteria are the customer's own labels: no PII check.
        let reporting_criteria = keep(
            &mut errors,
            UserReference::parse_optional(
                req.reporting_criteria.as_deref(),
                "reportingCriteria",
                PiiCheck::Off,
            ),
        )
        .flatten()
        .map(|r| r.as_str().to_owned());
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
        let success_url = url(&req.success_url, UrlField::Success);
        let error_url = url(&req.error_url, UrlField::Error);
        let callback_url = url(&req.callback_url, UrlField::Callback);
        let workflow = req.workflow_id.map_or(Some(Workflow::default()), |id| {
            keep(&mut errors, Workflow::parse(id))
        });
        let preset = req
            .presets
            .as_deref()
            .and_then(|p| parse_presets(p, &mut errors));
        let locale = req
            .locale
            .as_deref()
            .and_then(|l| keep(&mut errors, Locale::parse(l, LocaleSet::Enrollment)));
        let lifetime = req
            .token_lifetime_minutes
            .and_then(|m| keep(&mut errors, TokenLifetime::parse(m)));
        match (customer_internal_reference, user_reference, workflow) {
            (Some(cir), Some(user_reference), Some(workflow)) if errors.is_empty() => {
                Ok(ValidScan {
                    customer_internal_reference: cir.as_str().to_owned(),
                    user_reference,
                    reporting_criteria,
                    success_url,
                    error_url,
                    callback_url,
                    workflow,
                    preset,
                    locale,
                    lifetime,
                })
            }
            _ => Err(ServiceError::Validation(errors)),
        }
    }

    /// Role check of `POST /api/v4/initiate`; transports run it before
    /// reading the body.
    pub fn authorize_scan_initiate(caller: &Caller) -> ServiceResult<()> {
        caller.require(Permission::Initiate)
    }

    /// `POST /api/v4/initiate`: a new ID verification and its enrollment.
    pub async fn initiate_scan(
        &self,
        caller: &Caller,
        req: &ScanRequest,
    ) -> ServiceResult<ScanInitiated> {
        Self::authorize_scan_initiate(caller)?;
        self.check_initiation_rate(caller)?;
        let account = &caller.account;
        let valid = self.validate_scan(account, req)?;
        let now = self.clock.now();
        let mut token = [0u8; 32];
        OsRng.fill_bytes(&mut token);
        let token_text = URL_SAFE_NO_PAD.encode(token);
        let locale = valid.locale.unwrap_or(account.default_locale);
        let minutes = valid
            .lifetime
            .map_or(account.default_token_lifetime_minutes, |l| l.minutes());
        let scan = Scan {
            reference: EnrollmentRef::new_random(),
            account: account.id,
            state: ScanState::Pending,
            workflow: valid.workflow,
            customer_internal_reference: Some(valid.customer_internal_reference),
            user_reference: Some(valid.user_reference),
            reporting_criteria: valid.reporting_criteria,
            preset: valid.preset,
            callback_url: valid.callback_url.or_else(|| account.callback_url.clone()),
            success_url: valid.success_url.or_else(|| account.success_url.clone()),
            error_url: valid.error_url.or_else(|| account.error_url.clone()),
            locale,
            token_hash: Sha256::digest(token_text.as_bytes()).into(),
            scan_source: ScanSource::Web,
            channel: None,
            client_ip: None,
            document_type: valid.preset.map(|p| p.document_type),
            created_at: now,
            expires_at: now + chrono::Duration::minutes(i64::from(minutes)),
            first_attempt_at: None,
            decided_at: None,
            deleted_at: None,
            outcome: None,
            evidence: None,
        };
        self.store
            .insert_scan(&scan, self.initiation_limiter.limit())
            .await
            .inspect_err(|e| self.count_shared_refusal(e))?;
        self.metrics.increment("facegate_scans_initiated_total", "");
        let redirect_url = format!(
            "{}/web/v4/app?locale={}&authorizationToken={}",
            self.settings.public_base_url,
            locale.as_str(),
            token_text
        );
        tracing::info!(scan = %scan.reference, workflow = scan.workflow.id(), "ID verification initiated");
        Ok(ScanInitiated {
            reference: scan.reference,
            redirect_url,
            timestamp: now,
        })
    }

    /// Another account's scan is reported exactly like an unknown one.
    async fn owned_scan(&self, caller: &Caller, reference: EnrollmentRef) -> ServiceResult<Scan> {
        self.store
            .scan(reference)
            .await?
            .filter(|s| s.account == caller.account.id)
            .ok_or(ServiceError::ScanNotFound)
    }

    /// `GET /api/netverify/v2/scans/{ref}`. A scan past its token lifetime
    /// is ended on the spot (`NO_ID_UPLOADED`), so readers never see a stale
    /// `PENDING`.
    pub async fn retrieve_scan(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<Scan> {
        caller.require(Permission::Administer)?;
        let scan = self.owned_scan(caller, reference).await?;
        if scan.is_overdue(self.clock.now()) {
            self.fail_unfinished_scan(&scan).await?;
            return self.owned_scan(caller, reference).await;
        }
        Ok(scan)
    }

    /// The scan with its extracted data, its images and its facemap's
    /// presence (`/data` and its parts, `/images`).
    pub async fn scan_details(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<ScanDetails> {
        let scan = self.retrieve_scan(caller, reference).await?;
        self.details_of(scan).await
    }

    /// A scan's extracted data, images and facemap's presence.
    pub(crate) async fn details_of(&self, scan: Scan) -> ServiceResult<ScanDetails> {
        let reference = scan.reference;
        let images = self.store.scan_images(reference).await?;
        let document = match images.contains(&(ImageKind::Document, 1)) {
            true => self.scan_document(&scan).await?,
            false => None,
        };
        let facemap = self
            .store
            .enrollment(reference)
            .await?
            .is_some_and(|e| e.server_facemap.is_some());
        Ok(ScanDetails {
            scan,
            document,
            images,
            facemap,
        })
    }

    async fn scan_document(&self, scan: &Scan) -> ServiceResult<Option<DocumentData>> {
        let Some(bytes) = self.open_scan_image(scan, ImageKind::Document, 1).await? else {
            return Ok(None);
        };
        let record: DocumentRecord = serde_json::from_slice(&bytes).map_err(|e| {
            ServiceError::Internal(format!("a scan's extracted data does not read back: {e}"))
        })?;
        Ok(Some(record.into_data()))
    }

    /// Opens one of the scan's sealed images (or its extracted data).
    pub(crate) async fn open_scan_image(
        &self,
        scan: &Scan,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Option<Vec<u8>>> {
        let Some(sealed) = self.store.scan_image(scan.reference, kind, n).await? else {
            return Ok(None);
        };
        facegate_facemap::open_image(&self.keyring, &scan_slot(scan, kind, n), &sealed)
            .map(Some)
            .map_err(|e| self.image_error(e))
    }

    /// `GET …/scans/{ref}/images/{front|back|face}` and `…/liveness/{n}`:
    /// the image, decrypted (`None` when the scan has no such image).
    pub async fn scan_image(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
        kind: ImageKind,
        n: u32,
    ) -> ServiceResult<Option<Vec<u8>>> {
        let scan = self.retrieve_scan(caller, reference).await?;
        if kind == ImageKind::Document {
            return Ok(None);
        }
        self.open_scan_image(&scan, kind, n).await
    }

    /// `GET …/scans/{ref}/data/facemap`: the server's copy of the facemap
    /// the scan issued (`None` when it issued none).
    pub async fn scan_facemap(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<Option<Vec<u8>>> {
        self.retrieve_scan(caller, reference).await?;
        Ok(self
            .store
            .enrollment(reference)
            .await?
            .and_then(|e| e.server_facemap))
    }

    /// `DELETE /api/netverify/v2/scans/{ref}`: images, extracted data and the
    /// server's facemap go at once; the enrollment's tombstone stays (what
    /// facemap authentication requires).
    pub async fn delete_scan(
        &self,
        caller: &Caller,
        reference: EnrollmentRef,
    ) -> ServiceResult<()> {
        caller.require(Permission::Administer)?;
        self.owned_scan(caller, reference).await?;
        if !self.store.delete_scan(reference, self.clock.now()).await? {
            return Err(ServiceError::ScanNotFound);
        }
        self.local_capture
            .forget_transaction(scan_transaction(reference));
        tracing::info!(scan = %reference, "ID verification deleted");
        Ok(())
    }

    /// Ends a pending scan whose token lifetime is over: `FAILED`,
    /// `NO_ID_UPLOADED`, with its callback. `false` when it was no longer
    /// pending.
    pub(crate) async fn fail_unfinished_scan(&self, scan: &Scan) -> ServiceResult<bool> {
        let now = self.clock.now();
        let outcome = ScanOutcome::no_id_uploaded();
        let callback = self.scan_renderer(now).render(
            scan,
            &outcome,
            None,
            &crate::render::ScanImages::default(),
            false,
        );
        let done = self
            .store
            .decide_scan(&ScanDecision {
                reference: scan.reference,
                at: now,
                state: ScanState::Failed,
                outcome,
                evidence: None,
                selfie: None,
                images: Vec::new(),
                facemap: None,
                callback,
            })
            .await?;
        if done {
            self.local_capture
                .forget_transaction(scan_transaction(scan.reference));
            self.metrics
                .increment("facegate_scans_decided_total", "status=\"NO_ID_UPLOADED\"");
            self.callbacks_queued.notify_one();
            tracing::info!(scan = %scan.reference, "ID verification ended unfinished");
        }
        Ok(done)
    }

    /// Ends every pending scan past its token lifetime; returns how many.
    pub async fn expire_overdue_scans(&self) -> ServiceResult<usize> {
        let mut ended = 0;
        loop {
            let overdue = self.store.overdue_scans(self.clock.now(), 100).await?;
            let batch = overdue.len();
            for reference in overdue {
                let Some(scan) = self.store.scan(reference).await? else {
                    continue;
                };
                if self.fail_unfinished_scan(&scan).await? {
                    ended += 1;
                }
            }
            if batch < 100 {
                return Ok(ended);
            }
        }
    }

    /// Erases the personal data of finished scans past their account's
    /// retention, as DELETE does, keeping the enrollment's tombstone;
    /// returns how many scans were erased.
    pub async fn enforce_scan_retention(&self) -> ServiceResult<usize> {
        let mut erased = 0;
        loop {
            let now = self.clock.now();
            let due = self.store.scans_past_retention(now, 100).await?;
            let batch = due.len();
            for reference in due {
                if self.store.delete_scan(reference, now).await? {
                    erased += 1;
                }
            }
            if batch < 100 {
                return Ok(erased);
            }
        }
    }

    pub(crate) fn scan_renderer(&self, now: DateTime<Utc>) -> ScanCallback<'_> {
        ScanCallback {
            now,
            public_base_url: &self.settings.public_base_url,
        }
    }
}

/// The column capture sessions, attempts, images and callbacks name a scan
/// by: the scan's reference, where they name an authentication by its own.
pub(crate) fn scan_transaction(reference: EnrollmentRef) -> TransactionRef {
    TransactionRef::from_uuid(reference.as_uuid())
}

/// Where a scan's image (or extracted data) is sealed.
pub(crate) fn scan_slot(scan: &Scan, kind: ImageKind, n: u32) -> ImageSlot<'static> {
    ImageSlot {
        account: scan.account.as_uuid(),
        transaction: scan.reference.as_uuid(),
        kind: kind.as_str(),
        n,
    }
}

/// The extracted data as sealed at rest (JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentRecord {
    #[serde(rename = "type")]
    document_type: Option<String>,
    subtype: Option<String>,
    issuing_country: Option<String>,
    number: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    date_of_birth: Option<NaiveDate>,
    expiry: Option<NaiveDate>,
    gender: Option<char>,
    nationality: Option<String>,
    personal_number: Option<String>,
    optional_data_1: Option<String>,
    optional_data_2: Option<String>,
    specimen: bool,
}

impl DocumentRecord {
    pub(crate) fn of(data: &DocumentData) -> Self {
        Self {
            document_type: data.document_type.map(|t| t.as_str().to_owned()),
            subtype: data.subtype.clone(),
            issuing_country: data.issuing_country.map(|c| c.as_str().to_owned()),
            number: data.number.clone(),
            first_name: data.first_name.clone(),
            last_name: data.last_name.clone(),
            date_of_birth: data.date_of_birth,
            expiry: data.expiry,
            gender: data.gender,
            nationality: data.nationality.map(|c| c.as_str().to_owned()),
            personal_number: data.personal_number.clone(),
            optional_data_1: data.optional_data_1.clone(),
            optional_data_2: data.optional_data_2.clone(),
            specimen: data.specimen,
        }
    }

    fn into_data(self) -> DocumentData {
        let country = |c: Option<String>| c.and_then(|c| Country::parse(&c, "country").ok());
        DocumentData {
            document_type: self
                .document_type
                .and_then(|t| DocumentType::parse(&t, "type").ok()),
            subtype: self.subtype,
            issuing_country: country(self.issuing_country),
            number: self.number,
            first_name: self.first_name,
            last_name: self.last_name,
            date_of_birth: self.date_of_birth,
            expiry: self.expiry,
            gender: self.gender,
            nationality: country(self.nationality),
            personal_number: self.personal_number,
            optional_data_1: self.optional_data_1,
            optional_data_2: self.optional_data_2,
            specimen: self.specimen,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn extracted_data_reads_back_as_sealed() {
        let data = DocumentData {
            document_type: Some(DocumentType::IdCard),
            subtype: Some("NATIONAL_ID".into()),
            issuing_country: Some(Country::parse("AUT", "c").unwrap()),
            number: Some("P1234567".into()),
            first_name: Some("ANNA".into()),
            last_name: Some("MUSTER".into()),
            date_of_birth: NaiveDate::from_ymd_opt(1990, 1, 2),
            expiry: NaiveDate::from_ymd_opt(2031, 3, 4),
            gender: Some('F'),
            nationality: Some(Country::parse("DEU", "c").unwrap()),
            personal_number: Some("123".into()),
            optional_data_1: Some("X".into()),
            optional_data_2: None,
            specimen: false,
        };
        let json = serde_json::to_vec(&DocumentRecord::of(&data)).unwrap();
        let back: DocumentRecord = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.into_data(), data);
    }
}
