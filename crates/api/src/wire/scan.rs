//! ID verification ("scan") bodies: the v4 initiate request and answer
//! (`netverify-web-v4.md`), the retrieval answers under
//! `/api/netverify/v2/scans/{ref}` (`netverify-retrieval-api.md`), and the
//! scan's parts of the capture protocol.

use facegate_core::capture::ScanCaptureView;
use facegate_core::scan_capture::FinishedScan;
use facegate_core::{
    PresetRequest, ScanDetails, ScanImages, ScanInitiated, ScanLinks, ScanRequest,
};
use facegate_domain::{
    id_scan_source, DocumentData, EnrollmentRef, FieldError, LocaleSet, Scan, ScanState,
    VerificationStatus,
};
use facegate_proto::schema::string_enum;
use facegate_proto::RejectReasonBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::field::{mistyped, Field, Text, WholeNumber};
use super::{Redirect, Timestamp};

/// `POST /api/v4/initiate`: every member of the v4 guide's request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanInitiate {
    /// Your reference for the transaction (a number is kept as its decimal
    /// text). Keep personal data out of it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, max_length = 100, required = true)]
    pub customer_internal_reference: Field<Text>,
    /// Your reference for the user (a number is kept as its decimal text).
    /// Keep personal data out of it; an account may have values that look
    /// like e-mail addresses or phone numbers refused.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, max_length = 100, required = true)]
    pub user_reference: Field<Text>,
    /// Your reporting criteria for the transaction.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, max_length = 100)]
    pub reporting_criteria: Field<Text>,
    /// Where the web client sends the user once the images are accepted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 2047)]
    pub success_url: Field<String>,
    /// Where the web client sends the user after a failure.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 255)]
    pub error_url: Field<String>,
    /// Where the `NETVERIFYID` callback is posted.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, format = "uri", max_length = 255)]
    pub callback_url: Field<String>,
    /// 100/101/102 ID only, 200/201/202 ID and identity (x00 camera or
    /// upload, x01 camera only, x02 upload only); default 200.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = i64, example = 200)]
    pub workflow_id: Field<WholeNumber>,
    /// At most one preset (`index` 1): the country and document type.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Vec<ScanPreset>)]
    pub presets: Field<Vec<ScanPreset>>,
    /// The web client's language (the 39 enrollment locales).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(schema_with = enrollment_locale_schema)]
    pub locale: Field<String>,
    /// Minutes until the authorization token expires (5..86400; the
    /// account default otherwise); an unfinished scan then ends
    /// `NO_ID_UPLOADED`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = i64, minimum = 5, maximum = 86400)]
    pub token_lifetime_in_minutes: Field<WholeNumber>,
}

/// One entry of `presets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScanPreset {
    /// Must be 1.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = i64, example = 1, required = true)]
    pub index: Field<WholeNumber>,
    /// ISO 3166-1 alpha-3, or `XKX`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, example = "AUT", required = true)]
    pub country: Field<String>,
    /// `PASSPORT`, `DRIVING_LICENSE` or `ID_CARD`.
    #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = String, example = "PASSPORT", required = true)]
    pub document_type: Field<String>,
}

fn enrollment_locale_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(facegate_domain::Locale::all(LocaleSet::Enrollment)))
        .description(Some("The web client's language (any case, `_` or `-`)."))
        .build()
}

