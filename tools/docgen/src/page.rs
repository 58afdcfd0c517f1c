//! The printed document, flat and upright: security-tint background,
//! header, portrait (and ghost image), visual inspection zone, signature,
//! and the MRZ in OCR-B at ICAO's 2.54 mm pitch. Coordinates in millimetres
//! from the top-left corner; the raster is `dpmm` pixels per millimetre.

use chrono::NaiveDate;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::canvas::{Canvas, Rgb};
use crate::fonts::Fonts;
use crate::geometry::RectMm;
use crate::portrait::FaceInput;
use crate::record::{DocumentKind, IdentityRecord};
use crate::DocgenError;

/// Which face of which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Passport data page: portrait, visual zone and the 2-line MRZ.
    Td3,
    /// ID card front: portrait and visual zone.
    Td1Front,
    /// ID card back: issue details and the 3-line MRZ.
    Td1Back,
}

impl Side {
    pub fn kind(self) -> DocumentKind {
        match self {
            Side::Td3 => DocumentKind::Td3,
            Side::Td1Front | Side::Td1Back => DocumentKind::Td1,
        }
    }

    /// Whether this side carries the MRZ.
    pub fn has_mrz(self) -> bool {
        matches!(self, Side::Td3 | Side::Td1Back)
    }

    /// Whether this side carries the portrait.
    pub fn has_portrait(self) -> bool {
        matches!(self, Side::Td3 | Side::Td1Front)
    }

    /// The sides a document of `kind` has.
    pub fn of(kind: DocumentKind) -> &'static [Side] {
        match kind {
            DocumentKind::Td3 => &[Side::Td3],
            DocumentKind::Td1 => &[Side::Td1Front, Side::Td1Back],
        }
    }
}

/// ICAO 9303 Part 3: MRZ characters sit on a 2.54 mm (10 per inch) pitch.
pub const MRZ_PITCH_MM: f64 = 2.54;

pub(crate) struct Page {
    pub canvas: Canvas,
    pub dpmm: f64,
    pub size_mm: (f64, f64),
    pub portrait: Option<RectMm>,
    pub ghost: Option<RectMm>,
    pub mrz_lines: Vec<RectMm>,
}

pub(crate) struct PageSpec<'a> {
    pub side: Side,
    pub record: &'a IdentityRecord,
    pub mrz: Option<&'a [String]>,
    pub face: Option<FaceInput<'a>>,
    pub specimen: bool,
}

const INK: Rgb = [0.07, 0.07, 0.09];
const LABEL: Rgb = [0.22, 0.27, 0.38];
const SIGNATURE: Rgb = [0.1, 0.12, 0.35];

/// Light security-print tints.
const TINTS: &[Rgb] = &[
    [0.87, 0.93, 0.87],
    [0.96, 0.89, 0.91],
    [0.87, 0.91, 0.97],
    [0.96, 0.93, 0.85],
    [0.92, 0.89, 0.96],
    [0.93, 0.95, 0.90],
];

struct Layout {
    dpmm: f64,
    /// MRZ band (top, bottom) kept clear of the pattern.
    clear_band: Option<(f64, f64)>,
}

