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
//!    digits, the repairs they confirm, the fields, the verdict;
//! 5. a zone that is not readable so is read once more from step 1 with the
//!    detector at [`ReaderSettings::coarse_detect_max_side`] (a blurred or
//!    dark photo is sharper scaled down, and its lines are found and cut
//!    out differently there); only a valid reading of that view replaces
//!    the first verdict.

pub mod analyze;
pub mod charset;
pub mod ctc;
pub mod detect;
mod error;
pub mod grid;
pub mod inspect;
pub mod page;
pub mod portrait;
pub mod quality;
pub mod text;

pub use error::DocumentsError;

use std::time::Instant;

use chrono::NaiveDate;
use facegate_domain::mrz::{
    read_zone, CellClass, MrzFormat, MrzRead, NotReadable, OcrLine, Repair, MRZ_ALPHABET,
};
use facegate_vision::geometry::Point;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{Runtime, Session, Tensor};
use image::RgbImage;

pub use crate::analyze::{DocumentAnalyzer, DocumentReport, SideReport, Turn};
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
    /// A photo whose zone is not readable at `detect_max_side` is read
    /// again with the detector at this size (0: not).
    pub coarse_detect_max_side: u32,
    /// A zone found but not readable is detected again close up (see
    /// `MrzReader::close_look`).
    pub close_look: bool,
    pub db: DbSettings,
    /// Boxes shorter than this many heights are not zone lines.
    pub min_aspect: f32,
    /// Most boxes recognised per side.
    pub max_recognitions: usize,
    /// A line is cut out this many times as tall as its box (centred): the
    /// recogniser is surer of small characters with room around them.
    pub crop_height: f32,
    /// When the first reading of the zone is not valid, the lines with
    /// unsettled cells (all lines, when a check failed) are read again cut
    /// out these many times as tall as their box (0: not), and the
    /// readings combined cell by cell. The recogniser takes a small `<` for
    /// a `K`, and a large `K` for a `<`: views at both sides of the first
    /// settle such cells.
    pub reread_crop_heights: [f32; 2],
    /// How sure of a cell's character the reader must be to read it.
    pub trust: Trust,
    /// Gaussian smoothing of the recogniser's input (sigma in its pixels;
    /// 0: none): sensor noise, low light and strong JPEG put pixel noise on
    /// the characters that the recogniser takes for strokes (an `I` read
    /// as `H`).
    pub smooth: f32,
}

/// The least share (see `read_cells`) a cell's character needs to be read.
/// Below `checked`, a cell a check digit covers is passed as unseen: any
/// character it admits may be there (a weak reading's few candidates often
/// miss the truth, and a check digit could then confirm a wrong one by
/// chance). Below `unchecked`, a cell no check digit covers (names, codes,
/// sex) is not read: nothing would catch a wrong character there. Measured
/// on seeds other than the reported one: letters read with a share of 0.5
/// to 0.7 were wrong 2 % of the time (blurred fillers read as `C`), above
/// 0.7 one in 6 000; checked cells under 0.5 were wrong 20 to 90 % of the
/// time (blurred fillers read as `4`).
///
/// A blurred or glared line lowers every share (the recogniser is less
/// sure that a character is there at all) while the choice between the
/// characters stays clear: an unchecked cell whose share is at least
/// `unchecked_decisive` is read when its runner-up has less than
/// `decisive` of its share. Measured on seed 7 (the reported run is seed
/// 1; `mrz_read_rate --cells`): unchecked cells with a share of 0.3 to 0.7
/// and a runner-up under 5 % of it were right 61 times out of 61; with a
/// runner-up of 5 to 15 % of it, wrong 3 times out of 38.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trust {
    pub checked: f32,
    pub unchecked: f32,
    pub unchecked_decisive: f32,
    pub decisive: f32,
}

impl Default for ReaderSettings {
    fn default() -> Self {
        Self {
            detect_max_side: 960,
            coarse_detect_max_side: 640,
            close_look: true,
            db: DbSettings::default(),
            min_aspect: 8.0,
            max_recognitions: 8,
            crop_height: 1.0,
            reread_crop_heights: [0.85, 1.3],
            trust: Trust {
                checked: 0.5,
                unchecked: 0.7,
                unchecked_decisive: 0.3,
                decisive: 0.05,
            },
            smooth: 1.2,
        }
    }
}

/// A character the recogniser found this plausible (peak probability) in a
/// cell is offered to the domain as a possible repair of that cell. Weaker
/// doubts are not: each one offered is another way for a wrong reading to
/// verify by chance (a check digit is right for one value in ten).
pub const REPAIR_DOUBT: f32 = 0.02;

/// A check digit may overrule a character the recogniser read with a
/// runner-up under this fraction of its share only for the runner-up's
/// OCR-B twin (see [`twins`]). Any other runner-up that weak is not offered
/// to the repair: the check digit would otherwise "repair" an altered
/// digit back to a value that verifies (a `9` printed over a `1`, read
/// with a 10 % runner-up `1`), and an altered zone would read valid. With
/// it, the failed check stands (`MRZ_CHECK_FAILED`).
pub const STRONG_DOUBT: f32 = 0.25;

/// Letters and digits OCR-B draws alike, which OCR of the zone is known to
/// confuse: a check digit may
/// settle between them however sure the recogniser was.
fn twins(a: char, b: char) -> bool {
    const PAIRS: [(char, char); 8] = [
        ('0', 'O'),
        ('0', 'D'),
        ('0', 'Q'),
        ('1', 'I'),
        ('2', 'Z'),
        ('5', 'S'),
        ('6', 'G'),
        ('8', 'B'),
    ];
    PAIRS
        .iter()
        .any(|&(x, y)| (a, b) == (x, y) || (a, b) == (y, x))
}

/// A cell whose runner-up reaches this fraction of the read character's
/// peak probability is torn between them: it is passed to the domain as
/// unread, with both as candidates, so that only a check digit can settle
/// it (and nothing settles a name: the zone is then not readable rather
/// than read with a coin flip).
pub const TORN: f32 = 0.4;

/// A cell whose best character has a lower share than this of what the
/// cell may hold (see [`read_cells`]) is unseen: the recogniser saw
/// (almost) nothing there (a character it dropped from a run, one a glare
/// washed out). It is passed as unread with no candidates: any character
/// the cell admits may be there.
pub const MIN_SHARE: f32 = 0.1;

/// [`TORN`] for a runner-up that the check digits covering the cell cannot
/// tell from the read character (their values are equal modulo 10).
pub const BLIND_TORN: f32 = 0.1;

