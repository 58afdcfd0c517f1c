//! Every validation rule and precondition of SPEC §0 and §2, each with its
//! stable code, on `facemap/initiate` (multipart) and `web/initiate` (JSON).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{TimeZone, Utc};
use facegate_domain::{Enrollment, EnrollmentRef, Similarity, TransactionRef, VerificationStatus};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::helpers::*;

const URL_FIELDS: [(&str, usize); 3] = [
    ("callbackUrl", 255),
    ("successUrl", 2047),
    ("errorUrl", 255),
];
const RESERVED_QUERY_NAMES: [&str; 4] = [
    "transactionStatus",
    "customerInternalReference",
    "transactionReference",
    "errorCode",
];

/// Bytes for requests that must be refused before the facemap is looked at.
const NOT_CHECKED: &[u8] = b"never read: validation fails first";

fn retrieval_path(reference: &str) -> String {
    format!("/api/netverify/v2/authentications/{reference}")
}

/// Metadata naming `enrollment` only.
fn metadata(enrollment: impl ToString) -> Value {
    json!({ "enrollmentTransactionReference": enrollment.to_string() })
}

/// Metadata with a well-formed (unknown) enrollment reference and `field` set.
fn metadata_with(field: &str, value: Value) -> Value {
    let mut m = metadata(EnrollmentRef::new_random());
    m[field] = value;
    m
}

/// A problem answer as seen on the wire.
struct Problem {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    body: Value,
}

async fn problem(response: reqwest::Response) -> Problem {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let www_authenticate = header("www-authenticate");
    let (status, body) = json(response).await;
    Problem {
        status: status.as_u16(),
        content_type,
        www_authenticate,
        body,
    }
}

