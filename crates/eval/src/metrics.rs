//! Verification metrics on similarity scores (higher = more alike).

use serde::Serialize;

/// A scored pair: its similarity and whether it is the same person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub score: f32,
    pub same: bool,
}

/// Accuracy of deciding `score >= threshold` ⇒ same.
pub fn accuracy(pairs: &[Scored], threshold: f32) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let correct = pairs
        .iter()
        .filter(|p| (p.score >= threshold) == p.same)
        .count();
    correct as f64 / pairs.len() as f64
}

/// The threshold that maximises accuracy on `pairs`: every midpoint between
/// consecutive distinct scores is a candidate (ties broken towards the
/// middle of the best range, so the choice does not hug one sample).
pub fn best_threshold(pairs: &[Scored]) -> f32 {
    let mut sorted: Vec<Scored> = pairs
        .iter()
        .copied()
        .filter(|p| p.score.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    if sorted.is_empty() {
        return 0.0;
    }
    // Sweep upwards: below the threshold every pair is called "different".
    let positives = sorted.iter().filter(|p| p.same).count() as i64;
    let mut correct = positives
        + pairs
            .iter()
            .filter(|p| !p.same && !p.score.is_finite())
            .count() as i64;
    let mut best = (correct, sorted[0].score - 1.0, sorted[0].score - 1.0);
    let mut i = 0;
    while i < sorted.len() {
        let value = sorted[i].score;
        while i < sorted.len() && sorted[i].score == value {
            correct += if sorted[i].same { -1 } else { 1 };
            i += 1;
        }
        let next = sorted.get(i).map_or(value + 1.0, |p| p.score);
        let candidate = (value + next) / 2.0;
        if correct > best.0 {
            best = (correct, candidate, candidate);
        } else if correct == best.0 {
            best.2 = candidate;
        }
    }
    (best.1 + best.2) / 2.0
}

/// One fold of a k-fold evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    pub fold: usize,
    /// Chosen on the other folds.
    pub threshold: f32,
    pub accuracy: f64,
    pub pairs: usize,
}

/// k-fold accuracy: for each fold, the threshold is chosen on all other
/// folds and applied to this one. Returns the folds, the mean and the
/// population standard deviation (ddof = 0, as insightface and facenet).
pub fn k_fold_accuracy(pairs: &[(usize, Scored)]) -> (Vec<Fold>, f64, f64) {
    let mut fold_ids: Vec<usize> = pairs.iter().map(|(f, _)| *f).collect();
    fold_ids.sort_unstable();
    fold_ids.dedup();
    let folds: Vec<Fold> = fold_ids
        .iter()
        .map(|&fold| {
            let train: Vec<Scored> = pairs
                .iter()
                .filter(|(f, _)| *f != fold)
                .map(|(_, s)| *s)
                .collect();
            let test: Vec<Scored> = pairs
                .iter()
                .filter(|(f, _)| *f == fold)
                .map(|(_, s)| *s)
                .collect();
            let threshold = best_threshold(&train);
            Fold {
                fold,
                threshold,
                accuracy: accuracy(&test, threshold),
                pairs: test.len(),
            }
        })
        .collect();
    let n = folds.len().max(1) as f64;
    let mean = folds.iter().map(|f| f.accuracy).sum::<f64>() / n;
    let var = folds
        .iter()
        .map(|f| (f.accuracy - mean).powi(2))
        .sum::<f64>()
        / n;
    (folds, mean, var.sqrt())
}

/// The threshold at which a fraction `fmr` of impostor scores is accepted:
/// the (k+1)-th highest impostor score with k = ⌊fmr·n⌋, so that at most k
/// impostors score strictly above it. `impostors` is reordered.
pub fn threshold_at_fmr(impostors: &mut [f32], fmr: f64) -> Option<f32> {
    if impostors.is_empty() {
        return None;
    }
    let k = ((fmr * impostors.len() as f64).floor() as usize).min(impostors.len() - 1);
    let (_, kth, _) = impostors.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
    Some(*kth)
}

