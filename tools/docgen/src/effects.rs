//! Camera and document effects. Each draws its parameters from its own
//! seeded stream, so adding one effect to a request leaves every other
//! part of the render unchanged; the ground truth records the parameters
//! drawn.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::canvas::Canvas;
use crate::geometry::{Homography, Point, RectMm};
use crate::scene::round2;
use crate::zone::CheckedField;

/// An effect a request can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Strong tilt (pitch 8–30°, yaw 15–35°, roll up to 30°) at close range,
    /// instead of the default handheld ±6°.
    Perspective,
    /// 15–35 % of the document outside the image over one edge.
    CutOff,
    /// Gaussian blur, σ 1.4, 2.4 or 3.5 px (out of focus).
    Blur,
    /// Linear motion blur of 6–16 px (shaken camera).
    MotionBlur,
    /// A bright elliptical specular patch, over the MRZ, the portrait or
    /// elsewhere on the document.
    Glare,
    /// Gaussian sensor noise, σ 6–16 (of 255).
    Noise,
    /// Strong JPEG compression, quality 20–45.
    Jpeg,
    /// Under-exposure (gain 0.2–0.4) with a colour cast and extra noise.
    LowLight,
    /// A black-and-white photocopy of the document photographed, or (half
    /// the time) uploaded as a greyscale image.
    Photocopy,
    /// One digit of a checked MRZ field changed after emission (sides with
    /// an MRZ).
    TamperedCheckDigit,
    /// ICAO's specimen: issuing state `UTO`, ERIKSSON ANNA MARIA, and a
    /// faint SPECIMEN mark.
    Specimen,
    /// The document expired 1–900 days before the request's `today`.
    Expired,
}

impl Effect {
    pub const ALL: [Effect; 12] = [
        Effect::Perspective,
        Effect::CutOff,
        Effect::Blur,
        Effect::MotionBlur,
        Effect::Glare,
        Effect::Noise,
        Effect::Jpeg,
        Effect::LowLight,
        Effect::Photocopy,
        Effect::TamperedCheckDigit,
        Effect::Specimen,
        Effect::Expired,
    ];

    /// The snake_case name used on the command line and in the truth.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Perspective => "perspective",
            Effect::CutOff => "cut_off",
            Effect::Blur => "blur",
            Effect::MotionBlur => "motion_blur",
            Effect::Glare => "glare",
            Effect::Noise => "noise",
            Effect::Jpeg => "jpeg",
            Effect::LowLight => "low_light",
            Effect::Photocopy => "photocopy",
            Effect::TamperedCheckDigit => "tampered_check_digit",
            Effect::Specimen => "specimen",
            Effect::Expired => "expired",
        }
    }

    /// Whether the effect changes the document's data rather than the picture.
    pub fn is_document_effect(self) -> bool {
        matches!(
            self,
            Effect::TamperedCheckDigit | Effect::Specimen | Effect::Expired
        )
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Effect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.replace('-', "_");
        Effect::ALL
            .into_iter()
            .find(|e| e.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Effect::ALL.iter().map(|e| e.name()).collect();
                format!("unknown effect {s:?}; one of {}", names.join(", "))
            })
    }
}

/// An effect as applied, with the parameters drawn for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum AppliedEffect {
    Perspective,
    CutOff {
        edge: String,
        hidden_fraction: f64,
    },
    Blur {
        sigma_px: f64,
    },
    MotionBlur {
        length_px: f64,
        angle_deg: f64,
    },
    Glare {
        /// Centre in image pixels.
        center: Point,
        /// Semi-axes in image pixels, where the brightening has fallen to 8 %.
        radii: [f64; 2],
        angle_deg: f64,
        strength: f64,
        /// `mrz`, `portrait` or `elsewhere`: what the patch was aimed at.
        target: String,
        /// Share of the MRZ lines' area washed out (brightened by ≥ 60 %).
        mrz_washed: f64,
        /// Share of the portrait washed out.
        portrait_washed: f64,
    },
    Noise {
        /// Standard deviation in 8-bit levels.
        sigma: f64,
    },
    Jpeg {
        quality: u8,
    },
    LowLight {
        gain: f64,
        noise_sigma: f64,
    },
    Photocopy {
        /// The whole image is greyscale (a scan or a greyscale upload),
        /// not only the document.
        whole_image: bool,
        threshold: f64,
        contrast: f64,
    },
    TamperedCheckDigit {
        field: CheckedField,
    },
    Specimen,
    Expired {
        days_ago: i64,
    },
}

