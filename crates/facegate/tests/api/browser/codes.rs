//! The web client's error codes in the browser, with the meanings of
//! Jumio's guide (`docs/capture-protocol.md` §6): a camera that stops
//! during the capture is 9820 (camera unavailable); the 3 attempts used up
//! without a judged capture are 9821 (the capture process failed after 3
//! attempts); three judged and unusable captures are 9836 (no acceptable
//! submission in 3 attempts). The client runs in an iframe of the customer
//! site, so that each test sees both the error redirect and the message to
//! the framing page. The face engine is scripted: what it would find does
//! not depend on the fake camera's picture.

use std::sync::Arc;
use std::time::Duration;

use facegate_domain::{Challenge, Evidence};
use serde_json::{json, Value};

use super::cdp::{Browser, Launch, Page};
use super::client::{customer_site, locale, query_of, screenshot_path, transaction};
use crate::capture::{authorization_token, Capture};
use crate::helpers::*;
use crate::scripted::ScriptedEngine;

use super::READY;

const WAIT: Duration = Duration::from_secs(30);
const CHALLENGE: &str = "document.getElementById('app').dataset.state === 'challenge'";

/// A server on the system clock (frames arrive in real time) whose attempts
/// get a neutral challenge of `ms` and whose engine finds `evidence` in
/// every attempt that is finished.
async fn app_finding(evidence: Evidence, ms: u32, configure: Option<Configure>) -> TestApp {
    spawn_app_with(Options {
        system_clock: true,
        fixed_challenge: Some(Challenge::with_timeline(ms, Vec::new(), Vec::new(), ms)),
        engine: Some(Arc::new(ScriptedEngine::new(evidence))),
        configure,
        ..Options::scripted()
    })
    .await
}

/// The customer site's host page, framing the client at `redirect`.
async fn host_page<'b>(browser: &'b Browser, site: &str, redirect: &str) -> Page<'b> {
    let host = browser.new_page().await;
    host.goto(&format!(
        "{site}/host?src={}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    ))
    .await;
    host
}

/// The host page framing the client at `redirect`, and the client's frame
/// once its camera is ready.
async fn framed_and_ready<'b>(
    browser: &'b Browser,
    app: &TestApp,
    site: &str,
    redirect: &str,
) -> (Page<'b>, Page<'b>) {
    let host = host_page(browser, site, redirect).await;
    let client = browser.frame(&app.url("/web/v4/app"), WAIT).await;
    client.wait_for(READY, WAIT).await;
    (host, client)
}

/// Waits until the framed client has left for the customer's error page;
/// answers that page's address and the payloads of the messages the host
/// page received, each checked to name `reference`.
async fn error_landing(host: &Page<'_>, reference: &str) -> (String, Vec<Value>) {
    let url = host
        .wait_for(
            "(() => { try { const w = document.querySelector('iframe').contentWindow; \
             return w.location.pathname === '/error' && w.location.href; } \
             catch (e) { return false; } })()",
            WAIT,
        )
        .await;
    let messages = host.eval("window.messages").await;
    let payloads = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let message: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
            assert_eq!(message["eventType"], 510, "{message}");
            assert_eq!(message["transactionReference"], reference, "{message}");
            message["payload"].clone()
        })
        .collect();
    (url.as_str().unwrap().to_owned(), payloads)
}

/// Checks the error redirect and the messages: `loaded`, then the error
/// with `code`.
fn assert_error(url: &str, payloads: &[Value], reference: &str, code: u16) {
    let query = query_of(url);
    assert_eq!(query["transactionStatus"], "ERROR", "{url}");
    assert_eq!(query["transactionReference"], reference, "{url}");
    assert_eq!(query["errorCode"], code.to_string(), "{url}");
    assert_eq!(
        query["keep"], "a b",
        "the customer's own query stays: {url}"
    );
    assert_eq!(
        payloads,
        [
            json!({ "value": "loaded", "metainfo": {} }),
            json!({ "value": "error", "metainfo": { "code": code } }),
        ],
        "{url}"
    );
}

/// Starts the attempt, and the retries while `left` attempts are left
/// (each time after the retry screen tells so); answers the guidance texts
/// shown on each retry screen.
async fn attempt_until_none_left(client: &Page<'_>, left: &[u8]) -> Vec<String> {
    let en = locale("en");
    client
        .eval("document.getElementById('start').click()")
        .await;
    let mut shown = Vec::new();
    for n in left {
        let text = en["attemptsLeft"]
            .as_str()
            .unwrap()
            .replace("{n}", &n.to_string());
        client
            .wait_for(
                &format!(
                    "document.getElementById('app').dataset.state === 'retry' && \
                     document.getElementById('attempts-left').textContent === {}",
                    json!(text)
                ),
                WAIT,
            )
            .await;
        let guidance = client
            .eval("document.getElementById('guidance').textContent")
            .await;
        shown.push(guidance.as_str().unwrap().to_owned());
        client
            .eval("document.getElementById('retry').click()")
            .await;
    }
    shown
}

