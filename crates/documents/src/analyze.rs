//! A whole document analysed: the sides the user gave become the domain's
//! [`DocumentFindings`] (each side inspected, the machine-readable zone read
//! on the side that carries it, the portrait found on the side that carries
//! it) and the portrait's template for the selfie comparison. The verdict
//! is the domain's `decide_scan`; this module only measures.
//!
//! Which side holds what follows from whether a back was given: the
//! capture protocol asks for a back exactly when the document type has one
//! (`DocumentType::has_back`), so a document without a back is a passport's
//! data page (ID-3: portrait and a two-line zone), and one with a back an
//! ID-1 card (portrait on the front, the three-line zone on the back; a
//! card whose zone is on its front is read there when the back has none).

use std::time::Instant;

use chrono::NaiveDate;
use facegate_domain::mrz::{MrzRead, NotReadable};
use facegate_domain::scan_verdict::{DocumentFindings, SideFindings, ZoneFinding};
use facegate_vision::decode::{decode_image, DecodeLimits};
use facegate_vision::embed::Template;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::Runtime;
use image::RgbImage;

use crate::error::DocumentsError;
use crate::inspect::{DocumentInspector, DocumentSide, SideInspection};
use crate::{MrzReader, MrzReading};

/// One side's inspection and, where the zone was looked for, its reading.
#[derive(Debug, Clone)]
pub struct SideReport {
    pub side: DocumentSide,
    /// `None` when the image could not be decoded.
    pub inspection: Option<SideInspection>,
    pub reading: Option<MrzReading>,
    /// How the photo was turned before it was inspected and read.
    pub turn: Turn,
    /// Milliseconds for the side: decoding, inspection and reading (every
    /// turn tried).
    pub total_ms: f64,
}

/// A turn of a photo clockwise by quarter turns: a photo taken with the
/// phone turned, or a page scanned upside down, and stored without an
/// orientation tag (a scanner's file, a forwarded or edited photo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Turn {
    #[default]
    Upright,
    Quarter,
    Half,
    ThreeQuarters,
}

impl Turn {
    /// The photo turned.
    pub fn apply(self, image: &RgbImage) -> RgbImage {
        match self {
            Self::Upright => image.clone(),
            Self::Quarter => image::imageops::rotate90(image),
            Self::Half => image::imageops::rotate180(image),
            Self::ThreeQuarters => image::imageops::rotate270(image),
        }
    }

    /// Degrees clockwise.
    pub fn degrees(self) -> u16 {
        match self {
            Self::Upright => 0,
            Self::Quarter => 90,
            Self::Half => 180,
            Self::ThreeQuarters => 270,
        }
    }
}

/// What analysing a document gave.
#[derive(Debug, Clone)]
pub struct DocumentReport {
    pub findings: DocumentFindings,
    /// The portrait's template by the first configured embedder (the one
    /// selfie frames are embedded with).
    pub portrait: Option<Template>,
    pub front: SideReport,
    pub back: Option<SideReport>,
}

/// The document analyser: the zone reader and the inspector, loaded once;
/// one per worker thread.
#[derive(Debug)]
pub struct DocumentAnalyzer {
    reader: MrzReader,
    inspector: DocumentInspector,
    limits: DecodeLimits,
}

impl DocumentAnalyzer {
    /// Loads the OCR models and the portrait pipeline with the liveness
    /// frames' embedder.
    pub fn new(store: &ModelStore, runtime: &dyn Runtime) -> Result<Self, DocumentsError> {
        Ok(Self {
            reader: MrzReader::new(store, runtime)?,
            inspector: DocumentInspector::new(store, runtime)?,
            limits: DecodeLimits::default(),
        })
    }

    pub fn from_parts(reader: MrzReader, inspector: DocumentInspector) -> Self {
        Self {
            reader,
            inspector,
            limits: DecodeLimits::default(),
        }
    }

