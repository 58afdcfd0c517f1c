//! ID verification ("scans", SPEC §1) over HTTP, with scripted engines: a
//! document engine whose findings the test chooses, and a face engine whose
//! selfie has a fixed template (compared for real, by cosine, with whatever
//! the attempt is compared with) and a liveness verdict the test chooses.
//! The life of a user: initiate → document and selfie → callback →
//! retrieval and the facemap download → DELETE → facemap authentication.

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use facegate_core::accounts::AccountChanges;
use facegate_core::documents::{DocumentAnalysis, DocumentEngine, PortraitTemplate};
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, AttemptFindings, EngineError, FaceEngine, FrameAnalysis,
    FrameInput,
};
use facegate_domain::{
    Country, DocumentData, DocumentFindings, DocumentType, Findings, FrameCounts, LivenessRecord,
    LivenessVerdict, RejectDetail, SideFindings, SimilarityRecord, Workflow, ZoneFinding,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::capture::{authorization_token, blank_jpeg, open_session, Capture};
use crate::helpers::{
    assert_problem, eventually, field_errors, form, json as body_json, merged, spawn_app_with,
    Credential, Customer, Options, Receiver, Server, TestApp, INITIATE, MODEL,
};

const SCAN_INITIATE: &str = "/api/v4/initiate";

pub(crate) fn scans(reference: &str) -> String {
    format!("/api/netverify/v2/scans/{reference}")
}

/// `POST /api/v4/initiate` with `body`, which must succeed; answers the
/// reference and the redirect URL.
pub(crate) async fn initiated_scan(
    server: &dyn Server,
    cred: &Credential,
    body: &Value,
) -> (String, String) {
    let response = server
        .request(Method::POST, SCAN_INITIATE, cred)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, answer) = body_json(response).await;
    assert_eq!(status, 200, "{answer}");
    (
        answer["transactionReference"].as_str().unwrap().to_owned(),
        answer["redirectUrl"].as_str().unwrap().to_owned(),
    )
}

/// Initiates an ID verification with a selfie (workflow 200) as a customer
/// enrolling a user does, with `extra` in the body; answers the reference
/// and the authorization token.
pub(crate) async fn initiate_scan(
    server: &dyn Server,
    cred: &Credential,
    extra: Value,
) -> (String, String) {
    let body = merged(
        json!({
            "customerInternalReference": "enrollment",
            "userReference": "user",
            "workflowId": 200,
        }),
        &extra,
    );
    let (reference, redirect) = initiated_scan(server, cred, &body).await;
    (reference, authorization_token(&redirect))
}

