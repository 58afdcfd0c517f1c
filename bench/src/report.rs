//! Measured load runs and their report: a warm-up then a measured phase
//! against one [`Target`], the CPU the run cost (this process, and the
//! database server where it is another process), the summary table, the
//! ratios to the bare-axum baseline of the same run, and what the benchmark
//! knows about the machine. Shared by the `initiate` and `nodes` benches.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::{run_load, CpuMeter, CpuTimes, Load, RunStats, Target};

/// The name of the baseline run, which the ratios divide by.
pub const BARE: &str = "bare-axum";

/// A number from the environment, or `default` when the variable is unset.
pub fn env_or<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a valid number")),
    }
}

/// `FACEGATE_BENCH_LOG`: Facegate's logging to a file (default) or off.
pub fn log_from_env() -> anyhow::Result<bool> {
    match std::env::var("FACEGATE_BENCH_LOG").as_deref() {
        Err(_) | Ok("file") | Ok("on") | Ok("1") => Ok(true),
        Ok("off") | Ok("0") => Ok(false),
        Ok(other) => bail!("FACEGATE_BENCH_LOG={other:?}: use file or off"),
    }
}

/// Cargo's target directory: a bench binary is `<target>/<profile>/deps/<name>-*`.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// What the benchmark knows about the machine it ran on.
pub fn machine() -> Value {
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

/// The 1, 5 and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Facegate logs as `facegate serve` does (`info`, or `FACEGATE_LOG`), but to
/// a file instead of the terminal.
pub fn init_logging(path: &Path) -> anyhow::Result<()> {
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

/// The benchmark's data directory (in `parent`, else the system's temp
/// directory), with Facegate's log in it (`facegate.log`) when `log`.
pub fn data_dir(parent: Option<&Path>, log: bool) -> anyhow::Result<tempfile::TempDir> {
    let dir = match parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating the data directory")?;
    if log {
        init_logging(&dir.path().join("facegate.log"))?;
    }
    Ok(dir)
}

/// A multi-threaded Tokio runtime (one worker per core), as `facegate
/// serve`'s `#[tokio::main]` builds.
pub fn runtime(name: &str) -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .with_context(|| format!("building the {name} runtime"))
}

/// One measured run, as printed and written.
pub struct Run {
    pub name: &'static str,
    pub description: String,
    pub stats: RunStats,
    pub warmup: Duration,
    /// CPU used during the measured phase, where /proc is available.
    pub cpu: Option<CpuTimes>,
    /// CPU seconds the database server's processes used during the measured
    /// phase, when the database is a server of its own (PostgreSQL).
    pub db_cpu: Option<f64>,
}

impl Run {
    /// CPU of this process (load generator + server) per successful request.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.stats.ok > 0).then(|| cpu.process * 1e6 / self.stats.ok as f64)
    }

    /// CPU of the database server per successful request.
    pub fn db_cpu_us_per_request(&self) -> Option<f64> {
        let db = self.db_cpu?;
        (self.stats.ok > 0).then(|| db * 1e6 / self.stats.ok as f64)
    }

    /// Share of the machine's CPU that other processes (neither this one
    /// nor the database server under test) used during the run.
    pub fn other_cpu_percent(&self, cores: u64) -> Option<f64> {
        let cpu = self.cpu?;
        let capacity = self.stats.elapsed.as_secs_f64() * cores as f64;
        let ours = cpu.process + self.db_cpu.unwrap_or(0.0);
        (capacity > 0.0).then(|| ((cpu.machine_busy - ours) / capacity * 100.0).max(0.0))
    }

    pub fn json(&self, cores: u64) -> Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 1e2;
        let s = &self.stats;
        let mut cpu = self.cpu.map(|cpu| {
            json!({
                "process_s": (cpu.process * 1e2).round() / 1e2,
                "machine_busy_s": (cpu.machine_busy * 1e2).round() / 1e2,
                "process_us_per_request": self.cpu_us_per_request().map(f64::round),
                "other_processes_percent_of_machine": self.other_cpu_percent(cores).map(|p| (p * 10.0).round() / 10.0),
            })
        });
        if let (Some(Value::Object(fields)), Some(db)) = (cpu.as_mut(), self.db_cpu) {
            fields.insert("database_server_s".into(), json!((db * 1e2).round() / 1e2));
            fields.insert(
                "database_server_us_per_request".into(),
                json!(self.db_cpu_us_per_request().map(f64::round)),
            );
        }
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
            "cpu": cpu,
        })
    }
}