/// The camera stops in two ways: its track ends (unplugged, taken by
/// another application; `stop()` fires no `ended` event, so the client must
/// notice the track's state itself), or the track stays live but no new
/// frame comes (the preview shows none for 3 s).
#[tokio::test]
async fn a_camera_that_stops_during_the_capture_ends_with_9820() {
    let Some(browser) = Browser::launch(
        "a_camera_that_stops_during_the_capture",
        Launch {
            fake_camera: true,
            ..Launch::default()
        },
    )
    .await
    else {
        return;
    };
    // The engine would pass any finished attempt: a client that went on
    // capturing from the stopped camera would end at the success URL.
    let app = app_finding(Evidence::LiveMatch, 10_000, None).await;
    let site = customer_site().await;
    for (how, stop) in [
        (
            "track-ended",
            "document.getElementById('preview').srcObject.getVideoTracks()[0].stop()",
        ),
        ("no-frames", "document.getElementById('preview').pause()"),
    ] {
        let (reference, redirect, admin) = transaction(&app, &site).await;
        let (host, client) = framed_and_ready(&browser, &app, &site, &redirect).await;
        client
            .eval("document.getElementById('start').click()")
            .await;
        client.wait_for(CHALLENGE, WAIT).await;
        client.eval(stop).await;
        let (url, payloads) = error_landing(&host, &reference).await;
        host.screenshot(&screenshot_path(&format!("camera-stopped-{how}-9820")))
            .await;
        assert_error(&url, &payloads, &reference, 9820);
        // Nothing was judged.
        assert_eq!(app.result(&admin, &reference).await, "STARTED", "{how}");
    }
    app.stop().await;
}

#[tokio::test]
async fn three_attempts_of_which_no_frame_reaches_the_server_end_with_9821() {
    let Some(browser) = Browser::launch(
        "three_attempts_of_which_no_frame_reaches_the_server",
        Launch {
            fake_camera: true,
            ..Launch::default()
        },
    )
    .await
    else {
        return;
    };
    // Frames over 1 KiB are refused: every camera frame is larger, and the
    // client drops each before upload. The engine would pass any finished
    // attempt.
    let app = app_finding(
        Evidence::LiveMatch,
        2_000,
        Some(Box::new(|config| config.capture.max_frame_bytes = 1024)),
    )
    .await;
    let site = customer_site().await;
    let (reference, redirect, admin) = transaction(&app, &site).await;
    let (host, client) = framed_and_ready(&browser, &app, &site, &redirect).await;
    let shown = attempt_until_none_left(&client, &[2, 1]).await;
    let too_slow = locale("en")["guidanceCameraTooSlow"].clone();
    assert_eq!(shown, [too_slow.clone(), too_slow], "the retry screens");
    let (url, payloads) = error_landing(&host, &reference).await;
    assert_error(&url, &payloads, &reference, 9821);
    // No attempt was finished (none judged), and all three are used.
    assert_eq!(app.result(&admin, &reference).await, "STARTED");
    let (status, session) = Capture::open(&app, &authorization_token(&redirect))
        .await
        .status()
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["attemptsUsed"], 3, "{session}");
    app.stop().await;
}

#[tokio::test]
async fn a_transaction_whose_attempts_were_all_left_unfinished_ends_with_9821_before_the_camera() {
    // No camera at all: a client that asked for one would end with 9820.
    let Some(browser) = Browser::launch("attempts_all_left_unfinished", Launch::default()).await
    else {
        return;
    };
    let app = app_finding(Evidence::LiveMatch, 2_000, None).await;
    let site = customer_site().await;
    let (reference, redirect, admin) = transaction(&app, &site).await;
    // The user left (or reloaded the page) during each of the 3 attempts.
    let capture = Capture::open(&app, &authorization_token(&redirect)).await;
    for _ in 0..3 {
        capture.start().await;
    }
    let host = host_page(&browser, &site, &redirect).await;
    let (url, payloads) = error_landing(&host, &reference).await;
    assert_error(&url, &payloads, &reference, 9821);
    assert_eq!(app.result(&admin, &reference).await, "STARTED");
    app.stop().await;
}

#[tokio::test]
async fn three_judged_unusable_captures_end_with_9836() {
    let Some(browser) = Browser::launch(
        "three_judged_unusable_captures",
        Launch {
            fake_camera: true,
            ..Launch::default()
        },
    )
    .await
    else {
        return;
    };
    let app = app_finding(Evidence::Unusable, 2_000, None).await;
    let site = customer_site().await;
    let (reference, redirect, admin) = transaction(&app, &site).await;
    let (host, client) = framed_and_ready(&browser, &app, &site, &redirect).await;
    attempt_until_none_left(&client, &[2, 1]).await;
    let (url, payloads) = error_landing(&host, &reference).await;
    assert_error(&url, &payloads, &reference, 9836);
    assert_eq!(app.result(&admin, &reference).await, "INVALID");
    app.stop().await;
}