pub(crate) fn render<R: Rng + ?Sized>(
    fonts: &Fonts,
    spec: &PageSpec<'_>,
    rng: &mut R,
) -> Result<Page, DocgenError> {
    let kind = spec.side.kind();
    let size_mm = kind.size_mm();
    let layout = match spec.side {
        Side::Td3 => Layout {
            dpmm: 10.0,
            clear_band: Some((72.5, 88.0)),
        },
        Side::Td1Front => Layout {
            dpmm: 12.0,
            clear_band: None,
        },
        Side::Td1Back => Layout {
            dpmm: 12.0,
            clear_band: Some((37.0, 54.0)),
        },
    };
    let tint = TINTS[rng.gen_range(0..TINTS.len())];
    let mut canvas = background(size_mm, &layout, tint, rng);
    let mut page = Page {
        canvas: Canvas::new(0, 0, [0.0; 3]),
        dpmm: layout.dpmm,
        size_mm,
        portrait: None,
        ghost: None,
        mrz_lines: Vec::new(),
    };
    let mut p = Printer {
        fonts,
        canvas: &mut canvas,
        dpmm: layout.dpmm,
    };
    let ink_accent = tint.map(|v| v * 0.45);
    match spec.side {
        Side::Td3 => {
            let r = spec.record;
            let country = country_title(&r.issuing_state);
            p.bold(&country, 6.0, 8.0, 2.6, ink_accent);
            p.bold_right("PASSPORT", 119.0, 8.0, 2.6, ink_accent);
            let portrait = RectMm::new(6.0, 13.0, 35.0, 45.0);
            if let Some(face) = spec.face {
                p.portrait(&face, portrait, tint)?;
                page.portrait = Some(portrait);
                if rng.gen_bool(0.5) {
                    let ghost = RectMm::new(103.0, 36.0, 16.0, 20.6);
                    p.ghost(&face, ghost, ink_accent)?;
                    page.ghost = Some(ghost);
                }
            }
            let (c1, c2, c3) = (44.0, 58.0, 76.0);
            let row = |k: f64| 15.5 + 6.6 * k;
            p.field("Type", &r.document_code, c1, row(0.0));
            p.field("Code", &r.issuing_state, c2, row(0.0));
            p.field("Passport No.", &r.document_number, c3, row(0.0));
            p.field_fit(
                "Surname",
                &r.surname.to_uppercase(),
                c1,
                row(1.0),
                119.0 - c1,
            );
            p.field_fit(
                "Given names",
                &r.given_names.to_uppercase(),
                c1,
                row(2.0),
                119.0 - c1,
            );
            p.field_fit(
                "Nationality",
                &country_title(&r.nationality),
                c1,
                row(3.0),
                57.0,
            );
            p.field("Date of birth", &viz_date(r.date_of_birth), c1, row(4.0));
            p.field("Sex", r.sex.letter(), c3, row(4.0));
            p.field("Date of issue", &viz_date(r.date_of_issue), c1, row(5.0));
            p.field("Date of expiry", &viz_date(r.date_of_expiry), c3, row(5.0));
            if let Some(n) = &r.personal_number {
                p.field("Personal No.", n, c1, row(6.0));
            }
            p.signature(RectMm::new(7.0, 60.5, 32.0, 9.0), rng);
            if spec.specimen {
                p.specimen_mark(50.0, 46.0, 8.0);
            }
            if let Some(lines) = spec.mrz {
                page.mrz_lines = p.mrz(lines, 6.62, &[79.4, 84.0], 2.45);
            }
        }
        Side::Td1Front => {
            let r = spec.record;
            p.bold(&country_title(&r.issuing_state), 4.0, 5.5, 2.0, ink_accent);
            p.bold_right("IDENTITY CARD", 81.6, 5.5, 2.0, ink_accent);
            let portrait = RectMm::new(4.0, 9.5, 24.0, 31.0);
            if let Some(face) = spec.face {
                p.portrait(&face, portrait, tint)?;
                page.portrait = Some(portrait);
                if rng.gen_bool(0.5) {
                    let ghost = RectMm::new(70.5, 34.5, 10.0, 13.0);
                    p.ghost(&face, ghost, ink_accent)?;
                    page.ghost = Some(ghost);
                }
            }
            let (c1, c2, c3) = (31.5, 43.0, 58.0);
            let row = |k: f64| 11.0 + 5.6 * k;
            p.small_field_fit(
                "Surname",
                &r.surname.to_uppercase(),
                c1,
                row(0.0),
                81.6 - c1,
            );
            p.small_field_fit(
                "Given names",
                &r.given_names.to_uppercase(),
                c1,
                row(1.0),
                81.6 - c1,
            );
            p.small_field("Sex", r.sex.letter(), c1, row(2.0));
            p.small_field("Nationality", &r.nationality, c2, row(2.0));
            p.small_field("Date of birth", &viz_date(r.date_of_birth), c3, row(2.0));
            p.small_field("Document No.", &r.document_number, c1, row(3.0));
            p.small_field("Date of expiry", &viz_date(r.date_of_expiry), c3, row(3.0));
            if let Some(n) = &r.personal_number {
                p.small_field("Personal No.", n, c1, row(4.0));
            }
            p.signature(RectMm::new(4.5, 42.5, 24.0, 8.0), rng);
            if spec.specimen {
                p.specimen_mark(33.0, 47.0, 6.0);
            }
        }
        Side::Td1Back => {
            let r = spec.record;
            p.small_field("Date of issue", &viz_date(r.date_of_issue), 4.0, 6.0);
            p.small_field_fit(
                "Authority",
                &format!("{} CIVIL REGISTRY", country_title(&r.issuing_state)),
                4.0,
                11.6,
                46.0,
            );
            if let Some(o) = &r.optional_data_2 {
                p.small_field("Optional data", o, 4.0, 17.2);
            }
            p.barcode(RectMm::new(54.0, 4.0, 27.6, 14.0), rng);
            if spec.specimen {
                p.specimen_mark(8.0, 31.0, 6.0);
            }
            if let Some(lines) = spec.mrz {
                page.mrz_lines = p.mrz(lines, 4.7, &[42.2, 46.4, 50.6], 2.4);
            }
        }
    }
    page.canvas = canvas;
    Ok(page)
}

