//! Failure lockout (NIST SP 800-63B): a run of FAILED authentications of one
//! enrollment locks its initiations for a delay that doubles per further
//! failure; a PASSED one ends the run.

use chrono::Duration;
use facegate_domain::Evidence;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app_with, Options};
use crate::scripted::{authenticate, ScriptedEngine};

#[tokio::test]
async fn five_failed_authentications_lock_the_enrollment_with_a_doubling_delay() {
    let engine = ScriptedEngine::new(Evidence::LiveNoMatch);
    let app = spawn_app_with(Options {
        engine: Some(std::sync::Arc::new(engine.clone())),
        ..Options::scripted()
    })
    .await;
    let c = app.customer("Acme", true).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let locked_for = |expected: u64| {
        let (app, c, metadata, facemap) = (&app, &c, &metadata, &facemap);
        async move {
            let response = app.initiate(&c.api, metadata, facemap).await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_problem(response, 429, "ENROLLMENT_LOCKED").await;
            assert_eq!(retry_after.as_deref(), Some(expected.to_string().as_str()));
        }
    };

    let outcome = |(_, done): (String, serde_json::Value)| done["outcome"].clone();
    let mut failed = Vec::new();
    for _ in 0..5 {
        let (reference, done) = authenticate(&app, &c.api, &metadata, &facemap).await;
        assert_eq!(done["outcome"], "FAILED", "{done}");
        failed.push(reference);
    }
    locked_for(60).await;
    // Deleting the failed transactions does not unlock the enrollment.
    for reference in &failed {
        assert_eq!(app.delete(&c.admin, reference).await.0, 200);
    }
    locked_for(60).await;

    // Another enrollment of the account is not locked.
    let (other, other_facemap) = app.enrollment(&c).await;
    let other_metadata = json!({ "enrollmentTransactionReference": other.to_string() });
    assert_eq!(
        outcome(authenticate(&app, &c.api, &other_metadata, &other_facemap).await),
        "FAILED"
    );

    app.advance(Duration::seconds(59));
    locked_for(1).await;
    app.advance(Duration::seconds(1));
    // One more try once the delay is over; its failure doubles the delay.
    assert_eq!(
        outcome(authenticate(&app, &c.api, &metadata, &facemap).await),
        "FAILED"
    );
    locked_for(120).await;
    app.advance(Duration::seconds(120));

    // A PASSED authentication ends the run: one failure no longer locks.
    engine.set(Evidence::LiveMatch);
    assert_eq!(
        outcome(authenticate(&app, &c.api, &metadata, &facemap).await),
        "PASSED"
    );
    engine.set(Evidence::LiveNoMatch);
    assert_eq!(
        outcome(authenticate(&app, &c.api, &metadata, &facemap).await),
        "FAILED"
    );
    let reference = app.initiate_ok(&c.api, &metadata, &facemap).await;
    assert!(!reference.is_empty());
    app.stop().await;
}
