//! Whole documents through the analyser and the domain's verdict, on the
//! real models: documents rendered by `tools/docgen` with a real face
//! (an LFW image) as the portrait, each reject path of issue #11 taken
//! by a document that should take it, and the approved ones giving the
//! generator's ground truth.
//!
//! Needs the fonts (`scripts/setup-fonts`), the ONNX Runtime library, and
//! the shared LFW images (`FACEGATE_SHARED_DIR`); each test prints
//! `SKIPPED:` and passes without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use chrono::NaiveDate;
use facegate_docgen::{
    AppliedEffect, Effect, FaceInput, FontPaths, Generator, IdentityRecord, Request, Side, Subject,
};
use facegate_documents::{quality, DocumentAnalyzer, DocumentReport, Turn};
use facegate_domain::scan::{Country, DocumentType, Workflow};
use facegate_domain::scan_verdict::{decide_scan, ScanPolicy, ScanVerdict, ZoneFinding};
use facegate_domain::verification::{RejectDetail, RejectReason};
use facegate_domain::VerificationStatus;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::ort::OrtRuntime;
use image::RgbImage;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

struct Bench {
    generator: Generator,
    analyzer: DocumentAnalyzer,
    face: RgbImage,
}

/// An LFW image: a real face for the portrait.
fn face_image() -> Option<RgbImage> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let path = shared.join("data/lfw/lfw-deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
    image::open(path).ok().map(|i| i.to_rgb8())
}

fn bench(test: &str) -> Option<Bench> {
    let skip = |why: String| {
        eprintln!("SKIPPED: {test}: {why}");
        None
    };
    if let Some(missing) = FontPaths::from_env().missing() {
        return skip(format!(
            "font {} is absent (scripts/setup-fonts)",
            missing.display()
        ));
    }
    let Some(face) = face_image() else {
        return skip("no shared LFW images (set FACEGATE_SHARED_DIR)".into());
    };
    let runtime = match OrtRuntime::new() {
        Ok(r) => r,
        Err(e) => return skip(e.to_string()),
    };
    let store = ModelStore::open_default().unwrap();
    let analyzer = DocumentAnalyzer::new(&store, &runtime).unwrap();
    Some(Bench {
        generator: Generator::new().unwrap(),
        analyzer,
        face,
    })
}

fn accept_all() -> ScanPolicy {
    ScanPolicy {
        document_types: Vec::new(),
        countries: Vec::new(),
        accept_expired: false,
        preset: None,
        match_threshold: 0.5,
        same_picture_threshold: None,
    }
}

impl Bench {
    fn render(&self, subject: Subject, seed: u64, effects: &[Effect]) -> facegate_docgen::Rendered {
        let request = Request::scene(subject, seed, today())
            .with_face(
                FaceInput {
                    image: &self.face,
                    crop: None,
                },
                None,
            )
            .with_effects(effects);
        self.generator.render(&request).unwrap()
    }

    fn side(&self, side: Side, record: &IdentityRecord, seed: u64, effects: &[Effect]) -> Vec<u8> {
        let subject = Subject::Document {
            side,
            record: record.clone(),
        };
        self.render(subject, seed, effects).jpeg
    }

    /// A passport page with `effects`, analysed and decided (ID only).
    fn passport(&mut self, seed: u64, effects: &[Effect]) -> (DocumentReport, ScanVerdict) {
        let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
        let front = self.side(Side::Td3, &record, seed, effects);
        self.decide(&front, None, &accept_all())
    }

    fn decide(
        &mut self,
        front: &[u8],
        back: Option<&[u8]>,
        policy: &ScanPolicy,
    ) -> (DocumentReport, ScanVerdict) {
        let report = self.analyzer.analyze_bytes(front, back, today()).unwrap();
        let verdict = decide_scan(
            Workflow::parse(100).unwrap(),
            &report.findings,
            None,
            policy,
            today(),
        );
        (report, verdict)
    }
}

/// A rendered photo changed (turned, lit otherwise) and stored as a PNG.
fn altered(jpeg: &[u8], change: impl FnOnce(RgbImage) -> RgbImage) -> Vec<u8> {
    let photo = change(image::load_from_memory(jpeg).unwrap().to_rgb8());
    let mut png = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut png, image::ImageFormat::Png).unwrap();
    png.into_inner()
}

