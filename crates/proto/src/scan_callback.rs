//! The `NETVERIFYID` callback (SPEC §1.4, `callback.md` "Callback for ID
//! Verification"): the form the server posts to the `callbackUrl` when an ID
//! verification is decided (or ends `NO_ID_UPLOADED`), and the JSON objects
//! it carries as text (`rejectReason`, `identityVerification`), which
//! retrieval shares.

use facegate_domain::{Rejection, VerificationStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// `callBackType` of the ID verification callback.
pub const ID_VERIFICATION_CALLBACK: &str = "NETVERIFYID";

/// An `idCheck*` value: `OK` only for a check the server performed and
/// passed; `N/A` otherwise (never `OK` for a check it cannot perform).
pub const CHECK_OK: &str = "OK";
pub const CHECK_NOT_AVAILABLE: &str = "N/A";

/// `rejectReason` (callback: JSON text; retrieval: an object), codes as
/// strings as the guides print them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectReasonBody {
    #[schema(example = "200")]
    pub reject_reason_code: String,
    #[schema(example = "NOT_READABLE_DOCUMENT")]
    pub reject_reason_description: String,
    /// One object for one detail, an array for several (as the guides
    /// say); absent without details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub reject_reason_details: Option<RejectDetails>,
}

/// `rejectReasonDetails`: an object when there is one, else an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RejectDetails {
    One(RejectDetailBody),
    Many(Vec<RejectDetailBody>),
}

/// One `rejectReasonDetails` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectDetailBody {
    #[schema(example = "2001")]
    pub details_code: String,
    #[schema(example = "BLURRED")]
    pub details_description: String,
}

impl From<&Rejection> for RejectReasonBody {
    fn from(r: &Rejection) -> Self {
        let mut details: Vec<RejectDetailBody> = r
            .details()
            .iter()
            .map(|d| RejectDetailBody {
                details_code: d.code().to_string(),
                details_description: d.description().to_owned(),
            })
            .collect();
        let reject_reason_details = match details.len() {
            0 => None,
            1 => details.pop().map(RejectDetails::One),
            _ => Some(RejectDetails::Many(details)),
        };
        Self {
            reject_reason_code: r.reason().code().to_string(),
            reject_reason_description: r.reason().description().to_owned(),
            reject_reason_details,
        }
    }
}

/// `identityVerification` as the callback carries it (the guide's sample:
/// `{"similarity":"MATCH","validity":true}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallbackIdentity {
    /// `MATCH`, `NO_MATCH` or `NOT_POSSIBLE`.
    pub similarity: String,
    pub validity: bool,
    /// Why the selfie is not valid (with `validity` false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `application/x-www-form-urlencoded` body of the ID verification
/// callback, members in the guide's order. Signed per Standard Webhooks
/// like every callback. Members the scan has no value for are left out;
/// `identityVerification` and `rejectReason` are JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdVerificationCallback {
    /// Always `NETVERIFYID`.
    #[serde(rename = "callBackType")]
    #[schema(example = "NETVERIFYID")]
    pub callback_type: String,
    /// The scan's reference (also its enrollment's).
    #[schema(value_type = uuid::Uuid)]
    pub jumio_id_scan_reference: String,
    #[schema(example = "APPROVED_VERIFIED")]
    pub verification_status: String,
    /// `SUCCESS` if `APPROVED_VERIFIED`, else `ERROR`.
    pub id_scan_status: String,
    /// `WEB`, `WEB_CAM`, `WEB_UPLOAD` or `SDK`.
    pub id_scan_source: String,
    /// `N/A`: not a check this server performs.
    pub id_check_data_positions: String,
    /// `N/A`: not a check this server performs.
    pub id_check_document_validation: String,
    /// `N/A`: not a check this server performs.
    pub id_check_hologram: String,
    /// `OK` when approved with every check digit of the machine-readable
    /// zone holding, else `N/A`.
    #[serde(rename = "idCheckMRZcode")]
    pub id_check_mrz_code: String,
    /// `N/A`: not a check this server performs.
    pub id_check_microprint: String,
    /// `N/A`: not a check this server performs.
    pub id_check_security_features: String,
    /// `N/A`: not a check this server performs.
    pub id_check_signature: String,
    pub transaction_date: Timestamp,
    pub callback_date: Timestamp,
    /// JSON text (see [`CallbackIdentity`]), only when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_verification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_country: Option<String>,
    /// JSON text (see [`RejectReasonBody`]) with `DENIED_FRAUD` and
    /// `ERROR_NOT_READABLE_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    /// URL of the document front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_scan_image: Option<String>,
    /// URL of the selfie's face image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_scan_image_face: Option<String>,
    /// URL of the document back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_scan_image_backside: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_last_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_dob: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_expiry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    /// The initiation's `customerInternalReference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id_scan_reference: Option<String>,
    /// The initiation's `reportingCriteria`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reporting_criteria: Option<String>,
    /// The initiation's `userReference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The user's address (`192.0.2.1`): where the capture session was
    /// opened from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// When the user first gave a document side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_data1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_data2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset_id_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// The URLs of the liveness frames, as a JSON array in one form field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_images: Option<String>,
    /// URL of the facemap (`/data/facemap`), when one was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facemap: Option<String>,
}

impl IdVerificationCallback {
    /// The form body as posted.
    pub fn to_form(&self) -> Result<String, serde_urlencoded::ser::Error> {
        serde_urlencoded::to_string(self)
    }

    /// `idScanStatus` of a verification status.
    pub fn id_scan_status(status: VerificationStatus) -> &'static str {
        if status == VerificationStatus::ApprovedVerified {
            "SUCCESS"
        } else {
            "ERROR"
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use facegate_domain::{RejectDetail, RejectReason};

    use super::*;

    #[test]
    fn reject_details_are_an_object_for_one_and_an_array_for_several() {
        let none = RejectReasonBody::from(&Rejection::new(RejectReason::NoDocument));
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"rejectReasonCode":"201","rejectReasonDescription":"NO_DOCUMENT"}"#
        );
        let one =
            Rejection::with_details(RejectReason::NotReadableDocument, &[RejectDetail::Blurred])
                .unwrap();
        let json = serde_json::to_value(RejectReasonBody::from(&one)).unwrap();
        assert_eq!(json["rejectReasonDetails"]["detailsCode"], "2001");
        let two = Rejection::with_details(
            RejectReason::NotReadableDocument,
            &[RejectDetail::Blurred, RejectDetail::Glare],
        )
        .unwrap();
        let json = serde_json::to_value(RejectReasonBody::from(&two)).unwrap();
        assert_eq!(
            json["rejectReasonDetails"][1]["detailsDescription"],
            "GLARE"
        );
        let back: RejectReasonBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, RejectReasonBody::from(&two));
    }
}
