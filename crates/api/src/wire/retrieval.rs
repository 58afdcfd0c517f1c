//! Retrieving, deleting and auditing a transaction.

use facegate_core::{CallbackRecord, OutboxStatus};
use facegate_domain::{
    AuthTransaction, Decision, EnrollmentRef, ScanSource, TransactionRef, TransactionState,
};
use facegate_proto::schema::{scan_source_schema, transaction_state_schema};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// A transaction as retrieval answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// When this answer was made.
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: TransactionRef,
    #[schema(value_type = uuid::Uuid)]
    pub enrollment_transaction_reference: EnrollmentRef,
    #[schema(schema_with = transaction_state_schema)]
    pub transaction_result: TransactionState,
    /// When the transaction was created.
    pub transaction_date: Timestamp,
    #[schema(schema_with = scan_source_schema)]
    pub scan_source: ScanSource,
    /// Your reference for the user; absent (not `null`) when the initiation
    /// named none, as in Jumio's retrieval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_reference: Option<String>,
    /// The best face frame, once stored.
    pub images: Vec<Image>,
    /// The URLs of the liveness frames.
    pub liveness_images: Vec<String>,
    /// Scores, thresholds and reasons once a capture was decided.
    pub decision: Option<Decision>,
}

/// One image link of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Image {
    /// `face`.
    #[schema(example = "face")]
    pub classifier: String,
    pub href: String,
}

impl Transaction {
    /// `tx` as seen at `now`, its image links under `public_base_url`.
    pub fn new(
        tx: &AuthTransaction,
        now: chrono::DateTime<chrono::Utc>,
        public_base_url: &str,
    ) -> Self {
        let images = facegate_core::images::ImageLinks::new(public_base_url, tx);
        Self {
            timestamp: now.into(),
            transaction_reference: tx.reference,
            enrollment_transaction_reference: tx.enrollment,
            transaction_result: tx.state,
            transaction_date: tx.created_at.into(),
            scan_source: tx.scan_source,
            user_reference: tx.user_reference.as_ref().map(|u| u.as_str().to_owned()),
            images: images
                .face
                .into_iter()
                .map(|href| Image {
                    classifier: "face".to_owned(),
                    href,
                })
                .collect(),
            liveness_images: images.liveness,
            decision: tx.decision.clone(),
        }
    }
}

/// The answer to a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionDeleted {
    pub timestamp: Timestamp,
    #[schema(value_type = uuid::Uuid)]
    pub transaction_reference: TransactionRef,
    /// Always `true`.
    pub deleted: bool,
}

/// Every callback of a transaction with every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallbackHistory {
    pub callbacks: Vec<CallbackDelivery>,
}

/// One callback and its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackDelivery {
    /// `msg_…`, also the Standard Webhooks `webhook-id`.
    pub id: String,
    /// `NETVERIFY_AUTHENTICATION`.
    #[serde(rename = "callBackType")]
    pub callback_type: String,
    pub url: String,
    pub status: DeliveryStatus,
    pub created_at: Timestamp,
    /// When the next delivery is due, while `PENDING`.
    pub next_attempt_at: Option<Timestamp>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// Where a callback's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One delivery attempt of a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    /// 1-based.
    pub attempt: u32,
    pub at: Timestamp,
    pub delivered: bool,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Stable snake_case error kind, e.g. `forbidden_destination`.
    pub error: Option<String>,
    pub detail: Option<String>,
    pub duration_ms: u64,
}

impl From<&CallbackRecord> for CallbackDelivery {
    fn from(record: &CallbackRecord) -> Self {
        let m = &record.message;
        Self {
            id: format!("msg_{}", m.id.simple()),
            callback_type: m.event.clone(),
            url: m.url.clone(),
            status: match record.status {
                OutboxStatus::Pending => DeliveryStatus::Pending,
                OutboxStatus::Delivered => DeliveryStatus::Delivered,
                OutboxStatus::Failed => DeliveryStatus::Failed,
            },
            created_at: m.created_at.into(),
            next_attempt_at: record.next_attempt_at.map(Timestamp),
            attempts: record
                .attempts
                .iter()
                .map(|a| DeliveryAttempt {
                    attempt: a.attempt_no,
                    at: a.at.into(),
                    delivered: a.delivered,
                    http_status: a.status,
                    error: a.error.clone(),
                    detail: a.detail.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}
