//! Synthetic identity documents with ground truth, for testing and
//! evaluating the document engine (issue #11).
//!
//! A [`Request`] names what to photograph — a side of a passport data page
//! (TD3) or ID card (TD1) printed from an [`IdentityRecord`] and a face, or a
//! scene without a document — with a seed and [`Effect`]s; the
//! [`Generator`] renders it as a JPEG and a [`GroundTruth`]: the record, the
//! MRZ as printed and as a faithful reader parses it, the document's corners,
//! portrait and MRZ line boxes in the image, and every effect's drawn
//! parameters. Everything is a pure function of the request: the same
//! request gives the same bytes.
//!
//! The MRZ comes from the `mrz` crate's emitter (ICAO 9303 check digits,
//! transliteration, name truncation) and is printed in OCR-B; see
//! [`fonts`] for where the fonts come from (none is committed).

use std::io::Cursor;

use chrono::{NaiveDate, Utc};
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

mod canvas;
mod effects;
pub mod fonts;
mod geometry;
mod page;
mod portrait;
mod record;
mod scene;
mod zone;

pub use effects::{AppliedEffect, Effect};
pub use fonts::{FontPaths, Fonts};
pub use geometry::{Point, Quad};
pub use page::{Side, MRZ_PITCH_MM};
pub use portrait::{placeholder_face, Crop, FaceInput, PORTRAIT_ASPECT};
pub use record::{DocumentKind, IdentityRecord, Sex, COUNTRIES, SPECIMEN_STATE};
pub use scene::{CutOff, Pose};
pub use zone::{emit as emit_mrz, read as read_mrz, CheckVerdicts, CheckedField, MrzRead, Tamper};

use canvas::Canvas;
use geometry::{round_quad, RectMm};

/// The version of the ground-truth layout, written into every truth file.
pub const TRUTH_SCHEMA: &str = "facegate-docgen/1";

#[derive(Debug, thiserror::Error)]
pub enum DocgenError {
    #[error("font {path}: {reason} (run scripts/setup-fonts, or set FACEGATE_OCRB_FONT)")]
    Font {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("face image: {0}")]
    Face(String),
    #[error("MRZ: {0}")]
    Mrz(String),
    #[error("image: {0}")]
    Image(String),
    #[error("request: {0}")]
    Request(String),
}

/// What the camera sees.
// One per render: the size of the document variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// One side of a document printed from `record`.
    Document { side: Side, record: IdentityRecord },
    /// The table alone.
    Background,
    /// A printed photograph of the face lying on the table, no document.
    FacePhoto,
    /// The face image itself filling the frame, no document.
    Selfie,
}

/// Everything that determines one rendered image.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub subject: Subject,
    /// The holder's face; `None` prints [`placeholder_face`]`(seed)`.
    pub face: Option<FaceInput<'a>>,
    /// Where the face came from (e.g. an LFW path), copied into the truth.
    pub face_label: Option<String>,
    pub seed: u64,
    /// Applied in a fixed order whatever the order here; duplicates count once.
    pub effects: Vec<Effect>,
    /// The day the picture is taken: expiry and the `expired` effect are
    /// relative to it.
    pub today: NaiveDate,
    /// Image size in pixels (default 1600 × 1200).
    pub width: u32,
    pub height: u32,
    /// JPEG quality unless the `jpeg` effect draws a lower one (default 90).
    pub jpeg_quality: u8,
}

impl<'a> Request<'a> {
    /// A document side with default size and quality, no effects.
    pub fn document(side: Side, record: IdentityRecord, seed: u64, today: NaiveDate) -> Self {
        Self::scene(Subject::Document { side, record }, seed, today)
    }

    /// Any subject with default size and quality, no effects.
    pub fn scene(subject: Subject, seed: u64, today: NaiveDate) -> Self {
        Request {
            subject,
            face: None,
            face_label: None,
            seed,
            effects: Vec::new(),
            today,
            width: 1600,
            height: 1200,
            jpeg_quality: 90,
        }
    }

