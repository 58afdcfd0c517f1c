//! Where the document lies in the photo: its four sides as straight edges
//! (a colour gradient and a Hough transform on the photo scaled down), the
//! quadrilateral of four such lines that holds the text the detector found,
//! whose sides are best supported by edges and whose shape is an ID-1 or
//! ID-3 page seen in perspective; a side the photo cuts off is the image
//! border. Then the page's upright corner order (from the text direction)
//! and the homography that rectifies it. Measurement only: no model here.

use facegate_vision::geometry::Point;
use image::RgbImage;

use crate::detect::TextBox;

/// The ISO/IEC 7810 sizes identity documents are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// 85.60 × 53.98 mm: ID cards, driving licences (TD1).
    Id1,
    /// 125 × 88 mm: passport data pages (TD3).
    Id3,
}

impl DocumentFormat {
    /// Width and height in millimetres, upright (landscape).
    pub const fn size_mm(self) -> (f32, f32) {
        match self {
            DocumentFormat::Id1 => (85.6, 53.98),
            DocumentFormat::Id3 => (125.0, 88.0),
        }
    }

    /// Width over height.
    pub fn aspect(self) -> f32 {
        let (w, h) = self.size_mm();
        w / h
    }
}

/// Four corners in photo pixels: top-left, top-right, bottom-right,
/// bottom-left of the upright document (clockwise on screen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// Area (shoelace; positive for either winding).
    pub fn area(&self) -> f32 {
        let p = &self.0;
        let mut a = 0.0;
        for i in 0..4 {
            let (u, v) = (p[i], p[(i + 1) % 4]);
            a += u.x * v.y - v.x * u.y;
        }
        (a / 2.0).abs()
    }

    /// Whether `q` lies inside (or within `tolerance` pixels outside) the
    /// convex quadrilateral.
    pub fn contains(&self, q: Point, tolerance: f32) -> bool {
        let p = &self.0;
        let sign = winding(p);
        (0..4).all(|i| {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            let len = dist(a, b).max(1e-6);
            let cross = ((b.x - a.x) * (q.y - a.y) - (b.y - a.y) * (q.x - a.x)) / len;
            cross * sign >= -tolerance
        })
    }

    pub fn centroid(&self) -> Point {
        let p = &self.0;
        Point::new(
            p.iter().map(|c| c.x).sum::<f32>() / 4.0,
            p.iter().map(|c| c.y).sum::<f32>() / 4.0,
        )
    }

    /// Width over height: mean of the top and bottom side lengths over the
    /// mean of the left and right ones.
    pub fn aspect(&self) -> f32 {
        let p = &self.0;
        let w = dist(p[0], p[1]) + dist(p[3], p[2]);
        let h = dist(p[0], p[3]) + dist(p[1], p[2]);
        w / h.max(1e-6)
    }

    /// Scaled about the origin (between photo and working resolutions).
    pub fn scaled(&self, s: f32) -> Quad {
        Quad(self.0.map(|p| Point::new(p.x * s, p.y * s)))
    }
}

fn winding(p: &[Point; 4]) -> f32 {
    let mut a = 0.0;
    for i in 0..4 {
        let (u, v) = (p[i], p[(i + 1) % 4]);
        a += u.x * v.y - v.x * u.y;
    }
    if a >= 0.0 {
        1.0
    } else {
        -1.0
    }
}

pub(crate) fn dist(a: Point, b: Point) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// How one side of the found page is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SideEvidence {
    /// A straight edge along this share of the side's visible length.
    Edge { support: f32 },
    /// The side is not in the photo: the page runs over the image border
    /// here.
    ImageBorder,
    /// No edge: the side is placed around the text.
    Content,
}

/// The document found in a photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The page's corners, upright order. Where a side is the image border
    /// the page goes on beyond it and the quad ends at the border.
    pub quad: Quad,
    /// Top, right, bottom, left.
    pub sides: [SideEvidence; 4],
    /// Mean support of the sides (a border counts [`PageSettings::border_support`]).
    pub score: f32,
    /// Text lines inside the quad.
    pub text_lines: usize,
    /// Unit vector along the text, left to right of the upright document.
    pub axis: Point,
}

impl Page {
    /// Whether part of the page is outside the photo: a side on the image
    /// border or a corner beyond it.
    pub fn cut_off(&self, width: u32, height: u32, tolerance: f32) -> bool {
        self.sides
            .iter()
            .any(|s| matches!(s, SideEvidence::ImageBorder))
            || self.quad.0.iter().any(|p| {
                p.x < -tolerance
                    || p.y < -tolerance
                    || p.x > width as f32 + tolerance
                    || p.y > height as f32 + tolerance
            })
    }

    /// All four sides are edges found in the photo.
    pub fn closed(&self) -> bool {
        self.sides
            .iter()
            .all(|s| matches!(s, SideEvidence::Edge { .. }))
    }
}

/// How the page is looked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSettings {
    /// The photo is scaled down to this longest side first.
    pub work_side: u32,
    /// A pixel votes for lines when its gradient reaches this (grey levels
    /// per pixel at the working scale).
    pub vote_gradient: f32,
    /// A side's sample is on an edge when the gradient across the side
    /// reaches this.
    pub edge_gradient: f32,
    /// An edge this strong counts fully towards a side's support.
    pub strong_gradient: f32,
    /// Lines kept from the Hough transform.
    pub max_lines: usize,
    /// Support a side on the image border counts for.
    pub border_support: f32,
    /// Smallest share of the image a page covers.
    pub min_area: f32,
    /// Share of the text (by length) a page must hold.
    pub min_text_inside: f32,
}

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            work_side: 480,
            vote_gradient: 2.0,
            edge_gradient: 2.0,
            strong_gradient: 10.0,
            max_lines: 36,
            border_support: 0.45,
            min_area: 0.04,
            min_text_inside: 0.85,
        }
    }
}