impl ScanInitiate {
    /// The raw fields the core validates; every member of a wrong JSON type
    /// is one `FIELD_TYPE` error, in the order of the members.
    pub fn into_request(self) -> Result<ScanRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let text = |errors: &mut Vec<FieldError>, field: Field<Text>, name: &str| {
            field
                .collect(errors, || mistyped(name, "a string or a number"))
                .map(|t| t.0)
        };
        let string = |errors: &mut Vec<FieldError>, field: Field<String>, name: &str| {
            field.collect(errors, || mistyped(name, "a string"))
        };
        let number = |errors: &mut Vec<FieldError>, field: Field<WholeNumber>, name: &str| {
            field
                .collect(errors, || mistyped(name, "an integer"))
                .map(|n| n.0)
        };
        let customer_internal_reference = text(
            &mut errors,
            self.customer_internal_reference,
            "customerInternalReference",
        );
        let user_reference = text(&mut errors, self.user_reference, "userReference");
        let reporting_criteria = text(&mut errors, self.reporting_criteria, "reportingCriteria");
        let success_url = string(&mut errors, self.success_url, "successUrl");
        let error_url = string(&mut errors, self.error_url, "errorUrl");
        let callback_url = string(&mut errors, self.callback_url, "callbackUrl");
        let workflow_id = number(&mut errors, self.workflow_id, "workflowId");
        let presets = self
            .presets
            .collect(&mut errors, || {
                mistyped("presets", "an array of preset objects")
            })
            .map(|presets| {
                presets
                    .into_iter()
                    .enumerate()
                    .map(|(n, p)| {
                        let field = |name: &str| format!("presets[{n}].{name}");
                        PresetRequest {
                            index: number(&mut errors, p.index, &field("index")),
                            country: string(&mut errors, p.country, &field("country")),
                            document_type: string(&mut errors, p.document_type, &field("type")),
                        }
                    })
                    .collect()
            });
        let locale = string(&mut errors, self.locale, "locale");
        let token_lifetime_minutes = number(
            &mut errors,
            self.token_lifetime_in_minutes,
            "tokenLifetimeInMinutes",
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ScanRequest {
            customer_internal_reference,
            user_reference,
            reporting_criteria,
            success_url,
            error_url,
            callback_url,
            workflow_id,
            presets,
            locale,
            token_lifetime_minutes,
        })
    }
}

/// The answer to `POST /api/v4/initiate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdVerificationInitiated {
    pub timestamp: Timestamp,
    /// The web client's page with the authorization token.
    #[schema(format = "uri")]
    pub redirect_url: String,
    /// The scan's reference: also the `scanReference` of retrieval and the
    /// `enrollmentTransactionReference` of facemap authentication.
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: EnrollmentRef,
}

impl From<ScanInitiated> for IdVerificationInitiated {
    fn from(done: ScanInitiated) -> Self {
        Self {
            timestamp: done.timestamp.into(),
            redirect_url: done.redirect_url,
            transaction_reference: done.reference,
        }
    }
}

fn scan_state_schema() -> utoipa::openapi::Object {
    string_enum([ScanState::Pending, ScanState::Done, ScanState::Failed].map(ScanState::as_str))
}

fn verification_status_schema() -> utoipa::openapi::Object {
    string_enum(VerificationStatus::ALL.map(VerificationStatus::as_str))
}

/// `GET /api/netverify/v2/scans/{ref}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanStatus {
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    /// `PENDING`, `DONE` or `FAILED`.
    #[schema(schema_with = scan_state_schema)]
    pub status: String,
}

impl ScanStatus {
    pub fn new(scan: &Scan, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            timestamp: now.into(),
            scan_reference: scan.reference,
            status: scan.state.as_str().to_owned(),
        }
    }
}

/// The answer header of a part requested alone (`/data/document`, …);
/// absent inside `/data`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub scan_reference: Option<EnrollmentRef>,
}

impl PartHeader {
    fn alone(scan: &Scan, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            timestamp: Some(now.into()),
            scan_reference: Some(scan.reference),
        }
    }
}

/// `document` (`/data/document`): what was read from the document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanDocument {
    #[serde(flatten)]
    pub header: PartHeader,
    /// The `verificationStatus`, once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = verification_status_schema)]
    pub status: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_data1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_data2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
}

impl ScanDocument {
    fn new(scan: &Scan, data: Option<&DocumentData>, header: PartHeader) -> Self {
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        let Some(d) = data else {
            return Self {
                header,
                status: scan.outcome.as_ref().map(|o| o.status.as_str().to_owned()),
                ..Self::default()
            };
        };
        Self {
            header,
            status: scan.outcome.as_ref().map(|o| o.status.as_str().to_owned()),
            document_type: d.document_type.map(|t| t.as_str().to_owned()),
            id_subtype: d.subtype.clone(),
            issuing_country: d.issuing_country.map(|c| c.as_str().to_owned()),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            dob: date(d.date_of_birth),
            expiry: date(d.expiry),
            number: d.number.clone(),
            personal_number: d.personal_number.clone(),
            optional_data1: d.optional_data_1.clone(),
            optional_data2: d.optional_data_2.clone(),
            gender: d.gender.map(String::from),
            nationality: d.nationality.map(|c| c.as_str().to_owned()),
        }
    }
}

