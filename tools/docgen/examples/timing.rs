//! Milliseconds per rendered document, by side and size, in this build's
//! profile: `cargo run --release -p facegate-docgen --example timing`.

use std::time::Instant;

use facegate_docgen::{Effect, Generator, IdentityRecord, Request, Side};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let generator = Generator::new()?;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).ok_or("date")?;
    let runs = 10u64;
    let cases: [(&str, &[Effect]); 3] = [
        ("clean", &[]),
        (
            "glare+noise+jpeg",
            &[Effect::Glare, Effect::Noise, Effect::Jpeg],
        ),
        ("motion_blur", &[Effect::MotionBlur]),
    ];
    for (w, h) in [(1600u32, 1200u32), (800, 600)] {
        for side in [Side::Td3, Side::Td1Front, Side::Td1Back] {
            for (name, effects) in cases {
                let start = Instant::now();
                for seed in 0..runs {
                    let record = IdentityRecord::random(side.kind(), seed, today);
                    let req = Request::document(side, record, seed, today)
                        .with_size(w, h)
                        .with_effects(effects);
                    generator.render(&req)?;
                }
                let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
                println!("{w}x{h} {side:?} {name}: {ms:.0} ms");
            }
        }
    }
    Ok(())
}
