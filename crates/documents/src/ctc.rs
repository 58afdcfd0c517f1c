//! Decoding the recogniser's per-frame probabilities (CTC: a blank class,
//! repeats merged) into zone text.
//!
//! [`greedy`] is the free reading (its length tells which format a line
//! belongs to). [`forced`] is the reading a zone line gets: the most
//! probable path that emits exactly the format's number of characters, each
//! one its cell may hold ([`facegate_domain::mrz::MrzFormat::cell`]). A
//! zone is a fixed grid, so the count is known; the recogniser sometimes
//! drops or doubles a character in a run of fillers, which the free reading
//! cannot recover and the forced one does. Each position also reports the
//! other admissible characters the recogniser found plausible there, which
//! the domain may use to repair a cell a check digit disproves.

/// Probabilities of one line: `frames` rows of `1 + 37` values, class 0 the
/// blank, then the zone characters in [`facegate_domain::mrz::MRZ_ALPHABET`]
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    pub frames: usize,
    pub probs: Vec<f32>,
}

/// Classes per frame: the blank and the 37 zone characters.
pub const CLASSES: usize = 38;

impl Frames {
    fn p(&self, t: usize, class: usize) -> f32 {
        self.probs[t * CLASSES + class]
    }
}

/// A decoded line: for each character, its class (1..=37), its peak
/// probability and the other admissible characters found plausible.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub classes: Vec<usize>,
    pub peaks: Vec<f32>,
    /// Per character, its largest share of what its cell may hold (the
    /// blank and the admissible characters) at one of its frames: low when
    /// the decoding put a character where the recogniser saw none, high
    /// when the recogniser preferred a character the cell cannot hold and
    /// this one came next.
    pub shares: Vec<f32>,
    /// Alternative classes per character with their peak probabilities,
    /// most probable first.
    pub alternatives: Vec<Vec<(usize, f32)>>,
    /// Per character, the first and last frame the path spends in it.
    pub spans: Vec<(usize, usize)>,
}

/// Best class per frame, repeats merged, blanks dropped.
pub fn greedy(frames: &Frames) -> Vec<usize> {
    let mut out = Vec::new();
    let mut previous = 0;
    for t in 0..frames.frames {
        let row = &frames.probs[t * CLASSES..(t + 1) * CLASSES];
        let best = (0..CLASSES)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        if best != 0 && best != previous {
            out.push(best);
        }
        previous = best;
    }
    out
}

/// The free reading with where each character is: per character its
/// class, its centre frame (the probability-weighted mean of the frames of
/// its run) and its peak probability.
pub fn greedy_spikes(frames: &Frames) -> Vec<(usize, f32, f32)> {
    let mut out: Vec<(usize, f32, f32)> = Vec::new();
    let mut previous = 0;
    let (mut sum, mut weight) = (0.0f32, 0.0f32);
    for t in 0..frames.frames {
        let row = &frames.probs[t * CLASSES..(t + 1) * CLASSES];
        let best = (0..CLASSES)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        if best != previous {
            if let Some(last) = out.last_mut().filter(|_| previous != 0) {
                last.1 = sum / weight.max(1e-12);
            }
            if best != 0 {
                out.push((best, t as f32, row[best]));
                (sum, weight) = (0.0, 0.0);
            }
        }
        if best != 0 {
            sum += row[best] * t as f32;
            weight += row[best];
            if let Some(last) = out.last_mut() {
                last.2 = last.2.max(row[best]);
            }
        }
        previous = best;
    }
    if let Some(last) = out.last_mut().filter(|_| previous != 0) {
        last.1 = sum / weight.max(1e-12);
    }
    out
}

/// The centre frame of each decoded character: the probability-weighted
/// mean of the frames of its span.
pub fn centres(frames: &Frames, decoded: &Decoded) -> Vec<f32> {
    decoded
        .spans
        .iter()
        .zip(&decoded.classes)
        .map(|(&(start, end), &class)| {
            let end = end.min(frames.frames.saturating_sub(1));
            let (mut sum, mut weight) = (0.0f32, 0.0f32);
            for t in start..=end {
                let p = frames.p(t, class);
                sum += p * t as f32;
                weight += p;
            }
            if weight > 0.0 {
                sum / weight
            } else {
                (start + end) as f32 / 2.0
            }
        })
        .collect()
}

/// An alternative is offered when its probability reaches this at the
/// frames of the character.
pub const ALTERNATIVE_MIN: f32 = 0.02;
/// At most this many alternatives per character.
pub const MAX_ALTERNATIVES: usize = 3;

const NEG: f32 = f32::NEG_INFINITY;
const FROM_BLANK: u8 = 255;
const REPEAT: u8 = 254;

/// The most probable CTC path emitting exactly `allowed.len()` characters,
/// character `n` among `allowed[n]` (37 flags, zone-character order). None
/// when no such path exists (too few frames, a position with nothing
/// allowed).
pub fn forced(frames: &Frames, allowed: &[[bool; 37]]) -> Option<Decoded> {
    forced_within(frames, allowed, None)
}

