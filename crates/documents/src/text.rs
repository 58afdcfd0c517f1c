//! Where the photo has text: the PP-OCRv4 DB detector ([`crate::ids::PPOCR_DET_V4`])
//! on the photo scaled down, and [`crate::detect::boxes`] on its map. The
//! document inspector finds the page, the zones it measures and whether
//! there is a document at all from these lines; it runs its own session so
//! that it does not depend on the reader's internals (a caller that already
//! has the reader's boxes can pass them instead).

use facegate_vision::models::ModelStore;
use facegate_vision::runtime::{Runtime, Session, Tensor};
use image::RgbImage;

use crate::detect::{self, DbSettings, TextBox};
use crate::error::DocumentsError;
use crate::ids;

/// The DB text detector with its own session.
pub struct TextDetector {
    session: Box<dyn Session>,
    /// The photo is scaled down to this longest side (a multiple of 32).
    pub max_side: u32,
    pub db: DbSettings,
}

impl std::fmt::Debug for TextDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextDetector")
            .field("max_side", &self.max_side)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl TextDetector {
    /// Loads the detector (checked against the manifest).
    pub fn new(store: &ModelStore, runtime: &dyn Runtime) -> Result<Self, DocumentsError> {
        Ok(Self {
            session: store.load(runtime, ids::PPOCR_DET_V4)?,
            max_side: 736,
            db: DbSettings::default(),
        })
    }

    /// Text lines in the photo, in photo pixels.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<TextBox>, DocumentsError> {
        let (w, h) = (image.width().max(1), image.height().max(1));
        let max_side = self.max_side.max(32);
        let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
        let round32 = |v: f32| ((v / 32.0).round().max(1.0) as u32) * 32;
        let (dw, dh) = (round32(w as f32 * scale), round32(h as f32 * scale));
        let small = if dw < w && dh < h {
            image::imageops::thumbnail(image, dw, dh)
        } else {
            image::imageops::resize(image, dw, dh, image::imageops::FilterType::Triangle)
        };
        let (dw, dh) = (dw as usize, dh as usize);
        let plane = dw * dh;
        let mut data = vec![0.0f32; 3 * plane];
        for (i, px) in small.pixels().enumerate() {
            // BGR, (x / 255 - 0.5) / 0.5: the model's training normalisation.
            for (c, &v) in [px[2], px[1], px[0]].iter().enumerate() {
                data[c * plane + i] = f32::from(v) / 127.5 - 1.0;
            }
        }
        let out = self
            .session
            .run(vec![Tensor::new(vec![1, 3, dh, dw], data)?])?
            .into_iter()
            .next()
            .ok_or_else(|| DocumentsError::Model("the text detector gave no output".into()))?;
        if out.shape != [1, 1, dh, dw] {
            return Err(DocumentsError::Model(format!(
                "the text detector's output is {:?}, expected [1, 1, {dh}, {dw}]",
                out.shape
            )));
        }
        Ok(detect::boxes(
            &out.data,
            dw,
            dh,
            w as f32 / dw as f32,
            h as f32 / dh as f32,
            &self.db,
        ))
    }
}
