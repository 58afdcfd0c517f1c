//! The OpenAPI document the server serves: the committed `docs/openapi.json`
//! byte for byte, and every operation it names is one the server routes.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    let committed = std::fs::read_to_string(COMMITTED).unwrap();
    assert!(
        served == committed,
        "the served document differs from docs/openapi.json; regenerate it with \
         FACEGATE_UPDATE_OPENAPI=1 cargo test -p facegate-api openapi"
    );
    app.stop().await;
}

/// A concrete path for a documented template.
fn concrete(template: &str) -> String {
    template
        .replace("{reference}", &uuid::Uuid::new_v4().to_string())
        .replace("{attempt}", &uuid::Uuid::new_v4().to_string())
        .replace("{n}", "1")
        .replace("{file}", "app.js")
        .replace("{side}", "front")
        .replace("{classifier}", "front")
}

/// Each documented operation reaches a handler (it is not answered by the
/// router's `NOT_FOUND` or `METHOD_NOT_ALLOWED` fallbacks), and each other
/// method on a documented path is `METHOD_NOT_ALLOWED`: the server routes
/// exactly what the document names at these paths. The same holds with a
/// trailing slash (the guides write some paths with one).
#[tokio::test]
async fn every_documented_operation_is_served_and_no_other_method() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 33, "{:?}", paths.keys());
    let slashed = paths.iter().map(|(t, item)| (format!("{t}/"), item));
    for (template, item) in paths
        .iter()
        .map(|(t, item)| (t.clone(), item))
        .chain(slashed)
    {
        let path = concrete(&template);
        for method in [Method::GET, Method::POST, Method::DELETE, Method::PUT] {
            let documented = item.get(method.as_str().to_lowercase()).is_some();
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let code = match response.headers().get("content-type") {
                Some(t) if t == "application/problem+json" => {
                    response.json::<Value>().await.unwrap()["code"].clone()
                }
                _ => Value::Null,
            };
            let fallback = code == "NOT_FOUND" || code == "METHOD_NOT_ALLOWED";
            if documented {
                assert!(!fallback, "{method} {template}: {status} {code}");
            } else {
                assert_eq!(
                    (status.as_u16(), code.as_str()),
                    (405, Some("METHOD_NOT_ALLOWED")),
                    "{method} {template}"
                );
            }
        }
    }
    app.stop().await;
}
