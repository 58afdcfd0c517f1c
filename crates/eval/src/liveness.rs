//! Presentation-attack evaluation of the liveness signals on the shared data
//! (`pad/` and `video/`): APCER per attack type and BPCER per bona fide
//! source, with sample counts and Wilson 95 % intervals, at the thresholds of
//! [`LivenessConfig`] (fixed a priori, never tuned here).
//!
//! Recorded data cannot follow a live challenge, so only the passive signal
//! is measured directly. The challenge and the flash signals are evaluated by
//! documented simulations:
//! - **compliance**: the chance that a recorded pose trace satisfies a random
//!   challenge ([`ChallengeSpec::from_seed`]) laid over it at a random
//!   offset: what an unresponsive replay of that recording would get from the
//!   challenge signal alone;
//! - **flash**: the recorded live frames with a colour cast following the
//!   attempt's flash schedule (a face lit by the screen) or a different random
//!   schedule (a replay lit by another sequence), the cast applied to the
//!   measured skin colour (`flash::cast_gain`, strength 0.15, 100 ms lag).

use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_vision::decode::{decode_image, split_mjpeg, DecodeLimits};
use facegate_vision::frame::{FrameAnalyzer, FrameAnalyzerConfig, FrameFeatures, FrameOptions};
use facegate_vision::geometry::RgbF32;
use facegate_vision::liveness::challenge::{ChallengeSpec, SplitMix64};
use facegate_vision::liveness::compliance::{challenge_signal, trace};
use facegate_vision::liveness::flash::{cast_gain, flash_signal};
use facegate_vision::liveness::passive::passive_signal;
use facegate_vision::liveness::{decide, LivenessConfig, Verdict};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{self, RuntimeKind};
use facegate_vision::VisionError;
use serde::Serialize;

use crate::metrics::wilson_interval;

/// Frame interval of the simulated 15-fps capture (every 2nd frame of the
/// 30-fps recordings).
const FRAME_MS: u32 = 66;
/// Frames of a 1-s window at 15 fps.
const WINDOW: usize = 15;
/// NUAA sessions longer than this are split into interleaved units of about
/// 20 frames (the study's units).
const NUAA_UNIT: usize = 20;
/// Strength and lag of the simulated flash cast.
const CAST_STRENGTH: f32 = 0.15;
const CAST_LAG_MS: f32 = 100.0;

/// An error rate with its count and Wilson 95 % interval.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub errors: usize,
    pub n: usize,
    pub rate: f64,
    pub ci95: (f64, f64),
}

impl Rate {
    pub fn new(errors: usize, n: usize) -> Self {
        Self {
            errors,
            n,
            rate: if n == 0 {
                0.0
            } else {
                errors as f64 / n as f64
            },
            ci95: wilson_interval(errors, n),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}/{} = {:.1} % [{:.1}–{:.1}]",
            self.errors,
            self.n,
            100.0 * self.rate,
            100.0 * self.ci95.0,
            100.0 * self.ci95.1
        )
    }
}

/// One evaluated unit (a NUAA sub-sequence, a 1-s window, a still).
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    pub source: String,
    pub bona_fide: bool,
    pub frames: usize,
    pub face_frames: usize,
    /// Mean P(live) (the passive signal's score); `None` without a face.
    pub passive: Option<f32>,
    pub passive_verdict: Verdict,
}

/// Error rates of one signal.
#[derive(Debug, Clone, Serialize)]
pub struct PassiveResults {
    /// Print attacks (NUAA imposters, the silent_face poster) accepted.
    pub apcer_print: Rate,
    /// Screen replays (replay/*/fake, the silent_face screen) accepted.
    pub apcer_screen: Rate,
    /// Live webcam recordings (video/*) rejected, 1-s windows.
    pub bpcer_live_video: Rate,
    /// NUAA clients rejected (sub-sequences).
    pub bpcer_nuaa_client: Rate,
    /// replay/*/real rejected, 1-s windows.
    pub bpcer_replay_real: Rate,
    /// The silent_face stills: file, bona fide, P(live).
    pub silent_face: Vec<(String, bool, Option<f32>)>,
}