/// Security tint: a pastel base with a gentle gradient, two families of
/// wavy guilloche lines and concentric rings, faded to near-white in the
/// MRZ's clear band, plus a little paper grain.
fn background<R: Rng + ?Sized>(
    size_mm: (f64, f64),
    layout: &Layout,
    tint: Rgb,
    rng: &mut R,
) -> Canvas {
    let dpmm = layout.dpmm;
    let w = (size_mm.0 * dpmm).round() as usize;
    let h = (size_mm.1 * dpmm).round() as usize;
    // The pattern is computed in f32: millimetre coordinates stay small
    // enough for its precision, and it halves the cost of the sines.
    let tau = std::f32::consts::TAU;
    let spacing1: f32 = rng.gen_range(1.1..1.8);
    let amp1: f32 = rng.gen_range(0.6..1.6);
    let wave1: f32 = rng.gen_range(18.0..40.0);
    let phase1: f32 = rng.gen_range(0.0..tau);
    let spacing2: f32 = rng.gen_range(1.3..2.2);
    let amp2: f32 = rng.gen_range(0.5..1.5);
    let wave2: f32 = rng.gen_range(14.0..30.0);
    let phase2: f32 = rng.gen_range(0.0..tau);
    let (pw, ph) = (size_mm.0 as f32, size_mm.1 as f32);
    let ring_c = (rng.gen_range(0.3..0.8) * pw, rng.gen_range(0.2..0.6) * ph);
    let ring_spacing: f32 = rng.gen_range(1.6..2.6);
    let grad: (f32, f32) = (rng.gen_range(-0.05..0.05), rng.gen_range(-0.05..0.05));
    let line_ink = tint.map(|v| v * 0.72);
    let grain_seed: u64 = rng.gen();
    let inv = 1.0 / dpmm as f32;
    // Terms that depend on one coordinate only, computed once.
    let per_x: Vec<(f32, f32)> = (0..w)
        .map(|xi| {
            let x = (xi as f32 + 0.5) * inv;
            (
                amp1 * (tau * x / wave1 + phase1).sin(),
                0.25 * (tau * x / 11.0).sin(),
            )
        })
        .collect();
    let mut c = Canvas::new(w, h, tint);
    for yi in 0..h {
        let y = (yi as f32 + 0.5) * inv;
        let band = layout.clear_band.map_or(0.0, |(top, bottom)| {
            let (top, bottom) = (top as f32, bottom as f32);
            // 1 inside the clear band, ramping over 1.5 mm.
            ((y - top + 1.5) / 1.5).clamp(0.0, 1.0) * ((bottom + 1.5 - y) / 1.5).clamp(0.0, 1.0)
        });
        let wave_y = amp2 * (tau * y / wave2 + phase2).sin();
        for (xi, &(wave_x, ring_wobble)) in per_x.iter().enumerate() {
            let x = (xi as f32 + 0.5) * inv;
            let v1 = (tau * (y / spacing1 + wave_x)).sin();
            let v2 = (tau * (x / spacing2 + wave_y)).sin();
            let r = ((x - ring_c.0).powi(2) + (y - ring_c.1).powi(2)).sqrt();
            let v3 = (tau * (r / ring_spacing + ring_wobble)).sin();
            let l1 = smoothstep(0.88, 1.0, v1) * 0.55;
            let l2 = smoothstep(0.9, 1.0, v2) * 0.4;
            let l3 = smoothstep(0.93, 1.0, v3) * 0.35;
            let pattern = l1.max(l2).max(l3) * (1.0 - 0.9 * band);
            let shade = 1.0 + grad.0 * (x / pw - 0.5) + grad.1 * (y / ph - 0.5);
            let grain = (hash01(grain_seed, xi as u64, yi as u64) - 0.5) * 0.03;
            let lighten = 0.75 * band;
            let mut px = [0.0f32; 3];
            for k in 0..3 {
                let base = tint[k] + (1.0 - tint[k]) * lighten;
                let v = base + (line_ink[k] - base) * pattern;
                px[k] = (v * shade + grain).clamp(0.0, 1.0);
            }
            c.set(xi, yi, px);
        }
    }
    c
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A uniform value in [0, 1) from a position: repeatable grain without
/// drawing from the generator per pixel.
pub(crate) fn hash01(seed: u64, x: u64, y: u64) -> f32 {
    let mut z =
        seed ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ y.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// `12 AUG 1974`, as many documents print dates.
fn viz_date(d: NaiveDate) -> String {
    d.format("%d %b %Y").to_string().to_uppercase()
}

fn country_title(code: &str) -> String {
    mrz::country_name(code)
        .map(|n| n.split(" (").next().unwrap_or(n).to_uppercase())
        .unwrap_or_else(|| code.to_string())
}

struct Printer<'a> {
    fonts: &'a Fonts,
    canvas: &'a mut Canvas,
    dpmm: f64,
}

impl Printer<'_> {
    fn px(&self, mm: f64) -> f32 {
        (mm * self.dpmm) as f32
    }

    fn bold(&mut self, text: &str, x: f64, baseline: f64, cap: f64, color: Rgb) {
        let (x, b, c) = (self.px(x), self.px(baseline), self.px(cap));
        self.fonts
            .sans_bold
            .draw(self.canvas, text, x, b, c, color, 1.0);
    }

    fn bold_right(&mut self, text: &str, right: f64, baseline: f64, cap: f64, color: Rgb) {
        let c = self.px(cap);
        let w = self.fonts.sans_bold.width(text, c);
        let (x, b) = (self.px(right) - w, self.px(baseline));
        self.fonts
            .sans_bold
            .draw(self.canvas, text, x, b, c, color, 1.0);
    }

    /// A label and its value below it.
    fn field(&mut self, label: &str, value: &str, x: f64, baseline: f64) {
        self.labelled(label, value, x, baseline, 1.25, 2.1, 3.3, f64::INFINITY);
    }

    fn field_fit(&mut self, label: &str, value: &str, x: f64, baseline: f64, max_w: f64) {
        self.labelled(label, value, x, baseline, 1.25, 2.1, 3.3, max_w);
    }

    fn small_field(&mut self, label: &str, value: &str, x: f64, baseline: f64) {
        self.labelled(label, value, x, baseline, 0.95, 1.8, 2.8, f64::INFINITY);
    }

    fn small_field_fit(&mut self, label: &str, value: &str, x: f64, baseline: f64, max_w: f64) {
        self.labelled(label, value, x, baseline, 0.95, 1.8, 2.8, max_w);
    }

    /// Long values shrink (to 55 % at most) to fit `max_w` millimetres, as
    /// issuers print long names smaller.
    #[allow(clippy::too_many_arguments)]
    fn labelled(
        &mut self,
        label: &str,
        value: &str,
        x: f64,
        baseline: f64,
        label_cap: f64,
        value_cap: f64,
        gap: f64,
        max_w: f64,
    ) {
        let (xp, lb, lc) = (self.px(x), self.px(baseline), self.px(label_cap));
        self.fonts
            .sans
            .draw(self.canvas, label, xp, lb, lc, LABEL, 1.0);
        let mut vc = self.px(value_cap);
        let width = self.fonts.sans_bold.width(value, vc);
        let max = self.px(max_w);
        if width > max {
            vc *= (max / width).max(0.55);
        }
        let vb = self.px(baseline + gap);
        self.fonts
            .sans_bold
            .draw(self.canvas, value, xp, vb, vc, INK, 1.0);
    }

    fn portrait(&mut self, face: &FaceInput<'_>, r: RectMm, tint: Rgb) -> Result<(), DocgenError> {
        let (x0, y0) = (
            (r.x * self.dpmm).round() as usize,
            (r.y * self.dpmm).round() as usize,
        );
        let (w, h) = (
            (r.w * self.dpmm).round() as usize,
            (r.h * self.dpmm).round() as usize,
        );
        let img = face.render(w, h)?;
        for y in 0..h {
            for x in 0..w {
                let c = img.get(x, y);
                let grey = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
                // Printed on the tinted stock: slightly muted, the tint shows.
                let px = [0, 1, 2].map(|k| {
                    let muted = c[k] + (grey - c[k]) * 0.15;
                    muted * 0.92 + tint[k] * 0.08
                });
                if x0 + x < self.canvas.w && y0 + y < self.canvas.h {
                    self.canvas.set(x0 + x, y0 + y, px);
                }
            }
        }
        Ok(())
    }

    /// The small, faint second portrait many documents print.
    fn ghost(&mut self, face: &FaceInput<'_>, r: RectMm, ink: Rgb) -> Result<(), DocgenError> {
        let (x0, y0) = (
            (r.x * self.dpmm).round() as i64,
            (r.y * self.dpmm).round() as i64,
        );
        let (w, h) = (
            (r.w * self.dpmm).round() as usize,
            (r.h * self.dpmm).round() as usize,
        );
        let img = face.render(w, h)?;
        for y in 0..h {
            for x in 0..w {
                let c = img.get(x, y);
                let grey = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
                self.canvas
                    .blend(x0 + x as i64, y0 + y as i64, ink, 0.45 * (1.0 - grey));
            }
        }
        Ok(())
    }

    /// A seeded scribble: letter-like loops of varying height and
    /// width, a taller initial, sometimes an underline.
    fn signature<R: Rng + ?Sized>(&mut self, r: RectMm, rng: &mut R) {
        let letters = rng.gen_range(5..10);
        let heights: Vec<f64> = (0..=letters)
            .map(|i| {
                if i == 0 {
                    rng.gen_range(0.4..0.5)
                } else {
                    rng.gen_range(0.12..0.35)
                }
            })
            .collect();
        // Cumulative letter widths, so letters are not evenly spaced.
        let mut starts = vec![0.0f64];
        for _ in 0..letters {
            let last = starts.last().copied().unwrap_or(0.0);
            starts.push(last + rng.gen_range(0.5..1.5));
        }
        let total = starts.last().copied().unwrap_or(1.0);
        let slant = rng.gen_range(0.2..0.6);
        let width = r.w * rng.gen_range(0.6..1.0);
        let phase = rng.gen_range(0.0..std::f64::consts::TAU);
        let n = letters * 14;
        let mut points = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f64 / (n - 1) as f64;
            let pos = t * letters as f64;
            let k = (pos.floor() as usize).min(letters - 1);
            let f = pos - k as f64;
            let f = f * f * (3.0 - 2.0 * f);
            let amp = r.h * (heights[k] + (heights[k + 1] - heights[k]) * f);
            let a = std::f64::consts::TAU * pos + phase;
            let y = r.y + r.h * 0.55 - amp * a.sin() - r.h * 0.1 * t;
            let advance = (starts[k] + (starts[k + 1] - starts[k]) * (pos - k as f64)) / total;
            let x = r.x + width * advance + slant * amp * a.cos();
            points.push([x * self.dpmm, y * self.dpmm]);
        }
        if rng.gen_bool(0.5) {
            let y = r.y + r.h * rng.gen_range(0.8..0.95);
            points.push([(r.x + width * 1.05) * self.dpmm, y * self.dpmm]);
            points.push([(r.x + width * 0.1) * self.dpmm, (y + 0.6) * self.dpmm]);
        }
        let thick = 0.28 * self.dpmm;
        for pair in points.windows(2) {
            stroke(self.canvas, pair[0], pair[1], thick, SIGNATURE);
        }
    }

    /// Bars of random widths, like a barcode.
    fn barcode<R: Rng + ?Sized>(&mut self, r: RectMm, rng: &mut R) {
        let mut x = r.x;
        while x < r.x + r.w {
            let bar = rng.gen_range(1..=3) as f64 * 0.25;
            let gap = rng.gen_range(1..=3) as f64 * 0.25;
            if x + bar > r.x + r.w {
                break;
            }
            let (x0, x1) = ((x * self.dpmm) as i64, ((x + bar) * self.dpmm) as i64);
            let (y0, y1) = ((r.y * self.dpmm) as i64, ((r.y + r.h) * self.dpmm) as i64);
            for py in y0..y1 {
                for px in x0..x1 {
                    self.canvas.blend(px, py, INK, 0.9);
                }
            }
            x += bar + gap;
        }
    }

    fn specimen_mark(&mut self, x: f64, baseline: f64, cap: f64) {
        let (x, b, c) = (self.px(x), self.px(baseline), self.px(cap));
        self.fonts
            .sans_bold
            .draw(self.canvas, "SPECIMEN", x, b, c, [0.8, 0.15, 0.15], 0.3);
    }

    /// The MRZ lines, each character centred in its 2.54 mm cell; returns
    /// each line's box.
    fn mrz(&mut self, lines: &[String], x0: f64, baselines: &[f64], cap: f64) -> Vec<RectMm> {
        let mut boxes = Vec::new();
        for (line, &baseline) in lines.iter().zip(baselines) {
            let (x, b, c, pitch) = (
                self.px(x0),
                self.px(baseline),
                self.px(cap),
                self.px(MRZ_PITCH_MM),
            );
            self.fonts
                .ocr_b
                .draw_cells(self.canvas, line, x, b, c, pitch, INK);
            let n = line.chars().count() as f64;
            boxes.push(RectMm::new(
                x0 - 0.3,
                baseline - cap - 0.4,
                n * MRZ_PITCH_MM + 0.6,
                cap + 0.8,
            ));
        }
        boxes
    }
}

