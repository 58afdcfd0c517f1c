//! MRZ full-read rate of clean sides framed as other cameras and scanners
//! frame them: the rendered photo as it is, padded onto a larger page
//! (`pad3`: the document a third as wide as the photo, as a card on a
//! flatbed scan of a page or a document photographed from afar with a
//! high-resolution camera) and scaled (`scale2.5`: a 12-megapixel photo;
//! `scale0.6`: a small one), tilted (`tilt15`: turned 15° clockwise),
//! turned (`rot90`, `rot180`, `rot270`), half in a shadow (`shade0.4`),
//! saved again as a JPEG (`jpeg40`)
//! or several of these in turn (`scale0.4+jpeg40`).
//! Sides as in `mrz_read_rate` (TD3 passport pages and TD1 card backs
//! alternating, seeded).
//!
//! ```sh
//! cargo run --release -p facegate-documents --example mrz_framing -- \
//!     [--per-mode 20] [--seed 3] [--modes as_is,pad2,pad3,scale2.5,scale0.6] \
//!     [--close-look false]
//! ```

mod common;

use std::time::Instant;

use chrono::NaiveDate;
use facegate_docgen::{Generator, IdentityRecord, Request, Side};
use facegate_documents::MrzReader;
use facegate_domain::mrz::MrzRead;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;
use image::{imageops, Rgb, RgbImage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| common::value(&args, name);
    let per_mode: u64 = value("--per-mode").map_or(Ok(20), |v| v.parse())?;
    let seed: u64 = value("--seed").map_or(Ok(3), |v| v.parse())?;
    let modes: Vec<String> = value("--modes")
        .unwrap_or_else(|| "as_is,pad2,pad3,scale2.5,scale0.6".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let today = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or("date")?;
    let generator = Generator::new()?;
    let runtime = OrtRuntime::new()?;
    let mut reader = MrzReader::new(&ModelStore::open_default()?, &runtime)?;
    if let Some(v) = value("--close-look") {
        let mut settings = *reader.settings();
        settings.close_look = v.parse()?;
        reader = reader.with_settings(settings);
    }
    println!("| framing | sides | full reads | median ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for mode in &modes {
        let (mut full, mut ms) = (0u64, Vec::new());
        for i in 0..per_mode {
            let side = if i.is_multiple_of(2) {
                Side::Td3
            } else {
                Side::Td1Back
            };
            let doc_seed = seed.wrapping_mul(1_000_003).wrapping_add(i);
            let record = IdentityRecord::random(side.kind(), doc_seed, today);
            let rendered = generator.render(&Request::document(side, record, doc_seed, today))?;
            let lines = rendered
                .truth
                .mrz
                .as_ref()
                .map(|m| m.lines.clone())
                .unwrap_or_default();
            let photo = framed(&image::load_from_memory(&rendered.jpeg)?.to_rgb8(), mode)?;
            let started = Instant::now();
            let reading = reader.read(&photo, today)?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            let ok = matches!(&reading.outcome, MrzRead::Valid(z) if z.lines == lines);
            if let (false, MrzRead::Valid(zone)) = (ok, &reading.outcome) {
                // Valid with other data than printed: the lines that differ.
                for (read, printed) in zone.lines.iter().zip(&lines) {
                    if read != printed {
                        eprintln!("WRONG {mode} seed {doc_seed}: read {read} printed {printed}");
                    }
                }
            } else if !ok {
                eprintln!(
                    "MISS {mode} seed {doc_seed} {side:?}: {:?}",
                    reading.outcome
                );
            }
            full += u64::from(ok);
        }
        ms.sort_by(f64::total_cmp);
        let (median, max) = (
            ms.get(ms.len() / 2).copied().unwrap_or(0.0),
            ms.last().copied().unwrap_or(0.0),
        );
        println!("| {mode} | {per_mode} | {full} | {median:.0} | {max:.0} |");
    }
    Ok(())
}

/// The photo turned by `degrees` (clockwise) about its centre on a canvas
/// that holds all of it (bilinear; the corners uncovered filled as the
/// padded page is).
fn tilted(photo: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cw, ch) = (
        (w * cos.abs() + h * sin.abs()).ceil(),
        (w * sin.abs() + h * cos.abs()).ceil(),
    );
    let mut out = RgbImage::from_pixel(cw as u32, ch as u32, Rgb([96, 80, 64]));
    for (x, y, px) in out.enumerate_pixels_mut() {
        // The canvas pixel's source in the photo (the inverse turn).
        let (dx, dy) = (x as f32 + 0.5 - cw / 2.0, y as f32 + 0.5 - ch / 2.0);
        let (sx, sy) = (
            cos * dx + sin * dy + w / 2.0 - 0.5,
            -sin * dx + cos * dy + h / 2.0 - 0.5,
        );
        if sx < 0.0 || sy < 0.0 || sx > w - 1.0 || sy > h - 1.0 {
            continue;
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = (
            (x0 + 1).min(photo.width() - 1),
            (y0 + 1).min(photo.height() - 1),
        );
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let at = |x: u32, y: u32, c: usize| f32::from(photo.get_pixel(x, y)[c]);
        *px = Rgb([0, 1, 2].map(|c| {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
            let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            (top * (1.0 - fy) + bottom * fy).round() as u8
        }));
    }
    out
}

/// The photo framed as `mode` says: `as_is`, `padN` (on a page N times as
/// wide and tall, the document left of centre), `scaleK`, `tiltD` (turned
/// D degrees clockwise on a larger canvas), `shadeL` (the left of the photo
/// in a shadow at L of the light), `jpegQ` (saved again as a JPEG
/// of quality Q), `A+B` (A, then B) or `rot90`,
/// `rot180`, `rot270` (turned clockwise: a photo taken with the phone
/// turned, without an orientation tag).
fn framed(photo: &RgbImage, mode: &str) -> Result<RgbImage, Box<dyn std::error::Error>> {
    let (w, h) = photo.dimensions();
    let times = |k: f32, v: u32| (v as f32 * k).round() as u32;
    // `A+B`: framing A, then B.
    if let Some((first, then)) = mode.split_once('+') {
        return framed(&framed(photo, first)?, then);
    }
    Ok(if let Some(k) = mode.strip_prefix("pad") {
        let k: f32 = k.parse()?;
        let (pw, ph) = (times(k, w).max(w), times(k, h).max(h));
        let mut page = RgbImage::from_pixel(pw, ph, Rgb([96, 80, 64]));
        imageops::replace(
            &mut page,
            photo,
            i64::from((pw - w) / 3),
            i64::from((ph - h) / 2),
        );
        page
    } else if let Some(k) = mode.strip_prefix("scale") {
        let k: f32 = k.parse()?;
        imageops::resize(
            photo,
            times(k, w).max(1),
            times(k, h).max(1),
            imageops::FilterType::CatmullRom,
        )
    } else if let Some(degrees) = mode.strip_prefix("tilt") {
        tilted(photo, degrees.parse()?)
    } else if let Some(level) = mode.strip_prefix("shade") {
        // A shadow over the left of the photo, fading out across the middle
        // (a hand or a phone between the light and the page).
        let level: f32 = level.parse()?;
        let mut out = photo.clone();
        let w = out.width() as f32;
        for (x, _, px) in out.enumerate_pixels_mut() {
            let t = ((x as f32 / w - 0.35) / 0.3).clamp(0.0, 1.0);
            let gain = level + (1.0 - level) * t;
            for v in px.0.iter_mut() {
                *v = (f32::from(*v) * gain).round() as u8;
            }
        }
        out
    } else if let Some(quality) = mode.strip_prefix("jpeg") {
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality.parse()?)
            .encode_image(photo)?;
        image::load_from_memory(&bytes)?.to_rgb8()
    } else if mode == "rot90" {
        imageops::rotate90(photo)
    } else if mode == "rot180" {
        imageops::rotate180(photo)
    } else if mode == "rot270" {
        imageops::rotate270(photo)
    } else if mode == "as_is" {
        photo.clone()
    } else {
        return Err(format!("unknown framing {mode}").into());
    })
}