/// The ICAO value of zone character `j` (alphabet order): digits and
/// letters are their index, the filler 0.
fn icao_value(j: usize) -> usize {
    if j == 36 {
        0
    } else {
        j
    }
}

/// A share below this counts as this much when readings are combined (a
/// character one view does not see at all is not ruled out by it alone).
const SHARE_FLOOR: f32 = 1e-3;

/// What an unread cell is passed as (outside the zone's alphabet).
const UNREAD: char = '?';

/// Lines above and below a zone-like piece that its region holds.
const REGION_LINES: f32 = 3.5;
/// A line's height in the region cut out for detecting it again.
const REGION_LINE_PX: f32 = 36.0;
/// Most pixels a side of that region has.
const REGION_MAX_SIDE: usize = 1600;

/// The recogniser's input height.
const REC_HEIGHT: usize = 48;
/// Widest recogniser input (a zone line is about 30 heights long).
const REC_MAX_WIDTH: usize = 3200;

/// One zone line as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadLine {
    /// The line's box in the photo, clockwise from the top left.
    pub corners: [Point; 4],
    /// The box itself (as cut out and read).
    pub line_box: TextBox,
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

impl MrzReading {
    /// Another look's reading when it read the zone (valid, or a
    /// specimen's), else this one: another look replaces a verdict only by
    /// a reading of the zone. Either way with the time of both looks.
    fn or_valid(self, other: Self) -> Self {
        let (mut kept, spent) =
            if matches!(other.outcome, MrzRead::Valid(_) | MrzRead::Specimen { .. }) {
                (other, self.timing)
            } else {
                (self, other.timing)
            };
        let t = &mut kept.timing;
        t.detect_ms += spent.detect_ms;
        t.recognize_ms += spent.recognize_ms;
        t.total_ms += spent.total_ms;
        t.recognitions += spent.recognitions;
        kept
    }
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
    /// Photo pixels along the box's axis per frame (frame `t` is centred
    /// `(t + 0.5) · step` from the box's left end).
    step: f32,
    /// Where this view's box starts along its line's box, in photo pixels
    /// from the line's left end (0 for a view of the whole line).
    origin: f32,
    /// A view of the whole line: its characters place the line's grid.
    whole: bool,
}

/// What [`MrzReader::find_zone_near`] found: the zone (if any), the boxes
/// detected in the region and the detection's milliseconds.
struct NearZone {
    zone: Option<(MrzFormat, Vec<Recognised>)>,
    boxes: usize,
    detect_ms: f64,
}

