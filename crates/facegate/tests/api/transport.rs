//! The HTTP transport: slow and idle clients, the connection cap, the
//! in-flight bound, TLS, security headers, path decoding, the metrics
//! listener, SIGTERM and the data directory's modes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use facegate::config::{Config, Mode, Tls};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::helpers::*;

/// Paths whose percent-encoding is not UTF-8.
const UNDECODABLE_PATHS: [&str; 3] = [
    "/api/netverify/v2/authentications/%ff%fe",
    "/api/netverify/v2/authentications/%ff%fe/images/face",
    "/web/v4/assets/%c3%28",
];

fn addr_of(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// A web initiate (for an unknown enrollment) sent up to the first byte of
/// its body, so that it stays in flight; the caller sends the rest of the
/// returned body.
async fn held_web_initiate(
    addr: impl tokio::net::ToSocketAddrs,
    basic: &str,
) -> (TcpStream, String) {
    let body = format!(
        r#"{{"enrollmentTransactionReference":"{}"}}"#,
        uuid::Uuid::new_v4()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/authentication/v1/web/initiate HTTP/1.1\r\nHost: localhost\r\n\
         User-Agent: Facegate Tests/1.0\r\nAccept: application/json\r\n\
         Authorization: Basic {basic}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..1]).await.unwrap();
    (stream, body)
}

async fn spawn_with(configure: impl FnOnce(&mut Config) + Send + 'static) -> TestApp {
    spawn_app_with(Options {
        configure: Some(Box::new(configure)),
        ..Options::default()
    })
    .await
}

/// Reads until the peer closes the connection (EOF or reset); answers how
/// long that took, or `None` if it stayed open for `limit`.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| started.elapsed())
}

/// One HTTP/1.1 response read off a raw connection: status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    }
}

