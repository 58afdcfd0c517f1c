//! The customer's callback receiver, on loopback: down (503) until it is
//! told to come up, then answering 200. It records every delivery and
//! checks its Standard Webhooks signature against the account's secret, on
//! purpose without the server's own signing code.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use facegate_api::wire::AuthenticationCallback;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook_id: String,
    /// `transactionReference` and `transactionResult` of the body, when it
    /// is a well-formed callback.
    pub reference: Option<String>,
    pub result: Option<String>,
    pub signature_valid: bool,
    /// Answered 200 (the receiver was up): the callback was delivered.
    pub accepted: bool,
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    up_at: Option<Instant>,
}

pub struct Receiver {
    /// `http://localhost:PORT/cb`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// A receiver that is down until [`Receiver::up_at`].
    pub async fn start(webhook_secret: String) -> Receiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let seen = state.clone();
        let handler = move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            let secret = webhook_secret.clone();
            async move {
                let callback: Option<AuthenticationCallback> =
                    serde_urlencoded::from_str(&body).ok();
                let mut state = seen.lock().unwrap();
                let up = state.up_at.is_some_and(|at| Instant::now() >= at);
                state.deliveries.push(Delivery {
                    webhook_id: header(&headers, "webhook-id"),
                    reference: callback
                        .as_ref()
                        .map(|c| c.transaction_reference.to_string()),
                    result: callback
                        .as_ref()
                        .map(|c| c.transaction_result.as_str().to_owned()),
                    signature_valid: signature_valid(&secret, &headers, &body),
                    accepted: up,
                });
                if up {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        };
        let router = axum::Router::new().route("/cb", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver {
            url: format!("http://localhost:{port}/cb"),
            state,
        }
    }

    /// From `at` on, the receiver answers 200.
    pub fn up_at(&self, at: Instant) {
        self.state.lock().unwrap().up_at = Some(at);
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Standard Webhooks: `v1,base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))`
/// among the space-separated signatures, the key being the base64 after
/// `whsec_`.
fn signature_valid(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let (id, timestamp) = (
        header(headers, "webhook-id"),
        header(headers, "webhook-timestamp"),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    !id.is_empty()
        && header(headers, "webhook-signature")
            .split(' ')
            .any(|s| s == expected)
}
