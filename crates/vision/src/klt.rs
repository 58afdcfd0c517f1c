//! Sparse texture tracking for the parallax signal: Shi–Tomasi "good
//! features to track" and pyramidal Lucas–Kanade (Bouguet's formulation),
//! with a forward–backward check, on [`GreyPatch`]es: small greyscale copies
//! of the face region (160×160 in the frame analyser), where a few hundred
//! points track in well under a millisecond.
//!
//! Coordinates are pixel centres (pixel `i` at `i`), as everywhere in the
//! crate; level `l` of a pyramid has pixel `i` at level-0 position `i·2ˡ`.

use crate::geometry::{Point, RgbF32};

/// A greyscale copy of the face region, resampled to `side`² pixels whatever
/// the face size so memory stays bounded. Patch pixel `(u, v)` has its
/// centre at image point `origin + scale·(u, v)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GreyPatch {
    pub side: usize,
    /// Luminance, row-major. Serialised as one byte string, not a sequence
    /// of numbers: a stored frame's analysis is mostly this patch, and the
    /// finish of an attempt decodes a few hundred of them.
    #[serde(with = "byte_string")]
    pub data: Vec<u8>,
    /// Image position of patch pixel (0, 0).
    pub origin: Point,
    /// Image pixels per patch pixel.
    pub scale: f32,
}

impl GreyPatch {
    /// The luminance patch of `region` (a square in image pixels), averaging
    /// 2×2 bilinear samples per patch pixel to limit aliasing when shrinking.
    pub fn extract(image: &RgbF32, center: Point, region_side: f32, side: usize) -> Self {
        let side = side.max(2);
        let scale = (region_side / side as f32).max(1e-3);
        let origin = Point::new(
            center.x - scale * (side as f32 - 1.0) / 2.0,
            center.y - scale * (side as f32 - 1.0) / 2.0,
        );
        let offsets = [-0.25f32, 0.25];
        let mut data = Vec::with_capacity(side * side);
        for v in 0..side {
            for u in 0..side {
                let mut sum = 0.0;
                for dy in offsets {
                    for dx in offsets {
                        let px = image.sample(
                            origin.x + (u as f32 + dx) * scale,
                            origin.y + (v as f32 + dy) * scale,
                        );
                        sum += 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                    }
                }
                data.push((sum / 4.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        Self {
            side,
            data,
            origin,
            scale,
        }
    }

    pub fn to_image(&self, p: Point) -> Point {
        Point::new(
            self.origin.x + p.x * self.scale,
            self.origin.y + p.y * self.scale,
        )
    }

    pub fn from_image(&self, p: Point) -> Point {
        Point::new(
            (p.x - self.origin.x) / self.scale,
            (p.y - self.origin.y) / self.scale,
        )
    }
}

/// A greyscale f32 image.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl GreyImage {
    pub fn from_patch(patch: &GreyPatch) -> Self {
        Self {
            width: patch.side,
            height: patch.side,
            data: patch.data.iter().map(|&v| f32::from(v)).collect(),
        }
    }

    fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.width + x]
    }

    /// Bilinear sample (border pixels repeated outside).
    /// Inside the image the four pixels are read directly (the tracker's
    /// inner loop, most of a parallax measurement's time); at the border
    /// they are clamped. Either way the same arithmetic on the same values.
    #[inline]
    pub fn bilinear(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (xi, yi) = (x0 as isize, y0 as isize);
        let w = self.width;
        let inside = xi >= 0 && yi >= 0 && (xi as usize) + 1 < w && (yi as usize) + 1 < self.height;
        let (p00, p10, p01, p11) = match inside {
            true => {
                let i = yi as usize * w + xi as usize;
                match (self.data.get(i..i + 2), self.data.get(i + w..i + w + 2)) {
                    (Some(&[a, b]), Some(&[c, d])) => (a, b, c, d),
                    _ => self.corners(xi, yi),
                }
            }
            false => self.corners(xi, yi),
        };
        let top = p00 * (1.0 - fx) + p10 * fx;
        let bottom = p01 * (1.0 - fx) + p11 * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The four pixels of the cell at `(xi, yi)`, border pixels repeated.
    fn corners(&self, xi: isize, yi: isize) -> (f32, f32, f32, f32) {
        (
            self.at(xi, yi),
            self.at(xi + 1, yi),
            self.at(xi, yi + 1),
            self.at(xi + 1, yi + 1),
        )
    }

    /// Half-size image: [1 2 1]/4 smoothing in both directions, then every
    /// second pixel (pixel i of the result sits on pixel 2i).
    fn downsample(&self) -> Self {
        let (w, h) = (
            self.width.div_ceil(2).max(1),
            self.height.div_ceil(2).max(1),
        );
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (cx, cy) = (2 * x as isize, 2 * y as isize);
                let mut sum = 0.0;
                for (dy, wy) in [(-1isize, 1.0f32), (0, 2.0), (1, 1.0)] {
                    for (dx, wx) in [(-1isize, 1.0f32), (0, 2.0), (1, 1.0)] {
                        sum += wx * wy * self.at(cx + dx, cy + dy);
                    }
                }
                data.push(sum / 16.0);
            }
        }
        Self {
            width: w,
            height: h,
            data,
        }
    }

