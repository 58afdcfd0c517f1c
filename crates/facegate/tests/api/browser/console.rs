//! The operator console in headless Chromium: console users made with the
//! CLI sign in, find an ID verification the server rejected automatically
//! (`live_person_b`'s passport with `live_person_a`'s selfie, on the real
//! models) by filter, review it and reject it with a reason; the callback
//! is sent again with `300 MANUAL_REJECTION` and the audit entry shows.
//! Another account's user sees none of it; a form without the CSRF token,
//! an idle session and wrong passwords are refused.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::cdp::{Browser, Launch, Page};
use super::client::docs_screenshot;
use crate::console::{console_user, PASSWORD};
use crate::helpers::*;
use crate::id_verification::{capture_scan, Kit, PERSON_A, PERSON_B};
use crate::journey::neutral_challenge;
use crate::scans::initiate_scan;

const WAIT: Duration = Duration::from_secs(30);

/// Fills the sign-in form and submits it.
async fn sign_in(page: &Page<'_>, app: &TestApp, username: &str, password: &str) {
    page.goto(&app.url("/console")).await;
    page.wait_for("location.pathname === '/console/login'", WAIT)
        .await;
    assert_named_and_keyboard_reachable(page).await;
    // From the keyboard: the name, the password, the code, then sign in.
    page.eval("document.getElementById('username').focus()")
        .await;
    for next in ["password", "code"] {
        page.press("Tab").await;
        assert_eq!(page.eval("document.activeElement.id").await, next);
    }
    page.eval(&format!(
        "document.getElementById('username').value = {}; \
         document.getElementById('password').value = {};",
        json!(username),
        json!(password)
    ))
    .await;
    submit_and_wait(page, "button[type=submit]").await;
}

/// Clicks `selector` and waits for the next page to have loaded (the
/// current document is marked, the next one is not).
async fn submit_and_wait(page: &Page<'_>, selector: &str) {
    page.eval("window.leaving = true").await;
    page.click(selector).await;
    page.wait_for(
        "!window.leaving && document.readyState === 'complete'",
        WAIT,
    )
    .await;
}

/// Every control on the page has an accessible name and none is taken out
/// of the keyboard order; the page has its language and one `h1`.
async fn assert_named_and_keyboard_reachable(page: &Page<'_>) {
    assert_eq!(
        page.eval(super::enrollment::UNNAMED_CONTROLS).await,
        json!([])
    );
    let unreachable = page
        .eval("[...document.querySelectorAll('a, button, input, select')].filter(e => e.tabIndex < 0 && e.type !== 'hidden').length")
        .await;
    assert_eq!(unreachable, 0);
    assert_eq!(page.eval("document.documentElement.lang").await, "en");
    assert_eq!(page.eval("document.querySelectorAll('h1').length").await, 1);
}

fn text(selector: &str) -> String {
    format!(
        "(document.querySelector({}) || {{textContent: ''}}).textContent",
        json!(selector)
    )
}