/// Colour gradients of the photo at the working scale.
struct Gradients {
    w: usize,
    h: usize,
    /// Largest eigenvalue's root of the colour structure tensor (Di Zenzo):
    /// the gradient magnitude in grey levels per pixel.
    mag: Vec<f32>,
    /// Direction of the gradient (the edge's normal), in [0, π).
    angle: Vec<f32>,
}

impl Gradients {
    fn of(image: &RgbImage, work_side: u32) -> (Self, f32) {
        let (w0, h0) = (image.width().max(1), image.height().max(1));
        let s = (work_side as f32 / w0.max(h0) as f32).min(1.0);
        let (w, h) = (
            ((w0 as f32 * s).round() as u32).max(3),
            ((h0 as f32 * s).round() as u32).max(3),
        );
        let small = if w < w0 {
            image::imageops::thumbnail(image, w, h)
        } else {
            image.clone()
        };
        let scale = small.width() as f32 / w0 as f32;
        let (w, h) = (small.width() as usize, small.height() as usize);
        let mut planes = [vec![0f32; w * h], vec![0f32; w * h], vec![0f32; w * h]];
        for (i, px) in small.pixels().enumerate() {
            for c in 0..3 {
                planes[c][i] = f32::from(px[c]);
            }
        }
        for p in &mut planes {
            smooth(p, w, h);
        }
        let mut mag = vec![0f32; w * h];
        let mut angle = vec![0f32; w * h];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let (mut gxx, mut gyy, mut gxy) = (0f32, 0f32, 0f32);
                for p in &planes {
                    let at = |dx: isize, dy: isize| {
                        p[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
                    };
                    let gx = (at(1, -1) + 2.0 * at(1, 0) + at(1, 1)
                        - at(-1, -1)
                        - 2.0 * at(-1, 0)
                        - at(-1, 1))
                        / 8.0;
                    let gy = (at(-1, 1) + 2.0 * at(0, 1) + at(1, 1)
                        - at(-1, -1)
                        - 2.0 * at(0, -1)
                        - at(1, -1))
                        / 8.0;
                    gxx += gx * gx;
                    gyy += gy * gy;
                    gxy += gx * gy;
                }
                let i = y * w + x;
                let d = ((gxx - gyy).powi(2) + 4.0 * gxy * gxy).sqrt();
                mag[i] = ((gxx + gyy + d) / 2.0).sqrt();
                let mut a = 0.5 * (2.0 * gxy).atan2(gxx - gyy);
                if a < 0.0 {
                    a += std::f32::consts::PI;
                }
                angle[i] = a;
            }
        }
        (Self { w, h, mag, angle }, scale)
    }

    /// Gradient across a line of normal angle `theta` at `p`: the strongest
    /// within ±1.5 px along the normal whose direction is within 20° of it.
    fn across(&self, p: Point, theta: f32) -> f32 {
        let (c, s) = (theta.cos(), theta.sin());
        let mut best = 0f32;
        for k in [-1.5f32, -0.75, 0.0, 0.75, 1.5] {
            let (x, y) = (p.x + c * k, p.y + s * k);
            if x < 1.0 || y < 1.0 || x >= self.w as f32 - 1.0 || y >= self.h as f32 - 1.0 {
                continue;
            }
            let i = y as usize * self.w + x as usize;
            if angle_gap(self.angle[i], theta) <= 20f32.to_radians() {
                best = best.max(self.mag[i]);
            }
        }
        best
    }
}

/// Separable [1 4 6 4 1] / 16 smoothing, borders repeated.
fn smooth(p: &mut [f32], w: usize, h: usize) {
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (k, wk) in K.iter().enumerate() {
                let xx = (x as isize + k as isize - 2).clamp(0, w as isize - 1) as usize;
                acc += wk * p[y * w + xx];
            }
            tmp[y * w + x] = acc;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (k, wk) in K.iter().enumerate() {
                let yy = (y as isize + k as isize - 2).clamp(0, h as isize - 1) as usize;
                acc += wk * tmp[yy * w + x];
            }
            p[y * w + x] = acc;
        }
    }
}

/// Difference of two line directions, modulo π, in [0, π/2].
fn angle_gap(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(std::f32::consts::PI);
    d.min(std::f32::consts::PI - d)
}

/// A line `x·cos θ + y·sin θ = ρ` at the working scale.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    theta: f32,
    rho: f32,
    votes: f32,
    /// One of the image's borders (top, right, bottom, left).
    border: bool,
}

impl Line {
    fn normal(&self) -> Point {
        Point::new(self.theta.cos(), self.theta.sin())
    }

    fn intersect(&self, other: &Line) -> Option<Point> {
        let (a, b) = (self.normal(), other.normal());
        let det = a.x * b.y - a.y * b.x;
        if det.abs() < 1e-4 {
            return None;
        }
        Some(Point::new(
            (self.rho * b.y - other.rho * a.y) / det,
            (a.x * other.rho - b.x * self.rho) / det,
        ))
    }

