//! Text lines from the detector's probability map (DB post-processing):
//! the connected regions above a threshold, each as a rotated rectangle
//! (orientation from the region's second moments) grown by DB's unclip
//! distance, in source-image pixels.

use facegate_vision::geometry::Point;

/// A text line: a rotated rectangle in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub center: Point,
    /// Unit vector along the line, pointing right (`x ≥ 0`).
    pub axis: Point,
    /// Length along `axis`.
    pub length: f32,
    /// Height across it.
    pub height: f32,
    /// Mean text probability over the region.
    pub score: f32,
}

impl TextBox {
    /// Corners clockwise from the top left (top is against the normal
    /// `(-axis.y, axis.x)` rotated to point up).
    pub fn corners(&self) -> [Point; 4] {
        let (u, v) = (self.axis, Point::new(-self.axis.y, self.axis.x));
        let (hl, hh) = (self.length / 2.0, self.height / 2.0);
        let at = |a: f32, b: f32| {
            Point::new(
                self.center.x + u.x * a + v.x * b,
                self.center.y + u.y * a + v.y * b,
            )
        };
        [at(-hl, -hh), at(hl, -hh), at(hl, hh), at(-hl, hh)]
    }

    /// Length over height.
    pub fn aspect(&self) -> f32 {
        self.length / self.height.max(1e-3)
    }
}

/// DB's settings (PaddleOCR's defaults as RapidOCR ships them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbSettings {
    /// A pixel is text above this probability.
    pub threshold: f32,
    /// A region is a line when its mean probability reaches this.
    pub box_threshold: f32,
    /// Growth of the shrunk region: distance = area × ratio / perimeter.
    pub unclip_ratio: f32,
    /// Regions with fewer pixels are noise.
    pub min_pixels: usize,
}

impl Default for DbSettings {
    fn default() -> Self {
        Self {
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            min_pixels: 6,
        }
    }
}

