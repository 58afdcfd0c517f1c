//! Jumio compatibility (issue #10): what the guides in
//! `seed/reference/` send must work as they write it, and what they document
//! must be in Facegate's answers. One file per guide: each sends the guide's
//! own sample requests (its placeholders replaced by this test server, real
//! references and the `acme.main` credential, Jumio's one API credential),
//! holds the answers, callbacks and redirects to the guide's tables and
//! samples ([`guides`]), and ends with a coverage test: every example, table
//! and header list of the guide's covered sections is claimed by a test, so
//! a part added to a guide fails until a test reads it. Where Facegate
//! differs on purpose, the difference is a [`guides::Difference`] next to
//! the check, asserted there, and documented in
//! `docs/migrating-from-jumio.md`.
//!
//! ID verification (issue #11): `netverify-web-v4.md` (`web_v4.rs`) and the
//! scan parts of the retrieval and delete guides (`scan_retrieval.rs`,
//! `scan_delete.rs`) and of the callback guide (`scan_callback.rs`).

mod authentication;
mod callback;
mod credentials;
mod delete;
mod facemap;
mod guides;
mod paths;
mod retrieval;
mod scan_callback;
mod scan_delete;
mod scan_retrieval;
mod snippets;
mod web_client;
mod web_v4;

use std::sync::Arc;

use facegate_core::documents::DocumentAnalysis;
use facegate_domain::{Country, DocumentType, Evidence, SideFindings, ZoneFinding};
use serde_json::{json, Value};

use crate::capture::{authorization_token, Capture};
use crate::helpers::{
    eventually, form, json as body_json, spawn_app_with, Customer, Options, Received, Receiver,
    TestApp,
};
use crate::scans::{
    capture_passport_and_selfie, document_image, passport_analysis, upload, ScriptedDocuments,
    SelfieEngine,
};
use crate::scripted::ScriptedEngine;
use guides::{Part, SampleRequest, JUMIO_BASE, REFERENCE};

/// Liveness frames each scripted attempt keeps (the guides' samples show 7;
/// the number "can vary").
pub const LIVENESS_FRAMES: usize = 3;

/// Where ID verifications are initiated.
pub const SCAN_INITIATE: &str = "/api/v4/initiate";

/// A test server whose face engine decides as the test says and keeps a
/// face image and [`LIVENESS_FRAMES`] liveness frames per attempt, and its
/// customer Acme.
pub struct Jumio {
    pub app: TestApp,
    pub acme: Customer,
    /// The face engine of an authentication server ([`Jumio::start`]).
    pub engine: Option<ScriptedEngine>,
}

/// The scripted engines of a scan server ([`Jumio::scans`]).
pub struct ScanEngines {
    /// What every document shows (a readable passport until set).
    pub documents: ScriptedDocuments,
    pub selfie: SelfieEngine,
}

/// How a test scan is captured after its initiation.
#[derive(Debug, Clone, Copy)]
pub struct ScanFlow {
    /// `WEB` (the web client) or `SDK` (a native app).
    pub source: &'static str,
    /// How the sides are given: `CAMERA` or `UPLOAD`.
    pub method: &'static str,
    /// The document type named with the front; none leaves it to the preset.
    pub document: Option<&'static str>,
    /// Whether the back is given too.
    pub back: bool,
    /// Selfie attempts; none finishes an ID-only scan instead.
    pub attempts: usize,
}

impl ScanFlow {
    /// A passport by camera in the web client, and one selfie attempt.
    pub const PASSPORT: Self = Self {
        source: "WEB",
        method: "CAMERA",
        document: Some("PASSPORT"),
        back: false,
        attempts: 1,
    };
    /// An ID card's two sides by camera in the web client, and one selfie.
    pub const ID_CARD: Self = Self {
        document: Some("ID_CARD"),
        back: true,
        ..Self::PASSPORT
    };
    /// A passport, ID only (workflow 1xx): no selfie.
    pub const ID_ONLY: Self = Self {
        attempts: 0,
        ..Self::PASSPORT
    };
}

/// A readable ID card with everything the zone gives (subtype, both
/// optional data fields), the selfie's face on its portrait, two readable
/// sides.
pub fn id_card() -> DocumentAnalysis {
    let mut analysis = passport_analysis();
    if let ZoneFinding::Read(data) = &mut analysis.findings.zone {
        data.document_type = Some(DocumentType::IdCard);
        data.subtype = Some("NATIONAL_ID".into());
        data.number = Some("ID1234567".into());
        data.optional_data_1 = Some("OPTIONAL1".into());
        data.optional_data_2 = Some("OPTIONAL2".into());
    }
    analysis.findings.back = Some(SideFindings {
        document_found: true,
        ..SideFindings::default()
    });
    analysis
}