    /// Distance from `p` to the line.
    fn distance(&self, p: Point) -> f32 {
        let n = self.normal();
        (p.x * n.x + p.y * n.y - self.rho).abs()
    }
}

const THETA_BINS: usize = 180;

/// The strongest straight lines: each pixel with a strong gradient votes
/// for the lines through it within 2° of its edge direction; peaks are kept
/// apart by 4° and 6 px.
fn hough(g: &Gradients, settings: &PageSettings) -> Vec<Line> {
    let diag = ((g.w * g.w + g.h * g.h) as f32).sqrt().ceil() as usize;
    let nr = 2 * diag + 1;
    let mut acc = vec![0f32; THETA_BINS * nr];
    let trig: Vec<(f32, f32)> = (0..THETA_BINS)
        .map(|t| {
            let a = t as f32 * std::f32::consts::PI / THETA_BINS as f32;
            (a.cos(), a.sin())
        })
        .collect();
    for y in 1..g.h - 1 {
        for x in 1..g.w - 1 {
            let i = y * g.w + x;
            if g.mag[i] < settings.vote_gradient {
                continue;
            }
            let t0 = (g.angle[i] / std::f32::consts::PI * THETA_BINS as f32).round() as isize;
            for dt in -2isize..=2 {
                let t = (t0 + dt).rem_euclid(THETA_BINS as isize) as usize;
                let (c, s) = trig[t];
                // Pixel x covers [x, x + 1): its centre is x + 0.5.
                let rho = (x as f32 + 0.5) * c + (y as f32 + 0.5) * s;
                let r = (rho.round() as isize + diag as isize) as usize;
                if r < nr {
                    acc[t * nr + r] += 1.0;
                }
            }
        }
    }
    let min_votes = 0.12 * g.w.min(g.h) as f32;
    let mut peaks: Vec<(f32, usize, usize)> = Vec::new();
    for t in 0..THETA_BINS {
        for r in 0..nr {
            let v = acc[t * nr + r];
            if v >= min_votes {
                peaks.push((v, t, r));
            }
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut lines: Vec<(usize, usize, f32)> = Vec::new();
    for (v, t, r) in peaks {
        if lines.len() >= settings.max_lines {
            break;
        }
        let near = lines.iter().any(|&(lt, lr, _)| {
            let dt = (t as isize - lt as isize).rem_euclid(THETA_BINS as isize);
            let dt = dt.min(THETA_BINS as isize - dt);
            // Across θ = 0/π the same line has the opposite ρ.
            let dr = if (t as isize - lt as isize).abs() > THETA_BINS as isize / 2 {
                (r as isize + lr as isize - 2 * diag as isize).abs()
            } else {
                (r as isize - lr as isize).abs()
            };
            dt <= 4 && dr <= 6
        });
        if !near {
            lines.push((t, r, v));
        }
    }
    lines
        .into_iter()
        .map(|(t, r, v)| Line {
            theta: t as f32 * std::f32::consts::PI / THETA_BINS as f32,
            rho: r as f32 - diag as f32,
            votes: v,
            border: false,
        })
        .collect()
}

/// A candidate's side: support over its visible part, or a border.
#[derive(Debug, Clone, Copy)]
struct SideFit {
    support: f32,
    /// Share of the side inside the image.
    visible: f32,
    border: bool,
}

fn side_fit(g: &Gradients, line: &Line, a: Point, b: Point, settings: &PageSettings) -> SideFit {
    if line.border {
        return SideFit {
            support: settings.border_support,
            visible: 0.0,
            border: true,
        };
    }
    let len = dist(a, b);
    let n = ((len / 3.0) as usize).clamp(12, 96);
    let (mut visible, mut hits, mut strength) = (0usize, 0usize, 0f32);
    for k in 0..n {
        // The middle 84 %: corners are rounded.
        let t = 0.08 + 0.84 * (k as f32 + 0.5) / n as f32;
        let p = Point::new(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
        if p.x < 2.0 || p.y < 2.0 || p.x > g.w as f32 - 3.0 || p.y > g.h as f32 - 3.0 {
            continue;
        }
        visible += 1;
        let across = g.across(p, line.theta);
        if across >= settings.edge_gradient {
            hits += 1;
        }
        strength += (across / settings.strong_gradient).min(1.0);
    }
    SideFit {
        // Half how much of the side has an edge, half how strong it is: a
        // page's own edge is crisper than its shadow's.
        support: if visible == 0 {
            0.0
        } else {
            0.5 * (hits as f32 + strength) / visible as f32
        },
        visible: visible as f32 / n as f32,
        border: false,
    }
}

/// Text at the working scale: centre, corners, length.
struct Content {
    boxes: Vec<([Point; 4], Point, f32)>,
    total: f32,
}

impl Content {
    fn of(text: &[TextBox], scale: f32) -> Self {
        let boxes: Vec<([Point; 4], Point, f32)> = text
            .iter()
            .map(|b| {
                let c = b.corners().map(|p| Point::new(p.x * scale, p.y * scale));
                let centre = Point::new(b.center.x * scale, b.center.y * scale);
                (c, centre, b.length * scale)
            })
            .collect();
        let total = boxes.iter().map(|b| b.2).sum();
        Self { boxes, total }
    }

    /// Share of the text (by length) inside `q`, and the lines inside.
    fn inside(&self, q: &Quad) -> (f32, usize) {
        let (mut len, mut n) = (0.0, 0usize);
        for (corners, centre, l) in &self.boxes {
            if q.contains(*centre, 1.0) && corners.iter().all(|c| q.contains(*c, 3.0)) {
                len += l;
                n += 1;
            }
        }
        (
            if self.total > 0.0 {
                len / self.total
            } else {
                1.0
            },
            n,
        )
    }
}

/// The length-weighted mean direction of the text (doubled-angle mean), as
/// a unit vector with `x ≥ 0`.
pub fn text_axis(text: &[TextBox]) -> Option<Point> {
    let (mut c, mut s) = (0f32, 0f32);
    for b in text {
        let a = b.axis.y.atan2(b.axis.x);
        c += b.length * (2.0 * a).cos();
        s += b.length * (2.0 * a).sin();
    }
    if c.abs() + s.abs() < 1e-6 {
        return None;
    }
    let a = 0.5 * s.atan2(c);
    let v = Point::new(a.cos(), a.sin());
    Some(if v.x < 0.0 { Point::new(-v.x, -v.y) } else { v })
}

/// Finds the page holding `text` (the detector's lines, photo pixels).
/// `None` when no quadrilateral of edges holds the text and there is no
/// text to place one around.
pub fn locate(image: &RgbImage, text: &[TextBox], settings: &PageSettings) -> Option<Page> {
    let (g, scale) = Gradients::of(image, settings.work_side);
    let content = Content::of(text, scale);
    let (w, h) = (g.w as f32, g.h as f32);
    let mut lines = hough(&g, settings);
    let borders = [
        (std::f32::consts::FRAC_PI_2, 0.0),
        (0.0, w - 1.0),
        (std::f32::consts::FRAC_PI_2, h - 1.0),
        (0.0, 0.0),
    ];
    for (theta, rho) in borders {
        lines.push(Line {
            theta,
            rho,
            votes: 0.0,
            border: true,
        });
    }
    let centre = Point::new(w / 2.0, h / 2.0);
    let min_gap = 0.1 * w.min(h);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            let (a, b) = (&lines[i], &lines[j]);
            if angle_gap(a.theta, b.theta) > 30f32.to_radians() {
                continue;
            }
            // Apart where they pass the image centre.
            let foot = {
                let n = a.normal();
                let d = centre.x * n.x + centre.y * n.y - a.rho;
                Point::new(centre.x - n.x * d, centre.y - n.y * d)
            };
            if b.distance(foot) < min_gap {
                continue;
            }
            pairs.push((i, j));
        }
    }
    let mid_angle = |p: &(usize, usize)| {
        let (a, b) = (lines[p.0].theta, lines[p.1].theta);
        let mut d = b - a;
        if d > std::f32::consts::FRAC_PI_2 {
            d -= std::f32::consts::PI;
        } else if d < -std::f32::consts::FRAC_PI_2 {
            d += std::f32::consts::PI;
        }
        a + d / 2.0
    };
    let image_area = w * h;
    let mut best: Option<(f32, Quad, [SideFit; 4], usize)> = None;
    for (pi, p) in pairs.iter().enumerate() {
        for q in &pairs[pi + 1..] {
            if angle_gap(mid_angle(p), mid_angle(q)) < 50f32.to_radians() {
                continue;
            }
            let (l0, l1, m0, m1) = (&lines[p.0], &lines[p.1], &lines[q.0], &lines[q.1]);
            let borders = [l0, l1, m0, m1].iter().filter(|l| l.border).count();
            if borders > 2 {
                continue;
            }
            let (Some(c0), Some(c1), Some(c2), Some(c3)) = (
                l0.intersect(m0),
                l0.intersect(m1),
                l1.intersect(m1),
                l1.intersect(m0),
            ) else {
                continue;
            };
            let quad = Quad([c0, c1, c2, c3]);
            if quad
                .0
                .iter()
                .any(|c| c.x < -0.6 * w || c.y < -0.6 * h || c.x > 1.6 * w || c.y > 1.6 * h)
            {
                continue;
            }
            if !convex(&quad) {
                continue;
            }
            let visible_area = clipped_area(&quad, w, h);
            if visible_area < settings.min_area * image_area {
                continue;
            }
            let (share, n_text) = content.inside(&quad);
            if share < settings.min_text_inside {
                continue;
            }
            // Sides in cyclic order: l0 (c0→c1), m1 (c1→c2), l1 (c2→c3), m0 (c3→c0).
            let fits = [
                side_fit(&g, l0, c0, c1, settings),
                side_fit(&g, m1, c1, c2, settings),
                side_fit(&g, l1, c2, c3, settings),
                side_fit(&g, m0, c3, c0, settings),
            ];
            let mut score = 0.0;
            let mut open = 0;
            for f in &fits {
                if f.border || f.visible < 0.25 {
                    score += settings.border_support;
                    open += 1;
                } else {
                    score += f.support;
                }
            }
            if open > 2 {
                continue;
            }
            // Of two quads as well supported, the inner one: the outer is
            // the page's shadow.
            score = score / 4.0 - 0.03 * visible_area / image_area;
            if open == 0 {
                score -= shape_penalty(&quad);
            }
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, quad, fits, n_text));
            }
        }
    }
    let axis = text_axis(text);
    let page = match best {
        Some((score, quad, fits, n_text)) => {
            let quad = refine(&g, &quad, &fits);
            let sides = fits.map(|f| {
                if f.border || f.visible < 0.25 {
                    SideEvidence::ImageBorder
                } else {
                    SideEvidence::Edge { support: f.support }
                }
            });
            let quad = quad.scaled(1.0 / scale);
            let axis = axis.unwrap_or_else(|| long_axis(&quad));
            let (quad, sides) = upright(&quad, sides, axis);
            Page {
                quad,
                sides,
                score,
                text_lines: n_text,
                axis,
            }
        }
        None => around_text(text, axis?)?,
    };
    Some(page)
}

