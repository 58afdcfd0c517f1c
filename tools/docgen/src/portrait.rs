//! The holder's face: the source image and the part of it printed as the
//! portrait, and a drawn placeholder face for fixtures that may not carry a
//! real one.

use image::RgbImage;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::canvas::Canvas;
use crate::DocgenError;

/// A face image and the rectangle of it to print.
#[derive(Clone, Copy)]
pub struct FaceInput<'a> {
    pub image: &'a RgbImage,
    /// `None`: [`Crop::centred`].
    pub crop: Option<Crop>,
}

impl std::fmt::Debug for FaceInput<'_> {
    // The pixels stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceInput")
            .field("image", &self.image.dimensions())
            .field("crop", &self.crop)
            .finish()
    }
}

/// A rectangle of the source image, in its pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// A passport photograph's proportions (35 × 45 mm).
pub const PORTRAIT_ASPECT: f64 = 35.0 / 45.0;

impl Crop {
    /// The centred 35:45 rectangle 80 % as tall as the image (as wide as
    /// allowed): head and shoulders of an LFW image (250 × 250, face
    /// roughly centred) or of a centred webcam frame.
    pub fn centred(width: u32, height: u32) -> Crop {
        let mut h = f64::from(height) * 0.8;
        let mut w = h * PORTRAIT_ASPECT;
        if w > f64::from(width) {
            w = f64::from(width);
            h = w / PORTRAIT_ASPECT;
        }
        let (w, h) = (w.round() as u32, h.round() as u32);
        Crop {
            x: (width - w.min(width)) / 2,
            y: (height - h.min(height)) / 2,
            width: w.max(1),
            height: h.max(1),
        }
    }

    /// A passport photograph's framing (35:45) of the face a detector found
    /// at `face` (`x, y, width, height` in pixels, roughly brows to chin):
    /// the face about half the photograph's height, a little above its
    /// centre, as ICAO's photo guidelines frame head and shoulders. Shrunk
    /// and moved as little as needed to stay inside the image.
    pub fn around_face(face: [f32; 4], width: u32, height: u32) -> Crop {
        let [fx, fy, fw, fh] = face.map(f64::from);
        let (iw, ih) = (f64::from(width), f64::from(height));
        let mut h = (fh.max(fw) / 0.5).min(ih);
        let mut w = h * PORTRAIT_ASPECT;
        if w > iw {
            w = iw;
            h = w / PORTRAIT_ASPECT;
        }
        let (cx, cy) = (fx + fw / 2.0, fy + fh / 2.0);
        let x = (cx - w / 2.0).clamp(0.0, (iw - w).max(0.0));
        let y = (cy - 0.47 * h).clamp(0.0, (ih - h).max(0.0));
        Crop {
            x: x.floor() as u32,
            y: y.floor() as u32,
            width: (w.floor() as u32).clamp(1, width.max(1)),
            height: (h.floor() as u32).clamp(1, height.max(1)),
        }
    }

    /// The largest centred rectangle of `aspect` (width / height).
    pub fn largest(width: u32, height: u32, aspect: f64) -> Crop {
        let (w, h) = (f64::from(width), f64::from(height));
        let (cw, ch) = if w / h > aspect {
            ((h * aspect) as u32, height)
        } else {
            (width, (w / aspect) as u32)
        };
        let (cw, ch) = (cw.clamp(1, width.max(1)), ch.clamp(1, height.max(1)));
        Crop {
            x: (width.saturating_sub(cw)) / 2,
            y: (height.saturating_sub(ch)) / 2,
            width: cw,
            height: ch,
        }
    }

    /// Parses `x,y,width,height`.
    pub fn parse(text: &str) -> Result<Crop, DocgenError> {
        let parts: Vec<u32> = text
            .split(',')
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| DocgenError::Face(format!("crop {text:?} is not x,y,width,height")))?;
        match parts[..] {
            [x, y, width, height] if width > 0 && height > 0 => Ok(Crop {
                x,
                y,
                width,
                height,
            }),
            _ => Err(DocgenError::Face(format!(
                "crop {text:?} is not x,y,width,height with a non-empty size"
            ))),
        }
    }
}

