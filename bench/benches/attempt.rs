//! One capture attempt, measured: the time from the last uploaded frame to the
//! decision, and the CPU time the whole attempt costs.
//!
//! `cargo bench -p facegate-bench --bench attempt` starts the real server
//! (`facegate::app::start`) with one face-engine worker and a fixed challenge
//! that the tranv recording (`pad/replay/tranvanluyt2203_face_anti_spoofing/
//! real_30fps.mjpeg` in the shared data) follows, then runs attempts that
//! upload that recording's frames at the client's pace (one every 66 ms) and
//! finish. Run it pinned to one core for the one-core figures:
//! `taskset -c 0 cargo bench -p facegate-bench --bench attempt`.
//!
//! The same run measures the alternative that analyses every frame only when
//! the attempt finishes (the same frames handed to the same engine and worker
//! at once, then the decision awaited; the protocol itself refuses frames
//! uploaded faster than they were captured): the ratio shows what analysing
//! frames as they arrive buys.
//!
//! A third mode repeats "at finish" on an engine without the second passive
//! model (fr-liveness alone, as before issue #13): its CPU per attempt is the
//! baseline the fused passive signal's cost is reported against.
//!
//! Stateless capture (issue #14) stores every frame's analysis as it is
//! done and decides from storage. What that costs is measured against the
//! in-memory path it replaced: "in memory" drives the same engine at the
//! client's pace, frames analysed as they arrive and concluded from memory,
//! without storage or HTTP; "server, SQLite" and "server, PostgreSQL" are
//! the real server on each backend (PostgreSQL: a schema of its own on
//! FACEGATE_TEST_POSTGRES_URL, skipped when unreachable). Beside them, the
//! storage of one attempt's frames alone: each frame accepted and its
//! analysis stored as a node does (the payload sizes of the recording's real
//! analyses), then all read back as the finish does.
//!
//! Environment: FACEGATE_BENCH_ATTEMPTS [5], FACEGATE_SHARED_DIR [../shared],
//! FACEGATE_BENCH_OUT [<target dir>/bench-attempt.json],
//! FACEGATE_TEST_POSTGRES_URL [postgres://postgres@127.0.0.1:5432/postgres].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use facegate::app::{self, Hooks};
use facegate::config::Config;
use facegate_api::wire::{
    AttemptFinished, AttemptStarted, EnrollmentMetadata, FacemapInitiated, FinishAttempt,
    OpenSession, SessionOpened, StartAttempt,
};
use facegate_bench::CpuTimes;
use facegate_core::accounts::AccountChanges;
use facegate_core::engine::{
    AnalysedFrame, AttemptContext, FaceEngine as _, FrameAnalysis, FrameInput, FrameResult,
};
use facegate_domain::Role;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The challenge the tranv recording follows (shared with the journey tests).
const CHALLENGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/facegate/tests/fixtures/tranv-challenge.json"
);

