//! The liveness signals on real frames from `$FACEGATE_SHARED_DIR/data`
//! (default `../shared` beside the repository): the pose convention, the
//! passive model, texture parallax on real head turns against synthetic flat
//! photos, the flash response under a simulated colour cast, and a whole
//! decision on a real head turn and on its screen replay. Skips with a
//! visible message when the data or the ONNX Runtime library is missing.
//!
//! Debug builds analyse a frame in about 0.1 s, so each test uses a few
//! dozen frames.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use facegate_vision::align::mirror;
use facegate_vision::decode::{decode_image, split_mjpeg, DecodeLimits};
use facegate_vision::frame::{
    skin_colour, FaceFeatures, FrameAnalyzer, FrameAnalyzerConfig, FrameFeatures, FrameOptions,
};
use facegate_vision::geometry::{Point, RgbF32};
use facegate_vision::landmarks::FaceMesh;
use facegate_vision::liveness::challenge::{ChallengeSpec, Direction, Step};
use facegate_vision::liveness::flash::{cast_gain, flash_signal};
use facegate_vision::liveness::parallax::{self, fit_homography, Homography};
use facegate_vision::liveness::{decide, FlashConfig, LivenessConfig, ParallaxConfig, Verdict};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{self, RuntimeKind};

fn data_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("data");
    if dir.join("pad/replay").is_dir() && dir.join("video").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: no pad/replay and video/ under {}", dir.display());
        None
    }
}

fn analyzer() -> Option<FrameAnalyzer> {
    let rt = match runtime::for_kind(RuntimeKind::Ort) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SKIPPED: ONNX Runtime unavailable ({e}); run scripts/setup-onnxruntime");
            return None;
        }
    };
    let store = ModelStore::open_default().unwrap();
    Some(FrameAnalyzer::load(&store, rt.as_ref(), FrameAnalyzerConfig::default()).unwrap())
}

const TRANV: &str = "pad/replay/tranvanluyt2203_face_anti_spoofing";
const LIVE_A: &str = "video/live_person_a_640x480_30fps_20s.mjpeg";

/// Frames `indices` of an MJPEG file, decoded.
fn frames(path: &std::path::Path, indices: impl IntoIterator<Item = usize>) -> Vec<RgbF32> {
    let bytes = std::fs::read(path).unwrap();
    let jpegs = split_mjpeg(&bytes);
    indices
        .into_iter()
        .map(|i| RgbF32::from_rgb8(&decode_image(jpegs[i], &DecodeLimits::default()).unwrap()))
        .collect()
}

fn face(f: &FrameFeatures) -> &FaceFeatures {
    f.face.as_ref().expect("a face")
}

const ALL: FrameOptions = FrameOptions {
    template: true,
    passive: true,
};

#[test]
fn yaw_is_positive_towards_the_users_left_and_flips_in_a_mirrored_frame() {
    let (Some(dir), Some(mut a)) = (data_dir(), analyzer()) else {
        return;
    };
    // tranv real frame 96: the man has turned his head towards his left (the
    // image-right side; his right ear shows); frame 396: he looks down.
    let images = frames(&dir.join(TRANV).join("real_30fps.mjpeg"), [0, 96, 396]);
    let none = FrameOptions::default();
    let turned = a.analyze(0, &images[1], none).unwrap();
    let t = face(&turned);
    let cheeks_mid = (t.point(234).x + t.point(454).x) / 2.0;
    assert!(t.pose.yaw > 20.0, "{:?}", t.pose);
    assert!(
        t.point(1).x > cheeks_mid + 20.0,
        "the nose points to the image right"
    );
    let mirrored = a.analyze(0, &mirror(&images[1]), none).unwrap();
    let m = face(&mirrored);
    eprintln!("turned {:?}, mirrored {:?}", t.pose, m.pose);
    assert!(m.pose.yaw < -20.0, "mirrored: {:?}", m.pose);
    assert!(
        (m.pose.yaw + t.pose.yaw).abs() < 5.0,
        "{:?} vs {:?}",
        m.pose,
        t.pose
    );
    // FaceMesh is not exactly symmetric at 40° of yaw.
    assert!((m.pose.pitch - t.pose.pitch).abs() < 8.0);
    let down = a.analyze(0, &images[2], none).unwrap();
    assert!(face(&down).pose.pitch < -20.0, "{:?}", face(&down).pose);
    // A frontal frame stays near frontal both ways.
    let live = frames(&dir.join(LIVE_A), [0]);
    let f = a.analyze(0, &live[0], none).unwrap();
    let g = a.analyze(0, &mirror(&live[0]), none).unwrap();
    assert!(face(&f).pose.yaw.abs() < 10.0);
    assert!((face(&f).pose.yaw + face(&g).pose.yaw).abs() < 3.0);
}