/// The compliance simulation of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceSimulation {
    pub source: String,
    pub bona_fide_recording: bool,
    /// Random challenges laid over the recording, and those it passed.
    pub passed: Rate,
    /// Reason codes and how often they occurred.
    pub reasons: Vec<(String, usize)>,
}

/// The flash simulation.
#[derive(Debug, Clone, Serialize)]
pub struct FlashSimulation {
    pub source: String,
    /// Lit by the attempt's own schedule and rejected (BPCER-like).
    pub rejected_when_following: Rate,
    /// Lit by another random schedule and accepted (APCER-like).
    pub accepted_when_not_following: Rate,
}

/// `liveness-report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct LivenessReport {
    pub data: String,
    pub runtime: String,
    pub thresholds: LivenessConfig,
    pub passive: PassiveResults,
    pub compliance_simulation: Vec<ComplianceSimulation>,
    pub flash_simulation: Vec<FlashSimulation>,
    /// Wall time of `decide` on whole simulated attempts (ms): median, max, n.
    pub decide_ms: (f64, f64, usize),
    /// Per-frame analysis time (ms, this process): median, n.
    pub analyze_ms: (f64, usize),
    pub units: Vec<Unit>,
    pub notes: Vec<String>,
}

struct Analyzer {
    inner: FrameAnalyzer,
    times: Vec<f64>,
}

impl Analyzer {
    fn run(
        &mut self,
        t_ms: u32,
        image: &RgbF32,
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let started = Instant::now();
        let f = self.inner.analyze(t_ms, image, opts)?;
        self.times.push(started.elapsed().as_secs_f64() * 1e3);
        Ok(f)
    }

