//! Points and rectangles in image pixel coordinates (x right, y down).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
}

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl Rect {
    pub fn center(&self) -> Point {
        Point::new(self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union.
    pub fn iou(&self, other: &Rect) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.width).min(other.x + other.width);
        let y2 = (self.y + self.height).min(other.y + other.height);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// A 2-D affine map `p ↦ (a·x + b·y + c, d·x + e·y + f)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub m: [[f32; 3]; 2],
}

impl Affine {
    pub const IDENTITY: Affine = Affine {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    };

    pub fn apply(&self, p: Point) -> Point {
        let [[a, b, c], [d, e, f]] = self.m;
        Point::new(a * p.x + b * p.y + c, d * p.x + e * p.y + f)
    }

    /// Rotation by `angle` (radians, counter-clockwise in a y-up frame, i.e.
    /// clockwise on screen), uniform `scale`, then translation.
    pub fn similarity(scale: f32, angle: f32, tx: f32, ty: f32) -> Self {
        let (s, c) = angle.sin_cos();
        Affine {
            m: [[scale * c, -scale * s, tx], [scale * s, scale * c, ty]],
        }
    }

    /// `self` after `first`: `self.apply(first.apply(p))`.
    pub fn compose(&self, first: &Affine) -> Affine {
        let [[a, b, c], [d, e, f]] = self.m;
        let [[p, q, r], [s, t, u]] = first.m;
        Affine {
            m: [
                [a * p + b * s, a * q + b * t, a * r + b * u + c],
                [d * p + e * s, d * q + e * t, d * r + e * u + f],
            ],
        }
    }

    /// The inverse map, if the linear part is invertible.
    pub fn inverse(&self) -> Option<Affine> {
        let [[a, b, c], [d, e, f]] = self.m;
        let det = a * e - b * d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(Affine {
            m: [[ia, ib, -(ia * c + ib * f)], [id, ie, -(id * c + ie * f)]],
        })
    }
}

/// An RGB image as interleaved f32 samples in 0..=255, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbF32 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl RgbF32 {
    pub fn from_rgb8(image: &image::RgbImage) -> Self {
        Self {
            width: image.width() as usize,
            height: image.height() as usize,
            data: image.as_raw().iter().map(|&v| f32::from(v)).collect(),
        }
    }

    /// Bilinear sample at (x, y) in pixel-centre coordinates (pixel i covers
    /// [i, i+1) and has its centre at i); outside the image the border pixel
    /// is repeated.
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        if self.width == 0 || self.height == 0 {
            return [0.0; 3];
        }
        let max_x = (self.width - 1) as f32;
        let max_y = (self.height - 1) as f32;
        let x = x.clamp(0.0, max_x);
        let y = y.clamp(0.0, max_y);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as usize, y0 as usize);
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let px = |xx: usize, yy: usize, ch: usize| self.data[(yy * self.width + xx) * 3 + ch];
        let mut out = [0.0; 3];
        for (ch, o) in out.iter_mut().enumerate() {
            let top = px(x0, y0, ch) * (1.0 - fx) + px(x1, y0, ch) * fx;
            let bottom = px(x0, y1, ch) * (1.0 - fx) + px(x1, y1, ch) * fx;
            *o = top * (1.0 - fy) + bottom * fy;
        }
        out
    }

    /// Resamples into a `width`×`height` image: output pixel (u, v) takes the
    /// bilinear sample at `to_source.apply((u, v))`. Points that fall outside
    /// the source take `fill` when given, else the nearest border pixel.
    pub fn warp(
        &self,
        to_source: &Affine,
        width: usize,
        height: usize,
        fill: Option<[f32; 3]>,
    ) -> RgbF32 {
        let mut data = Vec::with_capacity(width * height * 3);
        for v in 0..height {
            for u in 0..width {
                let p = to_source.apply(Point::new(u as f32, v as f32));
                let outside = p.x < -0.5
                    || p.y < -0.5
                    || p.x > self.width as f32 - 0.5
                    || p.y > self.height as f32 - 0.5;
                let rgb = match fill {
                    Some(f) if outside => f,
                    _ => self.sample(p.x, p.y),
                };
                data.extend_from_slice(&rgb);
            }
        }
        RgbF32 {
            width,
            height,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_inverse_and_compose_round_trip() {
        let a = Affine::similarity(1.7, 0.3, 12.0, -4.0);
        let inv = a.inverse().unwrap_or(Affine::IDENTITY);
        let p = Point::new(3.5, -8.25);
        let back = inv.apply(a.apply(p));
        assert!((back.x - p.x).abs() < 1e-4 && (back.y - p.y).abs() < 1e-4);
        let id = inv.compose(&a);
        assert!((id.m[0][0] - 1.0).abs() < 1e-5 && id.m[0][1].abs() < 1e-5);
    }

    #[test]
    fn bilinear_sampling_interpolates_between_pixel_centres() {
        let img = RgbF32 {
            width: 2,
            height: 1,
            data: vec![0.0, 0.0, 0.0, 100.0, 50.0, 10.0],
        };
        assert_eq!(img.sample(0.5, 0.0), [50.0, 25.0, 5.0]);
        assert_eq!(img.sample(-3.0, 0.0), [0.0, 0.0, 0.0]);
        let warped = img.warp(&Affine::IDENTITY, 2, 1, None);
        assert_eq!(warped.data, img.data);
    }
}
