//! Points, quadrilaterals and plane homographies (document millimetres →
//! image pixels).

/// `[x, y]`; in the ground truth, image pixels with (0, 0) at the top-left
/// corner of the top-left pixel.
pub type Point = [f64; 2];

/// Four corners in the document's own order: top-left, top-right,
/// bottom-right, bottom-left as printed (upright), wherever they land in
/// the image.
pub type Quad = [Point; 4];

/// An axis-aligned rectangle in document millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RectMm {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl RectMm {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        RectMm { x, y, w, h }
    }

    pub fn corners(&self) -> Quad {
        [
            [self.x, self.y],
            [self.x + self.w, self.y],
            [self.x + self.w, self.y + self.h],
            [self.x, self.y + self.h],
        ]
    }
}

/// A 3×3 projective transform, row-major, `h[8]` normalised to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Homography(pub [f64; 9]);

impl Homography {
    /// The transform taking each `src[i]` to `dst[i]`; `None` when the
    /// points are degenerate (three on a line).
    pub fn from_quads(src: &Quad, dst: &Quad) -> Option<Self> {
        let mut a = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let [x, y] = src[i];
            let [u, v] = dst[i];
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(a)?;
        Some(Homography([
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0,
        ]))
    }

    #[inline]
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.0;
        let w = m[6] * p[0] + m[7] * p[1] + m[8];
        [
            (m[0] * p[0] + m[1] * p[1] + m[2]) / w,
            (m[3] * p[0] + m[4] * p[1] + m[5]) / w,
        ]
    }

    pub fn apply_quad(&self, q: &Quad) -> Quad {
        [
            self.apply(q[0]),
            self.apply(q[1]),
            self.apply(q[2]),
            self.apply(q[3]),
        ]
    }
}

/// Gaussian elimination with partial pivoting on an 8×9 augmented matrix.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, r) in a.iter_mut().enumerate() {
            if row != col {
                let f = r[col] / pivot_row[col];
                if f != 0.0 {
                    for (v, p) in r.iter_mut().zip(pivot_row).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for i in 0..8 {
        x[i] = a[i][8] / a[i][i];
    }
    Some(x)
}

/// Axis-aligned bounds `(min_x, min_y, max_x, max_y)` of some points.
pub(crate) fn bounds(points: &[Point]) -> (f64, f64, f64, f64) {
    let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in points {
        b.0 = b.0.min(p[0]);
        b.1 = b.1.min(p[1]);
        b.2 = b.2.max(p[0]);
        b.3 = b.3.max(p[1]);
    }
    b
}

/// Whether `p` lies inside the convex quadrilateral `q` (either winding).
pub(crate) fn inside_convex(q: &Quad, p: Point) -> bool {
    let mut sign = 0.0f64;
    for i in 0..4 {
        let a = q[i];
        let b = q[(i + 1) % 4];
        let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        if cross != 0.0 {
            if sign == 0.0 {
                sign = cross.signum();
            } else if cross.signum() != sign {
                return false;
            }
        }
    }
    true
}

/// Rounds every coordinate to 0.01 px, so the ground truth reads cleanly.
pub(crate) fn round_quad(q: Quad) -> Quad {
    q.map(|p| p.map(|v| (v * 100.0).round() / 100.0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_homography_maps_its_four_points() {
        let src = [[0.0, 0.0], [125.0, 0.0], [125.0, 88.0], [0.0, 88.0]];
        let dst = [
            [210.0, 130.0],
            [1320.0, 190.0],
            [1270.0, 1010.0],
            [160.0, 930.0],
        ];
        let h = Homography::from_quads(&src, &dst).unwrap();
        for i in 0..4 {
            let p = h.apply(src[i]);
            assert!((p[0] - dst[i][0]).abs() < 1e-6 && (p[1] - dst[i][1]).abs() < 1e-6);
        }
        let back = Homography::from_quads(&dst, &src).unwrap();
        let mid = back.apply(h.apply([40.0, 50.0]));
        assert!((mid[0] - 40.0).abs() < 1e-6 && (mid[1] - 50.0).abs() < 1e-6);
    }

    #[test]
    fn degenerate_points_have_no_homography() {
        let src = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        assert!(Homography::from_quads(&src, &src).is_none());
    }

    #[test]
    fn inside_convex_tells_inside_from_outside() {
        let q = [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]];
        assert!(inside_convex(&q, [5.0, 2.0]));
        assert!(!inside_convex(&q, [11.0, 2.0]));
    }
}
