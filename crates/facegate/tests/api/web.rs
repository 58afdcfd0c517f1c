//! The web client's page and assets over HTTP: types, security headers,
//! caching, and what the script must never do. (Its behaviour in a real
//! browser is in `browser/`.)

use super::helpers::*;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; base-uri 'none'; \
form-action 'none'; object-src 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// Asset paths the server does not serve: unknown, wrongly cased, escaping
/// the folder, or not an asset.
const UNKNOWN_ASSETS: [&str; 6] = [
    "/web/v4/assets/nope.js",
    "/web/v4/assets/xx.json",
    "/web/v4/assets/DE.json",
    "/web/v4/assets/..%2Fapp.html",
    "/web/v4/assets/app.html",
    "/web/v4/assets/locales%2Fde.json",
];

/// The browser storage a token must never be put in.
/// Storage shared beyond the tab or kept after it: never used. The tab's
/// own `sessionStorage` keeps the authorization token for a reload.
const BROWSER_STORAGE: [&str; 3] = ["localStorage", "document.cookie", "indexedDB"];

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn assert_security_headers(response: &reqwest::Response) {
    assert_eq!(header(response, "content-security-policy"), CSP);
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    let permissions = header(response, "permissions-policy");
    assert!(
        permissions.split(", ").any(|p| p == "camera=(self)"),
        "{permissions}"
    );
    assert!(
        header(response, "x-frame-options").is_empty(),
        "customers embed the page in an iframe"
    );
}

#[tokio::test]
async fn the_page_is_html_with_a_strict_policy_and_is_never_cached() {
    let app = spawn_app().await;
    // A browser following redirectUrl sends neither our Accept nor a
    // product User-Agent: the page needs neither, nor a token server-side.
    let response = reqwest::get(app.url("/web/v4/app?locale=de&authorizationToken=tok"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_security_headers(&response);
    let body = response.text().await.unwrap();
    assert!(body.contains("<html lang=\"de\" dir=\"ltr\">"), "{body}");
    assert!(body.contains("<title>Gesichtsauthentifizierung</title>"));
    assert!(body.contains("src=\"/web/v4/assets/app.js\""));
    assert!(body.contains("href=\"/web/v4/assets/app.css\""));
    assert!(!body.contains("tok"), "the page never echoes the token");
    app.stop().await;
}

#[tokio::test]
async fn the_page_reads_the_locale_like_the_api_and_falls_back_to_english() {
    let app = spawn_app().await;
    for (query, lang) in [
        ("", "en"),
        ("?locale=en_gb", "en-GB"),
        ("?locale=ZH-hk", "zh-HK"),
        ("?locale=de-CH", "de"),
        ("?locale=xx", "en"),
        ("?locale=%ZZ", "en"),
    ] {
        let body = app.text(&format!("/web/v4/app{query}")).await;
        let html = format!("<html lang=\"{lang}\" dir=\"ltr\">");
        assert!(body.contains(&html), "{query}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_assets_have_their_types_and_are_revalidated_by_etag() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("en.json", "application/json"),
        ("de.json", "application/json"),
        ("en-GB.json", "application/json"),
        ("zh-HK.json", "application/json"),
    ] {
        let path = format!("/web/v4/assets/{file}");
        let response = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(header(&response, "content-type"), content_type, "{file}");
        assert_eq!(header(&response, "cache-control"), "public, no-cache");
        assert_eq!(
            header(&response, "cross-origin-resource-policy"),
            "same-origin"
        );
        assert_security_headers(&response);
        let etag = header(&response, "etag");
        assert!(etag.starts_with('"') && etag.len() > 4, "{file}: {etag}");
        let body = response.text().await.unwrap();
        if file.ends_with(".json") {
            let strings: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&body).unwrap();
            assert!(strings["title"].is_string());
        }

        let again = client
            .get(app.url(&path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{file}");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.text().await.unwrap().is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_asset_is_a_404_problem() {
    let app = spawn_app().await;
    for path in UNKNOWN_ASSETS {
        let response = app.get(path).await;
        assert_problem(response, 404, "NOT_FOUND").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_served_script_keeps_tokens_out_of_shared_storage_and_the_url() {
    let app = spawn_app().await;
    let script = app.text("/web/v4/assets/app.js").await;
    for forbidden in BROWSER_STORAGE {
        assert!(!script.contains(forbidden), "app.js uses {forbidden}");
    }
    // The authorization token alone waits in the tab's session storage.
    assert!(script.contains("s.setItem(TOKEN_KEY, authorizationToken)"));
    assert_eq!(script.matches("setItem(").count(), 1);
    // The token is dropped from the address bar, not put back into it.
    assert!(script.contains("history.replaceState"));
    assert!(script.contains("query.delete('authorizationToken')"));
    app.stop().await;
}
