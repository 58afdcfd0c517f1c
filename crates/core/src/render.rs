//! The callback bodies: `NETVERIFY_AUTHENTICATION` (SPEC §2.7, its wire
//! type is `facegate_proto::AuthenticationCallback`), rendered when a
//! transaction reaches its final state, and `NETVERIFYID` (SPEC §1.4,
//! `facegate_proto::IdVerificationCallback`), rendered when a scan is
//! decided; and the links to a scan's images that both the callback and
//! retrieval name.

use chrono::{DateTime, Utc};
use facegate_domain::{
    id_scan_source, AuthTransaction, DocumentData, EnrollmentRef, Scan, ScanOutcome,
    TransactionRef, VerificationStatus,
};
use facegate_proto::{
    AuthenticationCallback, CallbackIdentity, IdVerificationCallback, RejectReasonBody,
    AUTHENTICATION_CALLBACK, CHECK_NOT_AVAILABLE, CHECK_OK, ID_VERIFICATION_CALLBACK,
};
use facegate_storage::{CallbackRenderer, ImageKind, OutboxMessage};

use crate::images::ImageLinks;

pub(crate) struct AuthCallback<'a> {
    pub now: DateTime<Utc>,
    pub public_base_url: &'a str,
}

impl CallbackRenderer for AuthCallback<'_> {
    fn render(&self, tx: &AuthTransaction) -> Option<OutboxMessage> {
        let url = tx.callback_url.as_ref()?;
        let images = ImageLinks::new(self.public_base_url, tx);
        let body = AuthenticationCallback {
            callback_type: AUTHENTICATION_CALLBACK.to_owned(),
            callback_date: self.now.into(),
            transaction_reference: tx.reference,
            enrollment_transaction_reference: tx.enrollment,
            transaction_result: tx.state,
            transaction_date: tx.created_at.into(),
            scan_source: tx.scan_source,
            user_reference: tx.user_reference.as_ref().map(|u| u.as_str().to_owned()),
            id_scan_image_face: images.face,
            liveness_images: images.liveness,
        }
        .to_form()
        .ok()?;
        Some(OutboxMessage {
            id: uuid::Uuid::new_v4(),
            account: tx.account,
            transaction: tx.reference,
            event: AUTHENTICATION_CALLBACK.to_owned(),
            url: url.as_str().to_owned(),
            body,
            created_at: self.now,
        })
    }
}

/// The links to a scan's stored images, as the callback and retrieval name
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanImages {
    pub front: bool,
    pub back: bool,
    pub face: bool,
    pub liveness: u32,
}