/// The readable passport issued by `country`.
pub fn passport_of(country: &str) -> DocumentAnalysis {
    let mut analysis = passport_analysis();
    if let ZoneFinding::Read(data) = &mut analysis.findings.zone {
        data.issuing_country = Some(Country::parse(country, "c").unwrap());
        data.nationality = data.issuing_country;
    }
    analysis
}

/// How a transaction ends, as the tests drive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Initiated only.
    Created,
    /// A capture session opened.
    Started,
    Passed,
    Failed,
    /// Three attempts without a usable capture.
    Invalid,
    /// A newer initiation for the same enrollment expired it.
    Expired,
}

impl Jumio {
    pub async fn start() -> Self {
        let engine = ScriptedEngine::new(Evidence::LiveMatch).keeping_images(LIVENESS_FRAMES);
        let app = spawn_app_with(Options {
            engine: Some(Arc::new(engine.clone())),
            ..Options::scripted()
        })
        .await;
        let acme = app.customer("Acme", true).await;
        Self {
            app,
            acme,
            engine: Some(engine),
        }
    }

    /// A server for ID verification: documents and selfies decided by
    /// [`crate::scans`]' scripted engines (a readable Austrian passport
    /// whose portrait is the selfie's face, a live selfie, until the test
    /// says otherwise).
    pub async fn scans() -> (Self, ScanEngines) {
        let documents = ScriptedDocuments::new();
        let selfie = SelfieEngine::new();
        let app = spawn_app_with(Options {
            engine: Some(Arc::new(selfie.clone())),
            documents: Some(Arc::new(documents.clone())),
            ..Options::default()
        })
        .await;
        let acme = app.customer("Acme", true).await;
        let jumio = Self {
            app,
            acme,
            engine: None,
        };
        (jumio, ScanEngines { documents, selfie })
    }

    /// Initiates a scan with `body` under Acme's main credential; returns
    /// the reference and the redirect URL.
    pub async fn initiate_scan(&self, body: &Value) -> (String, String) {
        crate::scans::initiated_scan(&self.app, &self.acme.main, body).await
    }

    /// Initiates an ID + Identity scan with `body` and captures a passport
    /// and a selfie; returns the reference and the finish answer.
    pub async fn scan(&self, body: &Value) -> (String, Value) {
        let (reference, redirect) = self.initiate_scan(body).await;
        let done = capture_passport_and_selfie(&self.app, &authorization_token(&redirect)).await;
        (reference, done)
    }

    /// Initiates a scan with `body` and captures it as `flow` says;
    /// returns the reference and the last capture answer.
    pub async fn scan_with(&self, body: &Value, flow: ScanFlow) -> (String, Value) {
        let (reference, redirect) = self.initiate_scan(body).await;
        let done = self.capture_scan(&redirect, flow).await;
        (reference, done)
    }

    /// Captures the scan of `redirect_url` as `flow` says; the last answer.
    pub async fn capture_scan(&self, redirect_url: &str, flow: ScanFlow) -> Value {
        let capture = self.open(redirect_url, flow.source).await;
        let mut done = give_document(&capture, flow).await;
        if flow.attempts == 0 {
            let response = capture
                .request(reqwest::Method::POST, "/api/capture/v1/scan/finish")
                .send()
                .await
                .unwrap();
            let (status, body) = body_json(response).await;
            assert_eq!(status, 200, "{body}");
            return body;
        }
        for _ in 0..flow.attempts {
            let attempt = capture.start().await;
            let (status, body) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
            assert_eq!(status, 200, "{body}");
            done = body;
        }
        done
    }

    /// A guide's URL on this server.
    pub fn here(&self, text: &str) -> String {
        text.replace(JUMIO_BASE, &self.app.base)
    }

    /// `sample` as the guide writes it, sent to this server: its method,
    /// its path with `reference` for the placeholder, its headers with
    /// Acme's main credential as `Authorization` (`Content-Length` is the
    /// body's own, set by the client) and without those in `leave_out`.
    pub fn sample(
        &self,
        sample: &SampleRequest,
        reference: &str,
        leave_out: &[&str],
    ) -> reqwest::RequestBuilder {
        let path = sample.path.replace(REFERENCE, reference);
        let mut request = self
            .app
            .client
            .request(sample.method.clone(), self.app.url(&path));
        for (name, value) in &sample.headers {
            if leave_out.iter().any(|l| l.eq_ignore_ascii_case(name)) {
                continue;
            }
            request = match name.to_ascii_lowercase().as_str() {
                "authorization" => {
                    assert!(value.starts_with("Basic "), "{value}");
                    request.basic_auth(&self.acme.main.token, Some(&self.acme.main.secret))
                }
                "content-length" => request,
                _ => request.header(name, value),
            };
        }
        request
    }