/// Moves each side found as an edge onto the edge: the strongest gradient
/// within 3 px across the side at each sample (to a tenth of a pixel by a
/// parabola through the neighbours), a least-squares line through them
/// (twice, dropping samples more than 1 px off), and the corners where the
/// refined lines meet. Hough's bins are a degree and a pixel wide.
fn refine(g: &Gradients, q: &Quad, fits: &[SideFit; 4]) -> Quad {
    let p = q.0;
    let mut lines: [Option<(Point, Point)>; 4] = [None; 4];
    for i in 0..4 {
        if fits[i].border || fits[i].visible < 0.25 {
            continue;
        }
        let (a, b) = (p[i], p[(i + 1) % 4]);
        let len = dist(a, b).max(1e-6);
        let (ux, uy) = ((b.x - a.x) / len, (b.y - a.y) / len);
        let (nx, ny) = (-uy, ux);
        let theta = ny.atan2(nx).rem_euclid(std::f32::consts::PI);
        let n = ((len / 2.0) as usize).clamp(12, 200);
        let mut pts = Vec::with_capacity(n);
        for k in 0..n {
            let t = 0.08 + 0.84 * (k as f32 + 0.5) / n as f32;
            let c = Point::new(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
            let profile: Vec<f32> = (-6..=6)
                .map(|d| {
                    let d = d as f32 * 0.5;
                    let s = Point::new(c.x + nx * d, c.y + ny * d);
                    if s.x < 1.0 || s.y < 1.0 || s.x >= g.w as f32 - 1.0 || s.y >= g.h as f32 - 1.0
                    {
                        return 0.0;
                    }
                    let i = s.y as usize * g.w + s.x as usize;
                    if angle_gap(g.angle[i], theta) <= 20f32.to_radians() {
                        g.mag[i]
                    } else {
                        0.0
                    }
                })
                .collect();
            let (k_best, &m) = match profile.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)) {
                Some(v) => v,
                None => continue,
            };
            if m <= 0.0 {
                continue;
            }
            let mut off = k_best as f32;
            if k_best > 0 && k_best + 1 < profile.len() {
                let (l, r) = (profile[k_best - 1], profile[k_best + 1]);
                let den = l - 2.0 * m + r;
                if den < 0.0 {
                    off += (0.5 * (l - r) / den).clamp(-0.5, 0.5);
                }
            }
            let d = (off - 6.0) * 0.5;
            pts.push(Point::new(c.x + nx * d, c.y + ny * d));
        }
        let mut fit = fit_line(&pts);
        if let Some((centre, dir)) = fit {
            let near: Vec<Point> = pts
                .iter()
                .copied()
                .filter(|p| ((p.x - centre.x) * -dir.y + (p.y - centre.y) * dir.x).abs() <= 1.0)
                .collect();
            if near.len() >= pts.len() / 2 {
                fit = fit_line(&near).or(fit);
            }
        }
        lines[i] = fit;
    }
    let mut out = p;
    for (i, corner) in out.iter_mut().enumerate() {
        // Corner i joins side i-1 and side i.
        let (prev, next) = (lines[(i + 3) % 4], lines[i]);
        if let (Some((c1, d1)), Some((c2, d2))) = (prev, next) {
            let det = d1.x * (-d2.y) - d1.y * (-d2.x);
            if det.abs() > 1e-3 {
                let (rx, ry) = (c2.x - c1.x, c2.y - c1.y);
                let t = (rx * (-d2.y) - ry * (-d2.x)) / det;
                let c = Point::new(c1.x + d1.x * t, c1.y + d1.y * t);
                if dist(c, *corner) < 8.0 {
                    *corner = c;
                }
            }
        }
    }
    Quad(out)
}

