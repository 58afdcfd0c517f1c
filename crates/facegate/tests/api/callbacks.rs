//! Signed callbacks: delivery, signature, retries, and refused destinations.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::helpers::*;

/// Standard Webhooks verification written from the published scheme, on
/// purpose independent of the server's own signing code.
pub(crate) fn verify_standard_webhook(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &str,
) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .any(|s| s == expected)
}

pub(crate) async fn expire_via_new_initiate(
    app: &TestApp,
    c: &Customer,
    callback_url: &str,
) -> String {
    let (enrollment, facemap) = app.enrollment(c).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "userReference": "user_42",
        "callbackUrl": callback_url,
    });
    let first = app.initiate_ok(&c.api, &metadata, &facemap).await;
    app.initiate_ok(
        &c.api,
        &json!({ "enrollmentTransactionReference": enrollment.to_string() }),
        &facemap,
    )
    .await;
    first
}

async fn attempts(app: &TestApp, c: &Customer, reference: &str) -> Vec<Value> {
    let body = app.callbacks(&c.admin, reference).await;
    body["callbacks"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The static DNS of the harness answers 10.0.0.1 and 169.254.169.254 for these.
const PRIVATE_DESTINATIONS: [&str; 2] = [
    "https://internal.example.com/cb",
    "https://metadata.example.com/latest/meta-data",
];

/// Writes `account` as it is (a fixture: no use case changes its key).
async fn store_account(app: &TestApp, account: &facegate_domain::Account) {
    app.fixture_store().update_account(account).await.unwrap();
}

#[tokio::test]
async fn a_final_state_sends_a_callback_signed_with_standard_webhooks() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let receiver = Receiver::start(0).await;
    let secret = app
        .services
        .webhook_secret(&c.account)
        .unwrap()
        .to_whsec_string();
    let reference = expire_via_new_initiate(&app, &c, &receiver.url).await;
    eventually("the callback arrives", || async { receiver.count() == 1 }).await;
    let received = receiver.all().remove(0);
    assert_eq!(
        received.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(
        verify_standard_webhook(&secret, &received.headers, &received.body),
        "signature does not verify"
    );
    assert!(!verify_standard_webhook(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &received.headers,
        &received.body
    ));
    let fields = form(&received.body);
    assert_eq!(fields["callBackType"], "NETVERIFY_AUTHENTICATION");
    assert_eq!(fields["transactionReference"], reference);
    assert_eq!(fields["transactionResult"], "EXPIRED");
    assert_eq!(fields["scanSource"], "WEB");
    assert_eq!(fields["userReference"], "user_42");
    assert_eq!(fields["livenessImages"], "[]");
    assert_eq!(fields["transactionDate"].len(), 24);
    assert_eq!(fields["callbackDate"].len(), 24);
    assert!(fields.contains_key("enrollmentTransactionReference"));
    eventually("the attempt is recorded as delivered", || async {
        app.callbacks(&c.admin, &reference).await["callbacks"][0]["status"] == "DELIVERED"
    })
    .await;
    let history = attempts(&app, &c, &reference).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["httpStatus"], 204);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_callback_is_retried_after_the_backoff() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let receiver = Receiver::start(1).await;
    let reference = expire_via_new_initiate(&app, &c, &receiver.url).await;
    eventually("the first attempt is recorded", || async {
        attempts(&app, &c, &reference).await.len() == 1
    })
    .await;
    let body = app.callbacks(&c.admin, &reference).await;
    let callback = &body["callbacks"][0];
    assert_eq!(callback["status"], "PENDING");
    assert_eq!(callback["attempts"][0]["httpStatus"], 500);
    assert_eq!(callback["attempts"][0]["error"], "http_status");
    // Not retried before the backoff (60 s on the manual clock) has passed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 1);
    app.advance(Duration::seconds(61));
    eventually("the retry is delivered", || async {
        app.callbacks(&c.admin, &reference).await["callbacks"][0]["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(attempts(&app, &c, &reference).await.len(), 2);
    let all = receiver.all();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].headers["webhook-id"], all[1].headers["webhook-id"],
        "retries keep the message id"
    );
    assert_eq!(all[0].body, all[1].body);
    app.stop().await;
}

#[tokio::test]
async fn callbacks_are_never_sent_to_private_or_metadata_addresses() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for url in PRIVATE_DESTINATIONS {
        let reference = expire_via_new_initiate(&app, &c, url).await;
        eventually("the refused attempt is recorded", || async {
            !attempts(&app, &c, &reference).await.is_empty()
        })
        .await;
        let history = attempts(&app, &c, &reference).await;
        assert_eq!(
            history[0]["error"], "forbidden_destination",
            "{url}: {history:?}"
        );
        assert_eq!(history[0]["delivered"], false);
        assert!(
            history[0]["httpStatus"].is_null(),
            "{url}: no connection was made"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn loopback_callbacks_are_refused_unless_the_development_switch_allows_them() {
    let app = spawn_app_with(Options {
        allow_loopback_callbacks: false,
        ..Options::scripted()
    })
    .await;
    let receiver = Receiver::start(0).await;
    let c = app.customer("Acme", true).await;
    let reference = expire_via_new_initiate(&app, &c, &receiver.url).await;
    eventually("the refused attempt is recorded", || async {
        !attempts(&app, &c, &reference).await.is_empty()
    })
    .await;
    assert_eq!(
        attempts(&app, &c, &reference).await[0]["error"],
        "forbidden_destination"
    );
    assert_eq!(receiver.count(), 0);
    app.stop().await;
}

/// Sets the account's private callback networks (`callbackPrivateNetworks`).
async fn list_private_networks(app: &TestApp, c: &Customer, networks: &str) {
    app.services
        .update_account(
            c.account.id,
            facegate_core::accounts::AccountChanges {
                callback_private_networks: Some(networks.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn under_the_production_guard_only_the_account_listing_a_private_network_reaches_it() {
    // Loopback is refused as in production; the receiver on 127.0.0.1 is
    // the "private network" one account lists.
    let app = spawn_app_with(Options {
        allow_loopback_callbacks: false,
        ..Options::scripted()
    })
    .await;
    let receiver = Receiver::start(0).await;
    let listing = app.customer("On premise", true).await;
    let other = app.customer("Elsewhere", true).await;
    list_private_networks(&app, &listing, "127.0.0.0/8").await;

    let delivered = expire_via_new_initiate(&app, &listing, &receiver.url).await;
    eventually("the listing account's callback is delivered", || async {
        app.callbacks(&listing.admin, &delivered).await["callbacks"][0]["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(
        form(&receiver.all()[0].body)["transactionReference"],
        delivered
    );

    let refused = expire_via_new_initiate(&app, &other, &receiver.url).await;
    eventually("the other account's attempt is recorded", || async {
        !attempts(&app, &other, &refused).await.is_empty()
    })
    .await;
    let history = attempts(&app, &other, &refused).await;
    assert_eq!(history[0]["error"], "forbidden_destination", "{history:?}");
    assert!(history[0]["httpStatus"].is_null(), "no connection was made");

    // A listed host name reaches private ranges, never cloud metadata, and
    // the rest of the private space stays refused for the listing account.
    list_private_networks(&app, &listing, "127.0.0.0/8,metadata.example.com").await;
    for url in PRIVATE_DESTINATIONS {
        let reference = expire_via_new_initiate(&app, &listing, url).await;
        eventually("the refused attempt is recorded", || async {
            !attempts(&app, &listing, &reference).await.is_empty()
        })
        .await;
        let history = attempts(&app, &listing, &reference).await;
        assert_eq!(
            history[0]["error"], "forbidden_destination",
            "{url}: {history:?}"
        );
    }
    assert_eq!(receiver.count(), 1, "nothing else reached the receiver");
    app.stop().await;
}

#[tokio::test]
async fn a_callback_url_may_name_an_address_of_the_accounts_private_networks() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let other = app.customer("Other", true).await;
    list_private_networks(&app, &c, "127.0.0.0/8").await;
    // Never expired here, so nothing is sent to the address.
    let literal = "https://127.0.0.1/cb";
    for (customer, accepted) in [(&c, true), (&other, false)] {
        let (enrollment, facemap) = app.enrollment(customer).await;
        let metadata = json!({
            "enrollmentTransactionReference": enrollment.to_string(),
            "callbackUrl": literal,
        });
        let response = app.initiate(&customer.api, &metadata, &facemap).await;
        if accepted {
            assert_eq!(response.status(), 200);
        } else {
            assert_eq!(response.status(), 400);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "URL_IP_HOST", "{body}");
        }
    }
    // As the account's default too; and the list cannot shrink under it.
    let changes =
        |callback: Option<&str>, networks: Option<&str>| facegate_core::accounts::AccountChanges {
            callback_url: callback.map(str::to_owned),
            callback_private_networks: networks.map(str::to_owned),
            ..Default::default()
        };
    let updated = app
        .services
        .update_account(c.account.id, changes(Some(literal), None))
        .await
        .unwrap();
    assert_eq!(updated.callback_url.unwrap().as_str(), literal);
    let refused = app
        .services
        .update_account(c.account.id, changes(None, Some("10.0.0.0/8")))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, facegate_core::ServiceError::Validation(errors)
            if errors.iter().any(|e| e.field == "callbackUrl" && e.code == "URL_IP_HOST")),
        "{refused:?}"
    );
    let refused = app
        .services
        .update_account(other.account.id, changes(Some(literal), None))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, facegate_core::ServiceError::Validation(errors)
            if errors.iter().any(|e| e.code == "URL_IP_HOST")),
        "{refused:?}"
    );
    // Both at once: the new list applies to the new URL.
    app.services
        .update_account(
            other.account.id,
            changes(Some("https://10.1.2.3/cb"), Some("10.1.0.0/16")),
        )
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn the_account_default_callback_url_is_used_when_the_request_names_none() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    // Enrolled first: the enrollment's scan would use the default too.
    let (enrollment, facemap) = app.enrollment(&c).await;
    let receiver = Receiver::start(0).await;
    app.services
        .update_account(
            c.account.id,
            facegate_core::accounts::AccountChanges {
                callback_url: Some(receiver.url.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    app.advance(Duration::minutes(16));
    eventually("the EXPIRED callback arrives", || async {
        receiver.count() == 1
    })
    .await;
    let sent = form(&receiver.all()[0].body);
    assert_eq!(sent["transactionReference"], reference);
    assert_eq!(sent["transactionResult"], "EXPIRED");
    app.stop().await;
}

#[tokio::test]
async fn a_callback_whose_signing_key_is_missing_is_counted_and_retried_not_given_up() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let receiver = Receiver::start(0).await;
    // The account's webhook secret derives from a key this server lacks.
    let mut account = c.account.clone();
    account.webhook_key_id = 99;
    store_account(&app, &account).await;
    let reference = expire_via_new_initiate(&app, &c, &receiver.url).await;
    eventually("the unsigned attempt is recorded", || async {
        !attempts(&app, &c, &reference).await.is_empty()
    })
    .await;
    let body = app.callbacks(&c.admin, &reference).await;
    let callback = &body["callbacks"][0];
    assert_eq!(callback["status"], "PENDING", "{body}");
    assert_eq!(callback["attempts"][0]["error"], "no_signing_key");
    assert_eq!(receiver.count(), 0, "nothing unsigned was sent");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("facegate_callback_key_missing_total 1"),
        "{metrics}"
    );
    // Once the operator restores the key, the normal backoff delivers it.
    account.webhook_key_id = 1;
    store_account(&app, &account).await;
    app.advance(Duration::seconds(61));
    eventually("the retry is delivered", || async {
        app.callbacks(&c.admin, &reference).await["callbacks"][0]["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(receiver.count(), 1);
    app.stop().await;
}

/// A receiver that accepts the connection and never answers.
async fn hanging_receiver() -> String {
    let handler = || async {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        axum::http::StatusCode::NO_CONTENT
    };
    let router = axum::Router::new().route("/cb", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://localhost:{port}/cb")
}

#[tokio::test]
async fn a_hanging_receiver_of_one_account_does_not_delay_another_accounts_callback() {
    // The harness's 5 s callback timeout: a batch that waits for the hanging
    // receiver holds the other account's callback at least that long.
    let app = spawn_app_with(Options::scripted()).await;
    let hanging = hanging_receiver().await;
    let slow = app.customer("Slow", true).await;
    // 24 callbacks to the hanging receiver: more than a batch of 16.
    let (enrollment, facemap) = app.enrollment(&slow).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "callbackUrl": hanging,
    });
    for _ in 0..25 {
        app.initiate_ok(&slow.api, &metadata, &facemap).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let receiver = Receiver::start(0).await;
    let other = app.customer("Other", true).await;
    let started = std::time::Instant::now();
    expire_via_new_initiate(&app, &other, &receiver.url).await;
    eventually("the other account's callback arrives", || async {
        receiver.count() == 1
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_millis(2500),
        "the callback waited {waited:?} behind another account's hanging receiver"
    );
    app.stop().await;
}
