//! The `NETVERIFY_AUTHENTICATION` callback body (SPEC §2.7), rendered when a
//! transaction reaches its final state.

use chrono::{DateTime, Utc};
use facegate_domain::time::format_timestamp;
use facegate_domain::AuthTransaction;
use facegate_storage::{CallbackRenderer, OutboxMessage};

use crate::images::ImageLinks;

pub(crate) const AUTHENTICATION_CALLBACK: &str = "NETVERIFY_AUTHENTICATION";

pub(crate) struct AuthCallback<'a> {
    pub now: DateTime<Utc>,
    pub public_base_url: &'a str,
}

impl CallbackRenderer for AuthCallback<'_> {
    fn render(&self, tx: &AuthTransaction) -> Option<OutboxMessage> {
        let url = tx.callback_url.as_ref()?;
        let mut fields: Vec<(&str, String)> = vec![
            ("callBackType", AUTHENTICATION_CALLBACK.to_owned()),
            ("callbackDate", format_timestamp(self.now)),
            ("transactionReference", tx.reference.to_string()),
            ("enrollmentTransactionReference", tx.enrollment.to_string()),
            ("transactionResult", tx.state.as_str().to_owned()),
            ("transactionDate", format_timestamp(tx.created_at)),
            ("scanSource", tx.scan_source.as_str().to_owned()),
        ];
        if let Some(user) = &tx.user_reference {
            fields.push(("userReference", user.as_str().to_owned()));
        }
        let images = ImageLinks::new(self.public_base_url, tx);
        if let Some(face) = images.face {
            fields.push(("idScanImageFace", face));
        }
        fields.push((
            "livenessImages",
            serde_json::to_string(&images.liveness).unwrap_or_else(|_| "[]".to_owned()),
        ));
        let body = serde_urlencoded::to_string(&fields).ok()?;
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
