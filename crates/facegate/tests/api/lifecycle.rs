//! Lifetime, expiry, final states, retrieval and deletion.

use chrono::Duration;
use facegate_domain::{TransactionRef, TransactionState};
use serde_json::json;

use super::helpers::*;

async fn stored_state(app: &TestApp, reference: &str) -> (TransactionState, bool) {
    let tx = app
        .fixture_store()
        .transaction(reference.parse::<TransactionRef>().unwrap())
        .await
        .unwrap()
        .unwrap();
    (tx.state, tx.facemap.is_some())
}

#[tokio::test]
async fn a_transaction_expires_when_its_lifetime_ends() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string(), "tokenLifetimeInMinutes": 5 });
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    app.advance(Duration::minutes(5) - Duration::milliseconds(1));
    assert_eq!(app.result(&c.admin, &reference).await, "CREATED");
    app.advance(Duration::milliseconds(1));
    assert_eq!(app.result(&c.admin, &reference).await, "EXPIRED");
    app.stop().await;
}

#[tokio::test]
async fn the_lifetime_is_capped_at_fifteen_minutes() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for requested in [Some(60), None] {
        let (enrollment, facemap) = app.enrollment(&c).await;
        let mut metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
        if let Some(minutes) = requested {
            metadata["tokenLifetimeInMinutes"] = json!(minutes);
        }
        let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
        app.advance(Duration::minutes(15) - Duration::milliseconds(1));
        assert_eq!(
            app.result(&c.admin, &reference).await,
            "CREATED",
            "{requested:?}"
        );
        app.advance(Duration::milliseconds(1));
        assert_eq!(
            app.result(&c.admin, &reference).await,
            "EXPIRED",
            "{requested:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_expiry_worker_finalises_overdue_transactions_nobody_reads() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert_eq!(
        stored_state(&app, &reference).await,
        (TransactionState::Created, true)
    );
    app.advance(Duration::minutes(16));
    eventually("the worker expires the transaction", || async {
        stored_state(&app, &reference).await == (TransactionState::Expired, false)
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_facemap_is_erased_when_the_transaction_is_final() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let first = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert!(
        stored_state(&app, &first).await.1,
        "an open transaction holds its facemap"
    );
    let second = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert_eq!(
        stored_state(&app, &first).await,
        (TransactionState::Expired, false)
    );
    // Any final state erases it, not only expiry.
    let passed = app
        .services
        .finalize(second.parse().unwrap(), TransactionState::Passed)
        .await
        .unwrap();
    assert!(passed);
    assert_eq!(
        stored_state(&app, &second).await,
        (TransactionState::Passed, false)
    );
    // Final states never change.
    assert!(!app
        .services
        .finalize(second.parse().unwrap(), TransactionState::Failed)
        .await
        .unwrap());
    app.advance(Duration::minutes(30));
    assert_eq!(app.result(&c.admin, &second).await, "PASSED");
    app.stop().await;
}

#[tokio::test]
async fn delete_erases_the_transaction_and_hides_it() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string(), "userReference": "user_1" });
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    let (status, body) = app.delete(&c.api, &reference).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("FORBIDDEN_ROLE")),
        "delete needs the admin role"
    );
    let (status, body) = app.delete(&c.admin, &reference).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["transactionReference"], reference.as_str());
    let (status, body) = app.retrieve(&c.admin, &reference).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("TRANSACTION_NOT_FOUND"))
    );
    let (status, _) = app.delete(&c.admin, &reference).await;
    assert_eq!(status, 404);
    assert!(app
        .fixture_store()
        .transaction(reference.parse().unwrap())
        .await
        .unwrap()
        .is_none());
    app.stop().await;
}

#[tokio::test]
async fn another_accounts_transaction_is_not_found() {
    let app = spawn_app_with(Options::scripted()).await;
    let a = app.customer("A", true).await;
    let b = app.customer("B", true).await;
    let (enrollment, facemap) = app.enrollment(&a).await;
    let reference = app
        .initiate_ok(
            &a.api,
            &json!({ "enrollmentTransactionReference": enrollment.to_string() }),
            &facemap,
        )
        .await;
    for response in [
        app.retrieve(&b.admin, &reference).await,
        app.delete(&b.admin, &reference).await,
    ] {
        assert_eq!(
            (response.0.as_u16(), response.1["code"].as_str()),
            (404, Some("TRANSACTION_NOT_FOUND"))
        );
    }
    assert_eq!(app.result(&a.admin, &reference).await, "CREATED");
    let (status, body) = app.retrieve(&a.admin, "not-a-reference").await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("TRANSACTION_NOT_FOUND"))
    );
    app.stop().await;
}

#[tokio::test]
async fn images_answer_not_found_until_capture_exists() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let reference = app
        .initiate_ok(
            &c.api,
            &json!({ "enrollmentTransactionReference": enrollment.to_string() }),
            &facemap,
        )
        .await;
    for path in ["images/face", "images/liveness/1"] {
        let url = format!("/api/netverify/v2/authentications/{reference}/{path}");
        let response = app
            .request(reqwest::Method::GET, &url, &c.admin)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "IMAGE_NOT_FOUND").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_transactions_without_customer_data() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let first = app.initiate_ok(&c.api, &metadata, &facemap).await;
    app.initiate_ok(&c.api, &metadata, &facemap).await;
    let text = app.metrics_text().await;
    assert!(text.contains(
        "facegate_http_request_duration_seconds_count{method=\"POST\",route=\"/api/authentication/v1/facemap/initiate\",status=\"200\"} 2"
    ), "{text}");
    assert!(
        text.contains("facegate_transactions_initiated_total 2"),
        "{text}"
    );
    assert!(
        text.contains("facegate_transactions_finalised_total{state=\"EXPIRED\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains(&first) && !text.contains(&enrollment.to_string()),
        "{text}"
    );
    app.stop().await;
}
