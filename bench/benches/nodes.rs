//! The deployment shapes under load (issue #14): initiations per second and
//! capture attempts per minute on one SQLite node, one PostgreSQL node and
//! three PostgreSQL nodes, with the bare-axum baseline, in one run.
//!
//! `cargo bench -p facegate-bench --bench nodes` starts, in this process:
//!
//! - a bare axum server (the baseline of `benches/initiate.rs`);
//! - one deployment after the other, each on a fresh database: **sqlite-1**,
//!   one Facegate server (`facegate::app::start`, what `facegate serve`
//!   runs) on a SQLite file in a temporary directory, as the `initiate`
//!   bench; **postgres-1**, one server on a fresh PostgreSQL database
//!   (`CREATE DATABASE fg_bench_…`, dropped at the end); **postgres-3**,
//!   three servers, each with its own listener, on one fresh PostgreSQL
//!   database, with the same master keys (one keyring file) and the same
//!   configuration, as docs/deployment.md describes;
//!
//! and drives each deployment with the same closed-loop load generator as the
//! `initiate` bench, its requests round-robin over the deployment's servers
//! (what a round-robin balancer does). Then it runs complete capture attempts
//! on each deployment: K at once, each initiating, opening a session,
//! starting an attempt, uploading the frames of a real recording at the
//! client's pace (one every 66 ms) and finishing, every call to the next
//! server of the deployment, so that an attempt's frames land on every node
//! and its finish decides from what the others stored.
//!
//! The three servers of `postgres-3` run in this process and share this
//! machine's cores with the load generator and PostgreSQL: three nodes are
//! not expected to be faster than one here. What the 3-node figures show is
//! that the shape works under load (every answer 200, every attempt decided)
//! and what sharing the database costs. See docs/benchmarks.md.
//!
//! Environment (defaults in brackets): FACEGATE_BENCH_REQUESTS [5000] (per
//! deployment), FACEGATE_BENCH_BARE_REQUESTS [20 x that],
//! FACEGATE_BENCH_WARMUP [500] (per run), FACEGATE_BENCH_CONCURRENCY [16],
//! FACEGATE_BENCH_MAX_SECS [30] (per run), FACEGATE_BENCH_LOG [file; `off`],
//! FACEGATE_BENCH_DATA_DIR [the system temp dir; where the SQLite database,
//! the keyring and the log go], FACEGATE_BENCH_POSTGRES_URL
//! [postgres://postgres@127.0.0.1:5432/postgres; the server and a user that
//! may create databases], FACEGATE_BENCH_ATTEMPTS [9] (measured capture
//! attempts per deployment, after one warm-up attempt),
//! FACEGATE_BENCH_ATTEMPT_CONCURRENCY [3], FACEGATE_SHARED_DIR [../shared;
//! without its recording the capture part prints SKIPPED],
//! FACEGATE_BENCH_OUT [<target dir>/bench-nodes.json].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use facegate::app::{self, Hooks, Running};
use facegate::config::Config;
use facegate_api::wire::{
    AttemptFinished, AttemptStarted, EnrollmentMetadata, FacemapInitiated, FinishAttempt,
    OpenSession, SessionOpened, StartAttempt,
};
use facegate_bench::fixtures::{fixtures, Fixtures, MODEL, TEMPLATE_DIMENSIONS};
use facegate_bench::report::{
    data_dir, env_or, failures, loadavg, log_from_env, machine, noisy, ratios, ratios_json,
    runtime, table, target_dir, write_json, Measure, Run, BARE,
};
use facegate_bench::{client, Bare, CpuMeter, CpuTimes, Target, INITIATE_PATH};
use facegate_domain::Challenge;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use tokio::net::TcpListener;

/// Nodes of the multi-node deployment.
const NODES: usize = 3;

/// The recording the capture attempts upload, and the frame the enrollment
/// is made from (15 s into it; the attempts capture its first seconds).
const RECORDING: &str = "data/video/live_person_a_640x480_30fps_20s.mjpeg";
const ENROLLMENT_FRAME: usize = 450;

/// The command name of PostgreSQL's server processes, whose CPU is counted
/// apart from this process's and from the rest of the machine's.
const POSTGRES_PROCESS: &str = "postgres";