impl Problem {
    /// Asserts an RFC 9457 body with `status` and `code`; `case` names the case.
    fn expect(&self, case: &str, status: u16, code: &str) {
        let body = &self.body;
        assert_eq!(
            (self.status, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{case}: {body}"
        );
        assert_eq!(
            self.content_type, "application/problem+json",
            "{case}: {body}"
        );
        assert_eq!(body["status"], status, "{case}: {body}");
        assert_eq!(
            body["type"],
            format!("urn:facegate:error:{code}"),
            "{case}: {body}"
        );
        for key in ["title", "detail"] {
            assert!(
                body[key].as_str().is_some_and(|s| !s.is_empty()),
                "{case}: no {key} in {body}"
            );
        }
    }

    /// Asserts a 400 VALIDATION_FAILED whose `errors` are exactly `expected`
    /// (`field:CODE`, in order), each with a detail.
    fn expect_fields(&self, case: &str, expected: &[&str]) {
        self.expect(case, 400, "VALIDATION_FAILED");
        assert_eq!(field_errors(&self.body), expected, "{case}: {}", self.body);
        for error in self.body["errors"].as_array().unwrap() {
            assert!(
                error["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{case}: {error}"
            );
        }
    }
}

/// Initiates (multipart) with `metadata` and answers the problem.
async fn initiate(app: &TestApp, cred: &Credential, metadata: &Value, facemap: &[u8]) -> Problem {
    problem(app.initiate(cred, metadata, facemap).await).await
}

/// `web/initiate` with a JSON body.
async fn web_initiate(app: &TestApp, cred: &Credential, body: &Value) -> reqwest::Response {
    app.request(Method::POST, WEB_INITIATE, cred)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A POST to `path` with a raw body and Content-Type.
async fn post_raw(
    app: &TestApp,
    path: &str,
    cred: &Credential,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Problem {
    let mut request = app.request(Method::POST, path, cred).body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    problem(request.send().await.unwrap()).await
}

/// The metadata part, as `initiate_at` builds it.
fn metadata_part(metadata: &Value) -> Part {
    Part::text(metadata.to_string())
        .mime_str("application/json")
        .unwrap()
}

fn facemap_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name("facemap.bin")
        .mime_str("application/octet-stream")
        .unwrap()
}

async fn initiate_form(app: &TestApp, cred: &Credential, form: Form) -> Problem {
    problem(
        app.request(Method::POST, INITIATE, cred)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Sends `head` (request line and headers, without the blank line) over a
/// plain TCP connection, so that no client adds headers of its own (reqwest
/// always sends `Accept: */*`).
async fn raw_http(app: &TestApp, head: &str) -> Problem {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        format!("{head}\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status_line = head.split("\r\n").next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let header = |wanted: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim().to_owned())
    };
    Problem {
        status,
        content_type: header("content-type").unwrap_or_default(),
        www_authenticate: header("www-authenticate"),
        body: serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    }
}

fn basic(cred: &Credential) -> String {
    format!(
        "Authorization: Basic {}",
        STANDARD.encode(format!("{}:{}", cred.token, cred.secret))
    )
}

/// No transaction exists at all: every non-final transaction is overdue in 2100.
async fn assert_no_transaction(app: &TestApp, case: &str) {
    let far_future = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    let left = app
        .fixture_store()
        .overdue_transactions(far_future, 100)
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "{case}: transactions were created: {left:?}"
    );
}

// ---------------------------------------------------------------------------
// Required headers

#[tokio::test]
async fn api_calls_without_a_user_agent_are_refused_with_missing_user_agent() {
    let (app, c) = spawn_with_acme().await;
    let random = retrieval_path(&TransactionRef::new_random().to_string());
    let cases = [
        (
            "initiate",
            format!(
                "POST {INITIATE} HTTP/1.1\r\nAccept: application/json\r\n{}",
                basic(&c.api)
            ),
        ),
        (
            "web initiate",
            format!(
                "POST {WEB_INITIATE} HTTP/1.1\r\nAccept: application/json\r\n{}",
                basic(&c.api)
            ),
        ),
        (
            "retrieval",
            format!(
                "GET {random} HTTP/1.1\r\nAccept: application/json\r\n{}",
                basic(&c.admin)
            ),
        ),
        (
            "empty User-Agent",
            format!(
                "POST {INITIATE} HTTP/1.1\r\nAccept: application/json\r\nUser-Agent:\r\n{}",
                basic(&c.api)
            ),
        ),
        // Checked before the credentials, and before Accept.
        (
            "no credentials either",
            format!("POST {INITIATE} HTTP/1.1\r\nAccept: application/json"),
        ),
        (
            "no Accept either",
            format!("POST {INITIATE} HTTP/1.1\r\n{}", basic(&c.api)),
        ),
    ];
    for (case, head) in cases {
        raw_http(&app, &head)
            .await
            .expect(case, 400, "MISSING_USER_AGENT");
    }
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

#[tokio::test]
async fn api_calls_without_accept_are_refused_with_missing_accept() {
    let (app, c) = spawn_with_acme().await;
    let random = retrieval_path(&TransactionRef::new_random().to_string());
    let cases = [
        (
            "initiate",
            format!(
                "POST {INITIATE} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\n{}",
                basic(&c.api)
            ),
        ),
        (
            "web initiate",
            format!(
                "POST {WEB_INITIATE} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\n{}",
                basic(&c.api)
            ),
        ),
        (
            "retrieval",
            format!(
                "GET {random} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\n{}",
                basic(&c.admin)
            ),
        ),
        (
            "empty Accept",
            format!(
                "POST {INITIATE} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\nAccept:\r\n{}",
                basic(&c.api)
            ),
        ),
        (
            "no credentials either",
            format!("POST {INITIATE} HTTP/1.1\r\nUser-Agent: Acme/1.0"),
        ),
    ];
    for (case, head) in cases {
        raw_http(&app, &head)
            .await
            .expect(case, 400, "MISSING_ACCEPT");
    }
    // With both headers (and nothing else) the same raw request gets as far
    // as the credentials.
    let head = format!(
        "GET {random} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\nAccept: application/json\r\n{}",
        basic(&c.admin)
    );
    raw_http(&app, &head)
        .await
        .expect("both headers", 404, "TRANSACTION_NOT_FOUND");
    app.stop().await;
}

/// Image downloads answer JPEG; as in Jumio's guides they need a
/// `User-Agent` but no `Accept` (`*/*` and a missing header both pass), so
/// they get as far as the lookup.
#[tokio::test]
async fn image_downloads_need_a_user_agent_but_no_accept() {
    let (app, c) = spawn_with_acme().await;
    let random = retrieval_path(&TransactionRef::new_random().to_string());
    for image in ["images/face", "images/liveness/1"] {
        let path = format!("{random}/{image}");
        for accept in ["", "Accept: */*\r\n", "Accept: image/jpeg\r\n"] {
            let head = format!(
                "GET {path} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\n{accept}{}",
                basic(&c.admin)
            );
            let case = format!("{image} with {accept:?}");
            raw_http(&app, &head)
                .await
                .expect(&case, 404, "TRANSACTION_NOT_FOUND");
        }
        let head = format!("GET {path} HTTP/1.1\r\nAccept: */*\r\n{}", basic(&c.admin));
        raw_http(&app, &head)
            .await
            .expect(image, 400, "MISSING_USER_AGENT");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Credentials and roles

#[tokio::test]
async fn api_calls_without_credentials_are_unauthenticated_with_a_basic_challenge() {
    let app = spawn_app().await;
    let random = retrieval_path(&TransactionRef::new_random().to_string());
    let with_headers = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Tests/1.0")
    };
    let form = Form::new()
        .part(
            "enrollmentMetadata",
            metadata_part(&metadata(EnrollmentRef::new_random())),
        )
        .part("facemap", facemap_part(NOT_CHECKED.to_vec()));
    let cases = [
        (
            "initiate",
            with_headers(Method::POST, INITIATE).multipart(form),
        ),
        (
            "web initiate",
            with_headers(Method::POST, WEB_INITIATE).json(&metadata(EnrollmentRef::new_random())),
        ),
        ("retrieval", with_headers(Method::GET, &random)),
        ("delete", with_headers(Method::DELETE, &random)),
    ];
    for (case, request) in cases {
        let answer = problem(request.send().await.unwrap()).await;
        answer.expect(case, 401, "UNAUTHENTICATED");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some("Basic realm=\"facegate\""),
            "{case}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn wrong_unknown_and_malformed_credentials_are_unauthenticated() {
    let (app, c) = spawn_with_acme().await;
    let other = app.customer("Other", true).await;
    let m = metadata(EnrollmentRef::new_random());
    let cases = [
        (
            "wrong secret",
            Credential {
                token: c.api.token.clone(),
                secret: format!("{}x", c.api.secret),
            },
        ),
        (
            "empty secret",
            Credential {
                token: c.api.token.clone(),
                secret: String::new(),
            },
        ),
        (
            "another credential's secret",
            Credential {
                token: c.api.token.clone(),
                secret: other.api.secret.clone(),
            },
        ),
        (
            "unknown token",
            Credential {
                token: "no-such-token".into(),
                secret: c.api.secret.clone(),
            },
        ),
        (
            "empty token",
            Credential {
                token: String::new(),
                secret: c.api.secret.clone(),
            },
        ),
    ];
    for (case, cred) in cases {
        let answer = initiate(&app, &cred, &m, NOT_CHECKED).await;
        answer.expect(case, 401, "UNAUTHENTICATED");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some("Basic realm=\"facegate\""),
            "{case}"
        );
    }
    let headers = [
        (
            "a bearer token",
            format!("Authorization: Bearer {}", c.api.token),
        ),
        ("invalid base64", "Authorization: Basic %%%".to_owned()),
        (
            "no colon",
            format!("Authorization: Basic {}", STANDARD.encode(&c.api.token)),
        ),
        ("no value", "Authorization: Basic".to_owned()),
    ];
    for (case, header) in headers {
        let head = format!("POST {WEB_INITIATE} HTTP/1.1\r\nUser-Agent: Acme/1.0\r\nAccept: application/json\r\n{header}");
        let answer = raw_http(&app, &head).await;
        answer.expect(case, 401, "UNAUTHENTICATED");
        assert_eq!(
            answer.www_authenticate.as_deref(),
            Some("Basic realm=\"facegate\""),
            "{case}"
        );
    }
    // The right pair gets past authentication (the enrollment is unknown).
    initiate(&app, &c.api, &m, NOT_CHECKED).await.expect(
        "right credentials",
        404,
        "ENROLLMENT_NOT_FOUND",
    );
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_credential_is_unauthenticated_at_once() {
    let (app, c) = spawn_with_acme().await;
    let m = metadata(EnrollmentRef::new_random());
    let random = TransactionRef::new_random().to_string();
    // Both work (and are cached as verified) before the revocation.
    initiate(&app, &c.api, &m, NOT_CHECKED)
        .await
        .expect("api before", 404, "ENROLLMENT_NOT_FOUND");
    assert_eq!(app.retrieve(&c.admin, &random).await.0, 404);
    for cred in [&c.api, &c.admin] {
        assert!(app.services.revoke_credential(&cred.token).await.unwrap());
    }
    initiate(&app, &c.api, &m, NOT_CHECKED).await.expect(
        "revoked api credential",
        401,
        "UNAUTHENTICATED",
    );
    let response = app
        .request(Method::GET, &retrieval_path(&random), &c.admin)
        .send()
        .await
        .unwrap();
    problem(response)
        .await
        .expect("revoked admin credential", 401, "UNAUTHENTICATED");
    // A second revocation finds nothing to revoke.
    assert!(!app.services.revoke_credential(&c.api.token).await.unwrap());
    app.stop().await;
}

#[tokio::test]
async fn initiate_with_an_admin_credential_is_forbidden_role() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (live, _) = app.kept_enrollment(&c).await;
    let (deleted, facemap) = app.enrollment(&c).await;
    initiate(&app, &c.admin, &metadata(deleted), &facemap)
        .await
        .expect("facemap initiate", 403, "FORBIDDEN_ROLE");
    for path in INITIATE_ALIASES {
        let answer = problem(
            app.initiate_at(path, &c.admin, &metadata(deleted).to_string(), &facemap)
                .await,
        )
        .await;
        answer.expect(path, 403, "FORBIDDEN_ROLE");
    }
    problem(web_initiate(&app, &c.admin, &metadata(live)).await)
        .await
        .expect("web initiate", 403, "FORBIDDEN_ROLE");
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

#[tokio::test]
async fn retrieval_and_deletion_with_an_api_credential_are_forbidden_role() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let reference = app
        .initiate_ok(&c.api, &metadata(enrollment), &facemap)
        .await;
    let paths = [
        (Method::GET, retrieval_path(&reference)),
        (Method::DELETE, retrieval_path(&reference)),
        (
            Method::GET,
            format!("{}/images/face", retrieval_path(&reference)),
        ),
        (
            Method::GET,
            format!("{}/images/liveness/1", retrieval_path(&reference)),
        ),
        (
            Method::GET,
            format!("{}/callbacks", retrieval_path(&reference)),
        ),
        (
            Method::GET,
            retrieval_path(&TransactionRef::new_random().to_string()),
        ),
    ];
    for (method, path) in paths {
        let case = format!("{method} {path}");
        let response = app.request(method, &path, &c.api).send().await.unwrap();
        problem(response).await.expect(&case, 403, "FORBIDDEN_ROLE");
    }
    // The refused DELETE deleted nothing.
    assert_eq!(app.result(&c.admin, &reference).await, "CREATED");
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_account_without_the_feature_is_feature_not_enabled() {
    let app = spawn_app_with(Options::scripted()).await;
    let c = app.customer("No facemaps", false).await;
    let (deleted, facemap) = app.enrollment(&c).await;
    let (live, _) = app.kept_enrollment(&c).await;
    initiate(&app, &c.api, &metadata(deleted), &facemap)
        .await
        .expect("facemap initiate", 403, "FEATURE_NOT_ENABLED");
    problem(web_initiate(&app, &c.api, &metadata(live)).await)
        .await
        .expect("web initiate", 403, "FEATURE_NOT_ENABLED");
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------
// enrollmentTransactionReference and userReference

#[tokio::test]
async fn initiate_requires_the_enrollment_transaction_reference() {
    let (app, c) = spawn_with_acme().await;
    let cases = [
        ("absent", json!({ "userReference": "user_1" })),
        ("null", json!({ "enrollmentTransactionReference": null })),
        ("empty object", json!({})),
        (
            "wrapped, absent",
            json!({ "enrollmentMetadata": { "locale": "de" } }),
        ),
    ];
    for (case, m) in cases {
        let answer = initiate(&app, &c.api, &m, NOT_CHECKED).await;
        answer.expect_fields(case, &["enrollmentTransactionReference:FIELD_REQUIRED"]);
        let answer = problem(web_initiate(&app, &c.api, &m).await).await;
        answer.expect_fields(
            &format!("web initiate, {case}"),
            &["enrollmentTransactionReference:FIELD_REQUIRED"],
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_malformed_enrollment_transaction_reference() {
    let (app, c) = spawn_with_acme().await;
    let uuid = EnrollmentRef::new_random().as_uuid();
    let cases = [
        ("not a uuid", json!("abc")),
        ("empty", json!("")),
        ("32 hex digits", json!(uuid.simple().to_string())),
        ("braced", json!(uuid.braced().to_string())),
        ("urn", json!(uuid.urn().to_string())),
        (
            "36 non-hex characters",
            json!("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
        ),
        ("with a trailing space", json!(format!("{uuid} "))),
    ];
    for (case, value) in cases {
        let m = json!({ "enrollmentTransactionReference": value });
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &["enrollmentTransactionReference:REFERENCE_INVALID"]);
    }
    for (case, value) in [
        ("a number", json!(42)),
        ("an object", json!({ "id": uuid.to_string() })),
    ] {
        let m = json!({ "enrollmentTransactionReference": value });
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &["enrollmentTransactionReference:FIELD_TYPE"]);
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_user_reference_of_101_characters() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for (case, value) in [
        ("101 ASCII", "u".repeat(101)),
        ("101 non-ASCII", "ü".repeat(101)),
    ] {
        let m = metadata_with("userReference", json!(value));
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &["userReference:REFERENCE_TOO_LONG"]);
    }
    // 100 characters (200 bytes) is the limit, not over it.
    let (enrollment, facemap) = app.enrollment(&c).await;
    let mut m = metadata(enrollment);
    m["userReference"] = json!("ü".repeat(100));
    app.initiate_ok(&c.api, &m, &facemap).await;
    app.stop().await;
}

/// Turns on the account setting that refuses user references looking like PII.
async fn refuse_pii(app: &TestApp, c: &Customer) {
    app.services
        .update_account(
            c.account.id,
            facegate_core::accounts::AccountChanges {
                refuse_pii_user_reference: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn by_default_a_user_reference_that_looks_like_pii_is_accepted_and_stored_verbatim() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    for value in [
        "jane.doe@example.com",
        "user jane@example.org",
        "+41 79 123 45 67",
        "(555) 123-4567",
        "0041791234567",
    ] {
        let mut m = metadata(enrollment);
        m["userReference"] = json!(value);
        let reference = app.initiate_ok(&c.api, &m, &facemap).await;
        let (status, body) = app.retrieve(&c.admin, &reference).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["userReference"], value, "{body}");
    }
    // The same on web/initiate, for an enrollment the server still holds.
    let (kept, _) = app.kept_enrollment(&c).await;
    let m = json!({
        "enrollmentTransactionReference": kept.to_string(),
        "userReference": "jane.doe@example.com",
    });
    let response = web_initiate(&app, &c.api, &m).await;
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_user_references_that_look_like_pii_when_the_account_asks() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    refuse_pii(&app, &c).await;
    let cases = [
        (
            "an e-mail address",
            json!("jane.doe@example.com"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "an e-mail address in text",
            json!("user jane@example.org"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "an international phone number",
            json!("+41 79 123 45 67"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "a compact international number",
            json!("+14155550123"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "a 00-prefixed number",
            json!("0041791234567"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "a punctuated phone number",
            json!("(555) 123-4567"),
            "REFERENCE_LOOKS_LIKE_PII",
        ),
        (
            "a control character",
            json!("user\u{7}1"),
            "REFERENCE_INVALID",
        ),
        ("a boolean", json!(true), "FIELD_TYPE"),
        ("an object", json!({ "id": 1 }), "FIELD_TYPE"),
    ];
    for (case, value, code) in cases {
        let m = metadata_with("userReference", value);
        let expected = format!("userReference:{code}");
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &[&expected]);
    }
    // Identifiers, numeric ones included, are not PII.
    let (enrollment, facemap) = app.enrollment(&c).await;
    for value in ["user_1234", "123456789012", "order-2024-11"] {
        let mut m = metadata(enrollment);
        m["userReference"] = json!(value);
        let response = app.initiate(&c.api, &m, &facemap).await;
        assert_eq!(response.status(), 200, "userReference {value:?}");
    }
    // As the reference API: a JSON number is kept as its decimal text, and
    // an empty or blank reference means none.
    for (value, stored) in [
        (json!(1234), json!("1234")),
        (json!(""), Value::Null),
        (json!("   "), Value::Null),
    ] {
        let mut m = metadata(enrollment);
        m["userReference"] = value.clone();
        let reference = app.initiate_ok(&c.api, &m, &facemap).await;
        let (status, body) = app.retrieve(&c.admin, &reference).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["userReference"], stored, "userReference {value}");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------
// URL fields

/// Initiates with `url` in each URL field in turn and expects `code` for it.
async fn assert_url_refused(app: &TestApp, c: &Customer, case: &str, url: &str, code: &str) {
    for (field, _) in URL_FIELDS {
        let m = metadata_with(field, json!(url));
        let expected = format!("{field}:{code}");
        initiate(app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(&format!("{case}: {field} = {url:?}"), &[&expected]);
    }
}

#[tokio::test]
async fn initiate_rejects_http_callback_success_and_error_urls() {
    let (app, c) = spawn_with_acme().await;
    assert_url_refused(
        &app,
        &c,
        "http",
        "http://www.example.com/cb",
        "URL_NOT_HTTPS",
    )
    .await;
    assert_url_refused(&app, &c, "ftp", "ftp://www.example.com/cb", "URL_NOT_HTTPS").await;
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_urls_with_an_explicit_port() {
    let (app, c) = spawn_with_acme().await;
    assert_url_refused(
        &app,
        &c,
        "port 8443",
        "https://www.example.com:8443/cb",
        "URL_PORT",
    )
    .await;
    assert_url_refused(
        &app,
        &c,
        "the default port",
        "https://www.example.com:443/cb",
        "URL_PORT",
    )
    .await;
    app.stop().await;
}

/// `https:host:port` has no `//`: RFC 3986 reads no authority at all, yet the
/// WHATWG parser behind `Url` reads a host and a port from it.
#[tokio::test]
async fn initiate_rejects_a_port_hidden_by_a_url_without_its_double_slash() {
    let (app, c) = spawn_with_acme().await;
    for url in [
        "https:www.example.com:8443/cb",
        "https:/www.example.com:8443/cb",
        "https:///www.example.com:8443/cb",
        "https:\\\\www.example.com:8443\\cb",
    ] {
        for (field, _) in URL_FIELDS {
            let answer =
                initiate(&app, &c.api, &metadata_with(field, json!(url)), NOT_CHECKED).await;
            answer.expect(&format!("{field} = {url:?}"), 400, "VALIDATION_FAILED");
            let errors = field_errors(&answer.body);
            assert!(
                errors == [format!("{field}:URL_PORT")]
                    || errors == [format!("{field}:URL_INVALID")],
                "{field} = {url:?}: {}",
                answer.body
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_urls_whose_host_is_an_ip_address() {
    let (app, c) = spawn_with_acme().await;
    assert_url_refused(&app, &c, "IPv4", "https://203.0.113.7/cb", "URL_IP_HOST").await;
    assert_url_refused(
        &app,
        &c,
        "IPv4 loopback",
        "https://127.0.0.1/cb",
        "URL_IP_HOST",
    )
    .await;
    assert_url_refused(&app, &c, "IPv4 in hex", "https://0x7f.1/cb", "URL_IP_HOST").await;
    assert_url_refused(&app, &c, "IPv6", "https://[2001:db8::1]/cb", "URL_IP_HOST").await;
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_urls_with_a_fragment() {
    let (app, c) = spawn_with_acme().await;
    assert_url_refused(
        &app,
        &c,
        "fragment",
        "https://www.example.com/cb#done",
        "URL_FRAGMENT",
    )
    .await;
    assert_url_refused(
        &app,
        &c,
        "empty fragment",
        "https://www.example.com/cb#",
        "URL_FRAGMENT",
    )
    .await;
    app.stop().await;
}

/// The names Facegate appends to the redirects are refused in the success
/// and error URLs only; a callback URL may carry them, as with the
/// reference API.
#[tokio::test]
async fn initiate_rejects_redirect_urls_carrying_a_reserved_query_name() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let refused = |case: String, url: String| {
        let app = &app;
        let c = &c;
        async move {
            for field in ["successUrl", "errorUrl"] {
                let m = metadata_with(field, json!(url));
                let expected = format!("{field}:URL_RESERVED_QUERY");
                initiate(app, &c.api, &m, NOT_CHECKED)
                    .await
                    .expect_fields(&format!("{case}: {field} = {url:?}"), &[&expected]);
            }
        }
    };
    for name in RESERVED_QUERY_NAMES {
        refused(
            name.to_owned(),
            format!("https://www.example.com/cb?a=1&{name}=x"),
        )
        .await;
    }
    // Percent-encoding does not hide a name.
    let encoded = "https://www.example.com/cb?transaction%53tatus=SUCCESS";
    refused("percent-encoded".to_owned(), encoded.to_owned()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    for name in RESERVED_QUERY_NAMES {
        let mut m = metadata(enrollment);
        m["callbackUrl"] = json!(format!("https://www.example.com/cb?{name}=x"));
        let response = app.initiate(&c.api, &m, &facemap).await;
        assert_eq!(response.status(), 200, "{name} in callbackUrl");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_urls_longer_than_the_limit_of_their_field() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, facemap) = app.enrollment(&c).await;
    let prefix = "https://www.example.com/";
    for (field, limit) in URL_FIELDS {
        let at_limit = format!("{prefix}{}", "a".repeat(limit - prefix.len()));
        let over = format!("{at_limit}a");
        let m = metadata_with(field, json!(over));
        let expected = format!("{field}:URL_TOO_LONG");
        let case = format!("{field} of {} characters", limit + 1);
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(&case, &[&expected]);
        let mut m = metadata(enrollment);
        m[field] = json!(at_limit);
        let response = app.initiate(&c.api, &m, &facemap).await;
        assert_eq!(
            response.status(),
            200,
            "{field} of {limit} characters: {}",
            response.text().await.unwrap()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_urls_that_are_not_absolute_ascii_urls() {
    let (app, c) = spawn_with_acme().await;
    let cases = [
        ("not a URL", "not a url", "URL_INVALID"),
        ("relative", "/callback", "URL_INVALID"),
        ("empty", "", "URL_INVALID"),
        (
            "an IDN host not in punycode",
            "https://bücher.example/cb",
            "URL_INVALID",
        ),
        ("a space", "https://www.example.com/a b", "URL_INVALID"),
        (
            "credentials",
            "https://user:pw@www.example.com/cb",
            "URL_INVALID",
        ),
        (
            "a single-label host",
            "https://intranet/cb",
            "URL_HOST_INVALID",
        ),
    ];
    for (case, url, code) in cases {
        assert_url_refused(&app, &c, case, url, code).await;
    }
    for (field, _) in URL_FIELDS {
        let expected = format!("{field}:FIELD_TYPE");
        let m = metadata_with(field, json!(["https://www.example.com/cb"]));
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(&format!("{field} as an array"), &[&expected]);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------
// locale and tokenLifetimeInMinutes

#[tokio::test]
async fn initiate_rejects_an_unsupported_locale() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let cases = [
        ("unknown", json!("xx"), "LOCALE_UNSUPPORTED"),
        ("enrollment only", json!("ar"), "LOCALE_UNSUPPORTED"),
        ("an unlisted region", json!("en-US"), "LOCALE_UNSUPPORTED"),
        ("empty", json!(""), "LOCALE_UNSUPPORTED"),
        ("a number", json!(1), "FIELD_TYPE"),
    ];
    for (case, value, code) in cases {
        let m = metadata_with("locale", value);
        let expected = format!("locale:{code}");
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &[&expected]);
    }
    // Any case and `_` are read, and the canonical spelling is used.
    let (enrollment, facemap) = app.enrollment(&c).await;
    let mut m = metadata(enrollment);
    m["locale"] = json!("EN_gb");
    let (status, body) = json(app.initiate(&c.api, &m, &facemap).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["redirectUrl"]
            .as_str()
            .unwrap()
            .contains("locale=en-GB&"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_token_lifetimes_outside_5_to_86400_minutes() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    for minutes in [4, 0, -1, 86_401, i64::MAX] {
        let m = metadata_with("tokenLifetimeInMinutes", json!(minutes));
        let case = format!("tokenLifetimeInMinutes {minutes}");
        initiate(&app, &c.api, &m, NOT_CHECKED).await.expect_fields(
            &case,
            &["tokenLifetimeInMinutes:TOKEN_LIFETIME_OUT_OF_RANGE"],
        );
    }
    let (enrollment, facemap) = app.enrollment(&c).await;
    for minutes in [5, 86_400] {
        let mut m = metadata(enrollment);
        m["tokenLifetimeInMinutes"] = json!(minutes);
        let response = app.initiate(&c.api, &m, &facemap).await;
        assert_eq!(
            response.status(),
            200,
            "tokenLifetimeInMinutes {minutes}: {}",
            response.text().await.unwrap()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_token_lifetime_that_is_not_an_integer() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let cases = [
        ("a word", json!("five")),
        ("a fractional string", json!("5.5")),
        ("a fraction", json!(5.5)),
        ("a boolean", json!(true)),
        ("beyond i64", json!(u64::MAX)),
    ];
    for (case, value) in cases {
        let m = metadata_with("tokenLifetimeInMinutes", value);
        initiate(&app, &c.api, &m, NOT_CHECKED)
            .await
            .expect_fields(case, &["tokenLifetimeInMinutes:FIELD_TYPE"]);
    }
    // As the guides' examples send it: a decimal string or an integral
    // number is the integer, range-checked like one.
    let (enrollment, facemap) = app.enrollment(&c).await;
    for value in [json!("30"), json!(30.0), json!(30)] {
        let mut m = metadata(enrollment);
        m["tokenLifetimeInMinutes"] = value.clone();
        let response = app.initiate(&c.api, &m, &facemap).await;
        assert_eq!(response.status(), 200, "tokenLifetimeInMinutes {value}");
    }
    for value in [json!("4"), json!(4.0)] {
        let m = metadata_with("tokenLifetimeInMinutes", value.clone());
        initiate(&app, &c.api, &m, NOT_CHECKED).await.expect_fields(
            &format!("{value}"),
            &["tokenLifetimeInMinutes:TOKEN_LIFETIME_OUT_OF_RANGE"],
        );
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------
// All at once

#[tokio::test]
async fn initiate_reports_every_invalid_field_in_one_answer() {
    let (app, c) = spawn_with_acme().await;
    let m = json!({
        "enrollmentTransactionReference": "not-a-reference",
        "userReference": "jane@example.com",
        "callbackUrl": "http://www.example.com/cb",
        "successUrl": "https://www.example.com:8443/ok",
        "errorUrl": "https://www.example.com/err#x",
        "locale": "xx",
        "tokenLifetimeInMinutes": 4,
    });
    refuse_pii(&app, &c).await;
    let expected = [
        "enrollmentTransactionReference:REFERENCE_INVALID",
        "userReference:REFERENCE_LOOKS_LIKE_PII",
        "callbackUrl:URL_NOT_HTTPS",
        "successUrl:URL_PORT",
        "errorUrl:URL_FRAGMENT",
        "locale:LOCALE_UNSUPPORTED",
        "tokenLifetimeInMinutes:TOKEN_LIFETIME_OUT_OF_RANGE",
    ];
    let answer = initiate(&app, &c.api, &m, NOT_CHECKED).await;
    answer.expect_fields("multipart", &expected);
    assert_eq!(answer.body["detail"], "7 fields are invalid");
    let answer = problem(web_initiate(&app, &c.api, &m).await).await;
    answer.expect_fields("web initiate", &expected);
    // Without a reference, the other errors are still all reported.
    let mut m = m;
    m.as_object_mut()
        .unwrap()
        .remove("enrollmentTransactionReference");
    let mut expected = expected.to_vec();
    expected[0] = "enrollmentTransactionReference:FIELD_REQUIRED";
    initiate(&app, &c.api, &m, NOT_CHECKED)
        .await
        .expect_fields("missing reference", &expected);
    // Type errors are reported together too.
    let m = json!({
        "enrollmentTransactionReference": 1,
        "userReference": false,
        "locale": ["de"],
        "tokenLifetimeInMinutes": "five",
    });
    let expected = [
        "enrollmentTransactionReference:FIELD_TYPE",
        "userReference:FIELD_TYPE",
        "locale:FIELD_TYPE",
        "tokenLifetimeInMinutes:FIELD_TYPE",
    ];
    initiate(&app, &c.api, &m, NOT_CHECKED)
        .await
        .expect_fields("wrong types", &expected);
    app.stop().await;
}

#[tokio::test]
async fn the_initiate_aliases_validate_like_facemap_initiate() {
    let (app, c) = spawn_with_acme().await;
    for path in INITIATE_ALIASES {
        let m = json!({ "enrollmentMetadata": { "callbackUrl": "http://www.example.com/cb" } });
        let answer = problem(
            app.initiate_at(path, &c.api, &m.to_string(), NOT_CHECKED)
                .await,
        )
        .await;
        answer.expect_fields(
            path,
            &[
                "enrollmentTransactionReference:FIELD_REQUIRED",
                "callbackUrl:URL_NOT_HTTPS",
            ],
        );
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Bodies

#[tokio::test]
async fn initiate_rejects_malformed_json_metadata() {
    let (app, c) = spawn_with_acme().await;
    let cases = [
        ("truncated", "{\"enrollmentTransactionReference\": \""),
        ("not JSON", "enrollmentTransactionReference=x"),
        ("empty", ""),
        ("an array", "[]"),
        ("a string", "\"x\""),
        ("trailing garbage", "{} {}"),
    ];
    for (case, text) in cases {
        let answer = problem(app.initiate_at(INITIATE, &c.api, text, NOT_CHECKED).await).await;
        answer.expect(&format!("multipart, {case}"), 400, "MALFORMED_JSON");
        let response = app
            .request(Method::POST, WEB_INITIATE, &c.api)
            .header("Content-Type", "application/json")
            .body(text.to_owned())
            .send()
            .await
            .unwrap();
        problem(response)
            .await
            .expect(&format!("web initiate, {case}"), 400, "MALFORMED_JSON");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_body_that_is_not_multipart() {
    let (app, c) = spawn_with_acme().await;
    let body = metadata(EnrollmentRef::new_random())
        .to_string()
        .into_bytes();
    for content_type in [
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let case = format!("Content-Type {content_type:?}");
        post_raw(&app, INITIATE, &c.api, content_type, body.clone())
            .await
            .expect(&case, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    app.stop().await;
}

#[tokio::test]
async fn web_initiate_rejects_a_body_that_is_not_json() {
    let (app, c) = spawn_with_acme().await;
    let body = metadata(EnrollmentRef::new_random())
        .to_string()
        .into_bytes();
    for content_type in [
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        None,
    ] {
        let case = format!("Content-Type {content_type:?}");
        post_raw(&app, WEB_INITIATE, &c.api, content_type, body.clone())
            .await
            .expect(&case, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    // Parameters of the media type are fine.
    let answer = post_raw(
        &app,
        WEB_INITIATE,
        &c.api,
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    answer.expect("application/json with charset", 404, "ENROLLMENT_NOT_FOUND");
    app.stop().await;
}

#[tokio::test]
async fn initiate_requires_both_parts() {
    let (app, c) = spawn_with_acme().await;
    let m = metadata(EnrollmentRef::new_random());
    let cases = [
        (
            "no facemap part",
            Form::new().part("enrollmentMetadata", metadata_part(&m)),
            vec!["facemap:PART_REQUIRED"],
        ),
        (
            "an empty facemap part",
            Form::new()
                .part("enrollmentMetadata", metadata_part(&m))
                .part("facemap", facemap_part(Vec::new())),
            vec!["facemap:PART_REQUIRED"],
        ),
        (
            "no metadata part",
            Form::new().part("facemap", facemap_part(NOT_CHECKED.to_vec())),
            vec!["enrollmentMetadata:PART_REQUIRED"],
        ),
        (
            "only an unknown part",
            Form::new().text("somethingElse", "x"),
            vec!["enrollmentMetadata:PART_REQUIRED", "facemap:PART_REQUIRED"],
        ),
    ];
    for (case, form, expected) in cases {
        initiate_form(&app, &c.api, form)
            .await
            .expect_fields(case, &expected);
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_part_sent_twice() {
    let (app, c) = spawn_with_acme().await;
    let m = metadata(EnrollmentRef::new_random());
    let twice_facemap = Form::new()
        .part("enrollmentMetadata", metadata_part(&m))
        .part("facemap", facemap_part(NOT_CHECKED.to_vec()))
        .part("facemap", facemap_part(NOT_CHECKED.to_vec()));
    initiate_form(&app, &c.api, twice_facemap)
        .await
        .expect_fields("facemap twice", &["facemap:PART_DUPLICATE"]);
    let twice_metadata = Form::new()
        .part("enrollmentMetadata", metadata_part(&m))
        .part("enrollmentMetadata", metadata_part(&m))
        .part("facemap", facemap_part(NOT_CHECKED.to_vec()));
    initiate_form(&app, &c.api, twice_metadata)
        .await
        .expect_fields(
            "enrollmentMetadata twice",
            &["enrollmentMetadata:PART_DUPLICATE"],
        );
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_multipart_body_that_cannot_be_parsed() {
    let (app, c) = spawn_with_acme().await;
    let cases = [
        ("no boundary", "multipart/form-data", b"--x\r\n".to_vec()),
        (
            "a body without the boundary",
            "multipart/form-data; boundary=XYZ",
            b"garbage".to_vec(),
        ),
    ];
    for (case, content_type, body) in cases {
        post_raw(&app, INITIATE, &c.api, Some(content_type), body)
            .await
            .expect(case, 400, "MALFORMED_MULTIPART");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_rejects_a_facemap_part_over_64_kib() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (enrollment, _) = app.enrollment(&c).await;
    let m = metadata(enrollment);
    for size in [64 * 1024 + 1, 80 * 1024, 1024 * 1024] {
        let case = format!("a facemap part of {size} bytes");
        initiate(&app, &c.api, &m, &vec![0xA5; size])
            .await
            .expect(&case, 413, "PAYLOAD_TOO_LARGE");
    }
    // 64 KiB itself passes the size limit and is judged as a facemap.
    initiate(&app, &c.api, &m, &vec![0xA5; 64 * 1024])
        .await
        .expect("64 KiB", 400, "FACEMAP_INVALID");
    // An oversized metadata part is refused as well.
    let huge = json!({ "enrollmentTransactionReference": enrollment.to_string(), "pad": "x".repeat(20 * 1024) });
    initiate(&app, &c.api, &huge, NOT_CHECKED).await.expect(
        "20 KiB of metadata",
        413,
        "PAYLOAD_TOO_LARGE",
    );
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

#[tokio::test]
async fn web_initiate_rejects_a_json_body_over_16_kib() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (live, _) = app.kept_enrollment(&c).await;
    let body =
        json!({ "enrollmentTransactionReference": live.to_string(), "pad": "x".repeat(16 * 1024) });
    problem(web_initiate(&app, &c.api, &body).await)
        .await
        .expect("17 KiB body", 413, "PAYLOAD_TOO_LARGE");
    assert_no_transaction(&app, "after the refusal").await;
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Preconditions on the enrollment

#[tokio::test]
async fn initiate_for_an_unknown_enrollment_is_enrollment_not_found() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (_, facemap) = app.enrollment(&c).await;
    let unknown = metadata(EnrollmentRef::new_random());
    initiate(&app, &c.api, &unknown, &facemap).await.expect(
        "facemap initiate",
        404,
        "ENROLLMENT_NOT_FOUND",
    );
    problem(web_initiate(&app, &c.api, &unknown).await)
        .await
        .expect("web initiate", 404, "ENROLLMENT_NOT_FOUND");
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_another_accounts_enrollment_is_enrollment_not_found() {
    let app = spawn_app_with(Options::scripted()).await;
    let mine = app.customer("Mine", true).await;
    let theirs = app.customer("Theirs", true).await;
    let (deleted, facemap) = app.enrollment(&theirs).await;
    let (live, _) = app.kept_enrollment(&theirs).await;
    let foreign = initiate(&app, &mine.api, &metadata(deleted), &facemap).await;
    foreign.expect("facemap initiate", 404, "ENROLLMENT_NOT_FOUND");
    let unknown = initiate(
        &app,
        &mine.api,
        &metadata(EnrollmentRef::new_random()),
        &facemap,
    )
    .await;
    // Indistinguishable from an unknown enrollment.
    assert_eq!(foreign.body["detail"], unknown.body["detail"]);
    problem(web_initiate(&app, &mine.api, &metadata(live)).await)
        .await
        .expect("web initiate", 404, "ENROLLMENT_NOT_FOUND");
    assert_no_transaction(&app, "after the refusals").await;
    // The owner can.
    app.initiate_ok(&theirs.api, &metadata(deleted), &facemap)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_enrollment_that_is_not_deleted_is_enrollment_not_deleted() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (live, facemap) = app.kept_enrollment(&c).await;
    initiate(&app, &c.api, &metadata(live), &facemap)
        .await
        .expect("live enrollment", 409, "ENROLLMENT_NOT_DELETED");
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_enrollment_that_is_not_approved_verified_is_enrollment_not_approved() {
    let (app, c) = spawn_with_acme().await;
    let statuses = [
        Some(VerificationStatus::DeniedFraud),
        Some(VerificationStatus::DeniedUnsupportedIdType),
        Some(VerificationStatus::DeniedUnsupportedIdCountry),
        Some(VerificationStatus::ErrorNotReadableId),
        Some(VerificationStatus::NoIdUploaded),
        None,
    ];
    for status in statuses {
        let (enrollment, facemap) = app
            .enrollment_with(&c.account, true, |e| e.verification_status = status)
            .await;
        let case = format!("verification status {status:?}");
        initiate(&app, &c.api, &metadata(enrollment), &facemap)
            .await
            .expect(&case, 409, "ENROLLMENT_NOT_APPROVED");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_enrollment_whose_similarity_is_not_match_is_enrollment_similarity_not_match(
) {
    let (app, c) = spawn_with_acme().await;
    for similarity in [
        Some(Similarity::NoMatch),
        Some(Similarity::NotPossible),
        None,
    ] {
        let (enrollment, facemap) = app
            .enrollment_with(&c.account, true, |e| e.similarity = similarity)
            .await;
        let case = format!("similarity {similarity:?}");
        let answer = initiate(&app, &c.api, &metadata(enrollment), &facemap).await;
        answer.expect(&case, 409, "ENROLLMENT_SIMILARITY_NOT_MATCH");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_enrollment_whose_validity_is_not_true_is_enrollment_validity_not_true() {
    let (app, c) = spawn_with_acme().await;
    for validity in [Some(false), None] {
        let (enrollment, facemap) = app
            .enrollment_with(&c.account, true, |e| e.validity = validity)
            .await;
        let case = format!("validity {validity:?}");
        let answer = initiate(&app, &c.api, &metadata(enrollment), &facemap).await;
        answer.expect(&case, 409, "ENROLLMENT_VALIDITY_NOT_TRUE");
    }
    app.stop().await;
}

#[tokio::test]
async fn initiate_for_an_enrollment_without_a_facemap_is_enrollment_no_facemap() {
    let (app, c) = spawn_with_acme().await;
    let (enrollment, facemap) = app
        .enrollment_with(&c.account, true, |e| e.facemap = None)
        .await;
    initiate(&app, &c.api, &metadata(enrollment), &facemap)
        .await
        .expect("no facemap", 409, "ENROLLMENT_NO_FACEMAP");
    app.stop().await;
}

#[tokio::test]
async fn web_initiate_for_a_deleted_enrollment_is_enrollment_deleted() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (deleted, _) = app.enrollment(&c).await;
    problem(web_initiate(&app, &c.api, &metadata(deleted)).await)
        .await
        .expect("deleted", 409, "ENROLLMENT_DELETED");
    assert_no_transaction(&app, "after the refusal").await;
    app.stop().await;
}

#[tokio::test]
async fn web_initiate_checks_the_decision_of_a_live_enrollment() {
    let (app, c) = spawn_with_acme().await;
    type Decide = fn(&mut Enrollment);
    let cases: [(&str, Decide, &str); 4] = [
        (
            "denied",
            |e| e.verification_status = Some(VerificationStatus::DeniedFraud),
            "ENROLLMENT_NOT_APPROVED",
        ),
        (
            "no match",
            |e| e.similarity = Some(Similarity::NoMatch),
            "ENROLLMENT_SIMILARITY_NOT_MATCH",
        ),
        (
            "not valid",
            |e| e.validity = Some(false),
            "ENROLLMENT_VALIDITY_NOT_TRUE",
        ),
        (
            "no server facemap",
            |e| e.server_facemap = None,
            "ENROLLMENT_NO_FACEMAP",
        ),
    ];
    for (case, decide, code) in cases {
        let (live, _) = app.enrollment_with(&c.account, false, decide).await;
        problem(web_initiate(&app, &c.api, &metadata(live)).await)
            .await
            .expect(case, 409, code);
    }
    assert_no_transaction(&app, "after the refusals").await;
    app.stop().await;
}

#[tokio::test]
async fn web_initiate_for_a_live_enrollment_answers_timestamp_redirect_url_and_transaction_reference(
) {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (live, _) = app.kept_enrollment(&c).await;
    let mut m = metadata(live);
    m["locale"] = json!("fr");
    let (status, body) = json(web_initiate(&app, &c.api, &m).await).await;
    assert_eq!(status, 200, "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["redirectUrl", "timestamp", "transactionReference"],
        "{body}"
    );
    let reference = body["transactionReference"].as_str().unwrap();
    assert!(reference.parse::<TransactionRef>().is_ok(), "{body}");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp, "2026-01-01T12:00:00.000Z", "{body}");
    let prefix = format!("{}/web/v4/app?locale=fr&authorizationToken=", app.base);
    assert!(
        body["redirectUrl"].as_str().unwrap().starts_with(&prefix),
        "{body}"
    );
    let (status, tx) = app.retrieve(&c.admin, reference).await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["enrollmentTransactionReference"], live.to_string());
    assert_eq!(tx["transactionResult"], "CREATED");
    app.stop().await;
}

#[tokio::test]
async fn refused_requests_leave_no_transaction_behind() {
    let (app, c) = spawn_with_acme_on(Options::scripted()).await;
    let (deleted, facemap) = app.enrollment(&c).await;
    let (live, _) = app.kept_enrollment(&c).await;
    let (denied, denied_facemap) = app
        .enrollment_with(&c.account, true, |e| {
            e.verification_status = Some(VerificationStatus::DeniedFraud)
        })
        .await;
    let mut invalid = metadata(deleted);
    invalid["callbackUrl"] = json!("http://www.example.com/cb");
    let mut tampered = facemap.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let answers = [
        (
            "invalid field",
            initiate(&app, &c.api, &invalid, &facemap).await,
        ),
        (
            "admin role",
            initiate(&app, &c.admin, &metadata(deleted), &facemap).await,
        ),
        (
            "not deleted",
            initiate(&app, &c.api, &metadata(live), &facemap).await,
        ),
        (
            "not approved",
            initiate(&app, &c.api, &metadata(denied), &denied_facemap).await,
        ),
        (
            "tampered facemap",
            initiate(&app, &c.api, &metadata(deleted), &tampered).await,
        ),
        (
            "facemap of another enrollment",
            initiate(&app, &c.api, &metadata(deleted), &denied_facemap).await,
        ),
        (
            "web initiate of a deleted enrollment",
            problem(web_initiate(&app, &c.api, &metadata(deleted)).await).await,
        ),
    ];
    for (case, answer) in &answers {
        assert!(
            (400..500).contains(&answer.status),
            "{case}: {}",
            answer.body
        );
    }
    assert_no_transaction(&app, "after the refusals").await;
    // The check sees a transaction when there is one.
    app.initiate_ok(&c.api, &metadata(deleted), &facemap).await;
    let far_future = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        app.fixture_store()
            .overdue_transactions(far_future, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Routing

#[tokio::test]
async fn an_unknown_route_is_a_not_found_problem() {
    let (app, c) = spawn_with_acme().await;
    for path in [
        "/nope",
        "/api/authentication/v2/facemap/initiate",
        "/api/netverify/v2/authentications",
    ] {
        let response = app
            .request(Method::GET, path, &c.admin)
            .send()
            .await
            .unwrap();
        problem(response).await.expect(path, 404, "NOT_FOUND");
        let response = app.client.post(app.url(path)).send().await.unwrap();
        problem(response)
            .await
            .expect(&format!("POST {path} without headers"), 404, "NOT_FOUND");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_method_not_allowed() {
    let (app, c) = spawn_with_acme().await;
    let random = retrieval_path(&TransactionRef::new_random().to_string());
    let cases = [
        (Method::GET, INITIATE.to_owned(), &c.api),
        (Method::PUT, INITIATE.to_owned(), &c.api),
        (Method::GET, WEB_INITIATE.to_owned(), &c.api),
        (Method::GET, INITIATE_ALIASES[1].to_owned(), &c.api),
        (Method::POST, random.clone(), &c.admin),
        (Method::PATCH, random, &c.admin),
    ];
    for (method, path, cred) in cases {
        let case = format!("{method} {path}");
        let response = app.request(method, &path, cred).send().await.unwrap();
        problem(response)
            .await
            .expect(&case, 405, "METHOD_NOT_ALLOWED");
    }
    app.stop().await;
}

#[tokio::test]
async fn retrieval_of_a_malformed_reference_is_transaction_not_found() {
    let (app, c) = spawn_with_acme().await;
    let uuid = TransactionRef::new_random().as_uuid();
    for reference in [
        "not-a-reference".to_owned(),
        uuid.simple().to_string(),
        uuid.to_string(),
    ] {
        let response = app
            .request(Method::GET, &retrieval_path(&reference), &c.admin)
            .send()
            .await
            .unwrap();
        problem(response)
            .await
            .expect(&reference, 404, "TRANSACTION_NOT_FOUND");
    }
    app.stop().await;
}