/// How every target of a benchmark is driven: the same warm-up, concurrency
/// and time limit for each.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub warmup: usize,
    pub concurrency: usize,
    pub max_duration: Duration,
}

impl Measure {
    /// Warms up `target` (connections, caches, Argon2), then measures
    /// `requests` requests. `database_process`: the command name of the
    /// database server's processes (`postgres`) whose CPU is counted apart.
    pub async fn run(
        &self,
        http: &reqwest::Client,
        name: &'static str,
        description: String,
        target: &Target,
        requests: usize,
        database_process: Option<&str>,
    ) -> anyhow::Result<Run> {
        eprintln!("  {name}: warming up ({} requests) ...", self.warmup);
        let started = Instant::now();
        if self.warmup > 0 {
            let warm = Load {
                concurrency: self.concurrency,
                requests: self.warmup,
                max_duration: self.max_duration,
            };
            let stats = run_load(http, target, warm, 0).await?;
            if stats.errors > 0 {
                bail!(
                    "{name}: {} of {} warm-up requests failed; first: {}",
                    stats.errors,
                    self.warmup,
                    stats.first_error.unwrap_or_default()
                );
            }
        }
        let warmup = started.elapsed();
        eprintln!(
            "  {name}: measuring ({requests} requests, concurrency {}) ...",
            self.concurrency
        );
        let load = Load {
            concurrency: self.concurrency,
            requests,
            max_duration: self.max_duration,
        };
        let meter = CpuMeter::start(database_process);
        let stats = run_load(http, target, load, self.warmup).await?;
        let (cpu, db_cpu) = meter.stop();
        Ok(Run {
            name,
            description,
            stats,
            warmup,
            cpu,
            db_cpu,
        })
    }
}

/// The summary table; a `DB CPU us/req` column when a run had a database
/// server of its own.
pub fn table(runs: &[Run], cores: u64) -> String {
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    let with_db = runs.iter().any(|r| r.db_cpu.is_some());
    let db_header = if with_db {
        format!(" {:>10}", "DB us/req")
    } else {
        String::new()
    };
    let mut out = format!(
        "{:<24} {:>7} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7} {:>10}{db_header} {:>9}\n",
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
        let db = if with_db {
            format!(" {:>10}", opt(run.db_cpu_us_per_request()))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<24} {:>7} {:>6} {:>8.0} {:>7} {:>7} {:>7} {:>7} {:>10}{db} {:>8}%{}\n",
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

/// The runs during which other processes used more than 10 % of the machine.
pub fn noisy(runs: &[Run], cores: u64) -> Vec<&'static str> {
    runs.iter()
        .filter(|r| r.other_cpu_percent(cores).is_some_and(|p| p > 10.0))
        .map(|r| r.name)
        .collect()
}

/// Each run / the bare-axum run, for throughput and p99: (name, throughput
/// ratio, p99 ratio).
pub fn ratios(runs: &[Run]) -> Vec<(String, f64, f64)> {
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

/// [`ratios`] as written to the JSON report.
pub fn ratios_json(ratios: &[(String, f64, f64)]) -> Value {
    ratios
        .iter()
        .map(|(name, throughput, p99)| {
            json!({
                "target": name,
                "throughput": (throughput * 1e4).round() / 1e4,
                "p99_latency": (p99 * 1e2).round() / 1e2,
            })
        })
        .collect()
}

/// One line per run with failed requests; empty when every answer was 200.
pub fn failures(runs: &[Run]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.stats.errors > 0)
        .map(|r| {
            format!(
                "{}: {} requests failed; first: {}",
                r.name,
                r.stats.errors,
                r.stats.first_error.clone().unwrap_or_default()
            )
        })
        .collect()
}

/// Writes `report` as pretty JSON to `path`, creating its directory.
pub fn write_json(path: &Path, report: &Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}