struct Settings {
    requests: usize,
    bare_requests: usize,
    warmup: usize,
    concurrency: usize,
    max_duration: Duration,
    log: bool,
    out: PathBuf,
    data_parent: Option<PathBuf>,
    postgres_url: String,
    attempts: usize,
    attempt_concurrency: usize,
    shared: PathBuf,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let requests = env_or("FACEGATE_BENCH_REQUESTS", 5000)?;
        let settings = Self {
            requests,
            bare_requests: env_or("FACEGATE_BENCH_BARE_REQUESTS", requests.saturating_mul(20))?,
            warmup: env_or("FACEGATE_BENCH_WARMUP", 500)?,
            concurrency: env_or("FACEGATE_BENCH_CONCURRENCY", 16)?,
            max_duration: Duration::from_secs(env_or("FACEGATE_BENCH_MAX_SECS", 30)?),
            log: log_from_env()?,
            out: match std::env::var_os("FACEGATE_BENCH_OUT") {
                Some(path) => PathBuf::from(path),
                None => target_dir().join("bench-nodes.json"),
            },
            data_parent: std::env::var_os("FACEGATE_BENCH_DATA_DIR").map(PathBuf::from),
            postgres_url: std::env::var("FACEGATE_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
            attempts: env_or("FACEGATE_BENCH_ATTEMPTS", 9)?,
            attempt_concurrency: env_or("FACEGATE_BENCH_ATTEMPT_CONCURRENCY", 3)?,
            shared: std::env::var_os("FACEGATE_SHARED_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")),
        };
        let counts = [
            settings.requests,
            settings.bare_requests,
            settings.concurrency,
            settings.attempt_concurrency,
        ];
        if counts.contains(&0) {
            bail!("FACEGATE_BENCH_REQUESTS, _BARE_REQUESTS, _CONCURRENCY and _ATTEMPT_CONCURRENCY must be at least 1");
        }
        Ok(settings)
    }

    /// Every initiation of a run on an enrollment of its own (warm-up
    /// included): no initiate finds an open transaction to expire.
    fn enrollments(&self) -> usize {
        self.warmup + self.requests
    }

    fn measure(&self) -> Measure {
        Measure {
            warmup: self.warmup,
            concurrency: self.concurrency,
            max_duration: self.max_duration,
        }
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "bare_requests": self.bare_requests,
            "warmup": self.warmup,
            "concurrency": self.concurrency,
            "enrollments_per_deployment": self.enrollments(),
            "max_secs_per_run": self.max_duration.as_secs(),
            "facegate_logging": if self.log { "info, to a file" } else { "off" },
            "data_dir_parent": self.data_parent.as_ref().map_or_else(
                || std::env::temp_dir().display().to_string(),
                |p| p.display().to_string(),
            ),
            "postgres": redacted(&self.postgres_url),
            "capture_attempts": self.attempts,
            "capture_attempt_concurrency": self.attempt_concurrency,
        })
    }
}

/// A PostgreSQL URL without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "an invalid URL".to_owned(),
    }
}

/// How many servers, on which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Sqlite,
    Postgres { nodes: usize },
}

impl Shape {
    const ALL: [Shape; 3] = [
        Shape::Sqlite,
        Shape::Postgres { nodes: 1 },
        Shape::Postgres { nodes: NODES },
    ];

    fn name(self) -> &'static str {
        match self {
            Shape::Sqlite => "sqlite-1",
            Shape::Postgres { nodes: 1 } => "postgres-1",
            Shape::Postgres { .. } => "postgres-3",
        }
    }

    fn nodes(self) -> usize {
        match self {
            Shape::Sqlite => 1,
            Shape::Postgres { nodes } => nodes,
        }
    }

    fn database_process(self) -> Option<&'static str> {
        match self {
            Shape::Sqlite => None,
            Shape::Postgres { .. } => Some(POSTGRES_PROCESS),
        }
    }

    fn description(self) -> String {
        match self {
            Shape::Sqlite => "Facegate, 1 node on SQLite (WAL, synchronous=FULL, one writer), every request on a different enrollment".to_owned(),
            Shape::Postgres { nodes: 1 } => "Facegate, 1 node on PostgreSQL (pool of 10), every request on a different enrollment".to_owned(),
            Shape::Postgres { nodes } => format!(
                "Facegate, {nodes} nodes in this process on one PostgreSQL database (pool of 10 each), requests round-robin over them, every request on a different enrollment"
            ),
        }
    }
}

