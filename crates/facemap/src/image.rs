//! Capture images sealed at rest: each image is encrypted with
//! XChaCha20-Poly1305 under a per-account key derived from the master keyring
//! (purpose `image/v1`), and bound to the place it is stored at (transaction,
//! kind, number) through the associated data, so a sealed image cannot be
//! moved to another transaction or slot without failing to open.
//!
//! Format: `"FGIM"` | key id u32 (big-endian) | nonce (24) | ciphertext + tag.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore as _;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keyring::{KeyId, Keyring};

const MAGIC: [u8; 4] = *b"FGIM";
const HEADER_LEN: usize = 4 + 4 + 24;
const PURPOSE: &str = "image/v1";

/// Where a sealed image lives; part of what the seal authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSlot<'a> {
    pub account: Uuid,
    pub transaction: Uuid,
    /// `face` or `liveness`.
    pub kind: &'a str,
    pub n: u32,
}

impl ImageSlot<'_> {
    fn associated_data(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(header.len() + 16 + 16 + self.kind.len() + 5);
        aad.extend_from_slice(header);
        aad.extend_from_slice(self.account.as_bytes());
        aad.extend_from_slice(self.transaction.as_bytes());
        aad.extend_from_slice(self.kind.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&self.n.to_be_bytes());
        aad
    }
}

/// Why a sealed image could not be opened (or sealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageSealError {
    #[error("not a sealed image")]
    Malformed,
    #[error("the image was sealed with key {0}, which this server does not hold")]
    UnknownKey(KeyId),
    #[error("the sealed image failed its integrity check")]
    Tampered,
    #[error("image encryption failed")]
    Encryption,
}

fn cipher(keyring: &Keyring, id: KeyId, account: Uuid) -> Option<XChaCha20Poly1305> {
    let key = Zeroizing::new(keyring.derive(id, PURPOSE, account.as_bytes())?);
    XChaCha20Poly1305::new_from_slice(key.as_slice()).ok()
}

/// Seals `image` for `slot` with the keyring's primary key.
pub fn seal_image(
    keyring: &Keyring,
    slot: &ImageSlot<'_>,
    image: &[u8],
) -> Result<Vec<u8>, ImageSealError> {
    let id = keyring.primary();
    let cipher = cipher(keyring, id, slot.account).ok_or(ImageSealError::Encryption)?;
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + image.len() + 16);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&id.0.to_be_bytes());
    out.extend_from_slice(&nonce);
    let aad = slot.associated_data(&out);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: image,
                aad: &aad,
            },
        )
        .map_err(|_| ImageSealError::Encryption)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens an image sealed by [`seal_image`] for the same `slot`.
pub fn open_image(
    keyring: &Keyring,
    slot: &ImageSlot<'_>,
    sealed: &[u8],
) -> Result<Vec<u8>, ImageSealError> {
    let header = sealed.get(..HEADER_LEN).ok_or(ImageSealError::Malformed)?;
    if header[..4] != MAGIC {
        return Err(ImageSealError::Malformed);
    }
    let mut id_bytes = [0u8; 4];
    id_bytes.copy_from_slice(&header[4..8]);
    let id = KeyId(u32::from_be_bytes(id_bytes));
    if !keyring.contains(id) {
        return Err(ImageSealError::UnknownKey(id));
    }
    let cipher = cipher(keyring, id, slot.account).ok_or(ImageSealError::Encryption)?;
    let aad = slot.associated_data(header);
    cipher
        .decrypt(
            XNonce::from_slice(&header[8..HEADER_LEN]),
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map_err(|_| ImageSealError::Tampered)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn slot(n: u32) -> ImageSlot<'static> {
        ImageSlot {
            account: Uuid::from_u128(1),
            transaction: Uuid::from_u128(2),
            kind: "liveness",
            n,
        }
    }

    #[test]
    fn an_image_opens_only_in_its_own_slot_and_unaltered() {
        let ring = Keyring::generate();
        let image = b"\xff\xd8 not really a jpeg \xff\xd9".to_vec();
        let sealed = seal_image(&ring, &slot(1), &image).unwrap();
        assert!(!sealed.windows(image.len()).any(|w| w == image.as_slice()));
        assert_eq!(open_image(&ring, &slot(1), &sealed).unwrap(), image);
        assert_eq!(
            open_image(&ring, &slot(2), &sealed),
            Err(ImageSealError::Tampered)
        );
        let other_account = ImageSlot {
            account: Uuid::from_u128(9),
            ..slot(1)
        };
        assert_eq!(
            open_image(&ring, &other_account, &sealed),
            Err(ImageSealError::Tampered)
        );
        for i in [0, 9, 40, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                open_image(&ring, &slot(1), &bad).is_err(),
                "bit flip at {i}"
            );
        }
        assert_eq!(
            open_image(&ring, &slot(1), &sealed[..10]),
            Err(ImageSealError::Malformed)
        );
        let other_ring = Keyring::generate();
        assert!(open_image(&other_ring, &slot(1), &sealed).is_err());
    }

    #[test]
    fn images_sealed_before_a_rotation_still_open() {
        let mut ring = Keyring::generate();
        let sealed = seal_image(&ring, &slot(1), b"face").unwrap();
        let old = ring.primary();
        ring.rotate().unwrap();
        assert_eq!(open_image(&ring, &slot(1), &sealed).unwrap(), b"face");
        ring.retire(old).unwrap();
        assert_eq!(
            open_image(&ring, &slot(1), &sealed),
            Err(ImageSealError::UnknownKey(old))
        );
    }
}
