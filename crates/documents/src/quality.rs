//! Image measurements on a found document, each a number the inspector
//! holds against a threshold calibrated on generated documents (see
//! [`Thresholds`] and the `document_checks` example):
//!
//! - **blur**: the width of the text's edges. A step of contrast `C`
//!   blurred by a Gaussian of deviation σ has a steepest slope of
//!   `C / (σ·√(2π))`, so σ ≈ `C / (√(2π)·slope)`, measured along and across
//!   each text line (motion blur widens one direction), over the text
//!   height: a character's size sets how much blur it survives;
//! - **glare**: the share of a zone (the MRZ, the portrait) washed out —
//!   cells with no dark ink left that are as bright as the paper or brighter;
//! - **colour**: after white-balancing on the paper, how coloured the page
//!   is (a high percentile of the chroma); a black-and-white copy has none
//!   whatever the light's cast;
//! - **exposure**: the paper's brightness;
//! - **framing**: whether the page runs over the image border (from
//!   [`crate::page`]) or its text touches it.

use facegate_vision::geometry::Point;
use image::RgbImage;

use crate::detect::TextBox;
use crate::page::{dist, Quad};

/// Luminance of an sRGB pixel (Rec. 601 weights), 0..255.
fn luma(px: &[u8]) -> f32 {
    0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])
}

/// The blur of the text, per line and overall.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Blur {
    /// Estimated σ of the blur in photo pixels (median over the lines).
    pub sigma_px: f32,
    /// σ over the line height (median over the lines).
    pub relative: f32,
    /// Lines measured.
    pub lines: usize,
}

/// Blur measured on the text lines (photo pixels). `None` without a line
/// big enough to measure (at least 6 px high and 3 heights long).
pub fn text_blur(image: &RgbImage, text: &[TextBox]) -> Option<Blur> {
    let mut sigmas = Vec::new();
    let mut relative = Vec::new();
    for b in text {
        if b.height < 6.0 || b.aspect() < 3.0 {
            continue;
        }
        if let Some(s) = line_blur(image, b) {
            sigmas.push(s);
            relative.push(s / b.height);
        }
    }
    if sigmas.is_empty() {
        return None;
    }
    Some(Blur {
        sigma_px: median(&mut sigmas),
        relative: median(&mut relative),
        lines: relative.len(),
    })
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// σ of one line: the larger of the estimates along and across the line.
fn line_blur(image: &RgbImage, b: &TextBox) -> Option<f32> {
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    let corners = b.corners();
    let x0 = corners.iter().map(|p| p.x).fold(f32::MAX, f32::min).floor() as i64;
    let x1 = corners.iter().map(|p| p.x).fold(f32::MIN, f32::max).ceil() as i64;
    let y0 = corners.iter().map(|p| p.y).fold(f32::MAX, f32::min).floor() as i64;
    let y1 = corners.iter().map(|p| p.y).fold(f32::MIN, f32::max).ceil() as i64;
    let (x0, x1, y0, y1) = (x0.max(1), x1.min(iw - 2), y0.max(1), y1.min(ih - 2));
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return None;
    }
    let q = Quad(corners);
    let raw = image.as_raw();
    let at = |x: i64, y: i64| luma(&raw[((y * iw + x) * 3) as usize..][..3]);
    let (u, v) = (b.axis, Point::new(-b.axis.y, b.axis.x));
    let mut levels = Vec::new();
    let mut along = Vec::new();
    let mut across = Vec::new();
    for y in y0..=y1 {
        for x in x0..=x1 {
            if !q.contains(Point::new(x as f32 + 0.5, y as f32 + 0.5), 0.0) {
                continue;
            }
            levels.push(at(x, y));
            let gx = (at(x + 1, y) - at(x - 1, y)) / 2.0;
            let gy = (at(x, y + 1) - at(x, y - 1)) / 2.0;
            along.push((gx * u.x + gy * u.y).abs());
            across.push((gx * v.x + gy * v.y).abs());
        }
    }
    if levels.len() < 64 {
        return None;
    }
    levels.sort_by(f32::total_cmp);
    let n = levels.len();
    let contrast = levels[n * 97 / 100] - levels[n * 3 / 100];
    if contrast < 20.0 {
        return None;
    }
    // The steepest slopes: the mean of the top 2 %.
    let top = |g: &mut Vec<f32>| {
        g.sort_by(|a, b| b.total_cmp(a));
        let k = (g.len() / 50).max(3).min(g.len());
        g[..k].iter().sum::<f32>() / k as f32
    };
    let slope = top(&mut along).min(top(&mut across));
    if slope <= 0.0 {
        return None;
    }
    Some(contrast / ((2.0 * std::f32::consts::PI).sqrt() * slope))
}

