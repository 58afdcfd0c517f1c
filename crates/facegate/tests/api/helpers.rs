//! The test harness: `spawn_app()` starts Facegate as `facegate serve` would,
#![allow(dead_code)]
//! with a manual clock, a static DNS for callbacks and development switches.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use chrono::{TimeZone, Utc};
use facegate::app::{self, Hooks, Running};
use facegate::config::Config;
use facegate_api::wire::{AuthenticationCallback, FacemapInitiated};
use facegate_callbacks::StaticLookup;
use facegate_core::accounts::AccountChanges;
use facegate_core::documents::PortraitTemplate;
use facegate_core::{CaptureService, Services};
use facegate_domain::{Account, Enrollment, EnrollmentRef, Evidence, ManualClock, Role};
pub use facegate_storage::testing::Backend;
use facegate_storage::testing::PostgresSchema;
use facegate_storage::Store;
use serde_json::{json as json_value, Value};
use tempfile::TempDir;

use crate::scans::{
    capture_passport_and_selfie, initiate_scan, issued_facemap, passport_analysis,
    ScriptedDocuments,
};
use crate::scripted::{HolderSelfies, ScriptedEngine};

pub const MODEL: &str = "fr-feature-512-v1";

/// The facemap initiate path, and the two older paths that answer the same.
pub const INITIATE: &str = "/api/authentication/v1/facemap/initiate";
pub const WEB_INITIATE: &str = "/api/authentication/v1/web/initiate";
pub const INITIATE_ALIASES: [&str; 3] = [
    "/api/authentication/v1/initiateAuthentication",
    "/api/v4/initiateAuthentication",
    "/api/auth/v1/initiate",
];

/// A last change to a test server's configuration.
pub type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// Knobs for one test's server.
pub struct Options {
    pub allow_loopback_callbacks: bool,
    /// Run on the system clock instead of the manual one (browser tests,
    /// whose frames arrive in real time).
    pub system_clock: bool,
    /// `dev.fixed_challenge`: the challenge every attempt gets.
    pub fixed_challenge: Option<facegate_domain::Challenge>,
    /// Another face engine than the real models (fault injection).
    pub engine: Option<Arc<dyn facegate_core::FaceEngine>>,
    /// The document engine (none: the real models, unless the
    /// configuration turns ID verification capture off).
    pub documents: Option<Arc<dyn facegate_core::DocumentEngine>>,
    /// ID verifications on scripted engines, for tests that enroll by a scan
    /// ([`TestApp::enrolled_by_scan`]) but are not about scans: every
    /// document is a readable passport ([`ScriptedDocuments`]) and every
    /// selfie its holder ([`HolderSelfies`]); authentications still run on
    /// `engine`. Excludes `documents`.
    pub scripted_scans: bool,
    /// Last changes to the configuration (server limits, TLS, mode).
    pub configure: Option<Configure>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_loopback_callbacks: true,
            system_clock: false,
            fixed_challenge: None,
            engine: None,
            documents: None,
            scripted_scans: false,
            configure: None,
        }
    }
}

impl Options {
    /// For tests that are not about faces: attempts find the enrolled
    /// person, live, and enrollments are made by scripted scans.
    pub fn scripted() -> Self {
        Self {
            engine: Some(Arc::new(ScriptedEngine::new(Evidence::LiveMatch))),
            scripted_scans: true,
            ..Self::default()
        }
    }

    /// For tests about authentication on the real face engine that need
    /// enrollments: scans are scripted, attempts analysed for real.
    pub fn scripted_scans() -> Self {
        Self {
            scripted_scans: true,
            ..Self::default()
        }
    }
}

/// A Facegate server the tests speak to over HTTP: one in the test's
/// process ([`TestApp`]) or a `facegate serve` process (`logs.rs`).
pub trait Server: Sync {
    fn client(&self) -> &reqwest::Client;

    /// `http://127.0.0.1:PORT`.
    fn base(&self) -> &str;

