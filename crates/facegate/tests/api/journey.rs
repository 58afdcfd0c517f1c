//! The authentication journey on real recordings, over the capture protocol
//! (the browser drives the same protocol in `browser.rs`): the frames of a
//! video are uploaded as a client would capture them, and the transaction
//! ends as liveness and matching decide.
//!
//! Recorded videos cannot follow a random challenge, so these tests give the
//! server a fixed one (`dev.fixed_challenge`, refused in production):
//! - the tranv recording (`pad/replay/tranvanluyt2203_*`) turns the head left,
//!   right, down and up; its challenge asks for exactly those turns in the
//!   windows where the recording makes them, so compliance and parallax are
//!   measured for real;
//! - the two `video/live_person_*` recordings contain no head turn of more
//!   than 10° (measured with `examples/liveness_trace`), so no turn schedule can
//!   be followed by them: their challenge is the neutral window only, and
//!   liveness rests on the passive model and identity consistency.
//!
//! The recordings are read from `FACEGATE_SHARED_DIR` (default `../shared`);
//! without them every test here prints SKIPPED and passes.

use std::path::PathBuf;

use chrono::Duration;
use facegate_domain::Challenge;
use serde_json::{json, Value};

use crate::capture::Capture;
use crate::helpers::{
    assert_problem, callback_body, eventually, json as body_json, spawn_app_with, Customer,
    Options, Receiver, TestApp,
};

/// The shared data folder, when present.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
        .join("data");
    dir.is_dir().then_some(dir)
}

/// Returns the shared data folder or prints why the test is skipped.
pub fn shared_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared_data();
    if dir.is_none() {
        eprintln!("SKIPPED: {test}: no shared face data (set FACEGATE_SHARED_DIR)");
    }
    dir
}

/// The JPEG frames of an MJPEG recording (30 fps).
pub fn mjpeg_frames(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    facegate_vision::decode::split_mjpeg(&bytes)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

pub const TRANV: &str = "pad/replay/tranvanluyt2203_face_anti_spoofing";

/// The turns the tranv recording makes (pose trace of `real_30fps.mjpeg`:
/// frontal until 1.8 s, user's left to 50° at 2.0–5.5 s, back, right to 23°
/// at 7.3–10.4 s, down to 40° at 11.3–13.8 s, up to 35° at 14.5–16.0 s), as
/// `tests/fixtures/tranv-challenge.json` (the attempt benchmark uses it too).
pub fn tranv_challenge() -> Challenge {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tranv-challenge.json"
    );
    let challenge: Challenge =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    challenge.validate().unwrap();
    assert_eq!(challenge.steps.len(), 4);
    challenge
}

/// The neutral window only: what a recording without head turns can follow.
pub fn neutral_challenge() -> Challenge {
    Challenge::with_timeline(3_000, Vec::new(), Vec::new(), 3_000)
}

/// An approved, deleted enrollment whose facemap holds the template of
/// `face`: a scripted scan ([`Options::scripted_scans`]) of a passport whose
/// portrait is `face`.
pub async fn enrollment_of(app: &TestApp, customer: &Customer, face: &[u8]) -> (String, Vec<u8>) {
    let (model, template) = facegate_engine::enrollment_template(face).unwrap();
    let (reference, facemap) = app.enrolled_by_scan_as(customer, &model, template).await;
    (reference.to_string(), facemap)
}

/// Uploads the recording's frames from `from_ms` on at ~15 fps for the
/// challenge's duration, each once the server's clock has reached its
/// capture time ([`Pace`](crate::helpers::Pace)), then finishes.
pub(crate) async fn replay_attempt(
    capture: &Capture<'_>,
    frames: &[Vec<u8>],
    from_ms: u32,
) -> Value {
    replay_across(&[capture], capture, frames, from_ms).await
}

