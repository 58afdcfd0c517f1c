//! Load benchmark of `POST /api/authentication/v1/facemap/initiate`.
//!
//! `cargo bench -p facegate-bench --bench initiate` starts, in this process:
//!
//! - the real Facegate server (`facegate::app::start`, exactly what
//!   `facegate serve` runs) on 127.0.0.1:0 over a fresh SQLite database in a
//!   temporary directory, with the default configuration (development mode,
//!   so plain HTTP; `synchronous=FULL`, WAL, one writer connection), logging
//!   at `info` to a file as `serve` would log to stdout;
//! - a bare axum server that reads the same multipart request and answers a
//!   JSON object of the same shape, without auth, validation or storage;
//!
//! and drives each with the same closed-loop, keep-alive load generator.
//! Server and client run on separate Tokio runtimes (each with one worker per
//! core) but share the machine's cores. See docs/benchmarks.md.
//!
//! Environment (defaults in brackets): FACEGATE_BENCH_REQUESTS [5000] (per
//! Facegate run), FACEGATE_BENCH_BARE_REQUESTS [20 x that],
//! FACEGATE_BENCH_WARMUP [500] (per run), FACEGATE_BENCH_CONCURRENCY [16],
//! FACEGATE_BENCH_ENROLLMENTS [warm-up + requests: the pool run never
//! reuses an enrollment], FACEGATE_BENCH_MAX_SECS [30] (per run),
//! FACEGATE_BENCH_LOG [file; `off` disables Facegate's logging],
//! FACEGATE_BENCH_OUT [<target dir>/bench-initiate.json],
//! FACEGATE_BENCH_DATA_DIR [the system temp dir; where the database goes].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use chrono::Utc;
use facegate::app::{self, Hooks, Running};
use facegate::config::Config;
use facegate_api::wire::EnrollmentMetadata;
use facegate_bench::{
    client, multipart_body, run_load, Bare, CpuTimes, Load, RunStats, Target, INITIATE_PATH,
};
use facegate_core::accounts::AccountChanges;
use facegate_core::Services;
use facegate_domain::{Account, EnrollmentRef, Role};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// The face model of the templates (512-D float, Facegate's default model).
const MODEL: &str = "fr-feature-512-v1";
const TEMPLATE_DIMENSIONS: usize = 512;

struct Settings {
    requests: usize,
    bare_requests: usize,
    warmup: usize,
    concurrency: usize,
    enrollments: usize,
    max_duration: Duration,
    log: bool,
    out: PathBuf,
    /// Where the temporary data directory is created (the system default,
    /// else e.g. /dev/shm to take the disk's fsync out of the picture).
    data_parent: Option<PathBuf>,
}

fn env_or<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid number")),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let requests = env_or("FACEGATE_BENCH_REQUESTS", 5000)?;
        let warmup = env_or("FACEGATE_BENCH_WARMUP", 500)?;
        let settings = Self {
            requests,
            // The baseline is much faster: more requests keep its run from
            // lasting only a few milliseconds.
            bare_requests: env_or("FACEGATE_BENCH_BARE_REQUESTS", requests.saturating_mul(20))?,
            warmup,
            concurrency: env_or("FACEGATE_BENCH_CONCURRENCY", 16)?,
            // One enrollment per request of the pool run (warm-up included):
            // no initiate of that run finds an open transaction to expire.
            enrollments: env_or("FACEGATE_BENCH_ENROLLMENTS", warmup + requests)?,
            max_duration: Duration::from_secs(env_or("FACEGATE_BENCH_MAX_SECS", 30)?),
            log: match std::env::var("FACEGATE_BENCH_LOG").as_deref() {
                Err(_) | Ok("file") | Ok("on") | Ok("1") => true,
                Ok("off") | Ok("0") => false,
                Ok(other) => bail!("FACEGATE_BENCH_LOG={other:?}: use file or off"),
            },
            out: match std::env::var_os("FACEGATE_BENCH_OUT") {
                Some(path) => PathBuf::from(path),
                None => target_dir().join("bench-initiate.json"),
            },
            data_parent: std::env::var_os("FACEGATE_BENCH_DATA_DIR").map(PathBuf::from),
        };
        let counts = [
            settings.requests,
            settings.bare_requests,
            settings.concurrency,
            settings.enrollments,
        ];
        if counts.contains(&0) {
            bail!("FACEGATE_BENCH_REQUESTS, _BARE_REQUESTS, _CONCURRENCY and _ENROLLMENTS must be at least 1");
        }
        Ok(settings)
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "bare_requests": self.bare_requests,
            "warmup": self.warmup,
            "concurrency": self.concurrency,
            "enrollments": self.enrollments,
            "max_secs_per_run": self.max_duration.as_secs(),
            "facegate_logging": if self.log { "info, to a file" } else { "off" },
            "data_dir_parent": self.data_parent.as_ref().map_or_else(
                || std::env::temp_dir().display().to_string(),
                |p| p.display().to_string(),
            ),
        })
    }
}

