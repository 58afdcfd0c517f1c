//! The capture protocol (docs/capture-protocol.md) over HTTP: sessions,
//! attempts, frames and their refusals. The frames here show no face, so
//! every finished attempt asks for a retry; the decisions on real faces are
//! tested in `journey.rs`.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use facegate_api::wire::{
    AttemptStarted, FacemapInitiated, FinishAttempt, OpenSession, SessionOpened, StartAttempt,
};
use facegate_core::accounts::AccountChanges;

use crate::helpers::{
    assert_problem, json as body_json, merged, spawn_app, spawn_app_with, spawn_with_acme_on,
    Customer, Options, Server, TestApp,
};

/// A small grey JPEG: a valid frame without a face.
pub fn blank_jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(96, 72, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

/// The authorization token of a `redirectUrl`.
pub fn authorization_token(redirect_url: &str) -> String {
    let url = url::Url::parse(redirect_url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "authorizationToken")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// An initiated transaction: (reference, authorization token).
pub async fn initiated(app: &TestApp, customer: &Customer, extra: Value) -> (String, String) {
    let (enrollment, facemap) = app.enrollment(customer).await;
    let metadata = merged(
        json!({ "enrollmentTransactionReference": enrollment.to_string() }),
        &extra,
    );
    let response = app.initiate(&customer.api, &metadata, &facemap).await;
    let (status, body) = body_json(response).await;
    assert_eq!(status, 200, "{body}");
    let initiated: FacemapInitiated = serde_json::from_value(body).unwrap();
    (
        initiated.authentication_transaction_reference.to_string(),
        authorization_token(&initiated.redirect_url),
    )
}

/// A capture client speaking the protocol to a server.
pub struct Capture<'a> {
    pub server: &'a dyn Server,
    pub token: String,
}

pub struct Attempt {
    pub id: String,
    pub nonce: String,
    pub started: AttemptStarted,
}

fn capture_request(server: &dyn Server, method: Method, path: &str) -> reqwest::RequestBuilder {
    server
        .client()
        .request(method, server.url(path))
        .header("Accept", "application/json")
        .header("User-Agent", "Facegate Web Client Tests/1.0")
}

pub async fn open_session(server: &dyn Server, authorization_token: &str) -> reqwest::Response {
    let body = OpenSession {
        authorization_token: authorization_token.to_owned().into(),
        ..OpenSession::default()
    };
    capture_request(server, Method::POST, "/api/capture/v1/session")
        .json(&body)
        .send()
        .await
        .unwrap()
}

impl<'a> Capture<'a> {
    pub async fn open(server: &'a dyn Server, authorization_token: &str) -> Capture<'a> {
        let (status, body) = body_json(open_session(server, authorization_token).await).await;
        assert_eq!(status, 201, "{body}");
        let opened: SessionOpened = serde_json::from_value(body).unwrap();
        Capture {
            server,
            token: opened.capture_token,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        capture_request(self.server, method, path).bearer_auth(&self.token)
    }

    /// `GET /api/capture/v1/session`: its status and body.
    pub async fn status(&self) -> (reqwest::StatusCode, Value) {
        body_json(
            self.request(Method::GET, "/api/capture/v1/session")
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn start_raw(&self, flash: bool) -> reqwest::Response {
        self.request(Method::POST, "/api/capture/v1/attempts")
            .json(&StartAttempt {
                flash: flash.into(),
            })
            .send()
            .await
            .unwrap()
    }

    pub async fn start(&self) -> Attempt {
        let (status, body) = body_json(self.start_raw(true).await).await;
        assert_eq!(status, 201, "{body}");
        let started: AttemptStarted = serde_json::from_value(body).unwrap();
        Attempt {
            id: started.attempt_id.to_string(),
            nonce: started.nonce.clone(),
            started,
        }
    }

    pub async fn frame(
        &self,
        attempt: &str,
        nonce: &str,
        index: u32,
        t_ms: u32,
        jpeg: Vec<u8>,
    ) -> reqwest::Response {
        self.request(
            Method::POST,
            &format!("/api/capture/v1/attempts/{attempt}/frames"),
        )
        .header("Content-Type", "image/jpeg")
        .header("Capture-Nonce", nonce)
        .header("Capture-Time-Ms", t_ms.to_string())
        .header("Capture-Frame", index.to_string())
        .body(jpeg)
        .send()
        .await
        .unwrap()
    }

    pub async fn finish(&self, attempt: &str, nonce: &str) -> reqwest::Response {
        self.request(
            Method::POST,
            &format!("/api/capture/v1/attempts/{attempt}/finish"),
        )
        .json(&FinishAttempt {
            nonce: nonce.to_owned().into(),
        })
        .send()
        .await
        .unwrap()
    }

    /// Uploads a few blank frames (as the server's clock passes) and
    /// finishes; returns the finish answer.
    pub async fn blank_attempt(&self) -> Value {
        let attempt = self.start().await;
        let mut pace = self.server.pace();
        for i in 0..3u32 {
            pace.until((i + 1) * 66).await;
            let response = self
                .frame(&attempt.id, &attempt.nonce, i, i * 66, blank_jpeg())
                .await;
            assert_eq!(response.status(), 202);
        }
        let (status, body) = body_json(self.finish(&attempt.id, &attempt.nonce).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test]
async fn opening_a_capture_session_starts_the_transaction() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (reference, token) = initiated(
        &app,
        &acme,
        json!({"successUrl": "http://localhost:9/ok", "errorUrl": "http://localhost:9/err"}),
    )
    .await;
    let (status, body) = body_json(open_session(&app, &token).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["transactionReference"], reference.as_str());
    assert_eq!(body["transactionStatus"], "STARTED");
    assert_eq!(body["maxAttempts"], 3);
    assert_eq!(body["attemptsUsed"], 0);
    assert_eq!(body["successUrl"], "http://localhost:9/ok");
    assert_eq!(body["captureToken"].as_str().unwrap().len(), 43);
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "STARTED");
    assert_eq!(tx["scanSource"], "WEB");

    // A reload opens a new session and ends the first one.
    let first = Capture {
        server: &app,
        token: body["captureToken"].as_str().unwrap().to_owned(),
    };
    let second = Capture::open(&app, &token).await;
    let response = first
        .request(Method::GET, "/api/capture/v1/session")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"facegate-capture\""
    );
    assert_problem(response, 401, "CAPTURE_SESSION_INVALID").await;
    let (status, view) = second.status().await;
    assert_eq!(status, 200, "{view}");
    assert!(view.get("captureToken").is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_session_names_the_accounts_parent_origin_and_null_without_one() {
    let app = spawn_app_with(Options::scripted_scans()).await;
    let framed = app.customer("Framed", true).await;
    app.services
        .update_account(
            framed.account.id,
            AccountChanges {
                parent_origin: Some("https://Shop.Framed.example:8443".to_owned()),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let plain = app.customer("Plain", true).await;

    let (_, token) = initiated(&app, &framed, json!({})).await;
    let (status, body) = body_json(open_session(&app, &token).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["parentOrigin"], "https://shop.framed.example:8443");
    let capture = Capture {
        server: &app,
        token: body["captureToken"].as_str().unwrap().to_owned(),
    };
    let (status, view) = capture.status().await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["parentOrigin"], "https://shop.framed.example:8443");

    // Unset, the member is there and null: the client posts to any parent.
    let (_, token) = initiated(&app, &plain, json!({})).await;
    let (status, body) = body_json(open_session(&app, &token).await).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body.get("parentOrigin").is_some_and(Value::is_null),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_authorization_token_or_capture_token_is_refused() {
    let app = spawn_app().await;
    assert_problem(
        open_session(&app, "not-a-token").await,
        401,
        "CAPTURE_TOKEN_INVALID",
    )
    .await;
    let response = capture_request(&app, Method::POST, "/api/capture/v1/session")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "VALIDATION_FAILED").await;
    let response = capture_request(&app, Method::POST, "/api/capture/v1/session")
        .body("authorizationToken=x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let no_token = capture_request(&app, Method::POST, "/api/capture/v1/attempts")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(no_token, 401, "CAPTURE_SESSION_INVALID").await;
    let stranger = Capture {
        server: &app,
        token: "A".repeat(43),
    };
    assert_problem(
        stranger.start_raw(true).await,
        401,
        "CAPTURE_SESSION_INVALID",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn an_expired_capture_session_is_refused() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (_, token) = initiated(&app, &acme, json!({})).await;
    let capture = Capture::open(&app, &token).await;
    app.advance(Duration::minutes(10));
    assert_problem(
        capture.start_raw(true).await,
        401,
        "CAPTURE_SESSION_EXPIRED",
    )
    .await;
    // The transaction itself (15 min) is still open: a new session works…
    let again = Capture::open(&app, &token).await;
    again.start().await;
    // …until the transaction's lifetime is over.
    app.advance(Duration::minutes(5));
    assert_problem(open_session(&app, &token).await, 409, "TRANSACTION_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn frames_for_another_transaction_are_refused() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (_, token_a) = initiated(&app, &acme, json!({})).await;
    let (_, token_b) = initiated(&app, &acme, json!({})).await;
    let a = Capture::open(&app, &token_a).await;
    let b = Capture::open(&app, &token_b).await;
    let attempt_b = b.start().await;
    app.advance(Duration::milliseconds(10));
    let response = a
        .frame(&attempt_b.id, &attempt_b.nonce, 0, 0, blank_jpeg())
        .await;
    assert_problem(response, 404, "ATTEMPT_NOT_FOUND").await;
    assert_problem(
        a.finish(&attempt_b.id, &attempt_b.nonce).await,
        404,
        "ATTEMPT_NOT_FOUND",
    )
    .await;
    let response = a
        .frame("not-an-id", &attempt_b.nonce, 0, 0, blank_jpeg())
        .await;
    assert_problem(response, 404, "ATTEMPT_NOT_FOUND").await;
    // The owner's upload still works.
    let response = b
        .frame(&attempt_b.id, &attempt_b.nonce, 0, 0, blank_jpeg())
        .await;
    assert_eq!(response.status(), 202);
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_or_foreign_nonce_is_refused() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (_, token) = initiated(&app, &acme, json!({})).await;
    let capture = Capture::open(&app, &token).await;
    let first = capture.start().await;
    app.advance(Duration::milliseconds(10));
    assert_eq!(
        capture
            .frame(&first.id, &first.nonce, 0, 0, blank_jpeg())
            .await
            .status(),
        202
    );
    let (status, done) = body_json(capture.finish(&first.id, &first.nonce).await).await;
    assert_eq!(
        (status.as_u16(), done["outcome"].as_str()),
        (200, Some("RETRY")),
        "{done}"
    );
    assert_eq!(done["attemptsLeft"], 2);
    assert!(done["guidance"]
        .as_array()
        .unwrap()
        .contains(&json!("FACE_NOT_FOUND")));
    assert!(done.get("score").is_none() && done.get("decision").is_none());

    // The finish burnt the first nonce.
    let replay = capture
        .frame(&first.id, &first.nonce, 1, 66, blank_jpeg())
        .await;
    assert_problem(replay, 409, "NONCE_REPLAYED").await;
    assert_problem(
        capture.finish(&first.id, &first.nonce).await,
        409,
        "NONCE_REPLAYED",
    )
    .await;
    let second = capture.start().await;
    assert_eq!(second.started.attempt_number, 2);
    assert_ne!(second.nonce, first.nonce);
    let replay = capture
        .frame(&second.id, &first.nonce, 0, 0, blank_jpeg())
        .await;
    assert_problem(replay, 409, "NONCE_REPLAYED").await;
    let forged = capture
        .frame(&second.id, "AAAAAAAAAAAAAAAAAAAAAA", 0, 0, blank_jpeg())
        .await;
    assert_problem(forged, 409, "NONCE_MISMATCH").await;
    app.stop().await;
}

#[tokio::test]
async fn a_fourth_attempt_is_refused_and_three_unusable_ones_make_the_transaction_invalid() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    // Three attempts started and abandoned: the fourth is refused.
    let (_, token) = initiated(&app, &acme, json!({})).await;
    let capture = Capture::open(&app, &token).await;
    let abandoned = capture.start().await;
    capture.start().await;
    capture.start().await;
    assert_problem(capture.start_raw(true).await, 409, "ATTEMPTS_EXHAUSTED").await;
    let late = capture
        .frame(&abandoned.id, &abandoned.nonce, 0, 0, blank_jpeg())
        .await;
    assert_problem(late, 409, "ATTEMPT_FINISHED").await;

    // Three finished attempts without a usable capture: INVALID, redirected
    // to the error URL with 9836.
    let (reference, token) = initiated(
        &app,
        &acme,
        json!({"errorUrl": "http://localhost:9/err?x=1"}),
    )
    .await;
    let capture = Capture::open(&app, &token).await;
    assert_eq!(capture.blank_attempt().await["outcome"], "RETRY");
    assert_eq!(capture.blank_attempt().await["outcome"], "RETRY");
    let last = capture.blank_attempt().await;
    assert_eq!(last["outcome"], "INVALID", "{last}");
    assert_eq!(last["attemptsLeft"], 0);
    assert_eq!(last["redirect"]["transactionStatus"], "ERROR");
    assert_eq!(last["redirect"]["errorCode"], 9836);
    assert_eq!(
        last["redirect"]["url"],
        format!(
            "http://localhost:9/err?x=1&transactionStatus=ERROR&transactionReference={reference}&errorCode=9836"
        )
    );
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(tx["transactionResult"], "INVALID");
    assert_eq!(tx["decision"]["outcome"], "INVALID");
    assert_eq!(tx["decision"]["attempt"], 3);
    assert_problem(capture.start_raw(true).await, 409, "TRANSACTION_FINISHED").await;
    assert_problem(
        open_session(&app, &token).await,
        409,
        "TRANSACTION_FINISHED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn frames_outside_the_rules_are_refused_and_leave_nothing_behind() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (_, token) = initiated(&app, &acme, json!({})).await;
    let capture = Capture::open(&app, &token).await;
    let a = capture.start().await;
    let duration = a.started.challenge.duration_ms;
    let max_frames = a.started.challenge.max_frames;
    assert!(max_frames >= duration / 66);
    app.advance(Duration::milliseconds(1_000));
    // Claims a capture time the server clock cannot have reached.
    let early = capture.frame(&a.id, &a.nonce, 0, 5_000, blank_jpeg()).await;
    assert_problem(early, 409, "FRAME_OUT_OF_WINDOW").await;
    let beyond = capture
        .frame(&a.id, &a.nonce, 0, duration + 600, blank_jpeg())
        .await;
    assert_problem(beyond, 409, "FRAME_OUT_OF_WINDOW").await;
    // Refused frames did not advance the cursor: index 0 is still expected.
    let skipped = capture.frame(&a.id, &a.nonce, 1, 0, blank_jpeg()).await;
    assert_problem(skipped, 409, "FRAME_OUT_OF_ORDER").await;
    assert_eq!(
        capture
            .frame(&a.id, &a.nonce, 0, 100, blank_jpeg())
            .await
            .status(),
        202
    );
    let backwards = capture.frame(&a.id, &a.nonce, 1, 50, blank_jpeg()).await;
    assert_problem(backwards, 409, "FRAME_OUT_OF_ORDER").await;

    let not_jpeg = capture
        .frame(&a.id, &a.nonce, 1, 166, b"GIF89a".to_vec())
        .await;
    assert_problem(not_jpeg, 400, "FRAME_INVALID").await;
    let huge = capture
        .frame(&a.id, &a.nonce, 1, 166, vec![0xFF; 600 * 1024])
        .await;
    assert_problem(huge, 413, "FRAME_TOO_LARGE").await;
    let png = capture
        .request(
            Method::POST,
            &format!("/api/capture/v1/attempts/{}/frames", a.id),
        )
        .header("Content-Type", "image/png")
        .header("Capture-Nonce", &a.nonce)
        .header("Capture-Time-Ms", "166")
        .header("Capture-Frame", "1")
        .body(blank_jpeg())
        .send()
        .await
        .unwrap();
    assert_problem(png, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let no_headers = capture
        .request(
            Method::POST,
            &format!("/api/capture/v1/attempts/{}/frames", a.id),
        )
        .header("Content-Type", "image/jpeg")
        .body(blank_jpeg())
        .send()
        .await
        .unwrap();
    assert_problem(no_headers, 400, "FRAME_INVALID").await;

    // A challenge not started within the deadline.
    let late = capture.start().await;
    app.advance(Duration::seconds(20));
    let response = capture
        .frame(&late.id, &late.nonce, 0, 0, blank_jpeg())
        .await;
    assert_problem(response, 409, "FRAME_OUT_OF_WINDOW").await;
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_transaction_ends_its_capture() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (reference, token) = initiated(&app, &acme, json!({})).await;
    let capture = Capture::open(&app, &token).await;
    let a = capture.start().await;
    let (status, _) = app.delete(&acme.admin, &reference).await;
    assert_eq!(status, 200);
    let response = capture.frame(&a.id, &a.nonce, 0, 0, blank_jpeg()).await;
    assert_problem(response, 401, "CAPTURE_SESSION_INVALID").await;
    assert_problem(
        open_session(&app, &token).await,
        401,
        "CAPTURE_TOKEN_INVALID",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_capture_works_with_the_servers_copy_of_the_facemap() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (enrollment, _) = app.kept_enrollment(&acme).await;
    let response = app
        .request(
            Method::POST,
            "/api/authentication/v1/web/initiate",
            &acme.api,
        )
        .json(&json!({ "enrollmentTransactionReference": enrollment.to_string() }))
        .send()
        .await
        .unwrap();
    let (status, body) = body_json(response).await;
    assert_eq!(status, 200, "{body}");
    let token = authorization_token(body["redirectUrl"].as_str().unwrap());
    let capture = Capture::open(&app, &token).await;
    assert_eq!(capture.blank_attempt().await["outcome"], "RETRY");
    app.stop().await;
}

#[tokio::test]
async fn a_native_app_marks_the_transaction_as_sdk_and_a_wrong_scan_source_is_refused() {
    let (app, acme) = spawn_with_acme_on(Options::scripted_scans()).await;
    let (reference, token) = initiated(&app, &acme, json!({})).await;
    let open = |scan_source: Value| {
        capture_request(&app, Method::POST, "/api/capture/v1/session")
            .json(&json!({ "authorizationToken": token, "scanSource": scan_source }))
            .send()
    };
    let refused = assert_problem(
        open(json!("MOBILE")).await.unwrap(),
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "scanSource");
    assert_problem(open(json!(1)).await.unwrap(), 400, "VALIDATION_FAILED").await;
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(
        tx["transactionResult"], "CREATED",
        "a refused call changes nothing"
    );
    assert_eq!(open(json!("SDK")).await.unwrap().status(), 201);
    let (_, tx) = app.retrieve(&acme.admin, &reference).await;
    assert_eq!(
        (tx["transactionResult"].as_str(), tx["scanSource"].as_str()),
        (Some("STARTED"), Some("SDK"))
    );
    app.stop().await;
}

/// A face engine whose installation breaks once `broken` is set: its models
/// cannot load.
#[derive(Clone, Default)]
struct BrokenEngine {
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl facegate_core::FaceEngine for BrokenEngine {
    fn supports_model(&self, _: &str) -> bool {
        true
    }
    fn ready(&self) -> Result<(), facegate_core::engine::EngineError> {
        if !self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        Err(facegate_core::engine::EngineError(
            "model fr-liveness: file missing".into(),
        ))
    }
    async fn analyse_frame(
        &self,
        _: &str,
        _: facegate_core::engine::FrameInput,
    ) -> Result<facegate_core::engine::FrameAnalysis, facegate_core::engine::EngineError> {
        unreachable!("an engine that is not ready never analyses a frame")
    }
    async fn conclude(
        &self,
        _: facegate_core::engine::AttemptContext,
        _: Vec<facegate_core::engine::AnalysedFrame>,
    ) -> Result<facegate_core::engine::AttemptFindings, facegate_core::engine::EngineError> {
        unreachable!("an engine that is not ready never concludes an attempt")
    }
}

#[tokio::test]
async fn a_broken_face_engine_answers_500_without_using_up_an_attempt() {
    let engine = BrokenEngine::default();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        engine: Some(std::sync::Arc::new(engine.clone())),
        ..crate::helpers::Options::scripted_scans()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    let (_, token) = initiated(&app, &acme, json!({})).await;
    engine
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let capture = Capture::open(&app, &token).await;
    for _ in 0..4 {
        let body = assert_problem(capture.start_raw(true).await, 500, "INTERNAL_ERROR").await;
        assert!(
            !body["detail"].as_str().unwrap().contains("fr-liveness"),
            "{body}"
        );
    }
    let (_, view) = capture.status().await;
    assert_eq!(view["attemptsUsed"], 0, "{view}");
    app.stop().await;
}