/// [`forced`], each character `n` emitted only at frames within
/// `windows[n]` (inclusive) when windows are given: where the zone's grid
/// puts its cell. A character the recogniser dropped then leaves its cell
/// with what the recogniser saw there (a blank: an unread cell) instead of
/// shifting the characters after it into the wrong cells.
pub fn forced_within(
    frames: &Frames,
    allowed: &[[bool; 37]],
    windows: Option<&[(usize, usize)]>,
) -> Option<Decoded> {
    let t_len = frames.frames;
    let n_len = allowed.len();
    if n_len == 0 || t_len < n_len || allowed.iter().any(|a| !a.contains(&true)) {
        return None;
    }
    if windows.is_some_and(|w| w.len() != n_len) {
        return None;
    }
    // Whether character n (1-based) may be emitted at frame t.
    let open = |n: usize, t: usize| {
        windows.is_none_or(|w| {
            let (lo, hi) = w[n - 1];
            (lo..=hi).contains(&t)
        })
    };
    let lp = |t: usize, class: usize| frames.p(t, class).max(1e-12).ln();
    let k = 37;
    // b[n]: best score with n characters emitted, now in a blank.
    // c[n * k + j]: best score with n characters emitted, the last being j,
    // still in it. Back-pointers per frame.
    let mut b = vec![NEG; n_len + 1];
    let mut c = vec![NEG; (n_len + 1) * k];
    let mut back_b = vec![FROM_BLANK; t_len * (n_len + 1)];
    let mut back_c = vec![FROM_BLANK; t_len * (n_len + 1) * k];
    b[0] = lp(0, 0);
    for j in 0..k {
        if allowed[0][j] && open(1, 0) {
            c[k + j] = lp(0, j + 1);
        }
    }
    let mut nb = vec![NEG; n_len + 1];
    let mut nc = vec![NEG; (n_len + 1) * k];
    for t in 1..t_len {
        let blank = lp(t, 0);
        for n in 0..=n_len {
            // Into a blank: from a blank, or from the character n.
            let mut best = b[n];
            let mut from = FROM_BLANK;
            if n > 0 {
                for j in 0..k {
                    if c[n * k + j] > best {
                        best = c[n * k + j];
                        from = j as u8;
                    }
                }
            }
            nb[n] = best + blank;
            back_b[t * (n_len + 1) + n] = from;
        }
        nc[..k].fill(NEG);
        for n in 1..=n_len {
            // The two best "previous character" states, for a new
            // character directly after a different one.
            let (mut best1, mut arg1, mut best2, mut arg2) = (NEG, 0usize, NEG, 0usize);
            if n > 1 {
                for j in 0..k {
                    let v = c[(n - 1) * k + j];
                    if v > best1 {
                        (best2, arg2) = (best1, arg1);
                        (best1, arg1) = (v, j);
                    } else if v > best2 {
                        (best2, arg2) = (v, j);
                    }
                }
            }
            for j in 0..k {
                let slot = n * k + j;
                if !allowed[n - 1][j] || !open(n, t) {
                    nc[slot] = NEG;
                    continue;
                }
                let mut best = c[slot];
                let mut from = REPEAT;
                if b[n - 1] > best {
                    best = b[n - 1];
                    from = FROM_BLANK;
                }
                let (other, other_arg) = if arg1 == j {
                    (best2, arg2)
                } else {
                    (best1, arg1)
                };
                if other > best {
                    best = other;
                    from = other_arg as u8;
                }
                nc[slot] = best + lp(t, j + 1);
                back_c[(t * (n_len + 1) + n) * k + j] = from;
            }
        }
        std::mem::swap(&mut b, &mut nb);
        std::mem::swap(&mut c, &mut nc);
    }

    // The best end state, then back along the pointers.
    let mut state: Option<usize> = None; // None: in a blank; Some(j): in character j
    let mut best = b[n_len];
    for j in 0..k {
        if c[n_len * k + j] > best {
            best = c[n_len * k + j];
            state = Some(j);
        }
    }
    if !best.is_finite() {
        return None;
    }
    let mut classes = vec![0usize; n_len];
    let mut spans = vec![(usize::MAX, 0usize); n_len];
    let mut n = n_len;
    for t in (0..t_len).rev() {
        match state {
            None => {
                let from = back_b[t * (n_len + 1) + n];
                state = (from != FROM_BLANK).then_some(usize::from(from));
            }
            Some(j) => {
                let pos = n.checked_sub(1)?;
                classes[pos] = j + 1;
                spans[pos] = (spans[pos].0.min(t), spans[pos].1.max(t));
                let from = back_c[(t * (n_len + 1) + n) * k + j];
                match from {
                    REPEAT => {}
                    FROM_BLANK => {
                        n -= 1;
                        state = None;
                    }
                    prev => {
                        n -= 1;
                        state = Some(usize::from(prev));
                    }
                }
            }
        }
    }
    if n != 0 {
        return None;
    }

    let mut peaks = Vec::with_capacity(n_len);
    let mut shares = Vec::with_capacity(n_len);
    let mut alternatives = Vec::with_capacity(n_len);
    for (pos, &(start, end)) in spans.iter().enumerate() {
        let (lo, hi) = (start.saturating_sub(1), (end + 1).min(t_len - 1));
        let peak = |class: usize| (lo..=hi).map(|t| frames.p(t, class)).fold(0.0f32, f32::max);
        peaks.push(peak(classes[pos]));
        shares.push(
            (start..=end.min(t_len - 1))
                .map(|t| {
                    let admissible: f32 = frames.p(t, 0)
                        + (0..k)
                            .filter(|&j| allowed[pos][j])
                            .map(|j| frames.p(t, j + 1))
                            .sum::<f32>();
                    frames.p(t, classes[pos]) / admissible.max(1e-12)
                })
                .fold(0.0f32, f32::max),
        );
        let mut alts: Vec<(usize, f32)> = (0..k)
            .filter(|&j| allowed[pos][j] && j + 1 != classes[pos])
            .map(|j| (j + 1, peak(j + 1)))
            .filter(|&(_, p)| p >= ALTERNATIVE_MIN)
            .collect();
        alts.sort_by(|a, b| b.1.total_cmp(&a.1));
        alts.truncate(MAX_ALTERNATIVES);
        alternatives.push(alts);
    }
    Some(Decoded {
        classes,
        peaks,
        shares,
        alternatives,
        spans,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    /// Frames that say `path` (0 = blank) with probability `p` each.
    fn frames(path: &[usize], p: f32) -> Frames {
        let mut probs = Vec::new();
        for &class in path {
            let mut row = vec![(1.0 - p) / (CLASSES - 1) as f32; CLASSES];
            row[class] = p;
            probs.extend(row);
        }
        Frames {
            frames: path.len(),
            probs,
        }
    }

    const ALL: [bool; 37] = [true; 37];

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        let f = frames(&[0, 5, 5, 0, 5, 7, 7, 0], 0.9);
        assert_eq!(greedy(&f), vec![5, 5, 7]);
    }

    #[test]
    fn forced_reads_what_greedy_reads_when_the_count_agrees() {
        let f = frames(&[0, 5, 5, 0, 5, 7, 7, 0], 0.9);
        let d = forced(&f, &[ALL; 3]).unwrap();
        assert_eq!(d.classes, vec![5, 5, 7]);
        assert!(d.peaks.iter().all(|&p| (p - 0.9).abs() < 1e-6));
    }

    #[test]
    fn forced_restores_a_dropped_repeat_from_the_weakest_blank() {
        // "<<<" with the blank between two fillers missing: greedy reads
        // "<<", the grid needs three.
        let filler = 37;
        let mut f = frames(&[filler, 0, filler, filler, filler, 0], 0.9);
        // Frame 3 is a weak blank in truth.
        let row = &mut f.probs[3 * CLASSES..4 * CLASSES];
        row[0] = 0.4;
        row[filler] = 0.5;
        assert_eq!(greedy(&f).len(), 2);
        let d = forced(&f, &[ALL; 3]).unwrap();
        assert_eq!(d.classes, vec![filler; 3]);
    }

    #[test]
    fn forced_keeps_to_the_cells_grammar_and_offers_the_runner_up() {
        // One frame: 'O' (class 25) 0.6, '0' (class 1) 0.3.
        let mut f = frames(&[0, 25, 0], 0.6);
        f.probs[CLASSES + 1] = 0.3;
        let mut digits = [false; 37];
        digits[..10].fill(true);
        let d = forced(&f, &[digits]).unwrap();
        assert_eq!(d.classes, vec![1]);
        let d = forced(&f, &[ALL]).unwrap();
        assert_eq!(d.classes, vec![25]);
        assert_eq!(d.alternatives[0][0].0, 1);
    }

    #[test]
    fn forced_needs_a_frame_per_character() {
        assert_eq!(forced(&frames(&[5, 6], 0.9), &[ALL; 3]), None);
        assert_eq!(forced(&frames(&[5, 6], 0.9), &[[false; 37]]), None);
    }

    proptest! {
        #[test]
        fn forced_emits_the_asked_count_within_the_grammar(
            raw in proptest::collection::vec(0.0f32..1.0, CLASSES * 4..CLASSES * 40),
            n in 1usize..6,
            mask in proptest::collection::vec(any::<bool>(), 37),
        ) {
            let t = raw.len() / CLASSES;
            let f = Frames { frames: t, probs: raw[..t * CLASSES].to_vec() };
            let mut allowed = [false; 37];
            for (a, &m) in allowed.iter_mut().zip(&mask) { *a = m; }
            allowed[36] = true;
            if let Some(d) = forced(&f, &vec![allowed; n]) {
                prop_assert_eq!(d.classes.len(), n);
                prop_assert!(d.classes.iter().all(|&c| allowed[c - 1]));
            } else {
                prop_assert!(t < n);
            }
        }
    }
}