impl FaceInput<'_> {
    /// The crop actually used (the default one, or the caller's, which
    /// must lie inside the image).
    pub fn effective_crop(&self) -> Result<Crop, DocgenError> {
        let (w, h) = self.image.dimensions();
        if w == 0 || h == 0 {
            return Err(DocgenError::Face("the face image is empty".to_string()));
        }
        let crop = self.crop.unwrap_or_else(|| Crop::centred(w, h));
        if crop.width == 0
            || crop.height == 0
            || u64::from(crop.x) + u64::from(crop.width) > u64::from(w)
            || u64::from(crop.y) + u64::from(crop.height) > u64::from(h)
        {
            return Err(DocgenError::Face(format!(
                "crop {crop:?} does not fit the {w}×{h} face image"
            )));
        }
        Ok(crop)
    }

    /// The crop, resized to exactly `w` × `h` pixels.
    pub(crate) fn render(&self, w: usize, h: usize) -> Result<Canvas, DocgenError> {
        let c = self.effective_crop()?;
        let view = image::imageops::crop_imm(self.image, c.x, c.y, c.width, c.height).to_image();
        let resized = image::imageops::resize(
            &view,
            w as u32,
            h as u32,
            image::imageops::FilterType::CatmullRom,
        );
        Ok(Canvas::from_rgb8(&resized))
    }
}

/// A drawn, obviously synthetic head-and-shoulders face (250 × 250, like
/// an LFW image), varied by `seed`. For fixtures and tests that must not
/// carry a real person's face.
pub fn placeholder_face(seed: u64) -> RgbImage {
    let mut rng = crate::stage_rng(seed, crate::Stage::Placeholder);
    let size = 250usize;
    let bg = [
        rng.gen_range(0.70..0.9),
        rng.gen_range(0.75..0.92),
        rng.gen_range(0.8..0.95),
    ];
    let skin_tone: f32 = rng.gen_range(0.0..1.0);
    let skin = [
        0.95 - 0.55 * skin_tone,
        0.80 - 0.50 * skin_tone,
        0.70 - 0.45 * skin_tone,
    ];
    let hair_dark: f32 = rng.gen_range(0.05..0.6);
    let hair = [hair_dark, hair_dark * 0.75, hair_dark * 0.5];
    let shirt = [
        rng.gen_range(0.1..0.7),
        rng.gen_range(0.1..0.7),
        rng.gen_range(0.1..0.7),
    ];
    let mut c = Canvas::new(size, size, bg);
    let s = size as f64;
    // Shoulders, neck, hair, head, features: back to front.
    ellipse(&mut c, 0.5 * s, 1.08 * s, 0.46 * s, 0.3 * s, shirt);
    ellipse(
        &mut c,
        0.5 * s,
        0.78 * s,
        0.08 * s,
        0.12 * s,
        scale(skin, 0.9),
    );
    ellipse(&mut c, 0.5 * s, 0.42 * s, 0.2 * s, 0.25 * s, hair);
    ellipse(&mut c, 0.5 * s, 0.5 * s, 0.17 * s, 0.22 * s, skin);
    let eye_y = 0.46 * s;
    for side in [-1.0, 1.0] {
        let ex = 0.5 * s + side * 0.07 * s;
        ellipse(&mut c, ex, eye_y, 0.03 * s, 0.015 * s, [0.97, 0.97, 0.97]);
        ellipse(&mut c, ex, eye_y, 0.013 * s, 0.013 * s, [0.15, 0.1, 0.08]);
        ellipse(
            &mut c,
            ex,
            eye_y - 0.035 * s,
            0.035 * s,
            0.007 * s,
            scale(hair, 0.8),
        );
    }
    ellipse(
        &mut c,
        0.5 * s,
        0.53 * s,
        0.014 * s,
        0.04 * s,
        scale(skin, 0.85),
    );
    ellipse(
        &mut c,
        0.5 * s,
        0.62 * s,
        0.05 * s,
        0.012 * s,
        [0.6, 0.25, 0.25],
    );
    c.to_rgb8()
}