    fn bytes(
        &mut self,
        t_ms: u32,
        bytes: &[u8],
        opts: FrameOptions,
    ) -> Result<FrameFeatures, VisionError> {
        let image = RgbF32::from_rgb8(&decode_image(bytes, &DecodeLimits::default())?);
        self.run(t_ms, &image, opts)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, VisionError> {
    std::fs::read(path).map_err(|e| VisionError::Decode(format!("{}: {e}", path.display())))
}

/// A unit from analysed frames: the passive signal over them.
fn unit(
    source: String,
    bona_fide: bool,
    frames: &[FrameFeatures],
    config: &LivenessConfig,
) -> Unit {
    let r = passive_signal(frames, &config.passive);
    let measured = r.verdict != Verdict::NotApplicable;
    Unit {
        source,
        bona_fide,
        frames: frames.len(),
        face_frames: frames.iter().filter(|f| f.face.is_some()).count(),
        passive: measured.then_some(r.score),
        // No face at all: the server would ask for a retry; for an attack
        // that is not an acceptance, for a live person it is a rejection.
        passive_verdict: if measured { r.verdict } else { Verdict::Retry },
    }
}

/// NUAA: frames of one `ID_glasses_pos_session`, in frame order, split into
/// interleaved units of about [`NUAA_UNIT`] frames.
fn nuaa_units(dir: &Path, list: &str) -> Result<Vec<(String, Vec<PathBuf>)>, VisionError> {
    let text = std::fs::read_to_string(dir.join(list))
        .map_err(|e| VisionError::Decode(format!("{}: {e}", dir.join(list).display())))?;
    let folder = if list.starts_with("client") {
        "ClientRaw"
    } else {
        "ImposterRaw"
    };
    let mut sessions: std::collections::BTreeMap<String, Vec<(u32, PathBuf)>> = Default::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.replace('\\', "/");
        let stem = Path::new(&line)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some((session, frame)) = stem.rsplit_once('_') else {
            continue;
        };
        let frame = frame.parse().unwrap_or(0);
        sessions
            .entry(session.to_owned())
            .or_default()
            .push((frame, dir.join(folder).join(&line)));
    }
    let mut units = Vec::new();
    for (session, mut frames) in sessions {
        frames.sort();
        let parts = frames.len().div_ceil(NUAA_UNIT + 1).max(1);
        for k in 0..parts {
            let paths: Vec<PathBuf> = frames
                .iter()
                .skip(k)
                .step_by(parts)
                .map(|(_, p)| p.clone())
                .collect();
            units.push((format!("nuaa/{session}#{k}"), paths));
        }
    }
    Ok(units)
}

/// The frames of a 30-fps MJPEG file as a 15-fps capture, each analysed with
/// the server's sampling (passive every 3rd frame, no templates).
fn video(
    a: &mut Analyzer,
    path: &Path,
    config: &LivenessConfig,
) -> Result<Vec<FrameFeatures>, VisionError> {
    let bytes = read(path)?;
    split_mjpeg(&bytes)
        .into_iter()
        .step_by(2)
        .enumerate()
        .map(|(i, jpeg)| {
            let opts = FrameOptions {
                passive: config.sampling.options(i as u32).passive,
                template: false,
            };
            a.bytes(i as u32 * FRAME_MS, jpeg, opts)
        })
        .collect()
}

/// `frames[from..]` re-timed so that `frames[from]` is at t = 0, up to
/// `duration_ms`.
fn window(frames: &[FrameFeatures], from: usize, duration_ms: u32) -> Vec<FrameFeatures> {
    let t0 = frames.get(from).map_or(0, |f| f.t_ms);
    frames[from.min(frames.len())..]
        .iter()
        .take_while(|f| f.t_ms - t0 <= duration_ms)
        .map(|f| {
            let mut f = f.clone();
            f.t_ms -= t0;
            f
        })
        .collect()
}

fn count(reasons: &mut Vec<(String, usize)>, r: &str) {
    match reasons.iter_mut().find(|(k, _)| k == r) {
        Some((_, n)) => *n += 1,
        None => reasons.push((r.to_owned(), 1)),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the whole evaluation. `simulations` random challenges are laid over
/// each recording for the compliance simulation (and flash schedules over
/// each live video).
pub fn evaluate_liveness(
    data: &Path,
    store: &ModelStore,
    runtime_kind: RuntimeKind,
    config: &LivenessConfig,
    simulations: usize,
) -> Result<LivenessReport, VisionError> {
    let rt = runtime::for_kind(runtime_kind)?;
    let mut a = Analyzer {
        inner: FrameAnalyzer::load(store, rt.as_ref(), FrameAnalyzerConfig::default())?,
        times: Vec::new(),
    };
    let passive_only = FrameOptions {
        passive: true,
        template: false,
    };
    let mut units = Vec::new();
    // NUAA: every frame through the passive model (the frames are sparse).
    let nuaa = data.join("pad/nuaa");
    for (list, bona_fide) in [("client_test.txt", true), ("imposter_test.txt", false)] {
        for (name, paths) in nuaa_units(&nuaa, list)? {
            let frames = paths
                .iter()
                .map(|p| a.bytes(0, &read(p)?, passive_only))
                .collect::<Result<Vec<_>, _>>()?;
            units.push(unit(name, bona_fide, &frames, config));
        }
    }
    // Videos: 1-s windows of a 15-fps capture.
    let mut recordings: Vec<(String, bool, bool, Vec<FrameFeatures>)> = Vec::new();
    let mut replay_dirs: Vec<PathBuf> = std::fs::read_dir(data.join("pad/replay"))
        .map_err(|e| VisionError::Decode(format!("pad/replay: {e}")))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_dir())
        .collect();
    replay_dirs.sort();
    for dir in &replay_dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        for (file, bona_fide) in [("real_30fps.mjpeg", true), ("fake_30fps.mjpeg", false)] {
            let frames = video(&mut a, &dir.join(file), config)?;
            recordings.push((format!("replay/{name}/{file}"), bona_fide, false, frames));
        }
    }
    let mut live_files: Vec<PathBuf> = std::fs::read_dir(data.join("video"))
        .map_err(|e| VisionError::Decode(format!("video: {e}")))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mjpeg"))
        .collect();
    live_files.sort();
    for path in &live_files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let frames = video(&mut a, path, config)?;
        recordings.push((format!("video/{name}"), true, true, frames));
    }
    for (name, bona_fide, _, frames) in &recordings {
        for (k, w) in frames.chunks_exact(WINDOW).enumerate() {
            units.push(unit(format!("{name}@{k}s"), *bona_fide, w, config));
        }
    }
    // silent_face stills.
    let mut silent_face = Vec::new();
    for (file, bona_fide) in [
        ("image_F1.jpg", false),
        ("image_F2.jpg", false),
        ("image_T1.jpg", true),
        ("image_T2.jpg", true),
    ] {
        let path = data.join("pad/silent_face").join(file);
        let f = a.bytes(0, &read(&path)?, passive_only)?;
        let u = unit(
            format!("silent_face/{file}"),
            bona_fide,
            std::slice::from_ref(&f),
            config,
        );
        silent_face.push((file.to_owned(), bona_fide, u.passive));
        units.push(u);
    }
    // Passive error rates.
    let accepted = |u: &&Unit| u.passive_verdict == Verdict::Pass;
    let rate = |filter: &dyn Fn(&Unit) -> bool, error: &dyn Fn(&&Unit) -> bool| {
        let set: Vec<&Unit> = units.iter().filter(|u| filter(u)).collect();
        Rate::new(set.iter().filter(|u| error(u)).count(), set.len())
    };
    let rejected = |u: &&Unit| u.passive_verdict != Verdict::Pass;
    let passive = PassiveResults {
        apcer_print: rate(
            &|u| !u.bona_fide && (u.source.starts_with("nuaa/") || u.source.ends_with("F1.jpg")),
            &accepted,
        ),
        apcer_screen: rate(
            &|u| !u.bona_fide && (u.source.starts_with("replay/") || u.source.ends_with("F2.jpg")),
            &accepted,
        ),
        bpcer_live_video: rate(
            &|u| u.bona_fide && u.source.starts_with("video/"),
            &rejected,
        ),
        bpcer_nuaa_client: rate(&|u| u.bona_fide && u.source.starts_with("nuaa/"), &rejected),
        bpcer_replay_real: rate(
            &|u| u.bona_fide && u.source.starts_with("replay/"),
            &rejected,
        ),
        silent_face,
    };
    // Compliance simulation, and decide timing on whole simulated attempts.
    let mut compliance = Vec::new();
    let mut decide_times = Vec::new();
    for (ri, (name, bona_fide, _, frames)) in recordings.iter().enumerate() {
        let mut rng = SplitMix64(0x5EED_0000 + ri as u64);
        let mut passed = 0;
        let mut reasons = Vec::new();
        let mut runs = 0;
        for _ in 0..simulations {
            let spec = ChallengeSpec::from_seed(rng.next_u64(), false);
            let span = (spec.duration_ms / FRAME_MS) as usize + 1;
            if frames.len() < span {
                break;
            }
            let from = rng.below((frames.len() - span + 1) as u64) as usize;
            let attempt = window(frames, from, spec.duration_ms);
            let tr = trace(&spec, &attempt, &config.challenge);
            let r = challenge_signal(&spec, &attempt, &tr, &config.challenge);
            runs += 1;
            if r.verdict == Verdict::Pass {
                passed += 1;
            }
            for reason in &r.reasons {
                count(&mut reasons, reason);
            }
            if decide_times.len() < 200 {
                let started = Instant::now();
                let _ = decide(&spec, &attempt, config);
                decide_times.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        compliance.push(ComplianceSimulation {
            source: name.clone(),
            bona_fide_recording: *bona_fide,
            passed: Rate::new(passed, runs),
            reasons,
        });
    }
    // Flash simulation on the live videos.
    let mut flash = Vec::new();
    for (ri, (name, _, live, frames)) in recordings.iter().enumerate() {
        if !live {
            continue;
        }
        let mut rng = SplitMix64(0xF1A5_0000 + ri as u64);
        let (mut rejected_own, mut accepted_other, mut n) = (0, 0, 0);
        for _ in 0..simulations {
            let spec = ChallengeSpec::from_seed(rng.next_u64(), true);
            let other = ChallengeSpec::from_seed(rng.next_u64(), true);
            let span = (spec.duration_ms / FRAME_MS) as usize + 1;
            if frames.len() < span {
                break;
            }
            let from = rng.below((frames.len() - span + 1) as u64) as usize;
            let attempt = window(frames, from, spec.duration_ms);
            let lit = |schedule: &ChallengeSpec| -> Vec<FrameFeatures> {
                attempt
                    .iter()
                    .map(|f| {
                        let mut f = f.clone();
                        if let Some(face) = f.face.as_mut() {
                            let g = cast_gain(
                                schedule.screen_at(f.t_ms as f32 - CAST_LAG_MS),
                                CAST_STRENGTH,
                            );
                            face.skin_rgb = [0, 1, 2].map(|c| (face.skin_rgb[c] * g[c]).min(255.0));
                        }
                        f
                    })
                    .collect()
            };
            n += 1;
            if flash_signal(&spec, &lit(&spec), &config.flash).verdict != Verdict::Pass {
                rejected_own += 1;
            }
            if flash_signal(&spec, &lit(&other), &config.flash).verdict == Verdict::Pass {
                accepted_other += 1;
            }
        }
        flash.push(FlashSimulation {
            source: name.clone(),
            rejected_when_following: Rate::new(rejected_own, n),
            accepted_when_not_following: Rate::new(accepted_other, n),
        });
    }
    let decide_ms = (
        median(decide_times.clone()),
        decide_times.iter().copied().fold(0.0, f64::max),
        decide_times.len(),
    );
    Ok(LivenessReport {
        data: data.display().to_string(),
        runtime: runtime_kind.to_string(),
        thresholds: config.clone(),
        passive,
        compliance_simulation: compliance,
        flash_simulation: flash,
        decide_ms,
        analyze_ms: (median(a.times.clone()), a.times.len()),
        units,
        notes: vec![
            "Thresholds are LivenessConfig's defaults, fixed before this evaluation; nothing here tuned them.".into(),
            "Only the passive signal is measured directly: recorded data cannot follow a live challenge.".into(),
            "Compliance: the share of random challenges (ChallengeSpec::from_seed, no flashes) laid at random offsets over a recording's 15-fps pose trace that the challenge signal passes; for an attack recording it is the acceptance of an unresponsive replay by the challenge alone; for a bona fide recording it says nothing about BPCER (the person did not see the challenge).".into(),
            format!("Flash: a simulation, the live videos' skin colour multiplied by flash::cast_gain(screen colour shown {CAST_LAG_MS} ms earlier, strength {CAST_STRENGTH}) of the attempt's own schedule or of another random schedule; it checks the detector logic, not real screen light."),
            "Windows of one video are correlated: the effective sample sizes are the sources (2 replay sources, 2 live people, 9 NUAA clients, 15 print subjects).".into(),
        ],
    })
}

/// The one-line summary.
pub fn summary(r: &LivenessReport) -> String {
    let p = &r.passive;
    let sim = |bona: bool| {
        let (passed, n) = r
            .compliance_simulation
            .iter()
            .filter(|c| c.bona_fide_recording == bona)
            .fold((0, 0), |(a, b), c| (a + c.passed.errors, b + c.passed.n));
        Rate::new(passed, n).describe()
    };
    format!(
        "liveness (passive at {:.2}): APCER print {} · screen {}; BPCER live video {} · NUAA client {} · replay real {}; \
         challenge simulation: random challenges passed by attack recordings {} (bona fide recordings {}); decide median {:.1} ms",
        r.thresholds.passive.threshold,
        p.apcer_print.describe(),
        p.apcer_screen.describe(),
        p.bpcer_live_video.describe(),
        p.bpcer_nuaa_client.describe(),
        p.bpcer_replay_real.describe(),
        sim(false),
        sim(true),
        r.decide_ms.0
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn rates_carry_their_interval() {
        let r = Rate::new(0, 88);
        assert_eq!(r.rate, 0.0);
        assert!(r.ci95.1 > 0.03 && r.ci95.1 < 0.05);
        assert!(r.describe().starts_with("0/88 = 0.0 %"));
    }
}
