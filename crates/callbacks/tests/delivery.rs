//! End-to-end delivery against a real axum receiver on 127.0.0.1; nothing here may send
//! traffic to a non-loopback address, so forbidden-destination cases assert the guard first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use axum::Router;
use facegate_callbacks::{
    is_forbidden, verify, AddressPolicy, AttemptErrorKind, AttemptOutcome, Deliverer,
    DelivererConfig, Delivery, GuardedResolver, ResolveError, SigningSecret, StaticLookup,
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use facegate_domain::PrivateCallbackTargets;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[derive(Debug, Clone)]
struct Received {
    path: &'static str,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<Received>>>,
    hits: Arc<AtomicUsize>,
}

impl Receiver {
    fn record(&self, path: &'static str, headers: HeaderMap, body: Bytes) {
        self.hits.fetch_add(1, Ordering::SeqCst);
        self.requests.lock().unwrap().push(Received {
            path,
            headers,
            body,
        });
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

async fn ok(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    r.record("/cb", headers, body);
    // A body larger than the read limit must not matter.
    (StatusCode::OK, "x".repeat(64 * 1024))
}

async fn fail(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/fail", headers, body);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn redirect(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Redirect {
    r.record("/redirect", headers, body);
    Redirect::to("/cb")
}

async fn slow(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.record("/slow", headers, body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    StatusCode::OK
}

async fn start_receiver() -> (Receiver, u16) {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/cb", post(ok))
        .route("/fail", post(fail))
        .route("/redirect", post(redirect))
        .route("/slow", post(slow))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (receiver, port)
}

fn lookup() -> StaticLookup {
    StaticLookup::new()
        .with("receiver.test", [LOCALHOST])
        .with("evil.test", [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))])
        .with(
            "metadata.test",
            [IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))],
        )
}

fn deliverer(allow_loopback: bool, timeout: Duration) -> Deliverer {
    Deliverer::new(DelivererConfig {
        timeout,
        connect_timeout: Duration::from_secs(2),
        policy: AddressPolicy { allow_loopback },
        lookup: Arc::new(lookup()),
        user_agent: "facegate-test/1".to_owned(),
    })
    .unwrap()
}

fn secret() -> SigningSecret {
    SigningSecret::from_bytes(&[0x42; 32]).unwrap()
}

const BODY: &str = "scanReference=abc-123&verificationStatus=APPROVED_VERIFIED";
const TS: i64 = 1_700_000_000;

async fn send(d: &Deliverer, url: &str) -> AttemptOutcome {
    send_for(d, url, &PrivateCallbackTargets::NONE).await
}

/// Sends as an account listing `private` as its private callback targets.
async fn send_for(d: &Deliverer, url: &str, private: &PrivateCallbackTargets) -> AttemptOutcome {
    let secret = secret();
    d.deliver(&Delivery {
        url,
        msg_id: "msg_test_1",
        timestamp_secs: TS,
        body: BODY,
        secrets: std::slice::from_ref(&secret),
        private,
    })
    .await
}

/// Proves, without any network I/O, that the guard refuses `host`, so a following delivery
/// cannot reach a non-loopback address even if the assertion under test would fail.
async fn assert_guard_refuses(host: &str) {
    let guard = GuardedResolver::new(
        Arc::new(lookup()),
        AddressPolicy {
            allow_loopback: true,
        },
    );
    assert!(
        matches!(
            guard.resolve_allowed(host).await,
            Err(ResolveError::Forbidden { .. })
        ),
        "guard must refuse {host} before any delivery is attempted"
    );
}

fn assert_failed(o: &AttemptOutcome, kind: AttemptErrorKind) {
    assert!(!o.delivered, "{o:?}");
    assert_eq!(o.error, Some(kind), "{o:?}");
    assert!(o.detail.is_some(), "{o:?}");
}

#[tokio::test]
async fn delivers_signed_request() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(true, Duration::from_secs(5));
    let outcome = send(&d, &format!("http://receiver.test:{port}/cb")).await;
    assert!(outcome.delivered, "{outcome:?}");
    assert_eq!(outcome.status, Some(200));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.detail, None);

    let got = receiver.take();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.path, "/cb");
    assert_eq!(req.body.as_ref(), BODY.as_bytes());
    let header = |name: &str| req.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "application/x-www-form-urlencoded");
    assert_eq!(header("user-agent"), "facegate-test/1");
    assert_eq!(header(WEBHOOK_ID), "msg_test_1");
    let ts: i64 = header(WEBHOOK_TIMESTAMP).parse().unwrap();
    assert_eq!(ts, TS);
    verify(
        &secret(),
        &header(WEBHOOK_ID),
        ts,
        &header(WEBHOOK_SIGNATURE),
        &req.body,
        TS + 5,
        300,
    )
    .unwrap();
    // A different secret must not verify what we sent.
    let other = SigningSecret::from_bytes(&[0x43; 32]).unwrap();
    assert!(verify(
        &other,
        "msg_test_1",
        ts,
        &header(WEBHOOK_SIGNATURE),
        &req.body,
        TS,
        300
    )
    .is_err());
}