fn scale(c: [f32; 3], f: f32) -> [f32; 3] {
    c.map(|v| v * f)
}

/// A filled, anti-aliased axis-aligned ellipse.
pub(crate) fn ellipse(c: &mut Canvas, cx: f64, cy: f64, rx: f64, ry: f64, color: [f32; 3]) {
    let (x0, x1) = (
        (cx - rx - 1.0).floor() as i64,
        (cx + rx + 1.0).ceil() as i64,
    );
    let (y0, y1) = (
        (cy - ry - 1.0).floor() as i64,
        (cy + ry + 1.0).ceil() as i64,
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let dx = (x as f64 + 0.5 - cx) / rx;
            let dy = (y as f64 + 0.5 - cy) / ry;
            let d = (dx * dx + dy * dy).sqrt();
            // Distance to the edge in pixels, roughly.
            let edge = (1.0 - d) * rx.min(ry);
            let a = (edge + 0.5).clamp(0.0, 1.0) as f32;
            c.blend(x, y, color, a);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_centred_crop_has_passport_proportions_and_fits() {
        for (w, h) in [(250, 250), (640, 480), (100, 400)] {
            let c = Crop::centred(w, h);
            assert!(c.x + c.width <= w && c.y + c.height <= h);
            let aspect = f64::from(c.width) / f64::from(c.height);
            assert!((aspect - PORTRAIT_ASPECT).abs() < 0.02, "{w}x{h}: {c:?}");
        }
    }

    #[test]
    fn the_crop_around_a_face_frames_it_and_fits() {
        // A face in the middle of a webcam frame: framed at half the height.
        let c = Crop::around_face([270.0, 150.0, 100.0, 120.0], 640, 480);
        assert_eq!(c.height, 240);
        assert!((f64::from(c.width) / f64::from(c.height) - PORTRAIT_ASPECT).abs() < 0.02);
        assert!(c.x < 270 && c.x + c.width > 370 && c.y < 150 && c.y + c.height > 270);
        // Near a corner, and larger than the image: moved and shrunk inside.
        for face in [[600.0, 440.0, 80.0, 80.0], [0.0, 0.0, 600.0, 470.0]] {
            let c = Crop::around_face(face, 640, 480);
            assert!(
                c.x + c.width <= 640 && c.y + c.height <= 480,
                "{face:?}: {c:?}"
            );
        }
    }

    #[test]
    fn the_largest_crop_has_the_aspect_and_fits() {
        for (w, h, aspect) in [(640, 480, 92.0 / 122.0), (250, 250, 4.0 / 3.0), (1, 1, 2.0)] {
            let c = Crop::largest(w, h, aspect);
            assert!(c.x + c.width <= w && c.y + c.height <= h, "{c:?}");
            assert!(c.width == w || c.height == h);
        }
    }

    proptest::proptest! {
        /// Any text parses to a crop or an error, and a crop's own text
        /// parses back to it.
        #[test]
        fn crop_text_never_panics_and_round_trips(
            text in ".{0,40}",
            x in 0u32..5000, y in 0u32..5000, w in 1u32..5000, h in 1u32..5000,
        ) {
            let _ = Crop::parse(&text);
            let c = Crop::parse(&format!("{x},{y},{w},{h}")).unwrap();
            proptest::prop_assert_eq!(c, Crop { x, y, width: w, height: h });
        }
    }

    #[test]
    fn a_crop_outside_the_image_is_refused() {
        let img = RgbImage::new(100, 100);
        let face = FaceInput {
            image: &img,
            crop: Some(Crop::parse("50,50,60,10").unwrap()),
        };
        assert!(face.effective_crop().is_err());
        assert!(Crop::parse("1,2,3").is_err());
        assert!(Crop::parse("1,2,0,4").is_err());
    }

    #[test]
    fn placeholder_faces_differ_by_seed() {
        assert_eq!(placeholder_face(1), placeholder_face(1));
        assert_ne!(placeholder_face(1), placeholder_face(2));
    }
}