/// Zone characters of classes (1..=37).
fn text_of(classes: &[usize]) -> String {
    let alphabet: Vec<char> = MRZ_ALPHABET.chars().collect();
    classes
        .iter()
        .filter_map(|&c| alphabet.get(c.wrapping_sub(1)))
        .collect()
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
        let detect_max_side = self.settings.detect_max_side;
        let mut reading = self.read_at(image, detect_max_side, true, today)?;
        if matches!(reading.outcome, MrzRead::NotReadable(_)) {
            if let Some(close) = self.close_look(image, &reading, today)? {
                // A check that fails is not looked at again: each look is
                // another chance for a repair to make an altered check
                // digit hold.
                reading = reading.or_valid(close);
            }
        }
        let coarse = self.settings.coarse_detect_max_side;
        if !matches!(reading.outcome, MrzRead::NotReadable(_))
            || coarse == 0
            || image.width().max(image.height()) <= coarse
        {
            return Ok(reading);
        }
        // Not readable at the detector's size: a blurred photo is sharper
        // scaled down, and the detector finds (and cuts out) its lines
        // differently there. (A check failing only there is a misreading
        // of the coarser view, not a forgery.)
        let second = self.read_at(image, coarse, false, today)?;
        Ok(reading.or_valid(second))
    }

    /// The zone `first` found but could not read, detected again close up:
    /// the region around its middle line cut out upright at
    /// [`REGION_LINE_PX`] a line, and searched and read as the photo was
    /// (none when no zone was found, or [`ReaderSettings::close_look`] is
    /// off). The detector places a box's edges to about one of its pixels:
    /// a zone small at its size (a document filling a quarter of a
    /// high-resolution photo, a card on a flatbed scan of a page) is found
    /// with boxes up to twice as tall as its lines and off centre, and the
    /// recogniser reads lines cut out that way differently. Close up, the
    /// boxes fit the lines.
    fn close_look(
        &mut self,
        image: &RgbImage,
        first: &MrzReading,
        today: NaiveDate,
    ) -> Result<Option<MrzReading>, DocumentsError> {
        let Some(middle) = first.lines.get(first.lines.len() / 2) else {
            return Ok(None);
        };
        if !self.settings.close_look {
            return Ok(None);
        }
        let started = Instant::now();
        let (mut recognitions, mut recognised) = (0, Vec::new());
        let near =
            self.find_zone_near(image, &middle.line_box, &mut recognised, &mut recognitions)?;
        let mut read_lines = Vec::new();
        let outcome =
            self.read_found_zone(image, near.zone, today, &mut read_lines, &mut recognitions)?;
        let total_ms = ms(started);
        Ok(Some(MrzReading {
            outcome,
            lines: read_lines,
            boxes: near.boxes,
            recognised,
            timing: Timing {
                detect_ms: near.detect_ms,
                recognize_ms: total_ms - near.detect_ms,
                total_ms,
                recognitions,
            },
        }))
    }

    /// The zone near `hint` (a zone-like line): the region around it
    /// detected again, upright and larger ([`MrzReader::detect_region`]),
    /// and searched from the bottom of `hint`'s own "down".
    fn find_zone_near(
        &mut self,
        image: &RgbImage,
        hint: &TextBox,
        recognised: &mut Vec<(TextBox, String)>,
        recognitions: &mut usize,
    ) -> Result<NearZone, DocumentsError> {
        let started = Instant::now();
        let region = self.detect_region(image, hint)?;
        let detect_ms = ms(started);
        let down = Point::new(-hint.axis.y, hint.axis.x);
        let zone = self.find_zone(image, &region, Some(down), recognised, recognitions)?;
        Ok(NearZone {
            zone,
            boxes: region.len(),
            detect_ms,
        })
    }

    /// [`MrzReader::read`] with the detector at `detect_max_side`, and at
    /// the photo's own size when nothing zone-like is found (`fine`).
    fn read_at(
        &mut self,
        image: &RgbImage,
        detect_max_side: u32,
        fine: bool,
        today: NaiveDate,
    ) -> Result<MrzReading, DocumentsError> {
        let started = Instant::now();
        let boxes = self.detect_at(image, detect_max_side)?;
        let detect_ms = ms(started);

        let rec_started = Instant::now();
        let mut recognitions = 0;
        let mut recognised = Vec::new();
        let mut zone = self.find_zone(image, &boxes, None, &mut recognised, &mut recognitions)?;
        if zone.is_none() {
            // No zone among the photo's lines, but maybe pieces of one: the
            // region around the longest zone-like reading is detected again,
            // upright and larger (a steep view merges or breaks lines).
            let hint = recognised
                .iter()
                .filter(|(_, text)| zone_hint(text))
                .max_by_key(|(_, text)| text.len())
                .map(|(b, _)| *b);
            if let Some(hint) = hint {
                zone = self
                    .find_zone_near(image, &hint, &mut recognised, &mut recognitions)?
                    .zone;
            }
        }
        let full_side = image.width().max(image.height());
        if zone.is_none() && fine && full_side > detect_max_side {
            // Nothing zone-like at all: a small or steeply turned page puts
            // the zone's lines a few pixels apart at the detector's size,
            // and it finds them as one blot. Detected again at the photo's
            // own size.
            let fine = self.detect_at(image, full_side.min(FINE_DETECT_MAX_SIDE))?;
            zone = self.find_zone(image, &fine, None, &mut recognised, &mut recognitions)?;
        }

        let mut read_lines = Vec::new();
        let outcome =
            self.read_found_zone(image, zone, today, &mut read_lines, &mut recognitions)?;
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

    /// The verdict on `zone` (none found: no zone): each line completed to
    /// the format's width and read cell by cell; when that is not valid,
    /// the unsettled cells (every line, when a check failed) read again at
    /// other crop heights and the views combined. `read_lines` becomes the
    /// evidence; `recognitions` counts the boxes recognised.
    fn read_found_zone(
        &mut self,
        image: &RgbImage,
        zone: Option<(MrzFormat, Vec<Recognised>)>,
        today: NaiveDate,
        read_lines: &mut Vec<ReadLine>,
        recognitions: &mut usize,
    ) -> Result<MrzRead, DocumentsError> {
        let Some((format, lines)) = zone else {
            return Ok(read_zone(&[], today));
        };
        // Each line's views: its (completed) box cut out and read
        // at one crop height or more.
        let mut views: Vec<Vec<Recognised>> = Vec::new();
        for line in lines {
            let (line, extra) = self.complete(image, line, format.width())?;
            *recognitions += extra;
            views.push(vec![line]);
        }
        let mut outcome = verdict(format, self.settings.trust, &views, read_lines, today);
        if !matches!(outcome, MrzRead::Valid(_) | MrzRead::Specimen { .. }) {
            // The unsettled cells (with some context around them),
            // or every line whole when a check failed.
            let unsettled = match &outcome {
                MrzRead::NotReadable(NotReadable::UnsettledCells(cells)) => Some(cells.clone()),
                _ => None,
            };
            for (i, line_views) in views.iter_mut().enumerate() {
                let width = format.width();
                let parts = match &unsettled {
                    Some(cells) => {
                        // Cells where the recogniser saw nothing
                        // over a run (a glare erased them) are not
                        // read again; a lone one is most often a
                        // filler the recogniser merged into its
                        // neighbours, which another view shows.
                        let unseen = |p: usize| {
                            read_lines
                                .get(i)
                                .and_then(|r| r.peaks.get(p))
                                .is_some_and(|&peak| peak < MIN_SHARE)
                        };
                        let erased =
                            |p: usize| unseen(p) && ((p > 0 && unseen(p - 1)) || unseen(p + 1));
                        let here: Vec<usize> = cells
                            .iter()
                            .filter(|&&(l, p)| l == i && !erased(p))
                            .map(|&(_, p)| p)
                            .collect();
                        segments(&here, width)
                    }
                    None => vec![(0, width - 1)],
                };
                if parts.is_empty() {
                    continue;
                }
                let grid = line_grid(line_views, &allowed(format, i));
                let line = line_views[0].b;
                for height in self.settings.reread_crop_heights {
                    if height <= 0.0 {
                        continue;
                    }
                    for &(a, z) in &parts {
                        let view = match grid {
                            // Half a cell of margin either side
                            // (a cell at the cut is misread),
                            // up to a cell beyond the line's ends.
                            Some(g) if z - a + 1 < width => self.recognise_segment(
                                image,
                                &line,
                                g.at(a as f32 - 1.0).max(g.at(-1.0)),
                                g.at(z as f32 + 1.0).min(g.at(width as f32)),
                                height,
                            )?,
                            _ => self.recognise_line_at(image, &line, height)?,
                        };
                        *recognitions += 1;
                        line_views.push(view);
                    }
                }
            }
            outcome = verdict(format, self.settings.trust, &views, read_lines, today);
        }
        Ok(outcome)
    }

    /// The zone among text boxes: from the bottom of the page up (`down`,
    /// or across the longest line), the long boxes are recognised until
    /// two or three consecutive lines are a zone's ([`zone_format`]).
    /// Every recognition is added to `recognised`.
    fn find_zone(
        &mut self,
        image: &RgbImage,
        boxes: &[TextBox],
        down: Option<Point>,
        recognised: &mut Vec<(TextBox, String)>,
        recognitions: &mut usize,
    ) -> Result<Option<(MrzFormat, Vec<Recognised>)>, DocumentsError> {
        let mut candidates: Vec<TextBox> = detect::merge_collinear(boxes.to_vec())
            .into_iter()
            .filter(|b| b.aspect() >= self.settings.min_aspect)
            .collect();
        // Bottom first: the zone is the bottom of the page. "Down" is across
        // the longest line, so that a turned page keeps its order.
        let down = down.unwrap_or_else(|| {
            candidates
                .iter()
                .max_by(|a, b| a.length.total_cmp(&b.length))
                .map_or(Point::new(0.0, 1.0), |b| Point::new(-b.axis.y, b.axis.x))
        });
        let depth = |b: &TextBox| b.center.x * down.x + b.center.y * down.y;
        candidates.sort_by(|a, b| depth(b).total_cmp(&depth(a)));
        let mut run: Vec<Recognised> = Vec::new();
        for b in candidates.into_iter().take(self.settings.max_recognitions) {
            let line = self.recognise_line(image, &b)?;
            *recognitions += 1;
            recognised.push((b, text_of(&line.free)));
            let joins = run
                .last()
                .is_some_and(|last| next_zone_line(&last.b, &line.b, down));
            if !joins {
                run.clear();
            }
            // A line read poorly stays in the run: its neighbours may show
            // the zone (see `zone_format`).
            run.push(line);
            if let Some(format) = zone_format(&run) {
                let mut lines: Vec<Recognised> = run.drain(run.len() - format.lines()..).collect();
                lines.reverse();
                return Ok(Some((format, lines)));
            }
        }
        Ok(None)
    }

    /// Text boxes (in photo pixels) in the region around `hint`: the box
    /// lengthened by half its length each way and [`REGION_LINES`] heights
    /// above and below it, cut out upright at [`REGION_LINE_PX`] pixels a
    /// line, and detected.
    fn detect_region(
        &mut self,
        image: &RgbImage,
        hint: &TextBox,
    ) -> Result<Vec<TextBox>, DocumentsError> {
        let scale = REGION_LINE_PX / hint.height.max(1.0);
        let (length, height) = (2.0 * hint.length, 2.0 * REGION_LINES * hint.height);
        let round32 = |v: f32| ((v / 32.0).round().max(1.0) as usize) * 32;
        let (w, h) = (
            round32(length * scale).min(REGION_MAX_SIDE),
            round32(height * scale).min(REGION_MAX_SIDE),
        );
        // Photo pixels per region pixel, along and across.
        let (sx, sy) = (length / w as f32, height / h as f32);
        let region = TextBox {
            center: hint.center,
            axis: hint.axis,
            length,
            height,
            score: hint.score,
        };
        let data = crop_scaled(image, &region, w, h);
        let out = self
            .det
            .run(vec![Tensor::new(vec![1, 3, h, w], data)?])?
            .into_iter()
            .next()
            .ok_or_else(|| DocumentsError::Model("the detector gave no output".into()))?;
        if out.shape != [1, 1, h, w] {
            return Err(DocumentsError::Model(format!(
                "the detector's output is {:?}, expected [1, 1, {h}, {w}]",
                out.shape
            )));
        }
        let (u, v) = (hint.axis, Point::new(-hint.axis.y, hint.axis.x));
        let [top_left, ..] = region.corners();
        Ok(detect::boxes(&out.data, w, h, 1.0, 1.0, &self.settings.db)
            .into_iter()
            .map(|b| {
                // Region pixels to photo pixels: a scale along and across,
                // then the region's rotation.
                let (x, y) = (b.center.x * sx, b.center.y * sy);
                let (ax, ay) = (b.axis.x * sx, b.axis.y * sy);
                let along = (ax * ax + ay * ay).sqrt().max(1e-6);
                let across = ((b.axis.y * sx).powi(2) + (b.axis.x * sy).powi(2)).sqrt();
                let mut axis =
                    Point::new((u.x * ax + v.x * ay) / along, (u.y * ax + v.y * ay) / along);
                if axis.x < 0.0 {
                    axis = Point::new(-axis.x, -axis.y);
                }
                TextBox {
                    center: Point::new(
                        top_left.x + u.x * x + v.x * y,
                        top_left.y + u.y * x + v.y * y,
                    ),
                    axis,
                    length: b.length * along,
                    height: b.height * across,
                    score: b.score,
                }
            })
            .collect())
    }

    /// One box cut out and recognised.
    fn recognise_line(
        &mut self,
        image: &RgbImage,
        b: &TextBox,
    ) -> Result<Recognised, DocumentsError> {
        self.recognise_line_at(image, b, self.settings.crop_height)
    }

    /// One box cut out `crop_height` times as tall as it is, and recognised.
    fn recognise_line_at(
        &mut self,
        image: &RgbImage,
        b: &TextBox,
        crop_height: f32,
    ) -> Result<Recognised, DocumentsError> {
        let line = *b;
        // Room at both ends too: the recogniser misreads a character at
        // the crop's edge.
        let pad = END_PAD * b.height;
        let tall = TextBox {
            height: b.height * crop_height,
            length: b.length + 2.0 * pad,
            ..*b
        };
        let b = &tall;
        let width = ((REC_HEIGHT as f32 * b.length / b.height.max(1.0)).ceil() as usize)
            .clamp(8, REC_MAX_WIDTH);
        let frames = self.recognise(image, b, width)?;
        let free = ctc::greedy(&frames);
        // The crop spans `width` output pixels of `b.height / REC_HEIGHT`
        // photo pixels each.
        let step = width as f32 * b.height / REC_HEIGHT as f32 / frames.frames.max(1) as f32;
        Ok(Recognised {
            b: line,
            frames,
            free,
            step,
            origin: -pad,
            whole: true,
        })
    }

    /// The part of line `line` (a view of the whole line) from `from` to
    /// `to` photo pixels along it, cut out `crop_height` times as tall as the
    /// line and recognised.
    fn recognise_segment(
        &mut self,
        image: &RgbImage,
        line: &TextBox,
        from: f32,
        to: f32,
        crop_height: f32,
    ) -> Result<Recognised, DocumentsError> {
        let shift = (from + to) / 2.0 - line.length / 2.0;
        let b = TextBox {
            center: Point::new(
                line.center.x + line.axis.x * shift,
                line.center.y + line.axis.y * shift,
            ),
            length: to - from,
            ..*line
        };
        let mut view = self.recognise_line_at(image, &b, crop_height)?;
        view.origin += from;
        view.whole = false;
        Ok(view)
    }

    /// A zone line whose box misses some of the line's cells (a run of
    /// fillers the detector did not see, typically at the end of a names
    /// line) cut out again, lengthened to hold all `cells` at the pitch its
    /// characters show; with the number of extra recognitions.
    fn complete(
        &mut self,
        image: &RgbImage,
        line: Recognised,
        cells: usize,
    ) -> Result<(Recognised, usize), DocumentsError> {
        let spikes = ctc::greedy_spikes(&line.frames);
        // The free reading's characters in order; the first ones (before any
        // run of fillers the recogniser may have shortened) weigh more, so
        // that the grid counts cells from the line's first character.
        let points: Vec<(f32, f32, f32)> = spikes
            .iter()
            .enumerate()
            .map(|(k, &(_, x, p))| (k as f32, x, if k < 8 { 2.0 * p } else { p }))
            .collect();
        let Some((grid, _)) = grid::fit(&points, cells, (points.len() / 2).max(6)) else {
            return Ok((line, 0));
        };
        let last = line.frames.frames as f32 - 0.5;
        let (start, end) = (grid.at(-0.2), grid.at(cells as f32 - 0.8));
        if start >= -0.5 && end <= last {
            return Ok((line, 0));
        }
        // The new extent along the box's axis, from its left end, in photo
        // pixels: never shorter than the box, at most three times as long.
        let lo = ((grid.at(-1.2) + 0.5) * line.step + line.origin).min(0.0);
        let hi = ((grid.at(cells as f32 + 0.2) + 0.5) * line.step + line.origin).max(line.b.length);
        if !(lo.is_finite() && hi.is_finite()) || hi - lo > 3.0 * line.b.length {
            return Ok((line, 0));
        }
        let left_end = line.b.length / 2.0;
        let shift = (lo + hi) / 2.0 - left_end;
        let b = TextBox {
            center: Point::new(
                line.b.center.x + line.b.axis.x * shift,
                line.b.center.y + line.b.axis.y * shift,
            ),
            length: hi - lo,
            ..line.b
        };
        Ok((self.recognise_line(image, &b)?, 1))
    }

    /// The recogniser's zone-character probabilities for one box (as a zone
    /// line is read; for inspecting a reading).
    pub fn recognise_box(
        &mut self,
        image: &RgbImage,
        b: &TextBox,
    ) -> Result<Frames, DocumentsError> {
        Ok(self.recognise_line(image, b)?.frames)
    }

    /// Every text box the detector finds in the photo.
    pub fn text_boxes(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, DocumentsError> {
        self.detect(image)
    }

    /// Text boxes in the photo.
    fn detect(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, DocumentsError> {
        self.detect_at(image, self.settings.detect_max_side)
    }

    /// Text boxes in the photo scaled down to `max_side` (never up).
    fn detect_at(
        &mut self,
        image: &RgbImage,
        max_side: u32,
    ) -> Result<Vec<TextBox>, DocumentsError> {
        let (w, h) = (image.width().max(1), image.height().max(1));
        let max_side = max_side.max(32);
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
    fn recognise(
        &mut self,
        image: &RgbImage,
        b: &TextBox,
        width: usize,
    ) -> Result<Frames, DocumentsError> {
        let t0 = Instant::now();
        let mut data = crop(image, b, width, REC_HEIGHT);
        if self.settings.smooth > 0.0 {
            smooth(&mut data, width, REC_HEIGHT, self.settings.smooth);
        }
        let t1 = Instant::now();
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
        if std::env::var_os("MRZ_TIME").is_some() {
            eprintln!(
                "TIME crop {:.1} ms, rec {:.1} ms, width {width}",
                (t1 - t0).as_secs_f64() * 1e3,
                t1.elapsed().as_secs_f64() * 1e3
            );
        }
        let mut probs = Vec::with_capacity(frames * CLASSES);
        for t in 0..frames {
            let row = &out.data[t * total..(t + 1) * total];
            probs.push(row[0]);
            probs.extend(self.classes.classes.iter().map(|&c| row[c]));
        }
        Ok(Frames { frames, probs })
    }
}

/// The domain's verdict on the zone's lines as read so far (each line's
/// views read cell by cell and combined); `read_lines` becomes the
/// evidence. A failed check is fraud only when every view read the
/// characters it covers alike: the zone is then judged again with each
/// checked cell some view read as another character in doubt (see
/// `combine`).
fn verdict(
    format: MrzFormat,
    trust: Trust,
    views: &[Vec<Recognised>],
    read_lines: &mut Vec<ReadLine>,
    today: NaiveDate,
) -> MrzRead {
    match judge(format, trust, views, read_lines, today, false) {
        MrzRead::CheckFailed(_) => judge(format, trust, views, read_lines, today, true),
        read => read,
    }
}

/// [`verdict`] with or without `disputes`.
fn judge(
    format: MrzFormat,
    trust: Trust,
    views: &[Vec<Recognised>],
    read_lines: &mut Vec<ReadLine>,
    today: NaiveDate,
    disputes: bool,
) -> MrzRead {
    read_lines.clear();
    let mut ocr = Vec::new();
    for (i, line_views) in views.iter().enumerate() {
        let readings = read_cells(line_views, &allowed(format, i));
        let (ocr_line, read) = combine(format, i, &line_views[0], &readings, trust, disputes);
        ocr.push(ocr_line);
        read_lines.push(read);
    }
    let read = read_zone(&ocr, today);
    let untrusted: Vec<(usize, usize)> = match &read {
        MrzRead::Valid(zone) | MrzRead::Specimen { zone, .. } => zone
            .repairs
            .iter()
            .filter(|r| !trusted_repair(r, read_lines))
            .map(|r| (r.line, r.position))
            .collect(),
        _ => Vec::new(),
    };
    if untrusted.is_empty() {
        read
    } else {
        MrzRead::NotReadable(NotReadable::UnsettledCells(untrusted))
    }
}

/// Whether a check digit's repair of a read cell can be trusted: the
/// recogniser had a strong doubt there (the repaired character at least
/// [`STRONG_DOUBT`] of the read one's share), and the repaired character
/// is not the one read beside it (unless they are twins).
///
/// A repair on weaker evidence is a guess the check digit happened to
/// confirm, and a zone whose check digit was altered reads valid that way
/// (with a date of birth or a document number the page does not show):
/// - a twin read with a 3 % runner-up (`L03Z56605` "repaired" into
///   `L0325660`, `facegate eval documents --effects tampered_check_digit`
///   seed 1);
/// - the character of a neighbouring cell, which the recogniser's window
///   of a cell takes in at its edges (`GH2004755`: the `7` read with a
///   30 % runner-up `4`; `mrz_read_rate --effects tampered_check_digit`, 3
///   of the 80 sides of seeds 1 and 7).
///
/// Such a reading is not readable: the holder photographs the document
/// again. The weak doubts are still offered to the domain (`combine`): in
/// a check that fails they keep the zone in doubt (not readable) rather
/// than forged; they are only not trusted to make a check hold. Repairs of
/// unread cells (nothing, or a torn choice, was read) are the check
/// digit's to make.
fn trusted_repair(repair: &Repair, read_lines: &[ReadLine]) -> bool {
    let Some(read) = repair.read else {
        return true;
    };
    let Some(line) = read_lines.get(repair.line) else {
        return false;
    };
    let cells: Vec<char> = line.text.chars().collect();
    let peak = line.peaks.get(repair.position).copied().unwrap_or(0.0);
    let doubt = line
        .alternatives
        .get(repair.position)
        .and_then(|alts| alts.iter().find(|(a, _)| *a == repair.repaired))
        .map_or(0.0, |&(_, p)| p);
    let beside = [repair.position.checked_sub(1), Some(repair.position + 1)]
        .into_iter()
        .flatten()
        .any(|m| cells.get(m) == Some(&repair.repaired));
    doubt >= STRONG_DOUBT * peak && (twins(read, repair.repaired) || !beside)
}

/// What each cell of line `index` may hold, as flags in zone-character
/// order.
fn allowed(format: MrzFormat, index: usize) -> Vec<[bool; 37]> {
    let alphabet: Vec<char> = MRZ_ALPHABET.chars().collect();
    (0..format.width())
        .map(|p| {
            let class = format.cell(index, p);
            let mut a = [false; 37];
            for (slot, &c) in a.iter_mut().zip(&alphabet) {
                *slot = class.admits(c);
            }
            a
        })
        .collect()
}

/// A zone line's readings (one per view of it) combined into the domain's
/// input and the evidence: each cell's shares combined over the readings
/// (their geometric mean: a character has to be plausible in every view),
/// the best character read unless a runner-up comes close (see [`TORN`])
/// or it has too small a share ([`MIN_SHARE`]).
fn combine(
    format: MrzFormat,
    index: usize,
    line: &Recognised,
    readings: &[Vec<Option<[f32; 37]>>],
    trust: Trust,
    disputes: bool,
) -> (OcrLine, ReadLine) {
    let width = format.width();
    let alphabet: Vec<char> = MRZ_ALPHABET.chars().collect();
    let free_text = text_of(&line.free);
    let mut read = ReadLine {
        corners: line.b.corners(),
        line_box: line.b,
        text: String::new(),
        free_text,
        confidence: 0.0,
        peaks: Vec::new(),
        alternatives: Vec::new(),
    };
    if readings.is_empty() {
        // No grid the characters agree on: no cell is known to be where
        // it was read.
        read.text = read.free_text.clone();
        return (OcrLine::plain(UNREAD.to_string().repeat(width)), read);
    }
    let mut ocr = OcrLine::default();
    for n in 0..width {
        let mean = combine_views(readings.iter().filter_map(|r| r[n].as_ref()));
        let mut order: Vec<usize> = (0..37).filter(|&j| mean[j] > 0.0).collect();
        order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]));
        let Some(&best) = order.first() else {
            read.text.push(UNREAD);
            read.peaks.push(0.0);
            read.alternatives.push(Vec::new());
            ocr.text.push(UNREAD);
            ocr.alternatives.push(Vec::new());
            continue;
        };
        let c = alphabet[best];
        let share = mean[best];
        if std::env::var_os("MRZ_TRACE").is_some() {
            let per: Vec<String> = readings
                .iter()
                .map(|r| {
                    let mut o: Vec<usize> = (0..37).collect();
                    let Some(r) = r[n] else {
                        return "-".to_string();
                    };
                    o.sort_by(|&a, &b| r[b].total_cmp(&r[a]));
                    o[..3]
                        .iter()
                        .map(|&j| format!("{}{:.2}", alphabet[j], r[j]))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            eprintln!("TRACE cell {n}: {} | {}", c, per.join(" | "));
        }
        let others: Vec<(char, f32)> = order[1..]
            .iter()
            .map(|&j| (alphabet[j], mean[j]))
            .filter(|&(_, p)| p >= ctc::ALTERNATIVE_MIN)
            .take(ctc::MAX_ALTERNATIVES)
            .collect();
        // Only a strong doubt is offered to the repair (see
        // `REPAIR_DOUBT`); a cell torn between two characters is not read
        // at all (see `TORN`).
        let checked_cell = !matches!(
            format.cell(index, n),
            CellClass::Letter | CellClass::DocumentCode | CellClass::Sex
        );
        // Weak evidence: the cell's character is not among a few the
        // recogniser hesitates between, it may be anything (a cell no check
        // digit covers stays unread either way).
        let unseen = share
            < if checked_cell {
                trust.checked
            } else {
                MIN_SHARE
            };
        let runner_up = order.get(1).map_or(0.0, |&j| mean[j]);
        let decisive = share >= trust.unchecked_decisive && runner_up < trust.decisive * share;
        let weak = !checked_cell && share < trust.unchecked && !decisive;
        // A check digit cannot tell apart characters whose values are
        // equal modulo 10 (`6` and `G`, `8` and `S`, `0` and `<`): in a
        // cell it covers, such a runner-up tears the cell much sooner.
        let torn = order[1..].iter().any(|&j| {
            let limit = if checked_cell && icao_value(j) % 10 == icao_value(best) % 10 {
                BLIND_TORN
            } else {
                TORN
            };
            mean[j] >= limit * share
        });
        let mut offered: Vec<char> = others
            .iter()
            .filter(|&&(a, p)| p >= REPAIR_DOUBT && (twins(c, a) || p >= STRONG_DOUBT * share))
            .map(|&(a, _)| a)
            .collect();
        // Views that saw another character there: under glare or a steep
        // view one crop reads a stroke another does not, and a check digit
        // that fails over such a cell is a reading in doubt, not a zone
        // that was altered (an altered character is printed as clearly as
        // the others, and every view reads it alike). Asked for only once
        // a check failed: a reading whose checks hold stays as it is.
        let disputed: Vec<char> = if checked_cell && disputes {
            readings
                .iter()
                .filter_map(|r| r[n].as_ref())
                .filter(|r| r.iter().sum::<f32>() >= MIN_SHARE)
                .filter_map(|r| (0..37).max_by(|&a, &b| r[a].total_cmp(&r[b])))
                .filter(|&j| j != best)
                .map(|j| alphabet[j])
                .collect()
        } else {
            Vec::new()
        };
        for a in &disputed {
            if !offered.contains(a) {
                offered.push(*a);
            }
        }
        if unseen {
            // Nothing the recogniser saw says what the cell holds: it may
            // hold anything it admits (no alternatives), so that only a
            // check digit that admits exactly one of them settles it.
            offered.clear();
            ocr.text.push(UNREAD);
        } else if torn || weak || !disputed.is_empty() {
            offered.insert(0, c);
            ocr.text.push(UNREAD);
        } else {
            ocr.text.push(c);
        }
        ocr.alternatives.push(offered);
        read.text.push(c);
        read.peaks.push(share);
        read.alternatives.push(others);
    }
    read.confidence = read.peaks.iter().copied().fold(1.0f32, f32::min);
    (ocr, read)
}

/// One cell's shares over its views combined: which character it holds is
/// the geometric mean of the views' choices (each view's shares as a
/// distribution over what the cell admits: a character has to be plausible
/// in every view, and the runners-up keep their ratio to it over every
/// view), how sure the recogniser is of it is the surest view's (a view
/// that cut the cell, or merged a filler into its neighbours, saw less ink
/// without seeing another character). One view's shares are kept as
/// they are.
/// A view that saw almost nothing there ([`MIN_SHARE`]) abstains, unless
/// no view saw more.
fn combine_views<'a>(shown: impl Iterator<Item = &'a [f32; 37]>) -> [f32; 37] {
    let shown: Vec<(&[f32; 37], f32)> = shown.map(|r| (r, r.iter().sum::<f32>())).collect();
    let ink = shown.iter().map(|&(_, s)| s).fold(0.0f32, f32::max);
    let seen: Vec<(&[f32; 37], f32)> = shown
        .into_iter()
        .filter(|&(_, s)| s > 0.0 && (s >= MIN_SHARE || ink < MIN_SHARE))
        .collect();
    let mut mean = [0f32; 37];
    for (j, m) in mean.iter_mut().enumerate() {
        if seen.iter().any(|(r, _)| r[j] > 0.0) {
            let log: f32 = seen
                .iter()
                .map(|(r, s)| (r[j] / s).max(SHARE_FLOOR).ln())
                .sum();
            *m = (log / seen.len() as f32).exp();
        }
    }
    // The best character keeps its share in the view surest of it; the
    // others keep their ratio to it over all the views.
    let best = (0..37).max_by(|&a, &b| mean[a].total_cmp(&mean[b]));
    if let Some(best) = best.filter(|&b| mean[b] > 0.0) {
        let surest = seen.iter().map(|(r, _)| r[best]).fold(0.0f32, f32::max);
        let scale = surest.min(1.0) / mean[best];
        for m in &mut mean {
            *m *= scale;
        }
    }
    mean
}

/// The least share of a line's cells whose characters must agree on the
/// grid (see [`grid`]) for the line to be read at all.
pub const MIN_ALIGNED: f32 = 0.5;

/// Cells read again around unsettled ones: runs of cells (with
/// [`SEGMENT_CONTEXT`] cells either side, closer runs joined), or the
/// whole line when they would cover most of it.
fn segments(cells: &[usize], width: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut sorted = cells.to_vec();
    sorted.sort_unstable();
    for &c in &sorted {
        let (a, z) = (
            c.saturating_sub(SEGMENT_CONTEXT),
            (c + SEGMENT_CONTEXT).min(width - 1),
        );
        match out.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(z),
            _ => out.push((a, z)),
        }
    }
    let covered: usize = out.iter().map(|&(a, z)| z - a + 1).sum();
    if covered * 10 >= width * 6 {
        vec![(0, width - 1)]
    } else {
        out
    }
}

