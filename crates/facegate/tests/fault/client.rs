//! The customer's integration and the end user's capture client, behaving
//! as a real client must when a node dies under it:
//! - a request that got no answer from a node (a transport failure, or the
//!   load balancer's 502, 503 or 504) is sent again, the same request;
//! - a frame sent again that answers `FRAME_OUT_OF_ORDER` had been accepted
//!   the first time: the next frame takes the next index; a frame refused
//!   `FRAME_OUT_OF_WINDOW` is skipped and the next one reuses its index
//!   (docs/capture-protocol.md §3);
//! - a finish sent again that answers `NONCE_REPLAYED` (or
//!   `ATTEMPT_FINISHED`) had been done: the outcome is read from the
//!   retrieval API;
//! - `RETRY` starts the next attempt, up to the transaction's three.
//!
//! Each transaction keeps what the client knows: whether the initiation was
//! acknowledged, the frames each attempt had accepted, the outcomes, and
//! any answer a correct deployment never gives (an anomaly).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

#[derive(Clone)]
pub struct Credential {
    pub token: String,
    pub secret: String,
}

/// What one request came back with.
#[derive(Debug)]
pub enum Answer {
    Http {
        status: u16,
        body: Value,
    },
    /// No HTTP answer at all (connection refused or reset, timeout).
    Transport(String),
}

impl Answer {
    /// No node answered: the request may be sent again. HAProxy answers 502
    /// when the node died with the request, 503 when no node took it and
    /// 504 when the node did not answer in time; a node's own 503 (busy)
    /// also asks for the request again.
    fn unanswered(&self) -> bool {
        match self {
            Answer::Transport(_) => true,
            Answer::Http { status, .. } => matches!(status, 502..=504),
        }
    }

    fn status(&self) -> u16 {
        match self {
            Answer::Http { status, .. } => *status,
            Answer::Transport(_) => 0,
        }
    }

    /// The problem's `code`, or "".
    fn code(&self) -> &str {
        match self {
            Answer::Http { body, .. } => body["code"].as_str().unwrap_or(""),
            Answer::Transport(_) => "",
        }
    }

    fn body(&self) -> &Value {
        match self {
            Answer::Http { body, .. } => body,
            Answer::Transport(_) => &Value::Null,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Http { status, body } => write!(f, "{status} {body}"),
            Answer::Transport(e) => write!(f, "no answer ({e})"),
        }
    }
}

