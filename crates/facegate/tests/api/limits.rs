//! Per-account budgets: one account's initiations cannot use up the server
//! for the others.

use serde_json::json;

use super::helpers::*;

#[tokio::test]
async fn initiations_beyond_the_account_limit_answer_429_with_retry_after_and_spare_other_accounts()
{
    let app = spawn_app_with(Options {
        configure: Some(Box::new(|c| c.rate_limits.initiations_per_minute = 3)),
        ..Options::scripted()
    })
    .await;
    let busy = app.customer("Busy", true).await;
    let calm = app.customer("Calm", true).await;
    let (enrollment, facemap) = app.enrollment(&busy).await;
    // The enrollment's scan was an initiation too: 3 a minute refill one
    // every 20 s.
    app.advance(chrono::Duration::seconds(20));
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    for _ in 0..3 {
        app.initiate_ok(&busy.api, &metadata, &facemap).await;
    }
    let refused = app.initiate(&busy.api, &metadata, &facemap).await;
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("20".to_owned())
    );
    assert_problem(refused, 429, "INITIATION_RATE_LIMITED").await;

    let (other, other_facemap) = app.enrollment(&calm).await;
    app.initiate_ok(
        &calm.api,
        &json!({ "enrollmentTransactionReference": other.to_string() }),
        &other_facemap,
    )
    .await;

    app.advance(chrono::Duration::seconds(20));
    app.initiate_ok(&busy.api, &metadata, &facemap).await;
    app.stop().await;
}
