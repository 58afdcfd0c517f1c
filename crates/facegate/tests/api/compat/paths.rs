//! The guides' paths as they write them: with a trailing slash.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_with_acme_on, Options, INITIATE_ALIASES};

/// The guides write `POST /api/v4/initiateAuthentication/` and
/// `DELETE …/authentications/{ref}/` with a trailing slash: each path is
/// served with and without it, by the same route.
#[tokio::test]
async fn the_guides_paths_with_a_trailing_slash_are_served() {
    let (app, acme) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&acme).await;
    let metadata = json!({ "enrollmentTransactionReference": enrollment.to_string() });
    let text = metadata.to_string();
    for path in INITIATE_ALIASES {
        let slashed = format!("{path}/");
        let (status, body) =
            json(app.initiate_at(&slashed, &acme.api, &text, &facemap).await).await;
        assert_eq!(status, 200, "{slashed}: {body}");
        assert!(
            body["authenticationTransactionReference"].is_string(),
            "{slashed}: {body}"
        );
    }
    let reference = app.initiate_ok(&acme.api, &metadata, &facemap).await;
    let one = format!("/api/netverify/v2/authentications/{reference}/");
    let (status, body) = app.call(Method::GET, &one, &acme.admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["transactionReference"], reference.as_str());
    let (status, body) = app.call(Method::DELETE, &one, &acme.admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deleted"], true);
    let (status, _) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(status, 404, "deleted through the slashed path");
    // The slash is the only thing forgiven: another path is still unknown.
    let unknown = "/api/v4/initiateAuthentication//x/";
    let (status, body) = app.call(Method::POST, unknown, &acme.api).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "NOT_FOUND");
    app.stop().await;
}