    /// Scharr x and y derivatives (per pixel, in grey levels per pixel).
    fn gradients(&self) -> (GreyImage, GreyImage) {
        let (w, h) = (self.width, self.height);
        let mut gx = Vec::with_capacity(w * h);
        let mut gy = Vec::with_capacity(w * h);
        for y in 0..h as isize {
            for x in 0..w as isize {
                let p = |dx: isize, dy: isize| self.at(x + dx, y + dy);
                gx.push(
                    (3.0 * (p(1, -1) - p(-1, -1))
                        + 10.0 * (p(1, 0) - p(-1, 0))
                        + 3.0 * (p(1, 1) - p(-1, 1)))
                        / 32.0,
                );
                gy.push(
                    (3.0 * (p(-1, 1) - p(-1, -1))
                        + 10.0 * (p(0, 1) - p(0, -1))
                        + 3.0 * (p(1, 1) - p(1, -1)))
                        / 32.0,
                );
            }
        }
        let image = |data| GreyImage {
            width: w,
            height: h,
            data,
        };
        (image(gx), image(gy))
    }
}

/// One pyramid level with its gradients.
#[derive(Debug, Clone)]
struct Level {
    image: GreyImage,
    gx: GreyImage,
    gy: GreyImage,
}

/// An image pyramid, level 0 the full resolution.
#[derive(Debug, Clone)]
pub struct Pyramid {
    levels: Vec<Level>,
}

impl Pyramid {
    /// `levels` levels (at least 1), each half the previous.
    pub fn new(image: GreyImage, levels: usize) -> Self {
        let mut out = Vec::with_capacity(levels.max(1));
        let mut current = image;
        for l in 0..levels.max(1) {
            let (gx, gy) = current.gradients();
            let next = (l + 1 < levels).then(|| current.downsample());
            out.push(Level {
                image: current,
                gx,
                gy,
            });
            match next {
                Some(n) if n.width >= 8 && n.height >= 8 => current = n,
                _ => break,
            }
        }
        Self { levels: out }
    }

    pub fn base(&self) -> Option<&GreyImage> {
        self.levels.first().map(|l| &l.image)
    }
}

/// Lucas–Kanade parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LkParams {
    /// The window is (2·half_window + 1)² pixels.
    pub half_window: usize,
    pub max_iterations: usize,
    /// Stop when an update moves less than this (pixels).
    pub epsilon: f32,
    /// Smallest eigenvalue of the window's structure tensor, per pixel, for
    /// a point to be trackable (grey levels² per pixel²).
    pub min_eigen: f32,
}

impl Default for LkParams {
    fn default() -> Self {
        Self {
            half_window: 5,
            max_iterations: 20,
            epsilon: 0.01,
            min_eigen: 1.0,
        }
    }
}

