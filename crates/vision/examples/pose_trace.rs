//! Prints the head pose of every frame of an MJPEG video (concatenated
//! JPEGs), to choose a fixed test challenge that a recorded video follows:
//! `cargo run --release -p facegate-vision --example pose_trace -- FILE.mjpeg [FPS]`.
//! Columns: frame, t (ms), faces, yaw, pitch, roll (degrees; the
//! `quality::head_pose` convention: yaw > 0 when the nose points to the
//! image-left side).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use facegate_vision::decode::split_mjpeg;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::{Pipeline, PipelineConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: pose_trace FILE.mjpeg [FPS]");
    let fps: f32 = args.get(2).map_or(30.0, |f| f.parse().expect("FPS"));
    let bytes = std::fs::read(path).expect("read the video");
    let store = ModelStore::open_default().expect("models");
    let runtime = facegate_vision::runtime::default_runtime().expect("runtime");
    let config = PipelineConfig {
        embedders: Vec::new(),
        ..PipelineConfig::default()
    };
    let mut pipeline = Pipeline::load(&store, runtime.as_ref(), config).expect("pipeline");
    for (i, frame) in split_mjpeg(&bytes).into_iter().enumerate() {
        let t = (i as f32 * 1000.0 / fps).round();
        match pipeline.analyze_bytes(frame) {
            Ok((Some(a), _)) => println!(
                "{i}\t{t}\t{}\t{:.1}\t{:.1}\t{:.1}",
                a.quality.faces, a.quality.yaw, a.quality.pitch, a.quality.roll
            ),
            Ok((None, _)) => println!("{i}\t{t}\t0"),
            Err(e) => println!("{i}\t{t}\terror: {e}"),
        }
    }
}
