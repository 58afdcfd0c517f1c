//! Facegate's document engine: reads the machine-readable zone of an
//! identity document photo with real OCR models, beside `facegate-vision`
//! and on its ONNX runtime and checksummed model store. No HTTP, no storage.
//!
//! [`MrzReader::read`] runs, on one thread:
//!
//! 1. the PaddleOCR PP-OCRv4 text detector ([`ids::PPOCR_DET_V4`]) on the
//!    photo scaled to at most [`ReaderSettings::detect_max_side`] pixels,
//!    and DB post-processing into rotated line boxes ([`detect`]), which
//!    follows a document turned by a few degrees or seen at a moderate
//!    angle;
//! 2. from the bottom of the page up, the long boxes are cut out upright
//!    and read by the PP-OCRv4 recogniser ([`ids::PPOCR_REC_V4`]) until two
//!    or three consecutive lines have the length of a zone's lines (44, 36
//!    or 30 characters: TD3, TD2, TD1);
//! 3. each zone line is decoded with the zone's grid ([`ctc::forced`]):
//!    exactly the line's width, each character one its cell may hold, with
//!    the characters the recogniser found nearly as plausible;
//! 4. the domain reads the zone ([`facegate_domain::mrz::read_zone`]): check
//!    digits, the repairs they confirm, the fields, the verdict.

pub mod analyze;
pub mod charset;
pub mod ctc;
pub mod detect;
mod error;
pub mod inspect;
pub mod page;
pub mod portrait;
pub mod quality;
pub mod text;

pub use error::DocumentsError;

use std::time::Instant;

use chrono::NaiveDate;
use facegate_domain::mrz::{read_zone, MrzFormat, MrzRead, OcrLine, MRZ_ALPHABET};
use facegate_vision::geometry::Point;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{Runtime, Session, Tensor};
use image::RgbImage;

pub use crate::analyze::{DocumentAnalyzer, DocumentReport, SideReport};
use crate::charset::ZoneClasses;
use crate::ctc::{Frames, CLASSES};
use crate::detect::{DbSettings, TextBox};
pub use crate::inspect::{DocumentInspector, DocumentSide, SideInspection, Thresholds};

/// The OCR models' ids in `models/manifest.json`.
pub mod ids {
    /// PaddleOCR PP-OCRv4 text detector (DB).
    pub const PPOCR_DET_V4: &str = "ppocr-det-v4";
    /// PaddleOCR PP-OCRv4 text recogniser (CTC).
    pub const PPOCR_REC_V4: &str = "ppocr-rec-v4";
}

/// How the reader looks for the zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReaderSettings {
    /// The detector sees the photo scaled down to this longest side.
    pub detect_max_side: u32,
    pub db: DbSettings,
    /// Boxes shorter than this many heights are not zone lines.
    pub min_aspect: f32,
    /// Most boxes recognised per side.
    pub max_recognitions: usize,
}

impl Default for ReaderSettings {
    fn default() -> Self {
        Self {
            detect_max_side: 960,
            db: DbSettings::default(),
            min_aspect: 8.0,
            max_recognitions: 8,
        }
    }
}

/// A character the recogniser found this plausible (peak probability) in a
/// cell is offered to the domain as a possible repair of that cell. Weaker
/// doubts are not: each one offered is another way for a wrong reading to
/// verify by chance (a check digit is right for one value in ten).
pub const REPAIR_DOUBT: f32 = 0.02;

/// A cell whose runner-up reaches this fraction of the read character's
/// peak probability is torn between them: it is passed to the domain as
/// unread, with both as candidates, so that only a check digit can settle
/// it (and nothing settles a name: the zone is then not readable rather
/// than read with a coin flip).
pub const TORN: f32 = 0.4;

/// A cell whose character has a lower share than this of what the cell
/// may hold ([`ctc::Decoded::shares`]) is not read either: the decoding
/// had to put a character where the recogniser saw (almost) none,
/// typically one it dropped from a run.
pub const MIN_SHARE: f32 = 0.1;

/// What an unread cell is passed as (outside the zone's alphabet).
const UNREAD: char = '?';

