//! The engine on the real models compares a selfie with an ID document's
//! portrait at the document calibration's operating point
//! (`models/document_thresholds.json`) and with a facemap at the facemap
//! calibration's (`models/thresholds.json`): the same frame and template
//! give two records that differ only in the operating point. Reads two LFW
//! images of one person from `FACEGATE_SHARED_DIR` (default `../shared`);
//! prints `SKIPPED:` without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use facegate_core::engine::{
    AnalysedFrame, AttemptContext, ComparisonTarget, FaceEngine as _, FrameAnalysis, FrameInput,
    FrameResult,
};
use facegate_domain::{Challenge, SimilarityRecord, Window};
use facegate_engine::{enrollment_template, Calibrations, EngineSettings, VisionEngine};

const PERSON: &str = "lfw-deepfunneled/Abel_Pacheco";

fn lfw_image(n: u32) -> Option<Vec<u8>> {
    let shared = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    std::fs::read(shared.join(format!("data/lfw/{PERSON}/Abel_Pacheco_{n:04}.jpg"))).ok()
}

async fn compared(
    engine: &VisionEngine,
    model: &str,
    template: &[f32],
    selfie: &[u8],
    target: ComparisonTarget,
) -> SimilarityRecord {
    // Frame 0 is always sampled for a template: it is the best frame.
    let analysis = engine
        .analyse_frame(
            model,
            FrameInput {
                index: 0,
                t_ms: 0,
                jpeg: selfie.into(),
            },
        )
        .await
        .unwrap();
    let FrameAnalysis::Analysed { features, .. } = analysis else {
        panic!("the selfie decodes: {analysis:?}");
    };
    let context = AttemptContext {
        challenge: Challenge {
            duration_ms: 1_000,
            frame_interval_ms: 66,
            max_frames: 30,
            neutral: Window {
                start_ms: 0,
                end_ms: 1_000,
            },
            steps: Vec::new(),
            flashes: Vec::new(),
        },
        flash: false,
        model: model.to_owned(),
        templates: vec![template.to_vec()],
        target,
    };
    let frame = AnalysedFrame {
        index: 0,
        result: FrameResult::Analysed {
            features,
            jpeg: None,
        },
    };
    let found = engine.conclude(context, vec![frame]).await.unwrap();
    found.findings.similarity.expect("a face with a template")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selfie_is_compared_with_a_document_portrait_at_the_document_operating_point() {
    let (Some(portrait), Some(selfie)) = (lfw_image(1), lfw_image(4)) else {
        eprintln!("SKIPPED: no LFW images under FACEGATE_SHARED_DIR");
        return;
    };
    let (model, template) = enrollment_template(&portrait).unwrap();
    let engine = VisionEngine::new(EngineSettings {
        workers: 1,
        ..EngineSettings::default()
    });
    engine.ready().unwrap();
    let document = compared(
        &engine,
        &model,
        &template,
        &selfie,
        ComparisonTarget::DocumentPortrait,
    )
    .await;
    let facemap = compared(
        &engine,
        &model,
        &template,
        &selfie,
        ComparisonTarget::Facemap,
    )
    .await;

    let calibrations = Calibrations::load(&facegate_vision::models::default_models_dir()).unwrap();
    let point = |target| {
        let m = calibrations.for_target(target).model(&model).unwrap();
        *m.operating_point(None).unwrap()
    };
    let (doc_point, face_point) = (
        point(ComparisonTarget::DocumentPortrait),
        point(ComparisonTarget::Facemap),
    );
    // Otherwise the records could not tell which calibration was used.
    assert_ne!(doc_point.threshold, face_point.threshold);
    assert_eq!(
        (document.threshold, document.target_fmr),
        (doc_point.threshold, doc_point.target_fmr)
    );
    assert_eq!(
        (facemap.threshold, facemap.target_fmr),
        (face_point.threshold, face_point.target_fmr)
    );
    // The same frame against the same template: only the operating point
    // (and the FMR estimate read from its own table) differs.
    assert_eq!(document.score, facemap.score);
    assert!(document.score > doc_point.threshold, "{document:?}");
}
