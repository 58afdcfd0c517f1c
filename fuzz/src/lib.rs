//! What the image targets share.

use std::panic::{self, PanicHookInfo};

/// Crates whose panics `decode_image` contains (it turns them into a
/// decode error with `catch_unwind`).
const CONTAINED: &[&str] = &["/zune-jpeg-", "/zune-core-", "/png-", "/image-"];

/// libFuzzer's panic hook aborts on every panic, even one that is caught.
/// This keeps that for our code and lets a third-party decoder's panic
/// unwind to `decode_image`'s guard, so the target checks that the guard
/// holds instead of stopping at a known upstream bug. A decoder panic that
/// no guard catches still reaches libFuzzer's `catch_unwind` and aborts.
pub fn let_decoder_panics_unwind() {
    let abort = panic::take_hook();
    panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        let contained = info
            .location()
            .is_some_and(|l| CONTAINED.iter().any(|c| l.file().contains(c)));
        if !contained {
            abort(info);
        }
    }));
}