/// The recogniser's input height.
const REC_HEIGHT: usize = 48;
/// Widest recogniser input (a zone line is about 30 heights long).
const REC_MAX_WIDTH: usize = 3200;

/// One zone line as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadLine {
    /// The line's box in the photo, clockwise from the top left.
    pub corners: [Point; 4],
    /// The forced reading (the zone's width and grid).
    pub text: String,
    /// The recogniser's free reading, restricted to zone characters.
    pub free_text: String,
    /// The lowest peak probability of a character of `text`.
    pub confidence: f32,
    /// Each character's peak probability.
    pub peaks: Vec<f32>,
    /// Per character of `text`, the other characters its cell may hold that
    /// the recogniser found plausible there, with their peak probabilities.
    pub alternatives: Vec<Vec<(char, f32)>>,
}

/// Milliseconds spent, per stage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timing {
    pub detect_ms: f64,
    pub recognize_ms: f64,
    pub total_ms: f64,
    /// Boxes recognised.
    pub recognitions: usize,
}

/// What reading one document side gave.
#[derive(Debug, Clone, PartialEq)]
pub struct MrzReading {
    /// The domain's verdict on the zone.
    pub outcome: MrzRead,
    /// The zone's lines, top to bottom (empty when none was found).
    pub lines: Vec<ReadLine>,
    /// Text boxes the detector found.
    pub boxes: usize,
    /// The boxes that were recognised (bottom first), with their free
    /// readings: what the zone was looked for in.
    pub recognised: Vec<(TextBox, String)>,
    pub timing: Timing,
}

/// The OCR models, loaded once; one reader per worker thread.
pub struct MrzReader {
    det: Box<dyn Session>,
    rec: Box<dyn Session>,
    classes: ZoneClasses,
    settings: ReaderSettings,
}

impl std::fmt::Debug for MrzReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MrzReader")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A candidate line, recognised.
struct Recognised {
    b: TextBox,
    frames: Frames,
    free: Vec<usize>,
}

impl MrzReader {
    /// Loads (and checks against the manifest) both OCR models; reads the
    /// recogniser's character list from its metadata.
    pub fn new(store: &ModelStore, runtime: &dyn Runtime) -> Result<Self, DocumentsError> {
        let rec_bytes = store.read_verified(ids::PPOCR_REC_V4)?;
        let classes = ZoneClasses::from_model(&rec_bytes)?;
        let rec = runtime.load(ids::PPOCR_REC_V4, &rec_bytes)?;
        let det = store.load(runtime, ids::PPOCR_DET_V4)?;
        Ok(Self {
            det,
            rec,
            classes,
            settings: ReaderSettings::default(),
        })
    }

