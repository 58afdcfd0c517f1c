//! Rendering documents end to end: geometry, determinism, every effect,
//! the MRZ variants, scenes without a document, 20 LFW faces and the
//! committed fixtures. Skips with a message when the fonts are missing
//! (run `scripts/setup-fonts`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use facegate_docgen::{
    AppliedEffect, DocumentKind, Effect, FaceInput, FontPaths, Generator, GroundTruth,
    IdentityRecord, Point, Quad, Rendered, Request, Side, Subject,
};
use image::RgbImage;

fn generator() -> Option<Generator> {
    let paths = FontPaths::from_env();
    if let Some(missing) = paths.missing() {
        eprintln!(
            "SKIPPED: font {} is absent (run scripts/setup-fonts)",
            missing.display()
        );
        return None;
    }
    Some(Generator::with_fonts(&paths).unwrap())
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

/// A small request: 640 × 480 keeps the suite fast.
fn request(side: Side, seed: u64) -> Request<'static> {
    let record = IdentityRecord::random(side.kind(), seed, today());
    Request::document(side, record, seed, today()).with_size(640, 480)
}

fn decode(r: &Rendered) -> RgbImage {
    image::load_from_memory(&r.jpeg).unwrap().to_rgb8()
}

fn inside_image(p: Point, t: &GroundTruth) -> bool {
    p[0] >= 0.0
        && p[1] >= 0.0
        && p[0] <= f64::from(t.image.width)
        && p[1] <= f64::from(t.image.height)
}

