//! Load-benchmark building blocks shared by the `benches/` targets: a
//! multipart body built once, a closed-loop keep-alive HTTP load generator
//! with per-request latencies (spread round-robin over one or several
//! servers), their statistics, and the bare-axum baseline server that answers
//! `facemap/initiate` without auth or storage. The measured runs and their
//! report are in [`report`], the initiation fixtures in [`fixtures`].

pub mod fixtures;
pub mod report;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::Multipart;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use facegate_api::wire::FacemapInitiated;
use facegate_domain::TransactionRef;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The path under test (the bare baseline serves the same one).
pub const INITIATE_PATH: &str = "/api/authentication/v1/facemap/initiate";

/// Multipart boundary of every benchmark request.
pub const BOUNDARY: &str = "facegate-bench-6b0d2e91c4f37a58";

/// `Content-Type` of the bodies [`multipart_body`] builds.
pub fn multipart_content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The two-part `multipart/form-data` body of a facemap initiate, as an SDK
/// sends it: `enrollmentMetadata` (JSON) then `facemap` (binary).
pub fn multipart_body(metadata_json: &str, facemap: &[u8]) -> anyhow::Result<Bytes> {
    let delimiter = format!("\r\n--{BOUNDARY}");
    if facemap
        .windows(delimiter.len())
        .any(|w| w == delimiter.as_bytes())
        || metadata_json.contains(&delimiter)
    {
        bail!("a part contains the multipart boundary; pick another BOUNDARY");
    }
    let mut body = Vec::with_capacity(metadata_json.len() + facemap.len() + 512);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\n\
             Content-Disposition: form-data; name=\"enrollmentMetadata\"\r\n\
             Content-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(metadata_json.as_bytes());
    body.extend_from_slice(
        format!(
            "\r\n--{BOUNDARY}\r\n\
             Content-Disposition: form-data; name=\"facemap\"; filename=\"facemap.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(facemap);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Ok(Bytes::from(body))
}

/// What one load run sends: the URLs, the headers of every request (built
/// once) and the bodies. Both are used round-robin: request `i` of a run goes
/// to `urls[i % n]`, as a round-robin load balancer in front of `n` servers
/// would send it, and sends `bodies[(first + i) % m]`.
#[derive(Clone)]
pub struct Target {
    pub urls: Arc<Vec<String>>,
    pub headers: HeaderMap,
    pub bodies: Arc<Vec<Bytes>>,
}

impl Target {
    /// One server. The headers Facegate requires (Accept, User-Agent, Basic
    /// auth) plus the multipart content type; the baseline gets the same ones.
    pub fn new(url: String, token: &str, secret: &str, bodies: Vec<Bytes>) -> anyhow::Result<Self> {
        Self::across(vec![url], token, secret, bodies)
    }

    /// Several servers of one deployment, each request to the next.
    pub fn across(
        urls: Vec<String>,
        token: &str,
        secret: &str,
        bodies: Vec<Bytes>,
    ) -> anyhow::Result<Self> {
        if urls.is_empty() || bodies.is_empty() {
            bail!("a target needs at least one URL and one body");
        }
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.insert(
            "user-agent",
            HeaderValue::from_static("Facegate Bench/1.0 (load generator)"),
        );
        headers.insert(
            "content-type",
            HeaderValue::from_str(&multipart_content_type())?,
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&basic_auth(token, secret))?,
        );
        Ok(Self {
            urls: Arc::new(urls),
            headers,
            bodies: Arc::new(bodies),
        })
    }
}

/// `Authorization: Basic ...` for `token:secret`.
pub fn basic_auth(token: &str, secret: &str) -> String {
    use base64::Engine;
    let raw = format!("{token}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Closed-loop load: `concurrency` workers each send one request, wait for
/// the whole answer, and send the next, until `requests` were sent or
/// `max_duration` passed.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub requests: usize,
    pub max_duration: Duration,
}

/// What one load run measured. Latencies are of successful (200) requests,
/// from before `send` until the whole response body was read.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// The run hit `max_duration` before sending every request.
    pub truncated: bool,
    /// Sorted ascending.
    pub latencies: Vec<Duration>,
}

impl RunStats {
    /// Successful requests per second of wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Nearest-rank percentile (`p` in 0..=100) of the successful latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    pub fn mean(&self) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let total: Duration = self.latencies.iter().sum();
        total / self.latencies.len() as u32
    }
}