/// Fraction of `scores` strictly above `threshold`.
pub fn rate_above(scores: &[f32], threshold: f32) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s > threshold).count() as f64 / scores.len() as f64
}

/// A point of the ROC curve.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RocPoint {
    pub fmr: f64,
    pub tar: f64,
    pub threshold: f32,
}

/// ROC points at log-spaced false-match rates from `min_fmr` to 1.
/// `impostors` must be sorted in descending order.
pub fn roc(
    genuine: &[f32],
    impostors_desc: &[f32],
    min_fmr: f64,
    per_decade: usize,
) -> Vec<RocPoint> {
    let n = impostors_desc.len();
    if n == 0 {
        return Vec::new();
    }
    let mut genuine_desc = genuine.to_vec();
    genuine_desc.sort_by(|a, b| b.total_cmp(a));
    let decades = (-min_fmr.log10()).ceil() as usize;
    (0..=decades * per_decade)
        .map(|i| 10f64.powf(-(decades as f64) + i as f64 / per_decade as f64))
        .filter(|&fmr| fmr >= 1.0 / n as f64)
        .map(|fmr| {
            let k = ((fmr * n as f64).floor() as usize).min(n - 1);
            let threshold = impostors_desc[k];
            let accepted = genuine_desc.partition_point(|&g| g > threshold);
            RocPoint {
                fmr,
                tar: accepted as f64 / genuine_desc.len().max(1) as f64,
                threshold,
            }
        })
        .collect()
}

/// Wilson score interval (95 %) for a proportion of `successes` in `n`.
pub fn wilson_interval(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964f64;
    let nf = n as f64;
    let p = successes as f64 / nf;
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * ((p * (1.0 - p) / nf) + z * z / (4.0 * nf * nf)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(score: f32, same: bool) -> Scored {
        Scored { score, same }
    }

    #[test]
    fn the_best_threshold_separates_separable_scores() {
        let pairs = [s(0.1, false), s(0.2, false), s(0.8, true), s(0.9, true)];
        let t = best_threshold(&pairs);
        assert!(t > 0.2 && t < 0.8, "{t}");
        assert_eq!(accuracy(&pairs, t), 1.0);
    }

    #[test]
    fn k_fold_uses_thresholds_from_the_other_folds() {
        let mut pairs = Vec::new();
        for fold in 1..=3 {
            pairs.push((fold, s(0.9, true)));
            pairs.push((fold, s(0.1, false)));
        }
        // Fold 3 holds a hard pair its own threshold would fit.
        pairs.push((3, s(0.05, true)));
        let (folds, mean, _) = k_fold_accuracy(&pairs);
        assert_eq!(folds.len(), 3);
        assert!((folds[2].accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!(mean < 1.0);
    }

    #[test]
    fn threshold_at_fmr_accepts_at_most_that_many_impostors() {
        let mut impostors: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
        let t = threshold_at_fmr(&mut impostors, 1e-3).unwrap_or(f32::NAN);
        let accepted = impostors.iter().filter(|&&v| v > t).count();
        assert_eq!(accepted, 10);
    }

    #[test]
    fn roc_is_monotone() {
        let genuine: Vec<f32> = (0..100).map(|i| 0.5 + i as f32 / 200.0).collect();
        let mut impostors: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
        impostors.sort_by(|a, b| b.total_cmp(a));
        let points = roc(&genuine, &impostors, 1e-4, 5);
        assert!(points
            .windows(2)
            .all(|w| w[0].fmr < w[1].fmr && w[0].tar <= w[1].tar));
        assert!(points.last().is_some_and(|p| (p.tar - 1.0).abs() < 1e-9));
    }

    #[test]
    fn wilson_interval_contains_the_estimate() {
        let (lo, hi) = wilson_interval(0, 88);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.03 && hi < 0.06);
        let (lo, hi) = wilson_interval(50, 100);
        assert!(lo < 0.5 && hi > 0.5);
    }
}
