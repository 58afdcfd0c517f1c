//! Reading the zone of documents rendered by `tools/docgen` with the real
//! OCR models. Needs the OCR-B and DejaVu fonts (`scripts/setup-fonts`), the
//! ONNX Runtime library (`scripts/setup-onnxruntime`) and `models/`; each
//! test prints `SKIPPED:` and passes without them.
//!
//! The floors are below what `examples/mrz_read_rate.rs` measures on larger
//! sets (see the crate's README), so that a change that breaks reading
//! fails here while the seeded sets stay small enough for the test suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use facegate_docgen::{Effect, FontPaths, Generator, IdentityRecord, Request, Side};
use facegate_documents::{MrzReader, MrzReading, ReaderSettings};
use facegate_domain::mrz::{MrzRead, NotReadable, SpecimenSign};
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;
use image::RgbImage;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default()
}

struct Bench {
    generator: Generator,
    reader: MrzReader,
}

fn bench() -> Option<Bench> {
    if let Some(missing) = FontPaths::from_env().missing() {
        eprintln!(
            "SKIPPED: font {} is absent (run scripts/setup-fonts)",
            missing.display()
        );
        return None;
    }
    let runtime = match OrtRuntime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return None;
        }
    };
    let reader = match ModelStore::open_default()
        .map_err(facegate_documents::DocumentsError::from)
        .and_then(|store| MrzReader::new(&store, &runtime))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIPPED: the OCR models cannot be loaded: {e}");
            return None;
        }
    };
    let generator = match Generator::new() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return None;
        }
    };
    Some(Bench { generator, reader })
}

/// Renders one side; returns the printed lines and the photo.
fn render(bench: &Bench, side: Side, seed: u64, effects: &[Effect]) -> (Vec<String>, RgbImage) {
    // The `specimen` effect prints ICAO's specimen over the record.
    let record = IdentityRecord::random(side.kind(), seed, today());
    let request = Request::document(side, record, seed, today()).with_effects(effects);
    let rendered = bench.generator.render(&request).unwrap();
    let lines = rendered.truth.mrz.map(|m| m.lines).unwrap_or_default();
    let image = image::load_from_memory(&rendered.jpeg).unwrap().to_rgb8();
    (lines, image)
}

/// Renders and reads one side; returns the printed lines and the reading.
fn read(bench: &mut Bench, side: Side, seed: u64, effects: &[Effect]) -> (Vec<String>, MrzReading) {
    let (lines, image) = render(bench, side, seed, effects);
    let reading = bench.reader.read(&image, today()).unwrap();
    (lines, reading)
}

/// A second reader, with other settings than the bench's.
fn reader_with(settings: ReaderSettings) -> MrzReader {
    let runtime = OrtRuntime::new().unwrap();
    let store = ModelStore::open_default().unwrap();
    MrzReader::new(&store, &runtime)
        .unwrap()
        .with_settings(settings)
}

fn fully_read(lines: &[String], reading: &MrzReading) -> bool {
    matches!(&reading.outcome, MrzRead::Valid(zone) if zone.lines == lines)
}

fn side(i: u64) -> Side {
    if i.is_multiple_of(2) {
        Side::Td3
    } else {
        Side::Td1Back
    }
}

#[test]
fn clean_passports_and_id_cards_are_read_cell_for_cell() {
    let Some(mut bench) = bench() else { return };
    let mut full = 0;
    for i in 0..8 {
        let (lines, reading) = read(&mut bench, side(i), 100 + i, &[]);
        let ok = fully_read(&lines, &reading);
        eprintln!("clean {i}: {ok} {:?}", reading.timing);
        full += usize::from(ok);
        if let MrzRead::Valid(zone) = &reading.outcome {
            assert_eq!(
                zone.lines, lines,
                "a valid verdict on other data: {:?}",
                reading.lines
            );
        }
    }
    // 5 of these 8 where this was written (the others are left unread:
    // names cells the recogniser is torn about, a letter of the issuing
    // state lost); about 92 % over larger sets.
    assert!(full >= 4, "{full} of 8 clean sides read");
}

#[test]
fn camera_effects_are_read_above_a_floor() {
    let Some(mut bench) = bench() else { return };
    let effects = [
        Effect::Perspective,
        Effect::Blur,
        Effect::Glare,
        Effect::Noise,
        Effect::Jpeg,
        Effect::LowLight,
        Effect::Photocopy,
    ];
    let (mut full, mut total) = (0, 0);
    for effect in effects {
        let mut here = 0;
        for i in 0..3 {
            let (lines, reading) = read(&mut bench, side(i), 200 + i, &[effect]);
            let ok = fully_read(&lines, &reading);
            here += usize::from(ok);
            if let MrzRead::Valid(zone) = &reading.outcome {
                assert_eq!(
                    zone.lines, lines,
                    "{effect}: a valid verdict on other data: {:?}",
                    reading.lines
                );
            }
        }
        eprintln!("{effect}: {here} of 3");
        full += here;
        total += 3;
    }
    // 16 of these 21 where this was written.
    assert!(
        full * 100 >= total * 55,
        "{full} of {total} sides with camera effects read"
    );
}