fn reason(verdict: &ScanVerdict) -> Option<RejectReason> {
    verdict.rejection.as_ref().map(|r| r.reason())
}

/// The first seed from `from` whose render applied an effect `pick` likes.
fn seed_where(
    bench: &Bench,
    from: u64,
    effect: Effect,
    pick: impl Fn(&AppliedEffect) -> bool,
) -> u64 {
    (from..from + 50)
        .find(|&seed| {
            let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
            let subject = Subject::Document {
                side: Side::Td3,
                record,
            };
            bench
                .render(subject, seed, &[effect])
                .truth
                .effects
                .iter()
                .any(&pick)
        })
        .expect("a seed with the effect wanted")
}

#[test]
fn a_clean_passport_is_approved_with_the_printed_fields_and_a_portrait_template() {
    let Some(mut b) = bench("clean passport") else {
        return;
    };
    let seed = 3;
    let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
    let subject = Subject::Document {
        side: Side::Td3,
        record: record.clone(),
    };
    let rendered = b.render(subject, seed, &[]);
    // The zone as printed (names in capitals, transliterated, truncated).
    let printed = rendered.truth.mrz.unwrap().read;
    let front = rendered.jpeg;
    let (report, verdict) = b.decide(&front, None, &accept_all());
    assert_eq!(
        verdict.status,
        VerificationStatus::ApprovedVerified,
        "{:?}",
        report.findings
    );
    let data = verdict.document.unwrap();
    assert_eq!(data.document_type, Some(DocumentType::Passport));
    assert_eq!(
        data.number.as_deref(),
        Some(printed.document_number.as_str())
    );
    assert_eq!(data.last_name.as_deref(), Some(printed.surname.as_str()));
    assert_eq!(
        data.first_name.as_deref(),
        Some(printed.given_names.as_str())
    );
    assert_eq!(data.date_of_birth, Some(record.date_of_birth));
    assert_eq!(data.expiry, Some(record.date_of_expiry));
    assert!(report.findings.portrait_found);
    let portrait = report.portrait.expect("the portrait's template");
    assert_eq!(portrait.model, "fr-feature-512-int8-v1");
    assert_eq!(portrait.vector.len(), 512);

    // The account accepts only ID cards, or only another country.
    let only_cards = ScanPolicy {
        document_types: vec![DocumentType::IdCard],
        ..accept_all()
    };
    let (_, verdict) = b.decide(&front, None, &only_cards);
    assert_eq!(verdict.status, VerificationStatus::DeniedUnsupportedIdType);
    let other = if record.issuing_state == "AUT" {
        "BEL"
    } else {
        "AUT"
    };
    let elsewhere = ScanPolicy {
        countries: vec![Country::parse(other, "country").unwrap()],
        ..accept_all()
    };
    let (_, verdict) = b.decide(&front, None, &elsewhere);
    assert_eq!(
        verdict.status,
        VerificationStatus::DeniedUnsupportedIdCountry
    );
}

#[test]
fn an_id_card_is_read_from_its_back_and_its_portrait_from_its_front() {
    let Some(mut b) = bench("ID card") else {
        return;
    };
    let seed = 5;
    let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td1, seed, today());
    let front = b.side(Side::Td1Front, &record, seed, &[]);
    let back = b.side(Side::Td1Back, &record, seed + 1, &[]);
    let (report, verdict) = b.decide(&front, Some(&back), &accept_all());
    assert_eq!(
        verdict.status,
        VerificationStatus::ApprovedVerified,
        "{:?}",
        report.findings
    );
    assert!(report.findings.portrait_found);
    let data = verdict.document.unwrap();
    assert_eq!(data.document_type, Some(DocumentType::IdCard));
    assert_eq!(
        data.number.as_deref(),
        Some(record.document_number.as_str())
    );
}