/// The share of `zone` washed out by light: the zone is cut into cells
/// about `cell` photo pixels wide; a cell is washed when even its darkest
/// pixels (2nd percentile) are lighter than `ink_floor` and its brightest
/// (98th) reach `bright`. Cells outside the photo do not count. `None` when
/// no cell of the zone is in the photo.
pub fn washed_share(
    image: &RgbImage,
    zone: &Quad,
    cells_u: usize,
    cells_v: usize,
    ink_floor: f32,
    bright: f32,
) -> Option<f32> {
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let raw = image.as_raw();
    let p = zone.0;
    let lerp =
        |a: Point, b: Point, t: f32| Point::new(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
    // Bilinear in the quad: close enough to the homography for small cells.
    let point = |s: f32, t: f32| lerp(lerp(p[0], p[1], s), lerp(p[3], p[2], s), t);
    let width = dist(p[0], p[1]).max(dist(p[3], p[2]));
    let height = dist(p[0], p[3]).max(dist(p[1], p[2]));
    let samples_u = ((width / cells_u as f32).ceil() as usize).clamp(4, 24);
    let samples_v = ((height / cells_v as f32).ceil() as usize).clamp(4, 24);
    let (mut washed, mut seen) = (0usize, 0usize);
    let mut values = Vec::with_capacity(samples_u * samples_v);
    for cv in 0..cells_v {
        for cu in 0..cells_u {
            values.clear();
            for j in 0..samples_v {
                for i in 0..samples_u {
                    let s = (cu as f32 + (i as f32 + 0.5) / samples_u as f32) / cells_u as f32;
                    let t = (cv as f32 + (j as f32 + 0.5) / samples_v as f32) / cells_v as f32;
                    let q = point(s, t);
                    if q.x < 0.0 || q.y < 0.0 || q.x >= iw || q.y >= ih {
                        continue;
                    }
                    let k = ((q.y as usize) * image.width() as usize + q.x as usize) * 3;
                    values.push(luma(&raw[k..k + 3]));
                }
            }
            if values.len() < samples_u * samples_v / 2 {
                continue;
            }
            values.sort_by(f32::total_cmp);
            let n = values.len();
            seen += 1;
            if values[n * 2 / 100] >= ink_floor && values[(n * 98 / 100).min(n - 1)] >= bright {
                washed += 1;
            }
        }
    }
    (seen > 0).then(|| washed as f32 / seen as f32)
}

/// The page's colour after white-balancing on its paper.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Colour {
    /// The paper's colour (the mean of the brightest 10 % by luminance):
    /// what the light looks like on white.
    pub white: [f32; 3],
    /// Chroma percentiles (90th, 98th, 99.5th), in grey levels of the
    /// balanced image.
    pub p90: f32,
    pub p98: f32,
    pub p995: f32,
    /// The paper's brightness: the 90th percentile of the luminance.
    pub paper: f32,
    /// Samples measured.
    pub samples: usize,
}

