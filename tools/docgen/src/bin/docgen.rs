//! `docgen`: renders one synthetic document photo and its ground truth.
//!
//! ```sh
//! docgen --face face.jpg --kind td3 --seed 7 --effect glare --effect noise \
//!        --out passport.jpg --truth passport.json
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Parser, ValueEnum};
use facegate_docgen::{
    Crop, DocumentKind, Effect, FaceInput, Generator, IdentityRecord, Request, Side, Subject,
};

#[derive(Parser, Debug)]
#[command(
    name = "docgen",
    about = "Render a synthetic ID document photo (TD3 passport page, TD1 card side) with ground truth"
)]
struct Args {
    /// Face image (JPEG or PNG); without it a drawn placeholder face is printed.
    #[arg(long)]
    face: Option<PathBuf>,
    /// Rectangle of the face image to print: x,y,width,height (default: centred 35:45).
    #[arg(long)]
    crop: Option<String>,
    /// Label copied into the truth (default: the face path).
    #[arg(long)]
    face_label: Option<String>,
    /// What to photograph.
    #[arg(long, value_enum, default_value_t = SceneArg::Document)]
    scene: SceneArg,
    /// Document kind.
    #[arg(long, value_enum, default_value_t = KindArg::Td3)]
    kind: KindArg,
    /// Card side (TD1).
    #[arg(long, value_enum, default_value_t = SideArg::Front)]
    side: SideArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Effect to apply (repeatable): perspective, cut_off, blur, motion_blur,
    /// glare, noise, jpeg, low_light, photocopy, tampered_check_digit,
    /// specimen, expired.
    #[arg(long = "effect")]
    effects: Vec<Effect>,
    /// The day of the photo, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    today: Option<NaiveDate>,
    /// Identity record as JSON (the truth's `record`); default: random from the seed.
    #[arg(long)]
    record: Option<PathBuf>,
    #[arg(long, default_value_t = 1600)]
    width: u32,
    #[arg(long, default_value_t = 1200)]
    height: u32,
    /// JPEG quality (the `jpeg` effect draws a lower one).
    #[arg(long, default_value_t = 90)]
    quality: u8,
    /// Output JPEG.
    #[arg(long)]
    out: PathBuf,
    /// Output truth JSON (default: the output path with .json).
    #[arg(long)]
    truth: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SceneArg {
    Document,
    Background,
    FacePhoto,
    Selfie,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindArg {
    Td3,
    Td1,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SideArg {
    Front,
    Back,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let today = args.today.unwrap_or_else(facegate_docgen::today);
    let face_image = match &args.face {
        Some(path) => Some(
            image::open(path)
                .with_context(|| format!("reading {}", path.display()))?
                .to_rgb8(),
        ),
        None => None,
    };
    let crop = args.crop.as_deref().map(Crop::parse).transpose()?;
    if crop.is_some() && face_image.is_none() {
        bail!("--crop needs --face");
    }
    let kind = match args.kind {
        KindArg::Td3 => DocumentKind::Td3,
        KindArg::Td1 => DocumentKind::Td1,
    };
    let side = match (kind, args.side) {
        (DocumentKind::Td3, _) => Side::Td3,
        (DocumentKind::Td1, SideArg::Front) => Side::Td1Front,
        (DocumentKind::Td1, SideArg::Back) => Side::Td1Back,
    };
    let subject = match args.scene {
        SceneArg::Document => {
            let record = match &args.record {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_str::<IdentityRecord>(&text)
                        .with_context(|| format!("parsing {}", path.display()))?
                }
                None => IdentityRecord::random(kind, args.seed, today),
            };
            Subject::Document { side, record }
        }
        SceneArg::Background => Subject::Background,
        SceneArg::FacePhoto => Subject::FacePhoto,
        SceneArg::Selfie => Subject::Selfie,
    };
    let mut request = Request::scene(subject, args.seed, today)
        .with_effects(&args.effects)
        .with_size(args.width, args.height)
        .with_quality(args.quality);
    if let Some(image) = &face_image {
        let label = args
            .face_label
            .clone()
            .or_else(|| args.face.as_ref().map(|p| p.display().to_string()));
        request = request.with_face(FaceInput { image, crop }, label);
    }
    let generator = Generator::new()?;
    let rendered = generator.render(&request)?;
    std::fs::write(&args.out, &rendered.jpeg)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| args.out.with_extension("json"));
    std::fs::write(&truth_path, rendered.truth_json())
        .with_context(|| format!("writing {}", truth_path.display()))?;
    Ok(())
}
