//! Prints the per-frame pose and passive score of an MJPEG file (a
//! development aid for the liveness signals):
//! `cargo run -p facegate-vision --example liveness_trace -- FILE.mjpeg [EVERY] [SAVE_FRAME]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use facegate_vision::decode::{decode_image, split_mjpeg, DecodeLimits};
use facegate_vision::frame::{FrameAnalyzer, FrameAnalyzerConfig, FrameOptions};
use facegate_vision::geometry::RgbF32;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).unwrap();
    let every: usize = args.get(2).map_or(1, |s| s.parse().unwrap());
    let save: Option<usize> = args.get(3).map(|s| s.parse().unwrap());
    let store = ModelStore::open_default().unwrap();
    let rt = runtime::default_runtime().unwrap();
    let mut analyzer =
        FrameAnalyzer::load(&store, rt.as_ref(), FrameAnalyzerConfig::default()).unwrap();
    for (i, jpeg) in split_mjpeg(&bytes).into_iter().enumerate().step_by(every) {
        let rgb = decode_image(jpeg, &DecodeLimits::default()).unwrap();
        if save == Some(i) {
            rgb.save(format!("/tmp/frame_{i}.png")).unwrap();
        }
        let image = RgbF32::from_rgb8(&rgb);
        let t0 = std::time::Instant::now();
        let f = analyzer
            .analyze(
                (i * 1000 / 30) as u32,
                &image,
                FrameOptions {
                    passive: true,
                    template: false,
                },
            )
            .unwrap();
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        match &f.face {
            Some(face) => {
                let nose = face.point(1);
                let mid = (face.point(234).x + face.point(454).x) / 2.0;
                println!(
                    "{i:4} yaw {:6.1} pitch {:6.1} roll {:6.1} nose-mid {:6.1} passive {:.3} faces {} io {:.0} sharp {:.0} {ms:.1} ms",
                    face.pose.yaw, face.pose.pitch, face.pose.roll, nose.x - mid,
                    face.passive.unwrap_or(-1.0), f.faces, face.quality.interocular_px, face.quality.sharpness
                );
            }
            None => println!("{i:4} no face"),
        }
    }
}