#[test]
fn the_passive_model_accepts_live_frames_and_rejects_a_screen_replay() {
    let (Some(dir), Some(mut a)) = (data_dir(), analyzer()) else {
        return;
    };
    for (file, live) in [
        (dir.join(LIVE_A), true),
        (dir.join(TRANV).join("real_30fps.mjpeg"), true),
        (dir.join(TRANV).join("fake_30fps.mjpeg"), false),
    ] {
        for image in frames(&file, [10, 40]) {
            let f = a.analyze(0, &image, ALL).unwrap();
            let p = face(&f).passive.unwrap();
            assert_eq!(p >= 0.5, live, "{}: P(live) {p}", file.display());
            let t = face(&f).template.as_ref().unwrap();
            assert_eq!(t.vector.len(), 512);
            assert!(face(&f).quality.interocular_px > 30.0);
        }
    }
}

/// The inverse map (output pixel → source pixel) of a flat picture at
/// distance `f` (pixels; a 60°-wide camera for f ≈ width) rotated by `yaw`
/// degrees about the vertical axis through the image point `center`.
fn tilted_plane(center: Point, size: (usize, usize), f: f64, yaw: f64) -> Homography {
    let (cx, cy) = (size.0 as f64 / 2.0, size.1 as f64 / 2.0);
    let d = 1.0;
    let p0 = (
        (f64::from(center.x) - cx) * d / f,
        (f64::from(center.y) - cy) * d / f,
        d,
    );
    let (s, c) = yaw.to_radians().sin_cos();
    let project = |u: f64, v: f64| {
        let x = (u - cx) * d / f - p0.0;
        let z = d - p0.2;
        let (xr, zr) = (c * x + s * z, -s * x + c * z);
        let (x, y, z) = (xr + p0.0, (v - cy) * d / f, zr + p0.2);
        (f * x / z + cx, f * y / z + cy)
    };
    let src: Vec<(f64, f64)> = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.5, 0.4)]
        .iter()
        .map(|&(a, b)| (a * size.0 as f64, b * size.1 as f64))
        .collect();
    let dst: Vec<(f64, f64)> = src.iter().map(|&(u, v)| project(u, v)).collect();
    fit_homography(&dst, &src).unwrap()
}