/// Lines in a `width`×`height` probability map, mapped to the source by
/// `scale_x`, `scale_y` (source pixels per map pixel).
pub fn boxes(
    map: &[f32],
    width: usize,
    height: usize,
    scale_x: f32,
    scale_y: f32,
    settings: &DbSettings,
) -> Vec<TextBox> {
    if map.len() != width * height {
        return Vec::new();
    }
    let mut label = vec![0u32; map.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    let mut pixels: Vec<(usize, usize)> = Vec::new();
    let mut next = 0u32;
    for start in 0..map.len() {
        if label[start] != 0 || map[start] <= settings.threshold {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        pixels.clear();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            pixels.push((x, y));
            // 8-connected (DB dilates by 2×2 before tracing contours).
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    let j = ny as usize * width + nx as usize;
                    if label[j] == 0 && map[j] > settings.threshold {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        if pixels.len() < settings.min_pixels {
            continue;
        }
        let score =
            pixels.iter().map(|&(x, y)| map[y * width + x]).sum::<f32>() / pixels.len() as f32;
        if score < settings.box_threshold {
            continue;
        }
        if let Some(b) = region_box(&pixels, scale_x, scale_y, settings.unclip_ratio, score) {
            out.push(b);
        }
    }
    out
}

/// Joins the pieces of one line: a glare, a fold or a faint run of fillers
/// breaks a zone line into several regions. Two boxes are pieces of one
/// line when they are nearly parallel (6°), on the same line (their centres
/// within half a height of each other's axis), of similar height, and
/// their ends less than three heights apart (ten when they are aligned
/// within a quarter height and 2°).
pub fn merge_collinear(mut boxes: Vec<TextBox>) -> Vec<TextBox> {
    loop {
        let mut merged = None;
        'search: for i in 0..boxes.len() {
            for j in i + 1..boxes.len() {
                if let Some(m) = join(&boxes[i], &boxes[j]) {
                    merged = Some((i, j, m));
                    break 'search;
                }
            }
        }
        match merged {
            Some((i, j, m)) => {
                boxes.swap_remove(j);
                boxes[i] = m;
            }
            None => return boxes,
        }
    }
}

fn join(a: &TextBox, b: &TextBox) -> Option<TextBox> {
    let dot = a.axis.x * b.axis.x + a.axis.y * b.axis.y;
    if dot < 6f32.to_radians().cos() {
        return None;
    }
    let (lo, hi) = (a.height.min(b.height), a.height.max(b.height));
    if hi > 1.7 * lo {
        return None;
    }
    let (dx, dy) = (b.center.x - a.center.x, b.center.y - a.center.y);
    let along = dx * a.axis.x + dy * a.axis.y;
    let across = -dx * a.axis.y + dy * a.axis.x;
    if across.abs() > 0.5 * lo {
        return None;
    }
    // Pieces well aligned may lie far apart (a glare or blur erasing a run
    // of fillers); loosely aligned ones only close.
    let gap = along.abs() - (a.length + b.length) / 2.0;
    let aligned = across.abs() <= 0.25 * lo && dot >= 2f32.to_radians().cos();
    if gap > if aligned { 10.0 } else { 3.0 } * hi {
        return None;
    }
    // The length-weighted axis, and the extent of all eight corners on it.
    let (wa, wb) = (a.length, b.length);
    let (ux, uy) = (a.axis.x * wa + b.axis.x * wb, a.axis.y * wa + b.axis.y * wb);
    let norm = (ux * ux + uy * uy).sqrt().max(1e-6);
    let (ux, uy) = (ux / norm, uy / norm);
    let (vx, vy) = (-uy, ux);
    let (mut u0, mut u1, mut v0, mut v1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in a.corners().into_iter().chain(b.corners()) {
        let (u, v) = (p.x * ux + p.y * uy, p.x * vx + p.y * vy);
        (u0, u1, v0, v1) = (u0.min(u), u1.max(u), v0.min(v), v1.max(v));
    }
    let (cu, cv) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
    Some(TextBox {
        center: Point::new(cu * ux + cv * vx, cu * uy + cv * vy),
        axis: Point::new(ux, uy),
        length: u1 - u0,
        // The pieces' own height: the union across a tilt would grow it.
        height: (a.height * wa + b.height * wb) / (wa + wb),
        score: (a.score * wa + b.score * wb) / (wa + wb),
    })
}

/// The rotated rectangle of a region, in source pixels.
fn region_box(
    pixels: &[(usize, usize)],
    scale_x: f32,
    scale_y: f32,
    unclip_ratio: f32,
    score: f32,
) -> Option<TextBox> {
    let n = pixels.len() as f64;
    // Pixel centres in source coordinates.
    let pts = pixels.iter().map(|&(x, y)| {
        (
            (x as f64 + 0.5) * f64::from(scale_x),
            (y as f64 + 0.5) * f64::from(scale_y),
        )
    });
    let (sx, sy) = pts
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut cxx, mut cyy, mut cxy) = (0.0, 0.0, 0.0);
    for (x, y) in pts.clone() {
        cxx += (x - mx) * (x - mx);
        cyy += (y - my) * (y - my);
        cxy += (x - mx) * (y - my);
    }
    let angle = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
    let (mut ux, mut uy) = (angle.cos(), angle.sin());
    if ux < 0.0 {
        (ux, uy) = (-ux, -uy);
    }
    let (vx, vy) = (-uy, ux);
    let (mut u0, mut u1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        let (dx, dy) = (x - mx, y - my);
        let (u, v) = (dx * ux + dy * uy, dx * vx + dy * vy);
        (u0, u1, v0, v1) = (u0.min(u), u1.max(u), v0.min(v), v1.max(v));
    }
    // A pixel covers its own square: half a (scaled) pixel each side.
    let pad_u = 0.5 * (ux.abs() * f64::from(scale_x) + uy.abs() * f64::from(scale_y));
    let pad_v = 0.5 * (vx.abs() * f64::from(scale_x) + vy.abs() * f64::from(scale_y));
    let (mut length, mut height) = (u1 - u0 + 2.0 * pad_u, v1 - v0 + 2.0 * pad_v);
    let (cu, cv) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
    let center = (mx + cu * ux + cv * vx, my + cu * uy + cv * vy);
    let distance = length * height * f64::from(unclip_ratio) / (2.0 * (length + height));
    length += 2.0 * distance;
    height += 2.0 * distance;
    if !(length.is_finite() && height.is_finite()) || height <= 0.0 {
        return None;
    }
    Some(TextBox {
        center: Point::new(center.0 as f32, center.1 as f32),
        axis: Point::new(ux as f32, uy as f32),
        length: length as f32,
        height: height as f32,
        score,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_tilted_bar_becomes_one_rotated_box() {
        let (w, h) = (200usize, 100usize);
        let mut map = vec![0.0f32; w * h];
        let angle = 10f32.to_radians();
        // A bar 120 × 8 around (100, 50), tilted by 10°.
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 + 0.5 - 100.0, y as f32 + 0.5 - 50.0);
                let u = dx * angle.cos() + dy * angle.sin();
                let v = -dx * angle.sin() + dy * angle.cos();
                if u.abs() < 60.0 && v.abs() < 4.0 {
                    map[y * w + x] = 0.9;
                }
            }
        }
        let found = boxes(&map, w, h, 2.0, 2.0, &DbSettings::default());
        assert_eq!(found.len(), 1);
        let b = found[0];
        assert!((b.center.x - 200.0).abs() < 2.0 && (b.center.y - 100.0).abs() < 2.0);
        assert!((b.axis.y.atan2(b.axis.x) - angle).abs() < 0.02, "{b:?}");
        // 240 × 16 source pixels, grown by 1.6 × area / perimeter ≈ 12.
        assert!((b.length - 264.0).abs() < 6.0, "{b:?}");
        assert!((b.height - 40.0).abs() < 6.0, "{b:?}");
        assert!(b.aspect() > 5.0);
    }

    #[test]
    fn the_pieces_of_a_broken_line_are_joined_and_other_lines_kept() {
        let piece = |x: f32, y: f32, length: f32| TextBox {
            center: Point::new(x, y),
            axis: Point::new(1.0, 0.0),
            length,
            height: 20.0,
            score: 0.8,
        };
        // One line broken by a glare 40 px wide, a line below it, and a
        // word far away on the first line's row.
        let boxes = vec![
            piece(100.0, 100.0, 200.0),
            piece(340.0, 101.0, 200.0),
            piece(220.0, 140.0, 440.0),
            piece(900.0, 100.0, 50.0),
        ];
        let mut merged = merge_collinear(boxes);
        merged.sort_by(|a, b| a.center.x.total_cmp(&b.center.x));
        assert_eq!(merged.len(), 3, "{merged:?}");
        let joined = merged
            .iter()
            .find(|b| (b.center.y - 100.5).abs() < 1.0)
            .unwrap();
        assert!((joined.length - 440.0).abs() < 1.5, "{joined:?}");
        assert!((joined.center.x - 220.0).abs() < 1.0);
    }

    #[test]
    fn faint_and_tiny_regions_are_dropped() {
        let (w, h) = (20usize, 10usize);
        let mut map = vec![0.0f32; w * h];
        map[5 * w + 5] = 0.9; // one pixel
        for x in 10..18 {
            map[2 * w + x] = 0.35; // above the threshold, below the box threshold
        }
        assert!(boxes(&map, w, h, 1.0, 1.0, &DbSettings::default()).is_empty());
    }

    proptest! {
        #[test]
        fn boxes_never_panic(map in proptest::collection::vec(0.0f32..1.0, 0..400), w in 1usize..20) {
            let h = map.len() / w;
            let _ = boxes(&map[..w * h], w, h, 1.5, 1.5, &DbSettings::default());
        }
    }
}