    pub fn inspector_mut(&mut self) -> &mut DocumentInspector {
        &mut self.inspector
    }

    /// Analyses the uploaded sides (JPEG or PNG bytes). An image that cannot
    /// be decoded shows no document; an error is a broken installation.
    pub fn analyze_bytes(
        &mut self,
        front: &[u8],
        back: Option<&[u8]>,
        today: NaiveDate,
    ) -> Result<DocumentReport, DocumentsError> {
        let decode = |bytes: &[u8]| decode_image(bytes, &self.limits).ok();
        let front_image = decode(front);
        let back_image = back.map(decode);
        self.analyze(
            front_image.as_ref(),
            back_image.as_ref().map(Option::as_ref),
            today,
        )
    }

    /// Analyses decoded sides (`None` for one that could not be decoded;
    /// `back` is `None` when the document has no back).
    pub fn analyze(
        &mut self,
        front: Option<&RgbImage>,
        back: Option<Option<&RgbImage>>,
        today: NaiveDate,
    ) -> Result<DocumentReport, DocumentsError> {
        let card = back.is_some();
        let front_side = if card {
            DocumentSide::CardFront
        } else {
            DocumentSide::PassportPage
        };
        let mut front_report = self.side(front, front_side, !card, today)?;
        let back_report = match back {
            Some(image) => Some(self.side(image, DocumentSide::CardBack, true, today)?),
            None => None,
        };
        // A card whose back shows no zone may carry it on its front (TD2
        // and some TD1 cards).
        if card && !zone_found(back_report.as_ref()) {
            if let Some(image) = front {
                let started = Instant::now();
                let reading = match front_report.turn {
                    Turn::Upright => self.reader.read(image, today)?,
                    turn => self.reader.read(&turn.apply(image), today)?,
                };
                front_report.reading = Some(reading);
                front_report.total_ms += ms(started);
            }
        }
        let reading = [back_report.as_ref(), Some(&front_report)]
            .into_iter()
            .flatten()
            .filter_map(|r| r.reading.as_ref())
            .max_by_key(|r| zone_rank(&ZoneFinding::of(&r.outcome)));
        let zone = reading.map_or(ZoneFinding::Absent, |r| ZoneFinding::of(&r.outcome));
        let portrait = front_report
            .inspection
            .as_ref()
            .and_then(|i| i.portrait.as_ref());
        // Whether the document is a black-and-white copy is told by the
        // side with the portrait: the portrait is printed in colour, while
        // many cards' backs are printed in pale tints that measure as grey.
        let back_findings = back_report.as_ref().map(|r| SideFindings {
            black_and_white: false,
            ..side_findings(r)
        });
        let findings = DocumentFindings {
            front: side_findings(&front_report),
            back: back_findings,
            zone,
            portrait_found: portrait.is_some(),
        };
        let portrait = portrait.and_then(|p| p.templates.first().cloned());
        Ok(DocumentReport {
            findings,
            portrait,
            front: front_report,
            back: back_report,
        })
    }

    /// Whether a photo (JPEG or PNG) shows an ID document: a page with
    /// lines of text, as a document side is found. A selfie that shows one
    /// was taken of the document, not (only) of its holder.
    pub fn document_in_view(&mut self, image: &[u8]) -> Result<bool, DocumentsError> {
        let Ok(image) = decode_image(image, &self.limits) else {
            return Ok(false);
        };
        // The side without a portrait: the page and its text are enough.
        let inspection = self
            .inspector
            .inspect_side(&image, DocumentSide::CardBack)?;
        Ok(inspection.findings.document_found)
    }

