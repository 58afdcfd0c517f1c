//! The `NETVERIFY_AUTHENTICATION` callback (SPEC §2.7): the form the server
//! posts to the `callbackUrl` when a transaction reaches its final state.

use facegate_domain::{EnrollmentRef, ScanSource, TransactionRef, TransactionState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::schema::{scan_source_schema, transaction_state_schema};
use crate::Timestamp;

/// `callBackType` of the authentication callback.
pub const AUTHENTICATION_CALLBACK: &str = "NETVERIFY_AUTHENTICATION";

/// The `application/x-www-form-urlencoded` body of the authentication
/// callback, members in the order they are sent. It is sent for every final
/// state (`EXPIRED` included) and signed per Standard Webhooks
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationCallback {
    /// Always `NETVERIFY_AUTHENTICATION`.
    #[serde(rename = "callBackType")]
    #[schema(example = "NETVERIFY_AUTHENTICATION")]
    pub callback_type: String,
    /// When the callback was rendered.
    pub callback_date: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: TransactionRef,
    #[schema(value_type = uuid::Uuid)]
    pub enrollment_transaction_reference: EnrollmentRef,
    /// The final state.
    #[schema(schema_with = transaction_state_schema)]
    pub transaction_result: TransactionState,
    /// When the transaction was created.
    pub transaction_date: Timestamp,
    #[schema(schema_with = scan_source_schema)]
    pub scan_source: ScanSource,
    /// Sent when the initiation named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_reference: Option<String>,
    /// The URL of the best face frame, when one is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_scan_image_face: Option<String>,
    /// The URLs of the liveness frames, as a JSON array in one form field.
    #[serde(with = "json_text")]
    #[schema(value_type = String, example = "[]")]
    pub liveness_images: Vec<String>,
}

impl AuthenticationCallback {
    /// The form body as posted.
    pub fn to_form(&self) -> Result<String, serde_urlencoded::ser::Error> {
        serde_urlencoded::to_string(self)
    }
}

/// A list carried as the JSON text of one form field.
mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(list).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_callback_form_keeps_its_member_order_and_reads_back() {
        let at = Timestamp(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let callback = AuthenticationCallback {
            callback_type: AUTHENTICATION_CALLBACK.to_owned(),
            callback_date: at,
            transaction_reference: "6f1ec5f0-6a4e-4b8e-9d55-0f4c1b7a1e01".parse().unwrap(),
            enrollment_transaction_reference: "0b9c3d9e-1c62-4c55-8a7e-7a1f2b3c4d5e"
                .parse()
                .unwrap(),
            transaction_result: TransactionState::Expired,
            transaction_date: at,
            scan_source: ScanSource::Web,
            user_reference: None,
            id_scan_image_face: None,
            liveness_images: vec!["https://x.example/1".to_owned()],
        };
        let form = callback.to_form().unwrap();
        assert_eq!(
            form,
            "callBackType=NETVERIFY_AUTHENTICATION&callbackDate=2026-01-02T03%3A04%3A05.000Z\
             &transactionReference=6f1ec5f0-6a4e-4b8e-9d55-0f4c1b7a1e01\
             &enrollmentTransactionReference=0b9c3d9e-1c62-4c55-8a7e-7a1f2b3c4d5e\
             &transactionResult=EXPIRED&transactionDate=2026-01-02T03%3A04%3A05.000Z\
             &scanSource=WEB&livenessImages=%5B%22https%3A%2F%2Fx.example%2F1%22%5D"
        );
        let read: AuthenticationCallback = serde_urlencoded::from_str(&form).unwrap();
        assert_eq!(read, callback);
    }
}
