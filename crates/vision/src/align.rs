//! Alignment: the canonical face crop each embedder was trained on, from five
//! landmarks. Landmark alignment is essential (a plain box crop costs 30 points
//! of LFW accuracy), and each model has its own template:
//! - ArcFace-style 112×112 (fr_feature): the insightface 5-point template;
//! - dlib's 150×150 face chip with padding 0.25, reproduced exactly
//!   (`get_face_chip_details` + `extract_image_chip`, truncating bilinear),
//!   so that templates match those real dlib would make.

use crate::geometry::{Affine, Point, RgbF32};

/// insightface's 112×112 destination points: image-left eye, image-right eye,
/// nose tip, image-left mouth corner, image-right mouth corner.
pub const ARCFACE_112: [Point; 5] = [
    Point::new(38.2946, 51.6963),
    Point::new(73.5318, 51.5014),
    Point::new(56.0252, 71.7366),
    Point::new(41.5493, 92.3655),
    Point::new(70.7299, 92.2041),
];

/// dlib's mean 5-point face shape (`get_face_chip_details`): image-right eye
/// outer and inner corner, image-left eye outer and inner corner, nose base.
const DLIB_MEAN_FACE: [(f64, f64); 5] = [
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135328, 0.6277975316475),
];

/// Least-squares similarity transform (rotation, uniform scale, translation;
/// no reflection) mapping `from[i]` onto `to[i]` (Umeyama 1991).
pub fn similarity_transform(from: &[Point], to: &[Point]) -> Option<Affine> {
    let m = similarity_f64(
        &from
            .iter()
            .map(|p| (f64::from(p.x), f64::from(p.y)))
            .collect::<Vec<_>>(),
        &to.iter()
            .map(|p| (f64::from(p.x), f64::from(p.y)))
            .collect::<Vec<_>>(),
    )?;
    Some(Affine {
        m: [
            [m[0][0] as f32, m[0][1] as f32, m[0][2] as f32],
            [m[1][0] as f32, m[1][1] as f32, m[1][2] as f32],
        ],
    })
}

/// For 2-D points a similarity is `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty`;
/// the closed form below is Umeyama's solution for that case.
fn similarity_f64(from: &[(f64, f64)], to: &[(f64, f64)]) -> Option<[[f64; 3]; 2]> {
    let n = from.len();
    if n < 2 || n != to.len() {
        return None;
    }
    let nf = n as f64;
    let mean = |ps: &[(f64, f64)]| {
        let (sx, sy) = ps
            .iter()
            .fold((0.0, 0.0), |(ax, ay), (x, y)| (ax + x, ay + y));
        (sx / nf, sy / nf)
    };
    let (fx, fy) = mean(from);
    let (tx, ty) = mean(to);
    let (mut var, mut sxx, mut sxy) = (0.0, 0.0, 0.0);
    for (&(x, y), &(u, v)) in from.iter().zip(to) {
        let (x, y, u, v) = (x - fx, y - fy, u - tx, v - ty);
        var += x * x + y * y;
        sxx += x * u + y * v; // Σ ⟨p, q⟩
        sxy += x * v - y * u; // Σ p × q
    }
    if var <= f64::EPSILON {
        return None;
    }
    let a = sxx / var;
    let b = sxy / var;
    Some([
        [a, -b, tx - (a * fx - b * fy)],
        [b, a, ty - (b * fx + a * fy)],
    ])
}

/// How much larger the source region is than the output, per output pixel.
fn source_pixels_per_output_pixel(to_source: &Affine) -> f32 {
    let [[a, b, _], _] = to_source.m;
    (a * a + b * b).sqrt()
}

/// Halves the image (2×2 box filter) while the crop would still shrink it by
/// more than 2×, like dlib's pyramid: bilinear sampling alone would alias.
fn prescale(image: &RgbF32, to_source: Affine) -> (std::borrow::Cow<'_, RgbF32>, Affine) {
    let mut current = std::borrow::Cow::Borrowed(image);
    let mut map = to_source;
    while source_pixels_per_output_pixel(&map) > 2.0 && current.width >= 4 && current.height >= 4 {
        current = std::borrow::Cow::Owned(halve(&current));
        // Source coordinates shrink by 2 (pixel centres: x' = (x − 0.5) / 2).
        map = Affine {
            m: [[0.5, 0.0, -0.25], [0.0, 0.5, -0.25]],
        }
        .compose(&map);
    }
    (current, map)
}

