//! Secrets, tokens and facemaps never reach the logs, even at trace level.

use std::process::{Command, Stdio};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use facegate_api::wire::{
    AttemptStarted, FacemapInitiated, FinishAttempt, OpenSession, SessionOpened, StartAttempt,
};
use serde_json::{json, Value};

use crate::helpers::{cli_issue_credential, send_for, CLI_CREATE_ACME};

fn facegate(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Kills the server when the test ends, even on failure.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn credentials_tokens_and_facemaps_never_appear_in_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let account = facegate(data, &CLI_CREATE_ACME);
    let id = account["id"].as_str().unwrap();
    let api = facegate(data, &cli_issue_credential(id, "api"));
    let admin = facegate(data, &cli_issue_credential(id, "admin"));
    let facemap_path = data.join("facemap.bin");
    let enrollment = facegate(
        data,
        &[
            "enrollment",
            "demo",
            "--account",
            id,
            "--facemap-out",
            facemap_path.to_str().unwrap(),
            "--json",
        ],
    );
    let facemap = std::fs::read(&facemap_path).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = data.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_facegate"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .env("FACEGATE_LOG", "trace")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");

    let (api_token, api_secret) = (
        api["token"].as_str().unwrap(),
        api["secret"].as_str().unwrap(),
    );
    let (admin_token, admin_secret) = (
        admin["token"].as_str().unwrap(),
        admin["secret"].as_str().unwrap(),
    );
    let metadata = json!({
        "enrollmentTransactionReference": enrollment["enrollmentTransactionReference"],
        "userReference": "user_1234",
    });
    let form = reqwest::multipart::Form::new()
        .text("enrollmentMetadata", metadata.to_string())
        .part("facemap", reqwest::multipart::Part::bytes(facemap.clone()));
    let answer = client
        .post(format!("{base}/api/authentication/v1/facemap/initiate"))
        .header("Accept", "application/json")
        .header("User-Agent", "Log Test/1.0")
        .basic_auth(api_token, Some(api_secret))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json::<FacemapInitiated>()
        .await
        .unwrap();
    let reference = answer.authentication_transaction_reference.to_string();
    let token = answer
        .redirect_url
        .split("authorizationToken=")
        .nth(1)
        .unwrap()
        .to_owned();
    for secret in [admin_secret, "wrong-secret-value"] {
        client
            .get(format!(
                "{base}/api/netverify/v2/authentications/{reference}"
            ))
            .header("Accept", "application/json")
            .header("User-Agent", "Log Test/1.0")
            .basic_auth(admin_token, Some(secret))
            .send()
            .await
            .unwrap();
    }
    // A request that carries the token in its query string.
    client
        .get(format!("{base}/web/v4/app?authorizationToken={token}"))
        .send()
        .await
        .unwrap();
    // The capture protocol: its tokens, nonce and frames stay out too.
    let post = |path: &str| {
        client
            .post(format!("{base}/api/capture/v1/{path}"))
            .header("Accept", "application/json")
            .header("User-Agent", "Log Test/1.0")
    };
    let session: SessionOpened = send_for(post("session").json(&OpenSession {
        authorization_token: token.clone().into(),
        ..OpenSession::default()
    }))
    .await;
    let capture_token = session.capture_token;
    let attempt: AttemptStarted = send_for(
        post("attempts")
            .bearer_auth(&capture_token)
            .json(&StartAttempt { flash: true.into() }),
    )
    .await;
    let (attempt_id, nonce) = (attempt.attempt_id, attempt.nonce);
    let frame = crate::capture::blank_jpeg();
    let uploaded = post(&format!("attempts/{attempt_id}/frames"))
        .header("Content-Type", "image/jpeg")
        .header("Capture-Nonce", &nonce)
        .header("Capture-Time-Ms", "0")
        .header("Capture-Frame", "0")
        .bearer_auth(&capture_token)
        .body(frame.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 202);
    let finished = post(&format!("attempts/{attempt_id}/finish"))
        .bearer_auth(&capture_token)
        .json(&FinishAttempt {
            nonce: nonce.clone().into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let logs = std::fs::read(&log_path).unwrap();
    let text = String::from_utf8_lossy(&logs);
    assert!(
        text.contains(&reference),
        "the log should name the transaction: {text}"
    );
    let basic = STANDARD.encode(format!("{api_token}:{api_secret}"));
    let forbidden = [
        ("api secret", api_secret.to_owned()),
        ("admin secret", admin_secret.to_owned()),
        ("wrong secret", "wrong-secret-value".to_owned()),
        ("Basic header", basic),
        ("authorization token", token.clone()),
        ("capture token", capture_token.clone()),
        ("attempt nonce", nonce.clone()),
        ("facemap (base64)", STANDARD.encode(&facemap[49..97])),
        (
            "facemap (base64url)",
            URL_SAFE_NO_PAD.encode(&facemap[49..97]),
        ),
        (
            "webhook secret",
            account["webhookSecret"].as_str().unwrap().to_owned(),
        ),
    ];
    for (what, value) in forbidden {
        assert!(!text.contains(&value), "the {what} appears in the logs");
    }
    assert!(
        !logs.windows(32).any(|w| w == &facemap[60..92]),
        "raw facemap bytes appear in the logs"
    );
    let tail = &frame[frame.len() - 40..frame.len() - 8];
    assert!(
        !logs.windows(32).any(|w| w == tail),
        "frame bytes appear in the logs"
    );
    assert!(
        !text.contains(&STANDARD.encode(tail)),
        "base64 frame bytes appear in the logs"
    );
}