/// Total least squares: the centroid and the unit direction of the points.
fn fit_line(pts: &[Point]) -> Option<(Point, Point)> {
    if pts.len() < 6 {
        return None;
    }
    let n = pts.len() as f32;
    let cx = pts.iter().map(|p| p.x).sum::<f32>() / n;
    let cy = pts.iter().map(|p| p.y).sum::<f32>() / n;
    let (mut sxx, mut syy, mut sxy) = (0f32, 0f32, 0f32);
    for p in pts {
        let (dx, dy) = (p.x - cx, p.y - cy);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let a = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    Some((Point::new(cx, cy), Point::new(a.cos(), a.sin())))
}

/// How far a closed quad's shape is from an ID-1 or ID-3 page: the log
/// ratio of its aspect to the nearer one beyond what perspective explains.
fn shape_penalty(q: &Quad) -> f32 {
    let a = q.aspect();
    let a = a.max(1.0 / a.max(1e-6));
    let off = [DocumentFormat::Id1, DocumentFormat::Id3]
        .iter()
        .map(|f| (a / f.aspect()).ln().abs())
        .fold(f32::MAX, f32::min);
    (off - 0.15).max(0.0)
}

fn convex(q: &Quad) -> bool {
    let p = &q.0;
    let mut sign = 0.0;
    for i in 0..4 {
        let (a, b, c) = (p[i], p[(i + 1) % 4], p[(i + 2) % 4]);
        let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        if cross.abs() < 1e-3 {
            return false;
        }
        if sign == 0.0 {
            sign = cross.signum();
        } else if cross.signum() != sign {
            return false;
        }
    }
    true
}

/// Area of the quad inside the `w`×`h` image (Sutherland–Hodgman).
fn clipped_area(q: &Quad, w: f32, h: f32) -> f32 {
    let mut poly: Vec<Point> = q.0.to_vec();
    let planes: [(f32, f32, f32); 4] = [
        (1.0, 0.0, 0.0),
        (-1.0, 0.0, -w),
        (0.0, 1.0, 0.0),
        (0.0, -1.0, -h),
    ];
    for (nx, ny, c) in planes {
        let inside = |p: &Point| p.x * nx + p.y * ny >= c;
        let mut out = Vec::with_capacity(poly.len() + 2);
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            let (ia, ib) = (inside(&a), inside(&b));
            if ia {
                out.push(a);
            }
            if ia != ib {
                let da = a.x * nx + a.y * ny - c;
                let db = b.x * nx + b.y * ny - c;
                let t = da / (da - db);
                out.push(Point::new(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t));
            }
        }
        poly = out;
        if poly.is_empty() {
            return 0.0;
        }
    }
    let mut a = 0.0;
    for i in 0..poly.len() {
        let (u, v) = (poly[i], poly[(i + 1) % poly.len()]);
        a += u.x * v.y - v.x * u.y;
    }
    (a / 2.0).abs()
}

