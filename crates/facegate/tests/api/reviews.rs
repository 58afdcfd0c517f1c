//! Manual review of ID verifications through the admin API (and the CLI):
//! a rejection with a reason makes the scan `ERROR_NOT_READABLE_ID` /
//! `300 MANUAL_REJECTION`, sends the callback again and stops its facemap;
//! an approval overrides it; every review is audited; refusals are precise.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::scans::{callback_of, capture_passport_and_selfie, issued_facemap, scans, spawn_scans};

async fn review(
    app: &TestApp,
    cred: &Credential,
    reference: &str,
    body: Value,
) -> reqwest::Response {
    app.request(Method::POST, &format!("{}/review", scans(reference)), cred)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The verdict retrieval gives (`/data`'s `document.status`).
async fn retrieved_status(app: &TestApp, admin: &Credential, reference: &str) -> Value {
    let path = format!("{}/data", scans(reference));
    app.call(Method::GET, &path, admin).await.1["document"]["status"].clone()
}

#[tokio::test]
async fn a_rejection_is_sent_again_audited_and_stops_the_facemap_and_an_approval_restores_it() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    let (reference, token) = s
        .initiated(json!({"workflowId": 200, "callbackUrl": receiver.url}))
        .await;
    capture_passport_and_selfie(&s.app, &token).await;
    assert_eq!(
        callback_of(&receiver, 0).await["verificationStatus"],
        "APPROVED_VERIFIED"
    );
    let facemap = issued_facemap(&s.app, &s.acme.admin, &reference, true).await;

    let reason = "The portrait does not look like the selfie";
    let (status, body) = json(
        review(
            &s.app,
            &s.acme.admin,
            &reference,
            json!({"decision": "REJECT", "reason": reason}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verificationStatus"], "ERROR_NOT_READABLE_ID");
    assert_eq!(body["rejectReasonCode"], 300);
    let entry = &body["audit"][0];
    assert_eq!(entry["action"], "SCAN_REJECTED");
    assert_eq!(entry["before"], "APPROVED_VERIFIED");
    assert_eq!(entry["after"], "ERROR_NOT_READABLE_ID 300");
    assert_eq!(entry["reason"], reason);
    assert!(
        entry["actor"].as_str().unwrap().starts_with("credential:"),
        "{entry}"
    );

    // The callback again, with the manual rejection and no facemap link.
    let cb = callback_of(&receiver, 1).await;
    assert_eq!(cb["verificationStatus"], "ERROR_NOT_READABLE_ID");
    let reject: Value = serde_json::from_str(&cb["rejectReason"]).unwrap();
    assert_eq!(reject["rejectReasonCode"], "300");
    assert_eq!(reject["rejectReasonDescription"], "MANUAL_REJECTION");
    assert!(!cb.contains_key("facemap") && !cb.contains_key("identityVerification"));
    // Retrieval says the same.
    assert_eq!(
        retrieved_status(&s.app, &s.acme.admin, &reference).await,
        "ERROR_NOT_READABLE_ID"
    );

    // The rejected enrollment authenticates nobody.
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(&reference), &s.acme.admin)
        .await;
    assert_eq!(status, 200);
    let metadata = json!({"enrollmentTransactionReference": reference});
    assert_problem(
        s.app.initiate(&s.acme.api, &metadata, &facemap).await,
        409,
        "ENROLLMENT_NOT_APPROVED",
    )
    .await;
    // A deleted scan is not reviewed; its trail stays, without the reason.
    let response = review(
        &s.app,
        &s.acme.admin,
        &reference,
        json!({"decision": "APPROVE", "reason": "ok"}),
    )
    .await;
    assert_problem(response, 404, "SCAN_NOT_FOUND").await;
    let (status, trail) = s
        .app
        .call(
            Method::GET,
            &format!("{}/audit", scans(&reference)),
            &s.acme.admin,
        )
        .await;
    assert_eq!(status, 200, "{trail}");
    assert_eq!(trail["audit"][0]["action"], "SCAN_REJECTED");
    assert_eq!(trail["audit"][0]["reason"], Value::Null);
}

#[tokio::test]
async fn an_approval_overrides_a_rejection_and_the_facemap_authenticates_again() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    let (reference, token) = s
        .initiated(json!({"workflowId": 200, "callbackUrl": receiver.url}))
        .await;
    capture_passport_and_selfie(&s.app, &token).await;
    callback_of(&receiver, 0).await;
    let reject = json!({"decision": "REJECT", "reason": "second look"});
    assert_eq!(
        review(&s.app, &s.acme.admin, &reference, reject)
            .await
            .status(),
        200
    );
    let (status, body) = json(
        review(
            &s.app,
            &s.acme.admin,
            &reference,
            json!({"decision": "APPROVE", "reason": "checked against the paper file"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verificationStatus"], "APPROVED_VERIFIED");
    assert_eq!(body["rejectReasonCode"], Value::Null);
    assert_eq!(body["audit"].as_array().unwrap().len(), 2);
    assert_eq!(body["audit"][1]["before"], "ERROR_NOT_READABLE_ID 300");
    let cb = callback_of(&receiver, 2).await;
    assert_eq!(cb["verificationStatus"], "APPROVED_VERIFIED");
    assert!(cb.contains_key("facemap"), "{cb:?}");
    let facemap = issued_facemap(&s.app, &s.acme.admin, &reference, false).await;
    let metadata = json!({"enrollmentTransactionReference": reference});
    let (status, answer) = json(s.app.initiate(&s.acme.api, &metadata, &facemap).await).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn reviews_are_refused_precisely() {
    let s = spawn_scans().await;
    let (pending, _) = s.initiated(json!({"workflowId": 200})).await;
    let ok = json!({"decision": "REJECT", "reason": "why"});
    assert_problem(
        review(&s.app, &s.acme.admin, &pending, ok.clone()).await,
        409,
        "SCAN_NOT_DECIDED",
    )
    .await;
    // Every field at once.
    let response = review(
        &s.app,
        &s.acme.admin,
        &pending,
        json!({"decision": "MAYBE"}),
    )
    .await;
    let problem = assert_problem(response, 400, "VALIDATION_FAILED").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["decision", "reason"], "{problem}");
    let response = review(
        &s.app,
        &s.acme.admin,
        &pending,
        json!({"decision": "REJECT", "reason": "two\nlines"}),
    )
    .await;
    assert_problem(response, 400, "VALIDATION_FAILED").await;
    // The API credential may not review; another account finds nothing.
    assert_problem(
        review(&s.app, &s.acme.api, &pending, ok.clone()).await,
        403,
        "FORBIDDEN_ROLE",
    )
    .await;
    let other = s.app.customer("Other", true).await;
    assert_problem(
        review(&s.app, &other.admin, &pending, ok.clone()).await,
        404,
        "SCAN_NOT_FOUND",
    )
    .await;
    let (status, _) = s
        .app
        .call(
            Method::GET,
            &format!("{}/audit", scans(&pending)),
            &other.admin,
        )
        .await;
    assert_eq!(status, 404);

    // Nothing captured: the user never finished.
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(&pending), &s.acme.admin)
        .await;
    assert_eq!(status, 200);
    let (unfinished, _) = s.initiated(json!({"workflowId": 200})).await;
    s.app.clock.advance(chrono::Duration::days(1));
    let (_, state) = s
        .app
        .call(Method::GET, &scans(&unfinished), &s.acme.admin)
        .await;
    assert_eq!(state["status"], "FAILED", "{state}");
    assert_problem(
        review(&s.app, &s.acme.admin, &unfinished, ok.clone()).await,
        409,
        "SCAN_NOTHING_TO_REVIEW",
    )
    .await;

    // The same verdict twice is no review.
    let (decided, token) = s.initiated(json!({"workflowId": 200})).await;
    capture_passport_and_selfie(&s.app, &token).await;
    let approve = json!({"decision": "APPROVE", "reason": "fine"});
    assert_problem(
        review(&s.app, &s.acme.admin, &decided, approve).await,
        409,
        "REVIEW_UNCHANGED",
    )
    .await;
}

/// Runs the CLI on the server's data directory while the server runs (the
/// test's runtime keeps serving meanwhile).
async fn facegate(app: &TestApp, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--data-dir")
        .arg(&app.config.data_dir)
        .args(database_args(&app.config.data_dir))
        .args(args)
        .env_remove("FACEGATE_CONFIG")
        .output()
        .await
        .unwrap()
}

/// The command line reviews as `cli` and prints the trail as JSON lines.
#[tokio::test]
async fn the_command_line_reviews_and_prints_the_audit_trail() {
    let s = spawn_scans().await;
    let (reference, token) = s.initiated(json!({"workflowId": 200})).await;
    capture_passport_and_selfie(&s.app, &token).await;
    let account = s.acme.account.id.to_string();
    let review = ["scan", "review", "--account", &account, &reference];
    let out = facegate(
        &s.app,
        &[
            &review[..],
            &["--reject", "--reason", "document looks edited"],
        ]
        .concat(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["actor"], "cli");
    assert_eq!(line["after"], "ERROR_NOT_READABLE_ID 300");
    assert_eq!(
        retrieved_status(&s.app, &s.acme.admin, &reference).await,
        "ERROR_NOT_READABLE_ID"
    );
    let out = facegate(
        &s.app,
        &["scan", "audit", "--account", &account, &reference],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trail: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(trail["reason"], "document looks edited");
    // A reason is required.
    let out = facegate(&s.app, &[&review[..], &["--approve"]].concat()).await;
    assert!(!out.status.success());
}