    pub fn with_face(mut self, face: FaceInput<'a>, label: Option<String>) -> Self {
        self.face = Some(face);
        self.face_label = label;
        self
    }

    pub fn with_effects(mut self, effects: &[Effect]) -> Self {
        self.effects = effects.to_vec();
        self
    }

    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    pub fn with_quality(mut self, quality: u8) -> Self {
        self.jpeg_quality = quality;
        self
    }

    fn has(&self, effect: Effect) -> bool {
        self.effects.contains(&effect)
    }
}

/// Today's date (UTC), for callers that want the records valid now.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The output of a render.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The encoded JPEG (what an upload would carry).
    pub jpeg: Vec<u8>,
    pub truth: GroundTruth,
}

impl Rendered {
    /// The truth as the pretty-printed JSON the `docgen` binary writes.
    pub fn truth_json(&self) -> String {
        serde_json::to_string_pretty(&self.truth).unwrap_or_default() + "\n"
    }
}

/// What is in the picture, for scoring a reader of it. Serialised as the
/// truth JSON (see the crate's README for the schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// [`TRUTH_SCHEMA`].
    pub schema: String,
    /// `document`, `background`, `face_photo` or `selfie`.
    pub scene: String,
    pub side: Option<Side>,
    pub seed: u64,
    pub today: NaiveDate,
    pub image: ImageTruth,
    /// The table surface's name.
    pub surface: Option<String>,
    /// The record printed on the document, after the `specimen` and
    /// `expired` effects; untouched by `tampered_check_digit` (which
    /// changes only the printed MRZ).
    pub record: Option<IdentityRecord>,
    pub specimen: bool,
    /// The document's expiry is before `today`.
    pub expired: bool,
    /// On sides that print the MRZ.
    pub mrz: Option<MrzTruth>,
    pub document: Option<DocumentTruth>,
    /// The printed photograph's corners (`face_photo` scenes).
    pub photo: Option<Quad>,
    pub face: Option<FaceTruth>,
    pub effects: Vec<AppliedEffect>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTruth {
    pub width: u32,
    pub height: u32,
    pub jpeg_quality: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrzTruth {
    /// The lines as printed, top to bottom.
    pub lines: Vec<String>,
    /// The changed digit, for `tampered_check_digit`.
    pub tampered: Option<Tamper>,
    /// What a faithful reader of the printed lines finds.
    pub read: MrzRead,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentTruth {
    /// Width and height of the document in millimetres.
    pub size_mm: [f64; 2],
    /// The document's corners in the image (top-left, top-right,
    /// bottom-right, bottom-left of the upright document).
    pub corners: Quad,
    /// All four corners lie inside the image.
    pub fully_visible: bool,
    pub pose: Pose,
    /// The printed portrait's corners, same order.
    pub portrait: Option<Quad>,
    /// The ghost image's corners, when the document has one.
    pub ghost: Option<Quad>,
    /// Each MRZ line's box, top line first.
    pub mrz_lines: Vec<Quad>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceTruth {
    pub label: Option<String>,
    /// The rectangle of the source image printed.
    pub crop: Crop,
    /// The drawn placeholder face was used.
    pub placeholder: bool,
}

/// Random streams, one per part of the render, all from the request's seed.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stage {
    Record = 1,
    Expired,
    Tamper,
    Page,
    Placeholder,
    Surface,
    Pose,
    CutOff,
    Shadow,
    Light,
    Glare,
    Blur,
    MotionBlur,
    Noise,
    LowLight,
    Photocopy,
    Jpeg,
}

pub(crate) fn stage_rng(seed: u64, stage: Stage) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stage as u64);
    rng
}

/// Renders requests with loaded fonts.
pub struct Generator {
    fonts: Fonts,
}

impl Generator {
    /// Fonts from the environment or the Debian paths ([`FontPaths::from_env`]).
    pub fn new() -> Result<Self, DocgenError> {
        Self::with_fonts(&FontPaths::from_env())
    }

