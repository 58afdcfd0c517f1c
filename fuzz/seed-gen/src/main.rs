//! Writes the seed corpora of the fuzz targets into the directory given as
//! the first argument (fuzz/seeds): small real JPEGs of each kind the
//! decoder handles (baseline, progressive, restart intervals, grey, CMYK,
//! chroma subsampling, EXIF orientation, the review's decoy frame header),
//! a PNG, valid frame header sets and valid multipart initiate bodies.

use std::fs;
use std::path::Path;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const W: u16 = 40;
const H: u16 = 30;

/// Gradients with a little noise, so every block has some AC energy.
fn pixels(channels: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::new();
    for y in 0..usize::from(H) {
        for x in 0..usize::from(W) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for c in 0..channels {
                let base = (x * 6 + y * 3 + c * 70) % 256;
                out.push((base as u8).wrapping_add((state >> (c * 8)) as u8 % 16));
            }
        }
    }
    out
}

fn jpeg(configure: impl FnOnce(&mut Encoder<&mut Vec<u8>>), colour: ColorType) -> Result<Vec<u8>> {
    let channels = match colour {
        ColorType::Luma => 1,
        ColorType::Cmyk => 4,
        _ => 3,
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 80);
    configure(&mut encoder);
    encoder.encode(&pixels(channels), W, H, colour)?;
    Ok(out)
}

/// An APP1 segment holding a big-endian EXIF block with one Orientation tag.
fn exif(orientation: u16) -> Vec<u8> {
    let mut payload = b"Exif\0\0MM\0\x2A\0\0\0\x08".to_vec();
    payload.extend_from_slice(&1u16.to_be_bytes());
    payload.extend_from_slice(&0x0112u16.to_be_bytes());
    payload.extend_from_slice(&3u16.to_be_bytes());
    payload.extend_from_slice(&1u32.to_be_bytes());
    payload.extend_from_slice(&orientation.to_be_bytes());
    payload.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    payload
}