/// Colour statistics of the page: the photo scaled down to `work_side`
/// (area averaging, so sensor noise and JPEG's chroma blocks average out),
/// the pixels inside the page's quad shrunk by 6 % towards its centre; each
/// divided by the paper's colour (the mean of the brightest 10 % by
/// luminance); chroma = |(r − g, (r + g)/2 − b)| × 255.
pub fn page_colour(image: &RgbImage, page: &Quad, work_side: u32) -> Option<Colour> {
    let (w0, h0) = (image.width().max(1), image.height().max(1));
    let s = (work_side as f32 / w0.max(h0) as f32).min(1.0);
    let (w, h) = (
        ((w0 as f32 * s).round() as u32).max(1),
        ((h0 as f32 * s).round() as u32).max(1),
    );
    let small = if w < w0 {
        image::imageops::thumbnail(image, w, h)
    } else {
        image.clone()
    };
    let scale = small.width() as f32 / w0 as f32;
    let c = page.centroid();
    let inner = Quad(page.0.map(|p| {
        Point::new(
            (c.x + (p.x - c.x) * 0.94) * scale,
            (c.y + (p.y - c.y) * 0.94) * scale,
        )
    }));
    let mut px: Vec<[f32; 3]> = Vec::new();
    for (x, y, p) in small.enumerate_pixels() {
        if inner.contains(Point::new(x as f32 + 0.5, y as f32 + 0.5), 0.0) {
            px.push(p.0.map(f32::from));
        }
    }
    if px.len() < 50 {
        return None;
    }
    let mut lum: Vec<(f32, usize)> = px
        .iter()
        .enumerate()
        .map(|(i, p)| (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2], i))
        .collect();
    lum.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = lum.len();
    let paper = lum[n * 90 / 100].0;
    let top = &lum[n * 90 / 100..];
    let mut white = [0f32; 3];
    for &(_, i) in top {
        for c in 0..3 {
            white[c] += px[i][c];
        }
    }
    let white = white.map(|v| (v / top.len() as f32).max(8.0));
    let mut chroma: Vec<f32> = px
        .iter()
        .map(|p| {
            let (r, g, b) = (p[0] / white[0], p[1] / white[1], p[2] / white[2]);
            let (c1, c2) = (r - g, (r + g) / 2.0 - b);
            (c1 * c1 + c2 * c2).sqrt() * 255.0
        })
        .collect();
    chroma.sort_by(f32::total_cmp);
    let at = |q: f32| chroma[((n as f32 * q) as usize).min(n - 1)];
    Some(Colour {
        white,
        p90: at(0.90),
        p98: at(0.98),
        p995: at(0.995),
        paper,
        samples: n,
    })
}

/// The photo white-balanced on `white` (the paper's colour): each channel
/// scaled so that the paper is grey at its brightest channel's level.
pub fn balanced(image: &RgbImage, white: [f32; 3]) -> RgbImage {
    let top = white.iter().copied().fold(1.0f32, f32::max);
    lit(image.clone(), white.map(|w| top / w.max(1.0)))
}

/// The photo with each channel (red, green, blue) scaled by its gain: as
/// under a light of that colour and strength, or balanced back from one.
pub fn lit(mut image: RgbImage, gains: [f32; 3]) -> RgbImage {
    for px in image.pixels_mut() {
        for (v, g) in px.0.iter_mut().zip(gains) {
            *v = (f32::from(*v) * g).round().clamp(0.0, 255.0) as u8;
        }
    }
    image
}

/// Whether a text line (photo pixels) reaches within `margin` pixels of
/// the image border: the photo cut it.
pub fn touches_border(b: &TextBox, width: u32, height: u32, margin: f32) -> bool {
    b.corners().iter().any(|p| {
        p.x < margin || p.y < margin || p.x > width as f32 - margin || p.y > height as f32 - margin
    })
}