/// The largest side the detector sees a photo at when the first detection
/// found no zone (see `read`).
const FINE_DETECT_MAX_SIDE: u32 = 1600;

/// A line is cut out this many of its heights longer at each end.
const END_PAD: f32 = 0.4;

/// Cells read on each side of an unsettled one in a partial view.
const SEGMENT_CONTEXT: usize = 4;

/// The grid ([`grid::fit`]) of a zone line, in photo pixels along its box,
/// through where each whole view's unconstrained forced reading put the
/// characters it is sure of. None when fewer than [`MIN_ALIGNED`] of the
/// cells have a character agreeing with it.
fn line_grid(views: &[Recognised], allowed: &[[bool; 37]]) -> Option<grid::Grid> {
    let cells = allowed.len();
    let mut points: Vec<(f32, f32, f32)> = Vec::new();
    for view in views.iter().filter(|v| v.whole) {
        let Some(first) = ctc::forced(&view.frames, allowed) else {
            continue;
        };
        let centres = ctc::centres(&view.frames, &first);
        points.extend(
            (0..cells)
                .filter(|&n| first.peaks[n] >= 0.5 && first.shares[n] >= 0.5)
                .map(|n| {
                    (
                        n as f32,
                        view.origin + (centres[n] + 0.5) * view.step,
                        first.peaks[n],
                    )
                }),
        );
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let min_agree = (MIN_ALIGNED * cells as f32).ceil() as usize;
    let (grid, agree) = grid::fit(&points, cells, min_agree)?;
    let mut agreeing: Vec<usize> = points
        .iter()
        .zip(&agree)
        .filter(|(_, &a)| a)
        .map(|(p, _)| p.0 as usize)
        .collect();
    agreeing.dedup();
    (agreeing.len() >= min_agree).then_some(grid)
}

/// A zone line's views (its box, or part of it, cut out differently) read
/// cell by cell on the line's grid ([`line_grid`]): per view, cell and zone
/// character, the largest share the character has, at a frame of the
/// cell's window, of the characters the cell admits, times how sure the
/// recogniser is of a character there at all (one minus the blank); zero
/// for a character the cell does not admit, none for a cell the view does
/// not show. A character the recogniser dropped leaves its cell blank
/// instead of shifting the characters after it into the wrong cells.
/// Empty when the line has no grid.
fn read_cells(views: &[Recognised], allowed: &[[bool; 37]]) -> Vec<Vec<Option<[f32; 37]>>> {
    let cells = allowed.len();
    let Some(grid) = line_grid(views, allowed) else {
        return Vec::new();
    };
    views
        .iter()
        .map(|view| {
            let last = view.frames.frames.saturating_sub(1) as f32;
            let frame = |x: f32| (x - view.origin) / view.step - 0.5;
            (0..cells)
                .map(|n| {
                    let admits = &allowed[n];
                    let c = n as f32;
                    let (lo, hi) = (
                        frame(grid.at(c - 0.5)).ceil(),
                        frame(grid.at(c + 0.5)).floor(),
                    );
                    if !view.whole && (lo < 0.0 || hi > last) {
                        return None;
                    }
                    let (lo, hi) = (lo.clamp(0.0, last) as usize, hi.clamp(0.0, last) as usize);
                    let (lo, hi) = if lo <= hi {
                        (lo, hi)
                    } else {
                        let at = frame(grid.at(c)).round().clamp(0.0, last) as usize;
                        (at, at)
                    };
                    let mut shares = [0f32; 37];
                    for t in lo..=hi {
                        let row = &view.frames.probs[t * CLASSES..(t + 1) * CLASSES];
                        let p = &row[1..];
                        let ink = 1.0 - row[0];
                        let mass: f32 = (0..37).filter(|&j| admits[j]).map(|j| p[j]).sum();
                        for j in (0..37).filter(|&j| admits[j]) {
                            shares[j] = shares[j].max(ink * p[j] / mass.max(1e-12));
                        }
                    }
                    Some(shares)
                })
                .collect()
        })
        .collect()
}

/// Whether a reading looks like a piece of a zone: a dozen characters or
/// more with fillers or digits among them.
fn zone_hint(text: &str) -> bool {
    text.len() >= 12
        && (text.contains("<<") || text.chars().filter(char::is_ascii_digit).count() >= 6)
}

/// Whether a recognised box can be a zone line: long enough a reading
/// (a blurred line loses fillers, so well under a TD1 line's 30).
fn zone_like(line: &Recognised) -> bool {
    line.free.len() >= 18
}

/// Whether `upper`, found just above `lower`, is the zone line above it:
/// parallel, of about the same height, at a line's spacing, and beside it
/// along the line (a zone is a grid of equal lines, but the detector may
/// miss a run of fillers at a line's end, so lengths may differ).
fn next_zone_line(lower: &TextBox, upper: &TextBox, down: Point) -> bool {
    let dot = lower.axis.x * upper.axis.x + lower.axis.y * upper.axis.y;
    let (h_lo, h_hi) = (
        lower.height.min(upper.height),
        lower.height.max(upper.height),
    );
    let depth =
        (lower.center.x - upper.center.x) * down.x + (lower.center.y - upper.center.y) * down.y;
    let spacing = depth / ((lower.height + upper.height) / 2.0);
    // Both boxes' extents along the lower one's axis.
    let extent = |b: &TextBox| {
        let c = (b.center.x - lower.center.x) * lower.axis.x
            + (b.center.y - lower.center.y) * lower.axis.y;
        (c - b.length / 2.0, c + b.length / 2.0)
    };
    let ((a0, a1), (b0, b1)) = (extent(lower), extent(upper));
    let overlap = a1.min(b1) - a0.max(b0);
    dot >= 5f32.to_radians().cos()
        && h_hi <= 1.4 * h_lo
        && overlap >= 0.6 * lower.length.min(upper.length)
        && (0.5..=3.0).contains(&spacing)
}

/// The format of the zone whose lines end the run (bottom line first),
/// when the run holds one: two lines of which one reads about 44
/// characters (TD3) or both about 36 (TD2); three lines of about 30 (TD1).
/// A blurred line reads short (runs of fillers merge), never long.
fn zone_format(run: &[Recognised]) -> Option<MrzFormat> {
    let n = |i: usize| run[run.len() - 1 - i].free.len();
    let like = |i: usize| zone_like(&run[run.len() - 1 - i]);
    let starts = |i: usize, codes: &[char]| {
        text_of(&run[run.len() - 1 - i].free)
            .chars()
            .next()
            .is_some_and(|c| codes.contains(&c))
    };
    if run.len() >= 2 {
        let longest = n(0).max(n(1));
        // A passport's names line may be short (its fillers missed) but
        // starts with its document code.
        if (like(0) && like(1) && (39..=48).contains(&longest))
            || (starts(0, &['P']) && longest >= 24)
        {
            return Some(MrzFormat::Td3);
        }
        if (33..=38).contains(&n(0)) && (33..=38).contains(&n(1)) {
            return Some(MrzFormat::Td2);
        }
    }
    // Three card lines; one of them may read poorly when the top one
    // starts with a card's document code.
    let liked = (0..run.len().min(3)).filter(|&i| like(i)).count();
    if run.len() >= 3
        && (0..3).all(|i| n(i) <= 34)
        && (liked == 3 || (liked == 2 && starts(0, &['I', 'A', 'C'])))
    {
        return Some(MrzFormat::Td1);
    }
    None
}

/// Gaussian smoothing of planar `[3, height, width]` data.
fn smooth(data: &mut [f32], width: usize, height: usize, sigma: f32) {
    let radius = (3.0 * sigma).ceil() as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let plane = width * height;
    let mut tmp = vec![0f32; plane];
    for c in data.chunks_mut(plane) {
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0.0;
                for (k, d) in kernel.iter().zip(-radius..=radius) {
                    let xx = (x as i64 + d).clamp(0, width as i64 - 1) as usize;
                    acc += k * c[y * width + xx];
                }
                tmp[y * width + x] = acc;
            }
        }
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0.0;
                for (k, d) in kernel.iter().zip(-radius..=radius) {
                    let yy = (y as i64 + d).clamp(0, height as i64 - 1) as usize;
                    acc += k * tmp[yy * width + x];
                }
                c[y * width + x] = acc;
            }
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The box cut out upright as the recogniser's `[3, height, width]` input
/// (BGR, `(x / 255 - 0.5) / 0.5`), area-averaged where the photo is finer.
fn crop(image: &RgbImage, b: &TextBox, width: usize, height: usize) -> Vec<f32> {
    // Square output pixels of the box's height over `height`: the output
    // spans `width` of them along the box from its left end.
    let s = b.height / height as f32;
    let spanned = TextBox {
        center: Point::new(
            b.center.x + b.axis.x * (width as f32 * s - b.length) / 2.0,
            b.center.y + b.axis.y * (width as f32 * s - b.length) / 2.0,
        ),
        length: width as f32 * s,
        ..*b
    };
    crop_scaled(image, &spanned, width, height)
}

/// The box cut out upright into `width`×`height` pixels (the box's length
/// over `width` photo pixels each along it, its height over `height`
/// across), as a network input (BGR, `(x / 255 - 0.5) / 0.5`),
/// area-averaged where the photo is finer.
fn crop_scaled(image: &RgbImage, b: &TextBox, width: usize, height: usize) -> Vec<f32> {
    let (sx, sy) = (
        b.length / width.max(1) as f32,
        b.height / height.max(1) as f32,
    );
    let [top_left, ..] = b.corners();
    let (u, v) = (b.axis, Point::new(-b.axis.y, b.axis.x));
    let taps = (sx.max(sy).ceil() as usize).clamp(1, 4);
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
                    let a = (ox as f32 + (tx as f32 + 0.5) / taps as f32) * sx;
                    let bb = (oy as f32 + (ty as f32 + 0.5) / taps as f32) * sy;
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
