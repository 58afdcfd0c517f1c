//! Revoking a facemap also stops the transactions already started with it:
//! the capture is refused with FACEMAP_REVOKED at session open, attempt
//! start and finish, and the transaction ends INVALID, never PASSED.

use facegate_domain::{EnrollmentRef, Evidence};
use serde_json::json;

use crate::capture::{authorization_token, open_session, Capture};
use crate::helpers::{
    assert_problem, json as body_json, spawn_app_with, Customer, Options, TestApp,
};
use crate::scripted::ScriptedEngine;

/// An app whose attempts all find the enrolled person, live.
async fn passing_app() -> TestApp {
    spawn_app_with(Options {
        engine: Some(std::sync::Arc::new(ScriptedEngine::new(
            Evidence::LiveMatch,
        ))),
        ..Options::scripted()
    })
    .await
}

/// (enrollment, transaction reference, authorization token)
async fn initiated(app: &TestApp, c: &Customer) -> (EnrollmentRef, String, String) {
    let (enrollment, facemap) = app.enrollment(c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let (status, body) = body_json(app.initiate(&c.api, &metadata, &facemap).await).await;
    assert_eq!(status, 200, "{body}");
    (
        enrollment,
        body["authenticationTransactionReference"]
            .as_str()
            .unwrap()
            .to_owned(),
        authorization_token(body["redirectUrl"].as_str().unwrap()),
    )
}

async fn revoke(app: &TestApp, c: &Customer, enrollment: EnrollmentRef) {
    assert!(app
        .services
        .revoke_facemap(c.account.id, enrollment)
        .await
        .unwrap());
}

async fn result(app: &TestApp, c: &Customer, reference: &str) -> String {
    let (_, tx) = app.retrieve(&c.admin, reference).await;
    tx["transactionResult"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_unrevoked_facemap_passes_with_the_scripted_engine() {
    let app = passing_app().await;
    let c = app.customer("Acme", true).await;
    let (_, reference, token) = initiated(&app, &c).await;
    let capture = Capture::open(&app, &token).await;
    let attempt = capture.start().await;
    let (status, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
    assert_eq!(
        (status.as_u16(), done["outcome"].as_str()),
        (200, Some("PASSED"))
    );
    assert_eq!(result(&app, &c, &reference).await, "PASSED");
    app.stop().await;
}

#[tokio::test]
async fn revoking_after_initiation_refuses_the_capture_session() {
    let app = passing_app().await;
    let c = app.customer("Acme", true).await;
    let (enrollment, reference, token) = initiated(&app, &c).await;
    revoke(&app, &c, enrollment).await;
    assert_problem(open_session(&app, &token).await, 409, "FACEMAP_REVOKED").await;
    assert_eq!(result(&app, &c, &reference).await, "INVALID");
    assert_problem(
        open_session(&app, &token).await,
        409,
        "TRANSACTION_FINISHED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn revoking_after_the_session_opened_refuses_the_attempt() {
    let app = passing_app().await;
    let c = app.customer("Acme", true).await;
    let (enrollment, reference, token) = initiated(&app, &c).await;
    let capture = Capture::open(&app, &token).await;
    revoke(&app, &c, enrollment).await;
    assert_problem(capture.start_raw(true).await, 409, "FACEMAP_REVOKED").await;
    assert_eq!(result(&app, &c, &reference).await, "INVALID");
    app.stop().await;
}

#[tokio::test]
async fn revoking_during_an_attempt_makes_its_finish_fail_instead_of_pass() {
    let app = passing_app().await;
    let c = app.customer("Acme", true).await;
    let (enrollment, reference, token) = initiated(&app, &c).await;
    let capture = Capture::open(&app, &token).await;
    let attempt = capture.start().await;
    revoke(&app, &c, enrollment).await;
    assert_problem(
        capture.finish(&attempt.id, &attempt.nonce).await,
        409,
        "FACEMAP_REVOKED",
    )
    .await;
    assert_eq!(result(&app, &c, &reference).await, "INVALID");
    assert_problem(
        capture.finish(&attempt.id, &attempt.nonce).await,
        409,
        "TRANSACTION_FINISHED",
    )
    .await;
    app.stop().await;
}