/// `transaction` (`/data/transaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanTransaction {
    #[serde(flatten)]
    pub header: PartHeader,
    #[schema(schema_with = scan_state_schema)]
    pub status: String,
    /// `WEB`, `WEB_CAM`, `WEB_UPLOAD` or `SDK`.
    pub source: String,
    /// When the scan was created.
    pub date: Timestamp,
    /// The user's address (`192.0.2.1`): where the capture session was
    /// opened from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The initiation's `userReference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The initiation's `customerInternalReference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_scan_reference: Option<String>,
    /// The initiation's `reportingCriteria`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reporting_criteria: Option<String>,
}

impl ScanTransaction {
    fn new(scan: &Scan, header: PartHeader) -> Self {
        Self {
            header,
            status: scan.state.as_str().to_owned(),
            source: id_scan_source(scan.scan_source, scan.channel).to_owned(),
            date: scan.created_at.into(),
            client_ip: scan.client_ip.map(|ip| ip.to_string()),
            customer_id: scan.user_reference.as_ref().map(|u| u.as_str().to_owned()),
            merchant_scan_reference: scan.customer_internal_reference.clone(),
            merchant_reporting_criteria: scan.reporting_criteria.clone(),
        }
    }
}

/// `identityVerification` as retrieval answers it (the guide's sample:
/// `"validity": "true"`, a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetrievalIdentity {
    /// `MATCH`, `NO_MATCH` or `NOT_POSSIBLE`.
    pub similarity: String,
    /// `true` or `false`, as text.
    pub validity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `verification` (`/data/verification`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanVerification {
    #[serde(flatten)]
    pub header: PartHeader,
    /// `OK` when the machine-readable zone was read with every check digit
    /// holding, else `NOT_AVAILABLE`; absent while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrz_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<RejectReasonBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_verification: Option<RetrievalIdentity>,
    /// Beyond: what the decision rested on (findings, scores, thresholds,
    /// which checks ran), without personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<serde_json::Value>,
}

impl ScanVerification {
    fn new(scan: &Scan, header: PartHeader) -> Self {
        let outcome = scan.outcome.as_ref();
        Self {
            header,
            mrz_check: outcome
                .map(|o| if o.mrz_checked { "OK" } else { "NOT_AVAILABLE" }.to_owned()),
            reject_reason: outcome
                .and_then(|o| o.rejection.as_ref())
                .map(RejectReasonBody::from),
            identity_verification: outcome.and_then(|o| o.identity.as_ref()).map(|i| {
                RetrievalIdentity {
                    similarity: i.similarity.as_str().to_owned(),
                    validity: i.validity.to_string(),
                    reason: i.reason.map(|r| r.as_str().to_owned()),
                }
            }),
            evidence: scan
                .evidence
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok()),
        }
    }
}

/// A link with its classifier (`images[]`, `facemap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Classified {
    /// `front`, `back`, `face` or `facemap`.
    pub classifier: String,
    pub href: String,
}

/// `GET /api/netverify/v2/scans/{ref}/data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanData {
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    pub document: ScanDocument,
    pub transaction: ScanTransaction,
    pub verification: ScanVerification,
    /// The facemap, when the scan issued one and the server still holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facemap: Option<Classified>,
}

fn links(details: &ScanDetails, public_base_url: &str) -> ScanLinks {
    ScanLinks::new(
        public_base_url,
        details.scan.reference,
        &ScanImages::of(&details.images),
        details.facemap,
    )
}

impl ScanData {
    pub fn new(
        details: &ScanDetails,
        now: chrono::DateTime<chrono::Utc>,
        public_base_url: &str,
    ) -> Self {
        let scan = &details.scan;
        Self {
            timestamp: now.into(),
            scan_reference: scan.reference,
            document: ScanDocument::document(details, None),
            transaction: ScanTransaction::new(scan, PartHeader::default()),
            verification: ScanVerification::new(scan, PartHeader::default()),
            facemap: links(details, public_base_url)
                .facemap
                .map(|href| Classified {
                    classifier: "facemap".to_owned(),
                    href,
                }),
        }
    }
}

impl ScanDocument {
    /// `/data/document` (with `now`) or the `document` of `/data`.
    pub fn document(details: &ScanDetails, now: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        let header = now.map_or_else(PartHeader::default, |now| {
            PartHeader::alone(&details.scan, now)
        });
        Self::new(&details.scan, details.document.as_ref(), header)
    }
}

impl ScanTransaction {
    /// `/data/transaction`.
    pub fn alone(scan: &Scan, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self::new(scan, PartHeader::alone(scan, now))
    }
}