/// Where `p` (in `prev`) went in `next`, starting from `guess`; `None` when
/// the window has no texture or the point leaves the image.
pub fn track_point(
    prev: &Pyramid,
    next: &Pyramid,
    p: Point,
    guess: Point,
    params: &LkParams,
) -> Option<Point> {
    let levels = prev.levels.len().min(next.levels.len());
    let top = levels.checked_sub(1)?;
    let hw = params.half_window as isize;
    let n_window = ((2 * hw + 1) * (2 * hw + 1)) as f32;
    let top_scale = (1u32 << top) as f32;
    let (mut gx_acc, mut gy_acc) = ((guess.x - p.x) / top_scale, (guess.y - p.y) / top_scale);
    let mut window: Vec<(f32, f32, f32, f32, f32)> =
        Vec::with_capacity((2 * hw as usize + 1).pow(2));
    for l in (0..levels).rev() {
        let scale = (1u32 << l) as f32;
        let (pi, ni) = (&prev.levels[l], &next.levels[l]);
        let (px, py) = (p.x / scale, p.y / scale);
        window.clear();
        let (mut a, mut b, mut c) = (0.0f32, 0.0f32, 0.0f32);
        for dy in -hw..=hw {
            for dx in -hw..=hw {
                let (x, y) = (px + dx as f32, py + dy as f32);
                let ix = pi.gx.bilinear(x, y);
                let iy = pi.gy.bilinear(x, y);
                a += ix * ix;
                b += ix * iy;
                c += iy * iy;
                window.push((dx as f32, dy as f32, pi.image.bilinear(x, y), ix, iy));
            }
        }
        let min_eigen = ((a + c) - ((a - c).powi(2) + 4.0 * b * b).sqrt()) / 2.0 / n_window;
        let det = a * c - b * b;
        if min_eigen < params.min_eigen || det.abs() < f32::EPSILON {
            return None;
        }
        let (mut dx_acc, mut dy_acc) = (0.0f32, 0.0f32);
        for _ in 0..params.max_iterations {
            let (qx, qy) = (px + gx_acc + dx_acc, py + gy_acc + dy_acc);
            let margin = hw as f32;
            if qx < -margin
                || qy < -margin
                || qx > ni.image.width as f32 - 1.0 + margin
                || qy > ni.image.height as f32 - 1.0 + margin
            {
                return None;
            }
            let (mut bx, mut by) = (0.0f32, 0.0f32);
            for &(ox, oy, iv, ix, iy) in &window {
                let diff = iv - ni.image.bilinear(qx + ox, qy + oy);
                bx += diff * ix;
                by += diff * iy;
            }
            let ux = (c * bx - b * by) / det;
            let uy = (a * by - b * bx) / det;
            dx_acc += ux;
            dy_acc += uy;
            if ux.abs() < params.epsilon && uy.abs() < params.epsilon {
                break;
            }
        }
        if l > 0 {
            gx_acc = 2.0 * (gx_acc + dx_acc);
            gy_acc = 2.0 * (gy_acc + dy_acc);
        } else {
            gx_acc += dx_acc;
            gy_acc += dy_acc;
        }
    }
    let out = Point::new(p.x + gx_acc, p.y + gy_acc);
    let base = next.base()?;
    let inside = out.x >= 0.0
        && out.y >= 0.0
        && out.x <= base.width as f32 - 1.0
        && out.y <= base.height as f32 - 1.0;
    (inside && out.x.is_finite() && out.y.is_finite()).then_some(out)
}

/// Tracks every point forward and back, keeping those that come back within
/// `max_fb_error` pixels of where they started.
pub fn track_checked(
    prev: &Pyramid,
    next: &Pyramid,
    points: &[Point],
    guesses: &[Point],
    params: &LkParams,
    max_fb_error: f32,
) -> Vec<Option<Point>> {
    points
        .iter()
        .zip(guesses)
        .map(|(&p, &g)| {
            let q = track_point(prev, next, p, g, params)?;
            let back = track_point(next, prev, q, p, params)?;
            ((back.x - p.x).hypot(back.y - p.y) <= max_fb_error).then_some(q)
        })
        .collect()
}

/// Shi–Tomasi corners: local maxima of the smallest eigenvalue of the 3×3
/// structure tensor, at least `quality` × the best one, inside `mask`, no
/// two closer than `min_distance`, best first, at most `max_points`.
pub fn good_features(
    image: &GreyImage,
    max_points: usize,
    quality: f32,
    min_distance: f32,
    border: usize,
    mask: &dyn Fn(Point) -> bool,
) -> Vec<Point> {
    let (w, h) = (image.width, image.height);
    if w < 2 * border + 3 || h < 2 * border + 3 {
        return Vec::new();
    }
    let (gx, gy) = image.gradients();
    let mut eig = vec![0.0f32; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
            for yy in y - 1..=y + 1 {
                for xx in x - 1..=x + 1 {
                    let (ix, iy) = (gx.data[yy * w + xx], gy.data[yy * w + xx]);
                    a += ix * ix;
                    b += ix * iy;
                    c += iy * iy;
                }
            }
            eig[y * w + x] = ((a + c) - ((a - c) * (a - c) + 4.0 * b * b).sqrt()) / 2.0;
        }
    }
    let lo = border.max(1);
    let mut candidates = Vec::new();
    let mut best = 0.0f32;
    for y in lo..h - lo {
        for x in lo..w - lo {
            let v = eig[y * w + x];
            let is_max = (y - 1..=y + 1).all(|yy| (x - 1..=x + 1).all(|xx| eig[yy * w + xx] <= v));
            if v > 0.0 && is_max && mask(Point::new(x as f32, y as f32)) {
                best = best.max(v);
                candidates.push((v, x, y));
            }
        }
    }
    candidates.retain(|&(v, _, _)| v >= quality * best);
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<Point> = Vec::with_capacity(max_points);
    let d2 = min_distance * min_distance;
    for (_, x, y) in candidates {
        let p = Point::new(x as f32, y as f32);
        if out
            .iter()
            .all(|q| (q.x - p.x).powi(2) + (q.y - p.y).powi(2) >= d2)
        {
            out.push(p);
            if out.len() >= max_points {
                break;
            }
        }
    }
    out
}