    /// How capture time passes on the server's clock, from now on.
    fn pace(&self) -> Pace<'_>;

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// A request with the headers every API call needs.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: &Credential,
    ) -> reqwest::RequestBuilder {
        self.client()
            .request(method, self.url(path))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Tests/1.0")
            .basic_auth(&cred.token, Some(&cred.secret))
    }

    /// A `GET` of a file the API serves (an image, a facemap): no `Accept`.
    fn download(&self, path: &str, cred: &Credential) -> reqwest::RequestBuilder {
        self.client()
            .get(self.url(path))
            .header("User-Agent", "Facegate Tests/1.0")
            .basic_auth(&cred.token, Some(&cred.secret))
    }
}

/// How the capture time of the frames a test sends passes on the server's
/// clock: the capture protocol refuses a frame sent before its capture time.
pub enum Pace<'a> {
    /// The test's manual clock, moved on as the frames are sent.
    Manual { clock: &'a ManualClock, at_ms: u32 },
    /// The wall clock since this instant: a frame waits for its time.
    RealTime(tokio::time::Instant),
}

impl Pace<'_> {
    /// Lets the server's clock reach `t_ms` after the pace began.
    pub async fn until(&mut self, t_ms: u32) {
        match self {
            Pace::Manual { clock, at_ms } => {
                if t_ms > *at_ms {
                    clock.advance(chrono::Duration::milliseconds(i64::from(t_ms - *at_ms)));
                    *at_ms = t_ms;
                }
            }
            Pace::RealTime(start) => {
                tokio::time::sleep_until(*start + Duration::from_millis(t_ms.into())).await;
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Arc<Services>,
    /// The capture protocol of the running server (its face engine).
    pub capture: Arc<CaptureService>,
    pub clock: ManualClock,
    pub config: Config,
    running: Option<Running>,
    system_clock: bool,
    engine: Option<Arc<dyn facegate_core::FaceEngine>>,
    documents: Option<Arc<dyn facegate_core::DocumentEngine>>,
    /// The documents of [`Options::scripted_scans`].
    scan_documents: Option<ScriptedDocuments>,
    /// Shared by the nodes of one deployment ([`TestApp::another_node_with`]).
    _dir: Arc<TestDir>,
}

/// The backend the suite runs on: `FACEGATE_TEST_DATABASE=postgres` runs
/// every server (and `facegate` command) on a schema of its own on the test
/// PostgreSQL server (`FACEGATE_TEST_POSTGRES_URL`); SQLite by default.
pub fn backend() -> Backend {
    Backend::from_env().unwrap()
}

/// Whether the suite runs on SQLite; on PostgreSQL the calling test, which
/// is about SQLite's files, says so and should return.
pub fn sqlite_only(reason: &str) -> bool {
    if backend() == Backend::Sqlite {
        return true;
    }
    eprintln!("SKIPPED on PostgreSQL: {reason}");
    false
}

/// A data directory for a test server or `facegate` commands and, when the
/// suite runs on PostgreSQL, the database schema that goes with it (dropped
/// with it). Commands find the schema by the directory: [`database_args`].
pub struct TestDir {
    dir: TempDir,
    database: Option<PostgresSchema>,
}

/// The database URL of each live [`TestDir`] on PostgreSQL, by directory.
static DATABASES: Mutex<Vec<(std::path::PathBuf, String)>> = Mutex::new(Vec::new());

impl TestDir {
    /// Usable from synchronous and asynchronous tests alike: the schema is
    /// made on a thread of its own.
    pub fn new() -> TestDir {
        let dir = tempfile::tempdir().unwrap();
        let database = match backend() {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let made = std::thread::spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(PostgresSchema::create())
                })
                .join()
                .unwrap();
                let schema = made
                    .unwrap()
                    .expect("FACEGATE_TEST_DATABASE=postgres, but PostgreSQL is unreachable");
                DATABASES.lock().unwrap().push((
                    dir.path().to_path_buf(),
                    schema.url().expose_secret().to_owned(),
                ));
                Some(schema)
            }
        };
        TestDir { dir, database }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The `database_url` a server on this directory needs (PostgreSQL).
    pub fn database_url(&self) -> Option<secrecy::SecretString> {
        self.database
            .as_ref()
            .map(|s| secrecy::SecretString::from(s.url().expose_secret().to_owned()))
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if self.database.is_some() {
            DATABASES
                .lock()
                .unwrap()
                .retain(|(dir, _)| dir != self.dir.path());
        }
    }
}