    pub fn with_fonts(paths: &FontPaths) -> Result<Self, DocgenError> {
        Ok(Generator {
            fonts: Fonts::load(paths)?,
        })
    }

    pub fn render(&self, req: &Request<'_>) -> Result<Rendered, DocgenError> {
        if !(64..=8192).contains(&req.width) || !(64..=8192).contains(&req.height) {
            return Err(DocgenError::Request(format!(
                "image size {}×{} is outside 64..8192",
                req.width, req.height
            )));
        }
        let (w, h) = (req.width as usize, req.height as usize);
        let placeholder;
        let face = match req.face {
            Some(f) => f,
            None => {
                placeholder = placeholder_face(req.seed);
                FaceInput {
                    image: &placeholder,
                    crop: None,
                }
            }
        };
        let face_truth = FaceTruth {
            label: req.face_label.clone(),
            crop: face.effective_crop()?,
            placeholder: req.face.is_none(),
        };
        let mut applied = Vec::new();
        let (mut scene, surface) = scene::surface(w, h, &mut stage_rng(req.seed, Stage::Surface));

        let mut truth = GroundTruth {
            schema: TRUTH_SCHEMA.to_string(),
            scene: String::new(),
            side: None,
            seed: req.seed,
            today: req.today,
            image: ImageTruth {
                width: req.width,
                height: req.height,
                jpeg_quality: req.jpeg_quality,
            },
            surface: Some(surface.to_string()),
            record: None,
            specimen: false,
            expired: false,
            mrz: None,
            document: None,
            photo: None,
            face: None,
            effects: Vec::new(),
        };

        // What lies on the table, and where effects aimed at it may land.
        let mut glare_targets = None;
        let mut mm_to_image = None;
        match &req.subject {
            Subject::Document { side, record } => {
                let side = *side;
                let kind = side.kind();
                if record.kind != kind {
                    return Err(DocgenError::Request(format!(
                        "a {kind:?} record cannot be printed on a {side:?} side"
                    )));
                }
                truth.scene = "document".to_string();
                truth.side = Some(side);
                let mut record = record.clone();
                if req.has(Effect::Specimen) {
                    record = IdentityRecord::specimen(kind, req.today);
                    truth.specimen = true;
                    applied.push(AppliedEffect::Specimen);
                }
                if req.has(Effect::Expired) {
                    record.expire(&mut stage_rng(req.seed, Stage::Expired), req.today);
                    applied.push(AppliedEffect::Expired {
                        days_ago: (req.today - record.date_of_expiry).num_days(),
                    });
                }
                truth.expired = record.is_expired(req.today);

                let mut lines = None;
                if side.has_mrz() {
                    let mut printed = zone::emit(&record);
                    let mut tampered = None;
                    if req.has(Effect::TamperedCheckDigit) {
                        let mut rng = stage_rng(req.seed, Stage::Tamper);
                        tampered = zone::tamper(&mut printed, kind, &mut rng);
                        if let Some(t) = &tampered {
                            applied.push(AppliedEffect::TamperedCheckDigit { field: t.field });
                        }
                    }
                    truth.mrz = Some(MrzTruth {
                        read: zone::read(&printed)?,
                        lines: printed.clone(),
                        tampered,
                    });
                    lines = Some(printed);
                }

                let spec = page::PageSpec {
                    side,
                    record: &record,
                    mrz: lines.as_deref(),
                    face: side.has_portrait().then_some(face),
                    specimen: truth.specimen,
                };
                let mut page =
                    page::render(&self.fonts, &spec, &mut stage_rng(req.seed, Stage::Page))?;
                if side.has_portrait() {
                    truth.face = Some(face_truth.clone());
                }
                let mut photocopy = None;
                if req.has(Effect::Photocopy) {
                    let mut rng = stage_rng(req.seed, Stage::Photocopy);
                    let (threshold, contrast) = effects::photocopy_page(&mut page.canvas, &mut rng);
                    photocopy = Some((rand::Rng::gen_bool(&mut rng, 0.5), threshold, contrast));
                }
                glare_targets = Some(effects::GlareTargets {
                    size_mm: page.size_mm,
                    mrz_lines: page.mrz_lines.clone(),
                    portrait: page.portrait,
                });
                truth.record = Some(record);
                let radius = if kind == DocumentKind::Td1 { 3.18 } else { 2.0 };
                let hm = self.lay(
                    req,
                    &mut scene,
                    &page.canvas,
                    page.dpmm,
                    page.size_mm,
                    radius,
                    &mut truth,
                    &mut applied,
                )?;
                if let Some(doc) = truth.document.as_mut() {
                    let map = |r: RectMm| round_quad(hm.apply_quad(&r.corners()));
                    doc.portrait = page.portrait.map(map);
                    doc.ghost = page.ghost.map(map);
                    doc.mrz_lines = page.mrz_lines.iter().copied().map(map).collect();
                }
                mm_to_image = Some(hm);
                if let Some((whole_image, threshold, contrast)) = photocopy {
                    applied.push(AppliedEffect::Photocopy {
                        whole_image,
                        threshold,
                        contrast,
                    });
                }
            }
            Subject::Background => {
                truth.scene = "background".to_string();
                scene::light(&mut scene, &mut stage_rng(req.seed, Stage::Light));
            }
            Subject::FacePhoto => {
                truth.scene = "face_photo".to_string();
                // A 10 × 13 cm print with a white border.
                let size_mm = (100.0, 130.0);
                let dpmm = 6.0;
                let mut print = Canvas::new(600, 780, [0.96, 0.96, 0.95]);
                // The whole image, trimmed to the print's proportions.
                let (iw, ih) = face.image.dimensions();
                let photo = FaceInput {
                    image: face.image,
                    crop: face
                        .crop
                        .or_else(|| Some(Crop::largest(iw, ih, 92.0 / 122.0))),
                };
                let img = photo.render(552, 732)?;
                for y in 0..732 {
                    for x in 0..552 {
                        print.set(x + 24, y + 24, img.get(x, y));
                    }
                }
                truth.face = Some(FaceTruth {
                    crop: photo.effective_crop()?,
                    ..face_truth
                });
                self.lay(
                    req,
                    &mut scene,
                    &print,
                    dpmm,
                    size_mm,
                    1.0,
                    &mut truth,
                    &mut applied,
                )?;
                if let Some(doc) = truth.document.take() {
                    truth.photo = Some(doc.corners);
                }
            }
            Subject::Selfie => {
                truth.scene = "selfie".to_string();
                truth.surface = None;
                let (iw, ih) = face.image.dimensions();
                let crop = Crop::largest(iw, ih, w as f64 / h as f64);
                scene = FaceInput {
                    image: face.image,
                    crop: Some(crop),
                }
                .render(w, h)?;
                truth.face = Some(FaceTruth { crop, ..face_truth });
            }
        }

        // Camera effects, in the order light reaches the sensor.
        if req.has(Effect::Glare) {
            if let (Some(targets), Some(hm)) = (&glare_targets, &mm_to_image) {
                let mut rng = stage_rng(req.seed, Stage::Glare);
                applied.push(effects::glare(&mut scene, hm, targets, &mut rng));
            }
        }
        if req.has(Effect::LowLight) {
            applied.push(effects::low_light(
                &mut scene,
                &mut stage_rng(req.seed, Stage::LowLight),
            ));
        }
        if req.has(Effect::Blur) {
            applied.push(effects::blur(
                &mut scene,
                &mut stage_rng(req.seed, Stage::Blur),
            ));
        }
        if req.has(Effect::MotionBlur) {
            applied.push(effects::motion_blur(
                &mut scene,
                &mut stage_rng(req.seed, Stage::MotionBlur),
            ));
        }
        if req.has(Effect::Noise) {
            applied.push(effects::noise(
                &mut scene,
                &mut stage_rng(req.seed, Stage::Noise),
            ));
        }
        if applied.iter().any(|e| {
            matches!(
                e,
                AppliedEffect::Photocopy {
                    whole_image: true,
                    ..
                }
            )
        }) {
            effects::greyscale(&mut scene);
        }
        let mut quality = req.jpeg_quality.clamp(1, 100);
        if req.has(Effect::Jpeg) {
            quality = rand::Rng::gen_range(&mut stage_rng(req.seed, Stage::Jpeg), 20..=45);
            applied.push(AppliedEffect::Jpeg { quality });
        }
        truth.image.jpeg_quality = quality;

        scene.clamp();
        let jpeg = encode_jpeg(&scene.to_rgb8(), quality)?;
        truth.effects = applied;
        Ok(Rendered { jpeg, truth })
    }

