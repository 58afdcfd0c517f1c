//! Guessing secrets is throttled without locking out a working integration.

use super::helpers::*;

#[tokio::test]
async fn wrong_secrets_are_throttled_but_a_verified_secret_keeps_working() {
    let app = spawn_app().await;
    let c = app.customer("Acme", true).await;
    let path = format!("/api/netverify/v2/authentications/{}", uuid::Uuid::new_v4());
    let get = |cred: Credential| app.request(reqwest::Method::GET, &path, &cred).send();
    // The integration's secret is verified once (and cached).
    assert_eq!(get(c.admin.clone()).await.unwrap().status(), 404);
    let wrong = Credential {
        token: c.admin.token.clone(),
        secret: "guess".into(),
    };
    for attempt in 1..=10 {
        assert_eq!(
            get(wrong.clone()).await.unwrap().status(),
            401,
            "attempt {attempt}"
        );
    }
    let response = get(wrong.clone()).await.unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(response, 429, "RATE_LIMITED").await;
    assert_eq!(
        get(c.admin.clone()).await.unwrap().status(),
        404,
        "the verified secret still works"
    );
    // Other tokens are not affected.
    assert_eq!(get(c.api.clone()).await.unwrap().status(), 403);
    app.stop().await;
}