/// `--database-url URL` for a `facegate` command on the data directory
/// `dir` of a [`TestDir`], when the suite runs on PostgreSQL; nothing on
/// SQLite, where the database is the file in the directory.
pub fn database_args(dir: &std::path::Path) -> Vec<String> {
    DATABASES
        .lock()
        .unwrap()
        .iter()
        .find(|(known, _)| known == dir || dir.starts_with(known))
        .map(|(_, url)| vec!["--database-url".to_owned(), url.clone()])
        .unwrap_or_default()
}

/// A customer account with one credential of each role: `main` may call
/// every customer API (Jumio's one API credential), `api` only initiates,
/// `admin` only administers transactions.
pub struct Customer {
    pub account: Account,
    pub main: Credential,
    pub api: Credential,
    pub admin: Credential,
}

#[derive(Clone)]
pub struct Credential {
    pub token: String,
    pub secret: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// A fresh server and its customer "Acme", which may authenticate by facemap.
pub async fn spawn_with_acme() -> (TestApp, Customer) {
    spawn_with_acme_on(Options::default()).await
}

/// A server with `options` and its customer "Acme".
pub async fn spawn_with_acme_on(options: Options) -> (TestApp, Customer) {
    let app = spawn_app_with(options).await;
    let acme = app.customer("Acme", true).await;
    (app, acme)
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let dir = TestDir::new();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: dir.database_url(),
        listen: "127.0.0.1:0".parse().unwrap(),
        expiry_interval_ms: 50,
        ..Config::default()
    };
    config.dev.allow_localhost_urls = true;
    config.callbacks.allow_loopback = options.allow_loopback_callbacks;
    config.callbacks.poll_interval_ms = 50;
    config.callbacks.timeout_secs = 5;
    if let Some(challenge) = &options.fixed_challenge {
        let path = dir.path().join("challenge.json");
        std::fs::write(&path, serde_json::to_string(challenge).unwrap()).unwrap();
        config.dev.fixed_challenge = Some(path);
    }
    if let Some(configure) = options.configure {
        configure(&mut config);
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap());
    let (mut engine, mut documents, mut scan_documents) = (options.engine, options.documents, None);
    if options.scripted_scans {
        assert!(
            documents.is_none(),
            "scripted scans have their own documents"
        );
        let scripted = ScriptedDocuments::new();
        documents = Some(Arc::new(scripted.clone()));
        scan_documents = Some(scripted);
        let authentication = engine.unwrap_or_else(|| -> Arc<dyn facegate_core::FaceEngine> {
            facegate_engine::VisionEngine::shared(config.engine_settings())
        });
        engine = Some(Arc::new(HolderSelfies { authentication }));
    }
    let running = start(
        &config,
        &clock,
        options.system_clock,
        engine.clone(),
        documents.clone(),
    )
    .await;
    TestApp {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        services: running.services.clone(),
        capture: running.capture.clone(),
        clock,
        config,
        running: Some(running),
        system_clock: options.system_clock,
        engine,
        documents,
        scan_documents,
        _dir: Arc::new(dir),
    }
}

