//! The master-key lifecycle against a running server: `keys retire` refuses
//! while a key is in use, `keys rewrap` re-seals what it protects, rotation
//! co-signs callbacks during its overlap, and a missing key is reported.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, EngineError, FaceEngine, FrameAnalysis,
    FrameInput,
};
use facegate_domain::{AttemptOutcome, AttemptState, CaptureAttempt, Challenge, TransactionRef};
use facegate_facemap::{ImageSlot, KeyId, Keyring};
use facegate_storage::{AttemptFinish, CallbackRenderer, ImageKind, OutboxMessage, SealedImage};
use serde_json::json;

use crate::capture::{initiated, Capture};
use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_facegate");

/// Runs `facegate keys ARGS` on the app's data directory, as an operator
/// would next to the running server: (success, stdout, stderr).
fn keys(dir: &Path, args: &[&str]) -> (bool, String, String) {
    // Switch webhook secrets at once, so the old key is free after a rewrap.
    keys_with_overlap(dir, 0, args)
}

fn keys_with_overlap(dir: &Path, hours: u32, args: &[&str]) -> (bool, String, String) {
    let config = dir.join("keys-test.toml");
    std::fs::write(
        &config,
        format!("[callbacks]\nsignature_overlap_hours = {hours}\n"),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir)
        .args(database_args(dir))
        .arg("--config")
        .arg(&config)
        .arg("keys")
        .args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FACEGATE_") {
            command.env_remove(key);
        }
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// An engine that starts attempts without loading models: enough to show a
/// transaction's facemap still opens.
struct ReadyEngine;

#[async_trait]
impl FaceEngine for ReadyEngine {
    fn supports_model(&self, _model: &str) -> bool {
        true
    }
    fn ready(&self) -> Result<(), EngineError> {
        Ok(())
    }
    async fn analyse_frame(
        &self,
        _model: &str,
        _frame: FrameInput,
    ) -> Result<FrameAnalysis, EngineError> {
        Err(EngineError("not analysed in this test".into()))
    }
    async fn conclude(
        &self,
        _context: AttemptContext,
        _frames: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        Err(EngineError("not analysed in this test".into()))
    }
}

struct NoCallback;

impl CallbackRenderer for NoCallback {
    fn render(&self, _tx: &facegate_domain::AuthTransaction) -> Option<OutboxMessage> {
        None
    }
}

/// Finishes the open transaction `reference` as FAILED with one face image
/// sealed under the server's current primary key, through storage (a real
/// decision needs a real face); answers the image bytes.
async fn store_face_image(app: &TestApp, reference: &str) -> Vec<u8> {
    let transaction: TransactionRef = reference.parse().unwrap();
    let store = app.fixture_store();
    let tx = store.transaction(transaction).await.unwrap().unwrap();
    let now = facegate_domain::Clock::now(&app.clock);
    let attempt = CaptureAttempt {
        id: uuid::Uuid::new_v4(),
        transaction,
        number: 1,
        nonce: rand::random(),
        challenge: Challenge::random(&mut rand::thread_rng(), false),
        flash: false,
        issued_at: now,
        state: AttemptState::Open,
        outcome: None,
        finished_at: None,
        model: "fr-feature-512-int8-v1".to_owned(),
        cursor: Default::default(),
        closed_at: None,
    };
    store.insert_attempt(&attempt).await.unwrap();
    let image = b"\xff\xd8 a face \xff\xd9".to_vec();
    let slot = ImageSlot {
        account: tx.account.as_uuid(),
        transaction: transaction.as_uuid(),
        kind: ImageKind::Face.as_str(),
        n: 1,
    };
    let keyring = facegate::app::load_keyring(&app.config).unwrap();
    let sealed = facegate_facemap::seal_image(&keyring, &slot, &image).unwrap();
    let finish = AttemptFinish {
        attempt: attempt.id,
        transaction,
        outcome: AttemptOutcome::Failed,
        decision: facegate_domain::decide_attempt(
            crate::scripted::findings_showing(facegate_domain::Evidence::LiveNoMatch),
            1,
            false,
        )
        .record,
        at: now,
        images: vec![SealedImage {
            kind: ImageKind::Face,
            n: 1,
            sealed,
        }],
    };
    store
        .finish_attempt(&finish, &NoCallback)
        .await
        .unwrap()
        .unwrap();
    image
}

