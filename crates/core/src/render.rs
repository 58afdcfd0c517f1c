//! The `NETVERIFY_AUTHENTICATION` callback body (SPEC §2.7, its wire type
//! is `facegate_proto::AuthenticationCallback`), rendered when a
//! transaction reaches its final state.

use chrono::{DateTime, Utc};
use facegate_domain::AuthTransaction;
use facegate_proto::{AuthenticationCallback, AUTHENTICATION_CALLBACK};
use facegate_storage::{CallbackRenderer, OutboxMessage};

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