/// Nearest-rank percentile of `sorted` (ascending); zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sends `load.requests` requests to `target` from `load.concurrency`
/// workers over `client` (keep-alive), starting with body number `first`;
/// request `i` goes to the target's URL `i % n`.
pub async fn run_load(
    client: &reqwest::Client,
    target: &Target,
    load: Load,
    first: usize,
) -> anyhow::Result<RunStats> {
    let next = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let deadline = started + load.max_duration;
    let mut workers = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency.max(1) {
        let (client, target, next, first_error) = (
            client.clone(),
            target.clone(),
            next.clone(),
            first_error.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(load.requests / load.concurrency.max(1) + 1);
            let (mut errors, mut truncated) = (0usize, false);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load.requests {
                    break;
                }
                if Instant::now() >= deadline {
                    truncated = true;
                    break;
                }
                let body = target.bodies[(first + i) % target.bodies.len()].clone();
                let url = &target.urls[i % target.urls.len()];
                let sent = Instant::now();
                let outcome = match client
                    .post(url)
                    .headers(target.headers.clone())
                    .body(body)
                    .send()
                    .await
                {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status == reqwest::StatusCode::OK => Ok(()),
                            Ok(text) => Err(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&text[..text.len().min(500)])
                            )),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("sending: {e}")),
                };
                let latency = sent.elapsed();
                match outcome {
                    Ok(()) => latencies.push(latency),
                    Err(message) => {
                        errors += 1;
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(message);
                        }
                    }
                }
            }
            (latencies, errors, truncated)
        }));
    }
    let mut stats = RunStats {
        ok: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        truncated: false,
        latencies: Vec::with_capacity(load.requests),
    };
    for worker in workers {
        let (latencies, errors, truncated) = worker.await.context("a load worker failed")?;
        stats.latencies.extend(latencies);
        stats.errors += errors;
        stats.truncated |= truncated;
    }
    stats.elapsed = started.elapsed();
    stats.ok = stats.latencies.len();
    stats.latencies.sort_unstable();
    stats.first_error = first_error.lock().ok().and_then(|mut e| e.take());
    Ok(stats)
}

/// CPU time counters from Linux's /proc, in seconds: this process (every
/// thread: load generator and servers) and the whole machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    pub process: f64,
    pub machine_busy: f64,
}

/// `/proc` reports in USER_HZ, which is 100 on Linux.
const USER_HZ: f64 = 100.0;

impl CpuTimes {
    /// `None` where /proc is not available (not Linux).
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may contain spaces): state is
        // field 3, utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        let machine = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = machine
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is
        // already inside user).
        let busy: u64 = cpu.iter().take(8).sum::<u64>()
            - cpu.get(3).copied().unwrap_or(0)
            - cpu.get(4).copied().unwrap_or(0);
        Some(Self {
            process: (utime + stime) as f64 / USER_HZ,
            machine_busy: busy as f64 / USER_HZ,
        })
    }

    pub fn since(self, earlier: Self) -> Self {
        Self {
            process: self.process - earlier.process,
            machine_busy: self.machine_busy - earlier.machine_busy,
        }
    }
}

/// The CPU a phase of a benchmark uses: this process's, and apart from it
/// that of the database server's processes (`database_process`, e.g.
/// `postgres`) when named.
pub struct CpuMeter<'a> {
    database_process: Option<&'a str>,
    before: Option<CpuTimes>,
    database_before: Option<f64>,
}

impl<'a> CpuMeter<'a> {
    pub fn start(database_process: Option<&'a str>) -> Self {
        Self {
            database_before: database_process.and_then(processes_cpu),
            before: CpuTimes::now(),
            database_process,
        }
    }

    /// What was used since `start`: this process's counters, and the
    /// database server's CPU seconds.
    pub fn stop(self) -> (Option<CpuTimes>, Option<f64>) {
        let cpu = CpuTimes::now()
            .zip(self.before)
            .map(|(after, before)| after.since(before));
        let database = self
            .database_process
            .and_then(processes_cpu)
            .zip(self.database_before)
            .map(|(after, before)| (after - before).max(0.0));
        (cpu, database)
    }
}

