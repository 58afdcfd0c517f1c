//! The JPEG header parser against the decoder, under the capture limits.
//!
//! A frame upload is admitted by `jpeg_dimensions` (core's
//! `check_frame_image`) and then decoded by the engine with `decode_image`
//! under the capture limits (`Config::engine_settings`). For any bytes:
//!
//! - what the capture decode accepts has the size the parser read (up to
//!   the EXIF rotation), so the upload check bounds the decode;
//! - what the parser refuses or reads as too large, the decode refuses;
//! - the raw decoder, run on a header the parser admitted, produces
//!   exactly the parser's size;
//! - no decode allocates more than the capture budget on the heap (the
//!   decoder's 64 MiB cap plus room for the RGB copies), enforced by a
//!   capped global allocator: an infallible allocation past it aborts,
//!   which libFuzzer reports as a crash.

#![no_main]

use std::io::Cursor;

use cap::Cap;
use facegate_vision::decode::{decode_image, jpeg_dimensions, DecodeLimits};
use image::codecs::jpeg::JpegDecoder;
use image::{DynamicImage, ImageDecoder};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// The defaults of `[capture]` as the engine decodes frames with them.
const SIDE: u32 = 1280;
const CAPTURE: DecodeLimits = DecodeLimits {
    max_bytes: 512 * 1024,
    max_side: SIDE,
    max_pixels: (SIDE as u64) * (SIDE as u64),
    max_alloc: 64 * 1024 * 1024,
};
/// The decoder's cap plus three full-size RGB8 images (the decoded
/// buffer, its RGB conversion and a rotated copy).
const HEAP_BUDGET: usize = CAPTURE.max_alloc as usize + 3 * (SIDE as usize * SIDE as usize * 3);

/// Runs `f` with at most `budget` more bytes of heap than are live now.
fn within_heap_budget<T>(budget: usize, f: impl FnOnce() -> T) -> T {
    let _ = ALLOCATOR.set_limit(ALLOCATOR.allocated().saturating_add(budget));
    let out = f();
    let _ = ALLOCATOR.set_limit(usize::MAX);
    out
}

fn admitted(size: Option<(u32, u32)>) -> bool {
    matches!(size, Some((w, h)) if w > 0 && h > 0 && w <= SIDE && h <= SIDE)
}

fuzz_target!(init: facegate_fuzz::let_decoder_panics_unwind(), |data: &[u8]| {
    // Only a JPEG passes the upload check; the `decode` target covers PNG.
    if !data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return;
    }
    let header = jpeg_dimensions(data);
    let decoded = within_heap_budget(HEAP_BUDGET, || decode_image(data, &CAPTURE));
    if let Ok(image) = &decoded {
        let size = image.dimensions();
        let Some((w, h)) = header else {
            panic!("decoded {size:?} but the parser read no header");
        };
        assert!(
            size == (w, h) || size == (h, w),
            "the parser read {w}x{h}, the capture decode produced {size:?}"
        );
    }
    if !admitted(header) {
        assert!(
            decoded.is_err(),
            "a JPEG the upload check refuses ({header:?}) was decoded"
        );
        return;
    }
    // The raw decoder, without `decode_image`'s own checks, on a header the
    // upload check admitted: its pixels have the parser's size.
    // (A panic here is the decoder's, which `decode_image` contains.)
    let raw = within_heap_budget(HEAP_BUDGET, || {
        std::panic::catch_unwind(|| {
            let mut decoder = JpegDecoder::new(Cursor::new(data)).ok()?;
            let mut limits = image::Limits::default();
            limits.max_alloc = Some(CAPTURE.max_alloc);
            decoder.set_limits(limits).ok()?;
            DynamicImage::from_decoder(decoder).ok().map(|i| (i.width(), i.height()))
        })
        .ok()
        .flatten()
    });
    if let Some(size) = raw {
        assert_eq!(
            Some(size),
            header,
            "the raw decoder disagrees with the parser"
        );
    }
});