fn halve(image: &RgbF32) -> RgbF32 {
    let (w, h) = (image.width / 2, image.height / 2);
    let mut data = Vec::with_capacity(w * h * 3);
    let px = |x: usize, y: usize, c: usize| image.data[(y * image.width + x) * 3 + c];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let s = px(2 * x, 2 * y, c)
                    + px(2 * x + 1, 2 * y, c)
                    + px(2 * x, 2 * y + 1, c)
                    + px(2 * x + 1, 2 * y + 1, c);
                data.push(s / 4.0);
            }
        }
    }
    RgbF32 {
        width: w,
        height: h,
        data,
    }
}

/// The 112×112 ArcFace crop from five points in [`ARCFACE_112`] order.
pub fn arcface_112(image: &RgbF32, points: &[Point; 5]) -> Option<RgbF32> {
    let to_template = similarity_transform(points, &ARCFACE_112)?;
    let to_source = to_template.inverse()?;
    let (source, map) = prescale(image, to_source);
    Some(source.warp(&map, 112, 112, Some([0.0; 3])))
}

/// dlib's face chip (`get_face_chip_details(det, size, padding)` then
/// `extract_image_chip`), from the five points in dlib's 5-point order.
/// Pixel values are truncated to integers, as dlib stores `rgb_pixel`s.
pub fn dlib_chip(image: &RgbF32, points: &[Point; 5], size: usize, padding: f64) -> Option<RgbF32> {
    let s = size as f64;
    let chip_points: Vec<(f64, f64)> = DLIB_MEAN_FACE
        .iter()
        .map(|&(x, y)| {
            (
                s * (padding + x) / (2.0 * padding + 1.0),
                s * (padding + y) / (2.0 * padding + 1.0),
            )
        })
        .collect();
    let image_points: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (f64::from(p.x), f64::from(p.y)))
        .collect();
    // chip_details(chip_points, img_points, dims): a similarity chip → image
    // gives the angle, the scale and the centre of the extraction rectangle.
    let t = similarity_f64(&chip_points, &image_points)?;
    let (a, b) = (t[0][0], t[1][0]);
    let angle = b.atan2(a);
    let scale = (a * a + b * b).sqrt();
    let centre = (
        t[0][0] * s / 2.0 + t[0][1] * s / 2.0 + t[0][2],
        t[1][0] * s / 2.0 + t[1][1] * s / 2.0 + t[1][2],
    );
    // centered_drect(centre, size·scale, size·scale) subtracts one from each
    // side, so chip pixel 0 lands on one corner and pixel size−1 on the other.
    let half = (s * scale - 1.0) / 2.0;
    let rotate = |x: f64, y: f64| {
        let (dx, dy) = (x - centre.0, y - centre.1);
        let (sin, cos) = angle.sin_cos();
        (
            centre.0 + cos * dx - sin * dy,
            centre.1 + sin * dx + cos * dy,
        )
    };
    let tl = rotate(centre.0 - half, centre.1 - half);
    let tr = rotate(centre.0 + half, centre.1 - half);
    let br = rotate(centre.0 + half, centre.1 + half);
    let last = s - 1.0;
    // The affine map taking chip corners (0,0), (last,0), (last,last) to tl, tr, br.
    let ax = (tr.0 - tl.0) / last;
    let ay = (tr.1 - tl.1) / last;
    let bx = (br.0 - tr.0) / last;
    let by = (br.1 - tr.1) / last;
    let to_source = Affine {
        m: [
            [ax as f32, bx as f32, tl.0 as f32],
            [ay as f32, by as f32, tl.1 as f32],
        ],
    };
    let (source, map) = prescale(image, to_source);
    let mut chip = dlib_warp(&source, &map, size);
    for v in &mut chip.data {
        *v = v.trunc();
    }
    Some(chip)
}