/// A fresh PostgreSQL database of its own, dropped by [`BenchDatabase::drop_now`]
/// (or, should the run fail, when this value is dropped).
struct BenchDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl BenchDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<BenchDatabase> {
        let name = format!("fg_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", redacted(admin_url)))?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .with_context(|| format!("creating the database {name}"))?;
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin_url).context("FACEGATE_BENCH_POSTGRES_URL")?;
        url.set_path(&format!("/{name}"));
        Ok(BenchDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
            dropped: false,
        })
    }

    async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for BenchDatabase {
    /// From a thread of its own: the caller may be inside a runtime.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_database(&admin_url, &name))
        });
        if let Ok(Err(e)) = dropping.join() {
            eprintln!("could not drop the benchmark database: {e:#}");
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .with_context(|| format!("dropping the database {name}"))?;
    let _ = conn.close().await;
    Ok(())
}

/// The servers of one shape, on their fresh database.
struct Deployment {
    nodes: Vec<Running>,
    database: Option<BenchDatabase>,
}

impl Deployment {
    /// Starts `shape`'s servers one after the other (the first migrates),
    /// each with its own face engine of one worker, as separate processes
    /// would have.
    async fn start(
        shape: Shape,
        dir: &Path,
        keyring: &Path,
        challenge: Option<&Path>,
        postgres_url: &str,
    ) -> anyhow::Result<Deployment> {
        let database = match shape {
            Shape::Sqlite => None,
            Shape::Postgres { .. } => Some(BenchDatabase::create(postgres_url).await?),
        };
        let mut nodes = Vec::with_capacity(shape.nodes());
        for n in 0..shape.nodes() {
            let mut config = Config {
                data_dir: dir.join(format!("{}-node-{n}", shape.name())),
                listen: "127.0.0.1:0".parse()?,
                database_url: database.as_ref().map(|d| SecretString::from(d.url.clone())),
                master_key_file: Some(keyring.to_path_buf()),
                ..Config::default()
            };
            // One account sends thousands of initiations a second here.
            config.rate_limits.initiations_per_minute = 0;
            config.capture.workers = 1;
            config.dev.fixed_challenge = challenge.map(Path::to_path_buf);
            // `VisionEngine::shared` would give every server of this process
            // the same engine; separate processes have one each.
            let engine = Arc::new(facegate_engine::VisionEngine::new(config.engine_settings()));
            let hooks = Hooks {
                engine: Some(engine),
                ..Hooks::default()
            };
            let listener = TcpListener::bind(config.listen).await?;
            nodes.push(app::start(&config, listener, hooks).await?);
        }
        Ok(Deployment { nodes, database })
    }

    fn base_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("http://{}", node.addr))
            .collect()
    }

    async fn stop(self) -> anyhow::Result<()> {
        for node in self.nodes {
            node.stop().await;
        }
        if let Some(database) = self.database {
            database.drop_now().await?;
        }
        Ok(())
    }
}

/// The capture part's inputs: the recording's frames, the enrollment
/// template of one of them, and the fixed challenge's file.
struct Capture {
    frames: Arc<Vec<Vec<u8>>>,
    model: String,
    template: Vec<f32>,
    challenge_file: PathBuf,
}

impl Capture {
    /// `None` (after printing SKIPPED) without the shared recording.
    fn load(shared: &Path, dir: &Path) -> anyhow::Result<Option<Capture>> {
        let video = shared.join(RECORDING);
        if !video.is_file() {
            println!(
                "SKIPPED: capture attempts: no recording at {} (set FACEGATE_SHARED_DIR)",
                video.display()
            );
            return Ok(None);
        }
        let bytes =
            std::fs::read(&video).with_context(|| format!("reading {}", video.display()))?;
        let frames: Vec<Vec<u8>> = facegate_vision::decode::split_mjpeg(&bytes)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let enrolled = frames.get(ENROLLMENT_FRAME).with_context(|| {
            format!(
                "{} has fewer than {ENROLLMENT_FRAME} frames",
                video.display()
            )
        })?;
        let (model, template) = facegate_engine::enrollment_template(enrolled)?;
        // The neutral window only: this recording makes no head turn.
        let challenge = Challenge::with_timeline(3_000, Vec::new(), Vec::new(), 3_000);
        let challenge_file = dir.join("challenge.json");
        std::fs::write(&challenge_file, serde_json::to_vec(&challenge)?)?;
        Ok(Some(Capture {
            frames: Arc::new(frames),
            model,
            template,
            challenge_file,
        }))
    }
}