#[test]
fn a_tampered_check_digit_is_never_read_as_valid() {
    let Some(mut bench) = bench() else { return };
    let mut failed = 0;
    for i in 0..4 {
        let (_, reading) = read(&mut bench, side(i), 300 + i, &[Effect::TamperedCheckDigit]);
        match &reading.outcome {
            MrzRead::Valid(zone) | MrzRead::Specimen { zone, .. } => {
                panic!("tampered zone accepted: {:?}", zone.lines)
            }
            MrzRead::CheckFailed(_) => failed += 1,
            MrzRead::NotReadable(_) => {}
        }
        assert_eq!(
            reading.outcome.reject_reason().map(|r| r.code()),
            matches!(reading.outcome, MrzRead::CheckFailed(_)).then_some(108)
        );
    }
    assert!(
        failed >= 3,
        "{failed} of 4 tampered zones read as failing a check"
    );
}

/// Blurred sides whose zone is not readable with the detector at its
/// first size, and is read cell for cell by the second, coarser look
/// (`mrz_read_rate --effects blur --seed 7`: 77.5 % without it, 85.0 %
/// with it).
#[test]
fn a_blurred_zone_not_readable_at_first_is_read_by_the_coarser_look() {
    let Some(mut bench) = bench() else { return };
    let mut first_look_only = reader_with(ReaderSettings {
        coarse_detect_max_side: 0,
        close_look: false,
        ..ReaderSettings::default()
    });
    for (side, seed) in [(Side::Td1Back, 7_000_032), (Side::Td1Back, 7_000_056)] {
        let (lines, image) = render(&bench, side, seed, &[Effect::Blur]);
        let reading = bench.reader.read(&image, today()).unwrap();
        assert!(
            fully_read(&lines, &reading),
            "{side:?} {seed}: {:?}",
            reading.outcome
        );
        let first = first_look_only.read(&image, today()).unwrap();
        assert!(
            matches!(first.outcome, MrzRead::NotReadable(_)),
            "{side:?} {seed} at the first size alone: {:?}",
            first.outcome
        );
    }
}

/// A clean side a third as wide as the photo (a card on a flatbed scan of
/// a page, a document photographed from afar with a high-resolution
/// camera): at the detector's size its zone lines are a few pixels high and
/// their boxes up to twice as tall as the lines, so the zone is found but
/// not readable; the close look (the region around it detected again at
/// the detector's working size) reads it cell for cell. Seed 3's sides 4
/// and 19 were not readable without the close look (a probe of 20 sides
/// framed so: 16 read without it, 20 with it).
#[test]
fn a_zone_small_in_a_large_photo_is_read_by_the_close_look() {
    let Some(mut bench) = bench() else { return };
    let mut without_close_look = reader_with(ReaderSettings {
        close_look: false,
        ..ReaderSettings::default()
    });
    for (side, seed) in [(Side::Td3, 3_000_013), (Side::Td1Back, 3_000_028)] {
        let (lines, photo) = render(&bench, side, seed, &[]);
        let (w, h) = photo.dimensions();
        let mut page = RgbImage::from_pixel(3 * w, 3 * h, image::Rgb([96, 80, 64]));
        image::imageops::replace(&mut page, &photo, i64::from(w * 2 / 3), i64::from(h));
        let reading = bench.reader.read(&page, today()).unwrap();
        assert!(
            fully_read(&lines, &reading),
            "{side:?} {seed}: {:?}",
            reading.outcome
        );
        let first = without_close_look.read(&page, today()).unwrap();
        assert!(
            matches!(first.outcome, MrzRead::NotReadable(_)),
            "{side:?} {seed} without the close look: {:?}",
            first.outcome
        );
    }
}

/// Zones whose altered check digit a neighbour's character "repaired"
/// (they read valid, with a date of birth or a document number that the
/// page does not show):
/// the recogniser saw the `1` beside a `2` (`7612201`), the `2` beside a
/// `5` and the `4` beside a `7` as runners-up, and a check digit settled on
/// them (`mrz_read_rate --effects tampered_check_digit`, seeds 1 and 7).
#[test]
fn a_check_digit_does_not_repair_a_cell_into_its_neighbour() {
    let Some(mut bench) = bench() else { return };
    for (side, seed) in [
        (Side::Td1Back, 1_000_004),
        (Side::Td3, 7_000_027),
        (Side::Td3, 7_000_043),
    ] {
        let (_, reading) = read(&mut bench, side, seed, &[Effect::TamperedCheckDigit]);
        // Fraud, or a zone the holder is asked to photograph again; never
        // a valid zone with other data than the printed one.
        assert!(
            matches!(
                reading.outcome,
                MrzRead::CheckFailed(_) | MrzRead::NotReadable(_)
            ),
            "{side:?} {seed}: {:?}",
            reading.outcome
        );
    }
}

#[test]
fn a_specimen_is_read_as_a_sample_document() {
    let Some(mut bench) = bench() else { return };
    for i in 0..2 {
        let (_, reading) = read(&mut bench, side(i), 400 + i, &[Effect::Specimen]);
        let MrzRead::Specimen { zone, sign } = &reading.outcome else {
            panic!("specimen read as {:?}", reading.outcome)
        };
        assert_eq!(*sign, SpecimenSign::IssuingState);
        assert_eq!(zone.surname, "ERIKSSON");
        assert_eq!(reading.outcome.reject_reason().map(|r| r.code()), Some(202));
    }
}

#[test]
fn a_card_front_has_no_zone() {
    let Some(mut bench) = bench() else { return };
    let (lines, reading) = read(&mut bench, Side::Td1Front, 500, &[]);
    assert!(lines.is_empty());
    assert_eq!(reading.outcome, MrzRead::NotReadable(NotReadable::NoZone));
    assert!(reading.lines.is_empty());
}
