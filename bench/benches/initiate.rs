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
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use facegate::app::{self, Hooks, Running};
use facegate::config::Config;
use facegate_bench::fixtures::{fixtures, MODEL, TEMPLATE_DIMENSIONS};
use facegate_bench::report::{
    data_dir, env_or, failures, loadavg, log_from_env, machine, noisy, ratios, ratios_json,
    runtime, table, target_dir, write_json, Measure, BARE,
};
use facegate_bench::{client, Bare, Target, INITIATE_PATH};
use serde_json::{json, Value};
use tokio::net::TcpListener;

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
            log: log_from_env()?,
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

    fn measure(&self) -> Measure {
        Measure {
            warmup: self.warmup,
            concurrency: self.concurrency,
            max_duration: self.max_duration,
        }
    }
}

const POOL: &str = "facegate-pool";
const SOLO: &str = "facegate-one-enrollment";

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

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let settings = Settings::from_env()?;
    let machine = machine();
    let cores = machine["cores"].as_u64().unwrap_or(0);
    let load_before = loadavg();
    eprintln!(
        "facemap/initiate load benchmark: {cores} cores shared by the load generator and the server (same machine, same process); load average before: {load_before}"
    );

    let dir = data_dir(settings.data_parent.as_deref(), settings.log)?;
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
                settings
                    .measure()
                    .run(&http, name, description.clone(), target, requests, None)
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
        "ratios_vs_bare_axum": ratios_json(&ratios),
    });
    write_json(&settings.out, &report)?;
    println!();
    println!("results written to {}", settings.out.display());

    let failed = failures(&runs);
    if !failed.is_empty() {
        bail!("not every response was 200:\n{}", failed.join("\n"));
    }
    Ok(())
}