    /// Initiates a facemap authentication with `metadata` (its enrollment
    /// added) and drives it to `end`; returns the reference and, when an
    /// attempt ended it, the finish answer.
    pub async fn transaction(&self, metadata: Value, end: End, source: &str) -> (String, Value) {
        let (enrollment, facemap) = self.app.enrollment(&self.acme).await;
        let mut metadata = metadata;
        metadata["enrollmentTransactionReference"] = json!(enrollment.to_string());
        let (reference, redirect) = self
            .app
            .initiate_redirect(&self.acme.main, &metadata, &facemap)
            .await;
        let done = match end {
            End::Created => Value::Null,
            End::Expired => {
                let newer = json!({ "enrollmentTransactionReference": enrollment.to_string() });
                self.app
                    .initiate_ok(&self.acme.main, &newer, &facemap)
                    .await;
                Value::Null
            }
            End::Started => {
                self.open(&redirect, source).await;
                Value::Null
            }
            End::Passed => {
                self.attempts(&redirect, source, Evidence::LiveMatch, 1)
                    .await
            }
            End::Failed => self.attempts(&redirect, source, Evidence::Attack, 1).await,
            End::Invalid => {
                self.attempts(&redirect, source, Evidence::Unusable, 3)
                    .await
            }
        };
        (reference, done)
    }