/// A photo turned by a quarter or half turn and stored without an
/// orientation tag (a page scanned upside down, a phone held sideways):
/// the side is inspected and read turned upright, and the document is
/// approved with the printed data, as it is upright.
#[test]
fn a_document_photographed_turned_is_read_upright() {
    let Some(mut b) = bench("turned document") else {
        return;
    };
    let turned = |jpeg: &[u8], turn: Turn| altered(jpeg, |image| turn.apply(&image));
    let seed = 3;
    let passport = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
    let page = b.side(Side::Td3, &passport, seed, &[]);
    let card = IdentityRecord::random(facegate_docgen::DocumentKind::Td1, seed + 2, today());
    let front = b.side(Side::Td1Front, &card, seed + 2, &[]);
    let back = b.side(Side::Td1Back, &card, seed + 3, &[]);
    for turn in [Turn::Quarter, Turn::Half, Turn::ThreeQuarters] {
        let (report, verdict) = b.decide(&turned(&page, turn), None, &accept_all());
        assert_eq!(
            verdict.status,
            VerificationStatus::ApprovedVerified,
            "passport turned {}°: {:?}",
            turn.degrees(),
            report.findings
        );
        assert_eq!(
            verdict.document.unwrap().number.as_deref(),
            Some(passport.document_number.as_str())
        );
        assert!(report.portrait.is_some());
        // Upside down, nothing is understood as given; a quarter turned
        // page may be (its lines and the face are found sideways), else
        // the turn taken undoes the photo's.
        let undo = [
            Turn::Upright,
            Turn::ThreeQuarters,
            Turn::Half,
            Turn::Quarter,
        ][usize::from(turn.degrees() / 90)];
        assert!(
            report.front.turn == undo || (turn != Turn::Half && report.front.turn == Turn::Upright),
            "passport turned {}° read turned {}°",
            turn.degrees(),
            report.front.turn.degrees()
        );

        let (report, verdict) = b.decide(
            &turned(&front, turn),
            Some(&turned(&back, turn)),
            &accept_all(),
        );
        assert_eq!(
            verdict.status,
            VerificationStatus::ApprovedVerified,
            "card turned {}°: {:?}",
            turn.degrees(),
            report.findings
        );
        assert_eq!(
            verdict.document.unwrap().number.as_deref(),
            Some(card.document_number.as_str())
        );
    }
}

/// Under a green fluorescent light (red and blue dimmed) the face detector
/// misses some portraits that it finds under white light; the portrait is
/// then looked for in the photo white-balanced on the page's paper, and
/// every passport is approved with its portrait's template.
#[test]
fn a_portrait_under_coloured_light_is_found_on_the_balanced_page() {
    let Some(mut b) = bench("coloured light") else {
        return;
    };
    for seed in 40..48 {
        let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
        let jpeg = b.side(Side::Td3, &record, seed, &[]);
        let green = altered(&jpeg, |photo| quality::lit(photo, [0.8, 1.0, 0.7]));
        let (report, verdict) = b.decide(&green, None, &accept_all());
        assert!(report.findings.portrait_found, "seed {seed}");
        assert_eq!(
            verdict.status,
            VerificationStatus::ApprovedVerified,
            "seed {seed}: {:?}",
            report.findings
        );
    }
}

#[test]
fn no_document_a_photo_of_a_face_and_a_selfie_are_no_document() {
    let Some(mut b) = bench("no document") else {
        return;
    };
    for subject in [Subject::Background, Subject::FacePhoto, Subject::Selfie] {
        let jpeg = b.render(subject.clone(), 9, &[]).jpeg;
        let (report, verdict) = b.decide(&jpeg, None, &accept_all());
        assert_eq!(
            reason(&verdict),
            Some(RejectReason::NoDocument),
            "{subject:?}: {:?}",
            report.findings
        );
    }
}

#[test]
fn a_black_and_white_copy_is_refused_as_one() {
    let Some(mut b) = bench("photocopy") else {
        return;
    };
    for seed in [21, 22] {
        let (report, verdict) = b.passport(seed, &[Effect::Photocopy]);
        assert_eq!(
            reason(&verdict),
            Some(RejectReason::PhotocopyBlackWhite),
            "seed {seed}: {:?}",
            report.findings
        );
    }
}

