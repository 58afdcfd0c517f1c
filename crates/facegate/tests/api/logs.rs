//! Secrets, tokens, facemaps and the personal data of a scan never reach
//! the logs, even at trace level. The server is a `facegate serve` process
//! logging as in production, at `FACEGATE_LOG=trace`. The user enrolls as in
//! the enrollment journey (an ID verification on the real models,
//! `id_verification.rs`), then authenticates with the facemap it issued.
//!
//! The recordings cannot follow a random challenge: the process gets the
//! neutral test challenge through the documented test switch
//! `FACEGATE_DEV__FIXED_CHALLENGE` (`dev.fixed_challenge`), which the
//! configuration refuses in production mode and on a non-loopback address.
//! Its clock is the system's, so the frames are sent in real time, and the
//! passport is valid on the real date.
//!
//! Without the shared recordings, the OCR-B font or the models the test
//! prints SKIPPED.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use facegate_api::wire::{
    AttemptStarted, FacemapInitiated, FinishAttempt, OpenSession, SessionOpened, StartAttempt,
};
use serde_json::{json, Value};

use crate::helpers::{
    cli_issue_credential, database_args, send_for, Credential, Pace, Server, TestDir,
    CLI_CREATE_ACME,
};
use crate::id_verification::{capture_scan, Kit, PERSON_A};
use crate::journey::neutral_challenge;
use crate::scans::{initiate_scan, issued_facemap};