/// An anti-aliased line segment of `width` pixels.
fn stroke(c: &mut Canvas, a: [f64; 2], b: [f64; 2], width: f64, color: Rgb) {
    let half = width / 2.0;
    let (x0, x1) = (a[0].min(b[0]) - half - 1.0, a[0].max(b[0]) + half + 1.0);
    let (y0, y1) = (a[1].min(b[1]) - half - 1.0, a[1].max(b[1]) + half + 1.0);
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = (d[0] * d[0] + d[1] * d[1]).max(1e-9);
    for y in y0.floor() as i64..=y1.ceil() as i64 {
        for x in x0.floor() as i64..=x1.ceil() as i64 {
            let p = [x as f64 + 0.5, y as f64 + 0.5];
            let t = (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0);
            let q = [a[0] + t * d[0] - p[0], a[1] + t * d[1] - p[1]];
            let dist = (q[0] * q[0] + q[1] * q[1]).sqrt();
            let cover = (half - dist + 0.5).clamp(0.0, 1.0) as f32;
            if cover > 0.0 {
                // Darken only (max-like), so overlapping segments do not pile up.
                let i = (y, x);
                let cur = if i.0 >= 0 && i.1 >= 0 && (i.0 as usize) < c.h && (i.1 as usize) < c.w {
                    c.get(i.1 as usize, i.0 as usize)
                } else {
                    continue;
                };
                let target = [0, 1, 2].map(|k| cur[k] + (color[k] - cur[k]) * cover);
                let darker = [0, 1, 2].map(|k| cur[k].min(target[k]));
                c.set(i.1 as usize, i.0 as usize, darker);
            }
        }
    }
}
