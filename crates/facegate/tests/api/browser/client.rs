//! The web client as a user meets it: language, the token leaving the
//! address bar, errors shown or redirected, the iframe messages, and (once
//! the capture API is on this branch) the camera and the challenge.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::cdp::{Browser, Launch};
use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(20);

pub fn locale(name: &str) -> Value {
    let path = format!(
        "{}/../api/web/locales/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("web-client-{name}.png"))
}

/// A screenshot the README and the docs show (`docs/screenshots/NAME.png`):
/// every run takes it into the test temp directory; with
/// `FACEGATE_UPDATE_SCREENSHOTS=1` it is written into the docs too, as the
/// OpenAPI document is updated, so the pictures stay those of the client.
pub async fn docs_screenshot(page: &super::cdp::Page<'_>, name: &str) {
    let path = screenshot_path(name);
    page.screenshot(&path).await;
    if std::env::var_os("FACEGATE_UPDATE_SCREENSHOTS").is_some() && path.is_file() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&path, docs.join(format!("{name}.png"))).unwrap();
    }
}

/// Every screenshot the README and the docs name is there.
#[test]
fn the_screenshots_the_docs_show_exist() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts = vec![std::fs::read_to_string(root.join("README.md")).unwrap()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    let mut named = 0;
    for text in &texts {
        for rest in text.split("screenshots/").skip(1) {
            let Some((name, _)) = rest.split_once(".png") else {
                continue;
            };
            named += 1;
            let file = root.join("docs/screenshots").join(format!("{name}.png"));
            assert!(file.is_file(), "{} is named but missing", file.display());
        }
    }
    assert!(named >= 5, "the README shows the journeys: {named}");
}

/// A browser whose fake camera shows Chromium's own moving pattern, and a
/// server on the system clock with scripted scans (frames arrive in real
/// time); `None` (after a SKIPPED line) without Chromium.
pub async fn pattern_camera_and_scripted_app(test: &str) -> Option<(Browser, TestApp)> {
    let browser = Browser::launch(
        test,
        Launch {
            fake_camera: true,
            ..Launch::default()
        },
    )
    .await?;
    let app = spawn_app_with(Options {
        system_clock: true,
        ..Options::scripted_scans()
    })
    .await;
    Some((browser, app))
}

/// A loopback site standing in for the customer: `/error` and `/done`
/// answer a page; `/host?src=URL` embeds URL in an iframe the way SPEC §3
/// says and keeps every message it receives in `window.messages`.
pub async fn customer_site() -> String {
    async fn landing() -> axum::response::Html<&'static str> {
        axum::response::Html("<!doctype html><title>customer</title><p>back at the customer")
    }
    async fn host(
        axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    ) -> axum::response::Html<String> {
        let src = serde_json::to_string(&q["src"]).unwrap();
        axum::response::Html(format!(
            "<!doctype html><title>host</title><script>window.messages = []; \
             addEventListener('message', e => window.messages.push({{origin: e.origin, data: e.data}})); \
             addEventListener('DOMContentLoaded', () => {{ const f = document.createElement('iframe'); \
             f.allow = 'camera;fullscreen'; f.src = {src}; document.body.appendChild(f); }});</script>"
        ))
    }
    let router = axum::Router::new()
        .route("/error", axum::routing::get(landing))
        .route("/done", axum::routing::get(landing))
        .route("/host", axum::routing::get(host));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://localhost:{port}")
}

/// The query of a URL as name → value.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or_default();
    serde_urlencoded::from_str(query).unwrap()
}

const END_SHOWN: &str = "!document.getElementById('panel-end').hidden";

