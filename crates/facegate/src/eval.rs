//! `facegate eval`: measures the face and document engines on real data
//! and writes a JSON report, plots and a summary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use facegate_eval::plot::roc_svg;
use facegate_eval::run::{evaluate_lfw, LfwResult};
use facegate_eval::speed::{measure, table, ImageSet};
use facegate_vision::detect::FaceChoice;
use facegate_vision::embed::EmbedderKind;
use facegate_vision::models::ModelStore;
use facegate_vision::pipeline::PipelineConfig;
use facegate_vision::runtime::RuntimeKind;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// LFW View 2 from raw images: 10-fold accuracy, TAR at FMR over every
    /// cross-identity pair, failure-to-enrol; writes a report and a ROC plot.
    Lfw(LfwArgs),
    /// Per-image latency of one pipeline on one thread (decode, detect,
    /// landmarks, align + embed, total: median, p95, mean) over a fixed list
    /// of images, after a warm-up. Pin it to one core: `taskset -c 0`.
    Speed(SpeedArgs),
    /// False matches and false non-matches of any labelled image pairs
    /// (`image_a,image_b,label` per line) at the shipped operating point
    /// (models/thresholds.json), not a threshold chosen per fold; images that
    /// cannot be decoded or hold no face are failures to enrol and the run
    /// goes on. Writes pairs-report.json.
    Pairs(PairsArgs),
    /// Presentation-attack evaluation of the liveness signals on the shared
    /// data (pad/ and video/): APCER per attack type, BPCER, with counts and
    /// Wilson intervals, at the configured (a priori) thresholds, plus the
    /// challenge and flash simulations; writes liveness-report.json.
    Liveness(LivenessArgs),
    /// The document engine on documents rendered by tools/docgen: the
    /// document-portrait-vs-live-face operating point over LFW (thresholds
    /// chosen on one half of the identities, rates measured on the other;
    /// portrait detection rate), and per camera effect the MRZ full-read
    /// rate, field accuracy, document-face detection and time per side.
    /// Writes documents-report.json and plots.
    Documents(DocumentsArgs),
}

/// The models and how many threads run them: the evaluations that embed
/// many images share these flags.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Worker threads (each with its own model sessions, one core each).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Inference engine.
    #[arg(long, default_value = "ort")]
    pub runtime: RuntimeKind,
    /// Models folder (default: the repository's models/, or FACEGATE_MODELS_DIR).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PairsArgs {
    /// The pairs file: `image_a,image_b,label` per line (label 1/same or
    /// 0/different; paths relative to the file's folder).
    #[arg(long)]
    pub pairs: PathBuf,
    /// The false-match rate of the operating point (default: the shipped
    /// calibration's default).
    #[arg(long)]
    pub target_fmr: Option<f64>,
    /// Where to write pairs-report.json.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct DocumentsArgs {
    /// The LFW folder (pairs.csv, lfw-deepfunneled/): the faces printed on
    /// the documents and the live faces they are compared with (e.g.
    /// ../shared/data/lfw).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write documents-report.json and the plots.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    /// Identities with two or more images to render a document for: a
    /// seeded sample of this many (default: every one).
    #[arg(long)]
    pub identities: Option<usize>,
    /// Seed of every draw (sample, documents, effects).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Documents per effect in the reading part (passports and ID cards
    /// alternating; a card counts its two sides).
    #[arg(long, default_value_t = 40)]
    pub per_effect: usize,
    /// Effects of the reading part (clean and docgen effect names; default:
    /// clean, every camera effect and the two forgeries of the zone).
    #[arg(long, value_delimiter = ',')]
    pub effects: Vec<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The day the documents are valid on (fixed, so runs repeat).
    #[arg(long, default_value = "2026-06-01")]
    pub today: chrono::NaiveDate,
    /// Only the reading part.
    #[arg(long, conflicts_with_all = ["write_calibration", "skip_reading"])]
    pub skip_portraits: bool,
    /// Only the portrait part.
    #[arg(long)]
    pub skip_reading: bool,
    /// Also write the document-portrait thresholds file the server decides
    /// ID verifications with (e.g. models/document_thresholds.json).
    #[arg(long)]
    pub write_calibration: Option<PathBuf>,
    /// The false-match rate the written calibration decides at.
    #[arg(long, default_value_t = 1e-4)]
    pub default_fmr: f64,
}

