//! The photographed scene: a table-like surface, the document laid on it
//! under a camera pose (a perspective projection of the tilted page), its
//! shadow, and uneven light.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::canvas::{box_blur, Canvas, Rgb};
use crate::geometry::{bounds, inside_convex, Homography, Quad};
use crate::page::hash01;

/// How the document lies in front of the camera.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// In-plane rotation.
    pub roll_deg: f64,
    /// Tilt about the page's horizontal axis.
    pub pitch_deg: f64,
    /// Tilt about the page's vertical axis.
    pub yaw_deg: f64,
    /// Width of the document's bounding box over the image's width.
    pub fill: f64,
}

pub(crate) struct Placement {
    pub mm_to_image: Homography,
    pub corners: Quad,
    pub pose: Pose,
}

/// Where a part cut off by the image's edge went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutOff {
    /// `left`, `right`, `top` or `bottom`.
    pub edge: String,
    /// Share of the document's bounding box outside the image.
    pub hidden_fraction: f64,
}

/// Places a `size_mm` page in a `w`×`h` image: mild handheld tilt, or a
/// strong one when `strong`.
pub(crate) fn place<R: Rng + ?Sized>(
    size_mm: (f64, f64),
    w: usize,
    h: usize,
    strong: bool,
    rng: &mut R,
) -> Option<Placement> {
    let signed = |rng: &mut R, lo: f64, hi: f64| {
        let v = rng.gen_range(lo..hi);
        if rng.gen_bool(0.5) {
            v
        } else {
            -v
        }
    };
    let (roll, pitch, yaw, distance, fill) = if strong {
        (
            signed(rng, 0.0, 30.0),
            signed(rng, 8.0, 30.0),
            signed(rng, 15.0, 35.0),
            1.4,
            rng.gen_range(0.5..0.75),
        )
    } else {
        (
            signed(rng, 0.0, 6.0),
            signed(rng, 0.0, 6.0),
            signed(rng, 0.0, 6.0),
            3.0,
            rng.gen_range(0.55..0.85),
        )
    };
    let (pw, ph) = size_mm;
    let d = distance * pw;
    let (sr, cr) = roll.to_radians().sin_cos();
    let (sp, cp) = pitch.to_radians().sin_cos();
    let (sy, cy) = yaw.to_radians().sin_cos();
    let project = |x: f64, y: f64| -> [f64; 2] {
        // Yaw (about y), then pitch (about x), then roll (about z).
        let (x1, z1) = (x * cy, -x * sy);
        let (y2, z2) = (y * cp - z1 * sp, y * sp + z1 * cp);
        let (x3, y3) = (x1 * cr - y2 * sr, x1 * sr + y2 * cr);
        let z = z2 + d;
        [d * x3 / z, d * y3 / z]
    };
    let raw = [
        project(-pw / 2.0, -ph / 2.0),
        project(pw / 2.0, -ph / 2.0),
        project(pw / 2.0, ph / 2.0),
        project(-pw / 2.0, ph / 2.0),
    ];
    let (x0, y0, x1, y1) = bounds(&raw);
    let (bw, bh) = (x1 - x0, y1 - y0);
    let (wf, hf) = (w as f64, h as f64);
    let scale = (fill * wf / bw).min(0.92 * hf / bh);
    let (sw, sh) = (bw * scale, bh * scale);
    let margin = 0.02 * wf;
    let ox = if wf - sw > 2.0 * margin {
        rng.gen_range(margin..wf - sw - margin)
    } else {
        (wf - sw) / 2.0
    };
    let oy = if hf - sh > 2.0 * margin {
        rng.gen_range(margin..hf - sh - margin)
    } else {
        (hf - sh) / 2.0
    };
    let corners = raw.map(|p| [(p[0] - x0) * scale + ox, (p[1] - y0) * scale + oy]);
    let rect = [[0.0, 0.0], [pw, 0.0], [pw, ph], [0.0, ph]];
    Some(Placement {
        mm_to_image: Homography::from_quads(&rect, &corners)?,
        corners,
        pose: Pose {
            roll_deg: round2(roll),
            pitch_deg: round2(pitch),
            yaw_deg: round2(yaw),
            fill: round2(sw / wf),
        },
    })
}