#[tokio::test]
async fn the_page_speaks_german_for_locale_de_and_shows_a_missing_token_as_9200() {
    let Some(browser) = Browser::launch(
        "the_page_speaks_german_for_locale_de",
        Launch {
            lang: Some("en-US".to_owned()),
            ..Launch::default()
        },
    )
    .await
    else {
        return;
    };
    let app = spawn_app().await;
    let de = locale("de");
    let page = browser.new_page().await;
    page.goto(&app.url("/web/v4/app?locale=de")).await;
    page.wait_for(END_SHOWN, WAIT).await;

    assert_eq!(page.eval("document.documentElement.lang").await, "de");
    assert_eq!(page.eval("document.documentElement.dir").await, "ltr");
    assert_eq!(page.eval("document.title").await, de["title"]);
    assert_eq!(
        page.eval("document.getElementById('title').textContent")
            .await,
        de["title"]
    );
    assert_eq!(
        page.eval("document.getElementById('end-title').textContent")
            .await,
        de["errorTitle"]
    );
    assert_eq!(
        page.eval("document.getElementById('end-text').textContent")
            .await,
        de["error9200"]
    );
    assert_eq!(
        page.eval("document.getElementById('end-code').textContent")
            .await,
        "Fehlercode: 9200"
    );
    // Keyboard users land on the message.
    assert_eq!(page.eval("document.activeElement.id").await, "end-title");
    let shot = screenshot_path("de-9200");
    page.screenshot(&shot).await;
    eprintln!("screenshot: {}", shot.display());
    app.stop().await;
}

#[tokio::test]
async fn the_token_leaves_the_address_bar_at_once_and_the_locale_stays() {
    let Some(browser) =
        Browser::launch("the_token_leaves_the_address_bar", Launch::default()).await
    else {
        return;
    };
    let app = spawn_app().await;
    let page = browser.new_page().await;
    page.goto(&app.url("/web/v4/app?locale=fr&authorizationToken=tok_secret_123&utm=x"))
        .await;
    let url = page.url().await;
    assert!(!url.contains("tok_secret_123"), "{url}");
    assert!(!url.contains("authorizationToken"), "{url}");
    assert_eq!(
        page.eval("location.search").await,
        "?locale=fr&utm=x",
        "only the token goes"
    );
    assert_eq!(page.eval("document.documentElement.lang").await, "fr");
    app.stop().await;
}

#[tokio::test]
async fn inside_an_iframe_the_client_posts_its_error_to_the_parent() {
    let Some(browser) = Browser::launch("inside_an_iframe", Launch::default()).await else {
        return;
    };
    let app = spawn_app().await;
    let site = customer_site().await;
    let page = browser.new_page().await;
    let src = app.url("/web/v4/app?locale=en");
    let host = format!(
        "{site}/host?src={}",
        url::form_urlencoded::byte_serialize(src.as_bytes()).collect::<String>()
    );
    page.goto(&host).await;
    let messages = page
        .wait_for("window.messages.length && window.messages", WAIT)
        .await;
    let first = &messages[0];
    assert_eq!(first["origin"], app.base, "{messages}");
    let message: Value = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
    assert_eq!(message["eventType"], 510, "{message}");
    assert_eq!(message["payload"]["value"], "error");
    assert_eq!(message["payload"]["metainfo"]["code"], 9200);
    assert_eq!(message["authorizationToken"], "");
    assert!(message["transactionReference"].is_null());
    let date = message["dateTime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(date).is_ok() && date.ends_with('Z'),
        "{date}"
    );
    app.stop().await;
}

