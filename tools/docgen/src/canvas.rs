//! A floating-point RGB raster (0.0 to 1.0 per channel) and the few pixel
//! operations the renderer needs: blending, bilinear sampling, box and
//! motion blur, resizing, conversion to 8-bit.

use image::{Rgb32FImage, RgbImage};

#[derive(Clone, Debug)]
pub(crate) struct Canvas {
    pub w: usize,
    pub h: usize,
    /// Interleaved RGB, row-major.
    pub px: Vec<f32>,
}

pub(crate) type Rgb = [f32; 3];

impl Canvas {
    pub fn new(w: usize, h: usize, fill: Rgb) -> Self {
        let mut px = Vec::with_capacity(w * h * 3);
        for _ in 0..w * h {
            px.extend_from_slice(&fill);
        }
        Canvas { w, h, px }
    }

    pub fn from_rgb8(img: &RgbImage) -> Self {
        Canvas {
            w: img.width() as usize,
            h: img.height() as usize,
            px: img.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect(),
        }
    }

    pub fn to_rgb8(&self) -> RgbImage {
        let raw: Vec<u8> = self.px.iter().map(|&v| to_u8(v)).collect();
        RgbImage::from_raw(self.w as u32, self.h as u32, raw)
            .unwrap_or_else(|| RgbImage::new(self.w as u32, self.h as u32))
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.w + x) * 3;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    #[inline]
    pub fn set(&mut self, x: usize, y: usize, c: Rgb) {
        let i = (y * self.w + x) * 3;
        self.px[i..i + 3].copy_from_slice(&c);
    }

    /// Paints `color` over pixel (x, y) with opacity `alpha`; outside is ignored.
    #[inline]
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let i = (y as usize * self.w + x as usize) * 3;
        for (c, p) in color.iter().zip(&mut self.px[i..i + 3]) {
            *p += (c - *p) * a;
        }
    }

    /// Bilinear sample at continuous pixel coordinates (pixel centres at
    /// integer + 0.5). Returns the colour and the coverage (0 outside the
    /// raster, fractional on its border), so callers composite with soft edges.
    #[inline]
    pub fn sample(&self, x: f64, y: f64) -> (Rgb, f32) {
        let fx = x - 0.5;
        let fy = y - 0.5;
        let x0 = fx.floor();
        let y0 = fy.floor();
        let tx = (fx - x0) as f32;
        let ty = (fy - y0) as f32;
        let (x0, y0) = (x0 as i64, y0 as i64);
        let mut acc = [0.0f32; 3];
        let mut cover = 0.0f32;
        for (dy, wy) in [(0, 1.0 - ty), (1, ty)] {
            for (dx, wx) in [(0, 1.0 - tx), (1, tx)] {
                let (sx, sy) = (x0 + dx, y0 + dy);
                if sx < 0 || sy < 0 || sx >= self.w as i64 || sy >= self.h as i64 {
                    continue;
                }
                let wgt = wx * wy;
                let c = self.get(sx as usize, sy as usize);
                acc[0] += c[0] * wgt;
                acc[1] += c[1] * wgt;
                acc[2] += c[2] * wgt;
                cover += wgt;
            }
        }
        if cover > 0.0 {
            (
                [acc[0] / cover, acc[1] / cover, acc[2] / cover],
                cover.min(1.0),
            )
        } else {
            ([0.0; 3], 0.0)
        }
    }

    /// Resized with a triangle (bilinear, area-aware when shrinking) filter.
    pub fn resized(&self, w: usize, h: usize) -> Canvas {
        let Some(img) = Rgb32FImage::from_raw(self.w as u32, self.h as u32, self.px.clone()) else {
            return Canvas::new(w, h, [0.0; 3]);
        };
        let out = image::imageops::resize(
            &img,
            w as u32,
            h as u32,
            image::imageops::FilterType::Triangle,
        );
        Canvas {
            w,
            h,
            px: out.into_raw(),
        }
    }

    /// Linear motion blur: the mean of `length` pixels along `angle`
    /// (radians), at whole-pixel offsets, edges clamped.
    pub fn motion_blur(&mut self, length: f32, angle: f32) {
        let steps = length.round().max(2.0) as usize;
        let (dx, dy) = (angle.cos(), angle.sin());
        let half = (steps as f32 - 1.0) / 2.0;
        let offsets: Vec<(i64, i64)> = (0..steps)
            .map(|s| {
                let t = s as f32 - half;
                ((dx * t).round() as i64, (dy * t).round() as i64)
            })
            .collect();
        let src = self.px.clone();
        let (w, h) = (self.w as i64, self.h as i64);
        let norm = 1.0 / steps as f32;
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0.0f32; 3];
                for &(ox, oy) in &offsets {
                    let sx = (x + ox).clamp(0, w - 1);
                    let sy = (y + oy).clamp(0, h - 1);
                    let i = ((sy * w + sx) * 3) as usize;
                    acc[0] += src[i];
                    acc[1] += src[i + 1];
                    acc[2] += src[i + 2];
                }
                let i = ((y * w + x) * 3) as usize;
                self.px[i] = acc[0] * norm;
                self.px[i + 1] = acc[1] * norm;
                self.px[i + 2] = acc[2] * norm;
            }
        }
    }

    pub fn clamp(&mut self) {
        for v in &mut self.px {
            *v = v.clamp(0.0, 1.0);
        }
    }
}