#[derive(Debug, Args)]
pub struct LivenessArgs {
    /// The data folder holding pad/ and video/ (e.g. ../shared/data).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write liveness-report.json.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    /// Random challenges (and flash schedules) simulated per recording.
    #[arg(long, default_value_t = 200)]
    pub simulations: usize,
    /// Skip the hard-light augmentations of the bona fide frames.
    #[arg(long)]
    pub no_augmentations: bool,
    /// The extra sources fetched by scripts/fetch-liveness-extra (default:
    /// FACEGATE_EXTRA_DATA_DIR, else ~/.cache/facegate/liveness-extra when
    /// it exists).
    #[arg(long)]
    pub extra: Option<PathBuf>,
    /// Inference engine.
    #[arg(long, default_value = "ort")]
    pub runtime: RuntimeKind,
    /// Models folder (default: the repository's models/, or FACEGATE_MODELS_DIR).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["images", "lfw"]))]
pub struct SpeedArgs {
    /// A text file of image paths, one a line (relative to --root, by default
    /// the file's folder), or a folder of .jpg/.png images.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// The folder relative paths of --images are taken from.
    #[arg(long, requires = "images")]
    pub root: Option<PathBuf>,
    /// An LFW folder (pairs.csv, lfw-deepfunneled/): the distinct images of
    /// its pairs, in order of first appearance.
    #[arg(long)]
    pub lfw: Option<PathBuf>,
    /// With --lfw, only the pairs of these folds (e.g. 1 or 1,2).
    #[arg(long, value_delimiter = ',')]
    pub folds: Vec<usize>,
    /// Measure only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Untimed runs first, on the first images of the list.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Inference engine.
    #[arg(long, default_value = "ort")]
    pub runtime: RuntimeKind,
    /// Embedders to run on each face (all of them count in align + embed).
    #[arg(long, value_delimiter = ',', default_values = ["fr-feature-int8"])]
    pub embedders: Vec<String>,
    /// Also embed the mirrored crop.
    #[arg(long)]
    pub flip: bool,
    /// Which face of several: the most central (LFW) or the largest (selfie).
    #[arg(long, default_value = "central", value_parser = ["central", "largest"])]
    pub face: String,
    /// Write the report (summary and every image's stage times) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write every image's templates as JSON (for accuracy on pairs).
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Models folder (default: the repository's models/, or FACEGATE_MODELS_DIR).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LfwArgs {
    /// The LFW folder holding pairs.csv and lfw-deepfunneled/ (e.g. ../shared/data/lfw).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write lfw-report.json and lfw-roc.svg.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    /// Embedders to evaluate (with two or more, their fusion too).
    #[arg(long, value_delimiter = ',', default_values = ["fr-feature-int8", "fr-feature", "dlib-resnet"])]
    pub embedders: Vec<String>,
    /// Also embed the mirrored crop and average.
    #[arg(long)]
    pub flip: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Also write the thresholds file the server decides with (e.g. models/thresholds.json).
    #[arg(long)]
    pub write_calibration: Option<PathBuf>,
}

fn embedders(names: &[String]) -> anyhow::Result<Vec<EmbedderKind>> {
    names.iter().map(|e| embedder(e)).collect()
}

fn embedder(name: &str) -> anyhow::Result<EmbedderKind> {
    match name {
        "fr-feature" | "fr-feature-512-v1" => Ok(EmbedderKind::FrFeature),
        "fr-feature-int8" | "fr-feature-512-int8-v1" => Ok(EmbedderKind::FrFeatureInt8),
        "dlib-resnet" | "dlib-resnet-128-v1" => Ok(EmbedderKind::DlibResnet),
        other => {
            anyhow::bail!("unknown embedder {other:?} (fr-feature, fr-feature-int8, dlib-resnet)")
        }
    }
}

pub fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Lfw(args) => lfw(args),
        EvalCommand::Speed(args) => speed(args),
        EvalCommand::Liveness(args) => liveness(args),
        EvalCommand::Pairs(args) => pairs(args),
        EvalCommand::Documents(args) => documents(args),
    }
}

