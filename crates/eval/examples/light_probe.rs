//! Prints, for six frames of a recording as recorded, under a backlight of
//! increasing strength (0 and 1 the ends of the evaluation's range, 1.5
//! beyond it) and under each other augmentation, the gate's measures, its
//! reason and each passive model's P(live): how far the light must go before
//! the models doubt a live face. (Add any second argument to leave out the
//! other augmentations.)
//!
//! `cargo run -p facegate-eval --example light_probe -- FILE.mjpeg`

use facegate_eval::augment::Augmentation;
use facegate_vision::decode::{decode_image, split_mjpeg, DecodeLimits};
use facegate_vision::geometry::RgbF32;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: light_probe FILE.mjpeg")?;
    let bytes = std::fs::read(path)?;
    let (mut analyzer, opts) = facegate_eval::liveness::passive_probe()?;
    let limits = DecodeLimits::default();
    for (i, jpeg) in split_mjpeg(&bytes)
        .into_iter()
        .step_by(90)
        .take(6)
        .enumerate()
    {
        let rgb = decode_image(jpeg, &limits)?;
        let original = analyzer.analyze(0, &RgbF32::from_rgb8(&rgb), opts)?;
        let face = original.face.as_ref().map(|f| f.detection.rect);
        let mut cases = vec![("original".to_owned(), jpeg.to_vec())];
        for strength in [0.0f32, 0.5, 1.0, 1.5] {
            cases.push((
                format!("backlight {strength}"),
                Augmentation::Backlight.apply_with_strength(&rgb, face, i as u64, strength),
            ));
        }
        for a in Augmentation::ALL
            .iter()
            .skip(usize::from(std::env::args().nth(2).is_some()) * 9 + 1)
        {
            let jpeg = a.apply(&rgb, face, i as u64);
            cases.push((a.name().to_owned(), jpeg));
        }
        for (name, jpeg) in cases {
            let f =
                analyzer.analyze(0, &RgbF32::from_rgb8(&decode_image(&jpeg, &limits)?), opts)?;
            println!(
                "frame {i} {name:>15}: {}",
                facegate_eval::liveness::probe_line(&f)
            );
        }
    }
    Ok(())
}
