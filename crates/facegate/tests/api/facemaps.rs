//! Facemaps that must be refused, each with its own code.

use facegate_facemap::{FacemapContents, Keyring};
use serde_json::json;

use super::helpers::*;

fn metadata(enrollment: impl ToString) -> serde_json::Value {
    json!({ "enrollmentTransactionReference": enrollment.to_string() })
}

#[tokio::test]
async fn altered_truncated_and_foreign_facemaps_are_refused() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;

    let mut flipped = facemap.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x01;
    let mut version = facemap.clone();
    version[4] = 9;
    let mut short = facemap.clone();
    short.truncate(facemap.len() - 1);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("one flipped bit", flipped, 400, "FACEMAP_TAMPERED"),
        ("one byte truncated", short, 400, "FACEMAP_TAMPERED"),
        (
            "truncated to 30 bytes",
            facemap[..30].to_vec(),
            400,
            "FACEMAP_INVALID",
        ),
        (
            "not a facemap",
            b"hello, I am a JPEG".to_vec(),
            400,
            "FACEMAP_INVALID",
        ),
        (
            "unknown format version",
            version,
            400,
            "FACEMAP_UNSUPPORTED_VERSION",
        ),
    ];
    for (case, bytes, status, code) in cases {
        let response = app.initiate(&c.api, &metadata(enrollment), &bytes).await;
        let body = json(response).await.1;
        assert_eq!(
            (body["status"].as_u64(), body["code"].as_str()),
            (Some(status.into()), Some(code)),
            "{case}: {body}"
        );
    }
    // The genuine one still works: nothing above left state behind.
    app.initiate_ok(&c.api, &metadata(enrollment), &facemap)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_facemap_of_another_account_is_refused() {
    let app = spawn_app_with(Options::scripted()).await;
    let a = app.customer("A", true).await;
    let b = app.customer("B", true).await;
    let (_, facemap_of_a) = app.enrollment(&a).await;
    let (enrollment_of_b, _) = app.enrollment(&b).await;
    let response = app
        .initiate(&b.api, &metadata(enrollment_of_b), &facemap_of_a)
        .await;
    assert_problem(response, 403, "FACEMAP_WRONG_ACCOUNT").await;
    app.stop().await;
}

#[tokio::test]
async fn a_facemap_issued_for_another_enrollment_is_refused() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (first, _) = app.enrollment(&c).await;
    let (_, facemap_of_second) = app.enrollment(&c).await;
    let response = app
        .initiate(&c.api, &metadata(first), &facemap_of_second)
        .await;
    assert_problem(response, 400, "FACEMAP_ENROLLMENT_MISMATCH").await;
    app.stop().await;
}

#[tokio::test]
async fn a_facemap_from_another_deployment_is_refused() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, _) = app.enrollment(&c).await;
    let contents = FacemapContents {
        enrollment: enrollment.as_uuid(),
        account: c.account.id.as_uuid(),
        serial: 1,
        issued_at_ms: 0,
        model: MODEL.to_owned(),
        templates: vec![vec![0.5; 512]],
    };
    // Same key id, different key: the seal does not verify.
    let other = Keyring::generate();
    let forged = facegate_facemap::seal(&other, &contents).unwrap();
    assert_problem(
        app.initiate(&c.api, &metadata(enrollment), &forged).await,
        400,
        "FACEMAP_TAMPERED",
    )
    .await;
    // A key id this deployment never had.
    let mut rotated = Keyring::generate();
    rotated.rotate().unwrap();
    let foreign = facegate_facemap::seal(&rotated, &contents).unwrap();
    assert_problem(
        app.initiate(&c.api, &metadata(enrollment), &foreign).await,
        400,
        "FACEMAP_UNKNOWN_KEY",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn revoked_and_superseded_facemaps_are_refused() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    assert!(app
        .services
        .revoke_facemap(c.account.id, enrollment)
        .await
        .unwrap());
    assert_problem(
        app.initiate(&c.api, &metadata(enrollment), &facemap).await,
        409,
        "FACEMAP_REVOKED",
    )
    .await;

    // A re-issued facemap (serial 2) supersedes the first one.
    let (renewed, old_facemap) = app
        .enrollment_with(&c.account, true, |e| {
            if let Some(binding) = e.facemap.as_mut() {
                binding.serial = 2;
            }
        })
        .await;
    assert_problem(
        app.initiate(&c.api, &metadata(renewed), &old_facemap).await,
        409,
        "FACEMAP_REVOKED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_facemap_of_an_unsupported_model_is_refused() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, _) = app.enrollment(&c).await;
    let (facemap, _) = app
        .services
        .issue_facemap(
            &c.account,
            enrollment,
            None,
            "someone-elses-model",
            vec![vec![0.1; 128]],
        )
        .unwrap();
    let stored = app
        .fixture_store()
        .enrollment(enrollment)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.facemap.as_ref().map(|b| b.serial), Some(1));
    let response = app.initiate(&c.api, &metadata(enrollment), &facemap).await;
    assert_problem(response, 400, "FACEMAP_UNSUPPORTED_MODEL").await;
    app.stop().await;
}