#[inline]
pub(crate) fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// One separable box-blur pass of radius `r` over an interleaved buffer with
/// `ch` channels, edges clamped.
pub(crate) fn box_blur(data: &mut [f32], w: usize, h: usize, ch: usize, r: usize) {
    if r == 0 || w == 0 || h == 0 {
        return;
    }
    let mut line = Vec::new();
    // Rows.
    for y in 0..h {
        line.clear();
        line.extend_from_slice(&data[y * w * ch..(y + 1) * w * ch]);
        blur_line(&line, &mut data[y * w * ch..(y + 1) * w * ch], w, ch, ch, r);
    }
    // Columns, through a gathered copy of each column.
    let mut col = vec![0.0f32; h * ch];
    let mut out = vec![0.0f32; h * ch];
    for x in 0..w {
        for y in 0..h {
            let i = (y * w + x) * ch;
            col[y * ch..(y + 1) * ch].copy_from_slice(&data[i..i + ch]);
        }
        blur_line(&col, &mut out, h, ch, ch, r);
        for y in 0..h {
            let i = (y * w + x) * ch;
            data[i..i + ch].copy_from_slice(&out[y * ch..(y + 1) * ch]);
        }
    }
}

fn blur_line(src: &[f32], dst: &mut [f32], n: usize, ch: usize, stride: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    let at = |i: i64, c: usize| -> f32 {
        let j = i.clamp(0, n as i64 - 1) as usize;
        src[j * stride + c]
    };
    for c in 0..ch {
        let mut sum = 0.0f32;
        for i in -(r as i64)..=(r as i64) {
            sum += at(i, c);
        }
        for i in 0..n {
            dst[i * stride + c] = sum * norm;
            sum += at(i as i64 + r as i64 + 1, c) - at(i as i64 - r as i64, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_blur_keeps_a_flat_image_flat_and_spreads_a_spike() {
        let mut flat = vec![0.5f32; 20 * 10];
        box_blur(&mut flat, 20, 10, 1, 2);
        assert!(flat.iter().all(|v| (v - 0.5).abs() < 1e-5));
        let mut spike = vec![0.0f32; 21 * 21];
        spike[10 * 21 + 10] = 1.0;
        box_blur(&mut spike, 21, 21, 1, 1);
        assert!((spike.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!((spike[10 * 21 + 10] - 1.0 / 9.0).abs() < 1e-5);
    }
}