/// The direction of the quad's longer pair of sides, `x ≥ 0`.
fn long_axis(q: &Quad) -> Point {
    let p = &q.0;
    let (a, b) = if dist(p[0], p[1]) + dist(p[2], p[3]) >= dist(p[1], p[2]) + dist(p[3], p[0]) {
        (p[0], p[1])
    } else {
        (p[1], p[2])
    };
    let l = dist(a, b).max(1e-6);
    let v = Point::new((b.x - a.x) / l, (b.y - a.y) / l);
    if v.x < 0.0 {
        Point::new(-v.x, -v.y)
    } else {
        v
    }
}

/// Reorders a cyclic quad (and its sides, side i from corner i to i+1) so
/// that it starts at the top-left of the document upright along `axis`
/// with its top towards the image's top, clockwise on screen.
fn upright(q: &Quad, sides: [SideEvidence; 4], axis: Point) -> (Quad, [SideEvidence; 4]) {
    // "Up" is the normal of the text pointing to the image's top.
    let up = if axis.x >= 0.0 {
        Point::new(axis.y, -axis.x)
    } else {
        Point::new(-axis.y, axis.x)
    };
    let c = q.centroid();
    let key = |p: Point| {
        let (a, b) = (
            (p.x - c.x) * axis.x + (p.y - c.y) * axis.y,
            (p.x - c.x) * up.x + (p.y - c.y) * up.y,
        );
        b - a
    };
    let mut start = 0;
    for i in 1..4 {
        if key(q.0[i]) > key(q.0[start]) {
            start = i;
        }
    }
    let mut corners = q.0;
    let mut sides = sides;
    // Clockwise on screen (y down) is a positive shoelace sum.
    if winding(&corners) < 0.0 {
        corners.reverse();
        // Side i joined corners i and i+1; reversed, it joins 3-i and 2-i.
        let s = sides;
        sides = [s[2], s[1], s[0], s[3]];
        start = 3 - start;
    }
    let quad = Quad(std::array::from_fn(|i| corners[(start + i) % 4]));
    let sides = std::array::from_fn(|i| sides[(start + i) % 4]);
    (quad, sides)
}