/// The security review's frame (issue #8, finding 1): `FF 00` that a
/// segment walker reads as a segment, then an APP1 segment hiding a small
/// decoy frame header from the decoder, then the real image.
fn with_decoy(jpeg: &[u8]) -> Vec<u8> {
    let decoy = [
        0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11,
        0x01, 0x03, 0x11, 0x01,
    ];
    let mut out = vec![0xFF, 0xD8, 0xFF, 0x00, 0x00, 0x0A, 0xFF, 0xE1];
    out.extend_from_slice(&((2 + 4 + decoy.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&decoy);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn jpegs() -> Result<Vec<(&'static str, Vec<u8>)>> {
    let baseline = jpeg(|_| {}, ColorType::Rgb)?;
    let mut exif6 = Vec::new();
    {
        let mut encoder = Encoder::new(&mut exif6, 80);
        encoder.add_app_segment(1, &exif(6))?;
        encoder.encode(&pixels(3), W, H, ColorType::Rgb)?;
    }
    Ok(vec![
        ("baseline-420.jpg", baseline.clone()),
        (
            "progressive-420.jpg",
            jpeg(|e| e.set_progressive(true), ColorType::Rgb)?,
        ),
        (
            "progressive-422-optimized.jpg",
            jpeg(
                |e| {
                    e.set_progressive(true);
                    e.set_sampling_factor(SamplingFactor::R_4_2_2);
                    e.set_optimized_huffman_tables(true);
                },
                ColorType::Rgb,
            )?,
        ),
        (
            "baseline-444-restart.jpg",
            jpeg(
                |e| {
                    e.set_sampling_factor(SamplingFactor::R_4_4_4);
                    e.set_restart_interval(2);
                },
                ColorType::Rgb,
            )?,
        ),
        ("grey.jpg", jpeg(|_| {}, ColorType::Luma)?),
        ("cmyk.jpg", jpeg(|_| {}, ColorType::Cmyk)?),
        ("exif-orientation-6.jpg", exif6),
        ("decoy-frame-header.jpg", with_decoy(&baseline)),
    ])
}

fn png() -> Result<Vec<u8>> {
    let rgb = image::RgbImage::from_raw(u32::from(W), u32::from(H), pixels(3))
        .ok_or("pixel buffer size")?;
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(rgb)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

const FRAME_HEADERS: &[(&str, &str)] = &[
    (
        "valid.txt",
        "authorization: Bearer ct_Q2FwdHVyZVRva2VuRXhhbXBsZTAx\ncontent-type: image/jpeg\ncontent-length: 48213\ncapture-nonce: bm9uY2Utb2YtdGhlLWF0dGVtcHQ\ncapture-time-ms: 1533\ncapture-frame: 23\n",
    ),
    (
        "lowercase-bearer-params.txt",
        "authorization: bearer  ct_abc \ncontent-type: IMAGE/JPEG; charset=binary\ncapture-nonce:  n0nce \ncapture-time-ms: +0\ncapture-frame: 0000\n",
    ),
    (
        "limits.txt",
        "authorization: Bearer x\ncontent-length: 524289\ncapture-nonce: n\ncapture-time-ms: 4294967295\ncapture-frame: 4294967296\ncapture-frame: 1\n",
    ),
];

const BOUNDARY: &str = "----facegate7MA4YWxkTrZu0gW";
const METADATA: &str = r#"{"enrollmentTransactionReference":"0b4a7f52-6f0e-4f0c-9d36-2f5a3c1e8b71","userReference":"user-4711","callbackUrl":"https://customer.example/facegate/callback","successUrl":"https://customer.example/done?step=2","errorUrl":"https://customer.example/failed","locale":"en_gb","tokenLifetimeInMinutes":30}"#;

fn part(name: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n")
            .into_bytes();
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    out
}

fn multipart(content_type: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("{content_type}\n").into_bytes();
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn main() -> Result<()> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: facegate-fuzz-seeds DIR")?;
    let root = Path::new(&root);
    let facemap: Vec<u8> = (0..96u8).map(|i| i.wrapping_mul(37)).collect();
    let plain = format!("multipart/form-data; boundary={BOUNDARY}");
    let quoted = format!("Multipart/Form-Data; boundary=\"{BOUNDARY}\"; charset=utf-8");
    let json = "; filename=\"m.json\"\r\nContent-Type: application/json";
    let binary = "; filename=\"facemap\"\r\nContent-Type: application/octet-stream";

    for (name, bytes) in jpegs()? {
        write(&root.join("jpeg_header"), name, &bytes)?;
        write(&root.join("decode"), name, &bytes)?;
    }
    write(&root.join("decode"), "rgb.png", &png()?)?;
    for (name, text) in FRAME_HEADERS {
        write(&root.join("frame_headers"), name, text.as_bytes())?;
    }
    let dir = root.join("multipart_initiate");
    write(
        &dir,
        "valid.txt",
        &multipart(
            &plain,
            &[
                part("enrollmentMetadata", json, METADATA.as_bytes()),
                part("facemap", binary, &facemap),
            ],
        ),
    )?;
    let wrapped = format!(r#"{{"enrollmentMetadata":{METADATA},"extra":[1,2.5,null,true]}}"#);
    write(
        &dir,
        "wrapped-quoted-unknown-part.txt",
        &multipart(
            &quoted,
            &[
                part("facemap", "", &facemap),
                part("note", "", b"ignored"),
                part("enrollmentMetadata", "", wrapped.as_bytes()),
            ],
        ),
    )?;
    write(
        &dir,
        "minimal.txt",
        &multipart(
            &plain,
            &[
                part(
                    "enrollmentMetadata",
                    "",
                    br#"{"enrollmentTransactionReference":"0b4a7f52-6f0e-4f0c-9d36-2f5a3c1e8b71","callbackUrl":"http://localhost:8080/cb"}"#,
                ),
                part("facemap", "", b"F"),
            ],
        ),
    )?;
    Ok(())
}
