//! Untrusted image bytes → an upright 8-bit RGB image.
//!
//! Only JPEG and PNG are accepted, recognised by their magic bytes (never by
//! a file name or a declared content type). Everything that can be checked
//! cheaply is checked before the pixels are decoded: the byte size, then the
//! dimensions read from the header. The decoder's own allocations are capped
//! with [`image::Limits`] as a second line of defence.
//!
//! After decoding, the EXIF orientation (JPEG APP1 or PNG `eXIf`) is applied,
//! so the result is the image as a viewer displays it, and every colour type
//! (grey, grey+alpha, RGBA, 16-bit) is converted to RGB8. Transparent pixels
//! are composited over white, as a browser shows them.

use std::io::Cursor;

use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::{DynamicImage, ImageDecoder, ImageError, RgbImage};

use crate::VisionError;

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Bounds on what [`decode_image`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecodeLimits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Largest accepted width or height, in pixels.
    pub max_side: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Cap on the decoder's allocations, in bytes (passed to
    /// [`image::Limits::max_alloc`]).
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    /// 10 MiB, 8192 px a side, 40 M pixels, 512 MiB of decoder memory.
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_side: 8192,
            max_pixels: 40_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// The formats we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
}

/// Recognises JPEG and PNG by their magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(JPEG_MAGIC) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(PNG_MAGIC) {
        Some(ImageKind::Png)
    } else {
        None
    }
}

/// Decodes JPEG or PNG bytes into an upright RGB8 image.
///
/// Errors: [`VisionError::ImageBounds`] for empty input, input over
/// `limits.max_bytes`, or dimensions over `max_side`/`max_pixels` (read from
/// the header, before any pixel is decoded); [`VisionError::Decode`] for any
/// other format (`"unsupported format"`) and for corrupt or truncated data.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::ImageBounds("empty image".into()));
    }
    if bytes.len() > limits.max_bytes {
        return Err(VisionError::ImageBounds(format!(
            "image is {} bytes, the limit is {}",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let kind = sniff(bytes).ok_or_else(|| VisionError::Decode("unsupported format".into()))?;
    // Reject absurd PNG sizes from the raw header before the decoder runs
    // (it re-checks below, from its own parse). A JPEG's header is read by
    // the decoder itself (`JpegDecoder::new`) and checked before any pixel.
    if kind == ImageKind::Png {
        if let Some((width, height)) = header_dimensions(kind, bytes) {
            check_size(width, height, limits)?;
        }
    }

    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc);

    unless_the_decoder_panics(|| match kind {
        ImageKind::Jpeg => {
            if !jpeg_has_end_marker(bytes) {
                return Err(VisionError::Decode(
                    "truncated JPEG (no end-of-image marker after the last scan)".into(),
                ));
            }
            let decoder = JpegDecoder::new(Cursor::new(bytes)).map_err(|e| map_error(&e))?;
            decode_checked(decoder, decoder_limits, limits)
        }
        ImageKind::Png => {
            let decoder = PngDecoder::with_limits(Cursor::new(bytes), decoder_limits.clone())
                .map_err(|e| map_error(&e))?;
            decode_checked(decoder, decoder_limits, limits)
        }
    })
}

/// The decoders are third-party code run on untrusted bytes, and some
/// corrupt inputs make them panic (zune-jpeg 0.5.15 in its IDCT, found by
/// fuzz/jpeg_header). A panic there fails that one image as corrupt, rather
/// than the worker thread that decodes it and what the thread holds.
fn unless_the_decoder_panics<T>(
    decode: impl FnOnce() -> Result<T, VisionError>,
) -> Result<T, VisionError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(VisionError::Decode(
            "the decoder failed on this image".into(),
        ))
    })
}