async fn face_image(app: &TestApp, c: &Customer, reference: &str) -> reqwest::Response {
    let path = format!("/api/netverify/v2/authentications/{reference}/images/face");
    app.request(reqwest::Method::GET, &path, &c.admin)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn retire_refuses_while_a_key_is_in_use_and_after_a_rewrap_everything_still_works() {
    let mut app = spawn_app_with(Options {
        engine: Some(Arc::new(ReadyEngine)),
        ..Options::scripted()
    })
    .await;
    let dir = app.config.data_dir.clone();
    let receiver = Receiver::start(0).await;
    let acme = app.customer("Acme", true).await;
    // Under key 1: an open transaction's facemap and a stored image.
    let (open, token) = initiated(&app, &acme, json!({})).await;
    let (finished, _) = initiated(&app, &acme, json!({})).await;
    let image = store_face_image(&app, &finished).await;

    let (ok, out, _) = keys(&dir, &["rotate"]);
    assert!(ok && out.contains("key 2 is now primary"), "{out}");
    // The server still runs on key 1 alone: an account it creates now
    // derives its webhook secret from key 1.
    let late = app.customer("Late", true).await;
    assert_eq!(late.account.webhook_key_id, 1);

    let (ok, _, refusal) = keys(&dir, &["retire", "1"]);
    assert!(!ok, "key 1 was retired while in use");
    for listed in [
        "key 1 is still in use",
        "1 account webhook secrets",
        "1 open transactions' facemaps",
        "1 stored images",
        "issued facemaps",
        "facegate keys rewrap 1",
    ] {
        assert!(refusal.contains(listed), "{listed:?} not in {refusal}");
    }

    app.restart().await;
    let (ok, out, err) = keys(&dir, &["rewrap", "1"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("1 webhook secrets, 1 transaction facemaps and 1 images"),
        "{out}"
    );
    // Idempotent: nothing is left under key 1 to re-seal.
    let (ok, again, _) = keys(&dir, &["rewrap", "1"]);
    assert!(
        ok && again.contains("0 webhook secrets, 0 transaction facemaps and 0 images"),
        "{again}"
    );
    // Customers hold facemaps issued under key 1: only those remain.
    let (ok, _, refusal) = keys(&dir, &["retire", "1"]);
    assert!(!ok);
    assert!(refusal.contains("issued facemaps"), "{refusal}");
    assert!(
        !refusal.contains("webhook") && !refusal.contains("images") && !refusal.contains("open"),
        "{refusal}"
    );
    let (ok, out, err) = keys(&dir, &["retire", "1", "--abandon-issued-facemaps"]);
    assert!(ok && out.contains("key 1 retired"), "{err}");
    app.restart().await;
    assert_eq!(app.services.loaded_keys(), vec![KeyId(2)]);

    // The open transaction still captures, the image still opens...
    let capture = Capture::open(&app, &token).await;
    let (status, body) = json(capture.start_raw(false).await).await;
    assert_eq!(status, 201, "{body}");
    let response = face_image(&app, &acme, &finished).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), image.as_slice());
    // ...and the late account's callbacks are signed with its (new) secret.
    let late_account = app.services.account(late.account.id).await.unwrap();
    assert_eq!(late_account.webhook_key_id, 2);
    let secret = app
        .services
        .webhook_secret(&late_account)
        .unwrap()
        .to_whsec_string();
    let (enrollment, facemap) = app.enrollment(&late).await;
    let first = json!({
        "enrollmentTransactionReference": enrollment.to_string(),
        "callbackUrl": receiver.url,
    });
    app.initiate_ok(&late.api, &first, &facemap).await;
    app.initiate_ok(&late.api, &first, &facemap).await;
    eventually("the callback arrives", || async { receiver.count() == 1 }).await;
    let received = receiver.all().remove(0);
    assert!(crate::callbacks::verify_standard_webhook(
        &secret,
        &received.headers,
        &received.body
    ));
    let _ = open;
    app.stop().await;
}

#[tokio::test]
async fn an_attempt_whose_facemap_key_is_not_loaded_answers_key_unavailable_and_is_counted() {
    let mut app = spawn_app_with(Options::scripted()).await;
    let acme = app.customer("Acme", true).await;
    let (_, token) = initiated(&app, &acme, json!({})).await;
    // The operator starts the server with a keyring that lacks key 1.
    let other = Keyring::from_env_value("2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=").unwrap();
    facegate::app::write_keyring(&app.config.key_file(), &other).unwrap();
    app.restart().await;
    let capture = Capture::open(&app, &token).await;
    let body = assert_problem(capture.start_raw(false).await, 503, "KEY_UNAVAILABLE").await;
    assert!(
        !body["detail"].as_str().unwrap().contains("key 1"),
        "{body}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("facegate_master_key_missing_total{data=\"transaction_facemap\"} 1"),
        "{metrics}"
    );
    app.stop().await;
}

/// The `v1,` entries of a callback's `webhook-signature`.
fn signatures(received: &Received) -> usize {
    received.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .filter(|s| s.starts_with("v1,"))
        .count()
}

#[tokio::test]
async fn after_a_rotation_callbacks_carry_the_old_and_the_new_signature_until_the_overlap_ends() {
    let mut app = spawn_app_with(Options::scripted()).await;
    let dir = app.config.data_dir.clone();
    let receiver = Receiver::start(0).await;
    let acme = app.customer("Acme", true).await;
    let old_secret = app
        .services
        .webhook_secret(&acme.account)
        .unwrap()
        .to_whsec_string();
    let (ok, out, err) = keys_with_overlap(&dir, 24, &["rotate"]);
    assert!(
        ok && out.contains("1 webhook secrets moved to key 2"),
        "{out}{err}"
    );
    app.restart().await;
    let account = app.services.account(acme.account.id).await.unwrap();
    let new_secret = app
        .services
        .webhook_secret(&account)
        .unwrap()
        .to_whsec_string();
    assert_ne!(new_secret, old_secret, "the rotation moved the secret");
    let overlap = account.webhook_previous.expect("an overlap");

    let verify = crate::callbacks::verify_standard_webhook;
    crate::callbacks::expire_via_new_initiate(&app, &acme, &receiver.url).await;
    eventually("the first callback arrives", || async {
        receiver.count() == 1
    })
    .await;
    let during = receiver.all().remove(0);
    assert_eq!(signatures(&during), 2);
    assert!(verify(&old_secret, &during.headers, &during.body));
    assert!(verify(&new_secret, &during.headers, &during.body));

    let now = facegate_domain::Clock::now(&app.clock);
    app.advance(overlap.until - now + chrono::Duration::seconds(1));
    crate::callbacks::expire_via_new_initiate(&app, &acme, &receiver.url).await;
    eventually("the second callback arrives", || async {
        receiver.count() == 2
    })
    .await;
    let after = receiver.all().remove(1);
    assert_eq!(signatures(&after), 1);
    assert!(verify(&new_secret, &after.headers, &after.body));
    assert!(!verify(&old_secret, &after.headers, &after.body));
    app.stop().await;
}
