//! One document side inspected: is there a document, is it a
//! black-and-white copy, can it be read (blur, glare, a part cut off,
//! exposure), and the holder's portrait with its template. The measurements
//! ([`Measures`]) are numbers; [`Thresholds::judge`] turns them into the
//! domain's [`SideFindings`], so the calibration can judge the same
//! measurements with other thresholds.

use std::time::Instant;

use facegate_domain::scan::DocumentType;
use facegate_domain::scan_verdict::SideFindings;
use facegate_domain::verification::RejectDetail;
use facegate_vision::embed::EmbedderKind;
use facegate_vision::geometry::Point;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::Runtime;
use image::RgbImage;

use crate::detect::TextBox;
use crate::error::DocumentsError;
use crate::page::{self, DocumentFormat, Homography, Page, PageSettings, Quad};
use crate::portrait::{Portrait, PortraitFinder};
use crate::quality::{self, Blur, Colour};
use crate::text::TextDetector;

/// Which side of which kind of document the photo should show: what it
/// holds and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentSide {
    /// A passport's data page (ID-3): portrait and a two-line zone.
    PassportPage,
    /// An ID-1 card's front: the portrait.
    CardFront,
    /// An ID-1 card's back: the three-line zone (TD1).
    CardBack,
}

impl DocumentSide {
    /// The side of a document of `kind` (`back` for the reverse of a card).
    pub fn of(kind: DocumentType, back: bool) -> Self {
        match (kind, back) {
            (DocumentType::Passport, _) => Self::PassportPage,
            (_, false) => Self::CardFront,
            (_, true) => Self::CardBack,
        }
    }

    pub fn format(self) -> DocumentFormat {
        match self {
            Self::PassportPage => DocumentFormat::Id3,
            Self::CardFront | Self::CardBack => DocumentFormat::Id1,
        }
    }

    pub fn has_portrait(self) -> bool {
        matches!(self, Self::PassportPage | Self::CardFront)
    }

    pub fn has_mrz(self) -> bool {
        matches!(self, Self::PassportPage | Self::CardBack)
    }

    /// Where ICAO 9303 puts the machine-readable zone, in fractions of the
    /// upright page (`x0, y0, x1, y1`): the bottom band (TD3: two lines
    /// from 79.4 mm of 88; TD1: three from 40 mm of 54).
    fn mrz_zone(self) -> Option<[f32; 4]> {
        match self {
            Self::PassportPage => Some([0.03, 0.84, 0.97, 0.985]),
            Self::CardBack => Some([0.03, 0.7, 0.97, 0.97]),
            Self::CardFront => None,
        }
    }

    /// Where the portrait is printed (the left third, between header and
    /// signature), for measuring glare where no face was found.
    fn portrait_zone(self) -> Option<[f32; 4]> {
        match self {
            Self::PassportPage => Some([0.04, 0.14, 0.34, 0.68]),
            Self::CardFront => Some([0.04, 0.17, 0.34, 0.76]),
            Self::CardBack => None,
        }
    }
}

/// Every number the checks use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measures {
    /// Text lines the detector found in the photo.
    pub text_lines: usize,
    /// Text lines inside the page.
    pub page_text_lines: usize,
    /// The page was found (edges or text).
    pub page_found: bool,
    /// All four sides are edges.
    pub page_closed: bool,
    /// The page runs over the image border.
    pub page_cut: bool,
    /// A text line or the portrait touches the image border.
    pub content_at_border: bool,
    pub blur: Option<Blur>,
    pub colour: Option<Colour>,
    /// Share of the zone's cells washed out by light.
    pub glare_mrz: Option<f32>,
    pub glare_portrait: Option<f32>,
}

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InspectTimings {
    pub text_ms: f64,
    pub page_ms: f64,
    pub portrait_ms: f64,
    pub checks_ms: f64,
    pub total_ms: f64,
}

/// What inspecting one side gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SideInspection {
    /// The domain's findings for the side.
    pub findings: SideFindings,
    pub page: Option<Page>,
    /// The portrait, on sides that carry one, when found.
    pub portrait: Option<Portrait>,
    pub measures: Measures,
    pub timings: InspectTimings,
}