/// A zone given in page fractions (`x0, y0, x1, y1` of the upright page),
/// in the photo through `to_photo`.
pub fn page_zone(to_photo: &crate::page::Homography, size: (f32, f32), frac: [f32; 4]) -> Quad {
    let (w, h) = size;
    let at = |x: f32, y: f32| to_photo.apply(Point::new(x * w, y * h));
    Quad([
        at(frac[0], frac[1]),
        at(frac[2], frac[1]),
        at(frac[2], frac[3]),
        at(frac[0], frac[3]),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Dark strokes on light paper, every `period` pixels, blurred by a box
    /// filter of radius `r` applied three times (≈ Gaussian σ = √(r(r+1))).
    fn strokes(w: u32, h: u32, period: u32, r: usize) -> RgbImage {
        let mut v: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x % period < period / 2 && y % period < period / 2 {
                    30.0
                } else {
                    220.0
                }
            })
            .collect();
        for _ in 0..3 {
            let mut out = v.clone();
            for y in 0..h as i64 {
                for x in 0..w as i64 {
                    let mut acc = 0.0;
                    let mut n = 0.0;
                    for dy in -(r as i64)..=r as i64 {
                        for dx in -(r as i64)..=r as i64 {
                            let (xx, yy) = (x + dx, y + dy);
                            if xx >= 0 && yy >= 0 && xx < w as i64 && yy < h as i64 {
                                acc += v[(yy * w as i64 + xx) as usize];
                                n += 1.0;
                            }
                        }
                    }
                    out[(y * w as i64 + x) as usize] = acc / n;
                }
            }
            v = out;
        }
        RgbImage::from_fn(w, h, |x, y| {
            let g = v[(y * w + x) as usize].round() as u8;
            image::Rgb([g, g, g])
        })
    }

    fn line(w: f32, h: f32) -> TextBox {
        TextBox {
            center: Point::new(w / 2.0, h / 2.0),
            axis: Point::new(1.0, 0.0),
            length: w - 8.0,
            height: h - 8.0,
            score: 0.9,
        }
    }

    #[test]
    fn the_blur_estimate_follows_the_blur() {
        let b = line(200.0, 40.0);
        let sharp = text_blur(&strokes(200, 40, 16, 0), &[b]).unwrap();
        let mut last = sharp.sigma_px;
        assert!(last < 1.0, "{sharp:?}");
        for r in 1..=3 {
            let blurred = text_blur(&strokes(200, 40, 16, r), &[b]).unwrap();
            let sigma = ((r * (r + 1)) as f32).sqrt();
            assert!(
                (blurred.sigma_px - sigma).abs() < 0.35 * sigma,
                "r {r}: {blurred:?}"
            );
            assert!(blurred.sigma_px > last);
            last = blurred.sigma_px;
        }
    }

    #[test]
    fn a_grey_page_under_a_colour_cast_has_no_colour() {
        let q = Quad([
            Point::new(10.0, 10.0),
            Point::new(190.0, 10.0),
            Point::new(190.0, 140.0),
            Point::new(10.0, 140.0),
        ]);
        let grey = RgbImage::from_fn(200, 150, |x, y| {
            let g = if (x / 7 + y / 5) % 3 == 0 {
                40.0
            } else {
                200.0
            };
            // A warm cast: red up, blue down.
            image::Rgb([(g * 1.1) as u8, g as u8, (g * 0.85) as u8])
        });
        let c = page_colour(&grey, &q, 200).unwrap();
        assert!(c.p98 < 8.0, "{c:?}");
        let coloured = RgbImage::from_fn(200, 150, |x, y| {
            if (x / 20 + y / 20) % 4 == 0 {
                image::Rgb([200, 140, 110])
            } else {
                image::Rgb([230, 230, 235])
            }
        });
        let c = page_colour(&coloured, &q, 200).unwrap();
        assert!(c.p98 > 30.0, "{c:?}");
    }

    #[test]
    fn balancing_on_the_paper_makes_it_grey_and_keeps_the_ink() {
        // Paper and ink under a green light: red and blue dimmed.
        let mut image = RgbImage::from_pixel(200, 120, image::Rgb([184, 230, 161]));
        for y in 40..60 {
            for x in 20..180 {
                image.put_pixel(x, y, image::Rgb([24, 30, 21]));
            }
        }
        let page = Quad([
            Point::new(0.0, 0.0),
            Point::new(200.0, 0.0),
            Point::new(200.0, 120.0),
            Point::new(0.0, 120.0),
        ]);
        let white = page_colour(&image, &page, 480).unwrap().white;
        assert!((white[1] - 230.0).abs() < 1.0 && (white[0] - 184.0).abs() < 1.0);
        let out = balanced(&image, white);
        let paper = out.get_pixel(100, 100).0;
        assert!(paper.iter().all(|&v| v.abs_diff(230) <= 1), "{paper:?}");
        let ink = out.get_pixel(100, 50).0;
        assert!(ink.iter().all(|&v| v.abs_diff(30) <= 1), "{ink:?}");
    }

    #[test]
    fn a_washed_out_half_is_half_washed() {
        let img = RgbImage::from_fn(200, 40, |x, y| {
            if x >= 100 {
                image::Rgb([252, 253, 255])
            } else if (x + y) % 6 == 0 {
                image::Rgb([20, 20, 20])
            } else {
                image::Rgb([220, 220, 220])
            }
        });
        let q = Quad([
            Point::new(0.0, 0.0),
            Point::new(200.0, 0.0),
            Point::new(200.0, 40.0),
            Point::new(0.0, 40.0),
        ]);
        let s = washed_share(&img, &q, 10, 2, 150.0, 240.0).unwrap();
        assert!((s - 0.5).abs() < 1e-6, "{s}");
    }
}