impl ScanImages {
    /// The images `stored` names (kind and number).
    pub fn of(stored: &[(ImageKind, u32)]) -> Self {
        let has = |kind| stored.iter().any(|(k, _)| *k == kind);
        Self {
            front: has(ImageKind::Front),
            back: has(ImageKind::Back),
            face: has(ImageKind::Face),
            liveness: stored
                .iter()
                .filter(|(k, _)| *k == ImageKind::Liveness)
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Absolute URLs of a scan's images and facemap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLinks {
    pub front: Option<String>,
    pub back: Option<String>,
    pub face: Option<String>,
    pub liveness: Vec<String>,
    pub facemap: Option<String>,
}

impl ScanLinks {
    pub fn new(
        public_base_url: &str,
        reference: EnrollmentRef,
        images: &ScanImages,
        facemap: bool,
    ) -> Self {
        let base = format!("{public_base_url}/api/netverify/v2/scans/{reference}");
        let image = |present: bool, name: &str| present.then(|| format!("{base}/images/{name}"));
        Self {
            front: image(images.front, "front"),
            back: image(images.back, "back"),
            face: image(images.face, "face"),
            liveness: (1..=images.liveness)
                .map(|n| format!("{base}/images/liveness/{n}"))
                .collect(),
            facemap: facemap.then(|| format!("{base}/data/facemap")),
        }
    }
}

/// Renders the `NETVERIFYID` callback of a scan just decided (or ended
/// `NO_ID_UPLOADED`).
pub(crate) struct ScanCallback<'a> {
    pub now: DateTime<Utc>,
    pub public_base_url: &'a str,
}

impl ScanCallback<'_> {
    /// `None` when the scan has no callback URL.
    pub(crate) fn render(
        &self,
        scan: &Scan,
        outcome: &ScanOutcome,
        document: Option<&DocumentData>,
        images: &ScanImages,
        facemap: bool,
    ) -> Option<OutboxMessage> {
        let url = scan.callback_url.as_ref()?;
        let links = ScanLinks::new(self.public_base_url, scan.reference, images, facemap);
        let approved = outcome.status == VerificationStatus::ApprovedVerified;
        let na = || CHECK_NOT_AVAILABLE.to_owned();
        let identity = outcome.identity.as_ref().filter(|_| approved).map(|i| {
            serde_json::to_string(&CallbackIdentity {
                similarity: i.similarity.as_str().to_owned(),
                validity: i.validity,
                reason: i.reason.map(|r| r.as_str().to_owned()),
            })
        });
        let reject = outcome
            .rejection
            .as_ref()
            .map(|r| serde_json::to_string(&RejectReasonBody::from(r)));
        let liveness = (!links.liveness.is_empty()).then(|| serde_json::to_string(&links.liveness));
        let text = |s: &Option<String>| s.clone();
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        let body = IdVerificationCallback {
            callback_type: ID_VERIFICATION_CALLBACK.to_owned(),
            jumio_id_scan_reference: scan.reference.to_string(),
            verification_status: outcome.status.as_str().to_owned(),
            id_scan_status: IdVerificationCallback::id_scan_status(outcome.status).to_owned(),
            id_scan_source: id_scan_source(scan.scan_source, scan.channel).to_owned(),
            id_check_data_positions: na(),
            id_check_document_validation: na(),
            id_check_hologram: na(),
            id_check_mrz_code: if approved && outcome.mrz_checked {
                CHECK_OK.to_owned()
            } else {
                na()
            },
            id_check_microprint: na(),
            id_check_security_features: na(),
            id_check_signature: na(),
            transaction_date: scan.created_at.into(),
            callback_date: self.now.into(),
            identity_verification: identity.transpose().ok()?,
            id_type: document.and_then(|d| d.document_type.map(|t| t.as_str().to_owned())),
            id_subtype: document.and_then(|d| d.subtype.clone()),
            id_country: document.and_then(|d| d.issuing_country.map(|c| c.as_str().to_owned())),
            reject_reason: reject.transpose().ok()?,
            id_scan_image: links.front,
            id_scan_image_face: links.face,
            id_scan_image_backside: links.back,
            id_number: document.and_then(|d| text(&d.number)),
            id_first_name: document.and_then(|d| text(&d.first_name)),
            id_last_name: document.and_then(|d| text(&d.last_name)),
            id_dob: document.and_then(|d| date(d.date_of_birth)),
            id_expiry: document.and_then(|d| date(d.expiry)),
            personal_number: document.and_then(|d| text(&d.personal_number)),
            merchant_id_scan_reference: scan.customer_internal_reference.clone(),
            merchant_reporting_criteria: scan.reporting_criteria.clone(),
            customer_id: scan.user_reference.as_ref().map(|u| u.as_str().to_owned()),
            client_ip: scan.client_ip.map(|ip| ip.to_string()),
            first_attempt_date: scan.first_attempt_at.map(Into::into),
            optional_data1: document.and_then(|d| text(&d.optional_data_1)),
            optional_data2: document.and_then(|d| text(&d.optional_data_2)),
            gender: document.and_then(|d| d.gender.map(String::from)),
            preset_country: scan.preset.map(|p| p.country.as_str().to_owned()),
            preset_id_type: scan.preset.map(|p| p.document_type.as_str().to_owned()),
            nationality: document.and_then(|d| d.nationality.map(|c| c.as_str().to_owned())),
            liveness_images: liveness.transpose().ok()?,
            facemap: links.facemap,
        }
        .to_form()
        .ok()?;
        Some(OutboxMessage {
            id: uuid::Uuid::new_v4(),
            account: scan.account,
            transaction: TransactionRef::from_uuid(scan.reference.as_uuid()),
            event: ID_VERIFICATION_CALLBACK.to_owned(),
            url: url.as_str().to_owned(),
            body,
            created_at: self.now,
        })
    }
}