/// CPU seconds (user + system) used so far by the machine's processes whose
/// command name is `name`: e.g. `postgres`, the database server under test,
/// which runs outside this process. A process that ends between two readings
/// drops out of the second, so a difference is a lower bound. `None` where
/// /proc is not available.
pub fn processes_cpu(name: &str) -> Option<f64> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str() else {
            continue;
        };
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if stat.get(open + 1..close) != Some(name) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |n: usize| fields.get(n).and_then(|v| v.parse::<u64>().ok());
        ticks += field(11).unwrap_or(0) + field(12).unwrap_or(0);
    }
    Some(ticks as f64 / USER_HZ)
}

/// A keep-alive HTTP/1.1 client for loopback load.
pub fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// The baseline: the same route, read as multipart (both parts in full, the
/// metadata parsed as JSON), answered with a JSON object of the same shape as
/// Facegate's. No auth, no validation beyond that, no storage, no logging.
pub async fn bare_initiate(mut multipart: Multipart) -> Result<Json<FacemapInitiated>, StatusCode> {
    let (mut metadata, mut facemap) = (None, None);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| StatusCode::BAD_REQUEST)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field.bytes().await.map_err(|_| StatusCode::BAD_REQUEST)?;
        match name.as_str() {
            "enrollmentMetadata" => metadata = Some(data),
            "facemap" => facemap = Some(data),
            _ => {}
        }
    }
    let (Some(metadata), Some(facemap)) = (metadata, facemap) else {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    };
    let metadata: Value =
        serde_json::from_slice(&metadata).map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
    if metadata.get("enrollmentTransactionReference").is_none() || facemap.is_empty() {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    Ok(Json(FacemapInitiated {
        authentication_transaction_reference: TransactionRef::new_random(),
        redirect_url: format!(
            "http://127.0.0.1/web/v4/app?locale=en&authorizationToken={}",
            uuid::Uuid::new_v4().simple()
        ),
        timestamp: chrono::Utc::now().into(),
    }))
}

/// The baseline router: only [`INITIATE_PATH`].
pub fn bare_router() -> axum::Router {
    axum::Router::new().route(INITIATE_PATH, axum::routing::post(bare_initiate))
}

/// A running baseline server; [`Bare::stop`] shuts it down gracefully.
pub struct Bare {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Bare {
    /// Serves [`bare_router`] on `listener` with `axum::serve`, as Facegate does.
    pub fn start(listener: TcpListener) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, bare_router().into_make_service())
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                });
            if let Err(e) = serve.await {
                eprintln!("bare axum server stopped: {e}");
            }
        });
        Ok(Self { addr, stop, task })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn basic_auth_is_base64_of_token_colon_secret() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn a_part_containing_the_boundary_is_refused() {
        let facemap = format!("xx\r\n--{BOUNDARY}yy");
        assert!(multipart_body("{}", facemap.as_bytes()).is_err());
    }

    #[tokio::test]
    async fn the_baseline_reads_the_prebuilt_body() -> anyhow::Result<()> {
        let bare = Bare::start(TcpListener::bind("127.0.0.1:0").await?)?;
        let body = multipart_body(
            r#"{"enrollmentTransactionReference":"6f1c2b9e-0d4a-4c1e-9a57-3b2f8e7d6c5a"}"#,
            &[0u8, 1, 2, 255, 13, 10, 45, 45],
        )?;
        let target = Target::new(
            format!("http://{}{INITIATE_PATH}", bare.addr),
            "token",
            "secret",
            vec![body],
        )?;
        let load = Load {
            concurrency: 2,
            requests: 10,
            max_duration: Duration::from_secs(10),
        };
        let stats = run_load(&client(2)?, &target, load, 0).await?;
        bare.stop().await;
        assert_eq!((stats.ok, stats.errors), (10, 0), "{:?}", stats.first_error);
        assert!(stats.percentile(50.0) <= stats.max());
        Ok(())
    }
}