/// Gaussian blur by three box passes of radius 1, 2 or 3.
pub(crate) fn blur<R: Rng + ?Sized>(scene: &mut Canvas, rng: &mut R) -> AppliedEffect {
    let r: usize = rng.gen_range(1..=3);
    for _ in 0..3 {
        crate::canvas::box_blur(&mut scene.px, scene.w, scene.h, 3, r);
    }
    AppliedEffect::Blur {
        sigma_px: round2(((r * (r + 1)) as f64).sqrt()),
    }
}

pub(crate) fn motion_blur<R: Rng + ?Sized>(scene: &mut Canvas, rng: &mut R) -> AppliedEffect {
    let length: f32 = rng.gen_range(6.0..16.0);
    let angle: f32 = rng.gen_range(0.0..std::f32::consts::PI);
    scene.motion_blur(length, angle);
    AppliedEffect::MotionBlur {
        length_px: round2(f64::from(length.round())),
        angle_deg: round2(f64::from(angle.to_degrees())),
    }
}

/// Where glare may be aimed, in document millimetres.
pub(crate) struct GlareTargets {
    pub size_mm: (f64, f64),
    pub mrz_lines: Vec<RectMm>,
    pub portrait: Option<RectMm>,
}

pub(crate) fn glare<R: Rng + ?Sized>(
    scene: &mut Canvas,
    mm_to_image: &Homography,
    targets: &GlareTargets,
    rng: &mut R,
) -> AppliedEffect {
    let (pw, ph) = targets.size_mm;
    let mrz_band = targets.mrz_lines.iter().copied().reduce(|a, b| {
        let x = a.x.min(b.x);
        let y = a.y.min(b.y);
        RectMm::new(
            x,
            y,
            (a.x + a.w).max(b.x + b.w) - x,
            (a.y + a.h).max(b.y + b.h) - y,
        )
    });
    let roll: f64 = rng.gen_range(0.0..1.0);
    let (target, area) = match (mrz_band, targets.portrait) {
        (Some(m), _) if roll < 0.45 => ("mrz", m),
        (_, Some(p)) if roll < 0.75 => ("portrait", p),
        _ => (
            "elsewhere",
            RectMm::new(0.1 * pw, 0.1 * ph, 0.8 * pw, 0.8 * ph),
        ),
    };
    let centre_mm = [
        area.x + rng.gen_range(0.15..0.85) * area.w,
        area.y + rng.gen_range(0.15..0.85) * area.h,
    ];
    let centre = mm_to_image.apply(centre_mm);
    // The document's width in the image sets the patch size.
    let left = mm_to_image.apply([0.0, ph / 2.0]);
    let right = mm_to_image.apply([pw, ph / 2.0]);
    let doc_w = ((right[0] - left[0]).powi(2) + (right[1] - left[1]).powi(2)).sqrt();
    let rx = doc_w * rng.gen_range(0.12..0.28);
    let ry = rx * rng.gen_range(0.4..0.9);
    let angle: f64 = rng.gen_range(0.0..180.0);
    let strength: f64 = rng.gen_range(0.9..1.5);
    let (sa, ca) = angle.to_radians().sin_cos();
    let intensity = |p: Point| -> f64 {
        let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
        let u = (dx * ca + dy * sa) / rx;
        let v = (-dx * sa + dy * ca) / ry;
        (strength * (-2.5 * (u * u + v * v)).exp()).min(1.0)
    };
    let reach = rx.max(ry) * 1.6;
    let x0 = (centre[0] - reach).floor().max(0.0) as usize;
    let y0 = (centre[1] - reach).floor().max(0.0) as usize;
    let x1 = ((centre[0] + reach).ceil().max(0.0) as usize).min(scene.w);
    let y1 = ((centre[1] + reach).ceil().max(0.0) as usize).min(scene.h);
    for y in y0..y1 {
        for x in x0..x1 {
            let i = intensity([x as f64 + 0.5, y as f64 + 0.5]) as f32;
            if i > 0.002 {
                let c = scene.get(x, y);
                // Specular light is slightly cool white.
                let white = [0.98, 0.99, 1.0];
                scene.set(x, y, [0, 1, 2].map(|k| c[k] + (white[k] - c[k]) * i));
            }
        }
    }
    let washed = |rects: &[RectMm]| -> f64 {
        let (mut hit, mut all) = (0usize, 0usize);
        for r in rects {
            for j in 0..8 {
                for i in 0..48 {
                    let p = [
                        r.x + (i as f64 + 0.5) / 48.0 * r.w,
                        r.y + (j as f64 + 0.5) / 8.0 * r.h,
                    ];
                    all += 1;
                    if intensity(mm_to_image.apply(p)) >= 0.6 {
                        hit += 1;
                    }
                }
            }
        }
        if all == 0 {
            0.0
        } else {
            round2(hit as f64 / all as f64)
        }
    };
    AppliedEffect::Glare {
        center: [round2(centre[0]), round2(centre[1])],
        radii: [round2(rx), round2(ry)],
        angle_deg: round2(angle),
        strength: round2(strength),
        target: target.to_string(),
        mrz_washed: washed(&targets.mrz_lines),
        portrait_washed: washed(targets.portrait.as_slice()),
    }
}