/// One capture attempt, as the client saw it.
struct AttemptRun {
    outcome: String,
    /// From the last frame's answer to the finish's answer.
    decision_ms: f64,
    frames: u32,
}

/// What the capture attempts on one deployment measured.
struct AttemptPhase {
    name: &'static str,
    runs: Vec<AttemptRun>,
    errors: Vec<String>,
    concurrency: usize,
    warmup: Duration,
    wall: Duration,
    cpu: Option<CpuTimes>,
    db_cpu: Option<f64>,
}

impl AttemptPhase {
    fn per_minute(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.runs.len() as f64 * 60.0 / secs
        } else {
            0.0
        }
    }

    fn median_decision_ms(&self) -> f64 {
        let mut ms: Vec<f64> = self.runs.iter().map(|r| r.decision_ms).collect();
        ms.sort_by(f64::total_cmp);
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// CPU seconds per completed attempt: this process (servers and client)
    /// and the database server.
    fn cpu_per_attempt(&self) -> Option<(f64, f64)> {
        let cpu = self.cpu?;
        let n = self.runs.len();
        (n > 0).then(|| {
            (
                cpu.process / n as f64,
                self.db_cpu.unwrap_or(0.0) / n as f64,
            )
        })
    }

    /// Share of the machine the servers, the client and the database used.
    fn busy_percent(&self, cores: u64) -> Option<f64> {
        let cpu = self.cpu?;
        let capacity = self.wall.as_secs_f64() * cores as f64;
        (capacity > 0.0).then(|| (cpu.process + self.db_cpu.unwrap_or(0.0)) / capacity * 100.0)
    }

    fn other_cpu_percent(&self, cores: u64) -> Option<f64> {
        let cpu = self.cpu?;
        let capacity = self.wall.as_secs_f64() * cores as f64;
        let ours = cpu.process + self.db_cpu.unwrap_or(0.0);
        (capacity > 0.0).then(|| ((cpu.machine_busy - ours) / capacity * 100.0).max(0.0))
    }

    fn outcomes(&self) -> String {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for run in &self.runs {
            match counts.iter_mut().find(|(o, _)| *o == run.outcome) {
                Some((_, n)) => *n += 1,
                None => counts.push((run.outcome.clone(), 1)),
            }
        }
        if !self.errors.is_empty() {
            counts.push(("error".to_owned(), self.errors.len()));
        }
        counts
            .iter()
            .map(|(o, n)| format!("{o} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn json(&self, cores: u64) -> Value {
        let round = |v: f64, places: i32| {
            let f = 10f64.powi(places);
            (v * f).round() / f
        };
        json!({
            "name": self.name,
            "completed": self.runs.len(),
            "errors": self.errors,
            "concurrency": self.concurrency,
            "frames_per_attempt": self.runs.first().map_or(0, |r| r.frames),
            "warmup_s": round(self.warmup.as_secs_f64(), 3),
            "wall_s": round(self.wall.as_secs_f64(), 3),
            "attempts_per_minute": round(self.per_minute(), 1),
            "outcomes": self.runs.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>(),
            "decision_ms": self.runs.iter().map(|r| round(r.decision_ms, 1)).collect::<Vec<_>>(),
            "decision_ms_median": round(self.median_decision_ms(), 1),
            "cpu": self.cpu_per_attempt().map(|(process, db)| json!({
                "process_s_per_attempt": round(process, 3),
                "database_server_s_per_attempt": self.db_cpu.map(|_| round(db, 3)),
                "busy_percent_of_machine": self.busy_percent(cores).map(|p| round(p, 1)),
                "other_processes_percent_of_machine": self.other_cpu_percent(cores).map(|p| round(p, 1)),
            })),
        })
    }
}

/// The answer's JSON body when its status is `expected`; else an error with
/// the status and the start of the body.
async fn answer<T: DeserializeOwned>(
    what: &str,
    response: reqwest::Response,
    expected: u16,
) -> anyhow::Result<T> {
    let status = response.status();
    let body = response.bytes().await?;
    if status.as_u16() != expected {
        bail!(
            "{what}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("{what}: reading the answer"))
}

/// One complete attempt, every call to the next of `urls` starting with
/// `urls[first % n]`: initiate, session, start, the frames at the client's
/// pace (frame `i` captured at `66 i` ms, sent once that time has passed
/// since the attempt started), finish.
async fn capture_attempt(
    http: &reqwest::Client,
    urls: &[String],
    first: usize,
    api: &(String, String),
    enrollment: &(String, Vec<u8>),
    frames: &[Vec<u8>],
) -> anyhow::Result<AttemptRun> {
    let mut calls = first;
    let mut next = || {
        calls += 1;
        urls[(calls - 1) % urls.len()].clone()
    };
    let headers = |request: reqwest::RequestBuilder| {
        request
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate Bench/1.0 (capture)")
    };
    let form = reqwest::multipart::Form::new()
        .part(
            "enrollmentMetadata",
            reqwest::multipart::Part::text(serde_json::to_string(
                &EnrollmentMetadata::for_enrollment(enrollment.0.as_str()),
            )?)
            .mime_str("application/json")?,
        )
        .part(
            "facemap",
            reqwest::multipart::Part::bytes(enrollment.1.clone())
                .mime_str("application/octet-stream")?,
        );
    let initiated: FacemapInitiated = answer(
        "initiate",
        headers(http.post(format!("{}{INITIATE_PATH}", next())))
            .basic_auth(&api.0, Some(&api.1))
            .multipart(form)
            .send()
            .await?,
        200,
    )
    .await?;
    let token = url::Url::parse(&initiated.redirect_url)?
        .query_pairs()
        .find(|(k, _)| k == "authorizationToken")
        .map(|(_, v)| v.into_owned())
        .context("the redirect URL has no authorizationToken")?;
    let session: SessionOpened = answer(
        "session",
        headers(http.post(format!("{}/api/capture/v1/session", next())))
            .json(&OpenSession {
                authorization_token: token.into(),
                ..OpenSession::default()
            })
            .send()
            .await?,
        201,
    )
    .await?;
    let capture = session.capture_token;
    let started: AttemptStarted = answer(
        "attempt",
        headers(http.post(format!("{}/api/capture/v1/attempts", next())))
            .bearer_auth(&capture)
            .json(&StartAttempt {
                flash: false.into(),
            })
            .send()
            .await?,
        201,
    )
    .await?;
    let (id, nonce) = (started.attempt_id, started.nonce);
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    while t <= started.challenge.duration_ms {
        tokio::time::sleep_until((t0 + Duration::from_millis(u64::from(t))).into()).await;
        let frame = &frames[(t as usize * 30 / 1000) % frames.len()];
        let response =
            headers(http.post(format!("{}/api/capture/v1/attempts/{id}/frames", next())))
                .bearer_auth(&capture)
                .header("Content-Type", "image/jpeg")
                .header("Capture-Nonce", &nonce)
                .header("Capture-Time-Ms", t.to_string())
                .header("Capture-Frame", index.to_string())
                .body(frame.clone())
                .send()
                .await?;
        let status = response.status();
        if status != 202 {
            bail!("frame {index}: HTTP {status}: {}", response.text().await?);
        }
        index += 1;
        t += 66;
    }
    let last_frame = Instant::now();
    let done: AttemptFinished = answer(
        "finish",
        headers(http.post(format!("{}/api/capture/v1/attempts/{id}/finish", next())))
            .bearer_auth(&capture)
            .json(&FinishAttempt {
                nonce: nonce.into(),
            })
            .send()
            .await?,
        200,
    )
    .await?;
    Ok(AttemptRun {
        outcome: done.outcome.as_str().to_owned(),
        decision_ms: last_frame.elapsed().as_secs_f64() * 1e3,
        frames: index,
    })
}

/// One warm-up attempt (it loads every node's models: its calls go round
/// the nodes), then `enrollments.len() - 1` attempts, `concurrency` at once.
async fn capture_attempts(
    name: &'static str,
    urls: Vec<String>,
    api: (String, String),
    enrollments: Vec<(String, Vec<u8>)>,
    frames: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    database_process: Option<&'static str>,
) -> anyhow::Result<AttemptPhase> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    eprintln!("  {name}: capture warm-up attempt ...");
    let started = Instant::now();
    let Some(first) = enrollments.first() else {
        bail!("no enrollment for the warm-up attempt");
    };
    capture_attempt(&http, &urls, 0, &api, first, &frames)
        .await
        .context("the warm-up attempt")?;
    let warmup = started.elapsed();
    let measured = enrollments.len() - 1;
    eprintln!("  {name}: {measured} capture attempts, {concurrency} at once ...");
    let (urls, api, enrollments) = (Arc::new(urls), Arc::new(api), Arc::new(enrollments));
    let next = Arc::new(AtomicUsize::new(1));
    let meter = CpuMeter::start(database_process);
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (http, urls, api, enrollments, frames, next) = (
            http.clone(),
            urls.clone(),
            api.clone(),
            enrollments.clone(),
            frames.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(enrollment) = enrollments.get(i) else {
                    break;
                };
                done.push(capture_attempt(&http, &urls, i, &api, enrollment, &frames).await);
            }
            done
        }));
    }
    let (mut runs, mut errors) = (Vec::new(), Vec::new());
    for worker in workers {
        for result in worker.await.context("a capture worker failed")? {
            match result {
                Ok(run) => runs.push(run),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
    }
    let wall = started.elapsed();
    let (cpu, db_cpu) = meter.stop();
    Ok(AttemptPhase {
        name,
        runs,
        errors,
        concurrency,
        warmup,
        wall,
        cpu,
        db_cpu,
    })
}

fn attempts_table(phases: &[AttemptPhase], cores: u64) -> String {
    let opt = |v: Option<f64>, places: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.places$}"))
    };
    let mut out = format!(
        "{:<12} {:>5} {:>4} {:>7} {:>10} {:>12} {:>11} {:>10} {:>8} {:>9}  {}\n",
        "deployment",
        "done",
        "K",
        "wall s",
        "attempts/m",
        "decision ms",
        "CPU s/att",
        "DB s/att",
        "busy",
        "other CPU",
        "outcomes"
    );
    for phase in phases {
        let cpu = phase.cpu_per_attempt();
        out.push_str(&format!(
            "{:<12} {:>5} {:>4} {:>7.1} {:>10.1} {:>12.1} {:>11} {:>10} {:>7}% {:>8}%  {}\n",
            phase.name,
            phase.runs.len(),
            phase.concurrency,
            phase.wall.as_secs_f64(),
            phase.per_minute(),
            phase.median_decision_ms(),
            opt(cpu.map(|c| c.0), 2),
            if phase.db_cpu.is_some() {
                opt(cpu.map(|c| c.1), 3)
            } else {
                "-".to_owned()
            },
            opt(phase.busy_percent(cores), 0),
            opt(phase.other_cpu_percent(cores), 0),
            phase.outcomes(),
        ));
    }
    out
}