/// dlib's `transform_image` with `interpolate_bilinear`: a sample whose 2×2
/// neighbourhood leaves the image is black.
fn dlib_warp(image: &RgbF32, to_source: &Affine, size: usize) -> RgbF32 {
    let mut data = Vec::with_capacity(size * size * 3);
    for v in 0..size {
        for u in 0..size {
            let p = to_source.apply(Point::new(u as f32, v as f32));
            let (left, top) = (p.x.floor(), p.y.floor());
            let inside = left >= 0.0
                && top >= 0.0
                && (left as usize) + 1 < image.width
                && (top as usize) + 1 < image.height;
            if inside {
                data.extend_from_slice(&image.sample(p.x, p.y));
            } else {
                data.extend_from_slice(&[0.0; 3]);
            }
        }
    }
    RgbF32 {
        width: size,
        height: size,
        data,
    }
}

/// Mirrors an image left to right (for flip test-time augmentation).
pub fn mirror(image: &RgbF32) -> RgbF32 {
    let mut data = Vec::with_capacity(image.data.len());
    for y in 0..image.height {
        for x in (0..image.width).rev() {
            let i = (y * image.width + x) * 3;
            data.extend_from_slice(&image.data[i..i + 3]);
        }
    }
    RgbF32 {
        width: image.width,
        height: image.height,
        data,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        let truth = Affine::similarity(2.5, 0.4, 30.0, -12.0);
        let from = [
            Point::new(0.0, 0.0),
            Point::new(10.0, 3.0),
            Point::new(-4.0, 8.0),
            Point::new(7.0, -6.0),
        ];
        let to: Vec<Point> = from.iter().map(|&p| truth.apply(p)).collect();
        let got = similarity_transform(&from, &to).unwrap();
        for r in 0..2 {
            for c in 0..3 {
                assert!(
                    (got.m[r][c] - truth.m[r][c]).abs() < 1e-3,
                    "{got:?} vs {truth:?}"
                );
            }
        }
    }

    #[test]
    fn arcface_crop_puts_the_eyes_on_the_template() {
        // A synthetic image whose "eyes" are bright dots at known places.
        let (w, h) = (200usize, 200usize);
        let mut img = RgbF32 {
            width: w,
            height: h,
            data: vec![0.0; w * h * 3],
        };
        let points = [
            Point::new(70.0, 80.0),
            Point::new(130.0, 80.0),
            Point::new(100.0, 110.0),
            Point::new(75.0, 140.0),
            Point::new(125.0, 140.0),
        ];
        for p in &points[..2] {
            let i = (p.y as usize * w + p.x as usize) * 3;
            img.data[i..i + 3].copy_from_slice(&[255.0; 3]);
        }
        let crop = arcface_112(&img, &points).unwrap();
        let brightest = |cx: f32, cy: f32| {
            let mut best = (0.0f32, 0usize, 0usize);
            for y in (cy as usize - 6)..(cy as usize + 6) {
                for x in (cx as usize - 6)..(cx as usize + 6) {
                    let v = crop.data[(y * 112 + x) * 3];
                    if v > best.0 {
                        best = (v, x, y);
                    }
                }
            }
            (best.1 as f32, best.2 as f32)
        };
        for t in &ARCFACE_112[..2] {
            let (x, y) = brightest(t.x, t.y);
            assert!(
                (x - t.x).abs() <= 2.0 && (y - t.y).abs() <= 2.0,
                "eye at {x},{y}, template {t:?}"
            );
        }
    }

    #[test]
    fn dlib_chip_values_are_truncated_integers_and_mirroring_is_an_involution() {
        let (w, h) = (64usize, 64usize);
        let data: Vec<f32> = (0..w * h * 3).map(|i| (i % 251) as f32 + 0.5).collect();
        let img = RgbF32 {
            width: w,
            height: h,
            data,
        };
        let points = [
            Point::new(44.0, 24.0),
            Point::new(36.0, 25.0),
            Point::new(20.0, 24.0),
            Point::new(28.0, 25.0),
            Point::new(32.0, 38.0),
        ];
        let chip = dlib_chip(&img, &points, 150, 0.25).unwrap();
        assert_eq!(
            (chip.width, chip.height, chip.data.len()),
            (150, 150, 150 * 150 * 3)
        );
        assert!(chip.data.iter().all(|v| v.fract() == 0.0));
        assert_eq!(mirror(&mirror(&chip)), chip);
    }
}