/// Slides a placement so that 15 to 35 % of the document's bounding box
/// falls outside the image over one edge.
pub(crate) fn cut_off<R: Rng + ?Sized>(
    placement: &mut Placement,
    size_mm: (f64, f64),
    w: usize,
    h: usize,
    rng: &mut R,
) -> Option<CutOff> {
    let hidden = rng.gen_range(0.15..0.35);
    let (x0, y0, x1, y1) = bounds(&placement.corners);
    let (edge, dx, dy) = match rng.gen_range(0..4) {
        0 => ("left", -(x0 + hidden * (x1 - x0)), 0.0),
        1 => ("right", w as f64 - x1 + hidden * (x1 - x0), 0.0),
        2 => ("top", 0.0, -(y0 + hidden * (y1 - y0))),
        _ => ("bottom", 0.0, h as f64 - y1 + hidden * (y1 - y0)),
    };
    let corners = placement.corners.map(|p| [p[0] + dx, p[1] + dy]);
    let rect = [
        [0.0, 0.0],
        [size_mm.0, 0.0],
        [size_mm.0, size_mm.1],
        [0.0, size_mm.1],
    ];
    placement.mm_to_image = Homography::from_quads(&rect, &corners)?;
    placement.corners = corners;
    Some(CutOff {
        edge: edge.to_string(),
        hidden_fraction: round2(hidden),
    })
}

pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Surfaces a document is photographed on: name, base colour, grain.
const SURFACES: &[(&str, Rgb, f32)] = &[
    ("wood", [0.55, 0.38, 0.22], 0.04),
    ("light_wood", [0.78, 0.64, 0.45], 0.03),
    ("grey_desk", [0.45, 0.46, 0.48], 0.0),
    ("white_table", [0.88, 0.88, 0.86], 0.0),
    ("dark_desk", [0.12, 0.12, 0.13], 0.0),
    ("blue_fabric", [0.2, 0.3, 0.5], 0.0),
    ("green_mat", [0.15, 0.4, 0.28], 0.0),
];

/// A table-like surface: base colour, soft blotches, wood grain on wooden
/// ones, fine texture. Returns the canvas and the surface's name.
pub(crate) fn surface<R: Rng + ?Sized>(w: usize, h: usize, rng: &mut R) -> (Canvas, &'static str) {
    let (name, base, grain_amp) = SURFACES[rng.gen_range(0..SURFACES.len())];
    let base = base.map(|v| (v * rng.gen_range(0.85f32..1.15)).clamp(0.0, 1.0));
    let (gw, gh) = (7usize, 6usize);
    let grid: Vec<f32> = (0..(gw + 1) * (gh + 1))
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let angle: f64 = rng.gen_range(-0.3..0.3);
    let (sa, ca) = angle.sin_cos();
    let period = rng.gen_range(3.0..7.0) * w as f64 / 1600.0;
    let tex_seed: u64 = rng.gen();
    let mut c = Canvas::new(w, h, base);
    for y in 0..h {
        for x in 0..w {
            let gx = x as f32 / w as f32 * gw as f32;
            let gy = y as f32 / h as f32 * gh as f32;
            let low = value_noise(&grid, gw, gx, gy);
            let u = x as f64 * ca + y as f64 * sa;
            let grain = if grain_amp > 0.0 {
                let wobble = 1.5 * (u / (period * 3.7)).sin() + 6.0 * f64::from(low);
                grain_amp * ((u / period + wobble).sin() as f32)
            } else {
                0.0
            };
            let fine = (hash01(tex_seed, x as u64, y as u64) - 0.5) * 0.05;
            let f = 1.0 + 0.08 * low + grain + fine;
            c.set(x, y, base.map(|v| (v * f).clamp(0.0, 1.0)));
        }
    }
    (c, name)
}

fn value_noise(grid: &[f32], gw: usize, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let (tx, ty) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let at = |i: usize, j: usize| grid[j.min(grid.len() / (gw + 1) - 1) * (gw + 1) + i.min(gw)];
    let top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx;
    let bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx;
    top + (bottom - top) * ty
}