/// `image` seen through `to_source`, re-encoded as JPEG (quality 90) as a
/// camera would deliver it.
fn warp(image: &RgbF32, to_source: &Homography) -> RgbF32 {
    let mut out = Vec::with_capacity(image.data.len());
    for v in 0..image.height {
        for u in 0..image.width {
            let (x, y) = parallax::apply(to_source, (u as f64, v as f64));
            let px = image.sample(x as f32, y as f32);
            out.extend(px.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    let rgb = image::RgbImage::from_raw(image.width as u32, image.height as u32, out).unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&rgb)
        .unwrap();
    RgbF32::from_rgb8(&decode_image(&jpeg, &DecodeLimits::default()).unwrap())
}

#[test]
fn a_real_head_turn_shows_texture_parallax_and_a_tilted_flat_photo_does_not() {
    let (Some(dir), Some(mut a)) = (data_dir(), analyzer()) else {
        return;
    };
    let cfg = ParallaxConfig::default();
    let none = FrameOptions::default();
    // A real turn: tranv real frames 48 → 66 (yaw about 4° → 28°), every 3rd.
    let real: Vec<FrameFeatures> = frames(
        &dir.join(TRANV).join("real_30fps.mjpeg"),
        (48..=66).step_by(3),
    )
    .iter()
    .map(|im| a.analyze(0, im, none).unwrap())
    .collect();
    let chain: Vec<&FaceFeatures> = real.iter().map(face).collect();
    let live = parallax::measure(&chain, &cfg).unwrap();
    eprintln!("real head turn: {live:?}, {:.3} %/deg", live.per_degree());
    // The frontal frame as a flat photo tilted 0 → 40° in 5° steps.
    let photo = &frames(&dir.join(TRANV).join("real_30fps.mjpeg"), [48])[0];
    let first = a.analyze(0, photo, none).unwrap();
    let center = face(&first).detection.rect.center();
    let size = (photo.width, photo.height);
    let flat: Vec<FrameFeatures> = (0..=8)
        .map(|k| {
            let h = tilted_plane(center, size, photo.width as f64, 5.0 * k as f64);
            a.analyze(0, &warp(photo, &h), none).unwrap()
        })
        .collect();
    let chain: Vec<&FaceFeatures> = flat.iter().map(face).collect();
    let plane = parallax::measure(&chain, &cfg).unwrap();
    eprintln!(
        "flat photo tilted 40°: {plane:?}, {:.3} %/deg",
        plane.per_degree()
    );
    assert!(live.rotation_deg > 15.0, "{live:?}");
    assert!(live.per_degree() >= cfg.threshold_pct_per_deg, "{live:?}");
    assert!(plane.tracks >= cfg.min_tracks);
    // The residual of a plane is the tracking noise: far below the real
    // head's, and below the threshold per degree of the rotation FaceMesh
    // believes it sees.
    assert!(
        plane.residual_pct < 0.5 * live.residual_pct,
        "{plane:?} vs {live:?}"
    );
    assert!(plane.per_degree() < cfg.threshold_pct_per_deg, "{plane:?}");
}

#[test]
fn the_skin_follows_simulated_flashes_and_a_replay_lit_by_another_sequence_does_not() {
    let (Some(dir), Some(mut a)) = (data_dir(), analyzer()) else {
        return;
    };
    let spec = ChallengeSpec::from_seed(2026, true);
    let last = spec.flashes.last().unwrap().end_ms + 500;
    // 15 fps: every 2nd frame of the 30-fps recording.
    let count = (last / 66) as usize;
    let images = frames(&dir.join(LIVE_A), (0..count).map(|i| 2 * i));
    let analysed: Vec<FrameFeatures> = images
        .iter()
        .enumerate()
        .map(|(i, im)| {
            a.analyze(i as u32 * 66, im, FrameOptions::default())
                .unwrap()
        })
        .collect();
    // The simulation: the face lit by the screen colour shown 100 ms earlier,
    // as a per-channel gain of strength 0.15 on the skin (documented in
    // `flash::cast_gain`), measured on the landmarks of the unlit frame.
    let lit_by = |schedule: &ChallengeSpec| -> Vec<FrameFeatures> {
        analysed
            .iter()
            .zip(&images)
            .map(|(f, im)| {
                let gain = cast_gain(schedule.screen_at(f.t_ms as f32 - 100.0), 0.15);
                let cast = RgbF32 {
                    width: im.width,
                    height: im.height,
                    data: im
                        .data
                        .chunks_exact(3)
                        .flat_map(|px| [0, 1, 2].map(|c| (px[c] * gain[c]).min(255.0)))
                        .collect(),
                };
                let mut f = f.clone();
                let face = f.face.as_mut().unwrap();
                let mesh = FaceMesh {
                    points: face.mesh.clone(),
                    presence: face.mesh_presence,
                };
                face.skin_rgb = skin_colour(&cast, &mesh);
                f
            })
            .collect()
    };
    let cfg = FlashConfig::default();
    let live = flash_signal(&spec, &lit_by(&spec), &cfg);
    eprintln!("lit by the challenge's flashes: {live:?}");
    assert_eq!(live.verdict, Verdict::Pass);
    let mut passed = 0;
    for seed in 0..10 {
        let replay = flash_signal(&spec, &lit_by(&ChallengeSpec::from_seed(seed, true)), &cfg);
        eprintln!("lit by schedule {seed}: score {:.2}", replay.score);
        passed += usize::from(replay.verdict == Verdict::Pass);
    }
    assert!(
        passed <= 1,
        "{passed}/10 replays lit by another schedule passed"
    );
    let unlit = flash_signal(&spec, &analysed, &cfg);
    assert_ne!(unlit.verdict, Verdict::Pass, "{unlit:?}");
}

/// A one-step challenge fitted to tranv's recording: neutral for 1.5 s,
/// then a turn to the user's left, which the real recording makes (yaw 3° →
/// 40° from 1.6 s on).
fn tranv_spec() -> ChallengeSpec {
    ChallengeSpec {
        duration_ms: 3500,
        neutral: (0, 1500),
        steps: vec![Step {
            direction: Direction::Left,
            start_ms: 1500,
            end_ms: 3500,
        }],
        flashes: Vec::new(),
    }
}

fn attempt(
    a: &mut FrameAnalyzer,
    file: &std::path::Path,
    spec: &ChallengeSpec,
) -> Vec<FrameFeatures> {
    let config = LivenessConfig::default();
    let n = (spec.duration_ms / 66) as usize;
    frames(file, (0..n).map(|i| 2 * i))
        .iter()
        .enumerate()
        .map(|(i, im)| {
            a.analyze(i as u32 * 66, im, config.sampling.options(i as u32))
                .unwrap()
        })
        .collect()
}

#[test]
fn a_real_head_turn_passes_and_its_screen_replay_fails() {
    let (Some(dir), Some(mut a)) = (data_dir(), analyzer()) else {
        return;
    };
    let spec = tranv_spec();
    let config = LivenessConfig::default();
    let real = attempt(&mut a, &dir.join(TRANV).join("real_30fps.mjpeg"), &spec);
    let started = Instant::now();
    let d = decide(&spec, &real, &config);
    let ms = started.elapsed().as_secs_f64() * 1e3;
    eprintln!("real: {d:#?}\ndecide took {ms:.1} ms (debug build)");
    assert_eq!(d.verdict, Verdict::Pass, "{d:#?}");
    let best = d.best_frame.unwrap();
    assert!(face(&real[best]).template.is_some());
    assert!(face(&real[best]).pose.yaw.abs() < 10.0);
    let replay = attempt(&mut a, &dir.join(TRANV).join("fake_30fps.mjpeg"), &spec);
    let d = decide(&spec, &replay, &config);
    eprintln!("replay: {d:#?}");
    assert_eq!(d.verdict, Verdict::Fail);
    assert_eq!(d.signal("passive").unwrap().verdict, Verdict::Fail);
}