/// `GET path` on an open keep-alive connection.
async fn get_on(stream: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), read_response(stream))
        .await
        .expect("no answer within 10 s")
        .0
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_connections_beyond_the_cap_refused_while_healthz_answers() {
    const CAP: usize = 8;
    const SLOW: usize = 20;
    let app = spawn_with(|c| {
        c.server.max_connections = CAP;
        c.server.header_read_timeout_secs = 2;
        c.server.idle_timeout_secs = 30;
    })
    .await;
    let addr = addr_of(&app);
    // An established keep-alive connection: it holds one of the slots.
    let mut probe = TcpStream::connect(addr).await.unwrap();
    assert_eq!(get_on(&mut probe, "/healthz").await, 200);

    let mut slow = Vec::new();
    for _ in 0..SLOW {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // A header that never ends.
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow")
            .await;
        slow.push(tokio::spawn(closed_within(stream, Duration::from_secs(8))));
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(get_on(&mut probe, "/healthz").await, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut refused = 0;
    let mut timed_out = 0;
    for task in slow {
        let closed = task.await.unwrap().expect("a slow connection stayed open");
        if closed < Duration::from_secs(1) {
            refused += 1;
        } else {
            timed_out += 1;
        }
    }
    assert_eq!(
        (refused, timed_out),
        (SLOW - (CAP - 1), CAP - 1),
        "connections beyond the cap are closed at once, the others after the header timeout"
    );
    // The slots are free again: new connections are served.
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(get_on(&mut probe, "/healthz").await, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_with(|c| {
        c.server.idle_timeout_secs = 1;
        c.server.header_read_timeout_secs = 10;
    })
    .await;
    let mut stream = TcpStream::connect(addr_of(&app)).await.unwrap();
    assert_eq!(get_on(&mut stream, "/healthz").await, 200);
    let closed = closed_within(stream, Duration::from_secs(8))
        .await
        .expect("the idle connection stayed open");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
    app.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_get_503_server_busy_at_once() {
    let app = spawn_with(|c| c.server.max_in_flight_requests = 1).await;
    let c = app.customer("Acme", true).await;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", c.api.token, c.api.secret));
    // A request that stays in flight: its handler waits for the body.
    let (mut held, body) = held_web_initiate(addr_of(&app), &basic).await;
    // Let it take the one slot before anything else can.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let busy = loop {
        let response = app.get("/openapi.json").await;
        if response.status() == 503 {
            break response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never refused beyond the in-flight bound"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(busy.headers()["content-type"], "application/problem+json");
    let problem: Value = busy.json().await.unwrap();
    assert_eq!(problem["code"], "SERVER_BUSY", "{problem}");
    // The liveness probe is exempt.
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);

    held.write_all(&body.as_bytes()[1..]).await.unwrap();
    let (status, answer) = read_response(&mut held).await;
    assert_eq!(status, 404, "{answer}");
    let ok = app.get("/openapi.json").await;
    assert_eq!(ok.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_path_that_does_not_decode_answers_a_problem_not_plain_text() {
    let (app, c) = spawn_with_acme().await;
    for path in UNDECODABLE_PATHS {
        let response = app
            .request(reqwest::Method::GET, path, &c.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "MALFORMED_PATH", "{path}: {problem}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_answer_says_nosniff_and_plain_http_sends_no_hsts() {
    let app = spawn_app().await;
    for path in [
        "/healthz",
        "/no/such/route",
        "/api/netverify/v2/authentications/x",
        "/web/v4/app",
        "/openapi.json",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{path}"
        );
    }
    app.stop().await;
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn production_over_tls_sends_hsts_keeps_metrics_private_and_cuts_off_a_silent_handshake() {
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let app = spawn_with(move |c| {
        c.mode = Mode::Production;
        c.tls = Some(Tls {
            cert_file: fixture("cert.pem"),
            key_file: fixture("key.pem"),
        });
        c.master_keys = Some(
            "1:4bsvvdfotmu1HecYNtmppcQH6nJGbKsen6AvziWJu1I="
                .to_owned()
                .into(),
        );
        c.public_base_url = Some("https://localhost".into());
        c.dev.allow_localhost_urls = false;
        c.callbacks.allow_loopback = false;
        c.metrics.listen = Some(metrics);
        c.server.header_read_timeout_secs = 1;
    })
    .await;
    let addr = addr_of(&app);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    let public_metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public_metrics.status(), 404);
    assert!(public_metrics
        .headers()
        .contains_key("strict-transport-security"));
    let private = app
        .client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    assert!(private
        .text()
        .await
        .unwrap()
        .contains("facegate_http_request_duration_seconds"));

    // A client that connects and never says hello.
    let silent = TcpStream::connect(addr).await.unwrap();
    let closed = closed_within(silent, Duration::from_secs(8))
        .await
        .expect("a silent TLS client kept its connection");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
    let again = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn the_data_directory_is_private_and_the_database_files_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    if !sqlite_only("the modes of the SQLite files") {
        return;
    }
    let app = spawn_with(|c| c.data_dir = c.data_dir.join("nested/data")).await;
    let data = app.config.data_dir.clone();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(data.parent().unwrap()), 0o700);
    for name in [
        "facegate.sqlite3",
        "facegate.sqlite3-wal",
        "facegate.sqlite3-shm",
        "master-keys.json",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    app.stop().await;
}

/// `facegate serve` as a process, for signals.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn facegate(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command
        .arg("--data-dir")
        .arg(dir)
        .args(database_args(dir))
        .args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FACEGATE_") {
            command.env_remove(key);
        }
    }
    command
}

fn facegate_json(dir: &Path, args: &[&str]) -> Value {
    let output = facegate(dir, args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_exits_cleanly() {
    let dir = TestDir::new();
    let account = facegate_json(dir.path(), &CLI_CREATE_ACME);
    let account = account["id"].as_str().unwrap();
    let issued = facegate_json(dir.path(), &cli_issue_credential(account, "api"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        issued["token"].as_str().unwrap(),
        issued["secret"].as_str().unwrap()
    ));
    let listen = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("serve.log");
    let mut command = facegate(dir.path(), &["serve", "--listen", &listen]);
    command
        .env("FACEGATE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Server(command.spawn().unwrap());
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no /healthz: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (mut in_flight, body) = held_web_initiate(listen.as_str(), &basic).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // It stopped accepting, but the request in flight gets its answer.
    assert!(TcpStream::connect(&listen).await.is_err());
    in_flight.write_all(&body.as_bytes()[1..]).await.unwrap();
    let (status, answer) =
        tokio::time::timeout(Duration::from_secs(10), read_response(&mut in_flight))
            .await
            .expect("no answer to the request in flight");
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("ENROLLMENT_NOT_FOUND"), "{answer}");

    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running after SIGTERM: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
}