#[tokio::test]
async fn a_reviewer_finds_an_automatic_rejection_rejects_it_by_hand_and_nobody_else_sees_it() {
    let Some(kit) = Kit::load("console") else {
        return;
    };
    let Some(browser) = Browser::launch("console", Launch::default()).await else {
        return;
    };
    let app = spawn_app_with(Options {
        fixed_challenge: Some(neutral_challenge()),
        allow_loopback_callbacks: true,
        ..Options::default()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    let other = app.customer("Other", true).await;
    let receiver = Receiver::start(0).await;

    // The automatic rejection: another person's passport.
    let person_a = kit.recording(PERSON_A);
    let person_b = kit.recording(PERSON_B);
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let passport = kit.passport_of(&person_b[150], 13, today);
    let extra = json!({"customerInternalReference": "console-case-7", "callbackUrl": receiver.url});
    let (reference, token) = initiate_scan(&app, &acme.api, extra).await;
    capture_scan(&app, &token, passport.jpeg, &person_a).await;
    eventually("the first callback", || async { receiver.count() > 0 }).await;
    let first = form(&receiver.all()[0].body);
    assert_eq!(first["verificationStatus"], "DENIED_FRAUD", "{first:?}");

    console_user(&app, &acme.account.id.to_string(), "ana@acme.example", &[]).await;
    console_user(
        &app,
        &other.account.id.to_string(),
        "olaf@other.example",
        &[],
    )
    .await;

    // Sign in, filter, open.
    let page = browser.new_page().await;
    sign_in(&page, &app, "ana@acme.example", PASSWORD).await;
    assert_eq!(page.eval("location.pathname").await, "/console/scans");
    page.eval(
        "document.getElementById('status').value = 'DENIED_FRAUD'; \
               document.getElementById('reference').value = 'console-case-7';",
    )
    .await;
    submit_and_wait(&page, "form.filters button").await;
    let rows = page
        .eval("document.querySelectorAll('#scans tbody tr').length")
        .await;
    assert_eq!(rows, 1);
    assert_named_and_keyboard_reachable(&page).await;
    docs_screenshot(&page, "console-list").await;
    submit_and_wait(&page, &format!("a[href='/console/scans/{reference}']")).await;
    let facts = page.eval(&text("#facts")).await;
    assert!(
        facts
            .as_str()
            .unwrap()
            .contains("DENIED_FRAUD (107 PHOTO_MISMATCH)"),
        "{facts}"
    );
    // The images load under the session.
    page.wait_for(
        "[...document.images].length >= 2 && [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        WAIT,
    )
    .await;
    assert!(page
        .eval(&text("#evidence"))
        .await
        .as_str()
        .unwrap()
        .contains("threshold"));

    assert_named_and_keyboard_reachable(&page).await;
    // Reject with a reason.
    page.click("#reject").await;
    page.eval("document.getElementById('reason').value = 'Portrait and selfie are two people'")
        .await;
    submit_and_wait(&page, "form.review button").await;
    let audit = page.eval(&text("#audit")).await;
    let audit = audit.as_str().unwrap();
    for part in [
        "console:ana@acme.example",
        "SCAN_REJECTED",
        "DENIED_FRAUD 107 → ERROR_NOT_READABLE_ID 300",
        "Portrait and selfie are two people",
    ] {
        assert!(audit.contains(part), "{part}: {audit}");
    }
    docs_screenshot(&page, "console-detail").await;
    eventually("the callback sent again", || async { receiver.count() > 1 }).await;
    let again = form(&receiver.all()[1].body);
    assert_eq!(again["verificationStatus"], "ERROR_NOT_READABLE_ID");
    let reject: Value = serde_json::from_str(&again["rejectReason"]).unwrap();
    assert_eq!(reject["rejectReasonCode"], "300");
    assert_eq!(reject["rejectReasonDescription"], "MANUAL_REJECTION");

    // A form without the session's CSRF token is refused (the page's own
    // policy allows no script requests: the form itself, stripped of it).
    page.eval(
        "document.querySelector('form.review input[name=csrf]').remove(); \
         document.getElementById('approve').checked = true; \
         document.getElementById('reason').value = 'forged'; \
         document.querySelector('form.review').submit();",
    )
    .await;
    page.wait_for("document.title.startsWith('Refused')", WAIT)
        .await;
    assert!(page
        .eval(&text(".error"))
        .await
        .as_str()
        .unwrap()
        .contains("CSRF_TOKEN_INVALID"));
    assert_eq!(receiver.count(), 2, "no callback for a refused form");
    // The detail shows both callbacks and their deliveries.
    page.goto(&app.url(&format!("/console/scans/{reference}")))
        .await;
    let callbacks = page.eval(&text("#callbacks tbody")).await;
    let callbacks = callbacks.as_str().unwrap();
    assert_eq!(callbacks.matches("DELIVERED#1").count(), 2, "{callbacks}");

    // Sign out; the other account's user sees nothing of Acme's.
    submit_and_wait(&page, "nav button").await;
    assert_eq!(page.eval("location.pathname").await, "/console/login");
    assert!(page
        .eval(&text(".notice"))
        .await
        .as_str()
        .unwrap()
        .contains("signed out"));
    sign_in(&page, &app, "olaf@other.example", PASSWORD).await;
    assert_eq!(page.eval("!!document.getElementById('empty')").await, true);
    for path in [
        format!("/console/scans/{reference}"),
        format!("/console/scans/{reference}/images/front"),
    ] {
        page.goto(&app.url(&path)).await;
        assert_eq!(
            page.eval("document.title").await,
            "Not Found · Facegate console"
        );
        assert!(page
            .eval(&text(".error"))
            .await
            .as_str()
            .unwrap()
            .contains("No such ID verification"));
    }

    // An idle session ends: the next page asks to sign in again.
    app.clock.advance(chrono::Duration::minutes(16));
    page.goto(&app.url("/console/scans")).await;
    page.wait_for("location.pathname === '/console/login'", WAIT)
        .await;
    assert!(page
        .eval(&text(".notice"))
        .await
        .as_str()
        .unwrap()
        .contains("session has ended"));

    // Five wrong passwords: the sixth try waits, even with the right one.
    for _ in 0..5 {
        sign_in(&page, &app, "ana@acme.example", "not the password at all").await;
        assert!(page
            .eval(&text(".error"))
            .await
            .as_str()
            .unwrap()
            .contains("Wrong user name or password"));
    }
    sign_in(&page, &app, "ana@acme.example", PASSWORD).await;
    assert!(page
        .eval(&text(".error"))
        .await
        .as_str()
        .unwrap()
        .contains("Too many failed sign-ins"));
    assert_eq!(page.eval("location.pathname").await, "/console/login");
    app.stop().await;
}