async fn start(
    config: &Config,
    clock: &ManualClock,
    system_clock: bool,
    engine: Option<Arc<dyn facegate_core::FaceEngine>>,
    documents: Option<Arc<dyn facegate_core::DocumentEngine>>,
) -> Running {
    let hook_clock: Arc<dyn facegate_domain::Clock> = if system_clock {
        Arc::new(facegate_domain::SystemClock)
    } else {
        Arc::new(clock.clone())
    };
    // Names for callbacks: localhost is the test receiver; the others are
    // internal addresses a hostile DNS could answer with.
    let lookup = StaticLookup::new()
        .with("localhost", [IpAddr::V4(Ipv4Addr::LOCALHOST)])
        .with(
            "internal.example.com",
            [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))],
        )
        .with(
            "metadata.example.com",
            [IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))],
        );
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    app::start(
        config,
        listener,
        Hooks {
            clock: hook_clock,
            lookup: Arc::new(lookup),
            engine,
            documents,
        },
    )
    .await
    .unwrap()
}

impl TestApp {
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Stops the server and starts it again on the same data directory and
    /// clock, as an operator does after changing the keyring.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let running = start(
            &self.config,
            &self.clock,
            self.system_clock,
            self.engine.clone(),
            self.documents.clone(),
        )
        .await;
        self.base = format!("http://{}", running.addr);
        self.services = running.services.clone();
        self.capture = running.capture.clone();
        self.running = Some(running);
    }

    /// A second node of the same deployment: another server on the same
    /// database, master keys and clock, with the same engines unless
    /// `engine` names another (a node that never finishes its analyses).
    pub async fn another_node_with(
        &self,
        engine: Option<Arc<dyn facegate_core::FaceEngine>>,
    ) -> TestApp {
        let engine = engine.or_else(|| self.engine.clone());
        let running = start(
            &self.config,
            &self.clock,
            self.system_clock,
            engine.clone(),
            self.documents.clone(),
        )
        .await;
        TestApp {
            base: format!("http://{}", running.addr),
            client: self.client.clone(),
            services: running.services.clone(),
            capture: running.capture.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            running: Some(running),
            system_clock: self.system_clock,
            engine,
            documents: self.documents.clone(),
            scan_documents: self.scan_documents.clone(),
            _dir: self._dir.clone(),
        }
    }

    /// The server's database: for fixtures that set up
    /// states no use case produces (ineligible enrollments, a missing key).
    /// Everything else goes through the services or the HTTP API.
    pub fn fixture_store(&self) -> Arc<dyn Store> {
        self.running.as_ref().unwrap().store.clone()
    }

    pub fn url(&self, path: &str) -> String {
        Server::url(self, path)
    }

    /// A plain `GET` of `path`, without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The body of a plain `GET` of `path`, as text.
    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.text("/metrics").await
    }

    /// A request with the headers every API call needs.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: &Credential,
    ) -> reqwest::RequestBuilder {
        Server::request(self, method, path, cred)
    }

    pub async fn customer(&self, name: &str, facemap_auth: bool) -> Customer {
        let account = self
            .services
            .create_account(
                name,
                AccountChanges {
                    facemap_auth_enabled: Some(facemap_auth),
                    ..AccountChanges::default()
                },
            )
            .await
            .unwrap();
        let mut creds = Vec::new();
        for role in [Role::All, Role::Api, Role::Admin] {
            let c = self
                .services
                .issue_credential(account.id, role)
                .await
                .unwrap();
            creds.push(Credential {
                token: c.token,
                secret: c.secret,
            });
        }
        let admin = creds.pop().unwrap();
        let api = creds.pop().unwrap();
        let main = creds.pop().unwrap();
        Customer {
            account,
            main,
            api,
            admin,
        }
    }

    /// An approved enrollment with a facemap, changed by `decide` and
    /// written by the fixture store: for decisions no use case records yet.
    /// `deleted` makes it the tombstone that facemap authentication requires.
    pub async fn enrollment_with(
        &self,
        account: &Account,
        deleted: bool,
        decide: impl FnOnce(&mut Enrollment),
    ) -> (EnrollmentRef, Vec<u8>) {
        let reference = EnrollmentRef::new_random();
        let template: Vec<f32> = (0..512).map(|i| ((i as f32) * 0.37).sin()).collect();
        let (facemap, binding) = self
            .services
            .issue_facemap(account, reference, None, MODEL, vec![template])
            .unwrap();
        let mut enrollment = Enrollment::approved(
            reference,
            account.id,
            binding,
            facemap.clone(),
            self.clock.now_utc(),
        );
        decide(&mut enrollment);
        let store = self.fixture_store();
        store.insert_enrollment(&enrollment).await.unwrap();
        if deleted {
            store
                .delete_enrollment(reference, self.clock.now_utc())
                .await
                .unwrap();
        }
        (reference, facemap)
    }

    /// An enrollment made as a customer makes one: an ID verification
    /// (workflow 200) of a passport and a selfie over HTTP and the capture
    /// protocol, then the download of the facemap it issued and, unless
    /// `keep`, the scan's deletion (what leaves the tombstone that facemap
    /// authentication requires). The server's engines must approve it (a
    /// scan of [`Options::scripted_scans`] does).
    pub async fn enrolled_by_scan(
        &self,
        customer: &Customer,
        keep: bool,
    ) -> (EnrollmentRef, Vec<u8>) {
        let (reference, token) = initiate_scan(self, &customer.api, json_value!({})).await;
        let done = capture_passport_and_selfie(self, &token).await;
        assert_eq!(done["outcome"], "PASSED", "the enrollment's scan: {done}");
        let facemap = issued_facemap(self, &customer.admin, &reference, keep).await;
        (reference.parse().unwrap(), facemap)
    }

    /// [`TestApp::enrolled_by_scan`] of a passport whose portrait (and so
    /// the selfie, and the facemap) has `template` of `model`; deleted. The
    /// scripted documents keep showing that portrait afterwards.
    pub async fn enrolled_by_scan_as(
        &self,
        customer: &Customer,
        model: &str,
        template: Vec<f32>,
    ) -> (EnrollmentRef, Vec<u8>) {
        let documents = self
            .scan_documents
            .as_ref()
            .expect("a server with scripted scans");
        let mut passport = passport_analysis();
        passport.portrait = Some(PortraitTemplate {
            model: model.to_owned(),
            vector: template,
        });
        documents.show(passport);
        self.enrolled_by_scan(customer, false).await
    }

    /// An approved enrollment the server keeps (not deleted), and its facemap.
    pub async fn kept_enrollment(&self, customer: &Customer) -> (EnrollmentRef, Vec<u8>) {
        self.enrolled_by_scan(customer, true).await
    }

    /// An eligible (approved, deleted) enrollment and its facemap.
    pub async fn enrollment(&self, customer: &Customer) -> (EnrollmentRef, Vec<u8>) {
        self.enrolled_by_scan(customer, false).await
    }

    /// `POST` a multipart initiate to `path` with the given metadata JSON text.
    pub async fn initiate_at(
        &self,
        path: &str,
        cred: &Credential,
        metadata: &str,
        facemap: &[u8],
    ) -> reqwest::Response {
        let form = crate::initiate_form::initiate_form(metadata.to_owned(), facemap);
        self.request(reqwest::Method::POST, path, cred)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn initiate(
        &self,
        cred: &Credential,
        metadata: &Value,
        facemap: &[u8],
    ) -> reqwest::Response {
        self.initiate_at(INITIATE, cred, &metadata.to_string(), facemap)
            .await
    }

    /// Initiates and returns the new transaction reference (panics unless 200).
    pub async fn initiate_ok(&self, cred: &Credential, metadata: &Value, facemap: &[u8]) -> String {
        self.initiate_redirect(cred, metadata, facemap).await.0
    }

    /// Initiates and returns the new transaction reference and its redirect
    /// URL (panics unless 200).
    pub async fn initiate_redirect(
        &self,
        cred: &Credential,
        metadata: &Value,
        facemap: &[u8],
    ) -> (String, String) {
        let response = self.initiate(cred, metadata, facemap).await;
        let (status, body) = json(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let initiated: FacemapInitiated = serde_json::from_value(body).unwrap();
        (
            initiated.authentication_transaction_reference.to_string(),
            initiated.redirect_url,
        )
    }

    /// Status and JSON body of a bodiless API call.
    /// `method path` with `cred`: the status and the JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: &Credential,
    ) -> (StatusCode, Value) {
        json(self.request(method, path, cred).send().await.unwrap()).await
    }

    pub async fn retrieve(&self, cred: &Credential, reference: &str) -> (StatusCode, Value) {
        let path = format!("/api/netverify/v2/authentications/{reference}");
        self.call(reqwest::Method::GET, &path, cred).await
    }

    /// The `transactionResult` that retrieval answers for `reference`.
    pub async fn result(&self, cred: &Credential, reference: &str) -> Value {
        self.retrieve(cred, reference).await.1["transactionResult"].clone()
    }

    pub async fn delete(&self, cred: &Credential, reference: &str) -> (StatusCode, Value) {
        let path = format!("/api/netverify/v2/authentications/{reference}");
        self.call(reqwest::Method::DELETE, &path, cred).await
    }

    pub async fn callbacks(&self, cred: &Credential, reference: &str) -> Value {
        let path = format!("/api/netverify/v2/authentications/{reference}/callbacks");
        let (status, body) = self.call(reqwest::Method::GET, &path, cred).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

impl Server for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn base(&self) -> &str {
        &self.base
    }

    fn pace(&self) -> Pace<'_> {
        if self.system_clock {
            Pace::RealTime(tokio::time::Instant::now())
        } else {
            Pace::Manual {
                clock: &self.clock,
                at_ms: 0,
            }
        }
    }
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        facegate_domain::Clock::now(self)
    }
}

