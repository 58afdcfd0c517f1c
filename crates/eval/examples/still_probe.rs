//! Prints, for stills (JPEG or PNG), the gate's measures, its reason and
//! each passive model's P(live) at three sizes: the file as it is, scaled to
//! fit the server's largest frame (1280, what the client sends at most) and
//! scaled to fit the camera size the client asks for (640 × 480): how much
//! the size of a still moves the models (`eval liveness` reads stills as
//! they are).
//!
//! `cargo run --release -p facegate-eval --example still_probe -- FILE...`

use facegate_vision::decode::{decode_image, DecodeLimits};
use facegate_vision::geometry::RgbF32;
use image::imageops::{resize, FilterType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: still_probe FILE...".into());
    }
    let (mut analyzer, opts) = facegate_eval::liveness::passive_probe()?;
    let limits = DecodeLimits::default();
    for path in paths {
        let rgb = decode_image(&std::fs::read(&path)?, &limits)?;
        let (w, h) = rgb.dimensions();
        let (long, short) = if w >= h { (w, h) } else { (h, w) };
        for (name, fit_long, fit_short) in [
            ("as it is", long, short),
            ("fit 1280", 1280, 1280),
            ("fit 640x480", 640, 480),
        ] {
            let scale = (fit_long as f32 / long as f32)
                .min(fit_short as f32 / short as f32)
                .min(1.0);
            let size = |v: u32| ((v as f32 * scale).round() as u32).max(1);
            let image = if scale < 1.0 {
                resize(&rgb, size(w), size(h), FilterType::Triangle)
            } else {
                rgb.clone()
            };
            let f = analyzer.analyze(0, &RgbF32::from_rgb8(&image), opts)?;
            let size = format!("{}x{}", image.width(), image.height());
            println!(
                "{path} {name:>11} {size:>9}: {}",
                facegate_eval::liveness::probe_line(&f)
            );
        }
    }
    Ok(())
}