fn open_store(models: Option<&PathBuf>) -> anyhow::Result<ModelStore> {
    Ok(match models {
        Some(dir) => ModelStore::open(dir.clone()),
        None => ModelStore::open_default(),
    }?)
}

/// The images named by `--images` or `--lfw` (and `--folds`), `--limit` applied.
fn image_set(args: &SpeedArgs) -> anyhow::Result<ImageSet> {
    let set = match (&args.images, &args.lfw) {
        (Some(_), _) if !args.folds.is_empty() => anyhow::bail!("--folds applies to --lfw only"),
        (Some(path), _) => ImageSet::from_path(path, args.root.as_deref())?,
        (None, Some(dir)) => ImageSet::from_lfw(dir, &args.folds)?,
        (None, None) => anyhow::bail!("give --images FILE_OR_DIR or --lfw DIR"),
    };
    Ok(set.limit(args.limit))
}

fn speed(args: SpeedArgs) -> anyhow::Result<()> {
    let set = image_set(&args)?;
    let store = open_store(args.models.as_ref())?;
    let config = PipelineConfig {
        embedders: embedders(&args.embedders)?,
        flip: args.flip,
        face_choice: if args.face == "largest" {
            FaceChoice::Largest
        } else {
            FaceChoice::Central
        },
        ..PipelineConfig::default()
    };
    let run = measure(
        &set,
        &store,
        args.runtime,
        config,
        args.warmup,
        args.templates.is_some(),
    )?;
    let r = &run.report;
    let m = &r.machine;
    let load = |l: Option<[f64; 3]>| {
        l.map_or("n/a".to_owned(), |[a, b, c]| {
            format!("{a:.2} {b:.2} {c:.2}")
        })
    };
    println!(
        "facegate eval speed: {} images ({} with a face) after {} warm-up; runtime {}, embedders {}, detector {}; \
         1 pipeline thread, 1 intra-op thread",
        r.images,
        r.faces_found,
        r.warmup,
        r.runtime,
        r.embedders.join(","),
        r.detector
    );
    println!(
        "CPU: {} ({} online, allowed: {}); load before {} / after {}",
        m.cpu_model.as_deref().unwrap_or("unknown"),
        m.cpus_online.map_or("?".to_owned(), |n| n.to_string()),
        m.cpus_allowed.as_deref().unwrap_or("?"),
        load(m.load_before),
        load(m.load_after)
    );
    if m.available_parallelism.is_some_and(|n| n > 1) {
        println!("note: this process may use several CPUs; run it under `taskset -c 0` for one-core numbers");
    }
    print!("{}", table(r));
    if let Some(path) = &args.json {
        write_json(path, r)?;
        println!("report: {}", path.display());
    }
    if let (Some(path), Some(templates)) = (&args.templates, &run.templates) {
        let doc = serde_json::json!({
            "root": r.root,
            "images": set.images,
            "models": r.embedders,
            "templates": templates,
        });
        write_json(path, &doc)?;
        println!("templates: {}", path.display());
    }
    Ok(())
}

fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn liveness(args: LivenessArgs) -> anyhow::Result<()> {
    let store = open_store(args.models.as_ref())?;
    let config = facegate_vision::liveness::LivenessConfig::default();
    let extra = args
        .extra
        .or_else(|| std::env::var_os("FACEGATE_EXTRA_DATA_DIR").map(PathBuf::from))
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let dir = PathBuf::from(home).join(".cache/facegate/liveness-extra");
            dir.is_dir().then_some(dir)
        });
    match &extra {
        Some(dir) => println!("extra sources: {}", dir.display()),
        None => {
            println!("extra sources: none (scripts/fetch-liveness-extra fetches them; --extra DIR)")
        }
    }
    let options = facegate_eval::liveness::Options {
        simulations: args.simulations,
        augment: !args.no_augmentations,
        extra,
    };
    let report = facegate_eval::liveness::evaluate_liveness(
        &args.data,
        &store,
        args.runtime,
        &config,
        &options,
    )?;
    let path = args.out.join("liveness-report.json");
    write_json(&path, &report)?;
    println!("{}", facegate_eval::liveness::summary(&report));
    println!("report: {}", path.display());
    Ok(())
}

fn pairs(args: PairsArgs) -> anyhow::Result<()> {
    let store = open_store(args.engine.models.as_ref())?;
    let report = facegate_eval::pairs::evaluate_pairs(
        &args.pairs,
        &store,
        args.engine.runtime,
        args.target_fmr,
        args.engine.threads,
    )?;
    let path = args.out.join("pairs-report.json");
    write_json(&path, &report)?;
    println!("{}", facegate_eval::pairs::summary(&report));
    for u in &report.pass.unreadable {
        println!("  failure to enrol: {} ({})", u.image, u.reason);
    }
    println!("report: {}", path.display());
    Ok(())
}