/// `base` with the members of the object `extra` added or replaced.
pub fn merged(mut base: Value, extra: &Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

/// Sends `request` and reads its JSON answer as a `T`.
pub async fn send_for<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// Status and JSON body of a response.
pub async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Asserts an RFC 9457 problem with `status` and `code`; returns the body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let (actual, body) = json(response).await;
    assert_eq!(
        (actual.as_u16(), body["code"].as_str().unwrap_or("")),
        (status, code),
        "{body}"
    );
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(),
        "{body}"
    );
    body
}

/// The codes of a validation problem's `errors`, as `field:code`.
pub fn field_errors(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{}:{}",
                        e["field"].as_str().unwrap(),
                        e["code"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it holds, for at most 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A request as the callback receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

/// A callback receiver on loopback that fails its first `failures` requests
/// with 500. It takes a `POST` to any path; [`Receiver::url`] is its `/cb`.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(failures: usize) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = received.clone();
        let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().unwrap();
                let path = uri.path().to_owned();
                all.push(Received {
                    path,
                    headers,
                    body,
                });
                if all.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        };
        let router = axum::Router::new().route("/{*path}", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url: format!("http://localhost:{port}/cb"),
            received,
        }
    }

    /// `http://localhost:PORT`, where every path is the receiver's.
    pub fn site(&self) -> &str {
        self.url.trim_end_matches("/cb")
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Parses a form-urlencoded callback body.
pub fn form(body: &str) -> std::collections::HashMap<String, String> {
    serde_urlencoded::from_str(body).unwrap()
}

/// Reads a callback body into its wire type (which checks every member).
pub fn callback_body(body: &str) -> AuthenticationCallback {
    serde_urlencoded::from_str(body).unwrap()
}

/// CLI arguments that create the account "Acme" with facemap authentication.
pub const CLI_CREATE_ACME: [&str; 6] = [
    "account",
    "create",
    "--name",
    "Acme",
    "--enable-facemap-auth",
    "--json",
];

/// CLI arguments that issue a credential of `role` for `account`.
pub fn cli_issue_credential<'a>(account: &'a str, role: &'a str) -> [&'a str; 7] {
    [
        "credentials",
        "create",
        "--account",
        account,
        "--role",
        role,
        "--json",
    ]
}
