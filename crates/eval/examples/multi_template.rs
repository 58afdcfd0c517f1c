//! Several templates per facemap, measured on LFW before building it
//! (issue #13, point 6): does a facemap holding two enrolment images'
//! templates, matched by the best (or the mean) score, accept more genuine
//! probes at the shipped threshold, and at what false-match rate?
//!
//! Protocol: every LFW identity with at least 3 images (of the images the
//! standard pairs use), images in name order. The gallery of an identity is
//! its first image (one template, as shipped) or its first two (two
//! templates); its probes are the images from the third on, the same probes
//! for both. Genuine: each probe against its own identity's gallery.
//! Impostor: each probe against every other identity's gallery. Decided at
//! the shipped operating point (`models/thresholds.json`, FMR 1e-4) and,
//! for comparison, at the threshold that gives FMR 1e-4 on these impostor
//! scores.
//!
//! `cargo run -p facegate-eval --example multi_template -- ../shared/data/lfw`

use std::collections::BTreeMap;
use std::path::PathBuf;

use facegate_eval::lfw::Dataset;
use facegate_eval::liveness::Rate;
use facegate_eval::run::embed_all;
use facegate_vision::compare::Calibration;
use facegate_vision::embed::similarity_fn;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::PipelineConfig;
use facegate_vision::runtime::RuntimeKind;

type Template = Vec<f32>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: multi_template LFW_DIR")?,
    );
    let data = Dataset::open(&dir)?;
    let store = ModelStore::open_default()?;
    let config = PipelineConfig {
        face_choice: facegate_vision::detect::FaceChoice::Central,
        ..PipelineConfig::default()
    };
    let model = config.embedders[0].model_id();
    let score = similarity_fn(model).ok_or("no similarity")?;
    let calibration = Calibration::load(store.dir())?;
    let shipped = calibration
        .model(model)
        .and_then(|m| m.operating_point(None))
        .ok_or("no operating point")?
        .threshold;
    let (templates, pass) = embed_all(&data, &store, RuntimeKind::Ort, &config, 2)?;
    let templates = &templates[0];
    let mut by_identity: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, identity) in data.identities.iter().enumerate() {
        by_identity.entry(identity.as_str()).or_default().push(i);
    }
    // (gallery of one, gallery of two, probes) per identity with 3+ images.
    let mut sets: Vec<(Vec<&Template>, Vec<&Template>)> = Vec::new();
    let mut probes: Vec<(usize, &Template)> = Vec::new();
    for images in by_identity.values() {
        let mut images = images.clone();
        images.sort_by(|a, b| data.images[*a].cmp(&data.images[*b]));
        let with: Vec<&Template> = images
            .iter()
            .filter_map(|&i| templates[i].as_ref())
            .collect();
        if with.len() < 3 {
            continue;
        }
        let k = sets.len();
        sets.push((vec![with[0]], vec![with[0], with[1]]));
        probes.extend(with[2..].iter().map(|t| (k, *t)));
    }
    println!(
        "{} identities with 3+ images, {} probes; {} images embedded in {:.0} s",
        sets.len(),
        probes.len(),
        pass.images,
        pass.wall.as_secs_f64()
    );
    let best = |gallery: &[&Template], probe: &Template| {
        gallery
            .iter()
            .map(|t| score(t, probe))
            .fold(f32::MIN, f32::max)
    };
    let mean = |gallery: &[&Template], probe: &Template| {
        gallery.iter().map(|t| score(t, probe)).sum::<f32>() / gallery.len() as f32
    };
    type Rule<'a> = (&'a str, bool, &'a dyn Fn(&[&Template], &Template) -> f32);
    let rules: [Rule; 3] = [
        ("one template", false, &best),
        ("two templates, best score", true, &best),
        ("two templates, mean score", true, &mean),
    ];
    for (name, two, rule) in rules {
        let gallery = |k: usize| -> &[&Template] {
            if two {
                &sets[k].1
            } else {
                &sets[k].0
            }
        };
        let genuine: Vec<f32> = probes.iter().map(|(k, p)| rule(gallery(*k), p)).collect();
        let mut impostor: Vec<f32> = Vec::new();
        for (k, p) in &probes {
            for other in (0..sets.len()).filter(|o| o != k) {
                impostor.push(rule(gallery(other), p));
            }
        }
        let accepted = |t: f32, v: &[f32]| v.iter().filter(|s| **s >= t).count();
        let mut sorted = impostor.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let at_1e4 = sorted[(1e-4 * sorted.len() as f64) as usize];
        let tar = |t: f32| Rate::new(accepted(t, &genuine), genuine.len());
        let fmr = |t: f32| Rate::new(accepted(t, &impostor), impostor.len());
        let f = fmr(shipped);
        println!(
            "{name:<27} at the shipped {shipped:.4}: TAR {} · FMR {}/{} = {:.2e} | at its own FMR 1e-4 ({at_1e4:.4}): TAR {}",
            tar(shipped).describe(),
            f.errors,
            f.n,
            f.rate,
            tar(at_1e4).describe()
        );
    }
    Ok(())
}
