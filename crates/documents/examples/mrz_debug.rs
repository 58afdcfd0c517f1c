//! Renders one document side as `mrz_read_rate` does and shows what the
//! reader made of it: the image with the detector's boxes drawn (red), the
//! printed zone lines (green), the truth, and the reading.
//!
//! ```sh
//! cargo run --release -p facegate-documents --example mrz_debug -- \
//!     --effect glare --doc-seed 7000021 [--out /tmp/mrz-debug]
//! ```
//!
//! `--doc-seed` is the seed `mrz_read_rate --show-misses` prints; the side
//! follows it as there (even index: TD3, odd: TD1 back) unless `--side`
//! (`td3`, `td1-back`) says otherwise.

mod common;

use chrono::NaiveDate;
use facegate_docgen::{Effect, Generator, IdentityRecord, Request, Side};
use facegate_documents::MrzReader;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;
use image::{Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| common::value(&args, name);
    let seed: u64 = value("--doc-seed").ok_or("--doc-seed")?.parse()?;
    let effect: Option<Effect> = match value("--effect").as_deref() {
        None | Some("clean") => None,
        Some(other) => Some(other.parse::<Effect>()?),
    };
    let side = match value("--side").as_deref() {
        Some("td3") => Side::Td3,
        Some("td1-back") => Side::Td1Back,
        Some(other) => return Err(format!("unknown side {other}").into()),
        None if (seed % 1_000_003).is_multiple_of(2) => Side::Td3,
        None => Side::Td1Back,
    };
    let out = value("--out").unwrap_or_else(|| "/tmp/mrz-debug".into());
    std::fs::create_dir_all(&out)?;
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;

    let generator = Generator::new()?;
    let runtime = OrtRuntime::new()?;
    let mut reader = MrzReader::new(&ModelStore::open_default()?, &runtime)?;
    let record = IdentityRecord::random(side.kind(), seed, today);
    let request = Request::document(side, record, seed, today)
        .with_effects(&effect.into_iter().collect::<Vec<_>>());
    let rendered = generator.render(&request)?;
    let image = image::load_from_memory(&rendered.jpeg)?.to_rgb8();
    let reading = reader.read(&image, today)?;

    let mut drawn = image.clone();
    let boxes = reader.text_boxes(&image)?;
    for b in &boxes {
        let c = b.corners();
        polygon(&mut drawn, &c.map(|p| (p.x, p.y)), Rgb([255, 0, 0]));
    }
    if let Some(doc) = &rendered.truth.document {
        for q in &doc.mrz_lines {
            polygon(
                &mut drawn,
                &q.map(|p| (p[0] as f32, p[1] as f32)),
                Rgb([0, 200, 0]),
            );
        }
    }
    let name = format!("{out}/{}-{seed}", effect.map_or("clean", |e| e.name()));
    image.save(format!("{name}.png"))?;
    drawn.save(format!("{name}-boxes.png"))?;
    if let Some(doc) = &rendered.truth.document {
        // The printed zone with a margin, at full resolution.
        let pts: Vec<[f64; 2]> = doc.mrz_lines.iter().flatten().copied().collect();
        if !pts.is_empty() {
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for p in &pts {
                (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
            }
            let m = 20.0;
            let x0 = (x0 - m).max(0.0) as u32;
            let y0 = (y0 - m).max(0.0) as u32;
            let x1 = ((x1 + m) as u32).min(image.width());
            let y1 = ((y1 + m) as u32).min(image.height());
            if x1 > x0 && y1 > y0 {
                image::imageops::crop_imm(&image, x0, y0, x1 - x0, y1 - y0)
                    .to_image()
                    .save(format!("{name}-zone.png"))?;
            }
        }
    }
    println!("saved {name}.png and {name}-boxes.png");
    for e in &rendered.truth.effects {
        println!("effect {e:?}");
    }
    if let Some(doc) = &rendered.truth.document {
        println!("pose {:?}", doc.pose);
        for q in &doc.mrz_lines {
            println!("printed line {q:?}");
        }
    }
    for b in &boxes {
        println!(
            "box c=({:.0},{:.0}) angle={:.1} len={:.0} h={:.1} aspect={:.1} score={:.2}",
            b.center.x,
            b.center.y,
            b.axis.y.atan2(b.axis.x).to_degrees(),
            b.length,
            b.height,
            b.aspect(),
            b.score
        );
    }
    for (b, text) in &reading.recognised {
        println!(
            "recognised c=({:.0},{:.0}) len={:.0} h={:.1}: {text} ({})",
            b.center.x,
            b.center.y,
            b.length,
            b.height,
            text.len()
        );
    }
    let truth = rendered.truth.mrz.map(|m| m.lines).unwrap_or_default();
    for (i, want) in truth.iter().enumerate() {
        println!("want {want}");
        if let Some(got) = reading.lines.get(i) {
            println!("read {}\nfree {}", got.text, got.free_text);
        }
    }
    println!("outcome {:?}", reading.outcome);
    if let Some(i) = value("--variants") {
        let i: usize = i.parse()?;
        if let Some(line) = reading.lines.get(i) {
            let alphabet: Vec<char> = facegate_domain::mrz::MRZ_ALPHABET.chars().collect();
            for (hf, lf) in [
                (0.7, 1.0),
                (0.85, 1.0),
                (1.0, 1.0),
                (1.2, 1.0),
                (1.4, 1.0),
                (1.0, 0.8),
                (1.0, 1.25),
            ] {
                let mut b = line.line_box;
                b.height *= hf;
                let frames = reader.recognise_box(&image, &b)?;
                // Stretch: a box of the same geometry read at another width.
                let _ = lf;
                let spikes = facegate_documents::ctc::greedy_spikes(&frames);
                let mut out = String::new();
                for &(c, x, p) in &spikes {
                    let ch = alphabet[c - 1];
                    let t = x.round() as usize;
                    let row = &frames.probs[t * 38..(t + 1) * 38];
                    let k = row[1 + alphabet.iter().position(|&a| a == 'K').unwrap_or(0)];
                    let lt = row[37];
                    if ch == '<' || ch == 'K' {
                        out.push_str(&format!(" {ch}({:.2}|<{:.2},K{:.2})", p, lt, k));
                    } else {
                        out.push(ch);
                    }
                }
                println!("h×{hf}: {out}");
            }
        }
    }
    if let Some(i) = value("--frames") {
        let i: usize = i.parse()?;
        if let Some(line) = reading.lines.get(i) {
            let frames = reader.recognise_box(&image, &line.line_box)?;
            dump_frames(&frames);
        }
    }
    println!("{:?}", reading.timing);
    Ok(())
}

/// Draws a closed polygon, 2 px wide.
fn polygon(img: &mut RgbImage, pts: &[(f32, f32)], colour: Rgb<u8>) {
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                let (px, py) = (x as i64 + dx, y as i64 + dy);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    img.put_pixel(px as u32, py as u32, colour);
                }
            }
        }
    }
}

/// Prints, per frame, the three most probable classes.
pub fn dump_frames(frames: &facegate_documents::ctc::Frames) {
    let alphabet: Vec<char> = facegate_domain::mrz::MRZ_ALPHABET.chars().collect();
    let name = |c: usize| if c == 0 { '_' } else { alphabet[c - 1] };
    for t in 0..frames.frames {
        let row = &frames.probs[t * 38..(t + 1) * 38];
        let mut idx: Vec<usize> = (0..38).collect();
        idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let top: Vec<String> = idx[..3]
            .iter()
            .map(|&c| format!("{}{:.2}", name(c), row[c]))
            .collect();
        println!("  t{t:3} {}", top.join(" "));
    }
}