#[tokio::test]
async fn server_error_is_http_status_failure() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(true, Duration::from_secs(5));
    let outcome = send(&d, &format!("http://receiver.test:{port}/fail")).await;
    assert_failed(&outcome, AttemptErrorKind::HttpStatus);
    assert_eq!(outcome.status, Some(500));
    assert_eq!(receiver.hits(), 1);
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(true, Duration::from_secs(5));
    let outcome = send(&d, &format!("http://receiver.test:{port}/redirect")).await;
    assert_failed(&outcome, AttemptErrorKind::HttpStatus);
    let status = outcome.status.unwrap();
    assert!((300..400).contains(&status), "{outcome:?}");
    let paths: Vec<_> = receiver.take().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/redirect"],
        "the redirect target must not be requested"
    );
}

#[tokio::test]
async fn loopback_refused_when_not_allowed() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(false, Duration::from_secs(5));
    let outcome = send(&d, &format!("http://receiver.test:{port}/cb")).await;
    assert_failed(&outcome, AttemptErrorKind::ForbiddenDestination);
    assert_eq!(outcome.status, None);
    let literal = send(&d, &format!("http://127.0.0.1:{port}/cb")).await;
    assert_failed(&literal, AttemptErrorKind::ForbiddenDestination);
    let literal6 = send(&d, &format!("http://[::ffff:127.0.0.1]:{port}/cb")).await;
    assert_failed(&literal6, AttemptErrorKind::ForbiddenDestination);
    assert_eq!(receiver.hits(), 0);
}

#[tokio::test]
async fn an_account_listing_loopback_reaches_it_under_the_strict_policy_and_no_other_does() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(false, Duration::from_secs(5));
    let listed = PrivateCallbackTargets::parse("127.0.0.1/32").unwrap();
    for url in [
        format!("http://receiver.test:{port}/cb"),
        format!("http://127.0.0.1:{port}/cb"),
    ] {
        let outcome = send_for(&d, &url, &listed).await;
        assert!(outcome.delivered, "{url}: {outcome:?}");
    }
    assert_eq!(receiver.hits(), 2);
    // Right after, with the listing's connection still pooled, an account
    // without the listing is refused by name and by literal.
    for url in [
        format!("http://receiver.test:{port}/cb"),
        format!("http://127.0.0.1:{port}/cb"),
    ] {
        let outcome = send(&d, &url).await;
        assert_failed(&outcome, AttemptErrorKind::ForbiddenDestination);
        let other = PrivateCallbackTargets::parse("10.0.0.0/8,receiver.test").unwrap();
        let outcome = send_for(&d, &url, &other).await;
        assert_failed(&outcome, AttemptErrorKind::ForbiddenDestination);
    }
    assert_eq!(receiver.hits(), 2);
}

#[tokio::test]
async fn private_and_metadata_names_refused_by_guard() {
    assert_guard_refuses("evil.test").await;
    assert_guard_refuses("metadata.test").await;
    // Even in development mode (loopback allowed) these stay forbidden.
    let d = deliverer(true, Duration::from_secs(5));
    for url in [
        "http://evil.test/cb",
        "http://metadata.test/latest/meta-data/",
    ] {
        let outcome = send(&d, url).await;
        assert_failed(&outcome, AttemptErrorKind::ForbiddenDestination);
        assert_eq!(outcome.status, None);
        assert!(
            outcome
                .detail
                .as_deref()
                .unwrap()
                .contains("destination not allowed"),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn literal_metadata_address_refused() {
    let metadata = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));
    let dev = AddressPolicy {
        allow_loopback: true,
    };
    assert!(
        is_forbidden(metadata, &dev),
        "precondition: no traffic to the metadata address"
    );
    let d = deliverer(true, Duration::from_secs(5));
    for url in [
        "http://169.254.169.254/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let outcome = send(&d, url).await;
        assert_failed(&outcome, AttemptErrorKind::ForbiddenDestination);
        assert!(outcome.duration < Duration::from_millis(500), "{outcome:?}");
    }
}

#[tokio::test]
async fn unknown_name_is_dns_failure() {
    let d = deliverer(true, Duration::from_secs(5));
    let outcome = send(&d, "http://unknown.test/cb").await;
    assert_failed(&outcome, AttemptErrorKind::Dns);
}

#[tokio::test]
async fn invalid_url_is_reported() {
    let d = deliverer(true, Duration::from_secs(5));
    for url in ["::not a url::", "ftp://receiver.test/cb"] {
        let outcome = send(&d, url).await;
        assert_failed(&outcome, AttemptErrorKind::InvalidUrl);
    }
}

#[tokio::test]
async fn closed_port_is_connect_failure() {
    // Bind then drop a listener to get a loopback port that (very likely) refuses connections.
    let port = {
        let l = std::net::TcpListener::bind(SocketAddr::new(LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let d = deliverer(true, Duration::from_secs(5));
    let outcome = send(&d, &format!("http://receiver.test:{port}/cb")).await;
    assert_failed(&outcome, AttemptErrorKind::Connect);
}

#[tokio::test]
async fn slow_receiver_times_out() {
    let (receiver, port) = start_receiver().await;
    let d = deliverer(true, Duration::from_millis(300));
    let outcome = send(&d, &format!("http://receiver.test:{port}/slow")).await;
    assert_failed(&outcome, AttemptErrorKind::Timeout);
    assert_eq!(outcome.status, None);
    assert!(
        outcome.duration >= Duration::from_millis(250),
        "{outcome:?}"
    );
    assert!(outcome.duration < Duration::from_secs(3), "{outcome:?}");
    assert_eq!(receiver.hits(), 1);
}
