//! The fonts a document is printed with, found on the system, and text
//! drawing onto a [`Canvas`].
//!
//! - OCR-B for the MRZ: Debian's `fonts-ocr-b` (Matthew Skala's public-domain
//!   OCR-B, `/usr/share/fonts/opentype/ocr-b/OCRB.otf`), installed by
//!   `scripts/setup-fonts`, or the file named by `FACEGATE_OCRB_FONT`.
//! - DejaVu Sans (regular and bold) for the visual zone: Debian's
//!   `fonts-dejavu-core`, or the files named by `FACEGATE_SANS_FONT` and
//!   `FACEGATE_SANS_BOLD_FONT`.
//!
//! No font is committed to the repository.

use std::path::{Path, PathBuf};

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};

use crate::canvas::{Canvas, Rgb};
use crate::DocgenError;

/// Debian's path of the OCR-B regular face (package `fonts-ocr-b`).
pub const DEBIAN_OCRB: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
/// Debian's path of DejaVu Sans (package `fonts-dejavu-core`).
pub const DEBIAN_SANS: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Debian's path of DejaVu Sans Bold (package `fonts-dejavu-core`).
pub const DEBIAN_SANS_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// Where the three font files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontPaths {
    pub ocr_b: PathBuf,
    pub sans: PathBuf,
    pub sans_bold: PathBuf,
}

impl FontPaths {
    /// The environment's choice (`FACEGATE_OCRB_FONT`, `FACEGATE_SANS_FONT`,
    /// `FACEGATE_SANS_BOLD_FONT`), else the Debian paths.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        FontPaths {
            ocr_b: var("FACEGATE_OCRB_FONT", DEBIAN_OCRB),
            sans: var("FACEGATE_SANS_FONT", DEBIAN_SANS),
            sans_bold: var("FACEGATE_SANS_BOLD_FONT", DEBIAN_SANS_BOLD),
        }
    }

    /// The first file that does not exist, if any (tests skip on it).
    pub fn missing(&self) -> Option<&Path> {
        [&self.ocr_b, &self.sans, &self.sans_bold]
            .into_iter()
            .find(|p| !p.is_file())
            .map(PathBuf::as_path)
    }
}

/// The loaded fonts.
pub struct Fonts {
    pub(crate) ocr_b: Typeface,
    pub(crate) sans: Typeface,
    pub(crate) sans_bold: Typeface,
}

impl Fonts {
    pub fn load(paths: &FontPaths) -> Result<Self, DocgenError> {
        Ok(Fonts {
            ocr_b: Typeface::load(&paths.ocr_b)?,
            sans: Typeface::load(&paths.sans)?,
            sans_bold: Typeface::load(&paths.sans_bold)?,
        })
    }
}

/// One font plus the ratio that turns a wanted cap height into its pixel scale.
pub(crate) struct Typeface {
    font: FontVec,
    /// `PxScale` per pixel of capital-letter height.
    scale_per_cap: f32,
}

impl Typeface {
    fn load(path: &Path) -> Result<Self, DocgenError> {
        let bytes = std::fs::read(path).map_err(|source| DocgenError::Font {
            path: path.to_path_buf(),
            reason: source.to_string(),
        })?;
        let font = FontVec::try_from_vec(bytes).map_err(|e| DocgenError::Font {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let cap = font
            .outline(font.glyph_id('H'))
            // ab_glyph's unscaled bounds are y-up with `min` holding the
            // top: the cap height is the larger of the two.
            .map(|o| o.bounds.min.y.max(o.bounds.max.y))
            .filter(|&h| h > 0.0)
            .ok_or_else(|| DocgenError::Font {
                path: path.to_path_buf(),
                reason: "the font has no outline for 'H'".to_string(),
            })?;
        Ok(Typeface {
            scale_per_cap: font.height_unscaled() / cap,
            font,
        })
    }

    fn scale(&self, cap_px: f32) -> PxScale {
        PxScale::from(cap_px * self.scale_per_cap)
    }

    /// Advance width of `text` at capital height `cap_px`, kerning included.
    pub fn width(&self, text: &str, cap_px: f32) -> f32 {
        let scaled = self.font.as_scaled(self.scale(cap_px));
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                w += scaled.kern(p, id);
            }
            w += scaled.h_advance(id);
            prev = Some(id);
        }
        w
    }

    /// Draws `text` with its baseline at `baseline` starting at `x`; returns
    /// the advance width.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        &self,
        canvas: &mut Canvas,
        text: &str,
        x: f32,
        baseline: f32,
        cap_px: f32,
        color: Rgb,
        alpha: f32,
    ) -> f32 {
        let scale = self.scale(cap_px);
        let scaled = self.font.as_scaled(scale);
        let mut caret = x;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            self.draw_glyph(canvas, id, scale, caret, baseline, color, alpha);
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        caret - x
    }

    /// Draws each character centred in its own cell of width `pitch`, the
    /// way the MRZ is printed (fixed 2.54 mm pitch).
    #[allow(clippy::too_many_arguments)]
    pub fn draw_cells(
        &self,
        canvas: &mut Canvas,
        text: &str,
        x: f32,
        baseline: f32,
        cap_px: f32,
        pitch: f32,
        color: Rgb,
    ) {
        let scale = self.scale(cap_px);
        let scaled = self.font.as_scaled(scale);
        for (i, c) in text.chars().enumerate() {
            let id = scaled.glyph_id(c);
            let centre = x + (i as f32 + 0.5) * pitch;
            let left = centre - scaled.h_advance(id) / 2.0;
            self.draw_glyph(canvas, id, scale, left, baseline, color, 1.0);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_glyph(
        &self,
        canvas: &mut Canvas,
        id: ab_glyph::GlyphId,
        scale: PxScale,
        x: f32,
        baseline: f32,
        color: Rgb,
        alpha: f32,
    ) {
        let glyph = id.with_scale_and_position(scale, point(x, baseline));
        if let Some(outlined) = self.font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                canvas.blend(
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                    color,
                    coverage * alpha,
                );
            });
        }
    }
}