/// The limits the measurements are held to. The defaults are calibrated on
/// generated documents (`cargo run --release -p facegate-documents
/// --example document_checks`, seeds apart from the tests'); the
/// measured error rates are in that example's output and in
/// `docs/documents.md`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Fewest text lines on a page for it to be a document.
    pub min_text_lines: usize,
    /// Blur σ over the text height above which the side is `BLURRED`.
    pub blur_relative: f32,
    /// Shares of washed-out cells above which the side has `GLARE`.
    pub glare_mrz: f32,
    pub glare_portrait: f32,
    /// The page's 98th-percentile chroma (white-balanced) below which it is
    /// a black-and-white copy.
    pub colour_p98: f32,
    /// Paper darker than this (grey level) is `BAD_QUALITY`.
    pub min_paper: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_text_lines: 4,
            blur_relative: 0.2,
            glare_mrz: 0.2,
            glare_portrait: 0.3,
            colour_p98: 12.0,
            min_paper: 60.0,
        }
    }
}

impl Thresholds {
    /// The findings these measurements give.
    pub fn judge(&self, m: &Measures) -> SideFindings {
        let document_found = m.page_found && m.page_text_lines >= self.min_text_lines;
        if !document_found {
            return SideFindings::default();
        }
        let black_and_white = m.colour.is_some_and(|c| c.p98 < self.colour_p98);
        let mut unreadable = Vec::new();
        if m.page_cut || m.content_at_border {
            unreadable.push(RejectDetail::MissingPartDocument);
        }
        if m.blur.is_some_and(|b| b.relative > self.blur_relative) {
            unreadable.push(RejectDetail::Blurred);
        }
        if m.glare_mrz.is_some_and(|g| g > self.glare_mrz)
            || m.glare_portrait.is_some_and(|g| g > self.glare_portrait)
        {
            unreadable.push(RejectDetail::Glare);
        }
        if m.colour.is_some_and(|c| c.paper < self.min_paper) {
            unreadable.push(RejectDetail::BadQuality);
        }
        SideFindings {
            document_found,
            black_and_white,
            unreadable,
        }
    }
}

/// The document inspector: the text detector and the portrait pipeline,
/// loaded once; one per worker thread.
#[derive(Debug)]
pub struct DocumentInspector {
    text: TextDetector,
    portrait: PortraitFinder,
    pub page_settings: PageSettings,
    pub thresholds: Thresholds,
}

/// Pixels per millimetre of the rectified page the portrait is looked for
/// in (a 125 mm page is 1000 px wide: the portrait's face is then about 50
/// px in BlazeFace's 192 px input).
const PAGE_DPMM: f32 = 8.0;

impl DocumentInspector {
    /// Loads the text detector and the portrait pipeline with the liveness
    /// frames' embedder.
    pub fn new(store: &ModelStore, runtime: &dyn Runtime) -> Result<Self, DocumentsError> {
        Self::with_embedders(store, runtime, PortraitFinder::default_embedders())
    }

    pub fn with_embedders(
        store: &ModelStore,
        runtime: &dyn Runtime,
        embedders: Vec<EmbedderKind>,
    ) -> Result<Self, DocumentsError> {
        Ok(Self {
            text: TextDetector::new(store, runtime)?,
            portrait: PortraitFinder::new(store, runtime, embedders)?,
            page_settings: PageSettings::default(),
            thresholds: Thresholds::default(),
        })
    }

    pub fn portrait_finder(&self) -> &PortraitFinder {
        &self.portrait
    }

    /// Inspects a photo of `side`.
    pub fn inspect_side(
        &mut self,
        image: &RgbImage,
        side: DocumentSide,
    ) -> Result<SideInspection, DocumentsError> {
        let started = Instant::now();
        let text = self.text.detect(image)?;
        let text_ms = ms(started);
        let mut inspection = self.inspect_side_with_text(image, side, &text)?;
        inspection.timings.text_ms = text_ms;
        inspection.timings.total_ms = ms(started);
        Ok(inspection)
    }

