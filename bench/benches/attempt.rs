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
//! Environment: FACEGATE_BENCH_ATTEMPTS [5], FACEGATE_SHARED_DIR [../shared],
//! FACEGATE_BENCH_OUT [<target dir>/bench-attempt.json].

use std::path::PathBuf;
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
use facegate_domain::Role;
use serde_json::json;
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
    use facegate_core::engine::{
        AnalysedFrame, AttemptContext, FaceEngine as _, FrameAnalysis, FrameInput, FrameResult,
    };
    let cpu_before = CpuTimes::now();
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    let mut analysed_frames = Vec::new();
    while t <= challenge.duration_ms {
        let jpeg: &[u8] = &frames[(t as usize * 30 / 1000) % frames.len()];
        let analysis = engine
            .analyse_frame(
                model,
                FrameInput {
                    index,
                    t_ms: t,
                    jpeg: jpeg.into(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let result = match analysis {
            FrameAnalysis::Analysed {
                features,
                keep_jpeg,
            } => FrameResult::Analysed {
                features,
                jpeg: keep_jpeg.then(|| jpeg.into()),
            },
            FrameAnalysis::Undecodable => FrameResult::Undecodable,
        };
        analysed_frames.push(AnalysedFrame { index, result });
        index += 1;
        t += 66;
    }
    let analysed = engine
        .conclude(
            AttemptContext {
                challenge: challenge.clone(),
                flash: false,
                model: model.to_owned(),
                templates: vec![template.to_vec()],
                target: Default::default(),
            },
            analysed_frames,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let decision_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let cpu_s = cpu_seconds_since(cpu_before);
    Ok(Run {
        decision_ms,
        cpu_s,
        outcome: format!(
            "{:?}",
            facegate_domain::decision::evidence(&analysed.findings)
        ),
        frames: index,
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

#[allow(clippy::too_many_arguments)]
async fn attempt(
    client: &reqwest::Client,
    base: &str,
    api: (&str, &str),
    enrollment: &str,
    facemap: &[u8],
    frames: &[Vec<u8>],
) -> anyhow::Result<Run> {
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
    let call = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{base}{path}"))
            .header("Accept", "application/json")
            .header("User-Agent", "Facegate bench/1.0")
    };
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
    let (id, nonce) = (started.attempt_id, started.nonce);
    let duration = started.challenge.duration_ms;
    let cpu_before = CpuTimes::now();
    let t0 = Instant::now();
    let (mut index, mut t) = (0u32, 0u32);
    while t <= duration {
        let due = t0 + Duration::from_millis(u64::from(t));
        tokio::time::sleep_until(due.into()).await;
        let frame = &frames[(t as usize * 30 / 1000) % frames.len()];
        let response = call(
            reqwest::Method::POST,
            &format!("/api/capture/v1/attempts/{id}/frames"),
        )
        .bearer_auth(&capture)
        .header("Content-Type", "image/jpeg")
        .header("Capture-Nonce", &nonce)
        .header("Capture-Time-Ms", t.to_string())
        .header("Capture-Frame", index.to_string())
        .body(frame.clone())
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
        let mut config = Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse()?,
            ..Config::default()
        };
        config.dev.fixed_challenge = Some(challenge_file);
        config.capture.workers = 1;
        let listener = TcpListener::bind(config.listen).await?;
        let running = app::start(&config, listener, Hooks::default()).await?;
        let base = format!("http://{}", running.addr);
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
        let (model, template) = facegate_engine::enrollment_template(&frames[600])?;
        let client = reqwest::Client::new();
        let mut results = Vec::new();
        let challenge: facegate_domain::Challenge =
            serde_json::from_str(&std::fs::read_to_string(CHALLENGE)?)?;
        let engine = facegate_engine::VisionEngine::shared(config.engine_settings());
        let mut fr_only = config.engine_settings();
        fr_only.liveness.passive.minifasnet = false;
        let one_model = facegate_engine::VisionEngine::shared(fr_only);
        for label in ["streaming", "at finish", "at finish, fr-liveness only"] {
            let mut runs = Vec::new();
            // One warm-up attempt loads the models.
            for i in 0..=attempts {
                if label.starts_with("at finish") {
                    let engine = if label == "at finish" { &engine } else { &one_model };
                    let run = at_finish(engine, &challenge, &model, &template, &frames).await?;
                    if i > 0 {
                        runs.push(run);
                    }
                    continue;
                }
                let demo = services
                    .record_demo_enrollment(&account, &model, vec![template.clone()], false)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let (reference, facemap) = (demo.reference, demo.facemap);
                let run = attempt(
                    &client,
                    &base,
                    (&api.token, &api.secret),
                    &reference.to_string(),
                    &facemap,
                    &frames,
                )
                .await?;
                if i > 0 {
                    runs.push(run);
                }
            }
            let decision = median(runs.iter().map(|r| r.decision_ms).collect());
            let cpu = median(runs.iter().map(|r| r.cpu_s).collect());
            println!(
                "{label:>28}: last frame → decision median {decision:.1} ms, CPU per attempt median {cpu:.2} s, {} frames, outcomes {:?}",
                runs.first().map_or(0, |r| r.frames),
                runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>()
            );
            results.push(json!({
                "mode": label,
                "attempts": runs.len(),
                "frames_per_attempt": runs.first().map_or(0, |r| r.frames),
                "decision_ms": runs.iter().map(|r| r.decision_ms).collect::<Vec<_>>(),
                "decision_ms_median": decision,
                "cpu_s": runs.iter().map(|r| r.cpu_s).collect::<Vec<_>>(),
                "cpu_s_median": cpu,
                "outcomes": runs.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>(),
            }));
        }
        let ratio = results[1]["decision_ms_median"].as_f64().unwrap_or(f64::NAN)
            / results[0]["decision_ms_median"].as_f64().unwrap_or(f64::NAN);
        println!("analysing frames as they arrive decides {ratio:.1}x sooner after the last frame");
        let second_model_cost = results[1]["cpu_s_median"].as_f64().unwrap_or(f64::NAN)
            / results[2]["cpu_s_median"].as_f64().unwrap_or(f64::NAN);
        println!(
            "the second passive model costs {second_model_cost:.2}x the CPU per attempt of fr-liveness alone"
        );
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
                "streaming_speedup": ratio,
                "cpu_fused_over_fr_liveness_only": second_model_cost,
            }))?,
        )?;
        println!("report: {}", out.display());
        running.stop().await;
        Ok(())
    })
}
