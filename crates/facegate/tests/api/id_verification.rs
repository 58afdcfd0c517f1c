//! ID verifications on the real models, as an end user makes them: a
//! passport rendered by `tools/docgen` whose portrait is a frame of a shared
//! recording is uploaded through the capture protocol, and the selfie is
//! replayed from the same recording. The enrollment journey runs them on a
//! server in the test's process, the log test on a `facegate serve` process.
//!
//! Recordings cannot follow a random challenge: the server must give the
//! neutral test challenge (`dev.fixed_challenge`, refused in production).
//!
//! Needs the shared recordings (`FACEGATE_SHARED_DIR`), the OCR-B font
//! (`scripts/setup-fonts`) and the models with ONNX Runtime
//! (`scripts/setup-onnxruntime`); without any of them [`Kit::load`] prints
//! SKIPPED and the test passes.

use std::path::PathBuf;
use std::sync::Mutex;

use chrono::NaiveDate;
use facegate_docgen::{
    Crop, DocumentKind, FaceInput, FontPaths, Generator, IdentityRecord, MrzTruth, Request, Side,
};
use facegate_vision::pipeline::{Pipeline, PipelineConfig};
use serde_json::Value;

use crate::capture::Capture;
use crate::helpers::{json as body_json, Server};
use crate::journey::{mjpeg_frames, replay_attempt, shared_or_skip};
use crate::scans::upload;

pub const PERSON_A: &str = "video/live_person_a_640x480_30fps_20s.mjpeg";
pub const PERSON_B: &str = "video/live_person_b_640x512_30fps_20s.mjpeg";

/// What these scans need from outside the repository.
pub struct Kit {
    pub generator: Generator,
    /// Finds the face in a frame, to frame the portrait around it.
    faces: Mutex<Pipeline>,
    data: PathBuf,
}

/// A generated passport: the photo of its data page and its machine
/// readable zone as printed (the ground truth of the fields: names in
/// capitals, transliterated and cut to the zone's width).
pub struct Passport {
    pub jpeg: Vec<u8>,
    pub zone: MrzTruth,
    /// The data page's corners in the photo (x, y pixels).
    pub corners: [[f64; 2]; 4],
}

impl Kit {
    /// The kit, or `None` after a SKIPPED line naming what is missing.
    pub fn load(test: &str) -> Option<Kit> {
        let data = shared_or_skip(test)?;
        let fonts = FontPaths::from_env();
        if let Some(missing) = fonts.missing() {
            eprintln!(
                "SKIPPED: {test}: no font {} for the document generator (scripts/setup-fonts)",
                missing.display()
            );
            return None;
        }
        let faces = facegate_vision::models::ModelStore::open_default()
            .and_then(|models| {
                let runtime = facegate_vision::runtime::default_runtime()?;
                Pipeline::load(&models, runtime.as_ref(), PipelineConfig::default())
            })
            .map_err(|e| {
                eprintln!("SKIPPED: {test}: the face models do not load: {e}");
            })
            .ok()?;
        Some(Kit {
            generator: Generator::with_fonts(&fonts).unwrap(),
            faces: Mutex::new(faces),
            data,
        })
    }

    /// The JPEG frames of a shared recording ([`PERSON_A`], [`PERSON_B`]).
    pub fn recording(&self, name: &str) -> Vec<Vec<u8>> {
        mjpeg_frames(&self.data.join(name))
    }

    /// A passport data page photographed on a table (the generator's
    /// default hand-held camera), valid on `today`, whose portrait is
    /// `frame` framed around its face.
    pub fn passport_of(&self, frame: &[u8], seed: u64, today: NaiveDate) -> Passport {
        let face = image::load_from_memory(frame).unwrap().to_rgb8();
        let found = self
            .faces
            .lock()
            .unwrap()
            .analyze_bytes(frame)
            .unwrap()
            .0
            .expect("a face in the frame");
        let r = found.detection.rect;
        let crop = Crop::around_face([r.x, r.y, r.width, r.height], face.width(), face.height());
        let record = IdentityRecord::random(DocumentKind::Td3, seed, today);
        let rendered = self
            .generator
            .render(
                &Request::document(Side::Td3, record, seed, today).with_face(
                    FaceInput {
                        image: &face,
                        crop: Some(crop),
                    },
                    None,
                ),
            )
            .unwrap();
        let corners = rendered.truth.document.as_ref().unwrap().corners;
        Passport {
            jpeg: rendered.jpeg,
            zone: rendered.truth.mrz.unwrap(),
            corners,
        }
    }
}

/// Opens the capture session of the scan whose authorization token is
/// `token`, uploads `passport` (a photo, as taken by the upload button) and
/// replays the selfie from `selfie`, which must pass; answers the session
/// and the finish answer.
pub async fn capture_scan<'a>(
    server: &'a dyn Server,
    token: &str,
    passport: Vec<u8>,
    selfie: &[Vec<u8>],
) -> (Capture<'a>, Value) {
    let capture = Capture::open(server, token).await;
    let response = upload(&capture, "front", "UPLOAD", Some("PASSPORT"), passport).await;
    let (status, body) = body_json(response).await;
    assert_eq!(status, 200, "{body}");
    let done = replay_attempt(&capture, selfie, 10_000).await;
    assert_eq!(done["outcome"], "PASSED", "the selfie is live: {done}");
    (capture, done)
}