    /// Lays a flat print (`page`, `dpmm` pixels per millimetre) on the
    /// table under a camera pose; fills `truth.document` with the corners.
    #[allow(clippy::too_many_arguments)]
    fn lay(
        &self,
        req: &Request<'_>,
        scene: &mut Canvas,
        page: &Canvas,
        dpmm: f64,
        size_mm: (f64, f64),
        radius_mm: f64,
        truth: &mut GroundTruth,
        applied: &mut Vec<AppliedEffect>,
    ) -> Result<geometry::Homography, DocgenError> {
        let (w, h) = (scene.w, scene.h);
        let strong = req.has(Effect::Perspective);
        let mut placement =
            scene::place(size_mm, w, h, strong, &mut stage_rng(req.seed, Stage::Pose))
                .ok_or_else(|| DocgenError::Request("degenerate document placement".to_string()))?;
        if strong {
            applied.push(AppliedEffect::Perspective);
        }
        if req.has(Effect::CutOff) {
            let mut rng = stage_rng(req.seed, Stage::CutOff);
            if let Some(cut) = scene::cut_off(&mut placement, size_mm, w, h, &mut rng) {
                applied.push(AppliedEffect::CutOff {
                    edge: cut.edge,
                    hidden_fraction: cut.hidden_fraction,
                });
            }
        }
        scene::shadow(
            scene,
            &placement.corners,
            &mut stage_rng(req.seed, Stage::Shadow),
        );

        // Shrink the print close to its size in the image first, so the
        // bilinear warp does not alias fine print.
        let top = dist(placement.corners[0], placement.corners[1]);
        let bottom = dist(placement.corners[3], placement.corners[2]);
        let target_w = top.max(bottom) * 1.15;
        let page_w = page.w as f64;
        let (raster, raster_dpmm);
        if page_w > target_w * 1.1 {
            let nw = target_w.ceil().max(8.0) as usize;
            let nh = ((page.h as f64) * (nw as f64 / page_w)).round().max(8.0) as usize;
            raster = page.resized(nw, nh);
            raster_dpmm = dpmm * nw as f64 / page_w;
        } else {
            raster = page.clone();
            raster_dpmm = dpmm;
        }
        scene::composite(
            scene,
            &raster,
            raster_dpmm,
            size_mm,
            radius_mm,
            &placement.corners,
        );
        scene::light(scene, &mut stage_rng(req.seed, Stage::Light));

        let corners = round_quad(placement.corners);
        let fully_visible = corners
            .iter()
            .all(|p| p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= w as f64 && p[1] <= h as f64);
        truth.document = Some(DocumentTruth {
            size_mm: [size_mm.0, size_mm.1],
            corners,
            fully_visible,
            pose: placement.pose,
            portrait: None,
            ghost: None,
            mrz_lines: Vec::new(),
        });
        Ok(placement.mm_to_image)
    }
}

fn dist(a: Point, b: Point) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, DocgenError> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| DocgenError::Image(e.to_string()))?;
    Ok(out.into_inner())
}