/// Cargo's target directory: the bench binary is `<target>/<profile>/deps/initiate-*`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// What the benchmark knows about the machine it ran on.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    json!({
        "cores": cores,
        "cpu": cpu,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "optimized_build": !cfg!(debug_assertions),
        "client_and_server": format!(
            "same machine and process: the load generator and the server under test share the {cores} cores"
        ),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Facegate logs as `facegate serve` does (`info`, or `FACEGATE_LOG`), but to
/// a file in the temporary directory instead of the terminal.
fn init_logging(path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FACEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}

/// An account with facemap authentication, its API credential, and eligible
/// enrollments with their facemaps.
struct Fixtures {
    token: String,
    secret: String,
    /// One body per pool enrollment.
    pool: Vec<Bytes>,
    /// The body of the enrollment that every request of the worst case hits.
    solo: Bytes,
    facemap_bytes: usize,
    setup: Duration,
}

/// An approved enrollment with a 512-D facemap, deleted (the tombstone that
/// facemap authentication requires): as the tests' `enrollment()` helper.
async fn eligible_enrollment(
    services: &Services,
    account: &Account,
    seed: usize,
) -> anyhow::Result<(EnrollmentRef, Vec<u8>)> {
    let template: Vec<f32> = (0..TEMPLATE_DIMENSIONS)
        .map(|i| ((i as f32) * 0.37 + seed as f32).sin())
        .collect();
    let demo = services
        .record_demo_enrollment(account, MODEL, vec![template], false)
        .await?;
    Ok((demo.reference, demo.facemap))
}

fn initiate_body(reference: EnrollmentRef, user: usize, facemap: &[u8]) -> anyhow::Result<Bytes> {
    let metadata = EnrollmentMetadata {
        user_reference: format!("bench-user-{user}").into(),
        ..EnrollmentMetadata::for_enrollment(reference)
    };
    multipart_body(&serde_json::to_string(&metadata)?, facemap)
}

async fn fixtures(services: &Services, enrollments: usize) -> anyhow::Result<Fixtures> {
    let started = Instant::now();
    let changes = AccountChanges {
        facemap_auth_enabled: Some(true),
        ..AccountChanges::default()
    };
    let account = services.create_account("Bench Corp", changes).await?;
    let credential = services.issue_credential(account.id, Role::Api).await?;
    let mut pool = Vec::with_capacity(enrollments);
    let mut facemap_bytes = 0;
    for n in 0..enrollments {
        let (reference, facemap) = eligible_enrollment(services, &account, n).await?;
        facemap_bytes = facemap.len();
        pool.push(initiate_body(reference, n, &facemap)?);
    }
    let (reference, facemap) = eligible_enrollment(services, &account, enrollments).await?;
    let solo = initiate_body(reference, enrollments, &facemap)?;
    Ok(Fixtures {
        token: credential.token,
        secret: credential.secret,
        pool,
        solo,
        facemap_bytes,
        setup: started.elapsed(),
    })
}