    /// Opens a capture session on `redirect_url` as `source` (`SDK`, a
    /// native app, or `WEB`, the web client).
    pub async fn open(&self, redirect_url: &str, source: &str) -> Capture<'_> {
        let token = authorization_token(redirect_url);
        let response = self
            .app
            .client
            .post(self.app.url("/api/capture/v1/session"))
            .header("Accept", "application/json")
            .header("User-Agent", "Example Corp SampleApp/1.0.1")
            .json(&json!({ "authorizationToken": token, "scanSource": source }))
            .send()
            .await
            .unwrap();
        let (status, body) = body_json(response).await;
        assert_eq!(status, 201, "{body}");
        Capture {
            server: &self.app,
            token: body["captureToken"].as_str().unwrap().to_owned(),
        }
    }

    /// `count` attempts that each end with `evidence`; the last finish answer.
    async fn attempts(
        &self,
        redirect_url: &str,
        source: &str,
        evidence: Evidence,
        count: usize,
    ) -> Value {
        self.engine
            .as_ref()
            .expect("an authentication server")
            .set(evidence);
        let capture = self.open(redirect_url, source).await;
        let mut done = Value::Null;
        for _ in 0..count {
            let attempt = capture.start().await;
            let (status, body) = body_json(capture.finish(&attempt.id, &attempt.nonce).await).await;
            assert_eq!(status, 200, "{body}");
            done = body;
        }
        done
    }

    /// `sample` sent as the guide writes it on a raw connection: its
    /// request line (path with `reference`), its headers but those in
    /// `leave_out`, with Acme's main credential as `Authorization` and the
    /// body's real `Content-Length`.
    pub async fn raw_sample(
        &self,
        sample: &SampleRequest,
        reference: &str,
        body: &[u8],
        leave_out: &[&str],
    ) -> Raw {
        let chunked = !body.is_empty()
            && leave_out
                .iter()
                .any(|l| l.eq_ignore_ascii_case("Content-Length"));
        let headers: Vec<(String, String)> = sample
            .headers
            .iter()
            .filter(|(n, _)| !leave_out.iter().any(|l| l.eq_ignore_ascii_case(n)))
            .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
            .map(|(n, v)| match n.to_ascii_lowercase().as_str() {
                "authorization" => (n.clone(), self.basic()),
                _ => (n.clone(), v.clone()),
            })
            .collect();
        let line = format!(
            "{} {} HTTP/1.1",
            sample.method,
            sample.path.replace(REFERENCE, reference)
        );
        raw(&self.app, &line, &headers, body, chunked).await
    }

    /// Each of `samples`, sent as written for each of `references`, is an
    /// RFC 9457 404 with `code`.
    pub async fn assert_not_found<'a>(
        &self,
        samples: impl IntoIterator<Item = &'a SampleRequest>,
        references: &[&str],
        code: &str,
    ) {
        for sample in samples {
            for reference in references {
                let answer = self.raw_sample(sample, reference, b"", &[]).await;
                answer.assert_problem(404, code);
            }
        }
    }

    /// `Basic …` of Acme's main credential.
    pub fn basic(&self) -> String {
        use base64::Engine as _;
        let pair = format!("{}:{}", self.acme.main.token, self.acme.main.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// `GET` of a path or of a URL on this server with exactly `headers`
    /// and Acme's main credential.
    pub async fn get_with(&self, path_or_url: &str, headers: &[(&str, &str)]) -> Raw {
        let path = path_or_url
            .strip_prefix(&self.app.base)
            .unwrap_or(path_or_url);
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        all.push(("Authorization".to_owned(), self.basic()));
        raw(&self.app, &format!("GET {path} HTTP/1.1"), &all, b"", false).await
    }

    /// Downloads each of `urls` with the headers the guide's `section`
    /// lists for images (asserted: `Accept` and `User-Agent`) and the API
    /// credential; each URL with its answer.
    pub async fn download_images(
        &self,
        guide: &guides::Guide,
        section: &[&str],
        urls: Vec<String>,
    ) -> Vec<(String, Raw)> {
        let headers = guide.section(section).headers();
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Accept", "User-Agent"]);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut out = Vec::new();
        for url in urls {
            let image = self.get_with(&url, &headers).await;
            out.push((url, image));
        }
        out
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}

/// Gives the document's sides as `flow` says; the last answer.
pub async fn give_document(capture: &Capture<'_>, flow: ScanFlow) -> Value {
    let sides: &[&str] = if flow.back {
        &["front", "back"]
    } else {
        &["front"]
    };
    let mut done = Value::Null;
    for side in sides {
        let named = flow.document.filter(|_| *side == "front");
        let png = flow.method == "UPLOAD";
        let response = upload(capture, side, flow.method, named, document_image(png)).await;
        let (status, body) = body_json(response).await;
        assert_eq!(status, 200, "{side}: {body}");
        done = body;
    }
    done
}

/// The `NETVERIFYID` callback `receiver` got for the scan `reference`.
pub async fn scan_callback(receiver: &Receiver, reference: &str) -> Received {
    let mine =
        |r: &Received| form(&r.body).get("jumioIdScanReference") == Some(&reference.to_owned());
    eventually("the scan's callback arrives", || async {
        receiver.all().iter().any(mine)
    })
    .await;
    receiver.all().into_iter().find(mine).unwrap()
}

/// What a test claims to check of a guide: the parts under `heading`
/// (`table`, `example` or `headers`, `count` of them), and which test.
pub struct Claim {
    pub heading: &'static str,
    pub part: &'static str,
    pub count: usize,
    /// The test that checks it, or why the part is no wire detail.
    pub by: &'static str,
}

/// Asserts that the parts of a guide's section are exactly the claimed ones.
pub fn assert_claimed(parts: &[Part], claims: &[Claim]) {
    let mut found: std::collections::BTreeMap<(String, &str), usize> = Default::default();
    for part in parts {
        let kind = match part {
            Part::Example { .. } => "example",
            Part::Table { .. } => "table",
            Part::Headers { .. } => "headers",
        };
        *found.entry((part.heading().to_owned(), kind)).or_default() += 1;
    }
    let claimed: std::collections::BTreeMap<(String, &str), usize> = claims
        .iter()
        .inspect(|c| assert!(!c.by.is_empty(), "{}: by which test?", c.heading))
        .map(|c| ((c.heading.to_owned(), c.part), c.count))
        .collect();
    assert_eq!(
        found, claimed,
        "the guide's parts and the parts the tests claim differ: {parts:#?}"
    );
}

/// An answer read off the socket.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    /// Header names in lower case.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A 200 with a JPEG or PNG image and its `Content-Type`.
    pub fn is_image(&self) -> bool {
        let kind = self.headers.get("content-type").map(String::as_str);
        let jpeg = self.body.starts_with(&[0xff, 0xd8]) && kind == Some("image/jpeg");
        let png = self.body.starts_with(b"\x89PNG") && kind == Some("image/png");
        self.status == 200 && (jpeg || png)
    }

    /// Asserts an RFC 9457 problem with `status` and `code`.
    pub fn assert_problem(&self, status: u16, code: &str) {
        let body = self.json();
        assert_eq!(
            (self.status, &body["code"]),
            (status, &json!(code)),
            "{body}"
        );
        assert_eq!(self.headers["content-type"], "application/problem+json");
    }
}

/// A raw HTTP/1.1 request to the test server, so that a header the guide
/// lists can really be left out (an HTTP client adds `Accept: */*`) and a
/// body can be sent without `Content-Length` (`chunked`).
pub async fn raw(
    app: &TestApp,
    request_line: &str,
    headers: &[(String, String)],
    body: &[u8],
    chunked: bool,
) -> Raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut request = format!("{request_line}\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut bytes = Vec::new();
    if chunked {
        request.push_str("Transfer-Encoding: chunked\r\n\r\n");
        bytes.extend(request.as_bytes());
        bytes.extend(format!("{:x}\r\n", body.len()).as_bytes());
        bytes.extend(body);
        bytes.extend(b"\r\n0\r\n\r\n");
    } else {
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        bytes.extend(request.as_bytes());
        bytes.extend(body);
    }
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head: {}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers: std::collections::BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = answer[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        body = dechunk(&body);
    }
    Raw {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}