    #[must_use]
    pub fn with_settings(mut self, settings: ReaderSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn settings(&self) -> &ReaderSettings {
        &self.settings
    }

    /// Reads the zone of one document side. `today` dates two-digit birth
    /// years.
    pub fn read(
        &mut self,
        image: &RgbImage,
        today: NaiveDate,
    ) -> Result<MrzReading, DocumentsError> {
        let started = Instant::now();
        let boxes = self.detect(image)?;
        let detect_ms = ms(started);

        let rec_started = Instant::now();
        let mut candidates: Vec<TextBox> = detect::merge_collinear(boxes.clone())
            .into_iter()
            .filter(|b| b.aspect() >= self.settings.min_aspect)
            .collect();
        // Bottom first: the zone is the bottom of the page. "Down" is across
        // the longest line, so that a turned page keeps its order.
        let down = candidates
            .iter()
            .max_by(|a, b| a.length.total_cmp(&b.length))
            .map_or(Point::new(0.0, 1.0), |b| Point::new(-b.axis.y, b.axis.x));
        let depth = |b: &TextBox| b.center.x * down.x + b.center.y * down.y;
        candidates.sort_by(|a, b| depth(b).total_cmp(&depth(a)));
        let mut run: Vec<Recognised> = Vec::new();
        let mut zone: Option<(MrzFormat, Vec<Recognised>)> = None;
        let mut recognitions = 0;
        let mut recognised = Vec::new();
        let alphabet: Vec<char> = MRZ_ALPHABET.chars().collect();
        for b in candidates.into_iter().take(self.settings.max_recognitions) {
            let frames = self.recognise(image, &b)?;
            recognitions += 1;
            let free = ctc::greedy(&frames);
            recognised.push((
                b,
                free.iter()
                    .filter_map(|&c| alphabet.get(c.wrapping_sub(1)))
                    .collect(),
            ));
            let line = Recognised { b, frames, free };
            let joins = run
                .last()
                .is_some_and(|last| next_zone_line(&last.b, &line.b, down));
            if !joins {
                run.clear();
            }
            if zone_like(&line) {
                run.push(line);
            } else {
                run.clear();
                continue;
            }
            if let Some(format) = zone_format(&run) {
                let mut lines: Vec<Recognised> = run.drain(run.len() - format.lines()..).collect();
                lines.reverse();
                zone = Some((format, lines));
                break;
            }
        }

        let mut read_lines = Vec::new();
        let outcome = match zone {
            Some((format, lines)) => {
                let mut ocr = Vec::new();
                for (i, line) in lines.iter().enumerate() {
                    let (ocr_line, read) = self.decode(format, i, line);
                    ocr.push(ocr_line);
                    read_lines.push(read);
                }
                read_zone(&ocr, today)
            }
            None => read_zone(&[], today),
        };
        Ok(MrzReading {
            outcome,
            lines: read_lines,
            boxes: boxes.len(),
            recognised,
            timing: Timing {
                detect_ms,
                recognize_ms: ms(rec_started),
                total_ms: ms(started),
                recognitions,
            },
        })
    }

    /// Every text box the detector finds in the photo.
    pub fn text_boxes(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, DocumentsError> {
        self.detect(image)
    }

    /// Text boxes in the photo.
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, DocumentsError> {
        let (w, h) = (image.width().max(1), image.height().max(1));
        let max_side = self.settings.detect_max_side.max(32);
        let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
        let round32 = |v: f32| ((v / 32.0).round().max(1.0) as u32) * 32;
        let (dw, dh) = (round32(w as f32 * scale), round32(h as f32 * scale));
        let small = if dw < w && dh < h {
            image::imageops::thumbnail(image, dw, dh)
        } else {
            image::imageops::resize(image, dw, dh, image::imageops::FilterType::Triangle)
        };
        let (dw, dh) = (dw as usize, dh as usize);
        let mut data = vec![0.0f32; 3 * dw * dh];
        for (i, px) in small.pixels().enumerate() {
            // BGR, (x / 255 - 0.5) / 0.5.
            for (c, &v) in [px[2], px[1], px[0]].iter().enumerate() {
                data[c * dw * dh + i] = f32::from(v) / 127.5 - 1.0;
            }
        }
        let out = self
            .det
            .run(vec![Tensor::new(vec![1, 3, dh, dw], data)?])?
            .into_iter()
            .next()
            .ok_or_else(|| DocumentsError::Model("the detector gave no output".into()))?;
        if out.shape != [1, 1, dh, dw] {
            return Err(DocumentsError::Model(format!(
                "the detector's output is {:?}, expected [1, 1, {dh}, {dw}]",
                out.shape
            )));
        }
        Ok(detect::boxes(
            &out.data,
            dw,
            dh,
            w as f32 / dw as f32,
            h as f32 / dh as f32,
            &self.settings.db,
        ))
    }

    /// The recogniser's zone-character probabilities for one box.
    fn recognise(&mut self, image: &RgbImage, b: &TextBox) -> Result<Frames, DocumentsError> {
        let width = ((REC_HEIGHT as f32 * b.length / b.height.max(1.0)).ceil() as usize)
            .clamp(8, REC_MAX_WIDTH);
        let data = crop(image, b, width, REC_HEIGHT);
        let out = self
            .rec
            .run(vec![Tensor::new(vec![1, 3, REC_HEIGHT, width], data)?])?
            .into_iter()
            .next()
            .ok_or_else(|| DocumentsError::Model("the recogniser gave no output".into()))?;
        let [1, frames, total] = out.shape[..] else {
            return Err(DocumentsError::Model(format!(
                "the recogniser's output is {:?}, expected [1, frames, classes]",
                out.shape
            )));
        };
        if total != self.classes.total {
            return Err(DocumentsError::Model(format!(
                "the recogniser outputs {total} classes, its character list implies {}",
                self.classes.total
            )));
        }
        let mut probs = Vec::with_capacity(frames * CLASSES);
        for t in 0..frames {
            let row = &out.data[t * total..(t + 1) * total];
            probs.push(row[0]);
            probs.extend(self.classes.classes.iter().map(|&c| row[c]));
        }
        Ok(Frames { frames, probs })
    }

    /// A zone line's forced reading, as the domain's input and as evidence.
    fn decode(&self, format: MrzFormat, index: usize, line: &Recognised) -> (OcrLine, ReadLine) {
        let alphabet: Vec<char> = MRZ_ALPHABET.chars().collect();
        let allowed: Vec<[bool; 37]> = (0..format.width())
            .map(|p| {
                let class = format.cell(index, p);
                let mut a = [false; 37];
                for (slot, &c) in a.iter_mut().zip(&alphabet) {
                    *slot = class.admits(c);
                }
                a
            })
            .collect();
        let to_char = |class: usize| alphabet.get(class.wrapping_sub(1)).copied().unwrap_or('?');
        let free_text: String = line.free.iter().map(|&c| to_char(c)).collect();
        let (ocr, text, confidence, evidence, peaks) = match ctc::forced(&line.frames, &allowed) {
            Some(d) => {
                let text: String = d.classes.iter().map(|&c| to_char(c)).collect();
                let evidence: Vec<Vec<(char, f32)>> = d
                    .alternatives
                    .iter()
                    .map(|alts| alts.iter().map(|&(c, p)| (to_char(c), p)).collect())
                    .collect();
                // Only a strong doubt is offered to the repair (see
                // `REPAIR_DOUBT`); a cell torn between two characters is
                // not read at all (see `TORN`).
                let mut ocr_text = String::with_capacity(text.len());
                let mut alternatives: Vec<Vec<char>> = Vec::with_capacity(text.len());
                for (((c, alts), &peak), &share) in
                    text.chars().zip(&evidence).zip(&d.peaks).zip(&d.shares)
                {
                    let torn =
                        share < MIN_SHARE || alts.first().is_some_and(|&(_, p)| p >= TORN * peak);
                    let mut offered: Vec<char> = alts
                        .iter()
                        .filter(|&&(_, p)| p >= REPAIR_DOUBT)
                        .map(|&(a, _)| a)
                        .collect();
                    if torn {
                        offered.insert(0, c);
                        ocr_text.push(UNREAD);
                    } else {
                        ocr_text.push(c);
                    }
                    alternatives.push(offered);
                }
                let confidence = d.peaks.iter().copied().fold(1.0f32, f32::min);
                (
                    OcrLine {
                        text: ocr_text,
                        alternatives,
                    },
                    text,
                    confidence,
                    evidence,
                    d.peaks.clone(),
                )
            }
            // Fewer frames than cells: the free reading is all there is.
            None => (
                OcrLine::plain(free_text.clone()),
                free_text.clone(),
                0.0,
                Vec::new(),
                Vec::new(),
            ),
        };
        let read = ReadLine {
            corners: line.b.corners(),
            text,
            free_text,
            confidence,
            alternatives: evidence,
            peaks,
        };
        (ocr, read)
    }
}

/// Whether a recognised box can be a zone line: long enough a reading
/// (a blurred line loses fillers, so well under a TD1 line's 30).
fn zone_like(line: &Recognised) -> bool {
    line.free.len() >= 18
}

/// Whether `upper`, found just above `lower`, is the zone line above it:
/// parallel, of about the same length and height (a zone is a grid of
/// equal lines), at a line's spacing.
fn next_zone_line(lower: &TextBox, upper: &TextBox, down: Point) -> bool {
    let dot = lower.axis.x * upper.axis.x + lower.axis.y * upper.axis.y;
    let (h_lo, h_hi) = (
        lower.height.min(upper.height),
        lower.height.max(upper.height),
    );
    let (l_lo, l_hi) = (
        lower.length.min(upper.length),
        lower.length.max(upper.length),
    );
    let depth =
        (lower.center.x - upper.center.x) * down.x + (lower.center.y - upper.center.y) * down.y;
    let spacing = depth / ((lower.height + upper.height) / 2.0);
    dot >= 5f32.to_radians().cos()
        && h_hi <= 1.4 * h_lo
        && l_hi <= 1.2 * l_lo
        && (0.5..=3.0).contains(&spacing)
}

/// The format of the zone whose lines end the run (bottom line first),
/// when the run holds one: two lines of which one reads about 44
/// characters (TD3) or both about 36 (TD2); three lines of about 30 (TD1).
/// A blurred line reads short (runs of fillers merge), never long.
fn zone_format(run: &[Recognised]) -> Option<MrzFormat> {
    let n = |i: usize| run[run.len() - 1 - i].free.len();
    if run.len() >= 2 {
        let longest = n(0).max(n(1));
        if (39..=48).contains(&longest) {
            return Some(MrzFormat::Td3);
        }
        if (33..=38).contains(&n(0)) && (33..=38).contains(&n(1)) {
            return Some(MrzFormat::Td2);
        }
    }
    if run.len() >= 3 && (0..3).all(|i| n(i) <= 34) {
        return Some(MrzFormat::Td1);
    }
    None
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The box cut out upright as the recogniser's `[3, height, width]` input
/// (BGR, `(x / 255 - 0.5) / 0.5`), area-averaged where the photo is finer.
fn crop(image: &RgbImage, b: &TextBox, width: usize, height: usize) -> Vec<f32> {
    let s = b.height / height as f32; // photo pixels per output pixel
    let [top_left, ..] = b.corners();
    let (u, v) = (b.axis, Point::new(-b.axis.y, b.axis.x));
    let taps = (s.ceil() as usize).clamp(1, 4);
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let sample = |x: f32, y: f32| -> [f32; 3] {
        // Pixel-centre coordinates, border repeated.
        let x = (x - 0.5).clamp(0.0, (iw.max(1) - 1) as f32);
        let y = (y - 0.5).clamp(0.0, (ih.max(1) - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let (x1, y1) = ((x0 + 1).min(iw - 1), (y0 + 1).min(ih - 1));
        let px = |xx: usize, yy: usize, c: usize| f32::from(raw[(yy * iw + xx) * 3 + c]);
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let top = px(x0, y0, c) * (1.0 - fx) + px(x1, y0, c) * fx;
            let bottom = px(x0, y1, c) * (1.0 - fx) + px(x1, y1, c) * fx;
            *o = top * (1.0 - fy) + bottom * fy;
        }
        out
    };
    let mut data = vec![0.0f32; 3 * width * height];
    if iw == 0 || ih == 0 {
        return data;
    }
    let plane = width * height;
    for oy in 0..height {
        for ox in 0..width {
            let mut acc = [0.0f32; 3];
            for ty in 0..taps {
                for tx in 0..taps {
                    let a = (ox as f32 + (tx as f32 + 0.5) / taps as f32) * s;
                    let bb = (oy as f32 + (ty as f32 + 0.5) / taps as f32) * s;
                    let p = sample(
                        top_left.x + u.x * a + v.x * bb,
                        top_left.y + u.y * a + v.y * bb,
                    );
                    for c in 0..3 {
                        acc[c] += p[c];
                    }
                }
            }
            let n = (taps * taps) as f32;
            let i = oy * width + ox;
            // BGR planes.
            data[i] = acc[2] / n / 127.5 - 1.0;
            data[plane + i] = acc[1] / n / 127.5 - 1.0;
            data[2 * plane + i] = acc[0] / n / 127.5 - 1.0;
        }
    }
    data
}