async fn start_facegate(data_dir: &Path) -> anyhow::Result<Running> {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    // One account sends thousands of initiations a second here: the
    // per-account rate limit (600 a minute by default) would answer 429.
    config.rate_limits.initiations_per_minute = 0;
    let listener = TcpListener::bind(config.listen).await?;
    app::start(&config, listener, Hooks::default()).await
}

/// One measured run, as printed and written.
struct Run {
    name: &'static str,
    description: String,
    stats: RunStats,
    warmup: Duration,
    /// CPU used during the measured phase, where /proc is available.
    cpu: Option<CpuTimes>,
}

impl Run {
    /// CPU of this process (load generator + server) per successful request.
    fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.stats.ok > 0).then(|| cpu.process * 1e6 / self.stats.ok as f64)
    }

    /// Share of the machine's CPU that other processes used during the run.
    fn other_cpu_percent(&self, cores: u64) -> Option<f64> {
        let cpu = self.cpu?;
        let capacity = self.stats.elapsed.as_secs_f64() * cores as f64;
        (capacity > 0.0).then(|| ((cpu.machine_busy - cpu.process) / capacity * 100.0).max(0.0))
    }

    fn json(&self, cores: u64) -> Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 1e2;
        let s = &self.stats;
        json!({
            "name": self.name,
            "description": self.description,
            "ok": s.ok,
            "errors": s.errors,
            "first_error": s.first_error,
            "truncated": s.truncated,
            "elapsed_s": (s.elapsed.as_secs_f64() * 1e3).round() / 1e3,
            "warmup_s": (self.warmup.as_secs_f64() * 1e3).round() / 1e3,
            "throughput_rps": s.throughput().round(),
            "latency_ms": {
                "mean": ms(s.mean()),
                "p50": ms(s.percentile(50.0)),
                "p90": ms(s.percentile(90.0)),
                "p99": ms(s.percentile(99.0)),
                "max": ms(s.max()),
            },
            "cpu": self.cpu.map(|cpu| json!({
                "process_s": (cpu.process * 1e2).round() / 1e2,
                "machine_busy_s": (cpu.machine_busy * 1e2).round() / 1e2,
                "process_us_per_request": self.cpu_us_per_request().map(f64::round),
                "other_processes_percent_of_machine": self.other_cpu_percent(cores).map(|p| (p * 10.0).round() / 10.0),
            })),
        })
    }
}

/// Warms up `target` (connections, caches, Argon2), then measures it.
async fn measure(
    settings: &Settings,
    http: &reqwest::Client,
    name: &'static str,
    description: String,
    target: &Target,
    requests: usize,
) -> anyhow::Result<Run> {
    eprintln!("  {name}: warming up ({} requests) ...", settings.warmup);
    let started = Instant::now();
    if settings.warmup > 0 {
        let warm = Load {
            concurrency: settings.concurrency,
            requests: settings.warmup,
            max_duration: settings.max_duration,
        };
        let stats = run_load(http, target, warm, 0).await?;
        if stats.errors > 0 {
            bail!(
                "{name}: {} of {} warm-up requests failed; first: {}",
                stats.errors,
                settings.warmup,
                stats.first_error.unwrap_or_default()
            );
        }
    }
    let warmup = started.elapsed();
    eprintln!(
        "  {name}: measuring ({requests} requests, concurrency {}) ...",
        settings.concurrency
    );
    let load = Load {
        concurrency: settings.concurrency,
        requests,
        max_duration: settings.max_duration,
    };
    let before = CpuTimes::now();
    let stats = run_load(http, target, load, settings.warmup).await?;
    let cpu = CpuTimes::now()
        .zip(before)
        .map(|(after, before)| after.since(before));
    Ok(Run {
        name,
        description,
        stats,
        warmup,
        cpu,
    })
}

