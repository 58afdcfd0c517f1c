//! Credentials as Jumio has them: one API token and secret for every call,
//! and the narrower roles for customers who want them.

use facegate_domain::EnrollmentRef;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, json, spawn_with_acme_on, Options, WEB_INITIATE};

/// Jumio gives a customer one API token and secret for every call: the
/// credential issued without a role initiates (facemap and web), retrieves,
/// downloads images, reads the callback history and deletes.
#[tokio::test]
async fn one_credential_without_a_role_calls_every_customer_api() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let main = &acme.main;
    let (deleted, facemap) = app.enrollment(&acme).await;
    let (live, _) = app.kept_enrollment(&acme).await;
    let metadata = |e: EnrollmentRef| json!({ "enrollmentTransactionReference": e.to_string() });
    let reference = app.initiate_ok(main, &metadata(deleted), &facemap).await;
    let web = app
        .request(Method::POST, WEB_INITIATE, main)
        .json(&metadata(live))
        .send()
        .await
        .unwrap();
    let (status, body) = json(web).await;
    assert_eq!(status, 200, "web initiate: {body}");

    let one = format!("/api/netverify/v2/authentications/{reference}");
    let (status, body) = app.call(Method::GET, &one, main).await;
    assert_eq!(status, 200, "retrieval: {body}");
    assert_eq!(body["transactionResult"], "CREATED");
    // No capture yet: the image calls are allowed and find no image.
    for image in ["images/face", "images/liveness/1"] {
        let (status, body) = app.call(Method::GET, &format!("{one}/{image}"), main).await;
        assert_eq!(
            (status.as_u16(), &body["code"]),
            (404, &json!("IMAGE_NOT_FOUND"))
        );
    }
    let history = app.callbacks(main, &reference).await;
    assert!(history["callbacks"].is_array(), "{history}");
    let (status, body) = app.call(Method::DELETE, &one, main).await;
    assert_eq!(status, 200, "delete: {body}");
    assert_eq!(app.retrieve(main, &reference).await.0, 404);
    app.stop().await;
}

/// The narrow roles stay for customers who want them: `api` only
/// initiates, `admin` only administers, each refused with `FORBIDDEN_ROLE`
/// on the other side (the refusals of every endpoint are in
/// `validation.rs`).
#[tokio::test]
async fn the_initiate_only_and_administration_only_roles_stay_available() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let (deleted, facemap) = app.enrollment(&acme).await;
    let metadata = json!({ "enrollmentTransactionReference": deleted.to_string() });
    let refused = app.initiate(&acme.admin, &metadata, &facemap).await;
    assert_problem(refused, 403, "FORBIDDEN_ROLE").await;
    let reference = app.initiate_ok(&acme.api, &metadata, &facemap).await;
    let (status, body) = app.retrieve(&acme.api, &reference).await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (403, &json!("FORBIDDEN_ROLE"))
    );
    assert_eq!(app.result(&acme.admin, &reference).await, "CREATED");
    // What one credential started, the others of the account administer.
    assert_eq!(app.result(&acme.main, &reference).await, "CREATED");
    app.stop().await;
}
