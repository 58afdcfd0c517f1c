//! `facegate eval pairs` on real faces: pairs decided at the shipped
//! threshold, and an image that is not one we decode (a WebP named `.jpg`,
//! which used to stop `eval lfw`) counted as a failure to enrol while the run
//! goes on. Needs the LFW images of `FACEGATE_SHARED_DIR` (SKIPPED without).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use facegate_eval::pairs::evaluate_pairs;
use facegate_vision::models::ModelStore;
use facegate_vision::runtime::RuntimeKind;

fn lfw() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
        .join("data/lfw/lfw-deepfunneled");
    dir.is_dir().then_some(dir)
}

/// The smallest lossless WebP (1×1), named `.jpg`.
const WEBP: &[u8] = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00";

#[test]
fn pairs_are_decided_at_the_shipped_threshold_and_an_undecodable_image_fails_to_enrol() {
    let Some(lfw) = lfw() else {
        eprintln!("SKIPPED: no LFW images under FACEGATE_SHARED_DIR");
        return;
    };
    let dir = std::env::temp_dir().join(format!("facegate-pairs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("webp.jpg"), WEBP).unwrap();
    let bush = |n: u32| lfw.join(format!("George_W_Bush/George_W_Bush_{n:04}.jpg"));
    let serena = lfw.join("Serena_Williams/Serena_Williams_0001.jpg");
    let pairs = format!(
        "{a},{b},1\n{a},{s},0\nwebp.jpg,{a},1\nwebp.jpg,{s},0\n",
        a = bush(7).display(),
        b = bush(16).display(),
        s = serena.display()
    );
    let file = dir.join("pairs.txt");
    std::fs::write(&file, pairs).unwrap();
    let store = ModelStore::open_default().unwrap();
    let r = evaluate_pairs(&file, &store, RuntimeKind::Ort, None, 1).unwrap();
    assert_eq!((r.images, r.failures_to_enrol), (4, 1));
    assert_eq!(r.pass.unreadable.len(), 1);
    assert!(r.pass.unreadable[0].image.ends_with("webp.jpg"));
    assert_eq!((r.genuine_pairs, r.genuine_not_compared), (2, 1));
    assert_eq!((r.impostor_pairs, r.impostor_not_compared), (2, 1));
    // The shipped operating point: the same person matches, Serena does not.
    assert_eq!((r.fnmr.errors, r.fnmr.n), (0, 1), "{r:?}");
    assert_eq!((r.fmr.errors, r.fmr.n), (0, 1), "{r:?}");
    assert_eq!(r.fnmr_with_failures_to_enrol.errors, 1);
    assert_eq!(r.target_fmr, 1e-4);
    std::fs::remove_dir_all(&dir).unwrap();
}