/// Checks the header's dimensions, decodes within the memory cap, converts
/// to RGB8 (before rotating, so that at most one full-depth copy exists) and
/// applies the EXIF orientation.
fn decode_checked(
    mut decoder: impl ImageDecoder,
    mut decoder_limits: image::Limits,
    limits: &DecodeLimits,
) -> Result<RgbImage, VisionError> {
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    // A broken EXIF block is not a broken image: keep the stored orientation.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    decoder_limits
        .reserve(decoder.total_bytes())
        .map_err(|e| map_error(&e))?;
    decoder
        .set_limits(decoder_limits)
        .map_err(|e| map_error(&e))?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(|e| map_error(&e))?;
    let mut image = DynamicImage::ImageRgb8(to_rgb8(decoded));
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

/// Width and height as the file header states them: PNG's IHDR, or the
/// JPEG frame header as [`jpeg_dimensions`] reads it. `None` when the header
/// is not where it should be; the decoder then reports the error.
pub fn header_dimensions(kind: ImageKind, bytes: &[u8]) -> Option<(u32, u32)> {
    match kind {
        ImageKind::Png => {
            let be32 = |at: usize| {
                bytes
                    .get(at..at + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            if bytes.get(12..16)? != b"IHDR" {
                return None;
            }
            Some((be32(16)?, be32(20)?))
        }
        ImageKind::Jpeg => jpeg_dimensions(bytes),
    }
}

/// Width and height of a JPEG exactly as the decoder will see them: this is
/// the decoder's own header parse (every marker up to the first scan), not a
/// second parser. A hand-written segment walker disagrees with the decoder
/// on fill bytes (`FF 00`, `FF FF`) and on garbage between segments, and an
/// upload can then show the walker a small decoy frame header while the
/// decoder finds a huge one. `None` for anything the decoder refuses to
/// start on: not a JPEG, no frame header, a truncated header, two frame
/// headers. No pixel is decoded and nothing is allocated by dimensions.
pub fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(JPEG_MAGIC) {
        return None;
    }
    unless_the_decoder_panics(|| {
        JpegDecoder::new(Cursor::new(bytes))
            .map(|decoder| decoder.dimensions())
            .map_err(|e| map_error(&e))
    })
    .ok()
}

/// The size limits alone (a JPEG header may state a height of 0, defined
/// later by a DNL marker; the decoder's dimensions are checked in full).
fn check_size(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), VisionError> {
    if width > limits.max_side || height > limits.max_side {
        return Err(VisionError::ImageBounds(format!(
            "image is {width}×{height}, the limit is {} px a side",
            limits.max_side
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(VisionError::ImageBounds(format!(
            "image has {pixels} pixels, the limit is {}",
            limits.max_pixels
        )));
    }
    Ok(())
}

fn check_dimensions(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), VisionError> {
    if width == 0 || height == 0 {
        return Err(VisionError::ImageBounds(format!(
            "image is {width}×{height}"
        )));
    }
    check_size(width, height, limits)
}

fn map_error(error: &ImageError) -> VisionError {
    match error {
        ImageError::Limits(e) => VisionError::ImageBounds(e.to_string()),
        ImageError::Unsupported(e) => VisionError::Decode(format!("unsupported image: {e}")),
        other => VisionError::Decode(other.to_string()),
    }
}

/// The JPEG decoder is lenient and fills a truncated scan with grey; a face
/// template must not be made from half an image, so require an EOI marker
/// after the last SOS marker. Inside entropy-coded data every 0xFF byte is
/// followed by 0x00 or a restart marker, so these two-byte patterns are
/// unambiguous there (an embedded EXIF thumbnail comes before the main
/// image's scans).
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let last_eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((last_sos, last_eoi), (Some(sos), Some(eoi)) if eoi > sos)
}

/// Converts any colour type to RGB8; alpha is composited over white.
fn to_rgb8(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return match image {
            DynamicImage::ImageRgb8(rgb) => rgb,
            other => other.to_rgb8(),
        };
    }
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        let alpha = u32::from(a);
        for c in [r, g, b] {
            // c·a/255 + 255·(255−a)/255, rounded.
            let v = (u32::from(c) * alpha + 255 * (255 - alpha) + 127) / 255;
            out.push(v.min(255) as u8);
        }
    }
    // The buffer has exactly width × height × 3 samples.
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// The JPEG images of an MJPEG stream (concatenated JPEG files), split on
/// their start-of-image / end-of-image markers. Markers inside entropy-coded
/// data are byte-stuffed, so `FF D9` only appears at an image's end; bytes
/// between images are skipped.
pub fn split_mjpeg(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == 0xFF && bytes[i + 1] == 0xD8 {
            let start = i;
            let mut j = i + 2;
            while j + 1 < bytes.len() && !(bytes[j] == 0xFF && bytes[j + 1] == 0xD9) {
                j += 1;
            }
            if j + 1 >= bytes.len() {
                break;
            }
            frames.push(&bytes[start..j + 2]);
            i = j + 2;
        } else {
            i += 1;
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use image::{ImageEncoder, Rgb, Rgba};
    use proptest::prelude::*;

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    fn encode_png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn encode_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .write_image(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    /// A big-endian TIFF/EXIF APP1 segment holding only an Orientation tag.
    fn exif_app1(orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2A\0\0\0\x08"); // header, IFD0 at offset 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]); // value padding
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut seg = vec![0xFF, 0xE1];
        seg.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        seg.extend_from_slice(&payload);
        seg
    }

    /// Inserts the APP1 segment right after SOI.
    fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&exif_app1(orientation));
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    const BLOCK: u32 = 16;
    const COLOURS: [[u8; 3]; 6] = [
        [230, 20, 20],
        [20, 230, 20],
        [20, 20, 230],
        [230, 230, 20],
        [20, 230, 230],
        [230, 20, 230],
    ];

    /// 3×2 blocks of 16×16 flat colours, block (bx, by) = COLOURS[by*3+bx].
    fn blocks() -> RgbImage {
        RgbImage::from_fn(3 * BLOCK, 2 * BLOCK, |x, y| {
            Rgb(COLOURS[((y / BLOCK) * 3 + x / BLOCK) as usize])
        })
    }

    /// Where display block (dx, dy) comes from in the stored 3×2 grid, per
    /// the EXIF definition of each orientation (w = 3, h = 2 blocks).
    fn stored_block(orientation: u16, dx: u32, dy: u32) -> (u32, u32) {
        let (w, h) = (3, 2);
        match orientation {
            1 => (dx, dy),
            2 => (w - 1 - dx, dy),
            3 => (w - 1 - dx, h - 1 - dy),
            4 => (dx, h - 1 - dy),
            5 => (dy, dx),
            6 => (dy, h - 1 - dx),
            7 => (w - 1 - dy, h - 1 - dx),
            8 => (w - 1 - dy, dx),
            _ => unreachable!(),
        }
    }

    fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
        a.iter()
            .zip(b.iter())
            .all(|(&x, &y)| (i32::from(x) - i32::from(y)).abs() <= tol)
    }

    #[test]
    fn png_round_trip_is_exact() {
        let img = RgbImage::from_fn(7, 5, |x, y| Rgb([(x * 30) as u8, (y * 40) as u8, 99]));
        let bytes = encode_png(&DynamicImage::ImageRgb8(img.clone()));
        let back = decode_image(&bytes, &limits()).unwrap();
        assert_eq!(back, img);
    }

    #[test]
    fn jpeg_round_trip_is_close() {
        let img = blocks();
        let back = decode_image(&encode_jpeg(&img, 95), &limits()).unwrap();
        assert_eq!(back.dimensions(), img.dimensions());
        for (a, b) in back.pixels().zip(img.pixels()) {
            assert!(close(a.0, b.0, 40), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn grey_rgba_and_16_bit_pngs_become_rgb8() {
        let grey = DynamicImage::ImageLuma8(image::GrayImage::from_fn(4, 3, |x, _| {
            image::Luma([(x * 60) as u8])
        }));
        let out = decode_image(&encode_png(&grey), &limits()).unwrap();
        assert_eq!(out.get_pixel(2, 1).0, [120, 120, 120]);

        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgba([10, 20, 30, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        }));
        let out = decode_image(&encode_png(&rgba), &limits()).unwrap();
        assert_eq!(out.get_pixel(0, 0).0, [10, 20, 30]);
        assert_eq!(
            out.get_pixel(1, 0).0,
            [255, 255, 255],
            "transparent is composited over white"
        );

        let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(3, 2, |_, _| {
            Rgb([65535u16, 32896, 0])
        }));
        let out = decode_image(&encode_png(&deep), &limits()).unwrap();
        assert_eq!(out.get_pixel(1, 1).0, [255, 128, 0]);
    }

    #[test]
    fn every_exif_orientation_is_applied() {
        let jpeg = encode_jpeg(&blocks(), 100);
        for orientation in 1..=8u16 {
            let out = decode_image(&with_exif(&jpeg, orientation), &limits()).unwrap();
            let (dw, dh) = if orientation >= 5 { (2, 3) } else { (3, 2) };
            assert_eq!(
                out.dimensions(),
                (dw * BLOCK, dh * BLOCK),
                "orientation {orientation}"
            );
            for dy in 0..dh {
                for dx in 0..dw {
                    let (sx, sy) = stored_block(orientation, dx, dy);
                    let want = COLOURS[(sy * 3 + sx) as usize];
                    let got = out
                        .get_pixel(dx * BLOCK + BLOCK / 2, dy * BLOCK + BLOCK / 2)
                        .0;
                    assert!(
                        close(got, want, 30),
                        "orientation {orientation} block ({dx},{dy}): {got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn png_exif_orientation_is_applied() {
        let img = RgbImage::from_fn(3, 2, |x, y| Rgb([(x * 100) as u8, (y * 100) as u8, 7]));
        let mut bytes = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut bytes);
        // The eXIf chunk holds the TIFF structure without the "Exif\0\0" prefix.
        enc.set_exif_metadata(exif_app1(6)[10..].to_vec()).unwrap();
        enc.write_image(img.as_raw(), 3, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        let out = decode_image(&bytes, &limits()).unwrap();
        assert_eq!(out.dimensions(), (2, 3));
        // Rotated 90° clockwise: display (0,0) is stored (0, h-1).
        assert_eq!(out.get_pixel(0, 0), img.get_pixel(0, 1));
        assert_eq!(out.get_pixel(1, 2), img.get_pixel(2, 0));
    }

    #[test]
    fn real_exif_rotated_jpeg_is_turned_upright() {
        let dir = std::env::var("FACEGATE_SHARED_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string()
        });
        let path = std::path::Path::new(&dir).join("data/pad/silent_face/image_T1.jpg");
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("SKIPPED: {} is absent", path.display());
            return;
        };
        // Stored 640×480 with orientation 6 (rotate 90° clockwise).
        let out = decode_image(&bytes, &limits()).unwrap();
        assert_eq!(out.dimensions(), (480, 640));
    }

    #[test]
    fn empty_and_oversized_inputs_are_out_of_bounds() {
        assert!(matches!(
            decode_image(&[], &limits()),
            Err(VisionError::ImageBounds(_))
        ));
        let bytes = encode_png(&DynamicImage::ImageRgb8(blocks()));
        let small = DecodeLimits {
            max_bytes: bytes.len() - 1,
            ..limits()
        };
        assert!(matches!(
            decode_image(&bytes, &small),
            Err(VisionError::ImageBounds(_))
        ));
        let narrow = DecodeLimits {
            max_side: 40,
            ..limits()
        };
        assert!(matches!(
            decode_image(&bytes, &narrow),
            Err(VisionError::ImageBounds(_))
        ));
        let few = DecodeLimits {
            max_pixels: 48 * 32 - 1,
            ..limits()
        };
        assert!(matches!(
            decode_image(&bytes, &few),
            Err(VisionError::ImageBounds(_))
        ));
        let jpeg = encode_jpeg(&blocks(), 90);
        assert!(matches!(
            decode_image(&jpeg, &few),
            Err(VisionError::ImageBounds(_))
        ));
    }

    /// A PNG signature and an IHDR chunk (with a valid CRC) claiming the
    /// given size, and nothing else.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        let mut out = PNG_MAGIC.to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        out.extend_from_slice(&ihdr);
        out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn huge_png_header_is_rejected_before_decoding() {
        let start = std::time::Instant::now();
        let result = decode_image(&png_header(100_000, 100_000), &limits());
        assert!(
            matches!(result, Err(VisionError::ImageBounds(_))),
            "{result:?}"
        );
        // Within the side limit but over the pixel limit.
        let result = decode_image(&png_header(8000, 8000), &limits());
        assert!(
            matches!(result, Err(VisionError::ImageBounds(_))),
            "{result:?}"
        );
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
    }

    /// Pseudo-random pixels, so that pixel data dominates the file.
    fn noisy() -> RgbImage {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        RgbImage::from_fn(64, 48, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
        })
    }

    /// `jpeg` with the width and height of its (first) SOF0 header replaced.
    fn with_frame_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
        let at = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut out = jpeg.to_vec();
        out[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
        out[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
        out
    }

    /// The security review's frame: after SOI, `FF 00` with what a segment
    /// walker reads as a length, then an APP1 segment that hides a small
    /// decoy frame header from the decoder, then the real image. A walker
    /// that takes `FF 00` for a segment jumps into the APP1 payload and
    /// reads the decoy; the decoder takes `FF 00` for fill bytes, skips the
    /// APP1 segment by its length and finds the real frame header.
    fn with_decoy_frame_header(jpeg: &[u8]) -> Vec<u8> {
        let decoy = [
            0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02,
            0x11, 0x01, 0x03, 0x11, 0x01,
        ];
        // SOI | FF 00 00 0A | junk | FF E1 len | pad | decoy | rest.
        let mut out = vec![0xFF, 0xD8, 0xFF, 0x00, 0x00, 0x0A];
        // The walker resumes at offset 2 + 2 + 10 = 14.
        let app1_len = 2 + 4 + decoy.len();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&u16::try_from(app1_len).unwrap().to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(out.len(), 14);
        out.extend_from_slice(&decoy);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn a_decoy_frame_header_does_not_hide_the_real_size() {
        let real = with_frame_size(&encode_jpeg(&blocks(), 90), 8192, 4880);
        let crafted = with_decoy_frame_header(&real);
        assert_eq!(jpeg_dimensions(&crafted), Some((8192, 4880)));
        let capture = DecodeLimits {
            max_bytes: 512 * 1024,
            max_side: 1280,
            max_pixels: 1280 * 1280,
            max_alloc: 64 * 1024 * 1024,
        };
        assert!(matches!(
            decode_image(&crafted, &capture),
            Err(VisionError::ImageBounds(_))
        ));
        // The same construction around an honest image decodes at its size.
        let honest = with_decoy_frame_header(&encode_jpeg(&blocks(), 90));
        assert_eq!(jpeg_dimensions(&honest), Some((48, 32)));
        let image = decode_image(&honest, &capture).unwrap();
        assert_eq!(image.dimensions(), (48, 32));
    }

    /// The pixels' size as the decoder produces them (no EXIF rotation), for
    /// what [`decode_image`] hands to the JPEG decoder.
    fn decoded_size(bytes: &[u8]) -> Option<(u32, u32)> {
        if sniff(bytes) != Some(ImageKind::Jpeg) {
            return None;
        }
        let decoder = JpegDecoder::new(Cursor::new(bytes)).ok()?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(64 * 1024 * 1024);
        let mut decoder = decoder;
        decoder.set_limits(limits).ok()?;
        DynamicImage::from_decoder(decoder)
            .ok()
            .map(|i| (i.width(), i.height()))
    }

    #[test]
    fn header_dimensions_are_read_without_decoding() {
        assert_eq!(
            header_dimensions(ImageKind::Png, &png_header(123, 45)),
            Some((123, 45))
        );
        let jpeg = with_exif(&encode_jpeg(&blocks(), 90), 6);
        assert_eq!(header_dimensions(ImageKind::Jpeg, &jpeg), Some((48, 32)));
        // A real JPEG whose frame header claims 60000×50000.
        let huge = with_frame_size(&encode_jpeg(&blocks(), 90), 60_000, 50_000);
        assert_eq!(
            header_dimensions(ImageKind::Jpeg, &huge),
            Some((60_000, 50_000))
        );
        assert!(matches!(
            decode_image(&huge, &limits()),
            Err(VisionError::ImageBounds(_))
        ));
        assert_eq!(header_dimensions(ImageKind::Jpeg, &huge[..8]), None);
        assert_eq!(header_dimensions(ImageKind::Png, PNG_MAGIC), None);
    }

    #[test]
    fn truncated_and_corrupt_data_are_decode_errors() {
        let jpeg = encode_jpeg(&noisy(), 90);
        for cut in [3, 20, jpeg.len() / 2, jpeg.len() - 2] {
            let result = decode_image(&jpeg[..cut], &limits());
            assert!(
                matches!(result, Err(VisionError::Decode(_))),
                "cut at {cut}: {result:?}"
            );
        }
        let png = encode_png(&DynamicImage::ImageRgb8(noisy()));
        for cut in [8, 20, 40, png.len() / 2, png.len() - 30] {
            let result = decode_image(&png[..cut], &limits());
            assert!(
                matches!(result, Err(VisionError::Decode(_))),
                "cut at {cut}: {result:?}"
            );
        }
        let mut flipped = png.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(matches!(
            decode_image(&flipped, &limits()),
            Err(VisionError::Decode(_))
        ));
    }

    #[test]
    fn other_formats_are_unsupported() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        match decode_image(gif, &limits()) {
            Err(VisionError::Decode(msg)) => assert_eq!(msg, "unsupported format"),
            other => panic!("{other:?}"),
        }
        for bytes in [
            &b"BM\x00\x00"[..],
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            b"hello world",
            &[0u8; 64],
        ] {
            assert!(matches!(
                decode_image(bytes, &limits()),
                Err(VisionError::Decode(_))
            ));
        }
    }

    #[test]
    fn random_bytes_are_rejected() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in [1usize, 2, 3, 10, 100, 1000, 10_000] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            assert!(decode_image(&bytes, &limits()).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_image(&bytes, &limits());
        }

        #[test]
        fn arbitrary_bytes_behind_a_magic_never_panic(
            png in any::<bool>(),
            tail in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut bytes = if png { PNG_MAGIC.to_vec() } else { JPEG_MAGIC.to_vec() };
            bytes.extend_from_slice(&tail);
            let _ = decode_image(&bytes, &limits());
        }

        #[test]
        fn mutated_real_images_never_panic(
            png in any::<bool>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = if png {
                encode_png(&DynamicImage::ImageRgb8(blocks()))
            } else {
                with_exif(&encode_jpeg(&blocks(), 80), 6)
            };
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let keep = cut.index(bytes.len()) + 1;
            let _ = decode_image(&bytes[..keep], &limits());
        }

        /// The header parser and the decoder agree on any bytes: whatever
        /// the decoder decodes has exactly the size the parser reported
        /// (so a size check made with the parser bounds the decode), or the
        /// parser refuses. Inputs are real JPEGs with random edits, random
        /// splices of marker-like bytes (fill, stuffing, decoy frame
        /// headers) and random truncation.
        #[test]
        fn the_header_parser_agrees_with_the_decoder(
            decoy in any::<bool>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
            splices in proptest::collection::vec(
                (any::<prop::sample::Index>(), prop::sample::select(vec![
                    vec![0xFF, 0x00], vec![0xFF, 0xFF], vec![0xFF, 0x00, 0x00, 0x0A],
                    vec![0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00],
                    vec![0xFF, 0xD8], vec![0xFF, 0xD9], vec![0xFF, 0xDA], vec![0x00],
                ])),
                0..4,
            ),
            cut in any::<prop::sample::Index>(),
        ) {
            let base = encode_jpeg(&blocks(), 80);
            let mut bytes = if decoy { with_decoy_frame_header(&base) } else { base };
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            for (at, splice) in splices {
                let i = at.index(bytes.len());
                bytes.splice(i..i, splice);
            }
            let keep = bytes.len() - cut.index(bytes.len() / 8 + 1);
            let bytes = &bytes[..keep];
            if let Some(size) = decoded_size(bytes) {
                prop_assert_eq!(jpeg_dimensions(bytes), Some(size));
            }
            if let Ok(image) = decode_image(bytes, &limits()) {
                let (w, h) = jpeg_dimensions(bytes).unwrap_or((0, 0));
                let (iw, ih) = image.dimensions();
                prop_assert!((iw, ih) == (w, h) || (iw, ih) == (h, w));
            }
        }
    }

    /// Found by fuzz/jpeg_header: a 1.5 KB JPEG whose scan makes
    /// zune-jpeg 0.5.15 panic in its IDCT (an out-of-range row). It passes
    /// the upload check (40×30), so the engine's worker would panic on it
    /// and lose its analyser; it must be an ordinary decode error.
    #[test]
    fn a_decoder_panic_is_a_decode_error() {
        let bytes = include_bytes!("../tests/data/zune-jpeg-idct-panic.jpg");
        let capture = DecodeLimits {
            max_bytes: 512 * 1024,
            max_side: 1280,
            max_pixels: 1280 * 1280,
            max_alloc: 64 * 1024 * 1024,
        };
        assert!(jpeg_dimensions(bytes).is_some());
        let result = decode_image(bytes, &capture);
        assert!(matches!(result, Err(VisionError::Decode(_))), "{result:?}");
    }

    #[test]
    fn mjpeg_streams_split_into_their_jpegs() {
        let a = [0xFF, 0xD8, 1, 2, 0xFF, 0x00, 0xFF, 0xD9];
        let b = [0xFF, 0xD8, 3, 0xFF, 0xD9];
        let stream: Vec<u8> = a
            .iter()
            .chain(&[0u8, 0])
            .chain(&b)
            .chain(&[0xFF, 0xD8, 9])
            .copied()
            .collect();
        assert_eq!(split_mjpeg(&stream), vec![&a[..], &b[..]]);
        assert!(split_mjpeg(&[]).is_empty());
    }
}