/// The enrollments of the capture attempts: the template of the recording's
/// frame, one enrollment per attempt (an initiate supersedes the open
/// transaction of its enrollment).
async fn attempt_enrollments(
    running: &Running,
    fixtures: &Fixtures,
    capture: &Capture,
    count: usize,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut enrollments = Vec::with_capacity(count);
    for _ in 0..count {
        let demo = running
            .services
            .record_demo_enrollment(
                &fixtures.account,
                &capture.model,
                vec![capture.template.clone()],
                false,
            )
            .await?;
        enrollments.push((demo.reference.to_string(), demo.facemap));
    }
    Ok(enrollments)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let settings = Settings::from_env()?;
    let machine = machine();
    let cores = machine["cores"].as_u64().unwrap_or(0);
    let load_before = loadavg();
    eprintln!(
        "deployment shapes benchmark: {cores} cores shared by the load generator, every Facegate node and PostgreSQL (same machine; the nodes in this process); load average before: {load_before}"
    );
    let dir = data_dir(settings.data_parent.as_deref(), settings.log)?;
    // Every node of every deployment loads this keyring: the same master keys.
    let keyring = dir.path().join("master-keys.json");
    app::write_keyring(&keyring, &facegate_facemap::Keyring::generate())?;
    let capture = Capture::load(&settings.shared, dir.path())?;

    let server_rt = runtime("server")?;
    let client_rt = runtime("client")?;
    let bare =
        server_rt.block_on(async { Bare::start(TcpListener::bind("127.0.0.1:0").await?) })?;
    eprintln!("bare axum listening on {}", bare.addr);

    let mut runs: Vec<Run> = Vec::new();
    let mut phases: Vec<AttemptPhase> = Vec::new();
    let mut setups: Vec<Value> = Vec::new();
    let mut request_body_bytes = 0;
    let mut facemap_bytes = 0;
    for shape in Shape::ALL {
        let (deployment, fixtures) = server_rt.block_on(async {
            let deployment = Deployment::start(
                shape,
                dir.path(),
                &keyring,
                capture.as_ref().map(|c| c.challenge_file.as_path()),
                &settings.postgres_url,
            )
            .await
            .with_context(|| format!("starting {}", shape.name()))?;
            let fixtures = fixtures(&deployment.nodes[0].services, settings.enrollments()).await?;
            anyhow::Ok((deployment, fixtures))
        })?;
        eprintln!(
            "{}: {} node(s) at {} ({}); {} eligible enrollments in {:.1} s",
            shape.name(),
            deployment.nodes.len(),
            deployment.base_urls().join(" "),
            deployment.database.as_ref().map_or_else(
                || "SQLite".to_owned(),
                |d| format!("PostgreSQL database {}", d.name)
            ),
            settings.enrollments(),
            fixtures.setup.as_secs_f64(),
        );
        setups.push(json!({
            "deployment": shape.name(),
            "nodes": shape.nodes(),
            "enrollments": settings.enrollments(),
            "setup_s": (fixtures.setup.as_secs_f64() * 1e3).round() / 1e3,
        }));
        request_body_bytes = fixtures.pool[0].len();
        facemap_bytes = fixtures.facemap_bytes;
        let urls = deployment.base_urls();
        let initiate_urls: Vec<String> =
            urls.iter().map(|u| format!("{u}{INITIATE_PATH}")).collect();
        let target = Target::across(
            initiate_urls,
            &fixtures.token,
            &fixtures.secret,
            fixtures.pool.clone(),
        )?;
        let enrollments = match &capture {
            Some(capture) if settings.attempts > 0 => server_rt.block_on(attempt_enrollments(
                &deployment.nodes[0],
                &fixtures,
                capture,
                settings.attempts + 1,
            ))?,
            _ => Vec::new(),
        };
        let measured = client_rt.block_on(async {
            let http = client(settings.concurrency)?;
            let mut measured = Vec::new();
            if runs.is_empty() {
                let bare_target = Target::new(
                    format!("http://{}{INITIATE_PATH}", bare.addr),
                    &fixtures.token,
                    &fixtures.secret,
                    fixtures.pool.clone(),
                )?;
                measured.push(settings.measure().run(
                    &http,
                    BARE,
                    "bare axum: same multipart request read in full, JSON answer of the same shape; no auth, no DB".to_owned(),
                    &bare_target,
                    settings.bare_requests,
                    None,
                ).await?);
            }
            measured.push(
                settings
                    .measure()
                    .run(
                        &http,
                        shape.name(),
                        shape.description(),
                        &target,
                        settings.requests,
                        shape.database_process(),
                    )
                    .await?,
            );
            let phase = match &capture {
                Some(capture) if !enrollments.is_empty() => Some(
                    capture_attempts(
                        shape.name(),
                        urls.clone(),
                        (fixtures.token.clone(), fixtures.secret.clone()),
                        enrollments,
                        capture.frames.clone(),
                        settings.attempt_concurrency,
                        shape.database_process(),
                    )
                    .await?,
                ),
                _ => None,
            };
            anyhow::Ok((measured, phase))
        });
        server_rt.block_on(deployment.stop())?;
        let (measured, phase) = measured?;
        runs.extend(measured);
        phases.extend(phase);
    }
    let load_after = loadavg();
    server_rt.block_on(bare.stop());

    let ratios = ratios(&runs);
    println!();
    println!(
        "POST {INITIATE_PATH}: {} requests per deployment ({} for bare axum) after {} warm-up each, concurrency {}, keep-alive, loopback, round-robin over a deployment's nodes",
        settings.requests, settings.bare_requests, settings.warmup, settings.concurrency
    );
    println!(
        "machine: {cores} cores ({}); the load generator, every Facegate node (in this process) and PostgreSQL share them, so 3 nodes add no CPU: the 3-node runs show correctness under round-robin and the database's cost, not scaling; load average {load_before} before, {load_after} after",
        machine["cpu"].as_str().unwrap_or("unknown")
    );
    println!(
        "facegate: release build, development mode (plain HTTP), logging {}; SQLite (WAL, synchronous=FULL) under {}; PostgreSQL at {} (a fresh database per deployment)",
        if settings.log { "at info to a file" } else { "off" },
        dir.path().display(),
        redacted(&settings.postgres_url),
    );
    println!();
    print!("{}", table(&runs, cores));
    println!(
        "(CPU us/req: CPU time of this process, load generator + servers, per request; DB us/req: the PostgreSQL server's processes; other CPU: share of the machine's {cores} cores used by everything else during the run)"
    );
    let noisy = noisy(&runs, cores);
    if !noisy.is_empty() {
        println!(
            "WARNING: other processes used more than 10% of the machine during {}; rerun on a quiet machine for numbers to quote",
            noisy.join(", ")
        );
    }
    println!();
    for (name, throughput, p99) in &ratios {
        println!("{name} / {BARE}: throughput x{throughput:.3}, p99 latency x{p99:.2}");
    }
    if !phases.is_empty() {
        println!();
        println!(
            "capture attempts: {} per deployment after one warm-up, {} at once, {} frames of {RECORDING} each (one every 66 ms, the client's pace), neutral 3-s challenge, one face-engine worker per node, every call to the next node",
            settings.attempts,
            settings.attempt_concurrency,
            phases
                .first()
                .and_then(|p| p.runs.first())
                .map_or(0, |r| r.frames),
        );
        print!("{}", attempts_table(&phases, cores));
        println!(
            "(attempts/m: completed attempts per minute of wall time, paced by the clients; decision ms: median from the last frame's answer to the finish's answer; CPU s/att: this process per attempt; DB s/att: PostgreSQL per attempt; busy: this process + PostgreSQL, share of the machine)"
        );
    }

    let report = json!({
        "benchmark": "deployment shapes: facemap/initiate under load and capture attempts, on SQLite and PostgreSQL",
        "generated_at": Utc::now().to_rfc3339(),
        "machine": machine,
        "note": "every node runs in this process and shares the machine's cores with the load generator and PostgreSQL: 3 nodes show correctness and the database's cost, not CPU scaling",
        "load_average": { "before": load_before, "after": load_after },
        "settings": settings.json(),
        "facemap": { "model": MODEL, "dimensions": TEMPLATE_DIMENSIONS, "sealed_bytes": facemap_bytes },
        "request_body_bytes": request_body_bytes,
        "setup": setups,
        "runs": runs.iter().map(|r| r.json(cores)).collect::<Vec<_>>(),
        "ratios_vs_bare_axum": ratios_json(&ratios),
        "capture": if capture.is_some() {
            json!({
                "recording": RECORDING,
                "enrollment_frame": ENROLLMENT_FRAME,
                "challenge": "neutral window only, 3 s",
                "engine_workers_per_node": 1,
                "deployments": phases.iter().map(|p| p.json(cores)).collect::<Vec<_>>(),
            })
        } else {
            json!("SKIPPED: no shared recording")
        },
    });
    write_json(&settings.out, &report)?;
    println!();
    println!("results written to {}", settings.out.display());

    let mut failed = failures(&runs);
    for phase in &phases {
        if let Some(first) = phase.errors.first() {
            failed.push(format!(
                "{}: {} capture attempts failed; first: {first}",
                phase.name,
                phase.errors.len()
            ));
        }
    }
    if !failed.is_empty() {
        bail!("not every request succeeded:\n{}", failed.join("\n"));
    }
    let undecided: Vec<&str> = phases
        .iter()
        .filter(|p| p.runs.iter().any(|r| r.outcome != "PASSED"))
        .map(|p| p.name)
        .collect();
    if !undecided.is_empty() {
        println!(
            "WARNING: not every capture attempt PASSED on {}",
            undecided.join(", ")
        );
    }
    Ok(())
}