fn facegate(data_dir: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(database_args(data_dir))
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

/// `facegate serve` on a free loopback port of `data`, with the neutral
/// test challenge, logging at trace level into `log`; killed when the test
/// ends, even on failure.
struct Serve {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
}

impl Serve {
    async fn start(data: &Path, log: &Path) -> Serve {
        let challenge = data.join("challenge.json");
        std::fs::write(
            &challenge,
            serde_json::to_string(&neutral_challenge()).unwrap(),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .args(database_args(data))
            .env("FACEGATE_LOG", "trace")
            .env("FACEGATE_DEV__FIXED_CHALLENGE", &challenge)
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .spawn()
            .unwrap();
        let mut server = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        while server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
        {
            let exited = server.child.try_wait().unwrap();
            assert!(
                exited.is_none() && started.elapsed() < Duration::from_secs(30),
                "facegate serve did not start ({exited:?}): {}",
                std::fs::read_to_string(log).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server for Serve {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn base(&self) -> &str {
        &self.base
    }

    fn pace(&self) -> Pace<'_> {
        Pace::RealTime(tokio::time::Instant::now())
    }
}

/// A piece of `bytes` that any base64 of all of them spells out (48 bytes
/// from the middle, at an offset that is a multiple of 3): standard and
/// URL-safe. And its first 32 bytes, for a search of the raw bytes.
fn pieces(bytes: &[u8]) -> ([String; 2], &[u8]) {
    let start = bytes.len() / 2 / 3 * 3;
    let piece = &bytes[start..start + 48];
    (
        [STANDARD.encode(piece), URL_SAFE_NO_PAD.encode(piece)],
        &piece[..32],
    )
}

/// Whether `word` stands in `text` as a whole word (between non-letters).
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic)
    })
}

#[tokio::test]
async fn credentials_tokens_facemaps_and_scans_never_appear_in_the_logs() {
    let Some(kit) = Kit::load("log test") else {
        return;
    };
    let dir = TestDir::new();
    let data = dir.path();
    let account = facegate(data, &CLI_CREATE_ACME);
    let id = account["id"].as_str().unwrap();
    let credential = |role| {
        let issued = facegate(data, &cli_issue_credential(id, role));
        Credential {
            token: issued["token"].as_str().unwrap().to_owned(),
            secret: issued["secret"].as_str().unwrap().to_owned(),
        }
    };
    let (api, admin) = (credential("api"), credential("admin"));
    let log_path = data.join("server.log");
    let server = Serve::start(data, &log_path).await;

    // The enrollment: an ID verification of a passport whose portrait is a
    // frame of the recording, and the selfie from the recording.
    let person = kit.recording(PERSON_A);
    let passport = kit.passport_of(&person[150], 12, chrono::Utc::now().date_naive());
    let (scan, scan_token) = initiate_scan(&server, &api, json!({})).await;
    let (scan_capture, _) =
        capture_scan(&server, &scan_token, passport.jpeg.clone(), &person).await;
    let facemap = issued_facemap(&server, &admin, &scan, false).await;

    let client = &server.client;
    let base = &server.base;
    let metadata = json!({
        "enrollmentTransactionReference": scan,
        "userReference": "user_1234",
    });
    let form = reqwest::multipart::Form::new()
        .text("enrollmentMetadata", metadata.to_string())
        .part("facemap", reqwest::multipart::Part::bytes(facemap.clone()));
    let answer = client
        .post(format!("{base}/api/authentication/v1/facemap/initiate"))
        .header("Accept", "application/json")
        .header("User-Agent", "Log Test/1.0")
        .basic_auth(&api.token, Some(&api.secret))
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
    for secret in [admin.secret.as_str(), "wrong-secret-value"] {
        client
            .get(format!(
                "{base}/api/netverify/v2/authentications/{reference}"
            ))
            .header("Accept", "application/json")
            .header("User-Agent", "Log Test/1.0")
            .basic_auth(&admin.token, Some(secret))
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
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = std::fs::read(&log_path).unwrap();
    let text = String::from_utf8_lossy(&logs);
    for named in [&scan, &reference] {
        assert!(
            text.contains(named.as_str()),
            "the log should name the transaction {named}: {text}"
        );
    }
    let basic = STANDARD.encode(format!("{}:{}", api.token, api.secret));
    let zone = &passport.zone;
    // Line 2 of a TD3 zone: the birth date (YYMMDD) and its check digit at 13..20.
    let printed_birth = &zone.lines[1][13..20];
    let mut forbidden = vec![
        ("api secret", api.secret.clone()),
        ("admin secret", admin.secret.clone()),
        ("wrong secret", "wrong-secret-value".to_owned()),
        ("Basic header", basic),
        ("scan's authorization token", scan_token),
        ("scan's capture token", scan_capture.token.clone()),
        ("authorization token", token.clone()),
        ("capture token", capture_token.clone()),
        ("attempt nonce", nonce.clone()),
        (
            "webhook secret",
            account["webhookSecret"].as_str().unwrap().to_owned(),
        ),
        ("document number", zone.read.document_number.clone()),
        ("birth date", zone.read.date_of_birth.clone()),
        ("birth date as printed", printed_birth.to_owned()),
    ];
    forbidden.extend(zone.lines.iter().map(|line| ("zone line", line.clone())));
    if let Some(number) = &zone.read.optional_data_1 {
        forbidden.push(("personal number", number.clone()));
    }
    // The first selfie frame `capture_scan` sends (10 s into the recording).
    let selfie = &person[300];
    for (what, bytes) in [
        ("facemap", &facemap[..]),
        ("document image", &passport.jpeg[..]),
        ("selfie frame", &selfie[..]),
        ("frame", &frame[..]),
    ] {
        let (base64, raw) = pieces(bytes);
        for encoded in base64 {
            forbidden.push((what, encoded));
        }
        assert!(
            !logs.windows(raw.len()).any(|w| w == raw),
            "raw {what} bytes appear in the logs"
        );
    }
    for (what, value) in forbidden {
        assert!(!text.contains(&value), "the {what} appears in the logs");
    }
    let names = [&zone.read.surname, &zone.read.given_names];
    for name in names.iter().flat_map(|n| n.split_whitespace()) {
        assert!(
            !has_word(&text, name),
            "the name {name} appears in the logs"
        );
    }
}