fn table(runs: &[Run], cores: u64) -> String {
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    let mut out = format!(
        "{:<24} {:>7} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9}\n",
        "target",
        "ok",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "CPU us/req",
        "other CPU"
    );
    for run in runs {
        let s = &run.stats;
        out.push_str(&format!(
            "{:<24} {:>7} {:>6} {:>8.0} {:>7} {:>7} {:>7} {:>7} {:>10} {:>8}%{}\n",
            run.name,
            s.ok,
            s.errors,
            s.throughput(),
            ms(s.percentile(50.0)),
            ms(s.percentile(90.0)),
            ms(s.percentile(99.0)),
            ms(s.max()),
            opt(run.cpu_us_per_request()),
            opt(run.other_cpu_percent(cores)),
            if s.truncated {
                "  (stopped at the time limit)"
            } else {
                ""
            },
        ));
    }
    out
}

/// Facegate / bare axum, for throughput and p99.
fn ratios(runs: &[Run]) -> Vec<(String, f64, f64)> {
    let Some(bare) = runs.iter().find(|r| r.name == BARE) else {
        return Vec::new();
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    runs.iter()
        .filter(|r| r.name != BARE)
        .map(|r| {
            (
                r.name.to_owned(),
                ratio(r.stats.throughput(), bare.stats.throughput()),
                ratio(
                    r.stats.percentile(99.0).as_secs_f64(),
                    bare.stats.percentile(99.0).as_secs_f64(),
                ),
            )
        })
        .collect()
}

const BARE: &str = "bare-axum";
const POOL: &str = "facegate-pool";
const SOLO: &str = "facegate-one-enrollment";

fn runtime(name: &str) -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .with_context(|| format!("building the {name} runtime"))
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let settings = Settings::from_env()?;
    let machine = machine();
    let cores = machine["cores"].as_u64().unwrap_or(0);
    let load_before = loadavg();
    eprintln!(
        "facemap/initiate load benchmark: {cores} cores shared by the load generator and the server (same machine, same process); load average before: {load_before}"
    );

    let dir = match &settings.data_parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating the data directory")?;
    if settings.log {
        init_logging(&dir.path().join("facegate.log"))?;
    }
    // The server side gets its own runtime, as `facegate serve`'s
    // `#[tokio::main]` would; the load generator gets another.
    let server_rt = runtime("server")?;
    let client_rt = runtime("client")?;

    let (running, fixtures) = server_rt.block_on(async {
        let running = start_facegate(dir.path()).await?;
        eprintln!(
            "facegate listening on {} (data in {})",
            running.addr,
            dir.path().display()
        );
        let fixtures = fixtures(&running.services, settings.enrollments).await?;
        anyhow::Ok((running, fixtures))
    })?;
    eprintln!(
        "created {} eligible enrollments (+1 for the single-enrollment run) in {:.1} s; facemap {} bytes, request body {} bytes",
        settings.enrollments,
        fixtures.setup.as_secs_f64(),
        fixtures.facemap_bytes,
        fixtures.pool[0].len(),
    );
    let bare =
        server_rt.block_on(async { Bare::start(TcpListener::bind("127.0.0.1:0").await?) })?;
    eprintln!("bare axum listening on {}", bare.addr);

    let facegate_url = format!("http://{}{INITIATE_PATH}", running.addr);
    let bare_url = format!("http://{}{INITIATE_PATH}", bare.addr);
    let targets = [
        (
            BARE,
            "bare axum: same multipart request read in full, JSON answer of the same shape; no auth, no DB".to_owned(),
            Target::new(bare_url, &fixtures.token, &fixtures.secret, fixtures.pool.clone())?,
        ),
        (
            POOL,
            if settings.enrollments >= settings.warmup + settings.requests {
                format!(
                    "Facegate, every request on a different one of {} enrollments: none has an open transaction to expire",
                    settings.enrollments
                )
            } else {
                format!(
                    "Facegate, requests round-robin over {} enrollments: once the pool wraps, each initiate also expires the enrollment's previous open transaction",
                    settings.enrollments
                )
            },
            Target::new(facegate_url.clone(), &fixtures.token, &fixtures.secret, fixtures.pool.clone())?,
        ),
        (
            SOLO,
            "Facegate, every request on ONE enrollment (each initiate expires the previous open transaction)".to_owned(),
            Target::new(facegate_url, &fixtures.token, &fixtures.secret, vec![fixtures.solo.clone()])?,
        ),
    ];

    let runs = client_rt.block_on(async {
        let http = client(settings.concurrency)?;
        let mut runs = Vec::new();
        for (name, description, target) in &targets {
            let requests = if *name == BARE {
                settings.bare_requests
            } else {
                settings.requests
            };
            runs.push(
                measure(
                    &settings,
                    &http,
                    name,
                    description.clone(),
                    target,
                    requests,
                )
                .await?,
            );
        }
        anyhow::Ok(runs)
    });
    let load_after = loadavg();
    server_rt.block_on(async {
        bare.stop().await;
        running.stop().await;
    });
    let runs = runs?;

    let ratios = ratios(&runs);
    println!();
    println!(
        "POST {INITIATE_PATH}: {} requests per Facegate run ({} for bare axum) after {} warm-up each, concurrency {}, keep-alive, loopback",
        settings.requests, settings.bare_requests, settings.warmup, settings.concurrency
    );
    println!(
        "machine: {cores} cores ({}), client and server on the same machine sharing them; load average {load_before} before, {load_after} after",
        machine["cpu"].as_str().unwrap_or("unknown")
    );
    println!(
        "facegate: release build, fresh SQLite (WAL, synchronous=FULL) under {}, development mode (plain HTTP), logging {}",
        dir.path().display(),
        if settings.log { "at info to a file" } else { "off" }
    );
    println!();
    print!("{}", table(&runs, cores));
    println!(
        "(CPU us/req: CPU time of this process, load generator + server, per request; other CPU: share of the machine's {cores} cores used by other processes during the run)"
    );
    let noisy: Vec<&str> = runs
        .iter()
        .filter(|r| r.other_cpu_percent(cores).is_some_and(|p| p > 10.0))
        .map(|r| r.name)
        .collect();
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

    let report = json!({
        "benchmark": "POST /api/authentication/v1/facemap/initiate",
        "generated_at": Utc::now().to_rfc3339(),
        "machine": machine,
        "load_average": { "before": load_before, "after": load_after },
        "settings": settings.json(),
        "facemap": { "model": MODEL, "dimensions": TEMPLATE_DIMENSIONS, "sealed_bytes": fixtures.facemap_bytes },
        "request_body_bytes": fixtures.pool[0].len(),
        "setup_s": (fixtures.setup.as_secs_f64() * 1e3).round() / 1e3,
        "runs": runs.iter().map(|r| r.json(cores)).collect::<Vec<_>>(),
        "ratios_vs_bare_axum": ratios.iter().map(|(name, throughput, p99)| json!({
            "target": name,
            "throughput": (throughput * 1e4).round() / 1e4,
            "p99_latency": (p99 * 1e2).round() / 1e2,
        })).collect::<Vec<_>>(),
    });
    if let Some(parent) = settings.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&settings.out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", settings.out.display()))?;
    println!();
    println!("results written to {}", settings.out.display());

    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.stats.errors > 0)
        .map(|r| {
            format!(
                "{}: {} requests failed; first: {}",
                r.name,
                r.stats.errors,
                r.stats.first_error.clone().unwrap_or_default()
            )
        })
        .collect();
    if !failed.is_empty() {
        bail!("not every response was 200:\n{}", failed.join("\n"));
    }
    Ok(())
}
