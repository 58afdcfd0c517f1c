//! Arbitrary bytes into `decode_image` (JPEG and PNG) must return `Ok` or a
//! typed error, never panic, and an accepted image stays within the limits.

#![no_main]

use facegate_vision::decode::{decode_image, DecodeLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: facegate_fuzz::let_decoder_panics_unwind(), |data: &[u8]| {
    // Small limits keep each run fast and exercise the bounds checks.
    let limits = DecodeLimits {
        max_bytes: 1 << 20,
        max_side: 2048,
        max_pixels: 1 << 20,
        max_alloc: 64 << 20,
    };
    if let Ok(image) = decode_image(data, &limits) {
        assert!(image.width() <= limits.max_side && image.height() <= limits.max_side);
        assert!(u64::from(image.width()) * u64::from(image.height()) <= limits.max_pixels);
    }
});