#[test]
fn a_tampered_zone_is_fraud_and_a_specimen_a_sample_document() {
    let Some(mut b) = bench("tampered and specimen") else {
        return;
    };
    let (report, verdict) = b.passport(31, &[Effect::TamperedCheckDigit]);
    assert_eq!(
        verdict.status,
        VerificationStatus::DeniedFraud,
        "{:?}",
        report.findings
    );
    assert_eq!(reason(&verdict), Some(RejectReason::MrzCheckFailed));
    assert!(matches!(report.findings.zone, ZoneFinding::CheckFailed(_)));

    let (report, verdict) = b.passport(32, &[Effect::Specimen]);
    assert_eq!(
        reason(&verdict),
        Some(RejectReason::SampleDocument),
        "{:?}",
        report.findings
    );
}

#[test]
fn an_expired_document_is_not_accepted() {
    let Some(mut b) = bench("expired") else {
        return;
    };
    let (report, verdict) = b.passport(41, &[Effect::Expired]);
    assert_eq!(
        verdict.status,
        VerificationStatus::DeniedUnsupportedIdType,
        "{:?}",
        report.findings
    );
    assert!(verdict.document.unwrap().expiry.unwrap() < today());
}

#[test]
fn a_cut_off_or_badly_blurred_page_is_not_readable_with_its_detail() {
    let Some(mut b) = bench("unreadable") else {
        return;
    };
    let (report, verdict) = b.passport(51, &[Effect::CutOff]);
    assert_eq!(
        reason(&verdict),
        Some(RejectReason::NotReadableDocument),
        "{:?}",
        report.findings
    );
    let details = verdict.rejection.unwrap().details().to_vec();
    assert!(
        details.contains(&RejectDetail::MissingPartDocument),
        "{details:?}"
    );

    // Out of focus beyond what the zone survives (the generator's strongest
    // blur, σ 3.5 px, is still read: then the page is read, not refused).
    let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, 61, today());
    let sharp = b.side(Side::Td3, &record, 61, &[]);
    let blurred = image::load_from_memory(&sharp).unwrap().blur(4.0).to_rgb8();
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(blurred)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let (report, verdict) = b.decide(&jpeg, None, &accept_all());
    assert_eq!(
        reason(&verdict),
        Some(RejectReason::NotReadableDocument),
        "{:?}",
        report.findings
    );

    // Whatever blur the generator applies, what is read is what is printed.
    let seed = seed_where(
        &b,
        60,
        Effect::Blur,
        |e| matches!(e, AppliedEffect::Blur { sigma_px } if *sigma_px >= 3.0),
    );
    let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td3, seed, today());
    let jpeg = b.side(Side::Td3, &record, seed, &[Effect::Blur]);
    let (_, verdict) = b.decide(&jpeg, None, &accept_all());
    if let Some(data) = verdict.document {
        assert_eq!(data.expiry, Some(record.date_of_expiry), "seed {seed}");
        assert_eq!(
            data.date_of_birth,
            Some(record.date_of_birth),
            "seed {seed}"
        );
    }
}

/// Glare over a card's zone makes one crop of its document number read
/// strokes another crop does not (docgen seed 1000024: `96` read as `27`
/// by the rereads, weakly as other characters by the first view): the
/// failed check is a reading in doubt, so the card is not readable (the
/// holder retakes it), never `108 MRZ_CHECK_FAILED` fraud. An altered
/// zone, read alike in every view, stays fraud (the test above).
#[test]
fn a_zone_misread_under_glare_is_not_readable_never_fraud() {
    let Some(mut b) = bench("glare over the zone") else {
        return;
    };
    let seed = 1_000_024;
    let record = IdentityRecord::random(facegate_docgen::DocumentKind::Td1, seed, today());
    let front = b.side(Side::Td1Front, &record, seed, &[]);
    let back = b.side(Side::Td1Back, &record, seed, &[Effect::Glare]);
    let (report, verdict) = b.decide(&front, Some(&back), &accept_all());
    assert_eq!(
        verdict.status,
        VerificationStatus::ErrorNotReadableId,
        "{:?}",
        report.findings
    );
    assert_eq!(reason(&verdict), Some(RejectReason::NotReadableDocument));
}
