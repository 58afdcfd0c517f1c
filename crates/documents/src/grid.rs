//! A zone line's cells along its crop. The zone is printed at a fixed
//! pitch, so cell `n`'s centre lies at `x(n) = (a + b·n) / (1 + c·n)`
//! along the line (a straight row of equal cells seen in perspective: a
//! one-dimensional homography; `c = 0` for a line seen square on). The
//! recogniser's characters give the points; those it dropped or doubled
//! put the characters after them in the wrong cells, which the fit
//! leaves out as outliers (a consensus over triples of points, then least
//! squares on the points that agree).

/// Cell centre positions along a line, in the unit of the points fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub a: f32,
    pub b: f32,
    pub c: f32,
}

/// A point agrees with a grid when it lies within this fraction of the
/// local pitch from its cell's centre.
pub const AGREE: f32 = 0.3;

impl Grid {
    /// Where cell `n` (fractional: `n - 0.5` is its left edge) lies.
    pub fn at(&self, n: f32) -> f32 {
        (self.a + self.b * n) / (1.0 + self.c * n)
    }

    /// The (fractional) cell at position `x`: the inverse of [`Grid::at`].
    pub fn cell_of(&self, x: f32) -> Option<f32> {
        let d = self.b - self.c * x;
        (d.abs() > 1e-9).then(|| (x - self.a) / d)
    }

    /// The pitch (distance from cell to cell) at cell `n`.
    pub fn pitch(&self, n: f32) -> f32 {
        // d/dn (a + b n) / (1 + c n) = (b - a c) / (1 + c n)².
        let d = 1.0 + self.c * n;
        (self.b - self.a * self.c) / (d * d)
    }

    /// How far `x` is from cell `n`'s centre, in pitches.
    pub fn misfit(&self, n: f32, x: f32) -> f32 {
        (x - self.at(n)).abs() / self.pitch(n).abs().max(1e-6)
    }

    /// The grid through three points `(n, x)`, if they determine one that
    /// increases along the line.
    fn through(p: [(f32, f32); 3]) -> Option<Self> {
        // a + b n - c n x = x, three equations.
        let rows: Vec<[f64; 4]> = p
            .iter()
            .map(|&(n, x)| {
                let (n, x) = (f64::from(n), f64::from(x));
                [1.0, n, -n * x, x]
            })
            .collect();
        let sol = solve3([rows[0], rows[1], rows[2]])?;
        Self::checked(sol)
    }

    fn checked(sol: [f64; 3]) -> Option<Self> {
        let g = Self {
            a: sol[0] as f32,
            b: sol[1] as f32,
            c: sol[2] as f32,
        };
        (g.a.is_finite() && g.b.is_finite() && g.c.is_finite()).then_some(g)
    }

    /// Least squares on `(n, x, weight)` points (the linearised equation,
    /// weighted by the inverse local pitch squared so each point counts in
    /// pitches).
    fn least_squares(points: &[(f32, f32, f32)], prior: &Grid) -> Option<Self> {
        let mut ata = [[0f64; 3]; 3];
        let mut atb = [0f64; 3];
        for &(n, x, w) in points {
            let (nf, xf) = (f64::from(n), f64::from(x));
            // The linearised residual is (1 + c n) times the true one.
            let scale = f64::from((1.0 + prior.c * n) / prior.pitch(n).abs().max(1e-6));
            let row = [1.0, nf, -nf * xf];
            let w = f64::from(w) * scale * scale;
            for i in 0..3 {
                for j in 0..3 {
                    ata[i][j] += w * row[i] * row[j];
                }
                atb[i] += w * row[i] * xf;
            }
        }
        let sol = solve3([
            [ata[0][0], ata[0][1], ata[0][2], atb[0]],
            [ata[1][0], ata[1][1], ata[1][2], atb[1]],
            [ata[2][0], ata[2][1], ata[2][2], atb[2]],
        ])?;
        Self::checked(sol)
    }

    /// Whether the grid is a plausible row of `cells` cells: increasing,
    /// without a pole among them, its pitch changing by at most 2.5 times
    /// from one end to the other.
    pub fn plausible(&self, cells: usize) -> bool {
        let last = cells.saturating_sub(1) as f32;
        let (d0, d1) = (1.0 - self.c, 1.0 + self.c * (last + 1.0));
        if d0 <= 0.0 || d1 <= 0.0 {
            return false;
        }
        let (p0, p1) = (self.pitch(0.0), self.pitch(last));
        p0 > 0.0 && p1 > 0.0 && p0.max(p1) <= 2.5 * p0.min(p1)
    }
}