/// Adds zero-mean noise of `sigma` (0–1 scale). The normal variate is the
/// sum of four uniforms (Irwin–Hall), rescaled: close enough for sensor
/// noise and far cheaper than Box–Muller per channel.
pub(crate) fn add_noise<R: RngCore + ?Sized>(scene: &mut Canvas, sigma: f32, rng: &mut R) {
    let k = sigma * 3.0f32.sqrt() / 32768.0;
    for v in &mut scene.px {
        let r = rng.next_u64();
        let sum = (r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48);
        // Mean 2 × 65535, variance 4 / 12 (in units of 65536²).
        *v += (sum as f32 - 131_070.0) * k / 2.0;
    }
}

pub(crate) fn noise<R: RngCore + Rng + ?Sized>(scene: &mut Canvas, rng: &mut R) -> AppliedEffect {
    let sigma: f32 = rng.gen_range(6.0..16.0);
    add_noise(scene, sigma / 255.0, rng);
    AppliedEffect::Noise {
        sigma: round2(f64::from(sigma)),
    }
}

pub(crate) fn low_light<R: RngCore + Rng + ?Sized>(
    scene: &mut Canvas,
    rng: &mut R,
) -> AppliedEffect {
    let gain: f32 = rng.gen_range(0.2..0.4);
    let warm: f32 = rng.gen_range(-1.0..1.0);
    let cast = [1.0 + 0.12 * warm, 1.0, 1.0 - 0.15 * warm];
    let sigma: f32 = rng.gen_range(4.0..9.0);
    for px in scene.px.chunks_exact_mut(3) {
        for k in 0..3 {
            px[k] *= gain * cast[k];
        }
    }
    add_noise(scene, sigma / 255.0, rng);
    AppliedEffect::LowLight {
        gain: round2(f64::from(gain)),
        noise_sigma: round2(f64::from(sigma)),
    }
}

/// The page as a black-and-white copy: grey, contrast pushed to near
/// threshold, faint tint lost, a few toner specks.
pub(crate) fn photocopy_page<R: Rng + ?Sized>(page: &mut Canvas, rng: &mut R) -> (f64, f64) {
    let threshold: f32 = rng.gen_range(0.45..0.62);
    let contrast: f32 = rng.gen_range(5.0..10.0);
    let speck_seed: u64 = rng.gen();
    let lo = 1.0 / (1.0 + (contrast * threshold).exp());
    let hi = 1.0 / (1.0 + (-contrast * (1.0 - threshold)).exp());
    for y in 0..page.h {
        for x in 0..page.w {
            let c = page.get(x, y);
            let g = 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
            let s = 1.0 / (1.0 + (-contrast * (g - threshold)).exp());
            let mut v = (s - lo) / (hi - lo);
            if crate::page::hash01(speck_seed, x as u64, y as u64) < 0.0015 {
                v *= 0.3;
            }
            let v = 0.06 + 0.9 * v.clamp(0.0, 1.0);
            page.set(x, y, [v, v, v]);
        }
    }
    (round2(f64::from(threshold)), round2(f64::from(contrast)))
}

pub(crate) fn greyscale(scene: &mut Canvas) {
    for px in scene.px.chunks_exact_mut(3) {
        let g = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        px.copy_from_slice(&[g, g, g]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn effect_names_parse_back() {
        for e in Effect::ALL {
            assert_eq!(e.name().parse::<Effect>().unwrap(), e);
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.name())
            );
        }
        assert_eq!("low-light".parse::<Effect>().unwrap(), Effect::LowLight);
        assert!("sepia".parse::<Effect>().is_err());
    }

    #[test]
    fn noise_has_the_asked_deviation() {
        let mut c = Canvas::new(200, 200, [0.5; 3]);
        let mut rng = crate::stage_rng(3, crate::Stage::Noise);
        add_noise(&mut c, 0.05, &mut rng);
        let n = c.px.len() as f32;
        let mean = c.px.iter().sum::<f32>() / n;
        let var = c.px.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        assert!((mean - 0.5).abs() < 0.002, "{mean}");
        assert!((var.sqrt() - 0.05).abs() < 0.003, "{}", var.sqrt());
    }
}