/// Whether `p` is inside the convex quad (either winding).
fn inside_quad(q: &Quad, p: Point) -> bool {
    let crosses: Vec<f64> = (0..4)
        .map(|i| {
            let (a, b) = (q[i], q[(i + 1) % 4]);
            (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
        })
        .collect();
    crosses.iter().all(|&c| c >= -1e-6) || crosses.iter().all(|&c| c <= 1e-6)
}

fn check_geometry(t: &GroundTruth) {
    let doc = t.document.as_ref().expect("a document");
    assert!(doc.fully_visible);
    for p in doc.corners {
        assert!(inside_image(p, t), "corner {p:?} outside the image");
    }
    let side = t.side.unwrap();
    let inner: Vec<Quad> = doc
        .portrait
        .iter()
        .chain(doc.ghost.iter())
        .chain(doc.mrz_lines.iter())
        .copied()
        .collect();
    for q in &inner {
        for p in q {
            assert!(inside_quad(&doc.corners, *p), "{p:?} outside the document");
        }
    }
    assert_eq!(doc.portrait.is_some(), side.has_portrait());
    let lines = match side {
        Side::Td3 => 2,
        Side::Td1Back => 3,
        Side::Td1Front => 0,
    };
    assert_eq!(doc.mrz_lines.len(), lines);
    assert_eq!(t.mrz.as_ref().map_or(0, |m| m.lines.len()), lines);
    // MRZ lines are stacked top to bottom on the document, below the
    // portrait: compare positions along the document's left edge.
    let down = [
        doc.corners[3][0] - doc.corners[0][0],
        doc.corners[3][1] - doc.corners[0][1],
    ];
    let along = |q: &Quad| {
        let c = [(q[0][0] + q[2][0]) / 2.0, (q[0][1] + q[2][1]) / 2.0];
        (c[0] - doc.corners[0][0]) * down[0] + (c[1] - doc.corners[0][1]) * down[1]
    };
    for pair in doc.mrz_lines.windows(2) {
        assert!(along(&pair[0]) < along(&pair[1]));
    }
    if let (Some(portrait), Some(first)) = (&doc.portrait, doc.mrz_lines.first()) {
        assert!(along(portrait) < along(first));
    }
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_side_renders_inside_the_image_with_a_valid_zone() {
    let Some(generator) = generator() else { return };
    for seed in 0..3 {
        for side in [Side::Td3, Side::Td1Front, Side::Td1Back] {
            let r = generator.render(&request(side, seed)).unwrap();
            let img = decode(&r);
            assert_eq!(img.dimensions(), (640, 480));
            check_geometry(&r.truth);
            if let Some(mrz) = &r.truth.mrz {
                assert!(mrz.read.valid, "{:?}", mrz.lines);
                assert!(mrz.tampered.is_none());
                let record = r.truth.record.as_ref().unwrap();
                assert_eq!(mrz.read.document_number, record.document_number);
                assert_eq!(mrz.read.date_of_birth, record.date_of_birth.to_string());
            }
            assert!(!r.truth.expired && !r.truth.specimen);
        }
    }
}

#[test]
fn the_same_request_gives_the_same_bytes() {
    let Some(generator) = generator() else { return };
    let req = request(Side::Td3, 11).with_effects(&[Effect::Glare, Effect::Noise, Effect::Blur]);
    let a = generator.render(&req).unwrap();
    let b = generator.render(&req).unwrap();
    assert_eq!(a.jpeg, b.jpeg);
    assert_eq!(a.truth, b.truth);
    let other = generator.render(&request(Side::Td3, 12)).unwrap();
    assert_ne!(a.jpeg, other.jpeg);
}

#[test]
fn every_effect_changes_the_image_and_is_recorded() {
    let Some(generator) = generator() else { return };
    let base = generator.render(&request(Side::Td3, 21)).unwrap();
    let base_img = decode(&base);
    for effect in Effect::ALL {
        let r = generator
            .render(&request(Side::Td3, 21).with_effects(&[effect]))
            .unwrap();
        let img = decode(&r);
        let diff = mean_abs_diff(&base_img, &img);
        if effect == Effect::TamperedCheckDigit {
            // One character changed: every clearly changed pixel lies on
            // the tampered MRZ line.
            let mrz = r.truth.mrz.as_ref().unwrap();
            let line =
                r.truth.document.as_ref().unwrap().mrz_lines[mrz.tampered.as_ref().unwrap().line];
            let (x0, x1) = (
                line.iter().map(|p| p[0]).fold(f64::MAX, f64::min) - 8.0,
                line.iter().map(|p| p[0]).fold(f64::MIN, f64::max) + 8.0,
            );
            let (y0, y1) = (
                line.iter().map(|p| p[1]).fold(f64::MAX, f64::min) - 8.0,
                line.iter().map(|p| p[1]).fold(f64::MIN, f64::max) + 8.0,
            );
            let mut changed = 0;
            for (x, y, p) in img.enumerate_pixels() {
                let q = base_img.get_pixel(x, y);
                if p.0.iter().zip(q.0).any(|(a, b)| a.abs_diff(b) > 40) {
                    changed += 1;
                    let (fx, fy) = (f64::from(x), f64::from(y));
                    assert!(
                        fx >= x0 && fx <= x1 && fy >= y0 && fy <= y1,
                        "change at {x},{y}"
                    );
                }
            }
            assert!(changed > 5, "{changed} pixels changed");
        } else {
            assert!(diff > 0.05, "{effect}: mean difference {diff}");
        }
        let names: Vec<String> = r
            .truth
            .effects
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["effect"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, [effect.name()], "{effect}");
        // Effects on the picture leave the document's data alone.
        if !effect.is_document_effect() {
            assert_eq!(r.truth.record, base.truth.record, "{effect}");
            assert_eq!(r.truth.mrz, base.truth.mrz, "{effect}");
        }
    }
}

#[test]
fn the_tampered_zone_fails_exactly_the_recorded_check() {
    let Some(generator) = generator() else { return };
    for (side, seed) in [(Side::Td3, 31), (Side::Td1Back, 32), (Side::Td3, 33)] {
        let r = generator
            .render(&request(side, seed).with_effects(&[Effect::TamperedCheckDigit]))
            .unwrap();
        let mrz = r.truth.mrz.as_ref().unwrap();
        let t = mrz.tampered.as_ref().unwrap();
        let line: Vec<char> = mrz.lines[t.line].chars().collect();
        assert_eq!(line[t.column], t.replacement);
        // Parsed independently of the truth's own reading.
        let parsed = match &mrz.lines[..] {
            [a, b] => mrz::parse_td3(a, b).unwrap(),
            [a, b, c] => mrz::parse_td1(a, b, c).unwrap(),
            _ => panic!("{:?}", mrz.lines),
        };
        assert!(!parsed.valid());
        let c = &parsed.checks;
        for (name, verdict) in [
            ("document_number", c.document_number),
            ("date_of_birth", c.date_of_birth),
            ("date_of_expiry", c.date_of_expiry),
            ("personal_number", c.personal_number),
            ("composite", c.composite),
        ] {
            let fails = t.failing_checks.iter().any(|f| f == name);
            assert_eq!(verdict == Some(false), fails, "{name}: {:?}", mrz.lines);
        }
        // The untampered zone of the same record is valid.
        let clean = facegate_docgen::emit_mrz(r.truth.record.as_ref().unwrap());
        assert!(facegate_docgen::read_mrz(&clean).unwrap().valid);
    }
}

#[test]
fn the_specimen_is_issued_by_utopia_to_anna_maria_eriksson() {
    let Some(generator) = generator() else { return };
    for side in [Side::Td3, Side::Td1Front, Side::Td1Back] {
        let r = generator
            .render(&request(side, 41).with_effects(&[Effect::Specimen]))
            .unwrap();
        assert!(r.truth.specimen);
        let record = r.truth.record.as_ref().unwrap();
        assert_eq!(record.issuing_state, "UTO");
        assert_eq!(record.surname, "ERIKSSON");
        assert!(!r.truth.expired);
        if let Some(mrz) = &r.truth.mrz {
            assert!(mrz.read.valid);
            assert_eq!(mrz.read.issuing_state, "UTO");
            assert_eq!(mrz.read.given_names, "ANNA MARIA");
        }
    }
}

#[test]
fn an_expired_document_expires_before_today_with_a_valid_zone() {
    let Some(generator) = generator() else { return };
    let r = generator
        .render(&request(Side::Td3, 51).with_effects(&[Effect::Expired]))
        .unwrap();
    assert!(r.truth.expired);
    let record = r.truth.record.as_ref().unwrap();
    assert!(record.date_of_expiry < today());
    let mrz = r.truth.mrz.as_ref().unwrap();
    assert!(mrz.read.valid);
    assert_eq!(mrz.read.date_of_expiry, record.date_of_expiry.to_string());
}

#[test]
fn a_cut_off_document_has_corners_outside_the_image() {
    let Some(generator) = generator() else { return };
    let r = generator
        .render(&request(Side::Td1Front, 61).with_effects(&[Effect::CutOff]))
        .unwrap();
    let doc = r.truth.document.as_ref().unwrap();
    assert!(!doc.fully_visible);
    assert!(doc.corners.iter().any(|&p| !inside_image(p, &r.truth)));
    assert!(doc.corners.iter().any(|&p| inside_image(p, &r.truth)));
}

#[test]
fn glare_aimed_at_the_mrz_washes_part_of_it_out() {
    let Some(generator) = generator() else { return };
    let mut aimed = 0;
    for seed in 0..8 {
        let r = generator
            .render(&request(Side::Td3, seed).with_effects(&[Effect::Glare]))
            .unwrap();
        let Some(AppliedEffect::Glare {
            target, mrz_washed, ..
        }) = r.truth.effects.first()
        else {
            panic!("{:?}", r.truth.effects)
        };
        if target == "mrz" {
            aimed += 1;
            assert!(*mrz_washed > 0.0, "seed {seed}");
        }
    }
    assert!(aimed > 0);
}

#[test]
fn scenes_without_a_document_say_so() {
    let Some(generator) = generator() else { return };
    let face = facegate_docgen::placeholder_face(3);
    for subject in [Subject::Background, Subject::FacePhoto, Subject::Selfie] {
        let req = Request::scene(subject.clone(), 71, today())
            .with_size(800, 600)
            .with_face(
                FaceInput {
                    image: &face,
                    crop: None,
                },
                Some("placeholder".into()),
            );
        let r = generator.render(&req).unwrap();
        assert_eq!(decode(&r).dimensions(), (800, 600));
        let t = &r.truth;
        assert!(t.document.is_none() && t.mrz.is_none() && t.record.is_none() && t.side.is_none());
        match subject {
            Subject::FacePhoto => {
                assert_eq!(t.scene, "face_photo");
                assert!(t.photo.unwrap().iter().all(|&p| inside_image(p, t)));
            }
            Subject::Background => assert!(t.face.is_none()),
            _ => assert!(t.face.is_some()),
        }
    }
}

#[test]
fn a_record_of_the_wrong_kind_is_refused() {
    let Some(generator) = generator() else { return };
    let record = IdentityRecord::random(DocumentKind::Td1, 1, today());
    assert!(generator
        .render(&Request::document(Side::Td3, record, 1, today()))
        .is_err());
}

fn shared_lfw() -> Option<PathBuf> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("data/lfw/lfw-deepfunneled");
    dir.is_dir().then_some(dir)
}

/// The first image of each of the first 20 people, in name order.
#[test]
fn twenty_lfw_faces_render_with_sound_geometry() {
    let Some(generator) = generator() else { return };
    let Some(dir) = shared_lfw() else {
        eprintln!("SKIPPED: no LFW under $FACEGATE_SHARED_DIR/data/lfw");
        return;
    };
    let mut people: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    people.sort();
    let sides = [Side::Td3, Side::Td1Front, Side::Td1Back];
    for (i, person) in people.iter().take(20).enumerate() {
        let mut images: Vec<PathBuf> = std::fs::read_dir(person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        images.sort();
        let face = image::open(&images[0]).unwrap().to_rgb8();
        let side = sides[i % 3];
        let label = images[0].strip_prefix(&dir).unwrap().display().to_string();
        let req = request(side, i as u64).with_face(
            FaceInput {
                image: &face,
                crop: None,
            },
            Some(label.clone()),
        );
        let r = generator.render(&req).unwrap();
        check_geometry(&r.truth);
        if side.has_portrait() {
            let f = r.truth.face.as_ref().unwrap();
            assert_eq!(f.label.as_deref(), Some(label.as_str()));
            assert!(!f.placeholder);
        }
    }
}

/// The committed fixtures: each is re-rendered from its recipe and must
/// match (truth exactly, pixels within JPEG noise). With
/// `FACEGATE_UPDATE_DOCGEN_FIXTURES=1` they are rewritten instead.
#[test]
fn the_committed_fixtures_are_what_the_generator_renders() {
    let Some(generator) = generator() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let update = std::env::var("FACEGATE_UPDATE_DOCGEN_FIXTURES").as_deref() == Ok("1");
    for (name, side, seed, effects) in fixture_recipes() {
        let req = request(side, seed)
            .with_size(800, 600)
            .with_quality(70)
            .with_effects(&effects);
        let r = generator.render(&req).unwrap();
        let jpg = dir.join(format!("{name}.jpg"));
        let json = dir.join(format!("{name}.json"));
        let truth_text = r.truth_json();
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&jpg, &r.jpeg).unwrap();
            std::fs::write(&json, &truth_text).unwrap();
            continue;
        }
        let committed_truth: GroundTruth =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(
            committed_truth, r.truth,
            "{name}: run with FACEGATE_UPDATE_DOCGEN_FIXTURES=1"
        );
        let committed = image::open(&jpg).unwrap().to_rgb8();
        let diff = mean_abs_diff(&committed, &decode(&r));
        assert!(diff < 1.0, "{name}: pixels moved by {diff} on average");
        assert!(
            std::fs::metadata(&jpg).unwrap().len() < 60 * 1024,
            "{name} is too large"
        );
    }
}

fn fixture_recipes() -> Vec<(&'static str, Side, u64, Vec<Effect>)> {
    vec![
        ("td3-clean", Side::Td3, 101, vec![]),
        ("td1-front-clean", Side::Td1Front, 102, vec![]),
        ("td1-back-clean", Side::Td1Back, 102, vec![]),
        (
            "td3-tampered",
            Side::Td3,
            103,
            vec![Effect::TamperedCheckDigit],
        ),
        ("td3-specimen", Side::Td3, 104, vec![Effect::Specimen]),
        ("td3-photocopy", Side::Td3, 105, vec![Effect::Photocopy]),
    ]
}