/// A soft shadow of the quad, offset down and to one side.
pub(crate) fn shadow<R: Rng + ?Sized>(scene: &mut Canvas, quad: &Quad, rng: &mut R) {
    let wf = scene.w as f64;
    let off = [
        rng.gen_range(-0.01..0.01) * wf,
        rng.gen_range(0.003..0.012) * wf,
    ];
    let strength = rng.gen_range(0.2f32..0.4);
    let radius = (0.006 * wf).round().max(1.0) as usize;
    let q = quad.map(|p| [p[0] + off[0], p[1] + off[1]]);
    let (x0, y0, x1, y1) = bounds(&q);
    let pad = 3.0 * radius as f64;
    let bx0 = (x0 - pad).floor().max(0.0) as usize;
    let by0 = (y0 - pad).floor().max(0.0) as usize;
    let bx1 = ((x1 + pad).ceil().max(0.0) as usize).min(scene.w);
    let by1 = ((y1 + pad).ceil().max(0.0) as usize).min(scene.h);
    if bx1 <= bx0 || by1 <= by0 {
        return;
    }
    let (mw, mh) = (bx1 - bx0, by1 - by0);
    let mut mask = vec![0.0f32; mw * mh];
    for y in 0..mh {
        for x in 0..mw {
            let p = [(bx0 + x) as f64 + 0.5, (by0 + y) as f64 + 0.5];
            if inside_convex(&q, p) {
                mask[y * mw + x] = 1.0;
            }
        }
    }
    box_blur(&mut mask, mw, mh, 1, radius);
    box_blur(&mut mask, mw, mh, 1, radius);
    for y in 0..mh {
        for x in 0..mw {
            let m = mask[y * mw + x];
            if m > 0.0 {
                let c = scene.get(bx0 + x, by0 + y);
                scene.set(bx0 + x, by0 + y, c.map(|v| v * (1.0 - strength * m)));
            }
        }
    }
}

/// Composites the page (a raster of `page_dpmm` pixels per millimetre)
/// into the scene through its `corners`, with corners rounded to
/// `radius_mm` (ICAO 9303 gives ID cards 3.18 mm).
pub(crate) fn composite(
    scene: &mut Canvas,
    page: &Canvas,
    page_dpmm: f64,
    size_mm: (f64, f64),
    radius_mm: f64,
    corners: &Quad,
) {
    let rect = [
        [0.0, 0.0],
        [size_mm.0, 0.0],
        [size_mm.0, size_mm.1],
        [0.0, size_mm.1],
    ];
    let Some(to_page) = Homography::from_quads(corners, &rect) else {
        return;
    };
    // Millimetres per image pixel, for anti-aliasing the rounded corners.
    let top = ((corners[1][0] - corners[0][0]).powi(2) + (corners[1][1] - corners[0][1]).powi(2))
        .sqrt()
        .max(1.0);
    let mm_per_px = size_mm.0 / top;
    let (x0, y0, x1, y1) = bounds(corners);
    let xs = (x0.floor().max(0.0) as usize)..((x1.ceil().max(0.0) as usize + 1).min(scene.w));
    let ys = (y0.floor().max(0.0) as usize)..((y1.ceil().max(0.0) as usize + 1).min(scene.h));
    for y in ys {
        for x in xs.clone() {
            let mm = to_page.apply([x as f64 + 0.5, y as f64 + 0.5]);
            let (c, mut a) = page.sample(mm[0] * page_dpmm, mm[1] * page_dpmm);
            if a <= 0.0 {
                continue;
            }
            let cx = mm[0].clamp(radius_mm, size_mm.0 - radius_mm);
            let cy = mm[1].clamp(radius_mm, size_mm.1 - radius_mm);
            let d = ((mm[0] - cx).powi(2) + (mm[1] - cy).powi(2)).sqrt();
            if d > radius_mm - mm_per_px {
                a *= (((radius_mm - d) / mm_per_px) + 0.5).clamp(0.0, 1.0) as f32;
            }
            if a > 0.0 {
                scene.blend(x as i64, y as i64, c, a);
            }
        }
    }
}

/// Uneven light over the whole image: a gradient and a vignette.
pub(crate) fn light<R: Rng + ?Sized>(scene: &mut Canvas, rng: &mut R) {
    let gx = rng.gen_range(-0.12f32..0.12);
    let gy = rng.gen_range(-0.12f32..0.12);
    let vignette = rng.gen_range(0.0f32..0.2);
    let (w, h) = (scene.w as f32, scene.h as f32);
    for y in 0..scene.h {
        for x in 0..scene.w {
            let u = x as f32 / w - 0.5;
            let v = y as f32 / h - 0.5;
            let f = (1.0 + gx * u + gy * v) * (1.0 - vignette * (u * u + v * v) * 2.0);
            let c = scene.get(x, y);
            scene.set(x, y, c.map(|k| k * f));
        }
    }
}