/// [`replay_attempt`] across the nodes of one deployment: one session and
/// capture token, frame `i` sent to `captures[i % n]` (as a round-robin
/// load balancer sends them), the finish to `finish_on`.
pub(crate) async fn replay_across(
    captures: &[&Capture<'_>],
    finish_on: &Capture<'_>,
    frames: &[Vec<u8>],
    from_ms: u32,
) -> Value {
    let attempt = captures[0].start().await;
    let mut pace = captures[0].server.pace();
    let duration = attempt.started.challenge.duration_ms;
    let mut index = 0u32;
    let mut t = 0u32;
    while t <= duration {
        let frame = ((from_ms + t) as usize * 30 / 1000) % frames.len();
        pace.until(t + 66).await;
        let node = captures[index as usize % captures.len()];
        let response = node
            .frame(&attempt.id, &attempt.nonce, index, t, frames[frame].clone())
            .await;
        assert_eq!(response.status(), 202, "frame {index}");
        index += 1;
        t += 66;
    }
    let (status, body) = body_json(finish_on.finish(&attempt.id, &attempt.nonce).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Initiates for `enrollment`, captures `video` from `from_ms` and returns
/// (finish answer, retrieval).
async fn journey(
    app: &TestApp,
    customer: &Customer,
    enrollment: &(String, Vec<u8>),
    frames: &[Vec<u8>],
    from_ms: u32,
) -> (Value, Value) {
    journey_with(app, customer, enrollment, frames, from_ms, None).await
}

async fn journey_with(
    app: &TestApp,
    customer: &Customer,
    enrollment: &(String, Vec<u8>),
    frames: &[Vec<u8>],
    from_ms: u32,
    callback_url: Option<&str>,
) -> (Value, Value) {
    let (reference, token) = initiate(app, customer, enrollment, callback_url).await;
    let capture = Capture::open(app, &token).await;
    let done = replay_attempt(&capture, frames, from_ms).await;
    let (_, tx) = app.retrieve(&customer.admin, &reference).await;
    (done, tx)
}

/// Initiates an authentication of `enrollment`; returns its reference and
/// the capture's authorization token.
pub(crate) async fn initiate(
    app: &TestApp,
    customer: &Customer,
    enrollment: &(String, Vec<u8>),
    callback_url: Option<&str>,
) -> (String, String) {
    let metadata = json!({
        "enrollmentTransactionReference": enrollment.0,
        "successUrl": "http://localhost:9/done",
        "callbackUrl": callback_url,
    });
    let response = app.initiate(&customer.api, &metadata, &enrollment.1).await;
    let (status, body) = body_json(response).await;
    assert_eq!(status, 200, "{body}");
    let reference = body["authenticationTransactionReference"].as_str().unwrap();
    let token = crate::capture::authorization_token(body["redirectUrl"].as_str().unwrap());
    (reference.to_owned(), token)
}

pub(crate) fn signal<'a>(tx: &'a Value, name: &str) -> &'a Value {
    tx["decision"]["liveness"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

/// The images are served decrypted to the admin role only, named by the
/// callback, and gone with the transaction.
async fn check_images_and_callback(
    app: &TestApp,
    acme: &Customer,
    tx: &Value,
    receiver: &Receiver,
) {
    let reference = tx["transactionReference"].as_str().unwrap();
    let path = |tail: &str| format!("/api/netverify/v2/authentications/{reference}/images/{tail}");
    let face_url = tx["images"][0]["href"].as_str().unwrap();
    assert_eq!(face_url, app.url(&path("face")));
    let liveness: Vec<&str> = tx["livenessImages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (n, url) in liveness.iter().enumerate() {
        assert_eq!(*url, app.url(&path(&format!("liveness/{}", n + 1))));
    }
    let get = |tail: String, cred| app.request(reqwest::Method::GET, &path(&tail), cred).send();
    for tail in ["face".to_owned(), format!("liveness/{}", liveness.len())] {
        let response = get(tail.clone(), &acme.admin).await.unwrap();
        assert_eq!(response.status(), 200, "{tail}");
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xD8], "{tail} is a JPEG");
    }
    for tail in [
        format!("liveness/{}", liveness.len() + 1),
        "liveness/0".into(),
        "liveness/x".into(),
    ] {
        assert_problem(
            get(tail, &acme.admin).await.unwrap(),
            404,
            "IMAGE_NOT_FOUND",
        )
        .await;
    }
    assert_problem(
        get("face".into(), &acme.api).await.unwrap(),
        403,
        "FORBIDDEN_ROLE",
    )
    .await;

    eventually("the callback arrives", || async { receiver.count() >= 1 }).await;
    let callback = callback_body(&receiver.all()[0].body);
    assert_eq!(callback.transaction_result.as_str(), "PASSED");
    assert_eq!(callback.id_scan_image_face.as_deref(), Some(face_url));
    assert_eq!(callback.liveness_images, liveness);

    let (status, _) = app.delete(&acme.admin, reference).await;
    assert_eq!(status, 200);
    assert_problem(
        get("face".into(), &acme.admin).await.unwrap(),
        404,
        "TRANSACTION_NOT_FOUND",
    )
    .await;
    assert_eq!(
        app.fixture_store()
            .image(
                reference.parse().unwrap(),
                facegate_storage::ImageKind::Face,
                1
            )
            .await
            .unwrap(),
        None,
        "DELETE erased the sealed image"
    );
}

/// A server whose attempts all get `challenge`, and its customer "Acme".
pub(crate) async fn spawn_with_challenge(challenge: Challenge) -> (TestApp, Customer) {
    let app = spawn_app_with(Options {
        fixed_challenge: Some(challenge),
        ..Options::scripted_scans()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    (app, acme)
}

#[tokio::test]
async fn a_live_person_following_the_challenge_passes_and_a_replay_of_the_same_turns_fails() {
    let Some(data) = shared_or_skip("tranv journey") else {
        return;
    };
    let (app, acme) = spawn_with_challenge(tranv_challenge()).await;
    let real = mjpeg_frames(&data.join(TRANV).join("real_30fps.mjpeg"));
    let enrollment = enrollment_of(&app, &acme, &real[600]).await;

    let receiver = Receiver::start(0).await;
    let (done, tx) = journey_with(&app, &acme, &enrollment, &real, 0, Some(&receiver.url)).await;
    assert_eq!(done["outcome"], "PASSED", "{done} {tx}");
    assert_eq!(
        done["redirect"]["url"],
        format!(
            "http://localhost:9/done?transactionStatus=SUCCESS&transactionReference={}",
            tx["transactionReference"].as_str().unwrap()
        )
    );
    assert_eq!(tx["transactionResult"], "PASSED");
    assert_eq!(signal(&tx, "challenge")["verdict"], "PASS", "{tx}");
    assert_eq!(signal(&tx, "passive")["verdict"], "PASS", "{tx}");
    assert_eq!(tx["decision"]["similarity"]["match"], true);
    assert_eq!(tx["images"][0]["classifier"], "face");
    assert!(!tx["livenessImages"].as_array().unwrap().is_empty());
    check_images_and_callback(&app, &acme, &tx, &receiver).await;

    // The same head turns, replayed on a screen: the passive model sees it.
    let fake = mjpeg_frames(&data.join(TRANV).join("fake_30fps.mjpeg"));
    let (done, tx) = journey(&app, &acme, &enrollment, &fake, 0).await;
    assert_ne!(done["outcome"], "PASSED", "{tx}");
    assert_ne!(tx["transactionResult"], "PASSED");
    app.stop().await;
}

#[tokio::test]
async fn the_live_recording_passes_for_its_own_facemap_and_fails_for_another_persons() {
    let Some(data) = shared_or_skip("live_person journey") else {
        return;
    };
    let (app, acme) = spawn_with_challenge(neutral_challenge()).await;
    let a = mjpeg_frames(&data.join("video/live_person_a_640x480_30fps_20s.mjpeg"));
    let b = mjpeg_frames(&data.join("video/live_person_b_640x512_30fps_20s.mjpeg"));
    // Enrolled from a frame 15 s into the recording; captured from its start.
    let enrolled_a = enrollment_of(&app, &acme, &a[450]).await;
    let enrolled_b = enrollment_of(&app, &acme, &b[450]).await;

    let (done, tx) = journey(&app, &acme, &enrolled_a, &a, 0).await;
    assert_eq!(done["outcome"], "PASSED", "{done} {tx}");
    assert_eq!(signal(&tx, "challenge")["verdict"], "NOT_APPLICABLE");

    // Retention: the images go after capture.image_retention_days (30).
    let reference = tx["transactionReference"].as_str().unwrap();
    let face = format!("/api/netverify/v2/authentications/{reference}/images/face");
    let get_face = || app.request(reqwest::Method::GET, &face, &acme.admin).send();
    assert_eq!(get_face().await.unwrap().status(), 200);
    app.advance(Duration::days(29));
    assert_eq!(app.services.enforce_retention().await.unwrap(), 0);
    assert_eq!(get_face().await.unwrap().status(), 200);
    app.advance(Duration::days(2));
    assert!(app.services.enforce_retention().await.unwrap() >= 2);
    assert_problem(get_face().await.unwrap(), 404, "IMAGE_NOT_FOUND").await;
    let (_, kept) = app.retrieve(&acme.admin, reference).await;
    assert_eq!(
        kept["transactionResult"], "PASSED",
        "the decision outlives the images"
    );
    assert_eq!(kept["images"], json!([]));
    assert_eq!(kept["livenessImages"], json!([]));

    let (done, tx) = journey(&app, &acme, &enrolled_b, &a, 0).await;
    assert_eq!(done["outcome"], "FAILED", "{tx}");
    assert_eq!(tx["transactionResult"], "FAILED");
    assert_eq!(tx["decision"]["liveness"]["verdict"], "PASS");
    assert_eq!(tx["decision"]["similarity"]["match"], false);
    app.stop().await;
}
