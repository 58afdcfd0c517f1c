//! The console's sign-in over plain HTTP: the second factor (TOTP) of a
//! user made with `--totp`, codes never accepted twice, the cookie's
//! attributes, and sign-in from another site refused. The whole console in
//! a browser is `browser::console`.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// RFC 4648 base32 (no padding) back to bytes.
fn unbase32(text: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// `facegate console-user create --totp --json`; answers its output.
async fn totp_user(app: &TestApp, account: &str, username: &str) -> Value {
    console_user(app, account, username, &["--totp"]).await
}

/// `facegate console-user create --json` with `extra` arguments, the
/// password ([`PASSWORD`]) on standard input; answers its output.
pub(crate) async fn console_user(
    app: &TestApp,
    account: &str,
    username: &str,
    extra: &[&str],
) -> Value {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--data-dir")
        .arg(&app.config.data_dir)
        .args(database_args(&app.config.data_dir))
        .args(["console-user", "create", "--account", account, "--json"])
        .args(["--username", username])
        .args(extra)
        .env_remove("FACEGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn sign_in(app: &TestApp, fields: &[(&str, &str)], site: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/console/login"))
        .header("sec-fetch-site", site)
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_user_with_a_second_factor_needs_a_fresh_code_of_it() {
    let app = spawn_app().await;
    let acme = app.customer("Acme", true).await;
    let made = totp_user(&app, &acme.account.id.to_string(), "tess@acme.example").await;
    let uri = made["totpUri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Facegate:tess%40acme.example?secret="),
        "{uri}"
    );
    let secret = unbase32(
        uri.split("secret=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
    );
    assert_eq!(secret.len(), 20);
    let code = |offset: i64| {
        let step = facegate_core::totp::step_of(facegate_domain::Clock::now(&app.clock)) + offset;
        format!("{:06}", facegate_core::totp::code(&secret, step))
    };
    let name = ("username", "tess@acme.example");
    let password = ("password", PASSWORD);

    // The password alone, or with a wrong or too old code, is not enough.
    for fields in [
        vec![name, password],
        vec![name, password, ("code", "000000")],
    ] {
        assert_eq!(sign_in(&app, &fields, "same-origin").await.status(), 401);
    }
    let old = code(-3);
    let response = sign_in(&app, &[name, password, ("code", &old)], "same-origin").await;
    assert_eq!(response.status(), 401);

    // A current code signs in, once.
    let current = code(0);
    let response = sign_in(&app, &[name, password, ("code", &current)], "same-origin").await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("facegate_console="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let replay = sign_in(&app, &[name, password, ("code", &current)], "same-origin").await;
    assert_eq!(replay.status(), 401, "a code is never accepted twice");

    // Another site's form is refused before anything is checked.
    let next = code(1);
    let forged = sign_in(&app, &[name, password, ("code", &next)], "cross-site").await;
    assert_eq!(forged.status(), 403);
    let response = sign_in(&app, &[name, password, ("code", &next)], "same-origin").await;
    assert_eq!(response.status(), 303);
    app.stop().await;
}

/// A session cookie of `username` (a user without a second factor).
async fn session(app: &TestApp, account: &str, username: &str) -> String {
    console_user(app, account, username, &[]).await;
    let response = sign_in(
        app,
        &[("username", username), ("password", PASSWORD)],
        "same-origin",
    )
    .await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_authentications_are_listed_by_state_and_shown_to_their_account_only() {
    let app = spawn_app_with(Options::scripted_scans()).await;
    let acme = app.customer("Acme", true).await;
    let other = app.customer("Other", true).await;
    let (enrollment, facemap) = app.enrollment(&acme).await;
    let metadata = serde_json::json!({"enrollmentTransactionReference": enrollment.to_string()});
    let (reference, _) = app.initiate_redirect(&acme.api, &metadata, &facemap).await;
    let ana = session(&app, &acme.account.id.to_string(), "ana@acme.example").await;
    let olaf = session(&app, &other.account.id.to_string(), "olaf@other.example").await;

    let (status, html) = page(&app, &ana, "/console/authentications?status=CREATED").await;
    assert_eq!(status, 200);
    assert!(html.contains(&reference), "{html}");
    let (_, html) = page(&app, &ana, "/console/authentications?status=PASSED").await;
    assert!(!html.contains(&reference) && html.contains("No authentication matches"));
    let (_, html) = page(
        &app,
        &ana,
        &format!("/console/authentications?reference={enrollment}"),
    )
    .await;
    assert!(html.contains(&reference), "found by its enrollment");
    let (status, html) = page(&app, &ana, &format!("/console/authentications/{reference}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&enrollment.to_string()) && html.contains("CREATED"));

    // Another account's user: an empty list and 404s.
    let (_, html) = page(&app, &olaf, "/console/authentications").await;
    assert!(!html.contains(&reference));
    for path in [
        format!("/console/authentications/{reference}"),
        format!("/console/authentications/{reference}/images/face"),
        "/console/authentications/not-a-reference".to_owned(),
    ] {
        assert_eq!(page(&app, &olaf, &path).await.0, 404, "{path}");
    }
    // Without a session, every page sends to the sign-in.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/console/authentications"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/console/login");
    app.stop().await;
}

/// Ended sessions and failures outside the throttle's window are swept:
/// a failure names the name tried, and is kept no longer than it counts.
#[tokio::test]
async fn ended_sessions_and_old_failures_are_swept() {
    let app = spawn_app().await;
    let acme = app.customer("Acme", true).await;
    let cookie = session(&app, &acme.account.id.to_string(), "ana@acme.example").await;
    for _ in 0..2 {
        let wrong = [
            ("username", "ana@acme.example"),
            ("password", "no no no no no no"),
        ];
        assert_eq!(sign_in(&app, &wrong, "same-origin").await.status(), 401);
    }
    // Nothing has ended yet.
    assert_eq!(app.services.sweep_console().await.unwrap(), 0);
    assert_eq!(page(&app, &cookie, "/console/scans").await.0, 200);
    app.clock.advance(chrono::Duration::minutes(16));
    // The session (idle) and the two failures.
    assert_eq!(app.services.sweep_console().await.unwrap(), 3);
    assert_eq!(app.services.sweep_console().await.unwrap(), 0);
    app.stop().await;
}