    /// One side inspected and, when `read_zone`, its zone read; when the
    /// photo as given is not understood ([`understood`]: no page, no
    /// portrait on a side that has one, nothing zone-like where the zone
    /// is looked for), the photo turned as its page suggests
    /// ([`turns_to_try`]) is inspected and read instead, and the first
    /// turn understood is taken. A photo understood as given costs nothing
    /// more.
    fn side(
        &mut self,
        image: Option<&RgbImage>,
        side: DocumentSide,
        read_zone: bool,
        today: NaiveDate,
    ) -> Result<SideReport, DocumentsError> {
        let started = Instant::now();
        let Some(image) = image else {
            return Ok(SideReport {
                side,
                inspection: None,
                reading: None,
                turn: Turn::Upright,
                total_ms: ms(started),
            });
        };
        let mut report = self.side_turned(image, Turn::Upright, side, read_zone, today)?;
        if !understood(&report, read_zone) {
            for turn in turns_to_try(&report) {
                let turned = self.side_turned(image, turn, side, read_zone, today)?;
                if understood(&turned, read_zone) {
                    report = turned;
                    break;
                }
            }
        }
        report.total_ms = ms(started);
        Ok(report)
    }

    /// [`DocumentAnalyzer::side`] for the photo turned by `turn`.
    fn side_turned(
        &mut self,
        image: &RgbImage,
        turn: Turn,
        side: DocumentSide,
        read_zone: bool,
        today: NaiveDate,
    ) -> Result<SideReport, DocumentsError> {
        let started = Instant::now();
        let turned;
        let image = match turn {
            Turn::Upright => image,
            turn => {
                turned = turn.apply(image);
                &turned
            }
        };
        let inspection = self.inspector.inspect_side(image, side)?;
        // A side without a document has no zone worth the recogniser's time.
        let reading = if read_zone && inspection.findings.document_found {
            Some(self.reader.read(image, today)?)
        } else {
            None
        };
        Ok(SideReport {
            side,
            inspection: Some(inspection),
            reading,
            turn,
            total_ms: ms(started),
        })
    }
}

/// Whether a side's photo was understood the way it is turned: a page was
/// found, and the portrait on a side that has one, and something zone-like
/// where the zone is looked for (a zone found but not readable is
/// understood: glare or blur, not a turn, is then the reason).
fn understood(report: &SideReport, read_zone: bool) -> bool {
    let Some(inspection) = &report.inspection else {
        return true;
    };
    let zone_seen = || {
        report
            .reading
            .as_ref()
            .is_some_and(|r| !matches!(r.outcome, MrzRead::NotReadable(NotReadable::NoZone)))
    };
    inspection.findings.document_found
        && (!report.side.has_portrait() || inspection.portrait.is_some())
        && (!read_zone || zone_seen())
}

/// The turns worth trying for a side not understood as given: none when no
/// page was found (nothing to turn); a quarter either way when the page's
/// text runs up or down the photo; half a turn when it runs across (the
/// page upside down: the detectors of faces and characters expect them
/// upright).
fn turns_to_try(report: &SideReport) -> Vec<Turn> {
    let Some(page) = report.inspection.as_ref().and_then(|i| i.page.as_ref()) else {
        return Vec::new();
    };
    if page.axis.y.abs() > page.axis.x.abs() {
        vec![Turn::Quarter, Turn::ThreeQuarters]
    } else {
        vec![Turn::Half]
    }
}

fn side_findings(report: &SideReport) -> SideFindings {
    report
        .inspection
        .as_ref()
        .map(|i| i.findings.clone())
        .unwrap_or_default()
}

fn zone_found(report: Option<&SideReport>) -> bool {
    report
        .and_then(|r| r.reading.as_ref())
        .is_some_and(|r| !matches!(ZoneFinding::of(&r.outcome), ZoneFinding::Absent))
}

/// Which of two readings of a card's zone speaks: one that was read over
/// one whose digits failed, over one not readable, over none.
fn zone_rank(zone: &ZoneFinding) -> u8 {
    match zone {
        ZoneFinding::Absent => 0,
        ZoneFinding::Unreadable => 1,
        ZoneFinding::CheckFailed(_) => 2,
        ZoneFinding::Read(_) => 3,
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
