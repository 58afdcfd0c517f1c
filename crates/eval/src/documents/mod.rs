//! The document engine measured on generated documents: the engine behind
//! `facegate eval documents`. Two parts:
//!
//! - [`portrait`]: the document portrait against live faces over LFW, the
//!   operating point an ID verification's selfie comparison is decided at
//!   (`models/document_thresholds.json`), with the portrait detection rate;
//! - [`reading`]: per `tools/docgen` effect, the MRZ full-read rate and
//!   field accuracy, the document-face detection rate and the time per
//!   document side.
//!
//! Documents are rendered at evaluation time by `facegate-docgen` from
//! seeds, so a run is reproducible and nothing is stored.

pub mod portrait;
pub mod reading;

use std::path::PathBuf;

use serde::Serialize;

use crate::lfw::LfwError;
use crate::metrics::wilson_interval;

#[derive(Debug, thiserror::Error)]
pub enum DocumentEvalError {
    #[error(transparent)]
    Lfw(#[from] LfwError),
    #[error(transparent)]
    Vision(#[from] facegate_vision::VisionError),
    #[error(transparent)]
    Documents(#[from] facegate_documents::DocumentsError),
    #[error(transparent)]
    Docgen(#[from] facegate_docgen::DocgenError),
    #[error("{path}: {detail}")]
    Image { path: PathBuf, detail: String },
    #[error("{0}")]
    Setup(String),
}

/// A proportion with its count and 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub k: usize,
    pub n: usize,
    pub rate: f64,
    pub ci95: (f64, f64),
}

impl Rate {
    pub fn new(k: usize, n: usize) -> Self {
        Self {
            k,
            n,
            rate: if n == 0 { 0.0 } else { k as f64 / n as f64 },
            ci95: wilson_interval(k, n),
        }
    }

    /// `12.3 % [10.1, 14.8] (45/366)`.
    pub fn percent(&self) -> String {
        format!(
            "{:.1} % [{:.1}, {:.1}] ({}/{})",
            100.0 * self.rate,
            100.0 * self.ci95.0,
            100.0 * self.ci95.1,
            self.k,
            self.n
        )
    }
}

/// Median, 95th percentile and maximum of a sample (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
        Self {
            n: v.len(),
            median: at(0.5),
            p95: at(0.95),
            max: v[v.len() - 1],
        }
    }
}

/// A seeded 64-bit mix (SplitMix64's finaliser) of `seed` and `salt`: the
/// evaluations' draws, without a random-number crate and stable across
/// platforms.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed
        .wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a name, as a salt for [`mix`].
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_order_statistics() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Spread::of(&v);
        assert_eq!((s.n, s.median, s.p95, s.max), (100, 51.0, 96.0, 100.0));
        assert_eq!(Spread::of(&[]).n, 0);
    }

    #[test]
    fn mix_is_deterministic_and_spreads_neighbouring_salts() {
        assert_eq!(mix(1, 2), mix(1, 2));
        assert_ne!(mix(1, 2), mix(1, 3));
        assert_ne!(mix(1, 2), mix(2, 2));
        let odd = (0..1000).filter(|&i| mix(7, i) % 2 == 1).count();
        assert!((400..600).contains(&odd), "{odd}");
    }

    #[test]
    fn a_rate_carries_its_interval() {
        let r = Rate::new(0, 50);
        assert_eq!(r.rate, 0.0);
        assert!(r.ci95.1 > 0.05 && r.ci95.1 < 0.1);
        assert!(Rate::new(5, 10).percent().starts_with("50.0 %"));
    }
}