    /// Inspects a photo of `side` whose text lines are already known (the
    /// MRZ reader's detector boxes, photo pixels).
    pub fn inspect_side_with_text(
        &mut self,
        image: &RgbImage,
        side: DocumentSide,
        text: &[TextBox],
    ) -> Result<SideInspection, DocumentsError> {
        let started = Instant::now();
        let mut timings = InspectTimings::default();
        let mut measures = Measures {
            text_lines: text.len(),
            ..Measures::default()
        };
        let found = page::locate(image, text, &self.page_settings);
        timings.page_ms = ms(started);
        let Some(found) = found else {
            timings.total_ms = ms(started);
            return Ok(SideInspection {
                findings: self.thresholds.judge(&measures),
                page: None,
                portrait: None,
                measures,
                timings,
            });
        };
        let (w, h) = (image.width(), image.height());
        measures.page_found = true;
        measures.page_closed = found.closed();
        measures.page_text_lines = found.text_lines;
        let tolerance = 0.004 * w.max(h) as f32;
        measures.page_cut = found.cut_off(w, h, tolerance);
        let inside: Vec<TextBox> = text
            .iter()
            .copied()
            .filter(|b| found.quad.contains(b.center, 2.0))
            .collect();
        measures.content_at_border = inside.iter().any(|b| quality::touches_border(b, w, h, 1.5));

        // The page upright at a fixed scale, when its four sides are known.
        let (mm_w, mm_h) = side.format().size_mm();
        let page_px = (mm_w * PAGE_DPMM, mm_h * PAGE_DPMM);
        let to_photo = Homography::from_quads(
            &[
                Point::new(0.0, 0.0),
                Point::new(page_px.0, 0.0),
                Point::new(page_px.0, page_px.1),
                Point::new(0.0, page_px.1),
            ],
            &found.quad.0,
        );

        // The paper's colour: the black-and-white check's measure, and the
        // light a portrait not found is looked for again under.
        let t = Instant::now();
        let colour = quality::page_colour(image, &found.quad, COLOUR_WORK_SIDE);
        let colour_ms = ms(t);
        let t = Instant::now();
        let portrait = if side.has_portrait() {
            let white = colour.map(|c| c.white);
            self.find_portrait(image, &found, to_photo.as_ref(), page_px, white)?
        } else {
            None
        };
        timings.portrait_ms = ms(t);
        if let Some(p) = &portrait {
            measures.content_at_border |=
                p.face.0.iter().any(|c| {
                    c.x < 1.5 || c.y < 1.5 || c.x > w as f32 - 1.5 || c.y > h as f32 - 1.5
                });
        }

        let t = Instant::now();
        measures.blur = quality::text_blur(image, &inside);
        measures.colour = colour;
        let paper = measures.colour.map_or(200.0, |c| c.paper);
        let (ink_floor, bright) = (0.62 * paper, 0.97 * paper);
        let mrz_zone = match (side.mrz_zone(), &to_photo) {
            (Some(frac), Some(hm)) if found.closed() => Some(quality::page_zone(hm, page_px, frac)),
            (Some(_), _) => mrz_lines_zone(&inside, found.axis),
            _ => None,
        };
        measures.glare_mrz =
            mrz_zone.and_then(|z| quality::washed_share(image, &z, 24, 2, ink_floor, bright));
        let portrait_zone = match (&portrait, side.portrait_zone(), &to_photo) {
            (Some(p), _, _) => Some(grow(&p.face, 1.3)),
            (None, Some(frac), Some(hm)) if found.closed() => {
                Some(quality::page_zone(hm, page_px, frac))
            }
            _ => None,
        };
        measures.glare_portrait =
            portrait_zone.and_then(|z| quality::washed_share(image, &z, 5, 6, ink_floor, bright));
        timings.checks_ms = colour_ms + ms(t);
        timings.total_ms = ms(started);
        Ok(SideInspection {
            findings: self.thresholds.judge(&measures),
            page: Some(found),
            portrait,
            measures,
            timings,
        })
    }