fn lfw(args: LfwArgs) -> anyhow::Result<()> {
    let store = open_store(args.engine.models.as_ref())?;
    let config = PipelineConfig {
        embedders: embedders(&args.embedders)?,
        flip: args.flip,
        ..PipelineConfig::default()
    };
    let result = evaluate_lfw(
        &args.data,
        &store,
        args.engine.runtime,
        config,
        args.engine.threads,
    )?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let report = args.out.join("lfw-report.json");
    std::fs::write(&report, serde_json::to_string_pretty(&result)?)?;
    let curves: Vec<(String, Vec<_>)> = result
        .reports
        .iter()
        .map(|r| (r.model.clone(), r.roc.clone()))
        .collect();
    let plot = args.out.join("lfw-roc.svg");
    std::fs::write(
        &plot,
        roc_svg("LFW: every cross-identity pair", &curves, 1e-6, 0.5),
    )?;
    if let Some(path) = &args.write_calibration {
        let command = format!(
            "facegate eval lfw --flip={} --runtime {}",
            args.flip, args.engine.runtime
        );
        let calibration = facegate_eval::run::calibration(&result, &command);
        std::fs::write(path, serde_json::to_string_pretty(&calibration)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("calibration: {}", path.display());
    }
    println!("{}", summary(&result));
    println!("report: {}  plot: {}", report.display(), plot.display());
    Ok(())
}

fn documents(args: DocumentsArgs) -> anyhow::Result<()> {
    use facegate_eval::documents::{portrait, reading};
    let store = open_store(args.engine.models.as_ref())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut report = serde_json::Map::new();
    if !args.skip_portraits {
        let facemap = facegate_vision::compare::Calibration::load(store.dir()).ok();
        let settings = portrait::PortraitSettings {
            identities: args.identities,
            seed: args.seed,
            threads: args.engine.threads,
            runtime: args.engine.runtime,
            today: args.today,
        };
        let result = portrait::evaluate_portraits(&args.data, &store, facemap.as_ref(), &settings)?;
        let plot = args.out.join("documents-portrait-roc.svg");
        let mut curves = vec![
            ("document portrait vs photo".to_owned(), result.roc.clone()),
            (
                "photo vs photo (same people)".to_owned(),
                result.photo_roc.clone(),
            ),
        ];
        curves.extend(
            result
                .roc_by_side
                .iter()
                .map(|(side, roc)| (format!("document: {side} only"), roc.clone())),
        );
        std::fs::write(
            &plot,
            roc_svg(
                "Document portrait vs live face (LFW, every pair)",
                &curves,
                1e-6,
                0.0,
            ),
        )?;
        println!("{}", portrait_summary(&result));
        println!("plot: {}", plot.display());
        if let Some(path) = &args.write_calibration {
            let command = format!(
                "facegate eval documents --seed {} --runtime {}{}",
                args.seed,
                args.engine.runtime,
                args.identities
                    .map_or(String::new(), |n| format!(" --identities {n}"))
            );
            let calibration = portrait::calibration(&result, &command, args.default_fmr);
            anyhow::ensure!(
                calibration
                    .models
                    .iter()
                    .all(|m| m.operating_point(None).is_some()),
                "no operating point at --default-fmr {} (too few impostor pairs?)",
                args.default_fmr
            );
            std::fs::write(path, serde_json::to_string_pretty(&calibration)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            println!("calibration: {}", path.display());
        }
        report.insert("portrait".into(), serde_json::to_value(&result)?);
    }
    if !args.skip_reading {
        let effects = if args.effects.is_empty() {
            reading::EFFECTS.to_vec()
        } else {
            args.effects
                .iter()
                .map(|name| match name.as_str() {
                    "clean" => Ok(None),
                    other => other.parse().map(Some).map_err(anyhow::Error::msg),
                })
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let settings = reading::ReadingSettings {
            per_effect: args.per_effect,
            seed: args.seed,
            threads: args.engine.threads,
            runtime: args.engine.runtime,
            today: args.today,
            effects,
        };
        let result = reading::evaluate_reading(Some(&args.data), &store, &settings)?;
        let plot = args.out.join("documents-reading.svg");
        let groups: Vec<(String, Vec<f64>)> = result
            .effects
            .iter()
            .map(|r| {
                (
                    r.effect.clone(),
                    vec![
                        r.mrz_full_read.rate,
                        r.portrait_found.rate,
                        r.document_found.rate,
                    ],
                )
            })
            .collect();
        std::fs::write(
            &plot,
            facegate_eval::plot::bars_svg(
                "Documents per camera effect",
                &["MRZ fully read", "portrait found", "document found"],
                &groups,
            ),
        )?;
        println!("{}", reading_summary(&result));
        println!("plot: {}", plot.display());
        report.insert("reading".into(), serde_json::to_value(&result)?);
    }
    let path = args.out.join("documents-report.json");
    write_json(&path, &report)?;
    println!("report: {}", path.display());
    Ok(())
}

/// The portrait evaluation as Markdown tables.
pub fn portrait_summary(r: &facegate_eval::documents::portrait::PortraitReport) -> String {
    let mut out = format!(
        "Document portrait vs live face ({}, seed {}): {} documents of {} of {} identities with 2+ images; {} probe images ({} without a face)\n\
         portrait found: {} (at the printed portrait: {}); inspection median {:.0} ms, p95 {:.0} ms ({} threads)\n\
         calibration half: {} genuine, {} impostor pairs; test half: {} genuine, {} impostor pairs\n\n\
         | target FMR | threshold | test FMR | test FNMR (portrait found) | test FNMR (every document) |\n|---|---|---|---|---|\n",
        r.model,
        r.seed,
        r.documents,
        r.holders_sampled,
        r.holders_total,
        r.probe_images,
        r.probe_failures,
        r.detection.percent(),
        r.detection_at_portrait.percent(),
        r.inspect_ms.median,
        r.inspect_ms.p95,
        r.threads,
        r.calibration_genuine,
        r.calibration_impostors,
        r.test_genuine,
        r.test_impostors,
    );
    for p in &r.held_out {
        out += &format!(
            "| {:.0e} | {:.4} | {:.2e} ({}/{}) [{:.1e}, {:.1e}] | {} | {} |\n",
            p.target_fmr,
            p.threshold,
            p.fmr.rate,
            p.fmr.k,
            p.fmr.n,
            p.fmr.ci95.0,
            p.fmr.ci95.1,
            p.fnmr.percent(),
            p.fnmr_end_to_end.percent()
        );
    }
    out += "\n| facemap threshold (selfie calibration) | test FMR | test FNMR |\n|---|---|---|\n";
    for c in &r.facemap_thresholds {
        out += &format!(
            "| {:.4} (FMR {:.0e}) | {:.2e} ({}/{}) | {} |\n",
            c.facemap_threshold,
            c.target_fmr,
            c.fmr.rate,
            c.fmr.k,
            c.fmr.n,
            c.fnmr.percent()
        );
    }
    out += &format!(
        "\n| test-half group (FNMR at FMR {}) | portrait found | FNMR |\n|---|---|---|\n",
        r.group_target_fmr
            .map_or("n/a".to_owned(), |f| format!("{f:.0e}"))
    );
    for g in r.by_side.iter().chain(&r.by_effect) {
        out += &format!(
            "| {} | {} | {} |\n",
            g.group,
            g.detection.percent(),
            g.fnmr.map_or("n/a".to_owned(), |f| f.percent())
        );
    }
    if let Some(p) = &r.same_picture {
        out += &format!(
            "\nsame picture (SELFIE_CROPPED_FROM_ID): threshold {:.4} ({:.0} % of {} calibration genuine pairs); \
             test genuine pairs flagged {}, same-picture pairs caught {}\n\n| effect | same picture caught |\n|---|---|\n",
            p.threshold,
            100.0 * p.target_flagged,
            p.calibration_genuine,
            p.flagged.percent(),
            p.caught.percent()
        );
        for (effect, rate) in &p.caught_by_effect {
            out += &format!("| {effect} | {} |\n", rate.percent());
        }
    }
    out
}

/// The reading evaluation as Markdown tables.
pub fn reading_summary(r: &facegate_eval::documents::reading::ReadingReport) -> String {
    use facegate_eval::documents::reading::FIELDS;
    let mut out = format!(
        "Reading per effect ({} documents per effect, seed {}, {} threads)\n\n\
         | effect | zone sides | MRZ fully read | valid, other data | check failed | not readable | portrait found | document found |\n\
         |---|---:|---|---:|---:|---:|---|---|\n",
        r.documents_per_effect, r.seed, r.threads
    );
    for e in &r.effects {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            e.effect,
            e.mrz_full_read.n,
            e.mrz_full_read.percent(),
            e.mrz_valid_other_data,
            e.mrz_check_failed,
            e.mrz_not_readable,
            e.portrait_found.percent(),
            e.document_found.percent()
        );
    }
    for (forgery, read_valid) in &r.forgeries_read_valid {
        out += &format!(
            "\n{forgery}: zone read valid (could be approved; must be 0): {}",
            read_valid.percent()
        );
    }
    out += &format!(
        "\ncamera average full-read rate: {}\n\n| effect | {} |\n|---|{}\n",
        r.camera_full_read_mean
            .map_or("– (no camera effect measured)".to_owned(), |m| format!(
                "{:.1} %",
                100.0 * m
            )),
        FIELDS.join(" | "),
        "---:|".repeat(FIELDS.len())
    );
    for e in &r.effects {
        let cells: Vec<String> = e
            .field_accuracy
            .iter()
            .map(|(_, rate)| format!("{:.1}", 100.0 * rate.rate))
            .collect();
        out += &format!("| {} | {} |\n", e.effect, cells.join(" | "));
    }
    out += "\n| side | inspection median / p95 ms | MRZ read median / p95 ms | side total median / p95 ms | sides |\n|---|---|---|---|---:|\n";
    for t in &r.timing {
        out += &format!(
            "| {} | {:.0} / {:.0} | {} | {:.0} / {:.0} | {} |\n",
            t.side,
            t.inspect_ms.median,
            t.inspect_ms.p95,
            if t.read_ms.n == 0 {
                "–".to_owned()
            } else {
                format!("{:.0} / {:.0}", t.read_ms.median, t.read_ms.p95)
            },
            t.total_ms.median,
            t.total_ms.p95,
            t.total_ms.n
        );
    }
    out
}

/// One line per model: accuracy, TAR at 1e-4 and 1e-3, failures, counts.
pub fn summary(result: &LfwResult) -> String {
    result
        .reports
        .iter()
        .map(|r| {
            let tar = |fmr: f64| {
                r.tar_at_fmr
                    .iter()
                    .find(|t| (t.fmr - fmr).abs() < fmr * 1e-6)
                    .map_or("n/a".to_owned(), |t| format!("{:.4}", t.tar))
            };
            format!(
                "LFW {}: 10-fold accuracy {:.2}% ± {:.2} ({} pairs); TAR@FMR1e-4 {} TAR@FMR1e-3 {} ({} genuine, {} impostor pairs); failures to enrol {}/{}",
                r.model,
                r.accuracy_mean * 100.0,
                r.accuracy_std * 100.0,
                r.official_pairs,
                tar(1e-4),
                tar(1e-3),
                r.genuine_pairs,
                r.impostor_pairs,
                r.failures_to_enrol,
                r.images
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Eval {
        #[command(subcommand)]
        cmd: EvalCommand,
    }

    fn parse(args: &[&str]) -> Result<EvalCommand, clap::Error> {
        Eval::try_parse_from(std::iter::once("eval").chain(args.iter().copied())).map(|e| e.cmd)
    }

    #[test]
    fn liveness_needs_a_data_folder_and_has_a_priori_defaults() -> Result<(), clap::Error> {
        let EvalCommand::Liveness(args) = parse(&["liveness", "--data", "../shared/data"])? else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        assert_eq!(args.data, PathBuf::from("../shared/data"));
        assert_eq!(
            (args.out, args.simulations, args.runtime),
            (PathBuf::from("eval-out"), 200, RuntimeKind::Ort)
        );
        assert!(parse(&["liveness"]).is_err());
        assert!(parse(&["liveness", "--data", "d", "--simulations", "many"]).is_err());
        Ok(())
    }

    #[test]
    fn documents_needs_lfw_and_writes_a_calibration_only_with_the_portrait_part(
    ) -> Result<(), clap::Error> {
        let EvalCommand::Documents(args) = parse(&[
            "documents",
            "--data",
            "data/lfw",
            "--identities",
            "300",
            "--write-calibration",
            "models/document_thresholds.json",
        ])?
        else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        assert_eq!(
            (
                args.identities,
                args.seed,
                args.per_effect,
                args.default_fmr
            ),
            (Some(300), 1, 40, 1e-4)
        );
        assert_eq!(args.today.to_string(), "2026-06-01");
        assert!(parse(&["documents"]).is_err());
        assert!(parse(&[
            "documents",
            "--data",
            "d",
            "--skip-portraits",
            "--write-calibration",
            "x.json"
        ])
        .is_err());
        assert!(parse(&[
            "documents",
            "--data",
            "d",
            "--skip-portraits",
            "--skip-reading"
        ])
        .is_err());
        Ok(())
    }

    #[test]
    fn speed_reads_an_lfw_folder_or_an_image_list_but_not_both() -> Result<(), clap::Error> {
        let EvalCommand::Speed(args) = parse(&[
            "speed", "--lfw", "data/lfw", "--folds", "1", "--limit", "200",
        ])?
        else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        assert_eq!(args.lfw, Some(PathBuf::from("data/lfw")));
        assert_eq!(
            (args.folds, args.limit, args.warmup),
            (vec![1], Some(200), 20)
        );
        assert_eq!(
            (args.runtime, args.embedders, args.face.as_str()),
            (
                RuntimeKind::Ort,
                vec!["fr-feature-int8".to_owned()],
                "central"
            )
        );
        assert!(parse(&[
            "speed",
            "--images",
            "list.txt",
            "--embedders",
            "fr-feature,dlib-resnet",
            "--runtime",
            "tract"
        ])
        .is_ok());
        assert!(parse(&["speed"]).is_err());
        assert!(parse(&["speed", "--images", "list.txt", "--lfw", "data/lfw"]).is_err());
        let EvalCommand::Speed(args) = parse(&["speed", "--images", "list.txt", "--folds", "1"])?
        else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        assert!(image_set(&args).is_err_and(|e| e.to_string().contains("--folds")));
        Ok(())
    }
}