/// An HTTP client of one base URL (the load balancer, or one node).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(http: reqwest::Client, base: String) -> Client {
        Client { http, base }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Fault Test/1.0")
    }

    async fn send(request: reqwest::RequestBuilder) -> Answer {
        match request.send().await {
            Err(e) => Answer::Transport(e.to_string()),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Err(e) => Answer::Transport(e.to_string()),
                    Ok(text) => Answer::Http {
                        status,
                        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    },
                }
            }
        }
    }

    /// Sends what `make` builds until a node answers, or until `patience`
    /// passed (then the last unanswered answer); counts the re-sends.
    async fn until_answered(
        &self,
        resent: &mut u32,
        patience: Duration,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Answer {
        let give_up = Instant::now() + patience;
        loop {
            let answer = Self::send(make()).await;
            if !answer.unanswered() || Instant::now() >= give_up {
                return answer;
            }
            *resent += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `POST` the facemap initiation.
    fn initiate_request(
        &self,
        api: &Credential,
        metadata: &Value,
        facemap: &[u8],
    ) -> reqwest::RequestBuilder {
        let form = crate::initiate_form::initiate_form(metadata.to_string(), facemap);
        self.request(Method::POST, "/api/authentication/v1/facemap/initiate")
            .basic_auth(&api.token, Some(&api.secret))
            .multipart(form)
    }

    /// `GET` the transaction as the customer's back end retrieves it.
    pub async fn retrieve(&self, admin: &Credential, reference: &str) -> Answer {
        let path = format!("/api/netverify/v2/authentications/{reference}");
        let mut resent = 0;
        self.until_answered(&mut resent, Duration::from_secs(30), || {
            self.request(Method::GET, &path)
                .basic_auth(&admin.token, Some(&admin.secret))
        })
        .await
    }

    fn capture(&self, method: Method, path: &str, capture_token: &str) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(capture_token)
    }

    /// Directly on one node: initiates, opens a session and starts an
    /// attempt, so that the node loads its face models before the load.
    pub async fn warm_up(&self, api: &Credential, enrollment: &crate::deployment::Enrollment) {
        let metadata = json!({ "enrollmentTransactionReference": enrollment.reference });
        let initiated =
            Self::send(self.initiate_request(api, &metadata, &enrollment.facemap)).await;
        assert_eq!(initiated.status(), 200, "warm-up initiation: {initiated}");
        let token = authorization_token(initiated.body());
        let opened = Self::send(
            self.request(Method::POST, "/api/capture/v1/session")
                .json(&json!({ "authorizationToken": token })),
        )
        .await;
        assert_eq!(opened.status(), 201, "warm-up session: {opened}");
        let capture_token = opened.body()["captureToken"].as_str().unwrap().to_owned();
        let started = Self::send(
            self.capture(Method::POST, "/api/capture/v1/attempts", &capture_token)
                .json(&json!({ "flash": false })),
        )
        .await;
        assert_eq!(started.status(), 201, "warm-up attempt: {started}");
    }
}

/// The authorization token in an initiation's `redirectUrl`.
fn authorization_token(initiated: &Value) -> String {
    let redirect = initiated["redirectUrl"].as_str().unwrap_or_default();
    url::Url::parse(redirect)
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == "authorizationToken")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

/// One capture attempt as the client saw it.
#[derive(Debug, Default, Clone)]
pub struct Attempt {
    /// The server's attempt number (1 to 3).
    pub number: u64,
    /// Frames the client knows were accepted.
    pub accepted: u64,
    /// Whether one more frame may have been accepted: its requests got no
    /// answer and no later answer told.
    pub maybe_one_more: bool,
    /// Frames refused as out of window (skipped, index reused).
    pub skipped: u32,
    pub outcome: Option<String>,
    /// The finish answer's guidance; `None` when the outcome was read from
    /// the retrieval API instead.
    pub guidance: Option<Vec<String>>,
}

/// One transaction as the customer and the end user saw it.
#[derive(Debug, Default)]
pub struct Transaction {
    pub number: usize,
    /// Set once the initiation answered 200: the customer holds this reference.
    pub reference: Option<String>,
    pub attempts: Vec<Attempt>,
    /// The final outcome the client learnt (finish answer or retrieval).
    pub outcome: Option<String>,
    /// Requests sent again because no node answered them.
    pub resent: u32,
    /// Answers a correct deployment never gives this client.
    pub anomalies: Vec<String>,
}

/// What every transaction of a run shares.
pub struct Load {
    pub client: Client,
    pub api: Credential,
    pub admin: Credential,
    pub callback_url: String,
    /// The recording's JPEG frames (30 fps).
    pub frames: Arc<Vec<Vec<u8>>>,
    /// Attempts between their start and their finish's answer, now.
    pub in_flight: AtomicUsize,
    /// Attempts uploading their frames, now.
    pub uploading: AtomicUsize,
}

/// How often the client captures a frame (≈15 fps).
const FRAME_INTERVAL_MS: u32 = 66;
/// How long a frame is sent again when no node answers: past 3 s the
/// server would refuse it anyway.
const FRAME_PATIENCE: Duration = Duration::from_secs(4);
/// How long any other request is sent again when no node answers.
const PATIENCE: Duration = Duration::from_secs(30);

impl Load {
    /// Initiates an authentication of `enrollment` and captures the
    /// recording until the transaction is decided.
    pub async fn transaction(
        &self,
        number: usize,
        enrollment: &crate::deployment::Enrollment,
    ) -> Transaction {
        let mut tx = Transaction {
            number,
            ..Transaction::default()
        };
        let metadata = json!({
            "enrollmentTransactionReference": enrollment.reference,
            "userReference": format!("fault-{number}"),
            "callbackUrl": self.callback_url,
            "successUrl": "http://localhost:9/done",
        });
        let client = &self.client;
        let initiated = client
            .until_answered(&mut tx.resent, PATIENCE, || {
                client.initiate_request(&self.api, &metadata, &enrollment.facemap)
            })
            .await;
        if initiated.status() != 200 {
            tx.anomalies.push(format!("initiation: {initiated}"));
            return tx;
        }
        let reference = initiated.body()["authenticationTransactionReference"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        tx.reference = Some(reference);
        let token = authorization_token(initiated.body());
        let opened = client
            .until_answered(&mut tx.resent, PATIENCE, || {
                client
                    .request(Method::POST, "/api/capture/v1/session")
                    .json(&json!({ "authorizationToken": token }))
            })
            .await;
        if opened.status() != 201 {
            tx.anomalies.push(format!("session: {opened}"));
            return tx;
        }
        let capture_token = opened.body()["captureToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        while tx.outcome.is_none() {
            let Some(attempt) = self.attempt(&mut tx, &capture_token).await else {
                break;
            };
            let outcome = attempt.outcome.clone();
            tx.attempts.push(attempt);
            match outcome.as_deref() {
                Some("RETRY") => {}
                Some(_) => tx.outcome = outcome,
                None => break,
            }
        }
        tx
    }

    /// One attempt: start, the frames at the client's pace, finish.
    async fn attempt(&self, tx: &mut Transaction, capture_token: &str) -> Option<Attempt> {
        let client = &self.client;
        let started = client
            .until_answered(&mut tx.resent, PATIENCE, || {
                client
                    .capture(Method::POST, "/api/capture/v1/attempts", capture_token)
                    .json(&json!({ "flash": false }))
            })
            .await;
        if started.status() != 201 {
            // ATTEMPTS_EXHAUSTED after a start whose answer was lost (it
            // used an attempt) is what a correct server says too; the
            // transaction then ends at its lifetime.
            tx.anomalies.push(format!("start of an attempt: {started}"));
            return None;
        }
        let body = started.body();
        let id = body["attemptId"].as_str().unwrap_or_default().to_owned();
        let nonce = body["nonce"].as_str().unwrap_or_default().to_owned();
        let duration = body["challenge"]["durationMs"].as_u64().unwrap_or(3_000) as u32;
        let mut attempt = Attempt {
            number: body["attemptNumber"].as_u64().unwrap_or(0),
            ..Attempt::default()
        };
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.uploading.fetch_add(1, Ordering::SeqCst);
        self.frames(tx, &mut attempt, capture_token, &id, &nonce, duration)
            .await;
        self.uploading.fetch_sub(1, Ordering::SeqCst);
        self.finish(tx, &mut attempt, capture_token, &id, &nonce)
            .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Some(attempt)
    }

    /// Uploads the recording from its start, frame `t` at `t + 66 ms`.
    async fn frames(
        &self,
        tx: &mut Transaction,
        attempt: &mut Attempt,
        capture_token: &str,
        id: &str,
        nonce: &str,
        duration: u32,
    ) {
        let path = format!("/api/capture/v1/attempts/{id}/frames");
        let t0 = tokio::time::Instant::now();
        let mut index = 0u32;
        // The capture time of a frame sent with `index` whose acceptance is
        // unknown (no node answered it).
        let mut unknown: Option<u32> = None;
        let mut t = 0u32;
        'frames: while t <= duration {
            let jpeg = &self.frames[(t as usize * 30 / 1000) % self.frames.len()];
            tokio::time::sleep_until(t0 + ms(t + FRAME_INTERVAL_MS)).await;
            let give_up = Instant::now() + FRAME_PATIENCE;
            loop {
                let answer = Client::send(
                    self.client
                        .capture(Method::POST, &path, capture_token)
                        .header("Content-Type", "image/jpeg")
                        .header("Capture-Nonce", nonce)
                        .header("Capture-Time-Ms", t.to_string())
                        .header("Capture-Frame", index.to_string())
                        .body(jpeg.clone()),
                )
                .await;
                if answer.unanswered() {
                    unknown = Some(t);
                    if Instant::now() >= give_up {
                        break;
                    }
                    tx.resent += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                match (answer.status(), answer.code()) {
                    (202, _) => {
                        attempt.accepted += 1;
                        index += 1;
                        unknown = None;
                        break;
                    }
                    (409, "FRAME_OUT_OF_ORDER") if unknown.is_some() => {
                        // The unanswered send had been accepted.
                        attempt.accepted += 1;
                        index += 1;
                        let this_frame = unknown == Some(t);
                        unknown = None;
                        if this_frame {
                            break;
                        }
                    }
                    (409, "FRAME_OUT_OF_WINDOW") => {
                        attempt.skipped += 1;
                        unknown = None;
                        break;
                    }
                    (409, "ATTEMPT_FINISHED" | "NONCE_REPLAYED") => {
                        tx.anomalies
                            .push(format!("frame {index} at {t} ms: {answer}"));
                        break 'frames;
                    }
                    _ => {
                        tx.anomalies
                            .push(format!("frame {index} at {t} ms: {answer}"));
                        unknown = None;
                        break;
                    }
                }
            }
            t += FRAME_INTERVAL_MS;
        }
        attempt.maybe_one_more = unknown.is_some();
    }

    /// Finishes the attempt; a finish sent again that finds the attempt
    /// done reads the outcome from the retrieval API.
    async fn finish(
        &self,
        tx: &mut Transaction,
        attempt: &mut Attempt,
        capture_token: &str,
        id: &str,
        nonce: &str,
    ) {
        let client = &self.client;
        let path = format!("/api/capture/v1/attempts/{id}/finish");
        let resent_before = tx.resent;
        let answer = client
            .until_answered(&mut tx.resent, Duration::from_secs(90), || {
                client
                    .capture(Method::POST, &path, capture_token)
                    .json(&json!({ "nonce": nonce }))
            })
            .await;
        match (answer.status(), answer.code()) {
            (200, _) => {
                let body = answer.body();
                attempt.outcome = body["outcome"].as_str().map(str::to_owned);
                attempt.guidance = Some(
                    body["guidance"]
                        .as_array()
                        .map(|g| {
                            g.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                );
            }
            (409, "NONCE_REPLAYED" | "ATTEMPT_FINISHED") => {
                if tx.resent == resent_before {
                    tx.anomalies.push(format!(
                        "first finish of attempt {}: {answer}",
                        attempt.number
                    ));
                }
                let reference = tx.reference.clone().unwrap_or_default();
                let retrieved = client.retrieve(&self.admin, &reference).await;
                let state = retrieved.body()["transactionResult"].as_str().unwrap_or("");
                attempt.outcome = Some(match state {
                    "CREATED" | "STARTED" => "RETRY".to_owned(),
                    "" => {
                        tx.anomalies
                            .push(format!("retrieval after a finish: {retrieved}"));
                        return;
                    }
                    final_state => final_state.to_owned(),
                });
            }
            _ => tx
                .anomalies
                .push(format!("finish of attempt {}: {answer}", attempt.number)),
        }
    }
}

fn ms(n: u32) -> Duration {
    Duration::from_millis(u64::from(n))
}