/// With `parentOrigin` set, the client tells its result only to a parent at
/// that origin: the customer site (at the configured origin) hears of the
/// loaded page and of the missing camera; the same site, when the account
/// names another origin, hears nothing. Both times the client then leaves
/// for the error URL on the customer site, which the host page can see: the
/// message is posted before that, so by then it would have arrived.
#[tokio::test]
async fn inside_an_iframe_only_a_parent_at_the_accounts_parent_origin_hears_the_result() {
    let Some(browser) = Browser::launch("only_the_parent_origin", Launch::default()).await else {
        return;
    };
    let app = spawn_app_with(Options::scripted()).await;
    let site = customer_site().await;
    let page = browser.new_page().await;
    let at_error_page = "(() => { try { const f = document.querySelector('iframe'); \
         return !!f && f.contentWindow.location.pathname === '/error'; } catch (e) { return false; } })()";
    for (origin, heard) in [
        (site.as_str(), true),
        ("https://shop.elsewhere.example", false),
    ] {
        let c = app.customer("Framed", true).await;
        app.services
            .update_account(
                c.account.id,
                facegate_core::accounts::AccountChanges {
                    parent_origin: Some(origin.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let (enrollment, facemap) = app.enrollment(&c).await;
        let metadata = json!({
            "enrollmentTransactionReference": enrollment.to_string(),
            "locale": "en",
            "errorUrl": format!("{site}/error"),
        });
        let (status, body) = json(app.initiate(&c.api, &metadata, &facemap).await).await;
        assert_eq!(status, 200, "{body}");
        let redirect = body["redirectUrl"].as_str().unwrap();
        let host = format!(
            "{site}/host?src={}",
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
        page.goto(&host).await;
        page.wait_for(at_error_page, WAIT).await;
        let messages = page.eval("window.messages").await;
        let messages = messages.as_array().unwrap();
        if !heard {
            assert!(messages.is_empty(), "{origin}: {messages:?}");
            continue;
        }
        let values: Vec<Value> = messages
            .iter()
            .map(|m| {
                assert_eq!(m["origin"], app.base, "{m}");
                let message: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
                assert_eq!(
                    message["transactionReference"],
                    body["authenticationTransactionReference"]
                );
                assert!(message["authorizationToken"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()));
                message["payload"].clone()
            })
            .collect();
        assert_eq!(
            values,
            vec![
                json!({ "value": "loaded", "metainfo": {} }),
                json!({ "value": "error", "metainfo": { "code": 9820 } }),
            ],
            "{origin}"
        );
    }
    app.stop().await;
}

/// A transaction whose `errorUrl` and `successUrl` are the customer site,
/// and its redirect URL.
pub async fn transaction(app: &TestApp, site: &str) -> (String, String, Credential) {
    let c = app.customer("Acme", true).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "locale": "en",
        "successUrl": format!("{site}/done"),
        "errorUrl": format!("{site}/error?keep=a%20b"),
    });
    let (reference, redirect) = app.initiate_redirect(&c.api, &metadata, &facemap).await;
    (reference, redirect, c.admin)
}

#[tokio::test]
async fn an_invalid_token_shows_9200_on_the_page() {
    let Some(browser) = Browser::launch("an_invalid_token_shows_9200", Launch::default()).await
    else {
        return;
    };
    let app = spawn_app().await;
    let en = locale("en");
    let page = browser.new_page().await;
    page.goto(&app.url("/web/v4/app?locale=en&authorizationToken=not-a-token"))
        .await;
    page.wait_for(END_SHOWN, WAIT).await;
    assert_eq!(
        page.eval("document.getElementById('end-text').textContent")
            .await,
        en["error9200"]
    );
    assert_eq!(
        page.eval("document.getElementById('end-code').textContent")
            .await,
        "Error code: 9200"
    );
    assert!(page.url().await.starts_with(&app.base));
    app.stop().await;
}

#[tokio::test]
async fn an_unavailable_camera_redirects_to_the_error_url_with_9820() {
    // No fake device: this browser has no camera at all.
    let Some(browser) = Browser::launch("an_unavailable_camera_redirects", Launch::default()).await
    else {
        return;
    };
    let app = spawn_app_with(Options::scripted()).await;
    let site = customer_site().await;
    let (reference, redirect, _) = transaction(&app, &site).await;
    let page = browser.new_page().await;
    page.goto(&redirect).await;
    let prefix = format!("{site}/error?");
    page.wait_for(
        &format!("location.href.startsWith({})", json!(prefix)),
        WAIT,
    )
    .await;
    let url = page.url().await;
    let query = query_of(&url);
    assert_eq!(query["transactionStatus"], "ERROR", "{url}");
    assert_eq!(query["errorCode"], "9820", "{url}");
    assert_eq!(query["transactionReference"], reference, "{url}");
    assert!(
        url.starts_with(&format!("{site}/error?keep=a%20b&")),
        "the customer's own query is kept as it was: {url}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_challenge_runs_from_the_keyboard_and_the_server_answers_it() {
    let Some((browser, app)) =
        pattern_camera_and_scripted_app("the_challenge_runs_from_the_keyboard").await
    else {
        return;
    };
    let site = customer_site().await;
    let (reference, redirect, c_admin) = transaction(&app, &site).await;
    let page = browser.new_page().await;
    page.goto(&redirect).await;
    page.wait_for(super::READY, WAIT).await;
    page.screenshot(&screenshot_path("en-ready")).await;

    // The no-flash option comes before the start button.
    page.press("Tab").await;
    assert_eq!(page.eval("document.activeElement.id").await, "no-flash");
    page.press("Tab").await;
    assert_eq!(page.eval("document.activeElement.id").await, "start");
    page.press("Enter").await;
    page.wait_for(
        "document.getElementById('app').dataset.state === 'challenge'",
        WAIT,
    )
    .await;
    page.screenshot(&screenshot_path("en-challenge")).await;
    // The attempt ends in a retry (the page stays) or a final state (the
    // client goes to the customer site).
    let state = page
        .wait_for(
            &format!(
                "location.href.startsWith({}) ? 'left' : \
                 ['retry', 'redirecting', 'done', 'error'].includes(document.getElementById('app').dataset.state) \
                 && document.getElementById('app').dataset.state",
                json!(site)
            ),
            Duration::from_secs(40),
        )
        .await;
    page.screenshot(&screenshot_path("en-after-attempt")).await;
    // Chromium's synthetic camera pattern is no enrolled live face: the
    // server asks for another try or ends the flow, never with a client
    // error and never PASSED.
    let url = page.url().await;
    assert_ne!(state, "error", "{url}");
    if state == "left" {
        let query = query_of(&url);
        assert!(query.get("errorCode").is_none_or(|c| c == "9836"), "{url}");
    }
    let (_, tx) = app.retrieve(&c_admin, &reference).await;
    assert_ne!(tx["transactionResult"], "PASSED", "{tx}");
    app.stop().await;
}

/// A camera file for Chromium's fake camera (Y4M, 4:2:0, 320×240, one
/// second at 30 fps, grey): luminance `face` inside the oval the page shows
/// (3:4 in the middle of the 4:3 image) and `around` outside it.
fn lit_scene(face: u8, around: u8, out: &std::path::Path) {
    use std::io::Write;
    let (w, h) = (320usize, 240usize);
    // The oval's half axes as shares of the image (app.js, measureLight).
    let (rx, ry) = (0.5 * 0.75 / (4.0 / 3.0), 0.5);
    let mut luma = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let dx = ((x as f64 + 0.5) / w as f64 - 0.5) / rx;
            let dy = ((y as f64 + 0.5) / h as f64 - 0.5) / ry;
            let inside = dx * dx + dy * dy <= 1.0;
            luma.push(if inside { face } else { around });
        }
    }
    let chroma = vec![128u8; w * h / 2];
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    writeln!(file, "YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg").unwrap();
    for _ in 0..30 {
        file.write_all(b"FRAME\n").unwrap();
        file.write_all(&luma).unwrap();
        file.write_all(&chroma).unwrap();
    }
    file.flush().unwrap();
}

/// The live hint before the attempt compares the face with what surrounds
/// it: a dark face against a bright window is told to face the light (not
/// to find a brighter place), an evenly lit one that the light is good.
#[tokio::test]
async fn a_face_dark_against_bright_surroundings_is_told_to_face_the_light() {
    let test = "a_face_dark_against_bright_surroundings";
    let app = spawn_app_with(Options::scripted()).await;
    let site = customer_site().await;
    let en = locale("en");
    let dir = tempfile::tempdir().unwrap();
    for (name, face, around, key, level) in [
        ("backlit", 40, 225, "hintLightBacklight", "warn"),
        ("even", 130, 140, "hintLightOk", ""),
    ] {
        let camera = dir.path().join(format!("{name}.y4m"));
        lit_scene(face, around, &camera);
        // One browser at a time: this one is dropped before the next.
        let Some(browser) = Browser::launch(
            test,
            Launch {
                fake_camera: true,
                camera_file: Some(camera),
                ..Launch::default()
            },
        )
        .await
        else {
            return;
        };
        let (_, redirect, _) = transaction(&app, &site).await;
        let page = browser.new_page().await;
        page.goto(&redirect).await;
        page.wait_for(super::READY, WAIT).await;
        let shown = format!(
            "document.getElementById('hint').textContent === {} && \
             (document.getElementById('hint').getAttribute('data-level') || '') === {}",
            json!(en[key]),
            json!(level)
        );
        page.wait_for(&shown, WAIT).await;
        page.screenshot(&screenshot_path(&format!("en-light-{name}")))
            .await;
    }
    app.stop().await;
}
