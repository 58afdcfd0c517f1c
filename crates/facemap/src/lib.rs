//! The facemap: an opaque, encrypted and authenticated face-template envelope
//! that customers store and post back, plus the master keyring it is sealed with.
//!
//! Wire format, version 1 (integers big-endian unless noted):
//!
//! ```text
//! header (49 bytes, cleartext, authenticated as associated data)
//!   "FGFM" | version u8 = 1 | key id u32 | account uuid (16) | nonce (24)
//! ciphertext of the payload, then a 16-byte Poly1305 tag
//! payload
//!   enrollment uuid (16) | serial u64 | issued_at ms i64
//!   | model id: len u8 + ASCII (1..=64) | template count u8 (1..=4)
//!   | per template: dimension u16 (1..=1024) + dimension × f32 little-endian
//! ```
//!
//! Each account's facemaps are sealed with XChaCha20-Poly1305 under
//! `HKDF-SHA256(master key, salt "facegate/facemap/v1", info account id)`.

mod envelope;
mod image;
mod keyring;
mod payload;

pub use envelope::{
    open, peek_header, seal, FacemapError, Header, FORMAT_VERSION, HEADER_LEN, MAGIC,
    MAX_FACEMAP_BYTES, TAG_LEN,
};
pub use image::{open_image, seal_image, ImageSealError, ImageSlot};
pub use keyring::{KeyId, Keyring, KeyringError, MASTER_KEY_LEN};
pub use payload::{FacemapContents, SealError, MAX_DIMENSION, MAX_MODEL_ID_LEN, MAX_TEMPLATES};