/// A page placed around the text when no edges close it: the rectangle
/// along the text holding every line, grown by a margin.
fn around_text(text: &[TextBox], axis: Point) -> Option<Page> {
    if text.is_empty() {
        return None;
    }
    let up = Point::new(axis.y, -axis.x);
    let (mut a0, mut a1, mut b0, mut b1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for b in text {
        for p in b.corners() {
            let (a, u) = (p.x * axis.x + p.y * axis.y, p.x * up.x + p.y * up.y);
            (a0, a1, b0, b1) = (a0.min(a), a1.max(a), b0.min(u), b1.max(u));
        }
    }
    let (ma, mb) = (0.06 * (a1 - a0), 0.1 * (b1 - b0));
    let (a0, a1, b0, b1) = (a0 - ma, a1 + ma, b0 - mb, b1 + mb);
    let at = |a: f32, u: f32| Point::new(axis.x * a + up.x * u, axis.y * a + up.y * u);
    let quad = Quad([at(a0, b1), at(a1, b1), at(a1, b0), at(a0, b0)]);
    Some(Page {
        quad,
        sides: [SideEvidence::Content; 4],
        score: 0.0,
        text_lines: text.len(),
        axis,
    })
}

/// A plane projective map, `p ↦ (H·[x, y, 1])` dehomogenised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [[f64; 3]; 3]);

impl Homography {
    /// The map taking each `from[i]` to `to[i]`; `None` when degenerate.
    pub fn from_quads(from: &[Point; 4], to: &[Point; 4]) -> Option<Self> {
        let mut a = [[0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = (f64::from(from[i].x), f64::from(from[i].y));
            let (u, v) = (f64::from(to[i].x), f64::from(to[i].y));
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gauss–Jordan with partial pivoting on the 8×8 system.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
            if a[pivot][col].abs() < 1e-10 {
                return None;
            }
            a.swap(col, pivot);
            let d = a[col][col];
            for v in &mut a[col] {
                *v /= d;
            }
            for r in 0..8 {
                if r != col {
                    let f = a[r][col];
                    if f != 0.0 {
                        let pivot_row = a[col];
                        for (v, p) in a[r].iter_mut().zip(pivot_row) {
                            *v -= f * p;
                        }
                    }
                }
            }
        }
        let h: Vec<f64> = a.iter().map(|row| row[8]).collect();
        Some(Self([
            [h[0], h[1], h[2]],
            [h[3], h[4], h[5]],
            [h[6], h[7], 1.0],
        ]))
    }

    pub fn apply(&self, p: Point) -> Point {
        let m = &self.0;
        let (x, y) = (f64::from(p.x), f64::from(p.y));
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        let w = if w.abs() < 1e-12 { 1e-12 } else { w };
        Point::new(
            ((m[0][0] * x + m[0][1] * y + m[0][2]) / w) as f32,
            ((m[1][0] * x + m[1][1] * y + m[1][2]) / w) as f32,
        )
    }
}

/// The page rectified: `width`×`height` pixels, each the bilinear sample of
/// the photo at its place on the page; outside the photo, black. Pixel
/// (i, j) covers [i, i+1) × [j, j+1) of the page's corners' frame.
pub fn rectify(image: &RgbImage, quad: &Quad, width: u32, height: u32) -> Option<RgbImage> {
    let (w, h) = (width as f32, height as f32);
    let rect = [
        Point::new(0.0, 0.0),
        Point::new(w, 0.0),
        Point::new(w, h),
        Point::new(0.0, h),
    ];
    let to_photo = Homography::from_quads(&rect, &quad.0)?;
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    if iw == 0 || ih == 0 {
        return None;
    }
    let raw = image.as_raw();
    // Photo pixels per page pixel, to average where the photo is finer.
    let step = (dist(quad.0[0], quad.0[1]) / w).max(dist(quad.0[0], quad.0[3]) / h);
    let taps = (step.ceil() as usize).clamp(1, 3);
    let mut out = RgbImage::new(width, height);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let mut acc = [0f32; 3];
        let mut n = 0;
        for ty in 0..taps {
            for tx in 0..taps {
                let p = to_photo.apply(Point::new(
                    x as f32 + (tx as f32 + 0.5) / taps as f32,
                    y as f32 + (ty as f32 + 0.5) / taps as f32,
                ));
                let (sx, sy) = (p.x - 0.5, p.y - 0.5);
                if sx < -0.5 || sy < -0.5 || sx > iw as f32 - 0.5 || sy > ih as f32 - 0.5 {
                    continue;
                }
                let (sx, sy) = (
                    sx.clamp(0.0, (iw - 1) as f32),
                    sy.clamp(0.0, (ih - 1) as f32),
                );
                let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let (x1, y1) = ((x0 + 1).min(iw - 1), (y0 + 1).min(ih - 1));
                for (c, a) in acc.iter_mut().enumerate() {
                    let v = |xx: usize, yy: usize| f32::from(raw[(yy * iw + xx) * 3 + c]);
                    let top = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
                    let bottom = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
                    *a += top * (1.0 - fy) + bottom * fy;
                }
                n += 1;
            }
        }
        if n > 0 {
            *px = image::Rgb(acc.map(|a| (a / n as f32).round().clamp(0.0, 255.0) as u8));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn close(a: Point, b: Point, tol: f32) -> bool {
        dist(a, b) <= tol
    }

    #[test]
    fn a_homography_maps_its_four_points() {
        let from = [
            Point::new(0.0, 0.0),
            Point::new(100.0, 0.0),
            Point::new(100.0, 70.0),
            Point::new(0.0, 70.0),
        ];
        let to = [
            Point::new(12.0, 30.0),
            Point::new(140.0, 22.0),
            Point::new(150.0, 120.0),
            Point::new(5.0, 110.0),
        ];
        let h = Homography::from_quads(&from, &to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            assert!(close(h.apply(*f), *t, 1e-3));
        }
        let collinear = [Point::new(0.0, 0.0); 4];
        assert!(Homography::from_quads(&collinear, &to).is_none());
    }

    #[test]
    fn containment_area_and_clipping() {
        let q = Quad([
            Point::new(10.0, 10.0),
            Point::new(110.0, 10.0),
            Point::new(110.0, 60.0),
            Point::new(10.0, 60.0),
        ]);
        assert!((q.area() - 5000.0).abs() < 1e-3);
        assert!(q.contains(Point::new(50.0, 30.0), 0.0));
        assert!(!q.contains(Point::new(5.0, 30.0), 0.0));
        assert!(q.contains(Point::new(8.0, 30.0), 3.0));
        // Half of it beyond the right border of a 60-wide image.
        assert!((clipped_area(&q, 60.0, 100.0) - 2500.0).abs() < 1e-2);
        assert!(convex(&q));
        let bow = Quad([q.0[0], q.0[2], q.0[1], q.0[3]]);
        assert!(!convex(&bow));
    }

    #[test]
    fn upright_order_starts_top_left_whatever_the_input_order() {
        let tl = Point::new(20.0, 10.0);
        let tr = Point::new(120.0, 20.0);
        let br = Point::new(115.0, 80.0);
        let bl = Point::new(15.0, 70.0);
        let axis = {
            let l = dist(tl, tr);
            Point::new((tr.x - tl.x) / l, (tr.y - tl.y) / l)
        };
        let e = |s: f32| SideEvidence::Edge { support: s };
        // Counter-clockwise, starting at the bottom right; side i joins
        // corner i and i+1: br→tr (right), tr→tl (top), tl→bl (left), bl→br (bottom).
        let (q, sides) = upright(
            &Quad([br, tr, tl, bl]),
            [e(0.2), e(0.1), e(0.4), e(0.3)],
            axis,
        );
        assert_eq!(q.0, [tl, tr, br, bl]);
        assert_eq!(sides, [e(0.1), e(0.2), e(0.3), e(0.4)]);
    }

    /// A light page on a darker, textured table, with text-like strokes
    /// inside, rotated and in perspective.
    fn scene(corners: &[Point; 4], w: u32, h: u32) -> RgbImage {
        let q = Quad(*corners);
        let mut img = RgbImage::from_fn(w, h, |x, y| {
            let t = ((x * 7 + y * 13) % 17) as u8;
            image::Rgb([90 + t, 70 + t, 50])
        });
        let to_page = Homography::from_quads(
            corners,
            &[
                Point::new(0.0, 0.0),
                Point::new(1.0, 0.0),
                Point::new(1.0, 1.0),
                Point::new(0.0, 1.0),
            ],
        )
        .unwrap();
        for (x, y, px) in img.enumerate_pixels_mut() {
            let p = Point::new(x as f32 + 0.5, y as f32 + 0.5);
            if q.contains(p, 0.0) {
                let u = to_page.apply(p);
                let stroke = (0.1..0.9).contains(&u.x)
                    && ((u.y * 10.0).fract() < 0.25)
                    && (0.2..0.9).contains(&u.y);
                *px = if stroke {
                    image::Rgb([30, 30, 40])
                } else {
                    image::Rgb([225, 228, 235])
                };
            }
        }
        img
    }

    fn text_lines(corners: &[Point; 4]) -> Vec<TextBox> {
        let to_photo = Homography::from_quads(
            &[
                Point::new(0.0, 0.0),
                Point::new(1.0, 0.0),
                Point::new(1.0, 1.0),
                Point::new(0.0, 1.0),
            ],
            corners,
        )
        .unwrap();
        (2..9)
            .map(|k| {
                let y = k as f32 / 10.0 + 0.0125;
                let a = to_photo.apply(Point::new(0.1, y));
                let b = to_photo.apply(Point::new(0.9, y));
                let l = dist(a, b);
                TextBox {
                    center: Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0),
                    axis: Point::new((b.x - a.x) / l, (b.y - a.y) / l),
                    length: l,
                    height: 6.0,
                    score: 0.9,
                }
            })
            .collect()
    }

    #[test]
    fn finds_a_tilted_page_in_perspective() {
        let corners = [
            Point::new(180.0, 140.0),
            Point::new(640.0, 190.0),
            Point::new(600.0, 500.0),
            Point::new(150.0, 440.0),
        ];
        let img = scene(&corners, 800, 600);
        let page = locate(&img, &text_lines(&corners), &PageSettings::default()).unwrap();
        for (got, want) in page.quad.0.iter().zip(&corners) {
            assert!(close(*got, *want, 6.0), "{:?} vs {corners:?}", page.quad);
        }
        assert!(page.closed(), "{:?}", page.sides);
        assert!(!page.cut_off(800, 600, 2.0));
        assert_eq!(page.text_lines, 7);
    }

    #[test]
    fn a_page_over_the_border_is_cut_off() {
        let corners = [
            Point::new(300.0, 150.0),
            Point::new(950.0, 150.0),
            Point::new(950.0, 560.0),
            Point::new(300.0, 560.0),
        ];
        let img = scene(&corners, 800, 600);
        let visible: Vec<TextBox> = text_lines(&corners)
            .into_iter()
            .map(|mut b| {
                // The detector sees each line up to the border.
                let right = (b.center.x + b.length / 2.0).min(799.0);
                let left = b.center.x - b.length / 2.0;
                b.length = right - left;
                b.center.x = (left + right) / 2.0;
                b
            })
            .collect();
        let page = locate(&img, &visible, &PageSettings::default()).unwrap();
        assert!(page.cut_off(800, 600, 2.0), "{page:?}");
        assert_eq!(page.sides[1], SideEvidence::ImageBorder, "{page:?}");
    }

    #[test]
    fn text_without_edges_gets_a_page_around_it() {
        let img = RgbImage::from_pixel(400, 300, image::Rgb([200, 200, 200]));
        let corners = [
            Point::new(100.0, 80.0),
            Point::new(300.0, 80.0),
            Point::new(300.0, 220.0),
            Point::new(100.0, 220.0),
        ];
        let page = locate(&img, &text_lines(&corners), &PageSettings::default()).unwrap();
        assert_eq!(page.sides, [SideEvidence::Content; 4]);
        assert!(page.quad.contains(Point::new(200.0, 150.0), 0.0));
        assert!(locate(&img, &[], &PageSettings::default()).is_none());
    }

    #[test]
    fn rectifying_an_axis_aligned_page_is_a_crop() {
        let img = RgbImage::from_fn(100, 80, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let q = Quad([
            Point::new(10.0, 20.0),
            Point::new(60.0, 20.0),
            Point::new(60.0, 50.0),
            Point::new(10.0, 50.0),
        ]);
        let r = rectify(&img, &q, 50, 30).unwrap();
        assert_eq!(r.get_pixel(0, 0).0, [10, 20, 7]);
        assert_eq!(r.get_pixel(49, 29).0, [59, 49, 7]);
    }
}