impl ScanVerification {
    /// `/data/verification`.
    pub fn alone(scan: &Scan, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self::new(scan, PartHeader::alone(scan, now))
    }
}

/// `GET /api/netverify/v2/scans/{ref}/images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanImageList {
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    /// `front`, `back` (when given) and `face` (the selfie).
    pub images: Vec<Classified>,
    pub liveness_images: Vec<String>,
}

impl ScanImageList {
    pub fn new(
        details: &ScanDetails,
        now: chrono::DateTime<chrono::Utc>,
        public_base_url: &str,
    ) -> Self {
        let links = links(details, public_base_url);
        let images = [
            ("front", links.front),
            ("back", links.back),
            ("face", links.face),
        ]
        .into_iter()
        .filter_map(|(classifier, href)| {
            href.map(|href| Classified {
                classifier: classifier.to_owned(),
                href,
            })
        })
        .collect();
        Self {
            timestamp: now.into(),
            scan_reference: details.scan.reference,
            images,
            liveness_images: links.liveness,
        }
    }
}

/// The answer to a scan's deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanDeleted {
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub scan_reference: EnrollmentRef,
    /// Always `true`.
    pub deleted: bool,
}

/// What an ID verification's capture needs (in the capture session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanCapture {
    pub workflow_id: u16,
    /// The initiation's `customerInternalReference`: the web client adds it
    /// to its redirects and `postMessage` events, as the v4 guide shows.
    pub customer_internal_reference: Option<String>,
    /// The document types the account accepts (`PASSPORT`, `ID_CARD`,
    /// `DRIVING_LICENSE`); empty accepts all.
    pub accepted_document_types: Vec<String>,
    /// The issuing countries the account accepts (ISO 3166-1 alpha-3);
    /// empty accepts all.
    pub accepted_countries: Vec<String>,
    /// What a document side upload may be (§9).
    pub document_limits: DocumentLimits,
    /// Whether document sides may be captured with the camera.
    pub camera: bool,
    /// Whether document sides may be uploaded as files.
    pub upload: bool,
    /// The preset country, when the initiation named one.
    pub preset_country: Option<String>,
    /// The document type: the preset's, or the one named with the front.
    pub document_type: Option<String>,
    /// `front`, and `back` when the document type has one.
    pub sides_needed: Vec<String>,
    pub sides_given: Vec<String>,
    /// Whether a selfie (a liveness attempt) follows; else
    /// `POST /api/capture/v1/scan/finish` ends the capture.
    pub selfie: bool,
}

impl From<&ScanCaptureView> for ScanCapture {
    fn from(v: &ScanCaptureView) -> Self {
        let sides =
            |s: &[facegate_domain::DocumentSide]| s.iter().map(|s| s.as_str().to_owned()).collect();
        Self {
            workflow_id: v.workflow.id(),
            customer_internal_reference: v.customer_internal_reference.clone(),
            accepted_document_types: v
                .accepted_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            accepted_countries: v
                .accepted_countries
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            document_limits: DocumentLimits::default(),
            camera: v.workflow.allows_camera(),
            upload: v.workflow.allows_upload(),
            preset_country: v.preset.map(|p| p.country.as_str().to_owned()),
            document_type: v.document_type.map(|t| t.as_str().to_owned()),
            sides_needed: sides(&v.sides_needed),
            sides_given: sides(&v.sides_given),
            selfie: v.selfie,
        }
    }
}

/// The bounds of a document side's image (`PUT /api/capture/v1/documents/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentLimits {
    pub max_bytes: usize,
    /// Both the width and the height lie within `minSide..=maxSide` pixels.
    pub min_side: u32,
    pub max_side: u32,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        use facegate_core::scan_capture::{
            MAX_DOCUMENT_BYTES, MAX_DOCUMENT_SIDE, MIN_DOCUMENT_SIDE,
        };
        Self {
            max_bytes: MAX_DOCUMENT_BYTES,
            min_side: MIN_DOCUMENT_SIDE,
            max_side: MAX_DOCUMENT_SIDE,
        }
    }
}

/// The answer to `POST /api/capture/v1/scan/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScanFinished {
    /// Where to go now that the images are accepted for processing.
    pub redirect: Redirect,
}

impl From<&FinishedScan> for ScanFinished {
    fn from(done: &FinishedScan) -> Self {
        Self {
            redirect: Redirect::from(&done.redirect),
        }
    }
}