/// Downloads the facemap the approved scan `reference` issued and, unless
/// `keep`, deletes the scan (which leaves the tombstone that facemap
/// authentication requires).
pub(crate) async fn issued_facemap(
    server: &dyn Server,
    admin: &Credential,
    reference: &str,
    keep: bool,
) -> Vec<u8> {
    let scan = scans(reference);
    let response = server
        .download(&format!("{scan}/data/facemap"), admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the facemap download");
    let facemap = response.bytes().await.unwrap().to_vec();
    if !keep {
        let response = server.request(Method::DELETE, &scan, admin).send().await;
        let (status, body) = body_json(response.unwrap()).await;
        assert_eq!(status, 200, "the scan's deletion: {body}");
    }
    facemap
}

/// A template of the face model's size, different for every `seed`.
fn template(seed: f32) -> Vec<f32> {
    (0..512).map(|i| ((i as f32) * 0.37 + seed).sin()).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// The face engine: every selfie is the face whose template is
/// [`SELFIE`], or the document's portrait itself once
/// [`SelfieEngine::show_portrait`] is called; its liveness verdict is set by
/// the test.
#[derive(Clone)]
pub(crate) struct SelfieEngine {
    liveness: Arc<Mutex<(LivenessVerdict, Vec<String>)>>,
    portrait_shown: Arc<Mutex<bool>>,
}

/// The same-picture point the scripted engine's records carry.
const SAME_PICTURE: f32 = 0.95;

const SELFIE: f32 = 0.0;

impl SelfieEngine {
    pub(crate) fn new() -> Self {
        Self {
            liveness: Arc::new(Mutex::new((LivenessVerdict::Pass, Vec::new()))),
            portrait_shown: Arc::new(Mutex::new(false)),
        }
    }

    /// Whether every selfie from now on is the document's portrait shown
    /// to the camera: it scores as the portrait itself, whatever its
    /// liveness.
    pub(crate) fn show_portrait(&self, shown: bool) {
        *self.portrait_shown.lock().unwrap() = shown;
    }

    pub(crate) fn set(&self, verdict: LivenessVerdict, reasons: &[&str]) {
        *self.liveness.lock().unwrap() =
            (verdict, reasons.iter().map(|r| (*r).to_owned()).collect());
    }
}

#[async_trait]
impl FaceEngine for SelfieEngine {
    fn supports_model(&self, _: &str) -> bool {
        true
    }
    fn ready(&self) -> Result<(), EngineError> {
        Ok(())
    }
    async fn analyse_frame(&self, _: &str, _: FrameInput) -> Result<FrameAnalysis, EngineError> {
        crate::scripted::nothing_measured()
    }
    async fn conclude(
        &self,
        context: AttemptContext,
        _: Vec<AnalysedFrame>,
    ) -> Result<AttemptFindings, EngineError> {
        let portrait_shown = *self.portrait_shown.lock().unwrap();
        let portrait = context.templates.first().filter(|_| portrait_shown);
        let selfie = portrait.cloned().unwrap_or_else(|| template(SELFIE));
        let (verdict, reasons) = self.liveness.lock().unwrap().clone();
        let live = verdict == LivenessVerdict::Pass;
        // Like the real engine, a live selfie is scored even against no
        // template (the lowest score): the core must not read that as a
        // mismatch. A shown portrait is scored whatever its liveness.
        let similarity = (live || portrait.is_some()).then(|| {
            let score = context
                .templates
                .iter()
                .map(|t| cosine(&selfie, t))
                .fold(f32::MIN, f32::max);
            SimilarityRecord::new(context.model.clone(), score, 0.5, 1e-4, 1e-4)
                .with_same_picture(Some(SAME_PICTURE))
        });
        let jpeg = || Arc::<[u8]>::from(blank_jpeg());
        Ok(AttemptFindings {
            findings: Findings {
                frames: FrameCounts::default(),
                liveness: LivenessRecord {
                    reasons,
                    score: 1.0,
                    signals: Vec::new(),
                    verdict,
                },
                similarity,
            },
            face_image: Some(jpeg()),
            liveness_images: vec![jpeg(), jpeg()],
            templates: live.then_some(selfie).into_iter().collect(),
        })
    }
}

/// The document engine: the test sets what every document shows.
#[derive(Clone)]
pub(crate) struct ScriptedDocuments {
    analysis: Arc<Mutex<DocumentAnalysis>>,
    /// Whether every selfie image shows a document.
    in_selfie: Arc<Mutex<bool>>,
}

impl ScriptedDocuments {
    pub(crate) fn new() -> Self {
        Self {
            analysis: Arc::new(Mutex::new(passport_analysis())),
            in_selfie: Arc::new(Mutex::new(false)),
        }
    }

    pub(crate) fn show(&self, analysis: DocumentAnalysis) {
        *self.analysis.lock().unwrap() = analysis;
    }

    pub(crate) fn show_in_selfie(&self, shown: bool) {
        *self.in_selfie.lock().unwrap() = shown;
    }
}

impl DocumentEngine for ScriptedDocuments {
    fn ready(&self) -> Result<(), EngineError> {
        Ok(())
    }
    fn analyze(
        &self,
        front: &[u8],
        _back: Option<&[u8]>,
        _workflow: Workflow,
    ) -> Result<DocumentAnalysis, EngineError> {
        assert!(front.starts_with(&[0xFF, 0xD8]) || front.starts_with(b"\x89PNG"));
        Ok(self.analysis.lock().unwrap().clone())
    }
    fn document_in_view(&self, image: &[u8]) -> Result<bool, EngineError> {
        assert!(image.starts_with(&[0xFF, 0xD8]), "selfie images are JPEGs");
        Ok(*self.in_selfie.lock().unwrap())
    }
}

fn aut() -> Country {
    Country::parse("AUT", "c").unwrap()
}

fn passport_data() -> DocumentData {
    DocumentData {
        document_type: Some(DocumentType::Passport),
        subtype: None,
        issuing_country: Some(aut()),
        number: Some("P1234567".into()),
        first_name: Some("ANNA".into()),
        last_name: Some("MUSTER".into()),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 1, 2),
        expiry: NaiveDate::from_ymd_opt(2030, 5, 6),
        gender: Some('F'),
        nationality: Some(aut()),
        personal_number: Some("12345".into()),
        optional_data_1: None,
        optional_data_2: None,
        specimen: false,
    }
}

fn readable() -> SideFindings {
    SideFindings {
        document_found: true,
        ..SideFindings::default()
    }
}

/// A readable passport whose portrait is the selfie's face.
pub(crate) fn passport_analysis() -> DocumentAnalysis {
    DocumentAnalysis {
        findings: DocumentFindings {
            front: readable(),
            back: None,
            zone: ZoneFinding::Read(passport_data()),
            portrait_found: true,
        },
        portrait: Some(PortraitTemplate {
            model: MODEL.to_owned(),
            vector: template(SELFIE),
        }),
    }
}

/// The same passport with someone else's portrait.
pub(crate) fn someone_elses_passport() -> DocumentAnalysis {
    let mut analysis = passport_analysis();
    analysis.portrait = Some(PortraitTemplate {
        model: MODEL.to_owned(),
        vector: template(1.5),
    });
    analysis
}

pub(crate) struct Scans {
    pub(crate) app: TestApp,
    pub(crate) acme: Customer,
    pub(crate) documents: ScriptedDocuments,
    pub(crate) selfie: SelfieEngine,
}

pub(crate) async fn spawn_scans() -> Scans {
    let documents = ScriptedDocuments::new();
    let selfie = SelfieEngine::new();
    let app = spawn_app_with(Options {
        engine: Some(Arc::new(selfie.clone())),
        documents: Some(Arc::new(documents.clone())),
        ..Options::default()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    Scans {
        app,
        acme,
        documents,
        selfie,
    }
}

/// A document photo: a JPEG (or PNG) large enough to be read. Made once:
/// every enrollment of the tests uploads one.
pub(crate) fn document_image(png: bool) -> Vec<u8> {
    static IMAGES: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    IMAGES[usize::from(png)]
        .get_or_init(|| encode_document_image(png))
        .clone()
}

fn encode_document_image(png: bool) -> Vec<u8> {
    let image = image::RgbImage::from_fn(640, 400, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let format = if png {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

impl Scans {
    async fn initiate(&self, cred: &Credential, body: &Value) -> reqwest::Response {
        self.app
            .request(Method::POST, SCAN_INITIATE, cred)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Initiates; returns the reference and the authorization token.
    pub(crate) async fn initiated(&self, extra: Value) -> (String, String) {
        let body = merged(
            json!({
                "customerInternalReference": "transaction_1234",
                "userReference": "user_1234",
            }),
            &extra,
        );
        let (reference, redirect) = initiated_scan(&self.app, &self.acme.api, &body).await;
        (reference, authorization_token(&redirect))
    }

    async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.app.call(Method::GET, path, &self.acme.admin).await
    }

    async fn download(&self, path: &str) -> reqwest::Response {
        self.app
            .download(path, &self.acme.admin)
            .send()
            .await
            .unwrap()
    }
}

/// Uploads a document side: (status, body).
pub(crate) async fn upload(
    capture: &Capture<'_>,
    side: &str,
    method: &str,
    document_type: Option<&str>,
    image: Vec<u8>,
) -> reqwest::Response {
    let content_type = if image.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    let mut request = capture
        .request(Method::PUT, &format!("/api/capture/v1/documents/{side}"))
        .header("Content-Type", content_type)
        .header("Capture-Method", method)
        .body(image);
    if let Some(t) = document_type {
        request = request.header("Capture-Document-Type", t);
    }
    request.send().await.unwrap()
}

/// Gives the front (camera) and takes the selfie; returns the finish answer.
pub(crate) async fn capture_passport_and_selfie(server: &dyn Server, token: &str) -> Value {
    passport_and_selfie(&Capture::open(server, token).await).await
}

/// Gives the front (camera) and takes the selfie in an open capture
/// session; returns the finish answer.
pub(crate) async fn passport_and_selfie(capture: &Capture<'_>) -> Value {
    let (status, body) = body_json(
        upload(
            capture,
            "front",
            "CAMERA",
            Some("PASSPORT"),
            document_image(false),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let attempt = capture.start().await;
    let (status, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
    assert_eq!(status, 200, "{done}");
    done
}

pub(crate) async fn callback_of(
    receiver: &Receiver,
    n: usize,
) -> std::collections::HashMap<String, String> {
    eventually("the callback", || async { receiver.count() > n }).await;
    form(&receiver.all()[n].body)
}

/// A scan captured with a passport and a selfie, as its callback told it.
struct SelfieScan {
    reference: String,
    /// The selfie attempt's answer.
    done: Value,
    callback: std::collections::HashMap<String, String>,
    /// The callback's `identityVerification`, parsed.
    identity: Value,
}

/// Initiates a scan, captures a passport and a selfie, and waits for its
/// callback (the `n`-th at `receiver`).
async fn selfie_scan(s: &Scans, receiver: &Receiver, n: usize) -> SelfieScan {
    let (reference, token) = s.initiated(json!({"callbackUrl": receiver.url})).await;
    let done = capture_passport_and_selfie(&s.app, &token).await;
    let callback = callback_of(receiver, n).await;
    assert_eq!(callback["verificationStatus"], "APPROVED_VERIFIED");
    let identity = serde_json::from_str(&callback["identityVerification"]).unwrap();
    SelfieScan {
        reference,
        done,
        callback,
        identity,
    }
}

#[tokio::test]
async fn an_enrolled_user_authenticates_with_the_facemap_after_the_scan_is_deleted() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    let (reference, token) = s
        .initiated(json!({
            "workflowId": 200,
            "callbackUrl": receiver.url,
            "successUrl": "https://acme.example/done",
            "reportingCriteria": "myReport1234",
            "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}],
            "locale": "en-GB",
        }))
        .await;
    let (status, body) = s.get(&scans(&reference)).await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("PENDING"))
    );

    // The session tells the client what the capture needs.
    let (status, session) = body_json(open_session(&s.app, &token).await).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["transactionReference"], reference.as_str());
    assert_eq!(session["transactionStatus"], "PENDING");
    assert_eq!(session["locale"], "en-GB");
    assert_eq!(session["scan"]["sidesNeeded"], json!(["front"]));
    assert_eq!(session["scan"]["documentType"], "PASSPORT");
    assert_eq!(session["scan"]["selfie"], true);
    assert_eq!(
        session["scan"]["customerInternalReference"],
        "transaction_1234"
    );
    assert_eq!(
        session["scan"]["documentLimits"],
        json!({"maxBytes": 10_485_760, "minSide": 200, "maxSide": 8192})
    );

    let done = capture_passport_and_selfie(&s.app, &token).await;
    assert_eq!(done["outcome"], "PASSED");
    let redirect = done["redirect"]["url"].as_str().unwrap();
    assert!(
        redirect.starts_with(
            "https://acme.example/done?transactionStatus=SUCCESS&customerInternalReference=transaction_1234"
        ),
        "{redirect}"
    );

    let cb = callback_of(&receiver, 0).await;
    let base = format!("{}/api/netverify/v2/scans/{reference}", s.app.base);
    for (name, value) in [
        ("callBackType", "NETVERIFYID"),
        ("jumioIdScanReference", reference.as_str()),
        ("verificationStatus", "APPROVED_VERIFIED"),
        ("idScanStatus", "SUCCESS"),
        ("idScanSource", "WEB_CAM"),
        ("idCheckMRZcode", "OK"),
        ("idCheckHologram", "N/A"),
        ("idCheckMicroprint", "N/A"),
        ("idCheckSecurityFeatures", "N/A"),
        ("idCheckSignature", "N/A"),
        ("idCheckDataPositions", "N/A"),
        ("idCheckDocumentValidation", "N/A"),
        ("idType", "PASSPORT"),
        ("idCountry", "AUT"),
        ("idNumber", "P1234567"),
        ("idFirstName", "ANNA"),
        ("idLastName", "MUSTER"),
        ("idDob", "1990-01-02"),
        ("idExpiry", "2030-05-06"),
        ("gender", "F"),
        ("nationality", "AUT"),
        ("personalNumber", "12345"),
        ("merchantIdScanReference", "transaction_1234"),
        ("merchantReportingCriteria", "myReport1234"),
        ("customerId", "user_1234"),
        ("presetCountry", "AUT"),
        ("presetIdType", "PASSPORT"),
        ("idScanImage", &format!("{base}/images/front")),
        ("idScanImageFace", &format!("{base}/images/face")),
        ("facemap", &format!("{base}/data/facemap")),
    ] {
        assert_eq!(cb.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert!(!cb.contains_key("rejectReason") && !cb.contains_key("idScanImageBackside"));
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(identity, json!({"similarity": "MATCH", "validity": true}));
    let liveness: Vec<String> = serde_json::from_str(&cb["livenessImages"]).unwrap();
    assert_eq!(
        liveness,
        [
            format!("{base}/images/liveness/1"),
            format!("{base}/images/liveness/2")
        ]
    );
    assert!(cb["firstAttemptDate"].ends_with('Z') && cb["transactionDate"].ends_with('Z'));
    // The callback is signed like every callback.
    assert!(receiver.all()[0].headers.contains_key("webhook-signature"));

    // Retrieval.
    let (status, body) = s.get(&scans(&reference)).await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("DONE"))
    );
    let (_, data) = s.get(&format!("{}/data", scans(&reference))).await;
    assert_eq!(data["scanReference"], reference.as_str());
    assert_eq!(data["document"]["status"], "APPROVED_VERIFIED");
    assert_eq!(data["document"]["firstName"], "ANNA");
    assert_eq!(data["document"]["issuingCountry"], "AUT");
    assert_eq!(data["document"]["dob"], "1990-01-02");
    assert!(data["document"].get("timestamp").is_none());
    assert_eq!(data["transaction"]["status"], "DONE");
    assert_eq!(data["transaction"]["source"], "WEB_CAM");
    assert_eq!(
        data["transaction"]["merchantScanReference"],
        "transaction_1234"
    );
    assert_eq!(data["transaction"]["customerId"], "user_1234");
    assert_eq!(data["verification"]["mrzCheck"], "OK");
    assert_eq!(
        data["verification"]["identityVerification"],
        json!({"similarity": "MATCH", "validity": "true"})
    );
    let evidence = &data["verification"]["evidence"];
    assert_eq!(evidence["document"]["zone"], "READ");
    assert_eq!(evidence["selfie"]["similarity"]["match"], true);
    assert_eq!(evidence["facemapIssued"], true);
    assert!(
        !evidence.to_string().contains("ANNA"),
        "no PII in the evidence"
    );
    assert_eq!(
        data["facemap"],
        json!({"classifier": "facemap", "href": format!("{base}/data/facemap")})
    );
    for part in ["document", "transaction", "verification"] {
        let (status, body) = s.get(&format!("{}/data/{part}", scans(&reference))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scanReference"], reference.as_str(), "{part}");
        assert!(body["timestamp"].is_string(), "{part}");
    }
    let (_, images) = s.get(&format!("{}/images", scans(&reference))).await;
    let classifiers: Vec<&str> = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["classifier"].as_str().unwrap())
        .collect();
    assert_eq!(classifiers, ["front", "face"]);
    assert_eq!(images["livenessImages"].as_array().unwrap().len(), 2);
    let front = s
        .download(&format!("{}/images/front", scans(&reference)))
        .await;
    assert_eq!(front.status(), 200);
    assert_eq!(front.headers()["content-type"], "image/jpeg");
    assert_eq!(front.bytes().await.unwrap().to_vec(), document_image(false));
    let face = s
        .download(&format!("{}/images/liveness/2", scans(&reference)))
        .await;
    assert_eq!(face.status(), 200);
    let missing = s
        .download(&format!("{}/images/back", scans(&reference)))
        .await;
    assert_problem(missing, 404, "IMAGE_NOT_FOUND").await;

    let response = s
        .download(&format!("{}/data/facemap", scans(&reference)))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let facemap = response.bytes().await.unwrap().to_vec();

    // The server still holds the facemap: web authentication may start,
    // facemap authentication may not until the scan is deleted.
    let metadata = json!({"enrollmentTransactionReference": reference});
    let (status, body) = body_json(
        s.app
            .request(Method::POST, crate::helpers::WEB_INITIATE, &s.acme.api)
            .json(&metadata)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_problem(
        s.app.initiate(&s.acme.api, &metadata, &facemap).await,
        409,
        "ENROLLMENT_NOT_DELETED",
    )
    .await;

    let (status, body) = s
        .app
        .call(Method::DELETE, &scans(&reference), &s.acme.admin)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deleted"], true);
    for path in ["", "/data", "/images", "/data/verification"] {
        let (status, body) = s.get(&format!("{}{path}", scans(&reference))).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (404, Some("SCAN_NOT_FOUND")),
            "{path}"
        );
    }
    let gone = s
        .download(&format!("{}/data/facemap", scans(&reference)))
        .await;
    assert_problem(gone, 404, "SCAN_NOT_FOUND").await;
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(&reference), &s.acme.admin)
        .await;
    assert_eq!(status, 404, "a second delete finds nothing");

    // Facemap authentication with the customer's copy: the same face passes.
    let response = s.app.initiate(&s.acme.api, &metadata, &facemap).await;
    let (status, body) = body_json(response).await;
    assert_eq!(status, 200, "{body}");
    let capture = Capture::open(
        &s.app,
        &authorization_token(body["redirectUrl"].as_str().unwrap()),
    )
    .await;
    let attempt = capture.start().await;
    let (status, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
    assert_eq!(
        (status.as_u16(), done["outcome"].as_str()),
        (200, Some("PASSED")),
        "{done}"
    );
}

/// `clientIp` (callback and transaction data) is the address the user's
/// capture session was opened from: behind a trusted proxy, the address it
/// forwards.
#[tokio::test]
async fn the_client_ip_is_the_capturing_users_address_behind_a_trusted_proxy() {
    let documents = ScriptedDocuments::new();
    let app = spawn_app_with(Options {
        engine: Some(Arc::new(SelfieEngine::new())),
        documents: Some(Arc::new(documents)),
        configure: Some(Box::new(|config| {
            config.auth.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
        })),
        ..Options::default()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    let receiver = Receiver::start(0).await;
    let body = json!({"customerInternalReference": "c", "userReference": "u", "callbackUrl": receiver.url});
    let (status, answer) = body_json(
        app.request(Method::POST, SCAN_INITIATE, &acme.api)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let reference = answer["transactionReference"].as_str().unwrap();
    let token = authorization_token(answer["redirectUrl"].as_str().unwrap());
    let (status, opened) = body_json(
        app.client
            .post(app.url("/api/capture/v1/session"))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Tests/1.0")
            .header("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
            .json(&json!({"authorizationToken": token}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let capture = Capture {
        server: &app,
        token: opened["captureToken"].as_str().unwrap().to_owned(),
    };
    assert_eq!(passport_and_selfie(&capture).await["outcome"], "PASSED");
    let cb = callback_of(&receiver, 0).await;
    assert_eq!(cb["clientIp"], "203.0.113.7");
    let (_, transaction) = app
        .call(
            Method::GET,
            &format!("{}/data/transaction", scans(reference)),
            &acme.admin,
        )
        .await;
    assert_eq!(transaction["clientIp"], "203.0.113.7", "{transaction}");
}

#[tokio::test]
async fn another_persons_document_is_denied_107_and_issues_no_facemap() {
    let s = spawn_scans().await;
    s.documents.show(someone_elses_passport());
    let receiver = Receiver::start(0).await;
    let (reference, token) = s.initiated(json!({"callbackUrl": receiver.url})).await;
    let done = capture_passport_and_selfie(&s.app, &token).await;
    assert_eq!(done["outcome"], "PASSED", "the selfie itself was live");
    let cb = callback_of(&receiver, 0).await;
    assert_eq!(cb["verificationStatus"], "DENIED_FRAUD");
    assert_eq!(cb["idScanStatus"], "ERROR");
    assert_eq!(cb["idCheckMRZcode"], "N/A");
    let reject: Value = serde_json::from_str(&cb["rejectReason"]).unwrap();
    assert_eq!(
        reject,
        json!({"rejectReasonCode": "107", "rejectReasonDescription": "PHOTO_MISMATCH"})
    );
    assert!(!cb.contains_key("facemap") && !cb.contains_key("identityVerification"));
    let (_, verification) = s
        .get(&format!("{}/data/verification", scans(&reference)))
        .await;
    assert_eq!(verification["rejectReason"]["rejectReasonCode"], "107");
    assert_eq!(
        verification["identityVerification"]["similarity"],
        "NO_MATCH"
    );
    let response = s
        .download(&format!("{}/data/facemap", scans(&reference)))
        .await;
    assert_problem(response, 404, "FACEMAP_NOT_FOUND").await;
    let (_, data) = s.get(&format!("{}/data", scans(&reference))).await;
    assert!(data.get("facemap").is_none(), "{data}");
    // Deleted, the enrollment still refuses facemap authentication.
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(&reference), &s.acme.admin)
        .await;
    assert_eq!(status, 200);
    let metadata = json!({"enrollmentTransactionReference": reference});
    assert_problem(
        s.app.initiate(&s.acme.api, &metadata, b"no facemap").await,
        409,
        "ENROLLMENT_NOT_APPROVED",
    )
    .await;
}

#[tokio::test]
async fn a_selfie_that_is_not_live_keeps_the_status_but_issues_no_facemap() {
    let s = spawn_scans().await;
    s.selfie.set(LivenessVerdict::Fail, &["PASSIVE_SPOOF"]);
    let receiver = Receiver::start(0).await;
    let scan = selfie_scan(&s, &receiver, 0).await;
    assert_eq!(scan.done["outcome"], "FAILED");
    assert_eq!(
        scan.identity,
        json!({"similarity": "NOT_POSSIBLE", "validity": false, "reason": "SELFIE_IS_SCREEN_PAPER_VIDEO"})
    );
    assert!(!scan.callback.contains_key("facemap"));
    let (_, verification) = s
        .get(&format!("{}/data/verification", scans(&scan.reference)))
        .await;
    assert_eq!(verification["identityVerification"]["validity"], "false");
}

#[tokio::test]
async fn a_document_shown_as_the_selfie_is_entire_id_used_as_selfie_and_issues_no_facemap() {
    let s = spawn_scans().await;
    s.documents.show_in_selfie(true);
    let receiver = Receiver::start(0).await;
    let scan = selfie_scan(&s, &receiver, 0).await;
    assert_eq!(
        scan.done["outcome"], "PASSED",
        "liveness alone was satisfied"
    );
    assert_eq!(
        scan.identity,
        json!({"similarity": "MATCH", "validity": false, "reason": "ENTIRE_ID_USED_AS_SELFIE"})
    );
    assert!(!scan.callback.contains_key("facemap"));
    let response = s
        .download(&format!("{}/data/facemap", scans(&scan.reference)))
        .await;
    assert_problem(response, 404, "FACEMAP_NOT_FOUND").await;
}

/// A selfie that failed its liveness and scores as the document's portrait
/// itself (the same picture, not another picture of its holder) names
/// that: `SELFIE_CROPPED_FROM_ID`, the threshold kept in the evidence.
#[tokio::test]
async fn the_documents_own_portrait_shown_as_the_selfie_is_selfie_cropped_from_id() {
    let s = spawn_scans().await;
    s.selfie.set(LivenessVerdict::Fail, &["PASSIVE_SPOOF"]);
    s.selfie.show_portrait(true);
    let receiver = Receiver::start(0).await;
    let scan = selfie_scan(&s, &receiver, 0).await;
    assert_eq!(scan.done["outcome"], "FAILED");
    assert_eq!(
        scan.identity,
        json!({"similarity": "MATCH", "validity": false, "reason": "SELFIE_CROPPED_FROM_ID"})
    );
    assert!(!scan.callback.contains_key("facemap"));
    let (_, data) = s.get(&format!("{}/data", scans(&scan.reference))).await;
    let evidence = &data["verification"]["evidence"];
    for kept in [
        &evidence["policy"]["samePictureThreshold"],
        &evidence["selfie"]["similarity"]["samePictureThreshold"],
    ] {
        let kept = kept.as_f64().unwrap_or_else(|| panic!("{evidence}"));
        assert!((kept - f64::from(SAME_PICTURE)).abs() < 1e-6, "{kept}");
    }
    // The same portrait in front of a live person's capture: the person.
    s.selfie.set(LivenessVerdict::Pass, &[]);
    let live = selfie_scan(&s, &receiver, 1).await;
    assert_eq!(
        live.identity,
        json!({"similarity": "MATCH", "validity": true})
    );
    assert!(live.callback.contains_key("facemap"));
}

#[tokio::test]
async fn a_portrait_without_a_template_is_not_possible_never_a_mismatch() {
    let s = spawn_scans().await;
    let mut analysis = passport_analysis();
    analysis.portrait = None;
    s.documents.show(analysis);
    let receiver = Receiver::start(0).await;
    let (reference, token) = s.initiated(json!({"callbackUrl": receiver.url})).await;
    capture_passport_and_selfie(&s.app, &token).await;
    let cb = callback_of(&receiver, 0).await;
    assert_eq!(cb["verificationStatus"], "APPROVED_VERIFIED");
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(
        identity,
        json!({"similarity": "NOT_POSSIBLE", "validity": true})
    );
    assert!(!cb.contains_key("facemap"));
    let (_, data) = s.get(&format!("{}/data", scans(&reference))).await;
    assert_eq!(
        data["verification"]["evidence"]["document"]["portraitTemplate"],
        false
    );
}

#[tokio::test]
async fn an_unusable_selfie_is_retried_and_the_last_attempt_decides() {
    let s = spawn_scans().await;
    s.selfie.set(LivenessVerdict::Retry, &["TURN_NOT_DONE"]);
    let receiver = Receiver::start(0).await;
    let (_, token) = s
        .initiated(json!({"callbackUrl": receiver.url, "errorUrl": "https://acme.example/err"}))
        .await;
    let capture = Capture::open(&s.app, &token).await;
    let response = upload(
        &capture,
        "front",
        "UPLOAD",
        Some("PASSPORT"),
        document_image(true),
    )
    .await;
    assert_eq!(response.status(), 200);
    for n in 1..=3 {
        let attempt = capture.start().await;
        let (_, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
        if n < 3 {
            assert_eq!(done["outcome"], "RETRY");
            assert_eq!(done["guidance"], json!(["TURN_FURTHER"]));
            assert_eq!(receiver.count(), 0);
        } else {
            assert_eq!(done["outcome"], "INVALID");
            assert_eq!(done["redirect"]["errorCode"], 9835, "web v4's code");
            assert!(done["redirect"]["url"]
                .as_str()
                .unwrap()
                .starts_with("https://acme.example/err?transactionStatus=ERROR"));
        }
    }
    let cb = callback_of(&receiver, 0).await;
    assert_eq!(cb["idScanSource"], "WEB_UPLOAD");
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(identity["reason"], "LIVENESS_FAILED");
    assert_problem(capture.start_raw(true).await, 409, "TRANSACTION_FINISHED").await;
}

/// The liveness engine's findings about the person in front of the camera
/// reach `identityVerification.reason`: a second face is `MULTIPLE_PEOPLE`
/// (the liveness fails), no face in three attempts `NO_FACE_PRESENT`.
#[tokio::test]
async fn two_faces_or_no_face_in_the_selfie_name_their_validity_reason() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    s.selfie.set(LivenessVerdict::Fail, &["MULTIPLE_FACES"]);
    let (_, token) = s.initiated(json!({"callbackUrl": receiver.url})).await;
    let done = capture_passport_and_selfie(&s.app, &token).await;
    assert_eq!(done["outcome"], "FAILED");
    let cb = callback_of(&receiver, 0).await;
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(
        identity,
        json!({"similarity": "NOT_POSSIBLE", "validity": false, "reason": "MULTIPLE_PEOPLE"})
    );
    assert!(!cb.contains_key("facemap"));

    s.selfie.set(LivenessVerdict::Retry, &["FACE_NOT_FOUND"]);
    let (_, token) = s.initiated(json!({"callbackUrl": receiver.url})).await;
    let capture = Capture::open(&s.app, &token).await;
    let response = upload(
        &capture,
        "front",
        "CAMERA",
        Some("PASSPORT"),
        document_image(false),
    )
    .await;
    assert_eq!(response.status(), 200);
    for n in 1..=3 {
        let attempt = capture.start().await;
        let (_, done) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
        let expected = if n < 3 { "RETRY" } else { "INVALID" };
        assert_eq!(done["outcome"], expected, "attempt {n}");
    }
    let cb = callback_of(&receiver, 1).await;
    let identity: Value = serde_json::from_str(&cb["identityVerification"]).unwrap();
    assert_eq!(identity["validity"], false);
    assert_eq!(identity["reason"], "NO_FACE_PRESENT");
    assert!(!cb.contains_key("facemap"));
}

/// What a document shows, and the status and reject reason it must get.
struct Denied {
    analysis: DocumentAnalysis,
    status: &'static str,
    reject: Option<(&'static str, Vec<&'static str>)>,
}

fn denied_cases() -> Vec<Denied> {
    let mut cases = Vec::new();
    let mut case = |change: &dyn Fn(&mut DocumentAnalysis), status, reject| {
        let mut analysis = passport_analysis();
        change(&mut analysis);
        cases.push(Denied {
            analysis,
            status,
            reject,
        });
    };
    case(
        &|a| a.findings.front.document_found = false,
        "ERROR_NOT_READABLE_ID",
        Some(("201", vec![])),
    );
    case(
        &|a| a.findings.front.black_and_white = true,
        "ERROR_NOT_READABLE_ID",
        Some(("102", vec![])),
    );
    case(
        &|a| a.findings.front.unreadable = vec![RejectDetail::Blurred, RejectDetail::Glare],
        "ERROR_NOT_READABLE_ID",
        Some(("200", vec!["2001", "2006"])),
    );
    case(
        &|a| a.findings.zone = ZoneFinding::CheckFailed(vec![RejectDetail::DocumentNumber]),
        "DENIED_FRAUD",
        Some(("108", vec![])),
    );
    case(
        &|a| {
            let mut data = passport_data();
            data.specimen = true;
            a.findings.zone = ZoneFinding::Read(data);
        },
        "ERROR_NOT_READABLE_ID",
        Some(("202", vec![])),
    );
    case(
        &|a| {
            a.findings.portrait_found = false;
            a.portrait = None;
        },
        "ERROR_NOT_READABLE_ID",
        Some(("200", vec!["2002"])),
    );
    case(
        &|a| {
            let mut data = passport_data();
            data.expiry = NaiveDate::from_ymd_opt(2025, 12, 31);
            a.findings.zone = ZoneFinding::Read(data);
        },
        "DENIED_UNSUPPORTED_ID_TYPE",
        None,
    );
    case(
        &|a| {
            let mut data = passport_data();
            data.issuing_country = Some(Country::parse("CHE", "c").unwrap());
            a.findings.zone = ZoneFinding::Read(data);
        },
        "DENIED_UNSUPPORTED_ID_COUNTRY",
        None,
    );
    case(
        &|a| {
            let mut data = passport_data();
            data.document_type = Some(DocumentType::IdCard);
            a.findings.zone = ZoneFinding::Read(data);
        },
        "DENIED_UNSUPPORTED_ID_TYPE",
        None,
    );
    cases
}

#[tokio::test]
async fn every_document_refusal_reaches_the_callback_and_retrieval() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    for (n, case) in denied_cases().into_iter().enumerate() {
        s.documents.show(case.analysis.clone());
        // An ID-only scan, preset to an Austrian passport.
        let (reference, token) = s
            .initiated(json!({
                "workflowId": 100,
                "callbackUrl": receiver.url,
                "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}],
            }))
            .await;
        let capture = Capture::open(&s.app, &token).await;
        let response = upload(&capture, "front", "CAMERA", None, document_image(false)).await;
        assert_eq!(response.status(), 200);
        let (status, done) = body_json(
            capture
                .request(Method::POST, "/api/capture/v1/scan/finish")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["redirect"]["transactionStatus"], "SUCCESS");
        let cb = callback_of(&receiver, n).await;
        assert_eq!(cb["jumioIdScanReference"], reference);
        assert_eq!(cb["verificationStatus"], case.status, "case {n}");
        assert_eq!(cb["idScanStatus"], "ERROR");
        assert!(!cb.contains_key("identityVerification") && !cb.contains_key("facemap"));
        let (_, verification) = s
            .get(&format!("{}/data/verification", scans(&reference)))
            .await;
        match &case.reject {
            None => {
                assert!(!cb.contains_key("rejectReason"), "case {n}");
                assert!(verification.get("rejectReason").is_none());
                // What was read is kept for an unsupported document.
                assert_eq!(cb["idNumber"], "P1234567");
            }
            Some((code, details)) => {
                let reject: Value = serde_json::from_str(&cb["rejectReason"]).unwrap();
                assert_eq!(reject["rejectReasonCode"], *code, "case {n}");
                assert_eq!(verification["rejectReason"], reject, "case {n}");
                let found: Vec<&str> = match &reject["rejectReasonDetails"] {
                    Value::Null => vec![],
                    Value::Array(all) => all
                        .iter()
                        .map(|d| d["detailsCode"].as_str().unwrap())
                        .collect(),
                    one => vec![one["detailsCode"].as_str().unwrap()],
                };
                assert_eq!(&found, details, "case {n}");
            }
        }
        let (_, document) = s.get(&format!("{}/data/document", scans(&reference))).await;
        assert_eq!(document["status"], case.status);
    }
}

/// Finishes an ID-only scan whose front the scripted engine reads; answers
/// the callback's verification status.
async fn id_only_status(s: &Scans, receiver: &Receiver, n: usize) -> String {
    let (_, token) = s
        .initiated(json!({"workflowId": 100, "callbackUrl": receiver.url}))
        .await;
    let capture = Capture::open(&s.app, &token).await;
    let response = upload(
        &capture,
        "front",
        "CAMERA",
        Some("PASSPORT"),
        document_image(false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let response = capture
        .request(Method::POST, "/api/capture/v1/scan/finish")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    callback_of(receiver, n).await["verificationStatus"].clone()
}

#[tokio::test]
async fn the_account_decides_which_documents_it_accepts() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    let set = |changes: AccountChanges| {
        let services = s.app.services.clone();
        let id = s.acme.account.id;
        async move { services.update_account(id, changes).await.unwrap() }
    };
    // Every document by default: the scripted Austrian passport passes.
    assert_eq!(id_only_status(&s, &receiver, 0).await, "APPROVED_VERIFIED");
    set(AccountChanges {
        accepted_document_types: Some("ID_CARD,DRIVING_LICENSE".into()),
        ..AccountChanges::default()
    })
    .await;
    assert_eq!(
        id_only_status(&s, &receiver, 1).await,
        "DENIED_UNSUPPORTED_ID_TYPE"
    );
    set(AccountChanges {
        accepted_document_types: Some(String::new()),
        accepted_countries: Some("DEU,CHE".into()),
        ..AccountChanges::default()
    })
    .await;
    // The capture session tells the client, so that it offers only those.
    let (_, token) = s.initiated(json!({"workflowId": 100})).await;
    let (_, session) = body_json(open_session(&s.app, &token).await).await;
    assert_eq!(session["scan"]["acceptedCountries"], json!(["DEU", "CHE"]));
    assert_eq!(session["scan"]["acceptedDocumentTypes"], json!([]));
    assert_eq!(
        id_only_status(&s, &receiver, 2).await,
        "DENIED_UNSUPPORTED_ID_COUNTRY"
    );
    set(AccountChanges {
        accepted_countries: Some("AUT".into()),
        ..AccountChanges::default()
    })
    .await;
    assert_eq!(id_only_status(&s, &receiver, 3).await, "APPROVED_VERIFIED");

    // An expired passport is refused unless the account accepts it.
    let mut expired = passport_analysis();
    let mut data = passport_data();
    data.expiry = NaiveDate::from_ymd_opt(2025, 12, 31);
    expired.findings.zone = ZoneFinding::Read(data);
    s.documents.show(expired);
    assert_eq!(
        id_only_status(&s, &receiver, 4).await,
        "DENIED_UNSUPPORTED_ID_TYPE"
    );
    set(AccountChanges {
        accept_expired_documents: Some(true),
        ..AccountChanges::default()
    })
    .await;
    assert_eq!(id_only_status(&s, &receiver, 5).await, "APPROVED_VERIFIED");

    // An unknown type or country is refused with the field named.
    let refused = s
        .app
        .services
        .update_account(
            s.acme.account.id,
            AccountChanges {
                accepted_document_types: Some("PASSPORT,VISA".into()),
                accepted_countries: Some("UTO".into()),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap_err();
    let text = format!("{refused:?}");
    assert!(
        text.contains("acceptedDocumentTypes") && text.contains("acceptedCountries"),
        "{text}"
    );
}

#[tokio::test]
async fn every_initiate_field_is_validated_and_all_errors_come_at_once() {
    let s = spawn_scans().await;
    let body = json!({
        "userReference": "u".repeat(101),
        "reportingCriteria": "a\u{7}b",
        "successUrl": "https://acme.example/ok?customerInternalReference=x",
        "errorUrl": "http://acme.example/err",
        "callbackUrl": "https://10.0.0.1/cb",
        "workflowId": 300,
        "presets": [{"index": 2, "country": "Austria", "type": "PASSPORT"}],
        "locale": "xx",
        "tokenLifetimeInMinutes": 4,
    });
    let response = s.initiate(&s.acme.api, &body).await;
    let problem = assert_problem(response, 400, "VALIDATION_FAILED").await;
    assert_eq!(
        field_errors(&problem),
        [
            "customerInternalReference:FIELD_REQUIRED",
            "userReference:REFERENCE_TOO_LONG",
            "reportingCriteria:REFERENCE_INVALID",
            "successUrl:URL_RESERVED_QUERY",
            "errorUrl:URL_NOT_HTTPS",
            "callbackUrl:URL_IP_HOST",
            "workflowId:WORKFLOW_INVALID",
            "presets[0].index:PRESET_INDEX_INVALID",
            "presets[0].country:COUNTRY_INVALID",
            "locale:LOCALE_UNSUPPORTED",
            "tokenLifetimeInMinutes:TOKEN_LIFETIME_OUT_OF_RANGE",
        ]
    );
    // Wrong JSON types, member by member.
    let body = json!({
        "customerInternalReference": true,
        "userReference": [],
        "workflowId": "two hundred",
        "presets": {"index": 1},
        "locale": 7,
    });
    let problem = assert_problem(
        s.initiate(&s.acme.api, &body).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [
            "customerInternalReference:FIELD_TYPE",
            "userReference:FIELD_TYPE",
            "workflowId:FIELD_TYPE",
            "presets:FIELD_TYPE",
            "locale:FIELD_TYPE",
        ]
    );
    let two = json!({
        "customerInternalReference": "c", "userReference": "u",
        "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"},
                    {"index": 1, "country": "AUT", "type": "ID_CARD"}],
    });
    let problem = assert_problem(
        s.initiate(&s.acme.api, &two).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(field_errors(&problem), ["presets:PRESETS_INVALID"]);
    // Numbers are their decimal text; the enrollment locales are accepted;
    // "30" is a lifetime.
    let ok = json!({
        "customerInternalReference": 1234, "userReference": 5678, "locale": "ar",
        "workflowId": "201", "tokenLifetimeInMinutes": "30",
    });
    let (status, body) = body_json(s.initiate(&s.acme.api, &ok).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["redirectUrl"].as_str().unwrap().starts_with(&format!(
        "{}/web/v4/app?locale=ar&authorizationToken=",
        s.app.base
    )));
    assert_eq!(body["transactionReference"].as_str().unwrap().len(), 36);
    let reference = body["transactionReference"].as_str().unwrap();
    let (_, transaction) = s
        .get(&format!("{}/data/transaction", scans(reference)))
        .await;
    assert_eq!(transaction["merchantScanReference"], "1234");
    assert_eq!(transaction["customerId"], "5678");
    assert_eq!(transaction["source"], "WEB");
    // Not JSON, or not an object.
    let response = s
        .app
        .request(Method::POST, SCAN_INITIATE, &s.acme.api)
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    assert_problem(
        s.initiate(&s.acme.api, &json!([1])).await,
        400,
        "MALFORMED_JSON",
    )
    .await;
    // The trailing slash of the guide's sample works.
    let response = s
        .app
        .request(Method::POST, "/api/v4/initiate/", &s.acme.api)
        .json(&json!({"customerInternalReference": "c", "userReference": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_account_may_refuse_references_that_look_like_personal_data() {
    let s = spawn_scans().await;
    s.app
        .services
        .update_account(
            s.acme.account.id,
            AccountChanges {
                refuse_pii_user_reference: Some(true),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let body = json!({
        "customerInternalReference": "anna@example.com",
        "userReference": "+43 660 1234567",
    });
    let problem = assert_problem(
        s.initiate(&s.acme.api, &body).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [
            "customerInternalReference:REFERENCE_LOOKS_LIKE_PII",
            "userReference:REFERENCE_LOOKS_LIKE_PII",
        ]
    );
}

#[tokio::test]
async fn a_user_who_never_finishes_ends_no_id_uploaded_when_the_token_lifetime_ends() {
    let s = spawn_scans().await;
    let receiver = Receiver::start(0).await;
    let (reference, token) = s
        .initiated(json!({"callbackUrl": receiver.url, "tokenLifetimeInMinutes": 5}))
        .await;
    let capture = Capture::open(&s.app, &token).await;
    s.app.advance(Duration::minutes(5));
    let cb = callback_of(&receiver, 0).await;
    assert_eq!(cb["callBackType"], "NETVERIFYID");
    assert_eq!(cb["verificationStatus"], "NO_ID_UPLOADED");
    assert_eq!(cb["idScanStatus"], "ERROR");
    assert_eq!(cb["idScanSource"], "WEB");
    assert_eq!(cb["merchantIdScanReference"], "transaction_1234");
    assert!(!cb.contains_key("rejectReason") && !cb.contains_key("idScanImage"));
    let (_, body) = s.get(&scans(&reference)).await;
    assert_eq!(body["status"], "FAILED");
    let (_, document) = s.get(&format!("{}/data/document", scans(&reference))).await;
    assert_eq!(document["status"], "NO_ID_UPLOADED");
    assert_problem(
        open_session(&s.app, &token).await,
        409,
        "TRANSACTION_EXPIRED",
    )
    .await;
    let response = upload(
        &capture,
        "front",
        "CAMERA",
        Some("PASSPORT"),
        document_image(false),
    )
    .await;
    assert_eq!(
        response.status(),
        401,
        "the session ended with the scan's lifetime"
    );
    // The enrollment never approved: no facemap authentication.
    let metadata = json!({"enrollmentTransactionReference": reference});
    assert_problem(
        s.app.initiate(&s.acme.api, &metadata, b"x").await,
        409,
        "ENROLLMENT_NOT_DELETED",
    )
    .await;
}

#[tokio::test]
async fn retention_erases_finished_scans_and_keeps_the_tombstone() {
    let s = spawn_scans().await;
    s.app
        .services
        .update_account(
            s.acme.account.id,
            AccountChanges {
                scan_retention_days: Some(1),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    let (reference, token) = s.initiated(json!({})).await;
    capture_passport_and_selfie(&s.app, &token).await;
    let facemap = s
        .download(&format!("{}/data/facemap", scans(&reference)))
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    s.app.advance(Duration::hours(23));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, _) = s.get(&scans(&reference)).await;
    assert_eq!(status, 200, "within the retention");
    s.app.advance(Duration::hours(2));
    eventually("the retention sweep", || async {
        s.get(&scans(&reference)).await.0 == 404
    })
    .await;
    let tombstone = s
        .app
        .fixture_store()
        .enrollment(reference.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(tombstone.is_deleted() && tombstone.server_facemap.is_none());
    let metadata = json!({"enrollmentTransactionReference": reference});
    let (status, body) = body_json(s.app.initiate(&s.acme.api, &metadata, &facemap).await).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn roles_initiate_and_administer_scans_apart() {
    let s = spawn_scans().await;
    let body = json!({"customerInternalReference": "c", "userReference": "u"});
    assert_problem(
        s.initiate(&s.acme.admin, &body).await,
        403,
        "FORBIDDEN_ROLE",
    )
    .await;
    let (status, answer) = body_json(s.initiate(&s.acme.main, &body).await).await;
    assert_eq!(status, 200, "{answer}");
    let reference = answer["transactionReference"].as_str().unwrap();
    let (status, body) = s
        .app
        .call(Method::GET, &scans(reference), &s.acme.api)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("FORBIDDEN_ROLE"))
    );
    let (status, _) = s
        .app
        .call(Method::DELETE, &scans(reference), &s.acme.api)
        .await;
    assert_eq!(status, 403);
    for cred in [&s.acme.admin, &s.acme.main] {
        let (status, _) = s.app.call(Method::GET, &scans(reference), cred).await;
        assert_eq!(status, 200);
    }
    // Another account's scan is unknown; so is a malformed reference.
    let other = s.app.customer("Other", true).await;
    let (status, body) = s
        .app
        .call(Method::GET, &scans(reference), &other.main)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("SCAN_NOT_FOUND"))
    );
    let (status, _) = s.app.call(Method::GET, &scans("nope"), &s.acme.admin).await;
    assert_eq!(status, 404);
    let response = s
        .app
        .client
        .get(s.app.url(&scans(reference)))
        .header("Accept", "application/json")
        .header("User-Agent", "Facegate Tests/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // An authentication reference is no scan, and a scan no authentication.
    let (status, _) = s
        .app
        .call(
            Method::GET,
            &format!("/api/netverify/v2/authentications/{reference}"),
            &s.acme.admin,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_capture_refuses_what_the_workflow_and_the_document_do_not_allow() {
    let s = spawn_scans().await;
    // ID and identity, upload only, no preset.
    let (_, token) = s.initiated(json!({"workflowId": 202})).await;
    let capture = Capture::open(&s.app, &token).await;
    let (_, session) = capture.status().await;
    assert_eq!(session["scan"]["camera"], false);
    assert_eq!(session["scan"]["documentType"], Value::Null);
    let jpeg = || document_image(false);
    assert_problem(
        upload(&capture, "front", "CAMERA", Some("ID_CARD"), jpeg()).await,
        409,
        "CAPTURE_METHOD_NOT_ALLOWED",
    )
    .await;
    let problem = assert_problem(
        upload(&capture, "front", "UPLOAD", None, jpeg()).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        ["Capture-Document-Type:FIELD_REQUIRED"]
    );
    let problem = assert_problem(
        upload(&capture, "front", "FAX", Some("SCROLL"), jpeg()).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [
            "Capture-Method:FIELD_INVALID",
            "Capture-Document-Type:DOCUMENT_TYPE_INVALID"
        ]
    );
    assert_problem(
        upload(&capture, "front", "UPLOAD", Some("ID_CARD"), blank_jpeg()).await,
        400,
        "DOCUMENT_INVALID",
    )
    .await;
    assert_problem(
        upload(
            &capture,
            "front",
            "UPLOAD",
            Some("ID_CARD"),
            b"GIF89a".to_vec(),
        )
        .await,
        400,
        "DOCUMENT_INVALID",
    )
    .await;
    let response = capture
        .request(Method::PUT, "/api/capture/v1/documents/front")
        .header("Content-Type", "text/plain")
        .header("Capture-Method", "UPLOAD")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let response = capture
        .request(Method::PUT, "/api/capture/v1/documents/front")
        .header("Content-Type", "image/jpeg")
        .header("Capture-Method", "UPLOAD")
        .body(vec![0u8; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "DOCUMENT_TOO_LARGE").await;
    // An ID card: the front names it, then the back is needed.
    let (status, session) =
        body_json(upload(&capture, "front", "UPLOAD", Some("ID_CARD"), jpeg()).await).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["scan"]["sidesNeeded"], json!(["front", "back"]));
    assert_eq!(session["scan"]["sidesGiven"], json!(["front"]));
    assert_problem(capture.start_raw(true).await, 409, "DOCUMENT_SIDE_MISSING").await;
    let (status, session) = body_json(upload(&capture, "back", "UPLOAD", None, jpeg()).await).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["scan"]["sidesGiven"], json!(["front", "back"]));
    let finish = capture
        .request(Method::POST, "/api/capture/v1/scan/finish")
        .send()
        .await
        .unwrap();
    assert_problem(finish, 409, "SELFIE_REQUIRED").await;
    let response = capture
        .request(Method::PUT, "/api/capture/v1/documents/side")
        .header("Content-Type", "image/jpeg")
        .header("Capture-Method", "UPLOAD")
        .body(jpeg())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // A passport preset: no back, and the preset's type only.
    let (_, token) = s
        .initiated(json!({"workflowId": 101,
            "presets": [{"index": 1, "country": "AUT", "type": "PASSPORT"}]}))
        .await;
    let capture = Capture::open(&s.app, &token).await;
    assert_problem(
        upload(&capture, "back", "CAMERA", None, jpeg()).await,
        409,
        "DOCUMENT_SIDE_NOT_NEEDED",
    )
    .await;
    let problem = assert_problem(
        upload(&capture, "front", "CAMERA", Some("ID_CARD"), jpeg()).await,
        400,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        ["Capture-Document-Type:DOCUMENT_TYPE_MISMATCH"]
    );
    assert_problem(capture.start_raw(true).await, 409, "SELFIE_NOT_NEEDED").await;
    let finish = capture
        .request(Method::POST, "/api/capture/v1/scan/finish")
        .send()
        .await
        .unwrap();
    assert_problem(finish, 409, "DOCUMENT_SIDE_MISSING").await;

    // An authentication's session is not a scan's.
    let (_, facemap_token) = crate::capture::initiated(&s.app, &s.acme, json!({})).await;
    let auth = Capture::open(&s.app, &facemap_token).await;
    assert_problem(
        upload(&auth, "front", "CAMERA", Some("PASSPORT"), jpeg()).await,
        409,
        "CAPTURE_NOT_A_SCAN",
    )
    .await;
}

#[tokio::test]
async fn without_a_document_engine_enrollment_capture_is_unavailable() {
    let app = spawn_app_with(Options {
        engine: Some(Arc::new(SelfieEngine::new())),
        configure: Some(Box::new(|c: &mut facegate::config::Config| {
            c.capture.documents = false
        })),
        ..Options::default()
    })
    .await;
    let acme = app.customer("Acme", true).await;
    let (status, body) = body_json(
        app.request(Method::POST, SCAN_INITIATE, &acme.api)
            .json(&json!({"customerInternalReference": "c", "userReference": "u"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = authorization_token(body["redirectUrl"].as_str().unwrap());
    assert_problem(
        open_session(&app, &token).await,
        503,
        "DOCUMENT_ENGINE_UNAVAILABLE",
    )
    .await;
    // Authentication is unaffected.
    let _ = INITIATE;
}