fn mjpeg_frames(path: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(facegate_vision::decode::split_mjpeg(&bytes)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

struct Run {
    decision_ms: f64,
    cpu_s: f64,
    outcome: String,
    frames: u32,
}

/// A frame's analysis as a node stores it and the conclusion reads it back.
fn as_stored(analysis: FrameAnalysis, jpeg: Arc<[u8]>) -> FrameResult {
    match analysis {
        FrameAnalysis::Analysed {
            features,
            keep_jpeg,
        } => FrameResult::Analysed {
            features,
            jpeg: keep_jpeg.then_some(jpeg),
        },
        FrameAnalysis::Undecodable => FrameResult::Undecodable,
    }
}

/// The engine's conclusion on the recording's frames, against the enrolled
/// template, as what the run outcome reports.
async fn conclude(
    engine: &facegate_engine::VisionEngine,
    challenge: &facegate_domain::Challenge,
    model: &str,
    template: &[f32],
    frames: Vec<AnalysedFrame>,
) -> anyhow::Result<String> {
    let found = engine
        .conclude(
            AttemptContext {
                challenge: challenge.clone(),
                flash: false,
                model: model.to_owned(),
                templates: vec![template.to_vec()],
                target: Default::default(),
            },
            frames,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!(
        "{:?}",
        facegate_domain::decision::evidence(&found.findings)
    ))
}

/// The recording's frame at capture time `t_ms` (30 fps).
fn frame_at(frames: &[Vec<u8>], t_ms: u32) -> Arc<[u8]> {
    frames[(t_ms as usize * 30 / 1000) % frames.len()]
        .as_slice()
        .into()
}

/// The alternative design: every frame of the attempt is analysed only once
/// the attempt is finished (all frames are handed to the engine at once and
/// the decision awaited), on the same engine and worker as the server.
async fn at_finish(
    engine: &facegate_engine::VisionEngine,
    challenge: &facegate_domain::Challenge,
    model: &str,
    template: &[f32],
    frames: &[Vec<u8>],
) -> anyhow::Result<Run> {
    let cpu_before = CpuTimes::now();
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    let mut analysed = Vec::new();
    while t <= challenge.duration_ms {
        let jpeg = frame_at(frames, t);
        let input = FrameInput {
            index,
            t_ms: t,
            jpeg: jpeg.clone(),
        };
        let analysis = engine
            .analyse_frame(model, input)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let result = as_stored(analysis, jpeg);
        analysed.push(AnalysedFrame { index, result });
        index += 1;
        t += 66;
    }
    let outcome = conclude(engine, challenge, model, template, analysed).await?;
    Ok(Run {
        decision_ms: t0.elapsed().as_secs_f64() * 1000.0,
        cpu_s: cpu_seconds_since(cpu_before),
        outcome,
        frames: index,
    })
}

/// The in-memory path stateless capture replaced: frames handed to the
/// engine as they are captured (one every 66 ms), analysed as they arrive,
/// and the attempt concluded from memory once the last is done; no storage,
/// no HTTP. Also answers the size of each frame's stored payload (features,
/// and the JPEG when kept).
async fn in_memory(
    engine: &Arc<facegate_engine::VisionEngine>,
    challenge: &facegate_domain::Challenge,
    model: &str,
    template: &[f32],
    frames: &[Vec<u8>],
) -> anyhow::Result<(Run, Vec<usize>)> {
    let cpu_before = CpuTimes::now();
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    let mut analyses = Vec::new();
    while t <= challenge.duration_ms {
        tokio::time::sleep_until((t0 + Duration::from_millis(u64::from(t))).into()).await;
        let jpeg = frame_at(frames, t);
        let (engine, model) = (engine.clone(), model.to_owned());
        let input = FrameInput {
            index,
            t_ms: t,
            jpeg: jpeg.clone(),
        };
        analyses.push((
            index,
            jpeg,
            tokio::spawn(async move { engine.analyse_frame(&model, input).await }),
        ));
        index += 1;
        t += 66;
    }
    let last_frame = Instant::now();
    let mut analysed = Vec::new();
    let mut sizes = Vec::new();
    for (index, jpeg, task) in analyses {
        let analysis = task.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
        let result = as_stored(analysis, jpeg);
        if let FrameResult::Analysed { features, jpeg } = &result {
            sizes.push(4 + features.len() + jpeg.as_ref().map_or(0, |j| j.len()));
        }
        analysed.push(AnalysedFrame { index, result });
    }
    let outcome = conclude(engine, challenge, model, template, analysed).await?;
    Ok((
        Run {
            decision_ms: last_frame.elapsed().as_secs_f64() * 1000.0,
            cpu_s: cpu_seconds_since(cpu_before),
            outcome,
            frames: index,
        },
        sizes,
    ))
}

/// What storing one attempt's frames costs on a backend: each frame
/// accepted (the cursor's compare-and-set and the frame's row) and its
/// analysis stored, one after the other as a node does them, then all the
/// attempt's frames read back as its finish does. `payloads` are the sizes
/// of real analyses (plus the seal's 44 bytes).
struct StorageCost {
    write_ms_per_frame: f64,
    read_ms_per_attempt: f64,
}

async fn storage_cost(
    store: &Arc<dyn facegate_storage::Store>,
    attempt: uuid::Uuid,
    payloads: &[usize],
) -> anyhow::Result<StorageCost> {
    use facegate_domain::FrameCursor;
    use facegate_storage::FrameOutcome;
    let now = chrono::Utc::now();
    let cursor = |i: u32| FrameCursor {
        received: i,
        last_t_ms: i.checked_sub(1).map(|p| p * 66),
        earliest_start_ms: (i > 0).then_some(0),
    };
    let started = Instant::now();
    for (i, size) in (0u32..).zip(payloads) {
        let accepted = store
            .accept_frame(attempt, &cursor(i), &cursor(i + 1), i, now)
            .await?;
        anyhow::ensure!(accepted, "frame {i} was not accepted");
        let sealed = vec![0x5a; size + 44];
        store
            .record_frame(attempt, i, &FrameOutcome::Analysed { sealed })
            .await?;
    }
    let write_ms_per_frame =
        started.elapsed().as_secs_f64() * 1000.0 / payloads.len().max(1) as f64;
    let started = Instant::now();
    let read = store.attempt_frames(attempt).await?;
    let read_ms_per_attempt = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(read.len() == payloads.len(), "frames lost");
    Ok(StorageCost {
        write_ms_per_frame,
        read_ms_per_attempt,
    })
}

/// The process's CPU seconds since `before` (NaN where /proc is missing).
fn cpu_seconds_since(before: Option<CpuTimes>) -> f64 {
    match (CpuTimes::now(), before) {
        (Some(now), Some(before)) => now.since(before).process,
        _ => f64::NAN,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// An attempt started over HTTP: initiated, session opened, attempt started.
struct Started {
    capture: String,
    id: uuid::Uuid,
    nonce: String,
    duration: u32,
}

async fn start_capture(
    client: &reqwest::Client,
    base: &str,
    api: (&str, &str),
    enrollment: &str,
    facemap: &[u8],
) -> anyhow::Result<Started> {
    let form = reqwest::multipart::Form::new()
        .part(
            "enrollmentMetadata",
            reqwest::multipart::Part::text(serde_json::to_string(
                &EnrollmentMetadata::for_enrollment(enrollment),
            )?)
            .mime_str("application/json")?,
        )
        .part(
            "facemap",
            reqwest::multipart::Part::bytes(facemap.to_vec())
                .mime_str("application/octet-stream")?,
        );
    let initiated: FacemapInitiated = client
        .post(format!("{base}/api/authentication/v1/facemap/initiate"))
        .basic_auth(api.0, Some(api.1))
        .header("Accept", "application/json")
        .header("User-Agent", "Facegate bench/1.0")
        .multipart(form)
        .send()
        .await?
        .json()
        .await?;
    let token = url::Url::parse(&initiated.redirect_url)?
        .query_pairs()
        .find(|(k, _)| k == "authorizationToken")
        .map(|(_, v)| v.into_owned())
        .context("authorizationToken")?;
    let call = call(client, base);
    let session: SessionOpened = call(reqwest::Method::POST, "/api/capture/v1/session")
        .json(&OpenSession {
            authorization_token: token.into(),
            ..OpenSession::default()
        })
        .send()
        .await?
        .json()
        .await?;
    // Every later call carries the capture token.
    let capture = session.capture_token;
    let started: AttemptStarted = call(reqwest::Method::POST, "/api/capture/v1/attempts")
        .bearer_auth(&capture)
        .json(&StartAttempt {
            flash: false.into(),
        })
        .send()
        .await?
        .json()
        .await?;
    Ok(Started {
        capture,
        id: started.attempt_id,
        nonce: started.nonce,
        duration: started.challenge.duration_ms,
    })
}

fn call<'a>(
    client: &'a reqwest::Client,
    base: &'a str,
) -> impl Fn(reqwest::Method, &str) -> reqwest::RequestBuilder + 'a {
    move |method, path| {
        client
            .request(method, format!("{base}{path}"))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate bench/1.0")
    }
}

async fn attempt(
    client: &reqwest::Client,
    base: &str,
    api: (&str, &str),
    enrollment: &str,
    facemap: &[u8],
    frames: &[Vec<u8>],
) -> anyhow::Result<Run> {
    let Started {
        capture,
        id,
        nonce,
        duration,
    } = start_capture(client, base, api, enrollment, facemap).await?;
    let call = call(client, base);
    let cpu_before = CpuTimes::now();
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    while t <= duration {
        let due = t0 + Duration::from_millis(u64::from(t));
        tokio::time::sleep_until(due.into()).await;
        let frame = frame_at(frames, t).to_vec();
        let response = call(
            reqwest::Method::POST,
            &format!("/api/capture/v1/attempts/{id}/frames"),
        )
        .bearer_auth(&capture)
        .header("Content-Type", "image/jpeg")
        .header("Capture-Nonce", &nonce)
        .header("Capture-Time-Ms", t.to_string())
        .header("Capture-Frame", index.to_string())
        .body(frame)
        .send()
        .await?;
        if response.status() != 202 {
            bail!("frame {index}: {}", response.text().await?);
        }
        index += 1;
        t += 66;
    }
    let last_frame = Instant::now();
    let done: AttemptFinished = call(
        reqwest::Method::POST,
        &format!("/api/capture/v1/attempts/{id}/finish"),
    )
    .bearer_auth(&capture)
    .json(&FinishAttempt {
        nonce: nonce.into(),
    })
    .send()
    .await?
    .json()
    .await?;
    let decision_ms = last_frame.elapsed().as_secs_f64() * 1000.0;
    let cpu_s = cpu_seconds_since(cpu_before);
    Ok(Run {
        decision_ms,
        cpu_s,
        outcome: done.outcome.as_str().to_owned(),
        frames: index,
    })
}

/// A server for the benchmark on `database` (`None`: SQLite in `dir`), with
/// an account and its API credential.
struct Server {
    running: app::Running,
    base: String,
    account: facegate_domain::Account,
    api: (String, String),
}

async fn server(
    dir: &std::path::Path,
    challenge_file: &std::path::Path,
    database: Option<&facegate_storage::DatabaseUrl>,
) -> anyhow::Result<Server> {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        database_url: database.map(|u| u.expose_secret().to_owned().into()),
        listen: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    config.dev.fixed_challenge = Some(challenge_file.to_path_buf());
    config.capture.workers = 1;
    let listener = TcpListener::bind(config.listen).await?;
    let running = app::start(&config, listener, Hooks::default()).await?;
    let services = running.services.clone();
    let account = services
        .create_account(
            "Bench",
            AccountChanges {
                facemap_auth_enabled: Some(true),
                ..AccountChanges::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let api = services
        .issue_credential(account.id, Role::Api)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Server {
        base: format!("http://{}", running.addr),
        running,
        account,
        api: (api.token, api.secret),
    })
}

impl Server {
    /// A fresh enrollment of `template` and its facemap.
    async fn enrollment(&self, model: &str, template: &[f32]) -> anyhow::Result<(String, Vec<u8>)> {
        let demo = self
            .running
            .services
            .record_demo_enrollment(&self.account, model, vec![template.to_vec()], false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((demo.reference.to_string(), demo.facemap))
    }
}

fn summary(label: &str, runs: &[Run]) -> Value {
    let decision = median(runs.iter().map(|r| r.decision_ms).collect());
    let cpu = median(runs.iter().map(|r| r.cpu_s).collect());
    println!(
        "{label:>28}: last frame → decision median {decision:.1} ms, CPU per attempt median {cpu:.2} s, {} frames, outcomes {:?}",
        runs.first().map_or(0, |r| r.frames),
        runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>()
    );
    json!({
        "mode": label,
        "attempts": runs.len(),
        "frames_per_attempt": runs.first().map_or(0, |r| r.frames),
        "decision_ms": runs.iter().map(|r| r.decision_ms).collect::<Vec<_>>(),
        "decision_ms_median": decision,
        "cpu_s": runs.iter().map(|r| r.cpu_s).collect::<Vec<_>>(),
        "cpu_s_median": cpu,
        "outcomes": runs.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>(),
    })
}

const IN_MEMORY: &str = "in memory";
const SQLITE: &str = "server, SQLite";
const POSTGRES: &str = "server, PostgreSQL";
const AT_FINISH: &str = "at finish";
const FR_ONLY: &str = "at finish, fr-liveness only";

fn main() -> anyhow::Result<()> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")));
    let video = shared.join("data/pad/replay/tranvanluyt2203_face_anti_spoofing/real_30fps.mjpeg");
    if !video.is_file() {
        println!("SKIPPED: the attempt benchmark needs {}", video.display());
        return Ok(());
    }
    let attempts: usize = std::env::var("FACEGATE_BENCH_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let frames = mjpeg_frames(&video)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let challenge_file = dir.path().join("challenge.json");
        std::fs::copy(CHALLENGE, &challenge_file)?;
        let sqlite = server(&dir.path().join("sqlite"), &challenge_file, None).await?;
        let schema = facegate_storage::testing::PostgresSchema::create()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let postgres = match &schema {
            Some(schema) => {
                Some(server(&dir.path().join("postgres"), &challenge_file, Some(schema.url())).await?)
            }
            None => {
                println!("SKIPPED: the PostgreSQL modes (no PostgreSQL at FACEGATE_TEST_POSTGRES_URL)");
                None
            }
        };
        let (model, template) = facegate_engine::enrollment_template(&frames[600])?;
        let client = reqwest::Client::new();
        let challenge: facegate_domain::Challenge =
            serde_json::from_str(&std::fs::read_to_string(CHALLENGE)?)?;
        let settings = Config::default().engine_settings();
        let mut one = settings.clone();
        one.workers = 1;
        let engine = facegate_engine::VisionEngine::shared(one.clone());
        let mut fr_only = one;
        fr_only.liveness.passive.minifasnet = false;
        let one_model = facegate_engine::VisionEngine::shared(fr_only);
        let mut results = Vec::new();
        let mut payloads = Vec::new();
        for label in [IN_MEMORY, SQLITE, POSTGRES, AT_FINISH, FR_ONLY] {
            let node = match label {
                SQLITE => Some(&sqlite),
                POSTGRES => match &postgres {
                    Some(p) => Some(p),
                    None => continue,
                },
                _ => None,
            };
            let mut runs = Vec::new();
            // One warm-up attempt loads the models.
            for i in 0..=attempts {
                let run = match (label, node) {
                    (IN_MEMORY, _) => {
                        let (run, sizes) =
                            in_memory(&engine, &challenge, &model, &template, &frames).await?;
                        payloads = sizes;
                        run
                    }
                    (AT_FINISH, _) => {
                        at_finish(&engine, &challenge, &model, &template, &frames).await?
                    }
                    (FR_ONLY, _) => {
                        at_finish(&one_model, &challenge, &model, &template, &frames).await?
                    }
                    (_, Some(node)) => {
                        let (reference, facemap) = node.enrollment(&model, &template).await?;
                        attempt(
                            &client,
                            &node.base,
                            (&node.api.0, &node.api.1),
                            &reference,
                            &facemap,
                            &frames,
                        )
                        .await?
                    }
                    (_, None) => bail!("{label}: no server"),
                };
                if i > 0 {
                    runs.push(run);
                }
            }
            results.push(summary(label, &runs));
        }
        let median_of = |mode: &str, key: &str| {
            results
                .iter()
                .find(|r| r["mode"] == mode)
                .and_then(|r| r[key].as_f64())
                .unwrap_or(f64::NAN)
        };
        let ratio = median_of(AT_FINISH, "decision_ms_median") / median_of(SQLITE, "decision_ms_median");
        println!("analysing frames as they arrive decides {ratio:.1}x sooner after the last frame");
        let second_model_cost =
            median_of(AT_FINISH, "cpu_s_median") / median_of(FR_ONLY, "cpu_s_median");
        println!(
            "the second passive model costs {second_model_cost:.2}x the CPU per attempt of fr-liveness alone"
        );
        let mut stateless = Vec::new();
        for (label, node) in [(SQLITE, Some(&sqlite)), (POSTGRES, postgres.as_ref())] {
            let Some(node) = node else { continue };
            let (reference, facemap) = node.enrollment(&model, &template).await?;
            let started = start_capture(
                &client,
                &node.base,
                (&node.api.0, &node.api.1),
                &reference,
                &facemap,
            )
            .await?;
            let cost = storage_cost(&node.running.store, started.id, &payloads).await?;
            let cpu_ratio = median_of(label, "cpu_s_median") / median_of(IN_MEMORY, "cpu_s_median");
            let decision_ratio =
                median_of(label, "decision_ms_median") / median_of(IN_MEMORY, "decision_ms_median");
            println!(
                "{label}: storing a frame {:.2} ms, reading an attempt's {} frames {:.1} ms; against in memory: CPU per attempt x{cpu_ratio:.2}, last frame → decision x{decision_ratio:.2}",
                cost.write_ms_per_frame,
                payloads.len(),
                cost.read_ms_per_attempt
            );
            stateless.push(json!({
                "mode": label,
                "frames": payloads.len(),
                "payload_bytes_mean": payloads.iter().sum::<usize>() as f64 / payloads.len().max(1) as f64,
                "write_ms_per_frame": cost.write_ms_per_frame,
                "read_ms_per_attempt": cost.read_ms_per_attempt,
                "cpu_per_attempt_over_in_memory": cpu_ratio,
                "decision_ms_over_in_memory": decision_ratio,
            }));
        }
        let out = std::env::var_os("FACEGATE_BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-attempt.json"))
            });
        let cpus = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Cpus_allowed_list"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            });
        std::fs::write(
            &out,
            serde_json::to_string_pretty(&json!({
                "video": video.display().to_string(),
                "cpus_allowed": cpus,
                "engine_workers": 1,
                "results": results,
                "stateless_capture": stateless,
                "streaming_speedup": ratio,
                "cpu_fused_over_fr_liveness_only": second_model_cost,
            }))?,
        )?;
        println!("report: {}", out.display());
        sqlite.running.stop().await;
        if let Some(postgres) = postgres {
            postgres.running.stop().await;
        }
        Ok(())
    })
}