/// The grid most of `points` (`(cell, position, weight)`) agree with, and
/// which agree. `cells` is the line's width. None when fewer than
/// `min_agree` (or three) points agree with any grid.
pub fn fit(
    points: &[(f32, f32, f32)],
    cells: usize,
    min_agree: usize,
) -> Option<(Grid, Vec<bool>)> {
    let n = points.len();
    if n < 3 || n < min_agree {
        return None;
    }
    // Triples from the three thirds of the line (in point order), at most
    // about 12 from each: the consensus is the grid agreeing with the most
    // weight.
    let third = n.div_ceil(3);
    let pick = |lo: usize, hi: usize| -> Vec<usize> {
        let hi = hi.min(n);
        let step = (hi.saturating_sub(lo)).div_ceil(12).max(1);
        (lo..hi).step_by(step).collect()
    };
    let (first, middle, last) = (pick(0, third), pick(third, 2 * third), pick(2 * third, n));
    let mut best: Option<(f32, Grid)> = None;
    for &i in &first {
        for &j in &middle {
            for &k in &last {
                let (pi, pj, pk) = (points[i], points[j], points[k]);
                if pi.0 >= pj.0 || pj.0 >= pk.0 {
                    continue;
                }
                let Some(g) = Grid::through([(pi.0, pi.1), (pj.0, pj.1), (pk.0, pk.1)]) else {
                    continue;
                };
                if !g.plausible(cells) {
                    continue;
                }
                let support: f32 = points
                    .iter()
                    .filter(|&&(c, x, _)| g.misfit(c, x) <= AGREE)
                    .map(|&(_, _, w)| w)
                    .sum();
                if best.is_none_or(|(s, _)| support > s) {
                    best = Some((support, g));
                }
            }
        }
    }
    let (_, mut grid) = best?;
    for _ in 0..3 {
        let inliers: Vec<(f32, f32, f32)> = points
            .iter()
            .filter(|&&(c, x, _)| grid.misfit(c, x) <= AGREE)
            .copied()
            .collect();
        if inliers.len() < 3 {
            return None;
        }
        match Grid::least_squares(&inliers, &grid) {
            Some(g) if g.plausible(cells) => grid = g,
            _ => break,
        }
    }
    let agree: Vec<bool> = points
        .iter()
        .map(|&(c, x, _)| grid.misfit(c, x) <= AGREE)
        .collect();
    let count = agree.iter().filter(|&&a| a).count();
    (count >= min_agree.max(3)).then_some((grid, agree))
}

/// Solves a 3×3 system given as augmented rows (Gaussian elimination with
/// partial pivoting).
fn solve3(mut m: [[f64; 4]; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&r, &s| m[r][col].abs().total_cmp(&m[s][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        for r in 0..3 {
            if r != col {
                let f = m[r][col] / m[col][col];
                let pivot_row = m[col];
                for (v, p) in m[r].iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Some([m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_row_seen_in_perspective_is_fitted_and_shifted_cells_left_out() {
        let truth = Grid {
            a: 10.0,
            b: 4.0,
            c: 0.01,
        };
        // 44 cells; the characters of cells 20..24 were read two cells
        // early (two characters dropped before them).
        let points: Vec<(f32, f32, f32)> = (0..44)
            .map(|n| {
                let at = if (20..24).contains(&n) { n + 2 } else { n };
                (n as f32, truth.at(at as f32) + 0.2, 1.0)
            })
            .collect();
        let (grid, agree) = fit(&points, 44, 20).unwrap();
        for (n, &agreed) in agree.iter().enumerate() {
            assert_eq!(agreed, !(20..24).contains(&n), "cell {n}");
            let x = grid.at(n as f32);
            assert!((grid.cell_of(x).unwrap() - n as f32).abs() < 1e-3);
            assert!((grid.at(n as f32) - truth.at(n as f32) - 0.2).abs() < 0.05);
        }
    }

    #[test]
    fn too_few_agreeing_points_give_no_grid() {
        let points: Vec<(f32, f32, f32)> = (0..10)
            .map(|n| (n as f32, ((n * 37) % 11) as f32 * 5.0, 1.0))
            .collect();
        assert!(fit(&points, 10, 8).is_none());
    }

    proptest! {
        #[test]
        fn fit_never_panics(xs in proptest::collection::vec(-100f32..100.0, 0..50)) {
            let points: Vec<(f32, f32, f32)> =
                xs.iter().enumerate().map(|(i, &x)| (i as f32, x, 1.0)).collect();
            let _ = fit(&points, 44, 3);
        }
    }
}