    /// The portrait ([`DocumentInspector::find_portrait_as_lit`]); when
    /// none is found and the light is coloured (the paper's colour `white`
    /// is not grey), in the photo white-balanced on the paper. The face
    /// detector learnt faces under white light: under a green fluorescent
    /// cast it misses a quarter of the portraits that it finds under white
    /// or tungsten light (`document_turns --light`, docs/documents.md).
    fn find_portrait(
        &mut self,
        image: &RgbImage,
        found: &Page,
        to_photo: Option<&Homography>,
        page_px: (f32, f32),
        white: Option<[f32; 3]>,
    ) -> Result<Option<Portrait>, DocumentsError> {
        if let Some(p) = self.find_portrait_as_lit(image, found, to_photo, page_px)? {
            return Ok(Some(p));
        }
        let Some(white) = white else {
            return Ok(None);
        };
        let (lo, hi) = white
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &w| (lo.min(w), hi.max(w)));
        if lo >= PAPER_GREY * hi {
            return Ok(None);
        }
        let balanced = quality::balanced(image, white);
        self.find_portrait_as_lit(&balanced, found, to_photo, page_px)
    }

    /// The portrait: looked for on the rectified page when its sides are
    /// known (upright and at a known scale), else, or when not found there,
    /// in the photo cropped to the page.
    fn find_portrait_as_lit(
        &mut self,
        image: &RgbImage,
        found: &Page,
        to_photo: Option<&Homography>,
        page_px: (f32, f32),
    ) -> Result<Option<Portrait>, DocumentsError> {
        if let (true, Some(hm)) = (found.closed(), to_photo) {
            if let Some(rectified) = page::rectify(
                image,
                &found.quad,
                page_px.0.round() as u32,
                page_px.1.round() as u32,
            ) {
                if let Some(p) = self.portrait.find(&rectified, hm)? {
                    return Ok(Some(p));
                }
            }
        }
        let (iw, ih) = (image.width() as f32, image.height() as f32);
        let xs = found.quad.0.map(|p| p.x.clamp(0.0, iw));
        let ys = found.quad.0.map(|p| p.y.clamp(0.0, ih));
        let x0 = xs.iter().copied().fold(f32::MAX, f32::min).floor();
        let y0 = ys.iter().copied().fold(f32::MAX, f32::min).floor();
        let x1 = xs.iter().copied().fold(f32::MIN, f32::max).ceil();
        let y1 = ys.iter().copied().fold(f32::MIN, f32::max).ceil();
        if x1 - x0 < 32.0 || y1 - y0 < 32.0 {
            return Ok(None);
        }
        let crop = image::imageops::crop_imm(
            image,
            x0 as u32,
            y0 as u32,
            (x1 - x0) as u32,
            (y1 - y0) as u32,
        )
        .to_image();
        let shift = Homography([
            [1.0, 0.0, f64::from(x0)],
            [0.0, 1.0, f64::from(y0)],
            [0.0, 0.0, 1.0],
        ]);
        let found_face = self.portrait.find(&crop, &shift)?;
        // A face outside the page is not its portrait.
        Ok(found_face.filter(|p| found.quad.contains(p.face.centroid(), 2.0)))
    }
}

/// The longest side the page's colour is measured at.
const COLOUR_WORK_SIDE: u32 = 480;

/// Paper whose weakest channel is at least this share of its strongest is
/// grey: the light is white, and balancing it changes nothing worth a
/// second look.
const PAPER_GREY: f32 = 0.95;

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// The quad scaled by `factor` about its centre.
fn grow(q: &Quad, factor: f32) -> Quad {
    let c = q.centroid();
    Quad(q.0.map(|p| Point::new(c.x + (p.x - c.x) * factor, c.y + (p.y - c.y) * factor)))
}

/// The zone's lines when the page's sides are not all known: the lowest
/// long lines (eight heights or more), the rectangle along the text that
/// holds them.
fn mrz_lines_zone(text: &[TextBox], axis: Point) -> Option<Quad> {
    let up = Point::new(axis.y, -axis.x);
    let height = |b: &TextBox| b.center.x * up.x + b.center.y * up.y;
    let mut long: Vec<&TextBox> = text.iter().filter(|b| b.aspect() >= 8.0).collect();
    long.sort_by(|a, b| height(a).total_cmp(&height(b)));
    let lowest = long.first()?;
    let zone: Vec<&TextBox> = long
        .iter()
        .copied()
        .filter(|b| height(b) - height(lowest) <= 3.5 * lowest.height)
        .collect();
    let (mut a0, mut a1, mut b0, mut b1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for b in zone {
        for p in b.corners() {
            let (a, u) = (p.x * axis.x + p.y * axis.y, p.x * up.x + p.y * up.y);
            (a0, a1, b0, b1) = (a0.min(a), a1.max(a), b0.min(u), b1.max(u));
        }
    }
    let at = |a: f32, u: f32| Point::new(axis.x * a + up.x * u, axis.y * a + up.y * u);
    Some(Quad([at(a0, b1), at(a1, b1), at(a1, b0), at(a0, b0)]))
}