/// `Vec<u8>` as a serde byte string (a CBOR byte string, a JSON array of
/// numbers); a sequence of numbers is read too.
mod byte_string {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// A smooth random-looking texture (sum of sines), sampled at (x, y).
    pub(crate) fn texture(x: f32, y: f32) -> f32 {
        128.0
            + 40.0 * (0.21 * x + 0.5).sin() * (0.17 * y).cos()
            + 30.0 * (0.11 * x - 0.23 * y).sin()
            + 25.0 * (0.31 * y + 0.07 * x).cos()
    }

    fn image_of(f: impl Fn(f32, f32) -> f32, side: usize) -> GreyImage {
        GreyImage {
            width: side,
            height: side,
            data: (0..side * side)
                .map(|i| f((i % side) as f32, (i / side) as f32))
                .collect(),
        }
    }

    proptest::proptest! {
        /// The direct read inside the image gives bit for bit what the
        /// clamped read gives, inside and out.
        #[test]
        fn bilinear_reads_inside_as_the_clamped_reads_do(
            data in proptest::collection::vec(0.0f32..255.0, 6 * 5),
            x in -3.0f32..9.0,
            y in -3.0f32..8.0,
        ) {
            let image = GreyImage { width: 6, height: 5, data };
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            let (a, b, c, d) = image.corners(x0 as isize, y0 as isize);
            let clamped = (a * (1.0 - fx) + b * fx) * (1.0 - fy) + (c * (1.0 - fx) + d * fx) * fy;
            proptest::prop_assert_eq!(image.bilinear(x, y).to_bits(), clamped.to_bits());
        }
    }

    #[test]
    fn a_patch_serialises_its_pixels_as_bytes_and_reads_them_as_numbers_too() {
        let patch = GreyPatch {
            side: 2,
            data: vec![0, 7, 200, 255],
            origin: Point::new(1.5, -2.0),
            scale: 1.6,
        };
        let json = serde_json::to_string(&patch).unwrap();
        assert!(json.contains("[0,7,200,255]"), "{json}");
        assert_eq!(serde_json::from_str::<GreyPatch>(&json).unwrap(), patch);
        let wrong = json.replace("255", "256");
        assert!(serde_json::from_str::<GreyPatch>(&wrong).is_err());
    }

    #[test]
    fn lucas_kanade_recovers_a_known_shift() {
        let (sx, sy) = (6.3f32, -4.6f32);
        let a = Pyramid::new(image_of(texture, 160), 3);
        let b = Pyramid::new(image_of(|x, y| texture(x - sx, y - sy), 160), 3);
        let points = good_features(a.base().unwrap(), 50, 0.01, 6.0, 20, &|_| true);
        assert!(points.len() >= 30, "{} points", points.len());
        let tracked = track_checked(&a, &b, &points, &points, &LkParams::default(), 0.5);
        let ok: Vec<(Point, Point)> = points
            .iter()
            .zip(&tracked)
            .filter_map(|(p, q)| Some((*p, (*q)?)))
            .collect();
        assert!(
            ok.len() * 10 >= points.len() * 9,
            "{} of {}",
            ok.len(),
            points.len()
        );
        for (p, q) in ok {
            // Sub-pixel: within a fifth of a pixel on this smooth texture.
            assert!(
                (q.x - p.x - sx).abs() < 0.2 && (q.y - p.y - sy).abs() < 0.2,
                "{p:?} → {q:?}"
            );
        }
    }

    #[test]
    fn a_flat_image_has_nothing_to_track() {
        let flat = GreyImage {
            width: 64,
            height: 64,
            data: vec![100.0; 64 * 64],
        };
        assert!(good_features(&flat, 50, 0.01, 5.0, 8, &|_| true).is_empty());
        let p = Pyramid::new(flat, 3);
        let q = Point::new(32.0, 32.0);
        assert_eq!(track_point(&p, &p, q, q, &LkParams::default()), None);
    }

    #[test]
    fn a_patch_maps_back_to_the_image_it_came_from() {
        // A horizontal ramp: the patch's grey must follow the image x.
        let (w, h) = (200, 100);
        let data = (0..w * h)
            .flat_map(|i| {
                let v = (i % w) as f32;
                [v, v, v]
            })
            .collect();
        let image = RgbF32 {
            width: w,
            height: h,
            data,
        };
        let patch = GreyPatch::extract(&image, Point::new(100.0, 50.0), 64.0, 32);
        assert!((patch.scale - 2.0).abs() < 1e-6);
        for (u, v) in [(0usize, 0usize), (10, 5), (31, 31)] {
            let p = patch.to_image(Point::new(u as f32, v as f32));
            let grey = f32::from(patch.data[v * 32 + u]);
            assert!(
                (grey - p.x).abs() <= 1.0,
                "({u},{v}) grey {grey} at x {}",
                p.x
            );
            let back = patch.from_image(p);
            assert!((back.x - u as f32).abs() < 1e-4 && (back.y - v as f32).abs() < 1e-4);
        }
    }
}
